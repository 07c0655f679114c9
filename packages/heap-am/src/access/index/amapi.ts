/**
 * The index access method interface: what an index AM must provide (build, insert, scans, bulk
 * delete, vacuum cleanup, can-return, options), the types it speaks in (scan keys, scan
 * descriptors, bulk-delete results), and a registry of index AMs by name.
 *
 * Models: src/include/access/amapi.h (IndexAmRoutine: its flags and callbacks, camelCase kept as
 * PostgreSQL spells them: ambuild, aminsert, ambeginscan, amgettuple, …), src/include/access/
 * genam.h (IndexUniqueCheck, IndexVacuumInfo, IndexBulkDeleteResult, IndexBulkDeleteCallback),
 * src/include/access/skey.h and stratnum.h (ScanKeyData and the B-tree strategy numbers),
 * src/include/access/relscan.h (IndexScanDescData), src/backend/access/index/amapi.c
 * (GetIndexAmRoutine's checks) and commands/amcmds.c (CREATE ACCESS METHOD … TYPE INDEX).
 * Entry points: `IndexAmRoutine`, `registerIndexAm`, `getIndexAm`, `indexAmNames`,
 * `IndexRelation`, `IndexScanDesc`, `ScanKey`, `BTLessStrategyNumber` … `BTGreaterStrategyNumber`,
 * `IndexUniqueCheck`, `IndexVacuumInfo`, `IndexBulkDeleteResult`, `REQUIRED_INDEX_AM_CALLBACKS`.
 * See also: indexam.ts (the index_* wrappers callers use), genam.ts (scan descriptors, key
 * descriptions), ../nbtree/nbtree-am.ts (bthandler, the first AM), ../table/tableam.ts (the table
 * AM interface this one mirrors), README.md.
 *
 * The interface depends on no AM: btree imports these types, never the reverse.
 *
 * Differs from PostgreSQL: the callbacks for features pgsim does not have are left out
 * (amcostestimate, amvalidate, amadjustmembers, amgetbitmap, ammarkpos/amrestrpos, parallel scans,
 * amproperty, ambuildphasename, order-by operators); a scan key is an operator name and a value
 * rather than an operator OID and a function; `amrelinit` (pgsim only) builds the AM's own
 * relcache data (PostgreSQL's rd_amcache / rd_indextuple derived fields).
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import type { IndexDefinition, TableDefinition } from "../../catalog/catalog.js";
import type {
  IndexBulkDeleteCallback,
  IndexBulkDeleteResult,
  IndexVacuumRunInfo,
} from "../../include/commands/vacuum.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import type { Row, TableAmContext, TableRelation, TID } from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";

/** stratnum.h: the B-tree strategy numbers of the comparison operators. */
export const BTLessStrategyNumber = 1;
export const BTLessEqualStrategyNumber = 2;
export const BTEqualStrategyNumber = 3;
export const BTGreaterEqualStrategyNumber = 4;
export const BTGreaterStrategyNumber = 5;

/** The comparison operators a scan key may use. */
export type ScanKeyOperator = "<" | "<=" | "=" | ">=" | ">";

/** The strategy number of each operator. */
export const STRATEGY_OF: Readonly<Record<ScanKeyOperator, number>> = {
  "<": BTLessStrategyNumber,
  "<=": BTLessEqualStrategyNumber,
  "=": BTEqualStrategyNumber,
  ">=": BTGreaterEqualStrategyNumber,
  ">": BTGreaterStrategyNumber,
};

/** skey.h sk_flags: the argument is NULL (with SK_SEARCHNULL / SK_SEARCHNOTNULL only). */
export const SK_ISNULL = 0x0001;
/** skey.h: `indexed column <op> ANY (elements)` (a ScalarArrayOpExpr the AM handles itself). */
export const SK_SEARCHARRAY = 0x0020;
/** skey.h: `indexed column IS NULL`. */
export const SK_SEARCHNULL = 0x0040;
/** skey.h: `indexed column IS NOT NULL`. */
export const SK_SEARCHNOTNULL = 0x0080;

/**
 * ScanKeyData for a search, on index column `attno` (1-based, sk_attno):
 * - `indexed column <op> argument` (flags 0): the argument is never NULL (a strict operator with
 *   a NULL argument matches nothing; the caller refuses it);
 * - `IS NULL` / `IS NOT NULL`: flags SK_ISNULL | SK_SEARCHNULL (or SK_SEARCHNOTNULL), strategy 0
 *   (InvalidStrategy), argument null;
 * - `<op> ANY (elements)`: flags SK_SEARCHARRAY, `elements` the array's values (a NULL element
 *   matches nothing); `argument` is unused.
 */
export interface ScanKey {
  readonly attno: number;
  readonly strategy: number;
  readonly argument: Datum | null;
  readonly flags?: number;
  readonly elements?: readonly (Datum | null)[];
}

