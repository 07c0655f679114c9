/**
 * A structural check of a B-tree index: the invariants contrib/amcheck verifies, over the
 * index's page images, with amcheck's messages.
 *
 * Models: contrib/amcheck/verify_nbtree.c (bt_index_check and the parent checks of
 * bt_index_parent_check: bt_check_every_level, bt_check_level_from_leftmost, bt_target_page_check,
 * bt_child_check, bt_child_highkey_check, bt_downlink_missing_check; _bt_check_natts from
 * nbtutils.c).
 * Entry points: `btIndexCheck`.
 * See also: nbtsearch.ts (btCompare), ../../include/access/nbtree.ts, README.md ("What the
 * structural check verifies").
 *
 * What it checks (numbered as in README.md):
 * 1. Metapage: magic, version 2..4, root and fast root inside the index (a fast root below the
 *    true root, left by page deletion, is fine: the walk starts at the true root).
 * 2. Levels: from the root down, each level is walked left to right through btpo_next; the first
 *    page has no left sibling, each page's btpo_prev names the page before it, levels are the
 *    expected number, BTP_LEAF is set exactly on level 0, BTP_ROOT exactly on the root, no live
 *    page links to a deleted page, a half-dead page (an interrupted deletion: linked to its
 *    siblings, no downlink, never rightmost, only on the leaf level) is skipped, BTP_HAS_FULLXID
 *    appears on deleted pages only, and no level runs past the index's size (a loop).
 * 3. Items: line pointers inside the tuple space, lp_len = IndexTupleSize, at most 408 items,
 *    attribute counts as _bt_check_natts allows, posting-list TIDs strictly ascending, non-pivot
 *    tuples no larger than BTMaxItemSize.
 * 4. Order: items strictly increasing within a page (heap TID included), every item ≤ the high
 *    key (< on internal pages), the last item of a leaf < the first item of its right sibling.
 * 5. Parent/child (with `parent`): the downlinks of each level, in order, are exactly the pages of
 *    the level below; a child's level is its parent's − 1; each child's high key equals the next
 *    pivot in the parent (the parent's own high key for its last downlink; none for the rightmost);
 *    each downlink's key ≤ the first item of a leaf child.
 *
 * Differs from PostgreSQL: amcheck reads the live index under locks and raises the first
 * problem as an ERROR; pgsim checks page images and throws the first problem as a PgsimError
 * (`index-corrupted`) with amcheck's message. heapallindexed and rootdescend are not modelled
 * (the result counts the heap TIDs so that a caller can compare them with the table).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { maxAlign } from "../../include/access/htup-details.js";
import { indexTupleSize, MaxIndexTuplesPerPage } from "../../include/access/itup.js";
import {
  BT_PIVOT_HEAP_TID_ATTR,
  BTMaxItemSize,
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_HAS_FULLXID,
  BTP_LEAF,
  BTP_ROOT,
  type BTPageOpaque,
  BTREE_MAGIC,
  BTREE_MIN_VERSION,
  BTREE_VERSION,
  btPageGetOpaque,
  btreeTupleGetDownLink,
  btreeTupleGetHeapTid,
  btreeTupleGetNAtts,
  btreeTupleGetNPosting,
  btreeTupleGetPostingN,
  btreeTupleIsPivot,
  btreeTupleIsPosting,
  itemPointerCompare,
  P_HIKEY,
  P_NONE,
  pFirstDataKey,
  pRightmost,
  readBtMeta,
} from "../../include/access/nbtree.js";
import { readUint16 } from "../../include/port/le-bytes.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetSpecial,
  pageGetUpper,
  pageIsNew,
} from "../../storage/page/bufpage.js";
import type { BtIndexRelation } from "./nbtree.js";
import { btCompare, btScanKeyFromTuple } from "./nbtsearch.js";

/** What a successful check saw. */
export interface BtCheckResult {
  /** Levels of the tree (root level + 1; 0 for an empty index). */
  readonly levels: number;
  /** Pages reached from the root, per level (index 0 = leaves). */
  readonly pagesPerLevel: readonly number[];
  /** Non-pivot tuples on the leaf level. */
  readonly leafTuples: number;
  /** Heap TIDs on the leaf level (posting lists counted per TID). */
  readonly heapTids: number;
}

