/**
 * The shared buffer mapping table: a fixed-capacity, partitioned hash from tag to buffer id.
 *
 * Models: src/backend/storage/buffer/buf_table.c (InitBufTable, BufTableLookup, BufTableInsert,
 * BufTableDelete) over a partitioned dynahash (utils/hash/dynahash.c, HASH_PARTITION).
 * Entry points: `BufTable` (`lookup`, `insert`, `delete`), `bufTableInts`.
 * See also: buf-tag.ts (the hash and partitions), bufmgr.ts (who takes which partition lock).
 *
 * Layout (all Int32, in shared memory):
 *   control:  [entry free-list head, entry free-list spinlock]
 *   buckets:  nbuckets heads (entry index, -1 = empty); nbuckets = next power of two
 *             >= max(capacity, 128), so bucket = hash & (nbuckets - 1) and the low 7 bits of
 *             the bucket are the partition: every bucket belongs to exactly one partition.
 *   entries:  capacity entries of ENTRY_INTS: five tag words, buffer id, next entry, spare.
 *
 * Protection: a bucket's chain and the entries on it are protected by that partition's lock
 * (shared to look up, exclusive to insert or delete). The list of unused entries is shared by all
 * partitions and protected by its own spinlock, taken only inside insert and delete.
 *
 * Capacity is NBuffers + NUM_BUFFER_PARTITIONS entries, as in PostgreSQL: BufferAlloc inserts the
 * new tag before deleting the old one, which can happen in every partition at once.
 *
 * Differs from PostgreSQL: one free list of entries under one spinlock, where dynahash keeps 32
 * free lists and borrows between them.
 */

import { AssertionError, spinDelay } from "@pgsim/clock-sweep";
import { NUM_BUFFER_PARTITIONS } from "./buf-tag.js";

const ENTRY_INTS = 8;
const E_BUF = 5;
const E_NEXT = 6;
/** `lookupUnlocked`: the chain ran past the table's size (a cycle, or entries moving under an unlocked walk). */
export const CHAIN_TOO_LONG = -2;
const CTL_FREE_HEAD = 0;
const CTL_LOCK = 1;
const CTL_INTS = 2;

/** Int32 slots the table needs for `capacity` entries. */
export function bufTableInts(capacity: number): number {
  return CTL_INTS + bufTableBuckets(capacity) + capacity * ENTRY_INTS;
}

function bufTableBuckets(capacity: number): number {
  let n = NUM_BUFFER_PARTITIONS;
  while (n < capacity) n *= 2;
  return n;
}

/** A view of the buffer table over shared Int32 memory. */
export class BufTable {
  readonly capacity: number;
  readonly bucketCount: number;
  private readonly words: Int32Array;
  private readonly ctl: number;
  private readonly buckets: number;
  private readonly entries: number;
  private readonly bucketMask: number;

  /**
   * @param words the Int32Array holding the table
   * @param base the first slot of the table inside `words`
   * @param capacity how many entries (NBuffers + NUM_BUFFER_PARTITIONS)
   */
  constructor(words: Int32Array, base: number, capacity: number) {
    this.words = words;
    this.capacity = capacity;
    this.bucketCount = bufTableBuckets(capacity);
    this.bucketMask = this.bucketCount - 1;
    this.ctl = base;
    this.buckets = base + CTL_INTS;
    this.entries = this.buckets + this.bucketCount;
  }

  /** InitBufTable: empty buckets, every entry on the free list. Call once, before attaching. */
  initialize(): void {
    const w = this.words;
    w.fill(-1, this.buckets, this.buckets + this.bucketCount);
    for (let i = 0; i < this.capacity; i++) {
      const e = this.entries + i * ENTRY_INTS;
      w.fill(0, e, e + ENTRY_INTS);
      w[e + E_NEXT] = i + 1 < this.capacity ? i + 1 : -1;
    }
    w[this.ctl + CTL_FREE_HEAD] = 0;
    w[this.ctl + CTL_LOCK] = 0;
  }

  /**
   * BufTableLookup: the buffer id holding the tag, or -1. Caller holds the tag's partition lock
   * in at least shared mode.
   */
  lookup(
    hash: number,
    spcOid: number,
    dbOid: number,
    relNumber: number,
    fork: number,
    block: number,
  ): number {
    const found = this.lookupUnlocked(hash, spcOid, dbOid, relNumber, fork, block);
    if (found === CHAIN_TOO_LONG) throw new AssertionError("buffer table chain has a cycle");
    return found;
  }

  /**
   * Walks the tag's bucket chain: the buffer id, -1, or CHAIN_TOO_LONG (−2) past `capacity`
   * steps. Also the lookup without the partition lock (pgsim's hit-path fast path, see bufmgr.ts
   * readBuffer): the chains may change under it, so what it returns is only a guess the caller
   * verifies against the buffer's own tag once pinned, and a chain longer than the table (an
   * entry moved meanwhile) gives up with CHAIN_TOO_LONG instead of reporting a cycle.
   */
  lookupUnlocked(
    hash: number,
    spcOid: number,
    dbOid: number,
    relNumber: number,
    fork: number,
    block: number,
  ): number {
    const w = this.words;
    let i = w[this.buckets + (hash & this.bucketMask)]!;
    for (let guard = 0; i >= 0; guard++) {
      if (guard > this.capacity) return CHAIN_TOO_LONG;
      const e = this.entries + i * ENTRY_INTS;
      if (
        w[e + 4] === (block | 0) &&
        w[e + 2] === (relNumber | 0) &&
        w[e + 3] === fork &&
        w[e + 1] === (dbOid | 0) &&
        w[e] === (spcOid | 0)
      ) {
        return w[e + E_BUF]!;
      }
      i = w[e + E_NEXT]!;
    }
    return -1;
  }

