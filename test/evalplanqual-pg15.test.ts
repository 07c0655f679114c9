/**
 * EvalPlanQual against PostgreSQL 15: a READ COMMITTED UPDATE, DELETE or SELECT … FOR UPDATE that
 * meets a row another transaction changed locks the row's newest version before it checks its
 * conditions again (heapam_tuple_lock, then EvalPlanQual). When the check fails the statement
 * leaves the row alone but **keeps the lock** until it ends: a third transaction waits for it.
 * When it passes, the change is made on the locked version.
 *
 * Each case runs on a real PostgreSQL 15 (session B's statement blocks on session A's update;
 * A commits; B finishes) and on pgsim (A commits from inside B's first condition check, so that
 * B meets the committed update as PostgreSQL's B does after its wait), then compares the table's
 * page byte for byte, transaction ids mapped by role (setup, A, B). Both see the lock from a third
 * transaction: PostgreSQL's waits out `lock_timeout`, pgsim's `lockTimeoutMs`.
 */

import { Database, type DatabaseTransaction } from "@pgsim/heap-am";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDb, removeDbDirs } from "../packages/heap-am/test/db-helpers.js";
import { comparePages, XidMap } from "./differential/compare.js";
import { Pg15Sql, simForkPages } from "./pg15-sql.js";

const pg15 = new Pg15Sql({ extensions: ["pageinspect"] });

beforeAll(() => pg15.start(), 120_000);
afterAll(async () => {
  await pg15.stop();
  removeDbDirs();
});

/** One case: the table, and what session B runs on PostgreSQL and on pgsim. */
interface EpqCase {
  readonly name: string;
  /** A primary key on id (so that its column is a key column). */
  readonly primaryKey: boolean;
  /** Session B's statement on PostgreSQL, run after A's uncommitted `SET n = 5`. */
  readonly pgStatement: string;
  /** Rows PostgreSQL reports for it (UPDATE/DELETE count, or rows returned by SELECT). */
  readonly affected: number;
  /** The same statement on pgsim; `where` is B's condition, to be wrapped. */
  readonly sim: (
    tx: DatabaseTransaction,
    tid: { block: number; offset: number },
    where: (row: readonly unknown[]) => boolean,
  ) => number;
  /** B's own condition on the row (checked on the version it first saw, then on the newest). */
  readonly condition: (row: readonly unknown[]) => boolean;
}

const CASES: readonly EpqCase[] = [
  {
    name: "UPDATE whose re-check fails: no row updated, the newest version stays locked",
    primaryKey: false,
    pgStatement: "UPDATE t SET n = n + 1 WHERE id = 1 AND n = 0",
    affected: 0,
    sim: (tx, tid, where) =>
      tx.update("t", tid, (r) => [r[0] as number, (r[1] as number) + 1], { where }) ? 1 : 0,
    condition: (r) => r[1] === 0,
  },
  {
    name: "UPDATE whose re-check passes: the locked newest version is updated",
    primaryKey: false,
    pgStatement: "UPDATE t SET n = n + 1 WHERE id = 1",
    affected: 1,
    sim: (tx, tid, where) =>
      tx.update("t", tid, (r) => [r[0] as number, (r[1] as number) + 1], { where }) ? 1 : 0,
    condition: () => true,
  },
  {
    name: "UPDATE of a key column whose re-check fails: FOR UPDATE strength (HEAP_KEYS_UPDATED)",
    primaryKey: true,
    pgStatement: "UPDATE t SET id = id + 10 WHERE id = 1 AND n = 0",
    affected: 0,
    sim: (tx, tid, where) =>
      tx.update("t", tid, (r) => [(r[0] as number) + 10, r[1] as number], { where }) ? 1 : 0,
    condition: (r) => r[1] === 0,
  },
  {
    name: "UPDATE of a non-key column with a primary key, re-check passes",
    primaryKey: true,
    pgStatement: "UPDATE t SET n = n + 1 WHERE id = 1",
    affected: 1,
    sim: (tx, tid, where) =>
      tx.update("t", tid, (r) => [r[0] as number, (r[1] as number) + 1], { where }) ? 1 : 0,
    condition: () => true,
  },
  {
    name: "DELETE whose re-check fails: nothing deleted, the newest version stays locked",
    primaryKey: false,
    pgStatement: "DELETE FROM t WHERE id = 1 AND n = 0",
    affected: 0,
    sim: (tx, tid, where) => (tx.delete("t", tid, { where }) ? 1 : 0),
    condition: (r) => r[1] === 0,
  },
  {
    name: "SELECT … FOR UPDATE whose re-check fails: no row returned, the newest version locked",
    primaryKey: false,
    pgStatement: "SELECT * FROM t WHERE id = 1 AND n = 0 FOR UPDATE",
    affected: 0,
    sim: (tx, tid, where) => (tx.lockRow("t", tid, { mode: "update", where }) ? 1 : 0),
    condition: (r) => r[1] === 0,
  },
];

const hexPage = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));

