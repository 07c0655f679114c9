/**
 * `pgsim-bench micro`: benny suites for the buffer manager's and the heap page's per-operation
 * costs, with a plain JavaScript Map as the yardstick, and the shared-memory overhead of a 128 MB
 * pool.
 *
 * Measures: the hit path (readBuffer + releaseBuffer of a resident page) in a memory-only and a
 * disk-backed pool; a Map get + set on the same tags, keyed three ways (a string of the whole tag;
 * two levels, a precomputed relation key then fork/block as a number; the block number alone, a
 * lower bound that drops the relation); the miss path with eviction of a
 * clean and of a dirty victim (disk-backed pool smaller than the data); one clock-sweep tick
 * (StrategyControl.clockSweepTick); adding a tuple to a heap page (PageAddItemExtended); forming
 * and deforming an (int4, int4) tuple (heap_form_tuple, heap_deform_tuple); and BufferShmemSize
 * for NBuffers = 16384 (shared_buffers = 128 MB, PostgreSQL's default).
 * Entry points: `runMicro`, `formatMicroTable`, `microMarkdown`, `writeMicroReport`, `MicroResult`.
 * See also: cli.ts (the command), chart.ts, ../README.md (what each figure means), ../RESULTS.md.
 *
 * Every case runs a batch of operations per call (`opsPerCall`), so the harness's per-call cost
 * is spread over many operations; figures are nanoseconds per single operation.
 *
 * Models: pgsim only (micro-benchmarks of the buffer manager's hit path and shared memory).
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  attachBufferPool,
  BLCKSZ,
  type BufferPool,
  bufferShmemSize,
  ForkNumber,
  initBufferPool,
  type RelFileLocator,
  SharedBufferPool,
} from "@pgsim/buffer-manager";
import {
  createTupleDesc,
  heapDeformTuple,
  heapFormTuple,
  InvalidOffsetNumber,
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageInit,
} from "@pgsim/heap-am/internals";
import b from "benny";
import type { TopLevelSpec } from "vega-lite";
import { CHART_CONFIG, valueLabelLayer, writeChart } from "./chart.js";
import { type MachineInfo, machineInfo } from "./machine.js";

/** PostgreSQL's default shared_buffers (128 MB) in 8 KB buffers. */
export const DEFAULT_NBUFFERS = 16384;
/** pgsim's own goals: the hit path at most 3× the two-level Map get + set (issue 15); overhead at most 2 %. */
export const HIT_PATH_VS_MAP_MAX = 3;
export const SHMEM_OVERHEAD_PCT_MAX = 2;

/** What the cases do and skip, stated in every report (the micro counterpart of dml's traits). */
export const MICRO_SCOPE =
  "pgsim only, one thread, no contention; no WAL, no checksums, no SQL; the disk-backed pools read and write the OS page cache (readSync / writeSync) and never fsync.";

/** Resident blocks the hit-path and Map cases cycle over (one pass per call). */
const RESIDENT_BLOCKS = 1024;
/** Blocks the miss cases cycle over, through a pool of MISS_POOL_BUFFERS buffers. */
const MISS_BLOCKS = 1024;
const MISS_POOL_BUFFERS = 64;
const MISS_OPS_PER_CALL = 64;
const REL: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 16384 };

