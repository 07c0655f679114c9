/**
 * The table access method interface: what a storage engine for tables must provide, the types it
 * speaks in (TIDs, rows, slots, TM results, lock modes, the backend context), a registry of engines
 * by name, and the wrapper functions callers use instead of calling callbacks directly.
 *
 * Models: src/include/access/tableam.h (TableAmRoutine, its callbacks camelCased, TM_Result,
 * TM_FailureData, the opaque BulkInsertState, and the table_* wrapper functions),
 * src/include/access/htup.h and itemptr.h (ItemPointer as the TID), src/include/nodes/lockoptions.h
 * (LockTupleMode), src/backend/access/table/tableamapi.c (GetTableAmRoutine's checks that required
 * callbacks are present), utils/cache/relcache.c (RelationInitTableAccessMethod: rd_tableam) and
 * commands/amcmds.c (CREATE ACCESS METHOD).
 * Entry points: `TableAccessMethod`, `registerTableAm`, `getTableAm`, `REQUIRED_CALLBACKS`,
 * `buildTableRelation`, the `table*` wrappers, `TableAmContext`, `TableRelation`, `TupleTableSlot`,
 * `TID`, `Row`, `ColumnBatch`, `TM`, `TMOutcome`, `LockTupleMode`, `BulkInsertStateData`.
 * See also: ../heap/heapam-handler.ts (the heap and memheap AMs), ../../database.ts (the caller).
 *
 * The interface depends on nothing of any AM: the heap imports these types, never the reverse.
 *
 * Differs from PostgreSQL: callbacks for executor features pgsim does not have are optional
 * rather than required: parallel scans, speculative insertion, CLUSTER / VACUUM FULL, ANALYZE
 * sampling, index builds, TABLESAMPLE, bitmap and TID-range scans, TOAST. Slots are plain objects
 * (one "virtual" kind) holding a row and its TID. The current transaction and the backend's
 * services (buffer pool, transaction system, FSM) are passed explicitly, in the relation's `ctx`
 * (PostgreSQL keeps them in global state). `relationDrop` is a callback (PostgreSQL drops storage
 * through smgr, not the AM).
 */

import type { BufferId, BufferPool } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import type { IndexDefinition, TableDefinition } from "../../catalog/catalog.js";
import type { ItemPointer } from "../../include/access/htup-details.js";
import type { VacuumOptions, VacuumResult } from "../../include/commands/vacuum.js";
import type { DirtySnapshot, Snapshot } from "../../include/utils/snapshot.js";
import type { FreeSpaceMap } from "../../storage/freespace/freespace.js";
import type { PgStat } from "../../utils/activity/pgstat.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import { buildRelation, type Relation } from "../../utils/cache/rel.js";
import type { Transam } from "../transam/transam.js";
import type { Transaction } from "../transam/xact.js";
import type { XLogWriter } from "../transam/xlog.js";
import type { XLogInsertState } from "../transam/xloginsert.js";

/** A tuple identifier (ItemPointerData): block number and line pointer offset (1-based). */
export type TID = ItemPointer;

/** A row as callers see it: one value per column (dropped columns excluded), null for NULL. */
export type Row = (Datum | null)[];

/**
 * One column of a `ColumnBatch`: a typed array (no NULLs; the element type must suit the column:
 * Int16Array for smallint, Int32Array for integer, BigInt64Array for bigint, Float32Array for
 * real, Float64Array for double precision) or a plain array of values (`null` for NULL), which
 * any column type accepts.
 */
export type ColumnValues =
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array
  | readonly (Datum | null)[];

/**
 * Rows given column by column (pgsim only; PostgreSQL's COPY BINARY sends them row by row):
 * `columns[c][i]` is the value of column c (dropped columns excluded, as in a Row) of row i.
 * Every column holds exactly the batch's row count.
 */
export interface ColumnBatch {
  readonly columns: readonly ColumnValues[];
}

/** Row `i` of a column batch, as a Row (typed-array elements as numbers or bigints). */
export function columnBatchRow(batch: ColumnBatch, i: number): Row {
  const columns = batch.columns;
  const row: Row = new Array(columns.length);
  for (let c = 0; c < columns.length; c++) row[c] = columns[c]![i] ?? null;
  return row;
}

/** TM_Result: the outcome of trying to update, delete or lock a tuple. */
export const TM = {
  Ok: 0,
  Invisible: 1,
  SelfModified: 2,
  Updated: 3,
  Deleted: 4,
  BeingModified: 5,
  WouldBlock: 6,
} as const;
export type TMResult = (typeof TM)[keyof typeof TM];