/** Options of `btIndexCheck`. */
export interface BtCheckOptions {
  /** Also check parent/child agreement (bt_index_parent_check). Default true. */
  readonly parent?: boolean;
}

function corrupt(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("index-corrupted", message, detail);
}

/**
 * bt_index_check / bt_index_parent_check over `pages` (every block of the index, block 0 the
 * metapage). Throws `index-corrupted` for the first broken invariant.
 */
export function btIndexCheck(
  rel: BtIndexRelation,
  pages: readonly Uint8Array[],
  options: BtCheckOptions = {},
): BtCheckResult {
  const name = rel.name;
  const nblocks = pages.length;
  if (nblocks === 0) throw corrupt(`index "${name}" has no metapage`);
  const meta = readBtMeta(pages[0]!);
  if (meta.magic !== BTREE_MAGIC) throw corrupt(`index "${name}" meta page is corrupt`);
  if (meta.version < BTREE_MIN_VERSION || meta.version > BTREE_VERSION) {
    throw corrupt(
      `version mismatch in index "${name}": file version ${meta.version}, current version ${BTREE_VERSION}, minimal supported version ${BTREE_MIN_VERSION}`,
    );
  }
  if (meta.root === P_NONE) return { levels: 0, pagesPerLevel: [], leafTuples: 0, heapTids: 0 };
  if (meta.root >= nblocks || meta.fastroot >= nblocks) {
    throw corrupt(`index "${name}" meta page is corrupt`, { root: meta.root, nblocks });
  }
  // A fast root below the true root (page deletion left one page on a level) is normal:
  // amcheck only notes "harmless fast root mismatch" at DEBUG1 and checks from the true root.
  const page = (blkno: number): Uint8Array => {
    if (blkno === P_NONE || blkno >= nblocks) {
      throw corrupt(`block ${blkno} fell off the end of index "${name}"`);
    }
    const p = pages[blkno]!;
    if (pageIsNew(p)) {
      throw corrupt(`index "${name}" contains unexpected zero page at block ${blkno}`);
    }
    if (pageGetSpecial(p) !== p.length - 16) {
      throw corrupt(`index "${name}" contains corrupted page at block ${blkno}`);
    }
    return p;
  };

  /** Half-dead leaves met on the way (they have no downlink). */
  const halfDead = new Set<number>();
  /**
   * The first page at or right of `blkno` that is neither half-dead nor deleted (as
   * bt_right_page_check_scankey moves right past ignored pages).
   */
  const nextLive = (blkno: number): number => {
    let b = blkno;
    for (let steps = 0; steps < nblocks; steps++) {
      const o = btPageGetOpaque(page(b));
      if ((o.flags & (BTP_HALF_DEAD | BTP_DELETED)) === 0 || pRightmost(o)) return b;
      b = o.next;
    }
    throw corrupt(`circular link chain found in block ${blkno} of index "${name}"`);
  };
  const levelsBlocks: number[][] = [];
  /** The downlinks of each internal level, by the level they point to. */
  const pendingDownlinks = new Map<number, number[]>();
  let leftmost = meta.root;
  let leafTuples = 0;
  let heapTids = 0;
  for (let level = meta.level; level >= 0; level--) {
    const blocks: number[] = [];
    const downlinks: number[] = [];
    let prev = P_NONE;
    for (let blkno = leftmost, steps = 0; blkno !== P_NONE; steps++) {
      if (steps >= nblocks) {
        throw corrupt(`circular link chain found in block ${blkno} of index "${name}"`);
      }
      const p = page(blkno);
      const o = btPageGetOpaque(p);
      checkPageFlags(name, o, blkno);
      if ((o.flags & (BTP_DELETED | BTP_HALF_DEAD)) !== 0) {
        // bt_check_level_from_leftmost: no live page links to a deleted page (the check runs with
        // no concurrent VACUUM); a half-dead leaf (an interrupted deletion) is still linked to its
        // siblings but has no downlink, and is skipped — never the last page of its level.
        if ((o.flags & BTP_DELETED) !== 0) {
          throw corrupt(`downlink or sibling link points to deleted block in index "${name}"`, {
            detail: `Block=${blkno} left block=${prev} left link from block=${o.prev}.`,
          });
        }
        if (pRightmost(o)) throw corrupt(`block ${blkno} fell off the end of index "${name}"`);
        halfDead.add(blkno);
        if (o.prev !== prev) {
          throw corrupt(`left link/right link pair in index "${name}" not in agreement`, {
            detail: `Block=${blkno} left block=${prev} left link from block=${o.prev}.`,
          });
        }
        prev = blkno;
        blkno = o.next;
        continue;
      }
      if (o.prev !== prev) {
        throw corrupt(`left link/right link pair in index "${name}" not in agreement`, {
          detail: `Block=${blkno} left block=${prev} left link from block=${o.prev}.`,
        });
      }
      if (o.level !== level) {
        throw corrupt(
          level === 0
            ? `invalid leaf page level ${o.level} for block ${blkno} in index "${name}"`
            : `leftmost down link for level points to block in index "${name}" whose level is not one level down`,
          { block: blkno, expected: level, found: o.level },
        );
      }
      if (((o.flags & BTP_LEAF) !== 0) !== (level === 0)) {
        throw corrupt(
          level === 0
            ? `invalid leaf page level ${o.level} for block ${blkno} in index "${name}"`
            : `invalid internal page level 0 for block ${blkno} in index "${name}"`,
        );
      }
      if (((o.flags & BTP_ROOT) !== 0) !== (blkno === meta.root)) {
        throw corrupt(`block ${blkno} of index "${name}" has a wrong BTP_ROOT flag`);
      }
      const counts = checkPage(rel, p, blkno);
      leafTuples += counts.tuples;
      heapTids += counts.tids;
      if (level > 0) {
        for (let off = pFirstDataKey(o); off <= pageGetMaxOffsetNumber(p); off++) {
          downlinks.push(btreeTupleGetDownLink(p, itemIdGetOffset(pageGetItemId(p, off))));
        }
      }
      if (level === 0 && !pRightmost(o)) checkCrossPage(rel, p, page(nextLive(o.next)));
      blocks.push(blkno);
      prev = blkno;
      blkno = o.next;
    }
    levelsBlocks.push(blocks);
    if (level > 0) {
      if (downlinks.length === 0) {
        throw corrupt(`internal block ${blocks[0]} in index "${name}" lacks downlinks`);
      }
      leftmost = downlinks[0]!;
      if (options.parent !== false) {
        for (const blkno of blocks) checkChildren(rel, page, blkno, level);
        // Filled in below, once the level under this one is known.
        pendingDownlinks.set(level - 1, downlinks);
      }
    }
  }
  if (options.parent !== false) {
    levelsBlocks.reverse();
    for (const [level, downlinks] of pendingDownlinks) {
      const below = levelsBlocks[level]!;
      for (let i = 0; i < Math.max(below.length, downlinks.length); i++) {
        if (below[i] !== downlinks[i]) {
          throw corrupt(
            level === 0
              ? `leaf index block lacks downlink in index "${name}"`
              : `internal index block lacks downlink in index "${name}"`,
            { block: below[i], downlink: downlinks[i], level },
          );
        }
      }
    }
  } else {
    levelsBlocks.reverse();
  }
  return {
    levels: meta.level + 1,
    pagesPerLevel: levelsBlocks.map((b) => b.length),
    leafTuples,
    heapTids,
  };
}

