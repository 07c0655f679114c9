/**
 * Building a WAL record: a backend registers the blocks a change touched and the data that
 * describes it, then assembles the record — block headers, full-page images with their holes
 * left out, main data — and hands it to the WAL for insertion.
 *
 * Models: src/backend/access/transam/xloginsert.c (XLogBeginInsert, XLogRegisterBuffer,
 * XLogRegisterBlock, XLogRegisterBufData, XLogRegisterData, XLogSetRecordFlags,
 * XLogResetInsertion, XLogRecordAssemble, XLogInsert, XLogSaveBufferForHint,
 * XLogCheckBufferNeedsBackup, log_newpage_buffer), src/include/access/xloginsert.h (REGBUF_*
 * flags), and the calls bufmgr.c makes into xlog.c (FlushBuffer's XLogFlush,
 * MarkBufferDirtyHint's XLogHintBitIsNeeded / delayChkptFlags).
 * Entry points: `XLogInsertState` (`beginInsert`, `registerBuffer`, `registerBufData`,
 * `registerData`, `assemble`, `insert`), `REGBUF_*`, `xlogSaveBufferForHint`, `xlogPageHooks`,
 * `xlogCheckBufferNeedsBackup`, `logNewpageBuffer`.
 * See also: xlogrecord.ts (the format), xlog.ts (XLogInsertRecord: placing the record in the
 * WAL), xlogreader.ts (the decoder), docs/reference/postgres-wal.md §3, §4.1, §7.1.
 *
 * Full-page images (§4.1), for each registered block in block-id order:
 * 1. REGBUF_FORCE_IMAGE → image; REGBUF_NO_IMAGE (and REGBUF_WILL_INIT) → none;
 *    full_page_writes off → none.
 * 2. Otherwise an image iff the page's LSN ≤ the redo pointer of the latest checkpoint: the
 *    first change to a page after a checkpoint logs the whole page, so redo can restore a page
 *    torn by a crash.
 * 3. A page registered REGBUF_STANDARD has its hole (pd_lower .. pd_upper) left out.
 * 4. With an image, the block's own data is left out (unless REGBUF_KEEP_DATA): redo restores
 *    the image and does not need it.
 *
 * The payload's CRC is computed here; XLogWriter.insertRecord adds the header to it once it
 * knows xl_prev.
 *
 * A checkpoint may move the redo pointer between assembling and inserting: `insert` then gets
 * a refusal from XLogWriter.insertRecord (the record's fpwLsn is at or before the new redo
 * pointer, or full-page writes were turned on) and assembles the record again with the new
 * pointer, now with the images (XLogInsert's loop, §4.2).
 *
 * Hint bits (§4.3): `xlogSaveBufferForHint` logs XLOG_FPI_FOR_HINT for a page whose first change
 * since the checkpoint is a hint, when checksums are on; `xlogPageHooks` gives the buffer
 * manager its WAL hooks (XLogFlush before a data write, the hint image, the checkpoint delay).
 *
 * Differs from PostgreSQL: no wal_compression (images are stored uncompressed, as with the
 * default wal_compression=off); no replication origins or top-level-xid blocks (pgsim has no
 * logical replication and no subtransactions); all 33 block ids are always available (no
 * XLogEnsureRecordSpace); the record is assembled into one contiguous byte array (the insert
 * state's own, reused for every record) rather than a chain of pointers into the buffers, so an
 * image is copied when the record is assembled.
 */

