/**
 * A deterministic interleaving harness in the manner of PostgreSQL's isolation tester
 * (src/test/isolation): sessions are backends (one worker thread each), named steps run in a
 * given permutation, a step that blocks is reported as waiting and the permutation goes on, and
 * the transcript of what each step did is compared with the expected one.
 *
 * Waiting is detected the way the isolation tester uses pg_locks: after a short grace period a
 * step that has not finished is "waiting" if its backend waits for a transaction (a row lock) or
 * for a cleanup lock; a step that is merely slow is waited for.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Cluster, ClusterOptions, Session } from "@pgsim/heap-am";
import { Cluster as ClusterClass } from "@pgsim/heap-am";
import { type TestingSessionOp, withFaults } from "@pgsim/heap-am/testing";

/** A step's ops: a session's, plus the fault-injection ops some specs use (holdPin, …). */
type SessionOps = TestingSessionOp[];

export interface Step {
  session: string;
  ops: SessionOps;
  /** How the step's results appear in the transcript (default: "ok"). */
  show?: (results: unknown[]) => string;
}

export interface Permutation {
  steps: string[];
  /** The expected transcript, one line per step and per completion of a waiting step. */
  expected: string[];
}

export interface IsolationSpec {
  name: string;
  /** What it means when this spec fails: the bug a differing transcript points at. */
  failureMeans: string;
  cluster: Omit<ClusterOptions, "backends"> & { backends?: number };
  setup: (cluster: Cluster) => Promise<void> | void;
  steps: Record<string, Step>;
  permutations: Permutation[];
}

const GRACE_MS = 250;
const SLOW_STEP_MS = 20_000;

interface Pending {
  name: string;
  promise: Promise<{ text: string }>;
  done: boolean;
  text: string;
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs one permutation on a fresh cluster and returns its transcript. */
export async function runPermutation(spec: IsolationSpec, steps: string[]): Promise<string[]> {
  const dataDir =
    spec.cluster.variant === "disk"
      ? fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-iso-"))
      : undefined;
  const cluster = await ClusterClass.start({
    backends: 1,
    ...spec.cluster,
    ...(dataDir ? { dataDir } : {}),
  });
  const transcript: string[] = [];
  const sessions = new Map<string, { session: Session; procNumber: number }>();
  try {
    await spec.setup(cluster);
    for (const name of new Set(Object.values(spec.steps).map((s) => s.session))) {
      const session = await cluster.connect();
      sessions.set(name, { session, procNumber: (await session.whoami()).procNumber });
    }
    const waiting: Pending[] = [];
    const waitReason = (procNumber: number): string | undefined => {
      const xid = cluster.db.transam.waitingFor(procNumber);
      if (xid !== 0) return `waiting for transaction ${xid}`;
      if (cluster.db.pool.cleanupWaiters().some((w) => w.procNumber === procNumber)) {
        return "waiting for cleanup lock";
      }
      return undefined;
    };
    /** Lets waiting steps that were unblocked finish, in the order they started waiting. */
    const settle = async (): Promise<void> => {
      for (const p of [...waiting]) {
        const proc = sessions.get(spec.steps[p.name]!.session)!.procNumber;
        for (let t = 0; t < SLOW_STEP_MS && !p.done; t += 5) {
          if (t >= GRACE_MS && waitReason(proc) !== undefined) break;
          await delay(5);
        }
        if (p.done) {
          transcript.push(`${p.name}: <... completed> ${p.text}`);
          waiting.splice(waiting.indexOf(p), 1);
        }
      }
    };
    for (const name of steps) {
      const step = spec.steps[name];
      if (step === undefined) throw new Error(`spec ${spec.name} has no step ${name}`);
      const { session, procNumber } = sessions.get(step.session)!;
      if (waiting.some((p) => spec.steps[p.name]!.session === step.session)) {
        throw new Error(`step ${name}: session ${step.session} is still waiting`);
      }
      const pending: Pending = {
        name,
        done: false,
        text: "",
        promise: Promise.resolve({ text: "" }),
      };
      pending.promise = withFaults(session)
        .runRaw(step.ops)
        .then(
          (r) => {
            pending.text = r.error
              ? `ERROR: ${r.error.message}`
              : step.show
                ? step.show(r.results)
                : "ok";
            pending.done = true;
            return { text: pending.text };
          },
          (e: Error) => {
            pending.text = `ERROR: ${e.message}`;
            pending.done = true;
            return { text: pending.text };
          },
        );
      let reason: string | undefined;
      for (let t = 0; t < SLOW_STEP_MS && !pending.done; t += 5) {
        if (t >= GRACE_MS) {
          reason = waitReason(procNumber);
          if (reason !== undefined) break;
        }
        await delay(5);
      }
      if (pending.done) {
        transcript.push(`${name}: ${pending.text}`);
      } else if (reason !== undefined) {
        transcript.push(`${name}: <${reason.replace(/\d+$/, "X")}>`);
        waiting.push(pending);
      } else {
        throw new Error(`step ${name} neither finished nor waited within ${SLOW_STEP_MS} ms`);
      }
      await settle();
    }
    if (waiting.length > 0) {
      throw new Error(`steps still waiting at the end: ${waiting.map((p) => p.name).join(", ")}`);
    }
  } finally {
    for (const { session } of sessions.values()) await session.close().catch(() => undefined);
    await cluster.shutdown();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return transcript;
}
