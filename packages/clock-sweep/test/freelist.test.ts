import { describe, expect, it } from "vitest";
import {
  DescriptorHeaders,
  getAccessStrategy,
  PgsimError,
  SimplePool,
  STRATEGY_CONTROL_INTS,
  StrategyControl,
  VictimSearch,
} from "../src/index.js";

/** A pool whose free list is used up and whose buffers hold the given usage counts, unpinned. */
function warmPool(usage: number[]): SimplePool {
  const pool = new SimplePool({ bufferCount: usage.length });
  usage.forEach((u, i) => {
    const { bufferId } = pool.access(`rel 1 blk ${i}`);
    pool.unpin(bufferId);
    pool.setUsageCount(bufferId, u);
  });
  return pool;
}

describe("free list (StrategyGetBuffer, first part)", () => {
  it("a fresh pool hands out buffers 0, 1, 2, … from the free list before the hand moves", () => {
    const pool = new SimplePool({ bufferCount: 6 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = pool.access(`rel 1 blk ${i}`, { trace: true });
      ids.push(r.bufferId);
      expect(r.steps.map((s) => s.kind)).toEqual(["free-list"]);
      expect(pool.strategy.hand).toBe(0);
    }
    expect(ids).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pool.strategy.freeList()).toEqual([]);
    expect(pool.strategy.completePasses).toBe(0);
  });

  it("an invalidated buffer goes back to the head of the free list and is used next", () => {
    const pool = warmPool([3, 3, 3, 3]);
    pool.invalidate(2);
    expect(pool.strategy.freeList()).toEqual([2]);
    const r = pool.access("rel 9 blk 0", { trace: true });
    expect(r.bufferId).toBe(2);
    expect(r.steps).toHaveLength(1);
    expect(pool.strategy.hand).toBe(0);
  });
});

