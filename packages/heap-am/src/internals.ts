/**
 * Everything @pgsim/heap-am has, for other pgsim packages and tests: pages and the offline
 * inspector (bufpage.ts, checksum.ts, fsm-page.ts, visibilitymap-page.ts, inspect/), tuples, data
 * types and the commit log (htup-details.ts, heaptuple.ts, tupdesc.ts, varatt.ts, le-bytes.ts,
 * clog.ts, types/, inspect/heap-page-items.ts, inspect/rows.ts). Sorted by module.
 *
 * Models: pgsim only (everything, for other pgsim packages and tests).
 */

export * from "./access/common/heaptuple.js";
export * from "./access/common/indextuple.js";
export * from "./access/common/tupdesc.js";
export * from "./access/heap/heapam.js";
export * from "./access/heap/heapam-handler.js";
export * from "./access/heap/heapam-index-build.js";
export * from "./access/heap/heapam-visibility.js";
export * from "./access/heap/hio.js";
export * from "./access/heap/pruneheap.js";
export * from "./access/heap/vacuum-report.js";
export * from "./access/heap/vacuumlazy.js";
export * from "./access/heap/visibilitymap.js";
export * from "./access/heap/visibilitymap-page.js";
export * from "./access/nbtree/nbtcompare.js";
export * from "./access/nbtree/nbtdedup.js";
export * from "./access/nbtree/nbtpage.js";
export * from "./access/nbtree/nbtree.js";
export * from "./access/nbtree/nbtsort.js";
export * from "./access/nbtree/nbtutils.js";
export * from "./access/table/tableam.js";
export * from "./access/transam/clog.js";
export * from "./access/transam/transam.js";
export * from "./access/transam/varsup.js";
export * from "./access/transam/xact.js";
export * from "./catalog/catalog.js";
export * from "./common/lz4-decompress.js";
export * from "./common/pg-lzcompress.js";
export * from "./database/introspect.js";
export * from "./database/shmem.js";
export * from "./database/transaction.js";
export * from "./database.js";
export * from "./database-stats.js";
export * from "./include/access/htup-details.js";
export * from "./include/access/itup.js";
export * from "./include/access/nbtree.js";
export * from "./include/access/transam.js";
export * from "./include/commands/vacuum.js";
export * from "./include/port/le-bytes.js";
export * from "./include/utils/snapshot.js";
export * from "./include/varatt.js";
export * from "./inspect/blocks.js";
export * from "./inspect/btree.js";
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
export * from "./postmaster/backend-worker.js";
export * from "./postmaster/cluster.js";
export * from "./storage/buffer/fork-pages.js";
export * from "./storage/freespace/freespace.js";
export * from "./storage/freespace/fsm-page.js";
export * from "./storage/ipc/procarray.js";
export * from "./storage/ipc/transam-shmem.js";
export * from "./storage/lmgr/deadlock.js";
export * from "./storage/lmgr/lmgr.js";
export * from "./storage/page/bufpage.js";
export * from "./storage/page/checksum.js";
export * from "./utils/activity/pgstat.js";
export * from "./utils/activity/pgstat-relation.js";
export * from "./utils/activity/pgstat-shmem.js";
export * from "./utils/adt/bool.js";
export * from "./utils/adt/bytea.js";
export * from "./utils/adt/char.js";
export * from "./utils/adt/date.js";
export * from "./utils/adt/datetime.js";
export * from "./utils/adt/float.js";
export * from "./utils/adt/index.js";
export * from "./utils/adt/int.js";
export * from "./utils/adt/interval.js";
export * from "./utils/adt/name.js";
export * from "./utils/adt/numeric.js";
export * from "./utils/adt/oid.js";
export * from "./utils/adt/text.js";
export * from "./utils/adt/timestamp.js";
export * from "./utils/adt/type-codec.js";
export * from "./utils/adt/uuid.js";
export * from "./utils/cache/rel.js";
export * from "./utils/time/snapmgr.js";
