/**
 * CREATE INDEX's scan of the heap: which tuples get index entries, and under which TID.
 *
 * Models: src/backend/access/heap/heapam_handler.c (heapam_index_build_range_scan, the
 * non-concurrent case: SnapshotAny with OldestXmin) and pruneheap.c (heap_get_root_tuples).
 * Entry points: `heapIndexBuildRangeScan`, `heapGetRootTuples`.
 * See also: ../table/tableam.ts (indexBuildRangeScan), ../nbtree/nbtsort.ts (the caller),
 * README.HOT-style notes in README.md ("HOT").
 *
 * The rules (HeapTupleSatisfiesVacuum against OldestXmin, per tuple in block and offset order):
 * 1. DEAD: not indexed.
 * 2. LIVE: indexed, alive.
 * 3. RECENTLY_DEAD: indexed (old snapshots may still need it) unless HOT-updated: then only the
 *    chain's later member is indexed, under the root's TID (a "broken HOT chain").
 * 4. INSERT_IN_PROGRESS: indexed, alive.
 * 5. DELETE_IN_PROGRESS: indexed unless HOT-updated, not alive.
 * A heap-only tuple is indexed under the TID of its chain's root line pointer.
 *
 * Differs from PostgreSQL: PostgreSQL waits for another transaction's in-progress insert or
 * delete (with a WARNING "concurrent insert in progress within table") and then re-checks; pgsim
 * has no relation locks keeping such transactions out and does not wait — an in-progress insert
 * is indexed as if it will commit, an in-progress delete as if it will commit too. indcheckxmin
 * (broken HOT chains) is not recorded.
 */

import { ForkNumber } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import {
  HEAP_ONLY_TUPLE,
  heapTupleHeaderGetCtidOffset,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderIsHotUpdated,
  InvalidOffsetNumber,
} from "../../include/access/htup-details.js";
import { InvalidTransactionId } from "../../include/access/transam.js";
import {
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  itemIdGetRedirect,
  LP_DEAD,
  LP_NORMAL,
  LP_UNUSED,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsNew,
} from "../../storage/page/bufpage.js";
import { heapDeformTuple } from "../common/heaptuple.js";
import type { Row, TableRelation, TID } from "../table/tableam.js";
import { toRow, visibilityContext } from "./heapam.js";
import { HTSV, heapTupleSatisfiesVacuum } from "./heapam-visibility.js";
import { heapPagePruneOpt } from "./pruneheap.js";

/**
 * heap_get_root_tuples: for each offset of the page, the offset of the root line pointer of the
 * HOT chain the tuple belongs to (InvalidOffsetNumber = 0 for unused, dead and redirect items and
 * for heap-only tuples no chain reaches). Index 0 of the result is offset 1.
 */
export function heapGetRootTuples(page: Uint8Array): Uint16Array {
  const maxoff = pageGetMaxOffsetNumber(page);
  const root = new Uint16Array(maxoff);
  for (let offnum = 1; offnum <= maxoff; offnum++) {
    let lp = pageGetItemId(page, offnum);
    const flags = itemIdGetFlags(lp);
    if (flags === LP_UNUSED || flags === LP_DEAD) continue;
    let nextoffnum: number;
    let priorXmax: number;
    if (flags === LP_NORMAL) {
      const tup = itemIdGetOffset(lp);
      if ((heapTupleHeaderGetInfomask2(page, tup) & HEAP_ONLY_TUPLE) !== 0) continue;
      root[offnum - 1] = offnum;
      if (!heapTupleHeaderIsHotUpdated(page, tup)) continue;
      nextoffnum = heapTupleHeaderGetCtidOffset(page, tup);
      priorXmax = heapTupleHeaderGetRawXmax(page, tup);
    } else {
      // A redirect: its own entry stays invalid.
      nextoffnum = itemIdGetRedirect(lp);
      priorXmax = InvalidTransactionId;
    }
    // A tuple is visited at most twice (here and in the outer loop): the walk is bounded.
    for (let steps = 0; steps <= maxoff; steps++) {
      if (nextoffnum < 1 || nextoffnum > maxoff) break;
      lp = pageGetItemId(page, nextoffnum);
      if (itemIdGetFlags(lp) !== LP_NORMAL) break;
      const tup = itemIdGetOffset(lp);
      if (
        priorXmax !== InvalidTransactionId &&
        heapTupleHeaderGetRawXmin(page, tup) !== priorXmax
      ) {
        break;
      }
      root[nextoffnum - 1] = offnum;
      if (!heapTupleHeaderIsHotUpdated(page, tup)) break;
      nextoffnum = heapTupleHeaderGetCtidOffset(page, tup);
      priorXmax = heapTupleHeaderGetRawXmax(page, tup);
    }
  }
  return root;
}

