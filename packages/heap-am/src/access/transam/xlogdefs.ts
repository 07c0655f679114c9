/**
 * WAL positions (LSNs) and timeline ids: the types, their text forms, and MAXALIGN on them.
 *
 * Models: src/include/access/xlogdefs.h (XLogRecPtr, InvalidXLogRecPtr, FirstNormalUnloggedLSN,
 * TimeLineID, LSN_FORMAT_ARGS) and src/backend/utils/adt/pg_lsn.c (pg_lsn_in_internal: the
 * `%X/%X` text form).
 * Entry points: `XLogRecPtr`, `formatLsn`, `formatLsnPadded`, `parseLsn`, `maxAlignLsn`.
 * See also: xlog-internal.ts (segments, pages, byte positions), docs/reference/postgres-wal.md §1.1.
 *
 * An LSN is a byte position in the endless WAL stream, an unsigned 64-bit number; pgsim holds it
 * as a bigint (as pageGetLsn returns a page's pd_lsn). 0 is invalid.
 */

import { PgsimError } from "@pgsim/clock-sweep";

/** XLogRecPtr: a byte position in the WAL, 0 ≤ lsn < 2⁶⁴. */
export type XLogRecPtr = bigint;

/** InvalidXLogRecPtr. */
export const InvalidXLogRecPtr: XLogRecPtr = 0n;

/** The first fake LSN handed to unlogged relations (FirstNormalUnloggedLSN, 0/3E8). */
export const FirstNormalUnloggedLSN: XLogRecPtr = 1000n;

/** TimeLineID: a uint32; the first timeline is 1. */
export type TimeLineID = number;

/** MAXIMUM_ALIGNOF on x86-64. */
export const MAXIMUM_ALIGNOF = 8;

const MAX_LSN = (1n << 64n) - 1n;

/** MAXALIGN64: rounds an LSN up to a multiple of 8. */
export function maxAlignLsn(lsn: XLogRecPtr): XLogRecPtr {
  return (lsn + 7n) & ~7n;
}

/** `%X/%X` (LSN_FORMAT_ARGS, pg_lsn output): "0/175B648". */
export function formatLsn(lsn: XLogRecPtr): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** `%X/%08X`, as pg_waldump prints record positions: "0/0175B648". */
export function formatLsnPadded(lsn: XLogRecPtr): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase().padStart(8, "0")}`;
}

/**
 * Parses `hi/lo` (each 1 to 8 hex digits), as pg_lsn_in does. Throws `invalid-lsn` with
 * PostgreSQL's message otherwise.
 */
export function parseLsn(text: string): XLogRecPtr {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (m === null) {
    throw new PgsimError(
      "invalid-lsn",
      `invalid input syntax for type pg_lsn: "${text.slice(0, 40)}"`,
    );
  }
  return (BigInt(`0x${m[1]!}`) << 32n) | BigInt(`0x${m[2]!}`);
}

/** Throws `invalid-lsn` unless `lsn` is a bigint in [0, 2⁶⁴). */
export function checkLsn(lsn: unknown, what = "LSN"): asserts lsn is XLogRecPtr {
  if (typeof lsn !== "bigint" || lsn < 0n || lsn > MAX_LSN) {
    throw new PgsimError(
      "invalid-lsn",
      `${what} must be a bigint from 0 to 2^64-1, got ${String(lsn)}`,
    );
  }
}
