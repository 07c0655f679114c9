/**
 * The commit log (pg_xact): two status bits per transaction id in 8 KB pages — in files, and in
 * shared memory for the running cluster.
 *
 * Models: src/backend/access/transam/clog.c (TransactionIdToPage / ToPgIndex / ToByte / ToBIndex,
 * TransactionIdSetStatusBit, TransactionIdGetStatus, TransactionIdSetTreeStatus for a
 * transaction without subtransactions) and transam.c (TransactionLogFetch: the permanent xids).
 * Entry points: `clogPageGetStatus`, `clogPageSetStatus`, `transactionIdGetStatus` (files),
 * `clogGetStatus`, `clogSetStatus` (shared memory), `writeCommitLogFiles` (CheckPointCLOG:
 * pg_xact files of a disk-backed database).
 * See also: transam.ts (TransactionIdDidCommit), ../../storage/ipc/transam-shmem.ts (where the
 * shared commit log lives), ../heap/heapam-visibility.ts (heapTupleVisibleToNewSnapshot reads
 * the files through transactionIdGetStatus).
 *
 * File format: no page header and no checksum. xid k is in page (k / 32768), byte
 * ((k % 32768) / 4), bits 2*(k % 4) and 2*(k % 4)+1, the lowest bits holding the smallest xid of
 * the byte. A segment file holds 32 pages (1,048,576 xids) and is named by its segment number in
 * hex (pg_xact/0000, 0001, ...). In shared memory the same bytes are Int32 words, 16 xids each
 * (little-endian, so byte for byte the file format).
 *
 * Differs from PostgreSQL: the shared commit log is one fixed array instead of SLRU buffers over
 * pg_xact files (its size is the cluster's `maxXids`); a disk-backed database writes it to
 * pg_xact files at each checkpoint (writeCommitLogFiles), never in between.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { AssertionError, assert, PgsimError } from "@pgsim/clock-sweep";
import {
  BootstrapTransactionId,
  FirstNormalTransactionId,
  FrozenTransactionId,
  InvalidTransactionId,
} from "../../include/access/transam.js";
import { BLCKSZ } from "../../include/pg-config.js";
import { writeFileInPlace } from "../../storage/file/fd.js";
import type { TransamShmem } from "../../storage/ipc/transam-shmem.js";
import { RM_CLOG_ID } from "./rmgr.js";

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Transaction status values, as stored in the commit log. */
export const TRANSACTION_STATUS_IN_PROGRESS = 0;
export const TRANSACTION_STATUS_COMMITTED = 1;
export const TRANSACTION_STATUS_ABORTED = 2;
export const TRANSACTION_STATUS_SUB_COMMITTED = 3;
/** One of the four TRANSACTION_STATUS_* values. */
export type XidStatus = 0 | 1 | 2 | 3;

/** Layout of the commit log. */
export const CLOG_BITS_PER_XACT = 2;
export const CLOG_XACTS_PER_BYTE = 4;
/** A commit log page is one block (SLRU pages are BLCKSZ). */
export const CLOG_PAGE_SIZE = BLCKSZ;
export const CLOG_XACTS_PER_PAGE = CLOG_PAGE_SIZE * CLOG_XACTS_PER_BYTE;
export const SLRU_PAGES_PER_SEGMENT = 32;
export const CLOG_XACTS_PER_SEGMENT = CLOG_XACTS_PER_PAGE * SLRU_PAGES_PER_SEGMENT;
const CLOG_XACT_BITMASK = (1 << CLOG_BITS_PER_XACT) - 1;

assert(CLOG_XACTS_PER_PAGE === 32768, "a commit log page holds 32768 xids");
assert(CLOG_BITS_PER_XACT * CLOG_XACTS_PER_BYTE === 8, "status bits must fill a byte");

function checkXid(xid: number): void {
  if (!Number.isInteger(xid) || xid < 0 || xid > 0xffffffff) {
    throw new PgsimError("invalid-transaction-id", `invalid transaction id ${xid}`, { xid });
  }
}

/** The commit log page (counted from the first page of all segments) holding `xid`. */
export function transactionIdToPage(xid: number): number {
  return Math.floor(xid / CLOG_XACTS_PER_PAGE);
}
/** The index of `xid` within its page. */
export function transactionIdToPgIndex(xid: number): number {
  return xid % CLOG_XACTS_PER_PAGE;
}
/** The byte of its page that holds `xid`. */
export function transactionIdToByte(xid: number): number {
  return Math.floor(transactionIdToPgIndex(xid) / CLOG_XACTS_PER_BYTE);
}
/** The bit shift of `xid`'s two status bits within its byte. */
export function transactionIdToBIndex(xid: number): number {
  return (xid % CLOG_XACTS_PER_BYTE) * CLOG_BITS_PER_XACT;
}

