/**
 * The B-tree resource manager (RM_BTREE_ID = 11): the WAL records an insertion writes — a tuple
 * added to a leaf or an internal page (with the metapage when the fast root moves, or with a
 * posting-list split), a page split, a new root, a deduplication pass, a simple deletion — in
 * PostgreSQL 15's formats, so that pg_waldump decodes them, and their redo.
 *
 * Models: src/include/access/nbtxlog.h (xl_btree_metadata, xl_btree_insert, xl_btree_split,
 * xl_btree_dedup, xl_btree_delete, xl_btree_newroot) and src/backend/access/nbtree/nbtxlog.c
 * (btree_redo, btree_xlog_insert, btree_xlog_split, btree_xlog_dedup, btree_xlog_delete,
 * btree_xlog_newroot, _bt_restore_page, _bt_restore_meta, _bt_clear_incomplete_split); the
 * record-building halves of nbtinsert.c (_bt_insertonpg, _bt_split, _bt_newroot), nbtpage.c
 * (_bt_getroot, _bt_delitems_delete) and nbtdedup.c (_bt_dedup_pass).
 * Entry points: `logBtreeInsert`, `logBtreeSplit`, `logBtreeNewroot`, `logBtreeDedup`,
 * `logBtreeDelete`, `btreeRedo`, the `XLOG_BTREE_*` codes.
 * See also: nbtinsert.ts (the writers' callers), ../../database/rmgr-table.ts (registration),
 * a later nbtxlog-vacuum.ts (VACUUM and page deletion records: not here).
 *
 * Differs from PostgreSQL: XLOG_BTREE_DELETE carries latestRemovedXid 0 (pgsim computes no
 * snapshot-conflict horizon: there are no standbys); the vacuum, page-deletion, reuse-page and
 * meta-cleanup records are not written or replayed yet.
 */

import type { BufferId } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { maxAlign } from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  BT_META_PD_LOWER,
  type BTMetaPageData,
  BTP_HAS_GARBAGE,
  BTP_INCOMPLETE_SPLIT,
  BTP_LEAF,
  BTP_META,
  BTP_ROOT,
  BTREE_MAGIC,
  btPageGetOpaque,
  btPageSetOpaque,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pRightmost,
  writeBtMeta,
} from "../../include/access/nbtree.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  PD_LOWER_OFFSET,
  pageAddItemExtended,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetSpecial,
  pageGetUpper,
  pageIndexMultiDelete,
  pageSetLsn,
} from "../../storage/page/bufpage.js";
import type { XLogBackend } from "../table/tableam.js";
import { REGBUF_STANDARD, REGBUF_WILL_INIT } from "../transam/xloginsert.js";
import type { DecodedXLogRecord } from "../transam/xlogreader.js";
import {
  type RedoContext,
  redoError,
  xlogInitBufferForRedo,
  xlogReadBufferForRedo,
  xlogRecGetBlock,
  xlogRecHasBlockRef,
} from "../transam/xlogutils.js";
import {
  type BtDedupState,
  btDedupSaveHtid,
  btDedupStartPending,
  btFormPosting,
  btSwapPosting,
} from "./nbtdedup.js";
import { btPageInit } from "./nbtpage.js";
import { btreeVacuumRedo, btXLogFinish } from "./nbtxlog-vacuum.js";

export const XLOG_BTREE_INSERT_LEAF = 0x00;
export const XLOG_BTREE_INSERT_UPPER = 0x10;
export const XLOG_BTREE_INSERT_META = 0x20;
export const XLOG_BTREE_SPLIT_L = 0x30;
export const XLOG_BTREE_SPLIT_R = 0x40;
export const XLOG_BTREE_INSERT_POST = 0x50;
export const XLOG_BTREE_DEDUP = 0x60;
export const XLOG_BTREE_DELETE = 0x70;
export const XLOG_BTREE_NEWROOT = 0xa0;

/** sizeof(xl_btree_metadata): six uint32 and a bool, padded to 28. */
const SizeOfBtreeMetadata = 28;

/** Where a change went: the index's pages and the WAL handles (when the index is logged). */
export interface BtWal {
  readonly xlog: XLogBackend;
  /** The inserting transaction's xid (xl_xid), 0 if none. */
  readonly xid: number;
  readonly rel: Parameters<XLogBackend["ins"]["registerBuffer"]>[1]["rel"];
}

