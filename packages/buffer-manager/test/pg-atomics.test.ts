/**
 * Tests of pg-atomics.ts: the state word's compare-and-swap, as WebAssembly over a pool's shared
 * WebAssembly.Memory and as Atomics over a plain SharedArrayBuffer, behaves as
 * Atomics.compareExchange does.
 */

import { describe, expect, it } from "vitest";
import { attachBufferPool, ForkNumber, initBufferPool } from "../src/index.js";
import { allocateSharedMemory, stateCompareExchange, wasmMemoryBytes } from "../src/pg-atomics.js";

const REL = { spcOid: 1663, dbOid: 5, relNumber: 16384 };

describe("pg-atomics", () => {
  const kinds = [
    ["WebAssembly", () => allocateSharedMemory(1000)],
    ["Atomics", () => ({ sab: new SharedArrayBuffer(1024), memory: undefined })],
  ] as const;
  for (const [kind, allocate] of kinds) {
    it(`[${kind}] stores only when the word holds the expected value, and returns the old value`, () => {
      const { sab, memory } = allocate();
      const words = new Int32Array(sab);
      const cas = stateCompareExchange(sab, memory);
      words[3] = 41;
      expect(cas(3 * 4, 40, 7)).toBe(41);
      expect(words[3]).toBe(41);
      expect(cas(3 * 4, 41, 42)).toBe(41);
      expect(words[3]).toBe(42);
      // Negative words (bit 31 set, as a locked or flagged state word) compare as int32.
      words[5] = -2147483648;
      expect(cas(5 * 4, -2147483648, -1)).toBe(-2147483648);
      expect(words[5]).toBe(-1);
      expect(words[4]).toBe(0);
      expect(words[6]).toBe(0);
    });
  }

  it("allocates a WebAssembly memory in whole 64 KiB pages", () => {
    const { sab, memory } = allocateSharedMemory(65537);
    expect(memory).toBeDefined();
    expect(sab).toBeInstanceOf(SharedArrayBuffer);
    expect(sab.byteLength).toBe(131072);
    expect(wasmMemoryBytes(65537)).toBe(131072);
  });

  it("a pool's pins go through the same word whichever compare-and-swap a backend uses", () => {
    const shared = initBufferPool({ variant: "memory", bufferCount: 8 });
    expect(shared.memory).toBeDefined();
    const a = attachBufferPool(shared);
    // A handle without the memory (as one made by hand): this backend uses Atomics.
    const b = attachBufferPool({ ...shared, memory: undefined });
    a.createRelation(REL, ForkNumber.MAIN);
    const buf = a.extend(REL, ForkNumber.MAIN);
    const fromB = b.readBuffer(REL, ForkNumber.MAIN, 0);
    expect(fromB).toBe(buf);
    expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(2);
    a.releaseBuffer(buf);
    expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(1);
    b.releaseBuffer(fromB);
    expect(a.bufferCache()[(buf as number) - 1]!.pinning_backends).toBe(0);
    expect(b.detach().leakedPins).toEqual([]);
    expect(a.detach().leakedPins).toEqual([]);
  });
});
