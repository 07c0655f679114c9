/**
 * Runs a sequence on PostgreSQL and on pgsim (both variants) in lockstep and compares after every
 * statement; shrinks a sequence that differs to a minimal one and prints it as SQL.
 *
 * Models: nothing in PostgreSQL (pgsim only): the differential tester's driver.
 * Entry points: `DiffEnv` (`start`, `stop`), `runSeed`, `replay`, `shrink`, `formatFailure`.
 * See also: generate.ts, model.ts, pg-side.ts, pgsim-side.ts, compare.ts, README.md.
 *
 * After each statement the two outcomes are compared (error, rows affected, ctids, rows
 * returned, whether the transaction has an xid), then every block of the statement's table:
 * page header, line pointers, tuple headers and data, FSM and VM pages. Transaction ids are
 * mapped: each transaction of the sequence gets a label, and an xid on a page must name the same
 * label on both sides.
 */

import { type PgCluster, startPgCluster } from "@pgsim/bench";
import { compareOutcomes, comparePages, XidMap } from "./compare.js";
import { Generator } from "./generate.js";
import { Model } from "./model.js";
import { type Op, type Session, type Stmt, stmtSql } from "./ops.js";
import type { Outcome } from "./outcome.js";
import { PgSide } from "./pg-side.js";
import { PgsimSide, type PgsimVariant } from "./pgsim-side.js";
import { createTableSql, type TableSpec } from "./schema.js";

/** Options of `DiffEnv.start`. */
export interface DiffEnvOptions {
  /** Server settings added to (or replacing) the defaults: autovacuum, fsync, full_page_writes off. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** A private PostgreSQL 15 cluster with its sessions, and pgsim of each variant. */
export class DiffEnv {
  readonly cluster: PgCluster;
  readonly pg: PgSide;
  readonly sims: readonly PgsimSide[];
  /**
   * Called once per run after both sides created the tables and before the first statement
   * (e.g. to take a checkpoint or turn pgsim's WAL on).
   */
  afterSetup: ((tables: readonly TableSpec[]) => Promise<void>) | undefined;

  private constructor(cluster: PgCluster, pg: PgSide, sims: PgsimSide[]) {
    this.cluster = cluster;
    this.pg = pg;
    this.sims = sims;
  }

