/**
 * @pgsim/buffer-manager — PostgreSQL 15's shared buffer pool in SharedArrayBuffer memory:
 * the buffer table, the descriptor array with its packed atomic state word, and the page pool,
 * disk-backed (a storage manager writes relation files) or memory-only (the pool is the storage).
 *
 * @example
 * ```ts
 * import { createBufferPool, ForkNumber } from "@pgsim/buffer-manager";
 * const pool = createBufferPool({ variant: "memory", bufferCount: 128 });
 * const rel = { spcOid: 1663, dbOid: 5, relNumber: 16384 };
 * pool.createRelation(rel, ForkNumber.MAIN);
 * const buf = pool.extend(rel, ForkNumber.MAIN);
 * pool.lockBuffer(buf, "exclusive");
 * pool.bufferGetPage(buf)[100] = 42;
 * pool.markBufferDirty(buf);
 * pool.unlockReleaseBuffer(buf);
 * ```
 *
 * Models: pgsim only (the package's public entry point).
 */

export {
  AssertionError,
  BLCKSZ,
  type BufferAccessStrategy,
  type BufferAccessStrategyType,
  getAccessStrategy,
  PgsimError,
} from "@pgsim/clock-sweep";
export {
  attachBufferPool,
  attachedBackends,
  backendsOfThread,
  bufferShmemSize,
  createBufferPool,
  DEFAULT_MAX_BACKENDS,
  DEFAULT_MAX_RELATION_FORKS,
  initBufferPool,
  MAX_BUFFER_COUNT,
} from "./buf-init.js";
export type { BufferPoolLayout, BufferPoolVariant } from "./buf-internals.js";
export { type BackendRecoveryReport, recoverBackend } from "./buf-recovery.js";
export {
  type BufferTag,
  bufTableHashCode,
  bufTableHashPartition,
  DEFAULTTABLESPACE_OID,
  ForkNumber,
  GLOBALTABLESPACE_OID,
  InvalidBlockNumber,
  MaxBlockNumber,
  NUM_BUFFER_PARTITIONS,
  type RelFileLocator,
} from "./buf-tag.js";
export {
  type BufferUsage,
  bufferUsageDiff,
  formatBufferUsage,
  type RelationBlockCounts,
  ZERO_BUFFER_USAGE,
} from "./buf-usage.js";
export { InvalidBuffer, SharedBufferPool } from "./bufmgr.js";
export {
  crashShutdownError,
  createFaultShmem,
  type Fault,
  type FaultRule,
  type FaultRuleState,
  FaultTable,
  faultTableOf,
  INJECTION_POINTS,
  type InjectionPointName,
  ioFsync,
  ioRead,
  ioTruncate,
  ioWrite,
  PanicError,
  panicError,
  registerFaultShmem,
} from "./injection-point.js";
export { errnoCode, errnoText, RELSEG_SIZE, relationPath, segmentPath } from "./md.js";
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
  type PgsimControlFileOptions,
  pgsimControlFile,
  readCheckPoint,
  readControlFile,
  SIZEOF_CONTROL_FILE_DATA,
  SizeOfCheckPoint,
  WAL_LEVEL_NAMES,
  WalLevel,
  writeCheckPoint,
  writeControlFile,
  XLOG_CONTROL_FILE,
} from "./pg-control.js";
export {
  crc32c,
  crc32cFinish,
  crc32cUpdate,
  crc32cUpdateWords,
  INIT_CRC32C,
} from "./pg-crc32c.js";
export type {
  AccessTraceHook,
  BufferCacheRow,
  BufferCacheSummary,
  BufferId,
  BufferLockMode,
  BufferPool,
  BufferPoolOptions,
  BufferPoolShared,
  BufferPoolStats,
  CheckpointResult,
  DetachReport,
  ErrorCleanupReport,
  PageHooks,
  ReadBufferMode,
  ReadBufferOptions,
  ResourceMark,
} from "./types.js";
