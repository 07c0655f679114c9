/**
 * Transaction ids and their status in shared memory: xid assignment, the commit log, the proc
 * array of running transactions, and MVCC snapshots taken from it.
 *
 * Models: src/backend/access/transam/transam.c (TransactionIdPrecedes and friends,
 * TransactionIdDidCommit), varsup.c (GetNewTransactionId, under XidGenLock), clog.c (the status
 * bits, here in one shared array of clog pages), storage/ipc/procarray.c (ProcArrayEndTransaction,
 * GetSnapshotData, GetOldestNonRemovableTransactionId, TransactionIdIsInProgress), and
 * lmgr.c XactLockTableWait (waiting for a transaction to end).
 * Entry points: `transamShmemSize`, `initTransam`, `Transam` (per backend), `xidPrecedes`.
 * See also: clog.ts (the page format), snapmgr.ts (snapshots), xact.ts (one backend's
 * transaction state), heapam-visibility.ts (who asks).
 *
 * Shared layout, one SharedArrayBuffer:
 *   control (Int32): magic, nextXid, latestCompletedXid, XidGenLock (LWLock), ProcArrayLock
 *                    (LWLock), maxBackends, clog capacity. nextXid is changed only under
 *                    XidGenLock; latestCompletedXid only under ProcArrayLock (exclusive).
 *   procs (Int32 × 4 per backend): the running top-level xid (0 = none) and the xmin the
 *                    backend's snapshots need kept (0 = none). A backend writes its own slot; the
 *                    xid is set under XidGenLock and cleared under ProcArrayLock (exclusive).
 *   clog (Int32 words over clog pages, byte-for-byte PostgreSQL's pg_xact format on a
 *                    little-endian machine): a status moves only from IN_PROGRESS to COMMITTED or
 *                    ABORTED, so an atomic OR sets it without a lock.
 *
 * Differs from PostgreSQL: the commit log is one fixed array in shared memory instead of SLRU
 * pages cached over pg_xact files, so its capacity (default 4M xids) is fixed and there is no xid
 * wraparound or freezing horizon based on it; there are no subtransactions and no multixacts.
 */

import {
  LW_EXCLUSIVE,
  LW_SHARED,
  LWLOCK_INTS,
  lwlockAcquire,
  lwlockRelease,
} from "@pgsim/buffer-manager/internals";
import { AssertionError, PgsimError } from "@pgsim/clock-sweep";
import {
  CLOG_PAGE_SIZE,
  CLOG_XACTS_PER_PAGE,
  FirstNormalTransactionId,
  InvalidTransactionId,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  type XidStatus,
} from "./clog.js";
import type { Snapshot } from "./snapmgr.js";

const C_MAGIC = 0;
const C_NEXT_XID = 1;
const C_LATEST_COMPLETED = 2;
const C_XIDGEN_LOCK = 3; // and 4
const C_PROCARRAY_LOCK = 5; // and 6
const C_MAX_BACKENDS = 7;
const C_CAPACITY = 8;
const C_DEADLOCK_LOCK = 9; // and 10
const CONTROL_INTS = 16;
const PROC_INTS = 4;
const P_XID = 0;
const P_XMIN = 1;
/** The xid this backend is waiting for (XactLockTableWait), 0 when not waiting. */
const P_WAITING_FOR = 2;
const TRANSAM_MAGIC = 0x58414354; // "XACT"

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Default commit-log capacity: 4,194,304 transaction ids (1 MB of clog pages). */
export const DEFAULT_MAX_XIDS = 1 << 22;

if (
  C_XIDGEN_LOCK + LWLOCK_INTS > C_PROCARRAY_LOCK ||
  C_PROCARRAY_LOCK + LWLOCK_INTS > C_MAX_BACKENDS ||
  C_DEADLOCK_LOCK + LWLOCK_INTS > CONTROL_INTS
) {
  throw new Error("transam control slots overlap");
}

/** TransactionIdIsNormal: not Invalid (0), Bootstrap (1) or Frozen (2). */
export function xidIsNormal(xid: number): boolean {
  return xid >= FirstNormalTransactionId;
}

/** TransactionIdPrecedes: a < b in 32-bit modular order (plain order for special xids). */
export function xidPrecedes(a: number, b: number): boolean {
  if (!xidIsNormal(a) || !xidIsNormal(b)) return a >>> 0 < b >>> 0;
  return ((a - b) | 0) < 0;
}

/** TransactionIdPrecedesOrEquals. */
export function xidPrecedesOrEquals(a: number, b: number): boolean {
  if (!xidIsNormal(a) || !xidIsNormal(b)) return a >>> 0 <= b >>> 0;
  return ((a - b) | 0) <= 0;
}

/** TransactionIdFollows. */
export function xidFollows(a: number, b: number): boolean {
  return xidPrecedes(b, a);
}

