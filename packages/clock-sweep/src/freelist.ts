/**
 * PostgreSQL 15's buffer replacement: the free list first, then the clock sweep over usage counts.
 *
 * Models: src/backend/storage/buffer/freelist.c (StrategyControl, ClockSweepTick,
 * StrategyGetBuffer, StrategyFreeBuffer, StrategySyncStart, have_free_buffer, StrategyInitialize,
 * StrategyShmemSize, GetBufferFromRing, AddBufferToRing).
 * Entry points: `strategyShmemSize`, `StrategyControl` (`initialize`, `attach`,
 * `strategyGetBuffer`, `strategyFreeBuffer`, `clockSweepTick`, `strategySyncStart`),
 * `VictimSearch` (the same search, one tick at a time).
 * See also: access-strategy.ts (rings), buf-state.ts (the state word), simple-pool.ts (a plain
 * in-process pool driven by this code), @pgsim/buffer-manager (the shared descriptors).
 *
 * The control block is an Int32Array that may live in a SharedArrayBuffer shared by many worker
 * threads. What protects each field (PostgreSQL's BufferStrategyControl):
 *
 *   SPINLOCK        buffer_strategy_lock itself (0 free, 1 held). Nothing else is taken while held.
 *   NEXT_VICTIM     the clock hand; atomic only (fetch-add), wrapped back under the spinlock.
 *   COMPLETE_PASSES under the spinlock.
 *   FIRST_FREE      head of the free list, under the spinlock (read without it as a hint only).
 *   LAST_FREE       tail of the free list, under the spinlock.
 *   NUM_ALLOCS      atomic only.
 *   BGWPROCNO       under the spinlock (pgsim has no background writer; kept at -1).
 *
 * Each buffer's `freeNext` link belongs to the descriptor but is protected by the spinlock, not by
 * the buffer header lock, exactly as in PostgreSQL.
 */

import type { BufferAccessStrategy } from "./access-strategy.js";
import { RING_SLOT_EMPTY } from "./access-strategy.js";
import {
  BM_MAX_USAGE_COUNT,
  BUF_REFCOUNT_MASK,
  BUF_USAGECOUNT_MASK,
  BUF_USAGECOUNT_ONE,
  BUF_USAGECOUNT_SHIFT,
} from "./buf-state.js";
import { AssertionError, assert, PgsimError } from "./errors.js";

/**
 * What the replacement code needs from a pool's buffer descriptors. The buffer manager implements
 * it over shared descriptors; `SimplePool` implements it over plain arrays.
 */
export interface BufferHeaders {
  /** NBuffers: buffer ids are 0 .. bufferCount - 1. */
  readonly bufferCount: number;
  /** LockBufHdr: spins until the header lock is ours; returns the state word with BM_LOCKED set. */
  lockBufHdr(bufferId: number): number;
  /** UnlockBufHdr: stores `state` with BM_LOCKED cleared, releasing the header lock. */
  unlockBufHdr(bufferId: number, state: number): void;
  /** The buffer's free-list link (caller holds the strategy spinlock). */
  getFreeNext(bufferId: number): number;
  /** Sets the buffer's free-list link (caller holds the strategy spinlock). */
  setFreeNext(bufferId: number, next: number): void;
}

/** freeNext of the last buffer on the free list. */
export const FREENEXT_END_OF_LIST = -1;
/** freeNext of a buffer that is not on the free list. */
export const FREENEXT_NOT_IN_LIST = -2;

/** Int32 slots of the strategy control block. */
export const SC_SPINLOCK = 0;
export const SC_NEXT_VICTIM = 1;
export const SC_COMPLETE_PASSES = 2;
export const SC_FIRST_FREE = 3;
export const SC_LAST_FREE = 4;
export const SC_NUM_ALLOCS = 5;
export const SC_BGWPROCNO = 6;
/** Int32 slots in the control block (one spare keeps it 32 bytes). */
export const STRATEGY_CONTROL_INTS = 8;

/** StrategyShmemSize: bytes of shared memory the control block needs. */
export function strategyShmemSize(): number {
  return STRATEGY_CONTROL_INTS * Int32Array.BYTES_PER_ELEMENT;
}

/** A spinlock or CAS loop that runs this long means a bug (a lost unlock), not contention. */
const MAX_SPINS = 50_000_000;
const SPINS_BEFORE_DELAY = 1000;
const delayCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * perform_spin_delay: after many fruitless spins, sleep a little so the lock holder can run.
 * Differs from PostgreSQL: a fixed 50 µs sleep instead of PostgreSQL's randomized back-off.
 */
