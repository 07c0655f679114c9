/**
 * Lazy VACUUM of one heap relation: prune every page, turn dead line pointers into unused ones,
 * freeze old tuples, record free space, set visibility-map bits, and truncate empty pages at the
 * end.
 *
 * Models: src/backend/access/heap/vacuumlazy.c (LVRelState, heap_vacuum_rel, lazy_scan_heap,
 * lazy_scan_skip, lazy_scan_new_or_empty, lazy_scan_prune, lazy_vacuum, lazy_vacuum_heap_rel,
 * lazy_vacuum_heap_page, heap_page_is_all_visible, should_attempt_truncation, lazy_truncate_heap,
 * count_nondeletable_pages, lazy_vacuum_all_indexes, lazy_cleanup_all_indexes, vac_tid_reaped),
 * heapam.c
 * (heap_prepare_freeze_tuple, heap_execute_freeze_tuple) and vacuum.c (vacuum_set_xid_limits).
 * Entry points: `heapVacuumRel`, `VacuumOptions`, `VacuumResult`.
 * See also: pruneheap.ts, freespace.ts, visibilitymap.ts, vacuum-report.ts (the report at the end).
 *
 * A table without indexes takes PostgreSQL's one-pass path: LP_DEAD items become LP_UNUSED on the
 * page where they are found. A table with indexes (real ones, `options.indexes`, or the columns
 * `indexedColumns` models) takes the two-pass path: phase 1 prunes and collects the LP_DEAD items;
 * phase 2 (lazy_vacuum_all_indexes) runs each index's bulk delete with them; phase 3 revisits the
 * pages and marks the items LP_UNUSED, then records each page's free space and visibility; at the
 * end each index's cleanup runs (lazy_cleanup_all_indexes). Phase 2 and 3 are skipped with
 * INDEX_CLEANUP OFF (and the cleanup too), and bypassed (INDEX_CLEANUP AUTO) when under 2% of the
 * pages have LP_DEAD items: those items then stay LP_DEAD until a later VACUUM.
 *
 * WAL (when the relation needs it), as vacuumlazy.c logs: heap_page_prune's XLOG_HEAP2_PRUNE,
 * an XLOG_HEAP2_FREEZE_PAGE for the tuples frozen on a page (log_heap_freeze, with FreezeLimit
 * as cutoff), an XLOG_HEAP2_VACUUM for the LP_DEAD items made LP_UNUSED (lazy_vacuum_heap_page),
 * an XLOG_HEAP2_VISIBLE from visibilitymap_set when VM bits are set, and an XLOG_FPI
 * (log_newpage_buffer) for an empty page never logged before it is marked all-visible. Each is
 * inserted under the page's lock after the change, and the page's LSN set.
 *
 * Differs from PostgreSQL: a page whose cleanup lock is not free is waited for
 * (LockBufferForCleanup) rather than processed without pruning (lazy_scan_noprune); truncation
 * takes no AccessExclusiveLock (pgsim has no heavyweight locks: do not vacuum a table while
 * other backends write to it); no multixacts to freeze; a table with only `indexedColumns` has no
 * index pages, so its phase 2 deletes nothing; dead_items has no memory limit (PostgreSQL runs
 * phases 2 and 3 early whenever maintenance_work_mem fills up), hence no second round and no
 * wraparound failsafe; the indexes' pg_class statistics are not updated. The pg_class statistics are returned (`relStats`) for the
 * caller to write (vac_update_relstats, in database.ts).
 */

import {
  type BufferAccessStrategy,
  type BufferId,
  ForkNumber,
  getAccessStrategy,
} from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { logSmgrTruncate } from "../../catalog/storage.js";
import type { XlHeapFreezeTuple } from "../../include/access/heapam-xlog.js";
import {
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_XMAX_BITS,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetInfomask2,
  heapTupleHeaderSetXmax,
  heapXmaxIsLockedOnly,
  MaxHeapTuplesPerPage,
} from "../../include/access/htup-details.js";
import {
  FirstNormalTransactionId,
  FrozenTransactionId,
  InvalidTransactionId,
  xidFollows,
  xidIsNormal,
  xidPrecedes,
} from "../../include/access/transam.js";
import type {
  IndexBulkDeleteCallback,
  IndexBulkDeleteResult,
  VacuumIndex,
  VacuumOptions,
  VacuumResult,
} from "../../include/commands/vacuum.js";
import { BLCKSZ } from "../../include/pg-config.js";
import {
  itemIdGetFlags,
  itemIdGetOffset,
  itemIdIsUsed,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  MaxOffsetNumber,
  makeItemId,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetItemIds,
  pageGetLsn,
  pageGetMaxOffsetNumber,
  pageIsAllVisible,
  pageIsNew,
  pageSetAllVisible,
  pageSetItemIdsTo,
  pageSetLsn,
  pageTruncateLinePointerArray,
  SizeOfPageHeaderData,
} from "../../storage/page/bufpage.js";
import type { Relation } from "../../utils/cache/rel.js";
import { relationNeedsWal, type TableAmContext, type XLogBackend } from "../table/tableam.js";
import type { Transam } from "../transam/transam.js";
import { logNewpageBuffer } from "../transam/xloginsert.js";
import { HTSV, heapTupleSatisfiesVacuum, type VisibilityContext } from "./heapam-visibility.js";
import { logHeapFreeze, logHeapVacuum } from "./heapam-xlog.js";
import { heapPagePrune } from "./pruneheap.js";
import { reportHeapVacuum, vacEstimateReltuples, vacuumReportStart } from "./vacuum-report.js";
import { VisibilityMap } from "./visibilitymap.js";
import { VISIBILITYMAP_ALL_FROZEN, VISIBILITYMAP_ALL_VISIBLE } from "./visibilitymap-page.js";

