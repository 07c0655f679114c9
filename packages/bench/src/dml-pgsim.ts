/**
 * Runs `pgsim-bench dml`'s statements on pgsim, in a worker thread: memory-only (`memheap`), or
 * disk-backed (`heap`, logged with fsync at commit as pg15-default; `heap-unlogged`, an unlogged
 * table as pg15-unlogged), and sizes the memory-only pool.
 *
 * Measures: per statement, wall seconds and the table's size (measured in the worker, see
 * dml-worker.ts); after the last statement, the process's resident set size.
 * Entry points: `runPgsimSystem`, `PGSIM_SETUPS`, `pgsimSettings`, `checkDataDir`,
 * `memheapBufferCount`, `HEAP_BUFFER_COUNT`, `ROWS_PER_PAGE`.
 * See also: dml-worker.ts, dml.ts, dml-postgres.ts (the peer), ../README.md.
 *
 * Lifetime: a disk-backed database lives in a fresh temporary directory (`pgsim-bench-dml-*`)
 * that is removed when the run ends, fails, or the process exits or gets SIGINT / SIGTERM / SIGHUP
 * (the signal is then re-raised). The worker does the work, so the main thread answers Ctrl-C at
 * once even in the middle of a long statement. With `dataDir` the database lives there instead
 * (it must be missing or empty, as initdb wants it) and is left after a clean shutdown
 * (`db.shutdown()`: a shutdown checkpoint, pg_control "shut down"), for pg_waldump,
 * pg_controldata and pgsim-inspect; if the run fails or is interrupted, what it made there is
 * removed, as initdb removes a data directory it could not finish.
 *
 * Models: pgsim only (runs the DML statements on pgsim).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { BLCKSZ } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import type { DatabaseOptions } from "@pgsim/heap-am";
import { withoutSourceCondition, workerModule, workersFromBuild } from "@pgsim/heap-am/internals";
import {
  DML_STEPS,
  type DmlStep,
  type PgsimDmlSystem,
  type StepHooks,
  type StepMeasurement,
} from "./dml-common.js";

/** PostgreSQL's default shared_buffers, 128 MB, in 8 KB buffers: pgsim-heap's pool, as pg15-default's. */
export const HEAP_BUFFER_COUNT = 16384;
/** pg15-unlogged's shared_buffers, 4 GB, in 8 KB buffers: pgsim-heap-unlogged's pool. */
export const HEAP_UNLOGGED_BUFFER_COUNT = 524288;
/** (int4, int4) rows per 8 KB heap page: (8192 − 24) / (MAXALIGN(24 + 8) + 4) = 226. */
export const ROWS_PER_PAGE = 226;

/**
 * A memory-only pool that holds the whole run: the table after UPDATE (every row has a dead and a
 * live version, so twice the pages of the insert), plus 1 % and 64 buffers for the free space
 * map and the visibility map.
 */
export function memheapBufferCount(rows: number, primaryKey = false): number {
  const heapPages = 2 * Math.ceil(rows / ROWS_PER_PAGE);
  // The primary key: ~366 int4 entries per leaf when filled in key order, and an UPDATE whose
  // new versions go to other pages adds a second entry per key (split leaves half full, or
  // deduplicated): room for four times the first build.
  const indexPages = primaryKey ? 4 * Math.ceil(rows / 366) + 64 : 0;
  return heapPages + indexPages + Math.ceil((heapPages + indexPages) / 100) + 64;
}

/** The write-ahead log settings of a disk-backed pgsim database (DatabaseOptions' WAL fields). */
export type PgsimWalSettings = Required<
  Pick<
    DatabaseOptions,
    | "synchronousCommit"
    | "fsync"
    | "fullPageWrites"
    | "maxWalSize"
    | "walSegmentSize"
    | "checkpointTimeoutMs"
  >
>;

const MB = 1024 * 1024;
const GB = 1024 * MB;

/**
 * How each pgsim system is set up, to do the durability work of its PostgreSQL counterpart:
 * - `pgsim-memheap`: the memory-only variant, which has no WAL (the experiment's point).
 * - `pgsim-heap`: WAL on, as pg15-default (PostgreSQL's defaults): synchronous_commit, fsync and
 *   full_page_writes on, max_wal_size 1 GB, 16 MB segments, checkpoint_timeout 5 min.
 * - `pgsim-heap-unlogged`: WAL on, the table created unlogged, as pg15-unlogged (max_wal_size
 *   16 GB, checkpoint_timeout 1 day, a 4 GB pool as its shared_buffers). synchronous_commit is on, but a transaction that wrote
 *   only to unlogged tables commits asynchronously in both (RecordTransactionCommit's
 *   wrote_xlog: XLogSetAsyncXactLSN instead of XLogFlush).
 */
