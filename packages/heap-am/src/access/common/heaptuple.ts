/**
 * Forming and deforming heap tuples: header, null bitmap, and the attribute values laid out
 * with PostgreSQL's alignment and varlena header rules.
 *
 * Models: src/backend/access/common/heaptuple.c (heap_form_tuple, heap_compute_data_size,
 * heap_fill_tuple / fill_val, heap_deform_tuple, getmissingattr) and
 * src/include/access/tupmacs.h (att_align_nominal, att_align_pointer, att_addlength_pointer).
 * Entry points: `heapFormTuple`, `heapComputeDataSize`, `heapDeformTuple`, `heapDeformTupleAt`,
 * `heapAttributeSpans`.
 * See also: htup-details.ts (header layout), tupdesc.ts (descriptors), varatt.ts (varlena
 * headers), types/ (value encodings).
 *
 * Layout rules, from the start of the tuple (which is MAXALIGNed on the page):
 * 1. t_hoff = MAXALIGN(23 + (any NULL ? ceil(natts / 8) : 0)).
 * 2. NULLs take no data bytes; their bitmap bit is 0.
 * 3. A fixed-length value is aligned to its attalign (zero padding), then takes attlen bytes.
 * 4. A varlena whose payload is at most 126 bytes, in a column whose storage is not plain, gets
 *    a 1-byte header and no alignment. Any other varlena is aligned to attalign and gets a
 *    4-byte header.
 * 5. Reading, a varlena position holding a zero byte is padding (a 1-byte header is never
 *    zero): align, and a 4-byte header follows. A non-zero byte starts the value right there.
 *
 * Differs from PostgreSQL: there is no TOAST. heap_form_tuple itself accepts any size and
 * heap_insert compresses or moves large values out of line; pgsim rejects, when forming it, a
 * tuple that would not fit on a page ("row-too-big"), and reading rejects compressed or
 * out-of-line values ("toast-not-supported").
 */

import { assert, PgsimError } from "@pgsim/clock-sweep";
import {
  attIsNull,
  bitmapLen,
  HEAP_HASNULL,
  HEAP_HASVARWIDTH,
  HEAP_NATTS_MASK,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetNatts,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetHoff,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetInfomask2,
  InvalidBlockNumber,
  InvalidOffsetNumber,
  type ItemPointer,
  MaxHeapTupleSize,
  MaxTupleAttributeNumber,
  maxAlign,
  SizeofHeapTupleHeader,
  T_BITS_OFFSET,
} from "../../include/access/htup-details.js";
import {
  VARHDRSZ,
  varattCanMakeShort,
  varlenaHeaderKind,
  varlenaPayload,
  varsizeAny,
  writeVarlenaHeader,
} from "../../include/varatt.js";
import type { Datum, FixedLengthCodec } from "../../utils/adt/type-codec.js";
import { dataCorrupted } from "../../utils/adt/type-codec.js";
import type { FormPgAttribute, TupleDesc } from "./tupdesc.js";

/** What heap_form_tuple leaves in t_ctid until heap_insert places the tuple. */
const INVALID_ITEM_POINTER: ItemPointer = {
  block: InvalidBlockNumber,
  offset: InvalidOffsetNumber,
};

/** Values of one row, in attribute order; `null` (or `undefined`) is SQL NULL. */
export type TupleValues = readonly (Datum | null | undefined)[];

/** Rounds `offset` up to a multiple of `alignBytes` (1, 2, 4 or 8). */
function alignOffset(offset: number, alignBytes: number): number {
  return (offset + alignBytes - 1) & ~(alignBytes - 1);
}

// Scratch arrays reused by every heapFormTuple call, so that a row of fixed-length values needs
// no allocation besides the tuple itself. Safe because forming a tuple is synchronous and does
// not re-enter itself.
let coercedScratch: (Datum | undefined)[] = [];
let payloadScratch: (Uint8Array | undefined)[] = [];

interface PreparedRow {
  hasNull: boolean;
  hasVarWidth: boolean;
  dataSize: number;
}

/**
 * Pass 1 (heap_compute_data_size): coerces each value to its column's type, encodes varlena
 * payloads, and computes the data size with the layout rules. Results stay in the scratch arrays.
 */
