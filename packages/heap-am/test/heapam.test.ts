/**
 * The heap access method as a user sees it, for both AMs: rows in and out, MVCC between
 * backends, the page-level results of HOT and non-HOT updates, deletes, pruning and vacuum.
 */

import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import {
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_ONLY_TUPLE,
  HEAP_UPDATED,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_FROZEN,
} from "../src/include/access/htup-details.js";
import {
  Database,
  getTableAm,
  makeSlot,
  PgsimError,
  TM,
  tableBeginScan,
  tableEndScan,
  tableScanGetNextSlot,
  tableTupleDelete,
  tableTupleUpdate,
} from "../src/index.js";
import { ACCOUNTS, HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

function items(db: Database, table: string, block = 0) {
  return db.pageItems(table, block)[0]!.items as unknown as Record<string, unknown>[];
}

for (const { am, variant } of HEAP_AMS) {
  describe(`heap operations [${am}]`, () => {
    it(`[${am}] inserted rows come back from scans and fetches, in physical order`, () => {
      const db = makeDb(variant, 64);
      db.createTable("t", [
        { name: "id", type: "int4", notNull: true },
        { name: "name", type: "text" },
        { name: "at", type: "timestamptz" },
      ]);
      expect(db.catalog.get("t").am).toBe(am);
      const tx = db.begin();
      const a = tx.insert("t", [1, "one", 0n]);
      const b = tx.insert("t", [2, null, 86_400_000_000n]);
      expect(a).toEqual({ block: 0, offset: 1 });
      expect(b).toEqual({ block: 0, offset: 2 });
      expect(tx.scan("t").map((r) => r.row)).toEqual([
        [1, "one", 0n],
        [2, null, 86_400_000_000n],
      ]);
      expect(tx.fetch("t", b)).toEqual([2, null, 86_400_000_000n]);
      tx.commit();
      // A fresh insert carries HEAP_XMAX_INVALID and its own TID as t_ctid.
      const it0 = items(db, "t")[0]!;
      expect(it0.t_ctid).toBe("(0,1)");
      expect((it0.t_infomask as number) & HEAP_XMAX_INVALID).toBe(HEAP_XMAX_INVALID);
      expect(it0.t_xmax).toBe(0);
      db.close();
    });

    it(`[${am}] another backend sees rows only after commit; an aborted insert is never seen`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const other = Database.attach(db.shared);
      const writer = db.begin();
      writer.insert("accounts", [1, 10]);
      const reader = other.begin({ isolation: "read committed" });
      expect(reader.scan("accounts")).toEqual([]);
      writer.commit();
      expect(reader.scan("accounts").map((r) => r.row)).toEqual([[1, 10]]);
      reader.commit();
      const aborted = db.begin();
      aborted.insert("accounts", [2, 20]);
      aborted.abort();
      const check = other.begin();
      expect(check.scan("accounts").map((r) => r.row)).toEqual([[1, 10]]);
      check.commit();
      other.close();
      db.close();
    });

    it(`[${am}] REPEATABLE READ keeps its snapshot; READ COMMITTED sees each new commit`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const setup = db.begin();
      const tid = setup.insert("accounts", [1, 100]);
      setup.commit();
      const rrDb = Database.attach(db.shared);
      const rcDb = Database.attach(db.shared);
      const rr = rrDb.begin({ isolation: "repeatable read" });
      const rc = rcDb.begin({ isolation: "read committed" });
      expect(rr.fetch("accounts", tid)).toEqual([1, 100]);
      expect(rc.fetch("accounts", tid)).toEqual([1, 100]);
      const w = db.begin();
      const newTid = w.update("accounts", tid, [1, 200])!;
      w.commit();
      expect(rr.scan("accounts").map((r) => r.row)).toEqual([[1, 100]]);
      expect(rc.scan("accounts").map((r) => r.row)).toEqual([[1, 200]]);
      // The version REPEATABLE READ sees was updated by a committed transaction.
      let err: unknown;
      try {
        rr.update("accounts", tid, [1, 300]);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PgsimError);
      expect((err as PgsimError).message).toBe(
        "could not serialize access due to concurrent update",
      );
      expect(rr.state).toBe("aborted");
      // READ COMMITTED through an old TID: its new snapshot sees no row there (a TID scan).
      expect(rc.update("accounts", tid, [1, 300])).toBeUndefined();
      expect(
        rc.update("accounts", newTid, (row) => [row[0] ?? null, (row[1] as number) + 1]),
      ).toBeDefined();
      rc.commit();
      const check = db.begin();
      expect(check.scan("accounts").map((r) => r.row)).toEqual([[1, 201]]);
      check.commit();
    });

    it(`[${am}] a row changed by a running transaction is locked: NOWAIT fails at once`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const s = db.begin();
      const tid = s.insert("accounts", [1, 0]);
      s.commit();
      const other = Database.attach(db.shared);
      const a = db.begin();
      a.update("accounts", tid, [1, 1]);
      const b = other.begin();
      expect(() => b.delete("accounts", tid, { nowait: true })).toThrow(
        'could not obtain lock on row in relation "accounts"',
      );
      expect(b.state).toBe("aborted");
      a.abort();
      const c = other.begin();
      expect(c.delete("accounts", tid, { nowait: true })).toBe(true);
      c.commit();
    });

    it(`[${am}] a TID names a line pointer, not a row: after pruning it may hold another row, which only \`where\` tells apart`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const s = db.begin();
      const first = s.insert("accounts", [1, 100]);
      s.insert("accounts", [2, 200]);
      s.commit();
      // Account 1's current version is heap-only, at (0,3).
      const u = db.begin();
      const heapOnly = u.update("accounts", first, [1, 101])!;
      u.commit();
      expect(heapOnly).toEqual({ block: 0, offset: 3 });
      // A client reads the TID (one statement), then another transaction updates account 1
      // again; pruning frees (0,3) and account 2's new version takes it.
      const other = Database.attach(db.shared);
      const b = other.begin();
      b.update("accounts", heapOnly, [1, 102]);
      b.commit();
      db.vacuum("accounts");
      const c = other.begin();
      const two = c.scan("accounts").find((r) => r.row[0] === 2)!;
      expect(c.update("accounts", two.tid, [2, 201])).toEqual(heapOnly);
      c.commit();
      // UPDATE … WHERE ctid = '(0,3)' AND id = 1 changes nothing; without the key condition the
      // statement updates whatever row the line pointer holds now, as PostgreSQL's would.
      const a = db.begin();
      expect(a.update("accounts", heapOnly, (r) => [r[0]!, 0], { where: (r) => r[0] === 1 })).toBe(
        undefined,
      );
      expect(a.delete("accounts", heapOnly, { where: (r) => r[0] === 1 })).toBe(false);
      expect(a.lockRow("accounts", heapOnly, { where: (r) => r[0] === 1 })).toBe(false);
      expect(a.update("accounts", heapOnly, (r) => [r[0]!, 0])).toBeDefined();
      expect(
        a
          .scan("accounts")
          .map((r) => r.row)
          .sort(),
      ).toEqual([
        [1, 102],
        [2, 0],
      ]);
      a.abort();
      other.close();
    });

    it(`[${am}] a same-page update is HOT; changing an indexed column is not; a full page moves the row`, () => {
      const db = makeDb(variant, 64);
      db.createTable(
        "t",
        [
          { name: "id", type: "int4", notNull: true },
          { name: "v", type: "text" },
        ],
        { indexedColumns: ["id"], keyColumns: ["id"] },
      );
      let tx = db.begin();
      const tid = tx.insert("t", [1, "a"]);
      tx.commit();
      tx = db.begin();
      const hot = tx.update("t", tid, [1, "b"])!;
      tx.commit();
      let it = items(db, "t");
      expect(hot).toEqual({ block: 0, offset: 2 });
      expect((it[0]!.t_infomask2 as number) & HEAP_HOT_UPDATED).toBe(HEAP_HOT_UPDATED);
      expect((it[0]!.t_infomask2 as number) & HEAP_KEYS_UPDATED).toBe(0);
      expect(it[0]!.t_ctid).toBe("(0,2)");
      expect((it[1]!.t_infomask2 as number) & HEAP_ONLY_TUPLE).toBe(HEAP_ONLY_TUPLE);
      expect((it[1]!.t_infomask as number) & HEAP_UPDATED).toBe(HEAP_UPDATED);
      expect(it[1]!.t_xmin).toBe(it[0]!.t_xmax);
      // Changing the indexed key: not HOT, and the old version says its key changed.
      tx = db.begin();
      const cold = tx.update("t", hot, [2, "b"])!;
      tx.commit();
      it = items(db, "t");
      expect((it[1]!.t_infomask2 as number) & (HEAP_HOT_UPDATED | HEAP_KEYS_UPDATED)).toBe(
        HEAP_KEYS_UPDATED,
      );
      expect((it[2]!.t_infomask2 as number) & HEAP_ONLY_TUPLE).toBe(0);
      // Fill the page, then update: the new version lands on another page, the old page is full.
      tx = db.begin();
      tx.insertMany(
        "t",
        Array.from({ length: 7 }, (_, i) => [100 + i, "x".repeat(1000)]),
      );
      tx.commit();
      tx = db.begin();
      const moved = tx.update("t", cold, [2, "y".repeat(1500)])!;
      tx.commit();
      expect(moved.block).toBeGreaterThan(0);
      const page0 = db.pageHeaders("t")[0]!;
      expect(page0.flags & 0x2).toBe(0x2); // PD_PAGE_FULL
      expect(items(db, "t")[2]!.t_ctid).toBe(`(${moved.block},${moved.offset})`);
      db.close();
    });

    it(`[${am}] a delete marks xmax, keys-updated and ctid = self, and sets pd_prune_xid`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      let tx = db.begin();
      const tid = tx.insert("accounts", [1, 1]);
      tx.commit();
      tx = db.begin();
      expect(tx.delete("accounts", tid)).toBe(true);
      const xid = tx.xid;
      tx.commit();
      const it = items(db, "accounts")[0]!;
      expect(it.t_xmax).toBe(xid);
      expect(it.t_ctid).toBe("(0,1)");
      expect((it.t_infomask2 as number) & HEAP_KEYS_UPDATED).toBe(HEAP_KEYS_UPDATED);
      expect(db.pageHeaders("accounts")[0]!.prune_xid).toBe(xid);
      db.close();
    });

    it(`[${am}] pruning collapses a dead HOT chain into a redirect; vacuum frees the rest`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS, { fillfactor: 10 });
      let tx = db.begin();
      let tid = tx.insert("accounts", [1, 0]);
      tx.commit();
      for (let i = 1; i <= 3; i++) {
        tx = db.begin();
        tid = tx.update("accounts", tid, [1, i])!;
        tx.commit();
      }
      // Four versions on page 0; the first three are dead to everyone now.
      expect(items(db, "accounts").map((i) => i.lp_flags)).toEqual([1, 1, 1, 1]);
      const result = db.vacuum("accounts");
      expect(result.tuplesRemoved).toBe(3);
      const after = items(db, "accounts");
      // The root redirects to the live version; the dead heap-only versions are unused.
      expect(after[0]).toMatchObject({ lp_flags: 2, lp_off: 4 });
      expect(after.slice(1, 3).map((i) => i.lp_flags)).toEqual([0, 0]);
      expect(after[3]).toMatchObject({ lp_flags: 1 });
      tx = db.begin();
      expect(tx.scan("accounts").map((r) => r.row)).toEqual([[1, 3]]);
      tx.commit();
      // The page is all-visible now, in the page header and in the visibility map.
      expect(db.pageHeaders("accounts")[0]!.flags & 0x4).toBe(0x4);
      expect(db.visibilityMap("accounts")).toEqual([
        { blkno: 0, all_visible: true, all_frozen: false },
      ]);
      db.vacuum("accounts", { freeze: true });
      expect(db.visibilityMap("accounts")).toEqual([
        { blkno: 0, all_visible: true, all_frozen: true },
      ]);
      expect((items(db, "accounts")[3]!.t_infomask as number) & HEAP_XMIN_FROZEN).toBe(
        HEAP_XMIN_FROZEN,
      );
      db.close();
    });
  });
}

