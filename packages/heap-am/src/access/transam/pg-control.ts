/**
 * The control file `global/pg_control` (PostgreSQL 15's ControlFileData, byte for byte, with its
 * CRC-32C), the CheckPoint struct that both it and checkpoint records carry, and the XLOG
 * resource manager's opcodes.
 *
 * Models: src/include/catalog/pg_control.h (CheckPoint, XLOG_* opcodes, DBState,
 * ControlFileData, PG_CONTROL_VERSION, PG_CONTROL_FILE_SIZE), src/common/controldata_utils.c
 * (get_controlfile, update_controlfile), src/backend/access/transam/xlog.c (BootStrapXLOG's
 * initial values, WriteControlFile's compile-time constants, ReadControlFile's checks) and
 * src/bin/pg_controldata/pg_controldata.c (dbState: the state names).
 * Entry points: `encodeCheckPoint`, `decodeCheckPoint`, `encodeControlFile`,
 * `decodeControlFile`, `writeControlFile`, `readControlFile`, `bootstrapControlFile`,
 * `generateSystemIdentifier`, `DBState`, `XLOG_CHECKPOINT_SHUTDOWN` … `XLOG_OVERWRITE_CONTRECORD`.
 * See also: xlog.ts (the WAL), docs/reference/postgres-wal.md §6.5 (CheckPoint), §9 (pg_control).
 *
 * pg_control layout (x86-64; gaps are alignment padding, zero on disk): 0 system_identifier u64,
 * 8 pg_control_version, 12 catalog_version_no, 16 state, 24 time, 32 checkPoint, 40 checkPointCopy
 * (88 bytes), 128 unloggedLSN, 136 minRecoveryPoint, 144 minRecoveryPointTLI, 152
 * backupStartPoint, 160 backupEndPoint, 168 backupEndRequired, 172 wal_level, 176 wal_log_hints,
 * 180 MaxConnections, 184 max_worker_processes, 188 max_wal_senders, 192 max_prepared_xacts, 196
 * max_locks_per_xact, 200 track_commit_timestamp, 204 maxAlign, 208 floatFormat (1234567.0),
 * 216 blcksz, 220 relseg_size, 224 xlog_blcksz, 228 xlog_seg_size, 232 nameDataLen, 236
 * indexMaxKeys, 240 toast_max_chunk_size, 244 loblksize, 248 float8ByVal, 252
 * data_checksum_version, 256 mock_authentication_nonce[32], 288 crc (CRC-32C of bytes [0, 288)).
 * The file is 8192 bytes, zero after the 296-byte struct.
 *
 * Differs from PostgreSQL: the server keeps one copy of ControlFileData in shared memory under
 * ControlFileLock and rewrites the file from it; pgsim's callers pass the whole struct to
 * `writeControlFile` (there is no shared copy yet).
 */

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { panicError } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { crc32c } from "../../include/port/pg-crc32c.js";
import { type FilePoints, writeFileInPlace } from "../../storage/file/fd.js";
import {
  DEFAULT_XLOG_SEG_SIZE,
  isValidWalSegSize,
  SizeOfXLogLongPHD,
  XLOG_BLCKSZ,
} from "./xlog-internal.js";
import { FirstNormalUnloggedLSN, type TimeLineID, type XLogRecPtr } from "./xlogdefs.js";

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
// CheckPoint

/** sizeof(CheckPoint): the main data of a checkpoint record (which is then 114 bytes). */
export const SizeOfCheckPoint = 88;

/** CheckPoint (pg_control.h): what a checkpoint record carries; pg_control keeps a copy. */
export interface CheckPoint {
  /** The REDO start LSN: replay begins here. */
  readonly redo: XLogRecPtr;
  readonly thisTimeLineID: TimeLineID;
  readonly prevTimeLineID: TimeLineID;
  readonly fullPageWrites: boolean;
  /** FullTransactionId: epoch in the high 32 bits, xid in the low 32. */
  readonly nextXid: bigint;
  readonly nextOid: number;
  readonly nextMulti: number;
  readonly nextMultiOffset: number;
  /** Cluster-wide minimum datfrozenxid, and its database. */
  readonly oldestXid: number;
  readonly oldestXidDB: number;
  readonly oldestMulti: number;
  readonly oldestMultiDB: number;
  /** pg_time_t: seconds since 1970. */
  readonly time: bigint;
  readonly oldestCommitTsXid: number;
  readonly newestCommitTsXid: number;
  /** Oldest running xid (online checkpoints, wal_level ≥ replica), else 0. */
  readonly oldestActiveXid: number;
}

