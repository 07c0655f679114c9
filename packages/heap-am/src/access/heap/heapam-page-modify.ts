/**
 * Page-at-a-time UPDATE and DELETE of every row a sequential scan returns (the statement-level
 * `updateAll` / `deleteAll`): heap_update's and heap_delete's work for all the rows of one page
 * under one pin (the scan's), one exclusive content lock and one dirty mark, instead of a pin, a
 * lock and a dirty mark per row; a non-HOT update's new page is likewise kept locked while the
 * page's rows go to it.
 *
 * Models: pgsim only. The work per row is heapam.c's heap_update and heap_delete as heapam.ts
 * models them (HeapTupleSatisfiesUpdate under the exclusive lock, hint bits, combo command ids,
 * PageSetPrunable, PageSetFull, HOT decisions, PD_ALL_VISIBLE and the visibility map cleared,
 * RelationGetBufferForTuple's choice of page); the scan is heapgettup_pagemode with
 * heap_page_prune_opt on each page (HeapScan).
 * Entry points: `heapModifyScanPage`.
 * See also: heapam.ts (heapUpdate, heapDelete: the per-row path), hio.ts, ../table/tableam.ts
 * (scanModifyPage), ../../database/transaction.ts (updateAll, deleteAll).
 *
 * The rule: the pages, the free space map and the visibility map end byte-identical to what the
 * per-row path leaves (test/page-at-a-time-identity.test.ts runs random tables and statements both
 * ways and compares every page of every fork). To keep it, anything the batched code does not do
 * exactly as heapUpdate / heapDelete would goes to the per-row path, row by row, with every
 * content lock let go first:
 *   1. a row whose HeapTupleSatisfiesUpdate is not Ok (another transaction holds or changed it,
 *      our own row lock, an invisible or self-modified row): the fallback runs the executor's
 *      per-row handling (waits, READ COMMITTED's EvalPlanQual, errors);
 *   2. a non-HOT update whose new version does not fit the page this pass already holds (or
 *      the backend's target block, smgr_targblock, when it holds none): RelationGetBufferForTuple's
 *      search (free space map, extension) runs per row;
 *   3. a relation whose changes are WAL-logged: every row (the per-row path's WAL records —
 *      XLOG_HEAP_LOCK before a non-HOT update leaves its page, then XLOG_HEAP_UPDATE — stay
 *      exactly as they are).
 *
 * Locks: the scanned page P is locked exclusively for the pass; a target page T ≠ P is locked
 * after P when T > P (block order) and only conditionally when T < P (a conditional lock cannot
 * deadlock; when it fails, the row goes to the per-row path). No callback runs under a lock: an
 * UPDATE's callback is called for the page's rows before the page is locked.
 *
 * Differs from PostgreSQL (no bytes differ; steps are skipped or reordered):
 *   - heap_update marks the old version locked (a lock-only xmax, and the VM's all-frozen bit
 *     cleared) before it lets go of the old page to find room elsewhere; the batched path never
 *     lets go of the old page while it puts new versions on a page it already holds, so it skips
 *     that step (the final xmax, infomask and VM bits overwrite it in PostgreSQL too).
 *   - The pin, content lock and dirty mark of a page are taken once per pass rather than once per
 *     row, so EXPLAIN-style buffer counts (`lastStatementBuffers`) show fewer shared hits than
 *     PostgreSQL's per-row ReadBuffer calls would.
 *   - An UPDATE's callback sees each page's rows before any of them is changed (PostgreSQL's
 *     executor computes each new row just before heap_update); a callback must not run
 *     statements of its own.
 */

