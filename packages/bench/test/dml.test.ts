/**
 * Smoke test of the built `pgsim-bench dml` command at tiny sizes: the shape of its JSON, the
 * files `--out` writes, the peer's presence and absence, usage errors, and that Ctrl-C leaves no
 * PostgreSQL cluster and no data directory behind.
 *
 * Measures: nothing about speed (figures are only checked to be finite and positive).
 * Entry points: the suite "pgsim-bench dml".
 * See also: ../src/dml.ts, ../src/cli.ts, cli.test.ts (micro and the shared usage rules). Runs
 * dist/cli.js, so build first (`npm test` runs `tsc -b` before vitest).
 */

import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cli = path.join(packageDir, "dist", "cli.js");
const STACK_LINE = /^\s+at .+/m;
const outDirs: string[] = [];

afterAll(() => {
  for (const d of outDirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { timeout: 60_000, env, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

interface StepResult {
  system: string;
  step: string;
  seconds: number;
  rowsPerSec: number;
  tableBlocks: number;
}

function parseResult(r: Run): { rows: number; results: StepResult[] } & Record<string, unknown> {
  expect(r.stderr).not.toMatch(STACK_LINE);
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split("\n")).toHaveLength(1);
  return JSON.parse(r.stdout);
}

function expectSteps(results: StepResult[], systems: string[]): void {
  expect(results.map((x) => `${x.system} ${x.step}`)).toEqual(
    systems.flatMap((s) => ["insert", "update", "delete", "vacuum"].map((step) => `${s} ${step}`)),
  );
  for (const x of results) {
    expect(Number.isFinite(x.seconds) && x.seconds > 0).toBe(true);
    expect(x.rowsPerSec).toBeCloseTo(2000 / x.seconds, 3);
    expect(Number.isInteger(x.tableBlocks)).toBe(true);
  }
  // 2000 rows take 9 pages; UPDATE doubles them; VACUUM after DELETE gives them all back.
  for (const s of systems) {
    const blocks = results.filter((x) => x.system === s).map((x) => x.tableBlocks);
    expect(blocks, s).toEqual([9, 18, 18, 0]);
  }
}

function tempDirs(prefix: string): Set<string> {
  return new Set(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(prefix)));
}

describe("pgsim-bench dml", () => {
  it("--rows 2000 --json: one JSON object, four steps on each pgsim system", async () => {
    const result = parseResult(await runCli(["dml", "--rows", "2000", "--json"]));
    expect(result.rows).toBe(2000);
    expect(result.order).toEqual(["pgsim-memheap", "pgsim-heap"]);
    expect(result.peer).toMatchObject({ requested: "none", included: false });
    expectSteps(result.results, ["pgsim-memheap", "pgsim-heap"]);
    const ratios = result.ratios as { name: string; step: string; ratio: number }[];
    expect(ratios.map((x) => x.name)).toEqual(new Array(4).fill("memheap / heap (memory vs disk)"));
    expect((result.memory as { rssBytes: number }).rssBytes).toBeGreaterThan(0);
  });

  it("--peer postgres: PostgreSQL 15 in both setups runs between pgsim's systems", async () => {
    const before = tempDirs("pgsim-pg15-");
    const result = parseResult(
      await runCli(["dml", "--rows", "2_000", "--peer", "postgres", "--json"]),
    );
    const order = ["pgsim-memheap", "pg15-unlogged", "pgsim-heap", "pg15-default"];
    expect(result.order).toEqual(order);
    expect(result.peer).toMatchObject({ requested: "postgres", included: true });
    expect(String((result.peer as { note: string }).note)).toMatch(/^PostgreSQL 15\./);
    expectSteps(result.results, order);
    const ratios = result.ratios as { name: string; min?: number; met?: boolean }[];
    expect(ratios.filter((x) => x.min === 2)).toHaveLength(4);
    expect(ratios.filter((x) => x.min === 1)).toHaveLength(4);
    expect(ratios.every((x) => x.min === undefined || typeof x.met === "boolean")).toBe(true);
    // Both clusters were stopped and removed.
    expect([...tempDirs("pgsim-pg15-")].filter((d) => !before.has(d))).toEqual([]);
  });

  it("--out writes the JSON, a markdown table, and SVG and PNG charts; the table goes to stdout", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-test-out-"));
    outDirs.push(out);
    const r = await runCli(["dml", "--rows", "2000", "--peer", "auto", "--out", out]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^step\s+system\s+seconds\s+M rows\/s\s+table blocks$/m);
    expect(r.stdout).toContain("memheap / heap (memory vs disk)");
    const files = fs.readdirSync(out).sort();
    expect(files).toEqual(
      [
        "dml-ratios.png",
        "dml-ratios.svg",
        "dml-throughput.png",
        "dml-throughput.svg",
        "dml.json",
        "dml.md",
      ].sort(),
    );
    const json = JSON.parse(fs.readFileSync(path.join(out, "dml.json"), "utf8"));
    expect(json.rows).toBe(2000);
    expect(fs.readFileSync(path.join(out, "dml.md"), "utf8")).toMatch(/^\| step \| /m);
    for (const chart of ["dml-throughput", "dml-ratios"]) {
      expect(fs.readFileSync(path.join(out, `${chart}.svg`), "utf8")).toMatch(/^<svg/);
      const png = fs.readFileSync(path.join(out, `${chart}.png`));
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    }
  });

  it("without PostgreSQL: --peer postgres fails clearly (exit 1); --peer auto goes on without it", async () => {
    const env = { ...process.env, PGSIM_PG_BIN_DIR: path.join(packageDir, "no-such-postgres") };
    const strict = await runCli(["dml", "--rows", "2000", "--peer", "postgres"], env);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe("");
    expect(strict.stderr).toContain("PostgreSQL 15 is not installed");
    expect(strict.stderr).toContain("apt-get install postgresql-15");
    expect(strict.stderr).not.toMatch(STACK_LINE);
    const auto = await runCli(["dml", "--rows", "2000", "--peer", "auto", "--json"], env);
    const result = parseResult(auto);
    expect(result.order).toEqual(["pgsim-memheap", "pgsim-heap"]);
    expect(result.peer).toMatchObject({ requested: "auto", included: false });
    expect(auto.stderr).toContain("running without the peer");
  });

  it("--help describes the options", async () => {
    const r = await runCli(["dml", "--help"]);
    expect(r.code).toBe(0);
    for (const option of ["--rows", "--peer", "--systems", "--json", "--out"]) {
      expect(r.stdout).toContain(option);
    }
    const general = await runCli(["--help"]);
    expect(general.stdout).toMatch(/^\s+dml\s+/m);
  });

  for (const args of [
    ["dml", "--rows", "0"],
    ["dml", "--rows", "lots"],
    ["dml", "--rows"],
    ["dml", "--peer", "mysql"],
    ["dml", "--systems", "pgsim-heap,oracle"],
    ["dml", "--systems", "pg15-default"],
    ["dml", "--out", cli],
  ]) {
    it(`usage error exits 2 without a stack trace: [${args.join(" ")}]`, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^usage: pgsim-bench dml/m);
      expect(r.stderr).not.toMatch(STACK_LINE);
    });
  }

  // Ctrl-C in the middle of a statement: on PostgreSQL (the cluster must go) and on pgsim's
  // disk-backed heap (its data directory must go, although the statement runs synchronously in a
  // worker thread).
  it.each([
    ["pg15-default", "pgsim-pg15-"],
    ["pgsim-heap", "pgsim-bench-dml-"],
  ])(
    "SIGINT during %s's insert leaves no server and no directory behind",
    async (system, prefix) => {
      const before = tempDirs(prefix);
      const child = spawn(
        process.execPath,
        [cli, "dml", "--rows", "50000000", "--peer", "postgres", "--systems", system],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      const started = new Promise<void>((resolve, reject) => {
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes(`${system} insert`)) resolve();
        });
        child.once("exit", () => reject(new Error(`ended before its insert: ${stderr}`)));
      });
      const ended = new Promise<string | null>((resolve) =>
        child.once("exit", (_code, signal) => resolve(signal)),
      );
      await started;
      const created = [...tempDirs(prefix)].filter((d) => !before.has(d));
      expect(created).toHaveLength(1);
      child.kill("SIGINT");
      expect(await ended).toBe("SIGINT");
      expect(fs.existsSync(path.join(os.tmpdir(), created[0]!))).toBe(false);
    },
  );
});