/** Reads the status of `xid` from its commit log page (8192 bytes). */
export function clogPageGetStatus(page: Uint8Array, xid: number): XidStatus {
  checkXid(xid);
  assert(page.length === CLOG_PAGE_SIZE, "a commit log page has 8192 bytes");
  const byte = page[transactionIdToByte(xid)] ?? 0;
  return ((byte >> transactionIdToBIndex(xid)) & CLOG_XACT_BITMASK) as XidStatus;
}

/**
 * Writes the status of `xid` into its commit log page (TransactionIdSetStatusBit), leaving the
 * other three xids of the byte alone. The caller keeps PostgreSQL's rule that only
 * IN_PROGRESS → (SUB_COMMITTED →) COMMITTED or ABORTED transitions happen.
 */
export function clogPageSetStatus(page: Uint8Array, xid: number, status: XidStatus): void {
  checkXid(xid);
  assert(page.length === CLOG_PAGE_SIZE, "a commit log page has 8192 bytes");
  assert(status >= 0 && status <= 3, "status must be one of TRANSACTION_STATUS_*");
  const index = transactionIdToByte(xid);
  const shift = transactionIdToBIndex(xid);
  const byte = page[index] ?? 0;
  page[index] = (byte & ~(CLOG_XACT_BITMASK << shift)) | (status << shift);
}

/**
 * Where transaction statuses come from: a single segment file (`pg_xact/0000`, the common
 * case), or a map from segment number to segment file.
 */
export type CommitLog = Uint8Array | ReadonlyMap<number, Uint8Array>;

/**
 * The status of `xid` according to the commit log files (TransactionLogFetch).
 * The permanent xids need no lookup: 1 (bootstrap) and 2 (frozen) are committed, 0 (invalid)
 * counts as aborted. Throws `xid-status-unavailable` when the files do not reach `xid`, with
 * PostgreSQL's message "could not access status of transaction N".
 *
 * Differs from PostgreSQL: a SUB_COMMITTED status is returned as is; PostgreSQL would resolve
 * it through pg_subtrans to the parent's status.
 */
export function transactionIdGetStatus(clog: CommitLog, xid: number): XidStatus {
  checkXid(xid);
  if (xid === BootstrapTransactionId || xid === FrozenTransactionId)
    return TRANSACTION_STATUS_COMMITTED;
  if (xid === InvalidTransactionId) return TRANSACTION_STATUS_ABORTED;
  const segmentNumber = Math.floor(xid / CLOG_XACTS_PER_SEGMENT);
  const segment =
    clog instanceof Uint8Array ? (segmentNumber === 0 ? clog : undefined) : clog.get(segmentNumber);
  const byteInSegment =
    (transactionIdToPage(xid) % SLRU_PAGES_PER_SEGMENT) * CLOG_PAGE_SIZE + transactionIdToByte(xid);
  if (segment === undefined || byteInSegment >= segment.length) {
    const name = clogSegmentName(segmentNumber);
    throw new PgsimError(
      "xid-status-unavailable",
      `could not access status of transaction ${xid}`,
      {
        xid,
        detail: `Could not read from file "pg_xact/${name}" at offset ${byteInSegment}: read too few bytes.`,
      },
    );
  }
  return (((segment[byteInSegment] ?? 0) >> transactionIdToBIndex(xid)) &
    CLOG_XACT_BITMASK) as XidStatus;
}

