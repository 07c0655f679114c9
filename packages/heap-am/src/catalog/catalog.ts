/**
 * The catalog of tables, in shared memory so that every backend sees the same tables.
 *
 * Models: pg_class and pg_attribute (a table's relfilenode, name, access method, options and
 * columns) and the relcache that each backend builds from them (here: a parsed copy refreshed
 * when the shared version changes), plus GetNewRelFileNumber.
 * Entry points: `catalogShmemSize`, `initCatalog`, `Catalog` (`createTable`, `dropTable`,
 * `renumberTable`, `lookup`, `list`).
 * See also: database.ts (the public API), tableam.ts (access methods named here).
 *
 * Layout (one SharedArrayBuffer): Int32 [lock, version, byte length, next relNumber], then the
 * catalog as UTF-8 JSON. Writers take the lock (a spinlock: catalog changes are rare), write the
 * new text, and bump the version; readers copy the text under the lock when the version they
 * cached is stale.
 *
 * Differs from PostgreSQL: no OIDs apart from relNumber (a table's OID and relfilenode are the
 * same number and change on TRUNCATE); catalog changes are not transactional (CREATE and DROP take
 * effect at once, even if the transaction that asked aborts); a single database (OID 5) in the
 * default tablespace.
 */

import { DEFAULTTABLESPACE_OID, type RelFileLocator } from "@pgsim/buffer-manager";
import { PgsimError, spinDelay } from "@pgsim/clock-sweep";
import { xidIsNormal, xidPrecedes } from "../include/access/transam.js";

/** The database OID every pgsim table lives in ("postgres" after initdb is 5). */
export const PGSIM_DATABASE_OID = 5;
/** FirstNormalObjectId: user relations start here. */
export const FIRST_NORMAL_OBJECT_ID = 16384;
/** NAMEDATALEN − 1: the longest identifier. */
export const MAX_IDENTIFIER_LENGTH = 63;

const H_LOCK = 0;
const H_VERSION = 1;
const H_LENGTH = 2;
const H_NEXT_REL = 3;
const HEADER_BYTES = 16;

/** A column as the catalog stores it. */
export interface CatalogColumn {
  name: string;
  type: string;
  typmod?: number;
  notNull?: boolean;
}

/** A table as the catalog stores it. */
export interface TableDefinition {
  /** relfilenode: the table's file number (and OID). */
  relNumber: number;
  name: string;
  columns: CatalogColumn[];
  /** Table access method name (pg_class.relam). */
  am: string;
  /** Heap fillfactor, 10..100. */
  fillfactor: number;
  /**
   * Deprecated: columns declared "indexed" with no index behind them (from before pgsim had
   * indexes). They count as HOT-blocking columns in addition to the key columns of the table's
   * real indexes (`Catalog.listIndexes`), which is what decides HOT now; nothing is indexed.
   */
  indexedColumns: string[];
  /**
   * Deprecated: declared key columns (heap_update's key_attrs) in addition to those of the
   * table's unique indexes: changing one sets HEAP_KEYS_UPDATED on the old version.
   */
  keyColumns?: string[];
  /** pg_class.relpages as the last VACUUM left it (0 before any). */
  relpages?: number;
  /** pg_class.reltuples (a float4) as the last VACUUM left it; −1 before any. */
  reltuples?: number;
  /** pg_class.relallvisible. */
  relallvisible?: number;
  /**
   * pg_class.relfrozenxid: every xid in the table is at least this. A new table gets the xid
   * before the next one (PostgreSQL's CREATE TABLE takes an xid and records its RecentXmin;
   * pgsim's DDL takes none, so the next xid stands in for the CREATE's own).
   */
  relfrozenxid?: number;
  /**
   * How many relcache (or smgr) invalidations this table has had: a backend that sees the
   * number change when it processes invalidations closes its smgr entry, forgetting its insert
   * target block.
   */
  invalidations?: number;
  /**
   * pg_class.relpersistence: "permanent" ('p', the default) or "unlogged" ('u': CREATE UNLOGGED
   * TABLE — its changes are not written to the WAL; crash recovery empties it).
   */
  persistence?: "permanent" | "unlogged";
}

