/**
 * The cumulative statistics of tables, in shared memory so that every backend (every worker
 * thread) adds to and reads the same totals.
 *
 * Models: src/backend/utils/activity/pgstat_shmem.c (the shared hash of statistics entries:
 * pgstat_get_entry_ref, pgstat_lock_entry / pgstat_unlock_entry, pgstat_drop_entry,
 * pgstat_reset_entries_of_kind's per-entry reset) and src/include/pgstat.h's
 * PgStat_StatTabEntry (the fields of one table's entry).
 * Entry points: `pgstatShmemSize`, `initPgStatShmem`, `PgStatShmem` (`find`, `lock`, `unlock`,
 * `create`, `drop`, `rekey`, `resetEntry`, `entries`), the field indexes `T_*`, `V_*`, `C_*`.
 * See also: pgstat-relation.ts (what the fields mean and who writes them), pgstat.ts (a
 * backend's handle), README.md.
 *
 * Layout (one SharedArrayBuffer, sized once):
 *   Int32 header [allocation lock, capacity, magic, unused], Float64 header [stats_reset time],
 *   Int32 per entry [relation OID (0 = free), entry lock], Float64 per entry [ENTRY_FIELDS].
 *
 * What protects what:
 * 1. An entry's OID word is written only under the allocation lock (create, drop, rekey) *and*
 *    the entry's lock; anyone may read it atomically to find an entry, and must check it again
 *    once they hold the entry's lock (the entry may have been dropped or moved meanwhile).
 * 2. An entry's fields are read and written only under its lock, a spinlock held for a few
 *    dozen stores (PostgreSQL uses an LWLock per entry, taken without waiting by regular
 *    flushes: a backend that cannot get it keeps its counts pending; pgsim's critical sections
 *    are so short that it spins).
 * 3. Lock order: the allocation lock before an entry lock.
 *
 * Differs from PostgreSQL: a fixed number of entries (`capacity`, chosen when the database is
 * created) instead of a dynamic shared hash — a table created while all are taken gets no
 * statistics; entries are keyed by the table's OID alone (one database); an entry is created by
 * CREATE TABLE and dropped by DROP TABLE at once (pgsim's DDL is not transactional), so a flush
 * into an entry that is gone is dropped rather than creating it again.
 */

import { AssertionError, PgsimError, spinDelay } from "@pgsim/clock-sweep";

/** Entries a database keeps by default (tables whose statistics exist at once). */
export const DEFAULT_PGSTAT_ENTRIES = 1024;

const H_LOCK = 0;
const H_CAPACITY = 1;
const H_MAGIC = 2;
const HEADER_INTS = 4;
const HEADER_FLOATS = 2;
const HF_STATS_RESET = 0;
const MAGIC = 0x50475354; // "PGST"

const E_OID = 0;
const E_LOCK = 1;
const ENTRY_INTS = 2;

// PgStat_StatTabEntry's counters (pgstat.h), one Float64 each, in the order of the struct.
/** tuples_inserted: every tuple inserted, by committed and aborted transactions. */
export const T_TUPLES_INSERTED = 0;
/** tuples_updated. */
export const T_TUPLES_UPDATED = 1;
/** tuples_deleted. */
export const T_TUPLES_DELETED = 2;
/** tuples_hot_updated. */
export const T_TUPLES_HOT_UPDATED = 3;
/** n_live_tuples: an estimate, corrected by each VACUUM. */
export const T_LIVE_TUPLES = 4;
/** n_dead_tuples: an estimate, corrected by each VACUUM. */
export const T_DEAD_TUPLES = 5;
/** changes_since_analyze (n_mod_since_analyze). */
export const T_CHANGES_SINCE_ANALYZE = 6;
/** inserts_since_vacuum (n_ins_since_vacuum). */
export const T_INSERTS_SINCE_VACUUM = 7;
/** blocks_fetched, per fork: main, FSM, VM, init (pgsim keeps the forks apart). */
export const T_BLOCKS_FETCHED = 8;
/** blocks_hit, per fork (see T_BLOCKS_FETCHED). */
export const T_BLOCKS_HIT = 12;
/** vacuum_timestamp: ms since the epoch of the last VACUUM's end; 0 = never. */
export const T_VACUUM_TIMESTAMP = 16;
/** vacuum_count. */
export const T_VACUUM_COUNT = 17;
/** pgsim only: the last VACUUM's figures, `VACUUM_REPORT_FIELDS` in order, from here. */
export const V_FIRST = 18;
/** How many report fields (pgstat-relation.ts's VACUUM_REPORT_FIELDS has this many). */
export const V_COUNT = 20;
/** pg_class.relpages as the last VACUUM set it (pgsim has no pg_class columns for it). */
export const C_RELPAGES = V_FIRST + V_COUNT;
/** pg_class.reltuples as the last VACUUM set it; −1 = never counted. */
export const C_RELTUPLES = C_RELPAGES + 1;
/** Float64 fields per entry. */
export const ENTRY_FIELDS = C_RELTUPLES + 1;
/** A reset zeroes the fields before this one: the pg_class stand-ins survive it, as there. */
export const RESET_FIELDS = C_RELPAGES;

