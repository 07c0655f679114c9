/**
 * interval: 16 bytes, int64 microseconds then int32 days then int32 months, three independent
 * fields; printed in IntervalStyle postgres.
 *
 * Models: src/backend/utils/adt/timestamp.c (interval_in, interval_out, interval2itm),
 * datetime.c (DecodeInterval, DecodeISO8601Interval, EncodeInterval with INTSTYLE_POSTGRES,
 * AddPostgresIntPart, AppendSeconds).
 * Entry points: `intervalCodec`.
 * See also: datetime.ts, timestamp.ts, type-codec.ts.
 *
 * JS value: `IntervalValue` `{ months, days, microseconds }` (int32, int32, int64 bigint),
 * exactly the stored fields; every bit pattern round-trips.
 *
 * Output: years and months from the months field, days, then `[+-]HH:MM:SS[.ffffff]` from the
 * microseconds (each split truncating toward zero). A field's sign is printed when negative, and
 * a `+` when the previous field was negative.
 *
 * Differs from PostgreSQL: input takes the postgres style (`1 year 2 mons -3 days 04:05:06`,
 * optional `@` and `ago`, units from microseconds to millennia, fractional values cascading
 * down with 30-day months and 24-hour days) and ISO 8601 designators (`P1Y2M3DT4H5M6.7S`), but
 * not the SQL-standard or ISO alternative formats (`1-2`, `P0001-02-03T04:05:06`).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  readBigInt64,
  readInt32,
  writeBigInt64,
  writeUint32,
} from "../../include/port/le-bytes.js";
import {
  formatSeconds,
  USECS_PER_DAY,
  USECS_PER_HOUR,
  USECS_PER_MINUTE,
  USECS_PER_SEC,
} from "./datetime.js";
import { INT64_MAX, INT64_MIN } from "./int.js";
import { datatypeMismatch, type FixedLengthCodec, type IntervalValue } from "./type-codec.js";

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const MONTHS_PER_YEAR = 12;
const DAYS_PER_MONTH = 30;
const DAYS_PER_WEEK = 7;

function intervalOutOfRange(): PgsimError {
  return new PgsimError("datetime-value-out-of-range", "interval out of range");
}

function invalidInterval(text: string): PgsimError {
  return new PgsimError(
    "invalid-datetime-format",
    `invalid input syntax for type interval: "${text}"`,
    {
      input: text,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Output

/**
 * One "N unit(s)" part (AddPostgresIntPart): skipped when zero; a leading `+` when the previous
 * part was negative and this one is positive.
 */
function addIntPart(
  parts: string[],
  value: number,
  unit: string,
  state: { isBefore: boolean },
): void {
  if (value === 0) return;
  const plus = state.isBefore && value > 0 ? "+" : "";
  parts.push(`${plus}${value} ${unit}${value !== 1 ? "s" : ""}`);
  state.isBefore = value < 0;
}

function formatInterval(value: IntervalValue): string {
  const years = Math.trunc(value.months / MONTHS_PER_YEAR);
  const months = value.months % MONTHS_PER_YEAR;
  // bigint division truncates toward zero, like interval2itm.
  let time = value.microseconds;
  const hours = time / USECS_PER_HOUR;
  time -= hours * USECS_PER_HOUR;
  const minutes = time / USECS_PER_MINUTE;
  time -= minutes * USECS_PER_MINUTE;
  const seconds = time / USECS_PER_SEC;
  const fraction = time - seconds * USECS_PER_SEC;

  const parts: string[] = [];
  const state = { isBefore: false };
  addIntPart(parts, years, "year", state);
  addIntPart(parts, months, "mon", state);
  addIntPart(parts, value.days, "day", state);
  const isZero = parts.length === 0;
  if (isZero || hours !== 0n || minutes !== 0n || seconds !== 0n || fraction !== 0n) {
    const minus = hours < 0n || minutes < 0n || seconds < 0n || fraction < 0n;
    const sign = minus ? "-" : state.isBefore ? "+" : "";
    const abs = (n: bigint): bigint => (n < 0n ? -n : n);
    parts.push(
      `${sign}${String(abs(hours)).padStart(2, "0")}:${String(abs(minutes)).padStart(2, "0")}:` +
        formatSeconds(abs(seconds), abs(fraction)),
    );
  }
  return parts.join(" ");
}

// ---------------------------------------------------------------------------------------------
// Input

/** Accumulates fields exactly: months and days as numbers, microseconds as a bigint. */
interface Accumulator {
  months: number;
  days: number;
  microseconds: bigint;
}

type UnitKind = "us" | "ms" | "s" | "min" | "h" | "d" | "w" | "mon" | "y" | "dec" | "c" | "mil";