import type { BufferTag, ForkNumber, PageHooks, RelFileLocator } from "@pgsim/buffer-manager";
import { AssertionError, PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../../include/pg-config.js";
import { readUint16, writeUint16, writeUint32 } from "../../include/port/le-bytes.js";
import { crc32cUpdateWords, INIT_CRC32C } from "../../include/port/pg-crc32c.js";
import { pageGetLsn, pageSetLsn } from "../../storage/page/bufpage.js";
import { XLOG_FPI, XLOG_FPI_FOR_HINT } from "./pg-control.js";
import { RM_XLOG_ID, rmgrIdIsValid } from "./rmgr.js";
import type { XLogInsertResult, XLogWriter } from "./xlog.js";
import type { AssembledRecord } from "./xlog-internal.js";
import type { XLogRecPtr } from "./xlogdefs.js";
import {
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BKPBLOCK_WILL_INIT,
  BKPIMAGE_APPLY,
  BKPIMAGE_HAS_HOLE,
  SizeOfRelFileNode,
  SizeOfXLogRecord,
  SizeOfXLogRecordBlockHeader,
  SizeOfXLogRecordBlockImageHeader,
  SizeOfXLogRecordDataHeaderLong,
  SizeOfXLogRecordDataHeaderShort,
  XLR_BLOCK_ID_DATA_LONG,
  XLR_BLOCK_ID_DATA_SHORT,
  XLR_CHECK_CONSISTENCY,
  XLR_MAX_BLOCK_ID,
  XLR_RMGR_INFO_MASK,
  XLR_SPECIAL_REL_UPDATE,
} from "./xlogrecord.js";

/** Always take a full-page image (log_newpage, XLOG_FPI). */
export const REGBUF_FORCE_IMAGE = 0x01;
/** Never take an image. */
export const REGBUF_NO_IMAGE = 0x02;
/** Redo re-initializes the page: sets BKPBLOCK_WILL_INIT, and implies REGBUF_NO_IMAGE. */
export const REGBUF_WILL_INIT = 0x04 | 0x02;
/** The page has the standard layout (pd_lower, pd_upper), so its hole may be left out. */
export const REGBUF_STANDARD = 0x08;
/** Keep the block's data even when an image is taken. */
export const REGBUF_KEEP_DATA = 0x10;
const REGBUF_ALL = 0x1f;

/** XLogSetRecordFlags: XLOG_INCLUDE_ORIGIN (ignored by pgsim: no origins). */
export const XLOG_INCLUDE_ORIGIN = 0x01;
/** XLogSetRecordFlags: the record is not "activity" (idle checkpoints may be skipped). */
export const XLOG_MARK_UNIMPORTANT = 0x02;

const SizeOfPageHeaderData = 24;
const PD_LOWER_OFFSET = 12;
const PD_UPPER_OFFSET = 14;
const UINT16_MAX = 0xffff;
const FPW_RECHECK = { fpwRecheck: true } as const;

/** A block a record refers to: which page of which relation fork. */
export interface XLogBlockRef {
  readonly rel: RelFileLocator;
  readonly fork: ForkNumber;
  readonly block: number;
  /**
   * The page as it is after the change (8192 bytes), for a full-page image. Required unless
   * the block is registered REGBUF_NO_IMAGE / REGBUF_WILL_INIT. Its pd_lsn decides whether an
   * image is taken; the image is copied when the record is assembled.
   */
  readonly page?: Uint8Array;
}

/**
 * One block id's registration (registered_buffer): kept for the life of the insert state and
 * reused by every record, so that registering a block allocates nothing. The second group of
 * fields is XLogRecordAssemble's decision for the block, filled in by `assembleInto`.
 */
interface RegisteredBuffer {
  /** in_use. */
  inUse: boolean;
  ref: XLogBlockRef | undefined;
  flags: number;
  /**
   * The data chunks (rdata_head … rdata_tail): chunk i is data[i][dataStart[i], dataEnd[i]);
   * only the first `nData` are this record's.
   */
  readonly data: Uint8Array[];
  readonly dataStart: number[];
  readonly dataEnd: number[];
  nData: number;
  dataLen: number;
  // What XLogRecordAssemble decided:
  forkFlags: number;
  hasImage: boolean;
  holeOffset: number;
  holeLength: number;
  bimgInfo: number;
  withData: boolean;
  sameRel: boolean;
}

function newRegisteredBuffer(): RegisteredBuffer {
  return {
    inUse: false,
    ref: undefined,
    flags: 0,
    data: [],
    dataStart: [],
    dataEnd: [],
    nData: 0,
    dataLen: 0,
    forkFlags: 0,
    hasImage: false,
    holeOffset: 0,
    holeLength: 0,
    bimgInfo: 0,
    withData: false,
    sameRel: false,
  };
}

/**
 * pd_lsn as a number (exact below 2^53, which every pgsim WAL position is; a larger, corrupt
 * value still compares larger than any of them): the bigint-free PageGetLSN of the hot path.
 */
function pageLsnNumber(page: Uint8Array): number {
  const high = (page[0]! | (page[1]! << 8) | (page[2]! << 16) | (page[3]! << 24)) >>> 0;
  const low = (page[4]! | (page[5]! << 8) | (page[6]! << 16) | (page[7]! << 24)) >>> 0;
  return high * 0x100000000 + low;
}

/**
 * Copies `src[from, to)` to `dst` at `at` and returns the position after it: a loop for short
 * chunks.
 */
function copyChunk(dst: Uint8Array, at: number, src: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n <= 64) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, to), at);
  }
  return at + n;
}

