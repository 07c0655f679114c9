// The process the memory-only snapshot crash test kills (test/snapshot-crash.test.ts): a
// memory-only database with persistence "snapshot" on a directory (created the first time,
// reopened afterwards). It reports what the reopen loaded and whether it is consistent, then runs
// rounds until it is killed (a static filler table makes each snapshot about 16 MB): round r inserts ROWS rows tagged r, deletes round r - KEEP's rows and
// moves 1 from account 1 to account 2, in one transaction; every fifth round VACUUMs; then a
// snapshot (CHECKPOINT), announced with "begin r" and acknowledged with "snap r" once it returned.
//
// argv: dataDir, mode ("create" | "open"), fault (optional JSON of a FaultRule armed at start)

import { Database } from "@pgsim/heap-am";

const [dataDir, mode, faultArg] = process.argv.slice(2);
const ROWS = 1500;
const KEEP = 5;
const TOTAL = 1_000_000;

function say(line) {
  // Synchronous, so that a line is out before the next step starts.
  process.stdout.write(`${line}\n`);
}

function payload(round, i) {
  return `round ${round} row ${i} ${"p".repeat(150)}`;
}

const options = {
  bufferCount: 6144,
  fsync: true,
  ...(faultArg ? { faults: [JSON.parse(faultArg)] } : {}),
};
const db =
  mode === "create"
    ? Database.create({
        variant: "memory",
        dataDir,
        persistence: "snapshot",
        ...options,
      })
    : Database.open(dataDir, options);

if (mode === "create") {
  db.createTable("items", [
    { name: "id", type: "int4", notNull: true },
    { name: "round", type: "int4", notNull: true },
    { name: "body", type: "text" },
  ]);
  db.createTable("accounts", [
    { name: "id", type: "int4", notNull: true },
    { name: "balance", type: "int4", notNull: true },
  ]);
  // A table that never changes, so that a snapshot (about 16 MB) takes most of a round's time
  // and a random kill often lands in one.
  db.createTable("filler", [
    { name: "id", type: "int4", notNull: true },
    { name: "body", type: "text" },
  ]);
  const tx = db.begin();
  tx.insert("accounts", [1, TOTAL]);
  tx.insert("accounts", [2, 0]);
  tx.insertBatches("filler", 80_000, (first, count) =>
    Array.from({ length: count }, (_, i) => [first + i, "f".repeat(160)]),
  );
  tx.commit();
  db.checkpoint();
}

/** What the database holds, and whether it is exactly the state after some round R. */
function check() {
  const tx = db.begin();
  const items = tx.scan("items").map((r) => r.row);
  const accounts = new Map(tx.scan("accounts").map((r) => [r.row[0], r.row[1]]));
  tx.commit();
  const problems = [];
  const perRound = new Map();
  for (const [id, round, body] of items) {
    perRound.set(round, (perRound.get(round) ?? 0) + 1);
    const i = id - round * ROWS;
    if (i < 0 || i >= ROWS || body !== payload(round, i)) problems.push(`bad row ${id}`);
  }
  const rounds = [...perRound.keys()].sort((a, b) => a - b);
  const last = rounds.length === 0 ? -1 : rounds[rounds.length - 1];
  const first = Math.max(0, last - KEEP + 1);
  for (let r = first; r <= last; r++) {
    if (perRound.get(r) !== ROWS) problems.push(`round ${r} has ${perRound.get(r) ?? 0} rows`);
  }
  for (const r of rounds) if (r < first) problems.push(`round ${r} should be deleted`);
  if (accounts.get(2) !== last + 1)
    problems.push(`account 2 is ${accounts.get(2)}, not ${last + 1}`);
  if (accounts.get(1) + accounts.get(2) !== TOTAL) problems.push("the accounts do not sum up");
  return { last, problems };
}

const state = check();
say(
  `ready ${JSON.stringify({
    ...state,
    generation: db.snapshotReport?.generation ?? 1,
    refused: db.snapshotReport?.refused.map((r) => r.reason) ?? [],
    removedTemporary: db.snapshotReport?.removedTemporary ?? [],
  })}`,
);

for (let round = state.last + 1; ; round++) {
  const tx = db.begin();
  tx.insertMany(
    "items",
    Array.from({ length: ROWS }, (_, i) => [round * ROWS + i, round, payload(round, i)]),
  );
  for (const r of tx.scan("items")) {
    if (r.row[1] === round - KEEP) tx.delete("items", r.tid);
  }
  for (const r of tx.scan("accounts")) {
    tx.update("accounts", r.tid, [r.row[0], r.row[1] + (r.row[0] === 1 ? -1 : 1)]);
  }
  tx.commit();
  if (round % 5 === 4) db.vacuum("items");
  say(`begin ${round}`);
  db.checkpoint();
  say(`snap ${round}`);
}
