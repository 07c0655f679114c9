#!/usr/bin/env node
/**
 * `pgsim-bench`: the benchmark command line, a dispatcher of subcommands (micro now; dml and
 * backends are meant to join the COMMANDS table).
 *
 * Measures: whatever the chosen subcommand measures (see micro.ts).
 * Entry points: `main(argv, io)` (returns the exit code), the `pgsim-bench` bin.
 * See also: micro.ts, ../README.md.
 *
 * Exit codes: 0 done, 1 the benchmark failed, 2 usage error (unknown command or option). Usage
 * errors print a usage line on stderr, never a stack trace. With --json, stdout carries exactly
 * one JSON object; progress always goes to stderr.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { formatMicroTable, runMicro } from "./micro.js";

/** Where output goes (stdout for results, stderr for progress and errors). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
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

const COMMANDS: Command[] = [
  {
    name: "micro",
    summary: "hit path vs a JS Map, miss path, clock-sweep tick, shared-memory overhead",
    usage: "pgsim-bench micro [--json] [--out DIR] [--quick]",
    options: { ...COMMON_OPTIONS, quick: { type: "boolean" } },
    help: [
      "  --json       print one JSON object on stdout (progress goes to stderr)",
      "  --out DIR    also write DIR/micro.json",
      "  --quick      a few seconds instead of about half a minute (smoke tests)",
    ],
    async run(values, io) {
      const result = await runMicro({ quick: values.quick === true, log: (l) => io.err(`${l}\n`) });
      if (typeof values.out === "string") {
        fs.mkdirSync(values.out, { recursive: true });
        const file = path.join(values.out, "micro.json");
        fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
        io.err(`wrote ${file}\n`);
      }
      io.out(values.json === true ? `${JSON.stringify(result)}\n` : formatMicroTable(result));
      return 0;
    },
  },
];

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
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
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
    if (e instanceof UsageError) {
      io.err(`pgsim-bench: ${e.message}\n${e.usage}\n`);
      return 2;
    }
    io.err(`pgsim-bench: ${(e as Error).message ?? String(e)}\n`);
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
