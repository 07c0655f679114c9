/**
 * The buffer manager: pins, hits and misses, reading, extending, dirtying, content and cleanup
 * locks, flushing, checkpoints, dropping buffers — one backend's handle on the shared pool.
 *
 * Models: src/backend/storage/buffer/bufmgr.c (ReadBuffer_common, BufferAlloc, PinBuffer,
 * PinBuffer_Locked, UnpinBuffer, MarkBufferDirty, MarkBufferDirtyHint, LockBuffer,
 * ConditionalLockBuffer, LockBufferForCleanup, ConditionalLockBufferForCleanup, StartBufferIO,
 * TerminateBufferIO, WaitIO, FlushBuffer, BufferSync, SyncOneBuffer, InvalidateBuffer,
 * DropRelFileNodeBuffers, AtProcExit_Buffers, CheckForBufferLeaks).
 * Entry points: `SharedBufferPool` (implements `BufferPool`).
 * See also: buf-init.ts (create and attach), buf-internals.ts (layout), buf-table.ts, md.ts,
 * pin-ledger.ts (the shared record of this backend's pins and locks), buf-recovery.ts (cleaning
 * up after a dead backend), pg-buffercache.ts (the pg_buffercache views), @pgsim/clock-sweep
 * (victim selection), README.md (access rules and lock order).
 *
 * Lock order (never take an earlier one while holding a later one):
 *   1. relation extension lock   2. buffer content lock (only conditionally while evicting)
 *   3. buffer mapping partition locks (two at once in ascending partition order)
 *   4. buffer header lock        5. strategy spinlock / buffer-table free-list spinlock
 * The WAL hooks (PageHooks.xlogFlush, logHint, delayCheckpoint) take the WAL's locks, only ever
 * under a content lock (2), never under 3–5; the WAL takes no buffer lock.
 */

import {
  AssertionError,
  BLCKSZ,
  BM_CHECKPOINT_NEEDED,
  BM_DIRTY,
  BM_IO_ERROR,
  BM_IO_IN_PROGRESS,
  BM_JUST_DIRTIED,
  BM_LOCKED,
  BM_PERMANENT,
  BM_PIN_COUNT_WAITER,
  BM_TAG_VALID,
  BM_VALID,
  BUF_REFCOUNT_MASK,
  BUF_USAGECOUNT_MASK,
  BUF_USAGECOUNT_ONE,
  type BufferAccessStrategy,
  bufStateGetRefcount,
  bumpUsageOnFirstPin,
  DescriptorHeaders,
  FREENEXT_NOT_IN_LIST,
  PgsimError,
  StrategyControl,
  VictimSearch,
} from "@pgsim/clock-sweep";
import {
  type BufferPoolLayout,
  type BufferPoolVariant,
  D_CONTENT_LOCK,
  D_FREE_NEXT,
  D_IO_CV,
  D_IO_OWNER,
  D_STATE,
  D_TAG_BLOCK,
  D_TAG_DB,
  D_TAG_FORK,
  D_TAG_REL,
  D_TAG_SPC,
  D_WAIT_BACKEND,
  DESC_INTS,
  LEDGER_INTS,
  NUM_EXTENSION_LOCKS,
  P_RELSIZE_LOCK,
  P_SMGR_INVALIDATION,
  PROC_IN_USE,
  PROC_INTS,
  readBufferTag,
  STAT_DIRTIED,
  STAT_EVICTIONS,
  STAT_EXTENDS,
  STAT_FLOATS,
  STAT_HITS,
  STAT_READS,
  STAT_WRITES,
} from "./buf-internals.js";
import { BufTable } from "./buf-table.js";
import {
  type BufferTag,
  bufTableHashCode,
  bufTableHashHead,
  bufTableHashTail,
  checkBlockNumber,
  checkForkNumber,
  checkRelFileLocator,
  INVALID_FORKNUM,
  InvalidBlockNumber,
  MaxBlockNumber,
  NUM_BUFFER_PARTITIONS,
  type RelFileLocator,
} from "./buf-tag.js";
import { type BufferUsage, RelationBlockCounter, type RelationBlockCounts } from "./buf-usage.js";
import { FaultTable, PanicError, registerFaultShmem } from "./injection-point.js";
import {
  LW_EXCLUSIVE,
  LW_SHARED,
  LWLOCK_INTS,
  lwlockAcquire,
  lwlockConditionalAcquire,
  lwlockRelease,
} from "./lwlock.js";
import { MdStorage, relationPath } from "./md.js";
import { type StateCompareExchange, stateCompareExchange } from "./pg-atomics.js";
import {
  type BufferCacheSource,
  pgBuffercachePages,
  pgBuffercacheSummary,
} from "./pg-buffercache.js";
import { PinLedger } from "./pin-ledger.js";
import { RelSizeTable } from "./rel-sizes.js";
import type {
  AccessTraceHook,
  BufferCacheRow,
  BufferCacheSummary,
  BufferId,
  BufferLockMode,
  BufferPool,
  BufferPoolShared,
  BufferPoolStats,
  CheckpointResult,
  DetachReport,
  ErrorCleanupReport,
  PageHooks,
  ReadBufferOptions,
  ResourceMark,
} from "./types.js";

/** The mark of a backend that holds no pin. */
const NO_PINS_MARK: ResourceMark = { pins: new Map() };

/** InvalidBuffer: buffer ids are 1..NBuffers, as PostgreSQL's `Buffer`. */
export const InvalidBuffer = 0 as BufferId;

const NO_CONTENT_LOCK = 0;
/** How long to wait for pins to go away before concluding that a pin was leaked (ms). */
const PIN_WAIT_MAX_MS = 120_000;
/** How long one sleep for an I/O or a signal lasts before looking again (ms). */
const WAIT_SLICE_MS = 50;

/**
 * One backend's handle on a shared buffer pool. Create with `initBufferPool` + `attachBufferPool`
 * (or `createBufferPool`), never directly.
 */
export class SharedBufferPool implements BufferPool {
  readonly variant: BufferPoolVariant;
  readonly bufferCount: number;
  readonly procNumber: number;
  readonly shared: BufferPoolShared;
  readonly layout: BufferPoolLayout;
  readonly strategyControl: StrategyControl;
  readonly headers: DescriptorHeaders;

  private readonly words: Int32Array;
  /** The state word's compare-and-swap by byte offset (pg-atomics.ts: WebAssembly when it can). */
  private readonly casState: StateCompareExchange;
  private readonly pageBytes: Uint8Array;
  private readonly stats: Float64Array;
  private readonly desc: number;
  private readonly table: BufTable;
  private readonly relSizes: RelSizeTable;
  private readonly smgr: MdStorage | undefined;
  private readonly hooks: PageHooks;
  private readonly search: VictimSearch;
  private readonly zeroPage = new Uint8Array(BLCKSZ);
  private readonly scratch = new Uint8Array(BLCKSZ);
  /**
   * Backend-private pin counts, indexed by buf_id (PrivateRefCount).
   * Differs from PostgreSQL: a plain array of NBuffers counters instead of an 8-entry array with a
   * hash table for overflow; 4 bytes per buffer per backend buys an O(1) lookup on the hit path.
   */
  private readonly privateRefCount: Int32Array;
  /** Backend-private record of content locks held: 0 none, LW_SHARED or LW_EXCLUSIVE. */
  private readonly heldContentLock: Uint8Array;
  private readonly pageViews: (Uint8Array | undefined)[];
  private pinnedBufferCount = 0;
  /** This backend's record of its pins and content locks in shared memory (pin-ledger.ts). */
  private readonly ledger: PinLedger;
  private traceHook: AccessTraceHook | undefined;
  /** Blocks fetched and hit per relation fork since statistics last took them (buf-usage.ts). */
  private readonly blockCounts = new RelationBlockCounter();
  private statBase: number;
  private detached = false;
  /**
   * The tag hash's relation half for the relation last read (bufTableHashHead), and that
   * relation's block counters (blockCounts); set by setLastRelation, forgotten when the counters
   * are taken.
   */
  private readonly hashHead = new Int32Array(3);
  private lastCounts: Float64Array = new Float64Array(0);
  private hashRel = -1;
  private hashDb = -1;
  private hashSpc = -1;
  /** The database's fault table and PANIC state. */
  readonly faults: FaultTable;
  private readonly unregisterFaults: () => void;

  /** @internal use attachBufferPool */
  constructor(
    shared: BufferPoolShared,
    layout: BufferPoolLayout,
    procNumber: number,
    hooks: PageHooks,
    adopt = false,
  ) {
    this.shared = shared;
    this.layout = layout;
    this.variant = shared.variant;
    this.bufferCount = layout.bufferCount;
    this.procNumber = procNumber;
    this.hooks = hooks;
    this.words = new Int32Array(shared.sab, 0, layout.pages / 4);
    this.casState = stateCompareExchange(shared.sab, shared.memory);
    this.pageBytes = new Uint8Array(shared.sab, layout.pages, layout.bufferCount * BLCKSZ);
    this.stats = new Float64Array(shared.sab, layout.stats * 8, layout.maxBackends * STAT_FLOATS);
    this.statBase = procNumber * STAT_FLOATS;
    this.desc = layout.descriptors;
    this.headers = new DescriptorHeaders(
      this.words.subarray(layout.descriptors, layout.descriptors + layout.bufferCount * DESC_INTS),
      layout.bufferCount,
      { stride: DESC_INTS, stateIndex: D_STATE, freeNextIndex: D_FREE_NEXT },
    );
    this.strategyControl = StrategyControl.attach(
      this.words.subarray(layout.strategyControl),
      this.headers,
    );
    this.search = new VictimSearch(this.strategyControl);
    this.table = new BufTable(this.words, layout.bufTable, layout.bufTableCapacity);
    this.relSizes = new RelSizeTable(
      this.words,
      layout.relSizes,
      layout.maxRelationForks,
      layout.header + P_RELSIZE_LOCK,
    );
    this.faults = new FaultTable(shared.faults);
    this.unregisterFaults =
      shared.dataDir !== undefined ? registerFaultShmem(shared.dataDir, shared.faults) : () => {};
    this.smgr =
      shared.variant === "disk"
        ? new MdStorage(
            shared.dataDir!,
            this.words,
            layout.header + P_SMGR_INVALIDATION,
            shared.segmentBlocks,
          )
        : undefined;
    this.privateRefCount = new Int32Array(layout.bufferCount);
    this.heldContentLock = new Uint8Array(layout.bufferCount);
    this.pageViews = new Array<Uint8Array | undefined>(layout.bufferCount);
    this.ledger = new PinLedger(
      this.words,
      layout.ledgers + procNumber * LEDGER_INTS,
      layout.bufferCount,
    );
    if (adopt) {
      // A dead backend's slot (buf-recovery.ts): take over what its ledger records, so that
      // `detach` releases it.
      this.pinnedBufferCount = this.ledger.adopt(this.privateRefCount, this.heldContentLock);
    } else {
      this.stats.fill(0, this.statBase, this.statBase + STAT_FLOATS);
      this.ledger.clear();
    }
  }

  // ---------------------------------------------------------------- checks on caller input

  private checkLive(): void {
    if (this.detached) {
      throw new PgsimError("backend-detached", "this backend has detached from the buffer pool");
    }
  }

