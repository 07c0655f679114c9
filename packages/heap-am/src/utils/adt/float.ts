/**
 * real (float4) and double precision (float8): IEEE 754 little-endian, printed as the shortest
 * decimal that reads back to the same value (PostgreSQL 12+ with extra_float_digits >= 1).
 *
 * Models: src/backend/utils/adt/float.c (float4in/out, float8in/out), src/common/d2s.c and
 * f2s.c (Ryu shortest output and its fixed / exponential layout).
 * Entry points: `float4Codec`, `float8Codec`, `float4ShortestText`, `float8ShortestText`.
 * See also: type-codec.ts.
 *
 * JS values: `number`. A float4 value must be exactly representable in binary32
 * (`Math.fround(v) === v`); encode rounds to the nearest binary32, as an assignment cast does.
 * -0, NaN and ±Infinity are kept. Every NaN is stored as the canonical quiet NaN that
 * PostgreSQL writes (0x7fc00000 / 0x7ff8000000000000), so a NaN with another payload read from
 * disk encodes back to the canonical bytes; all other values round-trip bit for bit.
 */

import {
  datatypeMismatch,
  type FixedLengthCodec,
  invalidInputSyntax,
  trimPgSpace,
  valueOutOfRange,
} from "./type-codec.js";

// One scratch buffer for all conversions: no allocation per value.
const scratch = new ArrayBuffer(8);
const scratchF32 = new Float32Array(scratch, 0, 1);
const scratchF64 = new Float64Array(scratch, 0, 1);
const scratchBytes = new Uint8Array(scratch);
const scratchU32 = new Uint32Array(scratch, 0, 1);
const scratchU32Pair = new Uint32Array(scratch, 0, 2);

// The scratch views assume a little-endian host, like the on-disk format.
scratchU32[0] = 1;
if (scratchBytes[0] !== 1) throw new Error("float.ts: pgsim needs a little-endian host");

// ---------------------------------------------------------------------------------------------
// Output

/**
 * Lays out shortest digits as Ryu does in PostgreSQL: fixed notation when the decimal exponent
 * of the first digit is in [-4, fixedLimit), else `d.ddde±XX` with at least two exponent digits.
 */
function layoutDigits(
  negative: boolean,
  digits: string,
  exponent: number,
  fixedLimit: number,
): string {
  const sign = negative ? "-" : "";
  if (exponent >= -4 && exponent < fixedLimit) {
    if (exponent < 0) return `${sign}0.${"0".repeat(-exponent - 1)}${digits}`;
    if (exponent + 1 >= digits.length)
      return sign + digits + "0".repeat(exponent + 1 - digits.length);
    return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  }
  const mantissa = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const expSign = exponent < 0 ? "-" : "+";
  return `${sign}${mantissa}e${expSign}${String(Math.abs(exponent)).padStart(2, "0")}`;
}

/** Text for the values Ryu treats specially, or undefined for an ordinary finite non-zero value. */
function specialText(value: number): string | undefined {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "Infinity";
  if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  return undefined;
}

/**
 * float8 output with extra_float_digits = 1: the shortest decimal that reads back to the same
 * double, never one lying exactly half-way between two doubles (fixed notation for exponents
 * -4..14).
 *
 * PostgreSQL's Ryu (src/common/d2s.c) is built without STRICTLY_SHORTEST, so it does not accept
 * the bounds of the rounding interval: `1e23` is half-way between two doubles and reads back as
 * the even one, but PostgreSQL prints that double as `9.999999999999999e+22`. ECMAScript's
 * Number-to-string picks the same digits as Ryu (shortest, then closest, ties to even) except
 * that it accepts the bounds; so its answer is used unless it lies exactly on a bound, and then
 * the exact search below finds Ryu's.
 */
export function float8ShortestText(value: number): string {
  const special = specialText(value);
  if (special !== undefined) return special;
  const x = Math.abs(value);
  const [mantissa = "", exp = "0"] = x.toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exponent = Number(exp);
  const interval = float8Interval(x);
  const k = exponent - (digits.length - 1);
  if (!onBound(BigInt(digits), k, interval)) return layoutDigits(value < 0, digits, exponent, 15);
  const found = shortestDigits(x, interval, digits.length, 17);
  return layoutDigits(value < 0, found.digits, found.exponent, 15);
}

