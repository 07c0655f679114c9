/**
 * Free space map pages: the in-page binary tree of 1-byte categories, and the tree of FSM pages.
 *
 * Models: src/backend/storage/freespace/fsmpage.c (fsm_set_avail, fsm_get_avail,
 * fsm_get_max_avail, fsm_search_avail, fsm_rebuild_page, fsm_truncate_avail),
 * src/include/storage/fsm_internals.h, and the page addressing and category arithmetic of
 * freespace.c (fsm_space_avail_to_cat, fsm_space_needed_to_cat, fsm_space_cat_to_avail,
 * fsm_get_location, fsm_get_heap_blk, fsm_get_parent, fsm_get_child, fsm_logical_to_physical).
 *
 * Entry points: fsmSetAvail, fsmGetAvail, fsmGetMaxAvail, fsmSearchAvail, fsmGetLocation,
 * fsmLogicalToPhysical, fsmSpaceAvailToCat, fsmPageContents.
 *
 * Page layout: a standard 24-byte page header (pageInit with no special space), then
 * fp_next_slot (int32, at byte 24) and fp_nodes (8164 bytes, from byte 28 to the end). fp_nodes
 * is a complete binary tree in array form: node n has children 2n+1 and 2n+2; the last 4069
 * nodes are the leaves, one per heap block (or, on upper pages, per child FSM page), and each
 * inner node holds the maximum of its children.
 *
 * See also: bufpage.ts (page header), visibilitymap-page.ts, inspect/fsm.ts, README.md
 * "FSM pages".
 */
import { assert } from "@pgsim/clock-sweep";
import { MaxHeapTupleSize } from "../../include/access/htup-details.js";
import { BLCKSZ } from "../../include/pg-config.js";
import { readInt32, writeUint32 } from "../../include/port/le-bytes.js";
import { PAGE_CONTENTS_OFFSET } from "../page/bufpage.js";

/** Number of free space categories: one byte per heap page. */
export const FSM_CATEGORIES = 256;
/** Bytes per category step: category c means at least c * 32 bytes free. */
export const FSM_CAT_STEP = BLCKSZ / FSM_CATEGORIES;
/** The largest request the FSM answers: MaxHeapTupleSize, 8160. */
export const MaxFSMRequestSize = MaxHeapTupleSize;
/** Offset of fp_next_slot (int32) in an FSM page. */
export const FSM_NEXT_SLOT_OFFSET = PAGE_CONTENTS_OFFSET;
/** Offset of fp_nodes[0] in an FSM page. */
export const FSM_NODES_OFFSET = PAGE_CONTENTS_OFFSET + 4;
/** Nodes in the in-page tree. */
export const NodesPerPage = BLCKSZ - FSM_NODES_OFFSET;
/** Inner (non-leaf) nodes: indices 0 .. NonLeafNodesPerPage-1. */
export const NonLeafNodesPerPage = BLCKSZ / 2 - 1;
/** Leaf nodes, i.e. slots: one per heap block on a bottom-level page. */
export const LeafNodesPerPage = NodesPerPage - NonLeafNodesPerPage;
/** Slots per FSM page (the same as LeafNodesPerPage). */
export const SlotsPerFSMPage = LeafNodesPerPage;
/** Levels in the tree of FSM pages: 4069^3 covers every block number. */
export const FSM_TREE_DEPTH = 3;
/** Level of the single root page. */
export const FSM_ROOT_LEVEL = FSM_TREE_DEPTH - 1;
/** Level of the pages whose slots are heap blocks. */
export const FSM_BOTTOM_LEVEL = 0;

assert(MaxFSMRequestSize === 8160, "MaxFSMRequestSize is MaxHeapTupleSize");
assert(NodesPerPage === 8164 && NonLeafNodesPerPage === 4095, "FSM node counts");
assert(SlotsPerFSMPage === 4069, "4069 slots per FSM page");
assert(SlotsPerFSMPage ** FSM_TREE_DEPTH >= 2 ** 32 - 1, "three levels cover every block number");

/** Depth of the in-page tree; loops walking it are bounded by this. */
const IN_PAGE_TREE_HEIGHT = Math.ceil(Math.log2(NodesPerPage + 1));

// ---------------------------------------------------------------------------------------------
// Categories.