function putU32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset + off, 4).setUint32(0, v >>> 0, true);
}

/** Writes a CheckPoint at `bytes[offset]` (88 bytes, padding zeroed). */
export function writeCheckPoint(bytes: Uint8Array, offset: number, cp: CheckPoint): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, SizeOfCheckPoint);
  for (let i = 0; i < SizeOfCheckPoint; i++) v.setUint8(i, 0);
  v.setBigUint64(0, BigInt.asUintN(64, cp.redo), true);
  v.setUint32(8, cp.thisTimeLineID >>> 0, true);
  v.setUint32(12, cp.prevTimeLineID >>> 0, true);
  v.setUint8(16, cp.fullPageWrites ? 1 : 0);
  v.setBigUint64(24, BigInt.asUintN(64, cp.nextXid), true);
  v.setUint32(32, cp.nextOid >>> 0, true);
  v.setUint32(36, cp.nextMulti >>> 0, true);
  v.setUint32(40, cp.nextMultiOffset >>> 0, true);
  v.setUint32(44, cp.oldestXid >>> 0, true);
  v.setUint32(48, cp.oldestXidDB >>> 0, true);
  v.setUint32(52, cp.oldestMulti >>> 0, true);
  v.setUint32(56, cp.oldestMultiDB >>> 0, true);
  v.setBigInt64(64, BigInt.asIntN(64, cp.time), true);
  v.setUint32(72, cp.oldestCommitTsXid >>> 0, true);
  v.setUint32(76, cp.newestCommitTsXid >>> 0, true);
  v.setUint32(80, cp.oldestActiveXid >>> 0, true);
}

/** Reads a CheckPoint at `bytes[offset]`. */
export function readCheckPoint(bytes: Uint8Array, offset = 0): CheckPoint {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, SizeOfCheckPoint);
  return {
    redo: v.getBigUint64(0, true),
    thisTimeLineID: v.getUint32(8, true),
    prevTimeLineID: v.getUint32(12, true),
    fullPageWrites: v.getUint8(16) !== 0,
    nextXid: v.getBigUint64(24, true),
    nextOid: v.getUint32(32, true),
    nextMulti: v.getUint32(36, true),
    nextMultiOffset: v.getUint32(40, true),
    oldestXid: v.getUint32(44, true),
    oldestXidDB: v.getUint32(48, true),
    oldestMulti: v.getUint32(52, true),
    oldestMultiDB: v.getUint32(56, true),
    time: v.getBigInt64(64, true),
    oldestCommitTsXid: v.getUint32(72, true),
    newestCommitTsXid: v.getUint32(76, true),
    oldestActiveXid: v.getUint32(80, true),
  };
}

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
// ControlFileData

/** Where the control file lives in a data directory (XLOG_CONTROL_FILE). */
export const XLOG_CONTROL_FILE = "global/pg_control";
/** PG_CONTROL_VERSION of PostgreSQL 15. */
export const PG_CONTROL_VERSION = 1300;
/** CATALOG_VERSION_NO of PostgreSQL 15. */
export const CATALOG_VERSION_NO = 202209061;
/** PG_CONTROL_FILE_SIZE: the file is this long, zero-padded. */
export const PG_CONTROL_FILE_SIZE = 8192;
/** sizeof(ControlFileData) on x86-64. */
export const SizeOfControlFileData = 296;
/** offsetof(ControlFileData, crc). */
export const CONTROL_FILE_CRC_OFFSET = 288;
/** FLOATFORMAT_VALUE: a double checked to detect a different floating-point format. */
export const FLOATFORMAT_VALUE = 1234567.0;
/** MOCK_AUTH_NONCE_LEN. */
export const MOCK_AUTH_NONCE_LEN = 32;
/** PG_DATA_CHECKSUM_VERSION: data_checksum_version of a cluster with data checksums. */
export const PG_DATA_CHECKSUM_VERSION = 1;
const CHECKPOINT_COPY_OFFSET = 40;

/** DBState: what the cluster was doing when pg_control was last written. */
export const DBState = {
  STARTUP: 0,
  SHUTDOWNED: 1,
  SHUTDOWNED_IN_RECOVERY: 2,
  SHUTDOWNING: 3,
  IN_CRASH_RECOVERY: 4,
  IN_ARCHIVE_RECOVERY: 5,
  IN_PRODUCTION: 6,
} as const;
export type DBState = (typeof DBState)[keyof typeof DBState];

/** What pg_controldata prints for each DBState ("Database cluster state"). */
export const DB_STATE_NAMES: readonly string[] = [
  "starting up",
  "shut down",
  "shut down in recovery",
  "shutting down",
  "in crash recovery",
  "in archive recovery",
  "in production",
];

