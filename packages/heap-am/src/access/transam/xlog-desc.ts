/**
 * WAL records as text, exactly as PostgreSQL 15's pg_waldump prints them: one line per record
 * ("rmgr: … len (rec/tot): … tx: … lsn: … prev … desc: …") with its block references, in the
 * short form or pg_waldump -b's detailed form. What pgsim writes can thus be compared line by
 * line with what pg_waldump reads from the same files.
 *
 * Models: src/bin/pg_waldump/pg_waldump.c (XLogDumpDisplayRecord), src/backend/access/transam/
 * xlogdesc.c (xlog_identify, xlog_desc, XLogRecGetBlockRefInfo), src/backend/access/rmgrdesc/
 * heapdesc.c (out_infobits, heap_identify, heap_desc, heap2_identify, heap2_desc),
 * xactdesc.c (xact_identify, xact_desc_commit /
 * abort), nbtdesc.c (btree_identify, btree_desc), src/common/relpath.c (forkNames, relpathperm) and pg_waldump's compat.c
 * (timestamptz_to_str).
 * Entry points: `formatWalDumpRecord`, `rmgrIdentify`, `rmgrDesc`, `blockRefInfo`,
 * `timestampTzToString`.
 * See also: xlogreader.ts (decoded records), docs/reference/postgres-wal.md §2.5.
 *
 * Differs from PostgreSQL: descriptions cover the records pgsim writes — XLOG (checkpoints,
 * NOOP, NEXTOID, SWITCH, FPI, FPI_FOR_HINT), every heap and heap2 record, the B-tree records
 * (insertion: inserts, splits, dedup, simple deletion, new roots; VACUUM: vacuum, page
 * deletion, page reuse, metapage cleanup), transaction
 * COMMIT/ABORT (timestamp, dropped files, subtransactions, sync flags) — and print nothing beyond
 * the record's name for other records or parts (invalidation messages); timestamps are printed in
 * UTC (pg_waldump uses the local zone: run it with TZ=UTC to compare).
 */

import {
  decodeXlHeapDelete,
  decodeXlHeapFreezePage,
  decodeXlHeapInsert,
  decodeXlHeapLock,
  decodeXlHeapMultiInsert,
  decodeXlHeapOffnum,
  decodeXlHeapPrune,
  decodeXlHeapUpdate,
  decodeXlHeapVacuum,
  decodeXlHeapVisible,
  XLHL_KEYS_UPDATED,
  XLHL_XMAX_EXCL_LOCK,
  XLHL_XMAX_IS_MULTI,
  XLHL_XMAX_KEYSHR_LOCK,
  XLHL_XMAX_LOCK_ONLY,
  XLOG_HEAP_CONFIRM,
  XLOG_HEAP_DELETE,
  XLOG_HEAP_HOT_UPDATE,
  XLOG_HEAP_INPLACE,
  XLOG_HEAP_INSERT,
  XLOG_HEAP_LOCK,
  XLOG_HEAP_OPMASK,
  XLOG_HEAP_TRUNCATE,
  XLOG_HEAP_UPDATE,
  XLOG_HEAP2_FREEZE_PAGE,
  XLOG_HEAP2_LOCK_UPDATED,
  XLOG_HEAP2_MULTI_INSERT,
  XLOG_HEAP2_NEW_CID,
  XLOG_HEAP2_PRUNE,
  XLOG_HEAP2_VACUUM,
  XLOG_HEAP2_VISIBLE,
} from "../../include/access/heapam-xlog.js";
import {
  decodeSmgrCreate,
  decodeSmgrTruncate,
  XLOG_SMGR_CREATE,
  XLOG_SMGR_TRUNCATE,
} from "../../include/catalog/storage-xlog.js";
import { readUint16, readUint32 } from "../../include/port/le-bytes.js";
import { clogDesc } from "./clog.js";
import {
  decodeCheckPoint,
  XLOG_CHECKPOINT_ONLINE,
  XLOG_CHECKPOINT_SHUTDOWN,
} from "./pg-control.js";
import {
  RM_BTREE_ID,
  RM_CLOG_ID,
  RM_HEAP_ID,
  RM_HEAP2_ID,
  RM_SMGR_ID,
  RM_XACT_ID,
  RM_XLOG_ID,
  rmgrIdIsCustom,
  rmgrName,
} from "./rmgr.js";
import {
  parseXactCompletion,
  XACT_COMPLETION_APPLY_FEEDBACK,
  XACT_COMPLETION_FORCE_SYNC_COMMIT,
  XLOG_XACT_ABORT,
  XLOG_XACT_COMMIT,
  XLOG_XACT_OPMASK,
} from "./xact-xlog.js";
import { formatLsn, formatLsnPadded } from "./xlogdefs.js";
import { type DecodedXLogRecord, xlogRecGetLen } from "./xlogreader.js";
import { XLR_INFO_MASK } from "./xlogrecord.js";