import { type BufferId, ForkNumber } from "@pgsim/buffer-manager";
import {
  HEAP_HASNULL,
  HEAP_HOT_UPDATED,
  HEAP_NATTS_MASK,
  HEAP_ONLY_TUPLE,
  HEAP_UPDATED,
  HEAP_XMAX_INVALID,
  heapTupleHeaderGetCtidOffset,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderSetCmin,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetHoff,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetInfomask2,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
  InvalidBlockNumber,
  InvalidOffsetNumber,
  maxAlign,
  SizeofHeapTupleHeader,
  T_CTID_OFFSET,
} from "../../include/access/htup-details.js";
import { readUint16 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageIsNew,
  pageSetFull,
} from "../../storage/page/bufpage.js";
import type { Datum, FixedLengthCodec } from "../../utils/adt/type-codec.js";
import type { Relation } from "../../utils/cache/rel.js";
import { fixedAttributeOffsets, heapDeformTupleAt } from "../common/heaptuple.js";
import {
  type CompiledAssignment,
  type Row,
  relationNeedsWal,
  type ScanModifyOp,
  type ScanModifyPageResult,
  type ScanModifyRowFallback,
  type TableAmContext,
  TM,
} from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import {
  clearAllVisible,
  cmaxIsCombo,
  columnsChanged,
  type HeapScan,
  normalTupleAt,
  pageSetPrunable,
  prepareTuple,
  setXmaxAt,
  toRow,
  visibilityContext,
} from "./heapam.js";
import {
  heapTupleSatisfiesUpdate,
  tupleCmin,
  type VisibilityContext,
} from "./heapam-visibility.js";
import { relationPutHeapTuple, targetBlockExists, targetFreeSpace } from "./hio.js";

/** One pass over one scanned page: what is held, and what was taken once for the pass. */
interface PagePass {
  readonly ctx: TableAmContext;
  readonly rel: Relation;
  readonly xact: Transaction;
  readonly cid: number;
  /** The transaction's xid once taken (heap_update / heap_delete take it first). */
  xid: number;
  readonly buffer: BufferId;
  readonly page: Uint8Array;
  readonly block: number;
  /** P is locked exclusively; it has been marked dirty under this lock. */
  locked: boolean;
  dirty: boolean;
  /** The held target page of non-HOT updates (pinned and locked exclusively), if any. */
  target: BufferId | undefined;
  targetPage: Uint8Array | undefined;
  targetBlock: number;
  targetDirty: boolean;
  readonly vctx: VisibilityContext;
  /** attcacheoff of a fixed-width descriptor (null otherwise), and the compiled form's scratch. */
  readonly fixedOffsets: Int32Array | null;
  compiledScratch: CompiledScratch | undefined;
  /** Whether the last cmaxFor returned a combo id. */
  combo: boolean;
}

/**
 * Processes the scan's next page that has visible rows (see the header for the rules); returns
 * undefined at the end of the scan. `perRow` is the executor's per-row path for one row.
 */