/** Why an update, delete or lock did not happen (TM_FailureData). */
export interface TMFailure {
  /** The newer version's TID (Updated) or the tuple's own (Deleted, BeingModified). */
  ctid: TID;
  /** The transaction that updated, deleted or locked the tuple. */
  xmax: number;
}

/** A TM result with its failure data (set for every result but Ok). */
export interface TMOutcome {
  result: TMResult;
  failure?: TMFailure;
}

/**
 * Row lock strength (LockTupleMode): FOR KEY SHARE, FOR SHARE, FOR NO KEY UPDATE, FOR UPDATE. The
 * heap implements all four for one locker at a time (no multixacts).
 */
export type LockTupleMode = "key share" | "share" | "no key exclusive" | "exclusive";

/**
 * The page a backend's sequential scan has pinned, so that the UPDATE or DELETE of the tuple the
 * scan just returned can reuse the pin (PostgreSQL: the buffer pin the scan's slot holds,
 * BufferHeapTupleTableSlot.buffer, which heap_update's ReadBuffer then finds). The scan owns the
 * object and updates it as it moves; `TableAmContext.scanPin` points at the scan that loaded a
 * page last, until it ends.
 */
export interface ScanPin {
  /** The scanned relation. */
  relNumber: number;
  /** The pinned block, and its buffer. */
  block: number;
  buffer: BufferId;
  /**
   * An insert target block (smgr_targblock) that this statement already found to exist, so that
   * each insert or non-HOT update of the statement need not check the relation's size again.
   */
  verifiedTarget: number;
}

/**
 * What a table AM gets from the backend it runs in: the buffer pool, the transaction system, the
 * free space map, and the backend-local hints and settings. One per backend, shared by all its
 * relations; never shared between backends. AM-specific services (the heap's visibility map) are
 * reached through `pool` by the AM itself.
 */
export interface TableAmContext {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly fsm: FreeSpaceMap;
  /** smgr_targblock: the block each relation's last insert went to (per backend). */
  readonly targetBlocks: Map<number, number>;
  /** deadlock_timeout: how long to wait for a row lock before checking for a deadlock (ms). */
  readonly deadlockTimeoutMs?: number;
  /**
   * lock_timeout: give up waiting for another transaction after this long (ms; 0 = wait until it
   * ends; default 2 minutes).
   */
  readonly lockTimeoutMs?: number;
  /**
   * The backend's cumulative statistics (rel->pgstat_info's owner); AM code counts into it when
   * it is there (pgstat_should_count_relation).
   */
  readonly pgstat?: PgStat;
  /**
   * Each index AM's view of its own shared memory, by AM name: what PostgreSQL's AMs keep as
   * globals pointing into shared memory. btree: its table of running VACUUMs and their cycle ids
   * (btvacinfo; nbtree-am.ts's `btVacInfoOf` reads it), where btbulkdelete registers and a page
   * split in any backend looks.
   */
  readonly indexAmShmem: ReadonlyMap<string, unknown>;
  /**
   * The page this backend's running sequential scan has pinned (see ScanPin), or undefined. Set
   * and cleared by the scan; read by the tuple update, delete and insert paths of the same AM.
   */
  scanPin: ScanPin | undefined;
  /**
   * The backend's handle on the write-ahead log, or undefined when nothing is logged (a
   * memory-only database, or a disk-backed one without WAL). See `relationNeedsWal`.
   */
  readonly xlog?: XLogBackend;
}

/** A backend's WAL handles: the shared log and the record it is building (xloginsert.c's state). */
export interface XLogBackend {
  readonly wal: XLogWriter;
  readonly ins: XLogInsertState;
  /**
   * XLogHintBitIsNeeded(): data checksums are on (or wal_log_hints). Then a VISIBLE record may
   * carry an image of the heap page and sets its LSN (visibilitymap_set). Default false.
   */
  readonly logHintBits?: boolean;
}

/**
 * RelationNeedsWAL: changes to the relation are logged — the backend has a WAL and the table is
 * not unlogged.
 */
export function relationNeedsWal(
  ctx: TableAmContext,
  rel: { readonly def: Pick<TableDefinition, "persistence"> },
): boolean {
  return ctx.xlog !== undefined && rel.def.persistence !== "unlogged";
}

/**
 * A relation as an AM sees it: the catalog entry and the derived descriptor (Relation), the
 * backend it is open in, and its access method (rd_tableam), looked up once per relation entry.
 */
