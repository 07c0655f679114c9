/**
 * Buffer access strategies: the small private rings that keep bulk operations from flushing the pool.
 *
 * Models: src/backend/storage/buffer/freelist.c (GetAccessStrategy, FreeAccessStrategy,
 * GetBufferFromRing, AddBufferToRing, StrategyRejectBuffer) and bufmgr.h (BufferAccessStrategyType).
 * Entry points: `getAccessStrategy`, `BufferAccessStrategy.rejectBuffer`.
 * See also: freelist.ts (VictimSearch consults the ring before the free list and the clock).
 *
 * A strategy object is private to one backend, as in PostgreSQL: nothing here is shared memory and
 * nothing needs a lock. The ring remembers buffer ids; whether a remembered buffer may be reused is
 * decided under that buffer's header lock by the victim search.
 */

import { PgsimError } from "./errors.js";
import { BLCKSZ } from "./pg-config.js";

/** The kinds of access a strategy can describe (BAS_NORMAL, BAS_BULKREAD, ...). */
export type BufferAccessStrategyType = "normal" | "bulkread" | "bulkwrite" | "vacuum";

/** Ring sizes of PostgreSQL 15, in bytes (freelist.c GetAccessStrategy). */
export const RING_SIZE_BYTES: Readonly<
  Record<Exclude<BufferAccessStrategyType, "normal">, number>
> = {
  bulkread: 256 * 1024,
  bulkwrite: 16 * 1024 * 1024,
  vacuum: 256 * 1024,
};

/** A ring slot that holds no buffer yet (InvalidBuffer). */
export const RING_SLOT_EMPTY = -1;

/**
 * A backend's ring of buffers for one bulk operation.
 *
 * Fields mirror PostgreSQL's BufferAccessStrategyData. `current` starts at the last slot so that
 * the first `GetBufferFromRing` advances to slot 0.
 */
export class BufferAccessStrategy {
  /** Which kind of bulk access this ring serves. */
  readonly type: Exclude<BufferAccessStrategyType, "normal">;
  /** Number of slots: the type's ring size, capped at NBuffers / 8. */
  readonly ringSize: number;
  /** Slot most recently handed out (or considered). */
  current: number;
  /** True when the last victim came from the ring rather than the free list or the clock. */
  currentWasInRing = false;
  /** Buffer id per slot, RING_SLOT_EMPTY where none has been added yet. */
  readonly buffers: Int32Array;

  constructor(type: Exclude<BufferAccessStrategyType, "normal">, ringSize: number) {
    this.type = type;
    this.ringSize = ringSize;
    this.current = ringSize - 1;
    this.buffers = new Int32Array(ringSize).fill(RING_SLOT_EMPTY);
  }

  /**
   * StrategyRejectBuffer: a bulk read that would have to flush WAL to reuse a dirty ring buffer
   * gives the slot up instead. Only BULKREAD rejects, and only a buffer that came from its ring.
   * Returns true when the caller must give the buffer back and ask for another victim.
   */
  rejectBuffer(bufferId: number): boolean {
    if (this.type !== "bulkread") return false;
    if (!this.currentWasInRing || this.buffers[this.current] !== bufferId) return false;
    this.buffers[this.current] = RING_SLOT_EMPTY;
    return true;
  }

  /** The buffer ids currently remembered, in slot order (for introspection and teaching). */
  members(): number[] {
    return Array.from(this.buffers).filter((id) => id !== RING_SLOT_EMPTY);
  }
}

/**
 * GetAccessStrategy: a ring for `type`, sized as PostgreSQL 15 sizes it and capped at
 * `bufferCount / 8` buffers. Returns undefined for "normal", which means "use the default path"
 * (PostgreSQL returns NULL).
 *
 * Differs from PostgreSQL: PostgreSQL never runs with fewer than 16 buffers, so the cap never
 * reaches zero there. pgsim allows tiny pools for teaching; when `bufferCount / 8` rounds down to
 * 0 the ring would be empty, and pgsim returns undefined (no ring) instead.
 *
 * @example
 * ```ts
 * const ring = getAccessStrategy("bulkread", 16384); // 32 buffers, 256 kB
 * ```
 */
export function getAccessStrategy(
  type: BufferAccessStrategyType,
  bufferCount: number,
): BufferAccessStrategy | undefined {
  if (type === "normal") return undefined;
  const bytes = RING_SIZE_BYTES[type];
  if (bytes === undefined) {
    throw new PgsimError(
      "invalid-strategy-type",
      `unrecognized buffer access strategy: ${String(type)}`,
      { type },
    );
  }
  if (!Number.isInteger(bufferCount) || bufferCount < 1) {
    throw new PgsimError(
      "invalid-buffer-count",
      `buffer count must be a positive integer, got ${String(bufferCount)}`,
    );
  }
  const ringSize = Math.min(Math.floor(bufferCount / 8), bytes / BLCKSZ);
  if (ringSize < 1) return undefined;
  return new BufferAccessStrategy(type, ringSize);
}
