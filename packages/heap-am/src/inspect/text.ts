/**
 * pgsim-inspect's text format: what each command prints for a person, as psql prints the rows of
 * the matching pageinspect query (aligned columns, `(N rows)`), and the control file as
 * pg_controldata prints it.
 *
 * Models: psql's aligned output format (print.c print_aligned_text with border 1: headers
 * centred, numbers right-aligned, text left-aligned, NULL as an empty cell, `(N rows)` footer and
 * an empty line) and
 * src/bin/pg_controldata/pg_controldata.c (its lines, labels and value formats, in the C locale).
 * Entry points: `formatTable`, `pageHeaderText`, `heapPageItemsText`, `checksumText`, `fsmText`,
 * `fsmPageContentsText`, `vmText`, `rowsText`, `pgControlText`.
 * See also: main.ts (chooses text or JSON), page-header.ts, heap-page-items.ts, checksum.ts,
 * fsm.ts, vm.ts, rows.ts.
 *
 * Differs from PostgreSQL: psql shows a newline inside a value by wrapping the cell with `+`
 * markers; pgsim-inspect writes newlines, tabs and carriage returns inside values as `\n`, `\t`
 * and `\r`, so that every row stays one line.
 */

import { type ControlFileData, DB_STATE_NAMES, WAL_LEVEL_NAMES } from "@pgsim/buffer-manager";
import type { BtMetapRow, BtPageItemRow, BtPageStatsRow } from "./btree.js";
import type { ChecksumRow } from "./checksum.js";
import type { FreeSpaceRow, FsmPageContentsRow } from "./fsm.js";
import type { HeapPageItemsBlock } from "./heap-page-items.js";
import { formatLsn, type PageHeaderRow, signedChecksum } from "./page-header.js";
import type { InspectRowsResult, RowValue } from "./rows.js";
import { formatToastPointer } from "./varlena.js";
import type { VisibilityMapRow } from "./vm.js";

/** A column of a text table: its header and how its values are aligned. */
export interface TextColumn {
  readonly name: string;
  readonly align: "left" | "right";
}

/** psql's `(N rows)` footer. */
function rowCountFooter(count: number): string {
  return `(${count} ${count === 1 ? "row" : "rows"})`;
}

/**
 * A table in psql's aligned format: a centred header line, a `---+---` rule, one line per row,
 * the `(N rows)` footer (unless `footer` is false) and an empty line, with psql's spacing: the
 * header pads every cell, a row pads every cell but a left-aligned last one. Cells are
 * single-line strings; an empty string is how NULL shows.
 */
export function formatTable(
  columns: readonly TextColumn[],
  rows: readonly (readonly string[])[],
  footer = true,
): string {
  const widths = columns.map((column, i) =>
    rows.reduce((width, row) => Math.max(width, (row[i] ?? "").length), column.name.length),
  );
  const last = columns.length - 1;
  const header = ` ${columns
    .map((column, i) => {
      const room = widths[i]! - column.name.length;
      const before = Math.floor(room / 2);
      return " ".repeat(before) + column.name + " ".repeat(room - before);
    })
    .join(" | ")} `;
  const rule = widths.map((width) => "-".repeat(width + 2)).join("+");
  const body = rows.map(
    (row) =>
      ` ${columns
        .map((column, i) => {
          const cell = row[i] ?? "";
          if (column.align === "right") return cell.padStart(widths[i]!);
          return i === last ? cell : cell.padEnd(widths[i]!);
        })
        .join(" | ")}`,
  );
  const lines = [header, rule, ...body, ...(footer ? [rowCountFooter(rows.length)] : [])];
  return `${lines.join("\n")}\n\n`;
}

const right = (name: string): TextColumn => ({ name, align: "right" });
const left = (name: string): TextColumn => ({ name, align: "left" });

/** A value in one line: control characters that would break the row written as escapes. */
function oneLine(text: string): string {
  return text.replace(/[\n\t\r\\]/g, (c) =>
    c === "\n" ? "\\n" : c === "\t" ? "\\t" : c === "\r" ? "\\r" : "\\",
  );
}

const bool = (value: boolean | undefined): string => (value === undefined ? "" : value ? "t" : "f");
const num = (value: number | null | undefined): string =>
  value === null || value === undefined ? "" : String(value);

