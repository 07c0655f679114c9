/**
 * The shared memory of a pgsim database and a backend's attachment to it: the layout is created
 * once (buffer pool, commit log and proc array, catalog, cumulative statistics) into structured-clonable handles, and
 * every backend, in this thread or a worker, attaches to the same memory and builds its private
 * state over it.
 *
 * Models: src/backend/storage/ipc/ipci.c (CreateSharedMemoryAndSemaphores: every shared structure
 * sized and created once, at start-up), src/backend/utils/init/postinit.c (InitPostgres: a backend
 * takes its PGPROC slot and sets up its private state) and postmaster.c's CleanupBackend (after a
 * backend dies: its transaction aborted, its pins and locks released).
 * Entry points: `DatabaseOptions`, `DatabaseShared`, `createDatabaseShared`, `attachBackend`,
 * `recoverDeadBackend`.
 * See also: ../database.ts (Database: create and attach), ../postmaster/cluster.ts (workers).
 *
 * Differs from PostgreSQL: the backend's table AMs are registered when it attaches (PostgreSQL
 * loads an AM's library when a relation first needs it).
 */

import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  attachBufferPool,
  type BufferPool,
  type BufferPoolShared,
  type FaultRule,
  FaultTable,
  initBufferPool,
  PgsimError,
  recoverBackend,
  registerFaultShmem,
} from "@pgsim/buffer-manager";
import { registerBuiltinTableAms } from "../access/heap/heapam-handler.js";
import { registerBuiltinIndexAms } from "../access/nbtree/nbtree-am.js";
import {
  type BtreeShared,
  BtVacInfo,
  btEndVacuumsOfBackend,
  btreeShmemInit,
} from "../access/nbtree/nbtutils-shmem.js";
import type { TableAmContext, XLogBackend } from "../access/table/tableam.js";
import { extendClogLog } from "../access/transam/clog.js";
import {
  type ControlFileData,
  DBState,
  readControlFile,
  writeControlFile,
} from "../access/transam/pg-control.js";
import {
  DEFAULT_MAX_XIDS,
  initTransam,
  Transam,
  type TransamShared,
} from "../access/transam/transam.js";
import { initWalShared, XLogWriter } from "../access/transam/xlog.js";
import { bytePosToLsn, isValidWalSegSize, lsnToBytePos } from "../access/transam/xlog-internal.js";
import { XLogInsertState, xlogPageHooks } from "../access/transam/xloginsert.js";
import { Catalog, type CatalogShared, initCatalog } from "../catalog/catalog.js";
import { logCatalogImage } from "../catalog/catalog-xlog.js";
import { readUint16 } from "../include/port/le-bytes.js";
import { FreeSpaceMap } from "../storage/freespace/freespace.js";
import { DEFAULT_LOCK_TIMEOUT_MS } from "../storage/lmgr/lmgr.js";
import {
  PD_CHECKSUM_OFFSET,
  pageIsVerified,
  pageSetChecksumInplace,
} from "../storage/page/bufpage.js";
import { pgChecksumPage } from "../storage/page/checksum.js";
import { PgStat } from "../utils/activity/pgstat.js";
import { initPgStatShmem, type PgStatShared } from "../utils/activity/pgstat-shmem.js";
import {
  createCheckPoint,
  initXLogControl,
  noteCheckpoint,
  setXLogState,
  type XLogSettings,
  XLogState,
} from "./checkpoint.js";
import {
  createSnapshotDirectory,
  loadNewestSnapshot,
  readNewestSnapshot,
  type SnapshotLoadReport,
  takeSnapshot,
} from "./snapshot.js";
import {
  isSnapshotDirectory,
  removeTemporarySnapshots,
  SNAPSHOT_FLAG_CHECKSUMS,
  SNAPSHOT_MARKER,
} from "./snapshot-file.js";
import {
  initSnapshotControl,
  releaseDeadBackendQuiesce,
  type SnapshotSettings,
} from "./snapshot-lock.js";
import { bootstrapDataDirectory, type StartupResult, startupXLog } from "./startup.js";