/** ScanDirection. */
export type ScanDirection = "forward" | "backward";

/**
 * An index relation as one backend uses it: the catalog entry, its storage, the table columns
 * its key columns are (indkey), the backend's services, its AM (rd_indam), and the AM's own
 * relcache data (`amdata`, built once per entry by the AM's `amrelinit`).
 */
export interface IndexRelation {
  readonly def: IndexDefinition;
  readonly name: string;
  readonly locator: RelFileLocator;
  /** 0-based table attribute of each key column, in index column order (indkey − 1). */
  readonly heapAttIndexes: readonly number[];
  /** Names of the key columns (for error details). */
  readonly columnNames: readonly string[];
  readonly unique: boolean;
  readonly ctx: TableAmContext;
  readonly am: IndexAmRoutine;
  readonly amdata: unknown;
}

/**
 * IndexUniqueCheck: what aminsert checks. `no`: nothing; `yes`: raise the unique violation;
 * `partial` / `existing` (deferred constraints, CREATE INDEX CONCURRENTLY) are not modelled.
 */
export type IndexUniqueCheck = "no" | "yes";

/**
 * IndexScanDescData: a scan of an index, as the AM and indexam.ts share it. The AM keeps its own
 * state in `opaque`; `xsHeaptid` is the TID amgettuple returned; `killPriorTuple` is set by
 * index_fetch_heap before the next amgettuple when the heap said the previous entry's row is
 * dead to everyone; `xsItup` holds the key values when `xsWantItup` (index-only scan).
 */
export interface IndexScanDesc {
  readonly heapRelation: TableRelation | undefined;
  readonly indexRelation: IndexRelation;
  readonly snapshot: Snapshot | undefined;
  readonly xact: Transaction | undefined;
  readonly numberOfKeys: number;
  keyData: readonly ScanKey[];
  /** Return no entries the AM knows to be dead (ignore_killed_tuples: not in recovery). */
  readonly ignoreKilledTuples: boolean;
  /** Index-only scan: the AM must return each entry's key values in `xsItup`. */
  xsWantItup: boolean;
  killPriorTuple: boolean;
  xsHeaptid: TID | undefined;
  xsItup: Row | undefined;
  /** The AM's own scan state (btree: BTScanOpaque), set by ambeginscan. */
  opaque: unknown;
  /** Heap pages fetched by index_fetch_heap (pgsim only: what an index-only scan avoids). */
  heapFetches: number;
}

/**
 * IndexVacuumInfo: what ambulkdelete and amvacuumcleanup are told — VACUUM's view of the run
 * (IndexVacuumRunInfo: analyze_only, estimated_count, num_heap_tuples) with the index and its
 * table.
 */
export interface IndexVacuumInfo extends IndexVacuumRunInfo {
  readonly index: IndexRelation;
  readonly heap: TableRelation;
}

export type { IndexBulkDeleteCallback, IndexBulkDeleteResult };

/** What ambuild reports (IndexBuildResult). */
export interface IndexBuildResult {
  /** heap_tuples: live heap tuples seen. */
  readonly heapTuples: number;
  /** index_tuples: entries added. */
  readonly indexTuples: number;
}

/**
 * IndexAmRoutine. Every member of REQUIRED_INDEX_AM_CALLBACKS must be a function.
 *
 * Rules, as amapi.h and indexam.c state them: callers go through the index_* wrappers of
 * indexam.ts; a callback returns with no content lock held, and with no pin held except the ones
 * a scan keeps between amgettuple calls (released by amrescan and amendscan); bad input is a
 * typed PgsimError raised before anything changes.
 */
export interface IndexAmRoutine {
  /** pg_am.amname. */
  readonly name: string;
  /** Number of operator strategies (5 for btree). */
  readonly amstrategies: number;
  /** Number of support functions (5 for btree). */
  readonly amsupport: number;
  /** Returns entries in key order. */
  readonly amcanorder: boolean;
  /** Scans can go backward. */
  readonly amcanbackward: boolean;
  /** Supports unique indexes. */
  readonly amcanunique: boolean;
  /** Supports more than one key column. */
  readonly amcanmulticol: boolean;
  /** A scan may omit a key on the first column. */
  readonly amoptionalkey: boolean;
  /** Supports IS NULL / IS NOT NULL scan keys (pgsim's scans do not take them yet). */
  readonly amsearchnulls: boolean;
  /** The AM can be clustered on. */
  readonly amclusterable: boolean;
  /** Supports INCLUDE columns. */
  readonly amcaninclude: boolean;

  /**
   * pgsim only: the AM's relcache data for an index entry (checked column types, comparison
   * functions, reloptions), built when a backend opens the index; throws a typed error for a
   * definition the AM cannot serve (CREATE INDEX calls it before storing anything).
   */
  amrelinit(def: IndexDefinition, table: TableDefinition): unknown;

