/**
 * Smoke test of the built `pgsim-bench dml` command at tiny sizes: the shape of its JSON, the
 * files `--out` writes, the peer's presence and absence (and its insert measured both by
 * INSERT … SELECT and by COPY, the ratios using the faster), what each system does and skips in
 * every report, `--repeat` (medians, min–max, every sample kept), one progress line per step in
 * a log, usage errors, and that Ctrl-C leaves no PostgreSQL cluster and no data directory behind.
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
import { summarizeSamples } from "../src/dml-common.js";

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

interface Figure {
  path?: string;
  seconds: number;
  rowsPerSec: number;
  secondsMin: number;
  secondsMax: number;
  rowsPerSecMin: number;
  rowsPerSecMax: number;
  secondsSamples: number[];
  tableBlocks: number;
}

interface StepResult extends Figure {
  system: string;
  step: string;
  copy?: Figure;
}

interface Ratio {
  name: string;
  numerator: string;
  denominator: string;
  step: string;
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  samples: number[];
  denominatorPath?: string;
  min?: number;
  met?: boolean;
}

interface Trait {
  aspect: string;
  does: boolean;
  short: string;
  note: string;
}

/** Whether `system` does `aspect`, as the JSON's `systems` states it. */
function does(result: Record<string, unknown>, system: string, aspect: string): boolean {
  const systems = result.systems as Record<string, { traits: Trait[] }>;
  const trait = systems[system]?.traits.find((t) => t.aspect === aspect);
  expect(trait, `${system}: ${aspect}`).toBeDefined();
  expect(trait!.note.length, `${system}: ${aspect}`).toBeGreaterThan(10);
  return trait!.does;
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

/**
 * A temporary directory of the test's own, given to a child as its TMPDIR: what the child leaves
 * behind is counted there, not among the directories other tests and processes make in the
 * shared one at the same time. World-readable, so that the postgres user can reach the cluster
 * directories made inside it.
 */
function privateTmp(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-test-"));
  fs.chmodSync(dir, 0o755);
  return dir;
}

function tempDirs(prefix: string, dir: string = os.tmpdir()): Set<string> {
  return new Set(fs.readdirSync(dir).filter((f) => f.startsWith(prefix)));
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
    const tmp = privateTmp();
    const before = tempDirs("pgsim-pg15-", tmp);
    const result = parseResult(
      await runCli(["dml", "--rows", "2_000", "--peer", "postgres", "--json"], {
        ...process.env,
        TMPDIR: tmp,
      }),
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
    // PostgreSQL's insert, by INSERT … SELECT and by COPY into a fresh table of the same rows.
    const insertOf = (system: string) =>
      result.results.find((x) => x.system === system && x.step === "insert")!;
    for (const system of ["pg15-unlogged", "pg15-default"]) {
      const insert = insertOf(system);
      expect(insert.path, system).toBe("insert-select");
      expect(insert.copy, system).toMatchObject({ path: "copy", tableBlocks: 9 });
      expect(insert.copy!.seconds).toBeGreaterThan(0);
      expect(insert.copy!.rowsPerSec).toBeCloseTo(2000 / insert.copy!.seconds, 3);
    }
    for (const system of ["pgsim-memheap", "pgsim-heap"]) {
      expect(insertOf(system).path, system).toBeUndefined();
      expect(insertOf(system).copy, system).toBeUndefined();
    }
    // The insert ratios against PostgreSQL use its faster load path.
    for (const x of (result.ratios as Ratio[]).filter((r) => r.step === "insert" && r.min)) {
      const pg = insertOf(x.denominator);
      const faster = pg.copy!.rowsPerSec > pg.rowsPerSec ? pg.copy! : pg;
      expect(x.denominatorPath, x.name).toBe(faster.path);
      expect(x.ratio, x.name).toBeCloseTo(insertOf(x.numerator).rowsPerSec / faster.rowsPerSec, 9);
    }
    // What each system does and skips.
    for (const system of ["pgsim-memheap", "pgsim-heap"]) {
      expect(does(result, system, "WAL"), system).toBe(false);
      expect(does(result, system, "fsync at commit"), system).toBe(false);
      expect(does(result, system, "SQL executor"), system).toBe(false);
      expect(does(result, system, "checksums"), system).toBe(false);
    }
    expect(does(result, "pgsim-memheap", "files on disk")).toBe(false);
    expect(does(result, "pgsim-heap", "files on disk")).toBe(true);
    expect(does(result, "pg15-unlogged", "WAL")).toBe(false);
    expect(does(result, "pg15-unlogged", "fsync at commit")).toBe(false);
    expect(does(result, "pg15-default", "WAL")).toBe(true);
    expect(does(result, "pg15-default", "fsync at commit")).toBe(true);
    for (const system of ["pg15-unlogged", "pg15-default"]) {
      expect(does(result, system, "SQL executor"), system).toBe(true);
      expect(does(result, system, "checksums"), system).toBe(false);
    }
    // Both clusters were stopped and removed.
    expect([...tempDirs("pgsim-pg15-", tmp)].filter((d) => !before.has(d))).toEqual([]);
    fs.rmSync(tmp, { recursive: true, force: true });
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
    const md = fs.readFileSync(path.join(out, "dml.md"), "utf8");
    expect(md).toMatch(/^\| step \| /m);
    // Every report states what each system does and skips, and whose goals the targets are.
    expect(r.stdout).toContain("what each system does and skips:");
    expect(r.stdout).toMatch(
      /^system\s+WAL\s+fsync at commit\s+SQL executor\s+checksums\s+files on disk\s+insert path$/m,
    );
    expect(r.stdout).toMatch(/^pgsim-memheap\s+no\s+no\s+no: API calls\s+no\s+no: memory only\b/m);
    expect(r.stdout).toMatch(/^pgsim-heap\s+no\s+no: never\s+no: API calls\s+no\s+yes\b/m);
    expect(r.stdout).toMatch(/^rows\/s ratio\s+pgsim goal\s+insert/m);
    expect(md).toContain("## What each system does and skips");
    expect(md).toMatch(
      /^- \*\*pgsim-heap\*\* \(does: files on disk; skips: WAL, fsync at commit, SQL executor, checksums\)/m,
    );
    expect(md).toMatch(/^\| rows\/s ratio \| pgsim goal \|/m);
    if (json.peer.included) {
      expect(r.stdout).toMatch(/^insert\s+pg15-default \(COPY\)\s+\d+\.\d{3}\s/m);
      expect(r.stdout).toMatch(/^insert\s+pg15-default \(INSERT … SELECT\)\s+\d+\.\d{3}\s/m);
      expect(md).toMatch(/^\| insert \(PostgreSQL: COPY\) \| - \| \d/m);
    }
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

  it("--repeat 3: figures are medians with min–max, JSON keeps every run; a log gets one line per step", async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bench-test-repeat-"));
    outDirs.push(out);
    // stderr is a pipe here, not a terminal: no bars, exactly one progress line per step.
    const r = await runCli(["dml", "--rows", "2000", "--repeat", "3", "--out", out]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    const result = JSON.parse(fs.readFileSync(path.join(out, "dml.json"), "utf8"));
    expect(result.repeat).toBe(3);
    expectSteps(result.results, ["pgsim-memheap", "pgsim-heap"]);
    for (const x of result.results as StepResult[]) {
      const label = `${x.system} ${x.step}`;
      expect(x.secondsSamples, label).toHaveLength(3);
      const sorted = [...x.secondsSamples].sort((a, b) => a - b);
      expect(x.seconds, label).toBe(sorted[1]);
      expect(x.secondsMin, label).toBe(sorted[0]);
      expect(x.secondsMax, label).toBe(sorted[2]);
      expect(x.rowsPerSecMin, label).toBeCloseTo(2000 / sorted[2]!, 6);
      expect(x.rowsPerSecMax, label).toBeCloseTo(2000 / sorted[0]!, 6);
    }
    // Each ratio: the median of the three per-run ratios.
    const ratios = result.ratios as Ratio[];
    expect(ratios).toHaveLength(4);
    for (const x of ratios) {
      const num = result.results.find(
        (y: StepResult) => y.system === "pgsim-memheap" && y.step === x.step,
      ) as StepResult;
      const den = result.results.find(
        (y: StepResult) => y.system === "pgsim-heap" && y.step === x.step,
      ) as StepResult;
      const perRun = num.secondsSamples.map((s, i) => den.secondsSamples[i]! / s);
      expect(x.samples).toEqual(perRun);
      expect(x.ratio).toBe([...perRun].sort((a, b) => a - b)[1]);
      expect([x.ratioMin, x.ratioMax]).toEqual([Math.min(...perRun), Math.max(...perRun)]);
    }
    // The table shows each figure as "median (min–max)".
    expect(r.stdout).toContain("3 runs of each system, in turn: every figure is the median");
    const memheapInsert = (result.results as StepResult[])[0]!;
    expect(r.stdout).toContain(
      `${memheapInsert.seconds.toFixed(3)} (${memheapInsert.secondsMin.toFixed(3)}–${memheapInsert.secondsMax.toFixed(3)})`,
    );
    expect(fs.readFileSync(path.join(out, "dml.md"), "utf8")).toContain(
      "every figure is the median",
    );
    // Progress in a log: one line per step and run, with that run's seconds; no bar drawn.
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("\u001b");
    expect(r.stderr).not.toMatch(/[█░]/);
    const lines = r.stderr.split("\n");
    for (const x of result.results as StepResult[]) {
      for (let run = 1; run <= 3; run++) {
        const prefix = `${x.system} ${x.step} [run ${run}/3] ... `;
        const mine = lines.filter((l) => l.startsWith(`${x.system} ${x.step} [run ${run}/3]`));
        expect(mine, prefix).toEqual([`${prefix}${x.secondsSamples[run - 1]!.toFixed(3)} s`]);
      }
    }
  });

  it("summarizeSamples: the median (mean of the middle two for an even count), min and max", () => {
    expect(summarizeSamples([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(summarizeSamples([4, 1, 2, 3])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(summarizeSamples([7])).toEqual({ median: 7, min: 7, max: 7 });
    expect(() => summarizeSamples([])).toThrow(RangeError);
  });

  it("--help describes the options", async () => {
    const r = await runCli(["dml", "--help"]);
    expect(r.code).toBe(0);
    for (const option of ["--rows", "--peer", "--systems", "--repeat", "--json", "--out"]) {
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
    ["dml", "--repeat", "0"],
    ["dml", "--repeat", "101"],
    ["dml", "--repeat", "twice"],
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
      const tmp = privateTmp();
      const before = tempDirs(prefix, tmp);
      const child = spawn(
        process.execPath,
        [cli, "dml", "--rows", "50000000", "--peer", "postgres", "--systems", system],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TMPDIR: tmp } },
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
      const created = [...tempDirs(prefix, tmp)].filter((d) => !before.has(d));
      expect(created).toHaveLength(1);
      child.kill("SIGINT");
      expect(await ended).toBe("SIGINT");
      expect(fs.existsSync(path.join(tmp, created[0]!))).toBe(false);
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  );
});
