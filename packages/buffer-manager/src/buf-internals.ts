/**
 * The shared-memory layout of a buffer pool: header, strategy control, descriptors, locks, buffer
 * table, relation sizes, backend slots, statistics and the page blocks, all in one
 * SharedArrayBuffer computed up front.
 *
 * Models: src/include/storage/buf_internals.h (BufferDesc and its 64-byte padding, the tag
 * fields) and src/backend/storage/buffer/buf_init.c (BufferShmemSize, InitBufferPool).
 * Entry points: `computeLayout`, `BufferPoolLayout`, the `D_*` descriptor slots, `readBufferTag`,
 * `P_*` header slots.
 * See also: buf-init.ts (creates and attaches), bufmgr.ts (uses every region).
 *
 * Nothing in shared memory grows after start-up. Every region's protection is stated where the
 * region is described below and again in the package README.
 */

import { BLCKSZ, STRATEGY_CONTROL_INTS } from "@pgsim/clock-sweep";
import { bufTableInts } from "./buf-table.js";
import { type BufferTag, NUM_BUFFER_PARTITIONS } from "./buf-tag.js";
import { LWLOCK_INTS } from "./lwlock.js";

/**
 * Descriptor slots (Int32 index within a 16-slot, 64-byte descriptor) and what protects each:
 *   D_TAG_*     the BufferTag (five words). Written only under the header lock while the buffer is
 *               unpinned and its old and new partition locks are held exclusively; a pinned
 *               buffer's tag never changes, so a pin holder may read it without any lock.
 *   D_BUF_ID    the buffer's own index; never changes.
 *   D_STATE     the atomic state word (buf-state.ts): CAS loops without the header lock, a plain
 *               store by the header-lock holder.
 *   D_WAIT_BACKEND  the backend waiting for a cleanup lock; under the header lock.
 *   D_FREE_NEXT free-list link; under the strategy spinlock (not the header lock).
 *   D_CONTENT_LOCK  the content LWLock (two slots): atomic only.
 *   D_IO_OWNER  the backend (procNumber + 1) whose I/O is in progress, 0 when none; set and
 *               cleared with BM_IO_IN_PROGRESS, so a dead backend's I/O can be aborted for it.
 *   D_IO_CV     I/O completion counter, the condition variable waiters sleep on; bumped under the
 *               header lock when an I/O ends.
 */
export const D_TAG_SPC = 0;
export const D_TAG_DB = 1;
export const D_TAG_REL = 2;
export const D_TAG_FORK = 3;
export const D_TAG_BLOCK = 4;
export const D_BUF_ID = 5;
export const D_STATE = 6;
export const D_WAIT_BACKEND = 7;
export const D_FREE_NEXT = 8;
export const D_CONTENT_LOCK = 9; // and 10
export const D_IO_CV = 11;
export const D_IO_OWNER = 12;
/** Int32 slots per descriptor: 16 × 4 = 64 bytes, one cache line, as BufferDescPadded. */
export const DESC_INTS = 16;
export const BUFFERDESC_PAD_TO_SIZE = DESC_INTS * 4;

/**
 * The BufferTag of descriptor `id`, from the descriptor array that starts at Int32 index
 * `descriptors` of `words`. The caller holds the header lock or a pin (so the tag cannot change).
 */
export function readBufferTag(words: Int32Array, descriptors: number, id: number): BufferTag {
  const d = descriptors + id * DESC_INTS;
  return {
    spcOid: words[d + D_TAG_SPC]! >>> 0,
    dbOid: words[d + D_TAG_DB]! >>> 0,
    relNumber: words[d + D_TAG_REL]! >>> 0,
    fork: words[d + D_TAG_FORK]!,
    block: words[d + D_TAG_BLOCK]! >>> 0,
  };
}

/** Pool header slots (Int32). */
export const P_MAGIC = 0;
export const P_VERSION = 1;
export const P_BUFFER_COUNT = 2;
export const P_VARIANT = 3;
export const P_MAX_BACKENDS = 4;
export const P_SMGR_INVALIDATION = 5;
export const P_RELSIZE_LOCK = 6;
export const P_MAX_REL_FORKS = 7;
export const HEADER_INTS = 16;
export const POOL_MAGIC = 0x50475349; // "PGSI"
export const POOL_LAYOUT_VERSION = 1;

