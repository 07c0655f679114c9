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
