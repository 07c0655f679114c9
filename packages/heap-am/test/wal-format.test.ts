// The WAL format layer without a server: CRC-32C, LSN arithmetic, page headers, record assembly
// and decoding, the writer and the reader, pg_control. Byte examples come from
// docs/reference/postgres-wal.md (verified there against PostgreSQL 15.18) and must be reproduced
// exactly, CRCs included. PostgreSQL's own tools read pgsim's files in test/wal-pg15.test.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PgsimError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { heapFormTuple } from "../src/access/common/heaptuple.js";
import { createTupleDesc } from "../src/access/common/tupdesc.js";
import { logHeapInsert } from "../src/access/heap/heapam-xlog.js";
import {
  bootstrapControlFile,
  type CheckPoint,
  DBState,
  decodeCheckPoint,
  decodeControlFile,
  encodeCheckPoint,
  encodeControlFile,
  readControlFile,
  SizeOfCheckPoint,
  writeControlFile,
  XLOG_CHECKPOINT_SHUTDOWN,
  XLOG_NOOP,
  XLOG_SWITCH,
} from "../src/access/transam/pg-control.js";
import {
  RM_HEAP_ID,
  RM_HEAP2_ID,
  RM_XACT_ID,
  RM_XLOG_ID,
  rmgrName,
} from "../src/access/transam/rmgr.js";
import {
  encodeXactCompletion,
  parseXactCompletion,
  XLOG_XACT_COMMIT,
  xactLogCommitRecord,
} from "../src/access/transam/xact-xlog.js";
import { finishXLogRecord, XLogWriter } from "../src/access/transam/xlog.js";
import { formatWalDumpRecord, timestampTzToString } from "../src/access/transam/xlog-desc.js";
import {
  parseXLogFileName,
  readXLogPageHeader,
  usableBytesInSegment,
  writeXLogPageHeader,
  XLOG_PAGE_MAGIC,
  XLP_BKP_REMOVABLE,
  XLP_FIRST_IS_CONTRECORD,
  XLP_LONG_HEADER,
  xlByteToPrevSeg,
  xlByteToSeg,
  xlogBytePosToEndRecPtr,
  xlogBytePosToRecPtr,
  xlogFileName,
  xlogRecPtrToBytePos,
  xlogSegmentOffset,
} from "../src/access/transam/xlog-internal.js";
import { formatLsn, formatLsnPadded, parseLsn } from "../src/access/transam/xlogdefs.js";
import {
  REGBUF_FORCE_IMAGE,
  REGBUF_KEEP_DATA,
  REGBUF_NO_IMAGE,
  REGBUF_STANDARD,
  REGBUF_WILL_INIT,
  XLogInsertState,
} from "../src/access/transam/xloginsert.js";
import {
  decodeXLogRecord,
  restoreBlockImage,
  validXLogRecord,
  XLogReader,
} from "../src/access/transam/xlogreader.js";
import {
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BKPBLOCK_WILL_INIT,
} from "../src/access/transam/xlogrecord.js";
import { XLOG_HEAP_INIT_PAGE, XLOG_HEAP_INSERT } from "../src/include/access/heapam-xlog.js";
import {
  HEAP_XMAX_INVALID,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetXmin,
} from "../src/include/access/htup-details.js";
import { bytesToHex, hexToBytes } from "../src/include/port/le-bytes.js";
import { crc32c, crc32cFinish, crc32cUpdate, INIT_CRC32C } from "../src/include/port/pg-crc32c.js";
import {
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageInit,
  pageSetLsn,
} from "../src/storage/page/bufpage.js";

const hex = (s: string) => hexToBytes(s.replace(/[\s|]/g, ""));
const REL = { spcOid: 1663, dbOid: 5, relNumber: 16384 };
const MB = 1024 * 1024;

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-wal-"));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** The first offset where two byte arrays differ (or the shorter length), -1 if they are equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (Buffer.compare(a, b) === 0) return -1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** A bitwise CRC-32C: the definition, to check the table-driven one against. */
function crc32cBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** The int4 tuple `value` as heap_insert places it: xmin, ctid, XMAX_INVALID. */
function int4Tuple(value: number, xmin: number, offnum: number): Uint8Array {
  const desc = createTupleDesc([{ name: "id", type: "int4" }]);
  const tuple = heapFormTuple(desc, [value]);
  heapTupleHeaderSetXmin(tuple, 0, xmin);
  heapTupleHeaderSetCtid(tuple, 0, { block: 0, offset: offnum });
  heapTupleHeaderSetInfomask(tuple, 0, HEAP_XMAX_INVALID);
  return tuple;
}

/** Assembles a record and gives it a place: xl_prev set, CRC finished. */
function assembleAt(
  ins: XLogInsertState,
  rmid: number,
  info: number,
  opts: { xid: number; prev: bigint; redoRecPtr?: bigint; doPageWrites?: boolean },
): Uint8Array {
  const rec = ins.assemble(rmid, info, {
    xid: opts.xid,
    redoRecPtr: opts.redoRecPtr ?? 0n,
    doPageWrites: opts.doPageWrites ?? true,
  });
  ins.resetInsertion();
  finishXLogRecord(rec, opts.prev);
  return rec.bytes;
}

describe("CRC-32C", () => {
  it("has the check value 0xE3069283 and matches the bitwise definition", () => {
    const check = new TextEncoder().encode("123456789");
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32cBitwise(check)).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("is the same in any number of pieces and equals the bitwise CRC (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (bytes, cut) => {
        const at = Math.min(cut, bytes.length);
        const whole = crc32c(bytes);
        const pieces = crc32cFinish(
          crc32cUpdate(crc32cUpdate(INIT_CRC32C, bytes, 0, at), bytes, at, bytes.length),
        );
        expect(pieces).toBe(whole);
        expect(whole).toBe(crc32cBitwise(bytes));
      }),
      { numRuns: 300 },
    );
  });
});