/**
 * float4 output with extra_float_digits = 1: the shortest decimal that reads back as the same
 * binary32 value, never one exactly half-way between two (fixed notation for exponents -4..5).
 * `'5.369e8'::float4` is stored as the even binary32 below the half-way point 536900000, and
 * PostgreSQL (src/common/f2s.c without STRICTLY_SHORTEST) prints it as `5.3689997e+08`.
 *
 * JavaScript has no binary32 printing, and printing the value as a double gives too many digits
 * (0.1f is 0.10000000149011612). So, for 1 to 9 significant digits, this takes the correctly
 * rounded candidate and its two neighbours and checks exactly, in bigint arithmetic, whether
 * each lies strictly inside the interval of decimals that round to this binary32 value; the first
 * length with a hit wins, and among hits the one closest to the value (ties to an even last digit).
 */
export function float4ShortestText(value: number): string {
  const special = specialText(value);
  if (special !== undefined) return special;
  const x = Math.abs(value);
  const { digits, exponent } = shortestDigits(x, float4Interval(x), 1, 9);
  return layoutDigits(value < 0, digits, exponent, 6);
}

interface DecimalDigits {
  /** Significant digits without trailing zeros. */
  digits: string;
  /** Decimal exponent of the first digit. */
  exponent: number;
}

/**
 * The rounding interval of a binary floating-point value, in units of 2^e2: the value is `v4`,
 * and the decimals that read back to it lie strictly between `lower` and `upper` (the half-way
 * points to its neighbours; the one below is nearer when the value is a power of two).
 */
interface RoundingInterval {
  readonly v4: bigint;
  readonly lower: bigint;
  readonly upper: bigint;
  readonly e2: number;
}

function roundingInterval(m: bigint, e2: number, powerOfTwo: boolean): RoundingInterval {
  const v4 = 4n * m;
  return { v4, upper: v4 + 2n, lower: powerOfTwo ? v4 - 1n : v4 - 2n, e2: e2 - 2 };
}

function float4Interval(x: number): RoundingInterval {
  scratchF32[0] = x;
  const bits = scratchU32[0] ?? 0;
  const ieeeExponent = (bits >>> 23) & 0xff;
  const ieeeMantissa = bits & 0x7fffff;
  const m = ieeeExponent === 0 ? ieeeMantissa : ieeeMantissa | 0x800000;
  const e2 = ieeeExponent === 0 ? -149 : ieeeExponent - 150;
  return roundingInterval(BigInt(m), e2, ieeeMantissa === 0 && ieeeExponent > 1);
}

function float8Interval(x: number): RoundingInterval {
  scratchF64[0] = x;
  const lo = scratchU32Pair[0] ?? 0;
  const hi = scratchU32Pair[1] ?? 0;
  const ieeeExponent = (hi >>> 20) & 0x7ff;
  const ieeeMantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  const m = ieeeExponent === 0 ? ieeeMantissa : ieeeMantissa | (1n << 52n);
  const e2 = ieeeExponent === 0 ? -1074 : ieeeExponent - 1075;
  return roundingInterval(m, e2, ieeeMantissa === 0n && ieeeExponent > 1);
}

/** Whether `n * 10^k` equals one of the interval's bounds exactly. */
function onBound(n: bigint, k: number, interval: RoundingInterval): boolean {
  const scaled = scaleToCommon(n, k, interval.e2);
  return (
    scaled.left === interval.lower * scaled.rightFactor ||
    scaled.left === interval.upper * scaled.rightFactor
  );
}

/**
 * Ryu's answer by exact search: for each number of significant digits from `fromPrecision`, the
 * correctly rounded candidate and its two neighbours; the first length with a candidate strictly
 * inside the interval wins, and among those the one closest to the value (ties to even).
 */
function shortestDigits(
  x: number,
  interval: RoundingInterval,
  fromPrecision: number,
  maxPrecision: number,
): DecimalDigits {
  const { v4, lower, upper, e2 } = interval;
  for (let precision = fromPrecision; precision <= maxPrecision; precision++) {
    const [mant = "", exp = "0"] = x.toExponential(precision - 1).split("e");
    const k = Number(exp) - (precision - 1);
    const n = BigInt(mant.replace(".", ""));
    let best: bigint | undefined;
    let bestDistance = 0n;
    for (const candidate of [n - 1n, n, n + 1n]) {
      if (candidate <= 0n) continue;
      const scaled = scaleToCommon(candidate, k, e2);
      const inside =
        compare(scaled.left, lower * scaled.rightFactor) > 0 &&
        compare(scaled.left, upper * scaled.rightFactor) < 0;
      if (!inside) continue;
      const diff = scaled.left - v4 * scaled.rightFactor;
      const distance = diff < 0n ? -diff : diff;
      if (
        best === undefined ||
        distance < bestDistance ||
        (distance === bestDistance && candidate % 2n === 0n)
      ) {
        best = candidate;
        bestDistance = distance;
      }
    }
    if (best !== undefined) {
      let digits = best.toString();
      let exponent10 = k;
      while (digits.length > 1 && digits.endsWith("0")) {
        digits = digits.slice(0, -1);
        exponent10++;
      }
      return { digits, exponent: exponent10 + digits.length - 1 };
    }
  }
  // 9 significant digits always identify a binary32 value, 17 a binary64 one.
  throw new Error(`shortestDigits: no round-trip digits found for ${x}`);
}

