/**
 * The 8 KB slotted page: header fields, line pointers, adding items, compaction, free space.
 *
 * Models: src/include/storage/bufpage.h, itemid.h, off.h and src/backend/storage/page/bufpage.c
 * (PageInit, PageIsVerifiedExtended, PageAddItemExtended, PageRepairFragmentation,
 * PageGetFreeSpace, PageGetExactFreeSpace, PageGetHeapFreeSpace, PageSetChecksumInplace,
 * PageSetChecksumCopy, PageIndexTupleOverwrite).
 *
 * Entry points: pageInit, pageAddItemExtended, pageReserveHeapItem, pageGetItemId, pageGetItem,
 * pageGetItemIds / pageSetItemIdsTo (line pointers in bulk), pageRepairFragmentation,
 * pageTruncateLinePointerArray, pageGetHeapFreeSpace, pageVerify / pageIsVerified,
 * pageSetChecksumInplace, pageIndexTupleOverwrite.
 *
 * A page is a plain `Uint8Array` of BLCKSZ bytes; every multi-byte field is little-endian, read
 * and written byte by byte (le-bytes.ts) so that no accessor allocates (a DataView per call
 * would) and pages may sit at any offset of any buffer, shared or not. The loops that visit every
 * line pointer of a page (pruning, VACUUM, a scan's page, compaction) read and write the words
 * through an Int32Array view of the page instead — one load per line pointer rather than four —
 * when the host is little-endian and the page 4-aligned (every buffer-pool page); the view is
 * made once per page view and kept in a WeakMap, so it lives no longer than the page.
 *
 * Differs from PostgreSQL: of the PageIndex* functions only PageIndexTupleOverwrite is modelled
 * (CREATE INDEX needs it; the deletions belong to index insertion and VACUUM, not built yet), and
 * PageGetFreeSpaceForMultipleTuples is not; PageSetPrunable lives in heapam.ts.
 *
 * See also: checksum.ts (pgChecksumPage), fsm-page.ts and visibilitymap-page.ts (pages that use
 * the same header but no line pointers), README.md "Page format".
 */
import { assert, PgsimError } from "@pgsim/clock-sweep";
// MAXALIGN and MaxHeapTuplesPerPage are defined once, next to the tuple header (bufpage.c takes
// MaxHeapTuplesPerPage from htup_details.h too); BLCKSZ comes from pg_config.h; the byte readers
// are shared.
import {
  InvalidOffsetNumber,
  MaxHeapTuplesPerPage,
  maxAlign,
} from "../../include/access/htup-details.js";
import { BLCKSZ } from "../../include/pg-config.js";
import { readUint16, readUint32, writeUint16, writeUint32 } from "../../include/port/le-bytes.js";
import { pgChecksumPage } from "./checksum.js";

/** Size of PageHeaderData up to (not including) the line pointer array. */
export const SizeOfPageHeaderData = 24;
/** Size of one line pointer (ItemIdData). */
export const SizeOfItemIdData = 4;
/** Current page layout version, the low byte of pd_pagesize_version. */
export const PG_PAGE_LAYOUT_VERSION = 4;

// Byte offsets of the header fields (bufpage.h PageHeaderData).
/** pd_lsn: two uint32, high half (xlogid) first, then the low half (xrecoff). */
export const PD_LSN_OFFSET = 0;
/** pd_checksum: uint16. */
export const PD_CHECKSUM_OFFSET = 8;
/** pd_flags: uint16. */
export const PD_FLAGS_OFFSET = 10;
/** pd_lower: uint16, end of the line pointer array. */
export const PD_LOWER_OFFSET = 12;
/** pd_upper: uint16, start of tuple space. */
export const PD_UPPER_OFFSET = 14;
/** pd_special: uint16, start of special space. */
export const PD_SPECIAL_OFFSET = 16;
/** pd_pagesize_version: uint16, size in the high byte bits, layout version in the low byte. */
export const PD_PAGESIZE_VERSION_OFFSET = 18;
/** pd_prune_xid: uint32. */
export const PD_PRUNE_XID_OFFSET = 20;

/** pd_flags: some LP_UNUSED line pointer exists below pd_lower (a hint). */
export const PD_HAS_FREE_LINES = 0x0001;
/** pd_flags: an update did not find room on this page (a hint that triggers pruning). */
export const PD_PAGE_FULL = 0x0002;
/** pd_flags: every tuple on the page is visible to everyone. */
export const PD_ALL_VISIBLE = 0x0004;
/** pd_flags: the bits a sane page may have set. */
export const PD_VALID_FLAG_BITS = 0x0007;

/** lp_flags: free for reuse (lp_off = lp_len = 0). */
export const LP_UNUSED = 0;
/** lp_flags: a tuple with storage (lp_len > 0). */
export const LP_NORMAL = 1;
/** lp_flags: HOT redirect; lp_off holds the target offset number, lp_len is 0. */
export const LP_REDIRECT = 2;
/** lp_flags: dead; on heap pages without storage. */
export const LP_DEAD = 3;

/** The first valid offset number. */
export const FirstOffsetNumber = 1;
/** The most line pointers a page could hold: (BLCKSZ - header) / 4. */
export const MaxOffsetNumber = (BLCKSZ - SizeOfPageHeaderData) / SizeOfItemIdData;

/** PageAddItemExtended flag: fill the given slot, which must be unused; never shuffle. */
export const PAI_OVERWRITE = 1;
/** PageAddItemExtended flag: the page is a heap page (enforces MaxHeapTuplesPerPage). */
export const PAI_IS_HEAP = 2;

/** Offset of the page contents of pages without line pointers (FSM, VM): MAXALIGN(24). */
export const PAGE_CONTENTS_OFFSET = maxAlign(SizeOfPageHeaderData);

// Layout facts this module relies on, checked once at load.
assert(SizeOfPageHeaderData === PD_PRUNE_XID_OFFSET + 4, "page header is 24 bytes");
assert(MaxHeapTuplesPerPage === 291, "MaxHeapTuplesPerPage is 291 for 8 KB pages");
assert(MaxOffsetNumber === 2042, "MaxOffsetNumber is 2042 for 8 KB pages");
assert(BLCKSZ <= 0x7fff + 1, "lp_off (15 bits) can address every byte of a page");

