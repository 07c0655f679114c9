// CREATE INDEX on a filled table, byte for byte against a real PostgreSQL 15 (issue 16, must-show 1,
// CREATE INDEX part). Each table is created and filled in a private PostgreSQL 15 cluster with
// generate_series, read back in ctid order, and inserted row by row into pgsim in that order (the
// same rows in the same order on both, so every heap TID matches). Then each CREATE INDEX runs on
// both, and every page of every index must be equal: bt_metap, bt_page_stats and bt_page_items row
// for row, and the raw page bytes with only pd_lsn masked (no xids appear on these pages). The
// cases cover sorted and random key order, duplicates that deduplicate (and the same with
// deduplicate_items off), unique indexes, text keys of varied lengths, NULLs, DESC and NULLS
// FIRST/LAST, multi-column keys with suffix truncation, a three-level tree, and the other key types
// pgsim supports; one case also runs on the disk-backed variant, where pgsim-inspect decodes
// PostgreSQL's index file and pgsim's alike. Then insertion that needs no page split (btInsert: the
// first root of an empty index; new entries in a built index, some inside posting lists) is
// compared the same way. Last, the round trip (must-show 2): pgsim's index file replaces
// PostgreSQL's, and amcheck's bt_index_parent_check(heapallindexed, rootdescend) passes and index
// scans answer from it. Indexes grown by inserts (must-show 1, insertion part): ten indexes are
// created on an empty table on both sides and grown by three INSERTs of 6000 rows — sorted,
// seeded random and descending-into-DESC key order, duplicates that deduplicate (and not, with
// deduplicate_items off), pages full of one value, text keys of varied lengths, NULLs, multi-column keys, a three-level
// tree — pgsim calling btInsert per heap tuple as ExecInsertIndexTuples would; every page must be
// equal, and the grown files pass amcheck under PostgreSQL.
//
// PostgreSQL 15 is required: this test never skips.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type CreateIndexOptions,
  Database,
  lookupType,
  makeSlot,
  runInspect,
  tableTupleInsert,
} from "@pgsim/heap-am";
import { type BtPageItemRow, type BtPageStatsRow, btInsert } from "@pgsim/heap-am/internals";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firstPageDifference, Pg15Sql, simIndexPages } from "./pg15-sql.js";

const pg15 = new Pg15Sql({
  cluster: {
    dataChecksums: false,
    settings: { autovacuum: "off", fsync: "off", full_page_writes: "off" },
  },
  extensions: ["pageinspect", "amcheck"],
});
const dirs: string[] = [];

beforeAll(() => pg15.start(), 120_000);