describe("LSNs, segments and pages (postgres-wal.md §1)", () => {
  it("formats and parses LSNs as PostgreSQL does", () => {
    expect(formatLsn(0x175b648n)).toBe("0/175B648");
    expect(formatLsnPadded(0x175b648n)).toBe("0/0175B648");
    expect(formatLsn((0xabn << 32n) | 0x10n)).toBe("AB/10");
    expect(parseLsn("0/175B648")).toBe(0x175b648n);
    expect(() => parseLsn("0/1/2")).toThrow(/invalid input syntax for type pg_lsn/);
  });

  it("names segments and finds offsets (0/0175B648 is 000000010000000000000001 + 0x75B648)", () => {
    expect(xlByteToSeg(0x175b648n, 16 * MB)).toBe(1);
    expect(xlogFileName(1, 1, 16 * MB)).toBe("000000010000000000000001");
    expect(xlogSegmentOffset(0x175b648n, 16 * MB)).toBe(0x75b648);
    expect(xlogFileName(1, 0x1ff, 16 * MB)).toBe("0000000100000001000000FF");
    expect(parseXLogFileName("0000000100000001000000FF", 16 * MB)).toEqual({
      tli: 1,
      segNo: 0x1ff,
    });
    // An end pointer on a boundary belongs to the segment before.
    expect(xlByteToPrevSeg(0x2000000n, 16 * MB)).toBe(1);
  });

  it("converts usable byte positions: 16 728 048 per segment; ends may sit on a page boundary", () => {
    expect(usableBytesInSegment(16 * MB)).toBe(16_728_048);
    // The first record after bootstrap: segment 1, past the long header.
    expect(xlogBytePosToRecPtr(usableBytesInSegment(16 * MB), 16 * MB)).toBe(0x1000028n);
    // A 6637-byte record at 0/0200E610 ends at 0/02010000; the next starts at 0/02010018.
    const start = xlogRecPtrToBytePos(0x200e610n, 16 * MB);
    const end = start + 6640;
    expect(xlogBytePosToEndRecPtr(end, 16 * MB)).toBe(0x2010000n);
    expect(xlogBytePosToRecPtr(end, 16 * MB)).toBe(0x2010018n);
    expect(xlogRecPtrToBytePos(0x2010000n, 16 * MB)).toBe(end);
    expect(xlogRecPtrToBytePos(0x2010018n, 16 * MB)).toBe(end);
  });

  it("round-trips every byte position through both conversions (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.constantFrom(MB, 16 * MB, 64 * MB),
        (pos, seg) => {
          expect(xlogRecPtrToBytePos(xlogBytePosToRecPtr(pos, seg), seg)).toBe(pos);
          expect(xlogRecPtrToBytePos(xlogBytePosToEndRecPtr(pos, seg), seg)).toBe(pos);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("writes the long page header of segment 2 byte for byte (§1.4)", () => {
    const bytes = new Uint8Array(40);
    writeXLogPageHeader(bytes, 0, {
      magic: XLOG_PAGE_MAGIC,
      info: XLP_LONG_HEADER | XLP_BKP_REMOVABLE,
      tli: 1,
      pageAddr: 0x2000000n,
      remLen: 0,
      sysid: 0x6b0f33afce97d8ecn,
      segSize: 16 * MB,
      xlogBlcksz: 8192,
    });
    expect(bytesToHex(bytes)).toBe(
      bytesToHex(
        hex("10d1060001000000 0000000200000000 0000000000000000 ecd897ceaf330f6b 0000000100200000"),
      ),
    );
    expect(readXLogPageHeader(bytes)).toMatchObject({
      info: 6,
      pageAddr: 0x2000000n,
      segSize: 16 * MB,
    });
  });
});

describe("records byte for byte (postgres-wal.md §12, §5.5)", () => {
  it("INSERT+INIT of (1) by xid 725: the 59 bytes at 0/0175B648, CRC 0xE6F27453 (§12.2)", () => {
    const page = new Uint8Array(8192);
    pageInit(page);
    const tuple = int4Tuple(1, 725, 1);
    expect(pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP)).toBe(1);
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(hex("0100 00"));
    ins.registerBuffer(
      0,
      { rel: REL, fork: 0, block: 0, page },
      REGBUF_STANDARD | REGBUF_WILL_INIT,
    );
    ins.registerBufData(0, hex("0100 0008 18"));
    ins.registerBufData(0, tuple.subarray(23));
    const bytes = assembleAt(ins, RM_HEAP_ID, XLOG_HEAP_INSERT | XLOG_HEAP_INIT_PAGE, {
      xid: 725,
      prev: 0x1759978n,
    });
    expect(bytesToHex(bytes)).toBe(
      bytesToHex(
        hex(`3b000000 d5020000 78997501 00000000 80 0a 0000 5374f2e6
             00 60 0a00 7f060000 05000000 00400000 00000000 ff 03
             0100 0008 18 00 01000000 0100 00`),
      ),
    );
    const rec = decodeXLogRecord(bytes, 0x175b648n);
    validXLogRecord(bytes, 0x175b648n);
    expect(rec.header).toMatchObject({
      totLen: 59,
      xid: 725,
      prev: 0x1759978n,
      info: 0x80,
      rmid: 10,
      crc: 0xe6f27453,
    });
    expect(rec.blocks).toHaveLength(1);
    expect(rec.blocks[0]).toMatchObject({
      id: 0,
      rel: REL,
      fork: 0,
      block: 0,
      willInit: true,
      image: null,
    });
    expect(formatWalDumpRecord(rec)).toBe(
      "rmgr: Heap        len (rec/tot):     59/    59, tx:        725, lsn: 0/0175B648, prev 0/01759978, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/5/16384 blk 0",
    );
  });

  it("the minimal COMMIT of xid 725: 34 bytes, CRC 0xCFA54A0E (§12.3)", () => {
    const { info, mainData } = encodeXactCompletion(XLOG_XACT_COMMIT, {
      xactTime: 0x000304977c44ecb5n,
    });
    expect(info).toBe(0);
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(mainData);
    const bytes = assembleAt(ins, RM_XACT_ID, info, { xid: 725, prev: 0x175b648n });
    expect(bytesToHex(bytes)).toBe(
      bytesToHex(
        hex("22000000 d5020000 48b67501 00000000 00 01 0000 0e4aa5cf ff 08 b5ec447c 97040300"),
      ),
    );
    const rec = decodeXLogRecord(bytes, 0x175b688n);
    expect(parseXactCompletion(rec.header.info, rec.mainData)).toEqual({
      xactTime: 0x000304977c44ecb5n,
      xinfo: 0,
    });
    expect(timestampTzToString(0x000304977c44ecb5n)).toBe("2026-12-01 20:53:21.596597 UTC");
    expect(formatWalDumpRecord(rec)).toBe(
      "rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/0175B688, prev 0/0175B648, desc: COMMIT 2026-12-01 20:53:21.596597 UTC",
    );
  });

  it("INSERT of (2) with a full-page image and its hole left out: 150 bytes, CRC 0xFF725B23 (§12.4)", () => {
    const page = new Uint8Array(8192);
    pageInit(page);
    expect(pageAddItemExtended(page, int4Tuple(1, 725, 1), 0, PAI_IS_HEAP)).toBe(1);
    const tuple2 = int4Tuple(2, 727, 2);
    expect(pageAddItemExtended(page, tuple2, 0, PAI_IS_HEAP)).toBe(2);
    pageSetLsn(page, 0x175b688n);
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(hex("0200 00"));
    ins.registerBuffer(0, { rel: REL, fork: 0, block: 0, page }, REGBUF_STANDARD);
    ins.registerBufData(0, hex("0100 0008 18"));
    ins.registerBufData(0, tuple2.subarray(23));
    // A checkpoint whose redo pointer is past the page's LSN: the first change takes an image.
    const bytes = assembleAt(ins, RM_HEAP_ID, XLOG_HEAP_INSERT, {
      xid: 727,
      prev: 0x175b748n,
      redoRecPtr: 0x175b6e0n,
    });
    const tupleSlot = (xmin: string, off: string, v: string) =>
      `${xmin} 00000000 00000000 0000 0000 ${off} 0100 0008 18 00 ${v} 00000000`;
    expect(bytesToHex(bytes)).toBe(
      bytesToHex(
        hex(`96000000 d7020000 48b77501 00000000 00 0a 0000 235b72ff
             00 10 0000 6000 2000 03 7f060000 05000000 00400000 00000000 ff 03
             00000000 88b67501 0000 0000 2000 c01f 0020 0420 00000000 e09f3800 c09f3800
             ${tupleSlot("d7020000", "0200", "02000000")}
             ${tupleSlot("d5020000", "0100", "01000000")}
             0200 00`),
      ),
    );
    const rec = decodeXLogRecord(bytes, 0x175b7c0n);
    const image = rec.blocks[0]!.image!;
    expect(image).toMatchObject({ length: 96, holeOffset: 32, holeLength: 8096, apply: true });
    expect(rec.blocks[0]!.data.length).toBe(0);
    expect(restoreBlockImage(rec.blocks[0]!)).toEqual(page);
    expect(formatWalDumpRecord(rec)).toBe(
      "rmgr: Heap        len (rec/tot):     54/   150, tx:        727, lsn: 0/0175B7C0, prev 0/0175B748, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/5/16384 blk 0 FPW",
    );
    expect(formatWalDumpRecord(rec, { detailed: true })).toBe(
      "rmgr: Heap        len (rec/tot):     54/   150, tx:        727, lsn: 0/0175B7C0, prev 0/0175B748, desc: INSERT off 2 flags 0x00\n" +
        "\tblkref #0: rel 1663/5/16384 fork main blk 0 (FPW); hole: offset: 32, length: 8096",
    );
  });

  it("a MULTI_INSERT of three tuples, assembled from its parts: 92 bytes, CRC 0xBA98831F (§5.5)", () => {
    const page = new Uint8Array(8192);
    pageInit(page);
    pageSetLsn(page, 0x175b900n);
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(hex("02 00 0300 0500 0600 0700"));
    ins.registerBuffer(0, { rel: REL, fork: 0, block: 0, page }, REGBUF_STANDARD);
    for (const v of ["05", "06", "07"])
      ins.registerBufData(0, hex(`0500 0100 0008 18 00 ${v}000000`));
    const bytes = assembleAt(ins, RM_HEAP2_ID, 0x50, {
      xid: 729,
      prev: 0x175b938n,
      redoRecPtr: 0x1759560n,
    });
    expect(bytesToHex(bytes)).toBe(
      bytesToHex(
        hex(`5c000000 d9020000 38b97501 00000000 50 09 0000 1f8398ba
             00 20 2400 7f060000 05000000 00400000 00000000 ff 0a
             0500 0100 0008 18 00 05000000 0500 0100 0008 18 00 06000000 0500 0100 0008 18 00 07000000
             02 00 0300 0500 0600 0700`),
      ),
    );
  });

  it("a shutdown checkpoint record is exactly 114 bytes and pg_waldump's description", () => {
    const cp: CheckPoint = {
      redo: 0x2033e00n,
      thisTimeLineID: 1,
      prevTimeLineID: 1,
      fullPageWrites: true,
      nextXid: 762n,
      nextOid: 24579,
      nextMulti: 1,
      nextMultiOffset: 0,
      oldestXid: 716,
      oldestXidDB: 1,
      oldestMulti: 1,
      oldestMultiDB: 1,
      time: 1_700_000_000n,
      oldestCommitTsXid: 0,
      newestCommitTsXid: 0,
      oldestActiveXid: 0,
    };
    expect(encodeCheckPoint(cp).length).toBe(SizeOfCheckPoint);
    expect(decodeCheckPoint(encodeCheckPoint(cp))).toEqual(cp);
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerData(encodeCheckPoint(cp));
    const bytes = assembleAt(ins, RM_XLOG_ID, XLOG_CHECKPOINT_SHUTDOWN, {
      xid: 0,
      prev: 0x2033d80n,
    });
    expect(bytes.length).toBe(114);
    expect(formatWalDumpRecord(decodeXLogRecord(bytes, 0x2033e00n))).toBe(
      "rmgr: XLOG        len (rec/tot):    114/   114, tx:          0, lsn: 0/02033E00, prev 0/02033D80, desc: CHECKPOINT_SHUTDOWN redo 0/2033E00; tli 1; prev tli 1; fpw true; xid 0:762; oid 24579; multi 1; offset 0; oldest xid 716 in DB 1; oldest multi 1 in DB 1; oldest/newest commit timestamp xid: 0/0; oldest running xid 0; shutdown",
    );
  });

  it("names resource managers as pg_waldump does", () => {
    expect(rmgrName(0)).toBe("XLOG");
    expect(rmgrName(10)).toBe("Heap");
    expect(rmgrName(21)).toBe("LogicalMessage");
    expect(rmgrName(22)).toBeUndefined();
    expect(rmgrName(200)).toBe("custom200");
  });
});

// ---------------------------------------------------------------------------------------------
// Assembly and decoding: a property over random registrations.

const RELS = [
  REL,
  { spcOid: 1663, dbOid: 5, relNumber: 16385 },
  { spcOid: 1664, dbOid: 0, relNumber: 1262 },
];
const FLAG_CHOICES = [
  0,
  REGBUF_STANDARD,
  REGBUF_STANDARD | REGBUF_KEEP_DATA,
  REGBUF_FORCE_IMAGE,
  REGBUF_FORCE_IMAGE | REGBUF_STANDARD,
  REGBUF_NO_IMAGE,
  REGBUF_WILL_INIT | REGBUF_STANDARD,
];

const blockArb = fc.record({
  rel: fc.constantFrom(...RELS),
  fork: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const),
  block: fc.nat(),
  flags: fc.constantFrom(...FLAG_CHOICES),
  pageLsn: fc.bigInt({ min: 0n, max: 1000n }),
  lower: fc.integer({ min: 0, max: 8192 }),
  upper: fc.integer({ min: 0, max: 8192 }),
  fill: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 300 }),
});

