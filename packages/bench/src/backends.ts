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
 * Entry points: `runBackends`, `backendsTargets`, `backendsTraits`, `BackendsResult`,
 * `BackendsTarget`.
 * See also: backends-options.ts (options and defaults), backends-run.ts (one point, the direct
 * loop), backends-stats.ts (percentiles), backends-report.ts (table, markdown, chart),
 * backends-functions.ts (the transactions), cli.ts, chart.ts, ../../heap-am/src/cluster.ts (the
 * pooler), ../README.md ("backends"), ../RESULTS.md.
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
import { fileURLToPath } from "node:url";
import { BLCKSZ } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";
import { workerModule } from "@pgsim/heap-am/internals";
import {
  buildAccountsIndex,
  createBenchTables,
  type IndexCounters,
  readIndexCounters,
  setLocalIndex,
} from "./backends-functions.js";
import {
  type BackendsMode,
  type BackendsOptions,
  backendsBufferCount,
} from "./backends-options.js";
import {
  argsMaker,
  attachIndexEverywhere,
  type BackendsPoint,
  DIRECT_SECONDS_MAX,
  type DirectResult,
  measureDirect,
  prepareReadWrite,
  runPoint,
} from "./backends-run.js";
import { formatTps } from "./backends-stats.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import type { SystemTrait } from "./traits.js";

/** One of pgsim's own goals (from the issue), with what was measured. */
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
  /** pgsim's own goals from the issue (read-only mode, when the points they need were run). */
  targets: BackendsTarget[];
  /** What the measured system does and skips (WAL, fsync, SQL executor, checksums, …). */
  traits: SystemTrait[];
}

/** Read-only throughput with 2 backends over 1 backend (peaks): the target. */
export const SCALE_2_VS_1_MIN = 1.7;
/** Read-only throughput at 64 clients on 2 backends over the 2-backend peak. */
export const AT_64_VS_PEAK_MIN = 0.9;

/** The built .js next to this file, or from source the .ts (its built twin with PGSIM_WORKERS_FROM_BUILD=1). */
const FUNCTIONS_MODULE = fileURLToPath(workerModule(import.meta.url, "backends-functions"));

/** The no-op's second client count (the first is 1), unless the largest --clients is lower. */
const NOOP_BUSY_CLIENTS = 16;

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
    traits: backendsTraits(variant, bufferCount),
  };
  result.targets = backendsTargets(result);
  return result;
}

/**
 * What a backends run does and skips, for its reports: the same aspects as `dml`'s systems, plus
 * the index and the client protocol, where this benchmark differs from pgbench on PostgreSQL.
 */
export function backendsTraits(variant: "memory" | "disk", bufferCount: number): SystemTrait[] {
  const poolMb = Math.round((bufferCount * BLCKSZ) / (1024 * 1024));
  const durability: SystemTrait[] =
    variant === "memory"
      ? [
          {
            aspect: "WAL",
            does: false,
            short: "no",
            note: "The memory-only variant writes no WAL.",
          },
          {
            aspect: "fsync at commit",
            does: false,
            short: "no",
            note: "A commit sets the transaction's status in the commit log, an array in shared memory; nothing is written or synced.",
          },
        ]
      : [
          {
            aspect: "WAL",
            does: true,
            short: "yes, with FPIs",
            note: "The disk-backed cluster logs every change in PostgreSQL 15's WAL format (the Database default), with full-page images after a checkpoint.",
          },
          {
            aspect: "fsync at commit",
            does: true,
            short: "yes",
            note: "Each commit flushes and syncs the WAL up to its commit record (synchronous_commit on); backends committing together share a sync (group commit).",
          },
        ];
  return [
    ...durability,
    {
      aspect: "SQL executor",
      does: false,
      short: "no: functions",
      note: "No parser, planner or executor: a transaction is a function of the cluster's functions module calling the Database API, run whole on one backend.",
    },
    {
      aspect: "checksums",
      does: false,
      short: "no",
      note: "Data checksums off (the Cluster's default, as initdb's).",
    },
    variant === "memory"
      ? {
          aspect: "files on disk",
          does: false,
          short: "no: memory only",
          note: `Memory-only pool of ${bufferCount} buffers (${poolMb} MB) holding every table; no files, no I/O.`,
        }
      : {
          aspect: "files on disk",
          does: true,
          short: `yes, ${poolMb} MB pool`,
          note: `Disk-backed pool of ${bufferCount} buffers (${poolMb} MB), files in a temp dir; an evicted page is written (writeSync) once the WAL up to its LSN is on disk, and checkpoints fsync the files.`,
        },
    {
      aspect: "index",
      does: true,
      short: "array, no B-tree",
      note: "The primary key on accounts(aid) is an array in shared memory from aid to the HOT chain's root TID: no B-tree descent, no index pages in the pool.",
    },
    {
      aspect: "client protocol",
      does: true,
      short: "postMessage",
      note: "Clients, pooler and backends are threads of one process: a transaction is one message to a worker and one back, no socket.",
    },
  ];
}

/**
 * The targets that the run's points allow to check: read-only mode with one SELECT per
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
