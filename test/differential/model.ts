/**
 * A model of what two sessions see: the logical rows, their versions (with the ctids the run
 * reported), which transaction created, updated, deleted or locked each version, and each
 * transaction's snapshot. It turns an `Op` into concrete statements and decides which operations
 * are valid: nothing may block (the sessions run in lockstep in one thread) and no row may get a
 * second locker (PostgreSQL would make a MultiXactId; pgsim has none).
 *
 * Models: nothing in PostgreSQL (pgsim only): a small MVCC oracle for generating valid
 * sequences. It does not predict pages; the systems under test are compared with each other.
 * Entry points: `Model` (`resolve`, `applyStmt`, `candidates`, `openTx`).
 * See also: ops.ts, generate.ts, runner.ts.
 *
 * Rules it encodes:
 * 1. A snapshot is a commit counter: READ COMMITTED takes one per statement, REPEATABLE READ at
 *    its first statement.
 * 2. A version is visible when its creator is this transaction or committed in the snapshot,
 *    and its updater/deleter is neither (a lock does not hide it).
 * 3. A statement on a version whose xmax is another running transaction would block: it is
 *    dropped. On a version another transaction updated or deleted and committed after our
 *    REPEATABLE READ snapshot, both systems fail with a serialization error — except FOR KEY
 *    SHARE, which PostgreSQL grants next to a key-preserving update (a MultiXactId): dropped.
 * 4. A VACUUM that might truncate while the other session's open transaction has used the table
 *    runs with TRUNCATE false: PostgreSQL would wait 5 s for the AccessExclusiveLock and give up,
 *    pgsim takes no heavyweight locks.
 */

import type { RowLockMode } from "@pgsim/heap-am";
import type { Isolation, Op, RowRef, Session, Stmt, Tid } from "./ops.js";
import type { TableSpec, Value } from "./schema.js";

export interface ModelTx {
  readonly label: number;
  readonly session: Session;
  readonly iso: Isolation;
  readonly explicit: boolean;
  state: "running" | "failed" | "committed" | "aborted";
  snapshot: number | undefined;
  commitSeq: number | undefined;
  readonly touched: Set<string>;
}

interface Xmax {
  readonly tx: ModelTx;
  readonly kind: "update" | "delete" | "lock";
  readonly mode?: RowLockMode;
}

export interface Version {
  readonly row: LogicalRow;
  readonly values: readonly Value[];
  readonly xmin: ModelTx;
  xmax: Xmax | undefined;
  readonly ctid: Tid;
}

export interface LogicalRow {
  readonly id: number;
  readonly table: string;
  readonly versions: Version[];
}

/** How a row statement will go: on nothing, fine, or with a serialization failure. */
export type TargetStatus = "none" | "ok" | "conflict" | "blocked";

export interface Target {
  readonly tid: Tid;
  readonly version: Version | undefined;
  readonly status: TargetStatus;
}

/** What a statement did, as the run reports it (PostgreSQL's answer, equal to pgsim's). */
export interface StmtEffect {
  /** The error's SQLSTATE, if the statement failed. */
  readonly error?: string;
  /** Rows affected or returned. */
  readonly rowCount: number;
  /** Ctids of inserted rows / the new version of an updated row. */
  readonly ctids: readonly Tid[];
}

const key = (tid: Tid) => `${tid.block},${tid.offset}`;

const LOCK_STRENGTH: Record<RowLockMode, number> = {
  "key share": 0,
  share: 1,
  "no key update": 2,
  update: 3,
};

export class Model {
  readonly tables: Map<string, TableSpec>;
  readonly rows = new Map<number, LogicalRow>();
  private readonly ctidMaps = new Map<string, Map<string, Version>>();
  /** Blocks of each table's main fork, as last observed. */
  readonly nblocks = new Map<string, number>();
  private readonly open: [ModelTx | undefined, ModelTx | undefined] = [undefined, undefined];
  private commitCounter = 0;
  private txCounter = 0;

  constructor(tables: readonly TableSpec[]) {
    this.tables = new Map(tables.map((t) => [t.name, t]));
    for (const t of tables) {
      this.ctidMaps.set(t.name, new Map());
      this.nblocks.set(t.name, 0);
    }
  }

  /** The open (explicit) transaction of a session, if any. */
  openTx(s: Session): ModelTx | undefined {
    return this.open[s];
  }

  /** A transaction; `peek` makes a throwaway one (for asking what a statement would see). */
  private newTx(s: Session, iso: Isolation, explicit: boolean, peek = false): ModelTx {
    return {
      label: peek ? 0 : ++this.txCounter,
      session: s,
      iso,
      explicit,
      state: "running",
      snapshot: undefined,
      commitSeq: undefined,
      touched: new Set(),
    };
  }

