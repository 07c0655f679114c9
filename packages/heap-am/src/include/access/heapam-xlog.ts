/**
 * The heap resource manager's record bodies: opcodes, flag bits, and the structs heap and heap2
 * records carry, encoded and decoded byte for byte (little-endian, the x86-64 layouts with their
 * padding).
 *
 * Models: src/include/access/heapam_xlog.h (XLOG_HEAP_* and XLOG_HEAP2_* opcodes,
 * XLOG_HEAP_INIT_PAGE, the XLH_* and XLHL_* flags, xl_heap_insert, xl_heap_header,
 * xl_heap_multi_insert, xl_multi_insert_tuple, xl_heap_update, xl_heap_delete, xl_heap_lock,
 * xl_heap_lock_updated, xl_heap_confirm, xl_heap_inplace, xl_heap_prune, xl_heap_vacuum,
 * xl_heap_freeze_page, xl_heap_freeze_tuple, xl_heap_visible and their SizeOf* constants) and the
 * tuple part of heapam.c's logging (the tuple from offset SizeofHeapTupleHeader on, after an
 * xl_heap_header).
 * Entry points: `encodeXlHeap*` / `decodeXlHeap*` for each struct, `heapInsertBlockData`,
 * `decodeHeapInsertBlockData`, `encodeMultiInsertTuples`, the opcode and flag constants.
 * See also: access/heap/heapam-xlog.ts (writes the records), access/heap/heapam-redo.ts (replays
 * them), access/transam/xlog-desc.ts (pg_waldump's text), docs/reference/postgres-wal.md §5.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readUint16, readUint32, writeUint16, writeUint32 } from "../port/le-bytes.js";
import {
  SizeofHeapTupleHeader,
  T_HOFF_OFFSET,
  T_INFOMASK_OFFSET,
  T_INFOMASK2_OFFSET,
} from "./htup-details.js";

/** Heap (RM_HEAP_ID) opcodes. */
export const XLOG_HEAP_INSERT = 0x00;
export const XLOG_HEAP_DELETE = 0x10;
export const XLOG_HEAP_UPDATE = 0x20;
export const XLOG_HEAP_TRUNCATE = 0x30;
export const XLOG_HEAP_HOT_UPDATE = 0x40;
export const XLOG_HEAP_CONFIRM = 0x50;
export const XLOG_HEAP_LOCK = 0x60;
export const XLOG_HEAP_INPLACE = 0x70;
/** The opcode bits of a heap record's xl_info. */
export const XLOG_HEAP_OPMASK = 0x70;
/** The new tuple(s) are the only content of a page that redo initializes. */
export const XLOG_HEAP_INIT_PAGE = 0x80;

/** Heap2 (RM_HEAP2_ID) opcodes. */
export const XLOG_HEAP2_REWRITE = 0x00;
export const XLOG_HEAP2_PRUNE = 0x10;
export const XLOG_HEAP2_VACUUM = 0x20;
export const XLOG_HEAP2_FREEZE_PAGE = 0x30;
export const XLOG_HEAP2_VISIBLE = 0x40;
export const XLOG_HEAP2_MULTI_INSERT = 0x50;
export const XLOG_HEAP2_LOCK_UPDATED = 0x60;
export const XLOG_HEAP2_NEW_CID = 0x70;

/** xl_heap_insert.flags. */
export const XLH_INSERT_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_INSERT_LAST_IN_MULTI = 0x02;
export const XLH_INSERT_IS_SPECULATIVE = 0x04;
export const XLH_INSERT_CONTAINS_NEW_TUPLE = 0x08;
export const XLH_INSERT_ON_TOAST_RELATION = 0x10;
export const XLH_INSERT_ALL_FROZEN_SET = 0x20;

/** SizeOfHeapInsert: offnum u16, flags u8. */
export const SizeOfHeapInsert = 3;
/** SizeOfHeapHeader: t_infomask2 u16, t_infomask u16, t_hoff u8. */
export const SizeOfHeapHeader = 5;

/** xl_heap_insert: the main data of XLOG_HEAP_INSERT. */
export interface XlHeapInsert {
  /** The inserted tuple's line pointer. */
  readonly offnum: number;
  /** XLH_INSERT_* bits. */
  readonly flags: number;
}

