#!/usr/bin/env node
/**
 * `pgsim-bench`: the benchmark command line, a dispatcher of subcommands (micro, dml, backends,
 * snapshot).
 *
 * Measures: whatever the chosen subcommand measures (see micro.ts, dml.ts, backends.ts,
 * snapshot.ts).
 * Entry points: `main(argv, io)` (returns the exit code), the `pgsim-bench` bin.
 * See also: micro.ts, dml.ts, dml-report.ts, backends.ts, snapshot.ts, progress.ts, ../README.md.
 *
 * Exit codes: 0 done, 1 the benchmark failed (or `--peer postgres` without PostgreSQL 15), 2
 * usage error (unknown command or option, a bad value). Usage errors print a usage line on
 * stderr, never a stack trace. With --json, stdout carries exactly one JSON object; progress
 * always goes to stderr (bars only when stderr is a terminal; in a log, one line per step).
 *
 * Models: pgsim only (a benchmark driver, like pgbench's command line).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { runBackends } from "./backends.js";
import { BACKENDS_DEFAULTS, parseBackendsOptions } from "./backends-options.js";
import { formatBackendsTable, writeBackendsReport } from "./backends-report.js";
import { DML_DEFAULT_SYSTEMS, DML_REPEAT_MAX, type PeerChoice, runDml } from "./dml.js";
import { checkStepsPrefix, DML_STEPS, DML_SYSTEMS, type DmlSystem } from "./dml-common.js";
import { checkDataDir } from "./dml-pgsim.js";
import { formatDmlTable, writeDmlReport } from "./dml-report.js";
import { formatMicroTable, MICRO_HIT_ROUNDS, runMicro, writeMicroReport } from "./micro.js";
import { createProgress, type Progress } from "./progress.js";
import {
  formatSnapshotTable,
  runSnapshotBench,
  SNAPSHOT_BENCH_DEFAULTS,
  type SnapshotBenchOptions,
  writeSnapshotReport,
} from "./snapshot.js";
import { formatTpcbTable, runTpcb, TPCB_DEFAULTS, TPCB_SYSTEMS, type TpcbSystem } from "./tpcb.js";

/** Where output goes (stdout for results, stderr for progress and errors). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The stream progress bars are drawn on (stderr) if it is a terminal; else one line a step. */
  errStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

const USAGE = "usage: pgsim-bench <command> [options]   (pgsim-bench --help lists the commands)";

type OptionValues = Record<string, string | boolean | undefined>;

interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Option lines for --help. */
  help: string[];
  run(values: OptionValues, io: CliIo): Promise<number>;
}

/** Bad command line: reported with a usage line (the command's own when known), exit 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly usage = USAGE,
  ) {
    super(message);
  }
}

const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  out: { type: "string" },
} as const;

/** The progress reporter of a command (on stderr; see progress.ts). */
function progressFor(io: CliIo): Progress {
  return createProgress({
    log: (t) => io.err(t),
    ...(io.errStream !== undefined ? { stream: io.errStream } : {}),
  });
}

/** --out DIR: the directory, checked to be usable before the benchmark runs. */
function outDirOf(values: OptionValues, usage: string): string | undefined {
  if (values.out === undefined) return undefined;
  const dir = String(values.out);
  if (dir === "" || (fs.existsSync(dir) && !fs.statSync(dir).isDirectory())) {
    throw new UsageError(`--out ${JSON.stringify(dir)} is not a directory`, usage);
  }
  return dir;
}

/** Parses a row count: digits, optionally grouped with `_` or `,` (20_000_000), at least 1. */
function parseRows(text: string | boolean | undefined, usage: string): number {
  if (text === undefined) return DML_DEFAULT_ROWS;
  const digits = String(text).replace(/[_,]/g, "");
  const rows = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (!Number.isSafeInteger(rows) || rows < 1) {
    throw new UsageError(`--rows must be a positive integer, got ${JSON.stringify(text)}`, usage);
  }
  return rows;
}

