// The page-at-a-time statements against a real PostgreSQL 15: the same table built the same way
// on both (INSERT … SELECT, i.e. heap_insert row by row), then UPDATE … SET v = v + 1 (HOT where
// the page has room, else a new page), UPDATE … SET note = note || 'y' (rows grow: new versions on
// other pages), DELETE FROM and VACUUM, each a statement without WHERE in its own transaction —
// on pgsim's memory-only heap through `updateAll` (compiled and with a callback) and `deleteAll`,
// page at a time. After every statement every page of the main fork, the FSM and the VM must
// match PostgreSQL's, with transaction ids mapped per transaction (test/differential/compare.ts:
// only pd_lsn is masked). The differential tester (test/differential.test.ts) checks pgsim's
// per-row statements the same way; this adds the statement-level ones.
//
// PostgreSQL 15 is required: this test never skips.

import type { PgCluster } from "@pgsim/bench";
import { ForkNumber } from "@pgsim/buffer-manager";
import { Database, type DatabaseTransaction } from "@pgsim/heap-am";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { comparePages, XidMap } from "./differential/compare.js";
import type { TablePages } from "./differential/outcome.js";
import { PgSide } from "./differential/pg-side.js";
import { startPg15 } from "./pg15-peer.js";

let cluster: PgCluster | undefined;
let pgSide: PgSide | undefined;
let client: pg.Client | undefined;

beforeAll(async () => {
  cluster = await startPg15({
    dataChecksums: false,
    settings: { autovacuum: "off", fsync: "off", full_page_writes: "off" },
  });
  pgSide = await PgSide.connect(cluster);
  client = new pg.Client({
    host: "127.0.0.1",
    port: cluster.port,
    user: "postgres",
    database: "postgres",
    types: { getTypeParser: () => (value: string) => value },
  });
  await client.connect();
}, 120_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await pgSide?.close();
  await cluster?.stop();
});

function simPages(db: Database, table: string): TablePages {
  const rel = db.table(table);
  const fork = (forkNumber: number): Uint8Array[] => {
    if (!db.pool.relationExists(rel.locator, forkNumber)) return [];
    const out: Uint8Array[] = [];
    for (let b = 0; b < db.pool.nblocks(rel.locator, forkNumber); b++) {
      const buf = db.pool.readBuffer(rel.locator, forkNumber, b);
      db.pool.lockBuffer(buf, "share");
      out.push(db.pool.bufferGetPage(buf).slice());
      db.pool.unlockReleaseBuffer(buf);
    }
    return out;
  };
  return {
    main: fork(ForkNumber.MAIN),
    fsm: fork(ForkNumber.FSM),
    vm: fork(ForkNumber.VISIBILITYMAP),
  };
}

/** The text of row g (1-based) as both systems store it. */
const note = (g: number, width: number) => "x".repeat(g % width);

describe("page-at-a-time UPDATE / DELETE leave PostgreSQL 15's pages", () => {
  for (const { rows, width, fillfactor } of [
    { rows: 2000, width: 40, fillfactor: 100 },
    { rows: 1500, width: 90, fillfactor: 70 },
  ]) {
    it(`[memory] ${rows} rows, notes up to ${width - 1} bytes, fillfactor ${fillfactor}`, async () => {
      const c = client!;
      const table = `pat_${rows}_${fillfactor}`;
      await c.query(`DROP TABLE IF EXISTS ${table}`);
      await c.query(
        `CREATE TABLE ${table} (id int4 NOT NULL, v int4 NOT NULL, note text) WITH (fillfactor = ${fillfactor}, autovacuum_enabled = off)`,
      );
      const db = Database.create({ variant: "memory", bufferCount: 1024 });
      db.createTable(
        table,
        [
          { name: "id", type: "int4", notNull: true },
          { name: "v", type: "int4", notNull: true },
          { name: "note", type: "text" },
        ],
        { fillfactor },
      );
      const xids = new XidMap();
      let label = 0;
      /** One statement in its own transaction on both; returns the rows each reported. */
      const both = async (
        sql: string,
        sim: (tx: DatabaseTransaction) => number,
      ): Promise<[number, number]> => {
        const name = `T${++label}`;
        await c.query("BEGIN");
        const r = await c.query(sql);
        const x = await c.query("SELECT txid_current_if_assigned() AS x");
        await c.query("COMMIT");
        const tx = db.begin();
        const n = sim(tx);
        const simXid = tx.xid;
        tx.commit();
        const pgXid = Number((x.rows[0] as { x: string | null }).x ?? 0) % 2 ** 32;
        xids.record(name, pgXid, simXid);
        return [r.rowCount ?? 0, n];
      };
      const check = async (after: string) => {
        const diffs = comparePages(table, await pgSide!.pages(table), simPages(db, table), xids);
        expect(diffs.slice(0, 10), `after ${after}`).toEqual([]);
      };
      try {
        expect(
          await both(
            `INSERT INTO ${table} SELECT g, 0, repeat('x', g % ${width}) FROM generate_series(1, ${rows}) g`,
            (tx) =>
              tx.insertRows(
                table,
                Array.from({ length: rows }, (_, i) => [i + 1, 0, note(i + 1, width)]),
              ).length,
          ),
        ).toEqual([rows, rows]);
        await check("INSERT");
        expect(
          await both(`UPDATE ${table} SET v = v + 1`, (tx) =>
            tx.updateAll(table, { v: { add: 1 } }),
          ),
        ).toEqual([rows, rows]);
        await check("UPDATE SET v = v + 1 (compiled)");
        expect(
          await both(`UPDATE ${table} SET note = note || 'y'`, (tx) =>
            tx.updateAll(table, (row) => [row[0]!, row[1]!, `${String(row[2])}y`]),
          ),
        ).toEqual([rows, rows]);
        await check("UPDATE SET note = note || 'y' (callback)");
        expect(
          await both(`UPDATE ${table} SET v = 7`, (tx) => tx.updateAll(table, { v: { value: 7 } })),
        ).toEqual([rows, rows]);
        await check("UPDATE SET v = 7 (compiled)");
        expect(await both(`DELETE FROM ${table}`, (tx) => tx.deleteAll(table))).toEqual([
          rows,
          rows,
        ]);
        await check("DELETE");
        await c.query(`VACUUM ${table}`);
        db.vacuum(table);
        await check("VACUUM");
      } finally {
        db.close();
      }
    }, 180_000);
  }
});
