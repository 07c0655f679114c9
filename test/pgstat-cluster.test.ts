/**
 * Statistics shared by worker-thread backends: the counts of transactions run by the cluster's
 * backends (committed, or failed and rolled back) and of their VACUUMs reach the shared totals that any
 * backend reads, in the main thread or in a worker; each backend has its own buffer usage. Runs for both buffer-pool variants.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Cluster, type StatUserTablesRow } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import type { insertAndCount } from "./workers/stats.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const statsModule = fileURLToPath(
  new URL(`./workers/stats.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

function start(variant: "disk" | "memory") {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-cluster-stats-"));
    dirs.push(dataDir);
  }
  return Cluster.start({
    variant,
    bufferCount: 256,
    backends: 2,
    functionsModule: statsModule,
    ...(dataDir ? { dataDir } : {}),
  });
}

for (const variant of ["disk", "memory"] as const) {
  describe(`statistics across worker backends [${variant}]`, () => {
    it(`[${variant}] every backend's transactions and VACUUMs add up in shared memory; each backend counts its own buffer usage`, async () => {
      const cluster = await start(variant);
      try {
        cluster.db.createTable("t", [
          { name: "id", type: "int4", notNull: true },
          { name: "v", type: "int4", notNull: true },
        ]);
        // The table's first page, then 29 rows from concurrent transactions on the backends.
        // (The page is added first, by one backend: this test is about statistics, not about
        // backends racing to extend an empty table.)
        const tx = cluster.db.begin();
        tx.insert("t", [0, 0]);
        tx.commit();
        await Promise.all(
          Array.from({ length: 29 }, (_, i) =>
            cluster.transaction([{ op: "insert", table: "t", values: [i + 1, 0] }]),
          ),
        );
        // An update and a delete by key (sequential scans); then a transaction that fails after an
        // insert and a delete, and is rolled back.
        await cluster.transaction([
          { op: "addWhere", table: "t", keyColumn: 0, key: 1, column: 1, delta: 5 },
          { op: "deleteWhere", table: "t", keyColumn: 0, key: 2 },
        ]);
        const failed = await cluster.transactionRaw([
          { op: "insert", table: "t", values: [100, 0] },
          { op: "deleteWhere", table: "t", keyColumn: 0, key: 3 },
          { op: "fail", message: "client error" },
        ]);
        expect(failed.error?.message).toContain("client error");
        const s: StatUserTablesRow = cluster.db.tableStats("t");
        expect({
          ins: s.n_tup_ins,
          upd: s.n_tup_upd,
          hot: s.n_tup_hot_upd,
          del: s.n_tup_del,
          live: s.n_live_tup,
          dead: s.n_dead_tup,
        }).toEqual({ ins: 31, upd: 1, hot: 1, del: 2, live: 29, dead: 3 });
        // A worker reads the same totals; VACUUM on a worker resets the dead count for all.
        expect(await cluster.call<StatUserTablesRow>("tableStats", { table: "t" })).toMatchObject({
          n_tup_ins: 31,
          n_dead_tup: 3,
        });
        await cluster.transaction([{ op: "vacuum", table: "t" }]);
        const after = cluster.db.tableStats("t");
        expect(after).toMatchObject({ n_live_tup: 29, n_dead_tup: 0, vacuum_count: 1 });
        expect(after.last_vacuum_report?.tuplesRemoved).toBe(3);
        expect(cluster.db.tableIoStats("t").heap_blks_read).toBeGreaterThan(0);

        // Each worker backend counts its own buffer usage per statement.
        cluster.db.createTable("u", [{ name: "a", type: "int4" }]);
        const first = await cluster.call<ReturnType<typeof insertAndCount>>("insertAndCount", {
          table: "u",
          values: [1],
        });
        // The table's first page: added (written, as PostgreSQL 15 counts it) and dirtied.
        expect(first.buffers).toMatchObject({
          sharedBlksHit: 0,
          sharedBlksDirtied: 1,
          sharedBlksWritten: 1,
        });
        const second = await cluster.call<ReturnType<typeof insertAndCount>>("insertAndCount", {
          table: "u",
          values: [2],
        });
        // The page is in the pool now, and already dirty. A backend that has not inserted
        // before looks the page up through the free space map first (one hit more).
        expect(second.buffers.sharedBlksDirtied).toBe(0);
        expect(second.buffers.sharedBlksWritten).toBe(0);
        expect(second.buffers.sharedBlksHit).toBeGreaterThanOrEqual(1);
      } finally {
        await cluster.shutdown();
      }
    });
  });
}
