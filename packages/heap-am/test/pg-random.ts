/**
 * PostgreSQL's random() after setseed(), for replaying the fixture cases' INSERT ... SELECT
 * statements without a server: the same seed gives the same row values as PostgreSQL 15 (and 18).
 *
 * Models: src/common/pg_prng.c (xoroshiro128**, seeded through splitmix64; pg_prng_fseed,
 * pg_prng_double), utils/adt/float.c (setseed, drandom, float8out with extra_float_digits 1),
 * and the few value expressions the cases use: md5(random()::text), float8 → numeric (15
 * significant digits, float8_numeric) → round(numeric, s) → float8.
 * Entry points: `PgRandom`, `md5Hex`, `roundViaNumeric`.
 */

import { createHash } from "node:crypto";
import { float8ShortestText } from "../src/utils/adt/float.js";

const MASK64 = (1n << 64n) - 1n;

function rotl(x: bigint, bits: number): bigint {
  return ((x << BigInt(bits)) | (x >> BigInt(64 - bits))) & MASK64;
}

/** The random() generator of one session, as setseed() leaves it. */
export class PgRandom {
  private s0: bigint;
  private s1: bigint;

  /** setseed(seed): pg_prng_fseed, i.e. splitmix64 from trunc(seed × (2^52 − 1)). */
  constructor(seed: number) {
    let state = BigInt.asUintN(64, BigInt(Math.trunc((2 ** 52 - 1) * seed)));
    const splitmix = (): bigint => {
      state = (state + 0x9e3779b97f4a7c15n) & MASK64;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
      return z ^ (z >> 31n);
    };
    this.s0 = splitmix();
    this.s1 = splitmix();
  }

  /** random(): pg_prng_double, the top 52 bits of xoroshiro128** scaled to [0, 1). */
  random(): number {
    const s0 = this.s0;
    let sN = this.s1;
    const value = (rotl((s0 * 5n) & MASK64, 7) * 9n) & MASK64;
    sN ^= s0;
    this.s0 = rotl(s0, 24) ^ sN ^ ((sN << 16n) & MASK64);
    this.s1 = rotl(sN, 37);
    return Number(value >> 12n) * 2 ** -52;
  }

  /** md5(random()::text). */
  md5Random(): string {
    return md5Hex(float8ShortestText(this.random()));
  }
}

/** md5(text) as PostgreSQL prints it. */
export function md5Hex(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/**
 * round(x::numeric, scale)::float8: float8_numeric keeps 15 significant digits (DBL_DIG), round
 * rounds half away from zero, and numeric_float8 parses the decimal text.
 */
export function roundViaNumeric(x: number, scale: number): number {
  const [mantissa = "0", exp = "0"] = x.toPrecision(15).includes("e")
    ? x.toPrecision(15).split("e")
    : [x.toPrecision(15), "0"];
  const negative = mantissa.startsWith("-");
  const [intPart = "0", fracPart = ""] = mantissa.replace("-", "").split(".");
  // The value is digits × 10^(exponent).
  const digits = BigInt(intPart + fracPart);
  const exponent = Number(exp) - fracPart.length;
  let scaled: bigint;
  const shift = exponent + scale;
  if (shift >= 0) {
    scaled = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    scaled = (digits + divisor / 2n) / divisor;
  }
  const text = scaled.toString().padStart(scale + 1, "0");
  const decimal = `${text.slice(0, text.length - scale)}.${text.slice(text.length - scale)}`;
  return Number.parseFloat((negative ? "-" : "") + decimal);
}
