/**
 * The isolation specs: the races that matter between backends, each with the permutations it
 * runs and the transcript PostgreSQL's rules demand.
 */
import type { Cluster } from "@pgsim/heap-am";
import type { IsolationSpec } from "./harness.js";

const ROW = [
  { name: "id", type: "int4", notNull: true },
  { name: "v", type: "int4", notNull: true },
];

async function oneRow(cluster: Cluster): Promise<void> {
  cluster.db.createTable("t", ROW);
  await cluster.transaction([{ op: "insert", table: "t", values: [1, 0] }]);
}

const rowsOf = (results: unknown[]) =>
  JSON.stringify((results.find(Array.isArray) as unknown[][] | undefined) ?? []);

/** Two backends update one row under READ COMMITTED. */
export const updateConflictRC: IsolationSpec = {
  name: "two backends updating one row (READ COMMITTED)",
  failureMeans:
    "a lost update (the final value is 1 or 10 instead of 11), a second UPDATE that does not " +
    "wait for the first transaction, or one that fails instead of re-checking the newest version",
  cluster: { variant: "memory", bufferCount: 256 },
  setup: oneRow,
  steps: {
    s1b: { session: "s1", ops: [{ op: "begin" }] },
    s1u: {
      session: "s1",
      ops: [{ op: "addWhere", table: "t", keyColumn: 0, key: 1, column: 1, delta: 1 }],
      show: (r) => `updated ${r[0]}`,
    },
    s1c: { session: "s1", ops: [{ op: "commit" }] },
    s1a: { session: "s1", ops: [{ op: "abort" }] },
    s2b: { session: "s2", ops: [{ op: "begin" }] },
    s2u: {
      session: "s2",
      ops: [{ op: "addWhere", table: "t", keyColumn: 0, key: 1, column: 1, delta: 10 }],
      show: (r) => `updated ${r[0]}`,
    },
    s2c: { session: "s2", ops: [{ op: "commit" }] },
    check: {
      session: "s3",
      ops: [
        { op: "begin" },
        { op: "selectWhere", table: "t", keyColumn: 0, key: 1 },
        { op: "commit" },
      ],
      show: rowsOf,
    },
  },
  permutations: [
    {
      steps: ["s1b", "s1u", "s2b", "s2u", "s1c", "s2c", "check"],
      expected: [
        "s1b: ok",
        "s1u: updated 1",
        "s2b: ok",
        "s2u: <waiting for transaction X>",
        "s1c: ok",
        "s2u: <... completed> updated 1",
        "s2c: ok",
        "check: [[1,11]]",
      ],
    },
    {
      steps: ["s1b", "s1u", "s2b", "s2u", "s1a", "s2c", "check"],
      expected: [
        "s1b: ok",
        "s1u: updated 1",
        "s2b: ok",
        "s2u: <waiting for transaction X>",
        "s1a: ok",
        "s2u: <... completed> updated 1",
        "s2c: ok",
        "check: [[1,10]]",
      ],
    },
    {
      steps: ["s1b", "s1u", "s1c", "s2b", "s2u", "s2c", "check"],
      expected: [
        "s1b: ok",
        "s1u: updated 1",
        "s1c: ok",
        "s2b: ok",
        "s2u: updated 1",
        "s2c: ok",
        "check: [[1,11]]",
      ],
    },
  ],
};

