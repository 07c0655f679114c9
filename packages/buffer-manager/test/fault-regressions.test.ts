// Regressions found by the randomized fault run (test/fault-run.test.ts), each reduced to the
// buffer pool alone.

import { afterAll, describe, expect, it } from "vitest";
import { createBufferPool, createFaultShmem, FaultTable, PgsimError } from "../src/index.js";
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

describe("a short or torn write at a point that also syncs", () => {
  it("counts and hits only writes: pg_control's fsync is no torn write", () => {
    // "control-write" is pg_control's write and its fsync; "the 2nd write" is the 3rd call.
    const table = new FaultTable(createFaultShmem());
    const torn = { type: "torn-write", bytes: 512, crash: false } as const;
    const id = table.arm({ point: "control-write", fault: torn, nth: 2 });
    const shortId = table.arm({
      point: "control-write",
      fault: { type: "short-write", bytes: 512 },
    });
    // The first write: the short write fires there, the torn one counts it.
    expect(table.match("control-write", "global/pg_control", true)).toEqual({
      type: "short-write",
      bytes: 512,
    });
    table.remove(shortId);
    // Its fsync: neither counted nor hit (it was: the torn write "fired" on the fsync, a no-op).
    expect(table.match("control-write", "global/pg_control", false)).toBeUndefined();
    expect(table.state(id)).toMatchObject({ hits: 1, fired: 0 });
    // The second write is torn.
    expect(table.match("control-write", "global/pg_control", true)).toEqual(torn);
    expect(table.state(id)).toMatchObject({ hits: 2, fired: 1 });
    // An EIO rule still applies to both.
    table.arm({ point: "control-write", fault: { type: "eio" }, nth: 2 });
    expect(table.match("control-write", "global/pg_control", true)).toBeUndefined();
    expect(table.match("control-write", "global/pg_control", false)).toEqual({ type: "eio" });
  });
});
