/**
 * The server's side of the control file `global/pg_control` and the XLOG resource manager's
 * opcodes: ReadControlFile's start-up checks, update_controlfile (through the control-write
 * injection point; a failure is a PANIC), BootStrapXLOG's initial contents, and the CheckPoint
 * struct as a checkpoint record's main data. The byte layout of ControlFileData and CheckPoint is
 * encoded and decoded by buffer-manager's pg-control.ts (re-exported here), which a disk-backed
 * pool without WAL uses too.
 *
 * Models: src/include/catalog/pg_control.h (XLOG_* opcodes), src/common/controldata_utils.c
 * (update_controlfile), src/backend/access/transam/xlog.c (BootStrapXLOG's initial values,
 * WriteControlFile's compile-time constants, ReadControlFile's checks).
 * Entry points: `encodeCheckPoint`, `decodeCheckPoint`, `writeControlFile`, `readControlFile`,
 * `bootstrapControlFile`, `XLOG_CHECKPOINT_SHUTDOWN` … `XLOG_OVERWRITE_CONTRECORD`, and the
 * codec re-exported from @pgsim/buffer-manager.
 * See also: xlog.ts (the WAL), docs/reference/postgres-wal.md §6.5 (CheckPoint), §9 (pg_control),
 * packages/buffer-manager/src/pg-control.ts (the layout, field by field).
 *
 * Differs from PostgreSQL: the server keeps one copy of ControlFileData in shared memory under
 * ControlFileLock and rewrites the file from it; pgsim's callers pass the whole struct to
 * `writeControlFile` (there is no shared copy yet).
 */

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  CATALOG_VERSION_NO,
  type CheckPoint,
  type ControlFileData,
  DBState,
  decodeControlFile,
  encodeControlFile,
  FLOATFORMAT_VALUE,
  generateSystemIdentifier,
  MOCK_AUTH_NONCE_LEN,
  PG_CONTROL_VERSION,
  PG_DATA_CHECKSUM_VERSION,
  panicError,
  readCheckPoint,
  SizeOfCheckPoint,
  WalLevel,
  writeCheckPoint,
  XLOG_CONTROL_FILE,
} from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { type FilePoints, writeFileInPlace } from "../../storage/file/fd.js";
import {
  DEFAULT_XLOG_SEG_SIZE,
  isValidWalSegSize,
  SizeOfXLogLongPHD,
  XLOG_BLCKSZ,
} from "./xlog-internal.js";
import { FirstNormalUnloggedLSN } from "./xlogdefs.js";

// The control file's codec (ControlFileData, CheckPoint, DBState, the constants) is
// buffer-manager's: a disk-backed pool without WAL writes pg_control too. The WAL code imports
// it from here, with what the server adds.
export {
  CATALOG_VERSION_NO,
  type CheckPoint,
  CONTROL_FILE_CRC_OFFSET,
  type ControlFileData,
  DB_STATE_NAMES,
  DBState,
  type DecodedControlFile,
  decodeControlFile,
  encodeControlFile,
  FLOATFORMAT_VALUE,
  generateSystemIdentifier,
  MOCK_AUTH_NONCE_LEN,
  PG_CONTROL_FILE_SIZE,
  PG_CONTROL_VERSION,
  PG_DATA_CHECKSUM_VERSION,
  readCheckPoint,
  SIZEOF_CONTROL_FILE_DATA as SizeOfControlFileData,
  SizeOfCheckPoint,
  WalLevel,
  writeCheckPoint,
  XLOG_CONTROL_FILE,
} from "@pgsim/buffer-manager";

/** pg_control's write and its fsync are both the "control-write" point. */
const CONTROL_FILE_POINTS: FilePoints = { write: "control-write", fsync: "control-write" };

// ---------------------------------------------------------------------------------------------
// XLOG resource manager opcodes (pg_control.h)

export const XLOG_CHECKPOINT_SHUTDOWN = 0x00;
export const XLOG_CHECKPOINT_ONLINE = 0x10;
export const XLOG_NOOP = 0x20;
export const XLOG_NEXTOID = 0x30;
export const XLOG_SWITCH = 0x40;
export const XLOG_BACKUP_END = 0x50;
export const XLOG_PARAMETER_CHANGE = 0x60;
export const XLOG_RESTORE_POINT = 0x70;
export const XLOG_FPW_CHANGE = 0x80;
export const XLOG_END_OF_RECOVERY = 0x90;
export const XLOG_FPI_FOR_HINT = 0xa0;
export const XLOG_FPI = 0xb0;
export const XLOG_OVERWRITE_CONTRECORD = 0xd0;