/** The same race when the second transaction is REPEATABLE READ. */
export const updateConflictRR: IsolationSpec = {
  name: "two backends updating one row (REPEATABLE READ)",
  failureMeans:
    "a REPEATABLE READ transaction that overwrites a change committed after its snapshot (it " +
    "must fail with a serialization error), or one that fails although the other aborted",
  cluster: { variant: "disk", bufferCount: 64 },
  setup: oneRow,
  steps: {
    s1b: { session: "s1", ops: [{ op: "begin" }] },
    s1u: {
      session: "s1",
      ops: [{ op: "addWhere", table: "t", keyColumn: 0, key: 1, column: 1, delta: 1 }],
      show: (r) => `updated ${r[0]}`,
    },
    s1c: { session: "s1", ops: [{ op: "commit" }] },
    s1a: { session: "s1", ops: [{ op: "abort" }] },
    s2b: {
      session: "s2",
      ops: [
        { op: "begin", isolation: "repeatable read" },
        { op: "selectWhere", table: "t", keyColumn: 0, key: 1 },
      ],
      show: rowsOf,
    },
    s2u: {
      session: "s2",
      ops: [{ op: "addWhere", table: "t", keyColumn: 0, key: 1, column: 1, delta: 10 }],
      show: (r) => `updated ${r[0]}`,
    },
    s2c: { session: "s2", ops: [{ op: "commit" }] },
    check: {
      session: "s3",
      ops: [
        { op: "begin" },
        { op: "selectWhere", table: "t", keyColumn: 0, key: 1 },
        { op: "commit" },
      ],
      show: rowsOf,
    },
  },
  permutations: [
    {
      steps: ["s1b", "s1u", "s2b", "s2u", "s1c", "check"],
      expected: [
        "s1b: ok",
        "s1u: updated 1",
        "s2b: [[1,0]]",
        "s2u: <waiting for transaction X>",
        "s1c: ok",
        "s2u: <... completed> ERROR: could not serialize access due to concurrent update",
        "check: [[1,1]]",
      ],
    },
    {
      steps: ["s1b", "s1u", "s2b", "s2u", "s1a", "s2c", "check"],
      expected: [
        "s1b: ok",
        "s1u: updated 1",
        "s2b: [[1,0]]",
        "s2u: <waiting for transaction X>",
        "s1a: ok",
        "s2u: <... completed> updated 1",
        "s2c: ok",
        "check: [[1,10]]",
      ],
    },
  ],
};

/** A reader keeps a page pinned while a writer floods the pool and forces evictions. */
export const readerWhileEvicting: IsolationSpec = {
  name: "a reader while a writer evicts its page",
  failureMeans:
    "the buffer a reader has pinned was evicted or retagged under it (its tag or line pointers " +
    "change between r1 and r2), or the writer ran out of buffers although most were unpinned",
  cluster: { variant: "disk", bufferCount: 16 },
  setup: async (cluster) => {
    cluster.db.createTable("t", ROW);
    await cluster.transaction([
      { op: "insertMany", table: "t", rows: Array.from({ length: 300 }, (_, i) => [i, i]) },
    ]);
    cluster.db.checkpoint();
  },
  steps: {
    r1: {
      session: "r",
      ops: [{ op: "begin" }, { op: "holdPin", table: "t", block: 0 }, { op: "heldPins" }],
      show: (r) => JSON.stringify((r[2] as { tag: { block: number } }[]).map((p) => p.tag.block)),
    },
    w1: {
      session: "w",
      ops: [
        { op: "begin" },
        {
          op: "insertMany",
          table: "t",
          rows: Array.from({ length: 6000 }, (_, i) => [1000 + i, i]),
        },
        { op: "commit" },
      ],
      show: (r) => `inserted ${(r[1] as unknown[]).length}`,
    },
    r2: {
      session: "r",
      ops: [{ op: "heldPins" }, { op: "releasePins" }, { op: "commit" }],
      show: (r) => {
        const [p] = r[0] as { tag: { block: number; relNumber: number }; firstItemId: number }[];
        return `still block ${p!.tag.block}, first line pointer ${p!.firstItemId === 0 ? "missing" : "present"}`;
      },
    },
  },
  permutations: [
    {
      steps: ["r1", "w1", "r2"],
      expected: ["r1: [0]", "w1: inserted 6000", "r2: still block 0, first line pointer present"],
    },
    {
      steps: ["w1", "r1", "r2"],
      expected: ["w1: inserted 6000", "r1: [0]", "r2: still block 0, first line pointer present"],
    },
  ],
};

async function groupTable(cluster: Cluster): Promise<void> {
  cluster.db.createTable("g", [
    { name: "id", type: "int4", notNull: true },
    { name: "grp", type: "int4", notNull: true },
  ]);
  await cluster.transaction([
    // 100 rows of group 1 (deleted by the specs) and one of group 2, so the table keeps its page.
    {
      op: "insertMany",
      table: "g",
      rows: [...Array.from({ length: 100 }, (_, i) => [i, 1]), [100, 2]],
    },
  ]);
}

