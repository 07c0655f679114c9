/**
 * A transaction on one backend and the statements it runs: INSERT (one row, many, or batches
 * through the bulk-insert path), UPDATE / DELETE by TID or of every row, SELECT by TID or all,
 * and SELECT … FOR UPDATE, each a method call over the table AM's wrappers.
 *
 * Models: src/backend/executor/nodeModifyTable.c (ExecInsert, ExecUpdate, ExecDelete and their
 * handling of TM_Updated / TM_Deleted: the REPEATABLE READ serialization error and the READ
 * COMMITTED re-check), src/backend/executor/execMain.c (EvalPlanQual: the newest version found
 * and re-read), nodeLockRows.c (ExecLockRows), nodeSeqscan.c and nodeTidscan.c (the scans the
 * statements run), commands/copyfrom.c (CopyFrom's bulk insert with a BulkInsertState), and
 * xact.c's statement boundary (an error aborts the transaction).
 * Entry points: `DatabaseTransaction`, `TransactionBackend`, `RowWithTid`, `RowChangeOptions`,
 * `RowLockOptions`, `RowLockMode`, `BulkStatementOptions`, `InsertBatchesOptions`.
 * See also: ../database.ts (Database.begin), ../access/table/tableam.ts (the wrappers).
 *
 * Differs from PostgreSQL: no SQL; a statement is one method call; the READ COMMITTED re-check
 * takes the caller's new values (or a function of the newest row) instead of re-evaluating a
 * WHERE clause.
 */

import {
  type BufferPool,
  type BufferUsage,
  bufferUsageDiff,
  ZERO_BUFFER_USAGE,
} from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { BulkInsertState } from "../access/heap/hio.js";
import {
  BTEqualStrategyNumber,
  BTGreaterEqualStrategyNumber,
  BTLessEqualStrategyNumber,
  BTLessStrategyNumber,
  type IndexRelation,
  type ScanDirection,
  type ScanKey,
  type ScanKeyOperator,
  SK_ISNULL,
  SK_SEARCHARRAY,
  SK_SEARCHNOTNULL,
  SK_SEARCHNULL,
  STRATEGY_OF,
} from "../access/index/amapi.js";
import { btOpclassFor } from "../access/nbtree/nbtcompare.js";
import {
  type ColumnBatch,
  type CompiledAssignment,
  columnBatchRow,
  type LockTupleMode,
  makeSlot,
  type Row,
  type TableRelation,
  type TID,
  TM,
  type TMOutcome,
  tableBeginScan,
  tableEndScan,
  tableFinishBulkInsert,
  tableMultiInsert,
  tableMultiInsertColumns,
  tableScanGetNextSlot,
  tableTupleDelete,
  tableTupleFetchRowVersion,
  tableTupleFindLastVersion,
  tableTupleInsert,
  tableTupleLock,
  tableTupleTidValid,
  tableTupleUpdate,
} from "../access/table/tableam.js";
import type { Transam } from "../access/transam/transam.js";
import type { Transaction } from "../access/transam/xact.js";
import { execInsertIndexTuples } from "../executor/exec-indexing.js";
import {
  type IndexOnlyScanResult,
  runIndexOnlyScan,
  runIndexScan,
} from "../executor/node-indexscan.js";
import { initDirtySnapshot } from "../include/utils/snapshot.js";
import { DEFAULT_LOCK_TIMEOUT_MS, lockTimeoutError } from "../storage/lmgr/lmgr.js";
import type { Datum } from "../utils/adt/type-codec.js";

/** What a transaction needs of the backend it runs on (the Database object). */
export interface TransactionBackend {
  /** The backend's relation entry for a table (relation_openrv). */
  table(name: string): TableRelation;
  /**
   * ExecOpenIndices: the table's indexes, each insert and non-HOT update adds entries to.
   * Absent: the backend has no indexes.
   */
  tableIndexes?(table: string): readonly IndexRelation[];
  /** index_open by name (the index scans' statements). */
  openIndex?(name: string): IndexRelation;
  /** AcceptInvalidationMessages: forget the insert target of tables invalidated since. */
  acceptInvalidationMessages(): void;
  readonly pool: BufferPool;
  readonly transam: Transam;
  /** After COMMIT or ROLLBACK: the backend's end-of-transaction work (a due checkpoint). */
  afterTransactionEnd?(): void;
  /**
   * Before each statement (and COMMIT): refuses work after a PANIC, and makes sure the WAL has
   * room for the statement (`XLogWriter.ensureSegmentsAhead`). `writes` is false for a read
   * (which may still write a little WAL — pruning, hint-bit images — into the WAL buffers).
   */
  beforeStatement?(writes: boolean): void;
  /**
   * Memory-only snapshot persistence (database/snapshot-lock.ts): runs `body` holding the
   * quiesce lock in share mode — a statement that changes data (`statement`), or a commit or
   * abort (`end`) — so that a snapshot never copies the pool halfway through one. `changed`:
   * whether the database changes (a commit of a transaction that wrote). Absent otherwise.
   */
  quiesce?<T>(kind: "statement" | "end", changed: boolean, body: () => T): T;
}

/** A row and where it is. */
export interface RowWithTid {
  tid: TID;
  row: Row;
}

/** Options of update and delete. */
export interface RowChangeOptions {
  /** NOWAIT: fail at once instead of waiting for another transaction's row lock. */
  nowait?: boolean;
  /**
   * The statement's other conditions, as in `WHERE ctid = $1 AND id = 11`: a row at the TID that
   * fails them is left alone (the statement changes nothing), and under READ COMMITTED the
   * newest version of a row changed concurrently is checked again (EvalPlanQual's recheck of
   * the quals). A TID is not a stable name for a row: once the row's version is pruned away its
   * line pointer may hold another row, which only such a condition tells apart.
   */
  where?: (row: Row) => boolean;
}

/** Options of the statement-level bulk methods (insertBatches, updateAll, deleteAll). */
export interface BulkStatementOptions {
  /**
   * Called as the statement runs (after each batch; every 4096 rows a scan returns — page at a
   * time, at the end of the first page past each multiple of 4096; once at the end) with the rows
   * done so far, e.g. to drive a progress bar.
   */
  onProgress?: (rowsDone: number) => void;
  /**
   * updateAll and deleteAll: change the rows a page at a time when the table's access method can
   * (the heap's scanModifyPage: one pin, content lock and dirty mark per page instead of per
   * row). Default true. `false` runs the per-row path (each row the scan returns through
   * table_tuple_update / table_tuple_delete), which leaves byte-identical pages: it is there to
   * compare the two.
   */
  pageAtATime?: boolean;
}

