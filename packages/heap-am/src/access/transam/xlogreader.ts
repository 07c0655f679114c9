/**
 * Reading WAL back: decoding one record's block references, images and main data, restoring a
 * full-page image, and reading records in order from the segment files of a `pg_wal/`
 * directory — validating page headers, reassembling records that cross pages, checking the
 * prev-link and the CRC — until the end of valid WAL.
 *
 * Models: src/backend/access/transam/xlogreader.c (XLogBeginRead, XLogReadRecord /
 * XLogDecodeNextRecord, XLogFindNextRecord, ReadPageInternal, XLogReaderValidatePageHeader,
 * ValidXLogRecordHeader, ValidXLogRecord, DecodeXLogRecord, RestoreBlockImage) with
 * pg_waldump's WALDumpReadPage (pages from segment files by name) and XLogRecGetLen.
 * Entry points: `decodeXLogRecord`, `validXLogRecord`, `restoreBlockImage`, `xlogRecGetLen`,
 * `XLogReader` (`beginRead`, `findNextRecord`, `readRecord`, `readAll`).
 * See also: xloginsert.ts (the writer side of the format), xlog.ts,
 * docs/reference/postgres-wal.md §1.6, §3, §10.2–10.3.
 *
 * Errors carry PostgreSQL's messages. Decoding a record given as bytes throws a PgsimError;
 * the sequential reader returns null at the first record that fails a check and keeps the
 * error (`reader.error`), because in recovery that is how the end of the WAL is found (§10.3).
 *
 * Differs from PostgreSQL: no read-ahead decode queue (records are decoded one at a time), no
 * XLP_FIRST_IS_OVERWRITE_CONTRECORD restart (pgsim never writes such pages yet: the reader
 * reports the missing continuation instead), no compressed images (pgsim does not compress;
 * `restoreBlockImage` refuses one with `wal-image-compressed`).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { RelFileLocator } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { readUint16, readUint32 } from "../../include/port/le-bytes.js";
import { crc32cFinish, crc32cUpdate, INIT_CRC32C } from "../../include/port/pg-crc32c.js";
import { XLOG_SWITCH } from "./pg-control.js";
import { RM_XLOG_ID, rmgrIdIsValid } from "./rmgr.js";
import {
  isValidWalSegSize,
  lsnAsNumber,
  readXLogPageHeader,
  XLOG_BLCKSZ,
  XLOG_PAGE_MAGIC,
  XLP_ALL_FLAGS,
  XLP_FIRST_IS_CONTRECORD,
  XLP_LONG_HEADER,
  xlogFileName,
  xlogPageHeaderSize,
} from "./xlog-internal.js";
import { formatLsn, type TimeLineID, type XLogRecPtr } from "./xlogdefs.js";
import {
  BKPBLOCK_FORK_MASK,
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BKPBLOCK_WILL_INIT,
  BKPIMAGE_APPLY,
  BKPIMAGE_COMPRESS_LZ4,
  BKPIMAGE_COMPRESS_PGLZ,
  BKPIMAGE_COMPRESSED_MASK,
  BKPIMAGE_HAS_HOLE,
  readXLogRecordHeader,
  SizeOfXLogRecord,
  XL_CRC_OFFSET,
  type XLogRecordHeader,
  XLR_BLOCK_ID_DATA_LONG,
  XLR_BLOCK_ID_DATA_SHORT,
  XLR_BLOCK_ID_ORIGIN,
  XLR_BLOCK_ID_TOPLEVEL_XID,
  XLR_INFO_MASK,
  XLR_MAX_BLOCK_ID,
} from "./xlogrecord.js";

const BLCKSZ = 8192;

/** A full-page image as stored in a record. */
export interface DecodedBlockImage {
  /** bimg_len: bytes stored (the page less its hole, or compressed). */
  readonly length: number;
  readonly holeOffset: number;
  readonly holeLength: number;
  readonly bimgInfo: number;
  /** BKPIMAGE_APPLY: redo restores it. */
  readonly apply: boolean;
  /** The stored bytes (a view into the record). */
  readonly bytes: Uint8Array;
}

