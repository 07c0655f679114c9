/**
 * The heap tuple header: its byte layout, flag bits, size limits, and accessors that read and
 * write the fields in place on a page (or any byte array) at a given offset.
 *
 * Models: src/include/access/htup_details.h (HeapTupleHeaderData, HEAP_* infomask bits,
 * HeapTupleHeaderGet/Set* macros, BITMAPLEN, MaxHeapTupleSize, MaxHeapTuplesPerPage,
 * HEAP_XMAX_IS_LOCKED_ONLY), src/include/storage/itemptr.h (ItemPointerData), and pageinspect's
 * heap_tuple_infomask_flags (flag names).
 * Entry points: the layout constants, `heapTupleHeaderGet*` / `heapTupleHeaderSet*`,
 * `readHeapTupleHeader`, `attIsNull`, `bitmapLen`, `infomaskFlagNames`, `ItemPointer`,
 * `itemPointerSet` and `itemPointerToString`.
 * See also: heaptuple.ts (forms and deforms whole tuples), access/heap/heapam-visibility.ts
 * (visibility from these bits), inspect/heap-page-items.ts (prints them as pageinspect does).
 *
 * Layout (offsets from the tuple start; integers little-endian):
 *
 *   0  t_xmin      u32  inserting xid
 *   4  t_xmax      u32  deleting / updating / locking xid (or MultiXactId), 0 if none
 *   8  t_field3    u32  command id (t_cid), or t_xvac for pre-9.0 VACUUM FULL
 *  12  t_ctid      6 B  ItemPointer: block high u16, block low u16, offset u16
 *  18  t_infomask2 u16  natts (low 11 bits) + HEAP_KEYS_UPDATED / HOT_UPDATED / ONLY_TUPLE
 *  20  t_infomask  u16  HEAP_* flag bits
 *  22  t_hoff      u8   offset of the user data (header + bitmap + padding, a multiple of 8)
 *  23  t_bits[]         null bitmap, ceil(natts / 8) bytes, only when HEAP_HASNULL
 */

import { InvalidBlockNumber } from "@pgsim/buffer-manager";
import { assert } from "@pgsim/clock-sweep";
import { BLCKSZ, MAXIMUM_ALIGNOF } from "../pg-config.js";
import { readUint16, readUint32, writeUint16, writeUint32 } from "../port/le-bytes.js";

// ---------------------------------------------------------------------------------------------
// Layout

/** Offset of t_xmin. */
export const T_XMIN_OFFSET = 0;
/** Offset of t_xmax. */
export const T_XMAX_OFFSET = 4;
/** Offset of t_field3 (t_cid or t_xvac). */
export const T_FIELD3_OFFSET = 8;
/** Offset of t_ctid (6 bytes). */
export const T_CTID_OFFSET = 12;
/** Offset of t_infomask2. */
export const T_INFOMASK2_OFFSET = 18;
/** Offset of t_infomask. */
export const T_INFOMASK_OFFSET = 20;
/** Offset of t_hoff. */
export const T_HOFF_OFFSET = 22;
/** Offset of the null bitmap t_bits. */
export const T_BITS_OFFSET = 23;

// BLCKSZ and MAXIMUM_ALIGNOF are defined in pg-config.ts; they are re-exported here for the
// modules (inspect/) and tests that take them from this header.
export { BLCKSZ, MAXIMUM_ALIGNOF };

/** Bytes of the fixed part of the header: offsetof(HeapTupleHeaderData, t_bits). */
export const SizeofHeapTupleHeader = 23;
/**
 * Page header bytes (SizeOfPageHeaderData) and line pointer bytes (sizeof(ItemIdData)), which
 * storage/page/bufpage.ts exports. Repeated here because bufpage.ts imports this header (for
 * MaxHeapTuplesPerPage, as bufpage.c includes htup_details.h); bufpage.ts asserts at load that
 * the limits computed from them agree.
 */
const SIZE_OF_PAGE_HEADER_DATA = 24;
const SIZE_OF_ITEM_ID_DATA = 4;