export interface TableRelation extends Relation {
  readonly ctx: TableAmContext;
  readonly am: TableAccessMethod;
}

/**
 * BulkInsertState, opaque to callers (tableam.h declares only `struct BulkInsertStateData`): what
 * an AM keeps between the inserts of one bulk load (the heap: a BULKWRITE ring and the pinned
 * current page). The caller creates it (COPY calls GetBulkInsertState), passes it to every
 * insert of the load, and releases it once at the end (FreeBulkInsertState).
 */
export interface BulkInsertStateData {
  /** FreeBulkInsertState: drops whatever the state still holds (pins). Safe to call twice. */
  release(ctx: TableAmContext): void;
}

/** TupleTableSlot: a row and, once stored or fetched, its TID. */
export interface TupleTableSlot {
  values: Row;
  tid: TID | undefined;
}

/** Makes an empty slot. */
export function makeSlot(values: Row = []): TupleTableSlot {
  return { values, tid: undefined };
}

/** The scan state an AM returns from scanBegin (TableScanDesc); AMs extend it. */
export interface TableScanDesc {
  readonly rel: TableRelation;
  readonly snapshot: Snapshot;
  readonly xact: Transaction | undefined;
}

/** IndexFetchTableData: state for fetching tuples by TID. */
export interface IndexFetchState {
  readonly rel: TableRelation;
}

/** What tableTupleUpdate reports besides the TM result. */
export interface TableUpdateOutcome extends TMOutcome {
  newTid?: TID;
  /** update_indexes: new index entries are needed (false for a HOT update). */
  updateIndexes: boolean;
  lockMode: LockTupleMode;
}

/**
 * One column of a compiled UPDATE … SET (pgsim only): `attnum` is the column's index in the
 * relation's descriptor (dropped columns counted). `add`: SET c = c + k for an integer column
 * (int2, int4, int8; overflow is "smallint/integer/bigint out of range" as int2pl, int4pl and
 * int8pl report it); `value`: SET c = constant, already coerced to the column's type.
 */
export type CompiledAssignment =
  | { readonly attnum: number; readonly kind: "add"; readonly k: number | bigint }
  | { readonly attnum: number; readonly kind: "const"; readonly value: Datum | null };

/**
 * What a page-at-a-time statement does to each row it changes (pgsim only; see scanModifyPage):
 * DELETE, or UPDATE to `newRow(row)`; an UPDATE compiled from assignments also carries them, so
 * that the AM can build the new version without calling `newRow`.
 */
export type ScanModifyOp =
  | { readonly kind: "delete" }
  | {
      readonly kind: "update";
      readonly newRow: (row: Row) => Row;
      readonly compiled?: readonly CompiledAssignment[];
    };

/**
 * The per-row path a page-at-a-time statement falls back to for one row (the executor's
 * ExecUpdate / ExecDelete with its EvalPlanQual handling): called with no content lock held, for
 * a row the scan returned and, for an UPDATE, its new values already computed. Returns whether
 * the row (or its newest version) was changed.
 */
export type ScanModifyRowFallback = (tid: TID, row: Row, newValues: Row | undefined) => boolean;

/** What scanModifyPage did on one page. */
export interface ScanModifyPageResult {
  /** Rows the scan returned from the page. */
  seen: number;
  /** Rows updated or deleted (by the AM itself or through the fallback). */
  changed: number;
}

/** Planner estimates (relation_estimate_size). */
export interface SizeEstimate {
  pages: number;
  tuples: number;
  allVisibleFraction: number;
}

/**
 * TableAmRoutine. Every member of REQUIRED_CALLBACKS must be present; the rest are optional.
 *
 * Rules for every callback, as tableam.h states them for PostgreSQL's: the relation's storage
 * exists (relationSetNewFilenode ran) unless the callback creates it; `xact`, where given, is in
 * progress and belongs to this backend; a callback returns with no content lock held and no pin
 * held except the ones its contract names (a scan's current page, a bulk-insert state's page);
 * bad input (a TID outside the relation, a row that does not fit the table) is a typed
 * PgsimError raised before anything is changed.
 */
export interface TableAccessMethod {
  /** The AM's name, as in pg_am.amname. */
  readonly name: string;

  /**
   * Checks that the AM can store the table `def` in the backend `ctx` (e.g. that the buffer pool
   * is of the kind it needs). Called by CREATE TABLE before the catalog entry is stored; throws a
   * typed error to refuse. Must not create storage or change anything.
   */
  readonly checkUsable?: (ctx: TableAmContext, def: TableDefinition) => void;