/**
 * One column's new value in a compiled UPDATE … SET (updateAll's second form): `{ add: k }` is
 * `SET c = c + k` for a smallint, integer or bigint column (NULL stays NULL; overflow is
 * PostgreSQL's "integer out of range"), `{ value: v }` is `SET c = v` for any column.
 */
export type UpdateAssignment = { readonly add: number | bigint } | { readonly value: Datum | null };

/**
 * UPDATE … SET for updateAll, by column name, e.g. `{ abalance: { add: 1 } }` for
 * `SET abalance = abalance + 1`: the new row needs no callback, and the heap builds each new
 * version straight from the old one.
 */
export type UpdateSet = Readonly<Record<string, UpdateAssignment>>;

/**
 * The keys of an index statement (indexScan, indexOnlyScan): `eq` values for the leading key
 * columns, a `range` on the column after them, and any other `where` keys on key columns; all are
 * ANDed. No keys: the whole index.
 */
export interface IndexScanOptions {
  /** `=` on the first key column, or one value per leading key column. */
  eq?: Datum | readonly Datum[];
  /** Bounds on the first key column without an `eq` value. */
  range?: { gt?: Datum; gte?: Datum; lt?: Datum; lte?: Datum };
  /**
   * More keys on any key column of the index: `column op value`, `column op ANY (array)` (`any`:
   * the array's elements; an `=` array is scanned element by element in index order), or
   * `column IS NULL` / `IS NOT NULL`.
   */
  where?: readonly IndexWhereKey[];
  /** Index order (default) or its reverse. */
  direction?: ScanDirection;
}

/** One key of IndexScanOptions.where. */
export type IndexWhereKey =
  | { readonly column: string; readonly op: ScanKeyOperator; readonly value: Datum }
  | {
      readonly column: string;
      readonly op: ScanKeyOperator;
      readonly any: readonly (Datum | null)[];
    }
  | { readonly column: string; readonly op: "is null" | "is not null" };

/** Options of insertBatches. */
export interface InsertBatchesOptions extends BulkStatementOptions {
  /** Rows per batch, i.e. per heap_multi_insert call. Default 1000 (COPY's MAX_BUFFERED_TUPLES). */
  batchRows?: number;
}

/** updateAll and deleteAll report progress every 4096 rows. */
const PROGRESS_EVERY_MASK = 4095;

