/**
 * `pgsim-inspect page-header`: the page header of every block, as pageinspect's page_header.
 *
 * Models: contrib/pageinspect/rawpage.c (page_header), with the extra keys of the fixtures'
 * pages.json (`flag_names`, `is_new`).
 *
 * Entry points: decodePageHeader, inspectPageHeader.
 *
 * See also: blocks.ts (file splitting and verification), ../bufpage.ts.
 */

import { readUint32 } from "../include/port/le-bytes.js";
import {
  PD_ALL_VISIBLE,
  PD_HAS_FREE_LINES,
  PD_LSN_OFFSET,
  PD_PAGE_FULL,
  pageGetChecksum,
  pageGetFlags,
  pageGetLower,
  pageGetPageLayoutVersion,
  pageGetPageSize,
  pageGetPruneXid,
  pageGetSpecial,
  pageGetUpper,
  pageIsNew,
} from "../storage/page/bufpage.js";
import { forkPage, type InspectOptions, verifyForkPages } from "./blocks.js";

/** One block's page header, with the keys and values of pages.json `header` plus `block`. */
export interface PageHeaderRow {
  readonly block: number;
  /** pd_lsn as PostgreSQL prints it: `X/Y`, uppercase hex halves. */
  readonly lsn: string;
  /**
   * pd_checksum as an unsigned number (as the fixtures' pages.json has it; pageinspect and
   * pgsim-inspect print it as a signed smallint: see signedChecksum).
   */
  readonly checksum: number;
  readonly flags: number;
  /** Names of the set flag bits, lowest first. */
  readonly flag_names: string[];
  readonly lower: number;
  readonly upper: number;
  readonly special: number;
  readonly pagesize: number;
  readonly version: number;
  readonly prune_xid: number;
  /** An uninitialised (all-zero) page. */
  readonly is_new: boolean;
}

const FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [PD_HAS_FREE_LINES, "PD_HAS_FREE_LINES"],
  [PD_PAGE_FULL, "PD_PAGE_FULL"],
  [PD_ALL_VISIBLE, "PD_ALL_VISIBLE"],
];

/** A checksum as PostgreSQL's smallint columns show it (page_header, page_checksum): signed. */
export function signedChecksum(checksum: number): number {
  return (checksum << 16) >> 16;
}

/** Formats an LSN given as its two stored halves, like PostgreSQL's `%X/%X`. */
export function formatLsn(high: number, low: number): string {
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** Decodes the header of one page, whatever it holds (no checks). */
export function decodePageHeader(page: Uint8Array, block: number): PageHeaderRow {
  const flags = pageGetFlags(page);
  return {
    block,
    lsn: formatLsn(readUint32(page, PD_LSN_OFFSET), readUint32(page, PD_LSN_OFFSET + 4)),
    checksum: pageGetChecksum(page),
    flags,
    flag_names: FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name),
    lower: pageGetLower(page),
    upper: pageGetUpper(page),
    special: pageGetSpecial(page),
    pagesize: pageGetPageSize(page),
    version: pageGetPageLayoutVersion(page),
    prune_xid: pageGetPruneXid(page),
    is_new: pageIsNew(page),
  };
}

/**
 * The header of every block of a fork file (or of `options.block`), after checking the file
 * size and every selected page (see blocks.ts verifyPage for the errors).
 *
 * @example
 * ```ts
 * const [first] = inspectPageHeader(readFileSync("main.bin"));
 * first.lower; // 356
 * ```
 */
export function inspectPageHeader(file: Uint8Array, options: InspectOptions = {}): PageHeaderRow[] {
  return verifyForkPages(file, options).map((block) =>
    decodePageHeader(forkPage(file, block, options.firstBlock ?? 0), block),
  );
}
