/**
 * A deliberately different table access method for the conformance tests: an append-only row
 * store that keeps row versions in a JS array per relation (in this thread only), with its own
 * MVCC over the shared transaction system. It proves that the table AM interface is pluggable:
 * nothing in it is heap pages.
 */
import { PgsimError } from "@pgsim/clock-sweep";
import type { Row, TID } from "../src/access/heap/heapam.js";
import { TM } from "../src/access/heap/heapam-visibility.js";
import type {
  TableAccessMethod,
  TableRelation,
  TableScanDesc,
} from "../src/access/table/tableam.js";
import type { Transaction } from "../src/access/transam/xact.js";
import { xidPrecedes } from "../src/include/access/transam.js";
import {
  type DirtySnapshot,
  isDirtySnapshot,
  type Snapshot,
} from "../src/include/utils/snapshot.js";
import { xidInMVCCSnapshot } from "../src/utils/time/snapmgr.js";

interface Version {
  xmin: number;
  cmin: number;
  xmax: number;
  cmax: number;
  values: Row;
  /** Index of the newer version, if this one was updated. */
  next: number;
}

const stores = new Map<number, (Version | null)[]>();
const PER_BLOCK = 100;

function store(rel: TableRelation): (Version | null)[] {
  const s = stores.get(rel.locator.relNumber);
  if (s === undefined)
    throw new PgsimError("undefined-table", `relation "${rel.name}" has no row store`);
  return s;
}

function indexOf(tid: TID): number {
  return tid.block * PER_BLOCK + tid.offset - 1;
}

function tidOf(i: number): TID {
  return { block: Math.floor(i / PER_BLOCK), offset: (i % PER_BLOCK) + 1 };
}

function visible(
  rel: TableRelation,
  v: Version,
  snapshot: Snapshot | DirtySnapshot,
  xact: Transaction | undefined,
): boolean {
  const t = rel.ctx.transam;
  const mine = (xid: number) => xact?.isCurrent(xid);
  if (isDirtySnapshot(snapshot)) {
    // SnapshotDirty: inserted by a committed or running transaction (or us), not deleted by a
    // committed one (or us); a running inserter or deleter is reported.
    snapshot.xmin = 0;
    snapshot.xmax = 0;
    if (!mine(v.xmin)) {
      if (t.isInProgress(v.xmin)) snapshot.xmin = v.xmin;
      else if (!t.didCommit(v.xmin)) return false;
    }
    if (v.xmax === 0) return true;
    if (mine(v.xmax)) return false;
    if (t.isInProgress(v.xmax)) {
      snapshot.xmax = v.xmax;
      return true;
    }
    return !t.didCommit(v.xmax);
  }
  if (mine(v.xmin)) {
    if (v.cmin >= snapshot.curcid) return false;
  } else if (xidInMVCCSnapshot(v.xmin, snapshot) || !t.didCommit(v.xmin)) {
    return false;
  }
  if (v.xmax === 0) return true;
  if (mine(v.xmax)) return v.cmax >= snapshot.curcid;
  if (xidInMVCCSnapshot(v.xmax, snapshot) || !t.didCommit(v.xmax)) return true;
  return false;
}

function modifiable(rel: TableRelation, v: Version | null | undefined, xact: Transaction) {
  if (!v) throw new PgsimError("invalid-tid", "no row version at that TID");
  if (
    v.xmax === 0 ||
    (!xact.isCurrent(v.xmax) &&
      !rel.ctx.transam.isInProgress(v.xmax) &&
      !rel.ctx.transam.didCommit(v.xmax))
  ) {
    return { result: TM.Ok } as const;
  }
  if (xact.isCurrent(v.xmax)) return { result: TM.SelfModified } as const;
  if (rel.ctx.transam.isInProgress(v.xmax)) return { result: TM.WouldBlock } as const;
  return {
    result: v.next >= 0 ? TM.Updated : TM.Deleted,
    failure: { ctid: tidOf(v.next >= 0 ? v.next : 0), xmax: v.xmax },
  } as const;
}

interface RowScan extends TableScanDesc {
  pos: number;
}

