// The cumulative statistics of tables (pg_stat_user_tables, pg_statio_user_tables), per-statement
// buffer usage (EXPLAIN (ANALYZE, BUFFERS)), VACUUM's report, resets, and pg_buffercache rows with
// table names — on both table AMs. The same counts are compared with a live PostgreSQL 15 in
// ../../../test/pgstat-pg15.test.ts.

import { formatBufferUsage } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Database,
  formatVacuumVerbose,
  type StatUserTablesRow,
  type TID,
  vacEstimateReltuples,
} from "../src/index.js";
import { HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

const COLUMNS = [
  { name: "id", type: "int4", notNull: true },
  { name: "v", type: "int4", notNull: true },
  { name: "k", type: "int4", notNull: true },
];

/** The tuple counts of a pg_stat_user_tables row (no OIDs, times or reports). */
function counts(s: StatUserTablesRow) {
  return {
    ins: s.n_tup_ins,
    upd: s.n_tup_upd,
    hot: s.n_tup_hot_upd,
    del: s.n_tup_del,
    live: s.n_live_tup,
    dead: s.n_dead_tup,
    mod: s.n_mod_since_analyze,
    insSinceVacuum: s.n_ins_since_vacuum,
    vacuums: s.vacuum_count,
  };
}

function insertRows(db: Database, table: string, n: number, first = 1): TID[] {
  const tx = db.begin();
  const tids = Array.from({ length: n }, (_, i) => tx.insert(table, [first + i, 0, first + i]));
  tx.commit();
  return tids;
}

for (const { am, variant } of HEAP_AMS) {
  describe(`table statistics [${am}]`, () => {
    it(`[${am}] counts inserts, HOT and non-HOT updates, deletes; live and dead follow commit and abort`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS, { indexedColumns: ["k"] });
      expect(counts(db.tableStats("t"))).toEqual({
        ins: 0,
        upd: 0,
        hot: 0,
        del: 0,
        live: 0,
        dead: 0,
        mod: 0,
        insSinceVacuum: 0,
        vacuums: 0,
      });
      const [a, b, c] = insertRows(db, "t", 3);
      let tx = db.begin();
      expect(tx.update("t", a!, [1, 1, 1])).toBeDefined(); // HOT: k unchanged
      expect(tx.update("t", b!, [2, 0, 20])).toBeDefined(); // not HOT: k changed
      expect(tx.delete("t", c!)).toBe(true);
      tx.commit();
      expect(counts(db.tableStats("t"))).toEqual({
        ins: 3,
        upd: 2,
        hot: 1,
        del: 1,
        live: 2,
        dead: 3,
        mod: 6,
        insSinceVacuum: 3,
        vacuums: 0,
      });
      // A rolled-back transaction: its insert and update count, their versions are dead, and the
      // row it deleted stays live; it changes nothing for n_mod_since_analyze.
      tx = db.begin();
      tx.insert("t", [4, 0, 4]);
      const live = tx.scan("t").map((r) => r.tid);
      expect(tx.update("t", live[0]!, [1, 2, 1])).toBeDefined();
      expect(tx.delete("t", live[1]!)).toBe(true);
      tx.abort();
      expect(counts(db.tableStats("t"))).toEqual({
        ins: 4,
        upd: 3,
        hot: 2,
        del: 2,
        live: 2,
        dead: 5,
        mod: 6,
        insSinceVacuum: 4,
        vacuums: 0,
      });
      db.close();
    });

    it(`[${am}] a transaction's counts appear when it ends, to every backend`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      const other = db.attachAnother();
      const tx = other.begin();
      tx.insert("t", [1, 0, 1]);
      tx.insert("t", [2, 0, 2]);
      // Still in progress: nobody sees its counts yet, not even its own backend.
      expect(db.tableStats("t").n_tup_ins).toBe(0);
      expect(other.tableStats("t").n_tup_ins).toBe(0);
      tx.commit();
      expect(db.tableStats("t").n_tup_ins).toBe(2);
      expect(db.tableStats("t").n_live_tup).toBe(2);
      // An error aborts the transaction: the failed statement's earlier insert counts as dead.
      const failing = other.begin();
      failing.insert("t", [3, 0, 3]);
      expect(() => failing.insert("t", [null, 0, 0])).toThrow(/null value/);
      expect(failing.state).toBe("aborted");
      expect(counts(db.tableStats("t"))).toMatchObject({ ins: 3, live: 2, dead: 1 });
      other.close();
      db.close();
    });

    it(`[${am}] VACUUM: n_live_tup and n_dead_tup reset, vacuum_count, last_vacuum and its report`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      const tids = insertRows(db, "t", 10);
      let tx = db.begin();
      for (const tid of tids.slice(0, 4)) tx.delete("t", tid);
      tx.commit();
      // A REPEATABLE READ transaction that started before the next deletes keeps their rows
      // "dead but not yet removable".
      const reader = db.attachAnother();
      const snapshotHolder = reader.begin({ isolation: "repeatable read" });
      expect(snapshotHolder.scan("t")).toHaveLength(6);
      tx = db.begin();
      for (const tid of tids.slice(4, 6)) tx.delete("t", tid);
      tx.commit();
      const before = Date.now();
      db.vacuum("t");
      const s = db.tableStats("t");
      expect(counts(s)).toMatchObject({ live: 4, dead: 2, insSinceVacuum: 0, vacuums: 1 });
      expect(s.last_vacuum?.getTime()).toBeGreaterThanOrEqual(before);
      const report = s.last_vacuum_report!;
      expect(report).toMatchObject({
        pagesTotal: 1,
        pagesScanned: 1,
        pagesRemoved: 0,
        pagesRemain: 1,
        tuplesRemoved: 4,
        tuplesRemain: 6,
        tuplesDeadNotRemovable: 2,
        liveTuples: 4,
        indexScans: 0,
        hasIndexes: false,
        indexVacuuming: true,
        lpdeadItemPages: 1,
        lpdeadItems: 4,
      });
      expect(report.message.split("\n")).toEqual([
        'finished vacuuming "postgres.public.t": index scans: 0',
        "pages: 0 removed, 1 remain, 1 scanned (100.00% of total)",
        "tuples: 4 removed, 6 remain, 2 are dead but not yet removable",
        `removable cutoff: ${report.removableCutoff}, which was ${report.removableCutoffAge} XIDs old when operation ended`,
        "index scan not needed: 1 pages from table (100.00% of total) had 4 dead item identifiers removed",
        `buffer usage: ${report.bufferHits} hits, ${report.bufferMisses} misses, ${report.bufferDirtied} dirtied`,
      ]);
      // The cutoff is the reader's snapshot xmin, older than the two deleters' xid.
      expect(report.removableCutoffAge).toBeGreaterThan(0);
      snapshotHolder.commit();
      db.vacuum("t");
      expect(counts(db.tableStats("t"))).toMatchObject({ live: 4, dead: 0, vacuums: 2 });
      expect(db.tableStats("t").last_vacuum_report?.tuplesRemoved).toBe(2);
      reader.close();
      db.close();
    });

    it(`[${am}] VACUUM with INDEX_CLEANUP OFF reports the bypass; truncation reports pages removed`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS, { indexedColumns: ["k"] });
      const tids = insertRows(db, "t", 400);
      const tx = db.begin();
      for (const tid of tids.slice(200)) tx.delete("t", tid);
      tx.commit();
      const pages = db.nblocks("t");
      db.vacuum("t", { indexCleanup: "off" });
      const bypassed = db.tableStats("t").last_vacuum_report!;
      expect(bypassed).toMatchObject({ indexScans: 0, indexVacuuming: false, lpdeadItems: 200 });
      expect(bypassed.message).toContain(
        `index scan bypassed: ${bypassed.lpdeadItemPages} pages from table`,
      );
      expect(bypassed.message).toContain("have 200 dead item identifiers\n");
      // Now the passes run, the LP_DEAD items go, and the empty pages at the end are given back.
      db.vacuum("t", { indexCleanup: "on" });
      const after = db.tableStats("t").last_vacuum_report!;
      expect(after.indexScans).toBe(1);
      expect(after.pagesRemoved).toBeGreaterThan(0);
      expect(after.pagesRemain).toBe(db.nblocks("t"));
      expect(after.pagesRemain + after.pagesRemoved).toBe(pages);
      expect(after.message).toMatch(
        /^finished vacuuming "postgres\.public\.t": index scans: 1\npages: \d+ removed/,
      );
      expect(after.message).toContain("index scan needed:");
      db.close();
    });

    it(`[${am}] pruning on access reports the dead versions it reclaims`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", [
        { name: "id", type: "int4", notNull: true },
        { name: "pad", type: "text", notNull: true },
      ]);
      const pad = "x".repeat(500);
      let tx = db.begin();
      let tid = tx.insert("t", [1, pad]);
      tx.commit();
      // HOT updates, each its own transaction, until less than a tenth of the page is free
      // (heap_page_prune_opt's threshold); each version (about 540 bytes) still fits.
      let updates = 0;
      const free = () => db.pageHeaders("t")[0]!.upper - db.pageHeaders("t")[0]!.lower;
      while (free() >= 819) {
        tx = db.begin();
        tid = tx.update("t", tid, [1, pad])!;
        tx.commit();
        updates++;
      }
      expect(db.nblocks("t")).toBe(1);
      expect(counts(db.tableStats("t"))).toMatchObject({
        upd: updates,
        hot: updates,
        dead: updates,
      });
      // A scan pins the page and prunes it: every dead version goes, none is left LP_DEAD.
      tx = db.begin();
      expect(tx.scan("t")).toHaveLength(1);
      tx.commit();
      expect(db.pageItems("t")[0]!.items[0]!.lp_flags).toBe(2); // LP_REDIRECT
      expect(db.tableStats("t").n_dead_tup).toBe(0);
      db.close();
    });

    it(`[${am}] pg_stat_reset and pg_stat_reset_single_table_counters`, () => {
      const db = makeDb(variant, 256);
      db.createTable("a", COLUMNS);
      db.createTable("b", COLUMNS);
      insertRows(db, "a", 3);
      insertRows(db, "b", 2);
      db.vacuum("a");
      expect(db.statsReset).toBeNull();
      db.statResetSingleTableCounters("a");
      expect(counts(db.tableStats("a"))).toMatchObject({ ins: 0, live: 0, vacuums: 0 });
      expect(db.tableStats("a").last_vacuum).toBeNull();
      expect(db.tableStats("a").last_vacuum_report).toBeNull();
      expect(db.tableIoStats("a").heap_blks_hit).toBe(0);
      expect(db.tableStats("b").n_tup_ins).toBe(2);
      expect(db.statsReset).toBeInstanceOf(Date);
      insertRows(db, "a", 1, 10);
      expect(db.tableStats("a").n_tup_ins).toBe(1);
      db.statReset();
      expect(db.statUserTables().map((r) => [r.relname, r.n_tup_ins, r.n_live_tup])).toEqual([
        ["a", 0, 0],
        ["b", 0, 0],
      ]);
      db.close();
    });

    it(`[${am}] TRUNCATE keeps the cumulative counts and restarts the estimates; DROP ends them`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      insertRows(db, "t", 5);
      const oldOid = db.tableStats("t").relid;
      db.truncateTable("t");
      const s = db.tableStats("t");
      expect(s.relid).not.toBe(oldOid);
      expect(counts(s)).toMatchObject({ ins: 5, live: 0, dead: 0, insSinceVacuum: 0 });
      insertRows(db, "t", 2);
      expect(counts(db.tableStats("t"))).toMatchObject({ ins: 7, live: 2 });
      db.dropTable("t");
      expect(() => db.tableStats("t")).toThrow(/relation "t" does not exist/);
      db.createTable("t", COLUMNS);
      expect(db.tableStats("t").n_tup_ins).toBe(0);
      db.close();
    });

    it(`[${am}] pg_statio_user_tables: an extension is a read, later visits hits, per fork`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      insertRows(db, "t", 1);
      expect(db.tableIoStats("t")).toMatchObject({
        heap_blks_read: 1,
        heap_blks_hit: 0,
        main_blks_read: 1,
        fsm_blks_read: 0,
        vm_blks_read: 0,
      });
      const tx = db.begin();
      tx.scan("t");
      tx.commit();
      expect(db.tableIoStats("t")).toMatchObject({ heap_blks_read: 1, main_blks_hit: 1 });
      db.vacuum("t");
      const io = db.tableIoStats("t");
      // VACUUM created the VM (one page) and the FSM (three pages: root, level 1, leaf).
      expect(io.vm_blks_read).toBe(1);
      expect(io.fsm_blks_read).toBe(3);
      expect(io.heap_blks_read).toBe(io.main_blks_read + io.fsm_blks_read + io.vm_blks_read);
      expect(io.heap_blks_hit).toBe(io.main_blks_hit + io.fsm_blks_hit + io.vm_blks_hit);
      expect(db.statioUserTables()).toEqual([io]);
      db.close();
    });

    it(`[${am}] reads outside transactions are flushed when the backend closes`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      insertRows(db, "t", 1);
      const other = db.attachAnother();
      other.pageItems("t"); // reads block 0 outside any transaction
      expect(db.tableIoStats("t").main_blks_hit).toBe(0);
      other.close();
      expect(db.tableIoStats("t").main_blks_hit).toBe(1);
      db.close();
    });

    it(`[${am}] lastStatementBuffers: what each statement did to the buffers`, () => {
      const db = makeDb(variant, 256);
      db.createTable("t", COLUMNS);
      const tx = db.begin();
      expect(formatBufferUsage(tx.lastStatementBuffers())).toBe("");
      const tid = tx.insert("t", [1, 0, 1]);
      // The new page: extended (written, as PostgreSQL 15 counts it) and dirtied.
      expect(tx.lastStatementBuffers()).toEqual({
        sharedBlksHit: 0,
        sharedBlksRead: 0,
        sharedBlksDirtied: 1,
        sharedBlksWritten: 1,
        sharedBlksExtended: 1,
      });
      tx.insert("t", [2, 0, 2]);
      expect(formatBufferUsage(tx.lastStatementBuffers())).toBe("Buffers: shared hit=1");
      tx.update("t", tid, [1, 1, 1]);
      // The row is fetched by TID (a hit), then updated in place (another hit).
      expect(formatBufferUsage(tx.lastStatementBuffers())).toBe("Buffers: shared hit=2");
      tx.commit();
      expect(db.bufferUsage().sharedBlksExtended).toBe(1);
      db.close();
    });

    it(`[${am}] pg_buffercache rows carry the table's name`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", COLUMNS);
      db.createTable("branches", COLUMNS);
      insertRows(db, "accounts", 1);
      insertRows(db, "branches", 1);
      db.vacuum("branches");
      const rows = db.bufferCache();
      expect(rows).toHaveLength(64);
      const used = rows
        .filter((r) => r.relfilenode !== null)
        .map((r) => [r.relname, r.relforknumber, r.relblocknumber])
        .sort();
      expect(used).toEqual(
        [
          ["accounts", 0, 0],
          ["branches", 0, 0],
          ["branches", 1, 0],
          ["branches", 1, 1],
          ["branches", 1, 2],
          ["branches", 2, 0],
        ].sort(),
      );
      expect(rows.filter((r) => r.relfilenode === null).every((r) => r.relname === null)).toBe(
        true,
      );
      db.close();
    });
  });
}

