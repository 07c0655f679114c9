/**
 * Functions the bank test runs on cluster backends: a transfer between two accounts (both rows
 * updated in one READ COMMITTED transaction, plus a ledger row), retried on deadlock or
 * serialization failure as a client would.
 */
import type { Database } from "@pgsim/heap-am";
import { PgsimError } from "@pgsim/heap-am";

export interface Transfer {
  id: number;
  from: number;
  to: number;
  amount: number;
}

/**
 * UPDATE accounts SET balance = balance + delta WHERE id = key. The row is found by a scan (one
 * statement) and updated by TID (the next), as `WHERE ctid = $1 AND id = key`: if another
 * transaction committed a new version in between, the TID no longer shows a row to the new
 * snapshot, and the client looks again. The key condition matters: once that version is pruned,
 * its line pointer may hold another account's version.
 */
function addTo(tx: ReturnType<Database["begin"]>, id: number, delta: number): void {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const found = tx.scan("accounts").find((r) => r.row[0] === id);
    if (found === undefined) throw new PgsimError("no-account", `no account ${id}`);
    const newTid = tx.update(
      "accounts",
      found.tid,
      (current) => [current[0] ?? null, (current[1] as number) + delta],
      { where: (current) => current[0] === id },
    );
    if (newTid !== undefined) return;
  }
  throw new PgsimError("row-vanished", `account ${id} kept changing`);
}

/** Returns whether the transfer committed (after retries) and how many attempts it took. */
export function transfer(
  db: Database,
  t: Transfer,
): { committed: boolean; attempts: number; backend: number } {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const tx = db.begin();
    try {
      // Both rows in id order, as careful applications do; deadlocks are still handled below.
      const [first, second] = t.from < t.to ? [t.from, t.to] : [t.to, t.from];
      addTo(tx, first, first === t.from ? -t.amount : t.amount);
      addTo(tx, second, second === t.from ? -t.amount : t.amount);
      tx.insert("ledger", [t.id, t.from, t.to, t.amount]);
      tx.commit();
      return { committed: true, attempts: attempt, backend: db.pool.procNumber };
    } catch (e) {
      tx.abort();
      if (
        e instanceof PgsimError &&
        (e.code === "deadlock-detected" || e.code === "serialization-failure")
      ) {
        continue;
      }
      throw e;
    }
  }
  return { committed: false, attempts: 20, backend: db.pool.procNumber };
}
