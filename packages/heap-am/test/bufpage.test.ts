// The slotted page: initialisation, adding items (including reuse of free line pointers), compaction
// and free space, checked against the byte examples of docs/reference/postgres-storage.md (section
// numbers such as C.10 below are that document's) and PostgreSQL 15's own pages.
import { AssertionError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BLCKSZ,
  InvalidOffsetNumber,
  MaxHeapTuplesPerPage,
  maxAlign,
} from "../src/include/access/htup-details.js";
import { writeUint16 } from "../src/include/port/le-bytes.js";
import { fsmSpaceAvailToCat } from "../src/storage/freespace/fsm-page.js";
import {
  FirstOffsetNumber,
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  MaxOffsetNumber,
  makeItemId,
  PAI_IS_HEAP,
  PAI_OVERWRITE,
  PD_FLAGS_OFFSET,
  PD_HAS_FREE_LINES,
  PD_LOWER_OFFSET,
  PD_UPPER_OFFSET,
  pageAddItemExtended,
  pageGetChecksum,
  pageGetExactFreeSpace,
  pageGetFlags,
  pageGetFreeSpace,
  pageGetHeapFreeSpace,
  pageGetItem,
  pageGetItemId,
  pageGetItemIds,
  pageGetLower,
  pageGetLsn,
  pageGetMaxOffsetNumber,
  pageGetUpper,
  pageHasFreeLinePointers,
  pageHeaderProblem,
  pageIndexMultiDelete,
  pageIndexTupleDelete,
  pageIndexTupleOverwrite,
  pageInit,
  pageIsNew,
  pageIsVerified,
  pageRepairFragmentation,
  pageSetChecksumCopy,
  pageSetChecksumInplace,
  pageSetItemId,
  pageSetItemIdsTo,
  pageSetLsn,
  pageTruncateLinePointerArray,
  pageVerify,
} from "../src/storage/page/bufpage.js";
import { pgChecksumPage } from "../src/storage/page/checksum.js";
import { type ForksJson, fixtureCase, type PagesJson, pageCopy } from "./pg15-fixture-cases.js";

function newPage(specialSize = 0): Uint8Array {
  const page = new Uint8Array(BLCKSZ);
  pageInit(page, specialSize);
  return page;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** The one-tuple page of docs/reference/postgres-storage.md §C.10: INSERT (1, 'abc'), xid 730. */
const C10_TUPLE = Uint8Array.from(
  Buffer.from(
    "da020000" +
      "00000000" +
      "00000000" +
      "000000000100" +
      "0200" +
      "0208" +
      "18" +
      "00" +
      "01000000" +
      "09616263",
    "hex",
  ),
);

/** Every line pointer of a page as [flags, off, len]. */
function linePointers(page: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 1; i <= pageGetMaxOffsetNumber(page); i++) {
    const id = pageGetItemId(page, i);
    out.push([itemIdGetFlags(id), itemIdGetOffset(id), itemIdGetLength(id)]);
  }
  return out;
}

describe("pageInit", () => {
  it("formats an empty page exactly as PostgreSQL: header bytes and the reference checksums", () => {
    const page = new Uint8Array(BLCKSZ).fill(0xaa);
    pageInit(page, 0);
    expect(hex(page.subarray(0, 24))).toBe(`${"00".repeat(12)}1800002000200420${"00".repeat(4)}`);
    expect(page.subarray(24).every((b) => b === 0)).toBe(true);
    expect(pgChecksumPage(page, 0)).toBe(25952);
    expect(pgChecksumPage(page, 1)).toBe(25951);
    expect(pageHeaderProblem(page)).toBeUndefined();
  });

  it("reserves MAXALIGNed special space", () => {
    const page = newPage(10);
    expect(pageGetUpper(page)).toBe(BLCKSZ - 16);
    expect(pageGetExactFreeSpace(page)).toBe(BLCKSZ - 16 - 24);
  });
});