/**
 * palloc_btree_page's flag checks: only leaves are ever half-dead (an internal one comes from an
 * interrupted VACUUM before 9.4), and only deleted pages carry a full safexid.
 */
function checkPageFlags(name: string, o: BTPageOpaque, blkno: number): void {
  if ((o.flags & BTP_LEAF) === 0 && (o.flags & BTP_HALF_DEAD) !== 0) {
    throw corrupt(`internal page block ${blkno} in index "${name}" is half-dead`, {
      hint: "This can be caused by an interrupted VACUUM in version 9.3 or older, before upgrade. Please REINDEX it.",
    });
  }
  if ((o.flags & BTP_DELETED) === 0 && (o.flags & BTP_HAS_FULLXID) !== 0) {
    throw corrupt(`block ${blkno} of index "${name}" has BTP_HAS_FULLXID set but is not deleted`);
  }
}

/** Items, attribute counts and order within one page; returns its non-pivot tuples and TIDs. */
function checkPage(
  rel: BtIndexRelation,
  p: Uint8Array,
  blkno: number,
): { tuples: number; tids: number } {
  const name = rel.name;
  const o = btPageGetOpaque(p);
  const leaf = (o.flags & BTP_LEAF) !== 0;
  const rightmost = pRightmost(o);
  const maxoff = pageGetMaxOffsetNumber(p);
  const first = pFirstDataKey(o);
  if (maxoff > MaxIndexTuplesPerPage) {
    throw corrupt(
      `number of items on block ${blkno} of index "${name}" exceeds MaxIndexTuplesPerPage (${MaxIndexTuplesPerPage})`,
    );
  }
  if (!rightmost && maxoff < P_HIKEY) {
    throw corrupt(
      `non-rightmost ${leaf ? "leaf" : "internal"} block ${blkno} in index "${name}" lacks high key item`,
    );
  }
  if (!leaf && maxoff < first) {
    throw corrupt(`internal block ${blkno} in index "${name}" lacks downlinks`);
  }
  const upper = pageGetUpper(p);
  const special = pageGetSpecial(p);
  let tuples = 0;
  let tids = 0;
  for (let off = 1; off <= maxoff; off++) {
    const id = pageGetItemId(p, off);
    const t = itemIdGetOffset(id);
    const len = itemIdGetLength(id);
    if (t < upper || t + len > special || t !== maxAlign(t) || len < 8) {
      throw corrupt(`line pointer points past end of tuple space in index "${name}"`, {
        detail: `Index tid=(${blkno},${off}) lp_off=${t}, lp_len=${len} lp_flags=${(id >>> 15) & 3}.`,
      });
    }
    if (indexTupleSize(p, t) !== len) {
      throw corrupt(`index tuple size does not equal lp_len in index "${name}"`, {
        detail: `Index tid=(${blkno},${off}) tuple size=${indexTupleSize(p, t)} lp_len=${len}.`,
      });
    }
    checkNatts(rel, p, blkno, off, t, leaf, rightmost, first);
    if (leaf && !(off === P_HIKEY && !rightmost)) {
      tuples++;
      if (maxAlign(len) > BTMaxItemSize) {
        throw corrupt(`index row size ${maxAlign(len)} exceeds maximum for index "${name}"`);
      }
      if (btreeTupleIsPosting(p, t)) {
        const n = btreeTupleGetNPosting(p, t);
        for (let i = 1; i < n; i++) {
          if (
            itemPointerCompare(
              btreeTupleGetPostingN(p, t, i - 1),
              btreeTupleGetPostingN(p, t, i),
            ) >= 0
          ) {
            throw corrupt(`posting list contains misplaced TID in index "${name}"`, {
              detail: `Index tid=(${blkno},${off}) posting list offset=${i}.`,
            });
          }
        }
        tids += n;
      } else {
        tids++;
      }
    }
  }
  for (let off = first; off < maxoff; off++) {
    // Item off must be strictly less than item off + 1 (heap TID included).
    const next = itemIdGetOffset(pageGetItemId(p, off + 1));
    if (btCompare(rel, btScanKeyFromTuple(rel, p, next), p, off) <= 0) {
      throw corrupt(`item order invariant violated for index "${name}"`, {
        detail: `Lower index tid=(${blkno},${off}) higher index tid=(${blkno},${off + 1}).`,
      });
    }
  }
  if (!rightmost) {
    for (let off = first; off <= maxoff; off++) {
      if (!leaf && off === first) continue;
      const t = itemIdGetOffset(pageGetItemId(p, off));
      const r = btCompare(rel, btScanKeyFromTuple(rel, p, t, { maxTid: true }), p, P_HIKEY);
      if (leaf ? r > 0 : r >= 0) {
        throw corrupt(`high key invariant violated for index "${name}"`, {
          detail: `Index tid=(${blkno},${off}).`,
        });
      }
    }
  }
  return { tuples, tids };
}

