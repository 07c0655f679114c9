import { describe, expect, it } from "vitest";
import { bufTableHashCode, bufTableHashPartition } from "../src/index.js";

describe("buffer tag hash (hash_bytes over 20 bytes)", () => {
  // Test vectors from docs/reference/postgres-storage.md §A.6, computed with PostgreSQL 15.3's
  // own hash_bytes.
  const vectors: [number[], number, number][] = [
    [[1663, 5, 16384, 0, 0], 0x04b27039, 57],
    [[1663, 5, 16384, 0, 1], 0x6e006662, 98],
    [[1663, 16384, 16385, 0, 0], 0x520b8daf, 47],
    [[1663, 16384, 16385, 1, 2], 0x72384a9a, 26],
    [[1664, 0, 1262, 0, 0], 0x288d3f4e, 78],
    [[0, 0, 0, 0, 0], 0xef26cb55, 85],
  ];
  for (const [tag, hash, partition] of vectors) {
    it(`(${tag.join(", ")}) hashes to 0x${hash.toString(16)} in partition ${partition}`, () => {
      const [spc, db, rel, fork, block] = tag as [number, number, number, number, number];
      const h = bufTableHashCode(spc, db, rel, fork, block);
      expect(h).toBe(hash);
      expect(bufTableHashPartition(h)).toBe(partition);
    });
  }

  it("handles OIDs and block numbers above 2^31", () => {
    const h = bufTableHashCode(0xffffffff, 0x80000000, 0xfffffffe, 3, 0xfffffffe);
    expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
  });
});
