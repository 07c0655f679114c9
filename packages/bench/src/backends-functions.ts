/**
 * The transactions `pgsim-bench backends` runs: the functions module of its cluster, so each one
 * runs whole on whichever backend (worker thread) the pooler hands it to, plus the set-up that
 * the postmaster's own backend does before the clients start.
 *
 * Models: pgbench's built-in scripts, scaled down. `readOnly` is `select-only` (pgbench -S):
 *   SELECT abalance FROM accounts WHERE aid = :aid
 * `readWrite` is the heart of `tpcb-like` without the tellers and branches rows (at scale 1
 * those two rows serialize every transaction on one lock):
 *   BEGIN; UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid;
 *   SELECT abalance FROM accounts WHERE aid = :aid;
 *   INSERT INTO history (aid, delta, mtime) VALUES (:aid, :delta, CURRENT_TIMESTAMP); END;
 * `noop` is a call that starts no transaction: what is left is the pooler's own cost.
 *
 * The primary key index on accounts(aid) is modelled by `AccountsIndex`, an array in shared
 * memory from aid to the root TID of the row's HOT chain (an index entry points at the root line
 * pointer; heap-only versions get no entry). It is built once by a sequential scan after loading,
 * like CREATE INDEX, and every backend reads it. A lookup is PostgreSQL's index scan minus the
 * B-tree descent: the entry's TID goes to the table AM's index fetch (`tableIndexFetchTuple`,
 * heap_hot_search_buffer: prune the page if worthwhile, follow the HOT chain, return the version
 * the snapshot sees), and the fetched row's aid is checked as an index recheck would.
 *
 * A non-HOT update (the new version did not fit on the page) inserts a new index entry in
 * PostgreSQL, and the old one stays until VACUUM. Here each aid has two slots, `current` and
 * `previous`: the updater stores the new root TID in `current` and the root it came from in
 * `previous`, before it commits (an index insert precedes the commit too), so a reader whose
 * snapshot does not yet see the new version still finds the old one through `previous`. Writers
 * of one row are serialized by its row lock, so `current` always leads to the chain the last
 * writer updated. A lookup that fails both slots (possible only after an aborted non-HOT update,
 * which this workload does not produce) falls back to a sequential scan, counts it in
 * `fallbackScans` and repairs `current`.
 *
 * Differs from PostgreSQL: the index is a direct-mapped array (aid → slot), not a B-tree: no
 * descent, no index pages in the buffer pool, so a lookup costs less than PostgreSQL's (three
 * pinned and share-locked index pages for 100 000 rows); it has no locks of its own (its words
 * are written with Atomics, a torn pair of slots only costs a retry through the other slot).
 * Entry points: `readOnly`, `readWrite`, `noop`, `attachIndex` (run on the backends);
 * `createBenchTables`, `buildAccountsIndex`, `readIndexCounters`, `setLocalIndex` (main thread).
 * See also: backends.ts and backends-run.ts (the clients and the measurements),
 * ../../heap-am/src/cluster.ts (the pooler), ../../heap-am/src/heapam.ts (`heapHotSearch`).
 *
 * No top-level await: under tsx the backends load this module with require() (docs/TOOLCHAIN.md).
 */

import {
  type Database,
  type DatabaseTransaction,
  makeSlot,
  PgsimError,
  type Row,
  type Snapshot,
  type TableRelation,
  type TID,
  type TupleTableSlot,
  tableIndexFetchTuple,
} from "@pgsim/heap-am";

/** accounts: pgbench_accounts with its integer key, balance and ~80-character filler. */
export const ACCOUNTS_COLUMNS = [
  { name: "aid", type: "int4", notNull: true },
  { name: "abalance", type: "int4", notNull: true },
  { name: "filler", type: "text" },
];

/** history: pgbench_history without tid and bid (there are no tellers or branches). */
export const HISTORY_COLUMNS = [
  { name: "aid", type: "int4", notNull: true },
  { name: "delta", type: "int4", notNull: true },
  { name: "mtime", type: "timestamp" },
];

