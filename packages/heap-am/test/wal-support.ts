/**
 * Test support for the heap's WAL: turns logging on for a Database's backends, replays the WAL
 * with the heap's redo routines onto a fresh buffer pool, and compares the replayed pages with
 * the pages the heap produced.
 *
 * Until Database creates its own WAL (the lead's wiring of issue 13), `enableWal` gives each
 * backend's TableAmContext a private XLogWriter (the agreed `ctx.xlog` interface) — a test-only
 * path: nothing in `src/` depends on it.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type BufferPool,
  createBufferPool,
  ForkNumber,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import { heap2Redo, heapMask, heapRedo } from "../src/access/heap/heapam-redo.js";
import { VisibilityMap } from "../src/access/heap/visibilitymap.js";
import type { XLogBackend } from "../src/access/table/tableam.js";
import { XLOG_FPI, XLOG_FPI_FOR_HINT } from "../src/access/transam/pg-control.js";
import {
  RM_HEAP_ID,
  RM_HEAP2_ID,
  RM_SMGR_ID,
  RM_XACT_ID,
  RM_XLOG_ID,
} from "../src/access/transam/rmgr.js";
import { XLogWriter } from "../src/access/transam/xlog.js";
import { XLogInsertState } from "../src/access/transam/xloginsert.js";
import { type DecodedXLogRecord, XLogReader } from "../src/access/transam/xlogreader.js";
import { XLR_INFO_MASK } from "../src/access/transam/xlogrecord.js";
import {
  makeRedoContext,
  type RedoContext,
  xlogReadBufferForRedo,
} from "../src/access/transam/xlogutils.js";
import {
  HEAP_COMBOCID,
  HEAP_XMAX_COMMITTED,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
} from "../src/include/access/htup-details.js";
import { readUint16, readUint32, writeUint16, writeUint32 } from "../src/include/port/le-bytes.js";
import type { Database } from "../src/index.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdHasStorage,
  itemIdIsNormal,
  PD_HAS_FREE_LINES,
  PD_PAGE_FULL,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageIsNew,
} from "../src/storage/page/bufpage.js";

/** Where the test WAL starts: the first record position of segment 1, as after initdb. */
export const WAL_START = 0x1000028n;

const dirs: string[] = [];

export function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** The WAL a test writes: the writer, the backend handles, the directory. */
export interface TestWal extends XLogBackend {
  readonly walDir: string;
  /** A checkpoint's effect on logging: the redo pointer moves to the insert position. */
  checkpoint(): void;
  /** XLogFlush of everything inserted, then every record from the start but commits and aborts. */
  records(): DecodedXLogRecord[];
  /** The same with the transactions' commit and abort records. */
  allRecords(): DecodedXLogRecord[];
}

/**
 * Turns WAL logging on for the given backends (each gets `ctx.xlog`), on one private
 * XLogWriter in a new directory. `redoRecPtr` defaults to the start: every page not yet logged
 * gets a full-page image on its first logged change, as after a checkpoint taken just before.
 */
export function enableWal(
  dbs: readonly Database[],
  options: { readonly logHintBits?: boolean; readonly walDir?: string } = {},
): TestWal {
  const walDir = options.walDir ?? path.join(tempDir("pgsim-heapwal-"), "pg_wal");
  const wal = XLogWriter.open({
    walDir,
    systemIdentifier: 0x7000_0000_0000_0042n,
    startLsn: WAL_START,
    redoRecPtr: WAL_START,
    walSyncMethod: "off",
  });
  const ins = new XLogInsertState();
  const backend: XLogBackend = { wal, ins, logHintBits: options.logHintBits === true };
  // Each backend its own attachment and record builder, as a database's backends have (closing
  // one backend must not close the WAL for the others or for `records`).
  for (const db of dbs) {
    (db as unknown as { ctx: { xlog?: XLogBackend } }).ctx.xlog = {
      wal: XLogWriter.attach(wal.shared),
      ins: new XLogInsertState(),
      logHintBits: options.logHintBits === true,
    };
  }
  return {
    ...backend,
    walDir,
    checkpoint() {
      wal.setRedoRecPtr(wal.getInsertRecPtr());
    },
    records() {
      return this.allRecords().filter((r) => r.header.rmid !== RM_XACT_ID);
    },
    allRecords() {
      if (wal.getInsertRecPtr() === WAL_START) return [];
      wal.flush(wal.getInsertEndRecPtr());
      const reader = new XLogReader({ walDir, systemIdentifier: wal.systemIdentifier });
      try {
        const { records, end } = reader.readAll(WAL_START);
        if (end.error !== null && !/invalid record length .*got 0/.test(end.error.message)) {
          throw end.error;
        }
        return records;
      } finally {
        reader.close();
      }
    },
  };
}