function prepareRow(desc: TupleDesc, values: TupleValues): PreparedRow {
  if (values.length !== desc.natts) {
    throw new PgsimError(
      "wrong-value-count",
      `a row of this table needs ${desc.natts} values, got ${values.length}`,
      { expected: desc.natts, got: values.length },
    );
  }
  if (desc.natts > MaxTupleAttributeNumber) {
    throw new PgsimError(
      "too-many-columns",
      `number of columns (${desc.natts}) exceeds limit (${MaxTupleAttributeNumber})`,
    );
  }
  if (coercedScratch.length < desc.natts) {
    coercedScratch = new Array(desc.natts);
    payloadScratch = new Array(desc.natts);
  }
  let hasNull = false;
  let hasVarWidth = false;
  let size = 0;
  for (let i = 0; i < desc.natts; i++) {
    const att = desc.attrs[i];
    assert(att !== undefined, "descriptor has fewer attributes than natts");
    const value = values[i];
    const codec = att.codec;
    // Dropped columns always store NULL, whatever the caller passed.
    if (value === null || value === undefined || codec === null) {
      coercedScratch[i] = undefined;
      payloadScratch[i] = undefined;
      hasNull = true;
      continue;
    }
    const coerced = codec.coerce(value, att.atttypmod);
    coercedScratch[i] = coerced;
    if (codec.kind === "fixed") {
      payloadScratch[i] = undefined;
      size = alignOffset(size, att.attalignBytes) + att.attlen;
      continue;
    }
    const payload = codec.encodePayload(coerced);
    payloadScratch[i] = payload;
    hasVarWidth = true;
    if (useShortHeader(att, payload.length)) size += 1 + payload.length;
    else size = alignOffset(size, att.attalignBytes) + VARHDRSZ + payload.length;
  }
  return { hasNull, hasVarWidth, dataSize: size };
}

/** Rule 4: a 1-byte header when the column is not plain and the payload fits. */
function useShortHeader(att: FormPgAttribute, payloadBytes: number): boolean {
  return att.attstorage !== "p" && varattCanMakeShort(payloadBytes);
}

/**
 * The size of the data area (everything after t_hoff) of a tuple holding `values`.
 * Validates and coerces the values as `heapFormTuple` does.
 */
export function heapComputeDataSize(desc: TupleDesc, values: TupleValues): number {
  const { dataSize } = prepareRow(desc, values);
  releaseScratch(desc.natts);
  return dataSize;
}

function releaseScratch(natts: number): void {
  // Drop references so that large payloads are not kept alive between calls.
  for (let i = 0; i < natts; i++) {
    coercedScratch[i] = undefined;
    payloadScratch[i] = undefined;
  }
}

/**
 * Builds a heap tuple from one row of values (heap_form_tuple): the 23-byte header, the null
 * bitmap when a value is NULL, and the data area. Each value is first coerced to its column's
 * type (type check, varchar(n) length, char(n) padding, numeric(p,s) rounding).
 *
 * The header is what heap_form_tuple leaves for heap_insert to complete: t_xmin, t_xmax and
 * t_cid 0, t_ctid invalid (block 0xFFFFFFFF, offset 0), t_infomask2 = natts, t_infomask
 * HASNULL / HASVARWIDTH, t_hoff. (Differs from PostgreSQL: bytes 0-11 hold zeros rather than
 * the composite-Datum length, typmod and type OID, which heap_insert overwrites anyway.)
 *
 * Throws `row-too-big` when MAXALIGN(length) exceeds MaxHeapTupleSize (8160): pgsim has no
 * TOAST to shrink it.
 *
 * @example
 * ```ts
 * const desc = createTupleDesc([{ name: "id", type: "int4" }, { name: "name", type: "text" }]);
 * const tuple = heapFormTuple(desc, [1, "abc"]);
 * tuple.length; // 32: header 24, int4 at 24..27, "abc" with a 1-byte header at 28..31
 * ```
 */
