/**
 * pgsim-inspect rows: the rows of a heap fork file that a new snapshot sees, each value in
 * PostgreSQL's text output, like `SELECT ctid::text, * FROM t ORDER BY ctid` in psql.
 *
 * Models: a sequential scan in page mode (heapam.c heapgetpage: every LP_NORMAL tuple,
 * PD_ALL_VISIBLE pages taken whole, other tuples tested with HeapTupleSatisfiesMVCC) followed
 * by heap_deform_tuple, detoasting (detoast.c: decompressing inline values, fetching out-of-line
 * ones from the TOAST table when its file is given) and each type's output function.
 * Entry points: `inspectRows`.
 * See also: heap-page-items.ts (the raw items), visibility.ts (visible, invisible or unknown),
 * varlena.ts and toast.ts (TOAST), heaptuple.ts (attribute walk), types/ (text output).
 *
 * Text output uses the fixtures' settings: DateStyle ISO, TimeZone UTC, extra_float_digits 1,
 * bytea_output hex, IntervalStyle postgres.
 *
 * Differs from PostgreSQL: a value that cannot be shown does not end the scan. An out-of-line
 * value whose TOAST table file was not given is shown as its pointer (`{ toast_pointer }`), and a
 * value that does not decode (corrupt compressed data, bytes its type rejects) as
 * `{ error: message }`; PostgreSQL would fetch the first and raise an ERROR for the second.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { heapAttributeSpans } from "../access/common/heaptuple.js";
import {
  type FormPgAttribute,
  type TupleDesc,
  tupleDescFromAttributeRows,
} from "../access/common/tupdesc.js";
import type { CommitLog } from "../access/transam/clog.js";
import {
  BLCKSZ,
  HEAP_NATTS_MASK,
  heapTupleHeaderGetInfomask2,
  MinHeapTupleSize,
} from "../include/access/htup-details.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsNormal,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsAllVisible,
} from "../storage/page/bufpage.js";
import type { Datum } from "../utils/adt/type-codec.js";
import {
  forkBlockCount,
  forkPage,
  type InspectOptions,
  selectBlocks,
  verifyPage,
} from "./blocks.js";
import { fetchToastValue, type ToastChunks } from "./toast.js";
import { readStoredVarlena, type ToastPointer } from "./varlena.js";
import {
  type CommitLogSource,
  commitLogSource,
  tupleFate,
  type UnknownReason,
  unknownReasonText,
} from "./visibility.js";

/**
 * One value of a row: PostgreSQL's text output, null for NULL, the pointer of an out-of-line
 * value that could not be fetched, or why a value could not be shown.
 */
export type RowValue =
  | string
  | null
  | { readonly toast_pointer: ToastPointer }
  | { readonly error: string };

/** How many tuples the scan did not show, and why. */
export interface HiddenTuples {
  /** Not visible to a new snapshot: deleted, or inserted by a transaction that did not commit. */
  readonly invisible: number;
  /** Their fate could not be decided (see visibility.ts); `warnings` says why. */
  readonly status_unknown: number;
}

/** The visible rows: `columns` = ["ctid", ...column names], one value per column. */
export interface InspectRowsResult {
  columns: string[];
  /** The type name (pg_type.typname) of each column: "tid" for ctid. */
  types: string[];
  rows: RowValue[][];
  /** Only with `unknownStatus: "hide"`: the tuples left out. */
  hidden?: HiddenTuples;
  /** Only with `unknownStatus: "hide"`: one sentence per reason tuples or values were not shown. */
  warnings?: string[];
}

/** Options of inspectRows. */
export interface InspectRowsOptions extends InspectOptions {
  /** The commit log: a pg_xact segment (segment 0) or segments by number. */
  readonly xact?: CommitLog;
  /**
   * What to do with a tuple whose fate is unknown (no commit log, a commit log that does not
   * cover its xids, a MultiXactId xmax): `"throw"` (default) the error of
   * heapTupleVisibleToNewSnapshot; `"hide"` leave it out, count it in `hidden` and explain it in
   * `warnings` (what pgsim-inspect does).
   */
  readonly unknownStatus?: "throw" | "hide";
  /** The chunks of the table's TOAST table, to show out-of-line values (see toast.ts). */
  readonly toast?: ToastChunks;
}