const recordArb = fc.record({
  ids: fc.uniqueArray(fc.integer({ min: 0, max: 32 }), { maxLength: 5 }),
  blocks: fc.array(blockArb, { minLength: 5, maxLength: 5 }),
  main: fc.uint8Array({ maxLength: 600 }),
  redo: fc.bigInt({ min: 0n, max: 1000n }),
  doPageWrites: fc.boolean(),
  xid: fc.nat(),
  prev: fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }),
});

function pageFor(b: { lower: number; upper: number; fill: number; pageLsn: bigint }): Uint8Array {
  const page = new Uint8Array(8192);
  for (let i = 0; i < page.length; i++) page[i] = (i * 31 + b.fill) & 0xff;
  new DataView(page.buffer).setUint16(12, b.lower, true);
  new DataView(page.buffer).setUint16(14, b.upper, true);
  pageSetLsn(page, b.pageLsn);
  return page;
}

describe("assembling and decoding records", () => {
  it("decodes what was registered, with images by PostgreSQL's rules (property)", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const ids = [...r.ids].sort((a, b) => a - b);
        const ins = new XLogInsertState();
        ins.beginInsert();
        const regs = ids.map((id, i) => {
          const b = r.blocks[i]!;
          const page = pageFor(b);
          ins.registerBuffer(id, { rel: b.rel, fork: b.fork, block: b.block, page }, b.flags);
          if (b.data.length > 0) ins.registerBufData(id, b.data);
          return { id, b, page };
        });
        if (r.main.length > 0) ins.registerData(r.main);
        const bytes = assembleAt(ins, RM_HEAP_ID, XLOG_HEAP_INSERT, {
          xid: r.xid,
          prev: r.prev,
          redoRecPtr: r.redo,
          doPageWrites: r.doPageWrites,
        });
        validXLogRecord(bytes);
        const rec = decodeXLogRecord(bytes);
        expect(rec.header).toMatchObject({
          totLen: bytes.length,
          xid: r.xid,
          prev: r.prev,
          rmid: RM_HEAP_ID,
        });
        expect(bytesToHex(rec.mainData)).toBe(bytesToHex(r.main));
        expect(rec.blocks.map((b) => b.id)).toEqual(ids);
        regs.forEach(({ b, page }, i) => {
          const got = rec.blocks[i]!;
          expect(got).toMatchObject({ rel: b.rel, fork: b.fork, block: b.block });
          expect((got.flags & BKPBLOCK_SAME_REL) !== 0).toBe(i > 0 && regs[i - 1]!.b.rel === b.rel);
          expect(got.willInit).toBe((b.flags & REGBUF_WILL_INIT) === REGBUF_WILL_INIT);
          const wantImage =
            (b.flags & REGBUF_FORCE_IMAGE) !== 0 ||
            ((b.flags & REGBUF_NO_IMAGE) === 0 && r.doPageWrites && b.pageLsn <= r.redo);
          expect(got.image !== null).toBe(wantImage);
          expect((got.flags & BKPBLOCK_HAS_IMAGE) !== 0).toBe(wantImage);
          const keepData = !wantImage || (b.flags & REGBUF_KEEP_DATA) !== 0;
          expect(bytesToHex(got.data)).toBe(keepData ? bytesToHex(b.data) : "");
          expect((got.flags & BKPBLOCK_HAS_DATA) !== 0).toBe(got.data.length > 0);
          if (got.image !== null) {
            const standardHole =
              (b.flags & REGBUF_STANDARD) !== 0 &&
              b.lower >= 24 &&
              b.upper > b.lower &&
              b.upper <= 8192;
            const expected = page.slice();
            if (standardHole) expected.fill(0, b.lower, b.upper);
            expect(got.image.holeLength).toBe(standardHole ? b.upper - b.lower : 0);
            expect(firstDifference(restoreBlockImage(got), expected)).toBe(-1);
          }
        });
      }),
      {
        numRuns: 200,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    );
  });

  it("refuses malformed records with PostgreSQL's messages", () => {
    const ins = new XLogInsertState();
    ins.beginInsert();
    ins.registerBuffer(0, { rel: REL, fork: 0, block: 7 }, REGBUF_NO_IMAGE);
    ins.registerBufData(0, hex("aabbcc"));
    ins.registerBuffer(1, { rel: REL, fork: 0, block: 8 }, REGBUF_NO_IMAGE);
    ins.registerData(hex("0102"));
    const good = assembleAt(ins, RM_HEAP_ID, 0, { xid: 5, prev: 100n });
    expect(decodeXLogRecord(good).blocks[1]!.flags & BKPBLOCK_SAME_REL).toBe(BKPBLOCK_SAME_REL);
    const expectError = (bytes: Uint8Array, code: string, message: RegExp) => {
      let caught: unknown;
      try {
        decodeXLogRecord(bytes, 0x1000028n);
        validXLogRecord(bytes, 0x1000028n);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(PgsimError);
      expect((caught as PgsimError).code).toBe(code);
      expect((caught as PgsimError).message).toMatch(message);
    };
    // Truncated: fewer bytes than xl_tot_len says.
    expectError(
      good.slice(0, good.length - 1),
      "invalid-wal-record",
      /^record with invalid length at 0\/1000028$/,
    );
    // Truncated but consistent xl_tot_len: the headers promise more data than there is.
    const short = good.slice(0, good.length - 1);
    new DataView(short.buffer).setUint32(0, short.length, true);
    expectError(short, "invalid-wal-record", /^record with invalid length at 0\/1000028$/);
    // One flipped payload bit: the CRC no longer matches.
    const flipped = good.slice();
    flipped[flipped.length - 1]! ^= 1;
    expectError(
      flipped,
      "wal-bad-crc",
      /^incorrect resource manager data checksum in record at 0\/1000028$/,
    );
    // Block ids out of order.
    const swapped = good.slice();
    swapped[24] = 1;
    expectError(swapped, "invalid-wal-record", /^out-of-order block_id 1 at 0\/1000028$/);
    const bad = good.slice();
    bad[24] = 40;
    expectError(bad, "invalid-wal-record", /^invalid block_id 40 at 0\/1000028$/);
    const sameRelFirst = good.slice();
    sameRelFirst[25] = sameRelFirst[25]! | BKPBLOCK_SAME_REL;
    expectError(
      sameRelFirst,
      "invalid-wal-record",
      /^BKPBLOCK_SAME_REL set but no previous rel at/,
    );
    const noDataFlag = good.slice();
    noDataFlag[25] = noDataFlag[25]! & ~BKPBLOCK_HAS_DATA;
    expectError(
      noDataFlag,
      "invalid-wal-record",
      /^BKPBLOCK_HAS_DATA not set, but data length is 3 at/,
    );
    expectError(
      good.slice(0, 10),
      "invalid-wal-record",
      /^invalid record length at 0\/1000028: wanted 24, got 10$/,
    );
    expect(BKPBLOCK_WILL_INIT).toBe(0x40);
  });

  it("refuses bad registrations with typed errors", () => {
    const ins = new XLogInsertState();
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as PgsimError).code;
      }
      return "no error";
    };
    expect(code(() => ins.registerData(hex("00")))).toBe("xlog-insert-not-begun");
    ins.beginInsert();
    expect(code(() => ins.beginInsert())).toBe("xlog-insert-in-progress");
    expect(
      code(() => ins.registerBuffer(33, { rel: REL, fork: 0, block: 0 }, REGBUF_NO_IMAGE)),
    ).toBe("too-many-registered-buffers");
    expect(
      code(() => ins.registerBuffer(0, { rel: REL, fork: 0, block: 0 }, REGBUF_STANDARD)),
    ).toBe("xlog-page-required");
    ins.registerBuffer(0, { rel: REL, fork: 0, block: 0 }, REGBUF_NO_IMAGE);
    expect(
      code(() => ins.registerBuffer(0, { rel: REL, fork: 0, block: 1 }, REGBUF_NO_IMAGE)),
    ).toBe("xlog-block-registered-twice");
    expect(code(() => ins.registerBufData(1, hex("00")))).toBe("xlog-block-not-registered");
    expect(code(() => ins.registerBufData(0, new Uint8Array(65536)))).toBe("too-much-wal-data");
    expect(
      code(() => ins.assemble(RM_HEAP_ID, 0x04, { xid: 0, redoRecPtr: 0n, doPageWrites: true })),
    ).toBe("invalid-xlog-info");
    expect(code(() => ins.assemble(100, 0, { xid: 0, redoRecPtr: 0n, doPageWrites: true }))).toBe(
      "invalid-rmgr-id",
    );
    expect(code(() => validXLogRecord(hexToBytes("ff00000000")))).toBe("invalid-wal-record");
  });
});

