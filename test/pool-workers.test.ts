/**
 * Worker threads attached to one buffer pool read, extend and dirty overlapping blocks at the same
 * time; afterwards every page holds what its last writer wrote, no pin is left, the buffer table is
 * consistent, and (disk-backed) a fresh pool on the same data directory reads the same pages.
 *
 * Models: the multi-backend contract of PostgreSQL's bufmgr.c (PinBuffer/UnpinBuffer, content
 * locks, BufferAlloc evicting while others read, ReadBuffer(P_NEW) under the extension lock),
 * checked from outside the way pg_buffercache and a restart would show it.
 * Entry points: the suites "pool workers: <variant>" (Piscina threads) and
 * "pool task in-process: <variant>" (the same handler on the test's thread, for coverage).
 * See also: workers/pool-worker.ts (the task and its page protocol),
 * packages/buffer-manager/src/bufmgr.ts.
 */

import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  attachBufferPool,
  type BufferPool,
  type BufferPoolVariant,
  ForkNumber,
  initBufferPool,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import { Piscina } from "piscina";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DetachReport,
  inspectPage,
  MAIN_ORIGIN,
  MAIN_WRITER,
  type PoolTask,
  REL_A,
  REL_B,
  REL_GROW,
  runPoolTask,
  tagKey,
  type WorkReport,
  writePage,
} from "./workers/pool-worker.js";

const VARIANTS: { variant: BufferPoolVariant; name: string }[] = [
  { variant: "disk", name: "disk-backed" },
  { variant: "memory", name: "memory-only" },
];

/** Worker threads: more than the machine's 2 cores, so the OS also preempts mid-operation. */
const THREADS = 3;
/** Blocks of REL_A and of REL_B; with REL_GROW about 6 times the disk pool's 16 buffers. */
const INITIAL_BLOCKS = 40;
const DISK_BUFFER_COUNT = 16;
const MAX_EXTENDS = 30;
/** Each thread runs one task per round; the second round reuses the first round's backends. */
const ROUNDS = 2;

interface Runner {
  threads: number;
  operations: number;
  run(task: PoolTask): Promise<WorkReport | DetachReport>;
}

const tempDirs: string[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-workers-"));
  tempDirs.push(d);
  return d;
}

/**
 * The worker file and the flags its threads need: run from source (.ts, under vitest) the threads
 * load tsx and the "source" export condition; built (.js) plain node runs them.
 */
function workerOptions(): { filename: string; execArgv?: string[] } {
  const fromSource = import.meta.url.endsWith(".ts");
  const filename = fileURLToPath(
    new URL(`./workers/pool-worker.${fromSource ? "ts" : "js"}`, import.meta.url),
  );
  if (!fromSource) return { filename };
  const underTsx = process.execArgv.some((a) => a.includes("tsx"));
  const extra = underTsx ? ["--conditions=source"] : ["--import", "tsx", "--conditions=source"];
  return { filename, execArgv: [...process.execArgv, ...extra] };
}

/** Reads a block under a share lock and returns a copy of its page. */
function readPageCopy(pool: BufferPool, rel: RelFileLocator, block: number): Uint8Array {
  const buf = pool.readBuffer(rel, ForkNumber.MAIN, block);
  pool.lockBuffer(buf, "share");
  const copy = pool.bufferGetPage(buf).slice();
  pool.unlockReleaseBuffer(buf);
  return copy;
}

/** What the reports say a block must hold: its counter, its last writer and its origin. */
interface Expected {
  counter: number;
  writer: number;
  origin: number;
  /** Tasks that incremented it. */
  writers: Set<number>;
}

