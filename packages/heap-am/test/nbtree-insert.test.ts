// nbtree insertion with page splits, without PostgreSQL: indexes created on an empty table and
// grown by btInsert (seeded random, ascending and descending key order, duplicates, text keys,
// NULLs, DESC, multi-column) pass pgsim's structural check (amcheck's invariants) after every
// split and hold exactly the inserted TIDs; root splits move the metapage's root and fast root;
// a full leaf goes through simple deletion of LP_DEAD items or a deduplication pass before it
// splits; an interrupted split (BTP_INCOMPLETE_SPLIT, no downlink) is finished by the next
// insertion that passes it; the unique-check hook; every lock and pin is let go, also when the
// insertion fails; pg_qsort's order. The page-for-page comparison with PostgreSQL 15 is
// test/nbtree-build-pg15.test.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import {
  Database,
  type DatabaseTransaction,
  makeSlot,
  type PgsimError,
  tableTupleInsert,
} from "../src/index.js";
import {
  BTP_HAS_GARBAGE,
  BTP_INCOMPLETE_SPLIT,
  type BtIndexRelation,
  type BtInsertResult,
  btInsert,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetDownLink,
  itemIdGetLength,
  itemIdGetOffset,
  LP_DEAD,
  makeItemId,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIndexTupleDelete,
  pageSetItemId,
  pFirstDataKey,
  pgQsort,
  type XLogBackend,
} from "../src/internals.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";
import { PgRandom } from "./pg-random.js";

/**
 * The heap tuples alone, through the table AM (INSERT would add the index entries itself, through
 * index_insert): the tests add the entries with btInsert, to see what each insertion did.
 */
function heapInsert(
  db: Database,
  tx: DatabaseTransaction,
  table: string,
  rows: readonly (readonly unknown[])[],
) {
  const rel = db.table(table);
  return rows.map((row) => {
    const slot = makeSlot([...row] as never);
    tableTupleInsert(rel, slot, tx.xact);
    return slot.tid!;
  });
}

afterAll(removeDbDirs);

type Row = (number | string | null)[];

function table(db: Database) {
  db.createTable("t", [
    { name: "id", type: "int4" },
    { name: "v", type: "int4" },
    { name: "note", type: "text" },
  ]);
}

/** Inserts `rows` into the heap, then each row's entry into every index of t (creation order). */
function insertAll(
  db: Database,
  rows: Row[],
  onInsert?: (index: BtIndexRelation, r: BtInsertResult) => void,
) {
  const tx = db.begin();
  const tids = heapInsert(db, tx, "t", rows);
  tx.commit();
  const indexes = db.indexes("t").map((d) => db.index(d.name));
  rows.forEach((row, i) => {
    for (const index of indexes) {
      const values = index.columns.map((c) => row[c.heapAttIndex] ?? null);
      const r = btInsert({ pool: db.pool, index, tableName: "t", values, tid: tids[i]! });
      onInsert?.(index, r);
    }
  });
  return tids;
}

/** This backend's pins (the shared pool's introspection; not part of the BufferPool interface). */
function heldPins(db: Database): unknown[] {
  return (db.pool as unknown as { heldPins(): unknown[] }).heldPins();
}

/** Runs `f` on index block `block`'s page under an exclusive lock, and marks it dirty. */
function withPage(db: Database, index: string, block: number, f: (page: Uint8Array) => void) {
  const buf = db.pool.readBuffer(db.index(index).locator, ForkNumber.MAIN, block);
  db.pool.lockBuffer(buf, "exclusive");
  try {
    f(db.pool.bufferGetPage(buf));
    db.pool.markBufferDirty(buf);
  } finally {
    db.pool.unlockReleaseBuffer(buf);
  }
}

