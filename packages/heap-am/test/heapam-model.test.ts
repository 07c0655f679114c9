/**
 * Model-based MVCC test: random interleavings of 2–3 transactions (each on its own backend)
 * doing insert / update / delete / scan / commit / abort, plus VACUUM, against a model of
 * committed rows and per-transaction snapshots. Every scan must return exactly the rows the
 * model says the transaction sees. Runs for `heap` (disk-backed, a small pool) and `memheap`.
 *
 * Conflicts use NOWAIT (all backends share one thread, so nobody may sleep waiting for another):
 * touching a row that another running transaction changed is "could not obtain lock", a row that
 * changed after a REPEATABLE READ snapshot is "could not serialize", and READ COMMITTED follows the
 * row to its newest version. Each of those errors aborts the transaction, in the model too.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Database, type DatabaseTransaction, PgsimError, type TID } from "../src/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

type Isolation = "read committed" | "repeatable read";

interface ModelRow {
  val: number;
  pad: number;
  /** Commit sequence number of the transaction that last wrote the row. */
  version: number;
}

interface ModelTx {
  isolation: Isolation;
  /** The committed state seen by the snapshot (RR: at the first statement; RC: refreshed). */
  snapshot: Map<number, ModelRow> | undefined;
  snapshotSeq: number;
  /** This transaction's own changes: a row, or null for deleted. */
  overlay: Map<number, ModelRow | null>;
  /** TIDs (and the row version seen) from this transaction's last scan, as a cursor keeps them. */
  remembered: Map<number, { tid: TID; version: number }>;
}

interface Model {
  committed: Map<number, ModelRow>;
  commitSeq: number;
  nextId: number;
  txs: (ModelTx | undefined)[];
  /** Row id → backend whose running transaction changed it. */
  lockedBy: Map<number, number>;
}

interface Real {
  dbs: Database[];
  txs: (DatabaseTransaction | undefined)[];
  vacuumer: Database;
}

const stats = { commands: 0, conflicts: 0, vacuums: 0, scans: 0, gone: 0 };

function view(m: Model, i: number): Map<number, ModelRow> {
  const tx = m.txs[i]!;
  const base = tx.isolation === "read committed" ? m.committed : (tx.snapshot ?? m.committed);
  const out = new Map(base);
  for (const [id, row] of tx.overlay) {
    if (row === null) out.delete(id);
    else out.set(id, row);
  }
  return out;
}

/** A statement starts: REPEATABLE READ fixes its snapshot at the first one. */
function statementStart(m: Model, i: number): void {
  const tx = m.txs[i]!;
  if (tx.snapshot === undefined) {
    tx.snapshot = new Map(m.committed);
    tx.snapshotSeq = m.commitSeq;
  }
  if (tx.isolation === "read committed") tx.snapshotSeq = m.commitSeq;
}

function abortModel(m: Model, i: number): void {
  for (const [id, who] of [...m.lockedBy]) if (who === i) m.lockedBy.delete(id);
  m.txs[i] = undefined;
}

function rowsOf(real: Real, i: number): Map<number, { tid: TID; val: number; pad: number }> {
  const out = new Map<number, { tid: TID; val: number; pad: number }>();
  for (const { tid, row } of real.txs[i]!.scan("t")) {
    const id = row[0] as number;
    expect(out.has(id), `row ${id} seen twice`).toBe(false);
    out.set(id, { tid, val: row[1] as number, pad: (row[2] as string).length });
  }
  return out;
}

function padText(n: number): string {
  return "p".repeat(n);
}

class BeginCmd implements fc.Command<Model, Real> {
  constructor(
    readonly i: number,
    readonly isolation: Isolation,
  ) {}
  check(m: Model) {
    return m.txs[this.i] === undefined;
  }
  run(m: Model, r: Real) {
    stats.commands++;
    r.txs[this.i] = r.dbs[this.i]!.begin({ isolation: this.isolation });
    m.txs[this.i] = {
      isolation: this.isolation,
      snapshot: undefined,
      snapshotSeq: 0,
      overlay: new Map(),
      remembered: new Map(),
    };
  }
  toString() {
    return `begin(${this.i}, ${this.isolation})`;
  }
}

class InsertCmd implements fc.Command<Model, Real> {
  constructor(
    readonly i: number,
    readonly val: number,
    readonly pad: number,
  ) {}
  check(m: Model) {
    return m.txs[this.i] !== undefined;
  }
  run(m: Model, r: Real) {
    stats.commands++;
    statementStart(m, this.i);
    const id = m.nextId++;
    r.txs[this.i]!.insert("t", [id, this.val, padText(this.pad)]);
    m.txs[this.i]!.overlay.set(id, { val: this.val, pad: this.pad, version: -1 });
    m.lockedBy.set(id, this.i);
  }
  toString() {
    return `insert(${this.i}, ${this.val}, pad ${this.pad})`;
  }
}

