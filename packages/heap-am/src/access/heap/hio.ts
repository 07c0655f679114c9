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
  MaxHeapTupleSize,
  MaxHeapTuplesPerPage,
  maxAlign,
  T_CTID_OFFSET,
} from "../../include/access/htup-details.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import {
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetHeapFreeSpace,
  pageInit,
  pageIsNew,
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
  return Math.floor((8192 * (100 - rel.fillfactor)) / 100);
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
 * RelationGetBufferForTuple: a pinned, exclusively locked page with at least `len` bytes free
 * (plus the fillfactor reserve for inserts). With `otherBuffer` (pinned, not locked), it is
 * locked too, in block order; the returned buffer may be `otherBuffer` itself.
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
  const saveFree = saveFreeSpace(rel);
  // A nearly empty page: don't let the fillfactor reserve push a tuple onto a page of its own.
  const nearlyEmpty = MaxHeapTupleSize - Math.floor(MaxHeapTuplesPerPage / 8) * 4;
  const target =
    aligned + saveFree > nearlyEmpty ? Math.max(aligned, nearlyEmpty) : aligned + saveFree;
  const otherBlock =
    otherBuffer !== undefined ? pool.bufferGetBlockNumber(otherBuffer) : InvalidBlockNumber;

  let block =
    bistate?.buffer !== undefined
      ? bistate.block
      : (ctx.targetBlocks.get(rel.locator.relNumber) ?? InvalidBlockNumber);
  // smgr_targblock is a per-backend hint. PostgreSQL resets it when another backend truncates
  // the relation (shared invalidation); pgsim checks it against the relation's size instead, once
  // per statement that scans the relation: while this backend's statement writes the relation,
  // no other backend may truncate it (see vacuumlazy.ts), so a block found once stays there.
  const scanPin = ctx.scanPin;
  const statementPin = scanPin?.relNumber === rel.locator.relNumber ? scanPin : undefined;
  if (
    block !== InvalidBlockNumber &&
    bistate?.buffer === undefined &&
    statementPin?.verifiedTarget !== block
  ) {
    if (block >= pool.nblocks(rel.locator, ForkNumber.MAIN)) block = InvalidBlockNumber;
    else if (statementPin !== undefined) statementPin.verifiedTarget = block;
  }
  if (block === InvalidBlockNumber) block = ctx.fsm.getPageWithFreeSpace(rel.locator, target);
  if (block === InvalidBlockNumber) {
    const n = pool.nblocks(rel.locator, ForkNumber.MAIN);
    if (n > 0) block = n - 1;
  }
  for (let tries = 0; block !== InvalidBlockNumber; tries++) {
    if (tries > 1_000_000) throw new AssertionError("RelationGetBufferForTuple did not converge");
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
  // No existing page has room: add one.
  const buffer = pool.extend(rel.locator, ForkNumber.MAIN, {
    ...(bistate?.strategy ? { strategy: bistate.strategy } : {}),
  });
  const newBlock = pool.bufferGetBlockNumber(buffer);
  // The new block is past otherBlock, so block order means the old page is locked first.
  if (otherBuffer !== undefined) pool.lockBuffer(otherBuffer, "exclusive");
  pool.lockBuffer(buffer, "exclusive");
  const page = pool.bufferGetPage(buffer);
  if (!pageIsNew(page)) {
    throw new AssertionError(
      `page ${newBlock} of relation "${rel.name}" should be empty but is not`,
    );
  }
  pageInit(page, 0);
  pool.markBufferDirty(buffer);
  rememberExtended(buffer, newBlock, bistate, ctx);
  if (statementPin !== undefined) statementPin.verifiedTarget = newBlock;
  // Not recorded in the FSM: VACUUM records new pages later, as in PostgreSQL.
  ctx.targetBlocks.set(rel.locator.relNumber, newBlock);
  return buffer;
}

/**
 * RelationPutHeapTuple: adds the tuple to the locked page and stamps its t_ctid with its own TID.
 * Returns the offset number. The page must have room (the caller checked).
 */
export function relationPutHeapTuple(page: Uint8Array, block: number, tuple: Uint8Array): number {
  const offset = pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP);
  if (offset === InvalidOffsetNumber) throw new AssertionError("failed to add tuple to page");
  // t_ctid = (block, offset): the block as two 16-bit halves, high half first.
  const ctid = pageItemStart(page, offset) + T_CTID_OFFSET;
  writeUint16(page, ctid, Math.floor(block / 0x10000));
  writeUint16(page, ctid + 2, block & 0xffff);
  writeUint16(page, ctid + 4, offset);
  return offset;
}

/** The byte offset of item `offset`'s tuple on the page (lp_off). */
export function pageItemStart(page: Uint8Array, offset: number): number {
  const at = 24 + (offset - 1) * 4;
  const word = page[at]! | (page[at + 1]! << 8) | (page[at + 2]! << 16) | (page[at + 3]! << 24);
  return word & 0x7fff;
}