describe("pageAddItemExtended", () => {
  it("builds the reference's one-tuple page byte for byte (C.10), checksum included", () => {
    const page = newPage();
    expect(pageAddItemExtended(page, C10_TUPLE, InvalidOffsetNumber, PAI_IS_HEAP)).toBe(1);
    expect(pageGetLower(page)).toBe(28);
    expect(pageGetUpper(page)).toBe(8160);
    expect(hex(page.subarray(24, 28))).toBe("e09f4000");
    expect(hex(page.subarray(8160))).toBe(hex(C10_TUPLE));
    expect(hex(pageGetItem(page, pageGetItemId(page, 1)))).toBe(hex(C10_TUPLE));
    expect(pgChecksumPage(page, 0)).toBe(31988);
    expect(pgChecksumPage(page, 7)).toBe(31991);
  });

  it("stops at MaxHeapTuplesPerPage on heap pages but not on others, returning 0", () => {
    const heap = newPage();
    const other = newPage();
    const tiny = Uint8Array.of(1);
    let added = 0;
    for (let i = 0; i < 1000; i++) {
      if (pageAddItemExtended(heap, tiny, InvalidOffsetNumber, PAI_IS_HEAP) === 0) break;
      added++;
    }
    expect(added).toBe(MaxHeapTuplesPerPage);
    let addedOther = 0;
    for (let i = 0; i < 1000; i++) {
      if (pageAddItemExtended(other, tiny, InvalidOffsetNumber, 0) === 0) break;
      addedOther++;
    }
    // Each 1-byte item costs 8 bytes of tuple space and 4 of line pointer.
    expect(addedOther).toBe(Math.floor((BLCKSZ - 24) / 12));
  });

  it("returns 0 and leaves the page untouched when the item does not fit", () => {
    const page = newPage();
    expect(pageAddItemExtended(page, new Uint8Array(8000), 0, PAI_IS_HEAP)).toBe(1);
    const before = page.slice();
    expect(pageGetFreeSpace(page)).toBe(8192 - 28 - 8000 - 4);
    expect(pageAddItemExtended(page, new Uint8Array(161), 0, PAI_IS_HEAP)).toBe(0);
    expect(page).toEqual(before);
    // 160 bytes plus a line pointer fit exactly.
    expect(pageAddItemExtended(page, new Uint8Array(160), 0, PAI_IS_HEAP)).toBe(2);
    expect(pageGetExactFreeSpace(page)).toBe(0);
  });

  it("reuses the first LP_UNUSED slot of a vacuumed PostgreSQL page (07) while PD_HAS_FREE_LINES", () => {
    const fixture = fixtureCase("07-vacuum-pruned");
    const page = pageCopy(fixture.bytes("main.bin"), 0);
    const items = fixture.json<PagesJson>("pages.json").blocks[0]!.items;
    const unused = items.filter((i) => i.lp_flags === LP_UNUSED).map((i) => i.lp);
    expect(unused.length).toBeGreaterThan(1);
    expect(items.some((i) => i.lp_flags === LP_DEAD)).toBe(true);
    expect(pageHasFreeLinePointers(page)).toBe(true);

    const lower = pageGetLower(page);
    let upper = pageGetUpper(page);
    const tuple = new Uint8Array(50).fill(7);
    for (const expected of unused) {
      // LP_DEAD and LP_REDIRECT slots are in use and are skipped.
      expect(pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP)).toBe(expected);
      upper -= maxAlign(tuple.length);
      expect(pageGetLower(page)).toBe(lower);
      expect(pageGetUpper(page)).toBe(upper);
      expect(linePointers(page)[expected - 1]).toEqual([LP_NORMAL, upper, 50]);
      expect(pageHasFreeLinePointers(page)).toBe(true);
    }
    // No unused slot is left: the hint is cleared and the item goes to a new slot at the end.
    const next = items.length + 1;
    expect(pageAddItemExtended(page, tuple, InvalidOffsetNumber, PAI_IS_HEAP)).toBe(next);
    expect(pageHasFreeLinePointers(page)).toBe(false);
    expect(pageGetLower(page)).toBe(lower + 4);
  });

  it("appends instead of reusing when PD_HAS_FREE_LINES is clear (the hint is trusted)", () => {
    const fixture = fixtureCase("07-vacuum-pruned");
    const page = pageCopy(fixture.bytes("main.bin"), 0);
    writeUint16(page, PD_FLAGS_OFFSET, pageGetFlags(page) & ~PD_HAS_FREE_LINES);
    const count = pageGetMaxOffsetNumber(page);
    expect(pageAddItemExtended(page, Uint8Array.of(1, 2, 3), 0, PAI_IS_HEAP)).toBe(count + 1);
  });

  it("PAI_OVERWRITE fills only an unused slot; a number past the end fails", () => {
    const page = newPage();
    pageAddItemExtended(page, Uint8Array.of(1), 0, PAI_IS_HEAP);
    pageAddItemExtended(page, Uint8Array.of(2), 0, PAI_IS_HEAP);
    expect(pageAddItemExtended(page, Uint8Array.of(3), 1, PAI_OVERWRITE | PAI_IS_HEAP)).toBe(0);
    pageSetItemId(page, 1, 0);
    expect(pageAddItemExtended(page, Uint8Array.of(3), 1, PAI_OVERWRITE | PAI_IS_HEAP)).toBe(1);
    expect(pageGetMaxOffsetNumber(page)).toBe(2);
    expect(pageGetItem(page, pageGetItemId(page, 1))).toEqual(Uint8Array.of(3));
    expect(pageAddItemExtended(page, Uint8Array.of(4), 4, PAI_IS_HEAP)).toBe(0);
    // The next number past the end is fine.
    expect(pageAddItemExtended(page, Uint8Array.of(4), 3, PAI_OVERWRITE)).toBe(3);
  });

  it("without PAI_OVERWRITE, a given offset shifts the later line pointers up (index pages)", () => {
    const page = newPage();
    pageAddItemExtended(page, Uint8Array.of(1), 0, 0);
    pageAddItemExtended(page, Uint8Array.of(2), 0, 0);
    expect(pageAddItemExtended(page, Uint8Array.of(9), 1, 0)).toBe(1);
    const values = [1, 2, 3].map((i) => pageGetItem(page, pageGetItemId(page, i))[0]);
    expect(values).toEqual([9, 1, 2]);
    expect(pageGetLower(page)).toBe(24 + 12);
  });

  it("throws corrupted-page-pointers for impossible header pointers", () => {
    const page = newPage();
    writeUint16(page, PD_LOWER_OFFSET, 9000);
    expect(() => pageAddItemExtended(page, Uint8Array.of(1), 0, PAI_IS_HEAP)).toThrow(
      expect.objectContaining({
        code: "corrupted-page-pointers",
        message: "corrupted page pointers: lower = 9000, upper = 8192, special = 8192",
      }),
    );
  });

  it("compacting and index deletes also reject a pd_special that is not MAXALIGNed; adding does not", () => {
    const page = newPage(16);
    for (let i = 1; i <= 4; i++)
      pageAddItemExtended(page, Uint8Array.of(i, i, i, i, i, i, i, i), 0, 0);
    // pd_special 8180: past the items, but not a multiple of 8.
    writeUint16(page, 16, 8180);
    const corrupted = expect.objectContaining({
      code: "corrupted-page-pointers",
      message: "corrupted page pointers: lower = 40, upper = 8144, special = 8180",
    });
    // PageAddItemExtended checks only the order of the pointers.
    expect(pageAddItemExtended(page.slice(), Uint8Array.of(5), 0, 0)).toBe(5);
    expect(() => pageRepairFragmentation(page.slice())).toThrow(corrupted);
    expect(() => pageIndexTupleDelete(page.slice(), 1)).toThrow(corrupted);
    expect(() => pageIndexMultiDelete(page.slice(), [1, 2, 3])).toThrow(corrupted);
    expect(() => pageIndexTupleOverwrite(page.slice(), 1, Uint8Array.of(9))).toThrow(corrupted);
  });
});

