/**
 * The byte-identity proof of the page-at-a-time statements (issue 15): random tables and random
 * statements run twice, once with updateAll / deleteAll page at a time (the default) and once
 * through the per-row path (`pageAtATime: false`), and every page of every fork — main, free
 * space map, visibility map — must end byte for byte the same; with WAL on, so must every WAL
 * record. Both variants (memory-only; disk-backed, with and without WAL).
 *
 * Seeded: FC_SEED (default fixed) and IDENTITY_RUNS (runs per variant; default small enough for
 * CI, e.g. IDENTITY_RUNS=500 for a long run).
 *
 * Models: pgsim only (a property test of heapam-page-modify.ts).
 */

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Database, DatabaseTransaction, Row, UpdateSet } from "../src/index.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";
import {
  enableWal,
  firstForkDifference,
  removeTempDirs,
  snapshotForks,
  type TestWal,
} from "./wal-support.js";

afterAll(() => {
  removeDbDirs();
  removeTempDirs();
});

/** Runs of the memory-only variant; the disk-backed ones (slower) get fewer. */
const RUNS = Number(process.env.IDENTITY_RUNS ?? 60);
const SEED = Number(process.env.FC_SEED ?? 20261202);

type ColType = "int2" | "int4" | "int8" | "float8" | "bool" | "text" | "varchar(40)";
interface Column {
  name: string;
  type: ColType;
  notNull: boolean;
}

/** A value of a column's type, from a generated number (deterministic). */
function sampleValue(type: ColType, n: number, width: number): Row[number] {
  switch (type) {
    case "int2":
      return (n % 2000) - 1000;
    case "int4":
      return n * 7919 - 500_000;
    case "int8":
      return BigInt(n) * 1_000_003n - 7n;
    case "float8":
      return n / 7 - 3.5;
    case "bool":
      return n % 2 === 0;
    case "text":
      return "t".repeat(width) + String(n);
    case "varchar(40)":
      return `v${n}`.slice(0, 40);
  }
}

function rowOf(cols: readonly Column[], n: number, width: number, nullMask: number): Row {
  return cols.map((c, i) =>
    !c.notNull && ((nullMask >> i) & 1) === 1 ? null : sampleValue(c.type, n + i, width),
  );
}

/** One statement (or short transaction) of a scenario. */
type Step =
  | {
      kind: "insertMany";
      first: number;
      count: number;
      width: number;
      nulls: number;
      abort: boolean;
    }
  | { kind: "insertRows"; first: number; count: number; width: number; nulls: number }
  | { kind: "deleteSome"; every: number; abort: boolean }
  | {
      kind: "updateCallback";
      col: number;
      change: "grow" | "const" | "null";
      n: number;
      abort: boolean;
      lockFirst: number;
    }
  | { kind: "updateCompiled"; col: number; n: number; abort: boolean; lockFirst: number }
  | { kind: "deleteAll"; abort: boolean; lockFirst: number }
  | { kind: "insertThenUpdate"; first: number; count: number; width: number }
  | { kind: "vacuum" };

interface Scenario {
  cols: Column[];
  fillfactor: number;
  indexed: number[];
  steps: Step[];
}

const colArb: fc.Arbitrary<Column> = fc
  .record({
    type: fc.constantFrom<ColType>("int2", "int4", "int8", "float8", "bool", "text", "varchar(40)"),
    notNull: fc.boolean(),
  })
  .map((c) => ({ name: "", ...c }));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("insertMany" as const),
      first: fc.nat(10_000),
      count: fc.integer({ min: 1, max: 400 }),
      width: fc.integer({ min: 0, max: 300 }),
      nulls: fc.nat(255),
      abort: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insertRows" as const),
      first: fc.nat(10_000),
      count: fc.integer({ min: 1, max: 60 }),
      width: fc.integer({ min: 0, max: 120 }),
      nulls: fc.nat(255),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deleteSome" as const),
      every: fc.integer({ min: 2, max: 7 }),
      abort: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("updateCallback" as const),
      col: fc.nat(7),
      change: fc.constantFrom<"grow" | "const" | "null">("grow", "const", "null"),
      n: fc.nat(1000),
      abort: fc.boolean(),
      lockFirst: fc.nat(3),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("updateCompiled" as const),
      col: fc.nat(7),
      n: fc.nat(50),
      abort: fc.boolean(),
      lockFirst: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deleteAll" as const),
      abort: fc.boolean(),
      lockFirst: fc.nat(3),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insertThenUpdate" as const),
      first: fc.nat(10_000),
      count: fc.integer({ min: 1, max: 200 }),
      width: fc.integer({ min: 0, max: 60 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "vacuum" as const }) },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    cols: fc.array(colArb, { minLength: 1, maxLength: 6 }),
    fillfactor: fc.oneof(fc.constant(100), fc.integer({ min: 10, max: 100 })),
    indexedMask: fc.nat(63),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 10 }),
  })
  .map(({ cols, fillfactor, indexedMask, steps }) => {
    const named = cols.map((c, i) => ({ ...c, name: `c${i}` }));
    const indexed = named.map((_, i) => i).filter((i) => ((indexedMask >> i) & 1) === 1);
    return { cols: named, fillfactor, indexed, steps };
  });

