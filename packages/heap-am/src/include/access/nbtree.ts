/**
 * nbtree's on-page structures: the metapage (BTMetaPageData), the special space of every page
 * (BTPageOpaqueData) and its flags, and how nbtree reuses an index tuple's t_tid and t_info for
 * pivot tuples (suffix-truncated keys, heap TID tiebreak) and posting-list tuples.
 *
 * Models: src/include/access/nbtree.h (BTMetaPageData, BTPageOpaqueData, BTP_* flags, P_* macros,
 * BTreeTupleIsPivot / IsPosting / GetNAtts / SetNAtts / GetHeapTID / GetMaxHeapTID /
 * GetPostingOffset / GetDownLink, BTMaxItemSize, BTREE_* constants).
 * Entry points: `btPageGetOpaque`, `btPageSetOpaque`, `readBtMeta`, the `btreeTuple*` accessors.
 * See also: itup.ts (the index tuple header), ../../access/nbtree/ (the code that writes all this),
 * ../../access/nbtree/README.md (the page layouts drawn out).
 */

import { assert } from "@pgsim/clock-sweep";
import { readInt32, readUint16, readUint32, writeUint16, writeUint32 } from "../port/le-bytes.js";
import {
  BLCKSZ,
  type ItemPointer,
  maxAlign,
  readItemPointer,
  readItemPointerBlock,
} from "./htup-details.js";
import { INDEX_AM_RESERVED_BIT, indexTupleInfo, indexTupleSize } from "./itup.js";

// ---------------------------------------------------------------------------------------------
// Constants

/** Block number of the metapage. */
export const BTREE_METAPAGE = 0;
/** btm_magic. */
export const BTREE_MAGIC = 0x053162;
/** btm_version of an index built by PostgreSQL 12+ (heapkeyspace). */
export const BTREE_VERSION = 4;
/** The oldest version still readable. */
export const BTREE_MIN_VERSION = 2;
/** The first version with the cleanup fields in the metapage. */
export const BTREE_NOVAC_VERSION = 3;
/** sizeof(BTPageOpaqueData): the special space of every nbtree page. */
export const SizeOfBTPageOpaqueData = 16;
/** sizeof(BTMetaPageData), trailing padding included. */
export const SizeOfBTMetaPageData = 48;
/** Default leaf fillfactor (the `fillfactor` reloption). */
export const BTREE_DEFAULT_FILLFACTOR = 90;
/** Smallest leaf fillfactor accepted. */
export const BTREE_MIN_FILLFACTOR = 10;
/** Fill of internal pages built by CREATE INDEX and of rightmost internal splits (fixed). */
export const BTREE_NONLEAF_FILLFACTOR = 70;
/** Fill of leaf pages that hold a single value (split choice). */
export const BTREE_SINGLEVAL_FILLFACTOR = 96;
/** No sibling (block 0 is the metapage, so never a real link). */
export const P_NONE = 0;
/** Offset of the high key on a non-rightmost page. */
export const P_HIKEY = 1;
/** First data item of a non-rightmost page. */
export const P_FIRSTKEY = 2;
/** Largest vacuum cycle id. */
export const MAX_BT_CYCLE_ID = 0xff7f;

// btpo_flags
export const BTP_LEAF = 0x0001;
export const BTP_ROOT = 0x0002;
export const BTP_DELETED = 0x0004;
export const BTP_META = 0x0008;
export const BTP_HALF_DEAD = 0x0010;
export const BTP_SPLIT_END = 0x0020;
export const BTP_HAS_GARBAGE = 0x0040;
export const BTP_INCOMPLETE_SPLIT = 0x0080;
export const BTP_HAS_FULLXID = 0x0100;

// Pivot and posting tuples reuse t_tid's offset number when INDEX_ALT_TID_MASK is set.
/** INDEX_ALT_TID_MASK: t_tid is not a plain heap TID (pivot or posting tuple). */
export const INDEX_ALT_TID_MASK = INDEX_AM_RESERVED_BIT;
/** BT_OFFSET_MASK: natts of a pivot, or the TID count of a posting tuple. */
export const BT_OFFSET_MASK = 0x0fff;
/** BT_STATUS_OFFSET_MASK: the status bits of the offset field. */
export const BT_STATUS_OFFSET_MASK = 0xf000;
/** BT_PIVOT_HEAP_TID_ATTR: a heap TID is stored in the last 6 bytes of the pivot. */
export const BT_PIVOT_HEAP_TID_ATTR = 0x1000;
/** BT_IS_POSTING: the tuple is a posting list. */
export const BT_IS_POSTING = 0x2000;