/** The name of commit log segment `segno`: four (or more) uppercase hex digits, as SlruFileName. */
export function clogSegmentName(segno: number): string {
  return segno.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * Writes commit log pages (page 0 onwards, as Transam.commitLogPages returns them) into
 * `<dataDir>/pg_xact` as segment files of up to 32 pages each (CheckPointCLOG: SimpleLruWriteAll
 * and the fsync of every segment written).
 *
 * Differs from PostgreSQL: every segment is rewritten whole at each checkpoint, not only its
 * dirty pages, and segments are never truncated away (pgsim has no freezing horizon for them).
 */
export function writeCommitLogFiles(dataDir: string, pages: Uint8Array, sync = true): void {
  assert(pages.length % CLOG_PAGE_SIZE === 0, "commit log pages are whole pages");
  const dir = path.join(dataDir, "pg_xact");
  fs.mkdirSync(dir, { recursive: true });
  const segmentBytes = CLOG_PAGE_SIZE * SLRU_PAGES_PER_SEGMENT;
  for (let segno = 0; segno * segmentBytes < pages.length; segno++) {
    const bytes = pages.subarray(segno * segmentBytes, (segno + 1) * segmentBytes);
    const file = path.join(dir, clogSegmentName(segno));
    try {
      // In place, never truncated first: a crash mid-write must not lose the statuses there.
      writeFileInPlace(file, bytes, sync);
    } catch (error) {
      // A failed fsync is already a PANIC; a failed write is SlruReportIOError's ERROR.
      if (error instanceof PgsimError && error.code === "panic") throw error;
      const cause = error as PgsimError;
      throw new PgsimError(
        cause.code ?? "io-error",
        `could not write commit log segment "pg_xact/${clogSegmentName(segno)}"`,
        { path: file, detailMessage: cause.message },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The commit log in shared memory

/**
 * A copy of the shared commit log's pages, byte for byte in pg_xact's format, from page 0 through
 * the page holding the newest assigned xid (at least one page), for writing pg_xact files at a
 * checkpoint. Statuses are read atomically word by word; a transaction ending meanwhile may or
 * may not be in the copy, as with SLRU pages written while transactions end.
 */
export function clogCopyPages(shmem: TransamShmem, nextXid: number): Uint8Array {
  const newest = Math.max(nextXid - 1, 0);
  const bytes = (Math.floor(newest / CLOG_XACTS_PER_PAGE) + 1) * CLOG_PAGE_SIZE;
  const words = new Int32Array(bytes / 4);
  const available = Math.min(words.length, Math.ceil(shmem.maxXids / 16));
  for (let i = 0; i < available; i++) words[i] = Atomics.load(shmem.w, shmem.clog + i);
  // The shared words hold the bytes in little-endian order, as pg_xact on a little-endian host.
  const out = new Uint8Array(words.buffer);
  if (!LITTLE_ENDIAN) {
    for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
  }
  return out;
}

/**
 * TransactionIdGetStatus on the shared commit log. An xid beyond its capacity has not been
 * assigned, and reads as in progress.
 */
export function clogGetStatus(shmem: TransamShmem, xid: number): XidStatus {
  if (xid < 0 || xid >= shmem.maxXids) return TRANSACTION_STATUS_IN_PROGRESS;
  const word = Atomics.load(shmem.w, shmem.clog + (xid >>> 4));
  return ((word >>> ((xid & 15) * 2)) & CLOG_XACT_BITMASK) as XidStatus;
}

/**
 * TransactionIdSetTreeStatus for a transaction without subtransactions: records COMMITTED or
 * ABORTED for `xid`. A status moves only away from IN_PROGRESS (0), so an atomic OR sets it
 * without a lock; a second end of the same transaction is a bug.
 */
export function clogSetStatus(shmem: TransamShmem, xid: number, status: XidStatus): void {
  const slot = shmem.clog + (xid >>> 4);
  const shift = (xid & 15) * 2;
  const before = Atomics.or(shmem.w, slot, status << shift);
  if (((before >>> shift) & CLOG_XACT_BITMASK) !== TRANSACTION_STATUS_IN_PROGRESS) {
    throw new AssertionError(`transaction ${xid} ended twice`);
  }
}

/**
 * TrimCLOG: at the end of start-up, every status of an xid from `nextXid` on goes back to 0 (in
 * progress). pg_xact may hold statuses of xids past the recovered nextXid: a checkpoint writes the
 * commit log as it is while transactions go on ending (an abort's record is not flushed), and if
 * the WAL of such a transaction was lost in the crash, its xid is handed out again — it must not
 * find a status already there.
 *
 * Differs from PostgreSQL: PostgreSQL zeroes the rest of the current page (later pages are not
 * valid until ExtendCLOG zeroes them); pgsim's commit log is one array, so everything past
 * nextXid is cleared.
 */
export function trimClog(shmem: TransamShmem, nextXid: number): void {
  // What this backend cached of an xid being cleared is forgotten with it.
  if (shmem.cachedFetchXid >= nextXid) shmem.cachedFetchXid = 0;
  const words = Math.ceil(shmem.maxXids / 16);
  const first = nextXid >>> 4;
  if (first >= words) return;
  const keepBits = (nextXid & 15) * 2;
  Atomics.and(shmem.w, shmem.clog + first, keepBits === 0 ? 0 : (1 << keepBits) - 1);
  for (let i = first + 1; i < words; i++) {
    if (Atomics.load(shmem.w, shmem.clog + i) !== 0) Atomics.store(shmem.w, shmem.clog + i, 0);
  }
}

/**
 * StartUpCLOG for pgsim's shared commit log: loads every pg_xact segment of `dataDir` into shared
 * memory (statuses of xids beyond the capacity must all be 0, else the database needs a larger
 * `maxXids`). A missing pg_xact directory loads nothing.
 */
export function clogLoadFiles(shmem: TransamShmem, dataDir: string): void {
  const dir = path.join(dataDir, "pg_xact");
  if (!fs.existsSync(dir)) return;
  const segmentBytes = CLOG_PAGE_SIZE * SLRU_PAGES_PER_SEGMENT;
  for (const name of fs.readdirSync(dir)) {
    if (!/^[0-9A-F]{4,}$/.test(name)) continue;
    const segno = Number.parseInt(name, 16);
    const bytes = new Uint8Array(fs.readFileSync(path.join(dir, name)));
    for (let off = 0; off + 4 <= bytes.length; off += 4) {
      const word =
        bytes[off]! |
        (bytes[off + 1]! << 8) |
        (bytes[off + 2]! << 16) |
        (bytes[off + 3]! << 24) |
        0;
      const index = (segno * segmentBytes + off) / 4;
      if (index >= Math.ceil(shmem.maxXids / 16)) {
        if (word !== 0) {
          throw new PgsimError(
            "xid-capacity-exhausted",
            `pg_xact/${name} records transactions beyond the commit log's capacity (${shmem.maxXids}); open the database with a larger maxXids`,
          );
        }
        continue;
      }
      Atomics.store(shmem.w, shmem.clog + index, word);
    }
  }
}

/**
 * StartUpCLOG from a copy of the commit log's pages (a memory-only snapshot's; see
 * clogCopyPages): the words are stored into shared memory. Statuses beyond the capacity must all
 * be 0, else the database needs a larger `maxXids`. pgsim only.
 */
export function clogLoadPages(shmem: TransamShmem, bytes: Uint8Array, source: string): void {
  const capacityWords = Math.ceil(shmem.maxXids / 16);
  for (let off = 0; off + 4 <= bytes.length; off += 4) {
    const word =
      bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 24) | 0;
    const index = off / 4;
    if (index >= capacityWords) {
      if (word !== 0) {
        throw new PgsimError(
          "xid-capacity-exhausted",
          `${source} records transactions beyond the commit log's capacity (${shmem.maxXids}); open the database with a larger maxXids`,
        );
      }
      continue;
    }
    Atomics.store(shmem.w, shmem.clog + index, word);
  }
}

// ---------------------------------------------------------------------------------------------
// WAL: CLOG_ZEROPAGE

/** The commit log's resource manager's records (clog.h). */
export const CLOG_ZEROPAGE = 0x00;
export const CLOG_TRUNCATE = 0x10;

/**
 * ExtendCLOG's WAL half: when `xid` is the first of a commit-log page (or the first normal xid,
 * 3, as after initdb), logs CLOG_ZEROPAGE with the page number (not flushed, as in PostgreSQL).
 * Returns whether it logged.
 */
export function extendClogLog(
  xid: number,
  log: (rmid: number, info: number, data: Uint8Array) => void,
): boolean {
  if (xid % CLOG_XACTS_PER_PAGE !== 0 && xid !== FirstNormalTransactionId) return false;
  const data = new Uint8Array(4);
  new DataView(data.buffer).setInt32(0, Math.floor(xid / CLOG_XACTS_PER_PAGE), true);
  log(RM_CLOG_ID, CLOG_ZEROPAGE, data);
  return true;
}

/**
 * clog_redo of CLOG_ZEROPAGE: zeroes the page in the shared commit log.
 *
 * Differs from PostgreSQL: the page is not written to pg_xact at once (the commit log is
 * written whole at the end-of-recovery checkpoint).
 */
export function clogRedoZeroPage(shmem: TransamShmem, pageno: number): void {
  const first = (pageno * CLOG_XACTS_PER_PAGE) >>> 4;
  const words = CLOG_XACTS_PER_PAGE / 16;
  const last = Math.min(first + words, Math.ceil(shmem.maxXids / 16));
  for (let i = first; i < last; i++) Atomics.store(shmem.w, shmem.clog + i, 0);
}

/**
 * Redo of a commit or abort record: sets the transaction's status unless it is already final
 * (redo can replay a record whose effect the checkpoint's pg_xact already holds).
 */
export function clogRedoSetStatus(shmem: TransamShmem, xid: number, status: XidStatus): void {
  if (xid < 0 || xid >= shmem.maxXids) {
    throw new PgsimError(
      "xid-capacity-exhausted",
      `transaction ${xid} in the WAL is beyond the commit log's capacity (${shmem.maxXids}); reopen with a larger maxXids`,
    );
  }
  if (clogGetStatus(shmem, xid) === TRANSACTION_STATUS_IN_PROGRESS)
    clogSetStatus(shmem, xid, status);
}

/** clog_desc: what pg_waldump prints after a commit-log record's type. */
export function clogDesc(info: number, data: Uint8Array): string {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if ((info & 0xf0) === CLOG_ZEROPAGE && data.length >= 4) return `page ${v.getInt32(0, true)}`;
  if ((info & 0xf0) === CLOG_TRUNCATE && data.length >= 12) {
    return `page ${v.getInt32(0, true)}; oldestXact ${v.getUint32(4, true)}`;
  }
  return "";
}
