/**
 * What every system in `pgsim-bench dml` runs and reports: the four statements, the systems, and
 * the shape of one step's measurement.
 *
 * Models: the statements as PostgreSQL runs them (see DML_SQL); pgsim runs the same through its
 * statement-level Database API (insertBatches, updateAll, deleteAll, vacuum). PostgreSQL loads
 * the rows two ways, `INSERT … SELECT` and `COPY` (its fastest load path).
 * Entry points: `DML_STEPS`, `checkStepsPrefix`, `DML_SYSTEMS`, `DML_SQL`, `INSERT_PATHS`, `DML_SYSTEM_TRAITS`,
 * `StepMeasurement`, `StepHooks`, `summarizeSamples`.
 * See also: dml.ts (orchestration), dml-pgsim.ts, dml-postgres.ts, dml-report.ts, traits.ts.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import type { SystemTrait } from "./traits.js";

/** The statements, in the order they run. */
export const DML_STEPS = ["insert", "update", "delete", "vacuum"] as const;
export type DmlStep = (typeof DML_STEPS)[number];

/**
 * Checks that `steps` is a prefix of DML_STEPS (each statement needs the ones before it: UPDATE
 * the rows INSERT made, …), e.g. `["insert", "update"]`; returns it. Throws `invalid-parameter`.
 */
export function checkStepsPrefix(steps: readonly string[]): readonly DmlStep[] {
  const ok = steps.length > 0 && steps.every((s, i) => s === DML_STEPS[i]);
  if (!ok) {
    throw new PgsimError(
      "invalid-parameter",
      `steps must be a prefix of ${DML_STEPS.join(",")} (each statement needs the ones before it), got ${JSON.stringify(steps.join(","))}`,
    );
  }
  return steps as readonly DmlStep[];
}

/**
 * The systems, in the order they run: each pgsim system next to the PostgreSQL setup that does
 * the same durability work (memheap and heap-unlogged around pg15-unlogged, heap right before
 * pg15-default), memory-only first so that its resident set is measured before anything else has
 * grown the process.
 */
export const DML_SYSTEMS = [
  "pgsim-memheap",
  "pg15-unlogged",
  "pgsim-heap-unlogged",
  "pgsim-heap",
  "pg15-default",
] as const;
export type DmlSystem = (typeof DML_SYSTEMS)[number];

/** The pgsim systems (run in a worker thread by dml-pgsim.ts). */
export const PGSIM_DML_SYSTEMS = ["pgsim-memheap", "pgsim-heap-unlogged", "pgsim-heap"] as const;
export type PgsimDmlSystem = (typeof PGSIM_DML_SYSTEMS)[number];

/** Whether a system is one of pgsim's (else a PostgreSQL setup). */
export function isPgsimSystem(system: DmlSystem): system is PgsimDmlSystem {
  return (PGSIM_DML_SYSTEMS as readonly string[]).includes(system);
}

/** Quotes a string as an SQL literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** The PostgreSQL statements; pgsim runs their equivalents (dml-worker.ts). */
export const DML_SQL = {
  create: (unlogged: boolean, table = "accounts", primaryKey = false) =>
    `CREATE ${unlogged ? "UNLOGGED " : ""}TABLE ${table} (aid int4 NOT NULL${primaryKey ? " PRIMARY KEY" : ""}, abalance int4 NOT NULL)`,
  insert: (rows: number) => `INSERT INTO accounts SELECT g, 0 FROM generate_series(1, ${rows}) g`,
  update: () => "UPDATE accounts SET abalance = abalance + 1",
  delete: () => "DELETE FROM accounts",
  vacuum: () => "VACUUM accounts",
  /** Writes the rows INSERT … SELECT inserts into a server-side file (untimed). */
  copyOut: (rows: number, file: string) =>
    `COPY (SELECT g, 0 FROM generate_series(1, ${rows}) g) TO ${literal(file)}`,
  /** Loads that file into a fresh table: the timed COPY. */
  copyIn: (file: string, table = "accounts_copy") => `COPY ${table} FROM ${literal(file)}`,
} as const;

/**
 * How PostgreSQL's rows get into the table: `insert-select` is `INSERT … SELECT generate_series`
 * (heap_insert row by row, no bulk-insert state); `copy` is `COPY … FROM` a server-side file
 * (CopyFrom: heap_multi_insert in batches through a BulkInsertState, PostgreSQL's fastest load
 * path). pgsim has one insert path (insertBatches: heap_multi_insert and a BULKWRITE ring, the
 * rows given column by column).
 */
