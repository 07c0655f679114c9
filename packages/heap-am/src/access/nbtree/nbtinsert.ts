/**
 * Inserting one index tuple into a B-tree: descend from the fast root to the leaf the new
 * tuple's key (with its heap TID as the last attribute) belongs on, make room on a full leaf
 * (simple deletion of LP_DEAD items, then a deduplication pass), split a posting list the new TID
 * falls inside, add the tuple — or split the page, insert the downlink to the new right half in
 * the parent (splitting it in turn), and make a new root when the root splits.
 *
 * Models: src/backend/access/nbtree/nbtinsert.c (_bt_doinsert, _bt_search_insert,
 * _bt_findinsertloc, _bt_stepright, _bt_insertonpg, _bt_split, _bt_insert_parent,
 * _bt_finish_split, _bt_getstackbuf, _bt_newroot, _bt_pgaddtup, _bt_delete_or_dedup_one_page,
 * _bt_simpledel_pass), nbtsearch.c (_bt_search, _bt_moveright, _bt_binsrch_insert,
 * _bt_binsrch_posting, _bt_get_endpoint for the leftmost page of a level), nbtdedup.c
 * (_bt_swap_posting), nbtpage.c (_bt_getroot, _bt_delitems_delete).
 * Entry points: `btInsert` (btinsert).
 * See also: nbtsplitloc.ts (where a page splits), nbtdedup.ts (the deduplication pass),
 * nbtpage.ts (`btAllocatePage`, new pages), nbtsearch.ts (_bt_compare, _bt_binsrch), README.md
 * ("Inserting a tuple", "Splitting a page", "Locking").
 *
 * Locking (Lehman & Yao, as PostgreSQL): the descent holds one page lock at a time (share on
 * internal pages, exclusive on the leaf: the child of a level-1 page is locked exclusively
 * straight away), moving right past a page whose high key is below the key. A split keeps the
 * page being split locked while it locks the new right page and then the old right sibling
 * (left to right); the right page is let go once the parent is locked, the left page (the child)
 * only when the downlink is in the parent (BTP_INCOMPLETE_SPLIT marks the left page until then).
 * The metapage is locked last. Every buffer an insertion holds is tracked, and released in a
 * `finally` if anything throws.
 *
 * The backend remembers the metapage (rd_amcache) and the rightmost leaf its last insertion went
 * to (the fastpath, smgr_targblock) in `index.cache`; both are checked before use (README,
 * "Inserting a tuple", steps 2 and 3).
 *
 * Differs from PostgreSQL: simple deletion deletes only the LP_DEAD items (PostgreSQL also offers the
 * table AM other TIDs pointing to the same heap blocks, and deletes those it confirms dead) and
 * computes no latestRemovedXid; no bottom-up deletion; the unique check itself is the caller's
 * (`checkUnique`); no predicate locks (SSI).
 *
 * A split stores the cycle id of a VACUUM running on the index (`vacuumCycleId`, read from the
 * shared table of nbtutils-shmem.ts: 0 when none runs) in both halves, and BTP_SPLIT_END on the
 * right half when its new right sibling has another cycle id, so that the VACUUM's scan goes
 * back for tuples moved to a block it has passed (nbtvacuum.ts, btvacuumpage).
 *
 * WAL (with `xlog`): the records of nbtxlog.ts, written as PostgreSQL writes them — INSERT_LEAF /
 * INSERT_POST / INSERT_UPPER / INSERT_META after a page gained a tuple, SPLIT_L / SPLIT_R after a
 * split (before the parent insertion's own record), NEWROOT for the first root and a root split,
 * DEDUP after a deduplication pass, DELETE after simple deletion.
 */

import type { BufferId, BufferLockMode, BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { type ItemPointer, maxAlign } from "../../include/access/htup-details.js";
import { indexTupleSetInfo, SizeOfIndexTupleData } from "../../include/access/itup.js";
import {
  type BTMetaPageData,
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_HAS_GARBAGE,
  BTP_INCOMPLETE_SPLIT,
  BTP_LEAF,
  BTP_ROOT,
  BTP_SPLIT_END,
  BTREE_METAPAGE,
  btPageFirstDataKey,
  btPageGetFlags,
  btPageGetNext,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleIsPosting,
  btreeTupleSetDownLink,
  btreeTupleSetNAtts,
  itemPointerCompare,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pIgnore,
  pIsLeaf,
  pLeftmost,
  pRightmost,
  writeBtMeta,
} from "../../include/access/nbtree.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsDead,
  pageAddItemExtended,
  pageGetFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIndexMultiDelete,
} from "../../storage/page/bufpage.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import { indexFormTuple } from "../common/indextuple.js";
import type { XLogBackend } from "../table/tableam.js";
import { btDedupPass, btSwapPosting } from "./nbtdedup.js";
import {
  btAllocatePage,
  btCachedRootStillValid,
  btCheckPage,
  btCheckSteps,
  btPageInit,
  btReadMeta,
} from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btBinSrch, btCompare } from "./nbtsearch.js";
import { btFindSplitLoc } from "./nbtsplitloc.js";
import { type BTScanInsert, btCheckThirdPage, btMkScanKey, btTruncate } from "./nbtutils.js";
import {
  type BtWal,
  logBtreeDedup,
  logBtreeDelete,
  logBtreeInsert,
  logBtreeNewroot,
  logBtreeSplit,
} from "./nbtxlog.js";

/** What one insertion did. */
export interface BtInsertResult {
  /** The leaf block the tuple was headed for (before any split of that leaf). */
  readonly block: number;
  /** Its offset there (after a posting-list split: the new item's, right after the list). */
  readonly offset: number;
  /** Position inside a posting list the new TID went to (0 when none was split). */
  readonly postingoff: number;
  /** Pages split by this insertion, bottom-up (leaf first); empty when none was. */
  readonly splits: readonly BtSplitReport[];
  /** A new root was made (the root split). */
  readonly newRoot: boolean;
  /** The leaf went through a deduplication pass before the insertion. */
  readonly deduplicated: boolean;
  /** LP_DEAD items removed from the leaf by simple deletion. */
  readonly deleted: number;
}

/** One page split. */
export interface BtSplitReport {
  readonly level: number;
  /** The page that split (the left half keeps its block). */
  readonly left: number;
  /** The new right half. */
  readonly right: number;
  /** The first original item that went right, and the side of the new item (SPLIT_L/_R). */
  readonly firstrightoff: number;
  readonly newitemonleft: boolean;
}

/**
 * The outcome of the caller's unique check (`_bt_check_unique`'s, owned by whoever knows the
 * heap): `wait` — a transaction that inserted or deleted an equal key is still running; the
 * insertion lets go of every lock, calls `waitForTransaction(xwait)` and searches again.
 * Otherwise there is no conflict; `sawDuplicates` is true when equal keys (dead or invisible
 * versions) were seen (PostgreSQL's `uniquedup`: a deduplication pass may then run on a unique
 * index). A conflict is thrown by the callback itself, with PostgreSQL's error (23505).
 */
export type BtUniqueCheckResult =
  | { readonly kind: "wait"; readonly xwait: number }
  | { readonly kind: "unique"; readonly sawDuplicates: boolean };

