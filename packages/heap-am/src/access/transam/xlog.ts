/**
 * The WAL itself, shared by every backend: reserving space for a record, copying it into the
 * shared WAL buffer pages (with page headers and continuation records) under a WAL insertion
 * lock, writing pages to segment files in `pg_wal/` under WALWriteLock, and syncing them when a
 * backend needs its record durable — one sync for every backend that waited (group commit).
 *
 * Models: src/backend/access/transam/xlog.c — XLogInsertRecord (with its fpw_lsn re-check),
 * WALInsertLockAcquire / WALInsertLockAcquireExclusive / WALInsertLockRelease /
 * WALInsertLockUpdateInsertingAt, ReserveXLogInsertLocation, ReserveXLogSwitch,
 * CopyXLogRecordToWAL, WaitXLogInsertionsToFinish, GetXLogBuffer, AdvanceXLInsertBuffer,
 * XLogWrite, XLogFlush, XLogBackgroundFlush, XLogSetAsyncXactLSN, XLogFileInit /
 * XLogFileInitInternal / InstallXLogFileSegment, PreallocXlogFiles, RemoveOldXlogFiles /
 * RemoveXlogFile / XLOGfileslop, CalculateCheckpointSegments / XLogCheckpointNeeded,
 * UpdateCheckPointDistanceEstimate, issue_xlog_fsync, GetFullPageWriteInfo, GetRedoRecPtr,
 * UpdateFullPageWrites, GetXLogInsertRecPtr, GetXLogWriteRecPtr, GetFlushRecPtr, CreateCheckPoint's
 * choice of the redo pointer, the DELAY_CHKPT_START interlock (GetVirtualXIDsDelayingChkpt /
 * HaveVirtualXIDsDelayingChkpt), and StartupXLOG's step that resumes insertion at the end of
 * existing WAL (the last partial page reloaded, its tail zeroed).
 * Entry points: `initWalShared`, `XLogWriter.attach`, `XLogWriter.open` (init + attach),
 * `insertRecord`, `flush`, `backgroundFlush`, `setAsyncXactLsn`,
 * `getFullPageWriteInfo`, `setRedoRecPtr`, `beginCheckpointRedo`, `checkpointNeeded`,
 * `removeOldSegments`, `preallocSegments`, `close`; `finishXLogRecord`; `XLogInsertResult`.
 * See also: xlog-shmem.ts (the shared layout and what protects each field), xloginsert.ts
 * (assembles records), xlog-internal.ts (layout), xlogreader.ts (reads back), README-wal.md,
 * docs/reference/postgres-wal.md §1.6–1.8, §4.2, §7.2–7.8, §8.1–8.2.
 *
 * Positions: records are placed by "usable byte position" (page headers not counted);
 * CurrBytePos is where the next record starts, PrevBytePos where the last one started (its LSN
 * becomes the next record's xl_prev). Reserving = advancing CurrBytePos by MAXALIGN of the
 * record's length under insertpos_lck, so reservation order is WAL order. An XLOG_SWITCH
 * reserves the rest of its segment, whose remaining pages are written as zeros, headers included.
 *
 * The WAL buffers are a ring of `walBuffers` 8 KB pages; slot i holds the page whose end LSN is
 * xlblocks[i]. A page is initialized (zeroed, header written) under WALBufMappingLock when a
 * record first needs it; if its slot still holds an unwritten older page, that page is written
 * first (under WALWriteLock, after waiting for the insertions into it to finish). Before anything
 * that can block, an inserter publishes how far it has copied (insertingAt), so that a backend
 * waiting for insertions to finish never waits for one that waits for it.
 *
 * Differs from PostgreSQL: no archiving, no walsenders, no timeline switches, no online backups
 * (forcePageWrites), no commit_delay / commit_siblings; no WAL writer process (see
 * `setAsyncXactLsn` and `backgroundFlush`: backends do its work); no checkpointer process (a
 * finished segment sets a request flag the checkpoint code reads with `takeCheckpointRequest`).
 * A failure inside an insertion's critical section marks the shared WAL unusable (every later
 * call throws `wal-panic`) instead of restarting the cluster. wal_sync_method is fdatasync
 * (PostgreSQL's default on Linux) or fsync, or "off" as fsync=off. Temporary segment files are
 * named `xlogtemp.<pid>.<threadId>` in worker threads (backends share the process id).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { threadId } from "node:worker_threads";
import {
  errnoCode,
  errnoText,
  FaultTable,
  ioFsync,
  ioWrite,
  PanicError,
} from "@pgsim/buffer-manager";
import {
  LW_EXCLUSIVE,
  LWLOCK_VAR_INTS,
  lwlockAcquire,
  lwlockAcquireOrWait,
  lwlockConditionalAcquire,
  lwlockRelease,
  lwlockReleaseClearVar,
  lwlockUpdateVar,
  lwlockWaitForVar,
} from "@pgsim/buffer-manager/internals";
import { AssertionError, assert, PgsimError } from "@pgsim/clock-sweep";
import { writeBigInt64, writeUint32 } from "../../include/port/le-bytes.js";
import { crc32cFinish, crc32cUpdate, crc32cUpdateWords } from "../../include/port/pg-crc32c.js";
import { XLOG_SWITCH } from "./pg-control.js";
import { RM_XLOG_ID } from "./rmgr.js";
import {
  type AssembledRecord,
  bytePosToLsn,
  checkWalSegSize,
  DEFAULT_XLOG_SEG_SIZE,
  lsnAsNumber,
  lsnToBytePos,
  parseXLogFileName,
  readXLogPageHeader,
  SizeOfXLogLongPHD,
  SizeOfXLogShortPHD,
  writeXLogPageHeader,
  XLOG_BLCKSZ,
  XLOG_PAGE_MAGIC,
  XLP_BKP_REMOVABLE,
  XLP_FIRST_IS_CONTRECORD,
  XLP_LONG_HEADER,
  xlogFileName,
} from "./xlog-internal.js";
import {
  allocWalShared,
  INSERTING_AT_ALL,
  NUM_XLOGINSERT_LOCKS,
  PROC_INTS,
  Q_ASYNC_XACT_LSN,
  Q_CKPT_DISTANCE,
  Q_CURR_BYTE_POS,
  Q_FLUSH,
  Q_INITIALIZED_UPTO,
  Q_INSERTING_AT,
  Q_LAST_BG_FLUSH_MS,
  Q_PREV_BYTE_POS,
  Q_REDO_REC_PTR,
  Q_RQST_FLUSH,
  Q_RQST_WRITE,
  Q_STATS,
  Q_WRITE,
  Q_XLBLOCKS,
  STAT_NAMES,
  W_CKPT_REQUESTED,
  W_CONTROL_FILE_LOCK,
  W_FPW_GEN,
  W_FULL_PAGE_WRITES,
  W_INFO_LCK,
  W_INSERT_LOCKS,
  W_INSERTPOS_LCK,
  W_NEXT_LOCK_NO,
  W_PANIC,
  W_PROCS,
  W_SYNC_COMMIT,
  W_WAL_BUF_MAPPING_LOCK,
  W_WAL_WRITE_LOCK,
  type WalShared,
  type WalSharedViews,
  type WalStatName,
  type WalSyncMethod,
  walSharedViews,
} from "./xlog-shmem.js";
import { formatLsn, InvalidXLogRecPtr, type TimeLineID, type XLogRecPtr } from "./xlogdefs.js";
import { SizeOfXLogRecord, XL_CRC_OFFSET, XLR_INFO_MASK } from "./xlogrecord.js";

export type { WalSettings, WalShared, WalSyncMethod } from "./xlog-shmem.js";

/** Options of `initWalShared` and `XLogWriter.open`. */
export interface XLogWriterOptions {
  /** The pg_wal directory (created if missing). */
  readonly walDir: string;
  /** pg_control's system_identifier, written into every segment's long page header. */
  readonly systemIdentifier: bigint;
  /** Where the next record starts: a MAXALIGNed LSN past a page header. */
  readonly startLsn: XLogRecPtr;
  /** Start LSN of the record before it (the next record's xl_prev); 0 for the first record ever. */
  readonly prevLsn?: XLogRecPtr;
  /** Default 1. */
  readonly timeLineId?: TimeLineID;
  /** Default 16 MB. */
  readonly walSegSize?: number;
  /**
   * wal_buffers in 8 KB pages, from 4 to one segment. Default 512 (what -1 gives with
   * shared_buffers = 128 MB), or one segment if that is smaller.
   */
  readonly walBuffers?: number;
  /** full_page_writes. Default true. */
  readonly fullPageWrites?: boolean;
  /** The redo pointer of the latest checkpoint (RedoRecPtr). Default 0: every page gets an image. */
  readonly redoRecPtr?: XLogRecPtr;
  /** Default "fdatasync". */
  readonly walSyncMethod?: WalSyncMethod;
  /** wal_init_zero: new segments are written full of zeros (default) or just sized. */
  readonly walInitZero?: boolean;
  /** wal_recycle (default true): old segments are renamed to future names rather than removed. */
  readonly walRecycle?: boolean;
  /**
   * synchronous_commit (default true). pgsim's commit code reads `wal.synchronousCommit`: on, it
   * flushes the commit record; off, it calls `setAsyncXactLsn` instead.
   */
  readonly synchronousCommit?: boolean;
  /** wal_writer_delay in milliseconds (default 200): how stale an asynchronous commit may get. */
  readonly walWriterDelayMs?: number;
  /** max_wal_size in bytes (default 1 GB): the WAL volume that calls for a checkpoint. */
  readonly maxWalSizeBytes?: number;
  /** min_wal_size in bytes (default 80 MB): segments kept for recycling. */
  readonly minWalSizeBytes?: number;
  /** checkpoint_completion_target (default 0.9). */
  readonly checkpointCompletionTarget?: number;
  /** How many backends may attach at once (default 64). */
  readonly maxBackends?: number;
  /**
   * The database's fault table (the buffer pool's `shared.faults`): its PANIC state stops the
   * WAL too, and a WAL failure that is a PANIC records it there. Default: a WAL of its own.
   */
  readonly faults?: SharedArrayBuffer;
}

