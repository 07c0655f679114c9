/**
 * Creating a buffer pool's shared memory once, and attaching to it from any thread.
 *
 * Models: src/backend/storage/buffer/buf_init.c (BufferShmemSize, InitBufferPool) and the
 * postmaster/backend split: the creator initialises shared memory, every backend attaches.
 * Entry points: `bufferShmemSize`, `initBufferPool`, `attachBufferPool`, `createBufferPool`.
 * See also: buf-internals.ts (the layout), bufmgr.ts (what an attached backend can do),
 * buf-recovery.ts (freeing a dead backend's slot).
 * pg-control.ts (the `global/pg_control` a disk-backed pool writes at start-up).
 */

import { threadId } from "node:worker_threads";
import {
  DescriptorHeaders,
  FREENEXT_END_OF_LIST,
  PgsimError,
  StrategyControl,
} from "@pgsim/clock-sweep";
import {
  type BufferPoolLayout,
  computeLayout,
  D_BUF_ID,
  D_FREE_NEXT,
  D_STATE,
  D_TAG_BLOCK,
  D_TAG_FORK,
  DESC_INTS,
  HEADER_INTS,
  P_BUFFER_COUNT,
  P_MAGIC,
  P_MAX_BACKENDS,
  P_MAX_REL_FORKS,
  P_VARIANT,
  P_VERSION,
  POOL_LAYOUT_VERSION,
  POOL_MAGIC,
  PROC_IN_USE,
  PROC_INTS,
  PROC_THREAD_ID,
} from "./buf-internals.js";
import { BufTable } from "./buf-table.js";
import { INVALID_FORKNUM, InvalidBlockNumber } from "./buf-tag.js";
import { SharedBufferPool } from "./bufmgr.js";
import { createFaultShmem } from "./injection-point.js";
import { RELSEG_SIZE } from "./md.js";
import { allocateSharedMemory, wasmMemoryBytes } from "./pg-atomics.js";
import { pgsimControlFile, writeControlFile } from "./pg-control.js";
import type { BufferPool, BufferPoolOptions, BufferPoolShared, PageHooks } from "./types.js";

