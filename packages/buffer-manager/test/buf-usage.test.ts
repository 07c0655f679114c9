// A backend's buffer usage (pgBufferUsage: what EXPLAIN (ANALYZE, BUFFERS) prints) and its
// per-relation tally of blocks fetched and hit (what pg_statio_user_tables is built from), on both
// variants and for a disk-backed pool small enough to evict.

import { afterAll, describe, expect, it } from "vitest";
import {
  attachBufferPool,
  bufferUsageDiff,
  ForkNumber,
  formatBufferUsage,
  ZERO_BUFFER_USAGE,
} from "../src/index.js";
import {
  extendWith,
  makePool,
  REL,
  REL2,
  readFirstByte,
  removeTempDirs,
  VARIANTS,
} from "./helpers.js";

afterAll(removeTempDirs);

for (const variant of VARIANTS) {
  describe(`buffer usage [${variant}]`, () => {
    it(`[${variant}] counts an extension as written, a clean buffer made dirty once, a found page as a hit`, () => {
      const pool = makePool(variant, 16);
      pool.createRelation(REL, ForkNumber.MAIN);
      expect(pool.bufferUsage()).toEqual(ZERO_BUFFER_USAGE);
      const before = pool.bufferUsage();
      extendWith(pool, REL, 1); // extend (written), markBufferDirty (dirtied)
      expect(bufferUsageDiff(pool.bufferUsage(), before)).toEqual({
        sharedBlksHit: 0,
        sharedBlksRead: 0,
        sharedBlksDirtied: 1,
        sharedBlksWritten: 1,
        sharedBlksExtended: 1,
      });
      const mid = pool.bufferUsage();
      // Dirty twice while still dirty: dirtied once. Read twice: two hits.
      for (let i = 0; i < 2; i++) {
        const buf = pool.readBuffer(REL, ForkNumber.MAIN, 0);
        pool.lockBuffer(buf, "exclusive");
        pool.markBufferDirty(buf);
        pool.unlockReleaseBuffer(buf);
      }
      const diff = bufferUsageDiff(pool.bufferUsage(), mid);
      expect(diff).toEqual({
        sharedBlksHit: 2,
        sharedBlksRead: 0,
        sharedBlksDirtied: 0,
        sharedBlksWritten: 0,
        sharedBlksExtended: 0,
      });
      expect(formatBufferUsage(diff)).toBe("Buffers: shared hit=2");
      pool.detach();
    });

    it(`[${variant}] each backend has its own counts, starting at zero`, () => {
      const pool = makePool(variant, 16);
      pool.createRelation(REL, ForkNumber.MAIN);
      extendWith(pool, REL, 7);
      const other = attachBufferPool(pool.shared);
      expect(other.bufferUsage()).toEqual(ZERO_BUFFER_USAGE);
      expect(readFirstByte(other, REL, 0)).toBe(7);
      expect(other.bufferUsage().sharedBlksHit).toBe(1);
      expect(pool.bufferUsage().sharedBlksHit).toBe(0);
      other.detach();
      pool.detach();
    });

    it(`[${variant}] tallies blocks fetched and hit per relation fork, and take() starts afresh`, () => {
      const pool = makePool(variant, 16);
      pool.createRelation(REL, ForkNumber.MAIN);
      pool.createRelation(REL, ForkNumber.FSM);
      pool.createRelation(REL2, ForkNumber.MAIN);
      extendWith(pool, REL, 1);
      extendWith(pool, REL, 2);
      extendWith(pool, REL2, 3);
      pool.releaseBuffer(pool.extend(REL, ForkNumber.FSM));
      readFirstByte(pool, REL, 0);
      readFirstByte(pool, REL, 1);
      readFirstByte(pool, REL, 1);
      readFirstByte(pool, REL2, 0);
      readFirstByte(pool, REL, 0);
      pool.releaseBuffer(pool.readBuffer(REL, ForkNumber.FSM, 0));
      const sorted = pool
        .takeRelationBlockCounts()
        .map((c) => [c.locator.relNumber, c.fork, c.blocksFetched, c.blocksHit])
        .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
      expect(sorted).toEqual([
        [REL.relNumber, ForkNumber.MAIN, 2 + 4, 4],
        [REL.relNumber, ForkNumber.FSM, 2, 1],
        [REL2.relNumber, ForkNumber.MAIN, 1 + 1, 1],
      ]);
      expect(pool.takeRelationBlockCounts()).toEqual([]);
      readFirstByte(pool, REL2, 0);
      expect(pool.takeRelationBlockCounts()).toEqual([
        { locator: REL2, fork: ForkNumber.MAIN, blocksFetched: 1, blocksHit: 1 },
      ]);
      // The same relation as the last read before take(): its hits land in the new tally, not in
      // the counters take() handed out.
      readFirstByte(pool, REL2, 0);
      readFirstByte(pool, REL2, 0);
      expect(pool.takeRelationBlockCounts()).toEqual([
        { locator: REL2, fork: ForkNumber.MAIN, blocksFetched: 2, blocksHit: 2 },
      ]);
      pool.detach();
    });
  });
}

describe("buffer usage [disk] with eviction", () => {
  it("counts a page read back from disk as a read, and a dirty victim's write as written", () => {
    const pool = makePool("disk", 16);
    pool.createRelation(REL, ForkNumber.MAIN);
    for (let b = 0; b < 40; b++) extendWith(pool, REL, b);
    pool.takeRelationBlockCounts();
    const before = pool.bufferUsage();
    // Block 0 was evicted long ago: reading it is a miss, and its buffer's victim was dirty.
    expect(readFirstByte(pool, REL, 0)).toBe(0);
    const diff = bufferUsageDiff(pool.bufferUsage(), before);
    expect(diff.sharedBlksRead).toBe(1);
    expect(diff.sharedBlksHit).toBe(0);
    expect(diff.sharedBlksWritten).toBe(1);
    expect(diff.sharedBlksExtended).toBe(0);
    expect(formatBufferUsage(diff)).toBe("Buffers: shared read=1 written=1");
    expect(pool.takeRelationBlockCounts()).toEqual([
      { locator: REL, fork: ForkNumber.MAIN, blocksFetched: 1, blocksHit: 0 },
    ]);
    pool.detach();
  });

  it("prints nothing for a statement that touched no buffer", () => {
    expect(formatBufferUsage(ZERO_BUFFER_USAGE)).toBe("");
  });
});
