/**
 * A data directory's life: creating one (initdb), starting on one (after a clean shutdown at
 * once, after a crash by replaying the WAL from the last checkpoint's redo pointer), and the
 * end-of-recovery checkpoint.
 *
 * Models: src/backend/access/transam/xlog.c (BootStrapXLOG, StartupXLOG, ReadCheckpointRecord,
 * the resumption of WAL insertion at the end of valid WAL), xlogrecovery.c (InitWalRecovery,
 * PerformWalRecovery, FinishWalRecovery), storage/file/reinit.c (ResetUnloggedRelations),
 * bin/initdb (the directories it makes).
 * Entry points: `bootstrapDataDirectory`, `startupXLog`, `StartupResult`.
 * See also: checkpoint.ts, rmgr-table.ts (the redo routines), ../database.ts (Database.create,
 * Database.open), docs/reference/postgres-wal.md §9.4, §10.
 *
 * Differs from PostgreSQL: the startup work runs in the opening thread before any other
 * backend attaches (PostgreSQL's startup process runs while the postmaster waits); unlogged
 * tables have no init fork — after a crash their forks are emptied directly; no timelines,
 * archive recovery, standby mode or recovery targets; a record cut short at the end of WAL is
 * simply where the WAL ends (no XLOG_OVERWRITE_CONTRECORD).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { type BufferPool, ForkNumber, PgsimError } from "@pgsim/buffer-manager";
import { clogLoadFiles, trimClog, writeCommitLogFiles } from "../access/transam/clog.js";
import {
  bootstrapControlFile,
  type CheckPoint,
  type ControlFileData,
  DBState,
  decodeCheckPoint,
  encodeCheckPoint,
  readControlFile,
  SizeOfCheckPoint,
  writeControlFile,
  XLOG_CHECKPOINT_ONLINE,
  XLOG_CHECKPOINT_SHUTDOWN,
} from "../access/transam/pg-control.js";
import { RM_XLOG_ID } from "../access/transam/rmgr.js";
import type { Transam } from "../access/transam/transam.js";
import { advanceNextXid } from "../access/transam/varsup.js";
import { XLogWriter } from "../access/transam/xlog.js";
import { SizeOfXLogLongPHD } from "../access/transam/xlog-internal.js";
import { formatLsn, type XLogRecPtr } from "../access/transam/xlogdefs.js";
import { XLogInsertState } from "../access/transam/xloginsert.js";
import { XLogReader } from "../access/transam/xlogreader.js";
import { SizeOfXLogRecord } from "../access/transam/xlogrecord.js";
import { type Catalog, tableLocator } from "../catalog/catalog.js";
import { durableReplace } from "../storage/file/fd.js";
import { CATALOG_FILE, readCatalogFile } from "./checkpoint.js";
import { redoContext, redoRecord } from "./rmgr-table.js";

/** What initdb is told. */
export interface BootstrapOptions {
  readonly checksums: boolean;
  readonly walSegSize: number;
  readonly relsegSize: number;
  readonly maxConnections: number;
  readonly fullPageWrites: boolean;
  readonly fsync: boolean;
}

/** An empty catalog image (see Catalog.image). */
const EMPTY_CATALOG = new TextEncoder().encode('{"nextRelNumber":16384,"catalog":{"tables":[]}}');

/**
 * initdb for pgsim: refuses a directory that is not empty; makes `global/`, `base/5/`,
 * `pg_wal/`, `pg_xact/`; writes the first WAL segment with the bootstrap shutdown checkpoint at
 * the segment's first record (0/1000028 with 16 MB segments, redo = itself), `pg_xact/0000`, the
 * empty catalog and pg_control (state "shut down"). Returns the control file.
 */
