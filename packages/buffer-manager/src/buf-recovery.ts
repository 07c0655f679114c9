/**
 * Cleaning up after a backend that died without detaching: its I/O, content locks and pins.
 *
 * Models: pgsim only. PostgreSQL answers a crashed backend by restarting every backend and
 * reinitialising shared memory (postmaster.c's HandleChildCrash); the nearest code it has is what
 * a backend runs for itself as it exits normally, bufmgr.c's AtProcExit_Buffers,
 * AbortBufferIO and CheckForBufferLeaks, which the adopted backend here runs on the dead one's
 * behalf.
 * Entry points: `recoverBackend`, `BackendRecoveryReport`.
 * See also: pin-ledger.ts (what the dead backend left recorded), bufmgr.ts (`abortOwnIo`,
 * `detach`), buf-init.ts (backend slots).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { computeLayout, PROC_IN_USE, PROC_INTS } from "./buf-internals.js";
import { SharedBufferPool } from "./bufmgr.js";
import type { BufferPoolShared, DetachReport } from "./types.js";

/** What recovering a dead backend released. */
export interface BackendRecoveryReport extends DetachReport {
  procNumber: number;
  abortedIo: number;
}

/**
 * Cleans up after a backend that died without detaching (its worker was terminated or crashed):
 * aborts the I/O it left in progress, releases the content locks and pins its shared ledger
 * records, and frees its slot. Other backends waiting on those buffers go on.
 *
 * Differs from PostgreSQL: PostgreSQL answers a crashed backend by restarting every backend and
 * reinitialising shared memory; pgsim releases just that backend's buffer state. A backend killed
 * while inside a buffer-manager critical section (holding a mapping partition lock, a header
 * lock or a spinlock) is not recoverable this way.
 */
export function recoverBackend(
  shared: BufferPoolShared,
  procNumber: number,
): BackendRecoveryReport {
  const layout = computeLayout(shared.bufferCount, shared.maxBackends, shared.maxRelationForks);
  if (!Number.isInteger(procNumber) || procNumber < 0 || procNumber >= shared.maxBackends) {
    throw new PgsimError("invalid-backend", `backend ${String(procNumber)} does not exist`);
  }
  const procs = new Int32Array(shared.sab, layout.procs * 4, shared.maxBackends * PROC_INTS);
  if (Atomics.load(procs, procNumber * PROC_INTS + PROC_IN_USE) === 0) {
    return { procNumber, abortedIo: 0, leakedPins: [], releasedLocks: 0 };
  }
  const adopted = new SharedBufferPool(shared, layout, procNumber, {}, true);
  const abortedIo = adopted.abortOwnIo();
  return { procNumber, abortedIo, ...adopted.detach({ quiet: true }) };
}