/** Options for a new database. */
export interface DatabaseOptions {
  /** "disk": a heap in relation files behind the buffer pool; "memory": the pool is the storage. */
  variant: "disk" | "memory";
  /** Buffers in the pool (8 KB each). */
  bufferCount: number;
  /**
   * The data directory: a disk-backed database's, or a memory-only database's snapshot directory
   * (with `persistence: "snapshot"`). Created as initdb creates one: it must be missing or empty.
   */
  dataDir?: string;
  /** Data checksums on pages written to disk (initdb -k). Default false, as initdb's default. */
  checksums?: boolean;
  /** Backends that may attach at once (default 64). */
  maxBackends?: number;
  /** Transaction ids the commit log can hold (default 4,194,304). */
  maxXids?: number;
  /** Blocks per segment file (disk; default 131072). */
  segmentBlocks?: number;
  /** deadlock_timeout: how long a row-lock wait lasts before the deadlock check (ms, default 1000). */
  deadlockTimeoutMs?: number;
  /**
   * lock_timeout: how long any wait for another transaction may last — a row lock, an UPDATE or
   * DELETE waiting for the row's updater, a unique check waiting for the inserter of an equal key,
   * EvalPlanQual's wait for a newer version — before the statement fails with `lock-timeout`
   * ("canceling statement due to lock timeout", SQLSTATE 55P03). In ms; 0 waits until the other
   * transaction ends (PostgreSQL's default). Default 120000: a safety net, where PostgreSQL waits
   * for ever.
   */
  lockTimeoutMs?: number;
  /** Tables whose statistics can be kept at once (default 1024; see `tableStats`). */
  statsEntries?: number;
  /**
   * Disk-backed: write-ahead logging (default true). The data directory is then created as
   * initdb creates one (it must be empty or missing), every change of a permanent table is
   * logged in PostgreSQL 15's WAL format under `pg_wal/`, commits are durable, and
   * `Database.open` reopens the directory after a clean shutdown or a crash. With false, the
   * pages are written only by evictions and checkpoints and nothing survives a crash.
   */
  wal?: boolean;
  /** synchronous_commit (default true): a commit returns once its WAL record is on disk. */
  synchronousCommit?: boolean;
  /** fsync (default true). false: nothing is ever synced (fast, not crash-safe), as fsync=off. */
  fsync?: boolean;
  /** full_page_writes (default true). */
  fullPageWrites?: boolean;
  /** checkpoint_timeout in milliseconds (default 300000, as PostgreSQL's 5 min). */
  checkpointTimeoutMs?: number;
  /** max_wal_size in bytes (default 1 GB): an automatic checkpoint every max_wal_size / 1.9. */
  maxWalSize?: number;
  /** wal_segment_size in bytes (initdb --wal-segsize; a power of two, 1 MB to 1 GB; default 16 MB). */
  walSegmentSize?: number;
  /** wal_buffers in 8 KB pages (default 512). */
  walBuffers?: number;
  /**
   * wal_recycle (default true): segments no longer needed are renamed to future names rather
   * than removed. false (as on copy-on-write file systems) makes every new segment be created,
   * zero-filled and synced under `pg_wal/xlogtemp.*` first.
   */
  walRecycle?: boolean;
  /**
   * Memory-only: how the database survives a restart. `"none"` (the default): it does not — the
   * pool is the storage and everything is lost at exit. `"snapshot"`: the pool's pages (every
   * block of every relation fork), the catalog and the commit log are written to one
   * checksummed snapshot file in `dataDir` at every `checkpoint()`, every `snapshotIntervalMs`,
   * at `shutdown()` and when the last backend closes; `Database.open(dataDir)` loads the newest
   * valid one. A crash loses what changed since the last completed snapshot, never more and
   * never a mix (see the database README, "Memory-only snapshots").
   *
   * @example
   * ```ts
   * const db = Database.create({
   *   variant: "memory",
   *   bufferCount: 1024,
   *   dataDir: "/tmp/pgsim-mem",
   *   persistence: "snapshot",
   *   snapshotIntervalMs: 60_000,
   * });
   * ```
   */
  persistence?: "none" | "snapshot";
  /**
   * With `persistence: "snapshot"`: take a snapshot once this many milliseconds have passed since
   * the last one and something changed (checked after each commit, and by a timer in the thread
   * that created or opened the database). Default 0: only at checkpoints and shutdown.
   */
  snapshotIntervalMs?: number;
  /**
   * Faults armed from the start (before start-up's recovery, for `Database.open`): see
   * `Database.injectFault` and the README's table of faults.
   */
  faults?: FaultRule[];
}

