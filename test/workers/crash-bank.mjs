// Functions the WAL crash test runs on cluster backends (plain JavaScript over the built
// packages, so that a child process starts in a fraction of a second): set up the bank, move
// money, and check the bank after recovery.
import * as fs from "node:fs";
import * as path from "node:path";
import { PgsimError, pageIsVerified } from "@pgsim/heap-am";

const BLCKSZ = 8192;

/**
 * CREATE TABLE accounts, ledger; INSERT the accounts. With `xidFloor`, first moves the xid
 * counter past it (committed transactions on a scratch table), so that the bank's xids are ones
 * a PostgreSQL cluster whose next xid was `xidFloor` never used (see test/pg15-place.ts).
 */
export function setup(db, { accounts, initial, xidFloor = 0 }) {
  if (xidFloor > 0) {
    db.createTable("xid_burner", [{ name: "n", type: "int4" }]);
    while (db.transam.nextXid < xidFloor) {
      const tx = db.begin();
      tx.insert("xid_burner", [0]);
      tx.commit();
    }
  }
  db.createTable(
    "accounts",
    [
      { name: "id", type: "int4", notNull: true },
      { name: "balance", type: "int4", notNull: true },
    ],
    { fillfactor: 50, indexedColumns: ["id"] },
  );
  db.createTable("ledger", [
    { name: "id", type: "int4", notNull: true },
    { name: "src", type: "int4", notNull: true },
    { name: "dst", type: "int4", notNull: true },
    { name: "amount", type: "int4", notNull: true },
    { name: "note", type: "text" },
  ]);
  const tx = db.begin();
  for (let i = 1; i <= accounts; i++) tx.insert("accounts", [i, initial]);
  tx.commit();
  return accounts;
}

function addTo(tx, id, delta) {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const found = tx.scan("accounts").find((r) => r.row[0] === id);
    if (found === undefined) throw new PgsimError("no-account", `no account ${id}`);
    const newTid = tx.update("accounts", found.tid, (cur) => [cur[0], cur[1] + delta], {
      where: (cur) => cur[0] === id,
    });
    if (newTid !== undefined) return;
  }
  throw new PgsimError("row-vanished", `account ${id} kept changing`);
}

/** One transfer, retried on deadlock; some transfers are rolled back on purpose. */
export function transfer(db, t) {
  for (let attempt = 1; attempt <= 50; attempt++) {
    const tx = db.begin();
    try {
      const [first, second] = t.from < t.to ? [t.from, t.to] : [t.to, t.from];
      addTo(tx, first, first === t.from ? -t.amount : t.amount);
      addTo(tx, second, second === t.from ? -t.amount : t.amount);
      tx.insert("ledger", [t.id, t.from, t.to, t.amount, "x".repeat(t.pad)]);
      if (t.rollback) {
        tx.abort();
        return { committed: false };
      }
      tx.commit();
      return { committed: true };
    } catch (e) {
      tx.abort();
      if (e instanceof PgsimError && e.code === "deadlock-detected") continue;
      throw e;
    }
  }
  return { committed: false };
}

/** VACUUM now and then (pruning, freezing, truncation all get logged). */
export function vacuum(db, { freeze }) {
  db.vacuum("accounts", { freeze });
  db.vacuum("ledger", { freeze });
  return true;
}

/**
 * The bank after recovery: balances, ledger ids, whether the money adds up given the ledger,
 * and every block of every relation file verified (header sanity and checksum) as read from disk.
 */
export function check(db, { dataDir }) {
  const tx = db.begin();
  const accounts = tx.scan("accounts").map((r) => r.row);
  const ledger = tx.scan("ledger").map((r) => r.row);
  tx.commit();
  const balances = new Map(accounts.map((r) => [r[0], r[1]]));
  const expected = new Map([...balances.keys()].map((k) => [k, 0]));
  for (const [, from, to, amount] of ledger) {
    expected.set(from, expected.get(from) - amount);
    expected.set(to, expected.get(to) + amount);
  }
  let sum = 0;
  for (const v of balances.values()) sum += v;
  let pagesChecked = 0;
  const bad = [];
  const base = path.join(dataDir, "base", "5");
  for (const name of fs.readdirSync(base)) {
    const bytes = fs.readFileSync(path.join(base, name));
    const segment = /\.(\d+)$/.exec(name);
    const firstBlock = segment ? Number(segment[1]) * 131072 : 0;
    for (let off = 0; off + BLCKSZ <= bytes.length; off += BLCKSZ) {
      const page = new Uint8Array(bytes.buffer, bytes.byteOffset + off, BLCKSZ);
      pagesChecked++;
      if (!pageIsVerified(page, firstBlock + off / BLCKSZ, { checksums: true })) {
        bad.push(`${name} block ${firstBlock + off / BLCKSZ}`);
      }
    }
  }
  return {
    accounts: accounts.length,
    sum,
    ledgerIds: ledger.map((r) => r[0]),
    balances: [...balances.entries()],
    expected: [...expected.entries()],
    pagesChecked,
    bad,
  };
}