/** The filler of every account: 80 characters, as pgbench's char(84) minus its padding. */
export const ACCOUNT_FILLER = "x".repeat(80);

/** The shared index as it crosses threads (the memory is shared, not copied). */
export interface AccountsIndexShared {
  /** Which database it indexes (DatabaseShared.id). */
  databaseId: string;
  accounts: number;
  sab: SharedArrayBuffer;
}

/** What the index counted, read by the main thread after a run. */
export interface IndexCounters {
  /** Lookups that found the row through neither slot and scanned the table. */
  fallbackScans: number;
  /** Non-HOT updates: new root TIDs stored (index inserts in PostgreSQL). */
  indexInserts: number;
}

// Layout of the index's Int32Array: two counters, then `current` and `previous` per aid (aids
// run from 1 to accounts). A TID is packed as block * 512 + offset (offsets stay below 512:
// MaxHeapTuplesPerPage is 291), so 0 means "no entry" and blocks may go up to 4 194 303.
const FALLBACK_SCANS = 0;
const INDEX_INSERTS = 1;
const HEADER_WORDS = 2;
const OFFSET_RADIX = 512;
const MAX_BLOCK = Math.floor(0x7fffffff / OFFSET_RADIX);
/** An UPDATE that keeps finding its row gone under a new snapshot gives up after this many tries. */
const UPDATE_ATTEMPTS_MAX = 100;
/** PostgreSQL's epoch (2000-01-01) in Unix milliseconds, for mtime. */
const PG_EPOCH_UNIX_MS = 946_684_800_000;

function packTid(tid: TID): number {
  if (tid.block > MAX_BLOCK || tid.offset < 1 || tid.offset >= OFFSET_RADIX) {
    throw new PgsimError(
      "index-tid-out-of-range",
      `TID (${tid.block},${tid.offset}) does not fit the accounts index`,
    );
  }
  return tid.block * OFFSET_RADIX + tid.offset;
}

function unpackTid(word: number): TID {
  return { block: Math.floor(word / OFFSET_RADIX), offset: word % OFFSET_RADIX };
}

/** A thread's view of the index (one per thread; the words are shared). */
class AccountsIndex {
  readonly words: Int32Array;

  constructor(readonly shared: AccountsIndexShared) {
    this.words = new Int32Array(shared.sab);
  }

  private slot(aid: number): number {
    if (!Number.isInteger(aid) || aid < 1 || aid > this.shared.accounts) {
      throw new PgsimError(
        "invalid-parameter",
        `aid must be an integer from 1 to ${this.shared.accounts}, got ${String(aid)}`,
      );
    }
    return HEADER_WORDS + 2 * aid;
  }

  current(aid: number): number {
    return Atomics.load(this.words, this.slot(aid));
  }

  previous(aid: number): number {
    return Atomics.load(this.words, this.slot(aid) + 1);
  }

  /** A new root for `aid` (a non-HOT update or a repair); the old one becomes `previous`. */
  insert(aid: number, root: number, cameFrom: number): void {
    const i = this.slot(aid);
    Atomics.store(this.words, i + 1, cameFrom);
    Atomics.store(this.words, i, root);
    Atomics.add(this.words, INDEX_INSERTS, 1);
  }
}

/** The index of each database this thread works on, by DatabaseShared.id. */
const indexes = new Map<string, AccountsIndex>();

function indexOf(db: Database): AccountsIndex {
  const index = indexes.get(db.shared.id);
  if (index === undefined) {
    throw new PgsimError(
      "no-accounts-index",
      "this backend has no accounts index: call attachIndex on every backend first",
    );
  }
  return index;
}

/**
 * CREATE TABLE accounts and history; loads `accounts` rows (aid 1..N, abalance 0) in one
 * transaction through the multi-insert path, as `pgbench -i` does with COPY, then VACUUMs
 * accounts (pgbench -i does too: hint bits set, pages all-visible).
 */
