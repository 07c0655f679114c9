/**
 * A private PostgreSQL 15 for a test: `startPgCluster` (packages/bench's harness), failing with
 * the reason when PostgreSQL 15 cannot be started — tests that need it never skip.
 */

import { type PgCluster, type PgClusterOptions, startPgCluster } from "@pgsim/bench";

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
