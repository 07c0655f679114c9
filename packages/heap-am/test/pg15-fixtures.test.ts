// Every page PostgreSQL 15 wrote in the fixture set decodes to what PostgreSQL itself reported:
// page headers and line pointers (pages.json), checksums of all three forks (checksums.json),
// and the free space map and visibility map contents (forks.json).
import { describe, expect, it } from "vitest";
import { inspectChecksums } from "../src/inspect/checksum.js";
import { inspectFsm, inspectFsmPageContents, recordedFreeSpace } from "../src/inspect/fsm.js";
import { inspectPageHeader } from "../src/inspect/page-header.js";
import { inspectVm, vmBytesHex } from "../src/inspect/vm.js";
import {
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsVerified,
} from "../src/storage/page/bufpage.js";
import {
  type CaseJson,
  type ChecksumsJson,
  EXPECTED_CASE_COUNT,
  FIXTURES_DIR,
  type ForksJson,
  fixtureCases,
  type PagesJson,
  pageCopy,
} from "./pg15-fixture-cases.js";

const IF_BLOCKS = [0, 1, 2, 1000, 4294967294];
const cases = fixtureCases();

it(`finds all ${EXPECTED_CASE_COUNT} fixture cases in ${FIXTURES_DIR}`, () => {
  expect(cases.map((c) => c.name)).toHaveLength(EXPECTED_CASE_COUNT);
});

describe.each(cases.map((c) => [c.name, c] as const))("fixture %s", (_name, fixture) => {
  const caseJson = fixture.json<CaseJson>("case.json");
  const pages = fixture.json<PagesJson>("pages.json");
  const checksums = fixture.json<ChecksumsJson>("checksums.json");
  const main = fixture.bytes("main.bin");

  it("page-header of the main fork equals pages.json", () => {
    expect(main.length).toBe(caseJson.blocks.main * 8192);
    const expected = pages.blocks.map((b) => ({ block: b.block, ...b.header }));
    expect(inspectPageHeader(main)).toEqual(expected);
  });

  it("line pointers decode to pages.json lp_off / lp_flags / lp_len", () => {
    for (const block of pages.blocks) {
      const page = pageCopy(main, block.block);
      expect(pageGetMaxOffsetNumber(page)).toBe(block.items.length);
      const decoded = block.items.map((item) => {
        const itemId = pageGetItemId(page, item.lp);
        return {
          lp: item.lp,
          lp_off: itemIdGetOffset(itemId),
          lp_flags: itemIdGetFlags(itemId),
          lp_len: itemIdGetLength(itemId),
        };
      });
      expect(decoded).toEqual(
        block.items.map(({ lp, lp_off, lp_flags, lp_len }) => ({ lp, lp_off, lp_flags, lp_len })),
      );
    }
  });

  it("checksums of the main fork equal checksums.json, at every block number listed", () => {
    expect(checksums.main).toBeDefined();
    expect(inspectChecksums(main, { ifBlocks: IF_BLOCKS })).toEqual(checksums.main);
    for (let block = 0; block < caseJson.blocks.main; block++) {
      expect(pageIsVerified(pageCopy(main, block), block)).toBe(true);
      // The block number is part of the checksum: the same page elsewhere fails verification.
      expect(pageIsVerified(pageCopy(main, block), block + 1)).toBe(false);
    }
  });

  if (caseJson.blocks.fsm > 0) {
    it("the FSM fork's checksums, headers, pg_freespace and fsm_page_contents match", () => {
      const fsm = fixture.bytes("fsm.bin");
      const forks = fixture.json<ForksJson>("forks.json");
      expect(forks.fsm?.blocks).toBe(caseJson.blocks.fsm);
      expect(inspectChecksums(fsm)).toEqual(checksums.fsm);
      expect(inspectPageHeader(fsm)).toEqual(
        forks.fsm?.pages.map((p) => ({ block: p.block, ...p.header })),
      );
      expect(inspectFsm(fsm, { heapBlocks: caseJson.blocks.main })).toEqual(
        forks.fsm?.pg_freespace,
      );
      expect(inspectFsmPageContents(fsm)).toEqual(
        forks.fsm?.pages.map((p) => ({ block: p.block, fsm_page_contents: p.fsm_page_contents })),
      );
    });

    it("fsm without --heap-blocks stops after the last heap block with free space", () => {
      const fsm = fixture.bytes("fsm.bin");
      const expected = fixture.json<ForksJson>("forks.json").fsm?.pg_freespace ?? [];
      const lastNonZero = expected.findLastIndex((row) => row.avail !== 0);
      expect(inspectFsm(fsm)).toEqual(expected.slice(0, lastNonZero + 1));
      for (const row of expected) {
        expect(inspectFsm(fsm, { block: row.blkno })).toEqual([row]);
        expect(recordedFreeSpace(fsm, row.blkno)).toBe(row.avail);
      }
      // Heap blocks past the end of the table, even past the FSM pages present, record nothing.
      expect(inspectFsm(fsm, { block: 5_000_000 })).toEqual([{ blkno: 5_000_000, avail: 0 }]);
    });
  } else {
    it("has no FSM fork", () => {
      expect(fixture.has("fsm.bin")).toBe(false);
      expect(checksums.fsm).toBeUndefined();
    });
  }

  if (caseJson.blocks.vm > 0) {
    it("the VM fork's checksums, headers, pg_visibility_map and map bytes match", () => {
      const vm = fixture.bytes("vm.bin");
      const forks = fixture.json<ForksJson>("forks.json");
      expect(forks.vm?.blocks).toBe(caseJson.blocks.vm);
      expect(inspectChecksums(vm)).toEqual(checksums.vm);
      expect(inspectPageHeader(vm)).toEqual(
        forks.vm?.pages.map((p) => ({ block: p.block, ...p.header })),
      );
      expect(inspectVm(vm, { heapBlocks: caseJson.blocks.main })).toEqual(
        forks.vm?.pg_visibility_map,
      );
      expect(forks.vm?.pages.map((p) => vmBytesHex(pageCopy(vm, p.block)))).toEqual(
        forks.vm?.pages.map((p) => p.vm_bytes_hex),
      );
      const expected = forks.vm?.pg_visibility_map ?? [];
      const lastSet = expected.findLastIndex((row) => row.all_visible || row.all_frozen);
      expect(inspectVm(vm)).toEqual(expected.slice(0, lastSet + 1));
    });
  } else {
    it("has no VM fork", () => {
      expect(fixture.has("vm.bin")).toBe(false);
      expect(checksums.vm).toBeUndefined();
    });
  }
});