/** forkNames (relpath.c). */
export const FORK_NAMES: readonly string[] = ["main", "fsm", "vm", "init"];

const XLOG_NAMES: Readonly<Record<number, string>> = {
  0: "CHECKPOINT_SHUTDOWN",
  16: "CHECKPOINT_ONLINE",
  32: "NOOP",
  48: "NEXTOID",
  64: "SWITCH",
  80: "BACKUP_END",
  96: "PARAMETER_CHANGE",
  112: "RESTORE_POINT",
  128: "FPW_CHANGE",
  144: "END_OF_RECOVERY",
  160: "FPI_FOR_HINT",
  176: "FPI",
  208: "OVERWRITE_CONTRECORD",
};

const HEAP_NAMES: Readonly<Record<number, string>> = {
  0: "INSERT",
  128: "INSERT+INIT",
  16: "DELETE",
  32: "UPDATE",
  160: "UPDATE+INIT",
  48: "TRUNCATE",
  64: "HOT_UPDATE",
  192: "HOT_UPDATE+INIT",
  80: "HEAP_CONFIRM",
  96: "LOCK",
  112: "INPLACE",
};

const HEAP2_NAMES: Readonly<Record<number, string>> = {
  0: "REWRITE",
  16: "PRUNE",
  32: "VACUUM",
  48: "FREEZE_PAGE",
  64: "VISIBLE",
  80: "MULTI_INSERT",
  208: "MULTI_INSERT+INIT",
  96: "LOCK_UPDATED",
  112: "NEW_CID",
};

const XACT_NAMES: Readonly<Record<number, string>> = {
  0: "COMMIT",
  16: "PREPARE",
  32: "ABORT",
  48: "COMMIT_PREPARED",
  64: "ABORT_PREPARED",
  80: "ASSIGNMENT",
  96: "INVALIDATION",
};

/** rm_identify: the record type's name, or undefined when pg_waldump would print UNKNOWN. */
export function rmgrIdentify(rmid: number, info: number): string | undefined {
  const op = info & ~XLR_INFO_MASK;
  if (rmid === RM_XLOG_ID) return XLOG_NAMES[op];
  if (rmid === RM_HEAP_ID) return HEAP_NAMES[op];
  if (rmid === RM_HEAP2_ID) return HEAP2_NAMES[op];
  if (rmid === RM_BTREE_ID) return BTREE_NAMES[op];
  if (rmid === RM_XACT_ID) return XACT_NAMES[op & XLOG_XACT_OPMASK];
  if (rmid === RM_SMGR_ID) return SMGR_NAMES[op];
  if (rmid === RM_CLOG_ID) return CLOG_NAMES[op];
  return undefined;
}

/** btree_identify (nbtdesc.c). */
const BTREE_NAMES: Record<number, string> = {
  0: "INSERT_LEAF",
  16: "INSERT_UPPER",
  32: "INSERT_META",
  48: "SPLIT_L",
  64: "SPLIT_R",
  80: "INSERT_POST",
  96: "DEDUP",
  112: "DELETE",
  128: "UNLINK_PAGE",
  144: "UNLINK_PAGE_META",
  160: "NEWROOT",
  176: "MARK_PAGE_HALFDEAD",
  192: "VACUUM",
  208: "REUSE_PAGE",
  224: "META_CLEANUP",
};

/**
 * btree_desc (nbtdesc.c) for the records pgsim writes: insertions, splits, dedup passes, simple
 * deletions and new roots, and VACUUM's (vacuum, half-dead, unlink, reuse, metapage cleanup).
 */
