// EvalPlanQual's fetch of a row's newest version under SnapshotDirty (transaction.ts
// changeRowVersion / fetchNewestVersion), at the moment the race in test/nbtree-workers.test.ts
// ("one row updated by key from 8 clients") hits by chance: the newest version's creator has
// committed in the commit log but is still in the proc array (RecordTransactionCommit comes
// before ProcArrayEndTransaction). The UPDATE must wait for that transaction — here, with both
// backends on one thread, until lock_timeout — and must not take the row as gone (an UPDATE that
// silently updates nothing loses the row's increment). Once the creator has left the proc array,
// the same UPDATE changes the newest version.

import { afterAll, describe, expect, it } from "vitest";
import { Database } from "../src/index.js";
import { clogSetStatus, TRANSACTION_STATUS_COMMITTED } from "../src/internals.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(() => removeDbDirs());

const COLUMNS = [
  { name: "id", type: "int4" },
  { name: "n", type: "int4" },
];

for (const variant of ["memory", "disk"] as const) {
  describe(`EvalPlanQual (${variant})`, () => {
    it("waits for the newest version's creator still leaving the proc array, then updates that version", () => {
      const db = makeDb(variant, 64, { lockTimeoutMs: 200 });
      db.createTable("t", COLUMNS);
      const setup = db.begin();
      const v1 = setup.insert("t", [1, 0]);
      setup.commit();
      const a = Database.attach(db.shared);
      const b = Database.attach(db.shared);
      try {
        // T1 updates v1 to v2 (n = 1), not committed yet.
        const t1 = a.begin();
        const v2 = t1.update("t", v1, [1, 1])!;
        const increment = (row: readonly unknown[]) => [row[0], (row[1] as number) + 1];
        let t2: ReturnType<Database["begin"]> | undefined;
        const client = db.begin({ isolation: "read committed" });
        // The client's UPDATE sees v1 (its statement's snapshot predates T1's commit). Before it
        // changes v1, T1 commits, T2 updates v2 to v3 (n = 2) and T2's commit is in the commit
        // log only: T2 is still in the proc array.
        const run = () =>
          client.update("t", v1, increment as never, {
            where: () => {
              if (t2 === undefined) {
                t1.commit();
                t2 = b.begin();
                t2.update("t", v2, [1, 2]);
                clogSetStatus(b.transam.shmem, t2.xid, TRANSACTION_STATUS_COMMITTED);
              }
              return true;
            },
          });
        // The walk by commit status reaches v3; SnapshotDirty reports T2 as running, and the
        // UPDATE waits for it (lock_timeout ends the wait here) instead of updating nothing.
        expect(run).toThrow(
          expect.objectContaining({
            code: "lock-timeout",
            message: "canceling statement due to lock timeout",
          }),
        );
        expect(client.state).toBe("aborted");
        // T2 leaves the proc array; now an UPDATE through the old TID reaches v3 and increments it.
        // (Its commit log entry goes back to "in progress" first: commit() records it again.)
        const shmem = b.transam.shmem;
        Atomics.and(shmem.w, shmem.clog + (t2!.xid >>> 4), ~(3 << ((t2!.xid & 15) * 2)));
        t2!.commit();
        const again = db.begin({ isolation: "read committed" });
        expect(again.update("t", v1, increment as never)).toBeUndefined(); // v1 is dead to it
        const newest = again.scan("t");
        expect(newest.map((r) => r.row)).toEqual([[1, 2]]);
        expect(again.update("t", newest[0]!.tid, increment as never)).toBeDefined();
        again.commit();
        const check = a.begin();
        expect(check.scan("t").map((r) => r.row)).toEqual([[1, 3]]);
        check.commit();
      } finally {
        a.close();
        b.close();
        db.close();
      }
    });
  });
}
