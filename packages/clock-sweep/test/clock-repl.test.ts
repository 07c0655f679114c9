/**
 * The REPL as a student uses it: lines typed into node:repl's input stream, output read back.
 * The input and output are PassThrough streams, not a terminal, so there is no colour.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { startClockRepl } from "../src/repl/clock-repl.js";

/** Types `lines` into a fresh REPL, closes the input, and returns everything it printed. */
async function typeIntoRepl(lines: string[], options: { bufferCount?: number } = {}) {
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = "";
  output.on("data", (chunk: Buffer) => {
    printed += chunk.toString("utf8");
  });
  const { server } = startClockRepl({ ...options, input, output, terminal: false });
  const exited = new Promise<void>((resolve) => server.on("exit", () => resolve()));
  input.end(`${lines.join("\n")}\n`);
  await exited;
  // The prompt is printed before each command's output: take it off to get whole lines.
  return printed
    .split("\n")
    .map((l) => l.replace(/^(clock> )+/, ""))
    .filter((l) => l !== "");
}

describe("pgsim-clock REPL", () => {
  it("the worked example (NBuffers = 4, usage {1,1,1,1}, hand at 0): four decrements, buffer 0, hand at 1", async () => {
    const out = await typeIntoRepl([".fill", ".show", ".alloc", "pool.strategy.hand", ".show"], {
      bufferCount: 4,
    });
    // Set-up: four buffers, usage 1 each, the hand at 0.
    const before = out.indexOf(
      "pool: 4 buffers, hand at 0, complete passes 0, free list: empty, strategy: normal",
    );
    expect(before).toBeGreaterThan(-1);
    expect(out.slice(before + 1, before + 5).every((l) => /usage 1 ■□□□□ {2}pins 0/.test(l))).toBe(
      true,
    );
    const ticks = out.filter((l) => l.startsWith("tick "));
    expect(ticks).toEqual([
      "tick 1: buffer 0: usage 1 → 0",
      "tick 2: buffer 1: usage 1 → 0",
      "tick 3: buffer 2: usage 1 → 0",
      "tick 4: buffer 3: usage 1 → 0",
      "tick 5: buffer 0: usage 0, unpinned → victim",
    ]);
    expect(out).toContain("  the hand wrapped to buffer 0: complete passes 0 → 1");
    expect(out).toContain("victim: buffer 0 (hand at 1, complete passes 1)");
    // Plain JavaScript sees the same pool: the hand is at 1.
    expect(out[out.indexOf("victim: buffer 0 (hand at 1, complete passes 1)") + 2]).toBe("1");
    expect(out.filter((l) => l.startsWith("pool: 4 buffers, hand at 1"))).toHaveLength(1);
    // The last picture points the hand at buffer 1.
    const handRows = out.filter((l) => l.endsWith("◀ hand"));
    expect(handRows[handRows.length - 1]).toBe(
      " │  1  rel 1 blk 1  usage 0 □□□□□  pins 0         ◀ hand",
    );
  });

  it("with every buffer pinned, .alloc ends with 'no unpinned buffers available' and the REPL carries on", async () => {
    const out = await typeIntoRepl(
      [
        ".reset 3",
        ".access 1 0 pin",
        ".access 1 1 pin",
        ".access 1 2 pin",
        ".alloc",
        ".unpin 1",
        ".alloc",
      ],
      { bufferCount: 8 },
    );
    const error = out.indexOf("ERROR:  no unpinned buffers available");
    expect(error).toBeGreaterThan(-1);
    // The failed search: exactly NBuffers pinned ticks, then the error.
    expect(out.slice(error - 3, error)).toEqual([
      "tick 1: buffer 0: pinned, skipped (1 pin; try counter 2)",
      "tick 2: buffer 1: pinned, skipped (1 pin; try counter 1)",
      "tick 3: buffer 2: pinned, skipped (1 pin; try counter 0)",
    ]);
    // Still alive: the next commands run, and with buffer 1 unpinned the clock finds it.
    expect(out[error + 1]).toBe("unpinned buffer 1 (rel 1 blk 1): pins 0");
    expect(out.slice(error + 3)).toEqual([
      "tick 1: buffer 0: pinned, skipped (1 pin; try counter 2)",
      "  the hand wrapped to buffer 0: complete passes 0 → 1",
      "tick 2: buffer 1: usage 1 → 0",
      "tick 3: buffer 2: pinned, skipped (1 pin; try counter 2)",
      "tick 4: buffer 0: pinned, skipped (1 pin; try counter 1)",
      "  the hand wrapped to buffer 0: complete passes 1 → 2",
      "tick 5: buffer 1: usage 0, unpinned → victim",
      "victim: buffer 1 (hand at 2, complete passes 2)",
      "StrategyGetBuffer returns buffer 1; .alloc stops there, so it keeps rel 1 blk 1 with usage 0 (.access REL BLK would read a page into it)",
    ]);
  });

  it("answers a bad command with a usage line, never a stack trace, and keeps going", async () => {
    const out = await typeIntoRepl([
      ".acess 1 2",
      ".access 1",
      ".usage 0 9",
      ".strategy fast",
      ".tick 0",
      ".unpin 3",
      "pool.unpin(3)",
      ".stats",
    ]);
    expect(out).toEqual([
      "pgsim-clock: PostgreSQL 15's clock sweep on a pool of 8 buffers.",
      "Type .help for the commands, .show to see the pool; `pool` is in scope for JavaScript.",
      "unknown command .acess",
      "usage: .COMMAND [ARGS] (.help lists the commands)",
      ".access: block number BLK is missing",
      "usage: .access REL BLK [pin] [step]",
      ".usage: usage count 9 is out of range: valid usage counts are 0..5",
      "usage: .usage BUF N",
      '.strategy: unknown strategy "fast"',
      "usage: .strategy [TYPE]",
      ".tick: COUNT 0 is out of range: valid counts are 1..1000000",
      "usage: .tick [COUNT]",
      "ERROR:  buffer 3 is not pinned",
      "Uncaught PgsimError [buffer-not-pinned]: buffer 3 is not pinned",
      "hits 0, misses 0 (hit ratio -), evictions 0, dirty writes 0",
      "clock: hand at 0, complete passes 0",
    ]);
  });

  it(".help lists every command; .undo rebuilds the pool the JavaScript `pool` sees", async () => {
    const out = await typeIntoRepl([
      ".help",
      ".fill 2",
      ".access 9 9",
      "pool.lookup('rel 9 blk 9')",
      ".undo",
      "pool.lookup('rel 9 blk 9') === undefined && pool.snapshot()[0].usageCount",
    ]);
    for (const cmd of [".access", ".pin", ".unpin", ".dirty", ".tick", ".alloc", ".strategy"]) {
      expect(out.some((l) => l.startsWith(`  ${cmd} `))).toBe(true);
    }
    for (const cmd of [".show", ".stats", ".undo", ".reset", ".save", ".load", ".help", ".usage"]) {
      expect(out.some((l) => l.startsWith(`  ${cmd} `))).toBe(true);
    }
    // The miss evicted buffer 0's page after two laps (usage 2), and JavaScript saw it there.
    expect(out).toContain("read rel 9 blk 9 into buffer 0 (evicted rel 1 blk 0): usage 1, pins 1");
    expect(out[out.indexOf("released rel 9 blk 9: pins 0") + 1]).toBe("0");
    expect(out).toContain("undid .access 9 9; hand at 0, complete passes 0");
    // After .undo, `pool` is the rebuilt pool: the page is gone, buffer 0 is back to usage 2.
    expect(out[out.length - 1]).toBe("2");
  });
});
