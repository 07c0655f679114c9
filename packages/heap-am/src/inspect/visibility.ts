/**
 * Offline visibility with three answers: visible, invisible, or unknown (and why), so that
 * `pgsim-inspect rows` can hide what it cannot decide and say so instead of failing or guessing.
 *
 * Models: HeapTupleSatisfiesMVCC (run by ../access/heap/heapam-visibility.ts, for a snapshot taken
 * after everything ended: hint bits first, then the commit log) and clog.c TransactionIdGetStatus
 * over pg_xact segment files; this module only adds the answer "cannot tell, and why".
 * Entry points: `CommitLogSource`, `commitLogSource`, `tupleFate`, `unknownReasonText`.
 * See also: ../access/transam/clog.ts, ../access/heap/heapam-visibility.ts, rows.ts (the caller),
 * toast.ts.
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
  heapTupleSatisfiesMVCC,
  snapshotAfterTuple,
  type TransactionStatusSource,
} from "../access/heap/heapam-visibility.js";
import {
  CLOG_XACTS_PER_BYTE,
  CLOG_XACTS_PER_SEGMENT,
  type CommitLog,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  transactionIdGetStatus,
  type XidStatus,
} from "../access/transam/clog.js";
import {
  heapTupleHeaderGetRawXmax,
  SizeofHeapTupleHeader,
} from "../include/access/htup-details.js";
import {
  BootstrapTransactionId,
  FrozenTransactionId,
  InvalidTransactionId,
} from "../include/access/transam.js";

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

/** Thrown by SourceStatus when the commit log cannot tell a transaction's fate. */
class UnknownStatus {
  constructor(
    readonly reason: UnknownReason,
    readonly xid: number,
  ) {}
}

/**
 * Transaction status from the commit log files, for heapTupleSatisfiesMVCC: nothing is running
 * (the files are read after the fact), and a fate the files cannot tell stops the test.
 */
class SourceStatus implements TransactionStatusSource {
  constructor(private readonly source: CommitLogSource | undefined) {}

  didCommit(xid: number): boolean {
    const status = statusOf(this.source, xid);
    if (typeof status === "object") throw new UnknownStatus(status.unknown, status.xid);
    return status === TRANSACTION_STATUS_COMMITTED;
  }

  isInProgress(): boolean {
    return false;
  }
}

/**
 * The fate of the tuple whose header starts at `bytes[offset]` for a snapshot taken now (see the
 * file comment for when it is unknown). Never throws for missing information.
 *
 * The decision is heapTupleSatisfiesMVCC's (access/heap/heapam-visibility.ts, the one visibility
 * implementation), on a copy of the header so that no hint bit is written, with a snapshot taken
 * after the tuple's transactions ended and the commit log files as the source of transaction
 * status; only the "cannot tell" answers are this module's.
 */
export function tupleFate(
  bytes: Uint8Array,
  offset: number,
  source: CommitLogSource | undefined,
): TupleFate {
  const header = bytes.slice(offset, offset + SizeofHeapTupleHeader);
  try {
    const visible = heapTupleSatisfiesMVCC(header, 0, snapshotAfterTuple(header), {
      transam: new SourceStatus(source),
      xact: undefined,
      hintsSet: false,
    });
    return { visible };
  } catch (error) {
    if (error instanceof UnknownStatus) return { unknown: error.reason, xid: error.xid };
    if (error instanceof PgsimError && error.code === "multixact-not-supported") {
      return { unknown: "multixact", xid: heapTupleHeaderGetRawXmax(header, 0) };
    }
    throw error;
  }
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
