/**
 * Vitest's global setup: builds the packages (`tsc -b`, incremental: nothing to do after
 * `npm run build`) and then sets PGSIM_WORKERS_FROM_BUILD=1, so that worker threads started by
 * tests load the built JavaScript rather than the TypeScript source through tsx (see
 * packages/heap-am/src/postmaster/worker-code.ts: seconds saved per worker). The tests themselves
 * still import the source. If the build fails (a change in progress that does not compile), the
 * switch stays off and workers run the source as before, with a notice.
 *
 * Models: pgsim only (test infrastructure).
 */

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  if (process.env.PGSIM_WORKERS_FROM_BUILD !== undefined) return;
  const root = fileURLToPath(new URL("..", import.meta.url));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const build = spawnSync(process.execPath, [tsc, "-b"], { cwd: root, encoding: "utf8" });
  if (build.status === 0) {
    process.env.PGSIM_WORKERS_FROM_BUILD = "1";
    return;
  }
  console.warn(
    `global setup: tsc -b failed, worker threads will run the TypeScript source (slower)\n${build.stdout}${build.stderr}`,
  );
}