/** Where a record landed. */
export interface XLogInsertResult {
  /** The record's LSN. */
  readonly startLsn: XLogRecPtr;
  /**
   * EndRecPtr: the MAXALIGNed end of the record (for an XLOG_SWITCH, the end of the 24-byte
   * record itself) — what goes into the pd_lsn of the pages the record changed.
   */
  readonly endLsn: XLogRecPtr;
  /** False only for an XLOG_SWITCH at the very start of a segment, which writes nothing. */
  readonly inserted: boolean;
}

/** Counters of the whole shared WAL (all backends), for tests and benchmarks. */
export interface XLogWriterStats {
  readonly records: number;
  /** pwrite calls and bytes written to segment files. */
  readonly writes: number;
  readonly bytesWritten: number;
  /** fdatasync / fsync calls on segment files (at flushes and when a segment is finished). */
  readonly syncs: number;
  /** Segment files created (zero-filled and renamed into place) and removed or recycled. */
  readonly segmentsCreated: number;
  readonly segmentsRemoved: number;
  readonly segmentsRecycled: number;
  /**
   * `flush` calls that found their LSN not yet durable (each would be a sync without group
   * commit; `syncs` below this count shows backends sharing syncs).
   */
  readonly flushRequests: number;
  /** wal_buffers_full: pages an inserter had to write out to reuse a WAL buffer slot. */
  readonly walBuffersFull: number;
  /** `backgroundFlush` calls that wrote something. */
  readonly backgroundFlushes: number;
}

/** What `removeOldSegments` did. */
export interface RemoveOldSegmentsResult {
  /** Segment file names removed. */
  readonly removed: readonly string[];
  /** Segment file names recycled, each with its new (future) name. */
  readonly recycled: readonly { readonly from: string; readonly to: string }[];
}

function walError(code: string, message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError(code, message, detail);
}

const MB = 1024 * 1024;

/**
 * Creates the shared memory of a WAL that continues at `startLsn` (XLOGShmemInit + the part of
 * StartupXLOG that prepares insertion): creates `walDir` if needed; a position just past a page
 * header starts that page afresh, any other position resumes inside an existing page, which is
 * reloaded from its segment file and zeroed after `startLsn` — nothing stale may follow the last
 * record. Call once; every backend then calls `XLogWriter.attach(handle)`.
 */
export function initWalShared(options: XLogWriterOptions): WalShared {
  const walSegSize = options.walSegSize ?? DEFAULT_XLOG_SEG_SIZE;
  checkWalSegSize(walSegSize);
  const walBuffers = options.walBuffers ?? Math.min(512, walSegSize / XLOG_BLCKSZ);
  if (!Number.isInteger(walBuffers) || walBuffers < 4 || walBuffers > walSegSize / XLOG_BLCKSZ) {
    throw walError(
      "invalid-wal-buffers",
      `wal_buffers must be from 4 pages to one segment (${walSegSize / XLOG_BLCKSZ} pages), got ${String(walBuffers)}`,
    );
  }
  const walWriterDelayMs = options.walWriterDelayMs ?? 200;
  if (!(walWriterDelayMs >= 1 && walWriterDelayMs <= 10_000)) {
    throw walError(
      "invalid-wal-writer-delay",
      `${String(walWriterDelayMs)} ms is outside the valid range for parameter "wal_writer_delay" (1 .. 10000)`,
    );
  }
  const maxWalSizeBytes = options.maxWalSizeBytes ?? 1024 * MB;
  const minWalSizeBytes = options.minWalSizeBytes ?? 80 * MB;
  if (!(maxWalSizeBytes >= 2 * walSegSize) || !(minWalSizeBytes >= 2 * walSegSize)) {
    throw walError(
      "invalid-wal-size",
      `"min_wal_size" and "max_wal_size" must be at least twice "wal_segment_size" (${walSegSize} bytes)`,
    );
  }
  const checkpointCompletionTarget = options.checkpointCompletionTarget ?? 0.9;
  if (!(checkpointCompletionTarget >= 0 && checkpointCompletionTarget <= 1)) {
    throw walError(
      "invalid-checkpoint-completion-target",
      `${String(checkpointCompletionTarget)} is outside the valid range for parameter "checkpoint_completion_target" (0 .. 1)`,
    );
  }

  const start = lsnAsNumber(options.startLsn);
  const pageOffset = start % XLOG_BLCKSZ;
  const pageBegin = start - pageOffset;
  const headerSize = pageBegin % walSegSize === 0 ? SizeOfXLogLongPHD : SizeOfXLogShortPHD;
  if (start % 8 !== 0 || pageOffset < headerSize) {
    throw walError(
      "invalid-wal-position",
      `a record cannot start at ${formatLsn(options.startLsn)}: it must be 8-byte aligned and past the page header`,
    );
  }
  const prev = options.prevLsn ?? InvalidXLogRecPtr;
  if (prev >= options.startLsn) {
    throw walError(
      "invalid-wal-position",
      `the previous record (${formatLsn(prev)}) must start before ${formatLsn(options.startLsn)}`,
    );
  }

  fs.mkdirSync(options.walDir, { recursive: true, mode: 0o700 });
  const allocated = allocWalShared({
    walDir: options.walDir,
    systemIdentifier: options.systemIdentifier,
    timeLineId: options.timeLineId ?? 1,
    walSegSize,
    walBuffers,
    walSyncMethod: options.walSyncMethod ?? "fdatasync",
    walInitZero: options.walInitZero ?? true,
    walRecycle: options.walRecycle ?? true,
    walWriterDelayMs,
    maxWalSizeBytes,
    minWalSizeBytes,
    checkpointCompletionTarget,
    maxBackends: options.maxBackends ?? 64,
  });
  const shared: WalShared =
    options.faults !== undefined ? { ...allocated, faults: options.faults } : allocated;
  const { w, q, pages } = walSharedViews(shared);
  Atomics.store(w, W_FULL_PAGE_WRITES, (options.fullPageWrites ?? true) ? 1 : 0);
  Atomics.store(w, W_SYNC_COMMIT, (options.synchronousCommit ?? true) ? 1 : 0);
  Atomics.store(q, Q_REDO_REC_PTR, options.redoRecPtr ?? InvalidXLogRecPtr);
  Atomics.store(q, Q_CURR_BYTE_POS, BigInt(lsnToBytePos(start, walSegSize)));
  Atomics.store(
    q,
    Q_PREV_BYTE_POS,
    prev === InvalidXLogRecPtr ? -1n : BigInt(lsnToBytePos(lsnAsNumber(prev), walSegSize)),
  );
  Atomics.store(q, Q_LAST_BG_FLUSH_MS, BigInt(Date.now()));

  let written: number;
  if (pageOffset === headerSize) {
    // Nothing of this page is kept: it is initialized when the first record needs it.
    Atomics.store(q, Q_INITIALIZED_UPTO, BigInt(pageBegin));
    written = pageBegin;
  } else {
    // Resume inside a page: reload it from its segment and zero it after the insert position,
    // so nothing stale follows the new records (StartupXLOG, xlog.c).
    const idx = Math.floor(pageBegin / XLOG_BLCKSZ) % walBuffers;
    loadPartialPage(
      shared,
      pages.subarray(idx * XLOG_BLCKSZ, (idx + 1) * XLOG_BLCKSZ),
      pageBegin,
      pageOffset,
    );
    Atomics.store(q, Q_XLBLOCKS + idx, BigInt(pageBegin + XLOG_BLCKSZ));
    Atomics.store(q, Q_INITIALIZED_UPTO, BigInt(pageBegin + XLOG_BLCKSZ));
    written = start;
  }
  for (const slot of [Q_WRITE, Q_FLUSH, Q_RQST_WRITE, Q_RQST_FLUSH]) {
    Atomics.store(q, slot, BigInt(written));
  }
  return shared;
}

function loadPartialPage(
  shared: WalShared,
  page: Uint8Array,
  pageBegin: number,
  pageOffset: number,
): void {
  const { walDir, walSegSize, timeLineId } = shared.settings;
  const segNo = Math.floor(pageBegin / walSegSize);
  const file = path.join(walDir, xlogFileName(timeLineId, segNo, walSegSize));
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    throw walError(
      "wal-resume-page-missing",
      `could not open file "${file}" to resume WAL at ${formatLsn(BigInt(pageBegin + pageOffset))}: ${(e as Error).message}`,
    );
  }
  try {
    const n = fs.readSync(fd, page, 0, XLOG_BLCKSZ, pageBegin % walSegSize);
    if (n !== XLOG_BLCKSZ) {
      throw walError(
        "wal-resume-page-missing",
        `could not read WAL page at ${formatLsn(BigInt(pageBegin))}: read ${n} of ${XLOG_BLCKSZ}`,
      );
    }
  } finally {
    fs.closeSync(fd);
  }
  const hdr = readXLogPageHeader(page, 0);
  if (hdr.magic !== XLOG_PAGE_MAGIC || hdr.pageAddr !== BigInt(pageBegin)) {
    throw walError(
      "wal-resume-page-missing",
      `WAL page at ${formatLsn(BigInt(pageBegin))} in "${file}" is not valid (magic ${hdr.magic.toString(16).toUpperCase()}, pageaddr ${formatLsn(hdr.pageAddr)})`,
    );
  }
  page.fill(0, pageOffset);
}

/** CalculateCheckpointSegments: max_wal_size in segments / (1 + checkpoint_completion_target). */
export function checkpointSegments(
  maxWalSizeBytes: number,
  walSegSize: number,
  checkpointCompletionTarget = 0.9,
): number {
  const target = Math.floor(maxWalSizeBytes / walSegSize) / (1 + checkpointCompletionTarget);
  return Math.max(1, Math.floor(target));
}

/** The 64-bit slot of each statistic. */
const STAT_SLOT = Object.fromEntries(STAT_NAMES.map((name, i) => [name, Q_STATS + i])) as Record<
  WalStatName,
  number
>;

/** A bounded-loop guard: a loop that runs this often is a bug. */
const LOOP_BOUND = 1_000_000;

