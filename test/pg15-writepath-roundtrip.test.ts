// The real write path into a real PostgreSQL 15: pgsim's public `Database` API, on a disk-backed
// database with a data directory, runs a seeded workload on one table (over 100,000 rows through
// bulk, multi-row and single inserts; HOT and cold updates, some to other pages; deletes; row locks
// in every mode, lock-then-update; rolled-back inserts, updates, deletes and locks; VACUUM, a
// tail delete that VACUUM truncates, VACUUM (FREEZE), and DML after each), then CHECKPOINT writes
// the relation files (main, FSM and VM forks) and pg_xact. A private PostgreSQL 15 cluster has
// the same table; with the server stopped, pgsim's files replace the table's files and the
// cluster's commit log is made to agree with pgsim's (below). After a restart:
//   - PostgreSQL reads the VM and FSM as pgsim wrote them (pg_visibility_map, pg_freespace), and
//     the pages hold the mix the workload made (heap_page_items: redirects, HOT chains, lock-only
//     xmax, frozen tuples);
//   - amcheck's verify_heapam and pg_visibility's pg_check_visible / pg_check_frozen report
//     nothing, against pgsim's relfrozenxid;
//   - SELECT returns exactly pgsim's rows at pgsim's ctids;
//   - REINDEX (which follows every HOT chain) succeeds and bt_index_check(heapallindexed) agrees;
//   - PostgreSQL's own UPDATE (HOT and not), DELETE, INSERT and VACUUM (FREEZE) then run on
//     pgsim's pages, and afterwards the checks are still clean, every page is all-frozen, and the
//     row count and sums are what the rows pgsim wrote give with those statements applied.
// Both with data checksums off (initdb's default, pgsim's default) and on (initdb -k, pgsim
// `checksums: true`).
//
// The commit log. pgsim numbers transactions from 3, as a fresh cluster does, and PostgreSQL's
// initdb has used a few hundred xids already, so before the workload pgsim's xid counter is moved
// past the cluster's next xid (committed transactions on a scratch table, which is not copied):
// every xid in pgsim's table is then one the cluster never used. The cluster then consumes xids
// (committed, empty transactions) until its next xid is past pgsim's last, so that its own
// nextXid, clog pages and oldestXid stay consistent; with the server stopped, each pgsim xid's
// status (committed or aborted) is copied from pgsim's pg_xact into the cluster's pg_xact. Those
// xids thus become PostgreSQL transactions of the past with pgsim's outcome. Finally
// pg_class.relfrozenxid of the table is set to pgsim's own relfrozenxid (it is newer than what
// CREATE TABLE recorded, so the checks are stricter): verify_heapam reports any xid before it,
// which tests that pgsim's VACUUM advances relfrozenxid only past xids it froze.
//
// PostgreSQL 15 is required: this test never skips. If no server can be started, it fails with a
// message saying how to install one.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PgCluster } from "@pgsim/bench";
import { Database, type Datum, type TID, type VisibilityMapRow } from "@pgsim/heap-am";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPg15 } from "./pg15-peer.js";
import { clogSegmentName, clogStatus, readClog } from "./pg15-place.js";
import {
  runWritePathWorkload,
  WRITEPATH_COLUMNS,
  WRITEPATH_TABLE,
  WRITEPATH_TABLE_SQL,
  type WritePathReport,
} from "./writepath-workload.js";

/** The output settings pgsim's `output` functions print for. */
const OUTPUT_SETTINGS = {
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
  extra_float_digits: "1",
  bytea_output: "hex",
  IntervalStyle: "postgres",
};

const T = WRITEPATH_TABLE;
const COLUMN_LIST = WRITEPATH_COLUMNS.map((c) => c.name).join(", ");
const CLOG_XACTS_PER_SEGMENT = 32 * 8192 * 4;

/** What pgsim left behind for PostgreSQL. */
interface PgsimSide {
  dataDir: string;
  relNumber: number;
  /** Every visible row as PostgreSQL prints it, with its ctid, in ctid order. */
  rows: (string | null)[][];
  /** The raw rows (for the sums after PostgreSQL's statements). */
  raw: { tid: TID; row: (Datum | null)[] }[];
  visibilityMap: VisibilityMapRow[];
  freeSpace: { blkno: number; avail: number }[];
  nblocks: number;
  /** The first and the next xid of the workload (the xids the table may hold). */
  firstXid: number;
  nextXid: number;
  relfrozenxid: number;
  report: WritePathReport;
}