/**
 * What PageRepairFragmentation must produce, computed the simple way: items with storage, in
 * line pointer order, packed downward from pd_special; other bytes as before.
 */
function modelRepair(original: Uint8Array): Uint8Array {
  const page = original.slice();
  const count = pageGetMaxOffsetNumber(page);
  let upper = BLCKSZ;
  let finalUsed = 0;
  let unused = 0;
  for (let i = 1; i <= count; i++) {
    const id = pageGetItemId(original, i);
    const flags = itemIdGetFlags(id);
    if (flags === LP_UNUSED) {
      pageSetItemId(page, i, 0);
      unused++;
      continue;
    }
    finalUsed = i;
    const len = itemIdGetLength(id);
    if (len === 0) continue;
    const off = itemIdGetOffset(id);
    upper -= maxAlign(len);
    page.set(original.subarray(off, off + maxAlign(len)), upper);
    pageSetItemId(page, i, makeItemId(upper, flags, len));
  }
  writeUint16(page, PD_UPPER_OFFSET, upper);
  writeUint16(page, PD_LOWER_OFFSET, 24 + 4 * finalUsed);
  unused -= count - finalUsed;
  const flags = pageGetFlags(page);
  writeUint16(
    page,
    PD_FLAGS_OFFSET,
    unused > 0 ? flags | PD_HAS_FREE_LINES : flags & ~PD_HAS_FREE_LINES,
  );
  return page;
}

