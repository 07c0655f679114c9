/**
 * A small database for experiments: open one on a disk-backed or memory-only buffer pool, create
 * tables, and run transactions that insert, update, delete, fetch and scan rows; vacuum; look at
 * live pages the way pageinspect, pg_freespacemap and pg_visibility do.
 *
 * Models: the executor-level behaviour of PostgreSQL's INSERT / UPDATE / DELETE / SELECT on one
 * table (ExecInsert, ExecUpdate and ExecDelete with their READ COMMITTED re-check of the newest
 * row version, EvalPlanQual, and the REPEATABLE READ serialization error), CREATE / DROP /
 * TRUNCATE TABLE and VACUUM, over the table AM interface.
 * Entry points: `Database` (`create`, `attach`, `createTable`, `begin`, `vacuum`, `checkpoint`,
 * introspection), `DatabaseTransaction`.
 * See also: tableam.ts, heapam-handler.ts, catalog.ts, transam.ts, README.md.
 *
 * Each Database object is one backend: it attaches to the shared memory (buffer pool, commit log
 * and proc array, catalog) and runs one transaction at a time. Worker threads attach with
 * `Database.attach(db.shared)`.
 *
 * Differs from PostgreSQL: no SQL; a statement is one method call; DDL is not transactional; the
 * READ COMMITTED re-check takes the caller's new values (or a function of the newest row) instead
 * of re-evaluating a WHERE clause.
 */

import { randomUUID } from "node:crypto";
import {
  attachBufferPool,
  type BufferPool,
  type BufferPoolShared,
  type BufferUsage,
  bufferUsageDiff,
  type DetachReport,
  ForkNumber,
  initBufferPool,
  PgsimError,
  recoverBackend,
  ZERO_BUFFER_USAGE,
} from "@pgsim/buffer-manager";
import type { Row, TID } from "./access/heap/heapam.js";
import { registerBuiltinTableAms } from "./access/heap/heapam-handler.js";
import { TM } from "./access/heap/heapam-visibility.js";
import { BulkInsertState, HEAP_MIN_FILLFACTOR } from "./access/heap/hio.js";
import type { VacuumOptions, VacuumResult } from "./access/heap/vacuumlazy.js";
import { VisibilityMap } from "./access/heap/visibilitymap.js";
import {
  getTableAm,
  type LockTupleMode,
  makeSlot,
  type TableAccessMethod,
  type TableRelation,
  tableBeginScan,
  tableEndScan,
  tableFinishBulkInsert,
  tableMultiInsert,
  tableRelationSetNewFilenode,
  tableRelationVacuum,
  tableScanGetNextSlot,
  tableTupleFetchRowVersion,
  tableTupleFindLastVersion,
  tableTupleInsert,
  tableTupleLock,
} from "./access/table/tableam.js";
import {
  DEFAULT_MAX_XIDS,
  initTransam,
  Transam,
  type TransamShared,
} from "./access/transam/transam.js";
import { type IsolationLevel, Transaction } from "./access/transam/xact.js";
import {
  Catalog,
  type CatalogColumn,
  type CatalogShared,
  initCatalog,
  type TableDefinition,
} from "./catalog/catalog.js";
import {
  type BufferCacheRelationRow,
  bufferCacheByRelation,
  type StatioUserTablesRow,
  type StatUserTablesRow,
  statioUserTablesRow,
  statUserTablesRow,
} from "./database-stats.js";
import { type FreeSpaceRow, inspectFsm } from "./inspect/fsm.js";
import { type HeapPageItemsBlock, inspectHeapPageItems } from "./inspect/heap-page-items.js";
import { inspectPageHeader, type PageHeaderRow } from "./inspect/page-header.js";
import { inspectVm, type VisibilityMapRow } from "./inspect/vm.js";
import { FreeSpaceMap } from "./storage/freespace/freespace.js";
import { pageIsVerified, pageSetChecksumInplace } from "./storage/page/bufpage.js";
import { PgStat } from "./utils/activity/pgstat.js";
import { initPgStatShmem, type PgStatShared } from "./utils/activity/pgstat-shmem.js";
import type { Datum } from "./utils/adt/type-codec.js";
import { buildRelation, type HeapContext } from "./utils/cache/rel.js";

