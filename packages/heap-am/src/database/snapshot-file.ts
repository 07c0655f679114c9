/**
 * The snapshot file of a memory-only database: its format (header, forks, checksummed pages,
 * catalog, commit log, a CRC-32C over the whole file), writing one durably (temporary name,
 * fsync, rename, directory fsync), keeping the last two generations, and reading one back with
 * every check a damaged file can fail.
 *
 * Models: pgsim only — PostgreSQL has no snapshot of shared buffers. Its pieces are
 * PostgreSQL's: pages carry the page checksum (storage/page/checksum.c, PageSetChecksumCopy on
 * the way out, PageIsVerifiedExtended on the way in), the file's integrity is a CRC-32C as
 * pg_control's and a WAL record's are, and the file is replaced as durable_rename replaces a
 * file (storage/file/fd.c).
 * Entry points: `SnapshotImage`, `encodeSnapshotHeader`, `writeSnapshotFile`,
 * `readSnapshotFile`, `listSnapshotFiles`, `snapshotFileName`, `SNAPSHOT_DIR`,
 * `SNAPSHOT_MARKER`, `isSnapshotDirectory`, `removeOldSnapshots`.
 * See also: snapshot.ts (what goes in and how it is loaded), snapshot-lock.ts, README.md
 * "Memory-only snapshots".
 *
 * Layout (little-endian):
 *   header   96 bytes: magic "PGSIMSNP", format version, header size, generation (u64), time
 *            taken (ms, f64), bufferCount, maxXids, nextXid, forks, pages, catalog bytes, commit
 *            log bytes, flags, file size (u64), reserved, and a CRC-32C of the header's first
 *            92 bytes at 92;
 *   forks    20 bytes each: spcOid, dbOid, relNumber, fork, nblocks — sorted by tag;
 *   pages    24 + 8192 bytes each: the tag (spcOid, dbOid, relNumber, fork, block, 0) and the
 *            page, pd_checksum set (a new, all-zero page carries none) — every block of every
 *            fork in the fork list's order, block 0 first;
 *   catalog  the catalog image (JSON, as global/pgsim_catalog);
 *   clog     the commit log's pages, pg_xact's format;
 *   trailer  CRC-32C of every byte before it.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { BLCKSZ, ioFsync, ioWrite, PgsimError, relationPath } from "@pgsim/buffer-manager";
import { crc32c, crc32cFinish, crc32cUpdate, INIT_CRC32C } from "../include/port/pg-crc32c.js";
import { pageGetChecksum, pageVerify } from "../storage/page/bufpage.js";
import { pgChecksumPage } from "../storage/page/checksum.js";

/** The directory, inside the snapshot directory, that holds the snapshot files. */
export const SNAPSHOT_DIR = "pgsim_snapshot";
/** The file that marks a memory-only snapshot directory (as global/pg_control marks a disk one). */
export const SNAPSHOT_MARKER = "PGSIM_SNAPSHOT";
/** The snapshot format version this code writes and reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;

const MAGIC = "PGSIMSNP";
export const SNAPSHOT_HEADER_SIZE = 96;
const HEADER_CRC_OFFSET = 92;
export const SNAPSHOT_FORK_SIZE = 20;
export const SNAPSHOT_PAGE_ENTRY_SIZE = 24 + BLCKSZ;
const TRAILER_SIZE = 4;
/** Flag bit: the database was created with data checksums (the `checksums` option). */
export const SNAPSHOT_FLAG_CHECKSUMS = 1;

/** One fork of the pool and its size. */
export interface SnapshotFork {
  readonly spcOid: number;
  readonly dbOid: number;
  readonly relNumber: number;
  readonly fork: number;
  readonly nblocks: number;
}

/** What a snapshot holds. `pages` is the page section: SNAPSHOT_PAGE_ENTRY_SIZE bytes a page. */
export interface SnapshotImage {
  readonly generation: number;
  readonly takenAtMs: number;
  readonly bufferCount: number;
  readonly maxXids: number;
  readonly nextXid: number;
  readonly flags: number;
  readonly forks: readonly SnapshotFork[];
  readonly pageCount: number;
  readonly pages: Uint8Array;
  readonly catalog: Uint8Array;
  readonly clog: Uint8Array;
}

/** `snapshot.<generation, 16 hex digits>`: names sort as generations do. */
export function snapshotFileName(generation: number): string {
  return `snapshot.${generation.toString(16).toUpperCase().padStart(16, "0")}`;
}

const NAME_RE = /^snapshot\.([0-9A-F]{16})$/;