export const PGSIM_SETUPS: Record<
  PgsimDmlSystem,
  {
    variant: "disk" | "memory";
    unlogged: boolean;
    wal?: PgsimWalSettings;
    /** A disk-backed pool's buffers: the shared_buffers of the PostgreSQL setup it is compared with. */
    bufferCount?: number;
  }
> = {
  "pgsim-memheap": { variant: "memory", unlogged: false },
  "pgsim-heap": {
    variant: "disk",
    unlogged: false,
    bufferCount: HEAP_BUFFER_COUNT,
    wal: {
      synchronousCommit: true,
      fsync: true,
      fullPageWrites: true,
      maxWalSize: GB,
      walSegmentSize: 16 * MB,
      checkpointTimeoutMs: 5 * 60_000,
    },
  },
  "pgsim-heap-unlogged": {
    variant: "disk",
    unlogged: true,
    bufferCount: HEAP_UNLOGGED_BUFFER_COUNT,
    wal: {
      // synchronous_commit on, as pg15-unlogged: a transaction that wrote only to unlogged
      // tables commits asynchronously anyway (RecordTransactionCommit's wrote_xlog).
      synchronousCommit: true,
      fsync: true,
      fullPageWrites: true,
      maxWalSize: 16 * GB,
      walSegmentSize: 16 * MB,
      checkpointTimeoutMs: 24 * 60 * 60_000,
    },
  },
};

/** A size as PostgreSQL prints a setting: "16MB", "1GB". */
export function sizeSetting(bytes: number): string {
  return bytes % GB === 0 ? `${bytes / GB}GB` : `${bytes / MB}MB`;
}

/** A time as PostgreSQL prints a setting: "5min", "1d". */
function timeSetting(ms: number): string {
  const day = 24 * 60 * 60_000;
  if (ms % day === 0) return `${ms / day}d`;
  if (ms % 60_000 === 0) return `${ms / 60_000}min`;
  return `${ms}ms`;
}

/**
 * A pgsim system's settings under PostgreSQL's names, for the reports (e.g. pgsim-heap:
 * `{ shared_buffers: "128MB", wal: "on", synchronous_commit: "on", … }`).
 */
export function pgsimSettings(system: PgsimDmlSystem, bufferCount: number): Record<string, string> {
  const setup = PGSIM_SETUPS[system];
  const onOff = (b: boolean) => (b ? "on" : "off");
  const pool: Record<string, string> =
    setup.variant === "memory"
      ? { pool: `memory-only, ${bufferCount} buffers` }
      : { shared_buffers: sizeSetting(bufferCount * BLCKSZ) };
  if (setup.wal === undefined) return { ...pool, wal: "off" };
  const w = setup.wal;
  return {
    ...pool,
    wal: "on",
    table: setup.unlogged ? "unlogged" : "logged",
    synchronous_commit: onOff(w.synchronousCommit),
    fsync: onOff(w.fsync),
    full_page_writes: onOff(w.fullPageWrites),
    max_wal_size: sizeSetting(w.maxWalSize),
    wal_segment_size: sizeSetting(w.walSegmentSize),
    checkpoint_timeout: timeSetting(w.checkpointTimeoutMs),
  };
}

/** What the worker is asked to run. */
export interface PgsimRunSpec {
  variant: "disk" | "memory";
  rows: number;
  bufferCount: number;
  dataDir?: string;
  checksums: boolean;
  batchRows: number;
  /** Disk: the WAL settings (absent for memory). */
  wal?: PgsimWalSettings;
  /** CREATE UNLOGGED TABLE. */
  unlogged: boolean;
  /** accounts (aid) is the primary key (a unique nbtree index the statements keep). */
  primaryKey: boolean;
  /** The statements to run, a prefix of DML_STEPS. */
  steps: readonly DmlStep[];
  /** End with a clean shutdown (db.shutdown()) instead of close(): the directory is kept. */
  shutdown: boolean;
}

/** Messages from the worker. */
export type WorkerMessage =
  | { kind: "start"; step: DmlStep }
  | { kind: "progress"; step: DmlStep; done: number }
  | { kind: "end"; step: DmlStep; seconds: number; rowsAffected: number; tableBlocks: number }
  | { kind: "measured"; rssBytes: number }
  | { kind: "done"; shutdown?: PgsimShutdown };

/** What the clean shutdown of a kept data directory wrote (pg_control's latest checkpoint). */
export interface PgsimShutdown {
  /** The data directory left behind. */
  dataDir: string;
  /** The shutdown checkpoint record's location ("Latest checkpoint location"), as "0/1A2B3C4". */
  checkpointLsn: string;
  /** Its REDO location (a shutdown checkpoint's redo is the record itself). */
  redoLsn: string;
  /** The table's relation file, relative to the data directory ("base/5/16384"). */
  tableFile: string;
  /** The oldest WAL segment file in `pg_wal/`: where pg_waldump can start reading. */
  firstWalSegment?: string;
}