function expectedImages(works: WorkReport[]): { map: Map<string, Expected>; problems: string[] } {
  const problems: string[] = [];
  const map = new Map<string, Expected>();
  for (const rel of [REL_A, REL_B]) {
    for (let block = 0; block < INITIAL_BLOCKS; block++) {
      map.set(tagKey(rel.relNumber, block), {
        counter: 0,
        writer: MAIN_WRITER,
        origin: MAIN_ORIGIN,
        writers: new Set(),
      });
    }
  }
  for (const w of works) {
    for (const e of w.extended) {
      const key = tagKey(REL_GROW.relNumber, e.block);
      if (map.has(key)) problems.push(`block ${e.block} of REL_GROW was extended twice`);
      map.set(key, { counter: 0, writer: w.workerIndex, origin: e.origin, writers: new Set() });
    }
  }
  for (const w of works) {
    for (const [key, n] of Object.entries(w.increments)) {
      const e = map.get(key);
      if (e === undefined) {
        problems.push(`task ${w.workerIndex} incremented ${key}, which nobody created`);
        continue;
      }
      e.counter += n;
      e.writers.add(w.workerIndex);
    }
  }
  // Counters only grow under the exclusive lock, so the final value was written by one task.
  for (const [key, e] of map) {
    if (e.counter === 0) continue;
    const last = works.filter((w) => w.lastWritten[key] === e.counter);
    if (last.length !== 1) {
      problems.push(`${key}: ${last.length} tasks claim to have written counter ${e.counter}`);
    } else {
      e.writer = last[0]!.workerIndex;
    }
  }
  return { map, problems };
}

/** Compares every page of the three relations with the expectations; returns the mismatches. */
function checkContents(pool: BufferPool, expected: Map<string, Expected>): string[] {
  const problems: string[] = [];
  for (const rel of [REL_A, REL_B, REL_GROW]) {
    const n = pool.nblocks(rel, ForkNumber.MAIN);
    for (let block = 0; block < n; block++) {
      const key = tagKey(rel.relNumber, block);
      const want = expected.get(key);
      const state = inspectPage(readPageCopy(pool, rel, block), rel.relNumber, block);
      if (want === undefined) {
        problems.push(`${key} exists but no task reported extending it`);
      } else if (state.kind !== "ok") {
        problems.push(`${key}: ${state.kind === "bad" ? state.problem : "page is all zero"}`);
      } else if (
        state.counter !== want.counter ||
        state.writer !== want.writer ||
        state.origin !== want.origin
      ) {
        problems.push(
          `${key}: holds counter ${state.counter} by ${state.writer} (origin ${state.origin}), ` +
            `expected ${want.counter} by ${want.writer} (origin ${want.origin})`,
        );
      }
    }
  }
  return problems;
}

