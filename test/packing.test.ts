// pgsim in someone else's project: `npm run pack` (scripts/pack.mjs) packs the four packages; the
// tarballs carry the built code, the .d.ts files, the bin launchers, README and LICENSE; installed
// together into a scratch project in a temporary directory (far from this repository, so nothing
// resolves back into it) they give a project where
// 1. the root README's "Using pgsim in your own project" example type-checks with `strict: true`
//    (module nodenext) against the shipped .d.ts files, and runs, printing what the README says;
// 2. a plain ESM script creates a memheap and a disk-backed heap database, runs INSERT, UPDATE,
//    DELETE and VACUUM, and reads the statistics, asserting every result;
// 3. the three bins answer --help.
//
// The install is offline. `npm ci` in this repository (CI runs it just before the tests) put the
// tarball of every third-party package the four need into npm's cache, but not the registry's
// package documents that `npm install <tarballs>` would need to choose versions. So the scratch
// project gets a package-lock.json derived from this repository's: the four tarballs as `file:`
// entries, and exactly the third-party entries they reach, at the versions pinned here; then
// `npm ci --offline` installs without touching the network. If that fails, the test fails with
// npm's own output.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** The packages, by folder, with the bins they install. */
const PACKAGES = [
  { dir: "clock-sweep", name: "@pgsim/clock-sweep", bins: ["pgsim-clock"] },
  { dir: "buffer-manager", name: "@pgsim/buffer-manager", bins: [] },
  { dir: "heap-am", name: "@pgsim/heap-am", bins: ["pgsim-inspect"] },
  { dir: "bench", name: "@pgsim/bench", bins: ["pgsim-bench"] },
] as const;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-packing-"));
const project = path.join(work, "consumer");
const packs = path.join(project, "packs");

/**
 * The environment for npm in the scratch project: this process's, minus what `npm test` set for
 * this repository (its prefix, package and lifecycle variables would point npm back here).
 */
function scratchEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    const k = key.toLowerCase();
    if (k.startsWith("npm_package_") || k.startsWith("npm_lifecycle_")) continue;
    if (["npm_config_local_prefix", "npm_config_prefix", "init_cwd"].includes(k)) continue;
    if (k.startsWith("npm_config_workspace") || k === "npm_config_include_workspace_root") continue;
    env[key] = value;
  }
  return env;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws, so a test can show the output of a failure. */
