/**
 * Which code a worker thread loads when pgsim itself runs from its TypeScript source (under vitest
 * or tsx): the source through tsx, or, when PGSIM_WORKERS_FROM_BUILD=1, the built JavaScript of
 * the same package.
 *
 * Models: pgsim only (a test-speed switch; PostgreSQL's backends run the one compiled binary).
 * Entry points: `workerModule`, `workersFromBuild`, `builtTwin`, `withoutSourceCondition`.
 * See also: cluster.ts (the backend workers), @pgsim/bench's dml-pgsim.ts, backends.ts and
 * tpcb.ts, vitest.config.ts and test/global-setup.ts (which build first and then set the switch).
 *
 * Why: a worker that runs the source must load tsx, whose hooks compile every module again in
 * every thread — 4 to 6 s per worker on the 2-core CI machine against about 1 s for the built
 * JavaScript — and a cluster test starts dozens of workers. The switch is only safe when `dist`
 * was just built from the same source: test/global-setup.ts runs `tsc -b` before it sets it.
 */

/** True when a worker started from source code should load the built JavaScript instead. */
export function workersFromBuild(): boolean {
  return process.env.PGSIM_WORKERS_FROM_BUILD === "1";
}

/**
 * The built file of a source file of a pgsim package: `<package>/src/a/b.ts` →
 * `<package>/dist/a/b.js` (every package builds `src` into `dist` with the same layout).
 */
export function builtTwin(source: URL): URL {
  const href = source.href;
  const at = href.lastIndexOf("/src/");
  if (at < 0 || !href.endsWith(".ts")) {
    throw new Error(`not a source file of a pgsim package: ${href}`);
  }
  return new URL(`${href.slice(0, at)}/dist/${href.slice(at + 5, -3)}.js`);
}

/**
 * The file a worker should load for the module `./<name>` next to the calling module (whose
 * `import.meta.url` is `here`): built code loads the built `.js`; source code loads the `.ts`, or
 * its built twin when PGSIM_WORKERS_FROM_BUILD=1.
 */
export function workerModule(here: string, name: string): URL {
  if (!here.endsWith(".ts")) return new URL(`./${name}.js`, here);
  const source = new URL(`./${name}.ts`, here);
  return workersFromBuild() ? builtTwin(source) : source;
}

/**
 * The process's Node options without the "source" export condition (`--conditions source`,
 * `--conditions=source`, `-C source`), so that a worker started with them resolves the pgsim
 * packages to their built JavaScript, the same modules as its own code.
 */
export function withoutSourceCondition(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if ((arg === "--conditions" || arg === "-C") && execArgv[i + 1] === "source") {
      i++;
      continue;
    }
    if (arg === "--conditions=source" || arg === "-C=source") continue;
    out.push(arg);
  }
  return out;
}
