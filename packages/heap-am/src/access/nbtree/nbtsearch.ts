/**
 * Comparing an insertion scan key with the tuples of a page, the binary search over a page, and
 * index scans: positioning on the first match, reading a leaf page's matches at once, stepping
 * right and left through the leaf level, and marking the entries of dead rows LP_DEAD.
 *
 * Models: src/backend/access/nbtree/nbtsearch.c (_bt_compare, _bt_binsrch, _bt_search and
 * _bt_moveright in read mode, _bt_first, _bt_next, _bt_readpage, _bt_saveitem,
 * _bt_setuppostingitems, _bt_steppage, _bt_readnextpage, _bt_walk_left, _bt_get_endpoint,
 * _bt_endpoint), nbtpage.c (_bt_getroot in read mode), nbtutils.c (_bt_mkscankey applied to an
 * index tuple, _bt_killitems).
 * Entry points: `btCompare`, `btBinSrch`, `btScanKeyFromTuple`, `BTScanOpaque`, `newBtScanOpaque`,
 * `btFirst`, `btNext`, `btKillItems`, `btScanPosRelease`.
 * See also: nbtutils.ts (scan keys, btCompareColumn, btPreprocessKeys, btCheckKeys),
 * nbtree-am.ts (btbeginscan … btendscan call these), verify-nbtree.ts (the structural checker
 * uses btCompare as amcheck does), README.md ("Scans").
 *
 * Locking (README "Scans"): the descent holds one share lock at a time; a leaf's matches are
 * copied out under its share lock, which is then released while the pin is kept until the scan
 * leaves the page, so VACUUM's cleanup lock on that leaf waits for the scan (no TID it returned
 * can be recycled under it). Stepping right locks the right sibling after releasing the current
 * page; stepping left re-checks the left sibling's right link, moving right when it split.
 *
 * Differs from PostgreSQL: the leaf pin is always kept while the scan is on a page (PostgreSQL
 * drops it for plain MVCC scans of a WAL-logged index and re-checks the page LSN in
 * _bt_killitems); no array keys (= ANY), IS NULL / IS NOT NULL keys, parallel scans, mark/restore
 * or "snapshot too old" checks.
 *
 * `btCompare(key, page, off)` answers <0, 0, >0 as the key is less than, equal to or greater than
 * the tuple at `off`, in index order: key attributes (truncated ones are −∞), then the heap TID
 * (a missing one is −∞; a posting list covers its TID range), and the minus-infinity first item of
 * an internal page is less than every key.
 */

import type { BufferId, BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import type { ItemPointer } from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  type BTMetaPageData,
  BTP_DELETED,
  BTP_HAS_GARBAGE,
  BTP_LEAF,
  BTREE_METAPAGE,
  btPageFirstDataKey,
  btPageGetFlags,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetHeapTid,
  btreeTupleGetMaxHeapTid,
  btreeTupleGetNAtts,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleHeapTidPos,
  btreeTupleIsPosting,
  itemPointerCompare,
  itemPointerCompareAt,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pIgnore,
  pIsLeaf,
  pLeftmost,
  pRightmost,
} from "../../include/access/nbtree.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsDead,
  LP_DEAD,
  makeItemId,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageSetItemId,
} from "../../storage/page/bufpage.js";
import { indexGetAttrFast } from "../common/indextuple.js";
import type { ScanKey } from "../index/amapi.js";
import { btCachedRootStillValid, btCheckSteps, btReadMeta } from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import {
  type BTArrayKey,
  type BTScanInsert,
  type BTSearchKey,
  btCheckKeys,
  btCompareColumn,
  btMkScanKey,
  btTupleKeyValues,
  type KeyValue,
} from "./nbtutils.js";

/**
 * _bt_mkscankey for an index tuple at `bytes[off]`: its untruncated key attributes, and as
 * scantid its heap TID (the lowest of a posting list; none for a pivot without one) — or, with
 * `maxTid`, the highest TID of a posting list.
 */
