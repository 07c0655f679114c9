/**
 * The byte-identity proof of the columnar INSERT (issue 15): random tables and random statements
 * run twice, once with `insertBatches` given rows (heap_multi_insert of formed tuples, the path
 * PostgreSQL's COPY takes) and once given the same rows column by column — typed arrays where a
 * column allows them, so that the heap forms the tuples straight into the pages — and every page
 * of every fork (main, free space map, visibility map) must end byte for byte the same; with WAL
 * on, so must every WAL record. Both variants (memory-only; disk-backed, with and without WAL).
 *
 * Seeded: FC_SEED (default fixed) and IDENTITY_RUNS (runs of the memory-only variant; default
 * small enough for CI, e.g. IDENTITY_RUNS=500 for a long run).
 *
 * Models: pgsim only (a property test of heapam-multi-insert.ts).
 */

import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { columnBatchIsDirect } from "../src/access/heap/heapam-multi-insert.js";
import type { ColumnBatch, ColumnValues, Database, Row } from "../src/index.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";
import { ALL_TYPE_COLUMNS, sampleRows } from "./pg-type-samples.js";
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

const RUNS = Number(process.env.IDENTITY_RUNS ?? 30);
const SEED = Number(process.env.FC_SEED ?? 20261203);

/** The types the direct form takes (each with its typed array), then others. */
const DIRECT_TYPES = ["int2", "int4", "int8", "float4", "float8"] as const;
const OTHER_TYPES = ["bool", "text", "varchar(40)", "date", "numeric"] as const;
type ColType = (typeof DIRECT_TYPES)[number] | (typeof OTHER_TYPES)[number];

interface Column {
  name: string;
  type: ColType;
  notNull: boolean;
}

/** A value of a column's type from a generated number (deterministic), special values included. */
function sampleValue(type: ColType, n: number, width: number): Row[number] {
  switch (type) {
    case "int2":
      return n % 7 === 0 ? -32768 : (n % 60_000) - 30_000;
    case "int4":
      return n % 11 === 0 ? 2147483647 : n * 7919 - 500_000;
    case "int8":
      return n % 13 === 0 ? -(2n ** 63n) : BigInt(n) * 1_000_003n - 7n;
    case "float4":
      return n % 9 === 0 ? Number.NaN : Math.fround(n / 3 - 100.25);
    case "float8":
      return n % 9 === 0 ? Number.NaN : n % 10 === 1 ? -0 : n / 7 - 3.5;
    case "bool":
      return n % 2 === 0;
    case "text":
      return "t".repeat((n * 37) % (width + 1)) + String(n);
    case "varchar(40)":
      return `v${n}`.slice(0, 40);
    case "date":
      return `2026-${String((n % 12) + 1).padStart(2, "0")}-01`;
    case "numeric":
      return String(n / 4);
  }
}

/** The typed array a direct-type column's values go into. */
function typedColumn(type: ColType, values: Row): ColumnValues | undefined {
  switch (type) {
    case "int2":
      return Int16Array.from(values as number[]);
    case "int4":
      return Int32Array.from(values as number[]);
    case "int8":
      return BigInt64Array.from(values as bigint[]);
    case "float4":
      return Float32Array.from(values as number[]);
    case "float8":
      return Float64Array.from(values as number[]);
    default:
      return undefined;
  }
}

/** One statement (or short transaction) of a scenario. */
type Step =
  | {
      kind: "insert";
      first: number;
      count: number;
      batchRows: number;
      width: number;
      /** Bit c set: column c gets NULLs (every third row) when it is nullable. */
      nulls: number;
      /** Give direct-type columns as plain arrays instead of typed arrays. */
      plain: boolean;
      abort: boolean;
    }
  | { kind: "deleteSome"; every: number; abort: boolean }
  | { kind: "updateSome"; every: number }
  | { kind: "vacuum" };

interface Scenario {
  cols: Column[];
  fillfactor: number;
  steps: Step[];
}

const colArb = (types: readonly ColType[]): fc.Arbitrary<Column> =>
  fc
    .record({ type: fc.constantFrom(...types), notNull: fc.boolean() })
    .map((c) => ({ name: "", ...c }));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      first: fc.nat(10_000),
      count: fc.integer({ min: 1, max: 900 }),
      batchRows: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 100, max: 1000 })),
      width: fc.integer({ min: 0, max: 400 }),
      nulls: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.nat(63) },
      ),
      plain: fc.oneof(
        { weight: 3, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
      abort: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("deleteSome" as const),
      every: fc.integer({ min: 1, max: 5 }),
      abort: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("updateSome" as const),
      every: fc.integer({ min: 2, max: 5 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: "vacuum" as const }) },
);

