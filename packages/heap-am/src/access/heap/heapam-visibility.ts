/**
 * Tuple visibility: which tuple versions a snapshot sees, which ones vacuum may remove, and
 * whether an update or delete may proceed — with hint bits set along the way. The offline test
 * of pgsim-inspect (which rows of a data file a new session would see) is the same
 * HeapTupleSatisfiesMVCC, asked with the commit log files as its source of transaction status.
 *
 * Models: src/backend/access/heap/heapam_visibility.c (HeapTupleSatisfiesMVCC,
 * HeapTupleSatisfiesDirty, HeapTupleSatisfiesUpdate, HeapTupleSatisfiesVacuum, SetHintBits) and combocid.c
 * (HeapTupleHeaderGetCmin / GetCmax).
 * Entry points: `heapTupleSatisfiesMVCC`, `heapTupleSatisfiesDirty`, `heapTupleSatisfiesUpdate`, `heapTupleSatisfiesVacuum`,
 * `heapTupleSatisfiesVacuumHorizon` with `heapTupleDeadAfter`, `heapTupleVisibleToNewSnapshot`,
 * `HTSV`, `VisibilityContext`,
 * `TransactionStatusSource`.
 * See also: snapmgr.ts (xidInMVCCSnapshot), transam.ts (commit status), procarray.ts
 * (in-progress), clog.ts (the commit log files), xact.ts, inspect/rows.ts, tableam.ts (TM).
 *
 * Each function takes the page bytes and the byte offset of the tuple header on the page. Hint
 * bits are written straight into the page (the caller holds at least a share lock, which is
 * enough for hints); `ctx.hintsSet` tells the caller to call markBufferDirtyHint once.
 *
 * Differs from PostgreSQL: no multixacts (a tuple with HEAP_XMAX_IS_MULTI is a typed error), no
 * subtransactions, no MOVED_IN/MOVED_OFF legacy states, and hints are never deferred for an
 * unflushed commit record (there is no WAL).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  HEAP_COMBOCID,
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_INVALID,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetRawCommandId,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderSetInfomask,
  heapXmaxIsLockedOnly,
  SizeofHeapTupleHeader,
} from "../../include/access/htup-details.js";
import {
  FirstNormalTransactionId,
  InvalidTransactionId,
  xidFollowsOrEquals,
  xidIsNormal,
  xidPrecedes,
} from "../../include/access/transam.js";
import type { DirtySnapshot, Snapshot } from "../../include/utils/snapshot.js";
import { xidInMVCCSnapshot } from "../../utils/time/snapmgr.js";
import { TM, type TMResult } from "../table/tableam.js";
import {
  type CommitLog,
  TRANSACTION_STATUS_COMMITTED,
  transactionIdGetStatus,
} from "../transam/clog.js";
import type { Transaction } from "../transam/xact.js";

/**
 * Where the visibility tests learn a transaction's fate: TransactionIdDidCommit (transam.c) and
 * TransactionIdIsInProgress (procarray.c). A backend's `Transam` is one; the commit log files
 * of an offline reader are another (see heapTupleVisibleToNewSnapshot).
 */
export interface TransactionStatusSource {
  didCommit(xid: number): boolean;
  isInProgress(xid: number): boolean;
}

/** What a visibility test needs besides the tuple: the transaction system, and who is asking. */
export interface VisibilityContext {
  readonly transam: TransactionStatusSource;
  /** The asking backend's transaction, if any (for "is it mine?" and combo command ids). */
  readonly xact: Transaction | undefined;
  /** Set to true when a hint bit was written; the caller marks the buffer dirty (hint). */
  hintsSet: boolean;
}

// TM_Result, which HeapTupleSatisfiesUpdate returns, is the table AM interface's (tableam.h).
export { TM, type TMResult };

