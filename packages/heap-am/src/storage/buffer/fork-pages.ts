/**
 * Reading the pages of a relation's auxiliary forks (FSM, VM), creating and extending the fork on
 * demand.
 *
 * Models: freespace.c fsm_readbuf / fsm_extend and visibilitymap.c vm_readbuf / vm_extend: the
 * fork does not exist until first needed; pages past the end read as "no information" unless the
 * caller asks to extend; zeroed pages are PageInit'ed on first access; bad pages are zeroed
 * (RBM_ZERO_ON_ERROR), since these forks can always be rebuilt.
 * Entry points: `readForkPage`.
 * See also: freespace.ts, visibilitymap.ts.
 */

import {
  type BufferId,
  type BufferPool,
  PgsimError,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import { pageInit, pageIsNew } from "../page/bufpage.js";

/** Creates the fork if it does not exist yet (another backend may be doing the same). */
function ensureFork(pool: BufferPool, rel: RelFileLocator, fork: number): void {
  if (pool.relationExists(rel, fork)) return;
  try {
    pool.createRelation(rel, fork);
  } catch (e) {
    if (!(e instanceof PgsimError) || !pool.relationExists(rel, fork)) throw e;
  }
}

/**
 * Each backend's idea of how long its map forks are (smgr_cached_nblocks for the FSM and VM
 * forks), so that a page that exists needs no size check. A fork only grows, except by
 * truncation: a block past the cached end is re-checked, and a read that fails because another
 * backend truncated the fork refreshes the size and tries again.
 */
const cachedSizes = new WeakMap<BufferPool, Map<string, number>>();

function sizeKey(rel: RelFileLocator, fork: number): string {
  return `${rel.spcOid}/${rel.dbOid}/${rel.relNumber}/${fork}`;
}

/** The fork's size in blocks, or −1 when it does not exist (asked of the buffer manager). */
function currentSize(pool: BufferPool, rel: RelFileLocator, fork: number): number {
  return pool.relationExists(rel, fork) ? pool.nblocks(rel, fork) : -1;
}

/** Forgets a backend's cached size of a map fork (after it truncated or dropped it). */
export function forgetForkSize(pool: BufferPool, rel: RelFileLocator, fork: number): void {
  cachedSizes.get(pool)?.delete(sizeKey(rel, fork));
}

/**
 * The pinned buffer of `block` of the fork, or undefined when the fork or the block does not
 * exist and `extend` is false. With `extend`, the fork is created and extended as needed. A new
 * (all-zero) page is initialised before it is returned. The buffer is returned unlocked.
 *
 * Differs from PostgreSQL: when a memory-only pool is full, extending a map fork is given up and
 * the page reported missing (undefined). The FSM and VM are hints that can always be rebuilt, and
 * VACUUM, which frees pages, must not fail for want of one map page.
 */
export function readForkPage(
  pool: BufferPool,
  rel: RelFileLocator,
  fork: number,
  block: number,
  extend: boolean,
): BufferId | undefined {
  let sizes = cachedSizes.get(pool);
  if (sizes === undefined) {
    sizes = new Map();
    cachedSizes.set(pool, sizes);
  }
  const key = sizeKey(rel, fork);
  for (let attempt = 0; attempt < 2; attempt++) {
    let size = sizes.get(key);
    if (size === undefined || block >= size) {
      size = currentSize(pool, rel, fork);
      sizes.set(key, size);
    }
    if (block < size) {
      try {
        return initialised(pool, pool.readBuffer(rel, fork, block, { mode: "zero-on-error" }));
      } catch (e) {
        // Another backend truncated the fork since we cached its size: look again.
        if (
          e instanceof PgsimError &&
          (e.code === "data-corrupted" || e.code === "relation-not-found")
        ) {
          sizes.delete(key);
          continue;
        }
        throw e;
      }
    }
    if (!extend) return undefined;
    try {
      const buffer = readForkPageOrThrow(pool, rel, fork, block, true);
      sizes.set(key, currentSize(pool, rel, fork));
      return buffer;
    } catch (e) {
      sizes.delete(key);
      if (e instanceof PgsimError && e.code === "memory-pool-full") return undefined;
      throw e;
    }
  }
  return undefined;
}

/** A new (all-zero) page is PageInit'ed on first access, as fsm_readbuf and vm_readbuf do. */
function initialised(pool: BufferPool, buffer: BufferId): BufferId {
  const page = pool.bufferGetPage(buffer);
  if (pageIsNew(page)) {
    pool.lockBuffer(buffer, "exclusive");
    if (pageIsNew(page)) {
      pageInit(page, 0);
      pool.markBufferDirty(buffer);
    }
    pool.unlockBuffer(buffer);
  }
  return buffer;
}

function readForkPageOrThrow(
  pool: BufferPool,
  rel: RelFileLocator,
  fork: number,
  block: number,
  extend: boolean,
): BufferId | undefined {
  if (!pool.relationExists(rel, fork)) {
    if (!extend) return undefined;
    ensureFork(pool, rel, fork);
  }
  let nblocks = pool.nblocks(rel, fork);
  if (block >= nblocks) {
    if (!extend) return undefined;
    for (let guard = 0; nblocks <= block; guard++) {
      if (guard > block + 16) throw new PgsimError("io-error", "could not extend auxiliary fork");
      const buf = pool.extend(rel, fork);
      pool.lockBuffer(buf, "exclusive");
      const page = pool.bufferGetPage(buf);
      if (pageIsNew(page)) pageInit(page, 0);
      pool.markBufferDirty(buf);
      pool.unlockReleaseBuffer(buf);
      nblocks = pool.nblocks(rel, fork);
    }
  }
  return initialised(pool, pool.readBuffer(rel, fork, block, { mode: "zero-on-error" }));
}
