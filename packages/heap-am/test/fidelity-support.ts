/**
 * Support for fidelity.test.ts: replaying SQL statement sequences through pgsim's API with the
 * access paths PostgreSQL's plans used (sequential scan, index scan, bitmap heap scan), and
 * reducing a relation's pages, free space map and visibility map — from the PostgreSQL 15
 * fixtures, from pgsim, or from PGlite — to one comparable form with transaction ids masked.
 */

import { ForkNumber } from "@pgsim/buffer-manager";
import type { Row, TID } from "../src/access/heap/heapam.js";
import {
  makeSlot,
  tableBeginScan,
  tableEndScan,
  tableIndexFetchTuple,
  tableScanGetNextSlot,
} from "../src/access/table/tableam.js";
import type { Database, DatabaseTransaction } from "../src/database.js";
import type { HeapPageItem } from "../src/inspect/heap-page-items.js";
import { vmBytesHex } from "../src/inspect/vm.js";
import { fsmPageContents } from "../src/storage/freespace/fsm-page.js";
import type { Datum } from "../src/utils/adt/type-codec.js";

// ---------------------------------------------------------------------------------------------
// Replaying statements

/** Values as the replays compare them (bigint and number alike). */
function sameValue(a: Datum | null | undefined, b: Datum | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  return typeof a === typeof b && String(a) === String(b);
}

/**
 * A btree index as far as the replays need one: its entries (key, heap TID) in key order, equal
 * keys in TID order (PostgreSQL 13+ btrees order duplicates by heap TID). Entries are added for
 * every insert and every non-HOT update, and never removed (no index vacuuming is replayed after
 * a lookup).
 */
export class IndexModel {
  private readonly entries: { key: Datum; tid: TID }[] = [];

  constructor(
    readonly name: string,
    /** Position of the indexed column in the row. */
    readonly column: number,
  ) {}

  insert(row: Row, tid: TID): void {
    const key = row[this.column];
    if (key === null || key === undefined) return;
    this.entries.push({ key, tid });
  }

  /** Entries whose key satisfies `match`, in index order (key, then TID). */
  lookup(match: (key: Datum) => boolean): TID[] {
    return this.entries
      .filter((e) => match(e.key))
      .sort((a, b) => {
        const ka = BigInt(a.key as number | bigint);
        const kb = BigInt(b.key as number | bigint);
        if (ka !== kb) return ka < kb ? -1 : 1;
        return a.tid.block - b.tid.block || a.tid.offset - b.tid.offset;
      })
      .map((e) => e.tid);
  }
}

/** UPDATE ... SET: the row with the columns at the given positions replaced. */
export function set(row: Row, changes: Record<number, Datum | null>): Row {
  return row.map((value, i) => (Object.hasOwn(changes, i) ? (changes[i] ?? null) : value));
}

/** What a replayed UPDATE, DELETE or SELECT ... FOR does with each row its scan returns. */
export type RowAction = (tx: DatabaseTransaction, tid: TID, row: Row) => void;

/**
 * One pgsim backend replaying a psql session: autocommit statements, explicit transactions,
 * and the scans PostgreSQL's plans did. Each replayed UPDATE keeps the table's modelled indexes
 * current (a new entry when the update was not HOT), as heap_update's caller does.
 */
export class Replay {
  readonly indexes: IndexModel[] = [];
  /** Columns covered by any index (hot_attrs). */
  indexedColumns: number[] = [];

  constructor(
    readonly db: Database,
    readonly table: string,
  ) {}

  /** One statement in its own transaction (psql's autocommit). */
  autocommit<T>(statement: (tx: DatabaseTransaction) => T): T {
    const tx = this.db.begin();
    const out = statement(tx);
    tx.commit();
    return out;
  }

