/**
 * VACUUM of a B-tree index: the bulk delete of dead heap TIDs (plain items and posting lists) in
 * one pass over the index in physical block order, deletion of the leaves it empties (half-dead,
 * then unlinked and deleted with a safe xid), recycling of deleted pages through the index's FSM,
 * and the cleanup at the end of VACUUM that keeps the metapage's count of deleted pages.
 *
 * Models: src/backend/access/nbtree/nbtree.c (btbulkdelete, btvacuumcleanup, btvacuumscan,
 * btvacuumpage, btreevacuumposting), nbtpage.c (_bt_delitems_vacuum, _bt_delitems_update,
 * _bt_pagedel, _bt_mark_page_halfdead, _bt_unlink_halfdead_page, _bt_lock_subtree_parent,
 * _bt_leftsib_splitflag, _bt_rightsib_halfdeadflag, _bt_pendingfsm_init / _add / _finalize,
 * _bt_vacuum_needs_cleanup, _bt_set_cleanup_info, _bt_getbuf's P_NEW reuse of FSM pages),
 * nbtinsert.c (_bt_getstackbuf), nbtsearch.c (_bt_search, _bt_moveright for BT_READ),
 * nbtdedup.c (_bt_update_posting), nbtree.h (BTPageSetDeleted, BTPageGetDeleteXid,
 * BTPageIsRecyclable, BTreeTupleSetTopParent / GetTopParent).
 * Entry points: `btBulkDelete` (ambulkdelete), `btVacuumCleanup` (amvacuumcleanup),
 * `btGetFreePage` (the FSM half of _bt_getbuf(P_NEW)). Lazy VACUUM reaches the first two through
 * the IndexAmRoutine (nbtree-am.ts's ambulkdelete and amvacuumcleanup).
 * See also: ../heap/vacuumlazy.ts (the caller), nbtutils-shmem.ts (the shared table of cycle
 * ids), ../../storage/freespace/indexfsm.ts, verify-nbtree.ts (accepts deleted and half-dead pages), README.md ("VACUUM").
 *
 * Locking: btvacuumpage reads each page under a share lock and trades it for a cleanup lock
 * (exclusive, sole pin) on every live leaf, whether or not it has anything to delete, so that no
 * index scan still holds a TID from it that phase 3 is about to make reusable. Page deletion locks
 * pages upward and rightward only: it releases the leaf while it descends to find the parent (share
 * locks, one at a time), re-locks the leaf, then takes the subtree parent exclusively; unlinking
 * locks the left sibling, the target, the right sibling and last the metapage.
 *
 * WAL (when `info.xlog` is given, i.e. the index is logged): each change is logged as PostgreSQL
 * logs it, after the pages changed and before their locks go — XLOG_BTREE_VACUUM per leaf,
 * MARK_PAGE_HALFDEAD, UNLINK_PAGE[_META] per deleted page, META_CLEANUP when the metapage's count
 * changes, REUSE_PAGE when btGetFreePage recycles a deleted page (nbtxlog-vacuum.ts); clearing a
 * page's cycle id with nothing to delete is a hint (not logged).
 *
 * Cycle ids: btbulkdelete takes one for its scan in the shared table (nbtutils-shmem.ts), and a
 * page split in any backend stores it in both halves while the scan runs; btvacuumpage follows
 * the right link of a leaf with this scan's cycle id (and no BTP_SPLIT_END) back to a block the
 * scan has passed, so that tuples a split moved there are not missed.
 *
 * Differs from PostgreSQL: full transaction ids have epoch 0 (pgsim's xids do not wrap);
 * incomplete splits are not finished during page deletion: a parent or left sibling with
 * BTP_INCOMPLETE_SPLIT simply stops the deletion; no predicate locks to move, no
 * progress reporting, no vacuum_delay_point.
 */

import {
  type BufferAccessStrategy,
  type BufferId,
  type BufferPool,
  ForkNumber,
} from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import {
  InvalidBlockNumber,
  type ItemPointer,
  maxAlign,
  readItemPointer,
  readItemPointerBlock,
} from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_HAS_FULLXID,
  BTP_HAS_GARBAGE,
  BTP_INCOMPLETE_SPLIT,
  BTP_ROOT,
  BTP_SPLIT_END,
  type BTPageOpaque,
  BTREE_METAPAGE,
  BTREE_NOVAC_VERSION,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleIsPosting,
  btreeTupleSetDownLink,
  btreeTupleSetNAtts,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pIgnore,
  pIsLeaf,
  pRightmost,
  readBtMeta,
  writeBtMeta,
} from "../../include/access/nbtree.js";
import { FirstNormalTransactionId } from "../../include/access/transam.js";
import type {
  IndexBulkDeleteCallback,
  IndexBulkDeleteResult,
  IndexVacuumRunInfo,
} from "../../include/commands/vacuum.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import type { FreeSpaceMap } from "../../storage/freespace/freespace.js";
import {
  getFreeIndexPage,
  indexFreeSpaceMapVacuum,
  recordFreeIndexPage,
} from "../../storage/freespace/indexfsm.js";
import {
  itemIdGetOffset,
  PD_LOWER_OFFSET,
  PD_UPPER_OFFSET,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetSpecial,
  pageIndexMultiDelete,
  pageIndexTupleDelete,
  pageIndexTupleOverwrite,
  pageIsNew,
} from "../../storage/page/bufpage.js";
import type { XLogBackend } from "../table/tableam.js";
import { btFormPosting } from "./nbtdedup.js";
import { btCheckPage, btPageInit, btReadMeta } from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btBinSrch, btCompare, btScanKeyFromTuple } from "./nbtsearch.js";
import type { BTScanInsert } from "./nbtutils.js";
import { type BtVacInfo, btEndVacuum, btStartVacuum } from "./nbtutils-shmem.js";
import {
  logBtreeMarkPageHalfdead,
  logBtreeMetaCleanup,
  logBtreeReusePage,
  logBtreeUnlinkPage,
  logBtreeVacuum,
} from "./nbtxlog-vacuum.js";

/** The transaction-id facts VACUUM of an index needs (a backend's Transam provides them). */
export interface BtVacuumXids {
  /** ReadNextFullTransactionId (epoch 0). */
  readonly nextXid: number;
  /** GetOldestNonRemovableTransactionId: the horizon GlobalVisCheckRemovableFullXid tests against. */
  oldestXmin(): number;
}

/**
 * IndexVacuumInfo with the index relation and what pgsim's backend passes instead of globals:
 * the buffer pool, the FSM, the transaction ids, the shared cycle-id table and VACUUM's buffer
 * ring.
 */
