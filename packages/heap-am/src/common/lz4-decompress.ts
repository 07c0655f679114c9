/**
 * LZ4 block decompression, for TOAST values compressed with `lz4` (COMPRESSION lz4, or
 * default_toast_compression = lz4 on a server built --with-lz4).
 *
 * Models: liblz4's LZ4_decompress_safe (the LZ4 block format), as
 * src/backend/access/common/toast_compression.c (lz4_decompress_datum) calls it.
 * Entry points: `lz4DecompressDatum`.
 * See also: pg-lzcompress.ts (pglz, PostgreSQL 15's default), ../inspect/varlena.ts.
 *
 * Format: sequences of a token byte (high nibble: literal count, low nibble: match length − 4;
 * a nibble of 15 continues in following bytes, each adding 0..255, until one is below 255), the
 * literals, then a 2-byte little-endian offset back into the output and the match (which may
 * overlap what it produces). The last sequence has literals only.
 *
 * Differs from PostgreSQL: liblz4 also rejects blocks that break the format's end-of-block rules
 * (the last 5 bytes are literals, the last match starts 12 bytes before the end); pgsim only
 * checks that every read and write stays in bounds, which is enough to never misread.
 */

import { PgsimError } from "@pgsim/clock-sweep";

function corrupt(): PgsimError {
  return new PgsimError("data-corrupted", "compressed lz4 data is corrupt");
}

/**
 * Decompresses an LZ4 block into at most `rawSize` bytes (LZ4_decompress_safe) and returns the
 * bytes produced. Throws `data-corrupted` with PostgreSQL's message "compressed lz4 data is
 * corrupt" when the block is malformed or would produce more than `rawSize` bytes.
 */
export function lz4DecompressDatum(source: Uint8Array, rawSize: number): Uint8Array {
  const dest = new Uint8Array(rawSize);
  const srcend = source.length;
  let ip = 0;
  let op = 0;
  // Every iteration consumes at least the token byte, so the loop ends within srcend steps.
  for (let step = 0; step <= srcend; step++) {
    if (ip >= srcend) throw corrupt();
    const token = source[ip++]!;
    let literals = token >>> 4;
    if (literals === 15) {
      let more = 255;
      while (more === 255) {
        if (ip >= srcend) throw corrupt();
        more = source[ip++]!;
        literals += more;
      }
    }
    if (ip + literals > srcend || op + literals > rawSize) throw corrupt();
    dest.set(source.subarray(ip, ip + literals), op);
    ip += literals;
    op += literals;
    if (ip === srcend) return op === rawSize ? dest : dest.subarray(0, op);
    if (ip + 2 > srcend) throw corrupt();
    const offset = source[ip]! | (source[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw corrupt();
    let length = (token & 0x0f) + 4;
    if ((token & 0x0f) === 15) {
      let more = 255;
      while (more === 255) {
        if (ip >= srcend) throw corrupt();
        more = source[ip++]!;
        length += more;
      }
    }
    if (op + length > rawSize) throw corrupt();
    // Forward byte copy: a match may overlap the bytes it produces (offset < length is a run).
    for (let i = 0; i < length; i++, op++) dest[op] = dest[op - offset]!;
  }
  throw corrupt();
}
