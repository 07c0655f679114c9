/**
 * Choosing where a full B-tree page splits: every legal point between two items of the page as
 * it would be with the new item in place is a candidate; candidates are ordered by how evenly (or
 * how close to the fill factor) they divide the free space, and among the acceptable ones the one
 * whose new high key can be truncated most (leaf) or is smallest (internal) wins.
 *
 * Models: src/backend/access/nbtree/nbtsplitloc.c (_bt_findsplitloc, _bt_recsplitloc,
 * _bt_deltasortsplits, _bt_splitcmp, _bt_afternewitemoff, _bt_adjacenthtid, _bt_bestsplitloc,
 * _bt_defaultinterval, _bt_strategy, _bt_interval_edges, _bt_split_penalty, _bt_split_lastleft,
 * _bt_split_firstright) as in PostgreSQL 15.
 * Entry points: `btFindSplitLoc`.
 * See also: nbtinsert.ts (`_bt_split` applies the choice), ../../port/qsort.ts (the unstable sort
 * whose order of equal deltas decides ties), README.md ("Splitting a page").
 *
 * The arithmetic is PostgreSQL's: free space in int16, deltas truncated to int16, the tolerance of
 * the split interval truncated to int16, fill factors as doubles.
 */

import { assert, PgsimError } from "@pgsim/clock-sweep";
import { maxAlign, readItemPointer } from "../../include/access/htup-details.js";
import { indexTupleSize } from "../../include/access/itup.js";
import {
  BT_USABLE_PAGE_BYTES,
  BTREE_NONLEAF_FILLFACTOR,
  BTREE_SINGLEVAL_FILLFACTOR,
  btPageGetOpaque,
  btreeTupleGetPostingOffset,
  btreeTupleIsPosting,
  P_FIRSTKEY,
  P_HIKEY,
  pFirstDataKey,
  pIsLeaf,
  pRightmost,
} from "../../include/access/nbtree.js";
import { pgQsort } from "../../port/qsort.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  pageGetExactFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
} from "../../storage/page/bufpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btKeepNattsFast } from "./nbtutils.js";

/** sizeof(ItemIdData). */
const ITEMID_SIZE = 4;
/** MAXALIGN(sizeof(ItemPointerData)): room for a heap TID in a leaf's new high key. */
const HEAP_TID_ROOM = 8;
/** MAXALIGN(sizeof(IndexTupleData)): the size of a minus-infinity item. */
const MINUS_INFINITY_SIZE = 8;
const LEAF_SPLIT_DISTANCE = 0.05;
const INTERNAL_SPLIT_DISTANCE = 0.075;
/** _bt_bestsplitloc's "just to the right" window for the many-duplicates exception. */
const MAX_LEAF_INTERVAL = 9;

/** FindSplitStrat. */
type FindSplitStrat = "default" | "many-duplicates" | "single-value";

/** SplitPoint: one candidate. */
interface SplitPoint {
  curdelta: number;
  leftfree: number;
  rightfree: number;
  /** First item of the original page that goes right (maxoff + 1: only the new item does). */
  firstrightoff: number;
  newitemonleft: boolean;
}

/** FindSplitData. */
interface FindSplitData {
  rel: BtIndexRelation;
  origpage: Uint8Array;
  newitem: Uint8Array;
  /** The new item's MAXALIGNed size plus its line pointer. */
  newitemsz: number;
  isLeaf: boolean;
  isRightmost: boolean;
  newitemoff: number;
  leftspace: number;
  rightspace: number;
  olddataitemstotal: number;
  minfirstrightsz: number;
  splits: SplitPoint[];
  interval: number;
}

/** The chosen split: the first original item that goes right, and the new item's side. */
export interface BtSplitLocation {
  readonly firstrightoff: number;
  readonly newitemonleft: boolean;
}

/** (int16) x: C's conversion of an int or a double (truncated toward zero) to int16. */
function int16(x: number): number {
  return (Math.trunc(x) << 16) >> 16;
}

