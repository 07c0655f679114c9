/**
 * nbtree utilities: comparing key values in index order, insertion scan keys, how many key
 * attributes a pivot must keep (suffix truncation) and forming the truncated pivot, the
 * "equal image" decision, and the 1/3-of-a-page size check.
 *
 * Models: src/backend/access/nbtree/nbtutils.c (_bt_mkscankey, _bt_keep_natts,
 * _bt_keep_natts_fast, _bt_truncate, _bt_allequalimage, _bt_check_third_page) and the index
 * ordering of utils/sort/tuplesort.c (comparetup_index_btree: key columns with their
 * DESC / NULLS FIRST options, then heap TID).
 * Entry points: `btCompareKeyValues`, `btCompareSortTuples`, `btMkScanKey`, `btKeepNatts`,
 * `btTruncate`, `btCheckThirdPage`.
 * See also: nbtsearch.ts (_bt_compare uses the scan keys), nbtsort.ts, nbtdedup.ts.
 *
 * Differs from PostgreSQL: `_bt_keep_natts_fast` compares with the opclass ORDER function rather
 * than datum_image_eq; for the opclasses pgsim supports (all "equal image") the two agree.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { type ItemPointer, maxAlign, writeItemPointer } from "../../include/access/htup-details.js";
import {
  INDEX_SIZE_MASK,
  indexTupleInfo,
  indexTupleSetInfo,
  indexTupleSize,
} from "../../include/access/itup.js";
import {
  BTMaxItemSize,
  BTREE_VERSION,
  btreeTupleGetMaxHeapTid,
  btreeTupleGetNAtts,
  btreeTupleGetPostingOffset,
  btreeTupleIsPivot,
  btreeTupleIsPosting,
  btreeTupleSetNAtts,
  itemPointerCompare,
} from "../../include/access/nbtree.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import { indexDeformTuple, indexGetAttrFast, indexTruncateTuple } from "../common/indextuple.js";
import { SK_ISNULL, SK_SEARCHARRAY, SK_SEARCHNOTNULL, SK_SEARCHNULL } from "../index/amapi.js";
import type { BtIndexColumn, BtIndexRelation } from "./nbtree.js";

/** A key value: a Datum or null (SQL NULL). */
export type KeyValue = Datum | null;

/**
 * One column's comparison in index order, NULLs and DESC included (what a sort key with the
 * column's indoption does): <0 when `a` sorts before `b`.
 */
export function btCompareColumn(col: BtIndexColumn, a: KeyValue, b: KeyValue): number {
  if (a === null || b === null) {
    if (a === null && b === null) return 0;
    // A NULL sorts first with NULLS FIRST, last otherwise (in index order, DESC included).
    return (a === null) === col.nullsFirst ? -1 : 1;
  }
  const r = col.opclass.cmp(a, b);
  return col.desc ? -r : r;
}

/** Compares two key-value lists column by column in index order (first `n` columns). */
export function btCompareKeyValues(
  rel: BtIndexRelation,
  a: readonly KeyValue[],
  b: readonly KeyValue[],
  n = rel.nkeyatts,
): number {
  for (let i = 0; i < n; i++) {
    const r = btCompareColumn(rel.columns[i]!, a[i] ?? null, b[i] ?? null);
    if (r !== 0) return r;
  }
  return 0;
}

/** A heap tuple about to be indexed: its key values and heap TID (a tuplesort entry). */
export interface BtSortTuple {
  readonly values: readonly KeyValue[];
  readonly tid: ItemPointer;
}

/** comparetup_index_btree without the unique check: keys in index order, then heap TID. */
export function btCompareSortTuples(rel: BtIndexRelation, a: BtSortTuple, b: BtSortTuple): number {
  const r = btCompareKeyValues(rel, a.values, b.values);
  return r !== 0 ? r : itemPointerCompare(a.tid, b.tid);
}

/** BTScanInsertData: an insertion scan key (what _bt_compare compares a tuple against). */
export interface BTScanInsert {
  /** btm_version ≥ 4. */
  readonly heapkeyspace: boolean;
  readonly allequalimage: boolean;
  /** Some key attribute of the source tuple is NULL. */
  readonly anynullkeys: boolean;
  /** false: find the first item ≥ key; true: the first item > key. */
  nextkey: boolean;
  /** Search for a leaf's parent during page deletion (truncated pivots then compare equal). */
  pivotsearch: boolean;
  /** Heap TID as the last key attribute, or undefined. */
  scantid: ItemPointer | undefined;
  /** Number of key attributes with values in `keys`. */
  keysz: number;
  /** One argument per key attribute (null = SK_ISNULL). */
  readonly keys: readonly KeyValue[];
}

