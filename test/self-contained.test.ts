// A fresh clone is complete: no source, test, doc, script, comment or package.json of the project
// refers to a path outside the repository, and the data the tests read (the PostgreSQL 15
// fixtures) is tracked inside it. The checker lives in tidy/outside-paths.ts; here it runs over
// every tracked text file, and over deliberately bad text to show that it can fail.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FIXTURES_DIR } from "../packages/heap-am/test/pg15-fixture-cases.js";
import {
  findOutsidePaths,
  formatFinding,
  repositoryTextFiles,
  scanRepository,
} from "./tidy/outside-paths.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The bad paths are assembled at run time so that this file itself stays clean.
const UP = "..";
const SHARED = `${UP}/shared`;
const MACHINE = ["", "work", "shared", "reference", "postgres-storage.md"].join("/");
const HOME = ["", "home", "alice", "pgsim"].join("/");

describe("the repository refers to nothing outside it", () => {
  it("no tracked text file names a path outside the repository (file:line: reason: path)", () => {
    expect(scanRepository(root).map(formatFinding)).toEqual([]);
  });

  it("the scan covers sources, tests, docs, scripts, CI and package.json, and skips binaries", () => {
    const files = repositoryTextFiles(root);
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        ".ci/run",
        "README.md",
        "packages/heap-am/package.json",
        "packages/heap-am/src/index.ts",
        "packages/heap-am/test/pg15-fixture-cases.ts",
        "docs/reference/postgres-storage.md",
        "test/fixtures/pg15-heap/README.md",
        "test/fixtures/pg15-heap/07-vacuum-pruned/pages.json",
      ]),
    );
    expect(files).not.toContain("test/fixtures/pg15-heap/07-vacuum-pruned/main.bin");
    expect(files.length).toBeGreaterThan(100);
  });

  it("the PostgreSQL 15 fixtures the tests read are tracked inside the repository", () => {
    expect(path.relative(root, FIXTURES_DIR).split(path.sep).join("/")).toBe(
      "test/fixtures/pg15-heap",
    );
    const tracked = execFileSync("git", ["ls-files", "test/fixtures/pg15-heap"], {
      cwd: root,
      encoding: "utf8",
    }).split("\n");
    expect(tracked).toEqual(
      expect.arrayContaining([
        "test/fixtures/pg15-heap/README.md",
        "test/fixtures/pg15-heap/index.json",
        "test/fixtures/pg15-heap/pg_xact.bin",
        "test/fixtures/pg15-heap/01-fixed-width-fresh/main.bin",
        "test/fixtures/pg15-heap/11-more-types/rows.json",
      ]),
    );
  });
});

describe("the checker (tidy/outside-paths.ts)", () => {
  it("reports each kind of outside path with its file, line and reason", () => {
    const text = [
      "// fine: inside the repository",
      `const FIXTURES = new URL("${UP}/${UP}/${UP}/${UP}/shared/fixtures/pg15-heap", import.meta.url);`,
      `See ${MACHINE} section A.16.`,
      `cd ${HOME} && npm test`,
      `import x from "${UP}/${UP}/${UP}/${UP}/elsewhere/x.js";`,
      `read ${SHARED}/fixtures`,
    ].join("\n");
    expect(findOutsidePaths("packages/heap-am/test/x.ts", text).map(formatFinding)).toEqual([
      `packages/heap-am/test/x.ts:2: shared-folder: ${UP}/${UP}/${UP}/${UP}/shared`,
      `packages/heap-am/test/x.ts:3: machine-path: ${MACHINE}`,
      `packages/heap-am/test/x.ts:4: home-path: ${["", "home", "alice"].join("/")}`,
      `packages/heap-am/test/x.ts:5: climbs-out: ${UP}/${UP}/${UP}/${UP}/`,
      `packages/heap-am/test/x.ts:6: shared-folder: ${SHARED}`,
    ]);
  });

  it("resolves relative paths from the file's own folder", () => {
    const upTo = (n: number) => `"${Array.from({ length: n }, () => UP).join("/")}/test/x"`;
    // packages/heap-am/test is three folders deep: three `..` reach the root, four leave it.
    expect(findOutsidePaths("packages/heap-am/test/a.ts", upTo(3))).toEqual([]);
    expect(findOutsidePaths("packages/heap-am/test/a.ts", upTo(4)).map((f) => f.reason)).toEqual([
      "climbs-out",
    ]);
    expect(findOutsidePaths("README.md", upTo(1)).map((f) => f.reason)).toEqual(["climbs-out"]);
    expect(findOutsidePaths("docs/reference/README.md", upTo(2))).toEqual([]);
  });

  it("leaves system paths, URLs, ranges and ellipses alone", () => {
    const text = [
      "PG15_BIN_DIR = /usr/lib/postgresql/15/bin; scratch files go to /tmp/pgsim-x",
      "https://example.org/work/shared/x and git@host:work/x",
      "buffers 1..NBuffers, digits 0..9999, and so on...",
      "a relative path inside a folder: lib/work/x, ./scripts/pack.mjs",
    ].join("\n");
    expect(findOutsidePaths("packages/heap-am/README.md", text)).toEqual([]);
  });

  describe("over a scratch git repository", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-tidy-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("fails on a tracked file and on a new untracked one, names them, and skips binaries", () => {
      execFileSync("git", ["init", "-q"], { cwd: dir });
      fs.mkdirSync(path.join(dir, "src"));
      fs.writeFileSync(path.join(dir, "src", "a.ts"), `// ok\n// see ${SHARED}/STYLE.md\n`);
      fs.writeFileSync(path.join(dir, "notes.md"), `line one\nline two\n${MACHINE}\n`);
      fs.writeFileSync(path.join(dir, "data.bin"), Buffer.from(`\0${MACHINE}`));
      fs.writeFileSync(path.join(dir, ".gitignore"), "ignored.txt\n");
      fs.writeFileSync(path.join(dir, "ignored.txt"), MACHINE);
      execFileSync("git", ["add", "src/a.ts", "data.bin"], { cwd: dir });
      expect(scanRepository(dir).map(formatFinding)).toEqual([
        `notes.md:3: machine-path: ${MACHINE}`,
        `src/a.ts:2: shared-folder: ${SHARED}`,
      ]);
    });
  });
});