export function bootstrapDataDirectory(dataDir: string, o: BootstrapOptions): ControlFileData {
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new PgsimError(
      "data-directory-not-empty",
      `directory "${dataDir}" exists but is not empty`,
      { dataDir, hint: "Use Database.open to start on an existing data directory." },
    );
  }
  for (const dir of ["global", "base/5", "pg_wal", "pg_xact"]) {
    fs.mkdirSync(path.join(dataDir, dir), { recursive: true, mode: 0o700 });
  }
  const base = bootstrapControlFile({
    dataChecksums: o.checksums,
    walSegSize: o.walSegSize,
    fullPageWrites: o.fullPageWrites,
    maxConnections: o.maxConnections,
  });
  const control: ControlFileData = { ...base, relsegSize: o.relsegSize };
  const wal = XLogWriter.open({
    walDir: path.join(dataDir, "pg_wal"),
    systemIdentifier: control.systemIdentifier,
    startLsn: control.checkPoint,
    walSegSize: o.walSegSize,
    walBuffers: 8,
    walSyncMethod: o.fsync ? "fdatasync" : "off",
  });
  try {
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(encodeCheckPoint(control.checkPointCopy));
    const { startLsn, endLsn } = ins.insert(wal, RM_XLOG_ID, XLOG_CHECKPOINT_SHUTDOWN);
    if (startLsn !== control.checkPoint) {
      throw new PgsimError(
        "bootstrap-failed",
        "the bootstrap checkpoint landed at the wrong place",
      );
    }
    wal.flush(endLsn);
  } finally {
    wal.close();
  }
  writeCommitLogFiles(dataDir, new Uint8Array(8192), o.fsync);
  durableReplace(path.join(dataDir, CATALOG_FILE), EMPTY_CATALOG, o.fsync);
  return writeControlFile(dataDir, control, { sync: o.fsync });
}

/** What start-up found and did. */
export interface StartupResult {
  /** pg_control as found. */
  readonly control: ControlFileData;
  /** The checkpoint record start-up began from. */
  readonly checkpoint: CheckPoint;
  /** Whether WAL was replayed (the database had not been shut down cleanly). */
  readonly recovered: boolean;
  /** Records replayed. */
  readonly recordsReplayed: number;
  /** Where replay began ("redo starts at"), and the last record replayed ("redo done at"). */
  readonly redoStart: XLogRecPtr;
  readonly redoEnd: XLogRecPtr;
  /** EndOfLog: where WAL insertion resumes; and the record before it (the next xl_prev). */
  readonly endOfLog: XLogRecPtr;
  readonly lastRecord: XLogRecPtr;
  /** Why the WAL ended (the reader's message), when recovery ran. */
  readonly walEndReason: string | undefined;
  /** Tables emptied because they are unlogged. */
  readonly unloggedReset: readonly string[];
}

/** The startup process's handles. */
export interface StartupBackend {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly catalog: Catalog;
}

function invalidCheckpoint(dataDir: string, why: string): PgsimError {
  return new PgsimError(
    "no-valid-checkpoint",
    `could not locate a valid checkpoint record: ${why}`,
    {
      dataDir,
    },
  );
}

/**
 * StartupXLOG up to (not including) the end-of-recovery checkpoint: reads pg_control and the
 * checkpoint record it points to; loads the commit log (pg_xact) and the catalog image the
 * checkpoint wrote; sets nextXid; if the database was not shut down cleanly, marks pg_control
 * "in crash recovery" and replays every record from the redo pointer to the end of valid WAL;
 * empties unlogged tables after a crash; creates the main fork of any table whose creation was
 * lost. The caller then resumes WAL insertion at `endOfLog` and, after a recovery, writes the
 * end-of-recovery checkpoint.
 */