export function heapFormTuple(desc: TupleDesc, values: TupleValues): Uint8Array {
  const offsets = fixedAttributeOffsets(desc);
  if (offsets !== null && values.length === desc.natts && !values.includes(null)) {
    if (!values.includes(undefined)) return formFixedTuple(desc, values, offsets);
  }
  const { hasNull, hasVarWidth, dataSize } = prepareRow(desc, values);
  const natts = desc.natts;
  const hoff = maxAlign(SizeofHeapTupleHeader + (hasNull ? bitmapLen(natts) : 0));
  const length = hoff + dataSize;
  if (maxAlign(length) > MaxHeapTupleSize) {
    releaseScratch(natts);
    throw new PgsimError(
      "row-too-big",
      `row is too big: size ${maxAlign(length)}, maximum size ${MaxHeapTupleSize}. ` +
        "pgsim does not support TOAST yet, so every value must be stored inline and uncompressed.",
      { size: maxAlign(length), maximum: MaxHeapTupleSize },
    );
  }
  const tuple = new Uint8Array(length);
  heapTupleHeaderSetCtid(tuple, 0, INVALID_ITEM_POINTER);
  heapTupleHeaderSetInfomask2(tuple, 0, natts & HEAP_NATTS_MASK);
  heapTupleHeaderSetInfomask(
    tuple,
    0,
    (hasNull ? HEAP_HASNULL : 0) | (hasVarWidth ? HEAP_HASVARWIDTH : 0),
  );
  heapTupleHeaderSetHoff(tuple, 0, hoff);
  heapFillTuple(desc, tuple, hoff, hasNull);
  releaseScratch(natts);
  return tuple;
}

/**
 * heapFormTuple of a row with no NULL for a descriptor of fixed-length attributes only: the
 * layout is known in advance (attcacheoff), so each value is coerced and written at its offset
 * in one pass. Produces the same bytes as the general path.
 */
function formFixedTuple(desc: TupleDesc, values: TupleValues, offsets: Int32Array): Uint8Array {
  const natts = desc.natts;
  const hoff = maxAlign(SizeofHeapTupleHeader);
  const tuple = new Uint8Array(hoff + offsets[natts]!);
  heapTupleHeaderSetCtid(tuple, 0, INVALID_ITEM_POINTER);
  heapTupleHeaderSetInfomask2(tuple, 0, natts & HEAP_NATTS_MASK);
  heapTupleHeaderSetHoff(tuple, 0, hoff);
  for (let i = 0; i < natts; i++) {
    const att = desc.attrs[i]!;
    const codec = att.codec as FixedLengthCodec<Datum>;
    codec.write(tuple, hoff + offsets[i]!, codec.coerce(values[i]!, att.atttypmod));
  }
  return tuple;
}

/**
 * Pass 2 (heap_fill_tuple): writes the bitmap and the prepared values. The tuple is freshly
 * zeroed, so padding bytes are already zero, as the decoding rule 5 requires.
 */
function heapFillTuple(desc: TupleDesc, tuple: Uint8Array, hoff: number, hasNull: boolean): void {
  let offset = hoff;
  for (let i = 0; i < desc.natts; i++) {
    const att = desc.attrs[i];
    const value = coercedScratch[i];
    if (att === undefined || value === undefined || att.codec === null) continue;
    if (hasNull)
      tuple[T_BITS_OFFSET + (i >> 3)] = (tuple[T_BITS_OFFSET + (i >> 3)] ?? 0) | (1 << (i & 7));
    const codec = att.codec;
    if (codec.kind === "fixed") {
      offset = alignOffset(offset, att.attalignBytes);
      codec.write(tuple, offset, value);
      offset += att.attlen;
      continue;
    }
    const payload = payloadScratch[i];
    assert(payload !== undefined, "varlena payload was not prepared");
    const short = useShortHeader(att, payload.length);
    if (!short) offset = alignOffset(offset, att.attalignBytes);
    offset += writeVarlenaHeader(tuple, offset, payload.length, short);
    tuple.set(payload, offset);
    offset += payload.length;
  }
  assert(offset === tuple.length, "heap_fill_tuple wrote a different length than computed");
}

/** Where one attribute's bytes are, as stored (a varlena's header included, padding excluded). */
export interface AttributeSpan {
  readonly offset: number;
  readonly length: number;
}

/**
 * Walks the stored attributes of `tuple` (the bytes from its first header byte to lp_len),
 * calling `visit(attributeIndex, offset, length)` for each non-NULL one, and returns the number
 * of attributes the tuple stores (attributes past it are missing). Every offset is checked
 * against the tuple's length; corrupt tuples throw `data-corrupted`.
 */
