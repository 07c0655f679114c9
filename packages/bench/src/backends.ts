/**
 * `pgsim-bench backends`: C clients on B backends (worker threads behind the cluster's pooler)
 * running short transactions, pgbench-style, to show how throughput scales with backends and how
 * latency grows with the queue.
 *
 * Measures, per (backends, clients): throughput (transactions that completed inside the measured
 * window, per second) and latency percentiles (p50, p95, p99, from submit to result as the client
 * sees it, pooler queueing included), with the process's CPU use and the main thread's event-loop
 * busy share over the same window. Besides: the pooler alone (`noop`, a call that starts no
 * transaction) per backend count, and the transaction run directly on the main thread's own
 * backend with no pooler (`direct`: the backend's work per transaction).
 * Models: `pgbench -S` (mode read-only) and a scaled-down `pgbench` tpcb-like (mode read-write),
 * `-c C` clients, each submitting one transaction at a time, through a transaction-mode pooler
 * (PgBouncer with default_pool_size = B) — see backends-functions.ts for the transactions and
 * the accounts index.
 * Entry points: `runBackends`, `parseBackendsOptions`, `formatBackendsTable`, `backendsMarkdown`,
 * `backendsChartSpec`, `writeBackendsReport`, `attachIndexEverywhere`, `summarizeLatencies`,
 * `percentile`, `SampleBuffer`.
 * See also: backends-functions.ts, cli.ts, chart.ts, ../../heap-am/src/cluster.ts (the pooler),
 * ../README.md ("backends"), ../RESULTS.md.
 *
 * Each client is an async loop on the main thread: submit (`cluster.call`), await the result,
 * record the latency, submit again; clients, the pooler's dispatch and the result handling share
 * the main thread, as pgbench's client threads and PgBouncer share the machine with PostgreSQL.
 * A point runs a warm-up (JIT, caches; not measured) and then the measured window. A failed
 * transaction fails the run: neither mix can fail under READ COMMITTED unless something is
 * broken.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { EventLoopUtilization } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Cluster, type Database, PgsimError } from "@pgsim/heap-am";
import type { TopLevelSpec } from "vega-lite";
import {
  type AccountsIndexShared,
  buildAccountsIndex,
  createBenchTables,
  type IndexCounters,
  readIndexCounters,
  readOnly,
  readWrite,
  setLocalIndex,
} from "./backends-functions.js";
import { CHART_CONFIG, writeChart } from "./chart.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import type { Progress } from "./progress.js";

/** The two transaction mixes. */
export const BACKENDS_MODES = ["read-only", "read-write"] as const;
export type BackendsMode = (typeof BACKENDS_MODES)[number];

/** Options of `runBackends` (what the command line sets). */
export interface BackendsOptions {
  /** Client counts, one point each (default 1,2,4,8,16,32,64). */
  clients: number[];
  /** Backend counts, one cluster each (default 1,2). */
  backends: number[];
  /** Measured seconds per point (default 5). */
  seconds: number;
  mode: BackendsMode;
  variant: "memory" | "disk";
  /** Rows in accounts (default 100 000, pgbench's scale 1). */
  accounts: number;
  /**
   * SELECTs per read-only transaction (default 1, pgbench -S). More make each transaction
   * heavier for the backend while the pooler's cost stays the same.
   */
  statements?: number;
  /** Warm-up seconds before each point (default: a fifth of `seconds`, from 0.2 to 1). */
  warmupSeconds?: number;
  progress?: Progress;
}

/** The defaults of the command line. */
export const BACKENDS_DEFAULTS = {
  clients: [1, 2, 4, 8, 16, 32, 64],
  backends: [1, 2],
  seconds: 5,
  mode: "read-only",
  variant: "memory",
  accounts: 100_000,
  statements: 1,
} as const satisfies Omit<BackendsOptions, "clients" | "backends"> & {
  clients: readonly number[];
  backends: readonly number[];
};

