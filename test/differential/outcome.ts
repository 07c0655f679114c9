/**
 * What a statement did on one system, in a form both systems can be compared in, and the pages
 * of a table's three forks.
 *
 * Models: nothing in PostgreSQL (pgsim only).
 * Entry points: `Outcome`, `ForkPages`, `TablePages`, `sqlstateOf`.
 * See also: pg-side.ts, pgsim-side.ts, compare.ts.
 */

import type { Tid } from "./ops.js";

export interface Outcome {
  /** SQLSTATE of the error, if the statement failed. */
  readonly error?: string;
  /** The error message, for reports. */
  readonly message?: string;
  /** Rows inserted, updated, deleted, locked or returned. */
  readonly rowCount: number;
  /**
   * Ctids the statement returned (RETURNING ctid, or a SELECT's ctid column). Undefined for
   * COPY, which returns none on PostgreSQL.
   */
  readonly ctids: readonly Tid[] | undefined;
  /** Rows a SELECT returned, each value as PostgreSQL's text output (ctid first). */
  readonly rows?: readonly (readonly (string | null)[])[];
  /** The transaction's xid after the statement (0 = none yet); undefined when unknowable. */
  readonly xid: number | undefined;
}

/** The pages of one table: main fork, free space map, visibility map. */
export interface TablePages {
  readonly main: readonly Uint8Array[];
  readonly fsm: readonly Uint8Array[];
  readonly vm: readonly Uint8Array[];
}

export type ForkName = keyof TablePages;

/** pgsim's error codes as PostgreSQL's SQLSTATEs (for the few that a valid sequence can meet). */
const SQLSTATES: Readonly<Record<string, string>> = {
  "serialization-failure": "40001",
  "lock-not-available": "55P03",
  "transaction-finished": "25P02",
  "deadlock-detected": "40P01",
  "lock-timeout": "55P03",
  "not-null-violation": "23502",
  "numeric-value-out-of-range": "22003",
};

/** The SQLSTATE PostgreSQL would report for a pgsim error (or a pgsim-only marker). */
export function sqlstateOf(code: string): string {
  return SQLSTATES[code] ?? `pgsim:${code}`;
}

/** Parses PostgreSQL's text form of a tid, "(0,1)". */
export function parseTid(text: string): Tid {
  const m = /^\((\d+),(\d+)\)$/.exec(text);
  if (m === null) throw new Error(`not a tid: ${text}`);
  return { block: Number(m[1]), offset: Number(m[2]) };
}