/**
 * Parses a count option (`--repeat`, `--rounds`): an integer from 1 to `max`, or undefined when
 * the option was not given.
 */
function parseCount(
  flag: string,
  text: string | boolean | undefined,
  max: number,
  usage: string,
): number | undefined {
  if (text === undefined) return undefined;
  const n = /^[0-9]+$/.test(String(text).trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(
      `${flag} takes an integer from 1 to ${max}, got ${JSON.stringify(text)}`,
      usage,
    );
  }
  return n;
}

const DML_DEFAULT_ROWS = 1_000_000;
const DML_USAGE =
  "pgsim-bench dml [--rows N] [--peer postgres|auto|none] [--systems LIST] [--steps LIST] [--repeat N] [--primary-key] [--data-dir DIR] [--json] [--out DIR]";
const MICRO_USAGE = "pgsim-bench micro [--json] [--out DIR] [--quick] [--rounds N]";
const MICRO_ROUNDS_MAX = 99;

const COMMANDS: Command[] = [
  {
    name: "micro",
    summary: "hit path vs a JS Map, miss path, clock-sweep tick, page and tuple operations",
    usage: MICRO_USAGE,
    options: { ...COMMON_OPTIONS, quick: { type: "boolean" }, rounds: { type: "string" } },
    help: [
      "  --json       print one JSON object on stdout (progress goes to stderr)",
      "  --out DIR    also write DIR/micro.json, micro.md, micro.svg and micro.png",
      "  --quick      a few seconds instead of about a minute (smoke tests)",
      `  --rounds N   rounds of the hit-path suite (default ${MICRO_HIT_ROUNDS}, 1 with --quick); the`,
      "               goal is judged on the median round's hitPathVsTwoLevelMap",
    ],
    async run(values, io) {
      const outDir = outDirOf(values, `usage: ${MICRO_USAGE}`);
      const progress = progressFor(io);
      const rounds = parseCount(
        "--rounds",
        values.rounds,
        MICRO_ROUNDS_MAX,
        `usage: ${MICRO_USAGE}`,
      );
      const result = await runMicro({
        quick: values.quick === true,
        ...(rounds !== undefined ? { rounds } : {}),
        log: (l) => progress.log(l),
      });
      if (outDir !== undefined) {
        for (const file of await writeMicroReport(result, outDir)) io.err(`wrote ${file}\n`);
      }
      io.out(values.json === true ? `${JSON.stringify(result)}\n` : formatMicroTable(result));
      return 0;
    },
  },
  {
    name: "dml",
    summary:
      "INSERT / UPDATE / DELETE / VACUUM of N rows: pgsim memheap vs heap (logged, unlogged), and PostgreSQL 15",
    usage: DML_USAGE,
    options: {
      ...COMMON_OPTIONS,
      rows: { type: "string" },
      peer: { type: "string" },
      systems: { type: "string" },
      repeat: { type: "string" },
      steps: { type: "string" },
      "data-dir": { type: "string" },
      "primary-key": { type: "boolean" },
    },
    help: [
      `  --rows N         rows to insert, update and delete (default ${DML_DEFAULT_ROWS.toLocaleString("en-US")})`,
      "  --peer postgres  also run PostgreSQL 15 (default settings, and shared_buffers 4GB with an",
      "                   UNLOGGED table) in a private cluster; fails when it is not installed",
      "  --peer auto      the same when PostgreSQL 15 is installed, else say so and go on without",
      "  --peer none      pgsim only (the default)",
      `  --systems LIST   run only these, comma-separated: ${DML_SYSTEMS.join(",")}`,
      `                   (default: ${DML_DEFAULT_SYSTEMS.join(",")}; pg15-* with the peer only)`,
      `  --steps LIST     run only the first statements, e.g. insert,update (a prefix of`,
      `                   ${DML_STEPS.join(",")}: each needs the ones before it)`,
      `  --repeat N       run every system N times, in turn (default 1, at most ${DML_REPEAT_MAX}):`,
      "                   each figure is the median, shown with the min-max; JSON keeps every run",
      "  --primary-key    accounts (aid) is the table's primary key in every system: INSERT,",
      "                   UPDATE, DELETE and VACUUM keep its B-tree index, as a real table's would",
      "  --data-dir DIR   pgsim-heap's data directory (missing or empty, as for initdb): left after",
      "                   a clean shutdown for pg_waldump, pg_controldata and pgsim-inspect (the",
      "                   first run's, with --repeat); without it, temp dirs removed afterwards",
      "  --json           print one JSON object on stdout (progress goes to stderr)",
      "  --out DIR        also write DIR/dml.json, dml.md, dml-throughput.{svg,png},",
      "                   dml-ratios.{svg,png}",
    ],
    async run(values, io) {
      const usage = `usage: ${DML_USAGE}`;
      const rows = parseRows(values.rows, usage);
      const repeat = parseCount("--repeat", values.repeat, DML_REPEAT_MAX, usage) ?? 1;
      const peer = (values.peer ?? "none") as PeerChoice;
      if (!["postgres", "auto", "none"].includes(peer)) {
        throw new UsageError(
          `--peer must be postgres, auto or none, got ${JSON.stringify(peer)}`,
          usage,
        );
      }
      let systems: DmlSystem[] | undefined;
      if (values.systems !== undefined) {
        const names = String(values.systems)
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== "");
        const unknown = names.filter((n) => !(DML_SYSTEMS as readonly string[]).includes(n));
        if (names.length === 0 || unknown.length > 0) {
          throw new UsageError(
            `--systems takes a comma-separated list of ${DML_SYSTEMS.join(", ")}; got ${JSON.stringify(values.systems)}`,
            usage,
          );
        }
        if (peer === "none" && names.some((n) => n.startsWith("pg15-"))) {
          throw new UsageError("--systems names a PostgreSQL setup: add --peer postgres", usage);
        }
        systems = names as DmlSystem[];
      }
      let steps: ReturnType<typeof checkStepsPrefix> | undefined;
      if (values.steps !== undefined) {
        const names = String(values.steps)
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== "");
        try {
          steps = checkStepsPrefix(names);
        } catch (e) {
          throw new UsageError(`--${(e as Error).message}`, usage);
        }
      }
      let dataDir: string | undefined;
      if (values["data-dir"] !== undefined) {
        dataDir = String(values["data-dir"]);
        const runs = systems ?? DML_DEFAULT_SYSTEMS;
        if (!runs.includes("pgsim-heap")) {
          throw new UsageError("--data-dir is pgsim-heap's: add it to --systems", usage);
        }
        try {
          checkDataDir(dataDir);
        } catch (e) {
          throw new UsageError(`--data-dir: ${(e as Error).message}`, usage);
        }
      }
      const outDir = outDirOf(values, usage);
      const result = await runDml({
        rows,
        peer,
        repeat,
        ...(values["primary-key"] === true ? { primaryKey: true } : {}),
        ...(systems !== undefined ? { systems } : {}),
        ...(steps !== undefined ? { steps } : {}),
        ...(dataDir !== undefined ? { dataDir } : {}),
        progress: progressFor(io),
      });
      if (outDir !== undefined) {
        for (const file of await writeDmlReport(result, outDir)) io.err(`wrote ${file}\n`);
      }
      io.out(values.json === true ? `${JSON.stringify(result)}\n` : formatDmlTable(result));
      return 0;
    },
  },
  {
    name: "backends",
    summary: "C clients on B worker-thread backends behind the pooler: tps and latency percentiles",
    usage:
      "pgsim-bench backends [--clients LIST] [--backends LIST] [--seconds N] [--mode read-only|read-write] [--variant memory|disk] [--accounts N] [--statements N] [--json] [--out DIR]",
    options: {
      ...COMMON_OPTIONS,
      clients: { type: "string" },
      backends: { type: "string" },
      seconds: { type: "string" },
      mode: { type: "string" },
      variant: { type: "string" },
      accounts: { type: "string" },
      statements: { type: "string" },
    },
    help: [
      `  --clients LIST    client counts, one point each (default ${BACKENDS_DEFAULTS.clients.join(",")})`,
      `  --backends LIST   backend counts, one cluster each (default ${BACKENDS_DEFAULTS.backends.join(",")})`,
      `  --seconds N       measured seconds per point, after a warm-up (default ${BACKENDS_DEFAULTS.seconds})`,
      "  --mode M          read-only (pgbench -S, the default) or read-write (update, select, insert)",
      "  --variant V       memory (the default) or disk",
      `  --accounts N      rows in accounts (default ${BACKENDS_DEFAULTS.accounts.toLocaleString("en-US")}, pgbench's scale 1)`,
      "  --statements N    SELECTs per read-only transaction (default 1)",
      "  --json            print one JSON object on stdout (progress goes to stderr)",
      "  --out DIR         also write DIR/backends-<mode>-<variant>.json, .md, .svg and .png",
    ],
    async run(values, io) {
      const usage = `usage: ${this.usage}`;
      let options: ReturnType<typeof parseBackendsOptions>;
      try {
        options = parseBackendsOptions(values);
      } catch (e) {
        throw new UsageError((e as Error).message, usage);
      }
      const outDir = outDirOf(values, usage);
      const result = await runBackends({ ...options, progress: progressFor(io) });
      if (outDir !== undefined) {
        for (const file of await writeBackendsReport(result, outDir)) io.err(`wrote ${file}\n`);
      }
      io.out(values.json === true ? `${JSON.stringify(result)}\n` : formatBackendsTable(result));
      return 0;
    },
  },
];