/** Checks that [start, end) is a range of `data`. */
function checkRange(data: Uint8Array, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start) {
    throw walError("invalid-wal-data-range", `invalid range ${start}..${end} of WAL data`);
  }
  if (end > data.length) {
    throw walError(
      "invalid-wal-data-range",
      `range ${start}..${end} is past the end of ${data.length} bytes of WAL data`,
    );
  }
}

/** What `assemble` needs to know about the WAL (GetFullPageWriteInfo). */
export interface AssembleOptions {
  /** xl_xid: the transaction's xid, 0 if it has none. */
  readonly xid: number;
  /** The redo pointer of the latest checkpoint: pages with pd_lsn ≤ it get images. */
  readonly redoRecPtr: XLogRecPtr;
  /** full_page_writes (or an online backup forcing them). */
  readonly doPageWrites: boolean;
}

function walError(code: string, message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError(code, message, detail);
}

function isUint32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/**
 * One backend's record under construction (xloginsert.c's static state): at most one at a time.
 *
 * @example
 * ```ts
 * const ins = new XLogInsertState();
 * ins.beginInsert();
 * ins.registerBuffer(0, { rel, fork: ForkNumber.MAIN, block: 0, page }, REGBUF_STANDARD);
 * ins.registerBufData(0, tupleData);
 * ins.registerData(xlHeapInsert);
 * const { startLsn, endLsn } = ins.insert(wal, RM_HEAP_ID, XLOG_HEAP_INSERT, { xid });
 * pageSetLsn(page, endLsn);
 * ```
 */
export class XLogInsertState {
  /**
   * XactLastRecEnd's use in RecordTransactionCommit: the end of the last record this state
   * inserted (0 before any). A transaction compares it before and after to know whether it
   * wrote WAL.
   */
  lastRecEnd: XLogRecPtr = 0n;
  private begun = false;
  /** registered_buffers: one reused slot per block id. */
  private readonly blocks: RegisteredBuffer[] = Array.from(
    { length: XLR_MAX_BLOCK_ID + 1 },
    newRegisteredBuffer,
  );
  /** max_registered_block_id + 1: the slots from here on are not in use. */
  private numBlocks = 0;
  /** The main data chunks, as the blocks' (`RegisteredBuffer.data`). */
  private readonly mainData: Uint8Array[] = [];
  private readonly mainStart: number[] = [];
  private readonly mainEnd: number[] = [];
  private nMainData = 0;
  private mainDataLen = 0;
  private recordFlags = 0;
  /**
   * The record is assembled here (hdr_scratch and the rdata chain in one buffer), grown when a
   * record does not fit, and reused by every record: `insert` allocates no record array.
   */
  private scratch = new Uint8Array(1024);
  /** The same memory as 32-bit words, for the CRC. */
  private scratch32 = new Int32Array(this.scratch.buffer);
  // What the last `assembleInto` produced besides the bytes.
  private asmPayloadCrc = 0;
  private asmFpwLsn = 0;
  private asmNumFpi = 0;

  /** XLogBeginInsert: starts a record. Throws if one is already being built. */
  beginInsert(): void {
    if (this.begun) {
      throw walError("xlog-insert-in-progress", "XLogBeginInsert was already called");
    }
    this.begun = true;
  }

  /** XLogResetInsertion: forgets the record being built. */
  resetInsertion(): void {
    for (let i = 0; i < this.numBlocks; i++) {
      const regbuf = this.blocks[i]!;
      regbuf.inUse = false;
      regbuf.ref = undefined;
      regbuf.nData = 0;
      regbuf.dataLen = 0;
    }
    this.numBlocks = 0;
    this.nMainData = 0;
    this.mainDataLen = 0;
    this.recordFlags = 0;
    this.begun = false;
  }

  private checkBegun(what: string): void {
    if (!this.begun) {
      throw walError("xlog-insert-not-begun", `${what} called without XLogBeginInsert`);
    }
  }