/** xl_heap_header: what redo needs to rebuild a tuple's header. */
export interface XlHeapHeader {
  readonly infomask2: number;
  readonly infomask: number;
  readonly hoff: number;
}

function badRecord(message: string): PgsimError {
  return new PgsimError("invalid-heap-record", message);
}

/** The 3 bytes of an xl_heap_insert. */
export function encodeXlHeapInsert(x: XlHeapInsert): Uint8Array {
  const b = new Uint8Array(SizeOfHeapInsert);
  writeUint16(b, 0, x.offnum);
  b[2] = x.flags;
  return b;
}

/** Decodes an insert record's main data; throws `invalid-heap-record` unless it is 3 bytes. */
export function decodeXlHeapInsert(bytes: Uint8Array): XlHeapInsert {
  if (bytes.length !== SizeOfHeapInsert) {
    throw badRecord(
      `heap insert record: main data is ${bytes.length} bytes, expected ${SizeOfHeapInsert}`,
    );
  }
  return { offnum: readUint16(bytes, 0), flags: bytes[2]! };
}

/**
 * An insert record's block data for `tuple` (a whole heap tuple, header included): the
 * xl_heap_header taken from the tuple's header, then the tuple's bytes from offset 23 on (null
 * bitmap, padding, user data) — xmin, xmax, cid and ctid are not logged; redo rebuilds them.
 */
export function heapInsertBlockData(tuple: Uint8Array): Uint8Array {
  if (tuple.length < SizeofHeapTupleHeader) {
    throw badRecord(`a heap tuple is at least ${SizeofHeapTupleHeader} bytes, got ${tuple.length}`);
  }
  const out = new Uint8Array(SizeOfHeapHeader + tuple.length - SizeofHeapTupleHeader);
  writeUint16(out, 0, readUint16(tuple, T_INFOMASK2_OFFSET));
  writeUint16(out, 2, readUint16(tuple, T_INFOMASK_OFFSET));
  out[4] = tuple[T_HOFF_OFFSET]!;
  out.set(tuple.subarray(SizeofHeapTupleHeader), SizeOfHeapHeader);
  return out;
}

/** Splits an insert record's block data into its xl_heap_header and the tuple body. */
export function decodeHeapInsertBlockData(data: Uint8Array): {
  readonly header: XlHeapHeader;
  readonly body: Uint8Array;
} {
  if (data.length < SizeOfHeapHeader) {
    throw badRecord(`heap insert block data is ${data.length} bytes, shorter than xl_heap_header`);
  }
  return {
    header: { infomask2: readUint16(data, 0), infomask: readUint16(data, 2), hoff: data[4]! },
    body: data.subarray(SizeOfHeapHeader),
  };
}

// ---------------------------------------------------------------------------------------------
// Flags of the other records (heapam_xlog.h).

/** xl_heap_update.flags. */
export const XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED = 0x02;
export const XLH_UPDATE_CONTAINS_OLD_TUPLE = 0x04;
export const XLH_UPDATE_CONTAINS_OLD_KEY = 0x08;
export const XLH_UPDATE_CONTAINS_NEW_TUPLE = 0x10;
export const XLH_UPDATE_PREFIX_FROM_OLD = 0x20;
export const XLH_UPDATE_SUFFIX_FROM_OLD = 0x40;

/** xl_heap_delete.flags. */
export const XLH_DELETE_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_DELETE_CONTAINS_OLD_TUPLE = 0x02;
export const XLH_DELETE_CONTAINS_OLD_KEY = 0x04;
export const XLH_DELETE_IS_SUPER = 0x08;
export const XLH_DELETE_IS_PARTITION_MOVE = 0x10;

/** xl_heap_lock.flags (and xl_heap_lock_updated.flags). */
export const XLH_LOCK_ALL_FROZEN_CLEARED = 0x01;

/** infobits_set: the xmax bits of a tuple, compactly (compute_infobits). */
export const XLHL_XMAX_IS_MULTI = 0x01;
export const XLHL_XMAX_LOCK_ONLY = 0x02;
export const XLHL_XMAX_EXCL_LOCK = 0x04;
export const XLHL_XMAX_KEYSHR_LOCK = 0x08;
export const XLHL_KEYS_UPDATED = 0x10;

