/**
 * Masking the parts of a page that may legitimately differ between the page a server changed and
 * the same page rebuilt by WAL redo (LSN and checksum, hint flags, the free space, …), so that
 * the rest can be compared byte for byte — what wal_consistency_checking does after each record.
 *
 * Models: src/backend/access/common/bufmask.c (MASK_MARKER, mask_page_lsn_and_checksum,
 * mask_page_hint_bits, mask_unused_space).
 * Entry points: `MASK_MARKER`, `maskPageLsnAndChecksum`, `maskPageHintBits`, `maskUnusedSpace`.
 * See also: ../heap/heapam-redo.ts (heapMask, the heap's mask routine).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../../include/pg-config.js";
import {
  PD_CHECKSUM_OFFSET,
  PD_PRUNE_XID_OFFSET,
  pageClearAllVisible,
  pageClearFull,
  pageClearHasFreeLinePointers,
  pageGetLower,
  pageGetSpecial,
  pageGetUpper,
  pageSetLsn,
  SizeOfPageHeaderData,
} from "../../storage/page/bufpage.js";

/** The value masked bytes are set to. */
export const MASK_MARKER = 0;

/** mask_page_lsn_and_checksum: pd_lsn and pd_checksum. */
export function maskPageLsnAndChecksum(page: Uint8Array): void {
  pageSetLsn(page, BigInt(MASK_MARKER));
  page[PD_CHECKSUM_OFFSET] = MASK_MARKER;
  page[PD_CHECKSUM_OFFSET + 1] = MASK_MARKER;
}

/**
 * mask_page_hint_bits: pd_prune_xid, PD_PAGE_FULL and PD_HAS_FREE_LINES (hints), and
 * PD_ALL_VISIBLE (redo skips setting it when the page is already ahead of the VISIBLE record).
 */
export function maskPageHintBits(page: Uint8Array): void {
  page.fill(MASK_MARKER, PD_PRUNE_XID_OFFSET, PD_PRUNE_XID_OFFSET + 4);
  pageClearFull(page);
  pageClearHasFreeLinePointers(page);
  pageClearAllVisible(page);
}

/**
 * mask_unused_space: the bytes between pd_lower and pd_upper. Throws `corrupted-page-pointers`
 * ("invalid page pd_lower … pd_upper … pd_special …", PostgreSQL's ERROR) for a page whose
 * pointers are out of order.
 */
export function maskUnusedSpace(page: Uint8Array): void {
  const lower = pageGetLower(page);
  const upper = pageGetUpper(page);
  const special = pageGetSpecial(page);
  if (lower > upper || special < upper || lower < SizeOfPageHeaderData || special > BLCKSZ) {
    throw new PgsimError(
      "corrupted-page-pointers",
      `invalid page pd_lower ${lower} pd_upper ${upper} pd_special ${special}`,
    );
  }
  page.fill(MASK_MARKER, lower, upper);
}
