// Forming and deforming heap tuples: the byte layouts of the worked examples of
// docs/reference/postgres-storage.md ("the reference"; C.10 and D.8 below are its sections), null
// bitmaps and t_hoff, varlena header choice, missing and dropped columns, the size limit, and
// the header accessors used in place on a page.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PgsimError } from "@pgsim/clock-sweep";
import { describe, expect, it } from "vitest";
import {
  heapAttributeSpans,
  heapComputeDataSize,
  heapDeformTuple,
  heapFormTuple,
} from "../src/access/common/heaptuple.js";
import { createTupleDesc, tupleDescFromAttributeRows } from "../src/access/common/tupdesc.js";
import {
  HEAP_HASNULL,
  HEAP_HASVARWIDTH,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_FROZEN,
  heapTupleHeaderAddInfomask,
  heapTupleHeaderGetCtid,
  heapTupleHeaderGetHoff,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetNatts,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetNatts,
  heapTupleHeaderSetXmax,
  heapTupleHeaderSetXmin,
  infomaskFlagNames,
  itemPointerToString,
  MaxHeapTupleSize,
  MaxHeapTuplesPerPage,
  readHeapTupleHeader,
  SizeofHeapTupleHeader,
} from "../src/include/access/htup-details.js";
import { bytesToHex } from "../src/include/port/le-bytes.js";

function pgError(fn: () => unknown): PgsimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PgsimError) return error;
    throw error;
  }
  throw new Error("expected a PgsimError");
}

describe("heapFormTuple layouts", () => {
  it("forms the reference's INSERT (1, 'abc') tuple byte for byte (C.10)", () => {
    const desc = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "name", type: "text" },
    ]);
    const tuple = heapFormTuple(desc, [1, "abc"]);
    expect(tuple.length).toBe(32);
    // t_xmin .. t_cid are set by heap_insert; t_ctid is invalid until the tuple is placed.
    expect(bytesToHex(tuple)).toBe(
      [
        "00".repeat(12), // t_xmin, t_xmax, t_cid
        "ffffffff0000", // t_ctid (invalid)
        "0200", // t_infomask2: natts 2
        "0200", // t_infomask: HEAP_HASVARWIDTH
        "18", // t_hoff 24
        "00", // padding
        "01000000", // id = 1
        "09616263", // 'abc' with a 1-byte header
      ].join(""),
    );
    expect(readHeapTupleHeader(tuple, 0)).toMatchObject({
      natts: 2,
      hoff: 24,
      infomask: HEAP_HASVARWIDTH,
    });
  });

  it("pads fixed-length values to their alignment with zeros (D.8)", () => {
    const desc = createTupleDesc([
      { name: "a", type: "int2" },
      { name: "b", type: "int8" },
    ]);
    const tuple = heapFormTuple(desc, [7, 9n]);
    expect(tuple.length).toBe(40);
    expect(bytesToHex(tuple, 24)).toBe("0700" + "000000000000" + "0900000000000000");
  });

  it("gives NULLs no data bytes and a 0 bit in the bitmap (D.8)", () => {
    const desc = createTupleDesc([
      { name: "a", type: "int4" },
      { name: "b", type: "int8" },
    ]);
    const tuple = heapFormTuple(desc, [null, 5n]);
    expect(tuple.length).toBe(32);
    expect(tuple[SizeofHeapTupleHeader]).toBe(0x02);
    expect(heapTupleHeaderGetHoff(tuple, 0)).toBe(24);
    expect(heapTupleHeaderGetInfomask(tuple, 0)).toBe(HEAP_HASNULL);
    expect(heapDeformTuple(desc, tuple)).toEqual([null, 5n]);
  });

  it("uses a 4-byte header for 127+ payload bytes and for STORAGE PLAIN columns (D.8)", () => {
    const long = createTupleDesc([{ name: "t", type: "text" }]);
    const tuple = heapFormTuple(long, ["x".repeat(200)]);
    expect(tuple.length).toBe(228);
    expect(bytesToHex(tuple, 24, 28)).toBe("30030000"); // 204 << 2
    const plain = createTupleDesc([
      { name: "b", type: "bool" },
      { name: "t", type: "text", storage: "p" },
    ]);
    const short = heapFormTuple(plain, [true, "x"]);
    expect(bytesToHex(short, 24)).toBe("01" + "000000" + "14000000" + "78");
    expect(heapDeformTuple(plain, short)).toEqual([true, "x"]);
  });

  it("does not align 1-byte-header values, and aligns what follows them", () => {
    const desc = createTupleDesc([
      { name: "u", type: "uuid" },
      { name: "i", type: "int4" },
      { name: "t", type: "varchar(10)" },
      { name: "n", type: "name" },
      { name: "d", type: "float8" },
    ]);
    const values = ["00112233-4455-6677-8899-aabbccddeeff", 5, "hi", "x", 0.5];
    const tuple = heapFormTuple(desc, values);
    // uuid 24..39, int4 40..43, "hi" 44..46, name 47..110 (align c), pad to 112, float8 112..119
    expect(tuple.length).toBe(120);
    expect(bytesToHex(tuple, 44, 47)).toBe("076869");
    expect(heapAttributeSpans(desc, tuple)).toEqual([
      { offset: 24, length: 16 },
      { offset: 40, length: 4 },
      { offset: 44, length: 3 },
      { offset: 47, length: 64 },
      { offset: 112, length: 8 },
    ]);
    expect(heapDeformTuple(desc, tuple)).toEqual(values);
  });

  it("sizes t_hoff by the bitmap: 24, 32 for 9 columns, 40 for 75", () => {
    const nine = createTupleDesc(
      Array.from({ length: 9 }, (_, i) => ({ name: `c${i}`, type: "int4" })),
    );
    expect(heapTupleHeaderGetHoff(heapFormTuple(nine, Array(9).fill(1)), 0)).toBe(24);
    expect(heapTupleHeaderGetHoff(heapFormTuple(nine, [...Array(8).fill(1), null]), 0)).toBe(32);
    const wide = createTupleDesc(
      Array.from({ length: 75 }, (_, i) => ({ name: `c${i}`, type: "bool" })),
    );
    const tuple = heapFormTuple(wide, Array(75).fill(null));
    expect(heapTupleHeaderGetHoff(tuple, 0)).toBe(40);
    expect(tuple.length).toBe(40);
    expect(heapTupleHeaderGetNatts(tuple, 0)).toBe(75);
  });

  it("reports the data size without forming the tuple", () => {
    const desc = createTupleDesc([
      { name: "a", type: "int2" },
      { name: "t", type: "text" },
      { name: "b", type: "int8" },
    ]);
    expect(heapComputeDataSize(desc, [1, "abc", 2n])).toBe(2 + 4 + 2 + 8);
    expect(heapComputeDataSize(desc, [null, null, null])).toBe(0);
  });
});

