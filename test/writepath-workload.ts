/**
 * The workload of the real-write-path round trip: a seeded sequence of statements through pgsim's
 * public `Database` API on one table — bulk, multi-row and single inserts, HOT and cold updates,
 * deletes, row locks, rolled-back transactions, VACUUM (plain, with a truncation, and FREEZE) and
 * more DML after each VACUUM — with a model of what the table holds, checked against pgsim's own
 * scan at the end.
 *
 * pgsim only: what a test does to produce a realistic table file (live, dead and HOT-updated
 * tuples, redirects, row locks, pages all-visible, all-frozen and neither) for PostgreSQL 15 to read.
 * Entry points: `runWritePathWorkload`, `WRITEPATH_COLUMNS`, `WRITEPATH_TABLE_SQL`, `printedRow`.
 * See also: pg15-writepath-roundtrip.test.ts (puts the files under PostgreSQL 15 and checks them).
 */

import { mulberry32 as prng } from "@pgsim/clock-sweep";
import type { Database, DatabaseTransaction, Datum, TID } from "@pgsim/heap-am";

export const WRITEPATH_TABLE = "t";

/** The table's columns, as pgsim's createTable takes them. `k` is indexed (updating it is never HOT). */
export const WRITEPATH_COLUMNS = [
  { name: "id", type: "int4", notNull: true },
  { name: "k", type: "int8", notNull: true },
  { name: "s", type: "int2" },
  { name: "flag", type: "bool" },
  { name: "note", type: "text" },
  { name: "f", type: "float8" },
] as const;

export const WRITEPATH_FILLFACTOR = 70;

/** The same table in PostgreSQL, with the index pgsim's `indexedColumns` stands for. */
export const WRITEPATH_TABLE_SQL =
  `CREATE TABLE ${WRITEPATH_TABLE} (id int4 NOT NULL, k int8 NOT NULL, s int2, flag bool, ` +
  `note text, f float8) WITH (fillfactor = ${WRITEPATH_FILLFACTOR}, autovacuum_enabled = off);` +
  `CREATE INDEX ${WRITEPATH_TABLE}_k_idx ON ${WRITEPATH_TABLE} (k);`;

type Row = (Datum | null)[];

/** What the workload did, and what the table holds at its end. */
export interface WritePathReport {
  /** Rows inserted by committed transactions, and by aborted ones. */
  insertedCommitted: number;
  insertedAborted: number;
  /** Committed updates whose new version went on the same page with HOT, another page, or the same page without HOT. */
  hotUpdates: number;
  otherPageUpdates: number;
  samePageColdUpdates: number;
  deletes: number;
  lockedRows: number;
  abortedTransactions: number;
  /** The table's size before and after the VACUUM that followed the tail delete. */
  truncation: { pagesBefore: number; pagesAfter: number };
  /** The model: every live row by id, with its TID. */
  model: Map<number, { tid: TID; row: Row }>;
}

/** The first version of row `id`: NULLs in every nullable column now and then. */
export function firstRow(id: number): Row {
  return [
    id,
    10_000_000_000n + BigInt(id),
    id % 17 === 0 ? null : id % 1000,
    id % 19 === 0 ? null : id % 3 === 0,
    id % 23 === 0 ? null : `row ${id} `.padEnd(8 + (id % 60), String.fromCharCode(97 + (id % 26))),
    id % 29 === 0 ? null : id * 0.25,
  ];
}

/** A HOT update's new values: only unindexed columns change, and the row keeps its size. */
function hotChange(row: Row): Row {
  const s = row[2] as number | null;
  return [
    row[0]!,
    row[1]!,
    s === null ? 1 : (s + 1) % 30000,
    row[3] === null ? true : !row[3],
    row[4]!,
    row[5]!,
  ];
}

/** A cold update: the indexed `k` changes; with `grow`, the note grows to 1–1.8 kB. */
function coldChange(row: Row, grow: boolean, random: () => number): Row {
  const note = grow ? "x".repeat(1000 + Math.floor(random() * 800)) : row[4]!;
  return [row[0]!, (row[1] as bigint) + 1_000_000n, row[2]!, row[3]!, note, row[5]!];
}

const LOCK_MODES = ["key share", "share", "no key update", "update"] as const;

/**
 * Runs the workload on `db` (a fresh table named `t` must not exist yet). Every statement's
 * outcome is checked as it runs (an update or delete of a live row must succeed).
 */
