// pgsim's statistics against PostgreSQL 15's own counters: the same statements (single-row
// INSERTs, a HOT and a non-HOT UPDATE, a DELETE, a rolled-back transaction, VACUUM) run on a
// private PostgreSQL 15 cluster and on pgsim, both variants; then pg_stat_user_tables,
// pg_statio_user_tables, VACUUM VERBOSE's summary and EXPLAIN (ANALYZE, BUFFERS) are compared
// with pgsim's tableStats, tableIoStats, last_vacuum_report and lastStatementBuffers.
//
// What is compared, and why that much:
// - Tuple counts (n_tup_*, n_live_tup, n_dead_tup, n_mod_since_analyze, n_ins_since_vacuum,
//   vacuum_count): deterministic in both, compared exactly, before and after VACUUM.
// - heap_blks_read: blocks of the table (all forks) not found in shared buffers. With nothing
//   evicted these are exactly the blocks that had to come from storage or be added: the main
//   fork's extension, and after VACUUM the new VM page and the three new FSM pages. Equal.
// - heap_blks_hit: depends on how the executor reaches rows, which differs (see the EXPLAIN
//   comparison below); compared through its per-statement parts rather than the total.
// - VACUUM VERBOSE: the index-scans, pages, tuples and index-scan lines are equal; the removable
//   cutoff is compared by age (PostgreSQL's xids start after initdb's, pgsim's at 3); of the
//   buffer usage line, misses and dirtied are equal, hits are not (PostgreSQL's include the
//   catalog pages VACUUM updates: pg_class, pg_statistic ...).
// - EXPLAIN (ANALYZE, BUFFERS), after a CHECKPOINT so that every buffer is clean: dirtied,
//   written and read are equal for a HOT update of an all-visible page (the heap page and the
//   VM page), an INSERT into an empty table (the new page: dirtied, and written because
//   PostgreSQL 15 counts the extension as a write) and a DELETE. Hits differ by the executor's
//   fetches: PostgreSQL's UPDATE fetches the old row version once more than pgsim does (in
//   ExecModifyTable, to form the new row from the TID scan's changed columns).
//
// PostgreSQL runs with autovacuum off, the statements in one session with enable_seqscan off (a
// TID scan finds each row, as pgsim's methods do by TID), and pg_stat_force_next_flush() before
// each look at the statistics: PostgreSQL 15 flushes a backend's counts asynchronously.
//
// PostgreSQL 15 is required: this test never skips.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PgCluster } from "@pgsim/bench";
import { type BufferUsage, formatBufferUsage } from "@pgsim/buffer-manager";
import { Database, type DatabaseTransaction, type TID } from "@pgsim/heap-am";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPg15 } from "./pg15-peer.js";

let pg: PgCluster | undefined;

beforeAll(async () => {
  pg = await startPg15({ settings: { autovacuum: "off", fsync: "off" } });
}, 120_000);