/** The tuple at `off` of `page` (a view). */
function itemAt(page: Uint8Array, off: number): Uint8Array {
  const id = pageGetItemId(page, off);
  const at = itemIdGetOffset(id);
  return page.subarray(at, at + itemIdGetLength(id));
}

/**
 * _bt_findsplitloc: where to split `origpage` so that `newitem` (of MAXALIGNed size `newitemsz`,
 * no line pointer) fits, going in before the item now at `newitemoff`. Throws PostgreSQL's
 * "could not find a feasible split point" when no candidate is legal.
 */
export function btFindSplitLoc(
  rel: BtIndexRelation,
  origpage: Uint8Array,
  newitemoff: number,
  newitemsz: number,
  newitem: Uint8Array,
): BtSplitLocation {
  const opaque = btPageGetOpaque(origpage);
  const maxoff = pageGetMaxOffsetNumber(origpage);
  const leftspace = BT_USABLE_PAGE_BYTES;
  let rightspace = BT_USABLE_PAGE_BYTES;
  // The right page keeps the original page's high key.
  if (!pRightmost(opaque)) {
    rightspace -= maxAlign(itemIdGetLength(pageGetItemId(origpage, P_HIKEY))) + ITEMID_SIZE;
  }
  const olddataitemstotal = rightspace - pageGetExactFreeSpace(origpage);
  const leaffillfactor = rel.fillfactor;
  assert(!btreeTupleIsPosting(newitem, 0), "the new item cannot be a posting list");
  const state: FindSplitData = {
    rel,
    origpage,
    newitem,
    newitemsz: newitemsz + ITEMID_SIZE,
    isLeaf: pIsLeaf(opaque),
    isRightmost: pRightmost(opaque),
    newitemoff,
    leftspace,
    rightspace,
    olddataitemstotal,
    minfirstrightsz: Number.MAX_SAFE_INTEGER,
    splits: [],
    interval: 0,
  };

  // Every point between two items of the page with the new item in place. A point with nothing
  // on its left is never legal (everything would have to fit on the right page).
  let olddataitemstoleft = 0;
  for (let off = pFirstDataKey(opaque); off <= maxoff; off++) {
    const itemsz = maxAlign(itemIdGetLength(pageGetItemId(origpage, off))) + ITEMID_SIZE;
    if (off < newitemoff) recSplitLoc(state, off, false, olddataitemstoleft, itemsz);
    else if (off > newitemoff) recSplitLoc(state, off, true, olddataitemstoleft, itemsz);
    else {
      // Before the new item, and between the new item and the item now at newitemoff.
      recSplitLoc(state, off, false, olddataitemstoleft, itemsz);
      recSplitLoc(state, off, true, olddataitemstoleft, itemsz);
    }
    olddataitemstoleft += itemsz;
  }
  assert(olddataitemstoleft === olddataitemstotal, "data items add up to the page's used space");
  // After every original item: the new item alone on the right page.
  if (newitemoff > maxoff) recSplitLoc(state, newitemoff, false, olddataitemstotal, 0);
  if (state.splits.length === 0) {
    throw new PgsimError(
      "internal-error",
      `could not find a feasible split point for index "${rel.name}"`,
    );
  }

  let usemult: boolean;
  let fillfactormult: number;
  if (!state.isLeaf) {
    // Internal pages: 70% on the rightmost page, else even.
    usemult = state.isRightmost;
    fillfactormult = BTREE_NONLEAF_FILLFACTOR / 100.0;
  } else if (state.isRightmost) {
    usemult = true;
    fillfactormult = leaffillfactor / 100.0;
  } else {
    const after = afterNewItemOff(state, maxoff, leaffillfactor);
    if (after === undefined) {
      usemult = false;
      fillfactormult = 0.5;
    } else if (after.usemult) {
      usemult = true;
      fillfactormult = leaffillfactor / 100.0;
    } else {
      // Split exactly after the new item, when that is legal.
      for (const split of state.splits) {
        if (split.newitemonleft && split.firstrightoff === newitemoff) {
          return { firstrightoff: newitemoff, newitemonleft: true };
        }
      }
      usemult = false;
      fillfactormult = 0.5;
    }
  }

  // The whole page's extremes, before the sort loses the ordinal order.
  const leftpage = state.splits[0]!;
  const rightpage = state.splits[state.splits.length - 1]!;
  deltaSortSplits(state, fillfactormult, usemult);
  state.interval = defaultInterval(state);
  const { perfectpenalty, strategy } = chooseStrategy(state, leftpage, rightpage);
  if (strategy === "many-duplicates") {
    // Any legal split: the first one (by delta) at an edge of the duplicates wins.
    state.interval = state.splits.length;
  } else if (strategy === "single-value") {
    // Leave the left page 96% full; a heap TID in the high key cannot be avoided.
    deltaSortSplits(state, BTREE_SINGLEVAL_FILLFACTOR / 100.0, true);
    state.interval = 1;
  }
  return bestSplitLoc(state, perfectpenalty, strategy);
}

