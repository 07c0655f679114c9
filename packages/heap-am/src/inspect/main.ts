/**
 * pgsim-inspect's argument handling and dispatch: parses a command line, runs one command on a
 * file, and returns what to print and the exit status.
 *
 * Models: nothing in PostgreSQL; the commands mirror pageinspect, pg_freespacemap and
 * pg_visibility functions, run offline on copied fork files.
 *
 * Entry point: runInspect(argv).
 *
 * Exit status: 0 success; 1 bad file or page (one line on stderr, `pgsim-inspect: ...`); 2 bad
 * usage (message and usage line on stderr); 70 a bug in pgsim (one line, no stack trace).
 *
 * Differs from PostgreSQL: pageinspect decodes whatever bytes it is given; pgsim-inspect reads
 * files and checks every page first (size, header, checksum). `page-header` rows add `block`,
 * `flag_names` and `is_new`; `fsm` and `vm` cannot know the relation's length without the main
 * fork, so they stop at the last non-zero entry unless `--heap-blocks` says otherwise.
 *
 * See also: cli.ts (the executable), page-header.ts, checksum.ts, fsm.ts, vm.ts,
 * heap-page-items.ts, rows.ts, README.md "pgsim-inspect".
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { PgsimError } from "@pgsim/clock-sweep";
import { MaxBlockNumber, verifyForkPages } from "./blocks.js";
import { checksumProblem, inspectChecksums } from "./checksum.js";
import { inspectFsm, inspectFsmPageContents } from "./fsm.js";
import { inspectHeapPageItems } from "./heap-page-items.js";
import { inspectPageHeader } from "./page-header.js";
import { inspectRows } from "./rows.js";
import { inspectVm } from "./vm.js";

/** What a run produced: the text for stdout and stderr, and the exit status. */
export interface InspectResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const PROGRAM = "pgsim-inspect";
const EXIT_OK = 0;
const EXIT_BAD_INPUT = 1;
const EXIT_USAGE = 2;
const EXIT_BUG = 70;

const USAGE_LINE = `usage: ${PROGRAM} <command> FILE [--block N] [options]   ('${PROGRAM} --help' lists the commands)`;

const TOP_HELP = `usage: ${PROGRAM} <command> FILE [options]

Decodes PostgreSQL 15 relation fork files (8 KB pages) offline and prints JSON.

commands:
  page-header FILE        page header of each block (pageinspect page_header)
  heap-page-items FILE    line pointers and tuples of each block (pageinspect heap_page_items)
  rows FILE --columns CASE.json [--xact PG_XACT]
                          the rows a new snapshot sees, as PostgreSQL prints them
  checksum FILE           stored and computed checksum of each block (pageinspect page_checksum)
  fsm FILE                free space of each heap block, from an FSM fork (pg_freespace)
  fsm-page-contents FILE  non-zero nodes of each FSM page (pageinspect fsm_page_contents)
  vm FILE                 visibility map bits of each heap block, from a VM fork (pg_visibility_map)

common options:
  --block N               only block N (fsm, vm: only heap block N)
  --ignore-checksum       decode pages whose checksum does not match
  -h, --help              show help ('${PROGRAM} <command> --help' for one command)

Every page is checked first as PostgreSQL checks a page it reads: a file that is not whole
8192-byte blocks, a page with an impossible header, or a checksum mismatch is reported on stderr
and the exit status is 1. Usage errors exit with 2.
`;

type OptionName = "block" | "ignore-checksum" | "columns" | "xact" | "heap-blocks";

/** The parsed options a command gets. */
interface CommandArgs {
  readonly file: Uint8Array;
  readonly block: number | undefined;
  readonly checksums: boolean;
  readonly heapBlocks: number | undefined;
  readonly columnsPath: string | undefined;
  readonly xactPath: string | undefined;
}

/** What a command returns: JSON to print, and optionally a problem to report after it. */
interface CommandOutput {
  readonly json: unknown;
  readonly problem?: PgsimError;
}

interface Command {
  readonly options: readonly OptionName[];
  readonly help: string;
  readonly run: (args: CommandArgs) => CommandOutput;
}

const BLOCK_HELP = "  --block N               only block N\n";
const IGNORE_HELP = "  --ignore-checksum       decode pages whose checksum does not match\n";
const HEAP_BLOCKS_HELP =
  "  --heap-blocks N         report heap blocks 0..N-1 (default: up to the last one with a\n" +
  "                          non-zero entry; the map alone cannot tell the relation's length)\n";