export function heapModifyScanPage(
  scan: HeapScan,
  op: ScanModifyOp,
  xact: Transaction,
  perRow: ScanModifyRowFallback,
): ScanModifyPageResult | undefined {
  xact.checkInProgress();
  if (!scan.nextPage()) return undefined;
  const ctx = scan.context;
  const rel = scan.relation;
  const block = scan.pageBlock;
  const n = scan.pageCount;
  const offsets = scan.pageOffsets;
  let changed = 0;

  if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
    // Rule 3: WAL-logged changes keep the per-row path, record for record.
    for (let i = 0; i < n; i++) {
      const offset = offsets[i]!;
      const row = scan.rowAt(offset);
      const newValues = op.kind === "update" ? op.newRow(row) : undefined;
      if (perRow({ block, offset }, row, newValues)) changed++;
    }
    return { seen: n, changed };
  }

  // An UPDATE through the caller's callback: its new rows first, before anything is locked.
  let rows: Row[] | undefined;
  let newRows: Row[] | undefined;
  if (op.kind === "update" && op.compiled === undefined) {
    rows = new Array<Row>(n);
    newRows = new Array<Row>(n);
    for (let i = 0; i < n; i++) {
      const row = scan.rowAt(offsets[i]!);
      rows[i] = row;
      newRows[i] = op.newRow(row);
    }
  }

  const pool = ctx.pool;
  const buffer = scan.pageBuffer;
  const pass: PagePass = {
    ctx,
    rel,
    xact,
    cid: xact.commandId,
    xid: 0,
    buffer,
    page: pool.bufferGetPage(buffer),
    block,
    locked: false,
    dirty: false,
    target: undefined,
    targetPage: undefined,
    targetBlock: InvalidBlockNumber,
    targetDirty: false,
    vctx: visibilityContext(ctx, xact),
    fixedOffsets: fixedAttributeOffsets(rel.desc),
    compiledScratch: undefined,
    combo: false,
  };
  const compiled = op.kind === "update" ? op.compiled : undefined;
  try {
    for (let i = 0; i < n; i++) {
      const offset = offsets[i]!;
      let done: boolean;
      if (op.kind === "delete") done = deleteRow(pass, offset);
      else if (compiled !== undefined)
        done = updateRow(pass, offset, compiled, op.newRow, undefined);
      else done = updateRow(pass, offset, undefined, op.newRow, newRows![i]!);
      if (done) {
        changed++;
        continue;
      }
      // The per-row path for this row, with nothing locked.
      releasePass(pass);
      const row = rows?.[i] ?? scan.rowAt(offset);
      const newValues = op.kind === "update" ? (newRows?.[i] ?? op.newRow(row)) : undefined;
      if (perRow({ block, offset }, row, newValues)) changed++;
    }
  } finally {
    releasePass(pass);
  }
  return { seen: n, changed };
}

/** Lets go of the pass's locks (and the target page's pin): the pass may take them again. */
function releasePass(p: PagePass): void {
  const pool = p.ctx.pool;
  if (p.target !== undefined) {
    const target = p.target;
    p.target = undefined;
    p.targetPage = undefined;
    p.targetBlock = InvalidBlockNumber;
    p.targetDirty = false;
    pool.unlockReleaseBuffer(target);
  }
  if (p.locked) {
    p.locked = false;
    p.dirty = false;
    pool.unlockBuffer(p.buffer);
  }
}

/** Locks the scanned page exclusively for the pass, if it is not locked yet. */
function lockPage(p: PagePass): void {
  if (p.locked) return;
  p.ctx.pool.lockBuffer(p.buffer, "exclusive");
  p.locked = true;
  p.dirty = false;
}

/** MarkBufferDirty of the scanned page, once per lock. */
function markPageDirty(p: PagePass): void {
  if (p.dirty) return;
  p.ctx.pool.markBufferDirty(p.buffer);
  p.dirty = true;
}

/**
 * HeapTupleHeaderAdjustCmax (heapam.ts's adjustCmax without the result object): the cid to store
 * as cmax, with `p.combo` telling whether it is a combo id.
 */
function cmaxFor(p: PagePass, tup: number): number {
  p.combo = cmaxIsCombo(p.page, tup, p.xact);
  if (!p.combo) return p.cid;
  return p.xact.comboCommandId(tupleCmin(p.page, tup, p.vctx), p.cid);
}

/** heap_update / heap_delete take the xid before anything else. */
function takeXid(p: PagePass): number {
  if (p.xid === 0) p.xid = p.xact.getXid();
  return p.xid;
}

/**
 * HeapTupleSatisfiesUpdate of the tuple at `offset` (byte `tup`) under the exclusive lock, with
 * its hint bits marked as checkModifiable marks them. True when the row may be changed here.
 */