/** What a statement returned (row counts), to compare too. */
type Outcome = (number | string)[];

/** The row locks a step takes first, in the same transaction, so that some rows go per-row. */
function lockSome(tx: DatabaseTransaction, every: number): void {
  if (every === 0) return;
  tx.scan("t").forEach(({ tid }, i) => {
    if (i % (every * 5) === 0) tx.lockRow("t", tid, { mode: i % 2 === 0 ? "update" : "share" });
  });
}

function finish(tx: DatabaseTransaction, abort: boolean): void {
  if (abort) tx.abort();
  else tx.commit();
}

function runScenario(db: Database, s: Scenario, pageAtATime: boolean): Outcome {
  const out: Outcome = [];
  const cols = s.cols;
  db.createTable(
    "t",
    cols.map((c) => ({ name: c.name, type: c.type, notNull: c.notNull })),
    {
      fillfactor: s.fillfactor,
      ...(s.indexed.length > 0 ? { indexedColumns: s.indexed.map((i) => cols[i]!.name) } : {}),
    },
  );
  const opts = { pageAtATime };
  const rows = (first: number, count: number, width: number, nulls: number) =>
    Array.from({ length: count }, (_, i) => rowOf(cols, first + i, width, nulls ^ i));
  for (const step of s.steps) {
    // A statement that fails (e.g. a full memory-only pool) must fail the same way on both
    // paths; its transaction is aborted, and the scenario goes on.
    try {
      runStep(db, cols, step, opts, rows, out);
    } catch (e) {
      out.push(`error: ${(e as { code?: string }).code ?? String(e)}`);
    }
  }
  return out;
}

