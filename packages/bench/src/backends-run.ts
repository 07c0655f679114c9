/**
 * `pgsim-bench backends`' measurements: one (backends, clients) point of C client loops
 * submitting transactions through the cluster's pooler, the transaction run directly on the main
 * thread's own backend, and the set-up every point needs (the index on every backend, pgbench's
 * housekeeping before read-write points).
 *
 * Models: a pgbench run of `-c C` clients for `-T` seconds against a transaction-mode pooler
 * (PgBouncer with default_pool_size = B); each client submits one transaction at a time.
 * Entry points: `runPoint`, `measureDirect`, `attachIndexEverywhere`, `prepareReadWrite`,
 * `argsMaker`, `BackendsPoint`, `DirectResult`, `PointSpec`.
 * See also: backends.ts (runs the points), backends-functions.ts (the transactions),
 * backends-stats.ts, ../../heap-am/src/cluster.ts (the pooler).
 *
 * Each client is an async loop on the main thread: submit (`cluster.call`), await the result,
 * record the latency, submit again. A point runs a warm-up (not measured) and then the measured
 * window; a failed transaction fails the run.
 */

import type { EventLoopUtilization } from "node:perf_hooks";
import { type Cluster, type Database, PgsimError } from "@pgsim/heap-am";
import { type AccountsIndexShared, readOnly, readWrite } from "./backends-functions.js";
import type { BackendsMode } from "./backends-options.js";
import {
  formatMs,
  formatTps,
  type LatencySummary,
  SampleBuffer,
  summarizeLatencies,
} from "./backends-stats.js";
import type { Progress } from "./progress.js";

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

/** How long each backend holds an `attachIndex` call, so concurrent calls spread out. */
const ATTACH_HOLD_MS = 30;
const ATTACH_ROUNDS_MAX = 50;
/** The progress bar's clock. */
const TICK_MS = 250;
/** The direct (no pooler) measurement runs this long at most, after a short warm-up. */
export const DIRECT_SECONDS_MAX = 2;
const DIRECT_WARMUP_MS = 200;
/** pgbench's tpcb-like delta: random(-5000, 5000). */
const DELTA_MAX = 5000;

/** What one point runs: a function of the functions module and its arguments. */
export interface PointSpec {
  label: string;
  /** A function of the cluster's functions module. */
  fn: string;
  args: () => unknown;
  backends: number;
  clients: number;
  warmupMs: number;
  measureMs: number;
}

/** Makes the arguments of one transaction: random aids (and a delta for read-write). */
export function argsMaker(mode: BackendsMode, accounts: number, statements: number): () => unknown {
  const aid = (): number => 1 + Math.floor(Math.random() * accounts);
  if (mode === "read-only") {
    return statements === 1 ? aid : () => Array.from({ length: statements }, aid);
  }
  return () => [aid(), Math.floor(Math.random() * (2 * DELTA_MAX + 1)) - DELTA_MAX];
}

/** Runs one point: `clients` loops submitting `spec.fn` through the pooler. */
export async function runPoint(
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
export function measureDirect(
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
export function prepareReadWrite(db: Database): void {
  db.truncateTable("history");
  db.vacuum("accounts");
}
