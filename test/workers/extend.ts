/**
 * Functions the concurrent-extension test runs on cluster backends: short-lived connections that
 * each insert a few wide rows, so that the table is extended all the time and a new connection's
 * first insert goes to the table's last page, which another backend may have only just added.
 *
 * Models: clients that connect, insert and disconnect (pgbench -C): each connection is a new
 * backend without an insert target block (smgr_targblock), so its first heap_insert asks the free
 * space map and then tries the relation's last block (hio.c RelationGetBufferForTuple).
 * Entry points: `insertAsNewConnections` (a function for `Cluster.call`), `WIDE_ROW_PAD`.
 * See also: ../hio-extend-workers.test.ts (starts the cluster and checks every page afterwards),
 * packages/heap-am/src/access/heap/hio.ts (the code under test).
 */
import type { Database } from "@pgsim/heap-am";

/**
 * Bytes of text per row: with the row header about 2,630 bytes, three rows fill a page, so about
 * every third insert extends the table.
 */
export const WIDE_ROW_PAD = 2600;

/** What one call asks for: rows `first` to `first + count - 1`, `rowsPerConnection` per backend. */
export interface InsertAsNewConnectionsArgs {
  table: string;
  first: number;
  count: number;
  rowsPerConnection: number;
}

/** The row with id `id`: its id, the inserting worker's backend number, and a padded text. */
export function wideRow(id: number, procNumber: number): [number, number, string] {
  const digits = String(id);
  return [id, procNumber, digits.padEnd(WIDE_ROW_PAD, String.fromCharCode(97 + (id % 26)))];
}

/**
 * Inserts the rows, each in its own transaction, through a new backend every `rowsPerConnection`
 * rows (attached to the same shared memory in this worker thread, closed after its rows).
 * Returns how many rows were inserted and which backend slots did it.
 */
export function insertAsNewConnections(
  db: Database,
  args: InsertAsNewConnectionsArgs,
): { inserted: number; backends: number[] } {
  let inserted = 0;
  const backends = new Set<number>();
  for (let start = args.first; start < args.first + args.count; start += args.rowsPerConnection) {
    const connection = db.attachAnother();
    try {
      backends.add(connection.pool.procNumber);
      const end = Math.min(start + args.rowsPerConnection, args.first + args.count);
      for (let id = start; id < end; id++) {
        const tx = connection.begin();
        tx.insert(args.table, wideRow(id, db.pool.procNumber));
        tx.commit();
        inserted++;
      }
    } finally {
      connection.close();
    }
  }
  return { inserted, backends: [...backends] };
}