  /** Converts a caller's BufferId to a buf_id, or throws a typed error. */
  private bufIdOf(buffer: BufferId): number {
    const id = (buffer as number) - 1;
    if (!(id >= 0 && id < this.bufferCount && (id | 0) === id)) {
      throw new PgsimError(
        "invalid-buffer",
        `bad buffer ID: ${String(buffer)} (this pool has buffers 1 to ${this.bufferCount})`,
        { buffer },
      );
    }
    return id;
  }

  /** A buf_id that this backend has pinned, or a typed error. */
  private pinnedBufId(buffer: BufferId, what: string): number {
    const id = this.bufIdOf(buffer);
    if (this.privateRefCount[id] === 0) {
      throw new PgsimError(
        "buffer-not-pinned",
        `cannot ${what} buffer ${String(buffer)}: it is not pinned by this backend`,
        { buffer },
      );
    }
    return id;
  }

  // ---------------------------------------------------------------- descriptors and tags

  private stateSlot(id: number): number {
    return this.desc + id * DESC_INTS + D_STATE;
  }

  private descSlot(id: number, field: number): number {
    return this.desc + id * DESC_INTS + field;
  }

  private tagOf(id: number): BufferTag {
    return readBufferTag(this.words, this.desc, id);
  }

  private setTag(id: number, rel: RelFileLocator, fork: number, block: number): void {
    const w = this.words;
    const d = this.desc + id * DESC_INTS;
    w[d + D_TAG_SPC] = rel.spcOid | 0;
    w[d + D_TAG_DB] = rel.dbOid | 0;
    w[d + D_TAG_REL] = rel.relNumber | 0;
    w[d + D_TAG_FORK] = fork;
    w[d + D_TAG_BLOCK] = block | 0;
  }

  private clearTag(id: number): void {
    const w = this.words;
    const d = this.desc + id * DESC_INTS;
    w[d + D_TAG_SPC] = 0;
    w[d + D_TAG_DB] = 0;
    w[d + D_TAG_REL] = 0;
    w[d + D_TAG_FORK] = INVALID_FORKNUM;
    w[d + D_TAG_BLOCK] = InvalidBlockNumber | 0;
  }

  private partitionLockSlot(partition: number): number {
    return this.layout.partitionLocks + partition * LWLOCK_INTS;
  }

