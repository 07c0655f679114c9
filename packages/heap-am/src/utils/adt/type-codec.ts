/**
 * The contract every data type module fulfils: its pg_type layout facts, the JS value that
 * represents it, how it is stored, and its text input and output.
 *
 * Models: the pg_type columns typlen / typbyval / typalign / typstorage and the type's
 * input, output and typmod functions (typinput, typoutput, typmodin), which in PostgreSQL are
 * found through the catalog; here each type module exports one `TypeCodec` object.
 * Entry points: `TypeCodec`, `FixedLengthCodec`, `VarlenaCodec`, `Datum`, `IntervalValue`, and the
 * shared helpers for errors and UTF-8.
 * See also: types/index.ts (the registry), heaptuple.ts (the caller on the storage side).
 *
 * Text output matches psql with DateStyle ISO, TimeZone UTC, extra_float_digits 1,
 * bytea_output hex and IntervalStyle postgres (the settings the fixtures were captured with).
 */

import { PgsimError } from "@pgsim/clock-sweep";

/** Alignment codes of pg_type.typalign: c = 1 byte, s = 2, i = 4, d = 8. */
export type AttAlign = "c" | "s" | "i" | "d";
/** Storage codes of pg_type.typstorage: plain, external, main, extended. */
export type AttStorage = "p" | "e" | "m" | "x";

/** Bytes of each alignment code on x86-64. */
export const ALIGN_BYTES: Readonly<Record<AttAlign, 1 | 2 | 4 | 8>> = { c: 1, s: 2, i: 4, d: 8 };

/**
 * An interval, stored as three independent fields that PostgreSQL never normalises into each
 * other: 1 mon is not 30 days and 1 day is not 24 hours.
 */
export interface IntervalValue {
  /** int32 months (years are 12 months). */
  readonly months: number;
  /** int32 days. */
  readonly days: number;
  /** int64 microseconds of the time part. */
  readonly microseconds: bigint;
}

/**
 * A non-NULL value of any supported type, as JavaScript holds it. NULL is `null` wherever a
 * value may be missing. Each type module documents which of these forms it uses.
 */
export type Datum = boolean | number | bigint | string | Uint8Array | IntervalValue;

/** What every type provides, whatever its storage. */
interface CodecCommon<T extends Datum> {
  /** pg_type.typname, e.g. "int4", "varchar", "bpchar". */
  readonly typname: string;
  /** The SQL name PostgreSQL uses in messages, e.g. "integer", "character varying". */
  readonly sqlName: string;
  /** pg_type.typlen: bytes of a fixed-length value, -1 for varlena. */
  readonly typlen: number;
  /** pg_type.typbyval. */
  readonly typbyval: boolean;
  /** pg_type.typalign. */
  readonly typalign: AttAlign;
  /** pg_type.typstorage, the column's default attstorage. */
  readonly typstorage: AttStorage;
  /**
   * Checks that `value` is this type's JS form and applies the type modifier the way an
   * assignment cast does (varchar(n) length check, char(n) padding, numeric(p,s) rounding).
   * Returns the value to store; throws a PgsimError for a value PostgreSQL would reject.
   */
  coerce(value: unknown, typmod: number): T;
  /** Text output, exactly as psql prints the value. */
  output(value: T, typmod: number): string;
  /** Text input: parses a PostgreSQL literal and applies the type modifier. */
  input(text: string, typmod: number): T;
  /**
   * Turns the SQL modifiers of a type name (the 40 of `varchar(40)`) into atttypmod. Absent for
   * types without modifiers.
   */
  typmodIn?(modifiers: readonly number[]): number;
}

/** A type stored as exactly `typlen` bytes. */
export interface FixedLengthCodec<T extends Datum> extends CodecCommon<T> {
  readonly kind: "fixed";
  /** Reads a value from `bytes[offset, offset + typlen)`; the caller checked the range. */
  read(bytes: Uint8Array, offset: number): T;
  /** Writes exactly `typlen` bytes of an already coerced value. */
  write(bytes: Uint8Array, offset: number, value: T): void;
}

/** A variable-length type: a varlena header (added by the caller) and a payload. */
export interface VarlenaCodec<T extends Datum> extends CodecCommon<T> {
  readonly kind: "varlena";
  /** Decodes the payload `bytes[offset, offset + length)` (the header already stripped). */
  decodePayload(bytes: Uint8Array, offset: number, length: number): T;
  /** The payload of an already coerced value, without a varlena header. */
  encodePayload(value: T): Uint8Array;
}

/** Any type's codec. */
export type TypeCodec<T extends Datum = Datum> = FixedLengthCodec<T> | VarlenaCodec<T>;

