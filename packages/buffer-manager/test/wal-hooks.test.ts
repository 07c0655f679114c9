/**
 * The buffer manager's calls into the WAL, through its hooks: FlushBuffer flushes the WAL up to
 * a page's LSN before writing the page (WAL before data), and MarkBufferDirtyHint asks for a
 * hint-bit full-page image inside a checkpoint delay and puts its LSN on a clean page.
 *
 * Models: bufmgr.c FlushBuffer (`if (buf_state & BM_PERMANENT) XLogFlush(recptr)`) and
 * MarkBufferDirtyHint (XLogSaveBufferForHint, DELAY_CHKPT_START, PageSetLSN under the buffer
 * header lock), docs/reference/postgres-wal.md §4.3, §7.8.
 * Entry points: the suites "WAL hooks: …".
 * See also: ../src/bufmgr.ts, ../src/types.ts (PageHooks); test/wal-before-data.test.ts (the
 * same rules with pgsim's real WAL).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type BufferTag,
  createBufferPool,
  getAccessStrategy,
  type PageHooks,
} from "../src/index.js";
import { MdStorage } from "../src/internals.js";
import { REL, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

function setLsn(page: Uint8Array, lsn: bigint): void {
  const dv = new DataView(page.buffer, page.byteOffset, 8);
  dv.setUint32(0, Number(lsn >> 32n), true);
  dv.setUint32(4, Number(lsn & 0xffffffffn), true);
}

function getLsn(page: Uint8Array): bigint {
  const dv = new DataView(page.buffer, page.byteOffset, 8);
  return (BigInt(dv.getUint32(0, true)) << 32n) | BigInt(dv.getUint32(4, true));
}

/** Writes a block whose pd_lsn is `lsn` and marks it dirty. */
function writeBlock(
  pool: ReturnType<typeof createBufferPool>,
  block: number,
  lsn: bigint,
  fill: number,
): void {
  const buf = block < pool.nblocks(REL, 0) ? pool.readBuffer(REL, 0, block) : pool.extend(REL, 0);
  pool.lockBuffer(buf, "exclusive");
  const page = pool.bufferGetPage(buf);
  page.fill(fill, 100, 200);
  setLsn(page, lsn);
  pool.markBufferDirty(buf);
  pool.unlockReleaseBuffer(buf);
}

describe("WAL hooks: FlushBuffer", () => {
  it("[disk] flushes the WAL up to the page's LSN before every write, eviction and checkpoint", () => {
    const events: string[] = [];
    const hooks: PageHooks = {
      xlogFlush: (lsn, tag) => events.push(`flush ${lsn.toString(16)} blk ${tag.block}`),
    };
    const dataDir = tempDir();
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 2, dataDir },
      { pageHooks: hooks },
    );
    const write = MdStorage.prototype.write;
    MdStorage.prototype.write = function (rel, fork, block, page) {
      events.push(`write blk ${block} lsn ${getLsn(page).toString(16)}`);
      return write.call(this, rel, fork, block, page);
    };
    try {
      pool.createRelation(REL, 0);
      // pd_lsn {xlogid 1, xrecoff 0x02345678} is LSN 1/2345678.
      writeBlock(pool, 0, 0x1_0234_5678n, 1);
      writeBlock(pool, 1, 0x1_0234_5700n, 2);
      writeBlock(pool, 2, 0x1_0234_5800n, 3); // evicts block 0
      pool.checkpoint();
    } finally {
      MdStorage.prototype.write = write;
    }
    // Every write is preceded by a flush up to exactly its page's LSN.
    const writes = events.filter((e) => e.startsWith("write"));
    expect(writes.length).toBe(3);
    for (let i = 0; i < events.length; i++) {
      const m = /^write blk (\d+) lsn (\w+)$/.exec(events[i]!);
      if (m === null) continue;
      expect(events[i - 1]).toBe(`flush ${m[2]} blk ${m[1]}`);
    }
    expect(events[0]).toBe("flush 102345678 blk 0");
  });

  it("[disk] a failing WAL flush leaves the page unwritten and dirty", () => {
    let fail = true;
    const hooks: PageHooks = {
      xlogFlush: () => {
        if (fail) throw new Error("WAL flush failed");
      },
    };
    const dataDir = tempDir();
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 4, dataDir },
      { pageHooks: hooks },
    );
    pool.createRelation(REL, 0);
    writeBlock(pool, 0, 0x100n, 7);
    expect(() => pool.checkpoint()).toThrow("WAL flush failed");
    expect(fs.readFileSync(path.join(dataDir, "base/5/16384"))[150]).toBe(0);
    expect(pool.bufferCache().find((r) => r.relblocknumber === 0)?.isdirty).toBe(true);
    fail = false;
    expect(pool.checkpoint().buffersWritten).toBe(1);
    expect(fs.readFileSync(path.join(dataDir, "base/5/16384"))[150]).toBe(7);
  });

  it("[memory] never calls the WAL hooks: the pool is the storage", () => {
    let calls = 0;
    const hooks: PageHooks = {
      xlogFlush: () => calls++,
      logHint: () => {
        calls++;
        return 5n;
      },
      delayCheckpoint: () => calls++,
    };
    const pool = createBufferPool({ variant: "memory", bufferCount: 8 }, { pageHooks: hooks });
    pool.createRelation(REL, 0);
    writeBlock(pool, 0, 0x100n, 7);
    pool.checkpoint();
    const buf = pool.readBuffer(REL, 0, 0);
    pool.lockBuffer(buf, "exclusive");
    expect(pool.flushBuffer(buf)).toBe(false);
    pool.unlockBuffer(buf);
    pool.lockBuffer(buf, "share");
    pool.markBufferDirtyHint(buf);
    pool.unlockReleaseBuffer(buf);
    expect(calls).toBe(0);
  });
});

