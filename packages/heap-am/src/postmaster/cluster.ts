/**
 * The cluster: the postmaster that creates the shared memory, starts backend worker threads, and
 * the pooler that queues clients onto them, first in first out.
 *
 * Models: src/backend/postmaster/postmaster.c (create shared memory once, start a backend per
 * connection, notice a backend's death and clean up after it, shut down with a checkpoint) and a
 * transaction-mode connection pooler in front of it (PgBouncer, PgCat): many clients, few
 * backends, each transaction runs whole on one backend.
 * Entry points: `Cluster.start`, `Cluster.transaction`, `Cluster.call`, `Cluster.connect`
 * (a dedicated backend: a Session), `Cluster.shutdown`.
 * See also: backend-worker.ts (what each worker runs), database.ts, transam.ts and
 * @pgsim/buffer-manager's recoverBackend (the cleanup after a dead backend).
 *
 * When a worker dies (terminated, or crashed with process.exit), Piscina reports it and starts a
 * replacement; the cluster looks up the backend slots that thread held and releases them: its
 * transaction is marked aborted (its changes become invisible, its row locks end) and its pins
 * and content locks, recorded in its shared ledger, are released. Other backends notice at most
 * a wait.
 *
 * Differs from PostgreSQL: a crashed backend makes PostgreSQL restart every backend and reset
 * shared memory (crash recovery from WAL); pgsim, which has no WAL, cleans up just the dead
 * backend. Backends are threads, not processes.
 */

import { fileURLToPath } from "node:url";
import { attachedBackends, PgsimError } from "@pgsim/buffer-manager";
import { Piscina } from "piscina";
import type { IsolationLevel } from "../access/transam/xact.js";
import {
  Database,
  type DatabaseOptions,
  type DatabaseShared,
  type OpenOptions,
  type StartupResult,
} from "../database.js";
import type { BackendResult, BackendTask, BackendWorkerData, Op } from "./backend-worker.js";
import { withoutSourceCondition, workerModule } from "./worker-code.js";

export interface ClusterOptions extends DatabaseOptions {
  /** How many backend worker threads the pooler runs (default 2). */
  backends?: number;
  /**
   * A module (path or file URL) whose named exports `(db: Database, args) => result` clients can
   * call with `call(name, args)`; each runs on a backend with its own transactions.
   */
  functionsModule?: string;
}

/** What recovery released for a backend whose worker died. */
export interface BackendRecovery {
  threadId: number;
  procNumber: number;
  abortedXid: number;
  releasedPins: number;
  releasedLocks: number;
  abortedIo: number;
}

/**
 * The worker's file and Node options: the built .js next to this file; from source, the .ts
 * through tsx, or the built twin when PGSIM_WORKERS_FROM_BUILD=1 (worker-code.ts: tests do this
 * after building, since a worker under tsx takes seconds to start).
 */
function workerOptions(): { filename: string; execArgv?: string[] } {
  const filename = fileURLToPath(workerModule(import.meta.url, "backend-worker"));
  if (!filename.endsWith(".ts")) {
    // Built code; or source code with the built worker, whose imports must then resolve to the
    // built packages too.
    return import.meta.url.endsWith(".ts")
      ? { filename, execArgv: withoutSourceCondition(process.execArgv) }
      : { filename };
  }
  const underTsx = process.execArgv.some((a) => a.includes("tsx"));
  const extra = underTsx ? ["--conditions=source"] : ["--import", "tsx", "--conditions=source"];
  return { filename, execArgv: [...process.execArgv, ...extra] };
}

/** Turns a task's error back into a typed error on the client side. */
function raise(result: BackendResult): BackendResult {
  if (result.error) {
    throw new PgsimError(result.error.code, result.error.message, {
      ...(result.error.detail !== undefined ? { detail: result.error.detail } : {}),
      procNumber: result.procNumber,
      xid: result.xid,
    });
  }
  return result;
}

/** A client's dedicated backend (a direct connection, no pooler): keeps its transaction open between calls. */
export class Session {
  private readonly cluster: Cluster;
  private readonly pool: Piscina;

  /** @internal */
  constructor(cluster: Cluster, pool: Piscina) {
    this.cluster = cluster;
    this.pool = pool;
  }

  /** Runs ops (and begin / commit / abort) on this session's backend. Errors come back as PgsimError. */
  async run(ops: Parameters<Cluster["runSession"]>[1]): Promise<unknown[]> {
    return raise(await this.cluster.runSession(this.pool, ops)).results;
  }

  /** The same, returning the raw result (error included) instead of throwing. */
  runRaw(ops: Parameters<Cluster["runSession"]>[1]): Promise<BackendResult> {
    return this.cluster.runSession(this.pool, ops);
  }

  /** The backend's slot number and thread. */
  async whoami(): Promise<{ procNumber: number; threadId: number }> {
    const r = await this.pool.run({ kind: "whoami" } satisfies BackendTask);
    return { procNumber: r.procNumber, threadId: r.threadId };
  }

