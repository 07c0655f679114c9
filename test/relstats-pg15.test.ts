/**
 * pg_class statistics of a table and its B-tree index against PostgreSQL 15: what CREATE INDEX
 * writes (index_update_stats: the table's relpages, reltuples from the build's count and
 * relallvisible; the index's relpages and reltuples, −1 kept for an empty table), and what VACUUM
 * writes (vac_update_relstats for the table; update_relstats_all_indexes for each index whose
 * cleanup counted exactly, not with INDEX_CLEANUP OFF).
 *
 * The same statements run on a PostgreSQL 15 (autovacuum off) and on pgsim; after each step the
 * two pg_class rows are compared.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDb, removeDbDirs } from "../packages/heap-am/test/db-helpers.js";
import { Pg15Sql } from "./pg15-sql.js";

const pg15 = new Pg15Sql({ cluster: { settings: { autovacuum: "off" } } });

beforeAll(() => pg15.start(), 120_000);
afterAll(async () => {
  await pg15.stop();
  removeDbDirs();
});

interface Stats {
  relpages: number;
  reltuples: number;
  relallvisible?: number;
}

async function pgStats(): Promise<{ table: Stats; index: Stats }> {
  const row = async (name: string, visible: boolean) => {
    const [r] = await pg15.q(
      `SELECT relpages, reltuples, relallvisible FROM pg_class WHERE relname = '${name}'`,
    );
    return {
      relpages: Number(r![0]),
      reltuples: Number(r![1]),
      ...(visible ? { relallvisible: Number(r![2]) } : {}),
    };
  };
  return { table: await row("t", true), index: await row("t_id", false) };
}

for (const variant of ["memory", "disk"] as const) {
  describe(`pg_class statistics (${variant})`, () => {
    const db = makeDb(variant, 2048);
    const simStats = () => {
      const t = db.catalog.get("t");
      const ix = db.indexes("t").find((d) => d.name === "t_id")!;
      return {
        table: {
          relpages: t.relpages ?? 0,
          reltuples: t.reltuples ?? -1,
          relallvisible: t.relallvisible ?? 0,
        },
        index: { relpages: ix.relpages ?? 0, reltuples: ix.reltuples ?? -1 },
      };
    };
    const columns = [
      { name: "id", type: "int4" },
      { name: "v", type: "int4" },
    ] as const;
    beforeAll(async () => {
      await pg15.q("DROP TABLE IF EXISTS t");
      await pg15.q("DROP TABLE IF EXISTS e");
    });
    afterAll(() => db.close());

    it("CREATE INDEX on an empty table: the table keeps reltuples −1, the index has 0 and its metapage", async () => {
      await pg15.q("CREATE TABLE e (id int4, v int4)");
      await pg15.q("CREATE INDEX e_id ON e (id)");
      const [pt] = await pg15.q("SELECT relpages, reltuples FROM pg_class WHERE relname = 'e'");
      const [pi] = await pg15.q("SELECT relpages, reltuples FROM pg_class WHERE relname = 'e_id'");
      db.createTable("e", [...columns]);
      db.createIndex("e_id", "e", { columns: ["id"] });
      const e = db.catalog.get("e");
      const ix = db.indexes("e")[0]!;
      expect([e.relpages ?? 0, e.reltuples ?? -1]).toEqual(pt!.map(Number));
      expect([ix.relpages ?? 0, ix.reltuples ?? -1]).toEqual(pi!.map(Number));
    });

    it("CREATE INDEX on 10,000 rows, then DELETE and VACUUM, then VACUUM (INDEX_CLEANUP OFF)", async () => {
      await pg15.q("CREATE TABLE t (id int4, v int4)");
      await pg15.q("INSERT INTO t SELECT g, g % 7 FROM generate_series(1, 10000) g");
      await pg15.q("CREATE INDEX t_id ON t (id)");
      db.createTable("t", [...columns]);
      let tx = db.begin();
      tx.insertRows(
        "t",
        Array.from({ length: 10000 }, (_, i) => [i + 1, (i + 1) % 7]),
      );
      tx.commit();
      db.createIndex("t_id", "t", { columns: ["id"] });
      expect(simStats(), "after CREATE INDEX").toEqual(await pgStats());

      // Delete the last 3,000 rows and every tenth of the others; VACUUM truncates the table.
      await pg15.q("DELETE FROM t WHERE id > 7000 OR id % 10 = 0");
      await pg15.q("VACUUM t");
      tx = db.begin();
      for (const { tid, row } of tx.scan("t")) {
        const id = row[0] as number;
        if (id > 7000 || id % 10 === 0) tx.delete("t", tid);
      }
      tx.commit();
      db.vacuum("t");
      expect(simStats(), "after DELETE and VACUUM").toEqual(await pgStats());

      // More deletes; VACUUM without index cleanup leaves the index's row alone.
      await pg15.q("DELETE FROM t WHERE id % 10 = 1");
      await pg15.q("VACUUM (INDEX_CLEANUP OFF) t");
      tx = db.begin();
      for (const { tid, row } of tx.scan("t")) {
        if ((row[0] as number) % 10 === 1) tx.delete("t", tid);
      }
      tx.commit();
      db.vacuum("t", { indexCleanup: "off" });
      expect(simStats(), "after VACUUM (INDEX_CLEANUP OFF)").toEqual(await pgStats());
      await pg15.q("DROP TABLE t");
      await pg15.q("DROP TABLE e");
    });
  });
}
