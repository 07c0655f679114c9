/**
 * A backend: the code a worker thread runs for the cluster. It attaches to the database's shared
 * memory on its first task, as a PostgreSQL backend attaches at connection start, and then runs
 * transactions for clients, one at a time.
 *
 * Models: src/backend/tcop/postgres.c (PostgresMain's loop: read a command, run it in a
 * transaction, report the result or the error; an error aborts the transaction and the backend
 * carries on).
 * Entry points: the default export (Piscina's task handler), `runBackendTask` (the same, callable
 * in-process for tests and coverage), `BackendTask`, `Op`, `SessionOp`.
 * See also: cluster.ts (the postmaster and the pooler), database.ts, fault-ops.ts (the
 * fault-injection ops a test may send besides `Op`s, through ../testing.ts).
 *
 * The database's shared handle (`DatabaseShared`: four SharedArrayBuffers and a few numbers)
 * reaches a pooled worker once, as its `workerData` (`BackendWorkerData`), not with every task:
 * cloning the handle's SharedArrayBuffers cost about 2.5 µs per task on the main thread and the
 * worker together, a tenth of a no-op round trip (packages/bench/RESULTS.md, "backends"). A task
 * may still carry `shared` (an in-process caller has no workerData); it then wins.
 *
 * No top-level await: Piscina loads this module with require() under tsx (docs/TOOLCHAIN.md).
 */

import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { threadId, workerData } from "node:worker_threads";
import { PgsimError } from "@pgsim/clock-sweep";
import type { Row, TID } from "../access/heap/heapam.js";
import type { IsolationLevel } from "../access/transam/xact.js";
import { Database, type DatabaseShared, type DatabaseTransaction } from "../database.js";
import type { Datum } from "../utils/adt/type-codec.js";
import { type FaultOp, releaseHeldPins, runFaultOp } from "./fault-ops.js";

/** One operation of a transaction, as plain data (it crosses threads). */
export type Op =
  | { op: "insert"; table: string; values: (Datum | null)[] }
  | { op: "insertMany"; table: string; rows: (Datum | null)[][] }
  | { op: "fetch"; table: string; tid: TID }
  | { op: "scan"; table: string }
  | { op: "update"; table: string; tid: TID; values: (Datum | null)[]; nowait?: boolean }
  | { op: "delete"; table: string; tid: TID; nowait?: boolean }
  | { op: "lockRow"; table: string; tid: TID; nowait?: boolean }
  /** UPDATE table SET col = col + delta WHERE keyColumn = key (a sequential scan). */
  | { op: "addWhere"; table: string; keyColumn: number; key: Datum; column: number; delta: number }
  /**
   * UPDATE table SET col = col + delta (no WHERE): updateAll, compiled (`{ add: delta }`) or
   * through a callback; `pageAtATime: false` forces the per-row path.
   */
  | {
      op: "updateAll";
      table: string;
      column: number;
      delta: number;
      form: "compiled" | "callback";
      pageAtATime?: boolean;
    }
  /** DELETE FROM table (no WHERE): deleteAll; `pageAtATime: false` forces the per-row path. */
  | { op: "deleteAll"; table: string; pageAtATime?: boolean }
  /** DELETE FROM table WHERE keyColumn = key. */
  | { op: "deleteWhere"; table: string; keyColumn: number; key: Datum }
  /** SELECT * FROM table WHERE keyColumn = key. */
  | { op: "selectWhere"; table: string; keyColumn: number; key: Datum }
  /** A statement that fails: a client error in the middle of a transaction. */
  | { op: "fail"; message: string }
  /** Sleep (ms) inside the transaction, holding whatever it holds. */
  | { op: "sleep"; ms: number }
  /** VACUUM a table (outside the transaction's snapshot, as a separate backend would). */
  | { op: "vacuum"; table: string };

/** One step of a session: an op on its open transaction, or the transaction's begin and end. */
export type SessionOp<O = Op> =
  | O
  | { op: "begin"; isolation?: IsolationLevel }
  | { op: "commit" }
  | { op: "abort" };

/**
 * What the worker accepts: the public ops, and the fault-injection ops that only the testing
 * entry (`@pgsim/heap-am/testing`) sends.
 */
type WorkerOp = Op | FaultOp;

/** What a worker started by the cluster receives once, as its `workerData`. */
export interface BackendWorkerData {
  shared: DatabaseShared;
}

/**
 * What a client submits. `shared` is needed only where the worker has no `BackendWorkerData`
 * (an in-process call); the cluster's workers have it. `O` is the kind of op the task carries:
 * `Op` for clients; the worker also takes the testing entry's fault-injection ops.
 */
