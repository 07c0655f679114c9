/**
 * Test helper: builds heap pages the way PostgreSQL's INSERT fills a fresh table, and compares
 * two pages byte for byte with a readable list of the differences.
 *
 * Does: forms each row with the INSERT descriptor (`tupleDescWithTypeStorage`), sets the header
 * fields heap_insert sets (xmin, cmin, HEAP_XMAX_INVALID, t_ctid = own TID), and adds the tuple to
 * the last page, starting a new page when it does not fit (as RelationGetBufferForTuple does for
 * a table that only ever grew; see `buildHeapPages`). `maskPage` blanks what legitimately
 * differs between two servers (pd_lsn, pd_checksum, each tuple's t_xmin and t_field3);
 * `describePageDifferences` names every differing byte by its field.
 * Entry points: `buildHeapPages`, `maskPage`, `describePageDifferences`, `tupleXmins`,
 * `tupleField3s`, `tupleCtids`.
 * See also: pglite-pages.test.ts, ../../../test/pg15-roundtrip.test.ts, ../src/bufpage.ts,
 * ../src/htup-details.ts.
 */

import { heapFormTuple } from "../src/access/common/heaptuple.js";
import { type TupleDesc, tupleDescWithTypeStorage } from "../src/access/common/tupdesc.js";
import {
  BLCKSZ,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_FROZEN,
  heapTupleHeaderAddInfomask,
  heapTupleHeaderGetRawCommandId,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderSetCmin,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetXmin,
  InvalidOffsetNumber,
  maxAlign,
} from "../src/include/access/htup-details.js";
import {
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  LP_NORMAL,
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageInit,
} from "../src/storage/page/bufpage.js";
import type { Datum } from "../src/utils/adt/type-codec.js";

/** Options of `buildHeapPages`. */
export interface BuildHeapPagesOptions {
  /** xmin of the first statement's rows; each later statement gets the next xid. Default 1000. */
  readonly firstXid?: number;
  /** Mark every tuple HEAP_XMIN_FROZEN (as VACUUM FREEZE leaves it) as well. Default false. */
  readonly frozen?: boolean;
  /**
   * Skip the check that PostgreSQL would have placed each tuple on the same page (see below):
   * for pages that are only written, never compared with PostgreSQL's own. Default false.
   */
  readonly anyPlacement?: boolean;
}

/**
 * The pages a fresh table holds after `statements` ran in order, each statement one INSERT in
 * its own transaction (all its rows share one xmin, and cmin 0, the statement's first command).
 *
 * Placement: PostgreSQL puts a tuple on the relation's last page (its cached target block) and
 * extends the relation when it does not fit. It also records the old page's free space in the
 * FSM and asks the FSM first, which matters only if a later, smaller tuple fits a page left
 * behind; tests that fill several pages insert tuples in non-decreasing size, so the FSM never
 * has such a page and "last page, else a new one" is exact. The builder checks that
 * precondition and throws when an earlier page could take the tuple.
 */
export function buildHeapPages(
  desc: TupleDesc,
  statements: readonly (readonly (readonly (Datum | null)[])[])[],
  options: BuildHeapPagesOptions = {},
): Uint8Array[] {
  const insertDesc = tupleDescWithTypeStorage(desc);
  const pages: Uint8Array[] = [];
  let xid = options.firstXid ?? 1000;
  for (const rows of statements) {
    for (const row of rows) {
      const tuple = heapFormTuple(insertDesc, row);
      heapTupleHeaderSetXmin(tuple, 0, xid);
      heapTupleHeaderSetCmin(tuple, 0, 0);
      heapTupleHeaderAddInfomask(
        tuple,
        0,
        HEAP_XMAX_INVALID | (options.frozen === true ? HEAP_XMIN_FROZEN : 0),
      );
      let page = pages.at(-1);
      let offset =
        page === undefined
          ? InvalidOffsetNumber
          : pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP);
      if (offset === InvalidOffsetNumber) {
        const earlier = pages.findIndex((p) => pageGetHeapFreeSpace(p) >= maxAlign(tuple.length));
        if (earlier >= 0 && options.anyPlacement !== true) {
          throw new Error(
            `test precondition: a ${tuple.length}-byte tuple does not fit the last page but fits ` +
              `page ${earlier}, where PostgreSQL's FSM could place it; insert in size order`,
          );
        }
        page = new Uint8Array(BLCKSZ);
        pageInit(page);
        pages.push(page);
        offset = pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP);
        if (offset === InvalidOffsetNumber) throw new Error("a tuple does not fit an empty page");
      }
      // heap_insert sets t_ctid to the tuple's own TID once it is placed.
      const lpOff = itemIdGetOffset(pageGetItemId(page as Uint8Array, offset));
      heapTupleHeaderSetCtid(page as Uint8Array, lpOff, { block: pages.length - 1, offset });
    }
    xid++;
  }
  return pages;
}

