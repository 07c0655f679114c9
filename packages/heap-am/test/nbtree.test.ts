// nbtree without PostgreSQL: index tuple bytes (the verified examples of the reference), posting
// lists and suffix truncation, what CREATE INDEX indexes (HOT chains by root TID, dead and
// recently dead tuples), the errors of createIndex, the life cycle with TRUNCATE and DROP, and the
// structural checker catching corrupted pages. The page-for-page comparison with PostgreSQL 15 is
// test/nbtree-build-pg15.test.ts.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cmpNumeric } from "../src/access/nbtree/nbtcompare.js";
import { Database, type PgsimError, runInspect } from "../src/index.js";
import {
  btFormPosting,
  btIndexCheck,
  btInsert,
  btTruncate,
  buildBtIndexRelation,
  createTupleDesc,
  indexDeformTuple,
  indexFormTuple,
  itemIdGetOffset,
  liveIndexPages,
  makeItemId,
  pageGetItemId,
  pageGetLsn,
  pageSetItemId,
  type TableDefinition,
} from "../src/internals.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function tableDef(columns: { name: string; type: string }[]): TableDefinition {
  return {
    relNumber: 16384,
    name: "t",
    columns,
    am: "memheap",
    fillfactor: 100,
    indexedColumns: [],
  };
}

function indexRel(columns: { name: string; type: string }[], keys = columns.map((c) => c.name)) {
  return buildBtIndexRelation(
    {
      relNumber: 16385,
      name: "t_idx",
      table: "t",
      am: "btree",
      columns: keys.map((name) => ({ name })),
      unique: false,
      fillfactor: 90,
      deduplicateItems: true,
    },
    tableDef(columns),
  );
}

describe("index tuples (index_form_tuple, posting lists, _bt_truncate)", () => {
  it("form the bytes PostgreSQL 15 stores (reference §12.6)", () => {
    const int4 = createTupleDesc([{ name: "a", type: "int4" }]);
    expect(hex(indexFormTuple(int4, [1], { block: 0, offset: 1 }))).toBe(
      "0000000001001000" + "0100000000000000",
    );
    // NULL: t_info 0x8010, a 4-byte bitmap with bit 0 clear, data at 16.
    expect(hex(indexFormTuple(int4, [null], { block: 0, offset: 2 }))).toBe(
      "0000000002001080" + "0000000000000000",
    );
    const text = createTupleDesc([{ name: "t", type: "text" }]);
    expect(hex(indexFormTuple(text, ["a1040"], { block: 8, offset: 94 }))).toBe(
      "000008005e001040" + "0d61313034300000",
    );
    expect(indexDeformTuple(text, indexFormTuple(text, ["a1040"]), 0, 16)).toEqual(["a1040"]);
  });

  it("refuse a key PostgreSQL would compress, and name the limit", () => {
    const text = createTupleDesc([{ name: "t", type: "text" }]);
    expect(indexFormTuple(text, ["a".repeat(506)]).length).toBe(520);
    expect(() => indexFormTuple(text, ["b".repeat(507)])).toThrow(/over 510 bytes/);
  });

  it("a posting list of two NULL keys has t_info 0xA020 and ctid (16, 8194)", () => {
    const int4 = createTupleDesc([{ name: "a", type: "int4" }]);
    const base = indexFormTuple(int4, [null], { block: 0, offset: 1 });
    const p = btFormPosting(base, [
      { block: 0, offset: 1 },
      { block: 0, offset: 2 },
    ]);
    expect(hex(p)).toBe(
      "00001000022020a0" + "00000000" + "00000000" + "000000000100" + "000000000200" + "00000000",
    );
    // One TID gives back a plain tuple.
    expect(hex(btFormPosting(base, [{ block: 3, offset: 4 }]))).toBe(
      "0000030004001080" + "0000000000000000",
    );
  });

  it("_bt_truncate keeps the distinguishing attributes, or all of them and lastleft's heap TID", () => {
    const cols = [
      { name: "a", type: "int4" },
      { name: "b", type: "int8" },
    ];
    const rel = indexRel(cols);
    const tup = (a: number, b: bigint, offset: number) =>
      indexFormTuple(rel.desc, [a, b], { block: 7, offset });
    // Equal on a: both attributes kept, no heap TID (reference §12.5, item 2).
    expect(hex(btTruncate(rel, tup(1, 100n, 1), tup(1, 159n, 2)))).toBe(
      "0000070002001820" + "0100000000000000" + "9f00000000000000",
    );
    // Different a: b is cut (natts 1), the block of firstright's t_tid is left as it was.
    expect(hex(btTruncate(rel, tup(4, 1n, 1), tup(5, 2n, 2)))).toBe(
      "0000070001001020" + "0500000000000000",
    );
    // All equal: a heap TID pivot, 8 bytes longer, with lastleft's TID.
    expect(hex(btTruncate(rel, tup(5, 2n, 3), tup(5, 2n, 9)))).toBe(
      "0000070002102020" + "0500000000000000" + "0200000000000000" + "0000" + "000007000300",
    );
  });
});

