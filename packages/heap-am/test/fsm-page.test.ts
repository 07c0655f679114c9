// FSM pages: categories, the in-page max tree (set, search, rebuild, truncate) against a simple
// array model, the page-tree addressing ("the reference": docs/reference/postgres-storage.md
// §E.3), and pages rebuilt from scratch that equal PostgreSQL's.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BLCKSZ } from "../src/include/access/htup-details.js";
import {
  FSM_NODES_OFFSET,
  FSM_ROOT_ADDRESS,
  fsmGetAvail,
  fsmGetChild,
  fsmGetHeapBlock,
  fsmGetLocation,
  fsmGetMaxAvail,
  fsmGetNextSlot,
  fsmGetParent,
  fsmLogicalToPhysical,
  fsmPageContents,
  fsmRebuildPage,
  fsmSearchAvail,
  fsmSetAvail,
  fsmSetNextSlot,
  fsmSpaceAvailToCat,
  fsmSpaceCatToAvail,
  fsmSpaceNeededToCat,
  fsmTruncateAvail,
  NodesPerPage,
  NonLeafNodesPerPage,
  SlotsPerFSMPage,
} from "../src/storage/freespace/fsm-page.js";
import { pageGetChecksum, pageInit, pageSetChecksumInplace } from "../src/storage/page/bufpage.js";
import { type ForksJson, fixtureCase, pageCopy } from "./pg15-fixture-cases.js";

function newFsmPage(): Uint8Array {
  const page = new Uint8Array(BLCKSZ);
  pageInit(page, 0);
  return page;
}

/** Whether every inner node holds the maximum of its (existing) children. */
function treeIsConsistent(page: Uint8Array): boolean {
  for (let node = 0; node < NonLeafNodesPerPage; node++) {
    const children = [2 * node + 1, 2 * node + 2].filter((c) => c < NodesPerPage);
    const max = Math.max(0, ...children.map((c) => page[FSM_NODES_OFFSET + c]!));
    if (page[FSM_NODES_OFFSET + node] !== max) return false;
  }
  return true;
}

/** The model of fsm_search_avail: the first slot at or after `start` that fits, wrapping. */
function modelSearch(leaves: number[], start: number, min: number): number {
  const s = start < 0 || start >= SlotsPerFSMPage ? 0 : start;
  for (let k = 0; k < SlotsPerFSMPage; k++) {
    const slot = (s + k) % SlotsPerFSMPage;
    if (leaves[slot]! >= min) return slot;
  }
  return -1;
}

describe("categories", () => {
  it("rounds available space down and needed space up, as freespace.c", () => {
    expect([8164, 8160, 8159, 3448, 32, 31, 0].map(fsmSpaceAvailToCat)).toEqual([
      255, 255, 254, 107, 1, 0, 0,
    ]);
    expect([0, 1, 32, 33, 8128, 8160].map(fsmSpaceNeededToCat)).toEqual([1, 1, 1, 2, 254, 255]);
    expect([0, 107, 254, 255].map(fsmSpaceCatToAvail)).toEqual([0, 3424, 8128, 8160]);
    expect(() => fsmSpaceNeededToCat(8161)).toThrow(/8160/);
  });
});

