// VACUUM's B-tree cycle ids in shared memory (nbtutils-shmem.ts), without worker threads: two
// backends of one database in this thread. A page split in one backend while the other runs
// btbulkdelete stores the VACUUM's cycle id in both halves and BTP_SPLIT_END on the last right
// half; btvacuumpage then follows the right link back to the block the split used (a recycled
// page behind the scan) and removes the dead entries moved there. Also: "multiple active vacuums
// for index", the entry given back when the scan throws, and the entry of a backend that died.
// Both variants. The same race with worker backends is test/nbtree-vacuum-workers.test.ts.

import { afterAll, describe, expect, it } from "vitest";
import { Database, PgsimError } from "../src/index.js";
import {
  BTP_DELETED,
  BTP_LEAF,
  BTP_SPLIT_END,
  type BTPageOpaque,
  btBulkDelete,
  btEndVacuum,
  btPageGetOpaque,
  btStartVacuum,
  btVacInfoOf,
  btVacuumCycleId,
} from "../src/internals.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const ROWS = 10_000;

/** t(id): ids 10, 20, …, 100000 (gaps to insert into), index t_id built on the filled table. */
function setup(variant: "disk" | "memory"): Database {
  const db = makeDb(variant, 2048);
  db.createTable("t", [{ name: "id", type: "int4" }]);
  db.createTable("scratch", [{ name: "i", type: "int4" }]);
  const tx = db.begin();
  tx.insertRows(
    "t",
    Array.from({ length: ROWS }, (_, i) => [10 * (i + 1)]),
  );
  tx.commit();
  db.createIndex("t_id", "t", { columns: ["id"] });
  return db;
}

/** Deletes the rows whose id passes `pred`; returns their TIDs as "block,offset". */
function deleteWhere(db: Database, pred: (id: number) => boolean): Set<string> {
  const tx = db.begin();
  const tids = new Set<string>();
  for (const r of tx.scan("t")) {
    if (pred(r.row[0] as number)) {
      tx.delete("t", r.tid);
      tids.add(`${r.tid.block},${r.tid.offset}`);
    }
  }
  tx.commit();
  return tids;
}

/** Every heap TID the index holds (leaf data items and posting-list members), sorted. */
function indexTids(db: Database): string[] {
  const out: string[] = [];
  for (let b = 1; b < db.indexNblocks("t_id"); b++) {
    const stats = db.btPageStats("t_id", b);
    if (stats.type !== "l") continue;
    for (const item of db.btPageItems("t_id", b)) {
      if (item.itemoffset === 1 && stats.btpo_next !== 0) continue;
      out.push(...(item.tids ?? [item.htid!]));
    }
  }
  return out.map((t) => t.replace(/[()]/g, "")).sort();
}

function liveTids(db: Database): string[] {
  const tx = db.begin();
  const out = [...tx.scan("t")].map((r) => `${r.tid.block},${r.tid.offset}`);
  tx.commit();
  return out.sort();
}

/** A block's special space, read under a share lock by backend `db`. */
function opaqueAt(db: Database, block: number): BTPageOpaque {
  const index = db.index("t_id");
  const buf = db.pool.readBuffer(index.locator, 0, block);
  db.pool.lockBuffer(buf, "share");
  try {
    return btPageGetOpaque(db.pool.bufferGetPage(buf));
  } finally {
    db.pool.unlockReleaseBuffer(buf);
  }
}

/**
 * Deletes ids 10000..60000 and vacuums until their 13 leaves are deleted and in the index's FSM
 * (a transaction in between puts their safexid behind the horizon). Returns those blocks.
 */
function recyclePages(db: Database): number[] {
  deleteWhere(db, (id) => id >= 10_000 && id <= 60_000);
  db.vacuum("t", { indexCleanup: "on" });
  const tx = db.begin();
  tx.insertRows("scratch", [[1]]);
  tx.commit();
  const r = db.vacuum("t", { indexCleanup: "on" });
  expect(r.indexes![0]!.stats.pagesFree).toBe(13);
  return Array.from({ length: db.indexNblocks("t_id") - 1 }, (_, i) => i + 1).filter(
    (b) => db.btPageStats("t_id", b).type === "d",
  );
}

