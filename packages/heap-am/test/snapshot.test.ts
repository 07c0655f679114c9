// Memory-only persistence (issue 14, part 3): a memory-only database with persistence "snapshot"
// writes its pool, catalog and commit log to a checksummed snapshot file; Database.open loads
// the newest valid one. Reopen after a clean shutdown returns every committed row and none of
// the aborted or running ones; a "crash" (the database abandoned without shutdown) loses exactly
// what changed after the last snapshot; a damaged snapshot is refused with a clear error and the
// previous generation loads. The process-kill test is test/snapshot-crash.test.ts; worker
// backends are in test/snapshot-cluster.test.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Database, type DatabaseOptions, PgsimError } from "../src/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-snap-"));
  dirs.push(d);
  return d;
}

function create(extra: Partial<DatabaseOptions> = {}): { db: Database; dir: string } {
  const dir = freshDir();
  const db = Database.create({
    variant: "memory",
    bufferCount: 256,
    dataDir: dir,
    persistence: "snapshot",
    fsync: false,
    ...extra,
  });
  return { db, dir };
}

function rows(db: Database, table: string): unknown[][] {
  const tx = db.begin();
  const out = tx.scan(table).map((r) => [...r.row]);
  tx.commit();
  return out.sort((a, b) => (a[0] as number) - (b[0] as number));
}

function snapshotFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, "pgsim_snapshot")).sort();
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof PgsimError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return undefined;
}

const ACCOUNTS = [
  { name: "id", type: "int4" as const, notNull: true },
  { name: "balance", type: "int4" as const, notNull: true },
];
const NOTES = [
  { name: "id", type: "int4" as const, notNull: true },
  { name: "body", type: "text" as const },
];

describe("memory-only snapshot persistence: options", () => {
  it("refuses options that do not fit, with typed errors", () => {
    const dir = freshDir();
    expect(
      codeOf(() =>
        Database.create({ variant: "memory", bufferCount: 16, persistence: "snapshot" }),
      ),
    ).toMatch(/^invalid-option: persistence: "snapshot" needs a dataDir/);
    expect(
      codeOf(() =>
        Database.create({
          variant: "disk",
          bufferCount: 16,
          dataDir: dir,
          persistence: "snapshot",
        }),
      ),
    ).toMatch(/^invalid-option: persistence: "snapshot" is for a memory-only database/);
    expect(
      codeOf(() => Database.create({ variant: "memory", bufferCount: 16, dataDir: dir })),
    ).toMatch(/^invalid-option: a memory-only database has a dataDir only with persistence/);
    expect(
      codeOf(() =>
        Database.create({
          variant: "memory",
          bufferCount: 16,
          persistence: "disk" as "snapshot",
        }),
      ),
    ).toMatch(/^invalid-option: persistence must be "none" or "snapshot", got "disk"/);
    expect(
      codeOf(() =>
        Database.create({
          variant: "memory",
          bufferCount: 16,
          dataDir: dir,
          persistence: "snapshot",
          snapshotIntervalMs: -5,
        }),
      ),
    ).toMatch(/^invalid-option: snapshotIntervalMs must be a non-negative number/);
    expect(
      codeOf(() => Database.create({ variant: "memory", bufferCount: 16, snapshotIntervalMs: 10 })),
    ).toMatch(/^invalid-option: snapshotIntervalMs needs persistence: "snapshot"/);
    fs.writeFileSync(path.join(dir, "something"), "x");
    expect(
      codeOf(() =>
        Database.create({
          variant: "memory",
          bufferCount: 16,
          dataDir: dir,
          persistence: "snapshot",
        }),
      ),
    ).toMatch(/^data-directory-not-empty: directory ".*" exists but is not empty/);
  });

  it("persistence none keeps today's behaviour: no directory, checkpoint a no-op", () => {
    const db = Database.create({ variant: "memory", bufferCount: 16, persistence: "none" });
    expect(db.checkpoint()).toBeUndefined();
    expect(db.lastSnapshot).toBeUndefined();
    expect(codeOf(() => db.snapshot())).toMatch(/^no-snapshot-persistence/);
    db.close();
  });

  it("Database.open says which kind of directory it found, or that it is neither", () => {
    const empty = freshDir();
    expect(codeOf(() => Database.open(empty))).toMatch(
      /^not-a-data-directory: .* global\/pg_control is missing .* and so is PGSIM_SNAPSHOT/,
    );
    const { db, dir } = create();
    db.shutdown();
    const again = Database.open(dir);
    expect(again.variant).toBe("memory");
    expect(again.startupReport).toBeUndefined();
    expect(again.snapshotReport).toMatchObject({ directoryKind: "memory-snapshot", dataDir: dir });
    again.shutdown();
  });
});