/** What `checkUnique` is given: the first leaf the key could be on, exclusively locked. */
export interface BtUniqueCheckContext {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  /** The insertion scan key without its heap TID (scantid undefined). */
  readonly key: BTScanInsert;
  /** The leaf (pinned and exclusively locked; the callback may lock right siblings itself). */
  readonly buffer: BufferId;
  /** The first offset whose item is ≥ the key on that leaf. */
  readonly offset: number;
  /** The first offset whose item is > the key (maxoff + 1 when none is). */
  readonly stricthigh: number;
  /** The new tuple's heap TID. */
  readonly tid: ItemPointer;
}

/** Options of `btInsert`. */
export interface BtInsertInput {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  /** The table's name (for error messages). */
  readonly tableName: string;
  /** The key column values (in index column order; null for NULL). */
  readonly values: readonly (Datum | null)[];
  /** The heap TID of the new tuple (the root of its HOT chain). */
  readonly tid: ItemPointer;
  /**
   * UNIQUE_CHECK_YES: `_bt_check_unique`, called here (see `BtUniqueCheckResult`). Required for
   * a unique index (without it the insertion is refused); skipped when a key column is NULL.
   */
  readonly checkUnique?: (ctx: BtUniqueCheckContext) => BtUniqueCheckResult;
  /** Waits for transaction `xid` to end (called with no buffer lock held). */
  readonly waitForTransaction?: (xid: number) => void;
  /** The executor's indexUnchanged hint (an UPDATE that did not change this index's columns). */
  readonly indexUnchanged?: boolean;
  /**
   * The backend's WAL when the index is WAL-logged (RelationNeedsWAL): every change is logged
   * with the nbtree records (nbtxlog.ts) and the changed pages get the record's LSN.
   */
  readonly xlog?: XLogBackend;
  /** The inserting transaction's xid, for the records' xl_xid (0 when none). */
  readonly xid?: number;
  /**
   * The FSM half of _bt_getbuf(P_NEW): a deleted, recyclable page of the index (nbtvacuum.ts's
   * `btGetFreePage`), pinned, exclusively locked and initialised, or undefined (the index is
   * extended). Without it every new page extends the index.
   */
  readonly freePage?: () => BufferId | undefined;
  /**
   * _bt_vacuum_cycleid: the cycle id of a VACUUM running on the index in any backend, or 0
   * (nbtutils-shmem.ts's `btVacuumCycleId`); a split stores it in both halves. Without it splits
   * store 0, which is right only when no VACUUM of the index can run meanwhile (an index built
   * and filled by one caller, as tests do).
   */
  readonly vacuumCycleId?: () => number;
}

/** BTStackData: the parent page and the downlink's offset there, one per internal level. */
interface BtStack {
  blkno: number;
  offset: number;
  readonly parent: BtStack | undefined;
}

/** InvalidOffsetNumber as a stack offset (_bt_get_endpoint's phony entry). */
const INVALID_OFFSET = 0;

/**
 * The buffers one insertion holds, so that an error anywhere releases them all (PostgreSQL's
 * resource owner does this at abort). Every lock goes through here.
 */
class HeldBuffers {
  private readonly held = new Set<BufferId>();
  constructor(
    readonly pool: BufferPool,
    readonly index: BtIndexRelation,
    readonly wal: BtWal | undefined,
    readonly freePage: (() => BufferId | undefined) | undefined,
    readonly vacuumCycleId: (() => number) | undefined,
  ) {}

  /** The page of `buf` as a WAL block reference. */
  logged(buf: BufferId): { block: number; page: Uint8Array } {
    return { block: this.block(buf), page: this.page(buf) };
  }

  /** _bt_getbuf(blkno, access): pinned and locked, checked. */
  get(blkno: number, mode: BufferLockMode): BufferId {
    const buf = this.pool.readBuffer(this.index.locator, ForkNumber.MAIN, blkno);
    this.held.add(buf);
    this.pool.lockBuffer(buf, mode);
    btCheckPage(this.pool.bufferGetPage(buf), this.index.name, blkno);
    return buf;
  }

  /**
   * ReadBuffer + _bt_conditionallockbuf: `blkno` pinned and exclusively locked if the lock is free
   * right now, else undefined (the pin is dropped again).
   */
  getConditional(blkno: number): BufferId | undefined {
    const buf = this.pool.readBuffer(this.index.locator, ForkNumber.MAIN, blkno);
    if (!this.pool.conditionalLockBuffer(buf)) {
      this.pool.releaseBuffer(buf);
      return undefined;
    }
    this.held.add(buf);
    btCheckPage(this.pool.bufferGetPage(buf), this.index.name, blkno);
    return buf;
  }

  /**
   * _bt_getbuf(P_NEW, BT_WRITE): a recyclable page the index's FSM offers (`freePage`, when the
   * caller gave one), else a new page at the end of the index.
   */
  allocate(): BufferId {
    const buf = this.freePage?.() ?? btAllocatePage(this.pool, this.index);
    this.held.add(buf);
    return buf;
  }

  /** _bt_relbuf. */
  release(buf: BufferId): void {
    assert(this.held.delete(buf), "released a buffer this insertion holds");
    this.pool.unlockReleaseBuffer(buf);
  }

  /** Trades the lock on `buf` for one in `mode` (never both held). */
  relock(buf: BufferId, mode: BufferLockMode): void {
    this.pool.unlockBuffer(buf);
    this.pool.lockBuffer(buf, mode);
  }

  page(buf: BufferId): Uint8Array {
    return this.pool.bufferGetPage(buf);
  }

  block(buf: BufferId): number {
    return this.pool.bufferGetBlockNumber(buf);
  }

  /** After an error: lets go of everything still held. */
  releaseAll(): void {
    if (this.held.size === 0) return;
    for (const buf of this.held) {
      if (this.pool.holdsContentLock(buf)) this.pool.unlockBuffer(buf);
      this.pool.releaseBuffer(buf);
    }
    this.held.clear();
  }

  get count(): number {
    return this.held.size;
  }
}

/** Per-insertion state (BTInsertStateData plus what pgsim reports). */
interface InsertState {
  readonly bufs: HeldBuffers;
  readonly index: BtIndexRelation;
  readonly itup: Uint8Array;
  readonly itemsz: number;
  readonly key: BTScanInsert;
  buf: BufferId;
  postingoff: number;
  boundsValid: boolean;
  low: number;
  stricthigh: number;
  splits: BtSplitReport[];
  newRoot: boolean;
  deduplicated: boolean;
  deleted: number;
}

function notSupported(message: string): PgsimError {
  return new PgsimError("feature-not-supported", message);
}

/**
 * btinsert → _bt_doinsert: adds the index entry for a new heap tuple, splitting pages as needed.
 * Returns where it went and what it did. A unique index needs `checkUnique` (else
 * `feature-not-supported`, before anything changes). Returns with no pin or lock held.
 */