/** TransactionIdFollowsOrEquals. */
export function xidFollowsOrEquals(a: number, b: number): boolean {
  return xidPrecedesOrEquals(b, a);
}

/** What a worker needs to attach to the transaction system (structured-clonable). */
export interface TransamShared {
  readonly sab: SharedArrayBuffer;
  readonly maxBackends: number;
  readonly maxXids: number;
}

function layout(maxBackends: number, maxXids: number) {
  const procs = CONTROL_INTS;
  const clog = procs + maxBackends * PROC_INTS;
  const clogInts = Math.ceil(maxXids / 16);
  return { procs, clog, totalBytes: (clog + clogInts) * 4 };
}

/** Bytes of shared memory the transaction system needs. */
export function transamShmemSize(maxBackends: number, maxXids = DEFAULT_MAX_XIDS): number {
  return layout(maxBackends, maxXids).totalBytes;
}

/** Creates and initialises the transaction system's shared memory (once). */
export function initTransam(maxBackends: number, maxXids = DEFAULT_MAX_XIDS): TransamShared {
  if (!Number.isInteger(maxXids) || maxXids < 1024 || maxXids > 1 << 30) {
    throw new PgsimError(
      "invalid-option",
      `maxXids must be an integer from 1024 to 2^30, got ${maxXids}`,
    );
  }
  const l = layout(maxBackends, maxXids);
  const sab = new SharedArrayBuffer(l.totalBytes);
  const w = new Int32Array(sab);
  w[C_MAGIC] = TRANSAM_MAGIC;
  w[C_NEXT_XID] = FirstNormalTransactionId;
  // latestCompletedXid starts just before the first normal xid, as after initdb.
  w[C_LATEST_COMPLETED] = FirstNormalTransactionId - 1;
  w[C_MAX_BACKENDS] = maxBackends;
  w[C_CAPACITY] = maxXids;
  return { sab, maxBackends, maxXids };
}

/**
 * One backend's handle on the shared transaction system. `procNumber` is the backend's slot
 * (the same number as its buffer-pool backend).
 */
export class Transam {
  readonly procNumber: number;
  readonly maxBackends: number;
  readonly maxXids: number;
  private readonly w: Int32Array;
  private readonly procs: number;
  private readonly clog: number;
  private readonly mySlot: number;
  /**
   * RecentXmin: the xmin of the last snapshot or horizon this backend computed. Every xid before
   * it had ended by then, and stays ended, so isInProgress answers for it without the proc array.
   */
  private recentXmin = FirstNormalTransactionId;

  constructor(shared: TransamShared, procNumber: number) {
    const w = new Int32Array(shared.sab);
    if (w[C_MAGIC] !== TRANSAM_MAGIC) {
      throw new PgsimError(
        "invalid-handle",
        "shared memory is not an initialised transaction system",
      );
    }
    if (!Number.isInteger(procNumber) || procNumber < 0 || procNumber >= shared.maxBackends) {
      throw new PgsimError("invalid-handle", `backend number ${procNumber} is out of range`);
    }
    const l = layout(shared.maxBackends, shared.maxXids);
    this.w = w;
    this.procs = l.procs;
    this.clog = l.clog;
    this.procNumber = procNumber;
    this.maxBackends = shared.maxBackends;
    this.maxXids = shared.maxXids;
    this.mySlot = l.procs + procNumber * PROC_INTS;
  }

  /** The next xid to be assigned (ShmemVariableCache->nextXid). */
  get nextXid(): number {
    return Atomics.load(this.w, C_NEXT_XID);
  }

  /** The latest xid that committed or aborted. */
  get latestCompletedXid(): number {
    return Atomics.load(this.w, C_LATEST_COMPLETED);
  }

  /**
   * GetNewTransactionId: assigns the next xid and publishes it in this backend's proc slot while
   * still holding XidGenLock, so that any later xid implies this one is visible as running.
   */
  assignXid(): number {
    const lock = C_XIDGEN_LOCK;
    lwlockAcquire(this.w, lock, LW_EXCLUSIVE);
    try {
      const xid = this.w[C_NEXT_XID]!;
      if (xid >= this.maxXids) {
        throw new PgsimError(
          "xid-capacity-exhausted",
          `database is not accepting commands: all ${this.maxXids} transaction ids of this cluster are used ` +
            "(pgsim's commit log has a fixed size; start the cluster with a larger maxXids)",
        );
      }
      Atomics.store(this.w, this.mySlot + P_XID, xid);
      Atomics.store(this.w, C_NEXT_XID, xid + 1);
      return xid;
    } finally {
      lwlockRelease(this.w, lock, LW_EXCLUSIVE);
    }
  }

