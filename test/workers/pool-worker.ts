/**
 * Piscina task file: one worker thread is one backend on a shared buffer pool, running a
 * seeded, interleaving-heavy mix of reads, read-modify-write increments, extends and pin pairs.
 *
 * Models: a PostgreSQL backend process (each worker thread attaches once with attachBufferPool and
 * keeps its backend for every later task, as a backend keeps its PGPROC), doing what heap access
 * does to the buffer manager: ReadBuffer, LockBuffer, MarkBufferDirty, ReleaseBuffer, ReadBuffer
 * (P_NEW) for extension.
 * Entry points: default export `poolTask` (the Piscina handler), `runPoolTask` (the same handler
 * for an in-process call), the page protocol `writePage` / `inspectPage`, `tagKey`, `REL_*`.
 * See also: ../pool-workers.test.ts (starts the workers and checks the result from outside),
 * packages/buffer-manager/src/bufmgr.ts (the code under test).
 *
 * The write protocol makes the final state knowable without knowing the interleaving:
 *  1. Every initialised page carries a header (magic, relation, block, counter, writer, origin)
 *     and a body whose every byte is a function of the header, so a torn or misplaced page is seen.
 *  2. A counter is only changed by read-modify-write under the exclusive content lock, so its final
 *     value is the number of increments all tasks reported for that block, and exactly one task
 *     wrote that value: the page's writer field must name it.
 *  3. REL_GROW is only extended by tasks; an extender locks its new block before anyone can have
 *     initialised it, writes its origin (task, sequence number), and reports the block number, so
 *     every extension must appear exactly once. Others skip its blocks while they are still zero.
 */

import { threadId } from "node:worker_threads";
import {
  attachBufferPool,
  type BufferPool,
  type BufferPoolShared,
  ForkNumber,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import { mulberry32 as prng } from "@pgsim/clock-sweep";

/** Two relations the main thread fills before the tasks start; tasks read and increment them. */
export const REL_A: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 24001 };
export const REL_B: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 24002 };
/** A relation only tasks extend (concurrently); tasks also read and increment its blocks. */
export const REL_GROW: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 24003 };

/** The writer number of the main thread (tasks are numbered from 0). */
export const MAIN_WRITER = 0xffff;
/** The origin of pages the main thread created (extended pages carry task << 16 | sequence). */
export const MAIN_ORIGIN = 0xffffffff;

const PAGE_MAGIC = 0x70677369; // "pgsi"
const OFF_MAGIC = 0;
const OFF_REL = 4;
const OFF_BLOCK = 8;
const OFF_COUNTER = 12;
const OFF_WRITER = 16;
const OFF_ORIGIN = 20;
const BODY_START = 24;
const PAGE_BYTES = 8192;

/** What a page says about itself. */
export interface PageImage {
  counter: number;
  writer: number;
  origin: number;
}

export type PageState =
  | { kind: "zero" }
  | ({ kind: "ok" } & PageImage)
  | { kind: "bad"; problem: string };

function view(page: Uint8Array): DataView {
  return new DataView(page.buffer, page.byteOffset, page.byteLength);
}

/** The body byte at `offset` for a page with this header: changes with every header field. */
function bodyByte(relNumber: number, block: number, image: PageImage, offset: number): number {
  return (
    (image.counter * 131 +
      relNumber * 7 +
      block * 13 +
      image.writer * 29 +
      image.origin * 3 +
      (offset >>> 6)) &
    0xff
  );
}

/** Writes a whole page image (caller holds the exclusive content lock). */
export function writePage(
  page: Uint8Array,
  relNumber: number,
  block: number,
  image: PageImage,
): void {
  const v = view(page);
  v.setUint32(OFF_MAGIC, PAGE_MAGIC, true);
  v.setUint32(OFF_REL, relNumber, true);
  v.setUint32(OFF_BLOCK, block, true);
  v.setUint32(OFF_COUNTER, image.counter, true);
  v.setUint32(OFF_WRITER, image.writer, true);
  v.setUint32(OFF_ORIGIN, image.origin >>> 0, true);
  for (let i = BODY_START; i < PAGE_BYTES; i++) page[i] = bodyByte(relNumber, block, image, i);
}