export function btInsert(input: BtInsertInput): BtInsertResult {
  const { pool, index } = input;
  if (index.unique && input.checkUnique === undefined) {
    throw notSupported(
      `inserting into unique index "${index.name}" is not supported yet (the unique check is not modelled)`,
    );
  }
  const itup = indexFormTuple(index.desc, input.values, input.tid);
  const itemsz = maxAlign(itup.length);
  btCheckThirdPage(index, input.tableName, itemsz, input.tid);
  const key = btMkScanKey(index, input.values, input.tid);
  let checkingunique = index.unique;
  if (checkingunique) {
    // NULLs never conflict; otherwise search for the first page the key could be on.
    if (key.anynullkeys) checkingunique = false;
    else key.scantid = undefined;
  }
  const wal: BtWal | undefined =
    input.xlog === undefined
      ? undefined
      : { xlog: input.xlog, xid: input.xid ?? 0, rel: index.locator };
  const bufs = new HeldBuffers(pool, index, wal, input.freePage, input.vacuumCycleId);
  try {
    for (let attempt = 0; ; attempt++) {
      assert(attempt < 1000, "_bt_doinsert waits for a bounded number of transactions");
      const { buf, stack } = btSearchInsert(bufs, key, itemsz);
      const state: InsertState = {
        bufs,
        index,
        itup,
        itemsz,
        key,
        buf,
        postingoff: 0,
        boundsValid: false,
        low: 0,
        stricthigh: 0,
        splits: [],
        newRoot: false,
        deduplicated: false,
        deleted: 0,
      };
      let uniquedup = input.indexUnchanged === true;
      if (checkingunique) {
        // _bt_check_unique: the caller's (it knows the heap). The bounds of the key without its
        // heap TID are kept for _bt_findinsertloc.
        const low = binSrchInsert(state);
        const outcome = input.checkUnique!({
          pool,
          index,
          key,
          buffer: state.buf,
          offset: low,
          stricthigh: state.stricthigh,
          tid: input.tid,
        });
        if (outcome.kind === "wait") {
          bufs.release(state.buf);
          if (input.waitForTransaction === undefined) {
            throw new PgsimError(
              "internal-error",
              `the unique check of index "${index.name}" asked to wait for transaction ${outcome.xwait}, but no waitForTransaction was given`,
            );
          }
          input.waitForTransaction(outcome.xwait);
          key.scantid = undefined;
          continue;
        }
        if (outcome.sawDuplicates) uniquedup = true;
        key.scantid = input.tid;
      }
      const newitemoff = findInsertLoc(state, checkingunique, uniquedup, input.indexUnchanged);
      const leafBlock = bufs.block(state.buf);
      const postingoff = state.postingoff;
      insertOnPage(state, state.buf, undefined, stack, itup, itemsz, newitemoff, postingoff, false);
      assert(bufs.count === 0, "an insertion lets go of every buffer");
      return {
        block: leafBlock,
        offset: postingoff !== 0 ? newitemoff + 1 : newitemoff,
        postingoff,
        splits: state.splits,
        newRoot: state.newRoot,
        deduplicated: state.deduplicated,
        deleted: state.deleted,
      };
    }
  } finally {
    bufs.releaseAll();
  }
}

/**
 * _bt_findinsertloc (heapkeyspace): on a full leaf, first simple deletion and a deduplication
 * pass; the offset for the new tuple (and, in state.postingoff, a posting list it falls inside).
 * With a unique check, first steps right to the page the key with its heap TID belongs on.
 */
function findInsertLoc(
  state: InsertState,
  checkingunique: boolean,
  uniquedupIn: boolean,
  indexUnchanged: boolean | undefined,
): number {
  let uniquedup = uniquedupIn;
  const { bufs, index, key } = state;
  if (checkingunique) {
    if (state.boundsValid && state.low < state.stricthigh) uniquedup = true;
    for (let steps = 0; ; steps++) {
      btCheckSteps(bufs.pool, index, steps, "bounded step right");
      const page = bufs.page(state.buf);
      const maxoff = pageGetMaxOffsetNumber(page);
      // An item greater than the key (without TID) here: this is the page.
      if (state.boundsValid && state.low <= state.stricthigh && state.stricthigh <= maxoff) break;
      const opaque = btPageGetOpaque(page);
      if (pRightmost(opaque) || btCompare(index, key, page, P_HIKEY) <= 0) break;
      stepRight(state);
      uniquedup = true;
    }
  }
  if (pageGetFreeSpace(bufs.page(state.buf)) < state.itemsz) {
    deleteOrDedupOnePage(state, false, checkingunique, uniquedup, indexUnchanged === true);
  }
  // The page is the right one now: search it, within the earlier bounds when they are still valid.
  let newitemoff = binSrchInsert(state);
  if (state.postingoff === -1) {
    // The posting list the new TID falls inside is LP_DEAD: delete it first.
    deleteOrDedupOnePage(state, true, false, false, false);
    state.postingoff = 0;
    state.boundsValid = false;
    newitemoff = binSrchInsert(state);
  }
  return newitemoff;
}

/**
 * _bt_stepright: to the next page that is not half-dead or deleted, finishing an incomplete split
 * of the current page first; exclusive locks, left to right.
 */
function stepRight(state: InsertState): void {
  const { bufs } = state;
  let page = bufs.page(state.buf);
  let opaque = btPageGetOpaque(page);
  if (opaque.flags & BTP_INCOMPLETE_SPLIT) {
    const blkno = bufs.block(state.buf);
    finishSplit(state, state.buf, undefined);
    state.buf = bufs.get(blkno, "exclusive");
    page = bufs.page(state.buf);
    opaque = btPageGetOpaque(page);
  }
  let rblkno = opaque.next;
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, state.index, steps, "bounded");
    const rbuf = bufs.get(rblkno, "exclusive");
    const ropaque = btPageGetOpaque(bufs.page(rbuf));
    bufs.release(state.buf);
    state.buf = rbuf;
    if (!pIgnore(ropaque)) break;
    if (pRightmost(ropaque)) {
      throw new PgsimError("index-corrupted", `fell off the end of index "${state.index.name}"`);
    }
    rblkno = ropaque.next;
  }
  state.boundsValid = false;
}

/**
 * _bt_delete_or_dedup_one_page: on a leaf without room, delete the LP_DEAD items (simple
 * deletion); if that did not make room, and unless only simple deletion was asked for (or a
 * unique check saw no duplicates), a deduplication pass when the index allows it.
 */
function deleteOrDedupOnePage(
  state: InsertState,
  simpleonly: boolean,
  checkingunique: boolean,
  uniquedupIn: boolean,
  indexUnchanged: boolean,
): void {
  const { bufs, index } = state;
  let uniquedup = uniquedupIn;
  const page = bufs.page(state.buf);
  const opaque = btPageGetOpaque(page);
  assert(pIsLeaf(opaque), "only leaves are made room on");
  const deletable: number[] = [];
  for (let off = pFirstDataKey(opaque); off <= pageGetMaxOffsetNumber(page); off++) {
    if (itemIdIsDead(pageGetItemId(page, off))) deletable.push(off);
  }
  if (deletable.length > 0) {
    simpleDelPass(state, deletable);
    state.boundsValid = false;
    if (pageGetFreeSpace(page) >= state.itemsz) return;
    uniquedup = true;
  }
  if (simpleonly || (checkingunique && !uniquedup)) return;
  state.boundsValid = false;
  // Differs from PostgreSQL: no bottom-up deletion pass here (indexUnchanged || uniquedup).
  if (index.deduplicateItems && state.key.allequalimage) {
    const r = btDedupPass(index, page, state.itup, state.itemsz, indexUnchanged || uniquedup);
    if (r.intervals.length > 0) {
      bufs.pool.markBufferDirty(state.buf);
      if (bufs.wal !== undefined) logBtreeDedup(bufs.wal, bufs.logged(state.buf), r.intervals);
      state.deduplicated = true;
    }
  }
}

