/**
 * The transaction resource manager's commit and abort records: their layout (a timestamp, then
 * optional parts announced by an xinfo word), encoded as XactLogCommitRecord writes them and
 * parsed as ParseCommitRecord reads them.
 *
 * Models: src/include/access/xact.h (XLOG_XACT_* opcodes, XLOG_XACT_HAS_INFO, XACT_XINFO_*,
 * XACT_COMPLETION_*, xl_xact_commit / xl_xact_abort and their parts), src/backend/access/transam/
 * xact.c (XactLogCommitRecord, XactLogAbortRecord) and src/backend/access/rmgrdesc/xactdesc.c
 * (ParseCommitRecord, ParseAbortRecord).
 * Entry points: `encodeXactCommit`, `parseXactCommit`, `xactLogCommitRecord`,
 * `xactLogAbortRecord`, `timestampTzFromUnixMs`, `XLOG_XACT_*`, `XACT_XINFO_*`.
 * See also: xlog-desc.ts (pg_waldump's text), docs/reference/postgres-wal.md §6.1–6.2.
 *
 * Layout (main data only, no block references; parts in this order, each only when its xinfo
 * bit is set): xact_time i64 (µs since 2000-01-01 UTC); xinfo u32 (when xl_info has
 * XLOG_XACT_HAS_INFO, i.e. xinfo ≠ 0); dbinfo (dbId, tsId); subxacts (n, xids); relfilenodes
 * (n, 12-byte nodes); dropped stats (n, 12-byte items); invalidations (n, 16-byte messages,
 * commit only); two-phase xid [+ GID]; origin (lsn, timestamp).
 *
 * Differs from PostgreSQL: pgsim writes neither invalidation messages (its catalog has no
 * caches to invalidate), dropped-stats items, two-phase, GID nor origin parts; the parser reads
 * them all, so records PostgreSQL wrote can be parsed.
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import {
  readBigInt64,
  readUint32,
  writeBigInt64,
  writeUint32,
} from "../../include/port/le-bytes.js";
import { RM_XACT_ID } from "./rmgr.js";
import type { XLogInsertResult, XLogWriter } from "./xlog.js";
import { XLOG_INCLUDE_ORIGIN, type XLogInsertState } from "./xloginsert.js";
import { XLR_SPECIAL_REL_UPDATE } from "./xlogrecord.js";

/** Transaction rmgr opcodes (the bits under XLOG_XACT_OPMASK). */
export const XLOG_XACT_COMMIT = 0x00;
export const XLOG_XACT_PREPARE = 0x10;
export const XLOG_XACT_ABORT = 0x20;
export const XLOG_XACT_COMMIT_PREPARED = 0x30;
export const XLOG_XACT_ABORT_PREPARED = 0x40;
export const XLOG_XACT_ASSIGNMENT = 0x50;
export const XLOG_XACT_INVALIDATIONS = 0x60;
export const XLOG_XACT_OPMASK = 0x70;
/** An xinfo word follows xact_time. */
export const XLOG_XACT_HAS_INFO = 0x80;

/** xinfo bits: which parts follow. */
export const XACT_XINFO_HAS_DBINFO = 1 << 0;
export const XACT_XINFO_HAS_SUBXACTS = 1 << 1;
export const XACT_XINFO_HAS_RELFILENODES = 1 << 2;
export const XACT_XINFO_HAS_INVALS = 1 << 3;
export const XACT_XINFO_HAS_TWOPHASE = 1 << 4;
export const XACT_XINFO_HAS_ORIGIN = 1 << 5;
export const XACT_XINFO_HAS_AE_LOCKS = 1 << 6;
export const XACT_XINFO_HAS_GID = 1 << 7;
export const XACT_XINFO_HAS_DROPPED_STATS = 1 << 8;
/** xinfo completion flags. */
export const XACT_COMPLETION_APPLY_FEEDBACK = 1 << 29;
export const XACT_COMPLETION_UPDATE_RELCACHE_FILE = 1 << 30;
export const XACT_COMPLETION_FORCE_SYNC_COMMIT = 1 << 31;

/** Microseconds between 1970-01-01 and 2000-01-01 (the PostgreSQL epoch). */
const POSTGRES_EPOCH_UNIX_US = 946_684_800_000_000n;

/** A TimestampTz (µs since 2000-01-01 UTC) for a JavaScript time in ms since 1970. */
export function timestampTzFromUnixMs(ms: number): bigint {
  return BigInt(Math.round(ms * 1000)) - POSTGRES_EPOCH_UNIX_US;
}

