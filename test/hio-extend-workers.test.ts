/**
 * Concurrent extension of one table by worker-thread backends: four backends insert wide rows
 * (three to a page) through short-lived connections, so the table grows by a page every few
 * inserts and a new connection's first insert tries the table's last page — often a page another
 * backend has only just added. Afterwards every row is there once, no insert failed, and every
 * page is a valid heap page whose line pointers are exactly the rows. Runs for both variants.
 *
 * Models: PostgreSQL 15's hio.c RelationGetBufferForTuple, which locks the new page
 * (ReadBufferBI(P_NEW, RBM_ZERO_AND_LOCK)) before it releases the relation extension lock, so
 * that no other backend can put a tuple on the page before the extender has initialised it.
 * Before pgsim did the same, the extender could find its new page already used and fail with
 * `page N of relation "t" should be empty but is not`, still holding its content locks.
 * See also: workers/extend.ts (the function each backend runs),
 * packages/heap-am/src/access/heap/hio.ts (relationAddBlock).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ForkNumber } from "@pgsim/buffer-manager";
import {
  Cluster,
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  LP_NORMAL,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageVerify,
  readHeapTupleHeader,
} from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import { type InsertAsNewConnectionsArgs, WIDE_ROW_PAD, wideRow } from "./workers/extend.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const extendModule = fileURLToPath(
  new URL(`./workers/extend.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

const BACKENDS = 4;
/** Rows in all; about a third as many pages. */
const ROWS = 6000;
/** Rows per call (one call runs on one backend); 8 clients keep the 4 backends busy. */
const ROWS_PER_CALL = 40;
const CLIENTS = 8;
/** Each new connection inserts this many rows, one transaction each. */
const ROWS_PER_CONNECTION = 2;

/**
 * What is wrong with one page of the table: it must verify (header, and the checksum when asked),
 * hold one to three line pointers, each LP_NORMAL with a wide tuple whose t_ctid is its own TID.
 */
function pageProblems(
  page: Uint8Array,
  block: number,
  options: { checksums: boolean },
): { problems: string[]; items: number } {
  const problems: string[] = [];
  const outcome = pageVerify(page, block, options);
  if (outcome !== "ok") return { problems: [`block ${block}: ${outcome}`], items: 0 };
  const n = pageGetMaxOffsetNumber(page);
  if (n < 1 || n > 3) problems.push(`block ${block}: ${n} line pointers`);
  for (let off = 1; off <= n; off++) {
    const lp = pageGetItemId(page, off);
    if (itemIdGetFlags(lp) !== LP_NORMAL || itemIdGetLength(lp) <= WIDE_ROW_PAD) {
      problems.push(`block ${block} lp ${off}: flags ${itemIdGetFlags(lp)}`);
      continue;
    }
    const { ctid } = readHeapTupleHeader(page, itemIdGetOffset(lp));
    if (ctid.block !== block || ctid.offset !== off) {
      problems.push(`block ${block} lp ${off}: t_ctid (${ctid.block},${ctid.offset})`);
    }
  }
  return { problems, items: n };
}