/**
 * _bt_simpledel_pass → _bt_delitems_delete: removes the LP_DEAD items (whole posting lists
 * included) with PageIndexMultiDelete and clears BTP_HAS_GARBAGE.
 *
 * Differs from PostgreSQL: no extra TIDs are offered to the table AM (heap_index_delete_tuples),
 * so only LP_DEAD items go, and no latestRemovedXid is computed (nothing is logged).
 */
function simpleDelPass(state: InsertState, deletable: number[]): void {
  const { bufs } = state;
  const page = bufs.page(state.buf);
  pageIndexMultiDelete(page, deletable);
  const opaque = btPageGetOpaque(page);
  btPageSetOpaque(page, { ...opaque, flags: opaque.flags & ~BTP_HAS_GARBAGE });
  bufs.pool.markBufferDirty(state.buf);
  if (bufs.wal !== undefined) logBtreeDelete(bufs.wal, bufs.logged(state.buf), deletable);
  state.deleted += deletable.length;
}

/**
 * _bt_binsrch_insert: the first offset whose item is ≥ the key; sets state.low / stricthigh (the
 * first offset whose item is strictly greater) and, when the key's heap TID falls inside a
 * posting list, state.postingoff (-1 when that list is LP_DEAD).
 */
function binSrchInsert(state: InsertState): number {
  const { index, key } = state;
  const page = state.bufs.page(state.buf);
  // The bounds of an earlier search of the same page (the unique check's, without the heap TID)
  // bracket the place of the key with its TID: search only between them.
  const reuse = state.boundsValid;
  let low = reuse ? state.low : btPageFirstDataKey(page);
  let high = reuse ? state.stricthigh : pageGetMaxOffsetNumber(page);
  state.postingoff = 0;
  if (high < low) {
    state.low = low;
    state.stricthigh = high;
    state.boundsValid = false;
    return low;
  }
  if (!reuse) high++;
  let stricthigh = high;
  while (high > low) {
    const mid = low + Math.floor((high - low) / 2);
    const result = btCompare(index, key, page, mid);
    if (result >= 1) low = mid + 1;
    else {
      high = mid;
      if (result !== 0) stricthigh = high;
    }
    if (result === 0 && key.scantid !== undefined) {
      if (state.postingoff !== 0) {
        throw new PgsimError(
          "index-corrupted",
          `table tid from new index tuple (${key.scantid.block},${key.scantid.offset}) cannot find insert offset between offsets ${low} and ${stricthigh} of block ${state.bufs.block(state.buf)} in index "${index.name}"`,
        );
      }
      state.postingoff = binSrchPosting(key, page, mid);
    }
  }
  state.low = low;
  state.stricthigh = stricthigh;
  state.boundsValid = true;
  return low;
}

/** _bt_binsrch_posting: where scantid goes inside the posting list at `offnum`. */
function binSrchPosting(key: BTScanInsert, page: Uint8Array, offnum: number): number {
  const id = pageGetItemId(page, offnum);
  const t = itemIdGetOffset(id);
  if (!btreeTupleIsPosting(page, t)) return 0;
  if (itemIdIsDead(id)) return -1;
  let low = 0;
  let high = btreeTupleGetNPosting(page, t);
  while (high > low) {
    const mid = low + Math.floor((high - low) / 2);
    const res = itemPointerCompare(key.scantid!, btreeTupleGetPostingN(page, t, mid));
    if (res > 0) low = mid + 1;
    else if (res < 0) high = mid;
    else return -1;
  }
  return low;
}

/** The tuple at `off` of `page` (a view). */
function itemAt(page: Uint8Array, off: number): Uint8Array {
  const id = pageGetItemId(page, off);
  const at = itemIdGetOffset(id);
  return page.subarray(at, at + itemIdGetLength(id));
}

/**
 * _bt_insertonpg: puts `itup` at `newitemoff` of `buf` (exclusively locked) — or splits the page
 * and goes on to the parent. `cbuf` is the left child whose split this insertion finishes
 * (internal pages: its BTP_INCOMPLETE_SPLIT is cleared, and it is released). `splitOnlyPage`:
 * the child was alone on its level (the fast root may move up). Releases `buf` and `cbuf`.
 */
function insertOnPage(
  state: InsertState,
  buf: BufferId,
  cbuf: BufferId | undefined,
  stack: BtStack | undefined,
  itupIn: Uint8Array,
  itemsz: number,
  newitemoffIn: number,
  postingoff: number,
  splitOnlyPage: boolean,
): void {
  const { bufs, index } = state;
  const page = bufs.page(buf);
  const opaque = btPageGetOpaque(page);
  const isleaf = pIsLeaf(opaque);
  const isroot = (opaque.flags & BTP_ROOT) !== 0;
  const isonly = pLeftmost(opaque) && pRightmost(opaque);
  assert(isleaf || newitemoffIn > pFirstDataKey(opaque), "one minus-infinity item per page");
  assert(isleaf === (cbuf === undefined), "internal insertions finish a child's split");
  let itup = itupIn;
  let newitemoff = newitemoffIn;
  let nposting: Uint8Array | undefined;
  const origitup = itupIn;
  if (postingoff !== 0) {
    const id = pageGetItemId(page, newitemoff);
    const t = itemIdGetOffset(id);
    if (!btreeTupleIsPosting(page, t) || itemIdIsDead(id)) {
      throw new PgsimError(
        "index-corrupted",
        `table tid from new index tuple (${state.key.scantid?.block},${state.key.scantid?.offset}) overlaps with invalid duplicate tuple at offset ${newitemoff} of block ${bufs.block(buf)} in index "${index.name}"`,
      );
    }
    // A copy of the new item takes the list's max TID; the list gets the new TID.
    itup = itupIn.slice();
    nposting = btSwapPosting(itup, itemAt(page, newitemoff), postingoff);
    newitemoff++;
  }

  if (pageGetFreeSpace(page) < itemsz) {
    assert(!splitOnlyPage, "a lone page's parent has room for one downlink");
    const rbuf = split(state, buf, cbuf, newitemoff, itemsz, itup, origitup, nposting, postingoff);
    insertParent(state, buf, rbuf, stack, isroot, isonly);
    return;
  }

  // The fast root moves up to this page when the lone page below split and this level's is
  // lower than the metapage's fast level... i.e. only when it has fallen behind.
  let metabuf: BufferId | undefined;
  if (splitOnlyPage) {
    assert(!isleaf, "only an internal page gets a lone child's downlink");
    metabuf = bufs.get(BTREE_METAPAGE, "exclusive");
    const meta = btReadMeta(bufs.page(metabuf), index.name);
    if (meta.fastlevel >= opaque.level) {
      bufs.release(metabuf);
      metabuf = undefined;
    }
  }
  // Critical section: nothing below throws short of a bug.
  if (nposting !== undefined) {
    page.set(nposting, itemIdGetOffset(pageGetItemId(page, newitemoff - 1)));
  }
  if (pageAddItemExtended(page, itup, newitemoff, 0) !== newitemoff) {
    throw new PgsimError(
      "internal-error",
      `failed to add new item to block ${bufs.block(buf)} in index "${index.name}"`,
    );
  }
  bufs.pool.markBufferDirty(buf);
  let newMeta: BTMetaPageData | undefined;
  if (metabuf !== undefined) {
    const metapage = bufs.page(metabuf);
    const meta = btReadMeta(metapage, index.name);
    newMeta = { ...meta, fastroot: bufs.block(buf), fastlevel: opaque.level };
    writeBtMeta(metapage, newMeta);
    bufs.pool.markBufferDirty(metabuf);
  }
  if (cbuf !== undefined) clearIncompleteSplit(bufs, cbuf);
  if (bufs.wal !== undefined) {
    logBtreeInsert(bufs.wal, {
      page: bufs.logged(buf),
      offnum: newitemoff,
      itup,
      postingoff,
      origitup,
      ...(cbuf === undefined ? {} : { child: bufs.logged(cbuf) }),
      ...(metabuf === undefined || newMeta === undefined
        ? {}
        : { meta: { page: bufs.logged(metabuf), data: newMeta } }),
    });
  }
  // The rightmost leaf (not the root) is where the next ascending key goes: remember it for the
  // insertion fastpath, once the tree is tall enough to make the descent worth skipping.
  const blockcache = isleaf && pRightmost(opaque) && !isroot ? bufs.block(buf) : P_NONE;
  if (metabuf !== undefined) bufs.release(metabuf);
  if (cbuf !== undefined) bufs.release(cbuf);
  bufs.release(buf);
  if (blockcache !== P_NONE && btGetRootHeight(bufs) >= BTREE_FASTPATH_MIN_LEVEL) {
    index.cache.targetBlock = blockcache;
  }
}