/** The largest pool pgsim will create: 4,194,304 buffers = 32 GB of pages. */
export const MAX_BUFFER_COUNT = 1 << 22;
export const DEFAULT_MAX_BACKENDS = 64;
export const DEFAULT_MAX_RELATION_FORKS = 4096;

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new PgsimError(
      "invalid-pool-option",
      `${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
      { option: name, value },
    );
  }
  return value;
}

function resolveOptions(options: BufferPoolOptions): Required<
  Omit<BufferPoolOptions, "dataDir" | "writeControlFile">
> & {
  dataDir: string | undefined;
} {
  if (options === null || typeof options !== "object") {
    throw new PgsimError("invalid-pool-option", "buffer pool options must be an object");
  }
  const variant = options.variant;
  if (variant !== "disk" && variant !== "memory") {
    throw new PgsimError(
      "invalid-pool-option",
      `variant must be "disk" or "memory", got ${JSON.stringify(variant)}`,
    );
  }
  const bufferCount = checkInteger("bufferCount", options.bufferCount, 1, MAX_BUFFER_COUNT);
  const maxBackends = checkInteger(
    "maxBackends",
    options.maxBackends ?? DEFAULT_MAX_BACKENDS,
    1,
    1024,
  );
  const maxRelationForks = checkInteger(
    "maxRelationForks",
    options.maxRelationForks ?? DEFAULT_MAX_RELATION_FORKS,
    1,
    1 << 20,
  );
  const segmentBlocks = checkInteger(
    "segmentBlocks",
    options.segmentBlocks ?? RELSEG_SIZE,
    1,
    RELSEG_SIZE,
  );
  if (variant === "disk" && (typeof options.dataDir !== "string" || options.dataDir === "")) {
    throw new PgsimError("invalid-pool-option", "a disk-backed pool needs a dataDir");
  }
  if (variant === "memory" && options.dataDir !== undefined) {
    throw new PgsimError(
      "invalid-pool-option",
      "a memory-only pool has no data directory: the pool is the storage",
    );
  }
  const dataChecksums = options.dataChecksums ?? false;
  if (typeof dataChecksums !== "boolean") {
    throw new PgsimError(
      "invalid-pool-option",
      `dataChecksums must be true or false, got ${String(dataChecksums)}`,
    );
  }
  return {
    variant,
    bufferCount,
    maxBackends,
    maxRelationForks,
    segmentBlocks,
    dataChecksums,
    dataDir: options.dataDir,
  };
}

/**
 * BufferShmemSize: the bytes of shared memory a pool with these options needs, and how much of it
 * is beyond the pages themselves.
 */
export function bufferShmemSize(options: BufferPoolOptions): {
  totalBytes: number;
  overheadBytes: number;
  layout: BufferPoolLayout;
} {
  const o = resolveOptions(options);
  const layout = computeLayout(o.bufferCount, o.maxBackends, o.maxRelationForks);
  return { totalBytes: layout.totalBytes, overheadBytes: layout.overheadBytes, layout };
}

/**
 * InitBufferPool: allocates and initialises the shared memory of a new pool (once, by the
 * "postmaster"). Returns the handle that every backend attaches with.
 *
 * @example
 * ```ts
 * const shared = initBufferPool({ variant: "memory", bufferCount: 1024 });
 * const backend = attachBufferPool(shared);
 * ```
 */
export function initBufferPool(options: BufferPoolOptions): BufferPoolShared {
  const o = resolveOptions(options);
  const layout = computeLayout(o.bufferCount, o.maxBackends, o.maxRelationForks);
  let sab: SharedArrayBuffer;
  let memory: object | undefined;
  try {
    ({ sab, memory } = allocateSharedMemory(layout.totalBytes));
  } catch {
    throw new PgsimError(
      "out-of-memory",
      `could not allocate ${layout.totalBytes} bytes of shared memory for ${o.bufferCount} buffers`,
      { bytes: layout.totalBytes },
    );
  }
  const words = new Int32Array(sab, 0, layout.pages / 4);
  words[layout.header + P_MAGIC] = POOL_MAGIC;
  words[layout.header + P_VERSION] = POOL_LAYOUT_VERSION;
  words[layout.header + P_BUFFER_COUNT] = o.bufferCount;
  words[layout.header + P_VARIANT] = o.variant === "disk" ? 0 : 1;
  words[layout.header + P_MAX_BACKENDS] = o.maxBackends;
  words[layout.header + P_MAX_REL_FORKS] = o.maxRelationForks;
  for (let id = 0; id < o.bufferCount; id++) {
    const d = layout.descriptors + id * DESC_INTS;
    words[d + D_TAG_FORK] = INVALID_FORKNUM;
    words[d + D_TAG_BLOCK] = InvalidBlockNumber | 0;
    words[d + D_BUF_ID] = id;
    words[d + D_STATE] = 0;
  }
  const headers = new DescriptorHeaders(
    words.subarray(layout.descriptors, layout.descriptors + o.bufferCount * DESC_INTS),
    o.bufferCount,
    { stride: DESC_INTS, stateIndex: D_STATE, freeNextIndex: D_FREE_NEXT },
  );
  StrategyControl.initialize(words.subarray(layout.strategyControl), headers);
  if (headers.getFreeNext(o.bufferCount - 1) !== FREENEXT_END_OF_LIST) {
    throw new Error("free list was not initialised");
  }
  new BufTable(words, layout.bufTable, layout.bufTableCapacity).initialize();
  if (o.variant === "disk" && o.dataDir !== undefined && options.writeControlFile !== false) {
    // StartupXLOG leaves pg_control saying how the files are written; pgsim's pool writes it once
    // at start-up (see pg-control.ts pgsimControlFile for what it holds).
    writeControlFile(
      o.dataDir,
      pgsimControlFile({
        dataChecksums: o.dataChecksums,
        relsegSize: o.segmentBlocks,
        maxConnections: o.maxBackends,
      }),
    );
  }
  return {
    sab,
    memory,
    variant: o.variant,
    bufferCount: o.bufferCount,
    maxBackends: o.maxBackends,
    maxRelationForks: o.maxRelationForks,
    dataDir: o.dataDir,
    segmentBlocks: o.segmentBlocks,
    faults: createFaultShmem(),
  };
}

/**
 * Attaches this thread to a pool as a new backend (a worker thread calls this with the handle it
 * was given). Each call is a separate backend with its own pins and locks.
 */
export function attachBufferPool(
  shared: BufferPoolShared,
  options: { pageHooks?: PageHooks } = {},
): BufferPool {
  if (!shared || !(shared.sab instanceof SharedArrayBuffer)) {
    throw new PgsimError("invalid-pool-handle", "not a buffer pool handle (no SharedArrayBuffer)");
  }
  const layout = computeLayout(shared.bufferCount, shared.maxBackends, shared.maxRelationForks);
  const bytes = shared.sab.byteLength;
  if (bytes !== layout.totalBytes && bytes !== wasmMemoryBytes(layout.totalBytes)) {
    throw new PgsimError("invalid-pool-handle", "buffer pool handle does not match its memory");
  }
  const words = new Int32Array(shared.sab, 0, HEADER_INTS + layout.header);
  if (
    words[layout.header + P_MAGIC] !== POOL_MAGIC ||
    words[layout.header + P_VERSION] !== POOL_LAYOUT_VERSION
  ) {
    throw new PgsimError("invalid-pool-handle", "shared memory is not an initialised buffer pool");
  }
  const procs = new Int32Array(shared.sab, layout.procs * 4, shared.maxBackends * PROC_INTS);
  let procNumber = -1;
  for (let p = 0; p < shared.maxBackends; p++) {
    if (Atomics.compareExchange(procs, p * PROC_INTS, 0, 1) === 0) {
      procNumber = p;
      break;
    }
  }
  if (procNumber < 0) {
    throw new PgsimError(
      "too-many-backends",
      `sorry, too many clients already: all ${shared.maxBackends} backend slots are in use`,
    );
  }
  Atomics.store(procs, procNumber * PROC_INTS + PROC_THREAD_ID, threadId);
  return new SharedBufferPool(shared, layout, procNumber, options.pageHooks ?? {});
}

/** Every attached backend with the worker_threads threadId it was attached from (0 = main). */
export function attachedBackends(
  shared: BufferPoolShared,
): { procNumber: number; threadId: number }[] {
  const layout = computeLayout(shared.bufferCount, shared.maxBackends, shared.maxRelationForks);
  const procs = new Int32Array(shared.sab, layout.procs * 4, shared.maxBackends * PROC_INTS);
  const out: { procNumber: number; threadId: number }[] = [];
  for (let p = 0; p < shared.maxBackends; p++) {
    if (Atomics.load(procs, p * PROC_INTS + PROC_IN_USE) !== 0) {
      out.push({ procNumber: p, threadId: Atomics.load(procs, p * PROC_INTS + PROC_THREAD_ID) });
    }
  }
  return out;
}

/** The backends (procNumbers) attached from the thread with this id (worker_threads threadId). */
export function backendsOfThread(shared: BufferPoolShared, thread: number): number[] {
  const layout = computeLayout(shared.bufferCount, shared.maxBackends, shared.maxRelationForks);
  const procs = new Int32Array(shared.sab, layout.procs * 4, shared.maxBackends * PROC_INTS);
  const out: number[] = [];
  for (let p = 0; p < shared.maxBackends; p++) {
    if (
      Atomics.load(procs, p * PROC_INTS + PROC_IN_USE) !== 0 &&
      Atomics.load(procs, p * PROC_INTS + PROC_THREAD_ID) === thread
    ) {
      out.push(p);
    }
  }
  return out;
}

/** initBufferPool + attachBufferPool: a new pool and the first backend on it. */
export function createBufferPool(
  options: BufferPoolOptions,
  attachOptions: { pageHooks?: PageHooks } = {},
): BufferPool {
  return attachBufferPool(initBufferPool(options), attachOptions);
}
