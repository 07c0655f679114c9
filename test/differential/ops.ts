/**
 * The operations of a differential sequence, and the concrete statements they resolve to.
 *
 * Models: nothing in PostgreSQL (pgsim only). An `Op` is what the generator records and the
 * shrinker removes: it names rows by a logical row id (the row an insert created), so that it
 * still means something after earlier operations were removed. Before it runs, the model
 * (model.ts) resolves it against the current state into zero or more `Stmt`s, each with a
 * concrete ctid, or drops it when it would block or no longer makes sense.
 * Entry points: `Op`, `Stmt`, `stmtSql`, `opLabel`.
 * See also: model.ts, generate.ts, pg-side.ts, pgsim-side.ts.
 */

import type { RowLockMode } from "@pgsim/heap-am";
import { copyField, sqlLiteral, type TableSpec, type Value } from "./schema.js";

export type Session = 0 | 1;
export type Isolation = "read committed" | "repeatable read";

export interface Tid {
  readonly block: number;
  readonly offset: number;
}

/** A row named by its logical id, or a literal ctid (stale, or outside the table). */
export type RowRef = { readonly row: number } | { readonly ctid: Tid };

export interface VacuumOptionsSpec {
  readonly freeze: boolean;
  readonly disablePageSkipping: boolean;
  readonly indexCleanup: "auto" | "on" | "off";
  readonly truncate: boolean;
}

export type Op =
  | { readonly kind: "begin"; readonly s: Session; readonly iso: Isolation }
  | { readonly kind: "commit" | "rollback"; readonly s: Session }
  | {
      readonly kind: "insert" | "copy";
      readonly s: Session;
      readonly table: string;
      readonly rows: readonly { readonly id: number; readonly values: readonly Value[] }[];
    }
  | {
      readonly kind: "update";
      readonly s: Session;
      readonly table: string;
      readonly ref: RowRef;
      /** New values by column index. */
      readonly set: readonly (readonly [number, Value])[];
    }
  | {
      readonly kind: "delete" | "fetch";
      readonly s: Session;
      readonly table: string;
      readonly ref: RowRef;
    }
  | {
      readonly kind: "lock";
      readonly s: Session;
      readonly table: string;
      readonly ref: RowRef;
      readonly mode: RowLockMode;
    }
  | {
      readonly kind: "deleteTail";
      readonly s: Session;
      readonly table: string;
      readonly blocks: number;
    }
  | { readonly kind: "scan"; readonly s: Session; readonly table: string }
  | {
      readonly kind: "vacuum";
      readonly s: Session;
      readonly table: string;
      readonly options: VacuumOptionsSpec;
    };

/** One statement, ready to run on both systems. */
export type Stmt =
  | { readonly kind: "begin"; readonly s: Session; readonly iso: Isolation }
  | { readonly kind: "commit" | "rollback"; readonly s: Session }
  | {
      readonly kind: "insert" | "copy";
      readonly s: Session;
      readonly table: TableSpec;
      readonly rows: readonly (readonly Value[])[];
      readonly autocommit: boolean;
    }
  | {
      readonly kind: "update";
      readonly s: Session;
      readonly table: TableSpec;
      readonly tid: Tid;
      readonly set: readonly (readonly [number, Value])[];
      readonly autocommit: boolean;
    }
  | {
      readonly kind: "delete" | "fetch";
      readonly s: Session;
      readonly table: TableSpec;
      readonly tid: Tid;
      readonly autocommit: boolean;
    }
  | {
      readonly kind: "lock";
      readonly s: Session;
      readonly table: TableSpec;
      readonly tid: Tid;
      readonly mode: RowLockMode;
      readonly autocommit: boolean;
    }
  | {
      readonly kind: "scan";
      readonly s: Session;
      readonly table: TableSpec;
      readonly autocommit: boolean;
    }
  | {
      readonly kind: "vacuum";
      readonly s: Session;
      readonly table: TableSpec;
      readonly options: VacuumOptionsSpec;
    };

export function tidText(tid: Tid): string {
  return `(${tid.block},${tid.offset})`;
}