export function spinDelay(spins: number): void {
  if (spins % SPINS_BEFORE_DELAY === 0) Atomics.wait(delayCell, 0, 0, 0.05);
  if (spins > MAX_SPINS) throw new AssertionError("stuck spinlock detected");
}

/** One step of a victim search, as `VictimSearch.step` records it. */
export type VictimStepKind =
  /** a ring slot was empty: fall through to the free list / clock */
  | "ring-empty"
  /** the ring's buffer is in use by someone (pinned or usage > 1): not reused */
  | "ring-in-use"
  /** the ring's buffer was reused */
  | "ring-reuse"
  /** a buffer was taken from the free list */
  | "free-list"
  /** a buffer on the free list turned out to be in use (never happens in practice) */
  | "free-list-unusable"
  /** the clock hand moved over one buffer */
  | "tick";

/** What one step did, for display. Produced only on request (`VictimSearch.describeStep`). */
export interface VictimStep {
  kind: VictimStepKind;
  /** The buffer looked at, or -1 for an empty ring slot. */
  bufferId: number;
  /** Clock ticks only: the hand's position after this tick (nextVictimBuffer % NBuffers). */
  handAfter: number;
  usageBefore: number;
  usageAfter: number;
  /** Shared refcount seen under the header lock. */
  refcount: number;
  pinned: boolean;
  chosen: boolean;
  /** Consecutive-pinned budget left after this step (clock ticks only). */
  trycounter: number;
  completePasses: number;
}

const PHASE_RING = 0;
const PHASE_FREE_LIST = 1;
const PHASE_CLOCK = 2;
const PHASE_DONE = 3;

/**
 * StrategyGetBuffer taken apart into steps: each `step()` does one unit of work — one ring slot,
 * one free-list pop or one clock tick — and says whether a victim was chosen. `strategyGetBuffer`
 * is just `begin` followed by `step` until done, so the buffer manager and a teaching REPL run the
 * very same code.
 *
 * When `step()` returns true, `bufferId` is the victim, its header lock is HELD, and `state` is the
 * locked state word (refcount 0). The caller must pin it or unlock it.
 *
 * A search object is private to one backend and may be reused for many searches.
 */
export class VictimSearch {
  private readonly ctl: StrategyControl;
  private phase = PHASE_DONE;
  private strategy: BufferAccessStrategy | undefined;
  /** Consecutive pinned buffers allowed before giving up (reset by every decrement). */
  trycounter = 0;
  /** The buffer of the last step (the victim once chosen). */
  bufferId = -1;
  /** The locked state word of the victim (valid only after `step()` returned true). */
  state = 0;
  /** Details of the last step, kept as plain fields so that stepping allocates nothing. */
  lastKind: VictimStepKind = "tick";
  lastUsageBefore = 0;
  lastUsageAfter = 0;
  lastRefcount = 0;
  lastChosen = false;

  constructor(ctl: StrategyControl) {
    this.ctl = ctl;
  }

  /** True while the search has not chosen a victim (and has not failed). */
  get active(): boolean {
    return this.phase !== PHASE_DONE;
  }

  /**
   * Starts a search. With a strategy the ring is tried first; then the free list; then the clock.
   * Counts the allocation in numBufferAllocs (ring reuses are not counted, as in PostgreSQL).
   */
  begin(strategy?: BufferAccessStrategy): this {
    this.strategy = strategy;
    this.phase = strategy ? PHASE_RING : PHASE_FREE_LIST;
    this.bufferId = -1;
    this.lastChosen = false;
    if (!strategy) this.enterFreeListPhase();
    return this;
  }

  private enterFreeListPhase(): void {
    this.ctl.noteAllocation();
    // An unlocked peek, as in PostgreSQL: a stale answer only costs one extra step.
    this.phase = this.ctl.firstFreeBuffer >= 0 ? PHASE_FREE_LIST : PHASE_CLOCK;
    if (this.phase === PHASE_CLOCK) this.trycounter = this.ctl.headers.bufferCount;
  }

  /**
   * Does one step of the search. Returns true when a victim was chosen (header lock held).
   * Throws PgsimError "no-unpinned-buffers" when bufferCount pinned buffers were met in a row.
   */
  step(): boolean {
    switch (this.phase) {
      case PHASE_RING:
        return this.stepRing();
      case PHASE_FREE_LIST:
        return this.stepFreeList();
      case PHASE_CLOCK:
        return this.stepClock();
      default:
        throw new AssertionError("VictimSearch.step called on a finished search");
    }
  }

