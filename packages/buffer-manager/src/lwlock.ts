/**
 * Lightweight locks in shared memory: shared/exclusive locks that sleep with Atomics.wait.
 *
 * Models: src/backend/storage/lmgr/lwlock.c (LWLockAcquire, LWLockConditionalAcquire,
 * LWLockRelease) as used for buffer mapping partitions and buffer content locks.
 * Entry points: `lwlockAcquire`, `lwlockConditionalAcquire`, `lwlockRelease`, `LW_SHARED`,
 * `LW_EXCLUSIVE`, `LWLOCK_INTS`.
 * See also: bufmgr.ts (partition and content locks), buf-internals.ts (where content locks live).
 *
 * A lock is two Int32 slots: the lock word (shared holder count in the low 24 bits, the exclusive
 * bit above) and a count of sleepers, so that a release only calls Atomics.notify when somebody
 * sleeps. Changes to the lock word are compare-and-swap loops; sleepers wait on the lock word's
 * value, so a release between their check and their sleep wakes them at once ("not-equal").
 *
 * Differs from PostgreSQL: no wait queue. Woken waiters race for the lock, so waiting is not FIFO,
 * and there is no LW_WAIT_UNTIL_FREE mode. Holders are tracked by the caller (bufmgr.ts keeps a
 * backend-private record of content locks) rather than in a held_lwlocks array.
 */

import { AssertionError } from "@pgsim/clock-sweep";

/** Shared mode: any number of holders at once. */
export const LW_SHARED = 1;
/** Exclusive mode: one holder, no shared holders. */
export const LW_EXCLUSIVE = 2;
export type LWLockMode = typeof LW_SHARED | typeof LW_EXCLUSIVE;

/** Int32 slots per lock: the lock word and the sleeper count. */
export const LWLOCK_INTS = 2;
const LW_VAL_EXCLUSIVE = 1 << 24;
const LW_SHARED_MASK = LW_VAL_EXCLUSIVE - 1;

/** How long one sleep lasts before the waiter looks again, in milliseconds. */
const WAIT_SLICE_MS = 50;
/** A wait this long means a lock was never released: a bug, reported by assertion. */
export const LWLOCK_MAX_WAIT_MS = 120_000;

/** Tries to take the lock once. Returns true on success. */
export function lwlockConditionalAcquire(
  words: Int32Array,
  slot: number,
  mode: LWLockMode,
): boolean {
  if (mode === LW_EXCLUSIVE) return Atomics.compareExchange(words, slot, 0, LW_VAL_EXCLUSIVE) === 0;
  for (;;) {
    const v = Atomics.load(words, slot);
    if ((v & LW_VAL_EXCLUSIVE) !== 0) return false;
    if (Atomics.compareExchange(words, slot, v, v + 1) === v) return true;
  }
}

/**
 * Takes the lock in `mode`, sleeping while it is held in a conflicting mode. Returns when held.
 * Never call it on a thread that already holds this lock: LWLocks are not re-entrant.
 */
export function lwlockAcquire(words: Int32Array, slot: number, mode: LWLockMode): void {
  if (lwlockConditionalAcquire(words, slot, mode)) return;
  const deadline = Date.now() + LWLOCK_MAX_WAIT_MS;
  for (let spins = 0; ; spins++) {
    if (lwlockConditionalAcquire(words, slot, mode)) return;
    // A short spin first: most holders keep a lock for a few hundred nanoseconds.
    if (spins < 64) continue;
    const v = Atomics.load(words, slot);
    const blocked = mode === LW_EXCLUSIVE ? v !== 0 : (v & LW_VAL_EXCLUSIVE) !== 0;
    if (!blocked) continue;
    Atomics.add(words, slot + 1, 1);
    Atomics.wait(words, slot, v, WAIT_SLICE_MS);
    Atomics.sub(words, slot + 1, 1);
    if (Date.now() > deadline) {
      throw new AssertionError(`lwlock wait timed out after ${LWLOCK_MAX_WAIT_MS} ms`);
    }
  }
}

/** Releases a lock held in `mode` and wakes sleepers if the lock became free. */
export function lwlockRelease(words: Int32Array, slot: number, mode: LWLockMode): void {
  let now: number;
  if (mode === LW_EXCLUSIVE) {
    if (Atomics.compareExchange(words, slot, LW_VAL_EXCLUSIVE, 0) !== LW_VAL_EXCLUSIVE) {
      throw new AssertionError("lwlockRelease: lock not held exclusively");
    }
    now = 0;
  } else {
    now = Atomics.sub(words, slot, 1) - 1;
    if ((now & LW_SHARED_MASK) === LW_SHARED_MASK) {
      throw new AssertionError("lwlockRelease: lock not held in shared mode");
    }
  }
  if (now === 0 && Atomics.load(words, slot + 1) > 0) Atomics.notify(words, slot);
}

/** Describes a lock word for introspection: how many shared holders, and whether exclusive. */
export function lwlockState(
  words: Int32Array,
  slot: number,
): { shared: number; exclusive: boolean } {
  const v = Atomics.load(words, slot);
  return { shared: v & LW_SHARED_MASK, exclusive: (v & LW_VAL_EXCLUSIVE) !== 0 };
}
