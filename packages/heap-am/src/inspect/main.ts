/**
 * pgsim-inspect's argument handling and dispatch: parses a command line, finds what it needs
 * around the file (segment number, data directory, pg_control, pg_xact), runs one command, and
 * returns what to print and the exit status.
 *
 * Models: nothing in PostgreSQL; the commands mirror pageinspect, pg_freespacemap, pg_visibility
 * and pg_controldata, run offline on relation files, like pg_filedump.
 *
 * Entry point: runInspect(argv, { stdoutIsTTY }).
 *
 * Output: text (psql's aligned tables; the default when stdout is a terminal, or `--format
 * text`) or JSON (`--json` / `--format json`; the default otherwise). Warnings and notes go to
 * stderr, one `pgsim-inspect: ...` line each.
 *
 * Exit status: 0 success; 1 bad file or page (one line on stderr, `pgsim-inspect: ...`, maybe
 * followed by a hint), or a report that had to leave something out (rows hidden for an unknown
 * status, values that could not be shown, checksum mismatches), printed first; 2 bad usage
 * (message and usage line on stderr); 70 a bug in pgsim (one line, no stack trace).
 *
 * Checksums: verified when the cluster's pg_control (from `--pg-control`, `-D`, or the data
 * directory the file lies in) says data_checksum_version 1, not verified when it says 0, and
 * verified when no pg_control is known (a mismatch on a page whose pd_checksum is 0 then adds a
 * hint); `--ignore-checksum` never verifies.
 *
 * Differs from PostgreSQL: pageinspect decodes whatever bytes it is given; pgsim-inspect reads
 * files and checks every page first (size, header, heap layout, checksum). `page-header` rows add
 * `block`, `flag_names` and `is_new`; `fsm` and `vm` cannot know the relation's length without
 * the main fork, so they stop at the last non-zero entry unless `--heap-blocks` says otherwise.
 *
 * See also: cli.ts (the executable), text.ts, files.ts, page-header.ts, checksum.ts, fsm.ts,
 * vm.ts, heap-page-items.ts, rows.ts, README.md "pgsim-inspect".
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import {
  type ControlFileData,
  decodeControlFile,
  PgsimError,
  RELSEG_SIZE,
  readControlFile,
  XLOG_CONTROL_FILE,
} from "@pgsim/buffer-manager";
import type { CommitLog } from "../access/transam/clog.js";
import { type BlockRange, forkBlockCount, MaxBlockNumber, verifyForkPages } from "./blocks.js";
import { inspectBtMetap, inspectBtPageItems, inspectBtPageStats } from "./btree.js";
import { checksumProblem, inspectChecksums } from "./checksum.js";
import {
  findDataDir,
  inputError,
  parseRelationFileName,
  readCommitLogPath,
  readInputFile,
} from "./files.js";
import { inspectFsm, inspectFsmPageContents } from "./fsm.js";
import { inspectHeapPageItems } from "./heap-page-items.js";
import { inspectPageHeader, signedChecksum } from "./page-header.js";
import { inspectRows } from "./rows.js";
import {
  btMetapText,
  btPageItemsText,
  btPageStatsText,
  checksumText,
  fsmPageContentsText,
  fsmText,
  heapPageItemsText,
  pageHeaderText,
  pgControlText,
  rowsText,
  vmText,
} from "./text.js";
import { readToastChunks } from "./toast.js";
import { commitLogSource } from "./visibility.js";
import { inspectVm } from "./vm.js";

/** What a run produced: the text for stdout and stderr, and the exit status. */
export interface InspectResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of runInspect. */
export interface RunInspectOptions {
  /** Whether stdout is a terminal: then text is the default format. Default false. */
  readonly stdoutIsTTY?: boolean;
}

const PROGRAM = "pgsim-inspect";
const EXIT_OK = 0;
const EXIT_BAD_INPUT = 1;
const EXIT_USAGE = 2;
const EXIT_BUG = 70;

