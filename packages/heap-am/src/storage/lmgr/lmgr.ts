/**
 * Waiting for a transaction to end, as a row-level lock conflict does.
 *
 * Models: src/backend/storage/lmgr/lmgr.c (XactLockTableWait; the end of a transaction releasing
 * its xact lock, which wakes the waiters) and proc.c (ProcSleep's deadlock_timeout before the
 * deadlock check, LockErrorCleanup) and lock.c's pg_locks view of a waiting lock.
 * Entry points: `xactLockTableWait`, `xactLockRelease`, `lockWaitingFor`, `lockErrorCleanup`,
 * `lockTimeoutError`.
 * See also: deadlock.ts (the check), ../ipc/procarray.ts (who runs which xid: a running xid is
 * the "lock" on it), ../../access/heap/heapam.ts (waits for the updater of a tuple).
 *
 * The "lock" on a transaction is its xid in the proc array: a waiter sleeps (Atomics.wait) on
 * the holder's xid word until it changes, and the holder, after ProcArrayEndTransaction, wakes
 * everyone sleeping on that word. The xid a backend waits for is in its wait word (atomic only),
 * which the deadlock check and pg_locks read.
 *
 * Differs from PostgreSQL: no lock table, no lock modes, no wait queue (every waiter wakes, and
 * who gets the row is decided by the heap's retry); the sleep is bounded and re-checks at least
 * every 50 ms; lock_timeout defaults to 2 minutes (DEFAULT_LOCK_TIMEOUT_MS), a safety net against
 * a wait nobody ends, where PostgreSQL's default, 0, waits for ever (a database's
 * `lockTimeoutMs: 0`).
 */

import { AssertionError, PgsimError } from "@pgsim/clock-sweep";
import type { ProcArray } from "../ipc/procarray.js";
import { P_WAITING_FOR, procSlot, type TransamShmem } from "../ipc/transam-shmem.js";
import { deadLockCheck } from "./deadlock.js";

/** lock_timeout when a database sets none (ms): 2 minutes. */
export const DEFAULT_LOCK_TIMEOUT_MS = 120_000;

/** How long XactLockTableWait may wait. */
export interface XactLockWaitOptions {
  /**
   * lock_timeout: give up (return false) after this long (ms; default DEFAULT_LOCK_TIMEOUT_MS);
   * 0 waits until the transaction ends, as PostgreSQL's lock_timeout = 0.
   */
  timeoutMs?: number;
  /** deadlock_timeout: wait this long before the deadlock check (ms; default 1000). */
  deadlockTimeoutMs?: number;
}

/**
 * XactLockTableWait: sleeps until transaction `xid` has ended. After `deadlockTimeoutMs` of
 * waiting it runs the deadlock check once (DeadLockCheck): if the transactions it waits for
 * wait, in a cycle, for this one, this backend gives up with "deadlock detected" (its caller's
 * transaction then aborts, which breaks the cycle). Returns false on `timeoutMs`.
 */
export function xactLockTableWait(
  procArray: ProcArray,
  xid: number,
  options: XactLockWaitOptions = {},
): boolean {
  const w = procArray.shmem.w;
  const myWait = procArray.mySlot + P_WAITING_FOR;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadlockTimeoutMs = options.deadlockTimeoutMs ?? 1000;
  const start = Date.now();
  let checked = false;
  Atomics.store(w, myWait, xid);
  try {
    for (;;) {
      const holder = procArray.backendXidGetProcNumber(xid);
      if (holder < 0) return true;
      if (holder === procArray.procNumber) {
        throw new AssertionError("a transaction cannot wait for itself");
      }
      const waited = Date.now() - start;
      if (timeoutMs > 0 && waited >= timeoutMs) return false;
      if (!checked && waited >= deadlockTimeoutMs) {
        checked = true;
        const cycle = deadLockCheck(procArray, xid);
        if (cycle !== undefined) {
          throw new PgsimError("deadlock-detected", "deadlock detected", { detail: cycle });
        }
      }
      const sleep = checked ? 50 : Math.max(1, Math.min(50, deadlockTimeoutMs - waited));
      Atomics.wait(w, procArray.xidWord(holder), xid, sleep);
    }
  } finally {
    Atomics.store(w, myWait, 0);
  }
}

/**
 * The error of a lock wait that ran past lock_timeout (ProcSleep's LOCK_TIMEOUT interrupt):
 * PostgreSQL's "canceling statement due to lock timeout", SQLSTATE 55P03 (lock_not_available).
 */
export function lockTimeoutError(xid: number): PgsimError {
  return new PgsimError("lock-timeout", "canceling statement due to lock timeout", {
    xid,
    sqlstate: "55P03",
  });
}

/**
 * The end of transaction `xid` releases its xact lock: every backend sleeping in
 * xactLockTableWait on this backend's xid word wakes. Caller: after ProcArrayEndTransaction has
 * cleared the word.
 */
export function xactLockRelease(procArray: ProcArray, xid: number): void {
  if (xid !== 0) Atomics.notify(procArray.shmem.w, procArray.xidWord(procArray.procNumber));
}

/** The xid backend `procNumber` waits for, or 0 (what pg_locks shows as a waiting lock). */
export function lockWaitingFor(shmem: TransamShmem, procNumber: number): number {
  return Atomics.load(shmem.w, procSlot(shmem, procNumber) + P_WAITING_FOR);
}

/** LockErrorCleanup: this backend no longer waits for anything (crash cleanup, backend exit). */
export function lockErrorCleanup(procArray: ProcArray): void {
  Atomics.store(procArray.shmem.w, procArray.mySlot + P_WAITING_FOR, 0);
}