// ---------------------------------------------------------------------------------------------
// The writer and the reader.

/** Inserts one NOOP record that ends exactly where the next record should start (`target`). */
function padTo(ins: XLogInsertState, wal: XLogWriter, target: bigint): void {
  const seg = wal.walSegSize;
  const gap = xlogRecPtrToBytePos(target, seg) - xlogRecPtrToBytePos(wal.getInsertRecPtr(), seg);
  expect(gap === 0 || (gap >= 24 && gap % 8 === 0)).toBe(true);
  if (gap === 0) return;
  const main = gap === 24 ? 0 : gap - 24 <= 257 ? gap - 26 : gap - 29;
  ins.beginInsert();
  if (main > 0) ins.registerData(new Uint8Array(main).fill(0x5a));
  ins.insert(wal, RM_XLOG_ID, XLOG_NOOP);
  expect(wal.getInsertRecPtr()).toBe(target);
}

function noop(ins: XLogInsertState, wal: XLogWriter, mainLen: number, xid = 0) {
  ins.beginInsert();
  if (mainLen > 0)
    ins.registerData(new Uint8Array(mainLen).map((_, i) => (i * 7 + mainLen) & 0xff));
  return ins.insert(wal, RM_XLOG_ID, XLOG_NOOP, { xid });
}

