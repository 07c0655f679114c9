/**
 * The WAL's physical layout: segment files and their names, 8 KB pages with short and long page
 * headers, and the conversion between LSNs and "usable byte positions" (positions that skip page
 * headers), which is how space for records is reserved.
 *
 * Models: src/include/access/xlog_internal.h (XLOG_PAGE_MAGIC, XLogPageHeaderData,
 * XLogLongPageHeaderData, XLP_* flags, XLogSegmentOffset, XLByteToSeg, XLByteToPrevSeg,
 * XLByteInSeg, XLogSegNoOffsetToRecPtr, XLogFileName, XLogFromFileName, IsXLogFileName,
 * XRecOffIsValid, IsValidWalSegSize) and src/backend/access/transam/xlog.c
 * (UsableBytesInSegment, XLogBytePosToRecPtr, XLogBytePosToEndRecPtr, XLogRecPtrToBytePos).
 * Entry points: the constants, `writeXLogPageHeader`, `readXLogPageHeader`, `xlogFileName`,
 * `parseXLogFileName`, `xlByteToSeg`, `xlogSegmentOffset`, `xlogBytePosToRecPtr`,
 * `xlogBytePosToEndRecPtr`, `xlogRecPtrToBytePos`, `AssembledRecord`.
 * See also: xlogdefs.ts (LSNs), xlog.ts (the writer), xlogreader.ts (the reader),
 * docs/reference/postgres-wal.md §1.
 *
 * Layout: every page starts with a 24-byte header (magic 0xD110, info flags, timeline, the
 * page's own LSN, the bytes of a record continued from the previous page, 4 pad bytes); the
 * first page of a segment has a 40-byte long header that adds the system identifier, the segment
 * size and the page size. Records fill the rest of the pages as one byte stream.
 *
 * Byte positions are JavaScript numbers: exact below 2⁵³ bytes (8 PB of WAL), which pgsim
 * asserts. LSNs in and out are bigints.
 */

import { assert, PgsimError } from "@pgsim/clock-sweep";
import {
  readBigInt64,
  readUint16,
  readUint32,
  writeBigInt64,
  writeUint16,
  writeUint32,
} from "../../include/port/le-bytes.js";
import type { TimeLineID, XLogRecPtr } from "./xlogdefs.js";

/** XLOG_PAGE_MAGIC of PostgreSQL 15 (14 is 0xD10D, 16 is 0xD113). */
export const XLOG_PAGE_MAGIC = 0xd110;
/** XLOG_BLCKSZ: the WAL page size. */
export const XLOG_BLCKSZ = 8192;
/** DEFAULT_XLOG_SEG_SIZE: 16 MB. */
export const DEFAULT_XLOG_SEG_SIZE = 16 * 1024 * 1024;
/** WalSegMinSize / WalSegMaxSize: initdb --wal-segsize accepts powers of two from 1 MB to 1 GB. */
export const WAL_SEG_MIN_SIZE = 1024 * 1024;
export const WAL_SEG_MAX_SIZE = 1024 * 1024 * 1024;

/** SizeOfXLogShortPHD: the header of every page but a segment's first. */
export const SizeOfXLogShortPHD = 24;
/** SizeOfXLogLongPHD: the header of a segment's first page. */
export const SizeOfXLogLongPHD = 40;

/** xlp_info: the page begins with the continuation of a record from an earlier page. */
export const XLP_FIRST_IS_CONTRECORD = 0x0001;
/** xlp_info: the page has a long header (first page of a segment). */
export const XLP_LONG_HEADER = 0x0002;
/** xlp_info: no online backup forced full-page writes when the page was initialized. */
export const XLP_BKP_REMOVABLE = 0x0004;
/** xlp_info: the expected continuation of a record was abandoned after recovery. */
export const XLP_FIRST_IS_OVERWRITE_CONTRECORD = 0x0008;
/** Every defined xlp_info bit; any other makes a reader reject the page. */
export const XLP_ALL_FLAGS = 0x000f;

/** Field offsets of XLogPageHeaderData / XLogLongPageHeaderData. */
const XLP_MAGIC_OFFSET = 0;
const XLP_INFO_OFFSET = 2;
const XLP_TLI_OFFSET = 4;
const XLP_PAGEADDR_OFFSET = 8;
const XLP_REM_LEN_OFFSET = 16;
const XLP_SYSID_OFFSET = 24;
const XLP_SEG_SIZE_OFFSET = 32;
const XLP_XLOG_BLCKSZ_OFFSET = 36;

