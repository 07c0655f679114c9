// Issue 14's memory-only snapshot crash test: a child process (plain JavaScript over the built
// packages) runs rounds of changes on a memory-only database with persistence "snapshot" and takes
// a snapshot after each round, printing "begin r" before and "snap r" once the snapshot returned.
// The parent kills it — with SIGKILL at a seeded random moment, or by a fault armed in the child
// (a crash, or a torn write followed by a crash, at the Kth snapshot write) — and starts it again
// on the directory. After every reopen: the state is exactly the one after some round R (every
// round's rows complete, the deleted ones gone, the accounts moved once per round and summing up:
// never a mix), and R is the last round acknowledged as snapshotted, or the round whose snapshot
// was being written when the process died if that snapshot had completed (its rename done) —
// never anything later, never anything earlier.
//
// PGSIM_SNAPSHOT_CRASH_KILLS sets the number of random kills (default 6); PGSIM_SNAPSHOT_CRASH_SEED
// the seed.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { afterAll, describe, expect, it } from "vitest";

const CHILD = fileURLToPath(new URL("./workers/snapshot-crash-child.mjs", import.meta.url));
const KILLS = Number(process.env.PGSIM_SNAPSHOT_CRASH_KILLS ?? 6);
const SEED = Number(process.env.PGSIM_SNAPSHOT_CRASH_SEED ?? 20261214);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Ready {
  last: number;
  problems: string[];
  generation: number;
  refused: string[];
  removedTemporary: string[];
}

interface Life {
  ready: Ready;
  /** The last round whose snapshot returned ("snap r"), or undefined. */
  lastSnap: number | undefined;
  /** A round whose snapshot had begun but not returned when the process died. */
  inFlight: number | undefined;
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Runs one child. With `killAfterMs`, SIGKILLs it that long after it said "ready"; without, waits
 * for it to die by itself (an armed crash fault).
 */
function life(args: string[], killAfterMs: number | undefined): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let buffer = "";
    let stderr = "";
    let ready: Ready | undefined;
    let lastSnap: number | undefined;
    let begun: number | undefined;
    const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith("ready ")) {
          ready = JSON.parse(line.slice(6)) as Ready;
          if (killAfterMs !== undefined) setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        } else if (line.startsWith("begin ")) begun = Number(line.slice(6));
        else if (line.startsWith("snap ")) lastSnap = Number(line.slice(5));
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timeout);
      if (ready === undefined) {
        reject(new Error(`the child died before it was ready (${code ?? signal}): ${stderr}`));
        return;
      }
      const inFlight = begun !== undefined && begun !== lastSnap ? begun : undefined;
      resolve({ ready, lastSnap, inFlight, stderr, exit: { code, signal } });
    });
  });
}

describe("memory-only snapshots survive kills during snapshot writes", () => {
  it(`${KILLS} seeded SIGKILLs and crash / torn-write faults at the snapshot write: the previous snapshot is intact and loads, never a mix`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-snapcrash-"));
    dirs.push(dir);
    const random = rng(SEED);
    // The lives: random kills, with a crash fault and a torn-write fault among them.
    const plan: ({ kind: "kill"; afterMs: number } | { kind: "fault"; rule: object })[] = [];
    for (let i = 0; i < KILLS; i++) {
      plan.push({ kind: "kill", afterMs: 150 + Math.floor(random() * 700) });
      if (i === 1) {
        plan.push({
          kind: "fault",
          rule: {
            point: "snapshot-write",
            fault: { type: "crash" },
            nth: 3 + Math.floor(random() * 20),
          },
        });
      }
      if (i === 3) {
        plan.push({
          kind: "fault",
          rule: {
            point: "snapshot-write",
            fault: { type: "torn-write", bytes: 4096 + Math.floor(random() * 100_000) },
            nth: 3 + Math.floor(random() * 20),
          },
        });
      }
    }
    let previous: Life | undefined;
    let previousKind: "kill" | "fault" | undefined;
    let killedMidSnapshot = 0;
    for (let i = 0; i <= plan.length; i++) {
      const step = plan[i];
      const mode = i === 0 ? "create" : "open";
      // The last life only reports what the reopen loaded.
      const args = [dir, mode, ...(step?.kind === "fault" ? [JSON.stringify(step.rule)] : [])];
      const current = await life(
        args,
        step === undefined ? 0 : step.kind === "kill" ? step.afterMs : undefined,
      );
      const what = `life ${i} (${mode}): ${JSON.stringify(current.ready)}`;
      expect(current.ready.problems, what).toEqual([]);
      expect(current.ready.refused, what).toEqual([]);
      if (previous !== undefined) {
        // What the last completed snapshot contained: the last "snap r", or what the previous
        // life started from if it acknowledged none.
        const acknowledged = previous.lastSnap ?? previous.ready.last;
        if (previous.inFlight !== undefined) killedMidSnapshot++;
        const allowed =
          previousKind === "fault" || previous.inFlight === undefined
            ? [acknowledged]
            : [acknowledged, previous.inFlight];
        expect(
          allowed,
          `${what} after ${JSON.stringify({ ...previous, stderr: undefined })}`,
        ).toContain(current.ready.last);
      }
      expect(current.exit.signal, current.stderr).toBe("SIGKILL");
      previous = current;
      previousKind = step?.kind;
    }
    // Random kills land mid-snapshot often (a snapshot is most of a round's time); the faults
    // always do.
    console.log(
      `snapshot-crash: ${plan.length} lives, ${killedMidSnapshot} died while a snapshot was being taken`,
    );
    expect(killedMidSnapshot).toBeGreaterThanOrEqual(2);
    // Only the last two generations are kept.
    const files = fs
      .readdirSync(path.join(dir, "pgsim_snapshot"))
      .filter((f) => !f.endsWith(".tmp"));
    expect(files.length).toBeLessThanOrEqual(2);
  });
});