  /**
   * ambuild: fills the new, empty storage of `index` from every row of `heap` an index built now
   * must contain (table_index_build_scan). Throws the AM's errors (a unique violation) with
   * nothing left to clean but the storage, which the caller drops.
   */
  ambuild(heap: TableRelation, index: IndexRelation): IndexBuildResult;

  /** ambuildempty: the init fork of an unlogged index (pgsim: an empty index in place). */
  ambuildempty(index: IndexRelation): void;

  /**
   * aminsert: adds the entry for a new heap tuple at `heapTid` with key `values` (in index
   * column order). With `checkUnique` = "yes" on a unique index, raises the unique violation
   * when a live or running conflicting row exists. Returns false (PostgreSQL's return value for
   * a "yes" check is unused).
   */
  aminsert(
    index: IndexRelation,
    values: readonly (Datum | null)[],
    heapTid: TID,
    heap: TableRelation,
    checkUnique: IndexUniqueCheck,
    indexUnchanged: boolean,
    xact: Transaction | undefined,
  ): boolean;

  /**
   * ambulkdelete: removes every entry whose heap TID `callback` says is dead; one pass over the
   * index (VACUUM's index phase). Accumulates into `stats` when given.
   */
  ambulkdelete(
    info: IndexVacuumInfo,
    stats: IndexBulkDeleteResult | undefined,
    callback: IndexBulkDeleteCallback,
  ): IndexBulkDeleteResult;

  /** amvacuumcleanup: end-of-VACUUM work and statistics (`stats` undefined: no bulk delete ran). */
  amvacuumcleanup(
    info: IndexVacuumInfo,
    stats: IndexBulkDeleteResult | undefined,
  ): IndexBulkDeleteResult | undefined;

  /** amcanreturn: can an index-only scan return column `attno` (1-based) from the index? */
  amcanreturn(index: IndexRelation, attno: number): boolean;

  /**
   * amoptions: validates reloptions (WITH (…)) and returns them parsed, with PostgreSQL's
   * messages for unknown names and out-of-range values.
   */
  amoptions(reloptions: Readonly<Record<string, unknown>>): Record<string, unknown>;

  /** ambeginscan: the AM's scan state (in `scan.opaque`); no page is read yet. */
  ambeginscan(scan: IndexScanDesc): void;

  /** amrescan: (re)starts the scan with `keys`, releasing what the old position held. */
  amrescan(scan: IndexScanDesc, keys: readonly ScanKey[]): void;

  /**
   * amgettuple: the next matching entry in `direction`: sets `scan.xsHeaptid` (and `xsItup` for
   * an index-only scan) and returns true, or returns false at the end. Honours and clears
   * `scan.killPriorTuple` for the entry returned before.
   */
  amgettuple(scan: IndexScanDesc, direction: ScanDirection): boolean;

  /** amendscan: releases every pin the scan holds (after marking killed entries). */
  amendscan(scan: IndexScanDesc): void;
}

/** The callbacks GetIndexAmRoutine insists on. */
export const REQUIRED_INDEX_AM_CALLBACKS = [
  "amrelinit",
  "ambuild",
  "ambuildempty",
  "aminsert",
  "ambulkdelete",
  "amvacuumcleanup",
  "amcanreturn",
  "amoptions",
  "ambeginscan",
  "amrescan",
  "amgettuple",
  "amendscan",
] as const satisfies readonly (keyof IndexAmRoutine)[];

const registry = new Map<string, IndexAmRoutine>();

/**
 * CREATE ACCESS METHOD … TYPE INDEX HANDLER: registers an index AM under its name after checking
 * that every required callback is a function. Per thread, like registerTableAm.
 */
export function registerIndexAm(am: IndexAmRoutine): void {
  if (am === null || typeof am !== "object" || typeof am.name !== "string" || am.name === "") {
    throw new PgsimError("invalid-index-am", "an index access method needs a non-empty name");
  }
  const missing = REQUIRED_INDEX_AM_CALLBACKS.filter(
    (k) => typeof (am as unknown as Record<string, unknown>)[k] !== "function",
  );
  if (missing.length > 0) {
    throw new PgsimError(
      "invalid-index-am",
      `index access method "${am.name}" does not provide required callbacks: ${missing.join(", ")}`,
      { missing },
    );
  }
  if (registry.has(am.name) && registry.get(am.name) !== am) {
    throw new PgsimError("duplicate-index-am", `access method "${am.name}" already exists`);
  }
  registry.set(am.name, am);
}

/** GetIndexAmRoutine: the index AM registered under `name`. */
export function getIndexAm(name: string): IndexAmRoutine {
  const am = registry.get(name);
  if (am === undefined) {
    throw new PgsimError("undefined-index-am", `access method "${String(name)}" does not exist`, {
      name,
    });
  }
  return am;
}

/** The names of the registered index AMs. */
export function indexAmNames(): string[] {
  return [...registry.keys()];
}