const COMMANDS: Readonly<Record<string, Command>> = {
  "page-header": {
    options: ["block", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} page-header FILE [--block N] [--ignore-checksum]\n\n` +
      "Prints an array with the page header of each block: lsn, checksum, flags, flag_names,\n" +
      "lower, upper, special, pagesize, version, prune_xid, is_new.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP,
    run: (a) => ({
      json: inspectPageHeader(a.file, { block: a.block, checksums: a.checksums }),
    }),
  },
  "heap-page-items": {
    options: ["block", "ignore-checksum", "columns"],
    help:
      `usage: ${PROGRAM} heap-page-items FILE [--block N] [--columns CASE.json] [--ignore-checksum]\n\n` +
      "Prints an array of { block, items }: every line pointer and its tuple, as pageinspect's\n" +
      "heap_page_items. With --columns (a JSON file with a `columns` array, like a fixture's\n" +
      "case.json) each tuple's attributes are split too.\n\n" +
      BLOCK_HELP +
      "  --columns CASE.json     the table's columns\n" +
      IGNORE_HELP,
    run: (a) => {
      verifyForkPages(a.file, { block: a.block, checksums: a.checksums });
      const columns = a.columnsPath === undefined ? undefined : readColumns(a.columnsPath);
      return { json: inspectHeapPageItems(a.file, { block: a.block, columns }) };
    },
  },
  rows: {
    options: ["block", "ignore-checksum", "columns", "xact"],
    help:
      `usage: ${PROGRAM} rows FILE --columns CASE.json [--xact PG_XACT] [--block N] [--ignore-checksum]\n\n` +
      "Prints { columns, rows }: the rows a new snapshot sees, each value as PostgreSQL's text\n" +
      "output (null for NULL).\n\n" +
      "  --columns CASE.json     the table's columns (a JSON file with a `columns` array)\n" +
      "  --xact PG_XACT          the commit log (pg_xact segment) telling which xids committed\n" +
      BLOCK_HELP +
      IGNORE_HELP,
    run: (a) => {
      if (a.columnsPath === undefined) throw new UsageError("rows needs --columns CASE.json");
      verifyForkPages(a.file, { block: a.block, checksums: a.checksums });
      const columns = readColumns(a.columnsPath);
      const xact = a.xactPath === undefined ? undefined : readInputFile(a.xactPath);
      return { json: inspectRows(a.file, columns, { block: a.block, xact }) };
    },
  },
  checksum: {
    options: ["block"],
    help:
      `usage: ${PROGRAM} checksum FILE [--block N]\n\n` +
      "Prints an array with the stored and the computed checksum of each block: block, stored,\n" +
      "stored_hex, computed, matches, is_new (new pages carry no checksum). Exits with 1 after\n" +
      "printing if any checksum does not match.\n\n" +
      BLOCK_HELP,
    run: (a) => {
      const rows = inspectChecksums(a.file, { block: a.block });
      return { json: rows, problem: checksumProblem(a.file, rows) };
    },
  },
  fsm: {
    options: ["block", "ignore-checksum", "heap-blocks"],
    help:
      `usage: ${PROGRAM} fsm FILE [--heap-blocks N | --block N] [--ignore-checksum]\n\n` +
      "Prints an array of { blkno, avail }: the free space (bytes, in steps of 32) that the free\n" +
      "space map fork FILE records for each heap block, as pg_freespace.\n\n" +
      "  --block N               only heap block N\n" +
      HEAP_BLOCKS_HELP +
      IGNORE_HELP,
    run: (a) => ({
      json: inspectFsm(a.file, {
        block: a.block,
        heapBlocks: a.heapBlocks,
        checksums: a.checksums,
      }),
    }),
  },
  "fsm-page-contents": {
    options: ["block", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} fsm-page-contents FILE [--block N] [--ignore-checksum]\n\n` +
      "Prints an array of { block, fsm_page_contents }: the non-zero nodes of each page of the\n" +
      "free space map fork FILE, as pageinspect's fsm_page_contents.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP,
    run: (a) => ({
      json: inspectFsmPageContents(a.file, { block: a.block, checksums: a.checksums }),
    }),
  },
  vm: {
    options: ["block", "ignore-checksum", "heap-blocks"],
    help:
      `usage: ${PROGRAM} vm FILE [--heap-blocks N | --block N] [--ignore-checksum]\n\n` +
      "Prints an array of { blkno, all_visible, all_frozen }: the visibility map bits that the\n" +
      "VM fork FILE holds for each heap block, as pg_visibility_map.\n\n" +
      "  --block N               only heap block N\n" +
      HEAP_BLOCKS_HELP +
      IGNORE_HELP,
    run: (a) => ({
      json: inspectVm(a.file, { block: a.block, heapBlocks: a.heapBlocks, checksums: a.checksums }),
    }),
  },
};

const OPTION_TYPES: Readonly<Record<OptionName, { type: "string" } | { type: "boolean" }>> = {
  block: { type: "string" },
  "ignore-checksum": { type: "boolean" },
  columns: { type: "string" },
  xact: { type: "string" },
  "heap-blocks": { type: "string" },
};

/** A command line pgsim-inspect cannot run: exit status 2. */
class UsageError extends Error {}

