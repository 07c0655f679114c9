/**
 * Calendar arithmetic and the ISO text forms shared by date, time, timestamp and timestamptz.
 *
 * Models: src/backend/utils/adt/datetime.c (date2j / j2date, EncodeDateOnly, EncodeTimeOnly,
 * EncodeDateTime with DateStyle ISO, AppendSeconds, ParseFractionalSecond, the ISO branches of
 * DecodeDateTime) and the range macros of src/include/datatype/timestamp.h.
 * Entry points: `civilFromDays`, `daysFromCivil`, `formatDate`, `formatTimeOfDay`,
 * `formatTimestamp`, `parseDateTime`, and the epoch / range constants.
 * See also: date.ts, timestamp.ts, interval.ts.
 *
 * Dates use the proleptic Gregorian calendar with astronomical years: year 0 is 1 BC, year -43
 * is 44 BC. Day numbers count from PostgreSQL's epoch, 2000-01-01.
 *
 * Differs from PostgreSQL: input accepts the ISO forms only (YYYY-MM-DD, optional time
 * HH:MM[:SS[.ffffff]], optional zone Z / UTC / GMT / ±HH[:MM[:SS]], optional BC / AD, and the
 * words infinity, -infinity, epoch); PostgreSQL's DecodeDateTime accepts many more spellings
 * (month names, other field orders, time zone names).
 */

import { PgsimError } from "@pgsim/clock-sweep";

/** Microseconds per day, second, minute and hour. */
export const USECS_PER_DAY = 86_400_000_000n;
export const USECS_PER_HOUR = 3_600_000_000n;
export const USECS_PER_MINUTE = 60_000_000n;
export const USECS_PER_SEC = 1_000_000n;

/** Days from 1970-01-01 (Unix epoch) to 2000-01-01 (PostgreSQL epoch). */
export const UNIX_EPOCH_TO_POSTGRES_EPOCH_DAYS = 10957;
/** Julian day number of 2000-01-01. */
export const POSTGRES_EPOCH_JDATE = 2451545;

/** First valid date: Julian day 0, 4714-11-24 BC, as days from 2000-01-01. */
export const DATE_MIN_DAYS = -POSTGRES_EPOCH_JDATE;
/** One past the last valid date (5874897-12-31), as days from 2000-01-01. */
export const DATE_END_DAYS = 2147483494 - POSTGRES_EPOCH_JDATE;
/** First valid timestamp, 4714-11-24 00:00:00 BC, in µs from 2000-01-01. */
export const MIN_TIMESTAMP = -211813488000000000n;
/** One past the last valid timestamp, 294277-01-01 00:00:00, in µs from 2000-01-01. */
export const END_TIMESTAMP = 9223371331200000000n;

/** Proleptic Gregorian year, month (1-12), day (1-31); year 0 is 1 BC. */
export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/**
 * The civil date of a day number counted from 2000-01-01. Works for any safe integer: the
 * Gregorian cycle of 400 years (146097 days) is split off first, so negative days need no
 * special case.
 */
export function civilFromDays(days: number): CivilDate {
  // Shift to a calendar that starts on 0000-03-01, so that leap days fall at the end of a year.
  const z = days + UNIX_EPOCH_TO_POSTGRES_EPOCH_DAYS + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36524) -
      Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Day number (from 2000-01-01) of a proleptic Gregorian date; the inverse of civilFromDays. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra =
    yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468 - UNIX_EPOCH_TO_POSTGRES_EPOCH_DAYS;
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days in a month of a (astronomical) year. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad2(n: number | bigint): string {
  return String(n).padStart(2, "0");
}

/** The ISO date text, with the year zero-padded to 4 digits and " BC" for years before 1. */
function formatCivil(date: CivilDate): { text: string; bc: boolean } {
  const bc = date.year <= 0;
  const year = bc ? 1 - date.year : date.year;
  return { text: `${String(year).padStart(4, "0")}-${pad2(date.month)}-${pad2(date.day)}`, bc };
}

