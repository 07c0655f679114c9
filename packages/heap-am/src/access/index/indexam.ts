/**
 * The index_* wrappers: how callers open, build, insert into, scan and vacuum an index without
 * knowing its access method, and how an index scan fetches the heap tuples its entries point at.
 *
 * Models: src/backend/access/index/indexam.c (index_open's relcache part, index_insert,
 * index_beginscan, index_rescan, index_endscan, index_getnext_tid, index_fetch_heap,
 * index_getnext_slot, index_bulk_delete, index_vacuum_cleanup, index_can_return),
 * catalog/index.c (index_build), utils/cache/relcache.c (RelationInitIndexAccessInfo: rd_indam).
 * Entry points: `indexOpen`, `indexBuild`, `indexInsert`, `indexBeginscan`, `indexRescan`,
 * `indexEndscan`, `indexGetnextTid`, `indexFetchHeap`, `indexGetnextSlot`, `indexBulkDelete`,
 * `indexVacuumCleanup`, `indexCanReturn`.
 * See also: amapi.ts (the interface), genam.ts, ../table/tableam.ts (index_fetch_* of the table
 * AM), ../../executor/ (the callers: ExecInsertIndexTuples, index-only scans), README.md.
 *
 * Differs from PostgreSQL: no predicate locks, no statistics counters for index scans
 * (pgstat_count_index_scan), no parallel scans; `xact` is passed explicitly with the snapshot.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import type { IndexDefinition, TableDefinition } from "../../catalog/catalog.js";
import { tableLocator } from "../../catalog/catalog.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import type {
  IndexFetchState,
  TableAmContext,
  TableRelation,
  TID,
  TupleTableSlot,
} from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import {
  getIndexAm,
  type IndexBuildResult,
  type IndexBulkDeleteCallback,
  type IndexBulkDeleteResult,
  type IndexRelation,
  type IndexScanDesc,
  type IndexUniqueCheck,
  type IndexVacuumInfo,
  type ScanDirection,
  type ScanKey,
} from "./amapi.js";
import { relationGetIndexScan } from "./genam.js";

/**
 * index_open (the relcache entry): the backend's entry for index `def` of table `table`, with its
 * AM looked up once (rd_indam) and the AM's own data built (amrelinit: typed errors for columns
 * or types the AM refuses).
 */
export function indexOpen(
  def: IndexDefinition,
  table: TableDefinition,
  ctx: TableAmContext,
): IndexRelation {
  const am = getIndexAm(def.am);
  const amdata = am.amrelinit(def, table);
  const heapAttIndexes = def.columns.map((c) => table.columns.findIndex((t) => t.name === c.name));
  return {
    def,
    name: def.name,
    locator: tableLocator(def),
    heapAttIndexes,
    columnNames: def.columns.map((c) => c.name),
    unique: def.unique,
    ctx,
    am,
    amdata,
  };
}

/** index_build: fills the new index's (empty) storage from its table through ambuild. */
export function indexBuild(heap: TableRelation, index: IndexRelation): IndexBuildResult {
  return index.am.ambuild(heap, index);
}

/** FormIndexDatum: the key values of a table row, in index column order. */
export function formIndexDatum(
  index: IndexRelation,
  row: readonly (Datum | null)[],
): (Datum | null)[] {
  return index.heapAttIndexes.map((a) => (row[a] ?? null) as Datum | null);
}

/**
 * index_insert: adds the entry for the heap tuple at `heapTid` with key `values` (index column
 * order; see formIndexDatum). A unique index with `checkUnique` "yes" raises the unique
 * violation before anything is added.
 */
export function indexInsert(
  index: IndexRelation,
  values: readonly (Datum | null)[],
  heapTid: TID,
  heap: TableRelation,
  checkUnique: IndexUniqueCheck,
  indexUnchanged: boolean,
  xact: Transaction | undefined,
): boolean {
  return index.am.aminsert(index, values, heapTid, heap, checkUnique, indexUnchanged, xact);
}

/** What the executor's index scans keep besides the AM's scan (IndexScanDesc's xs_heapfetch). */
interface HeapFetchScan extends IndexScanDesc {
  heapFetch?: IndexFetchState;
}

/**
 * index_beginscan: starts a scan of `index` returning the entries of rows `snapshot` sees (as
 * `xact` sees them), fetching them from `heap`. Call indexRescan with the keys before the first
 * indexGetnext*; end with indexEndscan (also after an error).
 */
