/**
 * The built `pgsim-clock` bin, run as a child process the way a student or a lesson runs it:
 * `node packages/clock-sweep/dist/repl/cli.js …`. `npm test` builds first (tsc -b); when
 * developing, build with `npx tsc -b packages/clock-sweep`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const cli = fileURLToPath(new URL("../dist/repl/cli.js", import.meta.url));
let dir = "";

function pgsimClock(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: "" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function script(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** A stack trace's telltale: "    at fn (file:line:col)". */
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

beforeAll(() => {
  if (!fs.existsSync(cli)) {
    throw new Error(`${cli} is missing: build first (npx tsc -b packages/clock-sweep)`);
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-clock-cli-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("pgsim-clock --script (the built bin)", () => {
  it("runs the worked example: four decrements, buffer 0 chosen, the hand left at 1", () => {
    const file = script(
      "worked-example.txt",
      "# postgres-storage.md §A.16: NBuffers = 4, usage counts {1,1,1,1}, hand at 0\n.fill\n.alloc\n.stats\n",
    );
    const r = pgsimClock("--buffers", "4", "--script", file);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "clock> .fill",
      "filled 4 buffers from the free list, unpinned, usage 1: 0 ← rel 1 blk 0, 1 ← rel 1 blk 1, 2 ← rel 1 blk 2, 3 ← rel 1 blk 3",
      "clock> .alloc",
      "StrategyGetBuffer (strategy normal):",
      "tick 1: buffer 0: usage 1 → 0",
      "tick 2: buffer 1: usage 1 → 0",
      "tick 3: buffer 2: usage 1 → 0",
      "tick 4: buffer 3: usage 1 → 0",
      "tick 5: buffer 0: usage 0, unpinned → victim",
      "  the hand wrapped to buffer 0: complete passes 0 → 1",
      "victim: buffer 0 (hand at 1, complete passes 1)",
      "StrategyGetBuffer returns buffer 0; .alloc stops there, so it keeps rel 1 blk 0 with usage 0 (.access REL BLK would read a page into it)",
      "clock> .stats",
      "hits 0, misses 4 (hit ratio 0.0%), evictions 0, dirty writes 0",
      "clock: hand at 1, complete passes 1",
      "",
    ]);
  });

  it("--explain adds a sentence of why under each event", () => {
    const file = script("explain.txt", ".fill\n.alloc\n");
    const r = pgsimClock("--buffers", "4", "--explain", "--script", file);
    expect(r.status).toBe(0);
    const lines = r.stdout.split("\n");
    const events = lines.filter((l) => /^tick \d/.test(l));
    expect(events).toHaveLength(5);
    for (const e of events) expect(lines[lines.indexOf(e) + 1]).toMatch(/^ {4}why: [A-Z].+\.$/);
  });

  it("an all-pinned pool reports 'no unpinned buffers available' and the script carries on", () => {
    const file = script("pinned.txt", ".fill\n.pin 0\n.pin 1\n.alloc\n.unpin 0\n.alloc\n");
    const r = pgsimClock("--buffers", "2", "--script", file);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      "tick 2: buffer 1: pinned, skipped (1 pin; try counter 0)\nERROR:  no unpinned buffers available\nclock> .unpin 0\n",
    );
    expect(r.stdout).toContain("victim: buffer 0 (hand at 1, complete passes 3)");
  });

  it("stops a script at a bad command with a usage line and a non-zero status, no stack trace", () => {
    const file = script("bad.txt", ".fill\n.access one 2\n.show\n");
    const r = pgsimClock("--script", file);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(
      '.access: bad relation number REL "one"\nusage: .access REL BLK [pin] [step]\n',
    );
    expect(r.stdout).not.toContain("clock> .show");
    expect(r.stderr).toBe(`pgsim-clock: ${file}:2: stopped at this bad command\n`);
    expect(r.stdout + r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe("pgsim-clock --help and bad command lines", () => {
  it("--help and compare --help print their usage and exit 0", () => {
    const main = pgsimClock("--help");
    expect(main.status).toBe(0);
    expect(main.stdout).toContain("pgsim-clock --script FILE [--buffers N] [--explain]");
    expect(main.stdout).toContain("pgsim-clock compare --trace T");
    expect(pgsimClock("help").stdout).toBe(main.stdout);
    const compare = pgsimClock("compare", "--help");
    expect(compare.status).toBe(0);
    expect(compare.stdout).toContain("usage: pgsim-clock compare --trace NAME|FILE");
    for (const p of ["clock", "clock-ring", "lru", "lru-2", "2q", "arc", "sieve"]) {
      expect(compare.stdout).toMatch(new RegExp(`^ {2}${p} +\\S`, "m"));
    }
  });

  it.each([
    [["--bogus"], /^pgsim-clock: Unknown option '--bogus'/, 2],
    [
      ["--buffers", "0"],
      /^pgsim-clock: --buffers must be an integer from 1 to 1024, got "0"\nusage: pgsim-clock /,
      2,
    ],
    [
      ["--script", "/nonexistent/lesson.txt"],
      /^pgsim-clock: no script file "\/nonexistent\/lesson.txt"\n/,
      2,
    ],
    [["frobnicate"], /^pgsim-clock: unknown command "frobnicate"\nusage: pgsim-clock /, 2],
    [["compare"], /^pgsim-clock: --trace is required\nusage: pgsim-clock compare /, 2],
    [["compare", "--trace", "nope"], /^pgsim-clock: no trace "nope": name a built-in trace/, 2],
    [["compare", "--trace", "zipfian", "--buffers", "8,x"], /^pgsim-clock: --buffers must be/, 2],
    [
      ["compare", "--trace", "zipfian", "--policies", "mru"],
      /^pgsim-clock: unknown policy "mru"/,
      2,
    ],
  ])(
    "pgsim-clock %j: one line of why, a usage line, a non-zero status",
    (args, message, status) => {
      const r = pgsimClock(...args);
      expect(r.status).toBe(status);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_FRAME);
    },
  );

  it("a malformed trace file is reported with its line, not a stack trace", () => {
    const file = script("bad.trace", "16384 0 1\n16384 0 2 unpin dirty\n");
    const r = pgsimClock("compare", "--trace", file);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `pgsim-clock: ${file}:2: an "unpin" line takes no other flags: 16384 0 2 unpin dirty\n`,
    );
  });
});
