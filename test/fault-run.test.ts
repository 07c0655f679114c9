// Issue 14's randomized fault run: a bank-transfer workload on a disk-backed cluster with WAL (two
// worker backends behind four clients, checksums on, 1 MB WAL segments, wal_recycle off so that
// new segments keep being created, a 32-buffer pool so that evictions write pages and scans read
// them) while faults are injected at every storage point, one after another. A seeded plan
// picks each fault's point, kind, count ("the nth matching call") and bytes; every kind of every
// point comes once in the first part of the plan, the rest is drawn at random.
//
// The run happens in a child process (test/workers/fault-child.mjs) because a crash fault kills
// the whole process. After each fault its outcome is classified — absorbed (a delay, a partial
// WAL write that is simply retried), a statement error (EIO, ENOSPC, a short write: the database
// goes on), logged (a write fault met the checkpoint run at the end of a transaction: the COMMIT
// stands, the failure is a warning, as in PostgreSQL's checkpointer), a PANIC (a failed fsync or
// WAL write: the database stops, is shut down — it writes nothing — and opened again, which runs
// crash recovery), or a crash (the child is killed; the next child opens the directory, which
// runs crash recovery) — and checked against what PostgreSQL does for that fault, with its
// message. Then, and after every reopen:
//   - the sum of the balances is the initial sum, and every balance is its start plus what the
//     ledger moved;
//   - every transfer whose COMMIT returned is in the ledger; no transfer whose statement failed,
//     whose COMMIT failed without a PANIC, or which the client rolled back is (a COMMIT that a
//     PANIC interrupted may have reached the disk or not: either is right);
//   - every page of every relation file passes its checksum. The one legitimate exception is a
//     page a short write left half-written while the database goes on: its buffer stays dirty,
//     and the CHECKPOINT that follows must write it again, after which every page is valid. A
//     torn page left by a crash must be repaired by recovery (from the full-page image in the
//     WAL) before anything else looks at it.
// At the end, the tables are placed under PostgreSQL 15 (test/pg15-place.ts) and amcheck's
// verify_heapam checks them, and the run must have fired every kind of fault at every point.
//
// The plan (points, kinds, counts, bytes) is fixed by the seed; which backend meets a fault and
// the interleaving of the two backends are not, so a failure replays with the same plan but not
// always the same schedule.
//
// PGSIM_FAULTS sets how many faults must fire (default 200); PGSIM_FAULT_SEED the seed (printed
// when the test fails); PGSIM_FAULT_KEEP=1 keeps the data directory, the plan and each child's
// output (life-N.log). PostgreSQL 15 is required: this test never skips.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import type { FaultRule } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import { checkBankUnderPostgres, withBankPeer } from "./bank.js";

const CHILD = fileURLToPath(new URL("./workers/fault-child.mjs", import.meta.url));
const TARGET = Number(process.env.PGSIM_FAULTS ?? 200);
const SEED = Number(process.env.PGSIM_FAULT_SEED ?? 20261214);
const ACCOUNTS = 100;
const INITIAL = 1000;