/** Relation-extension locks, chosen by hashing the relation (like the lock manager's partitions). */
export const NUM_EXTENSION_LOCKS = 64;
/** Int32 slots per relation-size entry: tag (4), nblocks, state, 2 spare. */
export const RELSIZE_INTS = 8;
/** Int32 slots per backend slot: in use, latch, thread id, spare. */
export const PROC_INTS = 4;
export const PROC_IN_USE = 0;
export const PROC_LATCH = 1;
export const PROC_THREAD_ID = 2;
/**
 * The per-backend ledger in shared memory: which buffers a backend pins and which content locks
 * it holds, written only by that backend, so that the buffers can be released for it if it dies.
 * LEDGER_PIN_SLOTS buffer ids (−1 = free), then LEDGER_LOCK_SLOTS entries of buf_id * 4 + mode.
 */
export const LEDGER_PIN_SLOTS = 256;
export const LEDGER_LOCK_SLOTS = 16;
export const LEDGER_INTS = LEDGER_PIN_SLOTS + LEDGER_LOCK_SLOTS;
/** Float64 statistics per backend. */
export const STAT_HITS = 0;
export const STAT_READS = 1;
export const STAT_WRITES = 2;
export const STAT_EXTENDS = 3;
export const STAT_EVICTIONS = 4;
export const STAT_DIRTIED = 5;
export const STAT_FLOATS = 8;

// Layout facts, checked when the module loads (docs/STYLE.md "Shared memory").
if (BUFFERDESC_PAD_TO_SIZE !== 64) throw new Error("buffer descriptors must be 64 bytes apart");
if (D_IO_OWNER >= DESC_INTS || D_IO_CV >= DESC_INTS || D_CONTENT_LOCK + LWLOCK_INTS > D_IO_CV) {
  throw new Error("buffer descriptor fields overlap or overflow");
}
if (BLCKSZ !== 8192) throw new Error("pages must be 8192 bytes");

/** Which kind of pool: pages backed by relation files, or the pool as the only storage. */
export type BufferPoolVariant = "disk" | "memory";

/** Byte offsets and sizes of every region, as computed by `computeLayout`. */
export interface BufferPoolLayout {
  bufferCount: number;
  maxBackends: number;
  maxRelationForks: number;
  /** Int32 index of each Int32 region within the buffer. */
  header: number;
  strategyControl: number;
  descriptors: number;
  partitionLocks: number;
  extensionLocks: number;
  bufTable: number;
  bufTableCapacity: number;
  relSizes: number;
  procs: number;
  ledgers: number;
  /** Float64 index of the statistics region. */
  stats: number;
  /** Byte offset of the first page (4096-aligned). */
  pages: number;
  /** Total bytes of the SharedArrayBuffer. */
  totalBytes: number;
  /** Bytes beyond the pages themselves. */
  overheadBytes: number;
}

/**
 * BufferShmemSize and friends: lays out every region for `bufferCount` buffers. Pure arithmetic;
 * the same inputs give the same layout in every thread.
 */
export function computeLayout(
  bufferCount: number,
  maxBackends: number,
  maxRelationForks: number,
): BufferPoolLayout {
  let ints = 0;
  const take = (n: number): number => {
    const at = ints;
    ints += n;
    return at;
  };
  const header = take(HEADER_INTS);
  const strategyControl = take(STRATEGY_CONTROL_INTS);
  // Descriptors start on a 64-byte boundary, like PostgreSQL's cache-line aligned array.
  ints = Math.ceil(ints / DESC_INTS) * DESC_INTS;
  const descriptors = take(bufferCount * DESC_INTS);
  const partitionLocks = take(NUM_BUFFER_PARTITIONS * LWLOCK_INTS);
  const extensionLocks = take(NUM_EXTENSION_LOCKS * LWLOCK_INTS);
  const bufTableCapacity = bufferCount + NUM_BUFFER_PARTITIONS;
  const bufTable = take(bufTableInts(bufTableCapacity));
  const relSizes = take(maxRelationForks * RELSIZE_INTS);
  const procs = take(maxBackends * PROC_INTS);
  const ledgers = take(maxBackends * LEDGER_INTS);
  if (ints % 2 !== 0) ints++;
  const stats = ints / 2;
  ints += maxBackends * STAT_FLOATS * 2;
  const pages = Math.ceil((ints * 4) / 4096) * 4096;
  const totalBytes = pages + bufferCount * BLCKSZ;
  return {
    bufferCount,
    maxBackends,
    maxRelationForks,
    header,
    strategyControl,
    descriptors,
    partitionLocks,
    extensionLocks,
    bufTable,
    bufTableCapacity,
    relSizes,
    procs,
    ledgers,
    stats,
    pages,
    totalBytes,
    overheadBytes: totalBytes - bufferCount * BLCKSZ,
  };
}