/** Rounds `len` up to a multiple of 8 (MAXALIGN). */
export function maxAlign(len: number): number {
  return (len + (MAXIMUM_ALIGNOF - 1)) & ~(MAXIMUM_ALIGNOF - 1);
}

/** The largest tuple a heap page can hold: BLCKSZ - MAXALIGN(page header + one line pointer). */
export const MaxHeapTupleSize = BLCKSZ - maxAlign(SIZE_OF_PAGE_HEADER_DATA + SIZE_OF_ITEM_ID_DATA);
/** The most line pointers a heap page can need: every tuple an empty, header-only one. */
export const MaxHeapTuplesPerPage = Math.floor(
  (BLCKSZ - SIZE_OF_PAGE_HEADER_DATA) / (maxAlign(SizeofHeapTupleHeader) + SIZE_OF_ITEM_ID_DATA),
);
/** The smallest valid tuple: a MAXALIGNed header with no data. */
export const MinHeapTupleSize = maxAlign(SizeofHeapTupleHeader);
/** The most attributes a heap tuple can carry (it must fit HEAP_NATTS_MASK). */
export const MaxTupleAttributeNumber = 1664;
/** The most columns a table can have. */
export const MaxHeapAttributeNumber = 1600;

// ---------------------------------------------------------------------------------------------
// t_infomask bits

/** Has a null bitmap. */
export const HEAP_HASNULL = 0x0001;
/** Has variable-width attributes (varlena or cstring). */
export const HEAP_HASVARWIDTH = 0x0002;
/** Has out-of-line (TOAST) values. */
export const HEAP_HASEXTERNAL = 0x0004;
/** Legacy: the tuple has an OID field before the data. */
export const HEAP_HASOID_OLD = 0x0008;
/** xmax is a FOR KEY SHARE locker. */
export const HEAP_XMAX_KEYSHR_LOCK = 0x0010;
/** t_cid is a combo command id. */
export const HEAP_COMBOCID = 0x0020;
/** xmax is an exclusive locker. */
export const HEAP_XMAX_EXCL_LOCK = 0x0040;
/** xmax, if valid, only locked the row. */
export const HEAP_XMAX_LOCK_ONLY = 0x0080;
/** FOR SHARE: both lock bits. */
export const HEAP_XMAX_SHR_LOCK = HEAP_XMAX_EXCL_LOCK | HEAP_XMAX_KEYSHR_LOCK;
/** All lock-strength bits. */
export const HEAP_LOCK_MASK = HEAP_XMAX_SHR_LOCK | HEAP_XMAX_EXCL_LOCK | HEAP_XMAX_KEYSHR_LOCK;
/** Hint: t_xmin committed. */
export const HEAP_XMIN_COMMITTED = 0x0100;
/** Hint: t_xmin aborted. */
export const HEAP_XMIN_INVALID = 0x0200;
/** Both xmin hints: frozen, visible to every snapshot (the raw xmin is kept since 9.4). */
export const HEAP_XMIN_FROZEN = HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID;
/** Hint: t_xmax committed. */
export const HEAP_XMAX_COMMITTED = 0x0400;
/** Hint: t_xmax invalid or aborted. Set on every freshly inserted tuple. */
export const HEAP_XMAX_INVALID = 0x0800;
/** t_xmax is a MultiXactId. */
export const HEAP_XMAX_IS_MULTI = 0x1000;
/** This is the new version of an updated row. */
export const HEAP_UPDATED = 0x2000;
/** Pre-9.0 VACUUM FULL moved the tuple away. */
export const HEAP_MOVED_OFF = 0x4000;
/** Pre-9.0 VACUUM FULL moved the tuple here. */
export const HEAP_MOVED_IN = 0x8000;
/** Both legacy move bits. */
export const HEAP_MOVED = HEAP_MOVED_OFF | HEAP_MOVED_IN;
/** Every visibility-related bit; cleared before an insert. */
export const HEAP_XACT_MASK = 0xfff0;
/** The bits that describe xmax; cleared whenever xmax changes. */
export const HEAP_XMAX_BITS =
  HEAP_XMAX_COMMITTED |
  HEAP_XMAX_INVALID |
  HEAP_XMAX_IS_MULTI |
  HEAP_LOCK_MASK |
  HEAP_XMAX_LOCK_ONLY;

