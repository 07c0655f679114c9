/**
 * The heap's WAL records and their redo: each record type written by the real heap with logging
 * on (insert, multi-insert, HOT and cold updates, deletes, locks, prune, vacuum, freeze,
 * visible), then the WAL replayed with heapRedo / heap2Redo onto empty relation files; every
 * page must come back as the heap left it (under the masks of wal-support.ts's `strictMask` and
 * PostgreSQL's heap_mask), the visibility map byte for byte, and a second replay over the result
 * must change nothing (the page-LSN interlock). Plus: full-page images repair torn pages,
 * logging off changes nothing and logging on changes only pd_lsn, unlogged tables are not
 * logged, the FSM is kept as PostgreSQL's redo keeps it, and xlogutils' failure modes.
 */

import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { heapInsert } from "../src/access/heap/heapam.js";
import { rmgrName } from "../src/access/transam/rmgr.js";
import { formatWalDumpRecord, rmgrIdentify } from "../src/access/transam/xlog-desc.js";
import type { DecodedXLogRecord } from "../src/access/transam/xlogreader.js";
import {
  makeRedoContext,
  xlogReadBufferForRedo,
  xlogReadBufferForRedoExtended,
} from "../src/access/transam/xlogutils.js";
import {
  decodeXlHeapUpdate,
  XLH_UPDATE_PREFIX_FROM_OLD,
  XLH_UPDATE_SUFFIX_FROM_OLD,
} from "../src/include/access/heapam-xlog.js";
import type { Database } from "../src/index.js";
import {
  pageGetHeapFreeSpace,
  pageGetLsn,
  pageInit,
  pageIsAllVisible,
} from "../src/storage/page/bufpage.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";
import {
  compareReplay,
  disableWal,
  enableWal,
  forkPages,
  freshRedoTarget,
  removeTempDirs,
  replay,
  type TestWal,
} from "./wal-support.js";

afterAll(() => {
  removeDbDirs();
  removeTempDirs();
});

const COLS = [
  { name: "id", type: "int4", notNull: true },
  { name: "pad", type: "text" },
  { name: "n", type: "int4" },
];

function row(id: number, n = 0, padLen = 40): [number, string, number] {
  return [id, `row ${id} `.padEnd(padLen, "x"), n];
}

/** pg_waldump's "rmgr desc" name of each record, e.g. "Heap INSERT+INIT". */
function kinds(records: readonly DecodedXLogRecord[]): string[] {
  return records.map(
    (r) => `${rmgrName(r.header.rmid)} ${rmgrIdentify(r.header.rmid, r.header.info)}`,
  );
}

function setup(
  options: {
    fillfactor?: number;
    indexed?: string[];
    checksums?: boolean;
    bufferCount?: number;
  } = {},
): { db: Database; wal: TestWal } {
  const db = makeDb("disk", options.bufferCount ?? 256, {
    ...(options.checksums === true ? { checksums: true } : {}),
  });
  db.createTable("t", COLS, {
    fillfactor: options.fillfactor ?? 100,
    indexedColumns: options.indexed ?? [],
  });
  const wal = enableWal([db], { logHintBits: options.checksums === true });
  return { db, wal };
}

/**
 * Replays the WAL onto empty files and compares; replays it again over the result (every block
 * "done" or restored) and compares again. Returns the records.
 */
function checkRedo(db: Database, wal: TestWal, tables = ["t"]): DecodedXLogRecord[] {
  const records = wal.records();
  const target = freshRedoTarget({ logHintBits: wal.logHintBits === true });
  replay(target, records);
  for (const t of tables) {
    expect(compareReplay(db.pool, target.pool, db.table(t).locator, t)).toEqual([]);
  }
  replay(target, records);
  for (const t of tables) {
    expect(compareReplay(db.pool, target.pool, db.table(t).locator, t)).toEqual([]);
  }
  expect(target.invalidPages.size).toBe(0);
  return records;
}

function commit(db: Database, f: (tx: ReturnType<Database["begin"]>) => void): void {
  const tx = db.begin();
  f(tx);
  tx.commit();
}