function ctidText(tid: TID): string {
  return `(${tid.block},${tid.offset})`;
}

/**
 * Runs the workload in a fresh disk-backed pgsim database whose next xid is past `pgNextXid`,
 * scans the table, checkpoints, and returns what PostgreSQL will be compared with.
 */
function runPgsim(options: { checksums: boolean; pgNextXid: number }): PgsimSide {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-writepath-"));
  const db = Database.create({
    variant: "disk",
    // 16 MB for a table of about 12 MB plus its forks: pages are evicted and read back too.
    bufferCount: 1024,
    dataDir,
    checksums: options.checksums,
  });
  try {
    // Move the xid counter past every xid the cluster has used (see the file's comment).
    db.createTable("xid_burner", [{ name: "n", type: "int4" }]);
    while (db.transam.nextXid < options.pgNextXid) {
      const tx = db.begin();
      tx.insert("xid_burner", [0]);
      tx.commit();
    }
    const firstXid = db.transam.nextXid;
    const report = runWritePathWorkload(db);
    const tx = db.begin();
    const scanned = tx.scan(T);
    tx.commit();
    const desc = db.table(T).desc;
    const rows = scanned.map(({ tid, row }) => [
      ctidText(tid),
      ...desc.attrs.map((att, i) => {
        const value = row[i] ?? null;
        if (value === null || att.codec === null) return null;
        return att.codec.output(value as never, att.atttypmod);
      }),
    ]);
    // CHECKPOINT: every dirty page (the scan's pruning and hint bits too) and pg_xact.
    db.checkpoint();
    const def = db.catalog.get(T);
    return {
      dataDir,
      relNumber: def.relNumber,
      rows,
      raw: scanned,
      visibilityMap: db.visibilityMap(T),
      freeSpace: db.freeSpace(T).map((r) => ({ blkno: r.blkno, avail: r.avail })),
      nblocks: db.nblocks(T),
      firstXid,
      nextXid: db.transam.nextXid,
      relfrozenxid: def.relfrozenxid ?? 0,
      report,
    };
  } finally {
    db.close();
  }
}

