/**
 * Checkpoints of a disk-backed database with a write-ahead log: the redo pointer, the commit log
 * and the catalog written, every dirty buffer written (WAL first), the checkpoint record,
 * pg_control, and the WAL segments no longer needed removed; and when one is due.
 *
 * Models: src/backend/access/transam/xlog.c (CreateCheckPoint, CheckPointGuts, UpdateControlFile,
 * RemoveOldXlogFiles, CalculateCheckpointSegments, XLogCheckpointNeeded, ShutdownXLOG),
 * src/backend/postmaster/checkpointer.c (checkpoint_timeout, RequestCheckpoint).
 * Entry points: `XLogSettings`, `initXLogControl`, `createCheckPoint`, `checkpointDue`,
 * `writeCatalogFile`, `readCatalogFile`, `CATALOG_FILE`.
 * See also: startup.ts (bootstrap and recovery), ../database.ts (Database.checkpoint, shutdown),
 * docs/reference/postgres-wal.md §8, §9.
 *
 * Differs from PostgreSQL: there is no checkpointer process — an explicit CHECKPOINT, a clean
 * shutdown and the end of recovery run one in the calling backend, and a due checkpoint (by WAL
 * volume or time) is run by the backend that notices it after a commit; writes are not paced
 * (checkpoint_completion_target); no RUNNING_XACTS record precedes an online checkpoint (pgsim
 * has no standbys); the catalog is written to `global/pgsim_catalog` (PostgreSQL's catalog is
 * in heap pages); old segments are removed, never recycled.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { BufferPool } from "@pgsim/buffer-manager";
import { PgsimError, spinDelay } from "@pgsim/clock-sweep";
import type { XLogBackend } from "../access/table/tableam.js";
import { writeCommitLogFiles } from "../access/transam/clog.js";
import {
  type CheckPoint,
  DBState,
  encodeCheckPoint,
  readControlFile,
  writeControlFile,
  XLOG_CHECKPOINT_ONLINE,
  XLOG_CHECKPOINT_SHUTDOWN,
} from "../access/transam/pg-control.js";
import { RM_XLOG_ID } from "../access/transam/rmgr.js";
import type { Transam } from "../access/transam/transam.js";
import type { XLogWriter } from "../access/transam/xlog.js";
import type { WalShared } from "../access/transam/xlog-shmem.js";
import { formatLsn, type XLogRecPtr } from "../access/transam/xlogdefs.js";
import type { Catalog } from "../catalog/catalog.js";
import { xidIsNormal, xidPrecedes } from "../include/access/transam.js";
import { durableReplace } from "../storage/file/fd.js";

/** Where the catalog image is kept between checkpoints (pgsim only). */
export const CATALOG_FILE = "global/pgsim_catalog";

/** The write-ahead log's settings and shared control state (structured-clonable). */
export interface XLogSettings {
  readonly dataDir: string;
  readonly systemIdentifier: bigint;
  readonly walSegSize: number;
  /** synchronous_commit (default on). */
  readonly synchronousCommit: boolean;
  /** fsync (default on): off makes no call to fsync/fdatasync at all, as PostgreSQL's fsync=off. */
  readonly fsync: boolean;
  /** full_page_writes (default on). */
  readonly fullPageWrites: boolean;
  /** checkpoint_timeout in ms (default 300000). */
  readonly checkpointTimeoutMs: number;
  /** max_wal_size in bytes (default 1 GB): checkpoints every max_wal_size / 1.9 of WAL. */
  readonly maxWalSizeBytes: number;
  /** wal_buffers in 8 KB pages. */
  readonly walBuffers: number;
  /** Shared control words (see initXLogControl). */
  readonly ctl: SharedArrayBuffer;
  /** The shared WAL (XLogCtl), once start-up has found where the WAL ends. */
  readonly wal?: WalShared;
}

// Layout of `ctl`: Int32 words, then Float64 / BigInt64 slots.
const I_CKPT_LOCK = 0;
const I_STATE = 1;
const F_LAST_CKPT_TIME = 1; // Float64 index (bytes 8..15)
const B_LAST_REDO = 2; // BigInt64 index (bytes 16..23)
const B_LAST_CKPT_END = 3; // BigInt64 index (bytes 24..31)
const CTL_BYTES = 32;