// ---------------------------------------------------------------------------------------------
// Header fields.

/** pd_lsn as one 64-bit number: (xlogid << 32) | xrecoff. */
export function pageGetLsn(page: Uint8Array): bigint {
  const high = readUint32(page, PD_LSN_OFFSET);
  const low = readUint32(page, PD_LSN_OFFSET + 4);
  return (BigInt(high) << 32n) | BigInt(low);
}

/** Sets pd_lsn. The two halves are stored as separate uint32, high half first. */
export function pageSetLsn(page: Uint8Array, lsn: bigint): void {
  if (lsn >= 0n && lsn <= MAX_SAFE_LSN) {
    // One conversion, no bigint arithmetic: the common case (every LSN pgsim's WAL hands out).
    const n = Number(lsn);
    const low = n >>> 0; // the low 32 bits of an integer below 2^53
    writeUint32(page, PD_LSN_OFFSET, (n - low) / 0x100000000);
    writeUint32(page, PD_LSN_OFFSET + 4, low);
    return;
  }
  assert(lsn >= 0n && lsn < LSN_LIMIT, "an LSN is an unsigned 64-bit number");
  writeUint32(page, PD_LSN_OFFSET, Number(lsn >> 32n));
  writeUint32(page, PD_LSN_OFFSET + 4, Number(lsn & 0xffffffffn));
}

const MAX_SAFE_LSN = BigInt(Number.MAX_SAFE_INTEGER);
const LSN_LIMIT = 1n << 64n;

/** pd_checksum as stored (unsigned). */
export function pageGetChecksum(page: Uint8Array): number {
  return readUint16(page, PD_CHECKSUM_OFFSET);
}

/** pd_flags. */
export function pageGetFlags(page: Uint8Array): number {
  return readUint16(page, PD_FLAGS_OFFSET);
}

/** pd_lower: end of the line pointer array, start of free space. */
export function pageGetLower(page: Uint8Array): number {
  return readUint16(page, PD_LOWER_OFFSET);
}

/** pd_upper: end of free space, start of tuple data. */
export function pageGetUpper(page: Uint8Array): number {
  return readUint16(page, PD_UPPER_OFFSET);
}

/** pd_special: start of the special space (BLCKSZ on heap, FSM and VM pages). */
export function pageGetSpecial(page: Uint8Array): number {
  return readUint16(page, PD_SPECIAL_OFFSET);
}

/** Page size recorded in the header (PageGetPageSize): the high byte bits of the field. */
export function pageGetPageSize(page: Uint8Array): number {
  return readUint16(page, PD_PAGESIZE_VERSION_OFFSET) & 0xff00;
}

/** Layout version recorded in the header (PageGetPageLayoutVersion): the low byte. */
export function pageGetPageLayoutVersion(page: Uint8Array): number {
  return readUint16(page, PD_PAGESIZE_VERSION_OFFSET) & 0x00ff;
}

/** pd_prune_xid: the oldest xid that may make pruning worthwhile; 0 if none. */
export function pageGetPruneXid(page: Uint8Array): number {
  return readUint32(page, PD_PRUNE_XID_OFFSET);
}

/** Sets pd_prune_xid (PageClearPrunable is `pageSetPruneXid(page, 0)`). */
export function pageSetPruneXid(page: Uint8Array, xid: number): void {
  writeUint32(page, PD_PRUNE_XID_OFFSET, xid);
}

/** Whether PD_HAS_FREE_LINES is set. */
export function pageHasFreeLinePointers(page: Uint8Array): boolean {
  return (pageGetFlags(page) & PD_HAS_FREE_LINES) !== 0;
}

/** Sets PD_HAS_FREE_LINES. */
export function pageSetHasFreeLinePointers(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) | PD_HAS_FREE_LINES);
}

/** Clears PD_HAS_FREE_LINES. */
export function pageClearHasFreeLinePointers(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) & ~PD_HAS_FREE_LINES);
}

/** Whether PD_PAGE_FULL is set. */
export function pageIsFull(page: Uint8Array): boolean {
  return (pageGetFlags(page) & PD_PAGE_FULL) !== 0;
}

/** Sets PD_PAGE_FULL. */
export function pageSetFull(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) | PD_PAGE_FULL);
}

/** Clears PD_PAGE_FULL. */
export function pageClearFull(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) & ~PD_PAGE_FULL);
}

/** Whether PD_ALL_VISIBLE is set. */
export function pageIsAllVisible(page: Uint8Array): boolean {
  return (pageGetFlags(page) & PD_ALL_VISIBLE) !== 0;
}

/** Sets PD_ALL_VISIBLE. */
export function pageSetAllVisible(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) | PD_ALL_VISIBLE);
}

/** Clears PD_ALL_VISIBLE. */
export function pageClearAllVisible(page: Uint8Array): void {
  writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) & ~PD_ALL_VISIBLE);
}

/** PageIsNew: pd_upper is 0, i.e. the page was never initialised (normally all zeros). */
export function pageIsNew(page: Uint8Array): boolean {
  return pageGetUpper(page) === 0;
}

/** PageIsEmpty: no line pointers. */
export function pageIsEmpty(page: Uint8Array): boolean {
  return pageGetLower(page) <= SizeOfPageHeaderData;
}

/** Number of line pointers (PageGetMaxOffsetNumber); 0 for an empty or new page. */
export function pageGetMaxOffsetNumber(page: Uint8Array): number {
  const lower = pageGetLower(page);
  return lower <= SizeOfPageHeaderData ? 0 : (lower - SizeOfPageHeaderData) >>> 2;
}

// ---------------------------------------------------------------------------------------------
// Line pointers (itemid.h). An ItemId is handled as its raw 32-bit word so that reading one
// allocates nothing: bits 0-14 lp_off, 15-16 lp_flags, 17-31 lp_len.

