/**
 * The WAL records of B-tree VACUUM — items removed and posting lists shrunk on a leaf, page
 * deletion's two stages, the metapage's cleanup count, and the reuse of a deleted page — in
 * PostgreSQL 15's formats, how they are written, and their redo.
 *
 * Models: src/include/access/nbtxlog.h (xl_btree_metadata, xl_btree_vacuum, xl_btree_update,
 * xl_btree_mark_page_halfdead, xl_btree_unlink_page, xl_btree_reuse_page, the XLOG_BTREE_* info
 * codes), the logging parts of nbtpage.c (_bt_delitems_vacuum, _bt_mark_page_halfdead,
 * _bt_unlink_halfdead_page, _bt_set_cleanup_info, _bt_getbuf's XLOG_BTREE_REUSE_PAGE) and
 * src/backend/access/nbtree/nbtxlog.c (_bt_restore_meta, btree_xlog_updates, btree_xlog_vacuum,
 * btree_xlog_mark_page_halfdead, btree_xlog_unlink_page, btree_xlog_reuse_page).
 * Entry points: `logBtreeVacuum`, `logBtreeMarkPageHalfdead`, `logBtreeUnlinkPage`,
 * `logBtreeMetaCleanup`, `logBtreeReusePage`, `btXLogFinish` (how every nbtree record writer
 * ends, nbtxlog.ts's too); redo per info code: `btreeXlogVacuum`,
 * `btreeXlogMarkPageHalfdead`, `btreeXlogUnlinkPage`, `btreeXlogMetaCleanup`,
 * `btreeXlogReusePage`; `btreeVacuumRedo` (the dispatch of these codes, which nbtxlog.ts's
 * btree_redo hands them to).
 * See also: nbtvacuum.ts (writes them), ../transam/xlogutils.ts (reading pages for redo),
 * nbtxlog.ts (btree_redo, registered for RM_BTREE_ID in ../../database/rmgr-table.ts).
 *
 * Redo rebuilds what the primary changed: a VACUUM record repeats the posting-list updates and
 * the deletions; MARK_PAGE_HALFDEAD redirects the parent's downlink and rebuilds the leaf from
 * scratch (WILL_INIT); UNLINK_PAGE fixes the siblings' links and rebuilds the target as an empty
 * deleted page (its old bytes are not restored: PostgreSQL's btree_mask masks a deleted page's
 * contents) and, when the target was a parent, the leaf's dummy high key; META_CLEANUP and
 * UNLINK_PAGE_META rebuild the metapage (_bt_restore_meta).
 *
 * Differs from PostgreSQL: REUSE_PAGE's redo is a no-op, as PostgreSQL's outside hot standby (pgsim has no standby);
 * XLOG_BTREE_DELETE (simple and bottom-up deletion, which insertion performs) is not written here.
 */

import { type BufferId, ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { InvalidBlockNumber } from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_HAS_FULLXID,
  BTP_HAS_GARBAGE,
  BTP_LEAF,
  BTREE_METAPAGE,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleSetDownLink,
  btreeTupleSetNAtts,
  P_HIKEY,
  readBtMeta,
  writeBtMeta,
} from "../../include/access/nbtree.js";
import { readUint16, readUint32, writeUint16, writeUint32 } from "../../include/port/le-bytes.js";
import {
  itemIdGetOffset,
  PD_LOWER_OFFSET,
  PD_UPPER_OFFSET,
  pageAddItemExtended,
  pageGetItemId,
  pageGetSpecial,
  pageIndexMultiDelete,
  pageIndexTupleDelete,
  pageIndexTupleOverwrite,
  pageSetLsn,
} from "../../storage/page/bufpage.js";
import type { XLogBackend } from "../table/tableam.js";
import { REGBUF_STANDARD, REGBUF_WILL_INIT, type XLogInsertState } from "../transam/xloginsert.js";

/** What XLogInsert returns: the record's start and end. */
type XLogInsertResult = ReturnType<XLogInsertState["insert"]>;