/**
 * One backend's handle on the shared WAL: its own segment file descriptor, its insertion-lock
 * choice and ProcLastRecPtr; everything else is in shared memory.
 *
 * @example
 * ```ts
 * const shared = initWalShared({ walDir: "data/pg_wal", systemIdentifier, startLsn: 0x1000028n });
 * const wal = XLogWriter.attach(shared); // in each backend (worker thread)
 * const { endLsn } = ins.insert(wal, RM_HEAP_ID, XLOG_HEAP_INSERT, { xid });
 * if (wal.synchronousCommit) wal.flush(endLsn); // the record is durable
 * else wal.setAsyncXactLsn(endLsn);
 * wal.close();
 * ```
 */
export class XLogWriter {
  /** The handle to pass to other backends (`XLogWriter.attach`). */
  readonly shared: WalShared;
  readonly walDir: string;
  readonly systemIdentifier: bigint;
  readonly timeLineId: TimeLineID;
  readonly walSegSize: number;
  readonly walSyncMethod: WalSyncMethod;
  readonly walInitZero: boolean;

  private readonly w: Int32Array;
  private readonly q: BigInt64Array;
  private readonly pages: Uint8Array;
  /** The same WAL buffer pages as 32-bit words, to copy records a word at a time. */
  private readonly pages32: Int32Array;
  /**
   * The last record array copied and its words (an insert state reuses one array, so the view
   * is made once; a typed array's buffer, offset and length never change).
   */
  private recArray: Uint8Array | null = null;
  private rec32: Int32Array = new Int32Array(0);
  private readonly nbuffers: number;

  /** The insertion lock this backend tries first (lockToTry), and the one it holds (MyLockNo). */
  private lockToTry: number;
  private myLockNo = -1;
  private holdingAllLocks = false;
  /** ProcLastRecPtr: start of the last record this backend inserted. */
  private lastRecPtr: number;
  /** This backend's proc slot (delayChkptFlags). */
  private readonly procSlot: number;

  /** The open segment file (openLogFile, openLogSegNo). */
  private openLogFile: number | null = null;
  private openLogSegNo = -1;
  private closed = false;
  /** The database's PANIC state, when the WAL belongs to a database. */
  private readonly faults: FaultTable | undefined;
  /** The highest segment number this backend knows to exist (`ensureSegmentsAhead`). */
  private knownSegNo = -1;
  /**
   * The backend's copies of RedoRecPtr and doPageWrites (xlog.c's static RedoRecPtr and
   * doPageWrites, which GetFullPageWriteInfo returns to XLogInsert), and the W_FPW_GEN value
   * they were read at: re-read only when a checkpoint or UpdateFullPageWrites moved it.
   */
  private localFpwGen = -1;
  private localRedoRecPtr = 0;
  private localDoPageWrites = true;
  /**
   * GetXLogBuffer's cache (cachedPage, cachedPos): the WAL page this backend last found in the
   * buffers and its offset in `pages`. Valid while the backend inserts into that page again: a
   * slot is reused only after its page was written out whole, which waits for every insertion
   * into it, including one this backend has reserved and not yet copied.
   */
  private cachedPage = -1;
  private cachedPos = 0;
  // ReserveXLogInsertLocation's results (StartPos, EndPos, PrevPtr), kept here, not allocated.
  private resStartPos = 0;
  private resEndPos = 0;
  private resPrevPtr = 0;

  private constructor(shared: WalShared, lastRecPtr: number) {
    this.shared = shared;
    const s = shared.settings;
    this.walDir = s.walDir;
    this.systemIdentifier = s.systemIdentifier;
    this.timeLineId = s.timeLineId;
    this.walSegSize = s.walSegSize;
    this.walSyncMethod = s.walSyncMethod;
    this.walInitZero = s.walInitZero;
    this.nbuffers = s.walBuffers;
    const views: WalSharedViews = walSharedViews(shared);
    this.w = views.w;
    this.q = views.q;
    this.pages = views.pages;
    this.pages32 = new Int32Array(
      views.pages.buffer,
      views.pages.byteOffset,
      views.pages.length >> 2,
    );
    this.lastRecPtr = lastRecPtr;
    this.procSlot = this.claimProcSlot();
    this.lockToTry = (Atomics.add(this.w, W_NEXT_LOCK_NO, 1) >>> 0) % NUM_XLOGINSERT_LOCKS;
    this.faults = shared.faults !== undefined ? new FaultTable(shared.faults) : undefined;
  }

  /** Attaches this backend (thread) to a WAL created by `initWalShared`. */
  static attach(shared: WalShared): XLogWriter {
    return new XLogWriter(shared, 0);
  }

  /**
   * `initWalShared` + `attach`: a WAL of its own, for one backend or as the first of several
   * (pass `wal.shared` to the others). ProcLastRecPtr starts at `prevLsn`.
   */
  static open(options: XLogWriterOptions): XLogWriter {
    const shared = initWalShared(options);
    return new XLogWriter(shared, lsnAsNumber(options.prevLsn ?? InvalidXLogRecPtr));
  }

  private claimProcSlot(): number {
    const max = this.shared.settings.maxBackends;
    for (let i = 0; i < max; i++) {
      if (Atomics.compareExchange(this.w, W_PROCS + i * PROC_INTS, 0, 1) === 0) return i;
    }
    throw walError(
      "too-many-wal-backends",
      `sorry, too many clients already: all ${max} WAL backend slots are in use`,
    );
  }

  // ------------------------------------------------------------------ shared-value helpers

  private ld(slot: number): number {
    return Number(Atomics.load(this.q, slot));
  }

  private st(slot: number, value: number): void {
    Atomics.store(this.q, slot, BigInt(value));
  }

  private count(name: WalStatName, by = 1): void {
    Atomics.add(this.q, STAT_SLOT[name], by === 1 ? 1n : BigInt(by));
  }

  private bufIdx(lsn: number): number {
    return Math.floor(lsn / XLOG_BLCKSZ) % this.nbuffers;
  }

  /** A PANIC: the database (or this WAL, if it has none) stops; returns the error to throw. */
  private panic(message: string, detail?: Record<string, unknown>): PanicError {
    // The database's PANIC state first: a backend that sees the WAL stopped sees why.
    this.faults?.panic(message);
    Atomics.store(this.w, W_PANIC, 1);
    return new PanicError(message, detail);
  }

  private checkOpen(): void {
    if (this.closed) throw walError("wal-closed", "the WAL writer is closed");
    this.faults?.checkNotPanicked();
    if (Atomics.load(this.w, W_PANIC) !== 0) {
      // A database's WAL: its PANIC state says why (and is set first, see panic()).
      this.faults?.checkNotPanicked();
      throw walError(
        "wal-panic",
        "the WAL is unusable after a failure while inserting a record (PostgreSQL would PANIC)",
      );
    }
  }

  // ------------------------------------------------------------------ settings and positions

  /**
   * GetFullPageWriteInfo: the redo pointer and whether full-page images are taken. A value read
   * here may be stale by the time the record is inserted: `insertRecord` re-checks.
   */
  getFullPageWriteInfo(): { readonly redoRecPtr: XLogRecPtr; readonly doPageWrites: boolean } {
    return {
      redoRecPtr: Atomics.load(this.q, Q_REDO_REC_PTR),
      doPageWrites: Atomics.load(this.w, W_FULL_PAGE_WRITES) !== 0,
    };
  }

  /**
   * Refreshes the backend's copies of RedoRecPtr and doPageWrites when the shared ones changed
   * (one 32-bit atomic read when they did not). The generation is read before the values and
   * bumped after them, so a copy is never newer than the generation it is kept with.
   *
   * Differs from PostgreSQL: the copies are refreshed before every record (XLogInsert's
   * GetFullPageWriteInfo) as well as under the insertion lock; PostgreSQL refreshes them only in
   * XLogInsertRecord and GetRedoRecPtr, so its first assembly after a checkpoint may use stale
   * copies and be refused by the re-check. The re-check is the same, and so are the records.
   */
  private refreshFpwInfo(): void {
    const gen = Atomics.load(this.w, W_FPW_GEN);
    if (gen === this.localFpwGen) return;
    this.localFpwGen = gen;
    this.localRedoRecPtr = lsnAsNumber(Atomics.load(this.q, Q_REDO_REC_PTR));
    this.localDoPageWrites = Atomics.load(this.w, W_FULL_PAGE_WRITES) !== 0;
  }

  /**
   * GetFullPageWriteInfo's RedoRecPtr, as a number, for XLogInsertState.insert: the current
   * redo pointer (a checkpoint moving it later is caught by `insertAssembled`'s re-check).
   */
  insertRedoRecPtr(): number {
    this.refreshFpwInfo();
    return this.localRedoRecPtr;
  }

  /** GetFullPageWriteInfo's doPageWrites, for XLogInsertState.insert. */
  insertDoPageWrites(): boolean {
    this.refreshFpwInfo();
    return this.localDoPageWrites;
  }

  /** GetRedoRecPtr: the redo pointer of the latest checkpoint. */
  getRedoRecPtr(): XLogRecPtr {
    return Atomics.load(this.q, Q_REDO_REC_PTR);
  }

  /**
   * Sets RedoRecPtr (under all insertion locks, so that no insertion is half way), as a
   * checkpoint does when it fixes its redo point, or recovery when it starts.
   */
  setRedoRecPtr(lsn: XLogRecPtr): void {
    this.checkOpen();
    this.walInsertLockAcquireExclusive();
    try {
      Atomics.store(this.q, Q_REDO_REC_PTR, lsn);
      Atomics.add(this.w, W_FPW_GEN, 1);
    } finally {
      this.walInsertLockRelease();
    }
  }