/** What one pgsim system did. */
export interface PgsimRunResult {
  steps: StepMeasurement[];
  bufferCount: number;
  poolBytes: number;
  /** process.memoryUsage().rss after the last statement, before the database was closed. */
  rssBytes: number;
  /** PostgreSQL's names for the settings (see pgsimSettings). */
  settings: Record<string, string>;
  /** With `dataDir`: the clean shutdown that left it. */
  shutdown?: PgsimShutdown;
}

/** Options of runPgsimSystem. */
export interface PgsimRunOptions extends StepHooks {
  rows: number;
  /** Rows per heap_multi_insert batch. Default 1000. */
  batchRows?: number;
  /** Data checksums on pages written to disk. Default false (initdb's default). */
  checksums?: boolean;
  /** The statements to run, a prefix of DML_STEPS (default all four). */
  steps?: readonly DmlStep[];
  /**
   * A disk-backed system's data directory, missing or empty (checkDataDir); kept after a clean
   * shutdown. Default: a temporary directory, removed afterwards.
   */
  dataDir?: string;
  /** accounts gets a primary key on aid (default false). */
  primaryKey?: boolean;
}

/**
 * Checks that `dir` can become a data directory, as initdb does: missing, or an empty directory.
 * Throws `data-directory-not-empty` (initdb's message) or `not-a-directory`.
 */
