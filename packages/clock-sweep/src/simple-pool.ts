/**
 * A plain, single-threaded buffer pool for teaching, driven by the very clock-sweep code that the
 * shared buffer manager uses.
 *
 * Models: the replacement-relevant half of src/backend/storage/buffer/bufmgr.c (BufferAlloc's hit
 * and miss paths, PinBuffer, UnpinBuffer, MarkBufferDirty, InvalidateBuffer), with no pages, no
 * I/O and no other backends.
 * Entry points: `SimplePool` (`access`, `pin`, `unpin`, `markDirty`, `beginVictimSearch`,
 * `finishMiss`, `releaseVictim`, `invalidate`, `snapshot`).
 * See also: freelist.ts (StrategyControl, VictimSearch), access-strategy.ts (rings).
 *
 * Differs from PostgreSQL: there is one backend, so every `pin` counts as a pin by a different
 * backend (it raises the shared refcount and, on the default path, the usage count). Tags are
 * strings such as "rel 16384 blk 7" rather than 20-byte BufferTags, and a dirty victim is
 * "written" by counting it, since there is no storage.
 */

import type { BufferAccessStrategy } from "./access-strategy.js";
import { DescriptorHeaders } from "./buf-headers.js";
import {
  BM_DIRTY,
  BM_TAG_VALID,
  BM_VALID,
  BUF_REFCOUNT_MASK,
  BUF_USAGECOUNT_MASK,
  BUF_USAGECOUNT_ONE,
  bufStateGetRefcount,
  bufStateGetUsageCount,
  bumpUsageOnFirstPin,
} from "./buf-state.js";
import { assert, PgsimError } from "./errors.js";
import {
  FREENEXT_NOT_IN_LIST,
  STRATEGY_CONTROL_INTS,
  StrategyControl,
  VictimSearch,
  type VictimStep,
} from "./freelist.js";

/** The largest pool SimplePool accepts; it is for teaching and tracing, not for data. */
export const SIMPLE_POOL_MAX_BUFFERS = 1 << 20;

/** What `access` did. */
export interface AccessResult {
  /** True when the tag was already in a buffer. */
  hit: boolean;
  /** The buffer now holding the tag (pinned by this access). */
  bufferId: number;
  /** The tag that was evicted to make room, if any. */
  evictedTag: string | undefined;
  /** True when the evicted page was dirty and had to be written first. */
  wroteDirty: boolean;
  /** Every step of the victim search, when `trace` was asked for. */
  steps: VictimStep[];
}

/** One buffer as `snapshot` shows it. */
export interface SimpleBufferView {
  bufferId: number;
  tag: string | undefined;
  usageCount: number;
  refcount: number;
  dirty: boolean;
  valid: boolean;
}

/** Counters kept by a SimplePool. */
export interface SimplePoolStats {
  hits: number;
  misses: number;
  evictions: number;
  writes: number;
}

/**
 * A pool of `bufferCount` buffers without pages: tags, pins, usage counts, dirty flags, the free
 * list and the clock.
 *
 * @example
 * ```ts
 * const pool = new SimplePool({ bufferCount: 4 });
 * const { bufferId } = pool.access("rel 1 blk 0"); // a miss: buffer 0 from the free list
 * pool.unpin(bufferId);
 * pool.access("rel 1 blk 0").hit; // true
 * ```
 */
export class SimplePool {
  readonly bufferCount: number;
  readonly headers: DescriptorHeaders;
  readonly strategy: StrategyControl;
  readonly stats: SimplePoolStats = { hits: 0, misses: 0, evictions: 0, writes: 0 };
  private readonly tags: (string | undefined)[];
  private readonly table = new Map<string, number>();
  private readonly search: VictimSearch;

