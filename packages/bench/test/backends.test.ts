/**
 * `pgsim-bench backends`: the latency statistics (nearest-rank percentiles), the option parser,
 * the benchmark's transactions on a real two-backend cluster (balances add up, the accounts index
 * finds every row through HOT and non-HOT updates), and a smoke run of the built command (its
 * JSON, the files `--out` writes, --help, usage errors).
 *
 * Measures: nothing about speed (figures are only checked to be finite, positive and ordered).
 * Entry points: the suites "pgsim-bench backends: …".
 * See also: ../src/backends.ts and backends-*.ts, ../src/backends-functions.ts, ../src/cli.ts,
 * cli.test.ts (the shared usage rules). The smoke tests run dist/cli.js, so build first (`npm
 * test` runs `tsc -b` before vitest).
 */

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import type { BackendsResult } from "../src/backends.js";
import {
  buildAccountsIndex,
  createBenchTables,
  readIndexCounters,
} from "../src/backends-functions.js";
import { parseBackendsOptions } from "../src/backends-options.js";
import { attachIndexEverywhere } from "../src/backends-run.js";
import { percentile, SampleBuffer, summarizeLatencies } from "../src/backends-stats.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cli = path.join(packageDir, "dist", "cli.js");
const functionsModule = fileURLToPath(new URL("../src/backends-functions.ts", import.meta.url));
/** A stack trace line as Node prints it: "    at fn (file:line:col)". */
const STACK_LINE = /^\s+at .+/m;
const outDirs: string[] = [];

