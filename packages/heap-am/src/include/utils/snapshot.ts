/**
 * The MVCC snapshot: which transactions count as finished for a reader.
 *
 * Models: src/include/utils/snapshot.h (SnapshotData for SNAPSHOT_MVCC: xmin, xmax, xip,
 * curcid).
 * Entry points: `Snapshot`.
 * See also: ../../storage/ipc/procarray.ts (GetSnapshotData builds one),
 * ../../utils/time/snapmgr.ts (XidInMVCCSnapshot reads one), ../../access/transam/xact.ts (keeps
 * one per statement or transaction), ../../access/heap/heapam-visibility.ts (uses one).
 *
 * Differs from PostgreSQL: only MVCC snapshots; no subtransactions, so no subxip array and no
 * overflow flag; no snapshot type, regd_count or active_count (pgsim's snapshots are plain
 * values, dropped when the transaction or statement that took them ends).
 */

/** An MVCC snapshot. */
export interface Snapshot {
  /** All xids before this had finished when the snapshot was taken. */
  readonly xmin: number;
  /** All xids from this on had not yet started (latestCompletedXid + 1). */
  readonly xmax: number;
  /** Other backends' running xids in [xmin, xmax). The taker's own xid is not here. */
  readonly xip: Int32Array;
  /** The taker's own changes are visible iff made by a command before this one. */
  readonly curcid: number;
}

/**
 * SnapshotDirty (SNAPSHOT_DIRTY, InitDirtySnapshot): sees every version whose inserter committed
 * or is still running and whose deleter did not commit. A fetch under it reports, in `xmin` /
 * `xmax`, the transaction still inserting or deleting the version it found (0 when none), so a
 * unique check knows whom it would have to wait for. Command ids do not matter to it.
 */
export interface DirtySnapshot {
  readonly kind: "dirty";
  /** Set by the fetch: the inserter of the version found, when it is still running; else 0. */
  xmin: number;
  /** Set by the fetch: the deleter of the version found, when it is still running; else 0. */
  xmax: number;
}

/** InitDirtySnapshot: a fresh dirty snapshot. */
export function initDirtySnapshot(): DirtySnapshot {
  return { kind: "dirty", xmin: 0, xmax: 0 };
}

/** Whether a snapshot argument is SnapshotDirty (rather than an MVCC snapshot). */
export function isDirtySnapshot(s: Snapshot | DirtySnapshot): s is DirtySnapshot {
  return (s as DirtySnapshot).kind === "dirty";
}
