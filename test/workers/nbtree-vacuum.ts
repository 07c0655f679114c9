/**
 * Functions the B-tree VACUUM race test runs on cluster backends
 * (test/nbtree-vacuum-workers.test.ts): VACUUM of a table (its index pass over the table's one
 * index), and inserts of new keys, a few per transaction, that split leaves while that VACUUM
 * scans the index.
 *
 * Models: `VACUUM t` in one session while other sessions run `INSERT INTO t VALUES (k)`.
 * Entry points: `vacuumTable`, `insertKeys`.
 * See also: ../nbtree-vacuum-workers.test.ts, packages/heap-am/src/access/nbtree/nbtvacuum.ts and
 * nbtutils-shmem.ts (the code under test).
 */
import type { Database } from "@pgsim/heap-am";

/** LP_DEAD: what VACUUM's first heap pass leaves of a dead tuple's line pointer. */
const LP_DEAD = 3;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** VACUUM `table` (index cleanup on); returns the index pass's count of removed heap TIDs. */
export function vacuumTable(
  db: Database,
  args: { table: string },
): { tuplesRemoved: number; indexScans: number } {
  const r = db.vacuum(args.table, { indexCleanup: "on" });
  return {
    tuplesRemoved: r.indexes?.[0]?.stats?.tuplesRemoved ?? 0,
    indexScans: r.indexScans ?? 0,
  };
}

/**
 * Inserts `keys` into `table`, `perTransaction` in each transaction; returns how many went in.
 * With `afterDeadOn`, first waits (up to 10 s) until heap block `afterDeadOn` has an LP_DEAD line
 * pointer: the running VACUUM's first heap pass has got that far (the last block with rows it
 * removes), so its index pass is about to begin.
 */
export function insertKeys(
  db: Database,
  args: { table: string; keys: number[]; perTransaction: number; afterDeadOn?: number },
): number {
  if (args.afterDeadOn !== undefined) {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const items = db.pageItems(args.table, args.afterDeadOn)[0]?.items ?? [];
      if (items.some((i) => i.lp_flags === LP_DEAD)) break;
      sleep(0.2);
    }
  }
  let n = 0;
  for (let i = 0; i < args.keys.length; i += args.perTransaction) {
    const tx = db.begin();
    try {
      for (const k of args.keys.slice(i, i + args.perTransaction)) tx.insert(args.table, [k]);
      tx.commit();
      n += Math.min(args.perTransaction, args.keys.length - i);
    } catch (e) {
      tx.abort();
      throw e;
    }
  }
  return n;
}