/** _bt_recsplitloc: records the candidate when both halves would fit. */
function recSplitLoc(
  state: FindSplitData,
  firstrightoff: number,
  newitemonleft: boolean,
  olddataitemstoleft: number,
  firstrightofforigpagetuplesz: number,
): void {
  const newitemisfirstright = firstrightoff === state.newitemoff && !newitemonleft;
  let firstrightsz: number;
  let postingsz = 0;
  if (newitemisfirstright) firstrightsz = state.newitemsz;
  else {
    firstrightsz = firstrightofforigpagetuplesz;
    // A posting list as firstright loses its TIDs in the new high key (only looked at for
    // tuples over 64 bytes, as PostgreSQL does).
    if (state.isLeaf && firstrightsz > 64) {
      const t = itemAt(state.origpage, firstrightoff);
      if (btreeTupleIsPosting(t, 0)) {
        postingsz = indexTupleSize(t, 0) - btreeTupleGetPostingOffset(t, 0);
      }
    }
  }
  let leftfree = int16(state.leftspace - olddataitemstoleft);
  let rightfree = int16(state.rightspace - (state.olddataitemstotal - olddataitemstoleft));
  // firstright becomes the left page's high key (leaf: maybe with a heap TID appended).
  if (state.isLeaf) leftfree = int16(leftfree - int16(firstrightsz + HEAP_TID_ROOM - postingsz));
  else leftfree = int16(leftfree - int16(firstrightsz));
  if (newitemonleft) leftfree = int16(leftfree - int16(state.newitemsz));
  else rightfree = int16(rightfree - int16(state.newitemsz));
  // Internal pages: firstright becomes the right page's minus-infinity item.
  if (!state.isLeaf) {
    rightfree = int16(rightfree + (int16(firstrightsz) - int16(MINUS_INFINITY_SIZE + ITEMID_SIZE)));
  }
  if (leftfree >= 0 && rightfree >= 0) {
    state.minfirstrightsz = Math.min(state.minfirstrightsz, firstrightsz);
    state.splits.push({ curdelta: 0, leftfree, rightfree, firstrightoff, newitemonleft });
  }
}

/** _bt_deltasortsplits: each candidate's distance from the target balance; sort by it. */
function deltaSortSplits(state: FindSplitData, fillfactormult: number, usemult: boolean): void {
  for (const split of state.splits) {
    let delta = usemult
      ? int16(fillfactormult * split.leftfree - (1.0 - fillfactormult) * split.rightfree)
      : int16(split.leftfree - split.rightfree);
    if (delta < 0) delta = int16(-delta);
    split.curdelta = delta;
  }
  pgQsort(state.splits, (a, b) => (a.curdelta > b.curdelta ? 1 : a.curdelta < b.curdelta ? -1 : 0));
}

/**
 * _bt_afternewitemoff: whether a localized ascending insertion pattern in a multi-column index
 * calls for splitting right after the new item (usemult false) or at the leaf fill factor
 * (usemult true); undefined when it does not apply.
 */
