/**
 * The heap access method's tuple operations: insert, multi-insert, delete, update (HOT or not),
 * row locks, fetch by TID (following HOT chains), and sequential scans with page-at-a-time
 * visibility.
 *
 * Models: src/backend/access/heap/heapam.c (heap_insert, heap_prepare_insert, heap_multi_insert,
 * heap_delete, heap_update, heap_lock_tuple, heap_fetch, heap_hot_search_buffer, heap_beginscan,
 * initscan, heapgetpage, heapgettup_pagemode, heap_getnext, heap_endscan), combocid.c
 * (HeapTupleHeaderAdjustCmax), bufpage.h (PageSetPrunable).
 * Entry points: `heapInsert`, `heapMultiInsert`, `heapDelete`, `heapUpdate`, `heapLockTuple`,
 * `heapFetch`, `heapHotSearch`, `HeapScan`, `TID`.
 * See also: hio.ts (where a tuple goes), heapam-visibility.ts, pruneheap.ts, vacuumlazy.ts,
 * heapam-handler.ts (the table AM wrapper), README.md (the access rules).
 *
 * Access rules (README): reading tuples needs a pin and a share lock; after the visibility check
 * tuple data may be used under the pin alone; inserting or changing xmin/xmax needs an exclusive
 * lock; hint bits may be set under a share lock.
 *
 * WAL (when `relationNeedsWal`): each change is logged inside its critical section as
 * heapam.c logs it — page changed, buffer marked dirty, record inserted, page LSN set, under the
 * exclusive lock (heapam-xlog.ts builds the records).
 *
 * Differs from PostgreSQL: no TOAST; no speculative insertion; no multixacts, so
 * a row lock (any of the four modes) is held by one transaction at a time and a second locker,
 * updater or deleter waits for the first even where PostgreSQL's modes would let them share.
 */

import { type BufferId, ForkNumber } from "@pgsim/buffer-manager";
import { AssertionError, getAccessStrategy, PgsimError } from "@pgsim/clock-sweep";
import {
  HEAP_COMBOCID,
  HEAP_HASNULL,
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_MOVED,
  HEAP_ONLY_TUPLE,
  HEAP_UPDATED,
  HEAP_XACT_MASK,
  HEAP_XMAX_BITS,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_KEYSHR_LOCK,
  HEAP_XMAX_LOCK_ONLY,
  HEAP_XMAX_SHR_LOCK,
  HEAP_XMIN_COMMITTED,
  HEAP2_XACT_MASK,
  heapTupleHeaderGetCtid,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetNatts,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderIsHotUpdated,
  heapTupleHeaderSetCmin,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetInfomask2,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
  InvalidBlockNumber,
  itemPointerSet,
  MaxHeapTuplesPerPage,
  maxAlign,
  T_CTID_OFFSET,
} from "../../include/access/htup-details.js";
import { InvalidTransactionId, xidPrecedes } from "../../include/access/transam.js";
import {
  type DirtySnapshot,
  isDirtySnapshot,
  type Snapshot,
} from "../../include/utils/snapshot.js";
import { DEFAULT_LOCK_TIMEOUT_MS, lockTimeoutError } from "../../storage/lmgr/lmgr.js";
import {
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  itemIdGetRedirect,
  LP_NORMAL,
  LP_REDIRECT,
  MaxOffsetNumber,
  pageClearAllVisible,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetItemIds,
  pageGetMaxOffsetNumber,
  pageGetPruneXid,
  pageIsAllVisible,
  pageIsNew,
  pageSetFull,
  pageSetLsn,
  pageSetPruneXid,
} from "../../storage/page/bufpage.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import type { Relation } from "../../utils/cache/rel.js";
import {
  fixedAttributeOffsets,
  heapAttributeSpans,
  heapDeformTuple,
  heapDeformTupleAt,
  heapFormTuple,
  type TupleValues,
} from "../common/heaptuple.js";
import type { FormPgAttribute, TupleDesc } from "../common/tupdesc.js";
import {
  type LockTupleMode,
  type Row,
  relationNeedsWal,
  type ScanPin,
  type TableAmContext,
  type TID,
  TM,
  type TMFailure,
  type TMOutcome,
  type TMResult,
} from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import {
  HTSV,
  heapTupleSatisfiesDirty,
  heapTupleSatisfiesMVCC,
  heapTupleSatisfiesUpdate,
  heapTupleSatisfiesVacuumHorizon,
  tupleCmin,
  type VisibilityContext,
} from "./heapam-visibility.js";
import {
  logHeapDelete,
  logHeapInsert,
  logHeapLock,
  logHeapMultiInsert,
  logHeapUpdate,
} from "./heapam-xlog.js";
import {
  type BulkInsertState,
  pageItemStart,
  relationGetBufferForTuple,
  relationPutHeapTuple,
  saveFreeSpace,
} from "./hio.js";
import { heapPagePruneOpt } from "./pruneheap.js";
import { VisibilityMap } from "./visibilitymap.js";
import { VISIBILITYMAP_ALL_FROZEN, VISIBILITYMAP_VALID_BITS } from "./visibilitymap-page.js";

// The tuple identifiers, rows and TM results heap code speaks in are the table AM interface's.
export type { Row, TID, TMFailure, TMOutcome };

/** Options for update, delete and lock. */
export interface ModifyOptions {
  /** Wait for a running transaction that holds the row (default true); false reports WouldBlock. */
  wait?: boolean;
}

export function visibilityContext(
  ctx: TableAmContext,
  xact: Transaction | undefined,
): VisibilityContext {
  return { transam: ctx.transam, xact, hintsSet: false };
}

/** The descriptor's attributes that are not dropped, computed once per descriptor. */
const liveAttrsCache = new WeakMap<TupleDesc, readonly FormPgAttribute[]>();

/** The last descriptor asked about and its answer: a statement asks for one table many times. */
let lastLiveDesc: TupleDesc | undefined;
let lastLive: readonly FormPgAttribute[] = [];

function liveAttrs(desc: TupleDesc): readonly FormPgAttribute[] {
  if (desc === lastLiveDesc) return lastLive;
  let live = liveAttrsCache.get(desc);
  if (live === undefined) {
    live = desc.attrs.filter((a) => !a.attisdropped);
    liveAttrsCache.set(desc, live);
  }
  lastLiveDesc = desc;
  lastLive = live;
  return live;
}

/** Checks a row against the table's columns before anything is written. */
function checkRow(rel: Relation, values: TupleValues): void {
  const live = liveAttrs(rel.desc);
  if (!Array.isArray(values) || values.length !== live.length) {
    throw new PgsimError(
      "wrong-column-count",
      `table "${rel.name}" has ${live.length} columns, but ${Array.isArray(values) ? values.length : "no array of"} values were given`,
    );
  }
  for (let i = 0; i < live.length; i++) {
    const v = values[i];
    if ((v === null || v === undefined) && live[i]!.attnotnull) {
      throw new PgsimError(
        "not-null-violation",
        `null value in column "${live[i]!.attname}" of relation "${rel.name}" violates not-null constraint`,
        { column: live[i]!.attname },
      );
    }
  }
}