/** Offsets of the LP_NORMAL tuples of a page, in line pointer order. */
function normalTupleOffsets(page: Uint8Array): { lp: number; off: number; len: number }[] {
  const out: { lp: number; off: number; len: number }[] = [];
  const max = pageGetMaxOffsetNumber(page);
  for (let lp = 1; lp <= max; lp++) {
    const id = pageGetItemId(page, lp);
    if (itemIdGetFlags(id) === LP_NORMAL) {
      out.push({ lp, off: itemIdGetOffset(id), len: itemIdGetLength(id) });
    }
  }
  return out;
}

/** The TID of every LP_NORMAL tuple of `pages` (block 0 first), as PostgreSQL prints a tid. */
export function tupleCtids(pages: readonly Uint8Array[]): string[] {
  return pages.flatMap((page, blk) => normalTupleOffsets(page).map(({ lp }) => `(${blk},${lp})`));
}

/** t_xmin of each LP_NORMAL tuple, in line pointer order. */
export function tupleXmins(page: Uint8Array): number[] {
  return normalTupleOffsets(page).map(({ off }) => heapTupleHeaderGetRawXmin(page, off));
}

/** t_field3 (the command id) of each LP_NORMAL tuple, in line pointer order. */
export function tupleField3s(page: Uint8Array): number[] {
  return normalTupleOffsets(page).map(({ off }) => heapTupleHeaderGetRawCommandId(page, off));
}

/**
 * A copy of `page` with the bytes that differ between servers for the same rows set to zero:
 * pd_lsn (bytes 0–7), pd_checksum (8–9), and in every LP_NORMAL tuple t_xmin (tuple bytes 0–3)
 * and t_field3 = cmin (8–11). Nothing else is touched: infomask hint bits stay, so a tuple that
 * got XMIN_COMMITTED from a read shows up as a difference.
 */
export function maskPage(page: Uint8Array): Uint8Array {
  const out = page.slice();
  out.fill(0, 0, 10);
  for (const { off } of normalTupleOffsets(out)) {
    if (off + 12 > out.length) continue;
    out.fill(0, off, off + 4);
    out.fill(0, off + 8, off + 12);
  }
  return out;
}

const PAGE_HEADER_FIELDS: readonly [number, number, string][] = [
  [0, 8, "pd_lsn"],
  [8, 10, "pd_checksum"],
  [10, 12, "pd_flags"],
  [12, 14, "pd_lower"],
  [14, 16, "pd_upper"],
  [16, 18, "pd_special"],
  [18, 20, "pd_pagesize_version"],
  [20, 24, "pd_prune_xid"],
];

const TUPLE_FIELDS: readonly [number, number, string][] = [
  [0, 4, "t_xmin"],
  [4, 8, "t_xmax"],
  [8, 12, "t_field3"],
  [12, 18, "t_ctid"],
  [18, 20, "t_infomask2"],
  [20, 22, "t_infomask"],
  [22, 23, "t_hoff"],
];

/** Where byte `at` of a page lies, according to the layout of `page`. */
function locate(page: Uint8Array, at: number): string {
  for (const [from, to, name] of PAGE_HEADER_FIELDS) {
    if (at >= from && at < to) return `${name} (byte ${at})`;
  }
  const max = pageGetMaxOffsetNumber(page);
  if (at < 24 + 4 * max) {
    return `line pointer ${Math.floor((at - 24) / 4) + 1} (byte ${at})`;
  }
  for (const { lp, off, len } of normalTupleOffsets(page)) {
    if (at >= off && at < off + len) {
      const rel = at - off;
      const hoff = page[off + 22] ?? 24;
      for (const [from, to, name] of TUPLE_FIELDS) {
        if (rel >= from && rel < to) return `tuple ${lp} ${name} (byte ${at})`;
      }
      return rel < hoff
        ? `tuple ${lp} null bitmap/padding (tuple byte ${rel}, page byte ${at})`
        : `tuple ${lp} data byte ${rel - hoff} (tuple byte ${rel}, page byte ${at})`;
    }
  }
  return `free space or padding (byte ${at})`;
}

/**
 * Every run of differing bytes between `expected` (PostgreSQL's page) and `actual` (pgsim's),
 * located by `expected`'s layout, with both sides in hex. Empty when the pages are equal; at
 * most `limit` runs are listed.
 */
export function describePageDifferences(
  expected: Uint8Array,
  actual: Uint8Array,
  limit = 20,
): string[] {
  const out: string[] = [];
  if (expected.length !== actual.length) {
    return [`page lengths differ: postgres ${expected.length}, pgsim ${actual.length}`];
  }
  let i = 0;
  while (i < expected.length && out.length < limit) {
    if (expected[i] === actual[i]) {
      i++;
      continue;
    }
    let end = i;
    while (end < expected.length && expected[end] !== actual[end] && end - i < 16) end++;
    const hex = (p: Uint8Array) => Buffer.from(p.subarray(i, end)).toString("hex");
    out.push(`${locate(expected, i)}: postgres ${hex(expected)}, pgsim ${hex(actual)}`);
    i = end;
  }
  return out;
}