function walkAttributes(
  desc: TupleDesc,
  tuple: Uint8Array,
  visit: (index: number, offset: number, length: number) => void,
): number {
  const end = tuple.length;
  if (end < SizeofHeapTupleHeader)
    throw dataCorrupted(`tuple of ${end} bytes is shorter than its header`);
  const tupleNatts = heapTupleHeaderGetNatts(tuple, 0);
  const hasNulls = (heapTupleHeaderGetInfomask(tuple, 0) & HEAP_HASNULL) !== 0;
  const hoff = heapTupleHeaderGetHoff(tuple, 0);
  const minHoff = SizeofHeapTupleHeader + (hasNulls ? bitmapLen(tupleNatts) : 0);
  if (hoff < minHoff || hoff > end) {
    throw dataCorrupted(
      `invalid t_hoff ${hoff} for a tuple of ${end} bytes with ${tupleNatts} attributes`,
      {
        hoff,
      },
    );
  }
  const natts = Math.min(tupleNatts, desc.natts);
  walkDataArea(desc, tuple, hoff, natts, hasNulls ? T_BITS_OFFSET : -1, visit);
  return natts;
}

/**
 * The attribute walk shared by heap and index tuples (tupmacs.h att_align_pointer /
 * att_addlength_pointer, as heap_deform_tuple and nocache_index_getattr use them): starting at
 * `dataOffset` of `tuple`, visits the first `natts` attributes of `desc`, skipping those whose bit
 * in the null bitmap at `nullBitmapOffset` is clear (no bitmap: pass -1). Offsets are checked
 * against the tuple's length; a corrupt tuple throws `data-corrupted`.
 */
export function walkDataArea(
  desc: TupleDesc,
  tuple: Uint8Array,
  dataOffset: number,
  natts: number,
  nullBitmapOffset: number,
  visit: (index: number, offset: number, length: number) => void,
): void {
  const end = tuple.length;
  let offset = dataOffset;
  for (let i = 0; i < natts; i++) {
    if (nullBitmapOffset >= 0 && attIsNull(tuple, nullBitmapOffset, i)) continue;
    const att = desc.attrs[i];
    assert(att !== undefined, "descriptor has fewer attributes than natts");
    let length: number;
    if (att.attlen === -1) {
      if (offset >= end) throw unexpectedEnd(i, offset, end);
      if (tuple[offset] === 0) offset = alignOffset(offset, att.attalignBytes);
      length = varsizeAny(tuple, offset, end);
      const minimum = varlenaHeaderKind(tuple[offset] ?? 0) === "short" ? 1 : VARHDRSZ;
      if (length < minimum || offset + length > end) throw unexpectedEnd(i, offset, end);
    } else {
      offset = alignOffset(offset, att.attalignBytes);
      length = att.attlen;
      if (offset + length > end) throw unexpectedEnd(i, offset, end);
    }
    visit(i, offset, length);
    offset += length;
  }
}

function unexpectedEnd(index: number, offset: number, end: number): PgsimError {
  return dataCorrupted(`unexpected end of tuple data at attribute ${index + 1}`, { offset, end });
}

/**
 * The bytes of each attribute of the descriptor inside `tuple` (as pageinspect's
 * heap_page_item_attrs reports them): a span for every stored non-NULL value, dropped columns
 * included; null for NULLs and for attributes past the tuple's own count. Compressed and
 * out-of-line varlenas are reported by size without being decoded.
 */
export function heapAttributeSpans(desc: TupleDesc, tuple: Uint8Array): (AttributeSpan | null)[] {
  const spans: (AttributeSpan | null)[] = new Array(desc.natts).fill(null);
  walkAttributes(desc, tuple, (index, offset, length) => {
    spans[index] = { offset, length };
  });
  return spans;
}

/**
 * attcacheoff: for a descriptor whose every attribute is fixed-length and not dropped, each
 * attribute's offset from t_hoff (aligned as heap_fill_tuple lays them out) and, last, the data
 * size. Valid for any tuple of the descriptor with no NULLs; null for other descriptors (and for
 * those whose rows could not be formed at all).
 */
const cachedOffsets = new WeakMap<TupleDesc, Int32Array | null>();

/** The last descriptor asked about and its answer: a statement asks for one table many times. */
let lastOffsetsDesc: TupleDesc | undefined;
let lastOffsets: Int32Array | null = null;

