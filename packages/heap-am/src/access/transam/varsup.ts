/**
 * Transaction id assignment.
 *
 * Models: src/backend/access/transam/varsup.c (GetNewTransactionId under XidGenLock,
 * ReadNextTransactionId).
 * Entry points: `getNewTransactionId`, `readNextTransactionId`.
 * See also: ../../storage/ipc/transam-shmem.ts (nextXid and XidGenLock),
 * ../../storage/ipc/procarray.ts (where the new xid is published), transam.ts (the facade).
 *
 * Differs from PostgreSQL: xids are 32-bit and never wrap: the commit log has a fixed capacity
 * (`maxXids`), and when it is used up assignment fails instead of warning about and preventing
 * wraparound; there are no FullTransactionIds, no ExtendSUBTRANS, and no subtransaction xids;
 * ExtendCLOG only logs (the shared commit log is a zeroed array from the start).
 */

import { LW_EXCLUSIVE, lwlockAcquire, lwlockRelease } from "@pgsim/buffer-manager/internals";
import { PgsimError } from "@pgsim/clock-sweep";
import type { ProcArray } from "../../storage/ipc/procarray.js";
import {
  C_LATEST_COMPLETED,
  C_NEXT_XID,
  C_XIDGEN_LOCK,
  type TransamShmem,
} from "../../storage/ipc/transam-shmem.js";

/** ReadNextTransactionId: the next xid to be assigned (ShmemVariableCache->nextXid). */
export function readNextTransactionId(shmem: TransamShmem): number {
  return Atomics.load(shmem.w, C_NEXT_XID);
}

/**
 * GetNewTransactionId: assigns the next xid and publishes it in the backend's proc slot while
 * still holding XidGenLock, so that any later xid implies this one is visible as running.
 * Throws `xid-capacity-exhausted` when the commit log is full. `extendClog` (ExtendCLOG) is
 * called under XidGenLock with every new xid, before it is published.
 */
export function getNewTransactionId(
  procArray: ProcArray,
  extendClog?: (xid: number) => void,
): number {
  const { w, maxXids } = procArray.shmem;
  lwlockAcquire(w, C_XIDGEN_LOCK, LW_EXCLUSIVE);
  try {
    const xid = w[C_NEXT_XID]!;
    if (xid >= maxXids) {
      throw new PgsimError(
        "xid-capacity-exhausted",
        `database is not accepting commands: all ${maxXids} transaction ids of this cluster are used ` +
          "(pgsim's commit log has a fixed size; start the cluster with a larger maxXids)",
      );
    }
    // ExtendCLOG, still under XidGenLock: the first xid of a commit-log page logs the page's
    // zeroing before any record of a transaction on that page can exist.
    extendClog?.(xid);
    procArray.setMyXid(xid);
    Atomics.store(w, C_NEXT_XID, xid + 1);
    return xid;
  } finally {
    lwlockRelease(w, C_XIDGEN_LOCK, LW_EXCLUSIVE);
  }
}

/**
 * AdvanceNextFullTransactionIdPastXid (and the start-up setting of nextXid from a checkpoint):
 * nextXid becomes at least `next`; latestCompletedXid follows (nothing after it runs during
 * recovery).
 */
export function advanceNextXid(shmem: TransamShmem, next: number): void {
  const { w } = shmem;
  lwlockAcquire(w, C_XIDGEN_LOCK, LW_EXCLUSIVE);
  try {
    if (next > w[C_NEXT_XID]!) {
      Atomics.store(w, C_NEXT_XID, next);
      Atomics.store(w, C_LATEST_COMPLETED, next - 1);
    }
  } finally {
    lwlockRelease(w, C_XIDGEN_LOCK, LW_EXCLUSIVE);
  }
}