/** Everything a worker needs to attach (structured-clonable; the memory is shared). */
export interface DatabaseShared {
  /** A unique id of this database's shared memory (handles arrive as new objects per message). */
  readonly id: string;
  readonly pool: BufferPoolShared;
  readonly transam: TransamShared;
  readonly catalog: CatalogShared;
  /** The cumulative statistics (pg_stat_user_tables and friends). */
  readonly stats: PgStatShared;
  /** The B-tree's shared memory: the running VACUUMs of B-tree indexes and their cycle ids. */
  readonly btree: BtreeShared;
  readonly checksums: boolean;
  /** deadlock_timeout in milliseconds (default 1000, as PostgreSQL's). */
  readonly deadlockTimeoutMs?: number;
  /** lock_timeout in milliseconds, 0 for none (default 120000; see DatabaseOptions). */
  readonly lockTimeoutMs?: number;
  /** The write-ahead log's settings and shared state; absent when nothing is logged. */
  readonly xlog?: XLogSettings;
  /** A memory-only database's snapshot settings and control words (persistence "snapshot"). */
  readonly snapshot?: SnapshotSettings;
}

/**
 * Options of `Database.open`: the rest comes from the data directory's pg_control (disk) or from
 * the snapshot (memory-only).
 */
export type OpenOptions = Omit<
  DatabaseOptions,
  | "variant"
  | "dataDir"
  | "checksums"
  | "segmentBlocks"
  | "walSegmentSize"
  | "wal"
  | "bufferCount"
  | "persistence"
> & {
  /**
   * Buffers in the pool. Disk: default 16384 (128 MB, PostgreSQL's shared_buffers default).
   * Snapshot directory: default the pool size the snapshot was taken with; a pool too small for
   * the snapshot's pages fails with "memory-only buffer pool is full".
   */
  bufferCount?: number;
};

function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new PgsimError("invalid-option", `${name} must be true or false, got ${String(value)}`);
  }
}

function checkPositive(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "number" || !(value > 0))) {
    throw new PgsimError(
      "invalid-option",
      `${name} must be a positive number, got ${String(value)}`,
    );
  }
}

/** lock_timeout's range check (the GUC's 0 .. INT_MAX milliseconds), with PostgreSQL's message. */
function checkLockTimeout(value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 2147483647) {
    throw new PgsimError(
      "invalid-option",
      `${String(value)} ms is outside the valid range for parameter "lock_timeout" (0 .. 2147483647)`,
    );
  }
}

