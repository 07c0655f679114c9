// The "crash" column of issue 14's table of faults × points: a child process is killed
// (SIGKILL) at one storage call — or right after a torn write there — while it runs updates,
// extensions, truncations and checkpoints; the parent reopens the data directory (crash
// recovery) and checks that every acknowledged update is there (all or nothing per
// transaction), that the other table is consistent, and that every page passes its checksum
// (a torn page repaired from its full-page image). The other columns are in
// packages/heap-am/test/faults.test.ts; the randomized run in test/fault-run.test.ts.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Database, type FaultRule } from "@pgsim/heap-am";
import { checksumFailures } from "@pgsim/heap-am/testing";
import { afterAll, describe, expect, it } from "vitest";

const CHILD = fileURLToPath(new URL("./workers/fault-crash-child.mjs", import.meta.url));
const ACCOUNTS = 400;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Outcome {
  signal: NodeJS.Signals | null;
  code: number | null;
  acks: number;
  lines: string[];
  stderr: string;
}

function runChild(dataDir: string, rule: FaultRule): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, JSON.stringify(rule)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const lines = out.split("\n").filter((l) => l !== "");
      const acks = lines.filter((l) => l.startsWith("ack ")).length;
      resolve({ signal, code, acks, lines, stderr });
    });
  });
}

const CASES: { name: string; rule: FaultRule }[] = [
  { name: "data-read", rule: { point: "data-read", fault: { type: "crash" }, nth: 40 } },
  {
    name: "data-write",
    rule: { point: "data-write", file: "base/", fault: { type: "crash" }, nth: 30 },
  },
  {
    name: "data-write torn",
    rule: {
      point: "data-write",
      file: "base/",
      fault: { type: "torn-write", bytes: 4096 },
      nth: 30,
    },
  },
  {
    name: "data-fsync",
    rule: { point: "data-fsync", file: "base/", fault: { type: "crash" }, nth: 3 },
  },
  { name: "extend", rule: { point: "extend", fault: { type: "crash" }, nth: 25 } },
  {
    name: "extend torn",
    rule: { point: "extend", fault: { type: "torn-write", bytes: 2048 }, nth: 25 },
  },
  { name: "truncate", rule: { point: "truncate", fault: { type: "crash" }, nth: 2 } },
  {
    name: "wal-write",
    rule: { point: "wal-write", file: "pg_wal/0*", fault: { type: "crash" }, nth: 20 },
  },
  {
    name: "wal-write torn",
    rule: {
      point: "wal-write",
      file: "pg_wal/0*",
      fault: { type: "torn-write", bytes: 3000 },
      nth: 20,
    },
  },
  {
    name: "wal-write creating a segment",
    rule: { point: "wal-write", file: "pg_wal/xlogtemp*", fault: { type: "crash" }, nth: 1 },
  },
  { name: "wal-fsync", rule: { point: "wal-fsync", fault: { type: "crash" }, nth: 15 } },
  { name: "control-write", rule: { point: "control-write", fault: { type: "crash" }, nth: 2 } },
];

describe("a crash at each storage point (child processes killed by the fault)", () => {
  for (const { name, rule } of CASES) {
    it(`${name}: reopening recovers every acknowledged commit, all pages valid`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-fault-crash-"));
      dirs.push(dir);
      fs.rmSync(dir, { recursive: true });
      const out = await runChild(dir, rule);
      const context = `${name}: ${out.lines.slice(-3).join(" | ")} ${out.stderr.slice(-500)}`;
      expect(out.lines, context).not.toContain("nofire");
      expect(out.signal, context).toBe("SIGKILL");
      expect(out.lines[0], context).toBe("ready");
      const db = Database.open(dir, { bufferCount: 64 });
      expect(db.startupReport?.recovered, context).toBe(true);
      const tx = db.begin();
      const accounts = tx.scan("acct").map((r) => r.row[1] as bigint);
      const fill = tx.scan("fill").length;
      tx.commit();
      expect(accounts).toHaveLength(ACCOUNTS);
      // Every account moved together: one value for all (all or nothing per transaction).
      const values = new Set(accounts.map(String));
      expect(values.size, context).toBe(1);
      const updates = Number(accounts[0]! - 1000n);
      // Every acknowledged update is there; at most the one in flight besides.
      expect(updates, context).toBeGreaterThanOrEqual(out.acks);
      expect(updates, context).toBeLessThanOrEqual(out.acks + 1);
      expect([0, 600]).toContain(fill);
      db.vacuum("fill");
      db.shutdown();
      expect(checksumFailures(dir), context).toEqual([]);
    });
  }
});
