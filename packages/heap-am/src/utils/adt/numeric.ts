/**
 * numeric: arbitrary precision decimals, stored as base-10000 digits behind a short or long
 * header, with NaN and ±Infinity as special headers.
 *
 * Models: src/backend/utils/adt/numeric.c (numeric_in / set_var_from_str, numeric_out /
 * get_str_from_var, make_result, apply_typmod, apply_typmod_special, numerictypmodin,
 * NUMERIC_CAN_BE_SHORT and the NUMERIC_* header macros).
 * Entry points: `numericCodec`, `numericTypmod`.
 * See also: type-codec.ts, test/fixtures/pg15-heap/README.md "numeric".
 *
 * JS value: a `string` holding the decimal text, e.g. "-1.500", "0.000001", "NaN", "Infinity",
 * "-Infinity". Encoding accepts anything numeric input accepts ("1e3", " +2.50 ", also a JS
 * number or bigint) and applies the column's numeric(p,s); decoding returns PostgreSQL's output
 * text, whose trailing zeros carry the display scale, so decode(encode(v)) === v for every v in
 * that canonical form. Bytes PostgreSQL never writes (digits past the display scale, a
 * negative zero, leading or trailing zero digits, a long header where a short one fits) decode
 * to the value they print as, and encode back in canonical form.
 *
 * Payload layout (after the varlena header), u16 h first:
 *   h & 0xC000 == 0xC000  special: 0xC000 NaN, 0xD000 Infinity, 0xF000 -Infinity; nothing else
 *   h & 0xC000 == 0x8000  short: 0x2000 negative, bits 7-12 dscale, bits 0-6 weight (7-bit
 *                         two's complement, -64..63); then the digits
 *   otherwise             long: 0x4000 negative, bits 0-13 dscale; then int16 weight; digits
 * Digits are int16 0..9999, most significant first; digit i is worth 10000^(weight - i).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readInt16, readUint16, writeUint16 } from "../../include/port/le-bytes.js";
import {
  dataCorrupted,
  datatypeMismatch,
  invalidInputSyntax,
  trimPgSpace,
  type VarlenaCodec,
} from "./type-codec.js";

const NUMERIC_SIGN_MASK = 0xc000;
const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_SHORT = 0x8000;
const NUMERIC_SPECIAL = 0xc000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;
const NUMERIC_SHORT_SIGN_MASK = 0x2000;
const NUMERIC_SHORT_DSCALE_MASK = 0x1f80;
const NUMERIC_SHORT_DSCALE_SHIFT = 7;
const NUMERIC_SHORT_DSCALE_MAX = 63;
const NUMERIC_SHORT_WEIGHT_SIGN_MASK = 0x0040;
const NUMERIC_SHORT_WEIGHT_MASK = 0x003f;
const NUMERIC_SHORT_WEIGHT_MAX = 63;
const NUMERIC_SHORT_WEIGHT_MIN = -64;
const NUMERIC_DSCALE_MASK = 0x3fff;
/** Largest display scale the long header can hold. */
const NUMERIC_DSCALE_MAX = NUMERIC_DSCALE_MASK;
const NUMERIC_WEIGHT_MAX = 0x7fff;
const NUMERIC_WEIGHT_MIN = -0x8000;
/** Largest precision numeric(p,s) accepts. */
const NUMERIC_MAX_PRECISION = 1000;
const NUMERIC_MIN_SCALE = -1000;
const NUMERIC_MAX_SCALE = 1000;
/** Decimal digits per base-10000 digit. */
const DEC_DIGITS = 4;
const NBASE = 10000;
/** Integer digits a numeric can have: (NUMERIC_WEIGHT_MAX + 1) base-10000 digits. */
const MAX_INTEGER_DIGITS = (NUMERIC_WEIGHT_MAX + 1) * DEC_DIGITS;

/** A numeric value in decimal form, canonical: no leading integer zeros, positive zero. */
type NumericVar =
  | { readonly kind: "nan" }
  | { readonly kind: "inf" }
  | { readonly kind: "-inf" }
  | FiniteNumeric;

/** A finite numeric value. */
interface FiniteNumeric {
  readonly kind: "finite";
  readonly negative: boolean;
  /** Integer digits without leading zeros ("" when the value is below 1). */
  readonly integer: string;
  /** Fraction digits; their count is the display scale. */
  readonly fraction: string;
}

function overflow(): PgsimError {
  return new PgsimError("numeric-value-out-of-range", "value overflows numeric format");
}

// ---------------------------------------------------------------------------------------------
// Text input

