/**
 * pgsim-inspect heap-page-items: every line pointer of each heap page with its tuple header,
 * null bitmap and data, and (given the table's columns) each attribute's bytes.
 *
 * Models: contrib/pageinspect/heapfuncs.c (heap_page_items, tuple_data_split,
 * heap_page_item_attrs, heap_tuple_infomask_flags).
 * Entry points: `inspectHeapPageItems`, `heapPageItems`.
 * See also: rows.ts (decoded values of the visible rows), blocks.ts (file into pages),
 * bufpage.ts (line pointers), htup-details.ts (header fields), heaptuple.ts (attribute walk).
 *
 * The item keys are those of the fixtures' pages.json: pageinspect's columns plus
 * `lp_flags_name`, `attrs` (heap_page_item_attrs) and `infomask_flags`.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { heapAttributeSpans } from "../access/common/heaptuple.js";
import { type TupleDesc, tupleDescFromAttributeRows } from "../access/common/tupdesc.js";
import {
  BLCKSZ,
  bitmapLen,
  HEAP_HASNULL,
  HEAP_HASOID_OLD,
  type InfomaskFlagNames,
  infomaskFlagNames,
  itemPointerToString,
  MinHeapTupleSize,
  maxAlign,
  readHeapTupleHeader,
  SizeofHeapTupleHeader,
  T_BITS_OFFSET,
} from "../include/access/htup-details.js";
import { bytesToHex, readUint32 } from "../include/port/le-bytes.js";
import {
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  itemIdHasStorage,
  pageGetItemId,
  pageGetMaxOffsetNumber,
} from "../storage/page/bufpage.js";
import {
  forkBlockCount,
  forkPage,
  type InspectOptions,
  selectBlocks,
  verifyPage,
} from "./blocks.js";

/** Names of the lp_flags values. */
const LP_FLAGS_NAMES = ["LP_UNUSED", "LP_NORMAL", "LP_REDIRECT", "LP_DEAD"] as const;

/** One line pointer and its tuple, as pageinspect's heap_page_items prints it. */
export interface HeapPageItem {
  lp: number;
  lp_off: number;
  lp_flags: number;
  lp_flags_name: string;
  lp_len: number;
  t_xmin: number | null;
  t_xmax: number | null;
  /** Command id (or combo cid), shown signed like pageinspect's int4 column. */
  t_field3: number | null;
  t_ctid: string | null;
  t_infomask2: number | null;
  t_infomask: number | null;
  t_hoff: number | null;
  /** Null bitmap as `0`/`1` characters, attribute 1 first; null without HEAP_HASNULL. */
  t_bits: string | null;
  /** The legacy OID field; null unless HEAP_HASOID_OLD. */
  t_oid: number | null;
  /** Hex of the data area, bytes t_hoff .. lp_len - 1. */
  t_data: string | null;
  /** Only with columns: hex of each column's stored bytes (null for NULL or missing). */
  attrs?: (string | null)[] | null;
  infomask_flags: InfomaskFlagNames | null;
}

/** The items of one block. */
export interface HeapPageItemsBlock {
  block: number;
  items: HeapPageItem[];
}

/**
 * Line pointers and tuples of each block of a heap fork file (or just `options.block`). With
 * `options.columns` (pg_attribute rows such as a fixture's case.json `columns`) every tuple's
 * attributes are split into `attrs` as heap_page_item_attrs does; without, `attrs` is left out.
 *
 * Throws `file-truncated` / `file-empty` / `block-out-of-range` for an unusable file or block,
 * `page-header-invalid` for a page that is not a heap page, and `data-corrupted` when a tuple's
 * attributes run past its end.
 *
 * @example
 * ```ts
 * const [first] = inspectHeapPageItems(readFileSync("main.bin"), { block: 0 });
 * first?.items[0]?.t_ctid; // "(0,1)"
 * ```
 */
