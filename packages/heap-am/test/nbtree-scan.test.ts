// B-tree scans, unique checks and the executor's index maintenance, through the Database API,
// on both variants: index scans in both directions against a sorted array (multi-page, posting
// lists, DESC and multi-column keys), index-only scans and the visibility map, kill_prior_tuple
// marking LP_DEAD, the unique violation, HOT decided by the table's real indexes, primary keys,
// and update / delete by key. The index-AM registry is checked too.
//
// Sizes: btInsert cannot split a leaf yet, so every index here is either built on a filled table
// (CREATE INDEX leaves 10 % free on each leaf) and then takes a few inserts, or stays on one leaf.

import { afterAll, describe, expect, it } from "vitest";
import type { Database, PgsimError, TID } from "../src/index.js";
import { btreeIndexAm, getIndexAm, registerIndexAm } from "../src/internals.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const COLS = [
  { name: "k", type: "int4" },
  { name: "v", type: "text" },
  { name: "n", type: "int4" },
];

/** A deterministic pseudo-random sequence (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tidCmp = (a: TID, b: TID) => a.block - b.block || a.offset - b.offset;

interface ModelRow {
  tid: TID;
  k: number;
  v: string;
}

/** The table's visible rows as a model, from a sequential scan. */
function modelOf(db: Database): ModelRow[] {
  const tx = db.begin();
  const rows = tx
    .scan("t")
    .map(({ tid, row }) => ({ tid, k: row[0] as number, v: row[1] as string }));
  tx.commit();
  return rows;
}

type Range = { gt?: number; gte?: number; lt?: number; lte?: number };

function inRange(k: number, r: Range): boolean {
  return (
    (r.gt === undefined || k > r.gt) &&
    (r.gte === undefined || k >= r.gte) &&
    (r.lt === undefined || k < r.lt) &&
    (r.lte === undefined || k <= r.lte)
  );
}

const RANGES: Range[] = [
  {},
  { gte: 50 },
  { gt: 50 },
  { lt: 17 },
  { lte: 17 },
  { gte: 10, lt: 20 },
  { gt: 10, lte: 20 },
  { gte: 199 },
  { lt: 0 },
  { gt: 120, lt: 110 },
  { gte: 73, lte: 73 },
];

