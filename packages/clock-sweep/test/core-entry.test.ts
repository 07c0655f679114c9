/**
 * The package's layers: `@pgsim/clock-sweep` is the algorithm alone. Importing it loads none of
 * the lab's or the REPL's modules and no other package; importing `@pgsim/clock-sweep/lab` loads
 * no chart library until a chart is drawn.
 *
 * Checked twice: on the source (the import graph from src/index.ts, as vitest and tsx load it) and
 * on the built package (a child node process with a module resolve hook that logs every module it
 * loads, as a user's program loads it). `npm test` builds first; when developing, build with
 * `npx tsc -b packages/clock-sweep`.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const src = path.join(pkg, "src");
const dist = path.join(pkg, "dist");
const root = path.resolve(pkg, "../..");

/** The algorithm's modules: everything `@pgsim/clock-sweep` may load. */
const CORE = [
  "access-strategy",
  "buf-headers",
  "buf-state",
  "errors",
  "freelist",
  "index",
  "pg-config",
  "prng",
  "simple-pool",
];

/** Every import specifier of a TypeScript file: static, re-exports, type-only and dynamic. */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(
    /^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"|^\s*import\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/gms,
  )) {
    found.push((m[1] ?? m[2] ?? m[3])!);
  }
  return found;
}

/** The files reachable from `entry` through relative imports, and the other specifiers met. */
function importGraph(entry: string): { files: string[]; external: string[] } {
  const files = new Set<string>();
  const external = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const s of specifiers(file)) {
      if (s.startsWith(".")) visit(path.resolve(path.dirname(file), s.replace(/\.js$/, ".ts")));
      else external.add(s);
    }
  };
  visit(entry);
  return { files: [...files].map((f) => path.relative(src, f)).sort(), external: [...external] };
}

let dir = "";
beforeAll(() => {
  if (!fs.existsSync(path.join(dist, "index.js"))) {
    throw new Error(`${dist} is missing: build first (npx tsc -b packages/clock-sweep)`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-core-entry-"));
  // A resolve hook (node:module register) that appends each resolved module URL to a log file.
  fs.writeFileSync(
    path.join(dir, "hooks.mjs"),
    [
      'import { appendFileSync } from "node:fs";',
      "export async function resolve(specifier, context, nextResolve) {",
      "  const result = await nextResolve(specifier, context);",
      '  appendFileSync(process.env.PGSIM_MODULE_LOG, result.url + "\\n");',
      "  return result;",
      "}",
    ].join("\n"),
  );
  fs.writeFileSync(
    path.join(dir, "register.mjs"),
    'import { register } from "node:module";\nregister("./hooks.mjs", import.meta.url);\n',
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Runs `code` (an ES module, from the repository root) in a fresh node with the logging hook, and
 * returns the ES modules it resolved and the CommonJS modules it required.
 */
function modulesLoadedBy(code: string): { esm: string[]; cjs: string[] } {
  const log = path.join(dir, `log-${Math.random().toString(36).slice(2)}.txt`);
  fs.writeFileSync(log, "");
  const script = `${code}
import { createRequire } from "node:module";
process.stdout.write(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  const stdout = execFileSync(
    process.execPath,
    [
      "--import",
      pathToFileURL(path.join(dir, "register.mjs")).href,
      "--input-type=module",
      "-e",
      script,
    ],
    { cwd: root, encoding: "utf8", env: { ...process.env, PGSIM_MODULE_LOG: log } },
  );
  const esm = fs
    .readFileSync(log, "utf8")
    .split("\n")
    .filter((u) => u.startsWith("file:"))
    .map((u) => fileURLToPath(u));
  return { esm: [...new Set(esm)], cjs: JSON.parse(stdout) as string[] };
}

const loads = (files: string[], name: string) =>
  files.some((f) => f.split(path.sep).includes(name));

describe("@pgsim/clock-sweep is the algorithm alone", () => {
  it("in the source: src/index.ts reaches only the core modules, and imports no package", () => {
    const graph = importGraph(path.join(src, "index.ts"));
    expect(graph.files).toEqual(CORE.map((m) => `${m}.ts`).sort());
    expect(graph.external).toEqual([]);
  });

  it("built: importing @pgsim/clock-sweep loads the core modules and nothing else", () => {
    const { esm, cjs } = modulesLoadedBy('await import("@pgsim/clock-sweep");');
    expect(esm.map((f) => path.relative(dist, f)).sort()).toEqual(
      CORE.map((m) => `${m}.js`).sort(),
    );
    expect(cjs).toEqual([]);
  });

  it("built: importing @pgsim/clock-sweep/lab loads the lab but no chart library; drawing a chart loads them", () => {
    const lab = modulesLoadedBy('await import("@pgsim/clock-sweep/lab");');
    expect(lab.esm.some((f) => f === path.join(dist, "lab", "lab.js"))).toBe(true);
    expect(lab.esm.some((f) => f.startsWith(path.join(dist, "repl")))).toBe(false);
    for (const name of ["vega", "vega-lite", "@resvg"]) {
      expect(loads(lab.esm, name), name).toBe(false);
      expect(loads(lab.cjs, name), name).toBe(false);
    }
    // The same check sees the libraries once a chart is drawn: it would catch an eager import.
    const chart = modulesLoadedBy(`
      const lab = await import("@pgsim/clock-sweep/lab");
      const c = lab.compareReplacementPolicies(lab.scanFloodTrace({ rounds: 1 }), { bufferCounts: [8], policies: ["lru"] });
      lab.svgToPng(await lab.renderComparisonSvg(c));`);
    expect(loads(chart.esm, "vega")).toBe(true);
    expect(loads(chart.esm, "vega-lite")).toBe(true);
    expect(loads(chart.cjs, "@resvg")).toBe(true);
  });
});