function btreeDesc(record: DecodedXLogRecord): string {
  const d = record.mainData;
  const u16 = (o: number) => d[o]! | (d[o + 1]! << 8);
  const u32 = (o: number) =>
    (d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24)) >>> 0;
  switch (record.header.info & 0xf0) {
    case 0x00:
    case 0x10:
    case 0x20:
    case 0x50:
      return `off ${u16(0)}`;
    case 0x30:
    case 0x40:
      return `level ${u32(0)}, firstrightoff ${u16(4)}, newitemoff ${u16(6)}, postingoff ${u16(8)}`;
    case 0x60:
      return `nintervals ${u16(0)}`;
    case 0x70:
      return `latestRemovedXid ${u32(0)}; ndeleted ${u16(4)}; nupdated ${u16(6)}`;
    case 0xa0:
      return `lev ${u32(4)}`;
    case 0xc0:
      return `ndeleted ${u16(0)}; nupdated ${u16(2)}`;
    case 0xb0:
      return `topparent ${u32(16)}; leaf ${u32(4)}; left ${u32(8)}; right ${u32(12)}`;
    case 0x80:
    case 0x90:
      return (
        `left ${u32(0)}; right ${u32(4)}; level ${u32(8)}; safexid ${u32(20)}:${u32(16)}; ` +
        `leafleft ${u32(24)}; leafright ${u32(28)}; leaftopparent ${u32(32)}`
      );
    case 0xd0:
      return `rel ${u32(0)}/${u32(4)}/${u32(8)}; latestRemovedXid ${u32(20)}:${u32(16)}`;
    case 0xe0: {
      const b = record.blocks.find((x) => x.id === 0)?.data;
      if (b === undefined || b.length < 24) return "";
      const n = (b[20]! | (b[21]! << 8) | (b[22]! << 16) | (b[23]! << 24)) >>> 0;
      return `last_cleanup_num_delpages ${n}`;
    }
    default:
      return "";
  }
}

/** smgr_identify and clog_identify. */
const SMGR_NAMES: Record<number, string> = { 16: "CREATE", 32: "TRUNCATE" };
const CLOG_NAMES: Record<number, string> = { 0: "ZEROPAGE", 16: "TRUNCATE" };
const FORK_SUFFIX = ["", "_fsm", "_vm", "_init"];

/** smgr_desc: the relation file (and the new size) of a storage record. */
function smgrDesc(info: number, data: Uint8Array): string {
  const op = info & ~XLR_INFO_MASK;
  if (op === XLOG_SMGR_CREATE) {
    const { rel, fork } = decodeSmgrCreate(data);
    return `${relPath(rel)}${FORK_SUFFIX[fork] ?? ""}`;
  }
  if (op === XLOG_SMGR_TRUNCATE) {
    const { rel, nblocks, flags } = decodeSmgrTruncate(data);
    return `${relPath(rel)} to ${nblocks} blocks flags ${flags}`;
  }
  return "";
}

/** relpathperm(rnode, MAIN_FORKNUM). */
function relPath(r: { spcOid: number; dbOid: number; relNumber: number }): string {
  if (r.spcOid === 1664) return `global/${r.relNumber}`;
  if (r.spcOid === 1663) return `base/${r.dbOid}/${r.relNumber}`;
  return `pg_tblspc/${r.spcOid}/PG_15_202209061/${r.dbOid}/${r.relNumber}`;
}

const USECS_PER_SEC = 1_000_000n;
const POSTGRES_EPOCH_UNIX_SEC = 946_684_800n;

/**
 * timestamptz_to_str as pg_waldump prints it, in UTC: "2026-12-01 20:53:21.596597 UTC".
 */