/** Expands caller values (no dropped columns) to descriptor order (dropped columns as NULL). */
function toDescriptorValues(rel: Relation, values: TupleValues): TupleValues {
  if (liveAttrs(rel.desc).length === rel.desc.natts) return values;
  const out: (Datum | null | undefined)[] = [];
  let j = 0;
  for (const a of rel.desc.attrs) out.push(a.attisdropped ? null : values[j++]);
  return out;
}

/** Drops the dropped columns from a deformed tuple. */
export function toRow(rel: Relation, values: (Datum | null)[]): Row {
  if (liveAttrs(rel.desc).length === rel.desc.natts) return values;
  return values.filter((_, i) => !rel.desc.attrs[i]!.attisdropped);
}

/** heap_prepare_insert + heap_form_tuple: the tuple bytes with xmin, cmin and XMAX_INVALID. */
export function prepareTuple(
  rel: Relation,
  values: TupleValues,
  xid: number,
  cid: number,
): Uint8Array {
  checkRow(rel, values);
  const tuple = heapFormTuple(rel.desc, toDescriptorValues(rel, values));
  heapTupleHeaderSetInfomask(
    tuple,
    0,
    (heapTupleHeaderGetInfomask(tuple, 0) & ~HEAP_XACT_MASK) | HEAP_XMAX_INVALID,
  );
  heapTupleHeaderSetInfomask2(tuple, 0, heapTupleHeaderGetInfomask2(tuple, 0) & ~HEAP2_XACT_MASK);
  heapTupleHeaderSetXmin(tuple, 0, xid);
  heapTupleHeaderSetXmax(tuple, 0, InvalidTransactionId);
  heapTupleHeaderSetCmin(tuple, 0, cid);
  return tuple;
}

/**
 * Clears PD_ALL_VISIBLE and the page's VM bits (both), as every modification must. The VM is
 * reached through the buffer pool, as PostgreSQL's visibilitymap_clear reaches it through the
 * relation; it is read only when the page was all-visible. Returns whether the page was
 * all-visible (all_visible_cleared, which the change's WAL record carries).
 */
export function clearAllVisible(
  ctx: TableAmContext,
  rel: Relation,
  page: Uint8Array,
  block: number,
): boolean {
  if (!pageIsAllVisible(page)) return false;
  pageClearAllVisible(page);
  new VisibilityMap(ctx.pool).clear(rel.locator, block, VISIBILITYMAP_VALID_BITS);
  return true;
}

/** PageSetPrunable: remember the oldest xid whose deletions may make pruning worthwhile. */
export function pageSetPrunable(page: Uint8Array, xid: number): void {
  const prune = pageGetPruneXid(page);
  if (prune === InvalidTransactionId || xidPrecedes(xid, prune)) pageSetPruneXid(page, xid);
}

/**
 * heap_insert: adds a row and returns its TID. The transaction gets an xid if it has none.
 *
 * @example
 * ```ts
 * const tid = heapInsert(ctx, rel, [1, "one"], xact);
 * ```
 */
export function heapInsert(
  ctx: TableAmContext,
  rel: Relation,
  values: TupleValues,
  xact: Transaction,
  bistate?: BulkInsertState,
): TID {
  xact.checkInProgress();
  // Form (and so validate) the row before taking an xid or touching a page.
  const tuple = prepareTuple(rel, values, 0, xact.commandId);
  heapTupleHeaderSetXmin(tuple, 0, xact.getXid());
  const pool = ctx.pool;
  const buffer = relationGetBufferForTuple(ctx, rel, tuple.length, undefined, bistate);
  const page = pool.bufferGetPage(buffer);
  const block = pool.bufferGetBlockNumber(buffer);
  const offset = relationPutHeapTuple(page, block, tuple);
  const allVisibleCleared = clearAllVisible(ctx, rel, page, block);
  pool.markBufferDirty(buffer);
  if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
    logHeapInsert(ctx.xlog.ins, ctx.xlog.wal, {
      rel: rel.locator,
      block,
      page,
      offnum: offset,
      tuple,
      xid: xact.xid,
      allVisibleCleared,
    });
  }
  pool.unlockReleaseBuffer(buffer);
  xact.markCommandUsed();
  ctx.pgstat?.relations.countHeapInsert(rel.def.relNumber, xact, 1);
  return { block, offset };
}

/**
 * heap_multi_insert: adds many rows, filling each page before moving on (one page lookup per page
 * rather than per row). Returns their TIDs in order.
 */
export function heapMultiInsert(
  ctx: TableAmContext,
  rel: Relation,
  rows: readonly TupleValues[],
  xact: Transaction,
  bistate?: BulkInsertState,
): TID[] {
  xact.checkInProgress();
  const cid = xact.commandId;
  const tuples = rows.map((r) => prepareTuple(rel, r, 0, cid));
  if (tuples.length === 0) return [];
  const xid = xact.getXid();
  for (const t of tuples) heapTupleHeaderSetXmin(t, 0, xid);
  const pool = ctx.pool;
  const saveFree = saveFreeSpace(rel);
  const tids: TID[] = [];
  const needWal = ctx.xlog !== undefined && relationNeedsWal(ctx, rel);
  let i = 0;
  while (i < tuples.length) {
    const buffer = relationGetBufferForTuple(ctx, rel, tuples[i]!.length, undefined, bistate);
    const page = pool.bufferGetPage(buffer);
    const block = pool.bufferGetBlockNumber(buffer);
    const startingWithEmptyPage = pageGetMaxOffsetNumber(page) === 0;
    const first = i;
    // The first tuple fits (hio checked); keep adding while the fillfactor reserve stays free.
    tids.push({ block, offset: relationPutHeapTuple(page, block, tuples[i++]!) });
    while (
      i < tuples.length &&
      pageGetHeapFreeSpace(page) >= maxAlign(tuples[i]!.length) + saveFree
    ) {
      tids.push({ block, offset: relationPutHeapTuple(page, block, tuples[i++]!) });
    }
    const allVisibleCleared = clearAllVisible(ctx, rel, page, block);
    pool.markBufferDirty(buffer);
    if (needWal) {
      const result = logHeapMultiInsert(ctx.xlog!.ins, ctx.xlog!.wal, {
        rel: rel.locator,
        block,
        page,
        tuples: tuples.slice(first, i),
        offsets: tids.slice(first, i).map((t) => t.offset),
        init: startingWithEmptyPage,
        allVisibleCleared,
        lastInMulti: i === tuples.length,
        xid,
      });
      pageSetLsn(page, result.endLsn);
    }
    pool.unlockReleaseBuffer(buffer);
  }
  xact.markCommandUsed();
  ctx.pgstat?.relations.countHeapInsert(rel.def.relNumber, xact, tids.length);
  return tids;
}