function afterNewItemOff(
  state: FindSplitData,
  maxoff: number,
  leaffillfactor: number,
): { usemult: boolean } | undefined {
  const nkeyatts = state.rel.nkeyatts;
  if (nkeyatts === 1) return undefined;
  if (state.newitemoff === P_FIRSTKEY) return undefined;
  // Only pages of equal-sized tuples (the high key is not among olddataitemstotal).
  if (state.newitemsz !== state.minfirstrightsz) return undefined;
  if (state.newitemsz * (maxoff - 1) !== state.olddataitemstotal) return undefined;
  // No wider than two int8 attributes.
  if (state.newitemsz > maxAlign(8 + 16) + ITEMID_SIZE) return undefined;
  if (state.newitemoff > maxoff) {
    const keepnatts = btKeepNattsFast(state.rel, itemAt(state.origpage, maxoff), state.newitem);
    return keepnatts > 1 && keepnatts <= nkeyatts ? { usemult: true } : undefined;
  }
  const tup = itemAt(state.origpage, state.newitemoff - 1);
  if (!adjacentHtid(readItemPointer(tup, 0), readItemPointer(state.newitem, 0))) {
    return undefined;
  }
  const keepnatts = btKeepNattsFast(state.rel, tup, state.newitem);
  if (keepnatts > 1 && keepnatts <= nkeyatts) {
    const interp = state.newitemoff / (maxoff + 1);
    return { usemult: interp > leaffillfactor / 100.0 };
  }
  return undefined;
}

/** _bt_adjacenthtid: `high` was probably inserted into the heap right after `low`. */
function adjacentHtid(
  low: { block: number; offset: number },
  high: { block: number; offset: number },
): boolean {
  if (low.block === high.block) return true;
  return low.block + 1 === high.block && high.offset === 1;
}

/** _bt_bestsplitloc: the lowest penalty among the first `interval` candidates. */
function bestSplitLoc(
  state: FindSplitData,
  perfectpenalty: number,
  strategy: FindSplitStrat,
): BtSplitLocation {
  const highsplit = Math.min(state.interval, state.splits.length);
  let bestpenalty = Number.MAX_SAFE_INTEGER;
  let lowsplit = 0;
  for (let i = 0; i < highsplit; i++) {
    const penalty = splitPenalty(state, state.splits[i]!);
    if (penalty < bestpenalty) {
      bestpenalty = penalty;
      lowsplit = i;
    }
    if (penalty <= perfectpenalty) break;
  }
  let final = state.splits[lowsplit]!;
  // Many duplicates with the new item just to the right of the chosen point, on a page that is
  // not rightmost: decreasing insertions would keep splitting here, so split 50:50 instead.
  if (
    strategy === "many-duplicates" &&
    !state.isRightmost &&
    !final.newitemonleft &&
    final.firstrightoff >= state.newitemoff &&
    final.firstrightoff < state.newitemoff + MAX_LEAF_INTERVAL
  ) {
    final = state.splits[0]!;
  }
  return { firstrightoff: final.firstrightoff, newitemonleft: final.newitemonleft };
}

/**
 * _bt_defaultinterval: how many of the sorted candidates divide free space within the tolerance
 * (5% of the data on leaves, 7.5% on internal pages) of the best one.
 */
function defaultInterval(state: FindSplitData): number {
  const tolerance = int16(
    state.olddataitemstotal * (state.isLeaf ? LEAF_SPLIT_DISTANCE : INTERNAL_SPLIT_DISTANCE),
  );
  const best = state.splits[0]!;
  const lowleftfree = int16(best.leftfree - tolerance);
  const lowrightfree = int16(best.rightfree - tolerance);
  const highleftfree = int16(best.leftfree + tolerance);
  const highrightfree = int16(best.rightfree + tolerance);
  for (let i = 1; i < state.splits.length; i++) {
    const split = state.splits[i]!;
    if (
      split.leftfree < lowleftfree ||
      split.rightfree < lowrightfree ||
      split.leftfree > highleftfree ||
      split.rightfree > highrightfree
    ) {
      return i;
    }
  }
  return state.splits.length;
}

/**
 * _bt_strategy: the default interval if some split in it avoids a heap TID in the new high key;
 * otherwise many duplicates (some split on the page avoids it) or single value (none does, and
 * this is the last page of the value).
 */
