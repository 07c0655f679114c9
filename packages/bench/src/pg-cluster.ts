/**
 * A private, throwaway PostgreSQL 15 cluster: the live oracle for pgsim's on-disk format and the
 * benchmark's PostgreSQL peer.
 *
 * Does: initdb into a fresh temporary directory (data checksums on, trust authentication, UTF8,
 * locale C), starts the server on 127.0.0.1 and a free port with its Unix socket inside that
 * directory, runs SQL through psql, and stops the server and removes the directory when done,
 * also when the process exits or is interrupted. When running as root, initdb, pg_ctl and the
 * server run as the `postgres` OS user (PostgreSQL refuses to run as root).
 * Entry points: `startPgCluster(options)` → `PgCluster` (`psql`, `psqlSync`, `query`,
 * `timedStatement`, `relationFilePath`, `stopServer`, `startServer`, `stop`); `PG15_BIN_DIR`,
 * `installedPgBinDir`, `findFreePort`, `parseCopyText`, `parsePsqlTiming`.
 * See also: ../../../test/pg15-roundtrip.test.ts (writes pgsim's pages into the cluster),
 * ../../heap-am/test/pglite-pages.test.ts (the in-process oracle), ../README.md.
 *
 * Lifetime rules:
 * 1. `startPgCluster` either returns a running cluster or throws after removing everything it
 *    created; its error says what failed and includes the tail of the server log.
 * 2. `stop()` is idempotent and always safe: it stops the server (immediate mode: the directory
 *    is thrown away, so a shutdown checkpoint would be wasted work) and removes the directory.
 * 3. Every live cluster is also stopped and removed from a process `exit` handler and on
 *    SIGINT / SIGTERM / SIGHUP (the signal is then re-raised, so the process still ends as the
 *    signal intends). A SIGKILL cannot be caught: then the server keeps running until someone runs
 *    `pg_ctl -D <dataDir> stop`; the directory name starts with `pgsim-pg15-`.
 *
 * Models: pgsim only (a private PostgreSQL 15 cluster: initdb, pg_ctl, psql).
 */

import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { PgsimError } from "@pgsim/clock-sweep";

const execFileAsync = promisify(execFile);

/** Where Debian's postgresql-15 package puts the server binaries. */
export const PG15_BIN_DIR = "/usr/lib/postgresql/15/bin";

/** How to get PostgreSQL 15, for error messages. */
const INSTALL_HINT =
  "Install it with `apt-get install postgresql-15` (Debian 12 / Ubuntu with the PGDG repository; " +
  "contrib modules such as amcheck and pageinspect are part of that package), or point " +
  "PGSIM_PG_BIN_DIR / the binDir option at a directory holding initdb, pg_ctl and psql.";

/** Options of `startPgCluster`. */
export interface PgClusterOptions {
  /**
   * Directory of initdb, pg_ctl, postgres and psql. Default: env PGSIM_PG_BIN_DIR, else
   * /usr/lib/postgresql/15/bin.
   */
  readonly binDir?: string;
  /** The major version the server must report (checked after start). Default 15. */
  readonly majorVersion?: number;
  /** OS user that runs the server when this process is root. Default "postgres". */
  readonly osUser?: string;
  /** initdb --data-checksums. Default true. */
  readonly dataChecksums?: boolean;
  /**
   * Extra server settings (`-c name=value`), e.g. `{ autovacuum: "off", fsync: "off" }`.
   * listen_addresses, port and unix_socket_directories are always set by the harness.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** Seconds pg_ctl waits for start and stop. Default 60. */
  readonly timeoutSeconds?: number;
}

/** Options of one psql call. */
export interface PsqlOptions {
  /** Database to connect to. Default "postgres". */
  readonly database?: string;
  /**
   * Session settings sent at connection start (PGOPTIONS), e.g.
   * `{ DateStyle: "ISO, MDY", TimeZone: "UTC", extra_float_digits: "1" }`.
   */
  readonly settings?: Readonly<Record<string, string>>;
}

