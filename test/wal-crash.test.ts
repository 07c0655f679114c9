// Issue 13's crash test: a child process runs bank transfers on a disk-backed cluster with WAL
// (two worker backends, fsync on, checksums on, 1 MB segments so that checkpoints and segment
// removal happen) and prints every acknowledged commit; the parent kills it with SIGKILL at a
// seeded random moment, again and again, reopening the data directory each time (crash
// recovery). After every reopen: every acknowledged transfer is in the ledger, no rolled-back
// one is, every balance is its start plus what the ledger moved (so the sum is unchanged), and
// every page of every relation file passes its checksum.
//
// At the end, the recovered tables are placed under a real PostgreSQL 15 (test/pg15-place.ts) and
// amcheck's verify_heapam checks them, and PostgreSQL's sum of the balances is pgsim's.
//
// PGSIM_CRASH_KILLS sets the number of kills (default 30); PGSIM_CRASH_SEED the seed.
// PostgreSQL 15 is required: this test never skips.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { afterAll, describe, expect, it } from "vitest";
import { checkBankUnderPostgres, withBankPeer } from "./bank.js";

const CHILD = fileURLToPath(new URL("./workers/crash-child.mjs", import.meta.url));
const KILLS = Number(process.env.PGSIM_CRASH_KILLS ?? 30);
const SEED = Number(process.env.PGSIM_CRASH_SEED ?? 20261202);
const ACCOUNTS = 100;
const INITIAL = 1000;

const dirs: string[] = [];
afterAll(() => {
  // PGSIM_CRASH_KEEP=1 keeps the data directory for a look with pg_waldump.
  if (process.env.PGSIM_CRASH_KEEP === "1") console.log(`wal-crash: kept ${dirs.join(", ")}`);
  else for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface CheckReport {
  accounts: number;
  sum: number;
  ledgerIds: number[];
  balances: [number, number][];
  expected: [number, number][];
  pagesChecked: number;
  bad: string[];
  startup?: { recovered: boolean; records: number };
}

interface Life {
  report: CheckReport;
  acked: number[];
  rolledBack: number[];
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Runs one child until `killAfterMs` after it said "ready", then SIGKILLs it. */
function life(args: string[], killAfterMs: number): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let buffer = "";
    let stderr = "";
    let report: CheckReport | undefined;
    const acked: number[] = [];
    const rolledBack: number[] = [];
    const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("ready ")) {
          report = JSON.parse(line.slice(6)) as CheckReport;
          setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        } else if (line.startsWith("ack ")) acked.push(Number(line.slice(4)));
        else if (line.startsWith("rolled-back ")) rolledBack.push(Number(line.slice(12)));
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timeout);
      if (report === undefined) {
        reject(new Error(`child exited (${code ?? signal}) before it was ready:\n${stderr}`));
        return;
      }
      resolve({ report, acked, rolledBack, stderr, exit: { code, signal } });
    });
  });
}

describe("crash recovery under SIGKILL", () => {
  it(`${KILLS} kills of a cluster running bank transfers lose no acknowledged commit`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-crash-"));
    dirs.push(dir);
    const dataDir = path.join(dir, "data");
    await withBankPeer(async (pg, xidFloor) => {
      await crashLoop(dataDir, xidFloor);
      // The recovered files, under PostgreSQL 15.
      await checkBankUnderPostgres(pg, dataDir, xidFloor, { accounts: ACCOUNTS, initial: INITIAL });
    });
  }, 900_000);
});

/** The kill-and-reopen loop, with the checks after every recovery. */
async function crashLoop(dataDir: string, xidFloor: number): Promise<void> {
  {
    const random = rng(SEED);
    const acked = new Set<number>();
    const rolledBack = new Set<number>();
    let totalAcks = 0;
    let recoveries = 0;
    let replayed = 0;
    for (let k = 0; k <= KILLS; k++) {
      const killAfter = k === KILLS ? 0 : 100 + Math.floor(random() * 700);
      const firstId = 1 + k * 1_000_000;
      if (process.env.PGSIM_CRASH_KEEP === "1" && k > 0) {
        fs.rmSync(`${dataDir}.before`, { recursive: true, force: true });
        fs.cpSync(dataDir, `${dataDir}.before`, { recursive: true });
      }
      const l = await life(
        [
          dataDir,
          k === 0 ? "create" : "open",
          String(firstId),
          String(SEED + k),
          "2",
          String(xidFloor),
        ],
        killAfter,
      );
      const r = l.report;
      const context = `after kill ${k}`;
      // The state recovery left, checked before this life's transfers start.
      expect(r.bad, context).toEqual([]);
      expect(r.pagesChecked, context).toBeGreaterThan(0);
      expect(r.accounts, context).toBe(ACCOUNTS);
      expect(r.sum, context).toBe(ACCOUNTS * INITIAL);
      const ledger = new Set(r.ledgerIds);
      expect(ledger.size, `${context}: ledger ids are unique`).toBe(r.ledgerIds.length);
      const missing = [...acked].filter((id) => !ledger.has(id));
      expect(missing, `${context}: acknowledged transfers missing`).toEqual([]);
      const resurrected = [...rolledBack].filter((id) => ledger.has(id));
      expect(resurrected, `${context}: rolled-back transfers present`).toEqual([]);
      const expected = new Map(r.expected);
      for (const [id, balance] of r.balances) {
        expect(balance - INITIAL, `${context}: account ${id}`).toBe(expected.get(id));
      }
      if (k > 0) {
        expect(r.startup?.recovered, context).toBe(true);
        recoveries++;
        replayed += r.startup?.records ?? 0;
      }
      for (const id of l.acked) acked.add(id);
      for (const id of l.rolledBack) rolledBack.add(id);
      totalAcks += l.acked.length;
      if (k < KILLS) expect(l.exit.signal, `${context}: ${l.stderr}`).toBe("SIGKILL");
    }
    expect(recoveries).toBe(KILLS);
    console.log(
      `wal-crash: ${KILLS} kills, ${totalAcks} acknowledged transfers, ${acked.size + rolledBack.size} answered, ${replayed} WAL records replayed`,
    );
    // The children did real work between kills.
    expect(totalAcks).toBeGreaterThan(KILLS * 5);
  }
}
