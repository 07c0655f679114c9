/**
 * Relation fork sizes for the memory-only pool, where no files exist to ask.
 *
 * Models: what md.c's mdnblocks answers from file sizes, kept instead in a small shared hash
 * (for the memory-only variant, the pool is the storage).
 * Entry points: `RelSizeTable` (`create`, `exists`, `get`, `set`, `remove`, `entries`).
 * See also: bufmgr.ts (memory-only extend, truncate and drop), md.ts (the disk-backed equivalent).
 *
 * Open addressing with linear probing over `capacity` entries of RELSIZE_INTS Int32 slots:
 * [spcOid, dbOid, relNumber, fork, nblocks, state]. State 0 = empty, 1 = in use, 2 = removed
 * (a tombstone: lookups probe past it, inserts may reuse it).
 *
 * Protection: inserting and removing entries takes the table's spinlock. An entry's nblocks is
 * changed only by the holder of that relation's extension lock (or by truncate and drop, whose
 * callers must keep others away, as PostgreSQL's AccessExclusiveLock does) and read atomically.
 */

import { PgsimError, spinDelay } from "@pgsim/clock-sweep";
import { RELSIZE_INTS } from "./buf-internals.js";
import { bufTableHashCode, type RelFileLocator } from "./buf-tag.js";

const R_NBLOCKS = 4;
const R_STATE = 5;
const EMPTY = 0;
const IN_USE = 1;
const REMOVED = 2;

export class RelSizeTable {
  private readonly words: Int32Array;
  private readonly base: number;
  private readonly capacity: number;
  private readonly lockSlot: number;

  constructor(words: Int32Array, base: number, capacity: number, lockSlot: number) {
    this.words = words;
    this.base = base;
    this.capacity = capacity;
    this.lockSlot = lockSlot;
  }

  private lock(): void {
    for (let spins = 1; Atomics.compareExchange(this.words, this.lockSlot, 0, 1) !== 0; spins++) {
      spinDelay(spins);
    }
  }

  private unlock(): void {
    Atomics.store(this.words, this.lockSlot, 0);
  }

  /** Slot of the entry for (rel, fork), or -1. Safe without the lock: entries never move. */
  private find(rel: RelFileLocator, fork: number): number {
    if (this.capacity === 0) return -1;
    const w = this.words;
    const h = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, 0) % this.capacity;
    for (let probe = 0; probe < this.capacity; probe++) {
      const e = this.base + ((h + probe) % this.capacity) * RELSIZE_INTS;
      const state = Atomics.load(w, e + R_STATE);
      if (state === EMPTY) return -1;
      if (
        state === IN_USE &&
        w[e] === (rel.spcOid | 0) &&
        w[e + 1] === (rel.dbOid | 0) &&
        w[e + 2] === (rel.relNumber | 0) &&
        w[e + 3] === fork
      ) {
        return e;
      }
    }
    return -1;
  }

  /** Registers a new, empty fork. Throws if it exists already or the table is full. */
  create(rel: RelFileLocator, fork: number, name: string): void {
    this.lock();
    try {
      if (this.find(rel, fork) >= 0) {
        throw new PgsimError("relation-exists", `could not create file "${name}": File exists`);
      }
      const h = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, 0) % this.capacity;
      for (let probe = 0; probe < this.capacity; probe++) {
        const e = this.base + ((h + probe) % this.capacity) * RELSIZE_INTS;
        if (Atomics.load(this.words, e + R_STATE) !== IN_USE) {
          this.words[e] = rel.spcOid | 0;
          this.words[e + 1] = rel.dbOid | 0;
          this.words[e + 2] = rel.relNumber | 0;
          this.words[e + 3] = fork;
          Atomics.store(this.words, e + R_NBLOCKS, 0);
          Atomics.store(this.words, e + R_STATE, IN_USE);
          return;
        }
      }
      throw new PgsimError(
        "too-many-relations",
        `too many relation forks: the memory-only pool tracks at most ${this.capacity}; ` +
          "drop relations or start the pool with a larger maxRelationForks",
        { capacity: this.capacity },
      );
    } finally {
      this.unlock();
    }
  }

  exists(rel: RelFileLocator, fork: number): boolean {
    return this.find(rel, fork) >= 0;
  }

  /** The fork's size in blocks, or -1 when the fork does not exist. */
  get(rel: RelFileLocator, fork: number): number {
    const e = this.find(rel, fork);
    return e < 0 ? -1 : Atomics.load(this.words, e + R_NBLOCKS);
  }

  /** Sets the fork's size. The caller holds the relation's extension lock. */
  set(rel: RelFileLocator, fork: number, nblocks: number): void {
    const e = this.find(rel, fork);
    if (e < 0) throw new PgsimError("relation-not-found", "relation fork does not exist");
    Atomics.store(this.words, e + R_NBLOCKS, nblocks);
  }

  /**
   * Every fork the table holds, with its size (pgsim only: what a memory-only snapshot lists).
   * Read without the lock: the caller keeps creations and drops away meanwhile.
   */
  entries(): { rel: RelFileLocator; fork: number; nblocks: number }[] {
    const out: { rel: RelFileLocator; fork: number; nblocks: number }[] = [];
    const w = this.words;
    for (let i = 0; i < this.capacity; i++) {
      const e = this.base + i * RELSIZE_INTS;
      if (Atomics.load(w, e + R_STATE) !== IN_USE) continue;
      out.push({
        rel: { spcOid: w[e]! >>> 0, dbOid: w[e + 1]! >>> 0, relNumber: w[e + 2]! >>> 0 },
        fork: w[e + 3]!,
        nblocks: Atomics.load(w, e + R_NBLOCKS),
      });
    }
    return out;
  }

  /**
   * Records a fork's size measured from its file (the disk-backed pool's cache). The caller holds
   * the relation's extension lock, so the size cannot change meanwhile. Returns false when the
   * table is full (the fork is then measured from its file each time).
   */
  remember(rel: RelFileLocator, fork: number, nblocks: number): boolean {
    this.lock();
    try {
      const found = this.find(rel, fork);
      if (found >= 0) {
        Atomics.store(this.words, found + R_NBLOCKS, nblocks);
        return true;
      }
      const h = bufTableHashCode(rel.spcOid, rel.dbOid, rel.relNumber, fork, 0) % this.capacity;
      for (let probe = 0; probe < this.capacity; probe++) {
        const e = this.base + ((h + probe) % this.capacity) * RELSIZE_INTS;
        if (Atomics.load(this.words, e + R_STATE) !== IN_USE) {
          this.words[e] = rel.spcOid | 0;
          this.words[e + 1] = rel.dbOid | 0;
          this.words[e + 2] = rel.relNumber | 0;
          this.words[e + 3] = fork;
          Atomics.store(this.words, e + R_NBLOCKS, nblocks);
          Atomics.store(this.words, e + R_STATE, IN_USE);
          return true;
        }
      }
      return false;
    } finally {
      this.unlock();
    }
  }

  /** Forgets the fork (a tombstone keeps probe chains intact). */
  remove(rel: RelFileLocator, fork: number): void {
    this.lock();
    try {
      const e = this.find(rel, fork);
      if (e >= 0) Atomics.store(this.words, e + R_STATE, REMOVED);
    } finally {
      this.unlock();
    }
  }
}
