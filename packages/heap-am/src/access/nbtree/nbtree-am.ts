/**
 * btree as an index access method: the handler that fills IndexAmRoutine, and btree's entry
 * points behind it — build, insert (with the unique check), the scan calls, can-return and
 * options.
 *
 * Models: src/backend/access/nbtree/nbtree.c (bthandler, btbuildempty, btinsert, btbeginscan,
 * btrescan, btgettuple, btendscan, btcanreturn; btbulkdelete and btvacuumcleanup are declared
 * here and implemented elsewhere), nbtutils.c (btoptions), nbtsort.c (btbuild, through nbtsort.ts).
 * Entry points: `btreeIndexAm` (bthandler's routine), `registerBuiltinIndexAms`, `btVacInfoOf`.
 * See also: ../index/amapi.ts (the interface), nbtsearch.ts (the scans), nbtinsert.ts and
 * nbtinsert-unique.ts (insertion), nbtsort.ts (CREATE INDEX), README.md.
 *
 * btbulkdelete and btvacuumcleanup are nbtvacuum.ts's; new pages come from the index's FSM first
 * (btGetFreePage), as _bt_getbuf(P_NEW) does.
 */

import type { BufferId } from "@pgsim/buffer-manager";
import { assert, PgsimError } from "@pgsim/clock-sweep";
import { BTREE_MIN_FILLFACTOR, P_NONE } from "../../include/access/nbtree.js";
import { DEFAULT_LOCK_TIMEOUT_MS, lockTimeoutError } from "../../storage/lmgr/lmgr.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import {
  type IndexAmRoutine,
  type IndexRelation,
  type IndexScanDesc,
  type IndexUniqueCheck,
  type IndexVacuumInfo,
  registerIndexAm,
  SK_SEARCHARRAY,
} from "../index/amapi.js";
import {
  relationNeedsWal,
  type TableAmContext,
  type TableRelation,
  tableIndexBuildScan,
  type XLogBackend,
} from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import { type BtUniqueCheckContext, type BtUniqueCheckResult, btInsert } from "./nbtinsert.js";
import { btCheckUnique } from "./nbtinsert-unique.js";
import { btInitMetapage } from "./nbtpage.js";
import { type BtIndexRelation, buildBtIndexRelation } from "./nbtree.js";
import {
  type BTScanOpaque,
  btCurrentItem,
  btFirst,
  btNext,
  btScanPosRelease,
  newBtScanOpaque,
} from "./nbtsearch.js";
import { btBuild } from "./nbtsort.js";
import {
  btAdvanceArrayKeys,
  btPreprocessArrayKeys,
  btPreprocessKeys,
  btStartArrayKeys,
} from "./nbtutils.js";
import { BtVacInfo, btVacuumCycleId } from "./nbtutils-shmem.js";
import { type BtVacuumInfo, btBulkDelete, btGetFreePage, btVacuumCleanup } from "./nbtvacuum.js";

/** The btree relcache data of an index relation (built by amrelinit). */
export function btRel(index: IndexRelation): BtIndexRelation {
  return index.amdata as BtIndexRelation;
}

/**
 * The backend's view of btree's shared memory (btvacinfo: the running VACUUMs of B-tree indexes
 * and their cycle ids), which the backend attached when it started.
 */
export function btVacInfoOf(ctx: TableAmContext): BtVacInfo {
  const vacinfo = ctx.indexAmShmem.get("btree");
  assert(vacinfo instanceof BtVacInfo, "the backend attached btree's shared memory");
  return vacinfo;
}

function btOpaque(scan: IndexScanDesc): BTScanOpaque {
  return scan.opaque as BTScanOpaque;
}

/**
 * btbulkdelete's and btvacuumcleanup's view of the run (nbtvacuum.ts's BtVacuumInfo): the
 * generic IndexVacuumInfo plus this backend's pool, the index's FSM, the transaction horizon
 * (page recycling), the shared table of cycle ids and the WAL when the table is logged (an index has its table's persistence).
 */
function btVacuumInfo(info: IndexVacuumInfo): BtVacuumInfo {
  const ctx = info.index.ctx;
  return {
    analyzeOnly: info.analyzeOnly,
    estimatedCount: info.estimatedCount,
    numHeapTuples: info.numHeapTuples,
    pool: ctx.pool,
    index: btRel(info.index),
    fsm: ctx.fsm,
    xids: ctx.transam,
    vacinfo: btVacInfoOf(ctx),
    ...(ctx.xlog !== undefined && relationNeedsWal(ctx, info.heap) ? { xlog: ctx.xlog } : {}),
  };
}

