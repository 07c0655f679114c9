import { describe, expect, it } from "vitest";
import { heapFormTuple } from "../src/access/common/heaptuple.js";
import { createTupleDesc } from "../src/access/common/tupdesc.js";
import {
  HTSV,
  heapTupleSatisfiesMVCC,
  heapTupleSatisfiesUpdate,
  heapTupleSatisfiesVacuum,
  TM,
  type VisibilityContext,
} from "../src/access/heap/heapam-visibility.js";
import {
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
} from "../src/access/transam/clog.js";
import {
  initTransam,
  Transam,
  transactionIdDidAbort,
  transactionIdDidCommit,
} from "../src/access/transam/transam.js";
import { Transaction } from "../src/access/transam/xact.js";
import {
  HEAP_COMBOCID,
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_INVALID,
  HEAP_XMAX_LOCK_ONLY,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderSetCmin,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
  InvalidOffsetNumber,
} from "../src/include/access/htup-details.js";
import { xidFollows, xidPrecedes } from "../src/include/access/transam.js";
import {
  itemIdGetOffset,
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetItemId,
  pageInit,
} from "../src/storage/page/bufpage.js";
import { xidInMVCCSnapshot } from "../src/utils/time/snapmgr.js";

function cluster(backends = 4) {
  const shared = initTransam(backends, 1 << 16);
  return Array.from({ length: backends }, (_, i) => new Transam(shared, i));
}

describe("transaction ids", () => {
  it("compares xids modulo 2^32, special xids in plain order", () => {
    expect(xidPrecedes(3, 4)).toBe(true);
    expect(xidPrecedes(0xfffffff0, 5)).toBe(true); // wrapped around
    expect(xidFollows(5, 0xfffffff0)).toBe(true);
    expect(xidPrecedes(2, 100)).toBe(true); // FrozenTransactionId precedes everything normal
    expect(xidPrecedes(100, 2)).toBe(false);
  });

  it("assigns xids from 3 upward and records commit and abort in clog format", () => {
    const [a, b] = cluster();
    const x1 = a!.assignXid();
    const x2 = b!.assignXid();
    expect([x1, x2]).toEqual([3, 4]);
    expect(a!.getStatus(x1)).toBe(TRANSACTION_STATUS_IN_PROGRESS);
    expect(b!.isInProgress(x1)).toBe(true);
    a!.endTransaction(x1, true);
    b!.endTransaction(x2, false);
    expect(a!.getStatus(x1)).toBe(TRANSACTION_STATUS_COMMITTED);
    expect(a!.getStatus(x2)).toBe(TRANSACTION_STATUS_ABORTED);
    expect(a!.didCommit(x1)).toBe(true);
    expect(a!.didCommit(x2)).toBe(false);
    expect(a!.didCommit(2)).toBe(true); // frozen
    expect(a!.didCommit(0)).toBe(false);
    expect(b!.isInProgress(x1)).toBe(false);
    expect(a!.latestCompletedXid).toBe(4);
    expect(() => a!.endTransaction(x1, true)).toThrow(/ended twice/);
  });

  it("TransactionIdDidAbort: an aborted xid and Invalid, not a committed, running or crashed one", () => {
    const shared = initTransam(3, 1 << 16);
    const [a, b, c] = [0, 1, 2].map((i) => new Transam(shared, i));
    const committed = a!.assignXid();
    const aborted = b!.assignXid();
    const crashed = c!.assignXid();
    a!.endTransaction(committed, true);
    b!.endTransaction(aborted, false);
    const shmem = a!.shmem;
    expect(transactionIdDidAbort(shmem, aborted)).toBe(true);
    expect(transactionIdDidAbort(shmem, committed)).toBe(false);
    expect(transactionIdDidAbort(shmem, crashed)).toBe(false); // still in progress in the clog
    expect(transactionIdDidAbort(shmem, 0)).toBe(true);
    expect(transactionIdDidAbort(shmem, 2)).toBe(false); // frozen
    expect(transactionIdDidCommit(shmem, aborted)).toBe(false);
    // The cleanup after a dead backend records its transaction as aborted.
    expect(Transam.recoverBackend(shared, 2)).toBe(crashed);
    expect(transactionIdDidAbort(shmem, crashed)).toBe(true);
  });

  it("snapshots: xmax = latestCompleted + 1, xip holds other backends' running xids, not our own", () => {
    const [a, b, c] = cluster();
    const xa = a!.assignXid(); // 3, stays running
    const xb = b!.assignXid(); // 4
    b!.endTransaction(xb, true);
    const xc = c!.assignXid(); // 5, running
    const snapC = c!.getSnapshot(0, false);
    expect(snapC.xmax).toBe(5);
    expect(Array.from(snapC.xip)).toEqual([xa]);
    expect(snapC.xmin).toBe(xa);
    expect(xidInMVCCSnapshot(xa, snapC)).toBe(true);
    expect(xidInMVCCSnapshot(xb, snapC)).toBe(false);
    expect(xidInMVCCSnapshot(xc, snapC)).toBe(true); // >= xmax: not visible as committed
    // The horizon for vacuum is the oldest running xid.
    expect(a!.oldestXmin()).toBe(xa);
    a!.endTransaction(xa, true);
    c!.endTransaction(xc, true);
    expect(a!.oldestXmin()).toBe(6);
  });

  it("REPEATABLE READ keeps its first snapshot; READ COMMITTED takes one per statement", () => {
    const [a, b] = cluster();
    const rr = new Transaction(a!, "repeatable read");
    const rc = new Transaction(a!, "read committed");
    const s1 = rr.beginStatement();
    const r1 = rc.beginStatement();
    const x = b!.assignXid();
    b!.endTransaction(x, true);
    const s2 = rr.beginStatement();
    const r2 = rc.beginStatement();
    expect(s2.xmax).toBe(s1.xmax);
    expect(r2.xmax).toBe(r1.xmax + 1);
    rr.commit();
    expect(() => rr.beginStatement()).toThrow(/transaction is committed/);
    expect(() => new Transaction(a!, "serializable" as never)).toThrow(/isolation level/);
  });
});