/** How many versions of one row a statement follows before it gives up (EvalPlanQual's bound). */
const EPQ_MAX_ATTEMPTS = 1000;

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
  private readonly db: TransactionBackend;
  readonly xact: Transaction;
  private lastBuffers: BufferUsage = ZERO_BUFFER_USAGE;

  constructor(db: TransactionBackend, xact: Transaction) {
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

  /**
   * The table for a statement of this transaction. Opening a table by name processes pending
   * invalidations first, even when the transaction holds a lock on it already
   * (relation_openrv_extended's AcceptInvalidationMessages).
   */
  private rel(table: string): TableRelation {
    this.db.acceptInvalidationMessages();
    return this.db.table(table);
  }

  /**
   * Runs a statement that writes or locks rows (INSERT, COPY, UPDATE, DELETE, SELECT … FOR
   * UPDATE): its command id counts as used even when it touches no row (ExecutorStart's
   * GetCurrentCommandId(true)), so the next statement gets a new one.
   */
  private modifyingStatement<T>(body: () => T): T {
    return this.statement(() => {
      this.xact.markCommandUsed();
      return body();
    }, true);
  }

  /** Ends the transaction (commit or abort) inside the snapshot quiesce lock, if there is one. */
  private endXact(end: () => void): void {
    if (this.db.quiesce === undefined) end();
    else this.db.quiesce("end", this.xact.xid !== 0, end);
  }

  /**
   * Runs one statement; any error aborts the transaction, as in PostgreSQL. A READ COMMITTED
   * statement's snapshot is released when it ends (Transaction.endStatement).
   */
  private statement<T>(body: () => T, writes = false): T {
    this.xact.checkInProgress();
    try {
      this.db.beforeStatement?.(writes);
    } catch (e) {
      // Refused before it began (a PANIC, or no room for WAL): the transaction is aborted, as
      // any failed statement aborts it.
      try {
        this.xact.abort();
      } catch {
        // After a PANIC nothing can be logged; the transaction ends either way.
      }
      throw e;
    }
    this.xact.beginStatement();
    const usageBefore = this.db.pool.bufferUsage();
    const mark = this.db.pool.resourceMark();
    let result: T;
    try {
      result =
        writes && this.db.quiesce !== undefined ? this.db.quiesce("statement", true, body) : body();
    } catch (e) {
      // AbortTransaction's first steps: content locks, buffer I/O and the statement's pins that a
      // failure left held are released before anything else runs in this backend.
      this.db.pool.errorCleanup(mark);
      try {
        this.endXact(() => this.xact.abort());
      } catch {
        // The abort failed too (e.g. the WAL is unusable after the statement's failure): the
        // statement's own error is the one to report; the transaction has ended either way.
      }
      throw e;
    } finally {
      this.lastBuffers = bufferUsageDiff(this.db.pool.bufferUsage(), usageBefore);
    }
    this.xact.endStatement();
    return result;
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
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const indexes = this.indexesOf(table);
      const slot = makeSlot(values);
      tableTupleInsert(rel, slot, this.xact);
      this.insertIndexEntries(indexes, rel, [slot]);
      return slot.tid!;
    });
  }

  /** ExecOpenIndices for a statement on `table`. */
  private indexesOf(table: string): readonly IndexRelation[] {
    return this.db.tableIndexes?.(table) ?? [];
  }

  /**
   * ExecInsertIndexTuples for each stored slot (its row and TID): every index gets its entry,
   * unique indexes checked.
   */
  private insertIndexEntries(
    indexes: readonly IndexRelation[],
    rel: TableRelation,
    slots: readonly { values: Row; tid: TID | undefined }[],
  ): void {
    if (indexes.length === 0) return;
    for (const slot of slots)
      execInsertIndexTuples(indexes, rel, slot.values, slot.tid!, this.xact);
  }

  /**
   * INSERT … VALUES (…), (…): one statement (one command id) that inserts each row in turn with
   * heap_insert, as PostgreSQL's executor does for a VALUES list (no bulk-insert state). Returns
   * their TIDs in order.
   *
   * @example
   * ```ts
   * const [a, b] = tx.insertRows("accounts", [[1, 0], [2, 0]]);
   * ```
   */
  insertRows(table: string, rows: (Datum | null)[][]): TID[] {
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const indexes = this.indexesOf(table);
      return rows.map((values) => {
        const slot = makeSlot(values);
        tableTupleInsert(rel, slot, this.xact);
        this.insertIndexEntries(indexes, rel, [slot]);
        return slot.tid!;
      });
    });
  }

  /**
   * COPY … FROM: many rows in one statement through the multi-insert path (a BULKWRITE ring).
   * As CopyFrom does, the rows are buffered and handed to heap_multi_insert in batches: a batch
   * ends after 1000 rows (MAX_BUFFERED_TUPLES) or once the rows' input lines add up to 65535
   * bytes (MAX_BUFFERED_BYTES) — so the pages and the WAL records (one MULTI_INSERT per page of
   * a batch, LAST_IN_MULTI on each batch's last) are COPY's.
   *
   * Differs from PostgreSQL: the input lines are the rows' canonical COPY text (each value's
   * output function, escaped, tab-separated), since the rows arrive as values.
   */
  insertMany(table: string, rows: (Datum | null)[][]): TID[] {
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const indexes = this.indexesOf(table);
      const bistate = new BulkInsertState(this.db.pool.bufferCount);
      try {
        const slots = rows.map((r) => makeSlot(r));
        // CopyMultiInsertBufferFlush: the batch goes to the heap, then each row to the indexes.
        const flush = (batch: typeof slots) => {
          tableMultiInsert(rel, batch, this.xact, bistate);
          this.insertIndexEntries(indexes, rel, batch);
        };
        let first = 0;
        let bytes = 0;
        for (let i = 0; i < slots.length; i++) {
          bytes += copyLineLength(rel, rows[i]!);
          const tuples = i + 1 - first;
          if (tuples >= COPY_MAX_BUFFERED_TUPLES || bytes >= COPY_MAX_BUFFERED_BYTES) {
            flush(slots.slice(first, i + 1));
            first = i + 1;
            bytes = 0;
          }
        }
        if (first < slots.length) flush(slots.slice(first));
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
   * A batch is either an array of rows or a `ColumnBatch`, `{ columns }` with one array per
   * column (`count` values each). Both leave the same pages (and WAL); the columnar form with a
   * typed array per column (Int32Array for integer, …, see ColumnValues) lets the heap form each
   * tuple straight into its page with no object per row, when every column of the table is
   * smallint, integer, bigint, real or double precision. The typed arrays may be reused from
   * batch to batch: the values are copied before makeBatch is called again.
   *
   * @example
   * ```ts
   * tx.insertBatches("accounts", 1_000_000, (first, count) =>
   *   Array.from({ length: count }, (_, i) => [first + i + 1, 0]),
   * );
   * // The same rows, column by column:
   * tx.insertBatches("accounts", 1_000_000, (first, count) => ({
   *   columns: [Int32Array.from({ length: count }, (_, i) => first + i + 1), new Int32Array(count)],
   * }));
   * ```
   */
  insertBatches(
    table: string,
    totalRows: number,
    makeBatch: (first: number, count: number) => (Datum | null)[][] | ColumnBatch,
    options: InsertBatchesOptions = {},
  ): number {
    return this.modifyingStatement(() => {
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
      const rel = this.rel(table);
      const indexes = this.indexesOf(table);
      const bistate = new BulkInsertState(this.db.pool.bufferCount);
      try {
        for (let first = 0; first < totalRows; first += batchRows) {
          const count = Math.min(batchRows, totalRows - first);
          const rows = makeBatch(first, count);
          if (Array.isArray(rows)) {
            if (rows.length !== count) {
              throw new PgsimError(
                "invalid-parameter",
                `makeBatch(${first}, ${count}) must return ${count} rows, got ${rows.length}`,
              );
            }
            const slots = rows.map((r) => makeSlot(r));
            tableMultiInsert(rel, slots, this.xact, bistate);
            this.insertIndexEntries(indexes, rel, slots);
          } else {
            checkColumnBatch(rel, rows, first, count);
            if (indexes.length === 0) {
              tableMultiInsertColumns(rel, rows, count, this.xact, bistate);
            } else {
              // The index entries need each row's TID, which only the slot path reports.
              const slots = Array.from({ length: count }, (_, i) =>
                makeSlot(columnBatchRow(rows, i)),
              );
              tableMultiInsert(rel, slots, this.xact, bistate);
              this.insertIndexEntries(indexes, rel, slots);
            }
          }
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
   * under the statement's snapshot and updates every row it sees as it goes. The new row is
   * `values(row)`, or compiled from an `UpdateSet` such as `{ abalance: { add: 1 } }` (`SET
   * abalance = abalance + 1`) or `{ status: { value: "closed" } }`. Returns the number of rows
   * updated.
   *
   * As in PostgreSQL, the versions the statement creates are not visited again: the scan's
   * block count is fixed when it starts (rs_nblocks), and the statement's own new versions are
   * invisible to its snapshot (their cmin is the current command id). A row that a concurrent
   * transaction changed gets the same treatment as in `update` (READ COMMITTED re-check on the
   * newest version, REPEATABLE READ serialization error).
   *
   * The heap changes the rows a page at a time (see `pageAtATime`). Differs from PostgreSQL: a
   * callback is then called for each page's rows before any of them is changed (PostgreSQL
   * computes each new row just before its heap_update), so it must be a function of the row
   * alone and must not run statements itself; and the statement's buffer counts
   * (`lastStatementBuffers`) show one pin per page rather than per row.
   *
   * @example
   * ```ts
   * tx.updateAll("accounts", (row) => [row[0], (row[1] as number) + 1]); // abalance + 1
   * tx.updateAll("accounts", { abalance: { add: 1 } }); // the same, compiled
   * ```
   */
  updateAll(
    table: string,
    values: ((row: Row) => (Datum | null)[]) | UpdateSet,
    options: BulkStatementOptions = {},
  ): number {
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const compiled = typeof values === "function" ? undefined : compileUpdateSet(rel, values);
      const newRow = typeof values === "function" ? values : compiled!.newRow;
      const scan = tableBeginScan(rel, this.xact.snapshot, this.xact);
      let seen = 0;
      let updated = 0;
      // A table with indexes is updated row by row: each non-HOT new version needs its entries.
      const pageAtATime =
        options.pageAtATime !== false &&
        rel.am.scanModifyPage !== undefined &&
        this.indexesOf(table).length === 0;
      try {
        if (pageAtATime) {
          const op = {
            kind: "update",
            newRow,
            ...(compiled !== undefined ? { compiled: compiled.assignments } : {}),
          } as const;
          const perRow = (tid: TID, row: Row, newValues: Row | undefined) =>
            this.updateVersion(rel, tid, row, newRow, false, newValues) !== undefined;
          for (;;) {
            const r = rel.am.scanModifyPage!(scan, op, this.xact, perRow);
            if (r === undefined) break;
            const before = seen;
            seen += r.seen;
            updated += r.changed;
            if (seen >> 12 !== before >> 12) options.onProgress?.(seen);
          }
        } else {
          const slot = makeSlot();
          while (tableScanGetNextSlot(scan, slot)) {
            if (this.updateVersion(rel, slot.tid!, slot.values, newRow, false) !== undefined) {
              updated++;
            }
            if ((++seen & PROGRESS_EVERY_MASK) === 0) options.onProgress?.(seen);
          }
        }
      } finally {
        tableEndScan(scan);
      }
      options.onProgress?.(seen);
      return updated;
    });
  }

  /**
   * DELETE FROM table with no WHERE clause: one statement that scans the table sequentially under
   * the statement's snapshot and deletes every row it sees as it goes, a page at a time where the
   * access method can (see `pageAtATime`). Returns the number of rows deleted. Concurrent changes
   * are handled as in `delete`.
   *
   * @example
   * ```ts
   * const n = tx.deleteAll("accounts");
   * ```
   */
  deleteAll(table: string, options: BulkStatementOptions = {}): number {
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const scan = tableBeginScan(rel, this.xact.snapshot, this.xact);
      let seen = 0;
      let deleted = 0;
      try {
        if (options.pageAtATime !== false && rel.am.scanModifyPage !== undefined) {
          const op = { kind: "delete" } as const;
          const perRow = (tid: TID) => this.deleteVersion(rel, tid, false);
          for (;;) {
            const r = rel.am.scanModifyPage(scan, op, this.xact, perRow);
            if (r === undefined) break;
            const before = seen;
            seen += r.seen;
            deleted += r.changed;
            if (seen >> 12 !== before >> 12) options.onProgress?.(seen);
          }
        } else {
          const slot = makeSlot();
          while (tableScanGetNextSlot(scan, slot)) {
            if (this.deleteVersion(rel, slot.tid!, false)) deleted++;
            if ((++seen & PROGRESS_EVERY_MASK) === 0) options.onProgress?.(seen);
          }
        }
      } finally {
        tableEndScan(scan);
      }
      options.onProgress?.(seen);
      return deleted;
    });
  }

  /**
   * SELECT * FROM table WHERE <keys> ORDER BY <index columns> through an index scan: every row
   * the statement's snapshot sees whose key matches, in index order (`direction: "backward"`:
   * reversed). `eq` gives `=` values for the leading index columns; `range` bounds the column
   * after them; `where` adds any `column op value` keys on index columns. The index's entries
   * for rows dead to everyone are marked LP_DEAD on the way (kill_prior_tuple).
   *
   * @example
   * ```ts
   * tx.indexScan("accounts_pkey", { eq: 42 }); // [{ tid, row: [42, 100] }]
   * tx.indexScan("accounts_pkey", { range: { gte: 10, lt: 20 }, direction: "backward" });
   * // WHERE a = ANY('{1,2}') AND b IS NULL, on an index of (a, b)
   * tx.indexScan("t_a_b", {
   *   where: [{ column: "a", op: "=", any: [1, 2] }, { column: "b", op: "is null" }],
   * });
   * ```
   */
  indexScan(index: string, options: IndexScanOptions = {}): RowWithTid[] {
    return this.statement(() => {
      const { heap, idx, keys, direction } = this.indexScanSetup(index, options);
      return runIndexScan(heap, idx, keys, direction, this.xact.snapshot, this.xact);
    });
  }

  /**
   * SELECT <index columns> … through an index-only scan: the key values of every matching entry
   * whose row the snapshot sees, in index order. The heap is read only for entries on heap pages
   * the visibility map does not mark all-visible (`heapFetches` counts them, EXPLAIN's "Heap
   * Fetches").
   *
   * @example
   * ```ts
   * db.vacuum("accounts"); // sets the all-visible bits
   * const r = tx.indexOnlyScan("accounts_pkey", { range: { lte: 100 } });
   * console.log(r.rows.length, r.heapFetches); // 100 0
   * ```
   */
  indexOnlyScan(index: string, options: IndexScanOptions = {}): IndexOnlyScanResult {
    return this.statement(() => {
      const { heap, idx, keys, direction } = this.indexScanSetup(index, options);
      return runIndexOnlyScan(heap, idx, keys, direction, this.xact.snapshot, this.xact);
    });
  }

  /**
   * SELECT * … WHERE <key columns> = key through the index: the first visible row with that key
   * (the only one, for a unique index), or undefined.
   *
   * @example
   * ```ts
   * const hit = tx.fetchByKey("accounts_pkey", 42); // { tid, row } | undefined
   * ```
   */
  fetchByKey(index: string, key: Datum | readonly Datum[]): RowWithTid | undefined {
    return this.indexScan(index, { eq: key })[0];
  }

  /**
   * UPDATE table SET … WHERE <key columns> = key: finds the rows through the index (the
   * statement's snapshot), then updates each as `update` does (same concurrency rules). Returns
   * the number of rows updated.
   *
   * @example
   * ```ts
   * tx.updateByKey("accounts_pkey", 42, (row) => [row[0], (row[1] as number) + 1]);
   * ```
   */
  updateByKey(
    index: string,
    key: Datum | readonly Datum[],
    values: (Datum | null)[] | ((row: Row) => (Datum | null)[]),
    options: RowChangeOptions = {},
  ): number {
    return this.modifyingStatement(() => {
      const { heap, idx, keys, direction } = this.indexScanSetup(index, { eq: key });
      const found = runIndexScan(heap, idx, keys, direction, this.xact.snapshot, this.xact);
      // EvalPlanQual rechecks the index quals on a row changed concurrently (its key may be
      // another now), and the caller's own conditions.
      const where = andWhere(indexQualOf(heap, idx, keys), options.where);
      let updated = 0;
      for (const { tid, row } of found) {
        if (options.where !== undefined && !options.where(row)) continue;
        const nowait = options.nowait === true;
        if (this.updateVersion(heap, tid, row, values, nowait, undefined, where) !== undefined) {
          updated++;
        }
      }
      return updated;
    });
  }

  /**
   * DELETE FROM table WHERE <key columns> = key, finding the rows through the index. Returns the
   * number of rows deleted.
   *
   * @example
   * ```ts
   * tx.deleteByKey("accounts_pkey", 42); // 1
   * ```
   */
  deleteByKey(
    index: string,
    key: Datum | readonly Datum[],
    options: RowChangeOptions = {},
  ): number {
    return this.modifyingStatement(() => {
      const { heap, idx, keys, direction } = this.indexScanSetup(index, { eq: key });
      const found = runIndexScan(heap, idx, keys, direction, this.xact.snapshot, this.xact);
      const where = andWhere(indexQualOf(heap, idx, keys), options.where);
      let deleted = 0;
      for (const { tid, row } of found) {
        if (options.where !== undefined && !options.where(row)) continue;
        if (this.deleteVersion(heap, tid, options.nowait === true, where)) deleted++;
      }
      return deleted;
    });
  }

  /**
   * The index, its table and the scan keys of an index statement: values coerced to the
   * columns' types; NULL or an unknown column or operator is bad input.
   */
  private indexScanSetup(
    index: string,
    options: IndexScanOptions,
  ): { heap: TableRelation; idx: IndexRelation; keys: ScanKey[]; direction: ScanDirection } {
    if (this.db.openIndex === undefined) {
      throw new PgsimError("feature-not-supported", "this backend has no indexes");
    }
    const idx = this.db.openIndex(index);
    this.db.acceptInvalidationMessages();
    const heap = this.db.table(idx.def.table);
    const direction = options.direction ?? "forward";
    if (direction !== "forward" && direction !== "backward") {
      throw new PgsimError(
        "invalid-parameter",
        `direction must be "forward" or "backward", got ${String(direction)}`,
      );
    }
    const keys: ScanKey[] = [];
    const columnOf = (attno: number) => {
      const column = idx.columnNames[attno - 1];
      if (column === undefined) {
        throw new PgsimError(
          "invalid-parameter",
          `index "${index}" has ${idx.columnNames.length} key columns; a key was given for column ${attno}`,
        );
      }
      return column;
    };
    const strategyOf = (op: string) => {
      if (!(op in STRATEGY_OF)) {
        throw new PgsimError(
          "invalid-parameter",
          `unknown operator ${String(op)}: use <, <=, =, >=, >, "is null" or "is not null"`,
        );
      }
      return STRATEGY_OF[op as ScanKeyOperator];
    };
    const coerce = (attno: number, raw: unknown): Datum => {
      const att = heap.desc.attrs[idx.heapAttIndexes[attno - 1]!]!;
      return att.codec === null
        ? (raw as Datum)
        : (att.codec.coerce(raw as never, att.atttypmod) as Datum);
    };
    const add = (attno: number, op: ScanKeyOperator, raw: unknown) => {
      const column = columnOf(attno);
      const strategy = strategyOf(op);
      if (raw === null || raw === undefined) {
        throw new PgsimError(
          "invalid-parameter",
          `a key for column "${column}" of index "${index}" must not be NULL (a comparison with NULL matches no row)`,
        );
      }
      keys.push({ attno, strategy, argument: coerce(attno, raw) });
    };
    const eq =
      options.eq === undefined ? [] : Array.isArray(options.eq) ? options.eq : [options.eq];
    for (let i = 0; i < eq.length; i++) add(i + 1, "=", eq[i]);
    if (options.range !== undefined) {
      const attno = eq.length + 1;
      const r = options.range;
      if (r.gt !== undefined) add(attno, ">", r.gt);
      if (r.gte !== undefined) add(attno, ">=", r.gte);
      if (r.lt !== undefined) add(attno, "<", r.lt);
      if (r.lte !== undefined) add(attno, "<=", r.lte);
    }
    for (const w of options.where ?? []) {
      const attno = idx.columnNames.indexOf(w.column) + 1;
      if (attno === 0) {
        throw new PgsimError(
          "undefined-column",
          `column "${w.column}" is not a key column of index "${index}"`,
          { column: w.column },
        );
      }
      if (w.op === "is null" || w.op === "is not null") {
        // ScanKeyEntryInitialize for a NullTest: SK_ISNULL with SK_SEARCHNULL / SK_SEARCHNOTNULL.
        const flags = SK_ISNULL | (w.op === "is null" ? SK_SEARCHNULL : SK_SEARCHNOTNULL);
        keys.push({ attno, strategy: 0, argument: null, flags });
      } else if ("any" in w) {
        const strategy = strategyOf(w.op);
        if (!Array.isArray(w.any)) {
          throw new PgsimError(
            "invalid-parameter",
            `"any" for column "${w.column}" of index "${index}" must be an array`,
          );
        }
        // ScalarArrayOpExpr: the elements coerced to the column's type; NULLs match nothing.
        const elements = w.any.map((e) =>
          e === null || e === undefined ? null : coerce(attno, e),
        );
        keys.push({ attno, strategy, argument: null, flags: SK_SEARCHARRAY, elements });
      } else {
        add(attno, w.op as ScanKeyOperator, (w as { value: unknown }).value);
      }
    }
    return { heap, idx, keys, direction };
  }

  /** SELECT by TID: the row if this transaction's snapshot sees it. */
  fetch(table: string, tid: TID): Row | undefined {
    return this.statement(() => this.visibleRow(this.rel(table), tid, this.xact.snapshot));
  }

  /** SELECT *: every visible row with its TID, in physical order. */
  scan(table: string): RowWithTid[] {
    return this.statement(() => {
      const rel = this.rel(table);
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
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const row = this.visibleRow(rel, tid, this.xact.snapshot);
      if (row === undefined) return undefined;
      const where = options.where;
      if (where !== undefined && !where(row)) return undefined;
      return this.updateVersion(rel, tid, row, values, options.nowait === true, undefined, where);
    });
  }

  /**
   * ExecUpdate for one row the statement's snapshot sees (`row` at `tid`): table_tuple_update,
   * with the handling of a concurrent change that all three row statements share
   * (changeRowVersion). Under READ COMMITTED a function `values` is applied to the newest version.
   * `computed` is `values(row)` when the caller has it already (a page-at-a-time statement).
   * Returns the new TID, or undefined when the row is gone.
   */
  private updateVersion(
    rel: TableRelation,
    tid: TID,
    row: Row,
    values: (Datum | null)[] | ((row: Row) => (Datum | null)[]),
    nowait: boolean,
    computed?: (Datum | null)[],
    where?: (row: Row) => boolean,
  ): TID | undefined {
    let newValues = computed ?? (typeof values === "function" ? values(row) : values);
    let newTid: TID | undefined;
    const updated = this.changeRowVersion(
      rel,
      tid,
      "update",
      nowait,
      (target) => {
        const out = tableTupleUpdate(rel, target, makeSlot(newValues), this.xact, !nowait);
        newTid = out.newTid;
        // ExecUpdate: a non-HOT new version gets an entry in every index.
        if (out.result === TM.Ok && out.updateIndexes) {
          this.insertIndexEntries(this.indexesOf(rel.name), rel, [
            { values: newValues, tid: out.newTid },
          ]);
        }
        return out;
      },
      typeof values === "function" || where !== undefined
        ? (newest) => {
            if (where !== undefined && !where(newest)) return false;
            if (typeof values === "function") newValues = values(newest);
            return true;
          }
        : undefined,
      updateLockMode(rel, row, newValues),
    );
    return updated ? newTid : undefined;
  }

  /** DELETE … WHERE ctid = tid. Returns whether a row was deleted (see update for the rules). */
  delete(table: string, tid: TID, options: RowChangeOptions = {}): boolean {
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const row = this.visibleRow(rel, tid, this.xact.snapshot);
      if (row === undefined) return false;
      const where = options.where;
      if (where !== undefined && !where(row)) return false;
      return this.deleteVersion(rel, tid, options.nowait === true, where);
    });
  }

  /** ExecDelete for one row the statement's snapshot sees (see updateVersion for the rules). */
  private deleteVersion(
    rel: TableRelation,
    tid: TID,
    nowait: boolean,
    where?: (row: Row) => boolean,
  ): boolean {
    return this.changeRowVersion(
      rel,
      tid,
      "delete",
      nowait,
      (target) => tableTupleDelete(rel, target, this.xact, !nowait),
      where,
      "exclusive",
    );
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
    return this.modifyingStatement(() => {
      const rel = this.rel(table);
      const row = this.visibleRow(rel, tid, this.xact.snapshot);
      if (row === undefined) return false;
      const where = options.where;
      if (where !== undefined && !where(row)) return false;
      const mode = ROW_LOCK_MODES[options.mode ?? "update"];
      return this.changeRowVersion(
        rel,
        tid,
        "lock",
        options.nowait === true,
        (target) => tableTupleLock(rel, target, this.xact, mode, !options.nowait),
        where,
        mode,
      );
    });
  }

  /**
   * What ExecUpdate, ExecDelete and ExecLockRows share: `change` is tried on the version at `tid`
   * (table_tuple_update / _delete / _lock) and, until it succeeds:
   *
   * 1. TM.Ok: done; returns true.
   * 2. Any other result goes to concurrentChange: NOWAIT's WouldBlock, SelfModified and, under
   *    REPEATABLE READ, Updated / Deleted are errors; under READ COMMITTED a deleted row is gone
   *    (returns false) and an updated one is followed to its newest version by commit status.
   * 3. fetchNewestVersion reads that version under SnapshotDirty, waiting for a transaction still
   *    running on it and walking on (EvalPlanQual's fetch); if the row was deleted meanwhile it is
   *    gone: returns false.
   * 4. That version is locked in `lockMode` (heapam_tuple_lock's heap_lock_tuple: ExecUpdate's
   *    lock mode, LockTupleExclusive for a DELETE, the requested mode for a row lock). A version
   *    changed again before the lock is taken goes back to step 2.
   * 5. `recheck` gets the locked row (EvalPlanQual: an UPDATE recomputes its new values from it;
   *    the statement's conditions are checked again — false: the row no longer qualifies and
   *    returns false, **still locked** until the transaction ends, as in PostgreSQL). A row lock
   *    is then done; an UPDATE or DELETE is tried on the locked version (its own lock lets it).
   *
   * Bounded: a row that keeps changing under the statement is a serialization failure after
   * EPQ_MAX_ATTEMPTS tries.
   */
  private changeRowVersion(
    rel: TableRelation,
    tid: TID,
    verb: "update" | "delete" | "lock",
    nowait: boolean,
    change: (target: TID) => TMOutcome,
    recheck: ((newest: Row) => boolean) | undefined,
    lockMode: LockTupleMode,
  ): boolean {
    let target = tid;
    let newestRow: Row | undefined;
    for (let attempt = 0; attempt < EPQ_MAX_ATTEMPTS; attempt++) {
      let out: TMOutcome;
      if (newestRow === undefined) {
        out = change(target);
      } else {
        out = tableTupleLock(rel, target, this.xact, lockMode, !nowait);
        if (out.result === TM.Ok) {
          if (recheck !== undefined && !recheck(newestRow)) return false;
          if (verb === "lock") return true;
          out = change(target);
        }
      }
      if (out.result === TM.Ok) return true;
      const next = this.concurrentChange(rel, out.result, out.failure?.ctid, verb, target);
      if (next === undefined) return false;
      const newest = this.fetchNewestVersion(rel, next, nowait, verb);
      if (newest === undefined) return false;
      target = newest.tid;
      newestRow = newest.row;
    }
    throw new PgsimError("serialization-failure", `row kept changing under a concurrent ${verb}`);
  }

  /**
   * EvalPlanQual's fetch of a row's newest version (heapam_tuple_lock's loop under
   * TUPLE_LOCK_FLAG_FIND_LAST_VERSION): the version `tid` the walk by commit status ended on is
   * read with SnapshotDirty, whatever the statement's snapshot, and
   *
   * 1. seen with no transaction running on it: it is the newest version — returned with its row;
   * 2. seen while its inserter (a commit not yet out of the proc array) or its updater or deleter
   *    is running: wait for that transaction (XactLockTableWait; under NOWAIT "could not obtain
   *    lock on row"), walk on from the version by commit status and read again;
   * 3. not seen (its inserter aborted, or a committed transaction deleted it): walk on if a
   *    committed update leads further, else the row is gone — undefined.
   *
   * Bounded by EPQ_MAX_ATTEMPTS versions and waits; each wait by lock_timeout.
   */
  private fetchNewestVersion(
    rel: TableRelation,
    tid: TID,
    nowait: boolean,
    verb: string,
  ): { tid: TID; row: Row } | undefined {
    let current = tid;
    for (let steps = 0; steps < EPQ_MAX_ATTEMPTS; steps++) {
      const dirty = initDirtySnapshot();
      const slot = makeSlot();
      const seen = tableTupleFetchRowVersion(rel, current, dirty, this.xact, slot);
      const xwait = dirty.xmin !== 0 ? dirty.xmin : dirty.xmax;
      if (seen && xwait === 0) return { tid: current, row: slot.values };
      if (xwait !== 0) this.waitForRowChanger(rel, xwait, nowait, current);
      const further = tableTupleFindLastVersion(rel, current, this.latestSnapshot());
      if (xwait === 0 && tidEqual(further, current)) return undefined;
      current = further;
    }
    throw new PgsimError("serialization-failure", `row kept changing under a concurrent ${verb}`);
  }

  /**
   * XactLockTableWait for the transaction running on a row version (heapam_tuple_lock's
   * LockWaitBlock), or, under NOWAIT (LockWaitError), "could not obtain lock on row in relation";
   * "canceling statement due to lock timeout" after lock_timeout.
   */
  private waitForRowChanger(rel: TableRelation, xid: number, nowait: boolean, tid: TID): void {
    if (nowait) {
      throw new PgsimError(
        "lock-not-available",
        `could not obtain lock on row in relation "${rel.name}"`,
        { tid },
      );
    }
    const ctx = rel.ctx;
    const ended = ctx.transam.waitForTransaction(xid, {
      deadlockTimeoutMs: ctx.deadlockTimeoutMs ?? 1000,
      timeoutMs: ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    });
    if (!ended) throw lockTimeoutError(xid);
  }

  /**
   * The row at `tid` if `snapshot` sees it (what a TID scan returns). A TID outside the table
   * (a block past its end, offset 0) names no row, as TidNext skips what table_tuple_tid_valid
   * rejects; a TID that is not a pair of non-negative integers is bad input.
   */
  private visibleRow(
    rel: TableRelation,
    tid: TID,
    snapshot: ReturnType<Transaction["beginStatement"]>,
  ): Row | undefined {
    checkTidShape(tid, rel.name);
    // TidNext: a TID the scan's table_tuple_tid_valid rejects is skipped.
    const scan = tableBeginScan(rel, snapshot, this.xact);
    try {
      if (tid.offset === 0 || !tableTupleTidValid(scan, tid)) return undefined;
    } finally {
      tableEndScan(scan);
    }
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
    if (this.xact.state === "in progress") {
      try {
        // A commit record needs room in the WAL when the transaction has an xid.
        this.db.beforeStatement?.(this.xact.xid !== 0);
      } catch (e) {
        // An error at COMMIT aborts the transaction, as in PostgreSQL.
        try {
          this.xact.abort();
        } catch {
          // After a PANIC nothing can be logged; the transaction ends either way.
        }
        throw e;
      }
    }
    this.endXact(() => this.xact.commit());
    this.db.afterTransactionEnd?.();
  }

  /** ROLLBACK (a no-op if already finished). */
  abort(): void {
    this.endXact(() => this.xact.abort());
  }
}

