// Memory-only snapshots with worker backends (issue 14, must-show 3): bank transfers run on
// three worker backends while the postmaster's backend takes snapshots (CHECKPOINT) again and
// again; a copy of the snapshot directory after each is what a crash at that moment would leave.
// Every copy opens with the money summing up and the balances agreeing with the ledger (never a
// mix of a transfer's changes), every transfer acknowledged before the snapshot began is in it,
// and a transaction left open on a session is never in it. After the workload, a clean shutdown
// and Cluster.open: every acknowledged transfer, read through worker backends.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { Cluster, Database, type Row } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import { createBankTables } from "./bank.js";
import type { Transfer } from "./workers/bank.js";

const bankModule = fileURLToPath(
  new URL(`./workers/bank.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-snapcl-"));
  dirs.push(d);
  return d;
}

const ACCOUNTS = 100;
const INITIAL = 1000;
const CLIENTS = 4;
const TRANSFERS_PER_CLIENT = 40;
const SNAPSHOTS = 5;

interface Bank {
  sum: number;
  ledgerIds: number[];
  /** Accounts whose balance is not INITIAL plus what the ledger moved. */
  mismatched: number[];
}

function bankOf(accounts: Row[], ledger: Row[]): Bank {
  const expected = new Map<number, number>();
  for (const [id] of accounts) expected.set(id as number, INITIAL);
  for (const [, from, to, amount] of ledger) {
    expected.set(from as number, expected.get(from as number)! - (amount as number));
    expected.set(to as number, expected.get(to as number)! + (amount as number));
  }
  let sum = 0;
  const mismatched: number[] = [];
  for (const [id, balance] of accounts) {
    sum += balance as number;
    if (expected.get(id as number) !== balance) mismatched.push(id as number);
  }
  return {
    sum,
    ledgerIds: ledger.map((r) => r[0] as number).sort((a, b) => a - b),
    mismatched,
  };
}

function bankInProcess(dir: string): Bank & { generation: number } {
  const db = Database.open(dir);
  try {
    const tx = db.begin();
    const bank = bankOf(
      tx.scan("accounts").map((r) => r.row),
      tx.scan("ledger").map((r) => r.row),
    );
    tx.commit();
    return { ...bank, generation: db.snapshotReport!.generation };
  } finally {
    db.close();
  }
}

describe("memory-only snapshots with worker backends", () => {
  it("snapshots taken while 3 backends move money are transaction-consistent; reopen through workers", async () => {
    const dir = freshDir();
    const cluster = await Cluster.start({
      variant: "memory",
      bufferCount: 1024,
      backends: 3,
      functionsModule: bankModule,
      dataDir: dir,
      persistence: "snapshot",
      fsync: false,
    });
    const acked: number[] = [];
    const copies: { dir: string; ackedBefore: number[] }[] = [];
    try {
      await createBankTables(cluster, ACCOUNTS, INITIAL, 1);
      // A transaction left open on a dedicated backend: in every snapshot, never committed.
      const session = await cluster.connect();
      await session.run([
        { op: "begin" },
        { op: "insert", table: "ledger", values: [-1, 1, 2, 500] },
      ]);

      const random = rng(20261202);
      let nextId = 1;
      let clientsDone = 0;
      let vacuuming = false;
      const client = async () => {
        for (let i = 0; i < TRANSFERS_PER_CLIENT; i++) {
          const from = 1 + Math.floor(random() * ACCOUNTS);
          let to = 1 + Math.floor(random() * (ACCOUNTS - 1));
          if (to >= from) to++;
          const t: Transfer = { id: nextId++, from, to, amount: 1 + Math.floor(random() * 50) };
          const r = await cluster.call<{ committed: boolean }>("transfer", t);
          if (r.committed) acked.push(t.id);
          // One VACUUM at a time (pgsim has no ShareUpdateExclusiveLock; see crash-child.mjs).
          if (random() < 0.03 && !vacuuming) {
            vacuuming = true;
            try {
              await cluster.transaction([{ op: "vacuum", table: "accounts" }]);
            } finally {
              vacuuming = false;
            }
          }
        }
        clientsDone++;
      };
      const snapshots = async () => {
        for (let i = 0; i < SNAPSHOTS && clientsDone < CLIENTS; i++) {
          await new Promise((r) => setTimeout(r, 20 + random() * 60));
          const ackedBefore = [...acked];
          cluster.db.checkpoint();
          // The directory as a crash right now would leave it.
          const copy = freshDir();
          fs.cpSync(dir, copy, { recursive: true });
          copies.push({ dir: copy, ackedBefore });
        }
      };
      await Promise.all([...Array.from({ length: CLIENTS }, client), snapshots()]);
      await session.run([{ op: "abort" }]);
    } finally {
      await cluster.shutdown();
    }
    expect(copies.length).toBeGreaterThanOrEqual(2);
    expect(acked.length).toBeGreaterThan(CLIENTS * TRANSFERS_PER_CLIENT * 0.8);

    // Each copy: consistent, with every transfer acknowledged before its snapshot began.
    for (const { dir: copy, ackedBefore } of copies) {
      const bank = bankInProcess(copy);
      expect(bank.sum).toBe(ACCOUNTS * INITIAL);
      expect(bank.mismatched).toEqual([]);
      expect(bank.ledgerIds).not.toContain(-1);
      const inLedger = new Set(bank.ledgerIds);
      expect(ackedBefore.filter((id) => !inLedger.has(id))).toEqual([]);
    }

    // The shutdown snapshot, through worker backends.
    const reopened = await Cluster.open(dir, { backends: 2, functionsModule: bankModule });
    try {
      expect(reopened.db.snapshotReport).toMatchObject({
        directoryKind: "memory-snapshot",
        refused: [],
      });
      const [accounts, ledger] = (await reopened.transaction([
        { op: "scan", table: "accounts" },
        { op: "scan", table: "ledger" },
      ])) as { row: Row }[][];
      const bank = bankOf(
        accounts!.map((r) => r.row),
        ledger!.map((r) => r.row),
      );
      expect(bank.sum).toBe(ACCOUNTS * INITIAL);
      expect(bank.mismatched).toEqual([]);
      expect(bank.ledgerIds).toEqual([...acked].sort((a, b) => a - b));
      // The reopened database takes more work from its workers, and shuts down again.
      await reopened.call("transfer", { id: 100_000, from: 1, to: 2, amount: 7 });
    } finally {
      await reopened.shutdown();
    }
    const last = bankInProcess(dir);
    expect(last.ledgerIds).toContain(100_000);
    expect(last.sum).toBe(ACCOUNTS * INITIAL);
  });
});
