import * as fs from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  attachBufferPool,
  type BufferId,
  createBufferPool,
  ForkNumber,
  getAccessStrategy,
  PgsimError,
  relationPath,
  type SharedBufferPool,
} from "../src/index.js";
import {
  extendWith,
  makePool,
  REL,
  REL2,
  readFirstByte,
  removeTempDirs,
  tempDir,
  VARIANTS,
} from "./helpers.js";

afterAll(removeTempDirs);

function usageOf(
  pool: { bufferCache(): { bufferid: number; usagecount: number | null }[] },
  buffer: BufferId,
) {
  return pool.bufferCache()[(buffer as number) - 1]!.usagecount;
}

for (const variant of VARIANTS) {
  describe(`buffer manager scenarios [${variant}]`, () => {
    it(`[${variant}] a fresh pool hands out buffers 1, 2, 3, … from the free list before the hand moves`, () => {
      const pool = makePool(variant, 8) as SharedBufferPool;
      pool.createRelation(REL, ForkNumber.MAIN);
      const got: number[] = [];
      for (let i = 0; i < 8; i++) {
        const buf = pool.extend(REL, ForkNumber.MAIN);
        got.push(buf as number);
        pool.releaseBuffer(buf);
        expect(pool.strategyControl.hand).toBe(0);
      }
      expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(pool.bufferCacheSummary().buffers_unused).toBe(0);
    });

    it(`[${variant}] extend with zero-and-lock returns the new block exclusively locked (ReadBuffer(P_NEW, RBM_ZERO_AND_LOCK))`, () => {
      const a = makePool(variant, 4);
      const b = attachBufferPool(a.shared);
      a.createRelation(REL, ForkNumber.MAIN);
      const plain = a.extend(REL, ForkNumber.MAIN);
      const locked = a.extend(REL, ForkNumber.MAIN, { mode: "zero-and-lock" });
      expect(a.bufferGetBlockNumber(locked)).toBe(1);
      expect(a.bufferGetPage(locked).every((x) => x === 0)).toBe(true);
      // Another backend finds block 1 as the relation's last block, but cannot lock it ...
      expect(b.nblocks(REL, ForkNumber.MAIN)).toBe(2);
      const fromB = b.readBuffer(REL, ForkNumber.MAIN, 1);
      expect(fromB).toBe(locked);
      expect(b.conditionalLockBuffer(fromB)).toBe(false);
      // ... until the extender lets go; a plain extension came back unlocked.
      a.unlockBuffer(locked);
      expect(b.conditionalLockBuffer(fromB)).toBe(true);
      b.unlockReleaseBuffer(fromB);
      const plainFromB = b.readBuffer(REL, ForkNumber.MAIN, 0);
      expect(b.conditionalLockBuffer(plainFromB)).toBe(true);
      b.unlockReleaseBuffer(plainFromB);
      a.releaseBuffer(locked);
      a.releaseBuffer(plain);
      expect(b.detach().leakedPins).toEqual([]);
      expect(a.checkConsistency()).toEqual([]);
    });

    if (variant === "disk") {
      it("[disk] readBuffer with zero-and-lock of a block on disk, not in the pool, comes back zeroed and locked (redo's XLogInitBufferForRedo)", () => {
        const a = makePool(variant, 4);
        const b = attachBufferPool(a.shared);
        a.createRelation(REL, ForkNumber.MAIN);
        const buf = a.extend(REL, ForkNumber.MAIN);
        a.lockBuffer(buf, "exclusive");
        a.bufferGetPage(buf).fill(7);
        a.markBufferDirty(buf);
        a.flushBuffer(buf);
        a.unlockReleaseBuffer(buf);
        a.dropRelationBuffers(REL, [ForkNumber.MAIN], [0]);
        const z = a.readBuffer(REL, ForkNumber.MAIN, 0, { mode: "zero-and-lock" });
        expect(a.bufferGetPage(z).every((x) => x === 0)).toBe(true);
        // Locked: it can be dirtied at once, and no other backend can lock it.
        a.markBufferDirty(z);
        const fromB = b.readBuffer(REL, ForkNumber.MAIN, 0);
        expect(b.conditionalLockBuffer(fromB)).toBe(false);
        a.unlockReleaseBuffer(z);
        b.releaseBuffer(fromB);
        expect(b.detach().leakedPins).toEqual([]);
      });
    }

    it(`[${variant}] usage counts rise only on a backend's first pin, and cap at 5`, () => {
      const a = makePool(variant, 4);
      const b = attachBufferPool(a.shared);
      a.createRelation(REL, 0);
      const buf = a.extend(REL, 0);
      expect(usageOf(a, buf)).toBe(1);
      // Backend a pins the same buffer again: a private pin only, no shared change.
      const again = a.readBuffer(REL, 0, 0);
      expect(again).toBe(buf);
      expect(usageOf(a, buf)).toBe(1);
      expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(1);
      // Backend b's first pin raises it.
      const fromB = b.readBuffer(REL, 0, 0);
      expect(usageOf(a, buf)).toBe(2);
      expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(2);
      b.releaseBuffer(fromB);
      a.releaseBuffer(again);
      a.releaseBuffer(buf);
      for (let i = 0; i < 10; i++) b.releaseBuffer(b.readBuffer(REL, 0, 0));
      expect(usageOf(a, buf)).toBe(5);
      expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(0);
      expect(b.detach().leakedPins).toEqual([]);
    });

    it(`[${variant}] releasing pins counts per backend: the last release drops the shared refcount`, () => {
      const pool = makePool(variant, 4);
      pool.createRelation(REL, 0);
      const buf = pool.extend(REL, 0);
      pool.incrBufferRefCount(buf);
      pool.releaseBuffer(buf);
      expect(pool.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(1);
      pool.releaseBuffer(buf);
      expect(pool.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(0);
      expect(() => pool.releaseBuffer(buf)).toThrow(/not pinned/);
    });

    it(`[${variant}] drop and truncate give buffers back to the free list`, () => {
      const pool = makePool(variant, 6) as SharedBufferPool;
      pool.createRelation(REL, 0);
      pool.createRelation(REL2, 0);
      for (let i = 0; i < 4; i++) extendWith(pool, REL, i);
      for (let i = 0; i < 2; i++) extendWith(pool, REL2, 100 + i);
      expect(pool.bufferCacheSummary().buffers_unused).toBe(0);
      pool.truncateRelation(REL, 0, 1);
      expect(pool.nblocks(REL, 0)).toBe(1);
      expect(pool.strategyControl.freeList()).toHaveLength(3);
      expect(readFirstByte(pool, REL, 0)).toBe(0);
      pool.dropRelation(REL2);
      expect(pool.strategyControl.freeList()).toHaveLength(5);
      expect(pool.relationExists(REL2, 0)).toBe(false);
      expect(pool.checkConsistency()).toEqual([]);
      // The freed buffers are reused before anything else.
      extendWith(pool, REL, 9);
      expect(pool.strategyControl.freeList()).toHaveLength(4);
      // Blocks past the new end are gone.
      expect(() => pool.readBuffer(REL, 0, 2)).toThrow(/could not read block 2/);
      expect(pool.checkConsistency()).toEqual([]);
    });

    it(`[${variant}] content locks: shared holders coexist, exclusive waits for them, cleanup needs the only pin`, () => {
      const a = makePool(variant, 4);
      const b = attachBufferPool(a.shared);
      a.createRelation(REL, 0);
      const buf = a.extend(REL, 0);
      const bb = b.readBuffer(REL, 0, 0);
      a.lockBuffer(buf, "share");
      b.lockBuffer(bb, "share");
      expect(b.conditionalLockBuffer === undefined).toBe(false);
      b.unlockBuffer(bb);
      expect(b.conditionalLockBuffer(bb)).toBe(false); // a holds it in share mode
      a.unlockBuffer(buf);
      expect(a.conditionalLockBufferForCleanup(buf)).toBe(false); // b still pins
      b.releaseBuffer(bb);
      expect(a.conditionalLockBufferForCleanup(buf)).toBe(true);
      a.unlockReleaseBuffer(buf);
      b.detach();
    });

    it(`[${variant}] pg_buffercache rows describe every buffer`, () => {
      const pool = makePool(variant, 3);
      pool.createRelation(REL, 0);
      const buf = pool.extend(REL, 0);
      pool.lockBuffer(buf, "exclusive");
      pool.markBufferDirty(buf);
      pool.unlockBuffer(buf);
      const rows = pool.bufferCache();
      expect(rows[0]).toMatchObject({
        bufferid: 1,
        relfilenode: 16384,
        reltablespace: 1663,
        reldatabase: 5,
        relforknumber: 0,
        relblocknumber: 0,
        isdirty: true,
        usagecount: 1,
        pinning_backends: 1,
      });
      expect(rows[1]).toMatchObject({ bufferid: 2, relfilenode: null, usagecount: null });
      pool.releaseBuffer(buf);
      expect(pool.statistics()).toMatchObject({ extends: 1, dirtied: 1 });
    });

    it(`[${variant}] a backend that exits holding pins is reported as a leak, and the pins are released`, () => {
      const a = makePool(variant, 4);
      const b = attachBufferPool(a.shared);
      a.createRelation(REL, 0);
      a.releaseBuffer(a.extend(REL, 0));
      const held = b.readBuffer(REL, 0, 0);
      b.incrBufferRefCount(held);
      b.lockBuffer(held, "share");
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on("warning", onWarning);
      const report = b.detach();
      expect(report.leakedPins).toEqual([
        {
          buffer: held,
          count: 2,
          tag: { spcOid: 1663, dbOid: 5, relNumber: 16384, fork: 0, block: 0 },
        },
      ]);
      expect(report.releasedLocks).toBe(1);
      expect(a.bufferCache()[0]!.pinning_backends).toBe(0);
      // The lock was released too: another backend can take it exclusively.
      const buf = a.readBuffer(REL, 0, 0);
      expect(a.conditionalLockBuffer(buf)).toBe(true);
      a.unlockReleaseBuffer(buf);
      expect(() => b.readBuffer(REL, 0, 0)).toThrow(/detached/);
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          process.off("warning", onWarning);
          expect(warnings.join("\n")).toMatch(/buffer refcount leak/);
          resolve();
        }),
      );
    });
  });
}