const USAGE_LINE = `usage: ${PROGRAM} <command> FILE [--block N] [options]   ('${PROGRAM} --help' lists the commands)`;

const COLUMNS_SQL = `SELECT json_build_object('columns', json_agg(json_build_object(
         'attnum', a.attnum, 'name', a.attname, 'dropped', a.attisdropped,
         'typname', t.typname, 'attlen', a.attlen, 'attbyval', a.attbyval,
         'attalign', a.attalign, 'attstorage', a.attstorage, 'atttypmod', a.atttypmod,
         'attnotnull', a.attnotnull, 'atthasmissing', a.atthasmissing,
         'attmissingval', a.attmissingval::text) ORDER BY a.attnum))
  FROM pg_attribute a LEFT JOIN pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = 'TABLE'::regclass AND a.attnum > 0`;

const TOP_HELP = `usage: ${PROGRAM} <command> FILE [options]

Decodes PostgreSQL 15 relation files (8 KB pages) offline, like pageinspect and pg_filedump.

commands:
  page-header FILE        page header of each block (pageinspect page_header)
  heap-page-items FILE    line pointers and tuples of each block (pageinspect heap_page_items)
  rows FILE --columns COLUMNS.json [--xact PG_XACT] [--toast TOAST_FILE]
                          the rows a new snapshot sees, as PostgreSQL prints them
  checksum FILE           stored and computed checksum of each block (pageinspect page_checksum)
  bt-metap FILE           the metapage of a B-tree index file (pageinspect bt_metap)
  bt-page-stats FILE      each B-tree page's summary (pageinspect bt_page_stats)
  bt-page-items FILE      each B-tree page's items (pageinspect bt_page_items)
  fsm FILE                free space of each heap block, from an FSM fork (pg_freespace)
  fsm-page-contents FILE  non-zero nodes of each FSM page (pageinspect fsm_page_contents)
  vm FILE                 visibility map bits of each heap block, from a VM fork (pg_visibility_map)
  pg-control [DIR|FILE]   the control file of a data directory (pg_controldata)

common options:
  --block N               only block N (fsm, vm: only heap block N)
  --blocks A-B            only blocks A to B (a range past the file's end stops at its end)
  --format text|json      output format: text (psql's tables; the default on a terminal) or
                          JSON (the default otherwise)
  --json                  the same as --format json
  -D, --pgdata DIR        the data directory (its global/pg_control says whether pages carry
                          checksums; rows reads its pg_xact); found by itself when FILE lies
                          in one (base/<db>/<file>, global/<file>)
  --pg-control FILE       a copy of the cluster's global/pg_control
  --ignore-checksum       decode pages whose checksum does not match
  -h, --help              show help ('${PROGRAM} <command> --help' for one command)

FILE is a relation fork file: the first segment (16384, 16384_fsm, 16384_vm) or a later one
(16384.1 holds blocks from 131072 on, with 1 GB segments). Block numbers, in options and output,
are the relation's. Every page is checked first as PostgreSQL checks a page it reads: a file that
is not whole 8192-byte blocks, a page with an impossible header, an index page, or a checksum
mismatch is reported on stderr and the exit status is 1. Usage errors exit with 2.
`;

type OptionName =
  | "block"
  | "blocks"
  | "ignore-checksum"
  | "columns"
  | "xact"
  | "toast"
  | "heap-blocks"
  | "format"
  | "json"
  | "pgdata"
  | "pg-control";

const COMMON_OPTIONS: readonly OptionName[] = ["format", "json", "pgdata", "pg-control"];

/** What the command needs to know about the cluster the file belongs to. */
interface ClusterContext {
  /** The data directory, when known. */
  readonly dataDir: string | undefined;
  /** The control file, when known. */
  readonly control: ControlFileData | undefined;
  /** Verify page checksums. */
  readonly checksums: boolean;
}

/** The parsed options a command gets. */
interface CommandArgs {
  readonly file: Uint8Array;
  readonly filePath: string;
  readonly firstBlock: number;
  readonly block: number | undefined;
  readonly range: BlockRange | undefined;
  readonly cluster: ClusterContext;
  readonly heapBlocks: number | undefined;
  readonly columnsPath: string | undefined;
  readonly xactPath: string | undefined;
  readonly toastPath: string | undefined;
}