/** The pool, commit log, catalog and statistics of a database, with its WAL settings if any. */
function buildShared(options: DatabaseOptions, xlog: XLogSettings | undefined): DatabaseShared {
  checkLockTimeout(options.lockTimeoutMs);
  const maxBackends = options.maxBackends ?? 64;
  if (options.faults !== undefined && !Array.isArray(options.faults)) {
    throw new PgsimError("invalid-option", "faults must be an array of fault rules");
  }
  const pool = initBufferPool({
    variant: options.variant,
    bufferCount: options.bufferCount,
    maxBackends,
    ...(options.dataDir !== undefined && options.variant === "disk"
      ? { dataDir: options.dataDir }
      : {}),
    ...(options.segmentBlocks !== undefined ? { segmentBlocks: options.segmentBlocks } : {}),
    ...(options.variant === "disk" ? { dataChecksums: options.checksums === true } : {}),
    ...(xlog !== undefined ? { writeControlFile: false } : {}),
  });
  const table = new FaultTable(pool.faults);
  for (const rule of options.faults ?? []) table.arm(rule);
  return {
    id: randomUUID(),
    pool,
    transam: initTransam(maxBackends, options.maxXids ?? DEFAULT_MAX_XIDS),
    catalog: initCatalog(),
    stats: initPgStatShmem(options.statsEntries),
    btree: btreeShmemInit(maxBackends),
    checksums: options.checksums === true,
    ...(options.deadlockTimeoutMs !== undefined
      ? { deadlockTimeoutMs: options.deadlockTimeoutMs }
      : {}),
    ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
    ...(xlog !== undefined ? { xlog } : {}),
  };
}

function xlogSettings(
  options: DatabaseOptions,
  dataDir: string,
  control: ControlFileData,
): XLogSettings {
  for (const k of ["synchronousCommit", "fsync", "fullPageWrites", "walRecycle"] as const) {
    checkBoolean(k, options[k]);
  }
  for (const k of ["checkpointTimeoutMs", "maxWalSize", "walBuffers"] as const) {
    checkPositive(k, options[k]);
  }
  return {
    dataDir,
    systemIdentifier: control.systemIdentifier,
    walSegSize: control.xlogSegSize,
    synchronousCommit: options.synchronousCommit ?? true,
    fsync: options.fsync ?? true,
    fullPageWrites: options.fullPageWrites ?? true,
    checkpointTimeoutMs: options.checkpointTimeoutMs ?? 300_000,
    maxWalSizeBytes: options.maxWalSize ?? 1024 * 1024 * 1024,
    walBuffers: options.walBuffers ?? 512,
    walRecycle: options.walRecycle ?? true,
    ctl: initXLogControl(),
  };
}

/**
 * CreateSharedMemoryAndSemaphores: lays out and creates all shared memory of a new database.
 * A disk-backed database with WAL (the default) first gets its data directory created as initdb
 * creates one, then starts on it.
 */
export function createDatabaseShared(options: DatabaseOptions): DatabaseShared {
  if (options === null || typeof options !== "object") {
    throw new PgsimError("invalid-option", "database options must be an object");
  }
  checkBoolean("wal", options.wal);
  if (checkPersistence(options) === "snapshot") return createSnapshotDatabase(options);
  const logged = options.variant === "disk" && options.wal !== false;
  if (!logged) {
    if (options.wal === true) {
      throw new PgsimError(
        "invalid-option",
        "a memory-only database has no write-ahead log: the pool is the storage",
      );
    }
    return buildShared(options, undefined);
  }
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw new PgsimError("invalid-pool-option", "a disk-backed pool needs a dataDir");
  }
  const walSegSize = options.walSegmentSize ?? 16 * 1024 * 1024;
  if (!isValidWalSegSize(walSegSize)) {
    throw new PgsimError(
      "invalid-option",
      `--wal-segsize must be a power of two between 1 and 1024, got ${String(walSegSize)} bytes`,
    );
  }
  const control = bootstrapDataDirectory(options.dataDir, {
    checksums: options.checksums === true,
    walSegSize,
    relsegSize: options.segmentBlocks ?? 131072,
    maxConnections: options.maxBackends ?? 64,
    fullPageWrites: options.fullPageWrites ?? true,
    fsync: options.fsync ?? true,
  });
  return startupDatabase(buildShared(options, xlogSettings(options, options.dataDir, control)));
}

/**
 * Starts on an existing data directory (pg_ctl start): its settings come from pg_control
 * (checksums, segment sizes); after a clean shutdown it starts at once, after a crash it replays
 * the WAL first (see startup.ts).
 */