/** What PostgreSQL leaves: block 0 of t before B commits, the xids, and what a third saw. */
async function onPostgres(c: EpqCase): Promise<{
  page: Uint8Array;
  xids: { setup: number; a: number; b: number };
  affected: number;
  thirdWaited: boolean;
  final: string[][];
}> {
  await pg15.q("DROP TABLE IF EXISTS t");
  await pg15.q(
    `CREATE TABLE t (id int4 NOT NULL${c.primaryKey ? " PRIMARY KEY" : ""}, n int4 NOT NULL)`,
  );
  await pg15.q("INSERT INTO t VALUES (1, 0)");
  const setup = Number((await pg15.q("SELECT xmin FROM t"))[0]![0]);
  const a = await pg15.newSession();
  const b = await pg15.newSession();
  const third = await pg15.newSession();
  try {
    await a.query("BEGIN");
    const xa = Number((await a.query("SELECT txid_current() AS x")).rows[0].x);
    await a.query("UPDATE t SET n = 5 WHERE id = 1");
    await b.query("BEGIN ISOLATION LEVEL READ COMMITTED");
    const xb = Number((await b.query("SELECT txid_current() AS x")).rows[0].x);
    const running = b.query(c.pgStatement);
    // B waits for A's transaction (a lock not granted) before A commits.
    for (let i = 0; ; i++) {
      const waiting = await pg15.q(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()",
      );
      if (Number(waiting[0]?.[0]) > 0) break;
      if (i > 500) throw new Error("session B never waited for session A");
      await new Promise((r) => setTimeout(r, 10));
    }
    await a.query("COMMIT");
    const result = await running;
    const affected = result.command === "SELECT" ? (result.rowCount ?? 0) : (result.rowCount ?? 0);
    const pageHex = (await pg15.q("SELECT encode(get_raw_page('t', 0), 'hex')"))[0]?.[0];
    // A third transaction that would change the row waits for B's lock.
    await third.query("SET lock_timeout = '200ms'");
    let thirdWaited = false;
    try {
      await third.query("UPDATE t SET n = 99 WHERE id IN (1, 11)");
    } catch (e) {
      thirdWaited = (e as { code?: string }).code === "55P03";
      if (!thirdWaited) throw e;
    }
    await b.query("COMMIT");
    const final = (await pg15.q("SELECT id, n FROM t ORDER BY id")) as string[][];
    return {
      page: hexPage(String(pageHex)),
      xids: { setup, a: xa, b: xb },
      affected,
      thirdWaited,
      final,
    };
  } finally {
    await Promise.all([a.end(), b.end(), third.end()]);
  }
}

/** The same on pgsim. */
function onPgsim(
  c: EpqCase,
  variant: "memory" | "disk",
): {
  page: Uint8Array;
  xids: { setup: number; a: number; b: number };
  affected: number;
  thirdWaited: boolean;
  final: string[][];
} {
  const db = makeDb(variant, 64, { lockTimeoutMs: 200 });
  try {
    db.createTable("t", [
      { name: "id", type: "int4", notNull: true },
      { name: "n", type: "int4", notNull: true },
    ]);
    if (c.primaryKey) db.createIndex("t_pkey", "t", { columns: ["id"], unique: true });
    const s = db.begin();
    const v1 = s.insert("t", [1, 0]);
    const setup = s.xid;
    s.commit();
    const aDb = Database.attach(db.shared);
    const thirdDb = Database.attach(db.shared);
    try {
      const a = aDb.begin();
      a.update("t", v1, [1, 5]);
      const xa = a.xid;
      const b = db.begin({ isolation: "read committed" });
      let committed = false;
      const affected = c.sim(b, v1, (row) => {
        if (!committed) {
          committed = true;
          a.commit();
        }
        return c.condition(row);
      });
      const xb = b.xid;
      const page = simForkPages(db, db.table("t").locator, 0)[0]!;
      const third = thirdDb.begin();
      let thirdWaited = false;
      try {
        for (const { tid } of third.scan("t")) third.update("t", tid, (r) => [r[0] as number, 99]);
      } catch (e) {
        thirdWaited = (e as { code?: string }).code === "lock-timeout";
        if (!thirdWaited) throw e;
      }
      if (third.state === "in progress") third.abort();
      b.commit();
      const check = db.begin();
      const final = check
        .scan("t")
        .map((r) => r.row.map(String))
        .sort((x, y) => Number(x[0]) - Number(y[0]));
      check.commit();
      return { page, xids: { setup, a: xa, b: xb }, affected, thirdWaited, final };
    } finally {
      aDb.close();
      thirdDb.close();
    }
  } finally {
    db.close();
  }
}

for (const c of CASES) {
  describe(`EvalPlanQual: ${c.name}`, () => {
    let pgOut: Awaited<ReturnType<typeof onPostgres>>;
    beforeAll(async () => {
      pgOut = await onPostgres(c);
    }, 60_000);

    it("PostgreSQL 15: as described", () => {
      expect(pgOut.affected).toBe(c.affected);
      expect(pgOut.thirdWaited).toBe(true);
    });

    for (const variant of ["memory", "disk"] as const) {
      it(`pgsim (${variant}): the same rows, the same lock, the same page`, () => {
        const sim = onPgsim(c, variant);
        expect(sim.affected).toBe(pgOut.affected);
        expect(
          sim.thirdWaited,
          "a third transaction waits for B's lock on the newest version",
        ).toBe(pgOut.thirdWaited);
        expect(sim.final).toEqual(pgOut.final);
        const xids = new XidMap();
        xids.record("setup", pgOut.xids.setup, sim.xids.setup);
        xids.record("A", pgOut.xids.a, sim.xids.a);
        xids.record("B", pgOut.xids.b, sim.xids.b);
        const diff = comparePages(
          "t",
          { main: [pgOut.page], fsm: [], vm: [] },
          { main: [sim.page], fsm: [], vm: [] },
          xids,
        );
        expect(diff).toEqual([]);
      });
    }
  });
}
