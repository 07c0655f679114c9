// Issue 14's table of faults × storage points on a disk-backed database with WAL and checksums:
// each row injects one fault at one point and checks what a user observes — the typed error
// and PostgreSQL's message, what stays readable, and what reopening (crash recovery) restores.
// The "crash" column (the process killed at the point) is test/fault-crash.test.ts; the
// randomized run over all of them is test/fault-run.test.ts. The same table is in
// src/database/README.md ("Faults").

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BLCKSZ } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { DBState, readControlFile } from "../src/access/transam/pg-control.js";
import {
  Database,
  type DatabaseOptions,
  type FaultRule,
  INJECTION_POINTS,
  PanicError,
  PgsimError,
} from "../src/index.js";
import { checksumFailures } from "../src/testing.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ROWS = 400;

function freshDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-faults-"));
  dirs.push(d);
  return d;
}

/** A database with `ROWS` committed rows in "t" (id, balance, note), checkpointed. */
function setup(
  extra: Partial<DatabaseOptions> = {},
  count = ROWS,
): { db: Database; dir: string; rel: string } {
  const dir = freshDir();
  const db = Database.create({
    variant: "disk",
    dataDir: dir,
    bufferCount: 64,
    checksums: true,
    walSegmentSize: 1024 * 1024,
    ...extra,
  });
  db.createTable("t", [
    { name: "id", type: "int4" },
    { name: "balance", type: "int8" },
    { name: "note", type: "text" },
  ]);
  const tx = db.begin();
  tx.insertMany(
    "t",
    Array.from({ length: count }, (_, i) => [i, 1000n, `row ${i} ${"x".repeat(40)}`]),
  );
  tx.commit();
  db.checkpoint();
  const rel = `base/5/${db.table("t").def.relNumber}`;
  return { db, dir, rel };
}

/** The committed rows as [id, balance], sorted. */
function rows(db: Database): [number, bigint][] {
  const tx = db.begin();
  const out = tx.scan("t").map((r) => [r.row[0] as number, r.row[1] as bigint] as [number, bigint]);
  tx.commit();
  return out.sort((a, b) => a[0] - b[0]);
}

function sum(db: Database): bigint {
  return rows(db).reduce((s, [, b]) => s + b, 0n);
}

/** Adds `by` to every balance in one committed transaction. */
function bump(db: Database, by: bigint): void {
  const tx = db.begin();
  tx.updateAll("t", (row) => [row[0]!, (row[1] as bigint) + by, row[2]!]);
  tx.commit();
}

/** DELETE FROM t WHERE pred(id), committed. */
function deleteWhere(db: Database, pred: (id: number) => boolean): void {
  const tx = db.begin();
  for (const r of tx.scan("t")) if (pred(r.row[0] as number)) tx.delete("t", r.tid);
  tx.commit();
}

/** The thrown error, which must be a PgsimError. */
function caught(fn: () => unknown): PgsimError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PgsimError);
    return e as PgsimError;
  }
  throw new Error("expected an error");
}

/** Reopens after a PANIC or an abandoned process: crash recovery runs. */
function reopen(dir: string, bufferCount = 64): Database {
  return Database.open(dir, { bufferCount });
}

function expectPanicked(db: Database, dir: string, reason: RegExp): void {
  expect(db.panicReason).toMatch(reason);
  // Every backend's next call is refused, this one's and another's.
  expect(caught(() => db.begin()).code).toBe("crash-shutdown");
  expect(caught(() => db.checkpoint()).message).toBe(
    "terminating connection because of crash of another server process",
  );
  const state = readControlFile(dir).state;
  // A PANIC writes nothing more: no shutdown checkpoint.
  expect(db.shutdown()).toBeUndefined();
  expect(readControlFile(dir).state).toBe(state);
  expect(state).toBe(DBState.IN_PRODUCTION);
}

