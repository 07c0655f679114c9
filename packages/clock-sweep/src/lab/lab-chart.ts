/**
 * The replacement-policy lab's chart: miss ratio against pool size, one line per policy, drawn
 * with vega-lite into SVG and rasterised to PNG with resvg — no browser, no canvas.
 *
 * Models: nothing in PostgreSQL; the miss-ratio curve is the classic way caching papers (ARC, 2Q,
 * LRU-K, SIEVE) compare policies.
 * Entry points: `comparisonChartSpec`, `renderComparisonSvg`, `writeComparisonReport`.
 * See also: lab.ts (the numbers), chart.ts (spec → SVG → PNG, shared with pgsim-bench),
 * ../repl/cli.ts (`pgsim-clock compare --out DIR`).
 *
 * vega, vega-lite and @resvg/resvg-js are loaded when a chart is first drawn, not when this module
 * is imported: the lab's numbers, and everything else in the package, run without them.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { TopLevelSpec } from "vega-lite";
import { renderSvg, svgToPng } from "./chart.js";
import type { Comparison } from "./lab.js";

/** One point of the chart. */
interface ChartRow {
  policy: string;
  buffers: number;
  reads: string;
  missRatio: number;
}

function chartRows(c: Comparison): ChartRow[] {
  const rows: ChartRow[] = [];
  for (const r of c.results) {
    if (r.failed !== undefined || r.accesses === 0) continue;
    rows.push({
      policy: r.policy,
      buffers: r.bufferCount,
      reads: "all reads",
      missRatio: 1 - r.hits / r.accesses,
    });
    const unmarked = r.accesses - r.markedAccesses;
    if (c.markedAccesses > 0 && unmarked > 0) {
      rows.push({
        policy: r.policy,
        buffers: r.bufferCount,
        reads: "reads not marked with a strategy",
        missRatio: 1 - (r.hits - r.markedHits) / unmarked,
      });
    }
  }
  return rows;
}

/**
 * The vega-lite spec of the miss-ratio chart: pool size (log scale) across, miss ratio up; with a
 * second panel for the unmarked reads when the trace marks some reads with a strategy.
 */
export function comparisonChartSpec(c: Comparison): TopLevelSpec {
  const twoPanels = c.markedAccesses > 0;
  const layer = {
    mark: { type: "line" as const, point: true },
    encoding: {
      x: {
        field: "buffers",
        type: "quantitative" as const,
        title: "pool size (buffers)",
        scale: { type: "log" as const, base: 2 },
        axis: { values: c.bufferCounts },
      },
      y: {
        field: "missRatio",
        type: "quantitative" as const,
        title: "miss ratio",
        axis: { format: "%" },
        scale: { domainMin: 0 },
      },
      color: {
        field: "policy",
        type: "nominal" as const,
        sort: c.policies,
        scale: { domain: c.policies, scheme: "category10" },
        legend: { symbolType: "stroke", symbolStrokeWidth: 2, symbolSize: 300 },
      },
      // Dashes tell apart lines that lie on top of each other; one legend shows colour and dash.
      strokeDash: {
        field: "policy",
        type: "nominal" as const,
        sort: c.policies,
        scale: { domain: c.policies },
      },
    },
  };
  const title = {
    text: `Miss ratio by pool size: trace ${c.trace}`,
    subtitle: `${c.accesses} reads of ${c.distinctPages} distinct pages`,
  };
  const base = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    data: { values: chartRows(c) },
    config: { font: "DejaVu Sans, Arial, sans-serif", background: "white" },
  };
  if (!twoPanels) {
    return { ...base, width: 420, height: 300, ...layer } as TopLevelSpec;
  }
  return {
    ...base,
    facet: { column: { field: "reads", type: "nominal", title: null } },
    spec: { width: 360, height: 280, ...layer },
  } as TopLevelSpec;
}

/** Renders the chart to an SVG document. */
export function renderComparisonSvg(c: Comparison): Promise<string> {
  return renderSvg(comparisonChartSpec(c));
}

export interface ComparisonReportFiles {
  svg: string;
  png: string;
  json: string;
}

/**
 * Writes `<trace>-miss-ratio.svg`, `<trace>-miss-ratio.png` and `<trace>-results.json` into
 * `outDir` (created if missing).
 */
export async function writeComparisonReport(
  c: Comparison,
  outDir: string,
): Promise<ComparisonReportFiles> {
  fs.mkdirSync(outDir, { recursive: true });
  const stem =
    path
      .basename(c.trace)
      .replace(/\.[^.]*$/, "")
      .replace(/[^\w.-]+/g, "-") || "trace";
  const files = {
    svg: path.join(outDir, `${stem}-miss-ratio.svg`),
    png: path.join(outDir, `${stem}-miss-ratio.png`),
    json: path.join(outDir, `${stem}-results.json`),
  };
  const svg = await renderComparisonSvg(c);
  fs.writeFileSync(files.svg, svg);
  fs.writeFileSync(files.png, svgToPng(svg));
  fs.writeFileSync(files.json, `${JSON.stringify(c, null, 2)}\n`);
  return files;
}
