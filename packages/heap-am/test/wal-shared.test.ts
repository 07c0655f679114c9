/**
 * The shared WAL's single-thread behaviour: several backends attached to one WAL see the same
 * positions and settings; a record assembled before a checkpoint moved the redo pointer is
 * refused and re-assembled with its full-page images (XLogInsert's loop); synchronous_commit off
 * and the background flush; checkpoints requested by WAL volume; old segments recycled or
 * removed; hint-bit full-page images (XLOG_FPI_FOR_HINT).
 *
 * Models: xlog.c (XLogInsertRecord's fpw_lsn re-check, XLogSetAsyncXactLSN,
 * XLogBackgroundFlush, XLogCheckpointNeeded, RemoveOldXlogFiles, PreallocXlogFiles,
 * CreateCheckPoint's redo pointer), xloginsert.c (XLogInsert, XLogSaveBufferForHint),
 * docs/reference/postgres-wal.md §4.2, §4.3, §7.6–7.7, §8.1–8.2.
 * Entry points: the suites "shared WAL: …".
 * See also: ../src/access/transam/xlog.ts, test/wal-workers.test.ts (concurrent backends),
 * test/wal-before-data.test.ts (the buffer manager's side).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { XLOG_FPI, XLOG_FPI_FOR_HINT, XLOG_NOOP } from "../src/access/transam/pg-control.js";
import { RM_XLOG_ID } from "../src/access/transam/rmgr.js";
import {
  checkpointSegments,
  initWalShared,
  XLogWriter,
  type XLogWriterOptions,
} from "../src/access/transam/xlog.js";
import { formatWalDumpRecord } from "../src/access/transam/xlog-desc.js";
import type { AssembledRecord } from "../src/access/transam/xlog-internal.js";
import {
  REGBUF_STANDARD,
  XLogInsertState,
  xlogSaveBufferForHint,
} from "../src/access/transam/xloginsert.js";
import { XLogReader } from "../src/access/transam/xlogreader.js";
import {
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetLsn,
  pageInit,
  pageSetLsn,
} from "../src/storage/page/bufpage.js";

const MB = 1024 * 1024;
const REL = { spcOid: 1663, dbOid: 5, relNumber: 16384 };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function walDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-wal-shared-"));
  dirs.push(d);
  return path.join(d, "pg_wal");
}

function options(extra: Partial<XLogWriterOptions> = {}): XLogWriterOptions {
  return {
    walDir: walDir(),
    systemIdentifier: 77n,
    startLsn: BigInt(MB + 40),
    walSegSize: MB,
    walSyncMethod: "off",
    ...extra,
  };
}

function noop(ins: XLogInsertState, wal: XLogWriter, len: number) {
  ins.beginInsert();
  if (len > 0) ins.registerData(new Uint8Array(len).fill(len & 0xff));
  return ins.insert(wal, RM_XLOG_ID, XLOG_NOOP);
}

/** A heap page with one tuple, its pd_lsn set to `lsn`. */
function heapPage(lsn: bigint): Uint8Array {
  const page = new Uint8Array(8192);
  pageInit(page);
  const tuple = new Uint8Array(40).fill(3);
  tuple[22] = 24; // t_hoff
  pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP);
  pageSetLsn(page, lsn);
  return page;
}

function readAll(wal: XLogWriter, from: bigint) {
  const reader = new XLogReader({
    walDir: wal.walDir,
    walSegSize: wal.walSegSize,
    systemIdentifier: wal.systemIdentifier,
  });
  try {
    return reader.readAll(from);
  } finally {
    reader.close();
  }
}

