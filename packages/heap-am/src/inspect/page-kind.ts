/**
 * What kind of page a page is, judged by its special space, so that pgsim-inspect refuses an
 * index (or sequence) page instead of decoding it as a heap page.
 *
 * Models: the special space each access method reserves with PageInit (heap, free space map and
 * visibility map pages reserve none): nbtree.h BTPageOpaqueData (16 bytes, btpo_flags at 12),
 * hash.h HashPageOpaqueData (16 bytes, hasho_page_id 0xFF80 last), gist.h GISTPageOpaqueData
 * (16 bytes, gist_page_id 0xFF81 last), spgist_private.h SpGistPageOpaqueData (8 bytes,
 * spgist_page_id 0xFF82 last), brin_page.h BrinSpecialSpace (8 bytes, page type 0xF091..0xF093
 * last), gin_private.h GinPageOpaqueData (8 bytes, flags last), sequence.c sequence_magic
 * (0x1717, MAXALIGNed to 8 bytes). The page ids are how pg_filedump and amcheck tell them apart.
 * Entry points: `describeNonHeapPage`, `requireHeapLayout`, `requireBtreeLayout`.
 * See also: blocks.ts (verifyPage calls requireHeapLayout), ../bufpage.ts.
 */
import { PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../include/access/htup-details.js";
import { readUint16, readUint32 } from "../include/port/le-bytes.js";
import { pageGetSpecial } from "../storage/page/bufpage.js";

const BTP_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [1 << 0, "BTP_LEAF"],
  [1 << 1, "BTP_ROOT"],
  [1 << 2, "BTP_DELETED"],
  [1 << 3, "BTP_META"],
  [1 << 4, "BTP_HALF_DEAD"],
  [1 << 5, "BTP_SPLIT_END"],
  [1 << 6, "BTP_HAS_GARBAGE"],
  [1 << 7, "BTP_INCOMPLETE_SPLIT"],
  [1 << 8, "BTP_HAS_FULLXID"],
];

const HASH_PAGE_ID = 0xff80;
const GIST_PAGE_ID = 0xff81;
const SPGIST_PAGE_ID = 0xff82;
const BRIN_PAGE_TYPES: Readonly<Record<number, string>> = {
  61585: "meta",
  61586: "revmap",
  61587: "regular",
};
const SEQ_MAGIC = 0x1717;

function hex4(value: number): string {
  return `0x${value.toString(16).padStart(4, "0")}`;
}

function flagNames(flags: number, names: ReadonlyArray<readonly [number, string]>): string {
  const set = names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
  return set.length === 0 ? "" : ` ${set.join("|")}`;
}

/**
 * What a page with a special space looks like, in words (e.g. "looks like a B-tree index page
 * (special space 16 bytes, btpo_flags 0x0008 BTP_META)"), or undefined for a page without special
 * space: a heap, free space map or visibility map page. The caller checked the header
 * (pd_special is MAXALIGNed and at most BLCKSZ).
 */
export function describeNonHeapPage(page: Uint8Array): string | undefined {
  const special = pageGetSpecial(page);
  const size = BLCKSZ - special;
  if (size === 0) return undefined;
  const lastId = readUint16(page, BLCKSZ - 2);
  const what = (kind: string, fields: string) =>
    `looks like ${kind} (special space ${size} bytes${fields === "" ? "" : `, ${fields}`})`;
  if (size === 16) {
    if (lastId === HASH_PAGE_ID) {
      return what("a hash index page", `hasho_flag ${hex4(readUint16(page, special + 12))}`);
    }
    if (lastId === GIST_PAGE_ID) {
      return what("a GiST index page", `flags ${hex4(readUint16(page, special + 12))}`);
    }
    const flags = readUint16(page, special + 12);
    return what(
      "a B-tree index page",
      `btpo_flags ${hex4(flags)}${flagNames(flags, BTP_FLAG_NAMES)}`,
    );
  }
  if (size === 8) {
    if (readUint32(page, special) === SEQ_MAGIC) {
      return what("a sequence page", `magic ${hex4(SEQ_MAGIC)}`);
    }
    if (lastId === SPGIST_PAGE_ID) {
      return what("an SP-GiST index page", `flags ${hex4(readUint16(page, special))}`);
    }
    const brin = BRIN_PAGE_TYPES[lastId];
    if (brin !== undefined) return what(`a BRIN index ${brin} page`, `type ${hex4(lastId)}`);
    return what("a GIN index page", `flags ${hex4(lastId)}`);
  }
  return `has ${size} bytes of special space, which no heap page has`;
}

/**
 * Throws `not-a-heap-page` when the page has a special space (see describeNonHeapPage): heap,
 * free space map and visibility map pages have none.
 */
export function requireHeapLayout(page: Uint8Array, block: number): void {
  const description = describeNonHeapPage(page);
  if (description === undefined) return;
  throw new PgsimError(
    "not-a-heap-page",
    `block ${block}: not a heap page: it ${description}; pgsim-inspect reads heap, free space map and visibility map files`,
    { block, special: pageGetSpecial(page) },
  );
}

/**
 * Throws `not-a-btree-page` unless the page has nbtree's special space: 16 bytes whose last field
 * (btpo_cycleid) is at most MAX_BT_CYCLE_ID (0xFF7F), which is how hash and GiST pages, with the
 * same special size, are told apart.
 */
export function requireBtreeLayout(page: Uint8Array, block: number): void {
  const special = pageGetSpecial(page);
  if (BLCKSZ - special === 16 && readUint16(page, BLCKSZ - 2) <= 0xff7f) return;
  const description =
    describeNonHeapPage(page) ?? "looks like a heap, free space map or visibility map page";
  throw new PgsimError(
    "not-a-btree-page",
    `block ${block}: not a B-tree index page: it ${description}`,
    { block, special },
  );
}
