/**
 * Bad input gets a typed error with a clear message, and the pool keeps working afterwards.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  attachBufferPool,
  type BufferId,
  type BufferPool,
  createBufferPool,
  initBufferPool,
  PgsimError,
  type RelFileLocator,
} from "../src/index.js";
import { extendWith, makePool, REL, readFirstByte, removeTempDirs, VARIANTS } from "./helpers.js";

afterAll(removeTempDirs);

function expectPgsimError(fn: () => unknown, code: string, message: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected a PgsimError ${code}`).toBeInstanceOf(PgsimError);
  expect((err as PgsimError).code).toBe(code);
  expect((err as PgsimError).message).toMatch(message);
}

/** The pool still does its job: extend, write, read back, consistent, nothing pinned. */
function expectHealthy(pool: BufferPool, expectedBlocks: number): void {
  const block = extendWith(pool, REL, 200 + expectedBlocks);
  expect(block).toBe(expectedBlocks);
  for (let b = 0; b <= expectedBlocks; b++) {
    expect(readFirstByte(pool, REL, b)).toBe((200 + b) & 0xff);
  }
  expect(pool.checkConsistency()).toEqual([]);
  expect(pool.bufferCacheSummary().buffers_pinned).toBe(0);
}

describe("pool sizes and options", () => {
  const bad: [string, object, RegExp][] = [
    [
      "zero buffers",
      { variant: "memory", bufferCount: 0 },
      /bufferCount must be an integer from 1/,
    ],
    ["negative buffers", { variant: "memory", bufferCount: -8 }, /got -8/],
    ["fractional buffers", { variant: "memory", bufferCount: 2.5 }, /got 2.5/],
    ["absurd buffers", { variant: "memory", bufferCount: 1e12 }, /got 1000000000000/],
    ["NaN buffers", { variant: "memory", bufferCount: Number.NaN }, /got NaN/],
    ["a string count", { variant: "memory", bufferCount: "16" }, /got 16/],
    ["unknown variant", { variant: "ssd", bufferCount: 16 }, /variant must be "disk" or "memory"/],
    ["disk without dataDir", { variant: "disk", bufferCount: 16 }, /needs a dataDir/],
    [
      "memory with dataDir",
      { variant: "memory", bufferCount: 16, dataDir: "/tmp/x" },
      /no data directory/,
    ],
    ["zero backends", { variant: "memory", bufferCount: 16, maxBackends: 0 }, /maxBackends/],
  ];
  for (const [name, options, message] of bad) {
    it(`rejects ${name}`, () => {
      expectPgsimError(() => createBufferPool(options as never), "invalid-pool-option", message);
    });
  }

  it("rejects a handle that is not a pool, and too many backends", () => {
    expectPgsimError(
      () => attachBufferPool({} as never),
      "invalid-pool-handle",
      /not a buffer pool/,
    );
    const shared = initBufferPool({ variant: "memory", bufferCount: 4, maxBackends: 2 });
    const a = attachBufferPool(shared);
    attachBufferPool(shared);
    expectPgsimError(() => attachBufferPool(shared), "too-many-backends", /too many clients/);
    a.detach();
    expect(attachBufferPool(shared).procNumber).toBe(a.procNumber);
  });
});