describe("WAL hooks: a bulk read's ring (StrategyRejectBuffer)", () => {
  /** Scans 40 blocks through a BULKREAD ring, dirtying the first 4 with LSNs past the WAL. */
  function scan(needsFlush: boolean) {
    let flushes = 0;
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 64, dataDir: tempDir() },
      {
        pageHooks: {
          xlogFlush: () => flushes++,
          xlogNeedsFlush: () => needsFlush,
        },
      },
    );
    pool.createRelation(REL, 0);
    for (let b = 0; b < 40; b++) writeBlock(pool, b, 0n, b);
    pool.checkpoint();
    pool.dropRelationBuffers(REL, [0], [0]);
    flushes = 0;
    const ring = getAccessStrategy("bulkread", 64)!; // 8 buffers
    for (let b = 0; b < 40; b++) {
      const buf = pool.readBuffer(REL, 0, b, { strategy: ring });
      if (b < 4) {
        pool.lockBuffer(buf, "exclusive");
        setLsn(pool.bufferGetPage(buf), 0x9000n + BigInt(b));
        pool.markBufferDirty(buf);
        pool.unlockBuffer(buf);
      }
      pool.releaseBuffer(buf);
    }
    const resident = pool
      .bufferCache()
      .filter((r) => r.relblocknumber !== null && r.relblocknumber < 4);
    return { flushes, resident };
  }

  it("[disk] gives up a dirty ring buffer whose write needs a WAL flush, and keeps it dirty", () => {
    const { flushes, resident } = scan(true);
    expect(flushes).toBe(0);
    const blocks = resident.map((r) => [r.relblocknumber, r.isdirty]);
    expect(blocks.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [0, true],
      [1, true],
      [2, true],
      [3, true],
    ]);
  });

  it("[disk] reuses it (after the WAL flush) when the WAL is durable already", () => {
    const { flushes, resident } = scan(false);
    expect(flushes).toBe(4);
    expect(resident).toEqual([]);
  });
});

