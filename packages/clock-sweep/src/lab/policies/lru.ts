/**
 * LRU: evict the page whose last use is oldest.
 *
 * Models: the classic least-recently-used policy (as in, e.g., BusTub's first buffer pool and
 * most textbooks); no single paper. PostgreSQL used LRU lists until 8.0 and replaced them (after a
 * brief ARC period) with the clock sweep in 8.1.
 * Entry points: `LruPolicy`.
 * See also: policy.ts (the interface), lru-k.ts (LRU-2), clock-sweep.ts (the approximation
 * PostgreSQL uses).
 *
 * A JavaScript Map keeps insertion order, so "move to the most-recent end" is delete + set, and the
 * victim is the first unpinned key.
 */

import { assert } from "../../errors.js";
import { ResidentSetPolicy } from "./policy.js";

/**
 * Least recently used.
 *
 * @example
 * ```ts
 * const lru = new LruPolicy(2);
 * for (const t of ["a", "b", "a"]) { lru.access(t); lru.unpin(t); }
 * lru.access("c").evictedTag; // "b": "a" was used more recently
 * ```
 */
export class LruPolicy extends ResidentSetPolicy {
  readonly name = "lru";
  /** Resident pages, least recently used first. */
  private readonly order = new Map<string, true>();

  protected isResident(tag: string): boolean {
    return this.order.has(tag);
  }

  protected residentCount(): number {
    return this.order.size;
  }

  protected onHit(tag: string): void {
    this.order.delete(tag);
    this.order.set(tag, true);
  }

  protected admit(tag: string): string | undefined {
    let victim: string | undefined;
    if (this.order.size >= this.capacity) {
      victim = this.firstUnpinned(this.order.keys());
      assert(victim !== undefined, "lru: no unpinned victim");
      this.order.delete(victim);
    }
    this.order.set(tag, true);
    return victim;
  }

  residentTags(): string[] {
    return [...this.order.keys()];
  }
}
