/**
 * The PostgreSQL side of a differential run: two sessions kept open at once (so transactions
 * interleave) and a third connection that creates the tables and reads raw pages, over the `pg`
 * client, on a private PostgreSQL 15 cluster (startPgCluster from @pgsim/bench).
 *
 * Models: nothing in PostgreSQL (pgsim only): a driver.
 * Entry points: `PgSide` (`connect`, `setup`, `run`, `pages`, `close`), `PG_SESSION_SETTINGS`.
 * See also: pgsim-side.ts (the same interface on pgsim), runner.ts.
 *
 * The sessions disable sequential, index and bitmap scans, so `WHERE ctid = …` is a TID scan
 * (heap_fetch of one tuple, as pgsim's fetch by TID): on a one-page table a sequential scan is
 * cheaper and would set hint bits on every tuple of the page. A scan statement turns sequential
 * scans on for itself. After each statement the session asks txid_current_if_assigned() in the
 * same simple-query message, so an autocommit statement stays one (implicit) transaction.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { PgCluster } from "@pgsim/bench";
import pg from "pg";
import { type Session, type Stmt, stmtSql, tidText } from "./ops.js";
import { type Outcome, parseTid, type TablePages } from "./outcome.js";
import { copyField, createTableSql, type TableSpec } from "./schema.js";

/** Session settings of the two sessions (PGOPTIONS-style). */
export const PG_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  enable_seqscan: "off",
  enable_indexscan: "off",
  enable_indexonlyscan: "off",
  enable_bitmapscan: "off",
  max_parallel_workers_per_gather: "0",
  jit: "off",
  // A safety net: a valid sequence never waits for a row lock.
  lock_timeout: "5s",
  statement_timeout: "60s",
};

const options = Object.entries(PG_SESSION_SETTINGS)
  .map(([k, v]) => `-c ${k}=${v}`)
  .join(" ");

interface PgError {
  code?: string;
  message: string;
}

export class PgSide {
  private readonly cluster: PgCluster;
  private readonly sessions: [pg.Client, pg.Client];
  private readonly inspect: pg.Client;
  private copyCount = 0;

  private constructor(cluster: PgCluster, sessions: [pg.Client, pg.Client], inspect: pg.Client) {
    this.cluster = cluster;
    this.sessions = sessions;
    this.inspect = inspect;
  }

  /** Opens the two sessions and the inspection connection; loads pageinspect. */
  static async connect(cluster: PgCluster): Promise<PgSide> {
    const make = (opts: string) =>
      new pg.Client({
        host: "127.0.0.1",
        port: cluster.port,
        user: "postgres",
        database: "postgres",
        options: opts,
        // Every value as PostgreSQL's text output (no conversion to JS types).
        types: { getTypeParser: () => (value: string) => value },
      });
    const clients = [make(options), make(options), make("")] as const;
    for (const c of clients) await c.connect();
    await clients[2].query("CREATE EXTENSION IF NOT EXISTS pageinspect");
    return new PgSide(cluster, [clients[0], clients[1]], clients[2]);
  }

  /** Ends any open transaction and (re)creates the tables of a run. */
  async setup(tables: readonly TableSpec[]): Promise<void> {
    for (const s of this.sessions) await s.query("ROLLBACK");
    await this.inspect.query("DROP TABLE IF EXISTS t1, t2");
    for (const t of tables) await this.inspect.query(createTableSql(t));
  }

  /** Runs one statement on its session. */
  async run(stmt: Stmt): Promise<Outcome> {
    const client = this.sessions[stmt.s as Session];
    try {
      switch (stmt.kind) {
        case "begin":
        case "commit":
        case "rollback":
          await client.query(stmtSql(stmt));
          return { rowCount: 0, ctids: [], xid: undefined };
        case "vacuum":
          await client.query(stmtSql(stmt));
          return { rowCount: 0, ctids: [], xid: undefined };
        case "copy": {
          const file = path.join(this.cluster.baseDir, `copy-${++this.copyCount}.txt`);
          const text = stmt.rows.map((r) => `${r.map(copyField).join("\t")}\n`).join("");
          fs.writeFileSync(file, text, { mode: 0o644 });
          try {
            const results = (await client.query(
              `${stmtSql(stmt, { copyFile: file })}; SELECT txid_current_if_assigned() AS x`,
            )) as unknown as pg.QueryResult[];
            return {
              rowCount: results[0]!.rowCount ?? 0,
              ctids: undefined,
              xid: xidOf(results[1]!),
            };
          } finally {
            fs.rmSync(file, { force: true });
          }
        }
        default: {
          const sql = stmtSql(stmt);
          const text =
            stmt.kind === "scan"
              ? `SET enable_seqscan = on; ${sql}; SELECT txid_current_if_assigned() AS x; SET enable_seqscan = off`
              : `${sql}; SELECT txid_current_if_assigned() AS x`;
          const results = (await client.query({
            text,
            rowMode: "array",
          })) as unknown as pg.QueryResult<unknown[]>[];
          const main = stmt.kind === "scan" ? results[1]! : results[0]!;
          const xres = stmt.kind === "scan" ? results[2]! : results[1]!;
          const rows = main.rows.map((r) => r.map((v) => (v === null ? null : String(v))));
          const ctids = rows.map((r) => parseTid(r[0]!));
          const selects = stmt.kind === "fetch" || stmt.kind === "scan";
          return {
            rowCount: stmt.kind === "lock" || selects ? rows.length : (main.rowCount ?? 0),
            ctids,
            ...(selects ? { rows } : {}),
            xid: Number((xres.rows[0] as unknown[])[0] ?? 0) % 2 ** 32,
          };
        }
      }
    } catch (e) {
      const err = e as PgError;
      if (err.code === undefined) throw e;
      return { error: err.code, message: err.message, rowCount: 0, ctids: [], xid: undefined };
    }
  }

  /** The raw pages of a table's main fork, FSM and VM (from shared buffers, by get_raw_page). */
  async pages(table: string): Promise<TablePages> {
    const res = await this.inspect.query<{ f: string; b: string; p: string }>(
      `SELECT f, b, get_raw_page($1::text, f, b) AS p
         FROM unnest(ARRAY['main', 'fsm', 'vm']) AS f,
              LATERAL generate_series(0, (pg_relation_size($1::regclass, f) / 8192)::int - 1) AS b
        ORDER BY f, b`,
      [table],
    );
    const out: { main: Uint8Array[]; fsm: Uint8Array[]; vm: Uint8Array[] } = {
      main: [],
      fsm: [],
      vm: [],
    };
    for (const r of res.rows) {
      out[r.f as keyof TablePages].push(new Uint8Array(Buffer.from(String(r.p).slice(2), "hex")));
    }
    return out;
  }

  /** The plan PostgreSQL chooses for a statement on a ctid (a check that it is a TID scan). */
  async explainTidStatement(
    table: string,
    tid: { block: number; offset: number },
  ): Promise<string> {
    const res = await this.sessions[0].query({
      text: `EXPLAIN (COSTS OFF) UPDATE ${table} SET id = id WHERE ctid = '${tidText(tid)}'`,
      rowMode: "array",
    });
    return res.rows.map((r) => String((r as unknown[])[0])).join("\n");
  }

  async close(): Promise<void> {
    for (const c of [...this.sessions, this.inspect]) await c.end().catch(() => undefined);
  }
}

function xidOf(res: pg.QueryResult): number {
  const v = (res.rows[0] as { x: string | null } | undefined)?.x ?? null;
  return v === null ? 0 : Number(v) % 2 ** 32;
}
