/**
 * The WAL itself: reserving space for a record, copying it into WAL buffer pages (with page
 * headers and continuation records), writing pages to 16 MB segment files in `pg_wal/`, and
 * syncing them when a caller needs its record durable.
 *
 * Models: src/backend/access/transam/xlog.c — XLogInsertRecord, ReserveXLogInsertLocation,
 * ReserveXLogSwitch, CopyXLogRecordToWAL, GetXLogBuffer, AdvanceXLInsertBuffer, XLogWrite,
 * XLogFlush, XLogFileInit / XLogFileInitInternal (zero-filled segments created under a temporary
 * name and renamed), issue_xlog_fsync, GetFullPageWriteInfo, GetXLogInsertRecPtr,
 * GetXLogWriteRecPtr, GetFlushRecPtr, and StartupXLOG's step that resumes insertion at the end of
 * existing WAL (the last partial page reloaded, its tail zeroed).
 * Entry points: `XLogWriter.open`, `insertRecord`, `flush`, `getFullPageWriteInfo`,
 * `setRedoRecPtr`, `close`; `finishXLogRecord`; `XLogInsertResult`.
 * See also: xloginsert.ts (assembles records), xlog-internal.ts (layout), xlogreader.ts (reads
 * back), docs/reference/postgres-wal.md §1.6–1.8, §7.2–7.5.
 *
 * Positions: records are placed by "usable byte position" (page headers not counted);
 * `currBytePos` is where the next record starts, `prevBytePos` where the last one started (its
 * LSN becomes the next record's xl_prev). Reserving = advancing currBytePos by MAXALIGN of the
 * record's length, so reservation order is WAL order. An XLOG_SWITCH reserves the rest of its
 * segment, whose remaining pages are written as zeros, headers included.
 *
 * The WAL buffers are a ring of `walBuffers` 8 KB pages; slot i holds the page whose end LSN is
 * xlblocks[i]. A page is initialized (zeroed, header written) when a record first needs it; if
 * its slot still holds an unwritten older page, that page is written first. XLogWrite writes
 * pages from the last written position up to a request, the current partial page whole (zeros
 * after the insert position; it is rewritten later), and syncs a segment when its last page is
 * written; XLogFlush writes and syncs everything inserted so far.
 *
 * Differs from PostgreSQL: one backend owns the WAL (no shared memory yet): no WAL insertion
 * locks, no insertpos_lck, no WALWriteLock, no group commit, no WAL writer process; the buffers
 * and positions are private (the buffers are typed arrays and the positions plain numbers, so
 * they can move into a SharedArrayBuffer with Atomics when backends share the WAL). No archiving,
 * no walsenders, no checkpoint request when too many segments fill (XLogCheckpointNeeded), no
 * segment recycling or removal, no pre-allocation of the next segment, no timeline switches.
 * wal_sync_method is fdatasync (PostgreSQL's default on Linux) or fsync, or "off" as fsync=off.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { writeBigInt64, writeUint32 } from "../../include/port/le-bytes.js";
import { crc32cFinish, crc32cUpdate } from "../../include/port/pg-crc32c.js";
import { XLOG_SWITCH } from "./pg-control.js";
import { RM_XLOG_ID } from "./rmgr.js";
import {
  type AssembledRecord,
  bytePosToLsn,
  checkWalSegSize,
  DEFAULT_XLOG_SEG_SIZE,
  lsnAsNumber,
  lsnToBytePos,
  readXLogPageHeader,
  SizeOfXLogLongPHD,
  SizeOfXLogShortPHD,
  writeXLogPageHeader,
  XLOG_BLCKSZ,
  XLOG_PAGE_MAGIC,
  XLP_BKP_REMOVABLE,
  XLP_FIRST_IS_CONTRECORD,
  XLP_LONG_HEADER,
  xlogFileName,
} from "./xlog-internal.js";
import { formatLsn, InvalidXLogRecPtr, type TimeLineID, type XLogRecPtr } from "./xlogdefs.js";
import { SizeOfXLogRecord, XL_CRC_OFFSET, XLR_INFO_MASK } from "./xlogrecord.js";

/** wal_sync_method (the Linux choices) or "off" (fsync=off: never sync). */
export type WalSyncMethod = "fdatasync" | "fsync" | "off";

