/**
 * pgbench's "tpcb-like" workload on pgsim: the tables `pgbench -i` creates and fills, with their
 * primary keys, and the transaction the built-in script runs — the functions `pgsim-bench tpcb`
 * calls on the cluster's worker backends through the pooler.
 *
 * Models: src/bin/pgbench/pgbench.c — initCreateTables (the four tables, fillfactor 100),
 * initGenerateDataClientSide (branches and tellers with zero balances, accounts with abalance 0
 * and an empty, blank-padded filler), initCreatePKeys (the primary keys, built after the data),
 * and the built-in "tpcb-like" script:
 *
 *     \set aid random(1, 100000 * :scale)
 *     \set bid random(1, 1 * :scale)
 *     \set tid random(1, 10 * :scale)
 *     \set delta random(-5000, 5000)
 *     BEGIN;
 *     UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
 *     SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
 *     UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
 *     UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
 *     INSERT INTO pgbench_history (tid, bid, aid, delta, mtime)
 *       VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
 *     END;
 *
 * Every statement that names a key goes through that table's primary key (an nbtree index scan,
 * as PostgreSQL's plan for it is an Index Scan on the pkey); the UPDATEs keep the index in step
 * (a HOT update when the new version fits on the page, as abalance is not indexed).
 * Entry points: `createTpcbTables`, `tpcbTransaction`, `tpcbCheck`, `TPCB_*` sizes.
 * See also: tpcb.ts (the benchmark), pgbench.ts (PostgreSQL's side), backends-functions.ts.
 */

import { type Database, PgsimError } from "@pgsim/heap-am";

/** Rows per scale unit, as pgbench.c's naccounts, ntellers and nbranches. */
export const TPCB_ACCOUNTS_PER_SCALE = 100_000;
export const TPCB_TELLERS_PER_SCALE = 10;
export const TPCB_BRANCHES_PER_SCALE = 1;

/** Microseconds from 1970-01-01 to 2000-01-01, PostgreSQL's timestamp epoch. */
const POSTGRES_EPOCH_MS = 946_684_800_000;

/**
 * pgbench -i -s `scale`: the four tables (fillfactor 100, as pgbench's default), their rows, then
 * the primary keys (CREATE INDEX on the filled tables, as initCreatePKeys does after the data).
 * `onProgress` gets the number of account rows loaded.
 */
export function createTpcbTables(
  db: Database,
  scale: number,
  onProgress?: (accountsDone: number) => void,
): void {
  const fillfactor = 100;
  db.createTable(
    "pgbench_history",
    [
      { name: "tid", type: "int4" },
      { name: "bid", type: "int4" },
      { name: "aid", type: "int4" },
      { name: "delta", type: "int4" },
      { name: "mtime", type: "timestamp" },
      { name: "filler", type: "char(22)" },
    ],
    { fillfactor },
  );
  db.createTable(
    "pgbench_tellers",
    [
      { name: "tid", type: "int4", notNull: true },
      { name: "bid", type: "int4" },
      { name: "tbalance", type: "int4" },
      { name: "filler", type: "char(84)" },
    ],
    { fillfactor },
  );
  db.createTable(
    "pgbench_accounts",
    [
      { name: "aid", type: "int4", notNull: true },
      { name: "bid", type: "int4" },
      { name: "abalance", type: "int4" },
      { name: "filler", type: "char(84)" },
    ],
    { fillfactor },
  );
  db.createTable(
    "pgbench_branches",
    [
      { name: "bid", type: "int4", notNull: true },
      { name: "bbalance", type: "int4" },
      { name: "filler", type: "char(88)" },
    ],
    { fillfactor },
  );
  const nbranches = TPCB_BRANCHES_PER_SCALE * scale;
  const ntellers = TPCB_TELLERS_PER_SCALE * scale;
  const naccounts = TPCB_ACCOUNTS_PER_SCALE * scale;
  let tx = db.begin();
  for (let i = 0; i < nbranches; i++) tx.insert("pgbench_branches", [i + 1, 0, null]);
  for (let i = 0; i < ntellers; i++) {
    tx.insert("pgbench_tellers", [i + 1, Math.floor(i / TPCB_TELLERS_PER_SCALE) + 1, 0, null]);
  }
  tx.commit();
  // COPY pgbench_accounts FROM STDIN: "aid\tbid\t0\t" — the empty filler is blank-padded.
  tx = db.begin();
  const batch = 10_000;
  for (let first = 0; first < naccounts; first += batch) {
    const rows: (number | string)[][] = [];
    for (let j = first; j < Math.min(naccounts, first + batch); j++) {
      rows.push([j + 1, Math.floor(j / TPCB_ACCOUNTS_PER_SCALE) + 1, 0, ""]);
    }
    tx.insertMany("pgbench_accounts", rows);
    onProgress?.(Math.min(naccounts, first + batch));
  }
  tx.commit();
  // initCreatePKeys: ALTER TABLE … ADD PRIMARY KEY, after the data.
  db.createIndex("pgbench_branches_pkey", "pgbench_branches", { columns: ["bid"], unique: true });
  db.createIndex("pgbench_tellers_pkey", "pgbench_tellers", { columns: ["tid"], unique: true });
  db.createIndex("pgbench_accounts_pkey", "pgbench_accounts", { columns: ["aid"], unique: true });
  // pgbench -i ends with VACUUM ANALYZE of the tables (initVacuum).
  for (const t of ["pgbench_branches", "pgbench_tellers", "pgbench_accounts", "pgbench_history"]) {
    db.vacuum(t);
  }
}