  private committedIn(tx: ModelTx, snap: number): boolean {
    return tx.state === "committed" && tx.commitSeq! <= snap;
  }

  private visible(v: Version, tx: ModelTx, snap: number): boolean {
    if (v.xmin !== tx && !this.committedIn(v.xmin, snap)) return false;
    const x = v.xmax;
    if (x !== undefined && x.kind !== "lock" && (x.tx === tx || this.committedIn(x.tx, snap))) {
      return false;
    }
    return true;
  }

  /** The snapshot a statement of `tx` would use now (without taking it). */
  private peekSnapshot(tx: ModelTx): number {
    return tx.iso === "repeatable read" && tx.snapshot !== undefined
      ? tx.snapshot
      : this.commitCounter;
  }

  /** The version of a logical row `tx` sees, if any. */
  visibleVersion(row: LogicalRow, tx: ModelTx, snap: number): Version | undefined {
    return row.versions.find((v) => this.visible(v, tx, snap));
  }

  /** What a row statement of `tx` on `ref` would hit. */
  target(table: string, ref: RowRef, tx: ModelTx): Target | undefined {
    const snap = this.peekSnapshot(tx);
    let tid: Tid;
    if ("row" in ref) {
      const row = this.rows.get(ref.row);
      if (row === undefined || row.table !== table) return undefined;
      tid = (this.visibleVersion(row, tx, snap) ?? row.versions[row.versions.length - 1]!).ctid;
    } else {
      tid = ref.ctid;
    }
    const version = this.ctidMaps.get(table)!.get(key(tid));
    if (version === undefined || !this.visible(version, tx, snap)) {
      return { tid, version: undefined, status: "none" };
    }
    const x = version.xmax;
    if (x !== undefined && x.tx !== tx) {
      if (x.tx.state === "running") return { tid, version, status: "blocked" };
      if (x.tx.state === "committed" && x.kind !== "lock") {
        return { tid, version, status: "conflict" };
      }
    }
    return { tid, version, status: "ok" };
  }

  /** Logical rows of a table that `s` could update, delete or lock now without blocking. */
  candidates(table: string, s: Session): LogicalRow[] {
    const tx = this.open[s] ?? this.newTx(s, "read committed", false, true);
    const out: LogicalRow[] = [];
    for (const row of this.rows.values()) {
      if (row.table !== table) continue;
      const t = this.target(table, { row: row.id }, tx);
      if (t !== undefined && (t.status === "ok" || t.status === "conflict")) out.push(row);
    }
    return out;
  }

  /** The current values of a logical row as `s` sees it. */
  currentValues(rowId: number, s: Session): readonly Value[] | undefined {
    const row = this.rows.get(rowId);
    if (row === undefined) return undefined;
    const tx = this.open[s] ?? this.newTx(s, "read committed", false, true);
    return this.visibleVersion(row, tx, this.peekSnapshot(tx))?.values;
  }

  /**
   * Resolves an operation into statements, or [] when it cannot run now (it would block, or
   * names what no longer exists, or a transaction command without/with an open transaction).
   */
  resolve(op: Op): Stmt[] {
    const open = this.open[op.s];
    const autocommit = open === undefined;
    if (open !== undefined && open.state === "failed" && op.kind !== "rollback") return [];
    const table = "table" in op ? this.tables.get(op.table) : undefined;
    if ("table" in op && table === undefined) return [];
    const tx = open ?? this.newTx(op.s, "read committed", false, true);
    switch (op.kind) {
      case "begin":
        return open === undefined ? [{ kind: "begin", s: op.s, iso: op.iso }] : [];
      case "commit":
      case "rollback":
        return open === undefined ? [] : [{ kind: op.kind, s: op.s }];
      case "insert":
      case "copy": {
        if (op.rows.some((r) => this.rows.has(r.id))) return [];
        return [
          { kind: op.kind, s: op.s, table: table!, rows: op.rows.map((r) => r.values), autocommit },
        ];
      }
      case "update":
      case "delete":
      case "fetch":
      case "lock": {
        const t = this.target(op.table, op.ref, tx);
        if (t === undefined || t.status === "blocked") return [];
        // FOR KEY SHARE on a version a committed transaction updated after our snapshot:
        // PostgreSQL lets the lock share the row with the updater (a MultiXactId) when the key
        // did not change; pgsim has no multixacts.
        if (op.kind === "lock" && op.mode === "key share" && t.status === "conflict") return [];
        if (op.kind === "update") {
          return [{ kind: "update", s: op.s, table: table!, tid: t.tid, set: op.set, autocommit }];
        }
        if (op.kind === "lock") {
          return [{ kind: "lock", s: op.s, table: table!, tid: t.tid, mode: op.mode, autocommit }];
        }
        return [{ kind: op.kind, s: op.s, table: table!, tid: t.tid, autocommit }];
      }
      case "deleteTail": {
        const n = this.nblocks.get(op.table) ?? 0;
        const snap = this.peekSnapshot(tx);
        const tids: Tid[] = [];
        for (const v of this.ctidMaps.get(op.table)!.values()) {
          if (v.ctid.block < n - op.blocks || !this.visible(v, tx, snap)) continue;
          const t = this.target(op.table, { ctid: v.ctid }, tx);
          if (t?.status === "ok") tids.push(v.ctid);
        }
        if (tids.length === 0) return [];
        tids.sort((a, b) => a.block - b.block || a.offset - b.offset);
        const deletes: Stmt[] = tids.map((tid) => ({
          kind: "delete",
          s: op.s,
          table: table!,
          tid,
          autocommit: false,
        }));
        return autocommit
          ? [
              { kind: "begin", s: op.s, iso: "read committed" },
              ...deletes,
              { kind: "commit", s: op.s },
            ]
          : deletes;
      }
      case "scan":
        return [{ kind: "scan", s: op.s, table: table!, autocommit }];
      case "vacuum": {
        if (open !== undefined) return [];
        const other = this.open[op.s === 0 ? 1 : 0];
        const options = other?.touched.has(op.table)
          ? { ...op.options, truncate: false }
          : op.options;
        return [{ kind: "vacuum", s: op.s, table: table!, options }];
      }
    }
  }

