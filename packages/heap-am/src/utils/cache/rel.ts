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
import { type IndexDefinition, type TableDefinition, tableLocator } from "../../catalog/catalog.js";

/** A relation: catalog facts plus what is derived from them, cached per backend. */
export interface Relation {
  readonly def: TableDefinition;
  readonly name: string;
  readonly locator: RelFileLocator;
  readonly desc: TupleDesc;
  readonly fillfactor: number;
  /**
   * 0-based attribute indexes of indexed columns (those of the table's indexes, plus the
   * deprecated declared `indexedColumns`): changing one makes an update non-HOT.
   */
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

/** Declared column names plus the key columns of `indexes`, each once, in that order. */
function union(declared: readonly string[], indexes: readonly IndexDefinition[]): string[] {
  const names = [...declared];
  for (const i of indexes)
    for (const c of i.columns) if (!names.includes(c.name)) names.push(c.name);
  return names;
}

/**
 * Builds the backend's relation entry from a catalog definition and the table's indexes. The
 * HOT columns are RelationGetIndexAttrBitmap's INDEX_ATTR_BITMAP_HOT_BLOCKING: the key columns of
 * every index of the table; the key columns (HEAP_KEYS_UPDATED) are those of its unique indexes.
 * The definition's deprecated `indexedColumns` / `keyColumns` (declared columns with no index
 * behind them, from before pgsim had indexes) are added to them.
 */
export function buildRelation(
  def: TableDefinition,
  indexes: readonly IndexDefinition[] = [],
): Relation {
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
    hotAttrs: attIndexes(def, union(def.indexedColumns, indexes), "indexedColumns"),
    keyAttrs: attIndexes(
      def,
      union(
        def.keyColumns ?? [],
        indexes.filter((i) => i.unique),
      ),
      "keyColumns",
    ),
  };
}