  private extensionLockSlot(rel: RelFileLocator): number {
    const h = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, 0, 0) % NUM_EXTENSION_LOCKS;
    return this.layout.extensionLocks + h * LWLOCK_INTS;
  }

  private lockBufHdr(id: number): number {
    return this.headers.lockBufHdr(id);
  }

  private unlockBufHdr(id: number, state: number): void {
    Atomics.store(this.words, this.stateSlot(id), state & ~BM_LOCKED);
  }

  // ---------------------------------------------------------------- pins

  /**
   * PinBuffer: takes a pin for this backend. Only the backend's first pin changes shared state
   * (refcount + 1 and the usage-count rule, in one compare-and-swap of the state word). Returns the
   * state word as the pin left it (a second pin: as read now), for the caller's BM_VALID and
   * BM_TAG_VALID tests.
   *
   * The loop's first guess is a plain read of the state word, as PostgreSQL's
   * pg_atomic_read_u32 is (no barrier): the compare-and-swap checks it, and a stale guess only
   * costs another turn. In V8 an `Atomics.load` is a call, a plain read of an Int32Array element
   * is one instruction and cannot tear.
   */
  private pinBuffer(id: number, strategy: BufferAccessStrategy | undefined): number {
    const w = this.words;
    const slot = this.desc + id * DESC_INTS + D_STATE;
    const ref = this.privateRefCount[id]!;
    if (ref > 0) {
      this.privateRefCount[id] = ref + 1;
      return w[slot]!;
    }
    // The first turn of the loop, written out so that the hit path stays small; a locked header,
    // a lost race or a full ledger go to pinBufferRetry.
    const old = w[slot]!;
    if ((old & BM_LOCKED) === 0 && this.ledger.freePinTop > 0) {
      const next = bumpUsageOnFirstPin(old + 1, strategy !== undefined);
      if (this.casState(slot << 2, old, next) === old) {
        this.ledger.pin(id);
        this.privateRefCount[id] = 1;
        this.pinnedBufferCount++;
        return next;
      }
    }
    return this.pinBufferRetry(id, strategy);
  }

  /** PinBuffer's compare-and-swap loop, for a first pin whose first turn did not succeed. */
  private pinBufferRetry(id: number, strategy: BufferAccessStrategy | undefined): number {
    if (this.ledger.freePinTop === 0) this.ledger.reserve();
    const w = this.words;
    const slot = this.stateSlot(id);
    let old = w[slot]!;
    for (let tries = 0; ; tries++) {
      if ((old & BM_LOCKED) !== 0) old = this.headers.waitBufHdrUnlocked(id);
      const next = bumpUsageOnFirstPin(old + 1, strategy !== undefined);
      const seen = Atomics.compareExchange(w, slot, old, next);
      if (seen === old) {
        this.ledger.pin(id);
        this.privateRefCount[id] = 1;
        this.pinnedBufferCount++;
        return next;
      }
      old = seen;
      if (tries > 10_000_000) throw new AssertionError("PinBuffer: CAS never succeeded");
    }
  }

  /**
   * PinBuffer_Locked: pins a buffer whose header lock we hold (and which we have not pinned),
   * without touching the usage count, and releases the header lock in the same store.
   */
  private pinBufferLocked(id: number, lockedState: number): void {
    if (this.privateRefCount[id] !== 0) {
      throw new AssertionError("PinBuffer_Locked on a buffer this backend already pins");
    }
    this.unlockBufHdr(id, lockedState + 1);
    this.ledger.pin(id);
    this.privateRefCount[id] = 1;
    this.pinnedBufferCount++;
  }

  /** UnpinBuffer: drops one private pin; the last one drops the shared refcount. */
  private unpinBuffer(id: number): void {
    const ref = this.privateRefCount[id]! - 1;
    if (ref > 0) {
      this.privateRefCount[id] = ref;
      return;
    }
    if (ref < 0) throw new AssertionError("UnpinBuffer on a buffer this backend does not pin");
    this.privateRefCount[id] = 0;
    this.pinnedBufferCount--;
    this.ledger.unpin(id);
    // The first turn of the loop in unpinShared, written out so that the hit path stays small.
    const w = this.words;
    const slot = this.desc + id * DESC_INTS + D_STATE;
    const old = w[slot]!;
    if (
      (old & (BM_LOCKED | BM_PIN_COUNT_WAITER)) !== 0 ||
      this.casState(slot << 2, old, old - 1) !== old
    ) {
      this.unpinShared(id);
    }
  }

  /**
   * UnpinBuffer's shared half: lowers the refcount with a compare-and-swap loop (a header-lock
   * holder may store the whole word, so an atomic decrement would be lost), then wakes a backend
   * waiting for a cleanup lock when only its own pin is left.
   */
  private unpinShared(id: number): void {
    const w = this.words;
    const slot = this.stateSlot(id);
    // A plain read as the first guess, as in pinBuffer.
    let old = w[slot]!;
    let next: number;
    for (let tries = 0; ; tries++) {
      if ((old & BM_LOCKED) !== 0) old = this.headers.waitBufHdrUnlocked(id);
      next = old - 1;
      const seen = Atomics.compareExchange(w, slot, old, next);
      if (seen === old) break;
      old = seen;
      if (tries > 10_000_000) throw new AssertionError("UnpinBuffer: CAS never succeeded");
    }
    if ((next & BM_PIN_COUNT_WAITER) !== 0) {
      // A backend waits for a cleanup lock: wake it when only its own pin is left.
      let state = this.lockBufHdr(id);
      if ((state & BM_PIN_COUNT_WAITER) !== 0 && bufStateGetRefcount(state) === 1) {
        const waiter = w[this.descSlot(id, D_WAIT_BACKEND)]!;
        state &= ~BM_PIN_COUNT_WAITER;
        this.unlockBufHdr(id, state);
        this.procSendSignal(waiter);
      } else {
        this.unlockBufHdr(id, state);
      }
    }
  }

  private latchSlot(procNumber: number): number {
    return this.layout.procs + procNumber * PROC_INTS + 1;
  }

  /** ProcSendSignal: bumps a backend's latch and wakes it. */
  private procSendSignal(procNumber: number): void {
    const slot = this.latchSlot(procNumber);
    Atomics.add(this.words, slot, 1);
    Atomics.notify(this.words, slot);
  }

  // ---------------------------------------------------------------- I/O state machine

  /** WaitIO: sleeps until no I/O is in progress on the buffer. */
  private waitIO(id: number): void {
    const cv = this.descSlot(id, D_IO_CV);
    for (;;) {
      const state = this.lockBufHdr(id);
      const seq = Atomics.load(this.words, cv);
      this.unlockBufHdr(id, state);
      if ((state & BM_IO_IN_PROGRESS) === 0) return;
      Atomics.wait(this.words, cv, seq, WAIT_SLICE_MS);
    }
  }

  /**
   * StartBufferIO: claims the buffer's I/O. Returns false when the work is already done (valid for
   * input, clean for output); waits while someone else's I/O is in progress.
   */
  private startBufferIO(id: number, forInput: boolean): boolean {
    for (;;) {
      const state = this.lockBufHdr(id);
      if ((state & BM_IO_IN_PROGRESS) !== 0) {
        this.unlockBufHdr(id, state);
        this.waitIO(id);
        continue;
      }
      if (forInput ? (state & BM_VALID) !== 0 : (state & BM_DIRTY) === 0) {
        this.unlockBufHdr(id, state);
        return false;
      }
      this.words[this.descSlot(id, D_IO_OWNER)] = this.procNumber + 1;
      this.unlockBufHdr(id, state | BM_IO_IN_PROGRESS);
      return true;
    }
  }

  /**
   * AbortBufferIO for a read or extension that failed: the buffer stays tagged but not valid,
   * with BM_IO_ERROR (the next reader retries), and our pin is given up.
   */
  private abortBufferIO(id: number): void {
    this.terminateBufferIO(id, false, BM_IO_ERROR);
    this.unpinBuffer(id);
  }

  /** TerminateBufferIO: ends our I/O, optionally cleaning the buffer, and wakes the waiters. */
  private terminateBufferIO(id: number, clearDirty: boolean, setBits: number): void {
    let state = this.lockBufHdr(id);
    state &= ~(BM_IO_IN_PROGRESS | BM_IO_ERROR);
    if (clearDirty && (state & BM_JUST_DIRTIED) === 0) state &= ~(BM_DIRTY | BM_CHECKPOINT_NEEDED);
    state |= setBits;
    const cv = this.descSlot(id, D_IO_CV);
    this.words[this.descSlot(id, D_IO_OWNER)] = 0;
    Atomics.add(this.words, cv, 1);
    this.unlockBufHdr(id, state);
    Atomics.notify(this.words, cv);
  }

  // ---------------------------------------------------------------- reading

  /** The 8192 bytes of a buffer, as a view into shared memory. The caller must hold a pin. */
  bufferGetPage(buffer: BufferId): Uint8Array {
    const id = this.bufIdOf(buffer);
    let view = this.pageViews[id];
    if (view === undefined) {
      view = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
      this.pageViews[id] = view;
    }
    return view;
  }

  /** The whole page area and a buffer's byte offset in it, for hot paths that avoid views. */
  get pages(): Uint8Array {
    return this.pageBytes;
  }

  bufferGetPageOffset(buffer: BufferId): number {
    return this.bufIdOf(buffer) * BLCKSZ;
  }

  bufferGetTag(buffer: BufferId): BufferTag {
    return this.tagOf(this.pinnedBufId(buffer, "inspect"));
  }

  bufferGetBlockNumber(buffer: BufferId): number {
    const id = this.pinnedBufId(buffer, "inspect");
    return this.words[this.descSlot(id, D_TAG_BLOCK)]! >>> 0;
  }

  /**
   * ReadBuffer: returns the buffer holding (rel, fork, block), pinned. A hit pins it under the
   * partition lock; a miss (disk-backed only) takes a victim, writes it out if dirty, retags it and
   * reads the block. Memory-only: a block that is not in the pool does not exist.
   *
   * This method is the hit path and nothing else, kept small so that V8 compiles it (and what it
   * calls) into one piece: everything but a hit of a valid buffer goes to `readBufferSlow`.
   */
  readBuffer(
    rel: RelFileLocator,
    fork: number,
    block: number,
    options?: ReadBufferOptions,
  ): BufferId {
    if (this.detached) this.checkLive();
    if (!(block >>> 0 === block && block !== InvalidBlockNumber)) checkBlockNumber(block);
    if (!(fork >= 0 && fork <= 3 && (fork | 0) === fork)) checkForkNumber(fork);
    const spc = rel.spcOid;
    const db = rel.dbOid;
    const relNumber = rel.relNumber;
    if (relNumber !== this.hashRel || db !== this.hashDb || spc !== this.hashSpc) {
      this.setLastRelation(rel);
    }
    const hash = bufTableHashTail(this.hashHead, fork, block);
    // The hit path's fast path: look the tag up without the partition lock, pin what it finds,
    // and keep it if the pinned buffer really holds the tag (a pinned buffer is never retagged,
    // so the check stays true while we pin it).
    // Differs from PostgreSQL: BufferAlloc always looks up under the partition lock, shared.
    // Both end with the same buffer pinned; in a race with a retag or an eviction pgsim may
    // pin (and bump the usage count of) another buffer for a moment, then takes the locked path.
    const guess = this.table.lookupUnlocked(hash, spc, db, relNumber, fork, block);
    // −1: not mapped; −2 (CHAIN_TOO_LONG): the chain changed under us. Both: the locked lookup.
    if (guess < 0) return this.readBufferSlow(rel, fork, block, hash, options);
    const state = this.pinBuffer(guess, options?.strategy);
    // Whether the pinned buffer holds the tag: BM_TAG_VALID in the state our pin left, and the
    // five tag words, read after the pin (a pinned buffer is never retagged, so the answer holds
    // while we keep the pin). Written out here rather than called: V8 inlines a call only within
    // a bytecode budget, and this method's own code does not count against it.
    const w = this.words;
    const d = this.desc + guess * DESC_INTS;
    if (
      (state & BM_TAG_VALID) === 0 ||
      w[d + D_TAG_BLOCK] !== (block | 0) ||
      w[d + D_TAG_REL] !== (relNumber | 0) ||
      w[d + D_TAG_FORK] !== fork ||
      w[d + D_TAG_DB] !== (db | 0) ||
      w[d + D_TAG_SPC] !== (spc | 0)
    ) {
      this.unpinBuffer(guess);
      return this.readBufferSlow(rel, fork, block, hash, options);
    }
    if ((state & BM_VALID) === 0 || this.traceHook !== undefined) {
      return this.foundBuffer(guess, (state & BM_VALID) !== 0, rel, fork, block, options);
    }
    // A hit: pgBufferUsage's shared_blks_hit, and pgstat_count_buffer_read and _hit for the
    // relation (the last relation's counters are at hand, see setLastRelation).
    this.stats[this.statBase + STAT_HITS]!++;
    const counts = this.lastCounts;
    counts[fork * 2]!++;
    counts[fork * 2 + 1]!++;
    if (options !== undefined && options.mode === "zero-and-lock") {
      this.lockBuffer((guess + 1) as BufferId, "exclusive");
    }
    return (guess + 1) as BufferId;
  }

  /**
   * What readBuffer keeps per backend for the relation it read last: the tag hash's relation
   * half (bufTableHashHead) and the relation's block counters (RelationBlockCounter.countsOf).
   * Checks the relation first, so that a bad one gets its typed error.
   */
  private setLastRelation(rel: RelFileLocator): void {
    checkRelFileLocator(rel);
    bufTableHashHead(rel.spcOid, rel.dbOid, rel.relNumber, this.hashHead);
    this.lastCounts = this.blockCounts.countsOf(rel);
    this.hashRel = rel.relNumber;
    this.hashDb = rel.dbOid;
    this.hashSpc = rel.spcOid;
  }

  /** ReadBuffer when the unlocked lookup found nothing, or not the block: BufferAlloc's way. */
  private readBufferSlow(
    rel: RelFileLocator,
    fork: number,
    block: number,
    hash: number,
    options: ReadBufferOptions | undefined,
  ): BufferId {
    const spc = rel.spcOid;
    const db = rel.dbOid;
    const relNumber = rel.relNumber;
    const strategy = options?.strategy;
    const lockSlot = this.layout.partitionLocks + (hash & 127) * LWLOCK_INTS;
    lwlockAcquire(this.words, lockSlot, LW_SHARED);
    const found = this.table.lookup(hash, spc, db, relNumber, fork, block);
    if (found >= 0) {
      // Pin before releasing the partition lock, so the buffer cannot be retagged under us.
      const valid = (this.pinBuffer(found, strategy) & BM_VALID) !== 0;
      lwlockRelease(this.words, lockSlot, LW_SHARED);
      return this.foundBuffer(found, valid, rel, fork, block, options);
    }
    lwlockRelease(this.words, lockSlot, LW_SHARED);

    if (this.variant === "memory") {
      this.checkLive();
      checkRelFileLocator(rel);
      const nblocks = this.relSizes.get(rel, fork);
      const name = relationPath(rel, fork);
      if (nblocks < 0) {
        throw new PgsimError(
          "relation-not-found",
          `could not open file "${name}": No such file or directory`,
          { path: name },
        );
      }
      if (block < nblocks) {
        throw new AssertionError(`memory-only pool lost block ${block} of ${name}`);
      }
      throw new PgsimError(
        "data-corrupted",
        `could not read block ${block} in file "${name}": read only 0 of ${BLCKSZ} bytes`,
        { block, path: name, nblocks },
      );
    }
    if (this.traceHook !== undefined) this.traceHook(rel, fork, block, false);
    const id = this.bufferAllocMiss(rel, fork, block, hash, strategy);
    // bufferAllocMiss counted a hit if someone else loaded the block meanwhile.
    this.blockCounts.count(rel, fork, id < 0);
    if (id < 0) {
      // Someone else loaded the block meanwhile; we hold a pin on it and it is valid.
      const other = -id - 1;
      if (options?.mode === "zero-and-lock") this.lockBuffer((other + 1) as BufferId, "exclusive");
      return (other + 1) as BufferId;
    }
    this.readIntoBuffer(id, rel, fork, block, options);
    // RBM_ZERO_AND_LOCK: the zeroed page comes back locked (PostgreSQL locks it before it
    // marks it valid; see the README's differences).
    if (options?.mode === "zero-and-lock") this.lockBuffer((id + 1) as BufferId, "exclusive");
    return (id + 1) as BufferId;
  }

  /** ReadBuffer's end for a block found mapped: a hit, or the read of a buffer whose read failed. */
  private foundBuffer(
    id: number,
    valid: boolean,
    rel: RelFileLocator,
    fork: number,
    block: number,
    options: ReadBufferOptions | undefined,
  ): BufferId {
    if (this.traceHook !== undefined) this.traceHook(rel, fork, block, true);
    if (!valid && this.startBufferIO(id, true)) {
      // A mapped buffer whose earlier read failed: we read it now, a miss (BufferAlloc's
      // found = false), not a hit.
      this.blockCounts.count(rel, fork, false);
      this.readIntoBuffer(id, rel, fork, block, options);
    } else {
      this.stats[this.statBase + STAT_HITS]!++;
      this.blockCounts.count(rel, fork, true);
    }
    if (options?.mode === "zero-and-lock") this.lockBuffer((id + 1) as BufferId, "exclusive");
    return (id + 1) as BufferId;
  }

  /**
   * The I/O half of a miss: we own BM_IO_IN_PROGRESS and a pin. Reads (or zeroes) the page,
   * verifies it, and publishes BM_VALID. On failure the buffer stays tagged but not valid (the
   * next reader retries), our pin is dropped and the error propagates.
   */
  private readIntoBuffer(
    id: number,
    rel: RelFileLocator,
    fork: number,
    block: number,
    options: ReadBufferOptions | undefined,
  ): void {
    const page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
    const mode = options?.mode;
    try {
      if (mode === "zero-and-lock") {
        page.set(this.zeroPage); // copying is far faster than fill(0) on shared memory
      } else {
        this.smgr!.read(rel, fork, block, page);
        const verified = this.hooks.verifyPage?.(page, block) ?? true;
        if (verified !== true) {
          // PageIsVerified's WARNING comes first, then ReadBuffer's ERROR (or zeroing).
          if (typeof verified === "string") {
            process.emitWarning(verified, { code: "PGSIM_PAGE_VERIFICATION_FAILED" });
          }
          if (mode === "zero-on-error") {
            process.emitWarning(
              `invalid page in block ${block} of relation ${relationPath(rel, fork)}; zeroing out page`,
            );
            page.set(this.zeroPage); // copying is far faster than fill(0) on shared memory
          } else {
            throw new PgsimError(
              "data-corrupted",
              `invalid page in block ${block} of relation ${relationPath(rel, fork)}`,
              { block, ...(typeof verified === "string" ? { reason: verified } : {}) },
            );
          }
        }
      }
    } catch (e) {
      this.abortBufferIO(id);
      throw e;
    }
    this.stats[this.statBase + STAT_READS]!++;
    this.terminateBufferIO(id, false, BM_VALID);
  }

  /**
   * BufferAlloc's miss path (disk-backed): finds a victim, flushes it if dirty, and retags it for
   * the new block holding both partition locks. Returns the buf_id, pinned, with
   * BM_IO_IN_PROGRESS set for us to do the read; or −(buf_id + 1) when another backend mapped
   * the block first (then that buffer is pinned and valid, or its read has completed).
   *
   * The steps, as in bufmgr.c's BufferAlloc (PostgreSQL 16 gives the first and third their own
   * functions, GetVictimBuffer and InvalidateVictimBuffer):
   *   1. `getVictimBuffer`: StrategyGetBuffer, PinBuffer_Locked, and FlushBuffer if it is dirty.
   *   2. `lockMappingPartitions`: the old tag's and the new tag's partition locks, exclusively,
   *      the lower-numbered first.
   *   3. BufTableInsert of the new tag; on a collision someone else loaded the block: use theirs.
   *   4. `retagVictim`: under the header lock, if the victim is still only ours and clean, give it
   *      the new tag; then delete the old mapping. Otherwise undo and start over.
   *   5. StartBufferIO for the read.
   */
  private bufferAllocMiss(
    rel: RelFileLocator,
    fork: number,
    block: number,
    hash: number,
    strategy: BufferAccessStrategy | undefined,
  ): number {
    const w = this.words;
    const newLock = this.partitionLockSlot(hash % NUM_BUFFER_PARTITIONS);
    for (let attempt = 0; ; attempt++) {
      if (attempt > 100_000) throw new AssertionError("BufferAlloc: no victim after many tries");
      const id = this.getVictimBuffer(strategy);
      if (id < 0) continue;
      // The tag cannot change while we hold a pin.
      const oldTag = (this.headers.readState(id) & BM_TAG_VALID) !== 0 ? this.tagOf(id) : undefined;
      const oldHash =
        oldTag === undefined
          ? 0
          : bufTableHashCode(
              oldTag.spcOid,
              oldTag.dbOid,
              oldTag.relNumber,
              oldTag.fork,
              oldTag.block,
            );
      const oldLock =
        oldTag === undefined ? -1 : this.partitionLockSlot(oldHash % NUM_BUFFER_PARTITIONS);
      this.lockMappingPartitions(oldLock, newLock);
      const existing = this.table.insert(
        hash,
        rel.spcOid,
        rel.dbOid,
        rel.relNumber,
        fork,
        block,
        id,
      );
      if (existing >= 0) {
        // Another backend loaded the block while we were evicting: use theirs.
        this.unpinBuffer(id);
        if (oldLock >= 0 && oldLock !== newLock) lwlockRelease(w, oldLock, LW_EXCLUSIVE);
        const valid = (this.pinBuffer(existing, strategy) & BM_VALID) !== 0;
        lwlockRelease(w, newLock, LW_EXCLUSIVE);
        this.stats[this.statBase + STAT_HITS]!++;
        if (!valid && this.startBufferIO(existing, true)) {
          this.readIntoBuffer(existing, rel, fork, block, undefined);
        }
        return -(existing + 1);
      }
      if (this.retagVictim(id, rel, fork, block)) {
        if (oldTag !== undefined) {
          this.table.delete(
            oldHash,
            oldTag.spcOid,
            oldTag.dbOid,
            oldTag.relNumber,
            oldTag.fork,
            oldTag.block,
          );
          this.stats[this.statBase + STAT_EVICTIONS]!++;
        }
        this.unlockMappingPartitions(oldLock, newLock);
        // Another backend may have found the new mapping, pinned the buffer and completed the
        // read while we released the partition locks: then the page is valid and ours to use.
        return this.startBufferIO(id, true) ? id : -(id + 1);
      }
      // Someone pinned or re-dirtied it meanwhile: undo and try another victim.
      this.table.delete(hash, rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
      this.unlockMappingPartitions(oldLock, newLock);
      this.unpinBuffer(id);
    }
  }

  /**
   * The victim search of BufferAlloc (GetVictimBuffer in PostgreSQL 16): StrategyGetBuffer hands
   * back a buffer with refcount 0 and its header locked; PinBuffer_Locked pins it and releases the
   * header lock; a dirty victim is written out first (`flushVictimBuffer`). Returns the buf_id,
   * pinned, or −1 when the dirty victim could not be written now (it is unpinned again and the
   * caller picks another).
   */
  private getVictimBuffer(strategy: BufferAccessStrategy | undefined): number {
    // The victim comes back with its header locked: make sure its pin can be recorded first.
    this.ledger.reserve();
    const id = this.strategyControl.strategyGetBuffer(this.search, strategy);
    const victimState = this.search.state;
    this.pinBufferLocked(id, victimState);
    let flushed: boolean;
    try {
      flushed = (victimState & BM_DIRTY) === 0 || this.flushVictimBuffer(id, strategy);
    } catch (e) {
      // The write failed (EIO, ENOSPC: the buffer stays dirty with BM_IO_ERROR). The statement
      // fails; the victim's pin goes, as the resource owner releases it at abort in PostgreSQL.
      this.unpinBuffer(id);
      throw e;
    }
    if (!flushed) {
      this.unpinBuffer(id);
      return -1;
    }
    return id;
  }

  /**
   * BufferAlloc's "if the buffer was dirty, try to write it out": FlushBuffer under a share
   * content lock taken conditionally. Someone holding the lock exclusively may be changing the
   * page: rather than wait (and risk deadlock), returns false and the caller picks another
   * victim. A bulk read also gives up a dirty buffer from its ring whose write would first need
   * a WAL flush (XLogNeedsFlush + StrategyRejectBuffer): it returns false after the ring forgot
   * the buffer. The caller holds a pin.
   */
  private flushVictimBuffer(id: number, strategy: BufferAccessStrategy | undefined): boolean {
    const w = this.words;
    const lockSlot = this.descSlot(id, D_CONTENT_LOCK);
    if (!lwlockConditionalAcquire(w, lockSlot, LW_SHARED)) return false;
    if (strategy !== undefined && this.hooks.xlogNeedsFlush !== undefined) {
      // Read the LSN while holding the buffer header lock.
      const state = this.lockBufHdr(id);
      const lsn = pageGetLsn(this.pageBytes, id * BLCKSZ);
      this.unlockBufHdr(id, state);
      if (this.hooks.xlogNeedsFlush(lsn) && strategy.rejectBuffer(id)) {
        lwlockRelease(w, lockSlot, LW_SHARED);
        return false;
      }
    }
    this.heldContentLock[id] = LW_SHARED;
    this.ledger.lock(id, LW_SHARED);
    try {
      this.flushBufferLocked(id);
    } finally {
      this.heldContentLock[id] = NO_CONTENT_LOCK;
      this.ledger.unlock(id);
      lwlockRelease(w, lockSlot, LW_SHARED);
    }
    return true;
  }

  /**
   * Takes the mapping partition locks BufferAlloc needs to move a buffer from its old tag (lock
   * slot `oldLock`, −1 when the victim had no tag) to the new one, exclusively and the
   * lower-numbered first, so that two backends never wait for each other; one lock when both
   * tags fall in the same partition.
   */
  private lockMappingPartitions(oldLock: number, newLock: number): void {
    const w = this.words;
    if (oldLock < 0 || oldLock === newLock) {
      lwlockAcquire(w, newLock, LW_EXCLUSIVE);
    } else if (oldLock < newLock) {
      lwlockAcquire(w, oldLock, LW_EXCLUSIVE);
      lwlockAcquire(w, newLock, LW_EXCLUSIVE);
    } else {
      lwlockAcquire(w, newLock, LW_EXCLUSIVE);
      lwlockAcquire(w, oldLock, LW_EXCLUSIVE);
    }
  }

  /** Releases what `lockMappingPartitions` took. */
  private unlockMappingPartitions(oldLock: number, newLock: number): void {
    const w = this.words;
    if (oldLock >= 0 && oldLock !== newLock) lwlockRelease(w, oldLock, LW_EXCLUSIVE);
    lwlockRelease(w, newLock, LW_EXCLUSIVE);
  }

  /**
   * The retagging step of BufferAlloc (InvalidateVictimBuffer's check in PostgreSQL 16): under
   * the header lock, if ours is still the only pin and the buffer is still clean, gives it the
   * new tag with a usage count of 1, not valid, and returns true. Otherwise someone pinned or
   * re-dirtied it while we wrote it out or took the partition locks: returns false with nothing
   * changed. The caller holds both partition locks and the new mapping.
   */
  private retagVictim(id: number, rel: RelFileLocator, fork: number, block: number): boolean {
    const state = this.lockBufHdr(id);
    if (bufStateGetRefcount(state) !== 1 || (state & BM_DIRTY) !== 0) {
      this.unlockBufHdr(id, state);
      return false;
    }
    this.setTag(id, rel, fork, block);
    let next =
      state &
      ~(
        BM_VALID |
        BM_DIRTY |
        BM_JUST_DIRTIED |
        BM_CHECKPOINT_NEEDED |
        BM_IO_ERROR |
        BM_PERMANENT |
        BUF_USAGECOUNT_MASK
      );
    next |= BM_TAG_VALID | BUF_USAGECOUNT_ONE | BM_PERMANENT;
    this.unlockBufHdr(id, next);
    return true;
  }

  // ---------------------------------------------------------------- extending

  /**
   * ReadBuffer(P_NEW): appends a zeroed block to the fork and returns it pinned (valid, not dirty;
   * the caller initialises the page and marks it dirty). Serialised per relation by an extension
   * lock, as callers in PostgreSQL take LockRelationForExtension.
   *
   * With `mode: "zero-and-lock"` (ReadBuffer(P_NEW, RBM_ZERO_AND_LOCK)) the buffer comes back
   * exclusively locked, and the lock is taken before any other backend can reach the block: before
   * the page is marked valid (disk) or the fork's new size is published (memory), and so before
   * the extension lock is released. A backend that finds the new block as the relation's last one
   * then waits until the extender has initialised the page and let go of it (hio.c relies on
   * this). Without it, the caller locks the page after other backends may already have used it.
   */
  extend(rel: RelFileLocator, fork: number, options?: ReadBufferOptions): BufferId {
    this.checkLive();
    checkRelFileLocator(rel);
    checkForkNumber(fork);
    const lock = options?.mode === "zero-and-lock";
    const extLock = this.extensionLockSlot(rel);
    lwlockAcquire(this.words, extLock, LW_EXCLUSIVE);
    try {
      const buffer =
        this.variant === "memory"
          ? this.extendMemory(rel, fork, lock)
          : this.extendDisk(rel, fork, options?.strategy, lock);
      // ReadBufferExtended counts P_NEW as a block fetched (and never a hit).
      this.blockCounts.count(rel, fork, false);
      if (this.traceHook !== undefined) {
        this.traceHook(rel, fork, this.bufferGetBlockNumber(buffer), false);
      }
      return buffer;
    } finally {
      lwlockRelease(this.words, extLock, LW_EXCLUSIVE);
    }
  }

  private extendDisk(
    rel: RelFileLocator,
    fork: number,
    strategy: BufferAccessStrategy | undefined,
    lock: boolean,
  ): BufferId {
    // Under the extension lock: the cached size is exact (only extension and truncation change
    // it, both under this lock).
    const block = this.diskNblocksLocked(rel, fork);
    if (block > MaxBlockNumber) {
      throw new PgsimError(
        "program-limit-exceeded",
        `cannot extend relation ${relationPath(rel, fork)} beyond ${InvalidBlockNumber} blocks`,
      );
    }
    const hash = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
    const lockSlot = this.partitionLockSlot(hash % NUM_BUFFER_PARTITIONS);
    lwlockAcquire(this.words, lockSlot, LW_SHARED);
    let id = this.table.lookup(hash, rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
    if (id >= 0) {
      // A buffer for a block past the end: left by a failed extension or a failed read of a
      // block that was not there. A valid one must hold no data (PageIsNew); a not-valid one
      // holds whatever its last user left, which the extension overwrites.
      const valid = (this.pinBuffer(id, strategy) & BM_VALID) !== 0;
      lwlockRelease(this.words, lockSlot, LW_SHARED);
      const page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
      if (valid && (page[14] !== 0 || page[15] !== 0)) {
        this.unpinBuffer(id);
        throw new PgsimError(
          "data-corrupted",
          `unexpected data beyond EOF in block ${block} of relation ${relationPath(rel, fork)}`,
        );
      }
      for (let tries = 0; ; tries++) {
        if (tries > 1000) throw new AssertionError("extend: could not start I/O on a stale buffer");
        const state = this.lockBufHdr(id);
        this.unlockBufHdr(id, state & ~BM_VALID);
        if (this.startBufferIO(id, true)) break;
      }
    } else {
      lwlockRelease(this.words, lockSlot, LW_SHARED);
      const r = this.bufferAllocMiss(rel, fork, block, hash, strategy);
      if (r < 0) throw new AssertionError("extend: block past the end appeared concurrently");
      id = r;
    }
    const page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
    page.set(this.zeroPage); // copying is far faster than fill(0) on shared memory
    try {
      this.smgr!.extend(rel, fork, block, this.zeroPage);
    } catch (e) {
      // The file may have grown by part of a block (a short write): the next size is measured
      // from the file again, as mdnblocks would.
      this.relSizes.remove(rel, fork);
      this.abortBufferIO(id);
      throw e;
    }
    this.relSizes.remember(rel, fork, block + 1);
    this.stats[this.statBase + STAT_EXTENDS]!++;
    // RBM_ZERO_AND_LOCK: the content lock before BM_VALID. A backend that already sees the new
    // block (the file has grown) and pinned the buffer waits for our I/O, then for this lock.
    if (lock) this.lockBuffer((id + 1) as BufferId, "exclusive");
    this.terminateBufferIO(id, false, BM_VALID);
    return (id + 1) as BufferId;
  }

  private extendMemory(rel: RelFileLocator, fork: number, lock: boolean): BufferId {
    const nblocks = this.relSizes.get(rel, fork);
    const name = relationPath(rel, fork);
    if (nblocks < 0) {
      throw new PgsimError(
        "relation-not-found",
        `could not open file "${name}": No such file or directory`,
        { path: name },
      );
    }
    if (nblocks > MaxBlockNumber) {
      throw new PgsimError(
        "program-limit-exceeded",
        `cannot extend relation ${name} beyond ${InvalidBlockNumber} blocks`,
      );
    }
    // The pool is the storage: a new block takes a free buffer and never evicts anything.
    this.ledger.reserve();
    const id = this.strategyControl.popFreeList();
    if (id < 0) {
      const mb = Math.round((this.bufferCount * BLCKSZ) / (1024 * 1024));
      throw new PgsimError(
        "memory-pool-full",
        `memory-only buffer pool is full: all ${this.bufferCount} buffers (${mb} MB) hold pages, ` +
          `so block ${nblocks} of ${name} cannot be added. A memory-only pool is the storage and ` +
          "never evicts: delete rows and VACUUM to give pages back, drop or truncate relations, " +
          "or start the pool with more buffers (bufferCount).",
        { bufferCount: this.bufferCount, relation: name, block: nblocks },
      );
    }
    const block = nblocks;
    const hash = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
    const lockSlot = this.partitionLockSlot(hash % NUM_BUFFER_PARTITIONS);
    const page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
    page.set(this.zeroPage); // copying is far faster than fill(0) on shared memory
    lwlockAcquire(this.words, lockSlot, LW_EXCLUSIVE);
    const existing = this.table.insert(hash, rel.spcOid, rel.dbOid, rel.relNumber, fork, block, id);
    if (existing >= 0) {
      lwlockRelease(this.words, lockSlot, LW_EXCLUSIVE);
      this.strategyControl.strategyFreeBuffer(id);
      throw new AssertionError(`memory-only pool already maps block ${block} of ${name}`);
    }
    let state = this.lockBufHdr(id);
    if ((state & (BUF_REFCOUNT_MASK | BUF_USAGECOUNT_MASK)) !== 0) {
      throw new AssertionError("a buffer on the free list was in use");
    }
    this.setTag(id, rel, fork, block);
    state = (state & ~BUF_USAGECOUNT_MASK) | BM_TAG_VALID | BM_VALID | BM_PERMANENT;
    state += BUF_USAGECOUNT_ONE + 1;
    this.unlockBufHdr(id, state);
    this.ledger.pin(id);
    this.privateRefCount[id] = 1;
    this.pinnedBufferCount++;
    lwlockRelease(this.words, lockSlot, LW_EXCLUSIVE);
    // RBM_ZERO_AND_LOCK: the content lock before the fork's new size is published, so no other
    // backend can reach the block (every path to it asks nblocks first) before we have it locked.
    if (lock) this.lockBuffer((id + 1) as BufferId, "exclusive");
    this.relSizes.set(rel, fork, block + 1);
    this.stats[this.statBase + STAT_EXTENDS]!++;
    return (id + 1) as BufferId;
  }

  // ---------------------------------------------------------------- pins, public

  releaseBuffer(buffer: BufferId): void {
    // pinnedBufId's checks, written out for the hit path; it words the error.
    const id = (buffer as number) - 1;
    const ref = id >= 0 && id < this.bufferCount ? this.privateRefCount[id | 0]! : 0;
    if (ref === 0 || (id | 0) !== id) this.pinnedBufId(buffer, "release");
    if (ref === 1 && this.heldContentLock[id] !== NO_CONTENT_LOCK) {
      if (this.cleaningUpAfterPanic()) {
        // An error unwinding after a PANIC (a hint's image could not be logged, say): the
        // lock goes with the pin, as a PostgreSQL backend's exit releases everything.
        this.unlockBuffer(buffer);
        this.unpinBuffer(id);
        return;
      }
      throw new PgsimError(
        "lock-held",
        `cannot release the last pin on buffer ${String(buffer)} while holding its content lock`,
        { buffer },
      );
    }
    this.unpinBuffer(id);
  }

  incrBufferRefCount(buffer: BufferId): void {
    const id = this.pinnedBufId(buffer, "add a pin to");
    this.privateRefCount[id]!++;
  }

  unlockReleaseBuffer(buffer: BufferId): void {
    this.unlockBuffer(buffer);
    this.releaseBuffer(buffer);
  }

  // ---------------------------------------------------------------- dirtying

  markBufferDirty(buffer: BufferId): void {
    const id = this.pinnedBufId(buffer, "mark dirty");
    if (this.heldContentLock[id] !== LW_EXCLUSIVE) {
      throw new PgsimError(
        "lock-not-held",
        `cannot mark buffer ${String(buffer)} dirty without holding its content lock exclusively`,
        { buffer },
      );
    }
    const w = this.words;
    const slot = this.stateSlot(id);
    let old = Atomics.load(w, slot);
    for (;;) {
      if ((old & BM_LOCKED) !== 0) old = this.headers.waitBufHdrUnlocked(id);
      const seen = Atomics.compareExchange(w, slot, old, old | BM_DIRTY | BM_JUST_DIRTIED);
      if (seen === old) break;
      old = seen;
    }
    if ((old & BM_DIRTY) === 0) this.stats[this.statBase + STAT_DIRTIED]!++;
  }

  /**
   * MarkBufferDirtyHint: for hint bits, under a share lock. Returns at once if the buffer is
   * dirty and just-dirtied. With a `logHint` hook (hint bits need WAL: checksums on) and a
   * permanent buffer, first logs the page's full-page image when this is its first change since
   * the checkpoint — inside `delayCheckpoint`, from a copy taken under the buffer header lock —
   * and sets the page's LSN to the image's if the buffer was clean (under the header lock, as
   * readers holding a share lock read the LSN under it too). `bufferStd` defaults to the standard
   * layout except for free space map pages, whose contents live in the "hole" (fsm_set_avail
   * passes buffer_std = false).
   *
   * Differs from PostgreSQL: no RecoveryInProgress / RelFileNodeSkippingWAL checks (the hook
   * decides, and recovery runs without it).
   */
  markBufferDirtyHint(buffer: BufferId, bufferStd?: boolean): void {
    const id = this.pinnedBufId(buffer, "mark dirty");
    if (this.heldContentLock[id] === NO_CONTENT_LOCK) {
      throw new PgsimError(
        "lock-not-held",
        `cannot set hint bits on buffer ${String(buffer)} without holding its content lock`,
        { buffer },
      );
    }
    const st = this.headers.readState(id);
    if ((st & (BM_DIRTY | BM_JUST_DIRTIED)) === (BM_DIRTY | BM_JUST_DIRTIED)) return;
    let lsn: bigint | undefined;
    const logHint = this.hooks.logHint;
    const delaying = logHint !== undefined && this.variant === "disk" && (st & BM_PERMANENT) !== 0;
    if (delaying) {
      this.hooks.delayCheckpoint?.(true);
      try {
        const tag = this.tagOf(id);
        const page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
        const copy = new Uint8Array(BLCKSZ);
        const hdr = this.lockBufHdr(id);
        copy.set(page);
        this.unlockBufHdr(id, hdr);
        lsn = logHint(copy, tag, bufferStd ?? tag.fork !== FSM_FORKNUM);
      } catch (e) {
        this.hooks.delayCheckpoint?.(false);
        throw e;
      }
    }
    const state = this.lockBufHdr(id);
    if ((state & BM_DIRTY) === 0) {
      this.stats[this.statBase + STAT_DIRTIED]!++;
      if (lsn !== undefined && lsn !== 0n) {
        pageSetLsn(this.pageBytes, id * BLCKSZ, lsn);
      }
    }
    this.unlockBufHdr(id, state | BM_DIRTY | BM_JUST_DIRTIED);
    if (delaying) this.hooks.delayCheckpoint?.(false);
  }

  // ---------------------------------------------------------------- content locks

  lockBuffer(buffer: BufferId, mode: BufferLockMode): void {
    const id = this.pinnedBufId(buffer, "lock");
    const lw = mode === "exclusive" ? LW_EXCLUSIVE : mode === "share" ? LW_SHARED : 0;
    if (lw === 0) {
      throw new PgsimError("invalid-lock-mode", `unrecognized buffer lock mode: ${String(mode)}`);
    }
    if (this.heldContentLock[id] !== NO_CONTENT_LOCK) {
      throw new PgsimError(
        "lock-already-held",
        `buffer ${String(buffer)}'s content lock is already held by this backend (locks are not re-entrant)`,
        { buffer },
      );
    }
    lwlockAcquire(this.words, this.descSlot(id, D_CONTENT_LOCK), lw);
    this.heldContentLock[id] = lw;
    this.ledger.lock(id, lw);
  }

  conditionalLockBuffer(buffer: BufferId): boolean {
    const id = this.pinnedBufId(buffer, "lock");
    if (this.heldContentLock[id] !== NO_CONTENT_LOCK) {
      throw new PgsimError(
        "lock-already-held",
        `buffer ${String(buffer)}'s content lock is already held by this backend`,
        { buffer },
      );
    }
    if (!lwlockConditionalAcquire(this.words, this.descSlot(id, D_CONTENT_LOCK), LW_EXCLUSIVE)) {
      return false;
    }
    this.heldContentLock[id] = LW_EXCLUSIVE;
    this.ledger.lock(id, LW_EXCLUSIVE);
    return true;
  }

  unlockBuffer(buffer: BufferId): void {
    const id = this.bufIdOf(buffer);
    const held = this.heldContentLock[id]!;
    if (held === NO_CONTENT_LOCK) {
      // Cleanup code after a PANIC may release what an earlier error path already released.
      if (this.cleaningUpAfterPanic()) return;
      throw new PgsimError(
        "lock-not-held",
        `content lock of buffer ${String(buffer)} is not held by this backend`,
        { buffer },
      );
    }
    this.heldContentLock[id] = NO_CONTENT_LOCK;
    this.ledger.unlock(id);
    lwlockRelease(this.words, this.descSlot(id, D_CONTENT_LOCK), held as 1 | 2);
  }

  /**
   * Whether the database has stopped with a PANIC. Then the misuse checks of releasing a pin
   * with its content lock held, or a lock not held, give way: they can only be error paths
   * unwinding (a PostgreSQL backend exits at a PANIC and releases everything it holds), and a
   * secondary error would hide the PANIC's crash-shutdown.
   */
  private cleaningUpAfterPanic(): boolean {
    return this.faults.panicked() !== undefined;
  }

  /** BufferIsLockedByMe (PostgreSQL 17): whether this backend holds the buffer's content lock. */
  holdsContentLock(buffer: BufferId): boolean {
    return this.heldContentLock[this.bufIdOf(buffer)] !== NO_CONTENT_LOCK;
  }

  /**
   * LockBufferForCleanup: an exclusive content lock while no other backend holds a pin. Waits
   * (releasing the content lock) until the other pins are gone. Only one waiter per buffer.
   */
  lockBufferForCleanup(buffer: BufferId): void {
    const id = this.pinnedBufId(buffer, "lock");
    if (this.privateRefCount[id] !== 1) {
      throw new PgsimError(
        "invalid-pin-count",
        `incorrect local pin count: ${this.privateRefCount[id]}`,
      );
    }
    const deadline = Date.now() + PIN_WAIT_MAX_MS;
    const latch = this.latchSlot(this.procNumber);
    for (;;) {
      this.lockBuffer(buffer, "exclusive");
      let state = this.lockBufHdr(id);
      if (bufStateGetRefcount(state) === 1) {
        this.unlockBufHdr(id, state);
        return;
      }
      if ((state & BM_PIN_COUNT_WAITER) !== 0) {
        this.unlockBufHdr(id, state);
        this.unlockBuffer(buffer);
        throw new PgsimError(
          "cleanup-lock-conflict",
          "multiple backends attempting to wait for pincount 1",
        );
      }
      this.words[this.descSlot(id, D_WAIT_BACKEND)] = this.procNumber;
      const seq = Atomics.load(this.words, latch);
      this.unlockBufHdr(id, state | BM_PIN_COUNT_WAITER);
      this.unlockBuffer(buffer);
      Atomics.wait(this.words, latch, seq, WAIT_SLICE_MS);
      // Woken, or timed out: take our flag back if it is still there, then look again.
      state = this.lockBufHdr(id);
      if (
        (state & BM_PIN_COUNT_WAITER) !== 0 &&
        this.words[this.descSlot(id, D_WAIT_BACKEND)] === this.procNumber
      ) {
        state &= ~BM_PIN_COUNT_WAITER;
      }
      this.unlockBufHdr(id, state);
      if (Date.now() > deadline) {
        throw new AssertionError("LockBufferForCleanup waited too long: a pin was leaked");
      }
    }
  }

  conditionalLockBufferForCleanup(buffer: BufferId): boolean {
    const id = this.pinnedBufId(buffer, "lock");
    if (this.privateRefCount[id] !== 1) return false;
    if (!this.conditionalLockBuffer(buffer)) return false;
    const state = this.headers.readState(id);
    if (bufStateGetRefcount(state) === 1) return true;
    this.unlockBuffer(buffer);
    return false;
  }

  /** IsBufferCleanupOK: we hold the exclusive lock, and ours is the only pin. */
  isBufferCleanupOK(buffer: BufferId): boolean {
    const id = this.pinnedBufId(buffer, "inspect");
    return (
      this.heldContentLock[id] === LW_EXCLUSIVE &&
      this.privateRefCount[id] === 1 &&
      bufStateGetRefcount(this.headers.readState(id)) === 1
    );
  }

  // ---------------------------------------------------------------- writing

  /**
   * FlushBuffer: writes a dirty page. Caller holds a pin and the content lock (share is enough).
   * Returns whether this call wrote it.
   */
  private flushBufferLocked(id: number): boolean {
    if (this.variant === "memory") return false;
    // After a PANIC nothing more is written: the pages may be ahead of the durable WAL.
    this.faults.checkNotPanicked();
    if (!this.startBufferIO(id, false)) return false;
    // The page's LSN is read under the header lock: MarkBufferDirtyHint sets it under that lock
    // while others hold only a share lock.
    const state = this.lockBufHdr(id);
    const recptr = pageGetLsn(this.pageBytes, id * BLCKSZ);
    this.unlockBufHdr(id, state & ~BM_JUST_DIRTIED);
    const tag = this.tagOf(id);
    // WAL before data: the WAL up to the page's LSN is durable before the page is written.
    if (this.hooks.xlogFlush && (state & BM_PERMANENT) !== 0) {
      try {
        this.hooks.xlogFlush(recptr, tag);
      } catch (e) {
        this.terminateBufferIO(id, false, BM_IO_ERROR);
        throw e;
      }
    }
    let page = this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ);
    if (this.hooks.setChecksum) {
      // PageSetChecksumCopy: hint bits may change under a share lock, so checksum a copy.
      this.scratch.set(page);
      page = this.scratch;
      this.hooks.setChecksum(page, tag.block);
    }
    try {
      this.smgr!.write(
        { spcOid: tag.spcOid, dbOid: tag.dbOid, relNumber: tag.relNumber },
        tag.fork,
        tag.block,
        page,
      );
    } catch (e) {
      if ((state & BM_IO_ERROR) !== 0) {
        // AbortBufferIO: the write failed before too.
        process.emitWarning(
          `could not write block ${tag.block} of ${relationPath(tag, tag.fork)}: Multiple failures --- write error might be permanent.`,
          { code: "PGSIM_WRITE_ERROR_REPEATED" },
        );
      }
      this.terminateBufferIO(id, false, BM_IO_ERROR);
      throw e;
    }
    this.stats[this.statBase + STAT_WRITES]!++;
    this.terminateBufferIO(id, true, 0);
    return true;
  }

  /**
   * FlushOneBuffer: writes the buffer if dirty. The caller holds a pin and the content lock.
   * Memory-only pools have nowhere to write: this does nothing there.
   */
  flushBuffer(buffer: BufferId): boolean {
    const id = this.pinnedBufId(buffer, "flush");
    if (this.heldContentLock[id] === NO_CONTENT_LOCK) {
      throw new PgsimError(
        "lock-not-held",
        `cannot flush buffer ${String(buffer)} without holding its content lock`,
        { buffer },
      );
    }
    return this.flushBufferLocked(id);
  }

  /** SyncOneBuffer: flush one buffer if valid and dirty, pinning and share-locking it. */
  private syncOneBuffer(id: number): boolean {
    this.ledger.reserve();
    const state = this.lockBufHdr(id);
    if ((state & (BM_VALID | BM_DIRTY)) !== (BM_VALID | BM_DIRTY)) {
      this.unlockBufHdr(id, state);
      return false;
    }
    if (this.privateRefCount[id]! > 0) {
      // We already pin it: take another private pin instead of PinBuffer_Locked.
      this.unlockBufHdr(id, state);
      this.privateRefCount[id]!++;
    } else {
      this.pinBufferLocked(id, state);
    }
    const lockSlot = this.descSlot(id, D_CONTENT_LOCK);
    const ownLock = this.heldContentLock[id] !== NO_CONTENT_LOCK;
    if (!ownLock) {
      lwlockAcquire(this.words, lockSlot, LW_SHARED);
      this.ledger.lock(id, LW_SHARED);
    }
    let wrote: boolean;
    try {
      wrote = this.flushBufferLocked(id);
    } finally {
      if (!ownLock) {
        this.ledger.unlock(id);
        lwlockRelease(this.words, lockSlot, LW_SHARED);
      }
      this.unpinBuffer(id);
    }
    return wrote;
  }

  /**
   * A checkpoint (BufferSync + ProcessSyncRequests): marks every dirty buffer, writes them sorted
   * by tag, then fsyncs the relation files. Pages dirtied after the marking wait for the next one.
   * Memory-only pools have nothing to write.
   *
   * Differs from PostgreSQL: no write pacing (checkpoint_completion_target), no per-tablespace
   * balancing, and the sort array is backend-private rather than in shared memory.
   */
  checkpoint(options: { readonly sync?: boolean } = {}): CheckpointResult {
    this.checkLive();
    if (this.variant === "memory") return { buffersWritten: 0, filesSynced: 0 };
    this.faults.checkNotPanicked();
    const toWrite: { id: number; tag: BufferTag }[] = [];
    for (let id = 0; id < this.bufferCount; id++) {
      const state = this.lockBufHdr(id);
      if ((state & (BM_DIRTY | BM_PERMANENT)) === (BM_DIRTY | BM_PERMANENT)) {
        this.unlockBufHdr(id, state | BM_CHECKPOINT_NEEDED);
        toWrite.push({ id, tag: this.tagOf(id) });
      } else {
        this.unlockBufHdr(id, state);
      }
    }
    // Sorted by (tablespace, relation, fork, block), as CkptBufferIds are: sequential writes.
    toWrite.sort(
      (a, b) =>
        a.tag.spcOid - b.tag.spcOid ||
        a.tag.relNumber - b.tag.relNumber ||
        a.tag.fork - b.tag.fork ||
        a.tag.block - b.tag.block,
    );
    let buffersWritten = 0;
    for (const { id } of toWrite) {
      if ((this.headers.readState(id) & BM_CHECKPOINT_NEEDED) === 0) continue;
      if (this.syncOneBuffer(id)) buffersWritten++;
    }
    const filesSynced = options.sync === false ? 0 : this.smgr!.syncAll();
    return { buffersWritten, filesSynced };
  }

  // ---------------------------------------------------------------- relations

  createRelation(rel: RelFileLocator, fork: number): void {
    this.checkLive();
    checkRelFileLocator(rel);
    checkForkNumber(fork);
    if (this.variant === "memory") this.relSizes.create(rel, fork, relationPath(rel, fork));
    else {
      this.smgr!.create(rel, fork);
      this.relSizes.remove(rel, fork);
    }
  }

  relationExists(rel: RelFileLocator, fork: number): boolean {
    this.checkLive();
    checkRelFileLocator(rel);
    checkForkNumber(fork);
    return this.variant === "memory"
      ? this.relSizes.exists(rel, fork)
      : this.smgr!.exists(rel, fork);
  }

  nblocks(rel: RelFileLocator, fork: number): number {
    this.checkLive();
    checkRelFileLocator(rel);
    checkForkNumber(fork);
    if (this.variant === "disk") {
      const cached = this.relSizes.get(rel, fork);
      if (cached >= 0) return cached;
      const extLock = this.extensionLockSlot(rel);
      lwlockAcquire(this.words, extLock, LW_EXCLUSIVE);
      try {
        return this.diskNblocksLocked(rel, fork);
      } finally {
        lwlockRelease(this.words, extLock, LW_EXCLUSIVE);
      }
    }
    const n = this.relSizes.get(rel, fork);
    if (n < 0) {
      const name = relationPath(rel, fork);
      throw new PgsimError(
        "relation-not-found",
        `could not open file "${name}": No such file or directory`,
        { path: name },
      );
    }
    return n;
  }

  /**
   * smgrnblocks for the disk-backed pool, with the relation's extension lock held: the shared
   * fork-size cache (smgr_cached_nblocks), or mdnblocks (one fstat per segment) whose answer is
   * then cached. Extension and truncation keep the cached size exact; dropping or creating the
   * fork forgets it.
   *
   * Differs from PostgreSQL: PostgreSQL 15 trusts smgr_cached_nblocks only during recovery and
   * otherwise asks the kernel (lseek) on every smgrnblocks; pgsim keeps one size per fork in
   * shared memory, changed only under the extension lock, so every backend sees every extension
   * at once without a system call. (PostgreSQL 16 extends the use of the cache.)
   */
  private diskNblocksLocked(rel: RelFileLocator, fork: number): number {
    const cached = this.relSizes.get(rel, fork);
    if (cached >= 0) return cached;
    const n = this.smgr!.nblocks(rel, fork);
    this.relSizes.remember(rel, fork, n);
    return n;
  }

  /**
   * smgrtruncate: drops the fork's buffers at or past `nblocks` (discarding dirty data, as
   * PostgreSQL does), then shortens the fork. For memory-only pools the buffers return to the
   * free list. The caller must keep other backends away from the relation meanwhile.
   */
  truncateRelation(rel: RelFileLocator, fork: number, nblocks: number): void {
    this.checkLive();
    checkRelFileLocator(rel);
    checkForkNumber(fork);
    const current = this.nblocks(rel, fork);
    if (!Number.isInteger(nblocks) || nblocks < 0 || nblocks > current) {
      throw new PgsimError(
        "invalid-truncate",
        `could not truncate file "${relationPath(rel, fork)}" to ${String(nblocks)} blocks: it's only ${current} blocks now`,
        { nblocks, current },
      );
    }
    const extLock = this.extensionLockSlot(rel);
    lwlockAcquire(this.words, extLock, LW_EXCLUSIVE);
    try {
      this.dropBuffers(rel, [fork], [nblocks]);
      if (this.variant === "memory") this.relSizes.set(rel, fork, nblocks);
      else {
        try {
          this.relSizes.remove(rel, fork);
          this.smgr!.truncate(rel, fork, nblocks);
          this.relSizes.remember(rel, fork, nblocks);
        } catch (e) {
          // The buffers of the cut blocks are gone: their older versions on disk would come
          // back (rows deleted since the last checkpoint reappearing). Only crash recovery,
          // which replays the logged truncation, restores a consistent relation.
          // Differs from PostgreSQL: PostgreSQL 15 reports an ERROR here (RelationTruncate:
          // a critical section "would be worse than the disease") and goes on with the stale
          // blocks; pgsim makes it a PANIC.
          if (e instanceof PgsimError && e.code !== "panic") {
            this.faults.panic(e.message);
            throw new PanicError(e.message, { ...e.detail });
          }
          throw e;
        }
      }
    } finally {
      lwlockRelease(this.words, extLock, LW_EXCLUSIVE);
    }
  }

  /**
   * Memory-only: every fork the pool holds and its size in blocks, sorted by tag (pgsim only:
   * what a snapshot of the pool lists). The caller keeps relations from being created,
   * extended, truncated or dropped meanwhile.
   */
  memoryForks(): { rel: RelFileLocator; fork: number; nblocks: number }[] {
    this.checkLive();
    if (this.variant !== "memory") {
      throw new PgsimError("not-memory-pool", "only a memory-only pool lists its forks this way");
    }
    return this.relSizes
      .entries()
      .sort(
        (a, b) =>
          a.rel.spcOid - b.rel.spcOid ||
          a.rel.dbOid - b.rel.dbOid ||
          a.rel.relNumber - b.rel.relNumber ||
          a.fork - b.fork,
      );
  }

  /**
   * Memory-only: calls `visit` with each mapped block of `fork`, block 0 to nblocks - 1, pinned
   * and share-locked, so that a page is seen whole (changes need the exclusive lock; hint bits
   * set under a share lock may or may not be in the view). pgsim only: a snapshot copies the
   * pool this way. Counts neither hits nor block reads (it is not a query's access). The
   * caller keeps the fork from being extended, truncated or dropped meanwhile.
   */
  visitMemoryPages(
    rel: RelFileLocator,
    fork: number,
    visit: (block: number, page: Uint8Array) => void,
  ): void {
    this.checkLive();
    const nblocks = this.nblocks(rel, fork);
    if (this.variant !== "memory") {
      throw new PgsimError("not-memory-pool", "only a memory-only pool is visited this way");
    }
    for (let block = 0; block < nblocks; block++) {
      const hash = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
      const lockSlot = this.partitionLockSlot(hash % NUM_BUFFER_PARTITIONS);
      lwlockAcquire(this.words, lockSlot, LW_SHARED);
      const id = this.table.lookup(hash, rel.spcOid, rel.dbOid, rel.relNumber, fork, block);
      if (id < 0) {
        lwlockRelease(this.words, lockSlot, LW_SHARED);
        throw new AssertionError(
          `memory-only pool lost block ${block} of ${relationPath(rel, fork)}`,
        );
      }
      this.pinBuffer(id, undefined);
      lwlockRelease(this.words, lockSlot, LW_SHARED);
      const buffer = (id + 1) as BufferId;
      this.lockBuffer(buffer, "share");
      try {
        visit(block, this.pageBytes.subarray(id * BLCKSZ, (id + 1) * BLCKSZ));
      } finally {
        this.unlockBuffer(buffer);
        this.unpinBuffer(id);
      }
    }
  }

  /** smgrdounlinkall: drops every buffer of the relation and removes its forks. */
  dropRelation(rel: RelFileLocator): void {
    this.checkLive();
    checkRelFileLocator(rel);
    this.dropBuffers(rel, [0, 1, 2, 3], [0, 0, 0, 0]);
    for (let f = 0; f <= 3; f++) this.relSizes.remove(rel, f);
    if (this.variant === "disk") this.smgr!.unlink(rel);
  }

  /**
   * DropRelFileNodeBuffers: invalidates every buffer of the given forks at or past the given
   * first blocks, without writing dirty data. Buffers go back on the free list. Other backends
   * must not be using the relation (PostgreSQL holds AccessExclusiveLock); a pin held by this
   * backend is an error.
   */
  dropRelationBuffers(rel: RelFileLocator, forks: number[], firstDelBlock: number[]): void {
    this.checkLive();
    checkRelFileLocator(rel);
    if (
      !Array.isArray(forks) ||
      !Array.isArray(firstDelBlock) ||
      forks.length !== firstDelBlock.length
    ) {
      throw new PgsimError(
        "invalid-argument",
        "dropRelationBuffers needs arrays of forks and first blocks of the same length",
      );
    }
    for (const f of forks) checkForkNumber(f);
    for (const b of firstDelBlock) checkBlockNumber(b);
    if (this.variant === "memory") {
      // The buffers are the only copy of the data: dropping them alone would lose rows while the
      // relation still claims the blocks. Truncate or drop the relation instead.
      throw new PgsimError(
        "memory-pool-no-drop",
        "cannot drop buffers of a memory-only pool: they are the storage; use truncateRelation or dropRelation",
      );
    }
    this.dropBuffers(rel, forks, firstDelBlock);
  }

  private dropBuffers(rel: RelFileLocator, forks: number[], firstDelBlock: number[]): void {
    const w = this.words;
    for (let id = 0; id < this.bufferCount; id++) {
      const d = this.desc + id * DESC_INTS;
      // An unlocked pre-check, as PostgreSQL does: the tag can only change to something else.
      if (
        w[d + D_TAG_REL] !== (rel.relNumber | 0) ||
        w[d + D_TAG_DB] !== (rel.dbOid | 0) ||
        w[d + D_TAG_SPC] !== (rel.spcOid | 0)
      ) {
        continue;
      }
      const state = this.lockBufHdr(id);
      const fork = w[d + D_TAG_FORK]!;
      const block = w[d + D_TAG_BLOCK]! >>> 0;
      const i = forks.indexOf(fork);
      if (
        (state & BM_TAG_VALID) !== 0 &&
        i >= 0 &&
        block >= firstDelBlock[i]! &&
        w[d + D_TAG_REL] === (rel.relNumber | 0) &&
        w[d + D_TAG_DB] === (rel.dbOid | 0) &&
        w[d + D_TAG_SPC] === (rel.spcOid | 0)
      ) {
        this.invalidateBuffer(id, state);
      } else {
        this.unlockBufHdr(id, state);
      }
    }
  }

  /**
   * InvalidateBuffer: called with the header lock held. Takes the old partition lock, rechecks,
   * waits out other backends' pins, then clears the tag and frees the buffer.
   */
  private invalidateBuffer(id: number, lockedState: number): void {
    const w = this.words;
    const tag = this.tagOf(id);
    const hash = bufTableHashCode(tag.spcOid, tag.dbOid, tag.relNumber, tag.fork, tag.block);
    const lockSlot = this.partitionLockSlot(hash % NUM_BUFFER_PARTITIONS);
    this.unlockBufHdr(id, lockedState);
    const deadline = Date.now() + PIN_WAIT_MAX_MS;
    for (;;) {
      lwlockAcquire(w, lockSlot, LW_EXCLUSIVE);
      const state = this.lockBufHdr(id);
      const now = this.tagOf(id);
      if (
        (state & BM_TAG_VALID) === 0 ||
        now.spcOid !== tag.spcOid ||
        now.dbOid !== tag.dbOid ||
        now.relNumber !== tag.relNumber ||
        now.fork !== tag.fork ||
        now.block !== tag.block
      ) {
        this.unlockBufHdr(id, state);
        lwlockRelease(w, lockSlot, LW_EXCLUSIVE);
        return;
      }
      if (bufStateGetRefcount(state) !== 0) {
        this.unlockBufHdr(id, state);
        lwlockRelease(w, lockSlot, LW_EXCLUSIVE);
        if (this.privateRefCount[id]! > 0) {
          throw new PgsimError(
            "buffer-pinned",
            `buffer is pinned in InvalidateBuffer: buffer ${id + 1} (block ${tag.block}) is pinned by this backend`,
            { buffer: id + 1 },
          );
        }
        if (Date.now() > deadline) {
          throw new AssertionError("InvalidateBuffer waited too long for another backend's pin");
        }
        this.waitIO(id);
        Atomics.wait(
          w,
          this.latchSlot(this.procNumber),
          Atomics.load(w, this.latchSlot(this.procNumber)),
          1,
        );
        continue;
      }
      this.clearTag(id);
      this.unlockBufHdr(id, 0);
      this.table.delete(hash, tag.spcOid, tag.dbOid, tag.relNumber, tag.fork, tag.block);
      lwlockRelease(w, lockSlot, LW_EXCLUSIVE);
      if (this.headers.getFreeNext(id) === FREENEXT_NOT_IN_LIST) {
        this.strategyControl.strategyFreeBuffer(id);
      }
      return;
    }
  }

  // ---------------------------------------------------------------- introspection

  /**
   * Installs (or removes, with undefined) a hook called on every page access of this backend:
   * readBuffer hits and misses and extends, with the tag and whether it was a hit. Used to record
   * access traces for the replacement-policy lab. One `undefined` check on the hit path when unset.
   */
  setAccessTraceHook(hook: AccessTraceHook | undefined): void {
    this.traceHook = hook;
  }

  /** pg_buffercache: one row per buffer, each read under its header lock (pg-buffercache.ts). */
  bufferCache(): BufferCacheRow[] {
    return pgBuffercachePages(this.bufferCacheSource());
  }

  /** pg_buffercache_summary (pg-buffercache.ts). */
  bufferCacheSummary(): BufferCacheSummary {
    return pgBuffercacheSummary(this.bufferCacheSource());
  }

  /** What pg-buffercache.ts reads: the descriptors and this backend's own pin counts. */
  private bufferCacheSource(): BufferCacheSource {
    return {
      words: this.words,
      descriptors: this.desc,
      headers: this.headers,
      bufferCount: this.bufferCount,
      privateRefCount: this.privateRefCount,
      procNumber: this.procNumber,
    };
  }

  /**
   * Backends waiting for a cleanup lock (BM_PIN_COUNT_WAITER), with the buffer each waits on:
   * what pg_locks would show as a waiting BufferPin lock.
   */
  cleanupWaiters(): { buffer: BufferId; procNumber: number }[] {
    const out: { buffer: BufferId; procNumber: number }[] = [];
    for (let id = 0; id < this.bufferCount; id++) {
      if ((this.headers.readState(id) & BM_PIN_COUNT_WAITER) !== 0) {
        out.push({
          buffer: (id + 1) as BufferId,
          procNumber: this.words[this.descSlot(id, D_WAIT_BACKEND)]!,
        });
      }
    }
    return out;
  }

  /** Counters summed over every backend of the pool. */
  statistics(): BufferPoolStats {
    const sum = (k: number): number => {
      let s = 0;
      for (let b = 0; b < this.layout.maxBackends; b++) s += this.stats[b * STAT_FLOATS + k]!;
      return s;
    };
    return {
      hits: sum(STAT_HITS),
      reads: sum(STAT_READS),
      writes: sum(STAT_WRITES),
      extends: sum(STAT_EXTENDS),
      evictions: sum(STAT_EVICTIONS),
      dirtied: sum(STAT_DIRTIED),
    };
  }

  /**
   * This backend's pgBufferUsage: its counts since it attached (read from its statistics slot in
   * shared memory). Subtract two readings (`bufferUsageDiff`) for what a statement did.
   */
  bufferUsage(): BufferUsage {
    const s = this.stats;
    const b = this.statBase;
    const extended = s[b + STAT_EXTENDS]!;
    return {
      sharedBlksHit: s[b + STAT_HITS]!,
      sharedBlksRead: s[b + STAT_READS]!,
      sharedBlksDirtied: s[b + STAT_DIRTIED]!,
      sharedBlksWritten: s[b + STAT_WRITES]! + extended,
      sharedBlksExtended: extended,
    };
  }

  /**
   * The blocks this backend fetched and hit per relation fork since the last call, which starts
   * the tally afresh: what the statistics collector of the layer above (pgstat) folds into each
   * table's pg_statio counters.
   */
  takeRelationBlockCounts(): RelationBlockCounts[] {
    // The last relation's counters go with the tally: readBuffer looks them up afresh.
    this.hashRel = this.hashDb = this.hashSpc = -1;
    return this.blockCounts.take();
  }

  /** How many pins this backend holds on a buffer (its private refcount). */
  privatePinCount(buffer: BufferId): number {
    return this.privateRefCount[this.bufIdOf(buffer)]!;
  }

  /** Buffers this backend holds pins on, with their counts. */
  heldPins(): { buffer: BufferId; count: number; tag: BufferTag }[] {
    const out: { buffer: BufferId; count: number; tag: BufferTag }[] = [];
    if (this.pinnedBufferCount === 0) return out;
    for (let id = 0; id < this.bufferCount; id++) {
      const n = this.privateRefCount[id]!;
      if (n > 0) out.push({ buffer: (id + 1) as BufferId, count: n, tag: this.tagOf(id) });
    }
    return out;
  }

  /**
   * Checks the shared structures for consistency (for tests and after crashes): every mapping
   * points at a buffer carrying that tag, every tagged buffer is mapped exactly once, no tag is
   * mapped twice, the free list holds only untagged buffers. Read without locks: call it when no
   * other backend is running. Returns the problems found (empty when consistent).
   */
  checkConsistency(): string[] {
    const problems: string[] = [];
    const { mappings } = this.table.dump();
    const seenTags = new Set<string>();
    const mappedBuffers = new Map<number, number>();
    for (const [id, spc, db, rel, fork, block] of mappings as [
      number,
      number,
      number,
      number,
      number,
      number,
    ][]) {
      const key = `${spc}/${db}/${rel}/${fork}/${block}`;
      if (seenTags.has(key)) problems.push(`tag ${key} is mapped twice`);
      seenTags.add(key);
      mappedBuffers.set(id, (mappedBuffers.get(id) ?? 0) + 1);
      const t = this.tagOf(id);
      const state = this.headers.readState(id);
      if (`${t.spcOid}/${t.dbOid}/${t.relNumber}/${t.fork}/${t.block}` !== key) {
        problems.push(`mapping ${key} points at buffer ${id + 1}, which holds another tag`);
      }
      if ((state & BM_TAG_VALID) === 0) problems.push(`buffer ${id + 1} is mapped but not tagged`);
    }
    for (let id = 0; id < this.bufferCount; id++) {
      const state = this.headers.readState(id);
      const n = mappedBuffers.get(id) ?? 0;
      if ((state & BM_TAG_VALID) !== 0 && n !== 1) {
        problems.push(`buffer ${id + 1} is tagged but mapped ${n} times`);
      }
      if ((state & BM_LOCKED) !== 0) problems.push(`buffer ${id + 1}'s header lock is held`);
      if ((state & BM_IO_IN_PROGRESS) !== 0) problems.push(`buffer ${id + 1} has I/O in progress`);
    }
    for (const id of this.strategyControl.freeList()) {
      if ((this.headers.readState(id) & BM_TAG_VALID) !== 0) {
        problems.push(`buffer ${id + 1} is on the free list but tagged`);
      }
    }
    return problems;
  }

  /**
   * AbortBufferIO for every I/O this backend left in progress (used when recovering a dead
   * backend): the buffer stays tagged, not valid, with BM_IO_ERROR; the next reader retries.
   */
  abortOwnIo(): number {
    let aborted = 0;
    for (let id = 0; id < this.bufferCount; id++) {
      if (this.words[this.descSlot(id, D_IO_OWNER)] !== this.procNumber + 1) continue;
      if ((this.headers.readState(id) & BM_IO_IN_PROGRESS) === 0) continue;
      this.terminateBufferIO(id, false, BM_IO_ERROR);
      aborted++;
    }
    return aborted;
  }

  /** LWLockReleaseAll, for buffer content locks: every one this backend holds. Returns how many. */
  private releaseAllContentLocks(): number {
    let released = 0;
    for (let id = 0; id < this.bufferCount; id++) {
      const held = this.heldContentLock[id]!;
      if (held !== NO_CONTENT_LOCK) {
        this.heldContentLock[id] = NO_CONTENT_LOCK;
        this.ledger.unlock(id);
        lwlockRelease(this.words, this.descSlot(id, D_CONTENT_LOCK), held as 1 | 2);
        released++;
      }
    }
    return released;
  }

  resourceMark(): ResourceMark {
    if (this.pinnedBufferCount === 0) return NO_PINS_MARK;
    const pins = new Map<BufferId, number>();
    for (const p of this.heldPins()) pins.set(p.buffer, p.count);
    return { pins };
  }

  errorCleanup(mark: ResourceMark): ErrorCleanupReport {
    // AbortTransaction's order: locks first (LWLockReleaseAll), then the I/O this backend had in
    // progress (AbortBufferIO: waiters see BM_IO_ERROR and retry), then the resource owner's
    // pins. Pins held at the mark belong to whoever held them before the statement.
    const releasedLocks = this.releaseAllContentLocks();
    const abortedIo = this.abortOwnIo();
    let releasedPins = 0;
    if (this.pinnedBufferCount > 0) {
      for (let id = 0; id < this.bufferCount; id++) {
        const keep = mark.pins.get((id + 1) as BufferId) ?? 0;
        while (this.privateRefCount[id]! > keep) {
          this.unpinBuffer(id);
          releasedPins++;
        }
      }
    }
    return { releasedLocks, releasedPins, abortedIo };
  }

  /**
   * Leaves the pool, as a backend exits: pins still held are leaks (CheckForBufferLeaks), reported
   * and released; content locks still held are released. The backend slot becomes free.
   */
  detach(options: { quiet?: boolean } = {}): DetachReport {
    if (this.detached) return { leakedPins: [], releasedLocks: 0 };
    const leakedPins = this.heldPins();
    const releasedLocks = this.releaseAllContentLocks();
    for (const leak of leakedPins) {
      const id = (leak.buffer as number) - 1;
      this.privateRefCount[id] = 1;
      this.unpinBuffer(id);
    }
    if (leakedPins.length > 0 && options.quiet !== true) {
      process.emitWarning(
        `buffer refcount leak: backend ${this.procNumber} exited holding ${leakedPins.length} pinned buffer(s): ` +
          leakedPins
            .map(
              (l) =>
                `buffer ${l.buffer} (rel ${l.tag.relNumber} fork ${l.tag.fork} block ${l.tag.block}, count ${l.count})`,
            )
            .join(", "),
        { code: "PGSIM_BUFFER_LEAK" },
      );
    }
    this.smgr?.closeAll();
    this.unregisterFaults();
    Atomics.store(this.words, this.layout.procs + this.procNumber * PROC_INTS + PROC_IN_USE, 0);
    this.detached = true;
    return { leakedPins, releasedLocks };
  }
}

/** The free space map fork (FSM_FORKNUM), whose pages MarkBufferDirtyHint logs as non-standard. */
const FSM_FORKNUM = 1;

/**
 * PageGetLSN on the page at `offset`: pd_lsn is {xlogid, xrecoff}, two little-endian uint32s
 * (high half first). The buffer manager reads and sets it for the WAL hooks; it knows nothing
 * else of the page format.
 */
function pageGetLsn(bytes: Uint8Array, offset: number): bigint {
  const hi =
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16)) +
    bytes[offset + 3]! * 0x1000000;
  const lo =
    (bytes[offset + 4]! | (bytes[offset + 5]! << 8) | (bytes[offset + 6]! << 16)) +
    bytes[offset + 7]! * 0x1000000;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** PageSetLSN on the page at `offset`. */
function pageSetLsn(bytes: Uint8Array, offset: number, lsn: bigint): void {
  const hi = Number(lsn >> 32n);
  const lo = Number(lsn & 0xffffffffn);
  for (let i = 0; i < 4; i++) {
    bytes[offset + i] = (hi >>> (8 * i)) & 0xff;
    bytes[offset + 4 + i] = (lo >>> (8 * i)) & 0xff;
  }
}
