/**
 * @pgsim/clock-sweep — PostgreSQL 15's buffer replacement (freelist.c): the free list, the clock
 * sweep over usage counts, and ring strategies, steppable one tick at a time.
 *
 * Models: src/backend/storage/buffer/freelist.c and the buffer-state half of buf_internals.h (see
 * each module's header).
 * Entry points: `StrategyControl`, `VictimSearch`, `getAccessStrategy`, `SimplePool`, the BM_*
 * state word helpers, `PgsimError`.
 * See also: lab/index.ts (`@pgsim/clock-sweep/lab`: the replacement-policy lab, its policies and
 * traces), repl/index.ts (`@pgsim/clock-sweep/repl`: the teaching REPL; the `pgsim-clock` bin).
 *
 * This entry point is the algorithm alone: it imports no lab or REPL module and no package at all
 * (test/core-entry.test.ts checks it), so the buffer manager built on it loads nothing else.
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
export { BLCKSZ } from "./pg-config.js";
export { mulberry32 } from "./prng.js";
export {
  type AccessResult,
  SIMPLE_POOL_MAX_BUFFERS,
  type SimpleBufferView,
  SimplePool,
  type SimplePoolStats,
} from "./simple-pool.js";
