/**
 * Lightweight locks in shared memory: shared/exclusive locks that sleep with Atomics.wait.
 *
 * Models: src/backend/storage/lmgr/lwlock.c (LWLockAcquire, LWLockConditionalAcquire,
 * LWLockAcquireOrWait, LWLockRelease, and the variable-waiting trio LWLockWaitForVar,
 * LWLockUpdateVar, LWLockReleaseClearVar that the WAL insertion locks use) as used for buffer
 * mapping partitions, buffer content locks and the WAL's locks.
 * Entry points: `lwlockAcquire`, `lwlockConditionalAcquire`, `lwlockAcquireOrWait`,
 * `lwlockRelease`, `lwlockWaitForVar`, `lwlockUpdateVar`, `lwlockReleaseClearVar`, `LW_SHARED`,
 * `LW_EXCLUSIVE`, `LWLOCK_INTS`, `LWLOCK_VAR_INTS`.
 * See also: bufmgr.ts (partition and content locks), buf-internals.ts (where content locks live),
 * heap-am's access/transam/xlog.ts (WAL insertion locks, WALWriteLock).
 *
 * A lock is two Int32 slots: the lock word (shared holder count in the low 24 bits, the exclusive
 * bit above) and a count of sleepers, so that a release only calls Atomics.notify when somebody
 * sleeps. Changes to the lock word are compare-and-swap loops; sleepers wait on the lock word's
 * value, so a release between their check and their sleep wakes them at once ("not-equal").
 *
 * A lock with a variable (LWLOCK_VAR_INTS slots: the two above, a change counter and its sleeper
 * count) also protects a 64-bit value in a BigInt64Array that its exclusive holder publishes
 * while it holds the lock (a WAL insertion lock's insertingAt). Waiters for "the lock is free or
 * the variable moved" sleep on the change counter, which every LWLockUpdateVar and every
 * LWLockReleaseClearVar bumps, so neither a release nor an update between a waiter's check and
 * its sleep is missed.
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

/**
 * LWLockAcquireOrWait: takes the lock in `mode` if it is free and returns true; otherwise sleeps
 * until it is released and returns false *without* taking it, so that the caller can first check
 * whether the holder already did its work (XLogFlush's group commit).
 */
export function lwlockAcquireOrWait(words: Int32Array, slot: number, mode: LWLockMode): boolean {
  if (lwlockConditionalAcquire(words, slot, mode)) return true;
  const deadline = Date.now() + LWLOCK_MAX_WAIT_MS;
  for (let spins = 0; ; spins++) {
    const v = Atomics.load(words, slot);
    const blocked = mode === LW_EXCLUSIVE ? v !== 0 : (v & LW_VAL_EXCLUSIVE) !== 0;
    if (!blocked) return false;
    if (spins < 64) continue;
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

/** Int32 slots of a lock with a variable: the lock word, its sleepers, a change counter, its sleepers. */
export const LWLOCK_VAR_INTS = 4;
const VAR_SEQ = 2;
const VAR_SLEEPERS = 3;

function bumpVarSeq(words: Int32Array, slot: number): void {
  Atomics.add(words, slot + VAR_SEQ, 1);
  if (Atomics.load(words, slot + VAR_SLEEPERS) > 0) Atomics.notify(words, slot + VAR_SEQ);
}

/**
 * LWLockWaitForVar: for a lock only ever held exclusively, waits until either the lock is free
 * (returns `{ free: true }`) or the holder has published a value of the variable other than
 * `oldValue` (returns it). Does not take the lock.
 */
export function lwlockWaitForVar(
  words: Int32Array,
  slot: number,
  vars: BigInt64Array,
  varIndex: number,
  oldValue: bigint,
): { readonly free: true } | { readonly free: false; readonly value: bigint } {
  const deadline = Date.now() + LWLOCK_MAX_WAIT_MS;
  for (let spins = 0; ; spins++) {
    // Read the change counter first: a release or an update after this read changes it, so the
    // sleep below returns at once instead of missing the wake-up.
    const seq = Atomics.load(words, slot + VAR_SEQ);
    if ((Atomics.load(words, slot) & LW_VAL_EXCLUSIVE) === 0) return { free: true };
    const value = Atomics.load(vars, varIndex);
    if (value !== oldValue) return { free: false, value };
    if (spins < 64) continue;
    Atomics.add(words, slot + VAR_SLEEPERS, 1);
    Atomics.wait(words, slot + VAR_SEQ, seq, WAIT_SLICE_MS);
    Atomics.sub(words, slot + VAR_SLEEPERS, 1);
    if (Date.now() > deadline) {
      throw new AssertionError(`lwlock variable wait timed out after ${LWLOCK_MAX_WAIT_MS} ms`);
    }
  }
}

/** LWLockUpdateVar: the exclusive holder publishes `value` and wakes LWLockWaitForVar sleepers. */
export function lwlockUpdateVar(
  words: Int32Array,
  slot: number,
  vars: BigInt64Array,
  varIndex: number,
  value: bigint,
): void {
  Atomics.store(vars, varIndex, value);
  bumpVarSeq(words, slot);
}

/** LWLockReleaseClearVar: sets the variable to `value` (0 for the WAL), then releases the lock. */
export function lwlockReleaseClearVar(
  words: Int32Array,
  slot: number,
  vars: BigInt64Array,
  varIndex: number,
  value: bigint,
): void {
  Atomics.store(vars, varIndex, value);
  lwlockRelease(words, slot, LW_EXCLUSIVE);
  bumpVarSeq(words, slot);
}