  /** GetBufferFromRing: advance to the next slot and reuse its buffer if nobody else wants it. */
  private stepRing(): boolean {
    const ring = this.strategy!;
    ring.current = ring.current + 1 >= ring.ringSize ? 0 : ring.current + 1;
    const id = ring.buffers[ring.current]!;
    this.bufferId = id;
    if (id === RING_SLOT_EMPTY) {
      ring.currentWasInRing = false;
      this.record("ring-empty", 0, 0, 0, false);
      this.enterFreeListPhase();
      return false;
    }
    const state = this.ctl.headers.lockBufHdr(id);
    const refcount = state & BUF_REFCOUNT_MASK;
    const usage = (state & BUF_USAGECOUNT_MASK) >>> BUF_USAGECOUNT_SHIFT;
    // A usage count above 1 means another backend used the page since we did: leave it be.
    if (refcount === 0 && usage <= 1) {
      ring.currentWasInRing = true;
      this.record("ring-reuse", usage, usage, refcount, true);
      return this.choose(state);
    }
    this.ctl.headers.unlockBufHdr(id, state);
    ring.currentWasInRing = false;
    this.record("ring-in-use", usage, usage, refcount, false);
    this.enterFreeListPhase();
    return false;
  }

  /** Pops the free list's head; usable if nobody pinned or used it since it was freed. */
  private stepFreeList(): boolean {
    const id = this.ctl.popFreeList();
    if (id < 0) {
      // Someone emptied the list after our unlocked peek: go to the clock.
      this.phase = PHASE_CLOCK;
      this.trycounter = this.ctl.headers.bufferCount;
      return this.stepClock();
    }
    this.bufferId = id;
    const state = this.ctl.headers.lockBufHdr(id);
    const refcount = state & BUF_REFCOUNT_MASK;
    const usage = (state & BUF_USAGECOUNT_MASK) >>> BUF_USAGECOUNT_SHIFT;
    if (refcount === 0 && usage === 0) {
      this.record("free-list", 0, 0, 0, true);
      this.addToRing(id);
      return this.choose(state);
    }
    this.ctl.headers.unlockBufHdr(id, state);
    this.record("free-list-unusable", usage, usage, refcount, false);
    if (this.ctl.firstFreeBuffer < 0) {
      this.phase = PHASE_CLOCK;
      this.trycounter = this.ctl.headers.bufferCount;
    }
    return false;
  }

  /** One tick of the clock hand over one buffer. */
  private stepClock(): boolean {
    const headers = this.ctl.headers;
    const id = this.ctl.clockSweepTick();
    this.bufferId = id;
    let state = headers.lockBufHdr(id);
    const refcount = state & BUF_REFCOUNT_MASK;
    const usage = (state & BUF_USAGECOUNT_MASK) >>> BUF_USAGECOUNT_SHIFT;
    if (refcount === 0) {
      if (usage !== 0) {
        // A state change: the search is making progress, so the pinned-in-a-row budget resets.
        state -= BUF_USAGECOUNT_ONE;
        this.trycounter = headers.bufferCount;
        headers.unlockBufHdr(id, state);
        this.record("tick", usage, usage - 1, 0, false);
        return false;
      }
      this.record("tick", 0, 0, 0, true);
      this.addToRing(id);
      return this.choose(state);
    }
    this.trycounter -= 1;
    this.record("tick", usage, usage, refcount, false);
    if (this.trycounter === 0) {
      headers.unlockBufHdr(id, state);
      this.phase = PHASE_DONE;
      throw new PgsimError("no-unpinned-buffers", "no unpinned buffers available", {
        bufferCount: headers.bufferCount,
      });
    }
    headers.unlockBufHdr(id, state);
    return false;
  }

  private addToRing(id: number): void {
    const ring = this.strategy;
    if (ring) ring.buffers[ring.current] = id;
  }

  private choose(state: number): boolean {
    this.state = state;
    this.phase = PHASE_DONE;
    return true;
  }

  private record(
    kind: VictimStepKind,
    usageBefore: number,
    usageAfter: number,
    refcount: number,
    chosen: boolean,
  ): void {
    this.lastKind = kind;
    this.lastUsageBefore = usageBefore;
    this.lastUsageAfter = usageAfter;
    this.lastRefcount = refcount;
    this.lastChosen = chosen;
  }