function run(file: string, args: string[], cwd: string, timeoutMs = 120_000): Run {
  try {
    const stdout = execFileSync(file, args, {
      cwd,
      env: scratchEnv(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: 0, stdout, stderr: "" };
  } catch (error) {
    const e = error as { status?: number | null; stdout?: string; stderr?: string };
    return { status: e.status ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? String(error) };
  }
}

/** Runs a command and throws with its whole output when it fails. */
function mustRun(what: string, file: string, args: string[], cwd: string): Run {
  const r = run(file, args, cwd);
  if (r.status !== 0) {
    throw new Error(
      `${what} failed (exit status ${r.status}): ${file} ${args.join(" ")} in ${cwd}\n` +
        `--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
    );
  }
  return r;
}

/** The file names in a .tgz (ustar, as npm pack writes it). */
function tarEntries(tgz: string): Map<string, Buffer> {
  const tar = gunzipSync(fs.readFileSync(tgz));
  const entries = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString("utf8")
        .replace(/\0.*$/s, "");
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const full = prefix === "" ? name : `${prefix}/${name}`;
    entries.set(full, tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/**
 * The scratch project's lockfile: its root, the four tarballs as `file:` entries, and every
 * third-party entry of this repository's lockfile that they (or the root's dev dependencies)
 * reach, found as Node finds a package (the nearest node_modules folder up the tree).
 */
function scratchLockfile(
  packageJson: { dependencies: Record<string, string>; devDependencies: Record<string, string> },
  tarballs: Map<string, { spec: string; integrity: string; manifest: LockEntry }>,
): unknown {
  const repoLock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8"));
  const repo: Record<string, LockEntry> = repoLock.packages;
  // The repository's workspace folder of each package (packages/heap-am) and back.
  const folderOf = new Map<string, string>(PACKAGES.map((p) => [p.name, `packages/${p.dir}`]));
  const packageInFolder = new Map(PACKAGES.map((p) => [`packages/${p.dir}`, p.name]));

  const out: Record<string, LockEntry> = {
    "": {
      name: "pgsim-consumer",
      version: "1.0.0",
      dependencies: packageJson.dependencies,
      devDependencies: packageJson.devDependencies,
    },
  };
  for (const [name, t] of tarballs) {
    const m = t.manifest;
    out[`node_modules/${name}`] = {
      version: m.version,
      resolved: t.spec,
      integrity: t.integrity,
      license: m.license,
      ...(m.dependencies !== undefined ? { dependencies: m.dependencies } : {}),
      ...(m.bin !== undefined ? { bin: m.bin } : {}),
      ...(m.engines !== undefined ? { engines: m.engines } : {}),
    };
  }

  /** Where a dependency of the package at `from` (a repository lock path) is found. */
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "") {
      if (!dir.endsWith("node_modules")) {
        const candidate = `${dir === "" ? "" : `${dir}/`}node_modules/${name}`;
        if (repo[candidate] !== undefined) return candidate;
      }
      if (dir === "") return undefined;
    }
  };
  /** The scratch path of a repository lock path (packages/x/... lives in node_modules/@pgsim/x). */
  const scratchPath = (repoPath: string): string => {
    for (const [folder, name] of packageInFolder) {
      if (repoPath.startsWith(`${folder}/`)) {
        return `node_modules/${name}/${repoPath.slice(folder.length + 1)}`;
      }
    }
    return repoPath;
  };

  const walk = (from: string, entry: LockEntry, dev: boolean): void => {
    const wanted: [string, boolean][] = [
      ...Object.keys(entry.dependencies ?? {}).map((n): [string, boolean] => [n, true]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
      ...Object.keys(entry.peerDependencies ?? {}).map((n): [string, boolean] => [
        n,
        entry.peerDependenciesMeta?.[n]?.optional !== true,
      ]),
    ];
    for (const [name, required] of wanted) {
      if (folderOf.has(name)) continue; // one of the tarballs
      const found = resolve(from, name);
      if (found === undefined) {
        if (required) throw new Error(`package-lock.json has no ${name} for ${from}`);
        continue;
      }
      const target = scratchPath(found);
      if (out[target] !== undefined) continue;
      const { dev: _dev, devOptional, peer: _peer, ...copy } = repo[found]!;
      out[target] = {
        ...copy,
        ...(dev ? { dev: true } : {}),
        ...(devOptional === true && !dev ? { optional: true } : {}),
      };
      walk(found, repo[found]!, dev);
    }
  };
  for (const name of tarballs.keys()) walk(folderOf.get(name)!, repo[folderOf.get(name)!]!, false);
  walk("", { dependencies: packageJson.devDependencies }, true);

  return {
    name: "pgsim-consumer",
    version: "1.0.0",
    lockfileVersion: 3,
    requires: true,
    packages: out,
  };
}

/** The README section's example: the ```ts block marked `<!-- example: own-project -->`. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const m = /<!-- example: own-project -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error("README.md has no example marked own-project");
  return m[1]!;
}

/** Strict TypeScript on the shipped types; each @ts-expect-error must meet a real type error. */
const TYPES_TS = `import { SimplePool, PgsimError } from "@pgsim/clock-sweep";
import { createBufferPool, ForkNumber, type BufferPoolStats } from "@pgsim/buffer-manager";
import { Database, type TID, type VacuumResult, type Row } from "@pgsim/heap-am";
import { main as benchMain } from "@pgsim/bench";

const db: Database = Database.create({ variant: "memory", bufferCount: 16 });
db.createTable("t", [{ name: "a", type: "int4", notNull: true }]);
const tx = db.begin();
const tid: TID = tx.insert("t", [1]);
const row: Row | undefined = tx.fetch("t", tid);
tx.commit();
const result: VacuumResult = db.vacuum("t");
const stats: BufferPoolStats = db.pool.statistics();
const pool = createBufferPool({ variant: "memory", bufferCount: 16 });
pool.createRelation({ spcOid: 1663, dbOid: 5, relNumber: 1 }, ForkNumber.MAIN);
const clock = new SimplePool({ bufferCount: 4 });
const code: Promise<number> = benchMain(["--help"]);
export { row, result, stats, clock, code, PgsimError };

// @ts-expect-error: a table name is a string
db.vacuum(42);
// @ts-expect-error: there is no such variant
Database.create({ variant: "tape", bufferCount: 16 });
// @ts-expect-error: the statistics have no such counter
stats.misses;
`;

/** A plain ESM script on the public API, asserting what it sees. */
const CHECK_MJS = `import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimplePool } from "@pgsim/clock-sweep";
import { Database, PgsimError } from "@pgsim/heap-am";

const dataDir = mkdtempSync(join(tmpdir(), "pgsim-consumer-"));
try {
  for (const options of [
    { variant: "memory", bufferCount: 32 },
    { variant: "disk", bufferCount: 8, dataDir, checksums: true },
  ]) {
    const db = Database.create(options);
    db.createTable("accounts", [
      { name: "aid", type: "int4", notNull: true },
      { name: "abalance", type: "int4", notNull: true },
      { name: "filler", type: "text" },
    ]);
    const tx = db.begin();
    const tids = tx.insertMany("accounts", Array.from({ length: 2000 }, (_, i) => [i, 0, "x".repeat(50)]));
    tx.commit();
    const pages = db.nblocks("accounts");
    assert.ok(pages > 8, options.variant + ": " + pages + " pages, more than the 8 buffers of disk");

    const tx2 = db.begin();
    for (const tid of tids.slice(0, 1000)) if (tid !== tids[10]) assert.equal(tx2.delete("accounts", tid), true);
    tx2.commit();
    const vac = db.vacuum("accounts");
    assert.equal(vac.tuplesRemoved, 999, options.variant + ": the deleted rows are gone");
    assert.ok(db.freeSpace("accounts").some((f) => f.avail > 4000), "vacuum recorded free space");

    const tx3 = db.begin();
    const moved = tx3.update("accounts", tids[10], (r) => [r[0], 500, r[2]]);
    assert.equal(moved.block, tids[10].block, "a HOT update stays on its (now roomy) page");
    const rows = tx3.scan("accounts").map((r) => r.row);
    tx3.commit();
    assert.equal(rows.length, 1001);
    assert.deepEqual(rows.find((r) => r[0] === 10), [10, 500, "x".repeat(50)]);

    const stats = db.pool.statistics();
    assert.ok(stats.extends >= pages, JSON.stringify(stats)); // main fork, FSM and VM
    assert.ok(stats.hits > 0);
    if (options.variant === "disk") {
      assert.ok(stats.reads > 0 && stats.writes > 0 && stats.evictions > 0, JSON.stringify(stats));
      db.checkpoint();
      assert.ok(existsSync(join(dataDir, "base", "5", "16384")), "the table's file");
    } else {
      assert.equal(stats.reads + stats.writes, 0, JSON.stringify(stats));
    }
    assert.throws(() => db.table("nope"), PgsimError);
    db.close();
    console.log(options.variant, "ok", rows.length, vac.tuplesRemoved, stats.extends);
  }
  const clock = new SimplePool({ bufferCount: 2 });
  assert.equal(clock.access("rel 1 blk 0").bufferId, 0);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
`;

let installError: Error | undefined;

beforeAll(() => {
  try {
    fs.mkdirSync(packs, { recursive: true });
    mustRun(
      "npm run pack",
      process.execPath,
      [path.join(root, "scripts", "pack.mjs"), "--out", packs],
      root,
    );

    const tarballs = new Map<string, { spec: string; integrity: string; manifest: LockEntry }>();
    for (const p of PACKAGES) {
      const file = `${p.name.replace("@", "").replace("/", "-")}-0.1.0.tgz`;
      const bytes = fs.readFileSync(path.join(packs, file));
      const manifest = JSON.parse(
        tarEntries(path.join(packs, file)).get("package/package.json")!.toString(),
      );
      tarballs.set(p.name, {
        spec: `file:packs/${file}`,
        integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
        manifest,
      });
    }
    const rootManifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    const packageJson = {
      name: "pgsim-consumer",
      version: "1.0.0",
      private: true,
      type: "module",
      dependencies: Object.fromEntries([...tarballs].map(([name, t]) => [name, t.spec])),
      devDependencies: { "@types/node": rootManifest.devDependencies["@types/node"] as string },
    };
    fs.writeFileSync(
      path.join(project, "package.json"),
      `${JSON.stringify(packageJson, null, 2)}\n`,
    );
    fs.writeFileSync(
      path.join(project, "package-lock.json"),
      `${JSON.stringify(scratchLockfile(packageJson, tarballs), null, 2)}\n`,
    );
    mustRun(
      "npm ci --offline in the scratch project",
      npm,
      ["ci", "--offline", "--no-audit", "--no-fund"],
      project,
    );

    fs.mkdirSync(path.join(project, "src"));
    fs.writeFileSync(path.join(project, "src", "example.ts"), readmeExample());
    fs.writeFileSync(path.join(project, "src", "types.ts"), TYPES_TS);
    fs.writeFileSync(path.join(project, "check.mjs"), CHECK_MJS);
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          types: ["node"],
          // The shipped .d.ts files are checked too: one that names a type from a package a
          // consumer does not get (a devDependency such as @types/cli-progress) fails here.
          skipLibCheck: false,
          rootDir: "src",
          outDir: "out",
        },
        include: ["src/*.ts"],
      }),
    );
  } catch (error) {
    installError = error as Error;
  }
}, 240_000);