/** Two tables in three have only direct-type columns, so that the direct form runs often. */
const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    cols: fc.oneof(
      { weight: 2, arbitrary: fc.array(colArb(DIRECT_TYPES), { minLength: 1, maxLength: 6 }) },
      {
        weight: 1,
        arbitrary: fc.array(colArb([...DIRECT_TYPES, ...OTHER_TYPES]), {
          minLength: 1,
          maxLength: 6,
        }),
      },
    ),
    fillfactor: fc.oneof(fc.constant(100), fc.integer({ min: 10, max: 100 })),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 8 }),
  })
  .map(({ cols, fillfactor, steps }) => ({
    cols: cols.map((c, i) => ({ ...c, name: `c${i}` })),
    fillfactor,
    steps,
  }));

type Outcome = (number | string)[];

/** Rows inserted through column batches, and those of them the heap formed in the page. */
interface Counts {
  direct: number;
  rows: number;
}

function runScenario(db: Database, s: Scenario, columnar: boolean, counts: Counts): Outcome {
  const out: Outcome = [];
  const cols = s.cols;
  db.createTable(
    "t",
    cols.map((c) => ({ name: c.name, type: c.type, notNull: c.notNull })),
    { fillfactor: s.fillfactor },
  );
  for (const step of s.steps) {
    try {
      runStep(db, cols, step, columnar, counts, out);
    } catch (e) {
      out.push(`error: ${(e as { code?: string }).code ?? String(e)}`);
    }
  }
  return out;
}

function rowsOf(
  cols: readonly Column[],
  step: Step & { kind: "insert" },
  first: number,
  count: number,
): Row[] {
  return Array.from({ length: count }, (_, k) => {
    const n = step.first + first + k;
    return cols.map((c, i) =>
      ((step.nulls >> i) & 1) === 1 && !c.notNull && n % 3 === 0
        ? null
        : sampleValue(c.type, n + i, step.width),
    );
  });
}

function columnsOf(cols: readonly Column[], rows: readonly Row[], plain: boolean): ColumnBatch {
  return {
    columns: cols.map((c, i) => {
      const values = rows.map((r) => r[i] ?? null);
      if (!plain && !values.includes(null)) return typedColumn(c.type, values) ?? values;
      return values;
    }),
  };
}

function runStep(
  db: Database,
  cols: readonly Column[],
  step: Step,
  columnar: boolean,
  counts: Counts,
  out: Outcome,
): void {
  switch (step.kind) {
    case "insert": {
      const tx = db.begin();
      const n = tx.insertBatches(
        "t",
        step.count,
        (first, count) => {
          const rows = rowsOf(cols, step, first, count);
          if (!columnar) return rows;
          const batch = columnsOf(cols, rows, step.plain);
          counts.rows += count;
          if (columnBatchIsDirect(db.table("t").desc, batch)) counts.direct += count;
          return batch;
        },
        { batchRows: step.batchRows },
      );
      out.push(n);
      if (step.abort) tx.abort();
      else tx.commit();
      break;
    }
    case "deleteSome": {
      const tx = db.begin();
      let n = 0;
      tx.scan("t").forEach(({ tid }, i) => {
        if (i % step.every === 0) {
          tx.delete("t", tid);
          n++;
        }
      });
      out.push(n);
      if (step.abort) tx.abort();
      else tx.commit();
      break;
    }
    case "updateSome": {
      const tx = db.begin();
      tx.scan("t").forEach(({ tid, row }, i) => {
        if (i % step.every === 0) tx.update("t", tid, () => row);
      });
      tx.commit();
      break;
    }
    case "vacuum":
      out.push(JSON.stringify(db.vacuum("t")));
      break;
  }
}

const VARIANTS = [
  { name: "memory", variant: "memory", wal: false, share: 1 },
  { name: "disk", variant: "disk", wal: false, share: 0.5 },
  { name: "disk with WAL", variant: "disk", wal: true, share: 0.3 },
] as const;
type Variant = (typeof VARIANTS)[number];

/**
 * Runs the scenario with rows and with columns on two new databases of the variant and checks
 * that they end byte-identical (and log the same WAL records); returns the main fork's blocks.
 */
