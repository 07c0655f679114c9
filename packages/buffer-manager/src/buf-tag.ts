/**
 * Buffer tags: which relation fork and block a buffer holds, and the tag hash that picks a buffer
 * table bucket and partition.
 *
 * Models: src/include/storage/buf_internals.h (BufferTag, BUFFERTAGS_EQUAL), relfilenode.h
 * (RelFileNode), common/relpath.h (ForkNumber), common/hashfn.c (hash_bytes, Bob Jenkins' lookup3,
 * for a 20-byte key), buf_table.c (BufTableHashCode), lwlock.h (NUM_BUFFER_PARTITIONS).
 * Entry points: `RelFileLocator`, `ForkNumber`, `bufTableHashCode`, `bufTableHashPartition`.
 * See also: buf-table.ts (the hash table), md.ts (file names from the same tag).
 */

import { PgsimError } from "@pgsim/clock-sweep";

/** Identifies a relation's storage: tablespace, database and file number (all uint32 OIDs). */
export interface RelFileLocator {
  readonly spcOid: number;
  readonly dbOid: number;
  readonly relNumber: number;
}

/** The forks of a relation (ForkNumber). */
export const ForkNumber = {
  MAIN: 0,
  FSM: 1,
  VISIBILITYMAP: 2,
  INIT: 3,
} as const;
export type ForkNumber = (typeof ForkNumber)[keyof typeof ForkNumber];
/** The fork of a cleared tag. */
export const INVALID_FORKNUM = -1;
/** The highest fork number. */
export const MAX_FORKNUM = 3;

/** 0xFFFFFFFF: no block (P_NEW in ReadBuffer). */
export const InvalidBlockNumber = 0xffffffff;
/** The largest block number a relation fork can have. */
export const MaxBlockNumber = 0xfffffffe;

/** pg_default's OID: the tablespace of ordinary relations. */
export const DEFAULTTABLESPACE_OID = 1663;
/** pg_global's OID: the tablespace of shared catalogs. */
export const GLOBALTABLESPACE_OID = 1664;

/** How many partitions (and partition locks) the buffer table has. */
export const NUM_BUFFER_PARTITIONS = 128;

/** Throws a typed error unless `rel` is a well-formed RelFileLocator. */
export function checkRelFileLocator(rel: RelFileLocator): void {
  const ok =
    rel !== null &&
    typeof rel === "object" &&
    isOid(rel.spcOid) &&
    isOid(rel.dbOid) &&
    isOid(rel.relNumber) &&
    rel.relNumber !== 0;
  if (!ok) {
    throw new PgsimError(
      "invalid-relation",
      `invalid relation file locator ${safeJson(rel)}: spcOid, dbOid and relNumber must be ` +
        "integers from 0 to 4294967295, and relNumber must not be 0",
    );
  }
}

function isOid(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Throws a typed error unless `fork` is 0..3. */
export function checkForkNumber(fork: number): asserts fork is ForkNumber {
  if (!Number.isInteger(fork) || fork < 0 || fork > MAX_FORKNUM) {
    throw new PgsimError("invalid-fork", `invalid fork number ${String(fork)}: must be 0 to 3`, {
      fork,
    });
  }
}

/** Throws a typed error unless `block` is 0..MaxBlockNumber. */
export function checkBlockNumber(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > MaxBlockNumber) {
    throw new PgsimError(
      "invalid-block-number",
      `invalid block number ${String(block)}: must be an integer from 0 to ${MaxBlockNumber}`,
      { block },
    );
  }
}

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * BufTableHashCode: lookup3's hash_bytes over the 20 bytes of a tag (five little-endian uint32
 * words), exactly as PostgreSQL computes it. Returns an unsigned 32-bit integer.
 */
export function bufTableHashCode(
  spcOid: number,
  dbOid: number,
  relNumber: number,
  fork: number,
  block: number,
): number {
  bufTableHashHead(spcOid, dbOid, relNumber, headScratch);
  return bufTableHashTail(headScratch, fork, block);
}

const headScratch = new Int32Array(3);

/**
 * The first half of BufTableHashCode: hash_bytes' state after the tag's first 12 bytes (the
 * relation), stored in `out` as a, b, c. It depends on the relation only, so a backend can keep
 * it while it reads blocks of one relation (pgsim's precomputed tag hash; the hash is the same).
 */
export function bufTableHashHead(
  spcOid: number,
  dbOid: number,
  relNumber: number,
  out: Int32Array,
): void {
  // The initial value is 0x9e3779b9 + length (20) + 3923095, as hash_bytes sets it.
  let a = (0x9e735664 + spcOid) | 0;
  let b = (0x9e735664 + dbOid) | 0;
  let c = (0x9e735664 + relNumber) | 0;
  // mix(a, b, c)
  a = (a - c) | 0;
  a ^= rot(c, 4);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rot(a, 6);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rot(b, 8);
  b = (b + a) | 0;
  a = (a - c) | 0;
  a ^= rot(c, 16);
  c = (c + b) | 0;
  b = (b - a) | 0;
  b ^= rot(a, 19);
  a = (a + c) | 0;
  c = (c - b) | 0;
  c ^= rot(b, 4);
  b = (b + a) | 0;
  out[0] = a;
  out[1] = b;
  out[2] = c;
}

/**
 * The second half of BufTableHashCode: the fork and block words, then final(a, b, c). The
 * rotations are written out (not `rot` calls): this runs on every buffer lookup, and V8 counts a
 * called function's bytecode against the inlining budget of the hit path that calls it.
 */
export function bufTableHashTail(head: Int32Array, fork: number, block: number): number {
  let a = (head[0]! + fork) | 0;
  let b = (head[1]! + block) | 0;
  let c = head[2]!;
  // final(a, b, c)
  c ^= b;
  c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c;
  a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a;
  b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b;
  c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c;
  a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a;
  b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b;
  c = (c - ((b << 24) | (b >>> 8))) | 0;
  return c >>> 0;
}

/** BufTableHashPartition: the partition (and partition lock) of a tag hash. */
export function bufTableHashPartition(hash: number): number {
  return hash % NUM_BUFFER_PARTITIONS;
}

/** A tag as plain data, for introspection and messages. */
export interface BufferTag {
  spcOid: number;
  dbOid: number;
  relNumber: number;
  fork: number;
  block: number;
}