// The options and result of VACUUM belong to the table AM interface (relation_vacuum).
export type { VacuumOptions, VacuumResult };

/** vacuum_freeze_min_age's default. */
export const VACUUM_FREEZE_MIN_AGE = 50_000_000;
/** Skip runs of all-visible pages only when at least this long (SKIP_PAGES_THRESHOLD). */
export const SKIP_PAGES_THRESHOLD = 32;
/** REL_TRUNCATE_MINIMUM and REL_TRUNCATE_FRACTION. */
export const REL_TRUNCATE_MINIMUM = 1000;
export const REL_TRUNCATE_FRACTION = 16;

/** BYPASS_THRESHOLD_PAGES: skip the index pass when fewer pages than this fraction have LP_DEAD items. */
export const BYPASS_THRESHOLD_PAGES = 0.02;
/** MAXDEADITEMS(32 MB): the bypass also needs fewer LP_DEAD items than fit in 32 MB of TIDs. */
const BYPASS_MAX_DEAD_ITEMS = Math.floor((32 * 1024 * 1024 - 8) / 6);

/** What heap_prepare_freeze_tuple decided for one tuple. */
interface FreezePlan {
  /** Whether the tuple changes (heap_execute_freeze_tuple then writes it). */
  changed: boolean;
  /** Whether it will have nothing left to freeze afterwards (tuple_totally_frozen). */
  totallyFrozen: boolean;
}

/**
 * heap_prepare_freeze_tuple + heap_execute_freeze_tuple for one tuple with storage, whatever its
 * HeapTupleSatisfiesVacuum state: an xmin before the freeze limit is frozen (it must have
 * committed, by the commit log), a raw xmax before the limit is removed (an aborted deleter or a
 * finished locker; a committed deleter there is corruption) — an XMAX_INVALID hint does not make
 * it go away by itself. Every xid left in place pulls `relfrozenxid.out` back (relfrozenxid_out).
 */
