/**
 * B-tree scan keys beyond `column op value`, against PostgreSQL 15: `IS NULL`, `IS NOT NULL`
 * (SK_SEARCHNULL / SK_SEARCHNOTNULL) and `op ANY (array)` (SK_SEARCHARRAY: an `=` array is one
 * primitive scan per element, in index order; `<`/`>` arrays keep their extreme element), alone
 * and combined with other keys, on ascending, descending and NULLS FIRST columns and on a
 * two-column index, forward and backward.
 *
 * The same rows go into a PostgreSQL 15 table and a pgsim one (same order, so the same TIDs), the
 * same index is built on both, and each condition's rows are compared: forward, exactly the
 * order of PostgreSQL's own index scan (forced: no sequential or bitmap scan); backward, the keys
 * in the reverse order and the same rows (within a posting list a backward scan returns TIDs in
 * ascending order, as PostgreSQL's does).
 */

import type { IndexWhereKey } from "@pgsim/heap-am";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDb, removeDbDirs } from "../packages/heap-am/test/db-helpers.js";
import { Pg15Sql } from "./pg15-sql.js";

const pg15 = new Pg15Sql();

beforeAll(() => pg15.start(), 120_000);
afterAll(async () => {
  await pg15.stop();
  removeDbDirs();
});

/** Deterministic rows (id, a, b): a in 0..40 and b in 0..9, about one in eight NULL. */
function rows(n: number): (number | null)[][] {
  let x = 12345;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 8;
  };
  const out: (number | null)[][] = [];
  for (let id = 1; id <= n; id++) {
    const a = next() % 8 === 0 ? null : next() % 41;
    const b = next() % 8 === 0 ? null : next() % 10;
    out.push([id, a, b]);
  }
  return out;
}

const ROWS = rows(3000);

/** An index definition on both sides. */
interface IndexCase {
  readonly name: string;
  /** PostgreSQL's column list. */
  readonly sql: string;
  /** pgsim's columns. */
  readonly columns: (string | { name: string; desc?: boolean; nullsFirst?: boolean })[];
}

/** A condition on both sides. */
interface Condition {
  readonly sql: string;
  readonly keys: readonly IndexWhereKey[];
}

const ONE_COLUMN: readonly Condition[] = [
  { sql: "a IS NULL", keys: [{ column: "a", op: "is null" }] },
  { sql: "a IS NOT NULL", keys: [{ column: "a", op: "is not null" }] },
  {
    sql: "a IS NOT NULL AND a < 5",
    keys: [
      { column: "a", op: "is not null" },
      { column: "a", op: "<", value: 5 },
    ],
  },
  { sql: "a > 35", keys: [{ column: "a", op: ">", value: 35 }] },
  { sql: "a <= 3", keys: [{ column: "a", op: "<=", value: 3 }] },
  { sql: "a = ANY('{7,3,40,NULL,3}')", keys: [{ column: "a", op: "=", any: [7, 3, 40, null, 3] }] },
  { sql: "a < ANY('{3,10}')", keys: [{ column: "a", op: "<", any: [3, 10] }] },
  { sql: "a >= ANY('{38,35}')", keys: [{ column: "a", op: ">=", any: [38, 35] }] },
  { sql: "a = ANY('{}')", keys: [{ column: "a", op: "=", any: [] }] },
  { sql: "a = ANY('{NULL}')", keys: [{ column: "a", op: "=", any: [null] }] },
  {
    sql: "a IS NULL AND a = 3",
    keys: [
      { column: "a", op: "is null" },
      { column: "a", op: "=", value: 3 },
    ],
  },
  {
    sql: "a IS NULL AND a IS NOT NULL",
    keys: [
      { column: "a", op: "is null" },
      { column: "a", op: "is not null" },
    ],
  },
  {
    sql: "a = ANY('{1,2,3,4}') AND a > 2",
    keys: [
      { column: "a", op: "=", any: [1, 2, 3, 4] },
      { column: "a", op: ">", value: 2 },
    ],
  },
];

