/**
 * Transaction ids: the special values and the wraparound-aware comparisons every layer uses.
 *
 * Models: src/include/access/transam.h (InvalidTransactionId, BootstrapTransactionId,
 * FrozenTransactionId, FirstNormalTransactionId, TransactionIdIsNormal) and the comparisons that
 * transam.h declares and src/backend/access/transam/transam.c defines (TransactionIdPrecedes,
 * TransactionIdPrecedesOrEquals, TransactionIdFollows, TransactionIdFollowsOrEquals).
 * Entry points: `InvalidTransactionId`, `FirstNormalTransactionId`, `xidIsNormal`,
 * `xidPrecedes`, `xidPrecedesOrEquals`, `xidFollows`, `xidFollowsOrEquals`.
 * See also: ../../access/transam/transam.ts (commit status), ../../storage/ipc/procarray.ts and
 * ../utils/snapshot.ts (who compares xids).
 *
 * They live in include/ because the proc array (storage/ipc), snapshots (utils/time) and the
 * heap (access/heap) all compare xids, and storage must not import access.
 */

/** Special transaction ids. */
export const InvalidTransactionId = 0;
export const BootstrapTransactionId = 1;
export const FrozenTransactionId = 2;
export const FirstNormalTransactionId = 3;

/** TransactionIdIsNormal: not Invalid (0), Bootstrap (1) or Frozen (2). */
export function xidIsNormal(xid: number): boolean {
  return xid >= FirstNormalTransactionId;
}

/** TransactionIdPrecedes: a < b in 32-bit modular order (plain order for special xids). */
export function xidPrecedes(a: number, b: number): boolean {
  if (!xidIsNormal(a) || !xidIsNormal(b)) return a >>> 0 < b >>> 0;
  return ((a - b) | 0) < 0;
}

/** TransactionIdPrecedesOrEquals. */
export function xidPrecedesOrEquals(a: number, b: number): boolean {
  if (!xidIsNormal(a) || !xidIsNormal(b)) return a >>> 0 <= b >>> 0;
  return ((a - b) | 0) <= 0;
}

/** TransactionIdFollows. */
export function xidFollows(a: number, b: number): boolean {
  return xidPrecedes(b, a);
}

/** TransactionIdFollowsOrEquals. */
export function xidFollowsOrEquals(a: number, b: number): boolean {
  return xidPrecedesOrEquals(b, a);
}
