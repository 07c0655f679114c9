// Functions the randomized fault run (test/fault-run.test.ts) runs on cluster backends: the bank
// of crash-bank.mjs (setup, check), with a transfer that reports how it ended instead of
// throwing (committed, rolled back on purpose, or failed — and at which step), and the other
// work that reaches every injection point: a scan of the ledger (reads, with a small pool), a
// CHECKPOINT (data-file fsyncs, pg_control), and a scratch table filled, emptied and vacuumed
// (VACUUM's truncation). Plain JavaScript over the built packages, so that a child process
// starts in a fraction of a second.
import { PgsimError } from "@pgsim/heap-am";
import { check as checkBank, setup as setupBank } from "./crash-bank.mjs";

// The server log's part that matters here: a checkpoint that failed at the end of a transaction
// (Database.afterTransactionEnd) is a process warning, not an error of the COMMIT. Each function
// below returns the warnings its call caused as `logged`.
const logged = [];
process.on("warning", (w) => {
  if (w.code === "PGSIM_CHECKPOINT_FAILED") logged.push(w.message);
});

/** Runs `body`, then returns its result with the warnings it caused (delivered a tick later). */
async function withLog(body) {
  const result = body();
  await new Promise((resolve) => setImmediate(resolve));
  return { ...result, logged: logged.splice(0) };
}

/** What a failed call reports: the typed error's code, message and detail. */
function failure(e, phase) {
  if (e instanceof PgsimError) {
    return {
      outcome: "failed",
      phase,
      code: e.code,
      message: e.message,
      detail: JSON.parse(JSON.stringify(e.detail ?? {})),
    };
  }
  // Anything else is a bug in pgsim: the test fails on it.
  return {
    outcome: "failed",
    phase,
    code: "not-a-pgsim-error",
    message: `${e?.name}: ${e?.message}\n${e?.stack}`,
  };
}

/**
 * The bank, plus the scratch table whose emptying lets VACUUM truncate. With `preload`, the
 * ledger starts with that many zero-amount rows (ids −1, −2, …), so that it is larger than the
 * pool and a scan of it reads pages from disk.
 */
export function setup(db, args) {
  const accounts = setupBank(db, args);
  if (args.preload > 0) {
    const tx = db.begin();
    for (let i = 1; i <= args.preload; i++) tx.insert("ledger", [-i, 1, 2, 0, "p".repeat(200)]);
    tx.commit();
  }
  db.createTable("scratch", [
    { name: "n", type: "int4", notNull: true },
    { name: "pad", type: "text" },
  ]);
  return accounts;
}

function addTo(tx, id, delta) {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const found = tx.scan("accounts").find((r) => r.row[0] === id);
    if (found === undefined) throw new PgsimError("no-account", `no account ${id}`);
    const newTid = tx.update("accounts", found.tid, (cur) => [cur[0], cur[1] + delta], {
      where: (cur) => cur[0] === id,
    });
    if (newTid !== undefined) return;
  }
  throw new PgsimError("row-vanished", `account ${id} kept changing`);
}

/**
 * One transfer (retried on deadlock). Returns `{ outcome: "committed" }`, `{ outcome:
 * "rolled-back" }` (the client's own ROLLBACK), or a failure with `phase`: "statement" when a
 * statement before COMMIT failed (the transaction is certainly aborted), "commit" when COMMIT
 * itself threw.
 */
function transferNow(db, t) {
  for (let attempt = 1; attempt <= 50; attempt++) {
    let tx;
    let phase = "statement";
    try {
      tx = db.begin();
      const [first, second] = t.from < t.to ? [t.from, t.to] : [t.to, t.from];
      addTo(tx, first, first === t.from ? -t.amount : t.amount);
      addTo(tx, second, second === t.from ? -t.amount : t.amount);
      tx.insert("ledger", [t.id, t.from, t.to, t.amount, "x".repeat(t.pad)]);
      if (t.rollback) {
        tx.abort();
        return { outcome: "rolled-back" };
      }
      phase = "commit";
      tx.commit();
      return { outcome: "committed" };
    } catch (e) {
      try {
        tx?.abort();
      } catch {
        // After a PANIC the abort cannot be logged; the transaction is over either way.
      }
      if (e instanceof PgsimError && e.code === "deadlock-detected") continue;
      return failure(e, phase);
    }
  }
  return { outcome: "failed", phase: "statement", code: "too-many-deadlocks", message: "" };
}

/** SELECT count(*) FROM ledger: with a small pool, most of its pages are read from disk. */
function scanLedgerNow(db) {
  let tx;
  try {
    tx = db.begin();
    const rows = tx.scan("ledger").length;
    tx.commit();
    return { outcome: "ok", rows };
  } catch (e) {
    try {
      tx?.abort();
    } catch {
      // see transfer
    }
    return failure(e, "statement");
  }
}

/** CHECKPOINT. */
function checkpointNow(db) {
  try {
    db.checkpoint();
    return { outcome: "ok" };
  } catch (e) {
    return failure(e, "statement");
  }
}

/** The scratch table filled, emptied and vacuumed, so that VACUUM truncates it. */
function churnNow(db, { rows }) {
  let tx;
  try {
    tx = db.begin();
    for (let i = 0; i < rows; i++) tx.insert("scratch", [i, "s".repeat(200)]);
    tx.commit();
    tx = db.begin();
    for (const r of tx.scan("scratch")) tx.delete("scratch", r.tid);
    tx.commit();
    tx = undefined;
    const v = db.vacuum("scratch");
    return { outcome: "ok", pagesBefore: v.pagesBefore, pagesAfter: v.pagesAfter };
  } catch (e) {
    try {
      tx?.abort();
    } catch {
      // see transfer
    }
    return failure(e, "statement");
  }
}

/** Ids as sorted [first, last] runs (the ledger's ids are mostly consecutive). */
function runs(ids) {
  const sorted = [...ids].sort((a, b) => a - b);
  const out = [];
  for (const id of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

/**
 * The bank as it is (crash-bank.mjs's check: balances, ledger, every page of every relation
 * file verified from disk), with the ledger ids as runs. With `checkpointAfter`, a CHECKPOINT
 * follows (writing again what a failed write left dirty) and the pages are verified once more.
 */
export function check(db, { dataDir, initial, checkpointAfter }) {
  const r = checkBank(db, { dataDir });
  const out = {
    accounts: r.accounts,
    sum: r.sum,
    ledgerRuns: runs(r.ledgerIds),
    ledgerRows: r.ledgerIds.length,
    mismatched: r.balances
      .filter(([id, balance]) => balance - initial !== r.expected.find(([k]) => k === id)?.[1])
      .map(([id]) => id),
    pagesChecked: r.pagesChecked,
    bad: r.bad,
  };
  if (checkpointAfter) {
    db.checkpoint();
    const again = checkBank(db, { dataDir });
    out.badAfterCheckpoint = again.bad;
    out.pagesCheckedAfterCheckpoint = again.pagesChecked;
  }
  return out;
}

/** VACUUM (FREEZE) of the bank's tables. */
function vacuumNow(db, { freeze }) {
  try {
    db.vacuum("accounts", { freeze });
    db.vacuum("ledger", { freeze });
    return { outcome: "ok" };
  } catch (e) {
    return failure(e, "statement");
  }
}

export const transfer = (db, t) => withLog(() => transferNow(db, t));
export const scanLedger = (db) => withLog(() => scanLedgerNow(db));
export const checkpoint = (db) => withLog(() => checkpointNow(db));
export const churn = (db, args) => withLog(() => churnNow(db, args));
export const vacuum = (db, args) => withLog(() => vacuumNow(db, args));
