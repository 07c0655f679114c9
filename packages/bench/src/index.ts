/**
 * @pgsim/bench — benchmarks of pgsim's storage layer, run through the `pgsim-bench` command.
 *
 * Measures: see micro.ts (per-operation costs and shared-memory overhead), dml.ts (INSERT,
 * UPDATE, DELETE and VACUUM of N rows on pgsim's memory-only heap, its disk-backed heap logged
 * and unlogged, and on PostgreSQL 15) and backends.ts
 * (C clients on B worker-thread backends behind the pooler).
 * Entry points: `runMicro`, `formatMicroTable`, `writeMicroReport`, `runDml`, `formatDmlTable`,
 * `writeDmlReport`, `main` (the command line), `startPgCluster` (a private PostgreSQL 15 server:
 * the format oracle and the benchmark's peer), `renderSvg` / `svgToPng` / `writeChart`.
 * See also: cli.ts, micro.ts, dml.ts, pg-cluster.ts, chart.ts, ../README.md, ../RESULTS.md.
 *
 * @example
 * ```ts
 * import { runMicro } from "@pgsim/bench";
 * const r = await runMicro({ quick: true });
 * console.log(`${r.hitPathNsPerOp.toFixed(1)} ns per hit, ${r.hitPathVsTwoLevelMap.toFixed(2)}x a two-level Map`);
 * ```
 *
 * Models: pgsim only (the package's public entry point).
 */
export { type BackendsResult, runBackends } from "./backends.js";
export type { BackendsMode, BackendsOptions } from "./backends-options.js";
export type { BackendsPoint } from "./backends-run.js";
export { CHART_CONFIG, renderSvg, svgToPng, valueLabelLayer, writeChart } from "./chart.js";
export { type CliIo, main } from "./cli.js";
export {
  DML_COMPARISONS,
  DML_DEFAULT_SYSTEMS,
  DML_REPEAT_MAX,
  type DmlComparison,
  type DmlFigure,
  type DmlOptions,
  type DmlRatio,
  type DmlResult,
  type DmlStepResult,
  type DmlSystemInfo,
  EXPERIMENT_PUBLISHED,
  MEMHEAP_RSS_VS_POOL_MAX,
  type PeerChoice,
  runDml,
} from "./dml.js";
export {
  checkStepsPrefix,
  DML_SQL,
  DML_STEPS,
  DML_SYSTEM_TRAITS,
  DML_SYSTEMS,
  type DmlStep,
  type DmlSystem,
  INSERT_PATHS,
  type InsertPath,
  isPgsimSystem,
  PGSIM_DML_SYSTEMS,
  type PgsimDmlSystem,
  type StepHooks,
  type StepMeasurement,
  summarizeSamples,
} from "./dml-common.js";
export {
  checkDataDir,
  HEAP_BUFFER_COUNT,
  memheapBufferCount,
  PGSIM_SETUPS,
  type PgsimRunOptions,
  type PgsimRunResult,
  type PgsimShutdown,
  type PgsimWalSettings,
  pgsimSettings,
  ROWS_PER_PAGE,
  runPgsimSystem,
} from "./dml-pgsim.js";
export { POSTGRES_SETUPS, type PostgresRunResult, runPostgresSystem } from "./dml-postgres.js";
export {
  dmlMarkdown,
  dmlRatioSpec,
  dmlThroughputSpec,
  formatDmlTable,
  writeDmlReport,
} from "./dml-report.js";
export { type MachineInfo, machineInfo } from "./machine.js";
export {
  DEFAULT_NBUFFERS,
  formatMicroTable,
  HIT_PATH_VS_MAP_MAX,
  MICRO_HIT_ROUNDS,
  MICRO_SCOPE,
  type MicroCase,
  type MicroHitRound,
  type MicroOptions,
  type MicroResult,
  microChartSpec,
  microMarkdown,
  runMicro,
  SHMEM_OVERHEAD_PCT_MAX,
  writeMicroReport,
} from "./micro.js";
export {
  findFreePort,
  installedPgBinDir,
  PG15_BIN_DIR,
  type PgCluster,
  type PgClusterOptions,
  type PsqlOptions,
  parseCopyText,
  parsePsqlTiming,
  startPgCluster,
} from "./pg-cluster.js";
export {
  type LatencySummary,
  latencySummary,
  PGBENCH_BUILTINS,
  type PgbenchBuiltin,
  type PgbenchOptions,
  type PgbenchResult,
  type PgbenchSummary,
  parsePgbenchLog,
  parsePgbenchSummary,
  runPgbench,
} from "./pgbench.js";
export { createProgress, type Progress, type ProgressBar } from "./progress.js";
export { describeTraits, type SystemTrait, traitsInBrief } from "./traits.js";
