/**
 * MVCC snapshots and the test "was this transaction running when the snapshot was taken?".
 *
 * Models: src/include/utils/snapshot.h (SnapshotData: xmin, xmax, xip, curcid) and
 * src/backend/utils/time/snapmgr.c (XidInMVCCSnapshot).
 * Entry points: `Snapshot`, `xidInMVCCSnapshot`.
 * See also: transam.ts (GetSnapshotData builds them), heapam-visibility.ts (uses them).
 *
 * Differs from PostgreSQL: no subtransactions, so no subxip array and no overflow handling.
 */

import { xidFollowsOrEquals, xidPrecedes } from "../../access/transam/transam.js";

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

/** XidInMVCCSnapshot: true if `xid` counts as still running for this snapshot. */
export function xidInMVCCSnapshot(xid: number, snapshot: Snapshot): boolean {
  if (xidPrecedes(xid, snapshot.xmin)) return false;
  if (xidFollowsOrEquals(xid, snapshot.xmax)) return true;
  const xip = snapshot.xip;
  for (let i = 0; i < xip.length; i++) if (xip[i] === xid) return true;
  return false;
}
