/**
 * Resource manager ids: which subsystem a WAL record belongs to (and whose redo routine replays
 * it), with the names pg_waldump prints.
 *
 * Models: src/include/access/rmgrlist.h (the builtin ids, in order), src/include/access/rmgr.h
 * (RM_MAX_BUILTIN_ID, RM_MIN_CUSTOM_ID, RM_MAX_CUSTOM_ID, RmgrIdIsValid, RmgrIdIsCustom) and
 * src/bin/pg_waldump/rmgrdesc.c (the generated name "custom%03d" of a custom id).
 * Entry points: `RM_*_ID`, `rmgrIdIsValid`, `rmgrName`.
 * See also: xlogrecord.ts (xl_rmid), xlog-desc.ts, docs/reference/postgres-wal.md §2.4.
 */

export const RM_XLOG_ID = 0;
export const RM_XACT_ID = 1;
export const RM_SMGR_ID = 2;
export const RM_CLOG_ID = 3;
export const RM_DBASE_ID = 4;
export const RM_TBLSPC_ID = 5;
export const RM_MULTIXACT_ID = 6;
export const RM_RELMAP_ID = 7;
export const RM_STANDBY_ID = 8;
export const RM_HEAP2_ID = 9;
export const RM_HEAP_ID = 10;
export const RM_BTREE_ID = 11;
export const RM_HASH_ID = 12;
export const RM_GIN_ID = 13;
export const RM_GIST_ID = 14;
export const RM_SEQ_ID = 15;
export const RM_SPGIST_ID = 16;
export const RM_BRIN_ID = 17;
export const RM_COMMIT_TS_ID = 18;
export const RM_REPLORIGIN_ID = 19;
export const RM_GENERIC_ID = 20;
export const RM_LOGICALMSG_ID = 21;

/** The highest builtin id. */
export const RM_MAX_BUILTIN_ID = 21;
/** Custom resource managers (extensions) use 128..255; 128 is reserved for experiments. */
export const RM_MIN_CUSTOM_ID = 128;
export const RM_MAX_CUSTOM_ID = 255;
export const RM_EXPERIMENTAL_ID = 128;

/** The names pg_waldump prints, by builtin id. */
const BUILTIN_NAMES: readonly string[] = [
  "XLOG",
  "Transaction",
  "Storage",
  "CLOG",
  "Database",
  "Tablespace",
  "MultiXact",
  "RelMap",
  "Standby",
  "Heap2",
  "Heap",
  "Btree",
  "Hash",
  "Gin",
  "Gist",
  "Sequence",
  "SPGist",
  "BRIN",
  "CommitTs",
  "ReplicationOrigin",
  "Generic",
  "LogicalMessage",
];

/** RmgrIdIsValid: a builtin id or one in the custom range. */
export function rmgrIdIsValid(rmid: number): boolean {
  return (
    Number.isInteger(rmid) &&
    ((rmid >= 0 && rmid <= RM_MAX_BUILTIN_ID) ||
      (rmid >= RM_MIN_CUSTOM_ID && rmid <= RM_MAX_CUSTOM_ID))
  );
}

/** RmgrIdIsCustom. */
export function rmgrIdIsCustom(rmid: number): boolean {
  return rmid >= RM_MIN_CUSTOM_ID && rmid <= RM_MAX_CUSTOM_ID;
}

/**
 * The name pg_waldump prints for a resource manager: the builtin name, or `custom%03d` for a
 * custom id (pg_waldump knows no custom rmgr's name). Undefined for an invalid id.
 */
export function rmgrName(rmid: number): string | undefined {
  if (rmid >= 0 && rmid <= RM_MAX_BUILTIN_ID) return BUILTIN_NAMES[rmid];
  if (rmgrIdIsCustom(rmid)) return `custom${String(rmid).padStart(3, "0")}`;
  return undefined;
}