for (const variant of ["disk", "memory"] as const) {
  describe(`concurrent extension by ${BACKENDS} worker backends [${variant}]`, () => {
    it(`[${variant}] ${ROWS} wide rows from new connections: all present, no error, every page valid`, async () => {
      let dataDir: string | undefined;
      if (variant === "disk") {
        dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-hio-extend-"));
        dirs.push(dataDir);
      }
      const cluster = await Cluster.start({
        variant,
        // Disk: far fewer buffers than pages, so new pages are also evicted and read back.
        bufferCount: variant === "disk" ? 256 : 4096,
        backends: BACKENDS,
        functionsModule: extendModule,
        ...(dataDir !== undefined ? { dataDir, checksums: true } : {}),
      });
      let relNumber = 0;
      try {
        relNumber = cluster.db.createTable("t", [
          { name: "id", type: "int4", notNull: true },
          { name: "backend", type: "int4", notNull: true },
          { name: "pad", type: "text", notNull: true },
        ]).relNumber;
        const calls: InsertAsNewConnectionsArgs[] = [];
        for (let first = 0; first < ROWS; first += ROWS_PER_CALL) {
          calls.push({
            table: "t",
            first,
            count: ROWS_PER_CALL,
            rowsPerConnection: ROWS_PER_CONNECTION,
          });
        }
        let next = 0;
        let inserted = 0;
        const backends = new Set<number>();
        const errors: string[] = [];
        // A client stops at its first error; the others carry on, so that no call is still
        // running when the cluster shuts down.
        await Promise.all(
          Array.from({ length: CLIENTS }, async () => {
            while (next < calls.length && errors.length === 0) {
              const args = calls[next++]!;
              try {
                const r = await cluster.call<{ inserted: number; backends: number[] }>(
                  "insertAsNewConnections",
                  args,
                );
                inserted += r.inserted;
                for (const b of r.backends) backends.add(b);
              } catch (error) {
                errors.push(`rows ${args.first}..: ${(error as Error).message}`);
              }
            }
          }),
        );
        expect(errors).toEqual([]);
        expect(inserted).toBe(ROWS);
        // Many distinct backend slots inserted (each connection takes a free slot).
        expect(backends.size).toBeGreaterThanOrEqual(BACKENDS);

        // Every row is there exactly once, with the contents it was inserted with.
        const tx = cluster.db.begin();
        const rows = tx.scan("t");
        tx.commit();
        expect(rows).toHaveLength(ROWS);
        const ids = rows.map((r) => r.row[0] as number).sort((a, b) => a - b);
        expect(ids).toEqual(Array.from({ length: ROWS }, (_, i) => i));
        for (const { row } of rows) {
          const [id, backend, pad] = row as [number, number, string];
          expect(pad).toBe(wideRow(id, backend)[2]);
        }

        // The table grew page by page: at most three rows a page (a page another backend added
        // may be left part-full: new pages are not in the FSM), no page empty, every page a
        // valid heap page holding only live tuples, the line pointers adding up to the rows.
        const blocks = cluster.db.nblocks("t");
        expect(blocks).toBeGreaterThanOrEqual(Math.ceil(ROWS / 3));
        const pool = cluster.db.pool;
        const locator = cluster.db.table("t").locator;
        let items = 0;
        const problems: string[] = [];
        for (let block = 0; block < blocks; block++) {
          const buffer = pool.readBuffer(locator, ForkNumber.MAIN, block);
          pool.lockBuffer(buffer, "share");
          const page = pool.bufferGetPage(buffer).slice();
          pool.unlockReleaseBuffer(buffer);
          const found = pageProblems(page, block, { checksums: false });
          problems.push(...found.problems);
          items += found.items;
        }
        expect(problems).toEqual([]);
        expect(items).toBe(ROWS);
        expect(cluster.db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
        expect(cluster.db.pool.checkConsistency()).toEqual([]);
      } finally {
        const { leaks } = await cluster.shutdown();
        expect(JSON.stringify(leaks)).toBe("[]");
      }
      if (dataDir !== undefined) {
        // After the shutdown checkpoint the file holds every page, each with a valid checksum.
        const bytes = fs.readFileSync(path.join(dataDir, "base", "5", String(relNumber)));
        expect(bytes.length % 8192).toBe(0);
        let items = 0;
        const problems: string[] = [];
        for (let b = 0; b * 8192 < bytes.length; b++) {
          const page = new Uint8Array(bytes.buffer, bytes.byteOffset + b * 8192, 8192);
          const found = pageProblems(page, b, { checksums: true });
          problems.push(...found.problems);
          items += found.items;
        }
        expect(problems).toEqual([]);
        expect(items).toBe(ROWS);
      }
    }, 240_000);
  });
}