  constructor(options: { bufferCount: number }) {
    const n = options.bufferCount;
    if (!Number.isInteger(n) || n < 1 || n > SIMPLE_POOL_MAX_BUFFERS) {
      throw new PgsimError(
        "invalid-buffer-count",
        `buffer count must be an integer from 1 to ${SIMPLE_POOL_MAX_BUFFERS}, got ${String(n)}`,
        { bufferCount: n },
      );
    }
    this.bufferCount = n;
    // Two Int32 slots per descriptor: the state word and the free-list link.
    this.headers = new DescriptorHeaders(new Int32Array(2 * n), n, {
      stride: 2,
      stateIndex: 0,
      freeNextIndex: 1,
    });
    this.strategy = StrategyControl.initialize(new Int32Array(STRATEGY_CONTROL_INTS), this.headers);
    this.tags = new Array<string | undefined>(n).fill(undefined);
    this.search = new VictimSearch(this.strategy);
  }

  private checkBuffer(bufferId: number): void {
    if (!Number.isInteger(bufferId) || bufferId < 0 || bufferId >= this.bufferCount) {
      throw new PgsimError(
        "invalid-buffer",
        `invalid buffer id ${String(bufferId)}: this pool has buffers 0 to ${this.bufferCount - 1}`,
        { bufferId },
      );
    }
  }

  /** The buffer holding `tag`, or undefined. */
  lookup(tag: string): number | undefined {
    return this.table.get(tag);
  }

  /**
   * Reads a page: a hit pins the buffer (raising its usage count), a miss runs a whole victim
   * search, evicts what was there and pins the buffer with usage count 1.
   */
  access(
    tag: string,
    options: { strategy?: BufferAccessStrategy; trace?: boolean } = {},
  ): AccessResult {
    const found = this.table.get(tag);
    if (found !== undefined) {
      this.stats.hits++;
      this.pinWith(found, options.strategy !== undefined);
      return { hit: true, bufferId: found, evictedTag: undefined, wroteDirty: false, steps: [] };
    }
    const search = this.beginVictimSearch(options.strategy);
    const steps: VictimStep[] = [];
    for (;;) {
      const chosen = search.step();
      if (options.trace) steps.push(search.describeStep());
      if (chosen) break;
    }
    return { ...this.finishMiss(tag, search), steps };
  }

  /** Starts a victim search to be driven one `step()` at a time, then passed to `finishMiss`. */
  beginVictimSearch(strategy?: BufferAccessStrategy): VictimSearch {
    return this.search.begin(strategy);
  }

  /**
   * The second half of a miss, after `search.step()` returned true: evict the victim's old tag
   * (writing it if dirty), give it `tag` with usage count 1, and pin it.
   */
  finishMiss(tag: string, search: VictimSearch): Omit<AccessResult, "steps"> {
    if (this.table.has(tag)) {
      this.headers.unlockBufHdr(search.bufferId, search.state);
      throw new PgsimError("duplicate-tag", `${tag} is already in the pool`, { tag });
    }
    const id = search.bufferId;
    let state = search.state;
    const evictedTag = this.tags[id];
    const wroteDirty = (state & BM_DIRTY) !== 0;
    this.stats.misses++;
    if (evictedTag !== undefined) {
      this.table.delete(evictedTag);
      this.stats.evictions++;
    }
    if (wroteDirty) this.stats.writes++;
    state &= ~(BM_DIRTY | BUF_USAGECOUNT_MASK | BUF_REFCOUNT_MASK);
    state |= BM_TAG_VALID | BM_VALID | BUF_USAGECOUNT_ONE | 1;
    this.headers.unlockBufHdr(id, state);
    this.tags[id] = tag;
    this.table.set(tag, id);
    return { hit: false, bufferId: id, evictedTag, wroteDirty };
  }

  /**
   * Gives a chosen victim back unchanged: releases its header lock and leaves its page, usage
   * count and dirty flag as they are. PostgreSQL 15's BufferAlloc does this when another backend
   * read the same page meanwhile; the teaching REPL's `.alloc` does it to show StrategyGetBuffer
   * on its own.
   */
  releaseVictim(search: VictimSearch): void {
    assert(search.lastChosen && !search.active, "releaseVictim needs a search that chose a victim");
    this.headers.unlockBufHdr(search.bufferId, search.state);
  }

