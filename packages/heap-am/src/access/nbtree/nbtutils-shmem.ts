/**
 * The B-tree's shared memory: the table of running VACUUMs of B-tree indexes and their cycle ids
 * (btvacinfo), and the functions that hand a cycle id out, take it back and look it up — so that a
 * page split in any backend stores the cycle id of a VACUUM running on the index, and that
 * VACUUM's btvacuumpage goes back for the tuples the split moved behind its scan.
 *
 * Models: src/backend/access/nbtree/nbtutils.c (BTreeShmemSize, BTreeShmemInit, BTVacInfo and
 * BTOneVacInfo, _bt_start_vacuum, _bt_end_vacuum, _bt_end_vacuum_callback, _bt_vacuum_cycleid)
 * and lwlocknames.txt's BtreeVacuumLock.
 * Entry points: `btreeShmemSize`, `btreeShmemInit`, `BtreeShared`, `BtVacInfo` (a backend's
 * view), `btStartVacuum`, `btEndVacuum`, `btVacuumCycleId`, `btEndVacuumsOfBackend`.
 * See also: nbtvacuum.ts (btbulkdelete takes and gives back the cycle id), nbtinsert.ts (_bt_split
 * stores it), ../../database/shmem.ts (creates the memory and gives every backend its view),
 * README.md ("VACUUM", "Vacuum cycle ids").
 *
 * Shared layout, one SharedArrayBuffer of Int32 words:
 *   header (8 words): magic, BtreeVacuumLock (an LWLock, two words), cycle_ctr (the last cycle id
 *                     handed out), num_vacuums, max_vacuums. cycle_ctr and num_vacuums change only
 *                     under BtreeVacuumLock held exclusively; max_vacuums never changes.
 *   vacuums (max_vacuums entries of 4 words): the index's relation number, its database OID, the
 *                     cycle id, and the proc number of the backend running the VACUUM. Entries
 *                     0 .. num_vacuums − 1 are in use; they are written only under BtreeVacuumLock
 *                     held exclusively and read under it held in either mode.
 *
 * Differs from PostgreSQL: an index is named by its relation number (pgsim's OID and relfilenode
 * of a relation are one number) and the database OID; each entry also records the backend that
 * runs the VACUUM, so that the clean-up after a backend that died (`btEndVacuumsOfBackend`, from
 * CleanupBackend) can remove its entries — PostgreSQL instead reinitialises all shared memory
 * after a backend crash.
 */

import {
  LW_EXCLUSIVE,
  LW_SHARED,
  LWLOCK_INTS,
  lwlockAcquire,
  lwlockRelease,
} from "@pgsim/buffer-manager/internals";
import { PgsimError } from "@pgsim/clock-sweep";
import { MAX_BT_CYCLE_ID } from "../../include/access/nbtree.js";
import type { BtIndexRelation } from "./nbtree.js";

const H_MAGIC = 0;
/** BtreeVacuumLock: an LWLock (words 1 and 2). */
const H_LOCK = 1;
/** btvacinfo->cycle_ctr: the last cycle id handed out (under BtreeVacuumLock, exclusive). */
const H_CYCLE_CTR = 3;
/** btvacinfo->num_vacuums (under BtreeVacuumLock, exclusive). */
const H_NUM_VACUUMS = 4;
/** btvacinfo->max_vacuums: fixed at creation. */
const H_MAX_VACUUMS = 5;
const HEADER_INTS = 8;

/** Words per BTOneVacInfo entry. */
const VAC_INTS = 4;
const V_REL = 0;
const V_DB = 1;
const V_CYCLEID = 2;
const V_PROC = 3;

const BTREE_SHMEM_MAGIC = 0x42564143; // "BVAC"

if (H_LOCK + LWLOCK_INTS > H_CYCLE_CTR || H_MAX_VACUUMS >= HEADER_INTS) {
  throw new Error("btvacinfo header slots overlap");
}

/** What a worker needs to attach to the B-tree's shared memory (structured-clonable). */
export interface BtreeShared {
  readonly sab: SharedArrayBuffer;
}

/**
 * BTreeShmemSize: bytes for a table of `maxVacuums` running VACUUMs (PostgreSQL sizes it by
 * MaxBackends: each backend runs at most one VACUUM of an index at a time).
 */
export function btreeShmemSize(maxVacuums: number): number {
  return (HEADER_INTS + maxVacuums * VAC_INTS) * 4;
}

/**
 * BTreeShmemInit: creates the table, empty, with the cycle-id counter seeded from the clock as
 * PostgreSQL seeds it with time(NULL) (so cycle ids differ from one start to the next).
 */
export function btreeShmemInit(maxVacuums: number): BtreeShared {
  if (!Number.isInteger(maxVacuums) || maxVacuums < 1) {
    throw new PgsimError(
      "invalid-option",
      `the B-tree vacuum table needs a positive number of slots, got ${String(maxVacuums)}`,
    );
  }
  const sab = new SharedArrayBuffer(btreeShmemSize(maxVacuums));
  const w = new Int32Array(sab);
  w[H_MAGIC] = BTREE_SHMEM_MAGIC;
  w[H_CYCLE_CTR] = Math.floor(Date.now() / 1000) & 0xffff;
  w[H_NUM_VACUUMS] = 0;
  w[H_MAX_VACUUMS] = maxVacuums;
  return { sab };
}

/** A backend's view of the B-tree's shared memory (btvacinfo). */
export class BtVacInfo {
  /** The words of the shared table. */
  readonly w: Int32Array;

  /** Attaches to initialised memory; `procNumber` is the backend's (recorded with its VACUUMs). */
  constructor(
    shared: BtreeShared,
    readonly procNumber: number,
  ) {
    this.w = new Int32Array(shared.sab);
    if (this.w[H_MAGIC] !== BTREE_SHMEM_MAGIC) {
      throw new PgsimError("invalid-handle", "shared memory is not an initialised B-tree table");
    }
  }

