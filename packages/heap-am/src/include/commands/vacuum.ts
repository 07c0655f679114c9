/**
 * What VACUUM is asked to do and what it reports: the types the table AM's relation_vacuum
 * callback takes and returns, so that the interface (tableam.ts) and the heap's implementation
 * (vacuumlazy.ts) share them without the interface depending on the implementation.
 *
 * Models: src/include/commands/vacuum.h (VacuumParams: options FREEZE, DISABLE_PAGE_SKIPPING,
 * index_cleanup, truncate) and the counters vacuumlazy.c's LVRelState keeps for VACUUM VERBOSE.
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
   * Only matters for a table with indexes (`indexedColumns`).
   */
  indexCleanup?: "auto" | "on" | "off";
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
}
