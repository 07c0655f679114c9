/**
 * One conformance suite for every table access method: the two built in (heap over a
 * disk-backed pool, memheap over a memory-only pool) and a deliberately different one from the
 * tests (an append-only row store). The same behaviour through the same wrappers proves the
 * interface is pluggable.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  type Database,
  getTableAm,
  PgsimError,
  REQUIRED_CALLBACKS,
  registerTableAm,
  type TableAccessMethod,
  tableAmNames,
  tableRelationEstimateSize,
  tableRelationSize,
} from "../src/index.js";
import { ACCOUNTS, makeDb, removeDbDirs } from "./db-helpers.js";
import { rowStoreAm } from "./rowstore-am.js";

afterAll(removeDbDirs);
registerTableAm(rowStoreAm);

const AMS = [
  { am: "heap", variant: "disk" },
  { am: "memheap", variant: "memory" },
  { am: "rowstore", variant: "memory" },
] as const;

function open(am: string, variant: "disk" | "memory"): Database {
  const db = makeDb(variant, 128);
  db.createTable("accounts", ACCOUNTS, { am });
  return db;
}

function rowsOf(db: Database): unknown[][] {
  const tx = db.begin();
  const rows = tx.scan("accounts").map((r) => r.row);
  tx.commit();
  return rows.sort((a, b) => (a[0] as number) - (b[0] as number));
}

describe("table AM registry", () => {
  it("has heap and memheap registered out of the box, and finds them by name", () => {
    makeDb("memory", 16); // registers the built-in AMs
    expect(tableAmNames()).toEqual(expect.arrayContaining(["heap", "memheap"]));
    expect(getTableAm("heap").name).toBe("heap");
  });

  it("rejects an AM that lacks required callbacks, naming them", () => {
    const partial = { ...rowStoreAm, name: "broken" } as Partial<TableAccessMethod>;
    delete partial.tupleUpdate;
    delete partial.scanEnd;
    expect(() => registerTableAm(partial as TableAccessMethod)).toThrow(
      'table access method "broken" does not provide required callbacks: scanEnd, tupleUpdate',
    );
    expect(() => getTableAm("broken")).toThrow('access method "broken" does not exist');
    expect(REQUIRED_CALLBACKS).toContain("tupleLock");
  });
});

for (const { am, variant } of AMS) {
  describe(`table AM conformance [${am}]`, () => {
    it(`[${am}] insert, fetch and scan return what was stored`, () => {
      const db = open(am, variant);
      const tx = db.begin();
      const tids = tx.insertMany("accounts", [
        [1, 10],
        [2, 20],
      ]);
      tids.push(tx.insert("accounts", [3, 30]));
      expect(tx.fetch("accounts", tids[1]!)).toEqual([2, 20]);
      tx.commit();
      expect(rowsOf(db)).toEqual([
        [1, 10],
        [2, 20],
        [3, 30],
      ]);
      expect(tableRelationSize(db.table("accounts"))).toBeGreaterThan(0);
      expect(tableRelationEstimateSize(db.table("accounts")).pages).toBeGreaterThan(0);
    });

    it(`[${am}] uncommitted and aborted rows are invisible to others`, () => {
      const db = open(am, variant);
      const a = db.begin();
      a.insert("accounts", [1, 1]);
      expect(rowsOfOther(db)).toEqual([]);
      a.abort();
      expect(rowsOf(db)).toEqual([]);
    });

    it(`[${am}] update and delete: new versions, old ones gone for new snapshots`, () => {
      const db = open(am, variant);
      let tx = db.begin();
      const tid = tx.insert("accounts", [1, 100]);
      const gone = tx.insert("accounts", [2, 200]);
      tx.commit();
      tx = db.begin();
      const newTid = tx.update("accounts", tid, (row) => [row[0] ?? null, (row[1] as number) + 5]);
      expect(newTid).toBeDefined();
      expect(tx.delete("accounts", gone)).toBe(true);
      tx.commit();
      expect(rowsOf(db)).toEqual([[1, 105]]);
      tx = db.begin();
      expect(tx.fetch("accounts", tid)).toBeUndefined();
      expect(tx.fetch("accounts", newTid!)).toEqual([1, 105]);
      tx.commit();
    });

    it(`[${am}] REPEATABLE READ fails on a row a committed transaction changed; NOWAIT on a locked one`, () => {
      const db = open(am, variant);
      let tx = db.begin();
      const tid = tx.insert("accounts", [1, 0]);
      tx.commit();
      const other = db.attachAnother();
      const rr = other.begin({ isolation: "repeatable read" });
      expect(rr.fetch("accounts", tid)).toEqual([1, 0]);
      tx = db.begin();
      tx.update("accounts", tid, [1, 1]);
      const blocked = db.attachAnother().begin();
      expect(() => blocked.update("accounts", tid, [1, 2], { nowait: true })).toThrow(PgsimError);
      tx.commit();
      expect(() => rr.update("accounts", tid, [1, 3])).toThrow(
        "could not serialize access due to concurrent update",
      );
      expect(rowsOf(db)).toEqual([[1, 1]]);
    });

    it(`[${am}] vacuum keeps every live row`, () => {
      const db = open(am, variant);
      let tx = db.begin();
      const tids = tx.insertMany(
        "accounts",
        Array.from({ length: 300 }, (_, i) => [i, i]),
      );
      tx.commit();
      tx = db.begin();
      for (const tid of tids.filter((_, i) => i % 3 === 0)) tx.delete("accounts", tid);
      tx.commit();
      const result = db.vacuum("accounts");
      expect(result.tuplesRemoved).toBe(100);
      const rows = rowsOf(db);
      expect(rows).toHaveLength(200);
      expect(rows.every((r) => (r[0] as number) % 3 !== 0)).toBe(true);
    });
  });
}

function rowsOfOther(db: Database): unknown[][] {
  return rowsOf(db.attachAnother());
}
