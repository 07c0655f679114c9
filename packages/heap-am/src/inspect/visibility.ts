/**
 * Offline visibility with three answers: visible, invisible, or unknown (and why), so that
 * `pgsim-inspect rows` can hide what it cannot decide and say so instead of failing or guessing.
 *
 * Models: the same rules as ../clog.ts heapTupleVisibleToNewSnapshot (HeapTupleSatisfiesMVCC for
 * a snapshot taken after everything ended: hint bits first, then the commit log), and
 * clog.c TransactionIdGetStatus over pg_xact segment files.
 * Entry points: `CommitLogSource`, `commitLogSource`, `tupleFate`, `unknownReasonText`.
 * See also: ../clog.ts, rows.ts (the caller), toast.ts.
 *
 * A status is unknown when: no commit log was given (`no-commit-log`); the commit log files end
 * before the xid (`not-covered`: they were copied before the page was written); the xid reads
 * as in progress and is newer than every transaction the commit log records as finished
 * (`newer-than-commit-log`: a pg_xact copied while, or before, the transaction ended looks just
 * like this); or xmax is a MultiXactId (`multixact`), whose members live in pg_multixact.
 *
 * Differs from PostgreSQL: an xid in progress (or crashed) that is newer than every finished
 * one counts as unknown here, where PostgreSQL (which has the proc array) knows it is running;
 * xids are compared without epochs (a commit log that wrapped around is not supported).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  BootstrapTransactionId,
  CLOG_XACTS_PER_BYTE,
  CLOG_XACTS_PER_SEGMENT,
  type CommitLog,
  FrozenTransactionId,
  InvalidTransactionId,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  transactionIdGetStatus,
  type XidStatus,
} from "../clog.js";
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
} from "../htup-details.js";

/** Why a tuple's fate is unknown. */
export type UnknownReason = "no-commit-log" | "not-covered" | "newer-than-commit-log" | "multixact";

/** What a new snapshot would make of a tuple. */
export type TupleFate =
  | { readonly visible: boolean }
  | { readonly unknown: UnknownReason; readonly xid: number };

/** The commit log, with what it covers. */
export interface CommitLogSource {
  readonly clog: CommitLog;
  /** One past the last xid whose status the files hold. */
  readonly coveredXids: number;
  /** The newest xid recorded as committed or aborted (0 when none is). */
  readonly newestFinishedXid: number;
}

/** The highest xid of `segment` (segment number `segno`) whose status bits are not zero, or -1. */
function newestNonZero(segment: Uint8Array, segno: number): number {
  for (let i = segment.length - 1; i >= 0; i--) {
    const byte = segment[i]!;
    if (byte === 0) continue;
    const highestPair = Math.floor((31 - Math.clz32(byte)) / 2);
    return segno * CLOG_XACTS_PER_SEGMENT + i * CLOG_XACTS_PER_BYTE + highestPair;
  }
  return -1;
}

/** Wraps commit log files (one segment, or segments by number) with their coverage. */
export function commitLogSource(clog: CommitLog): CommitLogSource {
  const segments: [number, Uint8Array][] =
    clog instanceof Uint8Array ? [[0, clog]] : [...clog.entries()].sort((a, b) => a[0] - b[0]);
  let coveredXids = 0;
  let newestFinishedXid = 0;
  for (const [segno, bytes] of segments) {
    coveredXids = Math.max(coveredXids, segno * CLOG_XACTS_PER_SEGMENT + bytes.length * 4);
    newestFinishedXid = Math.max(newestFinishedXid, newestNonZero(bytes, segno));
  }
  return { clog, coveredXids, newestFinishedXid };
}

type StatusAnswer = XidStatus | { readonly unknown: UnknownReason; readonly xid: number };

function statusOf(source: CommitLogSource | undefined, xid: number): StatusAnswer {
  if (xid === BootstrapTransactionId || xid === FrozenTransactionId) {
    return TRANSACTION_STATUS_COMMITTED;
  }
  if (xid === InvalidTransactionId) return TRANSACTION_STATUS_ABORTED;
  if (source === undefined) return { unknown: "no-commit-log", xid };
  let status: XidStatus;
  try {
    status = transactionIdGetStatus(source.clog, xid);
  } catch (error) {
    if (error instanceof PgsimError && error.code === "xid-status-unavailable") {
      return { unknown: "not-covered", xid };
    }
    throw error;
  }
  if (status === TRANSACTION_STATUS_IN_PROGRESS && xid > source.newestFinishedXid) {
    return { unknown: "newer-than-commit-log", xid };
  }
  return status;
}

/**
 * The fate of the tuple whose header starts at `bytes[offset]` for a snapshot taken now (see the
 * file comment for when it is unknown). Never throws for missing information.
 */
export function tupleFate(
  bytes: Uint8Array,
  offset: number,
  source: CommitLogSource | undefined,
): TupleFate {
  const infomask = heapTupleHeaderGetInfomask(bytes, offset);
  if (
    (infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN &&
    (infomask & HEAP_XMIN_COMMITTED) === 0
  ) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return { visible: false };
    const status = statusOf(source, heapTupleHeaderGetRawXmin(bytes, offset));
    if (typeof status === "object") return status;
    if (status !== TRANSACTION_STATUS_COMMITTED) return { visible: false };
  }
  const xmax = heapTupleHeaderGetRawXmax(bytes, offset);
  if (xmax === InvalidTransactionId || (infomask & HEAP_XMAX_INVALID) !== 0) {
    return { visible: true };
  }
  if (heapXmaxIsLockedOnly(infomask)) return { visible: true };
  if ((infomask & HEAP_XMAX_IS_MULTI) !== 0) return { unknown: "multixact", xid: xmax };
  if ((infomask & HEAP_XMAX_COMMITTED) !== 0) return { visible: false };
  const status = statusOf(source, xmax);
  if (typeof status === "object") return status;
  return { visible: status !== TRANSACTION_STATUS_COMMITTED };
}

/** A sentence about tuples hidden for `reason`; `xids` are the xids involved (lowest first). */
export function unknownReasonText(
  reason: UnknownReason,
  count: number,
  xids: readonly number[],
  source: CommitLogSource | undefined,
): string {
  const tuples = `${count} tuple${count === 1 ? "" : "s"}`;
  const range =
    xids.length === 0
      ? ""
      : xids.length === 1
        ? `xid ${xids[0]}`
        : `xids ${xids[0]} to ${xids[xids.length - 1]}`;
  switch (reason) {
    case "no-commit-log":
      return (
        `${tuples} hidden: the fate of ${range} is written only in the commit log; ` +
        "give --xact (pg_xact or one of its segment files) or the data directory"
      );
    case "not-covered":
      return (
        `${tuples} hidden: pg_xact does not cover ${range} (it ends at xid ${(source?.coveredXids ?? 1) - 1}): ` +
        "it is older than the page; copy pg_xact again after the table file (after a CHECKPOINT)"
      );
    case "newer-than-commit-log":
      return (
        `${tuples} hidden: pg_xact records ${range} as in progress, and no transaction after xid ` +
        `${source?.newestFinishedXid ?? 0} as finished; pg_xact may be older than the page: if ` +
        "the server was not running, copy pg_xact again after the table file (after a CHECKPOINT)"
      );
    case "multixact":
      return `${tuples} hidden: xmax ${range} is a MultiXactId, whose members (in pg_multixact) pgsim cannot read`;
  }
}