const dirs: string[] = [];
afterAll(() => {
  if (process.env.PGSIM_FAULT_KEEP === "1") console.log(`fault-run: kept ${dirs.join(", ")}`);
  else for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------- the plan

/**
 * How a fault's episode ended: nothing visible; a statement failed; a checkpoint run at the end
 * of a transaction failed, which is logged (a PGSIM_CHECKPOINT_FAILED warning) while the COMMIT
 * before it stands, as PostgreSQL's checkpointer logs its errors; a PANIC; a crash.
 */
type Outcome = "absorbed" | "statement-error" | "logged" | "panic" | "crash";

interface MenuEntry {
  /** "point type" (and a variant): the unit the coverage assertion counts. */
  kind: string;
  make(random: () => number): FaultRule;
  /** What PostgreSQL does: the outcomes a fired fault of this kind may have. */
  expect: Outcome[];
  /** For statement errors (and logged checkpoint failures): the message PostgreSQL prints. */
  message?: RegExp;
  /** Weight in the random part of the plan. */
  weight: number;
  /** Extra weight for the calls that reach the point (see fault-child.mjs). */
  steer: Steer;
}

/** Extra weights of the child's calls while a fault waits, and the scratch table's fill size. */
interface Steer {
  scanLedger?: number;
  checkpoint?: number;
  churn?: number;
  churnRows?: [number, number];
}

/** Ledger scans read pages (and evict dirty ones); CHECKPOINTs sync; the scratch table extends and truncates. */
const STEER: Record<string, Steer> = {
  "data-read": { scanLedger: 25 },
  "data-write": { scanLedger: 15 },
  "data-fsync": { checkpoint: 20 },
  extend: { churn: 25 },
  truncate: { churn: 30 },
  "control-write": { checkpoint: 20 },
};

const int = (random: () => number, lo: number, hi: number) =>
  lo + Math.floor(random() * (hi - lo + 1));

function entry(
  point: FaultRule["point"],
  type: "eio" | "enospc" | "short-write" | "torn-write" | "delay" | "crash",
  options: {
    variant?: string;
    file?: (random: () => number) => string | undefined;
    nth: [number, number];
    bytes?: [number, number];
    expect: Outcome[];
    message?: RegExp;
    weight?: number;
    steer?: Steer;
  },
): MenuEntry {
  return {
    kind: `${point} ${type}${options.variant ? ` ${options.variant}` : ""}`,
    expect: options.expect,
    ...(options.message ? { message: options.message } : {}),
    weight:
      options.weight ??
      (options.expect.includes("crash") ? 0.08 : options.expect.includes("panic") ? 0.6 : 3),
    steer: options.steer ?? STEER[point] ?? {},
    make(random) {
      const bytes = options.bytes ? int(random, options.bytes[0], options.bytes[1]) : 0;
      const fault =
        type === "short-write" || type === "torn-write"
          ? { type, bytes }
          : type === "delay"
            ? { type, ms: int(random, 1, 30) }
            : { type };
      const file = options.file?.(random);
      return {
        point,
        fault,
        nth: int(random, options.nth[0], options.nth[1]),
        times: type === "delay" ? int(random, 1, 5) : 1,
        ...(file !== undefined ? { file } : {}),
      };
    },
  };
}

/** Relation files mostly; now and then any data file (pg_xact, the catalog image) too. */
const dataFiles = (random: () => number) => (random() < 0.7 ? "base/" : undefined);
const readError =
  /^could not read block \d+ in file "base\/5\/\d+(_\w+)?(\.\d+)?": Input\/output error$/;
const writeError =
  /^could not write (block \d+ in file "base\/5\/\d+(_\w+)?(\.\d+)?": (Input\/output error|No space left on device|wrote only \d+ of 8192 bytes)|commit log segment "pg_xact\/[0-9A-F]{4}"|file "[^"]+": (Input\/output error|No space left on device))$/;
const extendError =
  /^could not extend file "base\/5\/\d+(_\w+)?(\.\d+)?": (Input\/output error|No space left on device|wrote only \d+ of 8192 bytes at block \d+)$/;

/** WAL volume (big fills of the scratch table) brings the next segment sooner. */
const NEW_SEGMENT: Steer = { churn: 40, churnRows: [400, 800] };

/** Every kind of fault at every point (but the memory-only snapshot's), with PostgreSQL's outcome. */
const MENU: MenuEntry[] = [
  entry("data-read", "eio", { nth: [1, 40], expect: ["statement-error"], message: readError }),
  entry("data-read", "delay", { nth: [1, 40], expect: ["absorbed"] }),
  entry("data-read", "crash", { nth: [1, 40], expect: ["crash"] }),
  entry("data-write", "eio", {
    file: dataFiles,
    nth: [1, 15],
    expect: ["statement-error", "logged"],
    message: writeError,
  }),
  entry("data-write", "enospc", {
    file: dataFiles,
    nth: [1, 15],
    expect: ["statement-error", "logged"],
    message: writeError,
  }),
  entry("data-write", "short-write", {
    file: () => "base/",
    nth: [1, 15],
    bytes: [0, 8191],
    expect: ["statement-error", "logged"],
    message: writeError,
  }),
  entry("data-write", "torn-write", {
    file: () => "base/",
    nth: [1, 15],
    bytes: [1, 8191],
    expect: ["crash"],
  }),
  entry("data-write", "delay", { nth: [1, 15], expect: ["absorbed"] }),
  entry("data-write", "crash", { nth: [1, 15], expect: ["crash"] }),
  entry("data-fsync", "eio", { nth: [1, 8], expect: ["panic"] }),
  entry("data-fsync", "enospc", { nth: [1, 8], expect: ["panic"] }),
  entry("data-fsync", "delay", { nth: [1, 8], expect: ["absorbed"] }),
  entry("data-fsync", "crash", { nth: [1, 8], expect: ["crash"] }),
  entry("extend", "eio", { nth: [1, 6], expect: ["statement-error"], message: extendError }),
  entry("extend", "enospc", { nth: [1, 6], expect: ["statement-error"], message: extendError }),
  entry("extend", "short-write", {
    nth: [1, 6],
    bytes: [0, 8191],
    expect: ["statement-error"],
    message: extendError,
  }),
  entry("extend", "torn-write", { nth: [1, 6], bytes: [1, 8191], expect: ["crash"] }),
  entry("extend", "delay", { nth: [1, 6], expect: ["absorbed"] }),
  entry("extend", "crash", { nth: [1, 6], expect: ["crash"] }),
  // The cut blocks' buffers are already dropped: a failed truncation is a PANIC in pgsim (an
  // ERROR in PostgreSQL 15, which leaves their older versions on disk; see the database README).
  entry("truncate", "eio", { nth: [1, 2], expect: ["panic"] }),
  entry("truncate", "delay", { nth: [1, 2], expect: ["absorbed"] }),
  entry("truncate", "crash", { nth: [1, 2], expect: ["crash"] }),
  // XLogWrite runs in a critical section: a failed write of a WAL page is a PANIC.
  entry("wal-write", "eio", { file: () => "pg_wal/0*", nth: [1, 20], expect: ["panic"] }),
  entry("wal-write", "enospc", { file: () => "pg_wal/0*", nth: [1, 20], expect: ["panic"] }),
  // Creating a segment happens before a statement (pgsim): ENOSPC there fails the statement —
  // unless the statement only reads, which goes ahead without WAL room; the next statement
  // creates the segment (the fault fires once), and nothing is seen.
  entry("wal-write", "eio", {
    variant: "new-segment",
    file: () => "pg_wal/xlogtemp*",
    nth: [1, 1],
    steer: NEW_SEGMENT,
    expect: ["statement-error", "absorbed"],
    message: /^could not write to file "pg_wal\/xlogtemp\.[\d.]+": Input\/output error$/,
  }),
  entry("wal-write", "enospc", {
    variant: "new-segment",
    file: () => "pg_wal/xlogtemp*",
    nth: [1, 1],
    steer: NEW_SEGMENT,
    expect: ["statement-error", "absorbed"],
    message: /^could not write to file "pg_wal\/xlogtemp\.[\d.]+": No space left on device$/,
  }),
  // A partial write of WAL pages: XLogWrite writes the rest.
  entry("wal-write", "short-write", {
    file: () => "pg_wal/0*",
    nth: [1, 20],
    bytes: [1, 8191],
    expect: ["absorbed"],
  }),
  entry("wal-write", "torn-write", { nth: [1, 20], bytes: [1, 8191], expect: ["crash"] }),
  entry("wal-write", "delay", { nth: [1, 20], expect: ["absorbed"] }),
  entry("wal-write", "crash", { nth: [1, 20], expect: ["crash"] }),
  entry("wal-fsync", "eio", { nth: [1, 20], expect: ["panic"] }),
  entry("wal-fsync", "delay", { nth: [1, 20], expect: ["absorbed"] }),
  entry("wal-fsync", "crash", { nth: [1, 20], expect: ["crash"] }),
  // update_controlfile: a failed write or fsync of pg_control is a PANIC.
  entry("control-write", "eio", { nth: [1, 2], expect: ["panic"] }),
  entry("control-write", "enospc", { nth: [1, 2], expect: ["panic"] }),
  // pg_control's data fits in one 512-byte sector, which PostgreSQL trusts to be written whole:
  // a torn write of the file keeps at least that sector.
  entry("control-write", "torn-write", { nth: [1, 2], bytes: [512, 8191], expect: ["crash"] }),
  entry("control-write", "delay", { nth: [1, 2], expect: ["absorbed"] }),
  entry("control-write", "crash", { nth: [1, 2], expect: ["crash"] }),
];

interface PlannedFault {
  kind: string;
  rule: FaultRule;
  steer: Steer;
}

/** Every kind once, shuffled, then kinds drawn by weight. */
function makePlan(seed: number, length: number): PlannedFault[] {
  const random = rng(seed);
  const first = [...MENU];
  for (let i = first.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [first[i], first[j]] = [first[j]!, first[i]!];
  }
  const total = MENU.reduce((a, e) => a + e.weight, 0);
  const rest: MenuEntry[] = [];
  while (first.length + rest.length < length) {
    let x = random() * total;
    let pick = MENU[MENU.length - 1]!;
    for (const m of MENU) {
      x -= m.weight;
      if (x < 0) {
        pick = m;
        break;
      }
    }
    rest.push(pick);
  }
  return [...first, ...rest].map((e) => ({ kind: e.kind, rule: e.make(random), steer: e.steer }));
}

// ---------------------------------------------------------------- the child

interface BankCheck {
  accounts: number;
  sum: number;
  ledgerRuns: [number, number][];
  ledgerRows: number;
  mismatched: number[];
  pagesChecked: number;
  bad: string[];
  badAfterCheckpoint?: string[];
}

interface Failure {
  op: string;
  phase: string;
  code: string;
  message: string;
  detail?: Record<string, unknown>;
}

interface FaultReport {
  i: number;
  fired: number;
  hits: number;
  panic?: string;
  refused?: Failure & { outcome: string };
  reopen?: { recovered: boolean; records: number };
  calls: number;
  failures: Failure[];
  logged: { op: string; message: string }[];
  check: BankCheck;
  ms: { episode: number; reopen: number; total: number };
}

type Message =
  | { kind: "ready"; check: BankCheck; startup?: { recovered: boolean; records: number } }
  | { kind: "arm"; i: number }
  | { kind: "ack" | "rb" | "fail" | "doubt"; id: number }
  | { kind: "fault"; report: FaultReport }
  | { kind: "done" };

interface Life {
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/**
 * Runs one child, handing each message to `onMessage` as it arrives; its output is also kept in
 * `log` (see PGSIM_FAULT_KEEP). When `onMessage` throws (a check failed), the child is killed
 * and the promise rejects with that error.
 */
function runChild(args: string[], log: string, onMessage: (m: Message) => void): Promise<Life> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const logFd = fs.openSync(log, "w");
    let failed: unknown;
    const deliver = (m: Message) => {
      if (failed !== undefined) return;
      try {
        onMessage(m);
      } catch (error) {
        failed = error;
        child.kill("SIGKILL");
      }
    };
    let buffer = "";
    let stderr = "";
    // A child that stops making progress is a hang: kill it, and the test fails on its output.
    const timeout = setTimeout(() => child.kill("SIGTERM"), 300_000);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk;
      fs.writeSync(logFd, chunk);
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const space = line.indexOf(" ");
        const kind = line.slice(0, space);
        const rest = line.slice(space + 1);
        if (kind === "ready") deliver({ kind, ...JSON.parse(rest) });
        else if (kind === "arm") deliver({ kind, i: Number(rest) });
        else if (kind === "ack" || kind === "rb" || kind === "fail" || kind === "doubt") {
          deliver({ kind, id: Number(rest) });
        } else if (kind === "fault") deliver({ kind, report: JSON.parse(rest) });
        else if (kind === "done") deliver({ kind });
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      fs.writeSync(logFd, d.toString());
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timeout);
      fs.closeSync(logFd);
      if (failed !== undefined) reject(failed);
      else resolve({ stderr, exit: { code, signal } });
    });
  });
}