describe("the relation entry and the scan's pin", () => {
  for (const { am, variant } of HEAP_AMS) {
    it(`[${am}] the relation caches its AM; a scan publishes its pinned page while its rows are updated and deleted, and releases it at the end`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      let tx = db.begin();
      tx.insertMany("accounts", [
        [1, 10],
        [2, 20],
      ]);
      tx.commit();
      const rel = db.table("accounts");
      // rd_tableam: the AM is looked up once, when the relation entry is built.
      expect(rel.am).toBe(getTableAm(am));
      expect(db.table("accounts")).toBe(rel);
      expect(rel.ctx.scanPin).toBeUndefined();

      tx = db.begin();
      const scan = tableBeginScan(rel, tx.xact.snapshot, tx.xact);
      const slot = makeSlot();
      expect(tableScanGetNextSlot(scan, slot)).toBe(true);
      // The scan publishes the page it holds pinned in the backend's context.
      expect(rel.ctx.scanPin).toMatchObject({ relNumber: rel.locator.relNumber, block: 0 });
      const scanBuffer = rel.ctx.scanPin!.buffer;
      const update = tableTupleUpdate(rel, slot.tid!, makeSlot([1, 11]), tx.xact);
      expect(update.result).toBe(TM.Ok);
      expect(update.newTid).toEqual({ block: 0, offset: 3 });
      expect(tableScanGetNextSlot(scan, slot)).toBe(true);
      expect(tableTupleDelete(rel, slot.tid!, tx.xact).result).toBe(TM.Ok);
      // The changes took and dropped pins of their own; the scan still holds its page.
      expect(rel.ctx.scanPin?.buffer).toBe(scanBuffer);
      expect(tableScanGetNextSlot(scan, slot)).toBe(false);
      tableEndScan(scan);
      expect(rel.ctx.scanPin).toBeUndefined();
      tx.commit();

      tx = db.begin();
      expect(tx.scan("accounts").map((r) => r.row)).toEqual([[1, 11]]);
      tx.commit();
      expect(db.close().leakedPins).toEqual([]);
    });
  }
});

