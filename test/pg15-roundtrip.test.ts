// Round trip into a real PostgreSQL 15: a private cluster (initdb with data checksums, loopback
// only, a free port, a temporary directory) creates a table with every type pgsim supports; the
// server is stopped, the table's file is replaced by one pgsim wrote (several pages of frozen
// tuples with valid checksums), and after a restart PostgreSQL returns exactly pgsim's rows, as
// pgsim's type output functions print them, holds exactly pgsim's bytes in its buffers, and
// amcheck's verify_heapam finds nothing wrong.
//
// PostgreSQL 15 is required: this test never skips. If no server can be started (CI or not), it
// fails with a message saying how to install one (.ci/run installs it when it is missing).

import * as fs from "node:fs";
import type { PgCluster } from "@pgsim/bench";
import {
  createTupleDesc,
  type Datum,
  HEAP_XMIN_FROZEN,
  pageSetChecksumInplace,
  pageVerify,
  readHeapTupleHeader,
  type TupleDesc,
} from "@pgsim/heap-am/internals";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHeapPages, tupleCtids } from "../packages/heap-am/test/heap-page-builder.js";
import {
  ALL_TYPE_COLUMNS,
  columnDefinitions,
  createTableSql,
  sampleRows,
} from "../packages/heap-am/test/pg-type-samples.js";
import { startPg15 } from "./pg15-peer.js";

/** The output settings pgsim's `output` functions print for (as the fixtures' rows.json). */
const OUTPUT_SETTINGS = {
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
  extra_float_digits: "1",
  bytea_output: "hex",
  IntervalStyle: "postgres",
};

/**
 * xmin of every tuple: FrozenTransactionId (2), with the HEAP_XMIN_FROZEN hint bits as well.
 * verify_heapam accepts either alone: a frozen xmin is never compared with relfrozenxid, and xid 2
 * counts as committed; any other xmin would have to lie between the table's relfrozenxid and the
 * next xid of this cluster, which pgsim cannot know when it writes the file.
 */
const FROZEN_XID = 2;

const TABLE = "roundtrip";
/** A control table whose tuples carry an xmin from the future: verify_heapam must object. */
const CONTROL_TABLE = "roundtrip_bad_xmin";
const FUTURE_XID = 1_000_000;

let pg: PgCluster | undefined;

beforeAll(async () => {
  pg = await startPg15({ settings: { autovacuum: "off", fsync: "off" } });
});

afterAll(async () => {
  await pg?.stop();
});

