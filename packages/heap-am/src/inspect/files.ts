/**
 * The files around a relation file: what its name says (relfilenode, fork, segment number), the
 * data directory it sits in, that directory's control file, and commit log files.
 *
 * Models: common/relpath.c (GetRelationPath, forkname_chars: `16384`, `16384_fsm`, `16384_vm`,
 * `16384_init`), md.c _mdfd_segpath (segment `n` is `<path>.n`), the data directory layout
 * (`base/<db>/`, `global/`, `pg_tblspc/<spc>/PG_15_202209061/<db>/`, `global/pg_control`,
 * `pg_xact/`) and slru.c SlruFileName (commit log segments named by 4 hex digits).
 * Entry points: `readInputFile`, `parseRelationFileName`, `findDataDir`, `readCommitLogPath`.
 * See also: main.ts (the caller), ../clog.ts (CommitLog),
 * @pgsim/buffer-manager pg-control.ts (the control file).
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { PgsimError, XLOG_CONTROL_FILE } from "@pgsim/buffer-manager";
import type { CommitLog } from "../access/transam/clog.js";

/** A file that cannot be read or parsed; `path` prefixes the message. */
export function inputError(file: string, message: string): PgsimError {
  return new PgsimError("input-unreadable", `${file}: ${message}`, { path: file });
}

function errnoReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT"
    ? "no such file"
    : code === "EISDIR"
      ? "is a directory"
      : code === "EACCES"
        ? "permission denied"
        : (code ?? String(error));
}

/** Reads a whole file; throws `input-unreadable` naming it. */
export function readInputFile(file: string): Uint8Array {
  try {
    const bytes = fs.readFileSync(file);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (error) {
    throw inputError(file, `cannot read file: ${errnoReason(error)}`);
  }
}

/** What a relation file's name says. */
export interface RelationFileName {
  readonly relNumber: number;
  readonly fork: "main" | "fsm" | "vm" | "init";
  /** 0 for the first segment (no suffix), n for `.n`. */
  readonly segno: number;
}

/**
 * Parses a relation file name such as `16384`, `16384_fsm`, `16384.1` or `16384_vm.2` (only the
 * last path component counts); undefined for any other name (e.g. a copy named `main.bin`).
 */
export function parseRelationFileName(file: string): RelationFileName | undefined {
  const match = /^([0-9]+)(?:_(fsm|vm|init))?(?:\.([0-9]+))?$/.exec(path.basename(file));
  if (match === null) return undefined;
  return {
    relNumber: Number(match[1]),
    fork: (match[2] ?? "main") as RelationFileName["fork"],
    segno: match[3] === undefined ? 0 : Number(match[3]),
  };
}

/**
 * The data directory a relation file lies in, judged by its path (`<dir>/base/<db>/<file>`,
 * `<dir>/global/<file>` or `<dir>/pg_tblspc/<spc>/<version>/<db>/<file>`) and confirmed by
 * `<dir>/global/pg_control` existing; undefined otherwise.
 */
export function findDataDir(file: string): string | undefined {
  const dir = path.dirname(path.resolve(file));
  const up = (p: string, n: number) => {
    let out = p;
    for (let i = 0; i < n; i++) out = path.dirname(out);
    return out;
  };
  const candidates: string[] = [];
  if (path.basename(path.dirname(dir)) === "base") candidates.push(up(dir, 2));
  if (path.basename(dir) === "global") candidates.push(up(dir, 1));
  if (path.basename(up(dir, 3)) === "pg_tblspc") candidates.push(up(dir, 4));
  return candidates.find((candidate) => fs.existsSync(path.join(candidate, XLOG_CONTROL_FILE)));
}

const SEGMENT_NAME = /^[0-9A-F]{4,6}$/;

/**
 * Reads commit log files: a directory (pg_xact: every segment file in it) or one segment file
 * (its segment number from its name when that is 4 to 6 hex digits, else segment 0). Throws
 * `input-unreadable` for a directory without segment files or a file that cannot be read.
 */
export function readCommitLogPath(file: string): CommitLog {
  let isDirectory: boolean;
  try {
    isDirectory = fs.statSync(file).isDirectory();
  } catch (error) {
    throw inputError(file, `cannot read file: ${errnoReason(error)}`);
  }
  if (!isDirectory) {
    const bytes = readInputFile(file);
    const name = path.basename(file);
    const segno = SEGMENT_NAME.test(name) ? Number.parseInt(name, 16) : 0;
    return segno === 0 ? bytes : new Map([[segno, bytes]]);
  }
  const segments = new Map<number, Uint8Array>();
  for (const name of fs.readdirSync(file)) {
    if (SEGMENT_NAME.test(name)) {
      segments.set(Number.parseInt(name, 16), readInputFile(path.join(file, name)));
    }
  }
  if (segments.size === 0) throw inputError(file, "no commit log segment files (0000, 0001, ...)");
  return segments;
}