/** HTSV_Result: a tuple's state for vacuum and pruning. */
export const HTSV = {
  Dead: 0,
  Live: 1,
  RecentlyDead: 2,
  InsertInProgress: 3,
  DeleteInProgress: 4,
} as const;
export type HTSVResult = (typeof HTSV)[keyof typeof HTSV];

function setHint(page: Uint8Array, tup: number, bits: number, ctx: VisibilityContext): void {
  heapTupleHeaderSetInfomask(page, tup, heapTupleHeaderGetInfomask(page, tup) | bits);
  ctx.hintsSet = true;
}

function isMine(xid: number, ctx: VisibilityContext): boolean {
  return ctx.xact !== undefined && xid !== InvalidTransactionId && ctx.xact.isCurrent(xid);
}

function rejectMulti(page: Uint8Array, tup: number, infomask: number): void {
  if ((infomask & HEAP_XMAX_IS_MULTI) !== 0) {
    const xmax = heapTupleHeaderGetRawXmax(page, tup);
    throw new PgsimError(
      "multixact-not-supported",
      `tuple xmax ${xmax} is a MultiXactId; pgsim does not support multixacts and cannot resolve their members`,
      { xmax },
    );
  }
}

/** HeapTupleHeaderGetCmin: the inserting command id (through the combo id if there is one). */
export function tupleCmin(page: Uint8Array, tup: number, ctx: VisibilityContext): number {
  const raw = heapTupleHeaderGetRawCommandId(page, tup);
  if ((heapTupleHeaderGetInfomask(page, tup) & HEAP_COMBOCID) !== 0 && ctx.xact) {
    return ctx.xact.comboCmin(raw);
  }
  return raw;
}

/** HeapTupleHeaderGetCmax: the deleting command id (through the combo id if there is one). */
export function tupleCmax(page: Uint8Array, tup: number, ctx: VisibilityContext): number {
  const raw = heapTupleHeaderGetRawCommandId(page, tup);
  if ((heapTupleHeaderGetInfomask(page, tup) & HEAP_COMBOCID) !== 0 && ctx.xact) {
    return ctx.xact.comboCmax(raw);
  }
  return raw;
}

/**
 * HeapTupleSatisfiesMVCC: does `snapshot` see this tuple version? First the inserter: it must
 * have committed before the snapshot (or be us, at an earlier command). Then the deleter: the
 * version stays visible unless the deletion committed before the snapshot (or is ours, earlier).
 */
export function heapTupleSatisfiesMVCC(
  page: Uint8Array,
  tup: number,
  snapshot: Snapshot,
  ctx: VisibilityContext,
): boolean {
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  // t_infomask again only after a hint bit was set (another backend may set one meanwhile).
  let mask = infomask;
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return false;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if (tupleCmin(page, tup, ctx) >= snapshot.curcid) return false; // inserted later
      if ((infomask & HEAP_XMAX_INVALID) !== 0) return true;
      if (heapXmaxIsLockedOnly(infomask)) return true;
      rejectMulti(page, tup, infomask);
      if (!isMine(heapTupleHeaderGetRawXmax(page, tup), ctx)) {
        setHint(page, tup, HEAP_XMAX_INVALID, ctx);
        return true;
      }
      return tupleCmax(page, tup, ctx) >= snapshot.curcid;
    }
    if (xidInMVCCSnapshot(xmin, snapshot)) return false;
    if (ctx.transam.didCommit(xmin)) {
      setHint(page, tup, HEAP_XMIN_COMMITTED, ctx);
    } else {
      // Not running (it is not in the snapshot) and not committed: aborted or crashed.
      setHint(page, tup, HEAP_XMIN_INVALID, ctx);
      return false;
    }
    mask = heapTupleHeaderGetInfomask(page, tup);
  } else if ((infomask & HEAP_XMIN_INVALID) === 0) {
    // Committed, but not frozen: committed after our snapshot was taken?
    if (xidInMVCCSnapshot(heapTupleHeaderGetRawXmin(page, tup), snapshot)) return false;
  }
  if ((mask & HEAP_XMAX_INVALID) !== 0) return true;
  if (heapXmaxIsLockedOnly(mask)) return true;
  rejectMulti(page, tup, mask);
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if ((mask & HEAP_XMAX_COMMITTED) === 0) {
    if (isMine(xmax, ctx)) return tupleCmax(page, tup, ctx) >= snapshot.curcid;
    if (xidInMVCCSnapshot(xmax, snapshot)) return true;
    if (!ctx.transam.didCommit(xmax)) {
      setHint(page, tup, HEAP_XMAX_INVALID, ctx);
      return true;
    }
    setHint(page, tup, HEAP_XMAX_COMMITTED, ctx);
  } else if (xidInMVCCSnapshot(xmax, snapshot)) {
    return true;
  }
  return false;
}

