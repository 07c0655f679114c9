// The three command-line tools are linked by `npm ci` on a fresh clone, before anything is built:
// each package's "bin" points at a committed launcher (packages/*/bin/*.js, executable) that runs
// the built program, and says how to build it when dist/ does not exist yet. After the build,
// the links in node_modules/.bin (what `npx --no-install pgsim-clock` runs) answer --help.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const BINS = [
  { pkg: "clock-sweep", bin: "pgsim-clock", program: "dist/repl/cli.js" },
  { pkg: "heap-am", bin: "pgsim-inspect", program: "dist/inspect/cli.js" },
  { pkg: "bench", bin: "pgsim-bench", program: "dist/cli.js" },
] as const;

function run(file: string, args: string[]): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(file, args, { cwd: root, encoding: "utf8", stdio: "pipe" });
    return { status: 0, stdout, stderr: "" };
  } catch (error) {
    const e = error as { status?: number | null; stdout?: string; stderr?: string };
    return { status: e.status ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bin-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe.each(BINS)("$bin", ({ pkg, bin, program }) => {
  const manifest = JSON.parse(
    fs.readFileSync(path.join(root, "packages", pkg, "package.json"), "utf8"),
  );
  const launcher = path.join(root, "packages", pkg, "bin", `${bin}.js`);

  it("package.json links a committed, executable launcher and publishes it", () => {
    expect(manifest.bin).toEqual({ [bin]: `./bin/${bin}.js` });
    expect(manifest.files).toEqual(expect.arrayContaining(["bin", "dist", "LICENSE"]));
    // Git records the executable bit (mode 100755), so a fresh clone has it too.
    const staged = execFileSync("git", ["ls-files", "-s", `packages/${pkg}/bin/${bin}.js`], {
      cwd: root,
      encoding: "utf8",
    });
    expect(staged).toMatch(/^100755 /);
    expect(fs.readFileSync(launcher, "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it("node_modules/.bin runs the built program: --help exits 0 with a usage text", () => {
    expect(fs.realpathSync(path.join(root, "node_modules", ".bin", bin))).toBe(
      fs.realpathSync(launcher),
    );
    const r = run(path.join(root, "node_modules", ".bin", bin), ["--help"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(bin);
    expect(r.stdout).toMatch(/usage/i);
  });

  it("before the build, the launcher says to run npm run build (exit status 1)", () => {
    // The same launcher in a package folder that has no dist/ yet.
    const dir = path.join(scratch, pkg);
    fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
    fs.copyFileSync(launcher, path.join(dir, "bin", `${bin}.js`));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const r = run(process.execPath, [path.join(dir, "bin", `${bin}.js`), "--help"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `${bin}: ${path.join(dir, program)} is missing: the package is not built yet. ` +
        "Run `npm run build` at the root of the pgsim repository first.\n",
    );
  });
});
