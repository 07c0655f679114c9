// Data types: stored bytes, text output and text input of each type, checked against bytes and
// text PostgreSQL 15 produced (fixture README tables and rows.json), edge cases, and randomized
// round trips (encode → decode and output → input).

import { PgsimError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex, hexToBytes } from "../src/include/port/le-bytes.js";
import { DATEVAL_NOBEGIN, DATEVAL_NOEND } from "../src/utils/adt/date.js";
import {
  DATE_END_DAYS,
  DATE_MIN_DAYS,
  END_TIMESTAMP,
  MIN_TIMESTAMP,
} from "../src/utils/adt/datetime.js";
import { float4ShortestText, float8ShortestText } from "../src/utils/adt/float.js";
import { decodeDatum, encodeDatum, lookupType, resolveTypeName } from "../src/utils/adt/index.js";
import { INT64_MAX, INT64_MIN } from "../src/utils/adt/int.js";
import { DT_NOBEGIN, DT_NOEND } from "../src/utils/adt/timestamp.js";
import type { Datum, IntervalValue, TypeCodec } from "../src/utils/adt/type-codec.js";

/** Stored bytes of `value` as hex (varlenas with the 1-byte header when it fits). */
function stored(typname: string, value: Datum, typmod = -1): string {
  return bytesToHex(encodeDatum(lookupType(typname), value, { typmod }));
}
/** Text output of the value stored as `hex`. */
function printed(typname: string, hex: string, typmod = -1): string {
  const codec = lookupType(typname);
  return codec.output(decodeDatum(codec, hexToBytes(hex)) as never, typmod);
}
/** Text input, then stored bytes. */
function storedFromText(typname: string, text: string, typmod = -1): string {
  const codec = lookupType(typname);
  return stored(typname, codec.input(text, typmod), typmod);
}
function pgError(fn: () => unknown): PgsimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PgsimError) return error;
    throw error;
  }
  throw new Error("expected a PgsimError");
}