describe("WAL hooks: MarkBufferDirtyHint", () => {
  function hintPool(logHintLsn: bigint | undefined) {
    const events: string[] = [];
    const seen: { page: Uint8Array; tag: BufferTag; std: boolean }[] = [];
    const hooks: PageHooks = {
      logHint: (page, tag, std) => {
        events.push("logHint");
        seen.push({ page, tag, std });
        return logHintLsn;
      },
      delayCheckpoint: (on) => events.push(on ? "delay on" : "delay off"),
    };
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 4, dataDir: tempDir() },
      { pageHooks: hooks },
    );
    pool.createRelation(REL, 0);
    writeBlock(pool, 0, 0x50n, 1);
    pool.checkpoint(); // clean now
    return { pool, events, seen };
  }

  function hint(pool: ReturnType<typeof createBufferPool>, fork = 0, std?: boolean): Uint8Array {
    const buf = pool.readBuffer(REL, fork, 0);
    pool.lockBuffer(buf, "share");
    const page = pool.bufferGetPage(buf);
    page[150] = (page[150]! + 1) & 0xff;
    pool.markBufferDirtyHint(buf, std);
    const copy = page.slice();
    pool.unlockReleaseBuffer(buf);
    return copy;
  }

  it("[disk] logs the image of a clean page inside a checkpoint delay and sets its LSN", () => {
    const { pool, events, seen } = hintPool(0x2_0000_0100n);
    const after = hint(pool);
    expect(events).toEqual(["delay on", "logHint", "delay off"]);
    // The hook saw a copy (not the shared page), the tag, and the standard layout.
    expect(seen[0]!.tag).toEqual({ ...REL, fork: 0, block: 0 });
    expect(seen[0]!.std).toBe(true);
    expect(getLsn(seen[0]!.page)).toBe(0x50n);
    expect(seen[0]!.page[150]).toBe(after[150]);
    // The buffer was clean: the page takes the image's LSN, and it is dirty.
    expect(getLsn(after)).toBe(0x2_0000_0100n);
    expect(pool.bufferCache().find((r) => r.relblocknumber === 0)?.isdirty).toBe(true);
    // Dirty and just dirtied: the next hint asks for nothing.
    hint(pool);
    expect(events.length).toBe(3);
  });

  it("[disk] a page that needed no image keeps its LSN; a dirty page's LSN is not changed", () => {
    const none = hintPool(undefined);
    expect(getLsn(hint(none.pool))).toBe(0x50n);
    expect(none.events).toEqual(["delay on", "logHint", "delay off"]);

    // A hint while the page is being written (dirty, BM_JUST_DIRTIED cleared by FlushBuffer):
    // the image is asked for, but a dirty page's LSN belongs to its last logged change.
    const events: string[] = [];
    let armed: (() => void) | undefined;
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 4, dataDir: tempDir() },
      {
        pageHooks: {
          xlogFlush: () => {
            const f = armed;
            armed = undefined;
            f?.();
          },
          logHint: () => {
            events.push("logHint");
            return 0x3_0000_0000n;
          },
        },
      },
    );
    pool.createRelation(REL, 0);
    writeBlock(pool, 0, 0x60n, 9);
    const buf = pool.readBuffer(REL, 0, 0);
    pool.lockBuffer(buf, "share");
    armed = () => pool.markBufferDirtyHint(buf);
    expect(pool.flushBuffer(buf)).toBe(true);
    expect(events).toEqual(["logHint"]);
    expect(getLsn(pool.bufferGetPage(buf))).toBe(0x60n);
    pool.unlockReleaseBuffer(buf);
    // Re-dirtied during the write: still dirty afterwards.
    expect(pool.bufferCache().find((r) => r.relblocknumber === 0)?.isdirty).toBe(true);
  });

  it("[disk] free space map pages are logged as non-standard (their data is in the hole)", () => {
    const { pool, seen } = hintPool(0x100n);
    pool.createRelation(REL, 1);
    const buf = pool.extend(REL, 1);
    pool.lockBuffer(buf, "exclusive");
    pool.markBufferDirty(buf);
    pool.unlockReleaseBuffer(buf);
    pool.checkpoint();
    hint(pool, 1);
    expect(seen.at(-1)!.tag.fork).toBe(1);
    expect(seen.at(-1)!.std).toBe(false);
    hint(pool, 0, false);
    expect(seen.at(-1)!.std).toBe(false);
  });

  it("[disk] a failing hint image ends the checkpoint delay and leaves the page clean", () => {
    const events: string[] = [];
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 4, dataDir: tempDir() },
      {
        pageHooks: {
          logHint: () => {
            throw new Error("WAL insert failed");
          },
          delayCheckpoint: (on) => events.push(on ? "on" : "off"),
        },
      },
    );
    pool.createRelation(REL, 0);
    writeBlock(pool, 0, 0x50n, 1);
    pool.checkpoint();
    expect(() => hint(pool)).toThrow("WAL insert failed");
    expect(events).toEqual(["on", "off"]);
    expect(pool.bufferCache().find((r) => r.relblocknumber === 0)?.isdirty).toBe(false);
  });
});
