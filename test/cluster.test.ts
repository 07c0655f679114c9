/**
 * Worker threads as backends: a cluster of backend workers on one shared database, with row-lock
 * waits between them, deadlock detection, and cleanup after backends that throw, are terminated
 * or crash. Runs for both buffer-pool variants.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { Cluster, PgsimError, pgChecksumPage, type TID } from "@pgsim/heap-am";
import { withFaults } from "@pgsim/heap-am/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createBankTables } from "./bank.js";
import type { Transfer } from "./workers/bank.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const bankModule = fileURLToPath(
  new URL(`./workers/bank.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

function start(variant: "disk" | "memory", backends: number, extra: object = {}) {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-cluster-"));
    dirs.push(dataDir);
  }
  return Cluster.start({
    variant,
    bufferCount: variant === "disk" ? 64 : 2048,
    backends,
    functionsModule: bankModule,
    // WAL on, fsync off: the WAL's concurrency is exercised, without a disk sync per commit
    // (durability under kills is test/wal-crash.test.ts's).
    ...(dataDir ? { dataDir, checksums: true, fsync: false } : {}),
    ...extra,
  });
}

const ACCOUNTS = 1000;
/** Transfers of the bank test, spread over 4 backends (CI: 10,000). Long runs: PGSIM_CLUSTER_TRANSFERS=40000. */
const TRANSFERS = Number(process.env.PGSIM_CLUSTER_TRANSFERS ?? 10_000);
const INITIAL = 1000;