export function btScanKeyFromTuple(
  rel: BtIndexRelation,
  bytes: Uint8Array,
  off: number,
  options: { maxTid?: boolean } = {},
): BTScanInsert {
  const natts = btreeTupleGetNAtts(bytes, off, rel.nkeyatts);
  const values = btTupleKeyValues(rel, bytes, off, natts);
  let tid: ItemPointer | undefined = btreeTupleGetHeapTid(bytes, off);
  if (options.maxTid === true && btreeTupleIsPosting(bytes, off)) {
    tid = btreeTupleGetMaxHeapTid(bytes, off);
  }
  return btMkScanKey(rel, values, tid);
}

/**
 * _bt_compare: the scan key against the tuple at offset `offnum` of `page`. Key attributes are
 * read in place where index_getattr can (no NULLs, a cached offset: `indexGetAttrFast`), and the
 * heap TID is compared where it is stored; nothing is copied out then.
 */
export function btCompare(
  rel: BtIndexRelation,
  key: BTScanInsert,
  page: Uint8Array,
  offnum: number,
): number {
  // The first data item of an internal page is minus infinity.
  if ((btPageGetFlags(page) & BTP_LEAF) === 0 && offnum === btPageFirstDataKey(page)) return 1;
  const t = itemIdGetOffset(pageGetItemId(page, offnum));
  const ntupatts = btreeTupleGetNAtts(page, t, rel.nkeyatts);
  const ncmp = Math.min(ntupatts, key.keysz);
  let values: KeyValue[] | undefined;
  for (let i = 0; i < ncmp; i++) {
    let datum: KeyValue | undefined =
      values === undefined ? indexGetAttrFast(rel.desc, page, t, i) : undefined;
    if (datum === undefined) {
      // nocache_index_getattr: walk the tuple once for every attribute left.
      values ??= btTupleKeyValues(rel, page, t, ncmp);
      datum = values[i] ?? null;
    }
    // Key value first: the column order (DESC, NULLS FIRST) is applied inside.
    const r = btCompareColumn(rel.columns[i]!, key.keys[i] ?? null, datum);
    if (r !== 0) return r;
  }
  if (key.keysz > ntupatts) return 1;
  const tidPos = btreeTupleHeapTidPos(page, t);
  if (key.scantid === undefined) {
    if (key.heapkeyspace && !key.pivotsearch && key.keysz === ntupatts && tidPos < 0) {
      return 1;
    }
    return 0;
  }
  if (tidPos < 0) return 1;
  const r = itemPointerCompareAt(key.scantid, page, tidPos);
  if (r <= 0 || !btreeTupleIsPosting(page, t)) return r;
  // A posting list covers its TIDs' range: compare with the last one too.
  if (
    itemPointerCompareAt(key.scantid, page, tidPos + 6 * (btreeTupleGetNPosting(page, t) - 1)) > 0
  ) {
    return 1;
  }
  return 0;
}

/**
 * _bt_binsrch: on a leaf, the first offset whose item is ≥ the key (> with nextkey); on an
 * internal page, the last offset whose pivot is < the key (≤ with nextkey).
 */
export function btBinSrch(rel: BtIndexRelation, key: BTScanInsert, page: Uint8Array): number {
  const opaque = btPageGetOpaque(page);
  let low = pFirstDataKey(opaque);
  let high = pageGetMaxOffsetNumber(page);
  if (high < low) return low;
  high++;
  const cmpval = key.nextkey ? 0 : 1;
  while (high > low) {
    const mid = low + Math.floor((high - low) / 2);
    if (btCompare(rel, key, page, mid) >= cmpval) low = mid + 1;
    else high = mid;
  }
  return pIsLeaf(opaque) ? low : low - 1;
}

/** The size of the tuple at offset `offnum` (IndexTupleSize of PageGetItem). */
export function btItemSize(page: Uint8Array, offnum: number): number {
  return indexTupleSize(page, itemIdGetOffset(pageGetItemId(page, offnum)));
}

