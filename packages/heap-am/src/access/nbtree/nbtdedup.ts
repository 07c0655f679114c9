/**
 * Deduplication: merging equal non-pivot tuples into posting-list tuples, in CREATE INDEX and in
 * the pass over a full leaf page that an insertion makes before it splits the page.
 *
 * Models: src/backend/access/nbtree/nbtdedup.c (_bt_dedup_pass, _bt_dedup_start_pending,
 * _bt_dedup_save_htid, _bt_dedup_finish_pending, _bt_do_singleval, _bt_singleval_fillfactor,
 * _bt_form_posting, _bt_swap_posting) as CREATE INDEX (nbtsort.c `_bt_load`) and insertion
 * (nbtinsert.c `_bt_delete_or_dedup_one_page`) use them.
 * Entry points: `BtDedupState`, `btDedupStartPending`, `btDedupSaveHtid`, `btFormPosting`,
 * `btDedupPass`, `btSwapPosting`.
 * See also: nbtsort.ts (the build's dedup loop), nbtinsert.ts (when the pass runs),
 * ../../include/access/nbtree.ts (posting layout).
 *
 * Differs from PostgreSQL: no bottom-up deletion (_bt_bottomupdel_pass: it needs the table AM's
 * index_delete_tuples); the pass writes no WAL record yet (XLOG_BTREE_DEDUP).
 */

import { assert, PgsimError } from "@pgsim/clock-sweep";
import { type ItemPointer, maxAlign, writeItemPointer } from "../../include/access/htup-details.js";
import {
  INDEX_SIZE_MASK,
  indexTupleInfo,
  indexTupleSetInfo,
  indexTupleSize,
} from "../../include/access/itup.js";
import {
  BT_IS_POSTING,
  BT_USABLE_PAGE_BYTES,
  BTMaxItemSize,
  BTP_HAS_GARBAGE,
  BTREE_SINGLEVAL_FILLFACTOR,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetMaxHeapTid,
  btreeTupleGetNPosting,
  btreeTupleGetPostingOffset,
  btreeTupleHeapTids,
  btreeTupleIsPivot,
  btreeTupleIsPosting,
  INDEX_ALT_TID_MASK,
  P_HIKEY,
  pFirstDataKey,
  pRightmost,
} from "../../include/access/nbtree.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  pageAddItemExtended,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetSpecial,
} from "../../storage/page/bufpage.js";
import { btPageInit } from "./nbtpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btKeepNattsFast } from "./nbtutils.js";

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
  /** Lists found or refused at maxpostingsize with more than 50 TIDs (single-value strategy). */
  nmaxitems?: number;
  /** Bytes (MAXALIGNed, with line pointers) of the tuples merged into the pending list. */
  phystupsize?: number;
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
  state.phystupsize = maxAlign(indexTupleSize(base, 0)) + 4;
}

/**
 * _bt_dedup_save_htid: adds `itup`'s TIDs to the pending list unless the merged tuple would
 * exceed maxpostingsize (then returns false and the caller finishes the list as it is).
 */