export function timestampTzToString(ts: bigint): string {
  // pg_waldump truncates toward zero for the seconds and prints dt % 1e6 for the fraction.
  const secs = ts / USECS_PER_SEC + POSTGRES_EPOCH_UNIX_SEC;
  const frac = ts % USECS_PER_SEC;
  const d = new Date(Number(secs) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${date} ${time}.${String(frac).padStart(6, "0")} UTC`;
}

function xactDesc(record: DecodedXLogRecord): string {
  const info = record.header.info;
  const op = info & XLOG_XACT_OPMASK;
  if (op !== XLOG_XACT_COMMIT && op !== XLOG_XACT_ABORT) return "";
  const parsed = parseXactCompletion(info, record.mainData);
  let s = "";
  if (parsed.twophaseXid !== undefined) s += `${parsed.twophaseXid}: `;
  s += timestampTzToString(parsed.xactTime);
  if ((parsed.rels?.length ?? 0) > 0) {
    s += "; rels:";
    for (const r of parsed.rels ?? []) s += ` ${relPath(r)}`;
  }
  if ((parsed.subxacts?.length ?? 0) > 0) {
    s += "; subxacts:";
    for (const x of parsed.subxacts ?? []) s += ` ${x}`;
  }
  if (op === XLOG_XACT_COMMIT) {
    const flags = parsed.completionFlags ?? 0;
    if ((flags & XACT_COMPLETION_APPLY_FEEDBACK) !== 0) s += "; apply_feedback";
    if ((flags & XACT_COMPLETION_FORCE_SYNC_COMMIT) !== 0) s += "; sync";
  }
  return s;
}

function xlogDesc(record: DecodedXLogRecord): string {
  const op = record.header.info & ~XLR_INFO_MASK;
  if (op === XLOG_CHECKPOINT_SHUTDOWN || op === XLOG_CHECKPOINT_ONLINE) {
    const c = decodeCheckPoint(record.mainData);
    return (
      `redo ${formatLsn(c.redo)}; tli ${c.thisTimeLineID}; prev tli ${c.prevTimeLineID}; ` +
      `fpw ${c.fullPageWrites ? "true" : "false"}; xid ${c.nextXid >> 32n}:${c.nextXid & 0xffffffffn}; ` +
      `oid ${c.nextOid}; multi ${c.nextMulti}; offset ${c.nextMultiOffset}; ` +
      `oldest xid ${c.oldestXid} in DB ${c.oldestXidDB}; oldest multi ${c.oldestMulti} in DB ${c.oldestMultiDB}; ` +
      `oldest/newest commit timestamp xid: ${c.oldestCommitTsXid}/${c.newestCommitTsXid}; ` +
      `oldest running xid ${c.oldestActiveXid}; ${op === XLOG_CHECKPOINT_SHUTDOWN ? "shutdown" : "online"}`
    );
  }
  if (op === 0x30 && record.mainData.length >= 4) {
    const d = record.mainData;
    return String((d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0);
  }
  return "";
}

/** rm_desc: the details after the record type's name. */
export function rmgrDesc(record: DecodedXLogRecord): string {
  const { rmid, info } = record.header;
  if (rmgrIdIsCustom(rmid)) return `rmid: ${rmid}`;
  if (rmid === RM_XLOG_ID) return xlogDesc(record);
  if (rmid === RM_XACT_ID) return xactDesc(record);
  if (rmid === RM_HEAP_ID) return heapDesc(info, record.mainData);
  if (rmid === RM_HEAP2_ID) return heap2Desc(info, record.mainData);
  if (rmid === RM_BTREE_ID) return btreeDesc(record);
  if (rmid === RM_SMGR_ID) return smgrDesc(info, record.mainData);
  if (rmid === RM_CLOG_ID) return clogDesc(info, record.mainData);
  return "";
}

/** %02X. */
function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, "0");
}

/** out_infobits: each xmax bit's name followed by a space. */
function outInfobits(infobits: number): string {
  let s = "";
  if ((infobits & XLHL_XMAX_IS_MULTI) !== 0) s += "IS_MULTI ";
  if ((infobits & XLHL_XMAX_LOCK_ONLY) !== 0) s += "LOCK_ONLY ";
  if ((infobits & XLHL_XMAX_EXCL_LOCK) !== 0) s += "EXCL_LOCK ";
  if ((infobits & XLHL_XMAX_KEYSHR_LOCK) !== 0) s += "KEYSHR_LOCK ";
  if ((infobits & XLHL_KEYS_UPDATED) !== 0) s += "KEYS_UPDATED ";
  return s;
}

/** heap_desc. */
function heapDesc(info: number, data: Uint8Array): string {
  switch (info & XLOG_HEAP_OPMASK) {
    case XLOG_HEAP_INSERT: {
      const x = decodeXlHeapInsert(data);
      return `off ${x.offnum} flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP_DELETE: {
      const x = decodeXlHeapDelete(data);
      return `off ${x.offnum} flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    case XLOG_HEAP_UPDATE:
    case XLOG_HEAP_HOT_UPDATE: {
      const x = decodeXlHeapUpdate(data);
      return (
        `off ${x.oldOffnum} xmax ${x.oldXmax} flags 0x${hex2(x.flags)} ` +
        `${outInfobits(x.oldInfobitsSet)}; new off ${x.newOffnum} xmax ${x.newXmax}`
      );
    }
    case XLOG_HEAP_TRUNCATE: {
      // xl_heap_truncate: dbId u32, nrelids u32, flags u8, 3 pad bytes, relids[] u32.
      const flags = data[8] ?? 0;
      const nrelids = data.length >= 8 ? readUint32(data, 4) : 0;
      let s = "";
      if ((flags & 0x01) !== 0) s += "cascade ";
      if ((flags & 0x02) !== 0) s += "restart_seqs ";
      s += `nrelids ${nrelids} relids`;
      for (let i = 0; i < nrelids && 12 + 4 * i + 4 <= data.length; i++) {
        s += ` ${readUint32(data, 12 + 4 * i)}`;
      }
      return s;
    }
    case XLOG_HEAP_CONFIRM:
    case XLOG_HEAP_INPLACE:
      return `off ${decodeXlHeapOffnum(data)}`;
    case XLOG_HEAP_LOCK: {
      const x = decodeXlHeapLock(data);
      return `off ${x.offnum}: xid ${x.xid}: flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    default:
      return "";
  }
}

/** heap2_desc. */
function heap2Desc(info: number, data: Uint8Array): string {
  switch (info & XLOG_HEAP_OPMASK) {
    case XLOG_HEAP2_PRUNE: {
      const x = decodeXlHeapPrune(data);
      return `latestRemovedXid ${x.latestRemovedXid} nredirected ${x.nredirected} ndead ${x.ndead}`;
    }
    case XLOG_HEAP2_VACUUM:
      return `nunused ${decodeXlHeapVacuum(data).nunused}`;
    case XLOG_HEAP2_FREEZE_PAGE: {
      const x = decodeXlHeapFreezePage(data);
      return `cutoff xid ${x.cutoffXid} ntuples ${x.ntuples}`;
    }
    case XLOG_HEAP2_VISIBLE: {
      const x = decodeXlHeapVisible(data);
      return `cutoff xid ${x.cutoffXid} flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_MULTI_INSERT: {
      const x = decodeXlHeapMultiInsert(data, true);
      return `${x.ntuples} tuples flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_LOCK_UPDATED: {
      const x = decodeXlHeapLock(data);
      return `off ${x.offnum}: xmax ${x.xid}: flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    case XLOG_HEAP2_NEW_CID: {
      // xl_heap_new_cid: top_xid, cmin, cmax, combocid (u32 each), target_node (3 × u32),
      // target_tid (block hi/lo u16, offset u16).
      if (data.length < 34) return "";
      const block = (readUint16(data, 28) << 16) | readUint16(data, 30);
      return (
        `rel ${readUint32(data, 16)}/${readUint32(data, 20)}/${readUint32(data, 24)}; ` +
        `tid ${block >>> 0}/${readUint16(data, 32)}; ` +
        `cmin: ${readUint32(data, 4)}, cmax: ${readUint32(data, 8)}, combo: ${readUint32(data, 12)}`
      );
    }
    default:
      return "";
  }
}

/**
 * XLogRecGetBlockRefInfo: the block references — short (`, blkref #0: rel 1663/5/16384 blk 0
 * FPW`) or detailed, one tab-indented line each (`blkref #0: rel 1663/5/16384 fork main blk 0
 * (FPW); hole: offset: 32, length: 8096`).
 */
export function blockRefInfo(record: DecodedXLogRecord, detailed: boolean): string {
  let s = "";
  for (const b of record.blocks) {
    const rel = `${b.rel.spcOid}/${b.rel.dbOid}/${b.rel.relNumber}`;
    if (detailed) {
      s += `\tblkref #${b.id}: rel ${rel} fork ${FORK_NAMES[b.fork] ?? String(b.fork)} blk ${b.block}`;
      if (b.image !== null) {
        s += ` (FPW${b.image.apply ? "" : " for WAL verification"}); hole: offset: ${b.image.holeOffset}, length: ${b.image.holeLength}`;
      }
      s += "\n";
    } else {
      s += `, blkref #${b.id}: rel ${rel}`;
      if (b.fork !== 0) s += ` fork ${FORK_NAMES[b.fork] ?? String(b.fork)}`;
      s += ` blk ${b.block}`;
      if (b.image !== null) s += b.image.apply ? " FPW" : " FPW for WAL verification";
    }
  }
  return s;
}

/**
 * The text pg_waldump prints for a record (without the final newline): one line, or with
 * `detailed` (pg_waldump -b) the record line followed by one line per block reference.
 */
export function formatWalDumpRecord(
  record: DecodedXLogRecord,
  options: { readonly detailed?: boolean } = {},
): string {
  const { recLen } = xlogRecGetLen(record);
  const h = record.header;
  const id = rmgrIdentify(h.rmid, h.info);
  const name = (rmgrName(h.rmid) ?? `${h.rmid}`).padEnd(11, " ");
  let s =
    `rmgr: ${name} len (rec/tot): ${String(recLen).padStart(6)}/${String(h.totLen).padStart(6)}, ` +
    `tx: ${String(h.xid).padStart(10)}, lsn: ${formatLsnPadded(record.lsn)}, prev ${formatLsnPadded(h.prev)}, ` +
    (id === undefined
      ? `desc: UNKNOWN (${(h.info & ~XLR_INFO_MASK).toString(16)}) `
      : `desc: ${id} `) +
    rmgrDesc(record);
  if (options.detailed === true) {
    const blocks = blockRefInfo(record, true);
    if (blocks !== "") s += `\n${blocks.slice(0, -1)}`;
  } else {
    s += blockRefInfo(record, false);
  }
  return s;
}
