/**
 * Redo of the heap and heap2 resource managers' records: each record's change applied again to
 * the pages it names, under the page-LSN interlock, with full-page images restored instead where
 * the record carries them; the visibility map bits cleared or set and the free space map kept up
 * to date as PostgreSQL's redo does; and the heap's mask routine for comparing pages.
 *
 * Models: src/backend/access/heap/heapam.c (heap_redo, heap2_redo, heap_xlog_insert,
 * heap_xlog_multi_insert, heap_xlog_update, heap_xlog_delete, heap_xlog_lock,
 * heap_xlog_lock_updated, heap_xlog_confirm, heap_xlog_inplace, heap_xlog_prune,
 * heap_xlog_vacuum, heap_xlog_freeze_page, heap_xlog_visible, heap_execute_freeze_tuple,
 * heap_mask), storage/freespace/freespace.c (XLogRecordPageWithFreeSpace).
 * Entry points: `heapRedo`, `heap2Redo`, `heapMask`.
 * See also: heapam-xlog.ts (writes the records), access/transam/xlogutils.ts (reading the pages),
 * access/transam/README-wal.md ("Redo of heap records"), docs/reference/postgres-wal.md §5.
 *
 * The common shape of a routine: clear VM bits the record says were cleared (even when the heap
 * page turns out up to date: "done" or "restored"); read the heap page (xlogReadBufferForRedo,
 * or xlogInitBufferForRedo + PageInit for XLOG_HEAP_INIT_PAGE); on "needs-redo" change it as the
 * primary did, set pd_lsn to the record's end and mark it dirty; release; then update the FSM.
 * Rebuilt tuples get xmin = the record's xl_xid, cmin = FirstCommandId (0) and t_ctid = their
 * own TID; redo never reproduces hint bits, command ids, combo-cid flags, pd_prune_xid after a
 * prune, or PD_PAGE_FULL (see `heapMask`).
 *
 * Differs from PostgreSQL: no hot standby (no recovery conflicts, so latestRemovedXid and
 * cutoff_xid are read but not used); XLOG_HEAP2_REWRITE (logical rewrite mappings) is refused
 * with `wal-redo-error`; XLOG_HEAP2_NEW_CID and XLOG_HEAP_TRUNCATE are no-ops, as in PostgreSQL.
 * The visibility map and free space map pages redo extends are initialized (PageInit) rather
 * than left as zeros (fork-pages.ts initializes them on first access; their contents are the
 * same).
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import {
  decodeHeapInsertBlockData,
  decodeMultiInsertTuples,
  decodeOffsets,
  decodeXlHeapDelete,
  decodeXlHeapFreezePage,
  decodeXlHeapFreezeTuples,
  decodeXlHeapInsert,
  decodeXlHeapLock,
  decodeXlHeapMultiInsert,
  decodeXlHeapOffnum,
  decodeXlHeapPrune,
  decodeXlHeapUpdate,
  decodeXlHeapVacuum,
  decodeXlHeapVisible,
  XLH_DELETE_ALL_VISIBLE_CLEARED,
  XLH_DELETE_IS_PARTITION_MOVE,
  XLH_DELETE_IS_SUPER,
  XLH_FREEZE_XVAC,
  XLH_INSERT_ALL_FROZEN_SET,
  XLH_INSERT_ALL_VISIBLE_CLEARED,
  XLH_INVALID_XVAC,
  XLH_LOCK_ALL_FROZEN_CLEARED,
  XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED,
  XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED,
  XLH_UPDATE_PREFIX_FROM_OLD,
  XLH_UPDATE_SUFFIX_FROM_OLD,
  XLOG_HEAP_CONFIRM,
  XLOG_HEAP_DELETE,
  XLOG_HEAP_HOT_UPDATE,
  XLOG_HEAP_INIT_PAGE,
  XLOG_HEAP_INPLACE,
  XLOG_HEAP_INSERT,
  XLOG_HEAP_LOCK,
  XLOG_HEAP_OPMASK,
  XLOG_HEAP_TRUNCATE,
  XLOG_HEAP_UPDATE,
  XLOG_HEAP2_FREEZE_PAGE,
  XLOG_HEAP2_LOCK_UPDATED,
  XLOG_HEAP2_MULTI_INSERT,
  XLOG_HEAP2_NEW_CID,
  XLOG_HEAP2_PRUNE,
  XLOG_HEAP2_REWRITE,
  XLOG_HEAP2_VACUUM,
  XLOG_HEAP2_VISIBLE,
  type XlHeapHeader,
} from "../../include/access/heapam-xlog.js";
import {
  HEAP_COMBOCID,
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_MOVED,
  HEAP_XACT_MASK,
  HEAP_XMAX_BITS,
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_FROZEN,
  heapTupleHeaderGetCtidOffset,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetInfomask2,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
  heapXmaxIsLockedOnly,
  InvalidBlockNumber,
  MaxHeapTupleSize,
  SizeofHeapTupleHeader,
  T_FIELD3_OFFSET,
  T_HOFF_OFFSET,
  T_INFOMASK_OFFSET,
  T_INFOMASK2_OFFSET,
} from "../../include/access/htup-details.js";
import {
  FrozenTransactionId,
  InvalidTransactionId,
  xidPrecedes,
} from "../../include/access/transam.js";
import { BLCKSZ } from "../../include/pg-config.js";
import { writeUint16, writeUint32 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdHasStorage,
  itemIdIsDead,
  itemIdIsNormal,
  LP_UNUSED,
  makeItemId,
  PAI_IS_HEAP,
  PAI_OVERWRITE,
  pageAddItemExtended,
  pageClearAllVisible,
  pageGetFreeSpace,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetLsn,
  pageGetMaxOffsetNumber,
  pageGetPruneXid,
  pageInit,
  pageIsNew,
  pageSetAllVisible,
  pageSetItemId,
  pageSetLsn,
  pageSetPruneXid,
  pageTruncateLinePointerArray,
} from "../../storage/page/bufpage.js";
import {
  MASK_MARKER,
  maskPageHintBits,
  maskPageLsnAndChecksum,
  maskUnusedSpace,
} from "../common/bufmask.js";
import type { DecodedXLogRecord } from "../transam/xlogreader.js";
import { XLR_INFO_MASK } from "../transam/xlogrecord.js";
import {
  type RedoContext,
  redoError,
  xlogInitBufferForRedo,
  xlogReadBufferForRedo,
  xlogReadBufferForRedoExtended,
  xlogRecGetBlock,
  xlogRecHasBlockRef,
} from "../transam/xlogutils.js";
import { fixInfomaskFromInfobits } from "./heapam-xlog.js";
import { heapPagePruneExecute } from "./pruneheap.js";
import { VisibilityMap } from "./visibilitymap.js";
import {
  VISIBILITYMAP_ALL_FROZEN,
  VISIBILITYMAP_VALID_BITS,
  vmGetStatus,
  vmSetBits,
} from "./visibilitymap-page.js";

/** SpecTokenOffsetNumber: a speculative insertion's t_ctid offset holds a token until CONFIRM. */
const SpecTokenOffsetNumber = 0xfffe;
/** MovedPartitionsOffsetNumber: a tuple moved to another partition (t_ctid's block invalid). */
const MovedPartitionsOffsetNumber = 0xfffd;

