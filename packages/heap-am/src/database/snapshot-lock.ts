/**
 * The shared control state of a memory-only database with snapshot persistence: the quiesce lock
 * that makes a snapshot transaction-consistent, the snapshot mutex (one snapshot at a time), the
 * database's state, and when the last snapshot was taken.
 *
 * Models: pgsim only. The quiesce lock plays the part PostgreSQL's WAL plays for a checkpoint's
 * consistency (there is no WAL here); its shape — every change holds it shared, the snapshot
 * takes it exclusively — is that of the LWLocks a checkpoint uses to hold off changes
 * (CheckpointLock in older releases, DELAY_CHKPT_START today).
 * Entry points: `SnapshotSettings`, `initSnapshotControl`, `quiesceShare`, `quiesceRelease`,
 * `quiesceExclusive`, `quiesceExclusiveRelease`, `snapshotMutexAcquire`, `snapshotMutexRelease`,
 * `releaseDeadBackendQuiesce`, `noteChange`, `snapshotDue`, `SnapshotState`.
 * See also: snapshot.ts (taking and loading snapshots), transaction.ts and ../database.ts (who
 * takes the lock in share mode), README.md "Memory-only snapshots".
 *
 * Shared layout (one SharedArrayBuffer of Int32 words, then a Float64):
 *   Q_STATE        the quiesce lock's exclusive side: FREE, PENDING (a snapshot waits for the
 *                  sharers to leave; new statements hold back a while) or HELD (the snapshot
 *                  copies; nobody else may enter). Written by the snapshot mutex's holder only.
 *   Q_SEQ          bumped (and notified) by every share release while Q_STATE is not FREE, so
 *                  that the snapshot can sleep until a sharer leaves. Atomic only.
 *   MUTEX          0, or 1 + the procNumber of the backend taking a snapshot (copy and write).
 *   STATE          SnapshotState: RUNNING or SHUT_DOWN. Atomic only.
 *   CHANGES        changes (statements that wrote, commits, aborts, DDL, VACUUM) so far; wraps.
 *   CHANGES_SNAP   CHANGES as the last snapshot's copy saw it (an idle database is not snapshotted).
 *   GENERATION     the last snapshot generation written or loaded. Under MUTEX.
 *   SHARE + p      how many times backend p holds the lock in share mode (its own slot).
 *   F_LAST_TIME    Date.now() of the last completed snapshot (Float64, under MUTEX).
 *
 * Protocol (a Dekker-style handshake on sequentially consistent atomics):
 *   share:     add 1 to my slot, then read Q_STATE; if HELD, take the 1 back and wait.
 *   exclusive: store PENDING, wait until every slot is 0, store HELD, then read the slots again;
 *              if one is not 0 (a sharer came in between), go back to PENDING and wait again.
 * Either the sharer sees HELD or the snapshot sees the sharer, so nobody changes anything while
 * the snapshot copies. Commits and aborts enter while PENDING (a statement may be waiting for
 * a row lock that only their commit releases); a new statement waits up to
 * STATEMENT_PENDING_WAIT_MS for the snapshot, then enters anyway, so neither side can deadlock
 * and a snapshot is not starved by a busy workload.
 */

import { PgsimError } from "@pgsim/clock-sweep";

const Q_STATE = 0;
const Q_SEQ = 1;
const MUTEX = 2;
const STATE = 3;
const CHANGES = 4;
const CHANGES_SNAP = 5;
const GENERATION = 6;
const F_LAST_TIME = 1; // Float64 index: bytes 8..15 of the Float64 view over bytes 32..47
const FLOAT_BASE_BYTES = 32;
const SHARE = 16;

const FREE = 0;
const PENDING = 1;
const HELD = 2;

/** How long a new statement holds back for a snapshot that waits for the sharers to leave. */
export const STATEMENT_PENDING_WAIT_MS = 500;

/** The database's state as the snapshot control words record it. */
export const SnapshotState = { RUNNING: 1, SHUT_DOWN: 2 } as const;

/** A memory-only database's snapshot settings and shared control words (structured-clonable). */
export interface SnapshotSettings {
  /** The snapshot directory. */
  readonly dataDir: string;
  /** snapshotIntervalMs: a snapshot when this long has passed since the last (0 = never by time). */
  readonly intervalMs: number;
  /** Whether snapshot files and their directory are fsynced (the `fsync` option). */
  readonly fsync: boolean;
  /** The shared control words (see initSnapshotControl). */
  readonly ctl: SharedArrayBuffer;
}

