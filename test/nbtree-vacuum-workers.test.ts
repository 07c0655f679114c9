/**
 * VACUUM of a B-tree while other worker backends split its leaves: PostgreSQL's vacuum cycle ids
 * in shared memory. One backend VACUUMs a table with a unique index while three others insert
 * keys that split leaves the VACUUM's index scan has not reached yet; the right halves of those
 * splits take recycled pages at blocks the scan has already passed, so the dead entries a split
 * moves there would be missed — and their heap line pointers reused — unless the split records
 * the running VACUUM's cycle id and btvacuumpage goes back for them (nbtinsert.ts's split,
 * nbtvacuum.ts's btvacuumpage, nbtutils-shmem.ts's shared table).
 *
 * Every round has a table of its own: ids 10, 20, …, an index built packed (fillfactor 100, so
 * that one insert splits a leaf), its lower half deleted and vacuumed until those leaves are
 * recycled in the index's FSM, then a seeded third of the upper half deleted. One backend
 * VACUUMs; the others wait until its first heap pass has reached the last block with dead rows
 * and then insert new keys, in seeded order, into the gaps of the upper half. Once nothing runs,
 * a second VACUUM removes what the first could not, and the index must hold exactly the heap's
 * live rows (the structural check's count of heap TIDs, and an index scan against a heap scan):
 * an entry that survived its row points at an unused or reused line pointer. Leaves marked
 * BTP_SPLIT_END show that splits did run during the VACUUM's index scan. Both variants.
 *
 * PGSIM_NBTREE_VACUUM_ROUNDS (default 1; one round misses a hundred or more entries without cycle ids) and PGSIM_NBTREE_VACUUM_SEED run it longer or with
 * another seed.
 *
 * See also: workers/nbtree-vacuum.ts (what the backends run), packages/heap-am/test/
 * nbtree-vacuum-cycleid.test.ts (the same split, step by step, in one thread).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "@pgsim/clock-sweep";
import { Cluster, type Database } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const functionsModule = fileURLToPath(
  new URL(
    `./workers/nbtree-vacuum.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`,
    import.meta.url,
  ),
);

const ROWS = 10_000;
const ROUNDS = Number(process.env.PGSIM_NBTREE_VACUUM_ROUNDS ?? 1);
const SEED = Number(process.env.PGSIM_NBTREE_VACUUM_SEED ?? 20261202);
const INSERTERS = 3;
const KEYS_PER_CALL = 16;
/** Keys 10, 20, …, TOP: the lower half (≤ LOW) is deleted up front so its leaves get recycled. */
const LOW = 5 * ROWS;
const TOP = 10 * ROWS;
const BTP_SPLIT_END = 0x20;

/** Deletes the rows of `table` whose key passes `pred`; returns how many and the last block. */
function deleteWhere(db: Database, table: string, pred: (k: number) => boolean) {
  const tx = db.begin();
  let n = 0;
  let lastBlock = 0;
  for (const r of tx.scan(table)) {
    if (pred(r.row[0] as number)) {
      tx.delete(table, r.tid);
      n++;
      lastBlock = Math.max(lastBlock, r.tid.block);
    }
  }
  tx.commit();
  return { n, lastBlock };
}

/** A table of its own for one round, its index's lower half recycled (see the header). */
function setupRound(db: Database, table: string, index: string): void {
  db.createTable(table, [{ name: "k", type: "int4", notNull: true }]);
  let tx = db.begin();
  tx.insertRows(
    table,
    Array.from({ length: ROWS }, (_, i) => [10 * (i + 1)]),
  );
  tx.commit();
  db.createIndex(index, table, { columns: ["k"], unique: true, fillfactor: 100 });
  deleteWhere(db, table, (k) => k <= LOW);
  db.vacuum(table, { indexCleanup: "on" });
  // A transaction moves the horizon past the deleted pages' safexid: the next VACUUM recycles them.
  tx = db.begin();
  tx.insertRows("x", [[1]]);
  tx.commit();
  const recycled = db.vacuum(table, { indexCleanup: "on" }).indexes![0]!.stats;
  expect(recycled.pagesFree).toBeGreaterThan(5);
}

