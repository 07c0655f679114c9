/**
 * The storage manager: relation forks as files of 8 KB blocks, split into 1 GB segments.
 *
 * Models: src/backend/storage/smgr/md.c (mdcreate, mdexists, mdunlink, mdextend, mdread, mdwrite,
 * mdnblocks, mdtruncate, _mdfd_getseg, _mdfd_segpath) and common/relpath.c (GetRelationPath).
 * Entry points: `MdStorage`, `relationPath`, `RELSEG_SIZE`.
 * See also: bufmgr.ts (the only caller), buf-tag.ts (RelFileLocator, ForkNumber).
 *
 * Every backend (worker thread) has its own MdStorage with its own cache of open file descriptors,
 * as every PostgreSQL backend has its own md.c state. Files are shared through the file system.
 * When a backend truncates or unlinks a relation, it bumps a shared invalidation counter; other
 * backends see the change before their next file operation and close their cached descriptors
 * (PostgreSQL sends a shared-invalidation message for the same reason).
 *
 * Differs from PostgreSQL: all I/O is synchronous (node:fs readSync/writeSync at explicit offsets,
 * like pread/pwrite); a checkpoint fsyncs every relation file below the data directory instead of
 * a queue of segments registered dirty; unlink removes the files at once (PostgreSQL defers the
 * main fork's first segment until after the next checkpoint).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { BLCKSZ, PgsimError } from "@pgsim/clock-sweep";
import {
  DEFAULTTABLESPACE_OID,
  GLOBALTABLESPACE_OID,
  InvalidBlockNumber,
  type RelFileLocator,
} from "./buf-tag.js";
import { ioFsync, ioRead, ioTruncate, ioWrite, panicError } from "./injection-point.js";

/** Blocks per segment file (pg_config.h RELSEG_SIZE): 131072 × 8 KB = 1 GB. */
export const RELSEG_SIZE = (1024 * 1024 * 1024) / BLCKSZ;
/** The catalog version directory of tablespaces other than the built-in two. */
export const TABLESPACE_VERSION_DIRECTORY = "PG_15_202209061";

const FORK_SUFFIX = ["", "_fsm", "_vm", "_init"] as const;

/**
 * GetRelationPath: the file of a fork's first segment, relative to the data directory, named as
 * PostgreSQL names it: `base/<db>/<rel>`, `global/<rel>`, or
 * `pg_tblspc/<spc>/PG_15_202209061/<db>/<rel>`, with `_fsm`, `_vm` or `_init` for other forks.
 */
export function relationPath(rel: RelFileLocator, fork: number): string {
  const file = `${rel.relNumber >>> 0}${FORK_SUFFIX[fork] ?? ""}`;
  if (rel.spcOid === GLOBALTABLESPACE_OID) return `global/${file}`;
  if (rel.spcOid === DEFAULTTABLESPACE_OID) return `base/${rel.dbOid >>> 0}/${file}`;
  return `pg_tblspc/${rel.spcOid >>> 0}/${TABLESPACE_VERSION_DIRECTORY}/${rel.dbOid >>> 0}/${file}`;
}

/** _mdfd_segpath: segment 0 is the bare path, segment n adds ".n". */
export function segmentPath(relPath: string, segno: number): string {
  return segno === 0 ? relPath : `${relPath}.${segno}`;
}

/** strerror(errno) as PostgreSQL's %m prints it. */
export function errnoText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "No such file or directory";
  if (code === "ENOSPC") return "No space left on device";
  if (code === "EACCES") return "Permission denied";
  if (code === "EIO") return "Input/output error";
  if (code === "EROFS") return "Read-only file system";
  if (code === "EDQUOT") return "Disk quota exceeded";
  return (e as Error).message;
}

/** errcode_for_file_access's code, as a pgsim error code: ENOSPC is "disk-full". */
export function errnoCode(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === "ENOSPC" || code === "EDQUOT" ? "disk-full" : "io-error";
}

