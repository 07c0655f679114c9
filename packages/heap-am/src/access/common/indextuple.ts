/**
 * Forming and reading index tuples: the 8-byte IndexTupleData header, the optional null bitmap,
 * and the key values laid out by the same rules as a heap tuple's data area.
 *
 * Models: src/backend/access/common/indextuple.c (index_form_tuple, index_deform_tuple,
 * nocache_index_getattr, index_truncate_tuple).
 * Entry points: `indexFormTuple`, `indexDeformTuple`, `indexTruncateTuple`.
 * See also: ../../include/access/itup.ts (header layout), heaptuple.ts (heap_fill_tuple and the
 * attribute walk, reused here), ../nbtree/ (the only index AM).
 *
 * The data area of an index tuple starts at 8 (no NULLs) or 16 (a null bitmap at 8..11), both
 * multiples of MAXALIGN, so laying the values out relative to the data start — which is what
 * heapFormTuple does after its own MAXALIGNed t_hoff — gives exactly index_form_tuple's bytes
 * (alignment is computed from the tuple start in PostgreSQL, and the offsets agree mod 8).
 *
 * Differs from PostgreSQL: a varlena key whose 4-byte-header size exceeds TOAST_INDEX_TARGET
 * (510 bytes) would be pglz-compressed inline by PostgreSQL; pgsim has no pglz compressor and
 * refuses such values (`index-value-too-large-uncompressed`). Out-of-line (TOASTed) values cannot
 * occur: pgsim's heap stores every value inline.
 */

import { assert, PgsimError } from "@pgsim/clock-sweep";
import {
  bitmapLen,
  heapTupleHeaderGetHoff,
  type ItemPointer,
  maxAlign,
  readItemPointer,
  writeItemPointer,
} from "../../include/access/htup-details.js";
import {
  INDEX_NULL_MASK,
  INDEX_SIZE_MASK,
  INDEX_VAR_MASK,
  indexInfoFindDataOffset,
  indexTupleInfo,
  SizeOfIndexTupleData,
  T_INFO_OFFSET,
} from "../../include/access/itup.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import { VARHDRSZ, varlenaPayload } from "../../include/varatt.js";
import type { Datum, FixedLengthCodec } from "../../utils/adt/type-codec.js";
import {
  fixedAttributeOffsets,
  heapFormTuple,
  type TupleValues,
  walkDataArea,
} from "./heaptuple.js";
import type { TupleDesc } from "./tupdesc.js";

/** TOAST_INDEX_TARGET: a varlena larger than this is compressed in an index tuple (510). */
export const TOAST_INDEX_TARGET = 510;

/**
 * index_form_tuple: an index tuple for `values` (one per attribute of `desc`, null for NULL),
 * with t_tid = `tid` (block 0, offset 0 when omitted, as index_form_tuple leaves it). The tuple
 * is zero-filled, so every padding byte is 0; its length is the MAXALIGNed size in t_info.
 *
 * Throws `index-row-too-big` ("index row requires %zu bytes, maximum size is 8191") and
 * `index-value-too-large-uncompressed` (see "Differs" above).
 *
 * @example
 * ```ts
 * const desc = createTupleDesc([{ name: "id", type: "int4" }]);
 * indexFormTuple(desc, [1], { block: 0, offset: 1 }); // 16 bytes: 00 00 00 00 01 00 10 00 01 00 00 00 …
 * ```
 */
