/**
 * heap_multi_insert of a column batch, forming each tuple straight into the target page.
 *
 * Models: src/backend/access/heap/heapam.c (heap_multi_insert, heap_prepare_insert) with
 * access/common/heaptuple.c's heap_form_tuple / heap_fill_tuple and storage/page/bufpage.c's
 * PageAddItemExtended folded into one pass per page.
 * Entry points: `heapMultiInsertColumns`, `columnBatchIsDirect`.
 * See also: heapam.ts (heapMultiInsert, the row form, which this leaves byte-identical pages
 * and WAL to), hio.ts (RelationGetBufferForTuple), ../table/tableam.ts (ColumnBatch), README.md
 * "Insert".
 *
 * PostgreSQL's heap_multi_insert forms every tuple of the batch (heap_prepare_insert), then for
 * each page: RelationGetBufferForTuple for the next tuple, RelationPutHeapTuple while the page
 * keeps its fillfactor reserve free, clear PD_ALL_VISIBLE and the VM bits, MarkBufferDirty, one
 * XLOG_HEAP2_MULTI_INSERT record (when the relation needs WAL), UnlockReleaseBuffer. This does
 * the same steps in the same order, and each page ends with the bytes heapMultiInsert leaves for
 * the same rows (test/multi-insert-columns-identity.test.ts).
 *
 * The direct form applies when every column of the table is fixed-length smallint, integer,
 * bigint, real or double precision and the batch gives each as the matching typed array (which
 * holds no NULL and no out-of-range value, so no row can fail): the tuple length is then the same
 * for every row, and the header and the zero padding are copied from a template made once per
 * batch. Any other batch (NULLs, varlena, other types, plain arrays) is turned into rows for
 * heapMultiInsert.
 *
 * Differs from PostgreSQL: the tuple is formed in place in the page (PageAddItemExtended's line
 * pointer and pd_lower / pd_upper moves first, then the bytes) instead of being formed in memory
 * and copied; bytes 0–11 of the header are xmin, xmax and cid from the start, which heap_insert
 * also leaves there. The same bytes result.
 */

import { AssertionError } from "@pgsim/clock-sweep";
import {
  HEAP_NATTS_MASK,
  HEAP_XMAX_INVALID,
  InvalidOffsetNumber,
  itemPointerSet,
  MaxHeapTuplesPerPage,
  maxAlign,
  SizeofHeapTupleHeader,
  T_CTID_OFFSET,
  T_FIELD3_OFFSET,
  T_HOFF_OFFSET,
  T_INFOMASK_OFFSET,
  T_INFOMASK2_OFFSET,
  T_XMIN_OFFSET,
} from "../../include/access/htup-details.js";
import { writeUint16, writeUint32 } from "../../include/port/le-bytes.js";
import {
  LP_NORMAL,
  makeItemId,
  PD_LOWER_OFFSET,
  PD_UPPER_OFFSET,
  pageGetHeapFreeSpace,
  pageGetLower,
  pageGetMaxOffsetNumber,
  pageGetUpper,
  pageHasFreeLinePointers,
  pageReserveHeapItem,
  pageSetLsn,
  SizeOfItemIdData,
  SizeOfPageHeaderData,
} from "../../storage/page/bufpage.js";
import type { Datum, FixedLengthCodec } from "../../utils/adt/type-codec.js";
import type { Relation } from "../../utils/cache/rel.js";
import { fixedAttributeOffsets } from "../common/heaptuple.js";
import type { TupleDesc } from "../common/tupdesc.js";
import {
  type ColumnBatch,
  columnBatchRow,
  type Row,
  relationNeedsWal,
  type TableAmContext,
} from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import { clearAllVisible, heapMultiInsert } from "./heapam.js";
import { logHeapMultiInsert } from "./heapam-xlog.js";
import {
  type BulkInsertState,
  pageItemStart,
  relationGetBufferForTuple,
  saveFreeSpace,
} from "./hio.js";

/** A typed array's constructor. */
type TypedArrayType = new (n: number) => ArrayLike<number | bigint>;

/** How a column's values are written in the direct form. */
const WRITE_INT4 = 0;
const WRITE_INT2 = 1;
/** Through the column's codec (bigint, real, double precision: NaN canonicalised there). */
const WRITE_CODEC = 2;

/** The fixed layout of a table every column of which the direct form can write. */
interface DirectLayout {
  /** Each column's offset from t_hoff (attcacheoff), and the data size last. */
  readonly offsets: Int32Array;
  /** Each column's WRITE_* kind. */
  readonly kinds: Uint8Array;
  /** The typed array each column must be given as. */
  readonly arrayTypes: readonly TypedArrayType[];
  readonly codecs: readonly FixedLengthCodec<Datum>[];
}