/** BTREE_FASTPATH_MIN_LEVEL: the insertion fastpath is used from this fast-root level up. */
const BTREE_FASTPATH_MIN_LEVEL = 2;

/**
 * _bt_getrootheight: the fast root's level, from the cached metapage (read and cached when there
 * is none; 0 for an index without a root). Called with no buffer lock held.
 */
function btGetRootHeight(bufs: HeldBuffers): number {
  const { index } = bufs;
  if (index.cache.meta === undefined) {
    const metabuf = bufs.get(BTREE_METAPAGE, "share");
    const meta = btReadMeta(bufs.page(metabuf), index.name);
    bufs.release(metabuf);
    if (meta.root === P_NONE) return 0;
    index.cache.meta = meta;
  }
  return index.cache.meta.fastlevel;
}

function clearIncompleteSplit(bufs: HeldBuffers, cbuf: BufferId): void {
  const cpage = bufs.page(cbuf);
  const copaque = btPageGetOpaque(cpage);
  btPageSetOpaque(cpage, { ...copaque, flags: copaque.flags & ~BTP_INCOMPLETE_SPLIT });
  bufs.pool.markBufferDirty(cbuf);
}

/**
 * _bt_pgaddtup: adds a tuple at `off`; as the first data item of an internal right page it is
 * stored as minus infinity (its 8-byte header only, natts 0, keeping its downlink).
 */
function pgAddTup(page: Uint8Array, itup: Uint8Array, off: number, newfirstdataitem: boolean) {
  let item = itup;
  if (newfirstdataitem) {
    item = itup.slice(0, SizeOfIndexTupleData);
    indexTupleSetInfo(item, 0, SizeOfIndexTupleData);
    btreeTupleSetNAtts(item, 0, 0, false);
  }
  return pageAddItemExtended(page, item, off, 0) === off;
}

/**
 * _bt_split: splits `buf` (exclusively locked) where _bt_findsplitloc says, putting the new item
 * on its side. The left half is built in a temporary page and copied over the original (it keeps
 * the block and gets BTP_INCOMPLETE_SPLIT); the right half is a new page; the old right sibling's
 * left link is updated. Returns the right page, exclusively locked; releases `cbuf` (and the old
 * right sibling).
 */