/** Builds a line pointer word from its three fields. */
export function makeItemId(offset: number, flags: number, length: number): number {
  assert(offset >= 0 && offset <= 0x7fff, "lp_off has 15 bits");
  assert(flags >= 0 && flags <= 3, "lp_flags has 2 bits");
  assert(length >= 0 && length <= 0x7fff, "lp_len has 15 bits");
  return (offset | (flags << 15) | (length << 17)) >>> 0;
}

/** lp_off: the tuple's byte offset in the page (for LP_REDIRECT the target offset number). */
export function itemIdGetOffset(itemId: number): number {
  return itemId & 0x7fff;
}

/** lp_flags: LP_UNUSED, LP_NORMAL, LP_REDIRECT or LP_DEAD. */
export function itemIdGetFlags(itemId: number): number {
  return (itemId >>> 15) & 0x3;
}

/** lp_len: the tuple's length in bytes, not aligned. */
export function itemIdGetLength(itemId: number): number {
  return itemId >>> 17;
}

/** The target offset number of an LP_REDIRECT line pointer. */
export function itemIdGetRedirect(itemId: number): number {
  return itemId & 0x7fff;
}

/** ItemIdIsUsed: anything but LP_UNUSED. */
export function itemIdIsUsed(itemId: number): boolean {
  return itemIdGetFlags(itemId) !== LP_UNUSED;
}

/** ItemIdIsNormal: LP_NORMAL. */
export function itemIdIsNormal(itemId: number): boolean {
  return itemIdGetFlags(itemId) === LP_NORMAL;
}

/** ItemIdIsRedirected: LP_REDIRECT. */
export function itemIdIsRedirected(itemId: number): boolean {
  return itemIdGetFlags(itemId) === LP_REDIRECT;
}

/** ItemIdIsDead: LP_DEAD. */
export function itemIdIsDead(itemId: number): boolean {
  return itemIdGetFlags(itemId) === LP_DEAD;
}

/** ItemIdHasStorage: lp_len is not 0. */
export function itemIdHasStorage(itemId: number): boolean {
  return itemIdGetLength(itemId) !== 0;
}

/** Byte offset of line pointer `offsetNumber` (1-based) in the page. */
function itemIdOffsetInPage(offsetNumber: number): number {
  return SizeOfPageHeaderData + SizeOfItemIdData * (offsetNumber - 1);
}

/**
 * The line pointer word of item `offsetNumber` (PageGetItemId). Does not check the number against
 * pd_lower: callers iterate 1..pageGetMaxOffsetNumber.
 *
 * @example
 * ```ts
 * const id = pageGetItemId(page, 1);
 * if (itemIdIsNormal(id)) console.log(itemIdGetOffset(id), itemIdGetLength(id));
 * ```
 */
export function pageGetItemId(page: Uint8Array, offsetNumber: number): number {
  assert(
    offsetNumber >= FirstOffsetNumber && offsetNumber <= MaxOffsetNumber,
    "offset number is within a page",
  );
  return readUint32(page, itemIdOffsetInPage(offsetNumber));
}

/** Whether the host stores integers little-endian, as pages do (an Int32Array then reads them). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Copies the words of line pointers 1..`maxoff` into `out[1..maxoff]` (`out[0]` is left alone),
 * for a loop that looks at every line pointer of a page, some more than once (pruning). On a
 * little-endian host, with the page 4-aligned in its buffer (every buffer-pool page is), each is
 * one load through an Int32Array view of the page; otherwise its four bytes are read.
 * The words are signed (bit 31 is the top bit of lp_len): the itemIdGet* functions read them
 * alike. `maxoff` is at most pageGetMaxOffsetNumber(page).
 */
export function pageGetItemIds(page: Uint8Array, maxoff: number, out: Int32Array): void {
  assert(
    maxoff >= 0 && maxoff <= MaxOffsetNumber && maxoff < out.length,
    "line pointers fit the page and the array",
  );
  if (maxoff === 0) return;
  const words = pageWords(page);
  if (words !== undefined) {
    // Line pointer `off` is word 6 + off - 1 of the page (the header is six words).
    for (let off = 1; off <= maxoff; off++) out[off] = words[5 + off]!;
    return;
  }
  for (let off = 1; off <= maxoff; off++) {
    out[off] = readUint32(page, itemIdOffsetInPage(off)) | 0;
  }
}

/**
 * Int32Array views of pages, one per page view (the buffer pool hands out the same Uint8Array
 * for a buffer every time), so that the view is made once rather than once per call: reaching
 * a typed array's `buffer` costs more than a WeakMap lookup.
 */
const pageWordViews = new WeakMap<Uint8Array, Int32Array>();

/**
 * The page as BLCKSZ / 4 little-endian words, or undefined where a word would not read as the
 * page's bytes do: a big-endian host, or a page that is not 4-aligned in its buffer.
 */
function pageWords(page: Uint8Array): Int32Array | undefined {
  let words = pageWordViews.get(page);
  if (words === undefined) {
    if (!HOST_LITTLE_ENDIAN || (page.byteOffset & 3) !== 0 || page.length !== BLCKSZ) {
      return undefined;
    }
    words = new Int32Array(page.buffer, page.byteOffset, BLCKSZ / 4);
    pageWordViews.set(page, words);
  }
  return words;
}

/**
 * Sets line pointers `offsets[0 .. count)` to the same word `itemId` (LP_DEAD or LP_UNUSED ones
 * that pruning and VACUUM write by the hundred): pageSetItemId for each, one store each through
 * the page's Int32Array view on a little-endian host when the page is 4-aligned.
 */
export function pageSetItemIdsTo(
  page: Uint8Array,
  offsets: ArrayLike<number>,
  count: number,
  itemId: number,
): void {
  if (count === 0) return;
  const words = pageWords(page);
  if (words === undefined) {
    for (let i = 0; i < count; i++) pageSetItemId(page, offsets[i]!, itemId);
    return;
  }
  const word = itemId | 0;
  for (let i = 0; i < count; i++) {
    const off = offsets[i]!;
    assert(off >= FirstOffsetNumber && off <= MaxOffsetNumber, "offset number is within a page");
    words[5 + off] = word;
  }
}