/** The snapshot files of a directory, newest generation first. */
export function listSnapshotFiles(dataDir: string): { generation: number; file: string }[] {
  const dir = path.join(dataDir, SNAPSHOT_DIR);
  if (!fs.existsSync(dir)) return [];
  const out: { generation: number; file: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = NAME_RE.exec(name);
    if (m !== null)
      out.push({ generation: Number.parseInt(m[1]!, 16), file: path.join(dir, name) });
  }
  return out.sort((a, b) => b.generation - a.generation);
}

/** Whether `dataDir` is a memory-only snapshot directory (it has the marker file). */
export function isSnapshotDirectory(dataDir: string): boolean {
  return fs.existsSync(path.join(dataDir, SNAPSHOT_MARKER));
}

/** The marker file's text. */
export function snapshotMarkerText(): string {
  return `pgsim memory-only snapshot directory\nformat ${SNAPSHOT_FORMAT_VERSION}\n`;
}

/** Writes a page entry's tag (the page itself is copied by the caller after it). */
export function writePageTag(
  pages: Uint8Array,
  index: number,
  fork: SnapshotFork,
  block: number,
): void {
  const v = new DataView(pages.buffer, pages.byteOffset + index * SNAPSHOT_PAGE_ENTRY_SIZE, 24);
  v.setUint32(0, fork.spcOid, true);
  v.setUint32(4, fork.dbOid, true);
  v.setUint32(8, fork.relNumber, true);
  v.setUint32(12, fork.fork, true);
  v.setUint32(16, block, true);
  v.setUint32(20, 0, true);
}

/** The page of entry `index` (a view). */
export function pageOfEntry(pages: Uint8Array, index: number): Uint8Array {
  const start = index * SNAPSHOT_PAGE_ENTRY_SIZE + 24;
  return pages.subarray(start, start + BLCKSZ);
}

function fileSizeOf(forks: number, pages: number, catalog: number, clog: number): number {
  return (
    SNAPSHOT_HEADER_SIZE +
    forks * SNAPSHOT_FORK_SIZE +
    pages * SNAPSHOT_PAGE_ENTRY_SIZE +
    catalog +
    clog +
    TRAILER_SIZE
  );
}

/** The header of an image (with its CRC). */
export function encodeSnapshotHeader(image: SnapshotImage): Uint8Array {
  const h = new Uint8Array(SNAPSHOT_HEADER_SIZE);
  const v = new DataView(h.buffer);
  for (let i = 0; i < 8; i++) h[i] = MAGIC.charCodeAt(i);
  v.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  v.setUint32(12, SNAPSHOT_HEADER_SIZE, true);
  v.setBigUint64(16, BigInt(image.generation), true);
  v.setFloat64(24, image.takenAtMs, true);
  v.setUint32(32, image.bufferCount, true);
  v.setUint32(36, image.maxXids, true);
  v.setUint32(40, image.nextXid, true);
  v.setUint32(44, image.forks.length, true);
  v.setUint32(48, image.pageCount, true);
  v.setUint32(52, image.catalog.length, true);
  v.setUint32(56, image.clog.length, true);
  v.setUint32(60, image.flags, true);
  const size = fileSizeOf(
    image.forks.length,
    image.pageCount,
    image.catalog.length,
    image.clog.length,
  );
  v.setBigUint64(64, BigInt(size), true);
  v.setUint32(HEADER_CRC_OFFSET, crc32c(h, 0, HEADER_CRC_OFFSET), true);
  return h;
}