describe("fault rules", () => {
  it("are checked: unknown points and faults, and faults a point cannot have, are refused", () => {
    const { db } = setup();
    const bad: [unknown, RegExp][] = [
      [{ point: "disk", fault: { type: "eio" } }, /unknown injection point "disk"/],
      [{ point: "data-write", fault: { type: "melt" } }, /unknown fault/],
      [{ point: "data-read", fault: { type: "enospc" } }, /a read does not fail with ENOSPC/],
      [{ point: "data-fsync", fault: { type: "torn-write", bytes: 1 } }, /needs a write point/],
      [{ point: "data-write", fault: { type: "short-write", bytes: -1 } }, /non-negative/],
      [{ point: "data-write", fault: { type: "eio" }, nth: 0 }, /nth must be a positive/],
      [{ point: "data-write", fault: { type: "eio" }, probability: 2 }, /probability/],
    ];
    for (const [rule, message] of bad) {
      const e = caught(() => db.injectFault(rule as FaultRule));
      expect(e.code).toBe("invalid-fault");
      expect(e.message).toMatch(message);
    }
    expect(db.faults()).toEqual([]);
    db.shutdown();
  });

  it("fire at the nth matching call, as many times as asked, counted over all backends", () => {
    const { db, dir, rel } = setup({ bufferCount: 16 }, 3000);
    db.shutdown();
    const first = reopen(dir, 16);
    const other = first.attachAnother();
    // The table (~30 pages) is larger than the pool: every scan reads its blocks from the file.
    const f = first.injectFault({
      point: "data-read",
      file: rel,
      fault: { type: "eio" },
      nth: 3,
      times: 2,
    });
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      const backend = i % 2 === 0 ? first : other;
      try {
        rows(backend);
        outcomes.push("ok");
      } catch (e) {
        outcomes.push((e as PgsimError).code);
      }
    }
    // The first scan fails at its 3rd read; the other backend's scan at the 4th read overall.
    expect(outcomes).toEqual(["io-error", "io-error", "ok", "ok"]);
    expect(f.fired()).toBe(2);
    expect(f.hits()).toBeGreaterThan(60);
    f.remove();
    expect(first.faults()).toEqual([]);
    expect(rows(other)).toHaveLength(3000);
    other.close();
    first.shutdown();
  });

  it("with a probability fire at the same calls for the same seed", () => {
    const run = (): number[] => {
      const { db, dir, rel } = setup({ bufferCount: 16 }, 3000);
      db.shutdown();
      const again = reopen(dir, 16);
      again.injectFault({
        point: "data-read",
        file: rel,
        fault: { type: "delay", ms: 0 },
        probability: 0.3,
        seed: 7,
        times: Number.POSITIVE_INFINITY,
      });
      const fired: number[] = [];
      for (let i = 0; i < 4; i++) {
        rows(again);
        fired.push(again.faults()[0]!.fired);
      }
      const hits = again.faults()[0]!.hits;
      again.shutdown();
      // About 30% of the reads.
      expect(fired[3]! / hits).toBeGreaterThan(0.15);
      expect(fired[3]! / hits).toBeLessThan(0.45);
      return fired;
    };
    const a = run();
    expect(run()).toEqual(a);
  });

  it("cover every point the README lists", () => {
    expect([...INJECTION_POINTS]).toEqual([
      "data-read",
      "data-write",
      "data-fsync",
      "extend",
      "truncate",
      "wal-write",
      "wal-fsync",
      "control-write",
      "snapshot-write",
      "snapshot-fsync",
    ]);
  });
});

