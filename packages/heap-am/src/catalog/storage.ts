/**
 * Creating and truncating a relation's storage, WAL-logged: the storage resource manager's
 * records (XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE) in PostgreSQL 15's format.
 *
 * Models: src/backend/catalog/storage.c (RelationCreateStorage, log_smgrcreate, the logging half
 * of RelationTruncate).
 * Entry points: `relationCreateStorage`, `logSmgrCreate`, `logSmgrTruncate`.
 * See also: ../include/catalog/storage-xlog.ts (the records), ../database/rmgr-table.ts
 * (smgr_redo), ../access/heap/vacuumlazy.ts (VACUUM's truncation logs here before it truncates),
 * docs/reference/postgres-wal.md §6.3.
 *
 * Differs from PostgreSQL: no pendingDeletes list — pgsim's DDL is not transactional, so a new
 * relation's files are never removed at abort; unlogged tables get no init fork (crash recovery
 * empties them directly, see database/startup.ts).
 */

import { type BufferPool, ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { RM_SMGR_ID } from "../access/transam/rmgr.js";
import type { XLogWriter } from "../access/transam/xlog.js";
import type { XLogRecPtr } from "../access/transam/xlogdefs.js";
import type { XLogInsertState } from "../access/transam/xloginsert.js";
import {
  encodeSmgrCreate,
  encodeSmgrTruncate,
  SMGR_TRUNCATE_ALL,
  XLOG_SMGR_CREATE,
  XLOG_SMGR_TRUNCATE,
} from "../include/catalog/storage-xlog.js";

/** XLR_SPECIAL_REL_UPDATE: the record changes files in ways redo must know (xlogrecord.h). */
const XLR_SPECIAL_REL_UPDATE = 0x01;

/** The WAL handles a storage change is logged with (TableAmContext.xlog). */
export interface StorageXLog {
  readonly wal: XLogWriter;
  readonly ins: XLogInsertState;
}

/**
 * log_smgrcreate: an XLOG_SMGR_CREATE record for one fork (not flushed: the commit of the
 * creating transaction flushes it in PostgreSQL; pgsim's DDL flushes its catalog record, which
 * precedes it).
 */
export function logSmgrCreate(
  xlog: StorageXLog,
  rel: RelFileLocator,
  fork: ForkNumber,
): XLogRecPtr {
  xlog.ins.beginInsert();
  xlog.ins.registerData(encodeSmgrCreate(rel, fork));
  return xlog.ins.insert(xlog.wal, RM_SMGR_ID, XLOG_SMGR_CREATE | XLR_SPECIAL_REL_UPDATE).endLsn;
}

/**
 * RelationCreateStorage: creates the main fork of a new relation and, for a permanent relation
 * of a database with WAL, logs its creation.
 */
export function relationCreateStorage(
  pool: BufferPool,
  rel: RelFileLocator,
  xlog: StorageXLog | undefined,
): void {
  pool.createRelation(rel, ForkNumber.MAIN);
  if (xlog !== undefined) logSmgrCreate(xlog, rel, ForkNumber.MAIN);
}

/**
 * RelationTruncate's logging: an XLOG_SMGR_TRUNCATE record, flushed at once, before any file is
 * truncated (if the truncation reached the disk and the record did not, redo could find tuples
 * pointing into pages that no longer exist). The caller truncates the forks afterwards.
 */
export function logSmgrTruncate(
  xlog: StorageXLog,
  rel: RelFileLocator,
  nblocks: number,
  flags = SMGR_TRUNCATE_ALL,
): XLogRecPtr {
  xlog.ins.beginInsert();
  xlog.ins.registerData(encodeSmgrTruncate(rel, nblocks, flags));
  const end = xlog.ins.insert(
    xlog.wal,
    RM_SMGR_ID,
    XLOG_SMGR_TRUNCATE | XLR_SPECIAL_REL_UPDATE,
  ).endLsn;
  xlog.wal.flush(end);
  return end;
}