/** Runs the whole scenario on a fresh pool and checks everything a user can observe. */
async function runScenario(variant: BufferPoolVariant, runner: Runner): Promise<void> {
  const threads = runner.threads;
  const dataDir = variant === "disk" ? tempDir() : undefined;
  const bufferCount =
    variant === "disk"
      ? DISK_BUFFER_COUNT
      : 2 * INITIAL_BLOCKS + threads * ROUNDS * MAX_EXTENDS + 16;
  const shared = initBufferPool({ variant, bufferCount, ...(dataDir ? { dataDir } : {}) });
  const main = attachBufferPool(shared);

  for (const rel of [REL_A, REL_B]) {
    main.createRelation(rel, ForkNumber.MAIN);
    for (let i = 0; i < INITIAL_BLOCKS; i++) {
      const buf = main.extend(rel, ForkNumber.MAIN);
      const block = main.bufferGetBlockNumber(buf);
      main.lockBuffer(buf, "exclusive");
      writePage(main.bufferGetPage(buf), rel.relNumber, block, {
        counter: 0,
        writer: MAIN_WRITER,
        origin: MAIN_ORIGIN,
      });
      main.markBufferDirty(buf);
      main.unlockReleaseBuffer(buf);
    }
  }
  main.createRelation(REL_GROW, ForkNumber.MAIN);

  const poolKey = `${variant}-${randomUUID()}`;
  const works: WorkReport[] = [];
  const backendOfThread = new Map<number, number>();
  for (let round = 0; round < ROUNDS; round++) {
    const barrier = new SharedArrayBuffer(4);
    const tasks: PoolTask[] = [];
    for (let slot = 0; slot < threads; slot++) {
      const workerIndex = round * threads + slot;
      tasks.push({
        kind: "work",
        poolKey,
        shared,
        workerIndex,
        seed: 0x5eed + workerIndex * 7919,
        operations: runner.operations,
        initialBlocks: INITIAL_BLOCKS,
        maxExtends: MAX_EXTENDS,
        barrier,
        participants: threads,
      });
    }
    const reports = (await Promise.all(tasks.map((t) => runner.run(t)))) as WorkReport[];
    // The tasks of a round ran on distinct threads, each its own backend, at the same time.
    expect(new Set(reports.map((r) => r.threadId)).size).toBe(threads);
    expect(new Set(reports.map((r) => r.procNumber)).size).toBe(threads);
    expect(reports.map((r) => r.procNumber)).not.toContain(main.procNumber);
    const lastStart = Math.max(...reports.map((r) => r.startedAtMs));
    const firstFinish = Math.min(...reports.map((r) => r.finishedAtMs));
    expect(lastStart).toBeLessThan(firstFinish);
    // A thread keeps its backend from one task to the next.
    for (const r of reports) {
      const before = backendOfThread.get(r.threadId);
      if (before !== undefined) expect(r.procNumber).toBe(before);
      backendOfThread.set(r.threadId, r.procNumber);
    }
    // Tasks of the round wrote the same blocks: some block has increments from several tasks.
    if (threads > 1) {
      const writersByBlock = new Map<string, number>();
      for (const r of reports) {
        for (const key of Object.keys(r.increments)) {
          writersByBlock.set(key, (writersByBlock.get(key) ?? 0) + 1);
        }
      }
      expect(Math.max(...writersByBlock.values())).toBeGreaterThan(1);
    }
    works.push(...reports);
  }
  expect(backendOfThread.size).toBe(threads);

  // Every backend detaches without leaked pins or held locks.
  const barrier = new SharedArrayBuffer(4);
  const detaches = (await Promise.all(
    Array.from({ length: threads }, () =>
      runner.run({ kind: "detach", poolKey, barrier, participants: threads }),
    ),
  )) as DetachReport[];
  expect(new Map(detaches.map((d) => [d.threadId, d.procNumber]))).toEqual(backendOfThread);
  for (const d of detaches) {
    expect(d).toMatchObject({ leakedPins: 0, releasedLocks: 0 });
  }

  const totals = { increments: 0, reads: 0, extends: 0, pinPairs: 0 };
  for (const w of works) {
    totals.increments += Object.values(w.increments).reduce((a, b) => a + b, 0);
    totals.reads += w.reads;
    totals.extends += w.extended.length;
    totals.pinPairs += w.pinPairs;
  }
  expect(totals.increments).toBeGreaterThan(0);
  expect(totals.reads).toBeGreaterThan(0);
  expect(totals.extends).toBeGreaterThan(0);
  expect(totals.pinPairs).toBeGreaterThan(0);

  // (1) Every page holds what its last writer wrote; every extension exists exactly once.
  const { map: expected, problems } = expectedImages(works);
  expect(problems).toEqual([]);
  expect(main.nblocks(REL_A, ForkNumber.MAIN)).toBe(INITIAL_BLOCKS);
  expect(main.nblocks(REL_B, ForkNumber.MAIN)).toBe(INITIAL_BLOCKS);
  expect(main.nblocks(REL_GROW, ForkNumber.MAIN)).toBe(totals.extends);
  expect(checkContents(main, expected)).toEqual([]);

  // (2) No buffer is pinned by anyone. (3) The buffer table is consistent.
  const pinned = main.bufferCache().filter((row) => (row.pinning_backends ?? 0) !== 0);
  expect(pinned).toEqual([]);
  expect(main.checkConsistency()).toEqual([]);

  const stats = main.statistics();
  expect(stats.extends).toBe(2 * INITIAL_BLOCKS + totals.extends);
  if (variant === "disk") {
    // The pool is much smaller than the data, so the workers evicted pages under each other.
    expect(stats.evictions).toBeGreaterThan(0);
  } else {
    // A memory-only pool is the storage: it never evicts.
    expect(stats.evictions).toBe(0);
  }

  // (4) Disk-backed: after a checkpoint, a new pool on the same files reads the same pages.
  if (variant === "disk") {
    main.checkpoint();
    const copies = new Map<string, Uint8Array>();
    for (const rel of [REL_A, REL_B, REL_GROW]) {
      const n = main.nblocks(rel, ForkNumber.MAIN);
      for (let block = 0; block < n; block++) {
        copies.set(tagKey(rel.relNumber, block), readPageCopy(main, rel, block));
      }
    }
    const fresh = attachBufferPool(
      initBufferPool({ variant: "disk", bufferCount: DISK_BUFFER_COUNT, dataDir: dataDir! }),
    );
    const differing: string[] = [];
    for (const rel of [REL_A, REL_B, REL_GROW]) {
      expect(fresh.nblocks(rel, ForkNumber.MAIN)).toBe(main.nblocks(rel, ForkNumber.MAIN));
      for (let block = 0; block < fresh.nblocks(rel, ForkNumber.MAIN); block++) {
        const key = tagKey(rel.relNumber, block);
        if (!Buffer.from(readPageCopy(fresh, rel, block)).equals(copies.get(key)!)) {
          differing.push(key);
        }
      }
    }
    expect(differing).toEqual([]);
    expect(checkContents(fresh, expected)).toEqual([]);
    expect(fresh.detach().leakedPins).toEqual([]);
  }
  expect(main.detach().leakedPins).toEqual([]);
}