/**
 * The category recorded for a page with `avail` free bytes (rounds down): 255 for 8160 bytes or
 * more, otherwise avail / 32 capped at 254.
 */
export function fsmSpaceAvailToCat(avail: number): number {
  assert(avail >= 0 && avail < BLCKSZ, "free space is less than a page");
  if (avail >= MaxFSMRequestSize) return 255;
  return Math.min(Math.floor(avail / FSM_CAT_STEP), 254);
}

/** The free bytes a category stands for (what pg_freespace reports): cat * 32, 255 → 8160. */
export function fsmSpaceCatToAvail(category: number): number {
  return category === 255 ? MaxFSMRequestSize : category * FSM_CAT_STEP;
}

/**
 * The smallest category that can hold a request of `needed` bytes (rounds up); a request for 0
 * bytes needs category 1. `needed` is at most MaxFSMRequestSize: larger is a caller bug.
 *
 * Differs from PostgreSQL: an assertion rather than elog(ERROR, "invalid FSM request size").
 */
export function fsmSpaceNeededToCat(needed: number): number {
  assert(needed >= 0 && needed <= MaxFSMRequestSize, "FSM request size is at most 8160");
  if (needed === 0) return 1;
  return Math.min(Math.ceil(needed / FSM_CAT_STEP), 255);
}

// ---------------------------------------------------------------------------------------------
// The in-page tree.

function leftChild(node: number): number {
  return 2 * node + 1;
}

function parentOf(node: number): number {
  return (node - 1) >> 1;
}

/**
 * The node to the right of `node` on the same level, wrapping from the rightmost node to the
 * leftmost one. The leftmost node of each level is 2^level - 1, so stepping onto a number of that
 * form means the step left the level, and its parent is the leftmost node of the level we were on.
 */
function rightNeighbor(node: number): number {
  const next = node + 1;
  return ((next + 1) & next) === 0 ? parentOf(next) : next;
}

function nodeAt(page: Uint8Array, node: number): number {
  return page[FSM_NODES_OFFSET + node]!;
}

function setNode(page: Uint8Array, node: number, value: number): void {
  page[FSM_NODES_OFFSET + node] = value;
}

/** The maximum of a node's children; a child past the end of the array counts as 0. */
function maxOfChildren(page: Uint8Array, node: number): number {
  const left = leftChild(node);
  if (left >= NodesPerPage) return 0;
  const leftValue = nodeAt(page, left);
  if (left + 1 >= NodesPerPage) return leftValue;
  const rightValue = nodeAt(page, left + 1);
  return leftValue > rightValue ? leftValue : rightValue;
}

/** fp_next_slot: where the next search starts (a hint; any value may be found on disk). */
export function fsmGetNextSlot(page: Uint8Array): number {
  return readInt32(page, FSM_NEXT_SLOT_OFFSET);
}

/** Sets fp_next_slot. */
export function fsmSetNextSlot(page: Uint8Array, slot: number): void {
  assert(Number.isInteger(slot) && slot >= -(2 ** 31) && slot < 2 ** 31, "fp_next_slot is int32");
  writeUint32(page, FSM_NEXT_SLOT_OFFSET, slot >>> 0);
}

function assertSlot(slot: number): void {
  assert(Number.isInteger(slot) && slot >= 0 && slot < SlotsPerFSMPage, "FSM slot in range");
}

/** The category stored in leaf `slot` (fsm_get_avail). */
export function fsmGetAvail(page: Uint8Array, slot: number): number {
  assertSlot(slot);
  return nodeAt(page, NonLeafNodesPerPage + slot);
}

/** The largest category on the page: the root node (fsm_get_max_avail). */
export function fsmGetMaxAvail(page: Uint8Array): number {
  return nodeAt(page, 0);
}

/**
 * Recomputes every inner node from the leaves, bottom-up (fsm_rebuild_page). Returns whether
 * any node changed. Used after a truncation and to repair a tree found inconsistent.
 */
export function fsmRebuildPage(page: Uint8Array): boolean {
  let changed = false;
  for (let node = NonLeafNodesPerPage - 1; node >= 0; node--) {
    const value = maxOfChildren(page, node);
    if (nodeAt(page, node) !== value) {
      setNode(page, node, value);
      changed = true;
    }
  }
  return changed;
}

