/**
 * Reading pages during WAL redo: the block a record refers to, brought into the buffer pool and
 * locked, with its full-page image restored when the record carries one, or the verdict that
 * the change is already on the page (page LSN interlock); and the table of references to pages
 * that do not exist, which only a later truncation or drop may explain.
 *
 * Models: src/backend/access/transam/xlogutils.c (XLogReadBufferForRedo,
 * XLogInitBufferForRedo, XLogReadBufferForRedoExtended, XLogReadBufferExtended,
 * log_invalid_page, forget_invalid_pages, forget_invalid_pages_db, XLogCheckInvalidPages,
 * XLogHaveInvalidPages, XLogTruncateRelation, XLogDropRelation, XLogDropDatabase) and
 * src/include/access/xlogutils.h (XLogRedoAction).
 * Entry points: `RedoContext`, `makeRedoContext`, `xlogReadBufferForRedo`,
 * `xlogInitBufferForRedo`, `xlogReadBufferForRedoExtended`, `xlogReadBufferExtended`,
 * `InvalidPageTable`, `RedoBuffer`.
 * See also: xlogreader.ts (DecodedXLogRecord, restoreBlockImage), ../heap/heapam-redo.ts (the
 * heap's redo routines), README-wal.md ("Redo of heap records"), docs/reference/postgres-wal.md
 * §5.1.
 *
 * The rules, for block `blockId` of a record whose end is `lsn` (EndRecPtr):
 * 1. A block flagged WILL_INIT must be read in a zeroing mode and only such a block (else the
 *    redo routine is wrong: `wal-redo-error`, PostgreSQL's PANIC).
 * 2. An image to apply (BKPIMAGE_APPLY): the block is read zeroed and locked (the fork created
 *    and extended with zero pages as needed), the image copied in, the LSN set to `lsn` unless
 *    the page is new, the buffer dirtied → "restored". The redo routine must not change it.
 * 3. Otherwise the block is read (created or extended in the zeroing modes; in "normal" mode a
 *    block past the end of its fork, or an all-zero page, is remembered as an invalid page →
 *    "not-found", no buffer) and locked (exclusively, or with a cleanup lock); `lsn ≤ pd_lsn` →
 *    "done" (the change is already there); else "needs-redo": the routine changes the page,
 *    sets its LSN to `lsn`, marks it dirty.
 * 4. The caller unlocks and releases every buffer it got ("done" and "restored" included).
 *
 * Differs from PostgreSQL: no recent-buffer fast path (XLogRecGetBlockTagExtended's prefetch
 * buffer); the zero-and-cleanup-lock mode takes an exclusive lock after zeroing (no other
 * backend runs during recovery, so nobody else holds a pin); the invalid-page table is a field
 * of the RedoContext, not a process-global hash table, and `ignore_invalid_pages` does not exist.
 */

import {
  type BufferId,
  type BufferPool,
  ForkNumber,
  PgsimError,
  type RelFileLocator,
  relationPath,
} from "@pgsim/buffer-manager";
import { FreeSpaceMap } from "../../storage/freespace/freespace.js";
import { pageGetLsn, pageIsNew, pageSetLsn } from "../../storage/page/bufpage.js";
import { type DecodedBkpBlock, type DecodedXLogRecord, restoreBlockImage } from "./xlogreader.js";

/**
 * What redo routines run with: the buffer pool (the startup process's backend), the free space
 * map they keep up to date, the invalid-page table, and whether hint bits are WAL-logged.
 */
export interface RedoContext {
  readonly pool: BufferPool;
  /** XLogRecordPageWithFreeSpace goes through it. */
  readonly fsm: FreeSpaceMap;
  /** Pages referenced by WAL but missing or uninitialized (log_invalid_page). */
  readonly invalidPages: InvalidPageTable;
  /**
   * XLogHintBitIsNeeded(): data checksums or wal_log_hints. Then the redo of a VISIBLE record
   * sets the heap page's LSN (heap_xlog_visible).
   */
  readonly logHintBits: boolean;
}

/**
 * A RedoContext over `pool`: a FreeSpaceMap on it and an empty invalid-page table.
 *
 * @example
 * ```ts
 * const rctx = makeRedoContext(pool, { logHintBits: dataChecksums });
 * for (let rec = reader.readRecord(); rec !== null; rec = reader.readRecord()) {
 *   if (rec.header.rmid === RM_HEAP_ID) heapRedo(rctx, rec);
 *   else if (rec.header.rmid === RM_HEAP2_ID) heap2Redo(rctx, rec);
 * }
 * rctx.invalidPages.check(); // at the end of recovery (reaching consistency)
 * ```
 */
export function makeRedoContext(
  pool: BufferPool,
  options: { readonly logHintBits?: boolean } = {},
): RedoContext {
  return {
    pool,
    fsm: new FreeSpaceMap(pool),
    invalidPages: new InvalidPageTable(),
    logHintBits: options.logHintBits === true,
  };
}