  // Slots

  /** slot_callbacks: the kind of slot the AM's tuples are returned in. No side effects. */
  slotCallbacks(rel: TableRelation): "virtual";

  // Sequential scans

  /**
   * scan_begin: starts a sequential scan of `rel` that returns the tuples `snapshot` sees (as
   * `xact` sees them: its own changes count up to the snapshot's command id). The relation's size
   * is fixed now (rs_nblocks): pages added later are not visited. The caller keeps `snapshot`
   * and `xact` valid until scanEnd. The AM returns its own state extending TableScanDesc; it may
   * pin pages between calls (the heap keeps the current page pinned, never locked).
   */
  scanBegin(rel: TableRelation, snapshot: Snapshot, xact: Transaction | undefined): TableScanDesc;

  /**
   * scan_getnextslot: stores the next visible tuple's values and TID in `slot` and returns true,
   * or returns false at the end (and may then release the scan's pins). The values are copied
   * out, so they stay valid after the pin goes. May prune the page it enters (the heap's
   * heap_page_prune_opt, which takes the cleanup lock only if it is free). Returns with no content
   * lock held.
   */
  scanGetNextSlot(scan: TableScanDesc, direction: "forward", slot: TupleTableSlot): boolean;

  /**
   * scan_rescan: restarts the scan from the beginning with the same snapshot; pins held for the
   * old position are released first.
   */
  scanRescan(scan: TableScanDesc): void;

  /**
   * scan_end: releases every pin the scan holds. Called once per scanBegin, also after the scan
   * ran to its end or was abandoned by an error.
   */
  scanEnd(scan: TableScanDesc): void;

  // Fetching by TID (what an index scan does)

  /**
   * index_fetch_begin: prepares to fetch tuples of `rel` by TID, as an index scan does. The
   * returned state may hold pins between fetches, until indexFetchReset or indexFetchEnd.
   */
  indexFetchBegin(rel: TableRelation): IndexFetchState;

  /** index_fetch_reset: releases what the state holds between fetches (pins); it stays usable. */
  indexFetchReset(state: IndexFetchState): void;

  /** index_fetch_end: releases everything the state holds; it is not used again. */
  indexFetchEnd(state: IndexFetchState): void;

  /**
   * index_fetch_tuple: `tid` is what an index entry stores (for the heap, the root of a HOT
   * chain); stores in `slot` the version of that row `snapshot` sees, with its own TID, and
   * returns true, or returns false when no version is visible. Returns with no content lock
   * held. A TID outside the relation is a typed error.
   *
   * `snapshot` may be SnapshotDirty (unique checks): the AM then records in it a running
   * inserter or deleter of the version found. With `out`, the AM sets `out.allDead` when no
   * version of the row can be visible to any transaction any more (heap: every member of the HOT
   * chain is dead to all), so that the index entry may be marked dead (kill_prior_tuple).
   * Differs from PostgreSQL: no `call_again` (a chain's versions are never returned one by one
   * under a non-MVCC snapshot).
   */
  indexFetchTuple(
    state: IndexFetchState,
    tid: TID,
    snapshot: Snapshot | DirtySnapshot,
    xact: Transaction | undefined,
    slot: TupleTableSlot,
    out?: { allDead: boolean },
  ): boolean;

  // Non-modifying tuple operations

  /**
   * tuple_fetch_row_version: stores the version at exactly `tid` in `slot` if `snapshot` sees it
   * (no HOT chain or update chain is followed) and returns true; false when it is not visible or
   * the line pointer holds no tuple. A TID outside the relation is a typed error. Leaves no pin.
   * With SnapshotDirty (EvalPlanQual's fetch of a row's newest version), a version seen while its
   * inserter or deleter is still running records that transaction in the snapshot.
   */
  tupleFetchRowVersion(
    rel: TableRelation,
    tid: TID,
    snapshot: Snapshot | DirtySnapshot,
    xact: Transaction | undefined,
    slot: TupleTableSlot,
  ): boolean;

  /**
   * tuple_tid_valid: whether `tid` could name a tuple of the scanned relation (its block exists
   * and its offset is in range), without looking at the page.
   */
  tupleTidValid(scan: TableScanDesc, tid: TID): boolean;

  /**
   * tuple_get_latest_tid: follows the update chain from `tid` (which tupleTidValid accepts) and
   * returns the newest version the scan's snapshot sees, or the last one reached. Leaves no pin.
   */
  tupleGetLatestTid(scan: TableScanDesc, tid: TID): TID;

