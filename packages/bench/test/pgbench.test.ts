/**
 * PostgreSQL 15's pgbench as the TPC-B peer: what `runPgbench` reads from pgbench's summary and
 * transaction log, and a real short run whose tables keep TPC-B's invariant (every balance sum
 * equals the history's sum of deltas, one history row per transaction).
 *
 * PostgreSQL 15 is required: the test never skips; without it it fails saying how to install.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  latencySummary,
  type PgCluster,
  parsePgbenchLog,
  parsePgbenchSummary,
  runPgbench,
  startPgCluster,
} from "../src/index.js";

const SUMMARY = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: TPC-B (sort of)>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 446
number of failed transactions: 0 (0.000%)
latency average = 8.595 ms
initial connection time = 96.141 ms
tps = 232.684564 (without initial connection time)
`;

describe("pgbench's output", () => {
  it("reads the summary of PostgreSQL 15's pgbench", () => {
    expect(parsePgbenchSummary(SUMMARY)).toEqual({
      transactions: 446,
      failed: 0,
      latencyAverageMs: 8.595,
      tps: 232.684564,
    });
    expect(() => parsePgbenchSummary("pgbench: error: connection failed")).toThrow(
      /number of transactions actually processed/,
    );
  });

  it("reads the per-transaction log, leaving failed transactions out", () => {
    const log =
      "0 1 61259 0 1796197736 374826\n0 2 20196 0 1796197736 395047\n1 1 failed 0 1796197736 416147\n";
    expect(parsePgbenchLog(log)).toEqual([61.259, 20.196]);
    expect(() => parsePgbenchLog("0 1 2\n")).toThrow(/not a pgbench transaction log line/);
  });

  it("summarizes latencies with nearest-rank percentiles", () => {
    const ms = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(latencySummary(ms)).toEqual({
      count: 100,
      avg: 50.5,
      p50: 50,
      p95: 95,
      p99: 99,
      max: 100,
    });
    expect(latencySummary([])).toEqual({ count: 0, avg: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
});

describe("runPgbench on a private PostgreSQL 15", () => {
  let pg: PgCluster;
  beforeAll(async () => {
    try {
      pg = await startPgCluster({ settings: { autovacuum: "off" } });
    } catch (error) {
      throw new Error(`this test needs PostgreSQL 15 and never skips: ${(error as Error).message}`);
    }
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it("runs TPC-B (sort of): every transaction logged, the balances add up to the history", async () => {
    const r = await runPgbench(pg, { scale: 1, clients: 2, durationSeconds: 2 });
    expect(r.transactions).toBeGreaterThan(0);
    expect(r.failed).toBe(0);
    expect(r.tps).toBeGreaterThan(0);
    expect(r.latencyMs.count).toBe(r.transactions);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p95);
    expect(r.latencyMs.p95).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);
    expect(r.command).toContain("tpcb-like");
    const [[accounts, history, delta, a, t, b]] = (await pg.query(
      "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_history), " +
        "(SELECT coalesce(sum(delta), 0) FROM pgbench_history), " +
        "(SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), " +
        "(SELECT sum(bbalance) FROM pgbench_branches)",
    )) as [string[]];
    expect(accounts).toBe("100000");
    expect(Number(history)).toBe(r.transactions);
    expect([a, t, b]).toEqual([delta, delta, delta]);
  }, 120_000);

  it("refuses parameters pgbench would not take", async () => {
    await expect(runPgbench(pg, { clients: 2, jobs: 3, skipInit: true })).rejects.toThrow(
      /jobs \(3\) must not exceed clients \(2\)/,
    );
    await expect(runPgbench(pg, { scale: 0 })).rejects.toThrow(/scale must be a positive integer/);
  });
});