/** What btinsert hands btInsert besides the tuple: the same for every row of a statement. */
interface BtInsertHooks {
  readonly heap: TableRelation;
  readonly checkMode: IndexUniqueCheck;
  readonly xact: Transaction | undefined;
  readonly rel: BtIndexRelation;
  readonly checkUnique: ((c: BtUniqueCheckContext) => BtUniqueCheckResult) | undefined;
  readonly waitForTransaction: ((xid: number) => void) | undefined;
  readonly xlog: XLogBackend | undefined;
  readonly vacuumCycleId: () => number;
  readonly freePage: () => BufferId | undefined;
}

/** The hooks last built for each index relation (a statement inserts many rows with the same). */
const lastHooks = new WeakMap<IndexRelation, BtInsertHooks>();

/**
 * btinsert's callbacks for `index` within `heap` and transaction `xact`: the unique check
 * (UNIQUE_CHECK_YES: _bt_check_unique on the leaf btInsert holds; UNIQUE_CHECK_NO answers
 * "unique" at once), XactLockTableWait, the WAL when the table is logged (an unlogged table's
 * indexes are unlogged too) and the index FSM for new pages. Built once and reused while the
 * three stay the same.
 */
function insertHooks(
  index: IndexRelation,
  heap: TableRelation,
  checkMode: IndexUniqueCheck,
  xact: Transaction | undefined,
): BtInsertHooks {
  const last = lastHooks.get(index);
  if (
    last !== undefined &&
    last.heap === heap &&
    last.checkMode === checkMode &&
    last.xact === xact
  ) {
    return last;
  }
  const rel = btRel(index);
  const ctx = index.ctx;
  const xlog = ctx.xlog !== undefined && relationNeedsWal(ctx, heap) ? ctx.xlog : undefined;
  const hooks: BtInsertHooks = {
    heap,
    checkMode,
    xact,
    rel,
    checkUnique: rel.unique
      ? (c) =>
          checkMode === "yes"
            ? btCheckUnique(c, { heap, values: c.key.keys, xact })
            : { kind: "unique", sawDuplicates: false }
      : undefined,
    waitForTransaction: rel.unique
      ? (xid) => {
          // XactLockTableWait, as heap_update waits for a row's locker.
          const ended = ctx.transam.waitForTransaction(xid, {
            deadlockTimeoutMs: ctx.deadlockTimeoutMs ?? 1000,
            timeoutMs: ctx.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
          });
          if (!ended) throw lockTimeoutError(xid);
        }
      : undefined,
    xlog,
    // _bt_vacuum_cycleid for a split: a VACUUM of this index may run in any backend.
    vacuumCycleId: () => btVacuumCycleId(btVacInfoOf(ctx), rel),
    // New pages come from the index's FSM first: pages VACUUM deleted, once recyclable.
    freePage: () =>
      btGetFreePage({
        pool: ctx.pool,
        index: rel,
        fsm: ctx.fsm,
        xids: ctx.transam,
        ...(xlog !== undefined ? { xlog } : {}),
      }),
  };
  lastHooks.set(index, hooks);
  return hooks;
}

/** btoptions: fillfactor (10..100) and deduplicate_items (boolean), PostgreSQL's messages. */
function btoptions(reloptions: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(reloptions)) {
    if (name === "fillfactor") {
      if (
        typeof value !== "number" ||
        !Number.isInteger(value) ||
        value < BTREE_MIN_FILLFACTOR ||
        value > 100
      ) {
        throw new PgsimError(
          "invalid-parameter",
          `value ${String(value)} out of bounds for option "fillfactor": valid values are between "${BTREE_MIN_FILLFACTOR}" and "100"`,
        );
      }
      out[name] = value;
    } else if (name === "deduplicate_items") {
      if (typeof value !== "boolean") {
        throw new PgsimError(
          "invalid-parameter",
          `invalid value for boolean option "deduplicate_items": ${String(value)}`,
        );
      }
      out[name] = value;
    } else {
      throw new PgsimError("invalid-parameter", `unrecognized parameter "${name}"`);
    }
  }
  return out;
}