/** Checks that a TID names a line pointer that exists; returns the page's block count. */
function checkTid(ctx: TableAmContext, rel: Relation, tid: TID): void {
  const n = ctx.pool.nblocks(rel.locator, ForkNumber.MAIN);
  const ok =
    tid !== null &&
    typeof tid === "object" &&
    Number.isInteger(tid.block) &&
    Number.isInteger(tid.offset) &&
    tid.block >= 0 &&
    tid.block < n &&
    tid.offset >= 1 &&
    tid.offset <= MaxHeapTuplesPerPage;
  if (!ok) {
    throw new PgsimError(
      "invalid-tid",
      `tid (${String(tid?.block)},${String(tid?.offset)}) does not exist in relation "${rel.name}" (${n} blocks)`,
      { tid },
    );
  }
}

/**
 * The buffer of `tid`'s page, pinned, for heap_delete / heap_update. When this backend's current
 * scan has that page pinned (`ctx.scanPin`, set by HeapScan), another pin is added to the scan's
 * buffer; otherwise the TID is checked against the relation's size and the page is read.
 *
 * Differs from PostgreSQL: PostgreSQL's ReadBuffer looks the block up in the buffer table again
 * and finds the same buffer (then only bumps its private pin count, as here); pgsim skips the
 * lookup, and the relation-size check (an fstat on disk) that its TID check needs otherwise.
 */
function readTupleBuffer(ctx: TableAmContext, rel: Relation, tid: TID): BufferId {
  const pin = ctx.scanPin;
  if (
    pin !== undefined &&
    pin.relNumber === rel.locator.relNumber &&
    tid !== null &&
    typeof tid === "object" &&
    pin.block === tid.block &&
    Number.isInteger(tid.offset) &&
    tid.offset >= 1 &&
    tid.offset <= MaxHeapTuplesPerPage
  ) {
    ctx.pool.incrBufferRefCount(pin.buffer);
    return pin.buffer;
  }
  checkTid(ctx, rel, tid);
  return ctx.pool.readBuffer(rel.locator, ForkNumber.MAIN, tid.block);
}

/** The tuple's byte offset on the page if `offset` is a normal line pointer there, else −1. */
export function normalTupleAt(page: Uint8Array, offset: number): number {
  if (pageIsNew(page) || offset > pageGetMaxOffsetNumber(page)) return -1;
  const lp = pageGetItemId(page, offset);
  return itemIdGetFlags(lp) === LP_NORMAL ? itemIdGetOffset(lp) : -1;
}

function tidEquals(a: TID, b: TID): boolean {
  return a.block === b.block && a.offset === b.offset;
}

/**
 * Waits for the transaction holding a tuple, with the buffer unlocked, then relocks. Returns
 * false when the caller asked not to wait.
 */
function waitForHolder(
  ctx: TableAmContext,
  buffer: BufferId,
  page: Uint8Array,
  tup: number,
  options: ModifyOptions | undefined,
): boolean {
  if (options?.wait === false) return false;
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  ctx.pool.unlockBuffer(buffer);
  let ended: boolean;
  try {
    ended = ctx.transam.waitForTransaction(xmax, {
      deadlockTimeoutMs: ctx.deadlockTimeoutMs ?? 1000,
      timeoutMs: ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    });
  } finally {
    // Relock whatever happened: the caller's cleanup expects the lock it had.
    ctx.pool.lockBuffer(buffer, "exclusive");
  }
  if (!ended) {
    throw lockTimeoutError(xmax);
  }
  return true;
}

/** The cid to store as cmax: a combo id when this transaction inserted the tuple itself. */
export function adjustCmax(
  page: Uint8Array,
  tup: number,
  xact: Transaction,
  vctx: VisibilityContext,
): { cid: number; combo: boolean } {
  if (cmaxIsCombo(page, tup, xact)) {
    const cmin = tupleCmin(page, tup, vctx);
    return { cid: xact.comboCommandId(cmin, xact.commandId), combo: true };
  }
  return { cid: xact.commandId, combo: false };
}

/**
 * HeapTupleHeaderAdjustCmax's test: the tuple's cmax must be a combo id (this transaction
 * inserted it, so its cmin is still needed).
 */
export function cmaxIsCombo(page: Uint8Array, tup: number, xact: Transaction): boolean {
  const infomask = heapTupleHeaderGetInfomask(page, tup);
  return (
    (infomask & HEAP_XMIN_COMMITTED) === 0 && xact.isCurrent(heapTupleHeaderGetRawXmin(page, tup))
  );
}

/**
 * Sets xmax and its infomask bits on a tuple being deleted, updated or locked.
 */
export function setXmax(
  page: Uint8Array,
  tup: number,
  xid: number,
  cmax: { cid: number; combo: boolean },
  infomaskBits: number,
  keysUpdated: boolean,
  ctid: TID,
): void {
  setXmaxAt(
    page,
    tup,
    xid,
    cmax.cid,
    cmax.combo,
    infomaskBits,
    keysUpdated,
    ctid.block,
    ctid.offset,
  );
}

/**
 * setXmax with the cmax and t_ctid as plain numbers (no objects on a statement's hot path).
 * `infomask2Clear` names t_infomask2 bits to clear in the same write (heap_delete's
 * HeapTupleHeaderClearHotUpdated).
 */
export function setXmaxAt(
  page: Uint8Array,
  tup: number,
  xid: number,
  cmaxCid: number,
  combo: boolean,
  infomaskBits: number,
  keysUpdated: boolean,
  ctidBlock: number,
  ctidOffset: number,
  infomask2Clear = 0,
): void {
  let infomask = heapTupleHeaderGetInfomask(page, tup) & ~(HEAP_XMAX_BITS | HEAP_MOVED);
  infomask = combo ? infomask | HEAP_COMBOCID : infomask & ~HEAP_COMBOCID;
  heapTupleHeaderSetInfomask(page, tup, infomask | infomaskBits);
  let infomask2 = heapTupleHeaderGetInfomask2(page, tup) & ~(HEAP_KEYS_UPDATED | infomask2Clear);
  if (keysUpdated) infomask2 |= HEAP_KEYS_UPDATED;
  heapTupleHeaderSetInfomask2(page, tup, infomask2);
  heapTupleHeaderSetXmax(page, tup, xid);
  heapTupleHeaderSetCmin(page, tup, cmaxCid);
  itemPointerSet(page, tup + T_CTID_OFFSET, ctidBlock, ctidOffset);
}

/**
 * The HeapTupleSatisfiesUpdate loop shared by delete, update and lock: locks the buffer, waits
 * for running holders, and returns the tuple's offset with the result. On anything but Ok the
 * buffer is left locked for the caller to release.
 */