for (const variant of ["memory", "disk"] as const) {
  describe(`VACUUM of a B-tree while ${INSERTERS} worker backends split its leaves [${variant}]`, () => {
    it(`[${variant}] ${ROUNDS} rounds (seed ${SEED}): after each, the index holds exactly the live rows`, async () => {
      let dataDir: string | undefined;
      if (variant === "disk") {
        dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-nbtree-vacuum-"));
        dirs.push(dataDir);
      }
      const cluster = await Cluster.start({
        variant,
        bufferCount: 4096,
        backends: INSERTERS + 1,
        functionsModule,
        ...(dataDir !== undefined ? { dataDir } : {}),
      });
      try {
        const db = cluster.db;
        db.createTable("x", [{ name: "i", type: "int4" }]);
        const random = mulberry32(SEED);
        let splitEnd = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const table = `t${round}`;
          const index = `${table}_k`;
          setupRound(db, table, index);
          const deleted = deleteWhere(db, table, (k) => k > LOW && random() < 1 / 3);
          expect(deleted.n).toBeGreaterThan(0);
          // New keys in the gaps of the upper half, in a seeded order: each first insert into a
          // packed leaf splits it.
          const keys: number[] = [];
          for (let k = LOW + 5; k < TOP; k += 10) keys.push(k);
          for (let i = keys.length - 1; i > 0; i--) {
            const j = Math.floor(random() * (i + 1));
            [keys[i], keys[j]] = [keys[j]!, keys[i]!];
          }
          let next = 0;
          let vacuumDone = false;
          const vacuum = cluster
            .call<{ tuplesRemoved: number; indexScans: number }>("vacuumTable", { table })
            .finally(() => {
              vacuumDone = true;
            });
          const inserted = await Promise.all(
            Array.from({ length: INSERTERS }, async () => {
              let n = 0;
              for (let call = 0; !vacuumDone && next < keys.length; call++) {
                const chunk = keys.slice(next, next + KEYS_PER_CALL);
                next += KEYS_PER_CALL;
                n += await cluster.call<number>("insertKeys", {
                  table,
                  keys: chunk,
                  perTransaction: 4,
                  ...(call === 0 ? { afterDeadOn: deleted.lastBlock } : {}),
                });
              }
              return n;
            }),
          );
          const v = await vacuum;
          expect(v.indexScans).toBe(1);
          expect(inserted.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
          // Nothing runs now: a second VACUUM removes whatever the first could not (rows a
          // running insert's snapshot still needed). Then the index must hold exactly the live rows.
          db.vacuum(table, { indexCleanup: "on" });
          const check = db.begin();
          const heap = check
            .scan(table)
            .map((r) => r.row[0] as number)
            .sort((a, b) => a - b);
          const byIndex = check.indexScan(index).map((r) => r.row[0] as number);
          check.commit();
          expect(
            db.btIndexCheck(index, { parent: true }).heapTids,
            `round ${round}: heap TIDs in ${index} vs live rows`,
          ).toBe(heap.length);
          expect(byIndex, `round ${round}: an index scan returns the heap's rows`).toEqual(heap);
          for (let b = 1; b < db.indexNblocks(index); b++) {
            const s = db.btPageStats(index, b);
            if (s.type === "l" && (s.btpo_flags & BTP_SPLIT_END) !== 0) splitEnd++;
          }
        }
        // The race did happen: leaves split during a VACUUM's index scan carry BTP_SPLIT_END
        // (no other split sets it).
        expect(splitEnd).toBeGreaterThan(0);
      } finally {
        await cluster.shutdown();
      }
    }, 120_000);
  });
}