describe("vacuum after deleting every row", () => {
  for (const { am, variant } of HEAP_AMS) {
    it(`[${am}] a 100 000-row table is truncated to 0 blocks and gives every buffer back but the FSM's top two`, () => {
      const db = makeDb(variant, variant === "memory" ? 1024 : 128);
      db.createTable("accounts", ACCOUNTS);
      const freeBefore = db.pool.bufferCacheSummary().buffers_unused;
      let tx = db.begin();
      tx.insertMany(
        "accounts",
        Array.from({ length: 100_000 }, (_, i) => [i, 0]),
      );
      tx.commit();
      const pages = db.nblocks("accounts");
      expect(pages).toBe(Math.ceil(100_000 / 226));
      tx = db.begin();
      const rows = tx.scan("accounts");
      expect(rows).toHaveLength(100_000);
      for (const { tid } of rows) tx.delete("accounts", tid);
      tx.commit();
      const result = db.vacuum("accounts");
      expect(result.pagesBefore).toBe(pages);
      expect(result.pagesAfter).toBe(0);
      expect(db.nblocks("accounts")).toBe(0);
      // PostgreSQL records nothing for a relation of 0 blocks.
      expect(db.freeSpace("accounts")).toEqual([]);
      expect(db.visibilityMap("accounts")).toEqual([]);
      // As PostgreSQL (FreeSpaceMapPrepareTruncateRel), the FSM keeps its root and first upper
      // page; every other page of the three forks is gone.
      const locator = db.table("accounts").locator;
      expect(db.pool.nblocks(locator, ForkNumber.FSM)).toBe(2);
      if (variant === "memory") {
        expect(db.pool.bufferCacheSummary().buffers_unused).toBe(freeBefore - 2);
      }
      tx = db.begin();
      expect(tx.scan("accounts")).toEqual([]);
      tx.insert("accounts", [1, 1]);
      tx.commit();
      expect(db.nblocks("accounts")).toBe(1);
      db.close();
    });
  }

  it("[heap] free space and visibility bits follow PostgreSQL's rules when part of the table is deleted", () => {
    const db = makeDb("disk", 128);
    db.createTable("accounts", ACCOUNTS);
    let tx = db.begin();
    tx.insertMany(
      "accounts",
      Array.from({ length: 226 * 4 }, (_, i) => [i, 0]),
    );
    tx.commit();
    // Empty page 1 completely and half of page 2.
    tx = db.begin();
    for (const { tid, row } of tx.scan("accounts")) {
      const id = row[0] as number;
      if (tid.block === 1 || (tid.block === 2 && id % 2 === 0)) tx.delete("accounts", tid);
    }
    tx.commit();
    db.vacuum("accounts");
    const headers = db.pageHeaders("accounts");
    const fsm = db.freeSpace("accounts");
    // PageGetHeapFreeSpace (pd_upper - pd_lower - one more line pointer), then the FSM category:
    // rounded down to a multiple of 32, and 8160 for a page with that much or more.
    const recorded = (h: { upper: number; lower: number }) =>
      Math.min(8160, Math.floor(Math.max(0, h.upper - h.lower - 4) / 32) * 32);
    expect(fsm.map((r) => r.avail)).toEqual(headers.map(recorded));
    // Page 0 is full (28 bytes free → category 0), page 1 empty (8160), page 2 half empty.
    expect(fsm.map((r) => r.avail)).toEqual([0, 8160, recorded(headers[2]!), 0]);
    expect(fsm[2]!.avail).toBeGreaterThan(3500);
    expect(db.visibilityMap("accounts").map((r) => r.all_visible)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    db.close();
  });
});

describe("a full memory-only pool", () => {
  it("[memheap] inserts fail with the typed error, the transaction aborts, committed rows stay; after delete + vacuum inserts work", () => {
    const db = makeDb("memory", 24);
    db.createTable("accounts", ACCOUNTS);
    let committed = 0;
    let err: unknown;
    for (let round = 0; round < 100 && err === undefined; round++) {
      const tx = db.begin();
      try {
        tx.insertMany(
          "accounts",
          Array.from({ length: 500 }, (_, i) => [committed + i, round]),
        );
        tx.commit();
        committed += 500;
      } catch (e) {
        err = e;
        expect(tx.state).toBe("aborted");
      }
    }
    expect(err).toBeInstanceOf(PgsimError);
    expect((err as PgsimError).code).toBe("memory-pool-full");
    expect((err as PgsimError).message).toMatch(/memory-only buffer pool is full: all 24 buffers/);
    let tx = db.begin();
    const rows = tx.scan("accounts");
    expect(rows).toHaveLength(committed);
    expect(rows.map((r) => r.row[0]).sort((a, b) => (a as number) - (b as number))).toEqual(
      Array.from({ length: committed }, (_, i) => i),
    );
    expect(() =>
      tx.insertMany(
        "accounts",
        Array.from({ length: 2000 }, (_, i) => [i, 0]),
      ),
    ).toThrow(PgsimError);
    expect(tx.state).toBe("aborted");
    tx = db.begin();
    for (const { tid } of tx.scan("accounts")) tx.delete("accounts", tid);
    tx.commit();
    db.vacuum("accounts");
    tx = db.begin();
    tx.insertMany(
      "accounts",
      Array.from({ length: 500 }, (_, i) => [i, 7]),
    );
    tx.commit();
    tx = db.begin();
    expect(tx.scan("accounts")).toHaveLength(500);
    tx.commit();
    db.close();
  });
});