describe("clock sweep (ClockSweepTick)", () => {
  it("the NBuffers = 4 worked example: four decrements, buffer 0 chosen, hand left at 1", () => {
    const pool = warmPool([1, 1, 1, 1]);
    expect(pool.strategy.hand).toBe(0);
    expect(pool.strategy.completePasses).toBe(0);
    const r = pool.access("rel 2 blk 0", { trace: true });
    expect(r.steps.map((s) => [s.bufferId, s.usageBefore, s.usageAfter, s.chosen])).toEqual([
      [0, 1, 0, false],
      [1, 1, 0, false],
      [2, 1, 0, false],
      [3, 1, 0, false],
      [0, 0, 0, true],
    ]);
    expect(r.bufferId).toBe(0);
    expect(r.evictedTag).toBe("rel 1 blk 0");
    expect(pool.strategy.hand).toBe(1);
    // The fifth fetch-add returned 4 and wrapped the counter: one complete pass.
    expect(pool.strategy.completePasses).toBe(1);
    // The newcomer starts with usage count 1; the others are now at 0.
    expect(pool.snapshot().map((b) => b.usageCount)).toEqual([1, 0, 0, 0]);
  });

  it("a buffer with usage 5 survives five laps; pinned buffers are skipped without decrement", () => {
    const pool = warmPool([5, 0, 0]);
    pool.pin(1);
    pool.setUsageCount(1, 0);
    pool.pin(2);
    pool.setUsageCount(2, 0);
    const r = pool.access("rel 3 blk 0", { trace: true });
    // Buffer 0 is decremented 5 → 0 over five laps, the pinned ones are left alone.
    const onZero = r.steps.filter((s) => s.bufferId === 0).map((s) => s.usageBefore);
    expect(onZero).toEqual([5, 4, 3, 2, 1, 0]);
    expect(r.steps.filter((s) => s.pinned).every((s) => s.usageBefore === s.usageAfter)).toBe(true);
    expect(r.bufferId).toBe(0);
  });

  it("with every buffer pinned the search fails after NBuffers consecutive pinned ticks", () => {
    const n = 5;
    const pool = new SimplePool({ bufferCount: n });
    for (let i = 0; i < n; i++) pool.access(`rel 1 blk ${i}`); // each stays pinned
    const search = pool.beginVictimSearch();
    let ticks = 0;
    let error: unknown;
    try {
      for (;;) {
        search.step();
        ticks++;
      }
    } catch (e) {
      error = e;
      ticks++;
    }
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toBe("no-unpinned-buffers");
    expect((error as PgsimError).message).toBe("no unpinned buffers available");
    expect(ticks).toBe(n);
    // The pool still works once a pin is released.
    pool.unpin(3);
    pool.setUsageCount(3, 0);
    expect(pool.access("rel 2 blk 0").bufferId).toBe(3);
  });

  it("a decrement resets the pinned-in-a-row counter", () => {
    const pool = warmPool([0, 0, 0, 2]);
    for (let i = 0; i < 3; i++) pool.pin(i);
    const r = pool.access("rel 5 blk 5", { trace: true });
    // 0,1,2 pinned (trycounter 3,2,1), 3 decremented 2→1 (reset to 4), then 0,1,2 pinned again,
    // 3 decremented 1→0, then 0,1,2 pinned, and 3 chosen: never four pinned in a row.
    expect(r.bufferId).toBe(3);
    expect(Math.min(...r.steps.map((s) => s.trycounter))).toBe(1);
  });

  it("usage counts cap at 5 and a hit raises them by one", () => {
    const pool = new SimplePool({ bufferCount: 2 });
    const { bufferId } = pool.access("rel 1 blk 0");
    expect(pool.snapshot()[bufferId]?.usageCount).toBe(1);
    for (let i = 0; i < 10; i++) {
      pool.access("rel 1 blk 0");
      expect(pool.snapshot()[bufferId]?.usageCount).toBe(Math.min(2 + i, 5));
    }
  });

  it("the hand wraps and counts complete passes across many allocations", () => {
    const pool = warmPool([0, 0, 0]);
    for (let i = 0; i < 7; i++) pool.unpin(pool.access(`rel 7 blk ${i}`).bufferId);
    // Each access is a miss that takes the buffer under the hand (all usage 1 → first lap
    // decrements...). Whatever the path, the position and passes agree with StrategySyncStart.
    const sync = pool.strategy.strategySyncStart();
    expect(sync.hand).toBe(pool.strategy.hand);
    expect(sync.completePasses).toBeGreaterThanOrEqual(pool.strategy.completePasses);
    expect(pool.strategy.strategySyncStart().numBufferAllocs).toBe(0);
  });
});