const dirs: string[] = [];
afterAll(async () => {
  await pg?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * Runs a psql script in one session (statements autocommit one by one, unlike `pg.psql`, which
 * sends a single query string) and returns stdout and stderr.
 */
function psqlScript(server: PgCluster, script: string): { stdout: string; stderr: string } {
  const r = spawnSync(
    path.join(server.binDir, "psql"),
    [
      ...["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"],
      ...["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", "postgres"],
      ...["-f", "-"],
    ],
    { input: script, encoding: "utf8", timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`psql failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

const STAT_COLUMNS = [
  "n_tup_ins",
  "n_tup_upd",
  "n_tup_del",
  "n_tup_hot_upd",
  "n_live_tup",
  "n_dead_tup",
  "n_mod_since_analyze",
  "n_ins_since_vacuum",
  "vacuum_count",
] as const;
type StatColumn = (typeof STAT_COLUMNS)[number];
type Stats = Record<StatColumn, number> & { heap_blks_read: number; heap_blks_hit: number };

/** One statement of the sequence, for both systems: its SQL and the pgsim method call. */
interface Step {
  sql: string;
  run: (tx: DatabaseTransaction) => void;
}

const tid = (block: number, offset: number): TID => ({ block, offset });
const addToV = (row: readonly unknown[]) => [row[0], (row[1] as number) + 1, row[2]] as number[];

const INSERTS: Step[] = [1, 2, 3, 4].map((id) => ({
  sql: `INSERT INTO t VALUES (${id}, ${id * 10}, ${id})`,
  run: (tx) => void tx.insert("t", [id, id * 10, id]),
}));
/** A HOT update (no indexed column changes): the new version goes to (0,5). */
const HOT_UPDATE: Step = {
  sql: "UPDATE t SET v = v + 1 WHERE ctid = '(0,1)'",
  run: (tx) => void tx.update("t", tid(0, 1), addToV),
};
/** A non-HOT update (the indexed column k changes): new version (0,6) and an index entry. */
const COLD_UPDATE: Step = {
  sql: "UPDATE t SET k = k + 100 WHERE ctid = '(0,2)'",
  run: (tx) =>
    void tx.update("t", tid(0, 2), (row) => [row[0], row[1], (row[2] as number) + 100] as number[]),
};
const DELETE: Step = {
  sql: "DELETE FROM t WHERE ctid = '(0,3)'",
  run: (tx) => void tx.delete("t", tid(0, 3)),
};
/** Rolled back: an insert (0,7), a HOT update of row 4 (0,8), a delete of row 1's version. */
const ABORTED: Step[] = [
  { sql: "INSERT INTO t VALUES (5, 50, 5)", run: (tx) => void tx.insert("t", [5, 50, 5]) },
  {
    sql: "UPDATE t SET v = 0 WHERE ctid = '(0,4)'",
    run: (tx) => void tx.update("t", tid(0, 4), (row) => [row[0], 0, row[2]] as number[]),
  },
  { sql: "DELETE FROM t WHERE ctid = '(0,5)'", run: (tx) => void tx.delete("t", tid(0, 5)) },
];
/** After VACUUM, each after a CHECKPOINT: row 1's version at (0,5) HOT-updated again ... */
const EXPLAINED_UPDATE: Step = {
  sql: "UPDATE t SET v = v + 1 WHERE ctid = '(0,5)'",
  run: (tx) => void tx.update("t", tid(0, 5), addToV),
};
/** ... a first row in an empty table ... */
const EXPLAINED_INSERT: Step = {
  sql: "INSERT INTO u VALUES (1)",
  run: (tx) => void tx.insert("u", [1]),
};
/** ... and a delete on the (already dirtied, now clean again) page. */
const EXPLAINED_DELETE: Step = {
  sql: "DELETE FROM t WHERE ctid = '(0,4)'",
  run: (tx) => void tx.delete("t", tid(0, 4)),
};

const STATS_SQL = `SELECT pg_stat_force_next_flush();
SELECT ${STAT_COLUMNS.join(", ")}, heap_blks_read, heap_blks_hit
  FROM pg_stat_user_tables JOIN pg_statio_user_tables USING (relid) WHERE relid = 't'::regclass;`;

/** What PostgreSQL reported. */
interface PgResult {
  before: Stats;
  after: Stats;
  vacuumVerbose: string[];
  explained: Record<"update" | "insert" | "delete", BufferUsage>;
}

function parseStats(line: string | undefined): Stats {
  const values = (line ?? "").split("|").map(Number);
  const names = [...STAT_COLUMNS, "heap_blks_read", "heap_blks_hit"];
  expect(values).toHaveLength(names.length);
  return Object.fromEntries(names.map((n, i) => [n, values[i]])) as Stats;
}

/** The top plan node's "Buffers: shared hit=… dirtied=…" as a BufferUsage. */
function parseBuffers(lines: string[]): BufferUsage {
  const line = lines.find((l) => l.trim().startsWith("Buffers:")) ?? "";
  const get = (key: string) => Number(new RegExp(`${key}=(\\d+)`).exec(line)?.[1] ?? 0);
  return {
    sharedBlksHit: get("hit"),
    sharedBlksRead: get("read"),
    sharedBlksDirtied: get("dirtied"),
    sharedBlksWritten: get("written"),
    sharedBlksExtended: 0,
  };
}

function runPostgres(server: PgCluster): PgResult {
  const explain = (label: string, step: Step) =>
    `CHECKPOINT;\n\\echo @@${label}\nEXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) ${step.sql};\n\\echo @@end`;
  const script = [
    "SET enable_seqscan = off;",
    "CREATE TABLE t (id int4 NOT NULL, v int4 NOT NULL, k int4 NOT NULL);",
    "CREATE INDEX t_k ON t (k);",
    "CREATE TABLE u (a int4);",
    ...[...INSERTS, HOT_UPDATE, COLD_UPDATE, DELETE].map((s) => `${s.sql};`),
    "BEGIN;",
    ...ABORTED.map((s) => `${s.sql};`),
    "ROLLBACK;",
    "\\echo @@before",
    STATS_SQL,
    "VACUUM (VERBOSE) t;",
    "\\echo @@after",
    STATS_SQL,
    explain("update", EXPLAINED_UPDATE),
    explain("insert", EXPLAINED_INSERT),
    explain("delete", EXPLAINED_DELETE),
  ].join("\n");
  const { stdout, stderr } = psqlScript(server, script);
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    const marker = /^@@(\w+)$/.exec(line);
    if (marker) {
      current = [];
      sections.set(marker[1]!, current);
    } else if (line !== "") current?.push(line);
  }
  // The VACUUM VERBOSE message: from "finished vacuuming" to the end of its lines.
  const info = stderr.split("\n");
  const start = info.findIndex((l) => l.includes("INFO:  finished vacuuming"));
  expect(start, stderr).toBeGreaterThanOrEqual(0);
  const vacuumVerbose = [info[start]!.replace(/^.*INFO: {2}/, "")];
  for (const l of info.slice(start + 1)) {
    if (l.startsWith("psql:") || l === "") break;
    vacuumVerbose.push(l);
  }
  return {
    // Each stats section holds pg_stat_force_next_flush()'s empty row, then the stats row.
    before: parseStats(sections.get("before")?.at(-1)),
    after: parseStats(sections.get("after")?.at(-1)),
    vacuumVerbose,
    explained: {
      update: parseBuffers(sections.get("update") ?? []),
      insert: parseBuffers(sections.get("insert") ?? []),
      delete: parseBuffers(sections.get("delete") ?? []),
    },
  };
}

/** What pgsim reported for the same sequence. */
interface PgsimResult extends Omit<PgResult, "explained"> {
  explained: PgResult["explained"] | undefined;
}

function runPgsim(variant: "disk" | "memory"): PgsimResult {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-pgstat-"));
    dirs.push(dataDir);
  }
  const db = Database.create({ variant, bufferCount: 256, ...(dataDir ? { dataDir } : {}) });
  try {
    db.createTable(
      "t",
      [
        { name: "id", type: "int4", notNull: true },
        { name: "v", type: "int4", notNull: true },
        { name: "k", type: "int4", notNull: true },
      ],
      { indexedColumns: ["k"] },
    );
    db.createTable("u", [{ name: "a", type: "int4" }]);
    for (const step of [...INSERTS, HOT_UPDATE, COLD_UPDATE, DELETE]) {
      const tx = db.begin();
      step.run(tx);
      tx.commit();
    }
    const tx = db.begin();
    for (const step of ABORTED) step.run(tx);
    tx.abort();
    const stats = (): Stats => {
      const s = db.tableStats("t");
      const io = db.tableIoStats("t");
      return {
        ...(Object.fromEntries(STAT_COLUMNS.map((c) => [c, s[c]])) as Record<StatColumn, number>),
        heap_blks_read: io.heap_blks_read,
        heap_blks_hit: io.heap_blks_hit,
      };
    };
    const before = stats();
    db.vacuum("t");
    const after = stats();
    const vacuumVerbose = db.tableStats("t").last_vacuum_report?.message.split("\n") ?? [];
    const explain = (step: Step): BufferUsage => {
      db.checkpoint();
      const t = db.begin();
      step.run(t);
      const usage = t.lastStatementBuffers();
      t.commit();
      return usage;
    };
    const explained = {
      update: explain(EXPLAINED_UPDATE),
      insert: explain(EXPLAINED_INSERT),
      delete: explain(EXPLAINED_DELETE),
    };
    return {
      before,
      after,
      vacuumVerbose,
      explained: variant === "disk" ? explained : undefined,
    };
  } finally {
    db.close();
  }
}

const without = (s: Stats, ...keys: (keyof Stats)[]) =>
  Object.fromEntries(Object.entries(s).filter(([k]) => !keys.includes(k as keyof Stats)));

describe("statistics against PostgreSQL 15's counters for the same statements", () => {
  let postgres: PgResult;
  beforeAll(() => {
    if (pg === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
    postgres = runPostgres(pg);
  });

  it("PostgreSQL's own figures are what this test expects them to be", () => {
    // 5 inserted (one rolled back), 3 updated (one rolled back; two HOT), 2 deleted (one rolled
    // back): they all count. Live: 4 committed inserts - 1 committed delete. Dead: the committed
    // update's and delete's old versions (2 + 1), and the rolled-back insert's and update's new
    // versions (1 + 1); the rolled-back delete leaves its row live. VACUUM resets the dead count
    // and the inserts since the last VACUUM.
    expect(without(postgres.before, "heap_blks_hit")).toEqual({
      n_tup_ins: 5,
      n_tup_upd: 3,
      n_tup_del: 2,
      n_tup_hot_upd: 2,
      n_live_tup: 3,
      n_dead_tup: 5,
      n_mod_since_analyze: 7,
      n_ins_since_vacuum: 5,
      vacuum_count: 0,
      heap_blks_read: 1,
    });
    expect(postgres.after.n_dead_tup).toBe(0);
    expect(postgres.after.vacuum_count).toBe(1);
  });

  for (const variant of ["disk", "memory"] as const) {
    describe(`pgsim [${variant}]`, () => {
      let pgsim: PgsimResult;
      beforeAll(() => {
        pgsim = runPgsim(variant);
      });

      it(`[${variant}] pg_stat_user_tables: the same tuple counts before and after VACUUM`, () => {
        expect(without(pgsim.before, "heap_blks_read", "heap_blks_hit")).toEqual(
          without(postgres.before, "heap_blks_read", "heap_blks_hit"),
        );
        expect(without(pgsim.after, "heap_blks_read", "heap_blks_hit")).toEqual(
          without(postgres.after, "heap_blks_read", "heap_blks_hit"),
        );
      });

      it(`[${variant}] pg_statio_user_tables: the same heap_blks_read before and after VACUUM`, () => {
        // The main fork's extension; then VACUUM's new VM page and three FSM pages.
        expect(pgsim.before.heap_blks_read).toBe(postgres.before.heap_blks_read);
        expect(pgsim.after.heap_blks_read).toBe(postgres.after.heap_blks_read);
      });

      it(`[${variant}] pg_statio_user_tables: heap_blks_hit differs exactly where the access paths do`, () => {
        // Before VACUUM: PostgreSQL's UPDATE fetches the old row version once more than pgsim's
        // (ExecModifyTable re-fetches it by TID to form the new row): one hit per UPDATE, three
        // UPDATEs in all. Inserts, deletes and the rest hit the same pages as often.
        const updates = [HOT_UPDATE, COLD_UPDATE, ...ABORTED].filter((s) =>
          s.sql.startsWith("UPDATE"),
        ).length;
        expect(updates).toBe(3);
        expect(pgsim.before.heap_blks_hit + updates).toBe(postgres.before.heap_blks_hit);
        // VACUUM: each new map page is one read in both; PostgreSQL writes it with smgrextend and
        // reads it (a miss), pgsim extends it through the buffer pool (a miss) and then reads it
        // (a hit). So pgsim has one more hit per page VACUUM added to the map forks, and no other
        // difference: the heap page twice (the scan, then the heap pass of a table with an
        // index), the VM page kept pinned through the scan and pinned again for the heap pass
        // (vmbuffer), the FSM's pages by FreeSpaceMapVacuumRange, and the VM page once more by
        // visibilitymap_count for pg_class.relallvisible.
        const newMapPages = pgsim.after.heap_blks_read - pgsim.before.heap_blks_read;
        expect(newMapPages).toBe(4);
        expect(pgsim.after.heap_blks_hit - pgsim.before.heap_blks_hit - newMapPages).toBe(
          postgres.after.heap_blks_hit - postgres.before.heap_blks_hit,
        );
      });

      it(`[${variant}] VACUUM VERBOSE: the same summary lines`, () => {
        const [pgFirst, pgPages, pgTuples, pgCutoff, , pgIndexScan] = postgres.vacuumVerbose;
        const [first, pages, tuples, cutoff, indexScan, buffers] = pgsim.vacuumVerbose;
        expect(first).toBe(pgFirst);
        expect(pages).toBe(pgPages);
        expect(tuples).toBe(pgTuples);
        const age = (line: string | undefined) =>
          /which was (-?\d+) XIDs old/.exec(line ?? "")?.[1];
        expect(age(cutoff)).toBe(age(pgCutoff));
        expect(indexScan).toBe(pgIndexScan);
        const pgBuffers = postgres.vacuumVerbose.find((l) => l.startsWith("buffer usage:"));
        const misses = (line: string | undefined) =>
          /(\d+) misses, (\d+) dirtied/.exec(line ?? "")?.slice(1);
        expect(misses(buffers)).toEqual(misses(pgBuffers));
      });

      it(`[${variant}] EXPLAIN (ANALYZE, BUFFERS): the same buffers dirtied, written and read`, () => {
        if (pgsim.explained === undefined) {
          // A memory-only pool never writes a page, so a buffer, once dirty, stays dirty: there
          // is no clean buffer for a statement to dirty after a CHECKPOINT.
          expect(variant).toBe("memory");
          return;
        }
        for (const key of ["update", "insert", "delete"] as const) {
          const mine = pgsim.explained[key];
          const theirs = postgres.explained[key];
          expect(
            {
              dirtied: mine.sharedBlksDirtied,
              written: mine.sharedBlksWritten,
              read: mine.sharedBlksRead,
            },
            `${key}: pgsim ${formatBufferUsage(mine)}, PostgreSQL ${formatBufferUsage(theirs)}`,
          ).toEqual({
            dirtied: theirs.sharedBlksDirtied,
            written: theirs.sharedBlksWritten,
            read: theirs.sharedBlksRead,
          });
        }
        // The HOT update dirtied the heap page and the VM page (clearing all-visible); the insert
        // dirtied and "wrote" (extended) the new page; the delete dirtied the heap page.
        expect(postgres.explained.update.sharedBlksDirtied).toBe(2);
        expect(formatBufferUsage(pgsim.explained.insert)).toBe(
          "Buffers: shared dirtied=1 written=1",
        );
        // Hits: the update's old-version re-fetch again (see above); the rest are equal.
        expect(pgsim.explained.update.sharedBlksHit + 1).toBe(
          postgres.explained.update.sharedBlksHit,
        );
        expect(pgsim.explained.insert.sharedBlksHit).toBe(postgres.explained.insert.sharedBlksHit);
        expect(pgsim.explained.delete.sharedBlksHit).toBe(postgres.explained.delete.sharedBlksHit);
      });
    });
  }
});