export function createBenchTables(
  db: Database,
  accounts: number,
  onProgress?: (rowsDone: number) => void,
): void {
  db.createTable("accounts", ACCOUNTS_COLUMNS, {
    indexedColumns: ["aid"],
    keyColumns: ["aid"],
  });
  db.createTable("history", HISTORY_COLUMNS);
  const tx = db.begin();
  try {
    tx.insertBatches(
      "accounts",
      accounts,
      (first, count) => {
        const rows: Row[] = new Array(count);
        for (let i = 0; i < count; i++) rows[i] = [first + i + 1, 0, ACCOUNT_FILLER];
        return rows;
      },
      onProgress ? { onProgress } : {},
    );
    tx.commit();
  } catch (e) {
    tx.abort();
    throw e;
  }
  db.vacuum("accounts");
}

/**
 * CREATE INDEX on accounts(aid): one sequential scan records each row's TID. Run it before any
 * update, when every row version is the root of its (one-member) chain.
 */
export function buildAccountsIndex(db: Database, accounts: number): AccountsIndexShared {
  const sab = new SharedArrayBuffer((HEADER_WORDS + 2 * (accounts + 1)) * 4);
  const words = new Int32Array(sab);
  const tx = db.begin();
  try {
    for (const { tid, row } of tx.scan("accounts")) {
      const aid = row[0];
      if (typeof aid !== "number" || aid < 1 || aid > accounts) {
        throw new PgsimError("invalid-accounts", `accounts holds an unexpected aid ${String(aid)}`);
      }
      words[HEADER_WORDS + 2 * aid] = packTid(tid);
    }
    tx.commit();
  } catch (e) {
    tx.abort();
    throw e;
  }
  for (let aid = 1; aid <= accounts; aid++) {
    if (words[HEADER_WORDS + 2 * aid] === 0) {
      throw new PgsimError("invalid-accounts", `accounts has no row with aid ${aid}`);
    }
  }
  return { databaseId: db.shared.id, accounts, sab };
}

/** Makes `index` this thread's index for its database (the main thread's own backend, say). */
export function setLocalIndex(index: AccountsIndexShared): void {
  indexes.set(index.databaseId, new AccountsIndex(index));
}

/** The index's counters (any thread). */
export function readIndexCounters(index: AccountsIndexShared): IndexCounters {
  const words = new Int32Array(index.sab);
  return {
    fallbackScans: Atomics.load(words, FALLBACK_SCANS),
    indexInserts: Atomics.load(words, INDEX_INSERTS),
  };
}

/**
 * Run on a backend: remember the index, then keep the backend busy for `holdMs` so that calls
 * made at the same time land on different backends. Returns the backend's slot number.
 */
export function attachIndex(
  db: Database,
  args: { index: AccountsIndexShared; holdMs: number },
): number {
  if (args.index.databaseId !== db.shared.id) {
    throw new PgsimError("invalid-parameter", "the index belongs to another database");
  }
  setLocalIndex(args.index);
  if (args.holdMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, args.holdMs);
  return db.pool.procNumber;
}

/** The pooler's cost alone: no transaction, nothing read. */
export function noop(): number {
  return 0;
}

/** Where a lookup found the row: the visible version, and the index entry that led to it. */
interface Found {
  tid: TID;
  row: Row;
  /** The packed root TID the lookup started from. */
  root: number;
}

/** The index fetch of one entry: the version of the HOT chain at `word` that the snapshot sees. */
function fetchEntry(
  tx: DatabaseTransaction,
  rel: TableRelation,
  snapshot: Snapshot,
  slot: TupleTableSlot,
  word: number,
  aid: number,
): boolean {
  if (word === 0) return false;
  // The recheck: after VACUUM a dead root's line pointer may hold another row.
  return (
    tableIndexFetchTuple(rel, unpackTid(word), snapshot, tx.xact, slot) && slot.values[0] === aid
  );
}

/**
 * One statement `SELECT * FROM accounts WHERE aid = :aid` through the index: the row version
 * the statement's snapshot sees, and where it is.
 */
