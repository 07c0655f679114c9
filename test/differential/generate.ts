/**
 * Generates the next operation of a differential sequence from a seed, looking at the model so
 * that the operation is valid: it names a row the session can see and change without blocking,
 * commits only an open transaction, vacuums only outside one.
 *
 * Models: nothing in PostgreSQL (pgsim only).
 * Entry points: `Generator` (`tables`, `next`), `randomTables`.
 * See also: model.ts (what is valid), runner.ts (runs what this generates), ops.ts.
 *
 * What a sequence covers: single-row and multi-row INSERT, COPY (heap_multi_insert), UPDATE by
 * ctid of indexed and non-indexed columns (HOT and not, same page and another), DELETE by ctid,
 * each row-lock mode and a lock followed by an update of the same row, fetch by ctid, stale and
 * out-of-range ctids, BEGIN in READ COMMITTED and REPEATABLE READ, COMMIT, ROLLBACK, autocommit
 * statements, a second session interleaved, sequential scans (which prune), VACUUM with FREEZE,
 * DISABLE_PAGE_SKIPPING, INDEX_CLEANUP and TRUNCATE, and deletes of the last blocks followed by
 * a VACUUM that truncates.
 */

import type { RowLockMode } from "@pgsim/heap-am";
import type { Model } from "./model.js";
import type { Op, RowRef, Session, VacuumOptionsSpec } from "./ops.js";
import { Rng } from "./random.js";
import {
  MAX_ROW_TEXT,
  randomRow,
  randomTable,
  randomValue,
  type TableSpec,
  type Value,
} from "./schema.js";

/** One or two random tables for a seed. */
export function randomTables(rng: Rng): TableSpec[] {
  const tables = [randomTable(rng, "t1")];
  if (rng.chance(0.4)) tables.push(randomTable(rng, "t2"));
  return tables;
}

/** Text an update through a literal ctid may write into one column. */
const STALE_TEXT_ROOM = 40;

const LOCK_MODES: readonly RowLockMode[] = ["update", "no key update", "share", "key share"];

type Choice =
  | "begin"
  | "commit"
  | "rollback"
  | "insert"
  | "copy"
  | "update"
  | "delete"
  | "lock"
  | "fetch"
  | "stale"
  | "scan"
  | "vacuum"
  | "deleteTail";

export class Generator {
  readonly seed: number;
  readonly tables: readonly TableSpec[];
  private readonly rng: Rng;
  private nextRowId = 1;
  /** A row just locked, which the same session may update next (lock-then-update). */
  private lockedRow: { s: Session; table: string; row: number } | undefined;

  constructor(seed: number) {
    this.seed = seed;
    this.rng = new Rng(seed);
    this.tables = randomTables(this.rng);
  }

