/**
 * ARC: two LRU lists, for pages used once (T1) and more than once (T2), whose split adapts to the
 * workload by learning from ghost lists of recently evicted pages (B1, B2).
 *
 * Models: N. Megiddo, D. S. Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache",
 * FAST 2003 (Figure 4: cases I–IV, REPLACE, the target size p of T1). PostgreSQL 8.0 shipped ARC
 * and dropped it in 8.0.2/8.1 (a patent concern, then the clock sweep's lower lock contention).
 * Entry points: `ArcPolicy`.
 * See also: policy.ts (the interface), two-q.ts, lru-k.ts.
 *
 * Differs from the paper: REPLACE evicts the least recently used *unpinned* page of the list it
 * chooses, and takes one from the other list when that one holds only pinned pages. REPLACE runs
 * only when the cache is full (the paper's cases reach it only then, except during warm-up). The
 * adaptation step uses the exact ratio |B2|/|B1| (not integer division).
 */

import { assert } from "../../errors.js";
import { ResidentSetPolicy } from "./policy.js";

/**
 * Adaptive Replacement Cache.
 *
 * @example
 * ```ts
 * const arc = new ArcPolicy(8);
 * arc.access("a"); arc.unpin("a");
 * arc.access("a"); arc.unpin("a"); // now in T2: frequently used
 * ```
 */
export class ArcPolicy extends ResidentSetPolicy {
  readonly name = "arc";
  /** Resident, used once recently; least recently used first. */
  private readonly t1 = new Map<string, true>();
  /** Resident, used at least twice recently; least recently used first. */
  private readonly t2 = new Map<string, true>();
  /** Ghosts evicted from T1. */
  private readonly b1 = new Map<string, true>();
  /** Ghosts evicted from T2. */
  private readonly b2 = new Map<string, true>();
  /** Target size of T1, 0..capacity. */
  private p = 0;

  /** The current target size of T1 (for tests and curious readers). */
  get targetT1(): number {
    return this.p;
  }

  protected isResident(tag: string): boolean {
    return this.t1.has(tag) || this.t2.has(tag);
  }

  protected residentCount(): number {
    return this.t1.size + this.t2.size;
  }

  /** Case I: a hit in T1 or T2 moves the page to T2's most recent end. */
  protected onHit(tag: string): void {
    if (!this.t1.delete(tag)) this.t2.delete(tag);
    this.t2.set(tag, true);
  }

  protected admit(tag: string): string | undefined {
    const c = this.capacity;
    let victim: string | undefined;
    if (this.b1.has(tag)) {
      // Case II: T1 was too small — grow its target.
      const delta = this.b1.size >= this.b2.size ? 1 : this.b2.size / this.b1.size;
      this.p = Math.min(c, this.p + delta);
      victim = this.replace(false);
      this.b1.delete(tag);
      this.t2.set(tag, true);
      return victim;
    }
    if (this.b2.has(tag)) {
      // Case III: T2 was too small — shrink T1's target.
      const delta = this.b2.size >= this.b1.size ? 1 : this.b1.size / this.b2.size;
      this.p = Math.max(0, this.p - delta);
      victim = this.replace(true);
      this.b2.delete(tag);
      this.t2.set(tag, true);
      return victim;
    }
    // Case IV: a page ARC has no memory of.
    const l1 = this.t1.size + this.b1.size;
    if (l1 >= c) {
      if (this.t1.size < c) {
        this.dropOldest(this.b1);
        victim = this.replace(false);
      } else {
        // B1 is empty and T1 fills the cache: evict T1's LRU page without remembering it.
        victim = this.firstUnpinned(this.t1.keys());
        assert(victim !== undefined, "arc: no unpinned victim in T1");
        this.t1.delete(victim);
      }
    } else {
      const total = l1 + this.t2.size + this.b2.size;
      if (total >= c) {
        if (total >= 2 * c) this.dropOldest(this.b2);
        victim = this.replace(false);
      }
    }
    this.t1.set(tag, true);
    return victim;
  }

  /**
   * REPLACE(x, p): evict T1's LRU page into B1 when T1 is over its target (or at it, for a page
   * found in B2), else T2's LRU page into B2. Does nothing while the cache has a free buffer.
   */
  private replace(requestInB2: boolean): string | undefined {
    if (this.t1.size + this.t2.size < this.capacity) return undefined;
    const t1Victim = this.firstUnpinned(this.t1.keys());
    const t2Victim = this.firstUnpinned(this.t2.keys());
    const preferT1 =
      this.t1.size >= 1 && ((requestInB2 && this.t1.size === this.p) || this.t1.size > this.p);
    const fromT1 = preferT1 ? t1Victim !== undefined : t2Victim === undefined;
    const victim = fromT1 ? t1Victim : t2Victim;
    assert(victim !== undefined, "arc: no unpinned victim");
    if (fromT1) {
      this.t1.delete(victim);
      this.b1.set(victim, true);
    } else {
      this.t2.delete(victim);
      this.b2.set(victim, true);
    }
    return victim;
  }

  private dropOldest(list: Map<string, true>): void {
    const oldest = list.keys().next();
    if (!oldest.done) list.delete(oldest.value);
  }

  residentTags(): string[] {
    return [...this.t1.keys(), ...this.t2.keys()];
  }
}
