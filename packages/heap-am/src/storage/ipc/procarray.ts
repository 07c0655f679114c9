/**
 * The proc array: which backend runs which transaction, the snapshots and horizons computed from
 * it, and "is this xid still running?".
 *
 * Models: src/backend/storage/ipc/procarray.c (ProcArrayEndTransaction, GetSnapshotData,
 * GetOldestNonRemovableTransactionId, TransactionIdIsInProgress, BackendXidGetPid) and the
 * PGPROC fields it reads (proc.h: xid, xmin); snapmgr.c's SnapshotResetXmin and RecentXmin.
 * Entry points: `ProcArray` (one per backend).
 * See also: transam-shmem.ts (the slots' layout), ../../access/transam/varsup.ts (publishes a new
 * xid here), ../lmgr/lmgr.ts (waits for an xid to leave), ../../include/utils/snapshot.ts.
 *
 * Each backend writes only its own slot: its xid is set under XidGenLock (by varsup) and cleared
 * under ProcArrayLock (exclusive); its xmin is set while holding ProcArrayLock (shared, as
 * PostgreSQL does) and cleared without a lock. Readers take ProcArrayLock shared for a consistent
 * snapshot or horizon; TransactionIdIsInProgress reads the xids atomically without it.
 *
 * Differs from PostgreSQL: one slot array scanned linearly (no dense pgxactoff arrays, no
 * snapshot caching by xactCompletionCount); one vacuum horizon for all relations
 * (GetOldestNonRemovableTransactionId without the per-database, catalog and data horizons of
 * GlobalVisState; `isRemovableXid` keeps GlobalVisState's maybe_needed / definitely_needed test
 * for that one horizon); no subtransactions, so no subxid caches or pg_subtrans lookups.
 */

import {
  LW_EXCLUSIVE,
  LW_SHARED,
  lwlockAcquire,
  lwlockRelease,
} from "@pgsim/buffer-manager/internals";
import { PgsimError } from "@pgsim/clock-sweep";
import {
  FirstNormalTransactionId,
  InvalidTransactionId,
  xidFollows,
  xidIsNormal,
  xidPrecedes,
} from "../../include/access/transam.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import {
  C_LATEST_COMPLETED,
  C_PROCARRAY_LOCK,
  P_XID,
  P_XMIN,
  PROC_INTS,
  procSlot,
  type TransamShmem,
} from "./transam-shmem.js";

/** One backend's handle on the proc array. `procNumber` is its slot. */
export class ProcArray {
  readonly shmem: TransamShmem;
  readonly procNumber: number;
  /** The first word of this backend's slot. */
  readonly mySlot: number;
  private readonly w: Int32Array;
  private readonly procs: number;
  private readonly maxBackends: number;
  /**
   * RecentXmin: the xmin of the last snapshot or horizon this backend computed. Every xid before
   * it had ended by then, and stays ended, so transactionIdIsInProgress answers for it without
   * the proc array.
   */
  private recentXmin = FirstNormalTransactionId;
  /**
   * GlobalVisState's maybe_needed: the newest vacuum horizon this backend computed. Horizons only
   * move forward (a new snapshot's xmin is never older than the oldest running xid or xmin), so
   * an xid before it stays removable.
   */
  private visMaybeNeeded = FirstNormalTransactionId;

  constructor(shmem: TransamShmem, procNumber: number) {
    if (!Number.isInteger(procNumber) || procNumber < 0 || procNumber >= shmem.maxBackends) {
      throw new PgsimError("invalid-handle", `backend number ${procNumber} is out of range`);
    }
    this.shmem = shmem;
    this.procNumber = procNumber;
    this.mySlot = procSlot(shmem, procNumber);
    this.w = shmem.w;
    this.procs = shmem.procs;
    this.maxBackends = shmem.maxBackends;
  }

  /** ShmemVariableCache->latestCompletedXid: the latest xid that committed or aborted. */
  get latestCompletedXid(): number {
    return Atomics.load(this.w, C_LATEST_COMPLETED);
  }

  /** MyProc->xid: the xid running in this backend's slot, or 0. */
  get myXid(): number {
    return Atomics.load(this.w, this.mySlot + P_XID);
  }

  /**
   * Publishes this backend's new xid (MyProc->xid = xid). Caller: GetNewTransactionId, holding
   * XidGenLock, so that any later xid implies this one is visible as running.
   */
  setMyXid(xid: number): void {
    Atomics.store(this.w, this.mySlot + P_XID, xid);
  }

  /**
   * ProcArrayEndTransaction: the xid (if any) and the advertised xmin leave this backend's slot,
   * and latestCompletedXid advances to `xid`, under ProcArrayLock (exclusive). The caller has
   * recorded the transaction's fate in the commit log first.
   */
  endTransaction(xid: number): void {
    lwlockAcquire(this.w, C_PROCARRAY_LOCK, LW_EXCLUSIVE);
    Atomics.store(this.w, this.mySlot + P_XID, 0);
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
    if (xid !== InvalidTransactionId && xidFollows(xid, this.w[C_LATEST_COMPLETED]!)) {
      Atomics.store(this.w, C_LATEST_COMPLETED, xid);
    }
    lwlockRelease(this.w, C_PROCARRAY_LOCK, LW_EXCLUSIVE);
  }