export interface BtVacuumInfo extends IndexVacuumRunInfo {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  readonly fsm: FreeSpaceMap;
  readonly xids: BtVacuumXids;
  /** The backend's view of the shared table of running VACUUMs (btvacinfo). */
  readonly vacinfo: BtVacInfo;
  /** VACUUM's buffer ring (info->strategy). */
  readonly strategy?: BufferAccessStrategy;
  /** The backend's WAL when the index is WAL-logged (RelationNeedsWAL), else undefined. */
  readonly xlog?: XLogBackend;
}

/** A zeroed IndexBulkDeleteResult (palloc0). */
export function newIndexBulkDeleteResult(): IndexBulkDeleteResult {
  return {
    numPages: 0,
    estimatedCount: false,
    numIndexTuples: 0,
    tuplesRemoved: 0,
    pagesNewlyDeleted: 0,
    pagesDeleted: 0,
    pagesFree: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Deleted pages (nbtree.h)

/** Page offset of BTDeletedPageData's safexid (PageGetContents). */
const DELETED_SAFEXID_OFFSET = 24;
/** pd_lower of a deleted page: MAXALIGN(SizeOfPageHeaderData) + sizeof(BTDeletedPageData). */
const DELETED_PD_LOWER = 24 + 8;

/** P_ISDELETED. */
function pIsDeleted(o: BTPageOpaque): boolean {
  return (o.flags & BTP_DELETED) !== 0;
}

/** P_ISHALFDEAD. */
function pIsHalfDead(o: BTPageOpaque): boolean {
  return (o.flags & BTP_HALF_DEAD) !== 0;
}

/** P_INCOMPLETE_SPLIT. */
function pIncompleteSplit(o: BTPageOpaque): boolean {
  return (o.flags & BTP_INCOMPLETE_SPLIT) !== 0;
}

/**
 * BTPageSetDeleted: HALF_DEAD cleared, DELETED and HAS_FULLXID set, pd_lower 32, pd_upper =
 * pd_special, and the safexid at the start of the page body. The old line pointers and tuples
 * are left as they are.
 */
function btPageSetDeleted(page: Uint8Array, safexid: bigint): void {
  const o = btPageGetOpaque(page);
  o.flags = (o.flags & ~BTP_HALF_DEAD) | BTP_DELETED | BTP_HAS_FULLXID;
  btPageSetOpaque(page, o);
  writeUint16(page, PD_LOWER_OFFSET, DELETED_PD_LOWER);
  writeUint16(page, PD_UPPER_OFFSET, pageGetSpecial(page));
  new DataView(page.buffer, page.byteOffset, page.byteLength).setBigUint64(
    DELETED_SAFEXID_OFFSET,
    safexid,
    true,
  );
}

/**
 * BTPageGetDeleteXid: the deleted page's safexid; a page deleted by PostgreSQL 13 or older (no
 * BTP_HAS_FULLXID) counts as FirstNormalFullTransactionId, always recyclable.
 */
export function btPageGetDeleteXid(page: Uint8Array): bigint {
  const o = btPageGetOpaque(page);
  assert(pIsDeleted(o), "only a deleted page has a safexid");
  if ((o.flags & BTP_HAS_FULLXID) === 0) return BigInt(FirstNormalTransactionId);
  return new DataView(page.buffer, page.byteOffset, page.byteLength).getBigUint64(
    DELETED_SAFEXID_OFFSET,
    true,
  );
}

/**
 * GlobalVisCheckRemovableFullXid(NULL, fxid): no snapshot can still see `fxid` as running — it
 * precedes the oldest xmin of every backend (computed afresh).
 */
function globalVisCheckRemovableFullXid(xids: BtVacuumXids, fxid: bigint): boolean {
  return fxid < BigInt(xids.oldestXmin());
}

/** BTPageIsRecyclable: a deleted page whose safexid no snapshot can still care about. */
export function btPageIsRecyclable(page: Uint8Array, xids: BtVacuumXids): boolean {
  const o = btPageGetOpaque(page);
  if (!pIsDeleted(o)) return false;
  return globalVisCheckRemovableFullXid(xids, btPageGetDeleteXid(page));
}

/** BTreeTupleGetTopParent: the block in a half-dead leaf's dummy high key. */
function btreeTupleGetTopParent(page: Uint8Array, off: number): number {
  return readItemPointerBlock(page, off);
}

/** BTreeTupleSetTopParent: the block, and the tuple marked a pivot with 0 attributes. */
function btreeTupleSetTopParent(page: Uint8Array, off: number, blkno: number): void {
  btreeTupleSetDownLink(page, off, blkno);
  btreeTupleSetNAtts(page, off, 0, false);
}

// ---------------------------------------------------------------------------------------------
// Buffer helpers

function readBlock(info: BtVacuumInfo, blkno: number): BufferId {
  return info.pool.readBuffer(info.index.locator, ForkNumber.MAIN, blkno, {
    ...(info.strategy !== undefined ? { strategy: info.strategy } : {}),
  });
}

/** _bt_getbuf(blkno, access): pinned, locked, checked (_bt_checkpage). */
function btGetBuf(info: BtVacuumInfo, blkno: number, mode: "share" | "exclusive"): BufferId {
  const buf = readBlock(info, blkno);
  info.pool.lockBuffer(buf, mode);
  try {
    btCheckPage(info.pool.bufferGetPage(buf), info.index.name, blkno);
  } catch (e) {
    info.pool.unlockReleaseBuffer(buf);
    throw e;
  }
  return buf;
}

function opaqueOf(info: BtVacuumInfo, buf: BufferId): BTPageOpaque {
  return btPageGetOpaque(info.pool.bufferGetPage(buf));
}

// ---------------------------------------------------------------------------------------------
// btbulkdelete, btvacuumcleanup, btvacuumscan

/** BTVacState: one btvacuumscan's state. */
interface BtVacState {
  readonly info: BtVacuumInfo;
  readonly stats: IndexBulkDeleteResult;
  readonly callback: IndexBulkDeleteCallback | undefined;
  readonly cycleid: number;
  /** _bt_pendingfsm: pages this scan deleted, in deletion (safexid) order; undefined when off. */
  readonly pendingPages: { target: number; safexid: bigint }[] | undefined;
}

/**
 * btbulkdelete: removes from the index every entry whose heap TID `callback` says is dead — plain
 * leaf items, and TIDs inside posting lists (a list keeps its other TIDs) — deleting the leaves it
 * empties. Takes a vacuum cycle id for the scan and gives it back, also on error. `stats` from an
 * earlier round of the same VACUUM is updated and returned.
 *
 * @example
 * ```ts
 * const stats = btBulkDelete(info, undefined, (tid) => dead.has(`${tid.block},${tid.offset}`));
 * stats.tuplesRemoved; // heap TIDs removed
 * ```
 */
export function btBulkDelete(
  info: BtVacuumInfo,
  stats: IndexBulkDeleteResult | undefined,
  callback: IndexBulkDeleteCallback,
): IndexBulkDeleteResult {
  const result = stats ?? newIndexBulkDeleteResult();
  // PG_ENSURE_ERROR_CLEANUP(_bt_end_vacuum_callback): the entry goes whatever happens.
  const cycleid = btStartVacuum(info.vacinfo, info.index);
  try {
    btVacuumScan(info, result, callback, cycleid);
  } finally {
    btEndVacuum(info.vacinfo, info.index);
  }
  return result;
}

/**
 * btvacuumcleanup: the end of a VACUUM. After a bulk delete it only records in the metapage how
 * many deleted pages are not yet in the FSM (_bt_set_cleanup_info). Without one (`stats`
 * undefined) it scans the index only when more than 5% of it are such pages
 * (_bt_vacuum_needs_cleanup), else returns undefined. The tuple count is clamped to the heap's
 * when that one is exact.
 */
export function btVacuumCleanup(
  info: BtVacuumInfo,
  stats: IndexBulkDeleteResult | undefined,
): IndexBulkDeleteResult | undefined {
  if (info.analyzeOnly) return stats;
  let result = stats;
  if (result === undefined) {
    if (!btVacuumNeedsCleanup(info)) return undefined;
    result = newIndexBulkDeleteResult();
    btVacuumScan(info, result, undefined, 0);
    result.estimatedCount = true;
  }
  assert(result.pagesDeleted >= result.pagesFree, "pages_deleted >= pages_free");
  btSetCleanupInfo(info, result.pagesDeleted - result.pagesFree);
  if (!info.estimatedCount && result.numIndexTuples > info.numHeapTuples) {
    result.numIndexTuples = info.numHeapTuples;
  }
  return result;
}

/**
 * _bt_vacuum_needs_cleanup: a cleanup-only scan is worth it when the deleted pages the last
 * VACUUM could not yet recycle are more than 5% of the index (or the metapage predates them).
 */
function btVacuumNeedsCleanup(info: BtVacuumInfo): boolean {
  const metabuf = btGetBuf(info, BTREE_METAPAGE, "share");
  const meta = btReadMeta(info.pool.bufferGetPage(metabuf), info.index.name);
  info.pool.unlockReleaseBuffer(metabuf);
  if (meta.version < BTREE_NOVAC_VERSION) return true;
  const prev = meta.lastCleanupNumDelpages;
  const nblocks = info.pool.nblocks(info.index.locator, ForkNumber.MAIN);
  return prev > 0 && prev > Math.floor(nblocks / 20);
}

/**
 * _bt_set_cleanup_info: records `numDelpages` in the metapage (and −1 as the deprecated heap
 * tuple count), writing only when the value changes.
 */
function btSetCleanupInfo(info: BtVacuumInfo, numDelpages: number): void {
  const pool = info.pool;
  const metabuf = btGetBuf(info, BTREE_METAPAGE, "share");
  try {
    const page = pool.bufferGetPage(metabuf);
    let meta = btReadMeta(page, info.index.name);
    if (meta.version >= BTREE_NOVAC_VERSION && meta.lastCleanupNumDelpages === numDelpages) return;
    pool.unlockBuffer(metabuf);
    pool.lockBuffer(metabuf, "exclusive");
    meta = btReadMeta(page, info.index.name);
    writeBtMeta(page, {
      ...meta,
      version: Math.max(meta.version, BTREE_NOVAC_VERSION),
      lastCleanupNumDelpages: numDelpages,
      lastCleanupNumHeapTuples: -1.0,
    });
    pool.markBufferDirty(metabuf);
    if (info.xlog !== undefined) {
      logBtreeMetaCleanup(info.xlog, { rel: info.index.locator, block: BTREE_METAPAGE, page });
    }
  } finally {
    pool.unlockReleaseBuffer(metabuf);
  }
}

/**
 * btvacuumscan: every block from 1 on, in physical order, until the index stops growing
 * (btvacuumpage), then the size, the pending deleted pages that are already safe into the FSM
 * (_bt_pendingfsm_finalize) and, when any page went to the FSM, its upper levels.
 */
function btVacuumScan(
  info: BtVacuumInfo,
  stats: IndexBulkDeleteResult,
  callback: IndexBulkDeleteCallback | undefined,
  cycleid: number,
): void {
  stats.numPages = 0;
  stats.numIndexTuples = 0;
  stats.pagesDeleted = 0;
  stats.pagesFree = 0;
  // _bt_pendingfsm_init: not for cleanup-only scans (they expect no newly deleted pages).
  const vstate: BtVacState = {
    info,
    stats,
    callback,
    cycleid,
    pendingPages: callback === undefined ? undefined : [],
  };
  let scanblkno = BTREE_METAPAGE + 1;
  let numPages = 0;
  for (let rounds = 0; ; rounds++) {
    assert(rounds <= 1_000_000, "btvacuumscan's relation length rechecks are bounded");
    numPages = info.pool.nblocks(info.index.locator, ForkNumber.MAIN);
    if (scanblkno >= numPages) break;
    for (; scanblkno < numPages; scanblkno++) btVacuumPage(vstate, scanblkno);
  }
  stats.numPages = numPages;
  btPendingFsmFinalize(vstate);
  if (stats.pagesFree > 0) indexFreeSpaceMapVacuum(info.fsm, info.index.locator);
}

/**
 * _bt_pendingfsm_finalize: with a fresh horizon, the pages this scan deleted go to the FSM in
 * deletion order, up to the first whose safexid is not yet safe (all later ones are newer).
 */
function btPendingFsmFinalize(vstate: BtVacState): void {
  const pending = vstate.pendingPages;
  if (pending === undefined || pending.length === 0) return;
  for (const { target, safexid } of pending) {
    if (!globalVisCheckRemovableFullXid(vstate.info.xids, safexid)) break;
    recordFreeIndexPage(vstate.info.fsm, vstate.info.index.locator, target);
    vstate.stats.pagesFree++;
  }
}

/** btvacuumpage's posting-list step (btreevacuumposting): the positions of the dead TIDs. */
function btreeVacuumPosting(
  vstate: BtVacState,
  page: Uint8Array,
  t: number,
): { deletetids: number[]; nremaining: number } {
  const n = btreeTupleGetNPosting(page, t);
  const deletetids: number[] = [];
  let live = 0;
  for (let i = 0; i < n; i++) {
    if (vstate.callback!(btreeTupleGetPostingN(page, t, i))) deletetids.push(i);
    else live++;
  }
  return { deletetids, nremaining: live };
}

/** BTVacuumPostingData: a posting list to rewrite without some of its TIDs. */
interface BtVacuumPosting {
  readonly updatedoffset: number;
  /** The tuple's bytes as they were. */
  readonly itup: Uint8Array;
  /** 0-based positions of the TIDs to remove. */
  readonly deletetids: readonly number[];
}

/**
 * btvacuumpage: one block of the scan, and the pages a concurrent split moved tuples to behind
 * the scan (backtracking through right links while they carry this scan's cycle id).
 */
function btVacuumPage(vstate: BtVacState, scanblkno: number): void {
  const { info, stats } = vstate;
  const pool = info.pool;
  let blkno = scanblkno;
  for (let backtracks = 0; ; backtracks++) {
    assert(backtracks <= scanblkno, "btvacuumpage backtracks to earlier blocks only");
    let attemptPagedel = false;
    let backtrackTo = P_NONE;
    // Not _bt_getbuf: an all-zero page is to be recycled, not refused.
    const buf = readBlock(info, blkno);
    pool.lockBuffer(buf, "share");
    const page = pool.bufferGetPage(buf);
    let opaque: BTPageOpaque | undefined;
    if (!pageIsNew(page)) {
      try {
        btCheckPage(page, info.index.name, blkno);
      } catch (e) {
        pool.unlockReleaseBuffer(buf);
        throw e;
      }
      opaque = btPageGetOpaque(page);
    }
    if (blkno !== scanblkno) {
      // Backtracking: only a live leaf that still has this scan's cycle id is of interest.
      if (opaque === undefined || !pIsLeaf(opaque) || pIsHalfDead(opaque)) {
        pool.unlockReleaseBuffer(buf);
        return;
      }
      if (opaque.cycleid !== vstate.cycleid || pIsDeleted(opaque)) {
        pool.unlockReleaseBuffer(buf);
        return;
      }
    }
    if (opaque === undefined || btPageIsRecyclable(page, info.xids)) {
      // A page to recycle, leaf or internal.
      recordFreeIndexPage(info.fsm, info.index.locator, blkno);
      stats.pagesDeleted++;
      stats.pagesFree++;
    } else if (pIsDeleted(opaque)) {
      stats.pagesDeleted++;
    } else if (pIsHalfDead(opaque)) {
      // Left by an interrupted VACUUM: finish the deletion (_bt_pagedel counts it).
      attemptPagedel = true;
    } else if (pIsLeaf(opaque)) {
      // _bt_upgradelockbufcleanup: a cleanup lock on every leaf, deletable items or not.
      pool.unlockBuffer(buf);
      pool.lockBufferForCleanup(buf);
      opaque = btPageGetOpaque(page);
      if (
        vstate.cycleid !== 0 &&
        opaque.cycleid === vstate.cycleid &&
        (opaque.flags & BTP_SPLIT_END) === 0 &&
        !pRightmost(opaque) &&
        opaque.next < scanblkno
      ) {
        backtrackTo = opaque.next;
      }
      const deletable: number[] = [];
      const updatable: BtVacuumPosting[] = [];
      const minoff = pFirstDataKey(opaque);
      let maxoff = pageGetMaxOffsetNumber(page);
      let nhtidsdead = 0;
      let nhtidslive = 0;
      if (vstate.callback !== undefined) {
        for (let offnum = minoff; offnum <= maxoff; offnum++) {
          const t = itemIdGetOffset(pageGetItemId(page, offnum));
          if (!btreeTupleIsPosting(page, t)) {
            if (vstate.callback(readItemPointer(page, t))) {
              deletable.push(offnum);
              nhtidsdead++;
            } else {
              nhtidslive++;
            }
            continue;
          }
          const n = btreeTupleGetNPosting(page, t);
          const { deletetids, nremaining } = btreeVacuumPosting(vstate, page, t);
          if (deletetids.length === 0) {
            // Every TID stays.
          } else if (nremaining > 0) {
            updatable.push({
              updatedoffset: offnum,
              itup: page.slice(t, t + indexTupleSize(page, t)),
              deletetids,
            });
            nhtidsdead += n - nremaining;
          } else {
            deletable.push(offnum);
            nhtidsdead += n;
          }
          nhtidslive += nremaining;
        }
      }
      if (deletable.length > 0 || updatable.length > 0) {
        btDelitemsVacuum(info, buf, deletable, updatable);
        stats.tuplesRemoved += nhtidsdead;
        maxoff = pageGetMaxOffsetNumber(page);
      } else if (vstate.cycleid !== 0 && opaque.cycleid === vstate.cycleid) {
        // Split during this VACUUM but nothing to delete: clear the cycle id as a hint, so the
        // page is not processed again.
        btPageSetOpaque(page, { ...opaque, cycleid: 0 });
        pool.markBufferDirtyHint(buf, true);
      }
      if (minoff > maxoff) attemptPagedel = blkno === scanblkno;
      else if (vstate.callback !== undefined) stats.numIndexTuples += nhtidslive;
      else stats.numIndexTuples += maxoff - minoff + 1;
    }
    if (attemptPagedel) {
      // _bt_pagedel releases the buffer.
      btPagedel(vstate, buf, scanblkno);
    } else {
      pool.unlockReleaseBuffer(buf);
    }
    if (backtrackTo === P_NONE) return;
    blkno = backtrackTo;
  }
}

/**
 * _bt_delitems_vacuum: rewrites the updatable posting lists (_bt_update_posting, in place with
 * PageIndexTupleOverwrite) first, then deletes the deletable items (PageIndexMultiDelete); the
 * page's cycle id and BTP_HAS_GARBAGE are cleared. The caller holds a cleanup lock.
 */
function btDelitemsVacuum(
  info: BtVacuumInfo,
  buf: BufferId,
  deletable: readonly number[],
  updatable: readonly BtVacuumPosting[],
): void {
  const pool = info.pool;
  const page = pool.bufferGetPage(buf);
  for (const u of updatable) {
    const n = btreeTupleGetNPosting(u.itup, 0);
    const dead = new Set(u.deletetids);
    const remaining: ItemPointer[] = [];
    for (let i = 0; i < n; i++)
      if (!dead.has(i)) remaining.push(btreeTupleGetPostingN(u.itup, 0, i));
    assert(remaining.length > 0 && remaining.length < n, "an updated posting list keeps some TIDs");
    // _bt_update_posting forms the tuple as _bt_form_posting does (one TID: a plain tuple).
    const itup = btFormPosting(u.itup, remaining);
    assert(itup.length === maxAlign(itup.length), "the new posting tuple is MAXALIGNed");
    if (!pageIndexTupleOverwrite(page, u.updatedoffset, itup)) {
      throw new PgsimError(
        "internal-error",
        `failed to update partially dead item in block ${pool.bufferGetBlockNumber(buf)} of index "${info.index.name}"`,
      );
    }
  }
  if (deletable.length > 0) pageIndexMultiDelete(page, deletable);
  const opaque = btPageGetOpaque(page);
  btPageSetOpaque(page, { ...opaque, cycleid: 0, flags: opaque.flags & ~BTP_HAS_GARBAGE });
  pool.markBufferDirty(buf);
  if (info.xlog !== undefined) {
    logBtreeVacuum(
      info.xlog,
      { rel: info.index.locator, block: pool.bufferGetBlockNumber(buf), page },
      deletable,
      updatable.map((u) => ({ offset: u.updatedoffset, deletetids: u.deletetids })),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Page deletion (nbtpage.c)

/** BTStackData: one level of a descent (the page and the offset of the downlink followed). */
interface BtStack {
  blkno: number;
  offset: number;
  readonly parent: BtStack | undefined;
}

/**
 * _bt_moveright for BT_READ: while the page is half-dead or deleted, or the key is ≥ its high key
 * (pivot search: equal stays), move to the right sibling, one lock at a time.
 */
function btMoveRightRead(info: BtVacuumInfo, key: BTScanInsert, buf: BufferId): BufferId {
  const pool = info.pool;
  const nblocks = pool.nblocks(info.index.locator, ForkNumber.MAIN);
  let current = buf;
  for (let steps = 0; ; steps++) {
    assert(steps <= nblocks, "_bt_moveright visits each page at most once");
    const page = pool.bufferGetPage(current);
    const opaque = btPageGetOpaque(page);
    if (pRightmost(opaque)) break;
    if (!pIgnore(opaque) && btCompare(info.index, key, page, P_HIKEY) < 1) break;
    const next = opaque.next;
    pool.unlockReleaseBuffer(current);
    current = btGetBuf(info, next, "share");
  }
  if (pIgnore(opaqueOf(info, current))) {
    pool.unlockReleaseBuffer(current);
    throw new PgsimError("index-corrupted", `fell off the end of index "${info.index.name}"`);
  }
  return current;
}

/**
 * _bt_search(BT_READ) from the fast root: the leaf for `key`, returned share-locked, and the stack
 * of the internal pages and downlink offsets on the way down.
 */
function btSearchStack(
  info: BtVacuumInfo,
  key: BTScanInsert,
): { leaf: BufferId; stack: BtStack | undefined } {
  const pool = info.pool;
  const metabuf = btGetBuf(info, BTREE_METAPAGE, "share");
  const meta = btReadMeta(pool.bufferGetPage(metabuf), info.index.name);
  pool.unlockReleaseBuffer(metabuf);
  assert(meta.root !== P_NONE, "a page to delete means the index has a root");
  let buf = btGetBuf(info, meta.fastroot, "share");
  let stack: BtStack | undefined;
  const nblocks = pool.nblocks(info.index.locator, ForkNumber.MAIN);
  for (let depth = 0; ; depth++) {
    assert(depth <= nblocks, "_bt_search descends at most once per level");
    buf = btMoveRightRead(info, key, buf);
    const page = pool.bufferGetPage(buf);
    if (pIsLeaf(btPageGetOpaque(page))) return { leaf: buf, stack };
    const offnum = btBinSrch(info.index, key, page);
    const child = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, offnum)));
    stack = { blkno: pool.bufferGetBlockNumber(buf), offset: offnum, parent: stack };
    pool.unlockReleaseBuffer(buf);
    buf = btGetBuf(info, child, "share");
  }
}

/**
 * _bt_getstackbuf: the parent page that now holds the downlink to `child`, exclusively locked,
 * searching from the remembered offset right then left, then the pages to the right; the stack
 * entry is updated to where the downlink is. Undefined when it cannot be found.
 */
function btGetStackBuf(info: BtVacuumInfo, stack: BtStack, child: number): BufferId | undefined {
  const pool = info.pool;
  let blkno = stack.blkno;
  let start = stack.offset;
  const nblocks = pool.nblocks(info.index.locator, ForkNumber.MAIN);
  for (let steps = 0; ; steps++) {
    assert(steps <= nblocks, "_bt_getstackbuf visits each page at most once");
    const buf = btGetBuf(info, blkno, "exclusive");
    const page = pool.bufferGetPage(buf);
    const opaque = btPageGetOpaque(page);
    if (!pIgnore(opaque)) {
      const minoff = pFirstDataKey(opaque);
      const maxoff = pageGetMaxOffsetNumber(page);
      if (start < minoff) start = minoff;
      if (start > maxoff) start = maxoff + 1;
      const downlink = (off: number) =>
        btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off)));
      for (let off = start; off <= maxoff; off++) {
        if (downlink(off) === child) {
          stack.blkno = blkno;
          stack.offset = off;
          return buf;
        }
      }
      for (let off = start - 1; off >= minoff; off--) {
        if (downlink(off) === child) {
          stack.blkno = blkno;
          stack.offset = off;
          return buf;
        }
      }
    }
    if (pRightmost(opaque)) {
      pool.unlockReleaseBuffer(buf);
      return undefined;
    }
    blkno = opaque.next;
    start = 0;
    pool.unlockReleaseBuffer(buf);
  }
}