/** `page-header`: pageinspect's page_header columns, one row per block, plus the flag names. */
export function pageHeaderText(rows: readonly PageHeaderRow[]): string {
  return formatTable(
    [
      right("block"),
      left("lsn"),
      right("checksum"),
      right("flags"),
      right("lower"),
      right("upper"),
      right("special"),
      right("pagesize"),
      right("version"),
      right("prune_xid"),
      left("flag_names"),
    ],
    rows.map((r) => [
      String(r.block),
      r.lsn,
      String(signedChecksum(r.checksum)),
      String(r.flags),
      String(r.lower),
      String(r.upper),
      String(r.special),
      String(r.pagesize),
      String(r.version),
      String(r.prune_xid),
      r.is_new ? "(new page: all zeros)" : r.flag_names.join(","),
    ]),
  );
}

/**
 * `heap-page-items`: per block, a line naming it and pageinspect's heap_page_items columns (with
 * `t_attrs` instead of `t_data` when the columns are known), plus `flags`: the line pointer's
 * state and the tuple's infomask flags by name (without their `HEAP_` prefix, as pg_filedump).
 */
export function heapPageItemsText(blocks: readonly HeapPageItemsBlock[]): string {
  const withAttrs = blocks.some((b) => b.items.some((item) => item.attrs !== undefined));
  const columns = [
    right("lp"),
    right("lp_off"),
    right("lp_flags"),
    right("lp_len"),
    right("t_xmin"),
    right("t_xmax"),
    right("t_field3"),
    left("t_ctid"),
    right("t_infomask2"),
    right("t_infomask"),
    right("t_hoff"),
    left("t_bits"),
    right("t_oid"),
    left("flags"),
    left(withAttrs ? "t_attrs" : "t_data"),
  ];
  const parts = blocks.map(({ block, items }) => {
    const rows = items.map((item) => {
      const names = [
        item.lp_flags_name.replace(/^LP_/, ""),
        ...(item.infomask_flags?.raw ?? []).map((flag) => flag.replace(/^HEAP_/, "")),
      ];
      const data = withAttrs
        ? item.attrs === null || item.attrs === undefined
          ? ""
          : `{${item.attrs.map((a) => (a === null ? "NULL" : `\\x${a}`)).join(",")}}`
        : item.t_data === null
          ? ""
          : `\\x${item.t_data}`;
      return [
        String(item.lp),
        String(item.lp_off),
        String(item.lp_flags),
        String(item.lp_len),
        num(item.t_xmin),
        num(item.t_xmax),
        num(item.t_field3),
        item.t_ctid ?? "",
        num(item.t_infomask2),
        num(item.t_infomask),
        num(item.t_hoff),
        item.t_bits ?? "",
        num(item.t_oid),
        names.join("|"),
        data,
      ];
    });
    return `block ${block}:\n${formatTable(columns, rows)}`;
  });
  return parts.join("");
}

/** `checksum`: the stored and the computed checksum of each block, signed as pageinspect's. */
export function checksumText(rows: readonly ChecksumRow[]): string {
  return formatTable(
    [right("block"), right("stored"), right("computed"), left("matches"), left("is_new")],
    rows.map((r) => [
      String(r.block),
      String(signedChecksum(r.stored)),
      r.computed === undefined ? "" : String(signedChecksum(r.computed)),
      bool(r.matches),
      bool(r.is_new),
    ]),
  );
}

/** `fsm`: pg_freespace's rows. */
export function fsmText(rows: readonly FreeSpaceRow[]): string {
  return formatTable(
    [right("blkno"), right("avail")],
    rows.map((r) => [String(r.blkno), String(r.avail)]),
  );
}

/** `fsm-page-contents`: each block's fsm_page_contents text under a line naming the block. */
export function fsmPageContentsText(rows: readonly FsmPageContentsRow[]): string {
  return rows.map((r) => `block ${r.block}:\n${r.fsm_page_contents}\n`).join("");
}

/** `vm`: pg_visibility_map's rows. */
export function vmText(rows: readonly VisibilityMapRow[]): string {
  return formatTable(
    [right("blkno"), left("all_visible"), left("all_frozen")],
    rows.map((r) => [String(r.blkno), bool(r.all_visible), bool(r.all_frozen)]),
  );
}

/** Types psql right-aligns (print.c column_type_alignment: the numeric ones). */
const NUMERIC_TYPES = new Set([
  "int2",
  "int4",
  "int8",
  "float4",
  "float8",
  "numeric",
  "oid",
  "money",
]);

/** One value of `rows` as a cell. */
export function rowValueText(value: RowValue): string {
  if (value === null) return "";
  if (typeof value === "string") return oneLine(value);
  if ("toast_pointer" in value) return formatToastPointer(value.toast_pointer);
  return `(error: ${oneLine(value.error)})`;
}