/** The shared control words of a database with `maxBackends` backend slots. */
export function initSnapshotControl(maxBackends: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer((SHARE + maxBackends) * 4);
  const w = new Int32Array(sab);
  w[STATE] = SnapshotState.RUNNING;
  return sab;
}

function words(s: SnapshotSettings): Int32Array {
  return new Int32Array(s.ctl);
}

function times(s: SnapshotSettings): Float64Array {
  return new Float64Array(s.ctl, FLOAT_BASE_BYTES, 2);
}

/** The database's state (SnapshotState). */
export function snapshotState(s: SnapshotSettings): number {
  return Atomics.load(words(s), STATE);
}

/** Marks the database shut down: every backend's next statement is refused. */
export function setSnapshotState(s: SnapshotSettings, state: number): void {
  Atomics.store(words(s), STATE, state);
}

/** The generation of the last snapshot written or loaded. */
export function lastGeneration(s: SnapshotSettings): number {
  return Atomics.load(words(s), GENERATION);
}

/** Records a completed snapshot: its generation, the change count its copy saw, and the time. */
export function noteSnapshot(s: SnapshotSettings, generation: number, changes: number): void {
  const w = words(s);
  Atomics.store(w, GENERATION, generation);
  Atomics.store(w, CHANGES_SNAP, changes);
  times(s)[F_LAST_TIME] = Date.now();
}

/** Counts a change (called when a backend leaves the lock after changing something). */
export function noteChange(s: SnapshotSettings): void {
  Atomics.add(words(s), CHANGES, 1);
}

/** The change count now (read under the exclusive lock, it is what the copy contains). */
export function changeCount(s: SnapshotSettings): number {
  return Atomics.load(words(s), CHANGES);
}

/**
 * Whether a snapshot is due by time: snapshotIntervalMs has passed since the last one and
 * something changed since (an idle database is not snapshotted again), as checkpointDue decides
 * for checkpoint_timeout.
 */
export function snapshotDue(s: SnapshotSettings): boolean {
  if (s.intervalMs <= 0) return false;
  const w = words(s);
  if (Atomics.load(w, STATE) !== SnapshotState.RUNNING) return false;
  if (Atomics.load(w, CHANGES) === Atomics.load(w, CHANGES_SNAP)) return false;
  return Date.now() - times(s)[F_LAST_TIME]! >= s.intervalMs;
}

/**
 * Takes the quiesce lock in share mode for backend `procNumber`: around a statement that writes
 * (`statement`: waits a while for a pending snapshot) or a commit or abort (`end`: enters while
 * a snapshot is pending; waits only while one copies). Re-entrant per backend. Pair with
 * quiesceRelease in a finally.
 */
export function quiesceShare(s: SnapshotSettings, procNumber: number, kind: "statement" | "end") {
  const w = words(s);
  const slot = SHARE + procNumber;
  // Already inside (e.g. a VACUUM's own catalog update): no waiting, or we would wait for ourselves.
  if (Atomics.load(w, slot) > 0) {
    Atomics.add(w, slot, 1);
    return;
  }
  let pendingSince = 0;
  // Bounded: a snapshot holds the lock only while it copies the pool; the bound is an hour.
  const started = Date.now();
  for (let tries = 0; ; tries++) {
    const state = Atomics.load(w, Q_STATE);
    if (state === PENDING && kind === "statement") {
      if (pendingSince === 0) pendingSince = Date.now();
      const left = STATEMENT_PENDING_WAIT_MS - (Date.now() - pendingSince);
      if (left > 0) {
        Atomics.wait(w, Q_STATE, PENDING, left);
        continue;
      }
    } else if (state === HELD) {
      Atomics.wait(w, Q_STATE, HELD, 100);
      if (Date.now() - started > 3_600_000) {
        throw new PgsimError(
          "snapshot-lock-timeout",
          "waited more than an hour for a memory-only snapshot to finish copying the pool",
        );
      }
      continue;
    }
    Atomics.add(w, slot, 1);
    if (Atomics.load(w, Q_STATE) !== HELD) return;
    // The snapshot stored HELD between our look and our increment: step back and wait.
    quiesceRelease(s, procNumber);
    if (tries > 1_000_000) throw new Error("quiesceShare: never entered");
  }
}

