// @ts-check
/**
 * FIFO — first in, first out: a replacement policy written outside pgsim, the way BusTub's
 * replacer exercise has you write one, and compared with PostgreSQL's clock sweep by the lab:
 *
 *     pgsim-clock compare --trace scan-flood --policy packages/clock-sweep/examples/fifo-policy.js
 *
 * Models: pgsim only (the README's tutorial "Write your own policy"). FIFO is where the clock
 * sweep starts: the clock is FIFO with a second chance for pages read since the hand last passed
 * (PostgreSQL's usage count gives up to five).
 * Entry points: the default export, `FifoPolicy` (the lab calls `new FifoPolicy(capacity)`), and
 * `description`, the line the lab's report prints about it.
 * See also: ../src/lab/policies/policy.ts (ReplacementPolicy, ResidentSetPolicy),
 * ../src/lab/policies/lru.ts (the same shape, plus recency).
 *
 * ResidentSetPolicy does the bookkeeping every policy shares — pins, dirty pages, the counters,
 * and "no unpinned buffers available" when every buffer is pinned — so a policy only says which
 * pages are resident, what a hit does, and which page a miss evicts.
 */
import { ResidentSetPolicy } from "@pgsim/clock-sweep/lab";

/** One line for the lab's report. */
export const description = "first in, first out: a hit changes nothing (examples/fifo-policy.js)";

export default class FifoPolicy extends ResidentSetPolicy {
  name = "fifo";

  /**
   * Resident pages, oldest arrival first: a Map keeps insertion order.
   * @type {Map<string, true>}
   */
  #queue = new Map();

  /** @override @param {string} tag */
  isResident(tag) {
    return this.#queue.has(tag);
  }

  /** @override */
  residentCount() {
    return this.#queue.size;
  }

  /**
   * A hit changes nothing: a page leaves in the order it came, however often it is read.
   * @override @param {string} _tag
   */
  onHit(_tag) {}

  /**
   * A miss: when the pool is full, evict the oldest page that nobody pins, then queue the new one.
   * @override @param {string} tag @returns {string | undefined} the evicted page
   */
  admit(tag) {
    let victim;
    if (this.#queue.size >= this.capacity) {
      // ResidentSetPolicy calls admit only when some resident page is unpinned.
      victim = this.firstUnpinned(this.#queue.keys());
      if (victim === undefined) throw new Error("fifo: every resident page is pinned");
      this.#queue.delete(victim);
    }
    this.#queue.set(tag, true);
    return victim;
  }

  /** @override */
  residentTags() {
    return [...this.#queue.keys()];
  }
}
