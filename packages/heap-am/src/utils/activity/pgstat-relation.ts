/**
 * A backend's statistics of the tables it touches: tuples inserted, updated (HOT or not) and
 * deleted, counted per transaction and folded in when the transaction commits or aborts; blocks
 * fetched and hit; the estimate of live and dead tuples; and what each VACUUM reports.
 *
 * Models: src/backend/utils/activity/pgstat_relation.c (pgstat_count_heap_insert,
 * pgstat_count_heap_update, pgstat_count_heap_delete, pgstat_update_heap_dead_tuples,
 * pgstat_report_vacuum, AtEOXact_PgStat_Relations, pgstat_relation_flush_cb,
 * pgstat_fetch_stat_tabentry) with PgStat_TableStatus / PgStat_TableCounts /
 * PgStat_TableXactStatus from pgstat.h and pgstat_internal.h.
 * Entry points: `PgStatRelations` (`countHeapInsert`, `countHeapUpdate`, `countHeapDelete`,
 * `updateHeapDeadTuples`, `countBlocks`, `flush`, `reportVacuum`, `fetch`), `TableStats`,
 * `VacuumReport`.
 * See also: pgstat-shmem.ts (the shared totals), pgstat.ts (the backend's handle and
 * pgstat_report_stat), README.md (the rules, numbered).
 *
 * Differs from PostgreSQL: no subtransactions, so one transactional level per transaction; no
 * seq_scan / idx_scan / tuples returned and fetched counts; a TRUNCATE or DROP TABLE (not
 * transactional in pgsim) forgets this backend's pending counts for the table at once, instead of
 * keeping the pre-truncate counts for a possible abort.
 */

import { AssertionError } from "@pgsim/clock-sweep";
import type { Transaction } from "../../access/transam/xact.js";
import {
  C_RELPAGES,
  C_RELTUPLES,
  type PgStatShmem,
  T_BLOCKS_FETCHED,
  T_BLOCKS_HIT,
  T_CHANGES_SINCE_ANALYZE,
  T_DEAD_TUPLES,
  T_INSERTS_SINCE_VACUUM,
  T_LIVE_TUPLES,
  T_TUPLES_DELETED,
  T_TUPLES_HOT_UPDATED,
  T_TUPLES_INSERTED,
  T_TUPLES_UPDATED,
  T_VACUUM_COUNT,
  T_VACUUM_TIMESTAMP,
  V_COUNT,
  V_FIRST,
} from "./pgstat-shmem.js";

// PgStat_TableCounts: one backend's counts for one table, not yet flushed (Float64Array slots).
const P_INSERTED = 0;
const P_UPDATED = 1;
const P_DELETED = 2;
const P_HOT_UPDATED = 3;
const P_DELTA_LIVE = 4;
const P_DELTA_DEAD = 5;
const P_CHANGED = 6;
/** Four slots, one per fork. */
const P_BLOCKS_FETCHED = 7;
/** Four slots, one per fork. */
const P_BLOCKS_HIT = 11;
const PENDING_FIELDS = 15;

/** The number of forks pgsim counts blocks for (main, FSM, VM, init). */
export const STAT_FORKS = 4;

/** PgStat_TableXactStatus: what one transaction did to one table. */
interface TableXactStatus {
  tuplesInserted: number;
  tuplesUpdated: number;
  tuplesDeleted: number;
}

/**
 * What one VACUUM of a table did, with the figures VACUUM VERBOSE prints (PostgreSQL 15's
 * heap_vacuum_rel), and a few more. Kept per table in shared memory: pgsim only (PostgreSQL
 * writes them to the log and forgets them).
 */