const UNITS: Readonly<Record<string, UnitKind>> = {
  microsecond: "us",
  microseconds: "us",
  microsecon: "us",
  us: "us",
  usec: "us",
  usecs: "us",
  useconds: "us",
  millisecond: "ms",
  milliseconds: "ms",
  millisecon: "ms",
  ms: "ms",
  msec: "ms",
  msecs: "ms",
  mseconds: "ms",
  second: "s",
  seconds: "s",
  sec: "s",
  secs: "s",
  s: "s",
  minute: "min",
  minutes: "min",
  min: "min",
  mins: "min",
  m: "min",
  hour: "h",
  hours: "h",
  hr: "h",
  hrs: "h",
  h: "h",
  day: "d",
  days: "d",
  d: "d",
  week: "w",
  weeks: "w",
  w: "w",
  month: "mon",
  months: "mon",
  mon: "mon",
  mons: "mon",
  year: "y",
  years: "y",
  yr: "y",
  yrs: "y",
  y: "y",
  decade: "dec",
  decades: "dec",
  dec: "dec",
  decs: "dec",
  century: "c",
  centuries: "c",
  cent: "c",
  c: "c",
  millennium: "mil",
  millennia: "mil",
  millenniums: "mil",
  mil: "mil",
  mils: "mil",
};

const MICROSECONDS_OF: Partial<Record<UnitKind, bigint>> = {
  us: 1n,
  ms: 1000n,
  s: USECS_PER_SEC,
  min: USECS_PER_MINUTE,
  h: USECS_PER_HOUR,
};
const MONTHS_OF: Partial<Record<UnitKind, number>> = {
  mon: 1,
  y: MONTHS_PER_YEAR,
  dec: 10 * MONTHS_PER_YEAR,
  c: 100 * MONTHS_PER_YEAR,
  mil: 1000 * MONTHS_PER_YEAR,
};

/** rint(): round half to even, as PostgreSQL rounds fractional microseconds. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/** numerator / denominator rounded to the nearest integer, ties to even (both positive). */
function roundHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twice = 2n * (numerator % denominator);
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

/** Adds `number` (a decimal literal, possibly signed and fractional) of `unit`. */
function addQuantity(acc: Accumulator, numberText: string, unit: UnitKind, text: string): void {
  const negative = numberText.startsWith("-");
  const unsigned = numberText.replace(/^[+-]/, "");
  const [wholeText = "0", fractionText = ""] = unsigned.split(".");
  const whole = BigInt(wholeText === "" ? "0" : wholeText) * (negative ? -1n : 1n);
  const fraction = (fractionText === "" ? 0 : Number(`0.${fractionText}`)) * (negative ? -1 : 1);
  const perMicro = MICROSECONDS_OF[unit];
  if (perMicro !== undefined) {
    // Exact decimal arithmetic, so "6.7 seconds" is 6700000 µs and not 6699999.
    const scaled =
      fractionText === ""
        ? 0n
        : roundHalfEven(BigInt(fractionText) * perMicro, 10n ** BigInt(fractionText.length));
    acc.microseconds += whole * perMicro + (negative ? -scaled : scaled);
    return;
  }
  if (unit === "d" || unit === "w") {
    const perDay = unit === "w" ? DAYS_PER_WEEK : 1;
    addDays(acc, whole * BigInt(perDay), fraction * perDay, text);
    return;
  }
  const perMonth = MONTHS_OF[unit];
  if (perMonth === undefined) throw invalidInterval(text);
  const months = whole * BigInt(perMonth);
  const fractionalMonths = fraction * perMonth;
  // Fractional years become whole months; fractional months become 30-day days.
  const extraMonths = Math.trunc(fractionalMonths);
  acc.months += checkedNumber(months + BigInt(extraMonths));
  if (unit === "mon") addDays(acc, 0n, (fractionalMonths - extraMonths) * DAYS_PER_MONTH, text);
}

/** Adds whole days plus a fraction of a day, the fraction going to microseconds (24-hour days). */
function addDays(acc: Accumulator, whole: bigint, fraction: number, text: string): void {
  const extraDays = Math.trunc(fraction);
  acc.days += checkedNumber(whole + BigInt(extraDays));
  const rest = fraction - extraDays;
  if (!Number.isFinite(rest)) throw invalidInterval(text);
  acc.microseconds += BigInt(rint(rest * Number(USECS_PER_DAY)));
}

function checkedNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw intervalOutOfRange();
  }
  return Number(value);
}

const NUMBER_TOKEN = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const NUMBER_WITH_UNIT = /^([+-]?(?:\d+\.?\d*|\.\d+))([a-z]+)$/;
const TIME_TOKEN = /^([+-]?)(\d+):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?$/;
const ISO_8601 =
  /^p(?:([+-]?[\d.]+)y)?(?:([+-]?[\d.]+)m)?(?:([+-]?[\d.]+)w)?(?:([+-]?[\d.]+)d)?(?:t(?:([+-]?[\d.]+)h)?(?:([+-]?[\d.]+)m)?(?:([+-]?[\d.]+)s)?)?$/;

