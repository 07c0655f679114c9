/**
 * CREATE INDEX for a B-tree: sort every tuple the table's build scan yields, then load the tree
 * bottom-up, one page per level at a time, left to right.
 *
 * Models: src/backend/access/nbtree/nbtsort.c (btbuild, _bt_spools_heapscan's spool,
 * _bt_leafbuild, _bt_load with deduplication, _bt_pagestate, _bt_blnewpage, _bt_buildadd,
 * _bt_sortaddtup, _bt_slideleft, _bt_uppershutdown, _bt_blwritepage) and the index ordering and
 * unique check of utils/sort/tuplesort.c (comparetup_index_btree).
 * Entry points: `btBuild`.
 * See also: nbtutils.ts (_bt_truncate), nbtdedup.ts (posting lists), nbtpage.ts (metapage),
 * ../heap/heapam-index-build.ts (which tuples are indexed), README.md ("CREATE INDEX").
 *
 * The algorithm (README.md has it with the page arithmetic):
 * 1. Spool: the table AM's build scan hands over (heap TID, row); each becomes an index tuple.
 * 2. Sort by key columns in index order (DESC, NULLS FIRST/LAST), then heap TID. A unique index
 *    fails on two equal keys without NULLs among live tuples.
 * 3. Load: blocks are numbered in the order pages are started (block 1 = first leaf). Each page
 *    reserves line pointer 1 for its high key. Before adding a tuple the current page is finished
 *    when the tuple does not fit (leaves keep 8 more bytes for a heap TID in the high key), or when
 *    its free space fell below the fillfactor target (leaf: 100 − fillfactor %, internal: 30 %)
 *    and it has at least two data items. Finishing moves the last item to a new page, makes it
 *    the old page's high key (on leaves truncated by _bt_truncate against the item before it),
 *    and adds the old page's low key, with its block as downlink, to the parent level.
 * 4. With deduplication (deduplicate_items, allequalimage, not unique), runs of equal keys are
 *    merged into posting lists of at most 812 bytes before they reach step 3.
 * 5. Shutdown: each level's last page gets ROOT (top) or a downlink in its parent, has its line
 *    pointers slid left over the unused high-key slot, and is written; the metapage last.
 *
 * With WAL (a permanent table on a disk-backed database), each page is logged whole as it is
 * written (log_newpage: XLOG_FPI), as PostgreSQL does at wal_level replica, so crash recovery
 * restores the index.
 *
 * Differs from PostgreSQL: pages are written through the shared buffer pool (PostgreSQL writes
 * them with smgrextend/smgrwrite, bypassing shared buffers, and syncs the file at the end). The
 * sort is an in-memory array sort (no external merge), and no parallel build.
 */

import type { BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ, maxAlign } from "../../include/access/htup-details.js";
import { indexTupleSize, SizeOfIndexTupleData, T_INFO_OFFSET } from "../../include/access/itup.js";
import {
  BTP_LEAF,
  BTP_ROOT,
  BTREE_METAPAGE,
  BTREE_NONLEAF_FILLFACTOR,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetHeapTid,
  btreeTupleGetPostingOffset,
  btreeTupleSetDownLink,
  btreeTupleSetNAtts,
  P_FIRSTKEY,
  P_HIKEY,
  P_NONE,
} from "../../include/access/nbtree.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  PD_LOWER_OFFSET,
  pageAddItemExtended,
  pageGetFreeSpace,
  pageGetItemId,
  pageGetLower,
  pageGetMaxOffsetNumber,
  pageIndexTupleOverwrite,
  pageSetItemId,
} from "../../storage/page/bufpage.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import { indexFormTuple } from "../common/indextuple.js";
import type { Row, TID, XLogBackend } from "../table/tableam.js";
import { logNewpageBuffer } from "../transam/xloginsert.js";
import {
  type BtDedupState,
  btDedupSaveHtid,
  btDedupStartPending,
  btFormPosting,
} from "./nbtdedup.js";
import { btInitMetapage, btPageInit } from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import {
  type BtSortTuple,
  btCheckThirdPage,
  btCompareKeyValues,
  btCompareSortTuples,
  btKeepNatts,
  btTruncate,
} from "./nbtutils.js";