/** _bt_check_natts. */
function checkNatts(
  rel: BtIndexRelation,
  p: Uint8Array,
  blkno: number,
  off: number,
  t: number,
  leaf: boolean,
  rightmost: boolean,
  first: number,
): void {
  const name = rel.name;
  const isHikey = !rightmost && off === P_HIKEY;
  const pivot = btreeTupleIsPivot(p, t);
  const natts = btreeTupleGetNAtts(p, t, rel.nkeyatts);
  const hasTid = pivot && (readUint16(p, t + 4) & BT_PIVOT_HEAP_TID_ATTR) !== 0;
  let ok: boolean;
  if (leaf && !isHikey) {
    ok = !pivot && btreeTupleGetHeapTid(p, t) !== undefined;
  } else if (!leaf && off === first) {
    ok = pivot && natts === 0 && !hasTid;
  } else {
    ok = pivot && natts >= 1 && natts <= rel.nkeyatts && (!hasTid || natts === rel.nkeyatts);
  }
  if (!ok) {
    throw corrupt(
      isHikey
        ? `wrong number of high key index tuple attributes in index "${name}"`
        : `wrong number of index tuple attributes in index "${name}"`,
      { detail: `Index tid=(${blkno},${off}) natts=${natts} page lsn=0/0.` },
    );
  }
}

