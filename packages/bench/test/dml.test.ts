/**
 * Smoke test of the built `pgsim-bench dml` command at tiny sizes: the shape of its JSON, the
 * files `--out` writes, the peer's presence and absence (and its insert measured both by
 * INSERT … SELECT and by COPY, the ratios using the faster), what each system does and skips in
 * every report (pgsim-heap logged with fsync at commit, pgsim-heap-unlogged without WAL for its
 * table, with their settings), memheap / heap against the experiment's published ratios,
 * `--repeat` (medians, min–max, every sample kept), one progress line per step in a log, usage
 * errors, that Ctrl-C leaves no PostgreSQL cluster and no data directory behind, `--data-dir`
 * (the directory pgsim-heap leaves, read by PostgreSQL 15's pg_controldata and pg_waldump and by
 * pgsim-inspect; a non-empty one refused), and the root README's durability commands as written.
 *
 * Measures: nothing about speed (figures are only checked to be finite and positive).
 * Entry points: the suites "pgsim-bench dml", "pgsim-bench dml --data-dir", "README: Durability".
 * See also: ../src/dml.ts, ../src/cli.ts, cli.test.ts (micro and the shared usage rules). Runs
 * dist/cli.js, so build first (`npm test` runs `tsc -b` before vitest).
 */