function cluster(): PgCluster {
  if (pg === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
  return pg;
}

/** The rows: every sample value of every type, and rows with NULL patterns. */
function roundTripRows(): (Datum | null)[][] {
  const rows: (Datum | null)[][] = sampleRows(ALL_TYPE_COLUMNS, 48);
  const base = rows[5]!;
  rows.push(base.map(() => null));
  rows.push(base.map((v, i) => (i === 0 ? null : v)));
  rows.push(base.map((v, i) => (i === 7 || i === 8 ? null : v)));
  rows.push(base.map((v, i) => (i % 2 === 1 ? null : v)));
  rows.push(base.map((v, i) => (i === base.length - 1 ? null : v)));
  return rows;
}

/** What pgsim prints for a row: each type's `output` after the column's typmod applies. */
function printedRow(desc: TupleDesc, row: readonly (Datum | null)[]): (string | null)[] {
  return desc.attrs.map((att, i) => {
    const value = row[i] ?? null;
    if (value === null || att.codec === null) return null;
    return att.codec.output(att.codec.coerce(value, att.atttypmod) as never, att.atttypmod);
  });
}

describe("PostgreSQL 15 reads a table file that pgsim wrote", () => {
  const desc = createTupleDesc(columnDefinitions(ALL_TYPE_COLUMNS));
  const rows = roundTripRows();
  const pages = buildHeapPages(desc, [rows], {
    firstXid: FROZEN_XID,
    frozen: true,
    anyPlacement: true,
  });
  const controlPages = buildHeapPages(desc, [rows.slice(0, 3)], { firstXid: FUTURE_XID });
  for (const file of [pages, controlPages]) {
    file.forEach((page, blk) => {
      pageSetChecksumInplace(page, blk);
    });
  }

  it("pgsim's file: several pages, frozen tuples, valid checksums", () => {
    expect(pages.length).toBeGreaterThanOrEqual(3);
    pages.forEach((page, blk) => {
      expect(pageVerify(page, blk)).toBe("ok");
      const lp1 = new DataView(page.buffer, page.byteOffset).getUint32(24, true) & 0x7fff;
      const header = readHeapTupleHeader(page, lp1);
      expect(header.xmin).toBe(FROZEN_XID);
      expect(header.infomask & HEAP_XMIN_FROZEN).toBe(HEAP_XMIN_FROZEN);
    });
  });

  it("after the file is replaced and the server restarted, SELECT returns pgsim's rows", async () => {
    const server = cluster();
    await server.psql(createTableSql(TABLE, ALL_TYPE_COLUMNS));
    await server.psql(createTableSql(CONTROL_TABLE, ALL_TYPE_COLUMNS));
    const files: [string, Uint8Array[]][] = [
      [await server.relationFilePath(TABLE), pages],
      [await server.relationFilePath(CONTROL_TABLE), controlPages],
    ];
    await server.psql("CHECKPOINT");
    await server.stopServer("fast");

    // The new file replaces the empty one (writeFileSync keeps its owner and mode); a stale free
    // space map or visibility map would describe other contents, so none may remain.
    for (const [file, contents] of files) {
      expect(fs.statSync(file).size).toBe(0);
      for (const fork of [`${file}_fsm`, `${file}_vm`]) fs.rmSync(fork, { force: true });
      fs.writeFileSync(file, Buffer.concat(contents));
    }
    await server.startServer();

    const columns = ALL_TYPE_COLUMNS.map((c) => c.name).join(", ");
    const selected = await server.query(
      `SELECT ctid::text AS tid, ${columns} FROM ${TABLE} ORDER BY ctid`,
      { settings: OUTPUT_SETTINGS },
    );
    const ctids = tupleCtids(pages);
    const expected = rows.map((row, i) => [ctids[i] ?? null, ...printedRow(desc, row)]);
    expect(selected).toHaveLength(rows.length);
    // Row by row, so a failure names the row.
    selected.forEach((row, i) => {
      expect(row, `row ${i} at ${ctids[i]}`).toEqual(expected[i]);
    });
  });

  it("the server's buffers hold pgsim's bytes unchanged (no hint bits, no checksum change)", async () => {
    const server = cluster();
    await server.psql("CREATE EXTENSION IF NOT EXISTS pageinspect");
    const blocks = await server.query(
      `SELECT blkno, encode(get_raw_page('${TABLE}', blkno::int), 'hex')
         FROM generate_series(0, pg_relation_size('${TABLE}') / 8192 - 1) AS blkno`,
    );
    expect(blocks.map((b) => b[0])).toEqual(pages.map((_, blk) => String(blk)));
    blocks.forEach(([blk, hex]) => {
      expect(hex, `block ${blk}`).toBe(Buffer.from(pages[Number(blk)]!).toString("hex"));
    });
  });

  it("amcheck's verify_heapam reports nothing", async () => {
    const server = cluster();
    await server.psql("CREATE EXTENSION IF NOT EXISTS amcheck");
    const problems = await server.query(`SELECT * FROM verify_heapam('${TABLE}')`);
    expect(problems).toEqual([]);
    const count = await server.query(`SELECT count(*) FROM ${TABLE}`);
    expect(count).toEqual([[String(rows.length)]]);
  });

  it("verify_heapam does object to tuples whose xmin lies in the future (the check is live)", async () => {
    const server = cluster();
    await server.psql("CREATE EXTENSION IF NOT EXISTS amcheck");
    const problems = await server.query(
      `SELECT blkno, offnum, msg FROM verify_heapam('${CONTROL_TABLE}') ORDER BY offnum`,
    );
    expect(problems.map(([blkno, offnum]) => `(${blkno},${offnum})`)).toEqual([
      "(0,1)",
      "(0,2)",
      "(0,3)",
    ]);
    for (const [, , msg] of problems) {
      expect(msg).toMatch(
        new RegExp(`^xmin ${FUTURE_XID} equals or exceeds next valid transaction ID`),
      );
    }
  });
});