describe("heap records are replayed to the pages the heap wrote", () => {
  it("INSERT+INIT on each new page, INSERT after; page LSNs are the records' ends; images after a checkpoint", () => {
    const { db, wal } = setup();
    const tids: { block: number; offset: number }[] = [];
    for (let i = 1; i <= 400; i++) {
      const tx = db.begin();
      tids.push(tx.insert("t", row(i)));
      tx.commit();
    }
    const pages = db.nblocks("t");
    expect(pages).toBeGreaterThan(2);
    let records = wal.records();
    const k = kinds(records);
    expect(k.filter((x) => x === "Heap INSERT+INIT")).toHaveLength(pages);
    expect(k.filter((x) => x === "Heap INSERT")).toHaveLength(400 - pages);
    // No page needed an image: each was initialized by its first record.
    expect(records.every((r) => r.blocks.every((b) => b.image === null))).toBe(true);
    // Each page's LSN is the end of the last record that changed it.
    const last = new Map<number, bigint>();
    for (const r of records) last.set(r.blocks[0]!.block, r.endLsn);
    const main = forkPages(db.pool, db.table("t").locator, ForkNumber.MAIN);
    main.forEach((p, blk) => {
      expect(pageGetLsn(p)).toBe(last.get(blk));
    });
    // After a checkpoint the first change to each page carries its image (hole left out).
    wal.checkpoint();
    commit(db, (tx) => tx.insert("t", row(1000)));
    records = checkRedo(db, wal);
    const after = records.at(-1)!;
    expect(after.blocks[0]!.image).not.toBeNull();
    expect(after.blocks[0]!.image!.holeLength).toBeGreaterThan(0);
    expect(after.blocks[0]!.data.length).toBe(0);
    db.close();
  });

  it("MULTI_INSERT+INIT for new pages, MULTI_INSERT with offsets onto a partly filled one", () => {
    const { db, wal } = setup();
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 300 }, (_, i) => row(i, 0, 20)),
      ),
    );
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 5 }, (_, i) => row(500 + i)),
      ),
    );
    const records = checkRedo(db, wal);
    const k = kinds(records);
    expect(k).toContain("Heap2 MULTI_INSERT+INIT");
    expect(k.at(-1)).toBe("Heap2 MULTI_INSERT");
    // The last record of each call says so (XLH_INSERT_LAST_IN_MULTI).
    const lines = records.map((r) => formatWalDumpRecord(r));
    expect(lines.filter((l) => /flags 0x02,/.test(l))).toHaveLength(2);
    db.close();
  });

  it("HOT_UPDATE leaves the unchanged prefix and suffix out; redo copies them from the old version", () => {
    const { db, wal } = setup();
    let tid = { block: 0, offset: 0 };
    commit(db, (tx) => {
      tid = tx.insert("t", row(1, 7, 200));
    });
    commit(db, (tx) => {
      tid = tx.update("t", tid, [1, row(1, 0, 200)[1], 8])!;
    });
    // A change in the middle of the row: both prefix and suffix.
    commit(db, (tx) => {
      tid = tx.update("t", tid, [1, `${row(1, 0, 200)[1].slice(0, 100)}Y${"x".repeat(99)}`, 8])!;
    });
    const records = checkRedo(db, wal);
    const updates = records.filter(
      (r) => rmgrIdentify(r.header.rmid, r.header.info) === "HOT_UPDATE",
    );
    expect(updates).toHaveLength(2);
    const flags = updates.map((r) => decodeXlHeapUpdate(r.mainData).flags);
    expect(flags[0]! & XLH_UPDATE_PREFIX_FROM_OLD).not.toBe(0);
    expect(flags[1]! & (XLH_UPDATE_PREFIX_FROM_OLD | XLH_UPDATE_SUFFIX_FROM_OLD)).toBe(
      XLH_UPDATE_PREFIX_FROM_OLD | XLH_UPDATE_SUFFIX_FROM_OLD,
    );
    // The record holds far less than the 200-byte row.
    expect(updates[1]!.blocks[0]!.data.length).toBeLessThan(20);
    // After a checkpoint the page gets an image and the row is not compressed.
    wal.checkpoint();
    commit(db, (tx) => {
      tid = tx.update("t", tid, [1, row(1, 0, 200)[1], 9])!;
    });
    const more = checkRedo(db, wal);
    expect(decodeXlHeapUpdate(more.at(-1)!.mainData).flags & 0x60).toBe(0);
    expect(more.at(-1)!.blocks[0]!.image).not.toBeNull();
    db.close();
  });

  it("a cold UPDATE on the same page, and one to another page after XLOG_HEAP_LOCK (+INIT, two blocks)", () => {
    const { db, wal } = setup({ indexed: ["id"] });
    const tids: { block: number; offset: number }[] = [];
    const tx0 = db.begin();
    for (let i = 0; i < 25; i++) tids.push(tx0.insert("t", row(i, 0, 250)));
    tx0.commit();
    expect(db.nblocks("t")).toBe(1);
    // An indexed column changes: not HOT, but the same page (prefix/suffix still allowed).
    commit(db, (tx) => tx.update("t", tids[0]!, [100, row(0, 0, 250)[1], 0]));
    // A longer row that no longer fits: the old version is locked, the new one goes elsewhere.
    commit(db, (tx) => tx.update("t", tids[1]!, [1, "y".repeat(2000), 0]));
    const records = checkRedo(db, wal);
    const k = kinds(records);
    expect(k.slice(-3)).toEqual(["Heap UPDATE", "Heap LOCK", "Heap UPDATE+INIT"]);
    const moved = records.at(-1)!;
    expect(moved.blocks.map((b) => b.block)).toEqual([1, 0]);
    db.close();
  });

  it("DELETE, an aborted DELETE, and row locks of every strength (with the update that keeps a lock)", () => {
    const { db, wal } = setup();
    const tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      for (let i = 0; i < 10; i++) tids.push(tx.insert("t", row(i)));
    });
    commit(db, (tx) => tx.delete("t", tids[0]!));
    const aborted = db.begin();
    aborted.delete("t", tids[1]!);
    aborted.abort();
    commit(db, (tx) => tx.lockRow("t", tids[2]!, { mode: "key share" }));
    commit(db, (tx) => tx.lockRow("t", tids[3]!, { mode: "share" }));
    commit(db, (tx) => tx.lockRow("t", tids[4]!, { mode: "no key update" }));
    commit(db, (tx) => {
      tx.lockRow("t", tids[5]!, { mode: "key share" });
      tx.lockRow("t", tids[5]!, { mode: "update" });
      tx.update("t", tids[5]!, row(5, 1));
    });
    // A scan sets hint bits (XMAX_INVALID of the aborted deleter) without WAL.
    commit(db, (tx) => tx.scan("t"));
    const records = checkRedo(db, wal);
    const lines = records.map((r) => formatWalDumpRecord(r));
    expect(lines.filter((l) => l.includes("desc: DELETE "))).toHaveLength(2);
    const locks = lines.filter((l) => l.includes("desc: LOCK "));
    expect(locks.map((l) => l.replace(/.*flags 0x00 /, "").replace(/,.*/, ""))).toEqual([
      "LOCK_ONLY KEYSHR_LOCK ",
      "LOCK_ONLY EXCL_LOCK KEYSHR_LOCK ",
      "LOCK_ONLY EXCL_LOCK ",
      "LOCK_ONLY KEYSHR_LOCK ",
      "LOCK_ONLY EXCL_LOCK KEYS_UPDATED ",
    ]);
    db.close();
  });

  it("PRUNE by a scan (redirects, dead and unused items), then VACUUM's PRUNE, VACUUM and VISIBLE", () => {
    const { db, wal } = setup({ fillfactor: 10 });
    let tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      tids = Array.from({ length: 8 }, (_, i) => tx.insert("t", row(i)));
    });
    for (let round = 0; round < 3; round++) {
      commit(db, (tx) => {
        tids = tids.map((tid, i) => tx.update("t", tid, row(i, round + 1))!);
      });
    }
    commit(db, (tx) => tx.delete("t", tids[7]!));
    // The scan prunes the HOT chains (fillfactor 10: the page is "full").
    commit(db, (tx) => tx.scan("t"));
    db.vacuum("t", { truncate: false });
    const records = checkRedo(db, wal);
    const k = kinds(records);
    expect(k).toContain("Heap2 PRUNE");
    expect(k).toContain("Heap2 VACUUM");
    expect(k.at(-1)).toBe("Heap2 VISIBLE");
    const prune = records.find((r) => rmgrIdentify(r.header.rmid, r.header.info) === "PRUNE")!;
    expect(formatWalDumpRecord(prune)).toMatch(/latestRemovedXid \d+ nredirected 7 ndead 1/);
    db.close();
  });

  it("two-pass VACUUM (indexes): LP_DEAD items become unused in phase 3", () => {
    const { db, wal } = setup({ indexed: ["id"] });
    const tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      for (let i = 0; i < 300; i++) tids.push(tx.insert("t", row(i)));
    });
    commit(db, (tx) => {
      for (let i = 0; i < 300; i += 3) tx.delete("t", tids[i]!);
    });
    db.vacuum("t", { indexCleanup: "on", truncate: false });
    const records = checkRedo(db, wal);
    const k = kinds(records);
    const firstVacuum = k.indexOf("Heap2 VACUUM");
    expect(firstVacuum).toBeGreaterThan(k.lastIndexOf("Heap2 PRUNE"));
    db.close();
  });

  it("FREEZE_PAGE and VISIBLE (all-visible and all-frozen), and ALL_FROZEN alone on an all-visible page", () => {
    const { db, wal } = setup();
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 100 }, (_, i) => row(i)),
      ),
    );
    db.vacuum("t", { truncate: false });
    db.vacuum("t", { freeze: true, truncate: false });
    const records = checkRedo(db, wal);
    const lines = records.map((r) => formatWalDumpRecord(r));
    expect(
      lines.filter((l) => /desc: VISIBLE cutoff xid \d+ flags 0x01/.test(l)).length,
    ).toBeGreaterThan(0);
    expect(
      lines.filter((l) => /desc: FREEZE_PAGE cutoff xid \d+ ntuples \d+/.test(l)).length,
    ).toBeGreaterThan(0);
    expect(
      lines.filter((l) => /desc: VISIBLE cutoff xid 0 flags 0x02/.test(l)).length,
    ).toBeGreaterThan(0);
    // A VACUUM FREEZE of fresh rows freezes and sets both bits at once.
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 100 }, (_, i) => row(200 + i)),
      ),
    );
    db.vacuum("t", { freeze: true, truncate: false });
    const more = checkRedo(db, wal).map((r) => formatWalDumpRecord(r));
    expect(
      more.filter((l) => /desc: VISIBLE cutoff xid [1-9]\d* flags 0x03/.test(l)).length,
    ).toBeGreaterThan(0);
    db.close();
  });

  it("changes to all-visible pages clear PD_ALL_VISIBLE and the VM bits, also in redo", () => {
    const { db, wal } = setup();
    const tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      for (let i = 0; i < 400; i++) tids.push(tx.insert("t", row(i)));
    });
    db.vacuum("t", { freeze: true, truncate: false });
    const n = db.nblocks("t");
    expect(n).toBeGreaterThan(3);
    const vacuumed = wal.records().length;
    // The last page has room for one more row; the update of a full page's row moves it there
    // (after locking it: ALL_FROZEN cleared), and the delete and lock hit other full pages.
    commit(db, (tx) => tx.insert("t", row(1000)));
    commit(db, (tx) => tx.update("t", tids[0]!, row(0, 1)));
    commit(db, (tx) => tx.delete("t", tids.find((t) => t.block === 1)!));
    commit(db, (tx) => tx.lockRow("t", tids.find((t) => t.block === 2)!, { mode: "share" }));
    const records = checkRedo(db, wal);
    const lines = records.slice(vacuumed).map((r) => formatWalDumpRecord(r));
    expect(lines[0]).toMatch(/desc: INSERT off \d+ flags 0x01,/);
    expect(lines[1]).toMatch(/desc: LOCK off 1: xid \d+: flags 0x01 LOCK_ONLY EXCL_LOCK ,/);
    // The new page was not all-visible any more (the insert cleared it): only the old one's flag.
    expect(lines[2]).toMatch(/desc: UPDATE off 1 xmax \d+ flags 0x01 ; new off \d+ xmax 0,/);
    expect(lines[3]).toMatch(/desc: DELETE off \d+ flags 0x01 KEYS_UPDATED ,/);
    expect(lines[4]).toMatch(
      /desc: LOCK off \d+: xid \d+: flags 0x01 LOCK_ONLY EXCL_LOCK KEYSHR_LOCK ,/,
    );
    const main = forkPages(db.pool, db.table("t").locator, ForkNumber.MAIN);
    expect(main.slice(0, n).filter((p) => pageIsAllVisible(p)).length).toBeLessThan(n);
    db.close();
  });

  it("with data checksums, a VISIBLE record carries the heap page's image and sets its LSN", () => {
    const { db, wal } = setup({ checksums: true });
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 50 }, (_, i) => row(i)),
      ),
    );
    wal.checkpoint();
    db.vacuum("t", { truncate: false });
    const records = checkRedo(db, wal);
    const visible = records.filter((r) => rmgrIdentify(r.header.rmid, r.header.info) === "VISIBLE");
    expect(visible.length).toBeGreaterThan(0);
    expect(visible[0]!.blocks[1]!.image).not.toBeNull();
    const main = forkPages(db.pool, db.table("t").locator, ForkNumber.MAIN);
    expect(pageGetLsn(main[visible[0]!.blocks[1]!.block]!)).toBe(visible[0]!.endLsn);
    db.close();
  });

  it("VACUUM logs an empty page never WAL-logged (XLOG_FPI) before it marks it all-visible", () => {
    const { db, wal } = setup();
    commit(db, (tx) => tx.insert("t", row(1)));
    // What a backend that extended the heap and initialized the page, then failed before logging
    // its insert, leaves behind (hio's extension): an initialized, empty page with LSN 0.
    const locator = db.table("t").locator;
    const buf = db.pool.extend(locator, ForkNumber.MAIN);
    db.pool.lockBuffer(buf, "exclusive");
    pageInit(db.pool.bufferGetPage(buf), 0);
    db.pool.markBufferDirty(buf);
    db.pool.unlockReleaseBuffer(buf);
    db.vacuum("t", { truncate: false });
    const records = checkRedo(db, wal);
    const k = kinds(records);
    const fpi = k.indexOf("XLOG FPI");
    expect(fpi).toBeGreaterThan(0);
    expect(records[fpi]!.blocks[0]!.block).toBe(1);
    expect(formatWalDumpRecord(records[fpi + 1]!)).toMatch(
      /desc: VISIBLE cutoff xid 0 flags 0x03, .* blk 1$/,
    );
    db.close();
  });

  it("full-page images repair a torn page: replay up to a checkpoint, damage the page, replay on", () => {
    const { db, wal } = setup();
    const tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      for (let i = 0; i < 20; i++) tids.push(tx.insert("t", row(i)));
    });
    const before = wal.records().length;
    wal.checkpoint();
    commit(db, (tx) => tx.update("t", tids[3]!, row(3, 9)));
    commit(db, (tx) => tx.delete("t", tids[4]!));
    const records = wal.records();
    const target = freshRedoTarget();
    replay(target, records.slice(0, before));
    // A torn write: the second half of block 0 on disk is garbage.
    const locator = db.table("t").locator;
    const buf = target.pool.readBuffer(locator, ForkNumber.MAIN, 0);
    target.pool.lockBuffer(buf, "exclusive");
    target.pool.bufferGetPage(buf).fill(0xa5, 4096);
    target.pool.markBufferDirty(buf);
    target.pool.unlockReleaseBuffer(buf);
    replay(target, records.slice(before));
    expect(records[before]!.blocks[0]!.image).not.toBeNull();
    expect(compareReplay(db.pool, target.pool, locator)).toEqual([]);
    db.close();
  });
});

