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
 * pgsim has no indexes, so VACUUM always takes PostgreSQL's one-pass path for tables without
 * indexes: LP_DEAD items become LP_UNUSED on the page where they are found (there is no index
 * pass, phase 2, and no separate heap pass, phase 3).
 *
 * Differs from PostgreSQL: a page whose cleanup lock is not free is waited for
 * (LockBufferForCleanup) rather than processed without pruning (lazy_scan_noprune); truncation
 * takes no AccessExclusiveLock (pgsim has no heavyweight locks: do not vacuum a table while
 * other backends write to it); no multixacts to freeze; relfrozenxid is not tracked.
 */

import { ForkNumber, getAccessStrategy } from "@pgsim/buffer-manager";
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
} from "./bufpage.js";
import { FirstNormalTransactionId, InvalidTransactionId } from "./clog.js";
import { HTSV, heapTupleSatisfiesVacuum, type VisibilityContext } from "./heapam-visibility.js";
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
} from "./htup-details.js";
import { heapPagePrune } from "./pruneheap.js";
import type { HeapContext, Relation } from "./rel.js";
import { xidIsNormal, xidPrecedes } from "./transam.js";
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
 * heap_vacuum_rel for a table without indexes. The caller runs it outside a transaction that
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
  let nonemptyPages = 0;
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
    if (anyFrozen) pool.markBufferDirty(buffer);
    // One pass, no indexes: LP_DEAD items become LP_UNUSED right here (lazy_vacuum_heap_page).
    if (deadOffsets.length > 0) {
      for (const off of deadOffsets) pageSetItemId(page, off, makeItemId(0, LP_UNUSED, 0));
      pageTruncateLinePointerArray(page);
      pool.markBufferDirty(buffer);
      result.deadItemsRemoved += deadOffsets.length;
    }
    if (hintsNeedDirty(vctx)) pool.markBufferDirtyHint(buffer);
    const { allVisible, allFrozen } = pageIsAllVisibleNow(page, oldestXmin, vctx);
    if (allVisible) {
      result.pagesAllVisible++;
      const flags = VISIBILITYMAP_ALL_VISIBLE | (allFrozen ? VISIBILITYMAP_ALL_FROZEN : 0);
      if (!pageIsAllVisible(page)) {
        pageSetAllVisible(page);
        pool.markBufferDirty(buffer);
      }
      if ((ctx.vm.getStatus(rel.locator, blk) & flags) !== flags)
        ctx.vm.set(rel.locator, blk, flags);
    }
    // A page with any used line pointer left cannot be truncated away.
    if (hasTuples || anyUsed(page)) nonemptyPages = blk + 1;
    const free = pageGetHeapFreeSpace(page);
    pool.unlockReleaseBuffer(buffer);
    ctx.fsm.recordPageWithFreeSpace(rel.locator, blk, free);
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
  return result;
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