/**
 * HeapTupleSatisfiesDirty: does SnapshotDirty see this version? Inserted by a committed or a
 * running transaction (or by us: command ids do not matter) and not deleted by a committed one
 * (nor by us). A running inserter or deleter is recorded in `snapshot.xmin` / `snapshot.xmax`
 * (cleared first), as PostgreSQL does for the unique check to wait on.
 */
export function heapTupleSatisfiesDirty(
  page: Uint8Array,
  tup: number,
  snapshot: DirtySnapshot,
  ctx: VisibilityContext,
): boolean {
  snapshot.xmin = InvalidTransactionId;
  snapshot.xmax = InvalidTransactionId;
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return false;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if ((infomask & HEAP_XMAX_INVALID) !== 0) return true;
      if (heapXmaxIsLockedOnly(infomask)) return true;
      rejectMulti(page, tup, infomask);
      if (!isMine(heapTupleHeaderGetRawXmax(page, tup), ctx)) {
        setHint(page, tup, HEAP_XMAX_INVALID, ctx);
        return true;
      }
      return false;
    }
    if (ctx.transam.isInProgress(xmin)) {
      // Return the speculative inserter's xid for the caller to wait on (no deleter can be
      // committed yet).
      if ((infomask & HEAP_XMAX_INVALID) === 0 && !heapXmaxIsLockedOnly(infomask)) {
        const xmax = heapTupleHeaderGetRawXmax(page, tup);
        if (isMine(xmax, ctx)) return false;
      }
      snapshot.xmin = xmin;
      return true;
    }
    if (ctx.transam.didCommit(xmin)) setHint(page, tup, HEAP_XMIN_COMMITTED, ctx);
    else {
      setHint(page, tup, HEAP_XMIN_INVALID, ctx);
      return false;
    }
  }
  const mask = heapTupleHeaderGetInfomask(page, tup);
  if ((mask & HEAP_XMAX_INVALID) !== 0) return true;
  if (heapXmaxIsLockedOnly(mask)) return true;
  rejectMulti(page, tup, mask);
  if ((mask & HEAP_XMAX_COMMITTED) !== 0) return false;
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if (isMine(xmax, ctx)) return false;
  if (ctx.transam.isInProgress(xmax)) {
    snapshot.xmax = xmax;
    return true;
  }
  if (!ctx.transam.didCommit(xmax)) {
    setHint(page, tup, HEAP_XMAX_INVALID, ctx);
    return true;
  }
  setHint(page, tup, HEAP_XMAX_COMMITTED, ctx);
  return false;
}

/**
 * HeapTupleSatisfiesUpdate: may `curcid` of the current transaction update, delete or lock this
 * version? TM.Ok, or why not: invisible, already changed by us, updated or deleted by a committed
 * transaction, or being modified by one still running (the caller waits for it). `selfTid`
 * tells Updated (t_ctid points elsewhere) from Deleted (t_ctid points at itself).
 */
