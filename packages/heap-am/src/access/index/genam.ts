/**
 * General index-AM support: making a scan descriptor, and describing an index key for error
 * messages.
 *
 * Models: src/backend/access/index/genam.c (RelationGetIndexScan, IndexScanEnd,
 * BuildIndexValueDescription).
 * Entry points: `relationGetIndexScan`, `buildIndexValueDescription`.
 * See also: amapi.ts (IndexScanDesc), indexam.ts (index_beginscan calls relationGetIndexScan),
 * ../nbtree/nbtinsert-unique.ts (the unique violation's DETAIL).
 *
 * Differs from PostgreSQL: the key description is always shown (PostgreSQL omits it when the
 * user lacks SELECT rights on the columns: pgsim has no privileges).
 */

import type { Snapshot } from "../../include/utils/snapshot.js";
import type { Datum } from "../../utils/adt/type-codec.js";
import type { TupleDesc } from "../common/tupdesc.js";
import type { TableRelation } from "../table/tableam.js";
import type { Transaction } from "../transam/xact.js";
import type { IndexRelation, IndexScanDesc } from "./amapi.js";

/**
 * RelationGetIndexScan: a fresh scan descriptor for `index` (no keys yet; the AM's ambeginscan
 * fills `opaque`).
 */
export function relationGetIndexScan(
  heap: TableRelation | undefined,
  index: IndexRelation,
  snapshot: Snapshot | undefined,
  xact: Transaction | undefined,
  nkeys: number,
): IndexScanDesc {
  return {
    heapRelation: heap,
    indexRelation: index,
    snapshot,
    xact,
    numberOfKeys: nkeys,
    keyData: [],
    ignoreKilledTuples: true,
    xsWantItup: false,
    killPriorTuple: false,
    xsHeaptid: undefined,
    xsItup: undefined,
    opaque: undefined,
    heapFetches: 0,
  };
}

/**
 * BuildIndexValueDescription: `(col1, col2)=(val1, val2)`, each value through its type's output
 * function, NULL as `null` — the form of the unique violation's DETAIL.
 */
export function buildIndexValueDescription(
  index: { readonly columns: readonly { readonly name: string }[]; readonly desc: TupleDesc },
  values: readonly (Datum | null)[],
): string {
  const names = index.columns.map((c) => c.name).join(", ");
  const shown = index.columns
    .map((_, i) => {
      const v = values[i] ?? null;
      const att = index.desc.attrs[i]!;
      if (v === null || att.codec === null) return "null";
      return att.codec.output(v as never, att.atttypmod);
    })
    .join(", ");
  return `(${names})=(${shown})`;
}