  /**
   * BufTableInsert: maps the tag to `bufferId` unless it is mapped already. Returns -1 when
   * inserted, or the buffer id already mapped (a conflict: someone loaded the block meanwhile).
   * Caller holds the tag's partition lock exclusively.
   */
  insert(
    hash: number,
    spcOid: number,
    dbOid: number,
    relNumber: number,
    fork: number,
    block: number,
    bufferId: number,
  ): number {
    const existing = this.lookup(hash, spcOid, dbOid, relNumber, fork, block);
    if (existing >= 0) return existing;
    const w = this.words;
    const i = this.allocEntry();
    const e = this.entries + i * ENTRY_INTS;
    w[e] = spcOid | 0;
    w[e + 1] = dbOid | 0;
    w[e + 2] = relNumber | 0;
    w[e + 3] = fork;
    w[e + 4] = block | 0;
    w[e + E_BUF] = bufferId;
    const head = this.buckets + (hash & this.bucketMask);
    w[e + E_NEXT] = w[head]!;
    w[head] = i;
    return -1;
  }

  /**
   * BufTableDelete: removes the tag's mapping. A missing tag means the table is corrupt.
   * Caller holds the tag's partition lock exclusively.
   */
  delete(
    hash: number,
    spcOid: number,
    dbOid: number,
    relNumber: number,
    fork: number,
    block: number,
  ): void {
    const w = this.words;
    let link = this.buckets + (hash & this.bucketMask);
    let i = w[link]!;
    for (let guard = 0; i >= 0; guard++) {
      const e = this.entries + i * ENTRY_INTS;
      if (
        w[e + 4] === (block | 0) &&
        w[e + 2] === (relNumber | 0) &&
        w[e + 3] === fork &&
        w[e + 1] === (dbOid | 0) &&
        w[e] === (spcOid | 0)
      ) {
        w[link] = w[e + E_NEXT]!;
        this.freeEntry(i);
        return;
      }
      link = e + E_NEXT;
      i = w[link]!;
      if (guard > this.capacity) throw new AssertionError("buffer table chain has a cycle");
    }
    throw new AssertionError("shared buffer hash table corrupted");
  }

  private lockFreeList(): void {
    const slot = this.ctl + CTL_LOCK;
    for (let spins = 1; Atomics.compareExchange(this.words, slot, 0, 1) !== 0; spins++) {
      spinDelay(spins);
    }
  }

  private allocEntry(): number {
    this.lockFreeList();
    const w = this.words;
    const i = w[this.ctl + CTL_FREE_HEAD]!;
    if (i >= 0) w[this.ctl + CTL_FREE_HEAD] = w[this.entries + i * ENTRY_INTS + E_NEXT]!;
    Atomics.store(w, this.ctl + CTL_LOCK, 0);
    // Capacity covers every buffer plus one in-flight insert per partition; running out is a bug.
    if (i < 0) throw new AssertionError("out of shared memory in the buffer table");
    return i;
  }

  private freeEntry(i: number): void {
    this.lockFreeList();
    const w = this.words;
    w[this.entries + i * ENTRY_INTS + E_NEXT] = w[this.ctl + CTL_FREE_HEAD]!;
    w[this.ctl + CTL_FREE_HEAD] = i;
    Atomics.store(w, this.ctl + CTL_LOCK, 0);
  }

  /**
   * Every mapping, read without locks: for consistency checks when nothing else runs.
   * Returns [bufferId, spcOid, dbOid, relNumber, fork, block] tuples and the count of free entries.
   */
  dump(): { mappings: number[][]; freeEntries: number } {
    const w = this.words;
    const mappings: number[][] = [];
    for (let b = 0; b < this.bucketCount; b++) {
      let i = w[this.buckets + b]!;
      for (let guard = 0; i >= 0 && guard <= this.capacity; guard++) {
        const e = this.entries + i * ENTRY_INTS;
        mappings.push([
          w[e + E_BUF]!,
          w[e]! >>> 0,
          w[e + 1]! >>> 0,
          w[e + 2]! >>> 0,
          w[e + 3]!,
          w[e + 4]! >>> 0,
        ]);
        i = w[e + E_NEXT]!;
      }
    }
    let freeEntries = 0;
    let i = w[this.ctl + CTL_FREE_HEAD]!;
    for (; i >= 0 && freeEntries <= this.capacity; freeEntries++) {
      i = w[this.entries + i * ENTRY_INTS + E_NEXT]!;
    }
    return { mappings, freeEntries };
  }
}