/** Usable bytes on a page: BLCKSZ − page header − special space = 8152. */
export const BT_USABLE_PAGE_BYTES = BLCKSZ - 24 - SizeOfBTPageOpaqueData;

/**
 * BTMaxItemSize: the largest non-pivot tuple (v4): a third of a page, minus room for a heap TID
 * in a pivot made from it = 2704.
 */
export const BTMaxItemSize =
  Math.floor((BLCKSZ - maxAlign(24 + 3 * 4) - maxAlign(SizeOfBTPageOpaqueData)) / 3 / 8) * 8 -
  maxAlign(6);
/** BTMaxItemSizeNoHeapTid (v2/v3 indexes). */
export const BTMaxItemSizeNoHeapTid =
  Math.floor((BLCKSZ - maxAlign(24 + 3 * 4) - maxAlign(SizeOfBTPageOpaqueData)) / 3 / 8) * 8;

assert(BTMaxItemSize === 2704, "BTMaxItemSize is 2704 for 8 KB pages");
assert(BTMaxItemSizeNoHeapTid === 2712, "BTMaxItemSizeNoHeapTid is 2712 for 8 KB pages");
assert(BT_USABLE_PAGE_BYTES === 8152, "8152 usable bytes per nbtree page");

// ---------------------------------------------------------------------------------------------
// BTPageOpaqueData (the last 16 bytes of every page)

const OPAQUE = BLCKSZ - SizeOfBTPageOpaqueData;

/** BTPageOpaqueData as numbers. */
export interface BTPageOpaque {
  /** btpo_prev: left sibling, P_NONE if leftmost. */
  prev: number;
  /** btpo_next: right sibling, P_NONE if rightmost. */
  next: number;
  /** btpo_level: 0 for leaves. */
  level: number;
  /** btpo_flags (BTP_*). */
  flags: number;
  /** btpo_cycleid: vacuum cycle id of the latest split. */
  cycleid: number;
}

/** BTPageGetOpaque, copied out. */
export function btPageGetOpaque(page: Uint8Array): BTPageOpaque {
  return {
    prev: readUint32(page, OPAQUE),
    next: readUint32(page, OPAQUE + 4),
    level: readUint32(page, OPAQUE + 8),
    flags: readUint16(page, OPAQUE + 12),
    cycleid: readUint16(page, OPAQUE + 14),
  };
}

/** Writes the whole special space. */
export function btPageSetOpaque(page: Uint8Array, o: BTPageOpaque): void {
  writeUint32(page, OPAQUE, o.prev);
  writeUint32(page, OPAQUE + 4, o.next);
  writeUint32(page, OPAQUE + 8, o.level);
  writeUint16(page, OPAQUE + 12, o.flags);
  writeUint16(page, OPAQUE + 14, o.cycleid);
}

/** btpo_prev. */
export function btPageGetPrev(page: Uint8Array): number {
  return readUint32(page, OPAQUE);
}

/** btpo_next. */
export function btPageGetNext(page: Uint8Array): number {
  return readUint32(page, OPAQUE + 4);
}

/** btpo_flags. */
export function btPageGetFlags(page: Uint8Array): number {
  return readUint16(page, OPAQUE + 12);
}

/** btpo_level, read in place. */
export function btPageGetLevel(page: Uint8Array): number {
  return readUint32(page, OPAQUE + 8);
}

/** P_FIRSTDATAKEY read in place (no opaque copy): 1 on a rightmost page, else 2. */
export function btPageFirstDataKey(page: Uint8Array): number {
  return readUint32(page, OPAQUE + 4) === P_NONE ? P_HIKEY : P_FIRSTKEY;
}

/** P_RIGHTMOST: no right sibling. */
export function pRightmost(o: BTPageOpaque): boolean {
  return o.next === P_NONE;
}

/** P_LEFTMOST: no left sibling. */
export function pLeftmost(o: BTPageOpaque): boolean {
  return o.prev === P_NONE;
}

/** P_ISLEAF. */
export function pIsLeaf(o: BTPageOpaque): boolean {
  return (o.flags & BTP_LEAF) !== 0;
}

/** P_IGNORE: deleted or half-dead. */
export function pIgnore(o: BTPageOpaque): boolean {
  return (o.flags & (BTP_DELETED | BTP_HALF_DEAD)) !== 0;
}

