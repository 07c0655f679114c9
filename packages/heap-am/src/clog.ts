/**
 * The commit log (pg_xact): two status bits per transaction id in 8 KB pages, and an offline
 * visibility test that combines a tuple's hint bits with it.
 *
 * Models: src/backend/access/transam/clog.c (TransactionIdToPage / ToPgIndex / ToByte / ToBIndex,
 * TransactionIdSetStatusBit, TransactionIdGetStatus), transam.c (TransactionLogFetch: the
 * permanent xids), and the parts of heapam_visibility.c HeapTupleSatisfiesMVCC that matter to a
 * snapshot taken after every transaction ended.
 * Entry points: `clogPageGetStatus`, `clogPageSetStatus`, `transactionIdGetStatus`,
 * `heapTupleVisibleToNewSnapshot`, `writeCommitLogFiles` (CheckPointCLOG: pg_xact files of a
 * disk-backed database).
 * See also: htup-details.ts (the hint bits), inspect/rows.ts (the caller).
 *
 * File format: no page header and no checksum. xid k is in page (k / 32768), byte
 * ((k % 32768) / 4), bits 2*(k % 4) and 2*(k % 4)+1, the lowest bits holding the smallest xid of
 * the byte. A segment file holds 32 pages (1,048,576 xids) and is named by its segment number in
 * hex (pg_xact/0000, 0001, ...).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import {
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapXmaxIsLockedOnly,
} from "./htup-details.js";

/** Transaction status values, as stored in the commit log. */
export const TRANSACTION_STATUS_IN_PROGRESS = 0;
export const TRANSACTION_STATUS_COMMITTED = 1;
export const TRANSACTION_STATUS_ABORTED = 2;
export const TRANSACTION_STATUS_SUB_COMMITTED = 3;
/** One of the four TRANSACTION_STATUS_* values. */
export type XidStatus = 0 | 1 | 2 | 3;

/** Special transaction ids. */
export const InvalidTransactionId = 0;
export const BootstrapTransactionId = 1;
export const FrozenTransactionId = 2;
export const FirstNormalTransactionId = 3;

/** Layout of the commit log. */
export const CLOG_BITS_PER_XACT = 2;
export const CLOG_XACTS_PER_BYTE = 4;
export const CLOG_PAGE_SIZE = 8192;
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
export function writeCommitLogFiles(dataDir: string, pages: Uint8Array): void {
  assert(pages.length % CLOG_PAGE_SIZE === 0, "commit log pages are whole pages");
  const dir = path.join(dataDir, "pg_xact");
  fs.mkdirSync(dir, { recursive: true });
  const segmentBytes = CLOG_PAGE_SIZE * SLRU_PAGES_PER_SEGMENT;
  for (let segno = 0; segno * segmentBytes < pages.length; segno++) {
    const bytes = pages.subarray(segno * segmentBytes, (segno + 1) * segmentBytes);
    const file = path.join(dir, clogSegmentName(segno));
    try {
      const fd = fs.openSync(file, "w", 0o600);
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, 0);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      throw new PgsimError(
        "io-error",
        `could not write file "pg_xact/${clogSegmentName(segno)}": ${(error as Error).message}`,
        { path: file },
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Visibility for offline inspection

/**
 * Whether the tuple whose header starts at `bytes[offset]` is visible to a snapshot taken now,
 * with no transaction of the reader's own: what `SELECT` in a new session would see.
 *
 * Rules, hint bits first and then the commit log (HeapTupleSatisfiesMVCC for such a snapshot):
 * 1. xmin: frozen or XMIN_COMMITTED → inserted; XMIN_INVALID → invisible; otherwise its commit
 *    log status: committed → inserted; aborted, in progress (or crashed) or sub-committed →
 *    invisible.
 * 2. xmax: 0, XMAX_INVALID, or lock-only (HEAP_XMAX_IS_LOCKED_ONLY) → visible; XMAX_COMMITTED →
 *    invisible; otherwise its status: committed → invisible (deleted or updated); anything else
 *    → visible (the deleter aborted or is still running).
 *
 * Without `clog`, a tuple whose xmin or xmax has no hint bit throws `xid-status-unknown`: its
 * fate is written only in pg_xact. A non-lock-only multixact xmax throws
 * `multixact-not-supported`: its members are in pg_multixact, which pgsim does not read.
 *
 * Differs from PostgreSQL: no hint bits are set, and "in progress" is decided by the commit log
 * alone (no proc array), so a transaction that crashed reads as in progress, with the same
 * answer: its changes are not visible. Sub-committed xids are treated as not committed (their
 * parent's commit was still being recorded). The HEAP_MOVED_OFF / HEAP_MOVED_IN branches for
 * tuples moved by a pre-9.0 VACUUM FULL are not modelled: no supported cluster has such tuples.
 */
export function heapTupleVisibleToNewSnapshot(
  bytes: Uint8Array,
  offset: number,
  clog?: CommitLog,
): boolean {
  const infomask = heapTupleHeaderGetInfomask(bytes, offset);
  const xmin = heapTupleHeaderGetRawXmin(bytes, offset);
  if (
    (infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN &&
    (infomask & HEAP_XMIN_COMMITTED) === 0
  ) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return false;
    if (statusOf(clog, xmin, "xmin") !== TRANSACTION_STATUS_COMMITTED) return false;
  }
  const xmax = heapTupleHeaderGetRawXmax(bytes, offset);
  if (xmax === InvalidTransactionId || (infomask & HEAP_XMAX_INVALID) !== 0) return true;
  if (heapXmaxIsLockedOnly(infomask)) return true;
  if ((infomask & HEAP_XMAX_IS_MULTI) !== 0) {
    throw new PgsimError(
      "multixact-not-supported",
      `tuple xmax ${xmax} is a MultiXactId; pgsim cannot resolve multixact members`,
      { xmax },
    );
  }
  if ((infomask & HEAP_XMAX_COMMITTED) !== 0) return false;
  return statusOf(clog, xmax, "xmax") !== TRANSACTION_STATUS_COMMITTED;
}

function statusOf(clog: CommitLog | undefined, xid: number, role: "xmin" | "xmax"): XidStatus {
  if (xid === BootstrapTransactionId || xid === FrozenTransactionId)
    return TRANSACTION_STATUS_COMMITTED;
  if (clog === undefined) {
    throw new PgsimError(
      "xid-status-unknown",
      `status of transaction ${xid} (${role}) is unknown: the tuple has no hint bit and no commit log (pg_xact) was given`,
      { xid, role },
    );
  }
  return transactionIdGetStatus(clog, xid);
}
