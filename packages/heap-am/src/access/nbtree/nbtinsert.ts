/**
 * Inserting one index tuple into a B-tree that has room for it: descend from the fast root to the
 * leaf the new tuple's key (with its heap TID as the last attribute) belongs on, find its offset,
 * split a posting list it falls inside, and add it.
 *
 * Models: src/backend/access/nbtree/nbtinsert.c (_bt_doinsert, _bt_search_insert,
 * _bt_findinsertloc's heapkeyspace path, _bt_insertonpg without a split), nbtsearch.c
 * (_bt_search, _bt_moveright, _bt_binsrch_insert, _bt_binsrch_posting), nbtdedup.c
 * (_bt_swap_posting), nbtpage.c (_bt_getroot creating the first root).
 * Entry points: `btInsert` (btinsert).
 * See also: nbtsearch.ts (_bt_compare, _bt_binsrch), nbtsort.ts (CREATE INDEX), README.md
 * ("Inserting a tuple").
 *
 * Locking: the metapage is read under a share lock (exclusive when the first root is made); the
 * descent holds one page lock at a time (share on internal pages, exclusive on the leaf), moving
 * right past a page whose high key is below the key, as Lehman & Yao's protocol requires; the leaf
 * is changed under its exclusive lock and marked dirty.
 *
 * Differs from PostgreSQL: no page split — a leaf without room for the tuple (where PostgreSQL
 * would first try simple deletion or a deduplication pass, then split) is refused with
 * `feature-not-supported`, before anything changes; a unique index's check (nbtinsert-unique.ts)
 * is run by the caller's hook before the descent, not on the leaf locked for the insertion; no
 * fastpath (PostgreSQL's cache of the rightmost leaf only skips the descent: it changes no page);
 * not WAL-logged.
 */

import type { BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { type ItemPointer, maxAlign, writeItemPointer } from "../../include/access/htup-details.js";
import {
  BTP_LEAF,
  BTP_ROOT,
  BTREE_METAPAGE,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetMaxHeapTid,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleGetPostingOffset,
  btreeTupleIsPosting,
  itemPointerCompare,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pIgnore,
  pIsLeaf,
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
} from "../../storage/page/bufpage.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import { indexFormTuple } from "../common/indextuple.js";
import { btPageInit, btReadMeta } from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btBinSrch, btCompare } from "./nbtsearch.js";
import { type BTScanInsert, btCheckThirdPage, btMkScanKey } from "./nbtutils.js";

/** What one insertion did. */
export interface BtInsertResult {
  /** The leaf block the tuple went to. */
  readonly block: number;
  /** Its offset on that leaf (after a posting-list split: the new item's, right after the list). */
  readonly offset: number;
  /** Position inside a posting list the new TID went to (0 when none was split). */
  readonly postingoff: number;
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
   * The unique check of a unique index (_bt_check_unique, nbtinsert-unique.ts), run before the
   * tuple's place is searched; it throws the unique violation. Required for a unique index.
   */
  readonly checkUnique?: () => void;
}

function notSupported(message: string): PgsimError {
  return new PgsimError("feature-not-supported", message);
}

/**
 * btinsert → _bt_doinsert: adds the index entry for a new heap tuple. Returns where it went.
 * Throws `feature-not-supported` (see "Differs") without changing anything when the leaf has no
 * room or the index is unique. Returns with no pin held.
 */