/** Update or delete of a row the transaction sees, with the conflict rules of the header. */
class ChangeCmd implements fc.Command<Model, Real> {
  constructor(
    readonly i: number,
    readonly pick: number,
    readonly kind: "update" | "delete",
    readonly val: number,
    readonly pad: number,
  ) {}
  check(m: Model) {
    return m.txs[this.i] !== undefined;
  }
  run(m: Model, r: Real) {
    stats.commands++;
    const tx = m.txs[this.i]!;
    // Use a TID from an earlier scan when there is one (other transactions may have changed the
    // row since, which is what READ COMMITTED's re-check is for); otherwise scan for the row now,
    // as an UPDATE … WHERE would.
    const ids = [...view(m, this.i).keys()].sort((a, b) => a - b);
    if (ids.length === 0) return;
    const id = ids[this.pick % ids.length]!;
    let target = tx.overlay.has(id) ? undefined : tx.remembered.get(id);
    if (target === undefined) {
      statementStart(m, this.i);
      const seen = rowsOf(r, this.i);
      expect(new Set(seen.keys())).toEqual(new Set(view(m, this.i).keys()));
      target = { tid: seen.get(id)!.tid, version: view(m, this.i).get(id)!.version };
    }
    statementStart(m, this.i);
    // What PostgreSQL does, in its order: the version at the TID is checked first.
    const holder = m.lockedBy.get(id);
    const latest = m.committed.get(id);
    const mine = tx.overlay.has(id);
    const stale = !mine && (latest === undefined || latest.version !== target.version);
    let expected: "ok" | "lock" | "serialize" | "gone";
    if (mine) expected = "ok";
    else if (!stale) expected = holder !== undefined && holder !== this.i ? "lock" : "ok";
    // A version changed since this transaction saw it: REPEATABLE READ still sees it, and the
    // update finds it updated or deleted by a committed transaction; a new READ COMMITTED
    // snapshot no longer sees it at that TID, so no row is affected.
    else if (tx.isolation === "repeatable read") expected = "serialize";
    else expected = "gone";
    let outcome: "ok" | "lock" | "serialize" | "gone";
    try {
      // `UPDATE … WHERE ctid = $1 AND id = $2`: a TID is not a row's identity. Once the version
      // a remembered TID pointed at is gone (another transaction changed the row, VACUUM or
      // pruning freed the line pointer), a new row may sit at that TID; the id condition keeps
      // the statement off it, as in PostgreSQL.
      const atTid = r.txs[this.i]!.fetch("t", target.tid);
      if (atTid !== undefined && atTid[0] !== id) {
        outcome = "gone";
      } else if (this.kind === "update") {
        const newTid = r.txs[this.i]!.update("t", target.tid, [id, this.val, padText(this.pad)], {
          nowait: true,
        });
        outcome = newTid === undefined ? "gone" : "ok";
      } else {
        outcome = r.txs[this.i]!.delete("t", target.tid, { nowait: true }) ? "ok" : "gone";
      }
    } catch (e) {
      if (!(e instanceof PgsimError)) throw e;
      if (e.code === "lock-not-available") outcome = "lock";
      else if (e.code === "serialization-failure") outcome = "serialize";
      else throw e;
    }
    expect(outcome, `${this.toString()} on row ${id}`).toBe(expected);
    tx.remembered.delete(id);
    if (outcome === "lock" || outcome === "serialize") {
      stats.conflicts++;
      abortModel(m, this.i);
      r.txs[this.i] = undefined;
      return;
    }
    if (outcome === "gone") {
      stats.gone++;
      return;
    }
    tx.overlay.set(
      id,
      this.kind === "update" ? { val: this.val, pad: this.pad, version: -1 } : null,
    );
    m.lockedBy.set(id, this.i);
  }
  toString() {
    return `${this.kind}(${this.i}, #${this.pick}${this.kind === "update" ? `, ${this.val}, pad ${this.pad}` : ""})`;
  }
}

class ScanCmd implements fc.Command<Model, Real> {
  constructor(readonly i: number) {}
  check(m: Model) {
    return m.txs[this.i] !== undefined;
  }
  run(m: Model, r: Real) {
    stats.commands++;
    stats.scans++;
    statementStart(m, this.i);
    const visible = view(m, this.i);
    const expected = [...visible]
      .map(([id, row]) => [id, row.val, row.pad])
      .sort((a, b) => a[0]! - b[0]!);
    const seen = rowsOf(r, this.i);
    const got = [...seen].map(([id, row]) => [id, row.val, row.pad]).sort((a, b) => a[0]! - b[0]!);
    expect(got).toEqual(expected);
    const tx = m.txs[this.i]!;
    tx.remembered.clear();
    for (const [id, row] of seen)
      tx.remembered.set(id, { tid: row.tid, version: visible.get(id)!.version });
  }
  toString() {
    return `scan(${this.i})`;
  }
}

class EndCmd implements fc.Command<Model, Real> {
  constructor(
    readonly i: number,
    readonly commit: boolean,
  ) {}
  check(m: Model) {
    return m.txs[this.i] !== undefined;
  }
  run(m: Model, r: Real) {
    stats.commands++;
    const tx = m.txs[this.i]!;
    if (this.commit) {
      r.txs[this.i]!.commit();
      m.commitSeq++;
      for (const [id, row] of tx.overlay) {
        if (row === null) m.committed.delete(id);
        else m.committed.set(id, { ...row, version: m.commitSeq });
      }
    } else {
      r.txs[this.i]!.abort();
    }
    abortModel(m, this.i);
    r.txs[this.i] = undefined;
  }
  toString() {
    return this.commit ? `commit(${this.i})` : `abort(${this.i})`;
  }
}

