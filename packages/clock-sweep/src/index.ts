/**
 * @pgsim/clock-sweep — PostgreSQL 15's buffer replacement (freelist.c): the free list, the clock
 * sweep over usage counts, and ring strategies, steppable one tick at a time; plus the
 * replacement-policy lab (LRU, LRU-2, 2Q, ARC, SIEVE beside the clock) and its traces. The REPL
 * and the lab's charts live in the `pgsim-clock` bin (cli.ts), not in this entry point.
 *
 * @example
 * ```ts
 * import { SimplePool } from "@pgsim/clock-sweep";
 * const pool = new SimplePool({ bufferCount: 4 });
 * pool.access("rel 1 blk 0");
 * ```
 */
export {
  BufferAccessStrategy,
  type BufferAccessStrategyType,
  getAccessStrategy,
  RING_SIZE_BYTES,
  RING_SLOT_EMPTY,
} from "./access-strategy.js";
export { DescriptorHeaders, type DescriptorLayout } from "./buf-headers.js";
export {
  BM_CHECKPOINT_NEEDED,
  BM_DIRTY,
  BM_IO_ERROR,
  BM_IO_IN_PROGRESS,
  BM_JUST_DIRTIED,
  BM_LOCKED,
  BM_MAX_USAGE_COUNT,
  BM_PERMANENT,
  BM_PIN_COUNT_WAITER,
  BM_TAG_VALID,
  BM_VALID,
  BUF_FLAG_MASK,
  BUF_REFCOUNT_MASK,
  BUF_REFCOUNT_ONE,
  BUF_USAGECOUNT_MASK,
  BUF_USAGECOUNT_ONE,
  BUF_USAGECOUNT_SHIFT,
  type BufStateDescription,
  bufStateGetRefcount,
  bufStateGetUsageCount,
  bumpUsageOnFirstPin,
  describeBufState,
} from "./buf-state.js";
export { AssertionError, assert, PgsimError } from "./errors.js";
export {
  type BufferHeaders,
  FREENEXT_END_OF_LIST,
  FREENEXT_NOT_IN_LIST,
  STRATEGY_CONTROL_INTS,
  StrategyControl,
  type StrategySyncPosition,
  spinDelay,
  strategyShmemSize,
  VictimSearch,
  type VictimStep,
  type VictimStepKind,
} from "./freelist.js";
export {
  type Comparison,
  compareReplacementPolicies,
  formatComparison,
  type ReplayResult,
  replayTrace,
} from "./lab.js";
export { BLCKSZ } from "./pg-config.js";
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
export {
  type AccessResult,
  SIMPLE_POOL_MAX_BUFFERS,
  type SimpleBufferView,
  SimplePool,
  type SimplePoolStats,
} from "./simple-pool.js";
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
