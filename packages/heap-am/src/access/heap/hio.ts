/**
 * Finding a heap page with room for a new tuple: the backend's target block, the free space map,
 * the last page, or a new page at the end.
 *
 * Models: src/backend/access/heap/hio.c (RelationGetBufferForTuple, RelationPutHeapTuple,
 * ReadBufferBI) and heapam.c's BulkInsertState (GetBulkInsertState, FreeBulkInsertState).
 * Entry points: `relationGetBufferForTuple`, `relationPutHeapTuple`, `BulkInsertState`.
 * See also: heapam.ts (insert and update), freespace.ts.
 *
 * Returns the chosen buffer pinned and exclusively locked. With `otherBuffer` (an update that
 * moves its tuple to another page), both buffers are locked in block-number order, so two
 * updates can never deadlock on each other's pages.
 *
 * Differs from PostgreSQL: no RelationAddExtraBlocks (one block per extension; PostgreSQL adds up
 * to 512 when many backends wait for the extension lock) and the extension lock is the buffer
 * manager's, taken inside `extend`. The target block hint (smgr_targblock) is not reset by
 * shared invalidation when another backend truncates the relation; it is checked against the
 * relation's size instead, once per scanning statement (see relationGetBufferForTuple).
 */

import {
  type BufferId,
  ForkNumber,
  getAccessStrategy,
  InvalidBlockNumber,
} from "@pgsim/buffer-manager";
import { AssertionError, type BufferAccessStrategy, PgsimError } from "@pgsim/clock-sweep";
import {
  InvalidOffsetNumber,
  itemPointerSet,
  MaxHeapTupleSize,
  MaxHeapTuplesPerPage,
  maxAlign,
  T_CTID_OFFSET,
} from "../../include/access/htup-details.js";
import { BLCKSZ } from "../../include/pg-config.js";
import {
  itemIdGetOffset,
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageInit,
  pageIsNew,
  SizeOfItemIdData,
} from "../../storage/page/bufpage.js";
import type { Relation } from "../../utils/cache/rel.js";
import type { BulkInsertStateData, TableAmContext } from "../table/tableam.js";

/** HEAP_DEFAULT_FILLFACTOR. */
export const HEAP_DEFAULT_FILLFACTOR = 100;
/** HEAP_MIN_FILLFACTOR. */
export const HEAP_MIN_FILLFACTOR = 10;

/**
 * BulkInsertState: a BULKWRITE ring, and the current target page kept pinned between inserts so
 * that a bulk load does not look it up again for every tuple. Callers see it as the table AM
 * interface's opaque BulkInsertStateData.
 */
export class BulkInsertState implements BulkInsertStateData {
  readonly strategy: BufferAccessStrategy | undefined;
  /** The pinned current page, or undefined. */
  buffer: BufferId | undefined;
  block = InvalidBlockNumber;

  constructor(bufferCount: number) {
    this.strategy = getAccessStrategy("bulkwrite", bufferCount);
  }

  /** FreeBulkInsertState: drops the kept pin. */
  release(ctx: TableAmContext): void {
    if (this.buffer !== undefined) ctx.pool.releaseBuffer(this.buffer);
    this.buffer = undefined;
    this.block = InvalidBlockNumber;
  }
}

/** RelationGetTargetPageFreeSpace: bytes each insert leaves free for later updates. */
export function saveFreeSpace(rel: Relation): number {
  return Math.floor((BLCKSZ * (100 - rel.fillfactor)) / 100);
}

/** ReadBufferBI: a page through the bulk-insert state, reusing its pin when it is that page. */
function readBufferBI(
  ctx: TableAmContext,
  rel: Relation,
  block: number,
  bistate?: BulkInsertState,
): BufferId {
  if (bistate === undefined) return ctx.pool.readBuffer(rel.locator, ForkNumber.MAIN, block);
  if (bistate.buffer !== undefined) {
    if (bistate.block === block) {
      ctx.pool.incrBufferRefCount(bistate.buffer);
      return bistate.buffer;
    }
    ctx.pool.releaseBuffer(bistate.buffer);
    bistate.buffer = undefined;
  }
  const buffer = ctx.pool.readBuffer(rel.locator, ForkNumber.MAIN, block, {
    ...(bistate.strategy ? { strategy: bistate.strategy } : {}),
  });
  ctx.pool.incrBufferRefCount(buffer);
  bistate.buffer = buffer;
  bistate.block = block;
  return buffer;
}