/** _bt_leftsib_splitflag: the left sibling still points at `target` and has an incomplete split. */
function btLeftsibSplitflag(info: BtVacuumInfo, leftsib: number, target: number): boolean {
  if (leftsib === P_NONE) return false;
  const buf = btGetBuf(info, leftsib, "share");
  const o = opaqueOf(info, buf);
  info.pool.unlockReleaseBuffer(buf);
  return o.next === target && pIncompleteSplit(o);
}

/** _bt_rightsib_halfdeadflag: the right sibling is half-dead. */
function btRightsibHalfdeadflag(info: BtVacuumInfo, leafrightsib: number): boolean {
  if (leafrightsib === P_NONE) return false;
  const buf = btGetBuf(info, leafrightsib, "share");
  const o = opaqueOf(info, buf);
  info.pool.unlockReleaseBuffer(buf);
  return pIsHalfDead(o);
}

/**
 * _bt_pagedel: deletes the empty leaf `leafbuf` (cleanup- or exclusively locked; released on
 * return) if it may be: not rightmost, not the root, no items, no incomplete split next to it.
 * Stage 1 (_bt_mark_page_halfdead) removes the downlink of the subtree it heads and marks it
 * half-dead; stage 2 (_bt_unlink_halfdead_page) unlinks the subtree's pages from the top down
 * until the leaf itself is deleted. Then its right sibling is tried when that is empty too.
 */