function split(
  state: InsertState,
  buf: BufferId,
  cbuf: BufferId | undefined,
  newitemoff: number,
  newitemsz: number,
  newitem: Uint8Array,
  orignewitem: Uint8Array,
  nposting: Uint8Array | undefined,
  postingoff: number,
): BufferId {
  const { bufs, index } = state;
  const origpage = bufs.page(buf);
  const oopaque = btPageGetOpaque(origpage);
  const origpagenumber = bufs.block(buf);
  const isleaf = pIsLeaf(oopaque);
  const isrightmost = pRightmost(oopaque);
  // _bt_findsplitloc sees the new item as it will be stored (after a posting-list swap).
  const { firstrightoff, newitemonleft } = btFindSplitLoc(
    index,
    origpage,
    newitemoff,
    newitemsz,
    newitem,
  );

  // The left half, in private memory until the end (PageGetTempPage + _bt_pageinit).
  const leftpage = new Uint8Array(origpage.length);
  btPageInit(leftpage);
  leftpage.set(origpage.subarray(0, 8), 0); // the LSN
  // _bt_vacuum_cycleid: a VACUUM of this index running now, in any backend, learns of the split.
  const cycleid = bufs.vacuumCycleId?.() ?? 0;
  const lopaque = {
    prev: oopaque.prev,
    next: 0,
    level: oopaque.level,
    flags: (oopaque.flags & ~(BTP_ROOT | BTP_SPLIT_END | BTP_HAS_GARBAGE)) | BTP_INCOMPLETE_SPLIT,
    cycleid,
  };
  const origpagepostingoff = postingoff !== 0 ? newitemoff - 1 : 0;

  // firstright: the new item or an original item (the swapped posting list if it is that one).
  let firstright: Uint8Array;
  if (!newitemonleft && newitemoff === firstrightoff) firstright = newitem;
  else {
    firstright = itemAt(origpage, firstrightoff);
    if (firstrightoff === origpagepostingoff) firstright = nposting!;
  }
  let lefthighkey: Uint8Array;
  if (isleaf) {
    let lastleft: Uint8Array;
    if (newitemonleft && newitemoff === firstrightoff) lastleft = newitem;
    else {
      const lastleftoff = firstrightoff - 1;
      assert(lastleftoff >= pFirstDataKey(oopaque), "a split leaves items on the left");
      lastleft = itemAt(origpage, lastleftoff);
      if (lastleftoff === origpagepostingoff) lastleft = nposting!;
    }
    lefthighkey = btTruncate(index, lastleft, firstright);
  } else {
    // Internal pages: the left high key is firstright itself, untruncated.
    lefthighkey = firstright;
  }
  let afterleftoff = P_HIKEY;
  if (!pgAddTup(leftpage, lefthighkey, afterleftoff, false)) {
    throw new PgsimError(
      "internal-error",
      `failed to add high key to the left sibling while splitting block ${origpagenumber} of index "${index.name}"`,
    );
  }
  afterleftoff++;

  // The right half: a new page, locked while the left one still is.
  const rbuf = bufs.allocate();
  const rightpage = bufs.page(rbuf);
  const rightpagenumber = bufs.block(rbuf);
  lopaque.next = rightpagenumber;
  const ropaque = {
    prev: origpagenumber,
    next: oopaque.next,
    level: oopaque.level,
    flags: oopaque.flags & ~(BTP_ROOT | BTP_SPLIT_END | BTP_HAS_GARBAGE),
    cycleid,
  };
  // From here on an error must not leave a half-made right page behind: zero it first.
  const fail = (what: string): never => {
    rightpage.fill(0);
    throw new PgsimError(
      "internal-error",
      `failed to add ${what} while splitting block ${origpagenumber} of index "${index.name}"`,
    );
  };
  let afterrightoff = P_HIKEY;
  if (!isrightmost) {
    if (!pgAddTup(rightpage, itemAt(origpage, P_HIKEY), afterrightoff, false)) {
      fail("high key to the right sibling");
    }
    afterrightoff++;
  }
  const minusinfoff = isleaf ? 0 : afterrightoff;

  const maxoff = pageGetMaxOffsetNumber(origpage);
  let i = pFirstDataKey(oopaque);
  for (; i <= maxoff; i++) {
    let dataitem = itemAt(origpage, i);
    if (i === origpagepostingoff) {
      dataitem = nposting!;
    } else if (i === newitemoff) {
      if (newitemonleft) {
        assert(newitemoff <= firstrightoff, "the new item is left of the split");
        if (!pgAddTup(leftpage, newitem, afterleftoff, false)) {
          fail("new item to the left sibling");
        }
        afterleftoff++;
      } else {
        assert(newitemoff >= firstrightoff, "the new item is right of the split");
        if (!pgAddTup(rightpage, newitem, afterrightoff, afterrightoff === minusinfoff)) {
          fail("new item to the right sibling");
        }
        afterrightoff++;
      }
    }
    if (i < firstrightoff) {
      if (!pgAddTup(leftpage, dataitem, afterleftoff, false)) {
        fail(`old item to the left sibling`);
      }
      afterleftoff++;
    } else {
      if (!pgAddTup(rightpage, dataitem, afterrightoff, afterrightoff === minusinfoff)) {
        fail(`old item to the right sibling`);
      }
      afterrightoff++;
    }
  }
  // The new item at the very end goes right.
  if (i <= newitemoff) {
    assert(!newitemonleft && newitemoff === maxoff + 1, "only the right page takes a last item");
    if (!pgAddTup(rightpage, newitem, afterrightoff, afterrightoff === minusinfoff)) {
      fail("new item to the right sibling");
    }
    afterrightoff++;
  }

  // The old right sibling (left-to-right lock order): its left link must point here.
  let sbuf: BufferId | undefined;
  if (!isrightmost) {
    sbuf = bufs.get(oopaque.next, "exclusive");
    const sopaque = btPageGetOpaque(bufs.page(sbuf));
    if (sopaque.prev !== origpagenumber) {
      rightpage.fill(0);
      throw new PgsimError(
        "index-corrupted",
        `right sibling's left-link doesn't match: block ${oopaque.next} links to ${sopaque.prev} instead of expected ${origpagenumber} in index "${index.name}"`,
      );
    }
    // A different vacuum cycle ID on the right sibling ends the group of pages split off
    // during one VACUUM.
    if (sopaque.cycleid !== ropaque.cycleid) ropaque.flags |= BTP_SPLIT_END;
  }

  // Critical section: the halves are right; make them the pages.
  btPageSetOpaque(leftpage, lopaque);
  btPageSetOpaque(rightpage, ropaque);
  origpage.set(leftpage);
  bufs.pool.markBufferDirty(buf);
  bufs.pool.markBufferDirty(rbuf);
  if (sbuf !== undefined) {
    const spage = bufs.page(sbuf);
    btPageSetOpaque(spage, { ...btPageGetOpaque(spage), prev: rightpagenumber });
    bufs.pool.markBufferDirty(sbuf);
  }
  if (!isleaf) clearIncompleteSplit(bufs, cbuf!);
  state.splits.push({
    level: oopaque.level,
    left: origpagenumber,
    right: rightpagenumber,
    firstrightoff,
    newitemonleft,
  });
  if (bufs.wal !== undefined) {
    logBtreeSplit(bufs.wal, {
      level: ropaque.level,
      firstrightoff,
      newitemoff,
      // The posting split is replayed only when the new posting list went left.
      postingoff: postingoff !== 0 && origpagepostingoff < firstrightoff ? postingoff : 0,
      newitemonleft,
      left: bufs.logged(buf),
      right: bufs.logged(rbuf),
      ...(sbuf === undefined ? {} : { sibling: bufs.logged(sbuf) }),
      ...(isleaf ? {} : { child: bufs.logged(cbuf!) }),
      newitem,
      orignewitem,
      lefthighkey: isleaf ? lefthighkey : itemAt(origpage, P_HIKEY),
    });
  }
  if (sbuf !== undefined) bufs.release(sbuf);
  if (!isleaf) bufs.release(cbuf!);
  return rbuf;
}

/**
 * _bt_insert_parent: after `buf` split into `buf` + `rbuf` (both exclusively locked), inserts
 * the downlink to the right half into the parent: a new root when the root split, else a copy
 * of the left page's high key pointing at the right page, at the parent's re-found position.
 * Releases both.
 */
function insertParent(
  state: InsertState,
  buf: BufferId,
  rbuf: BufferId,
  stackIn: BtStack | undefined,
  isroot: boolean,
  isonly: boolean,
): void {
  const { bufs, index } = state;
  if (isroot) {
    assert(isonly, "the root is alone on its level");
    const rootbuf = newRoot(state, buf, rbuf);
    bufs.release(rootbuf);
    bufs.release(rbuf);
    bufs.release(buf);
    return;
  }
  const bknum = bufs.block(buf);
  const rbknum = bufs.block(rbuf);
  const page = bufs.page(buf);
  let stack = stackIn;
  if (stack === undefined) {
    // The root split since our descent: start from the leftmost page of the level above.
    const level = btPageGetOpaque(page).level + 1;
    stack = { blkno: leftmostPageOfLevel(state, level), offset: INVALID_OFFSET, parent: undefined };
  }
  const newItem = itemAt(page, P_HIKEY).slice();
  btreeTupleSetDownLink(newItem, 0, rbknum);
  const pbuf = getStackBuf(state, stack, bknum);
  bufs.release(rbuf);
  if (pbuf === undefined) {
    throw new PgsimError(
      "index-corrupted",
      `failed to re-find parent key in index "${index.name}" for split pages ${bknum}/${rbknum}`,
    );
  }
  insertOnPage(
    state,
    pbuf,
    buf,
    stack.parent,
    newItem,
    maxAlign(newItem.length),
    stack.offset + 1,
    0,
    isonly,
  );
}

/**
 * _bt_get_endpoint(level, rightmost = false): the leftmost page of `level`, found by descending
 * from the root along first downlinks (one share lock at a time).
 */
