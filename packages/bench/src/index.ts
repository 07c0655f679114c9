/**
 * @pgsim/bench — benchmarks of pgsim's storage layer, run through the `pgsim-bench` command.
 *
 * Measures: see micro.ts (per-operation costs and shared-memory overhead).
 * Entry points: `runMicro`, `formatMicroTable`, `main` (the command line), `startPgCluster` (a
 * private PostgreSQL 15 server: the format oracle and the benchmark's peer).
 * See also: cli.ts, micro.ts, pg-cluster.ts, ../README.md, ../RESULTS.md.
 *
 * @example
 * ```ts
 * import { runMicro } from "@pgsim/bench";
 * const r = await runMicro({ quick: true });
 * console.log(`${r.hitPathNsPerOp.toFixed(1)} ns per hit, ${r.hitPathVsMap.toFixed(2)}x a Map`);
 * ```
 */
export { type CliIo, main } from "./cli.js";
export {
  DEFAULT_NBUFFERS,
  formatMicroTable,
  HIT_PATH_VS_MAP_MAX,
  type MicroCase,
  type MicroOptions,
  type MicroResult,
  runMicro,
  SHMEM_OVERHEAD_PCT_MAX,
} from "./micro.js";
export {
  findFreePort,
  PG15_BIN_DIR,
  type PgCluster,
  type PgClusterOptions,
  type PsqlOptions,
  parseCopyText,
  startPgCluster,
} from "./pg-cluster.js";