/** Reads and verifies a page (caller holds a content lock): all zero, consistent, or bad. */
export function inspectPage(page: Uint8Array, relNumber: number, block: number): PageState {
  if (page.length !== PAGE_BYTES) return { kind: "bad", problem: `page has ${page.length} bytes` };
  const v = view(page);
  if (v.getUint32(OFF_MAGIC, true) === 0 && page.every((b) => b === 0)) return { kind: "zero" };
  const where = `rel ${relNumber} block ${block}`;
  if (v.getUint32(OFF_MAGIC, true) !== PAGE_MAGIC) {
    return { kind: "bad", problem: `${where}: bad magic ${v.getUint32(OFF_MAGIC, true)}` };
  }
  const pageRel = v.getUint32(OFF_REL, true);
  const pageBlock = v.getUint32(OFF_BLOCK, true);
  if (pageRel !== relNumber || pageBlock !== block) {
    return { kind: "bad", problem: `${where}: holds rel ${pageRel} block ${pageBlock}` };
  }
  const image: PageImage = {
    counter: v.getUint32(OFF_COUNTER, true),
    writer: v.getUint32(OFF_WRITER, true),
    origin: v.getUint32(OFF_ORIGIN, true),
  };
  for (let i = BODY_START; i < PAGE_BYTES; i++) {
    if (page[i] !== bodyByte(relNumber, block, image, i)) {
      return { kind: "bad", problem: `${where}: torn page, byte ${i} disagrees with the header` };
    }
  }
  return { kind: "ok", ...image };
}

/** The key of a block in reports: "relNumber/block". */
export function tagKey(relNumber: number, block: number): string {
  return `${relNumber}/${block}`;
}

/** A task: run the workload, or detach this thread's backend. */
export type PoolTask =
  | {
      kind: "work";
      /** Names the pool, so a thread reuses its backend for every task on the same pool. */
      poolKey: string;
      shared: BufferPoolShared;
      /** Unique per task: written into pages as their writer. */
      workerIndex: number;
      seed: number;
      operations: number;
      /** Blocks of REL_A and REL_B that the main thread created. */
      initialBlocks: number;
      /** At most this many extensions of REL_GROW. */
      maxExtends: number;
      /** Int32Array(1) all tasks of a round count in on before they start. */
      barrier: SharedArrayBuffer;
      participants: number;
    }
  | {
      kind: "detach";
      poolKey: string;
      barrier: SharedArrayBuffer;
      participants: number;
    };

export interface WorkReport {
  kind: "work";
  threadId: number;
  procNumber: number;
  workerIndex: number;
  startedAtMs: number;
  finishedAtMs: number;
  /** Increments this task made, by tagKey. */
  increments: Record<string, number>;
  /** The counter value this task last wrote, by tagKey. */
  lastWritten: Record<string, number>;
  /** Blocks of REL_GROW this task extended, with the origin it wrote into each. */
  extended: { block: number; origin: number }[];
  reads: number;
  pinPairs: number;
  zeroSkips: number;
}

export interface DetachReport {
  kind: "detach";
  threadId: number;
  procNumber: number;
  leakedPins: number;
  releasedLocks: number;
}

/** This thread's backends, by pool key (a backend per thread and pool, like a PGPROC). */
const backends = new Map<string, BufferPool>();

/** Total bound on waiting at a barrier: if the others never arrive, tasks did not overlap. */
const BARRIER_TIMEOUT_MS = 30_000;

/**
 * Counts this task in and waits until `participants` tasks have, so the tasks of a round start
 * together, and (since a waiting thread takes no other task) land on distinct threads.
 */
function arriveAndWait(barrier: SharedArrayBuffer, participants: number): void {
  const arrived = new Int32Array(barrier);
  const mine = Atomics.add(arrived, 0, 1) + 1;
  if (mine >= participants) {
    Atomics.notify(arrived, 0);
    return;
  }
  const deadline = Date.now() + BARRIER_TIMEOUT_MS;
  for (let seen = mine; seen < participants; seen = Atomics.load(arrived, 0)) {
    if (Date.now() > deadline) {
      throw new Error(`barrier: only ${seen} of ${participants} tasks arrived (no overlap)`);
    }
    Atomics.wait(arrived, 0, seen, 50);
  }
}

function inspectOrThrow(page: Uint8Array, rel: RelFileLocator, block: number): PageState {
  const state = inspectPage(page, rel.relNumber, block);
  if (state.kind === "bad") throw new Error(state.problem);
  return state;
}