/** A registered page: its block and its page bytes (the buffer's, changed already). */
export interface BtLoggedPage {
  readonly block: number;
  readonly page: Uint8Array;
}

function u16(n: number): Uint8Array {
  const b = new Uint8Array(2);
  writeUint16(b, 0, n);
  return b;
}

function u32le(out: DataView, at: number, n: number): void {
  out.setUint32(at, n >>> 0, true);
}

/** xl_btree_metadata from the metapage's fields. */
function metadataBytes(m: BTMetaPageData): Uint8Array {
  const b = new Uint8Array(SizeOfBtreeMetadata);
  const v = new DataView(b.buffer);
  u32le(v, 0, m.version);
  u32le(v, 4, m.root);
  u32le(v, 8, m.level);
  u32le(v, 12, m.fastroot);
  u32le(v, 16, m.fastlevel);
  u32le(v, 20, m.lastCleanupNumDelpages);
  b[24] = m.allequalimage ? 1 : 0;
  return b;
}

function register(w: BtWal, id: number, p: BtLoggedPage, flags: number): void {
  w.xlog.ins.registerBuffer(
    id,
    { rel: w.rel, fork: ForkNumber.MAIN, block: p.block, page: p.page },
    flags,
  );
}

function finish(w: BtWal, info: number, pages: readonly (BtLoggedPage | undefined)[]): void {
  btXLogFinish(w.xlog, info, w.xid, pages);
}

/**
 * _bt_insertonpg's record: INSERT_LEAF (or INSERT_POST with the posting offset and the original
 * new item), INSERT_UPPER with the child whose split it finishes, INSERT_META with the metapage.
 */
export function logBtreeInsert(
  w: BtWal,
  input: {
    page: BtLoggedPage;
    offnum: number;
    itup: Uint8Array;
    postingoff: number;
    origitup: Uint8Array;
    child?: BtLoggedPage;
    meta?: { page: BtLoggedPage; data: BTMetaPageData };
  },
): void {
  const ins = w.xlog.ins;
  ins.beginInsert();
  ins.registerData(u16(input.offnum));
  let info: number;
  if (input.child === undefined && input.postingoff === 0) info = XLOG_BTREE_INSERT_LEAF;
  else if (input.postingoff !== 0) info = XLOG_BTREE_INSERT_POST;
  else {
    info = XLOG_BTREE_INSERT_UPPER;
    register(w, 1, input.child!, REGBUF_STANDARD);
    if (input.meta !== undefined) {
      info = XLOG_BTREE_INSERT_META;
      register(w, 2, input.meta.page, REGBUF_WILL_INIT | REGBUF_STANDARD);
      ins.registerBufData(2, metadataBytes(input.meta.data));
    }
  }
  register(w, 0, input.page, REGBUF_STANDARD);
  if (input.postingoff === 0) {
    ins.registerBufData(0, input.itup.subarray(0, indexTupleSize(input.itup, 0)));
  } else {
    ins.registerBufData(0, u16(input.postingoff));
    ins.registerBufData(0, input.origitup.subarray(0, indexTupleSize(input.origitup, 0)));
  }
  finish(w, info, [input.meta?.page, input.child, input.page]);
}

/** _bt_split's record: SPLIT_L / SPLIT_R. */
export function logBtreeSplit(
  w: BtWal,
  input: {
    level: number;
    firstrightoff: number;
    newitemoff: number;
    /** postingoff when the replacement posting list went left, else 0. */
    postingoff: number;
    newitemonleft: boolean;
    left: BtLoggedPage;
    right: BtLoggedPage;
    sibling?: BtLoggedPage;
    child?: BtLoggedPage;
    newitem: Uint8Array;
    orignewitem: Uint8Array;
    /** The left page's new high key. */
    lefthighkey: Uint8Array;
  },
): void {
  const ins = w.xlog.ins;
  ins.beginInsert();
  const xl = new Uint8Array(10);
  const v = new DataView(xl.buffer);
  u32le(v, 0, input.level);
  v.setUint16(4, input.firstrightoff, true);
  v.setUint16(6, input.newitemoff, true);
  v.setUint16(8, input.postingoff, true);
  ins.registerData(xl);
  register(w, 0, input.left, REGBUF_STANDARD);
  register(w, 1, input.right, REGBUF_WILL_INIT);
  if (input.sibling !== undefined) register(w, 2, input.sibling, REGBUF_STANDARD);
  if (input.child !== undefined) register(w, 3, input.child, REGBUF_STANDARD);
  if (input.newitemonleft && input.postingoff === 0) {
    ins.registerBufData(0, input.newitem.subarray(0, maxAlign(indexTupleSize(input.newitem, 0))));
  } else if (input.postingoff !== 0) {
    ins.registerBufData(0, input.orignewitem.subarray(0, indexTupleSize(input.orignewitem, 0)));
  }
  ins.registerBufData(
    0,
    input.lefthighkey.subarray(0, maxAlign(indexTupleSize(input.lefthighkey, 0))),
  );
  const rp = input.right.page;
  ins.registerBufData(1, rp, pageGetUpper(rp), pageGetSpecial(rp));
  finish(w, input.newitemonleft ? XLOG_BTREE_SPLIT_L : XLOG_BTREE_SPLIT_R, [
    input.left,
    input.right,
    input.sibling,
    input.child,
  ]);
}

