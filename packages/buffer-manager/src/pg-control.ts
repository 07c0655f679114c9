/**
 * The control file, `global/pg_control`: PostgreSQL 15's ControlFileData, encoded and decoded
 * byte for byte (x86-64 layout, little-endian), with its CRC-32C.
 *
 * Models: src/include/catalog/pg_control.h (ControlFileData, CheckPoint, DBState),
 * src/common/controldata_utils.c (get_controlfile, update_controlfile) and the parts of
 * src/backend/access/transam/xlog.c that create and check it (BootStrapXLOG, WriteControlFile,
 * ReadControlFile). pg_controldata and the server read the files this module writes.
 * Entry points: `encodeControlFile`, `decodeControlFile`, `readCheckPoint`, `writeCheckPoint`,
 * `readControlFile`, `writeControlFile`, `pgsimControlFile`, `generateSystemIdentifier`,
 * `XLOG_CONTROL_FILE`, `PG_CONTROL_VERSION`.
 * See also: pg-crc32c.ts (the CRC), buf-init.ts (a disk-backed pool without WAL writes one at
 * start-up), ../../heap-am/src/access/transam/pg-control.ts (the WAL's side: checkpoint records,
 * ReadControlFile's start-up checks, update_controlfile with its injection point, BootStrapXLOG),
 * ../../heap-am/src/inspect (pgsim-inspect decodes it).
 *
 * This is the one codec of the file: the WAL code in heap-am builds on it.
 *
 * Layout (offsets in bytes; gaps are alignment padding, zero on disk): 0 system_identifier u64,
 * 8 pg_control_version, 12 catalog_version_no, 16 state, 24 time, 32 checkPoint, 40 checkPointCopy
 * (CheckPoint, 88 bytes), 128 unloggedLSN, 136 minRecoveryPoint, 144 minRecoveryPointTLI,
 * 152 backupStartPoint, 160 backupEndPoint, 168 backupEndRequired, 172 wal_level, 176
 * wal_log_hints, 180 MaxConnections, 184 max_worker_processes, 188 max_wal_senders, 192
 * max_prepared_xacts, 196 max_locks_per_xact, 200 track_commit_timestamp, 204 maxAlign, 208
 * floatFormat (double 1234567.0), 216 blcksz, 220 relseg_size, 224 xlog_blcksz, 228 xlog_seg_size,
 * 232 nameDataLen, 236 indexMaxKeys, 240 toast_max_chunk_size, 244 loblksize, 248 float8ByVal, 252
 * data_checksum_version, 256 mock_authentication_nonce[32], 288 crc. The CRC covers bytes
 * [0, 288); the file is 8192 bytes, zero after byte 296.
 */

import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { PgsimError } from "@pgsim/clock-sweep";
import { ioFsync, ioWrite } from "./injection-point.js";
import { crc32c } from "./pg-crc32c.js";

/** The control file's path inside a data directory (XLOG_CONTROL_FILE). */
export const XLOG_CONTROL_FILE = "global/pg_control";
/** PG_CONTROL_VERSION of PostgreSQL 15. */
export const PG_CONTROL_VERSION = 1300;
/** CATALOG_VERSION_NO of PostgreSQL 15. */
export const CATALOG_VERSION_NO = 202209061;
/** Bytes of the control file on disk (PG_CONTROL_FILE_SIZE). */
export const PG_CONTROL_FILE_SIZE = 8192;
/** sizeof(ControlFileData) on x86-64. */
export const SIZEOF_CONTROL_FILE_DATA = 296;
/** offsetof(ControlFileData, crc): the CRC covers the bytes before it. */
export const CONTROL_FILE_CRC_OFFSET = 288;
const CRC_OFFSET = CONTROL_FILE_CRC_OFFSET;
/** offsetof(ControlFileData, checkPointCopy). */
const CHECKPOINT_COPY_OFFSET = 40;
/** sizeof(CheckPoint): also the main data of a checkpoint record (which is then 114 bytes). */
export const SizeOfCheckPoint = 88;
/** data_checksum_version of a cluster with data checksums (PG_DATA_CHECKSUM_VERSION). */
export const PG_DATA_CHECKSUM_VERSION = 1;
/** floatFormat: a double PostgreSQL stores to detect a different floating-point format. */
export const FLOATFORMAT_VALUE = 1234567.0;
/** Bytes of mock_authentication_nonce (MOCK_AUTH_NONCE_LEN). */
export const MOCK_AUTH_NONCE_LEN = 32;

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

/** The words pg_controldata prints for each DBState (dbState in pg_controldata.c). */
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