/**
 * Brings `n * 10^k` and `B * 2^e2` to integers with a common scale: returns `left` (the scaled
 * decimal) and `rightFactor` such that comparing `left` with `B * rightFactor` compares the two.
 */
function scaleToCommon(n: bigint, k: number, e2: number): { left: bigint; rightFactor: bigint } {
  let left = n;
  let rightFactor = 1n;
  if (k >= 0) left *= 10n ** BigInt(k);
  else rightFactor *= 10n ** BigInt(-k);
  if (e2 >= 0) rightFactor *= 2n ** BigInt(e2);
  else left *= 2n ** BigInt(-e2);
  return { left, rightFactor };
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Input

const FLOAT_SYNTAX = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;
const INFINITY_SYNTAX = /^([+-]?)(inf|infinity)$/i;

/**
 * Parses float4in / float8in syntax: decimal or exponent notation, NaN, [+-]Infinity, [+-]inf,
 * surrounding whitespace. Overflow to infinity and underflow to zero are errors, as in
 * PostgreSQL. Returns the value as a double (float4 callers round it).
 *
 * Differs from PostgreSQL: float4 input parses to binary64 first and then rounds to binary32,
 * which can differ from strtof's direct rounding for decimals extremely close to a binary32
 * half-way point.
 */
function parseFloatLiteral(sqlName: string, text: string, single: boolean): number {
  const trimmed = trimPgSpace(text);
  if (/^nan$/i.test(trimmed)) return Number.NaN;
  const inf = INFINITY_SYNTAX.exec(trimmed);
  if (inf) return inf[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (!FLOAT_SYNTAX.test(trimmed)) throw invalidInputSyntax(sqlName, text);
  const parsed = Number(trimmed);
  const value = single ? Math.fround(parsed) : parsed;
  if (!Number.isFinite(value)) throw valueOutOfRange(sqlName, text);
  // A non-zero mantissa that came out as zero underflowed.
  if (value === 0 && /[1-9]/.test(trimmed.split(/[eE]/)[0] ?? "")) {
    throw valueOutOfRange(sqlName, text);
  }
  return value;
}

function coerceNumber(sqlName: string, value: unknown): number {
  if (typeof value !== "number") throw datatypeMismatch(sqlName, "a number", value);
  return value;
}

/** The `float4` (real) type. JS value: `number` representable in binary32. */
export const float4Codec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "float4",
  sqlName: "real",
  typlen: 4,
  typbyval: true,
  typalign: "i",
  typstorage: "p",
  coerce: (value) => Math.fround(coerceNumber("real", value)),
  read(bytes, offset) {
    for (let i = 0; i < 4; i++) scratchBytes[i] = bytes[offset + i] ?? 0;
    return scratchF32[0] ?? 0;
  },
  write(bytes, offset, value) {
    // Every NaN is written as the canonical quiet NaN PostgreSQL produces.
    if (Number.isNaN(value)) scratchU32[0] = 0x7fc00000;
    else scratchF32[0] = value;
    for (let i = 0; i < 4; i++) bytes[offset + i] = scratchBytes[i] ?? 0;
  },
  output: (value) => float4ShortestText(value),
  input: (text) => parseFloatLiteral("real", text, true),
};

/** The `float8` (double precision) type. JS value: `number`. */
export const float8Codec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "float8",
  sqlName: "double precision",
  typlen: 8,
  typbyval: true,
  typalign: "d",
  typstorage: "p",
  coerce: (value) => coerceNumber("double precision", value),
  read(bytes, offset) {
    for (let i = 0; i < 8; i++) scratchBytes[i] = bytes[offset + i] ?? 0;
    return scratchF64[0] ?? 0;
  },
  write(bytes, offset, value) {
    if (Number.isNaN(value)) {
      // The canonical quiet NaN, 0x7ff8000000000000, whatever NaN bits V8 happens to hold.
      bytes.fill(0, offset, offset + 6);
      bytes[offset + 6] = 0xf8;
      bytes[offset + 7] = 0x7f;
      return;
    }
    scratchF64[0] = value;
    for (let i = 0; i < 8; i++) bytes[offset + i] = scratchBytes[i] ?? 0;
  },
  output: (value) => float8ShortestText(value),
  input: (text) => parseFloatLiteral("double precision", text, false),
};
