/**
 * Visibility map pages: two bits per heap block (all-visible, all-frozen) after a page header.
 *
 * Models: src/backend/access/heap/visibilitymap.c (the HEAPBLK_TO_MAPBLOCK / MAPBYTE / OFFSET
 * arithmetic and the page-level parts of visibilitymap_set, visibilitymap_clear,
 * visibilitymap_get_status, visibilitymap_count) and src/include/access/visibilitymapdefs.h.
 *
 * Entry points: vmGetStatus, vmSetBits, vmClearBits, vmCountPage, vmHeapBlockToMapBlock.
 *
 * Page layout: a standard 24-byte page header (pageInit with no special space), then 8168 map
 * bytes. Heap block b lives on VM block b / 32672, in map byte (b % 32672) / 4 at bit
 * 2 * (b % 4): bit 0 of the pair is all-visible, bit 1 all-frozen.
 *
 * Differs from PostgreSQL: only the page-level work. Pinning and locking the VM buffer, WAL
 * logging (XLOG_HEAP2_VISIBLE) and setting the heap page's LSN belong to the callers.
 *
 * See also: bufpage.ts (page header), fsm-page.ts, inspect/vm.ts, README.md "VM pages".
 */
import { assert } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../../include/pg-config.js";
import { PAGE_CONTENTS_OFFSET } from "../../storage/page/bufpage.js";

/** Every tuple on the heap page is visible to all transactions. */
export const VISIBILITYMAP_ALL_VISIBLE = 0x01;
/** Every tuple on the heap page is frozen (set only together with ALL_VISIBLE). */
export const VISIBILITYMAP_ALL_FROZEN = 0x02;
/** Both bits. */
export const VISIBILITYMAP_VALID_BITS = 0x03;
/** Bits per heap block. */
export const BITS_PER_HEAPBLOCK = 2;
/** Heap blocks per map byte. */
export const HEAPBLOCKS_PER_BYTE = 8 / BITS_PER_HEAPBLOCK;
/** Map bytes per VM page (MAPSIZE). */
export const VM_MAPSIZE = BLCKSZ - PAGE_CONTENTS_OFFSET;
/** Heap blocks covered by one VM page. */
export const HEAPBLOCKS_PER_PAGE = VM_MAPSIZE * HEAPBLOCKS_PER_BYTE;

assert(VM_MAPSIZE === 8168 && HEAPBLOCKS_PER_PAGE === 32672, "VM page geometry");

function assertHeapBlock(heapBlock: number): void {
  assert(
    Number.isInteger(heapBlock) && heapBlock >= 0 && heapBlock <= 0xffffffff,
    "a heap block number is a uint32",
  );
}

/** The VM block that holds heap block `heapBlock`'s bits (HEAPBLK_TO_MAPBLOCK). */
export function vmHeapBlockToMapBlock(heapBlock: number): number {
  assertHeapBlock(heapBlock);
  return Math.floor(heapBlock / HEAPBLOCKS_PER_PAGE);
}

/** The page offset of the byte holding heap block `heapBlock`'s bits (MAPBYTE + header). */
function mapByteOffset(heapBlock: number): number {
  return PAGE_CONTENTS_OFFSET + ((heapBlock % HEAPBLOCKS_PER_PAGE) >>> 2);
}

/** The shift of heap block `heapBlock`'s two bits within its byte (HEAPBLK_TO_OFFSET). */
function mapBitShift(heapBlock: number): number {
  return (heapBlock % HEAPBLOCKS_PER_BYTE) * BITS_PER_HEAPBLOCK;
}

/**
 * The two bits of heap block `heapBlock` (visibilitymap_get_status on its page): 0, or a
 * combination of VISIBILITYMAP_ALL_VISIBLE and VISIBILITYMAP_ALL_FROZEN. `page` is the VM page
 * vmHeapBlockToMapBlock(heapBlock); a missing or new page means 0.
 *
 * @example
 * ```ts
 * const allVisible = (vmGetStatus(vmPage, heapBlock) & VISIBILITYMAP_ALL_VISIBLE) !== 0;
 * ```
 */
export function vmGetStatus(page: Uint8Array, heapBlock: number): number {
  assertHeapBlock(heapBlock);
  return (page[mapByteOffset(heapBlock)]! >>> mapBitShift(heapBlock)) & VISIBILITYMAP_VALID_BITS;
}

/**
 * ORs `flags` into heap block `heapBlock`'s bits (the page part of visibilitymap_set). Returns
 * whether the bits differed from `flags` before, i.e. whether the caller must WAL-log the change
 * and mark the buffer dirty.
 */
export function vmSetBits(page: Uint8Array, heapBlock: number, flags: number): boolean {
  assertHeapBlock(heapBlock);
  assert(
    flags !== 0 && (flags & ~VISIBILITYMAP_VALID_BITS) === 0,
    "flags are a non-empty set of VM bits",
  );
  const offset = mapByteOffset(heapBlock);
  const shift = mapBitShift(heapBlock);
  const old = page[offset]!;
  if (((old >>> shift) & VISIBILITYMAP_VALID_BITS) === flags) return false;
  page[offset] = old | (flags << shift);
  return true;
}

/**
 * Clears `flags` from heap block `heapBlock`'s bits (the page part of visibilitymap_clear).
 * Returns whether any of them was set.
 */
export function vmClearBits(page: Uint8Array, heapBlock: number, flags: number): boolean {
  assertHeapBlock(heapBlock);
  assert((flags & ~VISIBILITYMAP_VALID_BITS) === 0, "flags are VM bits");
  const offset = mapByteOffset(heapBlock);
  const mask = flags << mapBitShift(heapBlock);
  const old = page[offset]!;
  if ((old & mask) === 0) return false;
  page[offset] = old & ~mask;
  return true;
}

/**
 * How many heap blocks of this VM page are all-visible and how many all-frozen (the per-page
 * part of visibilitymap_count).
 */
export function vmCountPage(page: Uint8Array): { allVisible: number; allFrozen: number } {
  assert(page.length === BLCKSZ, "a page is BLCKSZ bytes");
  let allVisible = 0;
  let allFrozen = 0;
  for (let offset = PAGE_CONTENTS_OFFSET; offset < BLCKSZ; offset++) {
    const byte = page[offset]!;
    if (byte === 0) continue;
    for (let shift = 0; shift < 8; shift += BITS_PER_HEAPBLOCK) {
      if (((byte >>> shift) & VISIBILITYMAP_ALL_VISIBLE) !== 0) allVisible++;
      if (((byte >>> shift) & VISIBILITYMAP_ALL_FROZEN) !== 0) allFrozen++;
    }
  }
  return { allVisible, allFrozen };
}
