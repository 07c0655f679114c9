/**
 * Page pruning: removing dead tuple versions from one heap page and collapsing HOT chains, done
 * opportunistically by any backend that reads the page, and by VACUUM.
 *
 * Models: src/backend/access/heap/pruneheap.c (heap_page_prune_opt, heap_page_prune, PruneState,
 * heap_prune_chain, heap_prune_record_prunable / _redirect / _dead / _unused,
 * heap_page_prune_execute).
 * Entry points: `heapPagePruneOpt`, `heapPagePrune`, `heapPagePruneExecute`.
 * See also: heapam-visibility.ts (HeapTupleSatisfiesVacuum), vacuumlazy.ts, bufpage.ts
 * (PageRepairFragmentation).
 *
 * Invariants (docs/reference/postgres-storage.md §D.18): a dead chain root becomes LP_DEAD (an
 * index entry may point at it) or LP_REDIRECT to the first surviving member; dead heap-only
 * members become LP_UNUSED at once; pruning never turns LP_DEAD into LP_UNUSED (only VACUUM
 * does); the FSM is not updated.
 *
 * WAL: a prune that changed line pointers is logged as XLOG_HEAP2_PRUNE (latestRemovedXid, the
 * redirects, dead and unused offsets) inside its critical section when the relation needs WAL;
 * a prune that only moved pd_prune_xid or cleared PD_PAGE_FULL is a hint, not logged.
 *
 * Differs from PostgreSQL: one horizon (the oldest xmin of any backend) instead of GlobalVisState
 * and OldestXmin.
 */

import type { BufferId } from "@pgsim/buffer-manager";
import {
  HEAP_HOT_UPDATED,
  HEAP_MOVED,
  HEAP_ONLY_TUPLE,
  HEAP_XMAX_INVALID,
  HEAP_XMIN_COMMITTED,
  HEAP_XMIN_FROZEN,
  HEAP_XMIN_INVALID,
  heapTupleHeaderGetCtidOffset,
  heapTupleHeaderGetInfomask,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
  heapTupleHeaderGetXvac,
} from "../../include/access/htup-details.js";
import {
  FrozenTransactionId,
  InvalidTransactionId,
  xidFollows,
  xidIsNormal,
  xidPrecedes,
} from "../../include/access/transam.js";
import { BLCKSZ } from "../../include/pg-config.js";
import {
  itemIdGetFlags,
  itemIdGetOffset,
  itemIdGetRedirect,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  MaxOffsetNumber,
  makeItemId,
  pageClearFull,
  pageGetHeapFreeSpace,
  pageGetItemIds,
  pageGetMaxOffsetNumber,
  pageGetPruneXid,
  pageIsFull,
  pageIsNew,
  pageRepairFragmentation,
  pageSetItemId,
  pageSetItemIdsTo,
  pageSetLsn,
  pageSetPruneXid,
} from "../../storage/page/bufpage.js";
import type { Relation } from "../../utils/cache/rel.js";
import { relationNeedsWal, type TableAmContext } from "../table/tableam.js";
import type { Transam } from "../transam/transam.js";
import type { Transaction } from "../transam/xact.js";
import {
  HTSV,
  type HTSVResult,
  heapTupleDeadAfter,
  heapTupleSatisfiesVacuumHorizon,
  type VisibilityContext,
} from "./heapam-visibility.js";
import { logHeapPrune } from "./heapam-xlog.js";
import { saveFreeSpace } from "./hio.js";

/** What one prune did. */
export interface PruneResult {
  /** Tuples removed: dead heap-only members, plus roots that were normal tuples. */
  ndeleted: number;
  /** Line pointers that became LP_DEAD. */
  nnewlpdead: number;
  /** Whether the page changed (and was compacted). */
  changed: boolean;
}

/**
 * heap_page_prune_opt: prune the page if it looks worthwhile and nobody else has it pinned.
 * The caller holds a pin and no lock. Never waits. `xact` is the caller's transaction.
 */
