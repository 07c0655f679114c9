/**
 * Test helper: one column of every supported data type, with typical and edge values in their JS
 * form, and the SQL text that makes a live PostgreSQL store the same values.
 *
 * Does: lists the 21 columns (20 types; numeric twice, with and without a typmod) in an order
 * that forces alignment padding, gives each a list of sample values (min/max, NaN/±Infinity,
 * empty and multibyte strings, varlenas past 126 bytes, BC dates, typmod rounding), and turns a
 * JS value into an SQL literal through pgsim's own text output.
 * Entry points: `ALL_TYPE_COLUMNS`, `sampleRows`, `columnDefinitions`, `sqlLiteral`,
 * `createTableSql`, `insertSql`, `pseudoRandomText`.
 * See also: pglite-pages.test.ts (PGlite, byte for byte), ../../../test/pg15-roundtrip.test.ts
 * (a real PostgreSQL 15 reads pgsim's file), ../src/types/ (the codecs).
 */

import type { ColumnDefinition } from "../src/access/common/tupdesc.js";
import { DATEVAL_NOBEGIN, DATEVAL_NOEND } from "../src/utils/adt/date.js";
import {
  DATE_END_DAYS,
  DATE_MIN_DAYS,
  END_TIMESTAMP,
  MIN_TIMESTAMP,
} from "../src/utils/adt/datetime.js";
import { resolveTypeName } from "../src/utils/adt/index.js";
import { INT64_MAX, INT64_MIN } from "../src/utils/adt/int.js";
import { DT_NOBEGIN, DT_NOEND } from "../src/utils/adt/timestamp.js";
import type { AttStorage, Datum } from "../src/utils/adt/type-codec.js";

/** A column of a test table: its SQL type, its pgsim definition, and sample values. */
export interface SampleColumn {
  readonly name: string;
  /** The type as written in CREATE TABLE (also what pgsim's `createTupleDesc` reads). */
  readonly sqlType: string;
  /** ALTER COLUMN ... SET STORAGE, when not the type's default. */
  readonly storage?: AttStorage;
  readonly values: readonly Datum[];
}

/** Deterministic bytes 0..255 (a linear congruential sequence), for bytea and long strings. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Deterministic lowercase letters and digits. */
export function pseudoRandomText(length: number, seed: number): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(pseudoRandomBytes(length, seed), (b) => alphabet[b % alphabet.length]).join("");
}

const US = 1_000_000n;

/**
 * Every supported type, in an order where each fixed-length column follows one of smaller
 * alignment (bool, then int8, "char", int2, float8, ...), so the tuples carry padding.
 */
