/**
 * The public types of the buffer manager: the one interface both variants satisfy.
 *
 * Models: src/include/storage/bufmgr.h (the API that everything above the buffer manager uses).
 * Entry points: `BufferPool`, `BufferId`, `BufferPoolOptions`, `BufferPoolShared`.
 * See also: bufmgr.ts (the implementation), buf-init.ts (the factory).
 */

import type { BufferAccessStrategy } from "@pgsim/clock-sweep";
import type { BufferPoolVariant } from "./buf-internals.js";
import type { BufferTag, RelFileLocator } from "./buf-tag.js";
import type { BufferUsage, RelationBlockCounts } from "./buf-usage.js";
import type { FaultTable } from "./injection-point.js";

/**
 * A buffer number, 1..NBuffers, as PostgreSQL's `Buffer` (0 is InvalidBuffer). Branded so that a
 * block number or a buf_id cannot be passed by mistake.
 */
export type BufferId = number & { readonly __brand: "BufferId" };

/** BUFFER_LOCK_SHARE or BUFFER_LOCK_EXCLUSIVE. */
export type BufferLockMode = "share" | "exclusive";

/** ReadBufferMode: normal, zero the page without reading (and lock it), or zero a bad page. */
export type ReadBufferMode = "normal" | "zero-and-lock" | "zero-on-error";

export interface ReadBufferOptions {
  /** A ring from getAccessStrategy for bulk reads, writes or vacuum; omit for the default path. */
  strategy?: BufferAccessStrategy;
  /** RBM_NORMAL (default), RBM_ZERO_AND_LOCK or RBM_ZERO_ON_ERROR. */
  mode?: ReadBufferMode;
}

/**
 * Hooks the layer above installs (the buffer manager knows neither page formats nor the WAL):
 * verification after each read (PageIsVerifiedExtended), a checksum on each write
 * (PageSetChecksumCopy), and the buffer manager's calls into the WAL. Without hooks pages are
 * neither verified nor checksummed, as in a PostgreSQL cluster initialised without data
 * checksums, and nothing is logged or flushed, as for a pool without WAL.
 */
export interface PageHooks {
  /**
   * PageIsVerified on a page just read: true when it may be used; false, or the reason as
   * PostgreSQL's WARNING words it ("page verification failed, calculated checksum N but
   * expected M"), when it is damaged.
   */
  verifyPage?(page: Uint8Array, block: number): boolean | string;
  setChecksum?(page: Uint8Array, block: number): void;
  /**
   * FlushBuffer's `XLogFlush(BufferGetLSN(buf))`: called with the page's LSN (pd_lsn) before a
   * permanent buffer of a disk-backed pool is written, so that no page reaches its file ahead of
   * the WAL describing its changes (WAL before data). Never called by a memory-only pool. It
   * may block (it takes WAL locks and syncs); the caller holds the buffer's content lock.
   */
  xlogFlush?(lsn: bigint, tag: BufferTag): void;
  /**
   * XLogNeedsFlush: whether the WAL is not yet durable up to `lsn`. A bulk read (BULKREAD ring)
   * asks before reusing a dirty buffer of its ring, and takes another buffer rather than wait for
   * a WAL flush. Without it, no buffer is rejected.
   */
  xlogNeedsFlush?(lsn: bigint): boolean;
  /**
   * MarkBufferDirtyHint's XLogSaveBufferForHint, when hint bits need WAL (checksums on): called
   * when a hint dirties a clean (or not just-dirtied) permanent buffer, with a copy of the page
   * taken under the buffer header lock, its tag, and whether the page has the standard layout.
   * Returns the LSN of the full-page image it logged — set as the page's LSN if the buffer was
   * clean — or undefined if the page needed none.
   */
  logHint?(page: Uint8Array, tag: BufferTag, bufferStd: boolean): bigint | undefined;
  /**
   * MyProc->delayChkptFlags (DELAY_CHKPT_START): set before `logHint`, cleared once the buffer
   * is marked dirty, so that a checkpoint cannot complete in between.
   */
  delayCheckpoint?(on: boolean): void;
}

