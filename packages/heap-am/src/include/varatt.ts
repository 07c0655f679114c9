/**
 * Varlena headers: how a variable-length value's first byte says how long it is and whether it is
 * stored inline, compressed, or as a TOAST pointer.
 *
 * Models: src/include/varatt.h (in PostgreSQL 15 still part of postgres.h): VARATT_IS_1B,
 * VARATT_IS_1B_E, VARATT_IS_4B_U, VARATT_IS_4B_C, VARSIZE_ANY, SET_VARSIZE, SET_VARSIZE_SHORT,
 * VARATT_CAN_MAKE_SHORT, VARTAG_SIZE.
 * Entry points: `varsizeAny`, `varlenaHeaderKind`, `varlenaPayload`, `writeVarlenaHeader`.
 * See also: heaptuple.ts (decides between the 1-byte and 4-byte forms when forming a tuple),
 * types/ (the payloads).
 *
 * Little-endian layouts, judged from the first byte b0:
 *   xxxxxx00  4-byte header, uncompressed; total length = u32 >> 2 (header included)
 *   xxxxxx10  4-byte header, compressed inline (pglz / lz4)
 *   00000001  1-byte header of an external TOAST pointer; the next byte is the vartag
 *   xxxxxxx1  1-byte ("short") header; total length = b0 >> 1, 1..127 (header included)
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { readUint32, writeUint32 } from "./port/le-bytes.js";

/** Bytes of a 4-byte varlena header. */
export const VARHDRSZ = 4;
/** Bytes of a 1-byte varlena header. */
export const VARHDRSZ_SHORT = 1;
/** Largest total length (header included) a 1-byte header can express. */
export const VARATT_SHORT_MAX = 0x7f;
/** Largest total length a 4-byte header can express (30 bits). */
export const VARLENA_MAX_SIZE = 0x3fffffff;
/** Bytes before the data of an external TOAST pointer: the 0x01 byte and the vartag. */
export const VARHDRSZ_EXTERNAL = 2;

/** vartag values of external pointers. Only ONDISK can appear in a table file. */
export const VARTAG_INDIRECT = 1;
export const VARTAG_EXPANDED_RO = 2;
export const VARTAG_EXPANDED_RW = 3;
export const VARTAG_ONDISK = 18;

/** What the first byte of a varlena says about it. */
export type VarlenaHeaderKind = "short" | "long" | "compressed" | "external";

/** Classifies a varlena by its first byte. */
export function varlenaHeaderKind(b0: number): VarlenaHeaderKind {
  if ((b0 & 0x01) === 0x01) return b0 === 0x01 ? "external" : "short";
  return (b0 & 0x03) === 0x02 ? "compressed" : "long";
}

/**
 * Whether a value whose payload has `payloadBytes` bytes can take a 1-byte header
 * (VARATT_CAN_MAKE_SHORT): header plus payload must fit in 127 bytes.
 */
export function varattCanMakeShort(payloadBytes: number): boolean {
  return payloadBytes + VARHDRSZ_SHORT <= VARATT_SHORT_MAX;
}

/**
 * VARSIZE_ANY: the total bytes the varlena at `offset` occupies, header included, or -1 when
 * the header itself does not fit in `bytes[offset, end)` or names an unknown TOAST pointer tag.
 * The caller checks that the returned length fits before `end`.
 */
export function varsizeAny(bytes: Uint8Array, offset: number, end: number): number {
  if (offset >= end) return -1;
  const b0 = bytes[offset] ?? 0;
  if ((b0 & 0x01) === 0x01) {
    if (b0 !== 0x01) return b0 >>> 1;
    if (offset + 1 >= end) return -1;
    const size = vartagSize(bytes[offset + 1] ?? 0);
    return size < 0 ? -1 : VARHDRSZ_EXTERNAL + size;
  }
  if (offset + VARHDRSZ > end) return -1;
  return (readUint32(bytes, offset) >>> 2) & VARLENA_MAX_SIZE;
}

/**
 * Bytes of the pointer that follows an external varlena's tag (VARTAG_SIZE), -1 for an unknown
 * tag. Differs from PostgreSQL: the in-memory tags (indirect, expanded) are given their x86-64
 * pointer size so that a corrupt file is stepped over consistently; they never occur on disk.
 */
function vartagSize(tag: number): number {
  switch (tag) {
    case VARTAG_ONDISK:
      return 16;
    case VARTAG_INDIRECT:
    case VARTAG_EXPANDED_RO:
    case VARTAG_EXPANDED_RW:
      return 8;
    default:
      return -1;
  }
}

/** Offset and length of an inline, uncompressed varlena's payload. */
export interface VarlenaPayload {
  readonly offset: number;
  readonly length: number;
}

/**
 * Locates the payload of the varlena occupying `bytes[offset, offset + totalLength)`.
 * Compressed and external values are rejected with `toast-not-supported`: pgsim has no TOAST.
 */
export function varlenaPayload(
  bytes: Uint8Array,
  offset: number,
  totalLength: number,
): VarlenaPayload {
  const kind = varlenaHeaderKind(bytes[offset] ?? 0);
  if (kind === "short") return { offset: offset + 1, length: totalLength - 1 };
  if (kind === "long") return { offset: offset + VARHDRSZ, length: totalLength - VARHDRSZ };
  throw new PgsimError(
    "toast-not-supported",
    kind === "external"
      ? "cannot read an out-of-line (TOAST) value: pgsim does not support TOAST yet"
      : "cannot read a compressed value: pgsim does not support TOAST compression yet",
    { kind },
  );
}

/**
 * Writes a varlena header for a payload of `payloadBytes` bytes and returns the header's size:
 * a 1-byte header when `short` (the caller checked `varattCanMakeShort`), else a 4-byte one.
 */
export function writeVarlenaHeader(
  bytes: Uint8Array,
  offset: number,
  payloadBytes: number,
  short: boolean,
): number {
  if (short) {
    bytes[offset] = ((payloadBytes + VARHDRSZ_SHORT) << 1) | 0x01;
    return VARHDRSZ_SHORT;
  }
  writeUint32(bytes, offset, (payloadBytes + VARHDRSZ) * 4);
  return VARHDRSZ;
}