describe("float4 and float8 text output (extra_float_digits = 1)", () => {
  it.each([
    [3.4028234663852886e38, "3.4028235e+38"],
    [1.401298464324817e-45, "1e-45"],
    [-1.1754943508222875e-38, "-1.1754944e-38"],
    [Math.fround(0.1), "0.1"],
    [Math.fround(99.53008), "99.53008"],
    [Math.fround(-486.20386), "-486.20386"],
    [100000, "100000"],
    [123456, "123456"],
    [1000000, "1e+06"],
    [1234567, "1.234567e+06"],
    [16777216, "1.6777216e+07"],
    [Math.fround(0.0001), "0.0001"],
    [Math.fround(0.00001), "1e-05"],
    [-0, "-0"],
    [0, "0"],
    [Number.NaN, "NaN"],
    [Number.POSITIVE_INFINITY, "Infinity"],
    [Number.NEGATIVE_INFINITY, "-Infinity"],
    // Half-way between two binary32 values (see the float8 case 1e23).
    [Math.fround(5.369e8), "5.3689997e+08"],
  ])("float4 %d prints as %s", (value, text) => {
    expect(float4ShortestText(value)).toBe(text);
  });

  it.each([
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [-2.2250738585072014e-308, "-2.2250738585072014e-308"],
    [5e-324, "5e-324"],
    [0.1, "0.1"],
    [1e14, "100000000000000"],
    [1e15, "1e+15"],
    [123456789012345680, "1.2345678901234568e+17"],
    [430757.9709676117, "430757.9709676117"],
    [0.00001, "1e-05"],
    [0.0001, "0.0001"],
    [-0, "-0"],
    // Half-way between two doubles: reads back as this one, but PostgreSQL's Ryu does not
    // accept the bounds of the interval, so it prints a longer decimal.
    [1e23, "9.999999999999999e+22"],
  ])("float8 %d prints as %s", (value, text) => {
    expect(float8ShortestText(value)).toBe(text);
  });

  it("float4 output is the shortest decimal that reads back to the same binary32", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = float4ShortestText(x);
        expect(Object.is(Math.fround(Number(text)), x)).toBe(true);
        // No shorter precision reads back: brute force over toPrecision. A decimal lying
        // exactly half-way to a neighbouring binary32 does not count: PostgreSQL's Ryu does not
        // accept the bounds of the rounding interval (midpoints of binary32 values are exact
        // doubles, so Number() of such a decimal is the midpoint itself).
        const f32 = new Float32Array([x, x]);
        const u32 = new Uint32Array(f32.buffer);
        u32[0] = u32[0]! - 1;
        u32[1] = u32[1]! + 1;
        const midpoints = [(x + f32[0]!) / 2, (x + f32[1]!) / 2];
        let shortest = 9;
        for (let p = 1; p <= 9; p++) {
          const read = Number(x.toPrecision(p));
          if (Object.is(Math.fround(read), x) && !midpoints.includes(read)) {
            shortest = p;
            break;
          }
        }
        const digits = text
          .replace(/^-/, "")
          .replace(/e.*$/, "")
          .replace(".", "")
          .replace(/^0+/, "")
          .replace(/0+$/, "");
        expect(digits.length).toBeLessThanOrEqual(Math.max(shortest, 1));
        // Of the decimals that short, the one closest to the value: the correctly rounded one,
        // ties to an even last digit (toPrecision breaks ties upward, so those are checked
        // apart). Powers of two are skipped: their rounding interval is lopsided, and a farther
        // decimal of that length can be the only one inside it.
        const mantissaBits = new Uint32Array(new Float32Array([x]).buffer)[0]! & 0x7fffff;
        if (x === 0 || mantissaBits === 0) return;
        const longer = x.toPrecision(shortest + 1);
        // (The last digit of the significand: an exponent such as e+5 must not count.)
        const tie = Number(longer) === x && /5$/.test(longer.replace(/e.*$/, ""));
        if (tie) expect(Number(digits[digits.length - 1]) % 2).toBe(0);
        else expect(Number(text)).toBe(Number(x.toPrecision(shortest)));
      }),
      { numRuns: 2000 },
    );
  });

  it("stores the bytes PostgreSQL stores, with the canonical NaN", () => {
    expect(stored("float4", Number.NaN)).toBe("0000c07f");
    expect(stored("float8", Number.NaN)).toBe("000000000000f87f");
    expect(stored("float4", -0)).toBe("00000080");
    expect(stored("float4", 0.1)).toBe("cdcccc3d");
    expect(stored("float8", 0.1)).toBe("9a9999999999b93f");
  });

  it("parses float input, rejecting overflow and underflow like PostgreSQL", () => {
    const float4 = lookupType("float4");
    const float8 = lookupType("float8");
    expect(float4.input("3.4028235e38", -1)).toBe(3.4028234663852886e38);
    expect(float4.input(" -inf ", -1)).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(float8.input("nan", -1))).toBe(true);
    expect(pgError(() => float4.input("1e39", -1)).message).toBe(
      'value "1e39" is out of range for type real',
    );
    expect(pgError(() => float4.input("1e-46", -1)).code).toBe("numeric-value-out-of-range");
    expect(pgError(() => float8.input("1e400", -1)).message).toBe(
      'value "1e400" is out of range for type double precision',
    );
    expect(pgError(() => float8.input("0x10", -1)).message).toBe(
      'invalid input syntax for type double precision: "0x10"',
    );
  });
});