function leftmostPageOfLevel(state: InsertState, level: number): number {
  const { bufs, index } = state;
  const metabuf = bufs.get(BTREE_METAPAGE, "share");
  const meta = btReadMeta(bufs.page(metabuf), index.name);
  bufs.release(metabuf);
  let blkno = meta.root;
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, index, steps, "bounded descent");
    const b = bufs.get(blkno, "share");
    const page = bufs.page(b);
    let opaque = btPageGetOpaque(page);
    let cur = b;
    // Skip half-dead/deleted pages to the right.
    while (pIgnore(opaque)) {
      if (pRightmost(opaque)) {
        bufs.release(cur);
        throw new PgsimError("index-corrupted", `fell off the end of index "${index.name}"`);
      }
      const next = opaque.next;
      bufs.release(cur);
      cur = bufs.get(next, "share");
      opaque = btPageGetOpaque(bufs.page(cur));
    }
    if (opaque.level === level) {
      const found = bufs.block(cur);
      bufs.release(cur);
      return found;
    }
    if (opaque.level < level) {
      bufs.release(cur);
      throw new PgsimError(
        "index-corrupted",
        `btree level ${level} not found in index "${index.name}"`,
      );
    }
    const cpage = bufs.page(cur);
    blkno = btreeTupleGetDownLink(
      cpage,
      itemIdGetOffset(pageGetItemId(cpage, pFirstDataKey(opaque))),
    );
    bufs.release(cur);
  }
}

/**
 * _bt_getstackbuf: the parent page holding the downlink to `child`, exclusively locked: at the
 * remembered offset, to its right, to its left, then on right siblings (splits only move items
 * right). Finishes an incomplete split of a page it passes. Updates the stack entry; undefined
 * when not found.
 */
function getStackBuf(state: InsertState, stack: BtStack, child: number): BufferId | undefined {
  const { bufs, index } = state;
  let blkno = stack.blkno;
  let start = stack.offset;
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, index, steps, "bounded search", 2);
    const buf = bufs.get(blkno, "exclusive");
    const page = bufs.page(buf);
    const opaque = btPageGetOpaque(page);
    if (opaque.flags & BTP_INCOMPLETE_SPLIT) {
      finishSplit(state, buf, stack.parent);
      continue;
    }
    if (!pIgnore(opaque)) {
      const minoff = pFirstDataKey(opaque);
      const maxoff = pageGetMaxOffsetNumber(page);
      if (start < minoff) start = minoff;
      if (start > maxoff) start = maxoff + 1;
      const downlinkAt = (off: number) =>
        btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off)));
      for (let off = start; off <= maxoff; off++) {
        if (downlinkAt(off) === child) {
          stack.blkno = blkno;
          stack.offset = off;
          return buf;
        }
      }
      for (let off = start - 1; off >= minoff; off--) {
        if (downlinkAt(off) === child) {
          stack.blkno = blkno;
          stack.offset = off;
          return buf;
        }
      }
    }
    if (pRightmost(opaque)) {
      bufs.release(buf);
      return undefined;
    }
    blkno = opaque.next;
    start = INVALID_OFFSET;
    bufs.release(buf);
  }
}

/**
 * _bt_finish_split: the left page `lbuf` (exclusively locked) of a split whose downlink never
 * reached the parent (an error or crash in between): insert it now. Releases `lbuf`.
 */
function finishSplit(state: InsertState, lbuf: BufferId, stack: BtStack | undefined): void {
  const { bufs, index } = state;
  const lopaque = btPageGetOpaque(bufs.page(lbuf));
  assert((lopaque.flags & BTP_INCOMPLETE_SPLIT) !== 0, "the page has an incomplete split");
  const rbuf = bufs.get(lopaque.next, "exclusive");
  const ropaque = btPageGetOpaque(bufs.page(rbuf));
  let wasroot = false;
  if (stack === undefined) {
    const metabuf = bufs.get(BTREE_METAPAGE, "exclusive");
    wasroot = btReadMeta(bufs.page(metabuf), index.name).root === bufs.block(lbuf);
    bufs.release(metabuf);
  }
  const wasonly = pLeftmost(lopaque) && pRightmost(ropaque);
  insertParent(state, lbuf, rbuf, stack, wasroot, wasonly);
}

/**
 * _bt_newroot: a new root above the two halves of the old one — a new page (level + 1, BTP_ROOT)
 * with a minus-infinity downlink to the left half and a copy of its high key pointing at the
 * right half; the metapage's root and fast root move to it; the left half's
 * BTP_INCOMPLETE_SPLIT is cleared. Returns the new root, exclusively locked.
 */
function newRoot(state: InsertState, lbuf: BufferId, rbuf: BufferId): BufferId {
  const { bufs, index } = state;
  const lbkno = bufs.block(lbuf);
  const rbkno = bufs.block(rbuf);
  const lpage = bufs.page(lbuf);
  const lopaque = btPageGetOpaque(lpage);
  const rootbuf = bufs.allocate();
  const rootpage = bufs.page(rootbuf);
  const rootblknum = bufs.block(rootbuf);
  const metabuf = bufs.get(BTREE_METAPAGE, "exclusive");
  const metapage = bufs.page(metabuf);
  const meta = btReadMeta(metapage, index.name);
  // The left downlink: minus infinity (8 bytes, natts 0).
  const leftItem = new Uint8Array(SizeOfIndexTupleData);
  indexTupleSetInfo(leftItem, 0, SizeOfIndexTupleData);
  btreeTupleSetDownLink(leftItem, 0, lbkno);
  btreeTupleSetNAtts(leftItem, 0, 0, false);
  const rightItem = itemAt(lpage, P_HIKEY).slice();
  btreeTupleSetDownLink(rightItem, 0, rbkno);
  // Critical section.
  const level = lopaque.level + 1;
  btPageSetOpaque(rootpage, { prev: P_NONE, next: P_NONE, level, flags: BTP_ROOT, cycleid: 0 });
  writeBtMeta(metapage, {
    ...meta,
    root: rootblknum,
    level,
    fastroot: rootblknum,
    fastlevel: level,
  });
  if (pageAddItemExtended(rootpage, leftItem, P_HIKEY, 0) !== P_HIKEY) {
    throw new PgsimError(
      "internal-error",
      `failed to add leftkey to new root page while splitting block ${lbkno} of index "${index.name}"`,
    );
  }
  if (pageAddItemExtended(rootpage, rightItem, P_HIKEY + 1, 0) !== P_HIKEY + 1) {
    throw new PgsimError(
      "internal-error",
      `failed to add rightkey to new root page while splitting block ${lbkno} of index "${index.name}"`,
    );
  }
  assert((lopaque.flags & BTP_INCOMPLETE_SPLIT) !== 0, "the old root's split is incomplete");
  clearIncompleteSplit(bufs, lbuf);
  bufs.pool.markBufferDirty(rootbuf);
  bufs.pool.markBufferDirty(metabuf);
  if (bufs.wal !== undefined) {
    logBtreeNewroot(bufs.wal, {
      root: bufs.logged(rootbuf),
      level,
      left: bufs.logged(lbuf),
      meta: { page: bufs.logged(metabuf), data: btReadMeta(metapage, index.name) },
    });
  }
  bufs.release(metabuf);
  state.newRoot = true;
  return rootbuf;
}

/**
 * _bt_search_insert → _bt_search(BT_WRITE): the leaf for the key, exclusively locked, and the
 * stack of parents. Creates the first root when the index is empty.
 */