/** Whether two TIDs name the same line pointer. */
function tidEqual(a: TID, b: TID): boolean {
  return a.block === b.block && a.offset === b.offset;
}

/**
 * ExecUpdateLockMode: the lock an UPDATE takes on a row changed concurrently before EvalPlanQual
 * looks at it — LockTupleExclusive when the update changes a key column (one of a unique index),
 * else LockTupleNoKeyExclusive.
 *
 * Differs from PostgreSQL: PostgreSQL asks whether the statement's SET list names a key column
 * (the plan's updatedCols); pgsim's UPDATE gets whole new rows, so a key column counts as updated
 * when its new value is not the one the statement saw (a value that is not a number, bigint,
 * string or boolean counts as changed).
 */
function updateLockMode(
  rel: TableRelation,
  seen: Row,
  newValues: readonly unknown[],
): LockTupleMode {
  for (const k of rel.keyAttrs) {
    const a = seen[k];
    const b = newValues[k];
    if (a === b && (a === null || typeof a !== "object")) continue;
    return "exclusive";
  }
  return "no key exclusive";
}

/**
 * An index scan's keys as a condition on a heap row (the executor's indexqualorig): what
 * EvalPlanQual checks again on the newest version of a row another transaction changed, so that
 * a statement "WHERE key = k" leaves alone a row whose key is no longer k. Compared with the
 * key columns' B-tree ORDER functions.
 */