/** Everything a backend needs to attach (structured-clonable). */
export interface PgStatShared {
  readonly sab: SharedArrayBuffer;
}

function layout(capacity: number) {
  const ints = HEADER_INTS + capacity * ENTRY_INTS;
  const floatsAt = Math.ceil((ints * 4) / 8) * 8;
  return { ints, floatsAt, bytes: floatsAt + (HEADER_FLOATS + capacity * ENTRY_FIELDS) * 8 };
}

/** Bytes of shared memory for `capacity` table entries. */
export function pgstatShmemSize(capacity: number): number {
  return layout(capacity).bytes;
}

/** Creates the statistics' shared memory (once, like the postmaster's StatsShmemInit). */
export function initPgStatShmem(capacity = DEFAULT_PGSTAT_ENTRIES): PgStatShared {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 20) {
    throw new PgsimError(
      "invalid-option",
      `statsEntries must be an integer from 1 to ${1 << 20}, got ${String(capacity)}`,
    );
  }
  const sab = new SharedArrayBuffer(pgstatShmemSize(capacity));
  const h = new Int32Array(sab, 0, HEADER_INTS);
  h[H_CAPACITY] = capacity;
  h[H_MAGIC] = MAGIC;
  return { sab };
}

/** One backend's view of the statistics' shared memory. */
export class PgStatShmem {
  readonly capacity: number;
  /** Header and per-entry words (OID, lock). */
  private readonly ints: Int32Array;
  /** Every entry's fields: entry i's field f is at `fieldBase(i) + f`. Read under the lock. */
  readonly floats: Float64Array;
  private readonly headerFloats: Float64Array;
  /** OID → entry index, as this backend last found it (checked again on each use). */
  private readonly cache = new Map<number, number>();

  constructor(shared: PgStatShared) {
    const header = new Int32Array(shared.sab, 0, HEADER_INTS);
    if (header[H_MAGIC] !== MAGIC) {
      throw new PgsimError("invalid-option", "not the shared memory of pgsim's statistics");
    }
    this.capacity = header[H_CAPACITY]!;
    const l = layout(this.capacity);
    this.ints = new Int32Array(shared.sab, 0, l.ints);
    this.headerFloats = new Float64Array(shared.sab, l.floatsAt, HEADER_FLOATS);
    this.floats = new Float64Array(
      shared.sab,
      l.floatsAt + HEADER_FLOATS * 8,
      this.capacity * ENTRY_FIELDS,
    );
  }

  /** Where entry `index`'s fields start in `floats`. */
  fieldBase(index: number): number {
    return index * ENTRY_FIELDS;
  }

  private oidSlot(index: number): number {
    return HEADER_INTS + index * ENTRY_INTS + E_OID;
  }

  private spin(slot: number): void {
    for (let spins = 1; Atomics.compareExchange(this.ints, slot, 0, 1) !== 0; spins++) {
      spinDelay(spins);
    }
  }

  private release(slot: number): void {
    if (Atomics.exchange(this.ints, slot, 0) !== 1) {
      throw new AssertionError("released a statistics lock that was not held");
    }
  }

  /** The entry of table `oid`, or −1 (no locks; lock it before use and check). */
  find(oid: number): number {
    const cached = this.cache.get(oid);
    if (cached !== undefined && Atomics.load(this.ints, this.oidSlot(cached)) === oid) {
      return cached;
    }
    this.cache.delete(oid);
    for (let i = 0; i < this.capacity; i++) {
      if (Atomics.load(this.ints, this.oidSlot(i)) === oid) {
        this.cache.set(oid, i);
        return i;
      }
    }
    return -1;
  }