/** Rows (id, v, note) on a fresh table "t". */
function fill(db: Database, rows: (number | string | null)[][]) {
  db.createTable("t", [
    { name: "id", type: "int4" },
    { name: "v", type: "int4" },
    { name: "note", type: "text" },
  ]);
  const tx = db.begin();
  const tids = tx.insertRows("t", rows);
  tx.commit();
  return tids;
}

for (const { am, variant } of HEAP_AMS) {
  describe(`[${am}] CREATE INDEX`, () => {
    it("an empty table gives a one-block index: the metapage with no root", () => {
      const db = makeDb(variant, 64);
      fill(db, []);
      const r = db.createIndex("t_id", "t", { columns: ["id"] });
      expect(r).toMatchObject({ pages: 1, root: 0, level: 0, indexTuples: 0 });
      expect(db.btMetap("t_id")).toEqual({
        magic: 0x053162,
        version: 4,
        root: 0,
        level: 0,
        fastroot: 0,
        fastlevel: 0,
        last_cleanup_num_delpages: 0,
        last_cleanup_num_tuples: -1,
        allequalimage: true,
      });
      db.close();
    });

    it("indexes a HOT chain under its root TID, skips dead tuples and keeps recently dead ones", () => {
      const db = makeDb(variant, 64);
      const tids = fill(db, [
        [1, 10, "a"],
        [2, 20, "b"],
        [3, 30, "c"],
        [4, 40, "d"],
      ]);
      let tx = db.begin();
      // No index yet: a HOT update, the new version at (0,5) is heap-only.
      const newTid = tx.update("t", tids[0]!, [1, 11, "a"]);
      expect(newTid).toEqual({ block: 0, offset: 5 });
      tx.delete("t", tids[1]!);
      tx.commit();
      // Another backend's snapshot still sees row 3: after its delete it is recently dead.
      const other = db.attachAnother();
      const reader = other.begin({ isolation: "repeatable read" });
      expect(reader.scan("t")).toHaveLength(3);
      tx = db.begin();
      tx.delete("t", tids[2]!);
      tx.commit();
      const r = db.createIndex("t_id", "t", { columns: ["id"] });
      // Live: 1 (via its new version) and 4; recently dead: 3; dead: 2 and 1's old version.
      expect(r.heapTuples).toBe(2);
      expect(r.indexTuples).toBe(3);
      const items = db.btPageItems("t_id", 1);
      expect(items.map((i) => [i.data, i.htid])).toEqual([
        ["01 00 00 00 00 00 00 00", "(0,1)"],
        ["03 00 00 00 00 00 00 00", "(0,3)"],
        ["04 00 00 00 00 00 00 00", "(0,4)"],
      ]);
      reader.commit();
      other.close();
      db.close();
    });

    it("deduplicates equal keys into posting lists, unless the index is unique or dedup is off", () => {
      const db = makeDb(variant, 256);
      fill(
        db,
        Array.from({ length: 600 }, (_, i) => [i, i % 3, null]),
      );
      db.createIndex("t_v", "t", { columns: ["v"] });
      const items = db.btPageItems("t_v", 1);
      // 600 TIDs in posting lists of at most 132 int4 TIDs (812 bytes), all on one leaf.
      expect(items.every((i) => i.tids !== null && i.tids.length <= 132)).toBe(true);
      expect(items.reduce((n, i) => n + i.tids!.length, 0)).toBe(600);
      db.createIndex("t_v_plain", "t", { columns: ["v"], deduplicateItems: false });
      expect(db.btIndexCheck("t_v_plain").leafTuples).toBe(600);
      expect(db.btIndexCheck("t_v").heapTids).toBe(600);
      db.close();
    });

    it("refuses bad definitions with typed errors", () => {
      const db = makeDb(variant, 64);
      fill(db, [
        [1, 1, "x"],
        [1, 2, "y"],
        [null, 3, "z"],
        [null, 4, "w"],
      ]);
      const code = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return [(e as PgsimError).code, (e as Error).message];
        }
        return undefined;
      };
      expect(code(() => db.createIndex("u", "t", { columns: ["id"], unique: true }))).toEqual([
        "unique-violation",
        'could not create unique index "u"',
      ]);
      try {
        db.createIndex("u", "t", { columns: ["id"], unique: true });
      } catch (e) {
        expect((e as PgsimError).detail).toEqual({ detail: "Key (id)=(1) is duplicated." });
      }
      // The failed build left nothing behind; NULLs never conflict.
      expect(db.indexes("t")).toEqual([]);
      expect(db.createIndex("u", "t", { columns: ["v"], unique: true }).indexTuples).toBe(4);
      expect(code(() => db.createIndex("u", "t", { columns: ["v"] }))?.[0]).toBe("duplicate-table");
      expect(code(() => db.createIndex("t", "t", { columns: ["v"] }))?.[0]).toBe("duplicate-table");
      expect(code(() => db.createIndex("n", "t", { columns: ["nope"] }))).toEqual([
        "undefined-column",
        'column "nope" does not exist',
      ]);
      expect(code(() => db.createIndex("n", "t", { columns: ["v"], fillfactor: 5 }))?.[1]).toBe(
        'value 5 out of bounds for option "fillfactor": valid values are between "10" and "100"',
      );
      db.createTable("f", [{ name: "x", type: "float8" }]);
      const [c, message] = code(() => db.createIndex("f_x", "f", { columns: ["x"] }))!;
      expect(c).toBe("unsupported-index-type");
      expect(message).toMatch(/float8 .* supported key types: bool, int2, int4, int8, oid, text/);
      db.close();
    });

    it("TRUNCATE empties the index under a new relfilenode; DROP TABLE drops it", () => {
      const db = makeDb(variant, 64);
      fill(db, [[1, 1, "x"]]);
      db.createIndex("t_id", "t", { columns: ["id"] });
      const before = db.index("t_id").locator.relNumber;
      expect(db.indexNblocks("t_id")).toBe(2);
      db.truncateTable("t");
      expect(db.index("t_id").locator.relNumber).not.toBe(before);
      expect(db.indexNblocks("t_id")).toBe(1);
      expect(db.btMetap("t_id").root).toBe(0);
      db.dropTable("t");
      expect(db.indexes()).toEqual([]);
      expect(() => db.index("t_id")).toThrow('relation "t_id" does not exist');
      db.close();
    });
  });
}