  /** Terminates the backend's thread at once (as kill -9 would), wherever it is. */
  async terminate(): Promise<void> {
    await this.cluster.endSession(this.pool, false);
  }

  /** Ends the session normally: the backend detaches itself (a leaked pin is reported). */
  async close(): Promise<void> {
    await this.cluster.endSession(this.pool, true);
  }
}

/**
 * A running pgsim cluster: shared memory, N backend workers behind a FIFO pooler, and dedicated
 * sessions on request.
 *
 * Faults: `cluster.db.injectFault(rule)` arms a storage fault that every backend applies (the
 * fault table is shared memory, counted over all backends); `ClusterOptions.faults` and
 * `Cluster.open(dir, { faults })` arm rules from the start. After a PANIC every call fails with
 * code "crash-shutdown", `shutdown()` writes nothing, and `Cluster.open` runs crash recovery
 * (test/fault-run.test.ts does this under load).
 *
 * @example
 * ```ts
 * const cluster = await Cluster.start({ variant: "memory", bufferCount: 1024, backends: 2 });
 * cluster.db.createTable("t", [{ name: "id", type: "int4" }]);
 * await cluster.transaction([{ op: "insert", table: "t", values: [1] }]);
 * await cluster.shutdown();
 * ```
 */
export class Cluster {
  readonly shared: DatabaseShared;
  /** The postmaster's own backend, for DDL, checks and the shutdown checkpoint. */
  readonly db: Database;
  readonly backends: number;
  /** Cleanups done after dead backends, oldest first. */
  readonly recoveries: BackendRecovery[] = [];
  private readonly pooler: Piscina;
  private readonly sessions = new Set<Piscina>();
  private readonly functionsModule: string | undefined;
  private stopped = false;
  private stopping = false;

  private constructor(db: Database, options: Pick<ClusterOptions, "backends" | "functionsModule">) {
    this.db = db;
    this.shared = db.shared;
    this.backends = options.backends ?? 2;
    this.functionsModule = options.functionsModule;
    this.pooler = this.newPool(this.backends);
  }

  private static checkBackends(backends: number): void {
    if (!Number.isInteger(backends) || backends < 1 || backends > 256) {
      throw new PgsimError(
        "invalid-option",
        `backends must be an integer from 1 to 256, got ${String(backends)}`,
      );
    }
  }

