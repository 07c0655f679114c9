/**
 * date (int32 days since 2000-01-01) and time without time zone (int64 µs since midnight).
 *
 * Models: src/backend/utils/adt/date.c (date_in, date_out, time_in, time_out, DATE_NOBEGIN /
 * DATE_NOEND, IS_VALID_DATE).
 * Entry points: `dateCodec`, `timeCodec`, `DATEVAL_NOBEGIN`, `DATEVAL_NOEND`.
 * See also: datetime.ts (calendar and text forms), timestamp.ts, type-codec.ts.
 *
 * JS values:
 * - date: integer `number`, days since 2000-01-01 (PostgreSQL's DateADT): 0 is 2000-01-01,
 *   -1 is 1999-12-31; `DATEVAL_NOBEGIN` (int32 min) is -infinity and `DATEVAL_NOEND` (int32
 *   max) is infinity. Valid finite dates run from 4714-11-24 BC to 5874897-12-31.
 * - time: `bigint` microseconds since midnight, 0 .. 86400000000 (24:00:00 is allowed).
 * Every stored bit pattern decodes to a value that encodes back to the same bytes (values
 * outside the valid range are printed but rejected on encode).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  readBigInt64,
  readInt32,
  writeBigInt64,
  writeUint32,
} from "../../include/port/le-bytes.js";
import {
  DATE_END_DAYS,
  DATE_MIN_DAYS,
  fieldOutOfRange,
  formatDate,
  formatTimeOfDay,
  parseDateTime,
  USECS_PER_DAY,
} from "./datetime.js";
import { datatypeMismatch, type FixedLengthCodec } from "./type-codec.js";

/** The date `-infinity`. */
export const DATEVAL_NOBEGIN = -2147483648;
/** The date `infinity`. */
export const DATEVAL_NOEND = 2147483647;

function dateOutOfRange(text: string): PgsimError {
  return new PgsimError("datetime-value-out-of-range", `date out of range: "${text}"`, {
    input: text,
  });
}

/** The `date` type. JS value: integer `number` of days since 2000-01-01. */
export const dateCodec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "date",
  sqlName: "date",
  typlen: 4,
  typbyval: true,
  typalign: "i",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw datatypeMismatch("date", "an integer number of days since 2000-01-01", value);
    }
    if (
      value !== DATEVAL_NOBEGIN &&
      value !== DATEVAL_NOEND &&
      (value < DATE_MIN_DAYS || value >= DATE_END_DAYS)
    ) {
      throw dateOutOfRange(String(value));
    }
    return value === 0 ? 0 : value;
  },
  read: (bytes, offset) => readInt32(bytes, offset),
  write: (bytes, offset, value) => writeUint32(bytes, offset, value),
  output(value) {
    if (value === DATEVAL_NOBEGIN) return "-infinity";
    if (value === DATEVAL_NOEND) return "infinity";
    return formatDate(value);
  },
  input(text) {
    const parsed = parseDateTime(text, "date");
    if (parsed.kind === "infinity") return DATEVAL_NOEND;
    if (parsed.kind === "-infinity") return DATEVAL_NOBEGIN;
    if (!parsed.hasDate) throw fieldOutOfRange(text);
    if (parsed.days < DATE_MIN_DAYS || parsed.days >= DATE_END_DAYS) throw dateOutOfRange(text);
    return parsed.days;
  },
};

/** The `time` (time without time zone) type. JS value: `bigint` µs since midnight. */
export const timeCodec: FixedLengthCodec<bigint> = {
  kind: "fixed",
  typname: "time",
  sqlName: "time without time zone",
  typlen: 8,
  typbyval: true,
  typalign: "d",
  typstorage: "p",
  coerce(value) {
    let v: bigint;
    if (typeof value === "bigint") v = value;
    else if (typeof value === "number" && Number.isSafeInteger(value)) v = BigInt(value);
    else
      throw datatypeMismatch(
        "time without time zone",
        "a bigint of microseconds since midnight",
        value,
      );
    if (v < 0n || v > USECS_PER_DAY) {
      throw new PgsimError("datetime-value-out-of-range", "time out of range", {
        value: String(v),
      });
    }
    return v;
  },
  read: (bytes, offset) => readBigInt64(bytes, offset),
  write: (bytes, offset, value) => writeBigInt64(bytes, offset, value),
  output: (value) => formatTimeOfDay(value),
  input(text) {
    const parsed = parseDateTime(text, "time without time zone");
    if (parsed.kind !== "finite" || !parsed.hasTime) {
      throw new PgsimError(
        "invalid-datetime-format",
        `invalid input syntax for type time without time zone: "${text}"`,
      );
    }
    return parsed.timeOfDay;
  },
};