function checkModifiable(
  ctx: TableAmContext,
  rel: Relation,
  buffer: BufferId,
  tid: TID,
  xact: Transaction,
  verb: string,
  options: ModifyOptions | undefined,
): { tup: number; result: TMResult; failure?: TMFailure; ownLock?: boolean } {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  const vctx = visibilityContext(ctx, xact);
  for (let round = 0; ; round++) {
    if (round > 10_000) throw new AssertionError(`heap ${verb}: tuple kept changing`);
    const tup = normalTupleAt(page, tid.offset);
    if (tup < 0) {
      throw new PgsimError(
        "invalid-tid",
        `tid (${tid.block},${tid.offset}) of relation "${rel.name}" holds no tuple to ${verb}`,
        { tid },
      );
    }
    const ctid = heapTupleHeaderGetCtid(page, tup);
    const result = heapTupleSatisfiesUpdate(page, tup, xact.commandId, tidEquals(ctid, tid), vctx);
    if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
    if (result === TM.Invisible) {
      throw new PgsimError("invisible-tuple", `attempted to ${verb} invisible tuple`, { tid });
    }
    if (result === TM.BeingModified) {
      // The only locker is this transaction: nothing to wait for, and the row may be changed
      // (heap_delete's and heap_update's TransactionIdIsCurrentTransactionId(xwait) cases;
      // heap_lock_tuple looks at the strength of the lock it holds).
      if (xact.isCurrent(heapTupleHeaderGetRawXmax(page, tup))) {
        return { tup, result: TM.Ok, ownLock: true };
      }
      if (waitForHolder(ctx, buffer, page, tup, options)) continue;
      return {
        tup,
        result: TM.WouldBlock,
        failure: { ctid, xmax: heapTupleHeaderGetRawXmax(page, tup) },
      };
    }
    if (result !== TM.Ok) {
      return { tup, result, failure: { ctid, xmax: heapTupleHeaderGetRawXmax(page, tup) } };
    }
    return { tup, result };
  }
}

/**
 * heap_delete: marks the version at `tid` deleted by this transaction. Returns TM.Ok, or why not
 * (Updated / Deleted by a committed transaction, SelfModified, WouldBlock) with the failure data.
 */
export function heapDelete(
  ctx: TableAmContext,
  rel: Relation,
  tid: TID,
  xact: Transaction,
  options?: ModifyOptions,
): TMOutcome {
  xact.checkInProgress();
  // heap_delete takes the xid first, whatever happens next.
  const xid = xact.getXid();
  const pool = ctx.pool;
  const buffer = readTupleBuffer(ctx, rel, tid);
  pool.lockBuffer(buffer, "exclusive");
  try {
    const page = pool.bufferGetPage(buffer);
    const { tup, result, failure } = checkModifiable(
      ctx,
      rel,
      buffer,
      tid,
      xact,
      "delete",
      options,
    );
    if (result !== TM.Ok) return failure ? { result, failure } : { result };
    const cmax = adjustCmax(page, tup, xact, visibilityContext(ctx, xact));
    pageSetPrunable(page, xid);
    const allVisibleCleared = clearAllVisible(ctx, rel, page, tid.block);
    setXmax(page, tup, xid, cmax, 0, true, tid);
    heapTupleHeaderSetInfomask2(
      page,
      tup,
      heapTupleHeaderGetInfomask2(page, tup) & ~HEAP_HOT_UPDATED,
    );
    pool.markBufferDirty(buffer);
    if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
      const result = logHeapDelete(ctx.xlog.ins, ctx.xlog.wal, {
        rel: rel.locator,
        block: tid.block,
        page,
        offnum: tid.offset,
        allVisibleCleared,
        xid,
      });
      pageSetLsn(page, result.endLsn);
    }
    xact.markCommandUsed();
    ctx.pgstat?.relations.countHeapDelete(rel.def.relNumber, xact);
    return { result: TM.Ok };
  } finally {
    pool.unlockReleaseBuffer(buffer);
  }
}

/** Bytewise comparison of chosen attributes of two tuples (HeapDetermineColumnsInfo). */
export function columnsChanged(
  rel: Relation,
  attrs: readonly number[],
  oldTuple: Uint8Array,
  newTuple: Uint8Array,
): boolean {
  if (attrs.length === 0) return false;
  // heap_getattr with attcacheoff: two tuples without NULLs of an all-fixed-length descriptor
  // hold each attribute at the same offset from t_hoff; compare those bytes in place.
  const offsets = fixedAttributeOffsets(rel.desc);
  const natts = rel.desc.natts;
  if (
    offsets !== null &&
    (heapTupleHeaderGetInfomask(oldTuple, 0) & HEAP_HASNULL) === 0 &&
    (heapTupleHeaderGetInfomask(newTuple, 0) & HEAP_HASNULL) === 0 &&
    heapTupleHeaderGetNatts(oldTuple, 0) === natts &&
    heapTupleHeaderGetNatts(newTuple, 0) === natts
  ) {
    const ho = heapTupleHeaderGetHoff(oldTuple, 0);
    const hn = heapTupleHeaderGetHoff(newTuple, 0);
    for (const i of attrs) {
      const o = ho + offsets[i]!;
      const n = hn + offsets[i]!;
      for (let k = rel.desc.attrs[i]!.attlen - 1; k >= 0; k--) {
        if (oldTuple[o + k] !== newTuple[n + k]) return true;
      }
    }
    return false;
  }
  const a = heapAttributeSpans(rel.desc, oldTuple);
  const b = heapAttributeSpans(rel.desc, newTuple);
  for (const i of attrs) {
    const x = a[i];
    const y = b[i];
    if (x === null || y === null || x === undefined || y === undefined) {
      if ((x ?? null) !== (y ?? null)) return true;
      continue;
    }
    if (x.length !== y.length) return true;
    for (let k = 0; k < x.length; k++) {
      if (oldTuple[x.offset + k] !== newTuple[y.offset + k]) return true;
    }
  }
  return false;
}

/** What heapUpdate did. */
export interface UpdateOutcome extends TMOutcome {
  /** The new version's TID (when result is Ok). */
  newTid?: TID;
  /** Whether the update was HOT (same page, no indexed column changed). */
  hot?: boolean;
  /** Whether a key column changed (HEAP_KEYS_UPDATED on the old version). */
  keysUpdated?: boolean;
}

/**
 * heap_update: writes a new version of the row at `otid`. It goes on the same page when it fits
 * (HOT if no indexed column changed), otherwise on another page found like an insert.
 */