export const rowStoreAm: TableAccessMethod = {
  name: "rowstore",
  slotCallbacks: () => "virtual",
  scanBegin: (rel, snapshot, xact): RowScan => ({ rel, snapshot, xact, pos: 0 }),
  scanGetNextSlot(scan, _dir, slot) {
    const s = scan as RowScan;
    const rows = store(s.rel);
    while (s.pos < rows.length) {
      const i = s.pos++;
      const v = rows[i];
      if (v && visible(s.rel, v, s.snapshot, s.xact)) {
        slot.values = [...v.values];
        slot.tid = tidOf(i);
        return true;
      }
    }
    return false;
  },
  scanRescan(scan) {
    (scan as RowScan).pos = 0;
  },
  scanEnd() {},
  indexFetchBegin: (rel) => ({ rel }),
  indexFetchReset() {},
  indexFetchEnd() {},
  indexFetchTuple(state, tid, snapshot, xact, slot) {
    const rows = store(state.rel);
    for (
      let i = indexOf(tid), steps = 0;
      i >= 0 && i < rows.length && steps < rows.length;
      steps++
    ) {
      const v = rows[i];
      if (!v) return false;
      if (visible(state.rel, v, snapshot, xact)) {
        slot.values = [...v.values];
        slot.tid = tidOf(i);
        return true;
      }
      i = v.next;
    }
    return false;
  },
  tupleFetchRowVersion(rel, tid, snapshot, xact, slot) {
    const v = store(rel)[indexOf(tid)];
    if (!v || !visible(rel, v, snapshot, xact)) return false;
    slot.values = [...v.values];
    slot.tid = tid;
    return true;
  },
  tupleTidValid: (scan, tid) => indexOf(tid) >= 0 && indexOf(tid) < store(scan.rel).length,
  tupleGetLatestTid(scan, tid) {
    const rows = store(scan.rel);
    let i = indexOf(tid);
    for (let steps = 0; rows[i] && rows[i]!.next >= 0 && steps < rows.length; steps++)
      i = rows[i]!.next;
    return tidOf(i);
  },
  tupleSatisfiesSnapshot: (rel, slot, snapshot, xact) => {
    const v = slot.tid ? store(rel)[indexOf(slot.tid)] : undefined;
    return v ? visible(rel, v, snapshot, xact) : false;
  },
  tupleInsert(rel, slot, xact) {
    if (slot.values.length !== rel.def.columns.length) {
      throw new PgsimError(
        "wrong-column-count",
        `table "${rel.name}" has ${rel.def.columns.length} columns`,
      );
    }
    const rows = store(rel);
    rows.push({
      xmin: xact.getXid(),
      cmin: xact.commandId,
      xmax: 0,
      cmax: 0,
      values: [...slot.values],
      next: -1,
    });
    slot.tid = tidOf(rows.length - 1);
    xact.markCommandUsed();
  },
  multiInsert(rel, slots, xact) {
    for (const s of slots) rowStoreAm.tupleInsert(rel, s, xact);
  },
  tupleDelete(rel, tid, xact) {
    const v = store(rel)[indexOf(tid)];
    const check = modifiable(rel, v, xact);
    if (check.result !== TM.Ok) return check;
    v!.xmax = xact.getXid();
    v!.cmax = xact.commandId;
    xact.markCommandUsed();
    return { result: TM.Ok };
  },
  tupleUpdate(rel, otid, slot, xact) {
    const rows = store(rel);
    const v = rows[indexOf(otid)];
    const check = modifiable(rel, v, xact);
    if (check.result !== TM.Ok)
      return { ...check, updateIndexes: false, lockMode: "no key exclusive" };
    const xid = xact.getXid();
    rows.push({
      xmin: xid,
      cmin: xact.commandId,
      xmax: 0,
      cmax: 0,
      values: [...slot.values],
      next: -1,
    });
    v!.xmax = xid;
    v!.cmax = xact.commandId;
    v!.next = rows.length - 1;
    slot.tid = tidOf(rows.length - 1);
    xact.markCommandUsed();
    return { result: TM.Ok, newTid: slot.tid, updateIndexes: true, lockMode: "no key exclusive" };
  },
  tupleLock(rel, tid, xact) {
    return modifiable(rel, store(rel)[indexOf(tid)], xact);
  },
  relationSetNewFilenode(rel) {
    stores.set(rel.locator.relNumber, []);
  },
  relationNontransactionalTruncate(rel) {
    stores.set(rel.locator.relNumber, []);
  },
  relationDrop(rel) {
    stores.delete(rel.locator.relNumber);
  },
  relationVacuum(rel) {
    // Versions dead to everyone become holes; TIDs of the others stay put.
    const rows = store(rel);
    const horizon = rel.ctx.transam.oldestXmin();
    let removed = 0;
    rows.forEach((v, i) => {
      if (!v) return;
      const deadInsert =
        !rel.ctx.transam.isInProgress(v.xmin) && !rel.ctx.transam.didCommit(v.xmin);
      const deadDelete =
        v.xmax !== 0 && rel.ctx.transam.didCommit(v.xmax) && xidPrecedes(v.xmax, horizon);
      if (deadInsert || deadDelete) {
        rows[i] = null;
        removed++;
      }
    });
    return {
      pagesScanned: Math.ceil(rows.length / PER_BLOCK),
      pagesSkipped: 0,
      tuplesRemoved: removed,
      deadItemsRemoved: removed,
      liveTuples: rows.filter(Boolean).length,
      recentlyDeadTuples: 0,
      tuplesFrozen: 0,
      pagesAllVisible: 0,
      pagesBefore: Math.ceil(rows.length / PER_BLOCK),
      pagesAfter: Math.ceil(rows.length / PER_BLOCK),
      oldestXmin: horizon,
    };
  },
  relationSize: (rel) => store(rel).length * 64,
  relationNeedsToastTable: () => false,
  relationEstimateSize: (rel) => ({
    pages: Math.ceil(store(rel).length / PER_BLOCK),
    tuples: store(rel).filter(Boolean).length,
    allVisibleFraction: 0,
  }),
};
