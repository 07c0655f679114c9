/**
 * `pgsim-bench tpcb`: pgbench's TPC-B-like workload side by side — pgsim's worker backends
 * through the cluster's pooler (memory-only memheap, and the disk-backed heap with WAL and a
 * synchronous commit), and PostgreSQL 15 running its own `pgbench` with the same scale, clients
 * and duration — reporting throughput and latency percentiles for each.
 *
 * Models: pgbench -i -s S, then pgbench -c C -j J -T T -b tpcb-like (see tpcb-functions.ts for
 * the tables, keys and transaction). pgsim's clients are async loops on the main thread, each
 * submitting one transaction at a time to the pooler (backends-run.ts's runPoint); PostgreSQL's
 * are pgbench's, over TCP, with `-M simple`. Latencies are from submit to result, as each client
 * sees them; percentiles are nearest-rank (pgbench's per-transaction log for PostgreSQL).
 * Entry points: `runTpcb`, `TPCB_DEFAULTS`, `formatTpcbTable`, `TpcbResult`.
 * See also: tpcb-functions.ts, pgbench.ts, backends-run.ts, cli.ts, ../README.md ("tpcb"),
 * ../RESULTS.md.
 *
 * After each pgsim run the TPC-B consistency condition is checked (branch, teller and account
 * balances each sum to the history's deltas, and the history has one row per transaction that
 * committed); after PostgreSQL's, the same sums by SQL. A broken condition fails the run.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { PgsimError } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";
import { workerModule } from "@pgsim/heap-am/internals";
import { type BackendsPoint, runPoint } from "./backends-run.js";
import { formatMs, formatTps } from "./backends-stats.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import { startPgCluster } from "./pg-cluster.js";
import { type PgbenchResult, runPgbench } from "./pgbench.js";
import type { Progress } from "./progress.js";
import {
  createTpcbTables,
  TPCB_ACCOUNTS_PER_SCALE,
  TPCB_BRANCHES_PER_SCALE,
  TPCB_TELLERS_PER_SCALE,
  tpcbCheck,
} from "./tpcb-functions.js";

/** The systems `tpcb` can run. */
export const TPCB_SYSTEMS = ["pgsim-memheap", "pgsim-heap", "pg15-default"] as const;
export type TpcbSystem = (typeof TPCB_SYSTEMS)[number];

/** Options of `runTpcb`. */
export interface TpcbOptions {
  /** pgbench's scale: 100,000 accounts, 10 tellers and 1 branch per unit. */
  scale: number;
  /** Client counts, one point each. */
  clients: number[];
  /** pgsim's worker backends (PostgreSQL starts a backend per client). */
  backends: number;
  /** Measured seconds per point (pgbench -T). */
  seconds: number;
  /** pgsim's warm-up before each point (pgbench has none: it measures from the start). */
  warmupSeconds?: number;
  systems: TpcbSystem[];
  progress?: Progress;
}

export const TPCB_DEFAULTS = {
  scale: 1,
  clients: [1, 4, 16],
  backends: 2,
  seconds: 10,
  systems: [...TPCB_SYSTEMS],
} as const;

/** One system at one client count. */
export interface TpcbPoint {
  system: TpcbSystem;
  clients: number;
  tps: number;
  transactions: number;
  latencyMs: { p50: number; p95: number; p99: number; avg: number; max: number };
}

/** Everything one run measured (the JSON of `--json`). */
export interface TpcbResult {
  command: "tpcb";
  date: string;
  machine: MachineInfo;
  scale: number;
  accounts: number;
  backends: number;
  seconds: number;
  bufferCount: number;
  points: TpcbPoint[];
  /** PostgreSQL's server version, when it ran. */
  serverVersion?: string;
  /** How each system was set up (pool size, WAL, commit). */
  setups: Record<string, string>;
}

/** The built .js next to this file, or from source the .ts (its built twin with PGSIM_WORKERS_FROM_BUILD=1). */
const FUNCTIONS_MODULE = fileURLToPath(workerModule(import.meta.url, "tpcb-functions"));

/** pgbench's tpcb-like delta: random(-5000, 5000). */
const DELTA_MAX = 5000;

/** The pool: every table and index resident, with room to spare (PostgreSQL: shared_buffers). */
function bufferCountFor(scale: number): number {
  // A scale unit is ~13 MB of accounts + ~2 MB of its primary key; history grows by ~50 bytes
  // per transaction. 64 MB per unit, at least 128 MB (PostgreSQL's default).
  return Math.max(16_384, scale * 8192);
}