export function heapUpdate(
  ctx: TableAmContext,
  rel: Relation,
  otid: TID,
  values: TupleValues,
  xact: Transaction,
  options?: ModifyOptions,
): UpdateOutcome {
  xact.checkInProgress();
  const newTuple = prepareTuple(rel, values, 0, xact.commandId);
  // heap_update takes the xid first, whatever happens next.
  const xid = xact.getXid();
  const pool = ctx.pool;
  let buffer = readTupleBuffer(ctx, rel, otid);
  pool.lockBuffer(buffer, "exclusive");
  let page = pool.bufferGetPage(buffer);
  let newBuffer: BufferId | undefined;
  try {
    const checked = checkModifiable(ctx, rel, buffer, otid, xact, "update", options);
    let tup = checked.tup;
    const { result, failure } = checked;
    if (result !== TM.Ok) return failure ? { result, failure } : { result };
    const vctx = visibilityContext(ctx, xact);
    let hotColumnsChanged = false;
    let keysChanged = false;
    if (rel.hotAttrs.length > 0 || rel.keyAttrs.length > 0) {
      const oldLen = itemIdGetLength(pageGetItemId(page, otid.offset));
      const oldTuple = page.subarray(tup, tup + oldLen);
      hotColumnsChanged = columnsChanged(rel, rel.hotAttrs, oldTuple, newTuple);
      keysChanged = columnsChanged(rel, rel.keyAttrs, oldTuple, newTuple);
    }
    // The update's lock mode (heap_update's *lockmode): FOR UPDATE strength when a key column
    // changes, else FOR NO KEY UPDATE; with our own lock on the row, the stronger of that and the
    // lock held (compute_new_xmax_infomask keeps the strongest of one transaction's two locks).
    let mode: LockTupleMode = keysChanged ? "exclusive" : "no key exclusive";
    if (checked.ownLock === true) {
      const held = heldLockMode(
        heapTupleHeaderGetInfomask(page, tup),
        heapTupleHeaderGetInfomask2(page, tup),
      );
      if (LOCK_MODE_STRENGTH[held] > LOCK_MODE_STRENGTH[mode]) mode = held;
    }
    const keysUpdated = mode === "exclusive";
    // The new version's header. When the row carried our own lock, the lock stays on the new
    // version (heap_update's locker_remains): xmax is our xid, as a key-share lock.
    heapTupleHeaderSetXmin(newTuple, 0, xid);
    let infomaskNew = heapTupleHeaderGetInfomask(newTuple, 0) | HEAP_UPDATED;
    if (checked.ownLock === true) {
      infomaskNew =
        (infomaskNew & ~HEAP_XMAX_INVALID) | HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_LOCK_ONLY;
      heapTupleHeaderSetXmax(newTuple, 0, xid);
    }
    heapTupleHeaderSetInfomask(newTuple, 0, infomaskNew);

    let newPage = page;
    let newBlock = otid.block;
    if (maxAlign(newTuple.length) > pageGetHeapFreeSpace(page)) {
      // It does not fit here. Mark the old version locked by us, in the update's lock mode, so
      // nobody else updates it while we drop the lock to find room elsewhere (not HOT-updated,
      // t_ctid to itself, all-frozen cleared); then lock both pages in block order.
      const cmaxLock = adjustCmax(page, tup, xact, vctx);
      setXmax(
        page,
        tup,
        xid,
        cmaxLock,
        HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK,
        keysUpdated,
        otid,
      );
      heapTupleHeaderSetInfomask2(
        page,
        tup,
        heapTupleHeaderGetInfomask2(page, tup) & ~HEAP_HOT_UPDATED,
      );
      const allFrozenCleared =
        pageIsAllVisible(page) &&
        new VisibilityMap(ctx.pool).clear(rel.locator, otid.block, VISIBILITYMAP_ALL_FROZEN);
      pool.markBufferDirty(buffer);
      if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
        const result = logHeapLock(ctx.xlog.ins, ctx.xlog.wal, {
          rel: rel.locator,
          block: otid.block,
          page,
          offnum: otid.offset,
          lockingXid: xid,
          allFrozenCleared,
          xid,
        });
        pageSetLsn(page, result.endLsn);
      }
      pool.unlockBuffer(buffer);
      newBuffer = relationGetBufferForTuple(ctx, rel, newTuple.length, buffer);
      if (newBuffer === buffer) {
        newBuffer = undefined; // it fits on the old page after all (someone pruned it)
      } else {
        newPage = pool.bufferGetPage(newBuffer);
        newBlock = pool.bufferGetBlockNumber(newBuffer);
      }
      page = pool.bufferGetPage(buffer);
      tup = normalTupleAt(page, otid.offset);
      if (tup < 0) throw new AssertionError("updated tuple vanished while locked by us");
    }
    const samePage = newBuffer === undefined;
    const hot = samePage && !hotColumnsChanged;
    if (!samePage) pageSetFull(page);
    pageSetPrunable(page, xid);
    let infomask2New =
      heapTupleHeaderGetInfomask2(newTuple, 0) & ~(HEAP_HOT_UPDATED | HEAP_ONLY_TUPLE);
    if (hot) infomask2New |= HEAP_ONLY_TUPLE;
    heapTupleHeaderSetInfomask2(newTuple, 0, infomask2New);
    const newOffset = relationPutHeapTuple(newPage, newBlock, newTuple);
    const newTid = { block: newBlock, offset: newOffset };
    const cmax = adjustCmax(page, tup, xact, vctx);
    setXmax(page, tup, xid, cmax, 0, keysUpdated, newTid);
    let infomask2Old =
      heapTupleHeaderGetInfomask2(page, tup) & ~(HEAP_HOT_UPDATED | HEAP_ONLY_TUPLE);
    if (hot) infomask2Old |= HEAP_HOT_UPDATED;
    // Keep HEAP_ONLY_TUPLE on the old version if it was itself a heap-only member of a chain.
    infomask2Old |= heapTupleHeaderGetInfomask2(page, tup) & HEAP_ONLY_TUPLE;
    heapTupleHeaderSetInfomask2(page, tup, infomask2Old);
    const allVisibleCleared = clearAllVisible(ctx, rel, page, otid.block);
    pool.markBufferDirty(buffer);
    let newAllVisibleCleared = false;
    if (newBuffer !== undefined) {
      newAllVisibleCleared = clearAllVisible(ctx, rel, newPage, newBlock);
      pool.markBufferDirty(newBuffer);
    }
    if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
      const result = logHeapUpdate(ctx.xlog.ins, ctx.xlog.wal, {
        rel: rel.locator,
        oldBlock: otid.block,
        oldPage: page,
        oldOffnum: otid.offset,
        newBlock,
        newPage,
        newOffnum: newOffset,
        newTuple,
        hot,
        allVisibleCleared,
        newAllVisibleCleared,
        xid,
      });
      if (newBuffer !== undefined) pageSetLsn(newPage, result.endLsn);
      pageSetLsn(page, result.endLsn);
    }
    xact.markCommandUsed();
    ctx.pgstat?.relations.countHeapUpdate(rel.def.relNumber, xact, hot);
    return { result: TM.Ok, newTid, hot, keysUpdated };
  } finally {
    if (newBuffer !== undefined) pool.unlockReleaseBuffer(newBuffer);
    // RelationGetBufferForTuple may fail (an eviction's write error) while the old page is
    // unlocked: error cleanup releases what is still held (LWLockReleaseAll, then the pin).
    if (pool.holdsContentLock(buffer)) pool.unlockReleaseBuffer(buffer);
    else pool.releaseBuffer(buffer);
    void buffer;
    buffer = 0 as BufferId;
  }
}

/** How strong each row lock mode is (LockTupleMode's order: key share < share < ...). */
const LOCK_MODE_STRENGTH: Record<LockTupleMode, number> = {
  "key share": 0,
  share: 1,
  "no key exclusive": 2,
  exclusive: 3,
};

/**
 * compute_new_xmax_infomask for a single locker: the lock-only xmax bits of each mode, and
 * whether the tuple gets HEAP_KEYS_UPDATED (FOR UPDATE does: it blocks key-share lockers).
 */
function lockModeBits(mode: LockTupleMode): { infomask: number; keysUpdated: boolean } {
  switch (mode) {
    case "key share":
      return { infomask: HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_KEYSHR_LOCK, keysUpdated: false };
    case "share":
      return { infomask: HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_SHR_LOCK, keysUpdated: false };
    case "no key exclusive":
      return { infomask: HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK, keysUpdated: false };
    case "exclusive":
      return { infomask: HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK, keysUpdated: true };
  }
}