function readFileRange(file: string, offset: number, length: number): Uint8Array {
  const fd = fs.openSync(file, "r");
  try {
    const out = new Uint8Array(length);
    fs.readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

describe("the WAL writer and reader", () => {
  it("continues records across pages as PostgreSQL does (rem_len 13 at 0/01786000, §1.6)", () => {
    const walDir = path.join(tmpDir(), "pg_wal");
    const wal = XLogWriter.open({
      walDir,
      systemIdentifier: 42n,
      startLsn: 0x1000028n,
      walSyncMethod: "off",
    });
    const ins = new XLogInsertState();
    padTo(ins, wal, 0x1785fc8n);
    // A 69-byte record at 0/01785FC8: 56 bytes on its first page, 13 on the next.
    const r = noop(ins, wal, 69 - 26);
    expect(r.startLsn).toBe(0x1785fc8n);
    expect(r.endLsn).toBe(0x1786000n + 24n + 16n);
    wal.flush(r.endLsn);
    const file = path.join(walDir, "000000010000000000000001");
    const hdr = readXLogPageHeader(readFileRange(file, 0x786000, 24));
    expect(hdr).toMatchObject({
      magic: 0xd110,
      info: XLP_FIRST_IS_CONTRECORD | XLP_BKP_REMOVABLE,
      tli: 1,
      pageAddr: 0x1786000n,
      remLen: 13,
    });
    const first = readXLogPageHeader(readFileRange(file, 0, 40));
    expect(first).toMatchObject({
      info: XLP_LONG_HEADER | XLP_BKP_REMOVABLE,
      sysid: 42n,
      segSize: 16 * MB,
      xlogBlcksz: 8192,
    });
    expect(fs.statSync(file).size).toBe(16 * MB);
    // Records end on a page boundary too: the next page then has no continuation.
    padTo(ins, wal, 0x1788000n - 160n);
    const edge = noop(ins, wal, 160 - 26);
    expect(edge.endLsn).toBe(0x1788000n);
    const after = noop(ins, wal, 0);
    expect(after.startLsn).toBe(0x1788018n);
    wal.close();
    expect(readXLogPageHeader(readFileRange(file, 0x788000, 24))).toMatchObject({
      info: XLP_BKP_REMOVABLE,
      remLen: 0,
    });

    const reader = new XLogReader({ walDir, systemIdentifier: 42n });
    const { records, end } = reader.readAll(0x1000028n);
    reader.close();
    expect(records.map((x) => x.lsn).slice(-4)).toEqual([
      0x1785fc8n,
      0x1786028n,
      0x1787f60n,
      0x1788018n,
    ]);
    expect(records.at(-4)!.mainData.length).toBe(43);
    // The record that ends exactly at the page boundary: EndRecPtr is the boundary itself.
    expect(records.at(-2)!.endLsn).toBe(0x1788000n);
    expect(end.lsn).toBe(0x1788030n);
    expect(end.error?.message).toBe("invalid record length at 0/1788030: wanted 24, got 0");
  });

  it("writes and reads back random records over many pages, segments and a switch (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 300 }),
            fc.integer({ min: 8000, max: 40_000 }),
            fc.constant(-1),
          ),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.integer({ min: 4, max: 12 }),
        (sizes, walBuffers) => {
          const walDir = path.join(tmpDir(), "pg_wal");
          const wal = XLogWriter.open({
            walDir,
            systemIdentifier: 7n,
            startLsn: BigInt(MB + 40),
            walSegSize: MB,
            walBuffers,
            walSyncMethod: "off",
          });
          const ins = new XLogInsertState();
          const written: { lsn: bigint; len: number; switch: boolean }[] = [];
          sizes.forEach((size, i) => {
            if (size < 0) {
              ins.beginInsert();
              const r = ins.insert(wal, RM_XLOG_ID, XLOG_SWITCH);
              if (r.inserted) written.push({ lsn: r.startLsn, len: 24, switch: true });
            } else {
              const r = noop(ins, wal, size, i + 3);
              written.push({ lsn: r.startLsn, len: size, switch: false });
            }
          });
          const endLsn = wal.getInsertEndRecPtr();
          wal.close();
          const reader = new XLogReader({ walDir, walSegSize: MB, systemIdentifier: 7n });
          const { records, end } = reader.readAll(BigInt(MB + 40));
          reader.close();
          expect(records.map((r) => r.lsn)).toEqual(written.map((w) => w.lsn));
          records.forEach((r, i) => {
            expect(r.header.prev).toBe(i === 0 ? 0n : written[i - 1]!.lsn);
            expect(r.mainData.length).toBe(written[i]!.switch ? 0 : written[i]!.len);
          });
          if (written.length > 0) expect(end.lsn).toBe(endLsn);
          expect(end.error).toBeInstanceOf(PgsimError);
        },
      ),
      { numRuns: 25, ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}) },
    );
  });

  it("logs a heap insert and a commit, sets the page LSN, and syncs on flush", () => {
    const walDir = path.join(tmpDir(), "pg_wal");
    const wal = XLogWriter.open({ walDir, systemIdentifier: 9n, startLsn: 0x1000028n });
    const ins = new XLogInsertState();
    const page = new Uint8Array(8192);
    pageInit(page);
    const tuple = int4Tuple(1, 725, 1);
    pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP);
    const r = logHeapInsert(ins, wal, { rel: REL, block: 0, page, offnum: 1, tuple, xid: 725 });
    expect(r.startLsn).toBe(0x1000028n);
    expect(r.endLsn).toBe(0x1000028n + 64n);
    expect(new DataView(page.buffer).getUint32(4, true)).toBe(Number(r.endLsn));
    const c = xactLogCommitRecord(ins, wal, 725, { xactTime: 0n });
    expect(wal.getFlushRecPtr()).toBe(0x1000000n);
    const syncsBefore = wal.stats.syncs;
    wal.flush(c.endLsn);
    expect(wal.stats.syncs).toBe(syncsBefore + 1);
    expect(wal.getFlushRecPtr()).toBe(c.endLsn);
    wal.flush(c.endLsn); // already durable: no sync
    expect(wal.stats.syncs).toBe(syncsBefore + 1);
    expect(() => wal.flush(c.endLsn + 8n)).toThrow(
      `xlog flush request ${formatLsn(c.endLsn + 8n)} is not satisfied --- flushed only to ${formatLsn(c.endLsn)}`,
    );
    wal.close();
    const reader = new XLogReader({ walDir });
    const { records } = reader.readAll(0x1000028n);
    reader.close();
    expect(records.map((x) => formatWalDumpRecord(x))).toEqual([
      "rmgr: Heap        len (rec/tot):     59/    59, tx:        725, lsn: 0/01000028, prev 0/00000000, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/5/16384 blk 0",
      "rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/01000068, prev 0/01000028, desc: COMMIT 2000-01-01 00:00:00.000000 UTC",
    ]);
  });

  it("resumes inside a page after a restart, zeroing what followed (StartupXLOG)", () => {
    const walDir = path.join(tmpDir(), "pg_wal");
    let wal = XLogWriter.open({
      walDir,
      systemIdentifier: 9n,
      startLsn: 0x1000028n,
      walSyncMethod: "off",
    });
    const ins = new XLogInsertState();
    const a = noop(ins, wal, 100);
    const b = noop(ins, wal, 9000);
    const c = noop(ins, wal, 50);
    wal.close();
    // Reopen after b, as if c had never been written: c must not be read afterwards.
    wal = XLogWriter.open({
      walDir,
      systemIdentifier: 9n,
      startLsn: c.startLsn,
      prevLsn: b.startLsn,
      walSyncMethod: "off",
    });
    const d = noop(ins, wal, 10);
    wal.close();
    expect(d.startLsn).toBe(c.startLsn);
    const reader = new XLogReader({ walDir });
    const { records, end } = reader.readAll(0x1000028n);
    reader.close();
    expect(records.map((r) => [r.lsn, r.mainData.length])).toEqual([
      [a.startLsn, 100],
      [b.startLsn, 9000],
      [d.startLsn, 10],
    ]);
    expect(end.lsn).toBe(d.endLsn);
    expect(() =>
      XLogWriter.open({
        walDir: path.join(tmpDir(), "pg_wal"),
        systemIdentifier: 9n,
        startLsn: 0x1000100n,
      }),
    ).toThrow(expect.objectContaining({ code: "wal-resume-page-missing" }));
    expect(() => XLogWriter.open({ walDir, systemIdentifier: 9n, startLsn: 0x1000010n })).toThrow(
      expect.objectContaining({ code: "invalid-wal-position" }),
    );
  });

  it("ends the WAL at the first damaged record, with PostgreSQL's messages (§10.2)", () => {
    const walDir = path.join(tmpDir(), "pg_wal");
    const wal = XLogWriter.open({
      walDir,
      systemIdentifier: 9n,
      startLsn: 0x100028n,
      walSegSize: MB,
      walSyncMethod: "off",
    });
    const ins = new XLogInsertState();
    const recs = [
      noop(ins, wal, 40),
      noop(ins, wal, 10_000),
      noop(ins, wal, 40),
      noop(ins, wal, 40),
    ];
    wal.close();
    const file = path.join(walDir, "000000010000000000000001");
    const pristine = fs.readFileSync(file);
    const endOf = (damage: (bytes: Buffer) => void) => {
      const bytes = Buffer.from(pristine);
      damage(bytes);
      fs.writeFileSync(file, bytes);
      const reader = new XLogReader({ walDir, walSegSize: MB, systemIdentifier: 9n });
      const { records, end } = reader.readAll(0x100028n);
      reader.close();
      return { n: records.length, code: end.error?.code, message: end.error?.message };
    };
    const off = (lsn: bigint) => Number(lsn) - 0x100000;
    expect(endOf(() => {})).toMatchObject({
      n: 4,
      message: `invalid record length at ${formatLsn(recs[3]!.endLsn)}: wanted 24, got 0`,
    });
    expect(
      endOf((b) => {
        b[off(recs[2]!.startLsn) + 30]! ^= 0xff;
      }),
    ).toMatchObject({
      n: 2,
      code: "wal-bad-crc",
      message: `incorrect resource manager data checksum in record at ${formatLsn(recs[2]!.startLsn)}`,
    });
    expect(
      endOf((b) => {
        b[off(recs[2]!.startLsn) + 8]! ^= 0x08;
      }),
    ).toMatchObject({
      n: 2,
      message: `record with incorrect prev-link ${formatLsn(recs[1]!.startLsn ^ 0x08n)} at ${formatLsn(recs[2]!.startLsn)}`,
    });
    // Record 1 (10 029 bytes) starts at 0/100070: 8080 bytes on its first page, 1949 after.
    expect(recs[1]!.startLsn).toBe(0x100070n);
    expect(
      endOf((b) => {
        b[0x2000 + 16]! ^= 0x01;
      }),
    ).toMatchObject({
      n: 1,
      message: "invalid contrecord length 1948 (expected 1949) at 0/100070",
    });
    expect(
      endOf((b) => {
        b[0x2000 + 8]! ^= 0x01;
      }),
    ).toMatchObject({
      n: 1,
      message: "unexpected pageaddr 0/102001 in log segment 000000010000000000000001, offset 8192",
    });
    expect(
      endOf((b) => {
        b[off(recs[3]!.startLsn) + 17] = 100;
      }),
    ).toMatchObject({
      n: 3,
      message: `invalid resource manager ID 100 at ${formatLsn(recs[3]!.startLsn)}`,
    });
    const other = new XLogReader({ walDir, walSegSize: MB, systemIdentifier: 10n });
    fs.writeFileSync(file, pristine);
    expect(other.readAll(0x100028n).end.error?.message).toBe(
      "WAL file is from different database system: WAL file database system identifier is 9, pg_control database system identifier is 10",
    );
    other.close();
  });

  it("finds the first record of a segment past a continuation (XLogFindNextRecord)", () => {
    const walDir = path.join(tmpDir(), "pg_wal");
    const wal = XLogWriter.open({
      walDir,
      systemIdentifier: 9n,
      startLsn: BigInt(MB + 40),
      walSegSize: MB,
      walSyncMethod: "off",
    });
    const ins = new XLogInsertState();
    padTo(ins, wal, BigInt(2 * MB - 4096));
    const big = noop(ins, wal, 20_000); // crosses into segment 2, over several pages
    const next = noop(ins, wal, 8);
    wal.close();
    const reader = new XLogReader({ walDir, walSegSize: MB });
    expect(reader.findNextRecord(BigInt(2 * MB))).toBe(next.startLsn);
    expect(reader.readRecord()?.lsn).toBe(next.startLsn);
    expect(big.endLsn).toBe(next.startLsn);
    reader.close();
  });
});