/** The pg_class statistics VACUUM writes (vac_update_relstats). */
export interface RelStats {
  relpages: number;
  reltuples: number;
  relallvisible: number;
  /** The new relfrozenxid, or undefined to leave it. */
  relfrozenxid: number | undefined;
}

/** One key column of an index as the catalog stores it (pg_index.indkey and indoption). */
export interface IndexColumnDefinition {
  /** The table column. */
  name: string;
  /** DESC (indoption bit 0x0001). */
  desc?: boolean;
  /** NULLS FIRST (indoption bit 0x0002); unset means the default: DESC ⇒ first, ASC ⇒ last. */
  nullsFirst?: boolean;
}

/** An index as the catalog stores it (pg_class + pg_index rows of the index). */
export interface IndexDefinition {
  /** relfilenode: the index's own file number (and OID). */
  relNumber: number;
  name: string;
  /** The indexed table's name. */
  table: string;
  /** Index access method (pg_class.relam): "btree". */
  am: "btree";
  columns: IndexColumnDefinition[];
  /** pg_index.indisunique. */
  unique: boolean;
  /** The `fillfactor` reloption (leaf pages), 10..100. */
  fillfactor: number;
  /** The `deduplicate_items` reloption. */
  deduplicateItems: boolean;
  /** pg_class.relpages as CREATE INDEX or the last VACUUM left it. */
  relpages?: number;
  /** pg_class.reltuples (a float4) as CREATE INDEX or the last VACUUM left it; −1 before any. */
  reltuples?: number;
}

interface CatalogData {
  tables: TableDefinition[];
  /** Absent in catalogs written before indexes existed. */
  indexes?: IndexDefinition[];
}

export interface CatalogShared {
  readonly sab: SharedArrayBuffer;
}

/** Bytes of shared memory for a catalog of at most `maxBytes` of JSON. */
export function catalogShmemSize(maxBytes: number): number {
  return HEADER_BYTES + maxBytes;
}

export function initCatalog(maxBytes = 1 << 20): CatalogShared {
  const sab = new SharedArrayBuffer(catalogShmemSize(maxBytes));
  const h = new Int32Array(sab, 0, 4);
  const text = new TextEncoder().encode(JSON.stringify({ tables: [] } satisfies CatalogData));
  new Uint8Array(sab, HEADER_BYTES).set(text);
  h[H_LENGTH] = text.length;
  h[H_VERSION] = 1;
  h[H_NEXT_REL] = FIRST_NORMAL_OBJECT_ID;
  return { sab };
}

/** The locator of a table's storage. */
export function tableLocator(def: { relNumber: number }): RelFileLocator {
  return { spcOid: DEFAULTTABLESPACE_OID, dbOid: PGSIM_DATABASE_OID, relNumber: def.relNumber };
}

/**
 * Tables and indexes share one namespace, as relations do in PostgreSQL: throws
 * `duplicate-table` ("relation … already exists") when `name` is taken by either.
 */
function checkRelationNameFree(data: CatalogData, name: string): void {
  if (
    data.tables.some((t) => t.name === name) ||
    (data.indexes ?? []).some((i) => i.name === name)
  ) {
    throw new PgsimError("duplicate-table", `relation "${name}" already exists`, { name });
  }
}

/** One backend's view of the shared catalog. */
export class Catalog {
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;
  private cachedVersion = 0;
  private cached: CatalogData = { tables: [] };
  private walHook: ((image: Uint8Array) => void) | undefined;

  constructor(shared: CatalogShared) {
    this.header = new Int32Array(shared.sab, 0, 4);
    this.bytes = new Uint8Array(shared.sab, HEADER_BYTES);
  }

  private lock(): void {
    for (let spins = 1; Atomics.compareExchange(this.header, H_LOCK, 0, 1) !== 0; spins++) {
      spinDelay(spins);
    }
  }

  private unlock(): void {
    Atomics.store(this.header, H_LOCK, 0);
  }