export function heapPagePruneOpt(
  ctx: TableAmContext,
  rel: Relation,
  buffer: BufferId,
  xact?: Transaction,
): void {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  // Unlocked reads of hints: a wrong answer only means pruning now or later.
  const pruneXid = pageGetPruneXid(page);
  if (!xidIsNormal(pruneXid)) return;
  // GlobalVisTestIsRemovableXid: usually answered without scanning the proc array (a page this
  // backend's own transaction just changed is not worth a look).
  if (!ctx.transam.isRemovableXid(pruneXid)) return;
  // RelationGetTargetPageFreeSpace, but at least a tenth of the page.
  const minFree = Math.max(saveFreeSpace(rel), Math.floor(BLCKSZ / 10));
  const worthIt = (): boolean => pageIsFull(page) || pageGetHeapFreeSpace(page) < minFree;
  if (!worthIt()) return;
  if (!pool.conditionalLockBufferForCleanup(buffer)) return;
  try {
    if (worthIt()) {
      const horizon = ctx.transam.oldestXmin();
      const { ndeleted, nnewlpdead } = heapPagePrune(ctx, rel, buffer, horizon, xact);
      // Report the tuples reclaimed: those that became LP_DEAD still need VACUUM, so they stay
      // counted as dead (pgstat_update_heap_dead_tuples).
      if (ndeleted > nnewlpdead) {
        ctx.pgstat?.relations.updateHeapDeadTuples(rel.def.relNumber, ndeleted - nnewlpdead);
      }
    }
  } finally {
    pool.unlockBuffer(buffer);
  }
}

/**
 * PruneState: what heap_page_prune records while it walks the page's HOT chains, applied to the
 * page at the end by heap_page_prune_execute.
 *
 * One instance, allocated once at load (PostgreSQL keeps the same arrays in a PruneState on the
 * stack): pruning is synchronous and never re-enters itself, and each worker thread has its own
 * module instance. heap_page_prune resets the counts before each use.
 */
interface PruneState {
  /** new_prune_xid: the oldest xmax that may make pruning worthwhile later; 0 if none. */
  newPruneXid: number;
  /** latestRemovedXid: the newest xid whose effects the removed tuples carried (for standbys). */
  latestRemovedXid: number;
  nredirected: number;
  ndead: number;
  nunused: number;
  /** redirected[]: (from, to) pairs of heap_prune_record_redirect. */
  readonly redirected: Int16Array;
  /** nowdead[]: line pointers that become LP_DEAD. */
  readonly nowdead: Int16Array;
  /** nowunused[]: line pointers that become LP_UNUSED. */
  readonly nowunused: Int16Array;
  /** marked[offnum]: already recorded as part of a chain; the outer loop skips it. */
  readonly marked: Uint8Array;
  /** htsv[offnum]: HeapTupleSatisfiesVacuum of each LP_NORMAL tuple, -1 for other items. */
  readonly htsv: Int8Array;
  /**
   * lp[offnum]: each line pointer word as it was when the prune began (pgsim only: PostgreSQL
   * reads them from the page again, which gives the same words — no line pointer changes until
   * heap_page_prune_execute, and the visibility checks write only hint bits).
   */
  readonly lp: Int32Array;
}

const pruneState: PruneState = {
  newPruneXid: InvalidTransactionId,
  latestRemovedXid: InvalidTransactionId,
  nredirected: 0,
  ndead: 0,
  nunused: 0,
  redirected: new Int16Array(2 * (MaxOffsetNumber + 1)),
  nowdead: new Int16Array(MaxOffsetNumber + 1),
  nowunused: new Int16Array(MaxOffsetNumber + 1),
  marked: new Uint8Array(MaxOffsetNumber + 1),
  htsv: new Int8Array(MaxOffsetNumber + 1),
  lp: new Int32Array(MaxOffsetNumber + 1),
};
/** chainitems[] of heap_prune_chain: the offsets of the chain being walked. */
const chainScratch = new Int16Array(MaxOffsetNumber + 1);

/**
 * heap_page_prune: the caller holds a cleanup lock. Computes every tuple's state once, walks each
 * HOT chain from its root (heap_prune_chain), which records redirects, dead and unused line
 * pointers, then applies them and compacts the page (heap_page_prune_execute), and logs what it
 * did (XLOG_HEAP2_PRUNE) when the relation needs WAL.
 */