/** Options for a new database. */
export interface DatabaseOptions {
  /** "disk": a heap in relation files behind the buffer pool; "memory": the pool is the storage. */
  variant: "disk" | "memory";
  /** Buffers in the pool (8 KB each). */
  bufferCount: number;
  /** The data directory (disk only). */
  dataDir?: string;
  /** Data checksums on pages written to disk (initdb -k). Default false, as initdb's default. */
  checksums?: boolean;
  /** Backends that may attach at once (default 64). */
  maxBackends?: number;
  /** Transaction ids the commit log can hold (default 4,194,304). */
  maxXids?: number;
  /** Blocks per segment file (disk; default 131072). */
  segmentBlocks?: number;
  /** deadlock_timeout: how long a row-lock wait lasts before the deadlock check (ms, default 1000). */
  deadlockTimeoutMs?: number;
  /** Tables whose statistics can be kept at once (default 1024; see `tableStats`). */
  statsEntries?: number;
}

/** Everything a worker needs to attach (structured-clonable; the memory is shared). */
export interface DatabaseShared {
  /** A unique id of this database's shared memory (handles arrive as new objects per message). */
  readonly id: string;
  readonly pool: BufferPoolShared;
  readonly transam: TransamShared;
  readonly catalog: CatalogShared;
  /** The cumulative statistics (pg_stat_user_tables and friends). */
  readonly stats: PgStatShared;
  readonly checksums: boolean;
  /** deadlock_timeout in milliseconds (default 1000, as PostgreSQL's). */
  readonly deadlockTimeoutMs?: number;
}

/** Options of CREATE TABLE. */
export interface CreateTableOptions {
  /** Table access method; defaults to "heap" on a disk-backed database, "memheap" on memory. */
  am?: string;
  /** Heap fillfactor, 10..100 (default 100). */
  fillfactor?: number;
  /** Columns an index would cover: updating one is never HOT. */
  indexedColumns?: string[];
  /** Columns of a unique index: updating one sets HEAP_KEYS_UPDATED. Must be indexed columns. */
  keyColumns?: string[];
}

/** A row and where it is. */
export interface RowWithTid {
  tid: TID;
  row: Row;
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
  private readonly ctx: HeapContext;
  private readonly pgstat: PgStat;
  private readonly relations = new Map<number, TableRelation>();
  private current: DatabaseTransaction | undefined;
  private closed = false;

  private constructor(shared: DatabaseShared) {
    registerBuiltinTableAms();
    this.shared = shared;
    this.pool = attachBufferPool(shared.pool, {
      pageHooks: shared.checksums
        ? {
            verifyPage: (page, block) => pageIsVerified(page, block, { checksums: true }),
            setChecksum: (page, block) => pageSetChecksumInplace(page, block),
          }
        : {},
    });
    this.transam = new Transam(shared.transam, this.pool.procNumber);
    this.transam.resetSlot();
    this.catalog = new Catalog(shared.catalog);
    this.pgstat = new PgStat(shared.stats, this.pool);
    this.ctx = {
      pool: this.pool,
      transam: this.transam,
      fsm: new FreeSpaceMap(this.pool),
      vm: new VisibilityMap(this.pool),
      targetBlocks: new Map(),
      deadlockTimeoutMs: shared.deadlockTimeoutMs ?? 1000,
      pgstat: this.pgstat,
    };
  }