/** The mode of a lock-only xmax held by one transaction (the reverse of lockModeBits). */
function heldLockMode(infomask: number, infomask2: number): LockTupleMode {
  const lock = infomask & HEAP_XMAX_SHR_LOCK;
  if (lock === HEAP_XMAX_SHR_LOCK) return "share";
  if (lock === HEAP_XMAX_KEYSHR_LOCK) return "key share";
  return (infomask2 & HEAP_KEYS_UPDATED) !== 0 ? "exclusive" : "no key exclusive";
}

/**
 * heap_lock_tuple (SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE): marks
 * the version locked by this transaction, so that others wait before updating, deleting or
 * locking it. Locking a row this transaction already locked keeps the stronger of the two modes.
 * Locking a page that is all-visible clears its VM all-frozen bit (the new xmax is not frozen).
 *
 * Differs from PostgreSQL: one locker at a time. PostgreSQL lets compatible lockers share a row
 * (two FOR SHARE, or FOR KEY SHARE next to an update that keeps the key) by making the xmax a
 * MultiXactId; pgsim has no multixacts, so any second transaction waits for the first (or gets
 * WouldBlock with NOWAIT) whatever the modes.
 */
export function heapLockTuple(
  ctx: TableAmContext,
  rel: Relation,
  tid: TID,
  xact: Transaction,
  mode: LockTupleMode = "exclusive",
  options?: ModifyOptions,
): TMOutcome {
  xact.checkInProgress();
  checkTid(ctx, rel, tid);
  const pool = ctx.pool;
  const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, tid.block);
  pool.lockBuffer(buffer, "exclusive");
  try {
    const page = pool.bufferGetPage(buffer);
    const { tup, result, failure, ownLock } = checkModifiable(
      ctx,
      rel,
      buffer,
      tid,
      xact,
      "lock",
      options,
    );
    if (result !== TM.Ok) return failure ? { result, failure } : { result };
    const xid = xact.getXid();
    let infomask = heapTupleHeaderGetInfomask(page, tup);
    let infomask2 = heapTupleHeaderGetInfomask2(page, tup);
    if (ownLock === true) {
      // Locked by us already: a lock at least as strong is enough; otherwise take the stronger.
      const held = heldLockMode(infomask, infomask2);
      if (LOCK_MODE_STRENGTH[held] >= LOCK_MODE_STRENGTH[mode]) return { result: TM.Ok };
    }
    const bits = lockModeBits(mode);
    infomask = (infomask & ~HEAP_XMAX_BITS) | bits.infomask;
    // A lock-only xmax ends any HOT chain through this version (HeapTupleHeaderClearHotUpdated):
    // what HEAP_HOT_UPDATED said belonged to an updater that aborted.
    infomask2 &= ~(HEAP_KEYS_UPDATED | HEAP_HOT_UPDATED);
    if (bits.keysUpdated) infomask2 |= HEAP_KEYS_UPDATED;
    heapTupleHeaderSetInfomask(page, tup, infomask);
    heapTupleHeaderSetInfomask2(page, tup, infomask2);
    heapTupleHeaderSetXmax(page, tup, xid);
    // A lock-only xmax never forwards: t_ctid points at the tuple itself.
    heapTupleHeaderSetCtid(page, tup, tid);
    const allFrozenCleared =
      pageIsAllVisible(page) &&
      new VisibilityMap(ctx.pool).clear(rel.locator, tid.block, VISIBILITYMAP_ALL_FROZEN);
    pool.markBufferDirty(buffer);
    if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
      const result = logHeapLock(ctx.xlog.ins, ctx.xlog.wal, {
        rel: rel.locator,
        block: tid.block,
        page,
        offnum: tid.offset,
        lockingXid: xid,
        allFrozenCleared,
        xid,
      });
      pageSetLsn(page, result.endLsn);
    }
    return { result: TM.Ok };
  } finally {
    pool.unlockReleaseBuffer(buffer);
  }
}

/**
 * heap_fetch: the row at exactly `tid` if `snapshot` sees it, else undefined. A TID outside the
 * relation is a typed error. `snapshot` may be SnapshotDirty (EvalPlanQual's fetch): the version
 * found then records a running inserter or deleter in it.
 */
export function heapFetch(
  ctx: TableAmContext,
  rel: Relation,
  tid: TID,
  snapshot: Snapshot | DirtySnapshot,
  xact: Transaction | undefined,
): Row | undefined {
  checkTid(ctx, rel, tid);
  const pool = ctx.pool;
  const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, tid.block);
  pool.lockBuffer(buffer, "share");
  let row: Row | undefined;
  try {
    const page = pool.bufferGetPage(buffer);
    const tup = normalTupleAt(page, tid.offset);
    if (tup >= 0) {
      const vctx = visibilityContext(ctx, xact);
      const visible = isDirtySnapshot(snapshot)
        ? heapTupleSatisfiesDirty(page, tup, snapshot, vctx)
        : heapTupleSatisfiesMVCC(page, tup, snapshot, vctx);
      if (visible) {
        const len = itemIdGetLength(pageGetItemId(page, tid.offset));
        row = toRow(rel, heapDeformTuple(rel.desc, page.subarray(tup, tup + len)));
      }
      if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
    }
  } finally {
    pool.unlockReleaseBuffer(buffer);
  }
  return row;
}

/**
 * heap_hot_search_buffer: from a chain root (what an index entry points at), follow redirects
 * and HOT links on the page to the version `snapshot` sees. Returns its TID and row.
 *
 * `snapshot` may be SnapshotDirty (the unique check's): the version found then records a running
 * inserter or deleter in it. With `out`, `out.allDead` tells whether every member of the chain is
 * dead to every transaction (HeapTupleIsSurelyDead against the oldest xmin any backend may still
 * need): true also when the root line pointer is dead or unused; false whenever a version is
 * visible. An index scan uses it to mark its entry LP_DEAD (kill_prior_tuple).
 *
 * With `held` (heapam_index_fetch_tuple's xs_cbuf), the heap page stays pinned in it after the
 * call, and a next fetch on the same block reuses the pin without pruning again — the page is
 * pruned only when the fetches move to it (heap_page_prune_opt "only if we weren't already on
 * this page"); the caller releases the pin (index_fetch_reset / _end).
 */