/** Overwrites line pointer `offsetNumber` with the word `itemId` (see makeItemId). */
export function pageSetItemId(page: Uint8Array, offsetNumber: number, itemId: number): void {
  assert(
    offsetNumber >= FirstOffsetNumber && offsetNumber <= MaxOffsetNumber,
    "offset number is within a page",
  );
  writeUint32(page, itemIdOffsetInPage(offsetNumber), itemId);
}

/**
 * The bytes an item points to (PageGetItem), as a view into the page: writing to it changes the
 * page. The caller made sure the item has storage inside the page.
 */
export function pageGetItem(page: Uint8Array, itemId: number): Uint8Array {
  const offset = itemIdGetOffset(itemId);
  const length = itemIdGetLength(itemId);
  assert(length > 0 && offset + length <= BLCKSZ, "item has storage inside the page");
  return page.subarray(offset, offset + length);
}

// ---------------------------------------------------------------------------------------------
// Initialisation and verification.

/** An all-zero page, the source pageInit copies from. Never written. */
const ZERO_PAGE = new Uint8Array(BLCKSZ);

/**
 * Formats an empty page (PageInit): zeroes all of it, then sets pd_lower past the header,
 * pd_upper = pd_special = BLCKSZ - MAXALIGN(specialSize), and the page size and layout version.
 * No checksum is computed: that happens when the page is written (pageSetChecksumInplace).
 *
 * @example
 * ```ts
 * const page = new Uint8Array(BLCKSZ);
 * pageInit(page, 0); // a heap, FSM or VM page
 * ```
 */
export function pageInit(page: Uint8Array, specialSize = 0): void {
  assert(page.length === BLCKSZ, "a page is BLCKSZ bytes");
  const special = BLCKSZ - maxAlign(specialSize);
  assert(special > SizeOfPageHeaderData, "the special space leaves room for the header");
  // MemSet(page, 0, BLCKSZ). Copying a zero page is a memcpy even when the page lies in a
  // SharedArrayBuffer, where fill(0) goes element by element (about six times slower).
  page.set(ZERO_PAGE);
  writeUint16(page, PD_LOWER_OFFSET, SizeOfPageHeaderData);
  writeUint16(page, PD_UPPER_OFFSET, special);
  writeUint16(page, PD_SPECIAL_OFFSET, special);
  writeUint16(page, PD_PAGESIZE_VERSION_OFFSET, BLCKSZ | PG_PAGE_LAYOUT_VERSION);
}

/**
 * Why a page header is not sane, or undefined when it is. The checks are PostgreSQL's
 * (PageIsVerifiedExtended: no unknown flag bits, lower <= upper <= special <= BLCKSZ, special
 * MAXALIGNed) plus three of pgsim's own.
 *
 * Differs from PostgreSQL: pgsim also rejects a page whose pd_pagesize_version is not 0x2004
 * (8 KB, layout version 4) or whose pd_lower is below the header size. PostgreSQL does not look
 * at either when verifying a page read from disk; it would PANIC on the latter once it tried to
 * add an item. Neither can occur on a page PostgreSQL 15 wrote.
 */
export function pageHeaderProblem(page: Uint8Array): string | undefined {
  const pageSize = pageGetPageSize(page);
  const version = pageGetPageLayoutVersion(page);
  if (pageSize !== BLCKSZ) return `page size is ${pageSize}, expected ${BLCKSZ}`;
  if (version !== PG_PAGE_LAYOUT_VERSION) {
    return `page layout version is ${version}, expected ${PG_PAGE_LAYOUT_VERSION}`;
  }
  const flags = pageGetFlags(page);
  if ((flags & ~PD_VALID_FLAG_BITS) !== 0) {
    return `unknown flag bits 0x${(flags & ~PD_VALID_FLAG_BITS).toString(16).padStart(4, "0")}`;
  }
  const lower = pageGetLower(page);
  const upper = pageGetUpper(page);
  const special = pageGetSpecial(page);
  if (!pagePointersValid(lower, upper, special)) {
    return `corrupted page pointers: lower = ${lower}, upper = ${upper}, special = ${special}`;
  }
  return undefined;
}

/** Whether the page header is sane (see pageHeaderProblem). */
export function pageHeaderIsSane(page: Uint8Array): boolean {
  return pageHeaderProblem(page) === undefined;
}

/** Whether all BLCKSZ bytes are zero. */
export function pageIsAllZero(page: Uint8Array): boolean {
  // Eight bytes at a time would be faster, but this runs only for pages with pd_upper = 0,
  // which are rare.
  for (let i = 0; i < BLCKSZ; i++) if (page[i] !== 0) return false;
  return true;
}

/**
 * What verifying a page found:
 * - `"ok"`: an initialised page with a sane header (and a matching checksum when checked);
 * - `"all-zero"`: a page never initialised, all zeros, which is legal (an extension that a crash
 *   cut short);
 * - `"bad-header"`: the header is not sane (see pageHeaderProblem);
 * - `"bad-checksum"`: the header is sane but the stored checksum differs from the computed one;
 * - `"not-all-zero"`: pd_upper is 0 (a "new" page) but some byte is not zero.
 */
export type PageVerifyOutcome = "ok" | "all-zero" | "bad-header" | "bad-checksum" | "not-all-zero";

/** Options of pageVerify / pageIsVerified. */
export interface PageVerifyOptions {
  /** Whether data checksums are on, so the checksum is checked too. Default true. */
  readonly checksums?: boolean;
  /**
   * ignore_checksum_failure: accept a page whose only fault is its checksum (pageIsVerified
   * returns true; pageVerify still reports "bad-checksum"). Default false.
   */
  readonly ignoreChecksumFailure?: boolean;
}

/**
 * Checks a page just read from disk, like PageIsVerifiedExtended, and says what it found. The
 * header is judged first: a page with an insane header reports "bad-header" whatever its checksum.
 * Allocates nothing for a good page.
 *
 * Differs from PostgreSQL: PostgreSQL logs a WARNING and counts the failure in pgstat; pgsim
 * returns the outcome and leaves reporting to the caller. ignore_checksum_failure is an option of
 * pageIsVerified, not a setting.
 *
 * @example
 * ```ts
 * if (pageVerify(page, blockNumber) === "bad-checksum") {
 *   console.log(`calculated checksum ${pgChecksumPage(page, blockNumber)}`);
 * }
 * ```
 */