// ---------------------------------------------------------------------------------------------
// CheckPoint: the struct's codec is buffer-manager's (pg-control.ts there), shared with pg_control.

/** The 88 bytes of a CheckPoint: a checkpoint record's main data. */
export function encodeCheckPoint(cp: CheckPoint): Uint8Array {
  const bytes = new Uint8Array(SizeOfCheckPoint);
  writeCheckPoint(bytes, 0, cp);
  return bytes;
}

/** Decodes a checkpoint record's main data; throws `invalid-checkpoint-record` if not 88 bytes. */
export function decodeCheckPoint(bytes: Uint8Array): CheckPoint {
  if (bytes.length !== SizeOfCheckPoint) {
    throw new PgsimError(
      "invalid-checkpoint-record",
      `invalid checkpoint record: main data is ${bytes.length} bytes, expected ${SizeOfCheckPoint}`,
    );
  }
  return readCheckPoint(bytes, 0);
}

// ---------------------------------------------------------------------------------------------
// ControlFileData: encoded and decoded by buffer-manager's codec; what follows is the server's
// side (ReadControlFile's checks, update_controlfile through its injection point, BootStrapXLOG).

function controlFileError(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("control-file-invalid", message, detail);
}

/**
 * ReadControlFile: reads `<dataDir>/global/pg_control` and checks it as the server does at
 * start-up — version, CRC ("incorrect checksum in control file"), catalog version, and the
 * compile-time constants pgsim shares with PostgreSQL 15 (x86-64, 8 KB blocks). Throws
 * `control-file-invalid`.
 */
export function readControlFile(dataDir: string): ControlFileData {
  const file = path.join(dataDir, XLOG_CONTROL_FILE);
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw controlFileError(`could not open file "${file}": ${(e as Error).message}`);
  }
  const { data, crcMatches } = decodeControlFile(bytes);
  if (!crcMatches) throw controlFileError("incorrect checksum in control file");
  const expect = (what: string, got: number | boolean, want: number | boolean, hint: string) => {
    if (got !== want) {
      throw controlFileError(
        `database files are incompatible with server: The database cluster was initialized with ${what} ${String(got)}, but the server was compiled with ${what} ${String(want)}.${hint}`,
      );
    }
  };
  expect("CATALOG_VERSION_NO", data.catalogVersionNo, CATALOG_VERSION_NO, "");
  expect("MAXALIGN", data.maxAlign, 8, "");
  if (data.floatFormat !== FLOATFORMAT_VALUE) {
    throw controlFileError(
      "database files are incompatible with server: The database cluster appears to use a different floating-point number format than the server executable.",
    );
  }
  expect("BLCKSZ", data.blcksz, 8192, " It looks like you need to recompile or initdb.");
  expect(
    "XLOG_BLCKSZ",
    data.xlogBlcksz,
    XLOG_BLCKSZ,
    " It looks like you need to recompile or initdb.",
  );
  expect("NAMEDATALEN", data.nameDataLen, 64, " It looks like you need to recompile or initdb.");
  expect(
    "INDEX_MAX_KEYS",
    data.indexMaxKeys,
    32,
    " It looks like you need to recompile or initdb.",
  );
  expect(
    "TOAST_MAX_CHUNK_SIZE",
    data.toastMaxChunkSize,
    1996,
    " It looks like you need to recompile or initdb.",
  );
  expect("LOBLKSIZE", data.loblksize, 2048, " It looks like you need to recompile or initdb.");
  expect(
    "USE_FLOAT8_BYVAL",
    data.float8ByVal,
    true,
    " It looks like you need to recompile or initdb.",
  );
  if (!isValidWalSegSize(data.xlogSegSize)) {
    throw controlFileError(
      `WAL segment size must be a power of two between 1 MB and 1 GB, but the control file specifies ${data.xlogSegSize} bytes`,
    );
  }
  return data;
}

/** Options of `writeControlFile`. */
export interface WriteControlFileOptions {
  /** The `time` to record (seconds since 1970). Default: now, as update_controlfile does. */
  readonly time?: bigint;
  /** fsync the file after writing it. Default true. */
  readonly sync?: boolean;
}

