/**
 * Following out-of-line TOAST pointers into a copy of the TOAST table's file, for
 * `pgsim-inspect rows --toast FILE`.
 *
 * Models: src/backend/access/common/detoast.c (toast_fetch_datum, detoast_attr) and
 * heaptoast.c (heap_fetch_toast_slice): a value's chunks are the TOAST table's rows (chunk_id oid,
 * chunk_seq int4, chunk_data bytea) with chunk_id = va_valueid, in chunk_seq order from 0; their
 * data joined is the stored value, decompressed when the pointer says it is compressed.
 * Entry points: `ToastChunks`, `readToastChunks`, `fetchToastValue`.
 * See also: varlena.ts (pointers and decompression), rows.ts (the caller), visibility.ts.
 *
 * Differs from PostgreSQL: PostgreSQL looks chunks up through the TOAST table's index under
 * SnapshotToast; pgsim reads every page of the file and skips the chunks whose inserting
 * transaction is known to have aborted (HEAP_XMIN_INVALID, or aborted in the commit log given).
 * The TOAST table's OID (va_toastrelid) cannot be checked against a file name, which carries the
 * relfilenode: a value with no chunks in the file reports that instead.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { TRANSACTION_STATUS_ABORTED, transactionIdGetStatus } from "../access/transam/clog.js";
import {
  BLCKSZ,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_INVALID,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetRawXmin,
  MinHeapTupleSize,
} from "../include/access/htup-details.js";
import { readInt32, readUint32 } from "../include/port/le-bytes.js";
import { VARHDRSZ, varsizeAny } from "../include/varatt.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsNormal,
  pageGetItemId,
  pageGetMaxOffsetNumber,
} from "../storage/page/bufpage.js";
import { forkBlockCount, forkPage, verifyPage } from "./blocks.js";
import { decompressToastBytes, readStoredVarlena, type ToastPointer } from "./varlena.js";
import type { CommitLogSource } from "./visibility.js";

/** The chunks of a TOAST table file: chunk_id → chunk_seq → chunk data. */
export type ToastChunks = ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>;

function xminAborted(tuple: Uint8Array, source: CommitLogSource | undefined): boolean {
  const infomask = heapTupleHeaderGetInfomask(tuple, 0);
  if ((infomask & HEAP_XMIN_INVALID) !== 0 && (infomask & HEAP_XMIN_COMMITTED) === 0) return true;
  if ((infomask & HEAP_XMIN_COMMITTED) !== 0 || source === undefined) return false;
  try {
    return (
      transactionIdGetStatus(source.clog, heapTupleHeaderGetRawXmin(tuple, 0)) ===
      TRANSACTION_STATUS_ABORTED
    );
  } catch {
    return false;
  }
}

/**
 * Reads every chunk of a TOAST table's main fork file. Each page is verified (header, page kind,
 * checksum when `checksums`); a chunk that does not parse is `data-corrupted`.
 */
export function readToastChunks(
  file: Uint8Array,
  options: { checksums: boolean; xact?: CommitLogSource },
): ToastChunks {
  const chunks = new Map<number, Map<number, Uint8Array>>();
  const blockCount = forkBlockCount(file);
  for (let block = 0; block < blockCount; block++) {
    const page = forkPage(file, block);
    verifyPage(page, block, options.checksums);
    const count = pageGetMaxOffsetNumber(page);
    for (let lp = 1; lp <= count; lp++) {
      const itemId = pageGetItemId(page, lp);
      if (!itemIdIsNormal(itemId)) continue;
      const offset = itemIdGetOffset(itemId);
      const length = itemIdGetLength(itemId);
      if (length < MinHeapTupleSize || offset + length > BLCKSZ) continue;
      const tuple = page.subarray(offset, offset + length);
      if (xminAborted(tuple, options.xact)) continue;
      const hoff = heapTupleHeaderGetHoff(tuple, 0);
      // chunk_id (oid) and chunk_seq (int4) at the start of the data, then chunk_data (bytea,
      // storage plain: a 4-byte header, int-aligned, which offset 8 already is).
      const data = hoff + 8;
      const size = varsizeAny(tuple, data, tuple.length);
      if (hoff + 8 > tuple.length || size < 1 || data + size > tuple.length) {
        throw new PgsimError(
          "data-corrupted",
          `TOAST table block ${block}, item ${lp}: not a TOAST chunk (chunk_id, chunk_seq, chunk_data)`,
          { block, lp },
        );
      }
      const stored = readStoredVarlena(tuple, data, size);
      if (stored.kind !== "inline") {
        throw new PgsimError(
          "data-corrupted",
          `TOAST table block ${block}, item ${lp}: chunk_data is itself ${stored.kind}`,
          { block, lp },
        );
      }
      const chunkId = readUint32(tuple, hoff);
      const seq = readInt32(tuple, hoff + 4);
      let value = chunks.get(chunkId);
      if (value === undefined) {
        value = new Map();
        chunks.set(chunkId, value);
      }
      value.set(seq, stored.payload.slice());
    }
  }
  return chunks;
}

/**
 * toast_fetch_datum followed by decompression: the value a TOAST pointer stands for, as its
 * payload (the bytes after the varlena header). Throws `data-corrupted` with PostgreSQL's
 * messages when chunks are missing or the wrong size ("missing chunk number 2 for toast value
 * 16390 in TOAST file"), or when the data does not decompress.
 */
export function fetchToastValue(pointer: ToastPointer, chunks: ToastChunks): Uint8Array {
  const where = `toast value ${pointer.va_valueid} in the TOAST file`;
  const value = chunks.get(pointer.va_valueid);
  if (value === undefined) {
    throw new PgsimError(
      "data-corrupted",
      `no chunks for ${where} (is it the TOAST table of relation OID ${pointer.va_toastrelid}?)`,
      { valueid: pointer.va_valueid },
    );
  }
  const joined = new Uint8Array(pointer.va_extsize);
  let filled = 0;
  for (let seq = 0; filled < pointer.va_extsize; seq++) {
    const chunk = value.get(seq);
    if (chunk === undefined) {
      throw new PgsimError("data-corrupted", `missing chunk number ${seq} for ${where}`, {
        valueid: pointer.va_valueid,
        seq,
      });
    }
    if (filled + chunk.length > joined.length) {
      throw new PgsimError(
        "data-corrupted",
        `unexpected chunk size ${chunk.length} in chunk ${seq} for ${where}`,
        { valueid: pointer.va_valueid, seq },
      );
    }
    joined.set(chunk, filled);
    filled += chunk.length;
  }
  if (pointer.compression === null) return joined;
  // A compressed value is stored with its va_tcinfo word first (raw size and method).
  const rawSize = (readUint32(joined, 0) & 0x3fffffff) >>> 0;
  if (rawSize !== pointer.va_rawsize - VARHDRSZ) {
    throw new PgsimError(
      "data-corrupted",
      `${where}: raw size ${rawSize} does not match the pointer's ${pointer.va_rawsize - VARHDRSZ}`,
      { valueid: pointer.va_valueid },
    );
  }
  return decompressToastBytes(pointer.compression, joined.subarray(4), rawSize);
}