export function runWritePathWorkload(db: Database, seed = 2026): WritePathReport {
  const random = prng(seed);
  const table = WRITEPATH_TABLE;
  db.createTable(table, [...WRITEPATH_COLUMNS], {
    fillfactor: WRITEPATH_FILLFACTOR,
    indexedColumns: ["k"],
  });
  const model = new Map<number, { tid: TID; row: Row }>();
  /** Live ids, for picking rows at random (order does not matter). */
  const live: number[] = [];
  const livePos = new Map<number, number>();
  const report: WritePathReport = {
    insertedCommitted: 0,
    insertedAborted: 0,
    hotUpdates: 0,
    otherPageUpdates: 0,
    samePageColdUpdates: 0,
    deletes: 0,
    lockedRows: 0,
    abortedTransactions: 0,
    truncation: { pagesBefore: 0, pagesAfter: 0 },
    model,
  };
  let nextId = 0;

  const addLive = (id: number, tid: TID, row: Row) => {
    model.set(id, { tid, row });
    livePos.set(id, live.length);
    live.push(id);
  };
  const removeLive = (id: number) => {
    const pos = livePos.get(id)!;
    const last = live.pop()!;
    if (last !== id) {
      live[pos] = last;
      livePos.set(last, pos);
    }
    livePos.delete(id);
    model.delete(id);
  };
  /**
   * Rows below this id are the ones DML picks (and new rows): after VACUUM (FREEZE) the rounds
   * stay in the first part of the table, so that the rest stays all-frozen.
   */
  let idLimit = Number.POSITIVE_INFINITY;
  /** `n` distinct ids below `idLimit`, chosen at random, that are live for transaction `t`. */
  const pick = (n: number, t: TxHelper): number[] => {
    const chosen = new Set<number>();
    for (let tries = 0; chosen.size < Math.min(n, live.length) && tries < n * 100; tries++) {
      const id = live[Math.floor(random() * live.length)]!;
      if (id < idLimit && !t.deleted(id)) chosen.add(id);
    }
    return [...chosen];
  };

  /**
   * One transaction. Its changes go to an overlay of the model, applied at commit and dropped
   * at abort, so that the model is what committed.
   */
  const transaction = (commit: boolean, body: (t: TxHelper) => void) => {
    const tx = db.begin();
    const helper = new TxHelper(tx, table, model, random);
    body(helper);
    if (!commit) {
      tx.abort();
      report.abortedTransactions++;
      report.insertedAborted += helper.inserted.length;
      return;
    }
    tx.commit();
    report.insertedCommitted += helper.inserted.length;
    report.hotUpdates += helper.hotUpdates;
    report.otherPageUpdates += helper.otherPageUpdates;
    report.samePageColdUpdates += helper.samePageColdUpdates;
    report.lockedRows += helper.locked;
    for (const [id, change] of helper.changes) {
      if (change === "deleted") {
        if (model.has(id)) {
          removeLive(id);
          report.deletes++;
        }
      } else if (model.has(id)) {
        model.set(id, change);
      } else {
        addLive(id, change.tid, change.row);
      }
    }
  };

  const insertSingles = (commit: boolean, count: number) =>
    transaction(commit, (t) => {
      for (let i = 0; i < count; i++) t.insert(nextId++);
    });

  /** A round of DML: HOT and cold updates, deletes, locks, lock-then-update, and aborted work. */
  const dmlRound = (scale: number) => {
    for (let i = 0; i < 10; i++) {
      transaction(true, (t) => {
        for (const id of pick(50 * scale, t)) t.update(id, "hot");
      });
    }
    for (let i = 0; i < 5; i++) {
      transaction(true, (t) => {
        for (const id of pick(30 * scale, t)) t.update(id, random() < 0.5 ? "cold-grow" : "cold");
      });
    }
    // The same rows updated three times in one transaction: HOT chains and combo command ids.
    transaction(true, (t) => {
      for (const id of pick(10 * scale, t)) {
        t.update(id, "hot");
        t.update(id, "hot");
        t.update(id, random() < 0.3 ? "cold" : "hot");
      }
    });
    for (let i = 0; i < 5; i++) {
      transaction(true, (t) => {
        for (const id of pick(60 * scale, t)) t.delete(id);
      });
    }
    // Row locks that commit (the lock-only xmax stays on the tuple), one mode per transaction.
    for (const mode of LOCK_MODES) {
      transaction(true, (t) => {
        for (const id of pick(25 * scale, t)) t.lock(id, mode);
      });
    }
    // Lock, then update in the same transaction (heap_update's locker_remains path).
    transaction(true, (t) => {
      for (const id of pick(10 * scale, t)) {
        t.lock(id, LOCK_MODES[Math.floor(random() * 4)]!);
        t.update(id, random() < 0.5 ? "hot" : "cold");
      }
    });
    // Rolled back: inserts, updates of both kinds, deletes and locks.
    for (let i = 0; i < 3; i++) {
      transaction(false, (t) => {
        for (let j = 0; j < 5 * scale; j++) t.insert(nextId++);
        for (const id of pick(20 * scale, t)) t.update(id, random() < 0.5 ? "hot" : "cold-grow");
        for (const id of pick(10 * scale, t)) t.delete(id);
        for (const id of pick(5 * scale, t)) t.lock(id, LOCK_MODES[Math.floor(random() * 4)]!);
      });
    }
    transaction(false, (t) => {
      for (const id of pick(5 * scale, t)) t.lock(id, "update");
    });
    // Rows inserted, updated and deleted by the same transaction (xmin = xmax).
    transaction(true, (t) => {
      const first = nextId;
      for (let j = 0; j < 10 * scale; j++) t.insert(nextId++);
      for (let id = first; id < nextId; id += 2) t.update(id, id % 4 === 0 ? "hot" : "cold");
      for (let id = first; id < nextId; id += 3) t.delete(id);
    });
    // Single inserts that commit, into the space the deletes and VACUUM made.
    for (let i = 0; i < 5; i++) insertSingles(true, 20 * scale);
  };

  // 1. Load 100,000 rows: INSERT … SELECT (heap_multi_insert in batches), COPY-like multi-row
  //    inserts, multi-row INSERT … VALUES, and single-row inserts in many transactions.
  transaction(true, (t) =>
    t.insertBatches(
      50_000,
      () => nextId,
      (n) => (nextId += n),
    ),
  );
  transaction(true, (t) => {
    for (let i = 0; i < 4; i++) t.insertMany(5000, nextId, (n) => (nextId += n));
  });
  transaction(true, (t) => {
    for (let i = 0; i < 100; i++) t.insertRows(50, nextId, (n) => (nextId += n));
  });
  for (let i = 0; i < 250; i++) insertSingles(true, 100);
  // Rolled-back loads: a bulk one and single rows.
  transaction(false, (t) => {
    t.insertBatches(
      3000,
      () => nextId,
      (n) => (nextId += n),
    );
    for (let i = 0; i < 300; i++) t.insert(nextId++);
  });
  for (let i = 0; i < 5; i++) insertSingles(false, 20);

  // 2. DML, then VACUUM.
  dmlRound(6);
  db.vacuum(table);

  // 3. Delete every row on the last 120 pages, so that VACUUM truncates the table.
  const pages = db.nblocks(table);
  transaction(true, (t) => {
    for (const [id, { tid }] of model) if (tid.block >= pages - 120) t.delete(id);
  });
  const truncated = db.vacuum(table);
  report.truncation = { pagesBefore: truncated.pagesBefore, pagesAfter: truncated.pagesAfter };

  // 4. VACUUM (FREEZE): every page all-visible and all-frozen.
  db.vacuum(table, { freeze: true });

  // 5. More DML (some pages lose their VM bits), then a plain VACUUM while another backend's
  //    REPEATABLE READ transaction holds a snapshot taken before the last round: what it may
  //    still see stays (RECENTLY_DEAD), the rest is removed and pages become all-visible but not
  //    all-frozen.
  transaction(true, (t) => t.insertMany(2500, nextId, (n) => (nextId += n)));
  idLimit = 30_000;
  dmlRound(4);
  const other = db.attachAnother();
  try {
    const held = other.begin({ isolation: "repeatable read" });
    held.fetch(table, model.values().next().value!.tid);
    dmlRound(2);
    db.vacuum(table);
    held.commit();
  } finally {
    other.close();
  }
  // 6. VACUUM (INDEX_CLEANUP off) leaves LP_DEAD items; then more DML after the last VACUUM
  //    (dead tuples, pages neither all-visible nor all-frozen).
  dmlRound(2);
  db.vacuum(table, { indexCleanup: "off" });
  idLimit = 10_000;
  dmlRound(2);
  return report;
}