afterAll(async () => {
  await pg15.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const pgc = () => pg15.cluster;

/** Runs SQL on the cluster; rows as arrays of text (null for NULL). */
const q = (sql: string) => pg15.q(sql);

interface Column {
  name: string;
  type: string;
}

interface IndexCase {
  name: string;
  /** The CREATE INDEX text after `ON table`, e.g. "(id DESC)". */
  sql: string;
  options: CreateIndexOptions;
}

interface TableCase {
  table: string;
  columns: Column[];
  /** SELECT list over g (generate_series(1, rows)), one expression per column. */
  exprs: string[];
  rows: number;
  fillfactor?: number;
  indexes: IndexCase[];
}

/** A permutation of 1..n (7919 is prime and divides none of the n used here). */
const perm = (n: number) => `((g::int8 * 7919) % ${n} + 1)::int4`;

const CASES: TableCase[] = [
  {
    table: "ints",
    columns: [
      { name: "id", type: "int4" },
      { name: "r", type: "int4" },
      { name: "v", type: "int4" },
      { name: "big", type: "int8" },
    ],
    exprs: [
      "g",
      perm(10_000),
      "CASE WHEN g % 13 = 0 THEN NULL ELSE g % 10 END",
      "(g % 500)::int8 * 1000000007",
    ],
    rows: 10_000,
    indexes: [
      { name: "ints_pkey", sql: "(id)", options: { columns: ["id"], unique: true } },
      { name: "ints_r", sql: "(r)", options: { columns: ["r"] } },
      { name: "ints_v", sql: "(v)", options: { columns: ["v"] } },
      {
        name: "ints_v_nodedup",
        sql: "(v) WITH (deduplicate_items = off)",
        options: { columns: ["v"], deduplicateItems: false },
      },
      {
        name: "ints_v_desc",
        sql: "(v DESC NULLS LAST, r)",
        options: { columns: [{ name: "v", desc: true, nullsFirst: false }, "r"] },
      },
      {
        name: "ints_v_nf",
        sql: "(v NULLS FIRST) WITH (fillfactor = 70)",
        options: { columns: [{ name: "v", nullsFirst: true }], fillfactor: 70 },
      },
      { name: "ints_big_v", sql: "(big, v)", options: { columns: ["big", "v"] } },
      {
        name: "ints_id_desc",
        sql: "(id DESC) WITH (fillfactor = 100)",
        options: { columns: [{ name: "id", desc: true }], fillfactor: 100 },
      },
    ],
  },
  {
    table: "texts",
    columns: [
      { name: "id", type: "int4" },
      { name: "t", type: "text" },
      { name: "w", type: "varchar" },
      { name: "k", type: "int4" },
    ],
    exprs: [
      "g",
      // Varied lengths (2..95 characters), random order, and NULLs.
      `CASE WHEN g % 17 = 0 THEN NULL ELSE repeat(chr(97 + (g * 31) % 26), (g * 17) % 90 + 1) || ${perm(6000)} END`,
      // Long keys (4-byte varlena headers from 127 bytes on), for a three-level tree.
      `lpad(${perm(6000)}::text, 100 + g % 40, 'x')`,
      "g % 7",
    ],
    rows: 6000,
    fillfactor: 90,
    indexes: [
      { name: "texts_t", sql: "(t)", options: { columns: ["t"] } },
      {
        name: "texts_t_desc",
        sql: "(t DESC, k)",
        options: { columns: [{ name: "t", desc: true }, "k"] },
      },
      { name: "texts_w", sql: "(w)", options: { columns: ["w"] } },
      { name: "texts_k_t", sql: "(k, t)", options: { columns: ["k", "t"] } },
      {
        name: "texts_k_w",
        sql: "(k, w) WITH (fillfactor = 50)",
        options: { columns: ["k", "w"], fillfactor: 50 },
      },
    ],
  },
  {
    table: "kinds",
    columns: [
      { name: "b", type: "bool" },
      { name: "s", type: "int2" },
      { name: "d", type: "date" },
      { name: "ts", type: "timestamp" },
      { name: "tz", type: "timestamptz" },
      { name: "u", type: "uuid" },
    ],
    exprs: [
      "g % 3 = 0",
      "(g % 300 - 150)::int2",
      "date '2000-01-01' + (g * 37) % 4000 - 1000",
      "timestamp '2001-02-03 04:05:06' + ((g * 101) % 997) * interval '1 hour 1 second'",
      "timestamptz '2001-02-03 04:05:06+00' + ((g * 13) % 50) * interval '1 day'",
      "md5(((g * 7) % 3000)::text)::uuid",
    ],
    rows: 6000,
    indexes: [
      {
        name: "kinds_b_s",
        sql: "(b, s DESC)",
        options: { columns: ["b", { name: "s", desc: true }] },
      },
      { name: "kinds_d", sql: "(d)", options: { columns: ["d"] } },
      { name: "kinds_ts_tz", sql: "(ts, tz)", options: { columns: ["ts", "tz"] } },
      { name: "kinds_u", sql: "(u)", options: { columns: ["u"] } },
    ],
  },
  {
    // numeric: short and long headers, negative weights, equal values with different display
    // scales (1.5 and 1.50: equal keys, different bytes), NaN and ±Infinity; numeric_ops is not
    // equal-image, so nothing is deduplicated and the metapage says allequalimage = false.
    table: "numerics",
    columns: [
      { name: "id", type: "int4" },
      { name: "n", type: "numeric" },
      { name: "m", type: "numeric" },
    ],
    exprs: [
      "g",
      "CASE WHEN g % 97 = 0 THEN 'NaN'::numeric WHEN g % 89 = 0 THEN 'Infinity'::numeric " +
        "WHEN g % 83 = 0 THEN '-Infinity'::numeric WHEN g % 79 = 0 THEN NULL " +
        "ELSE round(((g * 7919) % 2000 - 1000)::numeric / 8, g % 4) END",
      "((g % 50) * 123456789.0123)::numeric * power(10::numeric, (g % 7) - 3)",
    ],
    rows: 5000,
    indexes: [
      { name: "numerics_n", sql: "(n)", options: { columns: ["n"] } },
      {
        name: "numerics_m_desc",
        sql: "(m DESC, id)",
        options: { columns: [{ name: "m", desc: true }, "id"] },
      },
    ],
  },
];

async function loadBoth(db: Database, c: TableCase): Promise<void> {
  await q(
    `CREATE TABLE ${c.table} (${c.columns.map((x) => `${x.name} ${x.type}`).join(", ")}) ` +
      `WITH (autovacuum_enabled = off${c.fillfactor === undefined ? "" : `, fillfactor = ${c.fillfactor}`});` +
      `INSERT INTO ${c.table} SELECT ${c.exprs.join(", ")} FROM generate_series(1, ${c.rows}) g;`,
  );
  const text = await q(
    `SELECT ${c.columns.map((x) => x.name).join(", ")} FROM ${c.table} ORDER BY ctid`,
  );
  expect(text.length).toBe(c.rows);
  db.createTable(
    c.table,
    c.columns.map((x) => ({ name: x.name, type: x.type })),
    c.fillfactor === undefined ? {} : { fillfactor: c.fillfactor },
  );
  const codecs = c.columns.map((x) => lookupType(x.type));
  const rows = text.map((r) => r.map((v, i) => (v === null ? null : codecs[i]!.input(v, -1))));
  const tx = db.begin();
  const tids = tx.insertRows(c.table, rows);
  tx.commit();
  // The heap TIDs agree with PostgreSQL's ctids (so must the indexes' TIDs).
  const ctids = await q(`SELECT ctid FROM ${c.table} ORDER BY ctid`);
  expect(tids.map((t) => `(${t.block},${t.offset})`)).toEqual(ctids.map((r) => r[0]));
}

const bool = (v: boolean | null) => (v === null ? null : v ? "t" : "f");

function itemText(r: BtPageItemRow): (string | null)[] {
  return [
    String(r.itemoffset),
    r.ctid,
    String(r.itemlen),
    bool(r.nulls),
    bool(r.vars),
    r.data,
    bool(r.dead),
    r.htid,
    r.tids === null ? null : `{${r.tids.map((t) => `"${t}"`).join(",")}}`,
  ];
}

function statsText(s: BtPageStatsRow): string[] {
  return [
    s.blkno,
    s.type,
    s.live_items,
    s.dead_items,
    s.avg_item_size,
    s.page_size,
    s.free_size,
    s.btpo_prev,
    s.btpo_next,
    s.btpo_level,
    s.btpo_flags,
  ].map(String);
}

async function compareIndex(
  db: Database,
  ix: IndexCase,
): Promise<{ pages: number; level: number }> {
  const [[nblocks]] = (await q(`SELECT pg_relation_size('${ix.name}') / 8192`)) as [[string]];
  const sim = simIndexPages(db, ix.name);
  expect(sim.length, `${ix.name}: blocks`).toBe(Number(nblocks));

  const meta = await q(`SELECT * FROM bt_metap('${ix.name}')`);
  const m = db.btMetap(ix.name);
  expect(
    [
      m.magic,
      m.version,
      m.root,
      m.level,
      m.fastroot,
      m.fastlevel,
      m.last_cleanup_num_delpages,
      m.last_cleanup_num_tuples,
      bool(m.allequalimage),
    ].map(String),
    `${ix.name}: bt_metap`,
  ).toEqual(meta[0]);

  if (sim.length > 1) {
    const stats = await q(
      `SELECT s.* FROM generate_series(1, ${sim.length - 1}) b, bt_page_stats('${ix.name}', b) s ORDER BY b`,
    );
    const simStats = sim.slice(1).map((_, i) => statsText(db.btPageStats(ix.name, i + 1)));
    expect(simStats, `${ix.name}: bt_page_stats`).toEqual(stats);

    const items = await q(
      `SELECT b, i.* FROM generate_series(1, ${sim.length - 1}) b, bt_page_items('${ix.name}', b) i ORDER BY b, i.itemoffset`,
    );
    const byBlock = new Map<string, (string | null)[][]>();
    for (const r of items) byBlock.set(r[0]!, [...(byBlock.get(r[0]!) ?? []), r.slice(1)]);
    // Compared block by block so that a failure names the first differing page.
    for (let b = 1; b < sim.length; b++) {
      const got = db.btPageItems(ix.name, b).map(itemText);
      expect(got, `${ix.name}: bt_page_items of block ${b}`).toEqual(byBlock.get(String(b)) ?? []);
    }
  }

  const raw = await q(
    `SELECT encode(get_raw_page('${ix.name}', b::int8), 'hex') FROM generate_series(0, ${sim.length - 1}) b ORDER BY b`,
  );
  for (let b = 0; b < sim.length; b++) {
    const pgPage = Buffer.from(raw[b]![0]!, "hex");
    const at = firstPageDifference(sim[b]!, pgPage);
    expect(at, `${ix.name}: block ${b} first differs at byte ${at}`).toBe(-1);
  }
  return { pages: sim.length, level: m.level };
}

describe("CREATE INDEX builds PostgreSQL 15's B-tree pages, byte for byte", () => {
  for (const c of CASES) {
    it(`[memory] ${c.table}: ${c.indexes.map((i) => i.name).join(", ")}`, async () => {
      const db = Database.create({ variant: "memory", bufferCount: 4096 });
      try {
        await loadBoth(db, c);
        const levels: number[] = [];
        for (const ix of c.indexes) {
          const unique = ix.options.unique === true ? "UNIQUE " : "";
          await q(`CREATE ${unique}INDEX ${ix.name} ON ${c.table} ${ix.sql}`);
          const built = db.createIndex(ix.name, c.table, ix.options);
          const { pages, level } = await compareIndex(db, ix);
          expect(built.pages).toBe(pages);
          // pgsim's structural check (amcheck's invariants) accepts PostgreSQL's tree.
          expect(db.btIndexCheck(ix.name)).toMatchObject({ heapTids: c.rows, levels: level + 1 });
          levels.push(level);
        }
        if (c.table === "texts") expect(Math.max(...levels)).toBeGreaterThanOrEqual(2);
      } finally {
        db.close();
      }
    }, 60_000);
  }

  it("[disk] an index of a heap table lives in its own relation file, with the same bytes", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-"));
    dirs.push(dataDir);
    // A small pool: the index's pages are written out and read back while the build runs.
    const db = Database.create({ variant: "disk", bufferCount: 64, dataDir });
    const c: TableCase = {
      table: "disk_ints",
      columns: [
        { name: "id", type: "int4" },
        { name: "v", type: "int4" },
      ],
      exprs: [perm(5000), "g % 10"],
      rows: 5000,
      indexes: [],
    };
    try {
      await loadBoth(db, c);
      for (const ix of [
        { name: "disk_ints_id", sql: "(id)", options: { columns: ["id"] } },
        { name: "disk_ints_v", sql: "(v)", options: { columns: ["v"] } },
      ]) {
        await q(`CREATE INDEX ${ix.name} ON ${c.table} ${ix.sql}`);
        db.createIndex(ix.name, c.table, ix.options);
        await compareIndex(db, ix);
      }
      db.checkpoint();
      const file = path.join(
        dataDir,
        "base",
        "5",
        String(db.index("disk_ints_id").locator.relNumber),
      );
      expect(fs.statSync(file).size).toBe(db.indexNblocks("disk_ints_id") * 8192);
      // pgsim-inspect decodes PostgreSQL's own index file as pageinspect does, and pgsim's the same.
      await q("CHECKPOINT");
      const pgFile = await pgc().relationFilePath("disk_ints_v");
      const simFile = path.join(
        dataDir,
        "base",
        "5",
        String(db.index("disk_ints_v").locator.relNumber),
      );
      const decoded = (f: string) => {
        const r = runInspect(["bt-page-items", f, "--json"]);
        expect(r.stderr).toBe("");
        return JSON.parse(r.stdout) as unknown;
      };
      const n = db.indexNblocks("disk_ints_v");
      const live = Array.from({ length: n - 1 }, (_, i) => ({
        block: i + 1,
        items: db.btPageItems("disk_ints_v", i + 1),
      }));
      expect(n).toBeGreaterThan(2);
      expect(decoded(pgFile)).toEqual(live);
      expect(decoded(simFile)).toEqual(live);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe("inserting into an index leaves PostgreSQL 15's pages (no page split)", () => {
  /** INSERT on both, then each new row's entry into every index, in index creation order. */
  async function insertBoth(
    db: Database,
    table: string,
    exprs: string[],
    range: { from: number; to: number; insertionOrder: string },
  ) {
    const { from, to } = range;
    await q(
      `INSERT INTO ${table} SELECT ${exprs.join(", ")} FROM generate_series(${from}, ${to}) g`,
    );
    const text = await q(
      `SELECT id, v, ctid FROM ${table} WHERE id BETWEEN ${from} AND ${to} ORDER BY ${range.insertionOrder}`,
    );
    const rows = text.map((r) => [Number(r[0]), r[1] === null ? null : Number(r[1])]);
    // The heap tuples go in through the table AM alone (INSERT would add the index entries
    // itself, through index_insert): the entries are added below with btInsert, to see where
    // each one went.
    const tx = db.begin();
    const rel = db.table(table);
    const tids = rows.map((row) => {
      const slot = makeSlot(row);
      tableTupleInsert(rel, slot, tx.xact);
      return slot.tid!;
    });
    tx.commit();
    expect(tids.map((t) => `(${t.block},${t.offset})`)).toEqual(text.map((r) => r[2]));
    // ExecInsertIndexTuples: after each heap tuple, an entry in every index (RelationGetIndexList
    // order, i.e. by OID: creation order).
    const indexes = db.indexes(table).map((d) => db.index(d.name));
    const postingSplits: number[] = [];
    rows.forEach((row, i) => {
      for (const index of indexes) {
        const values = index.columns.map((c) => row[c.heapAttIndex] ?? null);
        const r = btInsert({ pool: db.pool, index, tableName: table, values, tid: tids[i]! });
        if (r.postingoff !== 0) postingSplits.push(r.postingoff);
      }
    });
    return postingSplits;
  }

  it("[memory] the first root of an empty index, then 300 entries on it", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 256 });
    try {
      const c: TableCase = {
        table: "ins_empty",
        columns: [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ],
        exprs: [],
        rows: 0,
        indexes: [
          {
            name: "ins_empty_v_id",
            sql: "(v DESC, id)",
            options: { columns: [{ name: "v", desc: true }, "id"] },
          },
          { name: "ins_empty_v", sql: "(v)", options: { columns: ["v"] } },
        ],
      };
      await q(`CREATE TABLE ${c.table} (id int4, v int4) WITH (autovacuum_enabled = off)`);
      db.createTable(c.table, c.columns);
      for (const ix of c.indexes) {
        await q(`CREATE INDEX ${ix.name} ON ${c.table} ${ix.sql}`);
        db.createIndex(ix.name, c.table, ix.options);
      }
      await insertBoth(
        db,
        c.table,
        [perm(300), "CASE WHEN g % 11 = 0 THEN NULL ELSE g % 5 END"],
        // A new table's tuples lie in insertion order; the ids are a permutation (random keys).
        { from: 1, to: 300, insertionOrder: "ctid" },
      );
      for (const ix of c.indexes) {
        const { pages } = await compareIndex(db, ix);
        expect(pages).toBe(2);
        expect(db.btIndexCheck(ix.name).heapTids).toBe(300);
      }
    } finally {
      db.close();
    }
  }, 60_000);

  it("[memory] INSERT maintains every index itself (ExecInsertIndexTuples), unique one included", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 256 });
    try {
      const table = "ins_exec";
      await q(
        `CREATE TABLE ${table} (id int4 PRIMARY KEY, v int4) WITH (autovacuum_enabled = off)`,
      );
      db.createTable(
        table,
        [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ],
        { primaryKey: ["id"] },
      );
      const vIndex = { name: "ins_exec_v", sql: "(v)", options: { columns: ["v"] } };
      await q(`CREATE INDEX ${vIndex.name} ON ${table} ${vIndex.sql}`);
      db.createIndex(vIndex.name, table, vIndex.options);
      await q(`INSERT INTO ${table} SELECT (g * 37) % 251, g % 7 FROM generate_series(1, 250) g`);
      const text = await q(`SELECT id, v FROM ${table} ORDER BY ctid`);
      const tx = db.begin();
      tx.insertRows(
        table,
        text.map((r) => [Number(r[0]), Number(r[1])]),
      );
      tx.commit();
      const pkey = { name: `${table}_pkey`, sql: "", options: { columns: ["id"] } };
      for (const ix of [pkey, vIndex]) {
        const { pages } = await compareIndex(db, ix);
        expect(pages).toBe(2);
        expect(db.btIndexCheck(ix.name).heapTids).toBe(250);
      }
      // Both refuse the same duplicate with the same message.
      let pgMessage = "";
      try {
        await q(`INSERT INTO ${table} VALUES (37, 0)`);
      } catch (e) {
        pgMessage = (e as Error).message;
      }
      const dup = db.begin();
      expect(() => dup.insert(table, [37, 0])).toThrow(pgMessage);
      expect(pgMessage).toBe(`duplicate key value violates unique constraint "${table}_pkey"`);
    } finally {
      db.close();
    }
  }, 60_000);

  it("[memory] new entries in a built index, inside posting lists too", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 512 });
    try {
      const c: TableCase = {
        table: "ins_built",
        columns: [
          { name: "id", type: "int4" },
          { name: "v", type: "int4" },
        ],
        exprs: ["g", "g % 10"],
        rows: 3000,
        indexes: [
          { name: "ins_built_v", sql: "(v)", options: { columns: ["v"] } },
          {
            name: "ins_built_id",
            sql: "(id DESC)",
            options: { columns: [{ name: "id", desc: true }] },
          },
        ],
      };
      await loadBoth(db, c);
      // Free heap slots early in the table, so that new rows get TIDs inside posting lists.
      await q(`DELETE FROM ${c.table} WHERE id % 7 = 0`);
      await q(`VACUUM ${c.table}`);
      const tx = db.begin();
      for (const r of tx.scan(c.table))
        if ((r.row[0] as number) % 7 === 0) tx.delete(c.table, r.tid);
      tx.commit();
      db.vacuum(c.table);
      for (const ix of c.indexes) {
        await q(`CREATE INDEX ${ix.name} ON ${c.table} ${ix.sql}`);
        db.createIndex(ix.name, c.table, ix.options);
      }
      const postingSplits = await insertBoth(db, c.table, ["g", "g % 10"], {
        from: 5001,
        to: 5025,
        // Here ctid order is not insertion order (freed slots are reused): id = g is.
        insertionOrder: "id",
      });
      for (const ix of c.indexes) {
        await compareIndex(db, ix);
        expect(db.btIndexCheck(ix.name).heapTids).toBe(3000 - 428 + 25);
      }
      // Some new TIDs went inside existing posting lists (_bt_swap_posting), as in PostgreSQL.
      expect(postingSplits.length).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  }, 60_000);
});

