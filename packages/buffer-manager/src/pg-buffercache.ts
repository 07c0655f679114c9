/**
 * pg_buffercache's views over a pool: one row per buffer with its tag, dirtiness, usage count
 * and pins, and the one-row summary.
 *
 * Models: contrib/pg_buffercache/pg_buffercache_pages.c (pg_buffercache_pages, and
 * pg_buffercache_summary, which PostgreSQL 16 adds).
 * Entry points: `pgBuffercachePages`, `pgBuffercacheSummary` (behind the pool's `bufferCache`
 * and `bufferCacheSummary`).
 * See also: bufmgr.ts (the pool that calls them), types.ts (`BufferCacheRow`,
 * `BufferCacheSummary`), buf-internals.ts (`readBufferTag`).
 *
 * As in PostgreSQL, each row is read under its buffer's header lock, one buffer at a time, so the
 * rows are each consistent but not a snapshot of the whole pool; the summary reads the state
 * words with no lock at all.
 */

import type { DescriptorHeaders } from "@pgsim/clock-sweep";
import {
  BM_DIRTY,
  BM_IO_ERROR,
  BM_TAG_VALID,
  bufStateGetRefcount,
  bufStateGetUsageCount,
} from "@pgsim/clock-sweep";
import { readBufferTag } from "./buf-internals.js";
import type { BufferCacheRow, BufferCacheSummary } from "./types.js";

/** What the views read: a backend's view of the descriptors, and its own pin counts. */
export interface BufferCacheSource {
  /** The pool's Int32 words and where the descriptor array starts in them. */
  readonly words: Int32Array;
  readonly descriptors: number;
  readonly headers: DescriptorHeaders;
  readonly bufferCount: number;
  /** The reading backend's PrivateRefCount, indexed by buf_id. */
  readonly privateRefCount: Int32Array;
  /** The reading backend. */
  readonly procNumber: number;
}

/** pg_buffercache_pages: one row per buffer, each read under its header lock. */
export function pgBuffercachePages(source: BufferCacheSource): BufferCacheRow[] {
  const { words, descriptors, headers, bufferCount } = source;
  const rows: BufferCacheRow[] = [];
  const pinning = pinningBackends(source);
  for (let id = 0; id < bufferCount; id++) {
    const state = headers.lockBufHdr(id);
    const tag = readBufferTag(words, descriptors, id);
    headers.unlockBufHdr(id, state);
    const used = (state & BM_TAG_VALID) !== 0;
    rows.push({
      bufferid: id + 1,
      relfilenode: used ? tag.relNumber : null,
      reltablespace: used ? tag.spcOid : null,
      reldatabase: used ? tag.dbOid : null,
      relforknumber: used ? tag.fork : null,
      relblocknumber: used ? tag.block : null,
      isdirty: used ? (state & BM_DIRTY) !== 0 : null,
      usagecount: used ? bufStateGetUsageCount(state) : null,
      pinning_backends: used ? bufStateGetRefcount(state) : null,
      pinnedBy: pinning[id] ?? [],
      ioError: used ? (state & BM_IO_ERROR) !== 0 : null,
    });
  }
  return rows;
}

/**
 * Which backends pin each buffer, as far as the reading backend can tell: only itself, from its
 * own pin counts (pgsim's addition to the rows).
 */
function pinningBackends(source: BufferCacheSource): number[][] {
  const out: number[][] = [];
  for (let id = 0; id < source.bufferCount; id++) {
    if (source.privateRefCount[id]! > 0) out[id] = [source.procNumber];
  }
  return out;
}

/** pg_buffercache_summary: used, unused, dirty and pinned buffers and the average usage count. */
export function pgBuffercacheSummary(source: BufferCacheSource): BufferCacheSummary {
  const { headers, bufferCount } = source;
  let used = 0;
  let dirty = 0;
  let pinned = 0;
  let usageSum = 0;
  for (let id = 0; id < bufferCount; id++) {
    const state = headers.readState(id);
    if ((state & BM_TAG_VALID) === 0) continue;
    used++;
    if ((state & BM_DIRTY) !== 0) dirty++;
    if (bufStateGetRefcount(state) > 0) pinned++;
    usageSum += bufStateGetUsageCount(state);
  }
  return {
    buffers_used: used,
    buffers_unused: bufferCount - used,
    buffers_dirty: dirty,
    buffers_pinned: pinned,
    usagecount_avg: used === 0 ? 0 : usageSum / used,
  };
}