/** What CREATE INDEX reports (IndexBuildResult). */
export interface BtBuildResult {
  /** heap_tuples: live tuples the build scan counted (reltuples). */
  readonly heapTuples: number;
  /** index_tuples: heap TIDs in the index. */
  readonly indexTuples: number;
  /** Blocks of the index, metapage included. */
  readonly pages: number;
  /** Root block (0 = empty index) and its level. */
  readonly root: number;
  readonly level: number;
}

/** Inputs of `btBuild`. */
export interface BtBuildInput {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  /** The table's name (for error messages). */
  readonly tableName: string;
  /** The table AM's index build scan (table_index_build_scan). */
  readonly scan: (callback: (tid: TID, row: Row, tupleIsAlive: boolean) => void) => number;
  /** The backend's WAL when the index needs it (RelationNeedsWAL): each page is logged whole. */
  readonly xlog?: XLogBackend | undefined;
}

/** A spooled tuple: the sort key, the formed index tuple, and whether its heap tuple is alive. */
interface SpoolEntry extends BtSortTuple {
  readonly itup: Uint8Array;
  readonly alive: boolean;
}

/** BTPageState: the page being filled on one level. */
interface BtPageState {
  page: Uint8Array;
  blkno: number;
  /** The page's strict lower bound (copied into the parent as its downlink). */
  lowkey: Uint8Array | undefined;
  lastoff: number;
  /** Posting-list bytes of the last item added (they go away when it becomes a high key). */
  lastextra: number;
  readonly level: number;
  /** "Full" when less free space than this remains. */
  readonly full: number;
  next: BtPageState | undefined;
}

/** BTWriteState. */
interface BtWriteState {
  readonly pool: BufferPool;
  readonly xlog: XLogBackend | undefined;
  readonly index: BtIndexRelation;
  readonly tableName: string;
  pagesAlloced: number;
}

/**
 * btbuild: builds the index `input.index` (whose storage exists and is empty) from the table.
 * Returns with no pin held; the index's pages are in the buffer pool, dirty.
 */
export function btBuild(input: BtBuildInput): BtBuildResult {
  const { index } = input;
  // 1. Spool.
  const spool: SpoolEntry[] = [];
  const heapTuples = input.scan((tid, row, alive) => {
    const values = index.columns.map((c) => (row[c.heapAttIndex] ?? null) as Datum | null);
    spool.push({ values, tid, alive, itup: indexFormTuple(index.desc, values, tid) });
  });
  // 2. Sort (comparetup_index_btree).
  spool.sort((a, b) => btCompareSortTuples(index, a, b));
  if (index.unique) checkUnique(index, spool);
  // 3–5. Load.
  const wstate: BtWriteState = {
    pool: input.pool,
    xlog: input.xlog,
    index,
    tableName: input.tableName,
    pagesAlloced: BTREE_METAPAGE + 1,
  };
  const { root, level } = btLoad(wstate, spool);
  return { heapTuples, indexTuples: spool.length, pages: wstate.pagesAlloced, root, level };
}

/**
 * The unique check of the sort (comparetup_index_btree with enforceUnique): two live tuples with
 * equal keys and no NULL fail with PostgreSQL's error.
 *
 * Differs from PostgreSQL: PostgreSQL raises it from inside the sort's comparator, so which pair
 * is reported can depend on the sort's order of comparisons; pgsim reports the first pair in
 * index order.
 */
