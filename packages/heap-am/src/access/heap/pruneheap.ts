/**
 * Page pruning: removing dead tuple versions from one heap page and collapsing HOT chains, done
 * opportunistically by any backend that reads the page, and by VACUUM.
 *
 * Models: src/backend/access/heap/pruneheap.c (heap_page_prune_opt, heap_page_prune,
 * heap_prune_chain, heap_prune_record_redirect / _dead / _unused, heap_page_prune_execute).
 * Entry points: `heapPagePruneOpt`, `heapPagePrune`.
 * See also: heapam-visibility.ts (HeapTupleSatisfiesVacuum), vacuumlazy.ts, bufpage.ts
 * (PageRepairFragmentation).
 *
 * Invariants (docs/reference/postgres-storage.md §D.18): a dead chain root becomes LP_DEAD (an
 * index entry may point at it) or LP_REDIRECT to the first surviving member; dead heap-only
 * members become LP_UNUSED at once; pruning never turns LP_DEAD into LP_UNUSED (only VACUUM
 * does); the FSM is not updated.
 *
 * Differs from PostgreSQL: one horizon (the oldest xmin of any backend) instead of GlobalVisState
 * and OldestXmin; no WAL record; latestRemovedXid is not tracked (there are no standbys).
 */

import type { BufferId } from "@pgsim/buffer-manager";
import {
  HEAP_HOT_UPDATED,
  HEAP_ONLY_TUPLE,
  heapTupleHeaderGetCtidOffset,
  heapTupleHeaderGetInfomask2,
  heapTupleHeaderGetRawXmax,
  heapTupleHeaderGetRawXmin,
} from "../../include/access/htup-details.js";
import { InvalidTransactionId, xidIsNormal, xidPrecedes } from "../../include/access/transam.js";
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
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageGetPruneXid,
  pageIsFull,
  pageIsNew,
  pageRepairFragmentation,
  pageSetItemId,
  pageSetPruneXid,
} from "../../storage/page/bufpage.js";
import type { HeapContext, Relation } from "../../utils/cache/rel.js";
import { HTSV, heapTupleSatisfiesVacuum, type VisibilityContext } from "./heapam-visibility.js";

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
 * The caller holds a pin and no lock. Never waits.
 */
