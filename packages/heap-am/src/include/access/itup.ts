/**
 * The index tuple header: IndexTupleData (t_tid, t_info) and its bit layout.
 *
 * Models: src/include/access/itup.h (IndexTupleData, INDEX_SIZE_MASK, INDEX_AM_RESERVED_BIT,
 * INDEX_VAR_MASK, INDEX_NULL_MASK, IndexInfoFindDataOffset, MaxIndexTuplesPerPage).
 * Entry points: `indexTupleSize`, `indexTupleInfo`, `indexInfoFindDataOffset`.
 * See also: ../../access/common/indextuple.ts (forming and reading index tuples), nbtree.ts (how
 * nbtree reuses the reserved bit and t_tid), htup-details.ts (ItemPointerData).
 *
 * Layout (8 bytes, then an optional 4-byte null bitmap, then the data MAXALIGNed):
 *   0..5  t_tid   ItemPointerData (block hi u16, block lo u16, offset u16)
 *   6..7  t_info  size (13 bits, the MAXALIGNed tuple size) | AM bit | VAR | NULL
 *   8..11 IndexAttributeBitMapData when INDEX_NULL_MASK (bit set = not null; 4 bytes always)
 */

import { assert } from "@pgsim/clock-sweep";
import { readUint16, writeUint16 } from "../port/le-bytes.js";
import { BLCKSZ, maxAlign } from "./htup-details.js";

/** sizeof(IndexTupleData): t_tid (6) + t_info (2). */
export const SizeOfIndexTupleData = 8;
/** Offset of t_info inside the tuple. */
export const T_INFO_OFFSET = 6;
/** INDEX_MAX_KEYS: attributes an index may have (the bitmap has one bit each). */
export const INDEX_MAX_KEYS = 32;
/** sizeof(IndexAttributeBitMapData): INDEX_MAX_KEYS bits. */
export const SizeOfIndexAttributeBitMap = INDEX_MAX_KEYS / 8;

/** t_info: the tuple size in bytes (already MAXALIGNed). */
export const INDEX_SIZE_MASK = 0x1fff;
/** t_info: reserved for the index AM (nbtree: INDEX_ALT_TID_MASK). */
export const INDEX_AM_RESERVED_BIT = 0x2000;
/** t_info: some stored, non-null attribute is variable width. */
export const INDEX_VAR_MASK = 0x4000;
/** t_info: some attribute is null; the null bitmap follows the header. */
export const INDEX_NULL_MASK = 0x8000;

/** MaxIndexTuplesPerPage: (BLCKSZ − page header) / (MAXALIGN(header + 1) + line pointer) = 408. */
export const MaxIndexTuplesPerPage = Math.floor(
  (BLCKSZ - 24) / (maxAlign(SizeOfIndexTupleData + 1) + 4),
);

assert(MaxIndexTuplesPerPage === 408, "MaxIndexTuplesPerPage is 408 for 8 KB pages");

/** t_info of the index tuple at `off` of `bytes`. */
export function indexTupleInfo(bytes: Uint8Array, off: number): number {
  return readUint16(bytes, off + T_INFO_OFFSET);
}

/** Sets t_info of the index tuple at `off`. */
export function indexTupleSetInfo(bytes: Uint8Array, off: number, info: number): void {
  writeUint16(bytes, off + T_INFO_OFFSET, info);
}

/** IndexTupleSize: the size recorded in t_info. */
export function indexTupleSize(bytes: Uint8Array, off: number): number {
  return indexTupleInfo(bytes, off) & INDEX_SIZE_MASK;
}

/** IndexTupleHasNulls. */
export function indexTupleHasNulls(bytes: Uint8Array, off: number): boolean {
  return (indexTupleInfo(bytes, off) & INDEX_NULL_MASK) !== 0;
}

/** IndexInfoFindDataOffset: 8 without a null bitmap, MAXALIGN(8 + 4) = 16 with one. */
export function indexInfoFindDataOffset(tInfo: number): number {
  return (tInfo & INDEX_NULL_MASK) === 0
    ? maxAlign(SizeOfIndexTupleData)
    : maxAlign(SizeOfIndexTupleData + SizeOfIndexAttributeBitMap);
}
