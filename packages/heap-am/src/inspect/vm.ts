/**
 * `pgsim-inspect vm`: the two visibility map bits of every heap block.
 *
 * Models: contrib/pg_visibility (pg_visibility_map: visibilitymap_get_status for each heap
 * block), and the `vm_bytes_hex` key of the fixtures' forks.json.
 *
 * Entry points: inspectVm, vmBytesHex.
 *
 * See also: ../visibilitymap-page.ts (bit layout), fsm.ts, blocks.ts.
 */

import {
  HEAPBLOCKS_PER_BYTE,
  HEAPBLOCKS_PER_PAGE,
  VISIBILITYMAP_ALL_FROZEN,
  VISIBILITYMAP_ALL_VISIBLE,
  vmGetStatus,
  vmHeapBlockToMapBlock,
} from "../access/heap/visibilitymap-page.js";
import { BLCKSZ } from "../include/access/htup-details.js";
import { bytesToHex } from "../include/port/le-bytes.js";
import { PAGE_CONTENTS_OFFSET } from "../storage/page/bufpage.js";
import {
  checkHeapBlockReport,
  forkBlockCount,
  forkPage,
  type InspectOptions,
  requireFirstSegment,
  verifyForkPages,
} from "./blocks.js";

/** One heap block's VM bits, with the keys of pg_visibility_map. */
export interface VisibilityMapRow {
  readonly blkno: number;
  readonly all_visible: boolean;
  readonly all_frozen: boolean;
}

/** Options of inspectVm. */
export interface InspectVmOptions extends InspectOptions {
  /**
   * Report heap blocks 0 .. heapBlocks-1, as pg_visibility_map does for a relation of that many
   * blocks. By default the report ends at the last heap block with a bit set.
   */
  readonly heapBlocks?: number;
}

/**
 * The rows for heap blocks first .. first+count-1. The VM page is looked up once per page, not
 * per row: reports can run to hundreds of thousands of rows.
 */
function rowsOf(file: Uint8Array, first: number, count: number): VisibilityMapRow[] {
  const blockCount = file.length / BLCKSZ;
  const rows: VisibilityMapRow[] = new Array(count);
  let mapBlock = -1;
  let page: Uint8Array | undefined;
  for (let k = 0; k < count; k++) {
    const heapBlock = first + k;
    if (vmHeapBlockToMapBlock(heapBlock) !== mapBlock) {
      mapBlock = vmHeapBlockToMapBlock(heapBlock);
      // A VM page past the end of the fork means "nothing known": both bits clear.
      page = mapBlock < blockCount ? forkPage(file, mapBlock) : undefined;
    }
    const status = page === undefined ? 0 : vmGetStatus(page, heapBlock);
    rows[k] = {
      blkno: heapBlock,
      all_visible: (status & VISIBILITYMAP_ALL_VISIBLE) !== 0,
      all_frozen: (status & VISIBILITYMAP_ALL_FROZEN) !== 0,
    };
  }
  return rows;
}

/** One past the last heap block with a bit set in the file, or 0. */
function recordedHeapBlockCount(file: Uint8Array, blockCount: number): number {
  for (let mapBlock = blockCount - 1; mapBlock >= 0; mapBlock--) {
    const page = forkPage(file, mapBlock);
    for (let offset = BLCKSZ - 1; offset >= PAGE_CONTENTS_OFFSET; offset--) {
      const byte = page[offset]!;
      if (byte === 0) continue;
      // The highest set pair in the byte is the last heap block it marks.
      const lastInByte = Math.floor((31 - Math.clz32(byte)) / 2);
      return (
        mapBlock * HEAPBLOCKS_PER_PAGE +
        (offset - PAGE_CONTENTS_OFFSET) * HEAPBLOCKS_PER_BYTE +
        lastInByte +
        1
      );
    }
  }
  return 0;
}

/**
 * The VM bits of each heap block, like `SELECT * FROM pg_visibility_map(rel)`: every block
 * 0 .. heapBlocks-1, or just heap block `options.block`. Verifies every page of the file first.
 *
 * @example
 * ```ts
 * inspectVm(readFileSync("vm.bin"), { block: 1 });
 * // [{ blkno: 1, all_visible: true, all_frozen: true }]
 * ```
 */
export function inspectVm(file: Uint8Array, options: InspectVmOptions = {}): VisibilityMapRow[] {
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

/**
 * The map bytes of a VM page (after the 24-byte header) as lowercase hex, trailing zero bytes
 * left out: forks.json `vm_bytes_hex`.
 */
export function vmBytesHex(page: Uint8Array): string {
  let end = BLCKSZ;
  while (end > PAGE_CONTENTS_OFFSET && page[end - 1] === 0) end--;
  return bytesToHex(page, PAGE_CONTENTS_OFFSET, end);
}
