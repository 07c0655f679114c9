/**
 * Charts for the benchmark reports: the look they share, bar value labels, and writing SVG + PNG
 * files. Drawing itself (vega-lite spec → SVG → PNG, no browser) is the one chart module of pgsim,
 * `@pgsim/clock-sweep/lab`'s chart.ts, which the replacement-policy lab uses too.
 *
 * Models: pgsim only (reporting; nothing in PostgreSQL).
 * Entry points: `writeChart`, `CHART_CONFIG`, `valueLabelLayer` (a bar's value printed at its end:
 * every bench bar chart labels its bars); `renderSvg` and `svgToPng` re-exported.
 * See also: micro.ts, dml-report.ts and backends-report.ts (their chart specs),
 * ../../clock-sweep/src/lab/chart.ts.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { renderSvg, svgToPng } from "@pgsim/clock-sweep/lab";
import type { TopLevelSpec } from "vega-lite";

export { renderSvg, svgToPng };

/** The look every bench chart shares: a font resvg finds on Debian, a white background. */
export const CHART_CONFIG = {
  font: "DejaVu Sans, Arial, sans-serif",
  background: "white",
} as const;

/** Options of `valueLabelLayer`. */
export interface ValueLabelOptions {
  /** The data field holding the bar's value. */
  field: string;
  /**
   * The field giving where the label goes, when not at the bar's end: e.g. the top of its
   * min–max line, so that the line does not run through the label.
   */
  positionField?: string;
  /** A d3 number format for the label, e.g. ".2f" or ".3~r". */
  format: string;
  /** The bar's value encoding (its `y`, or its `x` for horizontal bars), reused by the label. */
  y?: object;
  x?: object;
  /** -90: the label stands upright above the bar (for narrow bars). Default: horizontal. */
  angle?: -90;
}

/**
 * A vega-lite layer that prints each bar's value at the bar's end: above a vertical bar (`y`),
 * right of a horizontal one (`x`). Put it in the same `layer` array as the bars, which share
 * their `x`/`xOffset` (or `y`) encodings through the parent.
 *
 * @example
 * ```ts
 * const y = { field: "ratio", type: "quantitative" };
 * const spec = { layer: [{ mark: "bar", encoding: { y } }, valueLabelLayer({ field: "ratio", format: ".2f", y })] };
 * ```
 */
export function valueLabelLayer(options: ValueLabelOptions): object {
  const horizontal = options.x !== undefined;
  const mark = horizontal
    ? { type: "text", fontSize: 10, align: "left", baseline: "middle", dx: 3 }
    : options.angle === -90
      ? { type: "text", fontSize: 9, angle: -90, align: "left", baseline: "middle", dx: 3 }
      : { type: "text", fontSize: 10, baseline: "bottom", dy: -2 };
  const at = (channel: object | undefined) =>
    options.positionField !== undefined ? { ...channel, field: options.positionField } : channel;
  return {
    mark,
    encoding: {
      ...(horizontal ? { x: at(options.x) } : { y: at(options.y) }),
      text: { field: options.field, type: "quantitative", format: options.format },
      color: { value: "black" },
    },
  };
}

/**
 * Writes `<dir>/<stem>.svg` and `<dir>/<stem>.png` for a vega-lite spec; returns their paths.
 *
 * @example
 * ```ts
 * await writeChart("bench-out", "dml-throughput", spec); // bench-out/dml-throughput.{svg,png}
 * ```
 */
export async function writeChart(dir: string, stem: string, spec: TopLevelSpec): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const svg = await renderSvg(spec);
  const svgFile = path.join(dir, `${stem}.svg`);
  const pngFile = path.join(dir, `${stem}.png`);
  fs.writeFileSync(svgFile, svg);
  fs.writeFileSync(pngFile, svgToPng(svg));
  return [svgFile, pngFile];
}