export function openDatabaseShared(dataDir: string, options: OpenOptions = {}): DatabaseShared {
  if (typeof dataDir !== "string" || dataDir === "") {
    throw new PgsimError("invalid-option", "Database.open needs the data directory's path");
  }
  if (!fs.existsSync(path.join(dataDir, "global", "pg_control"))) {
    if (isSnapshotDirectory(dataDir)) return openSnapshotDatabase(dataDir, options);
    throw new PgsimError(
      "not-a-data-directory",
      `"${dataDir}" is not a database cluster directory: global/pg_control is missing (a disk-backed data directory has it) and so is ${SNAPSHOT_MARKER} (a memory-only snapshot directory has it)`,
      { dataDir },
    );
  }
  if (
    (options as DatabaseOptions).persistence !== undefined ||
    options.snapshotIntervalMs !== undefined
  ) {
    throw new PgsimError(
      "invalid-option",
      `"${dataDir}" is a disk-backed data directory: it persists through its WAL, not snapshots`,
    );
  }
  const control = readControlFile(dataDir);
  const full: DatabaseOptions = {
    ...options,
    variant: "disk",
    dataDir,
    bufferCount: options.bufferCount ?? 16384,
    checksums: control.dataChecksumVersion !== 0,
    segmentBlocks: control.relsegSize,
  };
  return startupDatabase(buildShared(full, xlogSettings(full, dataDir, control)));
}

/**
 * The startup process: attaches without logging, runs StartupXLOG (recovery if needed), resumes
 * WAL insertion at the end of valid WAL, writes the end-of-recovery checkpoint after a recovery
 * (else marks pg_control "in production"), and detaches. Returns what start-up did.
 */
function startupDatabase(shared: DatabaseShared): DatabaseShared {
  const settings = shared.xlog!;
  const pool = attachBufferPool(shared.pool, { pageHooks: pageHooksOf(shared) });
  const transam = new Transam(shared.transam, pool.procNumber);
  transam.resetSlot();
  const catalog = new Catalog(shared.catalog);
  try {
    const result = startupXLog(settings.dataDir, { pool, transam, catalog });
    // Insertion resumes at EndOfLog, past a page header if it is at a page boundary.
    const startLsn = BigInt(
      bytePosToLsn(
        lsnToBytePos(Number(result.endOfLog), settings.walSegSize),
        settings.walSegSize,
        false,
      ),
    );
    const walShared = initWalShared({
      walDir: path.join(settings.dataDir, "pg_wal"),
      systemIdentifier: settings.systemIdentifier,
      startLsn,
      prevLsn: result.lastRecord,
      walSegSize: settings.walSegSize,
      walBuffers: Math.min(settings.walBuffers, settings.walSegSize / 8192),
      fullPageWrites: settings.fullPageWrites,
      redoRecPtr: result.checkpoint.redo,
      walSyncMethod: settings.fsync ? "fdatasync" : "off",
      synchronousCommit: settings.synchronousCommit,
      maxWalSizeBytes: settings.maxWalSizeBytes,
      walRecycle: settings.walRecycle,
      minWalSizeBytes: Math.max(
        settings.walSegSize * 2,
        Math.min(80 * 1024 * 1024, settings.maxWalSizeBytes),
      ),
      // Every backend attaches once; backends whose worker died keep their slot (see README).
      maxBackends: shared.pool.maxBackends * 4 + 1,
      faults: shared.pool.faults,
    });
    const running: DatabaseShared = { ...shared, xlog: { ...settings, wal: walShared } };
    const wal = XLogWriter.attach(walShared);
    noteCheckpoint(settings, result.checkpoint.redo, startLsn);
    if (result.recovered) {
      createCheckPoint(
        {
          pool,
          transam,
          catalog,
          settings: running.xlog!,
          xlog: { wal, ins: new XLogInsertState() },
        },
        "end-of-recovery",
      );
    } else {
      writeControlFile(
        settings.dataDir,
        { ...result.control, state: DBState.IN_PRODUCTION },
        { sync: settings.fsync },
      );
    }
    setXLogState(settings, XLogState.RUNNING);
    lastStartup.set(running.id, result);
    wal.close({ flush: true });
    return running;
  } finally {
    transam.resetSlot();
    pool.detach();
  }
}

