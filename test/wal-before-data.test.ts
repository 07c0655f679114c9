/**
 * WAL before data, with pgsim's real WAL and buffer manager: a small disk-backed pool (with data
 * checksums) evicts and checkpoints heap pages whose changes are WAL-logged, and at every write
 * of a data file the page's LSN is at or below the WAL flushed at that moment; hint bits on a
 * page's first change since a checkpoint are logged as XLOG_FPI_FOR_HINT, which PostgreSQL 15's
 * pg_waldump reads. A pool without the buffer manager's WAL flush (the control) writes pages
 * ahead of the WAL, so the check does catch a missing flush.
 *
 * Models: bufmgr.c FlushBuffer (XLogFlush(page LSN) for permanent buffers before smgrwrite),
 * MarkBufferDirtyHint (XLogSaveBufferForHint), xlog.c XLogFlush; the invariant redo relies on
 * (docs/reference/postgres-wal.md §7.8, §4.3, issue 13 "Must show" 5).
 * Entry points: the suite "WAL before data".
 * See also: packages/buffer-manager/test/wal-hooks.test.ts (the hooks with fakes),
 * packages/heap-am/src/access/transam/xloginsert.ts (`xlogPageHooks`).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  attachBufferPool,
  type BufferPool,
  ForkNumber,
  initBufferPool,
  type PageHooks,
} from "@pgsim/buffer-manager";
import { MdStorage } from "@pgsim/buffer-manager/internals";
import { afterAll, describe, expect, it } from "vitest";
import { heapFormTuple } from "../packages/heap-am/src/access/common/heaptuple.js";
import { createTupleDesc } from "../packages/heap-am/src/access/common/tupdesc.js";
import { logHeapInsert } from "../packages/heap-am/src/access/heap/heapam-xlog.js";
import { XLogWriter } from "../packages/heap-am/src/access/transam/xlog.js";
import { formatLsn } from "../packages/heap-am/src/access/transam/xlogdefs.js";
import {
  XLogInsertState,
  xlogPageHooks,
} from "../packages/heap-am/src/access/transam/xloginsert.js";
import {
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetLsn,
  pageInit,
  pageIsVerified,
  pageSetChecksumInplace,
} from "../packages/heap-am/src/storage/page/bufpage.js";
import { pg15Waldump } from "./pg15-peer.js";

const REL = { spcOid: 1663, dbOid: 5, relNumber: 16384 };
const BLOCKS = 40;

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

interface RunResult {
  /** Every data-file write: the page's LSN and the WAL flushed when it was written. */
  readonly writes: { readonly lsn: bigint; readonly flushed: bigint }[];
  readonly wal: XLogWriter;
  readonly pool: BufferPool;
  readonly dataDir: string;
  readonly hintImages: number;
}

/**
 * Runs a seeded workload — heap inserts logged as XLOG_HEAP_INSERT, hint bits, checkpoints —
 * over a 6-buffer pool (so pages are evicted all the time), recording every data-file write.
 */
