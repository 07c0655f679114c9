/**
 * name: a fixed 64-byte field holding up to 63 bytes of UTF-8 and NUL padding; the type of
 * identifiers in the catalogs.
 *
 * Models: src/backend/utils/adt/name.c (namein, nameout), mbutils.c (pg_mbcliplen), and
 * NAMEDATALEN from pg_config_manual.h.
 * Entry points: `nameCodec`, `NAMEDATALEN`.
 * See also: char.ts ("char"), text.ts, type-codec.ts.
 *
 * JS value: `string` of at most 63 UTF-8 bytes. Longer strings are cut to 63 bytes at a
 * character boundary, as namein does, both on input and on encode. Alignment is `c`, so a name
 * can start at any offset. Bytes after the first NUL are not part of the value: a stored name
 * with garbage there decodes to the text before the NUL and encodes back zero-padded.
 */

import {
  dataCorrupted,
  datatypeMismatch,
  decodeUtf8,
  encodeUtf8,
  type FixedLengthCodec,
  utf8ClipLength,
} from "./type-codec.js";

/** Bytes of a name, terminator included. */
export const NAMEDATALEN = 64;

/** Cuts a string to at most NAMEDATALEN - 1 bytes of UTF-8 without splitting a character. */
function clipName(text: string): string {
  const bytes = encodeUtf8(text);
  if (bytes.length < NAMEDATALEN) return text;
  return decodeUtf8(bytes, 0, utf8ClipLength(bytes, NAMEDATALEN - 1));
}

/** The `name` type. JS value: `string` (at most 63 bytes of UTF-8). */
export const nameCodec: FixedLengthCodec<string> = {
  kind: "fixed",
  typname: "name",
  sqlName: "name",
  typlen: NAMEDATALEN,
  typbyval: false,
  typalign: "c",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "string") throw datatypeMismatch("name", "a string", value);
    return clipName(value);
  },
  read(bytes, offset) {
    let end = offset;
    while (end < offset + NAMEDATALEN && (bytes[end] ?? 0) !== 0) end++;
    if (end === offset + NAMEDATALEN) throw dataCorrupted("name value is not NUL-terminated");
    return decodeUtf8(bytes, offset, end);
  },
  write(bytes, offset, value) {
    const encoded = encodeUtf8(value);
    const length = utf8ClipLength(encoded, NAMEDATALEN - 1);
    bytes.set(encoded.subarray(0, length), offset);
    bytes.fill(0, offset + length, offset + NAMEDATALEN);
  },
  output: (value) => value,
  input: (text) => clipName(text),
};
