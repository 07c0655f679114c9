/**
 * Transaction status: did a transaction commit or abort? And `Transam`, one backend's handle on
 * the whole transaction system, composed of the parts that live in PostgreSQL's files of the
 * same names.
 *
 * Models: src/backend/access/transam/transam.c (TransactionIdDidCommit, TransactionIdDidAbort,
 * TransactionLogFetch's answers for the permanent xids). `Transam` is pgsim only: it bundles, per
 * backend, varsup.ts (GetNewTransactionId), clog.ts (the shared commit log),
 * storage/ipc/procarray.ts (ProcArrayEndTransaction, GetSnapshotData,
 * GetOldestNonRemovableTransactionId, TransactionIdIsInProgress) and storage/lmgr/lmgr.ts
 * (XactLockTableWait, with deadlock.ts's check), so that heap code needs one object.
 * Entry points: `Transam`, `transactionIdDidCommit`, `transactionIdDidAbort`; re-exported for
 * the package: `initTransam`, `transamShmemSize`, `TransamShared`, `DEFAULT_MAX_XIDS`.
 * See also: ../../include/access/transam.ts (special xids, TransactionIdPrecedes and friends),
 * ../../storage/ipc/transam-shmem.ts (the shared layout), xact.ts (one backend's transaction
 * state), ../heap/heapam-visibility.ts (who asks).
 *
 * Differs from PostgreSQL: no subtransactions (no pg_subtrans lookups) and no multixacts.
 */

import { InvalidTransactionId, xidIsNormal } from "../../include/access/transam.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import { ProcArray } from "../../storage/ipc/procarray.js";
import {
  attachTransamShmem,
  type TransamShared,
  type TransamShmem,
} from "../../storage/ipc/transam-shmem.js";
import {
  lockErrorCleanup,
  lockWaitingFor,
  type XactLockWaitOptions,
  xactLockRelease,
  xactLockTableWait,
} from "../../storage/lmgr/lmgr.js";
import {
  clogCopyPages,
  clogGetStatus,
  clogSetStatus,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  type XidStatus,
} from "./clog.js";
import { getNewTransactionId, readNextTransactionId } from "./varsup.js";

export {
  DEFAULT_MAX_XIDS,
  initTransam,
  type TransamShared,
  transamShmemSize,
} from "../../storage/ipc/transam-shmem.js";

/**
 * TransactionLogFetch: a normal xid's status in the commit log, through the backend's one-entry
 * cache — the heap asks about the same xid over and over (every row a statement changed carries
 * it). Only a final status is cached (committed or aborted; in progress may still change).
 */
function transactionLogFetch(shmem: TransamShmem, xid: number): number {
  if (xid === shmem.cachedFetchXid) return shmem.cachedFetchXidStatus;
  const status = clogGetStatus(shmem, xid);
  if (status === TRANSACTION_STATUS_COMMITTED || status === TRANSACTION_STATUS_ABORTED) {
    shmem.cachedFetchXid = xid;
    shmem.cachedFetchXidStatus = status;
  }
  return status;
}

/**
 * TransactionIdDidCommit (TransactionLogFetch): Bootstrap and Frozen always committed, Invalid
 * never.
 */
export function transactionIdDidCommit(shmem: TransamShmem, xid: number): boolean {
  if (!xidIsNormal(xid)) return xid !== InvalidTransactionId;
  return transactionLogFetch(shmem, xid) === TRANSACTION_STATUS_COMMITTED;
}

/**
 * TransactionIdDidAbort: recorded as aborted (Invalid counts as aborted, Bootstrap and Frozen
 * never). A transaction that crashed without an abort record reads as neither committed nor
 * aborted; callers ask TransactionIdIsInProgress first, as in PostgreSQL.
 */
export function transactionIdDidAbort(shmem: TransamShmem, xid: number): boolean {
  if (!xidIsNormal(xid)) return xid === InvalidTransactionId;
  return transactionLogFetch(shmem, xid) === TRANSACTION_STATUS_ABORTED;
}

/**
 * One backend's handle on the shared transaction system. `procNumber` is the backend's slot
 * (the same number as its buffer-pool backend).
 */
export class Transam {
  readonly procNumber: number;
  readonly maxBackends: number;
  readonly maxXids: number;
  readonly shmem: TransamShmem;
  readonly procArray: ProcArray;

  constructor(shared: TransamShared, procNumber: number) {
    this.shmem = attachTransamShmem(shared);
    this.procArray = new ProcArray(this.shmem, procNumber);
    this.procNumber = procNumber;
    this.maxBackends = shared.maxBackends;
    this.maxXids = shared.maxXids;
  }

