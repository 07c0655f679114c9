// A disk-backed database with WAL: its data directory, checkpoints, clean shutdown, reopening,
// and crash recovery of what pgsim's own resource managers log (catalog, commit log, storage).
// A "crash" here abandons a running database without shutting it down and opens its directory
// again (the process-kill tests are in test/wal-crash.test.ts).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { DBState, readControlFile } from "../src/access/transam/pg-control.js";
import { XLogReader } from "../src/access/transam/xlogreader.js";
import {
  Database,
  type DatabaseOptions,
  pageIsVerified,
  pageSetChecksumInplace,
} from "../src/index.js";
import { ACCOUNTS } from "./db-helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-dur-"));
  dirs.push(d);
  return d;
}

function create(extra: Partial<DatabaseOptions> = {}): { db: Database; dir: string } {
  const dir = freshDir();
  // fsync off keeps the test fast; durability against a real kill is tested with fsync on.
  const db = Database.create({
    variant: "disk",
    dataDir: dir,
    bufferCount: 128,
    fsync: false,
    ...extra,
  });
  return { db, dir };
}

function rows(db: Database, table: string): unknown[][] {
  const tx = db.begin();
  const out = [...tx.scan(table)].map((r) => [...r.row]);
  tx.commit();
  return out.sort((a, b) => (a[0] as number) - (b[0] as number));
}

function records(dir: string) {
  const control = readControlFile(dir);
  const reader = new XLogReader({
    walDir: path.join(dir, "pg_wal"),
    walSegSize: control.xlogSegSize,
  });
  const names = fs.readdirSync(path.join(dir, "pg_wal")).sort();
  const first = BigInt(Number.parseInt(names[0]!.slice(16), 16) * control.xlogSegSize);
  const start = reader.findNextRecord(first)!;
  const { records } = reader.readAll(start);
  reader.close();
  return records;
}