function satisfiesUpdate(p: PagePass, tup: number, offset: number): boolean {
  const page = p.page;
  // t_ctid pointing at the tuple itself (ItemPointerEquals with its own TID), without a TID object.
  const ctidSelf =
    heapTupleHeaderGetCtidOffset(page, tup) === offset && readCtidBlock(page, tup) === p.block;
  const result = heapTupleSatisfiesUpdate(page, tup, p.cid, ctidSelf, p.vctx);
  if (p.vctx.hintsSet) {
    p.ctx.pool.markBufferDirtyHint(p.buffer);
    p.vctx.hintsSet = false;
  }
  return result === TM.Ok;
}

/** The block number of t_ctid (BlockIdData: high then low 16 bits). */
function readCtidBlock(page: Uint8Array, tup: number): number {
  const at = tup + T_CTID_OFFSET;
  return readUint16(page, at) * 0x10000 + readUint16(page, at + 2);
}

/** heap_delete's work for one row on the locked page; false sends the row to the per-row path. */
function deleteRow(p: PagePass, offset: number): boolean {
  lockPage(p);
  const page = p.page;
  const tup = normalTupleAt(page, offset);
  if (tup < 0) return false;
  const xid = takeXid(p);
  if (!satisfiesUpdate(p, tup, offset)) return false;
  const { ctx, rel, xact } = p;
  const cmax = cmaxFor(p, tup);
  pageSetPrunable(page, xid);
  clearAllVisible(ctx, rel, page, p.block);
  setXmaxAt(page, tup, xid, cmax, p.combo, 0, true, p.block, offset, HEAP_HOT_UPDATED);
  markPageDirty(p);
  xact.markCommandUsed();
  ctx.pgstat?.relations.countHeapDelete(rel.def.relNumber, xact);
  return true;
}

/**
 * heap_update's work for one row on the locked page: the new version from the compiled
 * assignments or from `newValues` (the callback's). False sends the row to the per-row path.
 */
function updateRow(
  p: PagePass,
  offset: number,
  compiled: readonly CompiledAssignment[] | undefined,
  newRow: (row: Row) => Row,
  newValues: Row | undefined,
): boolean {
  lockPage(p);
  const { ctx, rel, xact } = p;
  const page = p.page;
  const tup = normalTupleAt(page, offset);
  if (tup < 0) return false;
  const oldLen = itemIdGetLength(pageGetItemId(page, offset));
  const newTuple =
    newValues !== undefined
      ? prepareTuple(rel, newValues, 0, p.cid)
      : compiledTuple(p, tup, oldLen, compiled!, newRow);
  const xid = takeXid(p);
  if (!satisfiesUpdate(p, tup, offset)) return false;

  let hotColumnsChanged = false;
  let keysChanged = false;
  if (rel.hotAttrs.length > 0 || rel.keyAttrs.length > 0) {
    const oldTuple = page.subarray(tup, tup + oldLen);
    hotColumnsChanged = columnsChanged(rel, rel.hotAttrs, oldTuple, newTuple);
    keysChanged = columnsChanged(rel, rel.keyAttrs, oldTuple, newTuple);
  }
  const keysUpdated = keysChanged;
  heapTupleHeaderSetXmin(newTuple, 0, xid);
  heapTupleHeaderSetInfomask(newTuple, 0, heapTupleHeaderGetInfomask(newTuple, 0) | HEAP_UPDATED);

  let newPage = page;
  let newBlock = p.block;
  const samePage = maxAlign(newTuple.length) <= pageGetHeapFreeSpace(page);
  if (!samePage) {
    if (!holdTargetWithRoom(p, newTuple.length)) return false;
    newPage = p.targetPage!;
    newBlock = p.targetBlock;
  }
  const hot = samePage && !hotColumnsChanged;
  if (!samePage) pageSetFull(page);
  pageSetPrunable(page, xid);
  let infomask2New =
    heapTupleHeaderGetInfomask2(newTuple, 0) & ~(HEAP_HOT_UPDATED | HEAP_ONLY_TUPLE);
  if (hot) infomask2New |= HEAP_ONLY_TUPLE;
  heapTupleHeaderSetInfomask2(newTuple, 0, infomask2New);
  const newOffset = relationPutHeapTuple(newPage, newBlock, newTuple);
  const cmax = cmaxFor(p, tup);
  setXmaxAt(page, tup, xid, cmax, p.combo, 0, keysUpdated, newBlock, newOffset);
  const infomask2 = heapTupleHeaderGetInfomask2(page, tup);
  let infomask2Old = infomask2 & ~(HEAP_HOT_UPDATED | HEAP_ONLY_TUPLE);
  if (hot) infomask2Old |= HEAP_HOT_UPDATED;
  infomask2Old |= infomask2 & HEAP_ONLY_TUPLE;
  heapTupleHeaderSetInfomask2(page, tup, infomask2Old);
  clearAllVisible(ctx, rel, page, p.block);
  markPageDirty(p);
  if (!samePage) {
    clearAllVisible(ctx, rel, newPage, newBlock);
    if (!p.targetDirty) {
      ctx.pool.markBufferDirty(p.target!);
      p.targetDirty = true;
    }
  }
  xact.markCommandUsed();
  ctx.pgstat?.relations.countHeapUpdate(rel.def.relNumber, xact, hot);
  return true;
}

