// pgsim-inspect reads a pgsim disk-backed data directory as it reads a PostgreSQL one: the pool
// writes global/pg_control (PostgreSQL 15's layout; pg_controldata reads it without a CRC
// warning) saying whether pages carry checksums, a checkpoint writes pg_xact, and relation files
// and their segments are where PostgreSQL puts them. Runs with data checksums on and off, with
// small segments so that the table spans `.1` and `.2` files.
//
// pg_controldata (PostgreSQL 15) is required: this test never skips.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { relationPath } from "@pgsim/buffer-manager";
import { Database, pgAttributeRows } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../packages/heap-am/dist/inspect/cli.js", import.meta.url));
const PG_CONTROLDATA = "/usr/lib/postgresql/15/bin/pg_controldata";
const SEGMENT_BLOCKS = 4;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Run {
  const result = spawnSync(file, args, {
    encoding: "utf8",
    env: { ...process.env, LC_ALL: "C", LANG: "C" },
    maxBuffer: 64 << 20,
  });
  if (result.error !== undefined) {
    throw new Error(`${file} did not run (PostgreSQL 15 is required): ${result.error.message}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const inspect = (args: string[]) => run(process.execPath, [CLI, ...args]);

function ok(result: Run): string {
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return result.stdout;
}

/** A disk-backed database with one table spanning several segments; what SELECT would show. */
function makeDatabase(checksums: boolean) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-inspect-datadir-"));
  dirs.push(dataDir);
  const db = Database.create({
    variant: "disk",
    bufferCount: 32,
    dataDir,
    checksums,
    segmentBlocks: SEGMENT_BLOCKS,
  });
  db.createTable("accounts", [
    { name: "aid", type: "int4", notNull: true },
    { name: "owner", type: "text" },
    { name: "balance", type: "numeric" },
  ]);
  const load = db.begin();
  const tids = load.insertMany(
    "accounts",
    Array.from({ length: 1500 }, (_, i) => [
      i + 1,
      i % 9 === 0 ? null : `owner ${i + 1}`,
      `${i}.50`,
    ]),
  );
  load.commit();
  const change = db.begin();
  for (const [i, tid] of tids.entries()) {
    if (i % 11 === 0) change.delete("accounts", tid);
    else if (i % 7 === 0)
      change.update("accounts", tid, (row) => [row[0] ?? null, row[1] ?? null, "0.00"]);
  }
  change.commit();
  const rolledBack = db.begin();
  rolledBack.insert("accounts", [99999, "never", "1"]);
  rolledBack.abort();
  db.checkpoint();
  const reader = db.begin();
  const visible = reader
    .scan("accounts")
    .map(({ tid, row }) => [
      `(${tid.block},${tid.offset})`,
      String(row[0]),
      row[1] === null ? null : String(row[1]),
      String(row[2]),
    ]);
  reader.commit();
  const table = db.table("accounts");
  const main = path.join(dataDir, relationPath(table.locator, 0));
  const columns = path.join(dataDir, "accounts.columns.json");
  fs.writeFileSync(columns, JSON.stringify({ columns: pgAttributeRows(table.desc) }));
  const blocks = db.nblocks("accounts");
  db.close();
  return { dataDir, main, columns, visible, blocks };
}

describe.each([true, false])("a pgsim data directory, data checksums %s", (checksums) => {
  const { dataDir, main, columns, visible, blocks } = makeDatabase(checksums);

  it("has a pg_control that pg_controldata reads, and pgsim-inspect prints the same", () => {
    const theirs = run(PG_CONTROLDATA, [dataDir]);
    expect(theirs.stderr).toBe("");
    expect(theirs.status).toBe(0);
    expect(theirs.stdout).toContain(`Data page checksum version:           ${checksums ? 1 : 0}\n`);
    expect(theirs.stdout).toContain(`Blocks per segment of large relation: ${SEGMENT_BLOCKS}\n`);
    expect(theirs.stdout).toContain("Database block size:                  8192\n");
    expect(ok(inspect(["pg-control", dataDir, "--format", "text"]))).toBe(theirs.stdout);
  });

  it("its relation files read as PostgreSQL's: segments numbered from their first block", () => {
    expect(blocks).toBeGreaterThan(2 * SEGMENT_BLOCKS);
    const segments = Math.ceil(blocks / SEGMENT_BLOCKS);
    const seen: number[] = [];
    for (let segno = 0; segno < segments; segno++) {
      const file = segno === 0 ? main : `${main}.${segno}`;
      const headers = JSON.parse(ok(inspect(["page-header", file]))) as {
        block: number;
        checksum: number;
      }[];
      seen.push(...headers.map((h) => h.block));
      // With checksums the pages carry them (verified at these block numbers); without, zero.
      if (!checksums) expect(headers.every((h) => h.checksum === 0)).toBe(true);
      const sums = inspect(["checksum", file]);
      expect(sums.status).toBe(0);
      if (checksums) {
        expect(sums.stderr).toBe("");
        const rows = JSON.parse(sums.stdout) as { matches: boolean }[];
        expect(rows.every((s) => s.matches)).toBe(true);
      } else {
        // Without data checksums, pg_control tells pgsim-inspect not to hold pages to them.
        expect(sums.stderr).toBe(
          "pgsim-inspect: note: pg_control says this cluster runs without data checksums (data_checksum_version 0): stored checksums are not maintained\n",
        );
      }
    }
    expect(seen).toEqual(Array.from({ length: blocks }, (_, b) => b));
  });

  it("rows, with the columns pgAttributeRows wrote and the pg_xact a checkpoint wrote, equal a scan", () => {
    expect(fs.existsSync(path.join(dataDir, "pg_xact", "0000"))).toBe(true);
    const segments = Math.ceil(blocks / SEGMENT_BLOCKS);
    const rows: unknown[] = [];
    let invisible = 0;
    for (let segno = 0; segno < segments; segno++) {
      const file = segno === 0 ? main : `${main}.${segno}`;
      const out = JSON.parse(ok(inspect(["rows", file, "--columns", columns]))) as {
        columns: string[];
        rows: unknown[];
        hidden: { invisible: number; status_unknown: number };
      };
      expect(out.columns).toEqual(["ctid", "aid", "owner", "balance"]);
      expect(out.hidden.status_unknown).toBe(0);
      rows.push(...out.rows);
      invisible += out.hidden.invisible;
    }
    expect(rows).toEqual(visible);
    // Deleted rows, old versions of updated ones and the rolled-back insert are still on disk.
    expect(invisible).toBeGreaterThanOrEqual(Math.ceil(1500 / 11) + 1);
  });
});