/** A backend's view of the relation files under one data directory. */
export class MdStorage {
  readonly dataDir: string;
  readonly segmentBlocks: number;
  private readonly fds = new Map<string, number>();
  private readonly invalidation: Int32Array;
  private readonly invalidationSlot: number;
  private seenInvalidation: number;

  /**
   * @param dataDir the data directory (created if missing)
   * @param invalidation shared counter bumped on truncate and unlink, and its slot
   * @param segmentBlocks blocks per segment (RELSEG_SIZE; smaller values exercise segments in tests)
   */
  constructor(
    dataDir: string,
    invalidation: Int32Array,
    invalidationSlot: number,
    segmentBlocks = RELSEG_SIZE,
  ) {
    this.dataDir = dataDir;
    this.segmentBlocks = segmentBlocks;
    this.invalidation = invalidation;
    this.invalidationSlot = invalidationSlot;
    this.seenInvalidation = Atomics.load(invalidation, invalidationSlot);
    fs.mkdirSync(dataDir, { recursive: true });
  }

  private checkInvalidation(): void {
    const now = Atomics.load(this.invalidation, this.invalidationSlot);
    if (now !== this.seenInvalidation) {
      this.closeAll();
      this.seenInvalidation = now;
    }
  }

  private invalidateOthers(): void {
    this.closeAll();
    this.seenInvalidation = Atomics.add(this.invalidation, this.invalidationSlot, 1) + 1;
  }

  /** Closes every cached file descriptor (smgrcloseall). */
  closeAll(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private abs(rel: string): string {
    return path.join(this.dataDir, rel);
  }

  /** Opens (and caches) a segment; returns undefined when it does not exist and create is false. */
  private openSegment(relPath: string, segno: number, create: boolean): number | undefined {
    const seg = segmentPath(relPath, segno);
    const cached = this.fds.get(seg);
    if (cached !== undefined) return cached;
    try {
      const fd = fs.openSync(this.abs(seg), create ? "a+" : "r+");
      // "a+" appends on write on some platforms; reopen read-write now that the file exists.
      if (create) {
        fs.closeSync(fd);
        const rw = fs.openSync(this.abs(seg), "r+");
        this.fds.set(seg, rw);
        return rw;
      }
      this.fds.set(seg, fd);
      return fd;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && !create) return undefined;
      throw new PgsimError("io-error", `could not open file "${seg}": ${errnoText(e)}`, {
        path: seg,
      });
    }
  }

  private segmentBlocksOf(fd: number): number {
    return Math.floor(fs.fstatSync(fd).size / BLCKSZ);
  }