/** P_FIRSTDATAKEY: 1 on the rightmost page of a level (no high key), else 2. */
export function pFirstDataKey(o: BTPageOpaque): number {
  return pRightmost(o) ? P_HIKEY : P_FIRSTKEY;
}

// ---------------------------------------------------------------------------------------------
// BTMetaPageData (at page offset 24, PageGetContents)

const META = 24;

/** The metapage's fields. */
export interface BTMetaPageData {
  magic: number;
  version: number;
  root: number;
  level: number;
  fastroot: number;
  fastlevel: number;
  lastCleanupNumDelpages: number;
  /** Deprecated; always −1 when written by PostgreSQL 13+. */
  lastCleanupNumHeapTuples: number;
  allequalimage: boolean;
}

/** Reads the metapage fields (no validation: see readBtMetaChecked in nbtpage.ts). */
export function readBtMeta(page: Uint8Array): BTMetaPageData {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return {
    magic: readUint32(page, META),
    version: readUint32(page, META + 4),
    root: readUint32(page, META + 8),
    level: readUint32(page, META + 12),
    fastroot: readUint32(page, META + 16),
    fastlevel: readUint32(page, META + 20),
    lastCleanupNumDelpages: readUint32(page, META + 24),
    lastCleanupNumHeapTuples: view.getFloat64(META + 32, true),
    allequalimage: page[META + 40] !== 0,
  };
}

/** Writes the metapage fields (padding bytes are left as they are: zero on a fresh page). */
export function writeBtMeta(page: Uint8Array, m: BTMetaPageData): void {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  writeUint32(page, META, m.magic);
  writeUint32(page, META + 4, m.version);
  writeUint32(page, META + 8, m.root);
  writeUint32(page, META + 12, m.level);
  writeUint32(page, META + 16, m.fastroot);
  writeUint32(page, META + 20, m.fastlevel);
  writeUint32(page, META + 24, m.lastCleanupNumDelpages);
  view.setFloat64(META + 32, m.lastCleanupNumHeapTuples, true);
  page[META + 40] = m.allequalimage ? 1 : 0;
}

/** pd_lower of the metapage: the end of BTMetaPageData's used fields (24 + 48 = 72). */
export const BT_META_PD_LOWER = META + SizeOfBTMetaPageData;

// ---------------------------------------------------------------------------------------------
// Pivot and posting-list tuples. Every accessor takes the tuple's bytes and its start offset.

function tidOffsetField(bytes: Uint8Array, off: number): number {
  return readUint16(bytes, off + 4);
}

/** BTreeTupleIsPivot: ALT_TID set and not a posting list. */
export function btreeTupleIsPivot(bytes: Uint8Array, off: number): boolean {
  if ((indexTupleInfo(bytes, off) & INDEX_ALT_TID_MASK) === 0) return false;
  return (tidOffsetField(bytes, off) & BT_IS_POSTING) === 0;
}

/** BTreeTupleIsPosting: ALT_TID set and BT_IS_POSTING. */
export function btreeTupleIsPosting(bytes: Uint8Array, off: number): boolean {
  if ((indexTupleInfo(bytes, off) & INDEX_ALT_TID_MASK) === 0) return false;
  return (tidOffsetField(bytes, off) & BT_IS_POSTING) !== 0;
}

/** BTreeTupleGetNAtts: a pivot's stored attribute count, else `indexNatts`. */
export function btreeTupleGetNAtts(bytes: Uint8Array, off: number, indexNatts: number): number {
  return btreeTupleIsPivot(bytes, off) ? tidOffsetField(bytes, off) & BT_OFFSET_MASK : indexNatts;
}

/** BTreeTupleSetNAtts: marks the tuple a pivot with `natts` attributes (block left alone). */
export function btreeTupleSetNAtts(
  bytes: Uint8Array,
  off: number,
  natts: number,
  heapTid: boolean,
): void {
  assert(natts <= BT_OFFSET_MASK, "natts fits BT_OFFSET_MASK");
  writeUint16(bytes, off + 6, indexTupleInfo(bytes, off) | INDEX_ALT_TID_MASK);
  writeUint16(bytes, off + 4, natts | (heapTid ? BT_PIVOT_HEAP_TID_ATTR : 0));
}

/** BTreeTupleGetNPosting: TIDs in a posting list. */
export function btreeTupleGetNPosting(bytes: Uint8Array, off: number): number {
  return tidOffsetField(bytes, off) & BT_OFFSET_MASK;
}