describe("shared WAL: backends attached to one WAL", () => {
  it("see the same positions, settings and statistics; each keeps its own last record", () => {
    const shared = initWalShared(options({ synchronousCommit: false }));
    const a = XLogWriter.attach(shared);
    const b = XLogWriter.attach(structuredClone(shared));
    const ins = new XLogInsertState();
    expect(a.synchronousCommit).toBe(false);
    b.setSynchronousCommit(true);
    expect(a.synchronousCommit).toBe(true);
    const r1 = noop(ins, a, 100);
    const r2 = noop(ins, b, 200);
    expect(r2.startLsn).toBe(r1.endLsn);
    expect(a.getInsertRecPtr()).toBe(b.getInsertRecPtr());
    expect(a.getLastRecPtr()).toBe(r1.startLsn);
    expect(b.getLastRecPtr()).toBe(r2.startLsn);
    b.flush(r2.endLsn);
    expect(a.getFlushRecPtr()).toBe(r2.endLsn);
    expect(a.stats.records).toBe(2);
    a.setFullPageWrites(false);
    expect(b.getFullPageWriteInfo().doPageWrites).toBe(false);
    a.close();
    b.close();
    const { records } = readAll(a, BigInt(MB + 40));
    expect(records.map((r) => [r.lsn, r.header.prev])).toEqual([
      [r1.startLsn, 0n],
      [r2.startLsn, r1.startLsn],
    ]);
  });

  it("refuses more backends than it has slots for, and frees a slot on close", () => {
    const shared = initWalShared(options({ maxBackends: 2 }));
    const a = XLogWriter.attach(shared);
    XLogWriter.attach(shared);
    expect(() => XLogWriter.attach(shared)).toThrow(
      expect.objectContaining({ code: "too-many-wal-backends" }),
    );
    a.close();
    XLogWriter.attach(shared).close();
  });
});