export function heapTupleSatisfiesUpdate(
  page: Uint8Array,
  tup: number,
  curcid: number,
  ctidPointsToSelf: boolean,
  ctx: VisibilityContext,
): TMResult {
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  rejectMulti(page, tup, infomask);
  // t_infomask again only after a hint bit was set (another backend may set one meanwhile).
  let mask = infomask;
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return TM.Invisible;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if (tupleCmin(page, tup, ctx) >= curcid) return TM.Invisible;
      if ((infomask & HEAP_XMAX_INVALID) !== 0) return TM.Ok;
      const xmax = heapTupleHeaderGetRawXmax(page, tup);
      if (heapXmaxIsLockedOnly(infomask)) {
        // A locker still running, ourselves included, is reported: the caller decides (our own
        // lock is kept in the new version's xmax by heap_update: "locker_remains").
        return isMine(xmax, ctx) || ctx.transam.isInProgress(xmax) ? TM.BeingModified : TM.Ok;
      }
      if (!isMine(xmax, ctx)) {
        setHint(page, tup, HEAP_XMAX_INVALID, ctx);
        return TM.Ok;
      }
      return tupleCmax(page, tup, ctx) >= curcid ? TM.SelfModified : TM.Invisible;
    }
    if (ctx.transam.isInProgress(xmin)) return TM.Invisible;
    if (ctx.transam.didCommit(xmin)) setHint(page, tup, HEAP_XMIN_COMMITTED, ctx);
    else {
      setHint(page, tup, HEAP_XMIN_INVALID, ctx);
      return TM.Invisible;
    }
    mask = heapTupleHeaderGetInfomask(page, tup);
  }
  if ((mask & HEAP_XMAX_INVALID) !== 0) return TM.Ok;
  if ((mask & HEAP_XMAX_COMMITTED) !== 0) {
    if (heapXmaxIsLockedOnly(mask)) return TM.Ok;
    return ctidPointsToSelf ? TM.Deleted : TM.Updated;
  }
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if (isMine(xmax, ctx)) {
    // Locked by us: BeingModified, as PostgreSQL says; the callers know not to wait for us.
    if (heapXmaxIsLockedOnly(mask)) return TM.BeingModified;
    return tupleCmax(page, tup, ctx) >= curcid ? TM.SelfModified : TM.Invisible;
  }
  if (ctx.transam.isInProgress(xmax)) return TM.BeingModified;
  if (!ctx.transam.didCommit(xmax) || heapXmaxIsLockedOnly(mask)) {
    // The deleter aborted, or a row lock whose holder has ended: nothing of interest is left.
    setHint(page, tup, HEAP_XMAX_INVALID, ctx);
    return TM.Ok;
  }
  setHint(page, tup, HEAP_XMAX_COMMITTED, ctx);
  return ctidPointsToSelf ? TM.Deleted : TM.Updated;
}

/**
 * HeapTupleSatisfiesVacuum: the tuple's state with respect to `oldestXmin`, the oldest xid any
 * running transaction or snapshot may still need. DEAD versions can be removed.
 */
export function heapTupleSatisfiesVacuum(
  page: Uint8Array,
  tup: number,
  oldestXmin: number,
  ctx: VisibilityContext,
): HTSVResult {
  const r = heapTupleSatisfiesVacuumHorizon(page, tup, ctx);
  if (r !== HTSV.RecentlyDead) return r;
  return xidPrecedes(deadAfter, oldestXmin) ? HTSV.Dead : HTSV.RecentlyDead;
}

/**
 * HeapTupleSatisfiesVacuumHorizon's `dead_after` output: the xmax of the last tuple it found
 * RECENTLY_DEAD (read by heapTupleSatisfiesVacuum right after the call; JavaScript has no out
 * parameters, and a module variable costs no allocation).
 */
let deadAfter = InvalidTransactionId;

/**
 * The `dead_after` of the last heapTupleSatisfiesVacuumHorizon call that returned RECENTLY_DEAD:
 * the xmax the caller compares with its horizon (heap_prune_satisfies_vacuum).
 */
export function heapTupleDeadAfter(): number {
  return deadAfter;
}