function btPagedel(vstate: BtVacState, leafbufIn: BufferId, scanblkno: number): void {
  const { info } = vstate;
  const pool = info.pool;
  let leafbuf = leafbufIn;
  let stack: BtStack | undefined;
  let searched = false;
  const nblocks = pool.nblocks(info.index.locator, ForkNumber.MAIN);
  for (let rounds = 0; ; rounds++) {
    assert(rounds <= 2 * nblocks + 2, "_bt_pagedel deletes each page once");
    const page = pool.bufferGetPage(leafbuf);
    let opaque = btPageGetOpaque(page);
    if (!pIsLeaf(opaque) || pIsDeleted(opaque)) {
      // Only VACUUM deletes pages: a deleted page reached here means corruption (PostgreSQL
      // logs it and presses on).
      pool.unlockReleaseBuffer(leafbuf);
      return;
    }
    if (
      pRightmost(opaque) ||
      (opaque.flags & BTP_ROOT) !== 0 ||
      pFirstDataKey(opaque) <= pageGetMaxOffsetNumber(page) ||
      pIncompleteSplit(opaque)
    ) {
      pool.unlockReleaseBuffer(leafbuf);
      return;
    }
    if (!pIsHalfDead(opaque)) {
      if (!searched) {
        // Find the parent: a pivot search for the leaf's high key, with the leaf unlocked (but
        // pinned) to avoid deadlocks, then re-lock it and start over with the stack.
        const hikeyOff = itemIdGetOffset(pageGetItemId(page, P_HIKEY));
        const key = btScanKeyFromTuple(info.index, page, hikeyOff);
        key.pivotsearch = true;
        const leftsib = opaque.prev;
        const leafblkno = pool.bufferGetBlockNumber(leafbuf);
        pool.unlockBuffer(leafbuf);
        if (btLeftsibSplitflag(info, leftsib, leafblkno)) {
          pool.releaseBuffer(leafbuf);
          return;
        }
        let found: ReturnType<typeof btSearchStack>;
        try {
          found = btSearchStack(info, key);
        } catch (e) {
          pool.releaseBuffer(leafbuf);
          throw e;
        }
        pool.unlockReleaseBuffer(found.leaf);
        stack = found.stack;
        searched = true;
        pool.lockBuffer(leafbuf, "exclusive");
        continue;
      }
      let marked: boolean;
      try {
        marked = btMarkPageHalfdead(info, leafbuf, stack);
      } catch (e) {
        pool.unlockReleaseBuffer(leafbuf);
        throw e;
      }
      if (!marked) {
        pool.unlockReleaseBuffer(leafbuf);
        return;
      }
    }
    // Unlink the subtree from its top down; each call deletes one page.
    let rightsibEmpty = false;
    opaque = btPageGetOpaque(page);
    for (let levels = 0; pIsHalfDead(opaque); levels++) {
      assert(levels <= nblocks, "_bt_unlink_halfdead_page deletes one level at a time");
      const r = btUnlinkHalfdeadPage(vstate, leafbuf, scanblkno);
      if (r === undefined) return;
      rightsibEmpty = r.rightsibEmpty;
      opaque = btPageGetOpaque(page);
    }
    assert(pIsLeaf(opaque) && pIsDeleted(opaque), "the leaf ends deleted");
    const rightsib = opaque.next;
    pool.unlockReleaseBuffer(leafbuf);
    // Its right sibling may have been undeletable only as its parent's rightmost child.
    if (!rightsibEmpty) return;
    leafbuf = btGetBuf(info, rightsib, "exclusive");
  }
}

