/**
 * The statistics views of a pgsim database: a table's tuple counts and last VACUUM, its block
 * reads and hits per fork, and the buffer pool's contents by table name.
 *
 * Models: the system views pg_stat_user_tables and pg_statio_user_tables
 * (src/backend/catalog/system_views.sql over the pg_stat_get_* functions of
 * src/backend/utils/adt/pgstatfuncs.c), and contrib/pg_buffercache joined with pg_class on
 * relfilenode, as its documentation's example query does.
 * Entry points: `statUserTablesRow`, `statioUserTablesRow`, `bufferCacheByRelation`, the row
 * types `StatUserTablesRow`, `StatioUserTablesRow`, `BufferCacheRelationRow`.
 * See also: database.ts (the `Database` methods that return these rows),
 * utils/activity/pgstat.ts (where the numbers come from), README.md ("Statistics").
 *
 * Differs from PostgreSQL: pg_statio_user_tables' heap_blks_read and heap_blks_hit count the
 * blocks of every fork of the table, as PostgreSQL does; pgsim also gives them per fork
 * (main_blks_*, fsm_blks_*, vm_blks_*), which PostgreSQL does not keep. Not modelled: seq_scan,
 * seq_tup_read, idx_scan, idx_tup_fetch, the autovacuum and analyze columns, the idx_ and toast_
 * block counts (pgsim has no indexes or TOAST).
 */

import { type BufferCacheRow, type BufferPool, ForkNumber } from "@pgsim/buffer-manager";
import { formatVacuumVerbose } from "./access/heap/vacuum-report.js";
import type { Catalog, TableDefinition } from "./catalog/catalog.js";
import type { PgStat } from "./utils/activity/pgstat.js";
import type { VacuumReport } from "./utils/activity/pgstat-relation.js";

/** The schema every pgsim table is in. */
const SCHEMA = "public";

/** What the last VACUUM of a table did, and the message VACUUM VERBOSE printed for it. */
export interface LastVacuumReport extends VacuumReport {
  /** VACUUM VERBOSE's "finished vacuuming …" message (see formatVacuumVerbose). */
  message: string;
}

/** A row of pg_stat_user_tables (the columns pgsim models). */
export interface StatUserTablesRow {
  /** The table's OID (in pgsim also its relfilenode). */
  relid: number;
  schemaname: string;
  relname: string;
  /** Rows inserted, by committed and aborted transactions alike. */
  n_tup_ins: number;
  /** Rows updated (HOT updates included), committed or not. */
  n_tup_upd: number;
  /** Rows deleted, committed or not. */
  n_tup_del: number;
  /** Rows HOT-updated: the new version on the same page, no index entry needed. */
  n_tup_hot_upd: number;
  /** Estimated live rows. */
  n_live_tup: number;
  /** Estimated dead row versions. */
  n_dead_tup: number;
  /** Rows changed since the last ANALYZE (pgsim has none: since the table was created or reset). */
  n_mod_since_analyze: number;
  /** Rows inserted since the last VACUUM. */
  n_ins_since_vacuum: number;
  /** When the last VACUUM ended, or null. */
  last_vacuum: Date | null;
  vacuum_count: number;
  /** pgsim only: the last VACUUM's figures, as VACUUM VERBOSE prints them, or null. */
  last_vacuum_report: LastVacuumReport | null;
}

/** A row of pg_statio_user_tables (heap blocks only), with pgsim's per-fork figures. */
export interface StatioUserTablesRow {
  relid: number;
  schemaname: string;
  relname: string;
  /** Blocks of the table (all forks) not found in the buffer pool: read, or added by extension. */
  heap_blks_read: number;
  /** Blocks of the table (all forks) found in the buffer pool. */
  heap_blks_hit: number;
  /** pgsim only: heap_blks_read of the main fork. */
  main_blks_read: number;
  /** pgsim only: heap_blks_hit of the main fork. */
  main_blks_hit: number;
  /** pgsim only: heap_blks_read of the free space map. */
  fsm_blks_read: number;
  /** pgsim only: heap_blks_hit of the free space map. */
  fsm_blks_hit: number;
  /** pgsim only: heap_blks_read of the visibility map. */
  vm_blks_read: number;
  /** pgsim only: heap_blks_hit of the visibility map. */
  vm_blks_hit: number;
}