/** BTreeTupleGetPostingOffset: where the TID array starts, inside the tuple. */
export function btreeTupleGetPostingOffset(bytes: Uint8Array, off: number): number {
  return readItemPointerBlock(bytes, off);
}

/** BTreeTupleGetDownLink: the child block of a pivot in an internal page. */
export function btreeTupleGetDownLink(bytes: Uint8Array, off: number): number {
  return readItemPointerBlock(bytes, off);
}

/** BTreeTupleSetDownLink. */
export function btreeTupleSetDownLink(bytes: Uint8Array, off: number, block: number): void {
  writeUint16(bytes, off, block >>> 16);
  writeUint16(bytes, off + 2, block & 0xffff);
}

/** BTreeTupleGetPosting(n): the n-th TID of a posting list. */
export function btreeTupleGetPostingN(bytes: Uint8Array, off: number, n: number): ItemPointer {
  return readItemPointer(bytes, off + btreeTupleGetPostingOffset(bytes, off) + 6 * n);
}

/**
 * BTreeTupleGetHeapTID: the heap TID (the lowest for a posting list), or undefined for a pivot
 * without one (its heap TID is truncated: −∞).
 */
export function btreeTupleGetHeapTid(bytes: Uint8Array, off: number): ItemPointer | undefined {
  if (btreeTupleIsPivot(bytes, off)) {
    if ((tidOffsetField(bytes, off) & BT_PIVOT_HEAP_TID_ATTR) === 0) return undefined;
    return readItemPointer(bytes, off + indexTupleSize(bytes, off) - 6);
  }
  if (btreeTupleIsPosting(bytes, off)) return btreeTupleGetPostingN(bytes, off, 0);
  return readItemPointer(bytes, off);
}

/** BTreeTupleGetMaxHeapTID: the highest heap TID of a non-pivot tuple. */
export function btreeTupleGetMaxHeapTid(bytes: Uint8Array, off: number): ItemPointer {
  assert(!btreeTupleIsPivot(bytes, off), "a pivot tuple has no max heap TID");
  if (btreeTupleIsPosting(bytes, off)) {
    return btreeTupleGetPostingN(bytes, off, btreeTupleGetNPosting(bytes, off) - 1);
  }
  return readItemPointer(bytes, off);
}

/** Every heap TID of a non-pivot tuple (one for a plain tuple). */
export function btreeTupleHeapTids(bytes: Uint8Array, off: number): ItemPointer[] {
  if (btreeTupleIsPosting(bytes, off)) {
    const n = btreeTupleGetNPosting(bytes, off);
    return Array.from({ length: n }, (_, i) => btreeTupleGetPostingN(bytes, off, i));
  }
  return [readItemPointer(bytes, off)];
}

/**
 * Where the heap TID of the tuple at `off` is stored (BTreeTupleGetHeapTID without the copy):
 * the byte position of its ItemPointerData — the last 6 bytes of a pivot that keeps one, the
 * first entry of a posting list, else t_tid — or −1 for a pivot whose heap TID was truncated.
 */
export function btreeTupleHeapTidPos(bytes: Uint8Array, off: number): number {
  if ((indexTupleInfo(bytes, off) & INDEX_ALT_TID_MASK) === 0) return off;
  const field = tidOffsetField(bytes, off);
  if ((field & BT_IS_POSTING) === 0) {
    return (field & BT_PIVOT_HEAP_TID_ATTR) === 0 ? -1 : off + indexTupleSize(bytes, off) - 6;
  }
  return off + btreeTupleGetPostingOffset(bytes, off);
}

/** ItemPointerCompare of `a` with the ItemPointerData stored at `bytes[pos]` (no copy). */
export function itemPointerCompareAt(a: ItemPointer, bytes: Uint8Array, pos: number): number {
  const block = readUint16(bytes, pos) * 0x10000 + readUint16(bytes, pos + 2);
  if (a.block !== block) return a.block < block ? -1 : 1;
  const offset = readUint16(bytes, pos + 4);
  if (a.offset !== offset) return a.offset < offset ? -1 : 1;
  return 0;
}

/** ItemPointerCompare: block (unsigned), then offset. */
export function itemPointerCompare(a: ItemPointer, b: ItemPointer): number {
  if (a.block !== b.block) return a.block < b.block ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

/** Signed btpo level for reports (levels are small; the field is a uint32). */
export function btLevelOf(page: Uint8Array): number {
  return readInt32(page, OPAQUE + 8);
}