/** The database's state as its backends see it. */
export const XLogState = { STARTING: 0, RUNNING: 1, SHUT_DOWN: 2 } as const;

/** The shared control words of a new database's WAL. */
export function initXLogControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(CTL_BYTES);
}

function ctlViews(settings: XLogSettings) {
  return {
    i32: new Int32Array(settings.ctl, 0, 2),
    f64: new Float64Array(settings.ctl, 0, 4),
    b64: new BigInt64Array(settings.ctl, 0, 4),
  };
}

/** The database's state (XLogState). */
export function xlogState(settings: XLogSettings): number {
  return Atomics.load(ctlViews(settings).i32, I_STATE);
}

/** Sets the database's state (startup → running → shut down). */
export function setXLogState(settings: XLogSettings, state: number): void {
  Atomics.store(ctlViews(settings).i32, I_STATE, state);
}

/** Records the latest checkpoint (its redo pointer and end) and its time. */
export function noteCheckpoint(settings: XLogSettings, redo: XLogRecPtr, end: XLogRecPtr): void {
  const v = ctlViews(settings);
  Atomics.store(v.b64, B_LAST_REDO, redo);
  Atomics.store(v.b64, B_LAST_CKPT_END, end);
  v.f64[F_LAST_CKPT_TIME] = Date.now();
}

/**
 * Whether a checkpoint is due: the WAL asked for one (a finished segment took the WAL past
 * CheckPointSegments = max_wal_size / 1.9 since the redo pointer: XLogCheckpointNeeded), or
 * checkpoint_timeout elapsed with WAL written since the last checkpoint (an idle database is not
 * checkpointed).
 */
export function checkpointDue(settings: XLogSettings, wal: XLogWriter): boolean {
  const v = ctlViews(settings);
  if (Atomics.load(v.i32, I_STATE) !== XLogState.RUNNING) return false;
  if (wal.takeCheckpointRequest() || wal.checkpointNeeded(settings.maxWalSizeBytes)) return true;
  const idle = wal.getInsertRecPtr() === Atomics.load(v.b64, B_LAST_CKPT_END);
  return !idle && Date.now() - v.f64[F_LAST_CKPT_TIME]! >= settings.checkpointTimeoutMs;
}

/** Writes the catalog image of a checkpoint. */
export function writeCatalogFile(dataDir: string, image: Uint8Array, sync: boolean): void {
  durableReplace(path.join(dataDir, CATALOG_FILE), image, sync);
}

/** Reads the catalog image the last checkpoint wrote. */
export function readCatalogFile(dataDir: string): Uint8Array {
  const file = path.join(dataDir, CATALOG_FILE);
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new PgsimError(
      "catalog-missing",
      `could not open file "${CATALOG_FILE}": ${(e as Error).message}`,
      { path: file },
    );
  }
}

/** What a checkpoint needs of the backend running it. */
export interface CheckpointBackend {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly catalog: Catalog;
  readonly xlog: XLogBackend;
  readonly settings: XLogSettings;
}

/** The kind of checkpoint: `end-of-recovery` is a shutdown checkpoint that leaves the database running. */
export type CheckpointKind = "online" | "shutdown" | "end-of-recovery";

/** What a checkpoint did. */
export interface CheckpointReport {
  readonly kind: CheckpointKind;
  /** The checkpoint record's start (pg_control's "Latest checkpoint location"). */
  readonly lsn: XLogRecPtr;
  /** Its REDO location. */
  readonly redo: XLogRecPtr;
  readonly buffersWritten: number;
  readonly segmentsRemoved: number;
}

function lockCheckpoint(settings: XLogSettings): void {
  const i32 = ctlViews(settings).i32;
  for (let spins = 1; Atomics.compareExchange(i32, I_CKPT_LOCK, 0, 1) !== 0; spins++) {
    if (spins > 100) Atomics.wait(i32, I_CKPT_LOCK, 1, 10);
    else spinDelay(spins);
  }
}

function unlockCheckpoint(settings: XLogSettings): void {
  const i32 = ctlViews(settings).i32;
  Atomics.store(i32, I_CKPT_LOCK, 0);
  Atomics.notify(i32, I_CKPT_LOCK);
}