export function indexFormTuple(
  desc: TupleDesc,
  values: TupleValues,
  tid?: ItemPointer,
): Uint8Array {
  // All-fixed-length key columns, no NULL: the layout is known (attcacheoff), so each value is
  // written at its offset after the 8-byte header (the bytes of the general path below).
  const fixed = fixedAttributeOffsets(desc);
  if (fixed !== null && values.length === desc.natts && !values.includes(null)) {
    if (!values.includes(undefined)) return formFixedIndexTuple(desc, values, fixed, tid);
  }
  let hasNull = false;
  let hasVar = false;
  for (let i = 0; i < desc.natts; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      hasNull = true;
      continue;
    }
    if (desc.attrs[i]?.attlen === -1) hasVar = true;
  }
  // heap_fill_tuple's layout of the values; the heap header and its bitmap are dropped.
  const heap = heapFormTuple(desc, values);
  const hoff = heapTupleHeaderGetHoff(heap, 0);
  const data = heap.subarray(hoff);
  if (hasVar) checkIndexTarget(desc, heap, hoff, hasNull);
  const dataOffset = hasNull ? 16 : SizeOfIndexTupleData;
  const size = maxAlign(dataOffset + data.length);
  if ((size & ~INDEX_SIZE_MASK) !== 0) {
    throw new PgsimError(
      "index-row-too-big",
      `index row requires ${size} bytes, maximum size is ${INDEX_SIZE_MASK}`,
      { size },
    );
  }
  const tuple = new Uint8Array(size);
  writeItemPointer(tuple, 0, tid ?? { block: 0, offset: 0 });
  tuple.set(data, dataOffset);
  if (hasNull) {
    for (let i = 0; i < desc.natts; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) {
        tuple[SizeOfIndexTupleData + (i >> 3)]! |= 1 << (i & 7);
      }
    }
  }
  writeUint16(
    tuple,
    T_INFO_OFFSET,
    size | (hasVar ? INDEX_VAR_MASK : 0) | (hasNull ? INDEX_NULL_MASK : 0),
  );
  return tuple;
}

/** indexFormTuple of a row without NULLs whose attributes are all fixed-length. */
function formFixedIndexTuple(
  desc: TupleDesc,
  values: TupleValues,
  offsets: Int32Array,
  tid: ItemPointer | undefined,
): Uint8Array {
  const size = maxAlign(SizeOfIndexTupleData + offsets[desc.natts]!);
  // (A fixed-length row is far below INDEX_SIZE_MASK: fixedAttributeOffsets caps it at a page.)
  const tuple = new Uint8Array(size);
  if (tid !== undefined) writeItemPointer(tuple, 0, tid);
  for (let i = 0; i < desc.natts; i++) {
    const att = desc.attrs[i]!;
    const codec = att.codec as FixedLengthCodec<Datum>;
    codec.write(tuple, SizeOfIndexTupleData + offsets[i]!, codec.coerce(values[i]!, att.atttypmod));
  }
  writeUint16(tuple, T_INFO_OFFSET, size);
  return tuple;
}

/** Refuses varlenas PostgreSQL would compress (see "Differs" in the header). */
function checkIndexTarget(desc: TupleDesc, heap: Uint8Array, hoff: number, hasNull: boolean): void {
  walkDataArea(desc, heap, hoff, desc.natts, hasNull ? 23 : -1, (i, _offset, length) => {
    const att = desc.attrs[i]!;
    if (att.attlen !== -1) return;
    // VARSIZE of the value with a 4-byte header, as index_form_tuple measures it.
    const payload = length - (heap[_offset]! & 0x01 ? 1 : VARHDRSZ);
    const size4 = payload + VARHDRSZ;
    if (size4 > TOAST_INDEX_TARGET && (att.attstorage === "x" || att.attstorage === "m")) {
      throw new PgsimError(
        "index-value-too-large-uncompressed",
        `index key value of column "${att.attname}" is ${size4} bytes: PostgreSQL would compress ` +
          `values over ${TOAST_INDEX_TARGET} bytes in an index tuple, and pgsim has no pglz compressor`,
        { column: att.attname, size: size4 },
      );
    }
  });
  assert(bitmapLen(desc.natts) <= 4, "an index has at most 32 attributes");
}

/**
 * index_deform_tuple / index_getattr: the first `natts` attribute values of the index tuple at
 * `bytes[off, off + size)` (null for NULL). `natts` defaults to every attribute of `desc`; pass
 * fewer for a truncated pivot tuple.
 */