function checkUnique(index: BtIndexRelation, spool: readonly SpoolEntry[]): void {
  let prev: SpoolEntry | undefined;
  for (const e of spool) {
    if (!e.alive) continue;
    if (
      prev !== undefined &&
      !e.values.includes(null) &&
      btCompareKeyValues(index, prev.values, e.values) === 0
    ) {
      const names = index.columns.map((c) => c.name).join(", ");
      const shown = e.values
        .map((v, i) => {
          const att = index.desc.attrs[i]!;
          return att.codec!.output(v as never, att.atttypmod);
        })
        .join(", ");
      throw new PgsimError("unique-violation", `could not create unique index "${index.name}"`, {
        detail: `Key (${names})=(${shown}) is duplicated.`,
      });
    }
    prev = e;
  }
}

/** _bt_load: feeds the sorted tuples to the leaf level, deduplicating when allowed. */
function btLoad(
  wstate: BtWriteState,
  spool: readonly SpoolEntry[],
): { root: number; level: number } {
  const index = wstate.index;
  const deduplicate = index.allequalimage && !index.unique && index.deduplicateItems;
  let state: BtPageState | undefined;
  if (deduplicate) {
    const dstate: BtDedupState = {
      // MAXALIGN_DOWN(BLCKSZ * 10 / 100) − sizeof(ItemIdData) = 812.
      maxpostingsize: Math.floor((BLCKSZ * 10) / 100 / 8) * 8 - 4,
      base: new Uint8Array(0),
      basetupsize: 0,
      htids: [],
      nitems: 0,
    };
    let baseValues: readonly (Datum | null)[] = [];
    for (const e of spool) {
      if (state === undefined) {
        state = btPageState(wstate, 0);
        btDedupStartPending(dstate, e.itup);
        baseValues = e.values;
      } else if (
        btKeepNatts(index, baseValues, e.values) > index.nkeyatts &&
        btDedupSaveHtid(dstate, e.itup)
      ) {
        // Merged into the pending posting list.
      } else {
        btSortDedupFinishPending(wstate, state, dstate);
        btDedupStartPending(dstate, e.itup);
        baseValues = e.values;
      }
    }
    if (state !== undefined) btSortDedupFinishPending(wstate, state, dstate);
  } else {
    for (const e of spool) {
      state ??= btPageState(wstate, 0);
      btBuildAdd(wstate, state, e.itup, 0);
    }
  }
  return btUpperShutdown(wstate, state);
}

/** _bt_sort_dedup_finish_pending: adds the pending list (or its lone tuple) to the leaf level. */
function btSortDedupFinishPending(
  wstate: BtWriteState,
  state: BtPageState,
  dstate: BtDedupState,
): void {
  assert(dstate.nitems > 0, "a pending posting list has items");
  if (dstate.nitems === 1) {
    btBuildAdd(wstate, state, dstate.base, 0);
  } else {
    const posting = btFormPosting(dstate.base, dstate.htids);
    btBuildAdd(
      wstate,
      state,
      posting,
      indexTupleSize(posting, 0) - btreeTupleGetPostingOffset(posting, 0),
    );
  }
  dstate.nitems = 0;
  dstate.htids = [];
}

/** _bt_blnewpage: an empty page of `level` with line pointer 1 reserved for the high key. */
function btBlNewPage(level: number): Uint8Array {
  const page = new Uint8Array(BLCKSZ);
  btPageInit(page);
  btPageSetOpaque(page, {
    prev: P_NONE,
    next: P_NONE,
    level,
    flags: level > 0 ? 0 : BTP_LEAF,
    cycleid: 0,
  });
  writeUint16(page, PD_LOWER_OFFSET, pageGetLower(page) + 4);
  return page;
}

/** _bt_pagestate: starts a level (its first page takes the next block number). */
function btPageState(wstate: BtWriteState, level: number): BtPageState {
  const leafFull = Math.floor((BLCKSZ * (100 - wstate.index.fillfactor)) / 100);
  return {
    page: btBlNewPage(level),
    blkno: wstate.pagesAlloced++,
    lowkey: undefined,
    lastoff: P_HIKEY,
    lastextra: 0,
    level,
    full: level > 0 ? Math.floor((BLCKSZ * (100 - BTREE_NONLEAF_FILLFACTOR)) / 100) : leafFull,
    next: undefined,
  };
}