import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Database } from "@pgsim/heap-am";
import { afterAll, describe, expect, it } from "vitest";
import { summarizeSamples } from "../src/dml-common.js";
import { runPgsimSystem } from "../src/dml-pgsim.js";
import { installedPgBinDir } from "../src/pg-cluster.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cli = path.join(packageDir, "dist", "cli.js");
const STACK_LINE = /^\s+at .+/m;
/** The pgsim systems, in the order they run. */
const PGSIM_SYSTEMS = ["pgsim-memheap", "pgsim-heap-unlogged", "pgsim-heap"];
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
  published?: number;
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
    expect(result.order).toEqual(PGSIM_SYSTEMS);
    expect(result.steps).toEqual(["insert", "update", "delete", "vacuum"]);
    expect(result.peer).toMatchObject({ requested: "none", included: false });
    expectSteps(result.results, PGSIM_SYSTEMS);
    const ratios = result.ratios as Ratio[];
    expect(ratios.map((x) => x.name)).toEqual([
      ...new Array(4).fill("memheap / heap (memory vs logged disk)"),
      ...new Array(4).fill("memheap / heap-unlogged (memory vs unlogged disk)"),
    ]);
    // memheap / heap is read against the in-memory table experiment's published ratios.
    expect(ratios.slice(0, 4).map((x) => [x.step, x.published])).toEqual([
      ["insert", 1.5],
      ["update", 1.7],
      ["delete", 1.6],
      ["vacuum", 1.3],
    ]);
    expect(ratios.slice(4).every((x) => x.published === undefined && x.min === undefined)).toBe(
      true,
    );
    expect((result.memory as { rssBytes: number }).rssBytes).toBeGreaterThan(0);
    // Each statement's speed of light, and every pgsim system's per-row cost as a multiple of it.
    const sol = result.speedOfLight as {
      nsPerRow: Record<string, number>;
      multiples: { system: string; step: string; nsPerRow: number; multiple: number }[];
    };
    for (const step of ["insert", "update", "delete", "vacuum"]) {
      expect(sol.nsPerRow[step], step).toBeGreaterThan(0);
    }
    expect(sol.multiples).toHaveLength(PGSIM_SYSTEMS.length * 4);
    for (const m of sol.multiples) {
      const x = result.results.find((y) => y.system === m.system && y.step === m.step)!;
      expect(m.nsPerRow).toBeCloseTo(1e9 / x.rowsPerSec, 3);
      expect(m.multiple).toBeCloseTo(m.nsPerRow / sol.nsPerRow[m.step]!, 6);
    }
    // The pgsim systems' settings, under PostgreSQL's names: each as its PostgreSQL counterpart.
    const settings = (system: string) =>
      (result.systems as Record<string, { settings: Record<string, string> }>)[system]!.settings;
    expect(settings("pgsim-heap")).toMatchObject({
      shared_buffers: "128MB",
      wal: "on",
      table: "logged",
      synchronous_commit: "on",
      fsync: "on",
      full_page_writes: "on",
      max_wal_size: "1GB",
      wal_segment_size: "16MB",
      checkpoint_timeout: "5min",
    });
    expect(settings("pgsim-heap-unlogged")).toMatchObject({
      shared_buffers: "4GB",
      table: "unlogged",
      synchronous_commit: "on",
      max_wal_size: "16GB",
      checkpoint_timeout: "1d",
    });
    expect(settings("pgsim-memheap")).toMatchObject({ wal: "off" });
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
    const order = [
      "pgsim-memheap",
      "pg15-unlogged",
      "pgsim-heap-unlogged",
      "pgsim-heap",
      "pg15-default",
    ];
    expect(result.order).toEqual(order);
    expect(result.peer).toMatchObject({ requested: "postgres", included: true });
    expect(String((result.peer as { note: string }).note)).toMatch(/^PostgreSQL 15\./);
    expectSteps(result.results, order);
    const ratios = result.ratios as Ratio[];
    expect(ratios.filter((x) => x.min === 2).map((x) => x.name)).toEqual(
      new Array(4).fill("memheap / pg15-unlogged"),
    );
    expect(ratios.filter((x) => x.min === 1).map((x) => x.name)).toEqual([
      ...new Array(4).fill("heap / pg15-default"),
      ...new Array(4).fill("heap-unlogged / pg15-unlogged"),
    ]);
    expect(ratios.every((x) => x.min === undefined || typeof x.met === "boolean")).toBe(true);
    // Issue 15's first goal: the experiment's gains, against PostgreSQL with WAL, per statement,
    // the insert against its faster load path.
    const experiment = ratios.filter((x) => x.name.startsWith("memheap / pg15-default"));
    expect(experiment.map((x) => [x.step, x.min, x.denominator])).toEqual([
      ["insert", 1.5, "pg15-default"],
      ["update", 1.7, "pg15-default"],
      ["delete", 1.6, "pg15-default"],
      ["vacuum", 1.3, "pg15-default"],
    ]);
    expect(experiment.every((x) => x.met === x.ratio >= x.min!)).toBe(true);
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
    for (const system of PGSIM_SYSTEMS) {
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
    // What each system does and skips: each pgsim system the durability work of its peer.
    for (const system of PGSIM_SYSTEMS) {
      expect(does(result, system, "SQL executor"), system).toBe(false);
      expect(does(result, system, "checksums"), system).toBe(false);
    }
    for (const system of ["pgsim-memheap", "pgsim-heap-unlogged"]) {
      expect(does(result, system, "WAL"), system).toBe(false);
      expect(does(result, system, "fsync at commit"), system).toBe(false);
    }
    expect(does(result, "pgsim-heap", "WAL")).toBe(true);
    expect(does(result, "pgsim-heap", "fsync at commit")).toBe(true);
    expect(does(result, "pgsim-memheap", "files on disk")).toBe(false);
    expect(does(result, "pgsim-heap-unlogged", "files on disk")).toBe(true);
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
    expect(r.stdout).toContain("memheap / heap (memory vs logged disk)");
    // The experiment's published ratios, under memheap / heap.
    expect(r.stdout).toMatch(
      /^memheap \/ heap \(memory vs logged disk\)\s.*\n {2}published by the experiment\s+1\.50\s+1\.70\s+1\.60\s+1\.30$/m,
    );
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
    expect(r.stdout).toMatch(
      /^pgsim-heap-unlogged\s+no, for the table\s+no\s+no: API calls\s+no\s+yes\b/m,
    );
    expect(r.stdout).toMatch(
      /^pgsim-heap\s+yes, with FPIs\s+yes\s+no: API calls\s+no\s+yes, 128 MB pool\b/m,
    );
    expect(r.stdout).toMatch(/^rows\/s ratio\s+pgsim goal\s+insert/m);
    expect(md).toContain("## What each system does and skips");
    expect(md).toMatch(
      /^- \*\*pgsim-heap\*\* \(does: WAL, fsync at commit, files on disk; skips: SQL executor, checksums\)/m,
    );
    expect(md).toMatch(
      /^- \*\*pgsim-heap-unlogged\*\* \(does: files on disk; skips: WAL, fsync at commit, SQL executor, checksums\)/m,
    );
    expect(md).toMatch(/^\| rows\/s ratio \| pgsim goal \|/m);
    expect(md).toMatch(
      /^\| ↳ published by the experiment \| {2}\| 1\.50 \| 1\.70 \| 1\.60 \| 1\.30 \|$/m,
    );
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
    expect(result.order).toEqual(PGSIM_SYSTEMS);
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
    expectSteps(result.results, PGSIM_SYSTEMS);
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
    expect(ratios).toHaveLength(8);
    for (const x of ratios) {
      const num = result.results.find(
        (y: StepResult) => y.system === x.numerator && y.step === x.step,
      ) as StepResult;
      const den = result.results.find(
        (y: StepResult) => y.system === x.denominator && y.step === x.step,
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
    for (const option of [
      "--rows",
      "--peer",
      "--systems",
      "--steps",
      "--repeat",
      "--data-dir",
      "--json",
      "--out",
    ]) {
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
    ["dml", "--steps", "update"],
    ["dml", "--steps", "insert,delete"],
    ["dml", "--steps", "insert,insert"],
    ["dml", "--steps", ","],
    ["dml", "--data-dir", cli],
    ["dml", "--systems", "pgsim-memheap", "--data-dir", path.join(os.tmpdir(), "no-such-dir")],
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

// ---------------------------------------------------------------------------------------------
// --data-dir: the data directory pgsim-heap leaves, read by PostgreSQL 15's own tools and by
// pgsim-inspect. These need PostgreSQL 15's pg_controldata and pg_waldump: they fail, never
// skip, when it is missing.

const repoRoot = path.resolve(packageDir, "..", "..");
const pgsimInspect = path.join(repoRoot, "node_modules", ".bin", "pgsim-inspect");

/** PostgreSQL 15's bin directory, or a loud failure. */
function pgBin(tool: string): string {
  const dir = installedPgBinDir();
  if (dir === undefined) {
    throw new Error(
      "PostgreSQL 15 is not installed (apt-get install postgresql-15, or PGSIM_PG_BIN_DIR)",
    );
  }
  return path.join(dir, tool);
}

/** Runs a program; resolves with its exit code and output (never rejects). */
function runTool(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** "0/1A2B3C4" as a number (LSNs here stay far below 2^53). */
function lsnValue(text: string): number {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/.exec(text);
  expect(m, text).not.toBeNull();
  return Number.parseInt(m![1]!, 16) * 2 ** 32 + Number.parseInt(m![2]!, 16);
}

/** pg_controldata's "Name: value" lines as a map. */
function controlFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    if (m !== null) fields.set(m[1]!, m[2]!);
  }
  return fields;
}

interface DataDirInfo {
  dataDir: string;
  checkpointLsn: string;
  redoLsn: string;
  tableFile: string;
  firstWalSegment: string;
}

describe("pgsim-bench dml --data-dir", () => {
  it("leaves pgsim-heap's directory after a clean shutdown: pg_controldata, pg_waldump and pgsim-inspect read it", async () => {
    const base = privateTmp();
    const dir = path.join(base, "data"); // missing: created, as initdb creates it
    const result = parseResult(
      await runCli([
        "dml",
        "--rows",
        "3000",
        "--systems",
        "pgsim-heap",
        "--steps",
        "insert,update",
        "--data-dir",
        dir,
        "--json",
      ]),
    );
    expect(result.steps).toEqual(["insert", "update"]);
    const steps = result.results;
    expect(steps.map((x) => x.step)).toEqual(["insert", "update"]);
    // 3000 rows on 14 pages, 13 full ones and 62 rows on the last; the new versions need 13 more.
    expect(steps.map((x) => x.tableBlocks)).toEqual([14, 27]);
    const info = result.dataDir as DataDirInfo;
    expect(info).toMatchObject({ dataDir: dir, tableFile: "base/5/16384" });
    expect(info.firstWalSegment).toMatch(/^0{7}1[0-9A-F]{16}$/);

    // pg_controldata: shut down cleanly, at the checkpoint the run reported.
    const control = await runTool(pgBin("pg_controldata"), [dir]);
    expect(control.code, control.stderr).toBe(0);
    const fields = controlFields(control.stdout);
    expect(fields.get("Database cluster state")).toBe("shut down");
    expect(fields.get("Latest checkpoint location")).toBe(info.checkpointLsn);
    expect(fields.get("Latest checkpoint's REDO location")).toBe(info.redoLsn);
    // A shutdown checkpoint's redo pointer is the record itself.
    expect(info.redoLsn).toBe(info.checkpointLsn);
    expect(fields.get("Latest checkpoint's REDO WAL file")).toBe(info.firstWalSegment);
    expect(fields.get("Data page checksum version")).toBe("0");

    // pg_waldump reads every record to the end of the WAL, which is the only complaint.
    const dump = await runTool(pgBin("pg_waldump"), [
      "-p",
      path.join(dir, "pg_wal"),
      info.firstWalSegment,
    ]);
    expect(dump.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(
        new RegExp(
          `^pg_waldump: error: error in WAL record at ${info.checkpointLsn}: invalid record length at [0-9A-F]+/[0-9A-F]+: wanted 24, got 0$`,
        ),
      ),
    ]);
    const records = dump.stdout.trimEnd().split("\n");
    const count = (re: RegExp) => records.filter((l) => re.test(l)).length;
    expect(records[0]).toMatch(/desc: CHECKPOINT_SHUTDOWN redo 0\/1000028;/); // initdb's
    expect(records.at(-1)).toMatch(/desc: CHECKPOINT_SHUTDOWN .*; shutdown$/);
    expect(count(/^rmgr: Storage .*desc: CREATE base\/5\/16384$/)).toBe(1);
    // The insert: batches of 1000 rows, one MULTI_INSERT per page and batch, on the 14 pages.
    const multi = records
      .map((l) =>
        /desc: MULTI_INSERT(?:\+INIT)? (\d+) tuples .*rel 1663\/5\/16384 blk (\d+)$/.exec(l),
      )
      .filter((m) => m !== null);
    expect(multi.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(3000);
    expect(new Set(multi.map((m) => m[2])).size).toBe(14);
    expect(count(/^rmgr: Heap .*desc: (HOT_)?UPDATE(\+INIT)? /)).toBe(3000);
    expect(count(/^rmgr: Transaction .*desc: COMMIT /)).toBe(2);

    // pgsim-inspect reads the table's pages: each one's LSN is that of a logged change.
    const headers = await runTool(pgsimInspect, [
      "page-header",
      path.join(dir, info.tableFile),
      "--json",
    ]);
    expect(headers.code, headers.stderr).toBe(0);
    const pages = JSON.parse(headers.stdout) as { block: number; lsn: string }[];
    expect(pages.map((p) => p.block)).toEqual([...Array(27).keys()]);
    for (const p of pages) {
      expect(lsnValue(p.lsn), `block ${p.block}`).toBeGreaterThan(lsnValue("0/1000028"));
      expect(lsnValue(p.lsn), `block ${p.block}`).toBeLessThan(lsnValue(info.checkpointLsn));
    }
    const items = await runTool(pgsimInspect, [
      "heap-page-items",
      path.join(dir, info.tableFile),
      "--block",
      "0",
      "--json",
    ]);
    expect(items.code, items.stderr).toBe(0);
    const block0 = (
      JSON.parse(items.stdout) as { items: { t_xmin: number; t_xmax: number }[] }[]
    )[0]!;
    expect(block0.items).toHaveLength(226);
    // Inserted by one transaction, every version updated (t_xmax) by the next.
    expect(new Set(block0.items.map((i) => `${i.t_xmin}->${i.t_xmax}`)).size).toBe(1);
    expect(block0.items[0]!.t_xmax).toBe(block0.items[0]!.t_xmin + 1);
    const inspectControl = await runTool(pgsimInspect, ["pg-control", dir, "--format", "text"]);
    expect(inspectControl.code, inspectControl.stderr).toBe(0);
    expect(controlFields(inspectControl.stdout).get("Database cluster state")).toBe("shut down");
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("refuses a directory that is not empty, before running anything (exit 2)", async () => {
    const dir = privateTmp();
    fs.writeFileSync(path.join(dir, "PG_VERSION"), "15\n");
    const r = await runCli(["dml", "--rows", "2000", "--systems", "pgsim-heap", "--data-dir", dir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`--data-dir: directory "${dir}" exists but is not empty`);
    expect(r.stderr).toMatch(/^usage: pgsim-bench dml .*--data-dir DIR/m);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toContain("pgsim-heap insert"); // nothing ran
    expect(fs.readdirSync(dir)).toEqual(["PG_VERSION"]);
    // Without --systems, the default list includes pgsim-heap: the same refusal.
    const again = await runCli(["dml", "--rows", "2000", "--data-dir", dir]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("exists but is not empty");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the library: runPgsimSystem keeps the directory, which reopens without recovery; memheap has none", async () => {
    const base = privateTmp();
    const dir = path.join(base, "data");
    const r = await runPgsimSystem("pgsim-heap", { rows: 1000, dataDir: dir });
    expect(r.steps.map((x) => x.tableBlocks)).toEqual([5, 9, 9, 0]);
    expect(r.shutdown).toMatchObject({ dataDir: dir, tableFile: "base/5/16384" });
    expect(r.settings).toMatchObject({ wal: "on", synchronous_commit: "on" });
    const db = Database.open(dir, { bufferCount: 64 });
    try {
      expect(db.startupReport?.recovered).toBe(false);
      expect(db.nblocks("accounts")).toBe(0);
    } finally {
      db.shutdown();
    }
    await expect(runPgsimSystem("pgsim-heap", { rows: 1000, dataDir: dir })).rejects.toThrow(
      /exists but is not empty/,
    );
    await expect(
      runPgsimSystem("pgsim-memheap", { rows: 1000, dataDir: path.join(base, "other") }),
    ).rejects.toThrow(/memory-only: it has no data directory/);
    fs.rmSync(base, { recursive: true, force: true });
  });

  it("SIGINT during the insert leaves the given directory as it was: there, and empty", async () => {
    const dir = privateTmp();
    const child = spawn(
      process.execPath,
      [cli, "dml", "--rows", "50000000", "--systems", "pgsim-heap", "--data-dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    const started = new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes("pgsim-heap insert")) resolve();
      });
      child.once("exit", () => reject(new Error(`ended before its insert: ${stderr}`)));
    });
    const ended = new Promise<string | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    await started;
    expect(fs.readdirSync(dir).sort()).toEqual(["base", "global", "pg_wal", "pg_xact"]);
    child.kill("SIGINT");
    expect(await ended).toBe("SIGINT");
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// ---------------------------------------------------------------------------------------------
// The root README's "Durability: a data directory you can inspect": its commands run as written.

interface ReadmeCommand {
  command: string;
  /** The output lines the README shows (`…` lines, which stand for omitted ones, left out). */
  expected: string[];
}

/** The `$ ` commands and their shown output of each `<!-- commands: NAME -->` console block. */
function readmeCommandBlocks(text: string): { name: string; commands: ReadmeCommand[] }[] {
  const blocks: { name: string; commands: ReadmeCommand[] }[] = [];
  const re = /<!-- commands: ([\w-]+) -->\s*```console\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const commands: ReadmeCommand[] = [];
    for (const line of m[2]!.split("\n")) {
      if (line.startsWith("$ ")) commands.push({ command: line.slice(2), expected: [] });
      else if (line.trim() !== "" && line.trim() !== "…") commands.at(-1)?.expected.push(line);
    }
    blocks.push({ name: m[1]!, commands });
  }
  return blocks;
}

describe("README: Durability: a data directory you can inspect", () => {
  const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8");
  const blocks = readmeCommandBlocks(readme);

  it("has the two command blocks, with pgsim-bench, pg_controldata, pg_waldump and pgsim-inspect", () => {
    expect(blocks.map((b) => b.name)).toEqual(["durability", "durability-rows"]);
    const all = blocks.flatMap((b) => b.commands.map((c) => c.command)).join("\n");
    for (const tool of ["pgsim-bench dml", "pg_controldata", "pg_waldump", "pgsim-inspect"]) {
      expect(all).toContain(tool);
    }
  });

  for (const block of blocks) {
    it(`${block.name}: each command exits 0 and prints the lines shown`, async () => {
      // The README's /tmp/pgsim-* directories become fresh ones of this test's own.
      const tmp = privateTmp();
      const local = (text: string) => text.replaceAll(/\/tmp\/(pgsim-[\w-]+)/g, `${tmp}/$1`);
      const script = block.commands
        .map((c, i) => `echo "@@ ${i}"; { ${local(c.command)}; } 2>&1; echo "@@ rc $?"`)
        .join("\n");
      const r = await new Promise<Run>((resolve) => {
        execFile(
          "bash",
          ["-c", script],
          { cwd: repoRoot, timeout: 120_000, maxBuffer: 64 << 20 },
          (error, stdout, stderr) =>
            resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
        );
      });
      expect(r.code, r.stderr).toBe(0);
      const outputs = r.stdout.split(/^@@ \d+\n/m).slice(1);
      expect(outputs).toHaveLength(block.commands.length);
      block.commands.forEach((c, i) => {
        const lines = outputs[i]!.split("\n").map((l) => l.trimEnd());
        expect(lines.at(-2), `${c.command}\n${outputs[i]}`).toBe("@@ rc 0");
        for (const want of c.expected) {
          expect(lines, `${c.command}: ${want}`).toContain(local(want).trimEnd());
        }
      });
      fs.rmSync(tmp, { recursive: true, force: true });
    });
  }
});
