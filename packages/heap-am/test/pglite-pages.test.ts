// Live oracle for the heap page format: the same rows inserted into a fresh table give the same
// page in pgsim as in PostgreSQL, byte for byte except pd_lsn, pd_checksum and each tuple's t_xmin
// and t_field3 (cmin). PostgreSQL here is PGlite (PostgreSQL 18.6 compiled to WebAssembly, one
// instance for the file); its page comes from pageinspect's get_raw_page. Covered: every
// supported type with typical and edge values, one INSERT per row and one multi-row INSERT, NULL
// patterns (none, all, column 1 / 8 / 9 / last, more than 8 and more than 72 columns), tuple
// widths up to MaxHeapTupleSize over several pages, 291 line pointers on a page, and the
// "row is too big" error one byte past the limit.
//
// Hint bits: nothing reads the test tables before get_raw_page (no SELECT, no heap_page_items),
// so no tuple gets XMIN_COMMITTED; the infomask is compared unmasked, hint bits included.
//
// PostgreSQL 18 vs 15: nothing in the heap page or tuple layout changed between them, and no
// byte here differs for a reason traceable to the version. PGlite is a 32-bit build, which changes
// only whether int8/float8/timestamp Datums are passed by value in memory, not how they are
// stored: MAXALIGN is 8 and typalign 'd' aligns to 8 there as on x86-64 (the tests would show any
// difference in padding).

import { PGlite } from "@electric-sql/pglite";
import { pageinspect } from "@electric-sql/pglite/contrib/pageinspect";
import { PgsimError } from "@pgsim/clock-sweep";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { heapFormTuple } from "../src/access/common/heaptuple.js";
import { createTupleDesc, tupleDescWithTypeStorage } from "../src/access/common/tupdesc.js";
import {
  BLCKSZ,
  MaxHeapTupleSize,
  MaxHeapTuplesPerPage,
} from "../src/include/access/htup-details.js";
import { pageGetMaxOffsetNumber } from "../src/storage/page/bufpage.js";
import { resolveTypeName, TYPE_CODECS } from "../src/utils/adt/index.js";
import type { Datum } from "../src/utils/adt/type-codec.js";
import {
  buildHeapPages,
  describePageDifferences,
  maskPage,
  tupleField3s,
  tupleXmins,
} from "./heap-page-builder.js";
import {
  ALL_TYPE_COLUMNS,
  columnDefinitions,
  createTableSql,
  insertSql,
  pseudoRandomText,
  type SampleColumn,
  sampleRows,
} from "./pg-type-samples.js";

type Row = readonly (Datum | null)[];

let db: PGlite;
let tableCount = 0;

beforeAll(async () => {
  db = await PGlite.create({ extensions: { pageinspect } });
  await db.exec(`
    CREATE EXTENSION pageinspect;
    SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres';
  `);
});

afterAll(async () => {
  await db?.close();
});

/** The main fork of `table`, page by page, as PostgreSQL holds it. */
async function rawPages(table: string): Promise<Uint8Array[]> {
  const size = await db.query<{ n: number }>(
    `SELECT (pg_relation_size('${table}') / ${BLCKSZ})::int AS n`,
  );
  const blocks = size.rows[0]?.n ?? 0;
  const pages: Uint8Array[] = [];
  for (let blk = 0; blk < blocks; blk++) {
    const r = await db.query<{ p: Uint8Array }>(`SELECT get_raw_page('${table}', ${blk}) AS p`);
    const page = r.rows[0]?.p;
    if (page === undefined || page.length !== BLCKSZ) throw new Error(`no page ${blk}`);
    pages.push(page);
  }
  return pages;
}

interface CaseResult {
  postgres: Uint8Array[];
  pgsim: Uint8Array[];
}

/**
 * Creates a fresh table of `columns` in PGlite, runs each statement (an array of rows: one
 * INSERT, its own transaction), and builds the same table in pgsim.
 */
async function insertBoth(
  columns: readonly SampleColumn[],
  statements: readonly (readonly Row[])[],
): Promise<CaseResult> {
  const table = `t${++tableCount}`;
  await db.exec(createTableSql(table, columns));
  for (const rows of statements) await db.exec(insertSql(table, columns, rows));
  const postgres = await rawPages(table);
  const pgsim = buildHeapPages(createTupleDesc(columnDefinitions(columns)), statements);
  return { postgres, pgsim };
}

/**
 * The comparison every case makes: the same number of pages, each equal after masking; the
 * masked fields hold what PostgreSQL sets (cmin 0; one xmin per statement, increasing).
 */
