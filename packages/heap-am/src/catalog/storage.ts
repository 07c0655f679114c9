/**
 * Creating and truncating a relation's storage, WAL-logged: the storage resource manager's
 * records (XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE) in PostgreSQL 15's format.
 *
 * Models: src/backend/catalog/storage.c (RelationCreateStorage, log_smgrcreate, the logging half
 * of RelationTruncate), src/include/catalog/storage_xlog.h (xl_smgr_create, xl_smgr_truncate,
 * SMGR_TRUNCATE_*), src/backend/access/rmgrdesc/smgrdesc.c (what pg_waldump prints).
 * Entry points: `relationCreateStorage`, `logSmgrTruncate`, `decodeSmgrCreate`,
 * `decodeSmgrTruncate`, `smgrDesc`, `XLOG_SMGR_CREATE`, `XLOG_SMGR_TRUNCATE`, `SMGR_TRUNCATE_*`.
 * See also: ../database/rmgr-table.ts (smgr_redo), ../access/heap/vacuumlazy.ts (VACUUM's
 * truncation logs here before it truncates), docs/reference/postgres-wal.md §6.3.
 *
 * Differs from PostgreSQL: no pendingDeletes list — pgsim's DDL is not transactional, so a new
 * relation's files are never removed at abort; unlogged tables get no init fork (crash recovery
 * empties them directly, see database/startup.ts).
 */

import type { BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { RM_SMGR_ID } from "../access/transam/rmgr.js";
import type { XLogWriter } from "../access/transam/xlog.js";
import type { XLogRecPtr } from "../access/transam/xlogdefs.js";
import type { XLogInsertState } from "../access/transam/xloginsert.js";
import { readInt32, readUint32, writeUint32 } from "../include/port/le-bytes.js";

/** XLR_SPECIAL_REL_UPDATE: the record changes files in ways redo must know (xlogrecord.h). */
const XLR_SPECIAL_REL_UPDATE = 0x01;

/** xl_info of a storage record: XLOG_SMGR_CREATE | XLR_SPECIAL_REL_UPDATE as written. */
export const XLOG_SMGR_CREATE = 0x10;
export const XLOG_SMGR_TRUNCATE = 0x20;

/** xl_smgr_truncate.flags: which forks to truncate. */
export const SMGR_TRUNCATE_HEAP = 0x0001;
export const SMGR_TRUNCATE_VM = 0x0002;
export const SMGR_TRUNCATE_FSM = 0x0004;
export const SMGR_TRUNCATE_ALL = SMGR_TRUNCATE_HEAP | SMGR_TRUNCATE_VM | SMGR_TRUNCATE_FSM;

/** sizeof(xl_smgr_create), sizeof(xl_smgr_truncate). */
export const SizeOfSmgrCreate = 16;
export const SizeOfSmgrTruncate = 20;

/** The WAL handles a storage change is logged with (TableAmContext.xlog). */
export interface StorageXLog {
  readonly wal: XLogWriter;
  readonly ins: XLogInsertState;
}

function writeRelFileNode(b: Uint8Array, off: number, rel: RelFileLocator): void {
  writeUint32(b, off, rel.spcOid);
  writeUint32(b, off + 4, rel.dbOid);
  writeUint32(b, off + 8, rel.relNumber);
}

function readRelFileNode(b: Uint8Array, off: number): RelFileLocator {
  return {
    spcOid: readUint32(b, off),
    dbOid: readUint32(b, off + 4),
    relNumber: readUint32(b, off + 8),
  };
}

/**
 * log_smgrcreate: an XLOG_SMGR_CREATE record for one fork (not flushed: the commit of the
 * creating transaction flushes it in PostgreSQL; pgsim's DDL flushes its catalog record, which
 * follows).
 */
export function logSmgrCreate(
  xlog: StorageXLog,
  rel: RelFileLocator,
  fork: ForkNumber,
): XLogRecPtr {
  const b = new Uint8Array(SizeOfSmgrCreate);
  writeRelFileNode(b, 0, rel);
  writeUint32(b, 12, fork);
  xlog.ins.beginInsert();
  xlog.ins.registerData(b);
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
  const b = new Uint8Array(SizeOfSmgrTruncate);
  writeUint32(b, 0, nblocks);
  writeRelFileNode(b, 4, rel);
  writeUint32(b, 16, flags);
  xlog.ins.beginInsert();
  xlog.ins.registerData(b);
  const end = xlog.ins.insert(
    xlog.wal,
    RM_SMGR_ID,
    XLOG_SMGR_TRUNCATE | XLR_SPECIAL_REL_UPDATE,
  ).endLsn;
  xlog.wal.flush(end);
  return end;
}

function checkLength(data: Uint8Array, want: number, what: string): void {
  if (data.length < want) {
    throw new PgsimError("invalid-wal-record", `${what} record too short: ${data.length} bytes`);
  }
}

/** xl_smgr_create from a record's main data. */
export function decodeSmgrCreate(data: Uint8Array): { rel: RelFileLocator; fork: ForkNumber } {
  checkLength(data, SizeOfSmgrCreate, "SMGR CREATE");
  return { rel: readRelFileNode(data, 0), fork: readInt32(data, 12) as ForkNumber };
}

/** xl_smgr_truncate from a record's main data. */
export function decodeSmgrTruncate(data: Uint8Array): {
  nblocks: number;
  rel: RelFileLocator;
  flags: number;
} {
  checkLength(data, SizeOfSmgrTruncate, "SMGR TRUNCATE");
  return {
    nblocks: readUint32(data, 0),
    rel: readRelFileNode(data, 4),
    flags: readInt32(data, 16),
  };
}

const FORK_NAMES = ["main", "fsm", "vm", "init"];

function relPath(rel: RelFileLocator, fork: number): string {
  const base = `base/${rel.dbOid}/${rel.relNumber}`;
  return fork === ForkNumber.MAIN ? base : `${base}_${FORK_NAMES[fork] ?? fork}`;
}

/** smgr_desc: the text pg_waldump prints after "desc: " for a storage record. */
export function smgrDesc(info: number, data: Uint8Array): string {
  const op = info & 0xf0;
  if (op === XLOG_SMGR_CREATE) {
    const { rel, fork } = decodeSmgrCreate(data);
    return `CREATE ${relPath(rel, fork)}`;
  }
  if (op === XLOG_SMGR_TRUNCATE) {
    const { rel, nblocks, flags } = decodeSmgrTruncate(data);
    return `TRUNCATE ${relPath(rel, ForkNumber.MAIN)} to ${nblocks} blocks flags ${flags}`;
  }
  return "UNKNOWN";
}
