/**
 * What VACUUM is asked to do and what it reports: the types the table AM's relation_vacuum
 * callback takes and returns, so that the interface (tableam.ts) and the heap's implementation
 * (vacuumlazy.ts) share them without the interface depending on the implementation.
 *
 * Models: src/include/commands/vacuum.h (VacuumParams: options FREEZE, DISABLE_PAGE_SKIPPING,
 * index_cleanup, truncate) and the counters vacuumlazy.c's LVRelState keeps for VACUUM VERBOSE;
 * src/include/access/genam.h (IndexVacuumInfo, IndexBulkDeleteResult, IndexBulkDeleteCallback)
 * and amapi.h's ambulkdelete / amvacuumcleanup as `VacuumIndex` (kept here, next to the options
 * that carry them, until an index AM interface takes them).
 * Entry points: `VacuumOptions`, `VacuumResult`.
 * See also: ../../access/table/tableam.ts (relationVacuum), ../../access/heap/vacuumlazy.ts.
 *
 * Differs from PostgreSQL: options are an object of named flags rather than a bitmask plus
 * VacOptValue fields; the result is returned rather than logged.
 */

/** VacuumParams: the options of one VACUUM of one relation. */
export interface VacuumOptions {
  /** VACUUM (FREEZE): freeze every tuple older than the horizon (freeze_min_age 0). */
  freeze?: boolean;
  /** VACUUM (DISABLE_PAGE_SKIPPING), implied by freeze: scan all-visible pages too. */
  disablePageSkipping?: boolean;
  /** vacuum_truncate (default true): give empty pages at the end back. */
  truncate?: boolean;
  /**
   * VACUUM (INDEX_CLEANUP): "auto" (default) runs the index and heap passes unless under 2% of
   * the pages have LP_DEAD items; "on" always runs them; "off" never does, leaving LP_DEAD items.
   * Only matters for a table with indexes (`indexedColumns`, or real indexes in `indexes`).
   */
  indexCleanup?: "auto" | "on" | "off";
  /**
   * The table's indexes, as vac_open_indexes opens them: each one's bulk delete and cleanup
   * (ambulkdelete, amvacuumcleanup). `Database.vacuum` fills it from the catalog; a table AM
   * caller without indexes leaves it out.
   */
  indexes?: readonly VacuumIndex[];
}

/**
 * IndexBulkDeleteResult (genam.h): what an index's bulk delete or cleanup reports.
 * `numIndexTuples` counts heap TIDs (posting lists per TID) after a bulk delete, index tuples after
 * a cleanup-only scan (then `estimatedCount`).
 */
export interface IndexBulkDeleteResult {
  /** num_pages: the index's size in blocks when the scan ended. */
  numPages: number;
  /** estimated_count: numIndexTuples is an estimate. */
  estimatedCount: boolean;
  /** num_index_tuples: tuples (TIDs) left in the index. */
  numIndexTuples: number;
  /** tuples_removed: heap TIDs removed from the index. */
  tuplesRemoved: number;
  /** pages_newly_deleted: pages this VACUUM deleted. */
  pagesNewlyDeleted: number;
  /** pages_deleted: deleted pages in the index, reusable or not. */
  pagesDeleted: number;
  /** pages_free: deleted (or all-zero) pages recorded in the index's FSM, reusable. */
  pagesFree: number;
}

/**
 * IndexVacuumInfo's fields (genam.h) that VACUUM fills in for the ongoing run; the access method's
 * call adds the index and its table (access/index/amapi.ts's IndexVacuumInfo).
 */
export interface IndexVacuumRunInfo {
  /** analyze_only: ANALYZE without VACUUM (amvacuumcleanup then does nothing). */
  readonly analyzeOnly: boolean;
  /** estimated_count: numHeapTuples is an estimate. */
  readonly estimatedCount: boolean;
  /** num_heap_tuples: the heap's tuples (pg_class.reltuples before, or the new count at cleanup). */
  readonly numHeapTuples: number;
}

/** IndexBulkDeleteCallback (genam.h): is this heap TID one of VACUUM's dead items? */
export type IndexBulkDeleteCallback = (tid: { block: number; offset: number }) => boolean;

/**
 * One index of the table being vacuumed, as lazy VACUUM calls it: its name (for VACUUM VERBOSE)
 * and its access method's ambulkdelete and amvacuumcleanup, with the index relation bound.
 */
export interface VacuumIndex {
  readonly name: string;
  /** ambulkdelete: removes the entries of dead heap TIDs; `stats` from an earlier round or undefined. */
  bulkDelete(
    info: IndexVacuumRunInfo,
    stats: IndexBulkDeleteResult | undefined,
    callback: IndexBulkDeleteCallback,
  ): IndexBulkDeleteResult;
  /** amvacuumcleanup: the end of VACUUM; undefined when the index needed nothing. */
  vacuumCleanup(
    info: IndexVacuumRunInfo,
    stats: IndexBulkDeleteResult | undefined,
  ): IndexBulkDeleteResult | undefined;
}

/** One index's line of VACUUM VERBOSE ("index \"%s\": pages: …"). */
export interface VacuumIndexResult {
  readonly name: string;
  readonly stats: IndexBulkDeleteResult;
}

/** What a vacuum did, like VACUUM VERBOSE's summary. */
export interface VacuumResult {
  pagesScanned: number;
  pagesSkipped: number;
  tuplesRemoved: number;
  deadItemsRemoved: number;
  liveTuples: number;
  recentlyDeadTuples: number;
  tuplesFrozen: number;
  pagesAllVisible: number;
  pagesBefore: number;
  pagesAfter: number;
  oldestXmin: number;
  /** lpdead_item_pages: pages with LP_DEAD items after pruning (VACUUM VERBOSE's index line). */
  lpdeadItemPages?: number;
  /** lpdead_items: those LP_DEAD items, removed now or left for a later VACUUM. */
  lpdeadItems?: number;
  /** Pages on which at least one tuple was frozen. */
  pagesFrozen?: number;
  /** num_index_scans: rounds of index vacuuming (bulk delete of every index). */
  indexScans?: number;
  /** The indexes' statistics after cleanup (those that reported some), in index order. */
  indexes?: VacuumIndexResult[];
  /**
   * What VACUUM writes into the table's pg_class row (vac_update_relstats): relpages (after
   * truncation), reltuples (vac_estimate_reltuples), relallvisible, and the new relfrozenxid —
   * undefined when it must not advance (a non-aggressive VACUUM skipped all-visible pages).
   * Optional for other table AMs (then nothing is written).
   */
  relStats?: {
    relpages: number;
    reltuples: number;
    relallvisible: number;
    relfrozenxid: number | undefined;
  };
  /**
   * What VACUUM writes into its indexes' pg_class rows (update_relstats_all_indexes): num_pages
   * and num_index_tuples of each index whose cleanup reported an exact count, only when index
   * cleanup ran.
   */
  indexRelStats?: { name: string; relpages: number; reltuples: number }[];
}