function expectSamePages(result: CaseResult, statements: readonly (readonly Row[])[]): void {
  const { postgres, pgsim } = result;
  expect(postgres.length, "page count").toBe(pgsim.length);
  postgres.forEach((page, blk) => {
    const differences = describePageDifferences(maskPage(page), maskPage(pgsim[blk]!));
    expect(differences, `block ${blk}`).toEqual([]);
  });
  // What the mask hid: each statement's rows share one xmin, later statements have later xids.
  const xmins = postgres.flatMap(tupleXmins);
  expect(xmins).toHaveLength(statements.reduce((n, rows) => n + rows.length, 0));
  let at = 0;
  let previous = 0;
  for (const rows of statements) {
    const mine = xmins.slice(at, at + rows.length);
    expect(new Set(mine).size, "one xmin per INSERT").toBe(1);
    expect(mine[0]!, "xids increase").toBeGreaterThan(previous);
    previous = mine[0]!;
    at += rows.length;
  }
  // Each INSERT is its transaction's first command: cmin 0 everywhere.
  expect(new Set(postgres.flatMap(tupleField3s))).toEqual(new Set([0]));
}

const ONE_ROW_PER_INSERT = (rows: readonly Row[]) => rows.map((row) => [row]);

describe("every supported type, byte for byte against PostgreSQL (PGlite)", () => {
  const rows = sampleRows(ALL_TYPE_COLUMNS, 12);

  it("covers every type pgsim supports (20)", () => {
    const typnames = new Set(ALL_TYPE_COLUMNS.map((c) => resolveTypeName(c.sqlType).codec.typname));
    expect([...typnames].sort()).toEqual([...TYPE_CODECS.keys()].sort());
    expect(typnames.size).toBe(20);
  });

  it("typical and edge values, one INSERT (one transaction) per row", async () => {
    const statements = ONE_ROW_PER_INSERT(rows);
    expectSamePages(await insertBoth(ALL_TYPE_COLUMNS, statements), statements);
  });

  it("the same rows in one multi-row INSERT", async () => {
    const statements = [rows];
    expectSamePages(await insertBoth(ALL_TYPE_COLUMNS, statements), statements);
  });

  // Each type alone, so that a difference points at one type, and each of its samples is
  // inserted once (including the ones the shared rows above cycle past).
  it.each(ALL_TYPE_COLUMNS.map((c) => [c.sqlType, c] as const))("%s alone", async (_t, column) => {
    const statements = [column.values.map((v) => [v])];
    expectSamePages(await insertBoth([column], statements), statements);
  });
});

describe("NULL patterns", () => {
  const n = ALL_TYPE_COLUMNS.length;
  const full = sampleRows(ALL_TYPE_COLUMNS, 3);
  const base = full[1]!;
  const nullAt = (...cols: number[]) => base.map((v, i) => (cols.includes(i + 1) ? null : v));
  const patterns: [string, Row][] = [
    ["no NULLs (no bitmap, t_hoff 24)", full[2]!],
    ["all NULL (empty data area)", base.map(() => null)],
    ["NULL in column 1", nullAt(1)],
    ["NULL in column 8", nullAt(8)],
    ["NULL in column 9", nullAt(9)],
    [`NULL in the last column (${n})`, nullAt(n)],
    ["NULL in columns 1 to 8", nullAt(1, 2, 3, 4, 5, 6, 7, 8)],
    ["every other column NULL", base.map((v, i) => (i % 2 === 0 ? null : v))],
    ["every third column NULL", base.map((v, i) => (i % 3 === 1 ? null : v))],
  ];

  it.each(patterns)("%s, 21 columns (3-byte bitmap)", async (_name, row) => {
    const statements = [[full[0]!], [row], [full[2]!]];
    expectSamePages(await insertBoth(ALL_TYPE_COLUMNS, statements), statements);
  });

  it("80 columns: t_hoff 40 with a 10-byte bitmap, 24 without", async () => {
    const columns: SampleColumn[] = Array.from({ length: 80 }, (_, i) => ({
      name: `c${i + 1}`,
      sqlType: i % 3 === 0 ? "int2" : i % 3 === 1 ? "text" : "int8",
      values: [],
    }));
    const value = (i: number, seed: number): Datum =>
      i % 3 === 0
        ? (i * seed) % 30000
        : i % 3 === 1
          ? pseudoRandomText(i % 7, seed + i)
          : BigInt(i);
    const complete = columns.map((_, i) => value(i, 1));
    const statements: Row[][] = [
      [complete],
      [columns.map((_, i) => (i === 79 ? null : value(i, 2)))],
      [columns.map((_, i) => (i >= 72 ? null : value(i, 3)))],
      [columns.map(() => null)],
      [columns.map((_, i) => (i % 9 === 0 ? null : value(i, 4)))],
    ];
    const result = await insertBoth(columns, statements);
    expectSamePages(result, statements);
    const hoffs = tupleHoffs(result.postgres[0]!);
    expect(hoffs).toEqual([24, 40, 40, 40, 40]);
  });
});