  /** The next operation, chosen against the model's current state. */
  next(model: Model): Op {
    const rng = this.rng;
    const locked = this.lockedRow;
    this.lockedRow = undefined;
    if (locked !== undefined && rng.chance(0.7)) {
      const op = this.update(model, locked.s, this.table(locked.table), { row: locked.row });
      if (op !== undefined) return op;
    }
    const s: Session = rng.chance(0.65) ? 0 : 1;
    const open = model.openTx(s);
    if (open?.state === "failed") return { kind: "rollback", s };
    const table = rng.pick(this.tables);
    const inTx = open !== undefined;
    const choice = rng.weighted<Choice>({
      begin: inTx ? 0 : 12,
      commit: inTx ? 10 : 0,
      rollback: inTx ? 4 : 0,
      insert: 14,
      copy: 4,
      update: 20,
      delete: 8,
      lock: 7,
      fetch: 3,
      stale: 2,
      scan: 5,
      vacuum: inTx ? 0 : 7,
      deleteTail: 2,
    });
    switch (choice) {
      case "begin":
        return {
          kind: "begin",
          s,
          iso: rng.chance(0.6) ? "read committed" : "repeatable read",
        };
      case "commit":
      case "rollback":
        return { kind: choice, s };
      case "insert":
        return this.insert(s, table, "insert", rng.chance(0.7) ? 1 : rng.int(2, 5));
      case "copy": {
        const n = rng.chance(0.15) ? rng.int(100, 400) : rng.int(1, 40);
        return this.insert(s, table, "copy", n);
      }
      case "update":
      case "delete":
      case "lock":
      case "fetch": {
        const rows = model.candidates(table.name, s);
        if (rows.length === 0) return this.insert(s, table, "insert", 1);
        const ref = { row: rng.pick(rows).id };
        if (choice === "update")
          return this.update(model, s, table, ref) ?? { kind: "scan", s, table: table.name };
        if (choice === "lock") {
          const mode = rng.pick(LOCK_MODES);
          this.lockedRow = { s, table: table.name, row: ref.row };
          return { kind: "lock", s, table: table.name, ref, mode };
        }
        return { kind: choice, s, table: table.name, ref };
      }
      case "stale": {
        const n = model.nblocks.get(table.name) ?? 0;
        const ref: RowRef = {
          ctid: {
            block: rng.int(0, n + 1),
            offset: rng.chance(0.5) ? rng.int(1, 20) : rng.int(1, 300),
          },
        };
        const kind = rng.pick(["update", "delete", "lock", "fetch"] as const);
        if (kind === "update") {
          return this.update(model, s, table, ref) ?? { kind: "fetch", s, table: table.name, ref };
        }
        if (kind === "lock") return { kind, s, table: table.name, ref, mode: rng.pick(LOCK_MODES) };
        return { kind, s, table: table.name, ref };
      }
      case "scan":
        return { kind: "scan", s, table: table.name };
      case "vacuum":
        return { kind: "vacuum", s, table: table.name, options: this.vacuumOptions() };
      case "deleteTail":
        return { kind: "deleteTail", s, table: table.name, blocks: rng.int(1, 3) };
    }
  }

  private table(name: string): TableSpec {
    return this.tables.find((t) => t.name === name)!;
  }

  private insert(s: Session, table: TableSpec, kind: "insert" | "copy", n: number): Op {
    const rows = Array.from({ length: n }, () => {
      const id = this.nextRowId++;
      return { id, values: randomRow(this.rng, table, id) };
    });
    return { kind, s, table: table.name, rows };
  }

  private update(model: Model, s: Session, table: TableSpec, ref: RowRef): Op | undefined {
    const rng = this.rng;
    const known = "row" in ref ? model.currentValues(ref.row, s) : undefined;
    const next: Value[] = [...(known ?? table.columns.map(() => null))];
    const n = table.columns.length;
    const count = n === 1 ? 1 : rng.int(1, 2);
    const set: [number, Value][] = [];
    for (let k = 0; k < count; k++) {
      const i = n === 1 || rng.chance(0.15) ? 0 : rng.int(1, n - 1);
      if (set.some(([j]) => j === i)) continue;
      const col = table.columns[i]!;
      let value: Value;
      if (known !== undefined && rng.chance(0.1)) {
        // SET c = its current value: bytewise equal, so an update of an indexed column stays HOT.
        value = known[i] ?? null;
      } else if (i === 0) {
        value = col.type === "int8" ? BigInt(rng.int(1, 1e6)) : rng.int(1, 1e6);
      } else {
        const others = next.reduce<number>(
          (sum, v, j) => sum + (j !== i && typeof v === "string" ? v.length : 0),
          0,
        );
        // A literal ctid may hold any row (up to MAX_ROW_TEXT already): keep its text short, so
        // the row stays under TOAST_TUPLE_THRESHOLD whichever it is.
        const room = known === undefined ? STALE_TEXT_ROOM : MAX_ROW_TEXT - others;
        value = randomValue(rng, col, Math.max(0, room));
      }
      next[i] = value;
      set.push([i, value]);
    }
    return { kind: "update", s, table: table.name, ref, set };
  }

  private vacuumOptions(): VacuumOptionsSpec {
    const rng = this.rng;
    return {
      freeze: rng.chance(0.3),
      disablePageSkipping: rng.chance(0.2),
      indexCleanup: rng.weighted({ auto: 6, on: 2, off: 2 }),
      truncate: rng.chance(0.85),
    };
  }
}
