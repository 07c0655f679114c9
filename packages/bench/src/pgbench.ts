/**
 * PostgreSQL 15's own pgbench against a private cluster: the peer side of a TPC-B-like
 * comparison (issue 16's `pgsim-bench tpcb`; pgsim's side needs its B-tree indexes). Initializes
 * `pgbench_accounts`, `_branches`, `_tellers` and `_history` at a scale (`pgbench -i -s`), runs a
 * built-in script for a duration with a number of clients and threads, and reads back what
 * pgbench printed and the per-transaction log it wrote (`-l`), from which the latency
 * percentiles come.
 *
 * Models: src/bin/pgbench/pgbench.c — its options (-i -s, -c, -j, -T, -b, -M, -l, --log-prefix),
 * its summary ("number of transactions actually processed", "number of failed transactions",
 * "latency average", "tps = … (without initial connection time)") and its per-transaction log
 * lines ("client_id transaction_no time script_no time_epoch time_us", time in microseconds).
 * Entry points: `runPgbench`, `parsePgbenchSummary`, `parsePgbenchLog`, `latencySummary`.
 * See also: pg-cluster.ts (the private cluster), backends.ts (pgsim's worker backends).
 */

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { PgsimError } from "@pgsim/clock-sweep";
import type { PgCluster } from "./pg-cluster.js";

const execFileAsync = promisify(execFile);

/** pgbench's built-in scripts (`-b`). */
export const PGBENCH_BUILTINS = ["tpcb-like", "simple-update", "select-only"] as const;
export type PgbenchBuiltin = (typeof PGBENCH_BUILTINS)[number];

/** Options of `runPgbench`. */
export interface PgbenchOptions {
  /** `-s`: 100,000 accounts, 10 tellers and 1 branch per unit. Default 1. */
  readonly scale?: number;
  /** `-c`: concurrent clients. Default 1. */
  readonly clients?: number;
  /** `-j`: pgbench threads (at most `clients`). Default min(clients, 2). */
  readonly jobs?: number;
  /** `-T`: seconds to run. Default 10. */
  readonly durationSeconds?: number;
  /** `-b`: the script. Default "tpcb-like". */
  readonly builtin?: PgbenchBuiltin;
  /** `-M`: how statements are sent. Default "simple" (pgbench's default). */
  readonly protocol?: "simple" | "extended" | "prepared";
  /** Skip `pgbench -i` (the tables are there already, at `scale`). Default false. */
  readonly skipInit?: boolean;
}

/** What pgbench printed at the end of a run. */
export interface PgbenchSummary {
  /** "number of transactions actually processed". */
  readonly transactions: number;
  /** "number of failed transactions" (0 when pgbench did not print the line). */
  readonly failed: number;
  /** "latency average = … ms". */
  readonly latencyAverageMs: number;
  /** "tps = … (without initial connection time)". */
  readonly tps: number;
}

/** Latencies of the transactions of a run, in milliseconds (nearest-rank percentiles). */
export interface LatencySummary {
  readonly count: number;
  readonly avg: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** One run of `runPgbench`. */
export interface PgbenchResult extends PgbenchSummary {
  readonly scale: number;
  readonly clients: number;
  readonly jobs: number;
  readonly durationSeconds: number;
  readonly builtin: PgbenchBuiltin;
  readonly protocol: "simple" | "extended" | "prepared";
  /** Seconds `pgbench -i` took (0 with skipInit). */
  readonly initSeconds: number;
  /** From the per-transaction log: every transaction pgbench finished, failed ones excluded. */
  readonly latencyMs: LatencySummary;
  /** The command line of the run (for the report). */
  readonly command: readonly string[];
}

function number(stdout: string, pattern: RegExp, what: string): number {
  const m = pattern.exec(stdout);
  if (m === null) {
    throw new PgsimError("pgbench-failed", `pgbench printed no "${what}" line:\n${stdout}`);
  }
  return Number(m[1]);
}

/** Reads the summary pgbench (15) prints after a run. Throws `pgbench-failed` if it is missing. */
export function parsePgbenchSummary(stdout: string): PgbenchSummary {
  const failed = /^number of failed transactions: (\d+)/m.exec(stdout);
  return {
    transactions: number(
      stdout,
      /^number of transactions actually processed: (\d+)/m,
      "number of transactions actually processed",
    ),
    failed: failed === null ? 0 : Number(failed[1]),
    latencyAverageMs: number(stdout, /^latency average = ([0-9.]+) ms/m, "latency average"),
    tps: number(stdout, /^tps = ([0-9.]+) \(without initial connection time\)/m, "tps"),
  };
}

/**
 * The latencies (ms) of a per-transaction log's lines: `client_id transaction_no time script_no
 * time_epoch time_us …`, time in microseconds. A failed transaction's time field is a word
 * ("serialization", "deadlock", "failed") and is left out, as pgbench leaves it out of its
 * latency average.
 */
export function parsePgbenchLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.trim().split(/\s+/);
    if (fields.length < 6) {
      throw new PgsimError("pgbench-failed", `not a pgbench transaction log line: "${line}"`);
    }
    const us = Number(fields[2]);
    if (Number.isFinite(us)) out.push(us / 1000);
  }
  return out;
}

