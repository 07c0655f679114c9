/**
 * The WAL's shared memory: XLogCtl and its Insert part laid out once in two SharedArrayBuffers
 * (control words and the WAL buffer pages), so that every backend — a worker thread — inserts into
 * the same WAL buffers and sees the same positions.
 *
 * Models: src/backend/access/transam/xlog.c — XLogCtlData, XLogCtlInsert, WALInsertLockPadded,
 * XLOGShmemSize / XLOGShmemInit (NUM_XLOGINSERT_LOCKS = 8), and the fields of PGPROC the WAL
 * needs (delayChkptFlags).
 * Entry points: `initWalShared`, `WalShared`, `WalSettings`, `walSharedViews`, the slot constants.
 * See also: xlog.ts (the algorithms over this memory: XLogWriter), buffer-manager's lwlock.ts (the
 * locks), README-wal.md ("Shared memory and locks").
 *
 * What protects each field (the README lists the lock order):
 * - CurrBytePos, PrevBytePos: insertpos_lck.
 * - RedoRecPtr, fullPageWrites: changed only while holding *all* WAL insertion locks, each change
 *   followed by a bump of their generation counter; read atomically (an inserter re-reads them
 *   under its insertion lock, and only when the counter moved).
 * - insertingAt[i]: published by the holder of insertion lock i (LWLockUpdateVar), read by
 *   WaitXLogInsertionsToFinish (LWLockWaitForVar).
 * - xlblocks[], the pages, InitializedUpTo: WALBufMappingLock to initialize a page; a page's
 *   bytes are then written by the inserters that reserved them, under their insertion lock;
 *   xlblocks is read atomically without a lock (GetXLogBuffer).
 * - LogwrtResult (Write, Flush): changed only by the holder of WALWriteLock (XLogWrite), read
 *   atomically anywhere.
 * - LogwrtRqst (Write, Flush), asyncXactLSN: info_lck.
 * - segment installation (renaming a new or recycled segment into place): ControlFileLock.
 * - synchronousCommit, the checkpoint request flag, statistics: atomic only.
 * - proc slots (in use, delayChkpt counter): each backend changes its own; the checkpoint reads.
 *
 * Differs from PostgreSQL: insertpos_lck and info_lck are spinlocks there and LWLocks here
 * (buffer-manager's lwlock.ts spins briefly before sleeping, which is what a spinlock's
 * s_lock does on contention); ControlFileLock here only serializes installing segment files
 * (pg_control is written by one backend at a time by the checkpoint code). Positions are kept
 * as 64-bit integers (BigInt64Array) but computed with JavaScript numbers, exact below 2⁵³.
 */

import { LWLOCK_INTS, LWLOCK_VAR_INTS } from "@pgsim/buffer-manager/internals";
import { PgsimError } from "@pgsim/clock-sweep";
import type { TimeLineID } from "./xlogdefs.js";

/** wal_sync_method (the Linux choices) or "off" (fsync=off: never sync). */
export type WalSyncMethod = "fdatasync" | "fsync" | "off";

/** NUM_XLOGINSERT_LOCKS. */
export const NUM_XLOGINSERT_LOCKS = 8;

/** The settings fixed when the shared WAL is created (plain data, sent to workers as is). */
export interface WalSettings {
  readonly walDir: string;
  readonly systemIdentifier: bigint;
  readonly timeLineId: TimeLineID;
  readonly walSegSize: number;
  /** wal_buffers in 8 KB pages. */
  readonly walBuffers: number;
  readonly walSyncMethod: WalSyncMethod;
  readonly walInitZero: boolean;
  /** wal_recycle: old segments are renamed to future names instead of being removed. */
  readonly walRecycle: boolean;
  /** wal_writer_delay, in milliseconds (see XLogWriter.setAsyncXactLsn). */
  readonly walWriterDelayMs: number;
  /** max_wal_size and min_wal_size in bytes (checkpoints by WAL volume, segment recycling). */
  readonly maxWalSizeBytes: number;
  readonly minWalSizeBytes: number;
  /** checkpoint_completion_target (CheckPointSegments and XLOGfileslop use it). */
  readonly checkpointCompletionTarget: number;
  /** How many backends may attach at once (each has a proc slot). */
  readonly maxBackends: number;
}