/** _bt_newroot's record (and _bt_getroot's for the first root, without `left`). */
export function logBtreeNewroot(
  w: BtWal,
  input: {
    root: BtLoggedPage;
    level: number;
    left?: BtLoggedPage;
    meta: { page: BtLoggedPage; data: BTMetaPageData };
  },
): void {
  const ins = w.xlog.ins;
  ins.beginInsert();
  const xl = new Uint8Array(8);
  const v = new DataView(xl.buffer);
  u32le(v, 0, input.root.block);
  u32le(v, 4, input.level);
  ins.registerData(xl);
  register(w, 0, input.root, REGBUF_WILL_INIT);
  if (input.left !== undefined) register(w, 1, input.left, REGBUF_STANDARD);
  register(w, 2, input.meta.page, REGBUF_WILL_INIT | REGBUF_STANDARD);
  ins.registerBufData(2, metadataBytes(input.meta.data));
  if (input.left !== undefined) {
    const rp = input.root.page;
    ins.registerBufData(0, rp, pageGetUpper(rp), pageGetSpecial(rp));
  }
  finish(w, XLOG_BTREE_NEWROOT, [input.left, input.root, input.meta.page]);
}

/** _bt_dedup_pass's record: the intervals {baseoff, nitems}. */
export function logBtreeDedup(
  w: BtWal,
  page: BtLoggedPage,
  intervals: readonly { readonly baseoff: number; readonly nitems: number }[],
): void {
  const ins = w.xlog.ins;
  ins.beginInsert();
  register(w, 0, page, REGBUF_STANDARD);
  ins.registerData(u16(intervals.length));
  const data = new Uint8Array(4 * intervals.length);
  intervals.forEach((iv, i) => {
    writeUint16(data, 4 * i, iv.baseoff);
    writeUint16(data, 4 * i + 2, iv.nitems);
  });
  ins.registerBufData(0, data);
  finish(w, XLOG_BTREE_DEDUP, [page]);
}

/** _bt_delitems_delete's record (simple deletion of whole items; no posting-list updates). */
export function logBtreeDelete(w: BtWal, page: BtLoggedPage, deletable: readonly number[]): void {
  const ins = w.xlog.ins;
  ins.beginInsert();
  const xl = new Uint8Array(8);
  const v = new DataView(xl.buffer);
  u32le(v, 0, 0); // latestRemovedXid: see "Differs" in the header
  v.setUint16(4, deletable.length, true);
  v.setUint16(6, 0, true);
  ins.registerData(xl);
  register(w, 0, page, REGBUF_STANDARD);
  const data = new Uint8Array(2 * deletable.length);
  deletable.forEach((off, i) => {
    writeUint16(data, 2 * i, off);
  });
  ins.registerBufData(0, data);
  finish(w, XLOG_BTREE_DELETE, [page]);
}

// ---------------------------------------------------------------------------------------------
// Redo.

function readU16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Runs `f` on block `id` when it needs redo; sets the LSN, marks dirty, releases. */
function redoBlock(
  ctx: RedoContext,
  record: DecodedXLogRecord,
  id: number,
  f: (page: Uint8Array) => void,
): void {
  const r = xlogReadBufferForRedo(ctx, record, id);
  if (r.action === "not-found") return;
  try {
    if (r.action === "needs-redo") {
      const page = ctx.pool.bufferGetPage(r.buffer);
      f(page);
      pageSetLsn(page, record.endLsn);
      ctx.pool.markBufferDirty(r.buffer);
    }
  } finally {
    ctx.pool.unlockReleaseBuffer(r.buffer);
  }
}

