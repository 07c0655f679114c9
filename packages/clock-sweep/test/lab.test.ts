/**
 * The replacement-policy lab: traces, replays and the comparison, printed and charted.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { svgToPng } from "../src/lab/chart.js";
import {
  builtinTrace,
  compareReplacementPolicies,
  createPolicy,
  formatComparison,
  formatTrace,
  parseTrace,
  replayTrace,
  scanFloodTrace,
  zipfianTrace,
} from "../src/lab/index.js";
import { renderComparisonSvg } from "../src/lab/lab-chart.js";

let dir = "";
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-lab-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the scan-flood trace: rings, ARC and 2Q keep the hot set where LRU loses it", () => {
  const comparison = compareReplacementPolicies(scanFloodTrace({ seed: 42 }), {
    bufferCounts: [16, 32, 64],
  });
  /** policy → [hits at 16, 32, 64], over all reads or over the reads not marked @bulkread. */
  const hits = (unmarkedOnly: boolean) =>
    Object.fromEntries(
      comparison.policies.map((p) => [
        p,
        comparison.results
          .filter((r) => r.policy === p)
          .map((r) => (unmarkedOnly ? r.hits - r.markedHits : r.hits)),
      ]),
    );

  it("replays 12000 reads, 4000 of them OLTP reads and 8000 a @bulkread scan, with these exact hits (seed 42)", () => {
    expect([comparison.accesses, comparison.markedAccesses]).toEqual([12_000, 8_000]);
    expect(hits(false)).toEqual({
      clock: [1581, 2114, 2718],
      "clock-ring": [2726, 3178, 3180],
      lru: [1546, 2031, 2515],
      "lru-2": [3177, 3177, 3177],
      "2q": [2966, 3122, 3143],
      arc: [3177, 3177, 3177],
      sieve: [3177, 3177, 3177],
    });
    // No policy hits a scanned page (each is read once per pass of a 4000-page table), so every
    // hit above is a hit of the OLTP reads.
    expect(hits(true)).toEqual(hits(false));
  });

  it("the bulk-read ring, ARC and 2Q beat plain LRU on the OLTP reads at every pool size", () => {
    const lru = hits(true).lru!;
    for (const p of ["clock-ring", "arc", "2q"]) {
      hits(true)[p]!.forEach((h, i) => {
        expect(h).toBeGreaterThan(lru[i]! + 400);
      });
    }
    // Without its ring the clock loses the hot set much as LRU does.
    expect(hits(true).clock![0]! - lru[0]!).toBeLessThan(100);
  });

  it("is printed as a table of hit ratios with the hit counts", () => {
    const text = formatComparison(comparison);
    expect(text).toContain("trace scan-flood: 12000 reads of 4794 distinct pages");
    expect(text).toMatch(/^ {2}lru {9}12\.9% \(1546\) +16\.9% \(2031\) +21\.0% \(2515\)$/m);
    expect(text).toMatch(/^ {2}clock-ring {2}22\.7% \(2726\) +26\.5% \(3178\) +26\.5% \(3180\)$/m);
    expect(text).toMatch(/^ {2}arc {9}26\.5% \(3177\) +26\.5% \(3177\) +26\.5% \(3177\)$/m);
    expect(text).toContain("hit ratio of the 4000 reads not marked with a strategy");
    expect(text).toContain("Only clock-ring uses the");
  });

  it("is charted: an SVG with a line per policy, and a PNG of it", async () => {
    const svg = await renderComparisonSvg(comparison);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Miss ratio by pool size: trace scan-flood");
    for (const p of comparison.policies) expect(svg).toContain(`>${p}</text>`);
    expect(svg).toContain("reads not marked with a strategy");
    // Two panels × seven policies: fourteen lines.
    expect(svg.match(/aria-roledescription="line mark"/g)?.length).toBe(14);
    const png = svgToPng(svg);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("`pgsim-clock compare --trace scan-flood --out DIR` prints the same table and writes the chart", () => {
    const cli = fileURLToPath(new URL("../dist/repl/cli.js", import.meta.url));
    const r = spawnSync(
      process.execPath,
      [cli, "compare", "--trace", "scan-flood", "--buffers", "16,32,64", "--out", dir],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(formatComparison(comparison))).toBe(true);
    for (const f of [
      "scan-flood-miss-ratio.svg",
      "scan-flood-miss-ratio.png",
      "scan-flood-results.json",
    ]) {
      expect(r.stdout).toContain(`wrote ${path.join(dir, f)}`);
      expect(fs.statSync(path.join(dir, f)).size).toBeGreaterThan(1000);
    }
    const json = JSON.parse(fs.readFileSync(path.join(dir, "scan-flood-results.json"), "utf8"));
    expect(json.results).toEqual(JSON.parse(JSON.stringify(comparison.results)));
  });
});

