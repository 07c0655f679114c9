// The process the WAL crash test kills: starts a disk-backed cluster with WAL on a data directory
// (creating it the first time, reopening it — with crash recovery — afterwards), reports the
// state of the bank as recovery left it, then runs bank transfers from several clients on two or
// more worker backends and prints "ack <id>" for every transfer whose commit returned, until the
// parent kills it with SIGKILL.
//
// argv: dataDir, mode ("create" | "open"), firstId, seed, backends, xidFloor

import { fileURLToPath } from "node:url";
import { mulberry32 as rng } from "@pgsim/clock-sweep";
import { Cluster } from "@pgsim/heap-am";

const [dataDir, mode, firstIdArg, seedArg, backendsArg, xidFloorArg] = process.argv.slice(2);
const functionsModule = fileURLToPath(new URL("./crash-bank.mjs", import.meta.url));
const backends = Number(backendsArg ?? 2);
const ACCOUNTS = 100;
const INITIAL = 1000;

function say(line) {
  // Synchronous, so that a line is out before the next transfer starts.
  process.stdout.write(`${line}\n`);
}

const options = {
  bufferCount: 48,
  backends,
  functionsModule,
  walSegmentSize: 1024 * 1024,
  maxWalSize: 3 * 1024 * 1024,
};
const cluster =
  mode === "create"
    ? await Cluster.start({ variant: "disk", dataDir, checksums: true, ...options })
    : await Cluster.open(dataDir, options);
if (mode === "create") {
  await cluster.call("setup", {
    accounts: ACCOUNTS,
    initial: INITIAL,
    xidFloor: Number(xidFloorArg ?? 0),
  });
}
const report = await cluster.call("check", { dataDir });
say(
  `ready ${JSON.stringify({ ...report, startup: cluster.startupReport && { recovered: cluster.startupReport.recovered, records: cluster.startupReport.recordsReplayed } }, (_k, v) => (typeof v === "bigint" ? String(v) : v))}`,
);

const random = rng(Number(seedArg));
let nextId = Number(firstIdArg);
let vacuuming = false;
async function client() {
  for (;;) {
    const id = nextId++;
    const from = 1 + Math.floor(random() * ACCOUNTS);
    let to = 1 + Math.floor(random() * (ACCOUNTS - 1));
    if (to >= from) to++;
    const t = {
      id,
      from,
      to,
      amount: 1 + Math.floor(random() * 50),
      pad: Math.floor(random() * 300),
      rollback: random() < 0.1,
    };
    const r = await cluster.call("transfer", t);
    if (r.committed) say(`ack ${id}`);
    else say(`rolled-back ${id}`);
    // One VACUUM at a time: PostgreSQL's VACUUM takes ShareUpdateExclusiveLock, which pgsim
    // does not model (two at once on a table fail with "multiple backends attempting to wait
    // for pincount 1"), so the application serializes them.
    if (random() < 0.01 && !vacuuming) {
      vacuuming = true;
      try {
        await cluster.call("vacuum", { freeze: random() < 0.5 });
      } finally {
        vacuuming = false;
      }
    }
  }
}
await Promise.all(Array.from({ length: backends * 2 }, () => client()));