function runWork(task: Extract<PoolTask, { kind: "work" }>): WorkReport {
  let pool = backends.get(task.poolKey);
  if (pool === undefined) {
    pool = attachBufferPool(task.shared);
    backends.set(task.poolKey, pool);
  }
  const bp = pool;
  const random = prng(task.seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const report: WorkReport = {
    kind: "work",
    threadId,
    procNumber: bp.procNumber,
    workerIndex: task.workerIndex,
    startedAtMs: 0,
    finishedAtMs: 0,
    increments: {},
    lastWritten: {},
    extended: [],
    reads: 0,
    pinPairs: 0,
    zeroSkips: 0,
  };

  /** Picks a block of REL_A/REL_B; a quarter of the time from a hot set all tasks fight over. */
  const pickFixed = (): [RelFileLocator, number] => {
    if (random() < 0.25) return [REL_A, pick(4)];
    return [random() < 0.5 ? REL_A : REL_B, pick(task.initialBlocks)];
  };

  /** Read-modify-write of one block's counter under the exclusive lock. */
  const increment = (rel: RelFileLocator, block: number): void => {
    const buf = bp.readBuffer(rel, ForkNumber.MAIN, block);
    bp.lockBuffer(buf, "exclusive");
    const page = bp.bufferGetPage(buf);
    const state = inspectOrThrow(page, rel, block);
    if (state.kind === "zero") {
      // A REL_GROW block its extender has not initialised yet: not ours to write.
      report.zeroSkips++;
      bp.unlockReleaseBuffer(buf);
      return;
    }
    if (state.kind !== "ok") throw new Error("unreachable");
    const counter = state.counter + 1;
    writePage(page, rel.relNumber, block, {
      counter,
      writer: task.workerIndex,
      origin: state.origin,
    });
    bp.markBufferDirty(buf);
    bp.unlockReleaseBuffer(buf);
    const key = tagKey(rel.relNumber, block);
    report.increments[key] = (report.increments[key] ?? 0) + 1;
    report.lastWritten[key] = counter;
  };

  /** Reads and verifies one block under a share lock. */
  const read = (rel: RelFileLocator, block: number): void => {
    const buf = bp.readBuffer(rel, ForkNumber.MAIN, block);
    bp.lockBuffer(buf, "share");
    inspectOrThrow(bp.bufferGetPage(buf), rel, block);
    bp.unlockReleaseBuffer(buf);
    report.reads++;
  };

  const extend = (): void => {
    const seq = report.extended.length;
    const buf = bp.extend(REL_GROW, ForkNumber.MAIN);
    const block = bp.bufferGetBlockNumber(buf);
    bp.lockBuffer(buf, "exclusive");
    const page = bp.bufferGetPage(buf);
    const state = inspectOrThrow(page, REL_GROW, block);
    if (state.kind !== "zero") {
      throw new Error(
        `extended block ${block} of REL_GROW was not zero when its extender locked it`,
      );
    }
    const origin = ((task.workerIndex << 16) | seq) >>> 0;
    writePage(page, REL_GROW.relNumber, block, { counter: 0, writer: task.workerIndex, origin });
    bp.markBufferDirty(buf);
    bp.unlockReleaseBuffer(buf);
    report.extended.push({ block, origin });
  };

  /**
   * Holds two pins on one page (readBuffer + incrBufferRefCount) while working on another, then
   * checks the held page is still the same block: a pinned buffer must not be evicted.
   */
  const pinPair = (): void => {
    const [rel, block] = pickFixed();
    const held = bp.readBuffer(rel, ForkNumber.MAIN, block);
    bp.incrBufferRefCount(held);
    const [rel2, block2] = pickFixed();
    increment(rel2, block2);
    read(random() < 0.5 ? REL_A : REL_B, pick(task.initialBlocks));
    bp.releaseBuffer(held);
    bp.lockBuffer(held, "share");
    inspectOrThrow(bp.bufferGetPage(held), rel, block);
    const tag = bp.bufferGetTag(held);
    if (tag.relNumber !== rel.relNumber || tag.block !== block) {
      throw new Error(`a pinned buffer was retagged to rel ${tag.relNumber} block ${tag.block}`);
    }
    bp.unlockReleaseBuffer(held);
    report.pinPairs++;
  };

  arriveAndWait(task.barrier, task.participants);
  report.startedAtMs = performance.timeOrigin + performance.now();
  for (let op = 0; op < task.operations; op++) {
    const r = random();
    if (r < 0.4) {
      const [rel, block] = pickFixed();
      increment(rel, block);
    } else if (r < 0.7) {
      const [rel, block] = pickFixed();
      read(rel, block);
    } else if (r < 0.85) {
      const n = bp.nblocks(REL_GROW, ForkNumber.MAIN);
      if (n > 0) {
        const block = pick(n);
        if (random() < 0.5) increment(REL_GROW, block);
        else read(REL_GROW, block);
      }
    } else if (r < 0.92 && report.extended.length < task.maxExtends) {
      extend();
    } else {
      pinPair();
    }
  }
  report.finishedAtMs = performance.timeOrigin + performance.now();
  return report;
}

function runDetach(task: Extract<PoolTask, { kind: "detach" }>): DetachReport {
  arriveAndWait(task.barrier, task.participants);
  const pool = backends.get(task.poolKey);
  if (pool === undefined) throw new Error(`thread ${threadId} has no backend on ${task.poolKey}`);
  backends.delete(task.poolKey);
  const procNumber = pool.procNumber;
  const r = pool.detach();
  return {
    kind: "detach",
    threadId,
    procNumber,
    leakedPins: r.leakedPins.length,
    releasedLocks: r.releasedLocks,
  };
}

/** The handler, callable in-process too (coverage does not see code inside worker threads). */
export function runPoolTask(task: PoolTask): WorkReport | DetachReport {
  return task.kind === "work" ? runWork(task) : runDetach(task);
}

/** Piscina's entry point. No top-level await in this module: Piscina require()s it under tsx. */
export default function poolTask(task: PoolTask): WorkReport | DetachReport {
  return runPoolTask(task);
}