describe("pg_control", () => {
  it("encodes, decodes and checks ControlFileData with its CRC (§9)", () => {
    const data = bootstrapControlFile({
      systemIdentifier: 0x6b0f33afce97d8ecn,
      time: 1_700_000_000n,
    });
    const bytes = encodeControlFile(data);
    expect(bytes.length).toBe(8192);
    expect(bytesToHex(bytes, 0, 24)).toBe("ecd897ceaf330f6b1405000025770d0c0100000000000000");
    expect(bytesToHex(bytes, 208, 216)).toBe("0000000087d63241");
    expect(bytes.subarray(296).every((b) => b === 0)).toBe(true);
    const decoded = decodeControlFile(bytes);
    expect(decoded.crcMatches).toBe(true);
    expect(decoded.data).toEqual(data);
    expect(decoded.data.checkPoint).toBe(0x1000028n);
    const dir = tmpDir();
    const written = writeControlFile(dir, { ...data, state: DBState.IN_PRODUCTION });
    expect(readControlFile(dir)).toEqual(written);
    const file = path.join(dir, "global", "pg_control");
    const damaged = fs.readFileSync(file);
    damaged[16]! ^= 1;
    fs.writeFileSync(file, damaged);
    expect(() => readControlFile(dir)).toThrow("incorrect checksum in control file");
    expect(decodeControlFile(damaged).crcMatches).toBe(false);
    damaged[8] = 0;
    expect(() => decodeControlFile(damaged)).toThrow(/PG_CONTROL_VERSION 1280/);
  });
});