/** Options of `XLogWriter.open`. */
export interface XLogWriterOptions {
  /** The pg_wal directory (created if missing). */
  readonly walDir: string;
  /** pg_control's system_identifier, written into every segment's long page header. */
  readonly systemIdentifier: bigint;
  /** Where the next record starts: a MAXALIGNed LSN past a page header. */
  readonly startLsn: XLogRecPtr;
  /** Start LSN of the record before it (the next record's xl_prev); 0 for the first record ever. */
  readonly prevLsn?: XLogRecPtr;
  /** Default 1. */
  readonly timeLineId?: TimeLineID;
  /** Default 16 MB. */
  readonly walSegSize?: number;
  /**
   * wal_buffers in 8 KB pages, from 4 to one segment. Default 512 (what -1 gives with
   * shared_buffers = 128 MB), or one segment if that is smaller.
   */
  readonly walBuffers?: number;
  /** full_page_writes. Default true. */
  readonly fullPageWrites?: boolean;
  /** The redo pointer of the latest checkpoint (RedoRecPtr). Default 0: every page gets an image. */
  readonly redoRecPtr?: XLogRecPtr;
  /** Default "fdatasync". */
  readonly walSyncMethod?: WalSyncMethod;
  /** wal_init_zero: new segments are written full of zeros (default) or just sized. */
  readonly walInitZero?: boolean;
}

/** Where a record landed. */
export interface XLogInsertResult {
  /** The record's LSN. */
  readonly startLsn: XLogRecPtr;
  /**
   * EndRecPtr: the MAXALIGNed end of the record (for an XLOG_SWITCH, the end of the 24-byte
   * record itself) — what goes into the pd_lsn of the pages the record changed.
   */
  readonly endLsn: XLogRecPtr;
  /** False only for an XLOG_SWITCH at the very start of a segment, which writes nothing. */
  readonly inserted: boolean;
}

/** Counters, for tests and benchmarks. */
export interface XLogWriterStats {
  readonly records: number;
  /** pwrite calls and bytes written to segment files. */
  readonly writes: number;
  readonly bytesWritten: number;
  /** fdatasync / fsync calls on segment files. */
  readonly syncs: number;
  readonly segmentsCreated: number;
}

function walError(code: string, message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError(code, message, detail);
}

/**
 * The WAL of one data directory, written by one backend.
 *
 * @example
 * ```ts
 * const wal = XLogWriter.open({ walDir: "data/pg_wal", systemIdentifier, startLsn: 0x1000028n });
 * const { endLsn } = ins.insert(wal, RM_HEAP_ID, XLOG_HEAP_INSERT, { xid });
 * wal.flush(endLsn); // the record is durable
 * wal.close();
 * ```
 */
export class XLogWriter {
  readonly walDir: string;
  readonly systemIdentifier: bigint;
  readonly timeLineId: TimeLineID;
  readonly walSegSize: number;
  readonly walSyncMethod: WalSyncMethod;
  readonly walInitZero: boolean;
  private fullPageWrites: boolean;
  private redoRecPtr: XLogRecPtr;

  /** Insert->CurrBytePos / PrevBytePos (−1: no previous record, xl_prev = 0). */
  private currBytePos: number;
  private prevBytePos: number;
  /** ProcLastRecPtr: start of the last record inserted (or the given prevLsn). */
  private lastRecPtr: number;

  /** The WAL buffers: `nbuffers` pages, and the end LSN of the page each slot holds. */
  private readonly nbuffers: number;
  private readonly pages: Uint8Array;
  private readonly xlblocks: Float64Array;
  /** XLogCtl->InitializedUpTo: end of the last initialized page. */
  private initializedUpTo: number;
  /** LogwrtResult: written and synced up to here. */
  private logwrtWrite: number;
  private logwrtFlush: number;

  /** The open segment file (openLogFile, openLogSegNo). */
  private openLogFile: number | null = null;
  private openLogSegNo = -1;
  private closed = false;

  private readonly counters = {
    records: 0,
    writes: 0,
    bytesWritten: 0,
    syncs: 0,
    segmentsCreated: 0,
  };

