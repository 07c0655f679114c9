/**
 * WAL-logging heap changes: the records heapam.c, pruneheap.c and vacuumlazy.c write after they
 * change a heap page, built byte for byte as PostgreSQL 15 builds them. Each builder is called
 * inside the change's critical section — page changed, buffer marked dirty, record inserted,
 * page LSN set, all under the buffer's exclusive (or cleanup) lock.
 *
 * Models: src/backend/access/heap/heapam.c — the `if (RelationNeedsWAL(relation))` blocks of
 * heap_insert, heap_multi_insert, heap_delete, heap_update (the XLOG_HEAP_LOCK of an old tuple
 * kept while the new page is found, and log_heap_update with its prefix/suffix compression),
 * heap_lock_tuple; log_heap_freeze, log_heap_visible, compute_infobits,
 * fix_infomask_from_infobits; pruneheap.c heap_page_prune's XLOG_HEAP2_PRUNE; vacuumlazy.c
 * lazy_vacuum_heap_page's XLOG_HEAP2_VACUUM.
 * Entry points: `logHeapInsert`, `logHeapMultiInsert`, `logHeapUpdate`, `logHeapDelete`,
 * `logHeapLock`, `logHeapPrune`, `logHeapVacuum`, `logHeapFreeze`, `logHeapVisible`,
 * `computeInfobits`, `fixInfomaskFromInfobits`.
 * See also: include/access/heapam-xlog.ts (the structs), heapam-redo.ts (their redo),
 * access/transam/xloginsert.ts, docs/reference/postgres-wal.md §5.
 *
 * `logHeapInsert` sets the page's LSN itself; the other builders return the record's position
 * and leave PageSetLSN to the caller, as log_heap_update, log_heap_freeze and log_heap_visible
 * do in PostgreSQL (the caller knows which pages the record changed).
 *
 * Differs from PostgreSQL: no logical decoding (wal_level=logical's XLH_*_CONTAINS_* tuple data,
 * REGBUF_KEEP_DATA, XLOG_HEAP2_NEW_CID for catalogs), no speculative insertion (CONFIRM), no
 * multixacts (XLHL_XMAX_IS_MULTI is never set), no XLOG_HEAP_INPLACE (pgsim's catalog is not a
 * heap). Padding bytes PostgreSQL leaves uninitialized (the multi-insert tuple alignment byte, the
 * last byte of each xl_heap_freeze_tuple) are zero.
 */

import type { ForkNumber, RelFileLocator } from "@pgsim/buffer-manager";
import {
  encodeMultiInsertTuples,
  encodeOffsets,
  encodeXlHeapDeleteInto,
  encodeXlHeapFreezePage,
  encodeXlHeapFreezeTuples,
  encodeXlHeapInsert,
  encodeXlHeapLockInto,
  encodeXlHeapMultiInsert,
  encodeXlHeapPrune,
  encodeXlHeapUpdateInto,
  encodeXlHeapVacuum,
  encodeXlHeapVisible,
  heapInsertBlockData,
  SizeOfHeapDelete,
  SizeOfHeapHeader,
  SizeOfHeapLock,
  SizeOfHeapUpdate,
  XLH_DELETE_ALL_VISIBLE_CLEARED,
  XLH_INSERT_ALL_VISIBLE_CLEARED,
  XLH_INSERT_LAST_IN_MULTI,
  XLH_LOCK_ALL_FROZEN_CLEARED,
  XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED,
  XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED,
  XLH_UPDATE_PREFIX_FROM_OLD,
  XLH_UPDATE_SUFFIX_FROM_OLD,
  XLHL_KEYS_UPDATED,
  XLHL_XMAX_EXCL_LOCK,
  XLHL_XMAX_IS_MULTI,
  XLHL_XMAX_KEYSHR_LOCK,
  XLHL_XMAX_LOCK_ONLY,
  XLOG_HEAP_DELETE,
  XLOG_HEAP_HOT_UPDATE,
  XLOG_HEAP_INIT_PAGE,
  XLOG_HEAP_INSERT,
  XLOG_HEAP_LOCK,
  XLOG_HEAP_UPDATE,
  XLOG_HEAP2_FREEZE_PAGE,
  XLOG_HEAP2_MULTI_INSERT,
  XLOG_HEAP2_PRUNE,
  XLOG_HEAP2_VACUUM,
  XLOG_HEAP2_VISIBLE,
  type XlHeapFreezeTuple,
} from "../../include/access/heapam-xlog.js";
import {
  HEAP_KEYS_UPDATED,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMAX_KEYSHR_LOCK,
  HEAP_XMAX_LOCK_ONLY,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetRawXmax,
  SizeofHeapTupleHeader,
  T_HOFF_OFFSET,
  T_INFOMASK_OFFSET,
  T_INFOMASK2_OFFSET,
} from "../../include/access/htup-details.js";
import { readUint16, writeUint16 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageSetLsn,
} from "../../storage/page/bufpage.js";
import { RM_HEAP_ID, RM_HEAP2_ID } from "../transam/rmgr.js";
import type { XLogInsertResult, XLogWriter } from "../transam/xlog.js";
import {
  REGBUF_NO_IMAGE,
  REGBUF_STANDARD,
  REGBUF_WILL_INIT,
  XLOG_INCLUDE_ORIGIN,
  type XLogInsertState,
  xlogCheckBufferNeedsBackup,
} from "../transam/xloginsert.js";

