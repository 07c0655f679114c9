// Issue 13's "Must show" 1 (first test) and 2: PostgreSQL 15's own tools read the data directory
// of a disk-backed pgsim database with WAL.
//
// 1. A workload of over 100,000 rows (bulk, multi-row and single inserts, HOT and cold updates,
//    deletes, row locks of every strength, rolled-back transactions, VACUUM, VACUUM (FREEZE), a
//    truncation; see writepath-workload.ts), checkpoints, then two worker backends of a cluster
//    on the same directory running bank transfers, on 1 MB WAL segments (many segment changes):
//    pg_waldump reads every segment left in pg_wal from the first to the end, and its only
//    complaint is the end of the WAL, exactly where pgsim's WAL ends.
// 2. pg_controldata reads pg_control after a clean shutdown ("shut down", the shutdown
//    checkpoint's location and REDO equal to what pgsim reported, the next xid), after a crash
//    ("in production", the last checkpoint), and after the crash recovery that follows (the
//    end-of-recovery checkpoint).
//
// PostgreSQL 15 is required: this test never skips.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { PG15_BIN_DIR } from "@pgsim/bench";
import { Database } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import { formatLsn } from "../packages/heap-am/src/access/transam/xlogdefs.js";
import { runWritePathWorkload } from "./writepath-workload.js";

