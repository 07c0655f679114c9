/**
 * Writing small files durably: in place (pg_xact segments, pg_control) or by replacing them
 * whole (pgsim's catalog image), through the storage injection points.
 *
 * Models: src/backend/storage/file/fd.c (pg_fsync, fsync_fname, durable_rename, data_sync_elevel)
 * and the in-place writes of slru.c (SlruPhysicalWritePage) and controldata_utils.c
 * (update_controlfile).
 * Entry points: `writeFileInPlace`, `durableReplace`, `FilePoints`.
 * See also: ../../access/transam/clog.ts, ../../access/transam/pg-control.ts,
 * ../../database/checkpoint.ts, @pgsim/buffer-manager's injection-point.ts.
 *
 * A failed write is an ERROR ("could not write file"); a failed fsync is a PANIC, as
 * data_sync_elevel makes every fsync failure of data since PostgreSQL 12: the kernel may have
 * dropped the pages it failed to write, so a retried fsync could report success on lost data.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import {
  errnoCode,
  errnoText,
  faultTableOf,
  type InjectionPointName,
  ioFsync,
  ioWrite,
  PgsimError,
  panicError,
} from "@pgsim/buffer-manager";

/** The injection points of a file's write and fsync. */
export interface FilePoints {
  readonly write: InjectionPointName;
  readonly fsync: InjectionPointName;
}

/** Data files that are not relation files (pg_xact, pgsim's catalog image). */
export const DATA_FILE_POINTS: FilePoints = { write: "data-write", fsync: "data-fsync" };

/** The file's name as PostgreSQL's messages show it: relative to the data directory. */
export function displayPath(file: string): string {
  return faultTableOf(file)?.rel ?? file;
}

/**
 * Writes `bytes` at the start of `file` without truncating it (created if missing, mode 0600),
 * then fsyncs it when `sync`. A crash mid-write leaves the old bytes after what was written,
 * never a shorter file — what SLRU and pg_control writes rely on.
 *
 * Throws a PgsimError ("could not write file …", code "disk-full" for ENOSPC or a short write,
 * else "io-error") when the write fails, and a PanicError ("could not fsync file …") when the
 * fsync does.
 */
export function writeFileInPlace(
  file: string,
  bytes: Uint8Array,
  sync: boolean,
  points: FilePoints = DATA_FILE_POINTS,
): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
  try {
    let n: number;
    try {
      n = ioWrite(points.write, file, fd, bytes, 0, bytes.length, 0);
    } catch (e) {
      throw new PgsimError(
        errnoCode(e),
        `could not write file "${displayPath(file)}": ${errnoText(e)}`,
        { path: displayPath(file), errno: (e as NodeJS.ErrnoException).code },
      );
    }
    if (n !== bytes.length) {
      // A short write without errno: PostgreSQL assumes the disk is full.
      throw new PgsimError(
        "disk-full",
        `could not write file "${displayPath(file)}": No space left on device`,
        { path: displayPath(file), written: n, hint: "Check free disk space." },
      );
    }
    if (sync) fsyncOrPanic(points.fsync, file, fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** pg_fsync at data_sync_elevel: a failure is a PANIC. */
function fsyncOrPanic(point: InjectionPointName, file: string, fd: number): void {
  try {
    ioFsync(point, file, fd);
  } catch (e) {
    throw panicError(file, `could not fsync file "${displayPath(file)}": ${errnoText(e)}`, {
      path: displayPath(file),
      errno: (e as NodeJS.ErrnoException).code,
    });
  }
}

/**
 * durable_rename of a freshly written file: `bytes` go to `<file>.tmp`, which is fsynced and
 * renamed over `file`, and the directory is fsynced — a crash leaves the old file or the new one,
 * never a mix.
 */
export function durableReplace(
  file: string,
  bytes: Uint8Array,
  sync: boolean,
  points: FilePoints = DATA_FILE_POINTS,
): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    writeFileInPlace(tmp, bytes, sync, points);
  } catch (e) {
    // A failed write leaves the old file; the partial temporary one goes.
    if (!(e instanceof PgsimError && e.code === "panic")) fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.renameSync(tmp, file);
  if (sync) {
    const dfd = fs.openSync(dir, "r");
    try {
      fsyncOrPanic(points.fsync, dir, dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }
}
