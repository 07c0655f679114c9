/**
 * The character types text, character varying(n) and character(n): varlenas holding UTF-8.
 *
 * Models: src/backend/utils/adt/varlena.c (textin, textout), varchar.c (varcharin / varchar
 * length coercion, bpcharin / bpchar padding, anychar_typmodin).
 * Entry points: `textCodec`, `varcharCodec`, `bpcharCodec`.
 * See also: bytea.ts (raw bytes), name.ts (fixed 64 bytes), type-codec.ts.
 *
 * JS values: `string`. The payload is the UTF-8 encoding, no terminator; char(n) values are
 * stored already padded with spaces to n characters and keep that padding when read back.
 * Strings with NUL characters or lone surrogates are rejected (they have no valid UTF-8 form in
 * PostgreSQL), so every accepted string round-trips exactly.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  characterCount,
  datatypeMismatch,
  decodeUtf8,
  encodeUtf8,
  firstCharacters,
  type VarlenaCodec,
} from "./type-codec.js";

/** Longest n accepted in varchar(n) / char(n) (MaxAttrSize). */
const MAX_CHAR_LENGTH = 10 * 1024 * 1024;

function coerceString(sqlName: string, value: unknown): string {
  if (typeof value !== "string") throw datatypeMismatch(sqlName, "a string", value);
  return value;
}

/**
 * Applies a length limit as PostgreSQL's input and assignment casts do: characters beyond the
 * limit may only be spaces, which are cut; anything else is an error.
 */
function truncateToLength(text: string, maxLength: number, typeForMessage: string): string {
  if (characterCount(text) <= maxLength) return text;
  const kept = firstCharacters(text, maxLength);
  if (!/^ *$/.test(text.slice(kept.length))) {
    throw new PgsimError(
      "string-data-right-truncation",
      `value too long for type ${typeForMessage}(${maxLength})`,
      { maxLength },
    );
  }
  return kept;
}

function lengthTypmodIn(typeName: string, modifiers: readonly number[]): number {
  const [length, ...rest] = modifiers;
  if (length === undefined || rest.length > 0) {
    throw new PgsimError("invalid-parameter-value", `invalid type modifier for type ${typeName}`);
  }
  if (length < 1) {
    throw new PgsimError(
      "invalid-parameter-value",
      `length for type ${typeName} must be at least 1`,
    );
  }
  if (length > MAX_CHAR_LENGTH) {
    throw new PgsimError(
      "invalid-parameter-value",
      `length for type ${typeName} cannot exceed ${MAX_CHAR_LENGTH}`,
    );
  }
  return length + 4;
}

const decodeText = (bytes: Uint8Array, offset: number, length: number): string =>
  decodeUtf8(bytes, offset, offset + length);

/** The `text` type. JS value: `string`. */
export const textCodec: VarlenaCodec<string> = {
  kind: "varlena",
  typname: "text",
  sqlName: "text",
  typlen: -1,
  typbyval: false,
  typalign: "i",
  typstorage: "x",
  coerce: (value) => coerceString("text", value),
  encodePayload: (value) => encodeUtf8(value),
  decodePayload: decodeText,
  output: (value) => value,
  input: (text) => text,
};

/** The `varchar` (character varying(n)) type. JS value: `string` of at most n characters. */
export const varcharCodec: VarlenaCodec<string> = {
  kind: "varlena",
  typname: "varchar",
  sqlName: "character varying",
  typlen: -1,
  typbyval: false,
  typalign: "i",
  typstorage: "x",
  coerce(value, typmod) {
    const text = coerceString("character varying", value);
    return typmod >= 4 ? truncateToLength(text, typmod - 4, "character varying") : text;
  },
  encodePayload: (value) => encodeUtf8(value),
  decodePayload: decodeText,
  output: (value) => value,
  input(text, typmod) {
    return typmod >= 4 ? truncateToLength(text, typmod - 4, "character varying") : text;
  },
  typmodIn: (modifiers) => lengthTypmodIn("varchar", modifiers),
};

/** Pads or cuts to exactly n characters (bpchar's typmod coercion). */
function blankPad(text: string, typmod: number): string {
  if (typmod < 4) return text;
  const length = typmod - 4;
  const cut = truncateToLength(text, length, "character");
  const count = characterCount(cut);
  return count < length ? cut + " ".repeat(length - count) : cut;
}

/**
 * The `bpchar` (character(n)) type. JS value: `string`; in a char(n) column it holds exactly n
 * characters, blank-padded, as PostgreSQL stores and prints it.
 */
export const bpcharCodec: VarlenaCodec<string> = {
  kind: "varlena",
  typname: "bpchar",
  sqlName: "character",
  typlen: -1,
  typbyval: false,
  typalign: "i",
  typstorage: "x",
  coerce: (value, typmod) => blankPad(coerceString("character", value), typmod),
  encodePayload: (value) => encodeUtf8(value),
  decodePayload: decodeText,
  output: (value) => value,
  input: (text, typmod) => blankPad(text, typmod),
  typmodIn: (modifiers) => lengthTypmodIn("char", modifiers),
};