// ---------------------------------------------------------------------------------------------
// t_infomask2 bits

/** Low 11 bits: the number of attributes stored in the tuple. */
export const HEAP_NATTS_MASK = 0x07ff;
/** Deleted, or updated with a key column changed (also the FOR UPDATE lock mode). */
export const HEAP_KEYS_UPDATED = 0x2000;
/** HOT-updated: t_ctid points to a heap-only successor on the same page. */
export const HEAP_HOT_UPDATED = 0x4000;
/** Heap-only tuple: no index entry points to it. */
export const HEAP_ONLY_TUPLE = 0x8000;
/** t_infomask2 bits cleared before an insert. */
export const HEAP2_XACT_MASK = 0xe000;

// Layout facts, checked once when the module loads.
assert(MaxHeapTupleSize === 8160, "MaxHeapTupleSize must be 8160 for 8 KB pages");
assert(MaxHeapTuplesPerPage === 291, "MaxHeapTuplesPerPage must be 291 for 8 KB pages");
assert(T_BITS_OFFSET === SizeofHeapTupleHeader, "t_bits starts right after the fixed header");
assert(MaxTupleAttributeNumber <= HEAP_NATTS_MASK, "natts must fit HEAP_NATTS_MASK");

// ---------------------------------------------------------------------------------------------
// Item pointers

/** A tuple identifier (TID): block number and 1-based line pointer number. */
export interface ItemPointer {
  /** Block number, 0 .. 0xFFFFFFFF (InvalidBlockNumber). */
  readonly block: number;
  /** Line pointer number (OffsetNumber), 1-based; 0 is invalid. */
  readonly offset: number;
}

/** Block number of an invalid TID (block.h, defined once in @pgsim/buffer-manager). */
export { InvalidBlockNumber };
/** Offset number of an invalid TID. */
export const InvalidOffsetNumber = 0;

/**
 * The text form PostgreSQL prints for a tid: `(block,offset)`.
 *
 * @example
 * ```ts
 * itemPointerToString({ block: 0, offset: 3 }); // "(0,3)"
 * ```
 */
export function itemPointerToString(tid: ItemPointer): string {
  return `(${tid.block},${tid.offset})`;
}

/**
 * Reads a 6-byte ItemPointerData. The block number is stored as two u16 halves, high half first.
 */
export function readItemPointer(bytes: Uint8Array, offset: number): ItemPointer {
  return { block: readItemPointerBlock(bytes, offset), offset: readUint16(bytes, offset + 4) };
}

/** Reads only the block number of an ItemPointerData (no allocation). */
export function readItemPointerBlock(bytes: Uint8Array, offset: number): number {
  return readUint16(bytes, offset) * 0x10000 + readUint16(bytes, offset + 2);
}

/** Writes a 6-byte ItemPointerData. */
export function writeItemPointer(bytes: Uint8Array, offset: number, tid: ItemPointer): void {
  assert(tid.block >= 0 && tid.block <= InvalidBlockNumber, "block number out of range");
  assert(tid.offset >= 0 && tid.offset <= 0xffff, "offset number out of range");
  itemPointerSet(bytes, offset, tid.block, tid.offset);
}

/**
 * ItemPointerSet: writes the 6-byte ItemPointerData at `offset` from a block and an offset
 * number, without building an ItemPointer (the insert path stamps every new tuple's t_ctid). The
 * caller passes a valid block number and OffsetNumber.
 */
export function itemPointerSet(
  bytes: Uint8Array,
  offset: number,
  block: number,
  offsetNumber: number,
): void {
  // The high half of a 32-bit block number (a shift, not a division: block < 2^32).
  writeUint16(bytes, offset, block >>> 16);
  writeUint16(bytes, offset + 2, block & 0xffff);
  writeUint16(bytes, offset + 4, offsetNumber);
}

// ---------------------------------------------------------------------------------------------
// Field accessors. Each takes the bytes holding the tuple and the offset of its first byte; the
// caller guarantees the 23 header bytes are in range.

