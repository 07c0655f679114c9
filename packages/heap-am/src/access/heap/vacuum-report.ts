/**
 * The end of a heap VACUUM: the estimate of live tuples over the pages it did not scan, the report
 * to the cumulative statistics, and the summary VACUUM VERBOSE prints.
 *
 * Models: src/backend/access/heap/vacuumlazy.c (heap_vacuum_rel's tail: new_live_tuples and
 * new_rel_tuples, pgstat_report_vacuum, and the "finished vacuuming" message of VACUUM VERBOSE
 * and log_autovacuum_min_duration), src/backend/commands/vacuum.c (vac_estimate_reltuples,
 * vac_update_relstats' relpages and reltuples).
 * Entry points: `vacuumReportStart`, `reportHeapVacuum`, `vacEstimateReltuples`,
 * `formatVacuumVerbose`.
 * See also: vacuumlazy.ts (heapVacuumRel, which calls them around the scan and the passes), ../../utils/activity/pgstat-relation.ts (where
 * the report is kept), README.md.
 *
 * Differs from PostgreSQL: the message leaves out the lines pgsim has no figures for — "new
 * relfrozenxid", the read and write rates, WAL usage and
 * system usage; the statistics entry keeps its own copy of relpages and reltuples for the report
 * (pg_class's columns, which decide relcache invalidations, are the catalog entry's: see
 * database.ts's vacuum).
 */

import { type BufferUsage, bufferUsageDiff } from "@pgsim/buffer-manager";
import type {
  VacuumIndexResult,
  VacuumOptions,
  VacuumResult,
} from "../../include/commands/vacuum.js";
import type { VacuumReport } from "../../utils/activity/pgstat-relation.js";
import type { Relation } from "../../utils/cache/rel.js";
import type { TableAmContext } from "../table/tableam.js";

/**
 * vac_estimate_reltuples: the live tuples of the whole table, from the tuples counted on the
 * pages scanned and the density pg_class last recorded for the rest.
 */
export function vacEstimateReltuples(options: {
  oldRelPages: number;
  /** −1 when never counted. */
  oldRelTuples: number;
  totalPages: number;
  scannedPages: number;
  scannedTuples: number;
}): number {
  const { oldRelPages, oldRelTuples, totalPages, scannedPages, scannedTuples } = options;
  // The whole table was scanned: the count is exact.
  if (scannedPages >= totalPages) return scannedTuples;
  // Scanning the same few pages again and again must not distort the density: keep the old
  // figure when the size is unchanged and under 2% was scanned, or at most one page was.
  if (oldRelPages === totalPages && scannedPages < totalPages * 0.02) return oldRelTuples;
  if (scannedPages <= 1) return oldRelTuples;
  // No old density: scale the scanned pages up.
  if (oldRelTuples < 0 || oldRelPages === 0) {
    return Math.floor((scannedTuples / scannedPages) * totalPages + 0.5);
  }
  const oldDensity = oldRelTuples / oldRelPages;
  return Math.floor(oldDensity * (totalPages - scannedPages) + scannedTuples + 0.5);
}

/** What heapVacuumRel notes before it starts, for the report at its end. */
export interface VacuumReportStart {
  /** pgBufferUsage when the VACUUM started. */
  readonly usageBefore: BufferUsage;
  /** relpages and reltuples as the statistics recorded them before (−1 tuples: never counted). */
  readonly old: { relpages: number; reltuples: number };
}

/**
 * heap_vacuum_rel's start, for the report: buffer usage and the old relpages/reltuples. Undefined
 * when the backend keeps no statistics.
 */
export function vacuumReportStart(
  ctx: TableAmContext,
  rel: Relation,
): VacuumReportStart | undefined {
  const pgstat = ctx.pgstat;
  if (pgstat === undefined) return undefined;
  return {
    usageBefore: ctx.pool.bufferUsage(),
    old: pgstat.relations.relationSize(rel.def.relNumber),
  };
}

/**
 * heap_vacuum_rel's tail: works out VACUUM VERBOSE's figures from lazy VACUUM's `result` and
 * reports them, with the new live and dead tuple counts, to the backend's statistics
 * (pgstat_report_vacuum). Does nothing when the backend keeps no statistics.
 */