function run(options: { readonly walFlushHook: boolean }): RunResult {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-wal-before-data-"));
  tempDirs.push(dataDir);
  const wal = XLogWriter.open({
    walDir: path.join(dataDir, "pg_wal"),
    systemIdentifier: 0x7000_0000_0bef_0000n,
    startLsn: 0x1000028n,
  });
  const walHooks = xlogPageHooks(wal, { logHints: true });
  let hintImages = 0;
  const hooks: PageHooks = {
    verifyPage: (page, block) => pageIsVerified(page, block, { checksums: true }),
    setChecksum: (page, block) => pageSetChecksumInplace(page, block),
    ...(options.walFlushHook ? { xlogFlush: walHooks.xlogFlush } : {}),
    delayCheckpoint: walHooks.delayCheckpoint,
    logHint: (page, tag, std) => {
      const lsn = walHooks.logHint!(page, tag, std);
      if (lsn !== undefined) hintImages++;
      return lsn;
    },
  };
  const pool = attachBufferPool(
    initBufferPool({ variant: "disk", bufferCount: 6, dataDir, dataChecksums: true }),
    { pageHooks: hooks },
  );
  const writes: { lsn: bigint; flushed: bigint }[] = [];
  const write = MdStorage.prototype.write;
  MdStorage.prototype.write = function (rel, fork, block, page) {
    writes.push({ lsn: pageGetLsn(page), flushed: wal.getFlushRecPtr() });
    return write.call(this, rel, fork, block, page);
  };
  try {
    const rand = prng(0xbefd);
    const ins = new XLogInsertState();
    const desc = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "note", type: "text" },
    ]);
    pool.createRelation(REL, ForkNumber.MAIN);
    let row = 0;
    for (let step = 0; step < 1500; step++) {
      const r = rand();
      if (step % 300 === 299) {
        // A checkpoint: a new redo pointer, then every dirty page written.
        wal.beginCheckpointRedo();
        pool.checkpoint();
      } else if (r < 0.25 && pool.nblocks(REL, ForkNumber.MAIN) > 0) {
        // A scan sets a hint bit (here: pd_prune_xid) under a share lock.
        const block = Math.floor(rand() * pool.nblocks(REL, ForkNumber.MAIN));
        const buf = pool.readBuffer(REL, ForkNumber.MAIN, block);
        pool.lockBuffer(buf, "share");
        const page = pool.bufferGetPage(buf);
        page[20] = (page[20]! + 1) & 0xff;
        pool.markBufferDirtyHint(buf);
        pool.unlockReleaseBuffer(buf);
      } else {
        // heap_insert: change the page, mark it dirty, log, set the LSN — under the lock.
        const nblocks = pool.nblocks(REL, ForkNumber.MAIN);
        const extend = nblocks < BLOCKS && (nblocks === 0 || rand() < 0.2);
        const buf = extend
          ? pool.extend(REL, ForkNumber.MAIN)
          : pool.readBuffer(REL, ForkNumber.MAIN, Math.floor(rand() * nblocks));
        pool.lockBuffer(buf, "exclusive");
        const page = pool.bufferGetPage(buf);
        if (extend) pageInit(page);
        const tuple = heapFormTuple(desc, [row++, "x".repeat(Math.floor(rand() * 60))]);
        const offnum = pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP);
        if (offnum === 0) {
          pool.unlockReleaseBuffer(buf);
          continue;
        }
        pool.markBufferDirty(buf);
        logHeapInsert(ins, wal, {
          rel: REL,
          block: pool.bufferGetBlockNumber(buf),
          page,
          offnum,
          tuple,
          xid: 1000 + step,
        });
        pool.unlockReleaseBuffer(buf);
      }
    }
    wal.beginCheckpointRedo();
    pool.checkpoint();
  } finally {
    MdStorage.prototype.write = write;
  }
  return { writes, wal, pool, dataDir, hintImages };
}

describe("WAL before data", () => {
  it("no page reaches its file with an LSN beyond the flushed WAL (evictions and checkpoints)", () => {
    const { writes, wal, pool } = run({ walFlushHook: true });
    // Enough writes of logged pages, most of them evictions of a 6-buffer pool.
    expect(writes.length).toBeGreaterThan(200);
    expect(writes.filter((w) => w.lsn > 0n).length).toBeGreaterThan(200);
    expect(pool.statistics().evictions).toBeGreaterThan(100);
    const ahead = writes.filter((w) => w.lsn > w.flushed);
    expect(ahead.map((w) => `${formatLsn(w.lsn)} > ${formatLsn(w.flushed)}`)).toEqual([]);
    // The flushes were the buffer manager's doing: nothing else in the workload flushes.
    expect(wal.stats.flushRequests).toBeGreaterThan(50);
    wal.close();
  });

  it("the control: without the buffer manager's WAL flush, pages get ahead of the WAL", () => {
    const { writes, wal } = run({ walFlushHook: false });
    expect(writes.filter((w) => w.lsn > w.flushed).length).toBeGreaterThan(100);
    wal.close();
  });

  it("hint bits on a page's first change since a checkpoint are logged as FPI_FOR_HINT", () => {
    const { wal, pool, dataDir, hintImages } = run({ walFlushHook: true });
    expect(hintImages).toBeGreaterThan(5);
    const end = wal.getInsertEndRecPtr();
    wal.close();
    // Every page on disk carries a valid checksum.
    for (let block = 0; block < pool.nblocks(REL, ForkNumber.MAIN); block++) {
      const bytes = new Uint8Array(8192);
      const fd = fs.openSync(path.join(dataDir, "base/5/16384"), "r");
      fs.readSync(fd, bytes, 0, 8192, block * 8192);
      fs.closeSync(fd);
      expect(pageIsVerified(bytes, block, { checksums: true })).toBe(true);
    }
    // pg_waldump reads the WAL to its end and shows the hint images as PostgreSQL's.
    const out = pg15Waldump(["-p", path.join(dataDir, "pg_wal"), "-s", "0/1000028"]);
    expect(out.stderr).toMatch(
      new RegExp(`invalid record length at ${formatLsn(end)}: wanted 24, got 0\\n$`),
    );
    const hints = out.stdout.split("\n").filter((l) => l.includes("desc: FPI_FOR_HINT"));
    expect(hints.length).toBe(hintImages);
    for (const line of hints) {
      expect(line).toMatch(/tx: +0, .*blkref #0: rel 1663\/5\/16384 blk \d+ FPW$/);
    }
  });
});