function argsFor(scale: number): () => readonly number[] {
  const accounts = TPCB_ACCOUNTS_PER_SCALE * scale;
  const branches = TPCB_BRANCHES_PER_SCALE * scale;
  const tellers = TPCB_TELLERS_PER_SCALE * scale;
  const r = (n: number): number => 1 + Math.floor(Math.random() * n);
  return () => [
    r(accounts),
    r(branches),
    r(tellers),
    Math.floor(Math.random() * (2 * DELTA_MAX + 1)) - DELTA_MAX,
  ];
}

function checkConsistency(
  label: string,
  c: ReturnType<typeof tpcbCheck>,
  committed?: number,
): void {
  if (c.branches !== c.history || c.tellers !== c.history || c.accounts !== c.history) {
    throw new PgsimError(
      "benchmark-failed",
      `${label}: TPC-B consistency broken: branches ${c.branches}, tellers ${c.tellers}, accounts ${c.accounts}, history ${c.history}`,
    );
  }
  if (committed !== undefined && c.historyRows !== committed) {
    throw new PgsimError(
      "benchmark-failed",
      `${label}: ${committed} transactions committed but the history has ${c.historyRows} rows`,
    );
  }
}

async function runPgsim(
  system: "pgsim-memheap" | "pgsim-heap",
  options: TpcbOptions,
  bufferCount: number,
): Promise<TpcbPoint[]> {
  const { scale, backends, progress } = options;
  const disk = system === "pgsim-heap";
  const dataDir = disk ? fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-tpcb-")) : undefined;
  const points: TpcbPoint[] = [];
  let cluster: Cluster | undefined;
  try {
    cluster = await Cluster.start({
      variant: disk ? "disk" : "memory",
      bufferCount,
      backends,
      functionsModule: FUNCTIONS_MODULE,
      ...(dataDir !== undefined
        ? {
            dataDir,
            wal: true,
            synchronousCommit: true,
            fsync: true,
            fullPageWrites: true,
            walSegmentSize: 16 * 1024 * 1024,
            maxWalSize: 1024 * 1024 * 1024,
          }
        : {}),
    });
    const accounts = TPCB_ACCOUNTS_PER_SCALE * scale;
    const load = progress?.bar(`${system}: pgbench -i -s ${scale}`, accounts, "rows");
    createTpcbTables(cluster.db, scale, (done) => load?.update(done));
    load?.stop(`${cluster.db.nblocks("pgbench_accounts")} blocks`);
    for (const clients of options.clients) {
      const point: BackendsPoint = await runPoint(
        cluster,
        {
          label: `${system} c=${clients}`,
          fn: "tpcbTransaction",
          args: argsFor(scale),
          backends,
          clients,
          warmupMs: (options.warmupSeconds ?? 1) * 1000,
          measureMs: options.seconds * 1000,
        },
        progress,
      );
      points.push({
        system,
        clients,
        tps: point.tps,
        transactions: point.transactions,
        latencyMs: {
          p50: point.latency.p50Ms,
          p95: point.latency.p95Ms,
          p99: point.latency.p99Ms,
          avg: point.latency.meanMs,
          max: point.latency.maxMs,
        },
      });
    }
    // Warm-up transactions committed too, so the history's rows are not compared with the count.
    checkConsistency(system, tpcbCheck(cluster.db));
  } finally {
    await cluster?.shutdown();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return points;
}

async function runPostgres(
  options: TpcbOptions,
  bufferCount: number,
): Promise<{ points: TpcbPoint[]; serverVersion: string }> {
  const pg = await startPgCluster({
    dataChecksums: false,
    settings: { autovacuum: "off", shared_buffers: `${(bufferCount * 8) / 1024}MB` },
  });
  const points: TpcbPoint[] = [];
  try {
    const serverVersion = (await pg.psql("SELECT version()")).trim();
    const balances = async (): Promise<number[]> =>
      (
        await pg.query(
          "SELECT (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches), " +
            "(SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers), " +
            "(SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts), " +
            "(SELECT coalesce(sum(delta), 0) FROM pgbench_history), " +
            "(SELECT count(*) FROM pgbench_history)",
        )
      )[0]!.map(Number);
    let initialized = false;
    for (const clients of options.clients) {
      const bar = options.progress?.bar(`pg15-default c=${clients}`, options.seconds * 1000, "ms");
      const started = performance.now();
      const tick = setInterval(() => bar?.update(Math.round(performance.now() - started)), 250);
      const before = initialized ? await balances() : [0, 0, 0];
      let r: PgbenchResult;
      try {
        r = await runPgbench(pg, {
          scale: options.scale,
          clients,
          jobs: Math.min(clients, 2),
          durationSeconds: options.seconds,
          builtin: "tpcb-like",
          skipInit: initialized,
        });
      } finally {
        clearInterval(tick);
      }
      initialized = true;
      if (r.failed > 0) {
        throw new PgsimError("benchmark-failed", `pgbench: ${r.failed} transactions failed`);
      }
      // pgbench empties pgbench_history before each run (without -n): the run's history holds
      // exactly what its transactions moved.
      const after = await balances();
      checkConsistency(
        `pg15-default c=${clients}`,
        {
          branches: after[0]! - before[0]!,
          tellers: after[1]! - before[1]!,
          accounts: after[2]! - before[2]!,
          history: after[3]!,
          historyRows: after[4]!,
        },
        r.transactions,
      );
      bar?.stop(`${formatTps(r.tps)} tps, p99 ${formatMs(r.latencyMs.p99)} ms`);
      points.push({
        system: "pg15-default",
        clients,
        tps: r.tps,
        transactions: r.transactions,
        latencyMs: {
          p50: r.latencyMs.p50,
          p95: r.latencyMs.p95,
          p99: r.latencyMs.p99,
          avg: r.latencyMs.avg,
          max: r.latencyMs.max,
        },
      });
    }
    return { points, serverVersion };
  } finally {
    await pg.stop();
  }
}

/**
 * Runs the benchmark: each system in turn, one point per client count.
 *
 * @example
 * ```ts
 * const r = await runTpcb({ ...TPCB_DEFAULTS, clients: [1, 4], seconds: 5, systems: ["pgsim-memheap"] });
 * console.log(r.points.map((p) => `${p.system} c=${p.clients}: ${p.tps.toFixed(0)} tps`));
 * ```
 */
export async function runTpcb(options: TpcbOptions): Promise<TpcbResult> {
  const bufferCount = bufferCountFor(options.scale);
  const date = new Date().toISOString();
  const points: TpcbPoint[] = [];
  let serverVersion: string | undefined;
  for (const system of options.systems) {
    if (system === "pg15-default") {
      const r = await runPostgres(options, bufferCount);
      points.push(...r.points);
      serverVersion = r.serverVersion;
    } else {
      points.push(...(await runPgsim(system, options, bufferCount)));
    }
  }
  const poolMb = (bufferCount * 8) / 1024;
  return {
    command: "tpcb",
    date,
    machine: machineInfo(),
    scale: options.scale,
    accounts: TPCB_ACCOUNTS_PER_SCALE * options.scale,
    backends: options.backends,
    seconds: options.seconds,
    bufferCount,
    points,
    ...(serverVersion !== undefined ? { serverVersion } : {}),
    setups: {
      "pgsim-memheap": `memory-only pool of ${poolMb} MB, no WAL; ${options.backends} worker backends behind the pooler`,
      "pgsim-heap": `disk-backed pool of ${poolMb} MB, WAL with full-page writes, synchronous commit (fdatasync), fsync; ${options.backends} worker backends behind the pooler`,
      "pg15-default": `PostgreSQL 15, shared_buffers ${poolMb} MB, autovacuum off, otherwise defaults (synchronous_commit on, fsync on); pgbench -M simple, one backend per client`,
    },
  };
}

/** The result as a text table: one row per client count, tps and p50/p99 per system. */
export function formatTpcbTable(r: TpcbResult): string {
  const systems = [...new Set(r.points.map((p) => p.system))];
  const clients = [...new Set(r.points.map((p) => p.clients))];
  const lines = [
    `pgbench tpcb-like, scale ${r.scale} (${r.accounts.toLocaleString("en-US")} accounts), ${r.seconds} s per point, pgsim on ${r.backends} backends`,
    "",
    ["clients", ...systems.map((s) => `${s} tps (p50 / p99 ms)`)].join(" | "),
  ];
  for (const c of clients) {
    const cells = systems.map((s) => {
      const p = r.points.find((x) => x.system === s && x.clients === c);
      return p === undefined
        ? "-"
        : `${formatTps(p.tps)} (${formatMs(p.latencyMs.p50)} / ${formatMs(p.latencyMs.p99)})`;
    });
    lines.push([String(c), ...cells].join(" | "));
  }
  return `${lines.join("\n")}\n`;
}