export function pageVerify(
  page: Uint8Array,
  blockNumber: number,
  options: PageVerifyOptions = {},
): PageVerifyOutcome {
  assert(page.length === BLCKSZ, "a page is BLCKSZ bytes");
  if (pageIsNew(page)) return pageIsAllZero(page) ? "all-zero" : "not-all-zero";
  if (!pageHeaderIsSane(page)) return "bad-header";
  if (options.checksums !== false && pgChecksumPage(page, blockNumber) !== pageGetChecksum(page)) {
    return "bad-checksum";
  }
  return "ok";
}

/**
 * Whether a page read from disk may be used (PageIsVerifiedExtended): a sane, initialised page
 * whose checksum matches, or an all-zero page.
 */
export function pageIsVerified(
  page: Uint8Array,
  blockNumber: number,
  options: PageVerifyOptions = {},
): boolean {
  const outcome = pageVerify(page, blockNumber, options);
  return (
    outcome === "ok" ||
    outcome === "all-zero" ||
    (outcome === "bad-checksum" && options.ignoreChecksumFailure === true)
  );
}

/**
 * Stores the page's checksum in pd_checksum (PageSetChecksumInplace), just before the page is
 * written. A new (uninitialised) page keeps its zeros: it carries no checksum.
 *
 * Differs from PostgreSQL: PostgreSQL does nothing here when data checksums are off for the
 * cluster; pgsim's callers decide that and call this only when they want a checksum.
 */
export function pageSetChecksumInplace(page: Uint8Array, blockNumber: number): void {
  if (pageIsNew(page)) return;
  writeUint16(page, PD_CHECKSUM_OFFSET, pgChecksumPage(page, blockNumber));
}

/**
 * Copies the page into `target` and stores the checksum in the copy (PageSetChecksumCopy), so
 * that a page others may be changing (hint bits under a share lock) is checksummed as written.
 * Returns `target`.
 *
 * Differs from PostgreSQL: PostgreSQL returns the page itself, uncopied, when it is new, and uses
 * one static buffer per backend; pgsim always copies into the caller's buffer.
 */
export function pageSetChecksumCopy(
  page: Uint8Array,
  blockNumber: number,
  target: Uint8Array = new Uint8Array(BLCKSZ),
): Uint8Array {
  assert(target.length === BLCKSZ && page.length === BLCKSZ, "pages are BLCKSZ bytes");
  target.set(page);
  pageSetChecksumInplace(target, blockNumber);
  return target;
}

// ---------------------------------------------------------------------------------------------
// Adding items.

/** Throws the error PostgreSQL raises when pd_lower/pd_upper/pd_special are impossible. */
function corruptedPagePointers(lower: number, upper: number, special: number): PgsimError {
  return new PgsimError(
    "corrupted-page-pointers",
    `corrupted page pointers: lower = ${lower}, upper = ${upper}, special = ${special}`,
    { lower, upper, special },
  );
}

/**
 * Whether pd_lower, pd_upper and pd_special are possible: 24 <= pd_lower <= pd_upper <=
 * pd_special <= BLCKSZ with pd_special MAXALIGNed — the paranoia of PostgreSQL's
 * PageRepairFragmentation, PageIndexTupleDelete, PageIndexMultiDelete and
 * PageIndexTupleOverwrite (and of PageIsVerifiedExtended's header check).
 */
function pagePointersValid(lower: number, upper: number, special: number): boolean {
  return (
    lower >= SizeOfPageHeaderData &&
    lower <= upper &&
    upper <= special &&
    special <= BLCKSZ &&
    special === maxAlign(special)
  );
}

/**
 * Returns pd_lower, pd_upper and pd_special, or throws `corrupted-page-pointers` ("corrupted page
 * pointers: lower = %u, upper = %u, special = %u", PostgreSQL's message) unless they pass
 * `pagePointersValid`.
 */
function checkPagePointers(page: Uint8Array): { lower: number; upper: number; special: number } {
  const lower = pageGetLower(page);
  const upper = pageGetUpper(page);
  const special = pageGetSpecial(page);
  if (!pagePointersValid(lower, upper, special)) {
    throw corruptedPagePointers(lower, upper, special);
  }
  return { lower, upper, special };
}

/**
 * Puts `item` on the page (PageAddItemExtended) and returns its offset number, or
 * InvalidOffsetNumber (0) when it cannot: no room (the usual case, an expected outcome), more
 * than MaxHeapTuplesPerPage items on a heap page, an offset number past the end, or (with
 * PAI_OVERWRITE) a slot in use.
 *
 * With `offsetNumber` = InvalidOffsetNumber the item takes the first unused line pointer when
 * PD_HAS_FREE_LINES says there may be one (clearing the hint if there is none), otherwise a new
 * line pointer at the end. A given `offsetNumber` below the end either overwrites an unused slot
 * (PAI_OVERWRITE) or shifts the later line pointers up by one (index pages). The item's bytes go
 * just below pd_upper, MAXALIGNed; lp_len is the unaligned length.
 *
 * Differs from PostgreSQL: PostgreSQL also logs a WARNING for the invalid requests; pgsim only
 * returns 0. Corrupt page pointers throw `corrupted-page-pointers` where PostgreSQL PANICs.
 *
 * @example
 * ```ts
 * const offnum = pageAddItemExtended(page, tupleBytes, InvalidOffsetNumber, PAI_IS_HEAP);
 * if (offnum === InvalidOffsetNumber) { ... the page is full: try another one ... }
 * ```
 */
export function pageAddItemExtended(
  page: Uint8Array,
  item: Uint8Array,
  offsetNumber: number,
  flags: number,
): number {
  const target = placeItem(page, item.length, offsetNumber, flags);
  // Only item.length bytes are written: the alignment padding after the item keeps whatever the
  // page held there, as in PostgreSQL (zeros on a page that was initialised and never compacted).
  if (target !== InvalidOffsetNumber) page.set(item, pageGetUpper(page));
  return target;
}

