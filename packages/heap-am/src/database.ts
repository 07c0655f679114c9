/**
 * A small database for experiments: open one on a disk-backed or memory-only buffer pool, create
 * tables, and run transactions that insert, update, delete, fetch and scan rows; vacuum; look at
 * live pages the way pageinspect, pg_freespacemap and pg_visibility do.
 *
 * Models: PostgreSQL's DDL and utility commands on one table over the table AM interface:
 * CREATE TABLE … USING (commands/tablecmds.c DefineRelation, heap_create_with_catalog's
 * table_relation_set_new_filenode), DROP TABLE, TRUNCATE (ExecuteTruncateGuts: a new
 * relfilenode), VACUUM and CHECKPOINT; the relcache's per-backend relation entries
 * (RelationIdGetRelation); BEGIN. The statements themselves are in database/transaction.ts.
 * Entry points: `Database` (`create`, `attach`, `createTable`, `begin`, `vacuum`, `checkpoint`,
 * introspection), `DatabaseTransaction`.
 * See also: database/shmem.ts (shared memory and attaching), database/transaction.ts (the
 * statements), database/introspect.ts (live pages), tableam.ts, catalog.ts, README.md.
 *
 * Each Database object is one backend: it attaches to the shared memory (buffer pool, commit log
 * and proc array, catalog) and runs one transaction at a time. Worker threads attach with
 * `Database.attach(db.shared)`.
 *
 * Differs from PostgreSQL: no SQL; a statement is one method call; DDL is not transactional; no
 * relation-level locks (two VACUUMs of one table at once can fail on a cleanup lock).
 */

import {
  attachedBackends,
  type BufferPool,
  type BufferUsage,
  type DetachReport,
  type FaultRule,
  type FaultRuleState,
  ForkNumber,
  PgsimError,
} from "@pgsim/buffer-manager";
import { HEAP_MIN_FILLFACTOR } from "./access/heap/hio.js";
import { VisibilityMap } from "./access/heap/visibilitymap.js";
import type { IndexRelation } from "./access/index/amapi.js";
import { indexBuild, indexOpen } from "./access/index/indexam.js";
import type { BtIndexRelation } from "./access/nbtree/nbtree.js";
import { btRel } from "./access/nbtree/nbtree-am.js";
import type { BtBuildResult } from "./access/nbtree/nbtsort.js";
import {
  type BtCheckOptions,
  type BtCheckResult,
  btIndexCheck,
} from "./access/nbtree/verify-nbtree.js";
import {
  buildTableRelation,
  getTableAm,
  relationNeedsWal,
  type TableAmContext,
  type TableRelation,
  tableCheckUsable,
  tableRelationDrop,
  tableRelationSetNewFilenode,
  tableRelationVacuum,
} from "./access/table/tableam.js";
import { writeCommitLogFiles } from "./access/transam/clog.js";
import type { Transam } from "./access/transam/transam.js";
import { type IsolationLevel, Transaction } from "./access/transam/xact.js";
import type {
  Catalog,
  CatalogColumn,
  IndexColumnDefinition,
  IndexDefinition,
  TableDefinition,
} from "./catalog/catalog.js";
import { relationCreateStorage } from "./catalog/storage.js";
import {
  type CheckpointBackend,
  type CheckpointReport,
  checkpointDue,
  createCheckPoint,
  setXLogState,
  XLogState,
  xlogState,
} from "./database/checkpoint.js";
import {
  liveBtMetap,
  liveBtPageItems,
  liveBtPageStats,
  liveFreeSpace,
  liveHeapPageItems,
  liveIndexPages,
  livePageHeaders,
  liveVisibilityMap,
} from "./database/introspect.js";
import {
  attachBackend,
  createDatabaseShared,
  type DatabaseOptions,
  type DatabaseShared,
  forgetWalWriter,
  type OpenOptions,
  openDatabaseShared,
  recoverDeadBackend,
  registerSnapshotFaults,
  snapshotLoadReportOf,
  startupResultOf,
} from "./database/shmem.js";
import {
  type SnapshotLoadReport,
  type SnapshotReason,
  type SnapshotReport,
  takeSnapshot,
} from "./database/snapshot.js";
import {
  noteChange,
  quiesceRelease,
  quiesceShare,
  SnapshotState,
  setSnapshotState,
  snapshotDue,
  snapshotState,
} from "./database/snapshot-lock.js";
import type { StartupResult } from "./database/startup.js";
import { DatabaseTransaction } from "./database/transaction.js";
import {
  type BufferCacheRelationRow,
  bufferCacheByRelation,
  type StatioUserTablesRow,
  type StatUserTablesRow,
  statioUserTablesRow,
  statUserTablesRow,
} from "./database-stats.js";
import { BTREE_DEFAULT_FILLFACTOR, BTREE_MIN_FILLFACTOR } from "./include/access/nbtree.js";
import type { VacuumIndex, VacuumOptions, VacuumResult } from "./include/commands/vacuum.js";
import type { BtMetapRow, BtPageItemRow, BtPageStatsRow } from "./inspect/btree.js";
import type { FreeSpaceRow } from "./inspect/fsm.js";
import type { HeapPageItemsBlock } from "./inspect/heap-page-items.js";
import type { PageHeaderRow } from "./inspect/page-header.js";
import type { VisibilityMapRow } from "./inspect/vm.js";
import type { PgStat } from "./utils/activity/pgstat.js";
import { buildRelation } from "./utils/cache/rel.js";

export type { CheckpointReport } from "./database/checkpoint.js";
export type { DatabaseOptions, DatabaseShared, OpenOptions } from "./database/shmem.js";
export type {
  RefusedSnapshot,
  SnapshotLoadReport,
  SnapshotReason,
  SnapshotReport,
} from "./database/snapshot.js";
export type { StartupResult } from "./database/startup.js";
export {
  type BulkStatementOptions,
  DatabaseTransaction,
  type IndexScanOptions,
  type IndexWhereKey,
  type InsertBatchesOptions,
  type RowChangeOptions,
  type RowLockMode,
  type RowLockOptions,
  type RowWithTid,
  type TransactionBackend,
  type UpdateAssignment,
  type UpdateSet,
} from "./database/transaction.js";