  /** The catalog as of now (re-read only when another backend changed it). */
  private current(): CatalogData {
    if (Atomics.load(this.header, H_VERSION) !== this.cachedVersion) {
      this.lock();
      try {
        this.readLocked();
      } finally {
        this.unlock();
      }
    }
    return this.cached;
  }

  private readLocked(): void {
    const length = this.header[H_LENGTH]!;
    const text = new TextDecoder().decode(this.bytes.slice(0, length));
    this.cached = JSON.parse(text) as CatalogData;
    this.cachedVersion = this.header[H_VERSION]!;
  }

  private writeLocked(data: CatalogData): void {
    const text = new TextEncoder().encode(JSON.stringify(data));
    const changed =
      text.length !== this.header[H_LENGTH] || !text.every((b, i) => b === this.bytes[i]);
    if (text.length > this.bytes.length) {
      throw new PgsimError(
        "catalog-full",
        `the shared catalog is full (${this.bytes.length} bytes): drop tables or start with a larger catalog`,
      );
    }
    // The change is logged before it is made, still under the lock, so that the images in the
    // WAL are in the order the changes were made (each record is the whole catalog).
    if (changed && this.walHook !== undefined) this.walHook(this.imageLocked(text));
    this.bytes.set(text);
    this.header[H_LENGTH] = text.length;
    Atomics.add(this.header, H_VERSION, 1);
    this.cached = data;
    this.cachedVersion = this.header[H_VERSION]!;
  }

  /** The catalog image: `{"nextRelNumber":N,"tables":…}` as UTF-8 JSON. */
  private imageLocked(tablesText: Uint8Array): Uint8Array {
    const prefix = new TextEncoder().encode(
      `{"nextRelNumber":${Atomics.load(this.header, H_NEXT_REL)},"catalog":`,
    );
    const image = new Uint8Array(prefix.length + tablesText.length + 1);
    image.set(prefix);
    image.set(tablesText, prefix.length);
    image[image.length - 1] = 0x7d; // "}"
    return image;
  }

  /**
   * Logs every change of the catalog from now on through `hook` (this backend's), called under
   * the catalog lock with the whole catalog as it will be after the change (see `image`). The
   * disk-backed database with WAL sets it; pgsim's catalog is logged as full images by its own
   * resource manager (database/catalog-xlog.ts).
   */
  setWalHook(hook: ((image: Uint8Array) => void) | undefined): void {
    this.walHook = hook;
  }

  /** The whole catalog (tables and the next relfilenode number) as one image, for a checkpoint. */
  image(): Uint8Array {
    this.lock();
    try {
      const length = this.header[H_LENGTH]!;
      return this.imageLocked(this.bytes.slice(0, length));
    } finally {
      this.unlock();
    }
  }

  /**
   * Replaces the whole catalog with an image made by `image` or logged through the WAL hook
   * (start-up and redo). Returns the tables of the replaced catalog.
   */
  restore(image: Uint8Array): readonly TableDefinition[] {
    let parsed: { nextRelNumber: number; catalog: CatalogData };
    try {
      parsed = JSON.parse(new TextDecoder().decode(image)) as typeof parsed;
    } catch (e) {
      throw new PgsimError("catalog-corrupt", `invalid catalog image: ${(e as Error).message}`);
    }
    if (!Number.isInteger(parsed?.nextRelNumber) || !Array.isArray(parsed.catalog?.tables)) {
      throw new PgsimError(
        "catalog-corrupt",
        "invalid catalog image: missing tables or nextRelNumber",
      );
    }
    this.lock();
    try {
      this.readLocked();
      const before = this.cached.tables;
      const text = new TextEncoder().encode(JSON.stringify(parsed.catalog));
      if (text.length > this.bytes.length) {
        throw new PgsimError("catalog-full", "the catalog image does not fit the shared catalog");
      }
      this.bytes.set(text);
      this.header[H_LENGTH] = text.length;
      Atomics.store(this.header, H_NEXT_REL, parsed.nextRelNumber);
      Atomics.add(this.header, H_VERSION, 1);
      this.readLocked();
      return before;
    } finally {
      this.unlock();
    }
  }