for (const { am, variant } of HEAP_AMS) {
  describe(`[${variant}] ${am}: indexes grown by btInsert`, () => {
    it("stay structurally sound after every split, to three levels, and hold every TID", () => {
      const db = makeDb(variant, 256);
      table(db);
      db.createIndex("t_id", "t", { columns: ["id"] });
      db.createIndex("t_v", "t", { columns: ["v"] });
      db.createIndex("t_note_desc", "t", { columns: [{ name: "note", desc: true }, "id"] });
      db.createIndex("t_v_nodedup", "t", { columns: ["v"], deduplicateItems: false });
      const rnd = new PgRandom(0.5);
      const n = 4000;
      const rows: Row[] = Array.from({ length: n }, (_, i) => [
        Math.floor(rnd.random() * 1_000_000),
        i % 13 === 0 ? null : i % 5,
        i % 11 === 0 ? null : `${"k".repeat(60 + (i % 70))}${Math.floor(rnd.random() * 1e6)}`,
      ]);
      const splits = new Map<string, number>();
      const newRoots = new Map<string, number>();
      let dedups = 0;
      insertAll(db, rows, (index, r) => {
        if (r.splits.length > 0) {
          splits.set(index.name, (splits.get(index.name) ?? 0) + r.splits.length);
          // amcheck's invariants, parent/child included, after every split.
          db.btIndexCheck(index.name);
        }
        if (r.newRoot) newRoots.set(index.name, (newRoots.get(index.name) ?? 0) + 1);
        if (r.deduplicated) dedups++;
      });
      for (const name of ["t_id", "t_v", "t_note_desc", "t_v_nodedup"]) {
        const check = db.btIndexCheck(name);
        expect(check.heapTids).toBe(n);
        expect(splits.get(name)).toBeGreaterThan(0);
        const meta = db.btMetap(name);
        // Each root split made a new root one level up; in a growing tree fast root = root.
        expect(meta.level).toBe(newRoots.get(name));
        expect(meta.fastroot).toBe(meta.root);
        expect(meta.fastlevel).toBe(meta.level);
        expect(check.levels).toBe(meta.level + 1);
      }
      expect(db.btMetap("t_note_desc").level).toBeGreaterThanOrEqual(2);
      expect(dedups).toBeGreaterThan(0);
      // Deduplication formed posting lists in t_v, none in t_v_nodedup.
      const postings = (name: string) =>
        Array.from({ length: db.indexNblocks(name) - 1 }, (_, b) =>
          db.btPageItems(name, b + 1).filter((i) => i.tids !== null),
        ).flat().length;
      expect(postings("t_v")).toBeGreaterThan(0);
      expect(postings("t_v_nodedup")).toBe(0);
      expect(heldPins(db)).toEqual([]);
      db.close();
    });

    it("ascending keys fill leaves to 90% (366 int4 items), descending keys split in the middle", () => {
      const db = makeDb(variant, 256);
      table(db);
      db.createIndex("t_id", "t", { columns: ["id"] });
      db.createIndex("t_id_desc", "t", { columns: [{ name: "id", desc: true }] });
      insertAll(
        db,
        Array.from({ length: 2000 }, (_, i) => [i + 1, 0, null]),
      );
      // Reference §12.1/12.2: leaf 1 keeps 366 items + high key 367, the new root is block 3.
      expect(db.btMetap("t_id")).toMatchObject({ root: 3, level: 1, fastroot: 3, fastlevel: 1 });
      expect(db.btPageStats("t_id", 1)).toMatchObject({ live_items: 367, free_size: 808 });
      expect(db.btPageItems("t_id", 3).map((i) => i.data.slice(0, 11))).toEqual([
        "",
        "6f 01 00 00",
        "dd 02 00 00",
        "4b 04 00 00",
        "b9 05 00 00",
        "27 07 00 00",
      ]);
      // Into the DESC index every key goes to the leftmost leaf, which is never rightmost after
      // the first split: 50:50 splits.
      const leaves = Array.from({ length: db.indexNblocks("t_id_desc") - 1 }, (_, b) =>
        db.btPageStats("t_id_desc", b + 1),
      ).filter((s) => s.type === "l");
      expect(leaves.length).toBeGreaterThan(4);
      expect(db.btIndexCheck("t_id_desc").heapTids).toBe(2000);
      db.close();
    });
  });
}