  private constructor(options: XLogWriterOptions) {
    this.walDir = options.walDir;
    this.systemIdentifier = options.systemIdentifier;
    this.timeLineId = options.timeLineId ?? 1;
    this.walSegSize = options.walSegSize ?? DEFAULT_XLOG_SEG_SIZE;
    this.walSyncMethod = options.walSyncMethod ?? "fdatasync";
    this.walInitZero = options.walInitZero ?? true;
    this.fullPageWrites = options.fullPageWrites ?? true;
    this.redoRecPtr = options.redoRecPtr ?? InvalidXLogRecPtr;
    checkWalSegSize(this.walSegSize);
    const nbuffers = options.walBuffers ?? Math.min(512, this.walSegSize / XLOG_BLCKSZ);
    if (!Number.isInteger(nbuffers) || nbuffers < 4 || nbuffers > this.walSegSize / XLOG_BLCKSZ) {
      throw walError(
        "invalid-wal-buffers",
        `wal_buffers must be from 4 pages to one segment (${this.walSegSize / XLOG_BLCKSZ} pages), got ${String(nbuffers)}`,
      );
    }
    this.nbuffers = nbuffers;
    this.pages = new Uint8Array(nbuffers * XLOG_BLCKSZ);
    this.xlblocks = new Float64Array(nbuffers);

    const start = lsnAsNumber(options.startLsn);
    const pageOffset = start % XLOG_BLCKSZ;
    const pageBegin = start - pageOffset;
    const headerSize = pageBegin % this.walSegSize === 0 ? SizeOfXLogLongPHD : SizeOfXLogShortPHD;
    if (start % 8 !== 0 || pageOffset < headerSize) {
      throw walError(
        "invalid-wal-position",
        `a record cannot start at ${formatLsn(options.startLsn)}: it must be 8-byte aligned and past the page header`,
      );
    }
    const prev = options.prevLsn ?? InvalidXLogRecPtr;
    if (prev >= options.startLsn) {
      throw walError(
        "invalid-wal-position",
        `the previous record (${formatLsn(prev)}) must start before ${formatLsn(options.startLsn)}`,
      );
    }
    this.currBytePos = lsnToBytePos(start, this.walSegSize);
    this.prevBytePos =
      prev === InvalidXLogRecPtr ? -1 : lsnToBytePos(lsnAsNumber(prev), this.walSegSize);
    this.lastRecPtr = lsnAsNumber(prev);

    if (pageOffset === headerSize) {
      // Nothing of this page is kept: it is initialized when the first record needs it.
      this.initializedUpTo = pageBegin;
      this.logwrtWrite = pageBegin;
      this.logwrtFlush = pageBegin;
    } else {
      // Resume inside a page: reload it from its segment and zero it after the insert position,
      // so nothing stale follows the new records (StartupXLOG, xlog.c).
      this.loadPartialPage(pageBegin, pageOffset);
      this.initializedUpTo = pageBegin + XLOG_BLCKSZ;
      this.logwrtWrite = start;
      this.logwrtFlush = start;
    }
  }

  /**
   * Opens the WAL for writing at `startLsn` (creating `walDir` if needed). A position just past a
   * page header starts that page afresh; any other position resumes inside an existing page,
   * which must be in its segment file.
   */
  static open(options: XLogWriterOptions): XLogWriter {
    fs.mkdirSync(options.walDir, { recursive: true, mode: 0o700 });
    return new XLogWriter(options);
  }

  private loadPartialPage(pageBegin: number, pageOffset: number): void {
    const segNo = Math.floor(pageBegin / this.walSegSize);
    const file = path.join(this.walDir, xlogFileName(this.timeLineId, segNo, this.walSegSize));
    const idx = this.bufIdx(pageBegin);
    const page = this.pages.subarray(idx * XLOG_BLCKSZ, (idx + 1) * XLOG_BLCKSZ);
    let fd: number;
    try {
      fd = fs.openSync(file, "r");
    } catch (e) {
      throw walError(
        "wal-resume-page-missing",
        `could not open file "${file}" to resume WAL at ${formatLsn(BigInt(pageBegin + pageOffset))}: ${(e as Error).message}`,
      );
    }
    try {
      const n = fs.readSync(fd, page, 0, XLOG_BLCKSZ, pageBegin % this.walSegSize);
      if (n !== XLOG_BLCKSZ) {
        throw walError(
          "wal-resume-page-missing",
          `could not read WAL page at ${formatLsn(BigInt(pageBegin))}: read ${n} of ${XLOG_BLCKSZ}`,
        );
      }
    } finally {
      fs.closeSync(fd);
    }
    const hdr = readXLogPageHeader(page, 0);
    if (hdr.magic !== XLOG_PAGE_MAGIC || hdr.pageAddr !== BigInt(pageBegin)) {
      throw walError(
        "wal-resume-page-missing",
        `WAL page at ${formatLsn(BigInt(pageBegin))} in "${file}" is not valid (magic ${hdr.magic.toString(16).toUpperCase()}, pageaddr ${formatLsn(hdr.pageAddr)})`,
      );
    }
    page.fill(0, pageOffset);
    this.xlblocks[idx] = pageBegin + XLOG_BLCKSZ;
  }

