/**
 * WAL-logging a heap change: the XLOG_HEAP_INSERT record heap_insert writes after placing a
 * tuple on a page, and the page's LSN set to the record's end.
 *
 * Models: src/backend/access/heap/heapam.c — the `if (RelationNeedsWAL(relation))` block of
 * heap_insert (XLOG_HEAP_INIT_PAGE when the tuple is the page's only one, xl_heap_insert as main
 * data, the page registered REGBUF_STANDARD with xl_heap_header + tuple body as block data,
 * XLOG_INCLUDE_ORIGIN, PageSetLSN).
 * Entry points: `logHeapInsert`.
 * See also: include/access/heapam-xlog.ts (the structs), access/transam/xloginsert.ts,
 * docs/reference/postgres-wal.md §5.4; heapam.ts will call this when the heap is WAL-logged.
 *
 * Differs from PostgreSQL: not yet called by heap_insert (pgsim does not log heap changes yet,
 * see access/transam/README-wal.md); no logical decoding (XLH_INSERT_CONTAINS_NEW_TUPLE,
 * REGBUF_KEEP_DATA, XLOG_HEAP2_NEW_CID for catalogs), no speculative insertion.
 */

import type { ForkNumber, RelFileLocator } from "@pgsim/buffer-manager";
import {
  encodeXlHeapInsert,
  heapInsertBlockData,
  XLH_INSERT_ALL_VISIBLE_CLEARED,
  XLOG_HEAP_INIT_PAGE,
  XLOG_HEAP_INSERT,
} from "../../include/access/heapam-xlog.js";
import { pageGetMaxOffsetNumber, pageSetLsn } from "../../storage/page/bufpage.js";
import { RM_HEAP_ID } from "../transam/rmgr.js";
import type { XLogInsertResult, XLogWriter } from "../transam/xlog.js";
import {
  REGBUF_STANDARD,
  REGBUF_WILL_INIT,
  XLOG_INCLUDE_ORIGIN,
  type XLogInsertState,
} from "../transam/xloginsert.js";

/** What heap_insert knows when it logs an insert. */
export interface HeapInsertLogArgs {
  readonly rel: RelFileLocator;
  /** Default MAIN. */
  readonly fork?: ForkNumber;
  readonly block: number;
  /** The page after the tuple was placed on it (its pd_lsn is set to the record's end). */
  readonly page: Uint8Array;
  /** The tuple's line pointer. */
  readonly offnum: number;
  /** The tuple as placed (header included). */
  readonly tuple: Uint8Array;
  /** The inserting transaction (xl_xid). */
  readonly xid: number;
  /** PD_ALL_VISIBLE was set on the page and has been cleared. */
  readonly allVisibleCleared?: boolean;
}

/**
 * Logs an insert as heap_insert does and sets the page's LSN to the record's end. The caller
 * holds the buffer's exclusive lock and has marked it dirty (the WAL rule: change, mark dirty,
 * log, set LSN — all before unlocking).
 */
export function logHeapInsert(
  ins: XLogInsertState,
  wal: XLogWriter,
  args: HeapInsertLogArgs,
): XLogInsertResult {
  let info = XLOG_HEAP_INSERT;
  let bufFlags = REGBUF_STANDARD;
  // The only tuple of a page: redo re-creates the page instead of needing an image of it.
  if (args.offnum === 1 && pageGetMaxOffsetNumber(args.page) === 1) {
    info |= XLOG_HEAP_INIT_PAGE;
    bufFlags |= REGBUF_WILL_INIT;
  }
  const flags = args.allVisibleCleared === true ? XLH_INSERT_ALL_VISIBLE_CLEARED : 0;
  ins.beginInsert();
  ins.registerData(encodeXlHeapInsert({ offnum: args.offnum, flags }));
  ins.registerBuffer(
    0,
    { rel: args.rel, fork: args.fork ?? 0, block: args.block, page: args.page },
    bufFlags,
  );
  ins.registerBufData(0, heapInsertBlockData(args.tuple));
  ins.setRecordFlags(XLOG_INCLUDE_ORIGIN);
  const result = ins.insert(wal, RM_HEAP_ID, info, { xid: args.xid });
  pageSetLsn(args.page, result.endLsn);
  return result;
}