describe("heapFormTuple errors", () => {
  const desc = createTupleDesc([
    { name: "id", type: "int4" },
    { name: "body", type: "text" },
  ]);

  it("rejects a row larger than a page with PostgreSQL's message and a TOAST note", () => {
    expect(heapFormTuple(desc, [1, "x".repeat(8128)]).length).toBe(8160);
    const error = pgError(() => heapFormTuple(desc, [1, "x".repeat(8129)]));
    expect(error.code).toBe("row-too-big");
    expect(error.message).toBe(
      `row is too big: size 8168, maximum size ${MaxHeapTupleSize}. ` +
        "pgsim does not support TOAST yet, so every value must be stored inline and uncompressed.",
    );
  });

  it("applies each column's type and modifier to the values", () => {
    const vc = createTupleDesc([{ name: "v", type: "varchar(3)" }]);
    expect(pgError(() => heapFormTuple(vc, ["abcd"])).message).toBe(
      "value too long for type character varying(3)",
    );
    expect(pgError(() => heapFormTuple(desc, ["1", "x"])).code).toBe("datatype-mismatch");
    expect(pgError(() => heapFormTuple(desc, [1])).code).toBe("wrong-value-count");
  });
});

describe("heapDeformTuple", () => {
  it("reads attributes past the tuple's count as attmissingval or NULL", () => {
    const old = createTupleDesc([{ name: "id", type: "int4" }]);
    const tuple = heapFormTuple(old, [42]);
    const added = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "status", type: "int2", missing: 7 },
      { name: "memo", type: "text" },
    ]);
    expect(heapDeformTuple(added, tuple)).toEqual([42, 7, null]);
    expect(heapAttributeSpans(added, tuple)).toEqual([{ offset: 24, length: 4 }, null, null]);
  });

  it("steps over a dropped column's bytes and stores NULL for it in new rows", () => {
    const before = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "gone", type: "text" },
      { name: "amount", type: "int8" },
    ]);
    const after = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "........pg.dropped.2........", dropped: true, attlen: -1, attalign: "i" },
      { name: "amount", type: "int8" },
    ]);
    const oldTuple = heapFormTuple(before, [1, "dropped text", 5n]);
    expect(heapDeformTuple(after, oldTuple)).toEqual([1, null, 5n]);
    const newTuple = heapFormTuple(after, [2, "ignored", 6n]);
    expect(heapTupleHeaderGetInfomask(newTuple, 0) & HEAP_HASNULL).toBe(HEAP_HASNULL);
    expect(newTuple[SizeofHeapTupleHeader]).toBe(0b101);
    expect(heapDeformTuple(before, newTuple)).toEqual([2, null, 6n]);
  });

  it("builds missing values from case.json attmissingval literals", () => {
    const desc = tupleDescFromAttributeRows([
      {
        attnum: 1,
        name: "id",
        dropped: false,
        typname: "int4",
        attlen: 4,
        attbyval: true,
        attalign: "i",
        attstorage: "p",
        atttypmod: -1,
        attnotnull: true,
        atthasmissing: false,
        attmissingval: null,
      },
      {
        attnum: 2,
        name: "label",
        dropped: false,
        typname: "text",
        attlen: -1,
        attbyval: false,
        attalign: "i",
        attstorage: "x",
        atttypmod: -1,
        attnotnull: false,
        atthasmissing: true,
        attmissingval: '{"a \\"b\\""}',
      },
    ]);
    const tuple = heapFormTuple(createTupleDesc([{ name: "id", type: "int4" }]), [3]);
    expect(heapDeformTuple(desc, tuple)).toEqual([3, 'a "b"']);
  });

  it("rejects compressed and out-of-line values: pgsim has no TOAST", () => {
    const desc = createTupleDesc([{ name: "t", type: "text" }]);
    const external = new Uint8Array(24 + 18);
    external.set(heapFormTuple(desc, [""]).subarray(0, 24));
    external[24] = 0x01;
    external[25] = 18; // VARTAG_ONDISK
    expect(heapAttributeSpans(desc, external)).toEqual([{ offset: 24, length: 18 }]);
    const error = pgError(() => heapDeformTuple(desc, external));
    expect(error.code).toBe("toast-not-supported");
    expect(error.message).toContain("TOAST");
    const compressed = new Uint8Array(24 + 12);
    compressed.set(external.subarray(0, 24));
    compressed.set([0x32, 0, 0, 0], 24); // (12 << 2) | 2: compressed inline
    expect(pgError(() => heapDeformTuple(desc, compressed)).code).toBe("toast-not-supported");
  });

  it("rejects a tuple whose values run past its end", () => {
    const desc = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "t", type: "text" },
    ]);
    const tuple = heapFormTuple(desc, [1, "hello"]);
    const error = pgError(() => heapDeformTuple(desc, tuple.subarray(0, tuple.length - 1)));
    expect(error.code).toBe("data-corrupted");
    expect(error.message).toBe("unexpected end of tuple data at attribute 2");
    expect(pgError(() => heapDeformTuple(desc, tuple.subarray(0, 20))).code).toBe("data-corrupted");
  });
});