// ---------------------------------------------------------------------------------------------
// Index scans

/** BTScanPosItem: one returned entry: its heap TID, index offset, and key values (index-only). */
export interface BTScanPosItem {
  readonly heapTid: ItemPointer;
  readonly indexOffset: number;
  readonly values: readonly KeyValue[] | undefined;
}

/**
 * BTScanPosData: the leaf page the scan is on, pinned (not locked), and its matching entries in
 * page order (posting-list TIDs ascending forward, descending in a backward read, so that either
 * direction returns a list's TIDs in ascending order, as PostgreSQL does).
 */
export interface BTScanPos {
  buf: BufferId | undefined;
  currPage: number;
  /** btpo_next of the page as it was read. */
  nextPage: number;
  moreLeft: boolean;
  moreRight: boolean;
  items: BTScanPosItem[];
  itemIndex: number;
}

/** BTScanOpaqueData: btree's scan state. */
export interface BTScanOpaque {
  readonly rel: BtIndexRelation;
  readonly pool: BufferPool;
  /** The scan's keys as given (btrescan), with their `ANY (array)` keys' state. */
  rawKeys: readonly ScanKey[];
  /** Undefined: an array key with no non-NULL element (nothing can match). */
  arrayKeys: BTArrayKey[] | undefined;
  /** The preprocessed keys (with the arrays' current elements) and whether they can match. */
  keys: BTSearchKey[];
  qualOk: boolean;
  /** Return key values with each TID (index-only scan). */
  wantItup: boolean;
  /** Skip LP_DEAD entries (ignore_killed_tuples). */
  ignoreKilled: boolean;
  /** Indexes into currPos.items of entries whose rows the heap found dead to everyone. */
  killedItems: number[];
  currPos: BTScanPos | undefined;
  /** Leaf pages read (pgsim only: for tests and statistics). */
  leafPagesRead: number;
}

/** A fresh scan state (btbeginscan's part). */
export function newBtScanOpaque(rel: BtIndexRelation, pool: BufferPool): BTScanOpaque {
  return {
    rel,
    pool,
    rawKeys: [],
    arrayKeys: [],
    keys: [],
    qualOk: true,
    wantItup: false,
    ignoreKilled: true,
    killedItems: [],
    currPos: undefined,
    leafPagesRead: 0,
  };
}

/** MaxTIDsPerBTreePage-style bound on loops over a page. */
function nblocksOf(so: BTScanOpaque): number {
  return so.pool.nblocks(so.rel.locator, ForkNumber.MAIN);
}

function readLocked(so: BTScanOpaque, blkno: number): BufferId {
  const buf = so.pool.readBuffer(so.rel.locator, ForkNumber.MAIN, blkno);
  so.pool.lockBuffer(buf, "share");
  return buf;
}

/** _bt_relandgetbuf: release `buf` (lock and pin) and share-lock `blkno`. */
export function relAndGetBuf(so: BTScanOpaque, buf: BufferId, blkno: number): BufferId {
  so.pool.unlockReleaseBuffer(buf);
  return readLocked(so, blkno);
}

/**
 * _bt_getroot(BT_READ): the fast root, share-locked, or undefined for an empty index. The
 * backend's cached metapage (`rel.cache.meta`, rd_amcache) is used when its fast root still
 * checks out — live, at the cached level, alone on it — else dropped and the metapage read (and
 * cached) again.
 */
function btGetRootRead(so: BTScanOpaque): BufferId | undefined {
  const cached = so.rel.cache.meta;
  if (cached !== undefined) {
    const buf = readLocked(so, cached.fastroot);
    const page = so.pool.bufferGetPage(buf);
    if (btCachedRootStillValid(page, cached)) {
      return buf;
    }
    so.pool.unlockReleaseBuffer(buf);
    so.rel.cache.meta = undefined;
  }
  const metabuf = readLocked(so, BTREE_METAPAGE);
  let meta: BTMetaPageData;
  try {
    meta = btReadMeta(so.pool.bufferGetPage(metabuf), so.rel.name);
  } finally {
    so.pool.unlockReleaseBuffer(metabuf);
  }
  if (meta.root === P_NONE) return undefined;
  so.rel.cache.meta = meta;
  return readLocked(so, meta.fastroot);
}

