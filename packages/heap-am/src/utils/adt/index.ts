/**
 * The registry of supported data types, type-name resolution, and helpers that turn one value
 * into the bytes stored for it and back.
 *
 * Models: the pg_type catalog lookups (typenameType, format_type) and the typinput / typoutput
 * calls of the executor, reduced to a fixed table of built-in types.
 * Entry points: `lookupType`, `resolveTypeName`, `encodeDatum`, `decodeDatum`, `TYPE_CODECS`.
 * See also: type-codec.ts (the contract), the type modules, tupdesc.ts (the caller).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import {
  varattCanMakeShort,
  varlenaHeaderKind,
  varlenaPayload,
  varsizeAny,
  writeVarlenaHeader,
} from "../../include/varatt.js";
import { boolCodec } from "./bool.js";
import { byteaCodec } from "./bytea.js";
import { charCodec } from "./char.js";
import { dateCodec, timeCodec } from "./date.js";
import { float4Codec, float8Codec } from "./float.js";
import { int2Codec, int4Codec, int8Codec } from "./int.js";
import { intervalCodec } from "./interval.js";
import { nameCodec } from "./name.js";
import { numericCodec } from "./numeric.js";
import { oidCodec } from "./oid.js";
import { bpcharCodec, textCodec, varcharCodec } from "./text.js";
import { timestampCodec, timestamptzCodec } from "./timestamp.js";
import { type Datum, dataCorrupted, type TypeCodec } from "./type-codec.js";
import { uuidCodec } from "./uuid.js";

/** Every supported type, keyed by pg_type.typname. */
export const TYPE_CODECS: ReadonlyMap<string, TypeCodec> = new Map<string, TypeCodec>(
  [
    boolCodec,
    charCodec,
    nameCodec,
    int2Codec,
    int4Codec,
    int8Codec,
    oidCodec,
    float4Codec,
    float8Codec,
    numericCodec,
    textCodec,
    varcharCodec,
    bpcharCodec,
    byteaCodec,
    dateCodec,
    timeCodec,
    timestampCodec,
    timestamptzCodec,
    intervalCodec,
    uuidCodec,
  ].map((codec): [string, TypeCodec] => [codec.typname, codec as TypeCodec]),
);

/** SQL spellings of the supported types, lower case, with the typname each stands for. */
const SQL_TYPE_NAMES: Readonly<Record<string, string>> = {
  boolean: "bool",
  '"char"': "char",
  smallint: "int2",
  integer: "int4",
  int: "int4",
  bigint: "int8",
  real: "float4",
  "double precision": "float8",
  float: "float8",
  decimal: "numeric",
  "character varying": "varchar",
  "char varying": "varchar",
  character: "bpchar",
  "time without time zone": "time",
  "timestamp without time zone": "timestamp",
  "timestamp with time zone": "timestamptz",
};

/**
 * The codec of a type by its pg_type.typname ("int4", "varchar", "bpchar", "char", ...).
 * Throws `undefined-object` for a type pgsim does not support.
 */
export function lookupType(typname: string): TypeCodec {
  const codec = TYPE_CODECS.get(typname);
  if (codec === undefined) {
    throw new PgsimError(
      "undefined-object",
      `type "${typname}" does not exist or is not supported by pgsim`,
      {
        typname,
      },
    );
  }
  return codec;
}

/** A type and its modifier, as a column declares them. */
export interface ResolvedType {
  readonly codec: TypeCodec;
  /** atttypmod: -1 when the type has no modifier. */
  readonly typmod: number;
}

const TYPE_NAME_SYNTAX = /^(.*?)\s*(?:\(\s*([+-]?\d+)\s*(?:,\s*([+-]?\d+)\s*)?\))?$/;

/**
 * Resolves a type as written in SQL or in the catalog: a typname ("int4", "varchar", "bpchar",
 * "char" = the one-byte "char" type), an SQL spelling ("integer", "character varying(40)",
 * "numeric(12,4)", "timestamp with time zone", '"char"'), with an optional modifier.
 * `character` without a length is character(1), as in SQL; `char(n)` is character(n), while a
 * bare `char` is the typname of the one-byte "char" type.
 *
 * @example
 * ```ts
 * resolveTypeName("varchar(40)"); // { codec: varcharCodec, typmod: 44 }
 * resolveTypeName("numeric(12,4)").typmod; // 786440
 * ```
 */
