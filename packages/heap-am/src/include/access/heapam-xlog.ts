/**
 * The heap resource manager's record bodies: opcodes, flag bits, and the structs heap records
 * carry, encoded and decoded byte for byte. So far the insert record (xl_heap_insert) and the
 * tuple header every heap record with a tuple uses (xl_heap_header).
 *
 * Models: src/include/access/heapam_xlog.h (XLOG_HEAP_* and XLOG_HEAP2_* opcodes,
 * XLOG_HEAP_INIT_PAGE, XLH_INSERT_* flags, xl_heap_insert, xl_heap_header, SizeOfHeapInsert,
 * SizeOfHeapHeader) and the tuple part of heapam.c's heap_insert logging (the tuple from offset
 * SizeofHeapTupleHeader on, after an xl_heap_header).
 * Entry points: `encodeXlHeapInsert`, `decodeXlHeapInsert`, `heapInsertBlockData`,
 * `decodeHeapInsertBlockData`, the opcode and flag constants.
 * See also: access/heap/heapam-xlog.ts (logs an insert), access/transam/xlog-desc.ts
 * (pg_waldump's text), docs/reference/postgres-wal.md §5.2–5.4.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readUint16, writeUint16 } from "../port/le-bytes.js";
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
