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
 * other backends write to it); no multixacts to freeze; relfrozenxid is not tracked; there are
 * no index pages, so phase 2 deletes nothing; dead_items has no memory limit (PostgreSQL runs
 * phases 2 and 3 early whenever maintenance_work_mem fills up); only the vacuuming backend forgets
 * its insert target block afterwards (PostgreSQL's relcache invalidation reaches every backend).
 */

import { type BufferId, ForkNumber, getAccessStrategy } from "@pgsim/buffer-manager";
import {
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_XMAX_BITS,
  HEAP_XMAX_COMMITTED,
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
  /** lpdead_item_pages: pages with LP_DEAD items after pruning (VACUUM VERBOSE's index line). */
  lpdeadItemPages?: number;
  /** lpdead_items: those LP_DEAD items, removed now or left for a later VACUUM. */
  lpdeadItems?: number;
  /** Pages on which at least one tuple was frozen. */
  pagesFrozen?: number;
}

/**
 * heap_prepare_freeze_tuple + heap_execute_freeze_tuple for one tuple. Returns [frozeSomething,
 * totallyFrozen].
 */
function freezeTuple(page: Uint8Array, tup: number, freezeLimit: number): [boolean, boolean] {
  let changed = false;
  let infomask = heapTupleHeaderGetInfomask(page, tup);
  const xmin = heapTupleHeaderGetRawXmin(page, tup);
  let xminFrozen = (infomask & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN || !xidIsNormal(xmin);
  if (!xminFrozen && xidPrecedes(xmin, freezeLimit)) {
    if ((infomask & HEAP_XMIN_COMMITTED) === 0) {
      throw new Error(
        `uncommitted xmin ${xmin} from before xid cutoff ${freezeLimit} needs to be frozen`,
      );
    }
    infomask |= HEAP_XMIN_FROZEN;
    xminFrozen = true;
    changed = true;
  }
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  let xmaxGone = (infomask & HEAP_XMAX_INVALID) !== 0 || xmax === InvalidTransactionId;
  if (!xmaxGone && xidIsNormal(xmax) && xidPrecedes(xmax, freezeLimit)) {
    if ((infomask & HEAP_XMAX_COMMITTED) !== 0 && !heapXmaxIsLockedOnly(infomask)) {
      throw new Error(`cannot freeze committed xmax ${xmax}`);
    }
    // An aborted deleter or a finished locker: nothing of it needs to stay.
    infomask = (infomask & ~HEAP_XMAX_BITS) | HEAP_XMAX_INVALID;
    heapTupleHeaderSetXmax(page, tup, InvalidTransactionId);
    heapTupleHeaderSetInfomask2(
      page,
      tup,
      heapTupleHeaderGetInfomask2(page, tup) & ~(HEAP_HOT_UPDATED | HEAP_KEYS_UPDATED),
    );
    xmaxGone = true;
    changed = true;
  }
  if (changed) heapTupleHeaderSetInfomask(page, tup, infomask);
  return [changed, xminFrozen && xmaxGone];
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
    if (
      (infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN ||
      (infomask & HEAP_XMAX_INVALID) === 0
    ) {
      allFrozen = false;
    }
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
  };
  let lpdeadItemPages = 0;
  let lpdeadItemsFound = 0;
  let pagesFrozen = 0;
  let nonemptyPages = 0;
  // The index options (vacuum.c's VacOptValue handling): with INDEX_CLEANUP OFF the LP_DEAD items
  // stay; only a table with indexes ever defers them.
  const hasIndexes = rel.hotAttrs.length > 0;
  const indexCleanup = options.indexCleanup ?? "auto";
  const doIndexVacuuming = hasIndexes && indexCleanup !== "off";
  /** dead_items: LP_DEAD offsets per block, for phase 3. */
  const deadItems = new Map<number, number[]>();
  let lpdeadItems = 0;
  const skipMask = aggressive ? VISIBILITYMAP_ALL_FROZEN : VISIBILITYMAP_ALL_VISIBLE;
  let nextUnskippable = 0;
  for (let blk = 0; blk < relPages; blk++) {
    // lazy_scan_skip: skip a run of all-visible pages only when it is long enough to be worth
    // giving up readahead; the last page is always scanned (truncation needs it).
    if (blk >= nextUnskippable) {
      let run = blk;
      while (run < relPages - 1 && (ctx.vm.getStatus(rel.locator, run) & skipMask) !== 0) run++;
      if (run - blk >= SKIP_PAGES_THRESHOLD) {
        result.pagesSkipped += run - blk;
        // Skipped pages have tuples (they are all-visible and not empty as far as we know).
        nonemptyPages = run;
        blk = run - 1;
        nextUnskippable = run;
        continue;
      }
      nextUnskippable = run + 1;
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
      if (state === HTSV.Live || state === HTSV.DeleteInProgress) result.liveTuples++;
      else if (state === HTSV.RecentlyDead) result.recentlyDeadTuples++;
      if (state === HTSV.Live || state === HTSV.RecentlyDead) {
        const [froze] = freezeTuple(page, tup, freezeLimit);
        if (froze) {
          anyFrozen = true;
          result.tuplesFrozen++;
        }
      }
    }
    if (anyFrozen) {
      pool.markBufferDirty(buffer);
      pagesFrozen++;
    }
    if (deadOffsets.length > 0) {
      lpdeadItemPages++;
      lpdeadItemsFound += deadOffsets.length;
    }
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

  // should_attempt_truncation + lazy_truncate_heap.
  const freeable = relPages - nonemptyPages;
  if (
    options.truncate !== false &&
    freeable > 0 &&
    (freeable >= REL_TRUNCATE_MINIMUM || freeable >= relPages / REL_TRUNCATE_FRACTION)
  ) {
    const newPages = countNondeletablePages(ctx, rel, relPages, nonemptyPages);
    if (newPages < relPages) {
      pool.truncateRelation(rel.locator, ForkNumber.MAIN, newPages);
      ctx.fsm.truncate(rel.locator, newPages);
      ctx.vm.truncate(rel.locator, newPages);
      ctx.targetBlocks.delete(rel.locator.relNumber);
      result.pagesAfter = newPages;
    }
  }
  // vac_update_relstats changes the table's pg_class row, and the relcache invalidation that
  // follows closes its smgr relation: the next insert looks its target page up in the FSM again
  // instead of going back to the last page it used.
  ctx.targetBlocks.delete(rel.locator.relNumber);
  result.lpdeadItemPages = lpdeadItemPages;
  result.lpdeadItems = lpdeadItemsFound;
  result.pagesFrozen = pagesFrozen;
  return result;
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