/** The last item of a leaf is less than the first item of its right sibling. */
function checkCrossPage(rel: BtIndexRelation, p: Uint8Array, right: Uint8Array): void {
  const ro = btPageGetOpaque(right);
  const rfirst = pFirstDataKey(ro);
  const maxoff = pageGetMaxOffsetNumber(p);
  const first = pFirstDataKey(btPageGetOpaque(p));
  if (pageGetMaxOffsetNumber(right) < rfirst || maxoff < first) return;
  const key = btScanKeyFromTuple(rel, right, itemIdGetOffset(pageGetItemId(right, rfirst)));
  if (btCompare(rel, key, p, maxoff) <= 0) {
    throw corrupt(`cross page item order invariant violated for index "${rel.name}"`);
  }
}

/** The bytes of a pivot that bt_pivot_tuple_identical compares: all but the block number. */
function pivotBytes(p: Uint8Array, t: number): Uint8Array {
  return p.subarray(t + 4, t + indexTupleSize(p, t));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Parent/child checks for the downlinks of internal page `blkno` at `level`. */
function checkChildren(
  rel: BtIndexRelation,
  page: (blkno: number) => Uint8Array,
  blkno: number,
  level: number,
): void {
  const name = rel.name;
  const p = page(blkno);
  const o = btPageGetOpaque(p);
  const first = pFirstDataKey(o);
  const maxoff = pageGetMaxOffsetNumber(p);
  for (let off = first; off <= maxoff; off++) {
    const t = itemIdGetOffset(pageGetItemId(p, off));
    const childBlk = btreeTupleGetDownLink(p, t);
    const child = page(childBlk);
    const co = btPageGetOpaque(child);
    if (co.level !== level - 1) {
      throw corrupt(`downlink to block ${childBlk} of index "${name}" has the wrong level`, {
        detail: `Parent block=${blkno} level=${level}, child level=${co.level}.`,
      });
    }
    // The child's high key must be the separator after its downlink.
    let expected: Uint8Array | undefined;
    if (off < maxoff) expected = pivotBytes(p, itemIdGetOffset(pageGetItemId(p, off + 1)));
    else if (!pRightmost(o)) expected = pivotBytes(p, itemIdGetOffset(pageGetItemId(p, P_HIKEY)));
    if (expected === undefined) {
      if (!pRightmost(co)) {
        throw corrupt(`mismatch between parent key and child high key in index "${name}"`, {
          detail: `Target block=${blkno} child block=${childBlk}: the child of the last downlink is not rightmost.`,
        });
      }
    } else {
      const hikey = pRightmost(co)
        ? undefined
        : pivotBytes(child, itemIdGetOffset(pageGetItemId(child, P_HIKEY)));
      if (hikey === undefined || !sameBytes(hikey, expected)) {
        throw corrupt(`mismatch between parent key and child high key in index "${name}"`, {
          detail: `Target block=${blkno} child block=${childBlk} target page lsn=0/0.`,
        });
      }
    }
    // The downlink's key is a lower bound of the leaf child's items.
    if (off > first && co.level === 0 && pageGetMaxOffsetNumber(child) >= pFirstDataKey(co)) {
      const key = btScanKeyFromTuple(rel, p, t);
      if (btCompare(rel, key, child, pFirstDataKey(co)) > 0) {
        throw corrupt(`down-link lower bound invariant violated for index "${name}"`, {
          detail: `Parent block=${blkno} child index tid=(${childBlk},${pFirstDataKey(co)}).`,
        });
      }
    }
  }
}