/** t_xmin, the inserting transaction id (raw: frozen tuples keep it). */
export function heapTupleHeaderGetRawXmin(bytes: Uint8Array, tup: number): number {
  return readUint32(bytes, tup + T_XMIN_OFFSET);
}
/** Sets t_xmin. */
export function heapTupleHeaderSetXmin(bytes: Uint8Array, tup: number, xid: number): void {
  writeUint32(bytes, tup + T_XMIN_OFFSET, xid);
}
/** t_xmax as stored: an xid, or a MultiXactId when HEAP_XMAX_IS_MULTI. */
export function heapTupleHeaderGetRawXmax(bytes: Uint8Array, tup: number): number {
  return readUint32(bytes, tup + T_XMAX_OFFSET);
}
/** Sets t_xmax. */
export function heapTupleHeaderSetXmax(bytes: Uint8Array, tup: number, xid: number): void {
  writeUint32(bytes, tup + T_XMAX_OFFSET, xid);
}
/** t_field3 read as a command id (cmin, cmax or combo cid), unsigned. */
export function heapTupleHeaderGetRawCommandId(bytes: Uint8Array, tup: number): number {
  return readUint32(bytes, tup + T_FIELD3_OFFSET);
}
/** Sets t_field3 as a command id. */
export function heapTupleHeaderSetCmin(bytes: Uint8Array, tup: number, cid: number): void {
  writeUint32(bytes, tup + T_FIELD3_OFFSET, cid);
}
/** t_field3 read as t_xvac; meaningful only with HEAP_MOVED bits (pre-9.0 VACUUM FULL). */
export function heapTupleHeaderGetXvac(bytes: Uint8Array, tup: number): number {
  return (heapTupleHeaderGetInfomask(bytes, tup) & HEAP_MOVED) !== 0
    ? readUint32(bytes, tup + T_FIELD3_OFFSET)
    : 0;
}
/** t_ctid: the tuple's own TID, or its newer version's after an update. */
export function heapTupleHeaderGetCtid(bytes: Uint8Array, tup: number): ItemPointer {
  return readItemPointer(bytes, tup + T_CTID_OFFSET);
}
/** The offset number of t_ctid alone (no allocation): where a HOT chain goes on the same page. */
export function heapTupleHeaderGetCtidOffset(bytes: Uint8Array, tup: number): number {
  return readUint16(bytes, tup + T_CTID_OFFSET + 4);
}
/** Sets t_ctid. */
export function heapTupleHeaderSetCtid(bytes: Uint8Array, tup: number, tid: ItemPointer): void {
  writeItemPointer(bytes, tup + T_CTID_OFFSET, tid);
}
/** t_infomask2 (natts plus the HEAP2 flags). */
export function heapTupleHeaderGetInfomask2(bytes: Uint8Array, tup: number): number {
  return readUint16(bytes, tup + T_INFOMASK2_OFFSET);
}
/** Sets t_infomask2. */
export function heapTupleHeaderSetInfomask2(bytes: Uint8Array, tup: number, v: number): void {
  writeUint16(bytes, tup + T_INFOMASK2_OFFSET, v);
}
/** The number of attributes stored in the tuple (may be below the table's count). */
export function heapTupleHeaderGetNatts(bytes: Uint8Array, tup: number): number {
  return heapTupleHeaderGetInfomask2(bytes, tup) & HEAP_NATTS_MASK;
}
/** Sets natts, keeping the HEAP2 flag bits. */
export function heapTupleHeaderSetNatts(bytes: Uint8Array, tup: number, natts: number): void {
  assert(natts >= 0 && natts <= HEAP_NATTS_MASK, "natts out of range");
  const flags = heapTupleHeaderGetInfomask2(bytes, tup) & ~HEAP_NATTS_MASK;
  heapTupleHeaderSetInfomask2(bytes, tup, flags | natts);
}
/** t_infomask. */
export function heapTupleHeaderGetInfomask(bytes: Uint8Array, tup: number): number {
  return readUint16(bytes, tup + T_INFOMASK_OFFSET);
}
/** Sets t_infomask. */
export function heapTupleHeaderSetInfomask(bytes: Uint8Array, tup: number, v: number): void {
  writeUint16(bytes, tup + T_INFOMASK_OFFSET, v);
}
/** ORs hint bits (or any flags) into t_infomask, as SetHintBits does. */
export function heapTupleHeaderAddInfomask(bytes: Uint8Array, tup: number, bits: number): void {
  heapTupleHeaderSetInfomask(bytes, tup, heapTupleHeaderGetInfomask(bytes, tup) | bits);
}
/** t_hoff: the offset of the data area from the tuple start. */
export function heapTupleHeaderGetHoff(bytes: Uint8Array, tup: number): number {
  return bytes[tup + T_HOFF_OFFSET] ?? 0;
}
/** Sets t_hoff; it must be a multiple of 8 that leaves room for the header. */
export function heapTupleHeaderSetHoff(bytes: Uint8Array, tup: number, hoff: number): void {
  assert(
    hoff >= SizeofHeapTupleHeader && hoff <= 0xff && hoff % MAXIMUM_ALIGNOF === 0,
    "bad t_hoff",
  );
  bytes[tup + T_HOFF_OFFSET] = hoff;
}
/** True when the tuple has a null bitmap. */
export function heapTupleHasNulls(bytes: Uint8Array, tup: number): boolean {
  return (heapTupleHeaderGetInfomask(bytes, tup) & HEAP_HASNULL) !== 0;
}

