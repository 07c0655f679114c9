/**
 * The integer types smallint (int2), integer (int4) and bigint (int8): little-endian two's
 * complement, aligned to their size.
 *
 * Models: src/backend/utils/adt/int.c (int2in/out, int4in/out), int8.c (int8in/out),
 * numutils.c (pg_strtoint16/32/64).
 * Entry points: `int2Codec`, `int4Codec`, `int8Codec`.
 * See also: oid.ts (unsigned 32-bit), type-codec.ts.
 *
 * JS values: int2 and int4 are `number` (safe integers in range); int8 is `bigint` (a safe-integer
 * `number` is accepted on input and converted). Every stored bit pattern is a valid value, so
 * decode/encode round trips are exact.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  readBigInt64,
  readInt16,
  readInt32,
  writeBigInt64,
  writeUint16,
  writeUint32,
} from "../../include/port/le-bytes.js";
import {
  datatypeMismatch,
  type FixedLengthCodec,
  invalidInputSyntax,
  trimPgSpace,
  valueOutOfRange,
} from "./type-codec.js";

const INT_SYNTAX = /^[+-]?[0-9]+$/;

/**
 * Parses a decimal integer literal as pg_strtoint* does: optional surrounding whitespace, an
 * optional sign, at least one digit. Returns a bigint so that range checks are exact.
 */
function parseIntegerLiteral(sqlName: string, text: string, min: bigint, max: bigint): bigint {
  const trimmed = trimPgSpace(text);
  if (!INT_SYNTAX.test(trimmed)) throw invalidInputSyntax(sqlName, text);
  const value = BigInt(trimmed);
  if (value < min || value > max) throw valueOutOfRange(sqlName, text);
  return value;
}

function outOfRange(sqlName: string, value: unknown): PgsimError {
  return new PgsimError("numeric-value-out-of-range", `${sqlName} out of range`, {
    value: String(value),
  });
}

/** Checks a JS number for a 16- or 32-bit integer column. */
function coerceSmallInteger(sqlName: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw datatypeMismatch(sqlName, "an integer number", value);
  }
  if (value < min || value > max) throw outOfRange(sqlName, value);
  // Normalise -0 to 0: the stored bits cannot tell them apart.
  return value === 0 ? 0 : value;
}

/** The `int2` (smallint) type. JS value: integer `number` in -32768..32767. */
export const int2Codec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "int2",
  sqlName: "smallint",
  typlen: 2,
  typbyval: true,
  typalign: "s",
  typstorage: "p",
  coerce: (value) => coerceSmallInteger("smallint", value, -32768, 32767),
  read: (bytes, offset) => readInt16(bytes, offset),
  write: (bytes, offset, value) => writeUint16(bytes, offset, value),
  output: (value) => String(value),
  input: (text) => Number(parseIntegerLiteral("smallint", text, -32768n, 32767n)),
};

/** The `int4` (integer) type. JS value: integer `number` in -2147483648..2147483647. */
export const int4Codec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "int4",
  sqlName: "integer",
  typlen: 4,
  typbyval: true,
  typalign: "i",
  typstorage: "p",
  coerce: (value) => coerceSmallInteger("integer", value, -2147483648, 2147483647),
  read: (bytes, offset) => readInt32(bytes, offset),
  write: (bytes, offset, value) => writeUint32(bytes, offset, value),
  output: (value) => String(value),
  input: (text) => Number(parseIntegerLiteral("integer", text, -2147483648n, 2147483647n)),
};

/** Smallest int8. */
export const INT64_MIN = -(2n ** 63n);
/** Largest int8. */
export const INT64_MAX = 2n ** 63n - 1n;

/** The `int8` (bigint) type. JS value: `bigint` in -2^63..2^63-1. */
export const int8Codec: FixedLengthCodec<bigint> = {
  kind: "fixed",
  typname: "int8",
  sqlName: "bigint",
  typlen: 8,
  typbyval: true,
  typalign: "d",
  typstorage: "p",
  coerce(value) {
    let v: bigint;
    if (typeof value === "bigint") v = value;
    else if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
    else throw datatypeMismatch("bigint", "a bigint (or a safe integer number)", value);
    if (v < INT64_MIN || v > INT64_MAX) throw outOfRange("bigint", v);
    return v;
  },
  read: (bytes, offset) => readBigInt64(bytes, offset),
  write: (bytes, offset, value) => writeBigInt64(bytes, offset, value),
  output: (value) => value.toString(),
  input: (text) => parseIntegerLiteral("bigint", text, INT64_MIN, INT64_MAX),
};
