/**
 * Regression tests for the write-path differences issue 12 lists (items 1–11), each built from
 * its reproduction and asserting the page fields PostgreSQL 15 produces, for both AMs. The table
 * is `t1(id int4, v text)`, fillfactor 100, one row (1, 'one') unless a test says otherwise. The
 * same reproductions run against a live PostgreSQL 15 in test/differential.test.ts ("issue 12
 * reproductions").
 */

import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import {
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_ONLY_TUPLE,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_KEYSHR_LOCK,
  HEAP_XMAX_LOCK_ONLY,
  HEAP_XMIN_FROZEN,
} from "../src/include/access/htup-details.js";
import { type Database, makeSlot, tableIndexFetchTuple } from "../src/index.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const T1 = [
  { name: "id", type: "int4" },
  { name: "v", type: "text" },
];

interface Item {
  lp: number;
  lp_flags_name: string;
  t_xmin: number | null;
  t_xmax: number | null;
  t_ctid: string | null;
  t_infomask2: number | null;
  t_infomask: number | null;
}

function items(db: Database, table = "t1", block = 0): Item[] {
  return db.pageItems(table, block)[0]!.items as unknown as Item[];
}

function item(db: Database, lp: number, table = "t1", block = 0): Item {
  const found = items(db, table, block).find((i) => i.lp === lp);
  if (found === undefined) throw new Error(`no line pointer ${lp} in block ${block}`);
  return found;
}

/** t1 with its one row, committed. */
function t1WithOneRow(variant: "disk" | "memory"): Database {
  const db = makeDb(variant, 256);
  db.createTable("t1", T1);
  const tx = db.begin();
  tx.insert("t1", [1, "one"]);
  tx.commit();
  return db;
}

const TID = (block: number, offset: number) => ({ block, offset });