/** A WAL page header; the last three fields only on a long header (XLP_LONG_HEADER). */
export interface XLogPageHeader {
  readonly magic: number;
  readonly info: number;
  readonly tli: TimeLineID;
  /** LSN of the page's first byte. */
  readonly pageAddr: XLogRecPtr;
  /** Bytes of a record continued from the previous page still to come, else 0. */
  readonly remLen: number;
  /** xlp_sysid (long header only). */
  readonly sysid?: bigint;
  /** xlp_seg_size (long header only). */
  readonly segSize?: number;
  /** xlp_xlog_blcksz (long header only). */
  readonly xlogBlcksz?: number;
}

/** The size of the header a page with these flags has. */
export function xlogPageHeaderSize(info: number): number {
  return (info & XLP_LONG_HEADER) !== 0 ? SizeOfXLogLongPHD : SizeOfXLogShortPHD;
}

/**
 * Writes a page header at `bytes[offset]`: 24 bytes, or 40 when `info` has XLP_LONG_HEADER (then
 * sysid, segSize and xlogBlcksz are required). The 4 pad bytes after xlp_rem_len are zeroed.
 */
export function writeXLogPageHeader(bytes: Uint8Array, offset: number, hdr: XLogPageHeader): void {
  writeUint16(bytes, offset + XLP_MAGIC_OFFSET, hdr.magic);
  writeUint16(bytes, offset + XLP_INFO_OFFSET, hdr.info);
  writeUint32(bytes, offset + XLP_TLI_OFFSET, hdr.tli);
  writeBigInt64(bytes, offset + XLP_PAGEADDR_OFFSET, hdr.pageAddr);
  writeUint32(bytes, offset + XLP_REM_LEN_OFFSET, hdr.remLen);
  writeUint32(bytes, offset + XLP_REM_LEN_OFFSET + 4, 0);
  if ((hdr.info & XLP_LONG_HEADER) !== 0) {
    assert(
      hdr.sysid !== undefined && hdr.segSize !== undefined && hdr.xlogBlcksz !== undefined,
      "a long WAL page header needs sysid, segSize and xlogBlcksz",
    );
    writeBigInt64(bytes, offset + XLP_SYSID_OFFSET, hdr.sysid);
    writeUint32(bytes, offset + XLP_SEG_SIZE_OFFSET, hdr.segSize);
    writeUint32(bytes, offset + XLP_XLOG_BLCKSZ_OFFSET, hdr.xlogBlcksz);
  }
}

/** Reads the page header at `bytes[offset]`, long or short as its xlp_info says. No checks. */
export function readXLogPageHeader(bytes: Uint8Array, offset = 0): XLogPageHeader {
  const info = readUint16(bytes, offset + XLP_INFO_OFFSET);
  const short = {
    magic: readUint16(bytes, offset + XLP_MAGIC_OFFSET),
    info,
    tli: readUint32(bytes, offset + XLP_TLI_OFFSET),
    pageAddr: BigInt.asUintN(64, readBigInt64(bytes, offset + XLP_PAGEADDR_OFFSET)),
    remLen: readUint32(bytes, offset + XLP_REM_LEN_OFFSET),
  };
  if ((info & XLP_LONG_HEADER) === 0) return short;
  return {
    ...short,
    sysid: BigInt.asUintN(64, readBigInt64(bytes, offset + XLP_SYSID_OFFSET)),
    segSize: readUint32(bytes, offset + XLP_SEG_SIZE_OFFSET),
    xlogBlcksz: readUint32(bytes, offset + XLP_XLOG_BLCKSZ_OFFSET),
  };
}

/** IsValidWalSegSize: a power of two from 1 MB to 1 GB. */
export function isValidWalSegSize(segSize: number): boolean {
  return (
    Number.isInteger(segSize) &&
    segSize >= WAL_SEG_MIN_SIZE &&
    segSize <= WAL_SEG_MAX_SIZE &&
    (segSize & (segSize - 1)) === 0
  );
}

/** Throws `invalid-wal-segment-size` (PostgreSQL's initdb wording) unless valid. */
export function checkWalSegSize(segSize: number): void {
  if (!isValidWalSegSize(segSize)) {
    throw new PgsimError(
      "invalid-wal-segment-size",
      `WAL segment size must be a power of two between 1 MB and 1 GB, got ${segSize} bytes`,
      { segSize },
    );
  }
}