/**
 * The page a non-HOT update's new version goes to, as RelationGetBufferForTuple would choose it
 * when its first candidate — the backend's target block — has room: held (pinned, locked
 * exclusively) for the rest of the pass. False when the per-row path must choose (no target
 * block, the target is the scanned page or past the relation's end, new, full, or not lockable
 * without waiting out of block order); nothing the per-row path would do differently has
 * happened then.
 */
function holdTargetWithRoom(p: PagePass, len: number): boolean {
  const { ctx, rel } = p;
  const pool = ctx.pool;
  const need = targetFreeSpace(rel, maxAlign(len));
  if (p.target === undefined) {
    const block = ctx.targetBlocks.get(rel.locator.relNumber);
    if (block === undefined || block === p.block) return false;
    if (!targetBlockExists(ctx, rel, block)) return false;
    const buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, block);
    if (block > p.block) {
      pool.lockBuffer(buffer, "exclusive");
    } else if (!pool.conditionalLockBuffer(buffer)) {
      pool.releaseBuffer(buffer);
      return false;
    }
    p.target = buffer;
    p.targetPage = pool.bufferGetPage(buffer);
    p.targetBlock = block;
    p.targetDirty = false;
    if (pageIsNew(p.targetPage)) {
      releaseTarget(p);
      return false;
    }
  }
  if (need > pageGetHeapFreeSpace(p.targetPage!)) {
    releaseTarget(p);
    return false;
  }
  return true;
}

function releaseTarget(p: PagePass): void {
  const target = p.target;
  if (target === undefined) return;
  p.target = undefined;
  p.targetPage = undefined;
  p.targetBlock = InvalidBlockNumber;
  p.targetDirty = false;
  p.ctx.pool.unlockReleaseBuffer(target);
}

/**
 * The header every compiled new version starts from, and a tuple-sized scratch buffer (the new
 * version is copied onto its page at once), built once per pass.
 */
interface CompiledScratch {
  readonly header: Uint8Array;
  tuple: Uint8Array;
}

function compiledScratch(p: PagePass): CompiledScratch {
  let s = p.compiledScratch;
  if (s === undefined) {
    const hoff = maxAlign(SizeofHeapTupleHeader);
    // heap_form_tuple's header (t_ctid invalid, natts, t_hoff, no NULLs) with
    // heap_prepare_insert's fields: xmin and xmax 0, cmin the command id, XMAX_INVALID.
    const header = new Uint8Array(hoff);
    heapTupleHeaderSetCtid(header, 0, INVALID_TID);
    heapTupleHeaderSetInfomask2(header, 0, p.rel.desc.natts & HEAP_NATTS_MASK);
    heapTupleHeaderSetHoff(header, 0, hoff);
    heapTupleHeaderSetInfomask(header, 0, HEAP_XMAX_INVALID);
    heapTupleHeaderSetXmin(header, 0, 0);
    heapTupleHeaderSetXmax(header, 0, 0);
    heapTupleHeaderSetCmin(header, 0, p.cid);
    s = { header, tuple: new Uint8Array(0) };
    p.compiledScratch = s;
  }
  return s;
}