export const INSERT_PATHS = ["insert-select", "copy"] as const;
export type InsertPath = (typeof INSERT_PATHS)[number];

/** How an insert path is named in reports. */
export const INSERT_PATH_LABELS: Record<InsertPath, string> = {
  "insert-select": "INSERT … SELECT",
  copy: "COPY",
};

/** One statement's measurement. */
export interface StepMeasurement {
  step: DmlStep;
  /** PostgreSQL's insert: which load path ran (absent for pgsim and the other statements). */
  path?: InsertPath;
  /** Wall time of the statement, in seconds. */
  seconds: number;
  /** The table's main fork size after the statement, in 8 KB blocks. */
  tableBlocks: number;
}

/** Callbacks a system runner calls as it goes (for progress bars). */
export interface StepHooks {
  onStepStart?(step: DmlStep, path?: InsertPath): void;
  /** Rows processed so far in the running step (pgsim only; PostgreSQL does not report it). */
  onStepProgress?(step: DmlStep, rowsDone: number): void;
  onStepEnd?(measurement: StepMeasurement): void;
}

// ---------------------------------------------------------------------------------------------
// What each system does and skips

/** The aspects, in the order the reports list them. */
export const TRAIT_ASPECTS = [
  "WAL",
  "fsync at commit",
  "SQL executor",
  "checksums",
  "files on disk",
  "insert path",
] as const;

const PGSIM_NO_EXECUTOR: SystemTrait = {
  aspect: "SQL executor",
  does: false,
  short: "no: API calls",
  note: "No parser, planner or executor and no client round trip: each statement is one method call of the Database API in a worker thread.",
};
const PG_EXECUTOR: SystemTrait = {
  aspect: "SQL executor",
  does: true,
  short: "yes, via psql",
  note: "Each statement is sent by psql over TCP on 127.0.0.1, parsed, planned and executed, and its result sent back; the time includes all of it.",
};
const CHECKSUMS_OFF = (who: string): SystemTrait => ({
  aspect: "checksums",
  does: false,
  short: "no",
  note: `Data checksums off (${who}).`,
});
const PGSIM_INSERT: SystemTrait = {
  aspect: "insert path",
  does: true,
  short: "multi-insert",
  note: "insertBatches: heap_multi_insert in batches of 1000 rows through one BulkInsertState (BULKWRITE ring), as PostgreSQL's COPY does; the rows are given column by column (two Int32Arrays) and each tuple is formed straight into its page, the bytes (and WAL) of the row form.",
};
const PG_INSERT: SystemTrait = {
  aspect: "insert path",
  does: true,
  short: "INSERT…SELECT, COPY",
  note: "Measured both ways: INSERT … SELECT generate_series (heap_insert row by row) and COPY from a server-side file (heap_multi_insert in batches, BulkInsertState); the ratios use the faster.",
};

const PGSIM_DISK_FILES: SystemTrait = {
  aspect: "files on disk",
  does: true,
  short: "yes, 128 MB pool",
  note: "Table and WAL files in a temp dir (or --data-dir) behind a pool of 16384 buffers (128 MB, PostgreSQL's default shared_buffers), so a large table spills to its files.",
};

/**
 * What each system does and skips. Every report states these, so that a figure is read against
 * the work behind it: each pgsim system does the durability work of its PostgreSQL counterpart
 * (memheap and heap-unlogged: pg15-unlogged; heap: pg15-default), and pgsim runs no SQL.
 */