  /**
   * A copy of the commit log's pages, byte for byte in pg_xact's format, from page 0 through the
   * page holding the newest assigned xid (at least one page), for writing pg_xact files at a
   * checkpoint. Statuses are read atomically word by word; a transaction ending meanwhile may or
   * may not be in the copy, as with SLRU pages written while transactions end.
   */
  commitLogPages(): Uint8Array {
    const newest = Math.max(this.nextXid - 1, 0);
    const bytes = (Math.floor(newest / CLOG_XACTS_PER_PAGE) + 1) * CLOG_PAGE_SIZE;
    const words = new Int32Array(bytes / 4);
    const available = Math.min(words.length, Math.ceil(this.maxXids / 16));
    for (let i = 0; i < available; i++) words[i] = Atomics.load(this.w, this.clog + i);
    // The shared words hold the bytes in little-endian order, as pg_xact on a little-endian host.
    const out = new Uint8Array(words.buffer);
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < out.length; i += 4) out.subarray(i, i + 4).reverse();
    }
    return out;
  }

  /** TransactionIdGetStatus from the shared commit log. */
  getStatus(xid: number): XidStatus {
    if (xid < 0 || xid >= this.maxXids) return TRANSACTION_STATUS_IN_PROGRESS;
    const word = Atomics.load(this.w, this.clog + (xid >>> 4));
    return ((word >>> ((xid & 15) * 2)) & 3) as XidStatus;
  }

  /**
   * TransactionIdDidCommit (TransactionLogFetch): Bootstrap and Frozen always committed, Invalid
   * never.
   */
  didCommit(xid: number): boolean {
    if (!xidIsNormal(xid)) return xid !== InvalidTransactionId;
    return this.getStatus(xid) === TRANSACTION_STATUS_COMMITTED;
  }

  private setStatus(xid: number, status: XidStatus): void {
    const slot = this.clog + (xid >>> 4);
    const shift = (xid & 15) * 2;
    const before = Atomics.or(this.w, slot, status << shift);
    if (((before >>> shift) & 3) !== TRANSACTION_STATUS_IN_PROGRESS) {
      throw new AssertionError(`transaction ${xid} ended twice`);
    }
  }

  /**
   * RecordTransactionCommit / RecordTransactionAbort followed by ProcArrayEndTransaction: the
   * status goes into the commit log first, then the xid leaves the proc array (so anyone who no
   * longer sees it running finds its final status), then waiters are woken.
   */
  endTransaction(xid: number, committed: boolean): void {
    if (xid !== InvalidTransactionId) {
      this.setStatus(xid, committed ? TRANSACTION_STATUS_COMMITTED : TRANSACTION_STATUS_ABORTED);
    }
    lwlockAcquire(this.w, C_PROCARRAY_LOCK, LW_EXCLUSIVE);
    Atomics.store(this.w, this.mySlot + P_XID, 0);
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
    if (xid !== InvalidTransactionId && xidFollows(xid, this.w[C_LATEST_COMPLETED]!)) {
      Atomics.store(this.w, C_LATEST_COMPLETED, xid);
    }
    lwlockRelease(this.w, C_PROCARRAY_LOCK, LW_EXCLUSIVE);
    if (xid !== InvalidTransactionId) Atomics.notify(this.w, this.mySlot + P_XID);
  }

  /**
   * GetSnapshotData: xmax = latestCompletedXid + 1; xip = other backends' running xids below it;
   * xmin = the oldest of those, of our own xid, and xmax. With `advertise`, the backend's proc
   * slot records xmin so that vacuum keeps what this snapshot can see.
   */
  getSnapshot(curcid: number, advertise: boolean): Snapshot {
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

  /** Forgets the xmin this backend advertised (its snapshots are gone). */
  clearAdvertisedXmin(): void {
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
  }

  /**
   * GetOldestNonRemovableTransactionId (simplified to one horizon): the oldest xid or snapshot
   * xmin of any backend, or latestCompletedXid + 1 when nothing runs. A tuple deleted by a
   * transaction that committed before this horizon is dead to everyone.
   */
  oldestXmin(): number {
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
      return horizon;
    } finally {
      lwlockRelease(w, C_PROCARRAY_LOCK, LW_SHARED);
    }
  }

  /**
   * TransactionIdIsInProgress: is some backend still running `xid`? An xid before RecentXmin is
   * answered at once (PostgreSQL's first fast path); others are looked for in the proc array.
   */
  isInProgress(xid: number): boolean {
    if (!xidIsNormal(xid) || xidPrecedes(xid, this.recentXmin)) return false;
    for (let p = 0; p < this.maxBackends; p++) {
      if (Atomics.load(this.w, this.procs + p * PROC_INTS + P_XID) === xid) return true;
    }
    return false;
  }

  /** The backend running top-level transaction `xid`, or −1. */
  private procOfXid(xid: number): number {
    for (let p = 0; p < this.maxBackends; p++) {
      if (Atomics.load(this.w, this.procs + p * PROC_INTS + P_XID) === xid) return p;
    }
    return -1;
  }

  /**
   * XactLockTableWait: sleeps until transaction `xid` has ended. After `deadlockTimeoutMs` of
   * waiting it runs the deadlock check once (DeadLockCheck): if the transactions it waits for
   * wait, in a cycle, for this one, this backend gives up with "deadlock detected" (its caller's
   * transaction then aborts, which breaks the cycle). Returns false on `timeoutMs`.
   */
  waitForTransaction(
    xid: number,
    options: { timeoutMs?: number; deadlockTimeoutMs?: number } = {},
  ): boolean {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadlockTimeoutMs = options.deadlockTimeoutMs ?? 1000;
    const start = Date.now();
    let checked = false;
    Atomics.store(this.w, this.mySlot + P_WAITING_FOR, xid);
    try {
      for (;;) {
        const holder = this.procOfXid(xid);
        if (holder < 0) return true;
        if (holder === this.procNumber) {
          throw new AssertionError("a transaction cannot wait for itself");
        }
        const waited = Date.now() - start;
        if (waited >= timeoutMs) return false;
        if (!checked && waited >= deadlockTimeoutMs) {
          checked = true;
          const cycle = this.findDeadlock(xid);
          if (cycle !== undefined) {
            throw new PgsimError("deadlock-detected", "deadlock detected", { detail: cycle });
          }
        }
        const slot = this.procs + holder * PROC_INTS + P_XID;
        const sleep = checked ? 50 : Math.max(1, Math.min(50, deadlockTimeoutMs - waited));
        Atomics.wait(this.w, slot, xid, sleep);
      }
    } finally {
      Atomics.store(this.w, this.mySlot + P_WAITING_FOR, 0);
    }
  }

  /**
   * DeadLockCheck: follows "waits for transaction X, run by backend B, which waits for …" from
   * this backend. Returns PostgreSQL-style detail lines when the chain comes back here. Checks
   * are serialised, and a backend that finds a cycle stops waiting (clears its wait) before the
   * next backend checks, so only one of the cycle's members gives up.
   */
  private findDeadlock(xid: number): string | undefined {
    lwlockAcquire(this.w, C_DEADLOCK_LOCK, LW_EXCLUSIVE);
    try {
      const lines: string[] = [];
      let waiter = this.procNumber;
      let waitsFor = xid;
      for (let steps = 0; steps <= this.maxBackends; steps++) {
        const holder = this.procOfXid(waitsFor);
        if (holder < 0) return undefined;
        lines.push(
          `Process ${waiter} waits for ShareLock on transaction ${waitsFor}; blocked by process ${holder}.`,
        );
        if (holder === this.procNumber) {
          Atomics.store(this.w, this.mySlot + P_WAITING_FOR, 0);
          return lines.join("\n");
        }
        const next = Atomics.load(this.w, this.procs + holder * PROC_INTS + P_WAITING_FOR);
        if (next === 0) return undefined;
        waiter = holder;
        waitsFor = next;
      }
      return undefined;
    } finally {
      lwlockRelease(this.w, C_DEADLOCK_LOCK, LW_EXCLUSIVE);
    }
  }

  /** The xid a backend waits for, or 0 (what pg_locks shows as a waiting lock). */
  waitingFor(procNumber: number = this.procNumber): number {
    return Atomics.load(this.w, this.procs + procNumber * PROC_INTS + P_WAITING_FOR);
  }

  /**
   * Cleans up after a backend that died in the middle of a transaction: its transaction is
   * recorded as aborted (so its changes are invisible to everyone), it leaves the proc array, and
   * backends waiting for it wake up. Returns the xid that was aborted, or 0.
   */
  static recoverBackend(shared: TransamShared, procNumber: number): number {
    const t = new Transam(shared, procNumber);
    const xid = t.currentXid;
    Atomics.store(t.w, t.mySlot + P_WAITING_FOR, 0);
    if (xid !== InvalidTransactionId && t.getStatus(xid) === TRANSACTION_STATUS_IN_PROGRESS) {
      t.endTransaction(xid, false);
      return xid;
    }
    t.endTransaction(InvalidTransactionId, false);
    return InvalidTransactionId;
  }

  /** Marks this backend's slot free of any transaction (backend exit or crash cleanup). */
  resetSlot(): void {
    Atomics.store(this.w, this.mySlot + P_XID, 0);
    Atomics.store(this.w, this.mySlot + P_XMIN, 0);
    Atomics.store(this.w, this.mySlot + P_WAITING_FOR, 0);
  }

  /** The xid running in this backend's slot, or 0. */
  get currentXid(): number {
    return Atomics.load(this.w, this.mySlot + P_XID);
  }
}