/**
 * _bt_mkscankey: an insertion scan key from a tuple's key values (`values` may hold fewer than
 * nkeyatts values for a truncated pivot) and its heap TID.
 */
export function btMkScanKey(
  rel: BtIndexRelation,
  values: readonly KeyValue[],
  scantid?: ItemPointer,
): BTScanInsert {
  return {
    heapkeyspace: true,
    allequalimage: rel.allequalimage,
    anynullkeys: values.some((v) => v === null),
    nextkey: false,
    pivotsearch: false,
    scantid,
    keysz: Math.min(values.length, rel.nkeyatts),
    keys: values,
  };
}

/** The key values of the non-pivot or pivot tuple `tuple` (its first `natts` attributes). */
export function btTupleKeyValues(
  rel: BtIndexRelation,
  tuple: Uint8Array,
  off = 0,
  natts = rel.nkeyatts,
): KeyValue[] {
  return indexDeformTuple(rel.desc, tuple, off, indexTupleSize(tuple, off), natts);
}

/**
 * _bt_keep_natts: 1 + the number of leading key attributes on which `lastleft` and `firstright`
 * are equal (NULLs equal to each other); nkeyatts + 1 means all are equal and a heap TID is
 * needed in the pivot. (Also _bt_keep_natts_fast: see "Differs" in the header.)
 */
export function btKeepNatts(
  rel: BtIndexRelation,
  lastleft: readonly KeyValue[],
  firstright: readonly KeyValue[],
): number {
  let keepnatts = 1;
  for (let i = 0; i < rel.nkeyatts; i++) {
    const a = lastleft[i] ?? null;
    const b = firstright[i] ?? null;
    if ((a === null) !== (b === null)) break;
    if (a !== null && rel.columns[i]!.opclass.cmp(a, b!) !== 0) break;
    keepnatts++;
  }
  return keepnatts;
}

/**
 * _bt_keep_natts_fast over two tuples as stored (non-pivot, or a possibly truncated pivot such as
 * a high key): 1 + the number of leading key attributes both have and on which they are equal
 * (NULLs equal to each other); nkeyatts + 1 when all are equal. An attribute one of them lacks
 * (truncated away) ends the count.
 *
 * Differs from PostgreSQL: an attribute truncated away is not read (PostgreSQL's index_getattr
 * would read past the pivot's data; it never matters for the callers' decisions in practice).
 */
export function btKeepNattsFast(rel: BtIndexRelation, a: Uint8Array, b: Uint8Array): number {
  const na = btreeTupleGetNAtts(a, 0, rel.nkeyatts);
  const nb = btreeTupleGetNAtts(b, 0, rel.nkeyatts);
  const n = Math.min(na, nb);
  // index_getattr in place while it can (no NULLs, cached offsets): no values are copied out.
  let keep = 1;
  for (let i = 0; i < n; i++) {
    const va = indexGetAttrFast(rel.desc, a, 0, i);
    const vb = va === undefined ? undefined : indexGetAttrFast(rel.desc, b, 0, i);
    if (vb === undefined) {
      keep = btKeepNatts(rel, btTupleKeyValues(rel, a, 0, n), btTupleKeyValues(rel, b, 0, n));
      break;
    }
    if (btCompareColumn(rel.columns[i]!, va!, vb) !== 0) break;
    keep++;
  }
  return Math.min(keep, n + 1);
}

/**
 * _bt_truncate: the pivot tuple that separates `lastleft` from `firstright` (two non-pivot
 * tuples, adjacent in index order): firstright cut after the first distinguishing attribute; when
 * every key attribute is equal, all of them plus lastleft's (max) heap TID. The block number of
 * t_tid is whatever firstright had (heap block or posting offset): PostgreSQL does not clear it.
 */