function indexQualOf(
  heap: TableRelation,
  idx: IndexRelation,
  keys: readonly ScanKey[],
): (row: Row) => boolean {
  const checks = keys.map((k) => {
    const column = idx.heapAttIndexes[k.attno - 1]!;
    const att = heap.desc.attrs[column]!;
    const flags = k.flags ?? 0;
    return {
      column,
      flags,
      strategy: k.strategy,
      // `op ANY (array)`: true when any non-NULL element passes.
      arguments: (flags & SK_SEARCHARRAY) !== 0 ? (k.elements ?? []) : [k.argument],
      cmp: btOpclassFor(att.typname ?? "", att.attname).cmp,
    };
  });
  const holds = (strategy: number, r: number) => {
    switch (strategy) {
      case BTLessStrategyNumber:
        return r < 0;
      case BTLessEqualStrategyNumber:
        return r <= 0;
      case BTEqualStrategyNumber:
        return r === 0;
      case BTGreaterEqualStrategyNumber:
        return r >= 0;
      default:
        return r > 0;
    }
  };
  return (row) =>
    checks.every((c) => {
      const value = row[c.column];
      const isNull = value === null || value === undefined;
      if ((c.flags & SK_ISNULL) !== 0) {
        return (c.flags & SK_SEARCHNULL) !== 0 ? isNull : !isNull;
      }
      if (isNull) return false;
      return c.arguments.some((a) => a !== null && holds(c.strategy, c.cmp(value, a)));
    });
}

