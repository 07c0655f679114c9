/**
 * pageinspect's B-tree functions over page images: the metapage, one page's statistics, and
 * every item of a page, with pageinspect's column names and values.
 *
 * Models: contrib/pageinspect/btreefuncs.c (bt_metap, bt_page_stats / GetBTPageStatistics,
 * bt_page_items / bt_page_print_tuples) as of pageinspect 1.10 (PostgreSQL 15).
 * Entry points: `btMetapOf`, `btPageStatsOf`, `btPageItemsOf` (one page image);
 * `inspectBtMetap`, `inspectBtPageStats`, `inspectBtPageItems` (an index file, for pgsim-inspect).
 * See also: ../database/introspect.ts (the live versions), ../include/access/nbtree.ts (layouts),
 * ../access/nbtree/README.md.
 *
 * Differs from PostgreSQL: values are JavaScript values (numbers, booleans, null) rather than
 * SQL text; a TID is printed as PostgreSQL prints one, "(block,offset)"; `tids` is an array of
 * such strings.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { itemPointerToString, maxAlign, readItemPointer } from "../include/access/htup-details.js";
import {
  INDEX_NULL_MASK,
  INDEX_SIZE_MASK,
  INDEX_VAR_MASK,
  indexInfoFindDataOffset,
  indexTupleInfo,
  indexTupleSize,
} from "../include/access/itup.js";
import {
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_HAS_FULLXID,
  BTP_LEAF,
  BTP_ROOT,
  BTREE_METAPAGE,
  btPageGetOpaque,
  btreeTupleGetHeapTid,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleGetPostingOffset,
  btreeTupleIsPivot,
  btreeTupleIsPosting,
  P_HIKEY,
  pRightmost,
  readBtMeta,
} from "../include/access/nbtree.js";
import { bytesToHex } from "../include/port/le-bytes.js";
import {
  itemIdGetOffset,
  itemIdIsDead,
  pageGetFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetPageSize,
  pageGetSpecial,
} from "../storage/page/bufpage.js";
import { forkPage, type InspectOptions, verifyForkPages } from "./blocks.js";

/** A row of `bt_metap`. */
export interface BtMetapRow {
  magic: number;
  version: number;
  root: number;
  level: number;
  fastroot: number;
  fastlevel: number;
  last_cleanup_num_delpages: number;
  last_cleanup_num_tuples: number;
  allequalimage: boolean;
}

/** A row of `bt_page_stats`. */
export interface BtPageStatsRow {
  blkno: number;
  /** 'l' leaf, 'i' internal, 'r' root, 'e' half-dead ("ignore"), 'd'/'D' deleted leaf/internal. */
  type: string;
  live_items: number;
  dead_items: number;
  avg_item_size: number;
  page_size: number;
  free_size: number;
  btpo_prev: number;
  btpo_next: number;
  btpo_level: number;
  btpo_flags: number;
}

/** A row of `bt_page_items`. */
export interface BtPageItemRow {
  itemoffset: number;
  /** t_tid as stored, e.g. "(1,0)" for a minus-infinity downlink to block 1. */
  ctid: string;
  itemlen: number;
  nulls: boolean;
  vars: boolean;
  /** The key bytes (no pivot heap TID, no posting list) as spaced hex, "01 00 00 00". */
  data: string;
  /** LP_DEAD; null for pivot tuples. */
  dead: boolean | null;
  htid: string | null;
  tids: string[] | null;
}

/** bt_metap on the metapage image. */
export function btMetapOf(meta: Uint8Array): BtMetapRow {
  const m = readBtMeta(meta);
  return {
    magic: m.magic,
    version: m.version,
    root: m.root,
    level: m.level,
    fastroot: m.fastroot,
    fastlevel: m.fastlevel,
    last_cleanup_num_delpages: m.lastCleanupNumDelpages,
    last_cleanup_num_tuples: m.lastCleanupNumHeapTuples,
    allequalimage: m.allequalimage,
  };
}

function checkNotMeta(block: number): void {
  if (block === BTREE_METAPAGE) {
    throw new PgsimError("invalid-parameter", "block 0 is a meta page");
  }
}

/** GetBTPageStatistics / bt_page_stats on page `page` of block `block`. */
export function btPageStatsOf(page: Uint8Array, block: number): BtPageStatsRow {
  checkNotMeta(block);
  const o = btPageGetOpaque(page);
  let type: string;
  if ((o.flags & BTP_DELETED) !== 0) {
    type = (o.flags & BTP_LEAF) !== 0 || (o.flags & BTP_HAS_FULLXID) === 0 ? "d" : "D";
  } else if ((o.flags & BTP_HALF_DEAD) !== 0) type = "e";
  else if ((o.flags & BTP_LEAF) !== 0) type = "l";
  else if ((o.flags & BTP_ROOT) !== 0) type = "r";
  else type = "i";
  let live = 0;
  let dead = 0;
  let itemSize = 0;
  // A deleted page keeps stale line pointers in its body; pageinspect counts none of them.
  const maxoff = (o.flags & BTP_DELETED) !== 0 ? 0 : pageGetMaxOffsetNumber(page);
  for (let off = 1; off <= maxoff; off++) {
    const id = pageGetItemId(page, off);
    itemSize += indexTupleSize(page, itemIdGetOffset(id));
    if (itemIdIsDead(id)) dead++;
    else live++;
  }
  return {
    blkno: block,
    type,
    live_items: live,
    dead_items: dead,
    avg_item_size: live + dead > 0 ? Math.floor(itemSize / (live + dead)) : 0,
    page_size: pageGetPageSize(page),
    free_size: pageGetFreeSpace(page),
    btpo_prev: o.prev,
    btpo_next: o.next,
    btpo_level: o.level,
    btpo_flags: o.flags,
  };
}

