/**
 * Functions the B-tree worker tests run on cluster backends (test/nbtree-workers.test.ts):
 * inserts into a table with a primary key and a second index, each key in its own transaction so
 * that backends meet on the same leaves while they split; index scans in both directions that
 * check what they see; and an insert held open (committed or rolled back later) so that another
 * backend's insert of the same key must wait for it.
 *
 * Models: clients running `INSERT INTO t VALUES (k, …)` (a unique violation is an error the
 * client sees and goes on after) and `SELECT k FROM t WHERE k BETWEEN lo AND hi ORDER BY k [DESC]`
 * through the index.
 * Entry points: `insertKeys`, `scanKeys`, `holdInsert`, `insertOne`, `row`.
 * See also: ../nbtree-workers.test.ts, packages/heap-am/src/access/nbtree/ (the code under test).
 */
import { type Database, PgsimError } from "@pgsim/heap-am";

/** The row of key `k`: the key, a text whose length varies with it (the second index's key). */
export function row(k: number): [number, string, number] {
  return [k, `${"w".repeat(k % 37)}${String(k).padStart(7, "0")}`, k % 11];
}

/** What `insertKeys` did. */
export interface InsertKeysResult {
  inserted: number[];
  duplicates: number[];
}

/** Inserts each key in a transaction of its own; a unique violation is counted, not thrown. */
export function insertKeys(db: Database, args: { keys: number[] }): InsertKeysResult {
  const out: InsertKeysResult = { inserted: [], duplicates: [] };
  for (const k of args.keys) {
    const tx = db.begin();
    try {
      tx.insert("t", row(k));
      tx.commit();
      out.inserted.push(k);
    } catch (e) {
      tx.abort();
      if (e instanceof PgsimError && e.code === "unique-violation") out.duplicates.push(k);
      else throw e;
    }
  }
  return out;
}

/**
 * An index scan of `t_pkey` over [lo, hi] in `direction`, checked as it is read: keys strictly
 * in order (ascending forward, descending backward), each row's text the one its key has.
 * Returns how many rows it saw; throws on anything out of place.
 */
export function scanKeys(
  db: Database,
  args: { lo: number; hi: number; direction: "forward" | "backward" },
): number {
  // One snapshot for the three scans (REPEATABLE READ), so that they must agree.
  const tx = db.begin({ isolation: "repeatable read" });
  try {
    const rows = tx.indexScan("t_pkey", {
      range: { gte: args.lo, lte: args.hi },
      direction: args.direction,
    });
    let previous: number | undefined;
    for (const r of rows) {
      const k = r.row[0] as number;
      if (k < args.lo || k > args.hi) throw new Error(`key ${k} outside [${args.lo}, ${args.hi}]`);
      if (
        previous !== undefined &&
        (args.direction === "forward" ? k <= previous : k >= previous)
      ) {
        throw new Error(`${args.direction} scan: ${k} after ${previous}`);
      }
      if (r.row[1] !== row(k)[1]) throw new Error(`key ${k}: text ${String(r.row[1])}`);
      previous = k;
    }
    // The second index agrees with the first on what this snapshot sees.
    const byText = tx.indexOnlyScan("t_w", {}).rows.length;
    const byKey = tx.indexOnlyScan("t_pkey", {}).rows.length;
    if (byText !== byKey) throw new Error(`t_w holds ${byText} visible rows, t_pkey ${byKey}`);
    tx.commit();
    return rows.length;
  } catch (e) {
    tx.abort();
    throw e;
  }
}

/** Sleeps the worker thread (a backend waiting with its transaction open). */
function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Inserts key `k`, keeps the transaction open `holdMs`, then commits or rolls back. */
export function holdInsert(
  db: Database,
  args: { key: number; holdMs: number; commit: boolean },
): boolean {
  const tx = db.begin();
  tx.insert("t", row(args.key));
  sleep(args.holdMs);
  if (args.commit) tx.commit();
  else tx.abort();
  return args.commit;
}

/** Inserts key `k` in a transaction of its own: "inserted" or "duplicate", and how long it took. */
export function insertOne(
  db: Database,
  args: { key: number },
): { outcome: "inserted" | "duplicate"; ms: number; message?: string } {
  const started = performance.now();
  const tx = db.begin();
  try {
    tx.insert("t", row(args.key));
    tx.commit();
    return { outcome: "inserted", ms: performance.now() - started };
  } catch (e) {
    tx.abort();
    if (e instanceof PgsimError && e.code === "unique-violation") {
      return { outcome: "duplicate", ms: performance.now() - started, message: e.message };
    }
    throw e;
  }
}

/**
 * UPDATE t SET g = g + 1 WHERE k = key, `times` times, each in a transaction of its own; returns
 * how many of those UPDATEs changed a row (each must: the row is never deleted).
 */
export function incrementByKey(db: Database, args: { key: number; times: number }): number {
  let updated = 0;
  for (let i = 0; i < args.times; i++) {
    const tx = db.begin();
    updated += tx.updateByKey("t_pkey", args.key, (r) => [
      r[0] ?? null,
      r[1] ?? null,
      (r[2] as number) + 1,
    ]);
    tx.commit();
  }
  return updated;
}