  /** INSERT of rows, one heap_insert each (INSERT ... SELECT / VALUES: no bulk-insert state). */
  insert(tx: DatabaseTransaction, rows: Row[]): TID[] {
    return rows.map((row) => {
      const tid = tx.insert(this.table, row);
      for (const index of this.indexes) index.insert(row, tid);
      return tid;
    });
  }

  /** UPDATE of one row found by a scan; maintains the modelled indexes. */
  update(tx: DatabaseTransaction, tid: TID, oldRow: Row, newRow: Row): TID {
    const newTid = tx.update(this.table, tid, newRow);
    if (newTid === undefined)
      throw new Error(`update of (${tid.block},${tid.offset}) found no row`);
    const hot =
      newTid.block === tid.block &&
      this.indexedColumns.every((c) => sameValue(oldRow[c], newRow[c]));
    if (!hot) for (const index of this.indexes) index.insert(newRow, newTid);
    return newTid;
  }

  /**
   * A sequential scan feeding a ModifyTable or LockRows node: pages in order, each pruned
   * opportunistically and its visible tuples collected when the scan reaches it (page mode), and
   * each matching row acted on before the scan moves on — as PostgreSQL's executor pipelines it.
   */
  seqScan(tx: DatabaseTransaction, where: (row: Row) => boolean, action?: RowAction): number {
    const snapshot = tx.xact.beginStatement();
    const scan = tableBeginScan(this.db.table(this.table), snapshot, tx.xact);
    const slot = makeSlot();
    let n = 0;
    try {
      while (tableScanGetNextSlot(scan, slot)) {
        if (!where(slot.values)) continue;
        n++;
        action?.(tx, slot.tid!, slot.values);
      }
    } finally {
      tableEndScan(scan);
    }
    return n;
  }

  /**
   * A plain btree index scan feeding ModifyTable: each entry in index order is fetched through
   * its HOT chain (heap_hot_search_buffer) and the visible version acted on at once.
   */
  indexScan(
    tx: DatabaseTransaction,
    index: IndexModel,
    match: (key: Datum) => boolean,
    action: RowAction,
  ): number {
    const snapshot = tx.xact.beginStatement();
    const rel = this.db.table(this.table);
    let n = 0;
    for (const root of index.lookup(match)) {
      const slot = makeSlot();
      if (!tableIndexFetchTuple(rel, root, snapshot, tx.xact, slot)) continue;
      n++;
      action(tx, slot.tid!, slot.values);
    }
    return n;
  }

  /**
   * A bitmap heap scan: the matching index entries' TIDs sorted by block and offset; per block,
   * every TID's HOT chain is searched before the first row of that block is returned
   * (heapam_scan_bitmap_next_block), then the rows are acted on in that order.
   */
  bitmapScan(
    tx: DatabaseTransaction,
    index: IndexModel,
    match: (key: Datum) => boolean,
    action: RowAction,
  ): number {
    const snapshot = tx.xact.beginStatement();
    const rel = this.db.table(this.table);
    const tids = index
      .lookup(match)
      .sort((a, b) => a.block - b.block || a.offset - b.offset)
      .filter(
        (t, i, all) => i === 0 || t.block !== all[i - 1]!.block || t.offset !== all[i - 1]!.offset,
      );
    let n = 0;
    for (let i = 0; i < tids.length; ) {
      const block = tids[i]!.block;
      const found: { tid: TID; row: Row }[] = [];
      for (; i < tids.length && tids[i]!.block === block; i++) {
        const slot = makeSlot();
        if (tableIndexFetchTuple(rel, tids[i]!, snapshot, tx.xact, slot)) {
          found.push({ tid: slot.tid!, row: slot.values });
        }
      }
      for (const f of found) {
        n++;
        action(tx, f.tid, f.row);
      }
    }
    return n;
  }
}

// ---------------------------------------------------------------------------------------------
// The comparable state of a relation

