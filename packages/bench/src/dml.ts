/**
 * `pgsim-bench dml`: INSERT, UPDATE every row, DELETE every row, and VACUUM of a table of N rows,
 * on pgsim disk-backed (`heap`) and memory-only (`memheap`), side by side with PostgreSQL 15.
 *
 * Measures: for each system and statement, wall seconds, rows per second (N / seconds, for every
 * statement, VACUUM included), and the table's size after it; the ratios memheap / heap (memory
 * vs disk), memheap / pg15-unlogged and heap / pg15-default against their targets; memheap's
 * resident set against its pool. How each system is timed: dml-worker.ts (pgsim, in-process
 * `performance.now()` from BEGIN to COMMIT) and dml-postgres.ts (psql's `\timing`).
 * Entry points: `runDml`, `formatDmlTable`, `dmlMarkdown`, `writeDmlReport`, `DmlResult`.
 * See also: dml-common.ts (statements, systems, run order), dml-pgsim.ts, dml-postgres.ts,
 * chart.ts, cli.ts, ../README.md, ../RESULTS.md.
 *
 * Order: the systems run one after another in DML_SYSTEMS order (memheap, pg15-unlogged, heap,
 * pg15-default), each running its four statements as a unit (they depend on each other), so each
 * pgsim system is measured right before the PostgreSQL setup it is compared with.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { PgsimError } from "@pgsim/clock-sweep";
import type { TopLevelSpec } from "vega-lite";
import { CHART_CONFIG, writeChart } from "./chart.js";
import {
  DML_STEPS,
  DML_SYSTEMS,
  type DmlStep,
  type DmlSystem,
  type StepHooks,
} from "./dml-common.js";
import { runPgsimSystem } from "./dml-pgsim.js";
import { runPostgresSystem } from "./dml-postgres.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import { installedPgBinDir } from "./pg-cluster.js";
import type { Progress } from "./progress.js";

/** How the peer is chosen: always, never, or when PostgreSQL 15 is installed. */
export type PeerChoice = "postgres" | "none" | "auto";

/** Options of runDml. */
export interface DmlOptions {
  /** Rows to insert (N). */
  rows: number;
  /** Default "none". "postgres" fails when PostgreSQL 15 is not installed; "auto" then skips it. */
  peer?: PeerChoice;
  /** Run only these systems (default: both pgsim systems, and the peer's two when included). */
  systems?: readonly DmlSystem[];
  /** Rows per multi-insert batch for pgsim (default 1000). */
  batchRows?: number;
  progress?: Progress;
}

/** One statement on one system, as `dml --json` reports it. */
export interface DmlStepResult {
  system: DmlSystem;
  step: DmlStep;
  seconds: number;
  /** N / seconds. */
  rowsPerSec: number;
  /** The table's main fork after the statement, in 8 KB blocks. */
  tableBlocks: number;
}

/** A ratio of rows per second between two systems, per statement. */
export interface DmlRatio {
  name: string;
  numerator: DmlSystem;
  denominator: DmlSystem;
  step: DmlStep;
  ratio: number;
  /** The target the ratio must reach, if any. */
  min?: number;
  met?: boolean;
}

/** What `pgsim-bench dml --json` prints. */
export interface DmlResult {
  command: "dml";
  rows: number;
  date: string;
  machine: MachineInfo;
  /** The systems that ran, in the order they ran. */
  order: DmlSystem[];
  peer: {
    requested: PeerChoice;
    included: boolean;
    /** Why the peer is missing, or its server version. */
    note: string;
  };
  systems: Partial<Record<DmlSystem, DmlSystemInfo>>;
  results: DmlStepResult[];
  ratios: DmlRatio[];
  /** memheap's resident set after its run against its pool (when memheap ran). */
  memory?: {
    rssBytes: number;
    poolBytes: number;
    rssVsPool: number;
    max: number;
    met: boolean;
  };
  /** Wall time of the whole command, seconds. */
  wallSeconds: number;
}