/**
 * A handle on one shared WAL: structured-clonable (SharedArrayBuffers and plain data), so it can
 * be passed to worker threads in `workerData` or a task, each of which calls
 * `XLogWriter.attach(handle)`.
 */
export interface WalShared {
  /** Int32 control words, then 64-bit values (see the slot constants). */
  readonly ctl: SharedArrayBuffer;
  /** The WAL buffers: `settings.walBuffers` pages of 8 KB. */
  readonly pages: SharedArrayBuffer;
  readonly settings: WalSettings;
  /** The database's fault table and PANIC state (@pgsim/buffer-manager injection-point.ts). */
  readonly faults?: SharedArrayBuffer;
}

// ---- Int32 control words (`Int32Array` over ctl).
/** insertpos_lck: CurrBytePos and PrevBytePos. */
export const W_INSERTPOS_LCK = 0;
/** WALBufMappingLock: initializing WAL buffer pages (xlblocks, InitializedUpTo). */
export const W_WAL_BUF_MAPPING_LOCK = W_INSERTPOS_LCK + LWLOCK_INTS;
/** WALWriteLock: XLogWrite (writing and syncing), LogwrtResult. */
export const W_WAL_WRITE_LOCK = W_WAL_BUF_MAPPING_LOCK + LWLOCK_INTS;
/** info_lck: LogwrtRqst, asyncXactLSN. */
export const W_INFO_LCK = W_WAL_WRITE_LOCK + LWLOCK_INTS;
/** ControlFileLock: installing a segment file under its final name. */
export const W_CONTROL_FILE_LOCK = W_INFO_LCK + LWLOCK_INTS;
/** Insert->fullPageWrites (1/0): changed under all insertion locks. */
export const W_FULL_PAGE_WRITES = W_CONTROL_FILE_LOCK + LWLOCK_INTS;
/** synchronous_commit (1 on, 0 off): atomic. */
export const W_SYNC_COMMIT = W_FULL_PAGE_WRITES + 1;
/** Counter handing out each backend's first insertion lock (MyProc->pgprocno % 8). */
export const W_NEXT_LOCK_NO = W_SYNC_COMMIT + 1;
/** 1 when XLogWrite finished a segment and XLogCheckpointNeeded said yes (RequestCheckpoint). */
export const W_CKPT_REQUESTED = W_NEXT_LOCK_NO + 1;
/** 1 after a failure inside an insertion's critical section: the WAL is unusable (PANIC). */
export const W_PANIC = W_CKPT_REQUESTED + 1;
/**
 * Bumped after every change of RedoRecPtr or fullPageWrites (under all insertion locks): a
 * backend re-reads its local copies of the two only when this moved (see XLogWriter).
 */
export const W_FPW_GEN = W_PANIC + 1;
/** The 8 WAL insertion locks, LWLOCK_VAR_INTS each (their insertingAt is in the 64-bit part). */
export const W_INSERT_LOCKS = W_PANIC + 3;
/** Proc slots: per backend, [in use (0/1), delayChkpt counter (odd while delaying)]. */
export const W_PROCS = W_INSERT_LOCKS + NUM_XLOGINSERT_LOCKS * LWLOCK_VAR_INTS;
export const PROC_INTS = 2;