/** What a command returns. */
interface CommandOutput {
  readonly json: unknown;
  readonly text: () => string;
  /** Lines for stderr after the output (`pgsim-inspect: ` is put in front). */
  readonly warnings?: readonly string[];
  /** Exit with 1 after printing. */
  readonly failed?: boolean;
}

interface Command {
  readonly options: readonly OptionName[];
  readonly help: string;
  readonly run: (args: CommandArgs) => CommandOutput;
}

const BLOCK_HELP =
  "  --block N               only block N\n" + "  --blocks A-B            only blocks A to B\n";
const IGNORE_HELP = "  --ignore-checksum       decode pages whose checksum does not match\n";
const CLUSTER_HELP =
  "  -D, --pgdata DIR        the data directory (default: the one FILE lies in, if any)\n" +
  "  --pg-control FILE       the cluster's global/pg_control (data checksums on or off)\n" +
  "  --format text|json      output format (default: text on a terminal, else JSON)\n" +
  "  --json                  the same as --format json\n";
const HEAP_BLOCKS_HELP =
  "  --heap-blocks N         report heap blocks 0..N-1 (default: up to the last one with a\n" +
  "                          non-zero entry; the map alone cannot tell the relation's length)\n";
const COLUMNS_HELP =
  "  --columns COLUMNS.json  the table's columns: a JSON file with a `columns` array of\n" +
  "                          pg_attribute rows; psql writes it with\n" +
  `                            psql -XAt -d DB -c "${COLUMNS_SQL.replace(/\(\n\s*/g, "(").replace(/\n\s*/g, " ")}" > COLUMNS.json\n` +
  "                          (TABLE replaced by the table's name; see README.md)\n";