// ---------------------------------------------------------------- the checks

/** What the parent knows about every transfer the children answered. */
class Ledger {
  readonly acked = new Set<number>();
  readonly absent = new Set<number>();
  readonly doubt = new Set<number>();

  /** The checks of one bank check (after a fault or a reopen). */
  check(c: BankCheck, context: string, allowedBad: Set<string>): void {
    expect(c.accounts, `${context}: accounts`).toBe(ACCOUNTS);
    expect(c.sum, `${context}: the sum of the balances`).toBe(ACCOUNTS * INITIAL);
    expect(c.mismatched, `${context}: balances that are not start + ledger`).toEqual([]);
    const length = c.ledgerRuns.reduce((a, [lo, hi]) => a + hi - lo + 1, 0);
    expect(length, `${context}: ledger ids are unique`).toBe(c.ledgerRows);
    const has = (id: number) => {
      // Binary search over the sorted runs.
      let lo = 0;
      let hi = c.ledgerRuns.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const [a, b] = c.ledgerRuns[mid]!;
        if (id < a) hi = mid - 1;
        else if (id > b) lo = mid + 1;
        else return true;
      }
      return false;
    };
    const missing = [...this.acked].filter((id) => !has(id));
    expect(missing, `${context}: acknowledged transfers missing`).toEqual([]);
    const present = [...this.absent].filter((id) => has(id));
    expect(present, `${context}: failed or rolled-back transfers present`).toEqual([]);
    expect(c.pagesChecked, `${context}: pages checked`).toBeGreaterThan(0);
    expect(
      c.bad.filter((b) => !allowedBad.has(b)),
      `${context}: pages failing their checksum`,
    ).toEqual([]);
    if (c.badAfterCheckpoint !== undefined) {
      expect(
        c.badAfterCheckpoint,
        `${context}: pages failing their checksum after CHECKPOINT`,
      ).toEqual([]);
    }
  }
}