describe("an index survives a clean shutdown", () => {
  for (const variant of ["disk", "memory"] as const) {
    it(`[${variant === "disk" ? "heap" : "memheap"}] its catalog entry and pages come back on open`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-"));
      try {
        const db = Database.create(
          variant === "disk"
            ? { variant, bufferCount: 64, dataDir: dir }
            : { variant, bufferCount: 64, dataDir: dir, persistence: "snapshot" },
        );
        fill(
          db,
          Array.from({ length: 2000 }, (_, i) => [i, i % 9, null]),
        );
        db.createIndex("t_v", "t", { columns: ["v", "id"] });
        const before = [db.btMetap("t_v"), db.btPageItems("t_v", 2)];
        db.shutdown();
        const again = Database.open(dir, { bufferCount: 64 });
        expect([again.btMetap("t_v"), again.btPageItems("t_v", 2)]).toEqual(before);
        expect(again.btIndexCheck("t_v").heapTids).toBe(2000);
        again.shutdown();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("with WAL, the build logs every page", () => {
  it("[heap] crash recovery restores the index (XLOG_FPI per page, as log_newpage)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-"));
    try {
      // A pool too small to hold the index: pages are written and evicted during the build.
      const db = Database.create({ variant: "disk", bufferCount: 16, dataDir: dir });
      fill(
        db,
        Array.from({ length: 2000 }, (_, i) => [i, i % 9, null]),
      );
      db.createIndex("t_id", "t", { columns: ["id"] });
      const before = [db.btMetap("t_id"), db.btPageItems("t_id", 3)];
      // Every page of the index carries the LSN of its XLOG_FPI record.
      const lsns = liveIndexPages(db.pool, db.index("t_id")).map((p) => pageGetLsn(p));
      expect(lsns.every((lsn) => lsn > 0n)).toBe(true);
      db.close(); // no checkpoint: a crash
      const again = Database.open(dir, { bufferCount: 16 });
      expect(again.startupReport?.recovered).toBe(true);
      expect([again.btMetap("t_id"), again.btPageItems("t_id", 3)]).toEqual(before);
      expect(again.btIndexCheck("t_id")).toMatchObject({ levels: 2, heapTids: 2000 });
      again.shutdown();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("btInsert", () => {
  it("fills the first root leaf, then splits it when the 408th tuple does not fit", () => {
    const db = makeDb("memory", 64);
    fill(db, []);
    db.createIndex("t_id", "t", { columns: ["id"] });
    db.createIndex("t_u", "t", { columns: ["v"], unique: true });
    const index = db.index("t_id");
    const insert = (n: number) =>
      btInsert({
        pool: db.pool,
        index,
        tableName: "t",
        values: [n],
        tid: { block: n >> 8, offset: (n & 0xff) + 1 },
      });
    // Keys in descending order: each goes in front (offset 1), line pointers shift.
    // 8152 usable bytes hold 407 tuples of 16 bytes with their line pointers.
    for (let n = 0; n < 407; n++) {
      expect(insert(1000 - n)).toMatchObject({ block: 1, offset: 1, postingoff: 0, splits: [] });
    }
    expect(db.btMetap("t_id")).toMatchObject({ root: 1, level: 0, fastroot: 1 });
    expect(db.btPageStats("t_id", 1)).toMatchObject({ type: "l", live_items: 407, btpo_flags: 3 });
    // The leftmost leaf is the root (rightmost too): a 90% split, then a new root at block 3.
    const r = insert(593);
    expect(r).toMatchObject({ block: 1, newRoot: true });
    expect(r.splits).toEqual([
      // The new item and 365 old ones (366 items, 90%) stay left.
      { level: 0, left: 1, right: 2, firstrightoff: 366, newitemonleft: true },
    ]);
    expect(db.btMetap("t_id")).toMatchObject({ root: 3, level: 1, fastroot: 3 });
    expect(db.btIndexCheck("t_id").heapTids).toBe(408);
    expect(() =>
      btInsert({
        pool: db.pool,
        index: db.index("t_u"),
        tableName: "t",
        values: [1],
        tid: { block: 0, offset: 1 },
      }),
    ).toThrow('inserting into unique index "t_u" is not supported yet');
    db.close();
  });
});

describe("pgsim-inspect decodes a B-tree index file", () => {
  it("bt-metap, bt-page-stats and bt-page-items print what the live functions return", () => {
    const db = makeDb("disk", 64);
    fill(
      db,
      Array.from({ length: 1200 }, (_, i) => [i, i % 4, `row ${i}`]),
    );
    db.createIndex("t_note", "t", { columns: [{ name: "note", desc: true }, "v"] });
    db.createIndex("t_v", "t", { columns: ["v"] });
    db.checkpoint();
    const dataDir = db.shared.pool.dataDir!;
    const file = (name: string, relNumber: number) =>
      path.join(dataDir, "base", "5", String(relNumber)) + (name === "" ? "" : name);
    for (const index of ["t_note", "t_v"]) {
      const f = file("", db.index(index).locator.relNumber);
      const json = (args: string[]) => {
        const r = runInspect([...args, f, "--json"]);
        expect(r.stderr).toBe("");
        expect(r.exitCode).toBe(0);
        return JSON.parse(r.stdout) as unknown;
      };
      expect(json(["bt-metap"])).toEqual(db.btMetap(index));
      const n = db.indexNblocks(index);
      const blocks = Array.from({ length: n - 1 }, (_, i) => i + 1);
      expect(json(["bt-page-stats"])).toEqual(blocks.map((b) => db.btPageStats(index, b)));
      expect(json(["bt-page-items"])).toEqual(
        blocks.map((b) => ({ block: b, items: db.btPageItems(index, b) })),
      );
    }
    // The text form is psql's table.
    const text = runInspect(
      ["bt-page-items", file("", db.index("t_v").locator.relNumber), "--block", "1"],
      {
        stdoutIsTTY: true,
      },
    ).stdout;
    expect(text).toMatch(/^block 1:\n itemoffset \| +ctid +\| itemlen \|/);
    expect(text).toMatch(/\{"\(0,1\)","\(0,5\)",/);
    // A heap file is not an index file, and the other way round.
    const heap = runInspect(["bt-page-items", file("", db.table("t").locator.relNumber)]);
    expect(heap.exitCode).toBe(1);
    expect(heap.stderr).toContain("block 0: not a B-tree index page");
    const idx = runInspect(["heap-page-items", file("", db.index("t_v").locator.relNumber)]);
    expect(idx.stderr).toContain("looks like a B-tree index page");
    db.close();
  });
});

describe("the structural check (amcheck's invariants) catches corrupted pages", () => {
  const db = makeDb("memory", 512);
  fill(
    db,
    Array.from({ length: 3000 }, (_, i) => [(i * 7919) % 3000, i % 5, `n${i}`]),
  );
  db.createIndex("t_id", "t", { columns: ["id"] });
  db.createIndex("t_v_id", "t", { columns: ["v", { name: "id", desc: true }] });
  const rel = db.index("t_id");
  const clean = () => liveIndexPages(db.pool, rel).map((p) => p.slice());

  it("a freshly built index passes", () => {
    expect(db.btIndexCheck("t_id")).toMatchObject({ levels: 2, heapTids: 3000, leafTuples: 3000 });
    expect(db.btIndexCheck("t_v_id").heapTids).toBe(3000);
  });

  const corruptions: [string, (pages: Uint8Array[]) => void, RegExp, boolean?][] = [
    [
      "two items swapped on a leaf",
      (pages) => {
        const p = pages[1]!;
        const a = pageGetItemId(p, 5);
        pageSetItemId(p, 5, pageGetItemId(p, 6));
        pageSetItemId(p, 6, a);
      },
      /item order invariant violated/,
    ],
    [
      "a key above the leaf's high key",
      (pages) => {
        const p = pages[1]!;
        p[itemIdGetOffset(pageGetItemId(p, 100)) + 8] = 0xff;
        p[itemIdGetOffset(pageGetItemId(p, 100)) + 9] = 0x7f;
      },
      /item order invariant violated|high key invariant violated/,
    ],
    [
      "a broken left link",
      (pages) => {
        pages[2]!.set([9, 0, 0, 0], 8176);
      },
      /left link\/right link pair in index "t_id" not in agreement/,
    ],
    [
      "a tuple size that disagrees with lp_len",
      (pages) => {
        const p = pages[1]!;
        const id = pageGetItemId(p, 3);
        pageSetItemId(p, 3, makeItemId(itemIdGetOffset(id), 1, 24));
      },
      /index tuple size does not equal lp_len/,
    ],
    [
      "a leaf with the wrong level (parent check)",
      (pages) => {
        pages[1]!.set([1, 0, 0, 0], 8184);
      },
      /downlink to block 1 of index "t_id" has the wrong level/,
    ],
    [
      "a leaf with the wrong level (bt_index_check)",
      (pages) => {
        pages[1]!.set([1, 0, 0, 0], 8184);
      },
      /invalid leaf page level 1 for block 1/,
      false,
    ],
    [
      "a parent pivot that no longer equals the child's high key",
      (pages) => {
        const root = pages[db.btMetap("t_id").root]!;
        const t = itemIdGetOffset(pageGetItemId(root, 3));
        root[t + 8] = (root[t + 8]! + 1) & 0xff;
      },
      /mismatch between parent key and child high key/,
    ],
  ];
  for (const [what, damage, message, parent] of corruptions) {
    it(`finds ${what}`, () => {
      const pages = clean();
      const options = { parent: parent ?? true };
      expect(() => btIndexCheck(rel, pages, options)).not.toThrow();
      damage(pages);
      expect(() => btIndexCheck(rel, pages, options)).toThrow(message);
    });
  }
});

describe("numeric_ops (cmp_numerics)", () => {
  it("orders numerically, ignores display scale, puts -Infinity first and NaN last", () => {
    const sorted = [
      "-Infinity",
      "-1e3",
      "-999.5",
      "-0.0001",
      "0",
      "0.000",
      "1e-5",
      "0.5",
      "1",
      "1.00",
      " +2.50 ",
      "10",
      "123456789012345678901234567890.5",
      "Infinity",
      "NaN",
    ];
    for (let i = 0; i < sorted.length; i++) {
      for (let j = 0; j < sorted.length; j++) {
        const c = cmpNumeric(sorted[i]!, sorted[j]!);
        const equal = new Set(["0|0.000", "0.000|0", "1|1.00", "1.00|1"]);
        const want = i === j || equal.has(`${sorted[i]}|${sorted[j]}`) ? 0 : i < j ? -1 : 1;
        expect(Math.sign(c), `${sorted[i]} vs ${sorted[j]}`).toBe(want);
      }
    }
    expect(() => cmpNumeric("1.2.3", "1")).toThrow(
      'invalid input syntax for type numeric: "1.2.3"',
    );
  });
});
