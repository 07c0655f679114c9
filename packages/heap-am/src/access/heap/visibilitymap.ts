/**
 * The visibility map fork: two bits per heap page, all-visible and all-frozen.
 *
 * Models: src/backend/access/heap/visibilitymap.c (visibilitymap_get_status, visibilitymap_pin,
 * visibilitymap_set, visibilitymap_clear, visibilitymap_prepare_truncate, visibilitymap_count).
 * Entry points: `VisibilityMap` (`getStatus`, `pin`, `set`, `clear`, `truncate`, `count`).
 * See also: visibilitymap-page.ts (bits within a page), fork-pages.ts, vacuumlazy.ts (sets
 * bits), heapam.ts (clears them).
 *
 * Locking: bits are read and changed under the VM buffer's content lock. A heap operation that
 * clears bits holds its heap page's exclusive lock while it does (heap page, then VM page: the
 * one lock order used everywhere).
 *
 * WAL: setting bits of a permanent relation is logged (XLOG_HEAP2_VISIBLE, with the VM page and
 * the heap page) under the VM page's lock, and the VM page's LSN is set — the heap page's too
 * when hint bits are WAL-logged (data checksums or wal_log_hints). Clearing bits is never logged:
 * the heap record that clears them says so, and its redo clears them again.
 *
 * Differs from PostgreSQL: heap operations do not pin the VM page before locking the heap page
 * (the VM page is read while the heap page is locked, which PostgreSQL avoids to keep I/O out of
 * content locks); `pin` creates the page (VACUUM calls it for every page it scans, so the
 * fork exists afterwards exactly when PostgreSQL's does) and only a handle made with `keepPin`
 * (VACUUM's) keeps the page pinned between calls.
 */