describe("what a backend remembers between insertions (no page changes)", () => {
  /** Keys of ~400 bytes: about 18 to a page on every level, so a few thousand make three levels. */
  const wideKey = (i: number) => `${"w".repeat(400)}${String(i).padStart(6, "0")}`;
  const pagesRead = (db: Database) => {
    const u = db.bufferUsage();
    return u.sharedBlksHit + u.sharedBlksRead;
  };
  const insertOne = (db: Database, index: BtIndexRelation, key: string, id: number) => {
    const tx = db.begin();
    const [tid] = heapInsert(db, tx, "t", [[id, 0, key]]);
    tx.commit();
    const before = pagesRead(db);
    const r = btInsert({ pool: db.pool, index, tableName: "t", values: [key], tid: tid! });
    return { read: pagesRead(db) - before, result: r };
  };

  for (const { variant } of HEAP_AMS) {
    it(`[${variant}] the fastpath: ascending keys go straight to the cached rightmost leaf once the tree has three levels`, () => {
      const db = makeDb(variant, 2048);
      table(db);
      db.createIndex("t_note", "t", { columns: ["note"] });
      const index = db.index("t_note");
      const n = 3000;
      insertAll(
        db,
        Array.from({ length: n }, (_, i) => [i, 0, wideKey(i)]),
      );
      const meta = db.btMetap("t_note");
      expect(meta.fastlevel).toBeGreaterThanOrEqual(2);
      // The cached block is the rightmost leaf.
      const rightmost = Array.from({ length: db.indexNblocks("t_note") - 1 }, (_, b) => ({
        block: b + 1,
        stats: db.btPageStats("t_note", b + 1),
      })).filter((p) => p.stats.type === "l" && p.stats.btpo_next === 0);
      expect(rightmost.map((p) => p.block)).toEqual([index.cache.targetBlock]);
      expect(index.cache.meta?.fastroot).toBe(meta.fastroot);

      // The next ascending key reads one page (the cached leaf). A split forgets the block (the
      // insertion after it descends from the cached fast root: one page a level, no metapage,
      // and remembers the new rightmost leaf).
      let fast = 0;
      for (let i = n; i < n + 40; i++) {
        const cached = index.cache.targetBlock;
        const { read, result } = insertOne(db, index, wideKey(i), i);
        if (result.splits.length > 0) {
          expect(index.cache.targetBlock).toBe(0);
        } else if (cached !== 0) {
          expect(read).toBe(1);
          fast++;
        } else {
          expect(read).toBe(meta.fastlevel + 1);
          expect(index.cache.targetBlock).toBe(result.block);
        }
      }
      expect(fast).toBeGreaterThan(20);
      // A smaller key cannot go there: the backend looks at the cached leaf, forgets it and
      // descends from the cached fast root (one page a level, no metapage).
      const { read } = insertOne(db, index, wideKey(-1), -1);
      expect(read).toBe(1 + meta.fastlevel + 1);
      expect(index.cache.targetBlock).toBe(0);
      expect(db.btIndexCheck("t_note").heapTids).toBe(n + 41);
      expect(heldPins(db)).toEqual([]);
      db.close();
    });

    it(`[${variant}] a stale cached metapage is noticed and read again`, () => {
      const db = makeDb(variant, 2048);
      table(db);
      db.createIndex("t_note", "t", { columns: ["note"] });
      const index = db.index("t_note");
      insertAll(
        db,
        Array.from({ length: 400 }, (_, i) => [i, 0, wideKey(2 * i)]),
      );
      const meta = db.btMetap("t_note");
      expect(meta.level).toBeGreaterThanOrEqual(1);
      // As if the root had split since: the cache names a leaf as the fast root.
      index.cache.meta = { ...index.cache.meta!, fastroot: 1, fastlevel: meta.fastlevel };
      insertOne(db, index, wideKey(401), 401);
      expect(index.cache.meta?.fastroot).toBe(meta.fastroot);
      // A cached fast root that was deleted or is not alone on its level is refused the same way.
      index.cache.meta = { ...index.cache.meta!, fastroot: 2, fastlevel: 0 };
      insertOne(db, index, wideKey(403), 403);
      expect(index.cache.meta?.fastroot).toBe(meta.fastroot);
      expect(db.btIndexCheck("t_note").heapTids).toBe(402);
      db.close();
    });
  }
});

