// The private PostgreSQL 15 cluster harness: it refuses clearly when PostgreSQL is missing,
// returns exact query results, keeps its data across a server restart, and leaves nothing
// behind: not after stop(), not when its process exits without stopping, not on SIGINT.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { PgsimError } from "@pgsim/clock-sweep";
import { describe, expect, it } from "vitest";
import { parseCopyText, parsePsqlTiming, startPgCluster } from "../src/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Resolves true when something accepts TCP connections on 127.0.0.1:port. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("startPgCluster", () => {
  it("without PostgreSQL binaries: a postgres-not-installed error that says how to install it", async () => {
    const missing = path.join(repoRoot, "no-such-postgres-bin");
    const error = await startPgCluster({ binDir: missing }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toBe("postgres-not-installed");
    expect((error as PgsimError).message).toContain(`${missing}/initdb does not exist`);
    expect((error as PgsimError).message).toContain("apt-get install postgresql-15");
  });

  it("a server that cannot start: postgres-start-failed with the server log, nothing left behind", async () => {
    const error = await startPgCluster({ settings: { shared_buffers: "not-a-size" } }).then(
      () => undefined,
      (e: unknown) => e as PgsimError,
    );
    expect(error?.code).toBe("postgres-start-failed");
    expect(error?.message).toContain("server log");
    expect(error?.message).toContain('invalid value for parameter "shared_buffers"');
    // Its own directory (the data directory's parent) is gone. (Counting pgsim-pg15-* entries
    // of the shared temp directory would race with other tests starting clusters meanwhile.)
    const dataDir = error?.detail?.dataDir;
    expect(typeof dataDir).toBe("string");
    expect(path.dirname(dataDir as string)).toMatch(/pgsim-pg15-/);
    expect(fs.existsSync(path.dirname(dataDir as string))).toBe(false);
  });

  it("runs SQL, keeps its data across stopServer/startServer, and removes everything on stop", async () => {
    const pg = await startPgCluster({ settings: { autovacuum: "off", fsync: "off" } });
    try {
      expect(await pg.psql("SHOW data_checksums")).toBe("on\n");
      expect(await pg.psql("SHOW listen_addresses")).toBe("127.0.0.1\n");
      expect(pg.psqlSync("SELECT 1 + 1")).toBe("2\n");
      // \timing's figure for the statement alone: at least the 50 ms it sleeps.
      const ms = await pg.timedStatement("SELECT pg_sleep(0.05)");
      expect(ms).toBeGreaterThanOrEqual(50);
      expect(ms).toBeLessThan(10_000);
      await pg.psql(
        "CREATE TABLE kept (a text); INSERT INTO kept VALUES (''), (NULL), (E'a\\tb\\\\c')",
      );
      const file = await pg.relationFilePath("kept");
      expect(file.startsWith(`${pg.dataDir}/base/`)).toBe(true);
      expect(fs.existsSync(file)).toBe(true);

      await pg.stopServer("fast");
      expect(pg.running).toBe(false);
      expect(await accepting(pg.port)).toBe(false);
      await pg.startServer();
      expect(await pg.query("SELECT a FROM kept ORDER BY ctid")).toEqual([
        [""],
        [null],
        ["a\tb\\c"],
      ]);
      expect(
        await pg.query("SELECT now()::date = current_date, current_setting('TimeZone')", {
          settings: { TimeZone: "UTC", DateStyle: "ISO, MDY" },
        }),
      ).toEqual([["t", "UTC"]]);
      const error = await pg.psql("SELECT * FROM no_such_table").then(
        () => undefined,
        (e: unknown) => e as PgsimError,
      );
      expect(error?.code).toBe("psql-failed");
      expect(error?.message).toContain('relation "no_such_table" does not exist');
    } finally {
      await pg.stop();
    }
    expect(fs.existsSync(pg.baseDir)).toBe(false);
    expect(await accepting(pg.port)).toBe(false);
    await pg.stop(); // idempotent
  });

  // A child process starts a cluster and then exits without stop(), or waits for SIGINT.
  it.each(["exit", "SIGINT"] as const)(
    "a process that ends by %s leaves no server and no directory behind",
    async (how) => {
      const script = `
        import { startPgCluster } from "@pgsim/bench";
        const pg = await startPgCluster({ settings: { fsync: "off" } });
        console.log(JSON.stringify({ baseDir: pg.baseDir, port: pg.port }));
        if (${JSON.stringify(how)} === "exit") process.exit(0);
        setTimeout(() => {}, 60_000);
      `;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--conditions=source", "--input-type=module", "-e", script],
        { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const started = new Promise<{ baseDir: string; port: number }>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          const line = stdout.split("\n")[0];
          if (stdout.includes("\n") && line !== undefined) resolve(JSON.parse(line));
        });
        child.once("exit", () => reject(new Error(`child ended before starting: ${stderr}`)));
      });
      const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal })),
      );
      const { baseDir, port } = await started;
      if (how === "SIGINT") {
        expect(fs.existsSync(baseDir)).toBe(true);
        expect(await accepting(port)).toBe(true);
        child.kill("SIGINT");
      }
      const result = await ended;
      expect(result).toEqual(
        how === "exit" ? { code: 0, signal: null } : { code: null, signal: "SIGINT" },
      );
      expect(fs.existsSync(baseDir)).toBe(false);
      expect(await accepting(port)).toBe(false);
    },
  );
});

describe("parsePsqlTiming", () => {
  it("reads the last Time line psql's \\timing printed, short or long", () => {
    expect(parsePsqlTiming("Time: 0.493 ms\n")).toBe(0.493);
    expect(parsePsqlTiming("INSERT 0 5\nTime: 61234.567 ms (01:01.235)\n")).toBe(61234.567);
    expect(parsePsqlTiming("Time: 1.5 ms\nTime: 2 ms\n")).toBe(2);
    expect(parsePsqlTiming("no timing here\n")).toBeUndefined();
  });
});

describe("parseCopyText", () => {
  it("reads NULL, empty strings, tabs, newlines and backslashes exactly", () => {
    expect(parseCopyText("")).toEqual([]);
    expect(parseCopyText("1\t\\N\t\n")).toEqual([["1", null, ""]]);
    expect(parseCopyText("a\\tb\t\\\\N\tx\\ny\\\\\n2\t\\r\t\\b\\f\\v\n")).toEqual([
      ["a\tb", "\\N", "x\ny\\"],
      ["2", "\r", "\b\f\v"],
    ]);
  });
});