  private pinWith(bufferId: number, withStrategy: boolean): void {
    const state = this.headers.lockBufHdr(bufferId);
    this.headers.unlockBufHdr(bufferId, bumpUsageOnFirstPin(state, withStrategy) + 1);
  }

  /** Pins a buffer that holds a page, as another backend would (refcount + 1, usage + 1). */
  pin(bufferId: number): void {
    this.checkBuffer(bufferId);
    if (this.tags[bufferId] === undefined) {
      throw new PgsimError("buffer-empty", `buffer ${bufferId} holds no page`, { bufferId });
    }
    this.pinWith(bufferId, false);
  }

  /** Drops one pin. */
  unpin(bufferId: number): void {
    this.checkBuffer(bufferId);
    const state = this.headers.lockBufHdr(bufferId);
    if (bufStateGetRefcount(state) === 0) {
      this.headers.unlockBufHdr(bufferId, state);
      throw new PgsimError("buffer-not-pinned", `buffer ${bufferId} is not pinned`, { bufferId });
    }
    this.headers.unlockBufHdr(bufferId, state - 1);
  }

  /** Marks a pinned buffer dirty: its victim will have to be written first. */
  markDirty(bufferId: number): void {
    this.checkBuffer(bufferId);
    const state = this.headers.lockBufHdr(bufferId);
    if (bufStateGetRefcount(state) === 0) {
      this.headers.unlockBufHdr(bufferId, state);
      throw new PgsimError("buffer-not-pinned", `buffer ${bufferId} must be pinned to be dirtied`, {
        bufferId,
      });
    }
    this.headers.unlockBufHdr(bufferId, state | BM_DIRTY);
  }

  /**
   * InvalidateBuffer + StrategyFreeBuffer: forgets an unpinned buffer's page and returns the
   * buffer to the head of the free list.
   */
  invalidate(bufferId: number): void {
    this.checkBuffer(bufferId);
    const state = this.headers.lockBufHdr(bufferId);
    if (bufStateGetRefcount(state) !== 0) {
      this.headers.unlockBufHdr(bufferId, state);
      throw new PgsimError("buffer-pinned", `buffer ${bufferId} is pinned`, { bufferId });
    }
    this.headers.unlockBufHdr(bufferId, 0);
    const tag = this.tags[bufferId];
    if (tag !== undefined) this.table.delete(tag);
    this.tags[bufferId] = undefined;
    if (this.headers.getFreeNext(bufferId) === FREENEXT_NOT_IN_LIST) {
      this.strategy.strategyFreeBuffer(bufferId);
    }
  }

  /** Sets a buffer's usage count directly (for setting up an exercise). */
  setUsageCount(bufferId: number, usageCount: number): void {
    this.checkBuffer(bufferId);
    if (!Number.isInteger(usageCount) || usageCount < 0 || usageCount > 5) {
      throw new PgsimError("invalid-usage-count", `usage count must be 0 to 5, got ${usageCount}`);
    }
    const state = this.headers.lockBufHdr(bufferId);
    this.headers.unlockBufHdr(
      bufferId,
      (state & ~BUF_USAGECOUNT_MASK) | (usageCount * BUF_USAGECOUNT_ONE),
    );
  }

  /** Every buffer's tag, usage count, pins and flags. */
  snapshot(): SimpleBufferView[] {
    const out: SimpleBufferView[] = [];
    for (let id = 0; id < this.bufferCount; id++) {
      const state = this.headers.readState(id);
      out.push({
        bufferId: id,
        tag: this.tags[id],
        usageCount: bufStateGetUsageCount(state),
        refcount: bufStateGetRefcount(state),
        dirty: (state & BM_DIRTY) !== 0,
        valid: (state & BM_VALID) !== 0,
      });
    }
    return out;
  }
}