/**
 * PageAddItemExtended without the memcpy, for a heap item (PAI_IS_HEAP, InvalidOffsetNumber):
 * takes the line pointer and the `length` bytes (MAXALIGNed) just below pd_upper exactly as
 * pageAddItemExtended would for an item of that length, and returns the offset number (or
 * InvalidOffsetNumber when the page has no room). The caller then writes the item's `length`
 * bytes at the new pd_upper (`pageGetUpper(page)`), e.g. forming a tuple straight into the page;
 * the bytes there are not cleared. (pgsim only: PostgreSQL copies a tuple formed elsewhere.)
 */
export function pageReserveHeapItem(page: Uint8Array, length: number): number {
  return placeItem(page, length, InvalidOffsetNumber, PAI_IS_HEAP);
}

/**
 * The body of PageAddItemExtended up to the copy: chooses the slot, sets its line pointer to an
 * item of `length` bytes at the new pd_upper, and moves pd_lower and pd_upper. Returns the offset
 * number, or InvalidOffsetNumber with the page unchanged.
 */
function placeItem(page: Uint8Array, length: number, offsetNumber: number, flags: number): number {
  const lower = pageGetLower(page);
  const upper = pageGetUpper(page);
  const special = pageGetSpecial(page);
  // PageAddItemExtended, unlike the functions that use checkPagePointers, does not check that
  // pd_special is MAXALIGNed.
  if (lower < SizeOfPageHeaderData || lower > upper || upper > special || special > BLCKSZ) {
    throw corruptedPagePointers(lower, upper, special);
  }
  assert(
    offsetNumber >= InvalidOffsetNumber && offsetNumber <= MaxOffsetNumber,
    "offset number in range",
  );

  const limit = pageGetMaxOffsetNumber(page) + 1;
  let target = offsetNumber;
  let needShuffle = false;

  if (target !== InvalidOffsetNumber) {
    if ((flags & PAI_OVERWRITE) !== 0) {
      if (target < limit) {
        const itemId = pageGetItemId(page, target);
        if (itemIdIsUsed(itemId) || itemIdHasStorage(itemId)) return InvalidOffsetNumber;
      }
    } else if (target < limit) {
      needShuffle = true;
    }
  } else if (pageHasFreeLinePointers(page)) {
    // The hint says an unused slot may exist below pd_lower: take the first one. It is only a
    // hint, so if none turns up, clear it and append.
    target = limit;
    for (let candidate = FirstOffsetNumber; candidate < limit; candidate++) {
      const itemId = pageGetItemId(page, candidate);
      if (!itemIdIsUsed(itemId) && !itemIdHasStorage(itemId)) {
        target = candidate;
        break;
      }
    }
    if (target === limit) pageClearHasFreeLinePointers(page);
  } else {
    target = limit;
  }

  if (target > limit) return InvalidOffsetNumber;
  if ((flags & PAI_IS_HEAP) !== 0 && target > MaxHeapTuplesPerPage) return InvalidOffsetNumber;

  // Reusing a slot costs no line pointer bytes; a new or shuffled-in slot costs 4.
  const newLower = target === limit || needShuffle ? lower + SizeOfItemIdData : lower;
  const newUpper = upper - maxAlign(length);
  if (newLower > newUpper) return InvalidOffsetNumber;

  if (needShuffle) {
    const from = itemIdOffsetInPage(target);
    page.copyWithin(from + SizeOfItemIdData, from, itemIdOffsetInPage(limit));
  }
  pageSetItemId(page, target, makeItemId(newUpper, LP_NORMAL, length));
  writeUint16(page, PD_LOWER_OFFSET, newLower);
  writeUint16(page, PD_UPPER_OFFSET, newUpper);
  return target;
}

// ---------------------------------------------------------------------------------------------
// Compaction. Scratch space is allocated once: the function is not re-entrant, which is fine in
// single-threaded JavaScript (each worker has its own module instance).

const repairScratch = new Uint8Array(BLCKSZ);
const repairItems = new Uint16Array(MaxOffsetNumber);
/** The line pointer words as they were when compaction began (pageGetItemIds). */
const repairLineScratch = new Int32Array(MaxOffsetNumber + 1);

/**
 * Defragments a heap page (PageRepairFragmentation): moves every item with storage to the end
 * of the page, item 1's tuple ending at pd_special, item 2's just below it and so on, without
 * gaps; resets LP_UNUSED line pointers to all zeros; drops trailing unused line pointers; and sets
 * PD_HAS_FREE_LINES exactly when an unused line pointer remains. Bytes below the new pd_upper keep
 * their old contents, as in PostgreSQL, so the result is byte for byte PostgreSQL's. The caller
 * holds a cleanup lock on the buffer.
 *
 * Throws `corrupted-page-pointers`, `corrupted-line-pointer` or `corrupted-item-lengths` (the
 * errors PostgreSQL raises) for a damaged page.
 *
 * Differs from PostgreSQL: an item whose MAXALIGNed length runs past pd_special also counts as a
 * corrupted line pointer; PostgreSQL would read past the page.
 */