export const DML_SYSTEM_TRAITS: Record<DmlSystem, readonly SystemTrait[]> = {
  "pgsim-memheap": [
    {
      aspect: "WAL",
      does: false,
      short: "no",
      note: "The memory-only variant writes no WAL (the in-memory table experiment's point).",
    },
    {
      aspect: "fsync at commit",
      does: false,
      short: "no",
      note: "Nothing is written anywhere: a commit sets the transaction's status in the commit log, an array in shared memory.",
    },
    PGSIM_NO_EXECUTOR,
    CHECKSUMS_OFF("no page is ever written out"),
    {
      aspect: "files on disk",
      does: false,
      short: "no: memory only",
      note: "Memory-only pool sized to hold the whole table; no files, no I/O at all.",
    },
    PGSIM_INSERT,
  ],
  "pg15-unlogged": [
    {
      aspect: "WAL",
      does: false,
      short: "no, for the table",
      note: "UNLOGGED table: its changes write no WAL (only commit records go to the WAL).",
    },
    {
      aspect: "fsync at commit",
      does: false,
      short: "no",
      note: "A transaction that wrote no other WAL commits asynchronously (RecordTransactionCommit: XLogSetAsyncXactLSN); the WAL writer flushes the commit record later.",
    },
    PG_EXECUTOR,
    CHECKSUMS_OFF("initdb's default"),
    {
      aspect: "files on disk",
      does: true,
      short: "yes, 4 GB buffers",
      note: "Table files in the cluster's temp dir; shared_buffers 4 GB holds the whole table, dirty pages stay in it (no checkpoint runs).",
    },
    PG_INSERT,
  ],
  "pgsim-heap-unlogged": [
    {
      aspect: "WAL",
      does: false,
      short: "no, for the table",
      note: "The database writes WAL, but the table is created unlogged: its changes write none (only commit records go to the WAL), as pg15-unlogged. max_wal_size 16 GB and checkpoint_timeout 1 day, as pg15-unlogged: no checkpoint runs.",
    },
    {
      aspect: "fsync at commit",
      does: false,
      short: "no",
      note: "A transaction that wrote only to unlogged tables commits asynchronously, as in PostgreSQL: its commit record is flushed later (by the next WAL flush, at most wal_writer_delay later).",
    },
    PGSIM_NO_EXECUTOR,
    CHECKSUMS_OFF("pgsim's default, as initdb's"),
    {
      aspect: "files on disk",
      does: true,
      short: "yes, 4 GB pool",
      note: "Table and WAL files in a temp dir (or --data-dir) behind a pool of 524288 buffers (4 GB, pg15-unlogged's shared_buffers): as in pg15-unlogged, the whole table stays in the pool and dirty pages are not written back (no checkpoint runs).",
    },
    PGSIM_INSERT,
  ],
  "pgsim-heap": [
    {
      aspect: "WAL",
      does: true,
      short: "yes, with FPIs",
      note: "Every change is WAL-logged in PostgreSQL 15's format (heap and heap2 records, full_page_writes on: a full-page image at the first change of a page after a checkpoint), and a page is written only after the WAL up to its LSN. Checkpoints as pg15-default's: max_wal_size 1 GB (16 MB segments), checkpoint_timeout 5 min; pgsim has no checkpointer process, so a due checkpoint runs in the committing backend, inside the timed statement.",
    },
    {
      aspect: "fsync at commit",
      does: true,
      short: "yes",
      note: "Each commit flushes the WAL up to its commit record and syncs it (synchronous_commit on, fdatasync), as pg15-default.",
    },
    PGSIM_NO_EXECUTOR,
    CHECKSUMS_OFF("pgsim's default, as initdb's"),
    PGSIM_DISK_FILES,
    PGSIM_INSERT,
  ],
  "pg15-default": [
    {
      aspect: "WAL",
      does: true,
      short: "yes, with FPIs",
      note: "Every change is WAL-logged, with a full-page image at the first change of a page after the last checkpoint. Checkpoints by PostgreSQL's defaults: max_wal_size 1 GB, checkpoint_timeout 5 min, run by the checkpointer process alongside the statement.",
    },
    {
      aspect: "fsync at commit",
      does: true,
      short: "yes",
      note: "Each commit flushes the WAL up to its commit record (synchronous_commit on, wal_sync_method fdatasync).",
    },
    PG_EXECUTOR,
    CHECKSUMS_OFF("initdb's default"),
    {
      aspect: "files on disk",
      does: true,
      short: "yes, 128 MB buffers",
      note: "Table and WAL files in the cluster's temp dir; shared_buffers 128 MB (the default), so a large table spills to the OS page cache.",
    },
    PG_INSERT,
  ],
};

// ---------------------------------------------------------------------------------------------
// Repeated runs

/** Median, least and greatest of some samples. */
export interface SampleSummary {
  median: number;
  min: number;
  max: number;
}

/**
 * The median (the mean of the two middle samples for an even count), min and max of samples.
 *
 * @example
 * ```ts
 * summarizeSamples([3, 1, 2]); // { median: 2, min: 1, max: 3 }
 * summarizeSamples([4, 1, 2, 3]); // { median: 2.5, min: 1, max: 4 }
 * ```
 */
export function summarizeSamples(samples: readonly number[]): SampleSummary {
  if (samples.length === 0) throw new RangeError("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