/**
 * _bt_search(BT_READ) with _bt_moveright: the leaf `key` leads to, share-locked and pinned, or
 * undefined for an empty index. Moves right past a page whose high key is below the key (≤ with
 * nextkey), or that is half-dead or deleted.
 */
export function btSearchRead(so: BTScanOpaque, key: BTScanInsert): BufferId | undefined {
  const root = btGetRootRead(so);
  if (root === undefined) return undefined;
  let buf = root;
  const cmpval = key.nextkey ? 0 : 1;
  for (let steps = 0; ; steps++) {
    btCheckSteps(so.pool, so.rel, steps, "_bt_search visits each page at most twice", 2);
    let page = so.pool.bufferGetPage(buf);
    let opaque = btPageGetOpaque(page);
    for (let right = 0; !pRightmost(opaque); right++) {
      btCheckSteps(so.pool, so.rel, right, "_bt_moveright visits each page at most once");
      if (!pIgnore(opaque) && btCompare(so.rel, key, page, P_HIKEY) < cmpval) break;
      buf = relAndGetBuf(so, buf, opaque.next);
      page = so.pool.bufferGetPage(buf);
      opaque = btPageGetOpaque(page);
    }
    if (pIgnore(opaque)) {
      so.pool.unlockReleaseBuffer(buf);
      throw new PgsimError("index-corrupted", `fell off the end of index "${so.rel.name}"`);
    }
    if (pIsLeaf(opaque)) return buf;
    const off = btBinSrch(so.rel, key, page);
    const child = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off)));
    buf = relAndGetBuf(so, buf, child);
  }
}

/**
 * _bt_get_endpoint(level 0): the leftmost leaf (or the rightmost, for a backward scan),
 * share-locked, or undefined for an empty index.
 */
function btGetEndpoint(so: BTScanOpaque, rightmost: boolean): BufferId | undefined {
  const root = btGetRootRead(so);
  if (root === undefined) return undefined;
  let buf = root;
  for (let steps = 0; ; steps++) {
    btCheckSteps(so.pool, so.rel, steps, "_bt_get_endpoint visits each page at most twice", 2);
    let page = so.pool.bufferGetPage(buf);
    let opaque = btPageGetOpaque(page);
    for (let right = 0; pIgnore(opaque) || (rightmost && !pRightmost(opaque)); right++) {
      btCheckSteps(so.pool, so.rel, right, "_bt_get_endpoint moves right at most once per page");
      if (opaque.next === P_NONE) {
        so.pool.unlockReleaseBuffer(buf);
        throw new PgsimError("index-corrupted", `fell off the end of index "${so.rel.name}"`);
      }
      buf = relAndGetBuf(so, buf, opaque.next);
      page = so.pool.bufferGetPage(buf);
      opaque = btPageGetOpaque(page);
    }
    if (opaque.level === 0) return buf;
    const off = rightmost ? pageGetMaxOffsetNumber(page) : pFirstDataKey(opaque);
    buf = relAndGetBuf(
      so,
      buf,
      btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, off))),
    );
  }
}

/**
 * _bt_first: positions the scan on the first match in `direction` and returns true, or returns
 * false when there is none (the scan position is then invalid). Start keys are taken column by
 * column — the `=` key, or (forward) the lower bound, (backward) the upper bound — stopping after
 * the first column without `=`; without any, the scan starts at the first or last leaf.
 */