describe("pageRepairFragmentation", () => {
  it("leaves pages PostgreSQL compacted (VACUUM in 07 and 09) byte for byte unchanged", () => {
    for (const [name, blocks] of [
      ["07-vacuum-pruned", 1],
      ["09-multipage-vacuumed", 9],
    ] as const) {
      const main = fixtureCase(name).bytes("main.bin");
      for (let block = 0; block < blocks; block++) {
        const page = pageCopy(main, block);
        pageRepairFragmentation(page);
        expect(hex(page)).toBe(hex(pageCopy(main, block)));
      }
    }
  });

  it("moves tuples into line pointer order, keeping every item's bytes (08, slots reused)", () => {
    const original = pageCopy(fixtureCase("08-vacuum-freeze").bytes("main.bin"), 0);
    const page = original.slice();
    pageRepairFragmentation(page);
    expect(hex(page)).not.toBe(hex(original));
    expect(hex(page)).toBe(hex(modelRepair(original)));
    for (let i = 1; i <= pageGetMaxOffsetNumber(page); i++) {
      const before = pageGetItemId(original, i);
      const after = pageGetItemId(page, i);
      expect(itemIdGetFlags(after)).toBe(itemIdGetFlags(before));
      if (itemIdGetLength(before) > 0) {
        expect(hex(pageGetItem(page, after))).toBe(hex(pageGetItem(original, before)));
      }
    }
    // Nothing was freed, so pd_upper does not move.
    expect(pageGetUpper(page)).toBe(pageGetUpper(original));
  });

  it("frees the storage of items made dead, drops trailing unused pointers, sets the hint", () => {
    const page = newPage();
    for (let i = 0; i < 6; i++) {
      pageAddItemExtended(page, new Uint8Array(10 + i).fill(i + 1), 0, PAI_IS_HEAP);
    }
    const upperBefore = pageGetUpper(page);
    pageSetItemId(page, 2, makeItemId(0, LP_DEAD, 0));
    pageSetItemId(page, 3, makeItemId(1, LP_REDIRECT, 0));
    pageSetItemId(page, 4, 0);
    pageSetItemId(page, 6, 0);
    pageRepairFragmentation(page);
    // Items 2, 3, 4 and 6 gave back 16 + 16 + 16 + 16 bytes.
    expect(pageGetUpper(page)).toBe(upperBefore + 64);
    expect(pageGetMaxOffsetNumber(page)).toBe(5);
    expect(linePointers(page)).toEqual([
      [LP_NORMAL, 8176, 10],
      [LP_DEAD, 0, 0],
      [LP_REDIRECT, 1, 0],
      [LP_UNUSED, 0, 0],
      [LP_NORMAL, 8160, 14],
    ]);
    expect(pageGetItem(page, pageGetItemId(page, 5))).toEqual(new Uint8Array(14).fill(5));
    expect(pageHasFreeLinePointers(page)).toBe(true);
    // The freed slot is what the next insert takes.
    expect(pageAddItemExtended(page, Uint8Array.of(1), 0, PAI_IS_HEAP)).toBe(4);
  });

  it("empties a page whose items are all unused and clears the hint", () => {
    const page = newPage();
    pageAddItemExtended(page, new Uint8Array(100), 0, PAI_IS_HEAP);
    pageSetItemId(page, 1, 0);
    writeUint16(page, PD_FLAGS_OFFSET, PD_HAS_FREE_LINES);
    pageRepairFragmentation(page);
    expect([pageGetLower(page), pageGetUpper(page), pageGetFlags(page)]).toEqual([24, 8192, 0]);
    expect(pageGetHeapFreeSpace(page)).toBe(8164);
  });

  it("rejects line pointers outside the tuple space and impossible lengths", () => {
    const page = newPage();
    pageAddItemExtended(page, new Uint8Array(40), 0, PAI_IS_HEAP);
    pageSetItemId(page, 1, makeItemId(100, LP_NORMAL, 40));
    expect(() => pageRepairFragmentation(page.slice())).toThrow(
      expect.objectContaining({ code: "corrupted-line-pointer" }),
    );
    pageSetItemId(page, 1, makeItemId(8184, LP_NORMAL, 40));
    expect(() => pageRepairFragmentation(page.slice())).toThrow(
      expect.objectContaining({ code: "corrupted-line-pointer" }),
    );
    // Four line pointers claiming the same 2700 bytes: more than the page can hold.
    const crowded = newPage();
    for (let i = 0; i < 3; i++) pageAddItemExtended(crowded, new Uint8Array(2700), 0, 0);
    pageAddItemExtended(crowded, new Uint8Array(8), 0, 0);
    for (const i of [2, 3, 4]) pageSetItemId(crowded, i, pageGetItemId(crowded, 1));
    expect(() => pageRepairFragmentation(crowded)).toThrow(
      expect.objectContaining({
        code: "corrupted-item-lengths",
        message: "corrupted item lengths: total 10816, available space 8152",
      }),
    );
  });

  it("matches the model after random inserts and random pruning (property)", () => {
    const action = fc.record({
      length: fc.integer({ min: 1, max: 300 }),
      fate: fc.constantFrom(LP_NORMAL, LP_NORMAL, LP_DEAD, LP_UNUSED, LP_REDIRECT),
    });
    fc.assert(
      fc.property(fc.array(action, { maxLength: 60 }), fc.boolean(), (actions, reuse) => {
        const page = newPage();
        actions.forEach((a, k) => {
          const offnum = pageAddItemExtended(
            page,
            new Uint8Array(a.length).fill(k % 251),
            0,
            PAI_IS_HEAP,
          );
          if (offnum === 0) return;
          if (a.fate === LP_UNUSED) pageSetItemId(page, offnum, 0);
          if (a.fate === LP_DEAD) pageSetItemId(page, offnum, makeItemId(0, LP_DEAD, 0));
          if (a.fate === LP_REDIRECT) pageSetItemId(page, offnum, makeItemId(1, LP_REDIRECT, 0));
        });
        if (reuse) {
          // A first compaction, then inserts into the freed slots: offsets out of order.
          pageRepairFragmentation(page);
          for (let k = 0; k < 5; k++) pageAddItemExtended(page, Uint8Array.of(k + 1), 0, 0);
        }
        const expected = modelRepair(page);
        pageRepairFragmentation(page);
        expect(hex(page)).toBe(hex(expected));
      }),
      { numRuns: 200 },
    );
  });
});