/** A positive number option (`integer`: a whole one), or the default when absent. */
function positiveOption(
  values: OptionValues,
  name: string,
  usage: string,
  integer: boolean,
): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const n = Number(String(text).replace(/_/g, ""));
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${name} must be a positive ${integer ? "integer" : "number"}, got ${JSON.stringify(text)}`,
      usage,
    );
  }
  return n;
}

const SNAPSHOT_USAGE =
  "pgsim-bench snapshot [--pool-mb LIST] [--fill F] [--snapshots N] [--dml-seconds N] [--interval-ms N] [--dml-pool-mb N] [--no-fsync] [--dir DIR] [--json] [--out DIR]";

COMMANDS.push({
  name: "snapshot",
  summary:
    "memory-only persistence: snapshot time and size per GB of pool, load time, DML slowdown",
  usage: SNAPSHOT_USAGE,
  options: {
    ...COMMON_OPTIONS,
    "pool-mb": { type: "string" },
    fill: { type: "string" },
    snapshots: { type: "string" },
    "dml-seconds": { type: "string" },
    "interval-ms": { type: "string" },
    "dml-pool-mb": { type: "string" },
    "no-fsync": { type: "boolean" },
    dir: { type: "string" },
  },
  help: [
    `  --pool-mb LIST    pool sizes in MB, one measurement each (default ${SNAPSHOT_BENCH_DEFAULTS.poolMb.join(",")})`,
    `  --fill F          the fraction of the pool filled with rows (default ${SNAPSHOT_BENCH_DEFAULTS.fill})`,
    `  --snapshots N     snapshots per pool size (default ${SNAPSHOT_BENCH_DEFAULTS.snapshots})`,
    `  --dml-seconds N   seconds of UPDATE transactions, without and with snapshots (default ${SNAPSHOT_BENCH_DEFAULTS.dmlSeconds})`,
    `  --interval-ms N   snapshotIntervalMs of the run with snapshots (default ${SNAPSHOT_BENCH_DEFAULTS.intervalMs})`,
    `  --dml-pool-mb N   the pool of the DML runs, in MB (default ${SNAPSHOT_BENCH_DEFAULTS.dmlPoolMb})`,
    "  --no-fsync        do not fsync the snapshot files (default: fsync, as a durable snapshot needs)",
    "  --dir DIR         where the snapshot directories go (default the temporary directory)",
    "  --json            print one JSON object on stdout (progress goes to stderr)",
    "  --out DIR         also write DIR/snapshot.json and snapshot.md",
  ],
  async run(values, io) {
    const usage = `usage: ${SNAPSHOT_USAGE}`;
    const options: SnapshotBenchOptions = {};
    if (values["pool-mb"] !== undefined) {
      const list = String(values["pool-mb"])
        .split(",")
        .map((x) => Number(x.trim()));
      if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
        throw new UsageError(
          `--pool-mb takes a comma-separated list of positive integers, got ${JSON.stringify(values["pool-mb"])}`,
          usage,
        );
      }
      options.poolMb = list;
    }
    const fill = positiveOption(values, "fill", usage, false);
    if (fill !== undefined) {
      if (fill <= 0.1 || fill > 0.95) {
        throw new UsageError(`--fill must be above 0.1 and at most 0.95, got ${fill}`, usage);
      }
      options.fill = fill;
    }
    const snapshots = positiveOption(values, "snapshots", usage, true);
    if (snapshots !== undefined) options.snapshots = snapshots;
    const seconds = positiveOption(values, "dml-seconds", usage, false);
    if (seconds !== undefined) options.dmlSeconds = seconds;
    const interval = positiveOption(values, "interval-ms", usage, true);
    if (interval !== undefined) options.intervalMs = interval;
    const dmlPool = positiveOption(values, "dml-pool-mb", usage, true);
    if (dmlPool !== undefined) options.dmlPoolMb = dmlPool;
    if (values["no-fsync"] === true) options.fsync = false;
    if (values.dir !== undefined) options.dir = String(values.dir);
    const outDir = outDirOf(values, usage);
    const progress = progressFor(io);
    const result = runSnapshotBench({ ...options, log: (l) => progress.log(l) });
    if (outDir !== undefined) {
      for (const file of writeSnapshotReport(result, outDir)) io.err(`wrote ${file}\n`);
    }
    io.out(values.json === true ? `${JSON.stringify(result)}\n` : formatSnapshotTable(result));
    return 0;
  },
});

const TPCB_USAGE =
  "pgsim-bench tpcb [--scale N] [--clients LIST] [--backends N] [--seconds N] [--systems LIST] [--json] [--out DIR]";

/** A comma-separated list of positive integers. */
function positiveList(values: OptionValues, name: string, usage: string): number[] | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const list = String(text)
    .split(",")
    .map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(
      `--${name} takes a comma-separated list of positive integers, got ${JSON.stringify(text)}`,
      usage,
    );
  }
  return list;
}

COMMANDS.push({
  name: "tpcb",
  summary:
    "pgbench's TPC-B-like workload with primary keys: pgsim's worker backends (memheap, heap) beside PostgreSQL 15's pgbench",
  usage: TPCB_USAGE,
  options: {
    ...COMMON_OPTIONS,
    scale: { type: "string" },
    clients: { type: "string" },
    backends: { type: "string" },
    seconds: { type: "string" },
    systems: { type: "string" },
  },
  help: [
    `  --scale N         pgbench's scale: 100,000 accounts, 10 tellers, 1 branch each (default ${TPCB_DEFAULTS.scale})`,
    `  --clients LIST    client counts, one point each per system (default ${TPCB_DEFAULTS.clients.join(",")})`,
    `  --backends N      pgsim's worker backends behind the pooler (default ${TPCB_DEFAULTS.backends})`,
    `  --seconds N       measured seconds per point, pgbench -T (default ${TPCB_DEFAULTS.seconds})`,
    `  --systems LIST    any of ${TPCB_SYSTEMS.join(", ")} (default all)`,
    "  --json            print one JSON object on stdout (progress goes to stderr)",
    "  --out DIR         also write DIR/tpcb.json and tpcb.md",
  ],
  async run(values, io) {
    const usage = `usage: ${TPCB_USAGE}`;
    const scale = positiveOption(values, "scale", usage, true) ?? TPCB_DEFAULTS.scale;
    const backends = positiveOption(values, "backends", usage, true) ?? TPCB_DEFAULTS.backends;
    const seconds = positiveOption(values, "seconds", usage, true) ?? TPCB_DEFAULTS.seconds;
    const clients = positiveList(values, "clients", usage) ?? [...TPCB_DEFAULTS.clients];
    let systems: TpcbSystem[] = [...TPCB_DEFAULTS.systems];
    if (values.systems !== undefined) {
      const names = String(values.systems)
        .split(",")
        .map((x) => x.trim());
      const unknown = names.filter((n) => !(TPCB_SYSTEMS as readonly string[]).includes(n));
      if (names.length === 0 || unknown.length > 0) {
        throw new UsageError(
          `--systems takes a comma-separated list of ${TPCB_SYSTEMS.join(", ")}, got ${JSON.stringify(values.systems)}`,
          usage,
        );
      }
      systems = names as TpcbSystem[];
    }
    const outDir = outDirOf(values, usage);
    const result = await runTpcb({
      scale,
      clients,
      backends,
      seconds,
      systems,
      progress: progressFor(io),
    });
    const table = formatTpcbTable(result);
    if (outDir !== undefined) {
      fs.mkdirSync(outDir, { recursive: true });
      const json = path.join(outDir, "tpcb.json");
      const md = path.join(outDir, "tpcb.md");
      fs.writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
      fs.writeFileSync(md, table);
      io.err(`wrote ${json}\nwrote ${md}\n`);
    }
    io.out(values.json === true ? `${JSON.stringify(result)}\n` : table);
    return 0;
  },
});

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "pgsim-bench — benchmarks of pgsim's storage layer",
    "",
    "usage: pgsim-bench <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "pgsim-bench <command> --help shows a command's options.",
    "",
  ].join("\n");
}