  private bufIdx(lsn: number): number {
    return Math.floor(lsn / XLOG_BLCKSZ) % this.nbuffers;
  }

  private checkOpen(): void {
    if (this.closed) throw walError("wal-closed", "the WAL writer is closed");
  }

  /** GetFullPageWriteInfo: the redo pointer and whether full-page images are taken. */
  getFullPageWriteInfo(): { readonly redoRecPtr: XLogRecPtr; readonly doPageWrites: boolean } {
    return { redoRecPtr: this.redoRecPtr, doPageWrites: this.fullPageWrites };
  }

  /** Sets RedoRecPtr, as a checkpoint does when it fixes its redo point. */
  setRedoRecPtr(lsn: XLogRecPtr): void {
    this.redoRecPtr = lsn;
  }

  /** Turns full_page_writes on or off. */
  setFullPageWrites(on: boolean): void {
    this.fullPageWrites = on;
  }

  /** GetXLogInsertRecPtr: where the next record will start. */
  getInsertRecPtr(): XLogRecPtr {
    return BigInt(bytePosToLsn(this.currBytePos, this.walSegSize, false));
  }

  /** The end of everything reserved so far (what XLogFlush flushes up to). */
  getInsertEndRecPtr(): XLogRecPtr {
    return BigInt(bytePosToLsn(this.currBytePos, this.walSegSize, true));
  }

  /** ProcLastRecPtr: start of the last record inserted. */
  getLastRecPtr(): XLogRecPtr {
    return BigInt(this.lastRecPtr);
  }

  /** GetXLogWriteRecPtr: written (not necessarily synced) up to here. */
  getWriteRecPtr(): XLogRecPtr {
    return BigInt(this.logwrtWrite);
  }

  /** GetFlushRecPtr: durable up to here. */
  getFlushRecPtr(): XLogRecPtr {
    return BigInt(this.logwrtFlush);
  }

  get stats(): XLogWriterStats {
    return { ...this.counters };
  }

  /**
   * XLogInsertRecord: reserves space for an assembled record, sets its xl_prev, finishes its CRC
   * and copies it into the WAL buffers. An XLOG_SWITCH also consumes and flushes the rest of its
   * segment. The record is durable only after `flush(endLsn)`.
   */
  insertRecord(record: AssembledRecord): XLogInsertResult {
    this.checkOpen();
    const rec = record.bytes;
    const totLen = rec.length;
    assert(totLen >= SizeOfXLogRecord, "a WAL record is at least 24 bytes");
    const rmid = rec[17]!;
    const info = rec[16]!;
    const isLogSwitch = rmid === RM_XLOG_ID && (info & ~XLR_INFO_MASK) === XLOG_SWITCH;

    // Reserve (ReserveXLogInsertLocation / ReserveXLogSwitch).
    const startBytePos = this.currBytePos;
    const prevBytePos = this.prevBytePos;
    let startPos: number;
    let endPos: number;
    if (isLogSwitch) {
      assert(totLen === SizeOfXLogRecord, "an XLOG_SWITCH record has no data");
      const here = bytePosToLsn(startBytePos, this.walSegSize, true);
      if (here % this.walSegSize === 0) {
        // Already at the start of a segment: nothing to switch.
        this.flushTo(here);
        return { startLsn: BigInt(here), endLsn: BigInt(here), inserted: false };
      }
      startPos = bytePosToLsn(startBytePos, this.walSegSize, false);
      endPos = bytePosToLsn(startBytePos + SizeOfXLogRecord, this.walSegSize, true);
      const segLeft = this.walSegSize - (endPos % this.walSegSize);
      if (segLeft !== this.walSegSize) endPos += segLeft;
      this.currBytePos = lsnToBytePos(endPos, this.walSegSize);
    } else {
      startPos = bytePosToLsn(startBytePos, this.walSegSize, false);
      const endBytePos = startBytePos + ((totLen + 7) & ~7);
      endPos = bytePosToLsn(endBytePos, this.walSegSize, true);
      this.currBytePos = endBytePos;
    }
    this.prevBytePos = startBytePos;
    const prevPtr = prevBytePos < 0 ? 0 : bytePosToLsn(prevBytePos, this.walSegSize, false);

    finishXLogRecord(record, BigInt(prevPtr));

    this.copyXLogRecordToWAL(rec, isLogSwitch, startPos, endPos);
    this.lastRecPtr = startPos;
    this.counters.records++;

    if (isLogSwitch) {
      // The switch is flushed at once, with the zeroed rest of its segment.
      this.flushTo(endPos);
      let switchEnd = startPos + SizeOfXLogRecord;
      if (Math.floor(startPos / XLOG_BLCKSZ) !== Math.floor(switchEnd / XLOG_BLCKSZ)) {
        switchEnd +=
          switchEnd % this.walSegSize === switchEnd % XLOG_BLCKSZ
            ? SizeOfXLogLongPHD
            : SizeOfXLogShortPHD;
      }
      return { startLsn: BigInt(startPos), endLsn: BigInt(switchEnd), inserted: true };
    }
    return { startLsn: BigInt(startPos), endLsn: BigInt(endPos), inserted: true };
  }