/** Bytes of a null bitmap for `natts` attributes. */
export function bitmapLen(natts: number): number {
  return (natts + 7) >> 3;
}

/**
 * True when attribute `attnum0` (0-based) is NULL according to the bitmap starting at
 * `bitsOffset`. A set bit means "value present".
 */
export function attIsNull(bytes: Uint8Array, bitsOffset: number, attnum0: number): boolean {
  return ((bytes[bitsOffset + (attnum0 >> 3)] ?? 0) & (1 << (attnum0 & 7))) === 0;
}

/**
 * HEAP_XMAX_IS_LOCKED_ONLY: xmax only locked the row. Either LOCK_ONLY is set, or (the pre-9.3
 * pg_upgrade form) the lock bits are exactly EXCL_LOCK and xmax is not a multixact.
 */
export function heapXmaxIsLockedOnly(infomask: number): boolean {
  return (
    (infomask & HEAP_XMAX_LOCK_ONLY) !== 0 ||
    (infomask & (HEAP_XMAX_IS_MULTI | HEAP_LOCK_MASK)) === HEAP_XMAX_EXCL_LOCK
  );
}

/**
 * HeapTupleHeaderIsHotUpdated: the HOT chain goes on past this version. HEAP_HOT_UPDATED alone is
 * not enough: an xmax known invalid (the updater aborted) or an xmin known invalid (the version
 * itself was never committed) ends the chain whatever the bit says.
 */
export function heapTupleHeaderIsHotUpdated(bytes: Uint8Array, tup: number): boolean {
  const infomask = heapTupleHeaderGetInfomask(bytes, tup);
  return (
    (heapTupleHeaderGetInfomask2(bytes, tup) & HEAP_HOT_UPDATED) !== 0 &&
    (infomask & HEAP_XMAX_INVALID) === 0 &&
    (infomask & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID)) !== HEAP_XMIN_INVALID
  );
}

/** All header fields of one tuple, as read by `readHeapTupleHeader`. */
export interface HeapTupleHeaderFields {
  readonly xmin: number;
  readonly xmax: number;
  /** t_field3 as an unsigned 32-bit number. */
  readonly field3: number;
  readonly ctid: ItemPointer;
  readonly infomask2: number;
  readonly infomask: number;
  readonly hoff: number;
  /** natts from t_infomask2. */
  readonly natts: number;
}

/**
 * Reads every fixed header field of the tuple at `tup`. For inspection; hot paths use the single
 * field accessors.
 */
