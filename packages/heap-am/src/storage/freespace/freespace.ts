/**
 * The free space map fork: a three-level tree of FSM pages that records, per heap page, roughly
 * how much room it has, and finds a page with enough room.
 *
 * Models: src/backend/storage/freespace/freespace.c (GetPageWithFreeSpace,
 * RecordAndGetPageWithFreeSpace, RecordPageWithFreeSpace, GetRecordedFreeSpace,
 * FreeSpaceMapVacuumRange, FreeSpaceMapPrepareTruncateRel, fsm_search, fsm_set_and_search,
 * fsm_vacuum_page, fsm_readbuf).
 * Entry points: `FreeSpaceMap`.
 * See also: fsm-page.ts (the tree inside a page, categories, addressing), fork-pages.ts, hio.ts
 * (asks for pages), vacuumlazy.ts (records free space).
 *
 * As in PostgreSQL, recording a page's free space updates only its leaf page (and the tree inside
 * it); upper levels learn of higher values at the next FreeSpaceMapVacuum, and of lower values
 * when a search finds a stale entry and fixes it. FSM pages are changed under an exclusive content
 * lock and dirtied as hints (the FSM is not WAL-logged).
 */

import { type BufferPool, ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import { InvalidBlockNumber } from "../../include/access/htup-details.js";
import { forgetForkSize, readForkPage } from "../buffer/fork-pages.js";
import {
  FSM_BOTTOM_LEVEL,
  FSM_ROOT_ADDRESS,
  FSM_ROOT_LEVEL,
  type FsmAddress,
  fsmGetAvail,
  fsmGetChild,
  fsmGetHeapBlock,
  fsmGetLocation,
  fsmGetMaxAvail,
  fsmGetParent,
  fsmLogicalToPhysical,
  fsmSearchAvail,
  fsmSetAvail,
  fsmSetNextSlot,
  fsmSpaceAvailToCat,
  fsmSpaceCatToAvail,
  fsmSpaceNeededToCat,
  fsmTruncateAvail,
  SlotsPerFSMPage,
} from "./fsm-page.js";

/** fsm_search gives up after this many restarts caused by stale upper-level entries. */
const MAX_SEARCH_RESTARTS = 10_000;

export class FreeSpaceMap {
  private readonly pool: BufferPool;

  constructor(pool: BufferPool) {
    this.pool = pool;
  }

  private read(rel: RelFileLocator, address: FsmAddress, extend: boolean) {
    return readForkPage(this.pool, rel, ForkNumber.FSM, fsmLogicalToPhysical(address), extend);
  }

  /**
   * fsm_set_and_search: sets a slot's category and, when `minValue` > 0, searches the same page
   * for a slot with at least `minValue`. Returns that slot or -1.
   */
  private setAndSearch(
    rel: RelFileLocator,
    address: FsmAddress,
    slot: number,
    value: number,
    minValue: number,
  ): number {
    const pool = this.pool;
    const buf = this.read(rel, address, true);
    // No room for a map page in a full memory-only pool: the information is simply not kept.
    if (buf === undefined) return -1;
    pool.lockBuffer(buf, "exclusive");
    const page = pool.bufferGetPage(buf);
    if (fsmSetAvail(page, slot, value)) pool.markBufferDirtyHint(buf);
    const found =
      minValue !== 0 ? fsmSearchAvail(page, minValue, address.level === FSM_BOTTOM_LEVEL) : -1;
    pool.unlockReleaseBuffer(buf);
    return found;
  }

  /**
   * fsm_search: descend from the root toward a leaf slot with at least `minCat`. A page whose
   * parent promised more than it has gets its parent corrected, and the search restarts.
   */
  private search(rel: RelFileLocator, minCat: number): number {
    const pool = this.pool;
    let address = FSM_ROOT_ADDRESS;
    for (let restarts = 0; restarts <= MAX_SEARCH_RESTARTS; ) {
      const buf = this.read(rel, address, false);
      let slot = -1;
      let maxAvail = 0;
      if (buf !== undefined) {
        pool.lockBuffer(buf, "share");
        const page = pool.bufferGetPage(buf);
        slot = fsmSearchAvail(page, minCat, address.level === FSM_BOTTOM_LEVEL);
        if (slot === -1) maxAvail = fsmGetMaxAvail(page);
        pool.unlockReleaseBuffer(buf);
      }
      if (slot !== -1) {
        if (address.level === FSM_BOTTOM_LEVEL) return fsmGetHeapBlock(address, slot);
        address = fsmGetChild(address, slot);
        continue;
      }
      if (address.level === FSM_ROOT_LEVEL) return InvalidBlockNumber;
      // The parent's entry for this page was too high: fix it and start again from the top.
      const parent = fsmGetParent(address);
      this.setAndSearch(rel, parent.address, parent.slot, maxAvail, 0);
      restarts++;
      address = FSM_ROOT_ADDRESS;
    }
    return InvalidBlockNumber;
  }

  /** GetPageWithFreeSpace: a heap block believed to have `spaceNeeded` bytes, or InvalidBlockNumber. */
  getPageWithFreeSpace(rel: RelFileLocator, spaceNeeded: number): number {
    return this.search(rel, fsmSpaceNeededToCat(spaceNeeded));
  }

  /**
   * RecordAndGetPageWithFreeSpace: records that `oldPage` has `oldSpaceAvail` bytes, then looks for
   * a page with `spaceNeeded`, first on the same FSM leaf page, then anywhere.
   */
  recordAndGetPageWithFreeSpace(
    rel: RelFileLocator,
    oldPage: number,
    oldSpaceAvail: number,
    spaceNeeded: number,
  ): number {
    const oldCat = fsmSpaceAvailToCat(oldSpaceAvail);
    const searchCat = fsmSpaceNeededToCat(spaceNeeded);
    const { address, slot } = fsmGetLocation(oldPage);
    const found = this.setAndSearch(rel, address, slot, oldCat, searchCat);
    if (found !== -1) return fsmGetHeapBlock(address, found);
    return this.search(rel, searchCat);
  }

  /** RecordPageWithFreeSpace: sets the heap block's leaf (upper levels wait for vacuum). */
  recordPageWithFreeSpace(rel: RelFileLocator, heapBlock: number, spaceAvail: number): void {
    const { address, slot } = fsmGetLocation(heapBlock);
    this.setAndSearch(rel, address, slot, fsmSpaceAvailToCat(spaceAvail), 0);
  }

  /** GetRecordedFreeSpace: what the map says about a heap block (in steps of 32 bytes). */
  getRecordedFreeSpace(rel: RelFileLocator, heapBlock: number): number {
    const { address, slot } = fsmGetLocation(heapBlock);
    const buf = this.read(rel, address, false);
    if (buf === undefined) return 0;
    this.pool.lockBuffer(buf, "share");
    const cat = fsmGetAvail(this.pool.bufferGetPage(buf), slot);
    this.pool.unlockReleaseBuffer(buf);
    return fsmSpaceCatToAvail(cat);
  }

  /**
   * fsm_vacuum_page: brings the upper-level entries covering heap blocks [start, end] up to date
   * with their children, depth first, and resets each visited page's search start to 0 (which
   * steers later inserts toward low-numbered pages). Returns the page's maximum, or -1 past EOF.
   */
  private vacuumPage(rel: RelFileLocator, address: FsmAddress, start: number, end: number): number {
    const pool = this.pool;
    const buf = this.read(rel, address, false);
    if (buf === undefined) return -1;
    const page = pool.bufferGetPage(buf);
    if (address.level > FSM_BOTTOM_LEVEL) {
      let first = fsmGetLocation(start);
      let last = fsmGetLocation(end);
      while (first.address.level < address.level) {
        first = fsmGetParent(first.address);
        last = fsmGetParent(last.address);
      }
      const here = address.logicalPageNumber;
      const startSlot =
        first.address.logicalPageNumber === here
          ? first.slot
          : first.address.logicalPageNumber > here
            ? SlotsPerFSMPage
            : 0;
      const endSlot =
        last.address.logicalPageNumber === here
          ? last.slot
          : last.address.logicalPageNumber > here
            ? SlotsPerFSMPage - 1
            : -1;
      // After the end of the fork, the remaining slots of the range are cleared (a truncated
      // heap leaves upper-level slots that pointed at pages no longer there).
      let eof = false;
      for (let slot = startSlot; slot <= endSlot; slot++) {
        let childAvail = 0;
        if (!eof) {
          childAvail = this.vacuumPage(rel, fsmGetChild(address, slot), start, end);
          if (childAvail < 0) {
            eof = true;
            childAvail = 0;
          }
        }
        if (fsmGetAvail(page, slot) === childAvail) continue;
        pool.lockBuffer(buf, "exclusive");
        if (fsmGetAvail(page, slot) !== childAvail && fsmSetAvail(page, slot, childAvail)) {
          pool.markBufferDirtyHint(buf);
        }
        pool.unlockBuffer(buf);
      }
    }
    pool.lockBuffer(buf, "share");
    const maxAvail = fsmGetMaxAvail(page);
    // fp_next_slot is a hint; PostgreSQL resets it without dirtying the page.
    fsmSetNextSlot(page, 0);
    pool.unlockReleaseBuffer(buf);
    return maxAvail;
  }

  /** FreeSpaceMapVacuumRange: update upper levels for heap blocks [start, end). */
  vacuumRange(rel: RelFileLocator, start: number, end: number): void {
    if (end > start)
      this.vacuumPage(rel, FSM_ROOT_ADDRESS, start, Math.min(end, InvalidBlockNumber) - 1);
  }

  /** FreeSpaceMapVacuum: update the whole tree. */
  vacuum(rel: RelFileLocator): void {
    this.vacuumRange(rel, 0, InvalidBlockNumber);
  }

  /**
   * FreeSpaceMapPrepareTruncateRel + truncation of the fork + vacuum of the tail: forget heap
   * blocks at or past `nheapblocks`.
   */
  truncate(rel: RelFileLocator, nheapblocks: number): void {
    const pool = this.pool;
    if (!pool.relationExists(rel, ForkNumber.FSM)) return;
    const { address, slot } = fsmGetLocation(nheapblocks);
    let newBlocks: number;
    if (slot === 0) {
      // The first removed heap block starts an FSM page: that page goes (for an empty heap, the
      // root and the first upper page stay, as in PostgreSQL).
      newBlocks = fsmLogicalToPhysical(address);
    } else {
      const buf = this.read(rel, address, false);
      if (buf === undefined) return;
      pool.lockBuffer(buf, "exclusive");
      if (fsmTruncateAvail(pool.bufferGetPage(buf), slot)) pool.markBufferDirty(buf);
      pool.unlockReleaseBuffer(buf);
      newBlocks = fsmLogicalToPhysical(address) + 1;
    }
    if (pool.nblocks(rel, ForkNumber.FSM) > newBlocks) {
      pool.truncateRelation(rel, ForkNumber.FSM, newBlocks);
      forgetForkSize(pool, rel, ForkNumber.FSM);
    }
    this.vacuumRange(rel, nheapblocks, InvalidBlockNumber);
  }
}