for (const { am, variant } of HEAP_AMS) {
  describe(`issue 12 regressions [${am}]`, () => {
    it(`[${am}] item 1, lock then update in one transaction: KEYS_UPDATED | HOT_UPDATED on the old version, the lock stays on the new one`, () => {
      const db = t1WithOneRow(variant);
      const tx = db.begin();
      expect(tx.lockRow("t1", TID(0, 1), { mode: "update" })).toBe(true);
      expect(tx.update("t1", TID(0, 1), [1, "two"])).toEqual(TID(0, 2));
      const xid = tx.xid;
      tx.commit();
      const old = item(db, 1);
      expect(old.t_infomask2).toBe(0x6002);
      expect(old.t_xmax).toBe(xid);
      // heap_update's locker_remains: the new version keeps our lock as a key-share lock.
      const fresh = item(db, 2);
      expect(fresh.t_xmax).toBe(xid);
      expect(
        fresh.t_infomask! & (HEAP_XMAX_INVALID | HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_LOCK_ONLY),
      ).toBe(HEAP_XMAX_KEYSHR_LOCK | HEAP_XMAX_LOCK_ONLY);
      expect(fresh.t_infomask2).toBe(HEAP_ONLY_TUPLE | 2);
      // FOR KEY SHARE then an update that keeps the key: no HEAP_KEYS_UPDATED.
      const tx2 = db.begin();
      tx2.lockRow("t1", TID(0, 2), { mode: "key share" });
      expect(tx2.update("t1", TID(0, 2), [1, "three"])).toEqual(TID(0, 3));
      tx2.commit();
      expect(item(db, 2).t_infomask2).toBe(HEAP_HOT_UPDATED | HEAP_ONLY_TUPLE | 2);
      db.close();
    });

    it(`[${am}] item 2, FREEZE does not take an xmax with the XMAX_INVALID hint for frozen`, () => {
      // BEGIN; DELETE (0,1); ROLLBACK; VACUUM (FREEZE): xmax 0, no KEYS_UPDATED, infomask 0x0b02.
      let db = t1WithOneRow(variant);
      let tx = db.begin();
      tx.delete("t1", TID(0, 1));
      tx.abort();
      db.vacuum("t1", { freeze: true });
      let row = item(db, 1);
      expect(row.t_xmax).toBe(0);
      expect(row.t_infomask2).toBe(2);
      expect(row.t_infomask).toBe(0x0b02);
      db.close();

      // A committed FOR KEY SHARE, then VACUUM (FREEZE): xmax and the lock bits are gone.
      db = t1WithOneRow(variant);
      tx = db.begin();
      tx.lockRow("t1", TID(0, 1), { mode: "key share" });
      tx.commit();
      db.vacuum("t1", { freeze: true });
      row = item(db, 1);
      expect(row.t_xmax).toBe(0);
      expect(row.t_infomask).toBe(0x0b02);
      db.close();

      // VACUUM (FREEZE); BEGIN; DELETE; ROLLBACK; VACUUM: all-visible but not all-frozen (the
      // aborted xmax stays until a freezing VACUUM).
      db = t1WithOneRow(variant);
      db.vacuum("t1", { freeze: true });
      tx = db.begin();
      tx.delete("t1", TID(0, 1));
      tx.abort();
      db.vacuum("t1");
      expect(db.visibilityMap("t1")).toEqual([{ blkno: 0, all_visible: true, all_frozen: false }]);
      db.close();
    });

    it(`[${am}] item 3, xmin is frozen while a deleter is still running`, () => {
      const db = t1WithOneRow(variant);
      const other = db.attachAnother();
      const deleter = other.begin();
      deleter.delete("t1", TID(0, 1));
      db.vacuum("t1", { freeze: true });
      const row = item(db, 1);
      expect(row.t_infomask! & HEAP_XMIN_FROZEN).toBe(HEAP_XMIN_FROZEN);
      expect(row.t_infomask).toBe(0x0302);
      expect(row.t_xmax).toBe(deleter.xid);
      deleter.abort();
      other.close();
      db.close();
    });

    it(`[${am}] item 4, pruning removes an aborted HOT chain and the page becomes all-visible`, () => {
      const db = t1WithOneRow(variant);
      const tx = db.begin();
      expect(tx.update("t1", TID(0, 1), [1, "a"])).toEqual(TID(0, 2));
      expect(tx.update("t1", TID(0, 2), [1, "b"])).toEqual(TID(0, 3));
      tx.abort();
      db.vacuum("t1");
      expect(items(db).map((i) => i.lp_flags_name)).toEqual(["LP_NORMAL"]);
      expect(db.visibilityMap("t1")).toEqual([{ blkno: 0, all_visible: true, all_frozen: false }]);
      db.close();
    });

    it(`[${am}] item 5, a row lock clears HEAP_HOT_UPDATED left by an aborted update`, () => {
      const db = t1WithOneRow(variant);
      let tx = db.begin();
      tx.update("t1", TID(0, 1), [1, "a"]);
      tx.abort();
      tx = db.begin();
      expect(tx.lockRow("t1", TID(0, 1), { mode: "no key update" })).toBe(true);
      const row = item(db, 1);
      expect(row.t_infomask2).toBe(0x0002);
      expect(row.t_infomask! & (HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK)).toBe(
        HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK,
      );
      tx.commit();
      db.close();
    });

    it(`[${am}] item 6, an idle READ COMMITTED transaction does not hold back cleanup`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t1", T1);
      let tx = db.begin();
      tx.insertRows("t1", [
        [1, "one"],
        [2, "two"],
      ]);
      tx.commit();
      const other = db.attachAnother();
      const idle = other.begin();
      expect(idle.fetch("t1", TID(0, 1))).toEqual([1, "one"]);
      tx = db.begin();
      tx.delete("t1", TID(0, 2));
      tx.commit();
      db.vacuum("t1");
      // Line pointer 2 is gone (and the line pointer array truncated after it).
      expect(items(db).map((i) => i.lp)).toEqual([1]);
      idle.commit();
      other.close();
      db.close();
    });

    it(`[${am}] item 7, VACUUM forgets the insert target only when pg_class changes`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t1", T1);
      let tx = db.begin();
      const tids = tx.insertRows(
        "t1",
        Array.from({ length: 12 }, (_, i) => [i + 1, "x".repeat(700)]),
      );
      tx.commit();
      expect(tids[11]).toEqual(TID(1, 1));
      tx = db.begin();
      tx.delete("t1", TID(0, 1));
      tx.delete("t1", TID(0, 2));
      tx.commit();
      db.vacuum("t1"); // relpages, reltuples, relallvisible change: the target is forgotten
      tx = db.begin();
      expect(tx.insert("t1", [13, "y".repeat(1600)])).toEqual(TID(1, 2));
      tx.commit();
      tx = db.begin();
      tx.delete("t1", TID(0, 3));
      tx.commit();
      db.vacuum("t1"); // the statistics stay as they were: no invalidation, the target stays
      tx = db.begin();
      expect(tx.insert("t1", [14, "small"])).toEqual(TID(1, 3));
      tx.commit();
      db.close();
    });

    it(`[${am}] item 7, and a VACUUM that skips all-visible pages changes nothing in pg_class`, () => {
      const db = makeDb(variant, 512);
      db.createTable("t1", T1);
      let tx = db.begin();
      tx.insertRows(
        "t1",
        Array.from({ length: 7 * 39 }, (_, i) => [i + 1, "x".repeat(1000)]),
      );
      tx.commit();
      // The last page's row comes from a later transaction than the rest.
      tx = db.begin();
      expect(tx.insert("t1", [274, "x".repeat(1000)])).toEqual(TID(39, 1));
      tx.commit();
      db.vacuum("t1");
      const b = db.attachAnother();
      let btx = b.begin();
      // Only the last page has room for 2000 bytes: the FSM sends B there.
      expect(btx.insert("t1", [1000, "y".repeat(2000)])).toEqual(TID(39, 2));
      btx.commit();
      // 39 all-visible pages skipped, 1 scanned: reltuples stays (one page is no evidence),
      // relpages and relallvisible are as before, relfrozenxid cannot advance (pages skipped).
      const before = db.catalog.get("t1");
      const result = b.vacuum("t1");
      expect(result.pagesScanned).toBe(1);
      const after = db.catalog.get("t1");
      expect(after.reltuples).toBe(before.reltuples);
      expect(after.relfrozenxid).toBe(before.relfrozenxid);
      expect(after.invalidations).toBe(before.invalidations);
      // No invalidation: B still goes to its target block, not to the FSM's first page.
      btx = b.begin();
      expect(btx.insert("t1", [1001, "small"])).toEqual(TID(39, 3));
      btx.commit();
      b.close();
      db.close();
    });

    it(`[${am}] item 8, the truncation threshold is rel_pages / 16 in whole blocks`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t1", T1);
      let tx = db.begin();
      const tids = tx.insertRows(
        "t1",
        Array.from({ length: 134 }, (_, i) => [i + 1, "x".repeat(1000)]),
      );
      tx.commit();
      expect(tids[133]).toEqual(TID(19, 1));
      expect(db.nblocks("t1")).toBe(20);
      tx = db.begin();
      tx.delete("t1", TID(19, 1));
      tx.commit();
      const result = db.vacuum("t1");
      expect(result.pagesAfter).toBe(19);
      expect(db.nblocks("t1")).toBe(19);
      db.close();
    });

    it(`[${am}] item 9, a transaction that prunes during its own scan records its own xid`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t1", T1);
      let tx = db.begin();
      tx.insertRows(
        "t1",
        Array.from({ length: 10 }, (_, i) => [i + 1, "x".repeat(560)]),
      );
      tx.commit();
      tx = db.begin();
      tx.update("t1", TID(0, 1), [1, "y".repeat(560)]);
      tx.commit();
      tx = db.begin();
      const ins = tx.insert("t1", [11, "z".repeat(560)]);
      expect(ins).toEqual(TID(0, 12));
      tx.update("t1", ins, [11, "w".repeat(560)]);
      expect(tx.scan("t1")).toHaveLength(11);
      // The committed update's old version was pruned; our own inserted-then-updated version is
      // DELETE_IN_PROGRESS to us, so our xid is what makes the page worth pruning next.
      expect(db.pageHeaders("t1")[0]!.prune_xid).toBe(tx.xid);
      expect(item(db, 1).lp_flags_name).toBe("LP_REDIRECT");
      tx.commit();
      db.close();
    });

    it(`[${am}] item 10, DISABLE_PAGE_SKIPPING scans all-frozen pages too`, () => {
      const db = makeDb(variant, 512);
      db.createTable("t1", T1);
      const tx = db.begin();
      tx.insertMany(
        "t1",
        Array.from({ length: 50 * 7 }, (_, i) => [i + 1, "x".repeat(1000)]),
      );
      tx.commit();
      expect(db.nblocks("t1")).toBe(50);
      db.vacuum("t1", { freeze: true });
      expect(db.visibilityMap("t1").every((b) => b.all_frozen)).toBe(true);
      // FREEZE alone (aggressive) still skips the all-frozen pages but the last.
      expect(db.vacuum("t1", { freeze: true }).pagesScanned).toBe(1);
      const full = db.vacuum("t1", { disablePageSkipping: true });
      expect(full.pagesScanned).toBe(50);
      expect(full.pagesSkipped).toBe(0);
      db.close();
    });

    it(`[${am}] item 11, HOT search, the forced lock before a move, and ctids outside the table`, () => {
      const db = t1WithOneRow(variant);
      // heap_hot_search_buffer: a heap-only tuple cannot start a chain.
      let tx = db.begin();
      expect(tx.update("t1", TID(0, 1), [1, "two"])).toEqual(TID(0, 2));
      tx.commit();
      tx = db.begin();
      const rel = db.table("t1");
      const slot = makeSlot();
      expect(tableIndexFetchTuple(rel, TID(0, 2), tx.xact.snapshot, tx.xact, slot)).toBe(false);
      expect(tableIndexFetchTuple(rel, TID(0, 1), tx.xact.snapshot, tx.xact, slot)).toBe(true);
      expect(slot.values).toEqual([1, "two"]);
      tx.commit();

      // A FOR UPDATE lock, then an update that must move to another page: the old version
      // keeps KEYS_UPDATED (the lock mode carried through the temporary lock and the update).
      db.createTable("t2", T1);
      tx = db.begin();
      tx.insertRows("t2", [
        [1, "x".repeat(4000)],
        [2, "x".repeat(4000)],
      ]);
      tx.commit();
      tx = db.begin();
      tx.lockRow("t2", TID(0, 1), { mode: "update" });
      expect(tx.update("t2", TID(0, 1), [1, "y".repeat(4000)])).toEqual(TID(1, 1));
      tx.commit();
      expect(item(db, 1, "t2").t_infomask2).toBe(HEAP_KEYS_UPDATED | 2);

      // WHERE ctid = … outside the table finds no row, and the transaction goes on.
      tx = db.begin();
      expect(tx.update("t1", TID(99, 1), [9, "nine"])).toBeUndefined();
      expect(tx.delete("t1", TID(0, 300))).toBe(false);
      expect(tx.lockRow("t1", TID(5, 0))).toBe(false);
      expect(tx.fetch("t1", TID(1, 1))).toBeUndefined();
      expect(tx.state).toBe("in progress");
      tx.commit();
      expect(db.pool.nblocks(db.table("t1").locator, ForkNumber.MAIN)).toBe(1);
      db.close();
    });
  });
}