const COMMANDS: Readonly<Record<string, Command>> = {
  "page-header": {
    options: ["block", "blocks", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} page-header FILE [--block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "The page header of each block: lsn, checksum (signed, as pageinspect shows it), flags,\n" +
      "lower, upper, special, pagesize, version, prune_xid; JSON adds flag_names and is_new.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectPageHeader(a.file, pageOptions(a));
      return {
        json: rows.map((row) => ({ ...row, checksum: signedChecksum(row.checksum) })),
        text: () => pageHeaderText(rows),
      };
    },
  },
  "heap-page-items": {
    options: ["block", "blocks", "ignore-checksum", "columns"],
    help:
      `usage: ${PROGRAM} heap-page-items FILE [--block N | --blocks A-B] [--columns COLUMNS.json] [--ignore-checksum]\n\n` +
      "Every line pointer and its tuple, as pageinspect's heap_page_items, block by block. With\n" +
      "--columns each tuple's attributes are split too (heap_page_item_attrs).\n\n" +
      BLOCK_HELP +
      COLUMNS_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      verifyForkPages(a.file, pageOptions(a));
      const columns = a.columnsPath === undefined ? undefined : readColumns(a.columnsPath);
      const blocks = inspectHeapPageItems(a.file, {
        ...rangeOptions(a),
        ...(columns === undefined ? {} : { columns }),
      });
      return { json: blocks, text: () => heapPageItemsText(blocks) };
    },
  },
  rows: {
    options: ["block", "blocks", "ignore-checksum", "columns", "xact", "toast"],
    help:
      `usage: ${PROGRAM} rows FILE --columns COLUMNS.json [--xact PG_XACT] [--toast TOAST_FILE] [--block N | --blocks A-B]\n\n` +
      "The rows a new snapshot sees, each value as PostgreSQL's text output (JSON: null for\n" +
      "NULL), ordered by ctid, and how many tuples were hidden: invisible ones (deleted, or\n" +
      "inserted by a transaction that did not commit) and those whose status is unknown (no\n" +
      "commit log, or one older than the page: a warning says which xids). Compressed values\n" +
      "(pglz, lz4) are decompressed; out-of-line (TOAST) values are shown as their pointer\n" +
      "unless --toast gives the TOAST table's file. A value that cannot be decoded is shown as\n" +
      "an error and the others still are. Exits with 1 after printing when tuples were hidden\n" +
      "for an unknown status or a value could not be shown.\n\n" +
      COLUMNS_HELP +
      "  --xact PG_XACT          the commit log: the pg_xact directory or one segment file\n" +
      "                          (default: pg_xact of the data directory, when known)\n" +
      "  --toast TOAST_FILE      the main fork file of the table's TOAST table\n" +
      BLOCK_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      if (a.columnsPath === undefined) throw new UsageError("rows needs --columns COLUMNS.json");
      verifyForkPages(a.file, pageOptions(a));
      const columns = readColumns(a.columnsPath);
      const xact = commitLogFor(a);
      const toast =
        a.toastPath === undefined
          ? undefined
          : readToastChunks(readInputFile(a.toastPath), {
              checksums: a.cluster.checksums,
              ...(xact === undefined ? {} : { xact: commitLogSource(xact) }),
            });
      const result = inspectRows(a.file, columns, {
        ...rangeOptions(a),
        ...(xact === undefined ? {} : { xact }),
        ...(toast === undefined ? {} : { toast }),
        unknownStatus: "hide",
      });
      const warnings = result.warnings ?? [];
      const hasErrors = result.rows.some((row) =>
        row.some((value) => value !== null && typeof value === "object" && "error" in value),
      );
      return {
        json: { columns: result.columns, rows: result.rows, hidden: result.hidden },
        text: () => rowsText(result),
        warnings: warnings.map((w) => `warning: ${w}`),
        failed: (result.hidden?.status_unknown ?? 0) > 0 || hasErrors,
      };
    },
  },
  "bt-metap": {
    options: ["ignore-checksum"],
    help:
      `usage: ${PROGRAM} bt-metap FILE [--ignore-checksum]\n\n` +
      "The metapage (block 0) of a B-tree index file, as pageinspect's bt_metap: magic, version,\n" +
      "root, level, fastroot, fastlevel, last_cleanup_num_delpages, last_cleanup_num_tuples,\n" +
      "allequalimage.\n\n" +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const row = inspectBtMetap(a.file, pageOptions(a));
      return { json: row, text: () => btMetapText(row) };
    },
  },
  "bt-page-stats": {
    options: ["block", "blocks", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} bt-page-stats FILE [--block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "Each page of a B-tree index file but the metapage, as pageinspect's bt_page_stats: blkno,\n" +
      "type (l leaf, i internal, r root, e half-dead, d/D deleted), live_items, dead_items,\n" +
      "avg_item_size, page_size, free_size, btpo_prev, btpo_next, btpo_level, btpo_flags.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectBtPageStats(a.file, pageOptions(a));
      return { json: rows, text: () => btPageStatsText(rows) };
    },
  },
  "bt-page-items": {
    options: ["block", "blocks", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} bt-page-items FILE [--block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "Every item of each page of a B-tree index file but the metapage, as pageinspect's\n" +
      "bt_page_items: itemoffset, ctid, itemlen, nulls, vars, data (the key bytes in hex), dead,\n" +
      "htid, tids (posting lists). JSON: one { block, items } per page.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const blocks = inspectBtPageItems(a.file, pageOptions(a));
      return { json: blocks, text: () => btPageItemsText(blocks) };
    },
  },
  checksum: {
    options: ["block", "blocks"],
    help:
      `usage: ${PROGRAM} checksum FILE [--block N | --blocks A-B]\n\n` +
      "The stored and the computed checksum of each block (signed, as pageinspect's\n" +
      "page_checksum shows them): block, stored, computed, matches, is_new (new pages carry no\n" +
      "checksum); JSON adds stored_hex. Works on any page, index pages too. Exits with 1 after\n" +
      "printing if a checksum does not match, unless pg_control says the cluster runs without\n" +
      "data checksums.\n\n" +
      BLOCK_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectChecksums(a.file, rangeOptions(a));
      const off = a.cluster.control !== undefined && a.cluster.control.dataChecksumVersion === 0;
      const problem = off ? undefined : checksumProblem(a.file, rows, a.firstBlock);
      return {
        json: rows.map((row) => ({
          ...row,
          stored: signedChecksum(row.stored),
          ...(row.computed === undefined ? {} : { computed: signedChecksum(row.computed) }),
        })),
        text: () => checksumText(rows),
        warnings: [
          ...(off
            ? [
                "note: pg_control says this cluster runs without data checksums (data_checksum_version 0): stored checksums are not maintained",
              ]
            : []),
          ...(problem === undefined ? [] : [`${a.filePath}: ${problem.message}`]),
          ...(problem !== undefined && a.cluster.control === undefined
            ? checksumHints(problem)
            : []),
        ],
        failed: problem !== undefined,
      };
    },
  },
  fsm: {
    options: ["block", "blocks", "ignore-checksum", "heap-blocks"],
    help:
      `usage: ${PROGRAM} fsm FILE [--heap-blocks N | --block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "The free space (bytes, in steps of 32) that the free space map fork FILE records for\n" +
      "each heap block, as pg_freespace: blkno, avail.\n\n" +
      "  --block N               only heap block N\n" +
      "  --blocks A-B            only heap blocks A to B\n" +
      HEAP_BLOCKS_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectFsm(a.file, {
        ...pageOptions(a),
        ...(a.heapBlocks === undefined ? {} : { heapBlocks: a.heapBlocks }),
      });
      return { json: rows, text: () => fsmText(rows) };
    },
  },
  "fsm-page-contents": {
    options: ["block", "blocks", "ignore-checksum"],
    help:
      `usage: ${PROGRAM} fsm-page-contents FILE [--block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "The non-zero nodes of each page of the free space map fork FILE, as pageinspect's\n" +
      "fsm_page_contents.\n\n" +
      BLOCK_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectFsmPageContents(a.file, pageOptions(a));
      return { json: rows, text: () => fsmPageContentsText(rows) };
    },
  },
  vm: {
    options: ["block", "blocks", "ignore-checksum", "heap-blocks"],
    help:
      `usage: ${PROGRAM} vm FILE [--heap-blocks N | --block N | --blocks A-B] [--ignore-checksum]\n\n` +
      "The visibility map bits that the VM fork FILE holds for each heap block, as\n" +
      "pg_visibility_map: blkno, all_visible, all_frozen.\n\n" +
      "  --block N               only heap block N\n" +
      "  --blocks A-B            only heap blocks A to B\n" +
      HEAP_BLOCKS_HELP +
      IGNORE_HELP +
      CLUSTER_HELP,
    run: (a) => {
      const rows = inspectVm(a.file, {
        ...pageOptions(a),
        ...(a.heapBlocks === undefined ? {} : { heapBlocks: a.heapBlocks }),
      });
      return { json: rows, text: () => vmText(rows) };
    },
  },
};