function runStep(
  db: Database,
  cols: readonly Column[],
  step: Step,
  opts: { pageAtATime: boolean },
  rows: (first: number, count: number, width: number, nulls: number) => Row[],
  out: Outcome,
): void {
  switch (step.kind) {
    case "insertMany": {
      const tx = db.begin();
      tx.insertMany("t", rows(step.first, step.count, step.width, step.nulls));
      finish(tx, step.abort);
      break;
    }
    case "insertRows": {
      const tx = db.begin();
      tx.insertRows("t", rows(step.first, step.count, step.width, step.nulls));
      tx.commit();
      break;
    }
    case "deleteSome": {
      const tx = db.begin();
      tx.scan("t").forEach(({ tid }, i) => {
        if (i % step.every === 0) tx.delete("t", tid);
      });
      finish(tx, step.abort);
      break;
    }
    case "updateCallback": {
      const c = step.col % cols.length;
      const col = cols[c]!;
      const change = step.change === "null" && col.notNull ? "const" : step.change;
      const tx = db.begin();
      lockSome(tx, step.lockFirst);
      const n = tx.updateAll(
        "t",
        (row) => {
          const next = row.slice();
          if (change === "null") next[c] = null;
          else if (change === "grow" && (col.type === "text" || col.type === "varchar(40)"))
            next[c] = `${String(row[c] ?? "")}g`.slice(0, 40);
          else next[c] = sampleValue(col.type, step.n, 5);
          return next;
        },
        opts,
      );
      out.push(n);
      finish(tx, step.abort);
      break;
    }
    case "updateCompiled": {
      const c = step.col % cols.length;
      const col = cols[c]!;
      let set: UpdateSet;
      if (col.type === "int2" || col.type === "int4") set = { [col.name]: { add: step.n - 25 } };
      else if (col.type === "int8") set = { [col.name]: { add: BigInt(step.n) } };
      else
        set = {
          [col.name]: {
            value: col.notNull || step.n % 3 !== 0 ? sampleValue(col.type, step.n, 3) : null,
          },
        };
      const tx = db.begin();
      lockSome(tx, step.lockFirst);
      out.push(tx.updateAll("t", set, opts));
      finish(tx, step.abort);
      break;
    }
    case "deleteAll": {
      const tx = db.begin();
      lockSome(tx, step.lockFirst);
      out.push(tx.deleteAll("t", opts));
      finish(tx, step.abort);
      break;
    }
    case "insertThenUpdate": {
      // Rows this transaction inserted, then updated by it: combo command ids.
      const tx = db.begin();
      tx.insertMany("t", rows(step.first, step.count, step.width, 0));
      const intCol = cols.findIndex((c) => c.type === "int4" || c.type === "int2");
      out.push(
        intCol >= 0
          ? tx.updateAll("t", { [cols[intCol]!.name]: { add: 1 } }, opts)
          : tx.updateAll("t", (row) => row.slice(), opts),
      );
      out.push(tx.deleteAll("t", opts));
      tx.commit();
      break;
    }
    case "vacuum": {
      const r = db.vacuum("t");
      out.push(JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
      break;
    }
  }
}

/** The runs a variant with this share of RUNS gets. */
function runsOf(share: number): number {
  return Math.max(1, Math.round(RUNS * share));
}

/** The variants, and the share of RUNS each gets (a WAL run costs about five memory runs). */
const VARIANTS = [
  { name: "memory", variant: "memory", wal: false, share: 1 },
  { name: "disk", variant: "disk", wal: false, share: 0.5 },
  { name: "disk with WAL", variant: "disk", wal: true, share: 0.25 },
] as const;

describe("page-at-a-time updateAll / deleteAll leave the per-row path's bytes", () => {
  for (const v of VARIANTS) {
    it(
      `[${v.name}] random tables and statements: every page of main, FSM and VM${v.wal ? ", and every WAL record," : ""} byte-identical`,
      () => {
        let checkedPages = 0;
        const runs = runsOf(v.share);
        fc.assert(
          fc.property(scenarioArb, (s) => {
            // A disk-backed database logs by default; `wal: false` turns that off, and the WAL
            // variant logs to a test WAL whose records are compared.
            const extra = v.variant === "disk" ? { wal: v.wal } : {};
            // Memory-only: a pool that holds the largest scenarios (one row per page at
            // fillfactor 10, twice over after an UPDATE); disk-backed: a smaller one that evicts.
            const buffers = v.variant === "memory" ? 4096 : 512;
            const perRowDb = makeDb(v.variant, buffers, extra);
            const batchedDb = makeDb(v.variant, buffers, extra);
            let wals: TestWal[] = [];
            try {
              if (v.wal) wals = [enableWal([perRowDb]), enableWal([batchedDb])];
              const outA = runScenario(perRowDb, s, false);
              const outB = runScenario(batchedDb, s, true);
              expect(outB).toEqual(outA);
              const a = snapshotForks(perRowDb.pool, perRowDb.table("t").locator);
              const b = snapshotForks(batchedDb.pool, batchedDb.table("t").locator);
              expect(firstForkDifference(a, b, ["per row", "page at a time"])).toBeUndefined();
              checkedPages += a.main!.length;
              if (v.wal) {
                const ra = wals[0]!.records().map((r) => ({ lsn: r.lsn, bytes: r.bytes }));
                const rb = wals[1]!.records().map((r) => ({ lsn: r.lsn, bytes: r.bytes }));
                expect(rb.length).toBe(ra.length);
                expect(rb).toEqual(ra);
              }
            } finally {
              for (const w of wals) w.wal.close();
              perRowDb.close();
              batchedDb.close();
            }
          }),
          { numRuns: runs, seed: SEED, endOnFailure: true },
        );
        // The runs compared real tables, not empty ones.
        expect(checkedPages).toBeGreaterThan(runs);
      },
      60_000 + runsOf(v.share) * 3_000,
    );
  }

  it("[memory] the page-at-a-time path is the one taken by default: fewer buffer hits than per row", () => {
    const counts: number[] = [];
    for (const pageAtATime of [false, true]) {
      const db = makeDb("memory", 256);
      db.createTable("t", [
        { name: "a", type: "int4", notNull: true },
        { name: "b", type: "int4", notNull: true },
      ]);
      const tx = db.begin();
      tx.insertMany(
        "t",
        Array.from({ length: 2000 }, (_, i) => [i, 0]),
      );
      tx.commit();
      const up = db.begin();
      expect(up.updateAll("t", { b: { add: 1 } }, { pageAtATime })).toBe(2000);
      counts.push(up.lastStatementBuffers().sharedBlksHit);
      up.commit();
      expect(
        db
          .begin()
          .scan("t")
          .every(({ row }) => row[1] === 1),
      ).toBe(true);
      db.close();
    }
    expect(counts[1]!).toBeLessThan(counts[0]! / 10);
  });
});
