/**
 * timestamp and timestamptz: int64 microseconds since 2000-01-01 00:00:00, with int64 max and
 * min standing for infinity and -infinity.
 *
 * Models: src/backend/utils/adt/timestamp.c (timestamp_in/out, timestamptz_in/out,
 * TIMESTAMP_NOBEGIN / TIMESTAMP_NOEND, IS_VALID_TIMESTAMP).
 * Entry points: `timestampCodec`, `timestamptzCodec`, `DT_NOBEGIN`, `DT_NOEND`.
 * See also: datetime.ts (calendar and text forms), date.ts, interval.ts, type-codec.ts.
 *
 * JS values: `bigint` microseconds since 2000-01-01 00:00:00 (PostgreSQL's epoch; the Unix
 * epoch is -946684800000000n). For timestamp it is wall-clock time with no zone; for
 * timestamptz it is UTC (the zone of the input is applied and then forgotten, and output is in
 * UTC, TimeZone = 'UTC'). `DT_NOEND` (int64 max) is infinity, `DT_NOBEGIN` (int64 min)
 * -infinity. Finite values run from 4714-11-24 00:00:00 BC up to, not including,
 * 294277-01-01. Every stored bit pattern decodes; out-of-range ones are printed but rejected on
 * encode.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readBigInt64, writeBigInt64 } from "../../include/port/le-bytes.js";
import {
  END_TIMESTAMP,
  formatTimestamp,
  MIN_TIMESTAMP,
  parseDateTime,
  USECS_PER_DAY,
  USECS_PER_SEC,
} from "./datetime.js";
import { INT64_MAX, INT64_MIN } from "./int.js";
import { datatypeMismatch, type FixedLengthCodec } from "./type-codec.js";

/** The timestamp `-infinity` (int64 min). */
export const DT_NOBEGIN = INT64_MIN;
/** The timestamp `infinity` (int64 max). */
export const DT_NOEND = INT64_MAX;

function outOfRange(text: string): PgsimError {
  return new PgsimError("datetime-value-out-of-range", `timestamp out of range: "${text}"`, {
    input: text,
  });
}

function coerceTimestamp(sqlName: string, value: unknown): bigint {
  let v: bigint;
  if (typeof value === "bigint") v = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
  else throw datatypeMismatch(sqlName, "a bigint of microseconds since 2000-01-01", value);
  if (v !== DT_NOBEGIN && v !== DT_NOEND && (v < MIN_TIMESTAMP || v >= END_TIMESTAMP)) {
    throw outOfRange(String(v));
  }
  return v;
}

function outputTimestamp(value: bigint, withTimeZone: boolean): string {
  if (value === DT_NOEND) return "infinity";
  if (value === DT_NOBEGIN) return "-infinity";
  return formatTimestamp(value, withTimeZone);
}

function inputTimestamp(text: string, typeName: string, withTimeZone: boolean): bigint {
  const parsed = parseDateTime(text, typeName);
  if (parsed.kind === "infinity") return DT_NOEND;
  if (parsed.kind === "-infinity") return DT_NOBEGIN;
  if (!parsed.hasDate) {
    throw new PgsimError(
      "invalid-datetime-format",
      `invalid input syntax for type ${typeName}: "${text}"`,
    );
  }
  let value = BigInt(parsed.days) * USECS_PER_DAY + parsed.timeOfDay;
  // timestamp ignores a zone in its input; timestamptz converts local time to UTC.
  if (withTimeZone && parsed.offsetSeconds !== undefined) {
    value -= BigInt(parsed.offsetSeconds) * USECS_PER_SEC;
  }
  if (value < MIN_TIMESTAMP || value >= END_TIMESTAMP) throw outOfRange(text);
  return value;
}

/** The `timestamp` (without time zone) type. JS value: `bigint` µs since 2000-01-01. */
export const timestampCodec: FixedLengthCodec<bigint> = {
  kind: "fixed",
  typname: "timestamp",
  sqlName: "timestamp without time zone",
  typlen: 8,
  typbyval: true,
  typalign: "d",
  typstorage: "p",
  coerce: (value) => coerceTimestamp("timestamp without time zone", value),
  read: (bytes, offset) => readBigInt64(bytes, offset),
  write: (bytes, offset, value) => writeBigInt64(bytes, offset, value),
  output: (value) => outputTimestamp(value, false),
  input: (text) => inputTimestamp(text, "timestamp without time zone", false),
};

/** The `timestamptz` (timestamp with time zone) type. JS value: `bigint` µs since 2000-01-01 UTC. */
export const timestamptzCodec: FixedLengthCodec<bigint> = {
  kind: "fixed",
  typname: "timestamptz",
  sqlName: "timestamp with time zone",
  typlen: 8,
  typbyval: true,
  typalign: "d",
  typstorage: "p",
  coerce: (value) => coerceTimestamp("timestamp with time zone", value),
  read: (bytes, offset) => readBigInt64(bytes, offset),
  write: (bytes, offset, value) => writeBigInt64(bytes, offset, value),
  output: (value) => outputTimestamp(value, true),
  input: (text) => inputTimestamp(text, "timestamp with time zone", true),
};