// ---- 64-bit values (`BigInt64Array` over ctl, after the Int32 words).
/** Insert->CurrBytePos: usable byte position where the next record starts. */
export const Q_CURR_BYTE_POS = 0;
/** Insert->PrevBytePos: where the last record started (−1: none, xl_prev = 0). */
export const Q_PREV_BYTE_POS = 1;
/** Insert->RedoRecPtr. */
export const Q_REDO_REC_PTR = 2;
/** LogwrtRqst.Write / .Flush. */
export const Q_RQST_WRITE = 3;
export const Q_RQST_FLUSH = 4;
/** LogwrtResult.Write / .Flush. */
export const Q_WRITE = 5;
export const Q_FLUSH = 6;
/** InitializedUpTo: end of the last initialized WAL buffer page. */
export const Q_INITIALIZED_UPTO = 7;
/** asyncXactLSN: the latest asynchronous commit's LSN. */
export const Q_ASYNC_XACT_LSN = 8;
/** When the last XLogBackgroundFlush ran (Date.now()). */
export const Q_LAST_BG_FLUSH_MS = 9;
/** CheckPointDistanceEstimate, in bytes (checkpoint code only). */
export const Q_CKPT_DISTANCE = 10;
/** Statistics, in the order of `STAT_NAMES`. */
export const Q_STATS = 11;
export const STAT_NAMES = [
  "records",
  "writes",
  "bytesWritten",
  "syncs",
  "segmentsCreated",
  "segmentsRemoved",
  "segmentsRecycled",
  "flushRequests",
  "walBuffersFull",
  "backgroundFlushes",
] as const;
export type WalStatName = (typeof STAT_NAMES)[number];
/** WALInsertLocks[i].insertingAt. */
export const Q_INSERTING_AT = Q_STATS + STAT_NAMES.length;
/** xlblocks[]: end LSN of the page each WAL buffer slot holds. */
export const Q_XLBLOCKS = Q_INSERTING_AT + NUM_XLOGINSERT_LOCKS;

/**
 * insertingAt of the locks a backend holding all of them does not advance (PG_UINT64_MAX in
 * PostgreSQL; any value past every LSN does).
 */
export const INSERTING_AT_ALL = 1n << 62n;

function int32Count(maxBackends: number): number {
  const n = W_PROCS + maxBackends * PROC_INTS;
  return n + (n % 2); // the 64-bit part starts 8-byte aligned
}

/** XLOGShmemSize: bytes of the control buffer and of the page buffer. */
export function walShmemSize(settings: Pick<WalSettings, "walBuffers" | "maxBackends">): {
  readonly ctlBytes: number;
  readonly pagesBytes: number;
} {
  return {
    ctlBytes: int32Count(settings.maxBackends) * 4 + (Q_XLBLOCKS + settings.walBuffers) * 8,
    pagesBytes: settings.walBuffers * 8192,
  };
}

/** A backend's typed views of the shared WAL. */
export interface WalSharedViews {
  /** The Int32 control words. */
  readonly w: Int32Array;
  /** The 64-bit values. */
  readonly q: BigInt64Array;
  /** The WAL buffer pages. */
  readonly pages: Uint8Array;
}

/** The views a backend works with. */
export function walSharedViews(shared: WalShared): WalSharedViews {
  const n32 = int32Count(shared.settings.maxBackends);
  return {
    w: new Int32Array(shared.ctl, 0, n32),
    q: new BigInt64Array(shared.ctl, n32 * 4, Q_XLBLOCKS + shared.settings.walBuffers),
    pages: new Uint8Array(shared.pages),
  };
}

/**
 * Allocates the shared memory of a WAL with `settings` (all zero: every lock free, every
 * position 0). xlog.ts's `initWalShared` fills in the positions.
 */
export function allocWalShared(settings: WalSettings): WalShared {
  if (!Number.isInteger(settings.maxBackends) || settings.maxBackends < 1) {
    throw new PgsimError(
      "invalid-max-backends",
      `maxBackends must be a positive integer, got ${String(settings.maxBackends)}`,
    );
  }
  const { ctlBytes, pagesBytes } = walShmemSize(settings);
  return {
    ctl: new SharedArrayBuffer(ctlBytes),
    pages: new SharedArrayBuffer(pagesBytes),
    settings,
  };
}