  /**
   * CopyXLogRecordToWAL: copies the record into the pages from `startPos`, writing xlp_rem_len and
   * XLP_FIRST_IS_CONTRECORD on each page it continues onto. A switch then zeroes the rest of its
   * segment, page headers included.
   */
  private copyXLogRecordToWAL(
    rec: Uint8Array,
    isLogSwitch: boolean,
    startPos: number,
    endPos: number,
  ): void {
    const writeLen = rec.length;
    let currPos = startPos;
    let at = this.getXLogBuffer(currPos);
    let freeSpace = insertFreeSpace(currPos);
    assert(freeSpace >= 4, "a record starts with at least xl_tot_len on its first page");
    let written = 0;
    while (writeLen - written > freeSpace) {
      this.pages.set(rec.subarray(written, written + freeSpace), at);
      written += freeSpace;
      currPos += freeSpace;
      // The next page: say how much of the record is still to come.
      at = this.getXLogBuffer(currPos);
      writeUint32(this.pages, at + 16, writeLen - written);
      this.pages[at + 2] = this.pages[at + 2]! | XLP_FIRST_IS_CONTRECORD;
      const hdr = currPos % this.walSegSize === 0 ? SizeOfXLogLongPHD : SizeOfXLogShortPHD;
      currPos += hdr;
      at += hdr;
      freeSpace = insertFreeSpace(currPos);
    }
    this.pages.set(rec.subarray(written), at);
    currPos += writeLen - written;

    if (isLogSwitch && currPos % this.walSegSize !== 0) {
      assert(endPos % this.walSegSize === 0, "a switch reserves up to a segment boundary");
      // The rest of this page is zero already; the remaining pages become all zeros.
      currPos += insertFreeSpace(currPos);
      while (currPos < endPos) {
        const p = this.getXLogBuffer(currPos);
        this.pages.fill(0, p, p + SizeOfXLogShortPHD);
        currPos += XLOG_BLCKSZ;
      }
    } else {
      currPos = (currPos + 7) & ~7;
    }
    assert(currPos === endPos, "space reserved for WAL record does not match what was written");
  }

  /**
   * GetXLogBuffer: the offset in `pages` of WAL position `ptr`, initializing its page (and any
   * before it) first if needed.
   */
  private getXLogBuffer(ptr: number): number {
    const pageBegin = ptr - (ptr % XLOG_BLCKSZ);
    const idx = this.bufIdx(pageBegin);
    if (this.xlblocks[idx] !== pageBegin + XLOG_BLCKSZ) {
      this.advanceXLInsertBuffer(ptr);
      assert(this.xlblocks[idx] === pageBegin + XLOG_BLCKSZ, "WAL page not initialized");
    }
    return idx * XLOG_BLCKSZ + (ptr % XLOG_BLCKSZ);
  }

