/**
 * @pgsim/bench — benchmarks of pgsim's storage layer, run through the `pgsim-bench` command.
 *
 * Measures: see micro.ts (per-operation costs and shared-memory overhead).
 * Entry points: `runMicro`, `formatMicroTable`, `main` (the command line).
 * See also: cli.ts, micro.ts, ../README.md, ../RESULTS.md.
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
