// pgsim-inspect as a hand tool, on files that two private PostgreSQL 15 clusters write during
// the test: one initialised with data checksums (initdb -k), one without. The BUILT bin
// (packages/heap-am/dist/inspect/cli.js; `npm test` runs `tsc -b` first) runs in a child process,
// as a user runs it, and its output is checked against PostgreSQL's own view of the same pages:
// pageinspect (page_header, heap_page_items, page_checksum), SELECT, pg_controldata.
//
// PostgreSQL 15 is required: this test never skips. If no server can be started (CI or not), it
// fails with a message saying how to install one (.ci/run installs it when it is missing).

import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type PgCluster, startPgCluster } from "@pgsim/bench";
import { decodeControlFile, encodeControlFile } from "@pgsim/buffer-manager";
import { pageSetChecksumInplace } from "@pgsim/heap-am/internals";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../packages/heap-am/dist/inspect/cli.js", import.meta.url));
const PG_CONTROLDATA = "/usr/lib/postgresql/15/bin/pg_controldata";
const BLCKSZ = 8192;

/** The output settings pgsim's type output functions print for. */
const OUTPUT_SETTINGS = {
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
  extra_float_digits: "1",
  bytea_output: "hex",
  IntervalStyle: "postgres",
};

const HEAP_AM_README = fileURLToPath(new URL("../packages/heap-am/README.md", import.meta.url));

/**
 * The SQL of heap-am's README.md "The `--columns` file" (for table `accounts`): the test runs the
 * documented query itself, for its tables.
 */
const README_COLUMNS_SQL = (() => {
  const match = /psql -XAt -d mydb -c "([\s\S]*?)" > accounts\.columns\.json/.exec(
    fs.readFileSync(HEAP_AM_README, "utf8"),
  );
  if (match === null) throw new Error("README.md has no --columns query");
  return match[1]!;
})();

function columnsSql(table: string): string {
  return README_COLUMNS_SQL.replace("'accounts'::regclass", `'${table}'::regclass`);
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function inspect(args: string[]): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A run that succeeded quietly. */
function ok(run: Run): string {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  return run.stdout;
}

/** stderr lines without the program name. */
function stderrLines(run: Run): string[] {
  expect(run.stderr).not.toMatch(/^\s+at /m);
  return run.stderr
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      expect(line.startsWith("pgsim-inspect: ")).toBe(true);
      return line.slice("pgsim-inspect: ".length);
    });
}

/** A psql-style table from text output: header names and trimmed cells. */
interface TextTable {
  readonly title: string | undefined;
  readonly header: string[];
  readonly rows: string[][];
  readonly footer: string;
}

/** Every table in a text output (with the `block N:` line before it, if any). */
function parseTables(text: string): TextTable[] {
  const lines = text.split("\n");
  const tables: TextTable[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!/^-+(\+-+)*$/.test(lines[i]!)) continue;
    const header = lines[i - 1]!.split(" | ").map((cell) => cell.trim());
    const title = i >= 2 && lines[i - 2]!.endsWith(":") ? lines[i - 2] : undefined;
    const rows: string[][] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j]!.startsWith(" "); j++) {
      rows.push(
        lines[j]!.slice(1)
          .split(" | ")
          .map((cell) => cell.trim()),
      );
    }
    tables.push({ title, header, rows, footer: lines[j] ?? "" });
  }
  return tables;
}

/**
 * SQL for the bytes of block `block` of a relation file, as the file on disk holds them
 * (pg_read_binary_file reads the data directory's files; get_raw_page would read the buffer,
 * whose pd_checksum PostgreSQL leaves unset).
 */
function filePage(pg: PgCluster, file: string, block: string | number): string {
  const relative = path.relative(pg.dataDir, file);
  return `pg_read_binary_file('${relative}', ${block}::bigint * ${BLCKSZ}, ${BLCKSZ})`;
}

/** The rows of a table as objects keyed by header. */
function records(table: TextTable): Record<string, string>[] {
  return table.rows.map((row) => Object.fromEntries(table.header.map((h, i) => [h, row[i] ?? ""])));
}

/**
 * Nothing writes a page behind the test's back: no autovacuum, no background writer, no timed
 * checkpoint. Files change only at the test's CHECKPOINT, so pageinspect on them (and SELECTs,
 * which prune and set hint bits in the buffers) see what pgsim-inspect reads.
 */
const QUIET = {
  autovacuum: "off",
  fsync: "off",
  bgwriter_lru_maxpages: "0",
  checkpoint_timeout: "1h",
};

let withChecksums: PgCluster | undefined;
let withoutChecksums: PgCluster | undefined;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-inspect-pg15-"));

