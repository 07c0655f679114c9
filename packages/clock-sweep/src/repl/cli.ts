#!/usr/bin/env node
/**
 * `pgsim-clock`: the clock-sweep REPL for students, its script runner, and the replacement-policy
 * lab (`pgsim-clock compare`).
 *
 * Models: a command-line front end to freelist.c's StrategyGetBuffer as ported in freelist.ts,
 * and to the lab that sets it beside LRU, LRU-2, 2Q, ARC and SIEVE.
 * Entry points: `main` (argv in, exit code out); run as `pgsim-clock` (bin → dist/repl/cli.js).
 * See also: clock-repl.ts (the REPL), clock-session.ts (the commands), ../lab/lab.ts and
 * ../lab/lab-chart.ts (compare), ../lab/policy-module.ts (`--policy FILE`), ../lab/trace.ts
 * (traces).
 *
 * Bad input is answered with `pgsim-clock: message` and a usage line on stderr, and a non-zero
 * exit status; never a stack trace.
 */

import * as fs from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { PgsimError } from "../errors.js";
import {
  BUILTIN_TRACES,
  builtinTrace,
  compareReplacementPolicies,
  formatComparison,
  isPolicyName,
  loadPolicyModule,
  POLICY_DESCRIPTIONS,
  POLICY_NAMES,
  type PolicyFactory,
  parseTrace,
  type Trace,
  writeComparisonReport,
} from "../lab/index.js";
import { SIMPLE_POOL_MAX_BUFFERS } from "../simple-pool.js";
import { startClockRepl, wantsColor } from "./clock-repl.js";
import { ClockSession, checkReplBufferCount, REPL_MAX_BUFFERS } from "./clock-session.js";

const MAIN_USAGE =
  "usage: pgsim-clock [--buffers N] [--explain] [--script FILE] | pgsim-clock compare --trace T";

const MAIN_HELP = `pgsim-clock: PostgreSQL 15's clock sweep (freelist.c), one tick at a time.

usage:
  pgsim-clock [--buffers N] [--explain]                  open the REPL
  pgsim-clock --script FILE [--buffers N] [--explain]    run a script of REPL commands, no prompt
  pgsim-clock compare --trace T [...]                    the replacement-policy lab (compare --help)
  pgsim-clock --help                                     this text

options:
  --buffers N     buffers in the pool (default 8, at most ${REPL_MAX_BUFFERS})
  --explain       add a sentence of why to each event
  --script FILE   run FILE's commands (one per line, # comments) and exit; a bad command stops
                  the script with exit status 1

In the REPL, .help lists the commands. The worked example of docs/reference/postgres-storage.md
§A.16 (NBuffers = 4, usage counts {1,1,1,1}, hand at 0):
  pgsim-clock --buffers 4, then .fill, .show, .alloc
Output is coloured only on a terminal and when NO_COLOR is unset.
`;

const COMPARE_USAGE =
  "usage: pgsim-clock compare --trace NAME|FILE [--buffers 8,16,...] [--policies a,b,...] [--policy FILE]... [--seed N] [--out DIR]";

const COMPARE_HELP = `pgsim-clock compare: replay a page-access trace through each replacement policy at
each pool size and print the hit ratios (and, with --out, draw the miss-ratio chart).

${COMPARE_USAGE}

options:
  --trace T       a built-in trace (${BUILTIN_TRACES.join(", ")}) or a trace file
  --buffers LIST  pool sizes, comma-separated (default 8,16,32,64,128)
  --policies LIST policies to compare (default all: ${POLICY_NAMES.join(", ")})
  --policy FILE   also compare the policy FILE exports (repeat for more): an ES module whose
                  default export is a class implementing ReplacementPolicy, or a function
                  (capacity) => ReplacementPolicy; see the README, "Write your own policy"
  --seed N        seed of the generated traces (zipfian, scan-flood; default 42)
  --out DIR       also write DIR/<trace>-miss-ratio.svg, .png and <trace>-results.json

policies:
${POLICY_NAMES.map((p) => `  ${p.padEnd(12)}${POLICY_DESCRIPTIONS[p]}`).join("\n")}

trace files hold one read per line: a page's tag (any words, e.g. "16384 0 7" for relation,
fork, block), then optional flags: dirty, pin (keep the pin), @bulkread / @bulkwrite / @vacuum
(the ring the executor read through; only clock-ring uses it); "TAG unpin" releases a kept pin;
# starts a comment.
`;

/** A usage error of the command line: message, then the usage line. */
class CliUsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.usage = usage;
  }
}

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function positiveInteger(word: string, what: string, max: number, usage: string): number {
  if (!/^\d+$/.test(word) || Number(word) < 1 || Number(word) > max) {
    throw new CliUsageError(`${what} must be an integer from 1 to ${max}, got "${word}"`, usage);
  }
  return Number(word);
}

function loadTrace(spec: string, seed: number | undefined): Trace {
  const builtin = builtinTrace(spec, { seed });
  if (builtin !== undefined) return builtin;
  if (!fs.existsSync(spec)) {
    throw new CliUsageError(
      `no trace "${spec}": name a built-in trace (${BUILTIN_TRACES.join(", ")}) or a file`,
      COMPARE_USAGE,
    );
  }
  return parseTrace(fs.readFileSync(spec, "utf8"), spec);
}