/** A line pointer and its tuple with transaction ids replaced by labels (see `XidLabels`). */
export interface ComparableItem {
  lp: number;
  lp_flags: number;
  lp_off: number;
  lp_len: number;
  t_xmin: string | null;
  t_xmax: string | null;
  t_ctid: string | null;
  t_infomask2: number | null;
  t_infomask: number | null;
  t_hoff: number | null;
  t_bits: string | null;
  t_data: string | null;
}

export interface ComparableHeader {
  block: number;
  flags: number;
  lower: number;
  upper: number;
  special: number;
  pagesize: number;
  version: number;
  prune_xid: string;
}

/** What the fidelity tests compare: everything but xid values, cids, LSNs and checksums. */
export interface RelationState {
  forkBlocks: { main: number; fsm: number; vm: number };
  headers: ComparableHeader[];
  items: ComparableItem[][];
  freeSpace: { blkno: number; avail: number }[];
  visibility: { blkno: number; all_visible: boolean; all_frozen: boolean }[];
  /** pageinspect's fsm_page_contents of each FSM block. */
  fsmPages: string[];
  /** The bytes of each VM block after its header, trailing zeros left out. */
  vmPages: string[];
}

/** The raw material of a RelationState, xids unmasked. */
export interface RawRelation {
  forkBlocks: { main: number; fsm: number; vm: number };
  headers: {
    block: number;
    flags: number;
    lower: number;
    upper: number;
    special: number;
    pagesize: number;
    version: number;
    prune_xid: number;
  }[];
  items: RawItem[][];
  freeSpace: { blkno: number; avail: number }[];
  visibility: { blkno: number; all_visible: boolean; all_frozen: boolean }[];
  fsmPages: string[];
  vmPages: string[];
}

export interface RawItem {
  lp: number;
  lp_flags: number;
  lp_off: number;
  lp_len: number;
  t_xmin: number | null;
  t_xmax: number | null;
  t_ctid: string | null;
  t_infomask2: number | null;
  t_infomask: number | null;
  t_hoff: number | null;
  t_bits: string | null;
  t_data: string | null;
}

/**
 * Masking transaction ids without losing what they say: every distinct non-zero xid of the
 * relation (tuples' xmin and xmax, pages' pd_prune_xid) is replaced by its rank, "x1" for the
 * oldest. Zero stays "0". Equal xids get equal labels and order is kept, so "the old version's
 * xmax is the new version's xmin", "these rows came from one statement" and "prune_xid is the
 * oldest deleter" survive the mask, while the numbers themselves (which depend on everything
 * the cluster ran before) do not matter.
 */
export function maskXids(raw: RawRelation): RelationState {
  const xids = new Set<number>();
  for (const block of raw.items) {
    for (const it of block) {
      if (it.t_xmin) xids.add(it.t_xmin);
      if (it.t_xmax) xids.add(it.t_xmax);
    }
  }
  for (const h of raw.headers) if (h.prune_xid) xids.add(h.prune_xid);
  const rank = new Map([...xids].sort((a, b) => a - b).map((x, i) => [x, `x${i + 1}`]));
  const label = (x: number | null): string | null =>
    x === null ? null : x === 0 ? "0" : (rank.get(x) ?? "?");
  return {
    forkBlocks: raw.forkBlocks,
    headers: raw.headers.map((h) => ({ ...h, prune_xid: label(h.prune_xid)! })),
    items: raw.items.map((block) =>
      block.map((it) => ({ ...it, t_xmin: label(it.t_xmin), t_xmax: label(it.t_xmax) })),
    ),
    freeSpace: raw.freeSpace,
    visibility: raw.visibility,
    fsmPages: raw.fsmPages,
    vmPages: raw.vmPages,
  };
}

