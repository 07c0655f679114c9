/**
 * The reproductions of issue 12's write-path differences (items 1–11) as sequences for the
 * differential runner, so that each one also runs against a live PostgreSQL 15 (the unit
 * versions, asserting pgsim's page fields, are packages/heap-am/test/write-path-regressions.test.ts).
 *
 * Models: nothing in PostgreSQL (pgsim only): test data.
 * Entry points: `ISSUE_12_REPRODUCTIONS`.
 * See also: runner.ts (`replay`), ../differential.test.ts.
 */

import type { Op, Session } from "./ops.js";
import type { TableSpec, Value } from "./schema.js";

/** t1(id int4, v text), fillfactor 100, no index. */
const T1: TableSpec = {
  name: "t1",
  columns: [
    { name: "id", type: "int4", notNull: false },
    { name: "v", type: "text", notNull: false },
  ],
  fillfactor: 100,
  indexed: [],
};

const A: Session = 0;
const B: Session = 1;

const insertOp = (kind: "insert" | "copy", s: Session, rows: [number, string][]): Op => ({
  kind,
  s,
  table: "t1",
  rows: rows.map(([id, v]) => ({ id, values: [id, v] as Value[] })),
});
const insert = (s: Session, rows: [number, string][]): Op => insertOp("insert", s, rows);
const copy = (s: Session, rows: [number, string][]): Op => insertOp("copy", s, rows);
const update = (s: Session, row: number, v: string): Op => ({
  kind: "update",
  s,
  table: "t1",
  ref: { row },
  set: [[1, v]],
});
const del = (s: Session, row: number): Op => ({ kind: "delete", s, table: "t1", ref: { row } });
const begin = (s: Session): Op => ({ kind: "begin", s, iso: "read committed" });
const commit = (s: Session): Op => ({ kind: "commit", s });
const rollback = (s: Session): Op => ({ kind: "rollback", s });
const vacuum = (
  s: Session,
  options: Partial<{ freeze: boolean; disablePageSkipping: boolean }> = {},
): Op => ({
  kind: "vacuum",
  s,
  table: "t1",
  options: {
    freeze: options.freeze ?? false,
    disablePageSkipping: options.disablePageSkipping ?? false,
    indexCleanup: "auto",
    truncate: true,
  },
});
const rows = (n: number, length: number, first = 1): [number, string][] =>
  Array.from({ length: n }, (_, i) => [first + i, "x".repeat(length)]);

export interface Reproduction {
  readonly name: string;
  readonly tables: readonly TableSpec[];
  readonly ops: readonly Op[];
}

export const ISSUE_12_REPRODUCTIONS: readonly Reproduction[] = [
  {
    name: "item 1: lock, then update in the same transaction",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      begin(A),
      { kind: "lock", s: A, table: "t1", ref: { row: 1 }, mode: "update" },
      update(A, 1, "two"),
      commit(A),
    ],
  },
  {
    name: "item 2: FREEZE and an aborted deleter's xmax",
    tables: [T1],
    ops: [insert(A, [[1, "one"]]), begin(A), del(A, 1), rollback(A), vacuum(A, { freeze: true })],
  },
  {
    name: "item 2: FREEZE and a committed FOR KEY SHARE",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      begin(A),
      { kind: "lock", s: A, table: "t1", ref: { row: 1 }, mode: "key share" },
      commit(A),
      vacuum(A, { freeze: true }),
    ],
  },
  {
    name: "item 2: all-visible but not all-frozen after an aborted delete",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      vacuum(A, { freeze: true }),
      begin(A),
      del(A, 1),
      rollback(A),
      vacuum(A),
    ],
  },
  {
    name: "item 3: xmin frozen while a deleter runs",
    tables: [T1],
    ops: [insert(A, [[1, "one"]]), begin(B), del(B, 1), vacuum(A, { freeze: true }), rollback(B)],
  },
  {
    name: "item 4: pruning an aborted HOT chain",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      begin(A),
      update(A, 1, "a"),
      update(A, 1, "b"),
      rollback(A),
      vacuum(A),
    ],
  },
  {
    name: "item 5: a row lock clears HEAP_HOT_UPDATED",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      begin(A),
      update(A, 1, "a"),
      rollback(A),
      { kind: "lock", s: A, table: "t1", ref: { row: 1 }, mode: "no key update" },
    ],
  },
  {
    name: "item 6: an idle READ COMMITTED transaction",
    tables: [T1],
    ops: [
      insert(A, [
        [1, "one"],
        [2, "two"],
      ]),
      begin(B),
      { kind: "fetch", s: B, table: "t1", ref: { row: 1 } },
      del(A, 2),
      vacuum(A),
      commit(B),
    ],
  },
  {
    name: "item 7: the insert target block after VACUUM",
    tables: [T1],
    ops: [
      insert(A, rows(12, 700)),
      begin(A),
      del(A, 1),
      del(A, 2),
      commit(A),
      vacuum(A),
      insert(A, [[13, "y".repeat(1600)]]),
      del(A, 3),
      vacuum(A),
      insert(A, [[14, "small"]]),
    ],
  },
  {
    name: "item 8: the truncation threshold",
    tables: [T1],
    ops: [insert(A, rows(134, 1000)), del(A, 134), vacuum(A)],
  },
  {
    name: "item 9: pd_prune_xid when a transaction prunes during its own scan",
    tables: [T1],
    ops: [
      insert(A, rows(10, 560)),
      update(A, 1, "y".repeat(560)),
      begin(A),
      insert(A, [[11, "z".repeat(560)]]),
      update(A, 11, "w".repeat(560)),
      { kind: "scan", s: A, table: "t1" },
      commit(A),
    ],
  },
  {
    name: "item 10: DISABLE_PAGE_SKIPPING over all-frozen pages",
    tables: [T1],
    ops: [
      copy(A, rows(350, 1000)),
      vacuum(A, { freeze: true }),
      vacuum(A, { freeze: true }),
      vacuum(A, { disablePageSkipping: true }),
      insert(A, [[351, "after"]]),
    ],
  },
  {
    name: "item 11: ctids outside the table in UPDATE and DELETE",
    tables: [T1],
    ops: [
      insert(A, [[1, "one"]]),
      begin(A),
      {
        kind: "update",
        s: A,
        table: "t1",
        ref: { ctid: { block: 99, offset: 1 } },
        set: [[1, "x"]],
      },
      { kind: "delete", s: A, table: "t1", ref: { ctid: { block: 0, offset: 300 } } },
      update(A, 1, "still fine"),
      commit(A),
    ],
  },
];