function andWhere(
  a: (row: Row) => boolean,
  b: ((row: Row) => boolean) | undefined,
): (row: Row) => boolean {
  return b === undefined ? a : (row) => a(row) && b(row);
}

/** copyfrom.c's MAX_BUFFERED_TUPLES and MAX_BUFFERED_BYTES: when a COPY batch is flushed. */
const COPY_MAX_BUFFERED_TUPLES = 1000;
const COPY_MAX_BUFFERED_BYTES = 65535;
const utf8 = new TextEncoder();

/**
 * The length in bytes of a row's line in COPY's text format, without its newline (CopyReadLine's
 * line_buf.len): each value's output text with backslash, backspace, form feed, newline,
 * carriage return, tab and vertical tab escaped by a backslash (CopyAttributeOutText), NULL as
 * `\N`, values separated by tabs.
 */
function copyLineLength(rel: TableRelation, row: readonly (Datum | null)[]): number {
  let bytes = 0;
  let fields = 0;
  rel.desc.attrs.forEach((att, i) => {
    if (att.attisdropped) return;
    fields++;
    const value = row[i] ?? null;
    if (value === null || att.codec === null) {
      bytes += 2;
      return;
    }
    const text = att.codec.output(value as never, att.atttypmod);
    bytes += utf8.encode(text).length;
    for (let k = 0; k < text.length; k++) {
      const c = text.charCodeAt(k);
      if (c === 0x5c || (c >= 0x08 && c <= 0x0d)) bytes++;
    }
  });
  return bytes + Math.max(0, fields - 1);
}

