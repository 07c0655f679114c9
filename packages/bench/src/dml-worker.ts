/**
 * The worker thread that runs `pgsim-bench dml`'s four statements on one pgsim database, so that
 * the main thread stays free to draw progress and to clean up on Ctrl-C.
 *
 * Measures: the wall time of each statement, from `db.begin()` to `commit()` (VACUUM: the call),
 * with `performance.now()` inside this thread; the table's size in blocks after each; and the
 * process's resident set size after the last statement, before the database is closed.
 * Entry points: none to import; started by dml-pgsim.ts with a `PgsimRunSpec` as workerData.
 * See also: dml-pgsim.ts (protocol and pool sizing), dml.ts, ../README.md.
 *
 * Messages to the parent (`WorkerMessage`): "start" and "end" per step, "progress" at most every
 * PROGRESS_INTERVAL_MS, "done" at the end. An error ends the worker with an 'error' event.
 *
 * Models: pgsim only (the worker thread that times pgsim's statements).
 */

import { parentPort, workerData } from "node:worker_threads";
import { Database, type Row } from "@pgsim/heap-am";
import type { DmlStep } from "./dml-common.js";
import type { PgsimRunSpec, WorkerMessage } from "./dml-pgsim.js";

/** accounts(aid int4 not null, abalance int4 not null), as pgbench's accounts minus filler. */
const ACCOUNTS_COLUMNS = [
  { name: "aid", type: "int4", notNull: true },
  { name: "abalance", type: "int4", notNull: true },
];
const PROGRESS_INTERVAL_MS = 200;

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

/** Runs one statement, timing it and reporting progress; returns nothing (see the messages). */
function step(
  db: Database,
  name: DmlStep,
  body: (onProgress: (done: number) => void) => number,
): void {
  post({ kind: "start", step: name });
  let last = 0;
  const onProgress = (done: number): void => {
    const now = performance.now();
    if (now - last < PROGRESS_INTERVAL_MS) return;
    last = now;
    post({ kind: "progress", step: name, done });
  };
  const t0 = performance.now();
  const rowsAffected = body(onProgress);
  const seconds = (performance.now() - t0) / 1000;
  post({
    kind: "end",
    step: name,
    seconds,
    rowsAffected,
    tableBlocks: db.nblocks("accounts"),
  });
}

/** The statements, in order: INSERT, UPDATE abalance + 1, DELETE, VACUUM. */
function run(spec: PgsimRunSpec): void {
  const db = Database.create({
    variant: spec.variant,
    bufferCount: spec.bufferCount,
    ...(spec.dataDir !== undefined ? { dataDir: spec.dataDir } : {}),
    checksums: spec.checksums,
  });
  try {
    db.createTable("accounts", ACCOUNTS_COLUMNS);
    step(db, "insert", (onProgress) => {
      const tx = db.begin();
      const n = tx.insertBatches(
        "accounts",
        spec.rows,
        (first, count) => {
          const rows: Row[] = new Array(count);
          for (let i = 0; i < count; i++) rows[i] = [first + i + 1, 0];
          return rows;
        },
        { batchRows: spec.batchRows, onProgress },
      );
      tx.commit();
      return n;
    });
    step(db, "update", (onProgress) => {
      const tx = db.begin();
      const n = tx.updateAll("accounts", (row) => [row[0]!, (row[1] as number) + 1], {
        onProgress,
      });
      tx.commit();
      return n;
    });
    step(db, "delete", (onProgress) => {
      const tx = db.begin();
      const n = tx.deleteAll("accounts", { onProgress });
      tx.commit();
      return n;
    });
    step(db, "vacuum", () => {
      db.vacuum("accounts");
      return spec.rows;
    });
    post({ kind: "done", rssBytes: process.memoryUsage().rss });
  } finally {
    db.close();
  }
}

run(workerData as PgsimRunSpec);
