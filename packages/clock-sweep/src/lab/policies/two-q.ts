/**
 * 2Q: a FIFO for pages seen once, an LRU for pages seen again, and a ghost queue that tells them
 * apart.
 *
 * Models: T. Johnson, D. Shasha, "2Q: A Low Overhead High Performance Buffer Management
 * Replacement Algorithm", VLDB 1994 — the full version with A1in (FIFO of resident first-time
 * pages), A1out (FIFO of the ids of pages evicted from A1in) and Am (LRU of pages re-referenced
 * after leaving A1in), with the paper's recommended Kin = 25 % and Kout = 50 % of the buffers.
 * Entry points: `TwoQPolicy`.
 * See also: policy.ts (the interface), lru-k.ts (LRU-2, which 2Q approximates), arc.ts.
 *
 * Differs from the paper: when the queue the paper would evict from holds only pinned pages, the
 * victim is taken from the other queue.
 */

import { assert } from "../../errors.js";
import { ResidentSetPolicy } from "./policy.js";

/**
 * Full 2Q.
 *
 * @example
 * ```ts
 * const q = new TwoQPolicy(4); // Kin = 1, Kout = 2
 * ```
 */
export class TwoQPolicy extends ResidentSetPolicy {
  readonly name = "2q";
  /** Target size of A1in. */
  readonly kin: number;
  /** Capacity of the ghost queue A1out. */
  readonly kout: number;
  /** Resident pages seen once, oldest first. */
  private readonly a1in = new Map<string, true>();
  /** Ids of pages recently evicted from A1in, oldest first (not resident). */
  private readonly a1out = new Map<string, true>();
  /** Resident pages seen again, least recently used first. */
  private readonly am = new Map<string, true>();

  constructor(capacity: number) {
    super(capacity);
    this.kin = Math.max(1, Math.round(capacity / 4));
    this.kout = Math.max(1, Math.floor(capacity / 2));
  }

  protected isResident(tag: string): boolean {
    return this.a1in.has(tag) || this.am.has(tag);
  }

  protected residentCount(): number {
    return this.a1in.size + this.am.size;
  }

  protected onHit(tag: string): void {
    // A hit in A1in changes nothing: a burst of uses right after a read counts as one.
    if (this.am.has(tag)) {
      this.am.delete(tag);
      this.am.set(tag, true);
    }
  }

  protected admit(tag: string): string | undefined {
    const victim = this.residentCount() >= this.capacity ? this.reclaim() : undefined;
    if (this.a1out.delete(tag)) this.am.set(tag, true);
    else this.a1in.set(tag, true);
    return victim;
  }

  /** The paper's "reclaimfor": page out the tail of A1in if it is over Kin, else Am's LRU page. */
  private reclaim(): string {
    const fromA1in = this.a1in.size > this.kin || this.firstUnpinned(this.am.keys()) === undefined;
    let victim = fromA1in
      ? this.firstUnpinned(this.a1in.keys())
      : this.firstUnpinned(this.am.keys());
    let queue = fromA1in ? this.a1in : this.am;
    if (victim === undefined) {
      queue = this.am;
      victim = this.firstUnpinned(this.am.keys());
    }
    assert(victim !== undefined, "2q: no unpinned victim");
    queue.delete(victim);
    if (queue === this.a1in) {
      this.a1out.set(victim, true);
      if (this.a1out.size > this.kout) this.a1out.delete(this.a1out.keys().next().value as string);
    }
    return victim;
  }

  residentTags(): string[] {
    return [...this.a1in.keys(), ...this.am.keys()];
  }
}