describe("free space", () => {
  it("an empty heap page reports 8164 bytes, PostgreSQL's number", () => {
    const page = newPage();
    expect(pageGetHeapFreeSpace(page)).toBe(8164);
    expect(pageGetFreeSpace(page)).toBe(8164);
    expect(pageGetExactFreeSpace(page)).toBe(8168);
  });

  it("PostgreSQL's VACUUM recorded pageGetHeapFreeSpace in the FSM (07 and 09)", () => {
    for (const name of ["07-vacuum-pruned", "09-multipage-vacuumed"]) {
      const fixture = fixtureCase(name);
      const main = fixture.bytes("main.bin");
      const recorded = fixture.json<ForksJson>("forks.json").fsm?.pg_freespace ?? [];
      expect(recorded.length).toBeGreaterThan(0);
      for (const { blkno, avail } of recorded) {
        const free = pageGetHeapFreeSpace(pageCopy(main, blkno));
        expect(fsmSpaceAvailToCat(free) * 32).toBe(avail);
      }
    }
  });

  it("a heap page with MaxHeapTuplesPerPage line pointers has room only if one is unused", () => {
    const page = newPage();
    for (let i = 0; i < MaxHeapTuplesPerPage; i++) {
      pageAddItemExtended(page, Uint8Array.of(1), 0, PAI_IS_HEAP);
    }
    expect(pageGetFreeSpace(page)).toBeGreaterThan(0);
    expect(pageGetHeapFreeSpace(page)).toBe(0);
    pageSetItemId(page, 7, 0);
    // The hint is clear, so PostgreSQL does not look for the unused slot.
    expect(pageGetHeapFreeSpace(page)).toBe(0);
    writeUint16(page, PD_FLAGS_OFFSET, PD_HAS_FREE_LINES);
    expect(pageGetHeapFreeSpace(page)).toBe(pageGetFreeSpace(page));
    expect(pageAddItemExtended(page, Uint8Array.of(2), 0, PAI_IS_HEAP)).toBe(7);
  });

  it("a full page reports 0, never a negative number", () => {
    const page = newPage();
    expect(pageAddItemExtended(page, new Uint8Array(8160), 0, 0)).toBe(1);
    expect(pageGetExactFreeSpace(page)).toBe(4);
    expect(pageGetFreeSpace(page)).toBe(0);
    expect(pageGetHeapFreeSpace(page)).toBe(0);
  });
});

