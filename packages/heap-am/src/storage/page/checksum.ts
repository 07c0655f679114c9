/**
 * The data page checksum: 32 parallel FNV-1a-style lanes over the page, folded to 16 bits.
 *
 * Models: src/include/storage/checksum_impl.h (pg_checksum_block, pg_checksum_page) and
 * checksum.h.
 *
 * Entry point: pgChecksumPage(page, blockNumber).
 *
 * The page is read as 2048 little-endian uint32 words, 64 rows of 32. Lane j (one 32-bit
 * accumulator, starting from its own constant) takes word j of every row:
 * `x = lane ^ word; lane = x * FNV_PRIME ^ (x >>> 17)` (mod 2^32). Two more rounds with the word 0
 * mix the last row in; the lanes are XORed together, XORed with the block number (so a page
 * written at the wrong place fails), and reduced to 1..65535 (0 would mean "no checksum").
 * pd_checksum counts as 0 while the checksum is computed.
 *
 * See also: bufpage.ts (pageSetChecksumInplace, pageVerify), README.md "Checksum".
 */
import { assert } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../../include/pg-config.js";
import { readInt32 } from "../../include/port/le-bytes.js";

/** Number of parallel lanes (N_SUMS). */
const N_SUMS = 32;
/** The 32-bit FNV prime. */
const FNV_PRIME = 16777619;
/** Words per page. */
const PAGE_WORDS = BLCKSZ / 4;
/** Index of the word holding pd_checksum (bytes 8-9, the low half) and pd_flags (high half). */
const CHECKSUM_WORD = 2;

/** Start values of the 32 lanes (checksumBaseOffsets), fixed by the on-disk format. */
const CHECKSUM_BASE_OFFSETS = Uint32Array.of(
  0x5b1f36e9,
  0xb8525960,
  0x02ab50aa,
  0x1de66d2a,
  0x79ff467a,
  0x9bb9f8a3,
  0x217e7cd2,
  0x83e13d2c,
  0xf8d4474f,
  0xe39eb970,
  0x42c6ae16,
  0x993216fa,
  0x7b093b5d,
  0x98daff3c,
  0xf718902a,
  0x0b1c9cdb,
  0xe58f764b,
  0x187636bc,
  0x5d7b3bb1,
  0xe73de7de,
  0x92bec979,
  0xcca6c0b2,
  0x304a0979,
  0x85aa43d4,
  0x783125bb,
  0x6ca8eaa2,
  0xe407eac6,
  0x4b5cfc3e,
  0x9fbf8c76,
  0x15ca20be,
  0xf2ca9fd3,
  0x959bd756,
);

assert(CHECKSUM_BASE_OFFSETS.length === N_SUMS, "one start value per lane");
assert(PAGE_WORDS % N_SUMS === 0, "a page is a whole number of rows");

// A Uint32Array view reads words in the platform's byte order; the format is little-endian.
const platformIsLittleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The lanes, reused by every call (JavaScript runs one call at a time per module instance). */
const sums = new Uint32Array(N_SUMS);

/** Reads the little-endian uint32 word `index` of the page, byte by byte (as int32 bits). */
function wordAt(page: Uint8Array, index: number): number {
  return readInt32(page, index * 4);
}

/**
 * The checksum PostgreSQL stores in pd_checksum for this page at this block number
 * (pg_checksum_page). The block number is the block's position within its fork. Works on any
 * page, including a new one (PostgreSQL never checksums those: callers check pageIsNew).
 *
 * @example
 * ```ts
 * const page = new Uint8Array(8192);
 * pageInit(page, 0);
 * pgChecksumPage(page, 0); // 25952
 * ```
 */
export function pgChecksumPage(page: Uint8Array, blockNumber: number): number {
  assert(page.length === BLCKSZ, "a page is 8192 bytes");
  assert(
    Number.isInteger(blockNumber) && blockNumber >= 0 && blockNumber <= 0xffffffff,
    "a block number is a uint32",
  );
  sums.set(CHECKSUM_BASE_OFFSETS);

  // The first row holds pd_checksum, which counts as zero; the other 63 rows are plain.
  for (let j = 0; j < N_SUMS; j++) {
    let word = wordAt(page, j);
    if (j === CHECKSUM_WORD) word &= 0xffff0000;
    const x = sums[j]! ^ word;
    sums[j] = Math.imul(x, FNV_PRIME) ^ (x >>> 17);
  }
  if (platformIsLittleEndian && page.byteOffset % 4 === 0) {
    // Fast path: read the words straight from the page's memory.
    const words = new Uint32Array(page.buffer, page.byteOffset, PAGE_WORDS);
    for (let row = N_SUMS; row < PAGE_WORDS; row += N_SUMS) {
      for (let j = 0; j < N_SUMS; j++) {
        const x = sums[j]! ^ words[row + j]!;
        sums[j] = Math.imul(x, FNV_PRIME) ^ (x >>> 17);
      }
    }
  } else {
    for (let row = N_SUMS; row < PAGE_WORDS; row += N_SUMS) {
      for (let j = 0; j < N_SUMS; j++) {
        const x = sums[j]! ^ wordAt(page, row + j);
        sums[j] = Math.imul(x, FNV_PRIME) ^ (x >>> 17);
      }
    }
  }

  // Two rounds with zero so that every bit of the last row reaches every bit of its lane.
  for (let round = 0; round < 2; round++) {
    for (let j = 0; j < N_SUMS; j++) {
      const x = sums[j]!;
      sums[j] = Math.imul(x, FNV_PRIME) ^ (x >>> 17);
    }
  }

  let checksum = 0;
  for (let j = 0; j < N_SUMS; j++) checksum ^= sums[j]!;
  checksum = (checksum ^ blockNumber) >>> 0;
  return (checksum % 65535) + 1;
}