/** CheckPoint (pg_control.h): what a checkpoint record carries; pg_control keeps a copy. */
export interface CheckPoint {
  /** The REDO start LSN: replay begins here. */
  readonly redo: bigint;
  readonly thisTimeLineID: number;
  readonly prevTimeLineID: number;
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
  readonly checkPoint: bigint;
  /** A copy of the latest checkpoint record's CheckPoint. */
  readonly checkPointCopy: CheckPoint;
  readonly unloggedLSN: bigint;
  readonly minRecoveryPoint: bigint;
  readonly minRecoveryPointTLI: number;
  readonly backupStartPoint: bigint;
  readonly backupEndPoint: bigint;
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
  /** 0: data checksums off; 1 (PG_DATA_CHECKSUM_VERSION): on. */
  readonly dataChecksumVersion: number;
  /** 32 random bytes chosen at initdb. */
  readonly mockAuthenticationNonce: Uint8Array;
}

/** A decoded control file, its stored CRC, and whether that CRC matches the contents. */
export interface DecodedControlFile {
  readonly data: ControlFileData;
  /** The CRC stored in the file. */
  readonly crc: number;
  /** False when the stored CRC is not the CRC of the first 288 bytes. */
  readonly crcMatches: boolean;
  /** The CRC of the first 288 bytes. */
  readonly computedCrc: number;
}

/** The WAL level names pg_controldata prints (wal_level_str). */
export const WAL_LEVEL_NAMES: readonly string[] = ["minimal", "replica", "logical"];

function controlFileError(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("control-file-invalid", message, detail);
}

/**
 * Decodes the first 296 bytes of `bytes` as PostgreSQL 15's ControlFileData. Throws
 * `control-file-invalid` when the file is too short or is not a version 1300 control file (with
 * PostgreSQL's messages). A CRC mismatch is not an error here: the result says so, as
 * pg_controldata warns and goes on; readControlFile refuses it, as the server does.
 */
