/**
 * @pgsim/heap-am's public API: pages (bufpage.ts, checksum.ts, fsm-page.ts,
 * visibilitymap-page.ts), tuples, data types and the commit log (htup-details.ts, tupdesc.ts,
 * heaptuple.ts, types/, clog.ts), and pgsim-inspect's commands (inspect/). Sorted by module.
 *
 * Models: pgsim only (the package's public entry point).
 */

export {
  type Fault,
  type FaultRule,
  type FaultRuleState,
  INJECTION_POINTS,
  type InjectionPointName,
  PanicError,
} from "@pgsim/buffer-manager";
export { AssertionError, PgsimError } from "@pgsim/clock-sweep";
export {
  type AttributeSpan,
  heapAttributeSpans,
  heapComputeDataSize,
  heapDeformTuple,
  heapFormTuple,
  type TupleValues,
} from "./access/common/heaptuple.js";
export {
  type ColumnDefinition,
  createTupleDesc,
  type FormPgAttribute,
  type TupleDesc,
  tupleDescFromAttributeRows,
  tupleDescWithTypeStorage,
} from "./access/common/tupdesc.js";
export {
  heapTableAm,
  memheapTableAm,
  registerBuiltinTableAms,
} from "./access/heap/heapam-handler.js";
export { HTSV, heapTupleVisibleToNewSnapshot } from "./access/heap/heapam-visibility.js";
export { BulkInsertState } from "./access/heap/hio.js";
export { formatVacuumVerbose, vacEstimateReltuples } from "./access/heap/vacuum-report.js";
export {
  HEAPBLOCKS_PER_PAGE,
  VISIBILITYMAP_ALL_FROZEN,
  VISIBILITYMAP_ALL_VISIBLE,
  vmClearBits,
  vmGetStatus,
  vmSetBits,
} from "./access/heap/visibilitymap-page.js";
export {
  getIndexAm,
  type IndexAmRoutine,
  type IndexRelation,
  type IndexScanDesc,
  type IndexVacuumInfo,
  indexAmNames,
  registerIndexAm,
  type ScanKey,
  type ScanKeyOperator,
} from "./access/index/amapi.js";
export type { BtCheckOptions, BtCheckResult } from "./access/nbtree/verify-nbtree.js";
export {
  type BulkInsertStateData,
  type ColumnBatch,
  type ColumnValues,
  type CompiledAssignment,
  columnBatchRow,
  getTableAm,
  type IndexFetchState,
  type LockTupleMode,
  makeSlot,
  REQUIRED_CALLBACKS,
  type Row,
  registerTableAm,
  type ScanModifyOp,
  type ScanModifyPageResult,
  type ScanModifyRowFallback,
  type SizeEstimate,
  type TableAccessMethod,
  type TableAmContext,
  type TableRelation,
  type TableScanDesc,
  type TableUpdateOutcome,
  type TID,
  TM,
  type TMOutcome,
  type TMResult,
  type TupleTableSlot,
  tableAmNames,
  tableBeginScan,
  tableEndScan,
  tableIndexFetchTuple,
  tableMultiInsert,
  tableMultiInsertColumns,
  tableRelationEstimateSize,
  tableRelationSize,
  tableRelationVacuum,
  tableRescan,
  tableScanGetNextSlot,
  tableTupleDelete,
  tableTupleFetchRowVersion,
  tableTupleInsert,
  tableTupleLock,
  tableTupleSatisfiesSnapshot,
  tableTupleUpdate,
} from "./access/table/tableam.js";
export {
  type CommitLog,
  clogPageGetStatus,
  clogPageSetStatus,
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  TRANSACTION_STATUS_IN_PROGRESS,
  TRANSACTION_STATUS_SUB_COMMITTED,
  transactionIdGetStatus,
  type XidStatus,
} from "./access/transam/clog.js";
export type { IsolationLevel } from "./access/transam/xact.js";
export type { IndexColumnDefinition, IndexDefinition } from "./catalog/catalog.js";
export {
  type CatalogColumn,
  PGSIM_DATABASE_OID,
  type TableDefinition,
} from "./catalog/catalog.js";
export {
  type BulkStatementOptions,
  type CreateIndexOptions,
  type CreateIndexResult,
  type CreateTableOptions,
  Database,
  type DatabaseOptions,
  type DatabaseShared,
  DatabaseTransaction,
  type FaultHandle,
  type IndexScanOptions,
  type IndexWhereKey,
  type InsertBatchesOptions,
  type RowChangeOptions,
  type RowLockMode,
  type RowLockOptions,
  type RowWithTid,
  type UpdateAssignment,
  type UpdateSet,
} from "./database.js";
export type {
  BufferCacheRelationRow,
  LastVacuumReport,
  StatioUserTablesRow,
  StatUserTablesRow,
} from "./database-stats.js";
export type { IndexOnlyScanResult } from "./executor/node-indexscan.js";
export {
  type HeapTupleHeaderFields,
  type InfomaskFlagNames,
  type ItemPointer,
  infomaskFlagNames,
  itemPointerToString,
  MaxHeapAttributeNumber,
  MaxHeapTupleSize,
  MaxHeapTuplesPerPage,
  readHeapTupleHeader,
  SizeofHeapTupleHeader,
} from "./include/access/htup-details.js";
export type {
  IndexBulkDeleteCallback,
  IndexBulkDeleteResult,
  IndexVacuumRunInfo,
  VacuumIndex,
  VacuumIndexResult,
  VacuumOptions,
  VacuumResult,
} from "./include/commands/vacuum.js";
export type { Snapshot } from "./include/utils/snapshot.js";
export type { BtMetapRow, BtPageItemRow, BtPageStatsRow } from "./inspect/btree.js";
export { type ChecksumRow, inspectChecksums } from "./inspect/checksum.js";
export { type PgAttributeRow, pgAttributeRows } from "./inspect/columns.js";
export { type FreeSpaceRow, inspectFsm, inspectFsmPageContents } from "./inspect/fsm.js";
export {
  type HeapPageItem,
  type HeapPageItemsBlock,
  inspectHeapPageItems,
} from "./inspect/heap-page-items.js";
export { type InspectResult, type RunInspectOptions, runInspect } from "./inspect/main.js";
export { inspectPageHeader, type PageHeaderRow } from "./inspect/page-header.js";
export {
  type HiddenTuples,
  type InspectRowsOptions,
  type InspectRowsResult,
  inspectRows,
  type RowValue,
} from "./inspect/rows.js";
export type { ToastPointer } from "./inspect/varlena.js";
export { inspectVm, type VisibilityMapRow } from "./inspect/vm.js";
export type { BackendResult, BackendTask, Op, TaskError } from "./postmaster/backend-worker.js";
export {
  type BackendRecovery,
  Cluster,
  type ClusterOptions,
  Session,
} from "./postmaster/cluster.js";
export {
  fsmGetAvail,
  fsmGetLocation,
  fsmGetMaxAvail,
  fsmLogicalToPhysical,
  fsmSearchAvail,
  fsmSetAvail,
  fsmSpaceAvailToCat,
  fsmSpaceCatToAvail,
  fsmSpaceNeededToCat,
  SlotsPerFSMPage,
} from "./storage/freespace/fsm-page.js";
export {
  FirstOffsetNumber,
  itemIdGetFlags,
  itemIdGetLength,
  itemIdGetOffset,
  itemIdHasStorage,
  itemIdIsDead,
  itemIdIsNormal,
  itemIdIsRedirected,
  itemIdIsUsed,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  MaxOffsetNumber,
  PAI_IS_HEAP,
  PAI_OVERWRITE,
  type PageVerifyOptions,
  type PageVerifyOutcome,
  PD_ALL_VISIBLE,
  PD_HAS_FREE_LINES,
  PD_PAGE_FULL,
  PG_PAGE_LAYOUT_VERSION,
  pageAddItemExtended,
  pageGetExactFreeSpace,
  pageGetFreeSpace,
  pageGetHeapFreeSpace,
  pageGetItem,
  pageGetItemId,
  pageGetMaxOffsetNumber,
  pageInit,
  pageIsNew,
  pageIsVerified,
  pageRepairFragmentation,
  pageSetChecksumCopy,
  pageSetChecksumInplace,
  pageVerify,
  SizeOfPageHeaderData,
} from "./storage/page/bufpage.js";
export { pgChecksumPage } from "./storage/page/checksum.js";
export type { VacuumReport } from "./utils/activity/pgstat-relation.js";
export { DATEVAL_NOBEGIN, DATEVAL_NOEND } from "./utils/adt/date.js";
export {
  type AttAlign,
  type AttStorage,
  type Datum,
  decodeDatum,
  encodeDatum,
  type IntervalValue,
  lookupType,
  type ResolvedType,
  resolveTypeName,
  type TypeCodec,
  type VarlenaHeaderChoice,
} from "./utils/adt/index.js";
export { DT_NOBEGIN, DT_NOEND } from "./utils/adt/timestamp.js";
