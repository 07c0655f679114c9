/**
 * The pgsim side of a differential run: a Database (disk-backed `heap` or memory-only `memheap`)
 * with two backends, one per session, running the same statements as PostgreSQL through the
 * `Database` API, and the raw pages of each table's forks read through the buffer pool.
 *
 * Models: nothing in PostgreSQL (pgsim only): a driver.
 * Entry points: `PgsimSide` (`setup`, `run`, `pages`, `close`).
 * See also: pg-side.ts (the same interface on PostgreSQL), runner.ts.
 *
 * Row statements pass NOWAIT: a valid sequence never blocks, and one that pgsim thinks would
 * block then shows up as a difference ("could not obtain lock") instead of a hang.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ForkNumber } from "@pgsim/buffer-manager";
import { Database, type DatabaseTransaction, PgsimError, type Row } from "@pgsim/heap-am";
import type { Session, Stmt, Tid } from "./ops.js";
import { type Outcome, sqlstateOf, type TablePages } from "./outcome.js";
import { outputText, type TableSpec, toDatum } from "./schema.js";

export type PgsimVariant = "disk" | "memory";

export class PgsimSide {
  readonly variant: PgsimVariant;
  private db: [Database, Database] | undefined;
  private readonly tx: [DatabaseTransaction | undefined, DatabaseTransaction | undefined] = [
    undefined,
    undefined,
  ];
  private dataDir: string | undefined;

  constructor(variant: PgsimVariant) {
    this.variant = variant;
  }

  /** A fresh database with the run's tables. */
  setup(tables: readonly TableSpec[]): void {
    this.close();
    if (this.variant === "disk") {
      this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-difftest-"));
    }
    const first = Database.create({
      variant: this.variant,
      bufferCount: 2048,
      ...(this.dataDir !== undefined ? { dataDir: this.dataDir } : {}),
    });
    this.db = [first, first.attachAnother()];
    for (const t of tables) {
      first.createTable(
        t.name,
        t.columns.map((c) => ({ name: c.name, type: c.type, notNull: c.notNull })),
        { fillfactor: t.fillfactor, indexedColumns: [...t.indexed] },
      );
    }
  }

  /** The two backends (sessions A and B) of the current run. */
  backends(): readonly Database[] {
    if (this.db === undefined) throw new Error("PgsimSide.setup was not called");
    return this.db;
  }

  private backend(s: Session): Database {
    if (this.db === undefined) throw new Error("PgsimSide.setup was not called");
    return this.db[s];
  }

  /** Runs one statement on its session's backend. */
  run(stmt: Stmt): Outcome {
    const db = this.backend(stmt.s);
    switch (stmt.kind) {
      case "begin":
        this.tx[stmt.s] = db.begin({ isolation: stmt.iso });
        return { rowCount: 0, ctids: [], xid: undefined };
      case "commit":
      case "rollback": {
        const tx = this.tx[stmt.s];
        this.tx[stmt.s] = undefined;
        if (tx === undefined) throw new Error(`session ${stmt.s} has no transaction`);
        try {
          if (stmt.kind === "commit") tx.commit();
          else tx.abort();
        } catch (e) {
          return failure(e);
        }
        return { rowCount: 0, ctids: [], xid: undefined };
      }
      case "vacuum":
        try {
          db.vacuum(stmt.table.name, stmt.options);
        } catch (e) {
          return failure(e);
        }
        return { rowCount: 0, ctids: [], xid: undefined };
      default:
        break;
    }
    const tx = this.tx[stmt.s] ?? db.begin();
    const table = stmt.table.name;
    let outcome: Outcome;
    try {
      outcome = this.runRowStatement(tx, stmt, table);
    } catch (e) {
      outcome = failure(e);
    }
    if (this.tx[stmt.s] === undefined && tx.state === "in progress") tx.commit();
    return outcome;
  }

  private runRowStatement(tx: DatabaseTransaction, stmt: Stmt, table: string): Outcome {
    const done = (rowCount: number, ctids: readonly Tid[] | undefined, extra = {}): Outcome => ({
      rowCount,
      ctids,
      ...extra,
      xid: tx.xid,
    });
    switch (stmt.kind) {
      case "insert": {
        const tids = tx.insertRows(
          table,
          stmt.rows.map((r) => r.map(toDatum)),
        );
        return done(tids.length, tids);
      }
      case "copy": {
        const tids = tx.insertMany(
          table,
          stmt.rows.map((r) => r.map(toDatum)),
        );
        return done(tids.length, tids);
      }
      case "update": {
        const set = stmt.set;
        const tid = tx.update(
          table,
          stmt.tid,
          (row) => {
            const next = [...row];
            for (const [i, v] of set) next[i] = toDatum(v);
            return next;
          },
          { nowait: true },
        );
        return tid === undefined ? done(0, []) : done(1, [tid]);
      }
      case "delete":
        return tx.delete(table, stmt.tid, { nowait: true }) ? done(1, [stmt.tid]) : done(0, []);
      case "lock":
        return tx.lockRow(table, stmt.tid, { mode: stmt.mode, nowait: true })
          ? done(1, [stmt.tid])
          : done(0, []);
      case "fetch": {
        const row = tx.fetch(table, stmt.tid);
        const rows = row === undefined ? [] : [textRow(stmt.tid, row)];
        return done(rows.length, row === undefined ? [] : [stmt.tid], { rows });
      }
      case "scan": {
        const found = tx.scan(table);
        return done(
          found.length,
          found.map((r) => r.tid),
          { rows: found.map((r) => textRow(r.tid, r.row)) },
        );
      }
      default:
        throw new Error(`not a row statement: ${stmt.kind}`);
    }
  }

  /** The pages of a table's three forks, read through the buffer pool under share locks. */
  pages(table: string): TablePages {
    const db = this.backend(0);
    const rel = db.table(table);
    const fork = (forkNumber: number): Uint8Array[] => {
      if (!db.pool.relationExists(rel.locator, forkNumber)) return [];
      const n = db.pool.nblocks(rel.locator, forkNumber);
      const out: Uint8Array[] = [];
      for (let b = 0; b < n; b++) {
        const buf = db.pool.readBuffer(rel.locator, forkNumber, b);
        db.pool.lockBuffer(buf, "share");
        out.push(db.pool.bufferGetPage(buf).slice());
        db.pool.unlockReleaseBuffer(buf);
      }
      return out;
    };
    return {
      main: fork(ForkNumber.MAIN),
      fsm: fork(ForkNumber.FSM),
      vm: fork(ForkNumber.VISIBILITYMAP),
    };
  }

  /** Closes both backends and removes the data directory. */
  close(): void {
    this.tx[0] = undefined;
    this.tx[1] = undefined;
    if (this.db !== undefined) {
      this.db[1].close();
      this.db[0].close();
      this.db = undefined;
    }
    if (this.dataDir !== undefined) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
      this.dataDir = undefined;
    }
  }
}

function textRow(tid: Tid, row: Row): (string | null)[] {
  return [`(${tid.block},${tid.offset})`, ...row.map(outputText)];
}

function failure(e: unknown): Outcome {
  if (!(e instanceof PgsimError)) throw e;
  return {
    error: sqlstateOf(e.code),
    message: e.message,
    rowCount: 0,
    ctids: [],
    xid: undefined,
  };
}
