/**
 * One backend's handle on the cumulative statistics system: its pending counts, the flush into
 * shared memory, the resets, and the life cycle of a table's entry.
 *
 * Models: src/backend/utils/activity/pgstat.c (pgstat_report_stat, pgstat_force_next_flush,
 * pgstat_reset_counters, pgstat_reset, pgstat_shutdown_hook's final flush), pgstat_xact.c
 * (AtEOXact_PgStat, which folds the transaction's counts in), pgstat_relation.c's
 * pgstat_create_relation / pgstat_drop_relation, and bufmgr.c's pgstat_count_buffer_read/_hit
 * reaching the relation's pending counts.
 * Entry points: `PgStat` (`relations`, `reportStat`, `createRelation`, `dropRelation`,
 * `truncateRelation`, `resetCounters`, `resetSingleTableCounters`, `fetchTable`).
 * See also: pgstat-relation.ts (the counts), pgstat-shmem.ts (shared memory), README.md.
 *
 * Differs from PostgreSQL: a backend flushes at the end of every transaction, after VACUUM,
 * before it reads statistics and when it closes, instead of at most once a second when idle
 * (PGSTAT_MIN_INTERVAL) — as if pg_stat_force_next_flush() had always been called, so a
 * committed transaction's counts are visible to every backend as soon as it returns; a backend
 * that dies (its worker thread ends) loses its pending counts without the statistics being reset
 * (PostgreSQL resets them all in crash recovery).
 */

import type { BufferPool } from "@pgsim/buffer-manager";
import { PgStatRelations, type TableStats } from "./pgstat-relation.js";
import {
  C_RELPAGES,
  C_RELTUPLES,
  type PgStatShared,
  PgStatShmem,
  T_DEAD_TUPLES,
  T_INSERTS_SINCE_VACUUM,
  T_LIVE_TUPLES,
} from "./pgstat-shmem.js";

/** A backend's statistics state. */
export class PgStat {
  readonly shmem: PgStatShmem;
  /** The counts of tables (pgstat_relation.c). */
  readonly relations: PgStatRelations;
  private readonly pool: BufferPool;
  /** Tables created while every statistics entry was taken, so that each is reported once. */
  private readonly untracked = new Set<number>();

  constructor(shared: PgStatShared, pool: BufferPool) {
    this.shmem = new PgStatShmem(shared);
    this.pool = pool;
    this.relations = new PgStatRelations(this.shmem, () => this.reportStat());
  }

  /**
   * pgstat_report_stat(force = true): the blocks the buffer manager counted for this backend go
   * to their tables' pending counts (pgstat_count_buffer_read / _hit), then every pending count
   * is added to the shared entries.
   */
  reportStat(): void {
    for (const c of this.pool.takeRelationBlockCounts()) {
      // In pgsim a table's OID is its relfilenode.
      this.relations.countBlocks(c.locator.relNumber, c.fork, c.blocksFetched, c.blocksHit);
    }
    this.relations.flush();
  }

  /**
   * pgstat_create_relation: a zeroed entry for a new table. When every entry is taken the table
   * gets none, and a warning says so once.
   */
  createRelation(oid: number, name: string): void {
    if (this.shmem.create(oid)) return;
    if (!this.untracked.has(oid)) {
      this.untracked.add(oid);
      process.emitWarning(
        `no statistics are kept for table "${name}": all ${this.shmem.capacity} statistics entries are in use (start the database with a larger statsEntries)`,
      );
    }
  }

  /** pgstat_drop_relation: the table's entry and this backend's pending counts go. */
  dropRelation(oid: number): void {
    this.relations.forget(oid);
    this.shmem.drop(oid);
  }

  /**
   * TRUNCATE (pgstat_count_truncate, as committed): the entry moves to the table's new OID, its
   * live and dead estimates restart from zero, and so do relpages and reltuples (as
   * RelationSetNewRelfilenumber leaves pg_class). The cumulative counts stay.
   */
  truncateRelation(oldOid: number, newOid: number): void {
    this.reportStat();
    this.relations.forget(oldOid);
    const floats = this.shmem.floats;
    this.shmem.rekey(oldOid, newOid, (base) => {
      floats[base + T_LIVE_TUPLES] = 0;
      floats[base + T_DEAD_TUPLES] = 0;
      floats[base + T_INSERTS_SINCE_VACUUM] = 0;
      floats[base + C_RELPAGES] = 0;
      floats[base + C_RELTUPLES] = -1;
    });
  }

  /**
   * pg_stat_reset(): every table's counters go to zero (n_live_tup and n_dead_tup too, as in
   * PostgreSQL 15), and the database's stats_reset time is now. Counts not flushed yet (this
   * backend's or another's) are added afterwards.
   */
  resetCounters(): void {
    for (const oid of this.shmem.entries()) this.shmem.resetEntry(oid);
    this.shmem.statsResetMs = Date.now();
  }

  /** pg_stat_reset_single_table_counters(oid): one table's counters go to zero. */
  resetSingleTableCounters(oid: number): void {
    this.shmem.resetEntry(oid);
    this.shmem.statsResetMs = Date.now();
  }

  /**
   * pgstat_fetch_stat_tabentry: the table's shared statistics (what every backend has flushed),
   * or undefined when the table has no entry.
   */
  fetchTable(oid: number): TableStats | undefined {
    return this.relations.fetch(oid);
  }

  /** When the counters were last reset, or undefined (pg_stat_database.stats_reset). */
  get statsReset(): Date | undefined {
    const ms = this.shmem.statsResetMs;
    return ms === 0 ? undefined : new Date(ms);
  }
}
