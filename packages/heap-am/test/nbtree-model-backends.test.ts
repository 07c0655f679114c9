// A model-based test of a table with a primary key (int4) and a second, non-unique index on a
// text column, against a sorted-map model, with 2–3 backends on the same shared memory (one
// thread), both variants. Each backend has at most one open READ COMMITTED transaction; a
// command on a backend without one runs in a transaction of its own (autocommit). Commands:
// begin, insert, bulk inserts of key ranges (one statement; all keys, or only the free ones),
// updates of the text column to a new value (non-HOT: the value index changes) and to the same
// value (HOT), up to 200 times in a row on one key (many versions of one key), updates of the
// key, deletes, bulk deletes of key ranges, commit, abort, VACUUM (also while other transactions
// are open), and scans of both indexes — ranges, both directions, index-only — each checked
// against what that backend's statement snapshot must see: the committed rows plus its own
// transaction's changes. After every write and every commit or abort, each backend's view of the
// changed keys is checked too (its own uncommitted changes, none of another backend's).
//
// A duplicate key (the backend's own view has it) must fail with PostgreSQL's unique violation,
// which aborts the transaction. A command that PostgreSQL would make wait for another backend's
// open transaction — inserting a key that transaction inserted or deleted (_bt_check_unique's
// XactLockTableWait, also for versions it created and then deleted, which SnapshotDirty still
// reports as "being inserted"), or updating / deleting a row it updated or deleted — would block
// in one thread (until lock_timeout's two minutes): the model never issues it (fast-check's
// precondition). Updates and deletes run with `nowait`, so a model mistake there shows as an
// error at once.
//
// Sizes: keys 0..2999, runs start from a bulk-loaded table of up to 3000 rows (every 1st, 2nd or
// 3rd key), text values of 1–300 characters with long common prefixes (so pivot tuples are long
// and the value index grows to three levels) and many duplicates (posting lists); bulk deletes of
// up to 1000 keys empty whole leaves, which VACUUM then deletes. After every run all transactions
// end, VACUUM runs, both indexes pass the structural check with the parent level, and full scans
// of both indexes (plain and index-only, both directions) equal the model. The disk variant
// (WAL-logged) then crashes and recovers, and the same checks run on the recovered database.
//
// FC_SEED / FC_PATH replay a failure; FC_RUNS sets the runs per variant; NBT_MODEL_LONG=1 runs
// 60 runs of up to 120 commands per variant; NBT_MODEL_TRACE=1 prints each run's commands.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Database, type DatabaseTransaction, type PgsimError } from "../src/index.js";
import { HEAP_AMS } from "./db-helpers.js";

