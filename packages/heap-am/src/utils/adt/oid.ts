/**
 * oid: an unsigned 32-bit object identifier.
 *
 * Models: src/backend/utils/adt/oid.c (oidin, oidout, oidin_subr).
 * Entry points: `oidCodec`.
 * See also: int.ts, type-codec.ts.
 *
 * JS value: integer `number` in 0..4294967295. Every bit pattern is valid; round trips are exact.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readUint32, writeUint32 } from "../../include/port/le-bytes.js";
import {
  datatypeMismatch,
  type FixedLengthCodec,
  invalidInputSyntax,
  trimPgSpace,
  valueOutOfRange,
} from "./type-codec.js";

/** The `oid` type. */
export const oidCodec: FixedLengthCodec<number> = {
  kind: "fixed",
  typname: "oid",
  sqlName: "oid",
  typlen: 4,
  typbyval: true,
  typalign: "i",
  typstorage: "p",
  coerce(value) {
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw datatypeMismatch("oid", "an integer number", value);
    }
    if (value < 0 || value > 0xffffffff) {
      throw new PgsimError("numeric-value-out-of-range", "OID out of range", { value });
    }
    return value === 0 ? 0 : value;
  },
  read: (bytes, offset) => readUint32(bytes, offset),
  write: (bytes, offset, value) => writeUint32(bytes, offset, value),
  output: (value) => String(value),
  input(text) {
    // oidin reads with strtoul, so "-1" is accepted and wraps to 4294967295; values that do not
    // fit 32 bits either way are out of range.
    const trimmed = trimPgSpace(text);
    if (!/^[+-]?[0-9]+$/.test(trimmed)) throw invalidInputSyntax("oid", text);
    const value = BigInt(trimmed);
    if (value < -2147483648n || value > 4294967295n) throw valueOutOfRange("oid", text);
    return Number(BigInt.asUintN(32, value));
  },
};
