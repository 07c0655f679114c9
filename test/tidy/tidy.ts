/**
 * The tidy checks: rules about the source tree itself that no compiler enforces — no import cycle,
 * no import from a higher layer, a header on every source file saying what it models. They run over
 * a list of files (path and text), so a test can feed them the repository or a deliberately bad
 * fixture tree.
 *
 * Models: pgsim only (after TigerBeetle's tidy.zig: style rules checked by a test, not by review).
 * Entry points: `tidy`, `checkCycles`, `checkLayers`, `checkHeaders`, `parseImports`, `LAYERS`.
 * See also: ../tidy.test.ts, ../../packages/heap-am/README.md (the layer map).
 */

import { posix } from "node:path";

/** One file of the tree: a repository-relative POSIX path and its text. */
export interface TreeFile {
  readonly path: string;
  readonly text: string;
}

/** One broken rule, with the file (and line) where it is broken. */
export interface Violation {
  readonly rule: "cycle" | "layer" | "header";
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

/** An import or re-export of a module, as written in the source. */
export interface ImportRef {
  readonly specifier: string;
  readonly line: number;
  readonly typeOnly: boolean;
}

const IMPORT_RE =
  /(?:^|[;\s])(import|export)\s+(type\s+)?(?:[\w*{}\s,$]*?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** Every `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")` of a file. */
export function parseImports(text: string): ImportRef[] {
  // Strip comments so that an example in a doc comment is not taken for an import; keep newlines
  // so that line numbers stay right.
  const code = text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`])\/\/.*$/gm, (_m, p: string) => p);
  const refs: ImportRef[] = [];
  for (const m of code.matchAll(IMPORT_RE)) {
    const specifier = m[3] ?? m[4];
    if (specifier === undefined) continue;
    const line = code.slice(0, m.index).split("\n").length + (m[0].startsWith("\n") ? 1 : 0);
    refs.push({ specifier, line, typeOnly: m[2] !== undefined });
  }
  return refs;
}

/** Resolves a relative specifier of `from` to a file of the tree (`.js` written for `.ts`). */
function resolveRelative(
  from: string,
  specifier: string,
  paths: ReadonlySet<string>,
): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  for (const candidate of [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, `${base}/index.ts`]) {
    if (paths.has(candidate)) return candidate;
  }
  return null;
}

function sourceFiles(files: readonly TreeFile[]): TreeFile[] {
  return files.filter(
    (f) => /^packages\/[^/]+\/src\/.*\.ts$/.test(f.path) && !f.path.endsWith(".d.ts"),
  );
}

/**
 * No import cycle among source files: Tarjan's strongly connected components over the relative
 * imports (type-only ones included — a cycle of types is still a cycle of concepts).
 */
export function checkCycles(files: readonly TreeFile[]): Violation[] {
  const src = sourceFiles(files);
  const paths = new Set(src.map((f) => f.path));
  const edges = new Map<string, string[]>();
  for (const f of src) {
    const out: string[] = [];
    for (const ref of parseImports(f.text)) {
      const to = resolveRelative(f.path, ref.specifier, paths);
      if (to !== null && to !== f.path) out.push(to);
    }
    edges.set(f.path, out);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => ({
    rule: "cycle",
    file: c[0] ?? "",
    message: `import cycle among ${c.length} files: ${c.join(" ↔ ")}`,
  }));
}

/**
 * The layers, lowest first. Packages: clock-sweep → buffer-manager → heap-am → bench. Inside a
 * package, folders (longest matching prefix of the path under src/) are ranked; a file may import
 * only from its own rank or below. A folder not listed takes the rank of the package's "*" entry.
 *
 * heap-am, bottom to top: include/ (headers: formats, constants, shared types), common/, port/ → storage/ (pages,
 * FSM, forks) → utils/adt/ (datatypes) → access/common/ (tuples) → access/transam/ → utils/time/
 * (snapshots) → catalog/ → utils/cache/ (relation entries) → access/table/ (the table AM interface
 * and its types) → access/heap/ (one AM) → access/index/ (the index AM interface) → access/nbtree/
 * → inspect/ (offline decoders) → executor/ (index maintenance and scans) → database/ (shared memory
 * and attaching, the statements, live introspection: the parts of the Database API) → database.ts
 * (the Database class) → postmaster/ (workers, pooler) → testing/ → index.ts, internals.ts.
 */
export const PACKAGE_ORDER = ["clock-sweep", "buffer-manager", "heap-am", "bench"] as const;

export const LAYERS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  "clock-sweep": [["*"], ["lab"], ["repl"], ["cli.ts", "internals.ts"]],
  "buffer-manager": [["*"]],
  "heap-am": [
    // include/ (header-like constants and layouts), common/ (code PostgreSQL shares between
    // frontend and backend, e.g. pglz) and port/ (src/port: pg_qsort) need nothing of the backend.
    ["include", "common", "port"],
    // storage/ipc (the transaction system's shared memory and the proc array) and storage/lmgr
    // (waiting for a transaction, the deadlock check) are the bottom of the backend, as in
    // PostgreSQL, where bufmgr and everything above use shared memory and locks. They need only
    // include/ (special xids, TransactionIdPrecedes and friends, the Snapshot type), so access/
    // (varsup, clog, transam, the heap) builds on them and never the other way round.
    ["storage/ipc"],
    ["storage/lmgr"],
    ["storage"],
    ["utils/adt"],
    ["access/common"],
    ["access/transam"],
    ["utils/activity"],
    ["utils/time"],
    ["catalog"],
    ["utils/cache"],
    ["access/table"],
    ["access/heap"],
    // The index AM interface (amapi, indexam, genam) builds on the table AM (index fetches,
    // table_index_build_scan); nbtree implements it.
    ["access/index"],
    ["access/nbtree"],
    ["inspect"],
    // The executor's index parts (ExecInsertIndexTuples, index and index-only scans) call the
    // index AM and the heap's visibility map; the statements (database/) call them.
    ["executor"],
    ["database"],
    ["database.ts", "*"],
    ["postmaster"],
    // The testing entry (@pgsim/heap-am/testing) sends fault-injection ops through the Cluster.
    ["testing.ts"],
    ["index.ts", "internals.ts"],
  ],
  bench: [["*"]],
};

function packageOf(path: string): string | null {
  return /^packages\/([^/]+)\/src\//.exec(path)?.[1] ?? null;
}

/** The rank of a source file inside its package, and the folder that gave it. */
export function layerOf(path: string): { rank: number; layer: string } | null {
  const pkg = packageOf(path);
  if (pkg === null) return null;
  const layers = LAYERS[pkg];
  if (layers === undefined) return null;
  const inner = path.slice(`packages/${pkg}/src/`.length);
  let best: { rank: number; layer: string; length: number } | null = null;
  let star: { rank: number; layer: string } | null = null;
  layers.forEach((names, rank) => {
    for (const name of names) {
      if (name === "*") star = { rank, layer: "*" };
      else if (
        (inner === name || inner.startsWith(`${name}/`)) &&
        (best === null || name.length > best.length)
      ) {
        best = { rank, layer: name, length: name.length };
      }
    }
  });
  const found = best as { rank: number; layer: string } | null;
  return found !== null ? { rank: found.rank, layer: found.layer } : star;
}

/** No import from a higher layer, between packages or between folders of one package. */
export function checkLayers(files: readonly TreeFile[]): Violation[] {
  const src = sourceFiles(files);
  const paths = new Set(src.map((f) => f.path));
  const violations: Violation[] = [];
  for (const f of src) {
    const pkg = packageOf(f.path);
    if (pkg === null) continue;
    const pkgRank = PACKAGE_ORDER.indexOf(pkg as (typeof PACKAGE_ORDER)[number]);
    const mine = layerOf(f.path);
    for (const ref of parseImports(f.text)) {
      const named = /^@pgsim\/([^/]+)/.exec(ref.specifier)?.[1];
      if (named !== undefined) {
        const theirs = PACKAGE_ORDER.indexOf(named as (typeof PACKAGE_ORDER)[number]);
        if (theirs >= pkgRank) {
          violations.push({
            rule: "layer",
            file: f.path,
            line: ref.line,
            message: `package ${pkg} imports ${ref.specifier}, which is not below it (order: ${PACKAGE_ORDER.join(" → ")})`,
          });
        }
        continue;
      }
      const to = resolveRelative(f.path, ref.specifier, paths);
      if (to === null) continue;
      const toPkg = packageOf(to);
      const theirs = layerOf(to);
      if (toPkg !== pkg) {
        violations.push({
          rule: "layer",
          file: f.path,
          line: ref.line,
          message: `imports ${ref.specifier} from another package by a relative path; use @pgsim/${toPkg}`,
        });
      } else if (mine !== null && theirs !== null && theirs.rank > mine.rank) {
        violations.push({
          rule: "layer",
          file: f.path,
          line: ref.line,
          message: `${mine.layer} imports ${to} from the higher layer ${theirs.layer}`,
        });
      }
    }
  }
  return violations;
}

/**
 * Every source file opens (after an optional shebang) with a doc comment that says what it
 * models: a `Models:` line naming the PostgreSQL file and functions, or the words "pgsim only".
 */
export function checkHeaders(files: readonly TreeFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const f of sourceFiles(files)) {
    const text = f.text.replace(/^#![^\n]*\n/, "").trimStart();
    const end = text.indexOf("*/");
    const comment = text.startsWith("/**") && end > 0 ? text.slice(0, end) : null;
    if (comment === null) {
      violations.push({
        rule: "header",
        file: f.path,
        line: 1,
        message: "does not open with a /** doc comment */",
      });
    } else if (!/Models:|pgsim only/i.test(comment)) {
      violations.push({
        rule: "header",
        file: f.path,
        line: 1,
        message:
          'its opening comment says neither "Models: <PostgreSQL file and functions>" nor "pgsim only"',
      });
    }
  }
  return violations;
}

/** All the source-tree rules at once. */
export function tidy(files: readonly TreeFile[]): Violation[] {
  return [...checkCycles(files), ...checkLayers(files), ...checkHeaders(files)];
}

/** One line per violation, for a failing test's message. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations
    .map((v) => `${v.file}${v.line !== undefined ? `:${v.line}` : ""}: [${v.rule}] ${v.message}`)
    .join("\n");
}