/** The integer types `{ add: k }` compiles for (int2pl, int4pl, int8pl). */
const ADDABLE_TYPES = new Set(["int2", "int4", "int8"]);

/**
 * An UpdateSet checked against the table and compiled: the assignments by descriptor position
 * (for the access method) and the same change as a function of the row (for the per-row path
 * and the READ COMMITTED re-check). Constants are coerced to their columns' types here, once.
 */
function compileUpdateSet(
  rel: TableRelation,
  set: UpdateSet,
): { assignments: CompiledAssignment[]; newRow: (row: Row) => Row } {
  if (set === null || typeof set !== "object" || Array.isArray(set)) {
    throw new PgsimError(
      "invalid-parameter",
      "updateAll needs a function of the row or an object of column assignments",
    );
  }
  const assignments: CompiledAssignment[] = [];
  const rowAssignments: { index: number; add?: number | bigint; value?: Datum | null }[] = [];
  let liveIndex = -1;
  const byName = new Map<string, { attnum: number; index: number }>();
  rel.desc.attrs.forEach((att, attnum) => {
    if (att.attisdropped) return;
    liveIndex++;
    byName.set(att.attname, { attnum, index: liveIndex });
  });
  for (const [column, assignment] of Object.entries(set)) {
    const at = byName.get(column);
    if (at === undefined) {
      throw new PgsimError(
        "undefined-column",
        `column "${column}" of relation "${rel.name}" does not exist`,
        { column },
      );
    }
    const att = rel.desc.attrs[at.attnum]!;
    const hasAdd = assignment !== null && typeof assignment === "object" && "add" in assignment;
    const hasValue = assignment !== null && typeof assignment === "object" && "value" in assignment;
    if (hasAdd === hasValue) {
      throw new PgsimError(
        "invalid-parameter",
        `the assignment to column "${column}" must be { add: k } or { value: v }`,
        { column },
      );
    }
    if (hasAdd) {
      const typname = att.codec?.typname ?? "";
      const raw = (assignment as { add: unknown }).add;
      const integral =
        (typeof raw === "number" && Number.isSafeInteger(raw)) || typeof raw === "bigint";
      if (!ADDABLE_TYPES.has(typname) || !integral) {
        throw new PgsimError(
          "feature-not-supported",
          `SET "${column}" = "${column}" + k is compiled only for an integer k and a smallint, integer or bigint column (column "${column}" is ${att.codec?.sqlName ?? typname})`,
          { column },
        );
      }
      let k: number | bigint;
      if (typname === "int8") k = BigInt(raw as number | bigint);
      else if (typeof raw === "bigint") {
        if (raw < BigInt(Number.MIN_SAFE_INTEGER) || raw > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new PgsimError("numeric-value-out-of-range", "integer out of range", { column });
        }
        k = Number(raw);
      } else k = raw as number;
      assignments.push({ attnum: at.attnum, kind: "add", k });
      rowAssignments.push({ index: at.index, add: k });
    } else {
      const raw = (assignment as { value: Datum | null }).value;
      const value =
        raw === null || raw === undefined || att.codec === null
          ? null
          : (att.codec.coerce(raw as never, att.atttypmod) as Datum);
      assignments.push({ attnum: at.attnum, kind: "const", value });
      rowAssignments.push({ index: at.index, value });
    }
  }
  const newRow = (row: Row): Row => {
    const out = row.slice();
    for (const a of rowAssignments) {
      if (a.add === undefined) {
        out[a.index] = a.value ?? null;
        continue;
      }
      const old = row[a.index];
      if (old === null || old === undefined) out[a.index] = null;
      else if (typeof old === "bigint") out[a.index] = old + (a.add as bigint);
      else out[a.index] = (old as number) + (a.add as number);
    }
    return out;
  };
  return { assignments, newRow };
}

