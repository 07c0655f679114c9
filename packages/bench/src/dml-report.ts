/**
 * `pgsim-bench dml`'s reports: the plain-text table on stdout, the markdown file, the two charts
 * (rows per second, and the ratios against pgsim's goals), and the files `--out` writes.
 *
 * Models: nothing in PostgreSQL (reporting only).
 * Entry points: `formatDmlTable`, `dmlMarkdown`, `dmlThroughputSpec`, `dmlRatioSpec`,
 * `writeDmlReport`.
 * See also: dml.ts (`DmlResult`), dml-common.ts (`DML_SYSTEM_TRAITS`), chart.ts, ../README.md.
 *
 * Every report says, per system, what it does and skips (WAL, fsync at commit, SQL executor,
 * checksums, files, insert path), shows PostgreSQL's insert both by INSERT … SELECT and by COPY,
 * and, for repeated runs, each figure as its median with the min–max of the runs. The goals in
 * the ratio tables are pgsim's own, not PostgreSQL's; the "published" rows are the in-memory
 * table experiment's figures (EXPERIMENT_PUBLISHED), which memheap / heap is read against.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { CHART_CONFIG, valueLabelLayer, writeChart } from "./chart.js";
import {
  DML_COMPARISONS,
  type DmlComparison,
  type DmlFigure,
  type DmlResult,
  type DmlStepResult,
  figuresOf,
} from "./dml.js";
import { DML_STEPS, type DmlSystem, INSERT_PATH_LABELS, TRAIT_ASPECTS } from "./dml-common.js";
import { describeTraits, traitsInBrief } from "./traits.js";

/** Below this pool size the resident-set ratio says more about Node than about the pool. */
const SMALL_POOL_BYTES = 1 << 30;

