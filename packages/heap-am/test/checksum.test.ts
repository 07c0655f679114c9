// pgChecksumPage beyond the fixtures: what it covers and what it ignores, and that the
// byte-by-byte path for unaligned pages agrees with the fast one.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BLCKSZ } from "../src/include/access/htup-details.js";
import { pgChecksumPage } from "../src/storage/page/checksum.js";
import { fixtureCases, pageCopy } from "./pg15-fixture-cases.js";

const pages = fixtureCases().flatMap((fixture) => {
  const main = fixture.bytes("main.bin");
  return Array.from({ length: main.length / BLCKSZ }, (_, block) => pageCopy(main, block));
});

describe("pgChecksumPage", () => {
  it("gives the same result for a page at an odd byte offset (the byte-by-byte path)", () => {
    expect(pages.length).toBeGreaterThan(10);
    for (const page of pages) {
      const unaligned = new Uint8Array(BLCKSZ + 1).subarray(1);
      unaligned.set(page);
      expect(unaligned.byteOffset % 4).not.toBe(0);
      for (const block of [0, 3, 0xfffffffe]) {
        expect(pgChecksumPage(unaligned, block)).toBe(pgChecksumPage(page, block));
      }
    }
  });

  it("ignores pd_checksum itself but covers every other byte, pd_flags included", () => {
    const page = pages[0]!.slice();
    const base = pgChecksumPage(page, 0);
    page[8]! ^= 0xff;
    page[9]! ^= 0x0f;
    expect(pgChecksumPage(page, 0)).toBe(base);
    // Flip every other bit in turn. A 16-bit result collides about once in 65535 flips, so a
    // handful of unchanged checksums is expected; an ignored byte would leave 8 in a row.
    let unchanged = 0;
    for (let index = 0; index < BLCKSZ; index++) {
      if (index === 8 || index === 9) continue;
      for (let bit = 0; bit < 8; bit++) {
        page[index]! ^= 1 << bit;
        if (pgChecksumPage(page, 0) === base) unchanged++;
        page[index]! ^= 1 << bit;
      }
    }
    expect(unchanged).toBeLessThan(5);
    page[10]! ^= 0x04; // PD_ALL_VISIBLE
    expect(pgChecksumPage(page, 0)).not.toBe(base);
  });

  it("always returns 1..65535 and mixes in the block number", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: BLCKSZ, maxLength: BLCKSZ }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (page, block) => {
          const checksum = pgChecksumPage(page, block);
          expect(checksum).toBeGreaterThanOrEqual(1);
          expect(checksum).toBeLessThanOrEqual(65535);
        },
      ),
      { numRuns: 50 },
    );
    const page = pages[0]!;
    expect(new Set([0, 1, 2, 3].map((b) => pgChecksumPage(page, b))).size).toBe(4);
  });
});