/** Turns logging off again (the backends' WAL handles removed; the writer closed). */
export function disableWal(dbs: readonly Database[], wal: TestWal): void {
  for (const db of dbs) {
    (db as unknown as { ctx: { xlog?: XLogBackend } }).ctx.xlog = undefined;
  }
  wal.wal.close();
}

/** Every page of a relation fork, as the pool has it now (copies). */
export function forkPages(pool: BufferPool, rel: RelFileLocator, fork: number): Uint8Array[] {
  if (!pool.relationExists(rel, fork)) return [];
  const n = pool.nblocks(rel, fork);
  const out: Uint8Array[] = [];
  for (let b = 0; b < n; b++) {
    const buf = pool.readBuffer(rel, fork, b);
    pool.lockBuffer(buf, "share");
    out.push(pool.bufferGetPage(buf).slice());
    pool.unlockReleaseBuffer(buf);
  }
  return out;
}

/** Every page of a table's main fork, FSM and VM (copies), to compare two runs byte for byte. */
export function snapshotForks(pool: BufferPool, rel: RelFileLocator): Record<string, Uint8Array[]> {
  return {
    main: forkPages(pool, rel, ForkNumber.MAIN),
    fsm: forkPages(pool, rel, ForkNumber.FSM),
    vm: forkPages(pool, rel, ForkNumber.VISIBILITYMAP),
  };
}

/**
 * The first difference between two `snapshotForks`, in words (`labels` name the two sides), or
 * undefined when they are byte-identical.
 */
export function firstForkDifference(
  a: Record<string, Uint8Array[]>,
  b: Record<string, Uint8Array[]>,
  labels: readonly [string, string],
): string | undefined {
  for (const fork of Object.keys(a)) {
    const pa = a[fork]!;
    const pb = b[fork] ?? [];
    if (pa.length !== pb.length) return `${fork}: ${pa.length} blocks vs ${pb.length}`;
    for (let blk = 0; blk < pa.length; blk++) {
      const x = pa[blk]!;
      const y = pb[blk]!;
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== y[i]) {
          return `${fork} block ${blk} byte ${i}: ${x[i]} (${labels[0]}) vs ${y[i]} (${labels[1]})`;
        }
      }
    }
  }
  return undefined;
}

/**
 * xlog_redo's part for full-page-image records (XLOG_FPI, XLOG_FPI_FOR_HINT): every block's
 * image restored. The lead's recovery loop does this for the XLOG resource manager.
 */
function xlogFpiRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  for (const b of record.blocks) {
    if (b.image === null) continue;
    const r = xlogReadBufferForRedo(ctx, record, b.id);
    if (r.action !== "restored") throw new Error(`XLOG_FPI block ${b.id} was not restored`);
    ctx.pool.unlockReleaseBuffer(r.buffer);
  }
}

/** XLOG_SMGR_TRUNCATE's info and flags (storage_xlog.h). */
export const XLOG_SMGR_TRUNCATE = 0x20;
const SMGR_TRUNCATE_HEAP = 0x01;
const SMGR_TRUNCATE_VM = 0x02;
const SMGR_TRUNCATE_FSM = 0x04;

/**
 * smgr_redo's XLOG_SMGR_TRUNCATE (xl_smgr_truncate: blkno, RelFileNode, flags): the main fork,
 * the VM (visibilitymap_prepare_truncate) and the FSM truncated as VACUUM truncated them, and the
 * invalid pages past the end forgotten. The storage resource manager is the lead's part of issue
 * 13; the tests replay PostgreSQL's own truncations with this.
 */
function smgrTruncateRedo(ctx: RedoContext, record: DecodedXLogRecord): void {
  const d = record.mainData;
  const blkno = readUint32(d, 0);
  const rel = { spcOid: readUint32(d, 4), dbOid: readUint32(d, 8), relNumber: readUint32(d, 12) };
  const flags = readUint32(d, 16);
  const pool = ctx.pool;
  if (!pool.relationExists(rel, ForkNumber.MAIN)) pool.createRelation(rel, ForkNumber.MAIN);
  if ((flags & SMGR_TRUNCATE_HEAP) !== 0) {
    if (pool.nblocks(rel, ForkNumber.MAIN) > blkno) {
      pool.truncateRelation(rel, ForkNumber.MAIN, blkno);
    }
    ctx.invalidPages.forget(rel, ForkNumber.MAIN, blkno);
  }
  if ((flags & SMGR_TRUNCATE_FSM) !== 0) ctx.fsm.truncate(rel, blkno);
  if ((flags & SMGR_TRUNCATE_VM) !== 0) new VisibilityMap(pool).truncate(rel, blkno);
}