/** A row of pg_buffercache with the name of the table the buffer's block belongs to. */
export interface BufferCacheRelationRow extends BufferCacheRow {
  /** The table whose relfilenode the buffer holds, or null (unused, or no table of the catalog). */
  relname: string | null;
}

/** pg_stat_user_tables for one table (zeros where it has no statistics yet, as there). */
export function statUserTablesRow(pgstat: PgStat, def: TableDefinition): StatUserTablesRow {
  const s = pgstat.fetchTable(def.relNumber);
  const report = s?.lastVacuumReport;
  return {
    relid: def.relNumber,
    schemaname: SCHEMA,
    relname: def.name,
    n_tup_ins: s?.tuplesInserted ?? 0,
    n_tup_upd: s?.tuplesUpdated ?? 0,
    n_tup_del: s?.tuplesDeleted ?? 0,
    n_tup_hot_upd: s?.tuplesHotUpdated ?? 0,
    n_live_tup: s?.liveTuples ?? 0,
    n_dead_tup: s?.deadTuples ?? 0,
    n_mod_since_analyze: s?.changesSinceAnalyze ?? 0,
    n_ins_since_vacuum: s?.insertsSinceVacuum ?? 0,
    last_vacuum: s?.lastVacuum ?? null,
    vacuum_count: s?.vacuumCount ?? 0,
    last_vacuum_report:
      report === undefined ? null : { ...report, message: formatVacuumVerbose(report, def.name) },
  };
}

/** pg_statio_user_tables for one table, with the per-fork breakdown. */
export function statioUserTablesRow(pgstat: PgStat, def: TableDefinition): StatioUserTablesRow {
  const s = pgstat.fetchTable(def.relNumber);
  const fetched = (fork: number): number => s?.blocksFetched[fork] ?? 0;
  const hit = (fork: number): number => s?.blocksHit[fork] ?? 0;
  const forks: number[] = [
    ForkNumber.MAIN,
    ForkNumber.FSM,
    ForkNumber.VISIBILITYMAP,
    ForkNumber.INIT,
  ];
  return {
    relid: def.relNumber,
    schemaname: SCHEMA,
    relname: def.name,
    heap_blks_read: forks.reduce((sum, f) => sum + fetched(f) - hit(f), 0),
    heap_blks_hit: forks.reduce((sum, f) => sum + hit(f), 0),
    main_blks_read: fetched(ForkNumber.MAIN) - hit(ForkNumber.MAIN),
    main_blks_hit: hit(ForkNumber.MAIN),
    fsm_blks_read: fetched(ForkNumber.FSM) - hit(ForkNumber.FSM),
    fsm_blks_hit: hit(ForkNumber.FSM),
    vm_blks_read: fetched(ForkNumber.VISIBILITYMAP) - hit(ForkNumber.VISIBILITYMAP),
    vm_blks_hit: hit(ForkNumber.VISIBILITYMAP),
  };
}

/**
 * pg_buffercache joined with pg_class: every buffer, with the name of the table its block
 * belongs to (`SELECT c.relname, b.* FROM pg_buffercache b LEFT JOIN pg_class c ON
 * b.relfilenode = pg_relation_filenode(c.oid)`).
 */
export function bufferCacheByRelation(
  pool: BufferPool,
  catalog: Catalog,
): BufferCacheRelationRow[] {
  const names = new Map<number, string>();
  for (const def of catalog.list()) names.set(def.relNumber, def.name);
  return pool.bufferCache().map((row) => ({
    ...row,
    relname: row.relfilenode === null ? null : (names.get(row.relfilenode) ?? null),
  }));
}