  /**
   * tuple_satisfies_snapshot: whether the tuple in `slot` (fetched from `rel`, so `slot.tid` is
   * set) is visible to `snapshot`. May set hint bits; leaves no pin.
   */
  tupleSatisfiesSnapshot(
    rel: TableRelation,
    slot: TupleTableSlot,
    snapshot: Snapshot,
    xact: Transaction | undefined,
  ): boolean;

  // Modifying tuple operations

  /**
   * tuple_insert: stores `slot.values` as a new tuple inserted by `xact` at its current command
   * id and sets `slot.tid`. Gives `xact` an xid if it has none and marks the command as having
   * written. The row is checked (column count, NOT NULL, size) before any page is touched. With
   * `bistate` (created by the caller for a bulk load) the AM may keep its target page pinned in
   * it between calls; otherwise it leaves no pin.
   */
  tupleInsert(
    rel: TableRelation,
    slot: TupleTableSlot,
    xact: Transaction,
    bistate?: BulkInsertStateData,
  ): void;

  /**
   * multi_insert: tupleInsert for many slots at once, setting each slot's TID in order; all or
   * none of the rows pass the checks. Same pin rules as tupleInsert.
   */
  multiInsert(
    rel: TableRelation,
    slots: TupleTableSlot[],
    xact: Transaction,
    bistate?: BulkInsertStateData,
  ): void;

  /**
   * multi_insert of `count` rows given column by column (pgsim only: PostgreSQL's AMs take slots).
   * Same checks, pins and page contents as multiInsert with the same rows in the same order, but
   * no TIDs are reported, so an AM can form each tuple straight from the columns. Optional:
   * without it, `tableMultiInsertColumns` turns the batch into slots for multiInsert.
   */
  multiInsertColumns?(
    rel: TableRelation,
    batch: ColumnBatch,
    count: number,
    xact: Transaction,
    bistate?: BulkInsertStateData,
  ): void;

  /**
   * tuple_delete: marks the version at `tid` deleted by `xact`. The caller's snapshot saw that
   * version (or it is the newest one EvalPlanQual found). When another transaction holds it, waits
   * for that transaction to end (with no content lock held; deadlock_timeout and lock_timeout
   * apply) if `wait`, else returns WouldBlock. Returns TM.Ok, or Updated / Deleted (a committed
   * transaction got there first; `failure.ctid` is the newer version) / SelfModified (the current
   * command changed it) with the failure data. An invisible tuple is a typed error. Leaves no pin
   * or lock.
   */
  tupleDelete(rel: TableRelation, tid: TID, xact: Transaction, wait: boolean): TMOutcome;

  /**
   * tuple_update: writes `slot.values` as a new version of the row at `otid`; on TM.Ok sets
   * `slot.tid` to the new version's TID and reports whether indexes need new entries (false for
   * a HOT update) and the lock mode the update took on the old version. Same preconditions, waits
   * and failure results as tupleDelete. Leaves no pin or lock.
   */
  tupleUpdate(
    rel: TableRelation,
    otid: TID,
    slot: TupleTableSlot,
    xact: Transaction,
    wait: boolean,
  ): TableUpdateOutcome;

  /**
   * tuple_lock: locks the version at `tid` for `xact` in `mode` (SELECT … FOR UPDATE and
   * friends); locking again in a weaker mode keeps the stronger lock. Does not follow the update
   * chain (tupleFindLastVersion does). Same waits and failure results as tupleDelete. Leaves no
   * pin or content lock; the row lock lasts until `xact` ends.
   */
  tupleLock(
    rel: TableRelation,
    tid: TID,
    xact: Transaction,
    mode: LockTupleMode,
    wait: boolean,
  ): TMOutcome;

  // DDL

  /**
   * relation_set_new_filenode: creates empty storage for `rel.locator` (CREATE TABLE, TRUNCATE
   * under a new relfilenode). No storage exists for that locator yet.
   */
  relationSetNewFilenode(rel: TableRelation): void;

  /**
   * relation_nontransactional_truncate: empties the relation's current storage in place and forgets
   * this backend's hints about it. The caller makes sure no other backend uses the relation
   * (PostgreSQL holds AccessExclusiveLock).
   */
  relationNontransactionalTruncate(rel: TableRelation): void;

  /**
   * Drops the relation's storage, every fork, and this backend's hints about it (DROP TABLE, and
   * the old storage after TRUNCATE). The caller makes sure no backend uses the relation any more.
   */
  relationDrop(rel: TableRelation): void;