function rememberExtended(
  buffer: BufferId,
  block: number,
  bistate?: BulkInsertState,
  ctx?: TableAmContext,
): void {
  if (bistate === undefined || ctx === undefined) return;
  if (bistate.buffer !== undefined) ctx.pool.releaseBuffer(bistate.buffer);
  ctx.pool.incrBufferRefCount(buffer);
  bistate.buffer = buffer;
  bistate.block = block;
}

/**
 * Whether the backend's target block (smgr_targblock) is still inside the relation. It is a
 * per-backend hint, which PostgreSQL resets when another backend truncates the relation (shared
 * invalidation); pgsim checks it against the relation's size instead, once per statement that
 * scans the relation (the scan pin's `verifiedTarget`): while this backend's statement writes
 * the relation, no other backend may truncate it (see vacuumlazy.ts), so a block found once stays
 * there.
 */
export function targetBlockExists(ctx: TableAmContext, rel: Relation, block: number): boolean {
  const scanPin = ctx.scanPin;
  const statementPin = scanPin?.relNumber === rel.locator.relNumber ? scanPin : undefined;
  if (statementPin?.verifiedTarget === block) return true;
  if (block >= ctx.pool.nblocks(rel.locator, ForkNumber.MAIN)) return false;
  if (statementPin !== undefined) statementPin.verifiedTarget = block;
  return true;
}

/**
 * RelationGetBufferForTuple: a pinned, exclusively locked page with at least `len` bytes free
 * (plus the fillfactor reserve for inserts). With `otherBuffer` (pinned, not locked), it is
 * locked too, in block order; the returned buffer may be `otherBuffer` itself.
 *
 * The steps, as in hio.c:
 *   1. How much room to ask for (`targetFreeSpace`).
 *   2. Which page to try first: the bulk-insert state's page, else the backend's target block
 *      (smgr_targblock), else the FSM's answer or the last page (`fsmTargetBlock`).
 *   3. Lock it (with `otherBuffer`, in block order) and check its free space; when it is full
 *      after all, correct its FSM entry and try the FSM's next candidate (`lockPageWithRoom`).
 *   4. When no existing page has room, extend the relation by a page (`relationAddBlock`).
 */
export function relationGetBufferForTuple(
  ctx: TableAmContext,
  rel: Relation,
  len: number,
  otherBuffer?: BufferId,
  bistate?: BulkInsertState,
): BufferId {
  const pool = ctx.pool;
  const aligned = maxAlign(len);
  if (aligned > MaxHeapTupleSize) {
    throw new PgsimError(
      "row-too-big",
      `row is too big: size ${aligned}, maximum size ${MaxHeapTupleSize}`,
      { size: aligned, maximum: MaxHeapTupleSize },
    );
  }
  const target = targetFreeSpace(rel, aligned);
  const otherBlock =
    otherBuffer !== undefined ? pool.bufferGetBlockNumber(otherBuffer) : InvalidBlockNumber;

  let block =
    bistate?.buffer !== undefined
      ? bistate.block
      : (ctx.targetBlocks.get(rel.locator.relNumber) ?? InvalidBlockNumber);
  if (
    block !== InvalidBlockNumber &&
    bistate?.buffer === undefined &&
    !targetBlockExists(ctx, rel, block)
  ) {
    block = InvalidBlockNumber;
  }
  if (block === InvalidBlockNumber) block = fsmTargetBlock(ctx, rel, target);
  // hio.c's `loop:` label: existing pages first, then a new one. Only an update can come round
  // again, when another backend filled the new page while it was unlocked (see relationAddBlock).
  for (let attempt = 0; ; attempt++) {
    if (attempt > 1000) throw new AssertionError("RelationGetBufferForTuple did not converge");
    const buffer = lockPageWithRoom(ctx, rel, block, target, otherBuffer, otherBlock, bistate);
    if (buffer !== undefined) return buffer;
    // No existing page has room: add one.
    const added = relationAddBlock(ctx, rel, aligned, otherBuffer, bistate);
    if (added.buffer === undefined) {
      block = added.block;
      continue;
    }
    // The new block is the target now, and exists (no size check for it this statement).
    const scanPin = ctx.scanPin;
    if (scanPin?.relNumber === rel.locator.relNumber) scanPin.verifiedTarget = added.block;
    // Not recorded in the FSM: VACUUM records new pages later, as in PostgreSQL.
    ctx.targetBlocks.set(rel.locator.relNumber, added.block);
    return added.buffer;
  }
}

