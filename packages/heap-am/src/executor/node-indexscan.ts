/**
 * Index scans and index-only scans as the executor runs them: every row (or key) an index scan
 * with search keys returns, in index order, in one direction.
 *
 * Models: src/backend/executor/nodeIndexscan.c (IndexNext: index_getnext_slot) and
 * nodeIndexonlyscan.c (IndexOnlyNext: index_getnext_tid, the visibility-map test
 * VM_ALL_VISIBLE, index_fetch_heap only for pages that are not all-visible, and the
 * "Heap Fetches" count EXPLAIN ANALYZE shows).
 * Entry points: `runIndexScan`, `runIndexOnlyScan`, `IndexScanResult`, `IndexOnlyScanResult`.
 * See also: ../access/index/indexam.ts, ../access/heap/visibilitymap.ts, ../database/transaction.ts.
 *
 * Differs from PostgreSQL: no quals rechecked above the index (every key is an index key), no
 * ORDER BY operators, no LIMIT (the whole result is collected); no predicate locks.
 */

import { VisibilityMap } from "../access/heap/visibilitymap.js";
import { VISIBILITYMAP_ALL_VISIBLE } from "../access/heap/visibilitymap-page.js";
import type { IndexRelation, ScanDirection, ScanKey } from "../access/index/amapi.js";
import {
  indexBeginscan,
  indexEndscan,
  indexFetchHeap,
  indexGetnextSlot,
  indexGetnextTid,
  indexRescan,
} from "../access/index/indexam.js";
import { makeSlot, type Row, type TableRelation, type TID } from "../access/table/tableam.js";
import type { Transaction } from "../access/transam/xact.js";
import type { Snapshot } from "../include/utils/snapshot.js";

/** A row an index scan returned: the visible version's TID and values. */
export interface IndexScanRow {
  tid: TID;
  row: Row;
}

/** What an index-only scan returned: the key values of each visible entry, and its heap TID. */
export interface IndexOnlyScanResult {
  rows: { tid: TID; values: Row }[];
  /** Entries whose heap page was not all-visible, so the heap was visited (Heap Fetches). */
  heapFetches: number;
}

/** IndexNext over the whole scan: every visible row in index order in `direction`. */
export function runIndexScan(
  heap: TableRelation,
  index: IndexRelation,
  keys: readonly ScanKey[],
  direction: ScanDirection,
  snapshot: Snapshot,
  xact: Transaction,
): IndexScanRow[] {
  const scan = indexBeginscan(heap, index, snapshot, xact, keys.length);
  const out: IndexScanRow[] = [];
  try {
    indexRescan(scan, keys);
    const slot = makeSlot();
    while (indexGetnextSlot(scan, direction, slot)) out.push({ tid: slot.tid!, row: slot.values });
  } finally {
    indexEndscan(scan);
  }
  return out;
}

/**
 * IndexOnlyNext over the whole scan: for each entry, the heap page's all-visible bit is read from
 * the visibility map; only when it is clear is the heap tuple fetched (and the entry skipped if
 * no version is visible). The values returned are the index's.
 */
export function runIndexOnlyScan(
  heap: TableRelation,
  index: IndexRelation,
  keys: readonly ScanKey[],
  direction: ScanDirection,
  snapshot: Snapshot,
  xact: Transaction,
): IndexOnlyScanResult {
  const scan = indexBeginscan(heap, index, snapshot, xact, keys.length);
  scan.xsWantItup = true;
  const vm = new VisibilityMap(heap.ctx.pool, { keepPin: true });
  const rows: { tid: TID; values: Row }[] = [];
  let heapFetches = 0;
  try {
    indexRescan(scan, keys);
    const slot = makeSlot();
    for (
      let tid = indexGetnextTid(scan, direction);
      tid !== undefined;
      tid = indexGetnextTid(scan, direction)
    ) {
      if ((vm.getStatus(heap.locator, tid.block) & VISIBILITYMAP_ALL_VISIBLE) === 0) {
        heapFetches++;
        if (!indexFetchHeap(scan, slot)) continue;
      }
      rows.push({ tid, values: scan.xsItup ?? [] });
    }
  } finally {
    vm.releasePin();
    indexEndscan(scan);
  }
  return { rows, heapFetches };
}