  /** Creates the shared memory of a new database and attaches the first backend to it. */
  static create(options: DatabaseOptions): Database {
    if (options === null || typeof options !== "object") {
      throw new PgsimError("invalid-option", "database options must be an object");
    }
    const maxBackends = options.maxBackends ?? 64;
    const pool = initBufferPool({
      variant: options.variant,
      bufferCount: options.bufferCount,
      maxBackends,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      ...(options.segmentBlocks !== undefined ? { segmentBlocks: options.segmentBlocks } : {}),
    });
    const shared: DatabaseShared = {
      id: randomUUID(),
      pool,
      transam: initTransam(maxBackends, options.maxXids ?? DEFAULT_MAX_XIDS),
      catalog: initCatalog(),
      stats: initPgStatShmem(options.statsEntries),
      checksums: options.checksums === true,
      ...(options.deadlockTimeoutMs !== undefined
        ? { deadlockTimeoutMs: options.deadlockTimeoutMs }
        : {}),
    };
    return new Database(shared);
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
    const abortedXid = Transam.recoverBackend(shared.transam, procNumber);
    const buffers = recoverBackend(shared.pool, procNumber);
    return { ...buffers, abortedXid };
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

  /** The backend's relation entry for a table (rebuilt when the catalog entry changes). */
  table(name: string): TableRelation {
    this.checkOpen();
    const def = this.catalog.get(name);
    let rel = this.relations.get(def.relNumber);
    if (rel === undefined || rel.def !== def) {
      rel = { ...buildRelation(def), ctx: this.ctx };
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
    const draft = {
      name,
      columns: columns.map((c) => ({ ...c })),
      am: am.name,
      fillfactor,
      indexedColumns: [...(options.indexedColumns ?? [])],
      keyColumns: [...(options.keyColumns ?? [])],
      relNumber: 0,
    };
    // Check the columns and options (types, typmods, names) before anything is stored.
    buildRelation(draft);
    am.checkUsable?.(this.ctx, draft);
    const def = this.catalog.createTable(draft);
    try {
      tableRelationSetNewFilenode(this.table(name));
    } catch (e) {
      this.catalog.dropTable(name);
      throw e;
    }
    this.pgstat.createRelation(def.relNumber, name);
    return def;
  }

  /** DROP TABLE. */
  dropTable(name: string): void {
    const rel = this.table(name);
    getTableAm(rel.def.am).relationDrop(rel);
    this.catalog.dropTable(name);
    this.relations.delete(rel.def.relNumber);
    this.pgstat.dropRelation(rel.def.relNumber);
  }

  /** TRUNCATE: new, empty storage under a new relfilenode; the old one is dropped. */
  truncateTable(name: string): void {
    const old = this.table(name);
    const { after } = this.catalog.renumberTable(name);
    const fresh = { ...buildRelation(after), ctx: this.ctx };
    getTableAm(after.am).relationSetNewFilenode(fresh);
    getTableAm(old.def.am).relationDrop(old);
    this.relations.delete(old.def.relNumber);
    this.pgstat.truncateRelation(old.def.relNumber, after.relNumber);
  }

  /** BEGIN: a transaction on this backend (one at a time). */
  begin(options: { isolation?: IsolationLevel } = {}): DatabaseTransaction {
    this.checkOpen();
    if (this.current !== undefined && this.current.state === "in progress") {
      throw new PgsimError(
        "active-transaction",
        "there is already a transaction in progress on this backend: commit or abort it first",
      );
    }
    this.current = new DatabaseTransaction(
      this,
      new Transaction(this.transam, options.isolation ?? "read committed"),
    );
    return this.current;
  }

  /** VACUUM one table (outside any transaction). */
  vacuum(name: string, options: VacuumOptions = {}): VacuumResult {
    this.checkOpen();
    return tableRelationVacuum(this.table(name), options);
  }

  /** CHECKPOINT (a no-op for memory-only databases). */
  checkpoint(): void {
    this.checkOpen();
    this.pool.checkpoint();
  }

  /** The table's size in blocks (main fork). */
  nblocks(name: string): number {
    return this.pool.nblocks(this.table(name).locator, ForkNumber.MAIN);
  }

  /** Copies a fork of a table out of the buffer pool, page by page under share locks. */
  private forkImage(name: string, fork: number): Uint8Array {
    const rel = this.table(name);
    if (!this.pool.relationExists(rel.locator, fork)) return new Uint8Array(0);
    const n = this.pool.nblocks(rel.locator, fork);
    const out = new Uint8Array(n * 8192);
    for (let b = 0; b < n; b++) {
      const buf = this.pool.readBuffer(rel.locator, fork, b);
      this.pool.lockBuffer(buf, "share");
      out.set(this.pool.bufferGetPage(buf), b * 8192);
      this.pool.unlockReleaseBuffer(buf);
    }
    return out;
  }

  /** Like pageinspect's page_header over every block (the shape of `pgsim-inspect page-header`). */
  pageHeaders(name: string): PageHeaderRow[] {
    const image = this.forkImage(name, ForkNumber.MAIN);
    // Pages in the pool carry no checksum until written, as in PostgreSQL's shared buffers.
    return image.length === 0 ? [] : inspectPageHeader(image, { checksums: false });
  }

  /** Like pageinspect's heap_page_items (the shape of `pgsim-inspect heap-page-items`). */
  pageItems(name: string, block?: number): HeapPageItemsBlock[] {
    const image = this.forkImage(name, ForkNumber.MAIN);
    return image.length === 0
      ? []
      : inspectHeapPageItems(image, block === undefined ? {} : { block });
  }

  /** Like pg_freespace(rel): the free space the FSM records per heap block. */
  freeSpace(name: string): FreeSpaceRow[] {
    const heapBlocks = this.nblocks(name);
    const image = this.forkImage(name, ForkNumber.FSM);
    if (image.length === 0)
      return Array.from({ length: heapBlocks }, (_, blkno) => ({ blkno, avail: 0 }));
    return inspectFsm(image, { heapBlocks, checksums: false });
  }

  /** Like pg_visibility_map(rel): the two VM bits per heap block. */
  visibilityMap(name: string): VisibilityMapRow[] {
    const heapBlocks = this.nblocks(name);
    const image = this.forkImage(name, ForkNumber.VISIBILITYMAP);
    if (image.length === 0) {
      return Array.from({ length: heapBlocks }, (_, blkno) => ({
        blkno,
        all_visible: false,
        all_frozen: false,
      }));
    }
    return inspectVm(image, { heapBlocks, checksums: false });
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

  /** Leaves the database: aborts a running transaction, reports leaked pins. */
  close(): DetachReport {
    if (this.closed) return { leakedPins: [], releasedLocks: 0 };
    this.current?.abort();
    // pgstat_shutdown_hook: what this backend counted outside transactions is not lost.
    this.pgstat.reportStat();
    this.closed = true;
    this.transam.resetSlot();
    return this.pool.detach();
  }
}

/** Options of update and delete. */
export interface RowChangeOptions {
  /** NOWAIT: fail at once instead of waiting for another transaction's row lock. */
  nowait?: boolean;
}

/** Options of the statement-level bulk methods (insertBatches, updateAll, deleteAll). */
export interface BulkStatementOptions {
  /**
   * Called as the statement runs (after each batch; every 4096 rows a scan returns; once at the
   * end) with the rows done so far, e.g. to drive a progress bar.
   */
  onProgress?: (rowsDone: number) => void;
}

/** Options of insertBatches. */
export interface InsertBatchesOptions extends BulkStatementOptions {
  /** Rows per batch, i.e. per heap_multi_insert call. Default 1000 (COPY's MAX_BUFFERED_TUPLES). */
  batchRows?: number;
}

/** updateAll and deleteAll report progress every 4096 rows. */
const PROGRESS_EVERY_MASK = 4095;

/** The strength of a row lock, as SQL names it (SELECT ... FOR <mode>). */
export type RowLockMode = "update" | "no key update" | "share" | "key share";

/** Options of lockRow. */
export interface RowLockOptions extends RowChangeOptions {
  /** FOR UPDATE (default), FOR NO KEY UPDATE, FOR SHARE or FOR KEY SHARE. */
  mode?: RowLockMode;
}

/** The table AM's LockTupleMode for each SQL lock strength. */
const ROW_LOCK_MODES: Record<RowLockMode, LockTupleMode> = {
  update: "exclusive",
  "no key update": "no key exclusive",
  share: "share",
  "key share": "key share",
};

/** A transaction on one backend. */
export class DatabaseTransaction {
  private readonly db: Database;
  readonly xact: Transaction;
  private lastBuffers: BufferUsage = ZERO_BUFFER_USAGE;

  constructor(db: Database, xact: Transaction) {
    this.db = db;
    this.xact = xact;
  }

  get state() {
    return this.xact.state;
  }

  /** The transaction id, or 0 if nothing was written yet. */
  get xid(): number {
    return this.xact.xid;
  }

  /** Runs one statement; any error aborts the transaction, as in PostgreSQL. */
  private statement<T>(body: () => T): T {
    this.xact.checkInProgress();
    this.xact.beginStatement();
    const usageBefore = this.db.pool.bufferUsage();
    try {
      return body();
    } catch (e) {
      this.xact.abort();
      throw e;
    } finally {
      this.lastBuffers = bufferUsageDiff(this.db.pool.bufferUsage(), usageBefore);
    }
  }

  /**
   * The buffers the last statement of this transaction used, as `EXPLAIN (ANALYZE, BUFFERS)`
   * counts them for the statement's top plan node: pages found in the pool (shared hit), read
   * from storage (read), made dirty (dirtied) and written out (written — extending the table
   * counts as a write, as in PostgreSQL 15). All zero before the first statement.
   * `formatBufferUsage` prints it as EXPLAIN does.
   *
   * @example
   * ```ts
   * tx.update("accounts", tid, (row) => [row[0], (row[1] as number) + 1]);
   * formatBufferUsage(tx.lastStatementBuffers()); // "Buffers: shared hit=2 dirtied=1"
   * ```
   */
  lastStatementBuffers(): BufferUsage {
    return this.lastBuffers;
  }

  /** INSERT one row; returns its TID. */
  insert(table: string, values: (Datum | null)[]): TID {
    return this.statement(() => {
      const slot = makeSlot(values);
      tableTupleInsert(this.db.table(table), slot, this.xact);
      return slot.tid!;
    });
  }

  /** INSERT many rows in one statement (COPY-like: the multi-insert path, a BULKWRITE ring). */
  insertMany(table: string, rows: (Datum | null)[][]): TID[] {
    return this.statement(() => {
      const rel = this.db.table(table);
      const bistate = new BulkInsertState(this.db.pool.bufferCount);
      try {
        const slots = rows.map((r) => makeSlot(r));
        tableMultiInsert(rel, slots, this.xact, bistate);
        tableFinishBulkInsert(rel);
        return slots.map((s) => s.tid!);
      } finally {
        bistate.release(rel.ctx);
      }
    });
  }

  /**
   * INSERT INTO table SELECT … of `totalRows` rows in one statement, without holding them all:
   * `makeBatch(first, count)` returns rows `first` to `first + count - 1`, and each batch goes
   * through the multi-insert path (heap_multi_insert) with one BulkInsertState (a BULKWRITE ring
   * and the current target page kept pinned) for the whole statement. Returns the number of rows
   * inserted.
   *
   * @example
   * ```ts
   * tx.insertBatches("accounts", 1_000_000, (first, count) =>
   *   Array.from({ length: count }, (_, i) => [first + i + 1, 0]),
   * );
   * ```
   */
  insertBatches(
    table: string,
    totalRows: number,
    makeBatch: (first: number, count: number) => (Datum | null)[][],
    options: InsertBatchesOptions = {},
  ): number {
    return this.statement(() => {
      const batchRows = options.batchRows ?? 1000;
      if (!Number.isSafeInteger(totalRows) || totalRows < 0) {
        throw new PgsimError(
          "invalid-parameter",
          `totalRows must be a non-negative integer, got ${String(totalRows)}`,
        );
      }
      if (!Number.isSafeInteger(batchRows) || batchRows < 1) {
        throw new PgsimError(
          "invalid-parameter",
          `batchRows must be a positive integer, got ${String(batchRows)}`,
        );
      }
      const rel = this.db.table(table);
      const bistate = new BulkInsertState(this.db.pool.bufferCount);
      try {
        for (let first = 0; first < totalRows; first += batchRows) {
          const count = Math.min(batchRows, totalRows - first);
          const rows = makeBatch(first, count);
          if (!Array.isArray(rows) || rows.length !== count) {
            throw new PgsimError(
              "invalid-parameter",
              `makeBatch(${first}, ${count}) must return ${count} rows, got ${Array.isArray(rows) ? rows.length : typeof rows}`,
            );
          }
          tableMultiInsert(
            rel,
            rows.map((r) => makeSlot(r)),
            this.xact,
            bistate,
          );
          options.onProgress?.(first + count);
        }
        tableFinishBulkInsert(rel);
        return totalRows;
      } finally {
        bistate.release(rel.ctx);
      }
    });
  }

  /**
   * UPDATE table SET … with no WHERE clause: one statement that scans the table sequentially
   * under the statement's snapshot and updates every row it sees as it goes, to `values(row)`.
   * Returns the number of rows updated.
   *
   * As in PostgreSQL, the versions the statement creates are not visited again: the scan's
   * block count is fixed when it starts (rs_nblocks), and the statement's own new versions are
   * invisible to its snapshot (their cmin is the current command id). A row that a concurrent
   * transaction changed gets the same treatment as in `update` (READ COMMITTED re-check on the
   * newest version, REPEATABLE READ serialization error).
   *
   * @example
   * ```ts
   * tx.updateAll("accounts", (row) => [row[0], (row[1] as number) + 1]); // abalance + 1
   * ```
   */
  updateAll(
    table: string,
    values: (row: Row) => (Datum | null)[],
    options: BulkStatementOptions = {},
  ): number {
    return this.statement(() => {
      const rel = this.db.table(table);
      // The relation's AM, looked up once for the statement (PostgreSQL's rd_tableam).
      const am = getTableAm(rel.def.am);
      const scan = am.scanBegin(rel, this.xact.snapshot, this.xact);
      let seen = 0;
      let updated = 0;
      try {
        const slot = makeSlot();
        while (am.scanGetNextSlot(scan, "forward", slot)) {
          if (this.updateVersion(rel, am, slot.tid!, slot.values, values, false) !== undefined) {
            updated++;
          }
          if ((++seen & PROGRESS_EVERY_MASK) === 0) options.onProgress?.(seen);
        }
      } finally {
        am.scanEnd(scan);
      }
      options.onProgress?.(seen);
      return updated;
    });
  }

  /**
   * DELETE FROM table with no WHERE clause: one statement that scans the table sequentially under
   * the statement's snapshot and deletes every row it sees as it goes. Returns the number of
   * rows deleted. Concurrent changes are handled as in `delete`.
   *
   * @example
   * ```ts
   * const n = tx.deleteAll("accounts");
   * ```
   */
  deleteAll(table: string, options: BulkStatementOptions = {}): number {
    return this.statement(() => {
      const rel = this.db.table(table);
      const am = getTableAm(rel.def.am);
      const scan = am.scanBegin(rel, this.xact.snapshot, this.xact);
      let seen = 0;
      let deleted = 0;
      try {
        const slot = makeSlot();
        while (am.scanGetNextSlot(scan, "forward", slot)) {
          if (this.deleteVersion(rel, am, slot.tid!, false)) deleted++;
          if ((++seen & PROGRESS_EVERY_MASK) === 0) options.onProgress?.(seen);
        }
      } finally {
        am.scanEnd(scan);
      }
      options.onProgress?.(seen);
      return deleted;
    });
  }

  /** SELECT by TID: the row if this transaction's snapshot sees it. */
  fetch(table: string, tid: TID): Row | undefined {
    return this.statement(() => {
      const slot = makeSlot();
      const found = tableTupleFetchRowVersion(
        this.db.table(table),
        tid,
        this.xact.snapshot,
        this.xact,
        slot,
      );
      return found ? slot.values : undefined;
    });
  }

  /** SELECT *: every visible row with its TID, in physical order. */
  scan(table: string): RowWithTid[] {
    return this.statement(() => {
      const rel = this.db.table(table);
      const scan = tableBeginScan(rel, this.xact.snapshot, this.xact);
      const out: RowWithTid[] = [];
      try {
        const slot = makeSlot();
        while (tableScanGetNextSlot(scan, slot)) out.push({ tid: slot.tid!, row: slot.values });
      } finally {
        tableEndScan(scan);
      }
      return out;
    });
  }

  /**
   * UPDATE … WHERE ctid = tid. `values` are the new row, or a function of the current row.
   * Returns the new version's TID, or undefined when no row was updated: the statement's snapshot
   * does not see a row at `tid` (a TID scan), or the row was deleted concurrently. A row that a
   * concurrent transaction changed while this statement waited for it: under READ COMMITTED the
   * newest version is updated instead (EvalPlanQual); under REPEATABLE READ the error is "could
   * not serialize access due to concurrent update".
   */
  update(
    table: string,
    tid: TID,
    values: (Datum | null)[] | ((row: Row) => (Datum | null)[]),
    options: RowChangeOptions = {},
  ): TID | undefined {
    return this.statement(() => {
      const rel = this.db.table(table);
      const row = this.visibleRow(rel, tid, this.xact.snapshot);
      if (row === undefined) return undefined;
      return this.updateVersion(
        rel,
        getTableAm(rel.def.am),
        tid,
        row,
        values,
        options.nowait === true,
      );
    });
  }

  /**
   * ExecUpdate for one row the statement's snapshot sees (`row` at `tid`): table_tuple_update,
   * and when a concurrent transaction changed the row, the READ COMMITTED re-check on its newest
   * version (EvalPlanQual) or the REPEATABLE READ serialization error. Returns the new TID, or
   * undefined when the row is gone.
   */
  private updateVersion(
    rel: TableRelation,
    am: TableAccessMethod,
    tid: TID,
    row: Row,
    values: (Datum | null)[] | ((row: Row) => (Datum | null)[]),
    nowait: boolean,
  ): TID | undefined {
    let newValues = typeof values === "function" ? values(row) : values;
    let target = tid;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const slot = makeSlot(newValues);
      const out = am.tupleUpdate(rel, target, slot, this.xact, !nowait);
      if (out.result === TM.Ok) return out.newTid;
      const next = this.concurrentChange(rel, out.result, out.failure?.ctid, "update", target);
      if (next === undefined) return undefined;
      // EvalPlanQual: the newest version, re-read and recomputed.
      const newest = this.visibleRow(rel, next, this.latestSnapshot());
      if (newest === undefined) return undefined;
      if (typeof values === "function") newValues = values(newest);
      target = next;
    }
    throw new PgsimError("serialization-failure", "row kept changing under a concurrent update");
  }

  /** DELETE … WHERE ctid = tid. Returns whether a row was deleted (see update for the rules). */
  delete(table: string, tid: TID, options: RowChangeOptions = {}): boolean {
    return this.statement(() => {
      const rel = this.db.table(table);
      if (this.visibleRow(rel, tid, this.xact.snapshot) === undefined) return false;
      return this.deleteVersion(rel, getTableAm(rel.def.am), tid, options.nowait === true);
    });
  }

  /** ExecDelete for one row the statement's snapshot sees (see updateVersion for the rules). */
  private deleteVersion(
    rel: TableRelation,
    am: TableAccessMethod,
    tid: TID,
    nowait: boolean,
  ): boolean {
    let target = tid;
    for (let attempt = 0; attempt < 1000; attempt++) {
      const out = am.tupleDelete(rel, target, this.xact, !nowait);
      if (out.result === TM.Ok) return true;
      const next = this.concurrentChange(rel, out.result, out.failure?.ctid, "delete", target);
      if (next === undefined || this.visibleRow(rel, next, this.latestSnapshot()) === undefined) {
        return false;
      }
      target = next;
    }
    throw new PgsimError("serialization-failure", "row kept changing under a concurrent delete");
  }

  /**
   * SELECT … FOR UPDATE (or `options.mode`: FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE) WHERE
   * ctid = tid. Returns whether a row was locked. One transaction holds a row's lock at a time:
   * a second one waits, whatever the modes (pgsim has no multixacts).
   *
   * @example
   * ```ts
   * tx.lockRow("accounts", tid, { mode: "key share" });
   * ```
   */
  lockRow(table: string, tid: TID, options: RowLockOptions = {}): boolean {
    return this.statement(() => {
      const rel = this.db.table(table);
      if (this.visibleRow(rel, tid, this.xact.snapshot) === undefined) return false;
      let target = tid;
      for (let attempt = 0; attempt < 1000; attempt++) {
        const out = tableTupleLock(
          rel,
          target,
          this.xact,
          ROW_LOCK_MODES[options.mode ?? "update"],
          !options.nowait,
        );
        if (out.result === TM.Ok) return true;
        const next = this.concurrentChange(rel, out.result, out.failure?.ctid, "lock", target);
        if (next === undefined || this.visibleRow(rel, next, this.latestSnapshot()) === undefined) {
          return false;
        }
        target = next;
      }
      throw new PgsimError("serialization-failure", "row kept changing under a concurrent lock");
    });
  }

  /** The row at `tid` if `snapshot` sees it (what a TID scan returns). */
  private visibleRow(
    rel: TableRelation,
    tid: TID,
    snapshot: ReturnType<Transaction["beginStatement"]>,
  ): Row | undefined {
    const slot = makeSlot();
    return tableTupleFetchRowVersion(rel, tid, snapshot, this.xact, slot) ? slot.values : undefined;
  }

  /** A snapshot that sees what committed since the statement began (for the re-check). */
  private latestSnapshot() {
    return this.db.transam.getSnapshot(this.xact.commandId, false);
  }

  /**
   * What ExecUpdate / ExecDelete do when the row was changed by someone else: under REPEATABLE
   * READ, a serialization failure; under READ COMMITTED, the newest version to retry on, or
   * undefined when the row is gone.
   */
  private concurrentChange(
    rel: TableRelation,
    result: number,
    ctid: TID | undefined,
    verb: string,
    tid: TID,
  ): TID | undefined {
    if (result === TM.WouldBlock) {
      throw new PgsimError(
        "lock-not-available",
        `could not obtain lock on row in relation "${rel.name}"`,
        { tid },
      );
    }
    if (result === TM.SelfModified) {
      throw new PgsimError(
        "self-modified",
        `tuple to be ${verb === "delete" ? "deleted" : "updated"} was already modified by an operation of the current command`,
      );
    }
    if (this.xact.isolation === "repeatable read") {
      throw new PgsimError(
        "serialization-failure",
        `could not serialize access due to concurrent ${result === TM.Deleted ? "delete" : "update"}`,
      );
    }
    if (result === TM.Deleted || ctid === undefined) return undefined;
    // READ COMMITTED: follow the chain to the newest version and try again there (EvalPlanQual).
    return tableTupleFindLastVersion(rel, ctid, this.latestSnapshot());
  }

  /** COMMIT. */
  commit(): void {
    this.xact.commit();
  }

  /** ROLLBACK (a no-op if already finished). */
  abort(): void {
    this.xact.abort();
  }
}
