#!/usr/bin/env node
/**
 * The pgsim-inspect executable: runs one command line and exits with its status.
 *
 * Models: nothing in PostgreSQL (an offline pageinspect). Like a C tool killed by SIGPIPE, it
 * stops quietly when the reader of its output goes away (`pgsim-inspect ... | head`).
 *
 * Entry point: this file, as the package's `pgsim-inspect` bin.
 *
 * See also: main.ts (arguments and dispatch), README.md "pgsim-inspect".
 */
import { runInspect } from "./main.js";

const result = runInspect(process.argv.slice(2), { stdoutIsTTY: process.stdout.isTTY === true });

// A closed pipe (EPIPE) means nobody reads any more: end quietly with the command's status,
// instead of Node's default of an unhandled 'error' event and a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(result.exitCode);
    throw error;
  });
}

process.stdout.write(result.stdout);
process.stderr.write(result.stderr);
// Setting exitCode (not calling process.exit) lets a large stdout drain into a pipe first.
process.exitCode = result.exitCode;