/**
 * Stores category `value` in leaf `slot` and updates the inner nodes above it (fsm_set_avail).
 * Returns false when nothing had to change. The caller marks the buffer dirty as a hint: the FSM
 * is not WAL-logged.
 *
 * The update walks up only while parents change. If the root still ends up below the new value,
 * the tree was inconsistent and the whole page is rebuilt.
 *
 * @example
 * ```ts
 * fsmSetAvail(page, slot, fsmSpaceAvailToCat(pageGetHeapFreeSpace(heapPage)));
 * ```
 */
export function fsmSetAvail(page: Uint8Array, slot: number, value: number): boolean {
  assertSlot(slot);
  assert(Number.isInteger(value) && value >= 0 && value < FSM_CATEGORIES, "category is a byte");
  let node = NonLeafNodesPerPage + slot;
  if (nodeAt(page, node) === value && value <= nodeAt(page, 0)) return false;
  setNode(page, node, value);

  for (let step = 0; node > 0; step++) {
    assert(step < IN_PAGE_TREE_HEIGHT, "walking up the FSM tree ends at the root");
    node = parentOf(node);
    const newValue = maxOfChildren(page, node);
    if (nodeAt(page, node) === newValue) break;
    setNode(page, node, newValue);
  }

  if (value > nodeAt(page, 0)) fsmRebuildPage(page);
  return true;
}

/**
 * Finds a slot whose category is at least `minValue` (fsm_search_avail), or returns -1 when the
 * root says there is none. The search starts at fp_next_slot and looks at that slot and to its
 * right first, wrapping around: it climbs from the start leaf, at each level stepping one node to
 * the right before going up, until a node is big enough, then descends preferring the left
 * child. Each step up doubles the range covered, so nearby slots are found first, which spreads
 * concurrent inserters over different pages while keeping each one's inserts together.
 *
 * Sets fp_next_slot to the slot found, plus one when `advanceNext` (so the next search starts
 * after it). Like PostgreSQL this is written even by a reader: it is only a hint. A tree found
 * inconsistent on the way down is rebuilt and the search restarts.
 *
 * Differs from PostgreSQL: PostgreSQL upgrades the buffer lock to exclusive before rebuilding a
 * corrupt page; here the caller must already hold the page exclusively if a rebuild may happen.
 */
export function fsmSearchAvail(page: Uint8Array, minValue: number, advanceNext: boolean): number {
  assert(Number.isInteger(minValue) && minValue >= 0 && minValue < FSM_CATEGORIES, "category");
  // One rebuild makes the tree consistent, so the second attempt always succeeds.
  for (let attempt = 0; attempt < 2; attempt++) {
    if (nodeAt(page, 0) < minValue) return -1;

    let start = fsmGetNextSlot(page);
    if (start < 0 || start >= LeafNodesPerPage) start = 0;
    let node = NonLeafNodesPerPage + start;

    for (let step = 0; node > 0 && nodeAt(page, node) < minValue; step++) {
      assert(step < IN_PAGE_TREE_HEIGHT, "climbing the FSM tree ends at the root");
      node = parentOf(rightNeighbor(node));
    }

    let consistent = true;
    for (let step = 0; node < NonLeafNodesPerPage; step++) {
      assert(step < IN_PAGE_TREE_HEIGHT, "descending the FSM tree ends at a leaf");
      const left = leftChild(node);
      if (left < NodesPerPage && nodeAt(page, left) >= minValue) {
        node = left;
      } else if (left + 1 < NodesPerPage && nodeAt(page, left + 1) >= minValue) {
        node = left + 1;
      } else {
        // The parent promised a value its children do not have.
        consistent = false;
        break;
      }
    }

    if (consistent) {
      const slot = node - NonLeafNodesPerPage;
      fsmSetNextSlot(page, slot + (advanceNext ? 1 : 0));
      return slot;
    }
    fsmRebuildPage(page);
  }
  assert(false, "an FSM search on a rebuilt page succeeds");
}

/**
 * Zeroes the leaves from slot `slotCount` on and rebuilds the page if that changed anything
 * (fsm_truncate_avail), for a heap truncated to end inside this page. Returns whether it did.
 */