describe("logging is free when off and changes only pd_lsn when on", () => {
  function workload(db: Database): void {
    db.createTable("t", COLS, { fillfactor: 50, indexedColumns: ["id"] });
    const tids: { block: number; offset: number }[] = [];
    commit(db, (tx) => {
      for (let i = 0; i < 150; i++) tids.push(tx.insert("t", row(i)));
    });
    commit(db, (tx) =>
      tx.insertMany(
        "t",
        Array.from({ length: 100 }, (_, i) => row(300 + i)),
      ),
    );
    commit(db, (tx) => {
      for (let i = 0; i < 150; i += 2) tx.update("t", tids[i]!, row(i, 1));
      for (let i = 1; i < 150; i += 7) tx.update("t", tids[i]!, [1000 + i, "z", 0]);
      tx.lockRow("t", tids[5]!, { mode: "share" });
    });
    commit(db, (tx) => {
      for (let i = 3; i < 150; i += 4) tx.delete("t", tids[i]!);
    });
    commit(db, (tx) => tx.scan("t"));
    db.vacuum("t", { truncate: false });
    db.vacuum("t", { freeze: true, truncate: false });
  }

  it("the same workload with and without WAL leaves the same pages but for pd_lsn", () => {
    const off = makeDb("disk", 256, { wal: false });
    workload(off);
    const on = makeDb("disk", 256);
    const wal = enableWal([on]);
    workload(on);
    expect(wal.records().length).toBeGreaterThan(200);
    for (const fork of [ForkNumber.MAIN, ForkNumber.FSM, ForkNumber.VISIBILITYMAP]) {
      const a = forkPages(off.pool, off.table("t").locator, fork);
      const b = forkPages(on.pool, on.table("t").locator, fork);
      expect(b.length).toBe(a.length);
      a.forEach((p, blk) => {
        expect(pageGetLsn(p)).toBe(0n);
        const q = b[blk]!.slice();
        q.fill(0, 0, 8);
        expect(Buffer.compare(p, q), `fork ${fork} block ${blk}`).toBe(0);
      });
    }
    off.close();
    on.close();
  });

  it("an unlogged table writes no WAL; a backend without WAL handles writes none", () => {
    const db = makeDb("disk", 64);
    db.createTable("t", COLS);
    const wal = enableWal([db]);
    const tx = db.begin();
    const rel = db.table("t");
    const unlogged = { ...rel, def: { ...rel.def, persistence: "unlogged" as const } };
    const ctx = (db as unknown as { ctx: Parameters<typeof heapInsert>[0] }).ctx;
    heapInsert(ctx, unlogged, row(1), tx.xact);
    expect(wal.records()).toEqual([]);
    heapInsert(ctx, rel, row(2), tx.xact);
    expect(kinds(wal.records())).toEqual(["Heap INSERT"]);
    tx.commit();
    const lsn = pageGetLsn(forkPages(db.pool, rel.locator, ForkNumber.MAIN)[0]!);
    expect(lsn).toBe(wal.records()[0]!.endLsn);
    // Without WAL handles (ctx.xlog undefined) nothing is logged and pd_lsn stays.
    disableWal([db], wal);
    commit(db, (t) => t.insert("t", row(3)));
    expect(pageGetLsn(forkPages(db.pool, rel.locator, ForkNumber.MAIN)[0]!)).toBe(lsn);
    db.close();
  });
});