describe("making room on a full leaf before splitting it", () => {
  it("simple deletion removes LP_DEAD items (and BTP_HAS_GARBAGE) instead of splitting", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_id", "t", { columns: ["id"] });
    // 407 int4 items fill the root leaf (8 bytes left: less than one more item).
    const tids = insertAll(
      db,
      Array.from({ length: 407 }, (_, i) => [i * 2, 0, null]),
    );
    expect(db.btPageStats("t_id", 1)).toMatchObject({ live_items: 407, free_size: 8 });
    // As kill_prior_tuple would: items 10..14 LP_DEAD, the page flagged BTP_HAS_GARBAGE.
    withPage(db, "t_id", 1, (page) => {
      for (let off = 10; off <= 14; off++) {
        const id = pageGetItemId(page, off);
        pageSetItemId(page, off, makeItemId(itemIdGetOffset(id), LP_DEAD, itemIdGetLength(id)));
      }
      const o = btPageGetOpaque(page);
      btPageSetOpaque(page, { ...o, flags: o.flags | BTP_HAS_GARBAGE });
    });
    expect(db.btPageStats("t_id", 1)).toMatchObject({ live_items: 402, dead_items: 5 });
    const tx = db.begin();
    const [tid] = heapInsert(db, tx, "t", [[5, 0, null]]);
    tx.commit();
    const r = btInsert({
      pool: db.pool,
      index: db.index("t_id"),
      tableName: "t",
      values: [5],
      tid: tid!,
    });
    expect(r).toMatchObject({ deleted: 5, splits: [], newRoot: false, deduplicated: false });
    const stats = db.btPageStats("t_id", 1);
    expect(stats).toMatchObject({ live_items: 403, dead_items: 0, btpo_flags: 3 });
    expect(db.indexNblocks("t_id")).toBe(2);
    // The deleted items' keys (18..26) are gone; the new key 5 is in.
    const keys = db.btPageItems("t_id", 1).map((i) => i.data);
    expect(keys).not.toContain("12 00 00 00 00 00 00 00");
    expect(keys).toContain("05 00 00 00 00 00 00 00");
    expect(db.btIndexCheck("t_id").heapTids).toBe(407 - 5 + 1);
    expect(tids.length).toBe(407);
    db.close();
  });

  it("a deduplication pass merges duplicates into posting lists instead of splitting", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_v", "t", { columns: ["v"] });
    const results: BtInsertResult[] = [];
    insertAll(
      db,
      Array.from({ length: 600 }, (_, i) => [i, i % 3, null]),
      (_, r) => results.push(r),
    );
    // The 408th insertion found the leaf full: a dedup pass made room, no split.
    expect(results[407]).toMatchObject({ deduplicated: true, splits: [] });
    expect(results.filter((r) => r.splits.length > 0)).toEqual([]);
    expect(db.indexNblocks("t_v")).toBe(2);
    const items = db.btPageItems("t_v", 1);
    expect(items.some((i) => (i.tids?.length ?? 0) > 100)).toBe(true);
    expect(db.btIndexCheck("t_v").heapTids).toBe(600);
    db.close();
  });
});