export function btDedupSaveHtid(state: BtDedupState, itup: Uint8Array): boolean {
  const tids = btreeTupleHeapTids(itup, 0);
  const merged = maxAlign(state.basetupsize + (state.htids.length + tids.length) * 6);
  if (merged > state.maxpostingsize) {
    // Counted for the single-value strategy only when the list has more than 50 TIDs.
    if (state.nmaxitems !== undefined && state.htids.length > 50) state.nmaxitems++;
    return false;
  }
  state.nitems++;
  state.htids.push(...tids);
  if (state.phystupsize !== undefined) state.phystupsize += maxAlign(indexTupleSize(itup, 0)) + 4;
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

/** What a deduplication pass did: the intervals XLOG_BTREE_DEDUP records (empty: no change). */
export interface BtDedupResult {
  /** Per posting list formed: the offset of its first (base) item and how many items it merged. */
  readonly intervals: readonly { readonly baseoff: number; readonly nitems: number }[];
  /** Bytes freed (tuples and line pointers). */
  readonly spacesaving: number;
}

/**
 * _bt_dedup_pass: rebuilds the full leaf `page` (exclusively locked by the caller, which marks it
 * dirty when intervals come back) with runs of equal tuples merged into posting lists of at most
 * 1352 bytes. With the single-value strategy (a page whose first and last items equal `newitem`,
 * unless `bottomupdedup`), only five lists of the full size and a sixth of a reduced size are
 * formed, leaving the page about 96% full for the split that follows. When no list is formed the
 * page is left as it was. `newitemsz` is the new item's MAXALIGNed size (no line pointer).
 */
export function btDedupPass(
  rel: BtIndexRelation,
  page: Uint8Array,
  newitem: Uint8Array,
  newitemsz: number,
  bottomupdedup: boolean,
): BtDedupResult {
  const opaque = btPageGetOpaque(page);
  const nkeyatts = rel.nkeyatts;
  const newitemszLp = newitemsz + 4;
  const state: BtDedupState = {
    maxpostingsize: Math.min(Math.floor(BTMaxItemSize / 2), INDEX_SIZE_MASK),
    base: new Uint8Array(0),
    basetupsize: 0,
    htids: [],
    nitems: 0,
    nmaxitems: 0,
    phystupsize: 0,
  };
  const minoff = pFirstDataKey(opaque);
  const maxoff = pageGetMaxOffsetNumber(page);
  let singlevalstrat = !bottomupdedup && doSingleVal(rel, page, minoff, newitem);
  let deduplicate = true;

  // PageGetTempPageCopySpecial: a fresh page with the same special space (and LSN).
  const newpage = new Uint8Array(page.length);
  btPageInit(newpage);
  newpage.set(page.subarray(pageGetSpecial(page)), pageGetSpecial(page));
  newpage.set(page.subarray(0, 8), 0);
  if (!pRightmost(opaque)) {
    if (pageAddItemExtended(newpage, itemAt(page, P_HIKEY), P_HIKEY, 0) !== P_HIKEY) {
      throw new PgsimError("internal-error", "deduplication failed to add highkey");
    }
  }
  const intervals: { baseoff: number; nitems: number }[] = [];
  let baseoff = minoff;
  let pagesaving = 0;
  const finishPending = () => {
    const tupoff = pageGetMaxOffsetNumber(newpage) + 1;
    let tuple = state.base;
    if (state.nitems > 1) {
      tuple = btFormPosting(state.base, state.htids);
      intervals.push({ baseoff, nitems: state.nitems });
      pagesaving += state.phystupsize! - (tuple.length + 4);
    }
    if (pageAddItemExtended(newpage, tuple, tupoff, 0) !== tupoff) {
      throw new PgsimError("internal-error", "deduplication failed to add tuple to page");
    }
  };
  for (let off = minoff; off <= maxoff; off++) {
    const itup = itemAt(page, off);
    if (off === minoff) {
      btDedupStartPending(state, itup);
      baseoff = off;
    } else if (
      deduplicate &&
      btKeepNattsFast(rel, state.base, itup) > nkeyatts &&
      btDedupSaveHtid(state, itup)
    ) {
      // Merged into the pending list.
    } else {
      finishPending();
      if (singlevalstrat) {
        // Five lists at the cap seen or formed: a smaller sixth, then no more merging.
        if (state.nmaxitems === 5) singleValFillfactor(state, newitemszLp);
        else if (state.nmaxitems === 6) {
          deduplicate = false;
          singlevalstrat = false;
        }
      }
      btDedupStartPending(state, itup);
      baseoff = off;
    }
  }
  finishPending();
  if (intervals.length === 0) return { intervals, spacesaving: 0 };
  const nopaque = btPageGetOpaque(newpage);
  if ((nopaque.flags & BTP_HAS_GARBAGE) !== 0) {
    btPageSetOpaque(newpage, { ...nopaque, flags: nopaque.flags & ~BTP_HAS_GARBAGE });
  }
  page.set(newpage);
  return { intervals, spacesaving: pagesaving };
}

/** _bt_do_singleval: the page's first and last data items both equal `newitem`. */
function doSingleVal(
  rel: BtIndexRelation,
  page: Uint8Array,
  minoff: number,
  newitem: Uint8Array,
): boolean {
  if (btKeepNattsFast(rel, newitem, itemAt(page, minoff)) <= rel.nkeyatts) return false;
  return btKeepNattsFast(rel, newitem, itemAt(page, pageGetMaxOffsetNumber(page))) > rel.nkeyatts;
}

/**
 * _bt_singleval_fillfactor: lowers maxpostingsize by 4% of the left half's space after a split
 * (the same sum nbtsplitloc.c makes), for the sixth and last list.
 */
function singleValFillfactor(state: BtDedupState, newitemszLp: number): void {
  const leftfree = BT_USABLE_PAGE_BYTES - (newitemszLp + 8);
  const reduction = Math.trunc(leftfree * ((100 - BTREE_SINGLEVAL_FILLFACTOR) / 100.0));
  state.maxpostingsize = state.maxpostingsize > reduction ? state.maxpostingsize - reduction : 0;
}

/** The tuple at `off` of `page` (a view). */
function itemAt(page: Uint8Array, off: number): Uint8Array {
  const id = pageGetItemId(page, off);
  const at = itemIdGetOffset(id);
  return page.subarray(at, at + itemIdGetLength(id));
}

/**
 * _bt_swap_posting: returns the new posting list (same size as `oposting`) with `newitem`'s TID
 * at `postingoff` and the TIDs after it moved right by one; `newitem`'s t_tid becomes the old list's
 * max TID. Throws PostgreSQL's error for an impossible postingoff.
 */
export function btSwapPosting(
  newitem: Uint8Array,
  oposting: Uint8Array,
  postingoff: number,
): Uint8Array {
  const nhtids = btreeTupleGetNPosting(oposting, 0);
  if (!(postingoff > 0 && postingoff < nhtids)) {
    throw new PgsimError(
      "index-corrupted",
      `posting list tuple with ${nhtids} items cannot be split at offset ${postingoff}`,
    );
  }
  const nposting = oposting.slice();
  const base = btreeTupleGetPostingOffset(nposting, 0);
  const at = base + 6 * postingoff;
  nposting.copyWithin(at + 6, at, base + 6 * (nhtids - 1));
  nposting.set(newitem.subarray(0, 6), at);
  writeItemPointer(newitem, 0, btreeTupleGetMaxHeapTid(oposting, 0));
  return nposting;
}