describe("redo keeps the free space map as PostgreSQL's redo does", () => {
  it("inserts record a page's free space when under 20%; VACUUM's records record it always", () => {
    // fillfactor 90: each full page keeps about 800 bytes free, under the 20% redo reports.
    const { db, wal } = setup({ fillfactor: 90 });
    commit(db, (tx) => {
      for (let i = 0; i < 500; i++) tx.insert("t", row(i));
    });
    const records = wal.records();
    const target = freshRedoTarget();
    replay(target, records);
    const locator = db.table("t").locator;
    const n = db.nblocks("t");
    // Full pages: their free space (rounded down to 32 bytes) is in the FSM; the last page,
    // mostly empty, is not recorded.
    const main = forkPages(db.pool, locator, ForkNumber.MAIN);
    for (let blk = 0; blk < n - 1; blk++) {
      const free = pageGetHeapFreeSpace(main[blk]!);
      expect(free).toBeGreaterThanOrEqual(32);
      expect(target.fsm.getRecordedFreeSpace(locator, blk)).toBe(Math.floor(free / 32) * 32);
    }
    expect(pageGetHeapFreeSpace(main[n - 1]!)).toBeGreaterThan(8192 / 5);
    expect(target.fsm.getRecordedFreeSpace(locator, n - 1)).toBe(0);
    commit(db, (tx) => {
      for (const r of tx.scan("t")) if ((r.row[0] as number) < 400) tx.delete("t", r.tid);
    });
    db.vacuum("t", { truncate: false });
    const all = wal.records();
    replay(target, all.slice(records.length));
    // After VACUUM's PRUNE/VACUUM/VISIBLE records the pages' new free space is known.
    const vacuumed = forkPages(db.pool, locator, ForkNumber.MAIN);
    for (let blk = 0; blk < n; blk++) {
      const free = pageGetHeapFreeSpace(vacuumed[blk]!);
      expect(target.fsm.getRecordedFreeSpace(locator, blk)).toBe(Math.floor(free / 32) * 32);
    }
    expect(target.fsm.getRecordedFreeSpace(locator, 0)).toBeGreaterThan(4000);
    db.close();
  });
});

