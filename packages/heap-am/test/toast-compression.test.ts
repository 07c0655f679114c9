/**
 * pglz and LZ4 decompression on hand-made streams: literals, back-references, overlapping runs,
 * extended lengths, 12-bit offsets, and every kind of corruption the decoders must refuse.
 * (test/pg15-inspect.test.ts decompresses values PostgreSQL 15 compressed.)
 */
import { describe, expect, it } from "vitest";
import { lz4DecompressDatum } from "../src/common/lz4-decompress.js";
import { pglzDecompress, pglzDecompressDatum } from "../src/common/pg-lzcompress.js";
import { PgsimError } from "../src/index.js";
import { readStoredVarlena } from "../src/inspect/varlena.js";

const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : new TextDecoder().decode(bytes);
const bytes = (...parts: (string | number[])[]) =>
  new Uint8Array(
    parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)),
  );

describe("pglz_decompress", () => {
  it("copies literals, eight items per control byte", () => {
    const source = bytes([0x00], "abcdefgh", [0x00], "ij");
    expect(text(pglzDecompress(source, 10, true))).toBe("abcdefghij");
  });

  it("copies a match from the output already produced", () => {
    // Control 0b1000: three literals, then a tag of length 3 at offset 3.
    expect(text(pglzDecompress(bytes([0x08], "abc", [0x00, 0x03]), 6, true))).toBe("abcabc");
  });

  it("lets a match overlap what it produces (a run)", () => {
    // "a", then 10 bytes from offset 1.
    expect(text(pglzDecompress(bytes([0x02], "a", [0x07, 0x01]), 11, true))).toBe("a".repeat(11));
    // "xy", then 18 + 100 bytes from offset 2 (length nibble 15 and an extension byte).
    expect(text(pglzDecompress(bytes([0x04], "xy", [0x0f, 0x02, 100]), 120, true))).toBe(
      "xy".repeat(60),
    );
  });

  it("reads 12-bit offsets: the high nibble of the tag's first byte", () => {
    const head = Array.from({ length: 300 }, (_, i) => 97 + (i % 26));
    const chunks: number[] = [];
    for (let i = 0; i < 296; i += 8) chunks.push(0x00, ...head.slice(i, i + 8));
    // 296 literals in 37 groups, then a group of 4 literals and a tag (bit 4 of its control
    // byte): length 5 at offset 300 = 0x12C.
    const source = new Uint8Array([...chunks, 0x10, ...head.slice(296), 0x10 | (5 - 3), 0x2c]);
    const out = pglzDecompress(source, 305, true);
    expect(out).toBeDefined();
    expect([...out!.subarray(300)]).toEqual(head.slice(0, 5));
  });

  it("refuses corrupt data: offset 0, an offset before the start, a cut tag, a wrong size", () => {
    expect(pglzDecompress(bytes([0x02], "a", [0x00, 0x00]), 4, true)).toBeUndefined();
    expect(pglzDecompress(bytes([0x02], "a", [0x00, 0x02]), 4, true)).toBeUndefined();
    expect(pglzDecompress(bytes([0x02], "a", [0x0f, 0x01]), 40, true)).toBeUndefined();
    expect(pglzDecompress(bytes([0x00], "abc"), 4, true)).toBeUndefined();
    expect(pglzDecompress(bytes([0x00], "abcde"), 4, true)).toBeUndefined();
    // Without check_complete, a short result is what there is.
    expect(text(pglzDecompress(bytes([0x00], "abc"), 4, false))).toBe("abc");
    let error: unknown;
    try {
      pglzDecompressDatum(bytes([0x02], "a", [0x00, 0x00]), 4);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toBe("data-corrupted");
    expect((error as PgsimError).message).toBe("compressed pglz data is corrupt");
  });
});

describe("LZ4_decompress_safe", () => {
  it("decodes literals, matches, overlapping runs and extended lengths", () => {
    expect(text(lz4DecompressDatum(bytes([0x50], "hello"), 5))).toBe("hello");
    // "abcd", 8 bytes from offset 4, then a last sequence of one literal.
    expect(text(lz4DecompressDatum(bytes([0x44], "abcd", [4, 0, 0x10], "!"), 13))).toBe(
      "abcdabcdabcd!",
    );
    // "a", then 15 + 4 + 0 = 19 bytes from offset 1, then "b".
    expect(text(lz4DecompressDatum(bytes([0x1f], "a", [1, 0, 0, 0x10], "b"), 21))).toBe(
      `${"a".repeat(20)}b`,
    );
    // 15 + 5 literals (an extension byte for the literal count).
    expect(text(lz4DecompressDatum(bytes([0xf0, 5], "x".repeat(20)), 20))).toBe("x".repeat(20));
  });

  it("refuses corrupt blocks", () => {
    const corrupt = "compressed lz4 data is corrupt";
    expect(() => lz4DecompressDatum(bytes([0x14], "a", [0, 0, 0x10], "b"), 10)).toThrow(corrupt);
    expect(() => lz4DecompressDatum(bytes([0x14], "a", [5, 0, 0x10], "b"), 10)).toThrow(corrupt);
    expect(() => lz4DecompressDatum(bytes([0x50], "hi"), 5)).toThrow(corrupt);
    expect(() => lz4DecompressDatum(bytes([0x50], "hello"), 3)).toThrow(corrupt);
    expect(() => lz4DecompressDatum(bytes([0x14], "a", [1]), 10)).toThrow(corrupt);
    expect(() => lz4DecompressDatum(new Uint8Array(0), 10)).toThrow(corrupt);
  });
});

describe("stored varlenas", () => {
  it("reads an inline compressed value: va_tcinfo holds the raw size and the method", () => {
    const stream = bytes([0x02], "a", [0x07, 0x01]);
    const value = new Uint8Array(8 + stream.length);
    new DataView(value.buffer).setUint32(0, (value.length << 2) | 0x02, true);
    new DataView(value.buffer).setUint32(4, 11, true); // pglz, 11 bytes raw
    value.set(stream, 8);
    const stored = readStoredVarlena(value, 0, value.length);
    expect(stored.kind).toBe("compressed");
    expect(stored.kind === "compressed" && text(stored.payload)).toBe("a".repeat(11));
    new DataView(value.buffer).setUint32(4, (2 << 30) | 11, true);
    expect(() => readStoredVarlena(value, 0, value.length)).toThrow(
      "invalid compression method id 2",
    );
  });

  it("decodes an out-of-line pointer's fields", () => {
    const value = new Uint8Array(18);
    const v = new DataView(value.buffer);
    value[0] = 0x01;
    value[1] = 18; // VARTAG_ONDISK
    v.setInt32(2, 28804, true);
    v.setUint32(6, 14582, true); // pglz (method 0), stored smaller than raw: compressed
    v.setUint32(10, 16401, true);
    v.setUint32(14, 16398, true);
    expect(readStoredVarlena(value, 0, 18)).toEqual({
      kind: "external",
      pointer: {
        va_rawsize: 28804,
        va_extsize: 14582,
        compression: "pglz",
        va_valueid: 16401,
        va_toastrelid: 16398,
      },
    });
    v.setUint32(6, 28800, true); // stored whole
    expect(readStoredVarlena(value, 0, 18)).toMatchObject({ pointer: { compression: null } });
    value[1] = 1; // VARTAG_INDIRECT never reaches disk
    expect(() => readStoredVarlena(value, 0, 18)).toThrow(/unexpected TOAST pointer tag 1/);
  });
});
