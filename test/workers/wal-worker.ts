/**
 * Piscina task file: one worker thread is one backend writing into a WAL shared with the others —
 * XLOG_NOOP records whose payloads say who wrote them, some flushed as "commits".
 *
 * Models: a PostgreSQL backend inserting WAL (XLogBeginInsert / XLogRegisterData / XLogInsert)
 * and committing (XLogFlush of its last record) while other backends do the same.
 * Entry points: default export `walTask` (the Piscina handler), `runWalTask` (the same handler
 * for an in-process call), `parsePayload`, `WAL_TASK_XID_BASE`.
 * See also: ../wal-workers.test.ts (starts the workers, reads the WAL back with pg_waldump and
 * pgsim's reader), packages/heap-am/src/access/transam/xlog.ts (the code under test).
 *
 * A task runs two phases:
 *  1. free-running: `freeRecords` records of random sizes (a few bytes to several pages), every
 *     `commitEvery`-th one flushed; half-way, one record of `bigRecordBytes` — larger than the
 *     ring of WAL buffers, so its inserter must write out pages of its own record to reuse their
 *     slots (AdvanceXLInsertBuffer's "WAL buffers full"), whatever the other tasks' timing;
 *  2. `rounds` rounds in lock step with the other tasks: insert one to three records, wait at a
 *     barrier until every task has inserted, then flush the last one. After the barrier every
 *     task's records of the round are in the WAL buffers, so the first flush of the round writes
 *     and syncs them all (XLogFlush writes everything inserted): the other tasks find their
 *     records durable — group commit, with at most one sync per round whatever the timing.
 * Each record's payload starts with "WALT", the task's index and its sequence number; the rest
 * is seeded random bytes; the task reports each record's LSN, length and CRC-32C.
 */

import { threadId } from "node:worker_threads";
import { XLOG_NOOP } from "../../packages/heap-am/src/access/transam/pg-control.js";
import { RM_XLOG_ID } from "../../packages/heap-am/src/access/transam/rmgr.js";
import { type WalShared, XLogWriter } from "../../packages/heap-am/src/access/transam/xlog.js";
import { XLogInsertState } from "../../packages/heap-am/src/access/transam/xloginsert.js";
import { crc32c } from "../../packages/heap-am/src/include/port/pg-crc32c.js";

/** Task i writes its records with xl_xid = WAL_TASK_XID_BASE + i (pg_waldump's "tx"). */
export const WAL_TASK_XID_BASE = 5000;
const MAGIC = 0x544c4157; // "WALT" little-endian

export interface WalTask {
  readonly shared: WalShared;
  readonly workerIndex: number;
  readonly seed: number;
  readonly freeRecords: number;
  readonly commitEvery: number;
  /** Main data bytes of the one record inserted half-way through the free-running phase. */
  readonly bigRecordBytes: number;
  readonly rounds: number;
  /** Int32[2]: arrivals, generation. */
  readonly barrier: SharedArrayBuffer;
  readonly participants: number;
}

export interface WalRecordReport {
  readonly seq: number;
  readonly lsn: bigint;
  readonly endLsn: bigint;
  /** Main data bytes. */
  readonly length: number;
  readonly crc: number;
}

export interface WalWorkReport {
  readonly workerIndex: number;
  readonly threadId: number;
  readonly records: WalRecordReport[];
  /** `flush` calls in the free-running phase and in the lock-step rounds. */
  readonly freeFlushCalls: number;
  readonly roundFlushCalls: number;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

/** xorshift32: the task's reproducible randomness. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** A payload size: mostly small, some spanning a page, a few spanning several. */
function payloadSize(rand: () => number): number {
  const r = rand();
  if (r < 0.8) return 12 + Math.floor(rand() * 400);
  if (r < 0.97) return 400 + Math.floor(rand() * 9000);
  return 9000 + Math.floor(rand() * 40_000);
}

/** What a payload says about itself, or undefined if it is not a task's. */
export function parsePayload(
  data: Uint8Array,
): { readonly worker: number; readonly seq: number } | undefined {
  if (data.length < 12) return undefined;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) return undefined;
  return { worker: dv.getUint32(4, true), seq: dv.getUint32(8, true) };
}

