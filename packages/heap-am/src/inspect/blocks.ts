/**
 * Splitting a relation fork file into pages and checking them before pgsim-inspect decodes them.
 *
 * Models: what smgr/md.c and ReadBuffer_common do with a file before anything reads a page: the
 * size must be whole blocks, and every page passes PageIsVerifiedExtended. A file may be a later
 * segment of its fork (`16384.1`): its first page is block `firstBlock` (segment number ×
 * RELSEG_SIZE), and that block number is what enters the checksum.
 *
 * Entry points: forkBlockCount, forkPage, selectBlocks, verifyPage, verifyForkPages.
 *
 * See also: bufpage.ts (pageVerify), page-kind.ts (heap or not), page-header.ts, checksum.ts,
 * fsm.ts, vm.ts, main.ts.
 */
import { PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../include/access/htup-details.js";
import { pageGetChecksum, pageHeaderProblem, pageVerify } from "../storage/page/bufpage.js";
import { pgChecksumPage } from "../storage/page/checksum.js";
import { requireBtreeLayout, requireHeapLayout } from "./page-kind.js";

/** The largest valid block number (MaxBlockNumber); 0xFFFFFFFF is InvalidBlockNumber. */
export const MaxBlockNumber = 0xfffffffe;

/**
 * The most rows `fsm` and `vm` print. Beyond this the JSON text would approach V8's string
 * length limit; a relation that large is better looked at block by block.
 */
export const MaxReportRows = 4_000_000;

/** An inclusive range of block numbers. */
export interface BlockRange {
  readonly first: number;
  readonly last: number;
}

/** Options every page-reading command takes. */
export interface InspectOptions {
  /** Only this block (for fsm and vm: this heap block). */
  readonly block?: number;
  /**
   * Only these blocks (for fsm and vm: these heap blocks). A range that runs past the end of the
   * file stops at its last block; one that starts past it is `block-out-of-range`.
   */
  readonly range?: BlockRange;
  /** Check page checksums too (data checksums on). Default true. */
  readonly checksums?: boolean;
  /**
   * The block number of the file's first page: 0 for a fork's first segment, n × RELSEG_SIZE for
   * segment file `.n`. Default 0.
   */
  readonly firstBlock?: number;
  /** The page layout the file must have: heap-like (no special space, the default) or B-tree. */
  readonly layout?: "heap" | "btree";
}

/**
 * The number of blocks in a fork file. Throws `file-empty` for an empty file and
 * `file-truncated` when the size is not a whole number of blocks.
 */
export function forkBlockCount(file: Uint8Array): number {
  if (file.length === 0) {
    throw new PgsimError("file-empty", "file is empty: it holds no blocks");
  }
  if (file.length % BLCKSZ !== 0) {
    throw new PgsimError(
      "file-truncated",
      `file size ${file.length} is not a multiple of the block size ${BLCKSZ} (truncated file?)`,
      { size: file.length },
    );
  }
  return file.length / BLCKSZ;
}

/**
 * The page of block `block`, as a view into the file whose first page is block `firstBlock`.
 */
export function forkPage(file: Uint8Array, block: number, firstBlock = 0): Uint8Array {
  const index = block - firstBlock;
  return file.subarray(index * BLCKSZ, (index + 1) * BLCKSZ);
}

function outOfRange(block: number, blockCount: number, firstBlock: number): PgsimError {
  const plural = blockCount === 1 ? "" : "s";
  const holds =
    firstBlock === 0
      ? `the file has ${blockCount} block${plural}`
      : `the file holds blocks ${firstBlock} to ${firstBlock + blockCount - 1}`;
  return new PgsimError("block-out-of-range", `block ${block} is out of range: ${holds}`, {
    block,
    blockCount,
    firstBlock,
  });
}

/**
 * The block numbers a command looks at: every block of the file, or just `block`, or the blocks
 * of `range` (cut at the file's end). The file's first page is block `firstBlock`. A block or
 * range start that the file does not hold is `block-out-of-range`.
 */
export function selectBlocks(
  blockCount: number,
  block: number | undefined,
  options: { range?: BlockRange; firstBlock?: number } = {},
): number[] {
  const firstBlock = options.firstBlock ?? 0;
  const end = firstBlock + blockCount;
  if (block !== undefined) {
    if (block < firstBlock || block >= end) throw outOfRange(block, blockCount, firstBlock);
    return [block];
  }
  const range = options.range;
  if (range === undefined) return Array.from({ length: blockCount }, (_, i) => firstBlock + i);
  if (range.first < firstBlock || range.first >= end) {
    throw outOfRange(range.first, blockCount, firstBlock);
  }
  const last = Math.min(range.last, end - 1);
  return Array.from({ length: last - range.first + 1 }, (_, i) => range.first + i);
}

/** The error for an uninitialised page (pd_upper = 0) that is not all zeros. */
export function notAllZeroError(block: number): PgsimError {
  return new PgsimError(
    "page-header-invalid",
    `block ${block}: invalid page: pd_upper is 0 (uninitialised) but the page is not all zeros`,
    { block },
  );
}

/** The error for a checksum mismatch, in PostgreSQL's words. */
export function checksumMismatchError(
  block: number,
  calculated: number,
  expected: number,
): PgsimError {
  return new PgsimError(
    "page-checksum-mismatch",
    `block ${block}: page verification failed, calculated checksum ${calculated} but expected ${expected}`,
    { block, calculated, expected },
  );
}

/**
 * Checks one page as PostgreSQL does when reading it (pageVerify) and throws what it found:
 * `page-header-invalid` (not a page pgsim can read: wrong size or version, impossible
 * pd_lower/pd_upper/pd_special, unknown flags, or an uninitialised page that is not all zeros),
 * `not-a-heap-page` (special space of an index or sequence page: see page-kind.ts), or
 * `page-checksum-mismatch`. An all-zero page passes.
 *
 * Differs from PostgreSQL: the page kind is checked before the checksum, so that an index file
 * given by mistake is named as such even in a cluster without data checksums.
 */
export function verifyPage(
  page: Uint8Array,
  block: number,
  checksums: boolean,
  layout: "heap" | "btree" = "heap",
): void {
  const outcome = pageVerify(page, block, { checksums: false });
  switch (outcome) {
    case "ok":
      break;
    case "all-zero":
      return;
    case "not-all-zero":
      throw notAllZeroError(block);
    case "bad-header":
    case "bad-checksum":
      throw new PgsimError(
        "page-header-invalid",
        `block ${block}: invalid page header: ${pageHeaderProblem(page)}`,
        { block },
      );
  }
  if (layout === "btree") requireBtreeLayout(page, block);
  else requireHeapLayout(page, block);
  if (checksums && pageVerify(page, block, { checksums: true }) === "bad-checksum") {
    throw checksumMismatchError(block, pgChecksumPage(page, block), pageGetChecksum(page));
  }
}

/**
 * Checks the heap block range of an `fsm` or `vm` report: heap block `block` alone, or
 * `heapBlocks` blocks from 0. Throws `invalid-block`, `invalid-heap-blocks` or `too-many-rows`.
 */
export function checkHeapBlockReport(block: number | undefined, heapBlocks: number): void {
  if (block !== undefined && !(Number.isInteger(block) && block >= 0 && block <= MaxBlockNumber)) {
    throw new PgsimError("invalid-block", `invalid heap block number: ${block}`);
  }
  if (!(Number.isInteger(heapBlocks) && heapBlocks >= 0 && heapBlocks <= MaxBlockNumber + 1)) {
    throw new PgsimError("invalid-heap-blocks", `invalid number of heap blocks: ${heapBlocks}`);
  }
  if (heapBlocks > MaxReportRows) {
    throw new PgsimError(
      "too-many-rows",
      `${heapBlocks} heap blocks are more than the ${MaxReportRows} rows a report prints; ask for one block at a time`,
      { heapBlocks },
    );
  }
}

/**
 * Splits the file into blocks and verifies the selected ones (see verifyPage). Returns their
 * block numbers.
 */
export function verifyForkPages(file: Uint8Array, options: InspectOptions = {}): number[] {
  const firstBlock = options.firstBlock ?? 0;
  const blocks = selectBlocks(forkBlockCount(file), options.block, {
    firstBlock,
    ...(options.range === undefined ? {} : { range: options.range }),
  });
  for (const block of blocks) {
    verifyPage(
      forkPage(file, block, firstBlock),
      block,
      options.checksums !== false,
      options.layout ?? "heap",
    );
  }
  return blocks;
}

/**
 * Throws `segment-not-supported` unless the file is a fork's first segment: the `fsm` and `vm`
 * reports address map pages by their position from the fork's start.
 */
export function requireFirstSegment(firstBlock: number | undefined): void {
  if ((firstBlock ?? 0) === 0) return;
  throw new PgsimError(
    "segment-not-supported",
    `the file starts at block ${firstBlock}: per-heap-block reports read a map fork from its first segment (use fsm-page-contents, page-header or checksum on later segments)`,
    { firstBlock },
  );
}