function freezeTuple(
  page: Uint8Array,
  tup: number,
  freezeLimit: number,
  transam: Transam,
  relfrozenxid: { out: number },
): FreezePlan {
  let changed = false;
  let infomask = heapTupleHeaderGetInfomask(page, tup);
  let infomask2 = heapTupleHeaderGetInfomask2(page, tup);
  // xmin: HeapTupleHeaderGetXmin reads a frozen xmin as FrozenTransactionId.
  const xmin =
    (infomask & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN
      ? FrozenTransactionId
      : heapTupleHeaderGetRawXmin(page, tup);
  let xminFrozen = true;
  if (xidIsNormal(xmin)) {
    xminFrozen = xidPrecedes(xmin, freezeLimit);
    if (xminFrozen) {
      if (!transam.didCommit(xmin)) {
        throw new PgsimError(
          "data-corrupted",
          `uncommitted xmin ${xmin} from before xid cutoff ${freezeLimit} needs to be frozen`,
        );
      }
      infomask |= HEAP_XMIN_FROZEN;
      changed = true;
    } else if (xidPrecedes(xmin, relfrozenxid.out)) {
      relfrozenxid.out = xmin;
    }
  }
  // xmax: a normal raw xid is either frozen away or stays (and holds relfrozenxid back).
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  let freezeXmax = false;
  let xmaxAlreadyFrozen = false;
  if (xidIsNormal(xmax)) {
    if (xidPrecedes(xmax, freezeLimit)) {
      // A lock-only xmax goes whether or not its holder committed (the lock is released).
      if (!heapXmaxIsLockedOnly(infomask) && transam.didCommit(xmax)) {
        throw new PgsimError("data-corrupted", `cannot freeze committed xmax ${xmax}`);
      }
      freezeXmax = true;
    } else if (xidPrecedes(xmax, relfrozenxid.out)) {
      relfrozenxid.out = xmax;
    }
  } else if ((infomask & HEAP_XMAX_INVALID) !== 0 || xmax === InvalidTransactionId) {
    xmaxAlreadyFrozen = true;
  } else {
    throw new PgsimError(
      "data-corrupted",
      `found xmax ${xmax} (infomask 0x${infomask.toString(16).padStart(4, "0")}) not frozen, not multi, not normal`,
    );
  }
  if (freezeXmax) {
    // Normalise to XMAX_INVALID and drop what described the old deleter or locker.
    heapTupleHeaderSetXmax(page, tup, InvalidTransactionId);
    infomask = (infomask & ~HEAP_XMAX_BITS) | HEAP_XMAX_INVALID;
    infomask2 &= ~(HEAP_HOT_UPDATED | HEAP_KEYS_UPDATED);
    changed = true;
  }
  if (changed) {
    heapTupleHeaderSetInfomask(page, tup, infomask);
    heapTupleHeaderSetInfomask2(page, tup, infomask2);
  }
  return { changed, totallyFrozen: xminFrozen && (freezeXmax || xmaxAlreadyFrozen) };
}

/**
 * heap_tuple_needs_eventual_freeze: a normal xmin (not frozen) or any normal raw xmax — even one
 * with the XMAX_INVALID hint — keeps a tuple from counting as frozen.
 */
function tupleNeedsEventualFreeze(page: Uint8Array, tup: number): boolean {
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  if (
    (infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN &&
    xidIsNormal(heapTupleHeaderGetRawXmin(page, tup))
  ) {
    return true;
  }
  return xidIsNormal(heapTupleHeaderGetRawXmax(page, tup));
}

/** HeapTupleHeaderGetXmin: FrozenTransactionId for a frozen xmin, else the raw one. */
function tupleXmin(page: Uint8Array, tup: number): number {
  return (heapTupleHeaderGetInfomask(page, tup) & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN
    ? FrozenTransactionId
    : heapTupleHeaderGetRawXmin(page, tup);
}

/**
 * heap_page_is_all_visible: every tuple is visible to everyone (committed before the horizon,
 * not deleted) — after dead items were removed. Also says whether all are frozen, and the newest
 * xmin on the page (visibility_cutoff_xid, by TransactionIdFollows: a frozen xmin counts as
 * FrozenTransactionId), which the VISIBLE record carries.
 */
function heapPageIsAllVisible(
  page: Uint8Array,
  oldestXmin: number,
  vctx: VisibilityContext,
): { allVisible: boolean; allFrozen: boolean; cutoffXid: number } {
  const maxoff = pageGetMaxOffsetNumber(page);
  let allFrozen = true;
  let cutoffXid = InvalidTransactionId;
  const no = { allVisible: false, allFrozen: false, cutoffXid };
  for (let off = 1; off <= maxoff; off++) {
    const lp = pageGetItemId(page, off);
    const flags = itemIdGetFlags(lp);
    if (flags === LP_UNUSED || flags === LP_REDIRECT) continue;
    if (flags === LP_DEAD) return no;
    const tup = itemIdGetOffset(lp);
    if (heapTupleSatisfiesVacuum(page, tup, oldestXmin, vctx) !== HTSV.Live) return no;
    const infomask = heapTupleHeaderGetInfomask(page, tup);
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if ((infomask & HEAP_XMIN_COMMITTED) === 0) return no;
    if ((infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN && !xidPrecedes(xmin, oldestXmin)) {
      return no;
    }
    const getXmin = tupleXmin(page, tup);
    if (xidFollows(getXmin, cutoffXid)) cutoffXid = getXmin;
    if (allFrozen && tupleNeedsEventualFreeze(page, tup)) allFrozen = false;
  }
  return { allVisible: true, allFrozen, cutoffXid };
}

/** The backend's WAL handles when `vacrel`'s relation needs WAL, else undefined. */
function walOf(vacrel: LVRelState): XLogBackend | undefined {
  const xlog = vacrel.ctx.xlog;
  return xlog !== undefined && relationNeedsWal(vacrel.ctx, vacrel.rel) ? xlog : undefined;
}

/**
 * LVRelState: one VACUUM of one relation, the state its steps share (vacuumlazy.c passes the
 * same struct, `vacrel`, to each of them).
 */
interface LVRelState {
  readonly ctx: TableAmContext;
  /** The relation's visibility map fork. */
  readonly vm: VisibilityMap;
  readonly rel: Relation;
  /** The VACUUM ring (bstrategy). */
  readonly strategy: BufferAccessStrategy | undefined;
  /** Hint-bit bookkeeping of HeapTupleSatisfiesVacuum calls. */
  readonly vctx: VisibilityContext;
  /** OldestXmin: the oldest xmin of all backends at the start. */
  readonly oldestXmin: number;
  /** FreezeLimit: tuples with an xmin before it are frozen. */
  readonly freezeLimit: number;
  /** aggressive: scan all-visible pages too; skip only all-frozen ones. */
  readonly aggressive: boolean;
  /** skipwithvm: false with DISABLE_PAGE_SKIPPING, which scans every page. */
  readonly skipWithVm: boolean;
  /** NewRelfrozenXid: the oldest xid left unfrozen, from OldestXmin down. */
  readonly newRelfrozenXid: { out: number };
  /** skippedallvis: a skipped range held all-visible pages that are not all-frozen. */
  skippedAllVisible: boolean;
  /** nindexes > 0: LP_DEAD items must wait for the index pass. */
  readonly hasIndexes: boolean;
  /** The table's real indexes (vac_open_indexes), each with its bulk delete and cleanup. */
  readonly indexes: readonly VacuumIndex[];
  /** indstats: each index's statistics so far (undefined until it reports some). */
  readonly indstats: (IndexBulkDeleteResult | undefined)[];
  readonly indexCleanup: "auto" | "on" | "off";
  /** do_index_vacuuming: phases 2 and 3 may run (not with INDEX_CLEANUP OFF, nor once bypassed). */
  doIndexVacuuming: boolean;
  /** do_index_cleanup: amvacuumcleanup runs at the end (not with INDEX_CLEANUP OFF). */
  readonly doIndexCleanup: boolean;
  /** num_index_scans: completed rounds of index vacuuming. */
  numIndexScans: number;
  /** do_rel_truncate: vacuum_truncate. */
  readonly doRelTruncate: boolean;
  /** rel_pages: the relation's size when the scan starts. */
  readonly relPages: number;
  /** nonempty_pages: one past the last page known to hold tuples. */
  nonemptyPages: number;
  /** dead_items: LP_DEAD offsets per block, for phase 3. */
  readonly deadItems: Map<number, number[]>;
  /** lpdead_items: how many offsets `deadItems` holds. */
  lpdeadItems: number;
  readonly result: VacuumResult;
}

/**
 * heap_vacuum_rel: vacuum_set_xid_limits, lazy_scan_heap (phase 1, and lazy_vacuum for phases 2
 * and 3 of a table with indexes, then the FSM's upper levels), and truncation when
 * should_attempt_truncation says it is worth it. The caller runs it outside a transaction that
 * holds an xid; the horizon is the oldest xmin of all backends at the start.
 */
export function heapVacuumRel(
  ctx: TableAmContext,
  rel: Relation,
  options: VacuumOptions = {},
): VacuumResult {
  const pool = ctx.pool;
  const reportStart = vacuumReportStart(ctx, rel);
  // VACUUM's vmbuffer: the map page stays pinned from page to page.
  const vm = new VisibilityMap(pool, { keepPin: true });
  const oldestXmin = ctx.transam.oldestXmin();
  const freezeMinAge = options.freeze ? 0 : VACUUM_FREEZE_MIN_AGE;
  let freezeLimit = oldestXmin - freezeMinAge;
  if (freezeLimit < FirstNormalTransactionId) freezeLimit = FirstNormalTransactionId;
  const relPages = pool.nblocks(rel.locator, ForkNumber.MAIN);
  // The index options (vacuum.c's VacOptValue handling): with INDEX_CLEANUP OFF the LP_DEAD items
  // stay; only a table with indexes ever defers them.
  const indexes = options.indexes ?? [];
  const hasIndexes = rel.hotAttrs.length > 0 || indexes.length > 0;
  const indexCleanup = options.indexCleanup ?? "auto";
  const vacrel: LVRelState = {
    ctx,
    vm,
    rel,
    strategy: getAccessStrategy("vacuum", pool.bufferCount),
    vctx: { transam: ctx.transam, xact: undefined, hintsSet: false },
    oldestXmin,
    freezeLimit,
    aggressive: options.freeze === true || options.disablePageSkipping === true,
    skipWithVm: options.disablePageSkipping !== true,
    newRelfrozenXid: { out: oldestXmin },
    skippedAllVisible: false,
    hasIndexes,
    indexes,
    indstats: indexes.map(() => undefined),
    indexCleanup,
    doIndexVacuuming: hasIndexes && indexCleanup !== "off",
    doIndexCleanup: hasIndexes && indexCleanup !== "off",
    numIndexScans: 0,
    doRelTruncate: options.truncate !== false,
    relPages,
    nonemptyPages: 0,
    deadItems: new Map<number, number[]>(),
    lpdeadItems: 0,
    result: {
      pagesScanned: 0,
      pagesSkipped: 0,
      tuplesRemoved: 0,
      deadItemsRemoved: 0,
      liveTuples: 0,
      recentlyDeadTuples: 0,
      tuplesFrozen: 0,
      pagesAllVisible: 0,
      pagesBefore: relPages,
      pagesAfter: relPages,
      oldestXmin,
      lpdeadItemPages: 0,
      lpdeadItems: 0,
      pagesFrozen: 0,
    },
  };
  try {
    lazyScanHeap(vacrel);
  } finally {
    vm.releasePin();
  }
  // vac_estimate_reltuples, from the pages scanned (before truncation) and pg_class's density.
  const reltuples = vacEstimateReltuples({
    oldRelPages: rel.def.relpages ?? 0,
    oldRelTuples: rel.def.reltuples ?? -1,
    totalPages: relPages,
    scannedPages: vacrel.result.pagesScanned,
    scannedTuples: vacrel.result.liveTuples,
  });
  // lazy_scan_heap's last step: each index's amvacuumcleanup (lazy_cleanup_all_indexes), with
  // the new tuple count (exact only when every page was scanned).
  if (vacrel.indexes.length > 0 && vacrel.doIndexCleanup) {
    lazyCleanupAllIndexes(vacrel, Math.max(reltuples, 0) + vacrel.result.recentlyDeadTuples);
  }
  vacrel.result.indexScans = vacrel.numIndexScans;
  vacrel.result.indexes = vacrel.indexes.flatMap((ix, i) => {
    const stats = vacrel.indstats[i];
    return stats === undefined ? [] : [{ name: ix.name, stats }];
  });
  // update_relstats_all_indexes (after index cleanup only): each index's exact counts.
  if (vacrel.doIndexCleanup) {
    vacrel.result.indexRelStats = vacrel.indexes.flatMap((ix, i) => {
      const stats = vacrel.indstats[i];
      if (stats === undefined || stats.estimatedCount) return [];
      return [{ name: ix.name, relpages: stats.numPages, reltuples: stats.numIndexTuples }];
    });
  }
  if (shouldAttemptTruncation(vacrel)) lazyTruncateHeap(vacrel);
  // What vac_update_relstats is given; the caller writes it and invalidates when it changed.
  const pagesAfter = vacrel.result.pagesAfter;
  vacrel.result.relStats = {
    relpages: pagesAfter,
    reltuples,
    relallvisible: Math.min(vm.count(rel.locator).allVisible, pagesAfter),
    // A non-aggressive VACUUM that skipped all-visible pages missed their xids.
    relfrozenxid: vacrel.skippedAllVisible ? undefined : vacrel.newRelfrozenXid.out,
  };
  // new_live_tuples, pgstat_report_vacuum and VACUUM VERBOSE's figures (vacuum-report.ts).
  reportHeapVacuum(ctx, rel, options, vacrel.result, reportStart);
  return vacrel.result;
}

/**
 * lazy_scan_heap: phase 1. Visits every page that lazy_scan_skip does not skip, under a cleanup
 * lock: new and empty pages (lazy_scan_new_or_empty), then pruning and freezing
 * (lazy_scan_prune). Without indexes the page's LP_DEAD items become LP_UNUSED at once
 * (lazy_vacuum_heap_page); with indexes they are collected for lazy_vacuum. Ends by vacuuming the
 * FSM's upper levels.
 */
function lazyScanHeap(vacrel: LVRelState): void {
  const { ctx, rel, relPages, result, strategy } = vacrel;
  const pool = ctx.pool;
  let skip = lazyScanSkip(vacrel, 0);
  for (let blk = 0; blk < relPages; blk++) {
    if (blk === skip.nextUnskippable) {
      skip = lazyScanSkip(vacrel, blk + 1);
    } else if (skip.skippingRange) {
      // Skipped pages are not scanned, so they do not count as nonempty: the truncation check
      // rescans the tail anyway.
      result.pagesSkipped++;
      continue;
    }
    result.pagesScanned++;
    // visibilitymap_pin: the VM page exists from here on, whether or not a bit gets set.
    vacrel.vm.pin(rel.locator, blk);
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blk, {
      ...(strategy ? { strategy } : {}),
    });
    pool.lockBufferForCleanup(buffer);
    const page = pool.bufferGetPage(buffer);
    if (lazyScanNewOrEmpty(vacrel, buffer, blk, page)) continue;
    const { ndead, visibilityCutoffXid } = lazyScanPrune(vacrel, buffer, blk, page);
    if (ndead > 0 && vacrel.hasIndexes) {
      // Two-pass: index entries may point at these items; they wait for phases 2 and 3 (and the
      // page's free space is recorded there, unless index vacuuming is off).
      vacrel.deadItems.set(blk, Array.from(deadOffsetsScratch.subarray(0, ndead)));
      vacrel.lpdeadItems += ndead;
      if (!vacrel.doIndexVacuuming) {
        const free = pageGetHeapFreeSpace(page);
        pool.unlockReleaseBuffer(buffer);
        ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
      } else {
        pool.unlockReleaseBuffer(buffer);
      }
      continue;
    }
    // One pass, no indexes: LP_DEAD items become LP_UNUSED right here (lazy_vacuum_heap_page).
    if (ndead > 0) lazyVacuumHeapPage(vacrel, buffer, blk, deadOffsetsScratch, ndead);
    else setVisibility(vacrel, buffer, blk, visibilityCutoffXid);
    const free = pageGetHeapFreeSpace(page);
    pool.unlockReleaseBuffer(buffer);
    ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
  }
  // The scan's map page goes before the heap pass, which pins its own (as lazy_scan_heap
  // releases vmbuffer before lazy_vacuum).
  vacrel.vm.releasePin();
  if (vacrel.deadItems.size > 0) lazyVacuum(vacrel);
  ctx.fsm.vacuumRange(rel.locator, 0, relPages);
}

/**
 * lazy_scan_skip: from `nextBlock`, the run of pages the visibility map lets VACUUM skip, and
 * the first page after it that must be scanned. The last page is always scanned (truncation
 * needs to know whether it has tuples); DISABLE_PAGE_SKIPPING skips nothing (skipwithvm); an
 * aggressive VACUUM skips only all-frozen pages. Runs shorter than SKIP_PAGES_THRESHOLD are
 * scanned anyway; a skipped run with all-visible pages that are not all-frozen keeps relfrozenxid
 * from advancing (skippedallvis).
 */
function lazyScanSkip(
  vacrel: LVRelState,
  nextBlock: number,
): { nextUnskippable: number; skippingRange: boolean } {
  const { vm, relPages } = vacrel;
  const locator = vacrel.rel.locator;
  let next = nextBlock;
  let skipsAllVisible = false;
  while (next < relPages) {
    const bits = vm.getStatus(locator, next);
    if ((bits & VISIBILITYMAP_ALL_VISIBLE) === 0) break;
    if (next === relPages - 1) break;
    if (!vacrel.skipWithVm) break;
    if ((bits & VISIBILITYMAP_ALL_FROZEN) === 0) {
      if (vacrel.aggressive) break;
      skipsAllVisible = true;
    }
    next++;
  }
  const skippingRange = next - nextBlock >= SKIP_PAGES_THRESHOLD;
  if (skippingRange && skipsAllVisible) vacrel.skippedAllVisible = true;
  return { nextUnskippable: next, skippingRange };
}

/**
 * lazy_scan_new_or_empty: a page never initialised (an extension that was not used) is made
 * findable in the FSM; an empty page is all-visible and all-frozen by definition. Returns true
 * when the page was one of these, and then the buffer has been unlocked and released.
 */
function lazyScanNewOrEmpty(
  vacrel: LVRelState,
  buffer: BufferId,
  blk: number,
  page: Uint8Array,
): boolean {
  const { ctx, rel } = vacrel;
  const pool = ctx.pool;
  if (pageIsNew(page)) {
    pool.unlockReleaseBuffer(buffer);
    if (ctx.fsm.getRecordedFreeSpace(rel.locator, blk) === 0) {
      ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, BLCKSZ - SizeOfPageHeaderData);
    }
    return true;
  }
  if (pageGetMaxOffsetNumber(page) === 0) {
    if (!pageIsAllVisible(page)) {
      pool.markBufferDirty(buffer);
      const xlog = walOf(vacrel);
      // An empty page never WAL-logged (extended and initialized, but its insert never logged):
      // log it whole first, so that redo of the VISIBLE record finds it initialized.
      if (xlog !== undefined && pageGetLsn(page) === 0n) {
        logNewpageBuffer(xlog.ins, xlog.wal, { rel: rel.locator, fork: 0, block: blk, page }, true);
      }
      pageSetAllVisible(page);
      vacrel.vm.set(
        rel.locator,
        blk,
        VISIBILITYMAP_ALL_VISIBLE | VISIBILITYMAP_ALL_FROZEN,
        xlog !== undefined ? { xlog, heapPage: page, cutoffXid: InvalidTransactionId } : undefined,
      );
    }
    const free = pageGetHeapFreeSpace(page);
    pool.unlockReleaseBuffer(buffer);
    ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
    vacrel.result.pagesAllVisible++;
    return true;
  }
  return false;
}

/**
 * lazy_scan_prune: prunes the page (heap_page_prune), then counts its live and recently dead
 * tuples and freezes those older than FreezeLimit (heap_prepare_freeze_tuple and
 * heap_execute_freeze_tuple, logged as one XLOG_HEAP2_FREEZE_PAGE). Notes the page as nonempty
 * when it keeps tuples. Returns the offsets of its LP_DEAD items, and the newest xmin of its
 * live tuples before freezing (prunestate's visibility_cutoff_xid). The caller holds the cleanup
 * lock.
 */
function lazyScanPrune(
  vacrel: LVRelState,
  buffer: BufferId,
  blk: number,
  page: Uint8Array,
): { ndead: number; visibilityCutoffXid: number } {
  const { ctx, result, vctx, oldestXmin } = vacrel;
  const pool = ctx.pool;
  const pruned = heapPagePrune(ctx, vacrel.rel, buffer, oldestXmin);
  result.tuplesRemoved += pruned.ndeleted;
  const deadOffsets = deadOffsetsScratch;
  let ndead = 0;
  let hasTuples = false;
  let anyFrozen = false;
  let visibilityCutoffXid = InvalidTransactionId;
  const xlog = walOf(vacrel);
  const frozen: XlHeapFreezeTuple[] = [];
  const maxoff = pageGetMaxOffsetNumber(page);
  const lps = lineScratch;
  pageGetItemIds(page, maxoff, lps);
  for (let off = 1; off <= maxoff; off++) {
    const lp = lps[off]!;
    const flags = itemIdGetFlags(lp);
    if (flags === LP_UNUSED) continue;
    if (flags === LP_REDIRECT) {
      hasTuples = true;
      continue;
    }
    if (flags === LP_DEAD) {
      deadOffsets[ndead++] = off;
      continue;
    }
    if (flags !== LP_NORMAL) continue;
    hasTuples = true;
    const tup = itemIdGetOffset(lp);
    const state = heapTupleSatisfiesVacuum(page, tup, oldestXmin, vctx);
    // Pruning with the same horizon removed what is dead (PostgreSQL prunes again if a tuple
    // turned dead meanwhile, which one horizon rules out here).
    if (state === HTSV.Dead) continue;
    if (state === HTSV.Live || state === HTSV.DeleteInProgress) result.liveTuples++;
    else if (state === HTSV.RecentlyDead) result.recentlyDeadTuples++;
    // Track the newest xmin on the page (it only matters when the page turns out all-visible).
    if (state === HTSV.Live) {
      const xmin = tupleXmin(page, tup);
      if (xidFollows(xmin, visibilityCutoffXid)) visibilityCutoffXid = xmin;
    }
    // Every remaining tuple with storage is considered for freezing, whatever its state.
    if (freezeTuple(page, tup, vacrel.freezeLimit, ctx.transam, vacrel.newRelfrozenXid).changed) {
      anyFrozen = true;
      result.tuplesFrozen++;
      // The frozen header, as heap_prepare_freeze_tuple plans it for the record.
      if (xlog !== undefined) {
        frozen.push({
          xmax: heapTupleHeaderGetRawXmax(page, tup),
          offset: off,
          infomask2: heapTupleHeaderGetInfomask2(page, tup),
          infomask: heapTupleHeaderGetInfomask(page, tup),
          frzflags: 0,
        });
      }
    }
  }
  if (anyFrozen) {
    pool.markBufferDirty(buffer);
    result.pagesFrozen = (result.pagesFrozen ?? 0) + 1;
    if (xlog !== undefined) {
      const r = logHeapFreeze(xlog.ins, xlog.wal, {
        rel: vacrel.rel.locator,
        block: blk,
        page,
        cutoffXid: vacrel.freezeLimit,
        tuples: frozen,
      });
      pageSetLsn(page, r.endLsn);
    }
  }
  // lpdead_item_pages / lpdead_items: counted after pruning, whether the items are removed now,
  // in phase 3, or left for a later VACUUM (VACUUM VERBOSE's index line).
  if (ndead > 0) {
    result.lpdeadItemPages = (result.lpdeadItemPages ?? 0) + 1;
    result.lpdeadItems = (result.lpdeadItems ?? 0) + ndead;
  }
  if (hintsNeedDirty(vctx)) pool.markBufferDirtyHint(buffer);
  // lazy_scan_prune's hastup: LP_DEAD items do not count (they become LP_UNUSED before the
  // truncation scan, which checks every line pointer again anyway).
  if (hasTuples) vacrel.nonemptyPages = blk + 1;
  return { ndead, visibilityCutoffXid };
}

/**
 * lazy_scan_prune's deadoffsets[MaxHeapTuplesPerPage]: the page's LP_DEAD items, reused from page
 * to page (VACUUM is synchronous and never re-enters itself; each worker has its own module).
 */
const deadOffsetsScratch = new Uint16Array(MaxHeapTuplesPerPage);
/** The line pointer words of the page lazy_scan_prune is looking at (pageGetItemIds). */
const lineScratch = new Int32Array(MaxOffsetNumber + 1);

/**
 * lazy_vacuum: phase 2 (lazy_vacuum_all_indexes: every index's bulk delete of the collected
 * TIDs) and phase 3 (the heap pass, lazy_vacuum_heap_rel), unless INDEX_CLEANUP OFF, or AUTO and
 * so few pages have LP_DEAD items that they are left for later (the bypass optimization: fewer
 * pages than BYPASS_THRESHOLD_PAGES of the table, and fewer items than fit in 32 MB). Bypassed
 * pages keep their LP_DEAD items, and their free space is not recorded this time; the indexes'
 * cleanup still runs at the end.
 */
function lazyVacuum(vacrel: LVRelState): void {
  if (!vacrel.doIndexVacuuming) return;
  // The threshold is a BlockNumber in PostgreSQL: rel_pages × 2%, truncated. So one page with
  // LP_DEAD items is bypassed only from 100 pages on.
  const bypass =
    vacrel.indexCleanup === "auto" &&
    vacrel.relPages > 0 &&
    vacrel.deadItems.size < Math.floor(vacrel.relPages * BYPASS_THRESHOLD_PAGES) &&
    vacrel.lpdeadItems < BYPASS_MAX_DEAD_ITEMS;
  if (bypass) {
    vacrel.doIndexVacuuming = false;
    return;
  }
  lazyVacuumAllIndexes(vacrel);
  lazyVacuumHeapRel(vacrel);
}

/**
 * VacDeadItems with vac_tid_reaped: the collected LP_DEAD TIDs as one sorted array (block ×
 * 2^16 + offset: heap TIDs in ItemPointer order), and a binary search over it — the callback each
 * index's bulk delete asks about every heap TID it holds.
 */
function deadItemsCallback(
  deadItems: ReadonlyMap<number, readonly number[]>,
): IndexBulkDeleteCallback {
  const keys: number[] = [];
  for (const [blk, offsets] of deadItems) for (const off of offsets) keys.push(blk * 65536 + off);
  keys.sort((a, b) => a - b);
  const sorted = Float64Array.from(keys);
  return (tid) => {
    const key = tid.block * 65536 + tid.offset;
    // bsearch: the dead items are few compared with the index's TIDs; first check the range.
    if (sorted.length === 0 || key < sorted[0]! || key > sorted[sorted.length - 1]!) return false;
    let lo = 0;
    let hi = sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = sorted[mid]!;
      if (v === key) return true;
      if (v < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
}

/**
 * lazy_vacuum_all_indexes: each index's bulk delete (lazy_vacuum_one_index) with the dead items
 * and pg_class's tuple count as an estimate; then one more index scan is counted.
 */
function lazyVacuumAllIndexes(vacrel: LVRelState): void {
  if (vacrel.indexes.length > 0) {
    const callback = deadItemsCallback(vacrel.deadItems);
    const info = {
      analyzeOnly: false,
      estimatedCount: true,
      numHeapTuples: vacrel.rel.def.reltuples ?? -1,
    };
    vacrel.indexes.forEach((index, i) => {
      vacrel.indstats[i] = index.bulkDelete(info, vacrel.indstats[i], callback);
    });
  }
  vacrel.numIndexScans++;
}

/**
 * lazy_cleanup_all_indexes: each index's amvacuumcleanup (lazy_cleanup_one_index) with the new
 * tuple count, exact when every page was scanned.
 */
function lazyCleanupAllIndexes(vacrel: LVRelState, reltuples: number): void {
  const info = {
    analyzeOnly: false,
    estimatedCount: vacrel.result.pagesScanned < vacrel.relPages,
    numHeapTuples: reltuples,
  };
  vacrel.indexes.forEach((index, i) => {
    vacrel.indstats[i] = index.vacuumCleanup(info, vacrel.indstats[i]);
  });
}

/**
 * lazy_vacuum_heap_rel: phase 3. Revisits each page with collected LP_DEAD items under an
 * exclusive lock (enough: the items hold no storage), marks them LP_UNUSED
 * (lazy_vacuum_heap_page) and records the page's free space.
 */
function lazyVacuumHeapRel(vacrel: LVRelState): void {
  const { ctx, rel, strategy } = vacrel;
  const pool = ctx.pool;
  for (const [blk, offsets] of vacrel.deadItems) {
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blk, {
      ...(strategy ? { strategy } : {}),
    });
    pool.lockBuffer(buffer, "exclusive");
    const page = pool.bufferGetPage(buffer);
    lazyVacuumHeapPage(vacrel, buffer, blk, offsets, offsets.length);
    const free = pageGetHeapFreeSpace(page);
    pool.unlockReleaseBuffer(buffer);
    ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
  }
}

/**
 * lazy_vacuum_heap_page: the page's LP_DEAD items `offsets[0 .. count)` become LP_UNUSED, the
 * line pointer array is truncated, and the page is checked for all-visible (setVisibility). The
 * caller holds an exclusive lock.
 */
function lazyVacuumHeapPage(
  vacrel: LVRelState,
  buffer: BufferId,
  blk: number,
  offsets: ArrayLike<number>,
  count: number,
): void {
  const pool = vacrel.ctx.pool;
  const page = pool.bufferGetPage(buffer);
  pageSetItemIdsTo(page, offsets, count, makeItemId(0, LP_UNUSED, 0));
  pageTruncateLinePointerArray(page);
  pool.markBufferDirty(buffer);
  const xlog = walOf(vacrel);
  if (xlog !== undefined) {
    const r = logHeapVacuum(xlog.ins, xlog.wal, {
      rel: vacrel.rel.locator,
      block: blk,
      page,
      unused: offsets,
      nunused: count,
    });
    pageSetLsn(page, r.endLsn);
  }
  vacrel.result.deadItemsRemoved += count;
  setVisibility(vacrel, buffer, blk);
}

/**
 * should_attempt_truncation: vacuum_truncate is on, and the empty pages at the end are at least
 * REL_TRUNCATE_MINIMUM or a REL_TRUNCATE_FRACTION of the relation (a BlockNumber division).
 */
function shouldAttemptTruncation(vacrel: LVRelState): boolean {
  const freeable = vacrel.relPages - vacrel.nonemptyPages;
  return (
    vacrel.doRelTruncate &&
    freeable > 0 &&
    (freeable >= REL_TRUNCATE_MINIMUM ||
      freeable >= Math.floor(vacrel.relPages / REL_TRUNCATE_FRACTION))
  );
}

/**
 * lazy_truncate_heap: rechecks the tail backwards (count_nondeletable_pages) and gives the empty
 * pages at the end back, with their FSM and VM entries.
 */
function lazyTruncateHeap(vacrel: LVRelState): void {
  const { ctx, rel, relPages } = vacrel;
  const newPages = countNondeletablePages(ctx, rel, relPages, vacrel.nonemptyPages);
  if (newPages < relPages) {
    // RelationTruncate: the truncation is logged and flushed before any file shrinks.
    if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
      logSmgrTruncate(ctx.xlog, rel.locator, newPages);
    }
    ctx.pool.truncateRelation(rel.locator, ForkNumber.MAIN, newPages);
    ctx.fsm.truncate(rel.locator, newPages);
    vacrel.vm.truncate(rel.locator, newPages);
    // smgrtruncate resets this backend's target block at once; the other backends hear of it
    // through the invalidation the caller sends.
    ctx.targetBlocks.delete(rel.locator.relNumber);
    vacrel.result.pagesAfter = newPages;
  }
}

/**
 * The visibility step after a page's dead items are gone (lazy_scan_heap's VM branch and
 * lazy_vacuum_heap_page's heap_page_is_all_visible check): an all-visible page gets
 * PD_ALL_VISIBLE and its VM bits, all-frozen too when every tuple is frozen. As in
 * lazy_scan_heap, a page the VM does not call all-visible gets both bits at once (logged with
 * the newest xmin on the page: `cutoffXid` from lazy_scan_prune, or heap_page_is_all_visible's
 * after lazy_vacuum_heap_page); one it calls all-visible but not all-frozen gets ALL_FROZEN
 * alone (logged with cutoff InvalidTransactionId).
 */
function setVisibility(
  vacrel: LVRelState,
  buffer: BufferId,
  blk: number,
  cutoffXid?: number,
): void {
  const { ctx, rel, vctx, result } = vacrel;
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  const visible = heapPageIsAllVisible(page, vacrel.oldestXmin, vctx);
  if (hintsNeedDirty(vctx)) pool.markBufferDirtyHint(buffer);
  if (!visible.allVisible) return;
  result.pagesAllVisible++;
  if (!pageIsAllVisible(page)) {
    pageSetAllVisible(page);
    pool.markBufferDirty(buffer);
  }
  const vm = vacrel.vm;
  const xlog = walOf(vacrel);
  const status = vm.getStatus(rel.locator, blk);
  if ((status & VISIBILITYMAP_ALL_VISIBLE) === 0) {
    const flags = VISIBILITYMAP_ALL_VISIBLE | (visible.allFrozen ? VISIBILITYMAP_ALL_FROZEN : 0);
    const cutoff = cutoffXid ?? visible.cutoffXid;
    vm.set(
      rel.locator,
      blk,
      flags,
      xlog !== undefined ? { xlog, heapPage: page, cutoffXid: cutoff } : undefined,
    );
  } else if (visible.allFrozen && (status & VISIBILITYMAP_ALL_FROZEN) === 0) {
    vm.set(
      rel.locator,
      blk,
      VISIBILITYMAP_ALL_FROZEN,
      xlog !== undefined ? { xlog, heapPage: page, cutoffXid: InvalidTransactionId } : undefined,
    );
  }
}

function hintsNeedDirty(vctx: VisibilityContext): boolean {
  const set = vctx.hintsSet;
  vctx.hintsSet = false;
  return set;
}

function anyUsed(page: Uint8Array): boolean {
  const maxoff = pageGetMaxOffsetNumber(page);
  for (let off = 1; off <= maxoff; off++) if (itemIdIsUsed(pageGetItemId(page, off))) return true;
  return false;
}

/**
 * count_nondeletable_pages: scanning backwards from the end, the first page that still has a
 * used line pointer ends the truncatable tail. New and empty pages are removable.
 */
function countNondeletablePages(
  ctx: TableAmContext,
  rel: Relation,
  relPages: number,
  nonempty: number,
): number {
  const pool = ctx.pool;
  const strategy = getAccessStrategy("vacuum", pool.bufferCount);
  for (let blk = relPages - 1; blk >= nonempty; blk--) {
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blk, {
      ...(strategy ? { strategy } : {}),
    });
    pool.lockBuffer(buffer, "share");
    const page = pool.bufferGetPage(buffer);
    const used = !pageIsNew(page) && anyUsed(page);
    pool.unlockReleaseBuffer(buffer);
    if (used) return blk + 1;
  }
  return nonempty;
}
