/**
 * The packed 32-bit buffer state word: refcount, usage count and flags in one atomic integer.
 *
 * Models: src/include/storage/buf_internals.h (BUF_REFCOUNT_*, BUF_USAGECOUNT_*, BM_* flags,
 * BUF_STATE_GET_REFCOUNT, BUF_STATE_GET_USAGECOUNT, BM_MAX_USAGE_COUNT).
 * Entry points: the constants, `bufStateGetRefcount`, `bufStateGetUsageCount`, `describeBufState`.
 * See also: freelist.ts (reads and decrements the usage count), @pgsim/buffer-manager buf-internals.ts
 * (the descriptor array that holds one such word per buffer).
 *
 * The word lives in an Int32Array, so bit 31 (BM_PERMANENT) makes it negative in JavaScript. Always
 * test flags with `(state & BM_X) !== 0` and compare whole words only after `>>> 0`.
 */

/** Bits 0-17: how many backends hold a pin (not how many pins; see the private refcount). */
export const BUF_REFCOUNT_BITS = 18;
/** Bits 18-21: the usage count, 0..BM_MAX_USAGE_COUNT. */
export const BUF_USAGECOUNT_BITS = 4;
/** Bits 22-31: the BM_* flags. */
export const BUF_FLAG_BITS = 10;

export const BUF_REFCOUNT_ONE = 1;
export const BUF_REFCOUNT_MASK = (1 << BUF_REFCOUNT_BITS) - 1;
export const BUF_USAGECOUNT_SHIFT = BUF_REFCOUNT_BITS;
export const BUF_USAGECOUNT_MASK =
  ((1 << (BUF_USAGECOUNT_BITS + BUF_REFCOUNT_BITS)) - 1) & ~BUF_REFCOUNT_MASK;
export const BUF_USAGECOUNT_ONE = 1 << BUF_REFCOUNT_BITS;
/** Every flag bit; `| 0` keeps it a signed 32-bit value, as the Int32Array holds it. */
export const BUF_FLAG_MASK = ~((1 << (BUF_REFCOUNT_BITS + BUF_USAGECOUNT_BITS)) - 1) | 0;

/** Buffer header lock (the spinlock bit). */
export const BM_LOCKED = 1 << 22;
/** Contents differ from disk and must be written before the buffer is reused. */
export const BM_DIRTY = 1 << 23;
/** Contents are valid: the read (or extension) completed. */
export const BM_VALID = 1 << 24;
/** The tag is assigned, so the buffer table has an entry for it. */
export const BM_TAG_VALID = 1 << 25;
/** A read or write is under way; it serves as the buffer's I/O lock. */
export const BM_IO_IN_PROGRESS = 1 << 26;
/** The previous I/O attempt failed. */
export const BM_IO_ERROR = 1 << 27;
/** Dirtied again since the current write started. */
export const BM_JUST_DIRTIED = 1 << 28;
/** A backend waits for the shared refcount to fall to 1 (cleanup lock). */
export const BM_PIN_COUNT_WAITER = 1 << 29;
/** The running checkpoint must write this buffer. */
export const BM_CHECKPOINT_NEEDED = 1 << 30;
/** A permanent (logged) relation: checkpoints always write it. `| 0` keeps the sign bit. */
export const BM_PERMANENT = (1 << 31) | 0;

/** A buffer survives at most this many laps of the clock without being used again. */
export const BM_MAX_USAGE_COUNT = 5;

// Layout facts, checked once when the module loads (docs/STYLE.md "Shared memory").
if (BUF_REFCOUNT_BITS + BUF_USAGECOUNT_BITS + BUF_FLAG_BITS !== 32) {
  throw new Error("buf-state: the state word's bit budgets must sum to 32");
}
if (BM_MAX_USAGE_COUNT >= 1 << BUF_USAGECOUNT_BITS) {
  throw new Error("buf-state: BM_MAX_USAGE_COUNT does not fit its bits");
}
if (BM_LOCKED !== 1 << (BUF_REFCOUNT_BITS + BUF_USAGECOUNT_BITS)) {
  throw new Error("buf-state: the first flag must follow the usage count");
}

/** The shared refcount held in a state word: the number of backends pinning the buffer. */
export function bufStateGetRefcount(state: number): number {
  return state & BUF_REFCOUNT_MASK;
}

/** The usage count held in a state word (0..BM_MAX_USAGE_COUNT). */
export function bufStateGetUsageCount(state: number): number {
  return (state & BUF_USAGECOUNT_MASK) >>> BUF_USAGECOUNT_SHIFT;
}

const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [BM_LOCKED, "BM_LOCKED"],
  [BM_DIRTY, "BM_DIRTY"],
  [BM_VALID, "BM_VALID"],
  [BM_TAG_VALID, "BM_TAG_VALID"],
  [BM_IO_IN_PROGRESS, "BM_IO_IN_PROGRESS"],
  [BM_IO_ERROR, "BM_IO_ERROR"],
  [BM_JUST_DIRTIED, "BM_JUST_DIRTIED"],
  [BM_PIN_COUNT_WAITER, "BM_PIN_COUNT_WAITER"],
  [BM_CHECKPOINT_NEEDED, "BM_CHECKPOINT_NEEDED"],
  [BM_PERMANENT, "BM_PERMANENT"],
];

/** A state word taken apart, for people: refcount, usage count and the names of the set flags. */
export interface BufStateDescription {
  refcount: number;
  usageCount: number;
  flags: string[];
}

/**
 * Takes a state word apart for display.
 *
 * @example
 * ```ts
 * describeBufState(BM_VALID | BM_TAG_VALID | BUF_USAGECOUNT_ONE | 1);
 * // { refcount: 1, usageCount: 1, flags: ["BM_VALID", "BM_TAG_VALID"] }
 * ```
 */
export function describeBufState(state: number): BufStateDescription {
  const flags: string[] = [];
  for (const [bit, name] of FLAG_NAMES) if ((state & bit) !== 0) flags.push(name);
  return {
    refcount: bufStateGetRefcount(state),
    usageCount: bufStateGetUsageCount(state),
    flags,
  };
}

/**
 * PinBuffer's usage-count rule for a backend's first pin: +1 up to BM_MAX_USAGE_COUNT on the
 * default path; with a ring strategy only 0 → 1, so bulk operations never make pages look hot.
 * Returns the state with the usage count changed (the refcount is the caller's business).
 */
export function bumpUsageOnFirstPin(state: number, withStrategy: boolean): number {
  const usage = (state & BUF_USAGECOUNT_MASK) >>> BUF_USAGECOUNT_SHIFT;
  if (withStrategy) return usage === 0 ? state + BUF_USAGECOUNT_ONE : state;
  return usage < BM_MAX_USAGE_COUNT ? state + BUF_USAGECOUNT_ONE : state;
}