class VacuumCmd implements fc.Command<Model, Real> {
  check() {
    return true;
  }
  run(_m: Model, r: Real) {
    stats.commands++;
    stats.vacuums++;
    r.vacuumer.vacuum("t");
    expect(r.vacuumer.pool.checkConsistency()).toEqual([]);
  }
  toString() {
    return "vacuum()";
  }
}

function commandsFor(backends: number) {
  const i = fc.integer({ min: 0, max: backends - 1 });
  const val = fc.integer({ min: -1000, max: 1000 });
  const pad = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 500, max: 2500 }));
  const iso = fc.constantFrom<Isolation>("read committed", "repeatable read");
  return [
    fc.tuple(i, iso).map(([a, b]) => new BeginCmd(a, b)),
    fc.tuple(i, iso).map(([a, b]) => new BeginCmd(a, b)),
    fc.tuple(i, val, pad).map(([a, v, p]) => new InsertCmd(a, v, p)),
    fc.tuple(i, val, pad).map(([a, v, p]) => new InsertCmd(a, v, p)),
    fc.tuple(i, fc.nat(), val, pad).map(([a, k, v, p]) => new ChangeCmd(a, k, "update", v, p)),
    fc.tuple(i, fc.nat(), val, pad).map(([a, k, v, p]) => new ChangeCmd(a, k, "update", v, p)),
    fc.tuple(i, fc.nat()).map(([a, k]) => new ChangeCmd(a, k, "delete", 0, 0)),
    i.map((a) => new ScanCmd(a)),
    fc.tuple(i, fc.boolean()).map(([a, c]) => new EndCmd(a, c)),
    fc.tuple(i).map(([a]) => new EndCmd(a, true)),
    fc.constant(new VacuumCmd()),
  ];
}

function run(variant: "disk" | "memory", numRuns: number): void {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 2, max: 3 })
        .chain((n) =>
          fc.tuple(fc.constant(n), fc.commands(commandsFor(n), { maxCommands: 150, size: "max" })),
        ),
      ([backends, cmds]) => {
        const dataDir =
          variant === "disk" ? fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-model-")) : undefined;
        if (dataDir) dirs.push(dataDir);
        const vacuumer = Database.create({
          variant,
          bufferCount: variant === "disk" ? 24 : 512,
          // 1 MB WAL segments: each of the property's runs makes a data directory.
          ...(dataDir ? { dataDir, walSegmentSize: 1024 * 1024 } : {}),
        });
        vacuumer.createTable("t", [
          { name: "id", type: "int4", notNull: true },
          { name: "val", type: "int4" },
          { name: "pad", type: "text" },
        ]);
        const dbs = Array.from({ length: backends }, () => Database.attach(vacuumer.shared));
        const model: Model = {
          committed: new Map(),
          commitSeq: 0,
          nextId: 1,
          txs: [],
          lockedBy: new Map(),
        };
        const real: Real = { dbs, txs: [], vacuumer };
        fc.modelRun(() => ({ model, real }), cmds);
        // End every transaction, then everyone sees the committed state and nothing stays pinned.
        for (let i = 0; i < backends; i++) {
          if (real.txs[i]) new EndCmd(i, true).run(model, real);
        }
        const check = dbs[0]!.begin();
        const final = [...check.scan("t")].map(({ row }) => [
          row[0],
          row[1],
          (row[2] as string).length,
        ]);
        check.commit();
        const expected = [...model.committed].map(([id, row]) => [id, row.val, row.pad]);
        expect(final.sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(
          expected.sort((a, b) => (a[0] as number) - (b[0] as number)),
        );
        for (const db of dbs) expect(db.close().leakedPins).toEqual([]);
        expect(vacuumer.pool.bufferCacheSummary().buffers_pinned).toBe(0);
        vacuumer.close();
        // Each run's directory goes at once (afterAll removes any a failed run left).
        if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
      },
    ),
    {
      numRuns,
      // A fixed seed by default (CI runs the same sequences every time); FC_SEED for others.
      seed: Number(process.env.FC_SEED ?? 20261202),
      ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
    },
  );
}

describe("MVCC against a model of committed rows and snapshots", () => {
  for (const [am, variant] of [
    ["heap", "disk"],
    ["memheap", "memory"],
  ] as const) {
    it(`[${am}] random interleavings of 2–3 transactions with vacuum`, () => {
      Object.assign(stats, { commands: 0, conflicts: 0, vacuums: 0, scans: 0, gone: 0 });
      run(variant, 150);
      // The runs exercised what they claim to.
      expect(stats.commands).toBeGreaterThan(3000);
      expect(stats.conflicts).toBeGreaterThan(20);
      expect(stats.vacuums).toBeGreaterThan(50);
      expect(stats.scans).toBeGreaterThan(200);
    });
  }
});