export interface MicroOptions {
  /** A few seconds in all instead of about a minute (for smoke tests). */
  quick?: boolean;
  /**
   * Rounds of the hit-path suite (default MICRO_HIT_ROUNDS, 1 with `quick`): the goal is judged
   * on the median round's ratio, since one round's ratio moves by ±20 % from hour to hour here.
   */
  rounds?: number;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

/** One benchmark case. */
export interface MicroCase {
  suite: string;
  name: string;
  /** Nanoseconds per single operation (mean over samples). */
  nsPerOp: number;
  /** Operations per second (single operations, not calls). */
  opsPerSec: number;
  /** Relative margin of error of the mean, in percent (benny's "±"). */
  marginPct: number;
  samples: number;
  opsPerCall: number;
}

/** One round of the hit-path suite: both hit paths and the two-level Map, measured together. */
export interface MicroHitRound {
  memoryNsPerOp: number;
  diskNsPerOp: number;
  mapTwoLevelNsPerOp: number;
  /** The slower hit path over the two-level Map. */
  ratio: number;
}

/** Rounds of the hit-path suite by default (odd, so the median is one of them). */
export const MICRO_HIT_ROUNDS = 3;

/** What `pgsim-bench micro --json` prints. */
export interface MicroResult {
  command: "micro";
  quick: boolean;
  date: string;
  machine: MachineInfo;
  /** The slower of the two hit paths (memory-only, disk-backed). */
  hitPathNsPerOp: number;
  hitPathMemoryNsPerOp: number;
  hitPathDiskNsPerOp: number;
  /** Map get + set keyed by the whole tag as a string, as a plain JS cache would key it. */
  mapNsPerOp: number;
  /**
   * Map get + set in two levels: a Map per relation found by a relation key computed once (as a
   * relcache entry would hold it), then keyed by fork * 2^32 + block. Same key information, no
   * string built per access.
   */
  mapTwoLevelNsPerOp: number;
  /** Map get + set keyed by the block number alone (a lower bound: drops the relation). */
  mapNumericNsPerOp: number;
  hitPathVsMap: number;
  /** The median round's (the hit-path figures above and the cases are that round's). */
  hitPathVsTwoLevelMap: number;
  /** The lowest and highest round's hitPathVsTwoLevelMap. */
  hitPathVsTwoLevelMapMin: number;
  hitPathVsTwoLevelMapMax: number;
  /** Every round of the hit-path suite, in the order run. */
  hitRounds: MicroHitRound[];
  hitPathVsNumericMap: number;
  /** readBuffer + releaseBuffer of a block not in the pool; the victim is clean. */
  missCleanNsPerOp: number;
  /** readBuffer, lock, dirty, unlock + release of a block not in the pool; victims are dirty. */
  missDirtyNsPerOp: number;
  clockSweepTickNsPerOp: number;
  /** pageAddItemExtended of a 32-byte (int4, int4) tuple into a heap page with room. */
  pageAddItemNsPerOp: number;
  /** heapFormTuple of an (int4, int4) row. */
  heapFormTupleNsPerOp: number;
  /** heapDeformTuple of an (int4, int4) tuple. */
  heapDeformTupleNsPerOp: number;
  shmemBufferCount: number;
  shmemTotalBytes: number;
  shmemOverheadBytes: number;
  shmemOverheadPct: number;
  /**
   * pgsim's goals: the hit path within 3 × the two-level Map (issue 15: the string-keyed Map
   * builds a string per access, so beating it says little), and the shared-memory overhead.
   */
  targets: {
    hitPathVsTwoLevelMap: { max: number; met: boolean };
    shmemOverheadPct: { max: number; met: boolean };
  };
  cases: MicroCase[];
  /** What the cases do and skip (MICRO_SCOPE). */
  scope: string;
}

/** Keeps results alive so the JIT cannot drop the measured work. */
let sink = 0;

/** The values the cases folded together (read it so the work counts as used). */
export function microSink(): number {
  return sink;
}

interface CaseSpec {
  name: string;
  opsPerCall: number;
  fn: () => void;
}

/** Runs one benny suite and converts its results to MicroCases. */
async function runSuite(
  suite: string,
  specs: CaseSpec[],
  options: MicroOptions,
): Promise<MicroCase[]> {
  const log = options.log ?? (() => {});
  const config = options.quick
    ? { cases: { minSamples: 5, maxTime: 0.2 } }
    : { cases: { minSamples: 20, maxTime: 2.5 } };
  log(`suite "${suite}"`);
  // benny announces each suite with console.log; stdout belongs to the result, so divert it.
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => log(args.map(String).join(" "));
  try {
    const summary = await b.suite(
      suite,
      b.configure(config),
      ...specs.map((s) => b.add(s.name, () => s.fn)),
      b.cycle((result) => {
        const ns = (result.details.mean * 1e9) / opsPerCallOf(specs, result.name);
        log(`  ${result.name}: ${ns.toFixed(1)} ns/op ±${result.margin.toFixed(2)}%`);
        return undefined;
      }),
    );
    return summary.results.map((r) => {
      const opsPerCall = opsPerCallOf(specs, r.name);
      const nsPerOp = (r.details.mean * 1e9) / opsPerCall;
      return {
        suite,
        name: r.name,
        nsPerOp,
        opsPerSec: 1e9 / nsPerOp,
        marginPct: r.margin,
        samples: r.samples,
        opsPerCall,
      };
    });
  } finally {
    console.log = consoleLog;
  }
}

function opsPerCallOf(specs: CaseSpec[], name: string): number {
  const s = specs.find((x) => x.name === name);
  if (s === undefined) throw new Error(`benny reported an unknown case "${name}"`);
  return s.opsPerCall;
}

/** Creates a relation of `blocks` blocks (each page's first byte set) through `pool`. */
function fillRelation(pool: BufferPool, blocks: number): void {
  pool.createRelation(REL, ForkNumber.MAIN);
  for (let i = 0; i < blocks; i++) {
    const buf = pool.extend(REL, ForkNumber.MAIN);
    pool.lockBuffer(buf, "exclusive");
    pool.bufferGetPage(buf)[0] = i & 0xff;
    pool.markBufferDirty(buf);
    pool.unlockReleaseBuffer(buf);
  }
}

/** readBuffer + releaseBuffer over every resident block once. */
function hitPathCase(name: string, pool: BufferPool): CaseSpec {
  return {
    name,
    opsPerCall: RESIDENT_BLOCKS,
    fn: () => {
      let s = 0;
      for (let block = 0; block < RESIDENT_BLOCKS; block++) {
        const buf = pool.readBuffer(REL, ForkNumber.MAIN, block);
        s += buf;
        pool.releaseBuffer(buf);
      }
      sink ^= s;
    },
  };
}

function findCase(cases: MicroCase[], name: string): MicroCase {
  const c = cases.find((x) => x.name === name);
  if (c === undefined) throw new Error(`case "${name}" produced no result`);
  return c;
}

const CASE_HIT_MEMORY = "readBuffer+releaseBuffer, memory-only (hit)";
const CASE_HIT_DISK = "readBuffer+releaseBuffer, disk-backed (hit)";
const CASE_MAP_STRING = "Map get+set, string key spc/db/rel/fork/block";
const CASE_MAP_TWO_LEVEL = "Map get+set, two-level: relation key, then fork/block";
const CASE_MAP_NUMBER = "Map get+set, numeric key block";
const CASE_MISS_CLEAN = "readBuffer+releaseBuffer, miss, clean victim";
const CASE_MISS_DIRTY = "read+lock+dirty+release, miss, dirty victim";
const CASE_TICK = "clockSweepTick";
const CASE_ADD_ITEM = "pageAddItemExtended, (int4,int4) tuple";
const CASE_FORM = "heapFormTuple (int4,int4)";
const CASE_DEFORM = "heapDeformTuple (int4,int4)";
/** Tuples of (int4, int4) that fit on one empty heap page at fillfactor 100. */
const TUPLES_PER_PAGE = 226;
/** Rows formed or deformed per call. */
const TUPLE_OPS_PER_CALL = 1024;

/**
 * The page-and-tuple suite: PageAddItemExtended filling an 8 KB heap page with 226 (int4, int4)
 * tuples (one call = pageInit + 226 adds; pageInit's share is included), and heap_form_tuple /
 * heap_deform_tuple of that row shape.
 */
function tupleCases(): CaseSpec[] {
  const desc = createTupleDesc([
    { name: "aid", type: "int4", notNull: true },
    { name: "abalance", type: "int4", notNull: true },
  ]);
  const page = new Uint8Array(BLCKSZ);
  const tuple = heapFormTuple(desc, [1, 0]);
  const row: [number, number] = [0, 0];
  return [
    {
      name: CASE_ADD_ITEM,
      opsPerCall: TUPLES_PER_PAGE,
      fn: () => {
        pageInit(page, 0);
        let s = 0;
        for (let i = 0; i < TUPLES_PER_PAGE; i++) {
          s += pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP);
        }
        if (s === 0) throw new Error("pageAddItemExtended added nothing");
        sink ^= s;
      },
    },
    {
      name: CASE_FORM,
      opsPerCall: TUPLE_OPS_PER_CALL,
      fn: () => {
        let s = 0;
        for (let i = 0; i < TUPLE_OPS_PER_CALL; i++) {
          row[0] = i;
          row[1] = -i;
          s += heapFormTuple(desc, row).length;
        }
        sink ^= s;
      },
    },
    {
      name: CASE_DEFORM,
      opsPerCall: TUPLE_OPS_PER_CALL,
      fn: () => {
        let s = 0;
        for (let i = 0; i < TUPLE_OPS_PER_CALL; i++) {
          s += heapDeformTuple(desc, tuple)[0] as number;
        }
        sink ^= s;
      },
    },
  ];
}

