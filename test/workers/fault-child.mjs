// The process the randomized fault run (test/fault-run.test.ts) drives: a disk-backed cluster
// with WAL (two worker backends, checksums on, 1 MB WAL segments, a small pool) running the bank
// of fault-bank.mjs from four clients, while the faults of a plan are armed one after another.
//
// For each fault from `start` on: the rule is armed on the cluster's shared fault table, the
// clients work (steered toward the fault's point: ledger scans for reads, CHECKPOINTs for
// fsyncs and pg_control, the scratch table's VACUUM for truncation) until the fault has fired and
// a few more calls have run — or the database stopped with a PANIC — and the rule is removed.
// After a PANIC the cluster is shut down (it writes nothing) and opened again: crash recovery.
// Then the bank is checked (on a backend) and the result printed. A crash fault kills this
// process; the parent starts it again with mode "open" (recovery) at the next fault.
//
// Every line on stdout is one message to the parent:
//   ready <json>   the check of the bank as start-up (or crash recovery) left it
//   arm <i>        fault i of the plan is about to be armed
//   ack <id>       the transfer's COMMIT returned
//   rb <id>        the client rolled the transfer back
//   fail <id>      a statement (or COMMIT's own checks) failed: the transfer must be absent
//   doubt <id>     COMMIT failed with a PANIC: the transfer may or may not be there
//   fault <json>   fault i's outcome, the errors seen, and the check after it (and the reopen;
//                  after a PANIC, also what a call made before the reopen got)
//   done           the plan's target of fired faults is reached
//
// argv: dataDir, planFile, mode ("create" | "open"), start, firstId, firedSoFar, xidFloor

import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";

const [dataDir, planFile, mode, startArg, firstIdArg, firedSoFarArg, xidFloorArg] =
  process.argv.slice(2);
const plan = JSON.parse(fs.readFileSync(planFile, "utf8"));
const functionsModule = fileURLToPath(new URL("./fault-bank.mjs", import.meta.url));
const start = Number(startArg);
let firedTotal = Number(firedSoFarArg);

function say(kind, value) {
  // Synchronous, so that a line is out before the next call starts (and before a crash).
  const text = typeof value === "string" ? value : JSON.stringify(value);
  fs.writeSync(1, `${kind} ${text}\n`);
}

const options = {
  bufferCount: plan.bufferCount,
  backends: plan.backends,
  functionsModule,
  walSegmentSize: 1024 * 1024,
  maxWalSize: 3 * 1024 * 1024,
  walRecycle: false,
};
let cluster =
  mode === "create"
    ? await Cluster.start({ variant: "disk", dataDir, checksums: true, ...options })
    : await Cluster.open(dataDir, options);
if (mode === "create") {
  await cluster.call("setup", {
    accounts: plan.accounts,
    initial: plan.initial,
    xidFloor: Number(xidFloorArg),
    preload: plan.preload,
  });
}

function startup() {
  const r = cluster.startupReport;
  return r && { recovered: r.recovered, records: r.recordsReplayed };
}

async function check(checkpointAfter) {
  return cluster.call("check", { dataDir, initial: plan.initial, checkpointAfter });
}

say("ready", { check: await check(false), startup: startup() });

const random = rng(plan.seed * 7919 + start);
let nextId = Number(firstIdArg);

/**
 * The mix of calls, steered toward the point the armed fault waits at (`steer`, from the plan:
 * extra weight for ledger scans, CHECKPOINTs, and the scratch table's fill-empty-VACUUM).
 */
function chooseOp(steer) {
  const weights = {
    transfer: 90,
    scanLedger: 3 + (steer.scanLedger ?? 0),
    checkpoint: 3 + (steer.checkpoint ?? 0),
    churn: 2 + (steer.churn ?? 0),
    vacuum: 2,
  };
  let x = random() * Object.values(weights).reduce((a, b) => a + b, 0);
  for (const [op, w] of Object.entries(weights)) {
    x -= w;
    if (x < 0) return op;
  }
  return "transfer";
}

/**
 * Runs the clients until the fault has fired and `after` more calls finished, the database
 * stopped, or `budget` calls ran. Returns every failure seen, with its call, and every failed
 * checkpoint the end of a transaction logged.
 */