export function startupXLog(dataDir: string, b: StartupBackend): StartupResult {
  const control = readControlFile(dataDir);
  const walDir = path.join(dataDir, "pg_wal");
  const reader = new XLogReader({
    walDir,
    walSegSize: control.xlogSegSize,
    systemIdentifier: control.systemIdentifier,
  });
  try {
    // ReadCheckpointRecord.
    reader.beginRead(control.checkPoint);
    const rec = reader.readRecord();
    if (rec === null) throw invalidCheckpoint(dataDir, reader.error?.message ?? "no record");
    const op = rec.header.info & 0xf0;
    if (
      rec.header.rmid !== RM_XLOG_ID ||
      (op !== XLOG_CHECKPOINT_SHUTDOWN && op !== XLOG_CHECKPOINT_ONLINE) ||
      rec.header.totLen !== SizeOfXLogRecord + 2 + SizeOfCheckPoint
    ) {
      throw invalidCheckpoint(
        dataDir,
        `the record at ${formatLsn(control.checkPoint)} is not a checkpoint`,
      );
    }
    const checkpoint = decodeCheckPoint(rec.mainData);
    if (op === XLOG_CHECKPOINT_SHUTDOWN && checkpoint.redo < control.checkPoint) {
      throw new PgsimError("invalid-redo-record", "invalid redo record in shutdown checkpoint");
    }
    // Counters, the commit log and the catalog as the checkpoint left them.
    advanceNextXid(b.transam.shmem, Number(checkpoint.nextXid & 0xffffffffn));
    clogLoadFiles(b.transam.shmem, dataDir);
    b.catalog.restore(readCatalogFile(dataDir));
    const needsRecovery =
      control.state !== DBState.SHUTDOWNED || checkpoint.redo < control.checkPoint;
    let recordsReplayed = 0;
    let endOfLog = reader.endRecPtrLsn;
    let lastRecord = control.checkPoint;
    let redoEnd = control.checkPoint;
    let walEndReason: string | undefined;
    const unloggedReset: string[] = [];
    if (needsRecovery) {
      writeControlFile(dataDir, { ...control, state: DBState.IN_CRASH_RECOVERY }, { sync: true });
      const ctx = redoContext(b.pool, b.transam, b.catalog, control.dataChecksumVersion !== 0);
      // Start at the redo pointer (the checkpoint record itself when redo = its LSN).
      reader.beginRead(checkpoint.redo);
      for (let r = reader.readRecord(); r !== null; r = reader.readRecord()) {
        redoRecord(ctx, r);
        recordsReplayed++;
        lastRecord = r.lsn;
        redoEnd = r.lsn;
        endOfLog = r.endLsn;
      }
      walEndReason = reader.error?.message;
      // Crash recovery reaches consistency at the end of WAL: a page the WAL referred to that
      // is still missing means the WAL and the data files disagree (XLogCheckInvalidPages).
      ctx.invalidPages.reachedConsistency();
      // ResetUnloggedRelations: an unlogged table is empty after a crash.
      for (const t of b.catalog.list()) {
        if (t.persistence !== "unlogged") continue;
        const rel = tableLocator(t);
        b.pool.dropRelation(rel);
        b.pool.createRelation(rel, ForkNumber.MAIN);
        unloggedReset.push(t.name);
      }
    }
    // TrimCLOG: no xid from nextXid on may carry a status (pg_xact can be ahead of the WAL).
    trimClog(b.transam.shmem, b.transam.nextXid);
    // A table whose CREATE reached the catalog but whose storage did not (or whose TRUNCATE's new
    // relfilenode was not created yet) gets its empty main fork.
    for (const t of b.catalog.list()) {
      const rel = tableLocator(t);
      if (!b.pool.relationExists(rel, ForkNumber.MAIN)) b.pool.createRelation(rel, ForkNumber.MAIN);
    }
    return {
      control,
      checkpoint,
      recovered: needsRecovery,
      recordsReplayed,
      redoStart: checkpoint.redo,
      redoEnd,
      endOfLog,
      lastRecord,
      walEndReason,
      unloggedReset,
    };
  } finally {
    reader.close();
  }
}

/** The first record position of a fresh data directory (for tests and the README). */
export function firstRecordLsn(walSegSize: number): XLogRecPtr {
  return BigInt(walSegSize + SizeOfXLogLongPHD);
}
