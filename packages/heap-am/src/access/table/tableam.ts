/**
 * The table access method interface: what a storage engine for tables must provide, a registry
 * of engines by name, and the wrapper functions callers use instead of calling callbacks directly.
 *
 * Models: src/include/access/tableam.h (TableAmRoutine, its callbacks camelCased, and the
 * table_* wrapper functions) and src/backend/access/table/tableamapi.c (GetTableAmRoutine's
 * checks that required callbacks are present), commands/amcmds.c (CREATE ACCESS METHOD).
 * Entry points: `TableAccessMethod`, `registerTableAm`, `getTableAm`, `REQUIRED_CALLBACKS`, the
 * `table*` wrappers, `TupleTableSlot`, `TableRelation`.
 * See also: heapam-handler.ts (the heap and memheap AMs), database.ts.
 *
 * Differs from PostgreSQL: callbacks for executor features pgsim does not have are optional
 * rather than required: parallel scans, speculative insertion, CLUSTER / VACUUM FULL, ANALYZE
 * sampling, index builds, TABLESAMPLE, bitmap and TID-range scans, TOAST. Slots are plain objects
 * (one "virtual" kind) holding a row and its TID. The current transaction is passed explicitly
 * (PostgreSQL keeps it in global state).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import type { TableDefinition } from "../../catalog/catalog.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import type { HeapContext, Relation } from "../../utils/cache/rel.js";
import type { Row, TID, TMOutcome } from "../heap/heapam.js";
import type { BulkInsertState } from "../heap/hio.js";
import type { VacuumOptions, VacuumResult } from "../heap/vacuumlazy.js";
import type { Transaction } from "../transam/xact.js";

/** A relation as an AM sees it: the catalog entry, the derived descriptor, and the backend. */
export interface TableRelation extends Relation {
  readonly ctx: HeapContext;
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

/**
 * Row lock strength (LockTupleMode): FOR KEY SHARE, FOR SHARE, FOR NO KEY UPDATE, FOR UPDATE. The
 * heap implements all four for one locker at a time (no multixacts).
 */
export type LockTupleMode = "key share" | "share" | "no key exclusive" | "exclusive";

/** What tableTupleUpdate reports besides the TM result. */
export interface TableUpdateOutcome extends TMOutcome {
  newTid?: TID;
  /** update_indexes: new index entries are needed (false for a HOT update). */
  updateIndexes: boolean;
  lockMode: LockTupleMode;
}

/** Planner estimates (relation_estimate_size). */
export interface SizeEstimate {
  pages: number;
  tuples: number;
  allVisibleFraction: number;
}

/**
 * TableAmRoutine. Every member of REQUIRED_CALLBACKS must be present; the rest are optional.
 */
export interface TableAccessMethod {
  /** The AM's name, as in pg_am.amname. */
  readonly name: string;
  /** Checks that the AM can store this relation in this backend (e.g. the right buffer pool). */
  readonly checkUsable?: (ctx: HeapContext, def: TableDefinition) => void;

  // Slots
  slotCallbacks(rel: TableRelation): "virtual";

  // Sequential scans
  scanBegin(rel: TableRelation, snapshot: Snapshot, xact: Transaction | undefined): TableScanDesc;
  scanGetNextSlot(scan: TableScanDesc, direction: "forward", slot: TupleTableSlot): boolean;
  scanRescan(scan: TableScanDesc): void;
  scanEnd(scan: TableScanDesc): void;

  // Fetching by TID (what an index scan does)
  indexFetchBegin(rel: TableRelation): IndexFetchState;
  indexFetchReset(state: IndexFetchState): void;
  indexFetchEnd(state: IndexFetchState): void;
  indexFetchTuple(
    state: IndexFetchState,
    tid: TID,
    snapshot: Snapshot,
    xact: Transaction | undefined,
    slot: TupleTableSlot,
  ): boolean;

  // Non-modifying tuple operations
  tupleFetchRowVersion(
    rel: TableRelation,
    tid: TID,
    snapshot: Snapshot,
    xact: Transaction | undefined,
    slot: TupleTableSlot,
  ): boolean;
  tupleTidValid(scan: TableScanDesc, tid: TID): boolean;
  tupleGetLatestTid(scan: TableScanDesc, tid: TID): TID;
  tupleSatisfiesSnapshot(
    rel: TableRelation,
    slot: TupleTableSlot,
    snapshot: Snapshot,
    xact: Transaction | undefined,
  ): boolean;

  // Modifying tuple operations
  tupleInsert(
    rel: TableRelation,
    slot: TupleTableSlot,
    xact: Transaction,
    bistate?: BulkInsertState,
  ): void;
  multiInsert(
    rel: TableRelation,
    slots: TupleTableSlot[],
    xact: Transaction,
    bistate?: BulkInsertState,
  ): void;
  tupleDelete(rel: TableRelation, tid: TID, xact: Transaction, wait: boolean): TMOutcome;
  tupleUpdate(
    rel: TableRelation,
    otid: TID,
    slot: TupleTableSlot,
    xact: Transaction,
    wait: boolean,
  ): TableUpdateOutcome;
  tupleLock(
    rel: TableRelation,
    tid: TID,
    xact: Transaction,
    mode: LockTupleMode,
    wait: boolean,
  ): TMOutcome;