/** Paths and facts of the tables the clusters hold. */
interface Setup {
  items: string;
  itemsBlocks: number;
  itemsPkey: string;
  docs: string;
  docsToast: string;
  docsToastRelid: number;
  late: string;
  lateXmin: number;
  lateCreateXid: number;
  lateColumns: string;
  plain: string;
  itemsColumns: string;
  docsColumns: string;
}
let setup: Setup | undefined;

function cluster(which: "k" | "n"): PgCluster {
  const pg = which === "k" ? withChecksums : withoutChecksums;
  if (pg === undefined) throw new Error("the PostgreSQL 15 clusters did not start");
  return pg;
}

function facts(): Setup {
  if (setup === undefined) throw new Error("the test tables were not created");
  return setup;
}

beforeAll(async () => {
  try {
    [withChecksums, withoutChecksums] = await Promise.all([
      startPgCluster({ dataChecksums: true, settings: QUIET }),
      startPgCluster({ dataChecksums: false, settings: QUIET }),
    ]);
  } catch (error) {
    await Promise.all([withChecksums?.stop(), withoutChecksums?.stop()]);
    throw new Error(
      `this test needs PostgreSQL 15 and never skips (CI=${process.env.CI ?? "unset"}): ` +
        (error as Error).message,
    );
  }
  const k = cluster("k");
  const n = cluster("n");
  // One psql call per statement: psql -c runs a multi-statement string as one transaction, and
  // the test needs separate transactions (and a rolled-back one).
  const statements = {
    k: [
      "CREATE EXTENSION pageinspect",
      "CREATE TABLE items (id int PRIMARY KEY, name text, qty int2, price numeric(8,2), note text)",
      `INSERT INTO items
         SELECT i, 'item ' || i, (i % 100)::int2, i * 1.25,
                CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('n', i % 30) END
           FROM generate_series(1, 2000) i`,
      "UPDATE items SET qty = qty + 1 WHERE id % 10 = 0",
      "DELETE FROM items WHERE id % 13 = 0",
      "BEGIN; INSERT INTO items VALUES (10001, 'rolled back', 1, 1, NULL); ROLLBACK",
      "CREATE TABLE docs (id int, body text, body_lz4 text COMPRESSION lz4)",
      // 1: inline pglz (long runs); 2: short; 3: out of line, not compressible; 4: out of line,
      // pglz; 5: inline lz4; 6: inline pglz of literals and short matches.
      `INSERT INTO docs VALUES
         (1, repeat('abcdefgh', 1000), NULL),
         (2, 'short', 'short too'),
         (3, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i), NULL),
         (4, (SELECT string_agg(md5(i::text) || repeat('x', 40), '') FROM generate_series(1, 400) i), NULL),
         (5, NULL, repeat('lz4 data ', 500)),
         (6, (SELECT string_agg((ARRAY['alpha','beta','gamma','delta','epsilon','zeta'])[1 + abs(hashint4(i) % 6)], ' ')
                FROM generate_series(1, 700) i), NULL)`,
      // items is not read before the checkpoint: its dead tuples stay unpruned and its tuples
      // without hint bits, so rows must consult pg_xact.
      "CREATE TABLE late (id int, label text)",
      "INSERT INTO late VALUES (1, 'one'), (2, 'two')",
      "CHECKPOINT",
    ],
    n: [
      "CREATE TABLE plain (id int, t text)",
      "INSERT INTO plain SELECT i, 'row ' || i FROM generate_series(1, 300) i",
      "SELECT count(*) FROM plain",
      "CHECKPOINT",
    ],
  };
  for (const sql of statements.k) await k.psql(sql);
  for (const sql of statements.n) await n.psql(sql);
  const one = async (sql: string) => (await k.psql(sql)).trim();
  const items = await k.relationFilePath("items");
  const columnsFile = async (table: string) => {
    const file = path.join(scratch, `${table}.columns.json`);
    fs.writeFileSync(file, await one(columnsSql(table)));
    return file;
  };
  setup = {
    items,
    itemsBlocks: fs.statSync(items).size / BLCKSZ,
    itemsPkey: await k.relationFilePath("items_pkey"),
    docs: await k.relationFilePath("docs"),
    docsToast: path.join(
      k.dataDir,
      await one(
        "SELECT pg_relation_filepath(reltoastrelid) FROM pg_class WHERE oid = 'docs'::regclass",
      ),
    ),
    docsToastRelid: Number(
      await one("SELECT reltoastrelid::int FROM pg_class WHERE oid = 'docs'::regclass"),
    ),
    late: await k.relationFilePath("late"),
    // Through pageinspect: a SELECT would set the hint bits this table must not get.
    lateXmin: Number(
      await one("SELECT DISTINCT t_xmin FROM heap_page_items(get_raw_page('late', 0))"),
    ),
    lateCreateXid: Number(await one("SELECT xmin::text FROM pg_class WHERE relname = 'late'")),
    lateColumns: await columnsFile("late"),
    plain: await n.relationFilePath("plain"),
    itemsColumns: await columnsFile("items"),
    docsColumns: await columnsFile("docs"),
  };
}, 240_000);