describe("memory-only snapshot persistence: reopen", () => {
  it("a new directory holds generation 1 (the empty database) and reopens empty", () => {
    const { db, dir } = create();
    expect(fs.readFileSync(path.join(dir, "PGSIM_SNAPSHOT"), "utf8")).toMatch(
      /pgsim memory-only snapshot directory/,
    );
    expect(snapshotFiles(dir)).toEqual(["snapshot.0000000000000001"]);
    // Abandoned without shutdown (a crash right after creation).
    void db;
    const again = Database.open(dir);
    expect(again.catalog.list()).toEqual([]);
    expect(again.snapshotReport).toMatchObject({ generation: 1, pages: 0, refused: [] });
    again.close();
  });

  it("after a clean shutdown returns every committed row, none of the aborted or running ones", () => {
    const { db, dir } = create();
    db.createTable("accounts", ACCOUNTS, { fillfactor: 50 });
    db.createTable("notes", NOTES);
    db.createTable("dropped", NOTES);
    db.createTable("emptied", NOTES);
    const expectAccounts = new Map<number, number>();
    const expectNotes = new Map<number, string>();
    let tx = db.begin();
    const tids = new Map<number, { block: number; offset: number }>();
    for (let i = 1; i <= 300; i++) {
      tids.set(i, tx.insert("accounts", [i, 1000]));
      expectAccounts.set(i, 1000);
    }
    for (let i = 1; i <= 200; i++) {
      tx.insert("notes", [i, `note ${i} ${"y".repeat(i * 7)}`]);
      expectNotes.set(i, `note ${i} ${"y".repeat(i * 7)}`);
    }
    tx.insert("emptied", [1, "gone by truncate"]);
    tx.commit();
    // Updates (HOT and not) and deletes, committed.
    tx = db.begin();
    for (let i = 1; i <= 300; i += 3) {
      tids.set(i, tx.update("accounts", tids.get(i)!, (r) => [r[0]!, (r[1] as number) + i])!);
      expectAccounts.set(i, 1000 + i);
    }
    for (const r of tx.scan("notes")) {
      const id = r.row[0] as number;
      if (id % 4 === 0) {
        tx.delete("notes", r.tid);
        expectNotes.delete(id);
      }
    }
    tx.commit();
    // An aborted transaction's changes never show.
    tx = db.begin();
    tx.insert("accounts", [999, 1]);
    tx.update("accounts", tids.get(2)!, [2, -1]);
    tx.abort();
    db.vacuum("notes");
    db.vacuum("accounts", { freeze: true });
    db.dropTable("dropped");
    db.truncateTable("emptied");
    // Another backend's transaction is still running at the shutdown snapshot.
    const other = db.attachAnother();
    const running = other.begin();
    running.insert("accounts", [777, 7]);
    running.update("accounts", tids.get(5)!, [5, -5]);
    const runningXid = running.xid;
    const itemsBefore = db.pageItems("accounts");
    db.shutdown();
    expect(codeOf(() => other.checkpoint())).toMatch(
      /^shutting-down: the database system is shutting down/,
    );

    const again = Database.open(dir);
    const report = again.snapshotReport!;
    expect(report.generation).toBe(2);
    expect(report.tables).toEqual(["accounts", "notes", "emptied"]);
    expect(report.inProgressAborted).toEqual([runningXid]);
    expect(report.pages).toBeGreaterThan(10);
    // The pages came back as they were, the running transaction's tuples included (before any
    // scan here sets hint bits on them).
    expect(again.pageItems("accounts")).toEqual(itemsBefore);
    expect(rows(again, "accounts")).toEqual(
      [...expectAccounts.entries()].sort((a, b) => a[0] - b[0]),
    );
    expect(rows(again, "notes")).toEqual([...expectNotes.entries()].sort((a, b) => a[0] - b[0]));
    expect(rows(again, "emptied")).toEqual([]);
    expect(codeOf(() => again.table("dropped"))).toMatch(/does not exist/);
    // The database goes on from there: new xids after the old ones, and another reopen.
    tx = again.begin();
    tx.insert("accounts", [1001, 5]);
    tx.commit();
    expect(tx.xid).toBeGreaterThanOrEqual(report.nextXid);
    // VACUUM (or the pruning of the scans before it) treats the running transaction's tuples as
    // aborted: they are removed.
    const vac = again.vacuum("accounts");
    expect(vac.tuplesRemoved + vac.deadItemsRemoved).toBeGreaterThanOrEqual(1);
    again.close(); // the last backend: a snapshot
    const third = Database.open(dir);
    expect(third.snapshotReport!.generation).toBe(3);
    expect(rows(third, "accounts").find((r) => r[0] === 1001)).toEqual([1001, 5]);
    expect(rows(third, "accounts").length).toBe(301);
    third.shutdown();
    expect(snapshotFiles(dir)).toEqual(["snapshot.0000000000000003", "snapshot.0000000000000004"]);
  });

  it("a crash loses exactly what changed after the last completed snapshot", () => {
    const { db, dir } = create();
    db.createTable("t", NOTES);
    let tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 500 }, (_, i) => [i, `row ${i}`]),
    );
    tx.commit();
    db.checkpoint();
    expect(db.lastSnapshot).toMatchObject({ reason: "checkpoint", generation: 2 });
    tx = db.begin();
    tx.deleteAll("t");
    tx.insert("t", [-1, "after the snapshot"]);
    tx.commit();
    db.createTable("later", NOTES);
    // Crash: the database is abandoned, never shut down.
    const again = Database.open(dir);
    expect(again.snapshotReport!.generation).toBe(2);
    expect(rows(again, "t")).toEqual(Array.from({ length: 500 }, (_, i) => [i, `row ${i}`]));
    expect(again.catalog.lookup("later")).toBeUndefined();
    again.close();
    db.close();
  });

  it("snapshots every snapshotIntervalMs after commits and by the timer, never when idle", async () => {
    const { db, dir } = create({ snapshotIntervalMs: 40 });
    db.createTable("t", NOTES);
    const tx = db.begin();
    tx.insert("t", [1, "one"]);
    tx.commit();
    // Nothing commits after this: the timer (not a commit) takes the snapshot.
    await new Promise((r) => setTimeout(r, 200));
    const gen = db.lastSnapshot?.generation;
    expect(db.lastSnapshot?.reason).toBe("interval");
    expect(gen).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(db.lastSnapshot?.generation).toBe(gen);
    const files = snapshotFiles(dir);
    const again = Database.open(dir);
    expect(rows(again, "t")).toEqual([[1, "one"]]);
    again.close();
    // Commits past the interval take it themselves (synchronously, no timer needed).
    const start = Date.now();
    let last = gen!;
    while (Date.now() - start < 150) {
      const t2 = db.begin();
      t2.insert("t", [2, "two"]);
      t2.commit();
    }
    expect(db.lastSnapshot!.generation).toBeGreaterThan(last);
    last = db.lastSnapshot!.generation;
    expect(files.length).toBe(2);
    db.shutdown();
  });

  it("a pool too small for the snapshot fails with the memory pool's full-pool error", () => {
    const { db, dir } = create();
    db.createTable("t", NOTES);
    const tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 2000 }, (_, i) => [i, "z".repeat(100)]),
    );
    tx.commit();
    const pages = db.nblocks("t");
    db.shutdown();
    expect(codeOf(() => Database.open(dir, { bufferCount: pages - 5 }))).toMatch(
      /^memory-pool-full: memory-only buffer pool is full/,
    );
    const ok = Database.open(dir, { bufferCount: pages + 10 });
    expect(rows(ok, "t").length).toBe(2000);
    ok.close();
  });
});