for (const variant of ["disk", "memory"] as const) {
  describe(`backends on one database [${variant}]`, () => {
    it(`[${variant}] bank: 4 backends × ${TRANSFERS / 4} transfers keep the sum, the ledger and every page intact`, async () => {
      const cluster = await start(variant, 4);
      try {
        await createBankTables(cluster, ACCOUNTS, INITIAL);
        const random = rng(2026);
        const transfers: Transfer[] = Array.from({ length: TRANSFERS }, (_, id) => {
          const from = Math.floor(random() * ACCOUNTS);
          let to = Math.floor(random() * (ACCOUNTS - 1));
          if (to >= from) to++;
          return { id, from, to, amount: 1 + Math.floor(random() * 50) };
        });
        const committed = new Set<number>();
        const perBackend = new Map<number, number>();
        let next = 0;
        // 16 clients submit transfers through the pooler until all are done.
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < transfers.length) {
              const t = transfers[next++]!;
              const r = await cluster.call<{ committed: boolean; backend: number }>("transfer", t);
              if (r.committed) committed.add(t.id);
              perBackend.set(r.backend, (perBackend.get(r.backend) ?? 0) + 1);
            }
          }),
        );
        // All four backends did a fair share of the work.
        expect(perBackend.size).toBe(4);
        for (const n of perBackend.values()) expect(n).toBeGreaterThan(TRANSFERS / 8);
        expect(committed.size).toBeGreaterThan(TRANSFERS * 0.99);
        const [accounts, ledger] = (await cluster.transaction([
          { op: "scan", table: "accounts" },
          { op: "scan", table: "ledger" },
        ])) as { row: number[] }[][];
        // The sum of balances is unchanged.
        expect(accounts!.length).toBe(ACCOUNTS);
        expect(accounts!.reduce((s, r) => s + r.row[1]!, 0)).toBe(ACCOUNTS * INITIAL);
        // Every committed transfer is in the ledger, and no other.
        const ledgerIds = ledger!.map((r) => r.row[0]!).sort((a, b) => a - b);
        expect(ledgerIds).toEqual([...committed].sort((a, b) => a - b));
        // Each balance is its start plus what the ledger says moved.
        const expected = new Array<number>(ACCOUNTS).fill(INITIAL);
        for (const { row } of ledger!) {
          expected[row[1]!]! -= row[3]!;
          expected[row[2]!]! += row[3]!;
        }
        const balances = new Array<number>(ACCOUNTS);
        for (const { row } of accounts!) balances[row[0]!] = row[1]!;
        expect(balances).toEqual(expected);
        // Every pin is released.
        expect(cluster.db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
        expect(cluster.db.pool.checkConsistency()).toEqual([]);
      } finally {
        const { leaks } = await cluster.shutdown();
        expect(JSON.stringify(leaks)).toBe("[]");
      }
      if (variant === "disk") {
        // After the shutdown checkpoint every page of every fork on disk has a valid checksum.
        const dataDir = cluster.shared.pool.dataDir!;
        let pages = 0;
        for (const file of fs.readdirSync(path.join(dataDir, "base", "5"))) {
          const bytes = fs.readFileSync(path.join(dataDir, "base", "5", file));
          for (let b = 0; b * 8192 < bytes.length; b++) {
            const page = bytes.subarray(b * 8192, (b + 1) * 8192);
            if (page.every((x) => x === 0)) continue;
            const stored = page[8]! | (page[9]! << 8);
            expect(stored, `${file} block ${b}`).toBe(pgChecksumPage(page, b));
            pages++;
          }
        }
        expect(pages).toBeGreaterThan(5);
      }
    }, 300_000);

    it(`[${variant}] a backend that throws aborts its transaction; the others carry on`, async () => {
      const cluster = await start(variant, 2);
      try {
        cluster.db.createTable("t", [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ]);
        const [tid] = (await cluster.transaction([
          { op: "insert", table: "t", values: [1, 0] },
        ])) as TID[];
        let err: unknown;
        try {
          await cluster.transaction([
            { op: "update", table: "t", tid: tid!, values: [1, 99] },
            { op: "fail", message: "client went wrong" },
          ]);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(PgsimError);
        expect((err as PgsimError).message).toBe("client went wrong");
        const [rows] = (await cluster.transaction([{ op: "scan", table: "t" }])) as {
          row: unknown[];
        }[][];
        expect(rows!.map((r) => r.row)).toEqual([[1, 0]]);
        // The same backends go on serving.
        await cluster.transaction([{ op: "update", table: "t", tid: tid!, values: [1, 5] }]);
        expect(cluster.recoveries).toEqual([]);
      } finally {
        await cluster.shutdown();
      }
    });

    for (const how of ["terminated", "crashed"] as const) {
      it(`[${variant}] a backend ${how} mid-transaction while holding pins and a row lock is cleaned up`, async () => {
        const cluster = await start(variant, 2);
        try {
          cluster.db.createTable("t", [
            { name: "id", type: "int4" },
            { name: "v", type: "int4" },
          ]);
          const [tid] = (await cluster.transaction([
            { op: "insert", table: "t", values: [1, 0] },
          ])) as TID[];
          const victim = await cluster.connect();
          const me = await victim.whoami();
          const [, , pinned] = await withFaults(victim).run([
            { op: "begin" },
            { op: "update", table: "t", tid: tid!, values: [1, 666] },
            { op: "holdPin", table: "t", block: 0 },
          ]);
          expect(pinned).toBeGreaterThan(0);
          expect(cluster.db.pool.bufferCacheSummary().buffers_pinned).toBeGreaterThan(0);
          // Another backend wants the same row: it waits for the victim's transaction.
          const waiter = cluster.transaction([
            { op: "update", table: "t", tid: tid!, values: [1, 7] },
          ]);
          await new Promise((r) => setTimeout(r, 200));
          if (how === "terminated") await victim.terminate();
          else
            await withFaults(victim)
              .runRaw([{ op: "crash" }])
              .catch(() => undefined);
          const [newTid] = (await waiter) as TID[];
          expect(newTid).toBeDefined();
          // The dead backend's change is invisible, its pins and lock are gone.
          const [rows] = (await cluster.transaction([{ op: "scan", table: "t" }])) as {
            row: unknown[];
          }[][];
          expect(rows!.map((r) => r.row)).toEqual([[1, 7]]);
          const recovery = cluster.recoveries.find((r) => r.procNumber === me.procNumber)!;
          expect(recovery).toBeDefined();
          expect(recovery.abortedXid).toBeGreaterThan(0);
          expect(recovery.releasedPins).toBeGreaterThan(0);
          expect(cluster.db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
          expect(cluster.db.pool.checkConsistency()).toEqual([]);
          // A following full scan from a fresh backend sees consistent data.
          const other = await cluster.connect();
          expect(
            await other.run([{ op: "begin" }, { op: "scan", table: "t" }, { op: "commit" }]),
          ).toHaveLength(3);
          await other.close();
        } finally {
          await cluster.shutdown();
        }
      });
    }

    it(`[${variant}] a pooled backend that crashes mid-transaction is replaced, and its work undone`, async () => {
      const cluster = await start(variant, 2);
      try {
        cluster.db.createTable("t", [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ]);
        const [tid] = (await cluster.transaction([
          { op: "insert", table: "t", values: [1, 0] },
        ])) as TID[];
        await expect(
          withFaults(cluster).transaction([
            { op: "update", table: "t", tid: tid!, values: [1, 99] },
            { op: "crash" },
          ]),
        ).rejects.toThrow(/worker exited/);
        // The pooler is back to two backends, and both serve transactions.
        const served = new Set<number>();
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            const r = await cluster.transactionRaw([
              { op: "sleep", ms: 20 },
              { op: "scan", table: "t" },
            ]);
            expect(r.error).toBeUndefined();
            expect((r.results[1] as { row: unknown[] }[]).map((x) => x.row)).toEqual([[1, 0]]);
            served.add(r.procNumber);
          }),
        );
        expect(served.size).toBe(2);
        expect(cluster.poolerStats.threads).toBe(2);
        expect(cluster.recoveries).toHaveLength(1);
        expect(cluster.recoveries[0]!.abortedXid).toBeGreaterThan(0);
        expect(cluster.db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
      } finally {
        await cluster.shutdown();
      }
    });

    it(`[${variant}] two backends waiting for each other: one gets "deadlock detected"`, async () => {
      const cluster = await start(variant, 2, { deadlockTimeoutMs: 100 });
      try {
        cluster.db.createTable("t", [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ]);
        const [a, b] = (await cluster.transaction([
          { op: "insert", table: "t", values: [1, 0] },
          { op: "insert", table: "t", values: [2, 0] },
        ])) as TID[];
        const s1 = await cluster.connect();
        const s2 = await cluster.connect();
        await s1.run([{ op: "begin" }, { op: "update", table: "t", tid: a!, values: [1, 1] }]);
        await s2.run([{ op: "begin" }, { op: "update", table: "t", tid: b!, values: [2, 2] }]);
        const r1 = s1.runRaw([{ op: "update", table: "t", tid: b!, values: [2, 1] }]);
        await new Promise((r) => setTimeout(r, 20));
        const r2 = s2.runRaw([{ op: "update", table: "t", tid: a!, values: [1, 2] }]);
        const results = await Promise.all([r1, r2]);
        const failed = results.filter((r) => r.error);
        expect(failed).toHaveLength(1);
        expect(failed[0]!.error).toMatchObject({
          code: "deadlock-detected",
          message: "deadlock detected",
        });
        expect(String((failed[0]!.error!.detail as { detail: string }).detail)).toMatch(
          /waits for ShareLock on transaction \d+; blocked by process \d+/,
        );
        // The survivor finishes; the loser's transaction was aborted.
        const survivor = results[0]!.error ? s2 : s1;
        await survivor.run([{ op: "commit" }]);
        await s1.close();
        await s2.close();
      } finally {
        await cluster.shutdown();
      }
    });
  });
}