// ---------------------------------------------------------------------------------------------
// Errors shared by the type modules. Codes are PostgreSQL's SQLSTATE condition names.

/** `invalid input syntax for type X: "text"` (22P02). */
export function invalidInputSyntax(sqlName: string, text: string): PgsimError {
  return new PgsimError(
    "invalid-text-representation",
    `invalid input syntax for type ${sqlName}: "${text}"`,
    { type: sqlName, input: text },
  );
}

/** `value "text" is out of range for type X` (22003). */
export function valueOutOfRange(sqlName: string, text: string): PgsimError {
  return new PgsimError(
    "numeric-value-out-of-range",
    `value "${text}" is out of range for type ${sqlName}`,
    { type: sqlName, input: text },
  );
}

/** A JS value of the wrong kind for the type (42804). */
export function datatypeMismatch(sqlName: string, expected: string, value: unknown): PgsimError {
  const shown = typeof value === "bigint" ? `${value}n` : String(value);
  return new PgsimError(
    "datatype-mismatch",
    `a value of type ${sqlName} must be ${expected}, got ${typeof value} ${shown.slice(0, 40)}`,
    { type: sqlName },
  );
}

/** Stored bytes that no valid value of the type has (XX001). */
export function dataCorrupted(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("data-corrupted", message, detail);
}

// ---------------------------------------------------------------------------------------------
// UTF-8, the database encoding of every fixture (and the only one pgsim supports).

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();
// In a `u` regex a surrogate pair is one code point, so this matches only lone surrogates.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Decodes UTF-8 text. Invalid sequences and NUL bytes (which PostgreSQL text cannot contain)
 * are rejected with PostgreSQL's message.
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const view = bytes.subarray(start, end);
  const zero = view.indexOf(0);
  if (zero >= 0) throw invalidByteSequence(view, zero);
  try {
    return utf8Decoder.decode(view);
  } catch {
    throw invalidByteSequence(view, firstInvalidUtf8(view));
  }
}

/**
 * Encodes text as UTF-8. Rejects NUL characters and lone surrogates, which have no UTF-8 form
 * PostgreSQL accepts, so that decoding the bytes gives back the same string.
 */
export function encodeUtf8(text: string): Uint8Array {
  if (text.includes("\u0000")) {
    throw new PgsimError(
      "character-not-in-repertoire",
      'invalid byte sequence for encoding "UTF8": 0x00',
    );
  }
  if (LONE_SURROGATE.test(text)) {
    throw new PgsimError(
      "character-not-in-repertoire",
      "text contains a lone UTF-16 surrogate, which has no UTF-8 encoding",
    );
  }
  return utf8Encoder.encode(text);
}

function invalidByteSequence(view: Uint8Array, at: number): PgsimError {
  const shown = Array.from(view.subarray(at, Math.min(at + 4, view.length)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join(" 0x");
  return new PgsimError(
    "character-not-in-repertoire",
    `invalid byte sequence for encoding "UTF8": 0x${shown}`,
    { offset: at },
  );
}

/** Index of the first byte that does not start a valid UTF-8 sequence (for the message only). */
function firstInvalidUtf8(view: Uint8Array): number {
  let i = 0;
  while (i < view.length) {
    const b = view[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    const need =
      b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    if (need === 0 || i + need >= view.length) return i;
    for (let k = 1; k <= need; k++) if (((view[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    // Overlong forms, surrogates and code points above U+10FFFF show in the second byte.
    const b1 = view[i + 1] ?? 0;
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f)) return i;
    if ((b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += need + 1;
  }
  return 0;
}

/** Cuts UTF-8 `bytes` to at most `limit` bytes without splitting a character (pg_mbcliplen). */
export function utf8ClipLength(bytes: Uint8Array, limit: number): number {
  if (bytes.length <= limit) return bytes.length;
  let len = limit;
  // Step back over continuation bytes (10xxxxxx) to the start of the character that straddles.
  while (len > 0 && ((bytes[len] ?? 0) & 0xc0) === 0x80) len--;
  return len;
}

/** Number of characters (code points) in a string, as PostgreSQL counts them for char(n). */
export function characterCount(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single character.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** The first `n` characters (code points) of a string. */
export function firstCharacters(text: string, n: number): string {
  let i = 0;
  for (let count = 0; count < n && i < text.length; count++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return text.slice(0, i);
}

/** PostgreSQL's whitespace for numeric input: space, \t, \n, \r, \v, \f. */
export function trimPgSpace(text: string): string {
  return text.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, "");
}