/**
 * `rows`: the visible rows as psql shows `SELECT ctid, * FROM t`, then a line saying how many
 * tuples were hidden and why, when any were.
 */
export function rowsText(result: InspectRowsResult): string {
  const table = formatTable(
    result.columns.map((name, i) =>
      NUMERIC_TYPES.has(result.types[i] ?? "") ? right(name) : left(name),
    ),
    result.rows.map((row) => row.map(rowValueText)),
  );
  const hidden = result.hidden;
  if (hidden === undefined || hidden.invisible + hidden.status_unknown === 0) return table;
  const parts: string[] = [];
  if (hidden.invisible > 0) {
    parts.push(
      `${hidden.invisible} invisible (deleted, or inserted by a transaction that did not commit)`,
    );
  }
  if (hidden.status_unknown > 0) parts.push(`${hidden.status_unknown} with unknown status`);
  return `${table}(hidden tuples: ${parts.join(", ")})\n\n`;
}

// ---------------------------------------------------------------------------------------------
// pg_controldata

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** strftime("%c") in the C locale, local time: `Tue Dec  1 21:41:26 2026`. */
function cTime(seconds: bigint): string {
  const d = new Date(Number(seconds) * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAY_NAMES[d.getDay()]} ${MONTH_NAMES[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`
  );
}

function lsnText(lsn: bigint): string {
  return formatLsn(Number(lsn >> 32n), Number(lsn & 0xffffffffn));
}

const hex8 = (n: number | bigint) => n.toString(16).toUpperCase().padStart(8, "0");

/** XLogFileName of the segment holding `lsn`. */
function walFileName(timeLineID: number, lsn: bigint, segSize: number): string {
  if (segSize <= 0) return "???";
  const segno = lsn / BigInt(segSize);
  const perId = 0x100000000n / BigInt(segSize);
  return `${hex8(timeLineID)}${hex8(segno / perId)}${hex8(segno % perId)}`;
}

/**
 * `pg-control`: the control file's fields in pg_controldata's words, one `label: value` line
 * each, times in local time as the C locale's `%c`.
 */
export function pgControlText(c: ControlFileData): string {
  const cp = c.checkPointCopy;
  const onOff = (b: boolean) => (b ? "on" : "off");
  const lines: [string, string][] = [
    ["pg_control version number:            ", String(c.pgControlVersion)],
    ["Catalog version number:               ", String(c.catalogVersionNo)],
    ["Database system identifier:           ", c.systemIdentifier.toString()],
    [
      "Database cluster state:               ",
      DB_STATE_NAMES[c.state] ?? "unrecognized status code",
    ],
    ["pg_control last modified:             ", cTime(c.time)],
    ["Latest checkpoint location:           ", lsnText(c.checkPoint)],
    ["Latest checkpoint's REDO location:    ", lsnText(cp.redo)],
    [
      "Latest checkpoint's REDO WAL file:    ",
      walFileName(cp.thisTimeLineID, cp.redo, c.xlogSegSize),
    ],
    ["Latest checkpoint's TimeLineID:       ", String(cp.thisTimeLineID)],
    ["Latest checkpoint's PrevTimeLineID:   ", String(cp.prevTimeLineID)],
    ["Latest checkpoint's full_page_writes: ", onOff(cp.fullPageWrites)],
    [
      "Latest checkpoint's NextXID:          ",
      `${Number(cp.nextXid >> 32n)}:${Number(cp.nextXid & 0xffffffffn)}`,
    ],
    ["Latest checkpoint's NextOID:          ", String(cp.nextOid)],
    ["Latest checkpoint's NextMultiXactId:  ", String(cp.nextMulti)],
    ["Latest checkpoint's NextMultiOffset:  ", String(cp.nextMultiOffset)],
    ["Latest checkpoint's oldestXID:        ", String(cp.oldestXid)],
    ["Latest checkpoint's oldestXID's DB:   ", String(cp.oldestXidDB)],
    ["Latest checkpoint's oldestActiveXID:  ", String(cp.oldestActiveXid)],
    ["Latest checkpoint's oldestMultiXid:   ", String(cp.oldestMulti)],
    ["Latest checkpoint's oldestMulti's DB: ", String(cp.oldestMultiDB)],
    ["Latest checkpoint's oldestCommitTsXid:", String(cp.oldestCommitTsXid)],
    ["Latest checkpoint's newestCommitTsXid:", String(cp.newestCommitTsXid)],
    ["Time of latest checkpoint:            ", cTime(cp.time)],
    ["Fake LSN counter for unlogged rels:   ", lsnText(c.unloggedLSN)],
    ["Minimum recovery ending location:     ", lsnText(c.minRecoveryPoint)],
    ["Min recovery ending loc's timeline:   ", String(c.minRecoveryPointTLI)],
    ["Backup start location:                ", lsnText(c.backupStartPoint)],
    ["Backup end location:                  ", lsnText(c.backupEndPoint)],
    ["End-of-backup record required:        ", c.backupEndRequired ? "yes" : "no"],
    [
      "wal_level setting:                    ",
      WAL_LEVEL_NAMES[c.walLevel] ?? "unrecognized wal_level",
    ],
    ["wal_log_hints setting:                ", onOff(c.walLogHints)],
    ["max_connections setting:              ", String(c.maxConnections)],
    ["max_worker_processes setting:         ", String(c.maxWorkerProcesses)],
    ["max_wal_senders setting:              ", String(c.maxWalSenders)],
    ["max_prepared_xacts setting:           ", String(c.maxPreparedXacts)],
    ["max_locks_per_xact setting:           ", String(c.maxLocksPerXact)],
    ["track_commit_timestamp setting:       ", onOff(c.trackCommitTimestamp)],
    ["Maximum data alignment:               ", String(c.maxAlign)],
    ["Database block size:                  ", String(c.blcksz)],
    ["Blocks per segment of large relation: ", String(c.relsegSize)],
    ["WAL block size:                       ", String(c.xlogBlcksz)],
    ["Bytes per WAL segment:                ", String(c.xlogSegSize)],
    ["Maximum length of identifiers:        ", String(c.nameDataLen)],
    ["Maximum columns in an index:          ", String(c.indexMaxKeys)],
    ["Maximum size of a TOAST chunk:        ", String(c.toastMaxChunkSize)],
    ["Size of a large-object chunk:         ", String(c.loblksize)],
    ["Date/time type storage:               ", "64-bit integers"],
    ["Float8 argument passing:              ", c.float8ByVal ? "by value" : "by reference"],
    ["Data page checksum version:           ", String(c.dataChecksumVersion)],
    [
      "Mock authentication nonce:            ",
      [...c.mockAuthenticationNonce].map((b) => b.toString(16).padStart(2, "0")).join(""),
    ],
  ];
  return lines.map(([label, value]) => `${label}${value}\n`).join("");
}

/** `bt-metap`: pageinspect's bt_metap columns. */
export function btMetapText(row: BtMetapRow): string {
  const names = Object.keys(row) as (keyof BtMetapRow)[];
  return formatTable(
    names.map((n) => (n === "allequalimage" ? left(n) : right(n))),
    [names.map((n) => (n === "allequalimage" ? bool(row.allequalimage) : String(row[n])))],
  );
}

/** `bt-page-stats`: pageinspect's bt_page_stats columns, one row per page. */
export function btPageStatsText(rows: readonly BtPageStatsRow[]): string {
  const names: (keyof BtPageStatsRow)[] = [
    "blkno",
    "type",
    "live_items",
    "dead_items",
    "avg_item_size",
    "page_size",
    "free_size",
    "btpo_prev",
    "btpo_next",
    "btpo_level",
    "btpo_flags",
  ];
  return formatTable(
    names.map((n) => (n === "type" ? left(n) : right(n))),
    rows.map((r) => names.map((n) => String(r[n]))),
  );
}

/** `bt-page-items`: pageinspect's bt_page_items columns, one table per page. */
export function btPageItemsText(
  blocks: readonly { block: number; items: BtPageItemRow[] }[],
): string {
  const columns = [
    right("itemoffset"),
    left("ctid"),
    right("itemlen"),
    left("nulls"),
    left("vars"),
    left("data"),
    left("dead"),
    left("htid"),
    left("tids"),
  ];
  return blocks
    .map(
      ({ block, items }) =>
        `block ${block}:\n` +
        formatTable(
          columns,
          items.map((r) => [
            String(r.itemoffset),
            r.ctid,
            String(r.itemlen),
            bool(r.nulls),
            bool(r.vars),
            r.data,
            r.dead === null ? "" : bool(r.dead),
            r.htid ?? "",
            r.tids === null ? "" : `{${r.tids.map((t) => `"${t}"`).join(",")}}`,
          ]),
        ),
    )
    .join("");
}
