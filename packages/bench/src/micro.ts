/**
 * `pgsim-bench micro`: benny suites for the buffer manager's per-operation costs, with a plain
 * JavaScript Map as the yardstick, and the shared-memory overhead of a 128 MB pool.
 *
 * Measures: the hit path (readBuffer + releaseBuffer of a resident page) in a memory-only and a
 * disk-backed pool; a Map get + set on the same tags, keyed three ways (a string of the whole tag;
 * two levels, a precomputed relation key then fork/block as a number; the block number alone, a
 * lower bound that drops the relation); the miss path with eviction of a
 * clean and of a dirty victim (disk-backed pool smaller than the data); one clock-sweep tick
 * (StrategyControl.clockSweepTick); and BufferShmemSize for NBuffers = 16384 (shared_buffers =
 * 128 MB, PostgreSQL's default).
 * Entry points: `runMicro`, `formatMicroTable`, `MicroResult`.
 * See also: cli.ts (the command), ../README.md (what each figure means), ../RESULTS.md.
 *
 * Every case runs a batch of operations per call (`opsPerCall`), so the harness's per-call cost
 * is spread over many operations; figures are nanoseconds per single operation.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  attachBufferPool,
  type BufferPool,
  bufferShmemSize,
  ForkNumber,
  initBufferPool,
  type RelFileLocator,
  SharedBufferPool,
} from "@pgsim/buffer-manager";
import b from "benny";

/** PostgreSQL's default shared_buffers (128 MB) in 8 KB buffers. */
export const DEFAULT_NBUFFERS = 16384;
/** Targets from the design: the hit path at most 3× a Map get + set; overhead at most 2 %. */
export const HIT_PATH_VS_MAP_MAX = 3;
export const SHMEM_OVERHEAD_PCT_MAX = 2;

/** Resident blocks the hit-path and Map cases cycle over (one pass per call). */
const RESIDENT_BLOCKS = 1024;
/** Blocks the miss cases cycle over, through a pool of MISS_POOL_BUFFERS buffers. */
const MISS_BLOCKS = 1024;
const MISS_POOL_BUFFERS = 64;
const MISS_OPS_PER_CALL = 64;
const REL: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 16384 };

export interface MicroOptions {
  /** A few seconds in all instead of about half a minute (for smoke tests). */
  quick?: boolean;
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

/** What `pgsim-bench micro --json` prints. */
export interface MicroResult {
  command: "micro";
  quick: boolean;
  date: string;
  machine: {
    node: string;
    os: string;
    arch: string;
    cpuModel: string;
    cpus: number;
    totalMemBytes: number;
  };
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
  hitPathVsTwoLevelMap: number;
  hitPathVsNumericMap: number;
  /** readBuffer + releaseBuffer of a block not in the pool; the victim is clean. */
  missCleanNsPerOp: number;
  /** readBuffer, lock, dirty, unlock + release of a block not in the pool; victims are dirty. */
  missDirtyNsPerOp: number;
  clockSweepTickNsPerOp: number;
  shmemBufferCount: number;
  shmemTotalBytes: number;
  shmemOverheadBytes: number;
  shmemOverheadPct: number;
  targets: {
    hitPathVsMap: { max: number; met: boolean };
    shmemOverheadPct: { max: number; met: boolean };
  };
  cases: MicroCase[];
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
    const hitCases = await runSuite(
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

    const cases = [...hitCases, ...missCases, ...tickCases];
    const hitMemory = findCase(cases, CASE_HIT_MEMORY).nsPerOp;
    const hitDisk = findCase(cases, CASE_HIT_DISK).nsPerOp;
    const mapString = findCase(cases, CASE_MAP_STRING).nsPerOp;
    const mapTwoLevel = findCase(cases, CASE_MAP_TWO_LEVEL).nsPerOp;
    const mapNumber = findCase(cases, CASE_MAP_NUMBER).nsPerOp;
    const hit = Math.max(hitMemory, hitDisk);
    const shmem = bufferShmemSize({
      variant: "disk",
      bufferCount: DEFAULT_NBUFFERS,
      dataDir: "x",
    });
    const shmemOverheadPct = (shmem.overheadBytes / (DEFAULT_NBUFFERS * 8192)) * 100;
    const cpus = os.cpus();
    return {
      command: "micro",
      quick: options.quick === true,
      date: new Date().toISOString(),
      machine: {
        node: process.version,
        os: `${os.type()} ${os.release()}`,
        arch: process.arch,
        cpuModel: cpus[0]?.model ?? "unknown",
        cpus: os.availableParallelism(),
        totalMemBytes: os.totalmem(),
      },
      hitPathNsPerOp: hit,
      hitPathMemoryNsPerOp: hitMemory,
      hitPathDiskNsPerOp: hitDisk,
      mapNsPerOp: mapString,
      mapTwoLevelNsPerOp: mapTwoLevel,
      mapNumericNsPerOp: mapNumber,
      hitPathVsMap: hit / mapString,
      hitPathVsTwoLevelMap: hit / mapTwoLevel,
      hitPathVsNumericMap: hit / mapNumber,
      missCleanNsPerOp: findCase(cases, CASE_MISS_CLEAN).nsPerOp,
      missDirtyNsPerOp: findCase(cases, CASE_MISS_DIRTY).nsPerOp,
      clockSweepTickNsPerOp: findCase(cases, CASE_TICK).nsPerOp,
      shmemBufferCount: DEFAULT_NBUFFERS,
      shmemTotalBytes: shmem.totalBytes,
      shmemOverheadBytes: shmem.overheadBytes,
      shmemOverheadPct,
      targets: {
        hitPathVsMap: { max: HIT_PATH_VS_MAP_MAX, met: hit / mapString <= HIT_PATH_VS_MAP_MAX },
        shmemOverheadPct: {
          max: SHMEM_OVERHEAD_PCT_MAX,
          met: shmemOverheadPct <= SHMEM_OVERHEAD_PCT_MAX,
        },
      },
      cases,
    };
  } finally {
    for (const p of pools) p.detach();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The human-readable report: one table of cases, then the headline figures and targets. */
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
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `hit path (slower variant)   ${r.hitPathNsPerOp.toFixed(1)} ns/op`,
    `Map get+set, string key     ${r.mapNsPerOp.toFixed(1)} ns/op`,
    `hitPathVsMap                ${r.hitPathVsMap.toFixed(2)}  (target <= ${r.targets.hitPathVsMap.max}: ${met(r.targets.hitPathVsMap.met)})`,
    `hitPathVsTwoLevelMap        ${r.hitPathVsTwoLevelMap.toFixed(2)}  (for reference: same key information, no string per access)`,
    `hitPathVsNumericMap         ${r.hitPathVsNumericMap.toFixed(2)}  (for reference: block number only, drops the relation)`,
    `shmemOverheadPct            ${r.shmemOverheadPct.toFixed(2)} %  (${r.shmemOverheadBytes} bytes beyond ${r.shmemBufferCount} x 8192; target <= ${r.targets.shmemOverheadPct.max}: ${met(r.targets.shmemOverheadPct.met)})`,
    `machine                     ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, node ${r.machine.node}, ${r.machine.os}`,
    "",
  ].join("\n");
}