/** VACUUM while a REPEATABLE READ scan still needs the rows another transaction deleted. */
export const vacuumDuringScan: IsolationSpec = {
  name: "vacuum during a scan",
  failureMeans:
    "vacuum removed row versions a running snapshot can still see (the second scan returns fewer " +
    "than 101 rows), or it never removes them once that snapshot is gone",
  cluster: { variant: "memory", bufferCount: 256 },
  setup: groupTable,
  steps: {
    s1b: {
      session: "s1",
      ops: [
        { op: "begin", isolation: "repeatable read" },
        { op: "scan", table: "g" },
      ],
      show: (r) => `${(r[1] as unknown[]).length} rows`,
    },
    s1s: {
      session: "s1",
      ops: [{ op: "scan", table: "g" }],
      show: (r) => `${(r[0] as unknown[]).length} rows`,
    },
    s1c: { session: "s1", ops: [{ op: "commit" }] },
    s2d: {
      session: "s2",
      ops: [
        { op: "begin" },
        { op: "deleteWhere", table: "g", keyColumn: 1, key: 1 },
        { op: "commit" },
      ],
      show: (r) => `deleted ${r[1]}`,
    },
    v: {
      session: "v",
      ops: [{ op: "vacuum", table: "g" }],
      show: (r) => `removed ${(r[0] as { tuplesRemoved: number }).tuplesRemoved}`,
    },
  },
  permutations: [
    {
      steps: ["s1b", "s2d", "v", "s1s", "s1c", "v"],
      expected: [
        "s1b: 101 rows",
        "s2d: deleted 100",
        "v: removed 0",
        "s1s: 101 rows",
        "s1c: ok",
        "v: removed 100",
      ],
    },
    {
      steps: ["s2d", "s1b", "v", "s1s", "s1c"],
      expected: ["s2d: deleted 100", "s1b: 1 rows", "v: removed 100", "s1s: 1 rows", "s1c: ok"],
    },
  ],
};

/** VACUUM needs a cleanup lock: it waits while another backend has the page pinned. */
export const cleanupLockWait: IsolationSpec = {
  name: "waiting for a cleanup lock",
  failureMeans:
    "vacuum changing a page that another backend still has pinned (it must wait for the pin), " +
    "never waking up once the pin is released, or readers being blocked by the waiting vacuum",
  cluster: { variant: "memory", bufferCount: 256 },
  setup: groupTable,
  steps: {
    p1: {
      session: "p",
      ops: [{ op: "begin" }, { op: "holdPin", table: "g", block: 0 }],
      show: () => "pinned",
    },
    p2: { session: "p", ops: [{ op: "releasePins" }, { op: "commit" }], show: () => "released" },
    d: {
      session: "d",
      ops: [
        { op: "begin" },
        { op: "deleteWhere", table: "g", keyColumn: 1, key: 1 },
        { op: "commit" },
      ],
      show: (r) => `deleted ${r[1]}`,
    },
    v: {
      session: "v",
      ops: [{ op: "vacuum", table: "g" }],
      show: (r) => `removed ${(r[0] as { tuplesRemoved: number }).tuplesRemoved}`,
    },
    r: {
      session: "r",
      ops: [{ op: "begin" }, { op: "scan", table: "g" }, { op: "commit" }],
      show: (r) => `${(r[1] as unknown[]).length} rows`,
    },
  },
  permutations: [
    {
      steps: ["d", "p1", "v", "r", "p2"],
      expected: [
        "d: deleted 100",
        "p1: pinned",
        "v: <waiting for cleanup lock>",
        "r: 1 rows",
        "p2: released",
        "v: <... completed> removed 100",
      ],
    },
    {
      steps: ["d", "v", "p1", "p2"],
      expected: ["d: deleted 100", "v: removed 100", "p1: pinned", "p2: released"],
    },
  ],
};

async function threeRows(cluster: Cluster): Promise<void> {
  cluster.db.createTable("t", ROW);
  await cluster.transaction([
    {
      op: "insertMany",
      table: "t",
      rows: [
        [1, 0],
        [2, 0],
        [3, 0],
      ],
    },
  ]);
}

