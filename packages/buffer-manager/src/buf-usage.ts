/**
 * What one backend's buffer accesses add up to: its `pgBufferUsage` (the counts EXPLAIN (ANALYZE,
 * BUFFERS) prints per statement), and its per-relation, per-fork tally of blocks fetched and hit
 * (what the cumulative statistics system turns into pg_statio_user_tables).
 *
 * Models: src/include/executor/instrument.h (BufferUsage), src/backend/executor/instrument.c
 * (pgBufferUsage, BufferUsageAccumDiff), commands/explain.c (show_buffer_usage, the text
 * format's "Buffers: shared hit=… read=… dirtied=… written=…" line), and the
 * pgstat_count_buffer_read / pgstat_count_buffer_hit calls in bufmgr.c's ReadBufferExtended,
 * which count into the relation's pending PgStat_TableCounts (t_blocks_fetched, t_blocks_hit).
 * Entry points: `BufferUsage`, `bufferUsageDiff`, `formatBufferUsage`, `RelationBlockCounts`,
 * `RelationBlockCounter`.
 * See also: bufmgr.ts (where the counting happens), buf-internals.ts (the per-backend counters in
 * shared memory), @pgsim/heap-am's utils/activity (the statistics that drain the tally).
 *
 * Counting rules, as PostgreSQL 15's ReadBuffer_common and MarkBufferDirty count:
 * 1. A page found in the pool is a hit; one read from storage is a read.
 * 2. A block added to a relation (ReadBuffer(P_NEW)) is counted as *written* in BufferUsage —
 *    smgrextend writes the zero page — and as fetched but not hit for the relation's statistics.
 * 3. A clean buffer made dirty (MarkBufferDirty, MarkBufferDirtyHint) is dirtied once, however
 *    often it changes until it is written.
 * 4. A dirty page written out by this backend (eviction, FlushBuffer) is written.
 *
 * Differs from PostgreSQL: `sharedBlksExtended` is pgsim's (PostgreSQL 15 folds extensions into
 * shared_blks_written without a count of their own); a memory-only pool counts an extension as
 * written too, though it writes nothing, so that both variants report the same figures; pgsim's
 * CHECKPOINT runs in the backend that asks for it, so its writes count for that backend (in
 * PostgreSQL the checkpointer writes). There are no local or temp buffers, and no I/O timing.
 */

import type { RelFileLocator } from "./buf-tag.js";

/** One backend's buffer counts (pgBufferUsage's shared_blks_* fields), cumulative or a delta. */
export interface BufferUsage {
  /** shared_blks_hit: pages found in the pool. */
  readonly sharedBlksHit: number;
  /** shared_blks_read: pages read from storage. */
  readonly sharedBlksRead: number;
  /** shared_blks_dirtied: clean buffers made dirty. */
  readonly sharedBlksDirtied: number;
  /** shared_blks_written: dirty pages written out, plus blocks added by extension (rule 2). */
  readonly sharedBlksWritten: number;
  /** pgsim only: of `sharedBlksWritten`, the blocks added by extending a relation. */
  readonly sharedBlksExtended: number;
}

/** A BufferUsage with every count zero. */
export const ZERO_BUFFER_USAGE: BufferUsage = Object.freeze({
  sharedBlksHit: 0,
  sharedBlksRead: 0,
  sharedBlksDirtied: 0,
  sharedBlksWritten: 0,
  sharedBlksExtended: 0,
});

/**
 * BufferUsageAccumDiff: what happened between two readings of the same backend's counters.
 *
 * @example
 * ```ts
 * const before = pool.bufferUsage();
 * pool.releaseBuffer(pool.readBuffer(rel, ForkNumber.MAIN, 0));
 * bufferUsageDiff(pool.bufferUsage(), before).sharedBlksHit; // 1
 * ```
 */
export function bufferUsageDiff(after: BufferUsage, before: BufferUsage): BufferUsage {
  return {
    sharedBlksHit: after.sharedBlksHit - before.sharedBlksHit,
    sharedBlksRead: after.sharedBlksRead - before.sharedBlksRead,
    sharedBlksDirtied: after.sharedBlksDirtied - before.sharedBlksDirtied,
    sharedBlksWritten: after.sharedBlksWritten - before.sharedBlksWritten,
    sharedBlksExtended: after.sharedBlksExtended - before.sharedBlksExtended,
  };
}