export function inspectHeapPageItems(
  file: Uint8Array,
  options: InspectOptions & { columns?: unknown[] } = {},
): HeapPageItemsBlock[] {
  const desc =
    options.columns === undefined ? undefined : tupleDescFromAttributeRows(options.columns);
  const firstBlock = options.firstBlock ?? 0;
  const blocks = selectBlocks(forkBlockCount(file), options.block, {
    firstBlock,
    ...(options.range === undefined ? {} : { range: options.range }),
  });
  return blocks.map((block) => {
    const page = forkPage(file, block, firstBlock);
    // Header sanity only: pgsim-inspect checks checksums itself, honouring --ignore-checksum.
    verifyPage(page, block, false);
    return { block, items: heapPageItems(page, desc) };
  });
}

/** The items of one heap page (heap_page_items), with attributes split when `desc` is given. */
export function heapPageItems(page: Uint8Array, desc?: TupleDesc): HeapPageItem[] {
  const items: HeapPageItem[] = [];
  const count = pageGetMaxOffsetNumber(page);
  for (let lp = 1; lp <= count; lp++) {
    const itemId = pageGetItemId(page, lp);
    const flags = itemIdGetFlags(itemId);
    const item: HeapPageItem = {
      lp,
      lp_off: itemIdGetOffset(itemId),
      lp_flags: flags,
      lp_flags_name: LP_FLAGS_NAMES[flags] ?? "",
      lp_len: itemIdGetLength(itemId),
      t_xmin: null,
      t_xmax: null,
      t_field3: null,
      t_ctid: null,
      t_infomask2: null,
      t_infomask: null,
      t_hoff: null,
      t_bits: null,
      t_oid: null,
      t_data: null,
      ...(desc === undefined ? {} : { attrs: null }),
      infomask_flags: null,
    };
    // pageinspect decodes a tuple only where one can be: storage of at least a header's size,
    // MAXALIGNed, inside the page. Anything else keeps the tuple fields null.
    if (
      itemIdHasStorage(itemId) &&
      item.lp_len >= MinHeapTupleSize &&
      item.lp_off === maxAlign(item.lp_off) &&
      item.lp_off + item.lp_len <= BLCKSZ
    ) {
      fillTuple(item, page.subarray(item.lp_off, item.lp_off + item.lp_len), desc);
    }
    items.push(item);
  }
  return items;
}

function fillTuple(item: HeapPageItem, tuple: Uint8Array, desc: TupleDesc | undefined): void {
  const header = readHeapTupleHeader(tuple, 0);
  item.t_xmin = header.xmin;
  item.t_xmax = header.xmax;
  item.t_field3 = header.field3 | 0;
  item.t_ctid = itemPointerToString(header.ctid);
  item.t_infomask2 = header.infomask2;
  item.t_infomask = header.infomask;
  item.t_hoff = header.hoff;
  item.infomask_flags = infomaskFlagNames(header.infomask, header.infomask2);
  // The bitmap, OID and data are shown only when t_hoff is plausible.
  const hoff = header.hoff;
  if (hoff < SizeofHeapTupleHeader || hoff > tuple.length || hoff !== maxAlign(hoff)) return;
  const bitsBytes = bitmapLen(header.natts);
  // Differs from PostgreSQL: a bitmap that would run past t_hoff (a corrupt header) is shown as
  // null instead of reading the bytes beyond it.
  if ((header.infomask & HEAP_HASNULL) !== 0 && T_BITS_OFFSET + bitsBytes <= hoff) {
    let bits = "";
    for (let i = 0; i < bitsBytes * 8; i++) {
      bits += ((tuple[T_BITS_OFFSET + (i >> 3)] ?? 0) >> (i & 7)) & 1 ? "1" : "0";
    }
    item.t_bits = bits;
  }
  if ((header.infomask & HEAP_HASOID_OLD) !== 0 && hoff >= SizeofHeapTupleHeader + 4) {
    item.t_oid = readUint32(tuple, hoff - 4);
  }
  item.t_data = bytesToHex(tuple, hoff, tuple.length);
  if (desc === undefined) return;
  if (header.natts > desc.natts) {
    throw new PgsimError(
      "data-corrupted",
      "number of attributes in tuple header is greater than number of attributes in tuple descriptor",
      { natts: header.natts, descriptorNatts: desc.natts },
    );
  }
  item.attrs = heapAttributeSpans(desc, tuple).map((span) =>
    span === null ? null : bytesToHex(tuple, span.offset, span.offset + span.length),
  );
}