import {
  type BufferId,
  type BufferPool,
  ForkNumber,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import { forgetForkSize, readForkPage } from "../../storage/buffer/fork-pages.js";
import { PAGE_CONTENTS_OFFSET, pageSetLsn } from "../../storage/page/bufpage.js";
import type { XLogBackend } from "../table/tableam.js";
import { logHeapVisible } from "./heapam-xlog.js";
import {
  HEAPBLOCKS_PER_BYTE,
  HEAPBLOCKS_PER_PAGE,
  vmClearBits,
  vmCountPage,
  vmGetStatus,
  vmHeapBlockToMapBlock,
  vmSetBits,
} from "./visibilitymap-page.js";

/** How visibilitymap_set logs the bits it sets (when the relation needs WAL). */
export interface VisibilityMapSetWal {
  readonly xlog: XLogBackend;
  /** The heap page whose bits are set (locked by the caller). */
  readonly heapPage: Uint8Array;
  /** cutoff_xid: the newest xmin on the heap page, InvalidTransactionId for ALL_FROZEN alone. */
  readonly cutoffXid: number;
}

/** Options of a VisibilityMap handle. */
export interface VisibilityMapOptions {
  /**
   * Keep the last map page pinned between calls, as the `vmbuffer` a PostgreSQL caller passes to
   * visibilitymap_pin / _get_status / _set does (VACUUM keeps one for the whole scan: one map
   * page covers 32,672 heap pages). The owner must call `releasePin()` when done; `truncate`
   * lets go of it first.
   */
  readonly keepPin?: boolean;
}

export class VisibilityMap {
  private readonly pool: BufferPool;
  private readonly keepPin: boolean;
  /** The map page kept pinned (keepPin): its buffer, relation and map block. */
  private held: { buf: BufferId; rel: RelFileLocator; mapBlock: number } | undefined;

  constructor(pool: BufferPool, options: VisibilityMapOptions = {}) {
    this.pool = pool;
    this.keepPin = options.keepPin === true;
  }

  /**
   * The map page `mapBlock` pinned (creating it with `create`), or undefined when there is none.
   * With keepPin the pin is the handle's (reused while the same page is asked for, the previous
   * one released when another is); give it back with `unpin`.
   */
  private pinPage(rel: RelFileLocator, mapBlock: number, create: boolean): BufferId | undefined {
    const held = this.held;
    if (held !== undefined) {
      if (
        held.mapBlock === mapBlock &&
        held.rel.relNumber === rel.relNumber &&
        held.rel.dbOid === rel.dbOid &&
        held.rel.spcOid === rel.spcOid
      ) {
        return held.buf;
      }
      this.releasePin();
    }
    const buf = readForkPage(this.pool, rel, ForkNumber.VISIBILITYMAP, mapBlock, create);
    if (buf !== undefined && this.keepPin) this.held = { buf, rel, mapBlock };
    return buf;
  }

  /** Gives back a pin from `pinPage`: a kept pin stays. */
  private unpin(buf: BufferId): void {
    if (!this.keepPin) this.pool.releaseBuffer(buf);
  }

  /** Releases the map page kept pinned (keepPin), if any (ReleaseBuffer(vmbuffer)). */
  releasePin(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    this.pool.releaseBuffer(held.buf);
  }

  /**
   * visibilitymap_get_status: the block's bits, 0 when the map has no page for it. As in
   * PostgreSQL, the page is read without a content lock: the two bits are within one byte, which
   * is read whole, and a caller that needs them exact holds the heap page's lock.
   */
  getStatus(rel: RelFileLocator, heapBlock: number): number {
    const buf = this.pinPage(rel, vmHeapBlockToMapBlock(heapBlock), false);
    if (buf === undefined) return 0;
    const bits = vmGetStatus(this.pool.bufferGetPage(buf), heapBlock);
    this.unpin(buf);
    return bits;
  }

  /**
   * visibilitymap_pin: makes sure the map page covering `heapBlock` exists, extending the fork
   * (creating it if need be) as PostgreSQL does before VACUUM looks at a heap page. With keepPin
   * the page stays pinned for the calls that follow; otherwise each get/set/clear reads it again.
   */
  pin(rel: RelFileLocator, heapBlock: number): void {
    const buf = this.pinPage(rel, vmHeapBlockToMapBlock(heapBlock), true);
    // Undefined only when a memory-only pool has no buffer left (see readForkPage).
    if (buf !== undefined) this.unpin(buf);
  }

  /**
   * Changes a heap block's bits under the VM page's exclusive lock; `change` says whether it did.
   * Returns false when there is no page (not created, or no room in a full memory-only pool).
   */
  private changeBits(
    rel: RelFileLocator,
    heapBlock: number,
    create: boolean,
    change: (page: Uint8Array) => boolean,
  ): boolean {
    const mapBlock = vmHeapBlockToMapBlock(heapBlock);
    const buf = this.pinPage(rel, mapBlock, create);
    if (buf === undefined) return false;
    this.pool.lockBuffer(buf, "exclusive");
    try {
      const changed = change(this.pool.bufferGetPage(buf));
      if (changed) this.pool.markBufferDirty(buf);
      return changed;
    } finally {
      this.pool.unlockBuffer(buf);
      this.unpin(buf);
    }
  }

  /**
   * visibilitymap_set: ORs `flags` into the block's bits (creating the page). As in PostgreSQL,
   * the page is changed (and dirtied, and the change logged) when `flags` differ from the bits
   * already there. With `wal` (the relation needs WAL), the change is logged as
   * XLOG_HEAP2_VISIBLE and the VM page's LSN set — the heap page's too when
   * `wal.xlog.logHintBits`. Returns whether the bits changed. (Redo sets bits itself:
   * heapam-redo.ts.)
   */
  set(rel: RelFileLocator, heapBlock: number, flags: number, wal?: VisibilityMapSetWal): boolean {
    const mapBlock = vmHeapBlockToMapBlock(heapBlock);
    const buf = this.pinPage(rel, mapBlock, true);
    if (buf === undefined) return false;
    const pool = this.pool;
    pool.lockBuffer(buf, "exclusive");
    try {
      return this.setLocked(buf, rel, heapBlock, mapBlock, flags, wal);
    } finally {
      pool.unlockBuffer(buf);
      this.unpin(buf);
    }
  }

  /** visibilitymap_set's work under the map page's exclusive lock. */
  private setLocked(
    buf: BufferId,
    rel: RelFileLocator,
    heapBlock: number,
    mapBlock: number,
    flags: number,
    wal: VisibilityMapSetWal | undefined,
  ): boolean {
    const pool = this.pool;
    const page = pool.bufferGetPage(buf);
    let changed = false;
    if (flags !== vmGetStatus(page, heapBlock)) {
      changed = vmSetBits(page, heapBlock, flags);
      pool.markBufferDirty(buf);
      if (wal !== undefined) {
        const hintBitsLogged = wal.xlog.logHintBits === true;
        const result = logHeapVisible(wal.xlog.ins, wal.xlog.wal, {
          rel,
          heapBlock,
          heapPage: wal.heapPage,
          vmBlock: mapBlock,
          vmPage: page,
          cutoffXid: wal.cutoffXid,
          flags,
          hintBitsLogged,
        });
        // Without checksums the heap page got no image: setting its LSN would be wrong.
        if (hintBitsLogged) pageSetLsn(wal.heapPage, result.endLsn);
        pageSetLsn(page, result.endLsn);
      }
    }
    return changed;
  }

  /** visibilitymap_clear: clears `flags` from the block's bits. Returns whether any was set. */
  clear(rel: RelFileLocator, heapBlock: number, flags: number): boolean {
    return this.changeBits(rel, heapBlock, false, (page) => vmClearBits(page, heapBlock, flags));
  }

  /**
   * visibilitymap_prepare_truncate + the fork truncation: forget the bits of heap blocks at or
   * past `nheapblocks`.
   */
  truncate(rel: RelFileLocator, nheapblocks: number): void {
    const pool = this.pool;
    this.releasePin();
    if (!pool.relationExists(rel, ForkNumber.VISIBILITYMAP)) return;
    const mapBlock = Math.floor(nheapblocks / HEAPBLOCKS_PER_PAGE);
    const within = nheapblocks % HEAPBLOCKS_PER_PAGE;
    let newBlocks = mapBlock;
    if (within !== 0) {
      // Clear the tail of the last page kept.
      const buf = readForkPage(pool, rel, ForkNumber.VISIBILITYMAP, mapBlock, false);
      if (buf !== undefined) {
        pool.lockBuffer(buf, "exclusive");
        const page = pool.bufferGetPage(buf);
        const firstByte = PAGE_CONTENTS_OFFSET + Math.floor(within / HEAPBLOCKS_PER_BYTE);
        const bitsInByte = (within % HEAPBLOCKS_PER_BYTE) * 2;
        page[firstByte] = page[firstByte]! & ((1 << bitsInByte) - 1);
        page.fill(0, firstByte + 1);
        pool.markBufferDirty(buf);
        pool.unlockReleaseBuffer(buf);
      }
      newBlocks = mapBlock + 1;
    }
    if (pool.nblocks(rel, ForkNumber.VISIBILITYMAP) > newBlocks) {
      pool.truncateRelation(rel, ForkNumber.VISIBILITYMAP, newBlocks);
      forgetForkSize(pool, rel, ForkNumber.VISIBILITYMAP);
    }
  }

  /** visibilitymap_count: how many heap pages are all-visible and all-frozen. */
  count(rel: RelFileLocator): { allVisible: number; allFrozen: number } {
    const pool = this.pool;
    let allVisible = 0;
    let allFrozen = 0;
    if (!pool.relationExists(rel, ForkNumber.VISIBILITYMAP)) return { allVisible, allFrozen };
    const n = pool.nblocks(rel, ForkNumber.VISIBILITYMAP);
    for (let b = 0; b < n; b++) {
      const buf = readForkPage(pool, rel, ForkNumber.VISIBILITYMAP, b, false)!;
      pool.lockBuffer(buf, "share");
      const c = vmCountPage(pool.bufferGetPage(buf));
      pool.unlockReleaseBuffer(buf);
      allVisible += c.allVisible;
      allFrozen += c.allFrozen;
    }
    return { allVisible, allFrozen };
  }
}