/**
 * CreateCheckPoint. One at a time (a shared checkpoint lock). Steps, as PostgreSQL's:
 * 1. a shutdown checkpoint marks pg_control "shutting down";
 * 2. the redo pointer is the current insert position, published at once (from now on a page's
 *    first change gets a full-page image);
 * 3. CheckPointGuts: the commit log to pg_xact (CheckPointCLOG), the catalog image, every buffer
 *    dirty now written in tag order with the WAL flushed first, the files fsynced;
 * 4. the checkpoint record (CHECKPOINT_ONLINE, or CHECKPOINT_SHUTDOWN whose redo is itself),
 *    flushed;
 * 5. pg_control: the record's location, a copy of it, the state;
 * 6. segments before the redo pointer's removed or recycled.
 */
export function createCheckPoint(b: CheckpointBackend, kind: CheckpointKind): CheckpointReport {
  const { settings, xlog, transam, catalog, pool } = b;
  const shutdown = kind !== "online";
  lockCheckpoint(settings);
  try {
    const dataDir = settings.dataDir;
    const sync = settings.fsync;
    if (kind === "shutdown") {
      const control = readControlFile(dataDir);
      writeControlFile(dataDir, { ...control, state: DBState.SHUTDOWNING }, { sync });
    }
    const wal = xlog.wal;
    const priorRedo = Atomics.load(ctlViews(settings).b64, B_LAST_REDO);
    const redo = wal.beginCheckpointRedo();
    // Transactions between their commit record and the commit log, and hint images, finish first.
    wal.waitForCheckpointDelays();
    const nextXid = transam.nextXid;
    let oldestXid = nextXid;
    for (const t of catalog.list()) {
      const f = t.relfrozenxid ?? 0;
      if (xidIsNormal(f) && xidPrecedes(f, oldestXid)) oldestXid = f;
    }
    const cp: CheckPoint = {
      redo,
      thisTimeLineID: 1,
      prevTimeLineID: 1,
      fullPageWrites: settings.fullPageWrites,
      nextXid: BigInt(nextXid),
      nextOid: catalog.nextRelNumber,
      nextMulti: 1,
      nextMultiOffset: 0,
      oldestXid,
      oldestXidDB: 1,
      oldestMulti: 1,
      oldestMultiDB: 1,
      time: BigInt(Math.floor(Date.now() / 1000)),
      oldestCommitTsXid: 0,
      newestCommitTsXid: 0,
      oldestActiveXid: shutdown ? 0 : transam.getSnapshot(0, false).xmin,
    };
    // CheckPointGuts: the commit log first, then the catalog, then the buffers.
    writeCommitLogFiles(dataDir, transam.commitLogPages(), sync);
    writeCatalogFile(dataDir, catalog.image(), sync);
    const { buffersWritten } = pool.checkpoint({ sync });
    xlog.ins.beginInsert();
    xlog.ins.registerData(encodeCheckPoint(cp));
    const { startLsn, endLsn } = xlog.ins.insert(
      wal,
      RM_XLOG_ID,
      shutdown ? XLOG_CHECKPOINT_SHUTDOWN : XLOG_CHECKPOINT_ONLINE,
    );
    wal.flush(endLsn);
    if (shutdown && startLsn !== redo) {
      throw new PgsimError(
        "concurrent-wal-activity",
        `concurrent write-ahead log activity while database system is shutting down (checkpoint at ${formatLsn(startLsn)}, redo ${formatLsn(redo)})`,
      );
    }
    const control = readControlFile(dataDir);
    writeControlFile(
      dataDir,
      {
        ...control,
        state: kind === "shutdown" ? DBState.SHUTDOWNED : DBState.IN_PRODUCTION,
        checkPoint: startLsn,
        checkPointCopy: cp,
        minRecoveryPoint: 0n,
        minRecoveryPointTLI: 0,
      },
      { sync },
    );
    noteCheckpoint(settings, redo, endLsn);
    const removed = wal.removeOldSegments({ redoLsn: redo, priorRedoLsn: priorRedo });
    const segmentsRemoved = removed.removed.length + removed.recycled.length;
    return { kind, lsn: startLsn, redo, buffersWritten, segmentsRemoved };
  } finally {
    unlockCheckpoint(settings);
  }
}
