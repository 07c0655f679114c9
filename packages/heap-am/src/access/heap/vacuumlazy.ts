/**
 * Lazy VACUUM of one heap relation: prune every page, turn dead line pointers into unused ones,
 * freeze old tuples, record free space, set visibility-map bits, and truncate empty pages at the
 * end.
 *
 * Models: src/backend/access/heap/vacuumlazy.c (heap_vacuum_rel, lazy_scan_heap, lazy_scan_skip,
 * lazy_scan_new_or_empty, lazy_scan_prune, lazy_vacuum_heap_page, heap_page_is_all_visible,
 * should_attempt_truncation, lazy_truncate_heap, count_nondeletable_pages), heapam.c
 * (heap_prepare_freeze_tuple, heap_execute_freeze_tuple) and vacuum.c (vacuum_set_xid_limits).
 * Entry points: `lazyVacuum`, `VacuumOptions`, `VacuumResult`.
 * See also: pruneheap.ts, freespace.ts, visibilitymap.ts.
 *
 * A table without indexes takes PostgreSQL's one-pass path: LP_DEAD items become LP_UNUSED on the
 * page where they are found. A table with indexes (pgsim models them by the columns they cover,
 * `indexedColumns`) takes the two-pass path: phase 1 prunes and collects the LP_DEAD items;
 * phase 2 would delete their index entries; phase 3 revisits the pages and marks the items
 * LP_UNUSED, then records each page's free space and visibility. Phase 2 and 3 are skipped with
 * INDEX_CLEANUP OFF, and bypassed (INDEX_CLEANUP AUTO) when under 2% of the pages have LP_DEAD
 * items: those items then stay LP_DEAD until a later VACUUM.
 *
 * Differs from PostgreSQL: a page whose cleanup lock is not free is waited for
 * (LockBufferForCleanup) rather than processed without pruning (lazy_scan_noprune); truncation
 * takes no AccessExclusiveLock (pgsim has no heavyweight locks: do not vacuum a table while
 * other backends write to it); no multixacts to freeze; there are no index pages, so phase 2
 * deletes nothing; dead_items has no memory limit (PostgreSQL runs phases 2 and 3 early whenever
 * maintenance_work_mem fills up). The pg_class statistics are returned (`relStats`) for the
 * caller to write (vac_update_relstats, in database.ts).
 */

import { type BufferId, ForkNumber, getAccessStrategy } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
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
} from "../../include/access/htup-details.js";
import {
  FirstNormalTransactionId,
  FrozenTransactionId,
  InvalidTransactionId,
  xidIsNormal,
  xidPrecedes,
} from "../../include/access/transam.js";
import {
  itemIdGetFlags,
  itemIdGetOffset,
  itemIdIsUsed,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  makeItemId,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsAllVisible,
  pageIsNew,
  pageSetAllVisible,
  pageSetItemId,
  pageTruncateLinePointerArray,
  SizeOfPageHeaderData,
} from "../../storage/page/bufpage.js";
import type { HeapContext, Relation } from "../../utils/cache/rel.js";
import type { Transam } from "../transam/transam.js";
import { HTSV, heapTupleSatisfiesVacuum, type VisibilityContext } from "./heapam-visibility.js";
import { heapPagePrune } from "./pruneheap.js";
import { VISIBILITYMAP_ALL_FROZEN, VISIBILITYMAP_ALL_VISIBLE } from "./visibilitymap-page.js";

/** vacuum_freeze_min_age's default. */
export const VACUUM_FREEZE_MIN_AGE = 50_000_000;
/** Skip runs of all-visible pages only when at least this long (SKIP_PAGES_THRESHOLD). */
export const SKIP_PAGES_THRESHOLD = 32;
/** REL_TRUNCATE_MINIMUM and REL_TRUNCATE_FRACTION. */
export const REL_TRUNCATE_MINIMUM = 1000;
export const REL_TRUNCATE_FRACTION = 16;

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