describe.each(HEAP_AMS)("index scans [$am]", ({ am, variant }) => {
  /** 2000 rows, keys 0..199 with duplicates, indexed on a filled table, then 30 more inserts. */
  function filled(options: { dedup: boolean }): { db: Database; model: ModelRow[] } {
    const db = makeDb(variant, 512);
    db.createTable("t", COLS, { am });
    const next = rng(16);
    const tx = db.begin();
    tx.insertRows(
      "t",
      Array.from({ length: 2000 }, (_, i) => [Math.floor(next() * 200), `v${i}`, i]),
    );
    tx.commit();
    db.createIndex("t_k", "t", { columns: ["k"], deduplicateItems: options.dedup });
    const tx2 = db.begin();
    // A few inserts after the build, spread over the key range (each leaf keeps 10 % free).
    tx2.insertRows(
      "t",
      Array.from({ length: 30 }, (_, i) => [(i * 37) % 200, `late${i}`, 5000 + i]),
    );
    tx2.commit();
    return { db, model: modelOf(db) };
  }

  for (const dedup of [false, true]) {
    it(`equality and ranges in both directions match a sorted array (deduplicate_items ${dedup})`, () => {
      const { db, model } = filled({ dedup });
      // Several leaves, so scans cross right links (forward) and walk left (backward).
      expect(db.btMetap("t_k").level).toBeGreaterThanOrEqual(1);
      const tx = db.begin();
      for (const range of RANGES) {
        const expected = model
          .filter((r) => inRange(r.k, range))
          .sort((a, b) => a.k - b.k || tidCmp(a.tid, b.tid));
        const fwd = tx.indexScan("t_k", { range });
        // Forward: key order, heap TID order among equal keys (the B-tree's full key order).
        expect(fwd.map((r) => [r.row[0], r.tid])).toEqual(expected.map((r) => [r.k, r.tid]));
        const bwd = tx.indexScan("t_k", { range, direction: "backward" });
        // Backward: keys descending; the same rows (TIDs within a posting list stay ascending,
        // as PostgreSQL returns them, so only the key order is compared element by element).
        expect(bwd.map((r) => r.row[0])).toEqual(expected.map((r) => r.k).reverse());
        expect([...bwd].sort((a, b) => tidCmp(a.tid, b.tid)).map((r) => r.row)).toEqual(
          [...fwd].sort((a, b) => tidCmp(a.tid, b.tid)).map((r) => r.row),
        );
      }
      for (const k of [0, 42, 199, 250]) {
        const expected = model
          .filter((r) => r.k === k)
          .map((r) => r.tid)
          .sort(tidCmp);
        expect(tx.indexScan("t_k", { eq: k }).map((r) => r.tid)).toEqual(expected);
        expect(
          tx
            .indexScan("t_k", { eq: k, direction: "backward" })
            .map((r) => r.tid)
            .sort(tidCmp),
        ).toEqual(expected);
      }
      // Contradictory keys: nothing, without reading the index.
      expect(tx.indexScan("t_k", { eq: 5, where: [{ column: "k", op: ">", value: 6 }] })).toEqual(
        [],
      );
      tx.commit();
      expect(db.btIndexCheck("t_k").heapTids).toBe(2030);
      db.close();
    });
  }

  it("a DESC, multi-column index returns rows in its order, with keys on the second column", () => {
    const db = makeDb(variant, 256);
    db.createTable("t", COLS, { am });
    const tx = db.begin();
    const rows = Array.from({ length: 600 }, (_, i) => [i % 7, `s${(i * 13) % 50}`, i]);
    tx.insertRows("t", rows);
    tx.commit();
    db.createIndex("t_kv", "t", { columns: [{ name: "k", desc: true }, "v"] });
    const model = modelOf(db);
    const order = (a: ModelRow, b: ModelRow) =>
      b.k - a.k || (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) || tidCmp(a.tid, b.tid);
    const tx2 = db.begin();
    const all = tx2.indexScan("t_kv");
    expect(all.map((r) => r.tid)).toEqual([...model].sort(order).map((r) => r.tid));
    // k > 2 on a DESC column: the first part of the index.
    const gt = tx2.indexScan("t_kv", { range: { gt: 2 } });
    expect(gt.map((r) => r.tid)).toEqual(
      model
        .filter((r) => r.k > 2)
        .sort(order)
        .map((r) => r.tid),
    );
    // k = 3 AND v >= 's30' AND v < 's40', backward.
    const sub = tx2.indexScan("t_kv", {
      eq: 3,
      range: { gte: "s30", lt: "s40" },
      direction: "backward",
    });
    const want = model
      .filter((r) => r.k === 3 && r.v >= "s30" && r.v < "s40")
      .sort(order)
      .reverse()
      .map((r) => r.v);
    expect(sub.map((r) => r.row[1])).toEqual(want);
    expect(want.length).toBeGreaterThan(0);
    // A key on the second column alone (not a start key): checked on every entry.
    const second = tx2.indexScan("t_kv", { where: [{ column: "v", op: "=", value: "s7" }] });
    expect(second.map((r) => r.tid)).toEqual(
      model
        .filter((r) => r.v === "s7")
        .sort(order)
        .map((r) => r.tid),
    );
    tx2.commit();
    db.close();
  });

  it("an index scan sees what the transaction's snapshot sees, following HOT chains", () => {
    const db = makeDb(variant, 128);
    db.createTable("t", COLS, { am, primaryKey: ["k"] });
    const tx = db.begin();
    tx.insertRows("t", [
      [1, "a", 0],
      [2, "b", 0],
      [3, "c", 0],
    ]);
    tx.commit();
    const reader = db.attachAnother();
    const rtx = reader.begin({ isolation: "repeatable read" });
    expect(rtx.indexScan("t_pkey").map((r) => r.row[1])).toEqual(["a", "b", "c"]);
    const w = db.begin();
    // HOT updates (the key column is unchanged): the entry still points at the chain's root.
    expect(w.updateByKey("t_pkey", 2, (r) => [r[0] ?? null, "B", 1])).toBe(1);
    expect(w.deleteByKey("t_pkey", 3)).toBe(1);
    expect(w.fetchByKey("t_pkey", 2)?.row).toEqual([2, "B", 1]);
    w.commit();
    // The old snapshot still sees the old versions through the same entries.
    expect(rtx.indexScan("t_pkey").map((r) => r.row[1])).toEqual(["a", "b", "c"]);
    rtx.commit();
    const now = db.begin();
    expect(now.indexScan("t_pkey").map((r) => r.row)).toEqual([
      [1, "a", 0],
      [2, "B", 1],
    ]);
    expect(db.tableStats("t").n_tup_hot_upd).toBe(1);
    now.commit();
    reader.close();
    db.close();
  });

  it("an index-only scan reads no heap page when the pages are all-visible", () => {
    const db = makeDb(variant, 256);
    // fillfactor 50: the update below stays on its page (HOT).
    db.createTable("t", COLS, { am, fillfactor: 50 });
    const tx = db.begin();
    tx.insertRows(
      "t",
      Array.from({ length: 400 }, (_, i) => [i, `x${i}`, i]),
    );
    tx.commit();
    db.createIndex("t_k", "t", { columns: ["k"] });
    const before = db.begin();
    const first = before.indexOnlyScan("t_k", { range: { lt: 100 } });
    before.commit();
    // Not yet all-visible: every entry's row is checked in the heap.
    expect(first.heapFetches).toBe(100);
    db.vacuum("t");
    const io0 = db.tableIoStats("t");
    const tx2 = db.begin();
    const r = tx2.indexOnlyScan("t_k", { range: { lt: 100 } });
    tx2.commit();
    const io1 = db.tableIoStats("t");
    expect(r.rows.map((x) => x.values)).toEqual(Array.from({ length: 100 }, (_, i) => [i]));
    expect(r.heapFetches).toBe(0);
    expect(io1.main_blks_hit + io1.main_blks_read).toBe(io0.main_blks_hit + io0.main_blks_read);
    // An update clears its page's bit: the entries on that page need the heap again.
    const tx3 = db.begin();
    const hit = tx3.indexScan("t_k", { eq: 5 })[0]!;
    tx3.update("t", hit.tid, (row) => [row[0] ?? null, row[1] ?? null, 1]);
    tx3.commit();
    const onPage = modelOf(db).filter((m) => m.tid.block === hit.tid.block && m.k < 100).length;
    const tx4 = db.begin();
    const again = tx4.indexOnlyScan("t_k", { range: { lt: 100 } });
    tx4.commit();
    // The HOT update added no index entry; the old version's entry leads to the new one.
    expect(again.rows.length).toBe(100);
    expect(again.heapFetches).toBe(onPage);
    db.close();
  });

  it("kill_prior_tuple marks the entries of deleted rows LP_DEAD, and later scans skip them", () => {
    const db = makeDb(variant, 256);
    db.createTable("t", COLS, { am });
    const tx = db.begin();
    tx.insertRows(
      "t",
      Array.from({ length: 300 }, (_, i) => [i, `x${i}`, i]),
    );
    tx.commit();
    db.createIndex("t_k", "t", { columns: ["k"], deduplicateItems: false });
    const del = db.begin();
    for (const k of [10, 11, 12, 200]) expect(del.deleteByKey("t_k", k)).toBe(1);
    del.commit();
    const deadItems = () =>
      db.indexes("t").flatMap(() =>
        Array.from({ length: db.indexNblocks("t_k") - 1 }, (_, b) => b + 1).flatMap((b) =>
          db.btPageStats("t_k", b).type === "l"
            ? db
                .btPageItems("t_k", b)
                .filter((i) => i.dead === true)
                .map((i) => i.htid)
            : [],
        ),
      );
    expect(deadItems()).toEqual([]);
    // The scan visits the deleted rows' entries, finds them dead to everyone, and kills them.
    const scan = db.begin();
    expect(scan.indexScan("t_k", { range: { gte: 5, lte: 15 } }).map((r) => r.row[0])).toEqual([
      5, 6, 7, 8, 9, 13, 14, 15,
    ]);
    scan.commit();
    expect(deadItems().length).toBe(3);
    const leaf = Array.from({ length: db.indexNblocks("t_k") - 1 }, (_, b) => b + 1).find((b) =>
      db.btPageItems("t_k", b).some((i) => i.dead === true),
    )!;
    // BTP_HAS_GARBAGE (0x40) is set on the page that got them.
    expect(db.btPageStats("t_k", leaf).btpo_flags & 0x40).toBe(0x40);
    // A snapshot that could still see the rows prevents killing: 200's entry stays alive while
    // an older transaction runs.
    const old = db.attachAnother();
    const otx = old.begin({ isolation: "repeatable read" });
    otx.fetch("t", { block: 0, offset: 1 });
    const d2 = db.begin();
    expect(d2.deleteByKey("t_k", 201)).toBe(1);
    d2.commit();
    const s2 = db.begin();
    expect(s2.indexScan("t_k", { range: { gte: 199, lte: 202 } }).map((r) => r.row[0])).toEqual([
      199, 202,
    ]);
    s2.commit();
    expect(deadItems().length).toBe(4); // 200 killed, 201 not (the old snapshot may see it)
    otx.commit();
    old.close();
    const s3 = db.begin();
    expect(s3.indexScan("t_k", { range: { gte: 5, lte: 15 } }).length).toBe(8);
    s3.commit();
    expect(db.btIndexCheck("t_k").heapTids).toBe(300);
    db.close();
  });

  it("after deletes, non-HOT updates and VACUUM, scans return exactly the live rows", () => {
    const db = makeDb(variant, 256);
    db.createTable("t", COLS, { am, primaryKey: ["k"] });
    const tx = db.begin();
    tx.insertRows(
      "t",
      Array.from({ length: 200 }, (_, i) => [i, `x${i}`, i]),
    );
    tx.commit();
    const ch = db.begin();
    for (let k = 0; k < 200; k += 3) ch.deleteByKey("t_pkey", k);
    // Moving a key: a non-HOT update (new pkey entry, the old one leads to a dead version).
    ch.updateByKey("t_pkey", 1, (r) => [1000, r[1] ?? null, r[2] ?? null]);
    ch.commit();
    db.vacuum("t");
    const want = Array.from({ length: 200 }, (_, i) => i)
      .filter((k) => k % 3 !== 0 && k !== 1)
      .concat([1000]);
    const s = db.begin();
    expect(s.indexScan("t_pkey").map((r) => r.row[0])).toEqual(want);
    const ios = s.indexOnlyScan("t_pkey");
    expect(ios.rows.map((r) => r.values[0])).toEqual(want);
    expect(s.indexScan("t_pkey", { direction: "backward" }).map((r) => r.row[0])).toEqual(
      [...want].reverse(),
    );
    // The slots of the removed rows are not reused under the index's entries: new rows go
    // elsewhere and are found by their own keys only.
    s.insertRows(
      "t",
      Array.from({ length: 50 }, (_, i) => [2000 + i, `n${i}`, 0]),
    );
    expect(s.indexScan("t_pkey", { range: { lt: 1000 } }).length).toBe(want.length - 1);
    s.commit();
    db.close();
  });

  it("a unique index refuses a live or in-progress duplicate with PostgreSQL's error", () => {
    const db = makeDb(variant, 128);
    db.createTable("t", COLS, { am, primaryKey: ["k"] });
    expect(db.indexes("t").map((i) => [i.name, i.unique])).toEqual([["t_pkey", true]]);
    expect(db.catalog.get("t").columns[0]!.notNull).toBe(true);
    const tx = db.begin();
    tx.insertRows("t", [
      [1, "a", 0],
      [2, "b", 0],
    ]);
    tx.commit();
    const dup = db.begin();
    let err: PgsimError | undefined;
    try {
      dup.insert("t", [2, "again", 0]);
    } catch (e) {
      err = e as PgsimError;
    }
    expect(err?.code).toBe("unique-violation");
    expect(err?.message).toBe('duplicate key value violates unique constraint "t_pkey"');
    expect(err?.detail?.detail).toBe("Key (k)=(2) already exists.");
    expect(err?.detail?.sqlstate).toBe("23505");
    expect(dup.state).toBe("aborted");
    // A deleted (committed) key may be inserted again; an aborted insert leaves no conflict.
    const t2 = db.begin();
    expect(t2.deleteByKey("t_pkey", 2)).toBe(1);
    t2.commit();
    const t3 = db.begin();
    t3.insert("t", [2, "new", 0]);
    t3.insert("t", [3, "c", 0]);
    t3.abort();
    const t4 = db.begin();
    t4.insert("t", [3, "c", 0]);
    // A duplicate within the same transaction.
    expect(() => t4.insert("t", [3, "c2", 0])).toThrow(/duplicate key value/);
    const t5 = db.begin();
    t5.insert("t", [3, "c", 0]);
    t5.commit();
    // Another backend's committed row with the same key. (A running inserter's is waited for:
    // test/nbtree-workers.test.ts, with worker backends.)
    const other = db.attachAnother();
    const o = other.begin();
    expect(() => o.insert("t", [3, "mine", 0])).toThrow(
      'duplicate key value violates unique constraint "t_pkey"',
    );
    other.close();
    // Updating a key onto another row's key is refused too (a non-HOT update's new entry).
    const t6 = db.begin();
    expect(() => t6.updateByKey("t_pkey", 1, (r) => [3, r[1] ?? null, r[2] ?? null])).toThrow(
      /Key|duplicate key value violates unique constraint "t_pkey"/,
    );
    const t7 = db.begin();
    // 2 was deleted, its re-insert aborted; 1 kept its key.
    expect(t7.indexScan("t_pkey").map((r) => r.row[0])).toEqual([1, 3]);
    t7.commit();
    // NULLs never conflict in a unique index.
    db.createIndex("t_v", "t", { columns: ["v"], unique: true });
    const t8 = db.begin();
    t8.insert("t", [10, null, 0]);
    t8.insert("t", [11, null, 0]);
    expect(() => t8.insert("t", [12, "a", 0])).toThrow("duplicate key value");
    const t9 = db.begin();
    let e2: PgsimError | undefined;
    try {
      t9.insert("t", [12, "a", 0]);
    } catch (e) {
      e2 = e as PgsimError;
    }
    expect(e2?.message).toBe('duplicate key value violates unique constraint "t_v"');
    expect(e2?.detail?.detail).toBe("Key (v)=(a) already exists.");
    const t10 = db.begin();
    t10.insert("t", [10, null, 0]);
    t10.insert("t", [11, null, 0]);
    t10.commit();
    const t11 = db.begin();
    // NULLS LAST: the two NULL keys after "a" and "c".
    expect(t11.indexScan("t_v").map((r) => r.row[1])).toEqual(["a", "c", null, null]);
    t11.commit();
    db.close();
  });

  it("HOT is decided by the table's real indexes", () => {
    const db = makeDb(variant, 128);
    db.createTable("t", COLS, { am });
    const tx = db.begin();
    const tids = tx.insertRows(
      "t",
      Array.from({ length: 20 }, (_, i) => [i, `v${i}`, i]),
    );
    tx.commit();
    db.createIndex("t_n", "t", { columns: ["n"] });
    // Changing k (no index on it) is HOT; changing n (indexed) is not, and the index gets the
    // new version's entry.
    const u = db.begin();
    u.update("t", tids[0]!, (r) => [100, r[1] ?? null, r[2] ?? null]);
    u.update("t", tids[1]!, (r) => [r[0] ?? null, r[1] ?? null, 1000]);
    u.commit();
    const stats = db.tableStats("t");
    expect(stats.n_tup_upd).toBe(2);
    expect(stats.n_tup_hot_upd).toBe(1);
    const s = db.begin();
    expect(s.indexScan("t_n", { eq: 1000 }).map((r) => r.row)).toEqual([[1, "v1", 1000]]);
    expect(s.indexScan("t_n", { eq: 1 })).toEqual([]);
    expect(s.indexScan("t_n", { eq: 0 }).map((r) => r.row)).toEqual([[100, "v0", 0]]);
    s.commit();
    // After DROP INDEX, n is no longer indexed: its updates are HOT again.
    db.dropIndex("t_n");
    const u2 = db.begin();
    u2.update("t", tids[2]!, (r) => [r[0] ?? null, r[1] ?? null, 2000]);
    u2.commit();
    expect(db.tableStats("t").n_tup_hot_upd).toBe(2);
    db.close();
  });

  it("statement-level inserts and updates keep every index in step", () => {
    const db = makeDb(variant, 512);
    db.createTable("t", COLS, { am, primaryKey: ["k"] });
    db.createIndex("t_n", "t", { columns: ["n"] });
    const tx = db.begin();
    tx.insertMany(
      "t",
      Array.from({ length: 100 }, (_, i) => [i, `m${i}`, i % 10]),
    );
    tx.insertBatches("t", 50, (first, count) => ({
      columns: [
        Int32Array.from({ length: count }, (_, i) => 100 + first + i),
        Array.from({ length: count }, (_, i) => `b${first + i}`),
        Int32Array.from({ length: count }, () => 10),
      ],
    }));
    tx.commit();
    const u = db.begin();
    expect(u.updateAll("t", { n: { add: 100 } })).toBe(150);
    u.commit();
    const s = db.begin();
    expect(s.indexScan("t_pkey").map((r) => r.row[0])).toEqual(
      Array.from({ length: 150 }, (_, i) => i),
    );
    expect(s.indexScan("t_n", { eq: 110 }).length).toBe(50);
    expect(s.indexScan("t_n", { eq: 10 })).toEqual([]);
    expect(s.indexOnlyScan("t_n", { range: { lt: 105 } }).rows.length).toBe(50);
    s.commit();
    db.close();
  });
});