/** xl_heap_freeze_tuple.frzflags. */
export const XLH_FREEZE_XVAC = 0x02;
export const XLH_INVALID_XVAC = 0x04;

/** xl_heap_visible.flags are VISIBILITYMAP_ALL_VISIBLE (0x01) and VISIBILITYMAP_ALL_FROZEN (0x02). */

// ---------------------------------------------------------------------------------------------
// Sizes (SizeOf*: offsetof the last field plus its size, so no trailing padding).

/** SizeOfHeapMultiInsert: flags u8, pad, ntuples u16 (then the offsets array). */
export const SizeOfHeapMultiInsert = 4;
/** SizeOfMultiInsertTuple: datalen u16, t_infomask2 u16, t_infomask u16, t_hoff u8. */
export const SizeOfMultiInsertTuple = 7;
/** SizeOfHeapUpdate: old_xmax, old_offnum, old_infobits_set, flags, new_xmax, new_offnum. */
export const SizeOfHeapUpdate = 14;
/** SizeOfHeapDelete: xmax u32, offnum u16, infobits_set u8, flags u8. */
export const SizeOfHeapDelete = 8;
/** SizeOfHeapLock: locking_xid u32, offnum u16, infobits_set i8, flags u8. */
export const SizeOfHeapLock = 8;
/** SizeOfHeapLockUpdated: xmax u32, offnum u16, infobits_set u8, flags u8. */
export const SizeOfHeapLockUpdated = 8;
/** SizeOfHeapConfirm and SizeOfHeapInplace: offnum u16. */
export const SizeOfHeapConfirm = 2;
export const SizeOfHeapInplace = 2;
/** SizeOfHeapPrune: latestRemovedXid u32, nredirected u16, ndead u16. */
export const SizeOfHeapPrune = 8;
/** SizeOfHeapVacuum: nunused u16. */
export const SizeOfHeapVacuum = 2;
/** SizeOfHeapFreezePage: cutoff_xid u32, ntuples u16. */
export const SizeOfHeapFreezePage = 6;
/** sizeof(xl_heap_freeze_tuple): xmax, offset, t_infomask2, t_infomask, frzflags, one pad byte. */
export const SizeOfHeapFreezeTuple = 12;
/** SizeOfHeapVisible: cutoff_xid u32, flags u8. */
export const SizeOfHeapVisible = 5;