export function btFirst(so: BTScanOpaque, direction: "forward" | "backward"): boolean {
  if (!so.qualOk) return false;
  const forward = direction === "forward";
  // The boundary keys, column by column while each has one: its `=` key, else an inequality
  // that bounds the start in this direction; a strict `<` or `>` ends the list (later columns
  // cannot narrow the start past it), `<=` and `>=` do not. strat_total: the last non-`=` one.
  const startKeys: { strategy: number; argument: KeyValue }[] = [];
  let stratTotal = 3;
  const keys = so.keys;
  let i = 0;
  for (let attno = 1; attno <= so.rel.nkeyatts; attno++) {
    let chosen: { strategy: number; argument: KeyValue } | undefined;
    let impliesNN: BTSearchKey | undefined;
    const first = i;
    for (; i < keys.length && keys[i]!.attno === attno; i++) {
      const cur = keys[i]!;
      if (cur.strategy === 3) chosen = cur;
      else if (chosen === undefined && cur.strategy < 3 !== forward) chosen = cur;
      else if (chosen === undefined) impliesNN = cur;
    }
    if (i === first) break; // no key on this column: the next one cannot bound the start
    // An inequality on the other side implies NOT NULL: with the NULLs at the start of this
    // direction, start past them (a `> NULL` or `< NULL` key, as _bt_first builds one).
    const nullsFirst = so.rel.columns[attno - 1]!.nullsFirst;
    if (chosen === undefined && impliesNN !== undefined && nullsFirst === forward) {
      chosen = { strategy: nullsFirst ? 5 : 1, argument: null };
    }
    if (chosen === undefined) break;
    startKeys.push(chosen);
    if (chosen.strategy !== 3) {
      stratTotal = chosen.strategy;
      if (chosen.strategy === 1 || chosen.strategy === 5) break;
    }
  }
  let buf: BufferId | undefined;
  let offnum: number;
  if (startKeys.length === 0) {
    // _bt_endpoint
    buf = btGetEndpoint(so, !forward);
    if (buf === undefined) return false;
    const page = so.pool.bufferGetPage(buf);
    offnum = forward ? pFirstDataKey(btPageGetOpaque(page)) : pageGetMaxOffsetNumber(page);
  } else {
    const key = btMkScanKey(
      so.rel,
      startKeys.map((k) => k.argument),
    );
    // The table of _bt_first: where on the leaf the first match is.
    let goback: boolean;
    if (stratTotal === 1) {
      key.nextkey = false;
      goback = true;
    } else if (stratTotal === 2) {
      key.nextkey = true;
      goback = true;
    } else if (stratTotal === 3) {
      key.nextkey = !forward;
      goback = !forward;
    } else if (stratTotal === 4) {
      key.nextkey = false;
      goback = false;
    } else {
      key.nextkey = true;
      goback = false;
    }
    buf = btSearchRead(so, key);
    if (buf === undefined) return false;
    offnum = btBinSrch(so.rel, key, so.pool.bufferGetPage(buf));
    if (goback) offnum--;
  }
  const page = so.pool.bufferGetPage(buf);
  so.currPos = {
    buf,
    currPage: so.pool.bufferGetBlockNumber(buf),
    nextPage: P_NONE,
    moreLeft: true,
    moreRight: true,
    items: [],
    itemIndex: 0,
  };
  so.killedItems = [];
  if (btReadPage(so, direction, offnum, page)) {
    so.pool.unlockBuffer(buf);
    return true;
  }
  so.pool.unlockBuffer(buf);
  return btStepPage(so, direction);
}

/**
 * _bt_next: the next entry in `direction` on the current page, or the first match of the next
 * page with any. Returns false at the end (the position is then invalid).
 */
export function btNext(so: BTScanOpaque, direction: "forward" | "backward"): boolean {
  const pos = so.currPos;
  assert(pos !== undefined, "_bt_next needs a valid scan position");
  if (direction === "forward") {
    if (pos.itemIndex + 1 < pos.items.length) {
      pos.itemIndex++;
      return true;
    }
  } else if (pos.itemIndex - 1 >= 0) {
    pos.itemIndex--;
    return true;
  }
  return btStepPage(so, direction);
}