/** bthandler: btree's IndexAmRoutine. */
export const btreeIndexAm: IndexAmRoutine = {
  name: "btree",
  amstrategies: 5,
  amsupport: 5,
  amcanorder: true,
  amcanbackward: true,
  amcanunique: true,
  amcanmulticol: true,
  amoptionalkey: true,
  amsearchnulls: true,
  amclusterable: true,
  amcaninclude: true,

  amrelinit: (def, table) => buildBtIndexRelation(def, table),

  ambuild(heap, index) {
    const rel = btRel(index);
    const ctx = index.ctx;
    const result = btBuild({
      pool: ctx.pool,
      index: rel,
      tableName: heap.name,
      scan: (callback) => tableIndexBuildScan(heap, callback),
      xlog: relationNeedsWal(ctx, heap) ? ctx.xlog : undefined,
    });
    // The whole BtBuildResult (pages, root, level too): CREATE INDEX reports it.
    return result;
  },

  ambuildempty(index) {
    // The init fork's content: an empty metapage. pgsim writes it into block 0 of the index.
    const pool = index.ctx.pool;
    const buf = pool.extend(index.locator, 0);
    pool.lockBuffer(buf, "exclusive");
    btInitMetapage(pool.bufferGetPage(buf), P_NONE, 0, btRel(index).allequalimage);
    pool.markBufferDirty(buf);
    pool.unlockReleaseBuffer(buf);
  },

  aminsert(index, values, heapTid, heap, checkUnique, indexUnchanged, xact) {
    const hooks = insertHooks(index, heap, checkUnique, xact);
    btInsert({
      pool: index.ctx.pool,
      index: hooks.rel,
      tableName: heap.name,
      values: values as readonly (Datum | null)[],
      tid: heapTid,
      indexUnchanged,
      checkUnique: hooks.checkUnique,
      waitForTransaction: hooks.waitForTransaction,
      xlog: hooks.xlog,
      xid: hooks.xlog === undefined ? undefined : (xact?.xid ?? 0),
      vacuumCycleId: hooks.vacuumCycleId,
      freePage: hooks.freePage,
    });
    return false;
  },

  ambulkdelete: (info, stats, callback) => btBulkDelete(btVacuumInfo(info), stats, callback),
  amvacuumcleanup: (info, stats) => btVacuumCleanup(btVacuumInfo(info), stats),

  // btcanreturn: every btree column can be returned (the tuples hold the values themselves).
  amcanreturn: () => true,

  amoptions: btoptions,

  ambeginscan(scan) {
    const so = newBtScanOpaque(btRel(scan.indexRelation), scan.indexRelation.ctx.pool);
    so.ignoreKilled = scan.ignoreKilledTuples;
    scan.opaque = so;
  },

  amrescan(scan, keys) {
    const so = btOpaque(scan);
    btScanPosRelease(so);
    scan.keyData = keys;
    so.wantItup = scan.xsWantItup;
    so.rawKeys = keys;
    so.arrayKeys = btPreprocessArrayKeys(so.rel, keys);
    preprocessCurrentKeys(so);
  },

  amgettuple(scan, direction) {
    const so = btOpaque(scan);
    let found: boolean;
    if (so.currPos === undefined) {
      // _bt_start_array_keys: a scan with `ANY (array)` keys starts at each array's first
      // element in its direction.
      if (so.arrayKeys !== undefined && so.arrayKeys.length > 0) {
        btStartArrayKeys(so.arrayKeys, direction);
        preprocessCurrentKeys(so);
      }
      found = btFirst(so, direction);
    } else {
      // kill_prior_tuple: the entry returned last points at rows dead to everyone.
      if (scan.killPriorTuple) so.killedItems.push(so.currPos.itemIndex);
      found = btNext(so, direction);
    }
    // Each combination of array elements is a primitive scan of its own, from its own descent.
    while (
      !found &&
      so.arrayKeys !== undefined &&
      so.arrayKeys.length > 0 &&
      btAdvanceArrayKeys(so.arrayKeys, direction)
    ) {
      preprocessCurrentKeys(so);
      found = btFirst(so, direction);
    }
    scan.killPriorTuple = false;
    if (!found) {
      scan.xsHeaptid = undefined;
      scan.xsItup = undefined;
      return false;
    }
    const item = btCurrentItem(so);
    scan.xsHeaptid = item.heapTid;
    scan.xsItup = item.values !== undefined ? [...item.values] : undefined;
    return true;
  },

  amendscan(scan) {
    btScanPosRelease(btOpaque(scan));
  },
};

/**
 * _bt_preprocess_keys over the scan's keys with each array key at its current element (PostgreSQL
 * preprocesses at every _bt_first; the result is the same).
 */
function preprocessCurrentKeys(so: BTScanOpaque): void {
  const arrays = so.arrayKeys;
  if (arrays === undefined) {
    so.keys = [];
    so.qualOk = false;
    return;
  }
  const current = so.rawKeys.map((k) => ({
    attno: k.attno,
    strategy: k.strategy,
    argument: k.argument,
    flags: (k.flags ?? 0) & ~SK_SEARCHARRAY,
  }));
  for (const a of arrays) current[a.scanKey]!.argument = a.elements[a.cur]!;
  const pre = btPreprocessKeys(so.rel, current);
  so.keys = pre.keys;
  so.qualOk = pre.qualOk;
}

/** Registers `btree` (idempotent), as the table AMs are registered at start-up. */
export function registerBuiltinIndexAms(): void {
  registerIndexAm(btreeIndexAm);
}