afterAll(() => {
  // PGSIM_KEEP_SCRATCH=1 keeps the scratch project for a look after a failure.
  if (process.env.PGSIM_KEEP_SCRATCH === "1") console.log(`scratch project kept in ${project}`);
  else fs.rmSync(work, { recursive: true, force: true });
});

/** Fails the calling test with the setup's error, npm's output included. */
function installed(): void {
  if (installError !== undefined) throw installError;
}

describe("pgsim packed and installed into another project", () => {
  it("npm run pack writes the four tarballs, each with LICENSE, README, its bins and built code", () => {
    installed();
    const license = fs.readFileSync(path.join(root, "LICENSE"), "utf8");
    expect(license).toContain("MIT License");
    expect(license).toContain("Copyright (c) 2026 the pgsim authors");
    for (const p of PACKAGES) {
      const file = path.join(packs, `${p.name.replace("@", "").replace("/", "-")}-0.1.0.tgz`);
      const entries = tarEntries(file);
      expect(entries.get("package/LICENSE")?.toString(), `${p.name} LICENSE`).toBe(license);
      expect([...entries.keys()]).toEqual(
        expect.arrayContaining([
          "package/package.json",
          "package/README.md",
          "package/dist/index.js",
          "package/dist/index.d.ts",
          ...p.bins.map((b) => `package/bin/${b}.js`),
        ]),
      );
      const manifest = JSON.parse(entries.get("package/package.json")!.toString());
      expect(manifest.license).toBe("MIT");
      expect(manifest.files).toEqual(expect.arrayContaining(["dist", "README.md", "LICENSE"]));
      expect(Object.keys(manifest.bin ?? {})).toEqual(p.bins);
      // Only what a user needs: no tests, no build info.
      expect([...entries.keys()].filter((e) => /\/test\/|\.tsbuildinfo$/.test(e))).toEqual([]);
    }
  });

  it("npm ci --offline installed copies of the tarballs, not links into this repository", () => {
    installed();
    for (const p of PACKAGES) {
      const dir = path.join(project, "node_modules", p.name);
      expect(fs.lstatSync(dir).isSymbolicLink(), `${p.name} is a real folder`).toBe(false);
      expect(fs.existsSync(path.join(dir, "dist", "index.js"))).toBe(true);
    }
    expect(fs.existsSync(path.join(project, "node_modules", "piscina", "package.json"))).toBe(true);
    const resolved = run(
      process.execPath,
      ["--input-type=module", "-e", 'console.log(import.meta.resolve("@pgsim/heap-am"))'],
      project,
    );
    expect(resolved.stdout.trim()).toBe(
      `file://${path.join(fs.realpathSync(project), "node_modules/@pgsim/heap-am/dist/index.js")}`,
    );
  });

  it("the README example and a typed file type-check with strict: true against the shipped .d.ts", () => {
    installed();
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    const r = run(process.execPath, [tsc, "-p", project], project);
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(project, "out", "example.js"))).toBe(true);
  }, 180_000);

  it("the README example, compiled, runs and prints what the README says", () => {
    installed();
    const r = mustRun("the README example", process.execPath, ["out/example.js"], project);
    const lines = r.stdout.split("\n").map((l) => l.trim());
    const expected = [
      ...readmeExample().matchAll(/console\.log\(.*\);[ \t]*\/\/[ \t]*(.+)$/gm),
    ].map((m) => m[1]!.trim());
    expect(expected).toHaveLength(3);
    expect(lines.filter((l) => l !== "")).toEqual(expected);
  });

  it("an ESM script on the public API: memheap and heap, DML, VACUUM, statistics", () => {
    installed();
    const r = run(process.execPath, ["check.mjs"], project);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^memory ok 1001 999 \d+$/),
      expect.stringMatching(/^disk ok 1001 999 \d+$/),
    ]);
  });

  it("the installed bins answer --help (node_modules/.bin, what npx runs)", () => {
    installed();
    for (const bin of PACKAGES.flatMap((p) => p.bins)) {
      const r = run(path.join(project, "node_modules", ".bin", bin), ["--help"], project);
      expect(r.status, `${bin} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/usage/i);
    }
  });
});