/** _bt_clear_incomplete_split. */
function clearIncompleteSplit(ctx: RedoContext, record: DecodedXLogRecord, id: number): void {
  redoBlock(ctx, record, id, (page) => {
    const o = btPageGetOpaque(page);
    btPageSetOpaque(page, { ...o, flags: o.flags & ~BTP_INCOMPLETE_SPLIT });
  });
}

/** _bt_restore_meta: the metapage re-initialised from xl_btree_metadata. */
function restoreMeta(ctx: RedoContext, record: DecodedXLogRecord, id: number): void {
  const buf = xlogInitBufferForRedo(ctx, record, id);
  try {
    const data = xlogRecGetBlock(record, id).data;
    const page = ctx.pool.bufferGetPage(buf);
    btPageInit(page);
    writeBtMeta(page, {
      magic: BTREE_MAGIC,
      version: readU32(data, 0),
      root: readU32(data, 4),
      level: readU32(data, 8),
      fastroot: readU32(data, 12),
      fastlevel: readU32(data, 16),
      lastCleanupNumDelpages: readU32(data, 20),
      lastCleanupNumHeapTuples: -1.0,
      allequalimage: data[24] !== 0,
    });
    btPageSetOpaque(page, { prev: 0, next: 0, level: 0, flags: BTP_META, cycleid: 0 });
    writeUint16(page, PD_LOWER_OFFSET, BT_META_PD_LOWER);
    pageSetLsn(page, record.endLsn);
    ctx.pool.markBufferDirty(buf);
  } finally {
    ctx.pool.unlockReleaseBuffer(buf);
  }
}

/**
 * _bt_restore_page: the tuples logged from pd_upper to pd_special (item 1 last) added back in
 * item-number order, so the page has the same physical layout.
 */
function restorePage(page: Uint8Array, from: Uint8Array): void {
  const items: Uint8Array[] = [];
  for (let at = 0; at < from.length; ) {
    const size = maxAlign(indexTupleSize(from, at));
    items.push(from.subarray(at, at + size));
    at += size;
  }
  const n = items.length;
  for (let i = n - 1; i >= 0; i--) {
    if (pageAddItemExtended(page, items[i]!, n - i, 0) !== n - i) {
      throw redoError("_bt_restore_page: cannot add item to page");
    }
  }
}

function itemAt(page: Uint8Array, off: number): Uint8Array {
  const id = pageGetItemId(page, off);
  const at = itemIdGetOffset(id);
  return page.subarray(at, at + itemIdGetLength(id));
}

/** A copy of `page` with only its special space (PageGetTempPageCopySpecial, LSN kept). */
function tempPageCopySpecial(page: Uint8Array): Uint8Array {
  const tmp = new Uint8Array(page.length);
  btPageInit(tmp);
  tmp.set(page.subarray(pageGetSpecial(page)), pageGetSpecial(page));
  tmp.set(page.subarray(0, 8), 0);
  return tmp;
}

function btreeXlogInsert(
  ctx: RedoContext,
  record: DecodedXLogRecord,
  isleaf: boolean,
  ismeta: boolean,
  posting: boolean,
): void {
  const offnum = readU16(record.mainData, 0);
  if (!isleaf) clearIncompleteSplit(ctx, record, 1);
  redoBlock(ctx, record, 0, (page) => {
    const data = xlogRecGetBlock(record, 0).data;
    if (!posting) {
      if (pageAddItemExtended(page, data, offnum, 0) !== offnum) {
        throw redoError("failed to add new item");
      }
      return;
    }
    const postingoff = readU16(data, 0);
    const newitem = data.slice(2);
    const oposting = itemAt(page, offnum - 1);
    const nposting = btSwapPosting(newitem, oposting, postingoff);
    oposting.set(nposting);
    if (pageAddItemExtended(page, newitem, offnum, 0) !== offnum) {
      throw redoError("failed to add posting split new item");
    }
  });
  if (ismeta) restoreMeta(ctx, record, 2);
}