export function heapHotSearch(
  ctx: TableAmContext,
  rel: Relation,
  tid: TID,
  snapshot: Snapshot | DirtySnapshot,
  xact: Transaction | undefined,
  out?: { allDead: boolean },
  held?: { buffer: BufferId | undefined },
): { tid: TID; row: Row } | undefined {
  checkTid(ctx, rel, tid);
  const pool = ctx.pool;
  let buffer: BufferId;
  if (held?.buffer !== undefined && pool.bufferGetBlockNumber(held.buffer) === tid.block) {
    buffer = held.buffer;
  } else {
    if (held?.buffer !== undefined) {
      pool.releaseBuffer(held.buffer);
      held.buffer = undefined;
    }
    buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, tid.block);
    if (held !== undefined) held.buffer = buffer;
    heapPagePruneOpt(ctx, rel, buffer, xact);
  }
  pool.lockBuffer(buffer, "share");
  if (out !== undefined) out.allDead = true;
  try {
    const page = pool.bufferGetPage(buffer);
    const vctx = visibilityContext(ctx, xact);
    let offset = tid.offset;
    let priorXmax = InvalidTransactionId;
    const maxoff = pageIsNew(page) ? 0 : pageGetMaxOffsetNumber(page);
    for (let steps = 0, atStart = true; steps <= maxoff; steps++, atStart = false) {
      if (offset < 1 || offset > maxoff) break;
      const lp = pageGetItemId(page, offset);
      const flags = itemIdGetFlags(lp);
      if (flags === LP_REDIRECT) {
        if (!atStart) break;
        offset = itemIdGetRedirect(lp);
        continue;
      }
      if (flags !== LP_NORMAL) break;
      const tup = itemIdGetOffset(lp);
      // A heap-only tuple cannot start a chain: the index entry's slot was reused.
      if (atStart && (heapTupleHeaderGetInfomask2(page, tup) & HEAP_ONLY_TUPLE) !== 0) break;
      if (priorXmax !== InvalidTransactionId && heapTupleHeaderGetRawXmin(page, tup) !== priorXmax)
        break;
      const visible = isDirtySnapshot(snapshot)
        ? heapTupleSatisfiesDirty(page, tup, snapshot, vctx)
        : heapTupleSatisfiesMVCC(page, tup, snapshot, vctx);
      if (visible) {
        const row = toRow(
          rel,
          heapDeformTuple(rel.desc, page.subarray(tup, tup + itemIdGetLength(lp))),
        );
        if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
        if (out !== undefined) out.allDead = false;
        return { tid: { block: tid.block, offset }, row };
      }
      // HeapTupleIsSurelyDead: the horizon matters only for a version whose deleter committed
      // (GlobalVisTestIsRemovableXid).
      if (out?.allDead === true) {
        const state = heapTupleSatisfiesVacuumHorizon(page, tup, vctx);
        if (state === HTSV.RecentlyDead) {
          if (!ctx.transam.isRemovableXid(heapTupleHeaderGetRawXmax(page, tup))) {
            out.allDead = false;
          }
        } else if (state !== HTSV.Dead) {
          out.allDead = false;
        }
      }
      if (!heapTupleHeaderIsHotUpdated(page, tup)) break;
      const next = heapTupleHeaderGetCtid(page, tup);
      if (next.block !== tid.block) break;
      priorXmax = heapTupleHeaderGetRawXmax(page, tup);
      offset = next.offset;
    }
    if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
    return undefined;
  } finally {
    if (held !== undefined) pool.unlockBuffer(buffer);
    else pool.unlockReleaseBuffer(buffer);
  }
}

/**
 * The line pointer words of the page heapgetpage is looking at (pageGetItemIds). One array for
 * every scan: heapgetpage's loop runs to its end before any other scan's can start.
 */
const scanLineScratch = new Int32Array(MaxOffsetNumber + 1);

/**
 * A sequential scan: every row `snapshot` sees, page by page. Each page is pruned
 * opportunistically, share-locked just long enough to find its visible tuples, and kept pinned
 * while they are returned. Tables larger than a quarter of the pool are read through a BULKREAD
 * ring, as PostgreSQL does.
 *
 * @example
 * ```ts
 * const scan = new HeapScan(ctx, rel, xact.snapshot, xact);
 * for (let t = scan.next(); t !== undefined; t = scan.next()) console.log(t.tid, t.row);
 * scan.end();
 * ```
 */
export class HeapScan {
  private readonly ctx: TableAmContext;
  private readonly rel: Relation;
  private readonly snapshot: Snapshot;
  private readonly xact: Transaction | undefined;
  /** rs_nblocks: fixed at the start; pages added later are not seen. */
  readonly nblocks: number;
  readonly strategy;
  private block = -1;
  private buffer: BufferId | undefined;
  private page: Uint8Array | undefined;
  private readonly visible = new Uint16Array(MaxHeapTuplesPerPage);
  private visibleCount = 0;
  private index = 0;
  private ended = false;
  /** This scan's pin, published as `ctx.scanPin` while the scan has a page pinned. */
  private readonly pin: ScanPin;

  constructor(
    ctx: TableAmContext,
    rel: Relation,
    snapshot: Snapshot,
    xact: Transaction | undefined,
  ) {
    this.ctx = ctx;
    this.rel = rel;
    this.pin = {
      relNumber: rel.locator.relNumber,
      block: -1,
      buffer: 0 as BufferId,
      verifiedTarget: InvalidBlockNumber,
    };
    this.snapshot = snapshot;
    this.xact = xact;
    this.nblocks = ctx.pool.nblocks(rel.locator, ForkNumber.MAIN);
    this.strategy =
      this.nblocks > Math.floor(ctx.pool.bufferCount / 4) && ctx.pool.variant === "disk"
        ? getAccessStrategy("bulkread", ctx.pool.bufferCount)
        : undefined;
  }

  /** heapgetpage: pin the block, prune, and collect the offsets of its visible tuples. */
  private loadPage(block: number): void {
    const pool = this.ctx.pool;
    if (this.buffer !== undefined) {
      if (this.ctx.scanPin === this.pin) this.ctx.scanPin = undefined;
      pool.releaseBuffer(this.buffer);
      this.buffer = undefined;
    }
    const buffer = pool.readBuffer(this.rel.locator, ForkNumber.MAIN, block, {
      ...(this.strategy ? { strategy: this.strategy } : {}),
    });
    this.buffer = buffer;
    this.pin.block = block;
    this.pin.buffer = buffer;
    this.ctx.scanPin = this.pin;
    heapPagePruneOpt(this.ctx, this.rel, buffer, this.xact);
    pool.lockBuffer(buffer, "share");
    const page = pool.bufferGetPage(buffer);
    this.page = page;
    let n = 0;
    try {
      if (!pageIsNew(page)) {
        const maxoff = pageGetMaxOffsetNumber(page);
        const allVisible = pageIsAllVisible(page);
        const vctx = visibilityContext(this.ctx, this.xact);
        const lps = scanLineScratch;
        pageGetItemIds(page, maxoff, lps);
        for (let off = 1; off <= maxoff; off++) {
          const lp = lps[off]!;
          if (itemIdGetFlags(lp) !== LP_NORMAL) continue;
          if (
            allVisible ||
            heapTupleSatisfiesMVCC(page, itemIdGetOffset(lp), this.snapshot, vctx)
          ) {
            this.visible[n++] = off;
          }
        }
        // A hint's full-page image (checksums on) can fail: after a PANIC, say.
        if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
      }
    } finally {
      pool.unlockBuffer(buffer);
    }
    this.visibleCount = n;
    this.index = 0;
    this.block = block;
  }

  /** The next visible row with its TID, or undefined at the end. */
  next(): { tid: TID; row: Row } | undefined {
    const at = this.nextTid();
    if (at === undefined) return undefined;
    return { tid: at, row: this.currentRow() };
  }