const lastStartup = new Map<string, StartupResult>();
const lastSnapshotLoad = new Map<string, SnapshotLoadReport>();

/** What loading a snapshot did for this database (in the thread that opened it). */
export function snapshotLoadReportOf(shared: DatabaseShared): SnapshotLoadReport | undefined {
  return lastSnapshotLoad.get(shared.id);
}

// ---------------------------------------------------------------------------------------------
// Memory-only persistence (persistence: "snapshot"; see snapshot.ts)

/** Checks `persistence` and `snapshotIntervalMs` against the variant; returns the persistence. */
function checkPersistence(options: DatabaseOptions): "none" | "snapshot" {
  const persistence = options.persistence ?? "none";
  if (persistence !== "none" && persistence !== "snapshot") {
    throw new PgsimError(
      "invalid-option",
      `persistence must be "none" or "snapshot", got ${JSON.stringify(persistence)}`,
    );
  }
  const interval = options.snapshotIntervalMs;
  if (
    interval !== undefined &&
    (typeof interval !== "number" || !Number.isFinite(interval) || interval < 0)
  ) {
    throw new PgsimError(
      "invalid-option",
      `snapshotIntervalMs must be a non-negative number of milliseconds, got ${String(interval)}`,
    );
  }
  if (persistence === "none") {
    if (interval !== undefined) {
      throw new PgsimError("invalid-option", 'snapshotIntervalMs needs persistence: "snapshot"');
    }
    if (options.variant === "memory" && options.dataDir !== undefined) {
      throw new PgsimError(
        "invalid-option",
        'a memory-only database has a dataDir only with persistence: "snapshot" (without it, the pool is the storage and nothing is written)',
      );
    }
    return "none";
  }
  if (options.variant !== "memory") {
    throw new PgsimError(
      "invalid-option",
      'persistence: "snapshot" is for a memory-only database; a disk-backed one persists through its WAL',
    );
  }
  if (typeof options.dataDir !== "string" || options.dataDir === "") {
    throw new PgsimError(
      "invalid-option",
      'persistence: "snapshot" needs a dataDir: the directory the snapshot files are written to',
    );
  }
  checkBoolean("fsync", options.fsync);
  return "snapshot";
}

function snapshotSettings(
  dataDir: string,
  options: Pick<DatabaseOptions, "snapshotIntervalMs" | "fsync">,
  maxBackends: number,
): SnapshotSettings {
  return {
    dataDir,
    intervalMs: options.snapshotIntervalMs ?? 0,
    fsync: options.fsync ?? true,
    ctl: initSnapshotControl(maxBackends),
  };
}

/** A temporary backend for start-up work (taking the first snapshot, loading one). */
function withStartupBackend<T>(
  shared: DatabaseShared,
  work: (b: { pool: BufferPool; transam: Transam; catalog: Catalog }) => T,
): T {
  const unregister = registerSnapshotFaults(shared);
  const pool = attachBufferPool(shared.pool);
  const transam = new Transam(shared.transam, pool.procNumber);
  transam.resetSlot();
  try {
    return work({ pool, transam, catalog: new Catalog(shared.catalog) });
  } finally {
    transam.resetSlot();
    pool.detach();
    unregister();
  }
}

/**
 * Makes this thread apply the database's fault table to the files of its snapshot directory
 * (the points "snapshot-write" and "snapshot-fsync"); a disk-backed pool registers its data
 * directory itself. Returns the function that undoes it (the backend leaving).
 */