export interface VacuumReport {
  /** When the VACUUM ended. */
  endedAt: Date;
  /** orig_rel_pages: the table's pages when VACUUM started. */
  pagesTotal: number;
  /** scanned_pages. */
  pagesScanned: number;
  /** removed_pages: given back by truncation. */
  pagesRemoved: number;
  /** new_rel_pages: "remain". */
  pagesRemain: number;
  /** tuples_deleted: "tuples: N removed". */
  tuplesRemoved: number;
  /** new_rel_tuples: live (estimated over skipped pages) plus recently dead; "remain". */
  tuplesRemain: number;
  /** recently_dead_tuples: "are dead but not yet removable". */
  tuplesDeadNotRemovable: number;
  /** new_live_tuples: vac_estimate_reltuples over the pages not scanned; n_live_tup after it. */
  liveTuples: number;
  /** OldestXmin: "removable cutoff". */
  removableCutoff: number;
  /** How many XIDs older than the next XID the cutoff was when the VACUUM ended. */
  removableCutoffAge: number;
  /** num_index_scans: 1 when the index and heap passes ran (pgsim has no index pages). */
  indexScans: number;
  /** Whether the table has indexes (pgsim: `indexedColumns`). */
  hasIndexes: boolean;
  /** do_index_vacuuming at the end: false when bypassed or INDEX_CLEANUP OFF. */
  indexVacuuming: boolean;
  /** lpdead_item_pages: pages with LP_DEAD items after pruning. */
  lpdeadItemPages: number;
  /** lpdead_items: their LP_DEAD items. */
  lpdeadItems: number;
  /** Pages on which tuples were frozen (PostgreSQL 16's "frozen:" line; 15 does not print it). */
  pagesFrozen: number;
  /** Tuples frozen. */
  tuplesFrozen: number;
  /** VacuumPageHit: buffer hits during the VACUUM ("buffer usage: N hits"). */
  bufferHits: number;
  /** VacuumPageMiss: reads and extensions ("M misses"). */
  bufferMisses: number;
  /** VacuumPageDirty: buffers dirtied ("K dirtied"). */
  bufferDirtied: number;
}

/** The report's figures in their shared-memory order (booleans stored as 0 / 1). */
const VACUUM_REPORT_FIELDS = [
  "pagesTotal",
  "pagesScanned",
  "pagesRemoved",
  "pagesRemain",
  "tuplesRemoved",
  "tuplesRemain",
  "tuplesDeadNotRemovable",
  "liveTuples",
  "removableCutoff",
  "removableCutoffAge",
  "indexScans",
  "hasIndexes",
  "indexVacuuming",
  "lpdeadItemPages",
  "lpdeadItems",
  "pagesFrozen",
  "tuplesFrozen",
  "bufferHits",
  "bufferMisses",
  "bufferDirtied",
] as const satisfies readonly Exclude<keyof VacuumReport, "endedAt">[];

if (VACUUM_REPORT_FIELDS.length !== V_COUNT) {
  throw new AssertionError(
    `VACUUM_REPORT_FIELDS has ${VACUUM_REPORT_FIELDS.length} fields, not ${V_COUNT}`,
  );
}

/** One table's shared statistics, as a backend reads them (PgStat_StatTabEntry). */
export interface TableStats {
  tuplesInserted: number;
  tuplesUpdated: number;
  tuplesDeleted: number;
  tuplesHotUpdated: number;
  liveTuples: number;
  deadTuples: number;
  changesSinceAnalyze: number;
  insertsSinceVacuum: number;
  /** blocks_fetched per fork (main, FSM, VM, init). */
  blocksFetched: number[];
  /** blocks_hit per fork. */
  blocksHit: number[];
  /** vacuum_timestamp, or undefined before the first VACUUM (or since a reset). */
  lastVacuum: Date | undefined;
  vacuumCount: number;
  /** The last VACUUM's figures (undefined with lastVacuum). */
  lastVacuumReport: VacuumReport | undefined;
}

/** The relation's pg_class.relpages and reltuples, as VACUUM last set them. */
export interface RelationSizeStats {
  relpages: number;
  /** −1 when never counted. */
  reltuples: number;
}