  /** Applies `change` to a fresh copy of the catalog under the lock. */
  private modify<T>(change: (data: CatalogData) => T): T {
    this.lock();
    try {
      this.readLocked();
      const data = structuredClone(this.cached);
      const result = change(data);
      this.writeLocked(data);
      return result;
    } finally {
      this.unlock();
    }
  }

  /** The relfilenode number the next new table gets (pgsim's nextOid). */
  get nextRelNumber(): number {
    return Atomics.load(this.header, H_NEXT_REL);
  }

  /** Every table, in creation order. */
  list(): readonly TableDefinition[] {
    return this.current().tables;
  }

  /** The table called `name`, or undefined. */
  lookup(name: string): TableDefinition | undefined {
    return this.current().tables.find((t) => t.name === name);
  }

  /** The table called `name`, or the error PostgreSQL gives. */
  get(name: string): TableDefinition {
    const t = this.lookup(name);
    if (t === undefined) {
      throw new PgsimError("undefined-table", `relation "${String(name)}" does not exist`, {
        name,
      });
    }
    return t;
  }

  /** Every index, in creation order (of one table when `table` is given). */
  listIndexes(table?: string): readonly IndexDefinition[] {
    const all = this.current().indexes ?? [];
    return table === undefined ? all : all.filter((i) => i.table === table);
  }

  /** The index called `name`, or the error PostgreSQL gives. */
  getIndex(name: string): IndexDefinition {
    const i = this.listIndexes().find((x) => x.name === name);
    if (i === undefined) {
      throw new PgsimError("undefined-table", `relation "${String(name)}" does not exist`, {
        name,
      });
    }
    return i;
  }

  /**
   * Adds an index with a new relNumber (index_create's catalog part). Indexes and tables share
   * one namespace, as relations do in PostgreSQL. The table's HOT and key columns grow by the
   * index's columns (RelationGetIndexAttrBitmap sees the new index): the table's entry changes, so
   * backends rebuild their relation entry.
   */
  createIndex(def: Omit<IndexDefinition, "relNumber">): IndexDefinition {
    checkIdentifier(def.name, "index");
    return this.modify((data) => {
      checkRelationNameFree(data, def.name);
      const table = data.tables.find((t) => t.name === def.table);
      if (table === undefined) {
        throw new PgsimError("undefined-table", `relation "${def.table}" does not exist`, {
          name: def.table,
        });
      }
      // The table's relcache entry is rebuilt (its HOT columns include the new index's).
      table.invalidations = (table.invalidations ?? 0) + 1;
      const relNumber = Atomics.add(this.header, H_NEXT_REL, 1);
      const index: IndexDefinition = { ...def, relNumber };
      data.indexes = [...(data.indexes ?? []), index];
      return index;
    });
  }

  /**
   * Removes an index from the catalog (DROP INDEX). The table's entry changes too, so backends
   * rebuild their relation entry without the index's HOT columns.
   */
  dropIndex(name: string): IndexDefinition {
    return this.modify((data) => {
      const i = (data.indexes ?? []).findIndex((x) => x.name === name);
      if (i < 0)
        throw new PgsimError("undefined-table", `relation "${name}" does not exist`, { name });
      const [gone] = data.indexes!.splice(i, 1);
      const table = data.tables.find((t) => t.name === gone!.table);
      if (table !== undefined) table.invalidations = (table.invalidations ?? 0) + 1;
      return gone!;
    });
  }

  /** Gives an index a new relNumber (TRUNCATE of its table rebuilds it empty). */
  renumberIndex(name: string): { before: IndexDefinition; after: IndexDefinition } {
    return this.modify((data) => {
      const i = (data.indexes ?? []).find((x) => x.name === name);
      if (i === undefined)
        throw new PgsimError("undefined-table", `relation "${name}" does not exist`);
      const before = { ...i };
      i.relNumber = Atomics.add(this.header, H_NEXT_REL, 1);
      return { before, after: { ...i } };
    });
  }