export function registerSnapshotFaults(shared: DatabaseShared): () => void {
  return shared.snapshot !== undefined
    ? registerFaultShmem(shared.snapshot.dataDir, shared.pool.faults)
    : () => {};
}

/**
 * A new memory-only database with snapshot persistence: the directory is created (it must be
 * missing or empty) and generation 1, the empty database, is written at once, so that the
 * directory opens even if the process dies before the first snapshot.
 */
function createSnapshotDatabase(options: DatabaseOptions): DatabaseShared {
  const dataDir = options.dataDir!;
  const base = buildShared(options, undefined);
  const snapshot = snapshotSettings(dataDir, options, base.pool.maxBackends);
  createSnapshotDirectory(dataDir, snapshot.fsync);
  const shared: DatabaseShared = { ...base, snapshot };
  withStartupBackend(shared, (b) =>
    takeSnapshot(
      { ...b, maxBackends: shared.pool.maxBackends, checksums: shared.checksums },
      snapshot,
      "create",
      { wait: true, quiesceTimeoutMs: 60_000 },
    ),
  );
  return shared;
}

/**
 * Database.open on a memory-only snapshot directory: removes temporary files a crash during a
 * snapshot write left, reads the newest valid snapshot (a damaged newer one is refused, moved
 * aside and reported), creates the pool (by default as large as the snapshot's) and maps the
 * snapshot into it.
 */
function openSnapshotDatabase(dataDir: string, options: OpenOptions): DatabaseShared {
  const started = performance.now();
  checkPersistence({
    ...options,
    variant: "memory",
    bufferCount: 0,
    dataDir,
    persistence: "snapshot",
  });
  const removedTemporary = removeTemporarySnapshots(dataDir);
  const found = readNewestSnapshot(dataDir);
  const full: DatabaseOptions = {
    ...options,
    variant: "memory",
    bufferCount: options.bufferCount ?? found.image.bufferCount,
    maxXids: options.maxXids ?? found.image.maxXids,
    checksums: (found.image.flags & SNAPSHOT_FLAG_CHECKSUMS) !== 0,
  };
  const base = buildShared(full, undefined);
  const snapshot = snapshotSettings(dataDir, options, base.pool.maxBackends);
  const shared: DatabaseShared = { ...base, snapshot };
  const report = withStartupBackend(shared, (b) => {
    const r = loadNewestSnapshot(b, snapshot, found, removedTemporary, started);
    // The cumulative statistics start from zero, as after PostgreSQL's crash recovery.
    const pgstat = new PgStat(shared.stats, b.pool);
    for (const t of b.catalog.list()) pgstat.createRelation(t.relNumber, t.name);
    return r;
  });
  lastSnapshotLoad.set(shared.id, report);
  return shared;
}

/** What start-up did for this database (in the thread that started it). */
export function startupResultOf(shared: DatabaseShared): StartupResult | undefined {
  return lastStartup.get(shared.id);
}

/** Forgets what this thread kept of a shut-down database. */
export function forgetWalWriter(shared: DatabaseShared): void {
  lastStartup.delete(shared.id);
}

/** A backend's attachment to the shared WAL. */
function attachWal(shared: DatabaseShared): XLogWriter {
  const walShared = shared.xlog?.wal;
  if (walShared === undefined) {
    throw new PgsimError("wal-not-started", "the database's WAL has not been started");
  }
  return XLogWriter.attach(walShared);
}

function pageHooksOf(shared: DatabaseShared) {
  return shared.checksums
    ? {
        verifyPage: (page: Uint8Array, block: number) => verifyWithReason(page, block),
        setChecksum: (page: Uint8Array, block: number) => pageSetChecksumInplace(page, block),
      }
    : {};
}