describe("the index access method registry", () => {
  it("has btree with PostgreSQL's flags, and checks new AMs for their callbacks", () => {
    const bt = getIndexAm("btree");
    expect(bt).toBe(btreeIndexAm);
    expect([bt.amcanorder, bt.amcanbackward, bt.amcanunique, bt.amcanmulticol]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect([bt.amstrategies, bt.amsupport]).toEqual([5, 5]);
    expect(() =>
      registerIndexAm({ ...btreeIndexAm, name: "half", amgettuple: undefined } as never),
    ).toThrow('index access method "half" does not provide required callbacks: amgettuple');
    expect(() => registerIndexAm({ ...btreeIndexAm })).toThrow(
      'access method "btree" already exists',
    );
    expect(() => getIndexAm("hash")).toThrow('access method "hash" does not exist');
    expect(bt.amoptions({ fillfactor: 70, deduplicate_items: false })).toEqual({
      fillfactor: 70,
      deduplicate_items: false,
    });
    expect(() => bt.amoptions({ fillfactor: 5 })).toThrow(
      'value 5 out of bounds for option "fillfactor": valid values are between "10" and "100"',
    );
    expect(() => bt.amoptions({ pages_per_range: 1 })).toThrow(
      'unrecognized parameter "pages_per_range"',
    );
  });
});