  /** The last step as an object, for printing. */
  describeStep(): VictimStep {
    return {
      kind: this.lastKind,
      bufferId: this.bufferId,
      handAfter: this.ctl.hand,
      usageBefore: this.lastUsageBefore,
      usageAfter: this.lastUsageAfter,
      refcount: this.lastRefcount,
      pinned: this.lastRefcount > 0,
      chosen: this.lastChosen,
      trycounter: this.trycounter,
      completePasses: this.ctl.completePasses,
    };
  }
}

/** StrategySyncStart's answer. */
export interface StrategySyncPosition {
  /** Where the clock hand is now (0 .. NBuffers - 1). */
  hand: number;
  /** Laps completed, counting the one in progress as PostgreSQL does. */
  completePasses: number;
  /** Allocations since the previous call (the counter is reset). */
  numBufferAllocs: number;
}

/**
 * The shared strategy control block plus the descriptors it steers.
 *
 * @example
 * ```ts
 * const control = new Int32Array(new SharedArrayBuffer(strategyShmemSize()));
 * const strategy = StrategyControl.initialize(control, headers); // once, by the "postmaster"
 * const again = StrategyControl.attach(control, headers);         // in every backend
 * const search = new VictimSearch(again);
 * const id = again.strategyGetBuffer(search); // header of `id` is now locked
 * ```
 */
export class StrategyControl {
  readonly control: Int32Array;
  readonly headers: BufferHeaders;
  private readonly defaultSearch: VictimSearch;

  private constructor(control: Int32Array, headers: BufferHeaders) {
    assert(control.length >= STRATEGY_CONTROL_INTS, "strategy control block too small");
    assert(headers.bufferCount >= 1, "a pool needs at least one buffer");
    this.control = control;
    this.headers = headers;
    this.defaultSearch = new VictimSearch(this);
  }

  /**
   * StrategyInitialize(init = true) together with the free-list part of InitBufferPool: every
   * buffer goes on one free list 0 → 1 → … → N-1, the hand starts at 0.
   */
  static initialize(control: Int32Array, headers: BufferHeaders): StrategyControl {
    const ctl = new StrategyControl(control, headers);
    const n = headers.bufferCount;
    for (let i = 0; i < n; i++) headers.setFreeNext(i, i + 1 < n ? i + 1 : FREENEXT_END_OF_LIST);
    Atomics.store(control, SC_SPINLOCK, 0);
    Atomics.store(control, SC_NEXT_VICTIM, 0);
    Atomics.store(control, SC_COMPLETE_PASSES, 0);
    Atomics.store(control, SC_FIRST_FREE, 0);
    Atomics.store(control, SC_LAST_FREE, n - 1);
    Atomics.store(control, SC_NUM_ALLOCS, 0);
    Atomics.store(control, SC_BGWPROCNO, -1);
    return ctl;
  }

  /** StrategyInitialize(init = false): a backend attaching to a block another thread set up. */
  static attach(control: Int32Array, headers: BufferHeaders): StrategyControl {
    return new StrategyControl(control, headers);
  }

  /** The clock hand's position (nextVictimBuffer % NBuffers). */
  get hand(): number {
    return Atomics.load(this.control, SC_NEXT_VICTIM) % this.headers.bufferCount;
  }

  /** Laps of the clock completed so far. */
  get completePasses(): number {
    return Atomics.load(this.control, SC_COMPLETE_PASSES);
  }

  /** Head of the free list, or FREENEXT_END_OF_LIST (an unlocked read: a hint). */
  get firstFreeBuffer(): number {
    return Atomics.load(this.control, SC_FIRST_FREE);
  }

  /** have_free_buffer: an unlocked test, as in PostgreSQL. */
  haveFreeBuffer(): boolean {
    return this.firstFreeBuffer >= 0;
  }

  /** The free list in order, read under the spinlock (for introspection and teaching). */
  freeList(): number[] {
    const out: number[] = [];
    this.lock();
    try {
      let id = Atomics.load(this.control, SC_FIRST_FREE);
      for (let guard = 0; id >= 0; guard++) {
        assert(guard <= this.headers.bufferCount, "free list has a cycle");
        out.push(id);
        id = this.headers.getFreeNext(id);
      }
    } finally {
      this.unlock();
    }
    return out;
  }

  /** Acquires buffer_strategy_lock. Hold it for a few instructions only. */
  lock(): void {
    for (let spins = 1; Atomics.compareExchange(this.control, SC_SPINLOCK, 0, 1) !== 0; spins++) {
      spinDelay(spins);
    }
  }