/** An armed fault (`Database.injectFault`). */
export interface FaultHandle {
  readonly id: number;
  /** Matching calls seen since it was armed. */
  hits(): number;
  /** Calls the fault was applied to. */
  fired(): number;
  /** Disarms it. */
  remove(): void;
}

/** Options of CREATE TABLE. */
export interface CreateTableOptions {
  /** Table access method; defaults to "heap" on a disk-backed database, "memheap" on memory. */
  am?: string;
  /** Heap fillfactor, 10..100 (default 100). */
  fillfactor?: number;
  /**
   * Deprecated (from before pgsim had indexes): columns declared "indexed" with no index behind
   * them; updating one is never HOT. Nothing is indexed: use `primaryKey` or `createIndex`,
   * whose key columns decide HOT.
   */
  indexedColumns?: string[];
  /** Deprecated: declared key columns (updating one sets HEAP_KEYS_UPDATED); see indexedColumns. */
  keyColumns?: string[];
  /**
   * PRIMARY KEY (columns): the columns become NOT NULL and a unique B-tree index
   * `<table>_pkey` is created on them.
   */
  primaryKey?: string[];
  /**
   * CREATE UNLOGGED TABLE: the table's changes are not written to the WAL (faster, and emptied
   * by crash recovery). Only meaningful for a database with WAL.
   */
  unlogged?: boolean;
}

/** Options of CREATE INDEX (`Database.createIndex`). */
export interface CreateIndexOptions {
  /**
   * Key columns in order. A name is ASC NULLS LAST; `{ name, desc: true }` is DESC (NULLS FIRST
   * unless `nullsFirst: false`); `nullsFirst` overrides either default.
   */
  columns: (string | IndexColumnDefinition)[];
  /** CREATE UNIQUE INDEX: the build fails on duplicate keys (NULLs never conflict). */
  unique?: boolean;
  /** WITH (fillfactor = n): how full the build packs leaf pages, 10..100 (default 90). */
  fillfactor?: number;
  /** WITH (deduplicate_items = off) turns posting lists off (default on). */
  deduplicateItems?: boolean;
}

/** What CREATE INDEX did. */
export interface CreateIndexResult extends BtBuildResult {
  readonly definition: IndexDefinition;
}

/**
 * One backend on a pgsim database.
 *
 * @example
 * ```ts
 * const db = Database.create({ variant: "memory", bufferCount: 1024 });
 * db.createTable("accounts", [
 *   { name: "aid", type: "int4", notNull: true },
 *   { name: "abalance", type: "int4", notNull: true },
 * ]);
 * const tx = db.begin();
 * const tid = tx.insert("accounts", [1, 100]);
 * tx.update("accounts", tid, (row) => [row[0], (row[1] as number) + 1]);
 * tx.commit();
 * ```
 */
export class Database {
  readonly shared: DatabaseShared;
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly catalog: Catalog;
  private readonly ctx: TableAmContext;
  private readonly pgstat: PgStat;
  private readonly relations = new Map<number, TableRelation>();
  private readonly indexRelations = new Map<number, IndexRelation>();
  /** Each table's invalidation count as this backend last processed it. */
  private readonly invalidationsSeen = new Map<number, number>();
  private current: DatabaseTransaction | undefined;
  private closed = false;
  /** The snapshot timer of the backend that created or opened a snapshot database. */
  private snapshotTimer: ReturnType<typeof setInterval> | undefined;
  private lastSnapshotReport: SnapshotReport | undefined;
  private lastSnapshotFailure: Error | undefined;
  /** Stops this thread applying the fault table to the snapshot directory (when it closes). */
  private readonly unregisterSnapshotFaults: () => void;
  /**
   * With snapshot persistence: runs a change holding the quiesce lock in share mode (see
   * TransactionBackend.quiesce). Undefined for every other database, so that their statements
   * pay nothing for it.
   */
  readonly quiesce:
    | (<T>(kind: "statement" | "end", changed: boolean, body: () => T) => T)
    | undefined;

  private constructor(shared: DatabaseShared) {
    this.shared = shared;
    const backend = attachBackend(shared);
    this.pool = backend.pool;
    this.transam = backend.transam;
    this.catalog = backend.catalog;
    this.ctx = backend.ctx;
    this.pgstat = backend.pgstat;
    this.unregisterSnapshotFaults = registerSnapshotFaults(shared);
    const settings = shared.snapshot;
    const me = this.pool.procNumber;
    this.quiesce =
      settings === undefined
        ? undefined
        : <T>(kind: "statement" | "end", changed: boolean, body: () => T): T => {
            quiesceShare(settings, me, kind);
            try {
              return body();
            } finally {
              if (changed) noteChange(settings);
              quiesceRelease(settings, me);
            }
          };
  }

  /** Runs DDL or VACUUM inside the snapshot quiesce lock, if the database has one. */
  private changing<T>(body: () => T): T {
    return this.cleaningUpOnError(() =>
      this.quiesce === undefined ? body() : this.quiesce("statement", true, body),
    );
  }

  /**
   * Runs a command outside any transaction of the caller's (VACUUM, CHECKPOINT, CREATE INDEX, …);
   * if it fails, the content locks, buffer I/O and pins it left held are released, as
   * AbortTransaction (or the checkpointer's error recovery) releases them, so that the backend's
   * next statement starts clean.
   */
  private cleaningUpOnError<T>(body: () => T): T {
    const mark = this.pool.resourceMark();
    try {
      return body();
    } catch (e) {
      this.pool.errorCleanup(mark);
      throw e;
    }
  }

  /** Starts the snapshot timer of the thread that created or opened a snapshot database. */
  private startSnapshotTimer(): this {
    const settings = this.shared.snapshot;
    if (settings === undefined || settings.intervalMs <= 0) return this;
    const period = Math.max(10, Math.min(settings.intervalMs, 1000));
    this.snapshotTimer = setInterval(() => {
      if (this.closed) {
        clearInterval(this.snapshotTimer);
        return;
      }
      if (snapshotDue(settings)) this.snapshotInBackground("interval");
    }, period);
    // The timer never keeps the process alive: an application exits when its work is done.
    this.snapshotTimer.unref();
    return this;
  }