  /**
   * Records what a statement did. Call it for every statement `resolve` returned, in order, after
   * it ran (the statements of one op see each other's effects).
   */
  applyStmt(stmt: Stmt, effect: StmtEffect, newRowIds: readonly number[] = []): void {
    switch (stmt.kind) {
      case "begin":
        this.open[stmt.s] = this.newTx(stmt.s, stmt.iso, true);
        return;
      case "commit": {
        const tx = this.open[stmt.s]!;
        this.finish(tx, tx.state === "running");
        this.open[stmt.s] = undefined;
        return;
      }
      case "rollback":
        this.finish(this.open[stmt.s]!, false);
        this.open[stmt.s] = undefined;
        return;
      case "vacuum":
        return;
      default:
        break;
    }
    const tx = this.open[stmt.s] ?? this.newTx(stmt.s, "read committed", false);
    tx.touched.add(stmt.table.name);
    if (tx.snapshot === undefined) tx.snapshot = this.commitCounter;
    if (effect.error !== undefined) {
      tx.state = "failed";
      if (!tx.explicit) this.finish(tx, false);
      return;
    }
    const table = stmt.table.name;
    const ctidMap = this.ctidMaps.get(table)!;
    switch (stmt.kind) {
      case "insert":
      case "copy":
        stmt.rows.forEach((values, i) => {
          const id = newRowIds[i];
          const ctid = effect.ctids[i];
          if (id === undefined || ctid === undefined) return;
          const row: LogicalRow = { id, table, versions: [] };
          const v: Version = { row, values, xmin: tx, xmax: undefined, ctid };
          row.versions.push(v);
          this.rows.set(id, row);
          ctidMap.set(key(ctid), v);
        });
        break;
      case "update": {
        const old = ctidMap.get(key(stmt.tid));
        const ctid = effect.ctids[0];
        if (effect.rowCount === 1 && old !== undefined && ctid !== undefined) {
          const values = [...old.values];
          for (const [i, val] of stmt.set) values[i] = val;
          old.xmax = { tx, kind: "update" };
          const v: Version = { row: old.row, values, xmin: tx, xmax: undefined, ctid };
          old.row.versions.unshift(v);
          ctidMap.set(key(ctid), v);
        }
        break;
      }
      case "delete": {
        const old = ctidMap.get(key(stmt.tid));
        if (effect.rowCount === 1 && old !== undefined) old.xmax = { tx, kind: "delete" };
        break;
      }
      case "lock": {
        const v = ctidMap.get(key(stmt.tid));
        if (effect.rowCount === 1 && v !== undefined) {
          const x = v.xmax;
          const keep =
            x !== undefined &&
            x.tx === tx &&
            (x.kind !== "lock" || LOCK_STRENGTH[x.mode!] >= LOCK_STRENGTH[stmt.mode]);
          if (!keep) v.xmax = { tx, kind: "lock", mode: stmt.mode };
        }
        break;
      }
      default:
        break;
    }
    if (!tx.explicit) this.finish(tx, true);
  }

  private finish(tx: ModelTx, commit: boolean): void {
    if (commit && tx.state === "running") {
      tx.state = "committed";
      tx.commitSeq = ++this.commitCounter;
    } else {
      tx.state = "aborted";
    }
  }
}