afterAll(() => {
  for (const d of outDirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("pgsim-bench backends: latency statistics", () => {
  it("percentile is the nearest rank: the smallest sample with p % of the samples at or below it", () => {
    const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    const four = Float64Array.of(10, 20, 30, 40);
    expect(percentile(four, 25)).toBe(10);
    expect(percentile(four, 26)).toBe(20);
    expect(percentile(four, 50)).toBe(20);
    expect(percentile(four, 99)).toBe(40);
    expect(percentile(Float64Array.of(7), 99)).toBe(7);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
    expect(() => percentile(four, 101)).toThrow(RangeError);
  });

  it("summarizeLatencies sorts numerically and reports count, mean, p50, p95, p99 and max", () => {
    // 1000 samples, shuffled: 1..1000 ms, plus numeric order that a string sort would break.
    const next = rng(7);
    const samples = Array.from({ length: 1000 }, (_, i) => i + 1);
    for (let i = samples.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [samples[i], samples[j]] = [samples[j]!, samples[i]!];
    }
    expect(summarizeLatencies(samples)).toEqual({
      count: 1000,
      meanMs: 500.5,
      p50Ms: 500,
      p95Ms: 950,
      p99Ms: 990,
      maxMs: 1000,
    });
    const tail = summarizeLatencies([0.5, 0.25, 9, 0.125]);
    expect(tail.p50Ms).toBe(0.25);
    expect(tail.p99Ms).toBe(9);
    expect(summarizeLatencies([]).count).toBe(0);
    expect(summarizeLatencies([]).p99Ms).toBeNaN();
  });

  it("SampleBuffer keeps every sample as it grows past its first capacity", () => {
    const buffer = new SampleBuffer();
    for (let i = 0; i < 40_000; i++) buffer.push(i / 8);
    expect(buffer.length).toBe(40_000);
    expect(buffer.values()[0]).toBe(0);
    expect(buffer.values()[39_999]).toBe(39_999 / 8);
    expect(summarizeLatencies(buffer.values()).maxMs).toBe(39_999 / 8);
  });
});

describe("pgsim-bench backends: options", () => {
  it("fills in the defaults and sorts and de-duplicates the lists", () => {
    expect(parseBackendsOptions({})).toEqual({
      clients: [1, 2, 4, 8, 16, 32, 64],
      backends: [1, 2],
      seconds: 5,
      mode: "read-only",
      variant: "memory",
      accounts: 100_000,
      statements: 1,
    });
    const o = parseBackendsOptions({
      clients: "8,1,8,2",
      backends: "2",
      seconds: "0.5",
      mode: "read-write",
      variant: "disk",
      accounts: "10_000",
    });
    expect(o).toMatchObject({ clients: [1, 2, 8], backends: [2], seconds: 0.5, accounts: 10_000 });
  });

  it.each([
    [{ clients: "0" }, /--clients takes integers from 1/],
    [{ clients: "1,x" }, /--clients/],
    [{ clients: "," }, /--clients takes a comma-separated list/],
    [{ backends: "65" }, /--backends takes integers from 1 to 64/],
    [{ seconds: "0" }, /--seconds takes a number above 0/],
    [{ seconds: "-1" }, /--seconds/],
    [{ mode: "write-only" }, /--mode must be read-only or read-write/],
    [{ variant: "ssd" }, /--variant must be memory or disk/],
    [{ accounts: "1e6" }, /--accounts/],
    [{ statements: "0" }, /--statements takes integers from 1 to 1,000/],
    [{ statements: "4", mode: "read-write" }, /--statements applies to --mode read-only only/],
  ])("rejects %o", (values, message) => {
    expect(() => parseBackendsOptions(values)).toThrow(message);
  });
});

describe("pgsim-bench backends: the transactions on two backends", () => {
  it("read-write: each balance is the sum of its history deltas, and the index finds every row", async () => {
    // 200 accounts fill three pages: eight clients collide on rows (row-lock waits and the READ
    // COMMITTED re-check) and fill pages (non-HOT updates that move rows and add index entries).
    const accounts = 200;
    const cluster = await Cluster.start({
      variant: "memory",
      bufferCount: 2048,
      backends: 2,
      functionsModule,
    });
    try {
      createBenchTables(cluster.db, accounts);
      const index = buildAccountsIndex(cluster.db, accounts);
      await attachIndexEverywhere(cluster, index, 2);
      const next = rng(42);
      const backendsSeen = new Set<number>();
      const client = async (): Promise<void> => {
        for (let i = 0; i < 250; i++) {
          const aid = 1 + Math.floor(next() * accounts);
          const delta = Math.floor(next() * 201) - 100;
          await cluster.call("readWrite", [aid, delta]);
        }
        backendsSeen.add(await cluster.call<number>("attachIndex", { index, holdMs: 0 }));
      };
      await Promise.all(Array.from({ length: 8 }, client));

      const tx = cluster.db.begin();
      const balances = new Map(tx.scan("accounts").map((r) => [r.row[0], r.row[1]]));
      const history = tx.scan("history").map((r) => r.row);
      tx.commit();
      expect(history).toHaveLength(2000);
      const sums = new Map<unknown, number>();
      for (const [aid, delta] of history) sums.set(aid, (sums.get(aid) ?? 0) + (delta as number));
      expect(balances.size).toBe(accounts);
      for (const [aid, balance] of balances) expect(balance, `aid ${aid}`).toBe(sums.get(aid) ?? 0);

      const counters = readIndexCounters(index);
      expect(counters.indexInserts).toBeGreaterThan(0);
      expect(counters.fallbackScans).toBe(0);
      // Every row, looked up through the index on the backends, has the balance the scan saw.
      const looked = await Promise.all(
        Array.from({ length: accounts }, (_, i) => cluster.call<number>("readOnly", i + 1)),
      );
      expect(looked).toEqual(Array.from({ length: accounts }, (_, i) => balances.get(i + 1)));
      expect(readIndexCounters(index).fallbackScans).toBe(0);
    } finally {
      await cluster.shutdown();
    }
  });
});

describe("pgsim-bench backends: the pooler the clients queue in", () => {
  it("serves calls first in, first out: 200 submitted at once to one backend finish in order", async () => {
    const cluster = await Cluster.start({
      variant: "memory",
      bufferCount: 256,
      backends: 1,
      functionsModule,
    });
    try {
      const finished: number[] = [];
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          cluster.call("noop").then(() => {
            finished.push(i);
          }),
        ),
      );
      expect(finished).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await cluster.shutdown();
    }
  });
});

describe("pgsim-bench backends: the command", () => {
  it("--json --out prints one JSON object with a point per client count and writes json, md, svg, png", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-test-backends-"));
    outDirs.push(out);
    const r = await runCli([
      "backends",
      "--clients",
      "1,2",
      "--backends",
      "1",
      "--seconds",
      "1",
      "--json",
      "--out",
      out,
    ]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const result = JSON.parse(r.stdout) as BackendsResult;
    expect(result).toMatchObject({
      command: "backends",
      mode: "read-only",
      variant: "memory",
      accounts: 100_000,
      statements: 1,
      seconds: 1,
      clients: [1, 2],
      backends: [1],
      index: { fallbackScans: 0, indexInserts: 0 },
      targets: [],
    });
    expect(result.points.map((p) => [p.backends, p.clients])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    expect(result.pooler.map((p) => [p.backends, p.clients])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    for (const p of [...result.points, ...result.pooler]) {
      expect(p.tps).toBeGreaterThan(0);
      expect(p.tps).toBeCloseTo(p.transactions / p.seconds, 6);
      expect(p.latency.count).toBe(p.transactions);
      const { p50Ms, p95Ms, p99Ms, maxMs } = p.latency;
      expect(p50Ms).toBeGreaterThan(0);
      expect(p50Ms <= p95Ms && p95Ms <= p99Ms && p99Ms <= maxMs).toBe(true);
      expect(Number.isFinite(p.cpuPct) && Number.isFinite(p.mainThreadBusyPct)).toBe(true);
    }
    expect(result.peaks).toEqual([
      {
        backends: 1,
        clients: expect.any(Number),
        tps: Math.max(...result.points.map((p) => p.tps)),
      },
    ]);
    expect(result.direct.tps).toBeGreaterThan(0);
    expect(result.machine.cpus).toBeGreaterThan(0);
    // Progress went to stderr.
    expect(r.stderr).toMatch(/read-only b=1 c=2/);
    // stderr is not a terminal: no bars, one line per point with its figures.
    for (const label of [
      "load 1 backend",
      "read-only b=1 c=1",
      "read-only b=1 c=2",
      "noop b=1 c=1",
    ]) {
      const lines = r.stderr.split("\n").filter((l) => l.startsWith(`${label} `));
      expect(lines, label).toHaveLength(1);
      expect(lines[0], label).toMatch(/ \.\.\. \S/);
    }
    expect(r.stderr).not.toMatch(/[█░]/);
    // What the run does and skips.
    const doesOf = (aspect: string) => result.traits.find((t) => t.aspect === aspect)?.does;
    for (const aspect of ["WAL", "fsync at commit", "SQL executor", "checksums", "files on disk"]) {
      expect(doesOf(aspect), aspect).toBe(false);
    }

    expect(fs.readdirSync(out).sort()).toEqual(
      ["json", "md", "png", "svg"].map((ext) => `backends-read-only-memory.${ext}`),
    );
    const saved = JSON.parse(
      fs.readFileSync(path.join(out, "backends-read-only-memory.json"), "utf8"),
    );
    expect(saved).toEqual(result);
    const md = fs.readFileSync(path.join(out, "backends-read-only-memory.md"), "utf8");
    expect(md).toMatch(/^# pgsim-bench backends: read-only/);
    expect(md).toMatch(/\| 2 \| [0-9,]+ \([0-9.]+\) \|/);
    expect(md).toContain(
      "What pgsim (memory) does and skips here (skips: WAL, fsync at commit, SQL executor, checksums, files on disk):",
    );
    expect(fs.readFileSync(path.join(out, "backends-read-only-memory.svg"), "utf8")).toMatch(
      /<svg[\s\S]*clients[\s\S]*<\/svg>/,
    );
    const png = fs.readFileSync(path.join(out, "backends-read-only-memory.png"));
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
  });

  it("read-write on a disk-backed cluster with 2 backends prints a table", async () => {
    const r = await runCli([
      "backends",
      "--mode",
      "read-write",
      "--variant",
      "disk",
      "--accounts",
      "2000",
      "--clients",
      "4",
      "--backends",
      "2",
      "--seconds",
      "0.5",
    ]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pgsim-bench backends: read-write, disk, 2,000 accounts/);
    expect(r.stdout).toMatch(/^\s+2\s+4\s+[0-9,]+\s/m);
    expect(r.stdout).toMatch(/pooler alone \(noop/);
    expect(r.stdout).toMatch(/, 0 fallback scans/);
    expect(r.stdout).toMatch(
      /^what pgsim \(disk\) does and skips: WAL: yes, with FPIs; fsync at commit: yes; .*files on disk: yes/m,
    );
  });

  it("--help lists the options", async () => {
    const r = await runCli(["backends", "--help"]);
    expect(r.code).toBe(0);
    for (const option of [
      "--clients",
      "--backends",
      "--seconds",
      "--mode",
      "--variant",
      "--accounts",
      "--json",
      "--out",
    ]) {
      expect(r.stdout).toContain(option);
    }
  });

  it.each([
    [["--clients", "0"], /--clients takes integers/],
    [["--mode", "sideways"], /--mode must be read-only or read-write/],
    [["--seconds", "soon"], /--seconds/],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("backends %j exits 2 with a usage line and no stack trace", async (args, message) => {
    const r = await runCli(["backends", ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: pgsim-bench backends/);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});