describe("memory-only snapshot persistence: damaged snapshots", () => {
  /** A directory with generations 2 (rows 0..99) and 3 (rows 0..199), shut down. */
  function twoGenerations(): { dir: string; newest: string; older: string } {
    const { db, dir } = create();
    db.createTable("t", NOTES);
    let tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 100 }, (_, i) => [i, `row ${i}`]),
    );
    tx.commit();
    db.checkpoint();
    tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 100 }, (_, i) => [100 + i, `row ${100 + i}`]),
    );
    tx.commit();
    db.shutdown();
    const snap = path.join(dir, "pgsim_snapshot");
    return {
      dir,
      newest: path.join(snap, "snapshot.0000000000000003"),
      older: path.join(snap, "snapshot.0000000000000002"),
    };
  }

  function damage(file: string, how: (bytes: Buffer) => Buffer): void {
    fs.writeFileSync(file, how(fs.readFileSync(file)));
  }

  // The first page entry starts after the 96-byte header and the fork list (20 bytes a fork);
  // its page after the 24-byte tag. The table's main fork is its first fork.
  function firstPageOffset(bytes: Buffer): number {
    return 96 + bytes.readUInt32LE(44) * 20 + 24;
  }

  const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
    [
      "a flipped byte in a page",
      (b) => {
        b[firstPageOffset(b) + 5000]! ^= 0x40;
        return b;
      },
      /invalid page in block 0 of relation base\/5\/\d+ \(main fork\): page verification failed, calculated checksum \d+ but expected \d+/,
    ],
    [
      "a truncated file",
      (b) => b.subarray(0, b.length - 9000),
      /truncated: \d+ bytes, the header says \d+/,
    ],
    [
      "a bad header",
      (b) => {
        b.write("NOTASNAP", 0, "latin1");
        return b;
      },
      /bad header: not a pgsim snapshot \(magic "NOTASNAP"\)/,
    ],
    [
      "a flipped bit in the header",
      (b) => {
        b[40]! ^= 1;
        return b;
      },
      /bad header: incorrect header checksum/,
    ],
    [
      "a flipped byte in the commit log",
      (b) => {
        b[b.length - 100]! ^= 0x01;
        return b;
      },
      /incorrect CRC-32C of the file \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/,
    ],
  ];

  for (const [what, how, message] of cases) {
    it(`${what}: refused with a clear error; the previous generation loads`, () => {
      const { dir, newest, older } = twoGenerations();
      damage(newest, how);
      const db = Database.open(dir);
      const report = db.snapshotReport!;
      expect(report.generation).toBe(2);
      expect(report.refused).toHaveLength(1);
      expect(report.refused[0]!.file).toBe(newest);
      expect(report.refused[0]!.reason).toContain(`invalid snapshot file "${newest}": `);
      expect(report.refused[0]!.reason).toMatch(message);
      expect(fs.existsSync(`${newest}.damaged`)).toBe(true);
      expect(rows(db, "t")).toEqual(Array.from({ length: 100 }, (_, i) => [i, `row ${i}`]));
      // The next snapshot is generation 3 again, and the damaged file stays aside.
      db.shutdown();
      expect(snapshotFiles(dir)).toEqual([
        "snapshot.0000000000000002",
        "snapshot.0000000000000003",
        "snapshot.0000000000000003.damaged",
      ]);
      void older;
    });

    it(`${what}: with no older valid generation, open fails with that error`, () => {
      const { dir, newest, older } = twoGenerations();
      damage(newest, how);
      fs.rmSync(older);
      let error: unknown;
      try {
        Database.open(dir);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(PgsimError);
      expect((error as PgsimError).code).toBe("snapshot-damaged");
      expect((error as PgsimError).message).toContain(`invalid snapshot file "${newest}": `);
      expect((error as PgsimError).message).toMatch(message);
      // Nothing was moved: the file stays for a look.
      expect(fs.existsSync(newest)).toBe(true);
    });
  }

  it("a leftover temporary file of a snapshot write is removed and reported", () => {
    const { dir, newest } = twoGenerations();
    const tmp = path.join(dir, "pgsim_snapshot", "snapshot.0000000000000004.tmp");
    fs.writeFileSync(tmp, fs.readFileSync(newest).subarray(0, 5000));
    const db = Database.open(dir);
    expect(db.snapshotReport).toMatchObject({
      generation: 3,
      removedTemporary: ["snapshot.0000000000000004.tmp"],
      refused: [],
    });
    expect(fs.existsSync(tmp)).toBe(false);
    db.close();
  });
});