import { RM_BTREE_ID } from "../transam/rmgr.js";
import type { DecodedXLogRecord } from "../transam/xlogreader.js";
import {
  type RedoContext,
  redoError,
  xlogInitBufferForRedo,
  xlogReadBufferForRedo,
  xlogRecGetBlock,
  xlogRecHasBlockRef,
} from "../transam/xlogutils.js";
import { btFormPosting } from "./nbtdedup.js";
import { btInitMetapage, btPageInit } from "./nbtpage.js";

// nbtxlog.h info codes (the ones VACUUM writes).
export const XLOG_BTREE_UNLINK_PAGE = 0x80;
export const XLOG_BTREE_UNLINK_PAGE_META = 0x90;
export const XLOG_BTREE_MARK_PAGE_HALFDEAD = 0xb0;
export const XLOG_BTREE_VACUUM = 0xc0;
export const XLOG_BTREE_REUSE_PAGE = 0xd0;
export const XLOG_BTREE_META_CLEANUP = 0xe0;

/** sizeof(xl_btree_metadata): six uint32, a bool and 3 bytes of padding. */
export const SizeOfBtreeMetadata = 28;
/** SizeOfBtreeVacuum: ndeleted, nupdated. */
export const SizeOfBtreeVacuum = 4;
/** SizeOfBtreeMarkPageHalfDead: poffset (+2 padding), leafblk, leftblk, rightblk, topparent. */
export const SizeOfBtreeMarkPageHalfDead = 20;
/** SizeOfBtreeUnlinkPage: leftsib, rightsib, level, (4 padding), safexid u64, leaf links, top. */
export const SizeOfBtreeUnlinkPage = 36;
/** SizeOfBtreeReusePage: RelFileNode, block, (4 padding... none: 12 + 4), latestRemovedFullXid. */
export const SizeOfBtreeReusePage = 24;

/** xl_btree_metadata. */
export interface XlBtreeMetadata {
  version: number;
  root: number;
  level: number;
  fastroot: number;
  fastlevel: number;
  lastCleanupNumDelpages: number;
  allequalimage: boolean;
}

export function encodeXlBtreeMetadata(m: XlBtreeMetadata): Uint8Array {
  const b = new Uint8Array(SizeOfBtreeMetadata);
  writeUint32(b, 0, m.version);
  writeUint32(b, 4, m.root);
  writeUint32(b, 8, m.level);
  writeUint32(b, 12, m.fastroot);
  writeUint32(b, 16, m.fastlevel);
  writeUint32(b, 20, m.lastCleanupNumDelpages);
  b[24] = m.allequalimage ? 1 : 0;
  return b;
}

export function decodeXlBtreeMetadata(b: Uint8Array): XlBtreeMetadata {
  if (b.length < 25) throw redoError("xl_btree_metadata is too short", { length: b.length });
  return {
    version: readUint32(b, 0),
    root: readUint32(b, 4),
    level: readUint32(b, 8),
    fastroot: readUint32(b, 12),
    fastlevel: readUint32(b, 16),
    lastCleanupNumDelpages: readUint32(b, 20),
    allequalimage: b[24] !== 0,
  };
}

/** The metapage's fields as xl_btree_metadata carries them. */
function metadataOf(metapage: Uint8Array): XlBtreeMetadata {
  const m = readBtMeta(metapage);
  return {
    version: m.version,
    root: m.root,
    level: m.level,
    fastroot: m.fastroot,
    fastlevel: m.fastlevel,
    lastCleanupNumDelpages: m.lastCleanupNumDelpages,
    allequalimage: m.allequalimage,
  };
}

/** xl_btree_unlink_page. */
export interface XlBtreeUnlinkPage {
  leftsib: number;
  rightsib: number;
  level: number;
  safexid: bigint;
  leafleftsib: number;
  leafrightsib: number;
  leaftopparent: number;
}

