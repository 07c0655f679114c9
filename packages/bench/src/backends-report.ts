/**
 * `pgsim-bench backends`' reports: the plain-text table on stdout, the markdown file, the chart
 * (throughput and latency against clients), and the files `--out` writes.
 *
 * Models: nothing in PostgreSQL (reporting only); the columns are pgbench's (tps, latency).
 * Entry points: `formatBackendsTable`, `backendsMarkdown`, `backendsChartSpec`,
 * `backendsReportStem`, `writeBackendsReport`.
 * See also: backends.ts (`BackendsResult`), chart.ts, ../README.md ("backends"), ../RESULTS.md.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { BackendsResult, BackendsTarget } from "./backends.js";
import type { BackendsPoint } from "./backends-run.js";
import { formatMs, formatTps } from "./backends-stats.js";
import { CHART_CONFIG, writeChart } from "./chart.js";
import { describeTraits } from "./traits.js";

function pointCells(p: BackendsPoint): string[] {
  return [
    String(p.backends),
    String(p.clients),
    formatTps(p.tps),
    formatMs(p.latency.p50Ms),
    formatMs(p.latency.p95Ms),
    formatMs(p.latency.p99Ms),
    p.cpuPct.toFixed(0),
    p.mainThreadBusyPct.toFixed(0),
  ];
}

const POINT_HEADER = [
  "backends",
  "clients",
  "tps",
  "p50 ms",
  "p95 ms",
  "p99 ms",
  "cpu %",
  "main %",
];

function describeMix(r: BackendsResult): string {
  return r.statements === 1 ? r.mode : `${r.mode} (${r.statements} SELECTs per transaction)`;
}

function describeRun(r: BackendsResult): string {
  return `${describeMix(r)}, ${r.variant}, ${r.accounts.toLocaleString("en-US")} accounts, ${r.bufferCount} buffers, ${r.seconds} s per point after ${r.warmupSeconds} s warm-up`;
}

function describeTarget(t: BackendsTarget): string {
  return `${t.description}: ${t.value.toFixed(2)} (pgsim goal ${t.target}): ${t.met ? "met" : "NOT met"}`;
}

/** The report as plain text (stdout without --json). */
export function formatBackendsTable(r: BackendsResult): string {
  const rows = [POINT_HEADER, ...r.points.map(pointCells)];
  const poolerRows = [POINT_HEADER, ...r.pooler.map(pointCells)];
  const widths = POINT_HEADER.map((_, i) =>
    Math.max(...[...rows, ...poolerRows].map((row) => row[i]!.length)),
  );
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join("  ");
  return [
    `pgsim-bench backends: ${describeRun(r)}`,
    `what pgsim (${r.variant}) does and skips: ${r.traits.map((t) => `${t.aspect}: ${t.short}`).join("; ")}`,
    "",
    ...rows.map(line),
    "",
    "pooler alone (noop: no transaction):",
    ...poolerRows.map(line),
    "",
    `direct (main thread's own backend, no pooler): ${formatTps(r.direct.tps)} tps, ${r.direct.usPerTransaction.toFixed(1)} µs per transaction`,
    `index: ${r.index.indexInserts} non-HOT updates (index inserts), ${r.index.fallbackScans} fallback scans`,
    ...r.targets.map(describeTarget),
    "",
  ].join("\n");
}