/** The statements of one transaction, recording their effect in an overlay of the model. */
class TxHelper {
  readonly changes = new Map<number, { tid: TID; row: Row } | "deleted">();
  readonly inserted: number[] = [];
  hotUpdates = 0;
  otherPageUpdates = 0;
  samePageColdUpdates = 0;
  locked = 0;

  constructor(
    private readonly tx: DatabaseTransaction,
    private readonly table: string,
    private readonly model: Map<number, { tid: TID; row: Row }>,
    private readonly random: () => number,
  ) {}

  /** Whether this transaction deleted row `id`. */
  deleted(id: number): boolean {
    return this.changes.get(id) === "deleted";
  }

  private current(id: number): { tid: TID; row: Row } {
    const change = this.changes.get(id);
    if (change === "deleted") throw new Error(`row ${id} was deleted in this transaction`);
    const entry = change ?? this.model.get(id);
    if (entry === undefined) throw new Error(`row ${id} is not live`);
    return entry;
  }

  insert(id: number): void {
    const row = firstRow(id);
    const tid = this.tx.insert(this.table, row);
    this.changes.set(id, { tid, row });
    this.inserted.push(id);
  }

  /** INSERT INTO t SELECT … of `n` rows (insertBatches), ids from `firstId()`. */
  insertBatches(n: number, firstId: () => number, advance: (n: number) => void): void {
    const first = firstId();
    this.tx.insertBatches(this.table, n, (from, count) =>
      Array.from({ length: count }, (_, i) => firstRow(first + from + i)),
    );
    advance(n);
    // insertBatches returns no TIDs: the rows are found by a scan of this transaction.
    const ids = new Set(Array.from({ length: n }, (_, i) => first + i));
    for (const { tid, row } of this.tx.scan(this.table)) {
      const id = row[0] as number;
      if (ids.has(id)) this.changes.set(id, { tid, row });
    }
    this.inserted.push(...ids);
  }