function btreeXlogSplit(ctx: RedoContext, record: DecodedXLogRecord, newitemonleft: boolean): void {
  const m = record.mainData;
  const level = readU32(m, 0);
  const firstrightoff = readU16(m, 4);
  const newitemoff = readU16(m, 6);
  const postingoff = readU16(m, 8);
  const isleaf = level === 0;
  const origpagenumber = xlogRecGetBlock(record, 0).block;
  const rightpagenumber = xlogRecGetBlock(record, 1).block;
  const spagenumber = xlogRecHasBlockRef(record, 2) ? xlogRecGetBlock(record, 2).block : P_NONE;
  if (!isleaf) clearIncompleteSplit(ctx, record, 3);

  const rbuf: BufferId = xlogInitBufferForRedo(ctx, record, 1);
  try {
    const rpage = ctx.pool.bufferGetPage(rbuf);
    btPageInit(rpage);
    btPageSetOpaque(rpage, {
      prev: origpagenumber,
      next: spagenumber,
      level,
      flags: isleaf ? BTP_LEAF : 0,
      cycleid: 0,
    });
    restorePage(rpage, xlogRecGetBlock(record, 1).data);
    pageSetLsn(rpage, record.endLsn);
    ctx.pool.markBufferDirty(rbuf);

    redoBlock(ctx, record, 0, (origpage) => {
      let data = xlogRecGetBlock(record, 0).data;
      let newitem: Uint8Array | undefined;
      let nposting: Uint8Array | undefined;
      let replacepostingoff = 0;
      if (newitemonleft || postingoff !== 0) {
        const size = maxAlign(indexTupleSize(data, 0));
        newitem = data.slice(0, size);
        data = data.subarray(size);
        if (postingoff !== 0) {
          replacepostingoff = newitemoff - 1;
          nposting = btSwapPosting(newitem, itemAt(origpage, replacepostingoff), postingoff);
        }
      }
      const hikey = data.subarray(0, maxAlign(indexTupleSize(data, 0)));
      const oopaque = btPageGetOpaque(origpage);
      const leftpage = tempPageCopySpecial(origpage);
      let leftoff = P_HIKEY;
      const add = (item: Uint8Array, what: string) => {
        if (pageAddItemExtended(leftpage, item, leftoff, 0) !== leftoff) {
          throw redoError(`failed to add ${what} to left page after split`);
        }
        leftoff++;
      };
      add(hikey, "high key");
      let off = pFirstDataKey(oopaque);
      for (; off < firstrightoff; off++) {
        if (off === replacepostingoff) {
          add(nposting!, "new posting list item");
          continue;
        } else if (newitemonleft && off === newitemoff) {
          add(newitem!, "new item");
        }
        add(itemAt(origpage, off), "old item");
      }
      if (newitemonleft && off === newitemoff) add(newitem!, "new item");
      origpage.set(leftpage);
      btPageSetOpaque(origpage, {
        ...oopaque,
        flags: BTP_INCOMPLETE_SPLIT | (isleaf ? BTP_LEAF : 0),
        next: rightpagenumber,
        cycleid: 0,
      });
    });

    if (spagenumber !== P_NONE) {
      redoBlock(ctx, record, 2, (spage) => {
        btPageSetOpaque(spage, { ...btPageGetOpaque(spage), prev: rightpagenumber });
      });
    }
  } finally {
    ctx.pool.unlockReleaseBuffer(rbuf);
  }
}