describe("shared WAL: the full-page-write re-check", () => {
  it("a record assembled before the redo pointer moved is refused, then re-assembled with its image", () => {
    const wal = XLogWriter.open(options());
    const ins = new XLogInsertState();
    // The page was last logged after the current redo pointer: no image at first.
    const first = noop(ins, wal, 10);
    const page = heapPage(first.endLsn);
    // A checkpoint starts between GetFullPageWriteInfo and XLogInsertRecord (§4.2): interpose it
    // in the first insertion attempt.
    const attempts: AssembledRecord[] = [];
    let checkpointDone = false;
    const racing = new Proxy(wal, {
      get(target, prop) {
        if (prop === "insertRecord") {
          return (rec: AssembledRecord, opts?: { fpwRecheck: boolean }) => {
            attempts.push(rec);
            if (!checkpointDone) {
              checkpointDone = true;
              target.beginCheckpointRedo();
            }
            return opts === undefined ? target.insertRecord(rec) : target.insertRecord(rec, opts);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    ins.beginInsert();
    ins.registerBuffer(0, { rel: REL, fork: ForkNumber.MAIN, block: 3, page }, REGBUF_STANDARD);
    ins.registerBufData(0, new Uint8Array([1, 2, 3]));
    const r = ins.insert(racing, RM_XLOG_ID, XLOG_NOOP);
    // Assembled twice: without an image (refused: page LSN <= the new redo pointer), then with.
    expect(attempts.map((a) => a.numFpi)).toEqual([0, 1]);
    expect(attempts[0]!.fpwLsn).toBe(first.endLsn);
    expect(wal.stats.records).toBe(2);
    wal.close();
    const { records } = readAll(wal, BigInt(MB + 40));
    const rec = records.find((x) => x.lsn === r.startLsn)!;
    expect(rec.blocks[0]!.image?.apply).toBe(true);
    expect(rec.blocks[0]!.data.length).toBe(0);
    expect(records.length).toBe(2);
  });

  it("insertRecord with fpwRecheck refuses and inserts nothing; without it inserts as assembled", () => {
    const wal = XLogWriter.open(options({ redoRecPtr: 0x100n }));
    const ins = new XLogInsertState();
    const page = heapPage(0x200n);
    const assemble = (doPageWrites = true) => {
      ins.beginInsert();
      ins.registerBuffer(0, { rel: REL, fork: ForkNumber.MAIN, block: 0, page }, REGBUF_STANDARD);
      const rec = ins.assemble(RM_XLOG_ID, XLOG_NOOP, { xid: 0, redoRecPtr: 0x100n, doPageWrites });
      ins.resetInsertion();
      return rec;
    };
    const stale = assemble();
    expect(stale.numFpi).toBe(0);
    // The redo pointer is still before the page's LSN: accepted.
    const ok = wal.insertRecord(stale, { fpwRecheck: true });
    expect(ok?.inserted).toBe(true);
    // It moves to the page's LSN: the page now needs an image, so the record is refused.
    wal.setRedoRecPtr(0x200n);
    const before = wal.getInsertRecPtr();
    expect(wal.insertRecord(assemble(), { fpwRecheck: true })).toBeUndefined();
    expect(wal.getInsertRecPtr()).toBe(before);
    // Full-page writes off at assembly, on at insertion: refused too.
    wal.setRedoRecPtr(0x100n);
    expect(wal.insertRecord(assemble(false), { fpwRecheck: true })).toBeUndefined();
    // With full-page writes off at insertion, nothing is re-checked.
    wal.setFullPageWrites(false);
    expect(wal.insertRecord(assemble(false), { fpwRecheck: true })).toBeDefined();
    // Unchecked: inserted as it is.
    wal.setFullPageWrites(true);
    wal.setRedoRecPtr(0x300n);
    expect(wal.insertRecord(assemble()).inserted).toBe(true);
    wal.close();
    expect(readAll(wal, BigInt(MB + 40)).records.length).toBe(3);
  });

  it("beginCheckpointRedo puts the redo pointer where the next record starts", () => {
    const wal = XLogWriter.open(options());
    const ins = new XLogInsertState();
    noop(ins, wal, 8192 - 40 - 24 - 5); // ends exactly at the first page's end
    expect(wal.getInsertEndRecPtr()).toBe(BigInt(MB + 8192));
    const redo = wal.beginCheckpointRedo();
    expect(redo).toBe(BigInt(MB + 8192 + 24));
    expect(wal.getFullPageWriteInfo().redoRecPtr).toBe(redo);
    expect(noop(ins, wal, 0).startLsn).toBe(redo);
    wal.close();
  });
});

describe("shared WAL: synchronous_commit off", () => {
  it("asynchronous commits stay unflushed until the background flush (or wal_writer_delay)", async () => {
    const wal = XLogWriter.open(options({ synchronousCommit: false, walWriterDelayMs: 10_000 }));
    const ins = new XLogInsertState();
    const r = noop(ins, wal, 100);
    expect(wal.synchronousCommit).toBe(false);
    wal.setAsyncXactLsn(r.endLsn);
    expect(wal.getFlushRecPtr()).toBeLessThan(r.endLsn);
    expect(wal.backgroundFlush()).toBe(true);
    expect(wal.getFlushRecPtr()).toBe(r.endLsn);
    expect(wal.backgroundFlush()).toBe(false);
    expect(wal.stats.backgroundFlushes).toBe(1);
    wal.close();

    // With a short wal_writer_delay, the committing backend does the WAL writer's round itself.
    const quick = XLogWriter.open(options({ synchronousCommit: false, walWriterDelayMs: 5 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const q = noop(ins, quick, 100);
    quick.setAsyncXactLsn(q.endLsn);
    expect(quick.getFlushRecPtr()).toBe(q.endLsn);
    quick.close();
  });
});

describe("shared WAL: segments and checkpoints", () => {
  /** Fills the WAL with NOOPs until the insert position reaches `lsn`. */
  function fillTo(wal: XLogWriter, ins: XLogInsertState, lsn: bigint): void {
    for (let n = 0; wal.getInsertRecPtr() < lsn; n++) {
      expect(n).toBeLessThan(10_000);
      noop(ins, wal, 6000);
    }
  }

  it("asks for a checkpoint once max_wal_size / (1 + completion target) segments are written", () => {
    // 4 MB / 1.9 → CheckPointSegments = 2: a checkpoint when segment redo + 1 is finished.
    expect(checkpointSegments(4 * MB, MB, 0.9)).toBe(2);
    expect(checkpointSegments(1024 * MB, 16 * MB, 0.9)).toBe(33);
    const wal = XLogWriter.open(options({ maxWalSizeBytes: 4 * MB, redoRecPtr: BigInt(MB + 40) }));
    const ins = new XLogInsertState();
    fillTo(wal, ins, BigInt(2 * MB));
    expect(wal.segmentsSinceRedo()).toBe(1);
    expect(wal.checkpointNeeded()).toBe(false);
    wal.flush(wal.getInsertEndRecPtr());
    expect(wal.takeCheckpointRequest()).toBe(false);
    fillTo(wal, ins, BigInt(3 * MB));
    expect(wal.checkpointNeeded()).toBe(true);
    expect(wal.checkpointNeeded(64 * MB)).toBe(false);
    wal.flush(wal.getInsertEndRecPtr()); // XLogWrite finishes segment 2 and asks
    expect(wal.takeCheckpointRequest()).toBe(true);
    expect(wal.takeCheckpointRequest()).toBe(false);
    wal.beginCheckpointRedo();
    expect(wal.segmentsSinceRedo()).toBe(0);
    expect(wal.checkpointNeeded()).toBe(false);
    wal.close();
  });

  it("recycles the segments before the redo pointer's as future segments, and writes over them", () => {
    const o = options({ minWalSizeBytes: 3 * MB, maxWalSizeBytes: 8 * MB });
    const wal = XLogWriter.open(o);
    const ins = new XLogInsertState();
    fillTo(wal, ins, BigInt(5 * MB + 100));
    const redo = wal.beginCheckpointRedo();
    wal.flush(wal.getInsertEndRecPtr());
    const names = () => fs.readdirSync(o.walDir).sort();
    expect(names()).toEqual([
      "000000010000000000000001",
      "000000010000000000000002",
      "000000010000000000000003",
      "000000010000000000000004",
      "000000010000000000000005",
    ]);
    // Segments 1–4 go; recycled up to min_wal_size past the redo pointer (segment 5 + 3 − 1 = 7):
    // 6 and 7, the rest removed.
    const r = wal.removeOldSegments({ redoLsn: redo });
    expect(r.recycled).toEqual([
      { from: "000000010000000000000001", to: "000000010000000000000006" },
      { from: "000000010000000000000002", to: "000000010000000000000007" },
    ]);
    expect(r.removed).toEqual(["000000010000000000000003", "000000010000000000000004"]);
    expect(wal.stats).toMatchObject({ segmentsRecycled: 2, segmentsRemoved: 2 });
    const created = wal.stats.segmentsCreated;
    // Writing on uses the recycled files (no new ones) and overwrites their stale pages.
    const from = noop(ins, wal, 0).startLsn;
    fillTo(wal, ins, BigInt(7 * MB + 3000));
    wal.close();
    expect(wal.stats.segmentsCreated).toBe(created);
    expect(names()).toEqual([
      "000000010000000000000005",
      "000000010000000000000006",
      "000000010000000000000007",
    ]);
    const { records, end } = readAll(wal, from);
    expect(records.at(-1)!.endLsn).toBe(wal.getInsertEndRecPtr());
    expect(end.lsn).toBe(wal.getInsertEndRecPtr());
  });

  it("never removes a segment that is not durable to its end", () => {
    const o = options({ walRecycle: false });
    const wal = XLogWriter.open(o);
    const ins = new XLogInsertState();
    fillTo(wal, ins, BigInt(3 * MB + 100));
    // The checkpoint record is not flushed yet: only the segments before the flushed one go.
    const redo = wal.beginCheckpointRedo();
    const flushedSeg = Math.floor(Number(wal.getFlushRecPtr()) / MB);
    expect(flushedSeg).toBeLessThan(3);
    const r = wal.removeOldSegments({ redoLsn: redo });
    expect(r.removed.length).toBe(flushedSeg - 1);
    expect(fs.existsSync(path.join(o.walDir, `00000001000000000000000${flushedSeg}`))).toBe(true);
    wal.close();
  });

  it("without wal_recycle removes old segments; prealloc creates the next one late in a segment", () => {
    const o = options({ walRecycle: false });
    const wal = XLogWriter.open(o);
    const ins = new XLogInsertState();
    fillTo(wal, ins, BigInt(3 * MB + 100));
    expect(wal.preallocSegments()).toBe(false);
    fillTo(wal, ins, BigInt(3 * MB + Math.floor(0.8 * MB)));
    expect(wal.preallocSegments()).toBe(true);
    expect(fs.existsSync(path.join(o.walDir, "000000010000000000000004"))).toBe(true);
    const redo = wal.beginCheckpointRedo();
    wal.flush(wal.getInsertEndRecPtr());
    const r = wal.removeOldSegments({ redoLsn: redo, priorRedoLsn: BigInt(MB + 40) });
    expect(r).toEqual({
      removed: ["000000010000000000000001", "000000010000000000000002"],
      recycled: [],
    });
    wal.close();
  });
});

describe("shared WAL: hint-bit full-page images", () => {
  it("logs XLOG_FPI_FOR_HINT only for a page not logged since the redo pointer", () => {
    const wal = XLogWriter.open(options());
    const ins = new XLogInsertState();
    const tag = { ...REL, fork: ForkNumber.MAIN, block: 7 };
    // Logged before the redo pointer: its first hint since the checkpoint gets an image.
    ins.beginInsert();
    const page = heapPage(0n);
    ins.registerBuffer(0, { ...tag, rel: REL, page }, 0x01 | REGBUF_STANDARD);
    const logged = ins.insert(wal, RM_XLOG_ID, XLOG_FPI);
    pageSetLsn(page, logged.endLsn);
    wal.beginCheckpointRedo();
    const lsn = xlogSaveBufferForHint(wal, ins, page.slice(), tag, true);
    expect(lsn).toBeDefined();
    // Logged since the redo pointer: no image needed.
    pageSetLsn(page, lsn!);
    expect(xlogSaveBufferForHint(wal, ins, page.slice(), tag, true)).toBeUndefined();
    // A free space map page (non-standard): the whole 8 KB.
    const fsm = new Uint8Array(8192).fill(9);
    pageSetLsn(fsm, 0n);
    xlogSaveBufferForHint(wal, ins, fsm, { ...tag, fork: ForkNumber.FSM }, false);
    wal.close();
    const { records } = readAll(wal, logged.endLsn);
    expect(records.map((r) => [r.header.rmid, r.header.info, r.header.xid])).toEqual([
      [RM_XLOG_ID, XLOG_FPI_FOR_HINT, 0],
      [RM_XLOG_ID, XLOG_FPI_FOR_HINT, 0],
    ]);
    const [heap, fsmRec] = records;
    expect(heap!.endLsn).toBe(lsn);
    expect(heap!.blocks.length).toBe(1);
    expect(heap!.blocks[0]!.image?.holeLength).toBeGreaterThan(0);
    expect(heap!.blocks[0]!.data.length).toBe(0);
    expect(heap!.mainData.length).toBe(0);
    expect(formatWalDumpRecord(heap!)).toMatch(
      /desc: FPI_FOR_HINT , blkref #0: rel 1663\/5\/16384 blk 7 FPW$/,
    );
    expect(fsmRec!.blocks[0]!.image).toMatchObject({ holeLength: 0, length: 8192 });
    expect(pageGetLsn(page)).toBe(lsn);
  });

  it("with full_page_writes off the record is still written, its block without an image", () => {
    // XLogSaveBufferForHint registers the block REGBUF_STANDARD, not REGBUF_FORCE_IMAGE: the
    // image follows the usual rule, so none with full_page_writes off (redo skips such a block).
    const wal = XLogWriter.open(options({ fullPageWrites: false }));
    const ins = new XLogInsertState();
    const tag = { ...REL, fork: ForkNumber.MAIN, block: 2 };
    const lsn = xlogSaveBufferForHint(wal, ins, heapPage(0n), tag, true);
    wal.close();
    const { records } = readAll(wal, BigInt(MB + 40));
    expect(records.length).toBe(1);
    expect(records[0]!.endLsn).toBe(lsn);
    expect(records[0]!.header.info).toBe(XLOG_FPI_FOR_HINT);
    expect(records[0]!.blocks[0]).toMatchObject({ block: 2, image: null });
  });
});

describe("shared WAL: past 4 GB", () => {
  it("records cross LSN 1/00000000 and read back (positions are not 32-bit)", () => {
    // Start in the last 1 MB segment below 4 GB; insert about 3 MB of records.
    const start = BigInt(4096 * MB - MB + 40);
    const wal = XLogWriter.open(options({ startLsn: start }));
    const ins = new XLogInsertState();
    let last = noop(ins, wal, 1000);
    for (let i = 1; i < 3000; i++) last = noop(ins, wal, 1000 + (i % 7));
    wal.flush(last.endLsn);
    expect(last.endLsn).toBeGreaterThan(0x1_0000_0000n);
    const { records, end } = readAll(wal, start);
    expect(records).toHaveLength(3000);
    expect(records.at(-1)!.lsn).toBe(last.startLsn);
    expect(end.error?.message).toMatch(/invalid record length .*got 0/);
    wal.close();
  });
});