/**
 * The fixed-size parts of the update, delete and lock records, written into these buffers and
 * registered from them (the stack variables xlrec and xlhdr of log_heap_update, heap_delete and
 * heap_lock_tuple): each builder inserts its record before it returns, which copies them, so one
 * buffer per thread serves every call.
 */
const xlrecUpdate = new Uint8Array(SizeOfHeapUpdate);
const xlrecDelete = new Uint8Array(SizeOfHeapDelete);
const xlrecLock = new Uint8Array(SizeOfHeapLock);
const xlhdrUpdate = new Uint8Array(SizeOfHeapHeader);
/** log_heap_update's prefix and suffix lengths (2 or 4 bytes of it registered). */
const prefixSuffix = new Uint8Array(4);

/** What heap_insert knows when it logs an insert. */
export interface HeapInsertLogArgs {
  readonly rel: RelFileLocator;
  /** Default MAIN. */
  readonly fork?: ForkNumber;
  readonly block: number;
  /** The page after the tuple was placed on it (its pd_lsn is set to the record's end). */
  readonly page: Uint8Array;
  /** The tuple's line pointer. */
  readonly offnum: number;
  /** The tuple as placed (header included). */
  readonly tuple: Uint8Array;
  /** The inserting transaction (xl_xid). */
  readonly xid: number;
  /** PD_ALL_VISIBLE was set on the page and has been cleared. */
  readonly allVisibleCleared?: boolean;
}

/**
 * Logs an insert as heap_insert does and sets the page's LSN to the record's end. The caller
 * holds the buffer's exclusive lock and has marked it dirty (the WAL rule: change, mark dirty,
 * log, set LSN — all before unlocking).
 */
export function logHeapInsert(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapInsertLogArgs,
): XLogInsertResult {
  let info = XLOG_HEAP_INSERT;
  let bufFlags = REGBUF_STANDARD;
  // The only tuple of a page: redo re-creates the page instead of needing an image of it.
  if (args.offnum === 1 && pageGetMaxOffsetNumber(args.page) === 1) {
    info |= XLOG_HEAP_INIT_PAGE;
    bufFlags |= REGBUF_WILL_INIT;
  }
  const flags = args.allVisibleCleared === true ? XLH_INSERT_ALL_VISIBLE_CLEARED : 0;
  ins.beginInsert();
  ins.registerData(encodeXlHeapInsert({ offnum: args.offnum, flags }));
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: args.fork ?? 0, block: args.block, page: args.page },
    bufFlags,
  );
  ins.registerBufData(0, heapInsertBlockData(args.tuple));
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  const result = ins.insert(wal, RM_HEAP_ID, info, { xid: args.xid });
  pageSetLsn(args.page, result.endLsn);
  return result;
}

/**
 * compute_infobits: the xmax bits of a tuple header as a record's infobits_set
 * (HEAP_XMAX_SHR_LOCK is the two lock bits together, so it needs no bit of its own).
 */
export function computeInfobits(infomask: number, infomask2: number): number {
  return (
    ((infomask & HEAP_XMAX_IS_MULTI) !== 0 ? XLHL_XMAX_IS_MULTI : 0) |
    ((infomask & HEAP_XMAX_LOCK_ONLY) !== 0 ? XLHL_XMAX_LOCK_ONLY : 0) |
    ((infomask & HEAP_XMAX_EXCL_LOCK) !== 0 ? XLHL_XMAX_EXCL_LOCK : 0) |
    ((infomask & HEAP_XMAX_KEYSHR_LOCK) !== 0 ? XLHL_XMAX_KEYSHR_LOCK : 0) |
    ((infomask2 & HEAP_KEYS_UPDATED) !== 0 ? XLHL_KEYS_UPDATED : 0)
  );
}