  /**
   * CreateCheckPoint's redo point: under all insertion locks, the redo pointer becomes the
   * current insert position (past the page header if it is at a page boundary, i.e. where the
   * next record will start) and is published as RedoRecPtr — from then on a page's first change
   * takes a full-page image. Returns it.
   */
  beginCheckpointRedo(): XLogRecPtr {
    this.checkOpen();
    this.walInsertLockAcquireExclusive();
    try {
      const redo = BigInt(bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, false));
      Atomics.store(this.q, Q_REDO_REC_PTR, redo);
      Atomics.add(this.w, W_FPW_GEN, 1);
      return redo;
    } finally {
      this.walInsertLockRelease();
    }
  }

  /** UpdateFullPageWrites: turns full_page_writes on or off (under all insertion locks). */
  setFullPageWrites(on: boolean): void {
    this.checkOpen();
    this.walInsertLockAcquireExclusive();
    try {
      Atomics.store(this.w, W_FULL_PAGE_WRITES, on ? 1 : 0);
      Atomics.add(this.w, W_FPW_GEN, 1);
    } finally {
      this.walInsertLockRelease();
    }
  }

  /** synchronous_commit: whether a commit flushes its record (on) or not (off). */
  get synchronousCommit(): boolean {
    return Atomics.load(this.w, W_SYNC_COMMIT) !== 0;
  }

  /** Sets synchronous_commit for every backend of this WAL. */
  setSynchronousCommit(on: boolean): void {
    Atomics.store(this.w, W_SYNC_COMMIT, on ? 1 : 0);
  }

  /** GetXLogInsertRecPtr: where the next record will start. */
  getInsertRecPtr(): XLogRecPtr {
    return BigInt(bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, false));
  }

  /** The end of everything reserved so far (what XLogFlush flushes up to). */
  getInsertEndRecPtr(): XLogRecPtr {
    return BigInt(bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, true));
  }

  /** ProcLastRecPtr: start of the last record this backend inserted. */
  getLastRecPtr(): XLogRecPtr {
    return BigInt(this.lastRecPtr);
  }

  /** GetXLogWriteRecPtr: written (not necessarily synced) up to here. */
  getWriteRecPtr(): XLogRecPtr {
    return Atomics.load(this.q, Q_WRITE);
  }

  /** GetFlushRecPtr: durable up to here. */
  getFlushRecPtr(): XLogRecPtr {
    return Atomics.load(this.q, Q_FLUSH);
  }

  /** Counters of the whole shared WAL. */
  get stats(): XLogWriterStats {
    const out: Record<string, number> = {};
    STAT_NAMES.forEach((name, i) => {
      out[name] = Number(Atomics.load(this.q, Q_STATS + i));
    });
    return out as unknown as XLogWriterStats;
  }

  // ------------------------------------------------------------------ WAL insertion locks

  private insertLockSlot(i: number): number {
    return W_INSERT_LOCKS + i * LWLOCK_VAR_INTS;
  }

  /**
   * WALInsertLockAcquire: takes one insertion lock; when it was busy, the next insertion tries
   * the next lock, so that inserters spread over the 8 locks.
   */
  private walInsertLockAcquire(): void {
    assert(this.myLockNo < 0 && !this.holdingAllLocks, "WAL insertion lock already held");
    this.myLockNo = this.lockToTry;
    const slot = this.insertLockSlot(this.myLockNo);
    if (!lwlockConditionalAcquire(this.w, slot, LW_EXCLUSIVE)) {
      lwlockAcquire(this.w, slot, LW_EXCLUSIVE);
      this.lockToTry = (this.lockToTry + 1) % NUM_XLOGINSERT_LOCKS;
    }
  }

  /**
   * WALInsertLockAcquireExclusive: all insertion locks, in order; all but the last advertise
   * "past everything" so that WaitXLogInsertionsToFinish only follows the last one.
   */
  private walInsertLockAcquireExclusive(): void {
    assert(this.myLockNo < 0 && !this.holdingAllLocks, "WAL insertion lock already held");
    for (let i = 0; i < NUM_XLOGINSERT_LOCKS; i++) {
      const slot = this.insertLockSlot(i);
      lwlockAcquire(this.w, slot, LW_EXCLUSIVE);
      if (i < NUM_XLOGINSERT_LOCKS - 1) {
        lwlockUpdateVar(this.w, slot, this.q, Q_INSERTING_AT + i, INSERTING_AT_ALL);
      }
    }
    this.holdingAllLocks = true;
  }

  /** WALInsertLockRelease: releases the lock(s) held, resetting insertingAt to 0. */
  private walInsertLockRelease(): void {
    if (this.holdingAllLocks) {
      for (let i = 0; i < NUM_XLOGINSERT_LOCKS; i++) {
        lwlockReleaseClearVar(this.w, this.insertLockSlot(i), this.q, Q_INSERTING_AT + i, 0n);
      }
      this.holdingAllLocks = false;
    } else {
      assert(this.myLockNo >= 0, "no WAL insertion lock held");
      const i = this.myLockNo;
      lwlockReleaseClearVar(this.w, this.insertLockSlot(i), this.q, Q_INSERTING_AT + i, 0n);
      this.myLockNo = -1;
    }
  }

  /** WALInsertLockUpdateInsertingAt: everything this backend inserts before `pos` is copied. */
  private walInsertLockUpdateInsertingAt(pos: number): void {
    const i = this.holdingAllLocks ? NUM_XLOGINSERT_LOCKS - 1 : this.myLockNo;
    assert(i >= 0, "updating insertingAt without an insertion lock");
    lwlockUpdateVar(this.w, this.insertLockSlot(i), this.q, Q_INSERTING_AT + i, BigInt(pos));
  }

  /**
   * WaitXLogInsertionsToFinish: waits until every insertion into WAL before `upto` has been
   * copied into the buffers, and returns a position up to which everything is copied (at least
   * `upto`, or the end of reserved WAL if that is smaller). The caller must not hold an
   * insertion lock whose insertingAt it has not advanced past `upto`.
   */
  private waitXLogInsertionsToFinish(upto: number): number {
    const reservedUpto = bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, true);
    // A request past the end of reserved WAL (PostgreSQL logs "request to flush past end of
    // generated WAL") waits for what was reserved.
    const target = Math.min(upto, reservedUpto);
    let finishedUpto = reservedUpto;
    for (let i = 0; i < NUM_XLOGINSERT_LOCKS; i++) {
      let insertingAt = 0n;
      for (let n = 0; ; n++) {
        assert(n < LOOP_BOUND, "WaitXLogInsertionsToFinish ran past its bound");
        // The holder of lock i advertises insertingAt 0 until it has to wait for something: we
        // must wait for it (or for its release) unless it advertises a position past `target`.
        const r = lwlockWaitForVar(
          this.w,
          this.insertLockSlot(i),
          this.q,
          Q_INSERTING_AT + i,
          insertingAt,
        );
        if (r.free) {
          insertingAt = 0n;
          break;
        }
        insertingAt = r.value;
        if (insertingAt !== 0n && Number(insertingAt) >= target) break;
      }
      if (insertingAt !== 0n && Number(insertingAt) < finishedUpto) {
        finishedUpto = Number(insertingAt);
      }
    }
    return finishedUpto;
  }

  // ------------------------------------------------------------------ inserting

  /**
   * XLogInsertRecord: reserves space for an assembled record, sets its xl_prev, finishes its CRC
   * and copies it into the WAL buffers under a WAL insertion lock. An XLOG_SWITCH also consumes
   * and flushes the rest of its segment. The record is durable only after `flush(endLsn)`.
   *
   * With `fpwRecheck` (XLogInsertState.insert passes it), it first re-checks, under the
   * insertion lock, the redo pointer and full_page_writes the record was assembled with: if
   * full-page writes are on and either they were off at assembly, or a page assembled without
   * an image has an LSN at or before the (new) redo pointer (the record's fpwLsn), nothing is
   * inserted and undefined is returned — the caller assembles again with
   * `getFullPageWriteInfo` and retries (XLogInsert's loop, §4.2). Without it the record is
   * inserted as it is, with the images its maker chose.
   */
  insertRecord(record: AssembledRecord): XLogInsertResult;
  insertRecord(
    record: AssembledRecord,
    options: { readonly fpwRecheck: boolean },
  ): XLogInsertResult | undefined;
  insertRecord(
    record: AssembledRecord,
    options: { readonly fpwRecheck: boolean } = { fpwRecheck: false },
  ): XLogInsertResult | undefined {
    const { bytes, length } = record;
    if (length !== undefined) {
      assert(
        Number.isInteger(length) && length <= bytes.length,
        "an assembled record's length is within its bytes",
      );
    }
    return this.xlogInsertRecord(
      bytes,
      length ?? bytes.length,
      record.payloadCrc,
      record.fpwLsn === InvalidXLogRecPtr ? 0 : lsnAsNumber(record.fpwLsn),
      record.doPageWrites !== false,
      options.fpwRecheck,
    );
  }

  private xlogInsertRecord(
    rec: Uint8Array,
    totLen: number,
    payloadCrc: number,
    fpwLsn: number,
    prevDoPageWrites: boolean,
    recheck: boolean,
  ): XLogInsertResult | undefined {
    this.checkOpen();
    assert(totLen >= SizeOfXLogRecord, "a WAL record is at least 24 bytes");
    const rmid = rec[17]!;
    const info = rec[16]!;
    const isLogSwitch = rmid === RM_XLOG_ID && (info & ~XLR_INFO_MASK) === XLOG_SWITCH;
    if (isLogSwitch) assert(totLen === SizeOfXLogRecord, "an XLOG_SWITCH record has no data");

    if (isLogSwitch) this.walInsertLockAcquireExclusive();
    else this.walInsertLockAcquire();
    let startPos = 0;
    let endPos = 0;
    let inserted = true;
    let reserved = false;
    try {
      if (recheck) {
        // Under the insertion lock RedoRecPtr and fullPageWrites cannot change: bring the
        // backend's copies up to date and check the record against them.
        this.refreshFpwInfo();
        if (
          this.localDoPageWrites &&
          (!prevDoPageWrites || (fpwLsn !== 0 && fpwLsn <= this.localRedoRecPtr))
        ) {
          // Some page now needs an image the record was assembled without: start over.
          return undefined;
        }
      }
      let prevPtr: number;
      if (isLogSwitch) {
        const r = this.reserveXLogSwitch();
        startPos = r.startPos;
        endPos = r.endPos;
        prevPtr = r.prevPtr;
        inserted = r.inserted;
      } else {
        this.reserveXLogInsertLocation((totLen + 7) & ~7);
        startPos = this.resStartPos;
        endPos = this.resEndPos;
        prevPtr = this.resPrevPtr;
      }
      reserved = inserted;
      if (inserted) {
        // The record's words (the insert state's buffer: made once), for the CRC and the copy.
        if (rec !== this.recArray && (rec.byteOffset & 3) === 0) {
          this.recArray = rec;
          this.rec32 = new Int32Array(rec.buffer, rec.byteOffset, rec.length >> 2);
        }
        const rec32 = rec === this.recArray ? this.rec32 : null;
        finishRecordBytes(rec, rec32, totLen, payloadCrc, prevPtr);
        this.copyXLogRecordToWAL(rec, totLen, isLogSwitch, startPos, endPos);
      }
    } catch (e) {
      // Space was reserved but not filled: the WAL cannot go on (START_CRIT_SECTION → PANIC).
      if (reserved) this.panic(`WAL insertion failed: ${(e as Error).message}`);
      throw e;
    } finally {
      this.walInsertLockRelease();
    }

    if (!inserted) {
      // An XLOG_SWITCH exactly at a segment start: nothing to switch.
      this.flushTo(endPos);
      return { startLsn: BigInt(endPos), endLsn: BigInt(endPos), inserted: false };
    }
    // A record that crossed a page: ask for the pages it completed to be written.
    if (Math.floor(startPos / XLOG_BLCKSZ) !== Math.floor(endPos / XLOG_BLCKSZ)) {
      lwlockAcquire(this.w, W_INFO_LCK, LW_EXCLUSIVE);
      if (this.ld(Q_RQST_WRITE) < endPos) this.st(Q_RQST_WRITE, endPos);
      lwlockRelease(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    }
    this.lastRecPtr = startPos;
    this.count("records");

    if (isLogSwitch) {
      // The switch is flushed at once, with the zeroed rest of its segment.
      this.flushTo(endPos);
      let switchEnd = startPos + SizeOfXLogRecord;
      if (Math.floor(startPos / XLOG_BLCKSZ) !== Math.floor(switchEnd / XLOG_BLCKSZ)) {
        switchEnd +=
          switchEnd % this.walSegSize === switchEnd % XLOG_BLCKSZ
            ? SizeOfXLogLongPHD
            : SizeOfXLogShortPHD;
      }
      return { startLsn: BigInt(startPos), endLsn: BigInt(switchEnd), inserted: true };
    }
    return { startLsn: BigInt(startPos), endLsn: BigInt(endPos), inserted: true };
  }

  /**
   * ReserveXLogInsertLocation: `size` (MAXALIGNed) bytes at the insert position; the record's
   * StartPos, EndPos and PrevPtr are left in `resStartPos`, `resEndPos`, `resPrevPtr`.
   */
  private reserveXLogInsertLocation(size: number): void {
    lwlockAcquire(this.w, W_INSERTPOS_LCK, LW_EXCLUSIVE);
    const startBytePos = this.ld(Q_CURR_BYTE_POS);
    const prevBytePos = this.ld(Q_PREV_BYTE_POS);
    const endBytePos = startBytePos + size;
    this.st(Q_CURR_BYTE_POS, endBytePos);
    this.st(Q_PREV_BYTE_POS, startBytePos);
    lwlockRelease(this.w, W_INSERTPOS_LCK, LW_EXCLUSIVE);
    this.resStartPos = bytePosToLsn(startBytePos, this.walSegSize, false);
    this.resEndPos = bytePosToLsn(endBytePos, this.walSegSize, true);
    this.resPrevPtr = prevBytePos < 0 ? 0 : bytePosToLsn(prevBytePos, this.walSegSize, false);
  }

  /**
   * ReserveXLogSwitch: the switch record and the rest of its segment; nothing when the insert
   * position is exactly at a segment start. Caller holds all insertion locks.
   */
  private reserveXLogSwitch(): {
    startPos: number;
    endPos: number;
    prevPtr: number;
    inserted: boolean;
  } {
    const seg = this.walSegSize;
    lwlockAcquire(this.w, W_INSERTPOS_LCK, LW_EXCLUSIVE);
    try {
      const startBytePos = this.ld(Q_CURR_BYTE_POS);
      const here = bytePosToLsn(startBytePos, seg, true);
      if (here % seg === 0) return { startPos: here, endPos: here, prevPtr: 0, inserted: false };
      const prevBytePos = this.ld(Q_PREV_BYTE_POS);
      const startPos = bytePosToLsn(startBytePos, seg, false);
      let endPos = bytePosToLsn(startBytePos + SizeOfXLogRecord, seg, true);
      const segLeft = seg - (endPos % seg);
      if (segLeft !== seg) endPos += segLeft;
      this.st(Q_CURR_BYTE_POS, lsnToBytePos(endPos, seg));
      this.st(Q_PREV_BYTE_POS, startBytePos);
      return {
        startPos,
        endPos,
        prevPtr: prevBytePos < 0 ? 0 : bytePosToLsn(prevBytePos, seg, false),
        inserted: true,
      };
    } finally {
      lwlockRelease(this.w, W_INSERTPOS_LCK, LW_EXCLUSIVE);
    }
  }

  /**
   * CopyXLogRecordToWAL: copies the record into the pages from `startPos`, writing xlp_rem_len and
   * XLP_FIRST_IS_CONTRECORD on each page it continues onto. A switch then zeroes the rest of its
   * segment, page headers included. Caller holds an insertion lock (all of them for a switch).
   */
  private copyXLogRecordToWAL(
    rec: Uint8Array,
    writeLen: number,
    isLogSwitch: boolean,
    startPos: number,
    endPos: number,
  ): void {
    let currPos = startPos;
    let at = this.getXLogBuffer(currPos);
    let freeSpace = insertFreeSpace(currPos);
    assert(freeSpace >= 4, "a record starts with at least xl_tot_len on its first page");
    let written = 0;
    while (writeLen - written > freeSpace) {
      this.copyBytes(at, rec, written, written + freeSpace);
      written += freeSpace;
      currPos += freeSpace;
      // The next page: say how much of the record is still to come.
      at = this.getXLogBuffer(currPos);
      writeUint32(this.pages, at + 16, writeLen - written);
      this.pages[at + 2] = this.pages[at + 2]! | XLP_FIRST_IS_CONTRECORD;
      const hdr = currPos % this.walSegSize === 0 ? SizeOfXLogLongPHD : SizeOfXLogShortPHD;
      currPos += hdr;
      at += hdr;
      freeSpace = insertFreeSpace(currPos);
    }
    this.copyBytes(at, rec, written, writeLen);
    currPos += writeLen - written;

    if (isLogSwitch && currPos % this.walSegSize !== 0) {
      assert(endPos % this.walSegSize === 0, "a switch reserves up to a segment boundary");
      // The rest of this page is zero already; the remaining pages become all zeros.
      currPos += insertFreeSpace(currPos);
      while (currPos < endPos) {
        const p = this.getXLogBuffer(currPos);
        this.pages.fill(0, p, p + SizeOfXLogShortPHD);
        currPos += XLOG_BLCKSZ;
      }
    } else {
      // MAXALIGN without 32-bit bitwise operators: WAL positions pass 2^32 after 4 GB.
      currPos += (8 - (currPos % 8)) % 8;
    }
    assert(currPos === endPos, "space reserved for WAL record does not match what was written");
  }

  /**
   * Copies `rec[from, to)` into the WAL buffer pages at `at`: 32-bit words where both sides are
   * word-aligned (records start MAXALIGNed, and so does each continuation), the last bytes one
   * by one — nothing past `to` is copied — and a plain `set` for long pieces.
   */
  private copyBytes(at: number, rec: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n > 256) {
      this.pages.set(rec.subarray(from, to), at);
      return;
    }
    const pages = this.pages;
    let i = 0;
    if ((at & 3) === 0 && (from & 3) === 0 && rec === this.recArray) {
      const src32 = this.rec32;
      const dst32 = this.pages32;
      const words = n >> 2;
      const s = from >> 2;
      const d = at >> 2;
      for (let k = 0; k < words; k++) dst32[d + k] = src32[s + k]!;
      i = words << 2;
    }
    for (; i < n; i++) pages[at + i] = rec[from + i]!;
  }

  /**
   * GetXLogBuffer: the offset in `pages` of WAL position `ptr`, initializing its page (and any
   * before it) first if needed — after advertising how far this insertion has got, since
   * initializing may wait.
   */
  private getXLogBuffer(ptr: number): number {
    const pageOffset = ptr % XLOG_BLCKSZ;
    const pageBegin = ptr - pageOffset;
    // The page last looked up (GetXLogBuffer's fast path).
    if (pageBegin === this.cachedPage) return this.cachedPos + pageOffset;
    const idx = this.bufIdx(pageBegin);
    if (this.ld(Q_XLBLOCKS + idx) !== pageBegin + XLOG_BLCKSZ) {
      // Advertise the page start if ptr is just past its header: as the first inserter on the
      // page we are responsible for its initialization, so nobody may flush its header yet.
      const segOffset = ptr % this.walSegSize;
      let initializedUpto = ptr;
      if (ptr % XLOG_BLCKSZ === SizeOfXLogShortPHD && segOffset > XLOG_BLCKSZ) {
        initializedUpto = ptr - SizeOfXLogShortPHD;
      } else if (ptr % XLOG_BLCKSZ === SizeOfXLogLongPHD && segOffset < XLOG_BLCKSZ) {
        initializedUpto = ptr - SizeOfXLogLongPHD;
      }
      this.walInsertLockUpdateInsertingAt(initializedUpto);
      this.advanceXLInsertBuffer(ptr);
      if (this.ld(Q_XLBLOCKS + idx) !== pageBegin + XLOG_BLCKSZ) {
        throw new AssertionError(`could not find WAL buffer for ${formatLsn(BigInt(ptr))}`);
      }
    }
    this.cachedPage = pageBegin;
    this.cachedPos = idx * XLOG_BLCKSZ;
    return this.cachedPos + pageOffset;
  }

  /**
   * AdvanceXLInsertBuffer: initializes pages up to the one holding `upto` under
   * WALBufMappingLock; when a slot still holds an unwritten older page, releases that lock,
   * waits for the insertions into the old page, and writes it under WALWriteLock (unless another
   * backend did meanwhile).
   */
  private advanceXLInsertBuffer(upto: number): void {
    const w = this.w;
    lwlockAcquire(w, W_WAL_BUF_MAPPING_LOCK, LW_EXCLUSIVE);
    let holdingMapping = true;
    try {
      for (let n = 0; upto >= this.ld(Q_INITIALIZED_UPTO); n++) {
        assert(n < LOOP_BOUND, "AdvanceXLInsertBuffer ran past its bound");
        const newPageBegin = this.ld(Q_INITIALIZED_UPTO);
        const idx = this.bufIdx(newPageBegin);
        const oldPageEnd = this.ld(Q_XLBLOCKS + idx);
        if (this.ld(Q_WRITE) < oldPageEnd) {
          lwlockAcquire(w, W_INFO_LCK, LW_EXCLUSIVE);
          if (this.ld(Q_RQST_WRITE) < oldPageEnd) this.st(Q_RQST_WRITE, oldPageEnd);
          lwlockRelease(w, W_INFO_LCK, LW_EXCLUSIVE);
          if (this.ld(Q_WRITE) < oldPageEnd) {
            // Release WALBufMappingLock first so that the insertions we wait for can finish.
            lwlockRelease(w, W_WAL_BUF_MAPPING_LOCK, LW_EXCLUSIVE);
            holdingMapping = false;
            this.waitXLogInsertionsToFinish(oldPageEnd);
            lwlockAcquire(w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE);
            try {
              if (this.ld(Q_WRITE) < oldPageEnd) {
                this.xlogWrite(oldPageEnd, 0);
                this.count("walBuffersFull");
              }
            } finally {
              lwlockRelease(w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE);
            }
            lwlockAcquire(w, W_WAL_BUF_MAPPING_LOCK, LW_EXCLUSIVE);
            holdingMapping = true;
            continue;
          }
        }
        // The slot is free: make it the page at InitializedUpTo.
        const at = idx * XLOG_BLCKSZ;
        this.pages.fill(0, at, at + XLOG_BLCKSZ);
        const longHeader = newPageBegin % this.walSegSize === 0;
        // pgsim never runs online backups, so pages are always XLP_BKP_REMOVABLE.
        writeXLogPageHeader(this.pages, at, {
          magic: XLOG_PAGE_MAGIC,
          info: XLP_BKP_REMOVABLE | (longHeader ? XLP_LONG_HEADER : 0),
          tli: this.timeLineId,
          pageAddr: BigInt(newPageBegin),
          remLen: 0,
          sysid: this.systemIdentifier,
          segSize: this.walSegSize,
          xlogBlcksz: XLOG_BLCKSZ,
        });
        // The page's bytes are in place before xlblocks says so (an Atomics store orders them),
        // since GetXLogBuffer reads xlblocks without a lock.
        this.st(Q_XLBLOCKS + idx, newPageBegin + XLOG_BLCKSZ);
        this.st(Q_INITIALIZED_UPTO, newPageBegin + XLOG_BLCKSZ);
      }
    } finally {
      if (holdingMapping) lwlockRelease(w, W_WAL_BUF_MAPPING_LOCK, LW_EXCLUSIVE);
    }
  }

  // ------------------------------------------------------------------ writing and flushing

  /**
   * XLogWrite: writes buffer pages from LogwrtResult.Write up to `writeRqst` (the last one whole
   * even if partly filled), syncing each segment as its last page is written, then syncs up to
   * `flushRqst` if asked. Caller holds WALWriteLock and has waited for the insertions below
   * `writeRqst` to finish.
   */
  private xlogWrite(writeRqst: number, flushRqst: number): void {
    try {
      this.xlogWriteInner(writeRqst, flushRqst);
    } catch (e) {
      // XLogWrite runs in a critical section: every failure is a PANIC. A write that failed
      // may have left part of a page; pgsim stops, and crash recovery starts from what is
      // durable.
      if (e instanceof PgsimError && (e.code === "panic" || e.code === "crash-shutdown")) throw e;
      const message = e instanceof PgsimError ? e.message : (e as Error).message;
      throw this.panic(message, e instanceof PgsimError ? { ...e.detail } : {});
    }
  }

  private xlogWriteInner(writeRqst: number, flushRqst: number): void {
    this.faults?.checkNotPanicked();
    let write = this.ld(Q_WRITE);
    let flush = this.ld(Q_FLUSH);
    let npages = 0;
    let startIdx = 0;
    let startOffset = 0;
    let currIdx = this.bufIdx(write);
    let bound = Math.ceil((writeRqst - write) / XLOG_BLCKSZ) + 1;
    while (write < writeRqst) {
      assert(bound-- > 0, "XLogWrite ran past its bound");
      const endPtr = this.ld(Q_XLBLOCKS + currIdx);
      assert(
        write < endPtr,
        `xlog write request ${formatLsn(BigInt(writeRqst))} is past end of log ${formatLsn(BigInt(endPtr))}`,
      );
      write = endPtr;
      const isPartialPage = writeRqst < write;
      const segNo = Math.floor((write - 1) / this.walSegSize);
      if (segNo !== this.openLogSegNo) {
        assert(npages === 0, "no pending pages when switching segments");
        this.openSegment(segNo);
      }
      if (npages === 0) {
        startIdx = currIdx;
        startOffset = (write - XLOG_BLCKSZ) % this.walSegSize;
      }
      npages++;
      const lastIteration = writeRqst <= write;
      const finishingSeg = !isPartialPage && startOffset + npages * XLOG_BLCKSZ >= this.walSegSize;
      if (lastIteration || currIdx === this.nbuffers - 1 || finishingSeg) {
        const from = startIdx * XLOG_BLCKSZ;
        const nbytes = npages * XLOG_BLCKSZ;
        let done = 0;
        const file = this.segmentPath(this.openLogSegNo);
        while (done < nbytes) {
          let n: number;
          try {
            n = ioWrite(
              "wal-write",
              file,
              this.openLogFile!,
              this.pages,
              from + done,
              nbytes - done,
              startOffset + done,
            );
          } catch (e) {
            throw walError(
              errnoCode(e),
              `could not write to log file ${path.basename(file)} at offset ${startOffset + done}, length ${nbytes - done}: ${errnoText(e)}`,
              { errno: (e as NodeJS.ErrnoException).code },
            );
          }
          // PostgreSQL retries a partial write; a write of nothing means the disk is full.
          if (n === 0) {
            throw walError(
              "disk-full",
              `could not write to log file ${path.basename(file)} at offset ${startOffset + done}, length ${nbytes - done}: No space left on device`,
            );
          }
          done += n;
        }
        this.count("writes");
        this.count("bytesWritten", nbytes);
        npages = 0;
        if (finishingSeg) {
          this.issueXLogFsync(this.openLogFile!);
          flush = write;
          this.st(Q_WRITE, write);
          this.st(Q_FLUSH, flush);
          // Too much WAL since the last checkpoint: ask for one (RequestCheckpoint).
          if (this.xlogCheckpointNeeded(segNo)) Atomics.store(this.w, W_CKPT_REQUESTED, 1);
        }
      }
      if (isPartialPage) {
        write = writeRqst;
        break;
      }
      currIdx = (currIdx + 1) % this.nbuffers;
    }
    this.st(Q_WRITE, write);
    if (flush < flushRqst && flush < write) {
      // Only the segment holding the write position can have unsynced bytes: segments are
      // synced as they are finished. Another backend may have written them: any descriptor of
      // the file syncs its data.
      const segNo = Math.floor((write - 1) / this.walSegSize);
      if (segNo !== this.openLogSegNo) this.openSegment(segNo);
      this.issueXLogFsync(this.openLogFile!);
      flush = write;
    }
    this.st(Q_FLUSH, flush);
    // The shared requests never fall behind the results.
    lwlockAcquire(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    if (this.ld(Q_RQST_WRITE) < write) this.st(Q_RQST_WRITE, write);
    if (this.ld(Q_RQST_FLUSH) < flush) this.st(Q_RQST_FLUSH, flush);
    lwlockRelease(this.w, W_INFO_LCK, LW_EXCLUSIVE);
  }

  private openSegment(segNo: number): void {
    this.closeLogFile();
    this.openLogFile = this.xlogFileInit(segNo);
    this.openLogSegNo = segNo;
  }

  /** XLogNeedsFlush: whether the WAL is not yet durable up to `lsn`. */
  needsFlush(lsn: XLogRecPtr): boolean {
    return lsn > Atomics.load(this.q, Q_FLUSH);
  }

  /**
   * XLogFlush: makes the WAL durable up to at least `lsn`. Returns at once if it already is.
   * Otherwise, as PostgreSQL's group commit: waits for the insertions up to the largest pending
   * write request, then tries WALWriteLock; if another backend holds it, waits for its release
   * and looks again — that backend usually flushed past `lsn` already; with the lock, writes and
   * syncs everything inserted so far, so that concurrent committers find their records durable.
   * Throws `wal-flush-past-end` for a position beyond what was inserted.
   */
  flush(lsn: XLogRecPtr): void {
    this.checkOpen();
    this.flushTo(lsnAsNumber(lsn));
  }

  private flushTo(record: number): void {
    if (record <= this.ld(Q_FLUSH)) return;
    const insertEnd = bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, true);
    if (record > insertEnd) {
      throw walError(
        "wal-flush-past-end",
        `xlog flush request ${formatLsn(BigInt(record))} is not satisfied --- flushed only to ${formatLsn(Atomics.load(this.q, Q_FLUSH))}`,
        { request: BigInt(record), insertEnd: BigInt(insertEnd) },
      );
    }
    this.count("flushRequests");
    let writeRqstPtr = record;
    for (let n = 0; ; n++) {
      assert(n < LOOP_BOUND, "XLogFlush ran past its bound");
      lwlockAcquire(this.w, W_INFO_LCK, LW_EXCLUSIVE);
      writeRqstPtr = Math.max(writeRqstPtr, this.ld(Q_RQST_WRITE));
      lwlockRelease(this.w, W_INFO_LCK, LW_EXCLUSIVE);
      if (record <= this.ld(Q_FLUSH)) break;
      const insertPos = this.waitXLogInsertionsToFinish(writeRqstPtr);
      // If another backend is writing, wait for it and look again: it may have flushed us.
      if (!lwlockAcquireOrWait(this.w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE)) continue;
      try {
        if (record <= this.ld(Q_FLUSH)) break;
        // Write and flush everything inserted so far, not only up to `record`.
        this.xlogWrite(insertPos, insertPos);
      } finally {
        lwlockRelease(this.w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE);
      }
      break;
    }
    const flushed = this.ld(Q_FLUSH);
    if (record > flushed) {
      throw walError(
        "wal-flush-past-end",
        `xlog flush request ${formatLsn(BigInt(record))} is not satisfied --- flushed only to ${formatLsn(BigInt(flushed))}`,
      );
    }
  }

  /**
   * XLogSetAsyncXactLSN: a commit with synchronous_commit off records its LSN here instead of
   * flushing. PostgreSQL then wakes the WAL writer; pgsim has none, so the committing backend
   * does the WAL writer's round itself (`backgroundFlush`) when the last one is older than
   * wal_writer_delay — an asynchronous commit is durable within about wal_writer_delay while the
   * database is busy, and at the next flush, checkpoint or `backgroundFlush` call otherwise.
   */
  setAsyncXactLsn(lsn: XLogRecPtr): void {
    this.checkOpen();
    const at = lsnAsNumber(lsn);
    lwlockAcquire(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    if (this.ld(Q_ASYNC_XACT_LSN) < at) this.st(Q_ASYNC_XACT_LSN, at);
    lwlockRelease(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    if (Date.now() - this.ld(Q_LAST_BG_FLUSH_MS) >= this.shared.settings.walWriterDelayMs) {
      this.backgroundFlush();
    }
  }

  /**
   * XLogBackgroundFlush, the WAL writer's round: writes and syncs the completed pages requested
   * so far, or, if they are durable already, everything up to the latest asynchronous commit.
   * Returns whether it wrote anything. Call it periodically where no backend is busy.
   *
   * Differs from PostgreSQL: always syncs what it writes (no wal_writer_flush_after), and does
   * not pre-initialize WAL buffer pages.
   */
  backgroundFlush(): boolean {
    this.checkOpen();
    this.st(Q_LAST_BG_FLUSH_MS, Date.now());
    lwlockAcquire(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    let writeRqst = this.ld(Q_RQST_WRITE);
    const asyncLsn = this.ld(Q_ASYNC_XACT_LSN);
    lwlockRelease(this.w, W_INFO_LCK, LW_EXCLUSIVE);
    // Back off to the last page boundary: only completed pages.
    writeRqst -= writeRqst % XLOG_BLCKSZ;
    const flushed = this.ld(Q_FLUSH);
    if (writeRqst <= flushed) writeRqst = asyncLsn;
    if (writeRqst <= flushed) return false;
    this.waitXLogInsertionsToFinish(writeRqst);
    lwlockAcquire(this.w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE);
    try {
      if (this.ld(Q_FLUSH) >= writeRqst) return false;
      this.xlogWrite(writeRqst, writeRqst);
    } finally {
      lwlockRelease(this.w, W_WAL_WRITE_LOCK, LW_EXCLUSIVE);
    }
    this.count("backgroundFlushes");
    return true;
  }

  /** issue_xlog_fsync: a failure is a PANIC. */
  private issueXLogFsync(fd: number): void {
    if (this.walSyncMethod === "off") return;
    const file = this.segmentPath(this.openLogSegNo);
    try {
      ioFsync("wal-fsync", file, fd, this.walSyncMethod !== "fsync");
    } catch (e) {
      throw this.panic(
        `could not ${this.walSyncMethod === "fsync" ? "fsync" : "fdatasync"} file "${path.basename(file)}": ${errnoText(e)}`,
        { errno: (e as NodeJS.ErrnoException).code },
      );
    }
    this.count("syncs");
  }

  // ------------------------------------------------------------------ segment files

  private segmentPath(segNo: number): string {
    return path.join(this.walDir, xlogFileName(this.timeLineId, segNo, this.walSegSize));
  }

  /**
   * XLogFileInit: opens segment `segNo`, creating it first if it does not exist: written full of
   * zeros (or just sized) under a temporary name, synced, then installed under its name — or, if
   * another backend installed that segment meanwhile, as a future segment.
   */
  private xlogFileInit(segNo: number): number {
    const file = this.segmentPath(segNo);
    try {
      return fs.openSync(file, fs.constants.O_RDWR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const tmp = path.join(
      this.walDir,
      threadId === 0 ? `xlogtemp.${process.pid}` : `xlogtemp.${process.pid}.${threadId}`,
    );
    fs.rmSync(tmp, { force: true });
    const fd = fs.openSync(
      tmp,
      fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL,
      0o600,
    );
    const shown = `pg_wal/${path.basename(tmp)}`;
    try {
      if (this.walInitZero) {
        const zeros = new Uint8Array(Math.min(this.walSegSize, 1 << 20));
        for (let off = 0; off < this.walSegSize; off += zeros.length) {
          let done = 0;
          while (done < zeros.length) {
            const n = ioWrite("wal-write", tmp, fd, zeros, done, zeros.length - done, off + done);
            // A write of nothing without errno: PostgreSQL assumes ENOSPC.
            if (n === 0) throw Object.assign(new Error("short write"), { code: "ENOSPC" });
            done += n;
          }
        }
      } else {
        ioWrite("wal-write", tmp, fd, new Uint8Array(1), 0, 1, this.walSegSize - 1);
      }
    } catch (e) {
      // XLogFileInitInternal: the partial file goes; the error says what failed.
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw walError(errnoCode(e), `could not write to file "${shown}": ${errnoText(e)}`, {
        path: shown,
        errno: (e as NodeJS.ErrnoException).code,
        hint: "Check free disk space.",
      });
    }
    if (this.walSyncMethod !== "off") {
      try {
        ioFsync("wal-fsync", tmp, fd);
      } catch (e) {
        fs.closeSync(fd);
        throw this.panic(`could not fsync file "${shown}": ${errnoText(e)}`, {
          errno: (e as NodeJS.ErrnoException).code,
        });
      }
    }
    fs.closeSync(fd);
    const s = this.shared.settings;
    const maxSegNo =
      segNo + checkpointSegments(s.maxWalSizeBytes, this.walSegSize, s.checkpointCompletionTarget);
    if (this.installXLogFileSegment(segNo, tmp, maxSegNo) !== undefined) {
      this.count("segmentsCreated");
    } else {
      fs.rmSync(tmp, { force: true });
    }
    return fs.openSync(file, fs.constants.O_RDWR);
  }

  /**
   * InstallXLogFileSegment (find_free): renames `from` to the first segment number from `segNo`
   * on that does not exist yet, up to `maxSegNo`, under ControlFileLock. Returns the number, or
   * undefined when every name up to `maxSegNo` exists.
   */
  private installXLogFileSegment(
    segNo: number,
    from: string,
    maxSegNo: number,
  ): number | undefined {
    lwlockAcquire(this.w, W_CONTROL_FILE_LOCK, LW_EXCLUSIVE);
    try {
      let n = segNo;
      while (fs.existsSync(this.segmentPath(n))) {
        n++;
        if (n > maxSegNo) return undefined;
      }
      fs.renameSync(from, this.segmentPath(n));
      this.syncWalDir();
      return n;
    } finally {
      lwlockRelease(this.w, W_CONTROL_FILE_LOCK, LW_EXCLUSIVE);
    }
  }

  private syncWalDir(): void {
    if (this.walSyncMethod === "off") return;
    const dirFd = fs.openSync(this.walDir, "r");
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }

  private closeLogFile(): void {
    if (this.openLogFile !== null) fs.closeSync(this.openLogFile);
    this.openLogFile = null;
    this.openLogSegNo = -1;
  }

  /**
   * PreallocXlogFiles: when the insert position is in the last quarter of its segment, creates
   * the next segment now (a checkpoint calls this), so that no committer has to. Returns whether
   * a segment was created.
   */
  preallocSegments(): boolean {
    this.checkOpen();
    const insert = lsnAsNumber(this.getInsertRecPtr());
    if (insert % this.walSegSize < 0.75 * this.walSegSize) return false;
    const before = this.stats.segmentsCreated;
    fs.closeSync(this.xlogFileInit(Math.floor(insert / this.walSegSize) + 1));
    return this.stats.segmentsCreated > before;
  }

  /**
   * Makes sure the segment of the insert position and the next one exist, creating them now
   * (outside any critical section), so that a statement that writes less than a segment of WAL
   * never has to create one while its changes are half made. pgsim calls this before every
   * statement that may write WAL. A failure — ENOSPC above all — is an ERROR for the statement
   * ("could not write to file "pg_wal/xlogtemp.N": No space left on device"), and the database
   * goes on; the next statement tries again, so the work resumes once space returns.
   *
   * Differs from PostgreSQL: PostgreSQL pre-allocates at checkpoints only (PreallocXlogFiles)
   * and otherwise creates a segment inside XLogWrite's critical section, where ENOSPC is a
   * PANIC; pgsim pre-allocates before statements as well, so running out of space fails the
   * statement. A statement that writes more than a segment of WAL may still create one inside
   * XLogWrite — a PANIC there, as in PostgreSQL.
   */
  ensureSegmentsAhead(): void {
    this.checkOpen();
    const insertSeg = Math.floor(lsnAsNumber(this.getInsertRecPtr()) / this.walSegSize);
    if (insertSeg + 1 <= this.knownSegNo) return;
    for (let seg = insertSeg; seg <= insertSeg + 1; seg++) {
      if (fs.existsSync(this.segmentPath(seg))) continue;
      fs.closeSync(this.xlogFileInit(seg));
    }
    this.knownSegNo = insertSeg + 1;
  }

  /** The segments from the redo pointer's to the insert position's (0: the same segment). */
  segmentsSinceRedo(): number {
    const redoSeg = Math.floor(lsnAsNumber(this.getRedoRecPtr()) / this.walSegSize);
    const insertSeg = Math.floor(lsnAsNumber(this.getInsertRecPtr()) / this.walSegSize);
    return insertSeg - redoSeg;
  }

  /** XLogCheckpointNeeded: segment `segNo` is finished and too far past the redo pointer. */
  private xlogCheckpointNeeded(segNo: number, maxWalSizeBytes?: number): boolean {
    const s = this.shared.settings;
    const segs = checkpointSegments(
      maxWalSizeBytes ?? s.maxWalSizeBytes,
      this.walSegSize,
      s.checkpointCompletionTarget,
    );
    const redoSeg = Math.floor(lsnAsNumber(this.getRedoRecPtr()) / this.walSegSize);
    return segNo >= redoSeg + segs - 1;
  }

  /**
   * Whether the WAL written since the redo pointer calls for a checkpoint
   * (XLogCheckpointNeeded on the last finished segment): CheckPointSegments =
   * max_wal_size / (1 + checkpoint_completion_target) segments, by default max_wal_size from
   * the WAL's settings.
   */
  checkpointNeeded(maxWalSizeBytes?: number): boolean {
    const insertSeg = Math.floor(lsnAsNumber(this.getInsertRecPtr()) / this.walSegSize);
    return this.xlogCheckpointNeeded(insertSeg - 1, maxWalSizeBytes);
  }

  /**
   * Whether XLogWrite asked for a checkpoint (it finished a segment and `checkpointNeeded` said
   * yes) since the last call; clears the request. The checkpoint code polls this where
   * PostgreSQL's checkpointer would be signalled.
   */
  takeCheckpointRequest(): boolean {
    return Atomics.exchange(this.w, W_CKPT_REQUESTED, 0) !== 0;
  }

  /**
   * RemoveOldXlogFiles, as a checkpoint calls it once its record is durable: every segment
   * before the one holding `redoLsn` (the new checkpoint's redo pointer) is no longer needed. With
   * wal_recycle each is renamed to a future segment number — at most as far ahead as XLOGfileslop
   * allows (the checkpoint distance estimate, clamped between min_wal_size and max_wal_size past
   * the redo pointer) — keeping its stale content (readers stop at its old page addresses);
   * otherwise, or beyond that, removed. `priorRedoLsn` (the previous checkpoint's redo pointer)
   * updates the distance estimate (UpdateCheckPointDistanceEstimate). Segments not yet durable
   * up to their end are kept (call it after flushing the checkpoint record).
   */
  removeOldSegments(options: {
    readonly redoLsn: XLogRecPtr;
    readonly priorRedoLsn?: XLogRecPtr;
  }): RemoveOldSegmentsResult {
    this.checkOpen();
    const s = this.shared.settings;
    const seg = this.walSegSize;
    const redo = lsnAsNumber(options.redoLsn);
    if (options.priorRedoLsn !== undefined) {
      const nbytes = redo - lsnAsNumber(options.priorRedoLsn);
      const estimate = this.ld(Q_CKPT_DISTANCE);
      this.st(
        Q_CKPT_DISTANCE,
        estimate < nbytes ? nbytes : Math.round(0.9 * estimate + 0.1 * nbytes),
      );
    }
    // XLOGfileslop.
    const minSegNo = Math.floor(redo / seg) + Math.floor(s.minWalSizeBytes / seg) - 1;
    const maxSegNo = Math.floor(redo / seg) + Math.floor(s.maxWalSizeBytes / seg) - 1;
    const distance = (1 + s.checkpointCompletionTarget) * this.ld(Q_CKPT_DISTANCE) * 1.1;
    const recycleSegNo = Math.min(maxSegNo, Math.max(minSegNo, Math.ceil((redo + distance) / seg)));
    // Segments before the redo pointer's — and never one not yet flushed whole: the caller
    // flushes the checkpoint record (past the redo pointer) first, as CreateCheckPoint does.
    const lastRemovable = Math.min(
      Math.floor(redo / seg) - 1,
      Math.floor(this.ld(Q_FLUSH) / seg) - 1,
    );
    let endLogSegNo = Math.floor(lsnAsNumber(this.getInsertRecPtr()) / seg);
    const removed: string[] = [];
    const recycled: { from: string; to: string }[] = [];
    const names = fs
      .readdirSync(this.walDir)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .sort();
    for (const name of names) {
      const { segNo } = parseXLogFileName(name, seg);
      if (segNo > lastRemovable) continue;
      const file = path.join(this.walDir, name);
      let to: number | undefined;
      if (s.walRecycle && endLogSegNo <= recycleSegNo) {
        to = this.installXLogFileSegment(endLogSegNo, file, recycleSegNo);
      }
      if (to !== undefined) {
        recycled.push({ from: name, to: path.basename(this.segmentPath(to)) });
        endLogSegNo = to + 1;
        this.count("segmentsRecycled");
      } else {
        fs.rmSync(file, { force: true });
        removed.push(name);
        this.count("segmentsRemoved");
      }
    }
    if (removed.length > 0) this.syncWalDir();
    return { removed, recycled };
  }

  // ------------------------------------------------------------------ checkpoint interlock

  private delaySlot(): number {
    return W_PROCS + this.procSlot * PROC_INTS + 1;
  }

  /**
   * MyProc->delayChkptFlags |= DELAY_CHKPT_START: between logging something and making the
   * change it describes visible (a hint-bit image and dirtying its buffer; a commit record and
   * the commit log), a checkpoint must not complete with a redo pointer past the record.
   * Calls nest per backend only as pairs: start, end.
   */
  delayCheckpointStart(): void {
    const v = Atomics.add(this.w, this.delaySlot(), 1);
    assert(v % 2 === 0, "delayCheckpointStart twice");
  }

  /** Clears DELAY_CHKPT_START and wakes a checkpoint waiting for it. */
  delayCheckpointEnd(): void {
    const v = Atomics.add(this.w, this.delaySlot(), 1);
    assert(v % 2 === 1, "delayCheckpointEnd without delayCheckpointStart");
    Atomics.notify(this.w, this.delaySlot());
  }

  /**
   * CreateCheckPoint's wait after fixing the redo pointer (GetVirtualXIDsDelayingChkpt +
   * HaveVirtualXIDsDelayingChkpt): waits until every backend that was inside a
   * `delayCheckpointStart` … `delayCheckpointEnd` window when called has left it. Returns how
   * many backends it waited for.
   */
  waitForCheckpointDelays(): number {
    const max = this.shared.settings.maxBackends;
    const waiting: { slot: number; value: number }[] = [];
    for (let i = 0; i < max; i++) {
      const slot = W_PROCS + i * PROC_INTS + 1;
      const value = Atomics.load(this.w, slot);
      if (value % 2 === 1 && i !== this.procSlot) waiting.push({ slot, value });
    }
    const deadline = Date.now() + 120_000;
    for (const { slot, value } of waiting) {
      while (Atomics.load(this.w, slot) === value) {
        Atomics.wait(this.w, slot, value, 50);
        assert(Date.now() < deadline, "a backend delayed the checkpoint for too long");
      }
    }
    return waiting.length;
  }

  /**
   * Flushes everything inserted (unless `flush: false`, which leaves unwritten WAL behind as a
   * crash would), closes this backend's segment file and frees its slot. Idempotent.
   */
  close(options: { readonly flush?: boolean } = {}): void {
    if (this.closed) return;
    try {
      if (
        (options.flush ?? true) &&
        Atomics.load(this.w, W_PANIC) === 0 &&
        this.faults?.panicked() === undefined
      ) {
        this.flushTo(bytePosToLsn(this.ld(Q_CURR_BYTE_POS), this.walSegSize, true));
      }
    } finally {
      this.closeLogFile();
      this.closed = true;
      // Leave any checkpoint delay, then give the slot back.
      const slot = this.delaySlot();
      if (Atomics.load(this.w, slot) % 2 === 1) this.delayCheckpointEnd();
      Atomics.store(this.w, W_PROCS + this.procSlot * PROC_INTS, 0);
    }
  }
}

/**
 * The last step of assembling a record, once its place in the WAL is known (XLogInsertRecord):
 * sets xl_prev and folds the first 20 header bytes into the payload's CRC to give xl_crc. The
 * record's bytes are changed in place: an assembled record is inserted once.
 */
export function finishXLogRecord(record: AssembledRecord, prev: XLogRecPtr): void {
  const rec = record.bytes;
  writeBigInt64(rec, 8, prev);
  const crc = crc32cFinish(crc32cUpdate(record.payloadCrc, rec, 0, XL_CRC_OFFSET));
  writeUint32(rec, XL_CRC_OFFSET, crc);
}

/**
 * finishXLogRecord on a record in `rec[0, totLen)` with xl_prev as a number (below 2^53): the
 * same bytes, without a bigint.
 */
function finishRecordBytes(
  rec: Uint8Array,
  rec32: Int32Array | null,
  totLen: number,
  payloadCrc: number,
  prev: number,
): void {
  assert(totLen >= SizeOfXLogRecord && totLen <= rec.length, "a record's bytes are in its buffer");
  // ToUint32 is the low 32 bits of any integer below 2^53 (and cheaper than a float modulo).
  const low = prev >>> 0;
  writeUint32(rec, 8, low);
  writeUint32(rec, 12, (prev - low) / 0x100000000);
  const crc = crc32cFinish(
    rec32 !== null
      ? crc32cUpdateWords(payloadCrc, rec, rec32, 0, XL_CRC_OFFSET)
      : crc32cUpdate(payloadCrc, rec, 0, XL_CRC_OFFSET),
  );
  writeUint32(rec, XL_CRC_OFFSET, crc);
}

/** INSERT_FREESPACE: bytes left on the page of `endPtr` (0 at a page boundary). */
function insertFreeSpace(endPtr: number): number {
  const off = endPtr % XLOG_BLCKSZ;
  return off === 0 ? 0 : XLOG_BLCKSZ - off;
}