  /**
   * A snapshot nobody asked for (the interval, checked after a commit or by the timer): it gives
   * up at once if another backend is taking one, and after a second if changes keep running. A
   * failure does not fail the commit that noticed the snapshot was due: it is kept in
   * `lastSnapshotError` and reported as a process warning, as PostgreSQL's checkpointer logs a
   * failed checkpoint and tries again later.
   */
  private snapshotInBackground(reason: SnapshotReason): void {
    try {
      const r = this.runSnapshot(reason, { wait: false, quiesceTimeoutMs: 1000 });
      if (r !== undefined) this.lastSnapshotFailure = undefined;
    } catch (e) {
      this.lastSnapshotFailure = e as Error;
      process.emitWarning(`memory-only snapshot failed: ${(e as Error).message}`);
    }
  }

  private runSnapshot(
    reason: SnapshotReason,
    options: { wait: boolean; quiesceTimeoutMs: number },
  ): SnapshotReport | undefined {
    const settings = this.shared.snapshot;
    if (settings === undefined) {
      throw new PgsimError(
        "no-snapshot-persistence",
        'this database was not created with persistence: "snapshot"',
      );
    }
    const report = takeSnapshot(
      {
        pool: this.pool,
        transam: this.transam,
        catalog: this.catalog,
        maxBackends: this.shared.pool.maxBackends,
        checksums: this.shared.checksums,
      },
      settings,
      reason,
      options,
    );
    if (report !== undefined) this.lastSnapshotReport = report;
    return report;
  }

  /**
   * Creates the shared memory of a new database and attaches the first backend to it. A
   * disk-backed database (with WAL, the default) creates its data directory as initdb does: the
   * directory must be missing or empty.
   */
  static create(options: DatabaseOptions): Database {
    return new Database(createDatabaseShared(options)).startSnapshotTimer();
  }

  /**
   * Starts on an existing data directory made by a disk-backed database with WAL (pg_ctl start):
   * after a clean shutdown at once; after a crash, crash recovery replays the WAL from the last
   * checkpoint first (`startupReport` says what it did). Settings recorded at creation
   * (checksums, segment sizes) come from pg_control.
   *
   * A memory-only snapshot directory (made with `persistence: "snapshot"`, recognised by its
   * `PGSIM_SNAPSHOT` file) is loaded instead: the newest snapshot file that passes every check
   * (file CRC, each page's checksum) is mapped into a new memory-only pool; a damaged newer one
   * is refused, moved aside to `<file>.damaged`, and the previous generation is used
   * (`snapshotReport` says what was loaded and what was refused). If none is valid, the error of
   * the newest (`snapshot-damaged`) is thrown. A directory that is neither is refused with
   * `not-a-data-directory`.
   *
   * @example
   * ```ts
   * const db = Database.open("/tmp/pgsim-data", { bufferCount: 1024 });
   * console.log(db.startupReport?.recovered);
   * db.shutdown();
   * ```
   */
  static open(dataDir: string, options: OpenOptions = {}): Database {
    return new Database(openDatabaseShared(dataDir, options)).startSnapshotTimer();
  }

  /**
   * What opening a memory-only snapshot directory loaded (in the thread that opened it): the
   * generation, its file and time, pages and tables, the transactions that were running (now
   * aborted), and any newer snapshot file refused as damaged, with why. Undefined otherwise.
   *
   * @example
   * ```ts
   * const db = Database.open("/tmp/pgsim-mem");
   * const r = db.snapshotReport!;
   * console.log(r.generation, r.pages, r.refused.map((f) => f.reason));
   * ```
   */
  get snapshotReport(): SnapshotLoadReport | undefined {
    return snapshotLoadReportOf(this.shared);
  }

  /** The last snapshot this backend took (checkpoint, interval or shutdown), if any. */
  get lastSnapshot(): SnapshotReport | undefined {
    return this.lastSnapshotReport;
  }

  /** Why this backend's last background (interval) snapshot failed, until one succeeds. */
  get lastSnapshotError(): Error | undefined {
    return this.lastSnapshotFailure;
  }

  /**
   * Takes a snapshot of a memory-only database with `persistence: "snapshot"` now (what
   * `checkpoint()` does for it): waits for changes in progress to finish (up to a minute), copies
   * the pool, and writes the next generation durably. Returns what it did.
   */
  snapshot(): SnapshotReport {
    this.checkRunning();
    return this.runSnapshot("checkpoint", { wait: true, quiesceTimeoutMs: 60_000 })!;
  }

  /**
   * What start-up did when this database was created or opened in this thread: whether it
   * recovered, how many records it replayed, where the WAL ended. Undefined without WAL.
   */
  get startupReport(): StartupResult | undefined {
    return startupResultOf(this.shared);
  }

  /** Attaches another backend (in this thread or a worker) to an existing database. */
  static attach(shared: DatabaseShared): Database {
    return new Database(shared);
  }

  /**
   * Cleans up after a backend that died without closing (its worker thread was terminated or
   * crashed): its transaction is aborted, waiters wake, and its pins and content locks are
   * released. Returns what was released.
   */
  static recoverBackend(shared: DatabaseShared, procNumber: number) {
    return recoverDeadBackend(shared, procNumber);
  }

  /** Another backend on the same database, in this thread. */
  attachAnother(): Database {
    return Database.attach(this.shared);
  }

  /** The variant of the buffer pool. */
  get variant(): "disk" | "memory" {
    return this.pool.variant;
  }

  private checkOpen(): void {
    if (this.closed) throw new PgsimError("backend-detached", "this database backend is closed");
  }

  /**
   * Refuses work once the database has been shut down (by any backend) or stopped by a PANIC
   * ("terminating connection because of crash of another server process").
   */
  private checkRunning(): void {
    this.checkOpen();
    this.pool.faults.checkNotPanicked();
    const settings = this.shared.xlog;
    if (settings !== undefined && xlogState(settings) === XLogState.SHUT_DOWN) {
      throw new PgsimError("shutting-down", "the database system is shutting down");
    }
    const snapshot = this.shared.snapshot;
    if (snapshot !== undefined && snapshotState(snapshot) === SnapshotState.SHUT_DOWN) {
      throw new PgsimError("shutting-down", "the database system is shutting down");
    }
  }