export function fixedAttributeOffsets(desc: TupleDesc): Int32Array | null {
  if (desc === lastOffsetsDesc) return lastOffsets;
  let offsets = cachedOffsets.get(desc);
  if (offsets !== undefined) {
    lastOffsetsDesc = desc;
    lastOffsets = offsets;
    return offsets;
  }
  offsets = new Int32Array(desc.natts + 1);
  let offset = 0;
  for (let i = 0; i < desc.natts; i++) {
    const att = desc.attrs[i]!;
    if (att.attlen <= 0 || att.codec === null || att.codec.kind !== "fixed") {
      offsets = null;
      break;
    }
    offset = alignOffset(offset, att.attalignBytes);
    offsets[i] = offset;
    offset += att.attlen;
  }
  // Descriptors whose rows the general path rejects (too many columns, too wide) never use it.
  if (
    desc.natts > MaxTupleAttributeNumber ||
    maxAlign(maxAlign(SizeofHeapTupleHeader) + offset) > MaxHeapTupleSize
  ) {
    offsets = null;
  }
  if (offsets !== null) offsets[desc.natts] = offset;
  cachedOffsets.set(desc, offsets);
  lastOffsetsDesc = desc;
  lastOffsets = offsets;
  return offsets;
}

/**
 * Reads every attribute of `tuple` (heap_deform_tuple): one entry per descriptor attribute,
 * `null` for NULL and for dropped columns. Attributes past the tuple's own count (added by a
 * later ADD COLUMN) read as the column's missing value (attmissingval) or NULL.
 *
 * `tuple` is the tuple's bytes, header included (e.g. `page.subarray(lp_off, lp_off + lp_len)`).
 * Values are decoded into independent JS values: nothing refers to the page afterwards.
 *
 * @example
 * ```ts
 * heapDeformTuple(desc, heapFormTuple(desc, [1, "abc"])); // [1, "abc"]
 * ```
 */
export function heapDeformTuple(desc: TupleDesc, tuple: Uint8Array): (Datum | null)[] {
  return heapDeformTupleAt(desc, tuple, 0, tuple.length);
}

/**
 * heapDeformTuple of the tuple at `bytes[start..end)` (e.g. on a page: `lp_off`, `lp_off +
 * lp_len`), without making a view of it. Like slot_deform_heap_tuple, a tuple without NULLs whose
 * attributes are all fixed-length is read at the cached offsets (attcacheoff); any other is walked
 * attribute by attribute. `start` must be MAXALIGNed, as every tuple on a page is.
 */
export function heapDeformTupleAt(
  desc: TupleDesc,
  bytes: Uint8Array,
  start: number,
  end: number,
): (Datum | null)[] {
  const offsets = fixedAttributeOffsets(desc);
  if (offsets !== null && end - start >= SizeofHeapTupleHeader) {
    const hoff = heapTupleHeaderGetHoff(bytes, start);
    if (
      (heapTupleHeaderGetInfomask(bytes, start) & HEAP_HASNULL) === 0 &&
      heapTupleHeaderGetNatts(bytes, start) === desc.natts &&
      hoff >= SizeofHeapTupleHeader &&
      (hoff & 7) === 0 &&
      start + hoff + offsets[desc.natts]! <= end
    ) {
      const values: (Datum | null)[] = new Array(desc.natts);
      const data = start + hoff;
      for (let i = 0; i < desc.natts; i++) {
        values[i] = (desc.attrs[i]!.codec as FixedLengthCodec<Datum>).read(
          bytes,
          data + offsets[i]!,
        );
      }
      return values;
    }
  }
  const tuple = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  const values: (Datum | null)[] = new Array(desc.natts).fill(null);
  const natts = walkAttributes(desc, tuple, (index, offset, length) => {
    const att = desc.attrs[index];
    const codec = att?.codec;
    if (codec === null || codec === undefined) return;
    if (codec.kind === "fixed") {
      values[index] = codec.read(tuple, offset);
      return;
    }
    const payload = varlenaPayload(tuple, offset, length);
    values[index] = codec.decodePayload(tuple, payload.offset, payload.length);
  });
  for (let i = natts; i < desc.natts; i++) {
    const att = desc.attrs[i];
    if (att?.atthasmissing === true) values[i] = att.attmissingval;
  }
  return values;
}