/** The fields of a heap_page_items row that are compared (t_field3, t_oid and names dropped). */
export function rawItem(it: {
  lp: number;
  lp_flags: number;
  lp_off: number;
  lp_len: number;
  t_xmin: number | string | null;
  t_xmax: number | string | null;
  t_ctid: string | null;
  t_infomask2: number | null;
  t_infomask: number | null;
  t_hoff: number | null;
  t_bits: string | null;
  t_data: string | null;
}): RawItem {
  const xid = (x: number | string | null) => (x === null ? null : Number(x));
  return {
    lp: it.lp,
    lp_flags: it.lp_flags,
    lp_off: it.lp_off,
    lp_len: it.lp_len,
    t_xmin: xid(it.t_xmin),
    t_xmax: xid(it.t_xmax),
    t_ctid: it.t_ctid,
    t_infomask2: it.t_infomask2,
    t_infomask: it.t_infomask,
    t_hoff: it.t_hoff,
    t_bits: it.t_bits,
    t_data: it.t_data,
  };
}

/** A fork of a pgsim table, copied out block by block under share locks. */
function forkPages(db: Database, table: string, fork: number): Uint8Array[] {
  const rel = db.table(table);
  const pool = db.pool;
  if (!pool.relationExists(rel.locator, fork)) return [];
  const pages: Uint8Array[] = [];
  for (let b = 0; b < pool.nblocks(rel.locator, fork); b++) {
    const buf = pool.readBuffer(rel.locator, fork, b);
    pool.lockBuffer(buf, "share");
    pages.push(pool.bufferGetPage(buf).slice());
    pool.unlockReleaseBuffer(buf);
  }
  return pages;
}

/** A pgsim table's state, through the Database introspection API. */
export function pgsimRelation(db: Database, table: string): RawRelation {
  const fsm = forkPages(db, table, ForkNumber.FSM);
  const vm = forkPages(db, table, ForkNumber.VISIBILITYMAP);
  return {
    forkBlocks: { main: db.nblocks(table), fsm: fsm.length, vm: vm.length },
    headers: db.pageHeaders(table).map((h) => ({
      block: h.block,
      flags: h.flags,
      lower: h.lower,
      upper: h.upper,
      special: h.special,
      pagesize: h.pagesize,
      version: h.version,
      prune_xid: h.prune_xid,
    })),
    items: db.pageItems(table).map((b) => b.items.map((it: HeapPageItem) => rawItem(it))),
    freeSpace: db.freeSpace(table),
    visibility: db.visibilityMap(table),
    fsmPages: fsm.map((p) => fsmPageContents(p)),
    vmPages: vm.map((p) => vmBytesHex(p)),
  };
}

/** HEAP_UPDATED: the tuple is the new version made by an UPDATE. */
const HEAP_UPDATED = 0x2000;

/**
 * The update links of a relation whose xids disagree: every normal tuple whose t_ctid points at
 * another normal tuple that is an UPDATE's new version must have that version's xmin as its xmax
 * (the updater made both). Returns the offending links as "(from) -> (to)".
 */
export function brokenUpdateLinks(state: RelationState): string[] {
  const byTid = new Map<string, ComparableItem>();
  state.items.forEach((block, blk) => {
    for (const it of block) byTid.set(`(${blk},${it.lp})`, it);
  });
  const broken: string[] = [];
  for (const [tid, it] of byTid) {
    if (it.lp_flags !== 1 || it.t_ctid === null || it.t_ctid === tid) continue;
    const next = byTid.get(it.t_ctid);
    if (next === undefined || next.lp_flags !== 1 || ((next.t_infomask ?? 0) & HEAP_UPDATED) === 0)
      continue;
    if (it.t_xmax !== next.t_xmin || it.t_xmax === "0") broken.push(`${tid} -> ${it.t_ctid}`);
  }
  return broken;
}

/** How many update links (t_ctid to another tuple) the relation has. */
export function updateLinkCount(state: RelationState): number {
  let n = 0;
  state.items.forEach((block, blk) => {
    for (const it of block) {
      if (it.lp_flags === 1 && it.t_ctid !== null && it.t_ctid !== `(${blk},${it.lp})`) n++;
    }
  });
  return n;
}