/** A file that cannot be read or parsed; `path` prefixes the message. */
function inputError(path: string, message: string): PgsimError {
  return new PgsimError("input-unreadable", `${path}: ${message}`, { path });
}

function readInputFile(path: string): Uint8Array {
  try {
    const bytes = readFileSync(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "is a directory"
          : code === "EACCES"
            ? "permission denied"
            : (code ?? String(error));
    throw inputError(path, `cannot read file: ${reason}`);
  }
}

/** The `columns` array of a case.json-like file (or the file's top-level array). */
function readColumns(path: string): unknown[] {
  const text = new TextDecoder().decode(readInputFile(path));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw inputError(path, "not valid JSON");
  }
  if (Array.isArray(parsed)) return parsed;
  if (typeof parsed === "object" && parsed !== null) {
    const columns = (parsed as { columns?: unknown }).columns;
    if (Array.isArray(columns)) return columns;
  }
  throw inputError(path, 'no "columns" array');
}

/** Parses a decimal block number or count, at most `max`. */
function parseCount(option: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= max)) {
    throw new UsageError(`--${option} needs a whole number from 0 to ${max}, got '${text}'`);
  }
  return value;
}

function usageFailure(message: string): InspectResult {
  return {
    exitCode: EXIT_USAGE,
    stdout: "",
    stderr: `${PROGRAM}: ${message}\n${USAGE_LINE}\n`,
  };
}

/** Node's parseArgs messages add advice about `--`; the first sentence is the useful part. */
function firstSentence(message: string): string {
  const match = /^(.*?)\.(\s|$)/s.exec(message);
  return (match?.[1] ?? message).split("\n")[0]!;
}

/**
 * Runs one pgsim-inspect command line (without the program name) and returns what to print.
 * Never throws: every failure becomes a message and an exit status.
 *
 * @example
 * ```ts
 * const { exitCode, stdout } = runInspect(["page-header", "main.bin", "--block", "0"]);
 * ```
 */
export function runInspect(argv: readonly string[]): InspectResult {
  try {
    return runCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    if (error instanceof PgsimError) {
      return { exitCode: EXIT_BAD_INPUT, stdout: "", stderr: `${PROGRAM}: ${error.message}\n` };
    }
    const message = error instanceof Error ? error.message : String(error);
    return {
      exitCode: EXIT_BUG,
      stdout: "",
      stderr: `${PROGRAM}: internal error (a bug in pgsim): ${message.split("\n")[0]}\n`,
    };
  }
}

/** runInspect's work; throws UsageError, or PgsimError with a message naming the file. */
function runCommandLine(argv: readonly string[]): InspectResult {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError("no command given");
  if (name === "--help" || name === "-h") {
    return { exitCode: EXIT_OK, stdout: TOP_HELP, stderr: "" };
  }
  if (name.startsWith("-")) throw new UsageError(`unknown option '${name}'`);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) throw new UsageError(`unknown command '${name}'`);

  const options: Record<string, { type: "string" } | { type: "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const option of command.options) options[option] = OPTION_TYPES[option];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(firstSentence((error as Error).message));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return { exitCode: EXIT_OK, stdout: command.help, stderr: "" };
  const [filePath, ...extra] = parsed.positionals;
  if (filePath === undefined || extra.length > 0) {
    throw new UsageError(`${name} takes exactly one FILE, got ${parsed.positionals.length}`);
  }
  const text = (option: OptionName): string | undefined => {
    const value = values[option];
    return typeof value === "string" ? value : undefined;
  };
  const block = parseCount("block", text("block"), MaxBlockNumber);
  const heapBlocks = parseCount("heap-blocks", text("heap-blocks"), MaxBlockNumber + 1);
  if (block !== undefined && heapBlocks !== undefined) {
    throw new UsageError("--block and --heap-blocks cannot be used together");
  }
  const columnsPath = text("columns");
  if (name === "rows" && columnsPath === undefined) {
    throw new UsageError("rows needs --columns CASE.json");
  }

  const file = readInputFile(filePath);
  let output: CommandOutput;
  try {
    output = command.run({
      file,
      block,
      checksums: values["ignore-checksum"] !== true,
      heapBlocks,
      columnsPath,
      xactPath: text("xact"),
    });
  } catch (error) {
    // Problems with FILE get its name in front; errors about other inputs already name them.
    if (error instanceof PgsimError && error.code !== "input-unreadable") {
      throw new PgsimError(error.code, `${filePath}: ${error.message}`, error.detail);
    }
    throw error;
  }
  const stdout = `${JSON.stringify(output.json, null, 2)}\n`;
  if (output.problem === undefined) return { exitCode: EXIT_OK, stdout, stderr: "" };
  return {
    exitCode: EXIT_BAD_INPUT,
    stdout,
    stderr: `${PROGRAM}: ${filePath}: ${output.problem.message}\n`,
  };
}