/** Called on each page access of one backend: the tag, and whether the page was in the pool. */
export type AccessTraceHook = (
  rel: RelFileLocator,
  fork: number,
  block: number,
  hit: boolean,
) => void;

/** Options for creating a pool. */
export interface BufferPoolOptions {
  /** "disk": pages backed by relation files; "memory": the pool is the storage. */
  variant: BufferPoolVariant;
  /** NBuffers: how many 8 KB buffers (1 to 4,194,304). */
  bufferCount: number;
  /** Data directory of the disk-backed variant (required there, rejected for memory). */
  dataDir?: string;
  /** How many backends may attach at once (default 64). */
  maxBackends?: number;
  /**
   * How many relation forks the pool's size table holds (default 4096). Memory-only: every fork
   * (the pool is the storage). Disk-backed: the fork-size cache (smgr_cached_nblocks, shared);
   * forks beyond it are measured from their files each time.
   */
  maxRelationForks?: number;
  /** Disk-backed: blocks per segment file (default RELSEG_SIZE = 131072). */
  segmentBlocks?: number;
  /**
   * Disk-backed: whether the layer above checksums the pages it writes (initdb -k). The pool
   * records it as data_checksum_version in the `global/pg_control` it writes at start-up, so that
   * readers of the files (pgsim-inspect, pg_controldata) know whether to verify checksums.
   * Default false, as initdb's default. The checksumming itself is done by the page hooks.
   */
  dataChecksums?: boolean;
  /**
   * Disk-backed: whether the pool writes `global/pg_control` at start-up (default true). A
   * database with a write-ahead log owns pg_control (its checkpoints write it) and says false.
   */
  writeControlFile?: boolean;
}

/**
 * What a worker thread needs to attach: plain data plus the SharedArrayBuffer, so it can be sent
 * through `workerData` or a task argument (the SharedArrayBuffer is shared, not copied).
 */
export interface BufferPoolShared {
  readonly sab: SharedArrayBuffer;
  /**
   * The shared WebAssembly.Memory whose buffer `sab` is, when the pool was allocated as one
   * (pg-atomics.ts): the state word's compare-and-swap then runs as WebAssembly.
   */
  readonly memory?: object | undefined;
  readonly variant: BufferPoolVariant;
  readonly bufferCount: number;
  readonly maxBackends: number;
  readonly maxRelationForks: number;
  readonly dataDir: string | undefined;
  readonly segmentBlocks: number;
  /** The fault table and PANIC state (injection-point.ts), shared by every backend. */
  readonly faults: SharedArrayBuffer;
}

/** A row of pg_buffercache. Unused buffers have nulls, as there. */
export interface BufferCacheRow {
  bufferid: number;
  relfilenode: number | null;
  reltablespace: number | null;
  reldatabase: number | null;
  relforknumber: number | null;
  relblocknumber: number | null;
  isdirty: boolean | null;
  usagecount: number | null;
  pinning_backends: number | null;
  /** pgsim's addition: the backends known to pin it (this backend only, from its own counts). */
  pinnedBy: number[];
  /** pgsim's addition: BM_IO_ERROR, the last I/O on the buffer failed (a write: it stays dirty). */
  ioError: boolean | null;
}

/** pg_buffercache_summary. */
export interface BufferCacheSummary {
  buffers_used: number;
  buffers_unused: number;
  buffers_dirty: number;
  buffers_pinned: number;
  usagecount_avg: number;
}

/** Counters summed over all backends of a pool. */
export interface BufferPoolStats {
  /** readBuffer calls that found the page in the pool. */
  hits: number;
  /** Pages read from storage. */
  reads: number;
  /** Pages written to storage (evictions of dirty pages, flushes, checkpoints). */
  writes: number;
  /** Blocks added to relations. */
  extends: number;
  /** Buffers taken from one page for another. */
  evictions: number;
  /** Clean buffers made dirty. */
  dirtied: number;
}