export function btTruncate(
  rel: BtIndexRelation,
  lastleft: Uint8Array,
  firstright: Uint8Array,
): Uint8Array {
  if (btreeTupleIsPivot(lastleft, 0) || btreeTupleIsPivot(firstright, 0)) {
    throw new Error("_bt_truncate is only given non-pivot tuples");
  }
  const nkeyatts = rel.nkeyatts;
  const keepnatts = btKeepNatts(
    rel,
    btTupleKeyValues(rel, lastleft),
    btTupleKeyValues(rel, firstright),
  );
  const leave = Math.min(keepnatts, nkeyatts);
  const pivot = indexTruncateTuple(rel.desc, rel.truncDescs[leave - 1]!, firstright, leave);
  if (btreeTupleIsPosting(pivot, 0)) {
    // A straight copy of a posting tuple: drop the TID array by shrinking the size field.
    const info = indexTupleInfo(pivot, 0);
    indexTupleSetInfo(
      pivot,
      0,
      (info & ~INDEX_SIZE_MASK) | maxAlign(btreeTupleGetPostingOffset(firstright, 0)),
    );
  }
  if (keepnatts <= nkeyatts) {
    btreeTupleSetNAtts(pivot, 0, keepnatts, false);
    return pivot.slice(0, indexTupleSize(pivot, 0));
  }
  const keySize = maxAlign(indexTupleSize(pivot, 0));
  const newsize = keySize + maxAlign(6);
  const tidpivot = new Uint8Array(newsize);
  tidpivot.set(pivot.subarray(0, keySize));
  indexTupleSetInfo(tidpivot, 0, (indexTupleInfo(tidpivot, 0) & ~INDEX_SIZE_MASK) | newsize);
  btreeTupleSetNAtts(tidpivot, 0, nkeyatts, true);
  writeItemPointer(tidpivot, newsize - 6, btreeTupleGetMaxHeapTid(lastleft, 0));
  return tidpivot;
}

/**
 * _bt_check_third_page: a non-pivot tuple larger than BTMaxItemSize cannot be indexed. Throws
 * PostgreSQL's error (54000, program_limit_exceeded) with its detail and hint.
 */