function encodeForks(forks: readonly SnapshotFork[]): Uint8Array {
  const out = new Uint8Array(forks.length * SNAPSHOT_FORK_SIZE);
  const v = new DataView(out.buffer);
  forks.forEach((f, i) => {
    const o = i * SNAPSHOT_FORK_SIZE;
    v.setUint32(o, f.spcOid, true);
    v.setUint32(o + 4, f.dbOid, true);
    v.setUint32(o + 8, f.relNumber, true);
    v.setUint32(o + 12, f.fork, true);
    v.setUint32(o + 16, f.nblocks, true);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// File I/O: every write and fsync of a snapshot file goes through the injection points
// "snapshot-write" and "snapshot-fsync" (@pgsim/buffer-manager's injection-point.ts), so that a
// test can fail or crash a snapshot write.

function snapshotWrite(
  absPath: string,
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number | null,
): number {
  return ioWrite("snapshot-write", absPath, fd, buf, offset, length, position);
}

function snapshotFsync(absPath: string, fd: number): void {
  ioFsync("snapshot-fsync", absPath, fd);
}

/** Writes all of `buf` at `position` (a short write continues where it stopped). */
function writeAll(absPath: string, fd: number, buf: Uint8Array, position: number): void {
  const CHUNK = 1 << 20;
  let done = 0;
  for (let calls = 0; done < buf.length; calls++) {
    const n = snapshotWrite(
      absPath,
      fd,
      buf,
      done,
      Math.min(CHUNK, buf.length - done),
      position + done,
    );
    if (n <= 0 || calls > buf.length) {
      throw new PgsimError(
        "snapshot-write-failed",
        `could not write to file "${absPath}": wrote only ${done} of ${buf.length} bytes`,
        { path: absPath },
      );
    }
    done += n;
  }
}

function fsyncDirectory(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    snapshotFsync(dir, fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a snapshot durably: the sections go to `snapshot.<gen>.tmp` (created exclusive, mode
 * 0600) with the whole-file CRC at the end, the file is fsynced, renamed to `snapshot.<gen>`,
 * and the directory fsynced (durable_rename). A crash at any point leaves the previous
 * generations as they were; a leftover `.tmp` is removed at the next start. Returns the file's
 * path and size.
 */
export function writeSnapshotFile(
  dataDir: string,
  image: SnapshotImage,
  sync: boolean,
): { file: string; bytes: number } {
  const dir = path.join(dataDir, SNAPSHOT_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, snapshotFileName(image.generation));
  const tmp = `${file}.tmp`;
  fs.rmSync(tmp, { force: true });
  const sections = [
    encodeSnapshotHeader(image),
    encodeForks(image.forks),
    image.pages.subarray(0, image.pageCount * SNAPSHOT_PAGE_ENTRY_SIZE),
    image.catalog,
    image.clog,
  ];
  const fd = fs.openSync(
    tmp,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL,
    0o600,
  );
  let position = 0;
  let step = "write to";
  try {
    let crc = INIT_CRC32C;
    for (const s of sections) {
      crc = crc32cUpdate(crc, s);
      writeAll(tmp, fd, s, position);
      position += s.length;
    }
    const trailer = new Uint8Array(TRAILER_SIZE);
    new DataView(trailer.buffer).setUint32(0, crc32cFinish(crc), true);
    writeAll(tmp, fd, trailer, position);
    position += TRAILER_SIZE;
    step = "fsync";
    if (sync) snapshotFsync(tmp, fd);
  } catch (e) {
    // The temporary file is abandoned: the previous generations stay what a restart loads.
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof PgsimError) throw e;
    throw new PgsimError(
      "snapshot-write-failed",
      `could not ${step} file "${tmp}": ${(e as Error).message}`,
      { path: tmp, errno: (e as NodeJS.ErrnoException).code },
    );
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  if (sync) {
    try {
      fsyncDirectory(dir);
    } catch (e) {
      throw new PgsimError(
        "snapshot-write-failed",
        `could not fsync directory "${dir}": ${(e as Error).message}`,
        { path: dir, errno: (e as NodeJS.ErrnoException).code },
      );
    }
  }
  return { file, bytes: position };
}

/**
 * Keeps the two newest generations (the one just written and the one before, which a damaged
 * newest falls back to) and removes the older ones, and any leftover temporary file.
 */
export function removeOldSnapshots(dataDir: string, keep = 2): string[] {
  const removed: string[] = [];
  for (const { file } of listSnapshotFiles(dataDir).slice(keep)) {
    fs.rmSync(file, { force: true });
    removed.push(file);
  }
  return removed;
}

/** Removes temporary files a crash during a snapshot write left behind. */
export function removeTemporarySnapshots(dataDir: string): string[] {
  const dir = path.join(dataDir, SNAPSHOT_DIR);
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(".tmp")) {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

function damaged(file: string, problem: string, detail: Record<string, unknown> = {}): PgsimError {
  return new PgsimError("snapshot-damaged", `invalid snapshot file "${file}": ${problem}`, {
    path: file,
    problem,
    ...detail,
  });
}

const FORK_NAMES = ["main", "fsm", "vm", "init"];

/**
 * Reads and checks a snapshot file; throws `snapshot-damaged` naming the file and what is wrong:
 * truncated (shorter than its header says), a bad header (magic, version, header CRC), a page
 * whose checksum or header fails verification (with its tag), inconsistent sections, or a
 * whole-file CRC mismatch. Pages are checked before the file CRC so that a damaged page is named.
 */
export function readSnapshotFile(file: string): SnapshotImage {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw new PgsimError(
      "snapshot-unreadable",
      `could not read snapshot file "${file}": ${(e as Error).message}`,
      { path: file },
    );
  }
  if (bytes.length < SNAPSHOT_HEADER_SIZE) {
    throw damaged(
      file,
      `truncated: ${bytes.length} bytes, shorter than the ${SNAPSHOT_HEADER_SIZE}-byte header`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let magic = "";
  for (let i = 0; i < 8; i++) magic += String.fromCharCode(bytes[i]!);
  if (magic !== MAGIC) {
    throw damaged(file, `bad header: not a pgsim snapshot (magic ${JSON.stringify(magic)})`);
  }
  const storedHeaderCrc = v.getUint32(HEADER_CRC_OFFSET, true);
  const headerCrc = crc32c(bytes, 0, HEADER_CRC_OFFSET);
  if (storedHeaderCrc !== headerCrc) {
    throw damaged(
      file,
      `bad header: incorrect header checksum (stored ${hex(storedHeaderCrc)}, computed ${hex(headerCrc)})`,
    );
  }
  const version = v.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION || v.getUint32(12, true) !== SNAPSHOT_HEADER_SIZE) {
    throw damaged(
      file,
      `bad header: format version ${version}, this pgsim reads version ${SNAPSHOT_FORMAT_VERSION}`,
    );
  }
  const forkCount = v.getUint32(44, true);
  const pageCount = v.getUint32(48, true);
  const catalogBytes = v.getUint32(52, true);
  const clogBytes = v.getUint32(56, true);
  const size = Number(v.getBigUint64(64, true));
  if (size !== fileSizeOf(forkCount, pageCount, catalogBytes, clogBytes)) {
    throw damaged(file, "bad header: the section sizes do not add up to the file size");
  }
  if (bytes.length !== size) {
    throw damaged(
      file,
      bytes.length < size
        ? `truncated: ${bytes.length} bytes, the header says ${size}`
        : `${bytes.length} bytes, longer than the ${size} the header says`,
    );
  }
  let at = SNAPSHOT_HEADER_SIZE;
  const forks: SnapshotFork[] = [];
  let blocks = 0;
  for (let i = 0; i < forkCount; i++, at += SNAPSHOT_FORK_SIZE) {
    const f = {
      spcOid: v.getUint32(at, true),
      dbOid: v.getUint32(at + 4, true),
      relNumber: v.getUint32(at + 8, true),
      fork: v.getUint32(at + 12, true),
      nblocks: v.getUint32(at + 16, true),
    };
    if (f.fork > 3) throw damaged(file, `bad fork list: fork number ${f.fork}`);
    forks.push(f);
    blocks += f.nblocks;
  }
  if (blocks !== pageCount) {
    throw damaged(
      file,
      `bad fork list: the forks hold ${blocks} blocks, the header says ${pageCount}`,
    );
  }
  const pages = bytes.subarray(at, at + pageCount * SNAPSHOT_PAGE_ENTRY_SIZE);
  let index = 0;
  for (const f of forks) {
    for (let block = 0; block < f.nblocks; block++, index++) {
      const o = at + index * SNAPSHOT_PAGE_ENTRY_SIZE;
      const where = () =>
        `block ${block} of relation ${relationPath(f, f.fork)} (${FORK_NAMES[f.fork]} fork)`;
      if (
        v.getUint32(o, true) !== f.spcOid ||
        v.getUint32(o + 4, true) !== f.dbOid ||
        v.getUint32(o + 8, true) !== f.relNumber ||
        v.getUint32(o + 12, true) !== f.fork ||
        v.getUint32(o + 16, true) !== block
      ) {
        const tag = [0, 4, 8, 12, 16].map((k) => v.getUint32(o + k, true));
        throw damaged(file, `page ${index} is not ${where()}: its tag is ${tag.join("/")}`);
      }
      const page = pageOfEntry(pages, index);
      const outcome = pageVerify(page, block, { checksums: true });
      if (outcome === "bad-checksum") {
        throw damaged(
          file,
          `invalid page in ${where()}: page verification failed, calculated checksum ${pgChecksumPage(page, block)} but expected ${pageGetChecksum(page)}`,
          { block, relation: relationPath(f, f.fork) },
        );
      }
      if (outcome !== "ok" && outcome !== "all-zero") {
        throw damaged(file, `invalid page in ${where()}: ${outcome}`, {
          block,
          relation: relationPath(f, f.fork),
        });
      }
    }
  }
  at += pages.length;
  const catalog = bytes.subarray(at, at + catalogBytes);
  at += catalogBytes;
  const clog = bytes.subarray(at, at + clogBytes);
  at += clogBytes;
  const stored = v.getUint32(at, true);
  const computed = crc32c(bytes, 0, at);
  if (stored !== computed) {
    throw damaged(
      file,
      `incorrect CRC-32C of the file (stored ${hex(stored)}, computed ${hex(computed)})`,
    );
  }
  return {
    generation: Number(v.getBigUint64(16, true)),
    takenAtMs: v.getFloat64(24, true),
    bufferCount: v.getUint32(32, true),
    maxXids: v.getUint32(36, true),
    nextXid: v.getUint32(40, true),
    flags: v.getUint32(60, true),
    forks,
    pageCount,
    pages,
    catalog,
    clog,
  };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
