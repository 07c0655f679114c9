// Random and mutated pages fed to every page decoder of this package: each either returns a
// well-formed result or throws a PgsimError; nothing else (no AssertionError, no TypeError, no
// hang). Mutations start from PostgreSQL's own pages, and half of them get a fresh checksum so
// that the decoders behind the checksum check see the damage too.
import { PgsimError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BLCKSZ } from "../src/include/access/htup-details.js";
import { inspectChecksums } from "../src/inspect/checksum.js";
import { inspectFsm, inspectFsmPageContents } from "../src/inspect/fsm.js";
import { inspectPageHeader } from "../src/inspect/page-header.js";
import { inspectVm } from "../src/inspect/vm.js";
import {
  fsmGetAvail,
  fsmSearchAvail,
  fsmSetAvail,
  SlotsPerFSMPage,
} from "../src/storage/freespace/fsm-page.js";
import {
  FirstOffsetNumber,
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetHeapFreeSpace,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageHeaderProblem,
  pageRepairFragmentation,
  pageSetChecksumInplace,
  pageVerify,
} from "../src/storage/page/bufpage.js";
import { fixtureCases, pageCopy } from "./pg15-fixture-cases.js";

const pages = fixtureCases().flatMap((fixture) =>
  ["main.bin", "fsm.bin", "vm.bin"]
    .filter((file) => fixture.has(file))
    .flatMap((file) => {
      const bytes = fixture.bytes(file);
      return Array.from({ length: bytes.length / BLCKSZ }, (_, block) => pageCopy(bytes, block));
    }),
);

/** 8192 noise bytes from a seed (fast-check would draw 8192 separate values otherwise). */
function noisePage(seed: number): Uint8Array {
  const page = new Uint8Array(BLCKSZ);
  let state = seed >>> 0;
  for (let i = 0; i < BLCKSZ; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    page[i] = state >>> 24;
  }
  return page;
}

/** A page: random bytes, or a fixture page with some bytes changed (mostly in the header). */
const arbitraryPage: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.integer().map(noisePage),
  fc
    .record({
      source: fc.integer({ min: 0, max: pages.length - 1 }),
      edits: fc.array(
        fc.tuple(
          fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: BLCKSZ - 1 })),
          fc.integer({ min: 0, max: 255 }),
        ),
        { minLength: 1, maxLength: 8 },
      ),
      reseal: fc.boolean(),
    })
    .map(({ source, edits, reseal }) => {
      const page = pages[source]!.slice();
      for (const [index, value] of edits) page[index] = value;
      if (reseal) pageSetChecksumInplace(page, 0);
      return page;
    }),
  fc.constant(new Uint8Array(BLCKSZ)),
);

/** Runs `decode`; a thrown error must be a PgsimError. Returns the result or undefined. */
function typedOutcome<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch (error) {
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toMatch(/^[a-z]+(-[a-z]+)*$/);
    return undefined;
  }
}

describe("decoders on damaged pages", () => {
  it("pageVerify and pageHeaderProblem agree and never throw", () => {
    fc.assert(
      fc.property(arbitraryPage, (page) => {
        const outcome = pageVerify(page, 0);
        expect(["ok", "all-zero", "bad-header", "bad-checksum", "not-all-zero"]).toContain(outcome);
        if (outcome === "ok" || outcome === "bad-checksum") {
          expect(pageHeaderProblem(page)).toBeUndefined();
        }
        if (outcome === "bad-header") expect(pageHeaderProblem(page)).toMatch(/./);
      }),
      { numRuns: 300 },
    );
  });

  it("page-header, checksum, fsm and vm inspection return rows or throw typed errors", () => {
    fc.assert(
      // Without a heap block count the fsm and vm reports run to the last non-zero entry, up
      // to 32672 rows per page of noise: only sometimes.
      fc.property(
        fc.array(arbitraryPage, { minLength: 1, maxLength: 3 }),
        fc.option(fc.integer({ min: 0, max: 40 }), { freq: 4 }),
        (list, heapBlocksOrNull) => {
          const heapBlocks = heapBlocksOrNull ?? undefined;
          const file = new Uint8Array(list.length * BLCKSZ);
          list.forEach((page, i) => {
            file.set(page, i * BLCKSZ);
          });
          const headers = typedOutcome(() => inspectPageHeader(file));
          if (headers !== undefined) {
            expect(headers).toHaveLength(list.length);
            for (const h of headers) expect(h.lower).toBeLessThanOrEqual(h.upper);
          }
          const checksums = inspectChecksums(file);
          expect(checksums).toHaveLength(list.length);
          const fsm = typedOutcome(() => inspectFsm(file, { checksums: false, heapBlocks }));
          if (fsm !== undefined) {
            expect(fsm.every((row, i) => row.blkno === i && row.avail % 32 === 0)).toBe(true);
          }
          typedOutcome(() => inspectFsmPageContents(file, { checksums: false }));
          const vm = typedOutcome(() => inspectVm(file, { checksums: false, heapBlocks }));
          if (vm !== undefined) {
            // ALL_FROZEN without ALL_VISIBLE is impossible in PostgreSQL but noise may hold it.
            expect(
              vm.every((row, i) => row.blkno === i && typeof row.all_frozen === "boolean"),
            ).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("files that are not whole blocks are rejected with file-empty or file-truncated", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * BLCKSZ }), (length) => {
        const file = new Uint8Array(length);
        const run = () => inspectPageHeader(file);
        if (length > 0 && length % BLCKSZ === 0) expect(run()).toHaveLength(length / BLCKSZ);
        else {
          expect(run).toThrow(PgsimError);
          expect(typedOutcome(run)).toBeUndefined();
          expect(() => inspectChecksums(file)).toThrow(/file/);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("line pointers of any page with a sane header decode inside the page", () => {
    fc.assert(
      fc.property(arbitraryPage, (page) => {
        if (pageHeaderProblem(page) !== undefined) return;
        const count = pageGetMaxOffsetNumber(page);
        expect(24 + 4 * count).toBeLessThanOrEqual(BLCKSZ);
        for (let i = FirstOffsetNumber; i <= count; i++) {
          const id = pageGetItemId(page, i);
          expect(itemIdGetFlags(id)).toBeLessThanOrEqual(3);
          expect(itemIdGetOffset(id)).toBeLessThan(0x8000);
          expect(itemIdGetLength(id)).toBeLessThan(0x8000);
        }
        expect(pageGetHeapFreeSpace(page)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });

  it("compaction and insertion on damaged pages succeed or throw typed errors", () => {
    fc.assert(
      fc.property(arbitraryPage, fc.integer({ min: 1, max: 200 }), (page, length) => {
        if (pageHeaderProblem(page) !== undefined) return;
        const repaired = page.slice();
        if (typedOutcome(() => pageRepairFragmentation(repaired)) !== undefined) return;
        const added = typedOutcome(() =>
          pageAddItemExtended(page, new Uint8Array(length), 0, PAI_IS_HEAP),
        );
        if (added !== undefined) expect(added).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });

  it("FSM tree operations on arbitrary bytes end, and what they find fits", () => {
    fc.assert(
      fc.property(
        arbitraryPage,
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: SlotsPerFSMPage - 1 }),
        (page, min, slot) => {
          const found = fsmSearchAvail(page, min, true);
          if (found >= 0) expect(fsmGetAvail(page, found)).toBeGreaterThanOrEqual(min);
          else expect(found).toBe(-1);
          fsmSetAvail(page, slot, min);
          expect(fsmGetAvail(page, slot)).toBe(min);
          expect(fsmSearchAvail(page, min, false)).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