/** wal_level values as pg_control stores them. */
export const WalLevel = { MINIMAL: 0, REPLICA: 1, LOGICAL: 2 } as const;

/** ControlFileData (pg_control.h), field by field, camelCased. */
export interface ControlFileData {
  readonly systemIdentifier: bigint;
  readonly pgControlVersion: number;
  readonly catalogVersionNo: number;
  /** A DBState value. */
  readonly state: number;
  /** pg_time_t of the last update: seconds since 1970. */
  readonly time: bigint;
  /** LSN of the latest checkpoint record. */
  readonly checkPoint: XLogRecPtr;
  /** A copy of the latest checkpoint record's CheckPoint. */
  readonly checkPointCopy: CheckPoint;
  readonly unloggedLSN: XLogRecPtr;
  readonly minRecoveryPoint: XLogRecPtr;
  readonly minRecoveryPointTLI: TimeLineID;
  readonly backupStartPoint: XLogRecPtr;
  readonly backupEndPoint: XLogRecPtr;
  readonly backupEndRequired: boolean;
  /** 0 minimal, 1 replica, 2 logical. */
  readonly walLevel: number;
  readonly walLogHints: boolean;
  readonly maxConnections: number;
  readonly maxWorkerProcesses: number;
  readonly maxWalSenders: number;
  readonly maxPreparedXacts: number;
  readonly maxLocksPerXact: number;
  readonly trackCommitTimestamp: boolean;
  readonly maxAlign: number;
  readonly floatFormat: number;
  readonly blcksz: number;
  /** Blocks per segment file of a large relation (RELSEG_SIZE). */
  readonly relsegSize: number;
  readonly xlogBlcksz: number;
  readonly xlogSegSize: number;
  readonly nameDataLen: number;
  readonly indexMaxKeys: number;
  readonly toastMaxChunkSize: number;
  readonly loblksize: number;
  readonly float8ByVal: boolean;
  /** 0: data checksums off; 1: on. */
  readonly dataChecksumVersion: number;
  /** 32 random bytes chosen at initdb. */
  readonly mockAuthenticationNonce: Uint8Array;
}

/** A decoded control file, its stored CRC, and whether that CRC matches the contents. */
export interface DecodedControlFile {
  readonly data: ControlFileData;
  readonly crc: number;
  readonly crcMatches: boolean;
}

function controlFileError(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("control-file-invalid", message, detail);
}

/**
 * The 8192 bytes of a control file holding `data`: the struct with its padding zeroed, the CRC
 * of bytes [0, 288) at 288, zeros after byte 296.
 */
export function encodeControlFile(data: ControlFileData): Uint8Array {
  if (data.mockAuthenticationNonce.length !== MOCK_AUTH_NONCE_LEN) {
    throw new PgsimError(
      "invalid-argument",
      `mock_authentication_nonce must have ${MOCK_AUTH_NONCE_LEN} bytes, got ${data.mockAuthenticationNonce.length}`,
    );
  }
  const bytes = new Uint8Array(PG_CONTROL_FILE_SIZE);
  const v = new DataView(bytes.buffer);
  const u32 = (off: number, x: number) => v.setUint32(off, x >>> 0, true);
  const i32 = (off: number, x: number) => v.setInt32(off, x | 0, true);
  const u64 = (off: number, x: bigint) => v.setBigUint64(off, BigInt.asUintN(64, x), true);
  const bool = (off: number, x: boolean) => v.setUint8(off, x ? 1 : 0);
  u64(0, data.systemIdentifier);
  u32(8, data.pgControlVersion);
  u32(12, data.catalogVersionNo);
  u32(16, data.state);
  v.setBigInt64(24, BigInt.asIntN(64, data.time), true);
  u64(32, data.checkPoint);
  writeCheckPoint(bytes, CHECKPOINT_COPY_OFFSET, data.checkPointCopy);
  u64(128, data.unloggedLSN);
  u64(136, data.minRecoveryPoint);
  u32(144, data.minRecoveryPointTLI);
  u64(152, data.backupStartPoint);
  u64(160, data.backupEndPoint);
  bool(168, data.backupEndRequired);
  i32(172, data.walLevel);
  bool(176, data.walLogHints);
  i32(180, data.maxConnections);
  i32(184, data.maxWorkerProcesses);
  i32(188, data.maxWalSenders);
  i32(192, data.maxPreparedXacts);
  i32(196, data.maxLocksPerXact);
  bool(200, data.trackCommitTimestamp);
  u32(204, data.maxAlign);
  v.setFloat64(208, data.floatFormat, true);
  u32(216, data.blcksz);
  u32(220, data.relsegSize);
  u32(224, data.xlogBlcksz);
  u32(228, data.xlogSegSize);
  u32(232, data.nameDataLen);
  u32(236, data.indexMaxKeys);
  u32(240, data.toastMaxChunkSize);
  u32(244, data.loblksize);
  bool(248, data.float8ByVal);
  u32(252, data.dataChecksumVersion);
  bytes.set(data.mockAuthenticationNonce, 256);
  putU32(bytes, CONTROL_FILE_CRC_OFFSET, crc32c(bytes, 0, CONTROL_FILE_CRC_OFFSET));
  return bytes;
}

