/**
 * A B-tree index as one backend uses it: its catalog entry, storage locator, the tuple
 * descriptor of its key columns, each column's operator class and ordering options, and the
 * reloptions that shape its pages.
 *
 * Models: the index parts of the relcache entry (src/include/utils/rel.h: rd_index->indkey,
 * rd_indoption, rd_opfamily/rd_support through the opclasses, rd_options' BTOptions with
 * fillfactor and deduplicate_items) and nbtree.c's bthandler facts that pgsim needs.
 * Entry points: `BtIndexRelation`, `buildBtIndexRelation`.
 * See also: nbtsort.ts (CREATE INDEX), nbtutils.ts (scan keys), ../../catalog/catalog.ts
 * (IndexDefinition), README.md.
 *
 * Differs from PostgreSQL: no INCLUDE columns and no expression or partial indexes; key types
 * are the ones nbtcompare.ts lists.
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import { type IndexDefinition, type TableDefinition, tableLocator } from "../../catalog/catalog.js";
import { INDEX_MAX_KEYS } from "../../include/access/itup.js";
import { type BTMetaPageData, P_NONE } from "../../include/access/nbtree.js";
import { createTupleDesc, type TupleDesc } from "../common/tupdesc.js";
import { type BtOpclass, btOpclassFor } from "./nbtcompare.js";

/** indoption bit: DESC. */
export const INDOPTION_DESC = 0x0001;
/** indoption bit: NULLS FIRST. */
export const INDOPTION_NULLS_FIRST = 0x0002;

/** One key column of an index. */
export interface BtIndexColumn {
  /** Column name in the table. */
  readonly name: string;
  /** 0-based attribute number in the table (indkey − 1). */
  readonly heapAttIndex: number;
  readonly opclass: BtOpclass;
  /** DESC: comparisons are reversed (stored bytes are not). */
  readonly desc: boolean;
  /** NULLS FIRST (default: DESC ⇒ NULLS FIRST, ASC ⇒ NULLS LAST). */
  readonly nullsFirst: boolean;
}

/**
 * What a backend remembers about an index between insertions and scans (PostgreSQL keeps both in
 * the relcache entry: the metapage copy in rd_amcache, the fastpath block in smgr_targblock).
 * Neither changes a page; both are checked before use, and dropped when they fail the check.
 */
export interface BtRelCache {
  /** A copy of the metapage once the index has a root (_bt_getroot caches it), else undefined. */
  meta: BTMetaPageData | undefined;
  /** The rightmost leaf the last insertion went to (the insertion fastpath), or P_NONE. */
  targetBlock: number;
}

/** A B-tree index relation, per backend. */
export interface BtIndexRelation {
  readonly def: IndexDefinition;
  readonly name: string;
  readonly locator: RelFileLocator;
  readonly columns: readonly BtIndexColumn[];
  /** IndexRelationGetNumberOfKeyAttributes (= all attributes: no INCLUDE). */
  readonly nkeyatts: number;
  /** The index tuple descriptor (the key columns' types, attstorage as in the table). */
  readonly desc: TupleDesc;
  /** Descriptors of the first k attributes, k = 1..nkeyatts (index_truncate_tuple). */
  readonly truncDescs: readonly TupleDesc[];
  readonly unique: boolean;
  /** Leaf fillfactor (reloption, 10..100, default 90). */
  readonly fillfactor: number;
  /** deduplicate_items reloption (default true). */
  readonly deduplicateItems: boolean;
  /** _bt_allequalimage: every key column's opclass is "equal image". */
  readonly allequalimage: boolean;
  /** This backend's cached metapage and fastpath block (never shared between backends). */
  readonly cache: BtRelCache;
}

/** Builds the index relation entry, checking columns and key types (typed errors). */
export function buildBtIndexRelation(
  def: IndexDefinition,
  table: TableDefinition,
): BtIndexRelation {
  if (def.columns.length === 0) {
    throw new PgsimError("invalid-index-definition", "an index needs at least one key column");
  }
  if (def.columns.length > INDEX_MAX_KEYS) {
    throw new PgsimError(
      "too-many-columns",
      `cannot use more than ${INDEX_MAX_KEYS} columns in an index`,
    );
  }
  const columns = def.columns.map((c): BtIndexColumn => {
    const heapAttIndex = table.columns.findIndex((t) => t.name === c.name);
    if (heapAttIndex < 0) {
      throw new PgsimError("undefined-column", `column "${c.name}" does not exist`, {
        column: c.name,
        table: table.name,
      });
    }
    const col = table.columns[heapAttIndex]!;
    const desc = c.desc === true;
    return {
      name: c.name,
      heapAttIndex,
      opclass: btOpclassFor(createTupleDesc([col]).attrs[0]!.typname ?? col.type, c.name),
      desc,
      nullsFirst: c.nullsFirst ?? desc,
    };
  });
  const desc = createTupleDesc(
    columns.map((c) => {
      const col = table.columns[c.heapAttIndex]!;
      return {
        name: c.name,
        type: col.type,
        ...(col.typmod !== undefined ? { typmod: col.typmod } : {}),
      };
    }),
  );
  const truncDescs = columns.map((_, k) =>
    createTupleDesc(
      columns.slice(0, k + 1).map((c) => {
        const col = table.columns[c.heapAttIndex]!;
        return {
          name: c.name,
          type: col.type,
          ...(col.typmod !== undefined ? { typmod: col.typmod } : {}),
        };
      }),
    ),
  );
  return {
    def,
    name: def.name,
    locator: tableLocator(def),
    columns,
    nkeyatts: columns.length,
    desc,
    truncDescs,
    unique: def.unique,
    fillfactor: def.fillfactor,
    deduplicateItems: def.deduplicateItems,
    allequalimage: columns.every((c) => c.opclass.equalimage),
    cache: { meta: undefined, targetBlock: P_NONE },
  };
}