describe("verification and checksums", () => {
  const main = fixtureCase("07-vacuum-pruned").bytes("main.bin");

  it("accepts PostgreSQL's page and an all-zero page; rejects everything else", () => {
    expect(pageVerify(pageCopy(main, 0), 0)).toBe("ok");
    expect(pageVerify(new Uint8Array(BLCKSZ), 5)).toBe("all-zero");
    expect(pageIsVerified(new Uint8Array(BLCKSZ), 5)).toBe(true);

    const garbage = new Uint8Array(BLCKSZ);
    garbage[4000] = 1;
    expect(pageIsNew(garbage)).toBe(true);
    expect(pageVerify(garbage, 0)).toBe("not-all-zero");

    const flipped = pageCopy(main, 0);
    flipped[5000]! ^= 0x10;
    expect(pageVerify(flipped, 0)).toBe("bad-checksum");
    expect(pageIsVerified(flipped, 0)).toBe(false);
    expect(pageIsVerified(flipped, 0, { ignoreChecksumFailure: true })).toBe(true);
    expect(pageVerify(flipped, 0, { checksums: false })).toBe("ok");
  });

  it.each([
    ["page size", 18, 0x1004, "page size is 4096, expected 8192"],
    ["layout version", 18, 0x2003, "page layout version is 3, expected 4"],
    ["unknown flag", 10, 0x0009, "unknown flag bits 0x0008"],
    [
      "lower below header",
      12,
      20,
      "corrupted page pointers: lower = 20, upper = 3808, special = 8192",
    ],
    [
      "upper past special",
      14,
      8200,
      "corrupted page pointers: lower = 356, upper = 8200, special = 8192",
    ],
    [
      "special not MAXALIGNed",
      16,
      8188,
      "corrupted page pointers: lower = 356, upper = 3808, special = 8188",
    ],
  ])("reports a bad header (%s) before the checksum", (_what, offset, value, problem) => {
    const page = pageCopy(main, 0);
    writeUint16(page, offset, value);
    pageSetChecksumInplace(page, 0);
    expect(pageHeaderProblem(page)).toBe(problem);
    expect(pageVerify(page, 0)).toBe("bad-header");
  });

  it("pageSetChecksumInplace / Copy restore the checksum PostgreSQL stored", () => {
    const page = pageCopy(main, 0);
    const stored = pageGetChecksum(page);
    writeUint16(page, 8, 0);
    const copy = pageSetChecksumCopy(page, 0);
    expect(pageGetChecksum(page)).toBe(0);
    expect(pageGetChecksum(copy)).toBe(stored);
    pageSetChecksumInplace(page, 0);
    expect(hex(page)).toBe(hex(pageCopy(main, 0)));
    // A new page carries no checksum.
    const zero = new Uint8Array(BLCKSZ);
    pageSetChecksumInplace(zero, 3);
    expect(zero.every((b) => b === 0)).toBe(true);
  });

  it("reads and writes the LSN as two uint32 halves, high half first", () => {
    const page = pageCopy(main, 0);
    expect(pageGetLsn(page)).toBe(0x1c85220n); // pages.json: "0/1C85220"
    pageSetLsn(page, 0x0000000a_00001234n);
    expect(hex(page.subarray(0, 8))).toBe("0a00000034120000");
  });
});