/**
 * One backend's statistics of tables, pending until flushed. Counts are per table OID (in pgsim
 * a table's OID is its relfilenode).
 */
export class PgStatRelations {
  private readonly shmem: PgStatShmem;
  /** PgStat_TableStatus.t_counts per table: counts not yet flushed. */
  private readonly pending = new Map<number, Float64Array>();
  /** PgStat_TableXactStatus per transaction and table: counts not yet folded into `pending`. */
  private readonly xactStatus = new Map<Transaction, Map<number, TableXactStatus>>();
  private readonly atEndOfTransaction: () => void;
  /** The status counted into last (a bulk statement counts row after row into the same one). */
  private lastXact: Transaction | undefined;
  private lastOid = 0;
  private lastStatus: TableXactStatus | undefined;
  /** The pending counts used last (flush and forget drop it). */
  private lastPendingOid = 0;
  private lastPending: Float64Array | undefined;

  /**
   * `atEndOfTransaction` runs after a transaction's counts are folded in (the backend's
   * pgstat_report_stat, which pgsim runs at once).
   */
  constructor(shmem: PgStatShmem, atEndOfTransaction: () => void) {
    this.shmem = shmem;
    this.atEndOfTransaction = atEndOfTransaction;
  }

  private pendingOf(oid: number): Float64Array {
    if (this.lastPending !== undefined && this.lastPendingOid === oid) return this.lastPending;
    let counts = this.pending.get(oid);
    if (counts === undefined) {
      counts = new Float64Array(PENDING_FIELDS);
      this.pending.set(oid, counts);
    }
    this.lastPendingOid = oid;
    this.lastPending = counts;
    return counts;
  }

  /**
   * ensure_tabstat_xact_level: the transaction's counts for the table, created on first use; the
   * first use in a transaction registers the fold-in at its end (AtEOXact_PgStat).
   */
  private xactStatusOf(oid: number, xact: Transaction): TableXactStatus {
    if (this.lastStatus !== undefined && this.lastXact === xact && this.lastOid === oid) {
      return this.lastStatus;
    }
    let byTable = this.xactStatus.get(xact);
    if (byTable === undefined) {
      byTable = new Map();
      this.xactStatus.set(xact, byTable);
      xact.onEnd((committed) => {
        this.atEOXact(xact, committed);
        this.atEndOfTransaction();
      });
    }
    let status = byTable.get(oid);
    if (status === undefined) {
      status = { tuplesInserted: 0, tuplesUpdated: 0, tuplesDeleted: 0 };
      byTable.set(oid, status);
    }
    this.lastXact = xact;
    this.lastOid = oid;
    this.lastStatus = status;
    return status;
  }

  /** pgstat_count_heap_insert: `n` tuples inserted by `xact`. */
  countHeapInsert(oid: number, xact: Transaction, n: number): void {
    this.xactStatusOf(oid, xact).tuplesInserted += n;
  }

  /**
   * pgstat_count_heap_update: one tuple updated by `xact`. Whether it was HOT is counted at once,
   * whatever becomes of the transaction (t_tuples_hot_updated is not transactional).
   */
  countHeapUpdate(oid: number, xact: Transaction, hot: boolean): void {
    this.xactStatusOf(oid, xact).tuplesUpdated++;
    if (hot) this.pendingOf(oid)[P_HOT_UPDATED]!++;
  }

  /** pgstat_count_heap_delete: one tuple deleted by `xact`. */
  countHeapDelete(oid: number, xact: Transaction): void {
    this.xactStatusOf(oid, xact).tuplesDeleted++;
  }

  /** pgstat_update_heap_dead_tuples: pruning reclaimed `delta` dead tuples (not transactional). */
  updateHeapDeadTuples(oid: number, delta: number): void {
    this.pendingOf(oid)[P_DELTA_DEAD]! -= delta;
  }