function compareForms(v: Variant, s: Scenario, counts: Counts): number {
  const extra = v.variant === "disk" ? { wal: v.wal } : {};
  const buffers = v.variant === "memory" ? 4096 : 256;
  const rowsDb = makeDb(v.variant, buffers, extra);
  const columnsDb = makeDb(v.variant, buffers, extra);
  let wals: TestWal[] = [];
  try {
    if (v.wal) wals = [enableWal([rowsDb]), enableWal([columnsDb])];
    const outA = runScenario(rowsDb, s, false, { direct: 0, rows: 0 });
    const outB = runScenario(columnsDb, s, true, counts);
    expect(outB).toEqual(outA);
    const a = snapshotForks(rowsDb.pool, rowsDb.table("t").locator);
    const b = snapshotForks(columnsDb.pool, columnsDb.table("t").locator);
    expect(firstForkDifference(a, b, ["rows", "columns"])).toBeUndefined();
    if (v.wal) {
      const ra = wals[0]!.records().map((r) => ({ lsn: r.lsn, bytes: r.bytes }));
      const rb = wals[1]!.records().map((r) => ({ lsn: r.lsn, bytes: r.bytes }));
      expect(rb.length).toBe(ra.length);
      expect(rb).toEqual(ra);
    }
    return a.main!.length;
  } finally {
    for (const w of wals) w.wal.close();
    rowsDb.close();
    columnsDb.close();
  }
}

describe("insertBatches given columns leaves the row form's bytes", () => {
  for (const v of VARIANTS) {
    const runs = Math.max(1, Math.round(RUNS * v.share));
    it(
      `[${v.name}] random tables and batches: every page of main, FSM and VM${v.wal ? ", and every WAL record," : ""} byte-identical`,
      () => {
        let checkedPages = 0;
        const counts: Counts = { direct: 0, rows: 0 };
        fc.assert(
          fc.property(scenarioArb, (s) => {
            checkedPages += compareForms(v, s, counts);
          }),
          { numRuns: runs, seed: SEED, endOnFailure: true },
        );
        // The runs compared real tables, and the direct form (tuples formed in the page) ran for
        // many of their rows, but not for all.
        expect(checkedPages).toBeGreaterThan(runs);
        expect(counts.direct).toBeGreaterThan(counts.rows / 4);
        expect(counts.direct).toBeLessThan(counts.rows);
      },
      60_000 + runs * 3_000,
    );
  }

  it("[memory, disk with WAL] fillfactor edges: a page whose free space is exactly the next tuple plus the reserve", () => {
    // Tuples of 24 + 8n bytes (n bigint columns, or two integers for 32); PageGetHeapFreeSpace
    // after k tuples is 8164 - (len + 4)k, which equals len + the fillfactor reserve for these.
    const edges: [cols: ColType[], fillfactor: number][] = [
      [["int4", "int4"], 35],
      [["int4", "int4"], 75],
      [["int8", "int8"], 25],
      [["int8", "int8"], 54],
      [["int8", "int8"], 83],
      [["int8", "int8", "int8"], 79],
      [["int8", "int8", "int8", "int8"], 12],
      [["int8", "int8", "int8", "int8", "int8"], 31],
      [["int8", "int8", "int8", "int8", "int8", "int8"], 81],
    ];
    const counts: Counts = { direct: 0, rows: 0 };
    for (const [types, fillfactor] of edges) {
      const s: Scenario = {
        cols: types.map((type, i) => ({ name: `c${i}`, type, notNull: true })),
        fillfactor,
        steps: [
          {
            kind: "insert",
            first: 0,
            count: 700,
            batchRows: 700,
            width: 0,
            nulls: 0,
            plain: false,
            abort: false,
          },
        ],
      };
      expect(compareForms(VARIANTS[0], s, counts)).toBeGreaterThan(2);
      if (fillfactor === 35) compareForms(VARIANTS[2], s, counts);
    }
    expect(counts.direct).toBe(counts.rows);
  });

  it("[memory, disk with WAL] pages VACUUM left unused line pointers on: reused first, then appended", () => {
    const insert = (first: number, count: number): Step => ({
      kind: "insert",
      first,
      count,
      batchRows: 1000,
      width: 0,
      nulls: 0,
      plain: false,
      abort: false,
    });
    const s: Scenario = {
      cols: [
        { name: "a", type: "int4", notNull: true },
        { name: "b", type: "int8", notNull: true },
        { name: "c", type: "int2", notNull: false },
      ],
      fillfactor: 90,
      steps: [
        insert(0, 2000),
        { kind: "deleteSome", every: 3, abort: false },
        { kind: "vacuum" },
        insert(5000, 1500),
      ],
    };
    const counts: Counts = { direct: 0, rows: 0 };
    expect(compareForms(VARIANTS[0], s, counts)).toBeGreaterThan(5);
    compareForms(VARIANTS[2], s, counts);
    expect(counts.direct).toBe(counts.rows);
  });
});