describe("a new TID inside an LP_DEAD posting list", () => {
  it("deletes the list first (simple deletion), then inserts", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_v", "t", { columns: ["v"] });
    insertAll(
      db,
      Array.from({ length: 600 }, (_, i) => [i, i % 3, null]),
    );
    // One leaf: three posting lists (v = 0, 1, 2) and a few plain items.
    const items = db.btPageItems("t_v", 1);
    const list = items.findIndex((i) => i.data.startsWith("01 00 00 00") && i.tids !== null);
    expect(list).toBeGreaterThanOrEqual(0);
    const listTids = items[list]!.tids!.length;
    withPage(db, "t_v", 1, (page) => {
      const off = items[list]!.itemoffset;
      const id = pageGetItemId(page, off);
      pageSetItemId(page, off, makeItemId(itemIdGetOffset(id), LP_DEAD, itemIdGetLength(id)));
    });
    // (0,3) lies between the list's first TIDs (0,2) and (0,5): _bt_binsrch_posting answers -1.
    const r = btInsert({
      pool: db.pool,
      index: db.index("t_v"),
      tableName: "t",
      values: [1],
      tid: { block: 0, offset: 3 },
    });
    expect(r).toMatchObject({ deleted: 1, postingoff: 0, splits: [] });
    expect(db.btPageStats("t_v", 1).dead_items).toBe(0);
    expect(db.btIndexCheck("t_v").heapTids).toBe(600 - listTids + 1);
    db.close();
  });
});

describe("an interrupted split (BTP_INCOMPLETE_SPLIT without a downlink)", () => {
  it("is finished by the next insertion that passes the left page", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_id", "t", { columns: ["id"] });
    insertAll(
      db,
      Array.from({ length: 1000 }, (_, i) => [i + 1, 0, null]),
    );
    // Root 3 has downlinks to leaves 1, 2 and 4. Undo the last split's parent insertion, as a
    // crash between _bt_split and _bt_insert_parent would leave it.
    const root = db.btMetap("t_id").root;
    withPage(db, "t_id", root, (page) => {
      const last = pageGetMaxOffsetNumber(page);
      expect(btreeTupleGetDownLink(page, itemIdGetOffset(pageGetItemId(page, last)))).toBe(4);
      pageIndexTupleDelete(page, last);
    });
    withPage(db, "t_id", 2, (page) => {
      const o = btPageGetOpaque(page);
      btPageSetOpaque(page, { ...o, flags: o.flags | BTP_INCOMPLETE_SPLIT });
    });
    expect(() => db.btIndexCheck("t_id")).toThrow();
    // A key beyond leaf 2's high key: the descent lands on leaf 2, moves right past it and
    // finishes its split on the way (_bt_moveright).
    const tx = db.begin();
    const [tid] = heapInsert(db, tx, "t", [[5000, 0, null]]);
    tx.commit();
    const r = btInsert({
      pool: db.pool,
      index: db.index("t_id"),
      tableName: "t",
      values: [5000],
      tid: tid!,
    });
    expect(r.block).toBe(4);
    expect(btPageGetOpaque(pageOf(db, "t_id", 2)).flags & BTP_INCOMPLETE_SPLIT).toBe(0);
    expect(db.btPageItems("t_id", root).map((i) => i.ctid)).toEqual(["(1,0)", "(2,1)", "(4,1)"]);
    expect(db.btIndexCheck("t_id").heapTids).toBe(1001);
    db.close();
  });
});

function pageOf(db: Database, index: string, block: number): Uint8Array {
  let copy = new Uint8Array(0);
  withPage(db, index, block, (p) => {
    copy = p.slice();
  });
  return copy;
}