export function heapPagePrune(
  ctx: TableAmContext,
  rel: Relation,
  buffer: BufferId,
  oldestXmin: number,
  xact?: Transaction,
): PruneResult {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  if (pageIsNew(page)) return { ndeleted: 0, nnewlpdead: 0, changed: false };
  const maxoff = pageGetMaxOffsetNumber(page);
  // The pruning backend's own transaction counts as its own (TransactionIdIsCurrentTransactionId
  // is global state in PostgreSQL): what it inserted and then deleted is DELETE_IN_PROGRESS, and
  // its xid becomes the page's pd_prune_xid.
  const vctx: VisibilityContext = { transam: ctx.transam, xact, hintsSet: false };
  const prstate = pruneState;
  prstate.newPruneXid = InvalidTransactionId;
  prstate.latestRemovedXid = InvalidTransactionId;
  prstate.nredirected = 0;
  prstate.ndead = 0;
  prstate.nunused = 0;
  // Every tuple's state, computed once (from the end, as PostgreSQL does), and every line
  // pointer word read once.
  const htsv = prstate.htsv;
  const lps = prstate.lp;
  pageGetItemIds(page, maxoff, lps);
  for (let off = maxoff; off >= 1; off--) {
    const lp = lps[off]!;
    htsv[off] =
      itemIdGetFlags(lp) === LP_NORMAL
        ? heapPruneSatisfiesVacuum(page, itemIdGetOffset(lp), oldestXmin, vctx)
        : -1;
  }
  const marked = prstate.marked;
  marked.fill(0, 0, maxoff + 1);

  let ndeleted = 0;
  for (let root = 1; root <= maxoff; root++) {
    // Items already processed as part of an earlier chain are skipped.
    if (marked[root]) continue;
    // Nothing to do if the slot is empty or already dead.
    const rootFlags = itemIdGetFlags(lps[root]!);
    if (rootFlags === LP_UNUSED || rootFlags === LP_DEAD) continue;
    ndeleted += heapPruneChain(page, root, maxoff, prstate, ctx.transam);
  }

  const changed = prstate.nredirected + prstate.ndead + prstate.nunused > 0;
  if (changed) {
    heapPagePruneExecute(
      page,
      prstate.redirected,
      prstate.nredirected,
      prstate.nowdead,
      prstate.ndead,
      prstate.nowunused,
      prstate.nunused,
    );
    pageSetPruneXid(page, prstate.newPruneXid);
    pageClearFull(page);
    pool.markBufferDirty(buffer);
    if (ctx.xlog !== undefined && relationNeedsWal(ctx, rel)) {
      const result = logHeapPrune(ctx.xlog.ins, ctx.xlog.wal, {
        rel: rel.locator,
        block: pool.bufferGetBlockNumber(buffer),
        page,
        latestRemovedXid: prstate.latestRemovedXid,
        redirected: prstate.redirected,
        nredirected: prstate.nredirected,
        nowdead: prstate.nowdead,
        ndead: prstate.ndead,
        nowunused: prstate.nowunused,
        nunused: prstate.nunused,
        xid: xact?.xid ?? InvalidTransactionId,
      });
      pageSetLsn(page, result.endLsn);
    }
  } else if (pageGetPruneXid(page) !== prstate.newPruneXid || pageIsFull(page)) {
    pageSetPruneXid(page, prstate.newPruneXid);
    pageClearFull(page);
    pool.markBufferDirtyHint(buffer);
  } else if (vctx.hintsSet) {
    pool.markBufferDirtyHint(buffer);
  }
  return { ndeleted, nnewlpdead: prstate.ndead, changed };
}

/**
 * heap_prune_satisfies_vacuum: HeapTupleSatisfiesVacuumHorizon, and a RECENTLY_DEAD tuple whose
 * `dead_after` precedes the horizon is DEAD.
 */
function heapPruneSatisfiesVacuum(
  page: Uint8Array,
  tup: number,
  oldestXmin: number,
  vctx: VisibilityContext,
): HTSVResult {
  const res = heapTupleSatisfiesVacuumHorizon(page, tup, vctx);
  if (res !== HTSV.RecentlyDead) return res;
  return xidPrecedes(heapTupleDeadAfter(), oldestXmin) ? HTSV.Dead : HTSV.RecentlyDead;
}

/**
 * heap_prune_chain: walks the HOT chain that starts at `root` (an LP_NORMAL or LP_REDIRECT line
 * pointer), following a redirect only at the start, and records what becomes of its members in
 * `prstate`. Returns the number of tuples it removes.
 *
 * A heap-only tuple is not a chain root: it is reached from its root, except when it is dead and
 * not updated, which is what an aborted HOT update leaves — nothing points at it any more. In a
 * chain, every member up to the last dead one goes (LP_UNUSED); the root then redirects to the
 * first survivor, or becomes LP_DEAD when none survives (an index entry may point at it).
 *
 * Each member's header fields are read once (t_infomask, t_infomask2, and t_xmax only when the
 * walk needs it) and passed on.
 */
