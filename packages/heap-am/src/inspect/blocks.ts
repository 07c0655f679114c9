/**
 * Splitting a relation fork file into pages and checking them before pgsim-inspect decodes them.
 *
 * Models: what smgr/md.c and ReadBuffer_common do with a file before anything reads a page: the
 * size must be whole blocks, and every page passes PageIsVerifiedExtended.
 *
 * Entry points: forkBlockCount, forkPage, selectBlocks, verifyPage, verifyForkPages.
 *
 * See also: bufpage.ts (pageVerify), page-header.ts, checksum.ts, fsm.ts, vm.ts, main.ts.
 */
import { PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../include/access/htup-details.js";
import { pageGetChecksum, pageHeaderProblem, pageVerify } from "../storage/page/bufpage.js";
import { pgChecksumPage } from "../storage/page/checksum.js";

/** The largest valid block number (MaxBlockNumber); 0xFFFFFFFF is InvalidBlockNumber. */
export const MaxBlockNumber = 0xfffffffe;

/**
 * The most rows `fsm` and `vm` print. Beyond this the JSON text would approach V8's string
 * length limit; a relation that large is better looked at block by block.
 */
export const MaxReportRows = 4_000_000;

/** Options every page-reading command takes. */
export interface InspectOptions {
  /** Only this block (for fsm and vm: this heap block). */
  readonly block?: number;
  /** Check page checksums too (data checksums on). Default true. */
  readonly checksums?: boolean;
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

/** The page of block `block`, as a view into the file. */
export function forkPage(file: Uint8Array, block: number): Uint8Array {
  return file.subarray(block * BLCKSZ, (block + 1) * BLCKSZ);
}

/**
 * The blocks a command looks at: all of them, or just `block`, which must exist (else
 * `block-out-of-range`).
 */
export function selectBlocks(blockCount: number, block: number | undefined): number[] {
  if (block === undefined) return Array.from({ length: blockCount }, (_, i) => i);
  if (block >= blockCount) {
    throw new PgsimError(
      "block-out-of-range",
      `block ${block} is out of range: the file has ${blockCount} block${blockCount === 1 ? "" : "s"}`,
      { block, blockCount },
    );
  }
  return [block];
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
 * pd_lower/pd_upper/pd_special, unknown flags, or an uninitialised page that is not all zeros)
 * or `page-checksum-mismatch`. An all-zero page passes.
 */
export function verifyPage(page: Uint8Array, block: number, checksums: boolean): void {
  const outcome = pageVerify(page, block, { checksums });
  switch (outcome) {
    case "ok":
    case "all-zero":
      return;
    case "not-all-zero":
      throw notAllZeroError(block);
    case "bad-header":
      throw new PgsimError(
        "page-header-invalid",
        `block ${block}: invalid page header: ${pageHeaderProblem(page)}`,
        { block },
      );
    case "bad-checksum":
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

/** Splits the file into blocks and verifies the selected ones (see verifyPage). */
export function verifyForkPages(file: Uint8Array, options: InspectOptions = {}): number[] {
  const blocks = selectBlocks(forkBlockCount(file), options.block);
  for (const block of blocks) verifyPage(forkPage(file, block), block, options.checksums !== false);
  return blocks;
}