  /**
   * XLogRegisterBuffer / XLogRegisterBlock: the record changes `ref`'s page, as block `blockId`
   * (0..32, each at most once). `flags` are REGBUF_* bits.
   */
  registerBuffer(blockId: number, ref: XLogBlockRef, flags = 0): void {
    this.checkBegun("XLogRegisterBuffer");
    if (!Number.isInteger(blockId) || blockId < 0 || blockId > XLR_MAX_BLOCK_ID) {
      throw walError("too-many-registered-buffers", "too many registered buffers", { blockId });
    }
    const regbuf = this.blocks[blockId]!;
    if (regbuf.inUse) {
      throw walError("xlog-block-registered-twice", `block ${blockId} is already registered`, {
        blockId,
      });
    }
    if (!Number.isInteger(flags) || (flags & ~REGBUF_ALL) !== 0) {
      throw walError("invalid-regbuf-flags", `invalid XLogRegisterBuffer flags ${String(flags)}`);
    }
    if ((flags & REGBUF_FORCE_IMAGE) !== 0 && (flags & REGBUF_NO_IMAGE) !== 0) {
      throw walError(
        "invalid-regbuf-flags",
        "REGBUF_FORCE_IMAGE and REGBUF_NO_IMAGE (or REGBUF_WILL_INIT) exclude each other",
      );
    }
    const { rel, fork, block, page } = ref;
    if (
      rel === null ||
      typeof rel !== "object" ||
      !isUint32(rel.spcOid) ||
      !isUint32(rel.dbOid) ||
      !isUint32(rel.relNumber)
    ) {
      throw walError("invalid-relation", "a WAL block reference needs a RelFileNode of uint32s");
    }
    if (!Number.isInteger(fork) || fork < 0 || fork > 3) {
      throw walError("invalid-fork", `invalid fork number ${String(fork)}: must be 0 to 3`);
    }
    if (!isUint32(block) || block === 0xffffffff) {
      throw walError("invalid-block-number", `invalid block number ${String(block)}`);
    }
    if ((flags & REGBUF_NO_IMAGE) === 0 && page === undefined) {
      throw walError(
        "xlog-page-required",
        `block ${blockId} may need a full-page image, so its page must be registered`,
      );
    }
    if (page !== undefined && page.length !== BLCKSZ) {
      throw walError(
        "invalid-page-size",
        `a registered page must be ${BLCKSZ} bytes, got ${page.length}`,
      );
    }
    regbuf.inUse = true;
    regbuf.ref = ref;
    regbuf.flags = flags;
    regbuf.nData = 0;
    regbuf.dataLen = 0;
    if (blockId >= this.numBlocks) this.numBlocks = blockId + 1;
  }

  /**
   * XLogRegisterBufData: appends `data[start, end)` (default all of it) to block `blockId`'s data
   * (at most 65535 bytes in all). The bytes are read when the record is inserted: they must not
   * change before.
   */
  registerBufData(blockId: number, data: Uint8Array, start = 0, end = data.length): void {
    this.checkBegun("XLogRegisterBufData");
    checkRange(data, start, end);
    const regbuf = this.blocks[blockId];
    if (regbuf === undefined || !regbuf.inUse) {
      throw walError(
        "xlog-block-not-registered",
        `no block with id ${blockId} registered with WAL insertion`,
      );
    }
    const len = end - start;
    if (regbuf.dataLen + len > UINT16_MAX) {
      throw walError("too-much-wal-data", "too much WAL data", {
        blockId,
        registered: regbuf.dataLen,
        adding: len,
      });
    }
    const i = regbuf.nData++;
    regbuf.data[i] = data;
    regbuf.dataStart[i] = start;
    regbuf.dataEnd[i] = end;
    regbuf.dataLen += len;
  }

  /**
   * XLogRegisterData: appends `data[start, end)` (default all of it) to the record's main data,
   * read when the record is inserted.
   */
  registerData(data: Uint8Array, start = 0, end = data.length): void {
    this.checkBegun("XLogRegisterData");
    checkRange(data, start, end);
    if (this.mainDataLen + (end - start) > 0xffffffff) {
      throw walError("too-much-wal-data", "too much WAL data");
    }
    const i = this.nMainData++;
    this.mainData[i] = data;
    this.mainStart[i] = start;
    this.mainEnd[i] = end;
    this.mainDataLen += end - start;
  }

  /** XLogSetRecordFlags: XLOG_INCLUDE_ORIGIN / XLOG_MARK_UNIMPORTANT. */
  setRecordFlags(flags: number): void {
    this.checkBegun("XLogSetRecordFlags");
    this.recordFlags |= flags;
  }

