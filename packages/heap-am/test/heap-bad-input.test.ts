/**
 * Bad input to the heap API gets a typed error with a clear message, and nothing stored changes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { type Database, PgsimError } from "../src/index.js";
import { ACCOUNTS, HEAP_AMS, makeDb, removeDbDirs } from "./db-helpers.js";

afterAll(removeDbDirs);

function expectError(fn: () => unknown, code: string, message: string | RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected PgsimError ${code}`).toBeInstanceOf(PgsimError);
  expect((err as PgsimError).code).toBe(code);
  expect((err as PgsimError).message).toMatch(message);
}

function snapshotOf(db: Database) {
  const tx = db.begin();
  const rows = tx.scan("accounts");
  tx.commit();
  return {
    rows,
    pages: db.pageItems("accounts"),
    tables: db.catalog.list().map((t) => t.name),
    consistent: db.pool.checkConsistency(),
  };
}

for (const { am, variant } of HEAP_AMS) {
  describe(`bad input [${am}]`, () => {
    it(`[${am}] every bad call is a typed error and leaves stored data as it was`, () => {
      const db = makeDb(variant, 64);
      db.createTable("accounts", ACCOUNTS);
      let tx = db.begin();
      const tid = tx.insert("accounts", [1, 100]);
      tx.commit();
      const before = snapshotOf(db);
      expect(before.consistent).toEqual([]);

      const inTx = (body: (t: ReturnType<Database["begin"]>) => unknown) => () => {
        const t = db.begin();
        try {
          body(t);
        } finally {
          // A failed statement aborts the transaction, as in PostgreSQL.
          expect(t.state).toBe("aborted");
        }
      };
      const cases: [string, () => unknown, string, string | RegExp][] = [
        [
          "a string into int4",
          inTx((t) => t.insert("accounts", [2, "lots"])),
          "datatype-mismatch",
          /integer|int4/,
        ],
        [
          "a bigint into int4",
          inTx((t) => t.insert("accounts", [2, 5n])),
          "datatype-mismatch",
          /integer|int4/,
        ],
        [
          "an int4 out of range",
          inTx((t) => t.insert("accounts", [2, 2 ** 31])),
          "numeric-value-out-of-range",
          /out of range/,
        ],
        [
          "NULL into NOT NULL",
          inTx((t) => t.insert("accounts", [2, null])),
          "not-null-violation",
          'null value in column "abalance" of relation "accounts" violates not-null constraint',
        ],
        [
          "too few values",
          inTx((t) => t.insert("accounts", [2])),
          "wrong-column-count",
          /has 2 columns, but 1 values/,
        ],
        [
          "an unknown table",
          inTx((t) => t.insert("nope", [1, 1])),
          "undefined-table",
          'relation "nope" does not exist',
        ],
        [
          "a fractional block",
          inTx((t) => t.fetch("accounts", { block: 0.5, offset: 1 })),
          "invalid-tid",
          /invalid tid \(0\.5,1\) for relation "accounts"/,
        ],
        [
          "a negative offset",
          inTx((t) => t.update("accounts", { block: 0, offset: -1 }, [1, 1])),
          "invalid-tid",
          /invalid tid \(0,-1\)/,
        ],
        [
          "a negative block",
          inTx((t) => t.delete("accounts", { block: -1, offset: 1 })),
          "invalid-tid",
          /invalid tid \(-1,1\)/,
        ],
      ];
      for (const [name, fn, code, message] of cases) {
        expectError(fn, code, message);
        expect(snapshotOf(db), name).toEqual(before);
      }

      // A row larger than a page can hold: PostgreSQL's message, and nothing written.
      db.createTable("wide", [{ name: "t", type: "text" }]);
      expectError(
        inTx((t) => t.insert("wide", ["x".repeat(9000)])),
        "row-too-big",
        /^row is too big: size 9032, maximum size 8160/,
      );
      expect(db.nblocks("wide")).toBe(0);

      // DDL mistakes leave the catalog as it was.
      const tables = db.catalog.list().map((t) => t.name);
      expectError(
        () => db.createTable("accounts", ACCOUNTS),
        "duplicate-table",
        'relation "accounts" already exists',
      );
      expectError(
        () => db.createTable("x", ACCOUNTS, { am: "columnar" }),
        "undefined-table-am",
        'access method "columnar" does not exist',
      );
      expectError(
        () => db.createTable("x", ACCOUNTS, { am: variant === "disk" ? "memheap" : "heap" }),
        "table-am-pool-mismatch",
        /buffer pool/,
      );
      expectError(
        () =>
          db.createTable("x", [
            { name: "a", type: "int4" },
            { name: "a", type: "int4" },
          ]),
        "duplicate-column",
        /specified more than once/,
      );
      expectError(
        () => db.createTable("x", [{ name: "a", type: "money" }]),
        "undefined-object",
        /type "money" does not exist|money/,
      );
      expectError(
        () => db.createTable("x", ACCOUNTS, { fillfactor: 5 }),
        "invalid-parameter",
        /fillfactor/,
      );
      expectError(
        () => db.createTable("x", ACCOUNTS, { indexedColumns: ["zzz"] }),
        "undefined-column",
        /"zzz"/,
      );
      expectError(() => db.createTable("x".repeat(64), ACCOUNTS), "name-too-long", /too long/);
      expect(db.catalog.list().map((t) => t.name)).toEqual(tables);

      // Any operation on a finished transaction.
      tx = db.begin();
      tx.commit();
      for (const op of [
        () => tx.insert("accounts", [9, 9]),
        () => tx.scan("accounts"),
        () => tx.fetch("accounts", tid),
        () => tx.update("accounts", tid, [1, 1]),
        () => tx.delete("accounts", tid),
        () => tx.commit(),
      ]) {
        expectError(
          op,
          "transaction-finished",
          "transaction is committed: start a new transaction for further commands",
        );
      }
      expectError(
        () => db.begin({ isolation: "serializable" as never }),
        "invalid-isolation-level",
        /isolation level/,
      );
      expect(snapshotOf(db).rows).toEqual(before.rows);
      db.close();
    });
  });
}
