/**
 * `pgsim-bench snapshot`: what memory-only persistence (persistence "snapshot", issue 14) costs —
 * the time and size of a snapshot per GB of pool, how long loading one takes, and how much a
 * DML workload slows down while snapshots run every `--interval-ms`.
 *
 * Measures, per pool size: a memory-only pool filled to `fill` with pgbench_accounts-like rows,
 * then `snapshots` snapshots (`db.snapshot()`): the prepare time (the private copy's memory
 * allocated and touched), the quiesce time (changes held off while the pool is copied), the
 * write time (checksums, write, fsyncs, rename), the total, the file's size, and
 * the time `Database.open` takes to load it (read, verify every checksum and the CRC, map every
 * page back). Then, on one pool: single-row UPDATE transactions (one backend, as fast as it can;
 * a VACUUM of the table every 20,000 — fewer in a small pool — as autovacuum would) for `dmlSeconds` without snapshots
 * and again with a snapshot every `intervalMs`, with their rates, p99 and worst latency.
 * Entry points: `runSnapshotBench`, `formatSnapshotTable`, `writeSnapshotReport`,
 * `SNAPSHOT_BENCH_DEFAULTS`.
 * See also: cli.ts, heap-am's database/snapshot.ts, ../RESULTS.md "Memory-only snapshots (issue 14)".
 *
 * With one backend the snapshot runs in the backend whose commit found it due, so that backend
 * waits for all of it (copy and write); other backends (worker threads) would wait only for the
 * copy (the quiesce time).
 *
 * Models: pgsim only (a benchmark driver).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BLCKSZ } from "@pgsim/buffer-manager";
import { Database, type TID } from "@pgsim/heap-am";
import { type SampleSummary, summarizeSamples } from "./dml-common.js";
import { type MachineInfo, machineInfo } from "./machine.js";

/** Options of the snapshot benchmark. */
export interface SnapshotBenchOptions {
  /** Pool sizes in MB, one measurement each (default 64, 256, 1024). */
  poolMb?: number[];
  /** The fraction of the pool filled with rows before the snapshots (default 0.9). */
  fill?: number;
  /** Snapshots per pool size (default 3). */
  snapshots?: number;
  /** Seconds of UPDATE transactions per run of the DML comparison (default 5). */
  dmlSeconds?: number;
  /** snapshotIntervalMs of the DML comparison's run with snapshots (default 1000). */
  intervalMs?: number;
  /** The pool of the DML comparison, in MB, filled to `fill` (default 256). */
  dmlPoolMb?: number;
  /** fsync the snapshot files (default true). */
  fsync?: boolean;
  /** Where the snapshot directories go (default the OS's temporary directory); removed after. */
  dir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

export const SNAPSHOT_BENCH_DEFAULTS = {
  poolMb: [64, 256, 1024],
  fill: 0.9,
  snapshots: 3,
  dmlSeconds: 5,
  intervalMs: 1000,
  dmlPoolMb: 256,
  fsync: true,
} as const;

/** One pool size's figures. */
export interface SnapshotSizeResult {
  poolMb: number;
  /** Pages in the snapshot (every block of every fork) and their bytes. */
  pages: number;
  usedBytes: number;
  /** The snapshot file's size. */
  fileBytes: number;
  prepareMs: SampleSummary;
  quiesceMs: SampleSummary;
  writeMs: SampleSummary;
  totalMs: SampleSummary;
  /** Database.open of the directory (read, verify, map back). */
  loadMs: number;
  /** Median total seconds per GB of used pool, and quiesce seconds per GB. */
  totalSecondsPerGb: number;
  quiesceSecondsPerGb: number;
  loadSecondsPerGb: number;
  /** File bytes per GB of used pool. */
  fileBytesPerGb: number;
}

/** One run of the DML comparison. */
export interface SnapshotDmlRun {
  transactions: number;
  tps: number;
  p99Ms: number;
  maxMs: number;
  snapshots: number;
  /**
   * The run's time spent in the snapshots its commits took (their total times), as a share of
   * the run: with one backend, the slowdown they cause, less noisy than the rates.
   */
  snapshotShare: number;
}

/** The DML comparison. */
export interface SnapshotDmlResult {
  poolMb: number;
  usedBytes: number;
  intervalMs: number;
  seconds: number;
  without: SnapshotDmlRun;
  with: SnapshotDmlRun;
  /** 1 − with.tps / without.tps. */
  slowdown: number;
}

export interface SnapshotBenchResult {
  machine: MachineInfo;
  options: Required<Omit<SnapshotBenchOptions, "log" | "dir">>;
  sizes: SnapshotSizeResult[];
  dml: SnapshotDmlResult;
}

const GB = 1024 ** 3;
/**
 * The DML runs VACUUM the updated table every this many transactions (in both runs), or every
 * 8 × its free pages when the pool has fewer free pages than that (small pools).
 */
const VACUUM_EVERY = 20_000;
const ACCOUNTS = [
  { name: "aid", type: "int4" as const, notNull: true },
  { name: "bid", type: "int4" as const, notNull: true },
  { name: "abalance", type: "int4" as const, notNull: true },
  { name: "filler", type: "text" as const },
];
const FILLER = " ".repeat(84);

/** Fills `table` until its main fork has `pages` blocks; returns the TIDs when asked to. */
function fill(db: Database, table: string, pages: number, keepTids: boolean): TID[] {
  const tids: TID[] = [];
  let next = 1;
  for (let have = db.nblocks(table); have < pages; have = db.nblocks(table)) {
    // About 60 rows fit a page: batches shrink near the target so as not to overshoot it.
    const count = Math.min(20_000, Math.max(50, (pages - have) * 50));
    const tx = db.begin();
    const rows = Array.from({ length: count }, (_, i) => [next + i, 1, 0, FILLER]);
    if (keepTids) tids.push(...tx.insertMany(table, rows));
    else tx.insertBatches(table, rows.length, (first, count) => rows.slice(first, first + count));
    tx.commit();
    next += rows.length;
  }
  return tids;
}

function tempDir(parent: string | undefined): string {
  return fs.mkdtempSync(path.join(parent ?? os.tmpdir(), "pgsim-bench-snapshot-"));
}

function usedPages(db: Database): number {
  return db.pool.bufferCacheSummary().buffers_used;
}

function measureSize(
  poolMb: number,
  o: Required<Omit<SnapshotBenchOptions, "log" | "dir">>,
  dirParent: string | undefined,
  log: (l: string) => void,
): SnapshotSizeResult {
  const dir = tempDir(dirParent);
  try {
    const bufferCount = Math.floor((poolMb * 1024 * 1024) / BLCKSZ);
    const db = Database.create({
      variant: "memory",
      bufferCount,
      dataDir: dir,
      persistence: "snapshot",
      fsync: o.fsync,
    });
    db.createTable("pgbench_accounts", ACCOUNTS);
    log(`snapshot: ${poolMb} MB pool, filling ${Math.round(o.fill * 100)} %`);
    fill(db, "pgbench_accounts", Math.floor(bufferCount * o.fill), false);
    const reports = [];
    for (let i = 0; i < o.snapshots; i++) {
      reports.push(db.snapshot());
      log(
        `snapshot: ${poolMb} MB pool, snapshot ${i + 1} of ${o.snapshots}: ${Math.round(reports[i]!.totalMs)} ms`,
      );
    }
    const pages = reports[0]!.pages;
    db.shutdown();
    const started = performance.now();
    const again = Database.open(dir);
    const loadMs = performance.now() - started;
    if (again.snapshotReport?.pages !== pages) throw new Error("the snapshot did not load whole");
    again.close();
    const usedBytes = pages * BLCKSZ;
    const totalMs = summarizeSamples(reports.map((r) => r.totalMs));
    const quiesceMs = summarizeSamples(reports.map((r) => r.quiesceMs));
    const perGb = (ms: number) => ms / 1000 / (usedBytes / GB);
    return {
      poolMb,
      pages,
      usedBytes,
      fileBytes: reports[0]!.bytes,
      prepareMs: summarizeSamples(reports.map((r) => r.prepareMs)),
      quiesceMs,
      writeMs: summarizeSamples(reports.map((r) => r.writeMs)),
      totalMs,
      loadMs,
      totalSecondsPerGb: perGb(totalMs.median),
      quiesceSecondsPerGb: perGb(quiesceMs.median),
      loadSecondsPerGb: perGb(loadMs),
      fileBytesPerGb: reports[0]!.bytes / (usedBytes / GB),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE ctid = …, one per transaction. */
function updateLoop(
  db: Database,
  tids: TID[],
  seconds: number,
  vacuumEvery: number,
): SnapshotDmlRun {
  const latencies: number[] = [];
  let generation = db.lastSnapshot?.generation ?? 0;
  let snapshots = 0;
  let snapshotMs = 0;
  let seed = 12345;
  const end = performance.now() + seconds * 1000;
  for (let now = performance.now(); now < end; ) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const i = seed % tids.length;
    const tx = db.begin();
    const tid = tx.update("pgbench_accounts", tids[i]!, (r) => [
      r[0]!,
      r[1]!,
      (r[2] as number) + 1,
      r[3]!,
    ]);
    tx.commit();
    if (tid !== undefined) tids[i] = tid;
    const last = db.lastSnapshot;
    if (last !== undefined && last.generation !== generation) {
      generation = last.generation;
      snapshots++;
      snapshotMs += last.totalMs;
    }
    // As autovacuum would: without it every update takes new space, and a memory-only pool,
    // which never evicts, fills up.
    if (latencies.length % vacuumEvery === vacuumEvery - 1) db.vacuum("pgbench_accounts");
    const after = performance.now();
    latencies.push(after - now);
    now = after;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const total = latencies.reduce((a, b) => a + b, 0);
  return {
    transactions: latencies.length,
    tps: latencies.length / (total / 1000),
    p99Ms: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!,
    maxMs: sorted[sorted.length - 1]!,
    snapshots,
    snapshotShare: snapshotMs / total,
  };
}

function measureDml(
  o: Required<Omit<SnapshotBenchOptions, "log" | "dir">>,
  dirParent: string | undefined,
  log: (l: string) => void,
): SnapshotDmlResult {
  const bufferCount = Math.floor((o.dmlPoolMb * 1024 * 1024) / BLCKSZ);
  const runs: SnapshotDmlRun[] = [];
  let usedBytes = 0;
  for (const withSnapshots of [false, true]) {
    const dir = tempDir(dirParent);
    try {
      const db = Database.create({
        variant: "memory",
        bufferCount,
        ...(withSnapshots
          ? {
              dataDir: dir,
              persistence: "snapshot" as const,
              snapshotIntervalMs: o.intervalMs,
              fsync: o.fsync,
            }
          : {}),
      });
      // The updated table (fillfactor 50: HOT updates and pruning keep it its size), and a table
      // that fills the rest of the pool, so that each snapshot copies and writes a full pool.
      db.createTable("pgbench_accounts", ACCOUNTS, { fillfactor: 50 });
      db.createTable("filler", ACCOUNTS);
      const tids = fill(db, "pgbench_accounts", Math.max(1, Math.floor(bufferCount * 0.05)), true);
      fill(db, "filler", Math.floor(bufferCount * (o.fill - 0.1)), false);
      usedBytes = usedPages(db) * BLCKSZ;
      log(
        `snapshot: UPDATE transactions for ${o.dmlSeconds} s, ${withSnapshots ? `a snapshot every ${o.intervalMs} ms` : "no snapshots"}`,
      );
      // A small pool has few free pages for the versions non-HOT updates leave behind (an
      // update by TID does not prune, as in PostgreSQL): VACUUM more often there.
      const freePages = bufferCount - usedPages(db);
      const vacuumEvery = Math.max(200, Math.min(VACUUM_EVERY, freePages * 8));
      runs.push(updateLoop(db, tids, o.dmlSeconds, vacuumEvery));
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const [without, withSnap] = runs as [SnapshotDmlRun, SnapshotDmlRun];
  return {
    poolMb: o.dmlPoolMb,
    usedBytes,
    intervalMs: o.intervalMs,
    seconds: o.dmlSeconds,
    without,
    with: withSnap,
    slowdown: 1 - withSnap.tps / without.tps,
  };
}

/**
 * Runs the snapshot benchmark.
 *
 * @example
 * ```ts
 * const r = runSnapshotBench({ poolMb: [64], snapshots: 1, dmlSeconds: 1, dmlPoolMb: 64 });
 * console.log(r.sizes[0]!.totalSecondsPerGb, r.dml.slowdown);
 * ```
 */
export function runSnapshotBench(options: SnapshotBenchOptions = {}): SnapshotBenchResult {
  const o = {
    poolMb: options.poolMb ?? [...SNAPSHOT_BENCH_DEFAULTS.poolMb],
    fill: options.fill ?? SNAPSHOT_BENCH_DEFAULTS.fill,
    snapshots: options.snapshots ?? SNAPSHOT_BENCH_DEFAULTS.snapshots,
    dmlSeconds: options.dmlSeconds ?? SNAPSHOT_BENCH_DEFAULTS.dmlSeconds,
    intervalMs: options.intervalMs ?? SNAPSHOT_BENCH_DEFAULTS.intervalMs,
    dmlPoolMb: options.dmlPoolMb ?? SNAPSHOT_BENCH_DEFAULTS.dmlPoolMb,
    fsync: options.fsync ?? SNAPSHOT_BENCH_DEFAULTS.fsync,
  };
  if (!(o.fill > 0.1 && o.fill <= 0.95)) throw new RangeError("fill must be in (0.1, 0.95]");
  const log = options.log ?? (() => {});
  const sizes = o.poolMb.map((mb) => measureSize(mb, o, options.dir, log));
  const dml = measureDml(o, options.dir, log);
  return { machine: machineInfo(), options: o, sizes, dml };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The result as Markdown tables. */
export function formatSnapshotTable(r: SnapshotBenchResult): string {
  const lines = [
    `Memory-only snapshots (fsync ${r.options.fsync ? "on" : "off"}; ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, Node ${r.machine.node})`,
    "",
    "| pool | used | file | prepare | quiesce (copy) | write | total | load (open) | total s/GB | quiesce s/GB | load s/GB | file GB per GB |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of r.sizes) {
    const ms = (x: SampleSummary) =>
      x.min === x.max ? `${fmt(x.median)} ms` : `${fmt(x.median)} ms (${fmt(x.min)}–${fmt(x.max)})`;
    lines.push(
      `| ${s.poolMb} MB | ${fmt(s.usedBytes / 2 ** 20)} MB | ${fmt(s.fileBytes / 2 ** 20)} MB | ${ms(s.prepareMs)} | ${ms(s.quiesceMs)} | ${ms(s.writeMs)} | ${ms(s.totalMs)} | ${fmt(s.loadMs)} ms | ${fmt(s.totalSecondsPerGb, 2)} | ${fmt(s.quiesceSecondsPerGb, 2)} | ${fmt(s.loadSecondsPerGb, 2)} | ${fmt(s.fileBytesPerGb / GB, 3)} |`,
    );
  }
  const d = r.dml;
  lines.push(
    "",
    `UPDATE one row per transaction (VACUUM every ${fmt(VACUUM_EVERY)}, or 8 × the free pages in a small pool), one backend, ${d.seconds} s each, ${d.poolMb} MB pool (${fmt(d.usedBytes / 2 ** 20)} MB used):`,
    "",
    "| run | transactions | tps | p99 | worst | snapshots | time in snapshots |",
    "|---|---:|---:|---:|---:|---:|---:|",
    `| no snapshots | ${fmt(d.without.transactions)} | ${fmt(d.without.tps)} | ${fmt(d.without.p99Ms, 3)} ms | ${fmt(d.without.maxMs, 1)} ms | 0 | 0 % |`,
    `| snapshot every ${d.intervalMs} ms | ${fmt(d.with.transactions)} | ${fmt(d.with.tps)} | ${fmt(d.with.p99Ms, 3)} ms | ${fmt(d.with.maxMs, 1)} ms | ${d.with.snapshots} | ${fmt(d.with.snapshotShare * 100, 1)} % |`,
    "",
    `Slowdown (tps): ${fmt(d.slowdown * 100, 1)} %; time spent in snapshots: ${fmt(d.with.snapshotShare * 100, 1)} % of the run.`,
    "",
  );
  return lines.join("\n");
}

/** Writes `snapshot.json` and `snapshot.md` into `outDir`; returns their paths. */
export function writeSnapshotReport(r: SnapshotBenchResult, outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, "snapshot.json");
  const md = path.join(outDir, "snapshot.md");
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, formatSnapshotTable(r));
  return [json, md];
}