  /**
   * XLogRecordAssemble: the record for resource manager `rmid` with `info`, taking full-page
   * images as the rules above say. Does not end the insertion (`insert` does). The record is
   * a copy of its own (`insert` assembles into a reused buffer instead).
   */
  assemble(rmid: number, info: number, options: AssembleOptions): AssembledRecord {
    this.checkBegun("XLogInsert");
    // The redo pointer as a number: pages' LSNs are compared with it as numbers (exact below
    // 2^53; one past every WAL position stands for a larger pointer).
    const redo =
      options.redoRecPtr < BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(options.redoRecPtr)
        : Number.MAX_SAFE_INTEGER;
    const totLen = this.assembleInto(rmid, info, options.xid, redo, options.doPageWrites);
    return {
      bytes: this.scratch.slice(0, totLen),
      payloadCrc: this.asmPayloadCrc,
      fpwLsn: BigInt(this.asmFpwLsn),
      doPageWrites: options.doPageWrites,
      numFpi: this.asmNumFpi,
      recordFlags: this.recordFlags,
    };
  }

  /**
   * XLogRecordAssemble into `scratch`: returns xl_tot_len; the payload's running CRC, the
   * fpw_lsn and the image count are left in `asm*`. xl_prev and xl_crc are zero.
   */
  private assembleInto(
    rmid: number,
    info: number,
    xid: number,
    redoRecPtr: number,
    doPageWrites: boolean,
  ): number {
    if (
      !Number.isInteger(info) ||
      info < 0 ||
      info > 0xff ||
      (info & ~(XLR_RMGR_INFO_MASK | XLR_SPECIAL_REL_UPDATE | XLR_CHECK_CONSISTENCY)) !== 0
    ) {
      throw walError(
        "invalid-xlog-info",
        `invalid xlog info mask ${(info & 0xff).toString(16).toUpperCase().padStart(2, "0")}`,
      );
    }
    if (!rmgrIdIsValid(rmid)) {
      throw walError("invalid-rmgr-id", `invalid resource manager ID ${String(rmid)}`);
    }
    if (!isUint32(xid)) {
      throw walError("invalid-xid", `invalid transaction id ${String(xid)}`);
    }
    const checkConsistency = (info & XLR_CHECK_CONSISTENCY) !== 0;

    // Pass 1: decide images and data per block; size the record.
    let headerLen = SizeOfXLogRecord;
    let payloadLen = 0;
    let fpwLsn = 0;
    let numFpi = 0;
    let prevRel: RelFileLocator | null = null;
    const blocks = this.blocks;
    for (let id = 0; id < this.numBlocks; id++) {
      const regbuf = blocks[id]!;
      if (!regbuf.inUse) continue;
      const flags = regbuf.flags;
      const ref = regbuf.ref!;
      let needsBackup: boolean;
      if ((flags & REGBUF_FORCE_IMAGE) !== 0) needsBackup = true;
      else if ((flags & REGBUF_NO_IMAGE) !== 0) needsBackup = false;
      else if (!doPageWrites) needsBackup = false;
      else {
        const pageLsn = pageLsnNumber(ref.page!);
        needsBackup = pageLsn <= redoRecPtr;
        if (!needsBackup && (fpwLsn === 0 || pageLsn < fpwLsn)) fpwLsn = pageLsn;
      }
      const withData = regbuf.dataLen > 0 && ((flags & REGBUF_KEEP_DATA) !== 0 || !needsBackup);
      let forkFlags = ref.fork as number;
      if ((flags & REGBUF_WILL_INIT) === REGBUF_WILL_INIT) forkFlags |= BKPBLOCK_WILL_INIT;

      regbuf.hasImage = false;
      if (needsBackup || checkConsistency) {
        if (ref.page === undefined) {
          throw walError(
            "xlog-page-required",
            `block ${id} needs an image for consistency checking, but no page was registered`,
          );
        }
        let holeOffset = 0;
        let holeLength = 0;
        if ((flags & REGBUF_STANDARD) !== 0) {
          const lower = readUint16(ref.page, PD_LOWER_OFFSET);
          const upper = readUint16(ref.page, PD_UPPER_OFFSET);
          if (lower >= SizeOfPageHeaderData && upper > lower && upper <= BLCKSZ) {
            holeOffset = lower;
            holeLength = upper - lower;
          }
        }
        let bimgInfo = holeLength === 0 ? 0 : BKPIMAGE_HAS_HOLE;
        if (needsBackup) bimgInfo |= BKPIMAGE_APPLY;
        regbuf.hasImage = true;
        regbuf.holeOffset = holeOffset;
        regbuf.holeLength = holeLength;
        regbuf.bimgInfo = bimgInfo;
        forkFlags |= BKPBLOCK_HAS_IMAGE;
        numFpi++;
        headerLen += SizeOfXLogRecordBlockImageHeader;
        payloadLen += BLCKSZ - holeLength;
      }
      if (withData) {
        forkFlags |= BKPBLOCK_HAS_DATA;
        payloadLen += regbuf.dataLen;
      }
      const rel = ref.rel;
      const sameRel =
        prevRel !== null &&
        prevRel.spcOid === rel.spcOid &&
        prevRel.dbOid === rel.dbOid &&
        prevRel.relNumber === rel.relNumber;
      if (sameRel) forkFlags |= BKPBLOCK_SAME_REL;
      prevRel = rel;
      headerLen += SizeOfXLogRecordBlockHeader + (sameRel ? 0 : SizeOfRelFileNode) + 4;
      regbuf.forkFlags = forkFlags;
      regbuf.withData = withData;
      regbuf.sameRel = sameRel;
    }
    const mainDataLen = this.mainDataLen;
    if (mainDataLen > 0) {
      headerLen +=
        mainDataLen > 255 ? SizeOfXLogRecordDataHeaderLong : SizeOfXLogRecordDataHeaderShort;
    }
    const totLen = headerLen + payloadLen + mainDataLen;

    // Pass 2: write headers, then payload.
    if (this.scratch.length < totLen) {
      let size = this.scratch.length;
      while (size < totLen) size *= 2;
      this.scratch = new Uint8Array(size);
      this.scratch32 = new Int32Array(this.scratch.buffer);
    }
    const bytes = this.scratch;
    let p = SizeOfXLogRecord;
    for (let id = 0; id < this.numBlocks; id++) {
      const regbuf = blocks[id]!;
      if (!regbuf.inUse) continue;
      const ref = regbuf.ref!;
      bytes[p] = id;
      bytes[p + 1] = regbuf.forkFlags;
      writeUint16(bytes, p + 2, regbuf.withData ? regbuf.dataLen : 0);
      p += SizeOfXLogRecordBlockHeader;
      if (regbuf.hasImage) {
        writeUint16(bytes, p, BLCKSZ - regbuf.holeLength);
        writeUint16(bytes, p + 2, regbuf.holeOffset);
        bytes[p + 4] = regbuf.bimgInfo;
        p += SizeOfXLogRecordBlockImageHeader;
      }
      if (!regbuf.sameRel) {
        writeUint32(bytes, p, ref.rel.spcOid);
        writeUint32(bytes, p + 4, ref.rel.dbOid);
        writeUint32(bytes, p + 8, ref.rel.relNumber);
        p += SizeOfRelFileNode;
      }
      writeUint32(bytes, p, ref.block);
      p += 4;
    }
    if (mainDataLen > 0) {
      if (mainDataLen > 255) {
        bytes[p] = XLR_BLOCK_ID_DATA_LONG;
        writeUint32(bytes, p + 1, mainDataLen);
        p += SizeOfXLogRecordDataHeaderLong;
      } else {
        bytes[p] = XLR_BLOCK_ID_DATA_SHORT;
        bytes[p + 1] = mainDataLen;
        p += SizeOfXLogRecordDataHeaderShort;
      }
    }
    for (let id = 0; id < this.numBlocks; id++) {
      const regbuf = blocks[id]!;
      if (!regbuf.inUse) continue;
      const page = regbuf.ref!.page;
      if (regbuf.hasImage && page !== undefined) {
        const { holeOffset, holeLength } = regbuf;
        if (holeLength === 0) {
          bytes.set(page, p);
          p += BLCKSZ;
        } else {
          bytes.set(page.subarray(0, holeOffset), p);
          p += holeOffset;
          bytes.set(page.subarray(holeOffset + holeLength), p);
          p += BLCKSZ - holeOffset - holeLength;
        }
      }
      if (regbuf.withData) {
        for (let c = 0; c < regbuf.nData; c++) {
          p = copyChunk(bytes, p, regbuf.data[c]!, regbuf.dataStart[c]!, regbuf.dataEnd[c]!);
        }
      }
    }
    for (let c = 0; c < this.nMainData; c++) {
      p = copyChunk(bytes, p, this.mainData[c]!, this.mainStart[c]!, this.mainEnd[c]!);
    }
    // (Not assert(): its message would be formatted for every record.)
    if (p !== totLen) throw new AssertionError(`XLogRecordAssemble wrote ${p} bytes of ${totLen}`);
    // The header: xl_tot_len, xl_xid, xl_prev (0 until inserted), xl_info, xl_rmid, padding,
    // xl_crc (0 until inserted).
    writeUint32(bytes, 0, totLen);
    writeUint32(bytes, 4, xid);
    writeUint32(bytes, 8, 0);
    writeUint32(bytes, 12, 0);
    bytes[16] = info;
    bytes[17] = rmid;
    bytes[18] = 0;
    bytes[19] = 0;
    writeUint32(bytes, 20, 0);
    this.asmPayloadCrc = crc32cUpdateWords(
      INIT_CRC32C,
      bytes,
      this.scratch32,
      SizeOfXLogRecord,
      totLen,
    );
    this.asmFpwLsn = fpwLsn;
    this.asmNumFpi = numFpi;
    return totLen;
  }