  /** A multi-row insert through heap_multi_insert (insertMany, COPY-like). */
  insertMany(n: number, first: number, advance: (n: number) => void): void {
    this.multi(n, first, advance, (rows) => this.tx.insertMany(this.table, rows));
  }

  /** INSERT … VALUES (…), (…) (insertRows: heap_insert per row). */
  insertRows(n: number, first: number, advance: (n: number) => void): void {
    this.multi(n, first, advance, (rows) => this.tx.insertRows(this.table, rows));
  }

  private multi(
    n: number,
    first: number,
    advance: (n: number) => void,
    run: (rows: Row[]) => TID[],
  ): void {
    const rows = Array.from({ length: n }, (_, i) => firstRow(first + i));
    const tids = run(rows);
    advance(n);
    rows.forEach((row, i) => {
      this.changes.set(first + i, { tid: tids[i]!, row });
      this.inserted.push(first + i);
    });
  }

  update(id: number, kind: "hot" | "cold" | "cold-grow"): void {
    const { tid, row } = this.current(id);
    const newRow =
      kind === "hot" ? hotChange(row) : coldChange(row, kind === "cold-grow", this.random);
    const newTid = this.tx.update(this.table, tid, newRow);
    if (newTid === undefined)
      throw new Error(`update of row ${id} at (${tid.block},${tid.offset}) found no row`);
    this.changes.set(id, { tid: newTid, row: newRow });
    if (newTid.block !== tid.block) this.otherPageUpdates++;
    else if (kind === "hot") this.hotUpdates++;
    else this.samePageColdUpdates++;
  }

  delete(id: number): void {
    const { tid } = this.current(id);
    if (!this.tx.delete(this.table, tid)) {
      throw new Error(`delete of row ${id} at (${tid.block},${tid.offset}) found no row`);
    }
    this.changes.set(id, "deleted");
  }

  lock(id: number, mode: (typeof LOCK_MODES)[number]): void {
    const { tid } = this.current(id);
    if (!this.tx.lockRow(this.table, tid, { mode })) {
      throw new Error(`lock of row ${id} at (${tid.block},${tid.offset}) found no row`);
    }
    this.locked++;
  }
}