function lookup(db: Database, tx: DatabaseTransaction, index: AccountsIndex, aid: number): Found {
  const rel = db.table("accounts");
  const snapshot = tx.xact.beginStatement();
  const slot = makeSlot();
  const current = index.current(aid);
  if (fetchEntry(tx, rel, snapshot, slot, current, aid)) {
    return { tid: slot.tid!, row: slot.values, root: current };
  }
  // An older entry may point past the table's end once VACUUM has truncated it.
  const previous = index.previous(aid);
  if (
    previous !== current &&
    previous !== 0 &&
    unpackTid(previous).block < db.nblocks("accounts") &&
    fetchEntry(tx, rel, snapshot, slot, previous, aid)
  ) {
    return { tid: slot.tid!, row: slot.values, root: previous };
  }
  // Neither entry leads to a version this snapshot sees: scan, and repair the index. The repaired
  // entry may point at a heap-only version; pgsim's HOT search can start there until pruning
  // frees it, and then the next lookup falls back again.
  Atomics.add(index.words, FALLBACK_SCANS, 1);
  const hit = tx.scan("accounts").find((r) => r.row[0] === aid);
  if (hit === undefined) throw new PgsimError("no-account", `no account with aid ${aid}`);
  const repaired = packTid(hit.tid);
  index.insert(aid, repaired, current);
  return { tid: hit.tid, row: hit.row, root: repaired };
}

/**
 * pgbench -S: SELECT abalance FROM accounts WHERE aid = :aid, in a transaction of its own.
 * Returns the balance. Given a list of aids, the transaction runs one such SELECT per aid (a
 * pgbench script of several `\set aid random(…)` + SELECT lines) and returns the balances' sum.
 */
export function readOnly(db: Database, aids: number | readonly number[]): number {
  const index = indexOf(db);
  const tx = db.begin();
  try {
    let balance = 0;
    if (typeof aids === "number") balance = lookup(db, tx, index, aids).row[1] as number;
    else for (const aid of aids) balance += lookup(db, tx, index, aid).row[1] as number;
    tx.commit();
    return balance;
  } catch (e) {
    tx.abort();
    throw e;
  }
}

/**
 * The scaled-down TPC-B-like transaction (see the header): update an account's balance by
 * `delta`, read it back, insert a history row. Returns the new balance.
 */
export function readWrite(db: Database, args: readonly [aid: number, delta: number]): number {
  const [aid, delta] = args;
  const index = indexOf(db);
  const tx = db.begin();
  try {
    // UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid. The version the index
    // scan found may be replaced before the UPDATE statement's own snapshot (READ COMMITTED):
    // then the UPDATE sees no row at that TID, and the client's statement looks again.
    let updated: TID | undefined;
    for (let attempt = 0; updated === undefined; attempt++) {
      if (attempt === UPDATE_ATTEMPTS_MAX) {
        throw new PgsimError("serialization-failure", `account ${aid} kept changing`);
      }
      const found = lookup(db, tx, index, aid);
      // WHERE ctid = :tid AND aid = :aid: once the version is pruned, its line pointer may
      // hold another account's version.
      updated = tx.update(
        "accounts",
        found.tid,
        (row) => [row[0] ?? null, (row[1] as number) + delta, row[2] ?? null],
        { where: (row) => row[0] === aid },
      );
    }
    // A new version on the page of its chain's root is a HOT update: the index is unchanged.
    // Elsewhere, it is a non-HOT update and gets an index entry. `current` is re-read: if the
    // UPDATE followed a concurrent non-HOT update (EvalPlanQual), that writer, which committed
    // before this one could lock the row, already moved `current` to its new root.
    const root = index.current(aid);
    if (unpackTid(root).block !== updated.block) index.insert(aid, packTid(updated), root);
    // SELECT abalance FROM accounts WHERE aid = :aid
    const balance = lookup(db, tx, index, aid).row[1] as number;
    // INSERT INTO history (aid, delta, mtime) VALUES (:aid, :delta, CURRENT_TIMESTAMP)
    const mtime = BigInt(Date.now() - PG_EPOCH_UNIX_MS) * 1000n;
    tx.insert("history", [aid, delta, mtime]);
    tx.commit();
    return balance;
  } catch (e) {
    tx.abort();
    throw e;
  }
}