/**
 * Decodes a control file (at least its first 296 bytes). Throws `control-file-invalid` when it
 * is too short or not a version-1300 control file, with PostgreSQL's messages. A CRC mismatch is
 * reported in the result, not thrown: pg_controldata warns and goes on; `readControlFile`
 * refuses, as the server does.
 */
export function decodeControlFile(bytes: Uint8Array): DecodedControlFile {
  if (bytes.length < SizeOfControlFileData) {
    throw controlFileError(
      `could not read file "${XLOG_CONTROL_FILE}": read ${bytes.length} of ${SizeOfControlFileData}`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, SizeOfControlFileData);
  const u32 = (off: number) => v.getUint32(off, true);
  const i32 = (off: number) => v.getInt32(off, true);
  const u64 = (off: number) => v.getBigUint64(off, true);
  const bool = (off: number) => v.getUint8(off) !== 0;
  const version = u32(8);
  if (version !== PG_CONTROL_VERSION) {
    const swapped = version % 65536 === 0 && version / 65536 !== 0;
    throw controlFileError(
      swapped
        ? "database files are incompatible with server: possible byte ordering mismatch"
        : `database files are incompatible with server: The database cluster was initialized with PG_CONTROL_VERSION ${version} (0x${version.toString(16).padStart(8, "0")}), but the server was compiled with PG_CONTROL_VERSION ${PG_CONTROL_VERSION} (0x${PG_CONTROL_VERSION.toString(16).padStart(8, "0")}).`,
      { pgControlVersion: version },
    );
  }
  const data: ControlFileData = {
    systemIdentifier: u64(0),
    pgControlVersion: version,
    catalogVersionNo: u32(12),
    state: u32(16),
    time: v.getBigInt64(24, true),
    checkPoint: u64(32),
    checkPointCopy: readCheckPoint(bytes, CHECKPOINT_COPY_OFFSET),
    unloggedLSN: u64(128),
    minRecoveryPoint: u64(136),
    minRecoveryPointTLI: u32(144),
    backupStartPoint: u64(152),
    backupEndPoint: u64(160),
    backupEndRequired: bool(168),
    walLevel: i32(172),
    walLogHints: bool(176),
    maxConnections: i32(180),
    maxWorkerProcesses: i32(184),
    maxWalSenders: i32(188),
    maxPreparedXacts: i32(192),
    maxLocksPerXact: i32(196),
    trackCommitTimestamp: bool(200),
    maxAlign: u32(204),
    floatFormat: v.getFloat64(208, true),
    blcksz: u32(216),
    relsegSize: u32(220),
    xlogBlcksz: u32(224),
    xlogSegSize: u32(228),
    nameDataLen: u32(232),
    indexMaxKeys: u32(236),
    toastMaxChunkSize: u32(240),
    loblksize: u32(244),
    float8ByVal: bool(248),
    dataChecksumVersion: u32(252),
    mockAuthenticationNonce: new Uint8Array(bytes.subarray(256, 256 + MOCK_AUTH_NONCE_LEN)),
  };
  const crc = u32(CONTROL_FILE_CRC_OFFSET);
  return { data, crc, crcMatches: crc === crc32c(bytes, 0, CONTROL_FILE_CRC_OFFSET) };
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

/**
 * A new system identifier as BootStrapXLOG makes one: the seconds of the current time in the high
 * 32 bits, the microseconds shifted left by 12, the low 12 bits of the process id.
 */
export function generateSystemIdentifier(nowMs = Date.now(), pid = process.pid): bigint {
  const sec = BigInt(Math.floor(nowMs / 1000));
  const usec = BigInt(Math.floor((nowMs % 1000) * 1000));
  return BigInt.asUintN(64, (sec << 32n) | (usec << 12n) | BigInt(pid & 0xfff));
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
