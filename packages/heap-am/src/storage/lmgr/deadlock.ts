/**
 * The deadlock check: does the chain "backend A waits for transaction X, run by backend B, which
 * waits for …" come back to the backend that asks?
 *
 * Models: src/backend/storage/lmgr/deadlock.c (DeadLockCheck, FindLockCycle, and the
 * DeadLockReport detail lines "Process N waits for ShareLock on transaction X; blocked by
 * process M.").
 * Entry points: `deadLockCheck`.
 * See also: lmgr.ts (XactLockTableWait runs the check once after deadlock_timeout),
 * ../ipc/procarray.ts (who runs which xid), ../ipc/transam-shmem.ts (the wait word).
 *
 * Checks are serialised by one LWLock (PostgreSQL holds all lock partition locks while it
 * checks), and a backend that finds a cycle clears its own wait before releasing that lock, so
 * the next member of the cycle to check no longer sees a cycle: exactly one of them gives up.
 *
 * Differs from PostgreSQL: the only lock is "waits for transaction X" (XactLockTableWait's
 * ShareLock on a transaction id), and a backend waits for one thing at a time, so the wait-for
 * graph is a chain and the check follows it; there are no soft edges, no wait-queue
 * rearrangement and no lock groups. Process numbers in the detail are backend slots, not pids.
 */

import { LW_EXCLUSIVE, lwlockAcquire, lwlockRelease } from "@pgsim/buffer-manager/internals";
import type { ProcArray } from "../ipc/procarray.js";
import { C_DEADLOCK_LOCK, P_WAITING_FOR, procSlot } from "../ipc/transam-shmem.js";

/**
 * DeadLockCheck for a backend that waits for transaction `xid`: follows the chain of waits from
 * it. Returns PostgreSQL-style detail lines when the chain comes back to this backend (and clears
 * this backend's wait, see above), or undefined when it ends at a backend that does not wait.
 */
export function deadLockCheck(procArray: ProcArray, xid: number): string | undefined {
  const shmem = procArray.shmem;
  const w = shmem.w;
  lwlockAcquire(w, C_DEADLOCK_LOCK, LW_EXCLUSIVE);
  try {
    const lines: string[] = [];
    let waiter = procArray.procNumber;
    let waitsFor = xid;
    for (let steps = 0; steps <= shmem.maxBackends; steps++) {
      const holder = procArray.backendXidGetProcNumber(waitsFor);
      if (holder < 0) return undefined;
      lines.push(
        `Process ${waiter} waits for ShareLock on transaction ${waitsFor}; blocked by process ${holder}.`,
      );
      if (holder === procArray.procNumber) {
        Atomics.store(w, procArray.mySlot + P_WAITING_FOR, 0);
        return lines.join("\n");
      }
      const next = Atomics.load(w, procSlot(shmem, holder) + P_WAITING_FOR);
      if (next === 0) return undefined;
      waiter = holder;
      waitsFor = next;
    }
    return undefined;
  } finally {
    lwlockRelease(w, C_DEADLOCK_LOCK, LW_EXCLUSIVE);
  }
}