function heapPruneChain(
  page: Uint8Array,
  root: number,
  maxoff: number,
  prstate: PruneState,
  transam: Transam,
): number {
  const htsv = prstate.htsv;
  const marked = prstate.marked;
  const lps = prstate.lp;
  const rootFlags = itemIdGetFlags(lps[root]!);
  let ndeleted = 0;

  if (rootFlags === LP_NORMAL) {
    const tup = itemIdGetOffset(lps[root]!);
    const infomask2 = heapTupleHeaderGetInfomask2(page, tup);
    const infomask = heapTupleHeaderGetInfomask(page, tup);
    const state = htsv[root];
    if ((infomask2 & HEAP_ONLY_TUPLE) !== 0) {
      // Not HOT-updated (HeapTupleHeaderIsHotUpdated): what an aborted HOT update leaves.
      if (state === HTSV.Dead && !isHotUpdated(infomask2, infomask)) {
        heapPruneRecordUnused(prstate, root);
        advanceLatestRemovedXid(page, tup, infomask, transam, prstate);
        ndeleted++;
      }
      return ndeleted;
    }
    if (!isHotUpdated(infomask2, infomask)) {
      // A chain of one (the common case: a tuple never HOT-updated). The walk below would take
      // the root as its only member and stop there; it is done here without the chain array.
      if (state === HTSV.Dead) {
        advanceLatestRemovedXid(page, tup, infomask, transam, prstate);
        heapPruneRecordDead(prstate, root);
        return 1;
      }
      if (state === HTSV.RecentlyDead || state === HTSV.DeleteInProgress) {
        heapPruneRecordPrunable(prstate, heapTupleHeaderGetRawXmax(page, tup));
      }
      return 0;
    }
  }

  // Walk the chain from the root, following a redirect only at the start.
  const chain = chainScratch;
  let chainLength = 0;
  let latestDead = 0;
  let priorXmax = InvalidTransactionId;
  let off = root;
  for (let steps = 0; steps <= maxoff; steps++) {
    if (off < 1 || off > maxoff || marked[off]) break;
    const lp = lps[off]!;
    const flags = itemIdGetFlags(lp);
    if (flags === LP_UNUSED || flags === LP_DEAD) break;
    if (flags === LP_REDIRECT) {
      if (chainLength > 0) break;
      chain[chainLength++] = off;
      off = itemIdGetRedirect(lp);
      continue;
    }
    const tup = itemIdGetOffset(lp);
    if (priorXmax !== InvalidTransactionId && heapTupleHeaderGetRawXmin(page, tup) !== priorXmax)
      break;
    chain[chainLength++] = off;
    const state = htsv[off];
    // t_infomask as it stands after the visibility checks' hint bits.
    const infomask = heapTupleHeaderGetInfomask(page, tup);
    if (state === HTSV.Dead) {
      latestDead = off;
      advanceLatestRemovedXid(page, tup, infomask, transam, prstate);
    } else if (state === HTSV.RecentlyDead) {
      heapPruneRecordPrunable(prstate, heapTupleHeaderGetRawXmax(page, tup));
    } else {
      if (state === HTSV.DeleteInProgress) {
        heapPruneRecordPrunable(prstate, heapTupleHeaderGetRawXmax(page, tup));
      }
      break;
    }
    if (!isHotUpdated(heapTupleHeaderGetInfomask2(page, tup), infomask)) break;
    priorXmax = heapTupleHeaderGetRawXmax(page, tup);
    off = heapTupleHeaderGetCtidOffset(page, tup);
  }

  if (latestDead !== 0) {
    // Every member after the root up to the last dead one goes; the root then points past them.
    let i = 1;
    for (; i < chainLength && chain[i - 1] !== latestDead; i++) {
      heapPruneRecordUnused(prstate, chain[i]!);
      ndeleted++;
    }
    if (rootFlags === LP_NORMAL) ndeleted++;
    if (i >= chainLength) heapPruneRecordDead(prstate, root);
    else heapPruneRecordRedirect(prstate, root, chain[i]!);
  } else if (chainLength < 2 && rootFlags === LP_REDIRECT) {
    // A redirect whose chain is gone.
    heapPruneRecordDead(prstate, root);
  }
  return ndeleted;
}

/**
 * HeapTupleHeaderIsHotUpdated (htup-details.ts's heapTupleHeaderIsHotUpdated) on header fields
 * already read: HEAP_HOT_UPDATED, an xmax not known invalid and an xmin not known invalid.
 */
