// Error recovery after a failed statement (PostgreSQL's AbortTransaction: LWLockReleaseAll,
// AbortBufferIO, the resource owner's release of buffer pins): whatever read a storage fault
// fails, and whatever content lock or pin the failing code held at that moment, the backend's
// next statement starts clean — no "content lock is already held", no pin left behind — and the
// data is intact.
//
// The sweep fails the 1st, 2nd, … read of a data file inside each kind of statement (with a pool
// so small that every statement reads), so every read site of the statement is met once with a
// lock or a pin held around it, whatever the code path.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { SharedBufferPool } from "@pgsim/buffer-manager";
import { afterAll, describe, expect, it } from "vitest";
import { Database, PgsimError } from "../src/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ROWS = 1500;

/** A disk database (16 buffers, WAL, checksums) with `ROWS` rows in "t" and some dead tuples. */
function setup(): Database {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-errclean-"));
  dirs.push(dir);
  const db = Database.create({
    variant: "disk",
    dataDir: dir,
    bufferCount: 16,
    checksums: true,
    walSegmentSize: 1024 * 1024,
  });
  db.createTable("t", [
    { name: "id", type: "int4" },
    { name: "balance", type: "int8" },
    { name: "note", type: "text" },
  ]);
  const tx = db.begin();
  tx.insertMany(
    "t",
    Array.from({ length: ROWS }, (_, i) => [i, 100n, `row ${i} ${"x".repeat(60)}`]),
  );
  tx.commit();
  // Dead tuples for pruning and VACUUM to find.
  const tx2 = db.begin();
  tx2.updateAll("t", { balance: { add: 0 } });
  tx2.commit();
  db.checkpoint();
  return db;
}

/** The pins this backend holds (pg_buffercache's view of its own). */
function heldPins(db: Database) {
  return (db.pool as SharedBufferPool).heldPins();
}

function total(db: Database): bigint {
  const tx = db.begin();
  const s = tx.scan("t").reduce((a, r) => a + (r.row[1] as bigint), 0n);
  tx.commit();
  return s;
}

/**
 * A statement that locks every page exclusively (an UPDATE of one row per page, each rolled
 * back): it would meet any content lock the failed statement left held.
 */
function touchEveryPage(db: Database): void {
  const tx = db.begin();
  const seen = new Set<number>();
  for (const r of tx.scan("t")) {
    if (seen.has(r.tid.block)) continue;
    seen.add(r.tid.block);
    tx.update("t", r.tid, (row) => row);
  }
  tx.abort();
}

/**
 * The statements swept: each runs to completion or fails; the transactions are rolled back
 * either way, so that each run of the sweep meets the same pages.
 */
const STATEMENTS: Record<string, (db: Database) => void> = {
  scan: (db) => {
    const tx = db.begin();
    try {
      tx.scan("t");
    } finally {
      tx.abort();
    }
  },
  "update all": (db) => {
    const tx = db.begin();
    try {
      tx.updateAll("t", { balance: { add: 0 } });
    } finally {
      tx.abort();
    }
  },
  "update per row": (db) => {
    const tx = db.begin();
    try {
      for (const r of tx.scan("t").slice(0, 200)) {
        tx.update("t", r.tid, (row) => [row[0] ?? null, row[1] ?? null, `${row[2]}!`]);
      }
    } finally {
      tx.abort();
    }
  },
  "delete and insert": (db) => {
    const tx = db.begin();
    try {
      const victims = tx.scan("t").filter((r) => (r.row[0] as number) % 25 === 0);
      for (const r of victims) tx.delete("t", r.tid);
      for (const r of victims) tx.insert("t", r.row);
    } finally {
      tx.abort();
    }
  },
  vacuum: (db) => {
    db.vacuum("t");
  },
  "vacuum freeze": (db) => {
    db.vacuum("t", { freeze: true });
  },
};

/** Statements that read more than this many pages have their first `SWEEP` reads failed. */
const SWEEP = 30;

/** The storage calls failed, with the error each gives. */
const FAULTS: { point: "data-read" | "data-write" | "extend"; code: string }[] = [
  { point: "data-read", code: "io-error" },
  { point: "data-write", code: "io-error" },
  { point: "extend", code: "io-error" },
];

describe.each(FAULTS)("error cleanup after a failed $point", ({ point, code }) => {
  for (const [name, run] of Object.entries(STATEMENTS)) {
    it(`${name}: each of its first calls failed in turn leaves no lock or pin behind`, () => {
      const db = setup();
      try {
        let failures = 0;
        for (let nth = 1; nth <= SWEEP; nth++) {
          const fault = db.injectFault({ point, fault: { type: "eio" }, nth });
          let error: unknown;
          try {
            run(db);
          } catch (e) {
            error = e;
          }
          const fired = fault.fired();
          fault.remove();
          if (fired === 0) {
            // The statement made fewer than nth such calls: every site has been met.
            expect(error).toBeUndefined();
            break;
          }
          failures++;
          expect(error, `read ${nth}`).toBeInstanceOf(PgsimError);
          expect((error as PgsimError).code, `read ${nth}`).toBe(code);
          // The backend holds nothing, and its next statements run.
          expect(heldPins(db), `read ${nth}: pins left`).toEqual([]);
          expect(total(db), `read ${nth}`).toBe(BigInt(ROWS) * 100n);
          touchEveryPage(db);
          expect(heldPins(db), `read ${nth}: after the next statement`).toEqual([]);
        }
        if (point === "data-read") expect(failures).toBeGreaterThan(1);
        expect(db.pool.checkConsistency()).toEqual([]);
        db.vacuum("t");
        expect(total(db)).toBe(BigInt(ROWS) * 100n);
      } finally {
        db.close();
      }
    });
  }
});