/**
 * ReadBufferMode as redo uses it: "normal" (the block must exist and be initialized),
 * "zero-and-lock" / "zero-and-cleanup-lock" (the redo routine re-initializes it: read as zeros,
 * extending the fork as needed, and lock), "zero-on-error" (a damaged page reads as zeros;
 * extends too; used for the visibility map).
 */
export type RedoReadMode = "normal" | "zero-and-lock" | "zero-and-cleanup-lock" | "zero-on-error";

/** XLogRedoAction with the buffer it applies to (none when the block was not found). */
export type RedoBuffer =
  | { readonly action: "needs-redo" | "done" | "restored"; readonly buffer: BufferId }
  | { readonly action: "not-found"; readonly buffer: undefined };

/** A redo routine met something PostgreSQL answers with PANIC (the record or page is wrong). */
export function redoError(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("wal-redo-error", message, detail);
}

/** XLogRecGetBlock: block `blockId` of the record, or the PANIC PostgreSQL raises. */
export function xlogRecGetBlock(record: DecodedXLogRecord, blockId: number): DecodedBkpBlock {
  const block = record.blocks.find((b) => b.id === blockId);
  if (block === undefined) {
    throw redoError(`failed to locate backup block with ID ${blockId} in WAL record`, {
      blockId,
    });
  }
  return block;
}

/** XLogRecHasBlockRef: whether the record refers to block `blockId`. */
export function xlogRecHasBlockRef(record: DecodedXLogRecord, blockId: number): boolean {
  return record.blocks.some((b) => b.id === blockId);
}

/**
 * XLogReadBufferForRedo: block `blockId` in "normal" mode, locked exclusively (see the rules in
 * this file's header). The caller releases the buffer unless the action is "not-found".
 */
export function xlogReadBufferForRedo(
  ctx: RedoContext,
  record: DecodedXLogRecord,
  blockId: number,
): RedoBuffer {
  return xlogReadBufferForRedoExtended(ctx, record, blockId, "normal", false);
}

/**
 * XLogInitBufferForRedo: block `blockId`, which the record re-initializes (WILL_INIT), zeroed
 * and locked. The caller initializes the page, sets its LSN, marks it dirty and releases it.
 */
export function xlogInitBufferForRedo(
  ctx: RedoContext,
  record: DecodedXLogRecord,
  blockId: number,
): BufferId {
  const r = xlogReadBufferForRedoExtended(ctx, record, blockId, "zero-and-lock", false);
  if (r.buffer === undefined) throw redoError(`block ${blockId} could not be initialized`);
  return r.buffer;
}

/**
 * XLogReadBufferForRedoExtended: block `blockId` read in `mode`, locked exclusively or (with
 * `getCleanupLock`) with a cleanup lock; its image restored when it has one to apply.
 */
export function xlogReadBufferForRedoExtended(
  ctx: RedoContext,
  record: DecodedXLogRecord,
  blockId: number,
  mode: RedoReadMode,
  getCleanupLock: boolean,
): RedoBuffer {
  const block = xlogRecGetBlock(record, blockId);
  const lsn = record.endLsn;
  const zeroMode = mode === "zero-and-lock" || mode === "zero-and-cleanup-lock";
  if (block.willInit && !zeroMode) {
    throw redoError("block with WILL_INIT flag in WAL record must be zeroed by redo routine", {
      blockId,
    });
  }
  if (!block.willInit && zeroMode) {
    throw redoError(
      "block to be initialized in redo routine must be marked with WILL_INIT flag in the WAL record",
      { blockId },
    );
  }
  const pool = ctx.pool;
  if (block.image?.apply === true) {
    const buffer = xlogReadBufferExtended(
      ctx,
      block.rel,
      block.fork,
      block.block,
      getCleanupLock ? "zero-and-cleanup-lock" : "zero-and-lock",
    );
    // The zeroing modes always return a buffer.
    const page = pool.bufferGetPage(buffer!);
    page.set(restoreBlockImage(block, record.lsn));
    // A new (all-zero) page stays as it is: an LSN would make it look initialized.
    if (!pageIsNew(page)) pageSetLsn(page, lsn);
    pool.markBufferDirty(buffer!);
    // Init forks are copied to the main fork at the end of recovery without the buffer pool.
    if (block.fork === ForkNumber.INIT) pool.flushBuffer(buffer!);
    return { action: "restored", buffer: buffer! };
  }
  const buffer = xlogReadBufferExtended(ctx, block.rel, block.fork, block.block, mode);
  if (buffer === undefined) return { action: "not-found", buffer: undefined };
  if (!zeroMode) {
    if (getCleanupLock) pool.lockBufferForCleanup(buffer);
    else pool.lockBuffer(buffer, "exclusive");
  }
  if (lsn <= pageGetLsn(pool.bufferGetPage(buffer))) return { action: "done", buffer };
  return { action: "needs-redo", buffer };
}

/**
 * XLogReadBufferExtended: block `block` of the fork, pinned (and, in the zeroing modes, locked
 * exclusively). The fork is created if it does not exist (the relation may be dropped later in
 * the WAL; the data is kept until then). A block past the end is an invalid page in "normal"
 * mode (undefined); the other modes extend the fork with zero pages up to it. In "normal" mode an
 * all-zero page is an invalid page too.
 */