export function decodeControlFile(bytes: Uint8Array): DecodedControlFile {
  if (bytes.length < SIZEOF_CONTROL_FILE_DATA) {
    throw controlFileError(
      `could not read file "${XLOG_CONTROL_FILE}": read ${bytes.length} of ${SIZEOF_CONTROL_FILE_DATA}`,
      { size: bytes.length },
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, SIZEOF_CONTROL_FILE_DATA);
  const u32 = (offset: number) => v.getUint32(offset, true);
  const u64 = (offset: number) => v.getBigUint64(offset, true);
  const bool = (offset: number) => v.getUint8(offset) !== 0;
  const version = u32(8);
  if (version !== PG_CONTROL_VERSION) {
    // ReadControlFile: a byte-swapped 1300 in the low 16 bits means another byte order.
    const swapped = version % 65536 === 0 && version / 65536 !== 0;
    throw controlFileError(
      swapped
        ? "database files are incompatible with server: possible byte ordering mismatch"
        : `database files are incompatible with server: The database cluster was initialized with PG_CONTROL_VERSION ${version} (0x${version.toString(16).padStart(8, "0")}), but the server was compiled with PG_CONTROL_VERSION ${PG_CONTROL_VERSION} (0x${PG_CONTROL_VERSION.toString(16).padStart(8, "0")}).`,
      { pgControlVersion: version },
    );
  }
  const computedCrc = crc32c(bytes, 0, CRC_OFFSET);
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
    walLevel: v.getInt32(172, true),
    walLogHints: bool(176),
    maxConnections: v.getInt32(180, true),
    maxWorkerProcesses: v.getInt32(184, true),
    maxWalSenders: v.getInt32(188, true),
    maxPreparedXacts: v.getInt32(192, true),
    maxLocksPerXact: v.getInt32(196, true),
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
  const crc = u32(CRC_OFFSET);
  return { data, crc, crcMatches: computedCrc === crc, computedCrc };
}

/**
 * Encodes a control file: the 296-byte struct (padding zeroed) with a freshly computed CRC in
 * `crc`, followed by zeros up to 8192 bytes, as
 * update_controlfile writes it.
 */
export function encodeControlFile(data: ControlFileData): Uint8Array {
  const bytes = new Uint8Array(PG_CONTROL_FILE_SIZE);
  const v = new DataView(bytes.buffer);
  const u32 = (offset: number, value: number) => v.setUint32(offset, value >>> 0, true);
  const i32 = (offset: number, value: number) => v.setInt32(offset, value | 0, true);
  const u64 = (offset: number, value: bigint) =>
    v.setBigUint64(offset, BigInt.asUintN(64, value), true);
  const bool = (offset: number, value: boolean) => v.setUint8(offset, value ? 1 : 0);
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
  if (data.mockAuthenticationNonce.length !== MOCK_AUTH_NONCE_LEN) {
    throw new PgsimError(
      "invalid-argument",
      `mock_authentication_nonce must have ${MOCK_AUTH_NONCE_LEN} bytes, got ${data.mockAuthenticationNonce.length}`,
    );
  }
  bytes.set(data.mockAuthenticationNonce, 256);
  u32(CRC_OFFSET, crc32c(bytes, 0, CRC_OFFSET));
  return bytes;
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

/** Options of pgsimControlFile. */
export interface PgsimControlFileOptions {
  /** initdb -k: data checksums on. */
  readonly dataChecksums: boolean;
  /** Blocks per segment file (the pool's segmentBlocks). Default 131072. */
  readonly relsegSize?: number;
  /** max_connections: the pool's maxBackends. Default 100. */
  readonly maxConnections?: number;
  /** The time to record, in milliseconds since 1970. Default now. */
  readonly nowMs?: number;
}

/**
 * The control file a disk-backed pgsim pool writes: the fields a reader needs to understand the
 * relation files (block size, segment size, data_checksum_version), and for everything else the
 * values of a freshly initialised PostgreSQL 15 cluster.
 *
 * Differs from PostgreSQL: pgsim has no WAL, so the checkpoint fields are those BootStrapXLOG
 * leaves (TimeLineID 1, NextXID 0:3, NextOID 10000, NextMultiXactId 1, oldestXID 3 in DB 1), with
 * LSN 0/0 for the checkpoint and redo locations, wal_level minimal and full_page_writes off; state
 * is "in production" and is never set to "shut down"; the file is written once, when the pool is
 * created, not at every checkpoint. A later WAL issue fills these fields for real.
 */
export function pgsimControlFile(options: PgsimControlFileOptions): ControlFileData {
  const nowMs = options.nowMs ?? Date.now();
  const seconds = BigInt(Math.floor(nowMs / 1000));
  return {
    systemIdentifier: generateSystemIdentifier(nowMs),
    pgControlVersion: PG_CONTROL_VERSION,
    catalogVersionNo: CATALOG_VERSION_NO,
    state: DBState.IN_PRODUCTION,
    time: seconds,
    checkPoint: 0n,
    checkPointCopy: {
      redo: 0n,
      thisTimeLineID: 1,
      prevTimeLineID: 1,
      fullPageWrites: false,
      nextXid: 3n,
      nextOid: 10000,
      nextMulti: 1,
      nextMultiOffset: 0,
      oldestXid: 3,
      oldestXidDB: 1,
      oldestMulti: 1,
      oldestMultiDB: 1,
      time: seconds,
      oldestCommitTsXid: 0,
      newestCommitTsXid: 0,
      oldestActiveXid: 0,
    },
    unloggedLSN: 1000n,
    minRecoveryPoint: 0n,
    minRecoveryPointTLI: 0,
    backupStartPoint: 0n,
    backupEndPoint: 0n,
    backupEndRequired: false,
    walLevel: 0,
    walLogHints: false,
    maxConnections: options.maxConnections ?? 100,
    maxWorkerProcesses: 8,
    maxWalSenders: 0,
    maxPreparedXacts: 0,
    maxLocksPerXact: 64,
    trackCommitTimestamp: false,
    maxAlign: 8,
    floatFormat: FLOATFORMAT_VALUE,
    blcksz: 8192,
    relsegSize: options.relsegSize ?? 131072,
    xlogBlcksz: 8192,
    xlogSegSize: 16 * 1024 * 1024,
    nameDataLen: 64,
    indexMaxKeys: 32,
    toastMaxChunkSize: 1996,
    loblksize: 2048,
    float8ByVal: true,
    dataChecksumVersion: options.dataChecksums ? PG_DATA_CHECKSUM_VERSION : 0,
    mockAuthenticationNonce: new Uint8Array(randomBytes(MOCK_AUTH_NONCE_LEN)),
  };
}

/**
 * Writes `global/pg_control` under `dataDir` (creating `global/`) and fsyncs it, as
 * update_controlfile does. Returns the bytes written.
 */
export function writeControlFile(dataDir: string, data: ControlFileData): Uint8Array {
  const bytes = encodeControlFile(data);
  const file = path.join(dataDir, XLOG_CONTROL_FILE);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, "w", 0o600);
    try {
      ioWrite("control-write", file, fd, bytes, 0, bytes.length, 0);
      ioFsync("control-write", file, fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    throw new PgsimError(
      "io-error",
      `could not write file "${XLOG_CONTROL_FILE}": ${(error as Error).message}`,
      { path: file },
    );
  }
  return bytes;
}

/**
 * Reads and checks a control file (get_controlfile with crc_ok_p, then ReadControlFile's CRC
 * check): `file` is the path of a pg_control file. Throws `control-file-invalid` for a file that
 * cannot be read, is too short, has another PG_CONTROL_VERSION, or whose CRC does not match
 * ("incorrect checksum in control file").
 */
export function readControlFile(file: string): ControlFileData {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw controlFileError(
      `could not open file "${file}" for reading: ${code === "ENOENT" ? "No such file or directory" : (error as Error).message}`,
      { path: file },
    );
  }
  const decoded = decodeControlFile(bytes);
  if (!decoded.crcMatches) {
    throw controlFileError(`${file}: incorrect checksum in control file`, {
      path: file,
      stored: decoded.crc,
      computed: decoded.computedCrc,
    });
  }
  return decoded.data;
}