export function encodeXlBtreeUnlinkPage(x: XlBtreeUnlinkPage): Uint8Array {
  const b = new Uint8Array(SizeOfBtreeUnlinkPage);
  writeUint32(b, 0, x.leftsib);
  writeUint32(b, 4, x.rightsib);
  writeUint32(b, 8, x.level);
  new DataView(b.buffer).setBigUint64(16, x.safexid, true);
  writeUint32(b, 24, x.leafleftsib);
  writeUint32(b, 28, x.leafrightsib);
  writeUint32(b, 32, x.leaftopparent);
  return b;
}

export function decodeXlBtreeUnlinkPage(b: Uint8Array): XlBtreeUnlinkPage {
  if (b.length < SizeOfBtreeUnlinkPage) throw redoError("xl_btree_unlink_page is too short");
  return {
    leftsib: readUint32(b, 0),
    rightsib: readUint32(b, 4),
    level: readUint32(b, 8),
    safexid: new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(16, true),
    leafleftsib: readUint32(b, 24),
    leafrightsib: readUint32(b, 28),
    leaftopparent: readUint32(b, 32),
  };
}

/** xl_btree_mark_page_halfdead. */
export interface XlBtreeMarkPageHalfdead {
  poffset: number;
  leafblk: number;
  leftblk: number;
  rightblk: number;
  topparent: number;
}

export function encodeXlBtreeMarkPageHalfdead(x: XlBtreeMarkPageHalfdead): Uint8Array {
  const b = new Uint8Array(SizeOfBtreeMarkPageHalfDead);
  writeUint16(b, 0, x.poffset);
  writeUint32(b, 4, x.leafblk);
  writeUint32(b, 8, x.leftblk);
  writeUint32(b, 12, x.rightblk);
  writeUint32(b, 16, x.topparent);
  return b;
}

export function decodeXlBtreeMarkPageHalfdead(b: Uint8Array): XlBtreeMarkPageHalfdead {
  if (b.length < SizeOfBtreeMarkPageHalfDead) {
    throw redoError("xl_btree_mark_page_halfdead is too short");
  }
  return {
    poffset: readUint16(b, 0),
    leafblk: readUint32(b, 4),
    leftblk: readUint32(b, 8),
    rightblk: readUint32(b, 12),
    topparent: readUint32(b, 16),
  };
}

