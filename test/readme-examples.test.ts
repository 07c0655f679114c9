/**
 * Runs every README example marked `<!-- example: NAME -->` exactly as written, the way a reader
 * would paste it into a file: the block must run without error, and each
 * `console.log(...); // VALUE` line must print VALUE (VALUE other than an object literal).
 * The READMEs are the root one, each package's, and those of the folders under a package's src/.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The README.md files in `dir` (relative to the root) and its subfolders, sorted. */
function readmesUnder(dir: string): string[] {
  if (!fs.existsSync(path.join(root, dir))) return [];
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) return readmesUnder(rel);
      return entry.name === "README.md" ? [rel] : [];
    });
}

const readmes = [
  "README.md",
  ...fs
    .readdirSync(path.join(root, "packages"))
    .sort()
    .flatMap((p) => [
      path.join("packages", p, "README.md"),
      ...readmesUnder(path.join("packages", p, "src")),
    ])
    .filter((p) => fs.existsSync(path.join(root, p))),
];

interface Example {
  file: string;
  name: string;
  code: string;
}

function examplesOf(file: string): Example[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  const out: Example[] = [];
  const re = /<!-- example: ([\w-]+) -->\s*```ts\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.push({ file, name: m[1]!, code: m[2]! });
  }
  return out;
}

const examples = readmes.flatMap(examplesOf);

describe("README examples", () => {
  it("there are examples to run (the root README, the package READMEs, folder READMEs)", () => {
    expect(examples.map((e) => e.name)).toEqual(
      expect.arrayContaining(["root", "clock-sweep", "buffer-manager", "heap-am", "postmaster"]),
    );
  });

  it("example names are unique (each is written to a file of its name)", () => {
    const names = examples.map((e) => e.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  for (const ex of examples) {
    it(`${ex.file}: example "${ex.name}" runs as written`, () => {
      const dir = path.join(root, "test", ".examples");
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${ex.name}.ts`);
      fs.writeFileSync(file, ex.code);
      const stdout = execFileSync(
        process.execPath,
        ["--import", "tsx", "--conditions=source", file],
        { cwd: root, encoding: "utf8", timeout: 60_000 },
      );
      const lines = stdout.split("\n").map((l) => l.trim());
      const expected = [...ex.code.matchAll(/console\.log\(.*\);[ \t]*\/\/[ \t]*(.+)$/gm)]
        .map((m) => m[1]!.trim())
        .filter((v) => !v.startsWith("{"));
      for (const value of expected) expect(lines, `prints ${value}`).toContain(value);
    });
  }
});