  /** pgstat_count_buffer_read / _hit, as the buffer manager tallied them for one fork. */
  countBlocks(oid: number, fork: number, fetched: number, hit: number): void {
    if (fork < 0 || fork >= STAT_FORKS) return;
    const counts = this.pendingOf(oid);
    counts[P_BLOCKS_FETCHED + fork]! += fetched;
    counts[P_BLOCKS_HIT + fork]! += hit;
  }

  /**
   * AtEOXact_PgStat_Relations: folds what `xact` did into the pending counts. Inserts, updates and
   * deletes count whether the transaction committed or not; the live and dead estimates follow
   * the outcome: on commit an insert adds a live tuple, a delete turns a live one dead and an
   * update leaves a dead version; on abort the inserted and updated versions are dead, and
   * deleted ones stay live.
   */
  private atEOXact(xact: Transaction, committed: boolean): void {
    const byTable = this.xactStatus.get(xact);
    if (byTable === undefined) return;
    this.xactStatus.delete(xact);
    if (this.lastXact === xact) this.lastStatus = this.lastXact = undefined;
    for (const [oid, trans] of byTable) {
      const counts = this.pendingOf(oid);
      counts[P_INSERTED]! += trans.tuplesInserted;
      counts[P_UPDATED]! += trans.tuplesUpdated;
      counts[P_DELETED]! += trans.tuplesDeleted;
      if (committed) {
        counts[P_DELTA_LIVE]! += trans.tuplesInserted - trans.tuplesDeleted;
        counts[P_DELTA_DEAD]! += trans.tuplesUpdated + trans.tuplesDeleted;
        counts[P_CHANGED]! += trans.tuplesInserted + trans.tuplesUpdated + trans.tuplesDeleted;
      } else {
        counts[P_DELTA_DEAD]! += trans.tuplesInserted + trans.tuplesUpdated;
      }
    }
  }

  /**
   * pgstat_relation_flush_cb for every table with pending counts: adds them to the shared
   * entry under its lock, clamping the live and dead estimates at zero. Counts for a table
   * that has no entry (dropped, or created while the statistics were full) are dropped.
   */
  flush(): void {
    const floats = this.shmem.floats;
    for (const [oid, counts] of this.pending) {
      if (counts.every((c) => c === 0)) continue;
      this.shmem.withEntry(oid, (base) => {
        floats[base + T_TUPLES_INSERTED]! += counts[P_INSERTED]!;
        floats[base + T_TUPLES_UPDATED]! += counts[P_UPDATED]!;
        floats[base + T_TUPLES_DELETED]! += counts[P_DELETED]!;
        floats[base + T_TUPLES_HOT_UPDATED]! += counts[P_HOT_UPDATED]!;
        floats[base + T_LIVE_TUPLES] = Math.max(
          0,
          floats[base + T_LIVE_TUPLES]! + counts[P_DELTA_LIVE]!,
        );
        floats[base + T_DEAD_TUPLES] = Math.max(
          0,
          floats[base + T_DEAD_TUPLES]! + counts[P_DELTA_DEAD]!,
        );
        floats[base + T_CHANGES_SINCE_ANALYZE]! += counts[P_CHANGED]!;
        floats[base + T_INSERTS_SINCE_VACUUM]! += counts[P_INSERTED]!;
        for (let fork = 0; fork < STAT_FORKS; fork++) {
          floats[base + T_BLOCKS_FETCHED + fork]! += counts[P_BLOCKS_FETCHED + fork]!;
          floats[base + T_BLOCKS_HIT + fork]! += counts[P_BLOCKS_HIT + fork]!;
        }
      });
    }
    this.pending.clear();
    this.lastPending = undefined;
  }

  /** Forgets this backend's pending counts for a table (after DROP or TRUNCATE). */
  forget(oid: number): void {
    if (this.lastOid === oid) this.lastStatus = this.lastXact = undefined;
    if (this.lastPendingOid === oid) this.lastPending = undefined;
    this.pending.delete(oid);
    for (const byTable of this.xactStatus.values()) byTable.delete(oid);
  }