describe("line pointers", () => {
  it("makeItemId packs off (15 bits), flags (2) and len (15) and reads them back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fff }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 0x7fff }),
        (off, flags, len) => {
          const id = makeItemId(off, flags, len);
          expect([itemIdGetOffset(id), itemIdGetFlags(id), itemIdGetLength(id)]).toEqual([
            off,
            flags,
            len,
          ]);
          expect(id >>> 0).toBe(id);
        },
      ),
    );
  });

  it("refuses offset numbers outside a page (a caller bug)", () => {
    const page = newPage();
    expect(() => pageGetItemId(page, 0)).toThrow(/offset number/);
    expect(() => pageGetItemId(page, MaxOffsetNumber + 1)).toThrow(/offset number/);
    expect(pageGetItemId(page, FirstOffsetNumber)).toBe(0);
    expect(() => pageGetItemId(page, 0)).toThrow(AssertionError);
  });
});

describe("line pointer words in bulk (pageGetItemIds, pageSetItemIdsTo)", () => {
  // A heap page with `count` items of growing lengths (lp_len up to 0x7fff would set bit 31; 400
  // bytes keep the words positive, so one item is given a long length by hand below).
  function filledPage(at: Uint8Array, count: number): Uint8Array {
    pageInit(at, 0);
    for (let i = 0; i < count; i++) {
      expect(pageAddItemExtended(at, new Uint8Array(24 + i).fill(i), 0, PAI_IS_HEAP)).toBe(i + 1);
    }
    return at;
  }
  // The same page 4-aligned in a SharedArrayBuffer (the buffer pool's case: one word load each)
  // and at an odd offset of an ArrayBuffer (the byte-by-byte path).
  const places = {
    aligned: () => new Uint8Array(new SharedArrayBuffer(3 * BLCKSZ), BLCKSZ, BLCKSZ),
    unaligned: () => new Uint8Array(new ArrayBuffer(BLCKSZ + 8), 1, BLCKSZ),
  };

  for (const [name, make] of Object.entries(places)) {
    it(`[${name}] pageGetItemIds copies what pageGetItemId reads, as signed words, and leaves out[0]`, () => {
      const page = filledPage(make(), 40);
      // An lp_len with its top bit set makes the word negative as an Int32Array element.
      pageSetItemId(page, 7, makeItemId(100, LP_NORMAL, 0x7fff));
      const out = new Int32Array(MaxOffsetNumber + 1).fill(-5);
      pageGetItemIds(page, pageGetMaxOffsetNumber(page), out);
      expect(out[0]).toBe(-5);
      for (let off = 1; off <= 40; off++) {
        expect(out[off]! >>> 0).toBe(pageGetItemId(page, off));
        expect(itemIdGetLength(out[off]!)).toBe(itemIdGetLength(pageGetItemId(page, off)));
      }
      expect(out[41]).toBe(-5);
      expect(() => pageGetItemIds(page, MaxOffsetNumber + 1, new Int32Array(3000))).toThrow(
        AssertionError,
      );
    });

    it(`[${name}] pageSetItemIdsTo writes the bytes pageSetItemId writes, and only those`, () => {
      const a = filledPage(make(), 30);
      const b = filledPage(new Uint8Array(BLCKSZ), 30);
      const offsets = new Uint16Array([3, 30, 1, 17]);
      const dead = makeItemId(0, LP_DEAD, 0);
      pageSetItemIdsTo(a, offsets, 3, dead); // the first three only
      for (const off of [3, 30, 1]) pageSetItemId(b, off, dead);
      expect(hex(a)).toBe(hex(b));
      expect(itemIdGetFlags(pageGetItemId(a, 17))).toBe(LP_NORMAL);
      expect(() => pageSetItemIdsTo(a, [0], 1, dead)).toThrow(AssertionError);
    });
  }
});

