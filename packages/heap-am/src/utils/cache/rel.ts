/**
 * A table as one backend uses it: its catalog entry, storage locator, tuple descriptor, fillfactor
 * and the columns that decide HOT and key updates.
 *
 * Models: src/include/utils/rel.h (RelationData: rd_locator, rd_att, rd_options' fillfactor) and
 * the relcache entry built from pg_class/pg_attribute.
 * Entry points: `Relation`, `buildRelation`.
 * See also: catalog.ts, ../../access/table/tableam.ts (TableRelation adds the backend context and
 * the AM, rd_tableam), heapam.ts, hio.ts.
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { createTupleDesc, type TupleDesc } from "../../access/common/tupdesc.js";
import { type TableDefinition, tableLocator } from "../../catalog/catalog.js";

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