/** A running private cluster. */
export interface PgCluster {
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** The data directory (inside `baseDir`). */
  readonly dataDir: string;
  /** The temporary directory holding the data directory, the socket and the server log. */
  readonly baseDir: string;
  /** The server binaries used. */
  readonly binDir: string;
  /** The server log file. */
  readonly logFile: string;
  /**
   * Runs SQL (one or more statements) with `psql -X -A -t -q -v ON_ERROR_STOP=1` and returns
   * stdout: unaligned rows, fields separated by `|`. Rejects with psql's stderr on any error.
   */
  psql(sql: string, options?: PsqlOptions): Promise<string>;
  /** `psql`, synchronously (for callers outside async code). */
  psqlSync(sql: string, options?: PsqlOptions): string;
  /**
   * Runs one SELECT (or VALUES, TABLE ...) and returns its rows exactly: every value is
   * PostgreSQL's text output, a NULL is `null`. Runs `COPY (sql) TO STDOUT`, so `sql` must be a
   * single query; a trailing semicolon is dropped.
   */
  query(sql: string, options?: PsqlOptions): Promise<(string | null)[][]>;
  /**
   * Runs one statement after psql's `\timing on` and resolves with the milliseconds psql reports
   * for it: the round trip the client sees (send, parse, plan, execute, result back), without
   * the connection set-up. The statement must be a single one, with no psql meta-commands.
   */
  timedStatement(sql: string, options?: PsqlOptions): Promise<number>;
  /** The absolute path of a relation's main fork file (`pg_relation_filepath`). */
  relationFilePath(relation: string, options?: PsqlOptions): Promise<string>;
  /** Stops the server, keeping the data directory (so its files can be replaced). */
  stopServer(mode?: "smart" | "fast" | "immediate"): Promise<void>;
  /** Starts the server again on the same port after `stopServer`. */
  startServer(): Promise<void>;
  /** True while the server runs (as far as this harness knows). */
  readonly running: boolean;
  /** Stops the server (immediate) and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Cleanup of live clusters at process exit

/** Clusters not yet stopped; their synchronous cleanup runs at exit or on a signal. */
const liveClusters = new Map<string, () => void>();
const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
let handlersInstalled = false;

function cleanupAll(): void {
  for (const cleanup of [...liveClusters.values()]) cleanup();
  liveClusters.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanupAll();
  uninstallHandlers();
  // Re-raise, so the process ends as it would have without our handler.
  process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", cleanupAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off("exit", cleanupAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen({ host: "127.0.0.1", port: 0 }, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no port assigned"))));
    });
  });
}

/** Quotes a value for the shell command line pg_ctl builds from `-o`. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** PGOPTIONS text for session settings: `-c name=value`, spaces and backslashes escaped. */
function pgOptions(settings: Readonly<Record<string, string>>): string {
  return Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value.replace(/[\\ ]/g, (c) => `\\${c}`)}`)
    .join(" ");
}

function lookupOsUser(user: string): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new PgsimError(
      "postgres-not-installed",
      `this process runs as root, and PostgreSQL's server refuses to run as root, but there is ` +
        `no OS user "${user}" to run it as. ${INSTALL_HINT} (the package creates that user)`,
      { osUser: user },
    );
  }
}

function tailOfFile(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no server log)";
  }
}

const COPY_ESCAPES: Readonly<Record<string, string>> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/**
 * The milliseconds of the last `Time: 12.345 ms` line psql's `\timing` printed (a long one reads
 * `Time: 61234.567 ms (01:01.235)`), or undefined when there is none.
 */
export function parsePsqlTiming(output: string): number | undefined {
  const times = [...output.matchAll(/^Time: ([0-9]+(?:\.[0-9]+)?) ms\b/gm)];
  const last = times.at(-1);
  return last === undefined ? undefined : Number(last[1]);
}

/**
 * The directory of PostgreSQL's server binaries that startPgCluster would use (`binDir`, else
 * env PGSIM_PG_BIN_DIR, else /usr/lib/postgresql/15/bin), when initdb, pg_ctl, postgres and psql
 * are all there; undefined when PostgreSQL is not installed.
 */
export function installedPgBinDir(binDir?: string): string | undefined {
  const dir = binDir ?? process.env.PGSIM_PG_BIN_DIR ?? PG15_BIN_DIR;
  const tools = ["initdb", "pg_ctl", "postgres", "psql"];
  return tools.every((t) => fs.existsSync(path.join(dir, t))) ? dir : undefined;
}

/**
 * Parses `COPY ... TO STDOUT` text format: rows end in a newline, fields are separated by tabs,
 * `\N` is NULL, and the server escapes a backslash as `\\` and control characters as `\b`, `\f`,
 * `\n`, `\r`, `\t`, `\v` (it never writes the octal or hex forms that COPY FROM also reads).
 * Exact for every value, unlike psql's aligned or CSV output, where '' and NULL look alike.
 */
