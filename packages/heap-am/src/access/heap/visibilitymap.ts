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
 * Differs from PostgreSQL: heap operations do not pin the VM page before locking the heap page
 * (the VM page is read while the heap page is locked, which PostgreSQL avoids to keep I/O out of
 * content locks); `pin` only creates the page (VACUUM calls it for every page it scans, so the
 * fork exists afterwards exactly when PostgreSQL's does); no WAL record or heap page LSN is
 * written when bits are set.
 */

import { type BufferPool, ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { forgetForkSize, readForkPage } from "../../storage/buffer/fork-pages.js";
import { PAGE_CONTENTS_OFFSET } from "../../storage/page/bufpage.js";
import {
  HEAPBLOCKS_PER_BYTE,
  HEAPBLOCKS_PER_PAGE,
  vmClearBits,
  vmCountPage,
  vmGetStatus,
  vmHeapBlockToMapBlock,
  vmSetBits,
} from "./visibilitymap-page.js";

export class VisibilityMap {
  private readonly pool: BufferPool;

  constructor(pool: BufferPool) {
    this.pool = pool;
  }

  /** visibilitymap_get_status: the block's bits, 0 when the map has no page for it. */
  getStatus(rel: RelFileLocator, heapBlock: number): number {
    const buf = readForkPage(
      this.pool,
      rel,
      ForkNumber.VISIBILITYMAP,
      vmHeapBlockToMapBlock(heapBlock),
      false,
    );
    if (buf === undefined) return 0;
    this.pool.lockBuffer(buf, "share");
    const bits = vmGetStatus(this.pool.bufferGetPage(buf), heapBlock);
    this.pool.unlockReleaseBuffer(buf);
    return bits;
  }

  /**
   * visibilitymap_pin: makes sure the map page covering `heapBlock` exists, extending the fork
   * (creating it if need be) as PostgreSQL does before VACUUM looks at a heap page. pgsim keeps
   * no pin: each get/set/clear reads the page again.
   */
  pin(rel: RelFileLocator, heapBlock: number): void {
    const buf = readForkPage(
      this.pool,
      rel,
      ForkNumber.VISIBILITYMAP,
      vmHeapBlockToMapBlock(heapBlock),
      true,
    );
    // Undefined only when a memory-only pool has no buffer left (see readForkPage).
    if (buf !== undefined) this.pool.releaseBuffer(buf);
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
    const buf = readForkPage(this.pool, rel, ForkNumber.VISIBILITYMAP, mapBlock, create);
    if (buf === undefined) return false;
    this.pool.lockBuffer(buf, "exclusive");
    const changed = change(this.pool.bufferGetPage(buf));
    if (changed) this.pool.markBufferDirty(buf);
    this.pool.unlockReleaseBuffer(buf);
    return changed;
  }

  /** visibilitymap_set: ORs `flags` into the block's bits (creating the page). Returns whether they changed. */
  set(rel: RelFileLocator, heapBlock: number, flags: number): boolean {
    return this.changeBits(rel, heapBlock, true, (page) => vmSetBits(page, heapBlock, flags));
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
