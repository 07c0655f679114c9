/**
 * pgsim's catalog in the WAL: a custom resource manager whose one record carries the whole
 * catalog after a change (CREATE TABLE, DROP TABLE, TRUNCATE, VACUUM's pg_class statistics,
 * relcache invalidation counts).
 *
 * Models: PostgreSQL 15's custom WAL resource managers (access/xlog_internal.h RmgrData,
 * RegisterCustomRmgr; ids 128–255, which pg_waldump prints as "custom128") standing in for the
 * heap records PostgreSQL writes on pg_class and pg_attribute, and for XLOG_HEAP_INPLACE
 * (vac_update_relstats).
 * Entry points: `RM_PGSIM_CATALOG_ID`, `XLOG_PGSIM_CATALOG_IMAGE`, `logCatalogImage` (pg_waldump,
 * knowing no custom resource manager, prints `desc: UNKNOWN (0) rmid: 128`, and so does
 * xlog-desc.ts).
 * See also: catalog.ts (setWalHook, image, restore), ../database/rmgr-table.ts (its redo).
 *
 * Differs from PostgreSQL: the catalog is not a set of heap tables, so its changes are logged as
 * whole images by a custom resource manager (id 128, RM_EXPERIMENTAL_ID, the id PostgreSQL sets
 * aside for extensions in development) rather than as heap records on catalog relations; each
 * record is flushed at once (PostgreSQL flushes at the commit of the DDL transaction), because
 * pgsim's DDL is not transactional.
 */

import type { XLogWriter } from "../access/transam/xlog.js";
import type { XLogRecPtr } from "../access/transam/xlogdefs.js";
import type { XLogInsertState } from "../access/transam/xloginsert.js";

/** The custom resource manager id of pgsim's catalog (RM_EXPERIMENTAL_ID). */
export const RM_PGSIM_CATALOG_ID = 128;
/** The record: main data is the catalog image (UTF-8 JSON, see Catalog.image). */
export const XLOG_PGSIM_CATALOG_IMAGE = 0x00;

/** Logs a catalog image and flushes it; returns the record's end. */
export function logCatalogImage(
  xlog: { readonly wal: XLogWriter; readonly ins: XLogInsertState },
  image: Uint8Array,
): XLogRecPtr {
  xlog.ins.beginInsert();
  xlog.ins.registerData(image);
  const end = xlog.ins.insert(xlog.wal, RM_PGSIM_CATALOG_ID, XLOG_PGSIM_CATALOG_IMAGE).endLsn;
  xlog.wal.flush(end);
  return end;
}