describe("numeric", () => {
  // Examples from the fixture README ("numeric"): text, and attrs hex with the varlena header.
  it.each([
    ["0", "070080"],
    ["0.000", "078081"],
    ["-1.5", "0f80a001008813"],
    ["-12345.6789", "1301a201002909851a"],
    ["1000000000000000000000000000000", "0b07806400"],
    ["0.000001", "0b7e836400"],
    ["1000000", "0b01806400"],
    [`1${"0".repeat(300)}`, "0f00004b000100"],
    [`0.${"0".repeat(69)}1`, "0f4600eeff6400"],
    ["NaN", "0700c0"],
    ["Infinity", "0700d0"],
    ["-Infinity", "0700f0"],
    ["1.500", "0f808101008813"],
  ])("%s is stored as %s and printed back", (text, hex) => {
    expect(storedFromText("numeric", text)).toBe(hex);
    expect(printed("numeric", hex)).toBe(text);
  });

  it("uses a 4-byte header and the long form for the 262-digit value", () => {
    const text = `1${"234567890".repeat(29)}`;
    const hex = storedFromText("numeric", text);
    expect(hex.slice(0, 20)).toBe("30020000000041000c00");
    expect(hex.length / 2).toBe(140);
    expect(printed("numeric", hex)).toBe(text);
  });

  it("rounds to the scale of numeric(p,s) half away from zero", () => {
    const typmod = resolveTypeName("numeric(12,4)").typmod;
    expect(typmod).toBe(786440);
    const numeric = lookupType("numeric");
    expect(numeric.input("12.34565", typmod)).toBe("12.3457");
    expect(numeric.input("-0.00005", typmod)).toBe("-0.0001");
    expect(numeric.input("0.00004", typmod)).toBe("0.0000");
    expect(numeric.input("100", typmod)).toBe("100.0000");
    expect(numeric.coerce(1.5, typmod)).toBe("1.5000");
    expect(stored("numeric", "12.34565", typmod)).toBe(storedFromText("numeric", "12.3457"));
    const negativeScale = resolveTypeName("numeric(5,-2)").typmod;
    expect(numeric.input("12351", negativeScale)).toBe("12400");
  });

  it("rejects values too wide for numeric(p,s) with PostgreSQL's message and detail", () => {
    const typmod = resolveTypeName("numeric(12,4)").typmod;
    const numeric = lookupType("numeric");
    const overflow = pgError(() => numeric.input("123456789", typmod));
    expect(overflow.message).toBe("numeric field overflow");
    expect(overflow.detail).toEqual({
      detail: "A field with precision 12, scale 4 must round to an absolute value less than 10^8.",
    });
    // 99999999.99995 rounds up to 100000000.0000: nine integer digits.
    expect(pgError(() => numeric.input("99999999.99995", typmod)).message).toBe(
      "numeric field overflow",
    );
    expect(pgError(() => numeric.input("Infinity", typmod)).detail).toEqual({
      detail: "A field with precision 12, scale 4 cannot hold an infinite value.",
    });
    expect(numeric.input("NaN", typmod)).toBe("NaN");
  });

  it("keeps the display scale, drops the sign of zero, and accepts exponents", () => {
    const numeric = lookupType("numeric");
    expect(numeric.input("-0.000", -1)).toBe("0.000");
    expect(numeric.input("1.23e-1", -1)).toBe("0.123");
    expect(numeric.input("1.5e3", -1)).toBe("1500");
    expect(numeric.input("  +.5 ", -1)).toBe("0.5");
    expect(pgError(() => numeric.input("1e", -1)).message).toBe(
      'invalid input syntax for type numeric: "1e"',
    );
    expect(pgError(() => numeric.input("1e-20000", -1)).message).toBe(
      "value overflows numeric format",
    );
  });

  it("round-trips canonical decimal strings through storage", () => {
    const canonical = fc
      .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.integer({ min: 0, max: 80 }))
      .map(([negative, unscaled, scale]) => {
        const digits = unscaled.toString().padStart(scale + 1, "0");
        const integer = digits.slice(0, digits.length - scale);
        const text = scale > 0 ? `${integer}.${digits.slice(digits.length - scale)}` : integer;
        return negative && unscaled !== 0n ? `-${text}` : text;
      });
    fc.assert(
      fc.property(canonical, (text) => {
        const codec = lookupType("numeric");
        expect(decodeDatum(codec, encodeDatum(codec, text))).toBe(text);
        expect(codec.input(codec.output(text, -1), -1)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});

describe("character types", () => {
  it("rejects a varchar(n) value that is too long, cutting only trailing spaces", () => {
    const varchar = lookupType("varchar");
    const typmod = resolveTypeName("character varying(3)").typmod;
    expect(typmod).toBe(7);
    const error = pgError(() => varchar.coerce("abcd", typmod));
    expect(error.code).toBe("string-data-right-truncation");
    expect(error.message).toBe("value too long for type character varying(3)");
    expect(pgError(() => encodeDatum(varchar, "日本語!", { typmod })).message).toBe(
      "value too long for type character varying(3)",
    );
    expect(varchar.coerce("abc   ", typmod)).toBe("abc");
    expect(varchar.input("日本語", typmod)).toBe("日本語");
  });

  it("pads char(n) to n characters and keeps the padding when printing", () => {
    const typmod = resolveTypeName("char(4)").typmod;
    expect(stored("bpchar", "ab", typmod)).toBe("0b61622020");
    expect(printed("bpchar", "0b61622020", typmod)).toBe("ab  ");
    expect(lookupType("bpchar").coerce("ñ", typmod)).toBe("ñ   ");
    expect(pgError(() => lookupType("bpchar").coerce("abcde", typmod)).message).toBe(
      "value too long for type character(4)",
    );
    expect(resolveTypeName("character").typmod).toBe(5);
  });

  it("switches to a 4-byte header at 127 payload bytes", () => {
    expect(stored("text", "s".repeat(126)).slice(0, 2)).toBe("ff");
    expect(stored("text", "t".repeat(127)).slice(0, 8)).toBe("0c020000");
    expect(stored("text", "")).toBe("03");
    const plain = encodeDatum(lookupType("text"), "x", { varlenaHeader: "4-byte" });
    expect(bytesToHex(plain)).toBe("1400000078");
    expect(decodeDatum(lookupType("text"), plain)).toBe("x");
  });

  it("rejects text that has no UTF-8 form in PostgreSQL", () => {
    expect(pgError(() => stored("text", "a\u0000b")).message).toBe(
      'invalid byte sequence for encoding "UTF8": 0x00',
    );
    expect(pgError(() => stored("text", "\ud800")).code).toBe("character-not-in-repertoire");
    expect(pgError(() => decodeDatum(lookupType("text"), hexToBytes("07c328"))).message).toBe(
      'invalid byte sequence for encoding "UTF8": 0xc3 0x28',
    );
  });

  it("cuts a name to 63 bytes at a character boundary", () => {
    const name = lookupType("name");
    expect(name.input("é".repeat(40), -1)).toBe("é".repeat(31));
    expect(name.input("x".repeat(70), -1)).toBe("x".repeat(63));
    const bytes = encodeDatum(name, "é".repeat(40));
    expect(bytes.length).toBe(64);
    expect(bytesToHex(bytes)).toBe(`${"c3a9".repeat(31)}0000`);
    expect(stored("name", "")).toBe("00".repeat(64));
    expect(pgError(() => decodeDatum(name, new Uint8Array(64).fill(0x61))).code).toBe(
      "data-corrupted",
    );
  });

  it('stores "char" as one byte and prints high bytes in octal', () => {
    const char = lookupType("char");
    expect(char.input("é", -1)).toBe(0xc3);
    expect(char.output(0xc3, -1)).toBe("\\303");
    expect(char.input("\\377", -1)).toBe(255);
    expect(char.input("", -1)).toBe(0);
    expect(char.output(0, -1)).toBe("");
    expect(char.output(0x41, -1)).toBe("A");
    expect(char.input("\\101", -1)).toBe(0x41);
    expect(stored("char", 0xff)).toBe("ff");
  });

  it("reads and writes bytea in hex and escape formats", () => {
    const bytea = lookupType("bytea");
    expect(bytesToHex(bytea.input("\\x0001027F80ff", -1) as Uint8Array)).toBe("0001027f80ff");
    expect(bytea.output(hexToBytes("deadbeef"), -1)).toBe("\\xdeadbeef");
    expect(bytesToHex(bytea.input("a\\000\\\\b", -1) as Uint8Array)).toBe("61005c62");
    expect(pgError(() => bytea.input("\\x0", -1)).message).toBe(
      "invalid hexadecimal data: odd number of digits",
    );
    expect(stored("bytea", new Uint8Array())).toBe("03");
  });
});

describe("dates and times", () => {
  // Bytes and text from 01-fixed-width-fresh and 11-more-types.
  it.each([
    ["date", "00000000", "2000-01-01"],
    ["date", "ffffffff", "1999-12-31"],
    ["date", "7b9df4ff", "0044-03-15 BC"],
    ["date", "cd97daff", "4713-01-01 BC"],
    ["date", "ffffff7f", "infinity"],
    ["date", "00000080", "-infinity"],
    ["timestamp", "00d046fbe8f91aff", "0044-03-15 12:00:00 BC"],
    ["timestamp", "ff9fb2b35bffff7f", "294276-12-31 23:59:59.999999"],
    ["timestamp", "0120c8c4fea2fcff", "1970-01-01 00:00:00.000001"],
    ["timestamp", "ffffffffffffffff", "1999-12-31 23:59:59.999999"],
    ["timestamptz", "00d046fbe8f91aff", "0044-03-15 12:00:00+00 BC"],
    ["timestamptz", "00a01f41c17c0ffd", "4714-11-24 00:00:00+00 BC"],
    ["timestamptz", "ffffffffffffff7f", "infinity"],
    ["timestamptz", "0000000000000080", "-infinity"],
    ["time", "20bde18b0a000000", "12:34:56.5"],
    ["time", "0060d71d14000000", "24:00:00"],
    ["time", "0100000000000000", "00:00:00.000001"],
  ])("%s %s prints as %s and reads back", (typname, hex, text) => {
    expect(printed(typname, hex)).toBe(text);
    expect(storedFromText(typname, text)).toBe(hex);
  });

  it("applies the input's zone offset to timestamptz and ignores it for timestamp", () => {
    const tz = lookupType("timestamptz");
    const value = tz.input("2001-02-03 04:05:06.123456+05:30", -1);
    expect(tz.output(value, -1)).toBe("2001-02-02 22:35:06.123456+00");
    const ts = lookupType("timestamp");
    expect(ts.output(ts.input("2001-02-03 04:05:06+05:30", -1), -1)).toBe("2001-02-03 04:05:06");
  });

  it("rejects dates that do not exist and values out of range", () => {
    const date = lookupType("date");
    expect(pgError(() => date.input("2023-02-29", -1)).message).toBe(
      'date/time field value out of range: "2023-02-29"',
    );
    expect(pgError(() => date.input("0000-01-01", -1)).code).toBe("datetime-field-overflow");
    expect(pgError(() => date.input("4714-11-23 BC", -1)).message).toBe(
      'date out of range: "4714-11-23 BC"',
    );
    expect(date.input("4714-11-24 BC", -1)).toBe(DATE_MIN_DAYS);
    expect(pgError(() => lookupType("timestamp").input("294277-01-01 00:00:00", -1)).message).toBe(
      'timestamp out of range: "294277-01-01 00:00:00"',
    );
    expect(pgError(() => date.input("yesterday-ish", -1)).code).toBe("invalid-datetime-format");
  });
});

describe("interval", () => {
  // Inputs of 11-more-types' INSERT and the text PostgreSQL printed for them.
  it.each([
    ["0", "00:00:00"],
    ["1 year 2 mons 3 days 04:05:06.789", "1 year 2 mons 3 days 04:05:06.789"],
    ["-1 mons +2 days -00:00:01", "-1 mons +2 days -00:00:01"],
    ["-1 year -2 mons", "-1 years -2 mons"],
    ["1 day -1 second", "1 day -00:00:01"],
    ["-178000000 years", "-178000000 years"],
    ["3 mons 400 days 100:00:00", "3 mons 400 days 100:00:00"],
    ["1.5 months", "1 mon 15 days"],
    ["-0.000001 seconds", "-00:00:00.000001"],
    ["@ 1 hour ago", "-01:00:00"],
    ["P1Y2M3DT4H5M6.7S", "1 year 2 mons 3 days 04:05:06.7"],
    ["-2147483648 days", "-2147483648 days"],
    ["2147483647 mons", "178956970 years 7 mons"],
    ["1 day 2562047788:00:54.775807", "1 day 2562047788:00:54.775807"],
  ])("input %s prints as %s", (text, expected) => {
    const interval = lookupType("interval");
    expect(interval.output(interval.input(text, -1), -1)).toBe(expected);
  });

  it("stores microseconds, days, months as separate fields", () => {
    expect(storedFromText("interval", "1 year 2 mons 3 days 04:05:06.789")).toBe(
      "88ca976c03000000030000000e000000",
    );
    expect(printed("interval", "c0bdf0ffffffffff02000000ffffffff")).toBe(
      "-1 mons +2 days -00:00:01",
    );
    const extreme: IntervalValue = {
      months: -2147483648,
      days: -2147483648,
      microseconds: INT64_MIN,
    };
    const interval = lookupType("interval");
    expect(interval.output(extreme, -1)).toBe(
      "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808",
    );
    expect(interval.input(interval.output(extreme, -1), -1)).toEqual(extreme);
    expect(pgError(() => interval.input("2147483648 days", -1)).message).toBe(
      "interval out of range",
    );
    expect(pgError(() => interval.input("1 fortnight", -1)).code).toBe("invalid-datetime-format");
  });
});

describe("other fixed-length types", () => {
  it("parses and prints booleans as boolin and boolout do", () => {
    const bool = lookupType("bool");
    for (const t of ["t", "TRUE", " yes ", "on", "1", "y"]) expect(bool.input(t, -1)).toBe(true);
    for (const f of ["f", "false", "No", "off", "0", "of"]) expect(bool.input(f, -1)).toBe(false);
    expect(pgError(() => bool.input("o", -1)).message).toBe(
      'invalid input syntax for type boolean: "o"',
    );
    expect(bool.output(true, -1)).toBe("t");
  });

  it("checks integer ranges on input and on encode", () => {
    expect(pgError(() => lookupType("int2").input("32768", -1)).message).toBe(
      'value "32768" is out of range for type smallint',
    );
    expect(pgError(() => lookupType("int4").input("12a", -1)).message).toBe(
      'invalid input syntax for type integer: "12a"',
    );
    expect(pgError(() => stored("int4", 2 ** 31)).message).toBe("integer out of range");
    expect(pgError(() => stored("int4", "1" as never)).code).toBe("datatype-mismatch");
    expect(stored("int8", INT64_MIN)).toBe("0000000000000080");
    expect(lookupType("int8").input(" -9223372036854775808 ", -1)).toBe(INT64_MIN);
    expect(lookupType("oid").input("-1", -1)).toBe(4294967295);
    expect(stored("oid", 2147483648)).toBe("00000080");
  });

  it("normalises uuid input to the canonical form", () => {
    const uuid = lookupType("uuid");
    expect(uuid.input("{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}", -1)).toBe(
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    );
    expect(stored("uuid", "123E4567E89B12D3A456426614174000")).toBe(
      "123e4567e89b12d3a456426614174000",
    );
    expect(pgError(() => uuid.input("123", -1)).message).toBe(
      'invalid input syntax for type uuid: "123"',
    );
  });

  it("resolves SQL type names and rejects unsupported ones", () => {
    expect(resolveTypeName("character varying(40)").typmod).toBe(44);
    expect(resolveTypeName("double precision").codec.typname).toBe("float8");
    expect(resolveTypeName('"char"').codec.typname).toBe("char");
    expect(resolveTypeName("float(24)").codec.typname).toBe("float4");
    expect(pgError(() => resolveTypeName("jsonb")).code).toBe("undefined-object");
    expect(pgError(() => resolveTypeName("int4(3)")).code).toBe("syntax-error");
    expect(pgError(() => resolveTypeName("varchar(0)")).message).toBe(
      "length for type varchar must be at least 1",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized round trips for every type: encode → decode gives the value back, and so does
// text output → text input.

const graphemeText = fc
  .string({ unit: "grapheme", maxLength: 60 })
  .filter((s) => !s.includes("\u0000"));
const utf8Length = (s: string) => new TextEncoder().encode(s).length;

const ARBITRARIES: Array<[string, number, fc.Arbitrary<Datum>]> = [
  ["bool", -1, fc.boolean()],
  ["int2", -1, fc.integer({ min: -32768, max: 32767 })],
  ["int4", -1, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
  ["int8", -1, fc.bigInt({ min: INT64_MIN, max: INT64_MAX })],
  ["oid", -1, fc.integer({ min: 0, max: 0xffffffff })],
  ["float4", -1, fc.float()],
  ["float8", -1, fc.double()],
  ["text", -1, graphemeText],
  ["varchar", 24, graphemeText.map((s) => [...s].slice(0, 20).join(""))],
  [
    "bpchar",
    16,
    fc.string({ unit: "grapheme-ascii", maxLength: 12 }).map((s) => s.padEnd(12, " ")),
  ],
  ["bytea", -1, fc.uint8Array({ maxLength: 300 })],
  ["char", -1, fc.integer({ min: 0, max: 255 })],
  ["name", -1, graphemeText.filter((s) => utf8Length(s) <= 63)],
  [
    "date",
    -1,
    fc.oneof(
      fc.integer({ min: DATE_MIN_DAYS, max: DATE_END_DAYS - 1 }),
      fc.constantFrom(DATEVAL_NOBEGIN, DATEVAL_NOEND),
    ),
  ],
  ["time", -1, fc.bigInt({ min: 0n, max: 86_400_000_000n })],
  [
    "timestamp",
    -1,
    fc.oneof(
      fc.bigInt({ min: MIN_TIMESTAMP, max: END_TIMESTAMP - 1n }),
      fc.constantFrom(DT_NOBEGIN, DT_NOEND),
    ),
  ],
  ["timestamptz", -1, fc.bigInt({ min: MIN_TIMESTAMP, max: END_TIMESTAMP - 1n })],
  [
    "interval",
    -1,
    fc.record({
      months: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      days: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      microseconds: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
    }),
  ],
  ["uuid", -1, fc.uuid()],
  [
    "numeric",
    786440,
    fc.integer({ min: -999999999, max: 999999999 }).map((n) => (n / 10000).toFixed(4)),
  ],
];

function same(codec: TypeCodec, a: unknown, b: Datum): void {
  if (codec.typname === "float4" || codec.typname === "float8") {
    expect(Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b))).toBe(true);
  } else {
    expect(a).toEqual(b);
  }
}

describe.each(ARBITRARIES)("%s round trips", (typname, typmod, arbitrary) => {
  const codec = lookupType(typname);
  it("encode then decode gives the value back, for both varlena header forms", () => {
    fc.assert(
      fc.property(arbitrary, (value) => {
        same(codec, decodeDatum(codec, encodeDatum(codec, value, { typmod })), value);
        const long = encodeDatum(codec, value, { typmod, varlenaHeader: "4-byte" });
        same(codec, decodeDatum(codec, long), value);
      }),
      { numRuns: 300 },
    );
  });

  it("text output then text input gives the value back", () => {
    fc.assert(
      fc.property(arbitrary, (value) => {
        const text = codec.output(value as never, typmod);
        same(codec, codec.input(text, typmod), value);
      }),
      { numRuns: 300 },
    );
  });
});