async function compareCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      trace: { type: "string" },
      buffers: { type: "string", default: "8,16,32,64,128" },
      policies: { type: "string" },
      policy: { type: "string", multiple: true },
      seed: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout(COMPARE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new CliUsageError(`unexpected argument "${positionals[0]}"`, COMPARE_USAGE);
  }
  if (values.trace === undefined) throw new CliUsageError("--trace is required", COMPARE_USAGE);
  const bufferCounts = values.buffers
    .split(",")
    .map((w) => positiveInteger(w.trim(), "--buffers", SIMPLE_POOL_MAX_BUFFERS, COMPARE_USAGE));
  const policies = values.policies?.split(",").map((p) => p.trim()) ?? [...POLICY_NAMES];
  for (const p of policies) {
    if (!isPolicyName(p)) {
      throw new CliUsageError(
        `unknown policy "${p}": choose from ${POLICY_NAMES.join(", ")}`,
        COMPARE_USAGE,
      );
    }
  }
  const seed =
    values.seed === undefined
      ? undefined
      : positiveInteger(values.seed, "--seed", 2 ** 32 - 1, COMPARE_USAGE);
  const trace = loadTrace(values.trace, seed);
  const userPolicies: PolicyFactory[] = [];
  for (const file of values.policy ?? []) {
    if (!fs.existsSync(file)) {
      throw new CliUsageError(`no policy module "${file}"`, COMPARE_USAGE);
    }
    userPolicies.push(await loadPolicyModule(file));
  }
  const comparison = compareReplacementPolicies(trace, {
    bufferCounts,
    policies: [...policies, ...userPolicies],
  });
  io.stdout(formatComparison(comparison));
  if (values.out !== undefined) {
    // vega, vega-lite and resvg load here, when a chart is drawn (lab-chart.ts), and not before:
    // the REPL and a compare without --out start without them.
    const files = await writeComparisonReport(comparison, values.out);
    io.stdout(`\nwrote ${files.svg}\nwrote ${files.png}\nwrote ${files.json}\n`);
  }
  return 0;
}

async function replCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      buffers: { type: "string" },
      explain: { type: "boolean" },
      script: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    io.stdout(MAIN_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    throw new CliUsageError(`unknown command "${positionals[0]}"`, MAIN_USAGE);
  }
  const bufferCount =
    values.buffers === undefined
      ? 8
      : positiveInteger(values.buffers, "--buffers", REPL_MAX_BUFFERS, MAIN_USAGE);
  checkReplBufferCount(bufferCount);
  if (values.script !== undefined) {
    const file = values.script;
    if (!fs.existsSync(file)) throw new CliUsageError(`no script file "${file}"`, MAIN_USAGE);
    const session = new ClockSession({
      bufferCount,
      explain: values.explain,
      color: wantsColor(process.stdout),
      write: io.stdout,
    });
    const bad = session.runScript(fs.readFileSync(file, "utf8"));
    if (bad !== undefined) {
      io.stderr(`pgsim-clock: ${file}:${bad}: stopped at this bad command\n`);
      return 1;
    }
    return 0;
  }
  const { server } = startClockRepl({ bufferCount, explain: values.explain });
  return new Promise((resolve) => server.on("exit", () => resolve(0)));
}

/**
 * Runs `pgsim-clock` with `argv` (without node and the script) and returns the exit status.
 * Prints `pgsim-clock: message` for bad input, never a stack trace.
 */
export async function main(
  argv: string[],
  io: Io = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  },
): Promise<number> {
  try {
    if (argv[0] === "compare") return await compareCommand(argv.slice(1), io);
    if (argv[0] === "help") {
      io.stdout(MAIN_HELP);
      return 0;
    }
    return await replCommand(argv, io);
  } catch (e) {
    if (e instanceof CliUsageError) {
      io.stderr(`pgsim-clock: ${e.message}\n${e.usage}\n`);
      return 2;
    }
    if (e instanceof PgsimError) {
      io.stderr(`pgsim-clock: ${e.message}\n`);
      return 1;
    }
    // node:util parseArgs reports unknown options and missing values with ERR_PARSE_ARGS_* codes.
    if (e instanceof TypeError && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS")) {
      const usage = argv[0] === "compare" ? COMPARE_USAGE : MAIN_USAGE;
      io.stderr(`pgsim-clock: ${e.message}\n${usage}\n`);
      return 2;
    }
    const message = e instanceof Error ? e.message : String(e);
    io.stderr(`pgsim-clock: internal error: ${message}\n`);
    return 70;
  }
}

/** True when this module is the program node was asked to run (the bin, through any symlink). */
function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(script)).href;
  } catch {
    return false;
  }
}

// Run only as a program, not when a test imports this module.
if (isMainModule()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(
        `pgsim-clock: internal error: ${e instanceof Error ? e.message : String(e)}\n`,
      );
      process.exitCode = 70;
    },
  );
}