  /** The checkpoint's view of this backend (a database with WAL only). */
  private checkpointBackend(): CheckpointBackend {
    return {
      pool: this.pool,
      transam: this.transam,
      catalog: this.catalog,
      xlog: this.ctx.xlog!,
      settings: this.shared.xlog!,
    };
  }

  /**
   * After a transaction ends: runs a checkpoint when one is due (by WAL volume or
   * checkpoint_timeout), as the checkpointer would (see database/checkpoint.ts).
   *
   * The transaction has ended (its COMMIT is durable) before the checkpoint starts, so a failed
   * checkpoint does not fail the COMMIT: as in PostgreSQL, where the checkpointer is another
   * process, the failure is logged and the checkpoint is tried again at the next transaction
   * end, since it is still due. A PANIC (a failed fsync) has stopped the database all the same:
   * the next call gets "terminating connection because of crash of another server process".
   *
   * Differs from PostgreSQL: there is no server log; the failure is a process warning (code
   * PGSIM_CHECKPOINT_FAILED).
   */
  afterTransactionEnd(): void {
    const snapshot = this.shared.snapshot;
    if (snapshot !== undefined) {
      if (snapshotDue(snapshot)) this.snapshotInBackground("interval");
      return;
    }
    const settings = this.shared.xlog;
    if (settings === undefined || this.ctx.xlog === undefined) return;
    if (checkpointDue(settings, this.ctx.xlog.wal)) {
      try {
        this.cleaningUpOnError(() => createCheckPoint(this.checkpointBackend(), "online"));
      } catch (e) {
        if (!(e instanceof PgsimError)) throw e;
        process.emitWarning(`checkpoint failed: ${e.message}`, {
          code: "PGSIM_CHECKPOINT_FAILED",
        });
      }
    }
  }

  /**
   * Before each statement of a transaction: the database still runs, and the WAL has room
   * (a new segment is created now if needed; ENOSPC fails a writing statement, not the
   * database). A read goes ahead without the room: what little WAL it may write (pruning,
   * hint-bit images) waits in the WAL buffers.
   */
  beforeStatement(writes = true): void {
    this.checkRunning();
    try {
      this.ctx.xlog?.wal.ensureSegmentsAhead();
    } catch (e) {
      // A read goes ahead unless the database itself has stopped.
      if (
        writes ||
        !(e instanceof PgsimError) ||
        e.code === "panic" ||
        e.code === "crash-shutdown"
      ) {
        throw e;
      }
    }
  }

  // ---------------------------------------------------------------- faults (injection-point.ts)

  /**
   * Arms a fault at one of the storage calls (see the database README's table of faults): e.g.
   * `{ point: "data-write", fault: { type: "eio" }, file: "base/", nth: 3 }` fails the third
   * write of a relation file with EIO. The rule is shared by every backend of the database,
   * worker threads included. Returns a handle to read its counts and remove it.
   *
   * @example
   * ```ts
   * const f = db.injectFault({ point: "wal-fsync", fault: { type: "eio" } });
   * // ... the next WAL fsync fails: a PANIC, the database stops; Database.open recovers it.
   * console.log(f.fired());
   * ```
   */
  injectFault(rule: FaultRule): FaultHandle {
    this.checkOpen();
    const table = this.pool.faults;
    const id = table.arm(rule);
    return {
      id,
      hits: () => table.state(id)?.hits ?? 0,
      fired: () => table.state(id)?.fired ?? 0,
      remove: () => table.remove(id),
    };
  }

  /** Removes every armed fault. */
  clearFaults(): void {
    this.checkOpen();
    this.pool.faults.clear();
  }

  /** The armed faults with their counts. */
  faults(): FaultRuleState[] {
    this.checkOpen();
    return this.pool.faults.list();
  }

  /** The reason of the PANIC that stopped the database, or undefined while it runs. */
  get panicReason(): string | undefined {
    return this.pool.faults.panicked();
  }

  /** The backend's relation entry for a table (rebuilt when the catalog entry changes). */
  table(name: string): TableRelation {
    this.checkOpen();
    const def = this.catalog.get(name);
    let rel = this.relations.get(def.relNumber);
    if (rel === undefined || rel.def !== def) {
      rel = buildTableRelation(def, this.ctx, this.catalog.listIndexes(name));
      this.relations.set(def.relNumber, rel);
    }
    return rel;
  }

  /** CREATE TABLE: the table's storage is created at once (DDL is not transactional here). */
  createTable(
    name: string,
    columns: CatalogColumn[],
    options: CreateTableOptions = {},
  ): TableDefinition {
    this.checkOpen();
    return this.changing(() => this.createTableChanging(name, columns, options));
  }

