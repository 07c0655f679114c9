// A model-based test of a table with a primary key against a sorted map, one backend, both
// variants: random inserts (duplicates must fail with the unique violation and change nothing),
// updates of the key (non-HOT) and of the other column (HOT), deletes, aborted transactions,
// VACUUM, and range scans in both directions, index-only scans and lookups by key compared with
// the model after every command. FC_SEED / FC_PATH replay a failure; FC_RUNS runs longer.
//
// Sizes: keys 0..19 and at most 40 commands per run, so the index stays on one leaf and every
// command can be checked against the whole model. nbtree-model-backends.test.ts is the larger
// model: keys 0..2999, a second (text) index, multi-level trees, page splits and page deletion,
// and 2–3 backends with concurrent transactions.

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Database, PgsimError } from "../src/index.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

type Model = Map<number, number>;

interface Real {
  db: Database;
}

const KEY = fc.integer({ min: 0, max: 19 });

const stats = { violations: 0, commands: 0 };

/** After every command: scans, index-only scans and lookups agree with the model. */
function checkAgainst(model: Model, real: Real, lo: number, hi: number): void {
  const sorted = [...model.entries()].sort((a, b) => a[0] - b[0]);
  const tx = real.db.begin();
  const fwd = tx.indexScan("t_pkey", { range: { gte: lo, lt: hi } }).map((r) => r.row);
  const want = sorted.filter(([k]) => k >= lo && k < hi);
  expect(fwd).toEqual(want);
  const bwd = tx.indexScan("t_pkey", { range: { gte: lo, lt: hi }, direction: "backward" });
  expect(bwd.map((r) => r.row)).toEqual([...want].reverse());
  expect(tx.indexOnlyScan("t_pkey").rows.map((r) => r.values[0])).toEqual(sorted.map(([k]) => k));
  const probe = lo;
  expect(tx.fetchByKey("t_pkey", probe)?.row ?? null).toEqual(
    model.has(probe) ? [probe, model.get(probe)] : null,
  );
  tx.commit();
}

class InsertCmd implements fc.Command<Model, Real> {
  constructor(
    readonly k: number,
    readonly v: number,
  ) {}
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    const tx = real.db.begin();
    if (model.has(this.k)) {
      let err: PgsimError | undefined;
      try {
        tx.insert("t", [this.k, this.v]);
      } catch (e) {
        err = e as PgsimError;
      }
      expect(err?.message).toBe('duplicate key value violates unique constraint "t_pkey"');
      expect(err?.detail?.detail).toBe(`Key (k)=(${this.k}) already exists.`);
      expect(tx.state).toBe("aborted");
      stats.violations++;
    } else {
      tx.insert("t", [this.k, this.v]);
      tx.commit();
      model.set(this.k, this.v);
    }
    checkAgainst(model, real, Math.max(0, this.k - 10), this.k + 10);
  }
  toString = () => `insert(${this.k}, ${this.v})`;
}

class UpdateValueCmd implements fc.Command<Model, Real> {
  constructor(
    readonly k: number,
    readonly v: number,
  ) {}
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    const tx = real.db.begin();
    const n = tx.updateByKey("t_pkey", this.k, (row) => [row[0] ?? null, this.v]);
    tx.commit();
    expect(n).toBe(model.has(this.k) ? 1 : 0);
    if (model.has(this.k)) model.set(this.k, this.v);
    checkAgainst(model, real, 0, 60);
  }
  toString = () => `updateValue(${this.k}, ${this.v})`;
}

class MoveKeyCmd implements fc.Command<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: number,
  ) {}
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    const tx = real.db.begin();
    if (model.has(this.from) && model.has(this.to) && this.from !== this.to) {
      expect(() => tx.updateByKey("t_pkey", this.from, (row) => [this.to, row[1] ?? null])).toThrow(
        'duplicate key value violates unique constraint "t_pkey"',
      );
      stats.violations++;
    } else {
      const n = tx.updateByKey("t_pkey", this.from, (row) => [this.to, row[1] ?? null]);
      tx.commit();
      expect(n).toBe(model.has(this.from) ? 1 : 0);
      if (model.has(this.from)) {
        const v = model.get(this.from)!;
        model.delete(this.from);
        model.set(this.to, v);
      }
    }
    checkAgainst(model, real, 0, 60);
  }
  toString = () => `moveKey(${this.from} → ${this.to})`;
}

class DeleteCmd implements fc.Command<Model, Real> {
  constructor(readonly k: number) {}
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    const tx = real.db.begin();
    expect(tx.deleteByKey("t_pkey", this.k)).toBe(model.has(this.k) ? 1 : 0);
    tx.commit();
    model.delete(this.k);
    checkAgainst(model, real, 0, 60);
  }
  toString = () => `delete(${this.k})`;
}

class AbortedCmd implements fc.Command<Model, Real> {
  constructor(readonly k: number) {}
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    const tx = real.db.begin();
    if (!model.has(this.k)) tx.insert("t", [this.k, -1]);
    else tx.updateByKey("t_pkey", this.k, (row) => [row[0] ?? null, -1]);
    tx.abort();
    checkAgainst(model, real, 0, 60);
  }
  toString = () => `aborted(${this.k})`;
}

class VacuumCmd implements fc.Command<Model, Real> {
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    real.db.vacuum("t");
    checkAgainst(model, real, 0, 60);
    // The structure holds, with an entry at least for every live row.
    expect(real.db.btIndexCheck("t_pkey").heapTids).toBeGreaterThanOrEqual(model.size);
  }
  toString = () => "vacuum";
}

const commands = [
  fc.tuple(KEY, fc.integer({ min: 0, max: 999 })).map(([k, v]) => new InsertCmd(k, v)),
  fc.tuple(KEY, fc.integer({ min: 0, max: 999 })).map(([k, v]) => new UpdateValueCmd(k, v)),
  fc.tuple(KEY, KEY).map(([a, b]) => new MoveKeyCmd(a, b)),
  KEY.map((k) => new DeleteCmd(k)),
  KEY.map((k) => new AbortedCmd(k)),
  fc.constant(new VacuumCmd()),
];

describe("a primary key against a sorted map (one backend)", () => {
  for (const { am, variant } of HEAP_AMS) {
    it(`[${am}] inserts, key and value updates, deletes, aborts, vacuums and scans`, () => {
      Object.assign(stats, { violations: 0, commands: 0 });
      let longest = 0;
      fc.assert(
        fc.property(fc.commands(commands, { maxCommands: 40, size: "+2" }), (cmds) => {
          const db = makeDb(variant, 128);
          db.createTable(
            "t",
            [
              { name: "k", type: "int4" },
              { name: "v", type: "int4" },
            ],
            { am, primaryKey: ["k"] },
          );
          const real = { db };
          longest = Math.max(longest, [...cmds].length);
          try {
            fc.modelRun(() => ({ model: new Map(), real }), cmds);
          } finally {
            db.close();
          }
        }),
        {
          numRuns: Number(process.env.FC_RUNS ?? 20),
          seed: Number(process.env.FC_SEED ?? 20261216),
          ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
        },
      );
      // The runs exercised what they claim to.
      expect(stats.commands).toBeGreaterThan(100);
      expect(longest).toBeGreaterThan(15);
      expect(stats.violations).toBeGreaterThan(0);
    });
  }
});