describe("faults × points (disk-backed, WAL and checksums on)", () => {
  it("data-read EIO: PostgreSQL's 'could not read block' with the file; the next read retries", () => {
    const { db, dir, rel } = setup();
    db.shutdown();
    const again = reopen(dir);
    again.injectFault({ point: "data-read", file: rel, fault: { type: "eio" } });
    const e = caught(() => rows(again));
    expect(e.code).toBe("io-error");
    expect(e.message).toMatch(
      new RegExp(`^could not read block \\d+ in file "${rel}": Input/output error$`),
    );
    // The buffer stayed not valid: the next scan reads the block again and succeeds.
    expect(rows(again)).toHaveLength(ROWS);
    expect(sum(again)).toBe(BigInt(ROWS) * 1000n);
    again.shutdown();
  });

  for (const fault of [
    { type: "eio", code: "io-error", text: "Input/output error" },
    { type: "enospc", code: "disk-full", text: "No space left on device" },
  ] as const) {
    it(`data-write ${fault.type}: the checkpoint fails, the page stays dirty, the next one writes it`, () => {
      const { db, dir, rel } = setup();
      bump(db, 5n);
      const f = db.injectFault({ point: "data-write", file: rel, fault: { type: fault.type } });
      const e = caught(() => db.checkpoint());
      expect(e.code).toBe(fault.code);
      expect(e.message).toMatch(
        new RegExp(`^could not write block \\d+ in file "${rel}": ${fault.text}$`),
      );
      expect(f.fired()).toBe(1);
      // Still dirty (BM_IO_ERROR set, not cleaned): the database goes on and the data is there.
      const relNumber = db.table("t").def.relNumber;
      expect(db.bufferCache().some((b) => b.relfilenode === relNumber && b.isdirty)).toBe(true);
      expect(sum(db)).toBe(BigInt(ROWS) * 1005n);
      bump(db, 1n);
      expect(db.checkpoint()!.buffersWritten).toBeGreaterThan(0);
      expect(db.bufferCache().some((b) => b.relfilenode === relNumber && b.isdirty)).toBe(false);
      db.shutdown();
      expect(checksumFailures(dir)).toEqual([]);
      const again = reopen(dir);
      expect(again.startupReport?.recovered).toBe(false);
      expect(sum(again)).toBe(BigInt(ROWS) * 1006n);
      again.shutdown();
    });
  }

  it("data-write on eviction: the statement that needed the buffer fails, nothing committed is lost", () => {
    const { db, dir } = setup({ bufferCount: 16 });
    bump(db, 1n);
    db.injectFault({ point: "data-write", file: "base/", fault: { type: "eio" } });
    const tx = db.begin();
    const e = caught(() =>
      tx.updateAll("t", (row) => [row[0]!, (row[1] as bigint) + 100n, row[2]!]),
    );
    expect(e.code).toBe("io-error");
    expect(e.message).toMatch(
      /^could not write block \d+ in file "base\/5\/\d+": Input\/output error$/,
    );
    expect(tx.state).toBe("aborted");
    expect(sum(db)).toBe(BigInt(ROWS) * 1001n);
    db.shutdown();
    const again = reopen(dir);
    expect(sum(again)).toBe(BigInt(ROWS) * 1001n);
    again.shutdown();
  });

  it("data-write short write: 'wrote only N of 8192 bytes', retried whole later", () => {
    const { db, dir, rel } = setup();
    bump(db, 2n);
    db.injectFault({ point: "data-write", file: rel, fault: { type: "short-write", bytes: 100 } });
    const e = caught(() => db.checkpoint());
    expect(e.code).toBe("disk-full");
    expect(e.message).toMatch(
      new RegExp(`^could not write block \\d+ in file "${rel}": wrote only 100 of 8192 bytes$`),
    );
    // The half-written page on disk is damaged until the retry rewrites it whole.
    expect(checksumFailures(dir).length).toBe(1);
    db.checkpoint();
    expect(checksumFailures(dir)).toEqual([]);
    db.shutdown();
    const again = reopen(dir);
    expect(sum(again)).toBe(BigInt(ROWS) * 1002n);
    again.shutdown();
  });

  it("data-write torn (unnoticed): read back with checksums on, PostgreSQL's checksum failure", () => {
    const { db, dir, rel } = setup();
    bump(db, 3n);
    db.injectFault({
      point: "data-write",
      file: rel,
      fault: { type: "torn-write", bytes: 4096, crash: false },
    });
    db.checkpoint(); // the write "succeeds": only its first 4 KB reached the file
    db.shutdown(); // clean: nothing to replay, so nothing repairs the page
    expect(checksumFailures(dir)).toHaveLength(1);
    const again = reopen(dir);
    expect(again.startupReport?.recovered).toBe(false);
    const e = caught(() => rows(again));
    expect(e.code).toBe("data-corrupted");
    expect(e.message).toMatch(new RegExp(`^invalid page in block \\d+ of relation ${rel}$`));
    expect(String(e.detail?.reason)).toMatch(
      /^page verification failed, calculated checksum \d+ but expected \d+$/,
    );
    again.shutdown();
  });

  it("data-write torn then a crash before the checkpoint completes: recovery repairs the page from its image", () => {
    const { db, dir, rel } = setup();
    bump(db, 4n); // the first change of each page since the checkpoint logs its full image
    db.injectFault({
      point: "data-write",
      file: rel,
      fault: { type: "torn-write", bytes: 4096, crash: false },
    });
    // The checkpoint writes the torn page, then its fsync fails: a PANIC before the
    // checkpoint record, so recovery starts from the previous redo pointer.
    db.injectFault({ point: "data-fsync", file: "base/", fault: { type: "eio" } });
    const e = caught(() => db.checkpoint());
    expect(e).toBeInstanceOf(PanicError);
    expect(checksumFailures(dir)).toHaveLength(1);
    expectPanicked(db, dir, /^could not fsync file "/);
    const again = reopen(dir);
    expect(again.startupReport?.recovered).toBe(true);
    expect(sum(again)).toBe(BigInt(ROWS) * 1004n);
    again.checkpoint();
    expect(checksumFailures(dir)).toEqual([]);
    again.shutdown();
  });

  for (const type of ["eio", "enospc"] as const) {
    it(`data-fsync ${type}: a PANIC — the database stops, reopening recovers every commit`, () => {
      const { db, dir, rel } = setup();
      const other = db.attachAnother();
      bump(db, 7n);
      db.injectFault({ point: "data-fsync", file: rel, fault: { type } });
      const e = caught(() => db.checkpoint());
      expect(e).toBeInstanceOf(PanicError);
      expect(e.code).toBe("panic");
      expect(e.message).toBe(
        `could not fsync file "${rel}": ${type === "eio" ? "Input/output error" : "No space left on device"}`,
      );
      // The other backend is refused too, and can only leave.
      expect(caught(() => other.begin()).code).toBe("crash-shutdown");
      other.close();
      expectPanicked(db, dir, /could not fsync file/);
      const again = reopen(dir);
      expect(again.startupReport?.recovered).toBe(true);
      expect(sum(again)).toBe(BigInt(ROWS) * 1007n);
      bump(again, 1n);
      again.shutdown();
      expect(checksumFailures(dir)).toEqual([]);
    });
  }

  for (const fault of [
    { type: "enospc", code: "disk-full", text: "No space left on device" },
    { type: "eio", code: "io-error", text: "Input/output error" },
  ] as const) {
    it(`extend ${fault.type}: the statement fails, the table stays readable and consistent`, () => {
      const { db, dir, rel } = setup();
      const before = db.nblocks("t");
      db.injectFault({ point: "extend", file: rel, fault: { type: fault.type } });
      const tx = db.begin();
      const e = caught(() =>
        tx.insertMany(
          "t",
          Array.from({ length: 2000 }, (_, i) => [ROWS + i, 1000n, "y".repeat(60)]),
        ),
      );
      expect(e.code).toBe(fault.code);
      expect(e.message).toBe(`could not extend file "${rel}": ${fault.text}`);
      expect(e.detail?.hint).toBe("Check free disk space.");
      expect(tx.state).toBe("aborted");
      expect(rows(db)).toHaveLength(ROWS);
      // Space is back: the same insert works, and the table has the rows once.
      const tx2 = db.begin();
      tx2.insertMany(
        "t",
        Array.from({ length: 2000 }, (_, i) => [ROWS + i, 1000n, "y".repeat(60)]),
      );
      tx2.commit();
      expect(db.nblocks("t")).toBeGreaterThan(before);
      expect(rows(db)).toHaveLength(ROWS + 2000);
      db.vacuum("t");
      db.shutdown();
      expect(checksumFailures(dir)).toEqual([]);
      const again = reopen(dir);
      expect(rows(again)).toHaveLength(ROWS + 2000);
      again.shutdown();
    });
  }

  it("extend short write: 'wrote only N of 8192 bytes at block B'", () => {
    const { db, rel } = setup();
    db.injectFault({ point: "extend", file: rel, fault: { type: "short-write", bytes: 10 } });
    const tx = db.begin();
    const e = caught(() =>
      tx.insertMany(
        "t",
        Array.from({ length: 2000 }, (_, i) => [ROWS + i, 1n, "z".repeat(60)]),
      ),
    );
    expect(e.code).toBe("disk-full");
    expect(e.message).toMatch(
      new RegExp(`^could not extend file "${rel}": wrote only 10 of 8192 bytes at block \\d+$`),
    );
    expect(rows(db)).toHaveLength(ROWS);
    db.shutdown();
  });

  it("truncate EIO: a PANIC (the cut blocks' buffers are gone); recovery replays the truncation", () => {
    const { db, dir, rel } = setup();
    deleteWhere(db, (id) => id >= 100);
    const before = db.nblocks("t");
    db.injectFault({ point: "truncate", file: rel, fault: { type: "eio" } });
    const e = caught(() => db.vacuum("t"));
    expect(e).toBeInstanceOf(PanicError);
    expect(e.message).toMatch(
      new RegExp(`^could not truncate file "${rel}" to \\d+ blocks: Input/output error$`),
    );
    expectPanicked(db, dir, /could not truncate/);
    // The file still has the old blocks, as of the last checkpoint: their rows were live then.
    expect(fs.statSync(path.join(dir, rel)).size / BLCKSZ).toBe(before);
    const again = reopen(dir);
    expect(again.startupReport?.recovered).toBe(true);
    expect(again.nblocks("t")).toBeLessThan(before);
    expect(rows(again)).toHaveLength(100);
    again.vacuum("t");
    expect(rows(again)).toHaveLength(100);
    again.shutdown();
    expect(checksumFailures(dir)).toEqual([]);
  });

  for (const type of ["eio", "enospc"] as const) {
    it(`wal-write ${type} on a WAL page: a PANIC at COMMIT; reopening keeps every acknowledged commit`, () => {
      const { db, dir } = setup();
      bump(db, 1n); // acknowledged
      db.injectFault({ point: "wal-write", file: "pg_wal/0*", fault: { type } });
      const tx = db.begin();
      tx.updateAll("t", (row) => [row[0]!, (row[1] as bigint) + 50n, row[2]!]);
      const e = caught(() => tx.commit());
      expect(e).toBeInstanceOf(PanicError);
      expect(e.message).toMatch(
        /^could not write to log file 0{7}10{8}0{7}\d at offset \d+, length \d+: /,
      );
      expectPanicked(db, dir, /could not write to log file/);
      const again = reopen(dir);
      expect(again.startupReport?.recovered).toBe(true);
      // The failed commit was never acknowledged and its record never reached the WAL.
      expect(sum(again)).toBe(BigInt(ROWS) * 1001n);
      again.shutdown();
      expect(checksumFailures(dir)).toEqual([]);
    });
  }

  it("wal-write short write on a WAL page: the rest is written by the retry, nothing is lost", () => {
    const { db, dir } = setup();
    const f = db.injectFault({
      point: "wal-write",
      file: "pg_wal/0*",
      fault: { type: "short-write", bytes: 512 },
    });
    bump(db, 9n);
    expect(f.fired()).toBe(1);
    expect(db.panicReason).toBeUndefined();
    // A crash now (the database abandoned): the commit is in the WAL.
    const again = reopen(dir);
    expect(again.startupReport?.recovered).toBe(true);
    expect(sum(again)).toBe(BigInt(ROWS) * 1009n);
    again.shutdown();
    db.close();
  });

  for (const type of ["enospc", "eio"] as const) {
    it(`wal-write ${type} creating a segment: the statement fails with PostgreSQL's message, the database goes on`, () => {
      const { db, dir } = setup();
      const f = db.injectFault({
        point: "wal-write",
        file: "pg_wal/xlogtemp*",
        fault: { type },
        times: Number.POSITIVE_INFINITY,
      });
      let failures = 0;
      let acked = 0;
      let message = "";
      // Each transaction writes ~60 KB of WAL: the 1 MB segments run out within 20.
      for (let i = 0; i < 40; i++) {
        const tx = db.begin();
        try {
          tx.updateAll("t", (row) => [row[0]!, (row[1] as bigint) + 1n, row[2]!]);
          tx.commit();
          acked++;
        } catch (e) {
          failures++;
          message = (e as PgsimError).message;
          expect((e as PgsimError).code).toBe(type === "enospc" ? "disk-full" : "io-error");
          expect(tx.state).toBe("aborted");
        }
      }
      expect(f.fired()).toBeGreaterThan(0);
      expect(failures).toBeGreaterThan(0);
      expect(message).toMatch(
        new RegExp(
          `^could not write to file "pg_wal/xlogtemp\\.[\\d.]+": ${type === "enospc" ? "No space left on device" : "Input/output error"}$`,
        ),
      );
      expect(db.panicReason).toBeUndefined();
      expect(
        fs.readdirSync(path.join(dir, "pg_wal")).filter((n) => n.startsWith("xlogtemp")),
      ).toEqual([]);
      expect(sum(db)).toBe(BigInt(ROWS) * (1000n + BigInt(acked)));
      // Space returns: the work resumes.
      f.remove();
      bump(db, 1n);
      expect(sum(db)).toBe(BigInt(ROWS) * (1001n + BigInt(acked)));
      db.shutdown();
      const again = reopen(dir);
      expect(sum(again)).toBe(BigInt(ROWS) * (1001n + BigInt(acked)));
      again.shutdown();
    });
  }

  for (const type of ["eio", "enospc"] as const) {
    it(`wal-fsync ${type}: a PANIC at COMMIT; reopening recovers`, () => {
      const { db, dir } = setup();
      bump(db, 1n);
      db.injectFault({ point: "wal-fsync", fault: { type } });
      const tx = db.begin();
      tx.updateAll("t", (row) => [row[0]!, (row[1] as bigint) + 10n, row[2]!]);
      const e = caught(() => tx.commit());
      expect(e).toBeInstanceOf(PanicError);
      expect(e.message).toMatch(/^could not fdatasync file "0{7}10{8}0{7}\d": /);
      expectPanicked(db, dir, /could not fdatasync/);
      const again = reopen(dir);
      expect(again.startupReport?.recovered).toBe(true);
      // The commit record was written before the failed sync: as in PostgreSQL, a commit whose
      // outcome the client never learned may be there after recovery. Either way, all or nothing.
      const s = sum(again);
      expect([BigInt(ROWS) * 1001n, BigInt(ROWS) * 1011n]).toContain(s);
      again.shutdown();
    });
  }

  for (const fault of [
    { type: "eio" } as const,
    { type: "enospc" } as const,
    { type: "short-write", bytes: 512 } as const,
  ]) {
    it(`control-write ${fault.type}: a PANIC at the checkpoint; reopening recovers`, () => {
      const { db, dir } = setup();
      bump(db, 3n);
      db.injectFault({ point: "control-write", fault });
      const e = caught(() => db.checkpoint());
      expect(e).toBeInstanceOf(PanicError);
      expect(e.message).toMatch(/^could not (write|fsync) file "global\/pg_control": /);
      expectPanicked(db, dir, /pg_control/);
      const again = reopen(dir);
      expect(again.startupReport?.recovered).toBe(true);
      expect(sum(again)).toBe(BigInt(ROWS) * 1003n);
      again.shutdown();
    });
  }

  for (const point of [
    "data-read",
    "data-write",
    "data-fsync",
    "extend",
    "truncate",
    "wal-write",
    "wal-fsync",
    "control-write",
  ] as const) {
    it(`${point} delay: the call waits, then everything proceeds normally`, () => {
      const { db, dir } = setup({ bufferCount: 16 });
      db.shutdown();
      const again = reopen(dir);
      const f = again.injectFault({ point, fault: { type: "delay", ms: 20 }, times: 3 });
      const started = performance.now();
      const tx = again.begin();
      tx.insertMany(
        "t",
        Array.from({ length: 600 }, (_, i) => [ROWS + i, 1n, "d".repeat(60)]),
      );
      tx.commit();
      deleteWhere(again, (id) => id >= ROWS);
      again.vacuum("t");
      again.checkpoint();
      expect(rows(again)).toHaveLength(ROWS);
      expect(f.fired()).toBeGreaterThan(0);
      expect(performance.now() - started).toBeGreaterThanOrEqual(20 * f.fired() - 1);
      again.shutdown();
      expect(checksumFailures(dir)).toEqual([]);
    });
  }
});