  private createTableChanging(
    name: string,
    columns: CatalogColumn[],
    options: CreateTableOptions,
  ): TableDefinition {
    if (!Array.isArray(columns) || columns.length === 0) {
      throw new PgsimError("invalid-table-definition", "a table needs at least one column");
    }
    const names = new Set<string>();
    for (const c of columns) {
      if (c === null || typeof c !== "object" || typeof c.name !== "string" || c.name === "") {
        throw new PgsimError("invalid-table-definition", "every column needs a name and a type");
      }
      if (names.has(c.name)) {
        throw new PgsimError("duplicate-column", `column "${c.name}" specified more than once`);
      }
      names.add(c.name);
    }
    const fillfactor = options.fillfactor ?? 100;
    if (!Number.isInteger(fillfactor) || fillfactor < HEAP_MIN_FILLFACTOR || fillfactor > 100) {
      throw new PgsimError(
        "invalid-parameter",
        `value ${String(fillfactor)} out of bounds for option "fillfactor": valid values are between "10" and "100"`,
      );
    }
    const am = getTableAm(options.am ?? (this.pool.variant === "disk" ? "heap" : "memheap"));
    const primaryKey = options.primaryKey;
    if (primaryKey !== undefined) {
      if (!Array.isArray(primaryKey) || primaryKey.length === 0) {
        throw new PgsimError("invalid-table-definition", "primaryKey needs at least one column");
      }
      for (const k of primaryKey) {
        if (!names.has(k)) {
          throw new PgsimError(
            "undefined-column",
            `column "${String(k)}" named in key does not exist`,
            {
              column: k,
            },
          );
        }
      }
    }
    const draft = {
      name,
      // A primary key's columns are NOT NULL (ALTER TABLE … SET NOT NULL, as DefineIndex does).
      columns: columns.map((c) =>
        primaryKey?.includes(c.name) ? { ...c, notNull: true } : { ...c },
      ),
      am: am.name,
      fillfactor,
      indexedColumns: [...(options.indexedColumns ?? [])],
      keyColumns: [...(options.keyColumns ?? [])],
      ...(options.unlogged === true ? { persistence: "unlogged" as const } : {}),
      relNumber: 0,
      // pg_class as CREATE TABLE leaves it: never vacuumed; relfrozenxid the oldest xid that
      // may still be running, or the one before the next (for the xid pgsim's DDL does not take).
      relpages: 0,
      reltuples: -1,
      relallvisible: 0,
      relfrozenxid: Math.min(this.transam.getSnapshot(0, false).xmin, this.transam.nextXid - 1),
      invalidations: 0,
    };
    // Check the columns and options (types, typmods, names) before anything is stored.
    buildRelation(draft);
    tableCheckUsable(am, this.ctx, draft);
    const def = this.catalog.createTable(draft);
    try {
      tableRelationSetNewFilenode(this.table(name));
    } catch (e) {
      this.catalog.dropTable(name);
      throw e;
    }
    this.pgstat.createRelation(def.relNumber, name);
    if (primaryKey !== undefined) {
      try {
        this.createIndexChanging(`${name}_pkey`, name, { columns: [...primaryKey], unique: true });
      } catch (e) {
        this.dropTableChanging(name);
        throw e;
      }
      return this.catalog.get(name);
    }
    return def;
  }

  /** DROP TABLE. */
  dropTable(name: string): void {
    this.changing(() => this.dropTableChanging(name));
  }

  private dropTableChanging(name: string): void {
    const rel = this.table(name);
    for (const idx of this.catalog.listIndexes(name)) {
      const index = this.openIndex(idx.name);
      this.catalog.dropIndex(idx.name);
      this.pool.dropRelation(index.locator);
      this.indexRelations.delete(idx.relNumber);
    }
    // The catalog change is logged (and flushed) first: the files are removed only once the
    // drop is durable, as PostgreSQL removes them after the DROP's commit record.
    this.catalog.dropTable(name);
    tableRelationDrop(rel);
    this.relations.delete(rel.def.relNumber);
    this.pgstat.dropRelation(rel.def.relNumber);
  }

  /**
   * CREATE INDEX … USING btree on a filled table: the index gets its own relfilenode and storage
   * in the same buffer pool as the table (on disk for heap, in memory for memheap) and is built
   * bottom-up from the table's current contents, as PostgreSQL 15's nbtsort.c does — the same
   * pages, byte for byte (see access/nbtree/README.md). Its columns become indexed columns of the
   * table (updates of them are no longer HOT).
   *
   * Key types: bool, int2, int4, int8, oid, text and varchar (C collation), date, timestamp,
   * timestamptz, uuid; others fail with `unsupported-index-type`. A unique index on duplicate
   * keys fails with `unique-violation` ("could not create unique index …") and leaves nothing.
   *
   * With WAL, the build logs every page (log_newpage), so the index survives a crash.
   *
   * Differs from PostgreSQL: later inserts, updates and deletes do not maintain the index yet
   * (it shows the table as of CREATE INDEX).
   *
   * @example
   * ```ts
   * db.createTable("t", [{ name: "id", type: "int4" }, { name: "name", type: "text" }]);
   * // … fill t …
   * const r = db.createIndex("t_name_id", "t", { columns: [{ name: "name", desc: true }, "id"] });
   * console.log(r.pages, r.level, db.btMetap("t_name_id").root);
   * ```
   */
  createIndex(name: string, table: string, options: CreateIndexOptions): CreateIndexResult {
    this.checkOpen();
    return this.changing(() => this.createIndexChanging(name, table, options));
  }

  private createIndexChanging(
    name: string,
    table: string,
    options: CreateIndexOptions,
  ): CreateIndexResult {
    const rel = this.table(table);
    if (options === null || typeof options !== "object" || !Array.isArray(options.columns)) {
      throw new PgsimError("invalid-index-definition", "createIndex needs options.columns");
    }
    const columns = options.columns.map((c): IndexColumnDefinition => {
      if (typeof c === "string") return { name: c };
      if (c === null || typeof c !== "object" || typeof c.name !== "string") {
        throw new PgsimError(
          "invalid-index-definition",
          "an index column is a column name or { name, desc?, nullsFirst? }",
        );
      }
      return {
        name: c.name,
        ...(c.desc !== undefined ? { desc: c.desc === true } : {}),
        ...(c.nullsFirst !== undefined ? { nullsFirst: c.nullsFirst === true } : {}),
      };
    });
    const fillfactor = options.fillfactor ?? BTREE_DEFAULT_FILLFACTOR;
    if (!Number.isInteger(fillfactor) || fillfactor < BTREE_MIN_FILLFACTOR || fillfactor > 100) {
      throw new PgsimError(
        "invalid-parameter",
        `value ${String(fillfactor)} out of bounds for option "fillfactor": valid values are between "${BTREE_MIN_FILLFACTOR}" and "100"`,
      );
    }
    const draft = {
      name,
      table,
      am: "btree" as const,
      columns,
      unique: options.unique === true,
      fillfactor,
      deduplicateItems: options.deduplicateItems ?? true,
    };
    // Check the columns and key types before anything is stored.
    indexOpen({ ...draft, relNumber: 0 }, rel.def, this.ctx);
    const def = this.catalog.createIndex(draft);
    const index = this.openIndex(name);
    // An index is logged when its table is (RelationNeedsWAL: same persistence).
    const xlog = relationNeedsWal(this.ctx, rel) ? this.ctx.xlog : undefined;
    try {
      relationCreateStorage(this.pool, index.locator, xlog);
      // index_build → ambuild; btree's result is its whole BtBuildResult.
      const result = indexBuild(this.table(table), index) as BtBuildResult;
      this.indexUpdateStats(rel, name, result);
      return { definition: this.catalog.getIndex(name), ...result };
    } catch (e) {
      this.catalog.dropIndex(name);
      if (this.pool.relationExists(index.locator, ForkNumber.MAIN)) {
        this.pool.dropRelation(index.locator);
      }
      this.indexRelations.delete(def.relNumber);
      throw e;
    }
  }

