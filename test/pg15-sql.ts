/**
 * One SQL session on a private PostgreSQL 15 for the byte-for-byte B-tree tests, and the helpers
 * they share to compare pgsim's pages with PostgreSQL's.
 *
 * Models: nothing in PostgreSQL (pgsim only): a test driver.
 * Entry points: `Pg15Sql` (`start`, `q`, `newSession`, `stopServer`, `startServer`, `stop`),
 * `PG15_TEXT_SETTINGS`, `simForkPages`, `simIndexPages`, `firstPageDifference`.
 * See also: pg15-peer.ts (`startPg15`, the cluster itself, from packages/bench's pg-cluster.ts),
 * packages/heap-am/test/wal-support.ts (`forkPages`).
 *
 * The cluster is started with `startPg15`, so a test using it fails loudly, never skips, when
 * PostgreSQL 15 is missing. One `pg` connection serves every query (a psql process per query
 * would dominate the tests' time); every value comes back as PostgreSQL's text output.
 */

import type { PgCluster, PgClusterOptions } from "@pgsim/bench";
import { ForkNumber, type RelFileLocator } from "@pgsim/buffer-manager";
import type { Database } from "@pgsim/heap-am";
import pg from "pg";
import { forkPages } from "../packages/heap-am/test/wal-support.js";
import { startPg15 } from "./pg15-peer.js";

/** Output settings under which PostgreSQL's text is what pgsim's input functions read. */
export const PG15_TEXT_SETTINGS: Readonly<Record<string, string>> = {
  DateStyle: "ISO, MDY",
  TimeZone: "UTC",
  IntervalStyle: "postgres",
};

/** Options of `Pg15Sql`. */
export interface Pg15SqlOptions {
  /** Options of the private cluster (`startPg15`). */
  readonly cluster?: PgClusterOptions;
  /** Session settings beyond `PG15_TEXT_SETTINGS`, SET after every connect. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Extensions created once the cluster runs, e.g. `["pageinspect", "amcheck"]`. */
  readonly extensions?: readonly string[];
}

/** A private PostgreSQL 15 and one session on it; create at module level, `start` in beforeAll. */
export class Pg15Sql {
  private readonly options: Pg15SqlOptions;
  private started: PgCluster | undefined;
  private session: pg.Client | undefined;

  constructor(options: Pg15SqlOptions = {}) {
    this.options = options;
  }

  /** Starts the cluster, connects and creates the extensions. */
  async start(): Promise<void> {
    this.started = await startPg15(this.options.cluster);
    await this.connect();
    for (const e of this.options.extensions ?? []) await this.q(`CREATE EXTENSION ${e}`);
  }

  /** The running cluster, or the error that it did not start. */
  get cluster(): PgCluster {
    if (this.started === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
    return this.started;
  }

  /** The session's connection (e.g. to listen for notices). */
  get client(): pg.Client {
    if (this.session === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
    return this.session;
  }

  /** Runs SQL in the session; rows as arrays of text (null for NULL). */
  async q(sql: string): Promise<(string | null)[][]> {
    const r = await this.client.query({ text: sql, rowMode: "array" });
    return (r.rows ?? []) as (string | null)[][];
  }

  /** Ends the session and stops the server, keeping its files (so they can be replaced). */
  async stopServer(): Promise<void> {
    await this.client.end();
    this.session = undefined;
    await this.cluster.stopServer("fast");
  }

  /** Starts the server again after `stopServer` and opens a new session. */
  async startServer(): Promise<void> {
    await this.cluster.startServer();
    await this.connect();
  }

  /** Ends the session and removes the cluster; safe when `start` failed. */
  async stop(): Promise<void> {
    await this.session?.end().catch(() => undefined);
    this.session = undefined;
    await this.started?.stop();
  }

  /**
   * Another session on the same cluster, with the same settings (values as text); the caller ends
   * it. For tests that need concurrent transactions.
   */
  async newSession(): Promise<pg.Client> {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: this.cluster.port,
      user: "postgres",
      database: "postgres",
      types: { getTypeParser: () => (value: string) => value },
    });
    await client.connect();
    const settings = { ...PG15_TEXT_SETTINGS, ...this.options.settings };
    for (const [k, v] of Object.entries(settings)) await client.query(`SET ${k} = '${v}'`);
    return client;
  }

  private async connect(): Promise<void> {
    this.session = await this.newSession();
  }
}

/** Every page of one fork of a pgsim relation, as its pool has it now (copies). */
export function simForkPages(db: Database, locator: RelFileLocator, fork: number): Uint8Array[] {
  return forkPages(db.pool, locator, fork);
}

/** Every page of a pgsim index's main fork (copies). */
export function simIndexPages(db: Database, index: string): Uint8Array[] {
  return simForkPages(db, db.index(index).locator, ForkNumber.MAIN);
}

/**
 * The first differing byte of two pages, pd_lsn (bytes 0..7) masked and also any byte in the
 * half-open `masked` ranges; -1 when equal.
 */
export function firstPageDifference(
  a: Uint8Array,
  b: Uint8Array,
  masked: readonly (readonly [number, number])[] = [],
): number {
  const n = Math.min(a.length, b.length);
  for (let i = 8; i < n; i++) {
    if (masked.some(([from, to]) => i >= from && i < to)) continue;
    if (a[i] !== b[i]) return i;
  }
  return a.length === b.length ? -1 : n;
}