/** Limits of the options (a usage error beyond them). */
const LIMITS = {
  clients: 1024,
  backends: 64,
  secondsMax: 3600,
  accounts: 10_000_000,
  statements: 1000,
} as const;

/** Latency percentiles of one point, in milliseconds. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** One (backends, clients) measurement. */
export interface BackendsPoint {
  backends: number;
  clients: number;
  /** Transactions that completed inside the measured window. */
  transactions: number;
  /** Length of the measured window. */
  seconds: number;
  tps: number;
  latency: LatencySummary;
  /** CPU time of the whole process (every thread) over the window, in % of one core. */
  cpuPct: number;
  /** The main thread's event-loop utilization over the window (clients + pooler), in %. */
  mainThreadBusyPct: number;
}

/** The transaction run in a loop on the main thread's own backend, without the pooler. */
export interface DirectResult {
  transactions: number;
  seconds: number;
  tps: number;
  usPerTransaction: number;
}

/** A target from the issue, with what was measured. */
export interface BackendsTarget {
  name: string;
  description: string;
  value: number;
  /** "≥ 1.7" and the like. */
  target: string;
  met: boolean;
}

/** Everything one run measured (the JSON object of `--json`). */
export interface BackendsResult {
  command: "backends";
  date: string;
  machine: MachineInfo;
  /** os.loadavg() before and after: other work on the machine skews the figures. */
  loadAverage: { before: number[]; after: number[] };
  mode: BackendsMode;
  variant: "memory" | "disk";
  accounts: number;
  /** SELECTs per read-only transaction. */
  statements: number;
  bufferCount: number;
  seconds: number;
  warmupSeconds: number;
  clients: number[];
  backends: number[];
  /** The mode's transaction, per (backends, clients), in run order. */
  points: BackendsPoint[];
  /** The `noop` call per backend count (1 client: the round trip; more: the pooler's ceiling). */
  pooler: BackendsPoint[];
  direct: DirectResult;
  /** The highest throughput per backend count. */
  peaks: { backends: number; clients: number; tps: number }[];
  /** The accounts index's counters, summed over the clusters. */
  index: IndexCounters;
  /** The issue's targets (read-only mode, when the points they need were run). */
  targets: BackendsTarget[];
}

/** Read-only throughput with 2 backends over 1 backend (peaks): the issue's target. */
export const SCALE_2_VS_1_MIN = 1.7;
/** Read-only throughput at 64 clients on 2 backends over the 2-backend peak. */
export const AT_64_VS_PEAK_MIN = 0.9;

const FUNCTIONS_MODULE = fileURLToPath(
  new URL(`./backends-functions.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

/** How long each backend holds an `attachIndex` call, so concurrent calls spread out. */
const ATTACH_HOLD_MS = 30;
const ATTACH_ROUNDS_MAX = 50;
/** The progress bar's clock. */
const TICK_MS = 250;
/** The direct (no pooler) measurement runs this long at most, after a short warm-up. */
const DIRECT_SECONDS_MAX = 2;
const DIRECT_WARMUP_MS = 200;
/** pgbench's tpcb-like delta: random(-5000, 5000). */
const DELTA_MAX = 5000;
/** The no-op's second client count (the first is 1), unless the largest --clients is lower. */
const NOOP_BUSY_CLIENTS = 16;

/** Bad options: the message says what is wrong (the command line turns it into exit 2). */
export class BackendsUsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Latency statistics

/** A growable array of float64 samples (a transaction's latency in ms), without boxing. */
export class SampleBuffer {
  private data = new Float64Array(1 << 14);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }

  /** The samples so far, as a view (no copy). */
  values(): Float64Array {
    return this.data.subarray(0, this.n);
  }
}

/**
 * The p-th percentile of ascending samples by the nearest-rank method: the smallest sample with
 * at least p % of the samples at or below it (`sorted[ceil(p/100 · n) − 1]`, the first sample for
 * p = 0). NaN for no samples.
 *
 * @example
 * ```ts
 * percentile(Float64Array.of(1, 2, 3, 4), 50); // 2
 * percentile(Float64Array.of(1, 2, 3, 4), 99); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(n, rank) - 1]!;
}

