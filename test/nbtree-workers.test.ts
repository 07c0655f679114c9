/**
 * B-tree indexes under worker-thread backends (issue 16's concurrency must-show): four backends
 * insert into a table with a primary key and a second index on a text column, each key in its
 * own transaction and in an interleaved order, so that they meet on the same leaves while pages
 * split, root splits included; every key is offered twice, by two different clients, so unique
 * checks race on the same leaf; scanners read the index both ways meanwhile and check the order
 * they see. Afterwards each index passes pgsim's structural check (amcheck's invariants, parent
 * level included) and holds exactly the committed rows, once each. Both variants.
 *
 * And the unique check's wait: an insert of a key another backend's transaction is still
 * inserting waits for that transaction — and goes in if it rolls back, or fails with the unique
 * violation if it commits (PostgreSQL's XactLockTableWait in _bt_doinsert).
 *
 * See also: workers/nbtree.ts (the functions the backends run),
 * packages/heap-am/src/access/nbtree/README.md ("Locking").
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import type { InsertKeysResult } from "./workers/nbtree.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const nbtreeModule = fileURLToPath(
  new URL(`./workers/nbtree.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

const BACKENDS = 4;
const KEYS = Number(process.env.PGSIM_NBTREE_WORKER_KEYS ?? 4000);
const KEYS_PER_CALL = 60;
const INSERT_CLIENTS = 6;
const SCAN_CLIENTS = 2;

async function startCluster(variant: "disk" | "memory", backends: number): Promise<Cluster> {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-workers-"));
    dirs.push(dataDir);
  }
  const cluster = await Cluster.start({
    variant,
    // Disk: fewer buffers than index and heap pages, so pages are evicted and read back.
    bufferCount: variant === "disk" ? 192 : 4096,
    backends,
    functionsModule: nbtreeModule,
    ...(dataDir !== undefined ? { dataDir, checksums: true } : {}),
  });
  cluster.db.createTable(
    "t",
    [
      { name: "k", type: "int4", notNull: true },
      { name: "w", type: "text", notNull: true },
      { name: "g", type: "int4", notNull: true },
    ],
    { primaryKey: ["k"] },
  );
  cluster.db.createIndex("t_w", "t", { columns: ["w"] });
  return cluster;
}

for (const variant of ["memory", "disk"] as const) {
  describe(`B-tree indexes under ${BACKENDS} worker backends [${variant}]`, () => {
    it(`[${variant}] ${KEYS} keys offered twice each while scans run: splits, unique checks, the structural check, exactly the committed rows`, async () => {
      const cluster = await startCluster(variant, BACKENDS);
      try {
        // Keys in a seeded random order, cut into calls; each key is in two calls, far apart, so
        // two clients try it (the second is a unique violation, or waits for the first).
        const random = mulberry32(20261202);
        const order = Array.from({ length: KEYS }, (_, i) => i + 1);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        const calls: number[][] = [];
        for (let i = 0; i < KEYS; i += KEYS_PER_CALL) calls.push(order.slice(i, i + KEYS_PER_CALL));
        const half = Math.floor(calls.length / 2);
        const schedule = [...calls.slice(0, half), ...calls, ...calls.slice(half)];
        const inserted: number[] = [];
        const duplicates: number[] = [];
        const errors: string[] = [];
        let next = 0;
        let insertsDone = false;
        let scans = 0;
        await Promise.all([
          (async () => {
            await Promise.all(
              Array.from({ length: INSERT_CLIENTS }, async () => {
                while (next < schedule.length && errors.length === 0) {
                  const keys = schedule[next++]!;
                  try {
                    const r = await cluster.call<InsertKeysResult>("insertKeys", { keys });
                    inserted.push(...r.inserted);
                    duplicates.push(...r.duplicates);
                  } catch (e) {
                    errors.push(`insert: ${(e as Error).message}`);
                  }
                }
              }),
            );
            insertsDone = true;
          })(),
          ...Array.from({ length: SCAN_CLIENTS }, async (_, c) => {
            while (!insertsDone && errors.length === 0) {
              const lo = 1 + Math.floor(random() * KEYS);
              const hi = Math.min(KEYS, lo + 2000);
              try {
                await cluster.call<number>("scanKeys", {
                  lo,
                  hi,
                  direction: (scans + c) % 2 === 0 ? "forward" : "backward",
                });
                scans++;
              } catch (e) {
                errors.push(`scan: ${(e as Error).message}`);
              }
            }
          }),
        ]);
        expect(errors).toEqual([]);
        // Every key went in exactly once; its second offer was refused.
        expect(inserted.length).toBe(KEYS);
        expect(new Set(inserted).size).toBe(KEYS);
        expect(duplicates.length).toBe(KEYS);
        expect(scans).toBeGreaterThan(0);
        const db = cluster.db;
        // The structural check, parent level included, and exactly the committed rows.
        for (const index of ["t_pkey", "t_w"]) {
          const check = db.btIndexCheck(index, { parent: true });
          expect(check.heapTids, index).toBe(KEYS);
        }
        const meta = db.btMetap("t_pkey");
        expect(meta.level).toBeGreaterThanOrEqual(1);
        const tx = db.begin();
        const forward = tx.indexScan("t_pkey").map((r) => r.row[0] as number);
        const backward = tx.indexScan("t_pkey", { direction: "backward" }).map((r) => r.row[0]);
        const heap = tx.scan("t").map((r) => r.row[0] as number);
        tx.commit();
        const all = Array.from({ length: KEYS }, (_, i) => i + 1);
        expect(forward).toEqual(all);
        expect(backward).toEqual([...all].reverse());
        expect(heap.sort((a, b) => a - b)).toEqual(all);
      } finally {
        await cluster.shutdown();
      }
    }, 240_000);

    it(`[${variant}] one row updated by key from 8 clients at once: every UPDATE finds it, no increment is lost`, async () => {
      const cluster = await startCluster(variant, BACKENDS);
      try {
        const tx = cluster.db.begin();
        tx.insert("t", [1, "hot", 0]);
        tx.commit();
        const clients = 8;
        const times = 100;
        // Each UPDATE waits for the one before it and, under READ COMMITTED, follows the row to
        // its newest version (EvalPlanQual), however many versions were added meanwhile.
        const updated = await Promise.all(
          Array.from({ length: clients }, () =>
            cluster.call<number>("incrementByKey", { key: 1, times }),
          ),
        );
        expect(updated).toEqual(Array.from({ length: clients }, () => times));
        const check = cluster.db.begin();
        expect(check.fetchByKey("t_pkey", 1)?.row[2]).toBe(clients * times);
        check.commit();
      } finally {
        await cluster.shutdown();
      }
    }, 120_000);

    it(`[${variant}] an insert of a key another transaction is inserting waits for it: in after a rollback, refused after a commit`, async () => {
      const cluster = await startCluster(variant, 2);
      try {
        for (const commit of [false, true]) {
          const key = commit ? 8 : 7;
          const holder = cluster.call<boolean>("holdInsert", { key, holdMs: 400, commit });
          // The holder has inserted its key well before the other insert starts.
          await new Promise((r) => setTimeout(r, 150));
          const r = await cluster.call<{ outcome: string; ms: number; message?: string }>(
            "insertOne",
            { key },
          );
          await holder;
          expect(r.outcome).toBe(commit ? "duplicate" : "inserted");
          if (commit) {
            expect(r.message).toBe('duplicate key value violates unique constraint "t_pkey"');
          }
          // It waited for the holder's transaction to end.
          expect(r.ms).toBeGreaterThan(150);
        }
        const tx = cluster.db.begin();
        expect(tx.indexScan("t_pkey").map((x) => x.row[0])).toEqual([7, 8]);
        tx.commit();
        // Three entries: the rolled-back insert's stays until VACUUM removes it.
        expect(cluster.db.btIndexCheck("t_pkey", { parent: true }).heapTids).toBe(3);
      } finally {
        await cluster.shutdown();
      }
    }, 60_000);
  });
}