  /** Creates the shared memory (and, disk-backed with WAL, the data directory) and starts the backends. */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const backends = options.backends ?? 2;
    Cluster.checkBackends(backends);
    const db = Database.create({ maxBackends: Math.max(64, backends * 2 + 16), ...options });
    return Cluster.launch(db, options, backends);
  }

  /**
   * Starts on an existing data directory (pg_ctl start): crash recovery first if it was not shut
   * down cleanly, or, for a memory-only snapshot directory, its newest valid snapshot loaded (see
   * Database.open), then the backends.
   */
  static async open(
    dataDir: string,
    options: OpenOptions & Pick<ClusterOptions, "backends" | "functionsModule"> = {},
  ): Promise<Cluster> {
    const backends = options.backends ?? 2;
    Cluster.checkBackends(backends);
    const { backends: _b, functionsModule: _f, ...open } = options;
    const db = Database.open(dataDir, { maxBackends: Math.max(64, backends * 2 + 16), ...open });
    return Cluster.launch(db, options, backends);
  }

  /** The startup report of the database (recovery), when it has WAL. */
  get startupReport(): StartupResult | undefined {
    return this.db.startupReport;
  }

  private static async launch(
    db: Database,
    options: Pick<ClusterOptions, "backends" | "functionsModule">,
    backends: number,
  ): Promise<Cluster> {
    const cluster = new Cluster(db, options);
    // Attach every backend now, as connections would at start-up, and load the functions module
    // there (session_preload_libraries), so that no call's timing includes loading it.
    const preload = options.functionsModule;
    await Promise.all(
      Array.from({ length: backends }, () =>
        cluster.pooler.run({
          kind: "whoami",
          ...(preload !== undefined ? { preload } : {}),
        } satisfies BackendTask),
      ),
    );
    return cluster;
  }

  private newPool(threads: number): Piscina {
    const pool = new Piscina({
      ...workerOptions(),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // First in, first out, one transaction at a time per backend. Without stricterFIFO, Piscina
      // moves the task behind the one it just dispatched to the tail of its queue each time a
      // backend frees up: with one backend and 16 clients, a transaction then waited up to
      // seconds while the median waited 0.5 ms (packages/bench/RESULTS.md, "backends").
      concurrentTasksPerWorker: 1,
      stricterFIFO: true,
      // The shared handle goes to each worker once (and to a replacement when one dies); tasks
      // then carry only their own arguments (see backend-worker.ts).
      workerData: { shared: this.shared } satisfies BackendWorkerData,
    });
    pool.on("workerDestroy", () => this.reapDeadBackends());
    pool.on("error", () => {});
    return pool;
  }

  /** The threads of every live backend worker (the main thread, 0, always counts as live). */
  private liveThreads(): Set<number> {
    const live = new Set<number>([0]);
    if (this.stopping) return live;
    for (const pool of [this.pooler, ...this.sessions]) {
      for (const worker of pool.threads) if (worker.threadId >= 0) live.add(worker.threadId);
    }
    return live;
  }

  /**
   * The postmaster's reaper (reaper() / CleanupBackend): every backend slot whose thread is gone
   * is cleaned up. A worker's threadId is unreadable once it has exited, so the slots are matched
   * against the threads still alive.
   */
  private reapDeadBackends(): void {
    const live = this.liveThreads();
    for (const { procNumber, threadId: thread } of attachedBackends(this.shared.pool)) {
      if (live.has(thread)) continue;
      const r = Database.recoverBackend(this.shared, procNumber);
      this.recoveries.push({
        threadId: thread,
        procNumber,
        abortedXid: r.abortedXid,
        releasedPins: r.leakedPins.length,
        releasedLocks: r.releasedLocks,
        abortedIo: r.abortedIo,
      });
    }
  }

  private check(): void {
    if (this.stopped) throw new PgsimError("cluster-stopped", "the cluster has been shut down");
  }

  /** Runs a transaction (a list of ops) on the next free backend. Errors come back as PgsimError. */
  async transaction(ops: Op[], options: { isolation?: IsolationLevel } = {}): Promise<unknown[]> {
    return raise(await this.transactionRaw(ops, options)).results;
  }

  /** The same, returning the result (with `error` when the transaction failed) instead of throwing. */
  async transactionRaw(
    ops: Op[],
    options: { isolation?: IsolationLevel } = {},
  ): Promise<BackendResult> {
    this.check();
    const task: BackendTask = {
      kind: "transaction",
      ops,
      ...(options.isolation ? { isolation: options.isolation } : {}),
    };
    return (await this.pooler.run(task)) as BackendResult;
  }

  /** Calls a function of the functions module on the next free backend. */
  async call<T = unknown>(name: string, args?: unknown): Promise<T> {
    this.check();
    if (this.functionsModule === undefined) {
      throw new PgsimError(
        "no-functions-module",
        "the cluster was started without a functionsModule",
      );
    }
    const result = (await this.pooler.run({
      kind: "function",
      module: this.functionsModule,
      name,
      args,
    } satisfies BackendTask)) as BackendResult;
    return raise(result).results[0] as T;
  }

  /** A dedicated backend that keeps its transaction open between calls (isolation tests, faults). */
  async connect(): Promise<Session> {
    this.check();
    const pool = this.newPool(1);
    this.sessions.add(pool);
    await pool.run({ kind: "whoami" } satisfies BackendTask);
    return new Session(this, pool);
  }

  /** @internal used by Session: ends a session's worker, normally or not, and reaps it. */
  async endSession(pool: Piscina, normal: boolean): Promise<void> {
    if (!this.sessions.has(pool)) return;
    if (normal) {
      await pool.run({ kind: "exit" } satisfies BackendTask).catch(() => undefined);
    }
    this.sessions.delete(pool);
    await pool.destroy();
    this.reapDeadBackends();
  }

  /** @internal used by Session */
  async runSession(
    pool: Piscina,
    ops: Extract<BackendTask, { kind: "session" }>["ops"],
  ): Promise<BackendResult> {
    this.check();
    return (await pool.run({
      kind: "session",
      ops,
    } satisfies BackendTask)) as BackendResult;
  }

  /** Queue statistics of the pooler (waiting clients, completed transactions, run time). */
  get poolerStats() {
    return {
      queued: this.pooler.queueSize,
      completed: this.pooler.completed,
      threads: this.pooler.threads.length,
    };
  }

  /**
   * Shuts down: the backends stop (anything they still held is released and reported), then a
   * checkpoint writes every dirty page (disk-backed), and the postmaster's own backend detaches.
   */
  async shutdown(): Promise<{ leaks: BackendRecovery[] }> {
    if (this.stopped) return { leaks: [] };
    const before = this.recoveries.length;
    await Promise.all([...this.sessions].map((p) => this.endSession(p, true)));
    this.stopping = true;
    await this.pooler.destroy();
    this.stopped = true;
    // Every worker is gone now: whatever a backend still held is released and reported.
    this.reapDeadBackends();
    const leaks = this.recoveries
      .slice(before)
      .filter((r) => r.releasedPins > 0 || r.releasedLocks > 0 || r.abortedXid !== 0);
    // ShutdownXLOG: the shutdown checkpoint (with WAL) or snapshot (memory-only with snapshot
    // persistence), or a plain checkpoint (disk, no WAL).
    if (this.db.shared.xlog !== undefined || this.db.shared.snapshot !== undefined) {
      this.db.shutdown();
    } else {
      if (this.db.variant === "disk") this.db.checkpoint();
      this.db.close();
    }
    return { leaks };
  }
}
