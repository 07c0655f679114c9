// Regressions found by the randomized fault run (test/fault-run.test.ts), each reduced to one
// backend, and the wal_recycle option the run needs.

import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readControlFile } from "../src/access/transam/pg-control.js";
import { Database, type FaultRule } from "../src/index.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on("warning", onWarning);
afterEach(() => {
  warnings.length = 0;
});
afterAll(() => {
  process.off("warning", onWarning);
});

/**
 * Commits transactions of ten 1 KB rows (1 MB WAL segments, max_wal_size 2 MB, so that a
 * checkpoint falls due after some tens of commits and runs at the end of a transaction) until
 * the fault has fired, then ten more. Returns the database and the rows whose COMMIT returned.
 */
function commitThrough(rule: FaultRule) {
  const db = makeDb("disk", 1000, {
    checksums: true,
    walSegmentSize: 1 << 20,
    maxWalSize: 2 << 20,
  });
  db.createTable("t", [
    { name: "n", type: "int4" },
    { name: "pad", type: "text" },
  ]);
  const fault = db.injectFault(rule);
  const acked: number[] = [];
  let after = 0;
  let refused: unknown;
  for (let n = 0; n < 5000 && after < 10; n++) {
    let tx: ReturnType<Database["begin"]>;
    try {
      tx = db.begin();
    } catch (e) {
      refused = e;
      break;
    }
    for (let i = 0; i < 10; i++) tx.insert("t", [n * 10 + i, "x".repeat(1000)]);
    tx.commit();
    for (let i = 0; i < 10; i++) acked.push(n * 10 + i);
    if (fault.fired() > 0) after++;
  }
  expect(fault.fired()).toBe(1);
  return { db, acked, refused };
}

describe("a checkpoint that fails at the end of a transaction", () => {
  it("does not fail the COMMIT before it: the failure is a warning and the database goes on (heap)", async () => {
    const { db, acked, refused } = commitThrough({
      point: "data-write",
      fault: { type: "eio" },
      file: "base/",
    });
    expect(refused).toBeUndefined();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.map((w) => [(w as Error & { code?: string }).code, w.message])).toEqual([
      [
        "PGSIM_CHECKPOINT_FAILED",
        expect.stringMatching(
          /^checkpoint failed: could not write block \d+ in file "base\/5\/\d+": Input\/output error$/,
        ),
      ],
    ]);
    const tx = db.begin();
    expect(tx.scan("t").map((r) => r.row[0])).toEqual(acked);
    tx.commit();
    // The retried checkpoint wrote what the failed one could not.
    expect(db.checkpoint()).toBeDefined();
    db.shutdown();
  });

  it("after a PANIC (a failed fsync) the COMMIT stands, the next call is refused, and recovery keeps the row (heap)", () => {
    const { db, acked, refused } = commitThrough({ point: "data-fsync", fault: { type: "eio" } });
    expect(db.panicReason).toMatch(/^could not fsync file ".+": Input\/output error$/);
    expect(refused).toMatchObject({
      code: "crash-shutdown",
      message: "terminating connection because of crash of another server process",
    });
    const dataDir = db.shared.pool.dataDir!;
    db.shutdown();
    const again = Database.open(dataDir, { bufferCount: 1000 });
    expect(again.startupReport?.recovered).toBe(true);
    const tx = again.begin();
    expect(tx.scan("t").map((r) => r.row[0])).toEqual(acked);
    tx.commit();
    again.shutdown();
  });
});

describe("walRecycle (wal_recycle)", () => {
  /** Segment numbers in pg_wal after ~3 MB of WAL and two checkpoints, and the last redo's. */
  function segmentsAfterWork(walRecycle: boolean) {
    const db = makeDb("disk", 256, { walSegmentSize: 1 << 20, fsync: false, walRecycle });
    db.createTable("t", [{ name: "pad", type: "text" }]);
    for (let n = 0; n < 30; n++) {
      const tx = db.begin();
      for (let i = 0; i < 100; i++) tx.insert("t", ["x".repeat(1000)]);
      tx.commit();
    }
    db.checkpoint();
    const report = db.checkpoint()!;
    const walDir = `${db.shared.pool.dataDir}/pg_wal`;
    const segments = fs
      .readdirSync(walDir)
      .filter((n) => /^[0-9A-F]{24}$/.test(n))
      .map((n) => Number.parseInt(n.slice(16), 16));
    db.shutdown();
    return { segments, redoSeg: Number(report.redo >> 20n) };
  }

  it("on (the default), old segments become future ones; off, they are removed (heap)", () => {
    const on = segmentsAfterWork(true);
    const off = segmentsAfterWork(false);
    // Nothing before the redo pointer's segment is kept either way.
    expect(Math.min(...on.segments)).toBe(on.redoSeg);
    expect(Math.min(...off.segments)).toBe(off.redoSeg);
    // Recycled: renamed ahead of the WAL. Not recycled: only the redo segment and the next one
    // (created before a statement needs it).
    expect(Math.max(...on.segments)).toBeGreaterThan(on.redoSeg + 1);
    expect(off.segments.sort((a, b) => a - b)).toEqual([off.redoSeg, off.redoSeg + 1]);
  });
});

describe("TrimCLOG at start-up", () => {
  it("a status in pg_xact past the recovered nextXid is cleared: the xid is handed out again", () => {
    // Found by the fault run: a checkpoint writes pg_xact while transactions go on ending; an
    // aborted one whose WAL is then lost in a crash leaves its status past nextXid, and the xid
    // it is given again ended "twice" at its COMMIT.
    const db = makeDb("disk", 64, { walSegmentSize: 1 << 20 });
    const dir = db.shared.pool.dataDir!;
    db.createTable("t", [{ name: "n", type: "int4" }]);
    const tx = db.begin();
    tx.insert("t", [1]);
    tx.commit();
    db.shutdown();
    const control = readControlFile(dir);
    const next = Number(control.checkPointCopy.nextXid & 0xffffffffn);
    // pg_xact says "aborted" for the next xid and the one after it.
    const file = path.join(dir, "pg_xact", "0000");
    const bytes = fs.readFileSync(file);
    for (const xid of [next, next + 1]) bytes[xid >> 2]! |= 2 << ((xid & 3) * 2);
    fs.writeFileSync(file, bytes);
    const again = Database.open(dir, { bufferCount: 64 });
    for (let i = 0; i < 2; i++) {
      const t = again.begin();
      t.insert("t", [2 + i]);
      expect(t.xid).toBe(next + i);
      t.commit();
    }
    const check = again.begin();
    expect(check.scan("t").map((r) => r.row[0])).toEqual([1, 2, 3]);
    check.commit();
    again.shutdown();
  });
});
