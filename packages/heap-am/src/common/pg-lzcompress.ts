/**
 * pglz decompression: PostgreSQL's own LZ-family format, the default TOAST compression of
 * PostgreSQL 15 (default_toast_compression = pglz).
 *
 * Models: src/common/pg_lzcompress.c (pglz_decompress) and the pglz branch of
 * src/backend/access/common/toast_compression.c (pglz_decompress_datum).
 * Entry points: `pglzDecompress`.
 * See also: lz4-decompress.ts (the other TOAST compression method), ../inspect/varlena.ts (reads
 * compressed values out of tuples).
 *
 * Format: a sequence of groups, each one control byte followed by up to eight items; bit i of the
 * control byte (lowest first) says whether item i is a literal byte (0, copied as is) or a match
 * tag (1). A tag is two bytes: the low nibble of the first is the match length minus 3, its high
 * nibble and the second byte are a 12-bit offset back into the output (1..4095); a length nibble
 * of 15 (length 18) is followed by a third byte adding 0..255 to the length (so up to 273). The
 * match is copied from the output already produced and may overlap what it produces (a run).
 */

import { PgsimError } from "@pgsim/clock-sweep";

/**
 * pglz_decompress: decompresses `source` into a new array of `rawSize` bytes. With
 * `checkComplete` (as TOAST uses it) the input must produce exactly `rawSize` bytes and be used up
 * entirely. Returns undefined for corrupt data, as pglz_decompress returns -1: a tag running past
 * the input, an offset of 0 or one reaching before the output's start, or (checkComplete) a size
 * mismatch. Without checkComplete, the result may be shorter than `rawSize`.
 */
export function pglzDecompress(
  source: Uint8Array,
  rawSize: number,
  checkComplete: boolean,
): Uint8Array | undefined {
  const dest = new Uint8Array(rawSize);
  const srcend = source.length;
  const destend = rawSize;
  let sp = 0;
  let dp = 0;
  while (sp < srcend && dp < destend) {
    // One control byte, then the next eight items (or as many as remain).
    let ctrl = source[sp++]!;
    for (let ctrlc = 0; ctrlc < 8 && sp < srcend && dp < destend; ctrlc++) {
      if ((ctrl & 1) !== 0) {
        // A match tag: length - 3 in the low nibble, a 12-bit offset in the rest.
        const b0 = source[sp]!;
        const b1 = source[sp + 1] ?? 0;
        let len = (b0 & 0x0f) + 3;
        let off = ((b0 & 0xf0) << 4) | b1;
        sp += 2;
        if (len === 18) len += source[sp++] ?? 0;
        // Corrupt data: the tag ran past the input, or the offset is 0 (which would loop
        // forever) or reaches before the start of the output.
        if (sp > srcend || off === 0 || off > dp) return undefined;
        len = Math.min(len, destend - dp);
        // Copy len bytes from dp - off. The areas may overlap: copy in non-overlapping pieces of
        // off bytes, doubling off as the copied run grows, exactly as pglz_decompress does.
        while (off < len) {
          dest.copyWithin(dp, dp - off, dp);
          len -= off;
          dp += off;
          off += off;
        }
        dest.copyWithin(dp, dp - off, dp - off + len);
        dp += len;
      } else {
        // A literal byte.
        dest[dp++] = source[sp++]!;
      }
      ctrl >>= 1;
    }
  }
  if (checkComplete && (dp !== destend || sp !== srcend)) return undefined;
  return dp === rawSize ? dest : dest.subarray(0, dp);
}

/**
 * pglz_decompress_datum's check: decompresses a TOAST value's compressed bytes (after the 8-byte
 * header) into exactly `rawSize` bytes, or throws `data-corrupted` with PostgreSQL's message
 * "compressed pglz data is corrupt".
 */
export function pglzDecompressDatum(source: Uint8Array, rawSize: number): Uint8Array {
  const out = pglzDecompress(source, rawSize, true);
  if (out === undefined) {
    throw new PgsimError("data-corrupted", "compressed pglz data is corrupt", {
      compressedBytes: source.length,
      rawSize,
    });
  }
  return out;
}