describe("tuple header accessors", () => {
  it("reads and writes header fields in place on a page", () => {
    const desc = createTupleDesc([{ name: "id", type: "int4" }]);
    const page = new Uint8Array(8192);
    const at = 8160;
    page.set(heapFormTuple(desc, [1]), at);
    heapTupleHeaderSetXmin(page, at, 730);
    heapTupleHeaderSetXmax(page, at, 0);
    heapTupleHeaderSetCtid(page, at, { block: 0x00010002, offset: 3 });
    heapTupleHeaderAddInfomask(page, at, HEAP_XMAX_INVALID);
    expect(bytesToHex(page, at, at + 4)).toBe("da020000");
    // The block number is stored high half first.
    expect(bytesToHex(page, at + 12, at + 18)).toBe("010002000300");
    expect(itemPointerToString(heapTupleHeaderGetCtid(page, at))).toBe("(65538,3)");
    heapTupleHeaderSetNatts(page, at, 1);
    expect(readHeapTupleHeader(page, at)).toEqual({
      xmin: 730,
      xmax: 0,
      field3: 0,
      ctid: { block: 65538, offset: 3 },
      infomask2: 1,
      infomask: HEAP_XMAX_INVALID,
      hoff: 24,
      natts: 1,
    });
    expect(heapDeformTuple(desc, page.subarray(at, at + 28))).toEqual([1]);
  });

  it("names infomask flags as pageinspect does", () => {
    expect(infomaskFlagNames(HEAP_XMIN_FROZEN | HEAP_XMAX_INVALID, 0)).toEqual({
      raw: ["HEAP_XMIN_COMMITTED", "HEAP_XMIN_INVALID", "HEAP_XMAX_INVALID"],
      combined: ["HEAP_XMIN_FROZEN"],
    });
    expect(infomaskFlagNames(0x0050 | 0x0080, 0x2000 | 0x8000)).toEqual({
      raw: [
        "HEAP_XMAX_KEYSHR_LOCK",
        "HEAP_XMAX_EXCL_LOCK",
        "HEAP_XMAX_LOCK_ONLY",
        "HEAP_KEYS_UPDATED",
        "HEAP_ONLY_TUPLE",
      ],
      combined: ["HEAP_XMAX_SHR_LOCK"],
    });
    expect(MaxHeapTuplesPerPage).toBe(291);
  });
});

describe("README.md", () => {
  it("runs the Tuple format example (its asserts throw if a value is wrong)", async () => {
    const readme = readFileSync(new URL("../src/access/common/README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Tuple format"));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toContain("heapFormTuple");
    // The example imports the package by name; point it at this checkout's source.
    const source = pathToFileURL(fileURLToPath(new URL("../src/index.ts", import.meta.url))).href;
    const dir = mkdtempSync(join(tmpdir(), "pgsim-readme-"));
    const file = join(dir, "tuple-format-example.ts");
    writeFileSync(file, (code ?? "").replace('"@pgsim/heap-am"', JSON.stringify(source)));
    try {
      await import(pathToFileURL(file).href);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