/** Count, average, nearest-rank p50 / p95 / p99 and maximum of latencies in milliseconds. */
export function latencySummary(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { count: 0, avg: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!;
  return {
    count: n,
    avg: sorted.reduce((s, x) => s + x, 0) / n,
    p50: rank(50),
    p95: rank(95),
    p99: rank(99),
    max: sorted[n - 1]!,
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new PgsimError(
      "invalid-parameter",
      `${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Runs PostgreSQL's pgbench against `pg` (as the `postgres` user over TCP, as the harness's psql
 * does): `pgbench -i -s scale` unless `skipInit`, then the built-in script for `durationSeconds`
 * with `clients` clients on `jobs` threads, logging every transaction. Rejects with
 * `pgbench-failed` (pgbench's stderr) when pgbench fails or its binary is missing.
 *
 * @example
 * ```ts
 * const pg = await startPgCluster();
 * const r = await runPgbench(pg, { scale: 1, clients: 4, durationSeconds: 10 });
 * console.log(r.tps, r.latencyMs.p95);
 * await pg.stop();
 * ```
 */
export async function runPgbench(
  pg: PgCluster,
  options: PgbenchOptions = {},
): Promise<PgbenchResult> {
  const scale = positiveInteger("scale", options.scale ?? 1);
  const clients = positiveInteger("clients", options.clients ?? 1);
  const jobs = positiveInteger("jobs", options.jobs ?? Math.min(clients, 2));
  if (jobs > clients) {
    throw new PgsimError(
      "invalid-parameter",
      `jobs (${jobs}) must not exceed clients (${clients})`,
    );
  }
  const durationSeconds = positiveInteger("durationSeconds", options.durationSeconds ?? 10);
  const builtin = options.builtin ?? "tpcb-like";
  if (!PGBENCH_BUILTINS.includes(builtin)) {
    throw new PgsimError(
      "invalid-parameter",
      `builtin must be one of ${PGBENCH_BUILTINS.join(", ")}, got ${String(builtin)}`,
    );
  }
  const protocol = options.protocol ?? "simple";
  const bin = path.join(pg.binDir, "pgbench");
  if (!fs.existsSync(bin)) {
    throw new PgsimError(
      "postgres-not-installed",
      `pgbench is not in ${pg.binDir}: install PostgreSQL 15 (apt-get install postgresql-15)`,
    );
  }
  const connection = ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres"];
  const env = { ...process.env, PGCONNECT_TIMEOUT: "10" };
  const run = async (args: string[], cwd: string): Promise<string> => {
    try {
      const { stdout } = await execFileAsync(bin, [...args, ...connection, "postgres"], {
        cwd,
        env,
        maxBuffer: 16 << 20,
      });
      return stdout;
    } catch (error) {
      const stderr = (error as { stderr?: string | Buffer }).stderr?.toString().trim();
      throw new PgsimError("pgbench-failed", stderr || (error as Error).message, {
        args: args.join(" "),
      });
    }
  };
  let initSeconds = 0;
  if (options.skipInit !== true) {
    const started = performance.now();
    await run(["-i", "-q", "-s", String(scale)], pg.baseDir);
    initSeconds = (performance.now() - started) / 1000;
  }
  const logDir = fs.mkdtempSync(path.join(pg.baseDir, "pgbench-log-"));
  try {
    const args = [
      "-b",
      builtin,
      "-M",
      protocol,
      "-c",
      String(clients),
      "-j",
      String(jobs),
      "-T",
      String(durationSeconds),
      "-l",
      "--log-prefix",
      path.join(logDir, "tx"),
    ];
    const stdout = await run(args, logDir);
    const summary = parsePgbenchSummary(stdout);
    const latencies = fs
      .readdirSync(logDir)
      .filter((f) => f.startsWith("tx."))
      .flatMap((f) => parsePgbenchLog(fs.readFileSync(path.join(logDir, f), "utf8")));
    return {
      ...summary,
      scale,
      clients,
      jobs,
      durationSeconds,
      builtin,
      protocol,
      initSeconds,
      latencyMs: latencySummary(latencies),
      command: ["pgbench", ...args.slice(0, -2)],
    };
  } finally {
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}
