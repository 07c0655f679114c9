/**
 * `pgsim-inspect checksum`: the stored and the computed checksum of every block.
 *
 * Models: contrib/pageinspect/rawpage.c (page_checksum) applied to every block, in the shape of
 * the fixtures' checksums.json.
 *
 * Entry points: inspectChecksums, checksumProblem.
 *
 * See also: ../checksum.ts (pgChecksumPage), blocks.ts.
 */
import type { PgsimError } from "@pgsim/clock-sweep";
import { pageGetChecksum, pageIsAllZero, pageIsNew } from "../storage/page/bufpage.js";
import { pgChecksumPage } from "../storage/page/checksum.js";
import {
  type BlockRange,
  checksumMismatchError,
  forkBlockCount,
  forkPage,
  notAllZeroError,
  selectBlocks,
} from "./blocks.js";

/** One block's checksums, with the keys of checksums.json. */
export interface ChecksumRow {
  readonly block: number;
  /** pd_checksum as stored (unsigned). */
  readonly stored: number;
  /** The same as 4 lowercase hex digits. */
  readonly stored_hex: string;
  /** The checksum of the page at this block; left out for a new page (it carries none). */
  readonly computed?: number;
  /** stored === computed; left out for a new page. */
  readonly matches?: boolean;
  /** An uninitialised page (pd_upper = 0). */
  readonly is_new: boolean;
  /** Only with `ifBlocks`: the checksum this page would have at those block numbers. */
  readonly computed_if_block?: Record<string, number>;
}

/** Options of inspectChecksums. */
export interface InspectChecksumsOptions {
  /** Only this block. */
  readonly block?: number;
  /** Only these blocks (cut at the file's end). */
  readonly range?: BlockRange;
  /** The block number of the file's first page (a segment file's: n × RELSEG_SIZE). Default 0. */
  readonly firstBlock?: number;
  /** Also compute the page's checksum at these block numbers (checksums.json `computed_if_block`). */
  readonly ifBlocks?: readonly number[];
}

/**
 * The stored and computed checksum of every block (or of `options.block`). Never throws for a
 * mismatch: that is what the rows show (see checksumProblem). Throws `file-empty`,
 * `file-truncated` or `block-out-of-range`.
 */
export function inspectChecksums(
  file: Uint8Array,
  options: InspectChecksumsOptions = {},
): ChecksumRow[] {
  const firstBlock = options.firstBlock ?? 0;
  const blocks = selectBlocks(forkBlockCount(file), options.block, {
    firstBlock,
    ...(options.range === undefined ? {} : { range: options.range }),
  });
  return blocks.map((block) => {
    const page = forkPage(file, block, firstBlock);
    const stored = pageGetChecksum(page);
    const base = { block, stored, stored_hex: stored.toString(16).padStart(4, "0") };
    // PostgreSQL neither stores nor checks a checksum on a page that was never initialised.
    if (pageIsNew(page)) return { ...base, is_new: true };
    const computed = pgChecksumPage(page, block);
    const row: ChecksumRow = { ...base, computed, matches: computed === stored, is_new: false };
    if (options.ifBlocks === undefined) return row;
    const ifBlock: Record<string, number> = {};
    for (const other of options.ifBlocks) ifBlock[String(other)] = pgChecksumPage(page, other);
    return { ...row, computed_if_block: ifBlock };
  });
}

/**
 * The first failure among the rows, as an error to report, or undefined when every initialised
 * page's checksum matches and every new page is all zeros.
 */
export function checksumProblem(
  file: Uint8Array,
  rows: readonly ChecksumRow[],
  firstBlock = 0,
): PgsimError | undefined {
  for (const row of rows) {
    if (row.is_new) {
      if (!pageIsAllZero(forkPage(file, row.block, firstBlock))) return notAllZeroError(row.block);
    } else if (row.matches === false && row.computed !== undefined) {
      return checksumMismatchError(row.block, row.computed, row.stored);
    }
  }
  return undefined;
}
