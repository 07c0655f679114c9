/**
 * Functions the statistics test runs on cluster backends: an INSERT that reports what it did to
 * the buffers (EXPLAIN (ANALYZE, BUFFERS)'s counts, per backend), and a look at a table's
 * statistics from inside a worker.
 *
 * pgsim only (test support).
 */
import type { BufferUsage } from "@pgsim/buffer-manager";
import type { Database, StatUserTablesRow } from "@pgsim/heap-am";

/** INSERTs one row in its own transaction; returns the statement's buffer usage and backend. */
export function insertAndCount(
  db: Database,
  args: { table: string; values: number[] },
): { buffers: BufferUsage; procNumber: number } {
  const tx = db.begin();
  tx.insert(args.table, args.values);
  const buffers = tx.lastStatementBuffers();
  tx.commit();
  return { buffers, procNumber: db.pool.procNumber };
}

/** pg_stat_user_tables for one table, read by a worker backend. */
export function tableStats(db: Database, args: { table: string }): StatUserTablesRow {
  return db.tableStats(args.table);
}