function expectLength(what: string, bytes: Uint8Array, min: number, exact = true): void {
  if (exact ? bytes.length !== min : bytes.length < min) {
    throw badRecord(
      `${what} record: main data is ${bytes.length} bytes, expected ${exact ? "" : "at least "}${min}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP2_MULTI_INSERT.

/** xl_heap_multi_insert: flags, and the offsets (absent when the record re-initializes the page). */
export interface XlHeapMultiInsert {
  readonly flags: number;
  readonly ntuples: number;
  /** The tuples' offsets; empty with XLOG_HEAP_INIT_PAGE (they are then 1..ntuples). */
  readonly offsets: readonly number[];
}

/** The main data of a multi-insert: 4 bytes, then 2 per offset unless `init`. */
export function encodeXlHeapMultiInsert(x: XlHeapMultiInsert, init: boolean): Uint8Array {
  const b = new Uint8Array(SizeOfHeapMultiInsert + (init ? 0 : 2 * x.ntuples));
  b[0] = x.flags;
  writeUint16(b, 2, x.ntuples);
  if (!init) for (let i = 0; i < x.ntuples; i++) writeUint16(b, 4 + 2 * i, x.offsets[i]!);
  return b;
}

/** Decodes a multi-insert's main data (with offsets unless `init`). */
export function decodeXlHeapMultiInsert(bytes: Uint8Array, init: boolean): XlHeapMultiInsert {
  expectLength("heap2 multi-insert", bytes, SizeOfHeapMultiInsert, false);
  const ntuples = readUint16(bytes, 2);
  const offsets: number[] = [];
  if (!init) {
    expectLength("heap2 multi-insert", bytes, SizeOfHeapMultiInsert + 2 * ntuples);
    for (let i = 0; i < ntuples; i++) offsets.push(readUint16(bytes, 4 + 2 * i));
  }
  return { flags: bytes[0]!, ntuples, offsets };
}

/**
 * A multi-insert's block data: per tuple an xl_multi_insert_tuple (datalen, infomask2, infomask,
 * hoff) and the tuple's bytes from offset 23 on, each header starting at an even offset (a zero
 * pad byte after an odd-length body; PostgreSQL leaves that byte as it was in its scratch space).
 */
export function encodeMultiInsertTuples(tuples: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const t of tuples) {
    len += len & 1;
    len += SizeOfMultiInsertTuple + t.length - SizeofHeapTupleHeader;
  }
  const out = new Uint8Array(len);
  let p = 0;
  for (const t of tuples) {
    p += p & 1;
    const datalen = t.length - SizeofHeapTupleHeader;
    writeUint16(out, p, datalen);
    writeUint16(out, p + 2, readUint16(t, T_INFOMASK2_OFFSET));
    writeUint16(out, p + 4, readUint16(t, T_INFOMASK_OFFSET));
    out[p + 6] = t[T_HOFF_OFFSET]!;
    const at = p + SizeOfMultiInsertTuple;
    if (datalen <= 64) {
      // A short body (most are): a loop costs less than a subarray and a set.
      for (let i = 0; i < datalen; i++) out[at + i] = t[SizeofHeapTupleHeader + i]!;
    } else {
      out.set(t.subarray(SizeofHeapTupleHeader), at);
    }
    p += SizeOfMultiInsertTuple + datalen;
  }
  return out;
}

/** One tuple of a multi-insert's block data. */
export interface MultiInsertTuple {
  readonly header: XlHeapHeader;
  readonly body: Uint8Array;
}

/**
 * Splits a multi-insert's block data into `ntuples` tuples; throws `invalid-heap-record` ("total
 * tuple length mismatch", PostgreSQL's PANIC) when the bytes do not add up.
 */
export function decodeMultiInsertTuples(data: Uint8Array, ntuples: number): MultiInsertTuple[] {
  const out: MultiInsertTuple[] = [];
  let p = 0;
  for (let i = 0; i < ntuples; i++) {
    p += p & 1;
    if (p + SizeOfMultiInsertTuple > data.length) throw badRecord("total tuple length mismatch");
    const datalen = readUint16(data, p);
    const header = {
      infomask2: readUint16(data, p + 2),
      infomask: readUint16(data, p + 4),
      hoff: data[p + 6]!,
    };
    p += SizeOfMultiInsertTuple;
    if (p + datalen > data.length) throw badRecord("total tuple length mismatch");
    out.push({ header, body: data.subarray(p, p + datalen) });
    p += datalen;
  }
  if (p !== data.length) throw badRecord("total tuple length mismatch");
  return out;
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP_UPDATE / XLOG_HEAP_HOT_UPDATE.

/** xl_heap_update. */
export interface XlHeapUpdate {
  readonly oldXmax: number;
  readonly oldOffnum: number;
  readonly oldInfobitsSet: number;
  readonly flags: number;
  readonly newXmax: number;
  readonly newOffnum: number;
}

export function encodeXlHeapUpdate(x: XlHeapUpdate): Uint8Array {
  return encodeXlHeapUpdateInto(new Uint8Array(SizeOfHeapUpdate), x);
}

/** encodeXlHeapUpdate into `b` (at least SizeOfHeapUpdate bytes, e.g. a reused buffer); returns `b`. */
export function encodeXlHeapUpdateInto(b: Uint8Array, x: XlHeapUpdate): Uint8Array {
  writeUint32(b, 0, x.oldXmax);
  writeUint16(b, 4, x.oldOffnum);
  b[6] = x.oldInfobitsSet;
  b[7] = x.flags;
  writeUint32(b, 8, x.newXmax);
  writeUint16(b, 12, x.newOffnum);
  return b;
}

/** Decodes an update's xl_heap_update (the first 14 bytes; logical decoding may add more). */
export function decodeXlHeapUpdate(bytes: Uint8Array): XlHeapUpdate {
  expectLength("heap update", bytes, SizeOfHeapUpdate, false);
  return {
    oldXmax: readUint32(bytes, 0),
    oldOffnum: readUint16(bytes, 4),
    oldInfobitsSet: bytes[6]!,
    flags: bytes[7]!,
    newXmax: readUint32(bytes, 8),
    newOffnum: readUint16(bytes, 12),
  };
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP_DELETE.

/** xl_heap_delete. */
export interface XlHeapDelete {
  readonly xmax: number;
  readonly offnum: number;
  readonly infobitsSet: number;
  readonly flags: number;
}

export function encodeXlHeapDelete(x: XlHeapDelete): Uint8Array {
  return encodeXlHeapDeleteInto(new Uint8Array(SizeOfHeapDelete), x);
}

/** encodeXlHeapDelete into `b` (at least SizeOfHeapDelete bytes); returns `b`. */
export function encodeXlHeapDeleteInto(b: Uint8Array, x: XlHeapDelete): Uint8Array {
  writeUint32(b, 0, x.xmax);
  writeUint16(b, 4, x.offnum);
  b[6] = x.infobitsSet;
  b[7] = x.flags;
  return b;
}

/** Decodes a delete's xl_heap_delete (the first 8 bytes; logical decoding may add more). */
export function decodeXlHeapDelete(bytes: Uint8Array): XlHeapDelete {
  expectLength("heap delete", bytes, SizeOfHeapDelete, false);
  return {
    xmax: readUint32(bytes, 0),
    offnum: readUint16(bytes, 4),
    infobitsSet: bytes[6]!,
    flags: bytes[7]!,
  };
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP_LOCK and XLOG_HEAP2_LOCK_UPDATED (the same 8-byte layout).

/** xl_heap_lock (`xid` is locking_xid) and xl_heap_lock_updated (`xid` is xmax). */
export interface XlHeapLock {
  readonly xid: number;
  readonly offnum: number;
  readonly infobitsSet: number;
  readonly flags: number;
}

export function encodeXlHeapLock(x: XlHeapLock): Uint8Array {
  return encodeXlHeapLockInto(new Uint8Array(SizeOfHeapLock), x);
}

/** encodeXlHeapLock into `b` (at least SizeOfHeapLock bytes); returns `b`. */
export function encodeXlHeapLockInto(b: Uint8Array, x: XlHeapLock): Uint8Array {
  writeUint32(b, 0, x.xid);
  writeUint16(b, 4, x.offnum);
  b[6] = x.infobitsSet;
  b[7] = x.flags;
  return b;
}

export function decodeXlHeapLock(bytes: Uint8Array): XlHeapLock {
  expectLength("heap lock", bytes, SizeOfHeapLock);
  return {
    xid: readUint32(bytes, 0),
    offnum: readUint16(bytes, 4),
    infobitsSet: bytes[6]!,
    flags: bytes[7]!,
  };
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP_CONFIRM and XLOG_HEAP_INPLACE: an offset number.

/** xl_heap_confirm / xl_heap_inplace: the tuple's offset. */
export function decodeXlHeapOffnum(bytes: Uint8Array): number {
  expectLength("heap confirm/inplace", bytes, SizeOfHeapConfirm, false);
  return readUint16(bytes, 0);
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP2_PRUNE.

/** xl_heap_prune. */
export interface XlHeapPrune {
  readonly latestRemovedXid: number;
  readonly nredirected: number;
  readonly ndead: number;
}

export function encodeXlHeapPrune(x: XlHeapPrune): Uint8Array {
  const b = new Uint8Array(SizeOfHeapPrune);
  writeUint32(b, 0, x.latestRemovedXid);
  writeUint16(b, 4, x.nredirected);
  writeUint16(b, 6, x.ndead);
  return b;
}

export function decodeXlHeapPrune(bytes: Uint8Array): XlHeapPrune {
  expectLength("heap2 prune", bytes, SizeOfHeapPrune);
  return {
    latestRemovedXid: readUint32(bytes, 0),
    nredirected: readUint16(bytes, 4),
    ndead: readUint16(bytes, 6),
  };
}

/** An array of OffsetNumbers (u16) as bytes. */
export function encodeOffsets(offsets: ArrayLike<number>, count = offsets.length): Uint8Array {
  const b = new Uint8Array(2 * count);
  for (let i = 0; i < count; i++) writeUint16(b, 2 * i, offsets[i]!);
  return b;
}

/** Reads `count` OffsetNumbers from `bytes` at `offset`. */
export function decodeOffsets(bytes: Uint8Array, offset: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(readUint16(bytes, offset + 2 * i));
  return out;
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP2_VACUUM.

/** xl_heap_vacuum: how many offsets the block data holds. */
export function encodeXlHeapVacuum(nunused: number): Uint8Array {
  const b = new Uint8Array(SizeOfHeapVacuum);
  writeUint16(b, 0, nunused);
  return b;
}

export function decodeXlHeapVacuum(bytes: Uint8Array): { readonly nunused: number } {
  expectLength("heap2 vacuum", bytes, SizeOfHeapVacuum);
  return { nunused: readUint16(bytes, 0) };
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP2_FREEZE_PAGE.

/** xl_heap_freeze_page. */
export interface XlHeapFreezePage {
  readonly cutoffXid: number;
  readonly ntuples: number;
}

export function encodeXlHeapFreezePage(x: XlHeapFreezePage): Uint8Array {
  const b = new Uint8Array(SizeOfHeapFreezePage);
  writeUint32(b, 0, x.cutoffXid);
  writeUint16(b, 4, x.ntuples);
  return b;
}

export function decodeXlHeapFreezePage(bytes: Uint8Array): XlHeapFreezePage {
  expectLength("heap2 freeze", bytes, SizeOfHeapFreezePage);
  return { cutoffXid: readUint32(bytes, 0), ntuples: readUint16(bytes, 4) };
}

/** xl_heap_freeze_tuple: a tuple's header after freezing. */
export interface XlHeapFreezeTuple {
  readonly xmax: number;
  readonly offset: number;
  readonly infomask2: number;
  readonly infomask: number;
  readonly frzflags: number;
}

/** The block data of a freeze record: 12 bytes per tuple (the pad byte zero). */
export function encodeXlHeapFreezeTuples(tuples: readonly XlHeapFreezeTuple[]): Uint8Array {
  const b = new Uint8Array(SizeOfHeapFreezeTuple * tuples.length);
  tuples.forEach((t, i) => {
    const p = SizeOfHeapFreezeTuple * i;
    writeUint32(b, p, t.xmax);
    writeUint16(b, p + 4, t.offset);
    writeUint16(b, p + 6, t.infomask2);
    writeUint16(b, p + 8, t.infomask);
    b[p + 10] = t.frzflags;
  });
  return b;
}

/** Reads `ntuples` xl_heap_freeze_tuple entries; throws unless the data holds exactly them. */
export function decodeXlHeapFreezeTuples(data: Uint8Array, ntuples: number): XlHeapFreezeTuple[] {
  if (data.length !== SizeOfHeapFreezeTuple * ntuples) {
    throw badRecord(
      `heap2 freeze record: block data is ${data.length} bytes for ${ntuples} tuples`,
    );
  }
  const out: XlHeapFreezeTuple[] = [];
  for (let i = 0; i < ntuples; i++) {
    const p = SizeOfHeapFreezeTuple * i;
    out.push({
      xmax: readUint32(data, p),
      offset: readUint16(data, p + 4),
      infomask2: readUint16(data, p + 6),
      infomask: readUint16(data, p + 8),
      frzflags: data[p + 10]!,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// XLOG_HEAP2_VISIBLE.

/** xl_heap_visible: the VM bits set, and the newest xmin on the page (for standby conflicts). */
export interface XlHeapVisible {
  readonly cutoffXid: number;
  readonly flags: number;
}

export function encodeXlHeapVisible(x: XlHeapVisible): Uint8Array {
  const b = new Uint8Array(SizeOfHeapVisible);
  writeUint32(b, 0, x.cutoffXid);
  b[4] = x.flags;
  return b;
}

export function decodeXlHeapVisible(bytes: Uint8Array): XlHeapVisible {
  expectLength("heap2 visible", bytes, SizeOfHeapVisible);
  return { cutoffXid: readUint32(bytes, 0), flags: bytes[4]! };
}
