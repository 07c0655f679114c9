#!/usr/bin/env node
/**
 * `npm run pack`: builds pgsim and packs its four packages into one folder of tarballs, ready for
 * `npm install <folder>/*.tgz` in another project.
 *
 * Models: pgsim only (release tooling).
 * Usage: `npm run pack` (writes to pack-out/) or `node scripts/pack.mjs --out DIR [--no-build]`.
 * Prints one line per tarball (name, file, size) and the command that installs them. The
 * packages depend on each other by exact version (0.1.0), and npm satisfies those dependencies
 * from the tarballs installed next to them, so all four are installed together; their own
 * third-party dependencies come from the registry (or npm's cache).
 * See also: ../test/packing.test.ts (packs, installs into a scratch project, runs and type-checks
 * code there), the root README "Using pgsim in your own project".
 */

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function usage(message) {
  process.stderr.write(`pack: ${message}\nusage: node scripts/pack.mjs [--out DIR] [--no-build]\n`);
  process.exit(2);
}

let outDir = path.join(root, "pack-out");
let build = true;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "--out") {
    const value = args[++i];
    if (value === undefined || value === "") usage("--out needs a directory");
    outDir = path.resolve(value);
  } else if (arg === "--no-build") {
    build = false;
  } else if (arg === "--help" || arg === "-h") {
    process.stdout.write(
      "usage: node scripts/pack.mjs [--out DIR] [--no-build]\n" +
        "Builds pgsim (tsc -b) and packs its four packages into DIR (default pack-out/).\n",
    );
    process.exit(0);
  } else {
    usage(`unknown argument ${arg}`);
  }
}

// On Windows npm is npm.cmd; everywhere else plain npm.
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const { workspaces } = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));

if (build) execFileSync(npm, ["run", "build"], { cwd: root, stdio: "inherit" });
for (const ws of workspaces) {
  const entry = path.join(root, ws, "dist", "index.js");
  if (!fs.existsSync(entry)) {
    process.stderr.write(`pack: ${ws} is not built (${entry} is missing); run npm run build\n`);
    process.exit(1);
  }
}

fs.mkdirSync(outDir, { recursive: true });
const packed = JSON.parse(
  execFileSync(
    npm,
    [
      "pack",
      "--json",
      "--pack-destination",
      outDir,
      ...workspaces.flatMap((ws) => ["--workspace", ws]),
    ],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  ),
);
for (const p of packed) {
  const kB = (p.size / 1024).toFixed(0);
  process.stdout.write(`${p.name}@${p.version}  ${path.join(outDir, p.filename)}  (${kB} kB)\n`);
}
process.stdout.write(`\nInstall all four in your project:  npm install ${outDir}/*.tgz\n`);
