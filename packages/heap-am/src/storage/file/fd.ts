/**
 * Writing small files durably: in place (pg_xact segments, pg_control) or by replacing them
 * whole (pgsim's catalog image).
 *
 * Models: src/backend/storage/file/fd.c (pg_fsync, fsync_fname, durable_rename) and the in-place
 * writes of slru.c (SlruPhysicalWritePage) and controldata_utils.c (update_controlfile).
 * Entry points: `writeFileInPlace`, `durableReplace`.
 * See also: ../../access/transam/clog.ts, ../../access/transam/pg-control.ts,
 * ../../database/checkpoint.ts.
 */

import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Writes `bytes` at the start of `file` without truncating it (created if missing, mode 0600),
 * then fsyncs it when `sync`. A crash mid-write leaves the old bytes after what was written,
 * never a shorter file — what SLRU and pg_control writes rely on.
 */
export function writeFileInPlace(file: string, bytes: Uint8Array, sync: boolean): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, 0);
    if (sync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * durable_rename of a freshly written file: `bytes` go to `<file>.tmp`, which is fsynced and
 * renamed over `file`, and the directory is fsynced — a crash leaves the old file or the new one,
 * never a mix.
 */
export function durableReplace(file: string, bytes: Uint8Array, sync: boolean): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  fs.rmSync(tmp, { force: true });
  writeFileInPlace(tmp, bytes, sync);
  fs.renameSync(tmp, file);
  if (sync) {
    const dfd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  }
}
