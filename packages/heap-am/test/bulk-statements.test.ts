/**
 * The statement-level bulk methods of DatabaseTransaction, for both AMs: insertBatches (INSERT …
 * SELECT without holding every row), updateAll (UPDATE without WHERE) and deleteAll (DELETE
 * without WHERE). They must leave exactly what the per-row operations leave, visit each row once
 * (a statement never sees its own new versions), and have the page-level effects PostgreSQL's
 * have: HOT updates when the page has room, new pages when it has not, deletions pruned later.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  HEAP_HOT_UPDATED,
  HEAP_ONLY_TUPLE,
  HEAP_UPDATED,
} from "../src/include/access/htup-details.js";
import { type Database, PgsimError, type Row } from "../src/index.js";
import { ACCOUNTS, HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

/** (int4, int4) rows per page at fillfactor 100. */
const PER_PAGE = 226;

function rowsOf(first: number, count: number): Row[] {
  return Array.from({ length: count }, (_, i) => [first + i + 1, 0]);
}

/** Every visible row with its TID, as a fresh transaction sees them. */
function contents(db: Database, table = "accounts") {
  const tx = db.begin();
  const out = tx.scan(table).map((r) => ({ tid: r.tid, row: r.row }));
  tx.commit();
  return out;
}

/** The parts of each line pointer and tuple header that do not depend on command ids. */
function layout(db: Database, table = "accounts") {
  const blocks = db.nblocks(table);
  const out: unknown[] = [];
  for (let b = 0; b < blocks; b++) {
    for (const item of db.pageItems(table, b)[0]!.items as unknown as Record<string, unknown>[]) {
      out.push([b, item.lp, item.lp_flags, item.lp_off, item.t_ctid, item.t_infomask2]);
    }
  }
  return out;
}