/** fix_infomask_from_infobits: redo's inverse of computeInfobits on a tuple's two infomasks. */
export function fixInfomaskFromInfobits(
  infobits: number,
  infomask: number,
  infomask2: number,
): { infomask: number; infomask2: number } {
  let im =
    infomask &
    ~(HEAP_XMAX_IS_MULTI | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_EXCL_LOCK);
  let im2 = infomask2 & ~HEAP_KEYS_UPDATED;
  if ((infobits & XLHL_XMAX_IS_MULTI) !== 0) im |= HEAP_XMAX_IS_MULTI;
  if ((infobits & XLHL_XMAX_LOCK_ONLY) !== 0) im |= HEAP_XMAX_LOCK_ONLY;
  if ((infobits & XLHL_XMAX_EXCL_LOCK) !== 0) im |= HEAP_XMAX_EXCL_LOCK;
  if ((infobits & XLHL_XMAX_KEYSHR_LOCK) !== 0) im |= HEAP_XMAX_KEYSHR_LOCK;
  if ((infobits & XLHL_KEYS_UPDATED) !== 0) im2 |= HEAP_KEYS_UPDATED;
  return { infomask: im, infomask2: im2 };
}

/** The byte offset and length of the tuple at `offnum` (a normal line pointer) on `page`. */
function tupleAt(page: Uint8Array, offnum: number): { tup: number; len: number } {
  const lp = pageGetItemId(page, offnum);
  return { tup: itemIdGetOffset(lp), len: itemIdGetLength(lp) };
}

/** The infobits of the tuple at `offnum` as it is on the page now. */
function pageTupleInfobits(page: Uint8Array, offnum: number): number {
  const { tup } = tupleAt(page, offnum);
  return computeInfobits(
    heapTupleHeaderGetInfomask(page, tup),
    heapTupleHeaderGetInfomask2(page, tup),
  );
}

/** A heap page a record changes: where it is and its bytes (for a full-page image). */
export interface HeapPageRef {
  readonly rel: RelFileLocator;
  readonly block: number;
  readonly page: Uint8Array;
}

/** What heap_multi_insert knows when it logs the tuples it put on one page. */
export interface HeapMultiInsertLogArgs extends HeapPageRef {
  /** The tuples put on the page, in order (headers as placed). */
  readonly tuples: readonly Uint8Array[];
  /** Their offsets on the page. */
  readonly offsets: readonly number[];
  /** The page had no line pointers before (starting_with_empty_page): redo re-initializes it. */
  readonly init: boolean;
  readonly allVisibleCleared: boolean;
  /** The last record of this heap_multi_insert call (XLH_INSERT_LAST_IN_MULTI). */
  readonly lastInMulti: boolean;
  readonly xid: number;
}

/**
 * heap_multi_insert's record for one page: XLOG_HEAP2_MULTI_INSERT (+INIT when the page was
 * empty, and then without offsets), the tuples as block data. The caller sets the page LSN.
 */
export function logHeapMultiInsert(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapMultiInsertLogArgs,
): XLogInsertResult {
  let info = XLOG_HEAP2_MULTI_INSERT;
  let bufFlags = REGBUF_STANDARD;
  let flags = 0;
  if (args.allVisibleCleared) flags = XLH_INSERT_ALL_VISIBLE_CLEARED;
  if (args.lastInMulti) flags |= XLH_INSERT_LAST_IN_MULTI;
  if (args.init) {
    info |= XLOG_HEAP_INIT_PAGE;
    bufFlags |= REGBUF_WILL_INIT;
  }
  ins.beginInsert();
  ins.registerData(
    encodeXlHeapMultiInsert(
      { flags, ntuples: args.tuples.length, offsets: args.offsets },
      args.init,
    ),
  );
  ins.registerBuffer(0, { rel: args.rel, fork: 0, block: args.block, page: args.page }, bufFlags);
  ins.registerBufData(0, encodeMultiInsertTuples(args.tuples));
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  return ins.insert(wal, RM_HEAP2_ID, info, { xid: args.xid });
}