const NUMERIC_SYNTAX = /^([+-])?(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?$/;

/** Parses numeric_in's syntax into canonical decimal form (before any typmod). */
function parseNumeric(text: string): NumericVar {
  const trimmed = trimPgSpace(text);
  if (/^nan$/i.test(trimmed)) return { kind: "nan" };
  const inf = /^([+-]?)(inf|infinity)$/i.exec(trimmed);
  if (inf) return { kind: inf[1] === "-" ? "-inf" : "inf" };
  const m = NUMERIC_SYNTAX.exec(trimmed);
  if (!m) throw invalidInputSyntax("numeric", text);
  const negative = m[1] === "-";
  const intDigits = m[2] ?? "";
  const fracDigits = m[3] ?? m[4] ?? "";
  const exponentText = m[5];
  const exponent = exponentText === undefined ? 0 : Number(exponentText);
  // PostgreSQL bounds the exponent before anything else so that nothing overflows; a bound
  // this size still rejects absurd inputs before they become strings of millions of zeros.
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) >= 1073741823) throw overflow();
  const all = intDigits + fracDigits;
  const firstNonZero = all.search(/[1-9]/);
  const scale = Math.max(0, fracDigits.length - exponent);
  if (scale > NUMERIC_DSCALE_MAX) throw overflow();
  if (firstNonZero < 0)
    return { kind: "finite", negative: false, integer: "", fraction: "0".repeat(scale) };
  // Decimal point position within `all` after applying the exponent.
  const point = intDigits.length + exponent;
  if (point - firstNonZero > MAX_INTEGER_DIGITS) throw overflow();
  let integer: string;
  let fraction: string;
  if (point <= 0) {
    integer = "";
    fraction = "0".repeat(-point) + all;
  } else if (point >= all.length) {
    integer = all + "0".repeat(point - all.length);
    fraction = "";
  } else {
    integer = all.slice(0, point);
    fraction = all.slice(point);
  }
  // The display scale counts the digits written after the point, adjusted by the exponent.
  fraction = fraction.length > scale ? fraction.slice(0, scale) : fraction.padEnd(scale, "0");
  return { kind: "finite", negative, integer: integer.replace(/^0+/, ""), fraction };
}

// ---------------------------------------------------------------------------------------------
// Type modifier

/** Precision and scale of a numeric(p,s) typmod, or undefined for an unconstrained column. */
export function numericTypmod(typmod: number): { precision: number; scale: number } | undefined {
  if (typmod < 4) return undefined;
  const bits = typmod - 4;
  return { precision: (bits >> 16) & 0xffff, scale: ((bits & 0x7ff) ^ 1024) - 1024 };
}

/** Rounds to `scale` fraction digits, half away from zero (round_var). */
function roundToScale(v: FiniteNumeric, scale: number): FiniteNumeric {
  const digits = v.integer + v.fraction;
  // Number of digits of `digits` that are kept: everything up to 10^-scale.
  const keep = v.integer.length + scale;
  let kept: string;
  if (keep >= digits.length) {
    kept = digits + "0".repeat(keep - digits.length);
  } else if (keep < 0) {
    kept = "";
  } else {
    kept = digits.slice(0, keep);
    if (digits.charCodeAt(keep) >= 53) kept = incrementDecimal(kept);
  }
  // `kept` holds the value in units of 10^-scale.
  let integer: string;
  let fraction: string;
  if (scale >= 0) {
    const intLength = kept.length - scale;
    integer = intLength > 0 ? kept.slice(0, intLength) : "";
    fraction = intLength >= 0 ? kept.slice(intLength) : "0".repeat(-intLength) + kept;
  } else {
    integer = kept.length > 0 ? kept + "0".repeat(-scale) : "";
    fraction = "";
  }
  integer = integer.replace(/^0+/, "");
  const isZero = integer === "" && !/[1-9]/.test(fraction);
  return { kind: "finite", negative: v.negative && !isZero, integer, fraction };
}

/** Adds one to a string of decimal digits ("" counts as 0). */
function incrementDecimal(digits: string): string {
  let i = digits.length - 1;
  while (i >= 0 && digits[i] === "9") i--;
  if (i < 0) return `1${"0".repeat(digits.length)}`;
  return (
    digits.slice(0, i) +
    String.fromCharCode(digits.charCodeAt(i) + 1) +
    "0".repeat(digits.length - 1 - i)
  );
}

