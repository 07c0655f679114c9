/**
 * Runs `pgsim-bench dml`'s statements on pgsim, disk-backed (`heap`) or memory-only (`memheap`),
 * in a worker thread, and sizes the memory-only pool.
 *
 * Measures: per statement, wall seconds and the table's size (measured in the worker, see
 * dml-worker.ts); after the last statement, the process's resident set size.
 * Entry points: `runPgsimSystem`, `memheapBufferCount`, `HEAP_BUFFER_COUNT`, `ROWS_PER_PAGE`.
 * See also: dml-worker.ts, dml.ts, dml-postgres.ts (the peer), ../README.md.
 *
 * Lifetime: the disk-backed database lives in a fresh temporary directory (`pgsim-bench-dml-*`)
 * that is removed when the run ends, fails, or the process exits or gets SIGINT / SIGTERM / SIGHUP
 * (the signal is then re-raised). The worker does the work, so the main thread answers Ctrl-C at
 * once even in the middle of a long statement.
 *
 * Models: pgsim only (runs the DML statements on pgsim).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { BLCKSZ } from "@pgsim/buffer-manager";
import type { DmlStep, StepHooks, StepMeasurement } from "./dml-common.js";

/** PostgreSQL's default shared_buffers, 128 MB, in 8 KB buffers: the disk-backed pool's size. */
export const HEAP_BUFFER_COUNT = 16384;
/** (int4, int4) rows per 8 KB heap page: (8192 − 24) / (MAXALIGN(24 + 8) + 4) = 226. */
export const ROWS_PER_PAGE = 226;

/**
 * A memory-only pool that holds the whole run: the table after UPDATE (every row has a dead and a
 * live version, so twice the pages of the insert), plus 1 % and 64 buffers for the free space
 * map and the visibility map.
 */
export function memheapBufferCount(rows: number): number {
  const heapPages = 2 * Math.ceil(rows / ROWS_PER_PAGE);
  return heapPages + Math.ceil(heapPages / 100) + 64;
}

/** What the worker is asked to run. */
export interface PgsimRunSpec {
  variant: "disk" | "memory";
  rows: number;
  bufferCount: number;
  dataDir?: string;
  checksums: boolean;
  batchRows: number;
}

/** Messages from the worker. */
export type WorkerMessage =
  | { kind: "start"; step: DmlStep }
  | { kind: "progress"; step: DmlStep; done: number }
  | { kind: "end"; step: DmlStep; seconds: number; rowsAffected: number; tableBlocks: number }
  | { kind: "done"; rssBytes: number };

/** What one pgsim system did. */
export interface PgsimRunResult {
  steps: StepMeasurement[];
  bufferCount: number;
  poolBytes: number;
  /** process.memoryUsage().rss after the last statement, before the database was closed. */
  rssBytes: number;
}

/** Options of runPgsimSystem. */
export interface PgsimRunOptions extends StepHooks {
  rows: number;
  /** Rows per heap_multi_insert batch. Default 1000. */
  batchRows?: number;
  /** Data checksums on pages written to disk. Default false (initdb's default). */
  checksums?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Temporary directories are removed at exit and on signals.

const liveDirs = new Set<string>();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let handlersInstalled = false;

function removeLiveDirs(): void {
  for (const dir of liveDirs) fs.rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeLiveDirs();
  uninstallHandlers();
  // Re-raise, so the process ends as the signal intends (pg-cluster.ts does the same).
  process.kill(process.pid, signal);
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

/** The worker: the built .js next to this file, or the .ts source through tsx under vitest. */
function startWorker(spec: PgsimRunSpec): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts"))
    return new Worker(new URL("./dml-worker.js", here), { workerData: spec });
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
 * Runs INSERT, UPDATE, DELETE and VACUUM on a fresh pgsim database: `heap` on a disk-backed pool
 * of 16384 buffers (128 MB, so a large table spills to its files), or `memheap` on a memory-only
 * pool sized by memheapBufferCount. Resolves with the measurements; rejects with the worker's
 * error.
 *
 * @example
 * ```ts
 * const r = await runPgsimSystem("pgsim-memheap", { rows: 100_000 });
 * console.log(r.steps.map((s) => `${s.step} ${s.seconds.toFixed(3)} s`));
 * ```
 */
export async function runPgsimSystem(
  system: "pgsim-heap" | "pgsim-memheap",
  options: PgsimRunOptions,
): Promise<PgsimRunResult> {
  const disk = system === "pgsim-heap";
  const bufferCount = disk ? HEAP_BUFFER_COUNT : memheapBufferCount(options.rows);
  let dataDir: string | undefined;
  if (disk) {
    installHandlers();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-dml-"));
    liveDirs.add(dataDir);
  }
  const spec: PgsimRunSpec = {
    variant: disk ? "disk" : "memory",
    rows: options.rows,
    bufferCount,
    ...(dataDir !== undefined ? { dataDir } : {}),
    checksums: options.checksums === true,
    batchRows: options.batchRows ?? 1000,
  };
  const steps: StepMeasurement[] = [];
  let rssBytes = 0;
  try {
    const worker = startWorker(spec);
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      worker.on("message", (m: WorkerMessage) => {
        if (m.kind === "start") options.onStepStart?.(m.step);
        else if (m.kind === "progress") options.onStepProgress?.(m.step, m.done);
        else if (m.kind === "end") {
          const measurement = { step: m.step, seconds: m.seconds, tableBlocks: m.tableBlocks };
          steps.push(measurement);
          options.onStepEnd?.(measurement);
        } else {
          rssBytes = m.rssBytes;
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
      fs.rmSync(dataDir, { recursive: true, force: true });
      liveDirs.delete(dataDir);
      if (liveDirs.size === 0) uninstallHandlers();
    }
  }
  return { steps, bufferCount, poolBytes: bufferCount * BLCKSZ, rssBytes };
}