  // Vacuum

  /**
   * relation_vacuum: VACUUM (not FULL) of `rel`, outside any transaction: removes versions dead
   * to every running transaction, records free space and visibility, may give empty pages at the
   * end back. Takes its own pins and locks page by page and leaves none. The caller makes sure no
   * other backend writes the relation while it may be truncated (pgsim has no heavyweight locks).
   */
  relationVacuum(rel: TableRelation, options: VacuumOptions): VacuumResult;

  // Size and planner support

  /** relation_size: bytes in `fork`, or in every fork when `fork` is undefined. Takes no lock. */
  relationSize(rel: TableRelation, fork?: number): number;

  /** relation_needs_toast_table: whether the relation needs a TOAST table (pgsim: never). */
  relationNeedsToastTable(rel: TableRelation): boolean;

  /** relation_estimate_size: pages, tuples and the all-visible fraction, for the planner. */
  relationEstimateSize(rel: TableRelation): SizeEstimate;

  // Optional

  /**
   * index_build_range_scan (whole table, non-concurrent): calls `callback` with the TID, the row
   * (live columns) and whether the tuple is alive, for every tuple an index built now must
   * contain — for the heap, every tuple not yet dead to everyone, heap-only tuples under their
   * HOT chain's root TID — and returns the number of live tuples (reltuples). Takes and releases
   * its own pins and share locks; the callback runs with no content lock held. Without it, the
   * table cannot be indexed.
   */
  indexBuildRangeScan?(
    rel: TableRelation,
    callback: (tid: TID, row: Row, tupleIsAlive: boolean) => void,
  ): number;

  /**
   * finish_bulk_insert: called once after the last insert of a bulk load (COPY, INSERT …
   * SELECT), before the bulk-insert state is released.
   */
  finishBulkInsert?(rel: TableRelation): void;

  /**
   * The newest version of a row whose updates committed (tuple_lock's
   * TUPLE_LOCK_FLAG_FIND_LAST_VERSION), for READ COMMITTED's re-check. Stops at a version that is
   * not updated, or whose updater is running or aborted. Leaves no pin. Without it, callers use
   * tupleGetLatestTid with a fresh snapshot.
   */
  tupleFindLastVersion?(rel: TableRelation, tid: TID): TID;

  /**
   * pgsim only: page-at-a-time UPDATE or DELETE of every row a scan returns (the statement-level
   * `updateAll` / `deleteAll`). Advances the scan to its next page that has rows to return, and
   * applies `op` to each of them — holding the page's pin, content lock and dirty mark once for
   * the page rather than once per row — leaving pages, free space map and visibility map
   * byte-identical to what the per-row path (scanGetNextSlot, then tupleUpdate / tupleDelete per
   * row) leaves. A row the AM cannot change on its own (another transaction holds or changed it,
   * or the change needs steps it leaves to the per-row path) goes to `perRow`, called with no
   * content lock held. Returns undefined at the end of the scan. Without it, callers run the
   * per-row path.
   */
  scanModifyPage?(
    scan: TableScanDesc,
    op: ScanModifyOp,
    xact: Transaction,
    perRow: ScanModifyRowFallback,
  ): ScanModifyPageResult | undefined;
}

/** The callbacks GetTableAmRoutine insists on (pgsim's list: see "Differs" above). */
export const REQUIRED_CALLBACKS = [
  "slotCallbacks",
  "scanBegin",
  "scanGetNextSlot",
  "scanRescan",
  "scanEnd",
  "indexFetchBegin",
  "indexFetchReset",
  "indexFetchEnd",
  "indexFetchTuple",
  "tupleFetchRowVersion",
  "tupleTidValid",
  "tupleGetLatestTid",
  "tupleSatisfiesSnapshot",
  "tupleInsert",
  "multiInsert",
  "tupleDelete",
  "tupleUpdate",
  "tupleLock",
  "relationSetNewFilenode",
  "relationNontransactionalTruncate",
  "relationDrop",
  "relationVacuum",
  "relationSize",
  "relationNeedsToastTable",
  "relationEstimateSize",
] as const satisfies readonly (keyof TableAccessMethod)[];

const registry = new Map<string, TableAccessMethod>();

/**
 * CREATE ACCESS METHOD … TYPE TABLE: registers an AM under its name after checking that every
 * required callback is a function. Registration is per thread (each worker registers the AMs
 * it uses, as each PostgreSQL backend loads the handler's library).
 */
