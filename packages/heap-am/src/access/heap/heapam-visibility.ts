/**
 * Tuple visibility: which tuple versions a snapshot sees, which ones vacuum may remove, and
 * whether an update or delete may proceed — with hint bits set along the way.
 *
 * Models: src/backend/access/heap/heapam_visibility.c (HeapTupleSatisfiesMVCC,
 * HeapTupleSatisfiesUpdate, HeapTupleSatisfiesVacuum, SetHintBits) and combocid.c
 * (HeapTupleHeaderGetCmin / GetCmax).
 * Entry points: `heapTupleSatisfiesMVCC`, `heapTupleSatisfiesUpdate`, `heapTupleSatisfiesVacuum`,
 * `TM`, `HTSV`, `VisibilityContext`.
 * See also: snapmgr.ts (xidInMVCCSnapshot), transam.ts (commit status, in-progress), xact.ts,
 * tableam.ts (TM).
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
} from "../../include/access/htup-details.js";
import { type Snapshot, xidInMVCCSnapshot } from "../../utils/time/snapmgr.js";
import { TM, type TMResult } from "../table/tableam.js";
import { InvalidTransactionId } from "../transam/clog.js";
import { type Transam, xidPrecedes } from "../transam/transam.js";
import type { Transaction } from "../transam/xact.js";

/** What a visibility test needs besides the tuple: the transaction system, and who is asking. */
export interface VisibilityContext {
  readonly transam: Transam;
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

function rejectMulti(infomask: number): void {
  if ((infomask & HEAP_XMAX_IS_MULTI) !== 0) {
    throw new PgsimError(
      "multixact-unsupported",
      "tuple has a MultiXactId as xmax: pgsim does not support multixacts",
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
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return false;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if (tupleCmin(page, tup, ctx) >= snapshot.curcid) return false; // inserted later
      if ((infomask & HEAP_XMAX_INVALID) !== 0) return true;
      if (heapXmaxIsLockedOnly(infomask)) return true;
      rejectMulti(infomask);
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
  } else if ((infomask & HEAP_XMIN_INVALID) === 0) {
    // Committed, but not frozen: committed after our snapshot was taken?
    if (xidInMVCCSnapshot(heapTupleHeaderGetRawXmin(page, tup), snapshot)) return false;
  }
  const mask = heapTupleHeaderGetInfomask(page, tup);
  if ((mask & HEAP_XMAX_INVALID) !== 0) return true;
  if (heapXmaxIsLockedOnly(mask)) return true;
  rejectMulti(mask);
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
  rejectMulti(infomask);
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return TM.Invisible;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if (tupleCmin(page, tup, ctx) >= curcid) return TM.Invisible;
      if ((infomask & HEAP_XMAX_INVALID) !== 0) return TM.Ok;
      const xmax = heapTupleHeaderGetRawXmax(page, tup);
      if (heapXmaxIsLockedOnly(infomask)) {
        if (isMine(xmax, ctx)) return TM.Ok;
        return ctx.transam.isInProgress(xmax) ? TM.BeingModified : TM.Ok;
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
  }
  const mask = heapTupleHeaderGetInfomask(page, tup);
  if ((mask & HEAP_XMAX_INVALID) !== 0) return TM.Ok;
  if ((mask & HEAP_XMAX_COMMITTED) !== 0) {
    if (heapXmaxIsLockedOnly(mask)) return TM.Ok;
    return ctidPointsToSelf ? TM.Deleted : TM.Updated;
  }
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if (isMine(xmax, ctx)) {
    if (heapXmaxIsLockedOnly(mask)) return TM.Ok;
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
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  rejectMulti(infomask);
  if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
    if ((infomask & HEAP_XMIN_INVALID) !== 0) return HTSV.Dead;
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if (isMine(xmin, ctx)) {
      if ((infomask & HEAP_XMAX_INVALID) !== 0 || heapXmaxIsLockedOnly(infomask)) {
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
  }
  const mask = heapTupleHeaderGetInfomask(page, tup);
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
  // The deleter committed: dead to everyone once no snapshot can still see the version.
  return xidPrecedes(xmax, oldestXmin) ? HTSV.Dead : HTSV.RecentlyDead;
}