/** Applies numeric(p,s): round to s places, then check the integer digits fit p - s. */
function applyTypmod(v: NumericVar, typmod: number): NumericVar {
  const mod = numericTypmod(typmod);
  if (mod === undefined || v.kind === "nan") return v;
  const { precision, scale } = mod;
  if (v.kind !== "finite") {
    throw new PgsimError("numeric-value-out-of-range", "numeric field overflow", {
      detail: `A field with precision ${precision}, scale ${scale} cannot hold an infinite value.`,
    });
  }
  const rounded = roundToScale(v, scale);
  const maxDigits = precision - scale;
  // Position of the leading non-zero digit: integer digits, or minus the fraction's leading zeros.
  const firstFraction = rounded.fraction.search(/[1-9]/);
  const magnitude =
    rounded.integer.length > 0
      ? rounded.integer.length
      : firstFraction < 0
        ? undefined
        : -firstFraction;
  if (magnitude !== undefined && magnitude > maxDigits) {
    const bound = maxDigits !== 0 ? `10^${maxDigits}` : "1";
    throw new PgsimError("numeric-value-out-of-range", "numeric field overflow", {
      detail: `A field with precision ${precision}, scale ${scale} must round to an absolute value less than ${bound}.`,
    });
  }
  return rounded;
}

// ---------------------------------------------------------------------------------------------
// Text output

function formatNumeric(v: NumericVar): string {
  if (v.kind === "nan") return "NaN";
  if (v.kind === "inf") return "Infinity";
  if (v.kind === "-inf") return "-Infinity";
  const sign = v.negative ? "-" : "";
  const integer = v.integer === "" ? "0" : v.integer;
  return v.fraction.length > 0 ? `${sign}${integer}.${v.fraction}` : sign + integer;
}

// ---------------------------------------------------------------------------------------------
// Storage

/** Builds the payload: header word(s) and base-10000 digits (make_result). */
function encodeNumeric(v: NumericVar): Uint8Array {
  if (v.kind !== "finite") {
    const out = new Uint8Array(2);
    writeUint16(
      out,
      0,
      v.kind === "nan" ? NUMERIC_NAN : v.kind === "inf" ? NUMERIC_PINF : NUMERIC_NINF,
    );
    return out;
  }
  const dscale = v.fraction.length;
  const intPad = (DEC_DIGITS - (v.integer.length % DEC_DIGITS)) % DEC_DIGITS;
  const fracPad = (DEC_DIGITS - (dscale % DEC_DIGITS)) % DEC_DIGITS;
  const all = "0".repeat(intPad) + v.integer + v.fraction + "0".repeat(fracPad);
  let first = 0;
  let last = all.length / DEC_DIGITS;
  let weight = (intPad + v.integer.length) / DEC_DIGITS - 1;
  // Leading and trailing zero digits are not stored.
  while (first < last && all.slice(first * 4, first * 4 + 4) === "0000") {
    first++;
    weight--;
  }
  while (last > first && all.slice(last * 4 - 4, last * 4) === "0000") last--;
  const ndigits = last - first;
  const negative = v.negative && ndigits > 0;
  if (ndigits === 0) weight = 0;
  if (dscale > NUMERIC_DSCALE_MAX || weight > NUMERIC_WEIGHT_MAX || weight < NUMERIC_WEIGHT_MIN) {
    throw overflow();
  }
  const short =
    dscale <= NUMERIC_SHORT_DSCALE_MAX &&
    weight <= NUMERIC_SHORT_WEIGHT_MAX &&
    weight >= NUMERIC_SHORT_WEIGHT_MIN;
  const headerBytes = short ? 2 : 4;
  const out = new Uint8Array(headerBytes + 2 * ndigits);
  if (short) {
    writeUint16(
      out,
      0,
      NUMERIC_SHORT |
        (negative ? NUMERIC_SHORT_SIGN_MASK : 0) |
        (dscale << NUMERIC_SHORT_DSCALE_SHIFT) |
        (weight & (NUMERIC_SHORT_WEIGHT_SIGN_MASK | NUMERIC_SHORT_WEIGHT_MASK)),
    );
  } else {
    writeUint16(out, 0, (negative ? NUMERIC_NEG : NUMERIC_POS) | dscale);
    writeUint16(out, 2, weight & 0xffff);
  }
  for (let i = 0; i < ndigits; i++) {
    const at = (first + i) * DEC_DIGITS;
    writeUint16(out, headerBytes + 2 * i, Number(all.slice(at, at + DEC_DIGITS)));
  }
  return out;
}

