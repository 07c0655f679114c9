/**
 * Keeping a table's indexes in step with its heap: after a heap insert (or a non-HOT update's new
 * version), one entry per index, with the unique check of unique indexes.
 *
 * Models: src/backend/executor/execIndexing.c (ExecOpenIndices' list of the table's indexes,
 * ExecInsertIndexTuples with FormIndexDatum and index_insert, and the UNIQUE_CHECK_YES choice for
 * immediate unique constraints) and nodeModifyTable.c's calls of it (after table_tuple_insert,
 * and after table_tuple_update when update_indexes is set).
 * Entry points: `execInsertIndexTuples`.
 * See also: ../access/index/indexam.ts (index_insert), ../database/transaction.ts (the callers).
 *
 * Differs from PostgreSQL: no exclusion constraints, partial or expression indexes, deferred
 * unique constraints, or ON CONFLICT arbiter indexes; indexUnchanged is always false (it only
 * steers bottom-up deletion, which pgsim does not model).
 */

import type { IndexRelation } from "../access/index/amapi.js";
import { formIndexDatum, indexInsert } from "../access/index/indexam.js";
import type { Row, TableRelation, TID } from "../access/table/tableam.js";
import type { Transaction } from "../access/transam/xact.js";

/**
 * ExecInsertIndexTuples: inserts the entry of the heap tuple `row` at `tid` into every index of
 * the table, in the order given (the table's indexes in creation order), checking unique indexes
 * against the heap. A unique violation throws after the earlier indexes got their entries; the
 * statement fails and the transaction aborts, which leaves those entries pointing at a dead row
 * (as in PostgreSQL).
 */
export function execInsertIndexTuples(
  indexes: readonly IndexRelation[],
  heap: TableRelation,
  row: Row,
  tid: TID,
  xact: Transaction,
): void {
  for (const index of indexes) {
    indexInsert(
      index,
      formIndexDatum(index, row),
      tid,
      heap,
      index.unique ? "yes" : "no",
      false,
      xact,
    );
  }
}