const PG_CONTROL_HELP =
  `usage: ${PROGRAM} pg-control [DIR|FILE] [--format text|json]\n\n` +
  "The control file (global/pg_control) of data directory DIR (or -D DIR), or the control file\n" +
  "FILE, in pg_controldata's words. A CRC mismatch is reported (exit status 1) after printing,\n" +
  "as pg_controldata warns.\n\n" +
  "  -D, --pgdata DIR        the data directory\n" +
  "  --format text|json      output format (default: text on a terminal, else JSON)\n" +
  "  --json                  the same as --format json\n";

const OPTION_TYPES: Readonly<
  Record<OptionName, { type: "string"; short?: string } | { type: "boolean" }>
> = {
  block: { type: "string" },
  blocks: { type: "string" },
  "ignore-checksum": { type: "boolean" },
  columns: { type: "string" },
  xact: { type: "string" },
  toast: { type: "string" },
  "heap-blocks": { type: "string" },
  format: { type: "string" },
  json: { type: "boolean" },
  pgdata: { type: "string", short: "D" },
  "pg-control": { type: "string" },
};

/** A command line pgsim-inspect cannot run: exit status 2. */
class UsageError extends Error {}

/** The options of the page-checking inspect functions for this run. */
function pageOptions(a: CommandArgs) {
  return { ...rangeOptions(a), checksums: a.cluster.checksums };
}