/** btbulkdelete on t_id from backend `db`, with `callback` deciding which TIDs are dead. */
function bulkDelete(db: Database, callback: (tid: { block: number; offset: number }) => boolean) {
  const index = db.openIndex("t_id");
  const ctx = index.ctx;
  return btBulkDelete(
    {
      analyzeOnly: false,
      estimatedCount: false,
      numHeapTuples: ROWS,
      pool: ctx.pool,
      index: db.index("t_id"),
      fsm: ctx.fsm,
      xids: ctx.transam,
      vacinfo: btVacInfoOf(ctx),
      ...(ctx.xlog !== undefined ? { xlog: ctx.xlog } : {}),
    },
    undefined,
    callback,
  );
}

for (const { am, variant } of HEAP_AMS) {
  describe(`[${am}] VACUUM cycle ids shared by the backends`, () => {
    it(`[${am}] a split in another backend during btbulkdelete takes the VACUUM's cycle id (BTP_SPLIT_END on the last right half), and btvacuumpage goes back for the entries moved behind the scan`, () => {
      const db = setup(variant);
      const other = db.attachAnother();
      try {
        const recycled = recyclePages(db);
        expect(recycled).toHaveLength(13);
        // Every third row of the upper part of the table dies: each of those leaves has dead entries.
        const dead = deleteWhere(db, (id) => id > 60_000 && (id / 10) % 3 === 0);
        const lastRecycled = Math.max(...recycled);
        let split: { cycleid: number; chains: BTPageOpaque[][]; lefts: number[] } | undefined;
        const stats = bulkDelete(db, (tid) => {
          const key = `${tid.block},${tid.offset}`;
          if (split === undefined && dead.has(key)) {
            // The scan is past every recycled block (it has reached the upper part's leaves).
            // The other backend fills the leaf of ids 95000.. until it splits; the right halves
            // take recycled blocks, behind the scan.
            const tx = other.begin();
            for (let i = 9500; i < 9550; i++) {
              for (let d = 1; d <= 3; d++) tx.insert("t", [10 * i + d]);
            }
            tx.commit();
            const active = btVacInfoOf(other.openIndex("t_id").ctx).activeVacuums();
            expect(active).toHaveLength(1);
            const cycleid = active[0]!.cycleid;
            expect(cycleid).toBeGreaterThan(0);
            expect(
              btVacuumCycleId(btVacInfoOf(other.openIndex("t_id").ctx), other.index("t_id")),
            ).toBe(cycleid);
            // The right halves: recycled blocks that are leaves again. Each chain of them starts
            // at a left half (an original leaf, further on in the index than the scan).
            const rights = recycled.filter(
              (b) => (opaqueAt(other, b).flags & (BTP_LEAF | BTP_DELETED)) === BTP_LEAF,
            );
            expect(rights.length).toBeGreaterThan(0);
            const chains: BTPageOpaque[][] = [];
            const lefts: number[] = [];
            for (const first of rights.filter((b) => !rights.includes(opaqueAt(other, b).prev))) {
              const left = opaqueAt(other, first).prev;
              expect(left).toBeGreaterThan(lastRecycled);
              const chain = [opaqueAt(other, left)];
              for (let b = chain[0]!.next; rights.includes(b); b = opaqueAt(other, b).next) {
                chain.push(opaqueAt(other, b));
              }
              chains.push(chain);
              lefts.push(left);
            }
            expect(chains.reduce((n, c) => n + c.length - 1, 0)).toBe(rights.length);
            split = { cycleid, chains, lefts };
          }
          return dead.has(key);
        });
        expect(split).toBeDefined();
        const { cycleid, chains, lefts } = split!;
        // _bt_split: both halves carry the cycle id; only the last right half, whose right
        // sibling has another cycle id (0), is BTP_SPLIT_END.
        for (const chain of chains) {
          for (const o of chain) expect(o.cycleid).toBe(cycleid);
          for (const o of chain.slice(0, -1)) expect(o.flags & BTP_SPLIT_END).toBe(0);
          expect(chain.at(-1)!.flags & BTP_SPLIT_END).toBe(BTP_SPLIT_END);
        }
        // btvacuumpage went back: every dead TID is gone, the moved ones included, and nothing else.
        expect(stats.tuplesRemoved).toBe(dead.size);
        expect(indexTids(db)).toEqual(liveTids(db));
        expect(db.btIndexCheck("t_id", { parent: true }).heapTids).toBe(liveTids(db).length);
        // The cycle id is given back, and the pages it was on no longer carry it.
        expect(btVacInfoOf(db.openIndex("t_id").ctx).activeVacuums()).toEqual([]);
        for (const left of lefts) expect(opaqueAt(db, left).cycleid).toBe(0);
      } finally {
        other.close();
        db.close();
      }
    });
  });
}