/** One updated posting list of a VACUUM record: its offset and the 0-based positions removed. */
export interface XlBtreeUpdate {
  readonly offset: number;
  readonly deletetids: readonly number[];
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A page of an index as a record registers it. */
export interface BtPageRef {
  readonly rel: RelFileLocator;
  readonly block: number;
  readonly page: Uint8Array;
}

/**
 * The end of every nbtree record writer (this file's and nbtxlog.ts's): XLogInsert of the record
 * built so far, then PageSetLSN with its end on each page it changed (`undefined`: a block the
 * record did not register). Returns the insert's result.
 */
export function btXLogFinish(
  xlog: XLogBackend,
  info: number,
  xid: number,
  pages: readonly ({ readonly page: Uint8Array } | undefined)[],
): XLogInsertResult {
  const r = xlog.ins.insert(xlog.wal, RM_BTREE_ID, info, { xid });
  for (const p of pages) if (p !== undefined) pageSetLsn(p.page, r.endLsn);
  return r;
}

function ref(p: BtPageRef) {
  return { rel: p.rel, fork: ForkNumber.MAIN, block: p.block, page: p.page };
}

/**
 * _bt_delitems_vacuum's XLOG_BTREE_VACUUM: {ndeleted, nupdated} as main data; the leaf
 * (standard) with the deleted offsets, the updated offsets and one xl_btree_update per updated
 * posting list {ndeletedtids, positions} as its data. Sets the page's LSN.
 */
export function logBtreeVacuum(
  xlog: XLogBackend,
  leaf: BtPageRef,
  deletable: readonly number[],
  updates: readonly XlBtreeUpdate[],
): XLogInsertResult {
  const { ins } = xlog;
  ins.beginInsert();
  ins.registerBuffer(0, ref(leaf), REGBUF_STANDARD);
  const main = new Uint8Array(SizeOfBtreeVacuum);
  writeUint16(main, 0, deletable.length);
  writeUint16(main, 2, updates.length);
  ins.registerData(main);
  if (deletable.length > 0) ins.registerBufData(0, u16s(deletable));
  if (updates.length > 0) {
    ins.registerBufData(0, u16s(updates.map((u) => u.offset)));
    ins.registerBufData(0, u16s(updates.flatMap((u) => [u.deletetids.length, ...u.deletetids])));
  }
  return btXLogFinish(xlog, XLOG_BTREE_VACUUM, 0, [leaf]);
}

function u16s(values: readonly number[]): Uint8Array {
  const b = new Uint8Array(2 * values.length);
  values.forEach((v, i) => {
    writeUint16(b, 2 * i, v);
  });
  return b;
}

/**
 * _bt_mark_page_halfdead's XLOG_BTREE_MARK_PAGE_HALFDEAD: block 0 the leaf (WILL_INIT: redo
 * rebuilds it), block 1 the subtree parent; the leaf's links from its page. Sets both LSNs.
 */
export function logBtreeMarkPageHalfdead(
  xlog: XLogBackend,
  leaf: BtPageRef,
  subtreeParent: BtPageRef,
  x: { poffset: number; topparent: number },
): XLogInsertResult {
  const { ins } = xlog;
  ins.beginInsert();
  ins.registerBuffer(0, ref(leaf), REGBUF_WILL_INIT);
  ins.registerBuffer(1, ref(subtreeParent), REGBUF_STANDARD);
  const o = btPageGetOpaque(leaf.page);
  ins.registerData(
    encodeXlBtreeMarkPageHalfdead({
      poffset: x.poffset,
      leafblk: leaf.block,
      leftblk: o.prev,
      rightblk: o.next,
      topparent: x.topparent !== leaf.block ? x.topparent : InvalidBlockNumber,
    }),
  );
  return btXLogFinish(xlog, XLOG_BTREE_MARK_PAGE_HALFDEAD, 0, [subtreeParent, leaf]);
}

/**
 * _bt_unlink_halfdead_page's XLOG_BTREE_UNLINK_PAGE (or _META when the fast root moved): block 0
 * the target (WILL_INIT), 1 the left sibling, 2 the right sibling, 3 the leaf when it is not the
 * target (WILL_INIT), 4 the metapage with xl_btree_metadata. Sets every page's LSN.
 */
export function logBtreeUnlinkPage(
  xlog: XLogBackend,
  pages: {
    target: BtPageRef;
    left: BtPageRef | undefined;
    right: BtPageRef;
    leaf: BtPageRef | undefined;
    meta: BtPageRef | undefined;
  },
  x: XlBtreeUnlinkPage,
): XLogInsertResult {
  const { ins } = xlog;
  ins.beginInsert();
  ins.registerBuffer(0, ref(pages.target), REGBUF_WILL_INIT);
  if (pages.left !== undefined) ins.registerBuffer(1, ref(pages.left), REGBUF_STANDARD);
  ins.registerBuffer(2, ref(pages.right), REGBUF_STANDARD);
  if (pages.leaf !== undefined) ins.registerBuffer(3, ref(pages.leaf), REGBUF_WILL_INIT);
  ins.registerData(encodeXlBtreeUnlinkPage(x));
  let info = XLOG_BTREE_UNLINK_PAGE;
  if (pages.meta !== undefined) {
    ins.registerBuffer(4, ref(pages.meta), REGBUF_WILL_INIT | REGBUF_STANDARD);
    ins.registerBufData(4, encodeXlBtreeMetadata(metadataOf(pages.meta.page)));
    info = XLOG_BTREE_UNLINK_PAGE_META;
  }
  return btXLogFinish(xlog, info, 0, [
    pages.meta,
    pages.right,
    pages.target,
    pages.left,
    pages.leaf,
  ]);
}

/**
 * _bt_set_cleanup_info's XLOG_BTREE_META_CLEANUP: the metapage (WILL_INIT, standard) with
 * xl_btree_metadata. Sets its LSN.
 */
export function logBtreeMetaCleanup(xlog: XLogBackend, meta: BtPageRef): XLogInsertResult {
  const { ins } = xlog;
  ins.beginInsert();
  ins.registerBuffer(0, ref(meta), REGBUF_WILL_INIT | REGBUF_STANDARD);
  ins.registerBufData(0, encodeXlBtreeMetadata(metadataOf(meta.page)));
  return btXLogFinish(xlog, XLOG_BTREE_META_CLEANUP, 0, [meta]);
}

/**
 * _bt_getbuf's XLOG_BTREE_REUSE_PAGE (wal_level ≥ replica): {RelFileNode, block,
 * latestRemovedFullXid = the page's safexid}; no block registered — it only tells a standby
 * which snapshots conflict.
 */
export function logBtreeReusePage(
  xlog: XLogBackend,
  rel: RelFileLocator,
  block: number,
  safexid: bigint,
): XLogInsertResult {
  const { ins } = xlog;
  ins.beginInsert();
  const b = new Uint8Array(SizeOfBtreeReusePage);
  writeUint32(b, 0, rel.spcOid);
  writeUint32(b, 4, rel.dbOid);
  writeUint32(b, 8, rel.relNumber);
  writeUint32(b, 12, block);
  new DataView(b.buffer).setBigUint64(16, safexid, true);
  ins.registerData(b);
  return btXLogFinish(xlog, XLOG_BTREE_REUSE_PAGE, 0, []);
}

// ---------------------------------------------------------------------------------------------
// Redo

/** _bt_restore_meta: block `blockId` re-initialised as the metapage the record describes. */
function btRestoreMeta(ctx: RedoContext, record: DecodedXLogRecord, blockId: number): void {
  const pool = ctx.pool;
  const blk = xlogRecGetBlock(record, blockId);
  if (blk.block !== BTREE_METAPAGE) throw redoError("btree metapage record for a non-meta block");
  const md = decodeXlBtreeMetadata(blk.data);
  const buf = xlogInitBufferForRedo(ctx, record, blockId);
  const page = pool.bufferGetPage(buf);
  btInitMetapage(page, md.root, md.level, md.allequalimage);
  writeBtMeta(page, {
    ...readBtMeta(page),
    version: md.version,
    fastroot: md.fastroot,
    fastlevel: md.fastlevel,
    lastCleanupNumDelpages: md.lastCleanupNumDelpages,
    lastCleanupNumHeapTuples: -1.0,
  });
  finish(ctx, record, buf);
}

function finish(ctx: RedoContext, record: DecodedXLogRecord, buf: BufferId): void {
  pageSetLsn(ctx.pool.bufferGetPage(buf), record.endLsn);
  ctx.pool.markBufferDirty(buf);
  ctx.pool.unlockReleaseBuffer(buf);
}

/** The 8-byte dummy high key of a half-dead leaf (BTreeTupleSetTopParent), added at P_HIKEY. */
function addDummyHighKey(page: Uint8Array, topparent: number): void {
  const trunctuple = new Uint8Array(8);
  writeUint16(trunctuple, 6, 8);
  btreeTupleSetDownLink(trunctuple, 0, topparent);
  btreeTupleSetNAtts(trunctuple, 0, 0, false);
  if (pageAddItemExtended(page, trunctuple, P_HIKEY, 0) !== P_HIKEY) {
    throw redoError("could not add dummy high key to half-dead page");
  }
}

/** A fresh page (_bt_pageinit) with the given special space. */
function initPage(
  page: Uint8Array,
  o: { prev: number; next: number; level: number; flags: number },
): void {
  btPageInit(page);
  btPageSetOpaque(page, { ...o, cycleid: 0 });
}

/**
 * btree_xlog_vacuum: the posting lists rebuilt without the removed TIDs (btree_xlog_updates),
 * then the deleted items removed (PageIndexMultiDelete), BTP_HAS_GARBAGE cleared.
 */
export function btreeXlogVacuum(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  if (record.mainData.length < SizeOfBtreeVacuum) throw redoError("xl_btree_vacuum is too short");
  const ndeleted = readUint16(record.mainData, 0);
  const nupdated = readUint16(record.mainData, 2);
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const data = xlogRecGetBlock(record, 0).data;
    let at = 0;
    const next = () => {
      if (at + 2 > data.length) throw redoError("xl_btree_vacuum block data is too short");
      const v = readUint16(data, at);
      at += 2;
      return v;
    };
    const deleted = Array.from({ length: ndeleted }, next);
    const updatedOffsets = Array.from({ length: nupdated }, next);
    for (const offnum of updatedOffsets) {
      const n = next();
      const dead = new Set(Array.from({ length: n }, next));
      const t = itemIdGetOffset(pageGetItemId(page, offnum));
      const orig = page.slice(t, t + indexTupleSize(page, t));
      const total = btreeTupleGetNPosting(orig, 0);
      const remaining = [];
      for (let i = 0; i < total; i++)
        if (!dead.has(i)) remaining.push(btreeTupleGetPostingN(orig, 0, i));
      if (!pageIndexTupleOverwrite(page, offnum, btFormPosting(orig, remaining))) {
        throw redoError("failed to update partially dead item");
      }
    }
    if (deleted.length > 0) pageIndexMultiDelete(page, deleted);
    const o = btPageGetOpaque(page);
    btPageSetOpaque(page, { ...o, flags: o.flags & ~BTP_HAS_GARBAGE });
    finish(ctx, record, r.buffer);
  } else if (r.buffer !== undefined) {
    pool.unlockReleaseBuffer(r.buffer);
  }
}