/**
 * Runs the micro suites. Creates its pools (and a temporary data directory, removed at the end).
 *
 * @example
 * ```ts
 * const r = await runMicro({ quick: true });
 * console.log(r.hitPathVsMap, r.shmemOverheadPct);
 * ```
 */
export async function runMicro(options: MicroOptions = {}): Promise<MicroResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-micro-"));
  const pools: BufferPool[] = [];
  try {
    // Hit path: both variants hold all RESIDENT_BLOCKS blocks (and were filled, so they are warm).
    const memory = attachBufferPool(
      initBufferPool({ variant: "memory", bufferCount: 2 * RESIDENT_BLOCKS }),
    );
    pools.push(memory);
    fillRelation(memory, RESIDENT_BLOCKS);
    const disk = attachBufferPool(
      initBufferPool({
        variant: "disk",
        bufferCount: 2 * RESIDENT_BLOCKS,
        dataDir: path.join(dataDir, "hit"),
      }),
    );
    pools.push(disk);
    fillRelation(disk, RESIDENT_BLOCKS);
    disk.checkpoint();

    // The same tags as a plain JS cache would key them. Values are toggled, not counted, so they
    // stay small integers for the whole run.
    const stringMap = new Map<string, number>();
    const numberMap = new Map<number, number>();
    const relKey = `${REL.spcOid}/${REL.dbOid}/${REL.relNumber}`;
    const relMaps = new Map<string, Map<number, number>>([[relKey, new Map()]]);
    const fork: number = ForkNumber.MAIN;
    for (let block = 0; block < RESIDENT_BLOCKS; block++) {
      stringMap.set(`${REL.spcOid}/${REL.dbOid}/${REL.relNumber}/${fork}/${block}`, 0);
      relMaps.get(relKey)!.set(fork * 0x1_0000_0000 + block, 0);
      numberMap.set(block, 0);
    }
    const hitSuite = (): Promise<MicroCase[]> =>
      runSuite(
        "hit path",
        [
          hitPathCase(CASE_HIT_MEMORY, memory),
          hitPathCase(CASE_HIT_DISK, disk),
          {
            name: CASE_MAP_STRING,
            opsPerCall: RESIDENT_BLOCKS,
            fn: () => {
              let s = 0;
              for (let block = 0; block < RESIDENT_BLOCKS; block++) {
                const key = `${REL.spcOid}/${REL.dbOid}/${REL.relNumber}/${fork}/${block}`;
                const v = stringMap.get(key)!;
                stringMap.set(key, v ^ 1);
                s += v;
              }
              sink ^= s;
            },
          },
          {
            name: CASE_MAP_TWO_LEVEL,
            opsPerCall: RESIDENT_BLOCKS,
            fn: () => {
              let s = 0;
              for (let block = 0; block < RESIDENT_BLOCKS; block++) {
                const m = relMaps.get(relKey)!;
                const key = fork * 0x1_0000_0000 + block;
                const v = m.get(key)!;
                m.set(key, v ^ 1);
                s += v;
              }
              sink ^= s;
            },
          },
          {
            name: CASE_MAP_NUMBER,
            opsPerCall: RESIDENT_BLOCKS,
            fn: () => {
              let s = 0;
              for (let block = 0; block < RESIDENT_BLOCKS; block++) {
                const v = numberMap.get(block)!;
                numberMap.set(block, v ^ 1);
                s += v;
              }
              sink ^= s;
            },
          },
        ],
        options,
      );
    const rounds = options.rounds ?? (options.quick ? 1 : MICRO_HIT_ROUNDS);
    if (!(Number.isInteger(rounds) && rounds >= 1)) {
      throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
    }
    const log = options.log ?? (() => {});
    const hitRuns: { cases: MicroCase[]; round: MicroHitRound }[] = [];
    for (let i = 0; i < rounds; i++) {
      if (rounds > 1) log(`hit path: round ${i + 1} of ${rounds}`);
      const cases = await hitSuite();
      const memoryNs = findCase(cases, CASE_HIT_MEMORY).nsPerOp;
      const diskNs = findCase(cases, CASE_HIT_DISK).nsPerOp;
      const mapNs = findCase(cases, CASE_MAP_TWO_LEVEL).nsPerOp;
      hitRuns.push({
        cases,
        round: {
          memoryNsPerOp: memoryNs,
          diskNsPerOp: diskNs,
          mapTwoLevelNsPerOp: mapNs,
          ratio: Math.max(memoryNs, diskNs) / mapNs,
        },
      });
    }
    // The median round (the lower middle one for an even count) gives the reported figures.
    const byRatio = [...hitRuns].sort((a, b) => a.round.ratio - b.round.ratio);
    const median = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
    const hitCases = median.cases;

    // Miss path: MISS_BLOCKS blocks through MISS_POOL_BUFFERS buffers, in order, so every read
    // misses and evicts (the clock sweep finds usage counts already at 0 or 1).
    const missPool = attachBufferPool(
      initBufferPool({
        variant: "disk",
        bufferCount: MISS_POOL_BUFFERS,
        dataDir: path.join(dataDir, "miss"),
      }),
    );
    pools.push(missPool);
    fillRelation(missPool, MISS_BLOCKS);
    missPool.checkpoint();
    let nextClean = 0;
    let nextDirty = 0;
    const missCases = await runSuite(
      "miss path",
      [
        {
          name: CASE_MISS_CLEAN,
          opsPerCall: MISS_OPS_PER_CALL,
          fn: () => {
            for (let i = 0; i < MISS_OPS_PER_CALL; i++) {
              const buf = missPool.readBuffer(REL, ForkNumber.MAIN, nextClean);
              nextClean = nextClean + 1 === MISS_BLOCKS ? 0 : nextClean + 1;
              missPool.releaseBuffer(buf);
            }
          },
        },
        {
          name: CASE_MISS_DIRTY,
          opsPerCall: MISS_OPS_PER_CALL,
          fn: () => {
            for (let i = 0; i < MISS_OPS_PER_CALL; i++) {
              const buf = missPool.readBuffer(REL, ForkNumber.MAIN, nextDirty);
              nextDirty = nextDirty + 1 === MISS_BLOCKS ? 0 : nextDirty + 1;
              missPool.lockBuffer(buf, "exclusive");
              const page = missPool.bufferGetPage(buf);
              page[64] = (page[64]! + 1) & 0xff;
              missPool.markBufferDirty(buf);
              missPool.unlockReleaseBuffer(buf);
            }
          },
        },
      ],
      options,
    );
    const missStats = missPool.statistics();
    if (missStats.evictions === 0) throw new Error("the miss-path suite evicted nothing");

    if (!(memory instanceof SharedBufferPool)) throw new Error("expected a SharedBufferPool");
    const strategy = memory.strategyControl;
    const tickCases = await runSuite(
      "clock sweep",
      [
        {
          name: CASE_TICK,
          opsPerCall: RESIDENT_BLOCKS,
          fn: () => {
            let s = 0;
            for (let i = 0; i < RESIDENT_BLOCKS; i++) s += strategy.clockSweepTick();
            sink ^= s;
          },
        },
      ],
      options,
    );

    const tupleSuite = await runSuite("page and tuple", tupleCases(), options);

    const cases = [...hitCases, ...missCases, ...tickCases, ...tupleSuite];
    const {
      memoryNsPerOp: hitMemory,
      diskNsPerOp: hitDisk,
      mapTwoLevelNsPerOp: mapTwoLevel,
    } = median.round;
    const mapString = findCase(cases, CASE_MAP_STRING).nsPerOp;
    const mapNumber = findCase(cases, CASE_MAP_NUMBER).nsPerOp;
    const hit = Math.max(hitMemory, hitDisk);
    const shmem = bufferShmemSize({
      variant: "disk",
      bufferCount: DEFAULT_NBUFFERS,
      dataDir: "x",
    });
    const shmemOverheadPct = (shmem.overheadBytes / (DEFAULT_NBUFFERS * BLCKSZ)) * 100;
    return {
      command: "micro",
      quick: options.quick === true,
      date: new Date().toISOString(),
      machine: machineInfo(),
      hitPathNsPerOp: hit,
      hitPathMemoryNsPerOp: hitMemory,
      hitPathDiskNsPerOp: hitDisk,
      mapNsPerOp: mapString,
      mapTwoLevelNsPerOp: mapTwoLevel,
      mapNumericNsPerOp: mapNumber,
      hitPathVsMap: hit / mapString,
      hitPathVsTwoLevelMap: median.round.ratio,
      hitPathVsTwoLevelMapMin: byRatio[0]!.round.ratio,
      hitPathVsTwoLevelMapMax: byRatio[byRatio.length - 1]!.round.ratio,
      hitRounds: hitRuns.map((r) => r.round),
      hitPathVsNumericMap: hit / mapNumber,
      missCleanNsPerOp: findCase(cases, CASE_MISS_CLEAN).nsPerOp,
      missDirtyNsPerOp: findCase(cases, CASE_MISS_DIRTY).nsPerOp,
      clockSweepTickNsPerOp: findCase(cases, CASE_TICK).nsPerOp,
      pageAddItemNsPerOp: findCase(cases, CASE_ADD_ITEM).nsPerOp,
      heapFormTupleNsPerOp: findCase(cases, CASE_FORM).nsPerOp,
      heapDeformTupleNsPerOp: findCase(cases, CASE_DEFORM).nsPerOp,
      shmemBufferCount: DEFAULT_NBUFFERS,
      shmemTotalBytes: shmem.totalBytes,
      shmemOverheadBytes: shmem.overheadBytes,
      shmemOverheadPct,
      targets: {
        hitPathVsTwoLevelMap: {
          max: HIT_PATH_VS_MAP_MAX,
          met: median.round.ratio <= HIT_PATH_VS_MAP_MAX,
        },
        shmemOverheadPct: {
          max: SHMEM_OVERHEAD_PCT_MAX,
          met: shmemOverheadPct <= SHMEM_OVERHEAD_PCT_MAX,
        },
      },
      cases,
      scope: MICRO_SCOPE,
    };
  } finally {
    for (const p of pools) p.detach();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** " (median of 3 rounds, 2.65–3.70)" after the hit-path ratio; "" for one round. */
function roundsText(r: MicroResult): string {
  const n = r.hitRounds.length;
  if (n <= 1) return "";
  const lo = r.hitPathVsTwoLevelMapMin.toFixed(2);
  const hi = r.hitPathVsTwoLevelMapMax.toFixed(2);
  return ` (median of ${n} rounds, ${lo}–${hi})`;
}

/** The human-readable report: one table of cases, then the headline figures and pgsim's goals. */
export function formatMicroTable(r: MicroResult): string {
  const rows = r.cases.map((c) => [
    c.suite,
    c.name,
    c.nsPerOp.toFixed(1),
    (c.opsPerSec / 1e6).toFixed(2),
    `±${c.marginPct.toFixed(2)}%`,
    String(c.samples),
  ]);
  const header = ["suite", "case", "ns/op", "Mops/s", "margin", "samples"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ");
  const met = (ok: boolean): string => (ok ? "met" : "NOT met");
  return [
    `pgsim-bench micro: ${r.scope}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `hit path (slower variant)   ${r.hitPathNsPerOp.toFixed(1)} ns/op`,
    `Map get+set, string key     ${r.mapNsPerOp.toFixed(1)} ns/op`,
    `hitPathVsTwoLevelMap        ${r.hitPathVsTwoLevelMap.toFixed(2)}${roundsText(r)}  (same key information, no string per access; pgsim goal <= ${r.targets.hitPathVsTwoLevelMap.max}: ${met(r.targets.hitPathVsTwoLevelMap.met)})`,
    `hitPathVsMap                ${r.hitPathVsMap.toFixed(2)}  (for reference: a string key built per access)`,
    `hitPathVsNumericMap         ${r.hitPathVsNumericMap.toFixed(2)}  (for reference: block number only, drops the relation)`,
    `shmemOverheadPct            ${r.shmemOverheadPct.toFixed(2)} %  (${r.shmemOverheadBytes} bytes beyond ${r.shmemBufferCount} x ${BLCKSZ}; pgsim goal <= ${r.targets.shmemOverheadPct.max}: ${met(r.targets.shmemOverheadPct.met)})`,
    `machine                     ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, node ${r.machine.node}, ${r.machine.os}`,
    "",
  ].join("\n");
}

/** The report as markdown (what `--out` writes to micro.md). */
export function microMarkdown(r: MicroResult): string {
  const met = (ok: boolean): string => (ok ? "yes" : "no");
  return [
    `# pgsim-bench micro${r.quick ? " (--quick)" : ""}`,
    "",
    `${r.date}; ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, node ${r.machine.node}, ${r.machine.os}.`,
    "",
    `What the cases do and skip: ${r.scope}`,
    "",
    "| suite | case | ns/op | Mops/s | margin | samples |",
    "|---|---|---:|---:|---:|---:|",
    ...r.cases.map(
      (c) =>
        `| ${c.suite} | ${c.name} | ${c.nsPerOp.toFixed(1)} | ${(c.opsPerSec / 1e6).toFixed(2)} | ±${c.marginPct.toFixed(2)}% | ${c.samples} |`,
    ),
    "",
    "| figure | value | pgsim goal | met |",
    "|---|---:|---:|---|",
    `| hitPathVsTwoLevelMap | ${r.hitPathVsTwoLevelMap.toFixed(2)}${roundsText(r)} | ≤ ${r.targets.hitPathVsTwoLevelMap.max} | ${met(r.targets.hitPathVsTwoLevelMap.met)} |`,
    `| hitPathVsMap (reference) | ${r.hitPathVsMap.toFixed(2)} | | |`,
    `| shmemOverheadPct | ${r.shmemOverheadPct.toFixed(2)} % | ≤ ${r.targets.shmemOverheadPct.max} | ${met(r.targets.shmemOverheadPct.met)} |`,
    "",
  ].join("\n");
}

/** Nanoseconds per operation of every case (log scale), coloured by suite, each bar labelled. */
export function microChartSpec(r: MicroResult): TopLevelSpec {
  // Bars on a log scale need a baseline above zero: the power of ten below the fastest case.
  const fastest = Math.min(...r.cases.map((c) => c.nsPerOp));
  const baseline = 10 ** Math.floor(Math.log10(Number.isFinite(fastest) ? fastest : 1));
  // Room right of the slowest bar for its label.
  const slowest = Math.max(...r.cases.map((c) => c.nsPerOp));
  const ceiling = 10 ** Math.ceil(Math.log10(Number.isFinite(slowest) ? slowest * 3 : 10));
  const x = {
    field: "ns",
    type: "quantitative",
    title: "ns per operation",
    scale: { type: "log", domain: [baseline, ceiling] },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench micro${r.quick ? " (--quick)" : ""}`,
      subtitle: "nanoseconds per operation (log scale; lower is better)",
    },
    config: CHART_CONFIG,
    width: 420,
    data: {
      values: r.cases.map((c) => ({ suite: c.suite, name: c.name, ns: c.nsPerOp })),
    },
    encoding: {
      y: { field: "name", type: "nominal", sort: null, title: null, axis: { labelLimit: 400 } },
    },
    layer: [
      {
        mark: { type: "bar", tooltip: true },
        encoding: {
          x,
          x2: { datum: baseline },
          color: { field: "suite", type: "nominal", title: null, scale: { scheme: "tableau10" } },
        },
      },
      valueLabelLayer({ field: "ns", format: ".3~r", x }),
    ],
  } as TopLevelSpec;
}

/** Writes micro.json, micro.md, micro.svg and micro.png into `outDir`; returns the paths. */
export async function writeMicroReport(r: MicroResult, outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, "micro.json");
  const md = path.join(outDir, "micro.md");
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, microMarkdown(r));
  return [json, md, ...(await writeChart(outDir, "micro", microChartSpec(r)))];
}