/** Count, mean, p50, p95, p99 and max of latency samples (ms), in any order. */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    meanMs: n === 0 ? Number.NaN : sum / n,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}

// ---------------------------------------------------------------------------------------------
// Options

function parseCount(text: string, name: string, max: number): number {
  const digits = text.trim().replace(/[_,]/g, "");
  const n = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new BackendsUsageError(
      `${name} takes integers from 1 to ${max.toLocaleString("en-US")}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function parseList(text: string, name: string, max: number): number[] {
  const items = text.split(",").filter((x) => x.trim() !== "");
  if (items.length === 0) throw new BackendsUsageError(`${name} takes a comma-separated list`);
  const list = items.map((x) => parseCount(x, name, max));
  return [...new Set(list)].sort((a, b) => a - b);
}

/**
 * The options from the command line's values (strings), with the defaults filled in. Throws
 * `BackendsUsageError` for a bad value.
 *
 * @example
 * ```ts
 * parseBackendsOptions({ clients: "1,2", backends: "1", seconds: "1" }).clients; // [1, 2]
 * ```
 */
export function parseBackendsOptions(
  values: Record<string, string | boolean | undefined>,
): Omit<BackendsOptions, "progress"> {
  const text = (name: string): string | undefined =>
    values[name] === undefined ? undefined : String(values[name]);
  const clients = text("clients");
  const backends = text("backends");
  const secondsText = text("seconds");
  let seconds: number = BACKENDS_DEFAULTS.seconds;
  if (secondsText !== undefined) {
    seconds = /^[0-9]*\.?[0-9]+$/.test(secondsText.trim()) ? Number(secondsText) : Number.NaN;
    if (!(seconds > 0 && seconds <= LIMITS.secondsMax)) {
      throw new BackendsUsageError(
        `--seconds takes a number above 0 and up to ${LIMITS.secondsMax}, got ${JSON.stringify(secondsText)}`,
      );
    }
  }
  const mode = text("mode") ?? BACKENDS_DEFAULTS.mode;
  if (!(BACKENDS_MODES as readonly string[]).includes(mode)) {
    throw new BackendsUsageError(
      `--mode must be ${BACKENDS_MODES.join(" or ")}, got ${JSON.stringify(mode)}`,
    );
  }
  const variant = text("variant") ?? BACKENDS_DEFAULTS.variant;
  if (variant !== "memory" && variant !== "disk") {
    throw new BackendsUsageError(
      `--variant must be memory or disk, got ${JSON.stringify(variant)}`,
    );
  }
  const accountsText = text("accounts");
  const statementsText = text("statements");
  const statements =
    statementsText === undefined
      ? BACKENDS_DEFAULTS.statements
      : parseCount(statementsText, "--statements", LIMITS.statements);
  if (statements !== 1 && mode !== "read-only") {
    throw new BackendsUsageError("--statements applies to --mode read-only only");
  }
  return {
    clients:
      clients === undefined
        ? [...BACKENDS_DEFAULTS.clients]
        : parseList(clients, "--clients", LIMITS.clients),
    backends:
      backends === undefined
        ? [...BACKENDS_DEFAULTS.backends]
        : parseList(backends, "--backends", LIMITS.backends),
    seconds,
    mode: mode as BackendsMode,
    variant,
    accounts:
      accountsText === undefined
        ? BACKENDS_DEFAULTS.accounts
        : parseCount(accountsText, "--accounts", LIMITS.accounts),
    statements,
  };
}

/** Buffers for the run: all of accounts three times over (bloat), history, and slack. */
export function backendsBufferCount(accounts: number): number {
  // About 60 accounts rows of ~120 bytes fit on a page; never below shared_buffers' default.
  return Math.max(16384, Math.ceil(accounts / 60) * 3 + 8192);
}

// ---------------------------------------------------------------------------------------------
// Running

/** What one point runs: a function of the functions module and its arguments. */
interface PointSpec {
  label: string;
  fn: "readOnly" | "readWrite" | "noop";
  args: () => unknown;
  backends: number;
  clients: number;
  warmupMs: number;
  measureMs: number;
}

function argsMaker(mode: BackendsMode, accounts: number, statements: number): () => unknown {
  const aid = (): number => 1 + Math.floor(Math.random() * accounts);
  if (mode === "read-only") {
    return statements === 1 ? aid : () => Array.from({ length: statements }, aid);
  }
  return () => [aid(), Math.floor(Math.random() * (2 * DELTA_MAX + 1)) - DELTA_MAX];
}

/** Runs one point: `clients` loops submitting `spec.fn` through the pooler. */
async function runPoint(
  cluster: Cluster,
  spec: PointSpec,
  progress: Progress | undefined,
): Promise<BackendsPoint> {
  const samples = new SampleBuffer();
  const tStart = performance.now();
  const tMeasure = tStart + spec.warmupMs;
  const tEnd = tMeasure + spec.measureMs;
  let failure: unknown;
  let stop = false;
  // CPU and event-loop figures are taken by timers at the window's edges (a timer may fire a
  // little late on a busy loop; the actual instants are used).
  let atMeasure: { t: number; cpu: NodeJS.CpuUsage; elu: EventLoopUtilization } | undefined;
  let atEnd: typeof atMeasure;
  const snapshot = () => ({
    t: performance.now(),
    cpu: process.cpuUsage(),
    elu: performance.eventLoopUtilization(),
  });
  const measureTimer = setTimeout(() => {
    atMeasure = snapshot();
  }, spec.warmupMs);
  const endTimer = setTimeout(() => {
    atEnd = snapshot();
  }, spec.warmupMs + spec.measureMs);
  const bar = progress?.bar(spec.label, Math.round(spec.warmupMs + spec.measureMs), "ms");
  const tick = setInterval(() => bar?.update(Math.round(performance.now() - tStart)), TICK_MS);

  const client = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      if (t0 >= tEnd) return;
      try {
        await cluster.call(spec.fn, spec.args());
      } catch (e) {
        failure ??= e;
        stop = true;
        return;
      }
      const t1 = performance.now();
      if (t1 >= tMeasure && t1 <= tEnd) samples.push(t1 - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.clients }, client));
  } finally {
    clearInterval(tick);
    clearTimeout(measureTimer);
    clearTimeout(endTimer);
  }
  if (failure !== undefined) {
    bar?.stop("failed");
    const message = failure instanceof Error ? failure.message : String(failure);
    throw new PgsimError("benchmark-failed", `${spec.label}: a transaction failed: ${message}`);
  }
  const end = atEnd ?? snapshot();
  const start = atMeasure ?? end;
  const windowMs = Math.max(1e-9, end.t - start.t);
  const cpu = process.cpuUsage(start.cpu);
  const elu = performance.eventLoopUtilization(end.elu, start.elu);
  const latency = summarizeLatencies(samples.values());
  const seconds = spec.measureMs / 1000;
  const point: BackendsPoint = {
    backends: spec.backends,
    clients: spec.clients,
    transactions: latency.count,
    seconds,
    tps: latency.count / seconds,
    latency,
    cpuPct: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    mainThreadBusyPct: elu.utilization * 100,
  };
  bar?.stop(`${formatTps(point.tps)} tps, p99 ${formatMs(latency.p99Ms)} ms`);
  return point;
}

/** Runs the transaction on `db` (this thread's backend) in a loop, without the pooler. */
function measureDirect(
  db: Database,
  mode: BackendsMode,
  accounts: number,
  statements: number,
  seconds: number,
): DirectResult {
  const next = argsMaker(mode, accounts, statements);
  const run =
    mode === "read-only"
      ? () => readOnly(db, next() as number | number[])
      : () => readWrite(db, next() as [number, number]);
  const warmEnd = performance.now() + DIRECT_WARMUP_MS;
  while (performance.now() < warmEnd) run();
  const t0 = performance.now();
  const tEnd = t0 + seconds * 1000;
  let n = 0;
  let t = t0;
  while (t < tEnd) {
    run();
    n++;
    t = performance.now();
  }
  const elapsed = (t - t0) / 1000;
  return {
    transactions: n,
    seconds: elapsed,
    tps: n / elapsed,
    usPerTransaction: (elapsed * 1e6) / n,
  };
}

/**
 * Gives every backend of the cluster the accounts index. A call goes to whichever backend is
 * free, so calls are made `backends` at a time, each holding its backend a moment, until every
 * backend has answered.
 */
export async function attachIndexEverywhere(
  cluster: Cluster,
  index: AccountsIndexShared,
  backends: number,
): Promise<void> {
  const seen = new Set<number>();
  for (let round = 0; round < ATTACH_ROUNDS_MAX && seen.size < backends; round++) {
    const procs = await Promise.all(
      Array.from({ length: backends }, () =>
        cluster.call<number>("attachIndex", { index, holdMs: ATTACH_HOLD_MS }),
      ),
    );
    for (const p of procs) seen.add(p);
  }
  if (seen.size < backends) {
    throw new PgsimError(
      "benchmark-failed",
      `only ${seen.size} of ${backends} backends took the accounts index`,
    );
  }
}

/** pgbench's pre-run housekeeping for read-write: empty history, VACUUM accounts. */
function prepareReadWrite(db: Database): void {
  db.truncateTable("history");
  db.vacuum("accounts");
}

/**
 * Runs the benchmark: for each backend count, a cluster with the tables loaded and indexed, then
 * one point per client count, then the no-op points.
 *
 * @example
 * ```ts
 * const r = await runBackends({ ...BACKENDS_DEFAULTS, clients: [1, 8], backends: [1, 2], seconds: 2 });
 * console.log(r.peaks);
 * ```
 */
export async function runBackends(options: BackendsOptions): Promise<BackendsResult> {
  const { mode, variant, accounts, progress } = options;
  const statements = options.statements ?? 1;
  const clients = [...options.clients];
  const backends = [...options.backends];
  const seconds = options.seconds;
  const warmupSeconds = options.warmupSeconds ?? Math.min(1, Math.max(0.2, seconds / 5));
  const bufferCount = backendsBufferCount(accounts);
  const loadBefore = os.loadavg();
  const date = new Date().toISOString();
  const points: BackendsPoint[] = [];
  const pooler: BackendsPoint[] = [];
  const counters: IndexCounters = { fallbackScans: 0, indexInserts: 0 };
  let direct: DirectResult | undefined;
  const args = argsMaker(mode, accounts, statements);
  const fn = mode === "read-only" ? "readOnly" : "readWrite";
  const noopClients = [...new Set([1, Math.min(NOOP_BUSY_CLIENTS, Math.max(...clients))])];
  const timing = { warmupMs: warmupSeconds * 1000, measureMs: seconds * 1000 };

  for (const b of backends) {
    const dataDir =
      variant === "disk"
        ? fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-backends-"))
        : undefined;
    const removeDataDir = (): void => {
      if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    };
    // Ctrl-C must not leave the data directory behind.
    const onSigint = (): void => {
      removeDataDir();
      process.exit(130);
    };
    process.once("SIGINT", onSigint);
    let cluster: Cluster | undefined;
    try {
      cluster = await Cluster.start({
        variant,
        bufferCount,
        backends: b,
        functionsModule: FUNCTIONS_MODULE,
        ...(dataDir !== undefined ? { dataDir } : {}),
      });
      const load = progress?.bar(`load ${b} backend${b === 1 ? "" : "s"}`, accounts, "rows");
      createBenchTables(cluster.db, accounts, (done) => load?.update(done));
      const index = buildAccountsIndex(cluster.db, accounts);
      load?.stop(`${cluster.db.nblocks("accounts")} blocks`);
      if (direct === undefined) {
        setLocalIndex(index);
        direct = measureDirect(
          cluster.db,
          mode,
          accounts,
          statements,
          Math.min(seconds, DIRECT_SECONDS_MAX),
        );
        progress?.log(
          `direct (no pooler, main thread): ${formatTps(direct.tps)} tps, ${direct.usPerTransaction.toFixed(1)} µs per transaction`,
        );
      }
      await attachIndexEverywhere(cluster, index, b);
      for (const c of clients) {
        if (mode === "read-write") prepareReadWrite(cluster.db);
        points.push(
          await runPoint(
            cluster,
            { label: `${mode} b=${b} c=${c}`, fn, args, backends: b, clients: c, ...timing },
            progress,
          ),
        );
      }
      for (const c of noopClients) {
        pooler.push(
          await runPoint(
            cluster,
            {
              label: `noop b=${b} c=${c}`,
              fn: "noop",
              args: () => 0,
              backends: b,
              clients: c,
              ...timing,
            },
            progress,
          ),
        );
      }
      const k = readIndexCounters(index);
      counters.fallbackScans += k.fallbackScans;
      counters.indexInserts += k.indexInserts;
    } finally {
      process.removeListener("SIGINT", onSigint);
      try {
        await cluster?.shutdown();
      } finally {
        removeDataDir();
      }
    }
  }

  const peaks = backends.map((b) => {
    const best = points.filter((p) => p.backends === b).reduce((x, y) => (y.tps > x.tps ? y : x));
    return { backends: b, clients: best.clients, tps: best.tps };
  });
  const result: BackendsResult = {
    command: "backends",
    date,
    machine: machineInfo(),
    loadAverage: { before: loadBefore, after: os.loadavg() },
    mode,
    variant,
    accounts,
    statements,
    bufferCount,
    seconds,
    warmupSeconds,
    clients,
    backends,
    points,
    pooler,
    direct: direct!,
    peaks,
    index: counters,
    targets: [],
  };
  result.targets = backendsTargets(result);
  return result;
}

/**
 * The issue's targets that the run's points allow to check: read-only mode with one SELECT per
 * transaction (pgbench -S) only.
 */
export function backendsTargets(r: BackendsResult): BackendsTarget[] {
  if (r.mode !== "read-only" || r.statements !== 1) return [];
  const targets: BackendsTarget[] = [];
  const peak = (b: number) => r.peaks.find((p) => p.backends === b);
  const one = peak(1);
  const two = peak(2);
  if (one !== undefined && two !== undefined) {
    const value = two.tps / one.tps;
    targets.push({
      name: "scale2vs1",
      description: "peak throughput, 2 backends over 1 backend",
      value,
      target: `≥ ${SCALE_2_VS_1_MIN}`,
      met: value >= SCALE_2_VS_1_MIN,
    });
  }
  const at64 = r.points.find((p) => p.backends === 2 && p.clients === 64);
  // The knee: the fewest clients that reach 90 % of the peak. Past it, more clients add queueing
  // rather than throughput, so latency should grow with them (Little's law).
  const knee =
    two &&
    r.points
      .filter((p) => p.backends === 2 && p.tps >= AT_64_VS_PEAK_MIN * two.tps)
      .reduce<BackendsPoint | undefined>(
        (x, y) => (x === undefined || y.clients < x.clients ? y : x),
        undefined,
      );
  if (two !== undefined && at64 !== undefined && knee !== undefined) {
    const value = at64.tps / two.tps;
    targets.push({
      name: "at64VsPeak",
      description: "2 backends: throughput at 64 clients over the peak",
      value,
      target: `≥ ${AT_64_VS_PEAK_MIN}`,
      met: value >= AT_64_VS_PEAK_MIN,
    });
    const growth = at64.latency.p99Ms / knee.latency.p99Ms;
    targets.push({
      name: "p99GrowsWithQueue",
      description: `2 backends: p99 at 64 clients over p99 at the knee (${knee.clients} clients, the fewest with ≥ 90 % of the peak)`,
      value: growth,
      target: "> 1",
      met: growth > 1,
    });
  }
  return targets;
}

// ---------------------------------------------------------------------------------------------
// Reports

function formatTps(tps: number): string {
  return Math.round(tps).toLocaleString("en-US");
}

function formatMs(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

function pointCells(p: BackendsPoint): string[] {
  return [
    String(p.backends),
    String(p.clients),
    formatTps(p.tps),
    formatMs(p.latency.p50Ms),
    formatMs(p.latency.p95Ms),
    formatMs(p.latency.p99Ms),
    p.cpuPct.toFixed(0),
    p.mainThreadBusyPct.toFixed(0),
  ];
}

const POINT_HEADER = [
  "backends",
  "clients",
  "tps",
  "p50 ms",
  "p95 ms",
  "p99 ms",
  "cpu %",
  "main %",
];

function describeMix(r: BackendsResult): string {
  return r.statements === 1 ? r.mode : `${r.mode} (${r.statements} SELECTs per transaction)`;
}

function describeRun(r: BackendsResult): string {
  return `${describeMix(r)}, ${r.variant}, ${r.accounts.toLocaleString("en-US")} accounts, ${r.bufferCount} buffers, ${r.seconds} s per point after ${r.warmupSeconds} s warm-up`;
}

function describeTarget(t: BackendsTarget): string {
  return `${t.description}: ${t.value.toFixed(2)} (target ${t.target}): ${t.met ? "met" : "NOT met"}`;
}

/** The report as plain text (stdout without --json). */
export function formatBackendsTable(r: BackendsResult): string {
  const rows = [POINT_HEADER, ...r.points.map(pointCells)];
  const poolerRows = [POINT_HEADER, ...r.pooler.map(pointCells)];
  const widths = POINT_HEADER.map((_, i) =>
    Math.max(...[...rows, ...poolerRows].map((row) => row[i]!.length)),
  );
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [
    `pgsim-bench backends: ${describeRun(r)}`,
    "",
    ...rows.map(line),
    "",
    "pooler alone (noop: no transaction):",
    ...poolerRows.map(line),
    "",
    `direct (main thread's own backend, no pooler): ${formatTps(r.direct.tps)} tps, ${r.direct.usPerTransaction.toFixed(1)} µs per transaction`,
    `index: ${r.index.indexInserts} non-HOT updates (index inserts), ${r.index.fallbackScans} fallback scans`,
    ...r.targets.map(describeTarget),
    "",
  ].join("\n");
}

/** The report as markdown (what `--out` writes): the points, the pooler, the targets. */
export function backendsMarkdown(r: BackendsResult): string {
  const m = r.machine;
  const table = (points: BackendsPoint[]): string[] => [
    `| ${POINT_HEADER.join(" | ")} |`,
    `|${POINT_HEADER.map(() => "---:").join("|")}|`,
    ...points.map((p) => `| ${pointCells(p).join(" | ")} |`),
  ];
  const pivot = [
    `| clients | ${r.backends.map((b) => `${b} backend${b === 1 ? "" : "s"}: tps (p99 ms)`).join(" | ")} |`,
    `|---:|${r.backends.map(() => "---:").join("|")}|`,
    ...r.clients.map((c) => {
      const cells = r.backends.map((b) => {
        const p = r.points.find((x) => x.backends === b && x.clients === c);
        return p ? `${formatTps(p.tps)} (${formatMs(p.latency.p99Ms)})` : "-";
      });
      return `| ${c} | ${cells.join(" | ")} |`;
    }),
  ];
  return [
    `# pgsim-bench backends: ${r.mode}`,
    "",
    `${r.date}; ${describeRun(r)}. ${m.cpuModel}, ${m.cpus} CPUs, node ${m.node}, ${m.os}. Load average before / after: ${r.loadAverage.before.map((x) => x.toFixed(2)).join(" ")} / ${r.loadAverage.after.map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    ...pivot,
    "",
    ...table(r.points),
    "",
    "`cpu %`: CPU time of the whole process (all threads) over the window, in % of one core. `main %`: the main thread's event-loop utilization (clients and pooler).",
    "",
    "Pooler alone (`noop`: a call that starts no transaction):",
    "",
    ...table(r.pooler),
    "",
    `Direct (the transaction in a loop on the main thread's own backend, no pooler): ${formatTps(r.direct.tps)} tps, ${r.direct.usPerTransaction.toFixed(1)} µs per transaction.`,
    "",
    `Accounts index: ${r.index.indexInserts} non-HOT updates (index inserts), ${r.index.fallbackScans} fallback scans.`,
    ...(r.targets.length > 0
      ? [
          "",
          "| target | value | wanted | met |",
          "|---|---:|---|---|",
          ...r.targets.map(
            (t) =>
              `| ${t.description} | ${t.value.toFixed(2)} | ${t.target} | ${t.met ? "yes" : "no"} |`,
          ),
        ]
      : []),
    "",
  ].join("\n");
}

/** Throughput and latency (p50 dashed, p99 solid) against clients, one line per backend count. */
export function backendsChartSpec(r: BackendsResult): TopLevelSpec {
  const series = (b: number): string => `${b} backend${b === 1 ? "" : "s"}`;
  const order = r.backends.map(series);
  const values = r.points.map((p) => ({
    backends: series(p.backends),
    clients: p.clients,
    tps: p.tps,
    p50: p.latency.p50Ms,
    p99: p.latency.p99Ms,
  }));
  const x = {
    field: "clients",
    type: "quantitative",
    title: "clients",
    scale: { type: "log", base: 2 },
    axis: { values: r.clients, format: "d" },
  };
  const color = {
    field: "backends",
    type: "nominal",
    title: null,
    sort: order,
    scale: { domain: order, scheme: "tableau10" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench backends: ${describeMix(r)}, ${r.variant}, ${r.accounts.toLocaleString("en-US")} accounts`,
      subtitle: `${r.seconds} s per point; ${r.machine.cpus} CPUs; clients, pooler and backends in one process`,
    },
    config: CHART_CONFIG,
    data: { values },
    hconcat: [
      {
        width: 320,
        height: 260,
        title: "throughput",
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x,
          y: { field: "tps", type: "quantitative", title: "transactions per second" },
          color,
        },
      },
      {
        width: 320,
        height: 260,
        title: "latency: p99 solid, p50 dashed (log scale)",
        transform: [{ fold: ["p50", "p99"], as: ["percentile", "ms"] }],
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x,
          y: { field: "ms", type: "quantitative", title: "milliseconds", scale: { type: "log" } },
          color,
          strokeDash: {
            field: "percentile",
            type: "nominal",
            title: null,
            scale: {
              domain: ["p99", "p50"],
              range: [
                [1, 0],
                [4, 3],
              ],
            },
            legend: null,
          },
          detail: { field: "percentile" },
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * The stem of the report's files: backends-<mode>-<variant>, or backends-<mode>-<N>stmt-<variant>
 * with N SELECTs per transaction.
 */
export function backendsReportStem(
  r: Pick<BackendsResult, "mode" | "variant" | "statements">,
): string {
  const statements = r.statements === 1 ? "" : `-${r.statements}stmt`;
  return `backends-${r.mode}${statements}-${r.variant}`;
}

/** Writes <stem>.json, <stem>.md, <stem>.svg and <stem>.png into `outDir`; returns the paths. */
export async function writeBackendsReport(r: BackendsResult, outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const stem = backendsReportStem(r);
  const json = path.join(outDir, `${stem}.json`);
  const md = path.join(outDir, `${stem}.md`);
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, backendsMarkdown(r));
  return [json, md, ...(await writeChart(outDir, stem, backendsChartSpec(r)))];
}
