// PostgreSQL 15's pg_waldump reads the B-tree records pgsim writes when indexes grow by inserts
// (issue 16, WAL of insertion): INSERT_LEAF, INSERT_UPPER, INSERT_POST, SPLIT_L, SPLIT_R,
// NEWROOT, DEDUP and DELETE, in a WAL that also holds the heap's records, full-page images after
// a checkpoint and the index's creation. pg_waldump decodes every record to the end of the WAL
// with no complaint, and prints, line for line (and with -b, block reference by block reference),
// what pgsim's own description of the same records says — so the record formats (main data,
// registered blocks and their data) are PostgreSQL's. Crash recovery of the same records is
// packages/heap-am/test/nbtree-insert.test.ts.
//
// PostgreSQL 15 is required: this test never skips.

import { ForkNumber } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { RM_BTREE_ID } from "../packages/heap-am/src/access/transam/rmgr.js";
import { formatWalDumpRecord } from "../packages/heap-am/src/access/transam/xlog-desc.js";
import { formatLsn } from "../packages/heap-am/src/access/transam/xlogdefs.js";
import { type Database, makeSlot, tableTupleInsert } from "../packages/heap-am/src/index.js";
import {
  btInsert,
  btPageGetOpaque,
  itemIdGetLength,
  itemIdGetOffset,
  LP_DEAD,
  makeItemId,
  pageGetItemId,
  pageSetItemId,
  pFirstDataKey,
  type XLogBackend,
} from "../packages/heap-am/src/internals.js";
import { makeDb, removeDbDirs } from "../packages/heap-am/test/db-helpers.js";
import { enableWal, removeTempDirs } from "../packages/heap-am/test/wal-support.js";
import { pg15Waldump } from "./pg15-peer.js";

afterAll(() => {
  removeDbDirs();
  removeTempDirs();
});

type Row = (number | string | null)[];

describe("pg_waldump reads the B-tree records pgsim writes", () => {
  it("every record of a growing index, printed exactly as pgsim describes it (and with -b)", () => {
    const db: Database = makeDb("disk", 512);
    db.createTable("t", [
      { name: "id", type: "int4" },
      { name: "v", type: "int4" },
      { name: "note", type: "text" },
    ]);
    const wal = enableWal([db]);
    db.createIndex("t_id", "t", { columns: ["id"] });
    db.createIndex("t_v_note", "t", { columns: ["v", { name: "note", desc: true }] });
    db.createIndex("t_v", "t", { columns: ["v"] });
    const xlog = (db as unknown as { ctx: { xlog: XLogBackend } }).ctx.xlog;
    let seed = 4242;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let lastLeaf = 1;
    const insert = (rows: Row[], options: { backwards?: boolean; deadAt?: number } = {}) => {
      const tx = db.begin();
      // The heap tuples through the table AM alone (INSERT would add the index entries itself):
      // the entries are added below with btInsert, some backwards, some after LP_DEAD marks.
      const rel = db.table("t");
      const tids = rows.map((row) => {
        const slot = makeSlot(row);
        tableTupleInsert(rel, slot, tx.xact);
        return slot.tid!;
      });
      const indexes = db.indexes("t").map((d) => db.index(d.name));
      rows.forEach((_, n) => {
        const i = options.backwards === true ? rows.length - 1 - n : n;
        if (n === options.deadAt) {
          // As kill_prior_tuple would: three items of the leaf the last t_id key went to.
          const buf = db.pool.readBuffer(db.index("t_id").locator, ForkNumber.MAIN, lastLeaf);
          db.pool.lockBuffer(buf, "exclusive");
          const page = db.pool.bufferGetPage(buf);
          const first = pFirstDataKey(btPageGetOpaque(page));
          for (let off = first; off < first + 3; off++) {
            const id = pageGetItemId(page, off);
            pageSetItemId(page, off, makeItemId(itemIdGetOffset(id), LP_DEAD, itemIdGetLength(id)));
          }
          db.pool.markBufferDirty(buf);
          db.pool.unlockReleaseBuffer(buf);
        }
        for (const index of indexes) {
          const values = index.columns.map((c) => rows[i]![c.heapAttIndex] ?? null);
          const r = btInsert({
            pool: db.pool,
            index,
            tableName: "t",
            values,
            tid: tids[i]!,
            xlog,
            xid: tx.xid,
          });
          if (index.name === "t_id") lastLeaf = r.block;
        }
      });
      tx.commit();
    };
    insert(
      Array.from({ length: 2000 }, (_, i) => [
        Math.floor(rand() * 100_000),
        i % 5,
        `${"n".repeat(Math.floor(rand() * 40))}${i}`,
      ]),
    );
    wal.checkpoint();
    insert(
      Array.from({ length: 1500 }, (_, i) => [100_000 + i, i % 5, `m${i % 30}`]),
      { backwards: true, deadAt: 400 },
    );

    const records = wal.allRecords();
    const counts = new Map<string, number>();
    for (const r of records.filter((x) => x.header.rmid === RM_BTREE_ID)) {
      const id = formatWalDumpRecord(r).replace(/.*desc: (\S+).*/, "$1");
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    for (const id of [
      "INSERT_LEAF",
      "INSERT_UPPER",
      "INSERT_POST",
      "SPLIT_L",
      "SPLIT_R",
      "NEWROOT",
      "DEDUP",
      "DELETE",
    ]) {
      expect(counts.get(id) ?? 0, id).toBeGreaterThan(0);
    }
    // Full-page images of index pages after the checkpoint.
    expect(
      records.some((r) => r.header.rmid === RM_BTREE_ID && r.blocks.some((b) => b.image !== null)),
    ).toBe(true);

    const last = records.at(-1)!;
    const out = pg15Waldump(["-p", wal.walDir, "-s", formatLsn(records[0]!.lsn)]);
    expect(out.stderr.trim()).toBe(
      `pg_waldump: error: error in WAL record at ${formatLsn(last.lsn)}: ` +
        `invalid record length at ${formatLsn(last.endLsn)}: wanted 24, got 0`,
    );
    const lines = out.stdout.trimEnd().split("\n");
    expect(lines.length).toBe(records.length);
    records.forEach((r, i) => {
      if (lines[i] !== formatWalDumpRecord(r)) {
        expect({ record: i, line: lines[i] }).toEqual({ record: i, line: formatWalDumpRecord(r) });
      }
    });
    // The reference's examples (§11) have the same shape.
    expect(
      lines.some((l) =>
        /desc: SPLIT_R level 0, firstrightoff \d+, newitemoff \d+, postingoff 0/.test(l),
      ),
    ).toBe(true);
    expect(lines.some((l) => /desc: NEWROOT lev 1/.test(l))).toBe(true);
    expect(
      lines.some((l) => /desc: DELETE latestRemovedXid 0; ndeleted 3; nupdated 0/.test(l)),
    ).toBe(true);
    const detailed = pg15Waldump(["-b", "-p", wal.walDir, "-s", formatLsn(records[0]!.lsn)]);
    const expected = `${records.map((r) => formatWalDumpRecord(r, { detailed: true })).join("\n")}\n`;
    if (detailed.stdout !== expected) {
      const a = detailed.stdout.split("\n");
      const b = expected.split("\n");
      const i = a.findIndex((line, k) => line !== b[k]);
      expect({ line: i, got: a[i] }).toEqual({ line: i, got: b[i] });
    }
    db.close();
  }, 120_000);
});