describe("memory-only snapshot persistence: faults at the snapshot write", () => {
  function withRows(): { db: Database; dir: string } {
    const { db, dir } = create({ fsync: true });
    db.createTable("t", NOTES);
    const tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 300 }, (_, i) => [i, `row ${i}`]),
    );
    tx.commit();
    db.checkpoint(); // generation 2
    const more = db.begin();
    more.insert("t", [1000, "after generation 2"]);
    more.commit();
    return { db, dir };
  }

  const failures: [string, Parameters<Database["injectFault"]>[0], RegExp][] = [
    [
      "EIO on a write",
      { point: "snapshot-write", fault: { type: "eio" }, nth: 2 },
      /^snapshot-write-failed: could not write to file ".*snapshot\.0000000000000003\.tmp": EIO/,
    ],
    [
      "ENOSPC on a write",
      { point: "snapshot-write", fault: { type: "enospc" } },
      /^snapshot-write-failed: could not write to file ".*\.tmp": ENOSPC/,
    ],
    [
      "EIO on the file's fsync",
      {
        point: "snapshot-fsync",
        fault: { type: "eio" },
        file: "pgsim_snapshot/snapshot.0000000000000003.tmp",
      },
      /^snapshot-write-failed: could not fsync file ".*snapshot\.0000000000000003\.tmp": EIO/,
    ],
  ];

  for (const [what, rule, message] of failures) {
    it(`${what}: the snapshot fails with a typed error, the previous generation stays, the database goes on`, () => {
      const { db, dir } = withRows();
      const fault = db.injectFault(rule);
      expect(codeOf(() => db.checkpoint())).toMatch(message);
      expect(fault.fired()).toBe(1);
      // No temporary file is left, generation 2 is still the newest, and the database still works.
      expect(snapshotFiles(dir)).toEqual([
        "snapshot.0000000000000001",
        "snapshot.0000000000000002",
      ]);
      const tx = db.begin();
      tx.insert("t", [1001, "after the failure"]);
      tx.commit();
      // The next snapshot (the fault has fired its one time) is generation 3 and holds it all.
      db.checkpoint();
      expect(db.lastSnapshot!.generation).toBe(3);
      const again = Database.open(dir);
      expect(rows(again, "t").length).toBe(302);
      again.close();
      db.close();
    });
  }

  it("a short write is continued: the snapshot completes", () => {
    const { db, dir } = withRows();
    const fault = db.injectFault({
      point: "snapshot-write",
      fault: { type: "short-write", bytes: 1000 },
      times: 3,
    });
    db.checkpoint();
    expect(fault.fired()).toBe(3);
    const again = Database.open(dir);
    expect(again.snapshotReport!.generation).toBe(3);
    expect(rows(again, "t").length).toBe(301);
    again.close();
    db.close();
  });
});

describe("memory-only snapshot persistence: a torn snapshot write that is not noticed", () => {
  it("the snapshot 'completes' with a damaged file; the next open refuses it and loads the previous generation", () => {
    const { db, dir } = create();
    db.createTable("t", NOTES);
    let tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 300 }, (_, i) => [i, `row ${i}`]),
    );
    tx.commit();
    db.checkpoint(); // generation 2
    tx = db.begin();
    tx.insert("t", [1000, "only in generation 3"]);
    tx.commit();
    // The third write of generation 3 reaches the file only in part but reports success.
    db.injectFault({
      point: "snapshot-write",
      fault: { type: "torn-write", bytes: 100, crash: false },
      nth: 3,
    });
    db.checkpoint();
    expect(db.lastSnapshot!.generation).toBe(3);
    // A crash now (closing the last backend would take generation 4).
    const again = Database.open(dir);
    expect(again.snapshotReport!.generation).toBe(2);
    expect(again.snapshotReport!.refused[0]!.reason).toMatch(
      /invalid snapshot file ".*snapshot\.0000000000000003": (invalid page in block|incorrect CRC-32C)/,
    );
    expect(rows(again, "t").length).toBe(300);
    again.close();
  });
});
