/**
 * Buffer header locks and free-list links over an Int32Array of descriptors.
 *
 * Models: src/backend/storage/buffer/bufmgr.c (LockBufHdr, WaitBufHdrUnlocked) and
 * buf_internals.h (UnlockBufHdr, the descriptor's `state` and `freeNext` fields).
 * Entry points: `DescriptorHeaders` (implements freelist.ts's BufferHeaders).
 * See also: freelist.ts, @pgsim/buffer-manager buf-internals.ts (which lays descriptors out 64
 * bytes apart in shared memory and uses this class for their header locks).
 *
 * Descriptor i occupies `stride` Int32 slots starting at i * stride. `stateIndex` and
 * `freeNextIndex` say where the state word and the free-list link sit inside a descriptor. The
 * array may be shared between threads (SharedArrayBuffer) or private (ArrayBuffer): Atomics work
 * on both.
 */

import { BM_LOCKED } from "./buf-state.js";
import { assert } from "./errors.js";
import { type BufferHeaders, spinDelay } from "./freelist.js";

/** Where the fields of one descriptor sit, in Int32 slots. */
export interface DescriptorLayout {
  /** Int32 slots from one descriptor to the next (16 for PostgreSQL's 64-byte padding). */
  stride: number;
  /** Slot of the atomic state word within a descriptor. */
  stateIndex: number;
  /** Slot of the free-list link within a descriptor. */
  freeNextIndex: number;
}

/** Header locks over descriptors packed in an Int32Array. */
export class DescriptorHeaders implements BufferHeaders {
  readonly bufferCount: number;
  readonly words: Int32Array;
  private readonly stride: number;
  private readonly stateIndex: number;
  private readonly freeNextIndex: number;

  constructor(words: Int32Array, bufferCount: number, layout: DescriptorLayout) {
    assert(words.length >= bufferCount * layout.stride, "descriptor array too small");
    this.words = words;
    this.bufferCount = bufferCount;
    this.stride = layout.stride;
    this.stateIndex = layout.stateIndex;
    this.freeNextIndex = layout.freeNextIndex;
  }

  /** Index of buffer `bufferId`'s state word in `words`. */
  stateSlot(bufferId: number): number {
    return bufferId * this.stride + this.stateIndex;
  }

  /** An atomic read of the state word (no lock; may be stale the moment it returns). */
  readState(bufferId: number): number {
    return Atomics.load(this.words, bufferId * this.stride + this.stateIndex);
  }

  /**
   * LockBufHdr: sets BM_LOCKED with an atomic OR, retrying while someone else held it. Returns the
   * state word as it is now, with BM_LOCKED set.
   */
  lockBufHdr(bufferId: number): number {
    const slot = bufferId * this.stride + this.stateIndex;
    for (let spins = 1; ; spins++) {
      const old = Atomics.or(this.words, slot, BM_LOCKED);
      if ((old & BM_LOCKED) === 0) return old | BM_LOCKED;
      spinDelay(spins);
    }
  }

  /** UnlockBufHdr: one plain store of the new state, which also clears BM_LOCKED. */
  unlockBufHdr(bufferId: number, state: number): void {
    Atomics.store(this.words, bufferId * this.stride + this.stateIndex, state & ~BM_LOCKED);
  }

  /**
   * WaitBufHdrUnlocked: spins until BM_LOCKED is clear and returns that state. Callers that change
   * the word without the lock use it inside their compare-and-swap loops.
   */
  waitBufHdrUnlocked(bufferId: number): number {
    const slot = bufferId * this.stride + this.stateIndex;
    let state = Atomics.load(this.words, slot);
    for (let spins = 1; (state & BM_LOCKED) !== 0; spins++) {
      spinDelay(spins);
      state = Atomics.load(this.words, slot);
    }
    return state;
  }

  getFreeNext(bufferId: number): number {
    return Atomics.load(this.words, bufferId * this.stride + this.freeNextIndex);
  }

  setFreeNext(bufferId: number, next: number): void {
    Atomics.store(this.words, bufferId * this.stride + this.freeNextIndex, next);
  }
}