function barrierWait(sab: SharedArrayBuffer, participants: number): void {
  const a = new Int32Array(sab);
  const gen = Atomics.load(a, 1);
  if (Atomics.add(a, 0, 1) + 1 === participants) {
    Atomics.store(a, 0, 0);
    Atomics.add(a, 1, 1);
    Atomics.notify(a, 1);
    return;
  }
  const deadline = Date.now() + 60_000;
  while (Atomics.load(a, 1) === gen) {
    Atomics.wait(a, 1, gen, 100);
    if (Date.now() > deadline) throw new Error("barrier: the other tasks never arrived");
  }
}

/** Runs one task on this thread: attaches to the shared WAL, inserts, flushes, detaches. */
export function runWalTask(task: WalTask): WalWorkReport {
  const startedAtMs = Date.now();
  const wal = XLogWriter.attach(task.shared);
  const ins = new XLogInsertState();
  const rand = prng(task.seed);
  const records: WalRecordReport[] = [];
  const insert = (size = payloadSize(rand)): WalRecordReport => {
    const seq = records.length;
    const data = new Uint8Array(size);
    for (let i = 12; i < data.length; i++) data[i] = (rand() * 256) | 0;
    const dv = new DataView(data.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, task.workerIndex, true);
    dv.setUint32(8, seq, true);
    ins.beginInsert();
    ins.registerData(data);
    const r = ins.insert(wal, RM_XLOG_ID, XLOG_NOOP, {
      xid: WAL_TASK_XID_BASE + task.workerIndex,
    });
    const report = {
      seq,
      lsn: r.startLsn,
      endLsn: r.endLsn,
      length: data.length,
      crc: crc32c(data),
    };
    records.push(report);
    return report;
  };

  let freeFlushCalls = 0;
  barrierWait(task.barrier, task.participants);
  const bigAt = Math.floor(task.freeRecords / 2);
  for (let i = 0; i < task.freeRecords; i++) {
    const r = insert(i === bigAt ? task.bigRecordBytes : undefined);
    if (i % task.commitEvery === task.commitEvery - 1) {
      wal.flush(r.endLsn);
      freeFlushCalls++;
    }
  }
  let roundFlushCalls = 0;
  for (let round = 0; round < task.rounds; round++) {
    let last = insert();
    const extra = Math.floor(rand() * 3);
    for (let i = 0; i < extra; i++) last = insert();
    barrierWait(task.barrier, task.participants);
    wal.flush(last.endLsn);
    roundFlushCalls++;
    if (wal.getFlushRecPtr() < last.endLsn) throw new Error("flush returned before durable");
  }
  // Detach without flushing: the test flushes (and counts) once at the end.
  wal.close({ flush: false });
  return {
    workerIndex: task.workerIndex,
    threadId,
    records,
    freeFlushCalls,
    roundFlushCalls,
    startedAtMs,
    finishedAtMs: Date.now(),
  };
}

/**
 * A backend inside a checkpoint delay (DELAY_CHKPT_START) for `holdMs`: it sets `entered[0]`
 * once inside, so the test can start a checkpoint's wait while it is.
 */
export interface WalDelayTask {
  readonly kind: "delay";
  readonly shared: WalShared;
  readonly holdMs: number;
  /** Int32[1]: set to 1 once the delay has begun. */
  readonly entered: SharedArrayBuffer;
}

export function runWalDelayTask(task: WalDelayTask): { readonly endedAtMs: number } {
  const wal = XLogWriter.attach(task.shared);
  wal.delayCheckpointStart();
  const entered = new Int32Array(task.entered);
  Atomics.store(entered, 0, 1);
  Atomics.notify(entered, 0);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, task.holdMs);
  const endedAtMs = Date.now();
  wal.delayCheckpointEnd();
  wal.close({ flush: false });
  return { endedAtMs };
}

export default function walTask(
  task: WalTask | WalDelayTask,
): WalWorkReport | { endedAtMs: number } {
  return "kind" in task ? runWalDelayTask(task) : runWalTask(task);
}