/**
 * HeapTupleSatisfiesVacuumHorizon: the tuple's state without a horizon. A version whose deleter
 * committed is RECENTLY_DEAD here, and dead to everyone once its xmax (the tuple's raw xmax,
 * PostgreSQL's `dead_after`) precedes the removal horizon — which the caller computes only then
 * (HeapTupleIsSurelyDead and heap_prune_satisfies_vacuum do the same through GlobalVisState).
 *
 * t_infomask is read once and read again only after a hint bit was set (another backend may set
 * hint bits on the same page at the same time, as in PostgreSQL).
 */
export function heapTupleSatisfiesVacuumHorizon(
  page: Uint8Array,
  tup: number,
  ctx: VisibilityContext,
): HTSVResult {
  let mask = heapTupleHeaderGetInfomask(page, tup);
  if ((mask & HEAP_XMAX_IS_MULTI) !== 0) rejectMulti(page, tup, mask);
  if ((mask & HEAP_XMIN_COMMITTED) === 0) {
    if ((mask & HEAP_XMIN_INVALID) !== 0) return HTSV.Dead;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if ((mask & HEAP_XMAX_INVALID) !== 0 || heapXmaxIsLockedOnly(mask)) {
        return HTSV.InsertInProgress;
      }
      return isMine(heapTupleHeaderGetRawXmax(page, tup), ctx)
        ? HTSV.DeleteInProgress
        : HTSV.InsertInProgress;
    }
    if (ctx.transam.isInProgress(xmin)) return HTSV.InsertInProgress;
    if (ctx.transam.didCommit(xmin)) setHint(page, tup, HEAP_XMIN_COMMITTED, ctx);
    else {
      setHint(page, tup, HEAP_XMIN_INVALID, ctx);
      return HTSV.Dead;
    }
    mask = heapTupleHeaderGetInfomask(page, tup);
  }
  if ((mask & HEAP_XMAX_INVALID) !== 0) return HTSV.Live;
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if (heapXmaxIsLockedOnly(mask)) {
    if ((mask & HEAP_XMAX_COMMITTED) === 0 && !ctx.transam.isInProgress(xmax)) {
      setHint(page, tup, HEAP_XMAX_INVALID, ctx);
    }
    return HTSV.Live;
  }
  if ((mask & HEAP_XMAX_COMMITTED) === 0) {
    if (ctx.transam.isInProgress(xmax)) return HTSV.DeleteInProgress;
    if (ctx.transam.didCommit(xmax)) setHint(page, tup, HEAP_XMAX_COMMITTED, ctx);
    else {
      setHint(page, tup, HEAP_XMAX_INVALID, ctx);
      return HTSV.Live;
    }
  }
  // The deleter committed: dead to everyone once no snapshot can still see the version (the
  // caller's horizon decides).
  deadAfter = xmax;
  return HTSV.RecentlyDead;
}

// ---------------------------------------------------------------------------------------------
// Visibility for offline inspection

/**
 * Transaction status as the commit log files tell it, for a reader that runs no transaction and
 * sees none running (every transaction has ended, or crashed: a crashed one reads as in
 * progress in pg_xact and so as not committed, with the same answer as an abort).
 *
 * Without files, only the permanent xids have a status; asking for any other throws
 * `xid-status-unknown`, naming the role of the xid in the tuple. HeapTupleSatisfiesMVCC asks
 * about xmin first, and only when no hint bit answers for it, so the first question is about
 * xmin exactly when xmin has no hint.
 */
class CommitLogFiles implements TransactionStatusSource {
  private readonly clog: CommitLog | undefined;
  private xminAsked: boolean;

  constructor(clog: CommitLog | undefined, xminHinted: boolean) {
    this.clog = clog;
    this.xminAsked = xminHinted;
  }

