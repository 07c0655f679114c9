/**
 * The one interface every replacement policy of the lab implements, and the bookkeeping the
 * non-PostgreSQL policies share: pins, dirty pages and counters.
 *
 * Models: the contract that src/backend/storage/buffer/bufmgr.c (BufferAlloc) expects of
 * freelist.c's StrategyGetBuffer, generalised to any policy: a pinned page is never evicted; a dirty
 * victim is written before its buffer is reused; when every buffer is pinned the request fails with
 * "no unpinned buffers available".
 * Entry points: `ReplacementPolicy`, `PolicyAccessOptions`, `PolicyAccessResult`, `PolicyStats`,
 * `ResidentSetPolicy` (base class of LRU, LRU-K, 2Q, ARC and SIEVE).
 * See also: clock-sweep.ts (PostgreSQL's clock sweep through SimplePool), lru.ts, lru-k.ts,
 * two-q.ts, arc.ts, sieve.ts, index.ts (the registry), ../lab.ts (replaying traces).
 *
 * Differs from PostgreSQL: a policy manages pages by tag and has no buffer ids or header locks;
 * only the clock-sweep policy runs PostgreSQL's own code.
 */

import type { BufferAccessStrategyType } from "../../access-strategy.js";
import { assert, PgsimError } from "../../errors.js";

/** How a page is being read. */
export interface PolicyAccessOptions {
  /**
   * The access strategy the executor chose for this read (a large sequential scan reads with
   * "bulkread"). Only the clock-sweep policy with rings acts on it; the other policies ignore it.
   */
  strategy?: BufferAccessStrategyType;
  /**
   * Which ring of that strategy: reads with the same strategy and ring number share one ring, as
   * the reads of one scan do in PostgreSQL (default 0).
   */
  ringId?: number;
}

/** What one `access` did. */
export interface PolicyAccessResult {
  /** True when the page was already resident. */
  hit: boolean;
  /** The page evicted to make room, if any. */
  evictedTag: string | undefined;
  /** True when the evicted page was dirty and had to be written first. */
  wroteDirty: boolean;
}

/** Counters every policy keeps (the same shape as SimplePool's). */
export interface PolicyStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Dirty pages written back because they were evicted. */
  writes: number;
}

/**
 * A buffer replacement policy over `capacity` buffers.
 *
 * @example
 * ```ts
 * const lru = createPolicy("lru", 2);
 * lru.access("a"); lru.unpin("a");
 * lru.access("b"); lru.unpin("b");
 * lru.access("c").evictedTag; // "a"
 * ```
 */
export interface ReplacementPolicy {
  /** The policy's short name ("clock", "lru", "arc", …). */
  readonly name: string;
  /** How many pages fit (NBuffers). */
  readonly capacity: number;
  readonly stats: PolicyStats;
  /**
   * Reads a page: a hit, or a miss that evicts an unpinned page when the pool is full. Returns with
   * the page pinned (release it with `unpin`). Throws PgsimError `no-unpinned-buffers` when every
   * buffer is pinned.
   */
  access(tag: string, options?: PolicyAccessOptions): PolicyAccessResult;
  /** Drops one pin of a resident page. */
  unpin(tag: string): void;
  /** Marks a pinned page dirty: evicting it will cost a write. */
  markDirty(tag: string): void;
  /** The resident pages, in no promised order. */
  residentTags(): string[];
}

/** The error every policy throws when all buffers are pinned (PostgreSQL's own message). */
export function noUnpinnedBuffers(capacity: number): PgsimError {
  return new PgsimError("no-unpinned-buffers", "no unpinned buffers available", {
    bufferCount: capacity,
  });
}

/** Checks a policy's capacity. */
export function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
    throw new PgsimError(
      "invalid-buffer-count",
      `buffer count must be an integer from 1 to ${1 << 20}, got ${String(capacity)}`,
      { bufferCount: capacity },
    );
  }
}

/**
 * Pins, dirty flags and counters for policies that keep their own resident set. A subclass says
 * whether a page is resident, what a hit does, and how a miss admits the page (evicting a victim
 * chosen among unpinned pages when the pool is full).
 *
 * Before calling `admit` the base class has made sure that an unpinned victim exists whenever the
 * pool is full, so a subclass that looks in all its lists always finds one.
 */
export abstract class ResidentSetPolicy implements ReplacementPolicy {
  abstract readonly name: string;
  readonly capacity: number;
  readonly stats: PolicyStats = { hits: 0, misses: 0, evictions: 0, writes: 0 };
  private readonly pinCounts = new Map<string, number>();
  private readonly dirtyPages = new Set<string>();

  constructor(capacity: number) {
    checkCapacity(capacity);
    this.capacity = capacity;
  }

  /** True when `tag` holds a buffer. */
  protected abstract isResident(tag: string): boolean;
  /** How many pages hold buffers now. */
  protected abstract residentCount(): number;
  /** A resident page was read again: update recency or frequency. */
  protected abstract onHit(tag: string): void;
  /**
   * A page that is not resident is read: evict one unpinned page if the pool is full, then make
   * `tag` resident. Returns the evicted page.
   */
  protected abstract admit(tag: string): string | undefined;
  abstract residentTags(): string[];

  /** True when some backend pins `tag`. Subclasses skip pinned pages when choosing a victim. */
  protected isPinned(tag: string): boolean {
    return this.pinCounts.has(tag);
  }

  /** The first unpinned tag in `tags` (least valuable first), or undefined. */
  protected firstUnpinned(tags: Iterable<string>): string | undefined {
    for (const tag of tags) if (!this.pinCounts.has(tag)) return tag;
    return undefined;
  }

  access(tag: string, _options?: PolicyAccessOptions): PolicyAccessResult {
    let result: PolicyAccessResult;
    if (this.isResident(tag)) {
      this.onHit(tag);
      this.stats.hits++;
      result = { hit: true, evictedTag: undefined, wroteDirty: false };
    } else {
      // Every resident page pinned and no room: nothing can be evicted.
      if (this.residentCount() >= this.capacity && this.pinCounts.size >= this.capacity) {
        throw noUnpinnedBuffers(this.capacity);
      }
      const evictedTag = this.admit(tag);
      let wroteDirty = false;
      if (evictedTag !== undefined) {
        assert(!this.pinCounts.has(evictedTag), `${this.name} evicted pinned page ${evictedTag}`);
        this.stats.evictions++;
        wroteDirty = this.dirtyPages.delete(evictedTag);
        if (wroteDirty) this.stats.writes++;
      }
      assert(this.residentCount() <= this.capacity, `${this.name} holds more pages than buffers`);
      this.stats.misses++;
      result = { hit: false, evictedTag, wroteDirty };
    }
    this.pinCounts.set(tag, (this.pinCounts.get(tag) ?? 0) + 1);
    return result;
  }

  unpin(tag: string): void {
    const pins = this.pinCounts.get(tag);
    if (pins === undefined) {
      throw new PgsimError("page-not-pinned", `${tag} is not pinned`, { tag });
    }
    if (pins === 1) this.pinCounts.delete(tag);
    else this.pinCounts.set(tag, pins - 1);
  }

  markDirty(tag: string): void {
    if (!this.pinCounts.has(tag)) {
      throw new PgsimError("page-not-pinned", `${tag} must be pinned to be dirtied`, { tag });
    }
    this.dirtyPages.add(tag);
  }
}