export function resolveTypeName(text: string): ResolvedType {
  const m = TYPE_NAME_SYNTAX.exec(text.trim().replace(/\s+/g, " "));
  const base = (m?.[1] ?? "").toLowerCase();
  // `char(n)` is SQL's character(n); a bare `char` is the typname of the one-byte "char" type.
  const sqlChar = base === "char" && m?.[2] !== undefined;
  const typname = sqlChar ? "bpchar" : TYPE_CODECS.has(base) ? base : SQL_TYPE_NAMES[base];
  if (m === null || typname === undefined) {
    throw new PgsimError(
      "undefined-object",
      `type "${text}" does not exist or is not supported by pgsim`,
      {
        type: text,
      },
    );
  }
  const codec = lookupType(typname);
  const modifiers = [m[2], m[3]].filter((x): x is string => x !== undefined).map(Number);
  if (modifiers.length === 0) {
    return { codec, typmod: base === "character" ? 1 + 4 : -1 };
  }
  if (base === "float") {
    // float(p): 1..24 is real, 25..53 double precision.
    const precision = modifiers[0] ?? 0;
    if (modifiers.length > 1 || precision < 1 || precision > 53) {
      throw new PgsimError(
        "invalid-parameter-value",
        `precision for type float must be between 1 and 53 bits`,
      );
    }
    return { codec: precision <= 24 ? float4Codec : float8Codec, typmod: -1 };
  }
  if (codec.typmodIn === undefined) {
    throw new PgsimError("syntax-error", `type modifier is not allowed for type "${typname}"`, {
      type: text,
    });
  }
  return { codec, typmod: codec.typmodIn(modifiers) };
}

/** Which varlena header `encodeDatum` writes. */
export type VarlenaHeaderChoice = "short-if-fits" | "4-byte";

/**
 * The bytes stored for one value: exactly `typlen` bytes for a fixed-length type; for a varlena,
 * the header and the payload. The value is first coerced (type check and typmod). By default a
 * varlena gets a 1-byte header when the payload has at most 126 bytes, as heap_form_tuple does
 * for any column whose storage is not plain.
 *
 * @example
 * ```ts
 * encodeDatum(lookupType("int4"), 1); // Uint8Array [1, 0, 0, 0]
 * encodeDatum(lookupType("text"), "abc"); // Uint8Array [0x09, 0x61, 0x62, 0x63]
 * ```
 */
export function encodeDatum(
  codec: TypeCodec,
  value: Datum,
  options: { typmod?: number; varlenaHeader?: VarlenaHeaderChoice } = {},
): Uint8Array {
  const typmod = options.typmod ?? -1;
  const coerced = codec.coerce(value, typmod);
  if (codec.kind === "fixed") {
    const out = new Uint8Array(codec.typlen);
    codec.write(out, 0, coerced);
    return out;
  }
  const payload = codec.encodePayload(coerced);
  const short = options.varlenaHeader !== "4-byte" && varattCanMakeShort(payload.length);
  const out = new Uint8Array((short ? 1 : 4) + payload.length);
  const headerBytes = writeVarlenaHeader(out, 0, payload.length, short);
  out.set(payload, headerBytes);
  return out;
}

/**
 * Decodes the bytes stored for one value (as `encodeDatum` produces them, or as a tuple holds
 * them: a varlena with its header). Throws `data-corrupted` when the bytes do not have the
 * type's length, and `toast-not-supported` for compressed or out-of-line values.
 */
export function decodeDatum(codec: TypeCodec, bytes: Uint8Array): Datum {
  if (codec.kind === "fixed") {
    if (bytes.length !== codec.typlen) {
      throw dataCorrupted(
        `a ${codec.typname} value must have ${codec.typlen} bytes, got ${bytes.length}`,
      );
    }
    return codec.read(bytes, 0);
  }
  const total = varsizeAny(bytes, 0, bytes.length);
  if (total !== bytes.length || (varlenaHeaderKind(bytes[0] ?? 0) === "long" && total < 4)) {
    throw dataCorrupted(`varlena header says ${total} bytes, got ${bytes.length}`);
  }
  const payload = varlenaPayload(bytes, 0, total);
  return codec.decodePayload(bytes, payload.offset, payload.length);
}

export type { AttAlign, AttStorage, Datum, IntervalValue, TypeCodec } from "./type-codec.js";