/** What the build scan hands the index AM for each tuple to index (IndexBuildCallback). */
export type IndexBuildCallback = (tid: TID, row: Row, tupleIsAlive: boolean) => void;

/**
 * heapam_index_build_range_scan over the whole table: calls `callback` for every tuple that
 * gets an index entry (rules in the header), in heap order, and returns reltuples (the live
 * tuples counted, as PostgreSQL returns). Each page is pinned and share-locked while read; pruning
 * may run first (heap_page_prune_opt, as the scan's heapgetpage does). Leaves no pin.
 */
export function heapIndexBuildRangeScan(rel: TableRelation, callback: IndexBuildCallback): number {
  const { pool, transam } = rel.ctx;
  const oldestXmin = transam.oldestXmin();
  const nblocks = pool.relationExists(rel.locator, ForkNumber.MAIN)
    ? pool.nblocks(rel.locator, ForkNumber.MAIN)
    : 0;
  let reltuples = 0;
  for (let blkno = 0; blkno < nblocks; blkno++) {
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, blkno);
    const entries: { tid: TID; row: Row; alive: boolean }[] = [];
    try {
      heapPagePruneOpt(rel.ctx, rel, buffer);
      pool.lockBuffer(buffer, "share");
      try {
        const page = pool.bufferGetPage(buffer);
        if (pageIsNew(page)) continue;
        const roots = heapGetRootTuples(page);
        const vctx = visibilityContext(rel.ctx, undefined);
        const maxoff = pageGetMaxOffsetNumber(page);
        for (let offnum = 1; offnum <= maxoff; offnum++) {
          const lp = pageGetItemId(page, offnum);
          if (itemIdGetFlags(lp) !== LP_NORMAL) continue;
          const tup = itemIdGetOffset(lp);
          let indexIt: boolean;
          let alive: boolean;
          const hotUpdated = heapTupleHeaderIsHotUpdated(page, tup);
          switch (heapTupleSatisfiesVacuum(page, tup, oldestXmin, vctx)) {
            case HTSV.Dead:
              indexIt = false;
              alive = false;
              break;
            case HTSV.Live:
              indexIt = true;
              alive = true;
              reltuples++;
              break;
            case HTSV.RecentlyDead:
              indexIt = !hotUpdated;
              alive = false;
              break;
            case HTSV.InsertInProgress:
              indexIt = true;
              alive = true;
              reltuples++;
              break;
            default:
              indexIt = !hotUpdated;
              alive = false;
              break;
          }
          if (!indexIt) continue;
          let rootOff = offnum;
          if ((heapTupleHeaderGetInfomask2(page, tup) & HEAP_ONLY_TUPLE) !== 0) {
            rootOff = roots[offnum - 1] ?? InvalidOffsetNumber;
            if (rootOff === InvalidOffsetNumber) {
              throw new PgsimError(
                "data-corrupted",
                `failed to find parent tuple for heap-only tuple at (${blkno},${offnum}) in table "${rel.name}"`,
              );
            }
          }
          const row = toRow(
            rel,
            heapDeformTuple(rel.desc, page.subarray(tup, tup + itemIdGetLength(lp))),
          );
          entries.push({ tid: { block: blkno, offset: rootOff }, row, alive });
        }
        if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
      } finally {
        pool.unlockBuffer(buffer);
      }
    } finally {
      pool.releaseBuffer(buffer);
    }
    // The callback runs with no buffer lock held (PostgreSQL calls it under a pin only).
    for (const e of entries) callback(e.tid, e.row, e.alive);
  }
  return reltuples;
}