/** The text of one stored attribute, or what stands in for it. */
function attributeValue(
  att: FormPgAttribute,
  tuple: Uint8Array,
  offset: number,
  length: number,
  toast: ToastChunks | undefined,
): RowValue {
  const codec = att.codec;
  if (codec === null) return null;
  try {
    let value: Datum;
    if (codec.kind === "fixed") {
      value = codec.read(tuple, offset);
    } else {
      const stored = readStoredVarlena(tuple, offset, length);
      let payload: Uint8Array;
      if (stored.kind === "external") {
        if (toast === undefined) return { toast_pointer: stored.pointer };
        payload = fetchToastValue(stored.pointer, toast);
      } else {
        payload = stored.payload;
      }
      value = codec.decodePayload(payload, 0, payload.length);
    }
    return codec.output(value as never, att.atttypmod);
  } catch (error) {
    if (error instanceof PgsimError) return { error: error.message };
    throw error;
  }
}

/** A tuple's values for the live (not dropped) attributes, missing ones from attmissingval. */
function rowValues(
  desc: TupleDesc,
  live: readonly FormPgAttribute[],
  tuple: Uint8Array,
  toast: ToastChunks | undefined,
): RowValue[] {
  let spans: ReturnType<typeof heapAttributeSpans>;
  try {
    spans = heapAttributeSpans(desc, tuple);
  } catch (error) {
    // A tuple whose attributes cannot be walked: every value of the row says why.
    if (!(error instanceof PgsimError)) throw error;
    return live.map(() => ({ error: error.message }));
  }
  const natts = heapTupleHeaderGetInfomask2(tuple, 0) & HEAP_NATTS_MASK;
  return live.map((att) => {
    const span = spans[att.attnum - 1];
    if (span === null || span === undefined) {
      // Past the tuple's own attribute count: the value an ADD COLUMN ... DEFAULT recorded.
      if (att.attnum > natts && att.atthasmissing && att.attmissingval !== null && att.codec) {
        return att.codec.output(att.attmissingval as never, att.atttypmod);
      }
      return null;
    }
    return attributeValue(att, tuple, span.offset, span.length, toast);
  });
}

/**
 * Reads the rows of a heap fork file visible to a new snapshot, ordered by ctid.
 *
 * `columns` are the table's pg_attribute rows (a fixture's case.json `columns`, dropped columns
 * included; they do not appear in the output). `options.xact` is the commit log
 * (`pg_xact/0000`, or segments by number), needed for tuples whose xmin or xmax carries no hint
 * bit. Without it such a tuple throws `xid-status-unknown`, unless `unknownStatus: "hide"` (pages
 * marked all-visible need no commit log). `options.block` / `options.range` limit the scan;
 * `options.firstBlock` is the block number of a segment file's first page. Pages are checked for
 * a sane header and a heap layout, not for checksums (verifyForkPages does that).
 *
 * @example
 * ```ts
 * const result = inspectRows(readFileSync("main.bin"), caseJson.columns, {
 *   xact: readFileSync("pg_xact.bin"),
 * });
 * result.rows[0]; // ["(0,1)", "1", "alpha", ...]
 * ```
 */