  /**
   * XLogInsert: assembles the record with the WAL's redo pointer and full_page_writes, inserts
   * it, and ends the insertion. Returns the record's start LSN and its EndRecPtr — the LSN the
   * caller puts on every page the record changed.
   */
  insert(
    wal: XLogWriter,
    rmid: number,
    info: number,
    options: { readonly xid?: number } = {},
  ): XLogInsertResult {
    try {
      this.checkBegun("XLogInsert");
      const xid = options.xid ?? 0;
      // A refusal means a checkpoint moved the redo pointer (or turned full-page writes on)
      // since we looked: assemble again. Checkpoints are rare, so two rounds are the most one
      // expects; many in a row would mean a bug.
      for (let round = 0; round < 1000; round++) {
        // GetFullPageWriteInfo.
        const redoRecPtr = wal.insertRedoRecPtr();
        const doPageWrites = wal.insertDoPageWrites();
        const totLen = this.assembleInto(rmid, info, xid, redoRecPtr, doPageWrites);
        const record: AssembledRecord = {
          bytes: this.scratch,
          length: totLen,
          payloadCrc: this.asmPayloadCrc,
          fpwLsn: this.asmFpwLsn === 0 ? 0n : BigInt(this.asmFpwLsn),
          doPageWrites,
          numFpi: this.asmNumFpi,
          recordFlags: this.recordFlags,
        };
        const result = wal.insertRecord(record, FPW_RECHECK);
        if (result !== undefined) {
          this.lastRecEnd = result.endLsn;
          return result;
        }
      }
      throw new AssertionError("XLogInsert re-assembled its record 1000 times");
    } finally {
      this.resetInsertion();
    }
  }
}