export function btCheckThirdPage(
  rel: BtIndexRelation,
  tableName: string,
  tupleSize: number,
  heapTid: ItemPointer,
): void {
  const itemsz = maxAlign(tupleSize);
  if (itemsz <= BTMaxItemSize) return;
  throw new PgsimError(
    "program-limit-exceeded",
    `index row size ${itemsz} exceeds btree version ${BTREE_VERSION} maximum ${BTMaxItemSize} for index "${rel.name}"`,
    {
      detail: `Index row references tuple (${heapTid.block},${heapTid.offset}) in relation "${tableName}".`,
      hint:
        "Values larger than 1/3 of a buffer page cannot be indexed.\n" +
        "Consider a function index of an MD5 hash of the value, or use full text indexing.",
      size: itemsz,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Search scan keys (nbtutils.c: _bt_preprocess_keys, _bt_mark_scankey_required, _bt_checkkeys,
// _bt_killitems)

/** SK_BT_REQFWD: the scan ends (forward) when this key fails. */
export const SK_BT_REQFWD = 0x00010000;
/** SK_BT_REQBKWD: the scan ends (backward) when this key fails. */
export const SK_BT_REQBKWD = 0x00020000;

/**
 * A preprocessed search key: `indexed value <strategy> argument` in **index order** (for a DESC
 * column the strategy of the caller's operator is commuted, as _bt_fix_scankey_strategy does),
 * with the required-direction flags.
 */
export interface BTSearchKey {
  /** 1-based index column. */
  readonly attno: number;
  /** BTLessStrategyNumber (1) … BTGreaterStrategyNumber (5), in index order. */
  readonly strategy: number;
  readonly argument: KeyValue;
  flags: number;
}

/** The strategy that means the same once the column's order is reversed (DESC). */
function commuteStrategy(strategy: number): number {
  return 6 - strategy;
}

/** Whether `cmp` (the indexed value compared with the argument, in index order) passes. */
function strategyHolds(strategy: number, cmp: number): boolean {
  switch (strategy) {
    case 1:
      return cmp < 0;
    case 2:
      return cmp <= 0;
    case 3:
      return cmp === 0;
    case 4:
      return cmp >= 0;
    default:
      return cmp > 0;
  }
}

/**
 * _bt_preprocess_keys: per column, keeps the `=` key (two different `=` arguments, or an `=`
 * outside an inequality, make the qual unsatisfiable) or else the tightest lower and upper
 * bound; then marks the required keys (_bt_mark_scankey_required): every key of the leading
 * columns that have an `=` key, and the inequalities of the first column without one — upper
 * bounds (`<`, `<=`) end forward scans, lower bounds (`>`, `>=`) backward scans. Returns the keys
 * in column order and whether the qual can be satisfied at all (qual_ok).
 *
 * `IS NULL` and `IS NOT NULL` keys (SK_ISNULL) become ordinary keys with a NULL argument, as
 * _bt_fix_scankey_strategy makes them: IS NULL is `= NULL`, IS NOT NULL is `< NULL` under NULLS
 * LAST and `> NULL` under NULLS FIRST (index order: NULL is beyond every value on its side), so
 * that they combine with the other keys of their column by the same rules (`x IS NULL AND x < 5`
 * cannot match; `x IS NOT NULL AND x < 5` keeps only `x < 5`).
 */
export function btPreprocessKeys(
  rel: BtIndexRelation,
  keys: readonly { attno: number; strategy: number; argument: KeyValue; flags?: number }[],
): { keys: BTSearchKey[]; qualOk: boolean } {
  const out: BTSearchKey[] = [];
  let qualOk = true;
  let requiredSoFar = true;
  type Bound = { strategy: number; argument: KeyValue; nullFlags: number };
  for (let attno = 1; attno <= rel.nkeyatts; attno++) {
    const col = rel.columns[attno - 1]!;
    let eq: Bound | undefined;
    let upper: Bound | undefined;
    let lower: Bound | undefined;
    for (const k of keys) {
      if (k.attno !== attno) continue;
      const flags = k.flags ?? 0;
      let strategy: number;
      let argument: KeyValue;
      let nullFlags = 0;
      if ((flags & SK_ISNULL) !== 0) {
        nullFlags = flags & (SK_ISNULL | SK_SEARCHNULL | SK_SEARCHNOTNULL);
        argument = null;
        if ((flags & SK_SEARCHNULL) !== 0) strategy = 3;
        else if ((flags & SK_SEARCHNOTNULL) !== 0) strategy = col.nullsFirst ? 5 : 1;
        else {
          // A regular operator with a NULL argument: nothing matches.
          qualOk = false;
          continue;
        }
      } else {
        strategy = col.desc ? commuteStrategy(k.strategy) : k.strategy;
        argument = k.argument;
      }
      const key: Bound = { strategy, argument, nullFlags };
      if (strategy === 3) {
        if (eq !== undefined && btCompareColumn(col, eq.argument, argument) !== 0) qualOk = false;
        eq = key;
      } else if (strategy < 3) {
        // The tighter upper bound: the smaller argument, `<` over `<=` on a tie.
        const c = upper === undefined ? -1 : btCompareColumn(col, argument, upper.argument);
        if (c < 0 || (c === 0 && strategy === 1)) upper = key;
      } else {
        const c = lower === undefined ? 1 : btCompareColumn(col, argument, lower.argument);
        if (c > 0 || (c === 0 && strategy === 5)) lower = key;
      }
    }
    if (eq !== undefined) {
      for (const bound of [upper, lower]) {
        if (
          bound !== undefined &&
          !strategyHolds(bound.strategy, btCompareColumn(col, eq.argument, bound.argument))
        ) {
          qualOk = false;
        }
      }
      out.push({
        attno,
        strategy: 3,
        argument: eq.argument,
        flags: eq.nullFlags | (requiredSoFar ? SK_BT_REQFWD | SK_BT_REQBKWD : 0),
      });
      continue;
    }
    if (upper !== undefined) {
      out.push({
        attno,
        strategy: upper.strategy,
        argument: upper.argument,
        flags: upper.nullFlags | (requiredSoFar ? SK_BT_REQFWD : 0),
      });
    }
    if (lower !== undefined) {
      out.push({
        attno,
        strategy: lower.strategy,
        argument: lower.argument,
        flags: lower.nullFlags | (requiredSoFar ? SK_BT_REQBKWD : 0),
      });
    }
    // Keys on later columns are never required once a column lacks an `=` key.
    requiredSoFar = false;
  }
  return { keys: out, qualOk };
}

/** BTArrayKeyInfo: one `<op> ANY (array)` key's elements, and the one the scan is on. */
export interface BTArrayKey {
  /** Its position in the scan's keys. */
  readonly scanKey: number;
  /** The non-NULL elements; for `=` sorted in index order without duplicates. */
  readonly elements: readonly KeyValue[];
  cur: number;
}

/**
 * _bt_preprocess_array_keys: the `ANY (array)` keys of a scan. NULL elements are dropped (a strict
 * operator never matches them); an `=` array is sorted in index order (descending for a DESC
 * column) and deduplicated (_bt_sort_array_elements); for `<` or `<=` only the greatest element
 * can matter and for `>` or `>=` only the least (_bt_find_extreme_element). Undefined when an
 * array has no non-NULL element: the qual cannot match (numArrayKeys = -1).
 */
export function btPreprocessArrayKeys(
  rel: BtIndexRelation,
  keys: readonly {
    attno: number;
    strategy: number;
    flags?: number;
    elements?: readonly KeyValue[];
  }[],
): BTArrayKey[] | undefined {
  const out: BTArrayKey[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (((k.flags ?? 0) & SK_SEARCHARRAY) === 0) continue;
    const col = rel.columns[k.attno - 1]!;
    const values = (k.elements ?? []).filter((e) => e !== null);
    if (values.length === 0) return undefined;
    let elements: KeyValue[];
    if (k.strategy === 3) {
      const sorted = [...values].sort((a, b) => btCompareColumn(col, a, b));
      elements = sorted.filter((v, j) => j === 0 || btCompareColumn(col, sorted[j - 1]!, v) !== 0);
    } else {
      // The operator's own order (not the index's): `<`/`<=` keep the greatest, `>`/`>=` the least.
      const greatest = k.strategy < 3;
      let extreme = values[0]!;
      for (const v of values) {
        const c = col.opclass.cmp(v, extreme);
        if (greatest ? c > 0 : c < 0) extreme = v;
      }
      elements = [extreme];
    }
    out.push({ scanKey: i, elements, cur: 0 });
  }
  return out;
}

/** _bt_start_array_keys: every array at its first element in `direction`. */
export function btStartArrayKeys(
  arrays: readonly BTArrayKey[],
  direction: "forward" | "backward",
): void {
  for (const a of arrays) a.cur = direction === "forward" ? 0 : a.elements.length - 1;
}

/**
 * _bt_advance_array_keys: the next combination of elements in `direction`, the last array
 * varying fastest; false once every combination has been scanned.
 */
export function btAdvanceArrayKeys(
  arrays: readonly BTArrayKey[],
  direction: "forward" | "backward",
): boolean {
  for (let i = arrays.length - 1; i >= 0; i--) {
    const a = arrays[i]!;
    if (direction === "forward") {
      if (a.cur + 1 < a.elements.length) {
        a.cur++;
        return true;
      }
      a.cur = 0;
    } else {
      if (a.cur > 0) {
        a.cur--;
        return true;
      }
      a.cur = a.elements.length - 1;
    }
  }
  return false;
}

/**
 * _bt_checkkeys: does the tuple whose key values are `values` (its first `tupnatts` attributes:
 * fewer for a truncated high key, whose missing attributes are minus infinity and pass) satisfy
 * every key? `continuescan` turns false when a key required in `direction` fails, or when a NULL
 * is met on the side where no more matches can follow (per NULLS FIRST / LAST).
 */
export function btCheckKeys(
  rel: BtIndexRelation,
  keys: readonly BTSearchKey[],
  values: readonly KeyValue[],
  tupnatts: number,
  direction: "forward" | "backward",
): { passes: boolean; continuescan: boolean } {
  for (const key of keys) {
    if (key.attno > tupnatts) continue;
    const col = rel.columns[key.attno - 1]!;
    const required = (key.flags & (SK_BT_REQFWD | SK_BT_REQBKWD)) !== 0;
    const v = values[key.attno - 1] ?? null;
    if ((key.flags & SK_ISNULL) !== 0) {
      // IS NULL / IS NOT NULL: passes or fails on NULLness alone; a failing required key ends
      // the scan in its direction.
      if ((key.flags & SK_SEARCHNULL) !== 0 ? v === null : v !== null) continue;
      const stop =
        ((key.flags & SK_BT_REQFWD) !== 0 && direction === "forward") ||
        ((key.flags & SK_BT_REQBKWD) !== 0 && direction === "backward");
      return { passes: false, continuescan: !stop };
    }
    if (v === null) {
      // NULLs sort first (NULLS FIRST) or last: past them, in the scan's direction, no value can
      // match a required key.
      const stop = col.nullsFirst ? direction === "backward" : direction === "forward";
      return { passes: false, continuescan: !(required && stop) };
    }
    if (!strategyHolds(key.strategy, btCompareColumn(col, v, key.argument))) {
      const stop =
        ((key.flags & SK_BT_REQFWD) !== 0 && direction === "forward") ||
        ((key.flags & SK_BT_REQBKWD) !== 0 && direction === "backward");
      return { passes: false, continuescan: !stop };
    }
  }
  return { passes: true, continuescan: true };
}
