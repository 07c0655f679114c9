/**
 * boolean: one byte, 0 or 1.
 *
 * Models: src/backend/utils/adt/bool.c (boolin, boolout, parse_bool_with_len).
 * Entry points: `boolCodec`.
 * See also: type-codec.ts.
 *
 * JS value: `boolean`. Stored as 0x00 / 0x01; any non-zero byte reads as true (DatumGetBool), so
 * only the canonical bytes survive a decode/encode round trip.
 */

import {
  datatypeMismatch,
  type FixedLengthCodec,
  invalidInputSyntax,
  trimPgSpace,
} from "./type-codec.js";

/** Words boolin accepts, each with the shortest prefix that selects it. */
const BOOL_WORDS: readonly (readonly [string, number, boolean])[] = [
  ["true", 1, true],
  ["false", 1, false],
  ["yes", 1, true],
  ["no", 1, false],
  ["on", 2, true],
  ["off", 2, false],
];

/** Parses boolin's spellings: t/true/y/yes/on/1 and f/false/n/no/off/0, any case, any prefix. */
function parseBool(text: string): boolean | undefined {
  const word = trimPgSpace(text).toLowerCase();
  if (word === "1") return true;
  if (word === "0") return false;
  if (word.length === 0) return undefined;
  for (const [full, minLength, value] of BOOL_WORDS) {
    if (word.length >= minLength && full.startsWith(word)) return value;
  }
  return undefined;
}

/** The `bool` type. */
export const boolCodec: FixedLengthCodec<boolean> = {
  kind: "fixed",
  typname: "bool",
  sqlName: "boolean",
  typlen: 1,
  typbyval: true,
  typalign: "c",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "boolean") throw datatypeMismatch("boolean", "a boolean", value);
    return value;
  },
  read(bytes, offset) {
    return (bytes[offset] ?? 0) !== 0;
  },
  write(bytes, offset, value) {
    bytes[offset] = value ? 1 : 0;
  },
  output(value) {
    return value ? "t" : "f";
  },
  input(text) {
    const value = parseBool(text);
    if (value === undefined) throw invalidInputSyntax("boolean", text);
    return value;
  },
};
