/**
 * The redo routines of every resource manager pgsim writes, by resource manager id: what crash
 * recovery calls for each record it replays.
 *
 * Models: src/backend/access/transam/rmgr.c (RmgrTable), xlog.c (xlog_redo), xact.c
 * (xact_redo_commit / xact_redo_abort for transactions without subtransactions), clog.c
 * (clog_redo), catalog/storage.c (smgr_redo), and pgsim's catalog resource manager.
 * Entry points: `RedoContext`, `redoRecord`, `advanceNextXidPast`.
 * See also: startup.ts (the replay loop), ../catalog/storage.ts, ../catalog/catalog-xlog.ts,
 * ../access/transam/clog.ts, docs/reference/postgres-wal.md §6, §10.
 *
 * Differs from PostgreSQL: standby records are not expected (pgsim writes none) and are skipped;
 * a record of a resource manager pgsim does not model is an error.
 */

import { type BufferPool, ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { heap2Redo, heapRedo } from "../access/heap/heapam-redo.js";
import { VisibilityMap } from "../access/heap/visibilitymap.js";
import { btreeVacuumRedo } from "../access/nbtree/nbtxlog-vacuum.js";
import {
  CLOG_ZEROPAGE,
  clogRedoSetStatus,
  clogRedoZeroPage,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
} from "../access/transam/clog.js";
import {
  decodeCheckPoint,
  XLOG_CHECKPOINT_ONLINE,
  XLOG_CHECKPOINT_SHUTDOWN,
  XLOG_FPI,
  XLOG_FPI_FOR_HINT,
} from "../access/transam/pg-control.js";
import {
  RM_BTREE_ID,
  RM_CLOG_ID,
  RM_HEAP_ID,
  RM_HEAP2_ID,
  RM_SMGR_ID,
  RM_STANDBY_ID,
  RM_XACT_ID,
  RM_XLOG_ID,
  rmgrName,
} from "../access/transam/rmgr.js";
import type { Transam } from "../access/transam/transam.js";
import { advanceNextXid } from "../access/transam/varsup.js";
import {
  parseXactCompletion,
  XLOG_XACT_ABORT,
  XLOG_XACT_COMMIT,
  XLOG_XACT_OPMASK,
} from "../access/transam/xact-xlog.js";
import { formatLsn } from "../access/transam/xlogdefs.js";
import type { DecodedXLogRecord } from "../access/transam/xlogreader.js";
import {
  type RedoContext as HeapRedoContext,
  makeRedoContext,
  xlogReadBufferForRedo,
} from "../access/transam/xlogutils.js";
import type { Catalog } from "../catalog/catalog.js";
import { tableLocator } from "../catalog/catalog.js";
import { RM_PGSIM_CATALOG_ID, XLOG_PGSIM_CATALOG_IMAGE } from "../catalog/catalog-xlog.js";
import { xidIsNormal } from "../include/access/transam.js";
import {
  decodeSmgrCreate,
  decodeSmgrTruncate,
  SMGR_TRUNCATE_FSM,
  SMGR_TRUNCATE_HEAP,
  SMGR_TRUNCATE_VM,
  XLOG_SMGR_CREATE,
  XLOG_SMGR_TRUNCATE,
} from "../include/catalog/storage-xlog.js";

/**
 * What redo routines work on: the startup process's handles — the heap's redo context (pool,
 * FSM, invalid-page table, whether hints are logged) plus the transaction system, the catalog
 * and the visibility map.
 */
export interface RedoContext extends HeapRedoContext {
  readonly transam: Transam;
  readonly catalog: Catalog;
  readonly vm: VisibilityMap;
}

/** A redo routine of one resource manager. */
export type RedoRoutine = (ctx: RedoContext, record: DecodedXLogRecord) => void;

/** Builds the context the redo routines share. */
export function redoContext(
  pool: BufferPool,
  transam: Transam,
  catalog: Catalog,
  logHintBits: boolean,
): RedoContext {
  return {
    ...makeRedoContext(pool, { logHintBits }),
    transam,
    catalog,
    vm: new VisibilityMap(pool),
  };
}

/**
 * AdvanceNextFullTransactionIdPastXid: every xid met in the WAL was assigned, so nextXid moves
 * past it (its status stays as the commit log and the WAL say).
 */
export function advanceNextXidPast(ctx: RedoContext, xid: number): void {
  if (xidIsNormal(xid)) advanceNextXid(ctx.transam.shmem, xid + 1);
}

function xlogRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const op = record.header.info & 0xf0;
  if (op === XLOG_CHECKPOINT_SHUTDOWN || op === XLOG_CHECKPOINT_ONLINE) {
    const cp = decodeCheckPoint(record.mainData);
    advanceNextXid(ctx.transam.shmem, Number(cp.nextXid & 0xffffffffn));
  }
  if (op === XLOG_FPI || op === XLOG_FPI_FOR_HINT) {
    // Every block carries an image to restore (XLogReadBufferForRedo restores it).
    for (const block of record.blocks) {
      const r = xlogReadBufferForRedo(ctx, record, block.id);
      if (r.action !== "restored") {
        if (r.buffer !== undefined) ctx.pool.unlockReleaseBuffer(r.buffer);
        throw new PgsimError(
          "wal-redo-error",
          "unexpected XLogReadBufferForRedo result when restoring backup block",
          { lsn: record.lsn, block: block.id },
        );
      }
      ctx.pool.unlockReleaseBuffer(r.buffer);
    }
  }
  // NOOP, SWITCH and NEXTOID (pgsim writes none) need nothing.
}

function xactRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const op = record.header.info & XLOG_XACT_OPMASK;
  const xid = record.header.xid;
  if (op !== XLOG_XACT_COMMIT && op !== XLOG_XACT_ABORT) {
    throw new PgsimError(
      "wal-unsupported-record",
      `transaction record ${op.toString(16)} at ${formatLsn(record.lsn)} is not supported by pgsim`,
    );
  }
  const parsed = parseXactCompletion(record.header.info, record.mainData);
  clogRedoSetStatus(
    ctx.transam.shmem,
    xid,
    op === XLOG_XACT_COMMIT ? TRANSACTION_STATUS_COMMITTED : TRANSACTION_STATUS_ABORTED,
  );
  // DropRelationFiles for the relations the transaction dropped (pgsim's DDL logs none yet).
  for (const rel of parsed.rels ?? []) dropRelationStorage(ctx, rel);
}

function clogRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  if ((record.header.info & 0xf0) === CLOG_ZEROPAGE) {
    const pageno = new DataView(record.mainData.buffer, record.mainData.byteOffset, 4).getInt32(
      0,
      true,
    );
    clogRedoZeroPage(ctx.transam.shmem, pageno);
  }
  // CLOG_TRUNCATE: pgsim never truncates its commit log.
}

function smgrRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const op = record.header.info & 0xf0;
  if (op === XLOG_SMGR_CREATE) {
    const { rel, fork } = decodeSmgrCreate(record.mainData);
    if (!ctx.pool.relationExists(rel, fork)) ctx.pool.createRelation(rel, fork);
    return;
  }
  if (op === XLOG_SMGR_TRUNCATE) {
    const { rel, nblocks, flags } = decodeSmgrTruncate(record.mainData);
    // The main fork may be gone already if the table was dropped later; smgr_redo creates it.
    if (!ctx.pool.relationExists(rel, ForkNumber.MAIN))
      ctx.pool.createRelation(rel, ForkNumber.MAIN);
    if ((flags & SMGR_TRUNCATE_HEAP) !== 0) {
      ctx.invalidPages.forget(rel, ForkNumber.MAIN, nblocks);
      const current = ctx.pool.nblocks(rel, ForkNumber.MAIN);
      if (nblocks < current) ctx.pool.truncateRelation(rel, ForkNumber.MAIN, nblocks);
    }
    if ((flags & SMGR_TRUNCATE_FSM) !== 0 && ctx.pool.relationExists(rel, ForkNumber.FSM)) {
      ctx.fsm.truncate(rel, nblocks);
    }
    if (
      (flags & SMGR_TRUNCATE_VM) !== 0 &&
      ctx.pool.relationExists(rel, ForkNumber.VISIBILITYMAP)
    ) {
      ctx.vm.truncate(rel, nblocks);
    }
    return;
  }
  throw new PgsimError("wal-unsupported-record", `unknown storage record ${op.toString(16)}`);
}

function dropRelationStorage(ctx: RedoContext, rel: RelFileLocator): void {
  for (let fork = 0; fork <= 3; fork++) ctx.invalidPages.forget(rel, fork, 0);
  if (ctx.pool.relationExists(rel, ForkNumber.MAIN)) ctx.pool.dropRelation(rel);
}

/**
 * The catalog's redo: the image replaces the catalog; the storage of a table the image no longer
 * has (DROP TABLE, or the old relfilenode of a TRUNCATE) is removed, as DropRelationFiles does
 * at the commit of a DROP.
 */
function catalogRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  if ((record.header.info & 0xf0) !== XLOG_PGSIM_CATALOG_IMAGE) {
    throw new PgsimError("wal-unsupported-record", "unknown pgsim catalog record");
  }
  const before = ctx.catalog.restore(record.mainData);
  const now = new Set(ctx.catalog.list().map((t) => t.relNumber));
  for (const t of before) {
    if (!now.has(t.relNumber)) dropRelationStorage(ctx, tableLocator(t));
  }
}

const REDO: Map<number, RedoRoutine> = new Map([
  [RM_XLOG_ID, xlogRedo],
  [RM_XACT_ID, xactRedo],
  [RM_SMGR_ID, smgrRedo],
  [RM_CLOG_ID, clogRedo],
  [RM_STANDBY_ID, () => {}],
  [RM_PGSIM_CATALOG_ID, catalogRedo],
  [RM_HEAP_ID, heapRedo],
  [RM_HEAP2_ID, heap2Redo],
  // For the lead to merge: VACUUM's B-tree records only (nbtxlog-vacuum.ts); the full btree_redo
  // of nbtxlog.ts should take this slot and call those routines for their info codes.
  [RM_BTREE_ID, btreeVacuumRedo],
]);

/** Registers the redo routine of a resource manager (for an experimenter's own records). */
export function registerRedo(rmid: number, redo: RedoRoutine): void {
  REDO.set(rmid, redo);
}

/** ApplyWalRecord: nextXid past the record's xid, then its resource manager's redo. */
export function redoRecord(ctx: RedoContext, record: DecodedXLogRecord): void {
  advanceNextXidPast(ctx, record.header.xid);
  const redo = REDO.get(record.header.rmid);
  if (redo === undefined) {
    throw new PgsimError(
      "wal-unsupported-record",
      `no redo routine for resource manager ${rmgrName(record.header.rmid) ?? record.header.rmid} (record at ${formatLsn(record.lsn)})`,
    );
  }
  redo(ctx, record);
}