/**
 * bt_page_items on page `page` of block `block`: one row per line pointer (none for a deleted
 * page, where pageinspect prints NOTICE "page from block %u is deleted").
 */
export function btPageItemsOf(page: Uint8Array, block: number): BtPageItemRow[] {
  checkNotMeta(block);
  const o = btPageGetOpaque(page);
  if ((o.flags & BTP_DELETED) !== 0) return [];
  if (pageGetSpecial(page) !== page.length - 16) {
    throw new PgsimError("index-corrupted", `block ${block} is not a valid btree page`);
  }
  const leaf = (o.flags & BTP_LEAF) !== 0;
  const rightmost = pRightmost(o);
  const rows: BtPageItemRow[] = [];
  const maxoff = pageGetMaxOffsetNumber(page);
  for (let off = 1; off <= maxoff; off++) {
    const id = pageGetItemId(page, off);
    const t = itemIdGetOffset(id);
    const info = indexTupleInfo(page, t);
    const size = info & INDEX_SIZE_MASK;
    const dataStart = indexInfoFindDataOffset(info);
    let dlen = size - dataStart;
    const isPivot = btreeTupleIsPivot(page, t);
    const isPosting = btreeTupleIsPosting(page, t);
    if (isPivot && btreeTupleGetHeapTid(page, t) !== undefined) dlen -= maxAlign(6);
    else if (isPosting) dlen = btreeTupleGetPostingOffset(page, t) - dataStart;
    if (dlen < 0 || dlen > INDEX_SIZE_MASK) {
      throw new PgsimError(
        "index-corrupted",
        `invalid tuple length ${dlen} for tuple at offset number ${off}`,
      );
    }
    const hex = bytesToHex(page, t + dataStart, t + dataStart + dlen);
    const data = hex.replace(/(..)(?!$)/g, "$1 ");
    const ispivottuple = !leaf || (!rightmost && off === P_HIKEY);
    let htid = btreeTupleGetHeapTid(page, t);
    if (ispivottuple && !isPivot) htid = undefined;
    rows.push({
      itemoffset: off,
      ctid: itemPointerToString(readItemPointer(page, t)),
      itemlen: size,
      nulls: (info & INDEX_NULL_MASK) !== 0,
      vars: (info & INDEX_VAR_MASK) !== 0,
      data,
      dead: ispivottuple ? null : itemIdIsDead(id),
      htid: htid === undefined ? null : itemPointerToString(htid),
      tids: isPosting
        ? Array.from({ length: btreeTupleGetNPosting(page, t) }, (_, i) =>
            itemPointerToString(btreeTupleGetPostingN(page, t, i)),
          )
        : null,
    });
  }
  return rows;
}

/** The blocks of an index file to report: the selection, without the metapage. */
function indexBlocks(file: Uint8Array, options: InspectOptions): number[] {
  return verifyForkPages(file, { ...options, layout: "btree" }).filter((b) => b !== BTREE_METAPAGE);
}

/** bt_metap over an index file's first segment (block 0 is the metapage). */
export function inspectBtMetap(file: Uint8Array, options: InspectOptions = {}): BtMetapRow {
  if ((options.firstBlock ?? 0) !== 0) {
    throw new PgsimError("segment-not-supported", "the metapage is block 0, in the first segment");
  }
  verifyForkPages(file, { ...options, block: BTREE_METAPAGE, layout: "btree" });
  const meta = forkPage(file, BTREE_METAPAGE);
  if (readBtMeta(meta).magic !== 0x053162) {
    throw new PgsimError("not-a-btree-page", "block 0: not a B-tree metapage (bad btm_magic)");
  }
  return btMetapOf(meta);
}

/** bt_page_stats of every selected block of an index file (the metapage left out). */
export function inspectBtPageStats(
  file: Uint8Array,
  options: InspectOptions = {},
): BtPageStatsRow[] {
  return indexBlocks(file, options).map((b) =>
    btPageStatsOf(forkPage(file, b, options.firstBlock ?? 0), b),
  );
}

/** bt_page_items of every selected block of an index file (the metapage left out). */
export function inspectBtPageItems(
  file: Uint8Array,
  options: InspectOptions = {},
): { block: number; items: BtPageItemRow[] }[] {
  return indexBlocks(file, options).map((b) => ({
    block: b,
    items: btPageItemsOf(forkPage(file, b, options.firstBlock ?? 0), b),
  }));
}
