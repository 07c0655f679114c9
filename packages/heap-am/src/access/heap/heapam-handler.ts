/**
 * The heap as table access methods: `heap` over the disk-backed buffer pool and `memheap` over the
 * memory-only pool — the same heap code over two buffer managers.
 *
 * Models: src/backend/access/heap/heapam_handler.c (heapam_methods and its callbacks:
 * heapam_slot_callbacks, heap_beginscan, heap_getnextslot, heapam_index_fetch_tuple,
 * heapam_fetch_row_version, heapam_tuple_tid_valid, heap_get_latest_tid,
 * heapam_tuple_satisfies_snapshot, heapam_tuple_insert, heap_multi_insert, heapam_tuple_delete,
 * heapam_tuple_update, heapam_tuple_lock, heapam_relation_set_new_filenode,
 * heapam_relation_nontransactional_truncate, heap_vacuum_rel, heapam_index_build_range_scan,
 * table_block_relation_size,
 * table_block_relation_estimate_size).
 * Entry points: `heapTableAm`, `memheapTableAm`, `registerBuiltinTableAms`.
 * See also: tableam.ts (the interface), heapam.ts, vacuumlazy.ts.
 */

import { type BufferId, ForkNumber } from "@pgsim/buffer-manager";
import { AssertionError, PgsimError } from "@pgsim/clock-sweep";
import type { TableDefinition } from "../../catalog/catalog.js";
import { relationCreateStorage } from "../../catalog/storage.js";
import { maxAlign, SizeofHeapTupleHeader } from "../../include/access/htup-details.js";
import { BLCKSZ } from "../../include/pg-config.js";
import { forgetForkSize } from "../../storage/buffer/fork-pages.js";
import { SizeOfItemIdData, SizeOfPageHeaderData } from "../../storage/page/bufpage.js";
import {
  type BulkInsertStateData,
  type IndexFetchState,
  registerTableAm,
  relationNeedsWal,
  type TableAccessMethod,
  type TableAmContext,
  type TableRelation,
  type TableScanDesc,
  type TupleTableSlot,
} from "../table/tableam.js";
import {
  HeapScan,
  heapDelete,
  heapFetch,
  heapFindLastVersion,
  heapGetLatestTid,
  heapHotSearch,
  heapInsert,
  heapLockTuple,
  heapMultiInsert,
  heapTidValid,
  heapUpdate,
} from "./heapam.js";
import { heapIndexBuildRangeScan } from "./heapam-index-build.js";
import { heapMultiInsertColumns } from "./heapam-multi-insert.js";
import { heapModifyScanPage } from "./heapam-page-modify.js";
import { BulkInsertState } from "./hio.js";
import { heapVacuumRel } from "./vacuumlazy.js";
import { VisibilityMap } from "./visibilitymap.js";

interface HeapScanDesc extends TableScanDesc {
  heapScan: HeapScan;
}

/** IndexFetchHeapData: the heap page the last fetch pinned (xs_cbuf), kept for the next one. */
interface HeapIndexFetchState extends IndexFetchState {
  readonly held: { buffer: BufferId | undefined };
}

/** index_fetch_reset / _end: the kept heap page's pin goes. */
function releaseHeld(state: HeapIndexFetchState): void {
  if (state.held.buffer !== undefined) {
    state.rel.ctx.pool.releaseBuffer(state.held.buffer);
    state.held.buffer = undefined;
  }
}

function usableOn(variant: "disk" | "memory", am: string) {
  return (ctx: TableAmContext, def: TableDefinition): void => {
    if (ctx.pool.variant !== variant) {
      throw new PgsimError(
        "table-am-pool-mismatch",
        `table access method "${am}" stores tables in a ${variant === "disk" ? "disk-backed" : "memory-only"} ` +
          `buffer pool, but this database's pool is ${ctx.pool.variant === "disk" ? "disk-backed" : "memory-only"} ` +
          `(table "${def.name}")`,
      );
    }
  };
}