/** The report as markdown (what `--out` writes): the points, the pooler, the targets. */
export function backendsMarkdown(r: BackendsResult): string {
  const m = r.machine;
  const table = (points: BackendsPoint[]): string[] => [
    `| ${POINT_HEADER.join(" | ")} |`,
    `|${POINT_HEADER.map(() => "---:").join("|")}|`,
    ...points.map((p) => `| ${pointCells(p).join(" | ")} |`),
  ];
  const pivot = [
    `| clients | ${r.backends.map((b) => `${b} backend${b === 1 ? "" : "s"}: tps (p99 ms)`).join(" | ")} |`,
    `|---:|${r.backends.map(() => "---:").join("|")}|`,
    ...r.clients.map((c) => {
      const cells = r.backends.map((b) => {
        const p = r.points.find((x) => x.backends === b && x.clients === c);
        return p ? `${formatTps(p.tps)} (${formatMs(p.latency.p99Ms)})` : "-";
      });
      return `| ${c} | ${cells.join(" | ")} |`;
    }),
  ];
  return [
    `# pgsim-bench backends: ${r.mode}`,
    "",
    `${r.date}; ${describeRun(r)}. ${m.cpuModel}, ${m.cpus} CPUs, node ${m.node}, ${m.os}. Load average before / after: ${r.loadAverage.before.map((x) => x.toFixed(2)).join(" ")} / ${r.loadAverage.after.map((x) => x.toFixed(2)).join(" ")}.`,
    "",
    `What pgsim (${r.variant}) does and skips here (${describeTraits(r.traits)}):`,
    "",
    "| aspect | | |",
    "|---|---|---|",
    ...r.traits.map((t) => `| ${t.aspect} | ${t.short} | ${t.note} |`),
    "",
    ...pivot,
    "",
    ...table(r.points),
    "",
    "`cpu %`: CPU time of the whole process (all threads) over the window, in % of one core. `main %`: the main thread's event-loop utilization (clients and pooler).",
    "",
    "Pooler alone (`noop`: a call that starts no transaction):",
    "",
    ...table(r.pooler),
    "",
    `Direct (the transaction in a loop on the main thread's own backend, no pooler): ${formatTps(r.direct.tps)} tps, ${r.direct.usPerTransaction.toFixed(1)} µs per transaction.`,
    "",
    `Accounts index: ${r.index.indexInserts} non-HOT updates (index inserts), ${r.index.fallbackScans} fallback scans.`,
    ...(r.targets.length > 0
      ? [
          "",
          "| pgsim goal | value | wanted | met |",
          "|---|---:|---|---|",
          ...r.targets.map(
            (t) =>
              `| ${t.description} | ${t.value.toFixed(2)} | ${t.target} | ${t.met ? "yes" : "no"} |`,
          ),
        ]
      : []),
    "",
  ].join("\n");
}

/** Throughput and latency (p50 dashed, p99 solid) against clients, one line per backend count. */
export function backendsChartSpec(r: BackendsResult): TopLevelSpec {
  const series = (b: number): string => `${b} backend${b === 1 ? "" : "s"}`;
  const order = r.backends.map(series);
  const values = r.points.map((p) => ({
    backends: series(p.backends),
    clients: p.clients,
    tps: p.tps,
    p50: p.latency.p50Ms,
    p99: p.latency.p99Ms,
  }));
  const x = {
    field: "clients",
    type: "quantitative",
    title: "clients",
    scale: { type: "log", base: 2 },
    axis: { values: r.clients, format: "d" },
  };
  const color = {
    field: "backends",
    type: "nominal",
    title: null,
    sort: order,
    scale: { domain: order, scheme: "tableau10" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `pgsim-bench backends: ${describeMix(r)}, ${r.variant}, ${r.accounts.toLocaleString("en-US")} accounts`,
      subtitle: `${r.seconds} s per point; ${r.machine.cpus} CPUs; clients, pooler and backends in one process`,
    },
    config: CHART_CONFIG,
    data: { values },
    hconcat: [
      {
        width: 320,
        height: 260,
        title: "throughput",
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x,
          y: { field: "tps", type: "quantitative", title: "transactions per second" },
          color,
        },
      },
      {
        width: 320,
        height: 260,
        title: "latency: p99 solid, p50 dashed (log scale)",
        transform: [{ fold: ["p50", "p99"], as: ["percentile", "ms"] }],
        mark: { type: "line", point: true, tooltip: true },
        encoding: {
          x,
          y: { field: "ms", type: "quantitative", title: "milliseconds", scale: { type: "log" } },
          color,
          strokeDash: {
            field: "percentile",
            type: "nominal",
            title: null,
            scale: {
              domain: ["p99", "p50"],
              range: [
                [1, 0],
                [4, 3],
              ],
            },
            legend: null,
          },
          detail: { field: "percentile" },
        },
      },
    ],
  } as TopLevelSpec;
}

/**
 * The stem of the report's files: backends-<mode>-<variant>, or backends-<mode>-<N>stmt-<variant>
 * with N SELECTs per transaction.
 */
export function backendsReportStem(
  r: Pick<BackendsResult, "mode" | "variant" | "statements">,
): string {
  const statements = r.statements === 1 ? "" : `-${r.statements}stmt`;
  return `backends-${r.mode}${statements}-${r.variant}`;
}

/** Writes <stem>.json, <stem>.md, <stem>.svg and <stem>.png into `outDir`; returns the paths. */
export async function writeBackendsReport(r: BackendsResult, outDir: string): Promise<string[]> {
  fs.mkdirSync(outDir, { recursive: true });
  const stem = backendsReportStem(r);
  const json = path.join(outDir, `${stem}.json`);
  const md = path.join(outDir, `${stem}.md`);
  fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(md, backendsMarkdown(r));
  return [json, md, ...(await writeChart(outDir, stem, backendsChartSpec(r)))];
}