/**
 * targetFreeSpace of RelationGetBufferForTuple: the tuple's aligned length plus the fillfactor
 * reserve, except that a nearly empty page must always be good enough, so that the reserve never
 * pushes a tuple onto a page of its own.
 */
export function targetFreeSpace(rel: Relation, aligned: number): number {
  const saveFree = saveFreeSpace(rel);
  // nearlyEmptyFreeSpace: an empty page less the line pointers of an eighth of a full page.
  const nearlyEmpty = MaxHeapTupleSize - Math.floor(MaxHeapTuplesPerPage / 8) * SizeOfItemIdData;
  return aligned + saveFree > nearlyEmpty ? Math.max(aligned, nearlyEmpty) : aligned + saveFree;
}

/**
 * The first page to try when the backend has no target block: GetPageWithFreeSpace, and when the
 * FSM knows no page with room, the relation's last page ("this avoids one-tuple-per-page syndrome
 * during bootstrapping or in a recently-started system"). InvalidBlockNumber for an empty relation.
 */
function fsmTargetBlock(ctx: TableAmContext, rel: Relation, target: number): number {
  const block = ctx.fsm.getPageWithFreeSpace(rel.locator, target);
  if (block !== InvalidBlockNumber) return block;
  const n = ctx.pool.nblocks(rel.locator, ForkNumber.MAIN);
  return n > 0 ? n - 1 : InvalidBlockNumber;
}

/**
 * The loop of RelationGetBufferForTuple over existing pages: locks `block` (and `otherBuffer`, in
 * block order), initialises it if new, and returns it when it has `target` bytes free, making it
 * the backend's target block. A page that is full after all is let go, its FSM entry corrected,
 * and the FSM's next candidate tried (RecordAndGetPageWithFreeSpace). Returns undefined when the
 * FSM runs out of candidates; nothing is locked then.
 */
function lockPageWithRoom(
  ctx: TableAmContext,
  rel: Relation,
  firstBlock: number,
  target: number,
  otherBuffer: BufferId | undefined,
  otherBlock: number,
  bistate: BulkInsertState | undefined,
): BufferId | undefined {
  const pool = ctx.pool;
  let block = firstBlock;
  for (let tries = 0; block !== InvalidBlockNumber; tries++) {
    if (tries > 1_000_000) throw new AssertionError("RelationGetBufferForTuple did not converge");
    const buffer = readAndLockInBlockOrder(ctx, rel, block, otherBuffer, otherBlock, bistate);
    const page = pool.bufferGetPage(buffer);
    if (pageIsNew(page)) {
      pageInit(page, 0);
      pool.markBufferDirty(buffer);
    }
    const free = pageGetHeapFreeSpace(page);
    if (target <= free) {
      if (ctx.targetBlocks.get(rel.locator.relNumber) !== block) {
        ctx.targetBlocks.set(rel.locator.relNumber, block);
      }
      return buffer;
    }
    // Not enough room after all: let go and ask the FSM, correcting its entry for this page.
    pool.unlockBuffer(buffer);
    if (otherBuffer !== undefined && buffer !== otherBuffer) pool.unlockBuffer(otherBuffer);
    if (buffer !== otherBuffer) pool.releaseBuffer(buffer);
    block = ctx.fsm.recordAndGetPageWithFreeSpace(rel.locator, block, free, target);
  }
  return undefined;
}

/**
 * Reads `block` and locks it exclusively; with `otherBuffer` (pinned, not locked) locks that too,
 * the lower block number first, so that two updates never wait for each other's pages. Returns
 * the buffer of `block`, which is `otherBuffer` itself when the blocks are the same.
 */