  /**
   * index_update_stats after index_build: the table's pg_class row gets its size in blocks, the
   * build's heap tuple count and the visibility map's all-visible count (an empty table whose
   * reltuples is still −1 keeps −1, so that it does not look vacuumed); the index's row gets its
   * size and the build's index tuple count (0 for an empty table: its row starts at 0).
   */
  private indexUpdateStats(rel: TableRelation, index: string, built: BtBuildResult): void {
    const heapPages = this.pool.relationExists(rel.locator, ForkNumber.MAIN)
      ? this.pool.nblocks(rel.locator, ForkNumber.MAIN)
      : 0;
    const oldTuples = rel.def.reltuples ?? -1;
    this.catalog.updateRelStats(rel.def.relNumber, {
      relpages: heapPages,
      reltuples: built.heapTuples === 0 && oldTuples < 0 ? -1 : built.heapTuples,
      relallvisible: new VisibilityMap(this.pool).count(rel.locator).allVisible,
      relfrozenxid: undefined,
    });
    // A new index's pg_class row starts at reltuples 0 (not −1), so an empty build writes 0.
    this.catalog.updateIndexRelStats(index, {
      relpages: built.pages,
      reltuples: built.indexTuples,
    });
  }

  /** The backend's B-tree entry for an index (rebuilt when the catalog entry changes). */
  index(name: string): BtIndexRelation {
    return btRel(this.openIndex(name));
  }

  /**
   * index_open: the backend's relation entry for an index, with its access method (rebuilt when
   * the catalog entry changes).
   */
  openIndex(name: string): IndexRelation {
    this.checkOpen();
    const def = this.catalog.getIndex(name);
    let rel = this.indexRelations.get(def.relNumber);
    if (rel === undefined || rel.def !== def) {
      rel = indexOpen(def, this.catalog.get(def.table), this.ctx);
      this.indexRelations.set(def.relNumber, rel);
    }
    return rel;
  }

  /**
   * ExecOpenIndices: the entries of every index of `table`, in creation order (what each
   * insert and non-HOT update maintains).
   */
  tableIndexes(table: string): IndexRelation[] {
    return this.catalog.listIndexes(table).map((i) => this.openIndex(i.name));
  }

  /** The indexes of a table (all indexes when `table` is omitted), in creation order. */
  indexes(table?: string): readonly IndexDefinition[] {
    this.checkOpen();
    return this.catalog.listIndexes(table);
  }

  /** DROP INDEX: the catalog entry and the storage go. */
  dropIndex(name: string): void {
    this.checkOpen();
    this.changing(() => {
      const index = this.openIndex(name);
      this.catalog.dropIndex(name);
      this.pool.dropRelation(index.locator);
      this.indexRelations.delete(index.def.relNumber);
    });
  }

  /** TRUNCATE: new, empty storage under a new relfilenode; the old one is dropped. */
  truncateTable(name: string): void {
    this.changing(() => this.truncateTableChanging(name));
  }

  private truncateTableChanging(name: string): void {
    const old = this.table(name);
    const { after } = this.catalog.renumberTable(name);
    const fresh = buildTableRelation(after, this.ctx);
    tableRelationSetNewFilenode(fresh);
    tableRelationDrop(old);
    this.relations.delete(old.def.relNumber);
    this.pgstat.truncateRelation(old.def.relNumber, after.relNumber);
    // Each index gets a new relfilenode too and is rebuilt (empty: a metapage only).
    for (const idx of this.catalog.listIndexes(name)) {
      const oldIndex = this.openIndex(idx.name);
      this.catalog.renumberIndex(idx.name);
      const index = this.openIndex(idx.name);
      const xlog = relationNeedsWal(this.ctx, fresh) ? this.ctx.xlog : undefined;
      relationCreateStorage(this.pool, index.locator, xlog);
      indexBuild(this.table(name), index);
      this.pool.dropRelation(oldIndex.locator);
      this.indexRelations.delete(oldIndex.def.relNumber);
    }
  }

  /**
   * AcceptInvalidationMessages: for every table whose relcache entry was invalidated since this
   * backend last looked (VACUUM changed its pg_class statistics, or truncated it), close the
   * smgr relation, which forgets the insert target block. PostgreSQL does this when a
   * transaction starts and whenever a statement opens a relation by name; the Database API calls
   * it at the same points.
   */
  acceptInvalidationMessages(): void {
    for (const def of this.catalog.list()) {
      const count = def.invalidations ?? 0;
      const seen = this.invalidationsSeen.get(def.relNumber);
      if (seen !== undefined && seen !== count) this.ctx.targetBlocks.delete(def.relNumber);
      this.invalidationsSeen.set(def.relNumber, count);
    }
  }

  /** BEGIN: a transaction on this backend (one at a time). */
  begin(options: { isolation?: IsolationLevel } = {}): DatabaseTransaction {
    this.checkOpen();
    this.pool.faults.checkNotPanicked();
    if (this.current !== undefined && this.current.state === "in progress") {
      throw new PgsimError(
        "active-transaction",
        "there is already a transaction in progress on this backend: commit or abort it first",
      );
    }
    this.checkRunning();
    const xlog = this.ctx.xlog;
    const xact = new Transaction(
      this.transam,
      options.isolation ?? "read committed",
      xlog !== undefined ? { ...xlog, synchronousCommit: xlog.wal.synchronousCommit } : undefined,
    );
    // StartTransaction (AtStart_Cache): pending invalidations are processed.
    this.acceptInvalidationMessages();
    this.current = new DatabaseTransaction(this, xact);
    return this.current;
  }