describe("rings (GetAccessStrategy)", () => {
  it("sizes rings as PostgreSQL 15 does, capped at NBuffers / 8", () => {
    expect(getAccessStrategy("bulkread", 16384)?.ringSize).toBe(32);
    expect(getAccessStrategy("vacuum", 16384)?.ringSize).toBe(32);
    expect(getAccessStrategy("bulkwrite", 16384)?.ringSize).toBe(2048);
    expect(getAccessStrategy("bulkwrite", 1000)?.ringSize).toBe(125);
    expect(getAccessStrategy("bulkread", 100)?.ringSize).toBe(12);
    expect(getAccessStrategy("normal", 16384)).toBeUndefined();
    expect(getAccessStrategy("bulkread", 7)).toBeUndefined();
  });

  it("a bulk read of many pages reuses its own ring buffers and leaves the rest alone", () => {
    const pool = new SimplePool({ bufferCount: 32 });
    // A hot set fills the pool first, each page used a few times.
    for (let i = 0; i < 32; i++) {
      const { bufferId } = pool.access(`hot ${i}`);
      pool.access(`hot ${i}`);
      pool.unpin(bufferId);
      pool.unpin(bufferId);
    }
    const ring = getAccessStrategy("bulkread", 32)!;
    expect(ring.ringSize).toBe(4);
    for (let blk = 0; blk < 100; blk++) {
      const r = pool.access(`scan blk ${blk}`, { strategy: ring });
      pool.unpin(r.bufferId);
    }
    const members = ring.members();
    expect(members).toHaveLength(4);
    const scanned = pool.snapshot().filter((b) => b.tag?.startsWith("scan"));
    // Only the ring's buffers hold scanned pages, and their usage never went above 1.
    expect(scanned.map((b) => b.bufferId).sort((a, b) => a - b)).toEqual(
      [...members].sort((a, b) => a - b),
    );
    expect(scanned.every((b) => b.usageCount <= 1)).toBe(true);
    expect(pool.snapshot().filter((b) => b.tag?.startsWith("hot"))).toHaveLength(28);
  });

  it("a ring buffer that someone else pinned is not reused; the search goes to the clock", () => {
    const pool = new SimplePool({ bufferCount: 16 });
    const ring = getAccessStrategy("vacuum", 16)!;
    expect(ring.ringSize).toBe(2);
    const a = pool.access("v 0", { strategy: ring }).bufferId;
    pool.unpin(a);
    const b = pool.access("v 1", { strategy: ring }).bufferId;
    pool.unpin(b);
    pool.pin(a); // another backend uses the page now
    const r = pool.access("v 2", { strategy: ring, trace: true });
    expect(r.steps[0]?.kind).toBe("ring-in-use");
    expect(r.bufferId).not.toBe(a);
    expect(ring.members()).toContain(r.bufferId);
  });

  it("only BULKREAD rejects a dirty ring buffer, and only one that came from its ring", () => {
    const bulkread = getAccessStrategy("bulkread", 64)!;
    const bulkwrite = getAccessStrategy("bulkwrite", 64)!;
    bulkread.buffers[0] = 5;
    bulkread.current = 0;
    bulkread.currentWasInRing = true;
    expect(bulkread.rejectBuffer(7)).toBe(false);
    expect(bulkread.rejectBuffer(5)).toBe(true);
    expect(bulkread.buffers[0]).toBe(-1);
    bulkwrite.buffers[0] = 5;
    bulkwrite.current = 0;
    bulkwrite.currentWasInRing = true;
    expect(bulkwrite.rejectBuffer(5)).toBe(false);
  });
});

describe("shared control block", () => {
  it("two StrategyControl views over one block see the same hand and free list", () => {
    const words = new Int32Array(new SharedArrayBuffer(4 * 16 * 4));
    const headers = new DescriptorHeaders(words, 4, {
      stride: 16,
      stateIndex: 5,
      freeNextIndex: 6,
    });
    const control = new Int32Array(new SharedArrayBuffer(4 * STRATEGY_CONTROL_INTS));
    const a = StrategyControl.initialize(control, headers);
    const b = StrategyControl.attach(control, headers);
    const sa = new VictimSearch(a);
    expect(a.strategyGetBuffer(sa)).toBe(0);
    headers.unlockBufHdr(0, sa.state | 1);
    expect(b.freeList()).toEqual([1, 2, 3]);
    const sb = new VictimSearch(b);
    expect(b.strategyGetBuffer(sb)).toBe(1);
    headers.unlockBufHdr(1, sb.state);
    expect(a.freeList()).toEqual([2, 3]);
  });
});

describe("bad input", () => {
  it("rejects absurd pool sizes and buffer ids with typed errors, and keeps working", () => {
    for (const n of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => new SimplePool({ bufferCount: n })).toThrow(PgsimError);
    }
    const pool = new SimplePool({ bufferCount: 2 });
    expect(() => pool.unpin(0)).toThrow(/not pinned/);
    expect(() => pool.pin(7)).toThrow(/invalid buffer id 7/);
    expect(() => pool.markDirty(-1)).toThrow(PgsimError);
    expect(() => getAccessStrategy("bulkread", 0)).toThrow(PgsimError);
    expect(pool.access("x").bufferId).toBe(0);
  });
});