/**
 * update_controlfile: sets `time`, computes the CRC, writes the 8192 bytes of
 * `<dataDir>/global/pg_control` (creating `global/` if needed) and fsyncs it. Returns the data
 * as written (with the new time).
 */
export function writeControlFile(
  dataDir: string,
  data: ControlFileData,
  options: WriteControlFileOptions = {},
): ControlFileData {
  const written: ControlFileData = {
    ...data,
    time: options.time ?? BigInt(Math.floor(Date.now() / 1000)),
  };
  const bytes = encodeControlFile(written);
  const file = path.join(dataDir, XLOG_CONTROL_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    writeFileInPlace(file, bytes, options.sync ?? true, CONTROL_FILE_POINTS);
  } catch (e) {
    // update_controlfile: a failed write of pg_control is a PANIC too (the fsync already is).
    if (e instanceof PgsimError && e.code !== "panic") {
      throw panicError(file, e.message, { ...e.detail });
    }
    throw e;
  }
  return written;
}

/** Options of `bootstrapControlFile`. */
export interface BootstrapControlFileOptions {
  readonly systemIdentifier?: bigint;
  /** initdb -k. Default true (pgsim pages carry checksums). */
  readonly dataChecksums?: boolean;
  readonly walSegSize?: number;
  readonly fullPageWrites?: boolean;
  /** Seconds since 1970 for the checkpoint and the file. Default now. */
  readonly time?: bigint;
  /** max_connections recorded in the file. Default 100. */
  readonly maxConnections?: number;
}

/**
 * The control file initdb leaves (BootStrapXLOG + WriteControlFile): state "shut down", the first
 * checkpoint at the start of segment 1 (segment size + 40) with its redo pointer there too,
 * timeline 1, next xid 3, next OID 10000, unloggedLSN 0/3E8, and PostgreSQL 15's compile-time
 * constants. The matching checkpoint record is the caller's to write.
 */
export function bootstrapControlFile(options: BootstrapControlFileOptions = {}): ControlFileData {
  const walSegSize = options.walSegSize ?? DEFAULT_XLOG_SEG_SIZE;
  const time = options.time ?? BigInt(Math.floor(Date.now() / 1000));
  const redo = BigInt(walSegSize + SizeOfXLogLongPHD);
  const checkPointCopy: CheckPoint = {
    redo,
    thisTimeLineID: 1,
    prevTimeLineID: 1,
    fullPageWrites: options.fullPageWrites ?? true,
    nextXid: 3n,
    nextOid: 10000,
    nextMulti: 1,
    nextMultiOffset: 0,
    oldestXid: 3,
    oldestXidDB: 1,
    oldestMulti: 1,
    oldestMultiDB: 1,
    time,
    oldestCommitTsXid: 0,
    newestCommitTsXid: 0,
    oldestActiveXid: 0,
  };
  return {
    systemIdentifier: options.systemIdentifier ?? generateSystemIdentifier(),
    pgControlVersion: PG_CONTROL_VERSION,
    catalogVersionNo: CATALOG_VERSION_NO,
    state: DBState.SHUTDOWNED,
    time,
    checkPoint: redo,
    checkPointCopy,
    unloggedLSN: FirstNormalUnloggedLSN,
    minRecoveryPoint: 0n,
    minRecoveryPointTLI: 0,
    backupStartPoint: 0n,
    backupEndPoint: 0n,
    backupEndRequired: false,
    walLevel: WalLevel.REPLICA,
    walLogHints: false,
    maxConnections: options.maxConnections ?? 100,
    maxWorkerProcesses: 8,
    maxWalSenders: 10,
    maxPreparedXacts: 0,
    maxLocksPerXact: 64,
    trackCommitTimestamp: false,
    maxAlign: 8,
    floatFormat: FLOATFORMAT_VALUE,
    blcksz: 8192,
    relsegSize: 131072,
    xlogBlcksz: XLOG_BLCKSZ,
    xlogSegSize: walSegSize,
    nameDataLen: 64,
    indexMaxKeys: 32,
    toastMaxChunkSize: 1996,
    loblksize: 2048,
    float8ByVal: true,
    dataChecksumVersion: (options.dataChecksums ?? true) ? PG_DATA_CHECKSUM_VERSION : 0,
    mockAuthenticationNonce: new Uint8Array(randomBytes(MOCK_AUTH_NONCE_LEN)),
  };
}