/** The entry the scan is on. */
export function btCurrentItem(so: BTScanOpaque): BTScanPosItem {
  const pos = so.currPos;
  assert(pos !== undefined && pos.items[pos.itemIndex] !== undefined, "no current item");
  return pos.items[pos.itemIndex]!;
}

/**
 * _bt_readpage: with `page` (the current position's buffer) share-locked, copies every entry
 * from `offnum` on in `direction` that passes the keys into the position, and records whether
 * more matches may follow on later pages. Returns whether any entry matched.
 */
function btReadPage(
  so: BTScanOpaque,
  direction: "forward" | "backward",
  offnum: number,
  page: Uint8Array,
): boolean {
  const pos = so.currPos!;
  const rel = so.rel;
  const opaque = btPageGetOpaque(page);
  so.leafPagesRead++;
  pos.currPage = so.pool.bufferGetBlockNumber(pos.buf!);
  pos.nextPage = opaque.next;
  const minoff = pFirstDataKey(opaque);
  const maxoff = pageGetMaxOffsetNumber(page);
  const items: BTScanPosItem[] = [];
  const save = (off: number, t: number, ascendingOrder: boolean): void => {
    const values = so.wantItup ? btTupleKeyValues(rel, page, t) : undefined;
    if (!btreeTupleIsPosting(page, t)) {
      items.push({ heapTid: btreeTupleGetHeapTid(page, t)!, indexOffset: off, values });
      return;
    }
    const n = btreeTupleGetNPosting(page, t);
    for (let i = 0; i < n; i++) {
      const k = ascendingOrder ? i : n - 1 - i;
      items.push({ heapTid: btreeTupleGetPostingN(page, t, k), indexOffset: off, values });
    }
  };
  if (direction === "forward") {
    let continuescan = true;
    for (let off = Math.max(offnum, minoff); off <= maxoff; off++) {
      const iid = pageGetItemId(page, off);
      if (so.ignoreKilled && itemIdIsDead(iid)) continue;
      const t = itemIdGetOffset(iid);
      const r = btCheckKeys(rel, so.keys, btTupleKeyValues(rel, page, t), rel.nkeyatts, direction);
      if (r.passes) save(off, t, true);
      if (!r.continuescan) {
        continuescan = false;
        break;
      }
    }
    // The high key may show that no match can follow on the right.
    if (continuescan && !pRightmost(opaque)) {
      const t = itemIdGetOffset(pageGetItemId(page, P_HIKEY));
      const natts = btreeTupleGetNAtts(page, t, rel.nkeyatts);
      const r = btCheckKeys(rel, so.keys, btTupleKeyValues(rel, page, t, natts), natts, direction);
      if (!r.continuescan) continuescan = false;
    }
    if (!continuescan) pos.moreRight = false;
    pos.items = items;
    pos.itemIndex = 0;
  } else {
    for (let off = Math.min(offnum, maxoff); off >= minoff; off--) {
      const iid = pageGetItemId(page, off);
      let alive = true;
      if (so.ignoreKilled && itemIdIsDead(iid)) {
        // The first data item is checked all the same, so the scan can stop here.
        if (off > minoff) continue;
        alive = false;
      }
      const t = itemIdGetOffset(iid);
      const r = btCheckKeys(rel, so.keys, btTupleKeyValues(rel, page, t), rel.nkeyatts, direction);
      if (r.passes && alive) save(off, t, false);
      if (!r.continuescan) {
        pos.moreLeft = false;
        break;
      }
    }
    // Collected last to first; the position keeps page order (a posting list's TIDs descending).
    items.reverse();
    pos.items = items;
    pos.itemIndex = items.length - 1;
  }
  return items.length > 0;
}

/**
 * _bt_steppage: leaves the current page (marking killed entries first, then dropping its pin)
 * for the next page in `direction` with a match. Returns false at the end.
 */
