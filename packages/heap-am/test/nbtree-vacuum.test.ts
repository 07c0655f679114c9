// VACUUM with B-tree indexes without PostgreSQL: what lazy VACUUM's index pass removes (plain
// items and posting-list TIDs, nothing live), page deletion and its statistics, INDEX_CLEANUP
// OFF / AUTO (the bypass) / ON, the metapage's cleanup count, recycling deleted pages through the
// index's FSM (btGetFreePage), an interrupted deletion (a half-dead leaf) finished by the next
// VACUUM, the structural check's rules for deleted and half-dead pages, and the index lines of
// VACUUM VERBOSE. Both variants. The page-for-page comparison with PostgreSQL 15 is
// test/nbtree-vacuum-pg15.test.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatWalDumpRecord, rmgrIdentify } from "../src/access/transam/xlog-desc.js";
import { readUint32 } from "../src/include/port/le-bytes.js";
import { Database, formatVacuumVerbose } from "../src/index.js";
import {
  btGetFreePage,
  btIndexCheck,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  btreeTupleSetDownLink,
  btVacInfoOf,
  btVacuumCycleId,
  FreeSpaceMap,
  itemIdGetOffset,
  liveIndexPages,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIndexTupleDelete,
  pageIndexTupleOverwrite,
} from "../src/internals.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";
import { disableWal, enableWal } from "./wal-support.js";

afterAll(removeDbDirs);

const ROWS = 10_000;

/** t(id, v): ids 1..10000 in order, v = id % 10; indexes on id and on v (posting lists). */
function setup(variant: "disk" | "memory"): Database {
  const db = makeDb(variant, 2048);
  db.createTable("t", [
    { name: "id", type: "int4" },
    { name: "v", type: "int4" },
  ]);
  const tx = db.begin();
  tx.insertRows(
    "t",
    Array.from({ length: ROWS }, (_, i) => [i + 1, (i + 1) % 10]),
  );
  tx.commit();
  db.createIndex("t_id", "t", { columns: ["id"] });
  db.createIndex("t_v", "t", { columns: ["v"] });
  db.createTable("scratch", [{ name: "i", type: "int4" }]);
  return db;
}

function deleteWhere(db: Database, pred: (id: number) => boolean): number {
  const tx = db.begin();
  let n = 0;
  for (const r of tx.scan("t")) {
    if (pred(r.row[0] as number)) {
      tx.delete("t", r.tid);
      n++;
    }
  }
  tx.commit();
  return n;
}

/** Every heap TID the index holds, as "(block,offset)". */
function indexTids(db: Database, index: string): string[] {
  const out: string[] = [];
  for (let b = 1; b < db.indexNblocks(index); b++) {
    const stats = db.btPageStats(index, b);
    if (stats.type !== "l") continue;
    for (const item of db.btPageItems(index, b)) {
      // The high key of a non-rightmost leaf (a pivot; it may carry a heap TID) is no entry.
      if (item.itemoffset === 1 && stats.btpo_next !== 0) continue;
      out.push(...(item.tids ?? [item.htid!]));
    }
  }
  return out.sort();
}

function liveTids(db: Database): string[] {
  const tx = db.begin();
  const out = [...tx.scan("t")].map((r) => `(${r.tid.block},${r.tid.offset})`);
  tx.commit();
  return out.sort();
}

/** A transaction that takes an xid, so that deleted pages' safexid falls behind the horizon. */
function consumeXid(db: Database): void {
  const tx = db.begin();
  tx.insertRows("scratch", [[1]]);
  tx.commit();
}