  /**
   * GetSnapshotData: xmax = latestCompletedXid + 1; xip = other backends' running xids below it;
   * xmin = the oldest of those, of our own xid, and xmax. With `advertise`, the backend's proc
   * slot records xmin so that vacuum keeps what this snapshot can see.
   */
  getSnapshotData(curcid: number, advertise: boolean): Snapshot {
    const w = this.w;
    lwlockAcquire(w, C_PROCARRAY_LOCK, LW_SHARED);
    try {
      const xmax = w[C_LATEST_COMPLETED]! + 1;
      let xmin = xmax;
      const xip: number[] = [];
      for (let p = 0; p < this.maxBackends; p++) {
        const xid = Atomics.load(w, this.procs + p * PROC_INTS + P_XID);
        if (xid === 0) continue;
        if (xidPrecedes(xid, xmin)) xmin = xid;
        if (p !== this.procNumber && xidPrecedes(xid, xmax)) xip.push(xid);
      }
      if (advertise && Atomics.load(w, this.mySlot + P_XMIN) === 0) {
        Atomics.store(w, this.mySlot + P_XMIN, xmin);
      }
      if (xidPrecedes(this.recentXmin, xmin)) this.recentXmin = xmin;
      return { xmin, xmax, xip: Int32Array.from(xip), curcid };
    } finally {
      lwlockRelease(w, C_PROCARRAY_LOCK, LW_SHARED);
    }
  }

  /** SnapshotResetXmin: forgets the xmin this backend advertised (its snapshots are gone). */
  snapshotResetXmin(): void {
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
  }

  /**
   * GetOldestNonRemovableTransactionId (simplified to one horizon): the oldest xid or snapshot
   * xmin of any backend, or latestCompletedXid + 1 when nothing runs. A tuple deleted by a
   * transaction that committed before this horizon is dead to everyone.
   */
  getOldestNonRemovableTransactionId(): number {
    const w = this.w;
    lwlockAcquire(w, C_PROCARRAY_LOCK, LW_SHARED);
    try {
      let horizon = w[C_LATEST_COMPLETED]! + 1;
      for (let p = 0; p < this.maxBackends; p++) {
        const base = this.procs + p * PROC_INTS;
        const xid = Atomics.load(w, base + P_XID);
        const xmin = Atomics.load(w, base + P_XMIN);
        if (xid !== 0 && xidPrecedes(xid, horizon)) horizon = xid;
        if (xmin !== 0 && xidPrecedes(xmin, horizon)) horizon = xmin;
      }
      if (xidPrecedes(this.recentXmin, horizon)) this.recentXmin = horizon;
      if (xidPrecedes(this.visMaybeNeeded, horizon)) this.visMaybeNeeded = horizon;
      return horizon;
    } finally {
      lwlockRelease(w, C_PROCARRAY_LOCK, LW_SHARED);
    }
  }

  /**
   * GlobalVisTestIsRemovableXid: did every snapshot that could still see `xid` (the xmax of a
   * committed deleter) go away? Answered without the proc array when it can be, as PostgreSQL
   * does with maybe_needed and definitely_needed: before the last horizon computed — yes; at or
   * after this backend's own advertised xmin or xid — no (its own snapshot needs it); only in
   * between is the horizon computed again.
   */
  isRemovableXid(xid: number): boolean {
    if (xidPrecedes(xid, this.visMaybeNeeded)) return true;
    const myXmin = Atomics.load(this.w, this.mySlot + P_XMIN);
    if (myXmin !== 0 && !xidPrecedes(xid, myXmin)) return false;
    const myXid = Atomics.load(this.w, this.mySlot + P_XID);
    if (myXid !== 0 && !xidPrecedes(xid, myXid)) return false;
    return xidPrecedes(xid, this.getOldestNonRemovableTransactionId());
  }

  /**
   * TransactionIdIsInProgress: is some backend still running `xid`? An xid before RecentXmin is
   * answered at once (PostgreSQL's first fast path); others are looked for in the proc array.
   */
  transactionIdIsInProgress(xid: number): boolean {
    if (!xidIsNormal(xid) || xidPrecedes(xid, this.recentXmin)) return false;
    for (let p = 0; p < this.maxBackends; p++) {
      if (Atomics.load(this.w, this.procs + p * PROC_INTS + P_XID) === xid) return true;
    }
    return false;
  }

  /**
   * BackendXidGetPid, answering with the backend's slot number: the backend running top-level
   * transaction `xid`, or −1.
   */
  backendXidGetProcNumber(xid: number): number {
    for (let p = 0; p < this.maxBackends; p++) {
      if (Atomics.load(this.w, this.procs + p * PROC_INTS + P_XID) === xid) return p;
    }
    return -1;
  }

  /** The word holding backend `procNumber`'s xid (what a waiter sleeps on). */
  xidWord(procNumber: number): number {
    return this.procs + procNumber * PROC_INTS + P_XID;
  }

  /** Clears this backend's xid and xmin (backend exit or crash cleanup). */
  clearMyProc(): void {
    Atomics.store(this.w, this.mySlot + P_XID, 0);
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
  }
}
