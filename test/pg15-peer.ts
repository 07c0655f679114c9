/**
 * PostgreSQL 15 for a test: a private cluster (`startPgCluster`, packages/bench's harness) and
 * its pg_waldump, failing with the reason when PostgreSQL 15 is missing — tests that need it
 * never skip.
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PG15_BIN_DIR, type PgCluster, type PgClusterOptions, startPgCluster } from "@pgsim/bench";

/** Starts the cluster, or throws "this test needs PostgreSQL 15 and never skips …". */
export async function startPg15(options: PgClusterOptions = {}): Promise<PgCluster> {
  try {
    return await startPgCluster(options);
  } catch (error) {
    throw new Error(
      `this test needs PostgreSQL 15 and never skips (CI=${process.env.CI ?? "unset"}): ` +
        (error as Error).message,
    );
  }
}

/** What one pg_waldump run printed, and its exit status. */
export interface WaldumpResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs PostgreSQL 15's pg_waldump (from env PGSIM_PG_BIN_DIR, else /usr/lib/postgresql/15/bin)
 * with `args`, in the C locale and UTC, or throws "this test needs PostgreSQL 15's pg_waldump …"
 * when it is not there.
 */
export function pg15Waldump(args: readonly string[]): WaldumpResult {
  const file = path.join(process.env.PGSIM_PG_BIN_DIR ?? PG15_BIN_DIR, "pg_waldump");
  if (!fs.existsSync(file)) {
    throw new Error(
      `this test needs PostgreSQL 15's pg_waldump (${file} does not exist) and never skips: ` +
        "install it with `apt-get install postgresql-15`, or set PGSIM_PG_BIN_DIR",
    );
  }
  const r = spawnSync(file, args, {
    encoding: "utf8",
    env: { ...process.env, TZ: "UTC", LC_ALL: "C", LANG: "C" },
    maxBuffer: 512 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