describe("HeapTupleSatisfiesMVCC and friends on a real tuple", () => {
  const desc = createTupleDesc([{ name: "id", type: "int4" }]);

  function pageWithTuple(): { page: Uint8Array; tup: number } {
    const page = new Uint8Array(8192);
    pageInit(page);
    const off = pageAddItemExtended(
      page,
      heapFormTuple(desc, [1]),
      InvalidOffsetNumber,
      PAI_IS_HEAP,
    );
    expect(off).toBe(1);
    const tup = itemIdGetOffset(pageGetItemId(page, 1));
    return { page, tup };
  }

  function ctx(t: Transam, xact?: Transaction): VisibilityContext {
    return { transam: t, xact, hintsSet: false };
  }

  it("an insert is invisible while running, visible after commit, and hint bits get set once", () => {
    const [a, b] = cluster();
    const writer = new Transaction(a!, "read committed");
    const xid = writer.getXid();
    const { page, tup } = pageWithTuple();
    heapTupleHeaderSetXmin(page, tup, xid);
    heapTupleHeaderSetInfomask(page, tup, HEAP_XMAX_INVALID);
    const reader = new Transaction(b!, "read committed");
    const c = ctx(b!, reader);
    expect(heapTupleSatisfiesMVCC(page, tup, reader.beginStatement(), c)).toBe(false);
    expect(c.hintsSet).toBe(false); // still running: no hint
    // The writer sees its own insert only from the next command on.
    const w = ctx(a!, writer);
    expect(heapTupleSatisfiesMVCC(page, tup, writer.snapshot, w)).toBe(false);
    writer.markCommandUsed();
    expect(heapTupleSatisfiesMVCC(page, tup, writer.beginStatement(), w)).toBe(true);
    const stale = reader.snapshot;
    writer.commit();
    expect(heapTupleSatisfiesMVCC(page, tup, stale, c)).toBe(false); // committed after the snapshot
    expect(heapTupleSatisfiesMVCC(page, tup, reader.beginStatement(), c)).toBe(true);
    expect(c.hintsSet).toBe(true);
    expect(heapTupleHeaderGetInfomask(page, tup) & HEAP_XMIN_COMMITTED).toBe(HEAP_XMIN_COMMITTED);
  });

  it("an aborted insert gets XMIN_INVALID; an aborted delete leaves the row visible", () => {
    const [a, b] = cluster();
    const { page, tup } = pageWithTuple();
    const x = a!.assignXid();
    heapTupleHeaderSetXmin(page, tup, x);
    heapTupleHeaderSetInfomask(page, tup, HEAP_XMAX_INVALID);
    a!.endTransaction(x, false);
    const c = ctx(b!, new Transaction(b!, "read committed"));
    expect(heapTupleSatisfiesMVCC(page, tup, c.xact!.beginStatement(), c)).toBe(false);
    expect(heapTupleHeaderGetInfomask(page, tup) & HEAP_XMIN_INVALID).toBe(HEAP_XMIN_INVALID);
    expect(heapTupleSatisfiesVacuum(page, tup, b!.oldestXmin(), c)).toBe(HTSV.Dead);

    const p2 = pageWithTuple();
    heapTupleHeaderSetXmin(p2.page, p2.tup, 2); // frozen
    heapTupleHeaderSetInfomask(p2.page, p2.tup, HEAP_XMIN_FROZEN);
    const d = a!.assignXid();
    heapTupleHeaderSetXmax(p2.page, p2.tup, d);
    a!.endTransaction(d, false);
    expect(heapTupleSatisfiesMVCC(p2.page, p2.tup, c.xact!.beginStatement(), c)).toBe(true);
    expect(heapTupleHeaderGetInfomask(p2.page, p2.tup) & HEAP_XMAX_INVALID).toBe(HEAP_XMAX_INVALID);
  });

  it("a committed delete: invisible to new snapshots, RECENTLY_DEAD until no snapshot needs it", () => {
    const [a, b, c] = cluster();
    const { page, tup } = pageWithTuple();
    heapTupleHeaderSetXmin(page, tup, 2);
    heapTupleHeaderSetInfomask(page, tup, HEAP_XMIN_FROZEN);
    const old = new Transaction(c!, "repeatable read");
    const oldSnap = old.beginStatement();
    const del = a!.assignXid();
    heapTupleHeaderSetXmax(page, tup, del);
    // While the deleter runs, others see the row and an updater must wait.
    const cb = ctx(b!, new Transaction(b!, "read committed"));
    expect(heapTupleSatisfiesMVCC(page, tup, cb.xact!.beginStatement(), cb)).toBe(true);
    expect(heapTupleSatisfiesUpdate(page, tup, 0, true, cb)).toBe(TM.BeingModified);
    expect(heapTupleSatisfiesVacuum(page, tup, b!.oldestXmin(), cb)).toBe(HTSV.DeleteInProgress);
    a!.endTransaction(del, true);
    expect(heapTupleSatisfiesMVCC(page, tup, cb.xact!.beginStatement(), cb)).toBe(false);
    expect(heapTupleHeaderGetInfomask(page, tup) & HEAP_XMAX_COMMITTED).toBe(HEAP_XMAX_COMMITTED);
    expect(heapTupleSatisfiesUpdate(page, tup, 0, true, cb)).toBe(TM.Deleted);
    expect(heapTupleSatisfiesUpdate(page, tup, 0, false, cb)).toBe(TM.Updated);
    // The old repeatable-read snapshot still sees it, so vacuum must keep it.
    const cc = ctx(c!, old);
    expect(heapTupleSatisfiesMVCC(page, tup, oldSnap, cc)).toBe(true);
    expect(heapTupleSatisfiesVacuum(page, tup, b!.oldestXmin(), cb)).toBe(HTSV.RecentlyDead);
    old.commit();
    expect(heapTupleSatisfiesVacuum(page, tup, b!.oldestXmin(), cb)).toBe(HTSV.Dead);
  });

  it("a row lock (lock-only xmax) never hides the row", () => {
    const [a, b] = cluster();
    const { page, tup } = pageWithTuple();
    heapTupleHeaderSetXmin(page, tup, 2);
    const locker = a!.assignXid();
    heapTupleHeaderSetXmax(page, tup, locker);
    heapTupleHeaderSetInfomask(
      page,
      tup,
      HEAP_XMIN_FROZEN | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK,
    );
    const c = ctx(b!, new Transaction(b!, "read committed"));
    expect(heapTupleSatisfiesMVCC(page, tup, c.xact!.beginStatement(), c)).toBe(true);
    expect(heapTupleSatisfiesUpdate(page, tup, 0, true, c)).toBe(TM.BeingModified);
    a!.endTransaction(locker, true);
    expect(heapTupleSatisfiesUpdate(page, tup, 0, true, c)).toBe(TM.Ok);
    expect(heapTupleSatisfiesVacuum(page, tup, b!.oldestXmin(), c)).toBe(HTSV.Live);
  });

  it("insert and delete in one transaction: combo command ids keep cmin and cmax apart", () => {
    const [a] = cluster();
    const xact = new Transaction(a!, "read committed");
    const xid = xact.getXid();
    const { page, tup } = pageWithTuple();
    heapTupleHeaderSetXmin(page, tup, xid);
    heapTupleHeaderSetXmax(page, tup, xid);
    // Inserted by command 0, deleted by command 2.
    heapTupleHeaderSetCmin(page, tup, xact.comboCommandId(0, 2));
    heapTupleHeaderSetInfomask(page, tup, HEAP_COMBOCID);
    const c = ctx(a!, xact);
    for (const [curcid, visible] of [
      [0, false],
      [1, true],
      [2, true],
      [3, false],
    ] as const) {
      const snap = { ...xact.snapshot, curcid };
      expect(heapTupleSatisfiesMVCC(page, tup, snap, c), `curcid ${curcid}`).toBe(visible);
    }
    expect(heapTupleSatisfiesUpdate(page, tup, 3, true, c)).toBe(TM.Invisible);
    expect(heapTupleSatisfiesUpdate(page, tup, 2, true, c)).toBe(TM.SelfModified);
  });
});