  /**
   * AdvanceXLInsertBuffer: initializes pages up to the one holding `upto`, writing out the older
   * page a slot still holds when it was not written yet.
   */
  private advanceXLInsertBuffer(upto: number): void {
    let bound = Math.ceil((upto + 1 - this.initializedUpTo) / XLOG_BLCKSZ) + 1;
    while (upto >= this.initializedUpTo) {
      assert(bound-- > 0, "AdvanceXLInsertBuffer ran past its bound");
      const idx = this.bufIdx(this.initializedUpTo);
      const oldPageEnd = this.xlblocks[idx]!;
      if (this.logwrtWrite < oldPageEnd) this.xlogWrite(oldPageEnd, 0);
      const newPageBegin = this.initializedUpTo;
      const at = idx * XLOG_BLCKSZ;
      this.pages.fill(0, at, at + XLOG_BLCKSZ);
      const longHeader = newPageBegin % this.walSegSize === 0;
      // pgsim never runs online backups, so pages are always XLP_BKP_REMOVABLE.
      writeXLogPageHeader(this.pages, at, {
        magic: XLOG_PAGE_MAGIC,
        info: XLP_BKP_REMOVABLE | (longHeader ? XLP_LONG_HEADER : 0),
        tli: this.timeLineId,
        pageAddr: BigInt(newPageBegin),
        remLen: 0,
        sysid: this.systemIdentifier,
        segSize: this.walSegSize,
        xlogBlcksz: XLOG_BLCKSZ,
      });
      this.xlblocks[idx] = newPageBegin + XLOG_BLCKSZ;
      this.initializedUpTo = newPageBegin + XLOG_BLCKSZ;
    }
  }

  /**
   * XLogWrite: writes buffer pages up to `writeRqst` (the last one whole even if partly filled),
   * syncing each segment as its last page is written, then syncs up to `flushRqst` if asked.
   */
  private xlogWrite(writeRqst: number, flushRqst: number): void {
    let npages = 0;
    let startIdx = 0;
    let startOffset = 0;
    let currIdx = this.bufIdx(this.logwrtWrite);
    let bound = Math.ceil((writeRqst - this.logwrtWrite) / XLOG_BLCKSZ) + 1;
    while (this.logwrtWrite < writeRqst) {
      assert(bound-- > 0, "XLogWrite ran past its bound");
      const endPtr = this.xlblocks[currIdx]!;
      assert(
        this.logwrtWrite < endPtr,
        `xlog write request ${formatLsn(BigInt(writeRqst))} is past end of log ${formatLsn(BigInt(endPtr))}`,
      );
      this.logwrtWrite = endPtr;
      const isPartialPage = writeRqst < this.logwrtWrite;
      const segNo = Math.floor((this.logwrtWrite - 1) / this.walSegSize);
      if (segNo !== this.openLogSegNo) {
        assert(npages === 0, "no pending pages when switching segments");
        this.closeLogFile();
        this.openLogFile = this.xlogFileInit(segNo);
        this.openLogSegNo = segNo;
      }
      if (npages === 0) {
        startIdx = currIdx;
        startOffset = (this.logwrtWrite - XLOG_BLCKSZ) % this.walSegSize;
      }
      npages++;
      const lastIteration = writeRqst <= this.logwrtWrite;
      const finishingSeg = !isPartialPage && startOffset + npages * XLOG_BLCKSZ >= this.walSegSize;
      if (lastIteration || currIdx === this.nbuffers - 1 || finishingSeg) {
        const from = startIdx * XLOG_BLCKSZ;
        const nbytes = npages * XLOG_BLCKSZ;
        let done = 0;
        while (done < nbytes) {
          done += fs.writeSync(
            this.openLogFile!,
            this.pages,
            from + done,
            nbytes - done,
            startOffset + done,
          );
        }
        this.counters.writes++;
        this.counters.bytesWritten += nbytes;
        npages = 0;
        if (finishingSeg) {
          this.issueXLogFsync(this.openLogFile!);
          this.logwrtFlush = this.logwrtWrite;
        }
      }
      if (isPartialPage) {
        this.logwrtWrite = writeRqst;
        break;
      }
      currIdx = (currIdx + 1) % this.nbuffers;
    }
    if (this.logwrtFlush < flushRqst && this.logwrtFlush < this.logwrtWrite) {
      // Only the segment holding the write position can have unsynced bytes: segments are
      // synced as they are finished.
      const segNo = Math.floor((this.logwrtWrite - 1) / this.walSegSize);
      if (segNo !== this.openLogSegNo) {
        this.closeLogFile();
        this.openLogFile = this.xlogFileInit(segNo);
        this.openLogSegNo = segNo;
      }
      this.issueXLogFsync(this.openLogFile!);
      this.logwrtFlush = this.logwrtWrite;
    }
  }

