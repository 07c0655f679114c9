/**
 * PostgreSQL's clock sweep as a lab policy: the very StrategyControl / VictimSearch code the
 * buffer manager runs, driven through SimplePool, with or without the ring strategies.
 *
 * Models: src/backend/storage/buffer/freelist.c (StrategyGetBuffer, ClockSweepTick,
 * GetBufferFromRing, AddBufferToRing) and the replacement half of bufmgr.c (BufferAlloc, PinBuffer)
 * — through ../../simple-pool.ts, not a re-implementation.
 * Entry points: `ClockSweepPolicy` ("clock": the sweep alone; "clock-ring": plus a ring for reads
 * the trace marks with a strategy, as PostgreSQL does for large sequential scans, VACUUM and bulk
 * writes).
 * See also: ../../freelist.ts, ../../access-strategy.ts, ../../simple-pool.ts, policy.ts.
 *
 * Rings: PostgreSQL gives each scan (or VACUUM, or COPY) its own ring and frees it at the end. Here
 * a ring is created on the first read naming its strategy and ring number (`@bulkread:2`) and kept
 * for every later read that names the same pair.
 *
 * Differs from PostgreSQL: there is no WAL, so StrategyRejectBuffer never gives a dirty ring buffer
 * back (as in @pgsim/buffer-manager).
 */

import {
  type BufferAccessStrategy,
  type BufferAccessStrategyType,
  getAccessStrategy,
} from "../../access-strategy.js";
import { PgsimError } from "../../errors.js";
import { SimplePool } from "../../simple-pool.js";
import {
  checkCapacity,
  type PolicyAccessOptions,
  type PolicyAccessResult,
  type PolicyStats,
  type ReplacementPolicy,
} from "./policy.js";

/**
 * The clock sweep over a SimplePool of `capacity` buffers.
 *
 * @example
 * ```ts
 * const clock = new ClockSweepPolicy(16, { rings: true });
 * clock.access("16385 0 7", { strategy: "bulkread" }); // through a 2-buffer BULKREAD ring
 * ```
 */
export class ClockSweepPolicy implements ReplacementPolicy {
  readonly name: "clock" | "clock-ring";
  readonly capacity: number;
  /** The pool whose StrategyControl makes every decision. */
  readonly pool: SimplePool;
  private readonly useRings: boolean;
  private readonly rings = new Map<string, BufferAccessStrategy | undefined>();

  constructor(capacity: number, options: { rings: boolean }) {
    checkCapacity(capacity);
    this.capacity = capacity;
    this.useRings = options.rings;
    this.name = options.rings ? "clock-ring" : "clock";
    this.pool = new SimplePool({ bufferCount: capacity });
  }

  get stats(): PolicyStats {
    return this.pool.stats;
  }

  /**
   * The ring this policy reads `type` accesses of ring `ringId` through (undefined: the default
   * path, also for pools too small for a ring).
   */
  ring(type: BufferAccessStrategyType | undefined, ringId = 0): BufferAccessStrategy | undefined {
    if (!this.useRings || type === undefined || type === "normal") return undefined;
    const key = `${type}:${ringId}`;
    if (!this.rings.has(key)) this.rings.set(key, getAccessStrategy(type, this.capacity));
    return this.rings.get(key);
  }

  access(tag: string, options: PolicyAccessOptions = {}): PolicyAccessResult {
    const r = this.pool.access(tag, { strategy: this.ring(options.strategy, options.ringId) });
    return { hit: r.hit, evictedTag: r.evictedTag, wroteDirty: r.wroteDirty };
  }

  private bufferOf(tag: string): number {
    const id = this.pool.lookup(tag);
    if (id === undefined) {
      throw new PgsimError("page-not-pinned", `${tag} is not pinned`, { tag });
    }
    return id;
  }

  unpin(tag: string): void {
    this.pool.unpin(this.bufferOf(tag));
  }

  markDirty(tag: string): void {
    this.pool.markDirty(this.bufferOf(tag));
  }

  residentTags(): string[] {
    return this.pool
      .snapshot()
      .map((b) => b.tag)
      .filter((t): t is string => t !== undefined);
  }
}
