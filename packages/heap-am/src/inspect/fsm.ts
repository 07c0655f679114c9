/**
 * `pgsim-inspect fsm` and `fsm-page-contents`: what a free space map fork records.
 *
 * Models: contrib/pg_freespacemap (pg_freespace: GetRecordedFreeSpace for each heap block) and
 * contrib/pageinspect/fsmfuncs.c (fsm_page_contents).
 *
 * Entry points: recordedFreeSpace, inspectFsm, inspectFsmPageContents.
 *
 * See also: ../fsm-page.ts (page layout and addressing), vm.ts, blocks.ts.
 */

import { BLCKSZ } from "../include/access/htup-details.js";
import {
  FSM_BOTTOM_LEVEL,
  fsmGetAvail,
  fsmGetLocation,
  fsmLogicalToPhysical,
  fsmPageContents,
  fsmSpaceCatToAvail,
  LeafNodesPerPage,
  SlotsPerFSMPage,
} from "../storage/freespace/fsm-page.js";
import { pageIsNew } from "../storage/page/bufpage.js";
import {
  checkHeapBlockReport,
  forkBlockCount,
  forkPage,
  type InspectOptions,
  requireFirstSegment,
  verifyForkPages,
} from "./blocks.js";

/** One heap block's recorded free space, with the keys of pg_freespace. */
export interface FreeSpaceRow {
  readonly blkno: number;
  /** Bytes, a multiple of 32 (the category times 32). */
  readonly avail: number;
}

/** Options of inspectFsm. */
export interface InspectFsmOptions extends InspectOptions {
  /**
   * Report heap blocks 0 .. heapBlocks-1, as pg_freespace does for a relation of that many blocks.
   * The FSM cannot know the relation's length; by default the report ends at the last heap block
   * with a non-zero entry.
   */
  readonly heapBlocks?: number;
}

/**
 * The bottom-level page of FSM fork `file` that holds heap block `heapBlock`'s slot, or undefined
 * when the file does not have it or it is new (then the FSM records nothing: 0).
 */
function bottomPageOf(file: Uint8Array, heapBlock: number): Uint8Array | undefined {
  const physical = fsmLogicalToPhysical(fsmGetLocation(heapBlock).address);
  if (physical >= file.length / BLCKSZ) return undefined;
  const page = forkPage(file, physical);
  return pageIsNew(page) ? undefined : page;
}

/**
 * The free space the FSM fork `file` records for heap block `heapBlock` (GetRecordedFreeSpace):
 * the category in its bottom-level slot, as bytes; 0 when that page is missing or new. The caller
 * verified the file's pages.
 */
export function recordedFreeSpace(file: Uint8Array, heapBlock: number): number {
  const page = bottomPageOf(file, heapBlock);
  return page === undefined
    ? 0
    : fsmSpaceCatToAvail(fsmGetAvail(page, heapBlock % SlotsPerFSMPage));
}

/** The rows for heap blocks first .. first+count-1, looking each FSM page up once. */
function rowsOf(file: Uint8Array, first: number, count: number): FreeSpaceRow[] {
  const rows: FreeSpaceRow[] = new Array(count);
  let logicalPage = -1;
  let page: Uint8Array | undefined;
  for (let k = 0; k < count; k++) {
    const heapBlock = first + k;
    if (Math.floor(heapBlock / SlotsPerFSMPage) !== logicalPage) {
      logicalPage = Math.floor(heapBlock / SlotsPerFSMPage);
      page = bottomPageOf(file, heapBlock);
    }
    const category = page === undefined ? 0 : fsmGetAvail(page, heapBlock % SlotsPerFSMPage);
    rows[k] = { blkno: heapBlock, avail: fsmSpaceCatToAvail(category) };
  }
  return rows;
}

/** One past the last heap block with a non-zero bottom-level slot in the file, or 0. */
function recordedHeapBlockCount(file: Uint8Array, blockCount: number): number {
  let count = 0;
  // Bottom-level pages are stored in increasing physical order, so stop at the first one past
  // the end of the file. There are fewer of them than blocks in the file.
  for (let logical = 0; logical < blockCount; logical++) {
    const physical = fsmLogicalToPhysical({
      level: FSM_BOTTOM_LEVEL,
      logicalPageNumber: logical,
    });
    if (physical >= blockCount) break;
    const page = forkPage(file, physical);
    if (pageIsNew(page)) continue;
    for (let slot = LeafNodesPerPage - 1; slot >= 0; slot--) {
      if (fsmGetAvail(page, slot) !== 0) {
        count = logical * SlotsPerFSMPage + slot + 1;
        break;
      }
    }
  }
  return count;
}

/**
 * The free space recorded for each heap block, like `SELECT * FROM pg_freespace(rel)`: every
 * block 0 .. heapBlocks-1, or just heap block `options.block`. Verifies every page of the file
 * first (see blocks.ts verifyPage).
 *
 * @example
 * ```ts
 * inspectFsm(readFileSync("fsm.bin"), { heapBlocks: 1 }); // [{ blkno: 0, avail: 3424 }]
 * ```
 */
export function inspectFsm(file: Uint8Array, options: InspectFsmOptions = {}): FreeSpaceRow[] {
  const blockCount = forkBlockCount(file);
  requireFirstSegment(options.firstBlock);
  verifyForkPages(file, { checksums: options.checksums });
  if (options.block !== undefined) {
    checkHeapBlockReport(options.block, 1);
    return rowsOf(file, options.block, 1);
  }
  if (options.range !== undefined) {
    const count = options.range.last - options.range.first + 1;
    checkHeapBlockReport(options.range.first, count);
    return rowsOf(file, options.range.first, count);
  }
  const heapBlocks = options.heapBlocks ?? recordedHeapBlockCount(file, blockCount);
  checkHeapBlockReport(undefined, heapBlocks);
  return rowsOf(file, 0, heapBlocks);
}

/** One FSM page's non-zero nodes, as pageinspect's fsm_page_contents prints them. */
export interface FsmPageContentsRow {
  readonly block: number;
  readonly fsm_page_contents: string;
}

/**
 * fsm_page_contents of every block of an FSM fork (or of `options.block`), after verifying them.
 * A new page prints only its `fp_next_slot: 0`.
 */
export function inspectFsmPageContents(
  file: Uint8Array,
  options: InspectOptions = {},
): FsmPageContentsRow[] {
  return verifyForkPages(file, options).map((block) => ({
    block,
    fsm_page_contents: fsmPageContents(forkPage(file, block, options.firstBlock ?? 0)),
  }));
}
