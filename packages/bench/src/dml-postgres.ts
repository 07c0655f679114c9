/**
 * Runs `pgsim-bench dml`'s statements on a private PostgreSQL 15 cluster: the benchmark's peer.
 *
 * Measures: each statement's time as psql's `\timing on` reports it (the client-observed round
 * trip of that one statement, connection set-up excluded), and `pg_relation_size` after it. The
 * insert twice: `INSERT … SELECT generate_series` (then UPDATE, DELETE and VACUUM run on that
 * table), and afterwards `COPY accounts_copy FROM` a server-side file holding the same rows,
 * into a fresh table of the same kind: COPY is PostgreSQL's fastest load path (heap_multi_insert
 * through a BulkInsertState, as pgsim's insert), so the ratios can use whichever is faster.
 * Entry points: `runPostgresSystem`, `POSTGRES_SETUPS`.
 * See also: pg-cluster.ts (the cluster's lifetime: stopped and removed also on failure, exit and
 * Ctrl-C), dml.ts, dml-pgsim.ts, ../README.md.
 *
 * Two setups:
 * - `pg15-default`: PostgreSQL's defaults (shared_buffers 128 MB, fsync, synchronous_commit and
 *   full_page_writes on, max_wal_size 1 GB, checkpoint_timeout 5 min, WAL-logged table), the peer
 *   of pgsim's logged `heap`, which runs with the same WAL settings.
 * - `pg15-unlogged`: shared_buffers 4 GB and an UNLOGGED table (no WAL for it), with
 *   max_wal_size 16 GB and checkpoint_timeout 1 day (no checkpoint in the middle of a
 *   statement): the closest PostgreSQL gets to pgsim's memory-only `memheap`, and the peer of
 *   pgsim's `heap-unlogged`.
 * Both: autovacuum off (VACUUM runs when the benchmark says), data checksums off (initdb's
 * default, as pgsim's).
 *
 * The COPY file is written by the server itself (`COPY (SELECT …) TO '<file>'`, untimed) into
 * the cluster's temporary directory, so it is in the OS page cache when COPY reads it and goes
 * away with the cluster. Reading a server-side file needs a superuser, which the harness's
 * `postgres` role is.
 *
 * Models: pgsim only (drives a private PostgreSQL 15 through psql).
 */

import * as path from "node:path";
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
    settings: { autovacuum: "off" },
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
  /** The four statements (insert by INSERT … SELECT), then the insert by COPY (path "copy"). */
  steps: StepMeasurement[];
  /** `SELECT version()`. */
  serverVersion: string;
  settings: Readonly<Record<string, string>>;
  unlogged: boolean;
}

/**
 * Starts a private cluster with the setup's settings, creates accounts, runs the four statements
 * (or the prefix of them `steps` names) one psql call each, then loads the same rows with COPY into a fresh table, and stops and
 * removes the cluster (also when a statement fails).
 *
 * @example
 * ```ts
 * const r = await runPostgresSystem("pg15-unlogged", { rows: 100_000 });
 * ```
 */
export async function runPostgresSystem(
  system: keyof typeof POSTGRES_SETUPS,
  options: StepHooks & { rows: number; steps?: readonly DmlStep[]; primaryKey?: boolean },
): Promise<PostgresRunResult> {
  const setup = POSTGRES_SETUPS[system];
  const pg = await startPgCluster({ dataChecksums: false, settings: setup.settings });
  try {
    const serverVersion = (await pg.psql("SELECT version()")).trim();
    const primaryKey = options.primaryKey === true;
    await pg.psql(DML_SQL.create(setup.unlogged, "accounts", primaryKey));
    const steps: StepMeasurement[] = [];
    const blocksOf = async (table: string) =>
      Number((await pg.psql(`SELECT pg_relation_size('${table}') / 8192`)).trim());
    for (const step of options.steps ?? DML_STEPS) {
      options.onStepStart?.(step, step === "insert" ? "insert-select" : undefined);
      const ms = await pg.timedStatement(sqlOf(step, options.rows));
      const measurement: StepMeasurement = {
        step,
        ...(step === "insert" ? { path: "insert-select" as const } : {}),
        seconds: ms / 1000,
        tableBlocks: await blocksOf("accounts"),
      };
      steps.push(measurement);
      options.onStepEnd?.(measurement);
    }
    // The same rows by COPY, into a fresh table of the same kind.
    const file = path.join(pg.baseDir, "accounts.copy");
    await pg.psql(DML_SQL.copyOut(options.rows, file));
    await pg.psql(DML_SQL.create(setup.unlogged, "accounts_copy", primaryKey));
    options.onStepStart?.("insert", "copy");
    const ms = await pg.timedStatement(DML_SQL.copyIn(file, "accounts_copy"));
    const copy: StepMeasurement = {
      step: "insert",
      path: "copy",
      seconds: ms / 1000,
      tableBlocks: await blocksOf("accounts_copy"),
    };
    steps.push(copy);
    options.onStepEnd?.(copy);
    return { steps, serverVersion, settings: setup.settings, unlogged: setup.unlogged };
  } finally {
    await pg.stop();
  }
}

function sqlOf(step: DmlStep, rows: number): string {
  return step === "insert" ? DML_SQL.insert(rows) : DML_SQL[step]();
}