for (const { am, variant } of HEAP_AMS) {
  describe(`[${am}] VACUUM's index pass`, () => {
    it("removes exactly the dead TIDs — plain items and posting-list members — and deletes emptied leaves", () => {
      const db = setup(variant);
      try {
        const deleted = deleteWhere(db, (id) => (id >= 1000 && id <= 6000) || id % 7 === 0);
        expect(indexTids(db, "t_id")).toHaveLength(ROWS); // a DELETE touches no index
        const r = db.vacuum("t", { indexCleanup: "on" });
        expect(r.indexScans).toBe(1);
        const live = liveTids(db);
        expect(live).toHaveLength(ROWS - deleted);
        expect(indexTids(db, "t_id")).toEqual(live);
        expect(indexTids(db, "t_v")).toEqual(live);
        const [id, v] = r.indexes!;
        expect(id!.name).toBe("t_id");
        expect(id!.stats).toMatchObject({
          tuplesRemoved: deleted,
          numIndexTuples: ROWS - deleted,
          pagesNewlyDeleted: 13,
          pagesDeleted: 13,
          pagesFree: 0,
          estimatedCount: false,
        });
        // The v index keeps all its leaves: its posting lists only shrank.
        expect(v!.stats).toMatchObject({ tuplesRemoved: deleted, pagesNewlyDeleted: 0 });
        expect(db.btPageItems("t_v", 1).some((i) => (i.tids?.length ?? 0) > 1)).toBe(true);
        expect(db.btIndexCheck("t_id").heapTids).toBe(ROWS - deleted);
        expect(db.btIndexCheck("t_v").heapTids).toBe(ROWS - deleted);
        // The deleted pages: type d, kept until no snapshot can reach them; the metapage counts them.
        const types = Array.from(
          { length: db.indexNblocks("t_id") - 1 },
          (_, i) => db.btPageStats("t_id", i + 1).type,
        );
        expect(types.filter((t) => t === "d")).toHaveLength(13);
        expect(db.btMetap("t_id").last_cleanup_num_delpages).toBe(13);
        expect(db.btMetap("t_v").last_cleanup_num_delpages).toBe(0);
        // The vacuum cycle id is given back.
        expect(btVacuumCycleId(btVacInfoOf(db.openIndex("t_id").ctx), db.index("t_id"))).toBe(0);
      } finally {
        db.close();
      }
    });

    it("runs through a small pool — for heap 24 buffers, far fewer than the table and indexes have pages", () => {
      const db = makeDb(variant, variant === "disk" ? 24 : 2048);
      try {
        db.createTable("t", [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ]);
        const tx = db.begin();
        tx.insertRows(
          "t",
          Array.from({ length: ROWS }, (_, i) => [i + 1, (i + 1) % 10]),
        );
        tx.commit();
        db.createIndex("t_id", "t", { columns: ["id"] });
        db.createIndex("t_v", "t", { columns: ["v"] });
        const deleted = deleteWhere(db, (id) => (id >= 1000 && id <= 6000) || id % 7 === 0);
        const r = db.vacuum("t", { indexCleanup: "on" });
        expect(r.indexes!.map((i) => i.stats.tuplesRemoved)).toEqual([deleted, deleted]);
        expect(r.indexes![0]!.stats.pagesNewlyDeleted).toBe(13);
        expect(indexTids(db, "t_id")).toEqual(liveTids(db));
        expect(indexTids(db, "t_v")).toEqual(liveTids(db));
      } finally {
        db.close();
      }
    });

    it("INDEX_CLEANUP OFF leaves the indexes and the LP_DEAD items alone", () => {
      const db = setup(variant);
      try {
        deleteWhere(db, (id) => id % 3 === 0);
        const r = db.vacuum("t", { indexCleanup: "off" });
        expect(r.indexScans).toBe(0);
        expect(r.indexes).toEqual([]);
        expect(r.deadItemsRemoved).toBe(0);
        expect(indexTids(db, "t_id")).toHaveLength(ROWS);
        // A later VACUUM with the default cleans up.
        const r2 = db.vacuum("t");
        expect(r2.indexScans).toBe(1);
        expect(indexTids(db, "t_id")).toEqual(liveTids(db));
      } finally {
        db.close();
      }
    });

    it("INDEX_CLEANUP AUTO bypasses the index pass for LP_DEAD items on under 2% of the pages", () => {
      const db = makeDb(variant, 2048);
      try {
        // Wide rows: over 100 pages, so that one page is under 2% (floor(pages × 0.02) ≥ 2).
        db.createTable("t", [
          { name: "id", type: "int4" },
          { name: "pad", type: "text" },
        ]);
        const tx = db.begin();
        tx.insertRows(
          "t",
          Array.from({ length: 12_000 }, (_, i) => [i + 1, "x".repeat(60)]),
        );
        tx.commit();
        db.createIndex("t_id", "t", { columns: ["id"] });
        expect(db.nblocks("t")).toBeGreaterThanOrEqual(100);
        deleteWhere(db, (id) => id <= 10);
        const r = db.vacuum("t");
        expect(r.lpdeadItemPages).toBe(1);
        expect(r.indexScans).toBe(0);
        expect(r.deadItemsRemoved).toBe(0);
        expect(indexTids(db, "t_id")).toHaveLength(12_000);
        // Cleanup ran, found nothing worth a scan (no deleted pages): no statistics.
        expect(r.indexes).toEqual([]);
        // INDEX_CLEANUP ON does not bypass.
        const r2 = db.vacuum("t", { indexCleanup: "on" });
        expect(r2.indexScans).toBe(1);
        expect(r2.deadItemsRemoved).toBe(10);
        expect(indexTids(db, "t_id")).toHaveLength(12_000 - 10);
      } finally {
        db.close();
      }
    });

    it("recycles deleted pages once their safexid is behind every snapshot: the FSM, then btGetFreePage", () => {
      const db = setup(variant);
      try {
        deleteWhere(db, (id) => id >= 1000 && id <= 6000);
        db.vacuum("t", { indexCleanup: "on" });
        const index = db.index("t_id");
        const fsm = new FreeSpaceMap(db.pool);
        const xids = db.transam;
        // Not yet: the FSM has nothing (the deleting VACUUM's own horizon was not past them).
        expect(btGetFreePage({ pool: db.pool, index, fsm, xids })).toBeUndefined();
        // No transaction since: the horizon is still the safexid (the next xid when they were
        // deleted), so a cleanup-only VACUUM finds them deleted but not yet reusable.
        const held = db.vacuum("t", { indexCleanup: "on" });
        expect(held.indexes![0]!.stats).toMatchObject({ pagesDeleted: 13, pagesFree: 0 });
        consumeXid(db);
        // The cleanup-only scan (13 deleted pages > 5% of the index) puts them in the FSM.
        const r = db.vacuum("t", { indexCleanup: "on" });
        expect(r.indexes![0]!.stats).toMatchObject({
          pagesNewlyDeleted: 0,
          pagesDeleted: 13,
          pagesFree: 13,
          estimatedCount: true,
        });
        expect(db.btMetap("t_id").last_cleanup_num_delpages).toBe(0);
        const deletedBlocks = Array.from({ length: db.indexNblocks("t_id") - 1 }, (_, i) => i + 1)
          .filter((b) => db.btPageStats("t_id", b).type === "d")
          .sort((a, b) => a - b);
        expect(deletedBlocks).toHaveLength(13);
        // _bt_getbuf(P_NEW)'s FSM half hands each out once, re-initialised, locked.
        const got: number[] = [];
        for (let i = 0; i < 13; i++) {
          const buf = btGetFreePage({ pool: db.pool, index, fsm, xids });
          expect(buf).toBeDefined();
          const page = db.pool.bufferGetPage(buf!);
          expect(pageGetMaxOffsetNumber(page)).toBe(0);
          expect(btPageGetOpaque(page).flags).toBe(0);
          got.push(db.pool.bufferGetBlockNumber(buf!));
          // Give it back as a deleted page again (the caller would fill it in instead).
          db.pool.unlockReleaseBuffer(buf!);
        }
        expect(got.sort((a, b) => a - b)).toEqual(deletedBlocks);
        expect(btGetFreePage({ pool: db.pool, index, fsm, xids })).toBeUndefined();
      } finally {
        db.close();
      }
    });

    it("finishes a deletion an interrupted VACUUM left half-dead", () => {
      const db = setup(variant);
      try {
        const index = db.index("t_id");
        const meta = db.btMetap("t_id");
        expect(meta.level).toBe(1);
        // Emulate stage 1 of _bt_pagedel on a middle child of the root, as a crash
        // right after XLOG_BTREE_MARK_PAGE_HALFDEAD would leave it: its rows deleted and vacuumed
        // away first would have emptied it; here its items go directly.
        const pool = db.pool;
        const rootBuf = pool.readBuffer(index.locator, 0, meta.root);
        pool.lockBuffer(rootBuf, "exclusive");
        const root = pool.bufferGetPage(rootBuf);
        // The root's third child: a middle leaf with siblings on both sides.
        const target = btreeTupleGetDownLink(root, itemIdGetOffset(pageGetItemId(root, 3)));
        const leafBuf = pool.readBuffer(index.locator, 0, target);
        pool.lockBuffer(leafBuf, "exclusive");
        const leaf = pool.bufferGetPage(leafBuf);
        const lo = btPageGetOpaque(leaf);
        let poffset = 0;
        for (let off = 1; off <= pageGetMaxOffsetNumber(root); off++) {
          if (btreeTupleGetDownLink(root, itemIdGetOffset(pageGetItemId(root, off))) === target) {
            poffset = off;
          }
        }
        expect(poffset).toBeGreaterThan(0);
        const deletedRows = pageGetMaxOffsetNumber(leaf) - 1;
        while (pageGetMaxOffsetNumber(leaf) > 1) pageIndexTupleDelete(leaf, 2);
        const t = itemIdGetOffset(pageGetItemId(root, poffset));
        btreeTupleSetDownLink(root, t, lo.next);
        pageIndexTupleDelete(root, poffset + 1);
        pageIndexTupleOverwrite(
          leaf,
          1,
          Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0x08, 0x20]),
        );
        btPageSetOpaque(leaf, { ...lo, flags: lo.flags | 0x10 });
        pool.markBufferDirty(leafBuf);
        pool.markBufferDirty(rootBuf);
        pool.unlockReleaseBuffer(leafBuf);
        pool.unlockReleaseBuffer(rootBuf);
        // The structural check accepts an interrupted deletion.
        expect(db.btPageStats("t_id", target).type).toBe("e");
        expect(db.btIndexCheck("t_id").heapTids).toBe(ROWS - deletedRows);
        // Only a scan of the index finishes it: one dead row makes the next VACUUM scan it.
        deleteWhere(db, (id) => id === ROWS);
        const r = db.vacuum("t", { indexCleanup: "on" });
        expect(r.indexes![0]!.stats).toMatchObject({ pagesNewlyDeleted: 1, pagesDeleted: 1 });
        expect(db.btPageStats("t_id", target).type).toBe("d");
        expect(db.btIndexCheck("t_id").heapTids).toBe(ROWS - deletedRows - 1);
        // The live pages around it link to each other now.
        const pages = liveIndexPages(db.pool, index);
        expect(btPageGetOpaque(pages[lo.prev]!).next).toBe(lo.next);
        expect(btPageGetOpaque(pages[lo.next]!).prev).toBe(lo.prev);
      } finally {
        db.close();
      }
    });
  });
}