/**
 * _bt_mark_page_halfdead: stage 1. Finds the subtree parent (_bt_lock_subtree_parent), checks
 * that the pivot after the downlink leads to the subtree's right sibling, points the downlink at
 * that sibling and deletes the pivot after it (the key space moves right), then marks the leaf
 * half-dead with a dummy high key holding the top parent (or InvalidBlockNumber). False when the
 * leaf may not be deleted now.
 */
function btMarkPageHalfdead(
  info: BtVacuumInfo,
  leafbuf: BufferId,
  stack: BtStack | undefined,
): boolean {
  const pool = info.pool;
  const page = pool.bufferGetPage(leafbuf);
  const opaque = btPageGetOpaque(page);
  const leafblkno = pool.bufferGetBlockNumber(leafbuf);
  const leafrightsib = opaque.next;
  if (btRightsibHalfdeadflag(info, leafrightsib)) return false;
  const found = btLockSubtreeParent(info, leafblkno, stack, {
    topparent: leafblkno,
    topparentrightsib: leafrightsib,
  });
  if (found === undefined) return false;
  const { subtreeparent, poffset, topparent, topparentrightsib } = found;
  const ppage = pool.bufferGetPage(subtreeparent);
  try {
    const nextoffset = poffset + 1;
    const nextDownlink = btreeTupleGetDownLink(
      ppage,
      itemIdGetOffset(pageGetItemId(ppage, nextoffset)),
    );
    if (nextDownlink !== topparentrightsib) {
      throw new PgsimError(
        "index-corrupted",
        `right sibling ${topparentrightsib} of block ${topparent} is not next child ${nextDownlink} of block ${pool.bufferGetBlockNumber(subtreeparent)} in index "${info.index.name}"`,
      );
    }
    // The subtree parent: the downlink to the top parent now leads to its right sibling, and
    // that sibling's old pivot goes.
    btreeTupleSetDownLink(ppage, itemIdGetOffset(pageGetItemId(ppage, poffset)), topparentrightsib);
    pageIndexTupleDelete(ppage, nextoffset);
    // The leaf: half-dead, with the 8-byte dummy high key (t_info 8, pivot with 0 attributes).
    btPageSetOpaque(page, { ...opaque, flags: opaque.flags | BTP_HALF_DEAD });
    assert(pageGetMaxOffsetNumber(page) === P_HIKEY, "an empty leaf holds only its high key");
    const trunctuple = new Uint8Array(8);
    writeUint16(trunctuple, 6, 8);
    btreeTupleSetTopParent(trunctuple, 0, topparent !== leafblkno ? topparent : InvalidBlockNumber);
    if (!pageIndexTupleOverwrite(page, P_HIKEY, trunctuple)) {
      throw new PgsimError("internal-error", "could not overwrite high key in half-dead page");
    }
    pool.markBufferDirty(subtreeparent);
    pool.markBufferDirty(leafbuf);
    if (info.xlog !== undefined) {
      logBtreeMarkPageHalfdead(
        info.xlog,
        { rel: info.index.locator, block: leafblkno, page },
        { rel: info.index.locator, block: pool.bufferGetBlockNumber(subtreeparent), page: ppage },
        { poffset, topparent },
      );
    }
  } finally {
    pool.unlockReleaseBuffer(subtreeparent);
  }
  return true;
}