  /** The next xid to be assigned (ShmemVariableCache->nextXid). */
  get nextXid(): number {
    return readNextTransactionId(this.shmem);
  }

  /** The latest xid that committed or aborted. */
  get latestCompletedXid(): number {
    return this.procArray.latestCompletedXid;
  }

  /**
   * ExtendCLOG's logging, set by a database with WAL: called under XidGenLock with each new
   * xid (see varsup.ts).
   */
  extendClog: ((xid: number) => void) | undefined;

  /** GetNewTransactionId (varsup.ts). */
  assignXid(): number {
    return getNewTransactionId(this.procArray, this.extendClog);
  }

  /** TransactionIdGetStatus from the shared commit log (clog.ts). */
  getStatus(xid: number): XidStatus {
    return clogGetStatus(this.shmem, xid);
  }

  /** The commit log's pages in pg_xact's format, for a checkpoint (see clogCopyPages). */
  commitLogPages(): Uint8Array {
    return clogCopyPages(this.shmem, readNextTransactionId(this.shmem));
  }

  /** TransactionIdDidCommit. */
  didCommit(xid: number): boolean {
    return transactionIdDidCommit(this.shmem, xid);
  }

  /**
   * RecordTransactionCommit / RecordTransactionAbort followed by ProcArrayEndTransaction: the
   * status goes into the commit log first, then the xid leaves the proc array (so anyone who no
   * longer sees it running finds its final status), then waiters are woken.
   */
  endTransaction(xid: number, committed: boolean): void {
    if (xid !== InvalidTransactionId) {
      clogSetStatus(
        this.shmem,
        xid,
        committed ? TRANSACTION_STATUS_COMMITTED : TRANSACTION_STATUS_ABORTED,
      );
    }
    this.procArray.endTransaction(xid);
    xactLockRelease(this.procArray, xid);
  }

  /** GetSnapshotData (procarray.ts); with `advertise`, the snapshot's xmin holds back vacuum. */
  getSnapshot(curcid: number, advertise: boolean): Snapshot {
    return this.procArray.getSnapshotData(curcid, advertise);
  }

  /** Forgets the xmin this backend advertised (its snapshots are gone). */
  clearAdvertisedXmin(): void {
    this.procArray.snapshotResetXmin();
  }

  /** GetOldestNonRemovableTransactionId (procarray.ts): the vacuum horizon. */
  oldestXmin(): number {
    return this.procArray.getOldestNonRemovableTransactionId();
  }

  /**
   * GlobalVisTestIsRemovableXid (procarray.ts): is a version whose deleter `xid` committed dead
   * to everyone? Computes the horizon only when the cached bounds cannot tell.
   */
  isRemovableXid(xid: number): boolean {
    return this.procArray.isRemovableXid(xid);
  }

  /** TransactionIdIsInProgress (procarray.ts). */
  isInProgress(xid: number): boolean {
    return this.procArray.transactionIdIsInProgress(xid);
  }

  /** XactLockTableWait (lmgr.ts): false on `timeoutMs`; "deadlock detected" on a cycle. */
  waitForTransaction(xid: number, options: XactLockWaitOptions = {}): boolean {
    return xactLockTableWait(this.procArray, xid, options);
  }

  /** The xid a backend waits for, or 0 (what pg_locks shows as a waiting lock). */
  waitingFor(procNumber: number = this.procNumber): number {
    return lockWaitingFor(this.shmem, procNumber);
  }

  /**
   * Cleans up after a backend that died in the middle of a transaction: its transaction is
   * recorded as aborted (so its changes are invisible to everyone), it leaves the proc array, and
   * backends waiting for it wake up. Returns the xid that was aborted, or 0.
   */
  static recoverBackend(shared: TransamShared, procNumber: number): number {
    const t = new Transam(shared, procNumber);
    const xid = t.currentXid;
    lockErrorCleanup(t.procArray);
    if (xid !== InvalidTransactionId && t.getStatus(xid) === TRANSACTION_STATUS_IN_PROGRESS) {
      t.endTransaction(xid, false);
      return xid;
    }
    t.endTransaction(InvalidTransactionId, false);
    return InvalidTransactionId;
  }

  /** Marks this backend's slot free of any transaction (backend exit or crash cleanup). */
  resetSlot(): void {
    this.procArray.clearMyProc();
    lockErrorCleanup(this.procArray);
  }

  /** The xid running in this backend's slot, or 0. */
  get currentXid(): number {
    return this.procArray.myXid;
  }
}