/** DecodedBkpBlock: one block reference of a record. */
export interface DecodedBkpBlock {
  readonly id: number;
  readonly rel: RelFileLocator;
  readonly fork: number;
  readonly block: number;
  /** fork_flags as stored. */
  readonly flags: number;
  readonly willInit: boolean;
  readonly image: DecodedBlockImage | null;
  /** The block's data (empty when it has none; a view into the record). */
  readonly data: Uint8Array;
}

/** A decoded record. */
export interface DecodedXLogRecord {
  /** ReadRecPtr: where the record starts (0 when decoded from bytes alone). */
  readonly lsn: XLogRecPtr;
  /** EndRecPtr: where the next record starts (0 when decoded from bytes alone). */
  readonly endLsn: XLogRecPtr;
  readonly header: XLogRecordHeader;
  /** Block references by block id (gaps allowed), in id order. */
  readonly blocks: readonly DecodedBkpBlock[];
  readonly mainData: Uint8Array;
  /** XLR_BLOCK_ID_ORIGIN, if present. */
  readonly recordOrigin?: number;
  /** XLR_BLOCK_ID_TOPLEVEL_XID, if present. */
  readonly toplevelXid?: number;
  /** The whole record (reassembled across pages). */
  readonly bytes: Uint8Array;
}

function invalidRecord(message: string, lsn: XLogRecPtr): PgsimError {
  return new PgsimError("invalid-wal-record", message, { lsn });
}

/**
 * ValidXLogRecord: throws `wal-bad-crc` ("incorrect resource manager data checksum in record
 * at …") unless xl_crc is the CRC-32C of the payload followed by the first 20 header bytes
 * (`invalid-wal-record` when `bytes` is shorter than its xl_tot_len).
 */
export function validXLogRecord(bytes: Uint8Array, lsn: XLogRecPtr = 0n): void {
  const totLen = bytes.length >= SizeOfXLogRecord ? readUint32(bytes, 0) : 0;
  if (totLen < SizeOfXLogRecord || totLen > bytes.length) {
    throw invalidRecord(`record with invalid length at ${formatLsn(lsn)}`, lsn);
  }
  let crc = crc32cUpdate(INIT_CRC32C, bytes, SizeOfXLogRecord, totLen);
  crc = crc32cFinish(crc32cUpdate(crc, bytes, 0, XL_CRC_OFFSET));
  if (crc !== readUint32(bytes, XL_CRC_OFFSET)) {
    throw new PgsimError(
      "wal-bad-crc",
      `incorrect resource manager data checksum in record at ${formatLsn(lsn)}`,
      { lsn },
    );
  }
}

/**
 * DecodeXLogRecord: splits a whole record (as reassembled, `xl_tot_len` bytes) into its block
 * references, images and main data, with PostgreSQL's consistency checks. Throws
 * `invalid-wal-record` with PostgreSQL's message on malformed input. Does not check the CRC
 * (`validXLogRecord` does).
 */