describe("xlogutils", () => {
  it("a record for a block that does not exist is an invalid page until the end of recovery", () => {
    const { db, wal } = setup();
    commit(db, (tx) => {
      for (let i = 0; i < 5; i++) tx.insert("t", row(i));
    });
    const records = wal.records();
    const target = freshRedoTarget();
    // Without the INSERT+INIT that created block 0, the next INSERT finds no block.
    replay(target, records.slice(1, 2));
    expect(target.invalidPages.size).toBe(1);
    const path = `base/${db.table("t").locator.dbOid}/${db.table("t").locator.relNumber}`;
    expect(() => target.invalidPages.check()).toThrow(
      `page 0 of relation ${path} does not exist; WAL contains references to invalid pages`,
    );
    // A truncation or drop of the relation explains it.
    target.invalidPages.forget(db.table("t").locator, ForkNumber.MAIN, 0);
    expect(() => target.invalidPages.reachedConsistency()).not.toThrow();
    expect(() => replay(target, records.slice(1, 2))).toThrow(
      /does not exist; WAL contains references to invalid pages/,
    );
    db.close();
  });

  it("WILL_INIT blocks must be read zeroed, others not; a missing block id is PostgreSQL's PANIC", () => {
    const { db, wal } = setup();
    commit(db, (tx) => tx.insert("t", row(1)));
    commit(db, (tx) => tx.insert("t", row(2)));
    const [init, plain] = wal.records();
    const ctx = makeRedoContext(freshRedoTarget().pool);
    expect(() => xlogReadBufferForRedo(ctx, init!, 0)).toThrow(
      "block with WILL_INIT flag in WAL record must be zeroed by redo routine",
    );
    expect(() => xlogReadBufferForRedoExtended(ctx, plain!, 0, "zero-and-lock", false)).toThrow(
      "block to be initialized in redo routine must be marked with WILL_INIT flag in the WAL record",
    );
    expect(() => xlogReadBufferForRedo(ctx, plain!, 3)).toThrow(
      "failed to locate backup block with ID 3 in WAL record",
    );
    db.close();
  });
});