async function episode(handle, steer) {
  const failures = [];
  const logged = [];
  const outcomes = { committed: 0, rolledBack: 0, failed: 0, other: 0 };
  let calls = 0;
  let callsAfterFire = 0;
  let stop = false;
  // VACUUM and CHECKPOINT one at a time: PostgreSQL's VACUUM takes ShareUpdateExclusiveLock,
  // which pgsim does not model, and the checkpointer is one process.
  let maintenance = false;
  async function client() {
    while (!stop) {
      let op = chooseOp(steer);
      if (op !== "transfer" && maintenance) op = "transfer";
      let args;
      if (op === "transfer") {
        const from = 1 + Math.floor(random() * plan.accounts);
        let to = 1 + Math.floor(random() * (plan.accounts - 1));
        if (to >= from) to++;
        args = {
          id: nextId++,
          from,
          to,
          amount: 1 + Math.floor(random() * 50),
          pad: Math.floor(random() * 300),
          rollback: random() < 0.05,
        };
      } else if (op === "churn") {
        const [lo, hi] = steer.churnRows ?? [40, 160];
        args = { rows: lo + Math.floor(random() * (hi - lo + 1)) };
      } else if (op === "vacuum") args = { freeze: random() < 0.5 };
      const isMaintenance = op !== "transfer" && op !== "scanLedger";
      if (isMaintenance) maintenance = true;
      let r;
      try {
        r = await cluster.call(op, args);
      } catch (e) {
        // The call itself failed (the function threw past its own catch, or the worker died).
        r = { outcome: "failed", phase: "call", code: e.code ?? "call-error", message: e.message };
      } finally {
        if (isMaintenance) maintenance = false;
      }
      calls++;
      if (op === "transfer") {
        if (r.outcome === "committed") {
          outcomes.committed++;
          say("ack", String(args.id));
        } else if (r.outcome === "rolled-back") {
          outcomes.rolledBack++;
          say("rb", String(args.id));
        } else {
          outcomes.failed++;
          const panicClass = r.code === "panic" || r.code === "crash-shutdown";
          say(r.phase === "commit" && panicClass ? "doubt" : "fail", String(args.id));
        }
      }
      for (const message of r.logged ?? []) logged.push({ op, message });
      if (r.outcome === "failed") {
        failures.push({ op, phase: r.phase, code: r.code, message: r.message, detail: r.detail });
      }
      const panicked = cluster.db.panicReason !== undefined;
      if (panicked || handle.fired() > 0) callsAfterFire++;
      if (panicked || callsAfterFire >= plan.callsAfterFire || calls >= plan.budget) stop = true;
    }
  }
  await Promise.all(Array.from({ length: plan.clients }, () => client()));
  return { calls, outcomes, failures, logged };
}

for (let i = start; i < plan.faults.length && firedTotal < plan.target; i++) {
  const fault = plan.faults[i];
  say("arm", String(i));
  const started = Date.now();
  const handle = cluster.db.injectFault(fault.rule);
  const ep = await episode(handle, fault.steer ?? {});
  const episodeMs = Date.now() - started;
  const fired = handle.fired();
  const hits = handle.hits();
  handle.remove();
  const panic = cluster.db.panicReason;
  let reopen;
  let refused;
  const reopenStarted = Date.now();
  if (panic !== undefined) {
    // Every backend refuses work after a PANIC.
    refused = await cluster.call("scanLedger");
    // The database stopped: shutting down writes nothing; opening runs crash recovery.
    await cluster.shutdown();
    cluster = await Cluster.open(dataDir, options);
    reopen = startup();
  }
  const reopenMs = Date.now() - reopenStarted;
  const after = await check(panic === undefined);
  if (fired > 0) firedTotal++;
  say("fault", {
    i,
    fired,
    hits,
    panic,
    refused,
    reopen,
    ...ep,
    check: after,
    ms: { episode: episodeMs, reopen: reopenMs, total: Date.now() - started },
  });
}
say("done", String(firedTotal));
await cluster.shutdown();