/**
 * The new version of the tuple at `tup` for compiled assignments, as prepareTuple(newRow(row))
 * would form it. A row of fixed-width columns with no NULLs is copied and patched in place (its
 * unchanged columns' bytes are what heap_fill_tuple writes for their values, padding zero; the
 * header is heap_form_tuple's with heap_prepare_insert's fields); any other row is deformed,
 * changed and formed again.
 */
function compiledTuple(
  p: PagePass,
  tup: number,
  len: number,
  compiled: readonly CompiledAssignment[],
  newRow: (row: Row) => Row,
): Uint8Array {
  const rel = p.rel;
  const desc = rel.desc;
  const page = p.page;
  const offsets = p.fixedOffsets;
  const hoff = maxAlign(SizeofHeapTupleHeader);
  if (
    offsets === null ||
    (heapTupleHeaderGetInfomask(page, tup) & HEAP_HASNULL) !== 0 ||
    (heapTupleHeaderGetInfomask2(page, tup) & HEAP_NATTS_MASK) !== desc.natts ||
    heapTupleHeaderGetHoff(page, tup) !== hoff ||
    len !== hoff + offsets[desc.natts]! ||
    !constantsNotNull(compiled)
  ) {
    const row = toRow(rel, heapDeformTupleAt(desc, page, tup, tup + len));
    return prepareTuple(rel, newRow(row), 0, p.cid);
  }
  const scratch = compiledScratch(p);
  if (scratch.tuple.length !== len) scratch.tuple = new Uint8Array(len);
  const tuple = scratch.tuple;
  const header = scratch.header;
  for (let k = 0; k < hoff; k++) tuple[k] = header[k]!;
  for (let k = hoff; k < len; k++) tuple[k] = page[tup + k]!;
  for (let i = 0; i < compiled.length; i++) {
    const a = compiled[i]!;
    const att = desc.attrs[a.attnum]!;
    const codec = att.codec as FixedLengthCodec<Datum>;
    const at = hoff + offsets[a.attnum]!;
    if (a.kind === "const") {
      codec.write(tuple, at, a.value as Datum);
    } else if (att.attlen === 4) {
      // int4pl on the stored little-endian bytes; out of range goes through the codec, which
      // raises PostgreSQL's "integer out of range".
      const old =
        tuple[at]! | (tuple[at + 1]! << 8) | (tuple[at + 2]! << 16) | (tuple[at + 3]! << 24);
      const sum = old + (a.k as number);
      if (sum < -2147483648 || sum > 2147483647) codec.coerce(sum, att.atttypmod);
      tuple[at] = sum & 0xff;
      tuple[at + 1] = (sum >>> 8) & 0xff;
      tuple[at + 2] = (sum >>> 16) & 0xff;
      tuple[at + 3] = (sum >>> 24) & 0xff;
    } else {
      const old = codec.read(tuple, at) as number | bigint;
      const sum = typeof old === "bigint" ? old + (a.k as bigint) : old + (a.k as number);
      codec.write(tuple, at, codec.coerce(sum, att.atttypmod));
    }
  }
  return tuple;
}

const INVALID_TID = { block: InvalidBlockNumber, offset: InvalidOffsetNumber };

function constantsNotNull(compiled: readonly CompiledAssignment[]): boolean {
  for (let i = 0; i < compiled.length; i++) {
    const a = compiled[i]!;
    if (a.kind === "const" && a.value === null) return false;
  }
  return true;
}
