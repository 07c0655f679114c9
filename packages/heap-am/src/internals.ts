/**
 * Everything @pgsim/heap-am has, for other pgsim packages and tests: pages and the offline
 * inspector (bufpage.ts, checksum.ts, fsm-page.ts, visibilitymap-page.ts, inspect/), tuples, data
 * types and the commit log (htup-details.ts, heaptuple.ts, tupdesc.ts, varatt.ts, le-bytes.ts,
 * clog.ts, types/, inspect/heap-page-items.ts, inspect/rows.ts), TOAST decompression (common/).
 * Sorted by module.
 */

export * from "./backend-worker.js";
export * from "./bufpage.js";
export * from "./catalog.js";
export * from "./checksum.js";
export * from "./clog.js";
export * from "./cluster.js";
export * from "./common/lz4-decompress.js";
export * from "./common/pg-lzcompress.js";
export * from "./database.js";
export * from "./fork-pages.js";
export * from "./freespace.js";
export * from "./fsm-page.js";
export * from "./heapam.js";
export * from "./heapam-handler.js";
export * from "./heapam-visibility.js";
export * from "./heaptuple.js";
export * from "./hio.js";
export * from "./htup-details.js";
export * from "./inspect/blocks.js";
export * from "./inspect/checksum.js";
export * from "./inspect/columns.js";
export * from "./inspect/files.js";
export * from "./inspect/fsm.js";
export * from "./inspect/heap-page-items.js";
export * from "./inspect/main.js";
export * from "./inspect/page-header.js";
export * from "./inspect/page-kind.js";
export * from "./inspect/rows.js";
export * from "./inspect/text.js";
export * from "./inspect/toast.js";
export * from "./inspect/varlena.js";
export * from "./inspect/visibility.js";
export * from "./inspect/vm.js";
export * from "./le-bytes.js";
export * from "./pruneheap.js";
export * from "./rel.js";
export * from "./snapmgr.js";
export * from "./tableam.js";
export * from "./transam.js";
export * from "./tupdesc.js";
export * from "./types/bool.js";
export * from "./types/bytea.js";
export * from "./types/char.js";
export * from "./types/date.js";
export * from "./types/datetime.js";
export * from "./types/float.js";
export * from "./types/index.js";
export * from "./types/int.js";
export * from "./types/interval.js";
export * from "./types/name.js";
export * from "./types/numeric.js";
export * from "./types/oid.js";
export * from "./types/text.js";
export * from "./types/timestamp.js";
export * from "./types/type-codec.js";
export * from "./types/uuid.js";
export * from "./vacuumlazy.js";
export * from "./varatt.js";
export * from "./visibilitymap.js";
export * from "./visibilitymap-page.js";
export * from "./xact.js";
