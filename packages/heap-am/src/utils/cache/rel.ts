/**
 * A table as one backend uses it: its catalog entry, storage locator, tuple descriptor, and the
 * backend-private services heap code needs (buffer pool, transaction system, FSM, VM).
 *
 * Models: src/include/utils/rel.h (RelationData: rd_locator, rd_att, rd_options' fillfactor,
 * rd_smgr->smgr_targblock) and the relcache entry built from pg_class/pg_attribute.
 * Entry points: `Relation`, `buildRelation`, `HeapContext`.
 * See also: catalog.ts, heapam.ts, hio.ts.
 */

import type { BufferPool, RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { createTupleDesc, type TupleDesc } from "../../access/common/tupdesc.js";
import type { VisibilityMap } from "../../access/heap/visibilitymap.js";
import type { Transam } from "../../access/transam/transam.js";
import { type TableDefinition, tableLocator } from "../../catalog/catalog.js";
import type { FreeSpaceMap } from "../../storage/freespace/freespace.js";
import type { PgStat } from "../activity/pgstat.js";

/** A relation: catalog facts plus what is derived from them, cached per backend. */
export interface Relation {
  readonly def: TableDefinition;
  readonly name: string;
  readonly locator: RelFileLocator;
  readonly desc: TupleDesc;
  readonly fillfactor: number;
  /** 0-based attribute indexes of "indexed" columns: changing one makes an update non-HOT. */
  readonly hotAttrs: readonly number[];
  /** 0-based attribute indexes of key columns: changing one sets HEAP_KEYS_UPDATED. */
  readonly keyAttrs: readonly number[];
}

/** What heap code needs from the backend it runs in. */
export interface HeapContext {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly fsm: FreeSpaceMap;
  readonly vm: VisibilityMap;
  /** smgr_targblock: the block each relation's last insert went to (per backend). */
  readonly targetBlocks: Map<number, number>;
  /** deadlock_timeout: how long to wait for a row lock before checking for a deadlock (ms). */
  readonly deadlockTimeoutMs?: number;
  /** lock_timeout: give up waiting for a row lock after this long (ms; default 2 minutes). */
  readonly lockTimeoutMs?: number;
  /**
   * The backend's cumulative statistics (rel->pgstat_info's owner); heap code counts into it
   * when it is there (pgstat_should_count_relation).
   */
  readonly pgstat?: PgStat;
}

function attIndexes(def: TableDefinition, names: readonly string[], what: string): number[] {
  return names.map((n) => {
    const i = def.columns.findIndex((c) => c.name === n);
    if (i < 0) {
      throw new PgsimError(
        "undefined-column",
        `column "${n}" named in ${what} does not exist in table "${def.name}"`,
      );
    }
    return i;
  });
}

/** Builds the backend's relation entry from a catalog definition. */
export function buildRelation(def: TableDefinition): Relation {
  const desc = createTupleDesc(
    def.columns.map((c) => ({
      name: c.name,
      type: c.type,
      ...(c.typmod !== undefined ? { typmod: c.typmod } : {}),
      ...(c.notNull ? { notNull: true } : {}),
    })),
  );
  return {
    def,
    name: def.name,
    locator: tableLocator(def),
    desc,
    fillfactor: def.fillfactor,
    hotAttrs: attIndexes(def, def.indexedColumns, "indexedColumns"),
    keyAttrs: attIndexes(def, def.keyColumns ?? [], "keyColumns"),
  };
}