describe("the recorded pgsim workload", () => {
  const trace = builtinTrace("pgsim-workload")!;

  it("replayed through clock-ring at the recording's NBuffers, matches what the buffer manager counted", () => {
    // The header says what @pgsim/buffer-manager itself counted while the trace was recorded.
    const header = trace.description.join("\n");
    const m =
      /at NBuffers = (\d+): (\d+) hits of (\d+) reads .*?, (\d+) evictions, (\d+) writes/.exec(
        header,
      );
    expect(m).not.toBeNull();
    const [bufferCount, hits, reads, evictions, writes] = m!.slice(1).map(Number);
    const r = replayTrace(createPolicy("clock-ring", bufferCount!), trace);
    expect(r.failed).toBeUndefined();
    expect([r.hits, r.accesses, r.evictions, r.writes]).toEqual([hits, reads, evictions, writes]);
    // Without the rings (every read on the default path) the same sweep does worse.
    expect(replayTrace(createPolicy("clock", bufferCount!), trace).hits).toBeLessThan(hits!);
  });

  it("is small, and holds pins, dirty pages and several rings", () => {
    const file = fileURLToPath(new URL("../traces/pgsim-workload.trace", import.meta.url));
    expect(fs.statSync(file).size).toBeLessThan(1024 * 1024);
    const kinds = new Set(trace.events.map((e) => `${e.strategy ?? "normal"}:${e.ringId}`));
    expect([...kinds].sort()).toEqual(
      [
        "bulkread:1",
        "bulkread:2",
        "bulkread:4",
        "bulkread:5",
        "bulkwrite:0",
        "normal:0",
        "vacuum:3",
      ].sort(),
    );
    expect(trace.events.some((e) => e.kind === "unpin")).toBe(true);
    expect(trace.events.some((e) => e.keepPin)).toBe(true);
    expect(trace.events.some((e) => e.dirty)).toBe(true);
  });
});

describe("trace files", () => {
  it("parse and format each other: tags, flags, rings, comments", () => {
    const text = [
      "# a hand-made trace",
      "# second line",
      "16384 0 7",
      "16384 0 7 dirty pin",
      "hot-page-3",
      "16385 0 99 @bulkread:2",
      "",
      "16384 0 7 unpin",
      "# not part of the description",
      "a b c @vacuum",
    ].join("\n");
    const t = parseTrace(text, "hand.trace");
    expect(t.description).toEqual(["a hand-made trace", "second line"]);
    expect(t.events).toEqual([
      {
        kind: "access",
        tag: "16384 0 7",
        strategy: undefined,
        ringId: 0,
        dirty: false,
        keepPin: false,
      },
      {
        kind: "access",
        tag: "16384 0 7",
        strategy: undefined,
        ringId: 0,
        dirty: true,
        keepPin: true,
      },
      {
        kind: "access",
        tag: "hot-page-3",
        strategy: undefined,
        ringId: 0,
        dirty: false,
        keepPin: false,
      },
      {
        kind: "access",
        tag: "16385 0 99",
        strategy: "bulkread",
        ringId: 2,
        dirty: false,
        keepPin: false,
      },
      {
        kind: "unpin",
        tag: "16384 0 7",
        strategy: undefined,
        ringId: 0,
        dirty: false,
        keepPin: false,
      },
      { kind: "access", tag: "a b c", strategy: "vacuum", ringId: 0, dirty: false, keepPin: false },
    ]);
    expect(parseTrace(formatTrace(t), "again").events).toEqual(t.events);
    expect(() => parseTrace("# nothing\n", "empty.trace")).toThrow(
      "empty.trace: the trace has no accesses",
    );
    expect(() => parseTrace("x @bulkread @vacuum\n", "two.trace")).toThrow(
      "two.trace:1: more than one @strategy",
    );
    expect(() => parseTrace("dirty\n", "flag.trace")).toThrow(
      "flag.trace:1: a flag without a page",
    );
  });

  it("replaying an unpin of a page nobody pinned is a trace error naming the event", () => {
    const t = parseTrace("a\nb unpin\n", "t");
    expect(() => replayTrace(createPolicy("lru", 2), t)).toThrow("t: event 2: b is not pinned");
  });

  it("a pool too small for the pins a trace holds reports it instead of a hit ratio", () => {
    const t = parseTrace("a pin\nb pin\nc\n", "pins");
    const r = replayTrace(createPolicy("arc", 2), t);
    expect(r.failed).toBe("no unpinned buffers available (event 3)");
    expect(
      formatComparison(compareReplacementPolicies(t, { bufferCounts: [2], policies: ["arc"] })),
    ).toContain("arc at 2 buffers: no unpinned buffers available (event 3)");
  });

  it("generated traces depend on their seed only", () => {
    expect(zipfianTrace({ seed: 7 }).events).toEqual(zipfianTrace({ seed: 7 }).events);
    expect(zipfianTrace({ seed: 7 }).events).not.toEqual(zipfianTrace({ seed: 8 }).events);
    const z = zipfianTrace({ seed: 1, pages: 100, accesses: 5000 });
    // Zipf: block 0 is the most read page, far ahead of block 50.
    const count = (tag: string) => z.events.filter((e) => e.tag === tag).length;
    expect(count("16400 0 0")).toBeGreaterThan(10 * count("16400 0 50"));
  });
});