const TWO_COLUMNS: readonly Condition[] = [
  ...ONE_COLUMN,
  { sql: "b IS NULL", keys: [{ column: "b", op: "is null" }] },
  {
    sql: "a = ANY('{1,2}') AND b = ANY('{3,0,9}')",
    keys: [
      { column: "a", op: "=", any: [1, 2] },
      { column: "b", op: "=", any: [3, 0, 9] },
    ],
  },
  {
    sql: "a IS NULL AND b IS NOT NULL",
    keys: [
      { column: "a", op: "is null" },
      { column: "b", op: "is not null" },
    ],
  },
  {
    sql: "a = 5 AND b IS NULL",
    keys: [
      { column: "a", op: "=", value: 5 },
      { column: "b", op: "is null" },
    ],
  },
  {
    sql: "a >= 38 AND b IS NULL",
    keys: [
      { column: "a", op: ">=", value: 38 },
      { column: "b", op: "is null" },
    ],
  },
  {
    sql: "a >= 30 AND b = ANY('{2,4}')",
    keys: [
      { column: "a", op: ">=", value: 30 },
      { column: "b", op: "=", any: [2, 4] },
    ],
  },
];

const INDEXES: readonly (IndexCase & { conditions: readonly Condition[] })[] = [
  { name: "a", sql: "(a)", columns: ["a"], conditions: ONE_COLUMN },
  {
    name: "a DESC",
    sql: "(a DESC)",
    columns: [{ name: "a", desc: true }],
    conditions: ONE_COLUMN,
  },
  {
    name: "a NULLS FIRST",
    sql: "(a NULLS FIRST)",
    columns: [{ name: "a", nullsFirst: true }],
    conditions: ONE_COLUMN,
  },
  {
    name: "a DESC NULLS LAST, b",
    sql: "(a DESC NULLS LAST, b)",
    columns: [{ name: "a", desc: true, nullsFirst: false }, "b"],
    conditions: TWO_COLUMNS,
  },
  { name: "a, b", sql: "(a, b)", columns: ["a", "b"], conditions: TWO_COLUMNS },
];

const keyOf = (r: readonly unknown[]) => `${r[1] ?? "NULL"}|${r[2] ?? "NULL"}`;

for (const ix of INDEXES) {
  describe(`B-tree scan keys on (${ix.name})`, () => {
    const db = makeDb("memory", 512);
    const expected = new Map<string, (number | null)[][]>();
    beforeAll(async () => {
      await pg15.q("DROP TABLE IF EXISTS t");
      await pg15.q("CREATE TABLE t (id int4, a int4, b int4)");
      const values = ROWS.map((r) => `(${r.map((v) => v ?? "NULL").join(", ")})`).join(", ");
      await pg15.q(`INSERT INTO t VALUES ${values}`);
      await pg15.q(`CREATE INDEX t_idx ON t ${ix.sql}`);
      // PostgreSQL's own index scan, forward (no ORDER BY: the rows come in the scan's order,
      // one primitive scan per array element); a condition the planner proves false reads nothing.
      await pg15.q("SET enable_seqscan = off");
      await pg15.q("SET enable_bitmapscan = off");
      await pg15.q("SET enable_indexonlyscan = off");
      for (const c of ix.conditions) {
        const sql = `SELECT id, a, b FROM t WHERE ${c.sql}`;
        const plan = (await pg15.q(`EXPLAIN (COSTS OFF) ${sql}`)).map((r) => r[0]).join("\n");
        const got = (await pg15.q(sql)).map((r) => r.map((v) => (v === null ? null : Number(v))));
        if (!/Index Scan using t_idx on t/.test(plan)) {
          expect(plan, `${c.sql}: no index scan, so nothing may match`).toMatch(
            /One-Time Filter: false/,
          );
          expect(got).toEqual([]);
        }
        expected.set(c.sql, got);
      }
      await pg15.q("RESET ALL");
      db.createTable("t", [
        { name: "id", type: "int4" },
        { name: "a", type: "int4" },
        { name: "b", type: "int4" },
      ]);
      const tx = db.begin();
      tx.insertRows("t", ROWS);
      tx.commit();
      db.createIndex("t_idx", "t", { columns: ix.columns });
    }, 60_000);
    afterAll(() => db.close());

    for (const c of ix.conditions) {
      it(`WHERE ${c.sql}: forward as PostgreSQL's index scan, backward reversed`, () => {
        const want = expected.get(c.sql)!;
        const tx = db.begin();
        const forward = tx.indexScan("t_idx", { where: c.keys }).map((r) => r.row);
        const backward = tx
          .indexScan("t_idx", { where: c.keys, direction: "backward" })
          .map((r) => r.row);
        tx.commit();
        expect(forward).toEqual(want);
        expect(backward.map(keyOf)).toEqual(want.map(keyOf).reverse());
        expect(backward.map((r) => r[0]).sort((x, y) => Number(x) - Number(y))).toEqual(
          want.map((r) => r[0]).sort((x, y) => Number(x) - Number(y)),
        );
      });
    }
  });
}