/** One transaction's variables: [aid, bid, tid, delta]. */
export type TpcbArgs = readonly [aid: number, bid: number, tid: number, delta: number];

/** Adds `delta` to the integer column `column` of the row with primary key `key`. */
function addByKey(
  tx: ReturnType<Database["begin"]>,
  index: string,
  key: number,
  column: number,
  delta: number,
): void {
  const n = tx.updateByKey(index, key, (row) => {
    const out = [...row];
    out[column] = (row[column] as number) + delta;
    return out;
  });
  if (n !== 1) {
    throw new PgsimError("benchmark-failed", `${index}: key ${key} updated ${n} rows, not 1`);
  }
}

/**
 * The tpcb-like transaction (see the header). Returns the account's balance after the update (the
 * SELECT's answer). A failure throws: under READ COMMITTED none of its statements can fail
 * unless something is broken.
 */
export function tpcbTransaction(db: Database, args: TpcbArgs): number {
  const [aid, bid, tid, delta] = args;
  const tx = db.begin();
  try {
    addByKey(tx, "pgbench_accounts_pkey", aid, 2, delta);
    const account = tx.fetchByKey("pgbench_accounts_pkey", aid);
    if (account === undefined) {
      throw new PgsimError("benchmark-failed", `pgbench_accounts: no row with aid ${aid}`);
    }
    addByKey(tx, "pgbench_tellers_pkey", tid, 2, delta);
    addByKey(tx, "pgbench_branches_pkey", bid, 1, delta);
    const mtime = BigInt(Date.now() - POSTGRES_EPOCH_MS) * 1000n;
    tx.insert("pgbench_history", [tid, bid, aid, delta, mtime, null]);
    tx.commit();
    return account.row[2] as number;
  } catch (e) {
    tx.abort();
    throw e;
  }
}

/**
 * TPC-B's consistency condition after a run: the branches', tellers' and accounts' balances each
 * sum to the history's deltas. Returns the four sums and the history's row count.
 */
export function tpcbCheck(db: Database): {
  branches: number;
  tellers: number;
  accounts: number;
  history: number;
  historyRows: number;
} {
  const tx = db.begin();
  try {
    const sum = (table: string, column: number): number =>
      tx.scan(table).reduce((s, r) => s + (r.row[column] as number), 0);
    const history = tx.scan("pgbench_history");
    return {
      branches: sum("pgbench_branches", 1),
      tellers: sum("pgbench_tellers", 2),
      accounts: sum("pgbench_accounts", 2),
      history: history.reduce((s, r) => s + (r.row[3] as number), 0),
      historyRows: history.length,
    };
  } finally {
    tx.commit();
  }
}