export function reportHeapVacuum(
  ctx: TableAmContext,
  rel: Relation,
  options: VacuumOptions,
  result: VacuumResult,
  start: VacuumReportStart | undefined,
): void {
  const pgstat = ctx.pgstat;
  if (pgstat === undefined || start === undefined) return;
  const oid = rel.def.relNumber;
  const { usageBefore, old } = start;
  const usage = bufferUsageDiff(ctx.pool.bufferUsage(), usageBefore);
  const liveTuples = vacEstimateReltuples({
    oldRelPages: old.relpages,
    oldRelTuples: old.reltuples,
    totalPages: result.pagesBefore,
    scannedPages: result.pagesScanned,
    scannedTuples: result.liveTuples,
  });
  const hasIndexes = rel.hotAttrs.length > 0 || (options.indexes?.length ?? 0) > 0;
  const lpdeadItems = result.lpdeadItems ?? result.deadItemsRemoved;
  // With indexes, LP_DEAD items are removed only by the index and heap passes: items found but
  // not removed mean the passes were bypassed (or INDEX_CLEANUP OFF). lazy VACUUM counts the
  // rounds (num_index_scans); another table AM may not.
  const indexScans = result.indexScans ?? (hasIndexes && result.deadItemsRemoved > 0 ? 1 : 0);
  const indexVacuuming =
    options.indexCleanup !== "off" && !(hasIndexes && lpdeadItems > 0 && indexScans === 0);
  const report: VacuumReport = {
    endedAt: new Date(),
    pagesTotal: result.pagesBefore,
    pagesScanned: result.pagesScanned,
    pagesRemoved: result.pagesBefore - result.pagesAfter,
    pagesRemain: result.pagesAfter,
    tuplesRemoved: result.tuplesRemoved,
    tuplesRemain: Math.max(liveTuples, 0) + result.recentlyDeadTuples,
    tuplesDeadNotRemovable: result.recentlyDeadTuples,
    liveTuples,
    removableCutoff: result.oldestXmin,
    removableCutoffAge: (ctx.transam.nextXid - result.oldestXmin) | 0,
    indexScans,
    hasIndexes,
    indexVacuuming,
    lpdeadItemPages: result.lpdeadItemPages ?? 0,
    lpdeadItems,
    pagesFrozen: result.pagesFrozen ?? 0,
    tuplesFrozen: result.tuplesFrozen,
    bufferHits: usage.sharedBlksHit,
    bufferMisses: usage.sharedBlksRead + usage.sharedBlksExtended,
    bufferDirtied: usage.sharedBlksDirtied,
  };
  pgstat.relations.reportVacuum(oid, report);
  pgstat.reportStat();
}

/** "%.2f" of a share of the table's pages, 100 when it had none (as heap_vacuum_rel prints). */
function percentOf(pages: number, total: number): string {
  return (total === 0 ? 100 : (100 * pages) / total).toFixed(2);
}

/**
 * The message VACUUM VERBOSE prints at the end (PostgreSQL 15's wording), for the lines pgsim has
 * figures for: the index scans, pages, tuples, removable cutoff, the LP_DEAD items, one line per
 * index (`indexes`: the VacuumResult's, when the caller has them; the statistics entry keeps no
 * index names, so `last_vacuum_report` prints none), and buffer usage.
 *
 * @example
 * ```ts
 * formatVacuumVerbose(report, "accounts");
 * // finished vacuuming "postgres.public.accounts": index scans: 0
 * // pages: 0 removed, 1 remain, 1 scanned (100.00% of total)
 * // tuples: 2 removed, 2 remain, 0 are dead but not yet removable
 * // ...
 * ```
 */
export function formatVacuumVerbose(
  report: VacuumReport,
  relname: string,
  indexes: readonly VacuumIndexResult[] = [],
): string {
  const lines = [
    `finished vacuuming "postgres.public.${relname}": index scans: ${report.indexScans}`,
    `pages: ${report.pagesRemoved} removed, ${report.pagesRemain} remain, ${report.pagesScanned} scanned (${percentOf(report.pagesScanned, report.pagesTotal)}% of total)`,
    `tuples: ${report.tuplesRemoved} removed, ${report.tuplesRemain} remain, ${report.tuplesDeadNotRemovable} are dead but not yet removable`,
    `removable cutoff: ${report.removableCutoff}, which was ${report.removableCutoffAge} XIDs old when operation ended`,
  ];
  const pages = `${report.lpdeadItemPages} pages from table (${percentOf(report.lpdeadItemPages, report.pagesTotal)}% of total)`;
  if (report.indexVacuuming) {
    const needed = report.hasIndexes && report.indexScans > 0 ? "needed" : "not needed";
    lines.push(
      `index scan ${needed}: ${pages} had ${report.lpdeadItems} dead item identifiers removed`,
    );
  } else {
    lines.push(`index scan bypassed: ${pages} have ${report.lpdeadItems} dead item identifiers`);
  }
  // One line per index that reported statistics (amvacuumcleanup returned some).
  for (const { name, stats } of indexes) {
    lines.push(
      `index "${name}": pages: ${stats.numPages} in total, ${stats.pagesNewlyDeleted} newly deleted, ${stats.pagesDeleted} currently deleted, ${stats.pagesFree} reusable`,
    );
  }
  lines.push(
    `buffer usage: ${report.bufferHits} hits, ${report.bufferMisses} misses, ${report.bufferDirtied} dirtied`,
  );
  return lines.join("\n");
}