/** BYPASS_THRESHOLD_PAGES: skip the index pass when fewer pages than this fraction have LP_DEAD items. */
export const BYPASS_THRESHOLD_PAGES = 0.02;
/** MAXDEADITEMS(32 MB): the bypass also needs fewer LP_DEAD items than fit in 32 MB of TIDs. */
const BYPASS_MAX_DEAD_ITEMS = Math.floor((32 * 1024 * 1024 - 8) / 6);

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

/**
 * heap_page_is_all_visible: every tuple is visible to everyone (committed before the horizon,
 * not deleted) — after dead items were removed. Also says whether all are frozen.
 */
function pageIsAllVisibleNow(
  page: Uint8Array,
  oldestXmin: number,
  vctx: VisibilityContext,
): { allVisible: boolean; allFrozen: boolean } {
  const maxoff = pageGetMaxOffsetNumber(page);
  let allFrozen = true;
  for (let off = 1; off <= maxoff; off++) {
    const lp = pageGetItemId(page, off);
    const flags = itemIdGetFlags(lp);
    if (flags === LP_UNUSED || flags === LP_REDIRECT) continue;
    if (flags === LP_DEAD) return { allVisible: false, allFrozen: false };
    const tup = itemIdGetOffset(lp);
    if (heapTupleSatisfiesVacuum(page, tup, oldestXmin, vctx) !== HTSV.Live) {
      return { allVisible: false, allFrozen: false };
    }
    const infomask = heapTupleHeaderGetInfomask(page, tup);
    const xmin = heapTupleHeaderGetRawXmin(page, tup);
    if ((infomask & HEAP_XMIN_COMMITTED) === 0) return { allVisible: false, allFrozen: false };
    if ((infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN && !xidPrecedes(xmin, oldestXmin)) {
      return { allVisible: false, allFrozen: false };
    }
    if (allFrozen && tupleNeedsEventualFreeze(page, tup)) allFrozen = false;
  }
  return { allVisible: true, allFrozen };
}

/**
 * heap_vacuum_rel: lazy_scan_heap (phase 1), lazy_vacuum (phases 2 and 3 for a table with
 * indexes), the FSM's upper levels, and truncation. The caller runs it outside a transaction that
 * holds an xid; the horizon is the oldest xmin of all backends at the start.
 */
export function lazyVacuum(
  ctx: HeapContext,
  rel: Relation,
  options: VacuumOptions = {},
): VacuumResult {
  const pool = ctx.pool;
  const oldestXmin = ctx.transam.oldestXmin();
  const freezeMinAge = options.freeze ? 0 : VACUUM_FREEZE_MIN_AGE;
  let freezeLimit = oldestXmin - freezeMinAge;
  if (freezeLimit < FirstNormalTransactionId) freezeLimit = FirstNormalTransactionId;
  const aggressive = options.freeze === true || options.disablePageSkipping === true;
  const strategy = getAccessStrategy("vacuum", pool.bufferCount);
  const vctx: VisibilityContext = { transam: ctx.transam, xact: undefined, hintsSet: false };
  const relPages = pool.nblocks(rel.locator, ForkNumber.MAIN);
  const result: VacuumResult = {
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
    relStats: { relpages: relPages, reltuples: 0, relallvisible: 0, relfrozenxid: undefined },
  };
  let nonemptyPages = 0;
  // The index options (vacuum.c's VacOptValue handling): with INDEX_CLEANUP OFF the LP_DEAD items
  // stay; only a table with indexes ever defers them.
  const hasIndexes = rel.hotAttrs.length > 0;
  const indexCleanup = options.indexCleanup ?? "auto";
  const doIndexVacuuming = hasIndexes && indexCleanup !== "off";
  /** dead_items: LP_DEAD offsets per block, for phase 3. */
  const deadItems = new Map<number, number[]>();
  let lpdeadItems = 0;
  // DISABLE_PAGE_SKIPPING scans every page (skipwithvm false); FREEZE alone is aggressive,
  // which still skips all-frozen pages.
  const skipWithVm = options.disablePageSkipping !== true;
  /** NewRelfrozenXid: the oldest xid left unfrozen in the table, from OldestXmin down. */
  const relfrozenxid = { out: oldestXmin };
  let skip = lazyScanSkip(ctx, rel, relPages, 0, aggressive, skipWithVm);
  let skippedAllVisible = skip.skippingRange && skip.skipsAllVisible;
  for (let blk = 0; blk < relPages; blk++) {
    if (blk === skip.nextUnskippable) {
      skip = lazyScanSkip(ctx, rel, relPages, blk + 1, aggressive, skipWithVm);
      if (skip.skippingRange && skip.skipsAllVisible) skippedAllVisible = true;
    } else if (skip.skippingRange) {
      // Skipped pages are not scanned, so they do not count as nonempty: the truncation check
      // below rescans the tail anyway.
      result.pagesSkipped++;
      continue;
    }
    result.pagesScanned++;
    // visibilitymap_pin: the VM page exists from here on, whether or not a bit gets set.
    ctx.vm.pin(rel.locator, blk);
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blk, {
      ...(strategy ? { strategy } : {}),
    });
    pool.lockBufferForCleanup(buffer);
    const page = pool.bufferGetPage(buffer);
    if (pageIsNew(page)) {
      // lazy_scan_new_or_empty: an extension that was never initialised. Make it findable.
      pool.unlockReleaseBuffer(buffer);
      if (ctx.fsm.getRecordedFreeSpace(rel.locator, blk) === 0) {
        ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, 8192 - SizeOfPageHeaderData);
      }
      continue;
    }
    if (pageGetMaxOffsetNumber(page) === 0) {
      // An empty page: all-visible and all-frozen by definition.
      if (!pageIsAllVisible(page)) {
        pageSetAllVisible(page);
        pool.markBufferDirty(buffer);
        ctx.vm.set(rel.locator, blk, VISIBILITYMAP_ALL_VISIBLE | VISIBILITYMAP_ALL_FROZEN);
      }
      const free = pageGetHeapFreeSpace(page);
      pool.unlockReleaseBuffer(buffer);
      ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
      result.pagesAllVisible++;
      continue;
    }
    // lazy_scan_prune.
    const pruned = heapPagePrune(ctx, buffer, oldestXmin);
    result.tuplesRemoved += pruned.ndeleted;
    const deadOffsets: number[] = [];
    let hasTuples = false;
    let anyFrozen = false;
    const maxoff = pageGetMaxOffsetNumber(page);
    for (let off = 1; off <= maxoff; off++) {
      const lp = pageGetItemId(page, off);
      const flags = itemIdGetFlags(lp);
      if (flags === LP_UNUSED) continue;
      if (flags === LP_REDIRECT) {
        hasTuples = true;
        continue;
      }
      if (flags === LP_DEAD) {
        deadOffsets.push(off);
        continue;
      }
      if (flags !== LP_NORMAL) continue;
      hasTuples = true;
      const tup = itemIdGetOffset(lp);
      const state = heapTupleSatisfiesVacuum(page, tup, oldestXmin, vctx);
      // Pruning with the same horizon removed what is dead (PostgreSQL prunes again if a
      // tuple turned dead meanwhile, which one horizon rules out here).
      if (state === HTSV.Dead) continue;
      if (state === HTSV.Live || state === HTSV.DeleteInProgress) result.liveTuples++;
      else if (state === HTSV.RecentlyDead) result.recentlyDeadTuples++;
      // Every remaining tuple with storage is considered for freezing, whatever its state.
      if (freezeTuple(page, tup, freezeLimit, ctx.transam, relfrozenxid).changed) {
        anyFrozen = true;
        result.tuplesFrozen++;
      }
    }
    if (anyFrozen) pool.markBufferDirty(buffer);
    if (hintsNeedDirty(vctx)) pool.markBufferDirtyHint(buffer);
    // lazy_scan_prune's hastup: LP_DEAD items do not count (they become LP_UNUSED before the
    // truncation scan, which checks every line pointer again anyway).
    if (hasTuples) nonemptyPages = blk + 1;
    if (deadOffsets.length > 0 && hasIndexes) {
      // Two-pass: index entries may point at these items; they wait for phases 2 and 3 (and the
      // page's free space is recorded there, unless index vacuuming is off).
      deadItems.set(blk, deadOffsets);
      lpdeadItems += deadOffsets.length;
      if (!doIndexVacuuming) {
        const free = pageGetHeapFreeSpace(page);
        pool.unlockReleaseBuffer(buffer);
        ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
      } else {
        pool.unlockReleaseBuffer(buffer);
      }
      continue;
    }
    // One pass, no indexes: LP_DEAD items become LP_UNUSED right here (lazy_vacuum_heap_page).
    if (deadOffsets.length > 0) {
      for (const off of deadOffsets) pageSetItemId(page, off, makeItemId(0, LP_UNUSED, 0));
      pageTruncateLinePointerArray(page);
      pool.markBufferDirty(buffer);
      result.deadItemsRemoved += deadOffsets.length;
    }
    setVisibility(ctx, rel, buffer, blk, oldestXmin, vctx, result);
    const free = pageGetHeapFreeSpace(page);
    pool.unlockReleaseBuffer(buffer);
    ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
  }

  // lazy_vacuum: phase 2 (index entries; pgsim has no index pages) and phase 3 (the heap pass),
  // unless INDEX_CLEANUP OFF, or AUTO and so few pages have LP_DEAD items that they are left for
  // later (the bypass optimization). Bypassed pages keep their LP_DEAD items, and their free
  // space is not recorded this time.
  // The threshold is a BlockNumber in PostgreSQL: rel_pages × 2%, truncated. So one page with
  // LP_DEAD items is bypassed only from 100 pages on.
  const bypass =
    indexCleanup === "auto" &&
    deadItems.size < Math.floor(relPages * BYPASS_THRESHOLD_PAGES) &&
    lpdeadItems < BYPASS_MAX_DEAD_ITEMS;
  if (doIndexVacuuming && deadItems.size > 0 && !bypass) {
    for (const [blk, offsets] of deadItems) {
      // lazy_vacuum_heap_page: an exclusive lock is enough (the items hold no storage).
      const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blk, {
        ...(strategy ? { strategy } : {}),
      });
      pool.lockBuffer(buffer, "exclusive");
      const page = pool.bufferGetPage(buffer);
      for (const off of offsets) pageSetItemId(page, off, makeItemId(0, LP_UNUSED, 0));
      pageTruncateLinePointerArray(page);
      pool.markBufferDirty(buffer);
      result.deadItemsRemoved += offsets.length;
      setVisibility(ctx, rel, buffer, blk, oldestXmin, vctx, result);
      const free = pageGetHeapFreeSpace(page);
      pool.unlockReleaseBuffer(buffer);
      ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
    }
  }
  ctx.fsm.vacuumRange(rel.locator, 0, relPages);

  // vac_estimate_reltuples, from the pages scanned (before truncation).
  const reltuples = estimateReltuples(rel, relPages, result.pagesScanned, result.liveTuples);

  // should_attempt_truncation + lazy_truncate_heap. The threshold is a BlockNumber division.
  const freeable = relPages - nonemptyPages;
  if (
    options.truncate !== false &&
    freeable > 0 &&
    (freeable >= REL_TRUNCATE_MINIMUM || freeable >= Math.floor(relPages / REL_TRUNCATE_FRACTION))
  ) {
    const newPages = countNondeletablePages(ctx, rel, relPages, nonemptyPages);
    if (newPages < relPages) {
      pool.truncateRelation(rel.locator, ForkNumber.MAIN, newPages);
      ctx.fsm.truncate(rel.locator, newPages);
      ctx.vm.truncate(rel.locator, newPages);
      // smgrtruncate resets this backend's target block at once; the other backends hear of
      // it through the invalidation the caller sends.
      ctx.targetBlocks.delete(rel.locator.relNumber);
      result.pagesAfter = newPages;
    }
  }
  // What vac_update_relstats is given (the caller writes it and invalidates when it changed).
  const allVisible = ctx.vm.count(rel.locator).allVisible;
  result.relStats = {
    relpages: result.pagesAfter,
    reltuples,
    relallvisible: Math.min(allVisible, result.pagesAfter),
    // A non-aggressive VACUUM that skipped all-visible pages missed their xids.
    relfrozenxid: skippedAllVisible ? undefined : relfrozenxid.out,
  };
  return result;
}