/**
 * _bt_lock_subtree_parent: the parent holding the downlink to `child`, exclusively locked, and
 * that downlink's offset — when `child` is not its parent's rightmost child. A parent's only
 * child (parent not rightmost on its level) makes the parent part of the subtree to delete, and
 * the check goes one level up. Undefined when nothing may be deleted.
 */
function btLockSubtreeParent(
  info: BtVacuumInfo,
  child: number,
  stack: BtStack | undefined,
  top: { topparent: number; topparentrightsib: number },
):
  | { subtreeparent: BufferId; poffset: number; topparent: number; topparentrightsib: number }
  | undefined {
  const pool = info.pool;
  if (stack === undefined) return undefined;
  const pbuf = btGetStackBuf(info, stack, child);
  if (pbuf === undefined) return undefined;
  const parent = stack.blkno;
  const parentoffset = stack.offset;
  const page = pool.bufferGetPage(pbuf);
  const opaque = btPageGetOpaque(page);
  const maxoff = pageGetMaxOffsetNumber(page);
  const leftsibparent = opaque.prev;
  if (pIncompleteSplit(opaque)) {
    pool.unlockReleaseBuffer(pbuf);
    return undefined;
  }
  if (parentoffset < maxoff) {
    return { subtreeparent: pbuf, poffset: parentoffset, ...top };
  }
  if (parentoffset !== pFirstDataKey(opaque) || pRightmost(opaque)) {
    pool.unlockReleaseBuffer(pbuf);
    return undefined;
  }
  const next = { topparent: parent, topparentrightsib: opaque.next };
  pool.unlockReleaseBuffer(pbuf);
  if (btLeftsibSplitflag(info, leftsibparent, parent)) return undefined;
  return btLockSubtreeParent(info, parent, stack.parent, next);
}