/**
 * btree_xlog_mark_page_halfdead: in the subtree parent the downlink at poffset takes the next
 * item's downlink and the next item goes; the leaf is rebuilt as a half-dead page with only the
 * dummy high key.
 */
export function btreeXlogMarkPageHalfdead(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const x = decodeXlBtreeMarkPageHalfdead(record.mainData);
  const r = xlogReadBufferForRedo(ctx, record, 1);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const nextoffset = x.poffset + 1;
    const rightsib = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, nextoffset)));
    btreeTupleSetDownLink(page, itemIdGetOffset(pageGetItemId(page, x.poffset)), rightsib);
    pageIndexTupleDelete(page, nextoffset);
    finish(ctx, record, r.buffer);
  } else if (r.buffer !== undefined) {
    pool.unlockReleaseBuffer(r.buffer);
  }
  const buf = xlogInitBufferForRedo(ctx, record, 0);
  const page = pool.bufferGetPage(buf);
  initPage(page, { prev: x.leftblk, next: x.rightblk, level: 0, flags: BTP_HALF_DEAD | BTP_LEAF });
  addDummyHighKey(page, x.topparent);
  finish(ctx, record, buf);
}

/**
 * btree_xlog_unlink_page: the left sibling's right link, the target rebuilt as an empty deleted
 * page (BTPageSetDeleted with the record's safexid), the right sibling's left link; the leaf
 * rebuilt half-dead with its new top parent when a parent was the target; the metapage for
 * UNLINK_PAGE_META.
 */