for (const checksums of [false, true]) {
  describe(`pgsim's write path under a PostgreSQL 15 table (data checksums ${checksums ? "on" : "off"})`, () => {
    let pg: PgCluster | undefined;
    let pgsim: PgsimSide | undefined;
    /** The cluster's next xid before pgsim's workload. */
    let pgNextXid = 0;

    const server = (): PgCluster => {
      if (pg === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
      return pg;
    };
    const side = (): PgsimSide => {
      if (pgsim === undefined) throw new Error("pgsim's workload did not run");
      return pgsim;
    };

    beforeAll(async () => {
      pg = await startPg15({
        dataChecksums: checksums,
        settings: { autovacuum: "off", fsync: "off" },
      });
      await pg.psql(
        "CREATE EXTENSION amcheck; CREATE EXTENSION pg_visibility; " +
          "CREATE EXTENSION pageinspect; CREATE EXTENSION pg_freespacemap",
      );
      await pg.psql(WRITEPATH_TABLE_SQL);
      const [[xid]] = (await pg.query("SELECT txid_current()")) as [[string]];
      pgNextXid = Number(xid) + 1;
    });

    afterAll(async () => {
      await pg?.stop();
      if (pgsim !== undefined) fs.rmSync(pgsim.dataDir, { recursive: true, force: true });
    });

    it("pgsim runs the workload: over 100,000 rows, HOT and cold updates, deletes, locks, aborts, a truncation, a mix of page states", () => {
      pgsim = runPgsim({ checksums, pgNextXid });
      const { report, raw, visibilityMap } = pgsim;
      // pgsim's scan is the model of what committed.
      expect(raw.length).toBe(report.model.size);
      for (const { tid, row } of raw) {
        const expected = report.model.get(row[0] as number);
        expect(expected, `row ${String(row[0])}`).toBeDefined();
        expect(ctidText(tid)).toBe(ctidText(expected!.tid));
        expect(row).toEqual(expected!.row);
      }
      expect(report.insertedCommitted).toBeGreaterThanOrEqual(100_000);
      expect(report.insertedAborted).toBeGreaterThan(3000);
      expect(report.hotUpdates).toBeGreaterThan(1000);
      expect(report.otherPageUpdates).toBeGreaterThan(100);
      expect(report.deletes).toBeGreaterThan(5000);
      expect(report.lockedRows).toBeGreaterThan(500);
      expect(report.abortedTransactions).toBeGreaterThan(10);
      expect(report.truncation.pagesAfter).toBeLessThan(report.truncation.pagesBefore);
      // Pages all-frozen, all-visible only, and neither.
      const frozen = visibilityMap.filter((r) => r.all_frozen).length;
      const visibleOnly = visibilityMap.filter((r) => r.all_visible && !r.all_frozen).length;
      const neither = visibilityMap.filter((r) => !r.all_visible).length;
      const tenth = visibilityMap.length / 10;
      expect(frozen, `all-frozen pages of ${visibilityMap.length}`).toBeGreaterThan(tenth);
      expect(visibleOnly, `all-visible pages of ${visibilityMap.length}`).toBeGreaterThan(tenth);
      expect(neither, `other pages of ${visibilityMap.length}`).toBeGreaterThan(tenth);
      expect(pgsim.firstXid).toBeGreaterThanOrEqual(pgNextXid);
    });

    it("pgsim's files replace the table's, and the cluster's commit log takes pgsim's outcome of each of its xids", async () => {
      const s = side();
      const pgServer = server();
      // The cluster consumes xids until its next xid is past pgsim's last one.
      await pgServer.psql(
        `DO $$ DECLARE x bigint; BEGIN LOOP x := txid_current(); COMMIT; ` +
          `EXIT WHEN x >= ${s.nextXid - 1}; END LOOP; END $$`,
      );
      // pgsim's relfrozenxid: every unfrozen xid in the table must be at least this.
      expect(s.relfrozenxid).toBeGreaterThanOrEqual(s.firstXid);
      await pgServer.psql(
        `UPDATE pg_class SET relfrozenxid = '${s.relfrozenxid}'::xid WHERE oid = '${T}'::regclass`,
      );
      const mainFork = await pgServer.relationFilePath(T);
      await pgServer.psql("CHECKPOINT");
      await pgServer.stopServer("fast");

      // The relation's files: main fork segments, FSM and VM, replacing the empty table's.
      const { uid, gid } = fs.statSync(pgServer.dataDir);
      const source = path.join(s.dataDir, "base", "5", String(s.relNumber));
      for (const suffix of ["_fsm", "_vm"]) fs.rmSync(`${mainFork}${suffix}`, { force: true });
      expect(fs.statSync(mainFork).size).toBe(0);
      const copied: string[] = [];
      for (const name of fs.readdirSync(path.dirname(source))) {
        const match = new RegExp(`^${s.relNumber}(_fsm|_vm)?(\\.\\d+)?$`).exec(name);
        if (match === null) continue;
        const target = `${mainFork}${match[1] ?? ""}${match[2] ?? ""}`;
        fs.copyFileSync(path.join(path.dirname(source), name), target);
        fs.chownSync(target, uid, gid);
        copied.push(`${match[1] ?? ""}${match[2] ?? ""}` || "main");
      }
      expect(copied.sort()).toEqual(["_fsm", "_vm", "main"]);
      expect(fs.statSync(mainFork).size).toBe(s.nblocks * 8192);

      // The commit log: pgsim's status of each of its xids, into the cluster's pg_xact.
      const pgsimClog = readClog(s.dataDir);
      const pgClog = readClog(pgServer.dataDir);
      let aborted = 0;
      for (let xid = s.firstXid; xid < s.nextXid; xid++) {
        const status = clogStatus(pgsimClog, xid);
        expect([1, 2], `pgsim's status of xid ${xid}`).toContain(status);
        // The cluster ran xid as an empty committed transaction.
        expect(clogStatus(pgClog, xid), `the cluster's status of xid ${xid}`).toBe(1);
        if (status === 2) aborted++;
        const seg = pgClog.get(Math.floor(xid / CLOG_XACTS_PER_SEGMENT))!;
        const within = xid % CLOG_XACTS_PER_SEGMENT;
        const shift = (within & 3) * 2;
        seg[within >> 2] = (seg[within >> 2]! & ~(3 << shift)) | (status << shift);
      }
      expect(aborted).toBe(s.report.abortedTransactions);
      for (const [segno, bytes] of pgClog) {
        fs.writeFileSync(path.join(pgServer.dataDir, "pg_xact", clogSegmentName(segno)), bytes);
      }
      await pgServer.startServer();
      const [[status]] = (await pgServer.query(
        `SELECT count(*) FILTER (WHERE txid_status(x) = 'aborted') FROM generate_series(${s.firstXid}::bigint, ${s.nextXid - 1}) x`,
      )) as [[string]];
      expect(Number(status)).toBe(aborted);
    });

    it("PostgreSQL reads pgsim's visibility map and free space map as pgsim does, and the pages hold the workload's mix", async () => {
      const s = side();
      const pgServer = server();
      const vm = await pgServer.query(
        `SELECT blkno, all_visible, all_frozen FROM pg_visibility_map('${T}') ORDER BY blkno`,
      );
      expect(vm).toEqual(
        s.visibilityMap.map((r) => [
          String(r.blkno),
          r.all_visible ? "t" : "f",
          r.all_frozen ? "t" : "f",
        ]),
      );
      const fsm = await pgServer.query(
        `SELECT blkno, avail FROM pg_freespace('${T}') ORDER BY blkno`,
      );
      expect(fsm).toEqual(s.freeSpace.map((r) => [String(r.blkno), String(r.avail)]));
      // What the pages hold, as pageinspect reads it.
      const [mix] = await pgServer.query(
        `SELECT count(*) FILTER (WHERE lp_flags = 1),
                count(*) FILTER (WHERE lp_flags = 2),
                count(*) FILTER (WHERE lp_flags = 3),
                count(*) FILTER (WHERE lp_flags = 0),
                count(*) FILTER (WHERE t_infomask2 & 16384 <> 0),
                count(*) FILTER (WHERE t_infomask2 & 32768 <> 0),
                count(*) FILTER (WHERE t_infomask & 128 <> 0),
                count(*) FILTER (WHERE t_infomask & 768 = 768),
                count(*) FILTER (WHERE t_xmax <> 0 AND t_infomask & 128 = 0)
           FROM generate_series(0, pg_relation_size('${T}') / 8192 - 1) AS b,
                heap_page_items(get_raw_page('${T}', b::int))`,
      );
      const [normal, redirect, dead, unused, hotUpdated, heapOnly, lockOnly, frozen, xmax] =
        mix!.map(Number);
      const shown = {
        normal,
        redirect,
        dead,
        unused,
        hotUpdated,
        heapOnly,
        lockOnly,
        frozen,
        xmax,
      };
      expect(normal, JSON.stringify(shown)).toBeGreaterThan(s.rows.length);
      for (const [name, n] of Object.entries(shown)) {
        expect(n, `${name}: ${JSON.stringify(shown)}`).toBeGreaterThan(0);
      }
    });

    it("amcheck's verify_heapam, pg_check_visible and pg_check_frozen report nothing", async () => {
      const pgServer = server();
      expect(await pgServer.query(`SELECT * FROM verify_heapam('${T}')`)).toEqual([]);
      expect(await pgServer.query(`SELECT * FROM pg_check_visible('${T}')`)).toEqual([]);
      expect(await pgServer.query(`SELECT * FROM pg_check_frozen('${T}')`)).toEqual([]);
    });

    it("the check against pgsim's relfrozenxid is live: one xid later, verify_heapam reports pgsim's oldest unfrozen tuples", async () => {
      const s = side();
      const pgServer = server();
      const setRelfrozenxid = (xid: number) =>
        pgServer.psql(
          `UPDATE pg_class SET relfrozenxid = '${xid}'::xid WHERE oid = '${T}'::regclass`,
        );
      await setRelfrozenxid(s.relfrozenxid + 1);
      let problems: (string | null)[][];
      try {
        problems = await pgServer.query(`SELECT msg FROM verify_heapam('${T}')`);
      } finally {
        await setRelfrozenxid(s.relfrozenxid);
      }
      expect(problems.length).toBeGreaterThan(0);
      for (const [msg] of problems) {
        expect(msg).toMatch(
          new RegExp(
            `^(xmin|xmax) ${s.relfrozenxid} precedes relation freeze threshold 0:${s.relfrozenxid + 1}$`,
          ),
        );
      }
      expect(await pgServer.query(`SELECT * FROM verify_heapam('${T}')`)).toEqual([]);
    });

    it("SELECT returns exactly pgsim's rows at pgsim's ctids", async () => {
      const s = side();
      const selected = await server().query(
        `SELECT ctid::text AS tid, ${COLUMN_LIST} FROM ${T} ORDER BY ctid`,
        { settings: OUTPUT_SETTINGS },
      );
      expect(selected.length).toBe(s.rows.length);
      // Row by row, so that a failure names the row.
      for (let i = 0; i < selected.length; i++) {
        if (JSON.stringify(selected[i]) !== JSON.stringify(s.rows[i])) {
          expect(selected[i], `row ${i}`).toEqual(s.rows[i]);
        }
      }
    });

    it("REINDEX follows every HOT chain, and bt_index_check(heapallindexed) agrees", async () => {
      const pgServer = server();
      await pgServer.psql(`REINDEX TABLE ${T}`);
      await pgServer.psql(`SELECT bt_index_check('${T}_k_idx', true)`);
      const [[n]] = (await pgServer.query(`SELECT count(*) FROM ${T} WHERE k >= 0`, {
        settings: { enable_seqscan: "off", enable_bitmapscan: "off" },
      })) as [[string]];
      expect(Number(n)).toBe(side().rows.length);
    });

    it("PostgreSQL's own UPDATE, DELETE, INSERT and VACUUM (FREEZE) on pgsim's pages leave them clean", async () => {
      const s = side();
      const pgServer = server();
      await pgServer.psql(`UPDATE ${T} SET s = coalesce(s, 0) + 1 WHERE id % 7 = 0`);
      await pgServer.psql(
        `UPDATE ${T} SET k = k + 1, note = coalesce(note, '') || 'pg' WHERE id % 11 = 0`,
      );
      await pgServer.psql(`DELETE FROM ${T} WHERE id % 13 = 0`);
      await pgServer.psql(
        `INSERT INTO ${T} SELECT g, g, 1, true, 'from PostgreSQL', 0.5 FROM generate_series(1000000, 1004999) g`,
      );
      await pgServer.psql(`VACUUM (FREEZE) ${T}`);

      expect(await pgServer.query(`SELECT * FROM verify_heapam('${T}')`)).toEqual([]);
      expect(await pgServer.query(`SELECT * FROM pg_check_visible('${T}')`)).toEqual([]);
      expect(await pgServer.query(`SELECT * FROM pg_check_frozen('${T}')`)).toEqual([]);
      await pgServer.psql(`SELECT bt_index_check('${T}_k_idx', true)`);
      // No transaction ran meanwhile: VACUUM (FREEZE) left every page all-visible and all-frozen.
      const [[pages, allVisible, allFrozen]] = (await pgServer.query(
        `SELECT pg_relation_size('${T}') / 8192, all_visible, all_frozen FROM pg_visibility_map_summary('${T}')`,
      )) as [[string, string, string]];
      expect(allVisible).toBe(pages);
      expect(allFrozen).toBe(pages);

      // The rows pgsim wrote, with PostgreSQL's statements applied.
      let count = 0n;
      let sumId = 0n;
      let sumK = 0n;
      let sumS = 0n;
      let notes = 0n;
      let noteLength = 0n;
      for (const { row } of s.raw) {
        const id = row[0] as number;
        if (id % 13 === 0) continue;
        let k = row[1] as bigint;
        let sv = row[2] as number | null;
        let note = row[4] as string | null;
        if (id % 7 === 0) sv = (sv ?? 0) + 1;
        if (id % 11 === 0) {
          k += 1n;
          note = `${note ?? ""}pg`;
        }
        count++;
        sumId += BigInt(id);
        sumK += k;
        sumS += BigInt(sv ?? 0);
        if (note !== null) {
          notes++;
          noteLength += BigInt(note.length);
        }
      }
      const inserted = 5000n;
      const insertedIds = ((1_000_000n + 1_004_999n) * inserted) / 2n;
      const expected = [
        count + inserted,
        sumId + insertedIds,
        sumK + insertedIds,
        sumS + inserted,
        notes + inserted,
        noteLength + inserted * BigInt("from PostgreSQL".length),
      ].map(String);
      const [totals] = await pgServer.query(
        `SELECT count(*), sum(id), sum(k), sum(coalesce(s, 0)), count(note), sum(length(note)) FROM ${T}`,
      );
      expect(totals).toEqual(expected);
    });
  });
}