/** A commit or abort record's contents. */
export interface XactCompletion {
  /** xact_time: TimestampTz, µs since 2000-01-01 UTC. */
  readonly xactTime: bigint;
  /** Database and tablespace (XACT_XINFO_HAS_DBINFO). */
  readonly dbInfo?: { readonly dbId: number; readonly tsId: number };
  /** Committed subtransaction xids. */
  readonly subxacts?: readonly number[];
  /** Relation files to drop at commit (or abort). */
  readonly rels?: readonly RelFileLocator[];
  /** The transaction took an AccessExclusiveLock (flag only). */
  readonly aeLocks?: boolean;
  /** XACT_COMPLETION_* bits. */
  readonly completionFlags?: number;
}

/** A parsed commit/abort record: the contents plus the parts pgsim does not write. */
export interface ParsedXactCompletion extends XactCompletion {
  readonly xinfo: number;
  readonly droppedStats?: readonly { kind: number; dbOid: number; objOid: number }[];
  /** Invalidation messages, 16 raw bytes each. */
  readonly invalMessages?: readonly Uint8Array[];
  readonly twophaseXid?: number;
  readonly gid?: string;
  readonly origin?: { readonly lsn: bigint; readonly timestamp: bigint };
}

function xinfoOf(x: XactCompletion): number {
  let xinfo = (x.completionFlags ?? 0) >>> 0;
  if (x.dbInfo !== undefined) xinfo |= XACT_XINFO_HAS_DBINFO;
  if ((x.subxacts?.length ?? 0) > 0) xinfo |= XACT_XINFO_HAS_SUBXACTS;
  if ((x.rels?.length ?? 0) > 0) xinfo |= XACT_XINFO_HAS_RELFILENODES;
  if (x.aeLocks === true) xinfo |= XACT_XINFO_HAS_AE_LOCKS;
  return xinfo >>> 0;
}

/**
 * The xl_info and main data of a commit (XLOG_XACT_COMMIT) or abort (XLOG_XACT_ABORT) record,
 * as XactLogCommitRecord / XactLogAbortRecord build them: HAS_INFO when xinfo ≠ 0,
 * XLR_SPECIAL_REL_UPDATE when files are dropped.
 */
export function encodeXactCompletion(
  opcode: typeof XLOG_XACT_COMMIT | typeof XLOG_XACT_ABORT,
  x: XactCompletion,
): { readonly info: number; readonly mainData: Uint8Array } {
  const xinfo = xinfoOf(x);
  const subxacts = x.subxacts ?? [];
  const rels = x.rels ?? [];
  let size = 8;
  if (xinfo !== 0) size += 4;
  if ((xinfo & XACT_XINFO_HAS_DBINFO) !== 0) size += 8;
  if ((xinfo & XACT_XINFO_HAS_SUBXACTS) !== 0) size += 4 + 4 * subxacts.length;
  if ((xinfo & XACT_XINFO_HAS_RELFILENODES) !== 0) size += 4 + 12 * rels.length;
  const b = new Uint8Array(size);
  let p = 0;
  writeBigInt64(b, p, x.xactTime);
  p += 8;
  if (xinfo !== 0) {
    writeUint32(b, p, xinfo);
    p += 4;
  }
  if (x.dbInfo !== undefined) {
    writeUint32(b, p, x.dbInfo.dbId);
    writeUint32(b, p + 4, x.dbInfo.tsId);
    p += 8;
  }
  if (subxacts.length > 0) {
    writeUint32(b, p, subxacts.length);
    p += 4;
    for (const xid of subxacts) {
      writeUint32(b, p, xid);
      p += 4;
    }
  }
  if (rels.length > 0) {
    writeUint32(b, p, rels.length);
    p += 4;
    for (const r of rels) {
      writeUint32(b, p, r.spcOid);
      writeUint32(b, p + 4, r.dbOid);
      writeUint32(b, p + 8, r.relNumber);
      p += 12;
    }
  }
  let info: number = opcode;
  if (xinfo !== 0) info |= XLOG_XACT_HAS_INFO;
  if (rels.length > 0) info |= XLR_SPECIAL_REL_UPDATE;
  return { info, mainData: b };
}

/**
 * ParseCommitRecord / ParseAbortRecord: the parts of a commit or abort record's main data.
 * Throws `invalid-xact-record` when the data is shorter than its parts claim.
 */
