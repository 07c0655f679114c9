/**
 * The unique check of an insertion into a unique B-tree: every entry with an equal key is looked
 * up in the heap under SnapshotDirty; a version that is live, or whose inserter or deleter is
 * still running, is a unique violation. Entries whose rows are dead to everyone are marked
 * LP_DEAD on the way, as the check passes them.
 *
 * Models: src/backend/access/nbtree/nbtinsert.c (_bt_check_unique, and _bt_doinsert's call of
 * it with checkingunique) and utils/adt/ri_triggers.c / genam.c's BuildIndexValueDescription for
 * the error's DETAIL.
 * Entry points: `btCheckUnique`.
 * See also: nbtinsert.ts (btInsert runs it through its `checkUnique` hook), nbtree-am.ts
 * (btinsert), ../table/tableam.ts (tableIndexFetchTupleCheck), ../index/genam.ts
 * (buildIndexValueDescription), README.md ("Unique checks").
 *
 * It runs as PostgreSQL runs it: inside btInsert's descent (the `checkUnique` hook), on the first
 * leaf the key could be on, which btInsert holds exclusively locked, so two backends inserting
 * the same key meet on that page; right siblings holding equal keys are read under share locks
 * while the leaf stays locked. A row whose inserter or deleter is still running makes the check
 * answer "wait for that transaction": btInsert lets go of its locks, waits (XactLockTableWait)
 * and searches again — the insert succeeds if the inserter aborts (or the deleter commits).
 *
 * Differs from PostgreSQL: no speculative insertion (ON CONFLICT) and no deferred
 * (UNIQUE_CHECK_PARTIAL / EXISTING) checks.
 */

import { type BufferId, ForkNumber } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import {
  BTP_HAS_GARBAGE,
  btPageGetOpaque,
  btPageSetOpaque,
  btreeTupleGetHeapTid,
  btreeTupleHeapTids,
  btreeTupleIsPosting,
  P_HIKEY,
  pFirstDataKey,
  pIgnore,
  pRightmost,
} from "../../include/access/nbtree.js";
import { initDirtySnapshot } from "../../include/utils/snapshot.js";
import {
  itemIdGetLength,
  itemIdGetOffset,
  itemIdIsDead,
  LP_DEAD,
  makeItemId,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageSetItemId,
} from "../../storage/page/bufpage.js";
import { buildIndexValueDescription } from "../index/genam.js";
import { type TableRelation, tableIndexFetchTupleCheck } from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import type { BtUniqueCheckContext, BtUniqueCheckResult } from "./nbtinsert.js";
import { btCheckSteps } from "./nbtpage.js";
import { btCompare } from "./nbtsearch.js";
import type { KeyValue } from "./nbtutils.js";

/** Inputs of `btCheckUnique`, besides btInsert's context. */
export interface BtCheckUniqueInput {
  readonly heap: TableRelation;
  /** The new entry's key values (index column order; none is NULL: btInsert skips the check). */
  readonly values: readonly KeyValue[];
  readonly xact: Transaction | undefined;
}

/**
 * _bt_check_unique, as btInsert's `checkUnique` hook: every entry equal to the key, from
 * `ctx.offset` on the locked leaf and on right siblings while their high keys are equal, is
 * looked up in the heap under SnapshotDirty. A live version is a unique violation, thrown as
 * `unique-violation` (SQLSTATE 23505) with PostgreSQL's message `duplicate key value violates
 * unique constraint "<index>"` and DETAIL `Key (<cols>)=(<vals>) already exists.`; a version a
 * running transaction inserts or deletes answers `wait` with its xid. Entries whose rows are dead
 * to everyone are marked LP_DEAD on the way, as a hint. Leaves the leaf locked (it is btInsert's)
 * and releases every sibling it read.
 */
export function btCheckUnique(
  ctx: BtUniqueCheckContext,
  input: BtCheckUniqueInput,
): BtUniqueCheckResult {
  const { pool, index, key } = ctx;
  const { heap, values } = input;
  let buf: BufferId = ctx.buffer;
  /** A right sibling this check pinned and share-locked (the leaf is btInsert's). */
  let sibling: BufferId | undefined;
  let steppedRight = false;
  try {
    let page = pool.bufferGetPage(buf);
    let offset = ctx.offset;
    for (let pages = 0; ; pages++) {
      btCheckSteps(pool, index, pages, "_bt_check_unique visits each leaf at most once");
      const opaque = btPageGetOpaque(page);
      const maxoff = pageGetMaxOffsetNumber(page);
      let killedSome = false;
      for (let off = offset; off <= maxoff; off++) {
        if (btCompare(index, key, page, off) !== 0) {
          return { kind: "unique", sawDuplicates: steppedRight };
        }
        const iid = pageGetItemId(page, off);
        if (itemIdIsDead(iid)) continue;
        const t = itemIdGetOffset(iid);
        const tids = btreeTupleIsPosting(page, t)
          ? btreeTupleHeapTids(page, t)
          : [btreeTupleGetHeapTid(page, t)!];
        let allDead = true;
        for (const tid of tids) {
          const dirty = initDirtySnapshot();
          const out = { allDead: false };
          if (tableIndexFetchTupleCheck(heap, tid, dirty, input.xact, out)) {
            // A version being inserted or deleted by a running transaction: wait for it, then
            // search again (its fate decides).
            const xwait = dirty.xmin !== 0 ? dirty.xmin : dirty.xmax;
            if (xwait !== 0) return { kind: "wait", xwait };
            throw new PgsimError(
              "unique-violation",
              `duplicate key value violates unique constraint "${index.name}"`,
              {
                detail: `Key ${buildIndexValueDescription(index, values)} already exists.`,
                sqlstate: "23505",
                constraint: index.name,
              },
            );
          }
          if (!out.allDead) allDead = false;
        }
        if (allDead) {
          // Every row the entry points at is dead to everyone: mark it, as a hint.
          pageSetItemId(page, off, makeItemId(t, LP_DEAD, itemIdGetLength(iid)));
          killedSome = true;
        }
      }
      if (killedSome) {
        btPageSetOpaque(page, { ...opaque, flags: opaque.flags | BTP_HAS_GARBAGE });
        pool.markBufferDirtyHint(buf);
      }
      // Equal keys may continue on the right sibling only if the high key is equal too.
      if (pRightmost(opaque) || btCompare(index, key, page, P_HIKEY) !== 0) {
        return { kind: "unique", sawDuplicates: steppedRight };
      }
      let next = opaque.next;
      for (let steps = 0; ; steps++) {
        btCheckSteps(pool, index, steps, "moving right past ignorable pages ends");
        if (sibling !== undefined) pool.unlockReleaseBuffer(sibling);
        sibling = undefined;
        const nbuf = pool.readBuffer(index.locator, ForkNumber.MAIN, next);
        sibling = nbuf;
        pool.lockBuffer(nbuf, "share");
        buf = nbuf;
        steppedRight = true;
        page = pool.bufferGetPage(buf);
        const o = btPageGetOpaque(page);
        if (!pIgnore(o)) break;
        if (pRightmost(o)) return { kind: "unique", sawDuplicates: steppedRight };
        next = o.next;
      }
      offset = pFirstDataKey(btPageGetOpaque(page));
    }
  } finally {
    if (sibling !== undefined) pool.unlockReleaseBuffer(sibling);
  }
}
