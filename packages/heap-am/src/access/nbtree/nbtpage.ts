/**
 * nbtree page initialisation and the metapage.
 *
 * Models: src/backend/access/nbtree/nbtpage.c (_bt_pageinit, _bt_initmetapage, _bt_getmeta's
 * checks as _bt_getroot / _bt_metaversion make them, _bt_checkpage).
 * _bt_getbuf(P_NEW) as `btAllocatePage`.
 * Entry points: `btPageInit`, `btInitMetapage`, `btReadMeta`, `btCheckPage`, `btAllocatePage`,
 * `btCheckSteps`, `btCachedRootStillValid`.
 * See also: ../../include/access/nbtree.ts (the layouts), nbtsort.ts (CREATE INDEX writes the
 * metapage last).
 */

import type { BufferId, BufferPool } from "@pgsim/buffer-manager";
import { ForkNumber } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { BLCKSZ } from "../../include/access/htup-details.js";
import {
  BT_META_PD_LOWER,
  type BTMetaPageData,
  BTP_DELETED,
  BTP_HALF_DEAD,
  BTP_META,
  BTREE_MAGIC,
  BTREE_MIN_VERSION,
  BTREE_VERSION,
  btPageGetFlags,
  btPageGetLevel,
  btPageGetNext,
  btPageGetPrev,
  btPageSetOpaque,
  P_NONE,
  readBtMeta,
  SizeOfBTPageOpaqueData,
  writeBtMeta,
} from "../../include/access/nbtree.js";
import { writeUint16 } from "../../include/port/le-bytes.js";
import {
  PD_LOWER_OFFSET,
  pageGetSpecial,
  pageInit,
  pageIsNew,
} from "../../storage/page/bufpage.js";

/** _bt_pageinit: PageInit with a 16-byte special space (all zero: the caller fills it). */
export function btPageInit(page: Uint8Array): void {
  pageInit(page, SizeOfBTPageOpaqueData);
}

/**
 * _bt_initmetapage: a fresh metapage for a tree whose root (= fast root) is `root` at `level`
 * (P_NONE, 0 for an empty index). pd_lower is set past BTMetaPageData so that a full-page image
 * keeps it.
 */
export function btInitMetapage(
  page: Uint8Array,
  root: number,
  level: number,
  allequalimage: boolean,
): void {
  btPageInit(page);
  writeBtMeta(page, {
    magic: BTREE_MAGIC,
    version: BTREE_VERSION,
    root,
    level,
    fastroot: root,
    fastlevel: level,
    lastCleanupNumDelpages: 0,
    lastCleanupNumHeapTuples: -1.0,
    allequalimage,
  });
  btPageSetOpaque(page, { prev: 0, next: 0, level: 0, flags: BTP_META, cycleid: 0 });
  writeUint16(page, PD_LOWER_OFFSET, BT_META_PD_LOWER);
}

/**
 * The metapage of index `indexName`, checked as _bt_getmeta does: PostgreSQL's errors "index
 * \"%s\" is not a btree" (bad magic) and "version mismatch in index \"%s\": file version %d,
 * current version %d, minimal supported version %d".
 */
export function btReadMeta(page: Uint8Array, indexName: string): BTMetaPageData {
  const meta = readBtMeta(page);
  if (meta.magic !== BTREE_MAGIC) {
    throw new PgsimError("index-corrupted", `index "${indexName}" is not a btree`);
  }
  if (meta.version < BTREE_MIN_VERSION || meta.version > BTREE_VERSION) {
    throw new PgsimError(
      "index-corrupted",
      `version mismatch in index "${indexName}": file version ${meta.version}, current version ${BTREE_VERSION}, minimal supported version ${BTREE_MIN_VERSION}`,
    );
  }
  return meta;
}

/**
 * _bt_checkpage: an all-zero page or one whose special space is not nbtree's is corruption, with
 * PostgreSQL's messages.
 */
export function btCheckPage(page: Uint8Array, indexName: string, block: number): void {
  if (pageIsNew(page)) {
    throw new PgsimError(
      "index-corrupted",
      `index "${indexName}" contains unexpected zero page at block ${block}`,
      { hint: "Please REINDEX it." },
    );
  }
  if (pageGetSpecial(page) !== BLCKSZ - SizeOfBTPageOpaqueData) {
    throw new PgsimError(
      "index-corrupted",
      `index "${indexName}" contains corrupted page at block ${block}`,
      { hint: "Please REINDEX it." },
    );
  }
}

/**
 * _bt_getbuf(rel, P_NEW, BT_WRITE): a new page for the index, returned pinned, exclusively locked
 * and initialised (`_bt_pageinit`; the caller fills the special space). Every page a split or a
 * new root needs comes from here.
 *
 * This is the extension half only: the recycling half (GetFreeIndexPage) is nbtvacuum.ts's
 * `btGetFreePage`, which the callers try first. As in PostgreSQL the new page is locked before
 * the relation extension lock is let go (the pool's "zero-and-lock" extension).
 */
export function btAllocatePage(
  pool: BufferPool,
  index: { readonly locator: Parameters<BufferPool["extend"]>[0] },
): BufferId {
  const buf = pool.extend(index.locator, ForkNumber.MAIN, { mode: "zero-and-lock" });
  btPageInit(pool.bufferGetPage(buf));
  return buf;
}

/**
 * A loop over an index's pages (a descent, moving right, searching a parent) ends: a corrupt
 * index, e.g. a cycle of right links, must not hang the backend. From the 64th step on, `steps`
 * is checked against `factor` × the index's size + 2; below that the size is not even read (the
 * loops this guards take a step or two).
 */
export function btCheckSteps(
  pool: BufferPool,
  index: { readonly locator: Parameters<BufferPool["nblocks"]>[0] },
  steps: number,
  what: string,
  factor = 1,
): void {
  if (steps >= 64) assert(steps <= factor * pool.nblocks(index.locator, ForkNumber.MAIN) + 2, what);
}

/**
 * _bt_getroot's check of a fast root taken from the backend's cached metapage (rd_amcache): the
 * copy may be stale, so the page must be live, at the cached level and alone on it.
 */
export function btCachedRootStillValid(page: Uint8Array, cached: BTMetaPageData): boolean {
  return (
    (btPageGetFlags(page) & (BTP_DELETED | BTP_HALF_DEAD)) === 0 &&
    btPageGetLevel(page) === cached.fastlevel &&
    btPageGetPrev(page) === P_NONE &&
    btPageGetNext(page) === P_NONE
  );
}