export type BackendTask<O = Op> =
  | {
      kind: "transaction";
      shared?: DatabaseShared;
      ops: O[];
      isolation?: IsolationLevel;
    }
  | { kind: "function"; shared?: DatabaseShared; module: string; name: string; args: unknown }
  /** A session step: ops on the session's open transaction (begin/commit/abort are ops too). */
  | {
      kind: "session";
      shared?: DatabaseShared;
      ops: SessionOp<O>[];
    }
  /**
   * Attach (at start-up) and report the backend's slot; `preload` names the functions module to
   * load now, as PostgreSQL's session_preload_libraries, so that the first call does not pay for
   * it (a module that fails to load is reported by the call instead).
   */
  | { kind: "whoami"; shared?: DatabaseShared; preload?: string }
  /** The backend exits normally: it detaches, reporting leaked pins. */
  | { kind: "exit"; shared?: DatabaseShared };

/** A PgsimError as data. */
export interface TaskError {
  code: string;
  message: string;
  detail?: unknown;
}

export interface BackendResult {
  /** One result per op (rows, TIDs, booleans, undefined). */
  results: unknown[];
  /** Set when the transaction failed (and was aborted). */
  error?: TaskError;
  procNumber: number;
  threadId: number;
  xid: number;
}

let db: Database | undefined;
let dbShared: DatabaseShared | undefined;
let sessionTx: DatabaseTransaction | undefined;
const functionModules = new Map<string, Record<string, unknown>>();

let tsxRegistered = false;

/**
 * Registers tsx's import hooks in this (built) worker, once, so that it can import a TypeScript
 * functions module. tsx is a development dependency: without it the import fails with Node's
 * "Cannot find package 'tsx'".
 */
async function registerTsx(): Promise<void> {
  if (tsxRegistered) return;
  const specifier = "tsx/esm/api";
  const api = (await import(specifier)) as { register(): unknown };
  api.register();
  tsxRegistered = true;
}

/** A functions module, loaded on first use and kept. */
async function functionModule(file: string): Promise<Record<string, unknown>> {
  let mod = functionModules.get(file);
  if (mod === undefined) {
    // From source, workers run under tsx's require hook (docs/TOOLCHAIN.md): load .ts modules the
    // same way; built modules are plain ES modules. A built worker asked for a .ts module (tests
    // with PGSIM_WORKERS_FROM_BUILD=1, see worker-code.ts) registers tsx's import hooks first;
    // the module's imports of pgsim packages then resolve to the built code this worker runs.
    const ts = file.endsWith(".ts");
    const fromSource = import.meta.url.endsWith(".ts");
    if (ts && !fromSource) await registerTsx();
    mod = (
      ts && fromSource
        ? createRequire(import.meta.url)(file)
        : await import(pathToFileURL(file).href)
    ) as Record<string, unknown>;
    functionModules.set(file, mod);
  }
  return mod;
}

/** The backend's database handle: attached once per thread. */
function backend(task: BackendTask<WorkerOp>): Database {
  const shared = task.shared ?? (workerData as BackendWorkerData | null | undefined)?.shared;
  if (shared === undefined) {
    throw new PgsimError(
      "no-database",
      "the task names no database: pass `shared`, or start the worker with BackendWorkerData",
    );
  }
  // A handle that arrives with a task is a new copy (the memory behind it is the same), so the
  // database is recognised by its id.
  if (db === undefined || dbShared?.id !== shared.id) {
    db = Database.attach(shared);
    dbShared = shared;
  }
  return db;
}

function matches(row: Row, column: number, key: Datum): boolean {
  const v = row[column];
  return v === key || (typeof v === "bigint" && typeof key === "bigint" && v === key);
}