  /** mdcreate: creates the fork's first segment. An existing file is an error unless isRedo. */
  create(rel: RelFileLocator, fork: number, isRedo = false): void {
    this.checkInvalidation();
    const relPath = relationPath(rel, fork);
    fs.mkdirSync(path.dirname(this.abs(relPath)), { recursive: true });
    try {
      fs.closeSync(fs.openSync(this.abs(relPath), "wx"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && isRedo) return;
      throw new PgsimError("io-error", `could not create file "${relPath}": ${errnoText(e)}`, {
        path: relPath,
      });
    }
  }

  /** mdexists: whether the fork's first segment exists. */
  exists(rel: RelFileLocator, fork: number): boolean {
    this.checkInvalidation();
    return this.openSegment(relationPath(rel, fork), 0, false) !== undefined;
  }

  /**
   * mdnblocks: full segments followed by one partial segment. A missing first segment is an
   * error, as in PostgreSQL ("could not open file").
   */
  nblocks(rel: RelFileLocator, fork: number): number {
    this.checkInvalidation();
    const relPath = relationPath(rel, fork);
    let total = 0;
    for (let segno = 0; ; segno++) {
      const fd = this.openSegment(relPath, segno, false);
      if (fd === undefined) {
        if (segno === 0) {
          throw new PgsimError(
            "relation-not-found",
            `could not open file "${relPath}": No such file or directory`,
            { path: relPath },
          );
        }
        return total;
      }
      const blocks = this.segmentBlocksOf(fd);
      if (blocks > this.segmentBlocks) {
        throw new PgsimError("io-error", `segment too big: "${segmentPath(relPath, segno)}"`);
      }
      total += blocks;
      if (blocks < this.segmentBlocks) return total;
    }
  }

  /** mdread: reads one block into `dest` (8192 bytes). A short read is an error. */
  read(rel: RelFileLocator, fork: number, block: number, dest: Uint8Array): void {
    this.checkInvalidation();
    const relPath = relationPath(rel, fork);
    const segno = Math.floor(block / this.segmentBlocks);
    const fd = this.openSegment(relPath, segno, false);
    const seg = segmentPath(relPath, segno);
    let n = 0;
    if (fd !== undefined) {
      try {
        n = ioRead(
          "data-read",
          this.abs(seg),
          fd,
          dest,
          0,
          BLCKSZ,
          (block % this.segmentBlocks) * BLCKSZ,
        );
      } catch (e) {
        throw new PgsimError(
          "io-error",
          `could not read block ${block} in file "${seg}": ${errnoText(e)}`,
          { block, path: seg, errno: (e as NodeJS.ErrnoException).code },
        );
      }
    } else if (segno === 0) {
      throw new PgsimError(
        "relation-not-found",
        `could not open file "${relPath}": No such file or directory`,
        { path: relPath },
      );
    }
    if (n !== BLCKSZ) {
      throw new PgsimError(
        "data-corrupted",
        `could not read block ${block} in file "${seg}": read only ${n} of ${BLCKSZ} bytes`,
        { block, path: seg },
      );
    }
  }

  /** mdwrite: writes one existing block. */
  write(rel: RelFileLocator, fork: number, block: number, src: Uint8Array): void {
    this.writeAt(rel, fork, block, src, false);
  }

  /** mdextend: writes the block at the end, creating the segment file if needed. */
  extend(rel: RelFileLocator, fork: number, block: number, src: Uint8Array): void {
    if (block === InvalidBlockNumber) {
      throw new PgsimError(
        "program-limit-exceeded",
        `cannot extend file "${relationPath(rel, fork)}" beyond ${InvalidBlockNumber} blocks`,
      );
    }
    this.writeAt(rel, fork, block, src, true);
  }

  private writeAt(
    rel: RelFileLocator,
    fork: number,
    block: number,
    src: Uint8Array,
    extending: boolean,
  ): void {
    this.checkInvalidation();
    const relPath = relationPath(rel, fork);
    const segno = Math.floor(block / this.segmentBlocks);
    const seg = segmentPath(relPath, segno);
    if (segno > 0 && extending) {
      // _mdfd_getseg: a segment may only follow a full one.
      const prev = this.openSegment(relPath, segno - 1, false);
      const prevBlocks = prev === undefined ? 0 : this.segmentBlocksOf(prev);
      if (prevBlocks !== this.segmentBlocks) {
        throw new PgsimError(
          "io-error",
          `could not open file "${seg}" (target block ${block}): previous segment is only ${prevBlocks} blocks`,
        );
      }
    }
    if (!extending && segno === 0 && this.openSegment(relPath, 0, false) === undefined) {
      throw new PgsimError(
        "relation-not-found",
        `could not open file "${relPath}": No such file or directory`,
      );
    }
    const fd = this.openSegment(relPath, segno, true)!;
    let n: number;
    try {
      n = ioWrite(
        extending ? "extend" : "data-write",
        this.abs(seg),
        fd,
        src,
        0,
        BLCKSZ,
        (block % this.segmentBlocks) * BLCKSZ,
      );
    } catch (e) {
      const what = extending ? `extend file "${seg}"` : `write block ${block} in file "${seg}"`;
      throw new PgsimError(errnoCode(e), `could not ${what}: ${errnoText(e)}`, {
        block,
        path: seg,
        errno: (e as NodeJS.ErrnoException).code,
        ...(extending ? { hint: "Check free disk space." } : {}),
      });
    }
    if (n !== BLCKSZ) {
      throw new PgsimError(
        "disk-full",
        extending
          ? `could not extend file "${seg}": wrote only ${n} of ${BLCKSZ} bytes at block ${block}`
          : `could not write block ${block} in file "${seg}": wrote only ${n} of ${BLCKSZ} bytes`,
        { block, path: seg, hint: "Check free disk space." },
      );
    }
  }

  /**
   * mdtruncate: shortens the fork to `nblocks`. Whole segments beyond the end become empty files
   * (they are kept, as PostgreSQL keeps them); the segment holding the new end is cut.
   */
  truncate(rel: RelFileLocator, fork: number, nblocks: number): void {
    const current = this.nblocks(rel, fork);
    const relPath = relationPath(rel, fork);
    if (nblocks > current) {
      throw new PgsimError(
        "invalid-truncate",
        `could not truncate file "${relPath}" to ${nblocks} blocks: it's only ${current} blocks now`,
        { nblocks, current },
      );
    }
    if (nblocks === current) return;
    const lastSeg = Math.floor(Math.max(current - 1, 0) / this.segmentBlocks);
    for (let segno = lastSeg; segno >= 0; segno--) {
      const prior = segno * this.segmentBlocks;
      const fd = this.openSegment(relPath, segno, false);
      if (fd === undefined) continue;
      const seg = segmentPath(relPath, segno);
      const len =
        prior >= nblocks
          ? 0
          : prior + this.segmentBlocks > nblocks
            ? (nblocks - prior) * BLCKSZ
            : -1;
      if (len < 0) continue;
      try {
        ioTruncate("truncate", this.abs(seg), fd, len);
      } catch (e) {
        // The segments cut so far stay cut: other backends must drop their descriptors.
        this.invalidateOthers();
        throw new PgsimError(
          errnoCode(e),
          `could not truncate file "${seg}" to ${len / BLCKSZ} blocks: ${errnoText(e)}`,
          { path: seg, errno: (e as NodeJS.ErrnoException).code },
        );
      }
    }
    this.invalidateOthers();
  }

  /** mdunlink: removes every segment of the fork (all forks when `fork` is undefined). */
  unlink(rel: RelFileLocator, fork?: number): void {
    this.checkInvalidation();
    const forks = fork === undefined ? [0, 1, 2, 3] : [fork];
    this.closeAll();
    for (const f of forks) {
      const relPath = relationPath(rel, f);
      for (let segno = 0; ; segno++) {
        try {
          fs.unlinkSync(this.abs(segmentPath(relPath, segno)));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOENT") break;
          throw new PgsimError("io-error", `could not remove file "${relPath}": ${errnoText(e)}`);
        }
      }
    }
    this.invalidateOthers();
  }

  /**
   * Fsyncs every relation file below the data directory (the checkpoint's sync phase). A failed
   * fsync is a PANIC, as data_sync_elevel makes it in PostgreSQL since 12: the kernel may have
   * dropped the dirty pages it could not write, so retrying the fsync could "succeed" on lost
   * data; only crash recovery from WAL is safe.
   */
  syncAll(): number {
    let count = 0;
    const walk = (dir: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const ent of entries) {
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) walk(p);
        else if (ent.isFile()) {
          const fd = fs.openSync(p, "r+");
          try {
            ioFsync("data-fsync", p, fd);
          } catch (e) {
            const rel = path.relative(this.dataDir, p);
            throw panicError(p, `could not fsync file "${rel}": ${errnoText(e)}`, {
              path: rel,
              errno: (e as NodeJS.ErrnoException).code,
            });
          } finally {
            fs.closeSync(fd);
          }
          count++;
        }
      }
    };
    for (const top of ["base", "global", "pg_tblspc"]) walk(path.join(this.dataDir, top));
    return count;
  }
}
