/**
 * "char": a single byte, the internal one-character type of the catalogs (not char(n)).
 *
 * Models: src/backend/utils/adt/char.c (charin, charout).
 * Entry points: `charCodec`.
 * See also: name.ts, text.ts (bpchar, the SQL char(n)), type-codec.ts.
 *
 * JS value: the byte as an integer `number`, 0..255, because the value is a byte, not a
 * character: `'é'` stores only the first byte of its UTF-8 form (0xc3). Output prints 0 as the
 * empty string, bytes 0x80..0xff as a backslash and three octal digits (`\303`), anything else
 * as that character. Every byte round-trips exactly.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { datatypeMismatch, encodeUtf8, type FixedLengthCodec } from "./type-codec.js";

/** The `char` type (spelled `"char"` in SQL). JS value: byte `number` 0..255. */
export const charCodec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "char",
  sqlName: '"char"',
  typlen: 1,
  typbyval: true,
  typalign: "c",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw datatypeMismatch('"char"', "a byte number 0..255", value);
    }
    if (value < 0 || value > 255) {
      throw new PgsimError("numeric-value-out-of-range", '"char" out of range', { value });
    }
    return value;
  },
  read: (bytes, offset) => bytes[offset] ?? 0,
  write(bytes, offset, value) {
    bytes[offset] = value;
  },
  output(value) {
    if (value === 0) return "";
    if (value >= 0x80) return `\\${value.toString(8).padStart(3, "0")}`;
    return String.fromCharCode(value);
  },
  input(text) {
    // A backslash and exactly three octal digits name a byte; otherwise the first byte counts.
    if (/^\\[0-7]{3}$/.test(text)) return Number.parseInt(text.slice(1), 8) & 0xff;
    return encodeUtf8(text)[0] ?? 0;
  },
};