export interface CheckpointResult {
  buffersWritten: number;
  filesSynced: number;
}

/** What a backend left behind when it detached. */
export interface DetachReport {
  leakedPins: { buffer: BufferId; count: number; tag: BufferTag }[];
  releasedLocks: number;
}

/**
 * What a backend held when a statement began (a resource owner's starting point): the pins it
 * already had, by buffer. `errorCleanup` gives back what was taken after it.
 */
export interface ResourceMark {
  /** Pins held at the mark, by buffer (empty when the backend held none, the usual case). */
  readonly pins: ReadonlyMap<BufferId, number>;
}

/** What `errorCleanup` released. */
export interface ErrorCleanupReport {
  /** Content locks released (LWLockReleaseAll). */
  releasedLocks: number;
  /** Pins released: those taken after the mark (ResourceOwnerRelease). */
  releasedPins: number;
  /** Reads or writes this backend had started and not finished (AbortBufferIO). */
  abortedIo: number;
}

/**
 * The buffer manager's interface. Both variants implement it; everything above the buffer manager
 * uses only this. Each BufferPool object is one backend: its pins and locks are its own.
 */
export interface BufferPool {
  readonly variant: BufferPoolVariant;
  readonly bufferCount: number;
  /** This backend's number (its slot in shared memory). */
  readonly procNumber: number;
  /** Handle to pass to worker threads for `attachBufferPool`. */
  readonly shared: BufferPoolShared;
  /**
   * The database's fault table: arm faults at its storage calls, and its PANIC state (see
   * injection-point.ts). Shared by every backend of the pool.
   */
  readonly faults: FaultTable;

