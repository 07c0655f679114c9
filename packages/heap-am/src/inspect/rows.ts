/**
 * pgsim-inspect rows: the rows of a heap fork file that a new snapshot sees, each value in
 * PostgreSQL's text output, like `SELECT ctid::text, * FROM t ORDER BY ctid` in psql.
 *
 * Models: a sequential scan in page mode (heapam.c heapgetpage: every LP_NORMAL tuple,
 * PD_ALL_VISIBLE pages taken whole, other tuples tested with HeapTupleSatisfiesMVCC) followed
 * by heap_deform_tuple and each type's output function.
 * Entry points: `inspectRows`.
 * See also: heap-page-items.ts (the raw items), clog.ts (visibility), heaptuple.ts (deform),
 * types/ (text output).
 *
 * Text output uses the fixtures' settings: DateStyle ISO, TimeZone UTC, extra_float_digits 1,
 * bytea_output hex, IntervalStyle postgres.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { heapDeformTuple } from "../access/common/heaptuple.js";
import { tupleDescFromAttributeRows } from "../access/common/tupdesc.js";
import { heapTupleVisibleToNewSnapshot } from "../access/heap/heapam-visibility.js";
import { BLCKSZ, MinHeapTupleSize } from "../include/access/htup-details.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsNormal,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsAllVisible,
} from "../storage/page/bufpage.js";
import { forkBlockCount, forkPage, selectBlocks, verifyPage } from "./blocks.js";

/** The visible rows: `columns` = ["ctid", ...column names], one text (or null) per value. */
export interface InspectRowsResult {
  columns: string[];
  rows: (string | null)[][];
}

/**
 * Reads the rows of a heap fork file visible to a new snapshot, ordered by ctid.
 *
 * `columns` are the table's pg_attribute rows (a fixture's case.json `columns`, dropped columns
 * included; they do not appear in the output). `options.xact` is the commit log segment
 * (`pg_xact/0000`), needed for tuples whose xmin or xmax carries no hint bit; without it such
 * a tuple throws `xid-status-unknown` (pages marked all-visible need no commit log).
 * `options.block` limits the scan to one block.
 *
 * @example
 * ```ts
 * const result = inspectRows(readFileSync("main.bin"), caseJson.columns, {
 *   xact: readFileSync("pg_xact.bin"),
 * });
 * result.rows[0]; // ["(0,1)", "1", "alpha", ...]
 * ```
 */
export function inspectRows(
  file: Uint8Array,
  columns: unknown[],
  options: { block?: number; xact?: Uint8Array } = {},
): InspectRowsResult {
  const desc = tupleDescFromAttributeRows(columns);
  const live = desc.attrs.filter((att) => !att.attisdropped);
  const rows: (string | null)[][] = [];
  for (const block of selectBlocks(forkBlockCount(file), options.block)) {
    const page = forkPage(file, block);
    verifyPage(page, block, false);
    const allVisible = pageIsAllVisible(page);
    const count = pageGetMaxOffsetNumber(page);
    for (let lp = 1; lp <= count; lp++) {
      const itemId = pageGetItemId(page, lp);
      if (!itemIdIsNormal(itemId)) continue;
      const offset = itemIdGetOffset(itemId);
      const length = itemIdGetLength(itemId);
      if (length < MinHeapTupleSize || offset + length > BLCKSZ) {
        throw new PgsimError(
          "data-corrupted",
          `block ${block}: line pointer ${lp} points outside the page (offset ${offset}, length ${length})`,
          { block, lp },
        );
      }
      const tuple = page.subarray(offset, offset + length);
      if (!allVisible && !heapTupleVisibleToNewSnapshot(tuple, 0, options.xact)) continue;
      const values = heapDeformTuple(desc, tuple);
      const row: (string | null)[] = [`(${block},${lp})`];
      for (const att of live) {
        const value = values[att.attnum - 1];
        row.push(
          value === null || value === undefined || att.codec === null
            ? null
            : att.codec.output(value, att.atttypmod),
        );
      }
      rows.push(row);
    }
  }
  return { columns: ["ctid", ...live.map((att) => att.attname)], rows };
}