export function decodeXLogRecord(
  bytes: Uint8Array,
  lsn: XLogRecPtr = 0n,
  endLsn: XLogRecPtr = 0n,
): DecodedXLogRecord {
  if (bytes.length < SizeOfXLogRecord) {
    throw invalidRecord(
      `invalid record length at ${formatLsn(lsn)}: wanted ${SizeOfXLogRecord}, got ${bytes.length}`,
      lsn,
    );
  }
  const header = readXLogRecordHeader(bytes, 0);
  if (header.totLen < SizeOfXLogRecord || header.totLen > bytes.length) {
    throw invalidRecord(
      header.totLen < SizeOfXLogRecord
        ? `invalid record length at ${formatLsn(lsn)}: wanted ${SizeOfXLogRecord}, got ${header.totLen}`
        : `record with invalid length at ${formatLsn(lsn)}`,
      lsn,
    );
  }
  const rec = bytes.subarray(0, header.totLen);
  const shortData = () => invalidRecord(`record with invalid length at ${formatLsn(lsn)}`, lsn);

  interface BlockHeader {
    id: number;
    flags: number;
    dataLen: number;
    image: { length: number; holeOffset: number; holeLength: number; bimgInfo: number } | null;
    rel: RelFileLocator;
    block: number;
  }
  const headers: BlockHeader[] = [];
  let p = SizeOfXLogRecord;
  let remaining = header.totLen - SizeOfXLogRecord;
  let dataTotal = 0;
  let mainDataLen = 0;
  let maxBlockId = -1;
  let prevRel: RelFileLocator | null = null;
  let recordOrigin: number | undefined;
  let toplevelXid: number | undefined;
  const take = (n: number): number => {
    if (remaining < n) throw shortData();
    const at = p;
    p += n;
    remaining -= n;
    return at;
  };
  while (remaining > dataTotal) {
    const blockId = rec[take(1)]!;
    if (blockId === XLR_BLOCK_ID_DATA_SHORT) {
      mainDataLen = rec[take(1)]!;
      dataTotal += mainDataLen;
      break; // the main-data header is always last
    }
    if (blockId === XLR_BLOCK_ID_DATA_LONG) {
      mainDataLen = readUint32(rec, take(4));
      dataTotal += mainDataLen;
      break;
    }
    if (blockId === XLR_BLOCK_ID_ORIGIN) {
      recordOrigin = readUint16(rec, take(2));
      continue;
    }
    if (blockId === XLR_BLOCK_ID_TOPLEVEL_XID) {
      toplevelXid = readUint32(rec, take(4));
      continue;
    }
    if (blockId > XLR_MAX_BLOCK_ID) {
      throw invalidRecord(`invalid block_id ${blockId} at ${formatLsn(lsn)}`, lsn);
    }
    if (blockId <= maxBlockId) {
      throw invalidRecord(`out-of-order block_id ${blockId} at ${formatLsn(lsn)}`, lsn);
    }
    maxBlockId = blockId;
    const flags = rec[take(1)]!;
    const dataLen = readUint16(rec, take(2));
    const hasData = (flags & BKPBLOCK_HAS_DATA) !== 0;
    if (hasData && dataLen === 0) {
      throw invalidRecord(`BKPBLOCK_HAS_DATA set, but no data included at ${formatLsn(lsn)}`, lsn);
    }
    if (!hasData && dataLen !== 0) {
      throw invalidRecord(
        `BKPBLOCK_HAS_DATA not set, but data length is ${dataLen} at ${formatLsn(lsn)}`,
        lsn,
      );
    }
    dataTotal += dataLen;
    let image: BlockHeader["image"] = null;
    if ((flags & BKPBLOCK_HAS_IMAGE) !== 0) {
      const length = readUint16(rec, take(2));
      const holeOffset = readUint16(rec, take(2));
      const bimgInfo = rec[take(1)]!;
      const compressed = (bimgInfo & BKPIMAGE_COMPRESSED_MASK) !== 0;
      let holeLength: number;
      if (compressed) {
        holeLength = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0 ? readUint16(rec, take(2)) : 0;
      } else {
        holeLength = BLCKSZ - length;
      }
      dataTotal += length;
      if (
        (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0 &&
        (holeOffset === 0 || holeLength === 0 || length === BLCKSZ)
      ) {
        throw invalidRecord(
          `BKPIMAGE_HAS_HOLE set, but hole offset ${holeOffset} length ${holeLength} block image length ${length} at ${formatLsn(lsn)}`,
          lsn,
        );
      }
      if ((bimgInfo & BKPIMAGE_HAS_HOLE) === 0 && (holeOffset !== 0 || holeLength !== 0)) {
        throw invalidRecord(
          `BKPIMAGE_HAS_HOLE not set, but hole offset ${holeOffset} length ${holeLength} at ${formatLsn(lsn)}`,
          lsn,
        );
      }
      if (compressed && length === BLCKSZ) {
        throw invalidRecord(
          `BKPIMAGE_COMPRESSED set, but block image length ${length} at ${formatLsn(lsn)}`,
          lsn,
        );
      }
      // PostgreSQL 15 prints the block's data_len here (a slip in its message); so does pgsim.
      if ((bimgInfo & BKPIMAGE_HAS_HOLE) === 0 && !compressed && length !== BLCKSZ) {
        throw invalidRecord(
          `neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is ${dataLen} at ${formatLsn(lsn)}`,
          lsn,
        );
      }
      image = { length, holeOffset, holeLength, bimgInfo };
    }
    let rel: RelFileLocator;
    if ((flags & BKPBLOCK_SAME_REL) === 0) {
      const at = take(12);
      rel = {
        spcOid: readUint32(rec, at),
        dbOid: readUint32(rec, at + 4),
        relNumber: readUint32(rec, at + 8),
      };
      prevRel = rel;
    } else {
      if (prevRel === null) {
        throw invalidRecord(`BKPBLOCK_SAME_REL set but no previous rel at ${formatLsn(lsn)}`, lsn);
      }
      rel = prevRel;
    }
    const block = readUint32(rec, take(4));
    headers.push({ id: blockId, flags, dataLen, image, rel, block });
  }
  if (remaining !== dataTotal) throw shortData();

  // The payload: per block its image then its data, then the main data.
  const blocks: DecodedBkpBlock[] = [];
  for (const h of headers) {
    let image: DecodedBlockImage | null = null;
    if (h.image !== null) {
      image = {
        ...h.image,
        apply: (h.image.bimgInfo & BKPIMAGE_APPLY) !== 0,
        bytes: rec.subarray(p, p + h.image.length),
      };
      p += h.image.length;
    }
    const data = rec.subarray(p, p + h.dataLen);
    p += h.dataLen;
    blocks.push({
      id: h.id,
      rel: h.rel,
      fork: h.flags & BKPBLOCK_FORK_MASK,
      block: h.block,
      flags: h.flags,
      willInit: (h.flags & BKPBLOCK_WILL_INIT) !== 0,
      image,
      data,
    });
  }
  const mainData = rec.subarray(p, p + mainDataLen);
  p += mainDataLen;
  assert(p === header.totLen, "DecodeXLogRecord consumed the whole record");
  return {
    lsn,
    endLsn,
    header,
    blocks,
    mainData,
    ...(recordOrigin !== undefined ? { recordOrigin } : {}),
    ...(toplevelXid !== undefined ? { toplevelXid } : {}),
    bytes: rec,
  };
}

/**
 * RestoreBlockImage: the 8192-byte page a block's image stands for — the stored bytes with the
 * hole put back as zeros. Throws `wal-no-image` when the block has none and
 * `wal-image-compressed` for a compressed image (pgsim does not decompress).
 */
export function restoreBlockImage(block: DecodedBkpBlock, lsn: XLogRecPtr = 0n): Uint8Array {
  const image = block.image;
  if (image === null) {
    throw new PgsimError(
      "wal-no-image",
      `could not restore image at ${formatLsn(lsn)} with invalid block ${block.id} specified`,
    );
  }
  if ((image.bimgInfo & BKPIMAGE_COMPRESSED_MASK) !== 0) {
    const method =
      (image.bimgInfo & BKPIMAGE_COMPRESS_PGLZ) !== 0
        ? "pglz"
        : (image.bimgInfo & BKPIMAGE_COMPRESS_LZ4) !== 0
          ? "lz4"
          : "zstd";
    throw new PgsimError(
      "wal-image-compressed",
      `could not restore image at ${formatLsn(lsn)} compressed with ${method} not supported by build, block ${block.id}`,
    );
  }
  const page = new Uint8Array(BLCKSZ);
  if (image.holeLength === 0) {
    page.set(image.bytes);
  } else {
    page.set(image.bytes.subarray(0, image.holeOffset), 0);
    page.set(image.bytes.subarray(image.holeOffset), image.holeOffset + image.holeLength);
  }
  return page;
}

/**
 * XLogRecGetLen: pg_waldump's "len (rec/tot)": `rec` is xl_tot_len less the image bytes,
 * `fpi` the image bytes.
 */
export function xlogRecGetLen(record: DecodedXLogRecord): {
  readonly recLen: number;
  readonly fpiLen: number;
} {
  let fpiLen = 0;
  for (const b of record.blocks) if (b.image !== null) fpiLen += b.image.length;
  return { recLen: record.header.totLen - fpiLen, fpiLen };
}

/** Options of `XLogReader`. */
export interface XLogReaderOptions {
  /** The pg_wal directory. */
  readonly walDir: string;
  /** Default 16 MB. */
  readonly walSegSize?: number;
  /** The timeline whose segment files are read. Default 1. */
  readonly timeLineId?: TimeLineID;
  /** When given, long page headers must carry it (WAL from another cluster is refused). */
  readonly systemIdentifier?: bigint;
}

/**
 * Reads records in order from the segment files of one timeline.
 *
 * @example
 * ```ts
 * const reader = new XLogReader({ walDir: "data/pg_wal" });
 * reader.beginRead(checkpoint.redo);
 * for (let rec = reader.readRecord(); rec !== null; rec = reader.readRecord()) redo(rec);
 * console.log(reader.error?.message); // why the WAL ended, e.g. "invalid record length at ..."
 * ```
 */
export class XLogReader {
  readonly walDir: string;
  readonly walSegSize: number;
  readonly timeLineId: TimeLineID;
  readonly systemIdentifier: bigint | undefined;

  /** Where the next read starts, and whether it is a random access (prev-link loosely checked). */
  private nextRecPtr = 0;
  private randAccess = true;
  /** Start of the last record read (DecodeRecPtr), and its end (EndRecPtr). */
  private readRecPtr = 0;
  private endRecPtr = 0;
  private latestPagePtr = 0;
  private latestPageTLI = 0;
  /** Why the last readRecord returned null. */
  error: PgsimError | null = null;

  private segFd: number | null = null;
  private segNo = -1;
  private readonly page = new Uint8Array(XLOG_BLCKSZ);
  private pagePtr = -1;

  constructor(options: XLogReaderOptions) {
    this.walDir = options.walDir;
    this.walSegSize = options.walSegSize ?? 16 * 1024 * 1024;
    this.timeLineId = options.timeLineId ?? 1;
    this.systemIdentifier = options.systemIdentifier;
    if (!isValidWalSegSize(this.walSegSize)) {
      throw new PgsimError(
        "invalid-wal-segment-size",
        `invalid WAL segment size ${this.walSegSize}`,
      );
    }
  }

  /** XLogBeginRead: the next `readRecord` reads the record at `lsn` (a random access). */
  beginRead(lsn: XLogRecPtr): void {
    this.nextRecPtr = lsnAsNumber(lsn);
    this.randAccess = true;
    this.readRecPtr = 0;
    this.endRecPtr = lsnAsNumber(lsn);
    this.error = null;
  }

  /** Start of the last record read. */
  get lastRecPtr(): XLogRecPtr {
    return BigInt(this.readRecPtr);
  }

  /** End of the last record read: where the WAL continues. */
  get endRecPtrLsn(): XLogRecPtr {
    return BigInt(this.endRecPtr);
  }

  /**
   * XLogFindNextRecord: the first record starting at or after `lsn`, skipping the continuation of
   * a record begun on an earlier page (what pg_waldump does when given a segment). Returns null
   * (with `error`) if none can be read. Leaves the reader positioned to read it.
   */
  findNextRecord(lsn: XLogRecPtr): XLogRecPtr | null {
    const target = lsnAsNumber(lsn);
    let tmp = target;
    for (let guard = 0; ; guard++) {
      assert(guard <= this.walSegSize / XLOG_BLCKSZ + 1, "findNextRecord ran past a segment");
      const pagePtr = tmp - (tmp % XLOG_BLCKSZ);
      try {
        this.readPage(pagePtr);
      } catch (e) {
        this.error = e as PgsimError;
        return null;
      }
      const hdr = readXLogPageHeader(this.page, 0);
      const hdrSize = xlogPageHeaderSize(hdr.info);
      if ((hdr.info & XLP_FIRST_IS_CONTRECORD) !== 0) {
        const rem = (hdr.remLen + 7) & ~7;
        if (rem >= XLOG_BLCKSZ - hdrSize) {
          tmp = pagePtr + XLOG_BLCKSZ;
          continue;
        }
        tmp = pagePtr + hdrSize + rem;
      } else {
        tmp = pagePtr + hdrSize;
      }
      break;
    }
    // Read forward until a record at or past the target.
    this.beginRead(BigInt(tmp));
    for (;;) {
      const start = this.nextRecPtr;
      const rec = this.readRecord();
      if (rec === null) return null;
      if (rec.lsn >= BigInt(target)) {
        this.beginRead(rec.lsn);
        return rec.lsn;
      }
      assert(this.nextRecPtr > start, "findNextRecord makes progress");
    }
  }

  /**
   * XLogReadRecord: the next record, or null at the end of valid WAL (`error` says why: the
   * check that failed, with PostgreSQL's message).
   */
  readRecord(): DecodedXLogRecord | null {
    this.error = null;
    try {
      return this.decodeNextRecord();
    } catch (e) {
      if (!(e instanceof PgsimError)) throw e;
      this.error = e;
      return null;
    }
  }

  /** Reads every record from `lsn` on; `end` is where and why reading stopped. */
  readAll(lsn: XLogRecPtr): {
    readonly records: DecodedXLogRecord[];
    readonly end: { readonly lsn: XLogRecPtr; readonly error: PgsimError | null };
  } {
    this.beginRead(lsn);
    const records: DecodedXLogRecord[] = [];
    for (let rec = this.readRecord(); rec !== null; rec = this.readRecord()) records.push(rec);
    return { records, end: { lsn: BigInt(this.endRecPtr), error: this.error } };
  }

  private decodeNextRecord(): DecodedXLogRecord {
    let recPtr = this.nextRecPtr;
    const randAccess = this.randAccess;
    let targetPagePtr = recPtr - (recPtr % XLOG_BLCKSZ);
    let targetRecOff = recPtr % XLOG_BLCKSZ;
    this.readPage(targetPagePtr);
    let hdr = readXLogPageHeader(this.page, 0);
    let pageHeaderSize = xlogPageHeaderSize(hdr.info);
    if (targetRecOff === 0) {
      recPtr += pageHeaderSize;
      targetRecOff = pageHeaderSize;
    } else if (targetRecOff < pageHeaderSize) {
      throw invalidRecord(`invalid record offset at ${formatLsn(BigInt(recPtr))}`, BigInt(recPtr));
    }
    if ((hdr.info & XLP_FIRST_IS_CONTRECORD) !== 0 && targetRecOff === pageHeaderSize) {
      throw invalidRecord(
        `contrecord is requested by ${formatLsn(BigInt(recPtr))}`,
        BigInt(recPtr),
      );
    }
    const lsn = BigInt(recPtr);
    const totalLen = readUint32(this.page, targetRecOff);
    let gotHeader = false;
    if (targetRecOff <= XLOG_BLCKSZ - SizeOfXLogRecord) {
      this.validXLogRecordHeader(this.page.subarray(targetRecOff), recPtr, randAccess);
      gotHeader = true;
    } else if (totalLen < SizeOfXLogRecord) {
      throw invalidRecord(
        `invalid record length at ${formatLsn(lsn)}: wanted ${SizeOfXLogRecord}, got ${totalLen}`,
        lsn,
      );
    }

    let rec: Uint8Array;
    let len = XLOG_BLCKSZ - targetRecOff;
    if (totalLen > len) {
      // Reassemble a record that continues on later pages.
      rec = new Uint8Array(totalLen);
      rec.set(this.page.subarray(targetRecOff), 0);
      let gotLen = len;
      let remLen = 0;
      do {
        targetPagePtr += XLOG_BLCKSZ;
        this.readPage(targetPagePtr);
        hdr = readXLogPageHeader(this.page, 0);
        if ((hdr.info & XLP_FIRST_IS_CONTRECORD) === 0) {
          throw invalidRecord(`there is no contrecord flag at ${formatLsn(lsn)}`, lsn);
        }
        if (hdr.remLen === 0 || totalLen !== hdr.remLen + gotLen) {
          throw invalidRecord(
            `invalid contrecord length ${hdr.remLen} (expected ${totalLen - gotLen}) at ${formatLsn(lsn)}`,
            lsn,
          );
        }
        pageHeaderSize = xlogPageHeaderSize(hdr.info);
        len = Math.min(XLOG_BLCKSZ - pageHeaderSize, hdr.remLen);
        rec.set(this.page.subarray(pageHeaderSize, pageHeaderSize + len), gotLen);
        gotLen += len;
        remLen = hdr.remLen;
        if (!gotHeader) {
          this.validXLogRecordHeader(rec, recPtr, randAccess);
          gotHeader = true;
        }
      } while (gotLen < totalLen);
      validXLogRecord(rec, lsn);
      this.nextRecPtr = targetPagePtr + pageHeaderSize + ((remLen + 7) & ~7);
    } else {
      rec = this.page.slice(targetRecOff, targetRecOff + totalLen);
      validXLogRecord(rec, lsn);
      this.nextRecPtr = recPtr + ((totalLen + 7) & ~7);
    }
    const info = rec[16]!;
    if (rec[17] === RM_XLOG_ID && (info & ~XLR_INFO_MASK) === XLOG_SWITCH) {
      // A switch stands for the rest of its segment.
      this.nextRecPtr += this.walSegSize - 1;
      this.nextRecPtr -= this.nextRecPtr % this.walSegSize;
    }
    this.readRecPtr = recPtr;
    this.endRecPtr = this.nextRecPtr;
    this.randAccess = false;
    return decodeXLogRecord(rec, lsn, BigInt(this.endRecPtr));
  }

  /** ValidXLogRecordHeader. */
  private validXLogRecordHeader(bytes: Uint8Array, recPtr: number, randAccess: boolean): void {
    const h = readXLogRecordHeader(bytes, 0);
    const lsn = BigInt(recPtr);
    if (h.totLen < SizeOfXLogRecord) {
      throw invalidRecord(
        `invalid record length at ${formatLsn(lsn)}: wanted ${SizeOfXLogRecord}, got ${h.totLen}`,
        lsn,
      );
    }
    if (!rmgrIdIsValid(h.rmid)) {
      throw invalidRecord(`invalid resource manager ID ${h.rmid} at ${formatLsn(lsn)}`, lsn);
    }
    const ok = randAccess ? h.prev < lsn : h.prev === BigInt(this.readRecPtr);
    if (!ok) {
      throw invalidRecord(
        `record with incorrect prev-link ${formatLsn(h.prev)} at ${formatLsn(lsn)}`,
        lsn,
      );
    }
  }

  /**
   * ReadPageInternal + XLogReaderValidatePageHeader: loads the page at `pagePtr` into
   * `this.page` (after validating the segment's first page when entering a new segment).
   */
  private readPage(pagePtr: number): void {
    if (pagePtr === this.pagePtr) return;
    const segNo = Math.floor(pagePtr / this.walSegSize);
    const segOffset = pagePtr % this.walSegSize;
    if (segNo !== this.segNo) {
      this.openSegment(segNo);
      if (segOffset !== 0) {
        this.readRawPage(segNo, 0);
        this.validatePageHeader(pagePtr - segOffset);
      }
    }
    this.readRawPage(segNo, segOffset);
    this.validatePageHeader(pagePtr);
    this.pagePtr = pagePtr;
  }

  private openSegment(segNo: number): void {
    this.close();
    const name = xlogFileName(this.timeLineId, segNo, this.walSegSize);
    const file = path.join(this.walDir, name);
    try {
      this.segFd = fs.openSync(file, "r");
    } catch (e) {
      throw new PgsimError(
        "wal-segment-missing",
        `could not open file "${file}": ${(e as Error).message}`,
        {
          segment: name,
        },
      );
    }
    this.segNo = segNo;
  }

  private readRawPage(segNo: number, segOffset: number): void {
    this.pagePtr = -1;
    const n = fs.readSync(this.segFd!, this.page, 0, XLOG_BLCKSZ, segOffset);
    if (n !== XLOG_BLCKSZ) {
      throw new PgsimError(
        "wal-segment-short",
        `could not read from log segment ${xlogFileName(this.timeLineId, segNo, this.walSegSize)}, offset ${segOffset}: read ${n} of ${XLOG_BLCKSZ}`,
      );
    }
  }

  /** XLogReaderValidatePageHeader on `this.page`, which should be the page at `pagePtr`. */
  private validatePageHeader(pagePtr: number): void {
    const hdr = readXLogPageHeader(this.page, 0);
    const segName = xlogFileName(
      this.timeLineId,
      Math.floor(pagePtr / this.walSegSize),
      this.walSegSize,
    );
    const offset = pagePtr % this.walSegSize;
    const where = `in log segment ${segName}, offset ${offset}`;
    const bad = (message: string) =>
      new PgsimError("invalid-wal-page", message, { pagePtr: BigInt(pagePtr) });
    if (hdr.magic !== XLOG_PAGE_MAGIC) {
      throw bad(`invalid magic number ${hex4(hdr.magic)} ${where}`);
    }
    if ((hdr.info & ~XLP_ALL_FLAGS) !== 0)
      throw bad(`invalid info bits ${hex4(hdr.info)} ${where}`);
    if ((hdr.info & XLP_LONG_HEADER) !== 0) {
      if (
        this.systemIdentifier !== undefined &&
        this.systemIdentifier !== 0n &&
        hdr.sysid !== this.systemIdentifier
      ) {
        throw bad(
          `WAL file is from different database system: WAL file database system identifier is ${String(hdr.sysid)}, pg_control database system identifier is ${String(this.systemIdentifier)}`,
        );
      }
      if (hdr.segSize !== this.walSegSize) {
        throw bad(
          "WAL file is from different database system: incorrect segment size in page header",
        );
      }
      if (hdr.xlogBlcksz !== XLOG_BLCKSZ) {
        throw bad(
          "WAL file is from different database system: incorrect XLOG_BLCKSZ in page header",
        );
      }
    } else if (offset === 0) {
      throw bad(`invalid info bits ${hex4(hdr.info)} ${where}`);
    }
    if (hdr.pageAddr !== BigInt(pagePtr)) {
      throw bad(`unexpected pageaddr ${formatLsn(hdr.pageAddr)} ${where}`);
    }
    if (pagePtr > this.latestPagePtr && hdr.tli < this.latestPageTLI) {
      throw bad(`out-of-sequence timeline ID ${hdr.tli} (after ${this.latestPageTLI}) ${where}`);
    }
    if (pagePtr > this.latestPagePtr) {
      this.latestPagePtr = pagePtr;
      this.latestPageTLI = hdr.tli;
    }
  }

  /** Closes the open segment file. */
  close(): void {
    if (this.segFd !== null) fs.closeSync(this.segFd);
    this.segFd = null;
    this.segNo = -1;
    this.pagePtr = -1;
  }
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