const TWO_POW_53 = 2 ** 53;
const TWO_POW_53_BIG = BigInt(TWO_POW_53);

/** An LSN as a JavaScript number, asserting it is exact (below 2⁵³). */
export function lsnAsNumber(lsn: XLogRecPtr): number {
  assert(lsn >= 0n && lsn < TWO_POW_53_BIG, "WAL position beyond 2^53 bytes");
  return Number(lsn);
}

/** XLByteToSeg: the segment number holding `lsn`. */
export function xlByteToSeg(lsn: XLogRecPtr, segSize: number): number {
  return Math.floor(lsnAsNumber(lsn) / segSize);
}

/** XLByteToPrevSeg: the segment of the byte before `lsn` (for end pointers). */
export function xlByteToPrevSeg(lsn: XLogRecPtr, segSize: number): number {
  return Math.floor((lsnAsNumber(lsn) - 1) / segSize);
}

/** XLogSegmentOffset: the offset of `lsn` in its segment. */
export function xlogSegmentOffset(lsn: XLogRecPtr, segSize: number): number {
  return lsnAsNumber(lsn) % segSize;
}

/** XLogSegNoOffsetToRecPtr: the LSN at `offset` of segment `segNo`. */
export function xlogSegNoOffsetToRecPtr(
  segNo: number,
  offset: number,
  segSize: number,
): XLogRecPtr {
  return BigInt(segNo * segSize + offset);
}

/** XRecOffIsValid: a record may start at `lsn` only past the page header. */
export function xRecOffIsValid(lsn: XLogRecPtr): boolean {
  return lsnAsNumber(lsn) % XLOG_BLCKSZ >= SizeOfXLogShortPHD;
}

/** Segments per "xlogid" (the middle field of a file name): 2³² / segment size. */
function segmentsPerXLogId(segSize: number): number {
  return 0x100000000 / segSize;
}

const hex8 = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");

/**
 * XLogFileName: `%08X%08X%08X` of the timeline, segNo / segments-per-id, segNo % segments-per-id.
 * With 16 MB segments LSN 0/0175B648 on timeline 1 is in `000000010000000000000001`.
 */
export function xlogFileName(tli: TimeLineID, segNo: number, segSize: number): string {
  const perId = segmentsPerXLogId(segSize);
  return hex8(tli) + hex8(Math.floor(segNo / perId)) + hex8(segNo % perId);
}

/** IsXLogFileName: 24 upper-case hex digits. */
export function isXLogFileName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

/** XLogFromFileName: the timeline and segment number of a segment file name. */
export function parseXLogFileName(
  name: string,
  segSize: number,
): { readonly tli: TimeLineID; readonly segNo: number } {
  if (!isXLogFileName(name)) {
    throw new PgsimError("invalid-wal-file-name", `invalid WAL file name "${name.slice(0, 40)}"`);
  }
  const tli = Number.parseInt(name.slice(0, 8), 16);
  const log = Number.parseInt(name.slice(8, 16), 16);
  const seg = Number.parseInt(name.slice(16, 24), 16);
  return { tli, segNo: log * segmentsPerXLogId(segSize) + seg };
}

/** Usable bytes of a page other than a segment's first (8192 − 24). */
export const UsableBytesInPage = XLOG_BLCKSZ - SizeOfXLogShortPHD;

/** UsableBytesInSegment: the pages' usable bytes, less the long header's extra 16 bytes. */
export function usableBytesInSegment(segSize: number): number {
  return (segSize / XLOG_BLCKSZ) * UsableBytesInPage - (SizeOfXLogLongPHD - SizeOfXLogShortPHD);
}

/**
 * XLogBytePosToRecPtr: the LSN of a record *start* at usable byte position `bytePos`. A position
 * exactly at a page boundary maps past that page's header (a record never starts in a header).
 */
export function xlogBytePosToRecPtr(bytePos: number, segSize: number): XLogRecPtr {
  return BigInt(bytePosToLsn(bytePos, segSize, false));
}

/**
 * XLogBytePosToEndRecPtr: the LSN of a record *end* at `bytePos`. A position exactly at a page
 * boundary maps to the boundary itself (a record may end exactly where a page ends).
 */
