// The commit log format and the offline visibility rule: bit positions checked on the server's
// own pg_xact file, status writes, the permanent xids, and each hint-bit / commit-log branch of
// "visible to a new snapshot".
import { readFileSync } from "node:fs";
import { PgsimError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { heapFormTuple } from "../src/access/common/heaptuple.js";
import { createTupleDesc } from "../src/access/common/tupdesc.js";
import { heapTupleVisibleToNewSnapshot } from "../src/access/heap/heapam-visibility.js";
import {
  CLOG_PAGE_SIZE,
  type CommitLog,
  clogPageGetStatus,
  clogPageSetStatus,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  TRANSACTION_STATUS_SUB_COMMITTED,
  transactionIdGetStatus,
  type XidStatus,
} from "../src/access/transam/clog.js";
import {
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMAX_KEYSHR_LOCK,
  HEAP_XMAX_LOCK_ONLY,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
} from "../src/include/access/htup-details.js";
import { inspectRows } from "../src/inspect/rows.js";
import { FIXTURES_DIR, fixtureCase } from "./pg15-fixture-cases.js";

const pgXact = new Uint8Array(readFileSync(`${FIXTURES_DIR}/pg_xact.bin`));

function pgError(fn: () => unknown): PgsimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PgsimError) return error;
    throw error;
  }
  throw new Error("expected a PgsimError");
}