export function btreeXlogUnlinkPage(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const info = record.header.info & 0xf0;
  const x = decodeXlBtreeUnlinkPage(record.mainData);
  const isleaf = x.level === 0;
  let leftbuf: BufferId | undefined;
  if (x.leftsib !== 0) {
    const r = xlogReadBufferForRedo(ctx, record, 1);
    leftbuf = r.buffer;
    if (r.action === "needs-redo") {
      const page = pool.bufferGetPage(r.buffer);
      btPageSetOpaque(page, { ...btPageGetOpaque(page), next: x.rightsib });
      pageSetLsn(page, record.endLsn);
      pool.markBufferDirty(r.buffer);
    }
  }
  const target = xlogInitBufferForRedo(ctx, record, 0);
  const tpage = pool.bufferGetPage(target);
  initPage(tpage, {
    prev: x.leftsib,
    next: x.rightsib,
    level: x.level,
    flags: BTP_DELETED | BTP_HAS_FULLXID | (isleaf ? BTP_LEAF : 0),
  });
  writeUint16(tpage, PD_LOWER_OFFSET, 32);
  writeUint16(tpage, PD_UPPER_OFFSET, pageGetSpecial(tpage));
  new DataView(tpage.buffer, tpage.byteOffset, tpage.byteLength).setBigUint64(24, x.safexid, true);
  pageSetLsn(tpage, record.endLsn);
  pool.markBufferDirty(target);
  const r = xlogReadBufferForRedo(ctx, record, 2);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    btPageSetOpaque(page, { ...btPageGetOpaque(page), prev: x.leftsib });
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (leftbuf !== undefined) pool.unlockReleaseBuffer(leftbuf);
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
  pool.unlockReleaseBuffer(target);
  if (xlogRecHasBlockRef(record, 3)) {
    if (isleaf) throw redoError("unlink record of a leaf names another leaf");
    const leafbuf = xlogInitBufferForRedo(ctx, record, 3);
    const page = pool.bufferGetPage(leafbuf);
    initPage(page, {
      prev: x.leafleftsib,
      next: x.leafrightsib,
      level: 0,
      flags: BTP_HALF_DEAD | BTP_LEAF,
    });
    addDummyHighKey(page, x.leaftopparent);
    finish(ctx, record, leafbuf);
  }
  if (info === XLOG_BTREE_UNLINK_PAGE_META) btRestoreMeta(ctx, record, 4);
}

