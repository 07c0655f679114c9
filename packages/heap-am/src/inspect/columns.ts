/**
 * The `--columns` file of pgsim-inspect for a pgsim table: its tuple descriptor as the
 * pg_attribute rows (joined with pg_type's name) that tupleDescFromAttributeRows reads back.
 *
 * Models: what `SELECT ... FROM pg_attribute JOIN pg_type ...` returns for a PostgreSQL table
 * (README.md "pgsim-inspect" gives that query); pgsim keeps its catalog in memory, so this writes
 * the same rows from a TupleDesc.
 * Entry points: `pgAttributeRows`.
 * See also: ../tupdesc.ts (tupleDescFromAttributeRows, the reader), rows.ts, main.ts.
 */

import type { TupleDesc } from "../access/common/tupdesc.js";

/** One row of a `--columns` file (the keys tupleDescFromAttributeRows reads). */
export interface PgAttributeRow {
  readonly attnum: number;
  readonly name: string;
  readonly dropped: boolean;
  readonly typname: string | null;
  readonly attlen: number;
  readonly attbyval: boolean;
  readonly attalign: string;
  readonly attstorage: string;
  readonly atttypmod: number;
  readonly attnotnull: boolean;
  readonly atthasmissing: boolean;
  readonly attmissingval: string | null;
}

/** array_out's quoting of one element: quoted when empty, NULL-like, or holding specials. */
function arrayElement(text: string): string {
  if (text === "" || text.toUpperCase() === "NULL" || /[{},"\\\s]/.test(text)) {
    return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  }
  return text;
}

/**
 * The pg_attribute rows of a table's descriptor, dropped columns included, in attnum order:
 * write `JSON.stringify({ columns: pgAttributeRows(desc) })` to a file and pass it to
 * `pgsim-inspect rows FILE --columns` or `heap-page-items --columns`.
 *
 * @example
 * ```ts
 * writeFileSync("accounts.columns.json", JSON.stringify({ columns: pgAttributeRows(db.table("accounts").desc) }));
 * ```
 */
export function pgAttributeRows(desc: TupleDesc): PgAttributeRow[] {
  return desc.attrs.map((att) => ({
    attnum: att.attnum,
    name: att.attname,
    dropped: att.attisdropped,
    typname: att.typname,
    attlen: att.attlen,
    attbyval: att.attbyval,
    attalign: att.attalign,
    attstorage: att.attstorage,
    atttypmod: att.atttypmod,
    attnotnull: att.attnotnull,
    atthasmissing: att.atthasmissing,
    attmissingval:
      att.atthasmissing && att.codec !== null
        ? `{${att.attmissingval === null ? "NULL" : arrayElement(att.codec.output(att.attmissingval as never, att.atttypmod))}}`
        : null,
  }));
}
