/**
 * Reading a stored variable-length value for display: inline values as they are, compressed
 * inline values decompressed (pglz or lz4), out-of-line TOAST pointers decoded into their fields.
 *
 * Models: src/include/varatt.h (in PostgreSQL 15 part of postgres.h: varattrib_4b va_compressed,
 * varatt_external, VARATT_EXTERNAL_GET_EXTSIZE / _GET_COMPRESS_METHOD,
 * VARATT_EXTERNAL_IS_COMPRESSED), access/common/detoast.c (toast_decompress_datum,
 * toast_fetch_datum) and toast_compression.c (the method ids).
 * Entry points: `readStoredVarlena`, `ToastPointer`, `formatToastPointer`.
 * See also: ../varatt.ts (header kinds), ../common/pg-lzcompress.ts, ../common/lz4-decompress.ts,
 * toast.ts (following pointers into a TOAST table's file), rows.ts (the caller).
 *
 * Layouts (little-endian):
 *   compressed inline: 4-byte header (total size << 2 | 0b10), then va_tcinfo: the raw size in
 *     the low 30 bits and the compression method in the top 2 (0 pglz, 1 lz4), then the data.
 *   external: 0x01, the vartag (18 = VARTAG_ONDISK), then varatt_external, 16 unaligned bytes:
 *     va_rawsize (int32, original size with its 4-byte header), va_extinfo (stored size in the
 *     low 30 bits, compression method in the top 2), va_valueid (the chunk_id in the TOAST table),
 *     va_toastrelid (the OID of the TOAST table).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { lz4DecompressDatum } from "../common/lz4-decompress.js";
import { pglzDecompressDatum } from "../common/pg-lzcompress.js";
import { readInt32, readUint32 } from "../include/port/le-bytes.js";
import {
  VARHDRSZ,
  VARHDRSZ_EXTERNAL,
  VARLENA_MAX_SIZE,
  VARTAG_ONDISK,
  varlenaHeaderKind,
} from "../include/varatt.js";

/** TOAST compression method ids (toast_compression.h ToastCompressionId). */
export const TOAST_PGLZ_COMPRESSION_ID = 0;
export const TOAST_LZ4_COMPRESSION_ID = 1;

/** Bytes before the data of a compressed inline value: header and va_tcinfo. */
export const VARHDRSZ_COMPRESSED = 8;

/** The name of a compression method id, as pg_column_compression prints it. */
export function compressionMethodName(id: number): "pglz" | "lz4" {
  if (id === TOAST_PGLZ_COMPRESSION_ID) return "pglz";
  if (id === TOAST_LZ4_COMPRESSION_ID) return "lz4";
  throw new PgsimError("data-corrupted", `invalid compression method id ${id}`, { id });
}

/** An out-of-line value's pointer (varatt_external), with PostgreSQL's field names. */
export interface ToastPointer {
  /** The original value's size, its 4-byte header included. */
  readonly va_rawsize: number;
  /** The bytes stored in the TOAST table (compressed or not), without header. */
  readonly va_extsize: number;
  /** How the stored bytes are compressed; null when they are not (extsize = rawsize - 4). */
  readonly compression: "pglz" | "lz4" | null;
  /** The chunk_id of the value's rows in the TOAST table. */
  readonly va_valueid: number;
  /** The OID of the TOAST table (pg_class.reltoastrelid of the table). */
  readonly va_toastrelid: number;
}

/** A stored variable-length value, as far as it can be read from the tuple alone. */
export type StoredVarlena =
  | { readonly kind: "inline"; readonly payload: Uint8Array }
  | {
      readonly kind: "compressed";
      readonly method: "pglz" | "lz4";
      /** The compressed bytes stored in the tuple (without the 8-byte header). */
      readonly storedBytes: number;
      /** The decompressed payload. */
      readonly payload: Uint8Array;
    }
  | { readonly kind: "external"; readonly pointer: ToastPointer };

/**
 * Decompresses the compressed bytes of a TOAST value (toast_decompress_datum): `rawSize` bytes
 * by method `method`. Throws `data-corrupted` with PostgreSQL's messages.
 */
export function decompressToastBytes(
  method: "pglz" | "lz4",
  compressed: Uint8Array,
  rawSize: number,
): Uint8Array {
  return method === "pglz"
    ? pglzDecompressDatum(compressed, rawSize)
    : lz4DecompressDatum(compressed, rawSize);
}

/**
 * Reads the varlena at `bytes[offset, offset + length)` (its total stored size, header
 * included, as heapAttributeSpans reports it). Throws `data-corrupted` for a compressed value
 * whose data is corrupt or whose method is unknown, and for an external pointer whose tag cannot
 * appear on disk.
 */
export function readStoredVarlena(
  bytes: Uint8Array,
  offset: number,
  length: number,
): StoredVarlena {
  const kind = varlenaHeaderKind(bytes[offset] ?? 0);
  switch (kind) {
    case "short":
      return { kind: "inline", payload: bytes.subarray(offset + 1, offset + length) };
    case "long":
      return { kind: "inline", payload: bytes.subarray(offset + VARHDRSZ, offset + length) };
    case "compressed": {
      if (length < VARHDRSZ_COMPRESSED) {
        throw new PgsimError("data-corrupted", `compressed value of ${length} bytes is too short`);
      }
      const tcinfo = readUint32(bytes, offset + VARHDRSZ);
      const rawSize = tcinfo & VARLENA_MAX_SIZE;
      const method = compressionMethodName(tcinfo >>> 30);
      const stored = bytes.subarray(offset + VARHDRSZ_COMPRESSED, offset + length);
      return {
        kind: "compressed",
        method,
        storedBytes: stored.length,
        payload: decompressToastBytes(method, stored, rawSize),
      };
    }
    case "external": {
      const tag = bytes[offset + 1] ?? 0;
      if (tag !== VARTAG_ONDISK || length < VARHDRSZ_EXTERNAL + 16) {
        throw new PgsimError(
          "data-corrupted",
          `unexpected TOAST pointer tag ${tag} on disk (only VARTAG_ONDISK, 18, is stored)`,
          { tag },
        );
      }
      const p = offset + VARHDRSZ_EXTERNAL;
      const rawsize = readInt32(bytes, p);
      const extinfo = readUint32(bytes, p + 4);
      const extsize = extinfo & VARLENA_MAX_SIZE;
      // VARATT_EXTERNAL_IS_COMPRESSED: stored smaller than the raw data.
      const compressed = extsize < rawsize - VARHDRSZ;
      return {
        kind: "external",
        pointer: {
          va_rawsize: rawsize,
          va_extsize: extsize,
          compression: compressed ? compressionMethodName(extinfo >>> 30) : null,
          va_valueid: readUint32(bytes, p + 8),
          va_toastrelid: readUint32(bytes, p + 12),
        },
      };
    }
  }
}

/** A TOAST pointer in words, for text output. */
export function formatToastPointer(pointer: ToastPointer): string {
  return (
    `(TOAST pointer: va_valueid ${pointer.va_valueid}, va_toastrelid ${pointer.va_toastrelid}, ` +
    `va_rawsize ${pointer.va_rawsize}, va_extsize ${pointer.va_extsize}, ` +
    `${pointer.compression ?? "not compressed"})`
  );
}
