/**
 * Little-endian integer reads and writes on a Uint8Array, the byte order of every on-disk field.
 *
 * Models: nothing in PostgreSQL by name; C code reads struct fields in the host's (x86-64,
 * little-endian) byte order, which is what the fixtures and pgsim's files use.
 * Entry points: `readUint16`, `readUint32`, `readInt32`, `readBigInt64`, their `write*`
 * counterparts, and `bytesToHex` / `hexToBytes`.
 * See also: htup-details.ts and types/ (the callers).
 *
 * Plain shifts on bytes rather than a DataView: they need no per-call object and work on any
 * view of any buffer, including a page inside a SharedArrayBuffer.
 */

import { PgsimError } from "@pgsim/clock-sweep";

/** Reads an unsigned 16-bit integer. The caller guarantees `offset + 2 <= bytes.length`. */
export function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] ?? 0) | ((bytes[offset + 1] ?? 0) << 8);
}

/** Reads a signed 16-bit integer. */
export function readInt16(bytes: Uint8Array, offset: number): number {
  return (readUint16(bytes, offset) << 16) >> 16;
}

/** Reads an unsigned 32-bit integer. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return readInt32(bytes, offset) >>> 0;
}

/** Reads a signed 32-bit integer. */
export function readInt32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset] ?? 0) |
    ((bytes[offset + 1] ?? 0) << 8) |
    ((bytes[offset + 2] ?? 0) << 16) |
    ((bytes[offset + 3] ?? 0) << 24)
  );
}

/** Reads a signed 64-bit integer as a bigint. */
export function readBigInt64(bytes: Uint8Array, offset: number): bigint {
  const low = BigInt(readUint32(bytes, offset));
  const high = BigInt(readInt32(bytes, offset + 4));
  return (high << 32n) | low;
}

/** Writes the low 16 bits of `value`. */
export function writeUint16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
}

/** Writes the low 32 bits of `value` (signed or unsigned, the bits are the same). */
export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

/** Writes a 64-bit two's complement integer; `value` must fit in int64. */
export function writeBigInt64(bytes: Uint8Array, offset: number, value: bigint): void {
  const bits = BigInt.asUintN(64, value);
  writeUint32(bytes, offset, Number(bits & 0xffffffffn));
  writeUint32(bytes, offset + 4, Number(bits >> 32n));
}

const HEX_DIGITS = "0123456789abcdef";

/** Lowercase hex of `bytes[start, end)`, two characters per byte. */
export function bytesToHex(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = "";
  for (let i = start; i < end; i++) {
    const b = bytes[i] ?? 0;
    out += HEX_DIGITS[b >> 4]! + HEX_DIGITS[b & 15]!;
  }
  return out;
}

/** Parses an even-length string of hex digits (either case). Throws `invalid-hex` otherwise. */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new PgsimError("invalid-hex", `invalid hexadecimal data: "${hex.slice(0, 40)}"`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