describe("the shared table of running VACUUMs", () => {
  it("refuses a second VACUUM of an index from another backend with PostgreSQL's error, and takes it once the first ends", () => {
    const db = setup("memory");
    const other = db.attachAnother();
    try {
      const index = db.index("t_id");
      const mine = btVacInfoOf(db.openIndex("t_id").ctx);
      const theirs = btVacInfoOf(other.openIndex("t_id").ctx);
      const c1 = btStartVacuum(mine, index);
      expect(btVacuumCycleId(theirs, other.index("t_id"))).toBe(c1);
      expect(() => btStartVacuum(theirs, other.index("t_id"))).toThrow(
        'multiple active vacuums for index "t_id"',
      );
      btEndVacuum(mine, index);
      expect(btVacuumCycleId(theirs, other.index("t_id"))).toBe(0);
      const c2 = btStartVacuum(theirs, other.index("t_id"));
      // The counter is shared and moved on (the refused start took a value too, as in PostgreSQL).
      expect(c2).not.toBe(c1);
      expect(c2).toBeGreaterThan(0);
      expect(c2).toBeLessThanOrEqual(0xff7f);
      btEndVacuum(theirs, other.index("t_id"));
      expect(mine.activeVacuums()).toEqual([]);
    } finally {
      other.close();
      db.close();
    }
  });

  it("gives the cycle id back when btbulkdelete throws", () => {
    const db = setup("memory");
    try {
      const dead = deleteWhere(db, (id) => id % 20 === 0);
      // The buffers the scan held are released as the Database's error clean-up releases them.
      const mark = db.pool.resourceMark();
      expect(() =>
        bulkDelete(db, (tid) => {
          if (dead.has(`${tid.block},${tid.offset}`)) throw new PgsimError("test", "stop");
          return false;
        }),
      ).toThrow("stop");
      db.pool.errorCleanup(mark);
      expect(btVacInfoOf(db.openIndex("t_id").ctx).activeVacuums()).toEqual([]);
      // A VACUUM of the index can run again.
      expect(bulkDelete(db, (tid) => dead.has(`${tid.block},${tid.offset}`)).tuplesRemoved).toBe(
        dead.size,
      );
    } finally {
      db.close();
    }
  });

  it("removes the entry of a backend that died in the middle of a VACUUM (CleanupBackend)", () => {
    const db = setup("memory");
    // A backend that will "die": it is never closed, only cleaned up after.
    const other = db.attachAnother();
    try {
      const theirs = btVacInfoOf(other.openIndex("t_id").ctx);
      btStartVacuum(theirs, other.index("t_id"));
      expect(btVacInfoOf(db.openIndex("t_id").ctx).activeVacuums()).toMatchObject([
        { relNumber: db.index("t_id").locator.relNumber, procNumber: theirs.procNumber },
      ]);
      // Its thread is gone without closing: the clean-up after it frees the index.
      Database.recoverBackend(db.shared, theirs.procNumber);
      expect(btVacInfoOf(db.openIndex("t_id").ctx).activeVacuums()).toEqual([]);
      expect(btVacuumCycleId(btVacInfoOf(db.openIndex("t_id").ctx), db.index("t_id"))).toBe(0);
      expect(() =>
        btStartVacuum(btVacInfoOf(db.openIndex("t_id").ctx), db.index("t_id")),
      ).not.toThrow();
    } finally {
      db.close();
    }
  });
});
