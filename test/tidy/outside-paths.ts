/**
 * Finds references to paths outside the repository in the project's text files: a fresh clone has
 * nothing beside it, so a source, test, doc, script or comment that points there is broken for
 * everyone but the machine it was written on.
 *
 * Models: pgsim only (a "tidy" check, like TigerBeetle's tidy.zig scanning the tree for rules the
 * compiler cannot check).
 * Entry points: `findOutsidePaths(file, text)` (one file's text, pure), `repositoryTextFiles(root)`
 * (what git tracks, plus new files it does not ignore, binaries left out), `scanRepository(root)`,
 * `formatFinding`.
 * See also: ../self-contained.test.ts, which runs it over the repository.
 *
 * What counts as outside (each rule is a separate `reason`):
 * 1. `shared-folder`: a relative path into a folder named `shared` beside the repository
 *    (`..` then `/shared`), wherever it appears, however many `..` precede it.
 * 2. `machine-path`: an absolute path into the folder `work` at the file-system root, where the
 *    project's machines keep worktrees and shared material.
 * 3. `home-path`: an absolute path into a home directory: `home` or `Users` at the file-system
 *    root, root's home, a Windows `Users` folder.
 * 4. `climbs-out`: a relative path whose leading `..` segments, resolved from the folder of the
 *    file that holds it, climb above the repository root.
 * System locations such as `/usr/lib/postgresql/15/bin` or `/tmp` are not the project's and are
 * allowed; so are URLs (`https://host/work/...` is not a path on this machine).
 */

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Why a line refers outside the repository. */
export type OutsidePathReason = "shared-folder" | "machine-path" | "home-path" | "climbs-out";

/** One reference to a path outside the repository. */
export interface OutsidePathFinding {
  /** The file, relative to the repository root, with forward slashes. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  readonly reason: OutsidePathReason;
  /** The offending path as written. */
  readonly match: string;
}

// The patterns are written with escapes so that this file does not match its own rules.
const SHARED_FOLDER = /(?:\.\.[/\\])+shared(?=[/\\\s"'`)\]]|$)/g;
const SHARED_FOLDER_AT_START = new RegExp(`^${SHARED_FOLDER.source}`);
// Not preceded by a word character, a dot, a dash or a slash: `https://host/work/x` is a URL,
// `a/work/b` a relative path inside some folder.
const MACHINE_PATH = /(?<![\w.\-/:])\/work\/[^\s"'`)\]]*/g;
const HOME_PATH = /(?<![\w.\-/:])(?:\/home\/[\w.-]+|\/Users\/[\w.-]+|\/root\/|[A-Za-z]:\\Users\\)/g;
// A run of `..` segments at the start of a path token (not part of a longer name like `a..b`).
const PARENT_RUN = /(?<![\w.\-/\\])(?:\.\.[/\\])+(?:\.\.(?![\w.-]))?/g;

/**
 * The references to paths outside the repository in one file's text. `file` is the path of the
 * file relative to the repository root (forward slashes); relative paths are resolved from its
 * folder. Pure: reads nothing from disk.
 */
export function findOutsidePaths(file: string, text: string): OutsidePathFinding[] {
  const findings: OutsidePathFinding[] = [];
  const folderDepth =
    path.posix.dirname(file) === "." ? 0 : path.posix.dirname(file).split("/").length;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const add = (reason: OutsidePathReason, match: string) =>
      findings.push({ file, line: i + 1, reason, match });
    for (const m of line.matchAll(SHARED_FOLDER)) add("shared-folder", m[0]);
    for (const m of line.matchAll(MACHINE_PATH)) add("machine-path", m[0]);
    for (const m of line.matchAll(HOME_PATH)) add("home-path", m[0]);
    for (const m of line.matchAll(PARENT_RUN)) {
      // A shared-folder path climbs out as well; report it once, by its more telling rule.
      if (SHARED_FOLDER_AT_START.test(line.slice(m.index))) continue;
      const ups = m[0].split(/[/\\]/).filter((segment) => segment === "..").length;
      if (ups > folderDepth) add("climbs-out", m[0]);
    }
  }
  return findings;
}

/**
 * The repository's text files, relative to `root`: what git tracks plus new files it does not
 * ignore (so a check run before `git add` sees them too), leaving out files that no longer exist
 * and binaries (a NUL byte in the first 8 KB). Throws when `root` is not a git work tree.
 */
export function repositoryTextFiles(root: string): string[] {
  const listed = execFileSync(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  const files = [...new Set(listed.split("\0").filter((f) => f !== ""))].sort();
  return files.filter((file) => {
    const full = path.join(root, file);
    if (!fs.existsSync(full) || !fs.statSync(full).isFile()) return false;
    const fd = fs.openSync(full, "r");
    try {
      const head = Buffer.alloc(8192);
      const n = fs.readSync(fd, head, 0, head.length, 0);
      return !head.subarray(0, n).includes(0);
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** Every reference to a path outside the repository in the text files under `root`. */
export function scanRepository(root: string): OutsidePathFinding[] {
  return repositoryTextFiles(root).flatMap((file) =>
    findOutsidePaths(file, fs.readFileSync(path.join(root, file), "utf8")),
  );
}

/** `file:line: reason: match`, the form a failing test prints. */
export function formatFinding(finding: OutsidePathFinding): string {
  return `${finding.file}:${finding.line}: ${finding.reason}: ${finding.match}`;
}