export function pageRepairFragmentation(page: Uint8Array): void {
  const { lower, upper, special } = checkPagePointers(page);

  const lineCount = pageGetMaxOffsetNumber(page);
  let storageCount = 0;
  let unusedCount = 0;
  let totalLength = 0;
  let finalUsed = InvalidOffsetNumber;
  // Whether the items' offsets fall strictly as their numbers rise, the layout a page has after
  // plain inserts or a previous compaction: then each item can be moved in place toward the end.
  let presorted = true;
  let lastOffset = special;
  const lps = repairLineScratch;
  pageGetItemIds(page, lineCount, lps);

  for (let i = FirstOffsetNumber; i <= lineCount; i++) {
    const itemId = lps[i]!;
    if (itemIdIsUsed(itemId)) {
      if (itemIdHasStorage(itemId)) {
        const offset = itemIdGetOffset(itemId);
        const alignedLength = maxAlign(itemIdGetLength(itemId));
        if (offset < upper || offset >= special || offset + alignedLength > special) {
          throw new PgsimError("corrupted-line-pointer", `corrupted line pointer: ${offset}`, {
            offsetNumber: i,
            offset,
          });
        }
        if (offset < lastOffset) lastOffset = offset;
        else presorted = false;
        repairItems[storageCount++] = i;
        totalLength += alignedLength;
      }
      finalUsed = i;
    } else {
      // An unused line pointer should already be all zeros; make sure.
      pageSetItemId(page, i, 0);
      unusedCount++;
    }
  }

  if (storageCount === 0) {
    writeUint16(page, PD_UPPER_OFFSET, special);
  } else {
    if (totalLength > special - lower) {
      throw new PgsimError(
        "corrupted-item-lengths",
        `corrupted item lengths: total ${totalLength}, available space ${special - lower}`,
        { totalLength, available: special - lower },
      );
    }
    if (!presorted) repairScratch.set(page.subarray(upper, special), upper);
    let newUpper = special;
    for (let k = 0; k < storageCount; k++) {
      const i = repairItems[k]!;
      const itemId = lps[i]!;
      const offset = itemIdGetOffset(itemId);
      const alignedLength = maxAlign(itemIdGetLength(itemId));
      newUpper -= alignedLength;
      // The whole MAXALIGNed chunk moves, padding included, as PostgreSQL's memmove does.
      if (presorted) page.copyWithin(newUpper, offset, offset + alignedLength);
      else page.set(repairScratch.subarray(offset, offset + alignedLength), newUpper);
      pageSetItemId(page, i, makeItemId(newUpper, itemIdGetFlags(itemId), itemIdGetLength(itemId)));
    }
    writeUint16(page, PD_UPPER_OFFSET, newUpper);
  }

  if (finalUsed < lineCount) {
    // Trailing unused line pointers are dropped rather than counted as reusable.
    const trailing = lineCount - finalUsed;
    unusedCount -= trailing;
    writeUint16(page, PD_LOWER_OFFSET, lower - SizeOfItemIdData * trailing);
  }
  if (unusedCount > 0) pageSetHasFreeLinePointers(page);
  else pageClearHasFreeLinePointers(page);
}

// ---------------------------------------------------------------------------------------------
// Free space.

/** PageGetExactFreeSpace: pd_upper - pd_lower, or 0. */
export function pageGetExactFreeSpace(page: Uint8Array): number {
  const space = pageGetUpper(page) - pageGetLower(page);
  return space < 0 ? 0 : space;
}

/** PageGetFreeSpace: the free space left after adding one more line pointer, or 0. */
export function pageGetFreeSpace(page: Uint8Array): number {
  const space = pageGetUpper(page) - pageGetLower(page);
  return space < SizeOfItemIdData ? 0 : space - SizeOfItemIdData;
}

/**
 * PageGetHeapFreeSpace: like pageGetFreeSpace, but 0 when the page already has
 * MaxHeapTuplesPerPage line pointers and none of them is unused (no new tuple could get an
 * offset number). An empty heap page reports 8164.
 */
export function pageGetHeapFreeSpace(page: Uint8Array): number {
  const space = pageGetFreeSpace(page);
  if (space === 0) return 0;
  const lineCount = pageGetMaxOffsetNumber(page);
  if (lineCount < MaxHeapTuplesPerPage) return space;
  // Trust a clear hint without scanning, as PostgreSQL does; a set hint is checked.
  if (!pageHasFreeLinePointers(page)) return 0;
  for (let i = FirstOffsetNumber; i <= lineCount; i++) {
    if (!itemIdIsUsed(pageGetItemId(page, i))) return space;
  }
  return 0;
}

/** The line pointer words pageTruncateLinePointerArray looks at (not re-entrant, like repairScratch). */
const truncateScratch = new Int32Array(MaxOffsetNumber + 1);

/**
 * PageTruncateLinePointerArray: after VACUUM set line pointers LP_UNUSED, drop the unused ones at
 * the end of the array (never the first line pointer), and set PD_HAS_FREE_LINES exactly when an
 * unused one remains. The caller holds an exclusive lock.
 */
export function pageTruncateLinePointerArray(page: Uint8Array): void {
  const maxoff = pageGetMaxOffsetNumber(page);
  const lps = truncateScratch;
  pageGetItemIds(page, maxoff, lps);
  let unusedAtEnd = 0;
  let counting = true;
  let freeRemains = false;
  for (let off = maxoff; off >= FirstOffsetNumber; off--) {
    const used = itemIdIsUsed(lps[off]!);
    if (counting && off > FirstOffsetNumber) {
      if (!used) unusedAtEnd++;
      else counting = false;
    } else if (!used) {
      // An unused line pointer that stays: the hint is set, and nothing more is to be learnt.
      freeRemains = true;
      break;
    } else {
      counting = false;
    }
  }
  if (unusedAtEnd > 0) {
    writeUint16(page, PD_LOWER_OFFSET, pageGetLower(page) - SizeOfItemIdData * unusedAtEnd);
  }
  if (freeRemains) pageSetHasFreeLinePointers(page);
  else pageClearHasFreeLinePointers(page);
}

// ---------------------------------------------------------------------------------------------
// Index pages.

/**
 * PageIndexTupleOverwrite: replaces the tuple of item `offnum` on an index page by `newtup`
 * (its length is the new lp_len), in place. When the MAXALIGNed sizes differ, the tuple data
 * between pd_upper and the item is moved by the difference, pd_upper and the affected line
 * pointers follow, and the bytes uncovered below the new pd_upper keep their old contents, as in
 * PostgreSQL. lp_flags are kept. Returns false (PostgreSQL too) for a line pointer without
 * storage of the right kind; throws `corrupted-page-pointers` for a damaged page.
 */