/** The typed array, and write kind, of each type the direct form takes. */
const DIRECT_TYPES: Readonly<Record<string, { arrayType: TypedArrayType; kind: number }>> = {
  int2: { arrayType: Int16Array, kind: WRITE_INT2 },
  int4: { arrayType: Int32Array, kind: WRITE_INT4 },
  int8: { arrayType: BigInt64Array, kind: WRITE_CODEC },
  float4: { arrayType: Float32Array, kind: WRITE_CODEC },
  float8: { arrayType: Float64Array, kind: WRITE_CODEC },
};

const layouts = new WeakMap<TupleDesc, DirectLayout | null>();

/** The descriptor's direct layout, or null when a column is not of a DIRECT_TYPES type. */
function directLayout(desc: TupleDesc): DirectLayout | null {
  let layout = layouts.get(desc);
  if (layout !== undefined) return layout;
  layout = null;
  const offsets = fixedAttributeOffsets(desc);
  if (offsets !== null) {
    const kinds = new Uint8Array(desc.natts);
    const arrayTypes: TypedArrayType[] = [];
    const codecs: FixedLengthCodec<Datum>[] = [];
    let ok = true;
    for (let c = 0; c < desc.natts; c++) {
      const att = desc.attrs[c]!;
      const direct = att.attisdropped ? undefined : DIRECT_TYPES[att.codec?.typname ?? ""];
      if (direct === undefined) {
        ok = false;
        break;
      }
      kinds[c] = direct.kind;
      arrayTypes.push(direct.arrayType);
      codecs.push(att.codec as FixedLengthCodec<Datum>);
    }
    if (ok) layout = { offsets, kinds, arrayTypes, codecs };
  }
  layouts.set(desc, layout);
  return layout;
}

/** Whether every column of the batch is the typed array its column's direct form needs. */
function batchFitsLayout(batch: ColumnBatch, layout: DirectLayout): boolean {
  const columns = batch.columns;
  if (columns.length !== layout.kinds.length) return false;
  for (let c = 0; c < columns.length; c++) {
    if (!(columns[c] instanceof layout.arrayTypes[c]!)) return false;
  }
  return true;
}

/**
 * Whether heapMultiInsertColumns forms `batch`'s tuples straight into the pages (every column of
 * the table a DIRECT_TYPES type, given as its typed array) rather than through heapMultiInsert.
 */
export function columnBatchIsDirect(desc: TupleDesc, batch: ColumnBatch): boolean {
  const layout = directLayout(desc);
  return layout !== null && batchFitsLayout(batch, layout);
}

/** What writeRow needs: the batch's header template, the layout, the columns. */
interface RowWriter {
  readonly template: Uint8Array;
  readonly hoff: number;
  readonly offsets: Int32Array;
  readonly kinds: Uint8Array;
  readonly codecs: readonly FixedLengthCodec<Datum>[];
  readonly columns: readonly ArrayLike<number | bigint>[];
}

/**
 * heap_form_tuple of row `i` at `pos` on the page (every byte of the tuple written: the space may
 * hold old bytes after a compaction), with RelationPutHeapTuple's t_ctid = (the page, offnum).
 */
function writeRow(w: RowWriter, page: Uint8Array, pos: number, offnum: number, i: number): void {
  // The template's t_ctid already holds the page's block number (see heapMultiInsertColumns).
  page.set(w.template, pos);
  page[pos + T_CTID_OFFSET + 4] = offnum;
  page[pos + T_CTID_OFFSET + 5] = offnum >>> 8;
  const data = pos + w.hoff;
  const offsets = w.offsets;
  const kinds = w.kinds;
  for (let c = 0; c < kinds.length; c++) {
    const p = data + offsets[c]!;
    const kind = kinds[c]!;
    if (kind === WRITE_INT4) {
      const v = (w.columns[c] as Int32Array)[i]!;
      page[p] = v;
      page[p + 1] = v >>> 8;
      page[p + 2] = v >>> 16;
      page[p + 3] = v >>> 24;
    } else if (kind === WRITE_INT2) {
      const v = (w.columns[c] as Int16Array)[i]!;
      page[p] = v;
      page[p + 1] = v >>> 8;
    } else {
      w.codecs[c]!.write(page, p, w.columns[c]![i]!);
    }
  }
}

/**
 * heap_multi_insert of `count` rows given by column (see ColumnBatch), with the same page, FSM,
 * VM and WAL effects as `heapMultiInsert` of the same rows. Returns nothing: the rows' TIDs are
 * not collected.
 *
 * @example
 * ```ts
 * const aid = Int32Array.from({ length: 1000 }, (_, i) => i + 1);
 * heapMultiInsertColumns(ctx, rel, { columns: [aid, new Int32Array(1000)] }, 1000, xact, bistate);
 * ```
 */