export function fsmTruncateAvail(page: Uint8Array, slotCount: number): boolean {
  assertSlot(slotCount);
  let changed = false;
  for (let node = NonLeafNodesPerPage + slotCount; node < NodesPerPage; node++) {
    if (nodeAt(page, node) !== 0) {
      setNode(page, node, 0);
      changed = true;
    }
  }
  if (changed) fsmRebuildPage(page);
  return changed;
}

/**
 * The non-zero nodes of the page and fp_next_slot, as pageinspect's fsm_page_contents prints
 * them: one `node: value` line per non-zero node, then `fp_next_slot: n`.
 */
export function fsmPageContents(page: Uint8Array): string {
  assert(page.length === BLCKSZ, "a page is BLCKSZ bytes");
  const lines: string[] = [];
  for (let node = 0; node < NodesPerPage; node++) {
    const value = nodeAt(page, node);
    if (value !== 0) lines.push(`${node}: ${value}\n`);
  }
  lines.push(`fp_next_slot: ${fsmGetNextSlot(page)}\n`);
  return lines.join("");
}

// ---------------------------------------------------------------------------------------------
// The tree of FSM pages.

/** A page in the tree of FSM pages: its level (0 = bottom) and its number within the level. */
export interface FsmAddress {
  readonly level: number;
  readonly logicalPageNumber: number;
}

/** The root page's address. */
export const FSM_ROOT_ADDRESS: FsmAddress = { level: FSM_ROOT_LEVEL, logicalPageNumber: 0 };

/**
 * Where heap block `heapBlock` is recorded (fsm_get_location): the bottom-level page
 * heapBlock / 4069, slot heapBlock % 4069.
 */
export function fsmGetLocation(heapBlock: number): { address: FsmAddress; slot: number } {
  assert(Number.isInteger(heapBlock) && heapBlock >= 0 && heapBlock <= 0xffffffff, "block");
  return {
    address: {
      level: FSM_BOTTOM_LEVEL,
      logicalPageNumber: Math.floor(heapBlock / SlotsPerFSMPage),
    },
    slot: heapBlock % SlotsPerFSMPage,
  };
}

/** The heap block a bottom-level slot stands for (fsm_get_heap_blk). */
export function fsmGetHeapBlock(address: FsmAddress, slot: number): number {
  assert(address.level === FSM_BOTTOM_LEVEL, "only bottom-level slots are heap blocks");
  assertSlot(slot);
  return address.logicalPageNumber * SlotsPerFSMPage + slot;
}

/** The parent page of a non-root page and the slot there that mirrors it (fsm_get_parent). */
export function fsmGetParent(address: FsmAddress): { address: FsmAddress; slot: number } {
  assert(address.level < FSM_ROOT_LEVEL, "the root page has no parent");
  return {
    address: {
      level: address.level + 1,
      logicalPageNumber: Math.floor(address.logicalPageNumber / SlotsPerFSMPage),
    },
    slot: address.logicalPageNumber % SlotsPerFSMPage,
  };
}

/** The child page that slot `slot` of an upper page stands for (fsm_get_child). */
export function fsmGetChild(address: FsmAddress, slot: number): FsmAddress {
  assert(address.level > FSM_BOTTOM_LEVEL, "bottom-level pages have no children");
  assertSlot(slot);
  return {
    level: address.level - 1,
    logicalPageNumber: address.logicalPageNumber * SlotsPerFSMPage + slot,
  };
}

/**
 * The block number in the FSM fork of a page of the tree (fsm_logical_to_physical). Pages are
 * stored depth-first, each upper page before its children: root 0, (1,0) 1, leaf (0,0) 2, leaf
 * (0,1) 3, …, leaf (0,4068) 4070, (1,1) 4071, leaf (0,4069) 4072.
 */
export function fsmLogicalToPhysical(address: FsmAddress): number {
  assert(address.level >= 0 && address.level <= FSM_ROOT_LEVEL, "FSM level");
  // Count the pages stored before this one, level by level: the first bottom-level page under
  // it, plus all bottom pages before that, plus the upper pages before it on each level.
  let leafNumber = address.logicalPageNumber * SlotsPerFSMPage ** address.level;
  let pages = 0;
  for (let level = 0; level < FSM_TREE_DEPTH; level++) {
    pages += leafNumber + 1;
    leafNumber = Math.floor(leafNumber / SlotsPerFSMPage);
  }
  // The count includes the pages below this one on its own path down to level 0.
  return pages - address.level - 1;
}