/** How a system was set up. */
export interface DmlSystemInfo {
  description: string;
  /** pgsim: buffers in the pool; PostgreSQL: the server settings given. */
  bufferCount?: number;
  poolBytes?: number;
  settings?: Readonly<Record<string, string>>;
  serverVersion?: string;
  /** pgsim: process.memoryUsage().rss after the run. */
  rssBytes?: number;
}

/** The comparisons reported, with their targets (rows/s of numerator over denominator). */
export const DML_COMPARISONS: readonly {
  name: string;
  numerator: DmlSystem;
  denominator: DmlSystem;
  min?: number;
}[] = [
  {
    name: "memheap / heap (memory vs disk)",
    numerator: "pgsim-memheap",
    denominator: "pgsim-heap",
  },
  {
    name: "memheap / pg15-unlogged",
    numerator: "pgsim-memheap",
    denominator: "pg15-unlogged",
    min: 2,
  },
  { name: "heap / pg15-default", numerator: "pgsim-heap", denominator: "pg15-default", min: 1 },
];

/** memheap's resident set may be at most this multiple of its pool. */
export const MEMHEAP_RSS_VS_POOL_MAX = 1.2;
/** Below this pool size the resident-set ratio says more about Node than about the pool. */
const SMALL_POOL_BYTES = 1 << 30;

const DESCRIPTIONS: Record<DmlSystem, string> = {
  "pgsim-memheap": "pgsim memheap: memory-only buffer pool holding the whole table",
  "pgsim-heap": "pgsim heap: disk-backed pool of 16384 buffers (128 MB), files in a temp dir",
  "pg15-unlogged": "PostgreSQL 15, shared_buffers 4 GB, UNLOGGED table",
  "pg15-default": "PostgreSQL 15, default settings (shared_buffers 128 MB), logged table",
};

/** Decides whether the peer runs; throws `postgres-not-installed` when it must but cannot. */
function choosePeer(choice: PeerChoice): { included: boolean; note: string } {
  if (choice === "none")
    return { included: false, note: "not requested (--peer postgres adds it)" };
  const binDir = installedPgBinDir();
  if (binDir !== undefined) return { included: true, note: "" };
  const where = process.env.PGSIM_PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
  const message =
    `PostgreSQL 15 is not installed: ${where} lacks initdb, pg_ctl, postgres or psql. ` +
    "Install it with `apt-get install postgresql-15` or set PGSIM_PG_BIN_DIR";
  if (choice === "postgres") {
    throw new PgsimError("postgres-not-installed", `--peer postgres: ${message}.`);
  }
  return { included: false, note: `${message}; running without the peer.` };
}

/**
 * Runs the benchmark. Progress goes to `options.progress`; the result is returned.
 *
 * @example
 * ```ts
 * const r = await runDml({ rows: 100_000, peer: "auto" });
 * console.log(formatDmlTable(r));
 * ```
 */