export function inspectRows(
  file: Uint8Array,
  columns: unknown[],
  options: InspectRowsOptions = {},
): InspectRowsResult {
  const desc = tupleDescFromAttributeRows(columns);
  const live = desc.attrs.filter((att) => !att.attisdropped);
  const firstBlock = options.firstBlock ?? 0;
  const source: CommitLogSource | undefined =
    options.xact === undefined ? undefined : commitLogSource(options.xact);
  const hide = options.unknownStatus === "hide";
  const unknown = new Map<UnknownReason, { count: number; xids: Set<number> }>();
  let invisible = 0;
  const rows: RowValue[][] = [];
  const blocks = selectBlocks(forkBlockCount(file), options.block, {
    firstBlock,
    ...(options.range === undefined ? {} : { range: options.range }),
  });
  for (const block of blocks) {
    const page = forkPage(file, block, firstBlock);
    // Header and page kind only: the caller decides about checksums (verifyForkPages).
    verifyPage(page, block, false);
    const allVisible = pageIsAllVisible(page);
    const count = pageGetMaxOffsetNumber(page);
    for (let lp = 1; lp <= count; lp++) {
      const itemId = pageGetItemId(page, lp);
      if (!itemIdIsNormal(itemId)) continue;
      const offset = itemIdGetOffset(itemId);
      const length = itemIdGetLength(itemId);
      if (length < MinHeapTupleSize || offset + length > BLCKSZ) {
        throw new PgsimError(
          "data-corrupted",
          `block ${block}: line pointer ${lp} points outside the page (offset ${offset}, length ${length})`,
          { block, lp },
        );
      }
      const tuple = page.subarray(offset, offset + length);
      if (!allVisible) {
        const fate = tupleFate(tuple, 0, source);
        if ("unknown" in fate) {
          if (!hide && fate.unknown !== "newer-than-commit-log") throw unknownError(fate);
          if (hide) {
            const entry = unknown.get(fate.unknown) ?? { count: 0, xids: new Set<number>() };
            entry.count++;
            entry.xids.add(fate.xid);
            unknown.set(fate.unknown, entry);
            continue;
          }
          // Without "hide", a pg_xact that looks older than the page is read as it is: the xid
          // is in progress there, so the tuple is invisible (heapTupleVisibleToNewSnapshot).
          invisible++;
          continue;
        }
        if (!fate.visible) {
          invisible++;
          continue;
        }
      }
      rows.push([`(${block},${lp})`, ...rowValues(desc, live, tuple, options.toast)]);
    }
  }
  const result: InspectRowsResult = {
    columns: ["ctid", ...live.map((att) => att.attname)],
    types: ["tid", ...live.map((att) => att.typname ?? "")],
    rows,
  };
  if (!hide) return result;
  let statusUnknown = 0;
  const warnings: string[] = [];
  for (const [reason, { count, xids }] of unknown) {
    statusUnknown += count;
    const sorted = [...xids].sort((a, b) => a - b);
    warnings.push(unknownReasonText(reason, count, sorted, source));
  }
  warnings.push(...valueWarnings(rows, options.toast !== undefined));
  return { ...result, hidden: { invisible, status_unknown: statusUnknown }, warnings };
}

/** The error heapTupleVisibleToNewSnapshot throws for an unknown fate. */
function unknownError(fate: { unknown: UnknownReason; xid: number }): PgsimError {
  switch (fate.unknown) {
    case "multixact":
      return new PgsimError(
        "multixact-not-supported",
        `tuple xmax ${fate.xid} is a MultiXactId; pgsim cannot resolve multixact members`,
        { xmax: fate.xid },
      );
    case "not-covered":
      return new PgsimError(
        "xid-status-unavailable",
        `could not access status of transaction ${fate.xid}`,
        { xid: fate.xid },
      );
    default:
      return new PgsimError(
        "xid-status-unknown",
        `status of transaction ${fate.xid} is unknown: the tuple has no hint bit and no commit log (pg_xact) was given`,
        { xid: fate.xid },
      );
  }
}

/** Sentences about values shown as TOAST pointers or errors. */
function valueWarnings(rows: readonly RowValue[][], toastGiven: boolean): string[] {
  let pointers = 0;
  const errors: string[] = [];
  for (const row of rows) {
    for (const value of row) {
      if (value === null || typeof value === "string") continue;
      if ("toast_pointer" in value) pointers++;
      else errors.push(`${row[0]}: ${value.error}`);
    }
  }
  const out: string[] = [];
  if (pointers > 0 && !toastGiven) {
    out.push(
      `${pointers} value${pointers === 1 ? " is" : "s are"} stored out of line (TOAST) and shown as ${pointers === 1 ? "its pointer" : "their pointers"}; give --toast with the TOAST table's file to show ${pointers === 1 ? "it" : "them"}`,
    );
  }
  if (errors.length > 0) {
    out.push(
      `${errors.length} value${errors.length === 1 ? "" : "s"} could not be shown: ${errors.slice(0, 3).join("; ")}${errors.length > 3 ? "; ..." : ""}`,
    );
  }
  return out;
}