function btSearchInsert(
  bufs: HeldBuffers,
  key: BTScanInsert,
  itemsz: number,
): { buf: BufferId; stack: BtStack | undefined } {
  const { index } = bufs;
  const target = index.cache.targetBlock;
  if (target !== P_NONE) {
    // The fastpath: the rightmost leaf the last insertion went to, if its lock is free, it is
    // still the rightmost leaf, the tuple fits without a split and the key is greater than its
    // first item. No descent, and no stack (a split cannot follow).
    const buf = bufs.getConditional(target);
    if (buf !== undefined) {
      const page = bufs.page(buf);
      const flags = btPageGetFlags(page);
      if (
        btPageGetNext(page) === P_NONE &&
        (flags & BTP_LEAF) !== 0 &&
        (flags & (BTP_DELETED | BTP_HALF_DEAD)) === 0 &&
        pageGetFreeSpace(page) > itemsz &&
        pageGetMaxOffsetNumber(page) >= P_HIKEY &&
        btCompare(index, key, page, P_HIKEY) > 0
      ) {
        return { buf, stack: undefined };
      }
      bufs.release(buf);
    }
    index.cache.targetBlock = P_NONE;
  }
  let buf = getRoot(bufs);
  let stack: BtStack | undefined;
  let pageAccess: BufferLockMode = "share";
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, index, steps, "bounded descent");
    buf = moveRight(bufs, key, buf, stack, pageAccess);
    const page = bufs.page(buf);
    const opaque = btPageGetOpaque(page);
    if (pIsLeaf(opaque)) break;
    const off = btBinSrch(index, key, page);
    const child = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off)));
    stack = { blkno: bufs.block(buf), offset: off, parent: stack };
    // The child of a level-1 page is a leaf: lock it exclusively straight away.
    if (opaque.level === 1) pageAccess = "exclusive";
    bufs.release(buf);
    buf = bufs.get(child, pageAccess);
  }
  if (pageAccess === "share") {
    // The root is the leaf: trade the share lock for an exclusive one and look again (it may
    // have split meanwhile).
    bufs.relock(buf, "exclusive");
    buf = moveRight(bufs, key, buf, stack, "exclusive");
  }
  return { buf, stack };
}

/**
 * _bt_moveright(forupdate): while the key is above the page's high key (or the page is
 * half-dead or deleted), move to the right sibling, one lock at a time in the same mode;
 * finishes an incomplete split found on the way (under an exclusive lock).
 */
function moveRight(
  bufs: HeldBuffers,
  key: BTScanInsert,
  bufIn: BufferId,
  stack: BtStack | undefined,
  access: BufferLockMode,
): BufferId {
  const { index } = bufs;
  let buf = bufIn;
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, index, steps, "bounded", 2);
    const page = bufs.page(buf);
    const opaque = btPageGetOpaque(page);
    if (pRightmost(opaque)) break;
    if (opaque.flags & BTP_INCOMPLETE_SPLIT) {
      const blkno = bufs.block(buf);
      if (access === "share") bufs.relock(buf, "exclusive");
      if (btPageGetOpaque(bufs.page(buf)).flags & BTP_INCOMPLETE_SPLIT) {
        finishSplit(newFinishState(bufs, key), buf, stack);
      } else bufs.release(buf);
      buf = bufs.get(blkno, access);
      continue;
    }
    if (pIgnore(opaque) || btCompare(index, key, page, P_HIKEY) >= 1) {
      const next = opaque.next;
      bufs.release(buf);
      buf = bufs.get(next, access);
      continue;
    }
    break;
  }
  if (pIgnore(btPageGetOpaque(bufs.page(buf)))) {
    throw new PgsimError("index-corrupted", `fell off the end of index "${index.name}"`);
  }
  return buf;
}

/** An InsertState for finishing someone else's split found during the descent. */
function newFinishState(bufs: HeldBuffers, key: BTScanInsert): InsertState {
  return {
    bufs,
    index: bufs.index,
    itup: new Uint8Array(0),
    itemsz: 0,
    key,
    buf: 0 as BufferId,
    postingoff: 0,
    boundsValid: false,
    low: 0,
    stricthigh: 0,
    splits: [],
    newRoot: false,
    deduplicated: false,
    deleted: 0,
  };
}

/**
 * _bt_getroot(BT_WRITE): the fast root, share-locked (stepping right past a deleted one); on an
 * empty index, makes the first root — a new page, leaf and root at level 0 — recorded in the
 * metapage as root and fast root.
 */
function getRoot(bufs: HeldBuffers): BufferId {
  const { index } = bufs;
  const cached = index.cache.meta;
  if (cached !== undefined) {
    // The cached fast root, checked more carefully than a root read from the metapage (the copy
    // may be stale): live, at the cached level, and alone on it.
    const rootbuf = bufs.get(cached.fastroot, "share");
    const page = bufs.page(rootbuf);
    if (btCachedRootStillValid(page, cached)) {
      return rootbuf;
    }
    bufs.release(rootbuf);
    index.cache.meta = undefined;
  }
  const metabuf = bufs.get(BTREE_METAPAGE, "share");
  let meta = btReadMeta(bufs.page(metabuf), index.name);
  if (meta.root === P_NONE) {
    // Re-check under the exclusive lock: another backend may have made the root meanwhile.
    bufs.relock(metabuf, "exclusive");
    meta = btReadMeta(bufs.page(metabuf), index.name);
    if (meta.root === P_NONE) {
      const rootbuf = bufs.allocate();
      const rootblkno = bufs.block(rootbuf);
      btPageSetOpaque(bufs.page(rootbuf), {
        prev: P_NONE,
        next: P_NONE,
        level: 0,
        flags: BTP_LEAF | BTP_ROOT,
        cycleid: 0,
      });
      bufs.pool.markBufferDirty(rootbuf);
      writeBtMeta(bufs.page(metabuf), {
        ...meta,
        root: rootblkno,
        level: 0,
        fastroot: rootblkno,
        fastlevel: 0,
      });
      bufs.pool.markBufferDirty(metabuf);
      if (bufs.wal !== undefined) {
        logBtreeNewroot(bufs.wal, {
          root: bufs.logged(rootbuf),
          level: 0,
          meta: { page: bufs.logged(metabuf), data: btReadMeta(bufs.page(metabuf), index.name) },
        });
      }
      // Nobody else can know the new root yet: trade its lock for a share lock.
      bufs.relock(rootbuf, "share");
      bufs.release(metabuf);
      return rootbuf;
    }
  }
  const rootlevel = meta.fastlevel;
  let rootblkno = meta.fastroot;
  // Cache the metapage for the next descent (rd_amcache).
  index.cache.meta = meta;
  bufs.release(metabuf);
  for (let steps = 0; ; steps++) {
    btCheckSteps(bufs.pool, index, steps, "bounded");
    const rootbuf = bufs.get(rootblkno, "share");
    const opaque = btPageGetOpaque(bufs.page(rootbuf));
    if (!pIgnore(opaque)) {
      if (opaque.level !== rootlevel) {
        throw new PgsimError(
          "index-corrupted",
          `root page ${rootblkno} of index "${index.name}" has level ${opaque.level}, expected ${rootlevel}`,
        );
      }
      return rootbuf;
    }
    bufs.release(rootbuf);
    if (pRightmost(opaque)) {
      throw new PgsimError("index-corrupted", `no live root page found in index "${index.name}"`);
    }
    rootblkno = opaque.next;
  }
}