describe("pageTruncateLinePointerArray", () => {
  function pageWith(flags: number[]): Uint8Array {
    const page = newPage();
    flags.forEach((_, i) => {
      expect(pageAddItemExtended(page, new Uint8Array(24), 0, PAI_IS_HEAP)).toBe(i + 1);
    });
    flags.forEach((f, i) => {
      if (f === LP_UNUSED) pageSetItemId(page, i + 1, 0);
      if (f === LP_DEAD) pageSetItemId(page, i + 1, makeItemId(0, LP_DEAD, 0));
    });
    return page;
  }

  it("drops the unused line pointers at the end and hints the unused one that stays", () => {
    const page = pageWith([LP_NORMAL, LP_UNUSED, LP_DEAD, LP_UNUSED, LP_UNUSED]);
    pageTruncateLinePointerArray(page);
    expect(pageGetMaxOffsetNumber(page)).toBe(3);
    expect(pageHasFreeLinePointers(page)).toBe(true);
  });

  it("keeps the first line pointer even when every one is unused, and clears a stale hint", () => {
    const page = pageWith([LP_UNUSED, LP_UNUSED, LP_UNUSED]);
    pageTruncateLinePointerArray(page);
    expect(pageGetMaxOffsetNumber(page)).toBe(1);
    expect(pageHasFreeLinePointers(page)).toBe(true);
    const full = pageWith([LP_NORMAL, LP_DEAD, LP_UNUSED]);
    writeUint16(full, PD_FLAGS_OFFSET, pageGetFlags(full) | PD_HAS_FREE_LINES);
    pageTruncateLinePointerArray(full);
    expect(pageGetMaxOffsetNumber(full)).toBe(2);
    expect(pageHasFreeLinePointers(full)).toBe(false);
  });
});