/** Every row of a scan's result, ordered by id. */
const allRows = (results: unknown[]) => {
  const scanned = results.find(Array.isArray) as { row: unknown[] }[] | undefined;
  return JSON.stringify(
    (scanned ?? []).map((r) => r.row).sort((a, b) => (a[0] as number) - (b[0] as number)),
  );
};

/**
 * updateAll / deleteAll page at a time (and, for comparison, per row) while another backend has
 * one row of the page updated and not yet committed: the statement waits for that row only, then
 * (READ COMMITTED) changes its newest version — the per-row path's EvalPlanQual, which the
 * page-at-a-time path falls back to for a row another transaction holds.
 */
function statementVsRowUpdate(variant: "memory" | "disk", pageAtATime: boolean): IsolationSpec {
  const all = { table: "t", column: 1, delta: 1, pageAtATime };
  return {
    name: `updateAll / deleteAll while another backend updates one row (READ COMMITTED, ${variant}, ${pageAtATime ? "page at a time" : "per row"})`,
    failureMeans:
      "a statement-level UPDATE or DELETE that does not wait for the row another transaction " +
      "holds, loses that transaction's update, changes a row twice, or skips the newest version",
    cluster: { variant, bufferCount: 64 },
    setup: threeRows,
    steps: {
      s1b: { session: "s1", ops: [{ op: "begin" }] },
      s1u: {
        session: "s1",
        ops: [{ op: "addWhere", table: "t", keyColumn: 0, key: 2, column: 1, delta: 100 }],
        show: (r) => `updated ${r[0]}`,
      },
      s1c: { session: "s1", ops: [{ op: "commit" }] },
      s1a: { session: "s1", ops: [{ op: "abort" }] },
      s2b: { session: "s2", ops: [{ op: "begin" }] },
      s2compiled: {
        session: "s2",
        ops: [{ op: "updateAll", form: "compiled", ...all }],
        show: (r) => `updated ${r[0]}`,
      },
      s2callback: {
        session: "s2",
        ops: [{ op: "updateAll", form: "callback", ...all }],
        show: (r) => `updated ${r[0]}`,
      },
      s2d: {
        session: "s2",
        ops: [{ op: "deleteAll", table: "t", pageAtATime }],
        show: (r) => `deleted ${r[0]}`,
      },
      s2c: { session: "s2", ops: [{ op: "commit" }] },
      check: {
        session: "s3",
        ops: [{ op: "begin" }, { op: "scan", table: "t" }, { op: "commit" }],
        show: allRows,
      },
    },
    permutations: [
      {
        steps: ["s1b", "s1u", "s2b", "s2compiled", "s1c", "s2c", "check"],
        expected: [
          "s1b: ok",
          "s1u: updated 1",
          "s2b: ok",
          "s2compiled: <waiting for transaction X>",
          "s1c: ok",
          "s2compiled: <... completed> updated 3",
          "s2c: ok",
          "check: [[1,1],[2,101],[3,1]]",
        ],
      },
      {
        steps: ["s1b", "s1u", "s2b", "s2callback", "s1a", "s2c", "check"],
        expected: [
          "s1b: ok",
          "s1u: updated 1",
          "s2b: ok",
          "s2callback: <waiting for transaction X>",
          "s1a: ok",
          "s2callback: <... completed> updated 3",
          "s2c: ok",
          "check: [[1,1],[2,1],[3,1]]",
        ],
      },
      {
        steps: ["s1b", "s1u", "s2b", "s2d", "s1c", "s2c", "check"],
        expected: [
          "s1b: ok",
          "s1u: updated 1",
          "s2b: ok",
          "s2d: <waiting for transaction X>",
          "s1c: ok",
          "s2d: <... completed> deleted 3",
          "s2c: ok",
          "check: []",
        ],
      },
    ],
  };
}

export const SPECS: IsolationSpec[] = [
  updateConflictRC,
  updateConflictRR,
  readerWhileEvicting,
  vacuumDuringScan,
  cleanupLockWait,
  // Page at a time on the memory-only heap; a disk-backed database logs its changes, so its
  // statements take the per-row path the other specs already cover.
  statementVsRowUpdate("memory", true),
];