describe("insertBatches given columns: every data type", () => {
  it("[memory, disk with WAL] a column of every supported type, edge values and NULLs: the row form's pages and WAL", () => {
    // pg-type-samples' 21 columns (min / max, NaN, ±Infinity, multibyte and long strings, BC
    // dates, typmod rounding), every third value of each column NULL in turn.
    const cols = ALL_TYPE_COLUMNS.filter((c) => c.storage === undefined);
    const rows: Row[] = sampleRows(cols, 400).map((r, i) =>
      r.map((v, c) => ((i + c) % 3 === 0 ? null : v)),
    );
    for (const v of [VARIANTS[0], VARIANTS[2]]) {
      const pages: Record<string, Uint8Array[]>[] = [];
      const wals: TestWal[] = [];
      const dbs = [0, 1].map(() =>
        makeDb(v.variant, 256, v.variant === "disk" ? { wal: v.wal } : {}),
      );
      try {
        for (const [k, db] of dbs.entries()) {
          if (v.wal) wals.push(enableWal([db]));
          db.createTable(
            "t",
            cols.map((c) => ({ name: c.name, type: c.sqlType })),
          );
          const tx = db.begin();
          tx.insertBatches(
            "t",
            rows.length,
            (first, count) => {
              const batch = rows.slice(first, first + count);
              return k === 0 ? batch : { columns: cols.map((_, c) => batch.map((r) => r[c]!)) };
            },
            { batchRows: 64 },
          );
          tx.commit();
          pages.push(snapshotForks(db.pool, db.table("t").locator));
        }
        expect(pages[0]!.main!.length).toBeGreaterThan(3);
        expect(firstForkDifference(pages[0]!, pages[1]!, ["rows", "columns"])).toBeUndefined();
        if (v.wal) {
          const [ra, rb] = wals.map((w) => w.records().map((r) => r.bytes));
          expect(rb).toEqual(ra);
        }
        expect(
          dbs[1]!
            .begin()
            .scan("t")
            .map(({ row }) => row),
        ).toEqual(
          dbs[0]!
            .begin()
            .scan("t")
            .map(({ row }) => row),
        );
      } finally {
        for (const w of wals) w.wal.close();
        for (const db of dbs) db.close();
      }
    }
  });
});

describe("insertBatches given columns: bad batches", () => {
  function table(): Database {
    const db = makeDb("memory", 64);
    db.createTable("t", [
      { name: "a", type: "int4", notNull: true },
      { name: "b", type: "int2" },
    ]);
    return db;
  }

  /** The error of one insertBatches statement (in its own transaction, then aborted). */
  function errorOf(db: Database, makeBatch: () => ColumnBatch): unknown {
    const tx = db.begin();
    try {
      tx.insertBatches("t", 3, makeBatch);
    } catch (e) {
      return e;
    } finally {
      tx.abort();
    }
    return undefined;
  }

  it("rejects a batch with the wrong number of columns or values, before writing anything", () => {
    const db = table();
    expect(errorOf(db, () => ({ columns: [new Int32Array(3)] }))).toMatchObject({
      code: "wrong-column-count",
      message: 'table "t" has 2 columns, but 1 columns of values were given',
    });
    expect(errorOf(db, () => ({ columns: [new Int32Array(3), new Int16Array(2)] }))).toMatchObject({
      code: "invalid-parameter",
      message: "makeBatch(0, 3): column 2 must hold 3 values, got 2",
    });
    expect(
      errorOf(db, () => ({ columns: [new Int32Array(3), "abc"] }) as unknown as ColumnBatch),
    ).toMatchObject({ message: "makeBatch(0, 3): column 2 must hold 3 values, got string" });
    expect(errorOf(db, () => 7 as unknown as ColumnBatch)).toMatchObject({
      message: "makeBatch(0, 3) must return 3 rows or { columns }, got number",
    });
    expect(db.nblocks("t")).toBe(0);
    db.close();
  });

  it("checks values as the row form does: NULL in a NOT NULL column, out of range", () => {
    const db = table();
    expect(errorOf(db, () => ({ columns: [[1, null, 2], new Int16Array(3)] }))).toMatchObject({
      code: "not-null-violation",
    });
    expect(
      errorOf(db, () => ({ columns: [new Int32Array(3), new Int32Array([1, 70000, 2])] })),
    ).toMatchObject({ message: expect.stringMatching(/smallint out of range/) });
    expect(db.nblocks("t")).toBe(0);
    const ok = db.begin();
    expect(ok.insertBatches("t", 2, () => ({ columns: [new Int32Array([5, 6]), [null, 7]] }))).toBe(
      2,
    );
    ok.commit();
    expect(
      db
        .begin()
        .scan("t")
        .map(({ row }) => row),
    ).toEqual([
      [5, null],
      [6, 7],
    ]);
    db.close();
  });
});
