/**
 * uuid: 16 bytes in the order of the text form, alignment `c` (no padding before it).
 *
 * Models: src/backend/utils/adt/uuid.c (uuid_in / string_to_uuid, uuid_out).
 * Entry points: `uuidCodec`.
 * See also: type-codec.ts.
 *
 * JS value: `string` in the canonical lowercase form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
 * Encode and input also accept upper case, braces, and hyphens after any group of four digits,
 * as uuid_in does, and normalise to the canonical form; every 16-byte value round-trips.
 */

import { bytesToHex } from "../../include/port/le-bytes.js";
import { datatypeMismatch, type FixedLengthCodec, invalidInputSyntax } from "./type-codec.js";

/** uuid_in's syntax: optional braces, 32 hex digits, a hyphen allowed after each group of 4. */
const UUID_SYNTAX = /^\{?[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\}?$/i;

function canonicalUuid(text: string): string {
  if (!UUID_SYNTAX.test(text) || text.startsWith("{") !== text.endsWith("}")) {
    throw invalidInputSyntax("uuid", text);
  }
  const hex = text.replace(/[{}-]/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The `uuid` type. JS value: canonical lowercase `string`. */
export const uuidCodec: FixedLengthCodec<string> = {
  kind: "fixed",
  typname: "uuid",
  sqlName: "uuid",
  typlen: 16,
  typbyval: false,
  typalign: "c",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "string") throw datatypeMismatch("uuid", "a string", value);
    return canonicalUuid(value);
  },
  read(bytes, offset) {
    const hex = bytesToHex(bytes, offset, offset + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  },
  write(bytes, offset, value) {
    const hex = value.replace(/-/g, "");
    for (let i = 0; i < 16; i++)
      bytes[offset + i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  },
  output: (value) => value,
  input: (text) => canonicalUuid(text),
};