/** heap_redo: replays one record of the heap resource manager (RM_HEAP_ID). */
export function heapRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const info = record.header.info & ~XLR_INFO_MASK;
  switch (info & XLOG_HEAP_OPMASK) {
    case XLOG_HEAP_INSERT:
      heapXlogInsert(ctx, record);
      return;
    case XLOG_HEAP_DELETE:
      heapXlogDelete(ctx, record);
      return;
    case XLOG_HEAP_UPDATE:
      heapXlogUpdate(ctx, record, false);
      return;
    case XLOG_HEAP_TRUNCATE:
      // Logged only for logical decoding; the files are truncated by SMGR records.
      return;
    case XLOG_HEAP_HOT_UPDATE:
      heapXlogUpdate(ctx, record, true);
      return;
    case XLOG_HEAP_CONFIRM:
      heapXlogConfirm(ctx, record);
      return;
    case XLOG_HEAP_LOCK:
      heapXlogLock(ctx, record);
      return;
    case XLOG_HEAP_INPLACE:
      heapXlogInplace(ctx, record);
      return;
    default:
      throw redoError(`heap_redo: unknown op code ${info}`);
  }
}

/** heap2_redo: replays one record of the heap2 resource manager (RM_HEAP2_ID). */
export function heap2Redo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const info = record.header.info & ~XLR_INFO_MASK;
  switch (info & XLOG_HEAP_OPMASK) {
    case XLOG_HEAP2_PRUNE:
      heapXlogPrune(ctx, record);
      return;
    case XLOG_HEAP2_VACUUM:
      heapXlogVacuum(ctx, record);
      return;
    case XLOG_HEAP2_FREEZE_PAGE:
      heapXlogFreezePage(ctx, record);
      return;
    case XLOG_HEAP2_VISIBLE:
      heapXlogVisible(ctx, record);
      return;
    case XLOG_HEAP2_MULTI_INSERT:
      heapXlogMultiInsert(ctx, record);
      return;
    case XLOG_HEAP2_LOCK_UPDATED:
      heapXlogLockUpdated(ctx, record);
      return;
    case XLOG_HEAP2_NEW_CID:
      // Only for logical decoding of catalog changes.
      return;
    case XLOG_HEAP2_REWRITE:
      throw redoError(
        "heap2_redo: logical rewrite mappings (XLOG_HEAP2_REWRITE) are not supported",
      );
    default:
      throw redoError(`heap2_redo: unknown op code ${info}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the routines.

/**
 * The VM bits of `block` cleared, as a record that says it cleared them asks (visibilitymap_pin
 * on a fake relcache entry, which extends the map if needed, then visibilitymap_clear). No WAL,
 * no VM page LSN.
 */
function redoClearVm(ctx: RedoContext, rel: RelFileLocator, block: number, flags: number): void {
  const vm = new VisibilityMap(ctx.pool);
  vm.pin(rel, block);
  vm.clear(rel, block, flags);
}

/** XLogRecordPageWithFreeSpace: the heap block's FSM entry (not WAL-logged). */
function xlogRecordPageWithFreeSpace(
  ctx: RedoContext,
  rel: RelFileLocator,
  block: number,
  spaceAvail: number,
): void {
  ctx.fsm.recordPageWithFreeSpace(rel, block, spaceAvail);
}

/** PageSetPrunable. */
function pageSetPrunable(page: Uint8Array, xid: number): void {
  const prune = pageGetPruneXid(page);
  if (prune === InvalidTransactionId || xidPrecedes(xid, prune)) pageSetPruneXid(page, xid);
}

/** The tuple at `offnum`, which must be a normal line pointer: its byte offset and length. */
function normalTuple(page: Uint8Array, offnum: number): { tup: number; len: number } {
  if (pageGetMaxOffsetNumber(page) < offnum) throw redoError("invalid lp", { offnum });
  const lp = pageGetItemId(page, offnum);
  if (!itemIdIsNormal(lp)) throw redoError("invalid lp", { offnum });
  return { tup: itemIdGetOffset(lp), len: itemIdGetLength(lp) };
}

/** HeapTupleHeaderSetCmax(htup, FirstCommandId, false): t_cid 0, HEAP_COMBOCID off. */
function setCmaxFirst(page: Uint8Array, tup: number): void {
  writeUint32(page, tup + T_FIELD3_OFFSET, 0);
  heapTupleHeaderSetInfomask(page, tup, heapTupleHeaderGetInfomask(page, tup) & ~HEAP_COMBOCID);
}

/**
 * A tuple rebuilt from a record: a zeroed header with infomask2, infomask and hoff from the
 * record, xmin = xl_xid, cmin FirstCommandId, t_ctid its own TID; then the body.
 */
function rebuildTuple(
  header: XlHeapHeader,
  parts: readonly Uint8Array[],
  xid: number,
  block: number,
  offnum: number,
): Uint8Array {
  let len = SizeofHeapTupleHeader;
  for (const p of parts) len += p.length;
  if (len > MaxHeapTupleSize) throw redoError("tuple in WAL record is too long", { len });
  const tuple = new Uint8Array(len);
  writeUint16(tuple, T_INFOMASK2_OFFSET, header.infomask2);
  writeUint16(tuple, T_INFOMASK_OFFSET, header.infomask);
  tuple[T_HOFF_OFFSET] = header.hoff;
  heapTupleHeaderSetXmin(tuple, 0, xid);
  heapTupleHeaderSetCtid(tuple, 0, { block, offset: offnum });
  let p = SizeofHeapTupleHeader;
  for (const part of parts) {
    tuple.set(part, p);
    p += part.length;
  }
  return tuple;
}

/** PageAddItem(page, tuple, offnum, overwrite, is_heap), with PostgreSQL's PANICs. */
function addTuple(page: Uint8Array, tuple: Uint8Array, offnum: number): void {
  if (pageGetMaxOffsetNumber(page) + 1 < offnum) {
    throw redoError("invalid max offset number", { offnum });
  }
  if (pageAddItemExtended(page, tuple, offnum, PAI_OVERWRITE | PAI_IS_HEAP) !== offnum) {
    throw redoError("failed to add tuple", { offnum });
  }
}

// ---------------------------------------------------------------------------------------------
// Heap records.

/** heap_xlog_insert. */
function heapXlogInsert(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapInsert(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  // The visibility map may need fixing even if the heap page is already up to date.
  if ((xlrec.flags & XLH_INSERT_ALL_VISIBLE_CLEARED) !== 0) {
    redoClearVm(ctx, blk.rel, blk.block, VISIBILITYMAP_VALID_BITS);
  }
  let r: ReturnType<typeof xlogReadBufferForRedo>;
  if ((record.header.info & XLOG_HEAP_INIT_PAGE) !== 0) {
    // The first and only tuple of the page: re-initialize the page from scratch.
    const buffer = xlogInitBufferForRedo(ctx, record, 0);
    pageInit(pool.bufferGetPage(buffer), 0);
    r = { action: "needs-redo", buffer };
  } else {
    r = xlogReadBufferForRedo(ctx, record, 0);
  }
  let freespace = 0;
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { header, body } = decodeHeapInsertBlockData(blk.data);
    const tuple = rebuildTuple(header, [body], record.header.xid, blk.block, xlrec.offnum);
    addTuple(page, tuple, xlrec.offnum);
    freespace = pageGetHeapFreeSpace(page);
    pageSetLsn(page, record.endLsn);
    if ((xlrec.flags & XLH_INSERT_ALL_VISIBLE_CLEARED) !== 0) pageClearAllVisible(page);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
  // Running low on free space (under 20%: the fillfactor is unknown here): tell the FSM. Not
  // after an image: the FSM need not be exact.
  if (r.action === "needs-redo" && freespace < BLCKSZ / 5) {
    xlogRecordPageWithFreeSpace(ctx, blk.rel, blk.block, freespace);
  }
}

/** heap_xlog_multi_insert. */
function heapXlogMultiInsert(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const isInit = (record.header.info & XLOG_HEAP_INIT_PAGE) !== 0;
  const xlrec = decodeXlHeapMultiInsert(record.mainData, isInit);
  const blk = xlogRecGetBlock(record, 0);
  if ((xlrec.flags & XLH_INSERT_ALL_VISIBLE_CLEARED) !== 0) {
    redoClearVm(ctx, blk.rel, blk.block, VISIBILITYMAP_VALID_BITS);
  }
  let r: ReturnType<typeof xlogReadBufferForRedo>;
  if (isInit) {
    const buffer = xlogInitBufferForRedo(ctx, record, 0);
    pageInit(pool.bufferGetPage(buffer), 0);
    r = { action: "needs-redo", buffer };
  } else {
    r = xlogReadBufferForRedo(ctx, record, 0);
  }
  let freespace = 0;
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const tuples = decodeMultiInsertTuples(blk.data, xlrec.ntuples);
    tuples.forEach((t, i) => {
      const offnum = isInit ? 1 + i : xlrec.offsets[i]!;
      addTuple(
        page,
        rebuildTuple(t.header, [t.body], record.header.xid, blk.block, offnum),
        offnum,
      );
    });
    freespace = pageGetHeapFreeSpace(page);
    pageSetLsn(page, record.endLsn);
    if ((xlrec.flags & XLH_INSERT_ALL_VISIBLE_CLEARED) !== 0) pageClearAllVisible(page);
    // ALL_FROZEN_SET (COPY FREEZE into an empty page): every tuple is visible.
    if ((xlrec.flags & XLH_INSERT_ALL_FROZEN_SET) !== 0) pageSetAllVisible(page);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
  if (r.action === "needs-redo" && freespace < BLCKSZ / 5) {
    xlogRecordPageWithFreeSpace(ctx, blk.rel, blk.block, freespace);
  }
}

/** heap_xlog_update (and HOT update). */
function heapXlogUpdate(ctx: RedoContext, record: DecodedXLogRecord, hotUpdate: boolean): void {
  const pool = ctx.pool;
  const lsn = record.endLsn;
  const xid = record.header.xid;
  const xlrec = decodeXlHeapUpdate(record.mainData);
  const newBlk = xlogRecGetBlock(record, 0);
  const rel = newBlk.rel;
  const newBlock = newBlk.block;
  let oldBlock = newBlock;
  if (xlogRecHasBlockRef(record, 1)) {
    // HOT updates never cross pages.
    if (hotUpdate) throw redoError("HOT update record with an old page of its own");
    oldBlock = xlogRecGetBlock(record, 1).block;
  }
  const newTid = { block: newBlock, offset: xlrec.newOffnum };
  if ((xlrec.flags & XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) !== 0) {
    redoClearVm(ctx, rel, oldBlock, VISIBILITYMAP_VALID_BITS);
  }
  // The old version. Both pages stay locked until the new version is in place.
  const oldR = xlogReadBufferForRedo(ctx, record, oldBlock === newBlock ? 0 : 1);
  let oldTup = -1;
  let oldLen = 0;
  if (oldR.action === "needs-redo") {
    const page = pool.bufferGetPage(oldR.buffer);
    const { tup, len } = normalTuple(page, xlrec.oldOffnum);
    oldTup = tup;
    oldLen = len;
    heapTupleHeaderSetInfomask(
      page,
      tup,
      heapTupleHeaderGetInfomask(page, tup) & ~(HEAP_XMAX_BITS | HEAP_MOVED),
    );
    let infomask2 = heapTupleHeaderGetInfomask2(page, tup) & ~HEAP_KEYS_UPDATED;
    infomask2 = hotUpdate ? infomask2 | HEAP_HOT_UPDATED : infomask2 & ~HEAP_HOT_UPDATED;
    const fixed = fixInfomaskFromInfobits(
      xlrec.oldInfobitsSet,
      heapTupleHeaderGetInfomask(page, tup),
      infomask2,
    );
    heapTupleHeaderSetInfomask(page, tup, fixed.infomask);
    heapTupleHeaderSetInfomask2(page, tup, fixed.infomask2);
    heapTupleHeaderSetXmax(page, tup, xlrec.oldXmax);
    setCmaxFirst(page, tup);
    // The forward link to the new version.
    heapTupleHeaderSetCtid(page, tup, newTid);
    pageSetPrunable(page, xid);
    if ((xlrec.flags & XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED) !== 0) pageClearAllVisible(page);
    pageSetLsn(page, lsn);
    pool.markBufferDirty(oldR.buffer);
  }
  // The new version's page: the same buffer, a re-initialized page, or another page.
  let newR: ReturnType<typeof xlogReadBufferForRedo>;
  if (oldBlock === newBlock) {
    newR = oldR;
  } else if ((record.header.info & XLOG_HEAP_INIT_PAGE) !== 0) {
    const buffer = xlogInitBufferForRedo(ctx, record, 0);
    pageInit(pool.bufferGetPage(buffer), 0);
    newR = { action: "needs-redo", buffer };
  } else {
    newR = xlogReadBufferForRedo(ctx, record, 0);
  }
  if ((xlrec.flags & XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) !== 0) {
    redoClearVm(ctx, rel, newBlock, VISIBILITYMAP_VALID_BITS);
  }
  let freespace = 0;
  if (newR.action === "needs-redo") {
    const page = pool.bufferGetPage(newR.buffer);
    if (pageGetMaxOffsetNumber(page) + 1 < xlrec.newOffnum) {
      throw redoError("invalid max offset number", { offnum: xlrec.newOffnum });
    }
    let data = newBlk.data;
    let prefixlen = 0;
    let suffixlen = 0;
    if ((xlrec.flags & XLH_UPDATE_PREFIX_FROM_OLD) !== 0) {
      prefixlen = data[0]! | (data[1]! << 8);
      data = data.subarray(2);
    }
    if ((xlrec.flags & XLH_UPDATE_SUFFIX_FROM_OLD) !== 0) {
      suffixlen = data[0]! | (data[1]! << 8);
      data = data.subarray(2);
    }
    if ((prefixlen > 0 || suffixlen > 0) && (oldBlock !== newBlock || oldTup < 0)) {
      throw redoError("update record takes a prefix or suffix from an old page it does not redo");
    }
    const { header, body } = decodeHeapInsertBlockData(data);
    const oldPage = pool.bufferGetPage(newR.buffer);
    const parts: Uint8Array[] = [];
    if (prefixlen > 0) {
      // Bitmap and padding from the record, the prefix from the old version's data, the rest.
      const bitmapLen = header.hoff - SizeofHeapTupleHeader;
      parts.push(body.subarray(0, bitmapLen));
      const oldData = oldTup + heapTupleHeaderGetHoff(oldPage, oldTup);
      parts.push(oldPage.slice(oldData, oldData + prefixlen));
      parts.push(body.subarray(bitmapLen));
    } else {
      parts.push(body);
    }
    if (suffixlen > 0) parts.push(oldPage.slice(oldTup + oldLen - suffixlen, oldTup + oldLen));
    const tuple = rebuildTuple(header, parts, xid, newBlock, xlrec.newOffnum);
    heapTupleHeaderSetXmax(tuple, 0, xlrec.newXmax);
    addTuple(page, tuple, xlrec.newOffnum);
    if ((xlrec.flags & XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED) !== 0) pageClearAllVisible(page);
    freespace = pageGetHeapFreeSpace(page);
    pageSetLsn(page, lsn);
    pool.markBufferDirty(newR.buffer);
  }
  if (newR.buffer !== undefined && newR.buffer !== oldR.buffer) {
    pool.unlockReleaseBuffer(newR.buffer);
  }
  if (oldR.buffer !== undefined) pool.unlockReleaseBuffer(oldR.buffer);
  // Not for HOT updates: after a crash one of the two versions is dead and prunable, and the page
  // gets its space back.
  if (newR.action === "needs-redo" && !hotUpdate && freespace < BLCKSZ / 5) {
    xlogRecordPageWithFreeSpace(ctx, rel, newBlock, freespace);
  }
}

/** heap_xlog_delete. */
function heapXlogDelete(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapDelete(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  if ((xlrec.flags & XLH_DELETE_ALL_VISIBLE_CLEARED) !== 0) {
    redoClearVm(ctx, blk.rel, blk.block, VISIBILITYMAP_VALID_BITS);
  }
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { tup } = normalTuple(page, xlrec.offnum);
    const fixed = fixInfomaskFromInfobits(
      xlrec.infobitsSet,
      heapTupleHeaderGetInfomask(page, tup) & ~(HEAP_XMAX_BITS | HEAP_MOVED),
      heapTupleHeaderGetInfomask2(page, tup) & ~(HEAP_KEYS_UPDATED | HEAP_HOT_UPDATED),
    );
    heapTupleHeaderSetInfomask(page, tup, fixed.infomask);
    heapTupleHeaderSetInfomask2(page, tup, fixed.infomask2);
    if ((xlrec.flags & XLH_DELETE_IS_SUPER) === 0) heapTupleHeaderSetXmax(page, tup, xlrec.xmax);
    else heapTupleHeaderSetXmin(page, tup, InvalidTransactionId);
    setCmaxFirst(page, tup);
    pageSetPrunable(page, record.header.xid);
    if ((xlrec.flags & XLH_DELETE_ALL_VISIBLE_CLEARED) !== 0) pageClearAllVisible(page);
    if ((xlrec.flags & XLH_DELETE_IS_PARTITION_MOVE) !== 0) {
      heapTupleHeaderSetCtid(page, tup, {
        block: InvalidBlockNumber,
        offset: MovedPartitionsOffsetNumber,
      });
    } else {
      heapTupleHeaderSetCtid(page, tup, { block: blk.block, offset: xlrec.offnum });
    }
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

/** heap_xlog_lock. */
function heapXlogLock(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapLock(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  if ((xlrec.flags & XLH_LOCK_ALL_FROZEN_CLEARED) !== 0) {
    redoClearVm(ctx, blk.rel, blk.block, VISIBILITYMAP_ALL_FROZEN);
  }
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { tup } = normalTuple(page, xlrec.offnum);
    const fixed = fixInfomaskFromInfobits(
      xlrec.infobitsSet,
      heapTupleHeaderGetInfomask(page, tup) & ~(HEAP_XMAX_BITS | HEAP_MOVED),
      heapTupleHeaderGetInfomask2(page, tup) & ~HEAP_KEYS_UPDATED,
    );
    let infomask2 = fixed.infomask2;
    // Only a lock (no update): the HOT chain ends here and t_ctid points at the tuple itself.
    if (heapXmaxIsLockedOnly(fixed.infomask)) {
      infomask2 &= ~HEAP_HOT_UPDATED;
      heapTupleHeaderSetCtid(page, tup, { block: blk.block, offset: xlrec.offnum });
    }
    heapTupleHeaderSetInfomask(page, tup, fixed.infomask);
    heapTupleHeaderSetInfomask2(page, tup, infomask2);
    heapTupleHeaderSetXmax(page, tup, xlrec.xid);
    setCmaxFirst(page, tup);
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

/** heap_xlog_lock_updated: a lock on a newer version of an updated row (no ctid or cmax change). */
function heapXlogLockUpdated(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapLock(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  if ((xlrec.flags & XLH_LOCK_ALL_FROZEN_CLEARED) !== 0) {
    redoClearVm(ctx, blk.rel, blk.block, VISIBILITYMAP_ALL_FROZEN);
  }
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { tup } = normalTuple(page, xlrec.offnum);
    const fixed = fixInfomaskFromInfobits(
      xlrec.infobitsSet,
      heapTupleHeaderGetInfomask(page, tup) & ~(HEAP_XMAX_BITS | HEAP_MOVED),
      heapTupleHeaderGetInfomask2(page, tup) & ~HEAP_KEYS_UPDATED,
    );
    heapTupleHeaderSetInfomask(page, tup, fixed.infomask);
    heapTupleHeaderSetInfomask2(page, tup, fixed.infomask2);
    heapTupleHeaderSetXmax(page, tup, xlrec.xid);
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

/** heap_xlog_confirm: a speculative insertion confirmed (t_ctid set to the tuple itself). */
function heapXlogConfirm(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const offnum = decodeXlHeapOffnum(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { tup } = normalTuple(page, offnum);
    heapTupleHeaderSetCtid(page, tup, { block: blk.block, offset: offnum });
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

/** heap_xlog_inplace: a tuple's data overwritten in place, same length. */
function heapXlogInplace(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const offnum = decodeXlHeapOffnum(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const { tup, len } = normalTuple(page, offnum);
    const hoff = heapTupleHeaderGetHoff(page, tup);
    if (len - hoff !== blk.data.length) throw redoError("wrong tuple length", { offnum });
    page.set(blk.data, tup + hoff);
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

// ---------------------------------------------------------------------------------------------
// Heap2 records.

/** heap_xlog_prune: the line pointer changes applied under a cleanup lock; FSM updated. */
function heapXlogPrune(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapPrune(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  const r = xlogReadBufferForRedoExtended(ctx, record, 0, "normal", true);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const data = blk.data;
    const nredirected = xlrec.nredirected;
    const ndead = xlrec.ndead;
    const nunused = data.length / 2 - 2 * nredirected - ndead;
    if (data.length % 2 !== 0 || nunused < 0) {
      throw redoError("heap2 prune record: block data does not hold its offsets");
    }
    const redirected = decodeOffsets(data, 0, 2 * nredirected);
    const nowdead = decodeOffsets(data, 4 * nredirected, ndead);
    const nowunused = decodeOffsets(data, 4 * nredirected + 2 * ndead, nunused);
    heapPagePruneExecute(page, redirected, nredirected, nowdead, ndead, nowunused, nunused);
    // pd_prune_xid is a hint: not replayed (at worst an extra prune happens soon).
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) {
    const freespace = pageGetHeapFreeSpace(pool.bufferGetPage(r.buffer));
    pool.unlockReleaseBuffer(r.buffer);
    // The page may now be an insert target even if VACUUM skips it (all-visible): tell the FSM.
    xlogRecordPageWithFreeSpace(ctx, blk.rel, blk.block, freespace);
  }
}

/** heap_xlog_vacuum: LP_DEAD items made LP_UNUSED, the array truncated; FSM updated. */
function heapXlogVacuum(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const { nunused } = decodeXlHeapVacuum(record.mainData);
  const blk = xlogRecGetBlock(record, 0);
  const r = xlogReadBufferForRedoExtended(ctx, record, 0, "normal", false);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    if (nunused === 0 || blk.data.length < 2 * nunused) {
      throw redoError("heap2 vacuum record: block data does not hold its offsets");
    }
    for (const off of decodeOffsets(blk.data, 0, nunused)) {
      const lp = pageGetItemId(page, off);
      if (!itemIdIsDead(lp) || itemIdHasStorage(lp)) {
        throw redoError("heap2 vacuum record: item is not an LP_DEAD item without storage", {
          offnum: off,
        });
      }
      pageSetItemId(page, off, makeItemId(0, LP_UNUSED, 0));
    }
    pageTruncateLinePointerArray(page);
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) {
    const freespace = pageGetHeapFreeSpace(pool.bufferGetPage(r.buffer));
    pool.unlockReleaseBuffer(r.buffer);
    xlogRecordPageWithFreeSpace(ctx, blk.rel, blk.block, freespace);
  }
}

/** heap_xlog_freeze_page: each listed tuple's xmax and infomasks overwritten (heap_execute_freeze_tuple). */
function heapXlogFreezePage(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const xlrec = decodeXlHeapFreezePage(record.mainData);
  const r = xlogReadBufferForRedo(ctx, record, 0);
  if (r.action === "needs-redo") {
    const page = pool.bufferGetPage(r.buffer);
    const tuples = decodeXlHeapFreezeTuples(xlogRecGetBlock(record, 0).data, xlrec.ntuples);
    for (const frz of tuples) {
      const lp = pageGetItemId(page, frz.offset);
      const tup = itemIdGetOffset(lp);
      heapTupleHeaderSetXmax(page, tup, frz.xmax);
      if ((frz.frzflags & XLH_FREEZE_XVAC) !== 0) {
        writeUint32(page, tup + T_FIELD3_OFFSET, FrozenTransactionId);
      }
      if ((frz.frzflags & XLH_INVALID_XVAC) !== 0) {
        writeUint32(page, tup + T_FIELD3_OFFSET, InvalidTransactionId);
      }
      heapTupleHeaderSetInfomask(page, tup, frz.infomask);
      heapTupleHeaderSetInfomask2(page, tup, frz.infomask2);
    }
    pageSetLsn(page, record.endLsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) pool.unlockReleaseBuffer(r.buffer);
}

/**
 * heap_xlog_visible: PD_ALL_VISIBLE on the heap page (block 1; its LSN only when hint bits are
 * WAL-logged), the FSM told the page's free space, then the VM bits set on the VM page (block 0,
 * read zero-on-error) with the record's LSN — even when the heap page was skipped, since any
 * record clearing the bits later clears them before its own LSN check.
 */
function heapXlogVisible(ctx: RedoContext, record: DecodedXLogRecord): void {
  const pool = ctx.pool;
  const lsn = record.endLsn;
  const xlrec = decodeXlHeapVisible(record.mainData);
  const heapBlk = xlogRecGetBlock(record, 1);
  const r = xlogReadBufferForRedo(ctx, record, 1);
  if (r.action === "needs-redo") {
    // Nothing on the page is read: a torn page does not matter here.
    const page = pool.bufferGetPage(r.buffer);
    pageSetAllVisible(page);
    if (ctx.logHintBits) pageSetLsn(page, lsn);
    pool.markBufferDirty(r.buffer);
  }
  if (r.buffer !== undefined) {
    // PageGetFreeSpace, not the heap variant, as heap_xlog_visible does.
    const space = pageGetFreeSpace(pool.bufferGetPage(r.buffer));
    pool.unlockReleaseBuffer(r.buffer);
    if ((xlrec.flags & VISIBILITYMAP_VALID_BITS) !== 0) {
      xlogRecordPageWithFreeSpace(ctx, heapBlk.rel, heapBlk.block, space);
    }
  }
  const vmR = xlogReadBufferForRedoExtended(ctx, record, 0, "zero-on-error", false);
  if (vmR.action === "needs-redo") {
    const vmPage = pool.bufferGetPage(vmR.buffer);
    let dirty = false;
    if (pageIsNew(vmPage)) {
      pageInit(vmPage, 0);
      dirty = true;
    }
    // visibilitymap_set with the record's LSN, unless replay already passed this point.
    if (lsn > pageGetLsn(vmPage) && xlrec.flags !== vmGetStatus(vmPage, heapBlk.block)) {
      vmSetBits(vmPage, heapBlk.block, xlrec.flags);
      pageSetLsn(vmPage, lsn);
      dirty = true;
    }
    if (dirty) pool.markBufferDirty(vmR.buffer);
  }
  if (vmR.buffer !== undefined) pool.unlockReleaseBuffer(vmR.buffer);
}

// ---------------------------------------------------------------------------------------------
// Masking.

/**
 * heap_mask: what wal_consistency_checking ignores when it compares a heap page rebuilt by redo
 * with the primary's image — pd_lsn and pd_checksum; pd_prune_xid, PD_PAGE_FULL,
 * PD_HAS_FREE_LINES and PD_ALL_VISIBLE; the free space between pd_lower and pd_upper; in every
 * normal tuple the transaction bits of t_infomask (HEAP_XACT_MASK: hint bits, lock bits,
 * HEAP_UPDATED, …; only XMAX_COMMITTED and XMAX_INVALID when xmin is frozen) and t_cid (redo sets
 * FirstCommandId), a speculative tuple's t_ctid (a token on the primary); and the padding after
 * each item up to its MAXALIGNed length. A new (all-zero) page is left as it is. Changes `page`
 * in place.
 */
export function heapMask(page: Uint8Array, block: number): void {
  if (pageIsNew(page)) return;
  maskPageLsnAndChecksum(page);
  maskPageHintBits(page);
  maskUnusedSpace(page);
  const maxoff = pageGetMaxOffsetNumber(page);
  for (let off = 1; off <= maxoff; off++) {
    const lp = pageGetItemId(page, off);
    const item = itemIdGetOffset(lp);
    if (itemIdIsNormal(lp)) {
      let infomask = heapTupleHeaderGetInfomask(page, item);
      // Hint bits may be set without WAL unless xmin is frozen (then only xmax's hints).
      if ((infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN) infomask &= ~HEAP_XACT_MASK;
      else infomask &= ~(HEAP_XMAX_INVALID | HEAP_XMAX_COMMITTED);
      heapTupleHeaderSetInfomask(page, item, infomask);
      // Redo sets the command id to FirstCommandId.
      writeUint32(page, item + T_FIELD3_OFFSET, MASK_MARKER);
      // A speculative insertion's token is not WAL-logged; redo sets t_ctid to the tuple.
      if (heapTupleHeaderGetCtidOffset(page, item) === SpecTokenOffsetNumber) {
        heapTupleHeaderSetCtid(page, item, { block, offset: off });
      }
    }
    // The bytes after an item up to its MAXALIGNed length are not the item's.
    if (itemIdHasStorage(lp)) {
      const len = itemIdGetLength(lp);
      const padlen = ((len + 7) & ~7) - len;
      if (padlen > 0) page.fill(MASK_MARKER, item + len, item + len + padlen);
    }
  }
}