export function parseXactCompletion(info: number, data: Uint8Array): ParsedXactCompletion {
  let p = 0;
  const need = (n: number) => {
    if (p + n > data.length) {
      throw new PgsimError(
        "invalid-xact-record",
        `transaction record too short: ${data.length} bytes, needs at least ${p + n}`,
      );
    }
  };
  const u32 = () => {
    need(4);
    const v = readUint32(data, p);
    p += 4;
    return v;
  };
  need(8);
  const xactTime = readBigInt64(data, 0);
  p = 8;
  const xinfo = (info & XLOG_XACT_HAS_INFO) !== 0 ? u32() : 0;
  const out: {
    -readonly [K in keyof ParsedXactCompletion]: ParsedXactCompletion[K];
  } = { xactTime, xinfo };
  if ((xinfo & XACT_XINFO_HAS_DBINFO) !== 0) out.dbInfo = { dbId: u32(), tsId: u32() };
  if ((xinfo & XACT_XINFO_HAS_SUBXACTS) !== 0) {
    const n = u32();
    out.subxacts = Array.from({ length: n }, () => u32());
  }
  if ((xinfo & XACT_XINFO_HAS_RELFILENODES) !== 0) {
    const n = u32();
    out.rels = Array.from({ length: n }, () => ({ spcOid: u32(), dbOid: u32(), relNumber: u32() }));
  }
  if ((xinfo & XACT_XINFO_HAS_DROPPED_STATS) !== 0) {
    const n = u32();
    out.droppedStats = Array.from({ length: n }, () => ({
      kind: u32(),
      dbOid: u32(),
      objOid: u32(),
    }));
  }
  if ((xinfo & XACT_XINFO_HAS_INVALS) !== 0 && (info & XLOG_XACT_OPMASK) !== XLOG_XACT_ABORT) {
    const n = u32();
    need(16 * n);
    out.invalMessages = Array.from({ length: n }, (_, i) =>
      data.slice(p + 16 * i, p + 16 * i + 16),
    );
    p += 16 * n;
  }
  if ((xinfo & XACT_XINFO_HAS_TWOPHASE) !== 0) {
    out.twophaseXid = u32();
    if ((xinfo & XACT_XINFO_HAS_GID) !== 0) {
      const end = data.indexOf(0, p);
      if (end < 0)
        throw new PgsimError("invalid-xact-record", "transaction record: unterminated GID");
      out.gid = new TextDecoder().decode(data.subarray(p, end));
      p = end + 1;
    }
  }
  if ((xinfo & XACT_XINFO_HAS_ORIGIN) !== 0) {
    need(16);
    out.origin = {
      lsn: BigInt.asUintN(64, readBigInt64(data, p)),
      timestamp: readBigInt64(data, p + 8),
    };
    p += 16;
  }
  if ((xinfo & XACT_XINFO_HAS_AE_LOCKS) !== 0) out.aeLocks = true;
  const completion =
    xinfo &
    (XACT_COMPLETION_APPLY_FEEDBACK |
      XACT_COMPLETION_UPDATE_RELCACHE_FILE |
      XACT_COMPLETION_FORCE_SYNC_COMMIT);
  if (completion !== 0) out.completionFlags = completion >>> 0;
  return out;
}

/**
 * XactLogCommitRecord: inserts the commit record of transaction `xid` (which must have one) and
 * returns where it landed; the caller flushes up to its end for a synchronous commit.
 */
export function xactLogCommitRecord(
  ins: XLogInsertState,
  wal: XLogWriter,
  xid: number,
  commit: XactCompletion,
): XLogInsertResult {
  return logCompletion(ins, wal, xid, XLOG_XACT_COMMIT, commit);
}

/** XactLogAbortRecord: the abort record of `xid` (never flushed synchronously by PostgreSQL). */
export function xactLogAbortRecord(
  ins: XLogInsertState,
  wal: XLogWriter,
  xid: number,
  abort: XactCompletion,
): XLogInsertResult {
  return logCompletion(ins, wal, xid, XLOG_XACT_ABORT, abort);
}

function logCompletion(
  ins: XLogInsertState,
  wal: XLogWriter,
  xid: number,
  opcode: typeof XLOG_XACT_COMMIT | typeof XLOG_XACT_ABORT,
  x: XactCompletion,
): XLogInsertResult {
  const { info, mainData } = encodeXactCompletion(opcode, x);
  ins.beginInsert();
  ins.registerData(mainData);
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  return ins.insert(wal, RM_XACT_ID, info, { xid });
}
