/**
 * The tables of a differential run and their values: column types (int2, int4, int8, text,
 * bool), fillfactor, the columns a B-tree index covers, random row values, and how one value is
 * written for PostgreSQL (an SQL literal, a COPY text field) and for pgsim (a Datum).
 *
 * Models: nothing in PostgreSQL (pgsim only): test data for the differential tester.
 * Entry points: `TableSpec`, `ColumnSpec`, `Value`, `randomTable`, `randomRow`, `sqlLiteral`,
 * `copyField`, `toDatum`, `outputText`, `createTableSql`.
 * See also: generate.ts, pg-side.ts, pgsim-side.ts.
 *
 * Rows stay below TOAST_TUPLE_THRESHOLD (about 2 kB): pgsim has no TOAST, so text is at most
 * ~1.8 kB per row in all. Indexes cover only integer and boolean columns, so a B-tree leaf page
 * never fills in a run and PostgreSQL's bottom-up index deletion (which visits heap pages and
 * sets hint bits) never runs; the index is never unique (a unique check visits the heap too).
 */

import type { Datum } from "@pgsim/heap-am";
import type { Rng } from "./random.js";

export type ColumnType = "int2" | "int4" | "int8" | "text" | "bool";

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly notNull: boolean;
}

export interface TableSpec {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
  /** 10..100. */
  readonly fillfactor: number;
  /** Columns of a (non-unique) B-tree index in PostgreSQL; pgsim's indexedColumns. */
  readonly indexed: readonly string[];
}

/** A column value: number for int2/int4, bigint for int8, string, boolean, or null. */
export type Value = number | bigint | string | boolean | null;

/** The most text one row carries in all (keeps the tuple below TOAST_TUPLE_THRESHOLD). */
export const MAX_ROW_TEXT = 1800;

const INT_RANGE: Record<"int2" | "int4", [number, number]> = {
  int2: [-32768, 32767],
  int4: [-2147483648, 2147483647],
};

/** Usual values of each integer type (edges are chosen separately). */
const INT_USUAL: Record<"int2" | "int4", [number, number]> = {
  int2: [-1000, 30000],
  int4: [-1000, 100000],
};

/** A random table: 1–5 columns, a fillfactor, sometimes an index on integer/boolean columns. */
export function randomTable(rng: Rng, name: string): TableSpec {
  const columns: ColumnSpec[] = [
    { name: "id", type: rng.chance(0.7) ? "int4" : "int8", notNull: rng.chance(0.5) },
  ];
  const extra = rng.int(0, 4);
  for (let i = 1; i <= extra; i++) {
    const type = rng.weighted<ColumnType>({ int2: 1, int4: 2, int8: 1, text: 4, bool: 1 });
    columns.push({ name: `c${i}`, type, notNull: rng.chance(0.2) });
  }
  const fillfactor = rng.chance(0.5)
    ? 100
    : rng.pick([10, 20, 30, 50, 60, 70, 75, 80, 90, 95, 100]);
  const indexable = columns.filter((c) => c.type !== "text").map((c) => c.name);
  const indexed: string[] = [];
  if (rng.chance(0.4)) {
    indexed.push(rng.pick(indexable));
    const second = rng.pick(indexable);
    if (rng.chance(0.3) && !indexed.includes(second)) indexed.push(second);
  }
  return { name, columns, fillfactor, indexed };
}

/** A random text length: mostly short, sometimes hundreds of bytes, rarely over a kilobyte. */
function textLength(rng: Rng, room: number): number {
  const kind = rng.weighted({ short: 6, medium: 3, long: 1 });
  const want =
    kind === "short" ? rng.int(0, 40) : kind === "medium" ? rng.int(100, 800) : rng.int(1000, 1800);
  return Math.max(0, Math.min(want, room));
}

/** A random value for one column (`room`: text bytes this row may still take). */
export function randomValue(rng: Rng, col: ColumnSpec, room: number): Value {
  if (!col.notNull && rng.chance(0.1)) return null;
  switch (col.type) {
    case "int2":
    case "int4": {
      const [lo, hi] = INT_RANGE[col.type];
      return rng.chance(0.1) ? rng.pick([lo, hi, 0, -1]) : rng.int(...INT_USUAL[col.type]);
    }
    case "int8":
      return rng.chance(0.1)
        ? rng.pick([-(2n ** 63n), 2n ** 63n - 1n, 0n])
        : BigInt(rng.int(-1000, 1_000_000)) * BigInt(rng.int(1, 100_000));
    case "bool":
      return rng.chance(0.5);
    case "text":
      return rng.letters(textLength(rng, room));
  }
}

/** Text bytes a row holds. */
export function rowText(values: readonly Value[]): number {
  return values.reduce<number>((s, v) => s + (typeof v === "string" ? v.length : 0), 0);
}

/** A random row. `id` is the row's id column value. */
export function randomRow(rng: Rng, table: TableSpec, id: number): Value[] {
  let room = MAX_ROW_TEXT;
  return table.columns.map((col, i) => {
    if (i === 0) return col.type === "int8" ? BigInt(id) : id;
    const v = randomValue(rng, col, room);
    if (typeof v === "string") room -= v.length;
    return v;
  });
}

/** The value as an SQL literal. */
export function sqlLiteral(value: Value, type: ColumnType): string {
  if (value === null) return "NULL";
  if (typeof value === "string") return `'${value.replaceAll("'", "''")}'`;
  if (typeof value === "boolean") return value ? "true" : "false";
  // A quoted literal: -9223372036854775808::int8 would negate an out-of-range constant.
  return type === "int8" ? `'${value}'::int8` : String(value);
}

/** The value as a COPY text-format field. */
export function copyField(value: Value): string {
  if (value === null) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  return String(value).replaceAll("\\", "\\\\");
}

/** The value as pgsim's Datum. */
export function toDatum(value: Value): Datum | null {
  return value as Datum | null;
}

/** PostgreSQL's text output of a value (what a SELECT returns), for comparing rows. */
export function outputText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? "t" : "f";
  return String(value);
}

/** CREATE TABLE (and CREATE INDEX) for PostgreSQL. */
export function createTableSql(table: TableSpec): string {
  const cols = table.columns
    .map((c) => `${c.name} ${c.type}${c.notNull ? " NOT NULL" : ""}`)
    .join(", ");
  let sql = `CREATE TABLE ${table.name} (${cols}) WITH (fillfactor = ${table.fillfactor}, autovacuum_enabled = off);`;
  if (table.indexed.length > 0) {
    sql += ` CREATE INDEX ${table.name}_idx ON ${table.name} (${table.indexed.join(", ")});`;
  }
  return sql;
}
