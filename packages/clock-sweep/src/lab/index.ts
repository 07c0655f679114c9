/**
 * `@pgsim/clock-sweep/lab` — the replacement-policy lab: PostgreSQL's clock sweep (with and without
 * rings) beside LRU, LRU-2, 2Q, ARC and SIEVE, replayed over page-access traces; policies the user
 * writes, loaded by path; and the miss-ratio chart.
 *
 * Models: nothing in PostgreSQL beyond the clock sweep itself, which runs as the package's own
 * StrategyControl / VictimSearch (policies/clock-sweep.ts); see each module's header.
 * Entry points: `compareReplacementPolicies`, `formatComparison`, `replayTrace`, `createPolicy`,
 * `ReplacementPolicy`, `ResidentSetPolicy`, `loadPolicyModule`, `withContractChecks`, the traces
 * (`scanFloodTrace`, `zipfianTrace`, `builtinTrace`, `parseTrace`), `writeComparisonReport`.
 * See also: ../index.ts (the algorithm, which this builds on), ../repl/cli.ts (`pgsim-clock
 * compare`).
 *
 * Importing the lab loads no chart library: vega, vega-lite and @resvg/resvg-js load when a chart
 * is first drawn (lab-chart.ts).
 *
 * @example
 * ```ts
 * import { compareReplacementPolicies, formatComparison, scanFloodTrace }
 *   from "@pgsim/clock-sweep/lab";
 * const c = compareReplacementPolicies(scanFloodTrace(), { bufferCounts: [16] });
 * console.log(formatComparison(c));
 * ```
 */

export { renderSvg, svgToPng } from "./chart.js";
export {
  type Comparison,
  compareReplacementPolicies,
  formatComparison,
  type ReplayResult,
  replayTrace,
} from "./lab.js";
export {
  type ComparisonReportFiles,
  comparisonChartSpec,
  renderComparisonSvg,
  writeComparisonReport,
} from "./lab-chart.js";
export { ArcPolicy } from "./policies/arc.js";
export { ClockSweepPolicy } from "./policies/clock-sweep.js";
export {
  createPolicy,
  isPolicyName,
  POLICY_DESCRIPTIONS,
  POLICY_NAMES,
  type PolicyName,
} from "./policies/index.js";
export { LruPolicy } from "./policies/lru.js";
export { LruKPolicy } from "./policies/lru-k.js";
export {
  type PolicyAccessOptions,
  type PolicyAccessResult,
  type PolicyStats,
  type ReplacementPolicy,
  ResidentSetPolicy,
} from "./policies/policy.js";
export { SievePolicy } from "./policies/sieve.js";
export { TwoQPolicy } from "./policies/two-q.js";
export { loadPolicyModule, type PolicyFactory, withContractChecks } from "./policy-module.js";
export {
  BUILTIN_TRACES,
  builtinTrace,
  formatTrace,
  mulberry32,
  parseTrace,
  type ScanFloodOptions,
  scanFloodTrace,
  type Trace,
  type TraceEvent,
  type TraceStrategy,
  type ZipfianOptions,
  zipfianTrace,
} from "./trace.js";
