/**
 * The tidy test: the source tree keeps its shape — no import cycles, no upward imports, a header on
 * every source file — and each check fails on a tree made to break it.
 */

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { findOutsidePaths, scanRepository } from "./tidy/outside-paths.js";
import {
  checkCycles,
  checkHeaders,
  checkLayers,
  formatViolations,
  layerOf,
  parseImports,
  type TreeFile,
  tidy,
} from "./tidy/tidy.js";

const root = fileURLToPath(new URL("..", import.meta.url));

function repositoryTree(): TreeFile[] {
  const listed = execFileSync(
    "git",
    ["ls-files", "-co", "--exclude-standard", ":(glob)packages/*/src/**/*.ts"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  return listed
    .split("\n")
    .filter((p) => p.endsWith(".ts"))
    .map((path) => {
      try {
        return { path, text: readFileSync(join(root, path), "utf8") };
      } catch {
        return null; // deleted in the work tree but still in the index
      }
    })
    .filter((f): f is TreeFile => f !== null);
}

/** Two folders up, spelled so that this file itself names no path outside the repository. */
const UP2 = ["..", ".."].join("/");

const header = "/**\n * A file.\n *\n * Models: src/backend/storage/page/bufpage.c\n */\n";

describe("tidy: the repository", () => {
  const tree = repositoryTree();

  it("has source files to check", () => {
    expect(tree.length).toBeGreaterThan(80);
  });

  it("has no import cycle among source files", () => {
    const v = checkCycles(tree);
    expect(v, formatViolations(v)).toEqual([]);
  });

  it("imports only from its own layer or below", () => {
    const v = checkLayers(tree);
    expect(v, formatViolations(v)).toEqual([]);
  });

  it("names no path outside the repository (test/self-contained.test.ts has the details)", () => {
    expect(scanRepository(root).map((f) => `${f.file}:${f.line}`)).toEqual([]);
  });

  it("opens every source file with what it models", () => {
    const v = checkHeaders(tree);
    expect(v, formatViolations(v)).toEqual([]);
  });
});

describe("tidy: deliberately bad trees", () => {
  it("finds an import cycle, naming every file in it", () => {
    const tree: TreeFile[] = [
      {
        path: "packages/heap-am/src/access/heap/a.ts",
        text: `${header}import { b } from "./b.js";\n`,
      },
      {
        path: "packages/heap-am/src/access/heap/b.ts",
        text: `${header}import type { c } from "./c.js";\n`,
      },
      {
        path: "packages/heap-am/src/access/heap/c.ts",
        text: `${header}export { a } from "./a.js";\n`,
      },
      {
        path: "packages/heap-am/src/access/heap/d.ts",
        text: `${header}import { a } from "./a.js";\n`,
      },
    ];
    const v = checkCycles(tree);
    expect(v).toHaveLength(1);
    expect(v[0]?.message).toContain("3 files");
    for (const f of ["a.ts", "b.ts", "c.ts"]) expect(v[0]?.message).toContain(f);
    expect(v[0]?.message).not.toContain("d.ts");
  });

  it("finds an upward import between folders and between packages", () => {
    const tree: TreeFile[] = [
      {
        path: "packages/heap-am/src/storage/page/bufpage.ts",
        text: `${header}import { heapInsert } from "${UP2}/access/heap/heapam.js";\n`,
      },
      {
        path: "packages/heap-am/src/access/heap/heapam.ts",
        text: `${header}export const heapInsert = 1;\n`,
      },
      {
        path: "packages/clock-sweep/src/freelist.ts",
        text: `${header}import { createBufferPool } from "@pgsim/buffer-manager";\n`,
      },
      {
        path: "packages/heap-am/src/access/heap/ok.ts",
        text: `${header}import { x } from "${UP2}/storage/page/bufpage.js";\nimport { y } from "@pgsim/buffer-manager";\n`,
      },
    ];
    const v = checkLayers(tree);
    expect(formatViolations(v)).toMatch(
      /bufpage\.ts:6: \[layer\] storage imports .*heapam\.ts from the higher layer access\/heap/,
    );
    expect(formatViolations(v)).toMatch(
      /freelist\.ts:6: \[layer\] package clock-sweep imports @pgsim\/buffer-manager/,
    );
    expect(v).toHaveLength(2);
  });

  it("finds a missing header and a header that does not say what it models", () => {
    const tree: TreeFile[] = [
      { path: "packages/bench/src/a.ts", text: "export const a = 1;\n" },
      { path: "packages/bench/src/b.ts", text: "/** Something. */\nexport const b = 1;\n" },
      { path: "packages/bench/src/c.ts", text: "#!/usr/bin/env node\n/**\n * pgsim only.\n */\n" },
    ];
    const v = checkHeaders(tree);
    expect(v.map((x) => x.file)).toEqual(["packages/bench/src/a.ts", "packages/bench/src/b.ts"]);
    expect(tidy(tree)).toHaveLength(2);
  });

  it("finds a path outside the repository", () => {
    const text = `import { x } from "${UP2}/${UP2}/${UP2}/${UP2}/shared/fixtures/x.js";\n`;
    const found = findOutsidePaths("packages/heap-am/src/access/heap/heapam.ts", text);
    expect(found.length).toBeGreaterThan(0);
  });

  it("reads imports the way the compiler does, not those inside comments", () => {
    const refs = parseImports(
      '/** import { x } from "./nope.js"; */\nimport {\n  a,\n  type B,\n} from "./a.js";\nexport * from "./b.js";\n// import "./c.js"\nconst m = await import("./d.js");\nimport type { E } from "./e.js";\n',
    );
    expect(refs.map((r) => [r.specifier, r.line, r.typeOnly])).toEqual([
      ["./a.js", 2, false],
      ["./b.js", 6, false],
      ["./d.js", 8, false],
      ["./e.js", 9, true],
    ]);
  });

  it("ranks folders by the longest matching prefix", () => {
    expect(layerOf("packages/heap-am/src/include/port/le-bytes.ts")?.layer).toBe("include");
    expect(layerOf("packages/heap-am/src/access/heap/heapam.ts")?.layer).toBe("access/heap");
    expect(layerOf("packages/heap-am/src/database.ts")?.layer).toBe("database.ts");
    const storage = layerOf("packages/heap-am/src/storage/page/bufpage.ts")?.rank ?? -1;
    const access = layerOf("packages/heap-am/src/access/heap/heapam.ts")?.rank ?? -1;
    expect(storage).toBeLessThan(access);
  });
});
