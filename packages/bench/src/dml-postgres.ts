/**
 * Runs `pgsim-bench dml`'s statements on a private PostgreSQL 15 cluster: the benchmark's peer.
 *
 * Measures: each statement's time as psql's `\timing on` reports it (the client-observed round
 * trip of that one statement, connection set-up excluded), and `pg_relation_size` after it.
 * Entry points: `runPostgresSystem`, `POSTGRES_SETUPS`.
 * See also: pg-cluster.ts (the cluster's lifetime: stopped and removed also on failure, exit and
 * Ctrl-C), dml.ts, dml-pgsim.ts, ../README.md.
 *
 * Two setups:
 * - `pg15-default`: PostgreSQL's defaults (shared_buffers 128 MB, fsync and full_page_writes on,
 *   WAL-logged table), the disk-backed peer of pgsim's `heap`.
 * - `pg15-unlogged`: shared_buffers 4 GB and an UNLOGGED table (no WAL for it), the closest
 *   PostgreSQL gets to pgsim's memory-only `memheap`.
 * Both: autovacuum off (VACUUM runs when the benchmark says), max_wal_size 16 GB and
 * checkpoint_timeout 1 day (no checkpoint in the middle of a statement), data checksums off
 * (initdb's default, as pgsim's).
 */

import {
  DML_SQL,
  DML_STEPS,
  type DmlStep,
  type StepHooks,
  type StepMeasurement,
} from "./dml-common.js";
import { startPgCluster } from "./pg-cluster.js";

/** The server settings of each PostgreSQL setup. */
export const POSTGRES_SETUPS = {
  "pg15-default": {
    unlogged: false,
    settings: { autovacuum: "off", max_wal_size: "16GB", checkpoint_timeout: "1d" },
  },
  "pg15-unlogged": {
    unlogged: true,
    settings: {
      autovacuum: "off",
      max_wal_size: "16GB",
      checkpoint_timeout: "1d",
      shared_buffers: "4GB",
    },
  },
} as const;

/** What one PostgreSQL setup did. */
export interface PostgresRunResult {
  steps: StepMeasurement[];
  /** `SELECT version()`. */
  serverVersion: string;
  settings: Readonly<Record<string, string>>;
  unlogged: boolean;
}

/**
 * Starts a private cluster with the setup's settings, creates accounts, runs the four statements
 * one psql call each, and stops and removes the cluster (also when a statement fails).
 *
 * @example
 * ```ts
 * const r = await runPostgresSystem("pg15-unlogged", { rows: 100_000 });
 * ```
 */
export async function runPostgresSystem(
  system: keyof typeof POSTGRES_SETUPS,
  options: StepHooks & { rows: number },
): Promise<PostgresRunResult> {
  const setup = POSTGRES_SETUPS[system];
  const pg = await startPgCluster({ dataChecksums: false, settings: setup.settings });
  try {
    const serverVersion = (await pg.psql("SELECT version()")).trim();
    await pg.psql(DML_SQL.create(setup.unlogged));
    const steps: StepMeasurement[] = [];
    for (const step of DML_STEPS) {
      options.onStepStart?.(step);
      const ms = await pg.timedStatement(sqlOf(step, options.rows));
      const blocks = Number(
        (
          await pg.psql(
            "SELECT pg_relation_size('accounts') / current_setting('block_size')::bigint",
          )
        ).trim(),
      );
      const measurement = { step, seconds: ms / 1000, tableBlocks: blocks };
      steps.push(measurement);
      options.onStepEnd?.(measurement);
    }
    return { steps, serverVersion, settings: setup.settings, unlogged: setup.unlogged };
  } finally {
    await pg.stop();
  }
}

function sqlOf(step: DmlStep, rows: number): string {
  return step === "insert" ? DML_SQL.insert(rows) : DML_SQL[step]();
}