/**
 * _bt_unlink_halfdead_page: stage 2, one page — the top of the half-dead leaf's subtree (its
 * dummy high key's link) or the leaf itself. Locks the left sibling (moving right if it split),
 * the target and the right sibling, links the siblings to each other, moves the leaf's link down
 * to the target's only child, and marks the target deleted with safexid = the next xid. When the
 * target was leftmost and its right sibling becomes alone on its level, that sibling becomes the
 * fast root. Returns with `leafbuf` locked again, or undefined (buffers released) when the left
 * sibling cannot be found.
 */
function btUnlinkHalfdeadPage(
  vstate: BtVacState,
  leafbuf: BufferId,
  scanblkno: number,
): { rightsibEmpty: boolean } | undefined {
  const { info, stats } = vstate;
  const pool = info.pool;
  const name = info.index.name;
  const leafblkno = pool.bufferGetBlockNumber(leafbuf);
  const leafpage = pool.bufferGetPage(leafbuf);
  let opaque = btPageGetOpaque(leafpage);
  const leafhikeyOff = itemIdGetOffset(pageGetItemId(leafpage, P_HIKEY));
  let target = btreeTupleGetTopParent(leafpage, leafhikeyOff);
  const leafleftsib = opaque.prev;
  const leafrightsib = opaque.next;
  pool.unlockBuffer(leafbuf);

  let buf: BufferId;
  let leftsib: number;
  let targetlevel: number;
  if (target === InvalidBlockNumber) {
    target = leafblkno;
    buf = leafbuf;
    leftsib = leafleftsib;
    targetlevel = 0;
  } else {
    assert(target !== leafblkno, "the top parent is above the leaf");
    buf = btGetBuf(info, target, "share");
    opaque = opaqueOf(info, buf);
    leftsib = opaque.prev;
    targetlevel = opaque.level;
    assert(targetlevel > 0, "the top parent is an internal page");
    pool.unlockBuffer(buf);
  }
  if (target !== leafblkno) pool.lockBuffer(leafbuf, "exclusive");
  let lbuf: BufferId | undefined;
  if (leftsib !== P_NONE) {
    lbuf = btGetBuf(info, leftsib, "exclusive");
    opaque = opaqueOf(info, lbuf);
    const nblocks = pool.nblocks(info.index.locator, ForkNumber.MAIN);
    for (let steps = 0; pIsDeleted(opaque) || opaque.next !== target; steps++) {
      assert(
        steps <= nblocks,
        "the search for the left sibling moves right a bounded number of times",
      );
      const leftsibvalid = !(pRightmost(opaque) || pIsDeleted(opaque) || leftsib === opaque.next);
      leftsib = opaque.next;
      pool.unlockReleaseBuffer(lbuf);
      if (!leftsibvalid) {
        // PostgreSQL logs "valid left sibling for deletion target could not be located" and
        // presses on with the rest of the index.
        pool.releaseBuffer(buf);
        if (target !== leafblkno) pool.unlockReleaseBuffer(leafbuf);
        return undefined;
      }
      lbuf = btGetBuf(info, leftsib, "exclusive");
      opaque = opaqueOf(info, lbuf);
    }
  }
  pool.lockBuffer(buf, "exclusive");
  const page = pool.bufferGetPage(buf);
  opaque = btPageGetOpaque(page);
  // An error leaves nothing locked or pinned (PostgreSQL's resource owner does that on ERROR).
  const fail = (message: string): PgsimError => {
    if (lbuf !== undefined) pool.unlockReleaseBuffer(lbuf);
    pool.unlockReleaseBuffer(buf);
    if (target !== leafblkno) pool.unlockReleaseBuffer(leafbuf);
    return new PgsimError("index-corrupted", message);
  };
  if (pRightmost(opaque) || (opaque.flags & BTP_ROOT) !== 0 || pIsDeleted(opaque)) {
    throw fail(`target page changed status unexpectedly in block ${target} of index "${name}"`);
  }
  if (opaque.prev !== leftsib) {
    throw fail(
      `target page left link unexpectedly changed from ${leftsib} to ${opaque.prev} in block ${target} of index "${name}"`,
    );
  }
  let leaftopparent: number;
  if (target === leafblkno) {
    if (
      pFirstDataKey(opaque) <= pageGetMaxOffsetNumber(page) ||
      !pIsLeaf(opaque) ||
      !pIsHalfDead(opaque)
    ) {
      throw fail(
        `target leaf page changed status unexpectedly in block ${target} of index "${name}"`,
      );
    }
    leaftopparent = InvalidBlockNumber;
  } else {
    if (pFirstDataKey(opaque) !== pageGetMaxOffsetNumber(page) || pIsLeaf(opaque)) {
      throw fail(
        `target internal page on level ${targetlevel} changed status unexpectedly in block ${target} of index "${name}"`,
      );
    }
    leaftopparent = btreeTupleGetDownLink(
      page,
      itemIdGetOffset(pageGetItemId(page, pFirstDataKey(opaque))),
    );
    if (leaftopparent === leafblkno) leaftopparent = InvalidBlockNumber;
  }
  const rightsib = opaque.next;
  const rbuf = btGetBuf(info, rightsib, "exclusive");
  const rpage = pool.bufferGetPage(rbuf);
  const ropaque = btPageGetOpaque(rpage);
  if (ropaque.prev !== target) {
    pool.unlockReleaseBuffer(rbuf);
    throw fail(
      `right sibling's left-link doesn't match: block ${rightsib} links to ${ropaque.prev} instead of expected ${target} in index "${name}"`,
    );
  }
  const rightsibIsRightmost = pRightmost(ropaque);
  const rightsibEmpty = pFirstDataKey(ropaque) > pageGetMaxOffsetNumber(rpage);
  // The right sibling alone on its level: a candidate for the fast root.
  let metabuf: BufferId | undefined;
  if (leftsib === P_NONE && rightsibIsRightmost) {
    metabuf = btGetBuf(info, BTREE_METAPAGE, "exclusive");
    const meta = readBtMeta(pool.bufferGetPage(metabuf));
    if (meta.fastlevel > targetlevel + 1) {
      pool.unlockReleaseBuffer(metabuf);
      metabuf = undefined;
    }
  }
  // The deletion itself.
  if (lbuf !== undefined) {
    const lpage = pool.bufferGetPage(lbuf);
    const lo = btPageGetOpaque(lpage);
    assert(lo.next === target, "the left sibling links to the target");
    btPageSetOpaque(lpage, { ...lo, next: rightsib });
  }
  btPageSetOpaque(rpage, { ...ropaque, prev: leftsib });
  if (target !== leafblkno) btreeTupleSetTopParent(leafpage, leafhikeyOff, leaftopparent);
  const safexid = BigInt(info.xids.nextXid);
  btPageSetDeleted(page, safexid);
  btPageSetOpaque(page, { ...btPageGetOpaque(page), cycleid: 0 });
  if (metabuf !== undefined) {
    const mpage = pool.bufferGetPage(metabuf);
    const meta = readBtMeta(mpage);
    writeBtMeta(mpage, {
      ...meta,
      version: Math.max(meta.version, BTREE_NOVAC_VERSION),
      fastroot: rightsib,
      fastlevel: targetlevel,
    });
    pool.markBufferDirty(metabuf);
  }
  pool.markBufferDirty(rbuf);
  pool.markBufferDirty(buf);
  if (lbuf !== undefined) pool.markBufferDirty(lbuf);
  if (target !== leafblkno) pool.markBufferDirty(leafbuf);
  if (info.xlog !== undefined) {
    const at = (b: BufferId) => ({
      rel: info.index.locator,
      block: pool.bufferGetBlockNumber(b),
      page: pool.bufferGetPage(b),
    });
    logBtreeUnlinkPage(
      info.xlog,
      {
        target: at(buf),
        left: lbuf !== undefined ? at(lbuf) : undefined,
        right: at(rbuf),
        leaf: target !== leafblkno ? at(leafbuf) : undefined,
        meta: metabuf !== undefined ? at(metabuf) : undefined,
      },
      {
        leftsib,
        rightsib,
        level: targetlevel,
        safexid,
        leafleftsib,
        leafrightsib,
        leaftopparent,
      },
    );
  }
  if (metabuf !== undefined) pool.unlockReleaseBuffer(metabuf);
  if (lbuf !== undefined) pool.unlockReleaseBuffer(lbuf);
  pool.unlockReleaseBuffer(rbuf);
  if (target !== leafblkno) pool.unlockReleaseBuffer(buf);
  // pages_deleted counts a target behind the scan now; one ahead is counted when the scan
  // reaches it.
  stats.pagesNewlyDeleted++;
  if (target <= scanblkno) stats.pagesDeleted++;
  vstate.pendingPages?.push({ target, safexid });
  return { rightsibEmpty };
}