function commandHelp(c: Command): string {
  return [`usage: ${c.usage}`, "", c.summary, "", "options:", ...c.help, ""].join("\n");
}

/**
 * Runs the command line and returns the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(["micro", "--quick"]);
 * ```
 */
export async function main(argv: string[], callerIo: CliIo = processIo): Promise<number> {
  // A step's progress line in a log stays open while the step runs (progress.ts): an error
  // message must start on a line of its own.
  let errAtLineStart = true;
  const io: CliIo = {
    ...callerIo,
    err(text) {
      if (text === "") return;
      callerIo.err(text);
      errAtLineStart = text.endsWith("\n");
    },
  };
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h" || first === "help") {
    io.out(generalHelp());
    return 0;
  }
  try {
    if (first === undefined) throw new UsageError("no command given");
    const command = COMMANDS.find((c) => c.name === first);
    if (command === undefined) {
      throw new UsageError(
        first.startsWith("-") ? `unknown option '${first}'` : `unknown command '${first}'`,
      );
    }
    let values: OptionValues;
    try {
      values = parseArgs({ args: rest, options: command.options, strict: true })
        .values as OptionValues;
    } catch (e) {
      throw new UsageError((e as Error).message, `usage: ${command.usage}`);
    }
    if (values.help === true) {
      io.out(commandHelp(command));
      return 0;
    }
    return await runDivertingConsole(command, values, io);
  } catch (e) {
    const lead = errAtLineStart ? "" : "\n";
    if (e instanceof UsageError) {
      io.err(`${lead}pgsim-bench: ${e.message}\n${e.usage}\n`);
      return 2;
    }
    io.err(`${lead}pgsim-bench: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

/** Runs a command with console.log sent to stderr, so stdout carries only the result. */
async function runDivertingConsole(command: Command, values: OptionValues, io: CliIo) {
  const consoleLog = console.log;
  console.log = (...args: unknown[]) => io.err(`${args.map(String).join(" ")}\n`);
  try {
    return await command.run(values, io);
  } finally {
    console.log = consoleLog;
  }
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  errStream: process.stderr,
};

// Run when executed (node dist/cli.js, the bin link), not when imported.
function invokedDirectly(): boolean {
  try {
    return fs.realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`pgsim-bench: ${(e as Error).message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