/** What heap_update knows when it logs the update (log_heap_update's arguments). */
export interface HeapUpdateLogArgs {
  readonly rel: RelFileLocator;
  /** The old version's page and offset (the tuple as changed: xmax set). */
  readonly oldBlock: number;
  readonly oldPage: Uint8Array;
  readonly oldOffnum: number;
  /** The new version's page (the same array as oldPage for a same-page update), offset, bytes. */
  readonly newBlock: number;
  readonly newPage: Uint8Array;
  readonly newOffnum: number;
  readonly newTuple: Uint8Array;
  /** The new version is heap-only (XLOG_HEAP_HOT_UPDATE). */
  readonly hot: boolean;
  readonly allVisibleCleared: boolean;
  readonly newAllVisibleCleared: boolean;
  readonly xid: number;
}

/**
 * log_heap_update: XLOG_HEAP_UPDATE or XLOG_HEAP_HOT_UPDATE (+INIT when the new version is the
 * only tuple of its page). Block 0 is the new page, block 1 the old one when it differs. When
 * both versions are on one page that gets no full-page image, the bytes the new version's user
 * data shares with the old one at its start and end (at least 3 each) are left out of the
 * record, and redo copies them from the old version. The caller sets both pages' LSNs.
 */
export function logHeapUpdate(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapUpdateLogArgs,
): XLogInsertResult {
  const samePage = args.oldBlock === args.newBlock;
  const newTuple = args.newTuple;
  const old = tupleAt(args.oldPage, args.oldOffnum);
  const oldPage = args.oldPage;
  let prefixlen = 0;
  let suffixlen = 0;
  if (samePage && !xlogCheckBufferNeedsBackup(wal, args.newPage)) {
    const oldHoff = heapTupleHeaderGetHoff(oldPage, old.tup);
    const newHoff = newTuple[T_HOFF_OFFSET]!;
    const oldp = old.tup + oldHoff;
    const oldlen = old.len - oldHoff;
    const newlen = newTuple.length - newHoff;
    const minlen = Math.min(oldlen, newlen);
    while (prefixlen < minlen && newTuple[newHoff + prefixlen] === oldPage[oldp + prefixlen]) {
      prefixlen++;
    }
    // Storing a length takes 2 bytes: a prefix or suffix under 3 bytes saves nothing.
    if (prefixlen < 3) prefixlen = 0;
    while (
      suffixlen < minlen - prefixlen &&
      newTuple[newHoff + newlen - suffixlen - 1] === oldPage[oldp + oldlen - suffixlen - 1]
    ) {
      suffixlen++;
    }
    if (suffixlen < 3) suffixlen = 0;
  }
  let flags = 0;
  if (args.allVisibleCleared) flags |= XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED;
  if (args.newAllVisibleCleared) flags |= XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED;
  if (prefixlen > 0) flags |= XLH_UPDATE_PREFIX_FROM_OLD;
  if (suffixlen > 0) flags |= XLH_UPDATE_SUFFIX_FROM_OLD;

  let info = args.hot ? XLOG_HEAP_HOT_UPDATE : XLOG_HEAP_UPDATE;
  let bufFlags = REGBUF_STANDARD;
  // The new version is the only tuple of its page: redo re-creates the page.
  if (args.newOffnum === 1 && pageGetMaxOffsetNumber(args.newPage) === 1) {
    info |= XLOG_HEAP_INIT_PAGE;
    bufFlags |= REGBUF_WILL_INIT;
  }
  ins.beginInsert();
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.newBlock, page: args.newPage },
    bufFlags,
  );
  if (!samePage) {
    ins.registerBuffer(
      1,
      { rel: args.rel, fork: 0, block: args.oldBlock, page: oldPage },
      REGBUF_STANDARD,
    );
  }
  ins.registerData(
    encodeXlHeapUpdateInto(xlrecUpdate, {
      oldXmax: heapTupleHeaderGetRawXmax(oldPage, old.tup),
      oldOffnum: args.oldOffnum,
      oldInfobitsSet: computeInfobits(
        heapTupleHeaderGetInfomask(oldPage, old.tup),
        heapTupleHeaderGetInfomask2(oldPage, old.tup),
      ),
      flags,
      newXmax: heapTupleHeaderGetRawXmax(newTuple, 0),
      newOffnum: args.newOffnum,
    }),
  );
  if (prefixlen > 0 && suffixlen > 0) {
    writeUint16(prefixSuffix, 0, prefixlen);
    writeUint16(prefixSuffix, 2, suffixlen);
    ins.registerBufData(0, prefixSuffix, 0, 4);
  } else if (prefixlen > 0 || suffixlen > 0) {
    writeUint16(prefixSuffix, 0, prefixlen > 0 ? prefixlen : suffixlen);
    ins.registerBufData(0, prefixSuffix, 0, 2);
  }
  const xlhdr = xlhdrUpdate;
  writeUint16(xlhdr, 0, readUint16(newTuple, T_INFOMASK2_OFFSET));
  writeUint16(xlhdr, 2, readUint16(newTuple, T_INFOMASK_OFFSET));
  xlhdr[4] = newTuple[T_HOFF_OFFSET]!;
  ins.registerBufData(0, xlhdr);
  const newHoff = newTuple[T_HOFF_OFFSET]!;
  if (prefixlen === 0) {
    // Bitmap, padding and data, less the suffix.
    ins.registerBufData(0, newTuple, SizeofHeapTupleHeader, newTuple.length - suffixlen);
  } else {
    // Bitmap and padding, then the data after the common prefix, less the suffix.
    if (newHoff > SizeofHeapTupleHeader) {
      ins.registerBufData(0, newTuple, SizeofHeapTupleHeader, newHoff);
    }
    ins.registerBufData(0, newTuple, newHoff + prefixlen, newTuple.length - suffixlen);
  }
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  return ins.insert(wal, RM_HEAP_ID, info, { xid: args.xid });
}