export async function runDml(options: DmlOptions): Promise<DmlResult> {
  const started = performance.now();
  const rows = options.rows;
  if (!Number.isSafeInteger(rows) || rows < 1) {
    throw new PgsimError("invalid-parameter", `rows must be a positive integer, got ${rows}`);
  }
  const requested = options.peer ?? "none";
  const peer = choosePeer(requested);
  const wanted = options.systems ?? DML_SYSTEMS;
  const order = DML_SYSTEMS.filter(
    (s) => wanted.includes(s) && (peer.included || !s.startsWith("pg15-")),
  );
  const progress = options.progress;
  if (!peer.included && requested === "auto") progress?.log(peer.note);
  progress?.log(`dml: ${rows.toLocaleString("en-US")} rows; systems in order: ${order.join(", ")}`);

  const results: DmlStepResult[] = [];
  const systems: Partial<Record<DmlSystem, DmlSystemInfo>> = {};
  let memory: DmlResult["memory"];
  for (const system of order) {
    const hooks = barHooks(system, rows, progress);
    const collect: StepHooks = {
      ...hooks,
      onStepEnd(m) {
        hooks.onStepEnd?.(m);
        results.push({
          system,
          step: m.step,
          seconds: m.seconds,
          rowsPerSec: rows / m.seconds,
          tableBlocks: m.tableBlocks,
        });
      },
    };
    if (system === "pgsim-heap" || system === "pgsim-memheap") {
      const r = await runPgsimSystem(system, {
        rows,
        ...collect,
        ...(options.batchRows !== undefined ? { batchRows: options.batchRows } : {}),
      });
      systems[system] = {
        description: DESCRIPTIONS[system],
        bufferCount: r.bufferCount,
        poolBytes: r.poolBytes,
        rssBytes: r.rssBytes,
      };
      if (system === "pgsim-memheap") {
        const rssVsPool = r.rssBytes / r.poolBytes;
        memory = {
          rssBytes: r.rssBytes,
          poolBytes: r.poolBytes,
          rssVsPool,
          max: MEMHEAP_RSS_VS_POOL_MAX,
          met: rssVsPool <= MEMHEAP_RSS_VS_POOL_MAX,
        };
      }
    } else {
      const r = await runPostgresSystem(system, { rows, ...collect });
      systems[system] = {
        description: DESCRIPTIONS[system],
        settings: r.settings,
        serverVersion: r.serverVersion,
      };
      if (peer.note === "") peer.note = r.serverVersion;
    }
  }

  return {
    command: "dml",
    rows,
    date: new Date().toISOString(),
    machine: machineInfo(),
    order,
    peer: { requested, ...peer },
    systems,
    results,
    ratios: computeRatios(results),
    ...(memory !== undefined ? { memory } : {}),
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/** Progress bars for one system's statements. */
function barHooks(system: DmlSystem, rows: number, progress: Progress | undefined): StepHooks {
  if (progress === undefined) return {};
  let bar: ReturnType<Progress["bar"]> | undefined;
  return {
    onStepStart(step) {
      bar = progress.bar(`${system} ${step}`, rows, "rows");
    },
    onStepProgress(_step, done) {
      bar?.update(done);
    },
    onStepEnd(m) {
      bar?.stop(`${m.seconds.toFixed(3)} s`);
      bar = undefined;
    },
  };
}

function computeRatios(results: readonly DmlStepResult[]): DmlRatio[] {
  const ratios: DmlRatio[] = [];
  const find = (system: DmlSystem, step: DmlStep) =>
    results.find((r) => r.system === system && r.step === step);
  for (const c of DML_COMPARISONS) {
    for (const step of DML_STEPS) {
      const a = find(c.numerator, step);
      const b = find(c.denominator, step);
      if (a === undefined || b === undefined) continue;
      const ratio = a.rowsPerSec / b.rowsPerSec;
      ratios.push({
        name: c.name,
        numerator: c.numerator,
        denominator: c.denominator,
        step,
        ratio,
        ...(c.min !== undefined ? { min: c.min, met: ratio >= c.min } : {}),
      });
    }
  }
  return ratios;
}

// ---------------------------------------------------------------------------------------------
// Reports

function formatRate(rowsPerSec: number): string {
  return (rowsPerSec / 1e6).toFixed(rowsPerSec >= 1e7 ? 1 : 2);
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MB`;
}

/** Pads a table of cells (first column left-aligned, the rest right-aligned). */
function textTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

function ratioRows(r: DmlResult): { name: string; min?: number; cells: string[] }[] {
  const out: { name: string; min?: number; cells: string[] }[] = [];
  for (const c of DML_COMPARISONS) {
    const mine = r.ratios.filter((x) => x.name === c.name);
    if (mine.length === 0) continue;
    const cells = DML_STEPS.map((step) => {
      const x = mine.find((m) => m.step === step);
      if (x === undefined) return "-";
      return `${x.ratio.toFixed(2)}${x.met === false ? " (not met)" : ""}`;
    });
    out.push({ name: c.name, ...(c.min !== undefined ? { min: c.min } : {}), cells });
  }
  return out;
}

/** The human-readable report printed on stdout. */
export function formatDmlTable(r: DmlResult): string {
  const lines = [
    `pgsim-bench dml: ${r.rows.toLocaleString("en-US")} rows of accounts(aid int4 not null, abalance int4 not null), no index`,
    `order: ${r.order.join(", ")} (each system's four statements as a unit)`,
    "",
  ];
  const rows: string[][] = [];
  for (const step of DML_STEPS) {
    for (const system of r.order) {
      const x = r.results.find((y) => y.system === system && y.step === step);
      if (x === undefined) continue;
      rows.push([
        step,
        system,
        x.seconds.toFixed(3),
        formatRate(x.rowsPerSec),
        String(x.tableBlocks),
      ]);
    }
  }
  lines.push(...textTable(["step", "system", "seconds", "M rows/s", "table blocks"], rows), "");
  const ratios = ratioRows(r);
  if (ratios.length > 0) {
    lines.push(
      ...textTable(
        ["rows/s ratio", "target", ...DML_STEPS],
        ratios.map((x) => [x.name, x.min !== undefined ? `>= ${x.min}` : "", ...x.cells]),
      ),
      "",
    );
  }
  if (r.memory !== undefined) {
    const m = r.memory;
    lines.push(
      `memheap resident set after its run: ${mb(m.rssBytes)} = ${m.rssVsPool.toFixed(2)} x its pool of ${mb(m.poolBytes)} (target <= ${m.max}: ${m.met ? "met" : "NOT met"})${m.poolBytes < SMALL_POOL_BYTES ? "; at this size the process's fixed ~150 MB dominate: the target is for 20,000,000 rows" : ""}`,
    );
  }
  lines.push(
    r.peer.included ? `peer: ${r.peer.note}` : `peer: none (${r.peer.note})`,
    `machine: ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, ${mb(r.machine.totalMemBytes)}, node ${r.machine.node}, ${r.machine.os}`,
    `wall time: ${r.wallSeconds.toFixed(1)} s`,
    "",
  );
  return lines.join("\n");
}

/** The report as markdown (what `--out` writes to dml.md). */
export function dmlMarkdown(r: DmlResult): string {
  const lines = [
    `# pgsim-bench dml: ${r.rows.toLocaleString("en-US")} rows`,
    "",
    `${r.date}; ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, ${mb(r.machine.totalMemBytes)}, node ${r.machine.node}, ${r.machine.os}. Systems ran in this order: ${r.order.join(", ")}. Rows per second is ${r.rows.toLocaleString("en-US")} divided by the statement's seconds.`,
    "",
    `| step | ${r.order.map((s) => `${s} s`).join(" | ")} | ${r.order.map((s) => `${s} M rows/s`).join(" | ")} |`,
    `|---|${r.order.map(() => "---:").join("|")}|${r.order.map(() => "---:").join("|")}|`,
  ];
  for (const step of DML_STEPS) {
    const cells = r.order.map((system) =>
      r.results.find((x) => x.system === system && x.step === step),
    );
    lines.push(
      `| ${step} | ${cells.map((c) => (c ? c.seconds.toFixed(3) : "-")).join(" | ")} | ${cells.map((c) => (c ? formatRate(c.rowsPerSec) : "-")).join(" | ")} |`,
    );
  }
  lines.push(
    "",
    "Table size after each statement (8 KB blocks):",
    "",
    `| step | ${r.order.join(" | ")} |`,
    `|---|${r.order.map(() => "---:").join("|")}|`,
  );
  for (const step of DML_STEPS) {
    const cells = r.order.map((system) =>
      r.results.find((x) => x.system === system && x.step === step),
    );
    lines.push(`| ${step} | ${cells.map((c) => (c ? String(c.tableBlocks) : "-")).join(" | ")} |`);
  }
  const ratios = ratioRows(r);
  if (ratios.length > 0) {
    lines.push(
      "",
      `| rows/s ratio | target | ${DML_STEPS.join(" | ")} |`,
      `|---|---|${DML_STEPS.map(() => "---:").join("|")}|`,
      ...ratios.map(
        (x) =>
          `| ${x.name} | ${x.min !== undefined ? `≥ ${x.min}` : ""} | ${x.cells.join(" | ")} |`,
      ),
    );
  }
  if (r.memory !== undefined) {
    const m = r.memory;
    lines.push(
      "",
      `memheap's resident set after its run: ${mb(m.rssBytes)}, ${m.rssVsPool.toFixed(2)} × its pool of ${mb(m.poolBytes)} (target ≤ ${m.max}: ${m.met ? "met" : "not met"}).`,
    );
  }
  lines.push("", `Peer: ${r.peer.included ? r.peer.note : `none (${r.peer.note})`}`, "");
  return lines.join("\n");
}

/** Million rows per second by statement and system (log scale). */
export function dmlThroughputSpec(r: DmlResult): TopLevelSpec {
  // Bars on a log scale need a baseline above zero: the power of ten below the slowest result.
  const slowest = Math.min(...r.results.map((x) => x.rowsPerSec / 1e6));
  const baseline = 10 ** Math.floor(Math.log10(Number.isFinite(slowest) ? slowest : 1));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench dml: ${r.rows.toLocaleString("en-US")} rows`,
      subtitle: "rows per second by statement (log scale; higher is better)",
    },
    config: CHART_CONFIG,
    width: 520,
    height: 300,
    data: {
      values: r.results.map((x) => ({ system: x.system, step: x.step, mrows: x.rowsPerSec / 1e6 })),
    },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: {
        field: "step",
        type: "nominal",
        sort: [...DML_STEPS],
        title: null,
        axis: { labelAngle: 0 },
      },
      xOffset: { field: "system", type: "nominal", sort: r.order, scale: { domain: r.order } },
      y: {
        field: "mrows",
        type: "quantitative",
        title: "million rows per second",
        scale: { type: "log", domainMin: baseline },
      },
      y2: { datum: baseline },
      color: {
        field: "system",
        type: "nominal",
        sort: r.order,
        scale: { domain: r.order, scheme: "tableau10" },
        title: null,
        legend: { labelLimit: 300 },
      },
    },
  } as TopLevelSpec;
}

/** The ratios by statement, with each comparison's target as a tick. */
export function dmlRatioSpec(r: DmlResult): TopLevelSpec {
  const names = DML_COMPARISONS.map((c) => c.name).filter((n) =>
    r.ratios.some((x) => x.name === n),
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench dml: ratios of rows per second, ${r.rows.toLocaleString("en-US")} rows`,
      subtitle: "black ticks: targets",
    },
    config: CHART_CONFIG,
    width: 520,
    height: 300,
    data: {
      values: r.ratios.map((x) => ({
        comparison: x.name,
        step: x.step,
        ratio: x.ratio,
        ...(x.min !== undefined ? { target: x.min } : {}),
      })),
    },
    encoding: {
      x: {
        field: "step",
        type: "nominal",
        sort: [...DML_STEPS],
        title: null,
        axis: { labelAngle: 0 },
      },
      xOffset: { field: "comparison", type: "nominal", sort: names, scale: { domain: names } },
    },
    layer: [
      {
        mark: { type: "bar", tooltip: true },
        encoding: {
          y: { field: "ratio", type: "quantitative", title: "ratio of rows per second" },
          color: {
            field: "comparison",
            type: "nominal",
            sort: names,
            scale: { domain: names, scheme: "set2" },
            title: null,
            legend: { labelLimit: 300, orient: "bottom", direction: "vertical" },
          },
        },
      },
      {
        mark: { type: "tick", color: "black", thickness: 2 },
        encoding: { y: { field: "target", type: "quantitative" } },
      },
    ],
  } as TopLevelSpec;
}

/** Writes dml.json, dml.md and the two charts (SVG and PNG) into `outDir`; returns the paths. */
export async function writeDmlReport(r: DmlResult, outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, "dml.json");
  const md = path.join(outDir, "dml.md");
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, dmlMarkdown(r));
  const files = [json, md];
  files.push(...(await writeChart(outDir, "dml-throughput", dmlThroughputSpec(r))));
  if (r.ratios.length > 0) files.push(...(await writeChart(outDir, "dml-ratios", dmlRatioSpec(r))));
  return files;
}