  /** Returns the buffer holding (rel, fork, block), pinned. */
  readBuffer(
    rel: RelFileLocator,
    fork: number,
    block: number,
    options?: ReadBufferOptions,
  ): BufferId;
  /**
   * Adds a zeroed block at the end of the fork; returns it pinned (valid, not dirty), and with
   * `mode: "zero-and-lock"` also exclusively locked before any other backend can reach it.
   */
  extend(rel: RelFileLocator, fork: number, options?: ReadBufferOptions): BufferId;
  /** Drops one of this backend's pins. */
  releaseBuffer(buffer: BufferId): void;
  /** Adds a pin to a buffer this backend already pins. */
  incrBufferRefCount(buffer: BufferId): void;
  /** Unlocks the content lock, then releases the pin. */
  unlockReleaseBuffer(buffer: BufferId): void;
  /** The page, as a view into shared memory (hold a pin; lock to read or change it). */
  bufferGetPage(buffer: BufferId): Uint8Array;
  /** The tag of a pinned buffer. */
  bufferGetTag(buffer: BufferId): BufferTag;
  /** The block number of a pinned buffer. */
  bufferGetBlockNumber(buffer: BufferId): number;
  /** Marks a pinned, exclusively locked buffer dirty. */
  markBufferDirty(buffer: BufferId): void;
  /**
   * Marks a pinned, locked buffer dirty for hint bits; with a `logHint` hook, first logs a
   * full-page image if this is the page's first change since the checkpoint. `bufferStd`: the
   * page has the standard layout (default: true, except for free space map pages).
   */
  markBufferDirtyHint(buffer: BufferId, bufferStd?: boolean): void;
  /** Takes the content lock (waits). */
  lockBuffer(buffer: BufferId, mode: BufferLockMode): void;
  /** Tries the content lock exclusively without waiting. */
  conditionalLockBuffer(buffer: BufferId): boolean;
  /** Releases the content lock. */
  unlockBuffer(buffer: BufferId): void;
  /** BufferIsLockedByMe: whether this backend holds the buffer's content lock. */
  holdsContentLock(buffer: BufferId): boolean;
  /** Exclusive lock with no other backend pinning (waits for their pins to go). */
  lockBufferForCleanup(buffer: BufferId): void;
  /** Tries a cleanup lock without waiting. */
  conditionalLockBufferForCleanup(buffer: BufferId): boolean;
  /** Writes the buffer if dirty (disk-backed; a no-op for memory-only). Hold pin and lock. */
  flushBuffer(buffer: BufferId): boolean;
  /**
   * Writes every dirty buffer sorted by tag, then fsyncs the relation files unless `sync` is
   * false (fsync=off) (disk-backed; a no-op for memory).
   */
  checkpoint(options?: { readonly sync?: boolean }): CheckpointResult;
  /** Creates an empty fork. */
  createRelation(rel: RelFileLocator, fork: number): void;
  /** Whether the fork exists. */
  relationExists(rel: RelFileLocator, fork: number): boolean;
  /** The fork's size in blocks. */
  nblocks(rel: RelFileLocator, fork: number): number;
  /** Shortens a fork, dropping its buffers past the new end (memory-only: freeing them). */
  truncateRelation(rel: RelFileLocator, fork: number, nblocks: number): void;
  /**
   * Memory-only: every fork and its size in blocks, sorted by tag (what a snapshot of the pool
   * lists). A disk-backed pool refuses (`not-memory-pool`).
   */
  memoryForks(): { rel: RelFileLocator; fork: number; nblocks: number }[];
  /**
   * Memory-only: calls `visit(block, page)` for each block of the fork, the buffer pinned and
   * share-locked (the page is a view into shared memory: copy it). Counts no hits.
   */
  visitMemoryPages(
    rel: RelFileLocator,
    fork: number,
    visit: (block: number, page: Uint8Array) => void,
  ): void;
  /** Drops every buffer of the relation and removes its forks. */
  dropRelation(rel: RelFileLocator): void;
  /**
   * Invalidates buffers of the given forks from the given blocks on, without writing them
   * (disk-backed only: a memory-only pool refuses, since its buffers are the storage).
   */
  dropRelationBuffers(rel: RelFileLocator, forks: number[], firstDelBlock: number[]): void;
  /** pg_buffercache. */
  bufferCache(): BufferCacheRow[];
  /** pg_buffercache_summary. */
  bufferCacheSummary(): BufferCacheSummary;
  /** Backends waiting for a cleanup lock, and on which buffer. */
  cleanupWaiters(): { buffer: BufferId; procNumber: number }[];
  /** Counters over all backends. */
  statistics(): BufferPoolStats;
  /**
   * This backend's pgBufferUsage (hits, reads, dirtied, written since it attached), as EXPLAIN
   * (ANALYZE, BUFFERS) counts them: subtract two readings with `bufferUsageDiff`.
   */
  bufferUsage(): BufferUsage;
  /**
   * Blocks this backend fetched and hit per relation fork since the last call (which resets
   * them): pgstat_count_buffer_read / _hit, for the statistics of the layer above.
   */
  takeRelationBlockCounts(): RelationBlockCounts[];
  /** Shared-structure consistency check (call when nothing else runs). */
  checkConsistency(): string[];
  /** Records this backend's page accesses (hits, misses, extends) through a hook; undefined removes it. */
  setAccessTraceHook(hook: AccessTraceHook | undefined): void;
  /** Leaves the pool, reporting (unless quiet) and releasing leaked pins. */
  detach(options?: { quiet?: boolean }): DetachReport;
  /**
   * Marks what this backend holds now, for `errorCleanup` (cheap when it holds no pin: the
   * usual case at the start of a statement).
   */
  resourceMark(): ResourceMark;
  /**
   * Error recovery after a failed statement, as AbortTransaction does before the transaction's
   * resources are released: every content lock this backend holds is released
   * (LWLockReleaseAll), its unfinished buffer I/O is aborted (AbortBufferIO), and the pins it
   * took since `mark` are dropped (the resource owner's release of buffer pins). Code that
   * fails between taking a lock and its `finally` leaves nothing behind for the next statement.
   */
  errorCleanup(mark: ResourceMark): ErrorCleanupReport;
}