export const ALL_TYPE_COLUMNS: readonly SampleColumn[] = [
  { name: "c_bool", sqlType: "bool", values: [true, false] },
  {
    name: "c_int8",
    sqlType: "int8",
    values: [0n, INT64_MIN, INT64_MAX, 1234567890123n, -1n],
  },
  { name: "c_qchar", sqlType: '"char"', values: [65, 0, 255, 128, 10, 92] },
  { name: "c_int2", sqlType: "int2", values: [0, -32768, 32767, 12345, -1] },
  {
    name: "c_float8",
    sqlType: "float8",
    values: [
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      0.1,
      -1234.5678,
      1e300,
    ],
  },
  {
    name: "c_text",
    sqlType: "text",
    values: [
      "",
      "a",
      "hello, world",
      "héllo wörld ✓ 日本語 😀",
      "tab\there\nnewline 'quote' \"dq\" back\\slash",
      "x".repeat(126),
      "y".repeat(127),
      pseudoRandomText(300, 7),
      "é".repeat(100),
    ],
  },
  { name: "c_int4", sqlType: "int4", values: [0, -2147483648, 2147483647, 42, -7] },
  {
    name: "c_time",
    sqlType: "time",
    values: [0n, 86_400n * US, 45_296_789_012n, 1n, 86_399n * US + 999_999n],
  },
  {
    name: "c_name",
    sqlType: "name",
    values: ["", "pg_class", "x".repeat(63), "é".repeat(40), "名前"],
  },
  {
    name: "c_numeric",
    sqlType: "numeric",
    values: [
      "0",
      "0.000",
      "-1.500",
      "100.00",
      "NaN",
      "Infinity",
      "-Infinity",
      `1${"0".repeat(30)}`,
      "0.000001",
      "123456789012345678901234567890.123456789012345678901",
      `0.${"0".repeat(69)}1`,
      `9${"8".repeat(261)}`,
    ],
  },
  {
    name: "c_interval",
    sqlType: "interval",
    values: [
      { months: 0, days: 0, microseconds: 0n },
      { months: 14, days: 3, microseconds: 14_706_789_000n },
      { months: -1, days: 2, microseconds: -1_000_000n },
      { months: 2147483647, days: 0, microseconds: 0n },
      { months: 0, days: -2147483648, microseconds: 0n },
      { months: 0, days: 0, microseconds: INT64_MAX - 1n },
    ],
  },
  {
    name: "c_bytea",
    sqlType: "bytea",
    values: [new Uint8Array(0), Uint8Array.of(0, 1, 255), pseudoRandomBytes(200, 3)],
  },
  {
    name: "c_float4",
    sqlType: "float4",
    values: [
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      3.4028234663852886e38,
      1.401298464324817e-45,
      Math.fround(0.1),
      Math.fround(-486.20386),
    ],
  },
  {
    name: "c_timestamptz",
    sqlType: "timestamptz",
    values: [0n, DT_NOEND, DT_NOBEGIN, MIN_TIMESTAMP, END_TIMESTAMP - 1n, -63_113_904_000n * US],
  },
  {
    name: "c_varchar",
    sqlType: "varchar(40)",
    values: ["", "abc", "ä".repeat(40), "trailing  ", "😀"],
  },
  {
    name: "c_date",
    sqlType: "date",
    values: [0, DATEVAL_NOEND, DATEVAL_NOBEGIN, DATE_MIN_DAYS, DATE_END_DAYS - 1, -730_485, 8_766],
  },
  {
    name: "c_uuid",
    sqlType: "uuid",
    values: [
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ],
  },
  {
    name: "c_numeric_ps",
    sqlType: "numeric(12,4)",
    values: ["1.23456", "-99999999.9999", "0", "NaN", "100.5", "0.00005"],
  },
  {
    name: "c_timestamp",
    sqlType: "timestamp",
    values: [0n, DT_NOEND, DT_NOBEGIN, MIN_TIMESTAMP, END_TIMESTAMP - 1n, 739_000_123_456_789n],
  },
  { name: "c_bpchar", sqlType: "char(12)", values: ["", "ab", "abcdefghijkl", "ü  ", "日本"] },
  { name: "c_oid", sqlType: "oid", values: [0, 4294967295, 12345] },
];

/**
 * `count` rows over `columns`: row i takes value i mod n of each column's n samples, so every
 * sample appears and the combinations vary.
 */
export function sampleRows(columns: readonly SampleColumn[], count: number): Datum[][] {
  return Array.from({ length: count }, (_, i) =>
    columns.map((c) => c.values[i % c.values.length] as Datum),
  );
}

/** The pgsim column definitions of `columns`. */
export function columnDefinitions(columns: readonly SampleColumn[]): ColumnDefinition[] {
  return columns.map((c) => ({
    name: c.name,
    type: c.sqlType,
    ...(c.storage === undefined ? {} : { storage: c.storage }),
  }));
}

/**
 * The SQL literal for a value: pgsim's text output of the value before the column's type
 * modifier applies (so PostgreSQL applies the typmod itself: numeric(12,4) rounds, char(n)
 * pads), quoted as an untyped string literal that the column's input function reads.
 */
export function sqlLiteral(sqlType: string, value: Datum | null): string {
  if (value === null) return "NULL";
  const { codec } = resolveTypeName(sqlType);
  const text = codec.output(codec.coerce(value, -1) as never, -1);
  return `'${text.replaceAll("'", "''")}'`;
}

/** CREATE TABLE (plus SET STORAGE for columns that ask for it). */
export function createTableSql(table: string, columns: readonly SampleColumn[]): string {
  const defs = columns.map((c) => `${c.name} ${c.sqlType}`).join(", ");
  const storage = columns
    .filter((c) => c.storage !== undefined)
    .map((c) => `ALTER TABLE ${table} ALTER COLUMN ${c.name} SET STORAGE ${storageName(c)};`);
  return [`CREATE TABLE ${table} (${defs});`, ...storage].join("\n");
}

function storageName(c: SampleColumn): string {
  const names: Record<AttStorage, string> = { p: "PLAIN", m: "MAIN", e: "EXTERNAL", x: "EXTENDED" };
  return names[c.storage ?? "x"];
}

/** One INSERT statement for the given rows (several rows: one multi-row INSERT). */
export function insertSql(
  table: string,
  columns: readonly SampleColumn[],
  rows: readonly (readonly (Datum | null)[])[],
): string {
  const tuples = rows.map(
    (row) => `(${columns.map((c, i) => sqlLiteral(c.sqlType, row[i] ?? null)).join(", ")})`,
  );
  return `INSERT INTO ${table} VALUES ${tuples.join(", ")}`;
}
