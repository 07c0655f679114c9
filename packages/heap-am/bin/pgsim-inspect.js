#!/usr/bin/env node
/**
 * `pgsim-inspect`: the launcher npm links as the package's bin; it runs the built program,
 * dist/inspect/cli.js.
 *
 * Models: pgsim only. The launcher is committed and dist/ is not, so `npm ci` links the bin even
 * before the first build, and until `npm run build` has run the launcher says so instead of
 * failing obscurely. A program may check process.argv[1] to tell being run from being imported,
 * so argv[1] is set to the built file, exactly as if npm had linked that file directly.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const program = new URL("../dist/inspect/cli.js", import.meta.url);
const programPath = fileURLToPath(program);
if (!existsSync(programPath)) {
  process.stderr.write(
    `pgsim-inspect: ${programPath} is missing: the package is not built yet. ` +
      "Run `npm run build` at the root of the pgsim repository first.\n",
  );
  process.exit(1);
}
process.argv[1] = programPath;
await import(program.href);