function btreeXlogDedup(ctx: RedoContext, record: DecodedXLogRecord): void {
  const nintervals = readU16(record.mainData, 0);
  redoBlock(ctx, record, 0, (page) => {
    const data = xlogRecGetBlock(record, 0).data;
    const intervals = Array.from({ length: nintervals }, (_, i) => ({
      baseoff: readU16(data, 4 * i),
      nitems: readU16(data, 4 * i + 2),
    }));
    const opaque = btPageGetOpaque(page);
    const newpage = tempPageCopySpecial(page);
    if (!pRightmost(opaque)) {
      if (pageAddItemExtended(newpage, itemAt(page, P_HIKEY), P_HIKEY, 0) !== P_HIKEY) {
        throw redoError("deduplication failed to add highkey");
      }
    }
    const state: BtDedupState = {
      // Larger than the primary's, as PostgreSQL's redo does: the intervals decide.
      maxpostingsize: 8192,
      base: new Uint8Array(0),
      basetupsize: 0,
      htids: [],
      nitems: 0,
    };
    let baseoff = 0;
    let done = 0;
    const finishPending = () => {
      const tuple = state.nitems > 1 ? btFormPosting(state.base, state.htids) : state.base;
      if (state.nitems > 1) done++;
      const at = pageGetMaxOffsetNumber(newpage) + 1;
      if (pageAddItemExtended(newpage, tuple, at, 0) !== at) {
        throw redoError("deduplication failed to add tuple to page");
      }
    };
    const minoff = pFirstDataKey(opaque);
    for (let off = minoff; off <= pageGetMaxOffsetNumber(page); off++) {
      const itup = itemAt(page, off);
      if (off === minoff) {
        btDedupStartPending(state, itup);
        baseoff = off;
      } else if (
        done < nintervals &&
        baseoff === intervals[done]!.baseoff &&
        state.nitems < intervals[done]!.nitems
      ) {
        if (!btDedupSaveHtid(state, itup)) {
          throw redoError("deduplication failed to add heap tid to pending posting list");
        }
      } else {
        finishPending();
        btDedupStartPending(state, itup);
        baseoff = off;
      }
    }
    finishPending();
    const nopaque = btPageGetOpaque(newpage);
    btPageSetOpaque(newpage, { ...nopaque, flags: nopaque.flags & ~BTP_HAS_GARBAGE });
    page.set(newpage);
  });
}

function btreeXlogDelete(ctx: RedoContext, record: DecodedXLogRecord): void {
  const ndeleted = readU16(record.mainData, 4);
  const nupdated = readU16(record.mainData, 6);
  if (nupdated !== 0) {
    throw redoError("XLOG_BTREE_DELETE with updated posting lists is not supported by pgsim");
  }
  redoBlock(ctx, record, 0, (page) => {
    const data = xlogRecGetBlock(record, 0).data;
    if (ndeleted > 0) {
      pageIndexMultiDelete(
        page,
        Array.from({ length: ndeleted }, (_, i) => readU16(data, 2 * i)),
      );
    }
    const o = btPageGetOpaque(page);
    btPageSetOpaque(page, { ...o, flags: o.flags & ~BTP_HAS_GARBAGE });
  });
}

function btreeXlogNewroot(ctx: RedoContext, record: DecodedXLogRecord): void {
  const level = readU32(record.mainData, 4);
  const buf = xlogInitBufferForRedo(ctx, record, 0);
  try {
    const page = ctx.pool.bufferGetPage(buf);
    btPageInit(page);
    btPageSetOpaque(page, {
      prev: P_NONE,
      next: P_NONE,
      level,
      flags: BTP_ROOT | (level === 0 ? BTP_LEAF : 0),
      cycleid: 0,
    });
    if (level > 0) {
      restorePage(page, xlogRecGetBlock(record, 0).data);
      clearIncompleteSplit(ctx, record, 1);
    }
    pageSetLsn(page, record.endLsn);
    ctx.pool.markBufferDirty(buf);
  } finally {
    ctx.pool.unlockReleaseBuffer(buf);
  }
  restoreMeta(ctx, record, 2);
}

/** btree_redo: the records of RM_BTREE_ID this module writes. */
export function btreeRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const info = record.header.info & 0xf0;
  switch (info) {
    case XLOG_BTREE_INSERT_LEAF:
      btreeXlogInsert(ctx, record, true, false, false);
      return;
    case XLOG_BTREE_INSERT_UPPER:
      btreeXlogInsert(ctx, record, false, false, false);
      return;
    case XLOG_BTREE_INSERT_META:
      btreeXlogInsert(ctx, record, false, true, false);
      return;
    case XLOG_BTREE_INSERT_POST:
      btreeXlogInsert(ctx, record, true, false, true);
      return;
    case XLOG_BTREE_SPLIT_L:
      btreeXlogSplit(ctx, record, true);
      return;
    case XLOG_BTREE_SPLIT_R:
      btreeXlogSplit(ctx, record, false);
      return;
    case XLOG_BTREE_DEDUP:
      btreeXlogDedup(ctx, record);
      return;
    case XLOG_BTREE_DELETE:
      btreeXlogDelete(ctx, record);
      return;
    case XLOG_BTREE_NEWROOT:
      btreeXlogNewroot(ctx, record);
      return;
    default:
      // VACUUM's records: vacuum, page deletion, page reuse, metapage cleanup (nbtxlog-vacuum.ts;
      // it refuses an unknown op code).
      btreeVacuumRedo(ctx, record);
  }
}