function btStepPage(so: BTScanOpaque, direction: "forward" | "backward"): boolean {
  const pos = so.currPos!;
  if (so.killedItems.length > 0) btKillItems(so);
  const nblocks = nblocksOf(so);
  if (direction === "forward") {
    // _bt_readnextpage, forward: right links, skipping half-dead and deleted pages.
    let blkno = pos.nextPage;
    pos.moreLeft = true;
    btScanPosUnpin(so);
    for (let steps = 0; ; steps++) {
      assert(steps <= nblocks, "a forward scan visits each leaf at most once");
      if (blkno === P_NONE || !pos.moreRight) {
        so.currPos = undefined;
        return false;
      }
      const buf = readLocked(so, blkno);
      pos.buf = buf;
      const page = so.pool.bufferGetPage(buf);
      const opaque = btPageGetOpaque(page);
      if (!pIgnore(opaque) && btReadPage(so, direction, pFirstDataKey(opaque), page)) {
        so.pool.unlockBuffer(buf);
        return true;
      }
      blkno = opaque.next;
      so.pool.unlockReleaseBuffer(buf);
      pos.buf = undefined;
    }
  }
  // _bt_readnextpage, backward: walk left from the current page.
  pos.moreRight = true;
  let buf: BufferId | undefined = pos.buf;
  if (buf === undefined) buf = readLocked(so, pos.currPage);
  else so.pool.lockBuffer(buf, "share");
  pos.buf = undefined;
  for (let steps = 0; ; steps++) {
    assert(steps <= nblocks, "a backward scan visits each leaf at most once");
    if (!pos.moreLeft) {
      so.pool.unlockReleaseBuffer(buf);
      so.currPos = undefined;
      return false;
    }
    const left = btWalkLeft(so, buf);
    if (left === undefined) {
      so.currPos = undefined;
      return false;
    }
    buf = left;
    pos.buf = buf;
    const page = so.pool.bufferGetPage(buf);
    if (
      !pIgnore(btPageGetOpaque(page)) &&
      btReadPage(so, direction, pageGetMaxOffsetNumber(page), page)
    ) {
      so.pool.unlockBuffer(buf);
      return true;
    }
  }
}

/**
 * _bt_walk_left: from the share-locked `buf`, the page to its left, share-locked (`buf` is
 * released), or undefined at the leftmost page. The left sibling may have split since its link
 * was read: then its right sibling(s) are tried (up to 4 steps); if the original page was deleted
 * meanwhile, the walk restarts from the first live page to its right.
 */
function btWalkLeft(so: BTScanOpaque, start: BufferId): BufferId | undefined {
  const nblocks = nblocksOf(so);
  let buf = start;
  for (let restarts = 0; ; restarts++) {
    assert(restarts <= nblocks, "_bt_walk_left restarts at most once per page");
    let opaque = btPageGetOpaque(so.pool.bufferGetPage(buf));
    if (pLeftmost(opaque)) {
      so.pool.unlockReleaseBuffer(buf);
      return undefined;
    }
    const obknum = so.pool.bufferGetBlockNumber(buf);
    const lblkno = opaque.prev;
    buf = relAndGetBuf(so, buf, lblkno);
    opaque = btPageGetOpaque(so.pool.bufferGetPage(buf));
    for (let tries = 0; ; ) {
      if ((opaque.flags & BTP_DELETED) === 0 && opaque.next === obknum) return buf;
      if (pRightmost(opaque) || ++tries > 4) break;
      buf = relAndGetBuf(so, buf, opaque.next);
      opaque = btPageGetOpaque(so.pool.bufferGetPage(buf));
    }
    // Back to the original page to see what happened.
    buf = relAndGetBuf(so, buf, obknum);
    opaque = btPageGetOpaque(so.pool.bufferGetPage(buf));
    if ((opaque.flags & BTP_DELETED) !== 0) {
      for (let right = 0; ; right++) {
        assert(right <= nblocks, "moving right off a deleted page ends");
        if (pRightmost(opaque)) {
          so.pool.unlockReleaseBuffer(buf);
          throw new PgsimError("index-corrupted", `fell off the end of index "${so.rel.name}"`);
        }
        buf = relAndGetBuf(so, buf, opaque.next);
        opaque = btPageGetOpaque(so.pool.bufferGetPage(buf));
        if ((opaque.flags & BTP_DELETED) === 0) break;
      }
    } else if (opaque.prev === lblkno) {
      so.pool.unlockReleaseBuffer(buf);
      throw new PgsimError(
        "index-corrupted",
        `could not find left sibling of block ${obknum} in index "${so.rel.name}"`,
      );
    }
  }
}

