/**
 * LRU-K with K = 2: evict the page whose second-most-recent use is oldest.
 *
 * Models: E. J. O'Neil, P. E. O'Neil, G. Weikum, "The LRU-K Page Replacement Algorithm for
 * Database Disk Buffering", SIGMOD 1993 (LRU-2: the backward K-distance with K = 2, pages with
 * fewer than K uses have an infinite distance and are evicted first, oldest last use first; the
 * history of evicted pages is retained).
 * Entry points: `LruKPolicy`.
 * See also: policy.ts (the interface), lru.ts (LRU-1), two-q.ts (2Q, which approximates LRU-2 in
 * constant time).
 *
 * Differs from the paper: the Correlated Reference Period is 0 (every use counts), and the
 * Retained Information Period is a count rather than a time: the history of the last `capacity`
 * evicted pages is kept. The victim is found by a linear scan over resident pages (O(NBuffers) per
 * miss), which is plenty for the lab's pool sizes.
 */

import { assert } from "../../errors.js";
import { ResidentSetPolicy } from "./policy.js";

/** HIST(p, 1) and HIST(p, 2): the times of the last and the previous use. */
interface History {
  last: number;
  previous: number;
}

/**
 * LRU-2.
 *
 * @example
 * ```ts
 * const lru2 = new LruKPolicy(2);
 * for (const t of ["a", "a", "b"]) { lru2.access(t); lru2.unpin(t); }
 * lru2.access("c").evictedTag; // "b": used once, so its second-last use is at minus infinity
 * ```
 */
export class LruKPolicy extends ResidentSetPolicy {
  readonly name = "lru-2";
  private readonly resident = new Set<string>();
  /** Histories of resident pages and of recently evicted ones. */
  private readonly history = new Map<string, History>();
  /** Evicted pages whose history is retained, oldest first. */
  private readonly retained = new Map<string, true>();
  private now = 0;

  protected isResident(tag: string): boolean {
    return this.resident.has(tag);
  }

  protected residentCount(): number {
    return this.resident.size;
  }

  protected onHit(tag: string): void {
    const h = this.history.get(tag)!;
    h.previous = h.last;
    h.last = ++this.now;
  }

  protected admit(tag: string): string | undefined {
    let victim: string | undefined;
    if (this.resident.size >= this.capacity) {
      // The largest backward 2-distance is the smallest `previous`; among pages used once
      // (previous = -Infinity) the subsidiary policy is LRU: the oldest `last`.
      let best: History | undefined;
      for (const t of this.resident) {
        if (this.isPinned(t)) continue;
        const h = this.history.get(t)!;
        if (
          best === undefined ||
          h.previous < best.previous ||
          (h.previous === best.previous && h.last < best.last)
        ) {
          best = h;
          victim = t;
        }
      }
      assert(victim !== undefined, "lru-2: no unpinned victim");
      this.resident.delete(victim);
      this.retained.set(victim, true);
      if (this.retained.size > this.capacity) {
        const oldest = this.retained.keys().next().value as string;
        this.retained.delete(oldest);
        this.history.delete(oldest);
      }
    }
    const known = this.history.get(tag);
    if (known !== undefined) {
      // Retained history: this use makes the page's second use, as in the paper.
      this.retained.delete(tag);
      known.previous = known.last;
      known.last = ++this.now;
    } else {
      this.history.set(tag, { last: ++this.now, previous: Number.NEGATIVE_INFINITY });
    }
    this.resident.add(tag);
    return victim;
  }

  residentTags(): string[] {
    return [...this.resident];
  }
}