/**
 * XLogSaveBufferForHint: when a hint bit is the first change to a page since the latest
 * checkpoint (its LSN is at or before the redo pointer), logs the page as XLOG_FPI_FOR_HINT
 * (rmgr XLOG, info 0xA0, block 0 registered REGBUF_STANDARD for a standard page, no data), so
 * that a torn write of the hinted page — whose checksum would no longer match — can be repaired
 * by redo. Returns the record's end LSN, which MarkBufferDirtyHint puts on the page if it was
 * clean, or undefined when nothing was logged.
 *
 * `page` is a copy taken under the buffer header lock (the caller holds a share lock, so hint
 * bits may still change in the buffer). Uses its own record state, so it may run while the
 * backend builds another record. The caller is inside `delayCheckpointStart` … `End`.
 */
export function xlogSaveBufferForHint(
  wal: XLogWriter,
  ins: XLogInsertState,
  page: Uint8Array,
  tag: BufferTag,
  bufferStd: boolean,
): XLogRecPtr | undefined {
  // Read the current redo pointer (GetRedoRecPtr) to decide.
  if (pageGetLsn(page) > wal.getRedoRecPtr()) return undefined;
  ins.beginInsert();
  ins.registerBuffer(
    0,
    {
      rel: { spcOid: tag.spcOid, dbOid: tag.dbOid, relNumber: tag.relNumber },
      fork: tag.fork as ForkNumber,
      block: tag.block,
      page,
    },
    bufferStd ? REGBUF_STANDARD : 0,
  );
  return ins.insert(wal, RM_XLOG_ID, XLOG_FPI_FOR_HINT).endLsn;
}