  /** The index of the entry of relation `rel` in database `db`, or −1; caller holds the lock. */
  findLocked(rel: number, db: number): number {
    const n = this.w[H_NUM_VACUUMS]!;
    for (let i = 0; i < n; i++) {
      const e = HEADER_INTS + i * VAC_INTS;
      if (this.w[e + V_REL] === rel && this.w[e + V_DB] === db) return i;
    }
    return -1;
  }

  /** Removes entry `i` by moving the last entry into its place; caller holds the lock exclusively. */
  removeLocked(i: number): void {
    const n = this.w[H_NUM_VACUUMS]!;
    const e = HEADER_INTS + i * VAC_INTS;
    const last = HEADER_INTS + (n - 1) * VAC_INTS;
    this.w.copyWithin(e, last, last + VAC_INTS);
    this.w.fill(0, last, last + VAC_INTS);
    this.w[H_NUM_VACUUMS] = n - 1;
  }

  /** Runs `f` holding BtreeVacuumLock in `mode`. */
  locked<T>(mode: typeof LW_SHARED | typeof LW_EXCLUSIVE, f: () => T): T {
    lwlockAcquire(this.w, H_LOCK, mode);
    try {
      return f();
    } finally {
      lwlockRelease(this.w, H_LOCK, mode);
    }
  }

  /** The VACUUMs running now, as (relation number, cycle id, backend) (for tests and tools). */
  activeVacuums(): { relNumber: number; cycleid: number; procNumber: number }[] {
    return this.locked(LW_SHARED, () =>
      Array.from({ length: this.w[H_NUM_VACUUMS]! }, (_, i) => {
        const e = HEADER_INTS + i * VAC_INTS;
        return {
          relNumber: this.w[e + V_REL]!,
          cycleid: this.w[e + V_CYCLEID]!,
          procNumber: this.w[e + V_PROC]!,
        };
      }),
    );
  }
}

/**
 * _bt_start_vacuum: the next cycle id (never 0, never above MAX_BT_CYCLE_ID), recorded for the
 * index in the shared table, where every backend's splits find it. PostgreSQL's errors when the
 * index is already being vacuumed ("multiple active vacuums for index") and when the table is
 * full ("out of btvacinfo slots"). The caller must call `btEndVacuum` when the scan ends, also
 * on error (PostgreSQL's PG_ENSURE_ERROR_CLEANUP(_bt_end_vacuum_callback)).
 */
export function btStartVacuum(vacinfo: BtVacInfo, index: BtIndexRelation): number {
  const { relNumber, dbOid } = index.locator;
  return vacinfo.locked(LW_EXCLUSIVE, () => {
    const w = vacinfo.w;
    // The next cycle id, avoiding 0 and the values reserved above MAX_BT_CYCLE_ID. As in
    // PostgreSQL it is taken even when the start fails below.
    let cycleid = (w[H_CYCLE_CTR]! + 1) & 0xffff;
    if (cycleid === 0 || cycleid > MAX_BT_CYCLE_ID) cycleid = 1;
    w[H_CYCLE_CTR] = cycleid;
    if (vacinfo.findLocked(relNumber, dbOid) >= 0) {
      throw new PgsimError("internal-error", `multiple active vacuums for index "${index.name}"`);
    }
    const n = w[H_NUM_VACUUMS]!;
    if (n >= w[H_MAX_VACUUMS]!) {
      throw new PgsimError("internal-error", "out of btvacinfo slots");
    }
    const e = HEADER_INTS + n * VAC_INTS;
    w[e + V_REL] = relNumber;
    w[e + V_DB] = dbOid;
    w[e + V_CYCLEID] = cycleid;
    w[e + V_PROC] = vacinfo.procNumber;
    w[H_NUM_VACUUMS] = n + 1;
    return cycleid;
  });
}

/** _bt_end_vacuum: removes the index's entry (nothing when there is none). */
export function btEndVacuum(vacinfo: BtVacInfo, index: BtIndexRelation): void {
  const { relNumber, dbOid } = index.locator;
  vacinfo.locked(LW_EXCLUSIVE, () => {
    const i = vacinfo.findLocked(relNumber, dbOid);
    if (i >= 0) vacinfo.removeLocked(i);
  });
}

/**
 * _bt_vacuum_cycleid: the cycle id of a VACUUM running on the index (in any backend), or 0. A
 * page split stores it in both halves so that the running btvacuumscan knows to go back for the
 * tuples moved behind it. Takes BtreeVacuumLock in share mode.
 */
export function btVacuumCycleId(vacinfo: BtVacInfo, index: BtIndexRelation): number {
  const { relNumber, dbOid } = index.locator;
  return vacinfo.locked(LW_SHARED, () => {
    const i = vacinfo.findLocked(relNumber, dbOid);
    return i < 0 ? 0 : vacinfo.w[HEADER_INTS + i * VAC_INTS + V_CYCLEID]!;
  });
}

/**
 * After a backend died in the middle of a VACUUM (CleanupBackend): removes the entries it left,
 * as its own error clean-up would have. Returns how many there were.
 */
export function btEndVacuumsOfBackend(vacinfo: BtVacInfo, procNumber: number): number {
  return vacinfo.locked(LW_EXCLUSIVE, () => {
    let removed = 0;
    for (let i = vacinfo.w[H_NUM_VACUUMS]! - 1; i >= 0; i--) {
      if (vacinfo.w[HEADER_INTS + i * VAC_INTS + V_PROC] === procNumber) {
        vacinfo.removeLocked(i);
        removed++;
      }
    }
    return removed;
  });
}