export function readHeapTupleHeader(bytes: Uint8Array, tup: number): HeapTupleHeaderFields {
  assert(tup >= 0 && tup + SizeofHeapTupleHeader <= bytes.length, "tuple header out of range");
  const infomask2 = heapTupleHeaderGetInfomask2(bytes, tup);
  return {
    xmin: heapTupleHeaderGetRawXmin(bytes, tup),
    xmax: heapTupleHeaderGetRawXmax(bytes, tup),
    field3: heapTupleHeaderGetRawCommandId(bytes, tup),
    ctid: heapTupleHeaderGetCtid(bytes, tup),
    infomask2,
    infomask: heapTupleHeaderGetInfomask(bytes, tup),
    hoff: heapTupleHeaderGetHoff(bytes, tup),
    natts: infomask2 & HEAP_NATTS_MASK,
  };
}

// ---------------------------------------------------------------------------------------------
// Flag names, as pageinspect's heap_tuple_infomask_flags prints them

const INFOMASK_NAMES: readonly (readonly [number, string])[] = [
  [HEAP_HASNULL, "HEAP_HASNULL"],
  [HEAP_HASVARWIDTH, "HEAP_HASVARWIDTH"],
  [HEAP_HASEXTERNAL, "HEAP_HASEXTERNAL"],
  [HEAP_HASOID_OLD, "HEAP_HASOID_OLD"],
  [HEAP_XMAX_KEYSHR_LOCK, "HEAP_XMAX_KEYSHR_LOCK"],
  [HEAP_COMBOCID, "HEAP_COMBOCID"],
  [HEAP_XMAX_EXCL_LOCK, "HEAP_XMAX_EXCL_LOCK"],
  [HEAP_XMAX_LOCK_ONLY, "HEAP_XMAX_LOCK_ONLY"],
  [HEAP_XMIN_COMMITTED, "HEAP_XMIN_COMMITTED"],
  [HEAP_XMIN_INVALID, "HEAP_XMIN_INVALID"],
  [HEAP_XMAX_COMMITTED, "HEAP_XMAX_COMMITTED"],
  [HEAP_XMAX_INVALID, "HEAP_XMAX_INVALID"],
  [HEAP_XMAX_IS_MULTI, "HEAP_XMAX_IS_MULTI"],
  [HEAP_UPDATED, "HEAP_UPDATED"],
  [HEAP_MOVED_OFF, "HEAP_MOVED_OFF"],
  [HEAP_MOVED_IN, "HEAP_MOVED_IN"],
];

const INFOMASK2_NAMES: readonly (readonly [number, string])[] = [
  [HEAP_KEYS_UPDATED, "HEAP_KEYS_UPDATED"],
  [HEAP_HOT_UPDATED, "HEAP_HOT_UPDATED"],
  [HEAP_ONLY_TUPLE, "HEAP_ONLY_TUPLE"],
];

const COMBINED_NAMES: readonly (readonly [number, string])[] = [
  [HEAP_XMAX_SHR_LOCK, "HEAP_XMAX_SHR_LOCK"],
  [HEAP_XMIN_FROZEN, "HEAP_XMIN_FROZEN"],
  [HEAP_MOVED, "HEAP_MOVED"],
];

/** Flag names of one tuple: every single bit (`raw`) and the multi-bit combinations present. */
export interface InfomaskFlagNames {
  raw: string[];
  combined: string[];
}

/**
 * Names the set bits of t_infomask and t_infomask2 in pageinspect's order (infomask bits from
 * low to high, then the infomask2 flags), plus the combinations whose bits are all set.
 *
 * @example
 * ```ts
 * infomaskFlagNames(0x0b00, 0x0002);
 * // { raw: ["HEAP_XMIN_COMMITTED", "HEAP_XMIN_INVALID", "HEAP_XMAX_INVALID"],
 * //   combined: ["HEAP_XMIN_FROZEN"] }
 * ```
 */
export function infomaskFlagNames(infomask: number, infomask2: number): InfomaskFlagNames {
  const raw: string[] = [];
  for (const [bit, name] of INFOMASK_NAMES) if ((infomask & bit) !== 0) raw.push(name);
  for (const [bit, name] of INFOMASK2_NAMES) if ((infomask2 & bit) !== 0) raw.push(name);
  const combined: string[] = [];
  for (const [bits, name] of COMBINED_NAMES) if ((infomask & bits) === bits) combined.push(name);
  return { raw, combined };
}