export function btInsert(input: BtInsertInput): BtInsertResult {
  const { pool, index } = input;
  if (index.unique && input.checkUnique === undefined) {
    throw notSupported(
      `inserting into unique index "${index.name}" is not supported yet without its unique check (btinsert passes it as checkUnique)`,
    );
  }
  input.checkUnique?.();
  const itup = indexFormTuple(index.desc, input.values, input.tid);
  const itemsz = maxAlign(itup.length);
  btCheckThirdPage(index, input.tableName, itemsz, input.tid);
  const key = btMkScanKey(index, input.values, input.tid);
  const leaf = btSearchInsert(pool, index, key);
  try {
    const page = pool.bufferGetPage(leaf);
    // _bt_findinsertloc (heapkeyspace, no unique check): the key with its heap TID is unique, so
    // the leaf _bt_search found is the only place for it.
    if (pageGetFreeSpace(page) < itemsz) {
      throw notSupported(
        `block ${pool.bufferGetBlockNumber(leaf)} of index "${index.name}" has no room for the new tuple: ` +
          "deduplication passes and page splits on insertion are not supported yet",
      );
    }
    let { offset: newitemoff, postingoff } = btBinSrchInsert(index, key, page);
    if (postingoff === -1) {
      throw notSupported(
        `the new tuple falls inside an LP_DEAD posting list of index "${index.name}" (simple deletion is not modelled)`,
      );
    }
    let item = itup;
    if (postingoff !== 0) {
      // _bt_swap_posting: the new TID goes inside the list, the list's old max TID moves to the
      // new item, which then goes right after the list.
      const t = itemIdGetOffset(pageGetItemId(page, newitemoff));
      const size = itemIdGetLength(pageGetItemId(page, newitemoff));
      const oposting = page.subarray(t, t + size);
      item = itup.slice();
      const nposting = btSwapPosting(item, oposting, postingoff);
      oposting.set(nposting);
      newitemoff++;
    }
    if (pageAddItemExtended(page, item, newitemoff, 0) !== newitemoff) {
      throw new PgsimError(
        "internal-error",
        `failed to add new item to block ${pool.bufferGetBlockNumber(leaf)} in index "${index.name}"`,
      );
    }
    pool.markBufferDirty(leaf);
    return { block: pool.bufferGetBlockNumber(leaf), offset: newitemoff, postingoff };
  } finally {
    pool.unlockReleaseBuffer(leaf);
  }
}

/**
 * _bt_swap_posting: returns the new posting list (same size as `oposting`) with `newitem`'s TID
 * at `postingoff` and the TIDs after it moved right by one; `newitem`'s t_tid becomes the old list's
 * max TID. Throws PostgreSQL's error for an impossible postingoff.
 */
export function btSwapPosting(
  newitem: Uint8Array,
  oposting: Uint8Array,
  postingoff: number,
): Uint8Array {
  const nhtids = btreeTupleGetNPosting(oposting, 0);
  if (!(postingoff > 0 && postingoff < nhtids)) {
    throw new PgsimError(
      "index-corrupted",
      `posting list tuple with ${nhtids} items cannot be split at offset ${postingoff}`,
    );
  }
  const nposting = oposting.slice();
  const base = btreeTupleGetPostingOffset(nposting, 0);
  const at = base + 6 * postingoff;
  nposting.copyWithin(at + 6, at, base + 6 * (nhtids - 1));
  nposting.set(newitem.subarray(0, 6), at);
  writeItemPointer(newitem, 0, btreeTupleGetMaxHeapTid(oposting, 0));
  return nposting;
}

/**
 * _bt_binsrch_insert (without the cached bounds): the first offset whose item is ≥ the key, and,
 * when the key's heap TID falls inside a posting list there, the position in the list (-1 when that
 * list is LP_DEAD).
 */
function btBinSrchInsert(
  rel: BtIndexRelation,
  key: BTScanInsert,
  page: Uint8Array,
): { offset: number; postingoff: number } {
  let low = pFirstDataKey(btPageGetOpaque(page));
  let high = pageGetMaxOffsetNumber(page);
  let postingoff = 0;
  if (high < low) return { offset: low, postingoff };
  high++;
  while (high > low) {
    const mid = low + Math.floor((high - low) / 2);
    const result = btCompare(rel, key, page, mid);
    if (result >= 1) low = mid + 1;
    else high = mid;
    if (result === 0 && key.scantid !== undefined) {
      if (postingoff !== 0) {
        throw new PgsimError(
          "index-corrupted",
          `table tid from new index tuple (${key.scantid.block},${key.scantid.offset}) overlaps with invalid duplicate tuple at offset ${mid} of block in index "${rel.name}"`,
        );
      }
      postingoff = btBinSrchPosting(key, page, mid);
    }
  }
  return { offset: low, postingoff };
}

