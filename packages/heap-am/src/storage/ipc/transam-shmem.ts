/**
 * The transaction system's shared memory: one SharedArrayBuffer laid out once, up front, holding
 * the xid counters, the proc array and the commit log, and each backend's view of it.
 *
 * Models: the transaction system's part of src/backend/storage/ipc/ipci.c
 * (CalculateShmemSize, CreateSharedMemoryAndSemaphores): VarsupShmemSize / ShmemVariableCache
 * (varsup.c, transam.h's VariableCacheData: nextXid, latestCompletedXid), ProcArrayShmemSize and
 * the PGPROC fields pgsim keeps (procarray.c, proc.c: xid, xmin, the lock waited for),
 * CLOGShmemSize (clog.c), and the LWLocks XidGenLock, ProcArrayLock and the one that serialises
 * deadlock checks (lwlocknames.txt, lock.c's partition locks).
 * Entry points: `transamShmemSize`, `initTransam`, `TransamShared`, `attachTransamShmem`,
 * `TransamShmem`, the word offsets `C_*` and `P_*`.
 * See also: procarray.ts (the proc slots), ../lmgr/lmgr.ts and ../lmgr/deadlock.ts (the wait
 * word), ../../access/transam/varsup.ts (nextXid), ../../access/transam/clog.ts (the commit log
 * words), ../../access/transam/transam.ts (the per-backend facade).
 *
 * Shared layout, one SharedArrayBuffer of Int32 words:
 *   control (16 words): magic, nextXid, latestCompletedXid, XidGenLock (LWLock), ProcArrayLock
 *                    (LWLock), maxBackends, clog capacity, the deadlock-check lock (LWLock).
 *                    nextXid is changed only under XidGenLock; latestCompletedXid only under
 *                    ProcArrayLock (exclusive).
 *   procs (4 words per backend): the running top-level xid (0 = none), the xmin the backend's
 *                    snapshots need kept (0 = none), and the xid the backend waits for (0 = none).
 *                    A backend writes its own slot; the xid is set under XidGenLock and cleared
 *                    under ProcArrayLock (exclusive); the wait word is atomic only.
 *   clog (Int32 words over clog pages, byte-for-byte PostgreSQL's pg_xact format on a
 *                    little-endian machine): a status moves only from IN_PROGRESS to COMMITTED or
 *                    ABORTED, so an atomic OR sets it without a lock.
 *
 * Differs from PostgreSQL: the commit log is one fixed array in shared memory instead of SLRU
 * pages cached over pg_xact files, so its capacity (default 4M xids) is fixed and there is no xid
 * wraparound or freezing horizon based on it; a PGPROC is three words.
 */

import { LWLOCK_INTS } from "@pgsim/buffer-manager/internals";
import { PgsimError } from "@pgsim/clock-sweep";
import { FirstNormalTransactionId } from "../../include/access/transam.js";

/** Control words (ShmemVariableCache and the transaction system's LWLocks). */
export const C_MAGIC = 0;
/** ShmemVariableCache->nextXid: changed only under XidGenLock. */
export const C_NEXT_XID = 1;
/** ShmemVariableCache->latestCompletedXid: changed only under ProcArrayLock (exclusive). */
export const C_LATEST_COMPLETED = 2;
/** XidGenLock (an LWLock, two words: 3 and 4). */
export const C_XIDGEN_LOCK = 3;
/** ProcArrayLock (an LWLock, two words: 5 and 6). */
export const C_PROCARRAY_LOCK = 5;
export const C_MAX_BACKENDS = 7;
export const C_CAPACITY = 8;
/** The lock that serialises deadlock checks (an LWLock, two words: 9 and 10). */
export const C_DEADLOCK_LOCK = 9;
const CONTROL_INTS = 16;

/** Words per backend slot (a PGPROC's fields that pgsim keeps). */
export const PROC_INTS = 4;
/** PGPROC->xid: the backend's running top-level xid, 0 when none. */
export const P_XID = 0;
/** PGPROC->xmin: the xmin the backend's snapshots need kept, 0 when none. */
export const P_XMIN = 1;
/** The xid this backend is waiting for (XactLockTableWait), 0 when not waiting. */
export const P_WAITING_FOR = 2;