/** t_hoff of each tuple on a page, in line pointer order. */
function tupleHoffs(page: Uint8Array): number[] {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return Array.from({ length: pageGetMaxOffsetNumber(page) }, (_, i) => {
    const lpOff = view.getUint32(24 + 4 * i, true) & 0x7fff;
    return page[lpOff + 22] ?? 0;
  });
}

describe("tuple widths up to the limit", () => {
  // (id int4, pad text STORAGE PLAIN): PLAIN keeps PostgreSQL from compressing or moving the
  // value out of line, so every width is stored inline. The data starts at 24, id takes 24..27,
  // pad's 4-byte header 28..31: a pad of 8128 bytes makes the tuple exactly MaxHeapTupleSize.
  const WIDE: readonly SampleColumn[] = [
    { name: "id", sqlType: "int4", values: [] },
    { name: "pad", sqlType: "text", storage: "p", values: [] },
  ];
  const widestPad = MaxHeapTupleSize - 32;
  const wideDesc = tupleDescWithTypeStorage(createTupleDesc(columnDefinitions(WIDE)));

  it(`a pad of ${widestPad} bytes makes a tuple of exactly ${MaxHeapTupleSize} bytes`, () => {
    expect(heapFormTuple(wideDesc, [1, "x".repeat(widestPad)]).length).toBe(MaxHeapTupleSize);
  });

  it("widths 24 to 8160 bytes in size order, over several pages, one multi-row INSERT", async () => {
    // Short pads in a PLAIN column still get 1-byte headers: INSERT forms tuples with the
    // type's storage (see tupleDescWithTypeStorage); 127 bytes and up take 4-byte headers.
    const pads = [
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      60,
      125,
      126,
      127,
      128,
      129,
      300,
      1000,
      2000,
      3000,
      4000,
      6000,
      7000,
      8000,
      8100,
      8127,
      widestPad,
      widestPad,
    ];
    const statements = [pads.map((len, i): Row => [i, pseudoRandomText(len, i)])];
    const result = await insertBoth(WIDE, statements);
    expectSamePages(result, statements);
    expect(result.postgres.length).toBeGreaterThanOrEqual(8);
  });

  it("a table whose row is the empty tuple: 291 line pointers fill page 0, the rest go to page 1", async () => {
    const columns: SampleColumn[] = [{ name: "a", sqlType: "int4", values: [] }];
    const statements = [Array.from({ length: 300 }, (): Row => [null])];
    const result = await insertBoth(columns, statements);
    expectSamePages(result, statements);
    expect(result.postgres.map(pageGetMaxOffsetNumber)).toEqual([MaxHeapTuplesPerPage, 9]);
  });

  it.each([widestPad + 1, 10_000])(
    "a pad of %i bytes: PostgreSQL and pgsim both reject the row as too big",
    async (padBytes) => {
      const table = `t${++tableCount}`;
      await db.exec(createTableSql(table, WIDE));
      const pad = pseudoRandomText(padBytes, 5);
      const postgresError = await db.exec(insertSql(table, WIDE, [[1, pad]])).then(
        () => undefined,
        (error: unknown) => error as { message: string; code?: string },
      );
      expect(postgresError?.code).toBe("54000"); // program_limit_exceeded
      let pgsimError: unknown;
      try {
        heapFormTuple(wideDesc, [1, pad]);
      } catch (error) {
        pgsimError = error;
      }
      expect(pgsimError).toBeInstanceOf(PgsimError);
      expect((pgsimError as PgsimError).code).toBe("row-too-big");
      // pgsim prints PostgreSQL's message, then says why it cannot store the row some other way.
      const size = 8 * Math.ceil((32 + padBytes) / 8);
      expect(postgresError?.message).toBe(`row is too big: size ${size}, maximum size 8160`);
      expect((pgsimError as PgsimError).message.startsWith(postgresError!.message)).toBe(true);
      expect(await rawPages(table)).toEqual([]);
    },
  );
});