export function indexDeformTuple(
  desc: TupleDesc,
  bytes: Uint8Array,
  off: number,
  size: number,
  natts = desc.natts,
): (Datum | null)[] {
  const tuple = bytes.subarray(off, off + size);
  const info = indexTupleInfo(tuple, 0);
  const values: (Datum | null)[] = new Array(natts).fill(null);
  walkDataArea(
    desc,
    tuple,
    indexInfoFindDataOffset(info),
    natts,
    (info & INDEX_NULL_MASK) !== 0 ? SizeOfIndexTupleData : -1,
    (i, offset, length) => {
      const codec = desc.attrs[i]?.codec;
      if (codec === null || codec === undefined) return;
      if (codec.kind === "fixed") {
        values[i] = codec.read(tuple, offset);
        return;
      }
      const p = varlenaPayload(tuple, offset, length);
      values[i] = codec.decodePayload(tuple, p.offset, p.length);
    },
  );
  return values;
}

/**
 * attcacheoff for index tuples: the offsets (from the data start) of the leading attributes
 * whose values sit at a fixed place in every tuple without NULLs — each attribute up to the first
 * varlena (or dropped/untyped one). The array's length is how many attributes have one.
 */
const cachedIndexOffsets = new WeakMap<TupleDesc, Int32Array>();
let lastIndexDesc: TupleDesc | undefined;
let lastIndexOffsets: Int32Array = new Int32Array(0);

export function indexFixedAttributeOffsets(desc: TupleDesc): Int32Array {
  if (desc === lastIndexDesc) return lastIndexOffsets;
  let offsets = cachedIndexOffsets.get(desc);
  if (offsets === undefined) {
    const found: number[] = [];
    let offset = 0;
    for (const att of desc.attrs) {
      if (att.attlen <= 0 || att.codec === null || att.codec.kind !== "fixed") break;
      offset = (offset + att.attalignBytes - 1) & ~(att.attalignBytes - 1);
      found.push(offset);
      offset += att.attlen;
    }
    offsets = Int32Array.from(found);
    cachedIndexOffsets.set(desc, offsets);
  }
  lastIndexDesc = desc;
  lastIndexOffsets = offsets;
  return offsets;
}

/**
 * index_getattr's fast path: attribute `i` (0-based) of the index tuple at `bytes[off]` read at its
 * cached offset, when the tuple has no NULLs and the attribute has one (see
 * `indexFixedAttributeOffsets`); `undefined` otherwise (the caller deforms the tuple, as
 * nocache_index_getattr walks it). Allocates nothing for by-value types.
 */
export function indexGetAttrFast(
  desc: TupleDesc,
  bytes: Uint8Array,
  off: number,
  i: number,
): Datum | undefined {
  if ((indexTupleInfo(bytes, off) & INDEX_NULL_MASK) !== 0) return undefined;
  const offsets = indexFixedAttributeOffsets(desc);
  if (i >= offsets.length) return undefined;
  const codec = desc.attrs[i]!.codec as FixedLengthCodec<Datum>;
  return codec.read(bytes, off + SizeOfIndexTupleData + offsets[i]!);
}

/**
 * index_truncate_tuple: a new tuple holding only the first `leavenatts` attributes of `source`
 * (formed afresh: its t_info flags describe the kept attributes only), with source's t_tid copied.
 * When nothing is cut it is a byte copy of `source`.
 */
export function indexTruncateTuple(
  desc: TupleDesc,
  truncDesc: TupleDesc,
  source: Uint8Array,
  leavenatts: number,
): Uint8Array {
  assert(leavenatts > 0 && leavenatts <= desc.natts, "index_truncate_tuple keeps 1..natts");
  if (leavenatts === desc.natts) return source.slice();
  assert(truncDesc.natts === leavenatts, "the truncated descriptor has leavenatts attributes");
  const values = indexDeformTuple(desc, source, 0, source.length, leavenatts);
  return indexFormTuple(truncDesc, values, readItemPointer(source, 0));
}