function formatRate(rowsPerSec: number): string {
  return (rowsPerSec / 1e6).toFixed(rowsPerSec >= 1e7 ? 1 : 2);
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MB`;
}

/** A median, and with more than one run its min–max: "0.123 (0.120–0.131)". */
function withRange(
  repeat: number,
  format: (x: number) => string,
  m: number,
  lo: number,
  hi: number,
) {
  return repeat > 1 ? `${format(m)} (${format(lo)}–${format(hi)})` : format(m);
}

function secondsCell(r: DmlResult, f: DmlFigure): string {
  return withRange(r.repeat, (x) => x.toFixed(3), f.seconds, f.secondsMin, f.secondsMax);
}

function rateCell(r: DmlResult, f: DmlFigure): string {
  return withRange(r.repeat, formatRate, f.rowsPerSec, f.rowsPerSecMin, f.rowsPerSecMax);
}

/** A system's name, with the load path for PostgreSQL's insert figures. */
function seriesName(system: DmlSystem, f: DmlFigure): string {
  return f.path !== undefined ? `${system} (${INSERT_PATH_LABELS[f.path]})` : system;
}

/** What the figures are, said once above each table. */
function figuresNote(r: DmlResult): string {
  return r.repeat > 1
    ? `${r.repeat} runs of each system, in turn: every figure is the median, with the min–max of the runs.`
    : "One run of each system: every figure is one sample (--repeat N gives medians and min–max).";
}

/**
 * Pads a table of cells. `leftColumns` columns from the left are left-aligned, the rest
 * right-aligned.
 */
function textTable(header: string[], rows: string[][], leftColumns = 2): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** The "does and skips" table: one row per system, one column per aspect. */
function traitRows(r: DmlResult): string[][] {
  return r.order.map((system) => {
    const traits = r.systems[system]?.traits ?? [];
    return [
      system,
      ...TRAIT_ASPECTS.map((aspect) => traits.find((t) => t.aspect === aspect)?.short ?? "-"),
    ];
  });
}

/**
 * A comparison's goal as the table shows it, `ge` its "at least" sign: "≥ 2", or per statement
 * "≥ 1.5 / 1.7 / 1.6 / 1.3" (insert / update / delete / vacuum); "" for none.
 */
function goalText(min: DmlComparison["min"], ge: string): string {
  if (min === undefined) return "";
  if (typeof min === "number") return `${ge} ${min}`;
  return `${ge} ${DML_STEPS.map((s) => String(min[s])).join(" / ")}`;
}

/** The label of the row under a comparison that has the experiment's published ratios. */
const PUBLISHED_LABEL = "  published by the experiment";

/**
 * The ratio table's rows: one per comparison that has figures, each followed, when it has them,
 * by the experiment's published ratios.
 */
function ratioRows(r: DmlResult): { name: string; min?: DmlComparison["min"]; cells: string[] }[] {
  const out: { name: string; min?: DmlComparison["min"]; cells: string[] }[] = [];
  for (const c of DML_COMPARISONS) {
    const mine = r.ratios.filter((x) => x.name === c.name);
    if (mine.length === 0) continue;
    const cells = DML_STEPS.map((step) => {
      const x = mine.find((m) => m.step === step);
      if (x === undefined) return "-";
      const value = withRange(r.repeat, (v) => v.toFixed(2), x.ratio, x.ratioMin, x.ratioMax);
      return `${value}${x.met === false ? " (not met)" : ""}`;
    });
    out.push({ name: c.name, ...(c.min !== undefined ? { min: c.min } : {}), cells });
    const published = c.published;
    if (published !== undefined) {
      out.push({ name: PUBLISHED_LABEL, cells: DML_STEPS.map((s) => published[s].toFixed(2)) });
    }
  }
  return out;
}

/** Where the kept data directory is, and what to point PostgreSQL's tools at. */
function dataDirLines(r: DmlResult): string[] {
  const d = r.dataDir;
  if (d === undefined) return [];
  return [
    `data directory: ${d.dataDir} (pgsim-heap, shut down cleanly: latest checkpoint ${d.checkpointLsn}, REDO ${d.redoLsn}; table file ${d.tableFile})`,
    `  read it with: pg_controldata ${d.dataDir}`,
    ...(d.firstWalSegment !== undefined
      ? [`               pg_waldump --stats -p ${d.dataDir}/pg_wal ${d.firstWalSegment}`]
      : []),
    `               pgsim-inspect pg-control ${d.dataDir}`,
  ];
}

/** Which PostgreSQL load path each insert ratio used, or nothing when PostgreSQL did not run. */
function insertPathNote(r: DmlResult): string | undefined {
  const used = r.ratios
    .filter((x) => x.step === "insert" && x.denominatorPath !== undefined)
    .map((x) => `${INSERT_PATH_LABELS[x.denominatorPath!]} for ${x.denominator}`);
  if (used.length === 0) return undefined;
  return `insert ratios against PostgreSQL use its faster load path by median: ${[...new Set(used)].join(", ")}.`;
}

/** The human-readable report printed on stdout. */
export function formatDmlTable(r: DmlResult): string {
  const lines = [
    `pgsim-bench dml: ${r.rows.toLocaleString("en-US")} rows of accounts(aid int4 not null${r.primaryKey ? " primary key" : ""}, abalance int4 not null)${r.primaryKey ? ", its B-tree index kept by every statement" : ", no index"}`,
    `order: ${r.order.join(", ")} (each system's statements as a unit)`,
    figuresNote(r),
    "",
    "what each system does and skips:",
    ...textTable(["system", ...TRAIT_ASPECTS], traitRows(r), TRAIT_ASPECTS.length + 1),
    "",
  ];
  const rows: string[][] = [];
  for (const step of DML_STEPS) {
    for (const system of r.order) {
      const x = r.results.find((y) => y.system === system && y.step === step);
      if (x === undefined) continue;
      for (const f of figuresOf(x)) {
        rows.push([
          step,
          seriesName(system, f),
          secondsCell(r, f),
          rateCell(r, f),
          String(f.tableBlocks),
        ]);
      }
    }
  }
  lines.push(...textTable(["step", "system", "seconds", "M rows/s", "table blocks"], rows), "");
  const ratios = ratioRows(r);
  if (ratios.length > 0) {
    lines.push(
      ...textTable(
        ["rows/s ratio", "pgsim goal", ...DML_STEPS],
        ratios.map((x) => [x.name, goalText(x.min, ">="), ...x.cells]),
      ),
    );
    const note = insertPathNote(r);
    if (note !== undefined) lines.push(note);
    lines.push("");
  }
  lines.push(...speedOfLightLines(r));
  lines.push(...dataDirLines(r));
  if (r.memory !== undefined) {
    const m = r.memory;
    lines.push(
      `memheap resident set after its first run: ${mb(m.rssBytes)} = ${m.rssVsPool.toFixed(2)} x its pool of ${mb(m.poolBytes)} (pgsim goal <= ${m.max}: ${m.met ? "met" : "NOT met"})${m.poolBytes < SMALL_POOL_BYTES ? "; at this size the process's fixed ~150 MB dominate: the goal is for 20,000,000 rows" : ""}`,
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

/**
 * The speed of light of each statement and each pgsim system's per-row cost as a multiple of it
 * (how far from the machine each path is).
 */
function speedOfLightLines(r: DmlResult): string[] {
  const sol = r.speedOfLight;
  if (sol === undefined || sol.multiples.length === 0) return [];
  const systems = [...new Set(sol.multiples.map((m) => m.system))];
  const rows: string[][] = [
    ["speed of light", ...r.steps.map((s) => `${sol.nsPerRow[s].toFixed(1)} ns`)],
    ...systems.map((system) => [
      `${system} (x)`,
      ...r.steps.map((s) => {
        const m = sol.multiples.find((x) => x.system === system && x.step === s);
        return m === undefined ? "" : `${m.multiple.toFixed(1)}`;
      }),
    ]),
  ];
  return [...textTable(["per row", ...r.steps], rows, 1), `speed of light: ${sol.scope}`, ""];
}

/** The markdown table rows, one per step, and "insert (PostgreSQL: COPY)" after the insert. */
function markdownStepRows(r: DmlResult, cell: (f: DmlFigure) => string): string[] {
  const lines: string[] = [];
  const resultOf = (system: DmlSystem, step: string): DmlStepResult | undefined =>
    r.results.find((x) => x.system === system && x.step === step);
  const hasCopy = r.results.some((x) => x.copy !== undefined);
  for (const step of DML_STEPS) {
    const label =
      step === "insert" && hasCopy ? "insert (pgsim; PostgreSQL: INSERT … SELECT)" : step;
    const own = r.order.map((system) => resultOf(system, step));
    lines.push(`| ${label} | ${own.map((x) => (x ? cell(x) : "-")).join(" | ")} |`);
    if (step === "insert" && hasCopy) {
      const copy = own.map((x) => x?.copy);
      lines.push(
        `| insert (PostgreSQL: COPY) | ${copy.map((x) => (x ? cell(x) : "-")).join(" | ")} |`,
      );
    }
  }
  return lines;
}

/** The report as markdown (what `--out` writes to dml.md). */
export function dmlMarkdown(r: DmlResult): string {
  const rowsText = r.rows.toLocaleString("en-US");
  const lines = [
    `# pgsim-bench dml: ${rowsText} rows`,
    "",
    `${r.date}; ${r.machine.cpuModel}, ${r.machine.cpus} CPUs, ${mb(r.machine.totalMemBytes)}, node ${r.machine.node}, ${r.machine.os}. Systems ran in this order: ${r.order.join(", ")}. Rows per second is ${rowsText} divided by the statement's seconds. ${figuresNote(r)}`,
    "",
    "## What each system does and skips",
    "",
    `| system | ${TRAIT_ASPECTS.join(" | ")} |`,
    `|---|${TRAIT_ASPECTS.map(() => "---").join("|")}|`,
    ...traitRows(r).map((cells) => `| ${cells.join(" | ")} |`),
    "",
    ...r.order.map((system) => {
      const traits = r.systems[system]?.traits ?? [];
      return `- **${system}** (${describeTraits(traits)}): ${traits.map((t) => t.note).join(" ")}`;
    }),
    "",
    "## Seconds per statement",
    "",
    `| step | ${r.order.join(" | ")} |`,
    `|---|${r.order.map(() => "---:").join("|")}|`,
    ...markdownStepRows(r, (f) => secondsCell(r, f)),
    "",
    "## Million rows per second",
    "",
    `| step | ${r.order.join(" | ")} |`,
    `|---|${r.order.map(() => "---:").join("|")}|`,
    ...markdownStepRows(r, (f) => rateCell(r, f)),
    "",
    "## Table size after each statement (8 KB blocks)",
    "",
    `| step | ${r.order.join(" | ")} |`,
    `|---|${r.order.map(() => "---:").join("|")}|`,
    ...markdownStepRows(r, (f) => String(f.tableBlocks)),
  ];
  const ratios = ratioRows(r);
  if (ratios.length > 0) {
    lines.push(
      "",
      "## Ratios of rows per second",
      "",
      "The goals are pgsim's own, not PostgreSQL's. The rows \"published by the experiment\" are the in-memory table experiment's gains of a memory-only table over PostgreSQL with WAL (+50 % insert, +70 % update, +60 % delete, +30 % vacuum), which memheap / heap (logged) is read against; memheap / pg15-default has them as its goal (PostgreSQL's insert by its faster load path).",
      "",
      `| rows/s ratio | pgsim goal | ${DML_STEPS.join(" | ")} |`,
      `|---|---|${DML_STEPS.map(() => "---:").join("|")}|`,
      ...ratios.map(
        (x) =>
          `| ${x.name === PUBLISHED_LABEL ? "↳ published by the experiment" : x.name} | ${goalText(x.min, "≥")} | ${x.cells.join(" | ")} |`,
      ),
    );
    const note = insertPathNote(r);
    if (note !== undefined) lines.push("", `${note[0]!.toUpperCase()}${note.slice(1)}`);
  }
  const sol = r.speedOfLight;
  if (sol !== undefined && sol.multiples.length > 0) {
    const systems = [...new Set(sol.multiples.map((m) => m.system))];
    lines.push(
      "",
      "## Against the speed of light",
      "",
      `Each statement's speed of light is ${sol.scope}. Below it, each pgsim system's nanoseconds per row as a multiple of it.`,
      "",
      `| per row | ${r.steps.join(" | ")} |`,
      `|---|${r.steps.map(() => "---:").join("|")}|`,
      `| speed of light (ns) | ${r.steps.map((st) => sol.nsPerRow[st].toFixed(1)).join(" | ")} |`,
      ...systems.map(
        (system) =>
          `| ${system} (×) | ${r.steps
            .map((st) => {
              const m = sol.multiples.find((x) => x.system === system && x.step === st);
              return m === undefined
                ? ""
                : `${m.multiple.toFixed(1)} (${m.nsPerRow.toFixed(0)} ns)`;
            })
            .join(" | ")} |`,
      ),
    );
  }
  if (r.memory !== undefined) {
    const m = r.memory;
    lines.push(
      "",
      `memheap's resident set after its first run: ${mb(m.rssBytes)}, ${m.rssVsPool.toFixed(2)} × its pool of ${mb(m.poolBytes)} (pgsim goal ≤ ${m.max}: ${m.met ? "met" : "not met"}).`,
    );
  }
  if (r.dataDir !== undefined) {
    const d = r.dataDir;
    lines.push(
      "",
      `pgsim-heap's data directory was left at \`${d.dataDir}\` after a clean shutdown (latest checkpoint ${d.checkpointLsn}, REDO ${d.redoLsn}); the table is \`${d.tableFile}\`.`,
    );
  }
  lines.push("", `Peer: ${r.peer.included ? r.peer.note : `none (${r.peer.note})`}`, "");
  return lines.join("\n");
}

/** The series of the throughput chart: each system, and PostgreSQL's COPY after its insert. */
function throughputSeries(r: DmlResult): string[] {
  const series: string[] = [];
  for (const system of r.order) {
    series.push(system);
    if (r.results.some((x) => x.system === system && x.copy !== undefined)) {
      series.push(`${system} COPY`);
    }
  }
  return series;
}

/** Million rows per second by statement and system (log scale), each bar labelled. */
export function dmlThroughputSpec(r: DmlResult): TopLevelSpec {
  const values = r.results.flatMap((x) =>
    figuresOf(x).map((f) => ({
      system: f.path === "copy" ? `${x.system} COPY` : x.system,
      step: x.step,
      mrows: f.rowsPerSec / 1e6,
      mrowsMin: f.rowsPerSecMin / 1e6,
      mrowsMax: f.rowsPerSecMax / 1e6,
    })),
  );
  // Bars on a log scale need a baseline above zero: the power of ten below the slowest result.
  const slowest = Math.min(...values.map((x) => x.mrowsMin));
  const baseline = 10 ** Math.floor(Math.log10(Number.isFinite(slowest) ? slowest : 1));
  // Room above the fastest bar for its upright label: up to the power of ten above 3 × its top.
  const fastest = Math.max(...values.map((x) => x.mrowsMax));
  const ceiling = 10 ** Math.ceil(Math.log10(Number.isFinite(fastest) ? fastest * 3 : 10));
  const series = throughputSeries(r);
  const x = {
    field: "step",
    type: "nominal",
    sort: [...DML_STEPS],
    title: null,
    axis: { labelAngle: 0 },
  };
  const xOffset = { field: "system", type: "nominal", sort: series, scale: { domain: series } };
  const y = {
    field: "mrows",
    type: "quantitative",
    title: "million rows per second",
    scale: { type: "log", domain: [baseline, ceiling] },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench dml: ${r.rows.toLocaleString("en-US")} rows`,
      subtitle: [
        "million rows per second by statement (log scale; higher is better)",
        r.repeat > 1
          ? `median of ${r.repeat} runs; black lines: min–max`
          : "one run (--repeat N gives medians and min–max)",
        ...r.order.map((s) => `${s}: ${traitsInBrief(r.systems[s]?.traits ?? [])}`),
      ],
    },
    config: CHART_CONFIG,
    width: 640,
    height: 320,
    data: { values },
    encoding: { x, xOffset },
    layer: [
      {
        mark: { type: "bar", tooltip: true },
        encoding: {
          y,
          y2: { datum: baseline },
          color: {
            field: "system",
            type: "nominal",
            sort: series,
            scale: { domain: series, scheme: "tableau10" },
            title: null,
            legend: { labelLimit: 300 },
          },
        },
      },
      ...(r.repeat > 1
        ? [
            {
              mark: { type: "rule", color: "black" },
              encoding: { y: { ...y, field: "mrowsMin" }, y2: { field: "mrowsMax" } },
            },
          ]
        : []),
      valueLabelLayer({
        field: "mrows",
        format: ".3~r",
        y,
        angle: -90,
        ...(r.repeat > 1 ? { positionField: "mrowsMax" } : {}),
      }),
    ],
  } as TopLevelSpec;
}

/**
 * The ratios by statement, each bar labelled, with pgsim's goals (black) and the experiment's
 * published ratios (red) as ticks.
 */
export function dmlRatioSpec(r: DmlResult): TopLevelSpec {
  const names = DML_COMPARISONS.map((c) => c.name).filter((n) =>
    r.ratios.some((x) => x.name === n),
  );
  const y = { field: "ratio", type: "quantitative", title: "ratio of rows per second" };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench dml: ratios of rows per second, ${r.rows.toLocaleString("en-US")} rows`,
      subtitle: [
        "black ticks: pgsim's own goals; red ticks: the in-memory table experiment's published ratios",
        r.repeat > 1 ? `median of ${r.repeat} per-run ratios; grey lines: min–max` : "one run",
        ...(r.ratios.some((x) => x.denominatorPath === "copy")
          ? ["insert against PostgreSQL's faster load path (COPY or INSERT … SELECT)"]
          : []),
      ],
    },
    config: CHART_CONFIG,
    width: 520,
    height: 300,
    data: {
      values: r.ratios.map((x) => ({
        comparison: x.name,
        step: x.step,
        ratio: x.ratio,
        ratioMin: x.ratioMin,
        ratioMax: x.ratioMax,
        ...(x.min !== undefined ? { goal: x.min } : {}),
        ...(x.published !== undefined ? { published: x.published } : {}),
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
          y,
          color: {
            field: "comparison",
            type: "nominal",
            sort: names,
            scale: { domain: names, scheme: "set2" },
            title: null,
            legend: { labelLimit: 480, orient: "bottom", direction: "vertical" },
          },
        },
      },
      ...(r.repeat > 1
        ? [
            {
              mark: { type: "rule", color: "#555" },
              encoding: {
                y: { field: "ratioMin", type: "quantitative" },
                y2: { field: "ratioMax" },
              },
            },
          ]
        : []),
      {
        mark: { type: "tick", color: "black", thickness: 2 },
        encoding: { y: { field: "goal", type: "quantitative" } },
      },
      {
        mark: { type: "tick", color: "#d62728", thickness: 2 },
        encoding: { y: { field: "published", type: "quantitative" } },
      },
      valueLabelLayer({
        field: "ratio",
        format: ".2f",
        y,
        ...(r.repeat > 1 ? { positionField: "ratioMax" } : {}),
      }),
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