function parseTimeToken(acc: Accumulator, m: RegExpExecArray): void {
  const [, sign, hours = "0", minutes = "0", seconds = "0", fraction = ""] = m;
  let value =
    BigInt(hours) * USECS_PER_HOUR +
    BigInt(minutes) * USECS_PER_MINUTE +
    BigInt(seconds) * USECS_PER_SEC;
  if (fraction !== "")
    value += roundHalfEven(BigInt(fraction) * USECS_PER_SEC, 10n ** BigInt(fraction.length));
  acc.microseconds += sign === "-" ? -value : value;
}

function parseInterval(text: string): IntervalValue {
  const acc: Accumulator = { months: 0, days: 0, microseconds: 0n };
  const lower = text.trim().toLowerCase();
  const iso = ISO_8601.exec(lower);
  if (iso && lower !== "p" && lower !== "pt") {
    const units: UnitKind[] = ["y", "mon", "w", "d", "h", "min", "s"];
    iso.slice(1).forEach((value, i) => {
      if (value === undefined) return;
      if (!NUMBER_TOKEN.test(value)) throw invalidInterval(text);
      addQuantity(acc, value, units[i] ?? "s", text);
    });
    return finish(acc, false);
  }
  const tokens = lower.split(/\s+/).filter((t) => t.length > 0);
  if (tokens[0] === "@") tokens.shift();
  else if (tokens[0]?.startsWith("@")) tokens[0] = tokens[0].slice(1);
  let ago = false;
  if (tokens[tokens.length - 1] === "ago") {
    ago = true;
    tokens.pop();
  }
  if (tokens.length === 0) throw invalidInterval(text);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    const time = TIME_TOKEN.exec(token);
    if (time) {
      parseTimeToken(acc, time);
      continue;
    }
    const attached = NUMBER_WITH_UNIT.exec(token);
    if (attached) {
      const unit = UNITS[attached[2] ?? ""];
      if (unit === undefined) throw invalidInterval(text);
      addQuantity(acc, attached[1] ?? "0", unit, text);
      continue;
    }
    if (!NUMBER_TOKEN.test(token)) throw invalidInterval(text);
    const next = tokens[i + 1];
    const unit = next === undefined ? undefined : UNITS[next];
    if (unit !== undefined) i++;
    // A number without a unit counts seconds.
    addQuantity(acc, token, unit ?? "s", text);
  }
  return finish(acc, ago);
}

function finish(acc: Accumulator, negate: boolean): IntervalValue {
  const sign = negate ? -1 : 1;
  const months = acc.months * sign;
  const days = acc.days * sign;
  const microseconds = negate ? -acc.microseconds : acc.microseconds;
  if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX) {
    throw intervalOutOfRange();
  }
  if (microseconds < INT64_MIN || microseconds > INT64_MAX) throw intervalOutOfRange();
  return { months: months === 0 ? 0 : months, days: days === 0 ? 0 : days, microseconds };
}

// ---------------------------------------------------------------------------------------------

function isInt32(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX;
}

/** The `interval` type. JS value: `IntervalValue`. */
export const intervalCodec: FixedLengthCodec<IntervalValue> = {
  kind: "fixed",
  typname: "interval",
  sqlName: "interval",
  typlen: 16,
  typbyval: false,
  typalign: "d",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "object" || value === null || value instanceof Uint8Array) {
      throw datatypeMismatch("interval", "an object { months, days, microseconds }", value);
    }
    const { months, days, microseconds } = value as Partial<IntervalValue>;
    if (!isInt32(months) || !isInt32(days) || typeof microseconds !== "bigint") {
      throw datatypeMismatch(
        "interval",
        "int32 months and days and a bigint of microseconds",
        value,
      );
    }
    if (microseconds < INT64_MIN || microseconds > INT64_MAX) throw intervalOutOfRange();
    return { months: months === 0 ? 0 : months, days: days === 0 ? 0 : days, microseconds };
  },
  read(bytes, offset) {
    return {
      microseconds: readBigInt64(bytes, offset),
      days: readInt32(bytes, offset + 8),
      months: readInt32(bytes, offset + 12),
    };
  },
  write(bytes, offset, value) {
    writeBigInt64(bytes, offset, value.microseconds);
    writeUint32(bytes, offset + 8, value.days);
    writeUint32(bytes, offset + 12, value.months);
  },
  output: (value) => formatInterval(value),
  input: (text) => parseInterval(text),
};