describe("round trip: PostgreSQL 15 uses an index file pgsim built", () => {
  it("amcheck's bt_index_parent_check (heapallindexed, rootdescend) passes and index scans answer from it", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 512 });
    try {
      // PostgreSQL's index exists before the rows, so its own file is grown by inserts and splits;
      // pgsim builds its index with CREATE INDEX on the filled table. Then pgsim's file replaces
      // PostgreSQL's.
      const c: TableCase = {
        table: "rt",
        columns: [
          { name: "id", type: "int4" },
          { name: "t", type: "text" },
        ],
        exprs: [
          perm(4000),
          "CASE WHEN g % 9 = 0 THEN NULL ELSE repeat('x', g % 30) || (g % 50) END",
        ],
        rows: 4000,
        indexes: [],
      };
      await q("CREATE TABLE rt (id int4, t text) WITH (autovacuum_enabled = off)");
      await q("CREATE INDEX rt_t ON rt (t, id DESC)");
      await q(`INSERT INTO rt SELECT ${c.exprs.join(", ")} FROM generate_series(1, ${c.rows}) g`);
      const text = await q("SELECT id, t FROM rt ORDER BY ctid");
      db.createTable("rt", c.columns);
      const tx = db.begin();
      tx.insertRows(
        "rt",
        text.map((r) => [Number(r[0]), r[1] ?? null]),
      );
      tx.commit();
      db.createIndex("rt_t", "rt", { columns: ["t", { name: "id", desc: true }] });
      const pages = simIndexPages(db, "rt_t");
      const pgBlocks = Number((await q("SELECT pg_relation_size('rt_t') / 8192"))[0]![0]);
      // A different file: PostgreSQL's insertions split pages half-full; the build packs them.
      expect(pages.length).not.toBe(pgBlocks);

      const file = await pgc().relationFilePath("rt_t");
      await pg15.stopServer();
      const image = new Uint8Array(pages.length * 8192);
      pages.forEach((p, b) => {
        image.set(p, b * 8192);
        image.fill(0, b * 8192, b * 8192 + 8); // pd_lsn: pgsim's LSNs mean nothing to this cluster
      });
      fs.writeFileSync(file, image);
      await pg15.startServer();

      expect(await q("SELECT pg_relation_size('rt_t') / 8192")).toEqual([[String(pages.length)]]);
      await q("SELECT bt_index_parent_check('rt_t', true, true)");
      // Index scans answer from pgsim's pages (the plan is an index scan; the counts are the heap's).
      await q("SET enable_seqscan = off");
      await q("SET enable_bitmapscan = off");
      const plan = (await q("EXPLAIN SELECT count(*) FROM rt WHERE t = 'xxx3'"))
        .map((r) => r[0])
        .join("\n");
      expect(plan).toMatch(/Index Only Scan using rt_t|Index Scan using rt_t/);
      const expected = text.filter((r) => r[1] === "xxx3").length;
      expect(expected).toBeGreaterThan(0);
      expect(await q("SELECT count(*) FROM rt WHERE t = 'xxx3'")).toEqual([[String(expected)]]);
      expect(await q("SELECT count(*) FROM rt WHERE t IS NULL")).toEqual([
        [String(text.filter((r) => r[1] === null).length)],
      ]);
      const ids = await q("SELECT id FROM rt WHERE t = 'x1' ORDER BY t, id DESC");
      const want = text
        .filter((r) => r[1] === "x1")
        .map((r) => Number(r[0]))
        .sort((a, b) => b - a)
        .map((n) => [String(n)]);
      expect(ids).toEqual(want);
      await q("RESET enable_seqscan");
      await q("RESET enable_bitmapscan");
    } finally {
      db.close();
    }
  }, 60_000);
});