/** The 8-byte minus-infinity pivot: header only, natts 0, block = `block`. */
function minusInfinity(source: Uint8Array | undefined): Uint8Array {
  const t = new Uint8Array(SizeOfIndexTupleData);
  if (source !== undefined) t.set(source.subarray(0, 6));
  writeUint16(t, T_INFO_OFFSET, SizeOfIndexTupleData);
  btreeTupleSetNAtts(t, 0, 0, false);
  return t;
}

/**
 * _bt_sortaddtup: adds `itup` at `off`; as the first data item of an internal page it is stored
 * as minus infinity (only its header: the downlink; natts 0).
 */
function btSortAddTup(
  page: Uint8Array,
  itup: Uint8Array,
  off: number,
  newfirstdataitem: boolean,
): void {
  const item = newfirstdataitem ? minusInfinity(itup) : itup;
  if (pageAddItemExtended(page, item, off, 0) !== off) {
    throw new PgsimError("internal-error", "failed to add item to the index page");
  }
}

/** _bt_buildadd: adds one tuple to a level, finishing the current page first when needed. */
function btBuildAdd(
  wstate: BtWriteState,
  state: BtPageState,
  itup: Uint8Array,
  truncextra: number,
): void {
  let npage = state.page;
  let nblkno = state.blkno;
  let lastOff = state.lastoff;
  const lastTruncextra = state.lastextra;
  state.lastextra = truncextra;
  const pgspc = pageGetFreeSpace(npage);
  const itupsz = maxAlign(indexTupleSize(itup, 0));
  const isleaf = state.level === 0;
  if (isleaf) {
    btCheckThirdPage(wstate.index, wstate.tableName, itupsz, btreeTupleGetHeapTid(itup, 0)!);
  }
  if (
    pgspc < itupsz + (isleaf ? maxAlign(6) : 0) ||
    (pgspc + lastTruncextra < state.full && lastOff > P_FIRSTKEY)
  ) {
    // Finish the old page: its last item moves to a new page and becomes its high key.
    const opage = npage;
    const oblkno = nblkno;
    npage = btBlNewPage(state.level);
    nblkno = wstate.pagesAlloced++;
    assert(lastOff > P_FIRSTKEY, "a finished page keeps at least one data item");
    const ii = pageGetItemId(opage, lastOff);
    let oitup = opage.slice(itemIdGetOffset(ii), itemIdGetOffset(ii) + itemIdGetLength(ii));
    btSortAddTup(npage, oitup, P_FIRSTKEY, !isleaf);
    pageSetItemId(opage, P_HIKEY, ii);
    pageSetItemId(opage, lastOff, 0);
    writeUint16(opage, PD_LOWER_OFFSET, pageGetLower(opage) - 4);
    if (isleaf) {
      const li = pageGetItemId(opage, lastOff - 1);
      const lastleft = opage.subarray(
        itemIdGetOffset(li),
        itemIdGetOffset(li) + itemIdGetLength(li),
      );
      const truncated = btTruncate(wstate.index, lastleft, oitup);
      if (!pageIndexTupleOverwrite(opage, P_HIKEY, truncated)) {
        throw new PgsimError("internal-error", "failed to add high key to the index page");
      }
      const hi = pageGetItemId(opage, P_HIKEY);
      oitup = opage.slice(itemIdGetOffset(hi), itemIdGetOffset(hi) + itemIdGetLength(hi));
    }
    state.next ??= btPageState(wstate, state.level + 1);
    const lowkey = state.lowkey;
    assert(lowkey !== undefined, "a finished page has a low key");
    btreeTupleSetDownLink(lowkey, 0, oblkno);
    btBuildAdd(wstate, state.next, lowkey, 0);
    state.lowkey = oitup;
    const oo = btPageGetOpaque(opage);
    oo.next = nblkno;
    btPageSetOpaque(opage, oo);
    const no = btPageGetOpaque(npage);
    no.prev = oblkno;
    no.next = P_NONE;
    btPageSetOpaque(npage, no);
    btBlWritePage(wstate, opage, oblkno);
    lastOff = P_FIRSTKEY;
  }
  if (lastOff === P_HIKEY) {
    assert(state.lowkey === undefined, "only a level's first page starts without a low key");
    state.lowkey = minusInfinity(undefined);
  }
  lastOff++;
  btSortAddTup(npage, itup, lastOff, !isleaf && lastOff === P_FIRSTKEY);
  state.page = npage;
  state.blkno = nblkno;
  state.lastoff = lastOff;
}