describe("statistics limits and estimates", () => {
  it("a table created while every statistics entry is taken has none, and a warning says so", () => {
    const db = makeDb("memory", 64, { statsEntries: 1 });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      db.createTable("a", COLUMNS);
      db.createTable("b", COLUMNS);
      insertRows(db, "a", 1);
      insertRows(db, "b", 1);
      expect(db.tableStats("a").n_tup_ins).toBe(1);
      expect(db.tableStats("b").n_tup_ins).toBe(0);
      // Dropping "a" frees its entry for the next table.
      db.dropTable("a");
      db.createTable("c", COLUMNS);
      insertRows(db, "c", 2);
      expect(db.tableStats("c").n_tup_ins).toBe(2);
    } finally {
      db.close();
    }
    // process warnings are delivered on the next tick.
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        process.off("warning", onWarning);
        expect(warnings).toEqual([
          'no statistics are kept for table "b": all 1 statistics entries are in use (start the database with a larger statsEntries)',
        ]);
        resolve();
      });
    });
  });

  it("rejects a statsEntries that is not a positive integer", () => {
    expect(() => makeDb("memory", 64, { statsEntries: 0 })).toThrow(
      /statsEntries must be an integer from 1 to/,
    );
  });

  it("vac_estimate_reltuples: exact when all was scanned, else from the old density", () => {
    const base = { oldRelPages: 100, oldRelTuples: 10_000, totalPages: 100 };
    expect(vacEstimateReltuples({ ...base, scannedPages: 100, scannedTuples: 42 })).toBe(42);
    // Under 2% of an unchanged table: keep the old figure.
    expect(vacEstimateReltuples({ ...base, scannedPages: 1, scannedTuples: 3 })).toBe(10_000);
    // 10 of 100 pages: 90 pages at 100 per page, plus what was counted.
    expect(vacEstimateReltuples({ ...base, scannedPages: 10, scannedTuples: 500 })).toBe(9500);
    // No old density: scale the scanned pages up.
    expect(
      vacEstimateReltuples({
        oldRelPages: 0,
        oldRelTuples: -1,
        totalPages: 50,
        scannedPages: 5,
        scannedTuples: 101,
      }),
    ).toBe(1010);
  });

  it("formatVacuumVerbose prints 100% of an empty table's pages", () => {
    const message = formatVacuumVerbose(
      {
        endedAt: new Date(0),
        pagesTotal: 0,
        pagesScanned: 0,
        pagesRemoved: 0,
        pagesRemain: 0,
        tuplesRemoved: 0,
        tuplesRemain: 0,
        tuplesDeadNotRemovable: 0,
        liveTuples: 0,
        removableCutoff: 3,
        removableCutoffAge: 0,
        indexScans: 0,
        hasIndexes: false,
        indexVacuuming: true,
        lpdeadItemPages: 0,
        lpdeadItems: 0,
        pagesFrozen: 0,
        tuplesFrozen: 0,
        bufferHits: 0,
        bufferMisses: 0,
        bufferDirtied: 0,
      },
      "empty",
    );
    expect(message.split("\n").slice(1, 2)).toEqual([
      "pages: 0 removed, 0 remain, 0 scanned (100.00% of total)",
    ]);
  });
});