afterAll(() => {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("page protocol", () => {
  const page = new Uint8Array(8192);
  const image = { counter: 7, writer: 2, origin: MAIN_ORIGIN };

  it("reads back what was written", () => {
    writePage(page, 24001, 3, image);
    expect(inspectPage(page, 24001, 3)).toEqual({ kind: "ok", ...image });
    expect(inspectPage(new Uint8Array(8192), 24001, 3)).toEqual({ kind: "zero" });
  });

  it("sees a torn page and a page of another block", () => {
    writePage(page, 24001, 3, image);
    page[5000] = (page[5000]! + 1) & 0xff;
    expect(inspectPage(page, 24001, 3)).toMatchObject({ kind: "bad" });
    writePage(page, 24001, 3, image);
    expect(inspectPage(page, 24001, 4)).toMatchObject({ kind: "bad" });
    // A header from a newer write over an older body is torn too.
    new DataView(page.buffer).setUint32(12, 8, true);
    expect(inspectPage(page, 24001, 3)).toMatchObject({ kind: "bad" });
  });
});

describe("pool workers", () => {
  let piscina: Piscina;

  beforeAll(() => {
    piscina = new Piscina({ ...workerOptions(), minThreads: THREADS, maxThreads: THREADS });
  });

  afterAll(async () => {
    await piscina?.destroy();
  });

  for (const { variant, name } of VARIANTS) {
    it(`${THREADS} threads read, extend and dirty overlapping blocks: ${name}`, async () => {
      await runScenario(variant, {
        threads: THREADS,
        operations: 5000,
        run: (task) => piscina.run(task),
      });
    });
  }
});

describe("pool task in-process", () => {
  for (const { variant, name } of VARIANTS) {
    it(`one backend runs the task on the test's thread: ${name}`, async () => {
      await runScenario(variant, {
        threads: 1,
        operations: 1000,
        run: async (task) => runPoolTask(task),
      });
    });
  }
});