  /** VACUUM one table (outside any transaction). */
  vacuum(name: string, options: VacuumOptions = {}): VacuumResult {
    this.checkOpen();
    return this.changing(() => this.vacuumChanging(name, options));
  }

  private vacuumChanging(name: string, options: VacuumOptions): VacuumResult {
    // VACUUM runs in a transaction of its own, which processes invalidations when it starts.
    this.acceptInvalidationMessages();
    const rel = this.table(name);
    // vac_open_indexes: every index of the table, through its access method's ambulkdelete and
    // amvacuumcleanup (the index-AM interface), bound to this table.
    const indexes: VacuumIndex[] = this.catalog.listIndexes(name).map((d) => {
      const index = this.openIndex(d.name);
      return {
        name: d.name,
        bulkDelete: (info, stats, callback) =>
          index.am.ambulkdelete({ ...info, index, heap: rel }, stats, callback),
        vacuumCleanup: (info, stats) =>
          index.am.amvacuumcleanup({ ...info, index, heap: rel }, stats),
      };
    });
    const result = tableRelationVacuum(rel, { ...options, indexes });
    // A truncation tells every backend to close the relation's smgr (CacheInvalidateSmgr);
    // vac_update_relstats invalidates the relcache entry only when pg_class changed.
    if (result.pagesAfter < result.pagesBefore) this.catalog.invalidate(rel.def.relNumber);
    for (const ix of result.indexRelStats ?? []) this.catalog.updateIndexRelStats(ix.name, ix);
    if (result.relStats !== undefined) {
      this.catalog.updateRelStats(rel.def.relNumber, result.relStats);
    }
    return result;
  }

  /**
   * CHECKPOINT: writes every dirty page, then the commit log into `pg_xact/` (CheckPointCLOG), so
   * that the data directory can be read offline (by pgsim-inspect, or PostgreSQL's tools) with the
   * fate of every transaction that had ended. A memory-only database with `persistence:
   * "snapshot"` takes a snapshot (see `snapshot()`, and `lastSnapshot` for its report); without
   * persistence, a no-op.
   */
  checkpoint(): CheckpointReport | undefined {
    this.checkRunning();
    if (this.shared.snapshot !== undefined) {
      this.snapshot();
      return undefined;
    }
    if (this.shared.xlog !== undefined) {
      return this.cleaningUpOnError(() => createCheckPoint(this.checkpointBackend(), "online"));
    }
    this.cleaningUpOnError(() => this.pool.checkpoint());
    const dataDir = this.shared.pool.dataDir;
    if (this.pool.variant === "disk" && dataDir !== undefined) {
      writeCommitLogFiles(dataDir, this.transam.commitLogPages());
    }
    return undefined;
  }

  /**
   * A clean shutdown (pg_ctl stop -m fast): aborts this backend's transaction, writes the
   * shutdown checkpoint (every dirty page, the commit log, the catalog, a CHECKPOINT_SHUTDOWN
   * record; pg_control says "shut down"), closes the WAL and this backend. Afterwards every
   * backend of the database gets "the database system is shutting down"; `Database.open`
   * starts on the directory again without recovery. Without WAL: a checkpoint, then close.
   * Memory-only with `persistence: "snapshot"`: the shutdown snapshot (transactions still running
   * on other backends are not in it as committed), then every backend gets "the database system
   * is shutting down". Other backends should be closed first (their running transactions are not
   * waited for).
   */
  shutdown(): CheckpointReport | undefined {
    if (!this.closed && this.pool.faults.panicked() !== undefined) {
      // After a PANIC nothing more is written: the backend just goes; reopening recovers.
      this.close();
      return undefined;
    }
    this.checkRunning();
    this.current?.abort();
    const settings = this.shared.xlog;
    let report: CheckpointReport | undefined;
    const snapshot = this.shared.snapshot;
    if (snapshot !== undefined) {
      this.runSnapshot("shutdown", { wait: true, quiesceTimeoutMs: 60_000 });
      setSnapshotState(snapshot, SnapshotState.SHUT_DOWN);
    } else if (settings !== undefined) {
      report = createCheckPoint(this.checkpointBackend(), "shutdown");
      setXLogState(settings, XLogState.SHUT_DOWN);
      forgetWalWriter(this.shared);
    } else {
      this.checkpoint();
    }
    this.close();
    return report;
  }

  /** The table's size in blocks (main fork). */
  nblocks(name: string): number {
    return this.pool.nblocks(this.table(name).locator, ForkNumber.MAIN);
  }

  /** Like pageinspect's page_header over every block (the shape of `pgsim-inspect page-header`). */
  pageHeaders(name: string): PageHeaderRow[] {
    return livePageHeaders(this.pool, this.table(name));
  }

  /** Like pageinspect's heap_page_items (the shape of `pgsim-inspect heap-page-items`). */
  pageItems(name: string, block?: number): HeapPageItemsBlock[] {
    return liveHeapPageItems(this.pool, this.table(name), block);
  }

  /**
   * pageinspect's `bt_metap(index)`: the metapage of a B-tree index.
   *
   * @example
   * ```ts
   * const m = db.btMetap("t_pkey"); // { magic: 340322, version: 4, root: 3, level: 1, … }
   * ```
   */
  btMetap(index: string): BtMetapRow {
    return liveBtMetap(this.pool, this.index(index));
  }

  /** pageinspect's `bt_page_stats(index, block)`: one non-meta page's summary. */
  btPageStats(index: string, block: number): BtPageStatsRow {
    return liveBtPageStats(this.pool, this.index(index), block);
  }

  /**
   * pageinspect's `bt_page_items(index, block)`: every item of one page, with the same columns
   * and values (`data` as spaced hex, `htid`, `tids` for posting lists).
   */
  btPageItems(index: string, block: number): BtPageItemRow[] {
    return liveBtPageItems(this.pool, this.index(index), block);
  }