/** PageIsVerified with its WARNING's text when the checksum is what failed. */
function verifyWithReason(page: Uint8Array, block: number): boolean | string {
  if (pageIsVerified(page, block, { checksums: true })) return true;
  const expected = readUint16(page, PD_CHECKSUM_OFFSET);
  const calculated = pgChecksumPage(page, block);
  return calculated !== expected
    ? `page verification failed, calculated checksum ${calculated} but expected ${expected}`
    : false;
}

/** A backend's private handles on the shared memory, and the context its table AMs run in. */
export interface BackendAttachment {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly catalog: Catalog;
  /** The backend's cumulative statistics (pgstat_initialize), also in `ctx.pgstat`. */
  readonly pgstat: PgStat;
  readonly ctx: TableAmContext;
}

/**
 * InitPostgres for one backend: attaches to the buffer pool (with the checksum hooks if the
 * database has checksums), takes a proc-array slot, opens the catalog, and builds the
 * backend-private table AM context (FSM access, insert target blocks, no scan yet).
 */
export function attachBackend(shared: DatabaseShared): BackendAttachment {
  registerBuiltinTableAms();
  registerBuiltinIndexAms();
  const xlog: XLogBackend | undefined =
    shared.xlog !== undefined
      ? { wal: attachWal(shared), ins: new XLogInsertState(), logHintBits: shared.checksums }
      : undefined;
  const catalog = new Catalog(shared.catalog);
  const pool = attachBufferPool(shared.pool, {
    pageHooks: {
      ...pageHooksOf(shared),
      ...(xlog !== undefined
        ? xlogPageHooks(xlog.wal, {
            logHints: shared.checksums,
            // Buffers of unlogged tables are not BM_PERMANENT: no WAL flush, no hint images.
            isPermanent: (tag) =>
              catalog.list().find((t) => t.relNumber === tag.relNumber)?.persistence !== "unlogged",
          })
        : {}),
    },
  });
  const transam = new Transam(shared.transam, pool.procNumber);
  transam.resetSlot();
  if (xlog !== undefined) {
    // Records logged from inside other work get their own record builders: ExtendCLOG runs
    // under XidGenLock, a catalog change under the catalog lock.
    const clogIns = new XLogInsertState();
    transam.extendClog = (xid) =>
      extendClogLog(xid, (rmid, info, data) => {
        clogIns.beginInsert();
        clogIns.registerData(data);
        clogIns.insert(xlog.wal, rmid, info);
      });
    const catalogXLog = { wal: xlog.wal, ins: new XLogInsertState() };
    catalog.setWalHook((image) => logCatalogImage(catalogXLog, image));
  }
  const pgstat = new PgStat(shared.stats, pool);
  const ctx: TableAmContext = {
    pool,
    transam,
    fsm: new FreeSpaceMap(pool),
    targetBlocks: new Map(),
    deadlockTimeoutMs: shared.deadlockTimeoutMs ?? 1000,
    lockTimeoutMs: shared.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    scanPin: undefined,
    pgstat,
    indexAmShmem: new Map([["btree", new BtVacInfo(shared.btree, pool.procNumber)]]),
    ...(xlog !== undefined ? { xlog } : {}),
  };
  return { pool, transam, catalog, pgstat, ctx };
}

/**
 * CleanupBackend for a backend that died without closing (its worker thread was terminated or
 * crashed): its transaction is aborted, waiters wake, its pins and content locks are released,
 * and a VACUUM of a B-tree it was running leaves the shared table of cycle ids. Returns what was
 * released.
 */
export function recoverDeadBackend(shared: DatabaseShared, procNumber: number) {
  if (shared.snapshot !== undefined) releaseDeadBackendQuiesce(shared.snapshot, procNumber);
  const abortedXid = Transam.recoverBackend(shared.transam, procNumber);
  const buffers = recoverBackend(shared.pool, procNumber);
  // Its VACUUM's error clean-up never ran: the index's entry in btvacinfo goes now.
  btEndVacuumsOfBackend(new BtVacInfo(shared.btree, procNumber), procNumber);
  return { ...buffers, abortedXid };
}