describe("indexes grown by inserts leave PostgreSQL 15's pages: page splits, new roots, deduplication", () => {
  /** Grown on an empty table: the same rows, inserted in the same order, on both. */
  const GROWN: TableCase = {
    table: "grown",
    columns: [
      { name: "id", type: "int4" },
      { name: "rnd", type: "int4" },
      { name: "v", type: "int4" },
      { name: "t", type: "text" },
      { name: "w", type: "varchar" },
      { name: "k", type: "int4" },
      { name: "c", type: "int4" },
    ],
    exprs: [
      "g",
      // Seeded random keys (setseed below), some repeated.
      "(random() * 1000000)::int4",
      "CASE WHEN g % 13 = 0 THEN NULL ELSE g % 10 END",
      `CASE WHEN g % 17 = 0 THEN NULL ELSE repeat(chr(97 + (g * 31) % 26), (g * 17) % 60 + 1) || ${perm(9000)} END`,
      `lpad(${perm(9000)}::text, 100 + g % 40, 'x')`,
      "g % 7",
      "CASE WHEN g <= 5000 THEN 1 ELSE g END",
    ],
    rows: 6000,
    indexes: [
      // Ascending keys: rightmost splits leave the left page 90% full.
      { name: "grown_id", sql: "(id)", options: { columns: ["id"] } },
      // Random keys: 50:50 splits.
      { name: "grown_rnd", sql: "(rnd)", options: { columns: ["rnd"] } },
      // Ten values and NULLs: deduplication passes, single-value and many-duplicates splits.
      { name: "grown_v", sql: "(v)", options: { columns: ["v"] } },
      {
        name: "grown_v_nodedup",
        sql: "(v) WITH (deduplicate_items = off, fillfactor = 70)",
        options: { columns: ["v"], deduplicateItems: false, fillfactor: 70 },
      },
      {
        name: "grown_v_desc",
        sql: "(v DESC NULLS LAST, rnd)",
        options: { columns: [{ name: "v", desc: true, nullsFirst: false }, "rnd"] },
      },
      // Pages full of one value: the single-value strategy of deduplication and of the split.
      { name: "grown_c", sql: "(c)", options: { columns: ["c"] } },
      // Text of varied lengths and NULLs.
      { name: "grown_t", sql: "(t)", options: { columns: ["t"] } },
      // Long keys: three levels.
      { name: "grown_w", sql: "(w)", options: { columns: ["w"] } },
      // Localized ascending groups: the "split after new item" rule.
      { name: "grown_k_id", sql: "(k, id)", options: { columns: ["k", "id"] } },
      // Ascending keys into a DESC index: every key goes to the leftmost leaf.
      {
        name: "grown_id_desc",
        sql: "(id DESC)",
        options: { columns: [{ name: "id", desc: true }] },
      },
    ],
  };
  const BATCHES = [
    { from: 1, to: 2500 },
    { from: 2501, to: 4000 },
    { from: 4001, to: 6000 },
  ];

  it("[memory] ten indexes created on an empty table, then 6000 rows in three INSERTs", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 4096 });
    const c = GROWN;
    try {
      await q(
        `CREATE TABLE ${c.table} (${c.columns.map((x) => `${x.name} ${x.type}`).join(", ")}) WITH (autovacuum_enabled = off)`,
      );
      db.createTable(c.table, c.columns);
      for (const ix of c.indexes) {
        await q(`CREATE INDEX ${ix.name} ON ${c.table} ${ix.sql}`);
        db.createIndex(ix.name, c.table, ix.options);
      }
      const codecs = c.columns.map((x) => lookupType(x.type));
      const indexes = db.indexes(c.table).map((d) => db.index(d.name));
      const seen = { splits: 0, newRoots: 0, dedups: 0, leftSplits: 0 };
      await q("SELECT setseed(0.25)");
      for (const { from, to } of BATCHES) {
        await q(
          `INSERT INTO ${c.table} SELECT ${c.exprs.join(", ")} FROM generate_series(${from}, ${to}) g`,
        );
        // Insertion order is id order (a short row may still go back to an earlier heap page
        // through the free space map, so ctid order is not it); pgsim's heap places each row
        // where PostgreSQL's did.
        const text = await q(
          `SELECT ${c.columns.map((x) => x.name).join(", ")}, ctid FROM ${c.table} WHERE id BETWEEN ${from} AND ${to} ORDER BY id`,
        );
        const rows = text.map((r) =>
          r.slice(0, -1).map((v, i) => (v === null ? null : codecs[i]!.input(v, -1))),
        );
        // The heap tuples go in through the table AM alone (INSERT would add the index entries
        // itself, through index_insert): the entries are added below with btInsert, to see what
        // each insertion did (splits, new roots, deduplication passes).
        const tx = db.begin();
        const rel = db.table(c.table);
        const tids = rows.map((row) => {
          const slot = makeSlot(row);
          tableTupleInsert(rel, slot, tx.xact);
          return slot.tid!;
        });
        tx.commit();
        expect(tids.map((t) => `(${t.block},${t.offset})`)).toEqual(text.map((r) => r.at(-1)));
        // ExecInsertIndexTuples: after each heap tuple, its entry in every index (OID order).
        rows.forEach((row, i) => {
          for (const index of indexes) {
            const values = index.columns.map((col) => row[col.heapAttIndex] ?? null);
            const r = btInsert({ pool: db.pool, index, tableName: c.table, values, tid: tids[i]! });
            seen.splits += r.splits.length;
            seen.leftSplits += r.splits.filter((s) => s.newitemonleft).length;
            if (r.newRoot) seen.newRoots++;
            if (r.deduplicated) seen.dedups++;
          }
        });
      }
      const levels: Record<string, number> = {};
      for (const ix of c.indexes) {
        const { level } = await compareIndex(db, ix);
        expect(db.btIndexCheck(ix.name).heapTids).toBe(c.rows);
        levels[ix.name] = level;
      }
      // What the comparison covered: splits to both sides, new roots up to a three-level tree,
      // deduplication passes before splits.
      expect(seen.leftSplits).toBeGreaterThan(0);
      expect(seen.splits - seen.leftSplits).toBeGreaterThan(0);
      expect(seen.newRoots).toBeGreaterThanOrEqual(c.indexes.length + 1);
      expect(seen.dedups).toBeGreaterThan(0);
      expect(levels.grown_w).toBeGreaterThanOrEqual(2);
      expect(levels.grown_id).toBe(1);
      // The single-value strategy's leaves (reference §4.3): five posting lists of 222 TIDs
      // (1352 bytes, the cap) and a sixth of 168 (the cap lowered by 4% of a page).
      const lists = Array.from({ length: db.indexNblocks("grown_c") - 1 }, (_, b) =>
        db.btPageItems("grown_c", b + 1).map((i) => i.tids?.length ?? 1),
      );
      expect(
        lists.filter((l) => l.filter((n) => n === 222).length === 5 && l.includes(168)).length,
      ).toBeGreaterThanOrEqual(2);

      // Round trip (must-show 2): pgsim's grown index files replace PostgreSQL's, and amcheck's
      // bt_index_parent_check(heapallindexed, rootdescend) accepts each of them.
      const files = new Map<string, string>();
      for (const ix of c.indexes) files.set(ix.name, await pgc().relationFilePath(ix.name));
      await pg15.stopServer();
      for (const ix of c.indexes) {
        const pages = simIndexPages(db, ix.name);
        const image = new Uint8Array(pages.length * 8192);
        pages.forEach((p, b) => {
          image.set(p, b * 8192);
          image.fill(0, b * 8192, b * 8192 + 8); // pd_lsn: pgsim's LSNs mean nothing here
        });
        fs.writeFileSync(files.get(ix.name)!, image);
      }
      await pg15.startServer();
      for (const ix of c.indexes) {
        await q(`SELECT bt_index_parent_check('${ix.name}', true, true)`);
      }
      await q("SET enable_seqscan = off");
      await q("SET enable_bitmapscan = off");
      const plan = (await q("EXPLAIN SELECT count(*) FROM grown WHERE w >= 'xxx'"))
        .map((r) => r[0])
        .join("\n");
      expect(plan).toMatch(/Index Only Scan using grown_w|Index Scan using grown_w/);
      expect(await q("SELECT count(*) FROM grown WHERE w >= 'xxx'")).toEqual([["6000"]]);
      expect(await q("SELECT count(*) FROM grown WHERE v = 3")).toEqual([
        [
          String(
            Array.from({ length: 6000 }, (_, i) => i + 1).filter(
              (g) => g % 13 !== 0 && g % 10 === 3,
            ).length,
          ),
        ],
      ]);
      await q("RESET enable_seqscan");
      await q("RESET enable_bitmapscan");
    } finally {
      db.close();
    }
  }, 180_000);
});