const TRANSAM_MAGIC = 0x58414354; // "XACT"

/** Default commit-log capacity: 4,194,304 transaction ids (1 MB of clog pages). */
export const DEFAULT_MAX_XIDS = 1 << 22;

if (
  C_XIDGEN_LOCK + LWLOCK_INTS > C_PROCARRAY_LOCK ||
  C_PROCARRAY_LOCK + LWLOCK_INTS > C_MAX_BACKENDS ||
  C_DEADLOCK_LOCK + LWLOCK_INTS > CONTROL_INTS
) {
  throw new Error("transam control slots overlap");
}

/** What a worker needs to attach to the transaction system (structured-clonable). */
export interface TransamShared {
  readonly sab: SharedArrayBuffer;
  readonly maxBackends: number;
  readonly maxXids: number;
}

function layout(maxBackends: number, maxXids: number) {
  const procs = CONTROL_INTS;
  const clog = procs + maxBackends * PROC_INTS;
  const clogInts = Math.ceil(maxXids / 16);
  return { procs, clog, totalBytes: (clog + clogInts) * 4 };
}

/** Bytes of shared memory the transaction system needs. */
export function transamShmemSize(maxBackends: number, maxXids = DEFAULT_MAX_XIDS): number {
  return layout(maxBackends, maxXids).totalBytes;
}

/** Creates and initialises the transaction system's shared memory (once). */
export function initTransam(maxBackends: number, maxXids = DEFAULT_MAX_XIDS): TransamShared {
  if (!Number.isInteger(maxXids) || maxXids < 1024 || maxXids > 1 << 30) {
    throw new PgsimError(
      "invalid-option",
      `maxXids must be an integer from 1024 to 2^30, got ${maxXids}`,
    );
  }
  const l = layout(maxBackends, maxXids);
  const sab = new SharedArrayBuffer(l.totalBytes);
  const w = new Int32Array(sab);
  w[C_MAGIC] = TRANSAM_MAGIC;
  w[C_NEXT_XID] = FirstNormalTransactionId;
  // latestCompletedXid starts just before the first normal xid, as after initdb.
  w[C_LATEST_COMPLETED] = FirstNormalTransactionId - 1;
  w[C_MAX_BACKENDS] = maxBackends;
  w[C_CAPACITY] = maxXids;
  return { sab, maxBackends, maxXids };
}

/** A backend's view of the transaction system's shared memory: the words and where each part starts. */
export interface TransamShmem {
  readonly w: Int32Array;
  /** The first word of backend 0's proc slot. */
  readonly procs: number;
  /** The first word of the commit log. */
  readonly clog: number;
  readonly maxBackends: number;
  readonly maxXids: number;
  /**
   * TransactionLogFetch's one-entry cache (transam.c's cachedFetchXid / cachedFetchXidStatus):
   * the last xid whose final status (committed or aborted) this backend read from the commit
   * log. A final status never changes, so the entry stays true; it is private to the thread
   * that attached.
   */
  cachedFetchXid: number;
  cachedFetchXidStatus: number;
}

/** Attaches to initialised shared memory (as a backend does at start-up). */
export function attachTransamShmem(shared: TransamShared): TransamShmem {
  const w = new Int32Array(shared.sab);
  if (w[C_MAGIC] !== TRANSAM_MAGIC) {
    throw new PgsimError(
      "invalid-handle",
      "shared memory is not an initialised transaction system",
    );
  }
  const l = layout(shared.maxBackends, shared.maxXids);
  return {
    w,
    procs: l.procs,
    clog: l.clog,
    maxBackends: shared.maxBackends,
    maxXids: shared.maxXids,
    cachedFetchXid: 0,
    cachedFetchXidStatus: 0,
  };
}

/** The first word of backend `procNumber`'s proc slot. */
export function procSlot(shmem: TransamShmem, procNumber: number): number {
  return shmem.procs + procNumber * PROC_INTS;
}
