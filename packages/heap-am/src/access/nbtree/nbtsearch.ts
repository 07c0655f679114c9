/**
 * Comparing an insertion scan key with the tuples of a page, and the binary search over a page.
 *
 * Models: src/backend/access/nbtree/nbtsearch.c (_bt_compare, _bt_binsrch) and nbtutils.c
 * (_bt_mkscankey applied to an index tuple).
 * Entry points: `btCompare`, `btBinSrch`, `btScanKeyFromTuple`.
 * See also: nbtutils.ts (scan keys, btCompareColumn), verify-nbtree.ts (the structural checker
 * uses these as amcheck does).
 *
 * `btCompare(key, page, off)` answers <0, 0, >0 as the key is less than, equal to or greater than
 * the tuple at `off`, in index order: key attributes (truncated ones are −∞), then the heap TID
 * (a missing one is −∞; a posting list covers its TID range), and the minus-infinity first item of
 * an internal page is less than every key.
 */

import type { ItemPointer } from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  btPageGetOpaque,
  btreeTupleGetHeapTid,
  btreeTupleGetMaxHeapTid,
  btreeTupleGetNAtts,
  btreeTupleIsPosting,
  itemPointerCompare,
  pFirstDataKey,
  pIsLeaf,
} from "../../include/access/nbtree.js";
import {
  itemIdGetOffset,
  pageGetItemId,
  pageGetMaxOffsetNumber,
} from "../../storage/page/bufpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { type BTScanInsert, btCompareColumn, btMkScanKey, btTupleKeyValues } from "./nbtutils.js";

/**
 * _bt_mkscankey for an index tuple at `bytes[off]`: its untruncated key attributes, and as
 * scantid its heap TID (the lowest of a posting list; none for a pivot without one) — or, with
 * `maxTid`, the highest TID of a posting list.
 */
export function btScanKeyFromTuple(
  rel: BtIndexRelation,
  bytes: Uint8Array,
  off: number,
  options: { maxTid?: boolean } = {},
): BTScanInsert {
  const natts = btreeTupleGetNAtts(bytes, off, rel.nkeyatts);
  const values = btTupleKeyValues(rel, bytes, off, natts);
  let tid: ItemPointer | undefined = btreeTupleGetHeapTid(bytes, off);
  if (options.maxTid === true && btreeTupleIsPosting(bytes, off)) {
    tid = btreeTupleGetMaxHeapTid(bytes, off);
  }
  return btMkScanKey(rel, values, tid);
}

/** _bt_compare: the scan key against the tuple at offset `offnum` of `page`. */
export function btCompare(
  rel: BtIndexRelation,
  key: BTScanInsert,
  page: Uint8Array,
  offnum: number,
): number {
  const opaque = btPageGetOpaque(page);
  if (!pIsLeaf(opaque) && offnum === pFirstDataKey(opaque)) return 1;
  const t = itemIdGetOffset(pageGetItemId(page, offnum));
  const ntupatts = btreeTupleGetNAtts(page, t, rel.nkeyatts);
  const ncmp = Math.min(ntupatts, key.keysz);
  const values = btTupleKeyValues(rel, page, t, ncmp);
  for (let i = 0; i < ncmp; i++) {
    // Key value first: the column order (DESC, NULLS FIRST) is applied inside.
    const r = btCompareColumn(rel.columns[i]!, key.keys[i] ?? null, values[i] ?? null);
    if (r !== 0) return r;
  }
  if (key.keysz > ntupatts) return 1;
  const tid = btreeTupleGetHeapTid(page, t);
  if (key.scantid === undefined) {
    if (key.heapkeyspace && !key.pivotsearch && key.keysz === ntupatts && tid === undefined) {
      return 1;
    }
    return 0;
  }
  if (tid === undefined) return 1;
  const r = itemPointerCompare(key.scantid, tid);
  if (r <= 0 || !btreeTupleIsPosting(page, t)) return r;
  if (itemPointerCompare(key.scantid, btreeTupleGetMaxHeapTid(page, t)) > 0) return 1;
  return 0;
}

/**
 * _bt_binsrch: on a leaf, the first offset whose item is ≥ the key (> with nextkey); on an
 * internal page, the last offset whose pivot is < the key (≤ with nextkey).
 */
export function btBinSrch(rel: BtIndexRelation, key: BTScanInsert, page: Uint8Array): number {
  const opaque = btPageGetOpaque(page);
  let low = pFirstDataKey(opaque);
  let high = pageGetMaxOffsetNumber(page);
  if (high < low) return low;
  high++;
  const cmpval = key.nextkey ? 0 : 1;
  while (high > low) {
    const mid = low + Math.floor((high - low) / 2);
    if (btCompare(rel, key, page, mid) >= cmpval) low = mid + 1;
    else high = mid;
  }
  return pIsLeaf(opaque) ? low : low - 1;
}

/** The size of the tuple at offset `offnum` (IndexTupleSize of PageGetItem). */
export function btItemSize(page: Uint8Array, offnum: number): number {
  return indexTupleSize(page, itemIdGetOffset(pageGetItemId(page, offnum)));
}
