/**
 * The WAL record format: the 24-byte XLogRecord header, the block reference headers, full-page
 * image headers and main-data headers that follow it, and their flag bits.
 *
 * Models: src/include/access/xlogrecord.h (XLogRecord, XLR_INFO_MASK, XLR_RMGR_INFO_MASK,
 * XLR_SPECIAL_REL_UPDATE, XLR_CHECK_CONSISTENCY, XLogRecordBlockHeader, BKPBLOCK_*,
 * XLogRecordBlockImageHeader, BKPIMAGE_*, XLogRecordBlockCompressHeader,
 * XLogRecordDataHeaderShort / Long, XLR_BLOCK_ID_*, XLR_MAX_BLOCK_ID).
 * Entry points: the constants, `XLogRecordHeader`, `readXLogRecordHeader`,
 * `writeXLogRecordHeader`.
 * See also: xloginsert.ts (assembles records), xlogreader.ts (decodes them),
 * docs/reference/postgres-wal.md §2.1, §3.
 *
 * A record, as one byte string (page headers it crosses are not part of it):
 *
 *     XLogRecord (24 bytes)
 *     block headers, ascending block id: 4 bytes [+ 5 image header [+ 2 hole length]]
 *                                        [+ 12 RelFileNode unless SAME_REL] + 4 block number
 *     [main-data header: 0xFF + u8 length, or 0xFE + u32 length]
 *     per block: image bytes, then block data
 *     main data
 *
 * Nothing after the 24-byte header is aligned; all integers are little-endian.
 */

import {
  readBigInt64,
  readUint32,
  writeBigInt64,
  writeUint32,
} from "../../include/port/le-bytes.js";
import type { XLogRecPtr } from "./xlogdefs.js";

/** SizeOfXLogRecord. */
export const SizeOfXLogRecord = 24;
/** offsetof(XLogRecord, xl_crc): the CRC covers the header bytes before it. */
export const XL_CRC_OFFSET = 20;

/** xl_info bits the WAL machinery owns; the rest (XLR_RMGR_INFO_MASK) is the rmgr's opcode. */
export const XLR_INFO_MASK = 0x0f;
export const XLR_RMGR_INFO_MASK = 0xf0;
/** The record changes relation files outside its block references (smgr create/truncate, drops). */
export const XLR_SPECIAL_REL_UPDATE = 0x01;
/** wal_consistency_checking: every block carries an image to compare after redo. */
export const XLR_CHECK_CONSISTENCY = 0x02;

/** XLR_MAX_BLOCK_ID: block ids 0..32. */
export const XLR_MAX_BLOCK_ID = 32;
/** Main data of at most 255 bytes: 0xFF + one length byte. */
export const XLR_BLOCK_ID_DATA_SHORT = 255;
/** Longer main data: 0xFE + a 4-byte length. */
export const XLR_BLOCK_ID_DATA_LONG = 254;
/** Replication origin: 0xFD + u16 RepOriginId. */
export const XLR_BLOCK_ID_ORIGIN = 253;
/** Top-level xid of a subtransaction (wal_level=logical): 0xFC + u32. */
export const XLR_BLOCK_ID_TOPLEVEL_XID = 252;

/** SizeOfXLogRecordBlockHeader: id, fork_flags, data_length. */
export const SizeOfXLogRecordBlockHeader = 4;
/** SizeOfXLogRecordBlockImageHeader: length, hole_offset, bimg_info. */
export const SizeOfXLogRecordBlockImageHeader = 5;
/** SizeOfXLogRecordBlockCompressHeader: hole_length (compressed images with a hole only). */
export const SizeOfXLogRecordBlockCompressHeader = 2;
/** sizeof(RelFileNode): spcNode, dbNode, relNode. */
export const SizeOfRelFileNode = 12;
/** SizeOfXLogRecordDataHeaderShort / Long. */
export const SizeOfXLogRecordDataHeaderShort = 2;
export const SizeOfXLogRecordDataHeaderLong = 5;

/** fork_flags: the low 4 bits are the fork number. */
export const BKPBLOCK_FORK_MASK = 0x0f;
/** fork_flags: an image header follows and image bytes are in the payload. */
export const BKPBLOCK_HAS_IMAGE = 0x10;
/** fork_flags: data_length bytes of block data are in the payload. */
export const BKPBLOCK_HAS_DATA = 0x20;
/** fork_flags: redo re-initializes the page (the caller registered REGBUF_WILL_INIT). */
export const BKPBLOCK_WILL_INIT = 0x40;
/** fork_flags: the RelFileNode is omitted, the same as the previous block header's. */
export const BKPBLOCK_SAME_REL = 0x80;

/** bimg_info: the hole [hole_offset, hole_offset + hole_length) is not stored. */
export const BKPIMAGE_HAS_HOLE = 0x01;
/** bimg_info: redo restores the image (clear: present only for consistency checking). */
export const BKPIMAGE_APPLY = 0x02;
/** bimg_info: the image bytes are compressed with pglz, lz4 or zstd. */
export const BKPIMAGE_COMPRESS_PGLZ = 0x04;
export const BKPIMAGE_COMPRESS_LZ4 = 0x08;
export const BKPIMAGE_COMPRESS_ZSTD = 0x10;
/** Any compression bit (BKPIMAGE_COMPRESSED). */
export const BKPIMAGE_COMPRESSED_MASK =
  BKPIMAGE_COMPRESS_PGLZ | BKPIMAGE_COMPRESS_LZ4 | BKPIMAGE_COMPRESS_ZSTD;

/** The fixed header of a record. */
export interface XLogRecordHeader {
  /** Total length: header, block headers, data headers and payload; no page headers, no padding. */
  readonly totLen: number;
  /** Transaction id, 0 if none. */
  readonly xid: number;
  /** Start LSN of the previous record (0 only for the very first). */
  readonly prev: XLogRecPtr;
  /** High nibble: the rmgr's opcode; low nibble: XLR_INFO_MASK bits. */
  readonly info: number;
  readonly rmid: number;
  readonly crc: number;
}

/** Reads the 24-byte header at `bytes[offset]`. No checks. */
export function readXLogRecordHeader(bytes: Uint8Array, offset = 0): XLogRecordHeader {
  return {
    totLen: readUint32(bytes, offset),
    xid: readUint32(bytes, offset + 4),
    prev: BigInt.asUintN(64, readBigInt64(bytes, offset + 8)),
    info: bytes[offset + 16]!,
    rmid: bytes[offset + 17]!,
    crc: readUint32(bytes, offset + 20),
  };
}

/** Writes a 24-byte header at `bytes[offset]`, with the two pad bytes (18, 19) zero. */
export function writeXLogRecordHeader(
  bytes: Uint8Array,
  offset: number,
  hdr: XLogRecordHeader,
): void {
  writeUint32(bytes, offset, hdr.totLen);
  writeUint32(bytes, offset + 4, hdr.xid);
  writeBigInt64(bytes, offset + 8, hdr.prev);
  bytes[offset + 16] = hdr.info;
  bytes[offset + 17] = hdr.rmid;
  bytes[offset + 18] = 0;
  bytes[offset + 19] = 0;
  writeUint32(bytes, offset + 20, hdr.crc);
}
