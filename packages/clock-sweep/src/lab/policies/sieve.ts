/**
 * SIEVE: a FIFO queue with one "visited" bit per page and a hand that sweeps from the oldest end,
 * clearing bits, until it finds an unvisited page to evict; survivors stay where they are.
 *
 * Models: Y. Zhang, J. Yang, Y. Yue, Y. Vigfusson, K. V. Rashmi, "SIEVE is Simpler than LRU: an
 * Efficient Turn-Key Eviction Algorithm for Web Caches", NSDI 2024 (Algorithm 1).
 * Entry points: `SievePolicy`.
 * See also: policy.ts (the interface), clock-sweep.ts (the clock, which moves survivors to the
 * back by moving the hand past them and keeps a usage count instead of one bit).
 *
 * Differs from the paper: the hand steps over pinned pages without clearing their bit, as
 * PostgreSQL's clock leaves a pinned buffer's usage count alone.
 */

import { assert } from "../../errors.js";
import { ResidentSetPolicy } from "./policy.js";

interface SieveNode {
  tag: string;
  visited: boolean;
  /** Towards the head (newer). */
  newer: SieveNode | undefined;
  /** Towards the tail (older). */
  older: SieveNode | undefined;
}

/**
 * SIEVE.
 *
 * @example
 * ```ts
 * const sieve = new SievePolicy(2);
 * for (const t of ["a", "b", "a"]) { sieve.access(t); sieve.unpin(t); }
 * sieve.access("c").evictedTag; // "b": "a" was visited, so the hand spares it
 * ```
 */
export class SievePolicy extends ResidentSetPolicy {
  readonly name = "sieve";
  private readonly nodes = new Map<string, SieveNode>();
  /** Newest page. */
  private head: SieveNode | undefined;
  /** Oldest page. */
  private tail: SieveNode | undefined;
  /** Where the next eviction starts looking (undefined: at the tail). */
  private hand: SieveNode | undefined;

  protected isResident(tag: string): boolean {
    return this.nodes.has(tag);
  }

  protected residentCount(): number {
    return this.nodes.size;
  }

  protected onHit(tag: string): void {
    this.nodes.get(tag)!.visited = true;
  }

  protected admit(tag: string): string | undefined {
    const victim = this.nodes.size >= this.capacity ? this.evict() : undefined;
    const node: SieveNode = { tag, visited: false, newer: undefined, older: this.head };
    if (this.head) this.head.newer = node;
    this.head = node;
    if (!this.tail) this.tail = node;
    this.nodes.set(tag, node);
    return victim;
  }

  private evict(): string {
    let o = this.hand ?? this.tail;
    // Bound: one lap clears every unpinned page's bit, the second finds one (the base class made
    // sure an unpinned page exists).
    for (let steps = 0; ; steps++) {
      assert(o !== undefined && steps <= 2 * this.nodes.size, "sieve: no unpinned victim");
      if (!this.isPinned(o.tag)) {
        if (!o.visited) break;
        o.visited = false;
      }
      o = o.newer ?? this.tail;
    }
    this.hand = o.newer;
    this.unlink(o);
    return o.tag;
  }

  private unlink(node: SieveNode): void {
    if (node.newer) node.newer.older = node.older;
    else this.head = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.tail = node.newer;
    this.nodes.delete(node.tag);
  }

  residentTags(): string[] {
    return [...this.nodes.keys()];
  }
}