  static async start(
    variants: readonly PgsimVariant[] = ["disk", "memory"],
    options: DiffEnvOptions = {},
  ): Promise<DiffEnv> {
    const cluster = await startPgCluster({
      dataChecksums: false,
      settings: { autovacuum: "off", fsync: "off", full_page_writes: "off", ...options.settings },
    });
    try {
      const pg = await PgSide.connect(cluster);
      return new DiffEnv(
        cluster,
        pg,
        variants.map((v) => new PgsimSide(v)),
      );
    } catch (e) {
      await cluster.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    for (const s of this.sims) s.close();
    await this.pg.close();
    await this.cluster.stop();
  }
}

/** Where and how a sequence first differed. */
export interface Divergence {
  /** Index of the operation (in the sequence run) and what it was. */
  readonly opIndex: number;
  readonly op: Op;
  readonly stmt: Stmt;
  readonly differences: readonly string[];
}

export interface RunResult {
  readonly seed: number;
  readonly tables: readonly TableSpec[];
  /** The operations run (for a generated sequence: as generated). */
  readonly ops: readonly Op[];
  /** The statements run on PostgreSQL, with their session, as SQL. */
  readonly sql: readonly string[];
  readonly statements: number;
  readonly divergence?: Divergence;
}

type OpSource =
  | { readonly list: readonly Op[] }
  | { readonly generator: Generator; readonly count: number };

/** Most differences reported per statement. */
const MAX_REPORTED = 12;

/** Runs a sequence in lockstep; stops at the first statement that differs. */
async function run(
  env: DiffEnv,
  seed: number,
  tables: readonly TableSpec[],
  source: OpSource,
): Promise<RunResult> {
  await env.pg.setup(tables);
  for (const sim of env.sims) sim.setup(tables);
  if (env.afterSetup !== undefined) await env.afterSetup(tables);
  const model = new Model(tables);
  const xids = new XidMap();
  const ops: Op[] = [];
  const sql: string[] = [];
  let statements = 0;
  let label = 0;
  const sessionLabel: [string | undefined, string | undefined] = [undefined, undefined];
  const total = "list" in source ? source.list.length : source.count;
  for (let i = 0; i < total; i++) {
    let op: Op | undefined;
    let stmts: Stmt[] = [];
    if ("list" in source) {
      op = source.list[i]!;
      stmts = model.resolve(op);
    } else {
      for (let attempt = 0; attempt < 20 && stmts.length === 0; attempt++) {
        op = source.generator.next(model);
        stmts = model.resolve(op);
      }
    }
    if (op === undefined || stmts.length === 0) continue;
    ops.push(op);
    const newRowIds = op.kind === "insert" || op.kind === "copy" ? op.rows.map((r) => r.id) : [];
    for (const stmt of stmts) {
      statements++;
      const s = stmt.s as Session;
      if (stmt.kind === "begin") sessionLabel[s] = `T${++label}`;
      const txLabel = stmt.kind === "vacuum" ? undefined : (sessionLabel[s] ?? `T${++label}`);
      const text = stmtSql(stmt, { forDisplay: true });
      const session = `-- session ${s === 0 ? "A" : "B"}${txLabel ? ` (${txLabel})` : ""}`;
      sql.push(`${session}\n${text}${stmt.kind === "copy" ? "" : ";"}`);
      const pgOut = await env.pg.run(stmt);
      const simOuts = env.sims.map((sim) => sim.run(stmt));
      const differences: string[] = [];
      for (const [k, simOut] of simOuts.entries()) {
        if (txLabel !== undefined && pgOut.xid !== undefined && simOut.xid !== undefined) {
          xids.record(`${txLabel}`, pgOut.xid, simOut.xid);
        }
        const tag = env.sims[k]!.variant === "disk" ? "heap" : "memheap";
        differences.push(...compareOutcomes(pgOut, simOut).map((d) => `[${tag}] ${d}`));
      }
      if (stmt.kind === "commit" || stmt.kind === "rollback") sessionLabel[s] = undefined;
      model.applyStmt(stmt, effectOf(pgOut, simOuts[0]), newRowIds);
      if ("table" in stmt) {
        const pgPages = await env.pg.pages(stmt.table.name);
        model.nblocks.set(stmt.table.name, pgPages.main.length);
        for (const sim of env.sims) {
          const tag = sim.variant === "disk" ? "heap" : "memheap";
          const diffs = comparePages(stmt.table.name, pgPages, sim.pages(stmt.table.name), xids);
          differences.push(...diffs.map((d) => `[${tag}] ${d}`));
        }
      }
      if (differences.length > 0) {
        return {
          seed,
          tables,
          ops,
          sql,
          statements,
          divergence: {
            opIndex: ops.length - 1,
            op,
            stmt,
            differences: differences.slice(0, MAX_REPORTED),
          },
        };
      }
    }
  }
  return { seed, tables, ops, sql, statements };
}

function effectOf(pgOut: Outcome, simOut: Outcome | undefined) {
  return {
    ...(pgOut.error !== undefined ? { error: pgOut.error } : {}),
    rowCount: pgOut.rowCount,
    ctids: pgOut.ctids ?? simOut?.ctids ?? [],
  };
}

/** Generates and runs the sequence of a seed. */
export async function runSeed(env: DiffEnv, seed: number, count: number): Promise<RunResult> {
  const generator = new Generator(seed);
  return run(env, seed, generator.tables, { generator, count });
}

/** Runs a recorded sequence again. */
export async function replay(
  env: DiffEnv,
  seed: number,
  tables: readonly TableSpec[],
  ops: readonly Op[],
): Promise<RunResult> {
  return run(env, seed, tables, { list: ops });
}

/**
 * Shrinks a sequence that differs: removes chunks of operations (halves, quarters, … single
 * operations) and rows of multi-row inserts while the result still differs. Returns the smallest
 * failing run found. `budget` bounds the number of replays.
 */
export async function shrink(env: DiffEnv, failing: RunResult, budget = 400): Promise<RunResult> {
  let best = failing;
  let runs = 0;
  const tryOps = async (ops: readonly Op[]): Promise<boolean> => {
    if (runs >= budget) return false;
    runs++;
    const r = await replay(env, best.seed, best.tables, ops);
    if (r.divergence === undefined) return false;
    best = r;
    return true;
  };
  // Everything after the divergence is irrelevant.
  let ops = best.ops.slice(0, best.divergence!.opIndex + 1);
  if (await tryOps(ops)) ops = [...best.ops];
  for (
    let chunk = Math.max(1, Math.floor(ops.length / 2));
    chunk >= 1;
    chunk = Math.floor(chunk / 2)
  ) {
    let start = 0;
    while (start < ops.length && runs < budget) {
      const candidate = [...ops.slice(0, start), ...ops.slice(start + chunk)];
      if (candidate.length > 0 && (await tryOps(candidate))) {
        ops = [...best.ops];
      } else {
        start += chunk;
      }
    }
    if (chunk === 1) break;
  }
  // Fewer rows in multi-row inserts and COPYs.
  for (let i = 0; i < ops.length && runs < budget; i++) {
    const op = ops[i]!;
    if ((op.kind !== "insert" && op.kind !== "copy") || op.rows.length < 2) continue;
    let rows = op.rows;
    for (
      let keep = Math.floor(rows.length / 2);
      keep >= 1 && runs < budget;
      keep = Math.floor(keep / 2)
    ) {
      for (const part of [rows.slice(0, keep), rows.slice(rows.length - keep)]) {
        const candidate = [...ops];
        candidate[i] = { ...op, rows: part };
        if (await tryOps(candidate)) {
          ops = [...best.ops];
          rows = part;
          break;
        }
      }
      if (rows.length <= keep) continue;
      break;
    }
  }
  return best;
}

/** A failing run as a report: the differences and the SQL that reproduces them. */
export function formatFailure(result: RunResult): string {
  const d = result.divergence;
  if (d === undefined) return `seed ${result.seed}: no difference`;
  const lines = [
    `seed ${result.seed}: PostgreSQL and pgsim differ after statement ${result.statements}:`,
    ...d.differences.map((x) => `  ${x}`),
    "",
    "-- reproduction (psql; two sessions A and B, run in this order):",
    "SET enable_seqscan = off; SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;",
    ...result.tables.map((t) => createTableSql(t)),
    ...result.sql,
  ];
  return lines.join("\n");
}
