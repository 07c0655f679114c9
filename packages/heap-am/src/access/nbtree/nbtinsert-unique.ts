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
 * Differs from PostgreSQL: a conflicting row whose inserter or deleter is still running (another
 * backend's open transaction) is reported as a violation at once — PostgreSQL waits for that
 * transaction (XactLockTableWait) and checks again, so the insert succeeds if it aborts (or, for
 * a deleter, commits). The check runs on its own descent before btInsert's, under share locks,
 * instead of on the leaf btInsert then holds exclusively: two backends inserting the same key at
 * the same moment can both pass it. No speculative insertion (ON CONFLICT) and no deferred
 * (UNIQUE_CHECK_PARTIAL / EXISTING) checks.
 */

import type { BufferPool } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import type { ItemPointer } from "../../include/access/htup-details.js";
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
import type { BtIndexRelation } from "./nbtree.js";
import { btBinSrch, btCompare, btSearchRead, newBtScanOpaque, relAndGetBuf } from "./nbtsearch.js";
import { btMkScanKey, type KeyValue } from "./nbtutils.js";

/** Inputs of `btCheckUnique`. */
export interface BtCheckUniqueInput {
  readonly pool: BufferPool;
  readonly index: BtIndexRelation;
  readonly heap: TableRelation;
  /** The new entry's key values (index column order). */
  readonly values: readonly KeyValue[];
  /** The new heap tuple's TID (its own entry is not in the index yet). */
  readonly tid: ItemPointer;
  readonly xact: Transaction | undefined;
}

/**
 * _bt_check_unique: throws `unique-violation` (SQLSTATE 23505) with PostgreSQL's message
 * `duplicate key value violates unique constraint "<index>"` and DETAIL `Key (<cols>)=(<vals>)
 * already exists.` when a row with an equal key is live or being inserted or deleted by a running
 * transaction. A key with a NULL never conflicts. Returns with no pin or lock held.
 */
export function btCheckUnique(input: BtCheckUniqueInput): void {
  const { pool, index, heap, values } = input;
  if (values.some((v) => v === null)) return;
  const so = newBtScanOpaque(index, pool);
  const key = btMkScanKey(index, values);
  let buf = btSearchRead(so, key);
  if (buf === undefined) return;
  const nblocks = pool.nblocks(index.locator, 0);
  try {
    let page = pool.bufferGetPage(buf);
    let offset = btBinSrch(index, key, page);
    for (let pages = 0; ; pages++) {
      assert(pages <= nblocks, "_bt_check_unique visits each leaf at most once");
      const opaque = btPageGetOpaque(page);
      const maxoff = pageGetMaxOffsetNumber(page);
      let killedSome = false;
      for (let off = offset; off <= maxoff; off++) {
        if (btCompare(index, key, page, off) !== 0) return;
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
            // A live version, or one a running transaction is inserting or deleting (dirty.xmin
            // / dirty.xmax): PostgreSQL would wait for the latter (see "Differs").
            throw new PgsimError(
              "unique-violation",
              `duplicate key value violates unique constraint "${index.name}"`,
              {
                detail: `Key ${buildIndexValueDescription(index, values)} already exists.`,
                sqlstate: "23505",
                constraint: index.name,
                ...(dirty.xmin !== 0 || dirty.xmax !== 0
                  ? { runningXid: dirty.xmin !== 0 ? dirty.xmin : dirty.xmax }
                  : {}),
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
      if (pRightmost(opaque) || btCompare(index, key, page, P_HIKEY) !== 0) return;
      let next = opaque.next;
      for (let steps = 0; ; steps++) {
        assert(steps <= nblocks, "moving right past ignorable pages ends");
        buf = relAndGetBuf(so, buf, next);
        page = pool.bufferGetPage(buf);
        const o = btPageGetOpaque(page);
        if (!pIgnore(o)) break;
        if (pRightmost(o)) return;
        next = o.next;
      }
      offset = pFirstDataKey(btPageGetOpaque(page));
    }
  } finally {
    pool.unlockReleaseBuffer(buf);
  }
}