/** Leaves the quiesce lock taken with quiesceShare. */
export function quiesceRelease(s: SnapshotSettings, procNumber: number): void {
  const w = words(s);
  const left = Atomics.sub(w, SHARE + procNumber, 1) - 1;
  if (left < 0) throw new Error("quiesceRelease without quiesceShare");
  if (left === 0 && Atomics.load(w, Q_STATE) !== FREE) {
    Atomics.add(w, Q_SEQ, 1);
    Atomics.notify(w, Q_SEQ);
  }
}

function sharersOtherThan(w: Int32Array, maxBackends: number, me: number): number {
  let n = 0;
  for (let p = 0; p < maxBackends; p++) {
    if (p !== me && Atomics.load(w, SHARE + p) !== 0) n++;
  }
  return n;
}

/**
 * Takes the quiesce lock exclusively (the caller holds the snapshot mutex and not the lock in
 * share mode): returns once no backend is inside a change and none can enter. Gives up after
 * `timeoutMs` with a typed error (the lock is then free again).
 */
export function quiesceExclusive(
  s: SnapshotSettings,
  procNumber: number,
  maxBackends: number,
  timeoutMs: number,
): void {
  const w = words(s);
  if (Atomics.load(w, SHARE + procNumber) !== 0) {
    throw new PgsimError(
      "snapshot-in-statement",
      "a snapshot cannot be taken from inside a statement that changes data",
    );
  }
  const deadline = Date.now() + timeoutMs;
  Atomics.store(w, Q_STATE, PENDING);
  for (;;) {
    for (;;) {
      const seq = Atomics.load(w, Q_SEQ);
      if (sharersOtherThan(w, maxBackends, procNumber) === 0) break;
      const left = deadline - Date.now();
      if (left <= 0) {
        quiesceExclusiveRelease(s);
        throw new PgsimError(
          "snapshot-quiesce-timeout",
          `could not take a snapshot: statements kept changing data for ${timeoutMs} ms`,
          { timeoutMs },
        );
      }
      Atomics.wait(w, Q_SEQ, seq, Math.min(left, 50));
    }
    Atomics.store(w, Q_STATE, HELD);
    if (sharersOtherThan(w, maxBackends, procNumber) === 0) return;
    // A commit or a late statement entered between our look and HELD: let it finish.
    Atomics.store(w, Q_STATE, PENDING);
    Atomics.notify(w, Q_STATE);
  }
}

/** Releases the exclusive quiesce lock: waiting statements and commits go on. */
export function quiesceExclusiveRelease(s: SnapshotSettings): void {
  const w = words(s);
  Atomics.store(w, Q_STATE, FREE);
  Atomics.notify(w, Q_STATE);
}

/**
 * Takes the snapshot mutex (one snapshot at a time, copy and file). With `wait` false returns
 * false at once if another backend is taking one; else waits up to `timeoutMs`.
 */
export function snapshotMutexAcquire(
  s: SnapshotSettings,
  procNumber: number,
  wait: boolean,
  timeoutMs: number,
): boolean {
  const w = words(s);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holder = Atomics.compareExchange(w, MUTEX, 0, procNumber + 1);
    if (holder === 0) return true;
    if (holder === procNumber + 1) {
      throw new PgsimError("snapshot-in-progress", "this backend is already taking a snapshot");
    }
    const left = deadline - Date.now();
    if (!wait) return false;
    if (left <= 0) {
      throw new PgsimError(
        "snapshot-quiesce-timeout",
        `could not take a snapshot: another backend's snapshot took more than ${timeoutMs} ms`,
      );
    }
    Atomics.wait(w, MUTEX, holder, Math.min(left, 50));
  }
}

/** Releases the snapshot mutex. */
export function snapshotMutexRelease(s: SnapshotSettings): void {
  const w = words(s);
  Atomics.store(w, MUTEX, 0);
  Atomics.notify(w, MUTEX);
}

/**
 * After a backend died without closing (its worker was terminated): whatever it held of the
 * quiesce lock and the snapshot mutex is released, as its pins and locks are.
 */
export function releaseDeadBackendQuiesce(s: SnapshotSettings, procNumber: number): void {
  const w = words(s);
  if (procNumber + SHARE < w.length && Atomics.exchange(w, SHARE + procNumber, 0) !== 0) {
    Atomics.add(w, Q_SEQ, 1);
    Atomics.notify(w, Q_SEQ);
  }
  if (Atomics.compareExchange(w, MUTEX, procNumber + 1, 0) === procNumber + 1) {
    quiesceExclusiveRelease(s);
    Atomics.notify(w, MUTEX);
  }
}