afterAll(async () => {
  await Promise.all([withChecksums?.stop(), withoutChecksums?.stop()]);
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("pgsim-inspect on a PostgreSQL 15 cluster with data checksums (initdb -k)", () => {
  it("the file holds the server's pages; pd_checksum is set only on the copy that is written", async () => {
    const { items, itemsBlocks } = facts();
    // Enough pages that some checksum is above 32767 (shown negative) but by a 2^-16 chance.
    expect(itemsBlocks).toBeGreaterThanOrEqual(16);
    const raw = await cluster("k").query(
      `SELECT b, encode(get_raw_page('items', b), 'hex') FROM generate_series(0, ${itemsBlocks - 1}) b`,
    );
    const file = fs.readFileSync(items);
    for (const [b, hex] of raw) {
      const block = Number(b);
      const page = Buffer.from(file.subarray(block * BLCKSZ, (block + 1) * BLCKSZ));
      // PageSetChecksumCopy: the buffer keeps whatever pd_checksum it had; the file has the sum.
      const buffer = Buffer.from(hex ?? "", "hex");
      expect(page.readUInt16LE(8)).not.toBe(0);
      buffer.writeUInt16LE(page.readUInt16LE(8), 8);
      expect(buffer.equals(page), `block ${block}`).toBe(true);
    }
  });

  it("page-header --format text: pageinspect's page_header, field by field, block by block", async () => {
    const { items, itemsBlocks } = facts();
    const k = cluster("k");
    const expected = await k.query(
      `SELECT b, (page_header(${filePage(k, items, "b")})).* FROM generate_series(0, ${itemsBlocks - 1}) b`,
    );
    const [table] = parseTables(ok(inspect(["page-header", items, "--format", "text"])));
    expect(table?.header).toEqual([
      "block",
      "lsn",
      "checksum",
      "flags",
      "lower",
      "upper",
      "special",
      "pagesize",
      "version",
      "prune_xid",
      "flag_names",
    ]);
    expect(table?.footer).toBe(`(${itemsBlocks} rows)`);
    const names = ["lsn", "checksum", "flags", "lower", "upper", "special", "pagesize"];
    const got = records(table!);
    expect(got).toHaveLength(expected.length);
    for (const [i, row] of expected.entries()) {
      const [block, ...fields] = row;
      expect(got[i]?.block).toBe(block);
      // page_header: lsn, checksum (smallint), flags, lower, upper, special, pagesize, version,
      // prune_xid.
      for (const [f, name] of [...names, "version", "prune_xid"].entries()) {
        expect(got[i]?.[name], `block ${block} ${name}`).toBe(fields[f]);
      }
    }
    // Some checksums are negative, as pageinspect's smallint shows them.
    expect(expected.some((row) => Number(row[2]) < 0)).toBe(true);
  });

  it("heap-page-items --format text: pageinspect's heap_page_items, field by field", async () => {
    const { items, itemsBlocks } = facts();
    const k = cluster("k");
    const expected = await k.query(
      `SELECT b, h.* FROM generate_series(0, ${itemsBlocks - 1}) b,
              heap_page_items(${filePage(k, items, "b")}) h ORDER BY b, lp`,
    );
    const tables = parseTables(ok(inspect(["heap-page-items", items, "--format", "text"])));
    expect(tables.map((t) => t.title)).toEqual(
      Array.from({ length: itemsBlocks }, (_, b) => `block ${b}:`),
    );
    const columns = [
      "lp",
      "lp_off",
      "lp_flags",
      "lp_len",
      "t_xmin",
      "t_xmax",
      "t_field3",
      "t_ctid",
      "t_infomask2",
      "t_infomask",
      "t_hoff",
      "t_bits",
      "t_oid",
      "t_data",
    ];
    const got: Record<string, string>[] = tables.flatMap((table, block) =>
      records(table).map((record) => ({ block: String(block), ...record })),
    );
    expect(got).toHaveLength(expected.length);
    for (const [i, row] of expected.entries()) {
      const [block, ...fields] = row;
      const mine = got[i]!;
      expect(mine.block).toBe(block);
      for (const [f, name] of columns.entries()) {
        expect(mine[name], `block ${block} lp ${fields[0]} ${name}`).toBe(fields[f] ?? "");
      }
    }
    // The pages hold deleted and updated tuples, not only fresh ones.
    expect(got.filter((r) => r.t_xmax !== "0").length).toBeGreaterThan(100);
  });

  it("checksum: stored and computed checksums equal page_header's and page_checksum's, signed", async () => {
    const { items, itemsBlocks } = facts();
    const k = cluster("k");
    const expected = await k.query(
      `SELECT b, (page_header(${filePage(k, items, "b")})).checksum,
              page_checksum(${filePage(k, items, "b")}, b)
         FROM generate_series(0, ${itemsBlocks - 1}) b`,
    );
    const text = records(parseTables(ok(inspect(["checksum", items, "--format", "text"])))[0]!);
    expect(text.map((r) => [r.block, r.stored, r.computed, r.matches])).toEqual(
      expected.map(([b, stored, computed]) => [b, stored, computed, "t"]),
    );
    const json = JSON.parse(ok(inspect(["checksum", items, "--json"]))) as {
      block: number;
      stored: number;
      computed: number;
    }[];
    expect(json.map((r) => [String(r.block), String(r.stored), String(r.computed)])).toEqual(
      expected.map(([b, stored, computed]) => [b, stored, computed]),
    );
  });

  it("--block and --blocks select blocks by number", () => {
    const { items } = facts();
    const all = records(parseTables(ok(inspect(["page-header", items, "--format", "text"])))[0]!);
    const one = records(
      parseTables(ok(inspect(["page-header", items, "--format", "text", "--block", "2"])))[0]!,
    );
    expect(one).toEqual([all[2]]);
    const range = records(
      parseTables(ok(inspect(["page-header", items, "--format", "text", "--blocks", "1-3"])))[0]!,
    );
    expect(range).toEqual(all.slice(1, 4));
    // A range past the end stops at the last block.
    const tail = JSON.parse(ok(inspect(["page-header", items, "--blocks", "2-999999"]))) as {
      block: number;
    }[];
    expect(tail.map((r) => r.block)).toEqual(all.slice(2).map((r) => Number(r.block)));
  });

  it("rows: what SELECT returns, with pg_xact of the data directory; hidden tuples are counted", async () => {
    const { items, itemsBlocks, itemsColumns } = facts();
    const k = cluster("k");
    const expected = await k.query("SELECT ctid::text, * FROM items ORDER BY items.ctid", {
      settings: OUTPUT_SETTINGS,
    });
    const normal = Number(
      (
        await k.psql(
          `SELECT count(*) FROM generate_series(0, ${itemsBlocks - 1}) b,
                  heap_page_items(${filePage(k, items, "b")}) h WHERE h.lp_flags = 1`,
        )
      ).trim(),
    );
    const json = JSON.parse(ok(inspect(["rows", items, "--columns", itemsColumns]))) as {
      columns: string[];
      rows: unknown[][];
      hidden: { invisible: number; status_unknown: number };
    };
    expect(json.columns).toEqual(["ctid", "id", "name", "qty", "price", "note"]);
    expect(json.rows).toEqual(expected);
    // Deleted rows and the rolled-back insert (the DELETE's scan pruned the old versions of the
    // HOT updates, leaving redirects).
    expect(json.hidden).toEqual({ invisible: normal - expected.length, status_unknown: 0 });
    expect(json.hidden.invisible).toBeGreaterThanOrEqual(Math.floor(2000 / 13) + 1);
    // The text format says the same in psql's shape.
    const text = ok(inspect(["rows", items, "--columns", itemsColumns, "--format", "text"]));
    const [table] = parseTables(text);
    expect(table?.header).toEqual(json.columns);
    expect(table?.footer).toBe(`(${expected.length} rows)`);
    expect(table?.rows.map((row) => row[0])).toEqual(expected.map((row) => row[0]));
    expect(text).toContain(
      `(hidden tuples: ${json.hidden.invisible} invisible (deleted, or inserted by a transaction that did not commit))`,
    );
  });

  it("rows: a missing, short or stale pg_xact hides the tuples it cannot decide, says why, exits 1", () => {
    const { late, lateXmin, lateCreateXid, lateColumns: columns } = facts();
    const k = cluster("k");
    // In the data directory: pg_xact is found and covers the inserting transaction.
    const inside = JSON.parse(ok(inspect(["rows", late, "--columns", columns]))) as {
      rows: unknown[][];
    };
    expect(inside.rows).toEqual([
      ["(0,1)", "1", "one"],
      ["(0,2)", "2", "two"],
    ]);
    const copy = path.join(scratch, "late.bin");
    fs.copyFileSync(late, copy);
    const hidden = (run: Run) => {
      expect(run.status).toBe(1);
      return JSON.parse(run.stdout) as {
        rows: unknown[][];
        hidden: { invisible: number; status_unknown: number };
      };
    };
    // Outside it, with no commit log: the tuples carry no hint bits.
    const none = inspect(["rows", copy, "--columns", columns]);
    expect(hidden(none)).toMatchObject({ rows: [], hidden: { invisible: 0, status_unknown: 2 } });
    expect(stderrLines(none)).toEqual([
      `warning: 2 tuples hidden: the fate of xid ${lateXmin} is written only in the commit log; give --xact (pg_xact or one of its segment files) or the data directory`,
    ]);
    // A pg_xact copied when the cluster was young: it ends before the xid.
    const pgXact = fs.readFileSync(path.join(k.dataDir, "pg_xact", "0000"));
    const short = path.join(scratch, "short-xact");
    fs.writeFileSync(short, pgXact.subarray(0, 64));
    const shortRun = inspect(["rows", copy, "--columns", columns, "--xact", short]);
    expect(hidden(shortRun).hidden.status_unknown).toBe(2);
    expect(stderrLines(shortRun)).toEqual([
      `warning: 2 tuples hidden: pg_xact does not cover xid ${lateXmin} (it ends at xid 255): it is older than the page; copy pg_xact again after the table file (after a CHECKPOINT)`,
    ]);
    // A pg_xact copied before the inserting transaction ended: it reads as in progress there.
    const stale = Buffer.from(pgXact);
    for (let xid = lateXmin; xid < stale.length * 4; xid++) {
      stale[xid >> 2] = stale[xid >> 2]! & ~(3 << ((xid & 3) * 2));
    }
    const staleFile = path.join(scratch, "stale-xact");
    fs.writeFileSync(staleFile, stale);
    const staleRun = inspect(["rows", copy, "--columns", columns, "--xact", staleFile]);
    expect(hidden(staleRun)).toMatchObject({ rows: [], hidden: { status_unknown: 2 } });
    expect(stderrLines(staleRun)).toEqual([
      `warning: 2 tuples hidden: pg_xact records xid ${lateXmin} as in progress, and no transaction after xid ${lateCreateXid} as finished; pg_xact may be older than the page: if the server was not running, copy pg_xact again after the table file (after a CHECKPOINT)`,
    ]);
    // The whole pg_xact directory of the cluster works as --xact too.
    expect(
      ok(inspect(["rows", copy, "--columns", columns, "--xact", path.join(k.dataDir, "pg_xact")])),
    ).toBe(
      `${JSON.stringify({ columns: ["ctid", "id", "label"], rows: inside.rows, hidden: { invisible: 0, status_unknown: 0 } }, null, 2)}\n`,
    );
  });

  it("a B-tree index file is refused with what it looks like", () => {
    const { itemsPkey } = facts();
    for (const command of ["page-header", "heap-page-items", "fsm", "vm"]) {
      const run = inspect([command, itemsPkey]);
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      expect(stderrLines(run)).toEqual([
        `${itemsPkey}: block 0: not a heap page: it looks like a B-tree index page (special space 16 bytes, btpo_flags 0x0008 BTP_META); pgsim-inspect reads heap, free space map and visibility map files`,
      ]);
    }
    const leaf = inspect(["heap-page-items", itemsPkey, "--block", "1", "--format", "text"]);
    expect(leaf.status).toBe(1);
    expect(stderrLines(leaf)[0]).toMatch(
      /block 1: not a heap page: it looks like a B-tree index page \(special space 16 bytes, btpo_flags 0x000[13] BTP_LEAF(\|BTP_ROOT)?\)/,
    );
    const rows = inspect(["rows", itemsPkey, "--columns", facts().itemsColumns]);
    expect(rows.status).toBe(1);
    expect(stderrLines(rows)[0]).toContain("looks like a B-tree index page");
    // checksum works on any page, as pg_checksums does.
    expect(inspect(["checksum", itemsPkey]).status).toBe(0);
  });

  it("TOAST: pglz and lz4 values are decompressed, out-of-line values shown as pointers", async () => {
    const { docs, docsColumns, docsToast, docsToastRelid } = facts();
    const k = cluster("k");
    const expected = await k.query("SELECT ctid::text, * FROM docs ORDER BY docs.ctid");
    const meta = await k.query(
      `SELECT id, pg_column_compression(body), pg_column_size(body), octet_length(body),
              pg_column_compression(body_lz4) FROM docs ORDER BY ctid`,
    );
    // The cases are what the test means them to be.
    expect(meta.map((m) => [m[0], m[1], m[4]])).toEqual([
      ["1", "pglz", null],
      ["2", null, null],
      ["3", null, null],
      ["4", "pglz", null],
      ["5", null, "lz4"],
      ["6", "pglz", null],
    ]);
    const chunkIds = (
      await k.query(
        `SELECT DISTINCT chunk_id::text FROM pg_toast.pg_toast_${await k
          .psql("SELECT 'docs'::regclass::oid")
          .then((s) => s.trim())} ORDER BY 1`,
      )
    ).map((r) => Number(r[0]));
    expect(chunkIds).toHaveLength(2);

    const run = inspect(["rows", docs, "--columns", docsColumns]);
    expect(run.status).toBe(0);
    expect(stderrLines(run)).toEqual([
      "warning: 2 values are stored out of line (TOAST) and shown as their pointers; give --toast with the TOAST table's file to show them",
    ]);
    const json = JSON.parse(run.stdout) as { rows: unknown[][] };
    expect(json.rows).toHaveLength(6);
    for (const [i, row] of json.rows.entries()) {
      const [id, , size, octets] = meta[i]!;
      if (id === "3" || id === "4") {
        expect(row.slice(0, 2)).toEqual(expected[i]!.slice(0, 2));
        expect(row[3]).toEqual(expected[i]![3]);
        const pointer = (row[2] as { toast_pointer: Record<string, unknown> }).toast_pointer;
        expect(pointer).toEqual({
          va_rawsize: Number(octets) + 4,
          va_extsize: Number(size),
          compression: id === "4" ? "pglz" : null,
          va_valueid: expect.any(Number),
          va_toastrelid: docsToastRelid,
        });
        expect(chunkIds).toContain(pointer.va_valueid);
      } else {
        // Inline values, compressed or not, are shown exactly as SELECT shows them.
        expect(row).toEqual(expected[i]);
      }
    }
    // With the TOAST table's file, every value is shown.
    expect(
      JSON.parse(ok(inspect(["rows", docs, "--columns", docsColumns, "--toast", docsToast]))),
    ).toEqual({
      columns: ["ctid", "id", "body", "body_lz4"],
      rows: expected,
      hidden: { invisible: 0, status_unknown: 0 },
    });
    // The text format shows a pointer in words.
    const text = inspect(["rows", docs, "--columns", docsColumns, "--format", "text"]).stdout;
    expect(text).toMatch(
      new RegExp(
        `\\(TOAST pointer: va_valueid \\d+, va_toastrelid ${docsToastRelid}, va_rawsize \\d+, va_extsize \\d+, pglz\\)`,
      ),
    );
  });

  it("one bad value does not fail the command: it is shown as an error, the rest as usual", async () => {
    const { docs, docsColumns } = facts();
    const file = Buffer.from(fs.readFileSync(docs));
    // Corrupt the pglz stream of row 1 (repeat('abcdefgh', 1000)): its first match tag's offset
    // becomes 0 ... 0xf0 pointing before the output's start.
    const expected = await cluster("k").query("SELECT ctid::text, * FROM docs ORDER BY docs.ctid");
    const items = JSON.parse(ok(inspect(["heap-page-items", docs, "--columns", docsColumns]))) as {
      items: { lp: number; lp_off: number; t_hoff: number; attrs: (string | null)[] }[];
    }[];
    const first = items[0]!.items[0]!;
    const body = first.attrs[1]!;
    expect(Number.parseInt(body.slice(0, 2), 16) & 3).toBe(2); // a compressed inline varlena
    const bodyOffset = first.lp_off + first.t_hoff + first.attrs[0]!.length / 2;
    // Byte 8 of the value is the first control byte, 9.. the literals "abcdefgh", then a tag.
    file[bodyOffset + 8] = 0xff; // every item a tag: the first tag has nothing to copy from
    const corrupt = path.join(scratch, "docs-corrupt.bin");
    fs.writeFileSync(corrupt, file);
    const run = inspect([
      "rows",
      corrupt,
      "--columns",
      docsColumns,
      "--ignore-checksum",
      "--xact",
      path.join(cluster("k").dataDir, "pg_xact"),
    ]);
    expect(run.status).toBe(1);
    const json = JSON.parse(run.stdout) as { rows: unknown[][] };
    expect(json.rows[0]).toEqual([
      "(0,1)",
      "1",
      { error: "compressed pglz data is corrupt" },
      null,
    ]);
    expect(json.rows.slice(1).filter((r) => r[0] !== "(0,3)" && r[0] !== "(0,4)")).toEqual(
      expected.slice(1).filter((r) => r[0] !== "(0,3)" && r[0] !== "(0,4)"),
    );
    expect(stderrLines(run)).toContain(
      "warning: 1 value could not be shown: (0,1): compressed pglz data is corrupt",
    );
  });

  it("a segment file .1 is numbered from block 131072, and from pg_control's relseg_size", async () => {
    const { items, itemsBlocks, itemsColumns } = facts();
    const k = cluster("k");
    const file = fs.readFileSync(items);
    const relNumber = path.basename(items);
    // A second segment with 1 GB segments starts at block 131072: the same pages there carry
    // the checksums of those block numbers (PostgreSQL's page_checksum computes them).
    const segment = Buffer.from(file);
    for (let i = 0; i < itemsBlocks; i++) {
      pageSetChecksumInplace(segment.subarray(i * BLCKSZ, (i + 1) * BLCKSZ), 131072 + i);
    }
    const seg1 = path.join(scratch, `${relNumber}.1`);
    fs.writeFileSync(seg1, segment);
    const expected = await k.query(
      `SELECT 131072 + b, page_checksum(${filePage(k, items, "b")}, 131072 + b)
         FROM generate_series(0, ${itemsBlocks - 1}) b`,
    );
    const headers = records(
      parseTables(ok(inspect(["page-header", seg1, "--format", "text"])))[0]!,
    );
    expect(headers.map((h) => [h.block, h.checksum])).toEqual(expected);
    expect(
      JSON.parse(ok(inspect(["page-header", seg1, "--block", String(131072 + 2)]))),
    ).toMatchObject([{ block: 131074 }]);
    const outside = inspect(["page-header", seg1, "--block", "1"]);
    expect(stderrLines(outside)).toEqual([
      `${seg1}: block 1 is out of range: the file holds blocks 131072 to ${131072 + itemsBlocks - 1}`,
    ]);
    // The same bytes under another name are block 0 onwards, and fail verification.
    const renamed = path.join(scratch, "renamed.bin");
    fs.writeFileSync(renamed, segment);
    expect(stderrLines(inspect(["page-header", renamed]))[0]).toMatch(
      /^.*renamed\.bin: block 0: page verification failed, calculated checksum \d+ but expected \d+$/,
    );

    // A real file split at block 2, read with a pg_control saying segments hold 2 blocks.
    const control = decodeControlFile(fs.readFileSync(path.join(k.dataDir, "global/pg_control")));
    const small = path.join(scratch, "pg_control.relseg2");
    fs.writeFileSync(small, encodeControlFile({ ...control.data, relsegSize: 2 }));
    const split = path.join(scratch, "split");
    fs.mkdirSync(split);
    fs.writeFileSync(path.join(split, relNumber), file.subarray(0, 2 * BLCKSZ));
    fs.writeFileSync(path.join(split, `${relNumber}.1`), file.subarray(2 * BLCKSZ, 4 * BLCKSZ));
    const realHeaders = await k.query(
      `SELECT b, (page_header(${filePage(k, items, "b")})).checksum FROM generate_series(2, 3) b`,
    );
    const splitHeaders = records(
      parseTables(
        ok(
          inspect([
            "page-header",
            path.join(split, `${relNumber}.1`),
            "--pg-control",
            small,
            "--format",
            "text",
          ]),
        ),
      )[0]!,
    );
    expect(splitHeaders.map((h) => [h.block, h.checksum])).toEqual(realHeaders);
    const selected = await k.query(
      "SELECT ctid::text, * FROM items WHERE ctid >= '(2,0)' AND ctid < '(4,0)' ORDER BY items.ctid",
      { settings: OUTPUT_SETTINGS },
    );
    const rows = JSON.parse(
      ok(
        inspect([
          "rows",
          path.join(split, `${relNumber}.1`),
          "--pg-control",
          small,
          "--columns",
          itemsColumns,
          "--xact",
          path.join(k.dataDir, "pg_xact"),
        ]),
      ),
    ) as { rows: unknown[][] };
    expect(rows.rows).toEqual(selected);
  });

  it("a closed pipe ends it quietly: no stack trace, no error", async () => {
    const { items } = facts();
    const head = spawn("head", ["-c", "100"], { stdio: ["pipe", "pipe", "inherit"] });
    const headClosed = new Promise((resolve) => head.on("close", resolve));
    let headOut = "";
    head.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      headOut += chunk;
    });
    const child = spawn(process.execPath, [CLI, "heap-page-items", items, "--json"], {
      stdio: ["ignore", head.stdin, "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("close", (code, sig) => resolve([code, sig])),
    );
    await headClosed;
    expect(headOut).toHaveLength(100);
    expect(headOut.startsWith("[\n  {\n")).toBe(true);
    // The output is several times what a pipe holds (64 KB), so the write met the closed pipe.
    expect(ok(inspect(["heap-page-items", items, "--json"])).length).toBeGreaterThan(256 << 10);
    expect(stderr).toBe("");
    expect(signal).toBeNull();
    expect(status).toBe(0);
  });

  it("--help documents the same --columns query as README.md", () => {
    const help = ok(inspect(["rows", "--help"]));
    const match = /-c "(.*)" > COLUMNS\.json/.exec(help);
    const oneLine = (sql: string) => sql.replace(/\s+/g, " ").replace(/\( /g, "(");
    expect(oneLine(match?.[1] ?? "")).toBe(oneLine(columnsSql("TABLE")));
  });

  it("pg-control prints what pg_controldata prints; data checksums on", () => {
    const k = cluster("k");
    const env = { ...process.env, LC_ALL: "C", LANG: "C" };
    const mine = spawnSync(process.execPath, [CLI, "pg-control", k.dataDir, "--format", "text"], {
      encoding: "utf8",
      env,
    });
    const theirs = spawnSync(PG_CONTROLDATA, [k.dataDir], { encoding: "utf8", env });
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(mine.status, mine.stderr).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toContain("Data page checksum version:           1\n");
    // The decoder reads every field, and the encoder writes the very same 8192 bytes back.
    const bytes = new Uint8Array(fs.readFileSync(path.join(k.dataDir, "global/pg_control")));
    const decoded = decodeControlFile(bytes);
    expect(decoded.crcMatches).toBe(true);
    expect(decoded.data.dataChecksumVersion).toBe(1);
    expect(encodeControlFile(decoded.data)).toEqual(bytes);
  });
});

describe("pgsim-inspect on a PostgreSQL 15 cluster without data checksums", () => {
  it("inside the data directory, pg_control says not to verify checksums", () => {
    const { plain } = facts();
    const headers = records(
      parseTables(ok(inspect(["page-header", plain, "--format", "text"])))[0]!,
    );
    expect(headers.length).toBeGreaterThanOrEqual(2);
    expect(headers.every((h) => h.checksum === "0")).toBe(true);
    const checksum = inspect(["checksum", plain]);
    expect(checksum.status).toBe(0);
    expect(stderrLines(checksum)).toEqual([
      "note: pg_control says this cluster runs without data checksums (data_checksum_version 0): stored checksums are not maintained",
    ]);
    const n = cluster("n");
    const relative = path.relative(n.dataDir, plain);
    expect(JSON.parse(ok(inspect(["page-header", relative, "-D", n.dataDir])))).toHaveLength(
      headers.length,
    );
    expect(ok(inspect(["pg-control", n.dataDir, "--format", "text"]))).toContain(
      "Data page checksum version:           0\n",
    );
  });

  it("a copy outside it fails on pd_checksum 0 with a hint naming --ignore-checksum", () => {
    const { plain } = facts();
    const n = cluster("n");
    const copy = path.join(scratch, "plain.bin");
    fs.copyFileSync(plain, copy);
    const run = inspect(["page-header", copy]);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    const lines = stderrLines(run);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(
        `^${copy}: block 0: page verification failed, calculated checksum \\d+ but expected 0$`,
      ),
    );
    expect(lines[1]).toBe(
      "hint: pd_checksum is 0: the cluster probably runs without data checksums (initdb without -k); give its data directory (-D) or its pg_control (--pg-control) to read data_checksum_version, or use --ignore-checksum",
    );
    const control = path.join(scratch, "pg_control.nochecksums");
    fs.copyFileSync(path.join(n.dataDir, "global/pg_control"), control);
    expect(JSON.parse(ok(inspect(["page-header", copy, "--pg-control", control])))).toHaveLength(
      fs.statSync(copy).size / BLCKSZ,
    );
    expect(JSON.parse(ok(inspect(["page-header", copy, "--ignore-checksum"])))).toHaveLength(
      fs.statSync(copy).size / BLCKSZ,
    );
    // The checksum command prints its rows, then the mismatch and the same hint.
    const sums = inspect(["checksum", copy, "--block", "0"]);
    expect(sums.status).toBe(1);
    expect(stderrLines(sums)[1]).toBe(lines[1]);
  });
});