const binDir = process.env.PGSIM_PG_BIN_DIR ?? PG15_BIN_DIR;
const BANK_RUN = fileURLToPath(new URL("./workers/bank-run.mjs", import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tool(name: string, args: string[]) {
  const file = path.join(binDir, name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `this test needs PostgreSQL 15's ${name} (${file} does not exist) and never skips; install postgresql-15 (.ci/run does)`,
    );
  }
  return spawnSync(file, args, {
    encoding: "utf8",
    maxBuffer: 1 << 30,
    env: { ...process.env, LC_ALL: "C" },
  });
}

/** pg_controldata's lines as a map. */
function controldata(dataDir: string): Map<string, string> {
  const r = tool("pg_controldata", [dataDir]);
  expect(r.status, r.stderr).toBe(0);
  const out = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/**
 * pg_waldump from the first segment of `walDir` to the end: every record, and the one error it
 * ends with (the end of the WAL: the next record's length is 0).
 */
function waldumpAll(walDir: string) {
  const segments = fs
    .readdirSync(walDir)
    .filter((n) => /^[0-9A-F]{24}$/.test(n))
    .sort();
  const r = tool("pg_waldump", ["-p", walDir, segments[0]!, segments[segments.length - 1]!]);
  const lines = r.stdout.trim().split("\n");
  const errors = r.stderr.trim().split("\n");
  expect(errors, r.stderr).toHaveLength(1);
  const m = /^pg_waldump: error: error in WAL record at ([0-9A-F]+\/[0-9A-F]+): (.*)$/.exec(
    errors[0]!,
  );
  if (m === null) {
    throw new Error(
      `pg_waldump ended with status ${r.status}: ${r.stderr} after ${lines.at(-1)} in ${segments.join(" ")}`,
    );
  }
  return {
    segments: segments.length,
    records: lines.length,
    last: lines[lines.length - 1]!,
    stdout: r.stdout,
    errorAt: m![1]!,
    endError: m![2]!,
  };
}

describe("PostgreSQL 15's tools on a pgsim data directory", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-waltools-"));
  dirs.push(root);
  const dataDir = path.join(root, "data");

  it("pg_waldump reads every segment of a 100,000-row workload and two worker backends to the end", () => {
    const db = Database.create({
      variant: "disk",
      dataDir,
      checksums: true,
      walSegmentSize: 1024 * 1024,
      bufferCount: 1024,
    });
    const report = runWritePathWorkload(db);
    expect(report.insertedCommitted).toBeGreaterThanOrEqual(100_000);
    expect(report.truncation.pagesAfter).toBeLessThan(report.truncation.pagesBefore);
    // The whole workload's WAL, as it stands before a checkpoint removes its segments.
    const workloadWal = path.join(root, "workload-wal");
    fs.cpSync(path.join(dataDir, "pg_wal"), workloadWal, { recursive: true });
    // The checkpoint's redo pointer is where the copied WAL ends (nothing was inserted between).
    const { redo } = db.checkpoint()!;
    db.shutdown();
    const a = waldumpAll(workloadWal);
    expect(a.segments).toBeGreaterThan(10);
    expect(a.records).toBeGreaterThan(50_000);
    expect(a.endError).toBe(`invalid record length at ${formatLsn(redo)}: wanted 24, got 0`);
    // Kinds of records the workload must have produced.
    for (const kind of [
      "desc: INSERT off",
      "desc: HOT_UPDATE",
      "desc: UPDATE",
      "desc: DELETE",
      "desc: LOCK",
      "desc: MULTI_INSERT",
      "desc: PRUNE",
      "desc: VACUUM",
      "desc: FREEZE_PAGE",
      "desc: VISIBLE",
      "desc: COMMIT",
      "desc: ABORT",
      "desc: TRUNCATE base/5/",
      "desc: CREATE base/5/",
      "desc: ZEROPAGE",
      "FPW",
      "rmgr: custom128",
    ]) {
      expect(a.stdout, kind).toContain(kind);
    }

    // Two worker backends on the same directory (a child process: the cluster's workers run the
    // built packages): the bank, and transfers from four clients; a clean shutdown.
    const run = spawnSync(process.execPath, [BANK_RUN, dataDir, "150"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ recovered: false, transfers: 600 });
    const b = waldumpAll(path.join(dataDir, "pg_wal"));
    const end = controldata(dataDir).get("Latest checkpoint location")!;
    const [hi, lo] = end.split("/");
    expect(b.last).toContain(`lsn: ${hi}/${lo!.padStart(8, "0")}`);
    expect(b.last).toContain("CHECKPOINT_SHUTDOWN");
    expect(b.errorAt).toBe(end);
    for (const kind of ["desc: HOT_UPDATE", "desc: COMMIT", "desc: ABORT", "desc: FREEZE_PAGE"]) {
      expect(b.stdout, kind).toContain(kind);
    }
  }, 600_000);

  it("pg_controldata reads pg_control after a clean shutdown, after a crash, and after recovery", () => {
    // Clean shutdown: the state, the shutdown checkpoint pgsim reported, the next xid.
    let db = Database.open(dataDir, { bufferCount: 256 });
    const tx = db.begin();
    tx.insert("accounts", [1000, 0]);
    tx.commit();
    const nextXid = db.transam.nextXid;
    const shutdown = db.shutdown()!;
    let c = controldata(dataDir);
    expect(c.get("Database cluster state")).toBe("shut down");
    expect(c.get("Latest checkpoint location")).toBe(formatLsn(shutdown.lsn));
    expect(c.get("Latest checkpoint's REDO location")).toBe(formatLsn(shutdown.redo));
    expect(c.get("Latest checkpoint's NextXID")).toBe(`0:${nextXid}`);
    expect(c.get("Data page checksum version")).toBe("1");
    expect(c.get("Bytes per WAL segment")).toBe(String(1024 * 1024));

    // A crash: committed work after an online checkpoint, then nothing (the process "dies").
    db = Database.open(dataDir, { bufferCount: 256 });
    const online = db.checkpoint()!;
    const t2 = db.begin();
    for (let i = 0; i < 100; i++) t2.insert("accounts", [2000 + i, 0]);
    t2.commit();
    c = controldata(dataDir);
    expect(c.get("Database cluster state")).toBe("in production");
    expect(c.get("Latest checkpoint location")).toBe(formatLsn(online.lsn));
    expect(c.get("Latest checkpoint's REDO location")).toBe(formatLsn(online.redo));

    // Recovery: the end-of-recovery checkpoint (a shutdown checkpoint whose redo is itself).
    const again = Database.open(dataDir, { bufferCount: 256 });
    const s = again.startupReport!;
    expect(s.recovered).toBe(true);
    expect(s.recordsReplayed).toBeGreaterThan(100);
    c = controldata(dataDir);
    expect(c.get("Database cluster state")).toBe("in production");
    expect(c.get("Latest checkpoint location")).toBe(c.get("Latest checkpoint's REDO location"));
    expect(c.get("Latest checkpoint's NextXID")).toBe(`0:${again.transam.nextXid}`);
    const t3 = again.begin();
    const ids = t3.scan("accounts").map((r) => r.row[0] as number);
    t3.commit();
    expect(ids.filter((x) => x >= 2000)).toHaveLength(100);
    again.shutdown();
  });
});
