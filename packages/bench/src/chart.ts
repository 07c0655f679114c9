/**
 * Charts for the benchmark reports: a vega-lite spec is compiled to vega, rendered to SVG without
 * a browser, and rasterised to PNG with resvg.
 *
 * Models: nothing in PostgreSQL (reporting only).
 * Entry points: `renderSvg`, `svgToPng`, `writeChart`, `CHART_CONFIG`.
 * See also: micro.ts and dml.ts (their chart specs), ../../clock-sweep/src/lab/lab-chart.ts (the same
 * vega-lite → SVG → PNG steps for the replacement-policy lab: clock-sweep sits below bench in the
 * dependency order and cannot import this module, so those few lines exist twice on purpose).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { TopLevelSpec } from "vega-lite";

/** The look every bench chart shares: a font resvg finds on Debian, a white background. */
export const CHART_CONFIG = {
  font: "DejaVu Sans, Arial, sans-serif",
  background: "white",
} as const;

// vega, vega-lite and resvg are loaded when the first chart is drawn, not with the command: they
// would add some 30 MB to the resident set that `dml` measures.

/** Renders a vega-lite spec to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ parse, View }, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG document to PNG bytes (white background, twice the SVG's size). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import("@resvg/resvg-js");
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
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
  fs.writeFileSync(pngFile, await svgToPng(svg));
  return [svgFile, pngFile];
}