describe("commit log format", () => {
  it("reads two bits per xid, lowest bits first (README example: byte 192 = 0x5a)", () => {
    expect(pgXact[192]).toBe(0x5a);
    expect([768, 769, 770, 771].map((xid) => clogPageGetStatus(pgXact, xid))).toEqual([
      TRANSACTION_STATUS_ABORTED,
      TRANSACTION_STATUS_ABORTED,
      TRANSACTION_STATUS_COMMITTED,
      TRANSACTION_STATUS_COMMITTED,
    ]);
    // Every xid 3..803 of the set finished; nothing is recorded at 804 and above.
    for (let xid = 3; xid <= 803; xid++) expect(transactionIdGetStatus(pgXact, xid)).not.toBe(0);
    expect(transactionIdGetStatus(pgXact, 804)).toBe(TRANSACTION_STATUS_IN_PROGRESS);
  });

  it("answers for the permanent xids without reading the file", () => {
    const empty = new Uint8Array(0);
    expect(transactionIdGetStatus(empty, 1)).toBe(TRANSACTION_STATUS_COMMITTED);
    expect(transactionIdGetStatus(empty, 2)).toBe(TRANSACTION_STATUS_COMMITTED);
    expect(transactionIdGetStatus(empty, 0)).toBe(TRANSACTION_STATUS_ABORTED);
    // In the file their bits are 0.
    expect(clogPageGetStatus(pgXact, 1)).toBe(TRANSACTION_STATUS_IN_PROGRESS);
  });

  it("writes a status without touching the other three xids of the byte", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: CLOG_PAGE_SIZE, maxLength: CLOG_PAGE_SIZE }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom<XidStatus>(0, 1, 2, 3),
        (page, xid, status) => {
          const before = page.slice();
          clogPageSetStatus(page, xid, status);
          expect(clogPageGetStatus(page, xid)).toBe(status);
          const byte = Math.floor((xid % 32768) / 4);
          for (let i = 0; i < CLOG_PAGE_SIZE; i += 997)
            if (i !== byte) expect(page[i]).toBe(before[i]);
          for (let other = xid - (xid % 4); other < xid - (xid % 4) + 4; other++) {
            if (other !== xid)
              expect(clogPageGetStatus(page, other)).toBe(clogPageGetStatus(before, other));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("finds xids in later pages and segments, and says when a file does not reach them", () => {
    const segment1 = new Uint8Array(2 * CLOG_PAGE_SIZE);
    const xid = 1_048_576 + 32_768 + 5; // segment 1, page 1, byte 1, bits 2-3
    segment1[CLOG_PAGE_SIZE + 1] = TRANSACTION_STATUS_SUB_COMMITTED << 2;
    const clog: CommitLog = new Map([
      [0, pgXact],
      [1, segment1],
    ]);
    expect(transactionIdGetStatus(clog, xid)).toBe(TRANSACTION_STATUS_SUB_COMMITTED);
    expect(transactionIdGetStatus(clog, 770)).toBe(TRANSACTION_STATUS_COMMITTED);
    const error = pgError(() => transactionIdGetStatus(pgXact, 40_000));
    expect(error.code).toBe("xid-status-unavailable");
    expect(error.message).toBe("could not access status of transaction 40000");
    expect(pgError(() => transactionIdGetStatus(clog, 3 * 1_048_576)).code).toBe(
      "xid-status-unavailable",
    );
    expect(pgError(() => transactionIdGetStatus(pgXact, -1)).code).toBe("invalid-transaction-id");
  });
});

describe("visibility to a new snapshot", () => {
  const desc = createTupleDesc([{ name: "id", type: "int4" }]);
  // A commit log where xid 10 committed, 11 aborted, 12 is in progress, 13 sub-committed.
  const clog = new Uint8Array(CLOG_PAGE_SIZE);
  clogPageSetStatus(clog, 10, TRANSACTION_STATUS_COMMITTED);
  clogPageSetStatus(clog, 11, TRANSACTION_STATUS_ABORTED);
  clogPageSetStatus(clog, 13, TRANSACTION_STATUS_SUB_COMMITTED);

  function tuple(xmin: number, xmax: number, infomask: number): Uint8Array {
    const t = heapFormTuple(desc, [1]);
    heapTupleHeaderSetXmin(t, 0, xmin);
    heapTupleHeaderSetXmax(t, 0, xmax);
    heapTupleHeaderSetInfomask(t, 0, infomask);
    return t;
  }
  const visible = (t: Uint8Array, log?: CommitLog) => heapTupleVisibleToNewSnapshot(t, 0, log);

  it("trusts xmin hint bits and frozen tuples without a commit log", () => {
    expect(visible(tuple(12, 0, HEAP_XMIN_COMMITTED | HEAP_XMAX_INVALID))).toBe(true);
    expect(visible(tuple(11, 0, HEAP_XMIN_FROZEN | HEAP_XMAX_INVALID))).toBe(true);
    expect(visible(tuple(10, 0, HEAP_XMIN_INVALID | HEAP_XMAX_INVALID))).toBe(false);
    expect(visible(tuple(2, 0, HEAP_XMAX_INVALID))).toBe(true);
  });

  it("looks xmin up in the commit log when there is no hint", () => {
    expect(visible(tuple(10, 0, HEAP_XMAX_INVALID), clog)).toBe(true);
    expect(visible(tuple(11, 0, HEAP_XMAX_INVALID), clog)).toBe(false);
    expect(visible(tuple(12, 0, HEAP_XMAX_INVALID), clog)).toBe(false);
    expect(visible(tuple(13, 0, HEAP_XMAX_INVALID), clog)).toBe(false);
  });

  it("hides a tuple whose deleter committed, by hint or by the commit log", () => {
    const committed = HEAP_XMIN_COMMITTED;
    expect(visible(tuple(10, 11, committed | HEAP_XMAX_COMMITTED))).toBe(false);
    expect(visible(tuple(10, 10, committed), clog)).toBe(false);
    expect(visible(tuple(10, 11, committed), clog)).toBe(true);
    expect(visible(tuple(10, 12, committed), clog)).toBe(true);
    expect(visible(tuple(10, 13, committed), clog)).toBe(true);
    expect(visible(tuple(10, 10, committed | HEAP_XMAX_INVALID), clog)).toBe(true);
  });

  it("keeps rows that were only locked, whatever the locker's status", () => {
    const committed = HEAP_XMIN_COMMITTED;
    expect(visible(tuple(10, 10, committed | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK))).toBe(
      true,
    );
    expect(visible(tuple(10, 10, committed | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_KEYSHR_LOCK))).toBe(
      true,
    );
    // The pre-9.3 form: EXCL_LOCK alone, no LOCK_ONLY.
    expect(visible(tuple(10, 10, committed | HEAP_XMAX_EXCL_LOCK))).toBe(true);
  });

  it("says when the answer needs a commit log or multixacts it does not have", () => {
    const unknown = pgError(() => visible(tuple(10, 0, HEAP_XMAX_INVALID)));
    expect(unknown.code).toBe("xid-status-unknown");
    expect(unknown.message).toContain("status of transaction 10 (xmin) is unknown");
    expect(pgError(() => visible(tuple(10, 11, HEAP_XMIN_COMMITTED))).message).toContain("(xmax)");
    expect(
      pgError(() => visible(tuple(10, 5, HEAP_XMIN_COMMITTED | HEAP_XMAX_IS_MULTI), clog)).code,
    ).toBe("multixact-not-supported");
  });

  it("reads all-visible pages without a commit log, and no others", () => {
    // 09: every page all-visible after VACUUM; 01: fresh inserts without hint bits.
    const vacuumed = fixtureCase("09-multipage-vacuumed");
    const rows = inspectRows(
      vacuumed.bytes("main.bin"),
      vacuumed.json<{ columns: unknown[] }>("case.json").columns,
    );
    expect(rows.rows).toEqual(vacuumed.json<{ rows: unknown[] }>("rows.json").rows);
    const fresh = fixtureCase("01-fixed-width-fresh");
    const error = pgError(() =>
      inspectRows(fresh.bytes("main.bin"), fresh.json<{ columns: unknown[] }>("case.json").columns),
    );
    expect(error.code).toBe("xid-status-unknown");
  });
});