  /** Releases buffer_strategy_lock. */
  unlock(): void {
    Atomics.store(this.control, SC_SPINLOCK, 0);
  }

  /** Counts one allocation request (numBufferAllocs, read by StrategySyncStart). */
  noteAllocation(): void {
    Atomics.add(this.control, SC_NUM_ALLOCS, 1);
  }

  /**
   * ClockSweepTick: moves the hand one buffer and returns the buffer it passed. The counter only
   * grows; the caller whose fetch-add wrapped it brings it back into range and counts the lap.
   */
  clockSweepTick(): number {
    const n = this.headers.bufferCount;
    const c = this.control;
    let victim = Atomics.add(c, SC_NEXT_VICTIM, 1);
    if (victim >= n) {
      const original = victim;
      victim = original % n;
      if (victim === 0) {
        let expected = original + 1;
        this.lock();
        try {
          for (let tries = 0; ; tries++) {
            assert(tries < MAX_SPINS, "clock hand wrap never succeeded");
            const wrapped = expected % n;
            const seen = Atomics.compareExchange(c, SC_NEXT_VICTIM, expected, wrapped);
            if (seen === expected) {
              Atomics.add(c, SC_COMPLETE_PASSES, 1);
              break;
            }
            expected = seen;
          }
        } finally {
          this.unlock();
        }
      }
    }
    return victim;
  }

  /** Removes and returns the head of the free list, or -1 when it is empty. */
  popFreeList(): number {
    this.lock();
    const id = Atomics.load(this.control, SC_FIRST_FREE);
    if (id >= 0) {
      Atomics.store(this.control, SC_FIRST_FREE, this.headers.getFreeNext(id));
      this.headers.setFreeNext(id, FREENEXT_NOT_IN_LIST);
    }
    this.unlock();
    return id;
  }

  /**
   * StrategyGetBuffer: a victim for a new page. Returns the buffer id with its header lock HELD
   * and refcount 0; the locked state word is in `search.state`. Throws PgsimError
   * "no-unpinned-buffers" when every buffer is pinned.
   *
   * @param search a backend-private search object to reuse (defaults to one per StrategyControl,
   *   which is fine for a single thread).
   */
  strategyGetBuffer(
    search: VictimSearch = this.defaultSearch,
    ring?: BufferAccessStrategy,
  ): number {
    search.begin(ring);
    // Alone, a search takes at most NBuffers + 1 ring and free-list steps and BM_MAX_USAGE_COUNT + 2
    // laps of the clock. Other backends can keep raising usage counts while we sweep, so the bound
    // is generous: running past it means a bug (a pin or lock never released), not bad luck.
    const n = this.headers.bufferCount;
    const maxSteps = 1000 * (BM_MAX_USAGE_COUNT + 3) * n + 1_000_000;
    for (let steps = 0; steps < maxSteps; steps++) {
      if (search.step()) return search.bufferId;
    }
    throw new AssertionError("StrategyGetBuffer did not converge");
  }

  /**
   * StrategyFreeBuffer: puts a buffer at the head of the free list, unless it is already on it.
   * Called when a buffer is invalidated (relation dropped or truncated).
   */
  strategyFreeBuffer(bufferId: number): void {
    assert(bufferId >= 0 && bufferId < this.headers.bufferCount, "buffer id out of range");
    this.lock();
    if (this.headers.getFreeNext(bufferId) === FREENEXT_NOT_IN_LIST) {
      const first = Atomics.load(this.control, SC_FIRST_FREE);
      this.headers.setFreeNext(bufferId, first);
      if (first < 0) Atomics.store(this.control, SC_LAST_FREE, bufferId);
      Atomics.store(this.control, SC_FIRST_FREE, bufferId);
    }
    this.unlock();
  }

  /**
   * StrategySyncStart: where the hand is, how many laps (counting the current one as PostgreSQL
   * does), and allocations since the last call (which resets that counter).
   */
  strategySyncStart(): StrategySyncPosition {
    const n = this.headers.bufferCount;
    this.lock();
    const next = Atomics.load(this.control, SC_NEXT_VICTIM);
    const result = {
      hand: next % n,
      completePasses: Atomics.load(this.control, SC_COMPLETE_PASSES) + Math.floor(next / n),
      numBufferAllocs: Atomics.exchange(this.control, SC_NUM_ALLOCS, 0),
    };
    this.unlock();
    return result;
  }
}