describe("a disk-backed database with WAL", () => {
  it("is created like initdb: refuses a directory that is not empty", () => {
    const dir = freshDir();
    fs.writeFileSync(path.join(dir, "something"), "x");
    expect(() => Database.create({ variant: "disk", dataDir: dir, bufferCount: 16 })).toThrow(
      /exists but is not empty/,
    );
    const { db, dir: made } = create();
    for (const sub of [
      "global/pg_control",
      "pg_wal/000000010000000000000001",
      "pg_xact/0000",
      "base/5",
    ]) {
      expect(fs.existsSync(path.join(made, sub)), sub).toBe(true);
    }
    expect(readControlFile(made).state).toBe(DBState.IN_PRODUCTION);
    db.shutdown();
    expect(readControlFile(made).state).toBe(DBState.SHUTDOWNED);
  });

  it("reopens after a clean shutdown without recovery: tables, rows, statistics and xids survive", () => {
    const { db, dir } = create();
    db.createTable("accounts", ACCOUNTS, { fillfactor: 90 });
    db.createTable("gone", ACCOUNTS);
    let tx = db.begin();
    for (let i = 1; i <= 500; i++) tx.insert("accounts", [i, i * 10]);
    tx.commit();
    tx = db.begin();
    tx.insert("accounts", [9999, 0]);
    tx.abort();
    db.vacuum("accounts");
    db.dropTable("gone");
    const before = rows(db, "accounts");
    const defBefore = db.catalog.get("accounts");
    const nextXid = db.transam.nextXid;
    const report = db.shutdown()!;
    expect(report.kind).toBe("shutdown");
    expect(report.lsn).toBe(report.redo);

    const again = Database.open(dir, { bufferCount: 64 });
    expect(again.startupReport?.recovered).toBe(false);
    expect(again.startupReport?.recordsReplayed).toBe(0);
    expect(rows(again, "accounts")).toEqual(before);
    expect(again.catalog.get("accounts")).toEqual(defBefore);
    expect(again.catalog.lookup("gone")).toBeUndefined();
    expect(again.transam.nextXid).toBe(nextXid);
    // New xids continue after the old ones, and a new table gets a new relfilenode.
    tx = again.begin();
    tx.insert("accounts", [501, 5010]);
    expect(tx.xid).toBe(nextXid);
    tx.commit();
    const t2 = again.createTable("t2", ACCOUNTS);
    expect(t2.relNumber).toBeGreaterThan(defBefore.relNumber);
    again.shutdown();
  });

  it("refuses work after shutdown, from every backend", () => {
    const { db } = create();
    const other = db.attachAnother();
    db.shutdown();
    expect(() => other.begin()).toThrow(/the database system is shutting down/);
    other.close();
  });

  it("recovers the catalog, the commit log and dropped storage after a crash", () => {
    const { db, dir } = create();
    db.createTable("kept", ACCOUNTS);
    db.createTable("dropped", ACCOUNTS);
    const droppedDef = db.catalog.get("dropped");
    db.checkpoint();
    // After the checkpoint: only the WAL knows these.
    db.createTable("late", ACCOUNTS);
    let tx = db.begin();
    tx.insert("kept", [1, 1]);
    const committed = tx.xid;
    tx.commit();
    tx = db.begin();
    tx.insert("kept", [2, 2]);
    const aborted = tx.xid;
    tx.abort();
    tx = db.begin();
    tx.insert("kept", [3, 3]);
    const inFlight = tx.xid;
    // Crash: the transaction is still running, nothing is shut down.
    db.dropTable("dropped");
    const droppedFile = path.join(dir, "base", "5", String(droppedDef.relNumber));
    expect(fs.existsSync(droppedFile)).toBe(false);

    const again = Database.open(dir, { bufferCount: 64 });
    const r = again.startupReport!;
    expect(r.recovered).toBe(true);
    expect(r.recordsReplayed).toBeGreaterThan(0);
    expect(r.walEndReason).toMatch(/invalid record length .*wanted 24, got 0/);
    expect(again.catalog.list().map((t) => t.name)).toEqual(["kept", "late"]);
    expect(again.transam.didCommit(committed)).toBe(true);
    expect(again.transam.getStatus(aborted)).toBe(2);
    // The in-flight transaction left no record: not committed, and not running any more.
    expect(again.transam.didCommit(inFlight)).toBe(false);
    expect(again.transam.isInProgress(inFlight)).toBe(false);
    // Its insert was logged with its xid, so nextXid is past it.
    expect(again.transam.nextXid).toBeGreaterThan(inFlight);
    // Of the three inserts after the checkpoint, only the committed one is visible.
    expect(rows(again, "kept")).toEqual([[1, 1]]);
    // End-of-recovery checkpoint: pg_control points at a shutdown checkpoint whose redo is itself.
    const control = readControlFile(dir);
    expect(control.state).toBe(DBState.IN_PRODUCTION);
    expect(control.checkPointCopy.redo).toBe(control.checkPoint);
    again.shutdown();
  });

  it("empties unlogged tables after a crash, keeps them after a clean shutdown", () => {
    const { db, dir } = create();
    db.createTable("u", ACCOUNTS, { unlogged: true });
    let tx = db.begin();
    for (let i = 0; i < 50; i++) tx.insert("u", [i, i]);
    tx.commit();
    db.shutdown();
    let again = Database.open(dir, { bufferCount: 64 });
    expect(rows(again, "u")).toHaveLength(50);
    // Crash (no shutdown): the unlogged table comes back empty.
    tx = again.begin();
    tx.insert("u", [100, 100]);
    tx.commit();
    again.checkpoint();
    again = Database.open(dir, { bufferCount: 64 });
    expect(again.startupReport?.unloggedReset).toEqual(["u"]);
    expect(rows(again, "u")).toEqual([]);
    again.shutdown();
  });

  it("logs a table's creation, its truncation by VACUUM, commits, aborts and the catalog", () => {
    const { db, dir } = create();
    db.createTable("t", [
      { name: "id", type: "int4" },
      { name: "pad", type: "text" },
    ]);
    let tx = db.begin();
    for (let i = 0; i < 200; i++) tx.insert("t", [i, "x".repeat(500)]);
    tx.commit();
    tx = db.begin();
    for (const r of [...tx.scan("t")]) if ((r.row[0] as number) >= 20) tx.delete("t", r.tid);
    tx.commit();
    const v = db.vacuum("t");
    expect(v.pagesAfter).toBeLessThan(v.pagesBefore);
    db.shutdown();
    const recs = records(dir);
    const kinds = recs.map((r) => `${r.header.rmid}/${(r.header.info & 0xf0).toString(16)}`);
    expect(kinds).toContain("2/10"); // SMGR CREATE
    expect(kinds).toContain("2/20"); // SMGR TRUNCATE
    expect(kinds).toContain("128/0"); // the catalog image
    expect(kinds).toContain("1/0"); // COMMIT
    expect(kinds).toContain("3/0"); // CLOG ZEROPAGE
    expect(kinds[kinds.length - 1]).toBe("0/0"); // the shutdown checkpoint is last
  });

  it("checkpoints by WAL volume and removes the segments before the redo pointer", () => {
    // max_wal_size 2 MB with 1 MB segments: a checkpoint every floor(2 / 1.9) = 1 segment.
    const { db, dir } = create({ walSegmentSize: 1024 * 1024, maxWalSize: 2 * 1024 * 1024 });
    db.createTable("t", [
      { name: "id", type: "int4" },
      { name: "pad", type: "text" },
    ]);
    const before = readControlFile(dir).checkPoint;
    for (let i = 0; i < 40000; i++) {
      const tx = db.begin();
      tx.insert("t", [i, "p"]);
      tx.commit();
    }
    const control = readControlFile(dir);
    expect(control.checkPoint).toBeGreaterThan(before);
    const segs = fs.readdirSync(path.join(dir, "pg_wal"));
    const redoSeg = Number(control.checkPointCopy.redo / 1048576n);
    for (const s of segs) expect(Number.parseInt(s.slice(16), 16)).toBeGreaterThanOrEqual(redoSeg);
    expect(segs).not.toContain("000000010000000000000001");
    db.shutdown();
  });

  it("checkpoints when checkpoint_timeout has passed and WAL was written, not when idle", async () => {
    const { db, dir } = create({ checkpointTimeoutMs: 30 });
    db.createTable("t", ACCOUNTS);
    const first = readControlFile(dir).checkPoint;
    await new Promise((r) => setTimeout(r, 60));
    let tx = db.begin();
    tx.insert("t", [1, 1]);
    tx.commit();
    const second = readControlFile(dir).checkPoint;
    expect(second).toBeGreaterThan(first);
    // Idle: nothing written since that checkpoint, so no new one even after the timeout.
    await new Promise((r) => setTimeout(r, 60));
    tx = db.begin();
    tx.commit(); // no xid, no WAL
    expect(readControlFile(dir).checkPoint).toBe(second);
    db.shutdown();
  });

  it("a statement whose WAL insertion fails reports its own error, and the transaction ends once", () => {
    const { db } = create();
    db.createTable("t", ACCOUNTS);
    const tx = db.begin();
    tx.insert("t", [1, 1]);
    // The backend's WAL attachment fails (here: closed under it) in the middle of a transaction.
    (db as unknown as { ctx: { xlog: { wal: { close(): void } } } }).ctx.xlog.wal.close();
    expect(() => tx.insert("t", [2, 2])).toThrow(/the WAL writer is closed/);
    expect(tx.state).toBe("aborted");
    tx.abort(); // a no-op now
    expect(() => db.close()).not.toThrow();
  });

  it("a commit is flushed when the transaction wrote WAL, not when it wrote only unlogged tables", () => {
    const { db } = create();
    db.createTable("logged", ACCOUNTS);
    db.createTable("u", ACCOUNTS, { unlogged: true });
    // Count the XLogFlush calls the commits make (the WAL writer's round is another method).
    const wal = (db as unknown as { ctx: { xlog: { wal: { flush(lsn: bigint): void } } } }).ctx.xlog
      .wal;
    const flush = wal.flush.bind(wal);
    let flushes = 0;
    wal.flush = (lsn: bigint) => {
      flushes++;
      flush(lsn);
    };
    let tx = db.begin();
    tx.insert("logged", [1, 1]);
    tx.commit();
    expect(flushes).toBe(1);
    tx = db.begin();
    tx.insert("u", [1, 1]);
    tx.commit(); // its commit record is written, not waited for (RecordTransactionCommit)
    expect(flushes).toBe(1);
    db.shutdown();
  });

  describe("a torn page (issue 13 must-show 4)", () => {
    /**
     * Block 0 is changed after a checkpoint (its first change since: the WAL carries its image),
     * the change commits, and then the page's write to the data file is cut after 4 KB: the first
     * half new, the second half old, as a power failure mid-write leaves it. Then a crash.
     */
    function tornAfterCrash(fullPageWrites: boolean) {
      const { db, dir } = create({ checksums: true, fullPageWrites });
      db.createTable("t", [
        { name: "id", type: "int4" },
        { name: "pad", type: "text" },
      ]);
      let tx = db.begin();
      for (let i = 0; i < 60; i++) tx.insert("t", [i, "p".repeat(200)]);
      tx.commit();
      db.checkpoint();
      tx = db.begin();
      for (const r of tx.scan("t")) {
        if (r.tid.block === 0 && (r.row[0] as number) % 2 === 0) {
          tx.update("t", r.tid, [r.row[0] as number, "q".repeat(150)]);
        }
      }
      tx.commit();
      const expected = rows(db, "t");
      // The page as the pool has it now, checksummed as a write would, torn after 4 KB.
      const rel = db.table("t").locator;
      const buf = db.pool.readBuffer(rel, ForkNumber.MAIN, 0);
      const page = db.pool.bufferGetPage(buf).slice();
      db.pool.releaseBuffer(buf);
      pageSetChecksumInplace(page, 0);
      const file = path.join(dir, "base", "5", String(rel.relNumber));
      const fd = fs.openSync(file, "r+");
      fs.writeSync(fd, page, 0, 4096, 0);
      fs.closeSync(fd);
      const onDisk = new Uint8Array(fs.readFileSync(file).subarray(0, 8192));
      expect(pageIsVerified(onDisk, 0, { checksums: true })).toBe(false);
      return { dir, file, expected };
    }

    it("recovery restores the page from its full-page image", () => {
      const { dir, file, expected } = tornAfterCrash(true);
      const again = Database.open(dir, { bufferCount: 64 });
      expect(again.startupReport?.recovered).toBe(true);
      expect(rows(again, "t")).toEqual(expected);
      // The end-of-recovery checkpoint wrote the restored page: whole, its checksum valid.
      const onDisk = new Uint8Array(fs.readFileSync(file).subarray(0, 8192));
      expect(pageIsVerified(onDisk, 0, { checksums: true })).toBe(true);
      again.shutdown();
    });

    it("without full_page_writes the torn page cannot be repaired: recovery reports the checksum failure", () => {
      const { dir } = tornAfterCrash(false);
      expect(() => Database.open(dir, { bufferCount: 64 })).toThrow(/invalid page in block 0/);
    });
  });
});
