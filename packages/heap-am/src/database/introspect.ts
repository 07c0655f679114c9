/**
 * Looking at a live table's pages the way PostgreSQL's inspection extensions do: each fork is
 * copied out of the buffer pool page by page under share locks, then decoded by the same code
 * `pgsim-inspect` runs on files.
 *
 * Models: contrib/pageinspect (get_raw_page, page_header, heap_page_items, bt_metap,
 * bt_page_stats, bt_page_items),
 * contrib/pg_freespacemap (pg_freespace) and contrib/pg_visibility (pg_visibility_map).
 * Entry points: `readForkImage`, `livePageHeaders`, `liveHeapPageItems`, `liveFreeSpace`,
 * `liveVisibilityMap`, `liveBtMetap`, `liveBtPageStats`, `liveBtPageItems`,
 * `liveIndexPages`.
 * See also: ../inspect/ (the decoders), ../database.ts (the Database methods that call these).
 *
 * Differs from PostgreSQL: a whole fork is copied at once, not one page per call.
 */

import { type BufferPool, ForkNumber } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { btReadMeta } from "../access/nbtree/nbtpage.js";
import type { BtIndexRelation } from "../access/nbtree/nbtree.js";
import { BLCKSZ } from "../include/access/htup-details.js";
import {
  type BtMetapRow,
  type BtPageItemRow,
  type BtPageStatsRow,
  btMetapOf,
  btPageItemsOf,
  btPageStatsOf,
} from "../inspect/btree.js";
import { type FreeSpaceRow, inspectFsm } from "../inspect/fsm.js";
import { type HeapPageItemsBlock, inspectHeapPageItems } from "../inspect/heap-page-items.js";
import { inspectPageHeader, type PageHeaderRow } from "../inspect/page-header.js";
import { inspectVm, type VisibilityMapRow } from "../inspect/vm.js";
import type { Relation } from "../utils/cache/rel.js";

/** get_raw_page for every block of a fork: a copy, page by page under share locks. */
export function readForkImage(pool: BufferPool, rel: Relation, fork: number): Uint8Array {
  if (!pool.relationExists(rel.locator, fork)) return new Uint8Array(0);
  const n = pool.nblocks(rel.locator, fork);
  const out = new Uint8Array(n * BLCKSZ);
  for (let b = 0; b < n; b++) {
    const buf = pool.readBuffer(rel.locator, fork, b);
    pool.lockBuffer(buf, "share");
    out.set(pool.bufferGetPage(buf), b * BLCKSZ);
    pool.unlockReleaseBuffer(buf);
  }
  return out;
}

/** Like pageinspect's page_header over every block (the shape of `pgsim-inspect page-header`). */
export function livePageHeaders(pool: BufferPool, rel: Relation): PageHeaderRow[] {
  const image = readForkImage(pool, rel, ForkNumber.MAIN);
  // Pages in the pool carry no checksum until written, as in PostgreSQL's shared buffers.
  return image.length === 0 ? [] : inspectPageHeader(image, { checksums: false });
}

/** Like pageinspect's heap_page_items (the shape of `pgsim-inspect heap-page-items`). */
export function liveHeapPageItems(
  pool: BufferPool,
  rel: Relation,
  block?: number,
): HeapPageItemsBlock[] {
  const image = readForkImage(pool, rel, ForkNumber.MAIN);
  return image.length === 0
    ? []
    : inspectHeapPageItems(image, block === undefined ? {} : { block });
}

/** Like pg_freespace(rel): the free space the FSM records per heap block. */
export function liveFreeSpace(pool: BufferPool, rel: Relation): FreeSpaceRow[] {
  const heapBlocks = pool.nblocks(rel.locator, ForkNumber.MAIN);
  const image = readForkImage(pool, rel, ForkNumber.FSM);
  if (image.length === 0) {
    return Array.from({ length: heapBlocks }, (_, blkno) => ({ blkno, avail: 0 }));
  }
  return inspectFsm(image, { heapBlocks, checksums: false });
}

/** Like pg_visibility_map(rel): the two VM bits per heap block. */
export function liveVisibilityMap(pool: BufferPool, rel: Relation): VisibilityMapRow[] {
  const heapBlocks = pool.nblocks(rel.locator, ForkNumber.MAIN);
  const image = readForkImage(pool, rel, ForkNumber.VISIBILITYMAP);
  if (image.length === 0) {
    return Array.from({ length: heapBlocks }, (_, blkno) => ({
      blkno,
      all_visible: false,
      all_frozen: false,
    }));
  }
  return inspectVm(image, { heapBlocks, checksums: false });
}

/**
 * get_raw_page of one block of an index, a copy taken under a share lock. Throws PostgreSQL's
 * "block number %u is out of range for relation \"%s\"" past the end.
 */
function readIndexPage(pool: BufferPool, index: BtIndexRelation, block: number): Uint8Array {
  const n = pool.nblocks(index.locator, ForkNumber.MAIN);
  if (!Number.isInteger(block) || block < 0 || block >= n) {
    throw new PgsimError(
      "invalid-parameter",
      `block number ${String(block)} is out of range for relation "${index.name}"`,
    );
  }
  const buf = pool.readBuffer(index.locator, ForkNumber.MAIN, block);
  pool.lockBuffer(buf, "share");
  const page = pool.bufferGetPage(buf).slice();
  pool.unlockReleaseBuffer(buf);
  return page;
}

/** pageinspect's bt_metap(index). */
export function liveBtMetap(pool: BufferPool, index: BtIndexRelation): BtMetapRow {
  const page = readIndexPage(pool, index, 0);
  btReadMeta(page, index.name);
  return btMetapOf(page);
}

/** pageinspect's bt_page_stats(index, block). */
export function liveBtPageStats(
  pool: BufferPool,
  index: BtIndexRelation,
  block: number,
): BtPageStatsRow {
  if (block === 0) return btPageStatsOf(new Uint8Array(BLCKSZ), 0);
  return btPageStatsOf(readIndexPage(pool, index, block), block);
}

/** pageinspect's bt_page_items(index, block). */
export function liveBtPageItems(
  pool: BufferPool,
  index: BtIndexRelation,
  block: number,
): BtPageItemRow[] {
  if (block === 0) return btPageItemsOf(new Uint8Array(BLCKSZ), 0);
  return btPageItemsOf(readIndexPage(pool, index, block), block);
}

/** Every page of an index (block 0 = metapage), each copied under a share lock. */
export function liveIndexPages(pool: BufferPool, index: BtIndexRelation): Uint8Array[] {
  const n = pool.nblocks(index.locator, ForkNumber.MAIN);
  return Array.from({ length: n }, (_, b) => readIndexPage(pool, index, b));
}