/**
 * lazy_scan_skip: from `nextBlock`, the run of pages the visibility map lets VACUUM skip, and
 * the first page after it that must be scanned. The last page is always scanned (truncation
 * needs to know whether it has tuples); DISABLE_PAGE_SKIPPING skips nothing; an aggressive VACUUM
 * skips only all-frozen pages. Runs shorter than SKIP_PAGES_THRESHOLD are scanned anyway.
 */
function lazyScanSkip(
  ctx: HeapContext,
  rel: Relation,
  relPages: number,
  nextBlock: number,
  aggressive: boolean,
  skipWithVm: boolean,
): { nextUnskippable: number; skippingRange: boolean; skipsAllVisible: boolean } {
  let next = nextBlock;
  let skipsAllVisible = false;
  while (next < relPages) {
    const bits = ctx.vm.getStatus(rel.locator, next);
    if ((bits & VISIBILITYMAP_ALL_VISIBLE) === 0) break;
    if (next === relPages - 1) break;
    if (!skipWithVm) break;
    if ((bits & VISIBILITYMAP_ALL_FROZEN) === 0) {
      if (aggressive) break;
      skipsAllVisible = true;
    }
    next++;
  }
  const skippingRange = next - nextBlock >= SKIP_PAGES_THRESHOLD;
  return { nextUnskippable: next, skippingRange, skipsAllVisible };
}

