/**
 * The shared memory of a pgsim database and a backend's attachment to it: the layout is created
 * once (buffer pool, commit log and proc array, catalog, cumulative statistics) into structured-clonable handles, and
 * every backend, in this thread or a worker, attaches to the same memory and builds its private
 * state over it.
 *
 * Models: src/backend/storage/ipc/ipci.c (CreateSharedMemoryAndSemaphores: every shared structure
 * sized and created once, at start-up), src/backend/utils/init/postinit.c (InitPostgres: a backend
 * takes its PGPROC slot and sets up its private state) and postmaster.c's CleanupBackend (after a
 * backend dies: its transaction aborted, its pins and locks released).
 * Entry points: `DatabaseOptions`, `DatabaseShared`, `createDatabaseShared`, `attachBackend`,
 * `recoverDeadBackend`.
 * See also: ../database.ts (Database: create and attach), ../postmaster/cluster.ts (workers).
 *
 * Differs from PostgreSQL: the backend's table AMs are registered when it attaches (PostgreSQL
 * loads an AM's library when a relation first needs it).
 */

import { randomUUID } from "node:crypto";
import {
  attachBufferPool,
  type BufferPool,
  type BufferPoolShared,
  initBufferPool,
  PgsimError,
  recoverBackend,
} from "@pgsim/buffer-manager";
import { registerBuiltinTableAms } from "../access/heap/heapam-handler.js";
import type { TableAmContext } from "../access/table/tableam.js";
import {
  DEFAULT_MAX_XIDS,
  initTransam,
  Transam,
  type TransamShared,
} from "../access/transam/transam.js";
import { Catalog, type CatalogShared, initCatalog } from "../catalog/catalog.js";
import { FreeSpaceMap } from "../storage/freespace/freespace.js";
import { pageIsVerified, pageSetChecksumInplace } from "../storage/page/bufpage.js";
import { PgStat } from "../utils/activity/pgstat.js";
import { initPgStatShmem, type PgStatShared } from "../utils/activity/pgstat-shmem.js";

/** Options for a new database. */
export interface DatabaseOptions {
  /** "disk": a heap in relation files behind the buffer pool; "memory": the pool is the storage. */
  variant: "disk" | "memory";
  /** Buffers in the pool (8 KB each). */
  bufferCount: number;
  /** The data directory (disk only). */
  dataDir?: string;
  /** Data checksums on pages written to disk (initdb -k). Default false, as initdb's default. */
  checksums?: boolean;
  /** Backends that may attach at once (default 64). */
  maxBackends?: number;
  /** Transaction ids the commit log can hold (default 4,194,304). */
  maxXids?: number;
  /** Blocks per segment file (disk; default 131072). */
  segmentBlocks?: number;
  /** deadlock_timeout: how long a row-lock wait lasts before the deadlock check (ms, default 1000). */
  deadlockTimeoutMs?: number;
  /** Tables whose statistics can be kept at once (default 1024; see `tableStats`). */
  statsEntries?: number;
}

/** Everything a worker needs to attach (structured-clonable; the memory is shared). */
export interface DatabaseShared {
  /** A unique id of this database's shared memory (handles arrive as new objects per message). */
  readonly id: string;
  readonly pool: BufferPoolShared;
  readonly transam: TransamShared;
  readonly catalog: CatalogShared;
  /** The cumulative statistics (pg_stat_user_tables and friends). */
  readonly stats: PgStatShared;
  readonly checksums: boolean;
  /** deadlock_timeout in milliseconds (default 1000, as PostgreSQL's). */
  readonly deadlockTimeoutMs?: number;
}

/** CreateSharedMemoryAndSemaphores: lays out and creates all shared memory of a new database. */
export function createDatabaseShared(options: DatabaseOptions): DatabaseShared {
  if (options === null || typeof options !== "object") {
    throw new PgsimError("invalid-option", "database options must be an object");
  }
  const maxBackends = options.maxBackends ?? 64;
  const pool = initBufferPool({
    variant: options.variant,
    bufferCount: options.bufferCount,
    maxBackends,
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    ...(options.segmentBlocks !== undefined ? { segmentBlocks: options.segmentBlocks } : {}),
    ...(options.variant === "disk" ? { dataChecksums: options.checksums === true } : {}),
  });
  return {
    id: randomUUID(),
    pool,
    transam: initTransam(maxBackends, options.maxXids ?? DEFAULT_MAX_XIDS),
    catalog: initCatalog(),
    stats: initPgStatShmem(options.statsEntries),
    checksums: options.checksums === true,
    ...(options.deadlockTimeoutMs !== undefined
      ? { deadlockTimeoutMs: options.deadlockTimeoutMs }
      : {}),
  };
}

/** A backend's private handles on the shared memory, and the context its table AMs run in. */
export interface BackendAttachment {
  readonly pool: BufferPool;
  readonly transam: Transam;
  readonly catalog: Catalog;
  /** The backend's cumulative statistics (pgstat_initialize), also in `ctx.pgstat`. */
  readonly pgstat: PgStat;
  readonly ctx: TableAmContext;
}

/**
 * InitPostgres for one backend: attaches to the buffer pool (with the checksum hooks if the
 * database has checksums), takes a proc-array slot, opens the catalog, and builds the
 * backend-private table AM context (FSM access, insert target blocks, no scan yet).
 */
export function attachBackend(shared: DatabaseShared): BackendAttachment {
  registerBuiltinTableAms();
  const pool = attachBufferPool(shared.pool, {
    pageHooks: shared.checksums
      ? {
          verifyPage: (page, block) => pageIsVerified(page, block, { checksums: true }),
          setChecksum: (page, block) => pageSetChecksumInplace(page, block),
        }
      : {},
  });
  const transam = new Transam(shared.transam, pool.procNumber);
  transam.resetSlot();
  const catalog = new Catalog(shared.catalog);
  const pgstat = new PgStat(shared.stats, pool);
  const ctx: TableAmContext = {
    pool,
    transam,
    fsm: new FreeSpaceMap(pool),
    targetBlocks: new Map(),
    deadlockTimeoutMs: shared.deadlockTimeoutMs ?? 1000,
    scanPin: undefined,
    pgstat,
  };
  return { pool, transam, catalog, pgstat, ctx };
}

/**
 * CleanupBackend for a backend that died without closing (its worker thread was terminated or
 * crashed): its transaction is aborted, waiters wake, and its pins and content locks are
 * released. Returns what was released.
 */
export function recoverDeadBackend(shared: DatabaseShared, procNumber: number) {
  const abortedXid = Transam.recoverBackend(shared.transam, procNumber);
  const buffers = recoverBackend(shared.pool, procNumber);
  return { ...buffers, abortedXid };
}