/** The block selection for this run. */
function rangeOptions(a: CommandArgs) {
  return {
    firstBlock: a.firstBlock,
    ...(a.block === undefined ? {} : { block: a.block }),
    ...(a.range === undefined ? {} : { range: a.range }),
  };
}

/** The commit log `rows` uses: --xact, else the data directory's pg_xact, else none. */
function commitLogFor(a: CommandArgs): CommitLog | undefined {
  if (a.xactPath !== undefined) return readCommitLogPath(a.xactPath);
  if (a.cluster.dataDir === undefined) return undefined;
  const dir = path.join(a.cluster.dataDir, "pg_xact");
  return existsSync(dir) ? readCommitLogPath(dir) : undefined;
}

/** The `columns` array of a COLUMNS.json file (or the file's top-level array). */
function readColumns(file: string): unknown[] {
  const text = new TextDecoder().decode(readInputFile(file));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw inputError(file, "not valid JSON");
  }
  if (Array.isArray(parsed)) return parsed;
  if (typeof parsed === "object" && parsed !== null) {
    const columns = (parsed as { columns?: unknown }).columns;
    if (Array.isArray(columns)) return columns;
  }
  throw inputError(file, 'no "columns" array');
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

/** Parses `--blocks A-B`. */
function parseRange(text: string | undefined): BlockRange | undefined {
  if (text === undefined) return undefined;
  const match = /^([0-9]{1,10})-([0-9]{1,10})$/.exec(text);
  const first = match === null ? Number.NaN : Number(match[1]);
  const last = match === null ? Number.NaN : Number(match[2]);
  if (!(first <= MaxBlockNumber && last <= MaxBlockNumber && first <= last)) {
    throw new UsageError(
      `--blocks needs A-B, two block numbers from 0 to ${MaxBlockNumber} with A <= B, got '${text}'`,
    );
  }
  return { first, last };
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

/** The hint lines after a checksum mismatch when no pg_control was read. */
function checksumHints(error: PgsimError): string[] {
  const expected = (error.detail as { expected?: unknown } | undefined)?.expected;
  if (error.code !== "page-checksum-mismatch" || expected !== 0) return [];
  return [
    "hint: pd_checksum is 0: the cluster probably runs without data checksums (initdb without -k); " +
      "give its data directory (-D) or its pg_control (--pg-control) to read data_checksum_version, " +
      "or use --ignore-checksum",
  ];
}

/** A failure in running the command, with the lines to print. */
class CommandFailure extends Error {
  constructor(
    readonly lines: readonly string[],
    readonly exitCode: number,
  ) {
    super(lines[0]);
  }
}

/**
 * Runs one pgsim-inspect command line (without the program name) and returns what to print.
 * Never throws: every failure becomes a message and an exit status. Text is the default output
 * format when `options.stdoutIsTTY`, JSON otherwise.
 *
 * @example
 * ```ts
 * const { exitCode, stdout } = runInspect(["page-header", "main.bin", "--block", "0"]);
 * ```
 */
export function runInspect(
  argv: readonly string[],
  options: RunInspectOptions = {},
): InspectResult {
  try {
    return runCommandLine(argv, options);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    if (error instanceof CommandFailure) {
      return {
        exitCode: error.exitCode,
        stdout: "",
        stderr: error.lines.map((line) => `${PROGRAM}: ${line}\n`).join(""),
      };
    }
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

/** The output format asked for. */
function outputFormat(
  values: Record<string, string | boolean | undefined>,
  options: RunInspectOptions,
): "text" | "json" {
  const format = values.format;
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new UsageError(`--format must be text or json, got '${String(format)}'`);
  }
  if (values.json === true) {
    if (format === "text") throw new UsageError("--json and --format text cannot be used together");
    return "json";
  }
  if (format === "text" || format === "json") return format;
  return options.stdoutIsTTY === true ? "text" : "json";
}

/** Prints a command's output in the format asked for. */
function render(output: CommandOutput, format: "text" | "json"): InspectResult {
  const stdout = format === "json" ? `${JSON.stringify(output.json, null, 2)}\n` : output.text();
  const stderr = (output.warnings ?? []).map((line) => `${PROGRAM}: ${line}\n`).join("");
  return { exitCode: output.failed === true ? EXIT_BAD_INPUT : EXIT_OK, stdout, stderr };
}

/** `pg-control [DIR|FILE]`. */
function runPgControl(
  positionals: readonly string[],
  values: Record<string, string | boolean | undefined>,
  format: "text" | "json",
): InspectResult {
  const pgdata = typeof values.pgdata === "string" ? values.pgdata : undefined;
  if (positionals.length > 1 || (positionals.length === 1 && pgdata !== undefined)) {
    throw new UsageError("pg-control takes one DIR or FILE, or -D DIR");
  }
  const target = positionals[0] ?? pgdata;
  if (target === undefined) throw new UsageError("pg-control needs a data directory or a file");
  let file = target;
  try {
    if (existsSync(path.join(target, XLOG_CONTROL_FILE)))
      file = path.join(target, XLOG_CONTROL_FILE);
  } catch {
    // Not a directory: target is the control file itself.
  }
  const decoded = decodeControlFile(readInputFile(file));
  const data = decoded.data;
  const json = {
    ...data,
    systemIdentifier: data.systemIdentifier.toString(),
    time: Number(data.time),
    checkPoint: data.checkPoint.toString(),
    checkPointCopy: {
      ...data.checkPointCopy,
      redo: data.checkPointCopy.redo.toString(),
      nextXid: data.checkPointCopy.nextXid.toString(),
      time: Number(data.checkPointCopy.time),
    },
    unloggedLSN: data.unloggedLSN.toString(),
    minRecoveryPoint: data.minRecoveryPoint.toString(),
    backupStartPoint: data.backupStartPoint.toString(),
    backupEndPoint: data.backupEndPoint.toString(),
    mockAuthenticationNonce: Buffer.from(data.mockAuthenticationNonce).toString("hex"),
    crc: decoded.crc,
    crcMatches: decoded.crcMatches,
  };
  return render(
    {
      json,
      text: () => pgControlText(data),
      warnings: decoded.crcMatches
        ? []
        : [
            `${file}: calculated CRC checksum (${decoded.computedCrc}) does not match value stored in file (${decoded.crc}); the results above are untrustworthy`,
          ],
      failed: !decoded.crcMatches,
    },
    format,
  );
}

/** The data directory, the control file and the checksum decision for FILE. */
function clusterContext(
  filePath: string,
  values: Record<string, string | boolean | undefined>,
): ClusterContext {
  const pgdata = typeof values.pgdata === "string" ? values.pgdata : undefined;
  const controlOption = typeof values["pg-control"] === "string" ? values["pg-control"] : undefined;
  if (pgdata !== undefined && !existsSync(path.join(pgdata, XLOG_CONTROL_FILE))) {
    throw inputError(pgdata, `not a data directory: it has no ${XLOG_CONTROL_FILE}`);
  }
  const dataDir = pgdata ?? findDataDir(filePath);
  const controlPath =
    controlOption ?? (dataDir === undefined ? undefined : path.join(dataDir, XLOG_CONTROL_FILE));
  let control: ControlFileData | undefined;
  if (controlPath !== undefined) {
    if (controlOption !== undefined) readInputFile(controlOption);
    control = readControlFile(controlPath);
  }
  const checksums =
    values["ignore-checksum"] !== true &&
    (control === undefined || control.dataChecksumVersion !== 0);
  return { dataDir, control, checksums };
}

/** runInspect's work; throws UsageError, or PgsimError with a message naming the file. */
function runCommandLine(argv: readonly string[], runOptions: RunInspectOptions): InspectResult {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError("no command given");
  if (name === "--help" || name === "-h") {
    return { exitCode: EXIT_OK, stdout: TOP_HELP, stderr: "" };
  }
  if (name.startsWith("-")) throw new UsageError(`unknown option '${name}'`);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined && name !== "pg-control") {
    throw new UsageError(`unknown command '${name}'`);
  }

  const options: Record<
    string,
    { type: "string"; short?: string } | { type: "boolean"; short?: string }
  > = {
    help: { type: "boolean", short: "h" },
  };
  const optionNames =
    command === undefined ? ["format", "json", "pgdata"] : [...command.options, ...COMMON_OPTIONS];
  for (const option of optionNames) options[option] = OPTION_TYPES[option as OptionName];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(firstSentence((error as Error).message));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) {
    return { exitCode: EXIT_OK, stdout: command?.help ?? PG_CONTROL_HELP, stderr: "" };
  }
  const format = outputFormat(values, runOptions);
  if (command === undefined) return runPgControl(parsed.positionals, values, format);

  const [fileArgument, ...extra] = parsed.positionals;
  if (fileArgument === undefined || extra.length > 0) {
    throw new UsageError(`${name} takes exactly one FILE, got ${parsed.positionals.length}`);
  }
  const text = (option: OptionName): string | undefined => {
    const value = values[option];
    return typeof value === "string" ? value : undefined;
  };
  const block = parseCount("block", text("block"), MaxBlockNumber);
  const range = parseRange(text("blocks"));
  const heapBlocks = parseCount("heap-blocks", text("heap-blocks"), MaxBlockNumber + 1);
  const selections = [block, range, heapBlocks].filter((v) => v !== undefined).length;
  if (selections > 1) {
    const names = [
      ...(block === undefined ? [] : ["--block"]),
      ...(range === undefined ? [] : ["--blocks"]),
      ...(heapBlocks === undefined ? [] : ["--heap-blocks"]),
    ];
    throw new UsageError(`${names.join(" and ")} cannot be used together`);
  }
  const columnsPath = text("columns");
  if (name === "rows" && columnsPath === undefined) {
    throw new UsageError("rows needs --columns COLUMNS.json");
  }

  // A relative FILE that is not there may be meant inside the data directory given with -D.
  const pgdata = text("pgdata");
  const filePath =
    pgdata !== undefined && !path.isAbsolute(fileArgument) && !existsSync(fileArgument)
      ? path.join(pgdata, fileArgument)
      : fileArgument;
  const file = readInputFile(filePath);
  let output: CommandOutput;
  let cluster: ClusterContext | undefined;
  try {
    cluster = clusterContext(filePath, values);
    const relsegSize = cluster.control?.relsegSize ?? RELSEG_SIZE;
    const segno = parseRelationFileName(filePath)?.segno ?? 0;
    if (segno > 0 && file.length > 0 && forkBlockCount(file) > relsegSize) {
      throw new PgsimError(
        "file-too-big",
        `segment ${segno} holds ${forkBlockCount(file)} blocks, more than the ${relsegSize} blocks of a segment`,
      );
    }
    output = command.run({
      file,
      filePath,
      firstBlock: segno * relsegSize,
      block,
      range,
      cluster,
      heapBlocks,
      columnsPath,
      xactPath: text("xact"),
      toastPath: text("toast"),
    });
  } catch (error) {
    // Problems with FILE get its name in front; errors about other inputs already name them.
    if (
      error instanceof PgsimError &&
      error.code !== "input-unreadable" &&
      error.code !== "control-file-invalid"
    ) {
      const hints = cluster?.control === undefined ? checksumHints(error) : [];
      throw new CommandFailure([`${filePath}: ${error.message}`, ...hints], EXIT_BAD_INPUT);
    }
    throw error;
  }
  return render(output, format);
}