describe("the in-page tree", () => {
  it("fsmSetAvail keeps every inner node the max of its children (model)", () => {
    const slot = fc.oneof(
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: SlotsPerFSMPage - 20, max: SlotsPerFSMPage - 1 }),
      fc.integer({ min: 0, max: SlotsPerFSMPage - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(slot, fc.integer({ min: 0, max: 255 })), { maxLength: 80 }),
        (sets) => {
          const page = newFsmPage();
          const leaves = new Array<number>(SlotsPerFSMPage).fill(0);
          for (const [s, value] of sets) {
            const changed = fsmSetAvail(page, s, value);
            expect(changed).toBe(leaves[s] !== value);
            leaves[s] = value;
          }
          expect(treeIsConsistent(page)).toBe(true);
          expect(fsmGetMaxAvail(page)).toBe(Math.max(...leaves));
          for (const [s] of sets) expect(fsmGetAvail(page, s)).toBe(leaves[s]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("fsmSearchAvail finds the first fitting slot at or after fp_next_slot, wrapping (model)", () => {
    const slot = fc.integer({ min: 0, max: SlotsPerFSMPage - 1 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(slot, fc.integer({ min: 1, max: 255 })), { maxLength: 30 }),
        fc.oneof(slot, fc.integer({ min: -5, max: 5000 })),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
        (sets, start, min, advance) => {
          const page = newFsmPage();
          const leaves = new Array<number>(SlotsPerFSMPage).fill(0);
          for (const [s, value] of sets) {
            fsmSetAvail(page, s, value);
            leaves[s] = value;
          }
          fsmSetNextSlot(page, start);
          const expected = modelSearch(leaves, start, min);
          expect(fsmSearchAvail(page, min, advance)).toBe(expected);
          if (expected >= 0) expect(fsmGetNextSlot(page)).toBe(expected + (advance ? 1 : 0));
          else expect(fsmGetNextSlot(page)).toBe(start);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fsmSearchAvail repairs a tree whose inner nodes promise too much", () => {
    const page = newFsmPage();
    fsmSetAvail(page, 10, 50);
    // Corrupt: the root and one inner node claim 200, no leaf has it.
    page[FSM_NODES_OFFSET] = 200;
    page[FSM_NODES_OFFSET + 1] = 200;
    expect(fsmSearchAvail(page, 100, false)).toBe(-1);
    expect(fsmGetMaxAvail(page)).toBe(50);
    expect(treeIsConsistent(page)).toBe(true);
    expect(fsmSearchAvail(page, 40, true)).toBe(10);
    expect(fsmGetNextSlot(page)).toBe(11);
  });

  it("fsmSetAvail rebuilds the page when the root ends up below the new value", () => {
    const page = newFsmPage();
    fsmSetAvail(page, 3, 90);
    // Corrupt: the leaf's parent already claims 100, so the walk up stops there and the root
    // stays at 90; and another leaf was written behind the tree's back.
    const leaf = NonLeafNodesPerPage + 3;
    page[FSM_NODES_OFFSET + ((leaf - 1) >> 1)] = 100;
    page[FSM_NODES_OFFSET + NonLeafNodesPerPage + 7] = 120;
    expect(fsmSetAvail(page, 3, 100)).toBe(true);
    expect(treeIsConsistent(page)).toBe(true);
    expect(fsmGetMaxAvail(page)).toBe(120);
  });

  it("fsmTruncateAvail zeroes the slots from n on and fixes the tree", () => {
    const page = newFsmPage();
    for (const [s, v] of [
      [0, 5],
      [100, 200],
      [101, 7],
      [4068, 9],
    ] as const) {
      fsmSetAvail(page, s, v);
    }
    expect(fsmTruncateAvail(page, 101)).toBe(true);
    expect([0, 100, 101, 4068].map((s) => fsmGetAvail(page, s))).toEqual([5, 200, 0, 0]);
    expect(treeIsConsistent(page)).toBe(true);
    expect(fsmTruncateAvail(page, 101)).toBe(false);
    expect(fsmTruncateAvail(page, 0)).toBe(true);
    expect(fsmGetMaxAvail(page)).toBe(0);
    expect(fsmRebuildPage(page)).toBe(false);
  });

  it("prints a new page as pageinspect does", () => {
    expect(fsmPageContents(newFsmPage())).toBe("fp_next_slot: 0\n");
  });
});

describe("FSM pages rebuilt from scratch equal PostgreSQL's", () => {
  it.each([
    ["09-multipage-vacuumed", 0],
    ["08-vacuum-freeze", 1],
    ["07-vacuum-pruned", 0],
  ] as const)("%s: all three pages, byte for byte, checksums included", (name, nextSlot) => {
    const fixture = fixtureCase(name);
    const fsm = fixture.bytes("fsm.bin");
    const freeSpace = fixture.json<ForksJson>("forks.json").fsm?.pg_freespace ?? [];

    const leaf = newFsmPage();
    for (const { blkno, avail } of freeSpace) {
      const { address, slot } = fsmGetLocation(blkno);
      expect(fsmLogicalToPhysical(address)).toBe(2);
      fsmSetAvail(leaf, slot, fsmSpaceAvailToCat(avail));
    }
    fsmSetNextSlot(leaf, nextSlot);
    // Upper pages: slot 0 of the root and of the level-1 page mirror their only child.
    const middle = newFsmPage();
    fsmSetAvail(middle, 0, fsmGetMaxAvail(leaf));
    const root = newFsmPage();
    fsmSetAvail(root, 0, fsmGetMaxAvail(middle));

    const built = [root, middle, leaf];
    built.forEach((page, block) => {
      const expected = pageCopy(fsm, block);
      page.set(expected.subarray(0, 8)); // the LSN is WAL's business, not the FSM's
      pageSetChecksumInplace(page, block);
      expect(pageGetChecksum(page)).toBe(pageGetChecksum(expected));
      expect(Buffer.from(page).equals(Buffer.from(expected))).toBe(true);
    });
  });
});

describe("the tree of FSM pages", () => {
  it("stores pages depth-first, as the reference lists", () => {
    const cases: Array<[number, number, number]> = [
      [2, 0, 0],
      [1, 0, 1],
      [0, 0, 2],
      [0, 1, 3],
      [0, 4068, 4070],
      [1, 1, 4071],
      [0, 4069, 4072],
    ];
    for (const [level, logicalPageNumber, physical] of cases) {
      expect(fsmLogicalToPhysical({ level, logicalPageNumber })).toBe(physical);
    }
  });

  it("maps heap blocks to slots and back through parents and children", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfffffffe }), (heapBlock) => {
        const { address, slot } = fsmGetLocation(heapBlock);
        expect(fsmGetHeapBlock(address, slot)).toBe(heapBlock);
        const up1 = fsmGetParent(address);
        const up2 = fsmGetParent(up1.address);
        expect(up2.address).toEqual(FSM_ROOT_ADDRESS);
        expect(fsmGetChild(up2.address, up2.slot)).toEqual(up1.address);
        expect(fsmGetChild(up1.address, up1.slot)).toEqual(address);
        // Parents come before their children in the file.
        expect(fsmLogicalToPhysical(up1.address)).toBeLessThan(fsmLogicalToPhysical(address));
      }),
    );
  });
});