/**
 * Replays records through heapRedo / heap2Redo (and XLOG_FPI, and PostgreSQL's
 * XLOG_SMGR_TRUNCATE); commits and aborts change no page and are passed over; any other record
 * is an error.
 */
export function replay(ctx: RedoContext, records: readonly DecodedXLogRecord[]): void {
  for (const rec of records) {
    const { rmid, info } = rec.header;
    const op = info & ~XLR_INFO_MASK;
    if (rmid === RM_HEAP_ID) heapRedo(ctx, rec);
    else if (rmid === RM_HEAP2_ID) heap2Redo(ctx, rec);
    else if (rmid === RM_XLOG_ID && (op === XLOG_FPI || op === XLOG_FPI_FOR_HINT))
      xlogFpiRedo(ctx, rec);
    else if (rmid === RM_SMGR_ID && op === XLOG_SMGR_TRUNCATE) smgrTruncateRedo(ctx, rec);
    else if (rmid === RM_XACT_ID) continue;
    else throw new Error(`unexpected record: rmid ${rmid} info 0x${info.toString(16)}`);
  }
}

/** A fresh disk-backed pool with no relation files, and a redo context on it. */
export function freshRedoTarget(options: { readonly logHintBits?: boolean } = {}): RedoContext {
  const pool = createBufferPool({
    variant: "disk",
    bufferCount: 512,
    dataDir: tempDir("pgsim-heapredo-"),
  });
  return makeRedoContext(pool, options);
}

const PD_CHECKSUM = 8;
/** Heap blocks per visibility map page (HEAPBLOCKS_PER_PAGE). */
const VM_HEAPBLOCKS_PER_PAGE = 32672;
const PD_FLAGS = 10;
const PD_PRUNE_XID = 20;
const T_CID = 8;
const T_INFOMASK = 20;

/**
 * What redo does not reproduce and the comparison therefore ignores — narrower than heap_mask
 * (which `heapMask` implements and the tests also apply):
 * - pd_checksum (written only into write copies when checksums are on);
 * - pd_prune_xid, PD_PAGE_FULL and PD_HAS_FREE_LINES (hints, not replayed);
 * - the free space between pd_lower and pd_upper, and the padding after each item up to its
 *   MAXALIGNed length (old bytes on the primary, zeros in a restored image);
 * - in normal tuples: the hint bits XMIN_COMMITTED / XMIN_INVALID (unless xmin is frozen, which
 *   is logged), XMAX_COMMITTED / XMAX_INVALID; t_cid and HEAP_COMBOCID (redo sets
 *   FirstCommandId).
 * pd_lsn, PD_ALL_VISIBLE, every other infomask bit, xmin, xmax, t_ctid, line pointers and tuple
 * data are compared.
 */
export function strictMask(page: Uint8Array): Uint8Array {
  const p = page.slice();
  if (pageIsNew(p)) return p;
  writeUint16(p, PD_CHECKSUM, 0);
  writeUint16(p, PD_FLAGS, readUint16(p, PD_FLAGS) & ~(PD_PAGE_FULL | PD_HAS_FREE_LINES));
  writeUint32(p, PD_PRUNE_XID, 0);
  const lower = readUint16(p, 12);
  const upper = readUint16(p, 14);
  if (lower <= upper) p.fill(0, lower, upper);
  const maxoff = pageGetMaxOffsetNumber(p);
  for (let off = 1; off <= maxoff; off++) {
    const lp = pageGetItemId(p, off);
    const tup = itemIdGetOffset(lp);
    if (itemIdIsNormal(lp)) {
      let infomask = readUint16(p, tup + T_INFOMASK);
      if ((infomask & HEAP_XMIN_FROZEN) !== HEAP_XMIN_FROZEN) {
        infomask &= ~(HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID);
      }
      infomask &= ~(HEAP_XMAX_COMMITTED | HEAP_XMAX_INVALID | HEAP_COMBOCID);
      writeUint16(p, tup + T_INFOMASK, infomask);
      writeUint32(p, tup + T_CID, 0);
    }
    if (itemIdHasStorage(lp)) {
      const len = itemIdGetLength(lp);
      p.fill(0, tup + len, tup + ((len + 7) & ~7));
    }
  }
  return p;
}