export function registerTableAm(am: TableAccessMethod): void {
  if (am === null || typeof am !== "object" || typeof am.name !== "string" || am.name === "") {
    throw new PgsimError("invalid-table-am", "a table access method needs a non-empty name");
  }
  const missing = REQUIRED_CALLBACKS.filter(
    (k) => typeof (am as unknown as Record<string, unknown>)[k] !== "function",
  );
  if (missing.length > 0) {
    throw new PgsimError(
      "invalid-table-am",
      `table access method "${am.name}" does not provide required callbacks: ${missing.join(", ")}`,
      { missing },
    );
  }
  if (registry.has(am.name) && registry.get(am.name) !== am) {
    throw new PgsimError("duplicate-table-am", `access method "${am.name}" already exists`);
  }
  registry.set(am.name, am);
}

/** GetTableAmRoutine: the AM registered under `name`. */
export function getTableAm(name: string): TableAccessMethod {
  const am = registry.get(name);
  if (am === undefined) {
    throw new PgsimError("undefined-table-am", `access method "${String(name)}" does not exist`, {
      name,
    });
  }
  return am;
}

/** The names of the registered AMs. */
export function tableAmNames(): string[] {
  return [...registry.keys()];
}

/**
 * The backend's entry for a table: the relcache fields built from the catalog (buildRelation),
 * the backend context, and the AM looked up once (RelationInitTableAccessMethod sets rd_tableam).
 * Every wrapper below calls the AM cached here.
 */
export function buildTableRelation(
  def: TableDefinition,
  ctx: TableAmContext,
  indexes: readonly IndexDefinition[] = [],
): TableRelation {
  return { ...buildRelation(def, indexes), ctx, am: getTableAm(def.am) };
}

// The wrappers (tableam.h's static inline table_* functions): the only callers of the callbacks.

/** Asks `am` whether it can store `def` in this backend (see TableAccessMethod.checkUsable). */
export function tableCheckUsable(
  am: TableAccessMethod,
  ctx: TableAmContext,
  def: TableDefinition,
): void {
  am.checkUsable?.(ctx, def);
}

export function tableBeginScan(
  rel: TableRelation,
  snapshot: Snapshot,
  xact: Transaction | undefined,
): TableScanDesc {
  return rel.am.scanBegin(rel, snapshot, xact);
}

export function tableScanGetNextSlot(scan: TableScanDesc, slot: TupleTableSlot): boolean {
  return scan.rel.am.scanGetNextSlot(scan, "forward", slot);
}

export function tableRescan(scan: TableScanDesc): void {
  scan.rel.am.scanRescan(scan);
}

export function tableEndScan(scan: TableScanDesc): void {
  scan.rel.am.scanEnd(scan);
}

export function tableTupleInsert(
  rel: TableRelation,
  slot: TupleTableSlot,
  xact: Transaction,
  bistate?: BulkInsertStateData,
): void {
  rel.am.tupleInsert(rel, slot, xact, bistate);
}

export function tableMultiInsert(
  rel: TableRelation,
  slots: TupleTableSlot[],
  xact: Transaction,
  bistate?: BulkInsertStateData,
): void {
  rel.am.multiInsert(rel, slots, xact, bistate);
}

/**
 * Inserts `count` rows given by column (see ColumnBatch) through the AM's multiInsertColumns, or,
 * for an AM without it, through multiInsert with one slot per row. The batch's shape (a column
 * per table column, `count` values each) is the caller's to check.
 */
export function tableMultiInsertColumns(
  rel: TableRelation,
  batch: ColumnBatch,
  count: number,
  xact: Transaction,
  bistate?: BulkInsertStateData,
): void {
  if (rel.am.multiInsertColumns !== undefined) {
    rel.am.multiInsertColumns(rel, batch, count, xact, bistate);
    return;
  }
  const slots: TupleTableSlot[] = new Array(count);
  for (let i = 0; i < count; i++) slots[i] = makeSlot(columnBatchRow(batch, i));
  rel.am.multiInsert(rel, slots, xact, bistate);
}

export function tableFinishBulkInsert(rel: TableRelation): void {
  rel.am.finishBulkInsert?.(rel);
}

export function tableTupleDelete(
  rel: TableRelation,
  tid: TID,
  xact: Transaction,
  wait = true,
): TMOutcome {
  return rel.am.tupleDelete(rel, tid, xact, wait);
}