function chooseStrategy(
  state: FindSplitData,
  leftpage: SplitPoint,
  rightpage: SplitPoint,
): { perfectpenalty: number; strategy: FindSplitStrat } {
  const nkeyatts = state.rel.nkeyatts;
  // Internal pages: the smallest firstright anywhere is the best any split can do.
  if (!state.isLeaf) return { perfectpenalty: state.minfirstrightsz, strategy: "default" };
  const { leftinterval, rightinterval } = intervalEdges(state);
  let perfectpenalty = btKeepNattsFast(
    state.rel,
    splitLastLeft(state, leftinterval),
    splitFirstRight(state, rightinterval),
  );
  if (perfectpenalty <= nkeyatts) return { perfectpenalty, strategy: "default" };
  perfectpenalty = btKeepNattsFast(
    state.rel,
    splitLastLeft(state, leftpage),
    splitFirstRight(state, rightpage),
  );
  if (perfectpenalty <= nkeyatts) return { perfectpenalty: nkeyatts, strategy: "many-duplicates" };
  if (state.isRightmost) return { perfectpenalty, strategy: "single-value" };
  // Single value only on the last page of the value: the high key differs from the new item.
  perfectpenalty = btKeepNattsFast(state.rel, itemAt(state.origpage, P_HIKEY), state.newitem);
  return { perfectpenalty, strategy: perfectpenalty <= nkeyatts ? "single-value" : "default" };
}

/** _bt_interval_edges: the leftmost and rightmost candidates of the current interval. */
function intervalEdges(state: FindSplitData): {
  leftinterval: SplitPoint;
  rightinterval: SplitPoint;
} {
  const highsplit = Math.min(state.interval, state.splits.length);
  const deltaoptimal = state.splits[0]!;
  let leftinterval: SplitPoint | undefined;
  let rightinterval: SplitPoint | undefined;
  for (let i = highsplit - 1; i >= 0; i--) {
    const distant = state.splits[i]!;
    if (distant.firstrightoff < deltaoptimal.firstrightoff) {
      leftinterval ??= distant;
    } else if (distant.firstrightoff > deltaoptimal.firstrightoff) {
      rightinterval ??= distant;
    } else if (!distant.newitemonleft && deltaoptimal.newitemonleft) {
      // "The new item becomes firstright" lies left of "the new item becomes lastleft".
      leftinterval ??= distant;
    } else if (distant.newitemonleft && !deltaoptimal.newitemonleft) {
      rightinterval ??= distant;
    } else {
      leftinterval ??= distant;
      rightinterval ??= distant;
    }
    if (leftinterval !== undefined && rightinterval !== undefined) {
      return { leftinterval, rightinterval };
    }
  }
  assert(false, "_bt_interval_edges finds both edges");
}

/**
 * _bt_split_penalty: leaf — the attribute that distinguishes lastleft from firstright (how much
 * of the new high key must be kept); internal — firstright's size with its line pointer.
 */
function splitPenalty(state: FindSplitData, split: SplitPoint): number {
  if (!state.isLeaf) {
    if (!split.newitemonleft && split.firstrightoff === state.newitemoff) return state.newitemsz;
    return (
      maxAlign(itemIdGetLength(pageGetItemId(state.origpage, split.firstrightoff))) + ITEMID_SIZE
    );
  }
  return btKeepNattsFast(state.rel, splitLastLeft(state, split), splitFirstRight(state, split));
}

/** _bt_split_lastleft. */
function splitLastLeft(state: FindSplitData, split: SplitPoint): Uint8Array {
  if (split.newitemonleft && split.firstrightoff === state.newitemoff) return state.newitem;
  return itemAt(state.origpage, split.firstrightoff - 1);
}

/** _bt_split_firstright. */
function splitFirstRight(state: FindSplitData, split: SplitPoint): Uint8Array {
  if (!split.newitemonleft && split.firstrightoff === state.newitemoff) return state.newitem;
  return itemAt(state.origpage, split.firstrightoff);
}