/** Reads a payload into the text PostgreSQL prints for it (get_str_from_var). */
function decodeNumeric(bytes: Uint8Array, offset: number, length: number): string {
  if (length < 2) throw dataCorrupted("numeric value is too short", { length });
  const h = readUint16(bytes, offset);
  if ((h & NUMERIC_SIGN_MASK) === NUMERIC_SPECIAL) {
    if (length !== 2 || (h !== NUMERIC_NAN && h !== NUMERIC_PINF && h !== NUMERIC_NINF)) {
      throw dataCorrupted(`invalid numeric special value 0x${h.toString(16)}`, { header: h });
    }
    return h === NUMERIC_NAN ? "NaN" : h === NUMERIC_PINF ? "Infinity" : "-Infinity";
  }
  let negative: boolean;
  let dscale: number;
  let weight: number;
  let digitsAt: number;
  if ((h & NUMERIC_SIGN_MASK) === NUMERIC_SHORT) {
    negative = (h & NUMERIC_SHORT_SIGN_MASK) !== 0;
    dscale = (h & NUMERIC_SHORT_DSCALE_MASK) >> NUMERIC_SHORT_DSCALE_SHIFT;
    weight = h & NUMERIC_SHORT_WEIGHT_MASK;
    if ((h & NUMERIC_SHORT_WEIGHT_SIGN_MASK) !== 0) weight -= NUMERIC_SHORT_WEIGHT_SIGN_MASK;
    digitsAt = 2;
  } else {
    if (length < 4) throw dataCorrupted("numeric value is too short", { length });
    negative = (h & NUMERIC_SIGN_MASK) === NUMERIC_NEG;
    dscale = h & NUMERIC_DSCALE_MASK;
    weight = readInt16(bytes, offset + 2);
    digitsAt = 4;
  }
  if ((length - digitsAt) % 2 !== 0)
    throw dataCorrupted("numeric value has an odd length", { length });
  const ndigits = (length - digitsAt) / 2;
  const digit = (i: number): number => {
    if (i < 0 || i >= ndigits) return 0;
    const d = readUint16(bytes, offset + digitsAt + 2 * i);
    if (d >= NBASE) throw dataCorrupted(`invalid numeric digit ${d}`, { digit: d });
    return d;
  };
  let out = negative ? "-" : "";
  if (weight < 0) {
    out += "0";
  } else {
    for (let i = 0; i <= weight; i++) {
      out += i === 0 ? String(digit(0)) : String(digit(i)).padStart(DEC_DIGITS, "0");
    }
  }
  if (dscale > 0) {
    let fraction = "";
    for (let i = weight + 1; fraction.length < dscale; i++) {
      fraction += String(digit(i)).padStart(DEC_DIGITS, "0");
    }
    out += `.${fraction.slice(0, dscale)}`;
  }
  // Digits past the display scale are not printed, but a corrupt one must still be noticed.
  for (let i = 0; i < ndigits; i++) digit(i);
  return out;
}

function coerceNumeric(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : String(value);
  throw datatypeMismatch("numeric", "a decimal string (or a number or bigint)", value);
}

/** The `numeric` type. JS value: decimal `string` (see the file header). */
export const numericCodec: VarlenaCodec<string> = {
  kind: "varlena",
  typname: "numeric",
  sqlName: "numeric",
  typlen: -1,
  typbyval: false,
  typalign: "i",
  typstorage: "m",
  coerce: (value, typmod) => formatNumeric(applyTypmod(parseNumeric(coerceNumeric(value)), typmod)),
  encodePayload: (value) => encodeNumeric(parseNumeric(value)),
  decodePayload: (bytes, offset, length) => decodeNumeric(bytes, offset, length),
  output: (value) => formatNumeric(parseNumeric(value)),
  input: (text, typmod) => formatNumeric(applyTypmod(parseNumeric(text), typmod)),
  typmodIn(modifiers) {
    const [precision, scale = 0, ...rest] = modifiers;
    if (precision === undefined || rest.length > 0) {
      throw new PgsimError("invalid-parameter-value", "invalid NUMERIC type modifier");
    }
    if (precision < 1 || precision > NUMERIC_MAX_PRECISION) {
      throw new PgsimError(
        "invalid-parameter-value",
        `NUMERIC precision ${precision} must be between 1 and ${NUMERIC_MAX_PRECISION}`,
      );
    }
    if (scale < NUMERIC_MIN_SCALE || scale > NUMERIC_MAX_SCALE) {
      throw new PgsimError(
        "invalid-parameter-value",
        `NUMERIC scale ${scale} must be between ${NUMERIC_MIN_SCALE} and ${NUMERIC_MAX_SCALE}`,
      );
    }
    return ((precision << 16) | (scale & 0x7ff)) + 4;
  },
};