export function xlogBytePosToEndRecPtr(bytePos: number, segSize: number): XLogRecPtr {
  return BigInt(bytePosToLsn(bytePos, segSize, true));
}

/**
 * The two conversions above on an LSN held as a number (exact below 2⁵³), for code that keeps
 * positions as numbers on hot paths (the WAL writer): `isEnd` picks XLogBytePosToEndRecPtr.
 */
export function bytePosToLsn(bytePos: number, segSize: number, isEnd: boolean): number {
  assert(
    Number.isInteger(bytePos) && bytePos >= 0 && bytePos < TWO_POW_53,
    "bad WAL byte position",
  );
  const usablePerSeg = usableBytesInSegment(segSize);
  const fullSegs = Math.floor(bytePos / usablePerSeg);
  let bytesLeft = bytePos % usablePerSeg;
  let segOffset: number;
  if (bytesLeft < XLOG_BLCKSZ - SizeOfXLogLongPHD) {
    // On the segment's first page.
    segOffset = isEnd && bytesLeft === 0 ? 0 : bytesLeft + SizeOfXLogLongPHD;
  } else {
    // Past the first page, with its long header.
    segOffset = XLOG_BLCKSZ;
    bytesLeft -= XLOG_BLCKSZ - SizeOfXLogLongPHD;
    const fullPages = Math.floor(bytesLeft / UsableBytesInPage);
    bytesLeft %= UsableBytesInPage;
    segOffset += fullPages * XLOG_BLCKSZ + bytesLeft;
    if (!(isEnd && bytesLeft === 0)) segOffset += SizeOfXLogShortPHD;
  }
  return fullSegs * segSize + segOffset;
}

/**
 * XLogRecPtrToBytePos: the usable byte position of an LSN; the inverse of both conversions
 * above. `lsn` must not point inside a page header (a page boundary is fine).
 */
export function xlogRecPtrToBytePos(lsn: XLogRecPtr, segSize: number): number {
  return lsnToBytePos(lsnAsNumber(lsn), segSize);
}

/** XLogRecPtrToBytePos on an LSN held as a number. */
export function lsnToBytePos(n: number, segSize: number): number {
  const fullSegs = Math.floor(n / segSize);
  const fullPages = Math.floor((n % segSize) / XLOG_BLCKSZ);
  const offset = n % XLOG_BLCKSZ;
  let result = fullSegs * usableBytesInSegment(segSize);
  if (fullPages === 0) {
    if (offset > 0) {
      assert(offset >= SizeOfXLogLongPHD, "LSN inside a long page header");
      result += offset - SizeOfXLogLongPHD;
    }
  } else {
    result += XLOG_BLCKSZ - SizeOfXLogLongPHD + (fullPages - 1) * UsableBytesInPage;
    if (offset > 0) {
      assert(offset >= SizeOfXLogShortPHD, "LSN inside a page header");
      result += offset - SizeOfXLogShortPHD;
    }
  }
  return result;
}

/**
 * A record as XLogRecordAssemble hands it to XLogInsertRecord (xlog_internal.h's XLogRecData
 * chain, here one contiguous array): the bytes and what insertion needs to finish them.
 */
export interface AssembledRecord {
  /**
   * The record, xl_tot_len bytes: xl_tot_len, xl_xid, xl_info and xl_rmid set; xl_prev and
   * xl_crc zero until the record is inserted.
   */
  readonly bytes: Uint8Array;
  /**
   * xl_tot_len when the record is only the first bytes of `bytes` (XLogInsertState.insert
   * assembles into a buffer it reuses); default `bytes.length`.
   */
  readonly length?: number;
  /** The running (unfinished) CRC-32C of bytes [24, xl_tot_len). */
  readonly payloadCrc: number;
  /**
   * The lowest LSN of a page assembled without an image although it was eligible for one (0 if
   * none): if the redo pointer moves past it before insertion, the record must be re-assembled.
   */
  readonly fpwLsn: XLogRecPtr;
  /**
   * Whether full-page writes were on when the record was assembled (XLogInsert's
   * doPageWrites); if they were off and are on at insertion, the record must be re-assembled.
   * Undefined for records not built by XLogRecordAssemble: taken as on.
   */
  readonly doPageWrites?: boolean;
  /** How many full-page images the record carries. */
  readonly numFpi: number;
  /** XLogSetRecordFlags flags. */
  readonly recordFlags: number;
}
