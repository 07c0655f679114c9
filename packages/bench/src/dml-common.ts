/**
 * What every system in `pgsim-bench dml` runs and reports: the four statements, the systems, and
 * the shape of one step's measurement.
 *
 * Models: the statements as PostgreSQL runs them (see DML_SQL); pgsim runs the same through its
 * statement-level Database API (insertBatches, updateAll, deleteAll, vacuum).
 * Entry points: `DML_STEPS`, `DML_SYSTEMS`, `DML_SQL`, `StepMeasurement`, `StepHooks`.
 * See also: dml.ts (orchestration), dml-pgsim.ts, dml-postgres.ts.
 */

/** The statements, in the order they run. */
export const DML_STEPS = ["insert", "update", "delete", "vacuum"] as const;
export type DmlStep = (typeof DML_STEPS)[number];

/**
 * The systems, in the order they run: each pgsim system right before the PostgreSQL setup it is
 * compared with, memory-only first so that its resident set is measured before anything else
 * has grown the process.
 */
export const DML_SYSTEMS = [
  "pgsim-memheap",
  "pg15-unlogged",
  "pgsim-heap",
  "pg15-default",
] as const;
export type DmlSystem = (typeof DML_SYSTEMS)[number];

/** The PostgreSQL statements; pgsim runs their equivalents (dml-worker.ts). */
export const DML_SQL = {
  create: (unlogged: boolean) =>
    `CREATE ${unlogged ? "UNLOGGED " : ""}TABLE accounts (aid int4 NOT NULL, abalance int4 NOT NULL)`,
  insert: (rows: number) => `INSERT INTO accounts SELECT g, 0 FROM generate_series(1, ${rows}) g`,
  update: () => "UPDATE accounts SET abalance = abalance + 1",
  delete: () => "DELETE FROM accounts",
  vacuum: () => "VACUUM accounts",
} as const;

/** One statement's measurement. */
export interface StepMeasurement {
  step: DmlStep;
  /** Wall time of the statement, in seconds. */
  seconds: number;
  /** The table's main fork size after the statement, in 8 KB blocks. */
  tableBlocks: number;
}

/** Callbacks a system runner calls as it goes (for progress bars). */
export interface StepHooks {
  onStepStart?(step: DmlStep): void;
  /** Rows processed so far in the running step (pgsim only; PostgreSQL does not report it). */
  onStepProgress?(step: DmlStep, rowsDone: number): void;
  onStepEnd?(measurement: StepMeasurement): void;
}