function runOp(d: Database, tx: DatabaseTransaction, op: WorkerOp): unknown {
  switch (op.op) {
    case "insert":
      return tx.insert(op.table, op.values);
    case "insertMany":
      return tx.insertMany(op.table, op.rows);
    case "fetch":
      return tx.fetch(op.table, op.tid);
    case "scan":
      return tx.scan(op.table);
    case "update":
      return tx.update(op.table, op.tid, op.values, { nowait: op.nowait === true });
    case "delete":
      return tx.delete(op.table, op.tid, { nowait: op.nowait === true });
    case "lockRow":
      return tx.lockRow(op.table, op.tid, { nowait: op.nowait === true });
    case "selectWhere":
      return tx
        .scan(op.table)
        .filter((r) => matches(r.row, op.keyColumn, op.key))
        .map((r) => r.row);
    case "addWhere": {
      let updated = 0;
      for (const { tid, row } of tx.scan(op.table)) {
        if (!matches(row, op.keyColumn, op.key)) continue;
        const newTid = tx.update(op.table, tid, (current) => {
          const next = [...current];
          next[op.column] = (current[op.column] as number) + op.delta;
          return next;
        });
        if (newTid !== undefined) updated++;
      }
      return updated;
    }
    case "updateAll": {
      const options = { pageAtATime: op.pageAtATime !== false };
      if (op.form === "compiled") {
        const name = d.table(op.table).desc.attrs.filter((a) => !a.attisdropped)[
          op.column
        ]!.attname;
        return tx.updateAll(op.table, { [name]: { add: op.delta } }, options);
      }
      return tx.updateAll(
        op.table,
        (current) => {
          const next = [...current];
          next[op.column] = (current[op.column] as number) + op.delta;
          return next;
        },
        options,
      );
    }
    case "deleteAll":
      return tx.deleteAll(op.table, { pageAtATime: op.pageAtATime !== false });
    case "deleteWhere": {
      let deleted = 0;
      for (const { tid, row } of tx.scan(op.table)) {
        if (matches(row, op.keyColumn, op.key) && tx.delete(op.table, tid)) deleted++;
      }
      return deleted;
    }
    case "fail":
      throw new PgsimError("client-error", op.message);
    case "sleep":
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, op.ms);
      return undefined;
    case "vacuum":
      return d.vacuum(op.table);
    default:
      return runFaultOp(d, op);
  }
}

function asTaskError(e: unknown): TaskError {
  if (e instanceof PgsimError) {
    return { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  }
  return { code: "internal-error", message: e instanceof Error ? e.message : String(e) };
}

/** Runs one task (the worker's entry point, also callable in-process). */
export async function runBackendTask(task: BackendTask<WorkerOp>): Promise<BackendResult> {
  const d = backend(task);
  const base = { procNumber: d.pool.procNumber, threadId };
  if (task.kind === "whoami") {
    if (task.preload !== undefined) await functionModule(task.preload).catch(() => undefined);
    return { ...base, results: [], xid: 0 };
  }
  if (task.kind === "exit") {
    sessionTx?.abort();
    sessionTx = undefined;
    const report = d.close();
    db = undefined;
    dbShared = undefined;
    return { ...base, results: [report], xid: 0 };
  }
  if (task.kind === "function") {
    const mod = await functionModule(task.module);
    const fn = mod[task.name];
    if (typeof fn !== "function") {
      return {
        ...base,
        results: [],
        xid: 0,
        error: {
          code: "undefined-function",
          message: `function "${task.name}" does not exist in ${task.module}`,
        },
      };
    }
    try {
      return { ...base, results: [await fn(d, task.args)], xid: 0 };
    } catch (e) {
      return { ...base, results: [], xid: 0, error: asTaskError(e) };
    }
  }
  if (task.kind === "session") {
    const results: unknown[] = [];
    try {
      for (const op of task.ops) {
        if (op.op === "begin") {
          sessionTx = d.begin(op.isolation ? { isolation: op.isolation } : {});
          results.push(undefined);
        } else if (op.op === "commit" || op.op === "abort") {
          if (sessionTx === undefined)
            throw new PgsimError("no-transaction", "there is no transaction in progress");
          const xid = sessionTx.xid;
          if (op.op === "commit") sessionTx.commit();
          else sessionTx.abort();
          sessionTx = undefined;
          releaseHeldPins(d);
          results.push(xid);
        } else if (op.op === "vacuum") {
          // VACUUM runs outside any transaction block, as in PostgreSQL.
          if (sessionTx !== undefined) {
            throw new PgsimError(
              "active-transaction",
              "VACUUM cannot run inside a transaction block",
            );
          }
          results.push(d.vacuum(op.table));
        } else {
          if (sessionTx === undefined || sessionTx.state !== "in progress") {
            throw new PgsimError("no-transaction", "there is no transaction in progress");
          }
          results.push(runOp(d, sessionTx, op));
        }
      }
      return { ...base, results, xid: sessionTx?.xid ?? 0 };
    } catch (e) {
      const xid = sessionTx?.xid ?? 0;
      sessionTx?.abort();
      sessionTx = undefined;
      return { ...base, results, xid, error: asTaskError(e) };
    }
  }
  const tx = d.begin(task.isolation ? { isolation: task.isolation } : {});
  const results: unknown[] = [];
  try {
    for (const op of task.ops) results.push(runOp(d, tx, op));
    const xid = tx.xid;
    tx.commit();
    return { ...base, results, xid };
  } catch (e) {
    const xid = tx.xid;
    tx.abort();
    return { ...base, results, xid, error: asTaskError(e) };
  } finally {
    // A pin held on purpose by a fault-test op is not leaked past the task unless the worker dies.
    releaseHeldPins(d);
  }
}

export default runBackendTask;