export function xlogReadBufferExtended(
  ctx: RedoContext,
  rel: RelFileLocator,
  fork: number,
  block: number,
  mode: RedoReadMode,
): BufferId | undefined {
  const pool = ctx.pool;
  const zeroMode = mode === "zero-and-lock" || mode === "zero-and-cleanup-lock";
  const poolMode = zeroMode ? "zero-and-lock" : mode;
  if (!pool.relationExists(rel, fork)) pool.createRelation(rel, fork);
  const lastBlock = pool.nblocks(rel, fork);
  let buffer: BufferId;
  if (block < lastBlock) {
    buffer = pool.readBuffer(rel, fork, block, { mode: poolMode });
  } else {
    if (mode === "normal") {
      ctx.invalidPages.log(rel, fork, block, false);
      return undefined;
    }
    // Extend with zero pages up to the block; only the last one is kept (and locked).
    let current: BufferId | undefined;
    for (let n = lastBlock; n <= block; n++) {
      if (current !== undefined) pool.releaseBuffer(current);
      current = pool.extend(rel, fork);
    }
    buffer = current!;
    if (pool.bufferGetBlockNumber(buffer) !== block) {
      // Someone else extended the fork meanwhile (never during recovery): read the block.
      pool.releaseBuffer(buffer);
      buffer = pool.readBuffer(rel, fork, block, { mode: poolMode });
    } else if (zeroMode) {
      pool.lockBuffer(buffer, "exclusive");
    }
  }
  if (mode === "normal" && pageIsNew(pool.bufferGetPage(buffer))) {
    pool.releaseBuffer(buffer);
    ctx.invalidPages.log(rel, fork, block, true);
    return undefined;
  }
  return buffer;
}

interface InvalidPage {
  readonly rel: RelFileLocator;
  readonly fork: number;
  readonly block: number;
  /** The page exists but is all zeros (else it is past the end of its fork). */
  readonly present: boolean;
}

/**
 * The invalid-page table (xlogutils.c's invalid_page_tab): blocks the WAL referred to that did
 * not exist or were not initialized when replayed. Legitimate when a later record truncates or
 * drops the relation (`forget`, `forgetDatabase`); any left when recovery reaches consistency
 * mean the WAL and the data files disagree (`check`). After `reachedConsistency()` a new
 * invalid page is reported at once.
 */
export class InvalidPageTable {
  private readonly pages = new Map<string, InvalidPage>();
  private consistent = false;

  private static key(rel: RelFileLocator, fork: number, block: number): string {
    return `${rel.spcOid}/${rel.dbOid}/${rel.relNumber}/${fork}/${block}`;
  }

  /** log_invalid_page. Throws once consistency was reached, as PostgreSQL PANICs then. */
  log(rel: RelFileLocator, fork: number, block: number, present: boolean): void {
    if (this.consistent) {
      throw redoError(
        `${describeInvalidPage({ rel, fork, block, present })}; WAL contains references to invalid pages`,
        { rel, fork, block },
      );
    }
    const key = InvalidPageTable.key(rel, fork, block);
    // A page first seen missing keeps that status (PostgreSQL keeps the first entry).
    if (!this.pages.has(key)) this.pages.set(key, { rel, fork, block, present });
  }

  /** forget_invalid_pages (XLogTruncateRelation, XLogDropRelation): blocks ≥ `minBlock` of the fork. */
  forget(rel: RelFileLocator, fork: number, minBlock = 0): void {
    for (const [key, p] of this.pages) {
      if (
        p.rel.spcOid === rel.spcOid &&
        p.rel.dbOid === rel.dbOid &&
        p.rel.relNumber === rel.relNumber &&
        p.fork === fork &&
        p.block >= minBlock
      ) {
        this.pages.delete(key);
      }
    }
  }

  /** forget_invalid_pages_db (XLogDropDatabase). */
  forgetDatabase(dbOid: number): void {
    for (const [key, p] of this.pages) if (p.rel.dbOid === dbOid) this.pages.delete(key);
  }

  /** XLogHaveInvalidPages. */
  get size(): number {
    return this.pages.size;
  }

  /**
   * XLogCheckInvalidPages, at the point recovery reaches consistency: throws `wal-redo-error`
   * ("WAL contains references to invalid pages", after the first page's description) if any
   * remain; from then on `log` throws at once.
   */
  reachedConsistency(): void {
    this.check();
    this.consistent = true;
  }

  /** Throws if the table holds any page (see `reachedConsistency`). */
  check(): void {
    const first = this.pages.values().next();
    if (first.done === true) return;
    throw redoError(
      `${describeInvalidPage(first.value)}; WAL contains references to invalid pages`,
      { count: this.pages.size },
    );
  }
}

/** report_invalid_page's text. */
function describeInvalidPage(p: InvalidPage): string {
  const path = relationPath(p.rel, p.fork);
  return p.present
    ? `page ${p.block} of relation ${path} is uninitialized`
    : `page ${p.block} of relation ${path} does not exist`;
}
