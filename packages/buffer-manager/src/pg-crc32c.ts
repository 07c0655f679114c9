/**
 * CRC-32C (Castagnoli), the checksum PostgreSQL puts on pg_control and on WAL records.
 *
 * Models: src/port/pg_crc32c_sb8.c (pg_comp_crc32c_sb8) and src/include/port/pg_crc32c.h
 * (INIT_CRC32C, COMP_CRC32C, FIN_CRC32C): the reflected polynomial 0x1EDC6F41 (0x82F63B78
 * reversed), initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. CRC32C("123456789") = 0xE3069283.
 * Entry points: `crc32c`, `crc32cUpdate`.
 * See also: pg-control.ts (its user).
 *
 * Differs from PostgreSQL: one table lookup per byte instead of slicing-by-8 or the SSE 4.2 /
 * ARMv8 instructions; the result is the same.
 */

const TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c >>> 0;
}

/**
 * COMP_CRC32C: folds `bytes[start, end)` into a running CRC that began as 0xFFFFFFFF (INIT_CRC32C)
 * and has not been finished yet.
 */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end: number = bytes.length,
): number {
  let c = crc >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

/**
 * The finished CRC-32C of `bytes[start, end)` (INIT_CRC32C, COMP_CRC32C, FIN_CRC32C), as an
 * unsigned 32-bit number.
 *
 * @example
 * ```ts
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 */
export function crc32c(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  return (crc32cUpdate(0xffffffff, bytes, start, end) ^ 0xffffffff) >>> 0;
}