export function checkDataDir(dir: string): void {
  if (dir === "") throw new PgsimError("invalid-parameter", "the data directory must be named");
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) {
    throw new PgsimError("not-a-directory", `"${dir}" exists but is not a directory`);
  }
  if (fs.readdirSync(dir).length > 0) {
    throw new PgsimError("data-directory-not-empty", `directory "${dir}" exists but is not empty`, {
      hint: "Give a new or empty directory; the run leaves its data directory there.",
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Temporary directories are removed at exit and on signals.

/**
 * The directories of running databases and how to clean each up: `remove` a directory this
 * module made, `empty` one the caller gave that existed (empty) before the run.
 */
const liveDirs = new Map<string, "remove" | "empty">();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let handlersInstalled = false;

/**
 * rmSync's retries: on a signal the worker may still be writing into the directory (a WAL segment,
 * a relation file), so a directory emptied a moment ago can be non-empty again (ENOTEMPTY).
 */
const RM_RETRIES = { maxRetries: 20, retryDelay: 10 } as const;

function cleanDir(dir: string, how: "remove" | "empty"): void {
  if (how === "remove") {
    fs.rmSync(dir, { recursive: true, force: true, ...RM_RETRIES });
    return;
  }
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    fs.rmSync(path.join(dir, entry), { recursive: true, force: true, ...RM_RETRIES });
  }
}

function removeLiveDirs(): void {
  for (const [dir, how] of liveDirs) cleanDir(dir, how);
  liveDirs.clear();
}

/** The workers running a disk-backed database: stopped before their directories are removed. */
const liveWorkers = new Set<Worker>();
let signalled = false;

/**
 * SIGINT / SIGTERM / SIGHUP: stops the workers (a worker still writing — a WAL segment, a relation
 * file — would refill a directory being removed), removes the directories, then re-raises the
 * signal so that the process ends as it intends (pg-cluster.ts does the same). A second signal
 * while this runs is ignored.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (signalled) return;
  signalled = true;
  const finish = () => {
    try {
      removeLiveDirs();
    } catch (e) {
      process.stderr.write(
        `pgsim-bench: could not remove a data directory: ${(e as Error).message}\n`,
      );
    }
    uninstallHandlers();
    process.kill(process.pid, signal);
  };
  Promise.allSettled([...liveWorkers].map((w) => w.terminate())).then(finish, finish);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", removeLiveDirs);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off("exit", removeLiveDirs);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** The oldest segment file in a pg_wal directory (24 hex digits), if any. */
function oldestWalSegment(walDir: string): string | undefined {
  return fs
    .readdirSync(walDir)
    .filter((f) => /^[0-9A-F]{24}$/.test(f))
    .sort()[0];
}

/**
 * The worker: the built .js next to this file, or the .ts source through tsx under vitest (the
 * built twin with PGSIM_WORKERS_FROM_BUILD=1: @pgsim/heap-am's worker-code.ts).
 */
function startWorker(spec: PgsimRunSpec): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts"))
    return new Worker(new URL("./dml-worker.js", here), { workerData: spec });
  if (workersFromBuild()) {
    return new Worker(workerModule(here, "dml-worker"), {
      workerData: spec,
      execArgv: withoutSourceCondition(process.execArgv),
    });
  }
  // Node 20 cannot start a .ts worker directly, even under tsx: register tsx inside it first.
  const url = new URL("./dml-worker.ts", here).href;
  const code = `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(url)}); })`;
  const conditions = process.execArgv.includes("--conditions=source")
    ? []
    : ["--conditions=source"];
  return new Worker(code, {
    eval: true,
    workerData: spec,
    execArgv: [...process.execArgv, ...conditions],
  });
}

/**
 * Runs INSERT, UPDATE, DELETE and VACUUM on a fresh pgsim database set up as PGSIM_SETUPS says:
 * `heap` and `heap-unlogged` on a disk-backed pool of 16384 buffers (128 MB, so a large table
 * spills to its files), `memheap` on a memory-only pool sized by memheapBufferCount. Resolves
 * with the measurements; rejects with the worker's error (or, before starting, with
 * checkDataDir's).
 *
 * @example
 * ```ts
 * const r = await runPgsimSystem("pgsim-memheap", { rows: 100_000 });
 * console.log(r.steps.map((s) => `${s.step} ${s.seconds.toFixed(3)} s`));
 * const kept = await runPgsimSystem("pgsim-heap", { rows: 100_000, dataDir: "/tmp/pgsim-data" });
 * console.log(kept.shutdown?.checkpointLsn); // pg_controldata's "Latest checkpoint location"
 * ```
 */
export async function runPgsimSystem(
  system: PgsimDmlSystem,
  options: PgsimRunOptions,
): Promise<PgsimRunResult> {
  const setup = PGSIM_SETUPS[system];
  const disk = setup.variant === "disk";
  if (options.dataDir !== undefined) {
    if (!disk) {
      throw new PgsimError(
        "invalid-parameter",
        `${system} is memory-only: it has no data directory`,
      );
    }
    checkDataDir(options.dataDir);
  }
  const bufferCount =
    setup.bufferCount ?? memheapBufferCount(options.rows, options.primaryKey === true);
  let dataDir: string | undefined;
  if (disk) {
    installHandlers();
    if (options.dataDir !== undefined) {
      dataDir = path.resolve(options.dataDir);
      liveDirs.set(dataDir, fs.existsSync(dataDir) ? "empty" : "remove");
    } else {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-dml-"));
      liveDirs.set(dataDir, "remove");
    }
  }
  const keep = options.dataDir !== undefined;
  const spec: PgsimRunSpec = {
    variant: setup.variant,
    rows: options.rows,
    bufferCount,
    ...(dataDir !== undefined ? { dataDir } : {}),
    checksums: options.checksums === true,
    batchRows: options.batchRows ?? 1000,
    ...(setup.wal !== undefined ? { wal: setup.wal } : {}),
    unlogged: setup.unlogged,
    primaryKey: options.primaryKey === true,
    steps: options.steps ?? DML_STEPS,
    shutdown: keep,
  };
  const steps: StepMeasurement[] = [];
  let rssBytes = 0;
  let shutdown: PgsimShutdown | undefined;
  let finished = false;
  try {
    const worker = startWorker(spec);
    if (disk) liveWorkers.add(worker);
    worker.once("exit", () => liveWorkers.delete(worker));
    await new Promise<void>((resolve, reject) => {
      worker.on("message", (m: WorkerMessage) => {
        if (m.kind === "start") options.onStepStart?.(m.step);
        else if (m.kind === "progress") options.onStepProgress?.(m.step, m.done);
        else if (m.kind === "end") {
          const measurement = { step: m.step, seconds: m.seconds, tableBlocks: m.tableBlocks };
          steps.push(measurement);
          options.onStepEnd?.(measurement);
        } else if (m.kind === "measured") {
          rssBytes = m.rssBytes;
        } else {
          if (m.shutdown !== undefined) {
            const first = oldestWalSegment(path.join(m.shutdown.dataDir, "pg_wal"));
            shutdown = {
              ...m.shutdown,
              ...(first !== undefined ? { firstWalSegment: first } : {}),
            };
          }
          finished = true;
        }
      });
      worker.once("error", reject);
      worker.once("exit", (code) => {
        if (finished && code === 0) resolve();
        else reject(new Error(`the ${system} worker stopped (exit code ${code}) before finishing`));
      });
    });
  } finally {
    if (dataDir !== undefined) {
      // A kept directory stays only after its clean shutdown; otherwise it is cleaned up.
      const how = liveDirs.get(dataDir);
      if (!(keep && finished) && how !== undefined) cleanDir(dataDir, how);
      liveDirs.delete(dataDir);
      if (liveDirs.size === 0) uninstallHandlers();
    }
  }
  return {
    steps,
    bufferCount,
    poolBytes: bufferCount * BLCKSZ,
    rssBytes,
    settings: pgsimSettings(system, bufferCount),
    ...(shutdown !== undefined ? { shutdown } : {}),
  };
}