export function indexBeginscan(
  heap: TableRelation,
  index: IndexRelation,
  snapshot: Snapshot,
  xact: Transaction | undefined,
  nkeys: number,
): IndexScanDesc {
  const scan: HeapFetchScan = relationGetIndexScan(heap, index, snapshot, xact, nkeys);
  index.am.ambeginscan(scan);
  scan.heapFetch = heap.am.indexFetchBegin(heap);
  return scan;
}

/** index_rescan: (re)starts the scan with `keys` (at most the nkeys given at beginscan). */
export function indexRescan(scan: IndexScanDesc, keys: readonly ScanKey[]): void {
  if (keys.length > scan.numberOfKeys) {
    throw new PgsimError(
      "invalid-parameter",
      `index scan was begun for ${scan.numberOfKeys} keys, rescanned with ${keys.length}`,
    );
  }
  const heapFetch = (scan as HeapFetchScan).heapFetch;
  if (heapFetch !== undefined) heapFetch.rel.am.indexFetchReset(heapFetch);
  scan.killPriorTuple = false;
  scan.indexRelation.am.amrescan(scan, keys);
}

/** index_endscan: releases the AM's pins and the heap fetch state. */
export function indexEndscan(scan: IndexScanDesc): void {
  const s = scan as HeapFetchScan;
  try {
    scan.indexRelation.am.amendscan(scan);
  } finally {
    if (s.heapFetch !== undefined) {
      s.heapFetch.rel.am.indexFetchEnd(s.heapFetch);
      s.heapFetch = undefined;
    }
  }
}

/**
 * index_getnext_tid: the next entry's heap TID in `direction`, or undefined at the end. The kill
 * flag set by the previous indexFetchHeap goes to the AM with this call and is then cleared.
 */
export function indexGetnextTid(scan: IndexScanDesc, direction: ScanDirection): TID | undefined {
  const found = scan.indexRelation.am.amgettuple(scan, direction);
  // Reset the kill flag immediately, for safety (indexam.c).
  scan.killPriorTuple = false;
  return found ? scan.xsHeaptid : undefined;
}

/**
 * index_fetch_heap: fetches the row version the scan's snapshot sees for the entry just
 * returned (following the HOT chain from its root TID) into `slot`; returns whether there is one.
 * When the table AM says no version can be visible to anyone any more, the entry is to be killed:
 * `scan.killPriorTuple` is set for the next amgettuple.
 */
export function indexFetchHeap(scan: IndexScanDesc, slot: TupleTableSlot): boolean {
  const s = scan as HeapFetchScan;
  const heap = scan.heapRelation;
  if (heap === undefined || s.heapFetch === undefined || scan.xsHeaptid === undefined) {
    throw new PgsimError(
      "invalid-parameter",
      "index_fetch_heap needs a heap scan positioned on an entry",
    );
  }
  const out = { allDead: false };
  scan.heapFetches++;
  const found = heap.am.indexFetchTuple(
    s.heapFetch,
    scan.xsHeaptid,
    scan.snapshot!,
    scan.xact,
    slot,
    out,
  );
  // If we scanned a whole HOT chain and found only dead tuples, tell the index AM to kill its
  // entry for that TID (never during recovery: pgsim has no hot standby).
  scan.killPriorTuple = out.allDead;
  return found;
}

/**
 * index_getnext_slot: the next row version visible to the scan's snapshot, in index order, into
 * `slot`; false at the end. Entries whose rows are invisible are skipped (and killed when dead to
 * everyone).
 */
export function indexGetnextSlot(
  scan: IndexScanDesc,
  direction: ScanDirection,
  slot: TupleTableSlot,
): boolean {
  for (;;) {
    if (indexGetnextTid(scan, direction) === undefined) return false;
    if (indexFetchHeap(scan, slot)) return true;
  }
}

/** index_can_return: can an index-only scan return column `attno` (1-based) from the index? */
export function indexCanReturn(index: IndexRelation, attno: number): boolean {
  return index.am.amcanreturn(index, attno);
}

/** index_bulk_delete: VACUUM's removal of the entries whose heap TIDs `callback` says are dead. */
export function indexBulkDelete(
  info: IndexVacuumInfo,
  stats: IndexBulkDeleteResult | undefined,
  callback: IndexBulkDeleteCallback,
): IndexBulkDeleteResult {
  return info.index.am.ambulkdelete(info, stats, callback);
}

/** index_vacuum_cleanup: VACUUM's end-of-run call for each index. */
export function indexVacuumCleanup(
  info: IndexVacuumInfo,
  stats: IndexBulkDeleteResult | undefined,
): IndexBulkDeleteResult | undefined {
  return info.index.am.amvacuumcleanup(info, stats);
}