/** Date text for a finite day number: `YYYY-MM-DD` or `YYYY-MM-DD BC`. */
export function formatDate(days: number): string {
  const { text, bc } = formatCivil(civilFromDays(days));
  return bc ? `${text} BC` : text;
}

/**
 * Seconds and fraction as AppendSeconds prints them with fillzeros: two-digit seconds, then, if
 * there is a fraction, a point and up to six digits without trailing zeros. Both arguments are
 * absolute values.
 */
export function formatSeconds(seconds: bigint, microseconds: bigint): string {
  if (microseconds === 0n) return pad2(seconds);
  return `${pad2(seconds)}.${String(microseconds).padStart(6, "0").replace(/0+$/, "")}`;
}

/** `HH:MM:SS[.ffffff]` for microseconds since midnight (24:00:00 allowed; hours not wrapped). */
export function formatTimeOfDay(microseconds: bigint): string {
  const negative = microseconds < 0n;
  const abs = negative ? -microseconds : microseconds;
  const hours = abs / USECS_PER_HOUR;
  const minutes = (abs % USECS_PER_HOUR) / USECS_PER_MINUTE;
  const seconds = (abs % USECS_PER_MINUTE) / USECS_PER_SEC;
  const fraction = abs % USECS_PER_SEC;
  return `${negative ? "-" : ""}${pad2(hours)}:${pad2(minutes)}:${formatSeconds(seconds, fraction)}`;
}

/**
 * ISO timestamp text for a finite timestamp (µs from 2000-01-01): `YYYY-MM-DD HH:MM:SS[.f]`,
 * then `+00` for timestamptz (TimeZone UTC), then ` BC` for years before 1.
 */
export function formatTimestamp(microseconds: bigint, withTimeZone: boolean): string {
  let days = microseconds / USECS_PER_DAY;
  let timeOfDay = microseconds % USECS_PER_DAY;
  if (timeOfDay < 0n) {
    days -= 1n;
    timeOfDay += USECS_PER_DAY;
  }
  const { text, bc } = formatCivil(civilFromDays(Number(days)));
  return `${text} ${formatTimeOfDay(timeOfDay)}${withTimeZone ? "+00" : ""}${bc ? " BC" : ""}`;
}

// ---------------------------------------------------------------------------------------------
// Input

/** `date/time field value out of range: "text"` (22008). */
export function fieldOutOfRange(text: string): PgsimError {
  return new PgsimError(
    "datetime-field-overflow",
    `date/time field value out of range: "${text}"`,
    {
      input: text,
    },
  );
}

/** What parseDateTime found in a literal. */
export type ParsedDateTime =
  | { readonly kind: "infinity" }
  | { readonly kind: "-infinity" }
  | {
      readonly kind: "finite";
      /** Day number from 2000-01-01 of the date part (0 when there is none). */
      readonly days: number;
      /** Microseconds since midnight of the time part (0 when there is none). */
      readonly timeOfDay: bigint;
      /** Zone offset east of UTC in seconds, when the literal has one. */
      readonly offsetSeconds: number | undefined;
      readonly hasDate: boolean;
      readonly hasTime: boolean;
    };

const DATE_PART = String.raw`(\d+)-(\d{1,2})-(\d{1,2})`;
const TIME_PART = String.raw`(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d*))?)?`;
const ZONE_PART = String.raw`(z|utc|gmt|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)`;
const ERA = String.raw`(?:\s+(bc|ad))?`;
const DATETIME_SYNTAX = new RegExp(
  `^(?:${DATE_PART}${ERA})?(?:(?:^|\\s+|t)${TIME_PART})?\\s*${ZONE_PART}?${ERA}$`,
  "i",
);

/**
 * Rounds a fraction of a second given as decimal digits to whole microseconds the way
 * ParseFractionalSecond does (rint of the value times 10^6: half to even).
 */
function fractionToMicroseconds(digits: string): bigint {
  if (digits.length <= 6) return BigInt(digits.padEnd(6, "0"));
  const scaled = Number(`0.${digits}`) * 1e6;
  const floor = Math.floor(scaled);
  const rest = scaled - floor;
  const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  return BigInt(rounded);
}