/** A TID must be a pair of non-negative integers (block < 2^32, offset < 2^16). */
function checkTidShape(tid: TID, table: string): void {
  const ok =
    tid !== null &&
    typeof tid === "object" &&
    Number.isInteger(tid.block) &&
    Number.isInteger(tid.offset) &&
    tid.block >= 0 &&
    tid.block < 2 ** 32 &&
    tid.offset >= 0 &&
    tid.offset < 2 ** 16;
  if (!ok) {
    throw new PgsimError(
      "invalid-tid",
      `invalid tid (${String(tid?.block)},${String(tid?.offset)}) for relation "${table}"`,
      { tid },
    );
  }
}

/**
 * Checks a column batch's shape before anything is written: one column per table column
 * (dropped ones excluded), each an array or typed array of exactly `count` values.
 */
function checkColumnBatch(
  rel: TableRelation,
  batch: ColumnBatch,
  first: number,
  count: number,
): void {
  const columns = (batch as { columns?: unknown } | null)?.columns;
  if (!Array.isArray(columns)) {
    throw new PgsimError(
      "invalid-parameter",
      `makeBatch(${first}, ${count}) must return ${count} rows or { columns }, got ${batch === null ? "null" : typeof batch}`,
    );
  }
  const live = rel.desc.attrs.filter((a) => !a.attisdropped).length;
  if (columns.length !== live) {
    throw new PgsimError(
      "wrong-column-count",
      `table "${rel.name}" has ${live} columns, but ${columns.length} columns of values were given`,
    );
  }
  for (let c = 0; c < columns.length; c++) {
    const col: unknown = columns[c];
    const ok = Array.isArray(col) || (ArrayBuffer.isView(col) && !(col instanceof DataView));
    const length = ok ? (col as ArrayLike<unknown>).length : undefined;
    if (length !== count) {
      throw new PgsimError(
        "invalid-parameter",
        `makeBatch(${first}, ${count}): column ${c + 1} must hold ${count} values, got ${length ?? typeof col}`,
      );
    }
  }
}
