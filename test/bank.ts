/**
 * The bank the concurrency and durability tests move money in: its tables on a cluster of
 * worker backends (cluster.test.ts, snapshot-cluster.test.ts), and its PostgreSQL 15 peer — a
 * private cluster with the tables as the bank child processes create them in pgsim, and the check
 * that puts the files a run left under it: verify_heapam on each table, the accounts' count and
 * sum, the ledger's count (wal-crash.test.ts, kills under SIGKILL; fault-run.test.ts, injected
 * faults). See pg15-place.ts for how pgsim's xids are made PostgreSQL's.
 */

import type { PgCluster } from "@pgsim/bench";
import { type Cluster, Database } from "@pgsim/heap-am";
import { expect } from "vitest";
import { startPg15 } from "./pg15-peer.js";
import { placeUnderPostgres } from "./pg15-place.js";

/**
 * Creates `accounts (id, balance)` at fillfactor 50 and `ledger (id, from_id, to_id, amount)`
 * through the cluster's main handle, and inserts `count` accounts holding `initial` each, with
 * ids from `firstId`, in one transaction on a backend.
 */
export async function createBankTables(
  cluster: Cluster,
  count: number,
  initial: number,
  firstId = 0,
): Promise<void> {
  cluster.db.createTable(
    "accounts",
    [
      { name: "id", type: "int4", notNull: true },
      { name: "balance", type: "int4", notNull: true },
    ],
    { fillfactor: 50 },
  );
  cluster.db.createTable("ledger", [
    { name: "id", type: "int4", notNull: true },
    { name: "from_id", type: "int4", notNull: true },
    { name: "to_id", type: "int4", notNull: true },
    { name: "amount", type: "int4", notNull: true },
  ]);
  await cluster.transaction([
    {
      op: "insertMany",
      table: "accounts",
      rows: Array.from({ length: count }, (_, i) => [firstId + i, initial]),
    },
  ]);
}

/**
 * Starts the peer, creates the bank's tables in it, and runs `run` with the first xid pgsim's
 * run may use (past every xid the cluster used). Stops the cluster afterwards. Fails, never
 * skips, when PostgreSQL 15 is missing.
 */
export async function withBankPeer(
  run: (pg: PgCluster, xidFloor: number) => Promise<void>,
): Promise<void> {
  const pg = await startPg15({ settings: { autovacuum: "off", fsync: "off" } });
  try {
    await pg.psql(
      "CREATE EXTENSION amcheck; " +
        "CREATE TABLE accounts (id int4 NOT NULL, balance int4 NOT NULL) WITH (fillfactor = 50); " +
        "CREATE TABLE ledger (id int4 NOT NULL, src int4 NOT NULL, dst int4 NOT NULL, " +
        "amount int4 NOT NULL, note text)",
    );
    const [[xid]] = (await pg.query("SELECT txid_current()")) as [[string]];
    await run(pg, Number(xid) + 1);
  } finally {
    await pg.stop();
  }
}

/**
 * Opens what the run left in `dataDir` (recovering it if need be), then places both tables
 * under the peer: verify_heapam finds nothing, the accounts hold `accounts` rows summing to
 * `accounts × initial`, and the ledger has the rows pgsim sees. `label` goes into the messages.
 */
export async function checkBankUnderPostgres(
  pg: PgCluster,
  dataDir: string,
  xidFloor: number,
  bank: { readonly accounts: number; readonly initial: number },
  label = "",
): Promise<void> {
  const db = Database.open(dataDir, { bufferCount: 128 });
  const nextXid = db.transam.nextXid;
  const tables = ["accounts", "ledger"].map((name) => {
    const def = db.catalog.get(name);
    return { name, relNumber: def.relNumber, relfrozenxid: def.relfrozenxid ?? 0 };
  });
  const tx = db.begin();
  const ledgerRows = tx.scan("ledger").length;
  tx.commit();
  db.shutdown();
  await placeUnderPostgres(pg, dataDir, tables, { firstXid: xidFloor, nextXid });
  for (const t of ["accounts", "ledger"]) {
    expect(
      await pg.query(`SELECT * FROM verify_heapam('${t}')`),
      `verify_heapam(${t})${label}`,
    ).toEqual([]);
  }
  expect(await pg.query("SELECT count(*), sum(balance) FROM accounts")).toEqual([
    [String(bank.accounts), String(bank.accounts * bank.initial)],
  ]);
  expect(await pg.query("SELECT count(*) FROM ledger")).toEqual([[String(ledgerRows)]]);
}
