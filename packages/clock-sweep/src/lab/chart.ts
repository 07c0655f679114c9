/**
 * Drawing a chart without a browser: a vega-lite spec compiled and rendered to SVG by vega's
 * headless view, and the SVG rasterised to PNG with resvg. The one chart module of pgsim: the
 * lab's miss-ratio chart (lab-chart.ts) and every `pgsim-bench` chart (bench's chart.ts) use it.
 *
 * Models: pgsim only (reporting; nothing in PostgreSQL).
 * Entry points: `renderSvg`, `svgToPng`.
 * See also: lab-chart.ts, ../../../bench/src/chart.ts.
 *
 * vega, vega-lite and @resvg/resvg-js are loaded when a chart is first drawn, not when this module
 * is imported: they would add some 30 MB to a process that draws no chart (and to the resident
 * set `pgsim-bench dml` measures).
 */

import { createRequire } from "node:module";
import type { TopLevelSpec } from "vega-lite";

/** resvg is a native (N-API) CommonJS package: `require` loads it synchronously, on first use. */
const require = createRequire(import.meta.url);

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
export function svgToPng(svg: string): Uint8Array {
  const { Resvg } = require("@resvg/resvg-js") as typeof import("@resvg/resvg-js");
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}