/** What heap_delete knows when it logs a delete. */
export interface HeapDeleteLogArgs extends HeapPageRef {
  /** The deleted tuple (already marked: xmax, infomask bits, ctid). */
  readonly offnum: number;
  readonly allVisibleCleared: boolean;
  readonly xid: number;
}

/** heap_delete's XLOG_HEAP_DELETE: the tuple's new xmax and xmax bits; no block data. */
export function logHeapDelete(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapDeleteLogArgs,
): XLogInsertResult {
  const { tup } = tupleAt(args.page, args.offnum);
  ins.beginInsert();
  ins.registerData(
    encodeXlHeapDeleteInto(xlrecDelete, {
      xmax: heapTupleHeaderGetRawXmax(args.page, tup),
      offnum: args.offnum,
      infobitsSet: pageTupleInfobits(args.page, args.offnum),
      flags: args.allVisibleCleared ? XLH_DELETE_ALL_VISIBLE_CLEARED : 0,
    }),
  );
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.block, page: args.page },
    REGBUF_STANDARD,
  );
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  return ins.insert(wal, RM_HEAP_ID, XLOG_HEAP_DELETE, { xid: args.xid });
}

/** What heap_lock_tuple (or heap_update, locking the old version) knows when it logs a lock. */
export interface HeapLockLogArgs extends HeapPageRef {
  /** The locked tuple (already marked). */
  readonly offnum: number;
  /** locking_xid: the locker's xid (xmax as set). */
  readonly lockingXid: number;
  /** The all-frozen VM bit was set and has been cleared (visibilitymap_clear returned true). */
  readonly allFrozenCleared: boolean;
  readonly xid: number;
}

/**
 * XLOG_HEAP_LOCK (heap_lock_tuple, and heap_update before it releases the old page to find room
 * on another): the locker and the tuple's xmax bits; no block data, no origin.
 */
export function logHeapLock(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapLockLogArgs,
): XLogInsertResult {
  ins.beginInsert();
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.block, page: args.page },
    REGBUF_STANDARD,
  );
  ins.registerData(
    encodeXlHeapLockInto(xlrecLock, {
      xid: args.lockingXid,
      offnum: args.offnum,
      infobitsSet: pageTupleInfobits(args.page, args.offnum),
      flags: args.allFrozenCleared ? XLH_LOCK_ALL_FROZEN_CLEARED : 0,
    }),
  );
  return ins.insert(wal, RM_HEAP_ID, XLOG_HEAP_LOCK, { xid: args.xid });
}

/** What heap_page_prune logs: the line pointers it changed. */
export interface HeapPruneLogArgs extends HeapPageRef {
  readonly latestRemovedXid: number;
  /** (from, to) pairs: `redirected[2i]` now redirects to `redirected[2i + 1]`. */
  readonly redirected: ArrayLike<number>;
  readonly nredirected: number;
  readonly nowdead: ArrayLike<number>;
  readonly ndead: number;
  readonly nowunused: ArrayLike<number>;
  readonly nunused: number;
  /** The pruning backend's xid, if it has one (GetCurrentTransactionIdIfAny). */
  readonly xid: number;
}

/**
 * heap_page_prune's XLOG_HEAP2_PRUNE: latestRemovedXid and the counts as main data; the
 * redirects, the dead and the unused offsets as block data (left out with a full-page image).
 */