  // DDL
  relationSetNewFilenode(rel: TableRelation): void;
  relationNontransactionalTruncate(rel: TableRelation): void;
  relationDrop(rel: TableRelation): void;

  // Vacuum
  relationVacuum(rel: TableRelation, options: VacuumOptions): VacuumResult;

  // Size and planner support
  relationSize(rel: TableRelation, fork?: number): number;
  relationNeedsToastTable(rel: TableRelation): boolean;
  relationEstimateSize(rel: TableRelation): SizeEstimate;

  // Optional
  finishBulkInsert?(rel: TableRelation): void;
  /**
   * The newest version of a row whose updates committed (tuple_lock's
   * TUPLE_LOCK_FLAG_FIND_LAST_VERSION), for READ COMMITTED's re-check. Without it, callers use
   * tupleGetLatestTid with a fresh snapshot.
   */
  tupleFindLastVersion?(rel: TableRelation, tid: TID): TID;
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

// The wrappers (tableam.h's static inline table_* functions).

function amOf(rel: TableRelation): TableAccessMethod {
  return getTableAm(rel.def.am);
}

export function tableBeginScan(
  rel: TableRelation,
  snapshot: Snapshot,
  xact: Transaction | undefined,
): TableScanDesc {
  return amOf(rel).scanBegin(rel, snapshot, xact);
}

export function tableScanGetNextSlot(scan: TableScanDesc, slot: TupleTableSlot): boolean {
  return amOf(scan.rel).scanGetNextSlot(scan, "forward", slot);
}

export function tableRescan(scan: TableScanDesc): void {
  amOf(scan.rel).scanRescan(scan);
}

export function tableEndScan(scan: TableScanDesc): void {
  amOf(scan.rel).scanEnd(scan);
}

export function tableTupleInsert(
  rel: TableRelation,
  slot: TupleTableSlot,
  xact: Transaction,
  bistate?: BulkInsertState,
): void {
  amOf(rel).tupleInsert(rel, slot, xact, bistate);
}

export function tableMultiInsert(
  rel: TableRelation,
  slots: TupleTableSlot[],
  xact: Transaction,
  bistate?: BulkInsertState,
): void {
  amOf(rel).multiInsert(rel, slots, xact, bistate);
}

export function tableFinishBulkInsert(rel: TableRelation): void {
  amOf(rel).finishBulkInsert?.(rel);
}

export function tableTupleDelete(
  rel: TableRelation,
  tid: TID,
  xact: Transaction,
  wait = true,
): TMOutcome {
  return amOf(rel).tupleDelete(rel, tid, xact, wait);
}

export function tableTupleUpdate(
  rel: TableRelation,
  otid: TID,
  slot: TupleTableSlot,
  xact: Transaction,
  wait = true,
): TableUpdateOutcome {
  return amOf(rel).tupleUpdate(rel, otid, slot, xact, wait);
}

export function tableTupleLock(
  rel: TableRelation,
  tid: TID,
  xact: Transaction,
  mode: LockTupleMode = "exclusive",
  wait = true,
): TMOutcome {
  return amOf(rel).tupleLock(rel, tid, xact, mode, wait);
}

export function tableTupleFetchRowVersion(
  rel: TableRelation,
  tid: TID,
  snapshot: Snapshot,
  xact: Transaction | undefined,
  slot: TupleTableSlot,
): boolean {
  return amOf(rel).tupleFetchRowVersion(rel, tid, snapshot, xact, slot);
}

export function tableIndexFetchTuple(
  rel: TableRelation,
  tid: TID,
  snapshot: Snapshot,
  xact: Transaction | undefined,
  slot: TupleTableSlot,
): boolean {
  const am = amOf(rel);
  const state = am.indexFetchBegin(rel);
  try {
    return am.indexFetchTuple(state, tid, snapshot, xact, slot);
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
  return amOf(rel).tupleSatisfiesSnapshot(rel, slot, snapshot, xact);
}

/** The newest committed version of the row at `tid` (for READ COMMITTED re-checks). */
export function tableTupleFindLastVersion(rel: TableRelation, tid: TID, snapshot: Snapshot): TID {
  const am = amOf(rel);
  if (am.tupleFindLastVersion) return am.tupleFindLastVersion(rel, tid);
  const scan = am.scanBegin(rel, snapshot, undefined);
  try {
    return am.tupleGetLatestTid(scan, tid);
  } finally {
    am.scanEnd(scan);
  }
}

export function tableRelationSetNewFilenode(rel: TableRelation): void {
  amOf(rel).relationSetNewFilenode(rel);
}

export function tableRelationVacuum(rel: TableRelation, options: VacuumOptions = {}): VacuumResult {
  return amOf(rel).relationVacuum(rel, options);
}

export function tableRelationSize(rel: TableRelation, fork?: number): number {
  return amOf(rel).relationSize(rel, fork);
}

export function tableRelationEstimateSize(rel: TableRelation): SizeEstimate {
  return amOf(rel).relationEstimateSize(rel);
}