for (const { am, variant } of HEAP_AMS) {
  describe(`bulk statements [${am}]`, () => {
    it(`[${am}] insertBatches leaves what insertMany leaves, asking for each batch in order`, () => {
      const n = 3 * PER_PAGE + 17;
      const a = makeDb(variant, 64);
      const b = makeDb(variant, 64);
      a.createTable("accounts", ACCOUNTS);
      b.createTable("accounts", ACCOUNTS);
      const t1 = a.begin();
      t1.insertMany("accounts", rowsOf(0, n));
      t1.commit();
      const asked: [number, number][] = [];
      const progress: number[] = [];
      const t2 = b.begin();
      const inserted = t2.insertBatches(
        "accounts",
        n,
        (first, count) => {
          asked.push([first, count]);
          return rowsOf(first, count);
        },
        { batchRows: 100, onProgress: (done) => progress.push(done) },
      );
      t2.commit();
      expect(inserted).toBe(n);
      expect(asked[0]).toEqual([0, 100]);
      expect(asked.at(-1)).toEqual([600, n - 600]);
      expect(asked.reduce((s, [, c]) => s + c, 0)).toBe(n);
      expect(progress.at(-1)).toBe(n);
      expect(contents(b)).toEqual(contents(a));
      expect(layout(b)).toEqual(layout(a));
      expect(b.nblocks("accounts")).toBe(4);
      a.close();
      b.close();
    });

    it(`[${am}] insertBatches rejects a batch of the wrong size and aborts the transaction`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const tx = db.begin();
      expect(() => tx.insertBatches("accounts", 10, () => rowsOf(0, 3))).toThrow(
        expect.objectContaining({ code: "invalid-parameter" }),
      );
      expect(tx.state).toBe("aborted");
      const again = db.begin();
      expect(() => again.insertBatches("accounts", -1, () => [])).toThrow(PgsimError);
      expect(again.state).toBe("aborted");
      expect(contents(db)).toEqual([]);
      db.close();
    });

    it(`[${am}] updateAll updates every row once and leaves what per-row updates leave`, () => {
      const n = 2 * PER_PAGE + 50;
      const a = makeDb(variant, 64);
      const b = makeDb(variant, 64);
      for (const db of [a, b]) {
        db.createTable("accounts", ACCOUNTS);
        const tx = db.begin();
        tx.insertMany("accounts", rowsOf(0, n));
        tx.commit();
      }
      const t1 = a.begin();
      for (const { tid } of t1.scan("accounts")) {
        t1.update("accounts", tid, (row) => [row[0]!, (row[1] as number) + 1]);
      }
      t1.commit();
      const t2 = b.begin();
      const progress: number[] = [];
      const updated = t2.updateAll("accounts", (row) => [row[0]!, (row[1] as number) + 1], {
        onProgress: (done) => progress.push(done),
      });
      t2.commit();
      expect(updated).toBe(n);
      expect(progress.at(-1)).toBe(n);
      const after = contents(b);
      expect(after).toHaveLength(n);
      expect(after.every(({ row }) => row[1] === 1)).toBe(true);
      expect(after).toEqual(contents(a));
      expect(layout(b)).toEqual(layout(a));
      a.close();
      b.close();
    });

    it(`[${am}] updateAll does not revisit its own new versions on pages the scan reaches later`, () => {
      // Page 0 is full; page 1 has room, so the new versions of page 0's rows go to page 1,
      // which the scan reads afterwards: their cmin is the statement's command id, so its
      // snapshot does not see them, and each row is incremented exactly once.
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const tx = db.begin();
      tx.insertMany("accounts", rowsOf(0, PER_PAGE + 10));
      tx.commit();
      expect(db.nblocks("accounts")).toBe(2);
      const up = db.begin();
      expect(up.updateAll("accounts", (row) => [row[0]!, (row[1] as number) + 1])).toBe(
        PER_PAGE + 10,
      );
      up.commit();
      const rows = contents(db);
      expect(rows).toHaveLength(PER_PAGE + 10);
      expect(new Set(rows.map(({ row }) => row[1]))).toEqual(new Set([1]));
      // The first new versions did land on page 1, after its own rows (offsets 1..10).
      expect(rows.some(({ tid }) => tid.block === 1 && tid.offset > 10)).toBe(true);
      db.close();
    });

    it(`[${am}] updateAll is HOT where the page has room, and not when an indexed column changes`, () => {
      for (const indexed of [false, true]) {
        const db = makeDb(variant, 64);
        db.createTable("accounts", ACCOUNTS, {
          fillfactor: 50,
          ...(indexed ? { indexedColumns: ["abalance"] } : {}),
        });
        const tx = db.begin();
        tx.insertMany("accounts", rowsOf(0, 20));
        tx.commit();
        const up = db.begin();
        up.updateAll("accounts", (row) => [row[0]!, (row[1] as number) + 5]);
        up.commit();
        expect(db.nblocks("accounts")).toBe(1);
        const items = db.pageItems("accounts", 0)[0]!.items as unknown as Record<string, number>[];
        expect(items).toHaveLength(40);
        const oldOnes = items.slice(0, 20);
        const newOnes = items.slice(20);
        expect(
          oldOnes.every((i) => (((i.t_infomask2 ?? 0) & HEAP_HOT_UPDATED) !== 0) === !indexed),
        ).toBe(true);
        expect(
          newOnes.every((i) => (((i.t_infomask2 ?? 0) & HEAP_ONLY_TUPLE) !== 0) === !indexed),
        ).toBe(true);
        expect(newOnes.every((i) => ((i.t_infomask ?? 0) & HEAP_UPDATED) !== 0)).toBe(true);
        expect(contents(db).map(({ row }) => row[1])).toEqual(new Array(20).fill(5));
        db.close();
      }
    });

    it(`[${am}] updateAll under REPEATABLE READ fails on a row another transaction updated`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      const setup = db.begin();
      setup.insertMany("accounts", rowsOf(0, 5));
      setup.commit();
      const rr = db.begin({ isolation: "repeatable read" });
      expect(rr.scan("accounts")).toHaveLength(5);
      const other = db.attachAnother();
      const o = other.begin();
      o.update("accounts", { block: 0, offset: 3 }, [3, 100]);
      o.commit();
      expect(() => rr.updateAll("accounts", (row) => [row[0]!, 7])).toThrow(
        expect.objectContaining({ code: "serialization-failure" }),
      );
      expect(rr.state).toBe("aborted");
      // Nothing of the failed statement is visible: the other update stands alone.
      expect(contents(db).map(({ row }) => row[1])).toEqual([0, 0, 0, 0, 100]);
      other.close();
      db.close();
    });

    it(`[${am}] deleteAll deletes every row once, like per-row deletes; vacuum then empties the table`, () => {
      const n = 2 * PER_PAGE + 3;
      const a = makeDb(variant, 64);
      const b = makeDb(variant, 64);
      for (const db of [a, b]) {
        db.createTable("accounts", ACCOUNTS);
        const tx = db.begin();
        tx.insertMany("accounts", rowsOf(0, n));
        tx.commit();
      }
      const t1 = a.begin();
      for (const { tid } of t1.scan("accounts")) t1.delete("accounts", tid);
      t1.commit();
      const t2 = b.begin();
      expect(t2.deleteAll("accounts")).toBe(n);
      // Deleted by this statement: a second DELETE in the same transaction finds nothing.
      expect(t2.deleteAll("accounts")).toBe(0);
      t2.commit();
      expect(layout(b)).toEqual(layout(a));
      expect(contents(b)).toEqual([]);
      expect(b.nblocks("accounts")).toBe(3);
      const result = b.vacuum("accounts");
      expect(result.pagesAfter).toBe(0);
      expect(b.nblocks("accounts")).toBe(0);
      a.close();
      b.close();
    });

    it(`[${am}] the full benchmark sequence: insert, update (table doubles), delete, vacuum`, () => {
      const n = 4 * PER_PAGE;
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      let tx = db.begin();
      tx.insertBatches("accounts", n, rowsOf);
      tx.commit();
      expect(db.nblocks("accounts")).toBe(4);
      tx = db.begin();
      expect(tx.updateAll("accounts", (row) => [row[0]!, (row[1] as number) + 1])).toBe(n);
      tx.commit();
      // Every page was full, so every new version went to a new page.
      expect(db.nblocks("accounts")).toBe(8);
      tx = db.begin();
      expect(tx.deleteAll("accounts")).toBe(n);
      tx.commit();
      // The delete's scan pruned the dead versions of the first four pages as it went.
      const firstPage = db.pageItems("accounts", 0)[0]!.items as unknown as Record<
        string,
        number
      >[];
      expect(firstPage.every((i) => i.lp_flags === 3)).toBe(true);
      db.vacuum("accounts");
      expect(db.nblocks("accounts")).toBe(0);
      db.close();
    });
  });
}