  /**
   * XLogFlush: makes the WAL durable up to at least `lsn` — writing and syncing everything
   * inserted so far, as PostgreSQL does. Throws `wal-flush-past-end` for a position beyond what
   * was inserted.
   */
  flush(lsn: XLogRecPtr): void {
    this.checkOpen();
    this.flushTo(lsnAsNumber(lsn));
  }

  private flushTo(lsn: number): void {
    if (lsn <= this.logwrtFlush) return;
    const insertEnd = bytePosToLsn(this.currBytePos, this.walSegSize, true);
    if (lsn > insertEnd) {
      throw walError(
        "wal-flush-past-end",
        `xlog flush request ${formatLsn(BigInt(lsn))} is not satisfied --- flushed only to ${formatLsn(BigInt(this.logwrtFlush))}`,
        { request: BigInt(lsn), insertEnd: BigInt(insertEnd) },
      );
    }
    this.xlogWrite(insertEnd, insertEnd);
  }

  /** issue_xlog_fsync. */
  private issueXLogFsync(fd: number): void {
    if (this.walSyncMethod === "off") return;
    if (this.walSyncMethod === "fsync") fs.fsyncSync(fd);
    else fs.fdatasyncSync(fd);
    this.counters.syncs++;
  }

  /**
   * XLogFileInit: opens segment `segNo`, creating it first if it does not exist: written full of
   * zeros (or just sized) under `xlogtemp.<pid>`, synced, then renamed into place.
   */
  private xlogFileInit(segNo: number): number {
    const name = xlogFileName(this.timeLineId, segNo, this.walSegSize);
    const file = path.join(this.walDir, name);
    try {
      return fs.openSync(file, fs.constants.O_RDWR);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const tmp = path.join(this.walDir, `xlogtemp.${process.pid}`);
    fs.rmSync(tmp, { force: true });
    const fd = fs.openSync(
      tmp,
      fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL,
      0o600,
    );
    try {
      if (this.walInitZero) {
        const zeros = new Uint8Array(Math.min(this.walSegSize, 1 << 20));
        for (let off = 0; off < this.walSegSize; off += zeros.length) {
          let done = 0;
          while (done < zeros.length)
            done += fs.writeSync(fd, zeros, done, zeros.length - done, off + done);
        }
      } else {
        fs.writeSync(fd, new Uint8Array(1), 0, 1, this.walSegSize - 1);
      }
      if (this.walSyncMethod !== "off") fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    if (this.walSyncMethod !== "off") {
      const dirFd = fs.openSync(this.walDir, "r");
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    }
    this.counters.segmentsCreated++;
    return fs.openSync(file, fs.constants.O_RDWR);
  }

  private closeLogFile(): void {
    if (this.openLogFile !== null) fs.closeSync(this.openLogFile);
    this.openLogFile = null;
    this.openLogSegNo = -1;
  }

  /**
   * Flushes everything inserted (unless `flush: false`, which leaves unwritten WAL behind as a
   * crash would) and closes the segment file. Idempotent.
   */
  close(options: { readonly flush?: boolean } = {}): void {
    if (this.closed) return;
    try {
      if (options.flush ?? true)
        this.flushTo(bytePosToLsn(this.currBytePos, this.walSegSize, true));
    } finally {
      this.closeLogFile();
      this.closed = true;
    }
  }
}

/**
 * The last step of assembling a record, once its place in the WAL is known (XLogInsertRecord):
 * sets xl_prev and folds the first 20 header bytes into the payload's CRC to give xl_crc. The
 * record's bytes are changed in place: an assembled record is inserted once.
 */
export function finishXLogRecord(record: AssembledRecord, prev: XLogRecPtr): void {
  const rec = record.bytes;
  writeBigInt64(rec, 8, prev);
  const crc = crc32cFinish(crc32cUpdate(record.payloadCrc, rec, 0, XL_CRC_OFFSET));
  writeUint32(rec, XL_CRC_OFFSET, crc);
}

/** INSERT_FREESPACE: bytes left on the page of `endPtr` (0 at a page boundary). */
function insertFreeSpace(endPtr: number): number {
  const off = endPtr % XLOG_BLCKSZ;
  return off === 0 ? 0 : XLOG_BLCKSZ - off;
}