export function tableTupleUpdate(
  rel: TableRelation,
  otid: TID,
  slot: TupleTableSlot,
  xact: Transaction,
  wait = true,
): TableUpdateOutcome {
  return rel.am.tupleUpdate(rel, otid, slot, xact, wait);
}

export function tableTupleLock(
  rel: TableRelation,
  tid: TID,
  xact: Transaction,
  mode: LockTupleMode = "exclusive",
  wait = true,
): TMOutcome {
  return rel.am.tupleLock(rel, tid, xact, mode, wait);
}

/** table_tuple_tid_valid: may `tid` name a tuple of the scan's table (e.g. within its size)? */
export function tableTupleTidValid(scan: TableScanDesc, tid: TID): boolean {
  return scan.rel.am.tupleTidValid(scan, tid);
}

export function tableTupleFetchRowVersion(
  rel: TableRelation,
  tid: TID,
  snapshot: Snapshot | DirtySnapshot,
  xact: Transaction | undefined,
  slot: TupleTableSlot,
): boolean {
  return rel.am.tupleFetchRowVersion(rel, tid, snapshot, xact, slot);
}

export function tableIndexFetchTuple(
  rel: TableRelation,
  tid: TID,
  snapshot: Snapshot,
  xact: Transaction | undefined,
  slot: TupleTableSlot,
): boolean {
  const am = rel.am;
  const state = am.indexFetchBegin(rel);
  try {
    return am.indexFetchTuple(state, tid, snapshot, xact, slot);
  } finally {
    am.indexFetchEnd(state);
  }
}

/**
 * table_index_fetch_tuple_check: whether any version of the row whose index entry holds `tid`
 * satisfies `snapshot` (the unique check passes SnapshotDirty). Sets `out.allDead` when no
 * version can be visible to anyone any more. Leaves no pin or lock.
 */
export function tableIndexFetchTupleCheck(
  rel: TableRelation,
  tid: TID,
  snapshot: Snapshot | DirtySnapshot,
  xact: Transaction | undefined,
  out?: { allDead: boolean },
): boolean {
  const am = rel.am;
  const state = am.indexFetchBegin(rel);
  try {
    return am.indexFetchTuple(state, tid, snapshot, xact, makeSlot(), out);
  } finally {
    am.indexFetchEnd(state);
  }
}

export function tableTupleSatisfiesSnapshot(
  rel: TableRelation,
  slot: TupleTableSlot,
  snapshot: Snapshot,
  xact: Transaction | undefined,
): boolean {
  return rel.am.tupleSatisfiesSnapshot(rel, slot, snapshot, xact);
}

/** The newest committed version of the row at `tid` (for READ COMMITTED re-checks). */
export function tableTupleFindLastVersion(rel: TableRelation, tid: TID, snapshot: Snapshot): TID {
  const am = rel.am;
  if (am.tupleFindLastVersion) return am.tupleFindLastVersion(rel, tid);
  const scan = am.scanBegin(rel, snapshot, undefined);
  try {
    return am.tupleGetLatestTid(scan, tid);
  } finally {
    am.scanEnd(scan);
  }
}

export function tableRelationSetNewFilenode(rel: TableRelation): void {
  rel.am.relationSetNewFilenode(rel);
}

export function tableRelationNontransactionalTruncate(rel: TableRelation): void {
  rel.am.relationNontransactionalTruncate(rel);
}

/** Drops the relation's storage through its AM (see TableAccessMethod.relationDrop). */
export function tableRelationDrop(rel: TableRelation): void {
  rel.am.relationDrop(rel);
}

export function tableRelationVacuum(rel: TableRelation, options: VacuumOptions = {}): VacuumResult {
  return rel.am.relationVacuum(rel, options);
}

export function tableRelationSize(rel: TableRelation, fork?: number): number {
  return rel.am.relationSize(rel, fork);
}

export function tableRelationEstimateSize(rel: TableRelation): SizeEstimate {
  return rel.am.relationEstimateSize(rel);
}

/**
 * table_index_build_scan: the tuples an index built now must contain (see
 * TableAccessMethod.indexBuildRangeScan). Throws `feature-not-supported` for an AM without it.
 */
export function tableIndexBuildScan(
  rel: TableRelation,
  callback: (tid: TID, row: Row, tupleIsAlive: boolean) => void,
): number {
  if (rel.am.indexBuildRangeScan === undefined) {
    throw new PgsimError(
      "feature-not-supported",
      `table access method "${rel.am.name}" does not support building indexes`,
    );
  }
  return rel.am.indexBuildRangeScan(rel, callback);
}
