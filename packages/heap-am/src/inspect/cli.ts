#!/usr/bin/env node
/**
 * The pgsim-inspect executable: runs one command line and exits with its status.
 *
 * Models: nothing in PostgreSQL (an offline pageinspect).
 *
 * Entry point: this file, as the package's `pgsim-inspect` bin.
 *
 * See also: main.ts (arguments and dispatch), README.md "pgsim-inspect".
 */
import { runInspect } from "./main.js";

const result = runInspect(process.argv.slice(2));
process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
// Setting exitCode (not calling process.exit) lets a large stdout drain into a pipe first.
process.exitCode = result.exitCode;