describe("unique indexes and errors", () => {
  it("a unique index needs the unique-check hook; the hook sees the first leaf and can make it wait", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_u", "t", { columns: ["id"], unique: true });
    const index = db.index("t_u");
    expect(() =>
      btInsert({ pool: db.pool, index, tableName: "t", values: [1], tid: { block: 0, offset: 1 } }),
    ).toThrow('inserting into unique index "t_u" is not supported yet');
    const calls: { offset: number; stricthigh: number; scantid: unknown }[] = [];
    const waited: number[] = [];
    let wait = true;
    for (let i = 1; i <= 3; i++) {
      btInsert({
        pool: db.pool,
        index,
        tableName: "t",
        values: [10 * i],
        tid: { block: 0, offset: i },
        checkUnique: (ctx) => {
          calls.push({ offset: ctx.offset, stricthigh: ctx.stricthigh, scantid: ctx.key.scantid });
          // The leaf is held exclusively while the hook runs.
          expect(db.pool.holdsContentLock(ctx.buffer)).toBe(true);
          if (i === 3 && wait) {
            wait = false;
            return { kind: "wait", xwait: 777 };
          }
          return { kind: "unique", sawDuplicates: false };
        },
        waitForTransaction: (xid) => {
          // Called with no buffer held.
          expect(heldPins(db)).toEqual([]);
          waited.push(xid);
        },
      });
    }
    expect(waited).toEqual([777]);
    // Searched without the heap TID; the third insertion searched twice (after the wait).
    expect(calls.map((c) => c.scantid)).toEqual([undefined, undefined, undefined, undefined]);
    expect(calls.map((c) => c.offset)).toEqual([1, 2, 3, 3]);
    // A NULL key never conflicts: no hook call.
    btInsert({
      pool: db.pool,
      index,
      tableName: "t",
      values: [null],
      tid: { block: 0, offset: 9 },
      checkUnique: () => {
        throw new Error("not called for NULL keys");
      },
    });
    expect(db.btIndexCheck("t_u").heapTids).toBe(4);
    db.close();
  });

  it("an error inside the insertion lets go of every lock and pin", () => {
    const db = makeDb("memory", 64);
    table(db);
    db.createIndex("t_u", "t", { columns: ["id"], unique: true });
    const index = db.index("t_u");
    const violation = (): never => {
      throw Object.assign(new Error('duplicate key value violates unique constraint "t_u"'), {
        code: "unique-violation",
      });
    };
    expect(() =>
      btInsert({
        pool: db.pool,
        index,
        tableName: "t",
        values: [1],
        tid: { block: 0, offset: 1 },
        checkUnique: violation,
      }),
    ).toThrow("duplicate key value");
    expect(heldPins(db)).toEqual([]);
    // The index is still usable (no lock was left behind).
    btInsert({
      pool: db.pool,
      index,
      tableName: "t",
      values: [1],
      tid: { block: 0, offset: 1 },
      checkUnique: () => ({ kind: "unique", sawDuplicates: false }),
    });
    expect(db.btIndexCheck("t_u").heapTids).toBe(1);
    // A row too large for the index is refused before anything is locked.
    db.createIndex("t_note", "t", { columns: ["note"] });
    let err: PgsimError | undefined;
    try {
      btInsert({
        pool: db.pool,
        index: db.index("t_note"),
        tableName: "t",
        values: ["x".repeat(3000)],
        tid: { block: 0, offset: 1 },
      });
    } catch (e) {
      err = e as PgsimError;
    }
    expect(err?.code).toBe("index-value-too-large-uncompressed");
    expect(heldPins(db)).toEqual([]);
    db.close();
  });
});

describe("pg_qsort", () => {
  it("sorts, and leaves equal elements in PostgreSQL's (unstable) order", () => {
    const rnd = new PgRandom(0.1);
    for (let t = 0; t < 200; t++) {
      const n = 1 + Math.floor(rnd.random() * 300);
      const mod = 1 + Math.floor(rnd.random() * 20);
      const a = Array.from({ length: n }, (_, id) => ({ d: Math.floor(rnd.random() * mod), id }));
      const sorted = a.slice();
      pgQsort(sorted, (x, y) => x.d - y.d);
      expect(sorted.map((x) => x.d)).toEqual(a.map((x) => x.d).sort((x, y) => x - y));
      expect(new Set(sorted.map((x) => x.id)).size).toBe(n);
    }
    // Above 6 elements the partitioning reorders equal elements. Traced by hand through
    // sort_template.h: median of (0, 4, 7) is 7, which swaps to the front; the equal elements
    // gather left and are swapped back around the one smaller element.
    const eq = Array.from({ length: 8 }, (_, id) => ({ d: id === 3 ? 0 : 1, id }));
    pgQsort(eq, (x, y) => x.d - y.d);
    expect(eq.map((x) => x.id)).toEqual([3, 1, 2, 4, 5, 6, 0, 7]);
  });
});

