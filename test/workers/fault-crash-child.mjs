// The process test/fault-crash.test.ts kills through a fault: creates a disk-backed database with
// WAL and checksums, arms one fault rule whose fault is a crash (SIGKILL at that storage call,
// or a torn write followed by one), then runs a workload that reaches every storage point —
// updates of the "acct" table (acknowledged one by one with "ack <n>"), filler rows inserted
// into "fill" and deleted and vacuumed away (extension, truncation), checkpoints (data writes
// and fsyncs, pg_control), and a pool smaller than the tables (reads). It prints "nofire" and
// exits if the fault never fired: the parent treats that as a failure.
//
// argv: dataDir, ruleJSON

import { Database } from "@pgsim/heap-am";

const [dataDir, ruleJson] = process.argv.slice(2);
const ACCOUNTS = 400;

function say(line) {
  process.stdout.write(`${line}\n`);
}

const db = Database.create({
  variant: "disk",
  dataDir,
  bufferCount: 24,
  checksums: true,
  walSegmentSize: 1024 * 1024,
  maxWalSize: 4 * 1024 * 1024,
});
db.createTable("acct", [
  { name: "id", type: "int4" },
  { name: "balance", type: "int8" },
  { name: "note", type: "text" },
]);
db.createTable("fill", [
  { name: "id", type: "int4" },
  { name: "pad", type: "text" },
]);
let tx = db.begin();
tx.insertMany(
  "acct",
  Array.from({ length: ACCOUNTS }, (_, i) => [i, 1000n, `account ${i} ${"n".repeat(60)}`]),
);
tx.commit();
db.checkpoint();
say("ready");
db.injectFault(JSON.parse(ruleJson));

for (let n = 1; n <= 60; n++) {
  tx = db.begin();
  tx.updateAll("acct", (row) => [row[0], row[1] + 1n, row[2]]);
  tx.commit();
  say(`ack ${n}`);
  if (n % 3 === 0) {
    tx = db.begin();
    tx.insertMany(
      "fill",
      Array.from({ length: 600 }, (_, i) => [i, "p".repeat(100)]),
    );
    tx.commit();
    tx = db.begin();
    tx.deleteAll("fill");
    tx.commit();
    db.vacuum("fill");
  }
  if (n % 4 === 0) db.checkpoint();
}
say("nofire");
db.shutdown();
