// VM pages: the two bits per heap block against a model, and pages built from scratch that equal
// the ones PostgreSQL 15 wrote.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HEAPBLOCKS_PER_PAGE,
  VISIBILITYMAP_ALL_FROZEN,
  VISIBILITYMAP_ALL_VISIBLE,
  vmClearBits,
  vmCountPage,
  vmGetStatus,
  vmHeapBlockToMapBlock,
  vmSetBits,
} from "../src/access/heap/visibilitymap-page.js";
import { BLCKSZ } from "../src/include/access/htup-details.js";
import { pageInit, pageSetChecksumInplace } from "../src/storage/page/bufpage.js";
import { type ForksJson, fixtureCase, pageCopy } from "./pg15-fixture-cases.js";

function newVmPage(): Uint8Array {
  const page = new Uint8Array(BLCKSZ);
  pageInit(page, 0);
  return page;
}

const BOTH = VISIBILITYMAP_ALL_VISIBLE | VISIBILITYMAP_ALL_FROZEN;

describe("visibility map pages", () => {
  it.each(["07-vacuum-pruned", "08-vacuum-freeze", "09-multipage-vacuumed"])(
    "%s: setting pg_visibility_map's bits on a fresh page gives PostgreSQL's page",
    (name) => {
      const fixture = fixtureCase(name);
      const expected = pageCopy(fixture.bytes("vm.bin"), 0);
      const rows = fixture.json<ForksJson>("forks.json").vm?.pg_visibility_map ?? [];
      expect(rows.length).toBeGreaterThan(0);
      const page = newVmPage();
      for (const row of rows) {
        const flags =
          (row.all_visible ? VISIBILITYMAP_ALL_VISIBLE : 0) |
          (row.all_frozen ? VISIBILITYMAP_ALL_FROZEN : 0);
        if (flags !== 0) expect(vmSetBits(page, row.blkno, flags)).toBe(true);
      }
      page.set(expected.subarray(0, 8)); // the LSN comes from WAL
      pageSetChecksumInplace(page, 0);
      expect(Buffer.from(page).equals(Buffer.from(expected))).toBe(true);
    },
  );

  it("places heap block b in byte b/4 at bit 2*(b%4), 32672 blocks per page", () => {
    const page = newVmPage();
    vmSetBits(page, 5, VISIBILITYMAP_ALL_VISIBLE);
    vmSetBits(page, 7, BOTH);
    expect(page[24 + 1]).toBe(0b1100_0100);
    expect(vmHeapBlockToMapBlock(HEAPBLOCKS_PER_PAGE - 1)).toBe(0);
    expect(vmHeapBlockToMapBlock(HEAPBLOCKS_PER_PAGE)).toBe(1);
    // Heap block 32672 + 5 is on the next VM page, at the same place.
    expect(vmGetStatus(page, HEAPBLOCKS_PER_PAGE + 5)).toBe(VISIBILITYMAP_ALL_VISIBLE);
    expect(page[BLCKSZ - 1]).toBe(0);
    vmSetBits(page, HEAPBLOCKS_PER_PAGE - 1, VISIBILITYMAP_ALL_FROZEN);
    expect(page[BLCKSZ - 1]).toBe(0b1000_0000);
  });

  it("set, clear and get agree with a model; set reports a change unless bits equal flags", () => {
    const op = fc.record({
      block: fc.integer({ min: 0, max: 40 }),
      set: fc.boolean(),
      flags: fc.constantFrom(VISIBILITYMAP_ALL_VISIBLE, VISIBILITYMAP_ALL_FROZEN, BOTH),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const page = newVmPage();
        const model = new Array<number>(41).fill(0);
        for (const { block, set, flags } of ops) {
          const before = model[block]!;
          if (set) {
            expect(vmSetBits(page, block, flags)).toBe(before !== flags);
            model[block] = before | flags;
          } else {
            expect(vmClearBits(page, block, flags)).toBe((before & flags) !== 0);
            model[block] = before & ~flags;
          }
        }
        model.forEach((bits, block) => {
          expect(vmGetStatus(page, block)).toBe(bits);
        });
        expect(vmCountPage(page)).toEqual({
          allVisible: model.filter((b) => (b & VISIBILITYMAP_ALL_VISIBLE) !== 0).length,
          allFrozen: model.filter((b) => (b & VISIBILITYMAP_ALL_FROZEN) !== 0).length,
        });
      }),
      { numRuns: 200 },
    );
  });
});
