/**
 * The buffer pool's shared memory, and the compare-and-swap of a buffer's state word as one
 * machine instruction.
 *
 * Models: src/include/port/atomics.h (pg_atomic_compare_exchange_u32, which compiles to one
 * `lock cmpxchg` on x86-64) for the state word's CAS in PinBuffer and UnpinBuffer; the memory
 * itself is src/backend/storage/ipc/shmem.c's one segment allocated at start-up.
 * Entry points: `allocateSharedMemory`, `stateCompareExchange`.
 * See also: buf-init.ts (allocates the pool with it), bufmgr.ts (pinBuffer, unpinBuffer).
 *
 * Why WebAssembly: in Node 20's V8, `Atomics.compareExchange` is a call into a built-in that
 * validates the typed array, the index and both values before its `lock cmpxchg` (about 12 ns on
 * the benchmark machine, the hit path does two); a WebAssembly `i32.atomic.rmw.cmpxchg` on the
 * same memory is the bare instruction behind a call (about 8 ns). The pool's SharedArrayBuffer is
 * then a shared WebAssembly.Memory's buffer: every other access (typed arrays, `Atomics.wait`
 * and `notify`, worker threads) is the same as over a plain SharedArrayBuffer, and both kinds of
 * atomic operation are sequentially consistent on the same words. A pool whose memory is a plain
 * SharedArrayBuffer (larger than 4 GB, or a handle made without `memory`) uses
 * `Atomics.compareExchange`; the results are the same.
 */

/** The few WebAssembly JS API members used here (the project's TypeScript lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
};

/** A WebAssembly page: 64 KiB. */
const WASM_PAGE_BYTES = 65536;
/** A 32-bit WebAssembly memory holds at most 65536 pages (4 GiB). */
const WASM_MAX_PAGES = 65536;

/**
 * The module, written out in its binary form: it imports the memory as `m.mem` (shared, 0 to
 * 65536 pages) and exports `cas(byteOffset, expected, replacement) -> i32`, which is
 * `i32.atomic.rmw.cmpxchg` and returns the word's old value, as `Atomics.compareExchange` does.
 */
const CAS_MODULE = new Uint8Array([
  // magic and version
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // type section: one type, (i32, i32, i32) -> i32
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f,
  // import section: "m" "mem", memory, shared with min 0 and max 65536 pages
  0x02, 0x0d, 0x01, 0x01, 0x6d, 0x03, 0x6d, 0x65, 0x6d, 0x02, 0x03, 0x00, 0x80, 0x80, 0x04,
  // function section: one function of type 0
  0x03, 0x02, 0x01, 0x00,
  // export section: "cas", function 0
  0x07, 0x07, 0x01, 0x03, 0x63, 0x61, 0x73, 0x00, 0x00,
  // code section: local.get 0, 1, 2; i32.atomic.rmw.cmpxchg align=4 offset=0; end
  0x0a, 0x0e, 0x01, 0x0c, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfe, 0x48, 0x02, 0x00, 0x0b,
]);

/** The pool's memory: its SharedArrayBuffer, and the WebAssembly.Memory behind it if there is one. */
export interface SharedMemory {
  readonly sab: SharedArrayBuffer;
  readonly memory: object | undefined;
}

/**
 * Allocates `bytes` of shared memory, as a shared WebAssembly.Memory when it fits in one (then
 * the buffer is rounded up to whole 64 KiB pages), else — or when V8 cannot reserve one (each
 * reserves address space for its guard regions) — as a plain SharedArrayBuffer. Throws what the
 * plain allocation throws.
 */
export function allocateSharedMemory(bytes: number): SharedMemory {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  if (pages <= WASM_MAX_PAGES) {
    try {
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
      return { sab: memory.buffer as SharedArrayBuffer, memory };
    } catch {
      // Out of address space for another WebAssembly memory: the pool works without one.
    }
  }
  return { sab: new SharedArrayBuffer(bytes), memory: undefined };
}

/** The byte length `allocateSharedMemory(bytes)` gives as a WebAssembly memory. */
export function wasmMemoryBytes(bytes: number): number {
  return Math.ceil(bytes / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
}

/** compareExchange on the Int32 word at `byteOffset`: returns the old value (stored if it was `expected`). */
export type StateCompareExchange = (
  byteOffset: number,
  expected: number,
  replacement: number,
) => number;

/**
 * The compare-and-swap for words of `sab`: the WebAssembly one when `memory` is the
 * WebAssembly.Memory behind `sab`, else `Atomics.compareExchange` on an Int32Array.
 */
export function stateCompareExchange(
  sab: SharedArrayBuffer,
  memory: object | undefined,
): StateCompareExchange {
  // A handle that crossed to a worker holds a clone of each: the same memory, but not the same
  // objects, so the check is the size (handles come from initBufferPool).
  if (memory !== undefined && (memory as WasmMemory).buffer.byteLength === sab.byteLength) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(CAS_MODULE), {
      m: { mem: memory },
    });
    return instance.exports.cas as StateCompareExchange;
  }
  const words = new Int32Array(sab, 0, sab.byteLength >> 2);
  return (byteOffset, expected, replacement) =>
    Atomics.compareExchange(words, byteOffset >> 2, expected, replacement);
}
