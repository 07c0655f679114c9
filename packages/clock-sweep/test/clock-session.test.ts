/**
 * The REPL's commands in-process: what each prints, and that sessions save, load and undo.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ClockSession } from "../src/repl/clock-session.js";

function session(bufferCount: number, options: { explain?: boolean; color?: boolean } = {}) {
  const lines: string[] = [];
  const s = new ClockSession({
    bufferCount,
    ...options,
    write: (text) => lines.push(...text.replace(/\n$/, "").split("\n")),
  });
  /** Runs commands and returns what they printed. */
  const run = (...commands: string[]) => {
    lines.length = 0;
    for (const c of commands) s.execute(c);
    return [...lines];
  };
  return { s, run };
}

describe("ClockSession", () => {
  it(".tick with no search pending starts a bare one; `.access … step` leaves a miss to .tick", () => {
    const { s, run } = session(4);
    run(".fill", ".usage 2 2");
    expect(run(".tick")).toEqual([
      "no victim search in progress: starting a bare StrategyGetBuffer (strategy normal)",
      "tick 1: buffer 0: usage 1 → 0",
    ]);
    expect(run(".tick 10")).toEqual([
      "tick 2: buffer 1: usage 1 → 0",
      "tick 3: buffer 2: usage 2 → 1",
      "tick 4: buffer 3: usage 1 → 0",
      "tick 5: buffer 0: usage 0, unpinned → victim",
      "  the hand wrapped to buffer 0: complete passes 0 → 1",
      "victim: buffer 0 (hand at 1, complete passes 1)",
      "StrategyGetBuffer returns buffer 0; .alloc stops there, so it keeps rel 1 blk 0 with usage 0 (.access REL BLK would read a page into it)",
    ]);
    // A miss left to .tick: other commands that would start a search must wait.
    expect(run(".access 7 7 step")).toEqual([
      "miss: rel 7 blk 7 is not in the pool; looking for a victim (strategy normal)",
      "victim search started: .tick takes one step, .alloc finishes it",
    ]);
    expect(run(".access 7 8")).toEqual([
      "ERROR:  .access must wait: a victim search for rel 7 blk 7 is in progress; .tick steps it, .alloc finishes it",
    ]);
    // Meanwhile another backend may pin the buffer under the hand: the search skips it.
    expect(run(".pin 1", ".tick", ".unpin 1", ".alloc")).toEqual([
      "pinned buffer 1 (rel 1 blk 1): pins 1, usage 0 → 1",
      "tick 1: buffer 1: pinned, skipped (1 pin; try counter 3)",
      "unpinned buffer 1 (rel 1 blk 1): pins 0",
      "tick 2: buffer 2: usage 1 → 0",
      "tick 3: buffer 3: usage 0, unpinned → victim",
      "victim: buffer 3 (hand at 0, complete passes 1)",
      "read rel 7 blk 7 into buffer 3 (evicted rel 1 blk 3): usage 1, pins 1",
      "released rel 7 blk 7: pins 0",
    ]);
    expect(s.pool.lookup("rel 7 blk 7")).toBe(3);
  });

  it("hits raise the usage count (only 0 → 1 with a ring); a dirty victim is written first", () => {
    const { run } = session(16);
    expect(run(".access 1 0", ".access 1 0")).toEqual([
      "miss: rel 1 blk 0 is not in the pool; looking for a victim (strategy normal)",
      "free list: buffer 0 holds no page → victim",
      "victim: buffer 0 (hand at 0, complete passes 0)",
      "read rel 1 blk 0 into buffer 0: usage 1, pins 1",
      "released rel 1 blk 0: pins 0",
      "hit: rel 1 blk 0 is in buffer 0: pins 1, usage 1 → 2",
      "released rel 1 blk 0: pins 0",
    ]);
    expect(run(".strategy bulkread")).toEqual([
      "strategy: bulkread, a ring of 2 (slots: · ·); hits raise a usage count only from 0 to 1",
    ]);
    const out = run(".access 2 0 pin", ".dirty 2 0", ".unpin 2 0", ".access 2 1", ".access 2 2");
    expect(out).toContain("ring slot 0: empty, so on to the free list and the clock");
    expect(out).toContain("buffer 1 (rel 2 blk 0) is dirty");
    expect(out).toContain("ring slot 0: buffer 1: usage 1, unpinned → victim (reused)");
    expect(out).toContain("buffer 1 was dirty: rel 2 blk 0 written out first");
    expect(out).toContain("read rel 2 blk 2 into buffer 1 (evicted rel 2 blk 0): usage 1, pins 1");
    // A ring buffer someone else uses is left alone.
    expect(run(".pin 2", ".access 2 3")).toContain(
      "ring slot 1: buffer 2 is in use (pinned), not reused; on to the free list and the clock",
    );
    expect(run(".stats")).toEqual([
      "hits 1, misses 5 (hit ratio 16.7%), evictions 1, dirty writes 1",
      "clock: hand at 0, complete passes 0",
    ]);
  });

  it("--explain adds a sentence of why to each event; colour only when asked for", () => {
    const plain = session(4, { explain: true }).run(".fill", ".pin 0", ".alloc");
    expect(plain).toContain("tick 1: buffer 0: pinned, skipped (1 pin; try counter 3)");
    expect(
      plain[plain.indexOf("tick 1: buffer 0: pinned, skipped (1 pin; try counter 3)") + 1],
    ).toMatch(/^ {4}why: A pinned buffer is in use and cannot be evicted/);
    expect(plain[plain.indexOf("tick 2: buffer 1: usage 1 → 0") + 1]).toMatch(
      /^ {4}why: The page was used since the hand last passed/,
    );
    expect(plain.join("\n")).not.toContain("\u001b[");
    const colored = session(4, { color: true }).run(".fill", ".pin 0", ".alloc", ".show");
    expect(colored.join("\n")).toContain("\u001b[31mpinned, skipped\u001b[0m");
    expect(colored.join("\n")).toContain("\u001b[33musage 1 → 0\u001b[0m");
  });

  it(".save writes a script that .load (and a fresh session) replays to the same pool", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-clock-"));
    try {
      const file = path.join(dir, "session.txt");
      const a = session(4);
      a.run(".fill", ".pin 3", ".dirty 3", ".usage 1 4", ".access 5 5", ".show", ".stats");
      a.run(".access 5 6", ".undo", `.save ${file}`);
      expect(fs.readFileSync(file, "utf8").split("\n")).toEqual([
        "# pgsim-clock session: replay with `pgsim-clock --script FILE`, or `.load FILE` in the REPL",
        ".reset 4",
        ".fill",
        ".pin 3",
        ".dirty 3",
        ".usage 1 4",
        ".access 5 5",
        "",
      ]);
      const b = session(8);
      const out = b.run(`.load ${file}`);
      expect(out[0]).toBe("clock> .reset 4");
      expect(b.s.pool.snapshot()).toEqual(a.s.pool.snapshot());
      expect(b.s.pool.strategy.hand).toBe(a.s.pool.strategy.hand);
      expect(b.s.pool.strategy.completePasses).toBe(a.s.pool.strategy.completePasses);
      // A bad line stops a loaded script and names it.
      fs.writeFileSync(file, ".fill\n.frobnicate\n.show\n");
      expect(session(2).run(`.load ${file}`)).toEqual([
        "clock> .fill",
        "filled 2 buffers from the free list, unpinned, usage 1: 0 ← rel 1 blk 0, 1 ← rel 1 blk 1",
        "clock> .frobnicate",
        "unknown command .frobnicate",
        "usage: .COMMAND [ARGS] (.help lists the commands)",
        `${file}:2: stopped at this bad command`,
      ]);
      expect(session(2).run(`.load ${path.join(dir, "missing.txt")}`)[0]).toMatch(
        /^ERROR: {2}ENOENT: no such file or directory/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers a number out of range with the valid range, and records nothing for it", () => {
    const { s, run } = session(8);
    expect(
      run(
        ".pin 9",
        ".usage 0 6",
        ".fill 7",
        ".reset 0",
        ".tick 1000001",
        ".access 1 4294967295",
        ".access 4294967296 0",
        ".unpin 007",
      ),
    ).toEqual([
      ".pin: buffer 9 is out of range: valid buffers are 0..7",
      "usage: .pin BUF | REL BLK",
      ".usage: usage count 6 is out of range: valid usage counts are 0..5",
      "usage: .usage BUF N",
      ".fill: usage count 7 is out of range: valid usage counts are 0..5",
      "usage: .fill [USAGE]",
      ".reset: buffer count 0 is out of range: valid buffer counts are 1..1024",
      "usage: .reset [N]",
      ".tick: COUNT 1000001 is out of range: valid counts are 1..1000000",
      "usage: .tick [COUNT]",
      ".access: block number 4294967295 is out of range: valid block numbers are 0..4294967294",
      "usage: .access REL BLK [pin] [step]",
      ".access: relation number 4294967296 is out of range: valid relation numbers are 0..4294967295",
      "usage: .access REL BLK [pin] [step]",
      // In range: buffer 7 exists, it just holds no pin.
      "ERROR:  buffer 7 is not pinned",
    ]);
    expect(s.recorded).toEqual([]);
  });

  it("refuses what the pool refuses, with PostgreSQL-style errors, and records nothing for it", () => {
    const { s, run } = session(2);
    expect(run(".pin 0", ".dirty 1", ".invalidate 5", ".pin 9 9", ".reset 2000")).toEqual([
      "ERROR:  buffer 0 holds no page",
      "ERROR:  buffer 1 must be pinned to be dirtied",
      ".invalidate: buffer 5 is out of range: valid buffers are 0..1",
      "usage: .invalidate BUF | REL BLK",
      "ERROR:  rel 9 blk 9 is not in the pool",
      ".reset: buffer count 2000 is out of range: valid buffer counts are 1..1024",
      "usage: .reset [N]",
    ]);
    expect(s.recorded).toEqual([]);
    expect(run(".undo")).toEqual(["nothing to undo"]);
  });
});
