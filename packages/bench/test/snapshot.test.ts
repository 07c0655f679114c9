/**
 * Smoke test of `pgsim-bench snapshot` (memory-only persistence's cost), kept short: a 4 MB pool,
 * one snapshot, a fraction of a second of UPDATEs with and without snapshots. Checks the figures
 * are the snapshot's (its file size follows from its pages, a snapshot ran during the DML run)
 * and that bad options are usage errors.
 *
 * Measures: nothing about speed.
 * Entry points: the suite "pgsim-bench snapshot".
 * See also: ../src/snapshot.ts, ../src/cli.ts.
 */

import { describe, expect, it } from "vitest";
import { main } from "../src/cli.js";
import type { SnapshotBenchResult } from "../src/snapshot.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("pgsim-bench snapshot", () => {
  it("measures a snapshot's time, size and load, and the DML slowdown while snapshots run", async () => {
    const { code, out, err } = await run([
      "snapshot",
      "--pool-mb",
      "4",
      "--snapshots",
      "2",
      "--dml-seconds",
      "0.3",
      "--interval-ms",
      "50",
      "--dml-pool-mb",
      "4",
      "--no-fsync",
      "--json",
    ]);
    expect(err).toContain("snapshot: 4 MB pool, snapshot 2 of 2");
    expect(code).toBe(0);
    const r = JSON.parse(out) as SnapshotBenchResult;
    expect(r.options).toMatchObject({ poolMb: [4], snapshots: 2, fsync: false, intervalMs: 50 });
    const s = r.sizes[0]!;
    // 90 % of 512 buffers hold pages; the file is the pages with their tags, plus a little.
    expect(s.pages).toBeGreaterThan(400);
    expect(s.pages).toBeLessThanOrEqual(512);
    expect(s.fileBytes).toBeGreaterThan(s.pages * 8216);
    expect(s.fileBytes).toBeLessThan(s.pages * 8216 + 200_000);
    expect(s.totalMs.median).toBeGreaterThanOrEqual(s.quiesceMs.median);
    expect(s.fileBytesPerGb / 1024 ** 3).toBeCloseTo(s.fileBytes / s.usedBytes, 6);
    expect(r.dml.without.snapshots).toBe(0);
    expect(r.dml.with.snapshots).toBeGreaterThanOrEqual(1);
    expect(r.dml.with.snapshotShare).toBeGreaterThan(0);
    expect(r.dml.with.snapshotShare).toBeLessThan(1);
    expect(r.dml.without.snapshotShare).toBe(0);
    expect(r.dml.without.transactions).toBeGreaterThan(0);
    expect(r.dml.slowdown).toBeCloseTo(1 - r.dml.with.tps / r.dml.without.tps, 9);
  });

  it("refuses bad options with a usage error", async () => {
    const bad = await run(["snapshot", "--pool-mb", "4,x"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--pool-mb takes a comma-separated list of positive integers");
    const fill = await run(["snapshot", "--fill", "0.99"]);
    expect(fill.code).toBe(2);
    expect(fill.err).toContain("--fill must be above 0.1 and at most 0.95");
  });
});