for (const variant of VARIANTS) {
  describe(`bad calls on a live pool [${variant}]`, () => {
    it(`[${variant}] each bad call is a typed error and the pool still works after it`, () => {
      const pool = makePool(variant, 8);
      pool.createRelation(REL, 0);
      let blocks = 0;
      expectHealthy(pool, blocks++);
      const buf = pool.readBuffer(REL, 0, 0);

      const calls: [string, () => unknown, string, RegExp][] = [
        [
          "buffer id 0",
          () => pool.releaseBuffer(0 as BufferId),
          "invalid-buffer",
          /bad buffer ID: 0/,
        ],
        [
          "buffer id past the end",
          () => pool.bufferGetPage(9 as BufferId),
          "invalid-buffer",
          /bad buffer ID: 9 \(this pool has buffers 1 to 8\)/,
        ],
        [
          "negative buffer id",
          () => pool.lockBuffer(-3 as BufferId, "share"),
          "invalid-buffer",
          /bad buffer ID: -3/,
        ],
        [
          "fractional buffer id",
          () => pool.markBufferDirty(1.5 as BufferId),
          "invalid-buffer",
          /bad buffer ID: 1.5/,
        ],
        [
          "releasing a buffer not pinned",
          () => pool.releaseBuffer(5 as BufferId),
          "buffer-not-pinned",
          /not pinned by this backend/,
        ],
        [
          "locking a buffer not pinned",
          () => pool.lockBuffer(5 as BufferId, "exclusive"),
          "buffer-not-pinned",
          /not pinned/,
        ],
        [
          "unlocking a lock not held",
          () => pool.unlockBuffer(buf),
          "lock-not-held",
          /is not held by this backend/,
        ],
        [
          "an unknown lock mode",
          () => pool.lockBuffer(buf, "sideways" as never),
          "invalid-lock-mode",
          /unrecognized buffer lock mode/,
        ],
        [
          "dirtying without the exclusive lock",
          () => pool.markBufferDirty(buf),
          "lock-not-held",
          /exclusively/,
        ],
        [
          "a negative block number",
          () => pool.readBuffer(REL, 0, -1),
          "invalid-block-number",
          /invalid block number -1/,
        ],
        [
          "block 0xFFFFFFFF",
          () => pool.readBuffer(REL, 0, 0xffffffff),
          "invalid-block-number",
          /4294967295/,
        ],
        [
          "a fractional block number",
          () => pool.readBuffer(REL, 0, 0.5),
          "invalid-block-number",
          /0.5/,
        ],
        [
          "a block past the end",
          () => pool.readBuffer(REL, 0, 77),
          "data-corrupted",
          /could not read block 77/,
        ],
        ["fork 4", () => pool.readBuffer(REL, 4, 0), "invalid-fork", /invalid fork number 4/],
        [
          "relNumber 0",
          () => pool.readBuffer({ spcOid: 1663, dbOid: 5, relNumber: 0 }, 0, 0),
          "invalid-relation",
          /relNumber/,
        ],
        [
          "a negative OID",
          () => pool.extend({ spcOid: -1, dbOid: 5, relNumber: 1 } as RelFileLocator, 0),
          "invalid-relation",
          /spcOid/,
        ],
        [
          "an unknown relation",
          () => pool.nblocks({ spcOid: 1663, dbOid: 5, relNumber: 99 }, 0),
          "relation-not-found",
          /No such file or directory/,
        ],
        [
          "truncating to more blocks",
          () => pool.truncateRelation(REL, 0, 50),
          "invalid-truncate",
          /it's only 1 blocks now/,
        ],
        [
          "creating an existing relation",
          () => pool.createRelation(REL, 0),
          variant === "disk" ? "io-error" : "relation-exists",
          /could not create file "base\/5\/16384"/,
        ],
      ];
      for (const [name, fn, code, message] of calls) {
        expectPgsimError(fn, code, message);
        // The pin we hold survived the bad call, and the pool still works.
        expect(pool.bufferGetTag(buf).block, name).toBe(0);
      }
      pool.lockBuffer(buf, "share");
      expectPgsimError(() => pool.lockBuffer(buf, "share"), "lock-already-held", /not re-entrant/);
      expectPgsimError(
        () => pool.releaseBuffer(buf),
        "lock-held",
        /while holding its content lock/,
      );
      pool.unlockReleaseBuffer(buf);
      expectHealthy(pool, blocks++);
      expectPgsimError(
        () => pool.lockBufferForCleanup(1 as BufferId),
        "buffer-not-pinned",
        /not pinned/,
      );
      expectPgsimError(
        () => pool.dropRelationBuffers(REL, [0, 1], [0]),
        "invalid-argument",
        /same length/,
      );
      if (variant === "memory") {
        // Dropping a memory-only pool's buffers would lose the only copy: refused.
        expectPgsimError(
          () => pool.dropRelationBuffers(REL, [0], [0]),
          "memory-pool-no-drop",
          /storage/,
        );
      }
      expectHealthy(pool, blocks++);
    });
  });
}