describe("disk-backed: eviction and the clock", () => {
  it("the NBuffers = 4 worked example: a miss decrements four usage counts, takes buffer 1, hand at 1", () => {
    // The example: free list used up, all four unpinned with usage 1, the hand at 0.
    const p2 = makePool("disk", 4) as SharedBufferPool;
    p2.createRelation(REL, 0);
    for (let i = 0; i < 4; i++) extendWith(p2, REL, i);
    expect(p2.strategyControl.hand).toBe(0);
    expect(p2.bufferCache().map((r) => r.usagecount)).toEqual([1, 1, 1, 1]);
    extendWith(p2, REL, 4); // a miss: the clock sweeps 1,2,3,4 to 0 and takes buffer 1
    expect(p2.strategyControl.hand).toBe(1);
    expect(p2.strategyControl.completePasses).toBe(1);
    const rows = p2.bufferCache();
    expect(rows.map((r) => r.relblocknumber)).toEqual([4, 1, 2, 3]);
    expect(rows.map((r) => r.usagecount)).toEqual([1, 0, 0, 0]);
    expect(p2.statistics()).toMatchObject({ evictions: 1, writes: 1 });
    // The evicted page was written before its buffer was reused.
    expect(readFirstByte(p2, REL, 0)).toBe(0);
    expect(readFirstByte(p2, REL, 4)).toBe(4);
  });

  it("with every buffer pinned a miss fails with 'no unpinned buffers available', and the pool recovers", () => {
    const pool = makePool("disk", 3);
    pool.createRelation(REL, 0);
    const pins = [0, 1, 2].map(() => pool.extend(REL, 0));
    let err: unknown;
    try {
      pool.extend(REL, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgsimError);
    expect((err as PgsimError).code).toBe("no-unpinned-buffers");
    expect((err as PgsimError).message).toBe("no unpinned buffers available");
    expect(pool.nblocks(REL, 0)).toBe(3);
    for (const b of pins) pool.releaseBuffer(b);
    extendWith(pool, REL, 7);
    expect(pool.nblocks(REL, 0)).toBe(4);
    expect(readFirstByte(pool, REL, 3)).toBe(7);
    expect(pool.checkConsistency()).toEqual([]);
  });

  it("a bulk-read ring keeps a scan of a large relation inside its own buffers", () => {
    const pool = makePool("disk", 64);
    pool.createRelation(REL, 0);
    pool.createRelation(REL2, 0);
    for (let i = 0; i < 200; i++) extendWith(pool, REL, i % 251);
    pool.checkpoint();
    // Start the scan with none of the big table cached (its pages are on disk).
    pool.dropRelationBuffers(REL, [0], [0]);
    for (let i = 0; i < 8; i++) extendWith(pool, REL2, i); // a hot, small table
    for (let i = 0; i < 8; i++) for (let k = 0; k < 3; k++) readFirstByte(pool, REL2, i);
    const free = (pool as SharedBufferPool).strategyControl.freeList().length;
    const ring = getAccessStrategy("bulkread", 64)!;
    expect(ring.ringSize).toBe(8);
    for (let blk = 0; blk < 200; blk++) {
      const buf = pool.readBuffer(REL, 0, blk, { strategy: ring });
      expect(pool.bufferGetPage(buf)[0]).toBe(blk % 251);
      pool.releaseBuffer(buf);
    }
    const rows = pool.bufferCache();
    const scanBuffers = new Set(ring.members().map((id) => id + 1));
    // 200 pages went through 8 buffers: the ring's. The rest of the pool is untouched.
    const scanned = rows.filter((r) => r.relfilenode === REL.relNumber);
    expect(scanned.map((r) => r.bufferid).sort((a, b) => a - b)).toEqual(
      [...scanBuffers].sort((a, b) => a - b),
    );
    expect(scanned.map((r) => r.relblocknumber).sort((a, b) => a! - b!)).toEqual([
      192, 193, 194, 195, 196, 197, 198, 199,
    ]);
    expect(scanned.every((r) => (r.usagecount ?? 9) <= 1)).toBe(true);
    expect(rows.filter((r) => r.relfilenode === REL2.relNumber)).toHaveLength(8);
    expect((pool as SharedBufferPool).strategyControl.freeList()).toHaveLength(free - 8);
  });

  it("names files as PostgreSQL does, with 1 GB segments (here 2-block segments)", () => {
    const dataDir = tempDir();
    const pool = createBufferPool({ variant: "disk", bufferCount: 4, dataDir, segmentBlocks: 2 });
    pool.createRelation(REL, ForkNumber.MAIN);
    pool.createRelation(REL, ForkNumber.FSM);
    for (let i = 0; i < 5; i++) extendWith(pool, REL, 10 + i);
    pool.releaseBuffer(pool.extend(REL, ForkNumber.FSM));
    pool.checkpoint();
    const files = fs.readdirSync(path.join(dataDir, "base", "5")).sort();
    expect(files).toEqual(["16384", "16384.1", "16384.2", "16384_fsm"]);
    expect(fs.statSync(path.join(dataDir, "base/5/16384.2")).size).toBe(8192);
    expect(relationPath({ spcOid: 1664, dbOid: 0, relNumber: 1262 }, 0)).toBe("global/1262");
    expect(relationPath({ spcOid: 16500, dbOid: 5, relNumber: 16384 }, 2)).toBe(
      "pg_tblspc/16500/PG_15_202209061/5/16384_vm",
    );
    // Reading past the end fails with PostgreSQL's message, naming the segment file.
    expect(() => pool.readBuffer(REL, 0, 5)).toThrow(
      'could not read block 5 in file "base/5/16384.2": read only 0 of 8192 bytes',
    );
    // Truncation empties later segments and cuts the one holding the new end.
    pool.truncateRelation(REL, 0, 3);
    expect(pool.nblocks(REL, 0)).toBe(3);
    expect(fs.statSync(path.join(dataDir, "base/5/16384.1")).size).toBe(8192);
    expect(fs.statSync(path.join(dataDir, "base/5/16384.2")).size).toBe(0);
    for (let b = 0; b < 3; b++) expect(readFirstByte(pool, REL, b)).toBe(10 + b);
  });

  it("a checkpoint writes every dirty page, and a new pool on the same directory reads them back", () => {
    const dataDir = tempDir();
    const pool = createBufferPool({ variant: "disk", bufferCount: 8, dataDir });
    pool.createRelation(REL, 0);
    for (let i = 0; i < 6; i++) extendWith(pool, REL, 50 + i);
    expect(pool.bufferCacheSummary().buffers_dirty).toBe(6);
    const result = pool.checkpoint();
    expect(result.buffersWritten).toBe(6);
    expect(pool.bufferCacheSummary().buffers_dirty).toBe(0);
    expect(pool.checkpoint().buffersWritten).toBe(0);
    pool.detach();
    const again = createBufferPool({ variant: "disk", bufferCount: 2, dataDir });
    for (let i = 0; i < 6; i++) expect(readFirstByte(again, REL, i)).toBe(50 + i);
  });

  it("dropping buffers discards dirty data without writing it, as PostgreSQL does", () => {
    const dataDir = tempDir();
    const pool = createBufferPool({ variant: "disk", bufferCount: 8, dataDir });
    pool.createRelation(REL, 0);
    extendWith(pool, REL, 1);
    pool.checkpoint();
    const buf = pool.readBuffer(REL, 0, 0);
    pool.lockBuffer(buf, "exclusive");
    pool.bufferGetPage(buf)[0] = 99;
    pool.markBufferDirty(buf);
    pool.unlockReleaseBuffer(buf);
    pool.dropRelationBuffers(REL, [0], [0]);
    expect(readFirstByte(pool, REL, 0)).toBe(1);
  });

  it("page hooks verify every read and checksum every write", () => {
    const dataDir = tempDir();
    const hooks = {
      verifyPage: (page: Uint8Array) => page[8191] === 0 || page[8191] === 0xaa,
      setChecksum: (page: Uint8Array) => {
        page[8191] = 0xaa;
      },
    };
    const pool = createBufferPool(
      { variant: "disk", bufferCount: 2, dataDir },
      { pageHooks: hooks },
    );
    pool.createRelation(REL, 0);
    for (let i = 0; i < 3; i++) extendWith(pool, REL, i);
    pool.checkpoint();
    const file = path.join(dataDir, "base/5/16384");
    const bytes = fs.readFileSync(file);
    expect(bytes[8191]).toBe(0xaa);
    // The copy in the pool was not touched: the checksum went on a private copy.
    // Corrupt block 0 on disk: the next read of it fails verification.
    bytes[8191] = 0x55;
    fs.writeFileSync(file, bytes);
    pool.dropRelationBuffers(REL, [0], [0]);
    expect(() => pool.readBuffer(REL, 0, 0)).toThrow(
      "invalid page in block 0 of relation base/5/16384",
    );
    const zeroed = pool.readBuffer(REL, 0, 0, { mode: "zero-on-error" });
    expect(pool.bufferGetPage(zeroed).every((b) => b === 0)).toBe(true);
    pool.releaseBuffer(zeroed);
    expect(pool.checkConsistency()).toEqual([]);
  });
});

describe("memory-only: the pool is the storage", () => {
  it("a full pool is a typed error that says what to do, and loses nothing", () => {
    const pool = makePool("memory", 4);
    pool.createRelation(REL, 0);
    for (let i = 0; i < 4; i++) extendWith(pool, REL, 20 + i);
    let err: unknown;
    try {
      pool.extend(REL, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgsimError);
    expect((err as PgsimError).code).toBe("memory-pool-full");
    expect((err as PgsimError).message).toMatch(/memory-only buffer pool is full: all 4 buffers/);
    expect((err as PgsimError).message).toMatch(/VACUUM/);
    expect((err as PgsimError).message).toMatch(/more buffers/);
    expect(pool.nblocks(REL, 0)).toBe(4);
    for (let i = 0; i < 4; i++) expect(readFirstByte(pool, REL, i)).toBe(20 + i);
    expect(pool.statistics()).toMatchObject({ reads: 0, writes: 0, evictions: 0 });
    expect(pool.checkpoint()).toEqual({ buffersWritten: 0, filesSynced: 0 });
  });

  it("reading a block that was never added fails like a read past the end of a file", () => {
    const pool = makePool("memory", 4);
    pool.createRelation(REL, 0);
    expect(() => pool.readBuffer(REL, 0, 0)).toThrow(
      'could not read block 0 in file "base/5/16384": read only 0 of 8192 bytes',
    );
    expect(() => pool.readBuffer(REL2, 0, 0)).toThrow(/No such file or directory/);
  });
});

describe("access trace hook", () => {
  it("reports every hit, miss and extend of the backend that installed it, until removed", () => {
    const pool = makePool("disk", 2);
    pool.createRelation(REL, 0);
    const seen: string[] = [];
    pool.setAccessTraceHook((rel, fork, block, hit) => {
      seen.push(`${rel.relNumber}/${fork}/${block}:${hit ? "hit" : "miss"}`);
    });
    for (let i = 0; i < 3; i++) extendWith(pool, REL, i);
    readFirstByte(pool, REL, 2);
    readFirstByte(pool, REL, 0);
    pool.setAccessTraceHook(undefined);
    readFirstByte(pool, REL, 1);
    expect(seen).toEqual([
      "16384/0/0:miss",
      "16384/0/1:miss",
      "16384/0/2:miss",
      "16384/0/2:hit",
      "16384/0/0:miss",
    ]);
  });
});

describe("extending over a failed read", () => {
  it("[disk] a failed read past the end leaves a not-valid buffer that a later extension reuses", () => {
    const pool = makePool("disk", 2);
    pool.createRelation(REL, 0);
    pool.createRelation(REL2, 0);
    // Fill both buffers with data so that the next victim holds a used page image.
    extendWith(pool, REL2, 7);
    extendWith(pool, REL2, 8);
    pool.checkpoint();
    // Block 0 of REL does not exist yet: the read fails and leaves the victim tagged, not valid.
    expect(() => pool.readBuffer(REL, 0, 0)).toThrow(/could not read block 0/);
    expect(pool.bufferCache().some((r) => r.relfilenode === REL.relNumber)).toBe(true);
    // Extending REL must overwrite that buffer, not complain about data beyond EOF.
    expect(extendWith(pool, REL, 42)).toBe(0);
    expect(readFirstByte(pool, REL, 0)).toBe(42);
    expect(pool.checkConsistency()).toEqual([]);
  });
});

describe("error cleanup (AbortTransaction's release of locks and pins)", () => {
  for (const variant of VARIANTS) {
    it(`[${variant}] releases every content lock and the pins taken since the mark, and keeps older pins`, () => {
      const pool = makePool(variant, 8) as SharedBufferPool;
      pool.createRelation(REL, ForkNumber.MAIN);
      for (let i = 0; i < 4; i++) extendWith(pool, REL, i);
      // A pin held before the statement (a cursor's, say) stays, with its count.
      const older = pool.readBuffer(REL, ForkNumber.MAIN, 0);
      const mark = pool.resourceMark();
      // The statement pins its own, pins the older buffer again, and fails holding locks.
      const a = pool.readBuffer(REL, ForkNumber.MAIN, 1);
      const b = pool.readBuffer(REL, ForkNumber.MAIN, 2);
      const again = pool.readBuffer(REL, ForkNumber.MAIN, 0);
      pool.lockBuffer(a, "exclusive");
      pool.lockBuffer(b, "share");
      expect(again).toBe(older);
      const report = pool.errorCleanup(mark);
      expect(report).toEqual({ releasedLocks: 2, releasedPins: 3, abortedIo: 0 });
      expect(pool.heldPins().map((p) => [p.buffer, p.count])).toEqual([[older, 1]]);
      // Another backend can take the exclusive locks at once: nothing is held any more.
      const other = attachBufferPool(pool.shared);
      const a2 = other.readBuffer(REL, ForkNumber.MAIN, 1);
      expect(other.conditionalLockBuffer(a2)).toBe(true);
      other.unlockReleaseBuffer(a2);
      other.detach();
      pool.releaseBuffer(older);
      expect(pool.errorCleanup(pool.resourceMark())).toEqual({
        releasedLocks: 0,
        releasedPins: 0,
        abortedIo: 0,
      });
      pool.detach();
    });
  }
});

describe("disk-backed: the shared fork-size cache (smgr_cached_nblocks)", () => {
  /** Counts fstat calls (mdnblocks' measure of a segment) while `body` runs. */
  function countFstat(body: () => void): number {
    // The module object behind every `import … from "node:fs"`: a patched function reaches the
    // ESM bindings through syncBuiltinESMExports.
    const cjsFs = createRequire(import.meta.url)("node:fs") as typeof fs;
    const original = cjsFs.fstatSync;
    let calls = 0;
    cjsFs.fstatSync = ((...args: Parameters<typeof fs.fstatSync>) => {
      calls++;
      return original(...args);
    }) as typeof fs.fstatSync;
    syncBuiltinESMExports();
    try {
      body();
    } finally {
      cjsFs.fstatSync = original;
      syncBuiltinESMExports();
    }
    return calls;
  }

  it("measures a fork once; extensions and truncations keep the size exact for every backend without a system call", () => {
    const pool = makePool("disk", 16) as SharedBufferPool;
    const other = attachBufferPool(pool.shared);
    pool.createRelation(REL, ForkNumber.MAIN);
    expect(countFstat(() => expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(0))).toBe(1);
    const calls = countFstat(() => {
      for (let i = 0; i < 40; i++) {
        extendWith(i % 2 === 0 ? pool : other, REL, i);
        expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(i + 1);
        expect(other.nblocks(REL, ForkNumber.MAIN)).toBe(i + 1);
      }
    });
    expect(calls).toBe(0);
    // The file agrees.
    const file = path.join(pool.shared.dataDir!, relationPath(REL, ForkNumber.MAIN));
    expect(fs.statSync(file).size).toBe(40 * 8192);
    pool.checkpoint();
    other.truncateRelation(REL, ForkNumber.MAIN, 25);
    expect(countFstat(() => expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(25))).toBe(0);
    expect(fs.statSync(file).size).toBe(25 * 8192);
    // Dropped and created again: measured from the new (empty) file.
    pool.dropRelation(REL);
    pool.createRelation(REL, ForkNumber.MAIN);
    expect(other.nblocks(REL, ForkNumber.MAIN)).toBe(0);
    other.detach();
    pool.detach();
  });

  it("after a failed extension the size is measured from the file again", () => {
    const pool = makePool("disk", 16) as SharedBufferPool;
    pool.createRelation(REL, ForkNumber.MAIN);
    for (let i = 0; i < 3; i++) extendWith(pool, REL, i);
    const rule = pool.faults.arm({ point: "extend", fault: { type: "short-write", bytes: 4096 } });
    expect(() => pool.extend(REL, ForkNumber.MAIN)).toThrow(PgsimError);
    pool.faults.remove(rule);
    // Half a block reached the file: mdnblocks counts whole blocks, as PostgreSQL's does.
    const file = path.join(pool.shared.dataDir!, relationPath(REL, ForkNumber.MAIN));
    expect(fs.statSync(file).size).toBe(3 * 8192 + 4096);
    expect(countFstat(() => expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(3))).toBe(1);
    extendWith(pool, REL, 9);
    expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(4);
    pool.detach();
  });

  it("a fork beyond the cache's capacity is measured from its file each time", () => {
    const pool = makePool("disk", 16, { maxRelationForks: 1 }) as SharedBufferPool;
    pool.createRelation(REL, ForkNumber.MAIN);
    pool.createRelation(REL2, ForkNumber.MAIN);
    extendWith(pool, REL, 1);
    extendWith(pool, REL2, 2);
    extendWith(pool, REL2, 3);
    expect(pool.nblocks(REL, ForkNumber.MAIN)).toBe(1);
    expect(countFstat(() => expect(pool.nblocks(REL2, ForkNumber.MAIN)).toBe(2))).toBe(1);
    pool.detach();
  });
});