const dataDirs: string[] = [];
afterAll(() => {
  for (const d of dataDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const LONG = process.env.NBT_MODEL_LONG === "1";
const KEYS = 3000;
const MAX_BACKENDS = 3;
const DISK_BUFFERS = 64;

/** What one open transaction has done, as far as other backends and its own scans can tell. */
interface ModelTx {
  /** Committed rows (by key) it updated or deleted: their versions carry its xmax. */
  touched: Set<number>;
  /** Keys of every tuple version it created (even if it later deleted or moved them). */
  created: Set<number>;
  /** Its own live rows: what it inserted or updated, as it sees them now. */
  own: Map<number, string>;
}

interface Model {
  committed: Map<number, string>;
  open: (ModelTx | undefined)[];
  backends: number;
}

interface Real {
  root: Database;
  backends: Database[];
  txs: (DatabaseTransaction | undefined)[];
}

const stats = {
  commands: 0,
  violations: 0,
  concurrentMax: 0,
  scans: 0,
  maxLevelsValue: 0,
  maxLevelsKey: 0,
  pagesNewlyDeleted: 0,
  vacuumsWithOpenTx: 0,
  inOpenTransactions: 0,
  recoveries: 0,
  runs: 0,
};

/**
 * A text value for key `k` and salt `s`: one of three letters repeated 0..299 times, then a
 * digit — long common prefixes, and one value in six is one of 30 values repeated many times.
 */
function textFor(k: number, s: number): string {
  const h = (Math.imul(k + 1, 2654435761) ^ Math.imul(s + 7, 40503)) >>> 0;
  const c = "abc"[h % 3]!;
  const len = (h >>> 4) % 6 === 0 ? 250 : (h >>> 8) % 300;
  return c.repeat(len) + String((h >>> 20) % 10);
}

/** Strings compare as C-collation text does (the values are ASCII). */
function cmpText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What backend `b`'s next statement sees: the committed rows plus its transaction's changes. */
function view(model: Model, b: number): Map<number, string> {
  const t = model.open[b];
  if (t === undefined) return model.committed;
  const v = new Map(model.committed);
  for (const k of t.touched) v.delete(k);
  for (const [k, val] of t.own) v.set(k, val);
  return v;
}

/** Another backend's open transaction created or changed a version with key k: a writer waits. */
function othersHold(model: Model, b: number, k: number): boolean {
  return model.open.some(
    (t, i) => i !== b && t !== undefined && (t.touched.has(k) || t.created.has(k)),
  );
}

/** Another backend's open transaction updated or deleted the committed row k: a row lock waits. */
function othersLocked(model: Model, b: number, k: number): boolean {
  return model.open.some((t, i) => i !== b && t !== undefined && t.touched.has(k));
}

function applyCommit(model: Model, t: ModelTx): void {
  for (const k of t.touched) model.committed.delete(k);
  for (const [k, v] of t.own) model.committed.set(k, v);
}

/**
 * Runs `body` in backend b's open transaction, or in one of its own that commits afterwards
 * (unless the body's statement failed and aborted it). `body` returns false when the
 * transaction was aborted by an error.
 */
function within(
  model: Model,
  real: Real,
  b: number,
  body: (t: ModelTx, tx: DatabaseTransaction) => boolean,
): void {
  stats.commands++;
  const open = model.open[b];
  if (open !== undefined) {
    stats.inOpenTransactions++;
    const tx = real.txs[b]!;
    if (!body(open, tx)) {
      expect(tx.state).toBe("aborted");
      model.open[b] = undefined;
      real.txs[b] = undefined;
    }
    return;
  }
  const t: ModelTx = { touched: new Set(), created: new Set(), own: new Map() };
  const tx = real.backends[b]!.begin();
  // The temporary transaction is visible to the model's view while it runs.
  model.open[b] = t;
  try {
    if (body(t, tx)) {
      tx.commit();
      applyCommit(model, t);
    } else {
      expect(tx.state).toBe("aborted");
    }
  } finally {
    model.open[b] = undefined;
  }
}

/**
 * After a change to keys lo..hi: every backend's next statement sees exactly its view of them —
 * its own uncommitted changes, and none of another backend's.
 */
function checkKeys(model: Model, real: Real, lo: number, hi: number, backward: boolean): void {
  for (let b = 0; b < model.backends; b++) {
    const own = real.txs[b];
    const tx = own ?? real.backends[b]!.begin();
    const want = [...view(model, b).entries()]
      .filter(([k]) => k >= lo && k <= hi)
      .sort((x, y) => (backward ? y[0] - x[0] : x[0] - y[0]));
    const direction = backward ? "backward" : "forward";
    const got = tx.indexScan("t_pkey", { range: { gte: lo, lte: hi }, direction });
    expect(
      got.map((r) => r.row),
      `b${b} sees keys ${lo}..${hi}`,
    ).toEqual(want);
    if (own === undefined) tx.commit();
  }
}

function expectUniqueViolation(run: () => unknown, key: number): void {
  let err: PgsimError | undefined;
  try {
    run();
  } catch (e) {
    err = e as PgsimError;
  }
  expect(err?.message).toBe('duplicate key value violates unique constraint "t_pkey"');
  expect(err?.detail?.detail).toBe(`Key (k)=(${key}) already exists.`);
  stats.violations++;
}

type Cmd = fc.Command<Model, Real>;

class BeginCmd implements Cmd {
  constructor(readonly b: number) {}
  check = (m: Readonly<Model>) => this.b < m.backends && m.open[this.b] === undefined;
  run(model: Model, real: Real): void {
    stats.commands++;
    real.txs[this.b] = real.backends[this.b]!.begin();
    model.open[this.b] = { touched: new Set(), created: new Set(), own: new Map() };
    stats.concurrentMax = Math.max(stats.concurrentMax, model.open.filter(Boolean).length);
  }
  toString = () => `b${this.b}.begin`;
}

class EndCmd implements Cmd {
  constructor(
    readonly b: number,
    readonly commit: boolean,
  ) {}
  check = (m: Readonly<Model>) => this.b < m.backends && m.open[this.b] !== undefined;
  run(model: Model, real: Real): void {
    stats.commands++;
    const t = model.open[this.b]!;
    const tx = real.txs[this.b]!;
    if (this.commit) {
      tx.commit();
      applyCommit(model, t);
    } else {
      tx.abort();
    }
    model.open[this.b] = undefined;
    real.txs[this.b] = undefined;
    const changed = [...t.touched, ...t.created];
    if (changed.length > 0) {
      checkKeys(model, real, Math.min(...changed), Math.max(...changed), this.commit);
    }
  }
  toString = () => `b${this.b}.${this.commit ? "commit" : "abort"}`;
}

/**
 * INSERT of the keys lo..lo+n-1 in one statement; with `gaps`, only those of them the backend
 * does not see and no other open transaction holds (so the insert succeeds).
 */
class InsertRangeCmd implements Cmd {
  readonly range: number[];
  constructor(
    readonly b: number,
    lo: number,
    n: number,
    readonly salt: number,
    readonly gaps: boolean,
  ) {
    this.range = [];
    for (let k = lo; k < Math.min(KEYS, lo + n); k++) this.range.push(k);
  }
  private keysFor(m: Model): number[] {
    if (!this.gaps) return this.range;
    const seen = view(m, this.b);
    return this.range.filter((k) => !seen.has(k) && !othersHold(m, this.b, k));
  }
  check = (m: Readonly<Model>) =>
    this.b < m.backends && !this.keysFor(m as Model).some((k) => othersHold(m as Model, this.b, k));
  run(model: Model, real: Real): void {
    const keys = this.keysFor(model);
    if (keys.length === 0) return;
    within(model, real, this.b, (t, tx) => {
      const seen = view(model, this.b);
      const rows = keys.map((k) => [k, textFor(k, this.salt)] as [number, string]);
      const dup = keys.find((k) => seen.has(k));
      if (dup !== undefined) {
        expectUniqueViolation(() => tx.insertRows("t", rows), dup);
        return false;
      }
      if (rows.length === 1) tx.insert("t", rows[0]!);
      else tx.insertRows("t", rows);
      for (const [k, v] of rows) {
        t.own.set(k, v);
        t.created.add(k);
      }
      return true;
    });
    checkKeys(model, real, keys[0]!, keys[keys.length - 1]!, this.salt % 2 === 1);
  }
  toString = () =>
    `b${this.b}.insert(${this.range[0]}..${this.range[this.range.length - 1]}${this.gaps ? " where free" : ""}, salt ${this.salt})`;
}

/**
 * UPDATE t SET v = <new text> WHERE k = …, `times` times in a row (each a statement; many
 * versions of one key fill its leaf in both indexes: the unique index's deduplication and
 * splits among equal keys); with no salt, SET v = v (a HOT update).
 */
class UpdateValueCmd implements Cmd {
  constructor(
    readonly b: number,
    readonly k: number,
    readonly salt: number | undefined,
    readonly times = 1,
  ) {}
  check = (m: Readonly<Model>) => this.b < m.backends && !othersLocked(m as Model, this.b, this.k);
  run(model: Model, real: Real): void {
    within(model, real, this.b, (t, tx) => {
      const seen = view(model, this.b);
      const had = seen.has(this.k);
      let v = seen.get(this.k) ?? "";
      for (let i = 0; i < this.times; i++) {
        const salt = this.salt;
        if (salt !== undefined) v = textFor(this.k, salt + i);
        const n = tx.updateByKey(
          "t_pkey",
          this.k,
          (row) => [row[0] ?? null, salt === undefined ? (row[1] ?? null) : v],
          { nowait: true },
        );
        expect(n).toBe(had ? 1 : 0);
      }
      if (had) {
        if (!t.own.has(this.k)) t.touched.add(this.k);
        t.own.set(this.k, v);
        t.created.add(this.k);
      }
      return true;
    });
    checkKeys(model, real, this.k, this.k, false);
  }
  toString = () =>
    `b${this.b}.updateValue(${this.k}, ${this.salt === undefined ? "same value" : `salt ${this.salt}`}${this.times > 1 ? ` ×${this.times}` : ""})`;
}

class MoveKeyCmd implements Cmd {
  constructor(
    readonly b: number,
    readonly from: number,
    readonly to: number,
  ) {}
  check = (m: Readonly<Model>) =>
    this.b < m.backends &&
    !othersLocked(m as Model, this.b, this.from) &&
    !othersHold(m as Model, this.b, this.to);
  run(model: Model, real: Real): void {
    within(model, real, this.b, (t, tx) => {
      const seen = view(model, this.b);
      const update = () =>
        tx.updateByKey("t_pkey", this.from, (row) => [this.to, row[1] ?? null], { nowait: true });
      if (seen.has(this.from) && seen.has(this.to)) {
        expectUniqueViolation(update, this.to);
        return false;
      }
      expect(update()).toBe(seen.has(this.from) ? 1 : 0);
      if (seen.has(this.from)) {
        const v = seen.get(this.from)!;
        if (t.own.has(this.from)) t.own.delete(this.from);
        else t.touched.add(this.from);
        t.own.set(this.to, v);
        t.created.add(this.to);
      }
      return true;
    });
    checkKeys(
      model,
      real,
      Math.min(this.from, this.to),
      Math.max(this.from, this.to),
      this.from > this.to,
    );
  }
  toString = () => `b${this.b}.moveKey(${this.from} → ${this.to})`;
}

class DeleteRangeCmd implements Cmd {
  readonly keys: number[];
  constructor(
    readonly b: number,
    lo: number,
    n: number,
  ) {
    this.keys = [];
    for (let k = lo; k < Math.min(KEYS, lo + n); k++) this.keys.push(k);
  }
  check = (m: Readonly<Model>) =>
    this.b < m.backends && !this.keys.some((k) => othersLocked(m as Model, this.b, k));
  run(model: Model, real: Real): void {
    within(model, real, this.b, (t, tx) => {
      for (const k of this.keys) {
        const had = view(model, this.b).has(k);
        expect(tx.deleteByKey("t_pkey", k, { nowait: true }), `delete ${k}`).toBe(had ? 1 : 0);
        if (!had) continue;
        if (t.own.has(k)) t.own.delete(k);
        else t.touched.add(k);
      }
      return true;
    });
    checkKeys(
      model,
      real,
      this.keys[0]!,
      this.keys[this.keys.length - 1]!,
      this.keys.length % 2 === 0,
    );
  }
  toString = () => `b${this.b}.delete(${this.keys[0]}..${this.keys[this.keys.length - 1]})`;
}

class VacuumCmd implements Cmd {
  check = () => true;
  run(model: Model, real: Real): void {
    stats.commands++;
    if (model.open.some(Boolean)) stats.vacuumsWithOpenTx++;
    const r = real.root.vacuum("t");
    for (const i of r.indexes ?? []) stats.pagesNewlyDeleted += i.stats.pagesNewlyDeleted;
    checkStructure(real);
  }
  toString = () => "vacuum";
}

type ScanKind = "key" | "keyOnly" | "value" | "valueOnly";

class ScanCmd implements Cmd {
  constructor(
    readonly b: number,
    readonly kind: ScanKind,
    readonly lo: number,
    readonly span: number,
    readonly backward: boolean,
  ) {}
  check = (m: Readonly<Model>) => this.b < m.backends;
  run(model: Model, real: Real): void {
    within(model, real, this.b, (_t, tx) => {
      stats.scans++;
      const seen = view(model, this.b);
      const direction = this.backward ? "backward" : "forward";
      if (this.kind === "key" || this.kind === "keyOnly") {
        const range = { gte: this.lo, lt: this.lo + this.span };
        const want = [...seen.entries()]
          .filter(([k]) => k >= range.gte && k < range.lt)
          .sort((a, b) => a[0] - b[0]);
        if (this.backward) want.reverse();
        if (this.kind === "key") {
          const got = tx.indexScan("t_pkey", { range, direction }).map((r) => r.row);
          expect(got).toEqual(want);
        } else {
          const got = tx.indexOnlyScan("t_pkey", { range, direction }).rows.map((r) => r.values);
          expect(got).toEqual(want.map(([k]) => [k]));
        }
      } else {
        // A range of values between those of two keys (inclusive).
        const a = textFor(this.lo, 0);
        const z = textFor(this.lo + this.span, 1);
        const [gte, lte] = cmpText(a, z) <= 0 ? [a, z] : [z, a];
        const want = [...seen.entries()].filter(([, v]) => v >= gte && v <= lte);
        const got =
          this.kind === "value"
            ? tx.indexScan("t_v", { range: { gte, lte }, direction }).map((r) => r.row)
            : tx.indexOnlyScan("t_v", { range: { gte, lte }, direction }).rows.map((r) => r.values);
        expectValueOrder(got, want, this.kind === "value", this.backward);
      }
      return true;
    });
  }
  toString = () =>
    `b${this.b}.scan(${this.kind}, ${this.lo}+${this.span}${this.backward ? ", backward" : ""})`;
}

/**
 * Rows of a value-index scan: in value order (equal values in heap-TID order, which the model
 * does not know), and as a multiset the model's rows.
 */
function expectValueOrder(
  got: unknown[][],
  want: [number, string][],
  withKeys: boolean,
  backward: boolean,
): void {
  const values = got.map((r) => (withKeys ? r[1] : r[0]) as string);
  const sorted = [...values].sort(cmpText);
  if (backward) sorted.reverse();
  expect(values).toEqual(sorted);
  if (withKeys) {
    const byKey = (x: unknown[], y: unknown[]) => (x[0] as number) - (y[0] as number);
    expect([...got].sort(byKey)).toEqual([...want].sort(byKey));
  } else {
    expect(sorted).toEqual(
      want.map(([, v]) => v).sort((x, y) => (backward ? cmpText(y, x) : cmpText(x, y))),
    );
  }
}

function checkStructure(real: Real): void {
  const key = real.root.btIndexCheck("t_pkey", { parent: true });
  const value = real.root.btIndexCheck("t_v", { parent: true });
  stats.maxLevelsKey = Math.max(stats.maxLevelsKey, key.levels);
  stats.maxLevelsValue = Math.max(stats.maxLevelsValue, value.levels);
}

/** After a run: every transaction ends, VACUUM, the structure holds, full scans equal the model. */
function finalCheck(model: Model, real: Real): void {
  for (let b = 0; b < model.backends; b++) {
    if (model.open[b] !== undefined) new EndCmd(b, b % 2 === 0).run(model, real);
  }
  new VacuumCmd().run(model, real);
  expectIndexesHold(real.root, model);
}

/** Both indexes pass the structural check, and full scans of them equal the committed rows. */
function expectIndexesHold(db: Database, model: Model): void {
  db.btIndexCheck("t_pkey", { parent: true });
  db.btIndexCheck("t_v", { parent: true });
  const want = [...model.committed.entries()].sort((a, b) => a[0] - b[0]);
  const tx = db.begin();
  expect(tx.indexScan("t_pkey").map((r) => r.row)).toEqual(want);
  expect(tx.indexScan("t_pkey", { direction: "backward" }).map((r) => r.row)).toEqual(
    [...want].reverse(),
  );
  expect(tx.indexOnlyScan("t_pkey").rows.map((r) => r.values[0])).toEqual(want.map(([k]) => k));
  expectValueOrder(
    tx.indexScan("t_v").map((r) => r.row),
    want,
    true,
    false,
  );
  expectValueOrder(
    tx.indexOnlyScan("t_v", { direction: "backward" }).rows.map((r) => r.values),
    want,
    false,
    true,
  );
  tx.commit();
  // Every live row has its entries (dead ones VACUUM could not remove yet may remain).
  expect(db.btIndexCheck("t_pkey").heapTids).toBeGreaterThanOrEqual(want.length);
  expect(db.btIndexCheck("t_v").heapTids).toBeGreaterThanOrEqual(want.length);
}

const B = fc.integer({ min: 0, max: MAX_BACKENDS - 1 });
const KEY = fc.integer({ min: 0, max: KEYS - 1 });
const SALT = fc.integer({ min: 0, max: 999 });

const SCAN = fc
  .tuple(
    B,
    fc.constantFrom<ScanKind>("key", "keyOnly", "value", "valueOnly"),
    KEY,
    fc.integer({ min: 0, max: 200 }),
    fc.boolean(),
  )
  .map(([b, kind, lo, span, backward]) => new ScanCmd(b, kind, lo, span, backward));

const commands = [
  SCAN,
  SCAN,
  B.map((b) => new BeginCmd(b)),
  B.map((b) => new BeginCmd(b)),
  B.map((b) => new BeginCmd(b)),
  fc.tuple(B, fc.boolean()).map(([b, c]) => new EndCmd(b, c)),
  fc.tuple(B, fc.boolean()).map(([b, c]) => new EndCmd(b, c)),
  fc.tuple(B, KEY, SALT).map(([b, k, s]) => new InsertRangeCmd(b, k, 1, s, false)),
  fc
    .tuple(B, KEY, fc.integer({ min: 2, max: 300 }), SALT)
    .map(([b, k, n, s]) => new InsertRangeCmd(b, k, n, s, false)),
  fc
    .tuple(B, KEY, fc.integer({ min: 2, max: 300 }), SALT)
    .map(([b, k, n, s]) => new InsertRangeCmd(b, k, n, s, true)),
  fc.tuple(B, KEY, SALT).map(([b, k, s]) => new UpdateValueCmd(b, k, s)),
  fc.tuple(B, KEY).map(([b, k]) => new UpdateValueCmd(b, k, undefined)),
  fc
    .tuple(B, KEY, SALT, fc.integer({ min: 2, max: 200 }), fc.boolean())
    .map(([b, k, s, n, hot]) => new UpdateValueCmd(b, k, hot ? undefined : s, n)),
  fc.tuple(B, KEY, KEY).map(([b, f, to]) => new MoveKeyCmd(b, f, to === f ? (to + 1) % KEYS : to)),
  fc.tuple(B, KEY).map(([b, k]) => new DeleteRangeCmd(b, k, 1)),
  fc
    .tuple(B, KEY, fc.integer({ min: 2, max: 1000 }))
    .map(([b, k, n]) => new DeleteRangeCmd(b, k, n)),
  fc.constant(new VacuumCmd()),
];

/** The table, bulk-loaded with every `stride`-th key below `fill`. */
function setUp(
  variant: "disk" | "memory",
  am: string,
  backends: number,
  fill: number,
  stride: number,
) {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbt-model-"));
    dataDirs.push(dataDir);
  }
  // The disk variant's pool is small (pages of both indexes and the heap are evicted and read
  // back); the memory variant's holds every page.
  const root = Database.create({
    variant,
    bufferCount: variant === "disk" ? DISK_BUFFERS : 4096,
    ...(dataDir ? { dataDir } : {}),
  });
  root.createTable(
    "t",
    [
      { name: "k", type: "int4" },
      { name: "v", type: "text" },
    ],
    { am, primaryKey: ["k"] },
  );
  root.createIndex("t_v", "t", { columns: ["v"] });
  const committed = new Map<number, string>();
  const rows: [number, string][] = [];
  for (let k = 0; k < fill; k += stride) rows.push([k, textFor(k, 0)]);
  const tx = root.begin();
  tx.insertRows("t", rows);
  tx.commit();
  for (const [k, v] of rows) committed.set(k, v);
  const real: Real = {
    root,
    backends: Array.from({ length: backends }, () => root.attachAnother()),
    txs: [],
  };
  const model: Model = { committed, open: [], backends };
  return { model, real, dataDir };
}

describe("a primary key and a text index against a sorted map (2–3 backends)", () => {
  for (const { am, variant } of HEAP_AMS) {
    it(
      `[${am}] concurrent inserts, key and value updates, deletes, unique violations, aborts, vacuums and scans`,
      () => {
        for (const k of Object.keys(stats)) stats[k as keyof typeof stats] = 0;
        fc.assert(
          fc.property(
            fc.integer({ min: 2, max: MAX_BACKENDS }),
            fc.integer({ min: 0, max: KEYS }),
            fc.integer({ min: 1, max: 3 }),
            fc.commands(commands, { maxCommands: LONG ? 120 : 50, size: "max" }),
            (backends, fill, stride, cmds) => {
              const { model, real, dataDir } = setUp(variant, am, backends, fill, stride);
              let closed = false;
              stats.runs++;
              try {
                fc.modelRun(() => ({ model, real }), cmds);
                if (process.env.NBT_MODEL_TRACE) console.log(backends, fill, stride, String(cmds));
                finalCheck(model, real);
                if (dataDir !== undefined) {
                  // A crash (no checkpoint was taken): recovery replays the whole WAL — the bulk load,
                  // splits, new roots, dedup passes, VACUUM's deletions and page deletions — and
                  // both indexes hold again, exactly the committed rows.
                  for (const d of real.backends) d.close();
                  real.root.close();
                  closed = true;
                  const again = Database.open(dataDir, { bufferCount: DISK_BUFFERS });
                  try {
                    expect(again.startupReport?.recovered).toBe(true);
                    expectIndexesHold(again, model);
                    stats.recoveries++;
                  } finally {
                    again.close();
                  }
                }
              } finally {
                if (!closed) {
                  for (let b = 0; b < backends; b++) real.txs[b]?.abort();
                  for (const d of real.backends) d.close();
                  real.root.close();
                }
              }
            },
          ),
          {
            numRuns: Number(process.env.FC_RUNS ?? (LONG ? 60 : 6)),
            seed: Number(process.env.FC_SEED ?? 20261602),
            ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
          },
        );
        // The runs exercised what they claim to.
        if (process.env.NBT_MODEL_TRACE) console.log(`[${am}]`, JSON.stringify(stats));
        expect(stats.violations).toBeGreaterThan(0);
        expect(stats.concurrentMax).toBeGreaterThanOrEqual(2);
        expect(stats.inOpenTransactions).toBeGreaterThan(10);
        if (variant === "disk") expect(stats.recoveries).toBe(stats.runs);
        expect(stats.vacuumsWithOpenTx).toBeGreaterThan(0);
        expect(stats.maxLevelsKey).toBeGreaterThanOrEqual(2);
        expect(stats.maxLevelsValue).toBeGreaterThanOrEqual(3);
        expect(stats.pagesNewlyDeleted).toBeGreaterThan(0);
      },
      LONG ? 1_800_000 : 120_000,
    );
  }
});
