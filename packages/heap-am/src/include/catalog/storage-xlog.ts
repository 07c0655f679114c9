/**
 * The storage resource manager's records: what XLOG_SMGR_CREATE and XLOG_SMGR_TRUNCATE carry.
 *
 * Models: src/include/catalog/storage_xlog.h (xl_smgr_create, xl_smgr_truncate, SMGR_TRUNCATE_*).
 * Entry points: `XLOG_SMGR_CREATE`, `XLOG_SMGR_TRUNCATE`, `SMGR_TRUNCATE_*`, `SizeOfSmgrCreate`,
 * `SizeOfSmgrTruncate`, `encodeSmgrCreate`, `encodeSmgrTruncate`, `decodeSmgrCreate`,
 * `decodeSmgrTruncate`.
 * See also: ../../catalog/storage.ts (who writes them), ../../database/rmgr-table.ts (smgr_redo),
 * ../../access/transam/xlog-desc.ts (smgr_desc), docs/reference/postgres-wal.md §6.3.
 */

import type { ForkNumber, RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { readInt32, readUint32, writeUint32 } from "../port/le-bytes.js";

/** xl_info of a storage record (XLR_SPECIAL_REL_UPDATE is or-ed in when it is written). */
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

/** xl_smgr_create: the relation and the fork. */
export function encodeSmgrCreate(rel: RelFileLocator, fork: ForkNumber): Uint8Array {
  const b = new Uint8Array(SizeOfSmgrCreate);
  writeRelFileNode(b, 0, rel);
  writeUint32(b, 12, fork);
  return b;
}

/** xl_smgr_truncate: the new size in blocks, the relation, the forks. */
export function encodeSmgrTruncate(
  rel: RelFileLocator,
  nblocks: number,
  flags: number,
): Uint8Array {
  const b = new Uint8Array(SizeOfSmgrTruncate);
  writeUint32(b, 0, nblocks);
  writeRelFileNode(b, 4, rel);
  writeUint32(b, 16, flags);
  return b;
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