describe("[disk] heap: WAL of insertions (nbtree resource manager)", () => {
  it("crash recovery replays splits, new roots, dedup passes, posting splits and deletions", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-wal-"));
    try {
      const db = Database.create({ variant: "disk", bufferCount: 64, dataDir: dir });
      table(db);
      db.createIndex("t_id", "t", { columns: ["id"] });
      db.createIndex("t_v", "t", { columns: ["v", { name: "note", desc: true }] });
      db.createIndex("t_dup", "t", { columns: ["v"] });
      const xlog = (db as unknown as { ctx: { xlog: XLogBackend } }).ctx.xlog;
      const rnd = new PgRandom(0.75);
      const counts = { splits: 0, roots: 0, dedups: 0, posting: 0, deleted: 0 };
      let lastLeaf = 1;
      const insert = (rows: Row[], deadAt?: number, backwards = false) => {
        const tx = db.begin();
        const tids = heapInsert(db, tx, "t", rows);
        const indexes = db.indexes("t").map((d) => db.index(d.name));
        const order = rows.map((_, i) => (backwards ? rows.length - 1 - i : i));
        order.forEach((i, n) => {
          const row = rows[i]!;
          if (deadAt !== undefined && n === deadAt) {
            // As kill_prior_tuple would: three items of the t_id leaf the last key went to (the
            // next one goes there too) LP_DEAD.
            withPage(db, "t_id", lastLeaf, (page) => {
              const first = pFirstDataKey(btPageGetOpaque(page));
              for (let off = first; off < first + 3; off++) {
                const id = pageGetItemId(page, off);
                pageSetItemId(
                  page,
                  off,
                  makeItemId(itemIdGetOffset(id), LP_DEAD, itemIdGetLength(id)),
                );
              }
            });
          }
          for (const index of indexes) {
            const values = index.columns.map((c) => row[c.heapAttIndex] ?? null);
            const r = btInsert({
              pool: db.pool,
              index,
              tableName: "t",
              values,
              tid: tids[i]!,
              xlog,
              xid: tx.xid,
            });
            counts.splits += r.splits.length;
            if (r.newRoot) counts.roots++;
            if (r.deduplicated) counts.dedups++;
            if (r.postingoff !== 0) counts.posting++;
            counts.deleted += r.deleted;
            if (index.name === "t_id") lastLeaf = r.block;
          }
        });
        tx.commit();
        return tids;
      };
      insert(
        Array.from({ length: 1500 }, (_, i) => [
          Math.floor(rnd.random() * 100_000),
          i % 4,
          `n${Math.floor(rnd.random() * 1000)}`,
        ]),
      );
      // A checkpoint: the next change to each page carries its full-page image.
      db.checkpoint();
      // The second batch's index entries go in backwards (as concurrent backends may order
      // them): a later entry's TID can fall inside a posting list formed earlier.
      insert(
        Array.from({ length: 1500 }, (_, i) => [100_000 + i, i % 4, `m${i % 50}`]),
        300,
        true,
      );
      expect(counts.splits).toBeGreaterThan(10);
      expect(counts.roots).toBeGreaterThanOrEqual(3);
      expect(counts.dedups).toBeGreaterThan(0);
      expect(counts.posting).toBeGreaterThan(0);
      expect(counts.deleted).toBe(3);
      const names = ["t_id", "t_v", "t_dup"];
      const before = names.map((n) => indexImage(db, n));
      db.close(); // no checkpoint: a crash
      const again = Database.open(dir, { bufferCount: 64 });
      expect(again.startupReport?.recovered).toBe(true);
      names.forEach((n, i) => {
        expect(indexImage(again, n), n).toEqual(before[i]);
        again.btIndexCheck(n);
      });
      again.shutdown();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Every page of an index, as hex, with pd_checksum masked (recovery recomputes it on write). */
function indexImage(db: Database, name: string): string[] {
  const out: string[] = [];
  for (let b = 0; b < db.indexNblocks(name); b++) {
    const page = pageOf(db, name, b);
    page.fill(0, 8, 10);
    out.push(Buffer.from(page).toString("hex"));
  }
  return out;
}