describe("the structural check and deleted pages", () => {
  const db = setup("memory");
  deleteWhere(db, (id) => id >= 1000 && id <= 6000);
  db.vacuum("t", { indexCleanup: "on" });
  const rel = db.index("t_id");
  const clean = () => liveIndexPages(db.pool, rel).map((p) => p.slice());
  const deletedBlock = () =>
    clean().findIndex((p, b) => b > 0 && (btPageGetOpaque(p).flags & 0x0004) !== 0);

  it("passes an index with deleted pages (unreachable from live pages)", () => {
    expect(deletedBlock()).toBeGreaterThan(0);
    expect(btIndexCheck(rel, clean()).heapTids).toBe(ROWS - 5001);
  });

  it("finds a live page linking to a deleted one", () => {
    const pages = clean();
    const d = deletedBlock();
    const o = btPageGetOpaque(pages[d]!);
    // The deleted page's left sibling points at it again, as before the unlink.
    const left = pages[o.prev]!;
    btPageSetOpaque(left, { ...btPageGetOpaque(left), next: d });
    expect(() => btIndexCheck(rel, pages)).toThrow(
      /downlink or sibling link points to deleted block in index "t_id"/,
    );
  });

  it("finds BTP_HAS_FULLXID on a page that is not deleted", () => {
    const pages = clean();
    const o = btPageGetOpaque(pages[1]!);
    btPageSetOpaque(pages[1]!, { ...o, flags: o.flags | 0x0100 });
    expect(() => btIndexCheck(rel, pages)).toThrow(/has BTP_HAS_FULLXID set but is not deleted/);
  });
});