/** BTScanPosUnpinIfPinned: drops the current page's pin. */
function btScanPosUnpin(so: BTScanOpaque): void {
  const pos = so.currPos;
  if (pos?.buf !== undefined) {
    so.pool.releaseBuffer(pos.buf);
    pos.buf = undefined;
  }
}

/**
 * What btrescan and btendscan do with the old position: mark its killed entries, drop its pin,
 * and forget it.
 */
export function btScanPosRelease(so: BTScanOpaque): void {
  if (so.currPos === undefined) return;
  if (so.killedItems.length > 0) btKillItems(so);
  btScanPosUnpin(so);
  so.currPos = undefined;
}

/**
 * _bt_killitems: marks LP_DEAD the entries of the current page whose rows the heap found dead to
 * everyone (the scan's `killedItems`), under a share lock on the still-pinned page — a hint, like
 * a heap hint bit: BTP_HAS_GARBAGE is set and the buffer is dirtied as a hint, no WAL. Each entry
 * is looked for from its remembered offset rightwards (insertions may have moved it); a posting
 * list is marked only when every one of its TIDs was killed.
 */
export function btKillItems(so: BTScanOpaque): void {
  const pos = so.currPos;
  const killed = so.killedItems;
  so.killedItems = [];
  if (pos === undefined || pos.buf === undefined || killed.length === 0) return;
  const pool = so.pool;
  pool.lockBuffer(pos.buf, "share");
  try {
    const page = pool.bufferGetPage(pos.buf);
    const opaque = btPageGetOpaque(page);
    const minoff = pFirstDataKey(opaque);
    const maxoff = pageGetMaxOffsetNumber(page);
    const killedTids = new Map<number, ItemPointer[]>();
    for (const i of killed) {
      const item = pos.items[i];
      if (item === undefined) continue;
      const list = killedTids.get(item.indexOffset) ?? [];
      list.push(item.heapTid);
      killedTids.set(item.indexOffset, list);
    }
    const tidKilled = (list: readonly ItemPointer[], tid: ItemPointer) =>
      list.some((k) => itemPointerCompare(k, tid) === 0);
    let killedSome = false;
    for (const [indexOffset, tids] of killedTids) {
      for (let off = Math.max(indexOffset, minoff); off <= maxoff; off++) {
        const iid = pageGetItemId(page, off);
        const t = itemIdGetOffset(iid);
        let match: boolean;
        if (btreeTupleIsPosting(page, t)) {
          const n = btreeTupleGetNPosting(page, t);
          if (!tidKilled(tids, btreeTupleGetPostingN(page, t, 0))) continue;
          match = true;
          for (let k = 0; k < n && match; k++) {
            if (!tidKilled(tids, btreeTupleGetPostingN(page, t, k))) match = false;
          }
          // The list holds a TID still alive (or not returned yet): it stays; no later item can
          // be this entry.
          if (!match) break;
        } else {
          const tid = btreeTupleGetHeapTid(page, t)!;
          if (!tidKilled(tids, tid)) continue;
          match = true;
        }
        if (!itemIdIsDead(iid)) {
          pageSetItemId(page, off, makeItemId(t, LP_DEAD, itemIdGetLength(iid)));
          killedSome = true;
        }
        break;
      }
    }
    if (killedSome) {
      btPageSetOpaque(page, { ...opaque, flags: opaque.flags | BTP_HAS_GARBAGE });
      pool.markBufferDirtyHint(pos.buf);
    }
  } finally {
    pool.unlockBuffer(pos.buf);
  }
}