  /**
   * pgstat_report_vacuum, and vac_update_relstats's relpages / reltuples: n_live_tup becomes the
   * VACUUM's estimate of live tuples, n_dead_tup the dead tuples it could not remove yet,
   * n_ins_since_vacuum zero; vacuum_count and last_vacuum advance; the report is kept.
   */
  reportVacuum(oid: number, report: VacuumReport): void {
    const floats = this.shmem.floats;
    this.shmem.withEntry(oid, (base) => {
      floats[base + T_LIVE_TUPLES] = Math.max(report.liveTuples, 0);
      floats[base + T_DEAD_TUPLES] = report.tuplesDeadNotRemovable;
      floats[base + T_INSERTS_SINCE_VACUUM] = 0;
      floats[base + T_VACUUM_TIMESTAMP] = report.endedAt.getTime();
      floats[base + T_VACUUM_COUNT]!++;
      VACUUM_REPORT_FIELDS.forEach((key, i) => {
        const value = report[key];
        floats[base + V_FIRST + i] = typeof value === "boolean" ? (value ? 1 : 0) : value;
      });
      floats[base + C_RELPAGES] = report.pagesRemain;
      floats[base + C_RELTUPLES] = report.liveTuples;
    });
  }

  /** The table's relpages and reltuples as the last VACUUM left them (for vac_estimate_reltuples). */
  relationSize(oid: number): RelationSizeStats {
    const floats = this.shmem.floats;
    return (
      this.shmem.withEntry(oid, (base) => ({
        relpages: floats[base + C_RELPAGES]!,
        reltuples: floats[base + C_RELTUPLES]!,
      })) ?? { relpages: 0, reltuples: -1 }
    );
  }

  /**
   * pgstat_fetch_stat_tabentry: a copy of the table's shared statistics, read under the entry's
   * lock; undefined when the table has none.
   */
  fetch(oid: number): TableStats | undefined {
    const f = this.shmem.floats;
    return this.shmem.withEntry(oid, (base): TableStats => {
      const vacuumMs = f[base + T_VACUUM_TIMESTAMP]!;
      let lastVacuumReport: VacuumReport | undefined;
      if (vacuumMs !== 0) {
        const figures: Record<string, number | boolean> = {};
        VACUUM_REPORT_FIELDS.forEach((key, i) => {
          const value = f[base + V_FIRST + i]!;
          figures[key] = key === "hasIndexes" || key === "indexVacuuming" ? value !== 0 : value;
        });
        lastVacuumReport = { endedAt: new Date(vacuumMs), ...figures } as VacuumReport;
      }
      return {
        tuplesInserted: f[base + T_TUPLES_INSERTED]!,
        tuplesUpdated: f[base + T_TUPLES_UPDATED]!,
        tuplesDeleted: f[base + T_TUPLES_DELETED]!,
        tuplesHotUpdated: f[base + T_TUPLES_HOT_UPDATED]!,
        liveTuples: f[base + T_LIVE_TUPLES]!,
        deadTuples: f[base + T_DEAD_TUPLES]!,
        changesSinceAnalyze: f[base + T_CHANGES_SINCE_ANALYZE]!,
        insertsSinceVacuum: f[base + T_INSERTS_SINCE_VACUUM]!,
        blocksFetched: Array.from(f.subarray(base + T_BLOCKS_FETCHED, base + T_BLOCKS_FETCHED + 4)),
        blocksHit: Array.from(f.subarray(base + T_BLOCKS_HIT, base + T_BLOCKS_HIT + 4)),
        lastVacuum: vacuumMs === 0 ? undefined : new Date(vacuumMs),
        vacuumCount: f[base + T_VACUUM_COUNT]!,
        lastVacuumReport,
      };
    });
  }
}