  /**
   * amcheck's `bt_index_parent_check(index)` (or `bt_index_check` with `{ parent: false }`): the
   * structural invariants of the B-tree — sibling links, levels, attribute counts, key order
   * within and across pages, high keys, and parent/child agreement. Throws `index-corrupted`
   * with amcheck's message for the first broken one; otherwise returns what it saw.
   *
   * @example
   * ```ts
   * const r = db.btIndexCheck("t_pkey"); // { levels: 2, pagesPerLevel: [28, 1], heapTids: 10000, … }
   * ```
   */
  btIndexCheck(index: string, options: BtCheckOptions = {}): BtCheckResult {
    const rel = this.index(index);
    return btIndexCheck(rel, liveIndexPages(this.pool, rel), options);
  }

  /** The index's size in blocks (main fork). */
  indexNblocks(index: string): number {
    return this.pool.nblocks(this.index(index).locator, ForkNumber.MAIN);
  }

  /** Like pg_freespace(rel): the free space the FSM records per heap block. */
  freeSpace(name: string): FreeSpaceRow[] {
    return liveFreeSpace(this.pool, this.table(name));
  }

  /** Like pg_visibility_map(rel): the two VM bits per heap block. */
  visibilityMap(name: string): VisibilityMapRow[] {
    return liveVisibilityMap(this.pool, this.table(name));
  }

  // ---------------------------------------------------------------- statistics (database-stats.ts)

  /**
   * Flushes this backend's pending statistics first when it is between transactions, as a
   * PostgreSQL backend does when it goes idle (never inside a transaction block).
   */
  private statistics(): PgStat {
    this.checkOpen();
    if (this.current?.state !== "in progress") this.pgstat.reportStat();
    return this.pgstat;
  }

  /**
   * `SELECT * FROM pg_stat_user_tables WHERE relname = name`: the table's tuple counts (inserted,
   * updated, HOT-updated, deleted, live and dead estimates) and its last VACUUM, as every
   * backend's finished transactions left them (see README "Statistics").
   *
   * @example
   * ```ts
   * const s = db.tableStats("accounts");
   * console.log(s.n_tup_ins, s.n_tup_hot_upd, s.n_dead_tup);
   * console.log(s.last_vacuum_report?.message); // VACUUM VERBOSE's summary
   * ```
   */
  tableStats(name: string): StatUserTablesRow {
    const pgstat = this.statistics();
    return statUserTablesRow(pgstat, this.catalog.get(name));
  }

  /** pg_stat_user_tables: `tableStats` of every table, in creation order. */
  statUserTables(): StatUserTablesRow[] {
    const pgstat = this.statistics();
    return this.catalog.list().map((def) => statUserTablesRow(pgstat, def));
  }

  /**
   * `SELECT * FROM pg_statio_user_tables WHERE relname = name`: the table's blocks found in the
   * buffer pool (hit) and not (read, or added by extension), over all its forks as PostgreSQL
   * counts them, and per fork (main, FSM, VM), which PostgreSQL does not keep.
   */
  tableIoStats(name: string): StatioUserTablesRow {
    const pgstat = this.statistics();
    return statioUserTablesRow(pgstat, this.catalog.get(name));
  }

  /** pg_statio_user_tables: `tableIoStats` of every table, in creation order. */
  statioUserTables(): StatioUserTablesRow[] {
    const pgstat = this.statistics();
    return this.catalog.list().map((def) => statioUserTablesRow(pgstat, def));
  }

  /** pg_stat_reset(): every table's statistics go back to zero. */
  statReset(): void {
    this.statistics().resetCounters();
  }

  /** pg_stat_reset_single_table_counters('name'::regclass): one table's statistics go to zero. */
  statResetSingleTableCounters(name: string): void {
    this.statistics().resetSingleTableCounters(this.catalog.get(name).relNumber);
  }

  /** When the statistics were last reset (pg_stat_database.stats_reset), or null. */
  get statsReset(): Date | null {
    return this.statistics().statsReset ?? null;
  }

  /**
   * pg_buffercache with the table names: every buffer of the pool, its block's relfilenode, fork
   * and block number, and `relname`, the table it belongs to.
   */
  bufferCache(): BufferCacheRelationRow[] {
    this.checkOpen();
    return bufferCacheByRelation(this.pool, this.catalog);
  }

  /**
   * This backend's buffer usage since it attached (pgBufferUsage: shared hit / read / dirtied /
   * written). For one statement, see `DatabaseTransaction.lastStatementBuffers`.
   */
  bufferUsage(): BufferUsage {
    this.checkOpen();
    return this.pool.bufferUsage();
  }

  /**
   * Leaves the database: aborts a running transaction, reports leaked pins. The last backend of a
   * memory-only database with `persistence: "snapshot"` takes a snapshot first (unless the
   * database was shut down); if that fails, the backend still leaves and the error is thrown.
   */
  close(): DetachReport {
    if (this.closed) return { leakedPins: [], releasedLocks: 0 };
    clearInterval(this.snapshotTimer);
    const panicked = this.pool.faults.panicked() !== undefined;
    try {
      this.current?.abort();
    } catch (e) {
      // After a PANIC the abort cannot be logged; the backend leaves all the same.
      if (!panicked) throw e;
    }
    let failure: unknown;
    const snapshot = this.shared.snapshot;
    if (
      snapshot !== undefined &&
      !panicked &&
      snapshotState(snapshot) === SnapshotState.RUNNING &&
      attachedBackends(this.shared.pool).length === 1
    ) {
      try {
        this.runSnapshot("shutdown", { wait: true, quiesceTimeoutMs: 60_000 });
      } catch (e) {
        failure = e;
      }
    }
    const report = this.closeBackend();
    if (failure !== undefined) throw failure;
    return report;
  }

  private closeBackend(): DetachReport {
    // pgstat_shutdown_hook: what this backend counted outside transactions is not lost.
    this.pgstat.reportStat();
    this.closed = true;
    this.transam.resetSlot();
    this.ctx.xlog?.wal.close({ flush: true });
    const report = this.pool.detach();
    this.unregisterSnapshotFaults();
    return report;
  }
}