const FAULT_CODES = new Set(["io-error", "disk-full"]);

/** Classifies a fault's episode and checks it against what PostgreSQL does. */
function classify(r: FaultReport, planned: PlannedFault, context: string): Outcome {
  const menu = MENU.find((m) => m.kind === planned.kind)!;
  const failures = r.failures;
  for (const f of failures) {
    expect(
      ["io-error", "disk-full", "panic", "crash-shutdown"],
      `${context}: a failure of an unexpected kind: ${JSON.stringify(f)}`,
    ).toContain(f.code);
  }
  if (r.panic !== undefined) {
    // The statement that hit it got the PANIC, the others "terminating connection because of
    // crash of another server process" — and so does any call made afterwards. (A PANIC in the
    // checkpoint run at the end of a transaction fails no statement: that COMMIT was durable.)
    for (const f of failures) {
      expect(["panic", "crash-shutdown"], `${context}: after the PANIC`).toContain(f.code);
    }
    expect(r.refused, `${context}: a call after the PANIC (${r.panic})`).toMatchObject({
      outcome: "failed",
      code: "crash-shutdown",
      message: "terminating connection because of crash of another server process",
    });
    expect(r.reopen?.recovered, `${context}: reopening after the PANIC recovered`).toBe(true);
    return "panic";
  }
  const errors = failures.filter((f) => FAULT_CODES.has(f.code));
  expect(errors.length, `${context}: only fault errors`).toBe(failures.length);
  const messages = [
    ...errors.map((e) => e.message),
    ...r.logged.map((l) => l.message.replace(/^checkpoint failed: /, "")),
  ];
  if (menu.message !== undefined) {
    for (const m of messages) expect(m, `${context}: PostgreSQL's message`).toMatch(menu.message);
  }
  if (errors.length > 0) return "statement-error";
  return r.logged.length > 0 ? "logged" : "absorbed";
}

