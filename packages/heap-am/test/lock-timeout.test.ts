// lock_timeout (Database option `lockTimeoutMs`): every wait for another transaction — a row lock,
// an UPDATE or DELETE of a row another transaction changed and has not committed, a unique check
// waiting for the inserter of an equal key — ends after it with PostgreSQL's error "canceling
// statement due to lock timeout" (SQLSTATE 55P03), and the statement's transaction aborts; the
// transaction that held the row is unharmed. Out-of-range values are refused with the GUC's
// message. Both backends run on this thread (Database.attach), so only a timeout can end a wait.

import { afterAll, describe, expect, it } from "vitest";
import { Database } from "../src/index.js";
import { makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(() => removeDbDirs());

const COLUMNS = [
  { name: "id", type: "int4" },
  { name: "v", type: "int4" },
];

const LOCK_TIMEOUT = expect.objectContaining({
  code: "lock-timeout",
  message: "canceling statement due to lock timeout",
  detail: expect.objectContaining({ sqlstate: "55P03" }),
});

for (const variant of ["memory", "disk"] as const) {
  describe(`lock_timeout (${variant})`, () => {
    it("a row lock, an UPDATE and a DELETE waiting for an uncommitted update give up after lockTimeoutMs", () => {
      const db = makeDb(variant, 64, { lockTimeoutMs: 150 });
      db.createTable("t", COLUMNS);
      const setup = db.begin();
      const tid = setup.insert("t", [1, 10]);
      setup.commit();
      const other = Database.attach(db.shared);
      try {
        const holder = db.begin();
        holder.update("t", tid, [1, 11]);
        for (const statement of [
          (tx: ReturnType<Database["begin"]>) => tx.lockRow("t", tid),
          (tx: ReturnType<Database["begin"]>) => tx.update("t", tid, [1, 99]),
          (tx: ReturnType<Database["begin"]>) => tx.delete("t", tid),
        ]) {
          const waiter = other.begin({ isolation: "read committed" });
          const start = Date.now();
          expect(() => statement(waiter)).toThrow(LOCK_TIMEOUT);
          const waitedMs = Date.now() - start;
          expect(waitedMs).toBeGreaterThanOrEqual(150);
          expect(waitedMs).toBeLessThan(10_000);
          // The error aborted the waiter's transaction, as any error in a statement does.
          expect(waiter.state).toBe("aborted");
        }
        holder.commit();
        const check = other.begin();
        expect(check.scan("t").map((r) => r.row)).toEqual([[1, 11]]);
        check.commit();
      } finally {
        other.close();
        db.close();
      }
    });

    it("a unique check waiting for the inserter of an equal key gives up after lockTimeoutMs", () => {
      const db = makeDb(variant, 64, { lockTimeoutMs: 150 });
      db.createTable("t", COLUMNS);
      db.createIndex("t_pkey", "t", { columns: ["id"], unique: true });
      const other = Database.attach(db.shared);
      try {
        const holder = db.begin();
        holder.insert("t", [7, 70]);
        const waiter = other.begin();
        const start = Date.now();
        expect(() => waiter.insert("t", [7, 71])).toThrow(LOCK_TIMEOUT);
        expect(Date.now() - start).toBeGreaterThanOrEqual(150);
        expect(waiter.state).toBe("aborted");
        holder.commit();
        const check = other.begin();
        expect(check.scan("t").map((r) => r.row)).toEqual([[7, 70]]);
        check.commit();
      } finally {
        other.close();
        db.close();
      }
    });
  });
}

describe("lockTimeoutMs", () => {
  it.each([
    [-1, '-1 ms is outside the valid range for parameter "lock_timeout" (0 .. 2147483647)'],
    [1.5, '1.5 ms is outside the valid range for parameter "lock_timeout" (0 .. 2147483647)'],
    [
      2147483648,
      '2147483648 ms is outside the valid range for parameter "lock_timeout" (0 .. 2147483647)',
    ],
  ])("refuses %s with PostgreSQL's range message", (value, message) => {
    expect(() => makeDb("memory", 16, { lockTimeoutMs: value })).toThrow(
      expect.objectContaining({ code: "invalid-option", message }),
    );
  });

  it("0 (PostgreSQL's default) is accepted: no timeout", () => {
    const db = makeDb("memory", 16, { lockTimeoutMs: 0 });
    db.createTable("t", COLUMNS);
    const tx = db.begin();
    tx.insert("t", [1, 1]);
    tx.commit();
    db.close();
  });
});