const LOCK_SQL: Record<RowLockMode, string> = {
  update: "FOR UPDATE",
  "no key update": "FOR NO KEY UPDATE",
  share: "FOR SHARE",
  "key share": "FOR KEY SHARE",
};

/**
 * The statement as SQL for PostgreSQL. `copyFile` is where a COPY's rows are (the server reads
 * it); with `forDisplay` a COPY is printed as `COPY … FROM stdin` with its rows, as psql takes it.
 */
export function stmtSql(
  stmt: Stmt,
  options: { copyFile?: string; forDisplay?: boolean } = {},
): string {
  switch (stmt.kind) {
    case "begin":
      return `BEGIN ISOLATION LEVEL ${stmt.iso.toUpperCase()}`;
    case "commit":
      return "COMMIT";
    case "rollback":
      return "ROLLBACK";
    case "insert": {
      const t = stmt.table;
      const rows = stmt.rows.map(
        (r) => `(${r.map((v, i) => sqlLiteral(v, t.columns[i]!.type)).join(", ")})`,
      );
      return `INSERT INTO ${t.name} VALUES ${rows.join(", ")} RETURNING ctid`;
    }
    case "copy": {
      if (options.forDisplay === true) {
        const lines = stmt.rows.map((r) => r.map(copyField).join("\t"));
        return `COPY ${stmt.table.name} FROM stdin;\n${lines.join("\n")}\n\\.`;
      }
      return `COPY ${stmt.table.name} FROM '${options.copyFile ?? "/dev/null"}'`;
    }
    case "update": {
      const t = stmt.table;
      const sets = stmt.set.map(
        ([i, v]) => `${t.columns[i]!.name} = ${sqlLiteral(v, t.columns[i]!.type)}`,
      );
      return `UPDATE ${t.name} SET ${sets.join(", ")} WHERE ctid = '${tidText(stmt.tid)}' RETURNING ctid`;
    }
    case "delete":
      return `DELETE FROM ${stmt.table.name} WHERE ctid = '${tidText(stmt.tid)}' RETURNING ctid`;
    case "fetch":
      return `SELECT ctid, * FROM ${stmt.table.name} WHERE ctid = '${tidText(stmt.tid)}'`;
    case "lock":
      return `SELECT ctid FROM ${stmt.table.name} WHERE ctid = '${tidText(stmt.tid)}' ${LOCK_SQL[stmt.mode]}`;
    case "scan":
      return `SELECT ctid, * FROM ${stmt.table.name}`;
    case "vacuum": {
      const o = stmt.options;
      const parts = [
        `FREEZE ${o.freeze}`,
        `DISABLE_PAGE_SKIPPING ${o.disablePageSkipping}`,
        `INDEX_CLEANUP ${o.indexCleanup}`,
        `TRUNCATE ${o.truncate}`,
      ];
      return `VACUUM (${parts.join(", ")}) ${stmt.table.name}`;
    }
  }
}

/** A short description of an operation, for reports. */
export function opLabel(op: Op): string {
  const ref = (r: RowRef) => ("row" in r ? `row ${r.row}` : `ctid ${tidText(r.ctid)}`);
  switch (op.kind) {
    case "begin":
      return `s${op.s} begin ${op.iso}`;
    case "commit":
    case "rollback":
      return `s${op.s} ${op.kind}`;
    case "insert":
    case "copy":
      return `s${op.s} ${op.kind} ${op.rows.length} into ${op.table}`;
    case "update":
    case "delete":
    case "fetch":
      return `s${op.s} ${op.kind} ${op.table} ${ref(op.ref)}`;
    case "lock":
      return `s${op.s} lock ${op.mode} ${op.table} ${ref(op.ref)}`;
    case "deleteTail":
      return `s${op.s} delete the last ${op.blocks} blocks of ${op.table}`;
    case "scan":
      return `s${op.s} scan ${op.table}`;
    case "vacuum":
      return `s${op.s} vacuum ${op.table} ${JSON.stringify(op.options)}`;
  }
}
