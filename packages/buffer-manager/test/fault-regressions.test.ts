// Regressions found by the randomized fault run (test/fault-run.test.ts), each reduced to the
// buffer pool alone.

import { afterAll, describe, expect, it } from "vitest";
import { createBufferPool, PgsimError } from "../src/index.js";
import { extendWith, REL, readFirstByte, removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("a failed write of an eviction victim", () => {
  it("fails the read that needed the buffer, keeps no pin, and the retried write succeeds (disk)", () => {
    const pool = createBufferPool({ variant: "disk", bufferCount: 2, dataDir: tempDir() });
    pool.createRelation(REL, 0);
    // Three blocks through two buffers: block 0 was written out, blocks 1 and 2 are dirty in
    // the pool, and reading block 0 needs one of them evicted, hence written.
    for (let i = 0; i < 3; i++) extendWith(pool, REL, 10 + i);
    expect(pool.bufferCacheSummary().buffers_dirty).toBe(2);
    const rule = pool.faults.arm({ point: "data-write", fault: { type: "enospc" } });
    let error: unknown;
    try {
      readFirstByte(pool, REL, 0);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toBe("disk-full");
    expect((error as PgsimError).message).toMatch(
      /^could not write block \d+ in file "base\/5\/16384": No space left on device$/,
    );
    expect(pool.faults.state(rule)?.fired).toBe(1);
    // The victim's pin went with the failed statement, as the resource owner releases it at
    // abort in PostgreSQL: no buffer is left pinned (it was: "incorrect local pin count" next).
    expect(pool.bufferCache().filter((r) => (r.pinning_backends ?? 0) > 0)).toEqual([]);
    // The page is still dirty; the next eviction writes it, and every block reads back.
    pool.faults.clear();
    for (let i = 0; i < 3; i++) expect(readFirstByte(pool, REL, i)).toBe(10 + i);
    expect(pool.detach().leakedPins).toEqual([]);
  });
});