// ---------------------------------------------------------------------------------------------
// Page allocation from the FSM (nbtpage.c _bt_getbuf with P_NEW, PostgreSQL 15)

/**
 * The FSM half of _bt_getbuf(rel, P_NEW, BT_WRITE): a page of the index its FSM offers that is
 * all-zero or deleted and recyclable (BTPageIsRecyclable), re-initialised (_bt_pageinit, special
 * space zero: the caller fills it) and returned pinned and exclusively locked — or undefined when
 * the FSM has none, and the caller extends the relation. A page that cannot be locked at once,
 * or that is not recyclable after all, is skipped (PostgreSQL's DEBUG "FSM returned nonlockable
 * page" / "nonrecyclable page"); GetFreeIndexPage has marked it used either way.
 *
 */
export function btGetFreePage(options: {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  readonly fsm: FreeSpaceMap;
  readonly xids: BtVacuumXids;
  /** The backend's WAL when the index is WAL-logged: a recycled deleted page is logged first. */
  readonly xlog?: XLogBackend;
}): BufferId | undefined {
  const { pool, index, fsm, xids, xlog } = options;
  const nblocks = pool.nblocks(index.locator, ForkNumber.MAIN);
  for (let tries = 0; tries <= nblocks; tries++) {
    const blkno = getFreeIndexPage(fsm, index.locator);
    if (blkno === InvalidBlockNumber) return undefined;
    if (blkno >= pool.nblocks(index.locator, ForkNumber.MAIN)) continue;
    const buf = pool.readBuffer(index.locator, ForkNumber.MAIN, blkno);
    if (pool.conditionalLockBuffer(buf)) {
      const page = pool.bufferGetPage(buf);
      if (pageIsNew(page) || btPageIsRecyclable(page, xids)) {
        // XLOG_BTREE_REUSE_PAGE (pgsim's WAL is always at wal_level replica): a standby must
        // not still have a snapshot that could see the page's safexid.
        if (xlog !== undefined && !pageIsNew(page)) {
          logBtreeReusePage(xlog, index.locator, blkno, btPageGetDeleteXid(page));
        }
        btPageInit(page);
        pool.markBufferDirty(buf);
        return buf;
      }
      pool.unlockBuffer(buf);
    }
    pool.releaseBuffer(buf);
  }
  return undefined;
}