  /** Advances to the next visible tuple; returns its TID (the row via `currentRow`). */
  nextTid(): TID | undefined {
    if (this.ended) return undefined;
    while (this.index >= this.visibleCount) {
      if (this.block + 1 >= this.nblocks) {
        this.end();
        return undefined;
      }
      this.loadPage(this.block + 1);
    }
    this.current = this.visible[this.index++]!;
    return { block: this.block, offset: this.current };
  }

  private current = 0;

  /**
   * pgsim only: the page step of heapgettup_pagemode for a caller that takes a page at a time
   * (heapModifyScanPage): loads the next page that has visible tuples, as `nextTid` would when
   * the current page's are used up, and counts all of its tuples as returned. False at the end
   * (the scan has then ended). The page's visible offsets are `pageOffsets[0 .. pageCount)`.
   */
  nextPage(): boolean {
    if (this.ended) return false;
    for (;;) {
      if (this.index < this.visibleCount) {
        this.index = this.visibleCount;
        return true;
      }
      if (this.block + 1 >= this.nblocks) {
        this.end();
        return false;
      }
      this.loadPage(this.block + 1);
    }
  }

  /** The relation scanned (for heapModifyScanPage). */
  get relation(): Relation {
    return this.rel;
  }

  /** The backend context the scan runs in. */
  get context(): TableAmContext {
    return this.ctx;
  }

  /** The pinned page's buffer, block and visible offsets (after nextPage). */
  get pageBuffer(): BufferId {
    return this.buffer!;
  }
  get pageBlock(): number {
    return this.block;
  }
  get pageOffsets(): Uint16Array {
    return this.visible;
  }
  get pageCount(): number {
    return this.visibleCount;
  }

  /** The row of the tuple at `offset` on the pinned page (read under the pin). */
  rowAt(offset: number): Row {
    const page = this.page!;
    const lp = pageGetItemId(page, offset);
    const tup = itemIdGetOffset(lp);
    return toRow(this.rel, heapDeformTupleAt(this.rel.desc, page, tup, tup + itemIdGetLength(lp)));
  }

  /** The current tuple's row (read under the pin, after the visibility check). */
  currentRow(): Row {
    const page = this.page!;
    const lp = pageGetItemId(page, this.current);
    const tup = itemIdGetOffset(lp);
    return toRow(this.rel, heapDeformTupleAt(this.rel.desc, page, tup, tup + itemIdGetLength(lp)));
  }

  /** heap_endscan: drops the pin. Safe to call twice. */
  end(): void {
    if (this.ctx.scanPin === this.pin) this.ctx.scanPin = undefined;
    if (this.buffer !== undefined) this.ctx.pool.releaseBuffer(this.buffer);
    this.buffer = undefined;
    this.page = undefined;
    this.ended = true;
  }
}

/**
 * heap_get_latest_tid: follows the update chain from `tid` to the newest version `snapshot`
 * sees (or the last one reached). Used to find the row an UPDATE should retry on.
 */
export function heapGetLatestTid(
  ctx: TableAmContext,
  rel: Relation,
  tid: TID,
  snapshot: Snapshot,
  xact: Transaction | undefined,
): TID {
  checkTid(ctx, rel, tid);
  const pool = ctx.pool;
  const vctx = visibilityContext(ctx, xact);
  let current = tid;
  let latest = tid;
  let priorXmax = InvalidTransactionId;
  for (let steps = 0; steps < 1_000_000; steps++) {
    if (!heapTidValid(ctx, rel, current)) break;
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, current.block);
    pool.lockBuffer(buffer, "share");
    const page = pool.bufferGetPage(buffer);
    const tup = normalTupleAt(page, current.offset);
    let next: TID | undefined;
    if (
      tup >= 0 &&
      (priorXmax === InvalidTransactionId || heapTupleHeaderGetRawXmin(page, tup) === priorXmax)
    ) {
      if (heapTupleSatisfiesMVCC(page, tup, snapshot, vctx)) latest = current;
      const infomask = heapTupleHeaderGetInfomask(page, tup);
      const ctid = heapTupleHeaderGetCtid(page, tup);
      if (
        (infomask & HEAP_XMAX_INVALID) === 0 &&
        (infomask & HEAP_XMAX_LOCK_ONLY) === 0 &&
        !tidEquals(ctid, current)
      ) {
        next = ctid;
        priorXmax = heapTupleHeaderGetRawXmax(page, tup);
      }
    }
    try {
      if (vctx.hintsSet) pool.markBufferDirtyHint(buffer);
    } finally {
      vctx.hintsSet = false;
      pool.unlockReleaseBuffer(buffer);
    }
    if (next === undefined) break;
    current = next;
  }
  return latest;
}

/**
 * The newest version of a row, following t_ctid links through every version whose updater
 * committed (what table_tuple_lock with TUPLE_LOCK_FLAG_FIND_LAST_VERSION does for EvalPlanQual).
 * Stops at a version that is not updated, deleted (ctid points at itself), or changed by a
 * transaction still running or aborted; the caller retries its update or delete there.
 */
export function heapFindLastVersion(ctx: TableAmContext, rel: Relation, tid: TID): TID {
  checkTid(ctx, rel, tid);
  const pool = ctx.pool;
  let current = tid;
  let priorXmax = InvalidTransactionId;
  for (let steps = 0; steps < 1_000_000; steps++) {
    if (!heapTidValid(ctx, rel, current)) return current;
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, current.block);
    pool.lockBuffer(buffer, "share");
    let next: TID | undefined;
    try {
      const page = pool.bufferGetPage(buffer);
      const tup = normalTupleAt(page, current.offset);
      if (tup < 0) return current;
      if (
        priorXmax !== InvalidTransactionId &&
        heapTupleHeaderGetRawXmin(page, tup) !== priorXmax
      ) {
        return current;
      }
      const infomask = heapTupleHeaderGetInfomask(page, tup);
      const ctid = heapTupleHeaderGetCtid(page, tup);
      const xmax = heapTupleHeaderGetRawXmax(page, tup);
      const updated =
        (infomask & HEAP_XMAX_INVALID) === 0 &&
        (infomask & HEAP_XMAX_LOCK_ONLY) === 0 &&
        !tidEquals(ctid, current) &&
        ctx.transam.didCommit(xmax);
      if (!updated) return current;
      next = ctid;
      priorXmax = xmax;
    } finally {
      pool.unlockReleaseBuffer(buffer);
    }
    current = next;
  }
  throw new AssertionError("update chain does not end");
}

/** The line pointer of `tid` on a pinned page, exported for the table AM's TID checks. */
export function heapTidValid(ctx: TableAmContext, rel: Relation, tid: TID): boolean {
  const n = ctx.pool.nblocks(rel.locator, ForkNumber.MAIN);
  return (
    Number.isInteger(tid?.block) &&
    Number.isInteger(tid?.offset) &&
    tid.block >= 0 &&
    tid.block < n &&
    tid.offset >= 1 &&
    tid.offset <= MaxHeapTuplesPerPage
  );
}

export { InvalidBlockNumber, pageItemStart };