export function heapPagePruneOpt(ctx: HeapContext, rel: Relation, buffer: BufferId): void {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  // Unlocked reads of hints: a wrong answer only means pruning now or later.
  const pruneXid = pageGetPruneXid(page);
  if (!xidIsNormal(pruneXid)) return;
  const horizon = ctx.transam.oldestXmin();
  if (!xidPrecedes(pruneXid, horizon)) return;
  const minFree = Math.max(
    Math.floor((8192 * (100 - rel.fillfactor)) / 100),
    Math.floor(8192 / 10),
  );
  const worthIt = (): boolean => pageIsFull(page) || pageGetHeapFreeSpace(page) < minFree;
  if (!worthIt()) return;
  if (!pool.conditionalLockBufferForCleanup(buffer)) return;
  try {
    if (worthIt()) {
      const { ndeleted, nnewlpdead } = heapPagePrune(ctx, buffer, horizon);
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

// Scratch space of heapPagePrune, allocated once (PostgreSQL keeps the same arrays in its
// PruneState on the stack): pruning is synchronous and never re-enters itself, and each worker
// thread has its own module instance.
const htsvScratch = new Int8Array(MaxOffsetNumber + 1);
const markedScratch = new Uint8Array(MaxOffsetNumber + 1);
const chainScratch = new Int16Array(MaxOffsetNumber + 1);
/** (from, to) pairs of heap_prune_record_redirect. */
const redirectedScratch = new Int16Array(2 * (MaxOffsetNumber + 1));
const nowDeadScratch = new Int16Array(MaxOffsetNumber + 1);
const nowUnusedScratch = new Int16Array(MaxOffsetNumber + 1);

/** The older of two prune xids (InvalidTransactionId counts as "none yet"). */
function olderPruneXid(current: number, xid: number): number {
  return current === InvalidTransactionId || xidPrecedes(xid, current) ? xid : current;
}

/**
 * heap_page_prune: the caller holds a cleanup lock. Computes every tuple's state once, walks each
 * HOT chain from its root, records redirects, dead and unused line pointers, applies them and
 * compacts the page.
 */
export function heapPagePrune(ctx: HeapContext, buffer: BufferId, oldestXmin: number): PruneResult {
  const pool = ctx.pool;
  const page = pool.bufferGetPage(buffer);
  if (pageIsNew(page)) return { ndeleted: 0, nnewlpdead: 0, changed: false };
  const maxoff = pageGetMaxOffsetNumber(page);
  const vctx: VisibilityContext = { transam: ctx.transam, xact: undefined, hintsSet: false };
  // Every tuple's state, computed once (from the end, as PostgreSQL does).
  const htsv = htsvScratch;
  htsv.fill(-1, 0, maxoff + 1);
  for (let off = maxoff; off >= 1; off--) {
    const lp = pageGetItemId(page, off);
    if (itemIdGetFlags(lp) === LP_NORMAL) {
      htsv[off] = heapTupleSatisfiesVacuum(page, itemIdGetOffset(lp), oldestXmin, vctx);
    }
  }
  const marked = markedScratch;
  marked.fill(0, 0, maxoff + 1);
  const chain = chainScratch;
  let nredirected = 0;
  let ndead = 0;
  let nunused = 0;
  let newPruneXid = InvalidTransactionId;

  let ndeleted = 0;
  for (let root = 1; root <= maxoff; root++) {
    if (marked[root]) continue;
    const rootLp = pageGetItemId(page, root);
    const rootFlags = itemIdGetFlags(rootLp);
    if (rootFlags === LP_UNUSED || rootFlags === LP_DEAD) continue;

    if (rootFlags === LP_NORMAL) {
      const tup = itemIdGetOffset(rootLp);
      if ((heapTupleHeaderGetInfomask2(page, tup) & HEAP_ONLY_TUPLE) !== 0) {
        // Not a chain root. If dead and not updated, it is what an aborted HOT update left:
        // nothing points at it any more.
        if (
          htsv[root] === HTSV.Dead &&
          (heapTupleHeaderGetInfomask2(page, tup) & HEAP_HOT_UPDATED) === 0
        ) {
          nowUnusedScratch[nunused++] = root;
          marked[root] = 1;
          ndeleted++;
        }
        continue;
      }
    }

    // Walk the chain from the root, following a redirect only at the start.
    let chainLength = 0;
    let latestDead = 0;
    let priorXmax = InvalidTransactionId;
    let off = root;
    for (let steps = 0; steps <= maxoff; steps++) {
      if (off < 1 || off > maxoff || marked[off]) break;
      const lp = pageGetItemId(page, off);
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
      let dead = false;
      let recentlyDead = false;
      if (state === HTSV.Dead) dead = true;
      else if (state === HTSV.RecentlyDead) {
        recentlyDead = true;
        newPruneXid = olderPruneXid(newPruneXid, heapTupleHeaderGetRawXmax(page, tup));
      } else if (state === HTSV.DeleteInProgress) {
        newPruneXid = olderPruneXid(newPruneXid, heapTupleHeaderGetRawXmax(page, tup));
      }
      if (dead) latestDead = off;
      else if (!recentlyDead) break;
      if ((heapTupleHeaderGetInfomask2(page, tup) & HEAP_HOT_UPDATED) === 0) break;
      priorXmax = heapTupleHeaderGetRawXmax(page, tup);
      off = heapTupleHeaderGetCtidOffset(page, tup);
    }

    if (latestDead !== 0) {
      // Every member after the root up to the last dead one goes; the root then points past them.
      let i = 1;
      for (; i < chainLength && chain[i - 1] !== latestDead; i++) {
        nowUnusedScratch[nunused++] = chain[i]!;
        marked[chain[i]!] = 1;
        ndeleted++;
      }
      if (rootFlags === LP_NORMAL) ndeleted++;
      if (i >= chainLength) {
        nowDeadScratch[ndead++] = root;
        marked[root] = 1;
      } else {
        redirectedScratch[2 * nredirected] = root;
        redirectedScratch[2 * nredirected + 1] = chain[i]!;
        nredirected++;
        marked[root] = 1;
        marked[chain[i]!] = 1;
      }
    } else if (chainLength < 2 && rootFlags === LP_REDIRECT) {
      // A redirect whose chain is gone.
      nowDeadScratch[ndead++] = root;
      marked[root] = 1;
    }
  }

  const changed = nredirected + ndead + nunused > 0;
  if (changed) {
    for (let i = 0; i < nredirected; i++) {
      const from = redirectedScratch[2 * i]!;
      pageSetItemId(page, from, makeItemId(redirectedScratch[2 * i + 1]!, LP_REDIRECT, 0));
    }
    for (let i = 0; i < ndead; i++)
      pageSetItemId(page, nowDeadScratch[i]!, makeItemId(0, LP_DEAD, 0));
    for (let i = 0; i < nunused; i++) {
      pageSetItemId(page, nowUnusedScratch[i]!, makeItemId(0, LP_UNUSED, 0));
    }
    pageRepairFragmentation(page);
    pageSetPruneXid(page, newPruneXid);
    pageClearFull(page);
    pool.markBufferDirty(buffer);
  } else if (pageGetPruneXid(page) !== newPruneXid || pageIsFull(page)) {
    pageSetPruneXid(page, newPruneXid);
    pageClearFull(page);
    pool.markBufferDirtyHint(buffer);
  } else if (vctx.hintsSet) {
    pool.markBufferDirtyHint(buffer);
  }
  return { ndeleted, nnewlpdead: ndead, changed };
}