export function logHeapPrune(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapPruneLogArgs,
): XLogInsertResult {
  ins.beginInsert();
  ins.registerData(
    encodeXlHeapPrune({
      latestRemovedXid: args.latestRemovedXid,
      nredirected: args.nredirected,
      ndead: args.ndead,
    }),
  );
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.block, page: args.page },
    REGBUF_STANDARD,
  );
  if (args.nredirected > 0)
    ins.registerBufData(0, encodeOffsets(args.redirected, 2 * args.nredirected));
  if (args.ndead > 0) ins.registerBufData(0, encodeOffsets(args.nowdead, args.ndead));
  if (args.nunused > 0) ins.registerBufData(0, encodeOffsets(args.nowunused, args.nunused));
  return ins.insert(wal, RM_HEAP2_ID, XLOG_HEAP2_PRUNE, { xid: args.xid });
}

/**
 * lazy_vacuum_heap_page's XLOG_HEAP2_VACUUM: the LP_DEAD items that became LP_UNUSED. VACUUM has
 * no xid (xl_xid 0).
 */
export function logHeapVacuum(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapPageRef & { readonly unused: ArrayLike<number>; readonly nunused: number },
): XLogInsertResult {
  ins.beginInsert();
  ins.registerData(encodeXlHeapVacuum(args.nunused));
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.block, page: args.page },
    REGBUF_STANDARD,
  );
  ins.registerBufData(0, encodeOffsets(args.unused, args.nunused));
  return ins.insert(wal, RM_HEAP2_ID, XLOG_HEAP2_VACUUM, { xid: 0 });
}

/**
 * log_heap_freeze: XLOG_HEAP2_FREEZE_PAGE with the cutoff (VACUUM's FreezeLimit) and each frozen
 * tuple's new xmax and infomasks as block data ("not actually in the buffer, but pretend that it
 * is": a full-page image makes it unnecessary).
 */
export function logHeapFreeze(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapPageRef & {
    readonly cutoffXid: number;
    readonly tuples: readonly XlHeapFreezeTuple[];
  },
): XLogInsertResult {
  ins.beginInsert();
  ins.registerData(
    encodeXlHeapFreezePage({ cutoffXid: args.cutoffXid, ntuples: args.tuples.length }),
  );
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: 0, block: args.block, page: args.page },
    REGBUF_STANDARD,
  );
  ins.registerBufData(0, encodeXlHeapFreezeTuples(args.tuples));
  return ins.insert(wal, RM_HEAP2_ID, XLOG_HEAP2_FREEZE_PAGE, { xid: 0 });
}

/** What visibilitymap_set knows when it logs setting a heap block's VM bits. */
export interface HeapVisibleLogArgs {
  readonly rel: RelFileLocator;
  readonly heapBlock: number;
  readonly heapPage: Uint8Array;
  readonly vmBlock: number;
  /** The VM page with the bits already set. */
  readonly vmPage: Uint8Array;
  /** The newest xmin on the heap page (InvalidTransactionId when only ALL_FROZEN is set). */
  readonly cutoffXid: number;
  /** VISIBILITYMAP_ALL_VISIBLE and/or VISIBILITYMAP_ALL_FROZEN. */
  readonly flags: number;
  /** XLogHintBitIsNeeded(): data checksums or wal_log_hints — the heap page may get an image. */
  readonly hintBitsLogged: boolean;
}

/**
 * log_heap_visible: XLOG_HEAP2_VISIBLE with the VM page as block 0 (not standard: a full 8 KB
 * image when one is taken) and the heap page as block 1 (no image unless hint bits are
 * WAL-logged). The caller (visibilitymap_set) sets the VM page's LSN, and the heap page's only
 * when `hintBitsLogged`.
 */
export function logHeapVisible(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapVisibleLogArgs,
): XLogInsertResult {
  ins.beginInsert();
  ins.registerData(encodeXlHeapVisible({ cutoffXid: args.cutoffXid, flags: args.flags }));
  ins.registerBuffer(0, { rel: args.rel, fork: 2, block: args.vmBlock, page: args.vmPage }, 0);
  ins.registerBuffer(
    1,
    { rel: args.rel, fork: 0, block: args.heapBlock, page: args.heapPage },
    REGBUF_STANDARD | (args.hintBitsLogged ? 0 : REGBUF_NO_IMAGE),
  );
  return ins.insert(wal, RM_HEAP2_ID, XLOG_HEAP2_VISIBLE, { xid: 0 });
}