export function heapMultiInsertColumns(
  ctx: TableAmContext,
  rel: Relation,
  batch: ColumnBatch,
  count: number,
  xact: Transaction,
  bistate?: BulkInsertState,
): void {
  xact.checkInProgress();
  const layout = directLayout(rel.desc);
  if (layout === null || !batchFitsLayout(batch, layout)) {
    const rows: Row[] = new Array(count);
    for (let i = 0; i < count; i++) rows[i] = columnBatchRow(batch, i);
    heapMultiInsert(ctx, rel, rows, xact, bistate);
    return;
  }
  if (count === 0) return;
  const natts = layout.kinds.length;
  const offsets = layout.offsets;
  const kinds = layout.kinds;
  const codecs = layout.codecs;
  const columns = batch.columns as readonly ArrayLike<number | bigint>[];
  const hoff = maxAlign(SizeofHeapTupleHeader);
  const len = hoff + offsets[natts]!;
  const aligned = maxAlign(len);
  const cid = xact.commandId;
  const xid = xact.getXid();
  // heap_form_tuple + heap_prepare_insert's header, the same for every row but t_ctid: xmin,
  // xmax 0, cmin, infomask2 = natts, infomask = XMAX_INVALID (no NULL, no varlena), t_hoff; the
  // data area's padding zero.
  const template = new Uint8Array(len);
  writeUint32(template, T_XMIN_OFFSET, xid);
  writeUint32(template, T_FIELD3_OFFSET, cid);
  writeUint16(template, T_INFOMASK2_OFFSET, natts & HEAP_NATTS_MASK);
  writeUint16(template, T_INFOMASK_OFFSET, HEAP_XMAX_INVALID);
  template[T_HOFF_OFFSET] = hoff;

  const pool = ctx.pool;
  const saveFree = saveFreeSpace(rel);
  const needWal = ctx.xlog !== undefined && relationNeedsWal(ctx, rel);
  const writer: RowWriter = { template, hoff, offsets, kinds, codecs, columns };
  let i = 0;
  while (i < count) {
    const buffer = relationGetBufferForTuple(ctx, rel, len, undefined, bistate);
    const page = pool.bufferGetPage(buffer);
    const block = pool.bufferGetBlockNumber(buffer);
    const startingWithEmptyPage = pageGetMaxOffsetNumber(page) === 0;
    const walOffsets: number[] | undefined = needWal ? [] : undefined;
    // RelationPutHeapTuple's t_ctid: this page's block number, and each tuple's offset number.
    itemPointerSet(template, T_CTID_OFFSET, block, InvalidOffsetNumber);
    // The first tuple fits (hio checked); keep adding while the fillfactor reserve stays free.
    // Each goes through PageAddItemExtended's own code while PD_HAS_FREE_LINES says an unused
    // line pointer may be reused (a page VACUUM left some on)...
    do {
      const offnum = pageReserveHeapItem(page, len);
      if (offnum === InvalidOffsetNumber) throw new AssertionError("failed to add tuple to page");
      writeRow(writer, page, pageGetUpper(page), offnum, i);
      walOffsets?.push(offnum);
      i++;
    } while (
      i < count &&
      pageHasFreeLinePointers(page) &&
      pageGetHeapFreeSpace(page) >= aligned + saveFree
    );
    // ... and once it does not, every tuple takes the next line pointer: the same steps
    // (PageGetHeapFreeSpace, then PageAddItemExtended appending) on pd_lower and pd_upper kept
    // in locals, written back once.
    if (i < count && !pageHasFreeLinePointers(page)) {
      let lower = pageGetLower(page);
      let upper = pageGetUpper(page);
      while (i < count) {
        const nline = (lower - SizeOfPageHeaderData) / SizeOfItemIdData;
        const space = upper - lower;
        const free =
          space < SizeOfItemIdData || nline >= MaxHeapTuplesPerPage ? 0 : space - SizeOfItemIdData;
        if (free < aligned + saveFree) break;
        upper -= aligned;
        writeUint32(page, lower, makeItemId(upper, LP_NORMAL, len));
        lower += SizeOfItemIdData;
        writeRow(writer, page, upper, nline + 1, i);
        walOffsets?.push(nline + 1);
        i++;
      }
      writeUint16(page, PD_LOWER_OFFSET, lower);
      writeUint16(page, PD_UPPER_OFFSET, upper);
    }
    const allVisibleCleared = clearAllVisible(ctx, rel, page, block);
    pool.markBufferDirty(buffer);
    if (walOffsets !== undefined) {
      const tuples = walOffsets.map((offnum) => {
        const start = pageItemStart(page, offnum);
        return page.subarray(start, start + len);
      });
      const result = logHeapMultiInsert(ctx.xlog!.ins, ctx.xlog!.wal, {
        rel: rel.locator,
        block,
        page,
        tuples,
        offsets: walOffsets,
        init: startingWithEmptyPage,
        allVisibleCleared,
        lastInMulti: i === count,
        xid,
      });
      pageSetLsn(page, result.endLsn);
    }
    pool.unlockReleaseBuffer(buffer);
  }
  xact.markCommandUsed();
  ctx.pgstat?.relations.countHeapInsert(rel.def.relNumber, xact, count);
}
