/**
 * The worker thread that runs `pgsim-bench dml`'s four statements on one pgsim database, so that
 * the main thread stays free to draw progress and to clean up on Ctrl-C.
 *
 * Measures: the wall time of each statement, from `db.begin()` to `commit()` (VACUUM: the call),
 * with `performance.now()` inside this thread; the table's size in blocks after each; and the
 * process's resident set size after the last statement, before the database is closed. With WAL,
 * the commit includes its WAL flush and, when one is due (by max_wal_size or
 * checkpoint_timeout), the checkpoint pgsim runs in the committing backend (it has no
 * checkpointer process: heap-am's database/checkpoint.ts).
 * Entry points: none to import; started by dml-pgsim.ts with a `PgsimRunSpec` as workerData.
 * See also: dml-pgsim.ts (protocol and pool sizing), dml.ts, ../README.md.
 *
 * Messages to the parent (`WorkerMessage`): "start" and "end" per step, "progress" at most every
 * PROGRESS_INTERVAL_MS, "measured" after the last step, "done" once the database is closed (or,
 * with `spec.shutdown`, shut down cleanly: the data directory is then left for the parent's
 * caller). An error ends the worker with an 'error' event.
 *
 * Models: pgsim only (the worker thread that times pgsim's statements).
 */

import { parentPort, workerData } from "node:worker_threads";
import { ForkNumber, relationPath } from "@pgsim/buffer-manager";
import { Database } from "@pgsim/heap-am";
import type { DmlStep } from "./dml-common.js";
import type { PgsimRunSpec, PgsimShutdown, WorkerMessage } from "./dml-pgsim.js";

/** accounts(aid int4 not null, abalance int4 not null), as pgbench's accounts minus filler. */
const ACCOUNTS_COLUMNS = [
  { name: "aid", type: "int4", notNull: true },
  { name: "abalance", type: "int4", notNull: true },
];
const PROGRESS_INTERVAL_MS = 200;

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

/** An LSN as PostgreSQL prints it: "0/1A2B3C4". */
function lsnText(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Runs one statement, timing it and reporting progress, if `spec.steps` names it; returns
 * nothing (see the messages).
 */
function step(
  db: Database,
  spec: PgsimRunSpec,
  name: DmlStep,
  body: (onProgress: (done: number) => void) => number,
): void {
  if (!spec.steps.includes(name)) return;
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

/** The statements, in order: INSERT, UPDATE abalance + 1, DELETE, VACUUM (those spec.steps names). */
function run(spec: PgsimRunSpec): void {
  const db = Database.create({
    variant: spec.variant,
    bufferCount: spec.bufferCount,
    ...(spec.dataDir !== undefined ? { dataDir: spec.dataDir } : {}),
    checksums: spec.checksums,
    ...(spec.wal !== undefined ? { wal: true, ...spec.wal } : {}),
  });
  try {
    db.createTable("accounts", ACCOUNTS_COLUMNS, {
      ...(spec.unlogged ? { unlogged: true } : {}),
      ...(spec.primaryKey ? { primaryKey: ["aid"] } : {}),
    });
    step(db, spec, "insert", (onProgress) => {
      const tx = db.begin();
      // The rows column by column, as COPY BINARY would carry them: aid = first + i + 1 and
      // abalance = 0 in two Int32Arrays reused from batch to batch, so that the heap forms each
      // tuple straight into its page (byte-identical to the row form: heap-am's
      // multi-insert-columns-identity test).
      let aid = new Int32Array(0);
      let abalance = new Int32Array(0);
      const n = tx.insertBatches(
        "accounts",
        spec.rows,
        (first, count) => {
          if (aid.length < count) {
            aid = new Int32Array(count);
            abalance = new Int32Array(count);
          }
          for (let i = 0; i < count; i++) aid[i] = first + i + 1;
          return { columns: [aid.subarray(0, count), abalance.subarray(0, count)] };
        },
        { batchRows: spec.batchRows, onProgress },
      );
      tx.commit();
      return n;
    });
    step(db, spec, "update", (onProgress) => {
      const tx = db.begin();
      // UPDATE accounts SET abalance = abalance + 1, compiled (no callback per row).
      const n = tx.updateAll("accounts", { abalance: { add: 1 } }, { onProgress });
      tx.commit();
      return n;
    });
    step(db, spec, "delete", (onProgress) => {
      const tx = db.begin();
      const n = tx.deleteAll("accounts", { onProgress });
      tx.commit();
      return n;
    });
    step(db, spec, "vacuum", () => {
      db.vacuum("accounts");
      return spec.rows;
    });
    post({ kind: "measured", rssBytes: process.memoryUsage().rss });
  } catch (e) {
    // The parent cleans the directory up. An error of close() after a failure must not hide the
    // failure, which is what the user needs to see.
    try {
      db.close();
    } catch (closeError) {
      console.error(`(closing the database after the failure also failed: ${String(closeError)})`);
    }
    throw e;
  }
  // A kept directory gets a clean shutdown (the shutdown checkpoint, pg_control "shut down");
  // a temporary one is only closed.
  if (!spec.shutdown) db.close();
  let shutdown: PgsimShutdown | undefined;
  if (spec.shutdown && spec.dataDir !== undefined) {
    const tableFile = relationPath(db.table("accounts").locator, ForkNumber.MAIN);
    const report = db.shutdown();
    if (report !== undefined) {
      shutdown = {
        dataDir: spec.dataDir,
        checkpointLsn: lsnText(report.lsn),
        redoLsn: lsnText(report.redo),
        tableFile,
      };
    }
  }
  post({ kind: "done", ...(shutdown !== undefined ? { shutdown } : {}) });
}

run(workerData as PgsimRunSpec);