function isHotUpdated(infomask2: number, infomask: number): boolean {
  return (
    (infomask2 & HEAP_HOT_UPDATED) !== 0 &&
    (infomask & HEAP_XMAX_INVALID) === 0 &&
    (infomask & (HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID)) !== HEAP_XMIN_INVALID
  );
}

/**
 * HeapTupleHeaderAdvanceLatestRemovedXid: a removed tuple's deleter (or updater) — when its
 * inserter committed and is not the deleter itself — may be the newest xid whose changes the
 * prune makes final; a standby's queries that could still see the tuple conflict with it.
 * `infomask` is the tuple's t_infomask, read by the caller.
 */
function advanceLatestRemovedXid(
  page: Uint8Array,
  tup: number,
  infomask: number,
  transam: Transam,
  prstate: PruneState,
): void {
  const xmin =
    (infomask & HEAP_XMIN_FROZEN) === HEAP_XMIN_FROZEN
      ? FrozenTransactionId
      : heapTupleHeaderGetRawXmin(page, tup);
  // HeapTupleHeaderGetUpdateXid: the raw xmax (pgsim has no multixacts).
  const xmax = heapTupleHeaderGetRawXmax(page, tup);
  if ((infomask & HEAP_MOVED) !== 0) {
    const xvac = heapTupleHeaderGetXvac(page, tup);
    if (xidPrecedes(prstate.latestRemovedXid, xvac)) prstate.latestRemovedXid = xvac;
  }
  const xminCommitted = (infomask & HEAP_XMIN_COMMITTED) !== 0;
  const xminInvalid = (infomask & HEAP_XMIN_FROZEN) === HEAP_XMIN_INVALID;
  if (xminCommitted || (!xminInvalid && transam.didCommit(xmin))) {
    if (xmax !== xmin && xidFollows(xmax, prstate.latestRemovedXid)) {
      prstate.latestRemovedXid = xmax;
    }
  }
}

/**
 * heap_prune_record_prunable: remembers the oldest xid that may make the page worth pruning
 * again (InvalidTransactionId counts as "none yet").
 */
function heapPruneRecordPrunable(prstate: PruneState, xid: number): void {
  const current = prstate.newPruneXid;
  if (current === InvalidTransactionId || xidPrecedes(xid, current)) prstate.newPruneXid = xid;
}

/** heap_prune_record_redirect: line pointer `from` will redirect to `to`; both are done. */
function heapPruneRecordRedirect(prstate: PruneState, from: number, to: number): void {
  const n = prstate.nredirected;
  prstate.redirected[2 * n] = from;
  prstate.redirected[2 * n + 1] = to;
  prstate.nredirected = n + 1;
  prstate.marked[from] = 1;
  prstate.marked[to] = 1;
}

/** heap_prune_record_dead: line pointer `offnum` will become LP_DEAD. */
function heapPruneRecordDead(prstate: PruneState, offnum: number): void {
  prstate.nowdead[prstate.ndead++] = offnum;
  prstate.marked[offnum] = 1;
}

/** heap_prune_record_unused: line pointer `offnum` will become LP_UNUSED. */
function heapPruneRecordUnused(prstate: PruneState, offnum: number): void {
  prstate.nowunused[prstate.nunused++] = offnum;
  prstate.marked[offnum] = 1;
}

/**
 * heap_page_prune_execute: applies redirects (`redirected` holds `nredirected` (from, to) pairs),
 * LP_DEAD and LP_UNUSED line pointers to the page and compacts it (PageRepairFragmentation, which
 * also sets PD_HAS_FREE_LINES). Used by pruning and by the redo of its record. The caller holds
 * the cleanup lock and marks the buffer dirty.
 */
export function heapPagePruneExecute(
  page: Uint8Array,
  redirected: ArrayLike<number>,
  nredirected: number,
  nowdead: ArrayLike<number>,
  ndead: number,
  nowunused: ArrayLike<number>,
  nunused: number,
): void {
  for (let i = 0; i < nredirected; i++) {
    const from = redirected[2 * i]!;
    pageSetItemId(page, from, makeItemId(redirected[2 * i + 1]!, LP_REDIRECT, 0));
  }
  pageSetItemIdsTo(page, nowdead, ndead, makeItemId(0, LP_DEAD, 0));
  pageSetItemIdsTo(page, nowunused, nunused, makeItemId(0, LP_UNUSED, 0));
  pageRepairFragmentation(page);
}