/**
 * The heap's own bulk-insert state behind the interface's opaque one (hio.h's
 * BulkInsertStateData cast). The caller made it with `new BulkInsertState` (GetBulkInsertState).
 */
function heapBulkInsertState(
  bistate: BulkInsertStateData | undefined,
): BulkInsertState | undefined {
  if (bistate === undefined || bistate instanceof BulkInsertState) return bistate;
  throw new AssertionError("the heap was given a bulk-insert state it did not create");
}

/** Average stored width of a column, for estimates (get_typavgwidth's spirit). */
function estimatedWidth(rel: TableRelation): number {
  let width = 0;
  for (const a of rel.desc.attrs) width += a.attlen > 0 ? a.attlen : 32;
  return width;
}

function makeHeapAm(name: "heap" | "memheap"): TableAccessMethod {
  return {
    name,
    checkUsable: usableOn(name === "heap" ? "disk" : "memory", name),
    slotCallbacks: () => "virtual",

    scanBegin(rel, snapshot, xact): HeapScanDesc {
      return { rel, snapshot, xact, heapScan: new HeapScan(rel.ctx, rel, snapshot, xact) };
    },
    scanGetNextSlot(scan, _direction, slot) {
      const next = (scan as HeapScanDesc).heapScan.next();
      if (next === undefined) return false;
      slot.values = next.row;
      slot.tid = next.tid;
      return true;
    },
    scanRescan(scan) {
      const s = scan as HeapScanDesc;
      s.heapScan.end();
      s.heapScan = new HeapScan(s.rel.ctx, s.rel, s.snapshot, s.xact);
    },
    scanEnd(scan) {
      (scan as HeapScanDesc).heapScan.end();
    },

    indexFetchBegin: (rel): HeapIndexFetchState => ({ rel, held: { buffer: undefined } }),
    indexFetchReset: (state) => releaseHeld(state as HeapIndexFetchState),
    indexFetchEnd: (state) => releaseHeld(state as HeapIndexFetchState),
    indexFetchTuple(state, tid, snapshot, xact, slot, out) {
      const found = heapHotSearch(
        state.rel.ctx,
        state.rel,
        tid,
        snapshot,
        xact,
        out,
        (state as HeapIndexFetchState).held,
      );
      if (found === undefined) return false;
      slot.values = found.row;
      slot.tid = found.tid;
      return true;
    },

    tupleFetchRowVersion(rel, tid, snapshot, xact, slot) {
      const row = heapFetch(rel.ctx, rel, tid, snapshot, xact);
      if (row === undefined) return false;
      slot.values = row;
      slot.tid = tid;
      return true;
    },
    tupleFindLastVersion: (rel, tid) => heapFindLastVersion(rel.ctx, rel, tid),
    tupleTidValid: (scan, tid) => heapTidValid(scan.rel.ctx, scan.rel, tid),
    tupleGetLatestTid: (scan, tid) =>
      heapGetLatestTid(scan.rel.ctx, scan.rel, tid, scan.snapshot, scan.xact),
    tupleSatisfiesSnapshot(rel, slot, snapshot, xact) {
      if (slot.tid === undefined) return false;
      return heapFetch(rel.ctx, rel, slot.tid, snapshot, xact) !== undefined;
    },

    tupleInsert(rel, slot, xact, bistate) {
      slot.tid = heapInsert(rel.ctx, rel, slot.values, xact, heapBulkInsertState(bistate));
    },
    multiInsert(rel, slots: TupleTableSlot[], xact, bistate) {
      const tids = heapMultiInsert(
        rel.ctx,
        rel,
        slots.map((s) => s.values),
        xact,
        heapBulkInsertState(bistate),
      );
      slots.forEach((s, i) => {
        s.tid = tids[i];
      });
    },
    multiInsertColumns(rel, batch, count, xact, bistate) {
      heapMultiInsertColumns(rel.ctx, rel, batch, count, xact, heapBulkInsertState(bistate));
    },
    tupleDelete: (rel, tid, xact, wait) => heapDelete(rel.ctx, rel, tid, xact, { wait }),
    tupleUpdate(rel, otid, slot, xact, wait) {
      const out = heapUpdate(rel.ctx, rel, otid, slot.values, xact, { wait });
      if (out.newTid) slot.tid = out.newTid;
      // Built field by field: spreading `out` costs more than the rest of a small update.
      return {
        result: out.result,
        ...(out.failure !== undefined ? { failure: out.failure } : {}),
        ...(out.newTid !== undefined ? { newTid: out.newTid } : {}),
        updateIndexes: out.result === 0 && out.hot === false,
        lockMode: out.keysUpdated ? "exclusive" : "no key exclusive",
      };
    },
    scanModifyPage: (scan, op, xact, perRow) =>
      heapModifyScanPage((scan as HeapScanDesc).heapScan, op, xact, perRow),
    tupleLock: (rel, tid, xact, mode, wait) =>
      heapLockTuple(rel.ctx, rel, tid, xact, mode, { wait }),

    relationSetNewFilenode(rel) {
      // RelationCreateStorage: a permanent table's creation is logged (unlogged: not at all).
      relationCreateStorage(
        rel.ctx.pool,
        rel.locator,
        relationNeedsWal(rel.ctx, rel) ? rel.ctx.xlog : undefined,
      );
    },
    relationNontransactionalTruncate(rel) {
      const { pool, fsm } = rel.ctx;
      pool.truncateRelation(rel.locator, ForkNumber.MAIN, 0);
      fsm.truncate(rel.locator, 0);
      new VisibilityMap(pool).truncate(rel.locator, 0);
      rel.ctx.targetBlocks.delete(rel.locator.relNumber);
    },
    relationDrop(rel) {
      rel.ctx.pool.dropRelation(rel.locator);
      forgetForkSize(rel.ctx.pool, rel.locator, ForkNumber.FSM);
      forgetForkSize(rel.ctx.pool, rel.locator, ForkNumber.VISIBILITYMAP);
      rel.ctx.targetBlocks.delete(rel.locator.relNumber);
    },

    relationVacuum: (rel, options) => heapVacuumRel(rel.ctx, rel, options),

    indexBuildRangeScan: (rel, callback) => heapIndexBuildRangeScan(rel, callback),

    relationSize(rel, fork) {
      const pool = rel.ctx.pool;
      const forks = fork === undefined ? [0, 1, 2, 3] : [fork];
      let blocks = 0;
      for (const f of forks)
        if (pool.relationExists(rel.locator, f)) blocks += pool.nblocks(rel.locator, f);
      return blocks * BLCKSZ;
    },
    relationNeedsToastTable: () => false,
    relationEstimateSize(rel) {
      const pages = rel.ctx.pool.nblocks(rel.locator, ForkNumber.MAIN);
      // table_block_relation_estimate_size without stats: density from the tuple width, with
      // the tuple header and line pointer as overhead.
      const perTuple = maxAlign(SizeofHeapTupleHeader) + SizeOfItemIdData + estimatedWidth(rel);
      const density = Math.max(1, Math.floor((BLCKSZ - SizeOfPageHeaderData) / perTuple));
      const allVisible =
        pages === 0 ? 0 : new VisibilityMap(rel.ctx.pool).count(rel.locator).allVisible / pages;
      return { pages, tuples: pages * density, allVisibleFraction: allVisible };
    },
  };
}

/** The heap over the disk-backed buffer pool. */
export const heapTableAm: TableAccessMethod = makeHeapAm("heap");
/** The same heap over the memory-only buffer pool. */
export const memheapTableAm: TableAccessMethod = makeHeapAm("memheap");

/** Registers `heap` and `memheap` (idempotent). */
export function registerBuiltinTableAms(): void {
  registerTableAm(heapTableAm);
  registerTableAm(memheapTableAm);
}
