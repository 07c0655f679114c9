/**
 * Deduplication: merging equal non-pivot tuples into posting-list tuples.
 *
 * Models: src/backend/access/nbtree/nbtdedup.c (_bt_dedup_start_pending, _bt_dedup_save_htid,
 * _bt_form_posting) as CREATE INDEX uses them (nbtsort.c `_bt_load`).
 * Entry points: `BtDedupState`, `btDedupStartPending`, `btDedupSaveHtid`, `btFormPosting`.
 * See also: nbtsort.ts (the build's dedup loop), ../../include/access/nbtree.ts (posting layout).
 *
 * Differs from PostgreSQL: only the build's use is modelled; the insert path's _bt_dedup_pass
 * (dedup of a full leaf page before a split), single-value strategy and bottom-up deletion are
 * not (pgsim has no index insertion yet).
 */

import { assert } from "@pgsim/clock-sweep";
import { type ItemPointer, maxAlign, writeItemPointer } from "../../include/access/htup-details.js";
import {
  INDEX_SIZE_MASK,
  indexTupleInfo,
  indexTupleSetInfo,
  indexTupleSize,
} from "../../include/access/itup.js";
import {
  BT_IS_POSTING,
  btreeTupleGetPostingOffset,
  btreeTupleHeapTids,
  btreeTupleIsPivot,
  btreeTupleIsPosting,
  INDEX_ALT_TID_MASK,
} from "../../include/access/nbtree.js";

/** BTDedupStateData: the pending posting list. */
export interface BtDedupState {
  /** Largest posting tuple allowed (812 bytes in CREATE INDEX). */
  maxpostingsize: number;
  /** The first tuple of the pending list (a copy). */
  base: Uint8Array;
  /** Bytes of base's key part (its posting offset, or its size). */
  basetupsize: number;
  /** Heap TIDs of the pending list, ascending. */
  htids: ItemPointer[];
  /** Tuples merged into the pending list. */
  nitems: number;
}

/** _bt_dedup_start_pending: starts a pending list with `base`. */
export function btDedupStartPending(state: BtDedupState, base: Uint8Array): void {
  assert(!btreeTupleIsPivot(base, 0), "dedup merges non-pivot tuples");
  state.base = base;
  state.basetupsize = btreeTupleIsPosting(base, 0)
    ? btreeTupleGetPostingOffset(base, 0)
    : indexTupleSize(base, 0);
  state.htids = btreeTupleHeapTids(base, 0);
  state.nitems = 1;
}

/**
 * _bt_dedup_save_htid: adds `itup`'s TIDs to the pending list unless the merged tuple would
 * exceed maxpostingsize (then returns false and the caller finishes the list as it is).
 */
export function btDedupSaveHtid(state: BtDedupState, itup: Uint8Array): boolean {
  const tids = btreeTupleHeapTids(itup, 0);
  const merged = maxAlign(state.basetupsize + (state.htids.length + tids.length) * 6);
  if (merged > state.maxpostingsize) return false;
  state.nitems++;
  state.htids.push(...tids);
  return true;
}

/**
 * _bt_form_posting: `base`'s key part with `htids` (ascending). One TID gives a plain tuple
 * (ALT_TID cleared, t_tid = the TID); more give a posting tuple of MAXALIGN(keysize + 6n) bytes:
 * t_tid block = posting offset, t_tid offset = BT_IS_POSTING | n. Zero-filled, as palloc0.
 */
export function btFormPosting(base: Uint8Array, htids: readonly ItemPointer[]): Uint8Array {
  const keysize = btreeTupleIsPosting(base, 0)
    ? btreeTupleGetPostingOffset(base, 0)
    : indexTupleSize(base, 0);
  assert(keysize === maxAlign(keysize), "the key part is MAXALIGNed");
  const n = htids.length;
  assert(n > 0 && n <= 0xffff, "a posting list has 1..65535 TIDs");
  const newsize = n > 1 ? maxAlign(keysize + n * 6) : keysize;
  assert(newsize <= INDEX_SIZE_MASK, "posting tuple fits INDEX_SIZE_MASK");
  const itup = new Uint8Array(newsize);
  itup.set(base.subarray(0, keysize));
  let info = (indexTupleInfo(itup, 0) & ~INDEX_SIZE_MASK) | newsize;
  if (n > 1) {
    info |= INDEX_ALT_TID_MASK;
    indexTupleSetInfo(itup, 0, info);
    writeItemPointer(itup, 0, { block: keysize, offset: n | BT_IS_POSTING });
    for (let i = 0; i < n; i++) writeItemPointer(itup, keysize + 6 * i, htids[i]!);
  } else {
    indexTupleSetInfo(itup, 0, info & ~INDEX_ALT_TID_MASK);
    writeItemPointer(itup, 0, htids[0]!);
  }
  return itup;
}