/**
 * show_buffer_usage in EXPLAIN's text format: `Buffers: shared hit=4 read=1 dirtied=2
 * written=1`, each figure only when it is not zero, and "" when all are zero (EXPLAIN then
 * prints no Buffers line).
 */
export function formatBufferUsage(usage: BufferUsage): string {
  const parts: string[] = [];
  if (usage.sharedBlksHit > 0) parts.push(`hit=${usage.sharedBlksHit}`);
  if (usage.sharedBlksRead > 0) parts.push(`read=${usage.sharedBlksRead}`);
  if (usage.sharedBlksDirtied > 0) parts.push(`dirtied=${usage.sharedBlksDirtied}`);
  if (usage.sharedBlksWritten > 0) parts.push(`written=${usage.sharedBlksWritten}`);
  return parts.length === 0 ? "" : `Buffers: shared ${parts.join(" ")}`;
}

/** Blocks of one relation fork that a backend asked the pool for, and how many were hits. */
export interface RelationBlockCounts {
  readonly locator: RelFileLocator;
  readonly fork: number;
  /** t_blocks_fetched: every readBuffer and extend of the fork. */
  readonly blocksFetched: number;
  /** t_blocks_hit: those found in the pool. */
  readonly blocksHit: number;
}

/** Counters per relation: [fetched, hit] for each of the four forks. */
const FORK_SLOTS = 8;

/**
 * A backend's private tally of blocks fetched and hit per relation fork, kept since the last
 * `take()`. The hit path costs three comparisons when the relation is the one counted last.
 */
export class RelationBlockCounter {
  private readonly byRelation = new Map<
    string,
    { locator: RelFileLocator; counts: Float64Array }
  >();
  private lastSpc = -1;
  private lastDb = -1;
  private lastRel = -1;
  private last: Float64Array | undefined;

  /** pgstat_count_buffer_read, and pgstat_count_buffer_hit when `hit`. */
  count(rel: RelFileLocator, fork: number, hit: boolean): void {
    let counts = this.last;
    if (
      counts === undefined ||
      rel.relNumber !== this.lastRel ||
      rel.dbOid !== this.lastDb ||
      rel.spcOid !== this.lastSpc
    ) {
      counts = this.countsOf(rel);
    }
    counts[fork * 2]!++;
    if (hit) counts[fork * 2 + 1]!++;
  }

  /**
   * The counters of `rel`: [fetched, hit] for each fork, valid until the next `take()`. The hit
   * path keeps them for the relation it read last and counts into them directly.
   */
  countsOf(rel: RelFileLocator): Float64Array {
    const key = `${rel.spcOid}/${rel.dbOid}/${rel.relNumber}`;
    let entry = this.byRelation.get(key);
    if (entry === undefined) {
      entry = {
        locator: { spcOid: rel.spcOid, dbOid: rel.dbOid, relNumber: rel.relNumber },
        counts: new Float64Array(FORK_SLOTS),
      };
      this.byRelation.set(key, entry);
    }
    this.lastSpc = rel.spcOid;
    this.lastDb = rel.dbOid;
    this.lastRel = rel.relNumber;
    this.last = entry.counts;
    return entry.counts;
  }

  /** Everything counted since the last call (forks with no fetch left out), and starts afresh. */
  take(): RelationBlockCounts[] {
    const out: RelationBlockCounts[] = [];
    for (const { locator, counts } of this.byRelation.values()) {
      for (let fork = 0; fork < FORK_SLOTS / 2; fork++) {
        const blocksFetched = counts[fork * 2]!;
        if (blocksFetched > 0) {
          out.push({ locator, fork, blocksFetched, blocksHit: counts[fork * 2 + 1]! });
        }
      }
    }
    this.byRelation.clear();
    this.last = undefined;
    this.lastSpc = this.lastDb = this.lastRel = -1;
    return out;
  }
}