/** _bt_binsrch_posting: where scantid goes inside the posting list at `offnum`. */
function btBinSrchPosting(key: BTScanInsert, page: Uint8Array, offnum: number): number {
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

/**
 * _bt_search_insert → _bt_getroot + _bt_search(BT_WRITE): the leaf for `key`, returned pinned and
 * exclusively locked. Creates the first root when the index is empty.
 */
function btSearchInsert(
  pool: BufferPool,
  index: BtIndexRelation,
  key: BTScanInsert,
): ReturnType<BufferPool["readBuffer"]> {
  let blkno = btGetRoot(pool, index);
  const nblocks = pool.nblocks(index.locator, ForkNumber.MAIN);
  // One page lock at a time: share on internal pages, exclusive on the leaf.
  for (let steps = 0; ; steps++) {
    assert(steps <= 2 * nblocks, "_bt_search visits each page at most twice");
    let buf = pool.readBuffer(index.locator, ForkNumber.MAIN, blkno);
    pool.lockBuffer(buf, "share");
    if (pIsLeaf(btPageGetOpaque(pool.bufferGetPage(buf)))) {
      // The leaf needs the exclusive lock: take it and check again (it may have changed).
      pool.unlockBuffer(buf);
      pool.lockBuffer(buf, "exclusive");
    }
    buf = btMoveRight(pool, index, key, buf);
    const page = pool.bufferGetPage(buf);
    const opaque = btPageGetOpaque(page);
    if (pIsLeaf(opaque)) return buf;
    const off = btBinSrch(index, key, page);
    blkno = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off)));
    pool.unlockReleaseBuffer(buf);
  }
}

/**
 * _bt_moveright: while the key is above the page's high key (or the page is half-dead or
 * deleted), move to the right sibling, keeping one lock at a time in the same mode.
 */
function btMoveRight(
  pool: BufferPool,
  index: BtIndexRelation,
  key: BTScanInsert,
  buf: ReturnType<BufferPool["readBuffer"]>,
): ReturnType<BufferPool["readBuffer"]> {
  const nblocks = pool.nblocks(index.locator, ForkNumber.MAIN);
  let current = buf;
  const leaf = pIsLeaf(btPageGetOpaque(pool.bufferGetPage(current)));
  for (let steps = 0; ; steps++) {
    assert(steps <= nblocks, "_bt_moveright visits each page at most once");
    const page = pool.bufferGetPage(current);
    const opaque = btPageGetOpaque(page);
    if (pRightmost(opaque)) break;
    if (!pIgnore(opaque) && btCompare(index, key, page, P_HIKEY) < 1) break;
    const next = opaque.next;
    pool.unlockReleaseBuffer(current);
    current = pool.readBuffer(index.locator, ForkNumber.MAIN, next);
    pool.lockBuffer(current, leaf ? "exclusive" : "share");
  }
  if (pIgnore(btPageGetOpaque(pool.bufferGetPage(current)))) {
    pool.unlockReleaseBuffer(current);
    throw new PgsimError("index-corrupted", `fell off the end of index "${index.name}"`);
  }
  return current;
}

/**
 * _bt_getroot(BT_WRITE): the fast root's block; on an empty index, makes the first root — a new
 * page, leaf and root at level 0 — and records it in the metapage.
 */
function btGetRoot(pool: BufferPool, index: BtIndexRelation): number {
  const metabuf = pool.readBuffer(index.locator, ForkNumber.MAIN, BTREE_METAPAGE);
  pool.lockBuffer(metabuf, "share");
  try {
    let meta = btReadMeta(pool.bufferGetPage(metabuf), index.name);
    if (meta.root !== P_NONE) return meta.fastroot;
    // Re-check under the exclusive lock: another backend may have made the root meanwhile.
    pool.unlockBuffer(metabuf);
    pool.lockBuffer(metabuf, "exclusive");
    meta = btReadMeta(pool.bufferGetPage(metabuf), index.name);
    if (meta.root !== P_NONE) return meta.fastroot;
    const rootbuf = pool.extend(index.locator, ForkNumber.MAIN);
    pool.lockBuffer(rootbuf, "exclusive");
    const rootblkno = pool.bufferGetBlockNumber(rootbuf);
    const root = pool.bufferGetPage(rootbuf);
    btPageInit(root);
    btPageSetOpaque(root, {
      prev: P_NONE,
      next: P_NONE,
      level: 0,
      flags: BTP_LEAF | BTP_ROOT,
      cycleid: 0,
    });
    pool.markBufferDirty(rootbuf);
    writeBtMeta(pool.bufferGetPage(metabuf), {
      ...meta,
      root: rootblkno,
      level: 0,
      fastroot: rootblkno,
      fastlevel: 0,
    });
    pool.markBufferDirty(metabuf);
    pool.unlockReleaseBuffer(rootbuf);
    return rootblkno;
  } finally {
    pool.unlockReleaseBuffer(metabuf);
  }
}