function readAndLockInBlockOrder(
  ctx: TableAmContext,
  rel: Relation,
  block: number,
  otherBuffer: BufferId | undefined,
  otherBlock: number,
  bistate: BulkInsertState | undefined,
): BufferId {
  const pool = ctx.pool;
  let buffer: BufferId;
  if (otherBuffer === undefined) {
    buffer = readBufferBI(ctx, rel, block, bistate);
    pool.lockBuffer(buffer, "exclusive");
  } else if (block === otherBlock) {
    buffer = otherBuffer;
    pool.lockBuffer(buffer, "exclusive");
  } else if (otherBlock < block) {
    buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, block);
    pool.lockBuffer(otherBuffer, "exclusive");
    pool.lockBuffer(buffer, "exclusive");
  } else {
    buffer = pool.readBuffer(rel.locator, ForkNumber.MAIN, block);
    pool.lockBuffer(buffer, "exclusive");
    pool.lockBuffer(otherBuffer, "exclusive");
  }
  return buffer;
}

/**
 * The extension step of RelationGetBufferForTuple (PostgreSQL 16 names it RelationAddBlocks):
 * appends one page, initialises it and keeps it in the bulk-insert state. Returns the new page
 * pinned and exclusively locked (with `otherBuffer` locked too), or, for an update whose new page
 * another backend filled while it was unlocked, no buffer and the new block to start over from.
 *
 * The steps, as in hio.c:
 *   1. ReadBufferBI(P_NEW, RBM_ZERO_AND_LOCK): the extension lock is held only inside `extend`,
 *      and the new page is locked before it is released. No other backend can reach the page
 *      before that (the relation's last block is where a backend without a target block tries
 *      first), so it must still be new: "should be empty but is not" otherwise.
 *   2. PageInit and MarkBufferDirty while it is locked.
 *   3. With `otherBuffer` (the update's old page, a lower block): lock it conditionally, and when
 *      that fails, let go of the new page and lock both in block order, as the deadlock rules
 *      want; then, because the new page was unlocked for a while, check its room again and
 *      start over if someone used it.
 */
function relationAddBlock(
  ctx: TableAmContext,
  rel: Relation,
  len: number,
  otherBuffer: BufferId | undefined,
  bistate: BulkInsertState | undefined,
): { buffer: BufferId | undefined; block: number } {
  const pool = ctx.pool;
  const buffer = pool.extend(rel.locator, ForkNumber.MAIN, {
    mode: "zero-and-lock",
    ...(bistate?.strategy ? { strategy: bistate.strategy } : {}),
  });
  const newBlock = pool.bufferGetBlockNumber(buffer);
  rememberExtended(buffer, newBlock, bistate, ctx);
  const page = pool.bufferGetPage(buffer);
  if (!pageIsNew(page)) {
    throw new AssertionError(
      `page ${newBlock} of relation "${rel.name}" should be empty but is not`,
    );
  }
  pageInit(page, 0);
  pool.markBufferDirty(buffer);
  if (otherBuffer === undefined) {
    // We should not get here given the test at the top.
    if (len > pageGetHeapFreeSpace(page)) {
      throw new AssertionError(`tuple is too big: size ${len}`);
    }
    return { buffer, block: newBlock };
  }
  // The new block is past the other one, so block order means the old page is locked first.
  if (!pool.conditionalLockBuffer(otherBuffer)) {
    pool.unlockBuffer(buffer);
    pool.lockBuffer(otherBuffer, "exclusive");
    pool.lockBuffer(buffer, "exclusive");
  }
  if (len > pageGetHeapFreeSpace(page)) {
    pool.unlockBuffer(otherBuffer);
    pool.unlockReleaseBuffer(buffer);
    return { buffer: undefined, block: newBlock };
  }
  return { buffer, block: newBlock };
}

/**
 * RelationPutHeapTuple: adds the tuple to the locked page and stamps its t_ctid with its own TID.
 * Returns the offset number. The page must have room (the caller checked).
 */
export function relationPutHeapTuple(page: Uint8Array, block: number, tuple: Uint8Array): number {
  const offset = pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP);
  if (offset === InvalidOffsetNumber) throw new AssertionError("failed to add tuple to page");
  // ItemPointerSet(&item->t_ctid, BufferGetBlockNumber(buffer), offnum).
  itemPointerSet(page, pageItemStart(page, offset) + T_CTID_OFFSET, block, offset);
  return offset;
}

/**
 * The byte offset of item `offset`'s tuple on the page: ItemIdGetOffset(PageGetItemId(page,
 * offset)), the address PageGetItem would return, without making a view.
 */
export function pageItemStart(page: Uint8Array, offset: number): number {
  return itemIdGetOffset(pageGetItemId(page, offset));
}