export function pageIndexTupleOverwrite(
  page: Uint8Array,
  offnum: number,
  newtup: Uint8Array,
): boolean {
  const { upper, special } = checkPagePointers(page);
  const itemcount = pageGetMaxOffsetNumber(page);
  if (offnum <= 0 || offnum > itemcount) return false;
  const tup = pageGetItemId(page, offnum);
  if (!itemIdHasStorage(tup)) return false;
  const offset = itemIdGetOffset(tup);
  const oldsize = maxAlign(itemIdGetLength(tup));
  if (offset < upper || offset + oldsize > special || offset !== maxAlign(offset)) {
    throw new PgsimError(
      "corrupted-line-pointer",
      `corrupted line pointer: offset = ${offset}, size = ${oldsize}`,
    );
  }
  const sizeDiff = oldsize - maxAlign(newtup.length);
  if (sizeDiff !== 0) {
    page.copyWithin(upper + sizeDiff, upper, offset);
    writeUint16(page, PD_UPPER_OFFSET, upper + sizeDiff);
    for (let i = FirstOffsetNumber; i <= itemcount; i++) {
      const ii = pageGetItemId(page, i);
      if (itemIdHasStorage(ii) && itemIdGetOffset(ii) <= offset) {
        pageSetItemId(
          page,
          i,
          makeItemId(itemIdGetOffset(ii) + sizeDiff, itemIdGetFlags(ii), itemIdGetLength(ii)),
        );
      }
    }
  }
  pageSetItemId(page, offnum, makeItemId(offset + sizeDiff, itemIdGetFlags(tup), newtup.length));
  page.set(newtup, offset + sizeDiff);
  return true;
}

/**
 * PageIndexTupleDelete: removes item `offnum` from an index page. The line pointers after it move
 * down one slot (the last slot's old bytes stay behind pd_lower), the tuple data between pd_upper
 * and the deleted tuple moves up by its MAXALIGNed size, and the line pointers of the moved tuples
 * follow. The bytes uncovered below the new pd_upper keep their old contents, as in PostgreSQL.
 * Throws PostgreSQL's errors for a damaged page or an invalid item.
 */
export function pageIndexTupleDelete(page: Uint8Array, offnum: number): void {
  const { lower, upper, special } = checkPagePointers(page);
  const nline = pageGetMaxOffsetNumber(page);
  if (offnum <= 0 || offnum > nline) {
    throw new PgsimError("internal-error", `invalid index offnum: ${offnum}`);
  }
  const tup = pageGetItemId(page, offnum);
  assert(itemIdHasStorage(tup), "PageIndexTupleDelete: the item has storage");
  const offset = itemIdGetOffset(tup);
  const size = maxAlign(itemIdGetLength(tup));
  if (offset < upper || offset + size > special || offset !== maxAlign(offset)) {
    throw new PgsimError(
      "corrupted-line-pointer",
      `corrupted line pointer: offset = ${offset}, size = ${size}`,
    );
  }
  // The line pointer array closes up over the deleted slot.
  const slot = SizeOfPageHeaderData + (offnum - 1) * SizeOfItemIdData;
  page.copyWithin(slot, slot + SizeOfItemIdData, lower);
  // The tuple data below the deleted tuple moves up over it.
  if (offset > upper) page.copyWithin(upper + size, upper, offset);
  writeUint16(page, PD_UPPER_OFFSET, upper + size);
  writeUint16(page, PD_LOWER_OFFSET, lower - SizeOfItemIdData);
  if (!pageIsEmpty(page)) {
    for (let i = FirstOffsetNumber; i <= nline - 1; i++) {
      const ii = pageGetItemId(page, i);
      if (itemIdGetOffset(ii) <= offset) {
        pageSetItemId(
          page,
          i,
          makeItemId(itemIdGetOffset(ii) + size, itemIdGetFlags(ii), itemIdGetLength(ii)),
        );
      }
    }
  }
}

/**
 * PageIndexMultiDelete: removes the items `itemnos` (ascending) from an index page. Two or fewer
 * go one at a time, last first (PageIndexTupleDelete); more are removed in one pass: the kept line
 * pointers are copied down in order (stale slots stay behind pd_lower) and the kept tuples are
 * packed against pd_special in line-pointer order (compactify_tuples), each with its MAXALIGNed
 * bytes. The bytes below the new pd_upper keep their old contents, as in PostgreSQL.
 */
export function pageIndexMultiDelete(page: Uint8Array, itemnos: readonly number[]): void {
  if (itemnos.length <= 2) {
    for (let i = itemnos.length - 1; i >= 0; i--) pageIndexTupleDelete(page, itemnos[i]!);
    return;
  }
  const { lower, upper, special } = checkPagePointers(page);
  const nline = pageGetMaxOffsetNumber(page);
  const kept: { lp: number; itemoff: number; alignedlen: number }[] = [];
  let nextitm = 0;
  let totallen = 0;
  for (let off = FirstOffsetNumber; off <= nline; off++) {
    const lp = pageGetItemId(page, off);
    const size = itemIdGetLength(lp);
    const offset = itemIdGetOffset(lp);
    if (offset < upper || offset + size > special || offset !== maxAlign(offset)) {
      throw new PgsimError(
        "corrupted-line-pointer",
        `corrupted line pointer: offset = ${offset}, size = ${size}`,
      );
    }
    if (nextitm < itemnos.length && off === itemnos[nextitm]) {
      nextitm++;
    } else {
      kept.push({ lp, itemoff: offset, alignedlen: maxAlign(size) });
      totallen += maxAlign(size);
    }
  }
  if (nextitm !== itemnos.length) {
    throw new PgsimError("internal-error", "incorrect index offsets supplied");
  }
  if (totallen > special - lower) {
    throw new PgsimError(
      "data-corrupted",
      `corrupted item lengths: total ${totallen}, available space ${special - lower}`,
    );
  }
  // compactify_tuples: whichever of its paths PostgreSQL takes, the result is the kept tuples
  // packed from pd_special down in line-pointer order, copied from the page as it was.
  const before = page.slice();
  let newUpper = special;
  kept.forEach((k, i) => {
    newUpper -= k.alignedlen;
    page.set(before.subarray(k.itemoff, k.itemoff + k.alignedlen), newUpper);
    pageSetItemId(page, i + 1, makeItemId(newUpper, itemIdGetFlags(k.lp), itemIdGetLength(k.lp)));
  });
  writeUint16(page, PD_LOWER_OFFSET, SizeOfPageHeaderData + kept.length * SizeOfItemIdData);
  writeUint16(page, PD_UPPER_OFFSET, newUpper);
}