/** _bt_slideleft: on a level's rightmost page, line pointers move down over the high-key slot. */
function btSlideLeft(page: Uint8Array): void {
  const maxoff = pageGetMaxOffsetNumber(page);
  if (maxoff >= P_FIRSTKEY) {
    for (let off = P_FIRSTKEY; off <= maxoff; off++)
      pageSetItemId(page, off - 1, pageGetItemId(page, off));
    writeUint16(page, PD_LOWER_OFFSET, pageGetLower(page) - 4);
  }
}

/** _bt_uppershutdown: finishes each level's last page, bottom-up, then writes the metapage. */
function btUpperShutdown(
  wstate: BtWriteState,
  state: BtPageState | undefined,
): { root: number; level: number } {
  let root = P_NONE;
  let rootLevel = 0;
  for (let s = state; s !== undefined; s = s.next) {
    if (s.next === undefined) {
      const o = btPageGetOpaque(s.page);
      o.flags |= BTP_ROOT;
      btPageSetOpaque(s.page, o);
      root = s.blkno;
      rootLevel = s.level;
    } else {
      const lowkey = s.lowkey;
      assert(lowkey !== undefined, "every level's last page has a low key");
      btreeTupleSetDownLink(lowkey, 0, s.blkno);
      btBuildAdd(wstate, s.next, lowkey, 0);
      s.lowkey = undefined;
    }
    btSlideLeft(s.page);
    btBlWritePage(wstate, s.page, s.blkno);
  }
  const meta = new Uint8Array(BLCKSZ);
  btInitMetapage(meta, root, rootLevel, wstate.index.allequalimage);
  btBlWritePage(wstate, meta, BTREE_METAPAGE);
  return { root, level: rootLevel };
}

/**
 * _bt_blwritepage: puts `page` at block `blkno` of the index, extending the relation with zero
 * pages up to it first (as PostgreSQL extends the file with zeroes when pages are written out of
 * order). The page goes through the buffer pool: pinned, exclusively locked, copied, dirtied.
 */
function btBlWritePage(wstate: BtWriteState, page: Uint8Array, blkno: number): void {
  const { pool, index } = wstate;
  while (pool.nblocks(index.locator, ForkNumber.MAIN) < blkno) {
    pool.releaseBuffer(pool.extend(index.locator, ForkNumber.MAIN));
  }
  const buffer =
    pool.nblocks(index.locator, ForkNumber.MAIN) === blkno
      ? pool.extend(index.locator, ForkNumber.MAIN)
      : pool.readBuffer(index.locator, ForkNumber.MAIN, blkno);
  pool.lockBuffer(buffer, "exclusive");
  try {
    const target = pool.bufferGetPage(buffer);
    target.set(page);
    pool.markBufferDirty(buffer);
    // log_newpage: an XLOG_FPI with the whole page; redo restores it as it is.
    if (wstate.xlog !== undefined) {
      logNewpageBuffer(
        wstate.xlog.ins,
        wstate.xlog.wal,
        { rel: index.locator, fork: ForkNumber.MAIN, block: blkno, page: target },
        true,
      );
    }
  } finally {
    pool.unlockReleaseBuffer(buffer);
  }
}