/** Parses a zone offset such as `+05:30`, `-0800`, `Z`, `UTC`: seconds east of UTC. */
function parseZone(zone: string, text: string): number {
  if (/^(z|utc|gmt)$/i.test(zone)) return 0;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(/:/g, "");
  // One or two hour digits, then optional minutes and seconds of two digits each.
  const hourDigits = digits.length % 2 === 0 ? 2 : 1;
  const hours = Number(digits.slice(0, hourDigits));
  const minutes = Number(digits.slice(hourDigits, hourDigits + 2) || "0");
  const seconds = Number(digits.slice(hourDigits + 2, hourDigits + 4) || "0");
  if (hours > 15 || minutes > 59 || seconds > 59) {
    throw new PgsimError(
      "invalid-time-zone-displacement-value",
      `time zone displacement out of range: "${text}"`,
    );
  }
  return sign * (hours * 3600 + minutes * 60 + seconds);
}

/**
 * Parses an ISO date, time or timestamp literal (see the file header for the accepted forms).
 * `typeName` names the type in error messages.
 */
export function parseDateTime(text: string, typeName: string): ParsedDateTime {
  const trimmed = text.trim();
  const lower = trimmed.toLowerCase();
  if (lower === "infinity" || lower === "+infinity") return { kind: "infinity" };
  if (lower === "-infinity") return { kind: "-infinity" };
  if (lower === "epoch") {
    return {
      kind: "finite",
      days: -UNIX_EPOCH_TO_POSTGRES_EPOCH_DAYS,
      timeOfDay: 0n,
      offsetSeconds: 0,
      hasDate: true,
      hasTime: true,
    };
  }
  const m = DATETIME_SYNTAX.exec(trimmed);
  if (!m || trimmed === "") {
    throw new PgsimError(
      "invalid-datetime-format",
      `invalid input syntax for type ${typeName}: "${text}"`,
      {
        input: text,
      },
    );
  }
  const [
    ,
    yearText,
    monthText,
    dayText,
    era1,
    hourText,
    minuteText,
    secondText,
    fractionText,
    zone,
    era2,
  ] = m;
  const era = (era1 ?? era2)?.toLowerCase();
  const hasDate = yearText !== undefined;
  const hasTime = hourText !== undefined;
  let days = 0;
  if (hasDate) {
    let year = Number(yearText);
    const month = Number(monthText);
    const day = Number(dayText);
    // A two-digit year means 1970-2069, as in PostgreSQL.
    if ((yearText ?? "").length <= 2 && era === undefined) year += year < 70 ? 2000 : 1900;
    if (year === 0) throw fieldOutOfRange(text);
    if (era === "bc") year = 1 - year;
    if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
      throw fieldOutOfRange(text);
    days = daysFromCivil(year, month, day);
  } else if (era !== undefined) {
    throw new PgsimError(
      "invalid-datetime-format",
      `invalid input syntax for type ${typeName}: "${text}"`,
    );
  }
  let timeOfDay = 0n;
  if (hasTime) {
    const hours = Number(hourText);
    const minutes = Number(minuteText);
    const seconds = Number(secondText ?? "0");
    const fraction = fractionToMicroseconds(fractionText ?? "");
    // 60 seconds (a leap second) is accepted and rolls over, as in PostgreSQL.
    if (hours > 24 || minutes > 59 || seconds > 60) throw fieldOutOfRange(text);
    timeOfDay =
      BigInt(hours) * USECS_PER_HOUR +
      BigInt(minutes) * USECS_PER_MINUTE +
      BigInt(seconds) * USECS_PER_SEC +
      fraction;
    if (timeOfDay > USECS_PER_DAY) throw fieldOutOfRange(text);
  }
  const offsetSeconds = zone === undefined ? undefined : parseZone(zone, text);
  return { kind: "finite", days, timeOfDay, offsetSeconds, hasDate, hasTime };
}