  /** TransactionIdDidCommit over TransactionLogFetch from the files. */
  didCommit(xid: number): boolean {
    const role = this.xminAsked ? "xmax" : "xmin";
    this.xminAsked = true;
    if (!xidIsNormal(xid)) return xid !== InvalidTransactionId;
    if (this.clog === undefined) {
      throw new PgsimError(
        "xid-status-unknown",
        `status of transaction ${xid} (${role}) is unknown: the tuple has no hint bit and no commit log (pg_xact) was given`,
        { xid, role },
      );
    }
    return transactionIdGetStatus(this.clog, xid) === TRANSACTION_STATUS_COMMITTED;
  }

  /** Nothing runs: the files are read after the fact. */
  isInProgress(): boolean {
    return false;
  }
}

/**
 * A snapshot taken after every transaction that touched the tuple had ended: xmin = xmax = one
 * past the later of its (normal) xmin and xmax, nothing running. For this tuple it answers as a
 * snapshot taken now would, since nothing before it is running. (The tuple's xids are within
 * 2^31 of each other, as PostgreSQL's wraparound protection guarantees; a multixact xmax is not
 * an xid and does not count.)
 */
export function snapshotAfterTuple(header: Uint8Array): Snapshot {
  const infomask = heapTupleHeaderGetInfomask(header, 0);
  const xids = [heapTupleHeaderGetRawXmin(header, 0)];
  if ((infomask & HEAP_XMAX_IS_MULTI) === 0) xids.push(heapTupleHeaderGetRawXmax(header, 0));
  let after = FirstNormalTransactionId;
  for (const xid of xids) {
    if (!xidIsNormal(xid) || !xidFollowsOrEquals(xid, after)) continue;
    const next = (xid + 1) >>> 0;
    after = next < FirstNormalTransactionId ? FirstNormalTransactionId : next;
  }
  return { xmin: after, xmax: after, xip: new Int32Array(0), curcid: 0 };
}

/**
 * Whether the tuple whose header starts at `bytes[offset]` is visible to a snapshot taken now,
 * with no transaction of the reader's own: what `SELECT` in a new session would see. This is
 * heapTupleSatisfiesMVCC on a copy of the header (its hint bits are not written back), with the
 * commit log files as the source of transaction status and a snapshot taken after the tuple's
 * transactions ended. So the rules are HeapTupleSatisfiesMVCC's:
 * 1. xmin: frozen or XMIN_COMMITTED → inserted; XMIN_INVALID → invisible; otherwise its commit
 *    log status: committed → inserted; aborted, in progress (or crashed) or sub-committed →
 *    invisible.
 * 2. xmax: XMAX_INVALID, or lock-only (HEAP_XMAX_IS_LOCKED_ONLY) → visible; XMAX_COMMITTED →
 *    invisible; otherwise its status: committed → invisible (deleted or updated); anything else,
 *    and xmax 0, → visible (the deleter aborted or is still running).
 *
 * Without `clog`, a tuple whose xmin or xmax has no hint bit (and is not a permanent xid) throws
 * `xid-status-unknown`: its fate is written only in pg_xact. A non-lock-only multixact xmax throws
 * `multixact-not-supported`: its members are in pg_multixact, which pgsim does not read.
 *
 * Differs from PostgreSQL: no hint bits are set, and "in progress" is decided by the commit log
 * alone (no proc array), so a transaction that crashed reads as in progress, with the same
 * answer: its changes are not visible. Sub-committed xids are treated as not committed (their
 * parent's commit was still being recorded).
 */
export function heapTupleVisibleToNewSnapshot(
  bytes: Uint8Array,
  offset: number,
  clog?: CommitLog,
): boolean {
  const header = bytes.slice(offset, offset + SizeofHeapTupleHeader);
  const infomask = heapTupleHeaderGetInfomask(header, 0);
  const xminHinted = (infomask & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID)) !== 0;
  return heapTupleSatisfiesMVCC(header, 0, snapshotAfterTuple(header), {
    transam: new CommitLogFiles(clog, xminHinted),
    xact: undefined,
    hintsSet: false,
  });
}