describe("VACUUM VERBOSE's index lines", () => {
  it("print each index's pages as PostgreSQL 15 does", () => {
    const db = setup("memory");
    try {
      deleteWhere(db, (id) => id >= 1000 && id <= 6000);
      const r = db.vacuum("t", { indexCleanup: "on" });
      const report = db.tableStats("t").last_vacuum_report!;
      const message = formatVacuumVerbose(report, "t", r.indexes);
      expect(message.split("\n").filter((l) => l.startsWith("index"))).toEqual([
        `index scan needed: ${r.lpdeadItemPages} pages from table (${((100 * r.lpdeadItemPages!) / r.pagesBefore).toFixed(2)}% of total) had 5001 dead item identifiers removed`,
        'index "t_id": pages: 30 in total, 13 newly deleted, 13 currently deleted, 0 reusable',
        'index "t_v": pages: 11 in total, 0 newly deleted, 0 currently deleted, 0 reusable',
      ]);
    } finally {
      db.close();
    }
  });
});

describe("with WAL, VACUUM's index changes survive a crash", () => {
  it("[heap] redo of VACUUM, MARK_PAGE_HALFDEAD, UNLINK_PAGE and META_CLEANUP rebuilds the pages", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtvac-"));
    try {
      const db = Database.create({ variant: "disk", bufferCount: 256, dataDir: dir });
      db.createTable("t", [
        { name: "id", type: "int4" },
        { name: "v", type: "int4" },
      ]);
      db.createTable("scratch", [{ name: "i", type: "int4" }]);
      const tx = db.begin();
      tx.insertRows(
        "t",
        Array.from({ length: ROWS }, (_, i) => [i + 1, (i + 1) % 10]),
      );
      tx.commit();
      db.createIndex("t_id", "t", { columns: ["id"] });
      db.createIndex("t_v", "t", { columns: ["v"] });
      // No checkpoint after the build: the VACUUM records below carry no page images, so redo
      // runs their routines on the pages the build's records restored.
      deleteWhere(db, (id) => (id >= 1000 && id <= 6000) || id % 7 === 0);
      db.vacuum("t", { indexCleanup: "on" });
      consumeXid(db);
      db.vacuum("t", { indexCleanup: "on" }); // recycles: FSM, META_CLEANUP
      const snapshot = (d: Database) =>
        ["t_id", "t_v"].map((name) => ({
          meta: d.btMetap(name),
          pages: Array.from({ length: d.indexNblocks(name) - 1 }, (_, i) => ({
            stats: d.btPageStats(name, i + 1),
            items: d.btPageStats(name, i + 1).type === "d" ? [] : d.btPageItems(name, i + 1),
          })),
        }));
      const before = snapshot(db);
      db.close(); // no checkpoint: a crash
      const again = Database.open(dir, { bufferCount: 256 });
      try {
        expect(again.startupReport?.recovered).toBe(true);
        expect(snapshot(again)).toEqual(before);
        expect(again.btIndexCheck("t_id").heapTids).toBe(again.btIndexCheck("t_v").heapTids);
      } finally {
        again.shutdown();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reusing a deleted page is logged for standbys", () => {
  it("[heap] btGetFreePage writes XLOG_BTREE_REUSE_PAGE with the page's safexid", () => {
    const db = setup("disk");
    const wal = enableWal([db]);
    try {
      deleteWhere(db, (id) => id >= 1000 && id <= 6000);
      db.vacuum("t", { indexCleanup: "on" });
      consumeXid(db);
      db.vacuum("t", { indexCleanup: "on" });
      const index = db.index("t_id");
      const safexids = new Map<number, number>();
      for (let b = 1; b < db.indexNblocks("t_id"); b++) {
        const page = liveIndexPages(db.pool, index)[b]!;
        if ((btPageGetOpaque(page).flags & 0x0004) !== 0) safexids.set(b, readUint32(page, 24));
      }
      const buf = btGetFreePage({
        pool: db.pool,
        index,
        fsm: new FreeSpaceMap(db.pool),
        xids: db.transam,
        xlog: wal,
      });
      const block = db.pool.bufferGetBlockNumber(buf!);
      db.pool.unlockReleaseBuffer(buf!);
      const lines = wal
        .records()
        .filter((r) => rmgrIdentify(r.header.rmid, r.header.info) === "REUSE_PAGE")
        .map((r) => formatWalDumpRecord(r));
      const { spcOid, dbOid, relNumber } = index.locator;
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(
        `desc: REUSE_PAGE rel ${spcOid}/${dbOid}/${relNumber}; latestRemovedXid 0:${safexids.get(block)}`,
      );
      // VACUUM's own records are there too.
      const kinds = new Set(wal.records().map((r) => rmgrIdentify(r.header.rmid, r.header.info)));
      for (const k of ["VACUUM", "MARK_PAGE_HALFDEAD", "UNLINK_PAGE", "META_CLEANUP"]) {
        expect(kinds).toContain(k);
      }
    } finally {
      disableWal([db], wal);
      db.close();
    }
  });
});

describe("rounds of random deletes and VACUUMs (seeded)", () => {
  // PGSIM_NBT_VACUUM_ROUNDS runs longer; the smoke run is 6 rounds of seed 1.
  const rounds = Number(process.env.PGSIM_NBT_VACUUM_ROUNDS ?? 6);
  const seed = Number(process.env.PGSIM_NBT_VACUUM_SEED ?? 1);
  it(`[memheap] seed ${seed}: the indexes hold exactly the live rows and pass the structural check`, () => {
    let state = seed >>> 0 || 1;
    const rand = (n: number) => {
      // xorshift32
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const db = makeDb("memory", 4096);
    try {
      db.createTable("t", [
        { name: "id", type: "int4" },
        { name: "v", type: "int4" },
        { name: "s", type: "text" },
      ]);
      db.createTable("scratch", [{ name: "i", type: "int4" }]);
      const tx = db.begin();
      tx.insertRows(
        "t",
        Array.from({ length: 8000 }, (_, i) => [
          i + 1,
          (i * 7) % 13,
          `${String(i + 1).padStart(6, "0")}${"x".repeat(100)}`,
        ]),
      );
      tx.commit();
      db.createIndex("t_id", "t", { columns: ["id"] });
      db.createIndex("t_v", "t", { columns: ["v"] });
      db.createIndex("t_s", "t", { columns: [{ name: "s", desc: true }] });
      expect(db.btMetap("t_s").level).toBeGreaterThanOrEqual(2);
      for (let round = 0; round < rounds; round++) {
        // A contiguous range (whole leaves, maybe subtrees) and a scatter.
        const from = 1 + rand(8000);
        const len = rand(2500);
        const mod = 2 + rand(20);
        deleteWhere(db, (id) => (id >= from && id < from + len) || id % mod === round % mod);
        db.vacuum("t", { indexCleanup: round % 3 === 2 ? "auto" : "on" });
        consumeXid(db);
        const live = liveTids(db);
        for (const name of ["t_id", "t_v", "t_s"]) {
          const where = `seed ${seed} round ${round} ${name}`;
          const tids = indexTids(db, name);
          // A bypassed round leaves dead entries; otherwise the index is exactly the table.
          if (live.length === tids.length) expect(tids, where).toEqual(live);
          else expect(tids.length, where).toBeGreaterThan(live.length);
          expect(db.btIndexCheck(name).heapTids, where).toBe(tids.length);
        }
      }
      // A last VACUUM with INDEX_CLEANUP ON leaves every index exact.
      db.vacuum("t", { indexCleanup: "on" });
      for (const name of ["t_id", "t_v", "t_s"]) expect(indexTids(db, name)).toEqual(liveTids(db));
    } finally {
      db.close();
    }
  });
});

describe("a corrupt parent stops page deletion with PostgreSQL's error", () => {
  it("[memheap] 'right sibling … is not next child …', and nothing stays pinned or locked", () => {
    const db = setup("memory");
    try {
      const index = db.index("t_id");
      const root = db.btMetap("t_id").root;
      // The leaf of ids 1099..1464 (the root's 4th child) will be emptied; the pivot after its
      // downlink is made to lead elsewhere.
      const buf = db.pool.readBuffer(index.locator, 0, root);
      db.pool.lockBuffer(buf, "exclusive");
      const page = db.pool.bufferGetPage(buf);
      const t5 = itemIdGetOffset(pageGetItemId(page, 5));
      const wrong = btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, 7)));
      btreeTupleSetDownLink(page, t5, wrong);
      db.pool.markBufferDirty(buf);
      db.pool.unlockReleaseBuffer(buf);
      deleteWhere(db, (id) => id >= 1000 && id <= 6000);
      expect(() => db.vacuum("t", { indexCleanup: "on" })).toThrow(
        /right sibling \d+ of block \d+ is not next child \d+ of block \d+ in index "t_id"/,
      );
      expect(db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
      expect(btVacuumCycleId(btVacInfoOf(db.openIndex("t_id").ctx), index)).toBe(0);
    } finally {
      db.close();
    }
  });
});
