/**
 * The test "was this transaction running when the snapshot was taken?".
 *
 * Models: src/backend/utils/time/snapmgr.c (XidInMVCCSnapshot).
 * Entry points: `xidInMVCCSnapshot`.
 * See also: ../../include/utils/snapshot.ts (the Snapshot type), ../../storage/ipc/procarray.ts
 * (GetSnapshotData builds snapshots), ../../access/transam/xact.ts (GetTransactionSnapshot's
 * per-statement or per-transaction choice), ../../access/heap/heapam-visibility.ts (uses them).
 *
 * Differs from PostgreSQL: no subtransactions, so no subxip array and no overflow handling.
 */

import { xidFollowsOrEquals, xidPrecedes } from "../../include/access/transam.js";
import type { Snapshot } from "../../include/utils/snapshot.js";

/** XidInMVCCSnapshot: true if `xid` counts as still running for this snapshot. */
export function xidInMVCCSnapshot(xid: number, snapshot: Snapshot): boolean {
  if (xidPrecedes(xid, snapshot.xmin)) return false;
  if (xidFollowsOrEquals(xid, snapshot.xmax)) return true;
  const xip = snapshot.xip;
  for (let i = 0; i < xip.length; i++) if (xip[i] === xid) return true;
  return false;
}