// ---------------------------------------------------------------- the test

describe("randomized fault run", () => {
  it(`${TARGET} faults fired into a bank on two worker backends: nothing acknowledged lost, the sum kept, every page valid`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-faultrun-"));
    dirs.push(dir);
    const dataDir = path.join(dir, "data");
    await withBankPeer(async (pg, xidFloor) => {
      try {
        await faultLoop(dir, dataDir, xidFloor);
      } catch (error) {
        (error as Error).message =
          `fault run with PGSIM_FAULT_SEED=${SEED} PGSIM_FAULTS=${TARGET}: ${(error as Error).message}`;
        throw error;
      }
      // The files the run left, under PostgreSQL 15.
      await checkBankUnderPostgres(
        pg,
        dataDir,
        xidFloor,
        { accounts: ACCOUNTS, initial: INITIAL },
        ` (PGSIM_FAULT_SEED=${SEED})`,
      );
    });
  }, 900_000);
});

async function faultLoop(dir: string, dataDir: string, xidFloor: number): Promise<void> {
  const started = Date.now();
  const plan = makePlan(SEED, Math.max(TARGET * 2, MENU.length * 2));
  const planFile = path.join(dir, "plan.json");
  fs.writeFileSync(
    planFile,
    JSON.stringify({
      seed: SEED,
      target: TARGET,
      bufferCount: 32,
      backends: 2,
      clients: 4,
      accounts: ACCOUNTS,
      initial: INITIAL,
      preload: 3000,
      // Calls to run after the fault fired (to see its effect), and at most per fault.
      callsAfterFire: 4,
      budget: 600,
      faults: plan,
    }),
  );
  const ledger = new Ledger();
  const firedByKind = new Map<string, number>();
  const outcomes = new Map<Outcome, number>();
  let fired = 0;
  let unfired = 0;
  let reopens = 0;
  let crashes = 0;
  let next = 0;
  let mode = "create";
  let lifeNo = 0;
  let done = false;
  const count = (kind: string, outcome: Outcome) => {
    fired++;
    firedByKind.set(kind, (firedByKind.get(kind) ?? 0) + 1);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  };
  /** The checks after one fault (and, after a PANIC, the reopen). */
  const checkFault = (r: FaultReport) => {
    const planned = plan[r.i]!;
    const context = `fault ${r.i} (${planned.kind}: ${JSON.stringify(planned.rule)})`;
    if (r.fired === 0) {
      expect(r.failures, `${context}: failures without a fault`).toEqual([]);
      unfired++;
    } else {
      const outcome = classify(r, planned, context);
      const menu = MENU.find((e) => e.kind === planned.kind)!;
      expect(
        menu.expect,
        `${context}: outcome ${outcome}; ${JSON.stringify(r.failures)}`,
      ).toContain(outcome);
      count(planned.kind, outcome);
      if (outcome === "panic") reopens++;
    }
    // A page a short write left half-written may fail its checksum until the CHECKPOINT.
    const allowed = new Set<string>();
    if (r.panic === undefined) {
      for (const m of [...r.failures, ...r.logged].map((f) => f.message)) {
        const torn = /could not write block (\d+) in file "([^"]+)": wrote only/.exec(m);
        if (torn) allowed.add(`${path.basename(torn[2]!)} block ${torn[1]}`);
      }
    }
    ledger.check(r.check, context, allowed);
  };
  while (!done) {
    expect(next, "the plan ran out before enough faults fired").toBeLessThan(plan.length);
    const lifeContext = `life ${lifeNo} (from fault ${next})`;
    let armed: number | undefined;
    const onMessage = (m: Message) => {
      switch (m.kind) {
        case "ready": {
          const context = `${lifeNo === 0 ? "start" : `reopen after the crash at fault ${next - 1}`}`;
          ledger.check(m.check, context, new Set());
          if (lifeNo > 0) expect(m.startup?.recovered, `${context}: recovered`).toBe(true);
          break;
        }
        case "arm":
          armed = m.i;
          break;
        case "ack":
          ledger.acked.add(m.id);
          break;
        case "rb":
        case "fail":
          ledger.absent.add(m.id);
          break;
        case "doubt":
          ledger.doubt.add(m.id);
          break;
        case "fault":
          checkFault(m.report);
          armed = undefined;
          next = m.report.i + 1;
          break;
        case "done":
          done = true;
          break;
      }
    };
    const life = await runChild(
      [
        dataDir,
        planFile,
        mode,
        String(next),
        String(1 + lifeNo * 10_000_000),
        String(fired),
        String(xidFloor),
      ],
      path.join(dir, `life-${lifeNo}.log`),
      onMessage,
    );
    if (!done) {
      // Only a crash fault may end a child before it is done.
      expect(
        armed,
        `${lifeContext} ended with ${JSON.stringify(life.exit)}:\n${life.stderr}`,
      ).toBeDefined();
      const planned = plan[armed!]!;
      const context = `fault ${armed} (${planned.kind}: ${JSON.stringify(planned.rule)})`;
      expect(life.exit.signal, `${context}: the child's end:\n${life.stderr}`).toBe("SIGKILL");
      const menu = MENU.find((e) => e.kind === planned.kind)!;
      expect(menu.expect, `${context}: outcome crash`).toContain("crash");
      count(planned.kind, "crash");
      crashes++;
      next = armed! + 1;
      mode = "open";
    } else {
      expect(life.exit.code, `${lifeContext}: clean exit:\n${life.stderr}`).toBe(0);
    }
    lifeNo++;
  }
  const byPoint = new Map<string, number>();
  for (const [kind, n] of firedByKind) {
    const point = kind.split(" ")[0]!;
    byPoint.set(point, (byPoint.get(point) ?? 0) + n);
  }
  console.log(
    `fault-run (seed ${SEED}): ${fired} faults fired (${unfired} armed but not reached), ` +
      `${JSON.stringify(Object.fromEntries(outcomes))}, ${reopens} reopens after a PANIC, ` +
      `${crashes} after a crash, ${ledger.acked.size} acknowledged transfers, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n` +
      `  per point: ${JSON.stringify(Object.fromEntries(byPoint))}\n` +
      `  per kind: ${JSON.stringify(Object.fromEntries([...firedByKind].sort()))}`,
  );
  // The run cannot pass vacuously: every kind fired, and the outcomes of each class happened.
  expect(fired).toBeGreaterThanOrEqual(TARGET);
  expect(
    MENU.map((e) => e.kind).filter((k) => !firedByKind.has(k)),
    "kinds of fault that never fired",
  ).toEqual([]);
  for (const o of ["absorbed", "statement-error", "panic", "crash"] as const) {
    // ("logged" is not required: whether a write fault meets a checkpoint depends on the seed.)
    expect(outcomes.get(o) ?? 0, `outcome ${o}`).toBeGreaterThan(0);
  }
  expect(ledger.acked.size).toBeGreaterThan(TARGET);
}
