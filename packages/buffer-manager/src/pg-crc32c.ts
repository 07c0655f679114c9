/**
 * CRC-32C (Castagnoli), the checksum on every WAL record and on pg_control.
 *
 * Models: src/include/port/pg_crc32c.h (INIT_CRC32C, COMP_CRC32C, FIN_CRC32C, EQ_CRC32C) and
 * src/port/pg_crc32c_sb8.c (pg_comp_crc32c_sb8: "slicing-by-8", eight 256-entry tables, eight
 * bytes per step), PostgreSQL's portable implementation.
 * Entry points: `INIT_CRC32C`, `crc32cUpdate`, `crc32cUpdateWords`, `crc32cFinish`, `crc32c`.
 * See also: docs/reference/postgres-wal.md §2.3 (parameters, what a record's CRC covers),
 * pg-control.ts (pg_control's CRC), @pgsim/heap-am's access/transam/xloginsert.ts and xlog.ts
 * (record CRCs). It lives in the lowest package that needs it, once for all of pgsim.
 *
 * Parameters: reflected polynomial 0x82F63B78 (0x1EDC6F41 bit-reversed), initial value
 * 0xFFFFFFFF, final XOR 0xFFFFFFFF, no byte swap on a little-endian host.
 * CRC32C("123456789") = 0xE3069283.
 *
 * A running CRC is an unsigned 32-bit number: start from INIT_CRC32C, fold byte ranges in with
 * crc32cUpdate (in any number of pieces: the result depends only on the bytes and their order),
 * finish with crc32cFinish. WAL records need the pieces: the payload is folded in when the
 * record is assembled, the header only once its xl_prev is known.
 *
 * Differs from PostgreSQL: no SSE 4.2 / ARMv8 CRC instructions (JavaScript has no access to
 * them); slicing-by-8 is the fallback PostgreSQL itself uses on CPUs without them, and gives
 * the same values.
 */

import { assert } from "@pgsim/clock-sweep";

/** The reflected Castagnoli polynomial. */
const CRC32C_POLY_REFLECTED = 0x82f63b78;

/**
 * Eight tables of 256 entries, table k at [256 k, 256 k + 256). Table 0 is the classic bytewise
 * table; table k gives the CRC contribution of a byte followed by k zero bytes.
 */
const TABLES = new Uint32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? CRC32C_POLY_REFLECTED ^ (c >>> 1) : c >>> 1;
  TABLES[n] = c >>> 0;
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = TABLES[(k - 1) * 256 + n]!;
    TABLES[k * 256 + n] = ((prev >>> 8) ^ TABLES[prev & 0xff]!) >>> 0;
  }
}

/** INIT_CRC32C: the starting value of a running CRC. */
export const INIT_CRC32C = 0xffffffff;

/**
 * COMP_CRC32C: folds `bytes[start, end)` into the running CRC `crc` (not yet finished) and
 * returns the new running CRC, as an unsigned 32-bit number.
 */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): number {
  assert(start >= 0 && start <= end && end <= bytes.length, "crc32cUpdate: range out of bounds");
  const t = TABLES;
  let c = crc | 0;
  let i = start;
  // Eight bytes at a time: the first four are XORed into the CRC, the other four looked up
  // directly; each table accounts for how far its byte is from the end of the group.
  for (const last = end - 8; i <= last; i += 8) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c =
      t[7 * 256 + (c & 0xff)]! ^
      t[6 * 256 + ((c >>> 8) & 0xff)]! ^
      t[5 * 256 + ((c >>> 16) & 0xff)]! ^
      t[4 * 256 + (c >>> 24)]! ^
      t[3 * 256 + bytes[i + 4]!]! ^
      t[2 * 256 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** Whether this host stores integers little-endian (what reading bytes as words relies on). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * crc32cUpdate of `bytes[start, end)`, reading each group of eight bytes as two 32-bit words of
 * `words` — an Int32Array over the same memory as `bytes`, starting at the same byte (a caller
 * that checksums one reused buffer keeps both views) — instead of eight byte loads: the same
 * slicing-by-8 steps and the same result, in about half the time. With `start` not a multiple
 * of 4 (or on a big-endian host) it is crc32cUpdate.
 */
export function crc32cUpdateWords(
  crc: number,
  bytes: Uint8Array,
  words: Int32Array,
  start: number,
  end: number,
): number {
  assert(start >= 0 && start <= end && end <= bytes.length, "crc32cUpdate: range out of bounds");
  assert(
    words.byteOffset === bytes.byteOffset && words.length === bytes.length >> 2,
    "crc32cUpdateWords: the words must view the bytes",
  );
  if (!LITTLE_ENDIAN || (start & 3) !== 0) return crc32cUpdate(crc, bytes, start, end);
  const t = TABLES;
  let c = crc | 0;
  let i = start;
  for (const last = end - 8; i <= last; i += 8) {
    const k = i >> 2;
    c ^= words[k]!;
    const w = words[k + 1]!;
    c =
      t[7 * 256 + (c & 0xff)]! ^
      t[6 * 256 + ((c >>> 8) & 0xff)]! ^
      t[5 * 256 + ((c >>> 16) & 0xff)]! ^
      t[4 * 256 + (c >>> 24)]! ^
      t[3 * 256 + (w & 0xff)]! ^
      t[2 * 256 + ((w >>> 8) & 0xff)]! ^
      t[256 + ((w >>> 16) & 0xff)]! ^
      t[w >>> 24]!;
  }
  for (; i < end; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/** FIN_CRC32C: the finished CRC of a running CRC. */
export function crc32cFinish(crc: number): number {
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The finished CRC-32C of `bytes[start, end)`.
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 */
export function crc32c(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  return crc32cFinish(crc32cUpdate(INIT_CRC32C, bytes, start, end));
}