/** btree_xlog_newmeta for XLOG_BTREE_META_CLEANUP: the metapage rebuilt from the record. */
export function btreeXlogMetaCleanup(ctx: RedoContext, record: DecodedXLogRecord): void {
  btRestoreMeta(ctx, record, 0);
}

/**
 * btree_xlog_reuse_page: only a hot standby acts on it (recovery conflicts with snapshots that
 * could still see the page's safexid); pgsim has no standby, so nothing is done.
 */
export function btreeXlogReusePage(_ctx: RedoContext, record: DecodedXLogRecord): void {
  if (record.mainData.length < SizeOfBtreeReusePage) {
    throw redoError("xl_btree_reuse_page is too short");
  }
}

/**
 * The B-tree resource manager's redo for VACUUM's records.
 *
 * For the lead to merge: this is a minimal dispatcher, registered for RM_BTREE_ID in
 * rmgr-table.ts so that a crash after a VACUUM of an index recovers; the full btree_redo
 * (nbtxlog.ts: insertions, splits, dedup, new root) should call the functions above for these
 * info codes and replace it.
 */
export function btreeVacuumRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  switch (record.header.info & 0xf0) {
    case XLOG_BTREE_VACUUM:
      btreeXlogVacuum(ctx, record);
      return;
    case XLOG_BTREE_MARK_PAGE_HALFDEAD:
      btreeXlogMarkPageHalfdead(ctx, record);
      return;
    case XLOG_BTREE_UNLINK_PAGE:
    case XLOG_BTREE_UNLINK_PAGE_META:
      btreeXlogUnlinkPage(ctx, record);
      return;
    case XLOG_BTREE_META_CLEANUP:
      btreeXlogMetaCleanup(ctx, record);
      return;
    case XLOG_BTREE_REUSE_PAGE:
      btreeXlogReusePage(ctx, record);
      return;
    default:
      throw redoError(`btree_redo: unknown op code ${record.header.info & 0xf0}`);
  }
}