  /**
   * pgstat_lock_entry: takes entry `index`'s lock. Returns false (holding nothing) when the entry
   * no longer belongs to `oid`.
   */
  lock(index: number, oid: number): boolean {
    this.spin(HEADER_INTS + index * ENTRY_INTS + E_LOCK);
    if (Atomics.load(this.ints, this.oidSlot(index)) === oid) return true;
    this.unlock(index);
    return false;
  }

  /** pgstat_unlock_entry. */
  unlock(index: number): void {
    this.release(HEADER_INTS + index * ENTRY_INTS + E_LOCK);
  }

  /**
   * Runs `body` with the entry of table `oid` locked; returns undefined (running nothing) when
   * the table has no entry.
   */
  withEntry<T>(oid: number, body: (base: number) => T): T | undefined {
    for (let attempt = 0; attempt < 2; attempt++) {
      const index = this.find(oid);
      if (index < 0) return undefined;
      if (!this.lock(index, oid)) continue; // dropped or moved since we found it: look again
      try {
        return body(this.fieldBase(index));
      } finally {
        this.unlock(index);
      }
    }
    return undefined;
  }

  private withAllocationLock<T>(body: () => T): T {
    this.spin(H_LOCK);
    try {
      return body();
    } finally {
      this.release(H_LOCK);
    }
  }

  /**
   * pgstat_create_relation: a zeroed entry for a new table. Returns false when every entry is
   * taken (the table then has no statistics).
   */
  create(oid: number): boolean {
    return this.withAllocationLock(() => {
      let free = -1;
      for (let i = 0; i < this.capacity; i++) {
        const owner = Atomics.load(this.ints, this.oidSlot(i));
        if (owner === oid) return true;
        if (owner === 0 && free < 0) free = i;
      }
      if (free < 0) return false;
      this.spin(HEADER_INTS + free * ENTRY_INTS + E_LOCK);
      const base = this.fieldBase(free);
      this.floats.fill(0, base, base + ENTRY_FIELDS);
      this.floats[base + C_RELTUPLES] = -1;
      Atomics.store(this.ints, this.oidSlot(free), oid);
      this.unlock(free);
      this.cache.set(oid, free);
      return true;
    });
  }

  /** pgstat_drop_relation (at once): frees the entry of table `oid`, if it has one. */
  drop(oid: number): void {
    this.withAllocationLock(() => {
      const index = this.find(oid);
      if (index < 0 || !this.lock(index, oid)) return;
      Atomics.store(this.ints, this.oidSlot(index), 0);
      this.unlock(index);
      this.cache.delete(oid);
    });
  }

  /**
   * Moves the entry of `oldOid` to `newOid` (pgsim's TRUNCATE gives the table a new OID) and runs
   * `adjust` on its fields under the lock.
   */
  rekey(oldOid: number, newOid: number, adjust: (base: number) => void): void {
    this.withAllocationLock(() => {
      const index = this.find(oldOid);
      if (index < 0 || !this.lock(index, oldOid)) return;
      adjust(this.fieldBase(index));
      Atomics.store(this.ints, this.oidSlot(index), newOid);
      this.unlock(index);
      this.cache.delete(oldOid);
      this.cache.set(newOid, index);
    });
  }

  /** shared_stat_reset_contents: zeroes the counters of table `oid` (not the pg_class stand-ins). */
  resetEntry(oid: number): void {
    this.withEntry(oid, (base) => this.floats.fill(0, base, base + RESET_FIELDS));
  }

  /** The OIDs of every table that has an entry. */
  entries(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const oid = Atomics.load(this.ints, this.oidSlot(i));
      if (oid !== 0) out.push(oid);
    }
    return out;
  }

  /** pg_stat_database.stats_reset: when the counters were last reset (ms), 0 = never. */
  get statsResetMs(): number {
    return this.withAllocationLock(() => this.headerFloats[HF_STATS_RESET]!);
  }

  set statsResetMs(ms: number) {
    this.withAllocationLock(() => {
      this.headerFloats[HF_STATS_RESET] = ms;
    });
  }
}