export function parseCopyText(text: string): (string | null)[][] {
  if (text === "") return [];
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
  return lines.map((line) =>
    line.split("\t").map((field) => {
      if (field === "\\N") return null;
      return field.replace(/\\(.)/g, (_m, ch: string) => COPY_ESCAPES[ch] ?? ch);
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// The cluster

/**
 * Creates and starts a private PostgreSQL cluster. Throws a `PgsimError` with code
 * `postgres-not-installed` (saying how to install it) when the binaries are missing, and
 * `postgres-start-failed` (with the server log's tail) when initdb or the start fails.
 *
 * @example
 * ```ts
 * import { startPgCluster } from "@pgsim/bench";
 * const pg = await startPgCluster({ settings: { autovacuum: "off" } });
 * try {
 *   console.log(await pg.psql("SELECT 1 + 1")); // "2\n"
 * } finally {
 *   await pg.stop();
 * }
 * ```
 */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const binDir = options.binDir ?? process.env.PGSIM_PG_BIN_DIR ?? PG15_BIN_DIR;
  const majorVersion = options.majorVersion ?? 15;
  const timeoutSeconds = options.timeoutSeconds ?? 60;
  const bin = (name: string) => path.join(binDir, name);
  for (const tool of ["initdb", "pg_ctl", "postgres", "psql"]) {
    if (!fs.existsSync(bin(tool))) {
      throw new PgsimError(
        "postgres-not-installed",
        `PostgreSQL ${majorVersion} is not installed: ${bin(tool)} does not exist. ${INSTALL_HINT}`,
        { binDir, missing: tool },
      );
    }
  }

  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const osUser = options.osUser ?? "postgres";
  const owner = isRoot ? lookupOsUser(osUser) : undefined;

  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-pg15-"));
  const dataDir = path.join(baseDir, "data");
  const logFile = path.join(baseDir, "server.log");
  let port = 0;
  let running = false;
  let removed = false;

  // Server-side programs run as the owner of the data directory; psql is a plain client.
  const asServerUser = (file: string, args: string[]): [string, string[]] =>
    isRoot ? ["runuser", ["-u", osUser, "--", file, ...args]] : [file, args];
  const serverEnv = { ...process.env, LC_ALL: "C", LANG: "C" };

  const pgCtlArgs = (action: string, extra: string[] = []) => [
    action,
    "-D",
    dataDir,
    "-w",
    "-t",
    String(timeoutSeconds),
    ...extra,
  ];

  /** Synchronous immediate stop and removal, for the exit handler and failed starts. */
  const cleanupSync = () => {
    if (removed) return;
    removed = true;
    liveClusters.delete(baseDir);
    if (liveClusters.size === 0) uninstallHandlers();
    if (fs.existsSync(path.join(dataDir, "postmaster.pid"))) {
      const [file, args] = asServerUser(bin("pg_ctl"), pgCtlArgs("stop", ["-m", "immediate"]));
      try {
        execFileSync(file, args, { cwd: baseDir, env: serverEnv, stdio: "ignore" });
      } catch {
        // Nothing more to do: the server was not running, or is already gone.
      }
    }
    running = false;
    fs.rmSync(baseDir, { recursive: true, force: true });
  };
  liveClusters.set(baseDir, cleanupSync);
  installHandlers();

  const fail = (what: string, error: unknown): PgsimError => {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    const message =
      `could not ${what} a PostgreSQL ${majorVersion} cluster in ${dataDir}: ` +
      `${stderr || (error as Error).message}\n--- server log (tail) ---\n${tailOfFile(logFile)}`;
    cleanupSync();
    return new PgsimError("postgres-start-failed", message, { binDir, dataDir, port });
  };

  const run = async (file: string, args: string[]) => {
    const [f, a] = asServerUser(file, args);
    await execFileAsync(f, a, { cwd: baseDir, env: serverEnv, maxBuffer: 16 << 20 });
  };

  const startServer = async () => {
    // Another process may take the port between findFreePort and the server's bind: retry.
    for (let attempt = 1; ; attempt++) {
      if (port === 0) port = await findFreePort();
      const serverOptions = [
        "-c listen_addresses=127.0.0.1",
        `-p ${port}`,
        `-c unix_socket_directories=${shellQuote(baseDir)}`,
        ...Object.entries(options.settings ?? {}).map(
          ([name, value]) => `-c ${name}=${shellQuote(value)}`,
        ),
      ].join(" ");
      try {
        await run(bin("pg_ctl"), pgCtlArgs("start", ["-l", logFile, "-o", serverOptions]));
        running = true;
        return;
      } catch (error) {
        const portTaken = /could not bind|Address already in use/.test(tailOfFile(logFile, 10));
        if (!portTaken || attempt >= 3) throw error;
        port = 0;
      }
    }
  };

  const psqlArgs = (sql: string, psqlOptions: PsqlOptions, format: string[]) => [
    "-X",
    "-q",
    "-t",
    ...format,
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    "postgres",
    "-d",
    psqlOptions.database ?? "postgres",
    "-c",
    sql,
  ];
  const psqlEnv = (psqlOptions: PsqlOptions) => ({
    ...process.env,
    PGOPTIONS: pgOptions(psqlOptions.settings ?? {}),
    PGCONNECT_TIMEOUT: "10",
  });
  const psqlError = (sql: string, error: unknown): PgsimError => {
    const stderr = (error as { stderr?: string | Buffer }).stderr?.toString().trim();
    return new PgsimError("psql-failed", stderr || (error as Error).message, {
      sql: sql.slice(0, 200),
      port,
    });
  };
  const runPsql = async (sql: string, psqlOptions: PsqlOptions, format: string[]) => {
    try {
      const { stdout } = await execFileAsync(bin("psql"), psqlArgs(sql, psqlOptions, format), {
        env: psqlEnv(psqlOptions),
        encoding: "utf8",
        maxBuffer: 256 << 20,
      });
      return stdout;
    } catch (error) {
      throw psqlError(sql, error);
    }
  };

  try {
    fs.mkdirSync(dataDir, { mode: 0o700 });
    if (owner !== undefined) {
      fs.chownSync(baseDir, owner.uid, owner.gid);
      fs.chownSync(dataDir, owner.uid, owner.gid);
    }
    const initdbArgs = [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      ...(options.dataChecksums === false ? [] : ["--data-checksums"]),
    ];
    await run(bin("initdb"), initdbArgs);
  } catch (error) {
    throw fail("initialise", error);
  }
  try {
    await startServer();
    const version = Number((await runPsql("SHOW server_version_num", {}, ["-A"])).trim());
    if (Math.floor(version / 10000) !== majorVersion) {
      throw new Error(`the server reports version ${version}, expected ${majorVersion}.x`);
    }
  } catch (error) {
    throw fail("start", error);
  }

  const cluster: PgCluster = {
    get port() {
      return port;
    },
    dataDir,
    baseDir,
    binDir,
    logFile,
    get running() {
      return running;
    },
    psql: (sql, psqlOptions = {}) => runPsql(sql, psqlOptions, ["-A"]),
    psqlSync(sql, psqlOptions = {}) {
      try {
        return execFileSync(bin("psql"), psqlArgs(sql, psqlOptions, ["-A"]), {
          env: psqlEnv(psqlOptions),
          encoding: "utf8",
          maxBuffer: 256 << 20,
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (error) {
        throw psqlError(sql, error);
      }
    },
    async query(sql, psqlOptions = {}) {
      const copy = `COPY (${sql.trim().replace(/;+$/, "")}) TO STDOUT`;
      return parseCopyText(await runPsql(copy, psqlOptions, []));
    },
    async timedStatement(sql, psqlOptions = {}) {
      const args = psqlArgs(sql, psqlOptions, []);
      // psqlArgs ends with -c <sql>: put -c '\timing on' before it.
      args.splice(args.length - 2, 0, "-c", "\\timing on");
      let stdout: string;
      try {
        ({ stdout } = await execFileAsync(bin("psql"), args, {
          env: psqlEnv(psqlOptions),
          encoding: "utf8",
          maxBuffer: 256 << 20,
        }));
      } catch (error) {
        throw psqlError(sql, error);
      }
      const ms = parsePsqlTiming(stdout);
      if (ms === undefined) {
        throw new PgsimError("psql-failed", `psql printed no timing for: ${sql.slice(0, 200)}`, {
          sql: sql.slice(0, 200),
          port,
        });
      }
      return ms;
    },
    async relationFilePath(relation, psqlOptions = {}) {
      const quoted = `'${relation.replaceAll("'", "''")}'`;
      const relative = (
        await runPsql(`SELECT pg_relation_filepath(${quoted})`, psqlOptions, ["-A"])
      ).trim();
      if (relative === "") {
        throw new PgsimError("undefined-table", `relation ${relation} has no file`, { relation });
      }
      return path.join(dataDir, relative);
    },
    async stopServer(mode = "fast") {
      if (!running) return;
      try {
        await run(bin("pg_ctl"), pgCtlArgs("stop", ["-m", mode]));
      } catch (error) {
        throw new PgsimError(
          "postgres-stop-failed",
          `could not stop the server of ${dataDir}: ${(error as Error).message}\n` +
            tailOfFile(logFile),
          { dataDir },
        );
      }
      running = false;
    },
    async startServer() {
      if (running) return;
      try {
        await startServer();
      } catch (error) {
        throw new PgsimError(
          "postgres-start-failed",
          `could not restart the server of ${dataDir}: ${(error as Error).message}\n` +
            `--- server log (tail) ---\n${tailOfFile(logFile)}`,
          { dataDir, port },
        );
      }
    },
    async stop() {
      if (removed) return;
      if (running) {
        try {
          await run(bin("pg_ctl"), pgCtlArgs("stop", ["-m", "immediate"]));
          running = false;
        } catch {
          // cleanupSync below tries once more and removes the directory regardless.
        }
      }
      cleanupSync();
    },
  };
  return cluster;
}