/** heap_mask applied to a copy. */
export function pgHeapMask(page: Uint8Array, block: number): Uint8Array {
  const p = page.slice();
  heapMask(p, block);
  return p;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** The main fork's and the visibility map's pages of one relation. */
export interface RelationPages {
  readonly main: readonly Uint8Array[];
  readonly vm: readonly Uint8Array[];
}

/** The main fork and VM pages of `rel` in `pool`. */
export function relationPages(pool: BufferPool, rel: RelFileLocator): RelationPages {
  return {
    main: forkPages(pool, rel, ForkNumber.MAIN),
    vm: forkPages(pool, rel, ForkNumber.VISIBILITYMAP),
  };
}

/**
 * Differences between the heap's pages and the replayed ones (empty when they agree): the main
 * fork under `strictMask` and heap_mask, the VM fork byte for byte but pd_checksum. The VM may
 * have trailing pages the replay never touched (VACUUM extends the map without WAL, as
 * vm_extend does): those must hold no bits and no LSN. With `truncatedWithoutWal`, the
 * replayed main fork may be longer than the primary's, and the VM bits of the blocks past the
 * primary's end are not compared (see the comments inside).
 */
export function compareReplay(
  primary: BufferPool,
  replayed: BufferPool,
  rel: RelFileLocator,
  name = "t",
  options: { readonly truncatedWithoutWal?: boolean } = {},
): string[] {
  return comparePages(relationPages(primary, rel), relationPages(replayed, rel), name, options);
}

/** `compareReplay` on pages already read (e.g. PostgreSQL's, by get_raw_page). */
export function comparePages(
  primary: RelationPages,
  replayed: RelationPages,
  name: string,
  options: { readonly truncatedWithoutWal?: boolean } = {},
): string[] {
  const out: string[] = [];
  const a = primary.main;
  const b = replayed.main;
  // A VACUUM that truncated the relation wrote no XLOG_SMGR_TRUNCATE yet (storage records are
  // not the heap's): the replayed file keeps the blocks past the primary's end.
  const lengthsAgree =
    options.truncatedWithoutWal === true ? a.length <= b.length : a.length === b.length;
  if (!lengthsAgree) out.push(`${name}: ${a.length} blocks, replayed ${b.length}`);
  for (let blk = 0; blk < Math.min(a.length, b.length); blk++) {
    const i = firstDifference(strictMask(a[blk]!), strictMask(b[blk]!));
    if (i >= 0) {
      out.push(
        `${name} block ${blk}: first difference at byte ${i}: ` +
          `heap 0x${a[blk]![i]!.toString(16)}, replayed 0x${b[blk]![i]!.toString(16)}`,
      );
    }
    if (firstDifference(pgHeapMask(a[blk]!, blk), pgHeapMask(b[blk]!, blk)) >= 0) {
      out.push(`${name} block ${blk}: differs under heap_mask`);
    }
  }
  const va = primary.vm;
  const vb = replayed.vm;
  if (vb.length > va.length && options.truncatedWithoutWal !== true) {
    out.push(`${name} vm: ${va.length} blocks, replayed ${vb.length}`);
  }
  // Without the truncation's redo (visibilitymap_prepare_truncate) the replayed map keeps the
  // bits of the heap blocks cut off: those are not compared.
  const keepBits = (page: Uint8Array, blk: number) => {
    if (options.truncatedWithoutWal !== true) return;
    for (
      let h = Math.max(a.length, blk * VM_HEAPBLOCKS_PER_PAGE);
      h < (blk + 1) * VM_HEAPBLOCKS_PER_PAGE;
      h++
    ) {
      const i = h - blk * VM_HEAPBLOCKS_PER_PAGE;
      const byte = 24 + (i >> 2);
      page[byte] = page[byte]! & ~(3 << (2 * (i & 3)));
    }
  };
  for (let blk = 0; blk < va.length; blk++) {
    const x = va[blk]!.slice();
    writeUint16(x, PD_CHECKSUM, 0);
    keepBits(x, blk);
    if (blk >= vb.length) {
      const empty =
        readUint32(x, 0) === 0 && readUint32(x, 4) === 0 && x.subarray(24).every((v) => v === 0);
      if (!empty) out.push(`${name} vm block ${blk}: not replayed, but holds bits or an LSN`);
      continue;
    }
    const y = vb[blk]!.slice();
    writeUint16(y, PD_CHECKSUM, 0);
    keepBits(y, blk);
    const i = firstDifference(x, y);
    if (i >= 0) out.push(`${name} vm block ${blk}: first difference at byte ${i}`);
  }
  return out;
}