/** Options of `xlogPageHooks`. */
export interface XLogPageHookOptions {
  /**
   * XLogHintBitIsNeeded: data checksums (or wal_log_hints) are on, so hint bits on a page's
   * first change since a checkpoint are WAL-logged as a full-page image.
   */
  readonly logHints: boolean;
  /**
   * Whether a relation is WAL-logged (BM_PERMANENT in PostgreSQL): unlogged relations neither
   * flush WAL before their pages are written nor log hint images. Default: all are.
   */
  readonly isPermanent?: (tag: BufferTag) => boolean;
}

/**
 * The buffer manager's WAL hooks for one backend (pass them, with the checksum hooks, to
 * `attachBufferPool(shared, { pageHooks })`):
 * - `xlogFlush`: FlushBuffer's XLogFlush(page LSN) before a permanent page is written — WAL
 *   before data;
 * - `xlogNeedsFlush`: XLogNeedsFlush, for a bulk read deciding whether to reuse a dirty buffer;
 * - `logHint` (only with `logHints`): MarkBufferDirtyHint's XLogSaveBufferForHint;
 * - `delayCheckpoint`: DELAY_CHKPT_START around the hint image and the dirtying.
 */
export function xlogPageHooks(
  wal: XLogWriter,
  options: XLogPageHookOptions,
): Pick<PageHooks, "xlogFlush" | "xlogNeedsFlush" | "logHint" | "delayCheckpoint"> {
  const isPermanent = options.isPermanent ?? (() => true);
  // The hint image has its own record state: a hint may be set while the backend builds another
  // record (XLogSaveBufferForHint runs outside any XLogBeginInsert in PostgreSQL).
  const hintIns = new XLogInsertState();
  const hooks: Pick<PageHooks, "xlogFlush" | "xlogNeedsFlush" | "logHint" | "delayCheckpoint"> = {
    xlogFlush: (lsn, tag) => {
      if (isPermanent(tag)) wal.flush(lsn);
    },
    xlogNeedsFlush: (lsn) => wal.needsFlush(lsn),
    delayCheckpoint: (on) => {
      if (on) wal.delayCheckpointStart();
      else wal.delayCheckpointEnd();
    },
  };
  if (!options.logHints) return hooks;
  return {
    ...hooks,
    logHint: (page, tag, bufferStd) =>
      isPermanent(tag) ? xlogSaveBufferForHint(wal, hintIns, page, tag, bufferStd) : undefined,
  };
}

/**
 * XLogCheckBufferNeedsBackup: whether a change to `page` logged now would carry a full-page image
 * (full_page_writes on and the page not logged since the latest redo pointer). log_heap_update
 * asks it before deciding to leave the unchanged prefix and suffix of a tuple out of its record.
 */
export function xlogCheckBufferNeedsBackup(wal: XLogWriter, page: Uint8Array): boolean {
  const { redoRecPtr, doPageWrites } = wal.getFullPageWriteInfo();
  return doPageWrites && pageGetLsn(page) <= redoRecPtr;
}

/**
 * log_newpage_buffer: XLOG_FPI, a forced full-page image of `page` (hole left out when
 * `pageStd`), and the page's LSN set to the record's end unless the page is new (all zeros in
 * its header). VACUUM writes one for an empty page that was never WAL-logged before it marks
 * the page all-visible, so that redo of the VISIBLE record finds an initialized page. The caller
 * holds the buffer's exclusive lock and has marked it dirty.
 */
export function logNewpageBuffer(
  ins: XLogInsertState,
  wal: XLogWriter,
  ref: Required<XLogBlockRef>,
  pageStd: boolean,
  xid = 0,
): XLogInsertResult {
  ins.beginInsert();
  ins.registerBuffer(0, ref, REGBUF_FORCE_IMAGE | (pageStd ? REGBUF_STANDARD : 0));
  const result = ins.insert(wal, RM_XLOG_ID, XLOG_FPI, { xid });
  if (readUint16(ref.page, PD_UPPER_OFFSET) !== 0) pageSetLsn(ref.page, result.endLsn);
  return result;
}
