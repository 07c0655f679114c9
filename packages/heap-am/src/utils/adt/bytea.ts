/**
 * bytea: a varlena of raw bytes, printed in hex format (bytea_output = 'hex').
 *
 * Models: src/backend/utils/adt/varlena.c (byteain, byteaout), encode.c (hex_decode).
 * Entry points: `byteaCodec`.
 * See also: text.ts, type-codec.ts.
 *
 * JS value: `Uint8Array`. Decoding copies the bytes out of the page, so the value stays valid
 * after the page changes; every byte string round-trips exactly.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { bytesToHex } from "../../include/port/le-bytes.js";
import {
  datatypeMismatch,
  encodeUtf8,
  invalidInputSyntax,
  type VarlenaCodec,
} from "./type-codec.js";

/** Parses the hex format after "\x": digit pairs, whitespace allowed between pairs. */
function parseHexFormat(hex: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < hex.length) {
    const c = hex[i] ?? "";
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const hi = Number.parseInt(c, 16);
    if (Number.isNaN(hi)) {
      throw new PgsimError("invalid-parameter-value", `invalid hexadecimal digit: "${c}"`);
    }
    const c2 = hex[i + 1];
    if (c2 === undefined) {
      throw new PgsimError(
        "invalid-parameter-value",
        "invalid hexadecimal data: odd number of digits",
      );
    }
    const lo = Number.parseInt(c2, 16);
    if (Number.isNaN(lo)) {
      throw new PgsimError("invalid-parameter-value", `invalid hexadecimal digit: "${c2}"`);
    }
    out.push((hi << 4) | lo);
    i += 2;
  }
  return Uint8Array.from(out);
}

/** Parses the escape format: `\ooo` octal bytes, `\\` for a backslash, other text as UTF-8. */
function parseEscapeFormat(text: string): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] !== "\\") {
      const next = text.indexOf("\\", i);
      const end = next < 0 ? text.length : next;
      for (const b of encodeUtf8(text.slice(i, end))) out.push(b);
      i = end;
    } else if (text[i + 1] === "\\") {
      out.push(0x5c);
      i += 2;
    } else if (/^[0-3][0-7][0-7]$/.test(text.slice(i + 1, i + 4))) {
      out.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 4;
    } else {
      throw invalidInputSyntax("bytea", text);
    }
  }
  return Uint8Array.from(out);
}

/** The `bytea` type. JS value: `Uint8Array`. */
export const byteaCodec: VarlenaCodec<Uint8Array> = {
  kind: "varlena",
  typname: "bytea",
  sqlName: "bytea",
  typlen: -1,
  typbyval: false,
  typalign: "i",
  typstorage: "x",
  coerce(value) {
    if (!(value instanceof Uint8Array)) throw datatypeMismatch("bytea", "a Uint8Array", value);
    return value;
  },
  encodePayload: (value) => value,
  decodePayload: (bytes, offset, length) => bytes.slice(offset, offset + length),
  output: (value) => `\\x${bytesToHex(value)}`,
  input: (text) =>
    text.startsWith("\\x") ? parseHexFormat(text.slice(2)) : parseEscapeFormat(text),
};