/**
 * vac_estimate_reltuples: the table's live tuples, extrapolated from the scanned pages with the
 * density pg_class recorded last time for the pages VACUUM skipped.
 */
function estimateReltuples(
  rel: Relation,
  totalPages: number,
  scannedPages: number,
  scannedTuples: number,
): number {
  const oldRelPages = rel.def.relpages ?? 0;
  const oldRelTuples = rel.def.reltuples ?? -1;
  if (scannedPages >= totalPages) return scannedTuples;
  // A table of the same size of which under 2% was scanned, or at most one page (often just the
  // last one, which VACUUM always scans): keep the old value, lest it drift.
  if (oldRelPages === totalPages && scannedPages < totalPages * 0.02) return oldRelTuples;
  if (scannedPages <= 1) return oldRelTuples;
  if (oldRelTuples < 0 || oldRelPages === 0) {
    return Math.floor((scannedTuples / scannedPages) * totalPages + 0.5);
  }
  const oldDensity = oldRelTuples / oldRelPages;
  return Math.floor(oldDensity * (totalPages - scannedPages) + scannedTuples + 0.5);
}

/**
 * The visibility step after a page's dead items are gone (lazy_scan_heap's VM branch and
 * lazy_vacuum_heap_page's heap_page_is_all_visible check): an all-visible page gets
 * PD_ALL_VISIBLE and its VM bits, all-frozen too when every tuple is frozen.
 */
function setVisibility(
  ctx: HeapContext,
  rel: Relation,
  buffer: BufferId,
  blk: number,
  oldestXmin: number,
  vctx: VisibilityContext,
  result: VacuumResult,
): void {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  const { allVisible, allFrozen } = pageIsAllVisibleNow(page, oldestXmin, vctx);
  if (hintsNeedDirty(vctx)) pool.markBufferDirtyHint(buffer);
  if (!allVisible) return;
  result.pagesAllVisible++;
  const flags = VISIBILITYMAP_ALL_VISIBLE | (allFrozen ? VISIBILITYMAP_ALL_FROZEN : 0);
  if (!pageIsAllVisible(page)) {
    pageSetAllVisible(page);
    pool.markBufferDirty(buffer);
  }
  if ((ctx.vm.getStatus(rel.locator, blk) & flags) !== flags) ctx.vm.set(rel.locator, blk, flags);
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
  ctx: HeapContext,
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