  /** Adds a table with a new relNumber; `build` fills in the rest. */
  createTable(def: Omit<TableDefinition, "relNumber">): TableDefinition {
    checkIdentifier(def.name, "table");
    return this.modify((data) => {
      checkRelationNameFree(data, def.name);
      const relNumber = Atomics.add(this.header, H_NEXT_REL, 1);
      const table: TableDefinition = { ...def, relNumber };
      data.tables.push(table);
      return table;
    });
  }

  /** Removes a table from the catalog. */
  dropTable(name: string): TableDefinition {
    return this.modify((data) => {
      const i = data.tables.findIndex((t) => t.name === name);
      if (i < 0)
        throw new PgsimError("undefined-table", `relation "${name}" does not exist`, { name });
      const [gone] = data.tables.splice(i, 1);
      return gone!;
    });
  }

  /**
   * vac_update_relstats: writes VACUUM's statistics into the table's entry, only what changed
   * (reltuples compared as a float4; relfrozenxid only moves forward), and sends a relcache
   * invalidation when anything did (heap_inplace_update → CacheInvalidateHeapTuple). Returns
   * whether it did.
   */
  updateRelStats(relNumber: number, stats: RelStats): boolean {
    return this.modify((data) => {
      const t = data.tables.find((x) => x.relNumber === relNumber);
      if (t === undefined) return false;
      let dirty = false;
      if ((t.relpages ?? 0) !== stats.relpages) {
        t.relpages = stats.relpages;
        dirty = true;
      }
      const reltuples = Math.fround(stats.reltuples);
      if ((t.reltuples ?? -1) !== reltuples) {
        t.reltuples = reltuples;
        dirty = true;
      }
      if ((t.relallvisible ?? 0) !== stats.relallvisible) {
        t.relallvisible = stats.relallvisible;
        dirty = true;
      }
      const frozen = stats.relfrozenxid;
      const old = t.relfrozenxid ?? 0;
      if (
        frozen !== undefined &&
        xidIsNormal(frozen) &&
        frozen !== old &&
        xidPrecedes(old, frozen)
      ) {
        t.relfrozenxid = frozen;
        dirty = true;
      }
      if (dirty) t.invalidations = (t.invalidations ?? 0) + 1;
      return dirty;
    });
  }

  /**
   * vac_update_relstats / index_update_stats for an index: relpages and reltuples (compared as a
   * float4), only when they changed. Returns whether they did.
   */
  updateIndexRelStats(name: string, stats: { relpages: number; reltuples: number }): boolean {
    return this.modify((data) => {
      const ix = (data.indexes ?? []).find((x) => x.name === name);
      if (ix === undefined) return false;
      const reltuples = Math.fround(stats.reltuples);
      if ((ix.relpages ?? 0) === stats.relpages && (ix.reltuples ?? -1) === reltuples) {
        return false;
      }
      ix.relpages = stats.relpages;
      ix.reltuples = reltuples;
      return true;
    });
  }

  /** A relcache/smgr invalidation of a table (e.g. after its storage was truncated). */
  invalidate(relNumber: number): void {
    this.modify((data) => {
      const t = data.tables.find((x) => x.relNumber === relNumber);
      if (t !== undefined) t.invalidations = (t.invalidations ?? 0) + 1;
    });
  }

  /** Gives a table a new relNumber (TRUNCATE makes a new relfilenode). Returns the new def. */
  renumberTable(name: string): { before: TableDefinition; after: TableDefinition } {
    return this.modify((data) => {
      const t = data.tables.find((x) => x.name === name);
      if (t === undefined)
        throw new PgsimError("undefined-table", `relation "${name}" does not exist`);
      const before = { ...t };
      t.relNumber = Atomics.add(this.header, H_NEXT_REL, 1);
      return { before, after: { ...t } };
    });
  }
}

/** Checks a table or column name as PostgreSQL's identifier rules would let it through. */
export function checkIdentifier(name: unknown, what: string): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new PgsimError("invalid-name", `${what} name must be a non-empty string`);
  }
  if (new TextEncoder().encode(name).length > MAX_IDENTIFIER_LENGTH) {
    throw new PgsimError(
      "name-too-long",
      `${what} name "${name}" is too long: at most ${MAX_IDENTIFIER_LENGTH} bytes`,
    );
  }
}
