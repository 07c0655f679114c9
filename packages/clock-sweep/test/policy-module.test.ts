/**
 * Policies the user writes: the README's tutorial policy (examples/fifo-policy.js) loaded by path
 * and compared, from the lab's API and from `pgsim-clock compare --policy FILE`; and policies that
 * break the ReplacementPolicy contract, each caught with a message that says how.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgsimError } from "../src/index.js";
import {
  builtinTrace,
  compareReplacementPolicies,
  createPolicy,
  formatComparison,
  loadPolicyModule,
  POLICY_NAMES,
  parseTrace,
  replayTrace,
  scanFloodTrace,
  type Trace,
  withContractChecks,
} from "../src/lab/index.js";

const example = fileURLToPath(new URL("../examples/fifo-policy.js", import.meta.url));
const cli = fileURLToPath(new URL("../dist/repl/cli.js", import.meta.url));
let dir = "";

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-policy-module-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes a policy module into the scratch directory and returns its path. */
function policyModule(name: string, source: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return file;
}

/**
 * The whole ReplacementPolicy written from scratch (no imports), as a factory function: FIFO over
 * pins and dirty pages. `bug` switches on one mistake.
 */
function fromScratch(
  name: string,
  bug: "none" | "evicts-pinned" | "never-evicts" | "throws" | "lies-about-hits",
) {
  return `
export const description = "FIFO written from scratch (${bug})";
export default function makePolicy(capacity) {
  const pages = new Map(); // tag -> { pins, dirty }, oldest first
  const stats = { hits: 0, misses: 0, evictions: 0, writes: 0 };
  return {
    name: ${JSON.stringify(name)},
    capacity,
    stats,
    access(tag) {
      if (${JSON.stringify(bug)} === "throws") null.boom;
      const page = pages.get(tag);
      if (page !== undefined) {
        page.pins++;
        stats.hits++;
        return { hit: true, evictedTag: undefined, wroteDirty: false };
      }
      let evictedTag;
      let wroteDirty = false;
      if (pages.size >= capacity && ${JSON.stringify(bug)} !== "never-evicts") {
        for (const [t, p] of pages) {
          if (p.pins === 0 || ${JSON.stringify(bug)} === "evicts-pinned") { evictedTag = t; break; }
        }
        if (evictedTag === undefined) {
          throw Object.assign(new Error("no unpinned buffers available"), { code: "no-unpinned-buffers" });
        }
        wroteDirty = pages.get(evictedTag).dirty;
        pages.delete(evictedTag);
        stats.evictions++;
        if (wroteDirty) stats.writes++;
      }
      pages.set(tag, { pins: 1, dirty: false });
      if (${JSON.stringify(bug)} === "lies-about-hits" && stats.misses === 2) {
        stats.hits++;
        return { hit: true, evictedTag, wroteDirty };
      }
      stats.misses++;
      return { hit: false, evictedTag, wroteDirty };
    },
    unpin(tag) { pages.get(tag).pins--; },
    markDirty(tag) { pages.get(tag).dirty = true; },
    residentTags() { return [...pages.keys()]; },
  };
}
`;
}

/** FIFO by hand, for a trace that holds no pins: a Set keeps insertion order. */
function fifoHitsByHand(trace: Trace, capacity: number): number {
  const resident = new Set<string>();
  let hits = 0;
  for (const e of trace.events) {
    if (e.kind !== "access") continue;
    if (resident.has(e.tag)) {
      hits++;
      continue;
    }
    if (resident.size >= capacity) resident.delete(resident.values().next().value!);
    resident.add(e.tag);
  }
  return hits;
}

describe("the tutorial's policy: examples/fifo-policy.js", () => {
  const trace = scanFloodTrace({ seed: 42 });

  it("loads by path and is compared with the built-ins: exact hits on scan-flood (seed 42)", async () => {
    const fifo = await loadPolicyModule(path.relative(process.cwd(), example));
    const c = compareReplacementPolicies(trace, {
      bufferCounts: [16, 32, 64],
      policies: ["clock", "lru", fifo],
    });
    expect(c.policies).toEqual(["clock", "lru", "fifo"]);
    const hits = (p: string) => c.results.filter((r) => r.policy === p).map((r) => r.hits);
    expect(hits("fifo")).toEqual([1389, 1845, 2210]);
    // The same numbers as FIFO worked out by hand (scan-flood holds no pins).
    expect(trace.events.some((e) => e.keepPin)).toBe(false);
    expect(hits("fifo")).toEqual([16, 32, 64].map((n) => fifoHitsByHand(trace, n)));
    // The built-ins are unchanged by the company: the numbers of test/lab.test.ts.
    expect(hits("clock")).toEqual([1581, 2114, 2718]);
    expect(hits("lru")).toEqual([1546, 2031, 2515]);
    const text = formatComparison(c);
    expect(text).toMatch(/^ {2}fifo {8}11\.6% \(1389\) +15\.4% \(1845\) +18\.4% \(2210\)$/m);
    expect(text).toContain(
      "  fifo        first in, first out: a hit changes nothing (examples/fifo-policy.js)",
    );
  });

  it("keeps the contract under pins and dirty pages: the recorded workload, checked", async () => {
    const fifo = await loadPolicyModule(example);
    const workload = builtinTrace("pgsim-workload")!;
    const r = replayTrace(withContractChecks(fifo(64)), workload);
    expect(r.failed).toBeUndefined();
    expect(r.accesses).toBe(workload.events.filter((e) => e.kind === "access").length);
    expect(r.writes).toBeGreaterThan(0);
    // Two pages pinned in a pool of two: the third read is refused, as PostgreSQL refuses it.
    const pinned = replayTrace(fifo(2), parseTrace("a pin\nb pin\nc\n", "pins"));
    expect(pinned.failed).toBe("no unpinned buffers available (event 3)");
  });

  it("a policy written from scratch, exported as a function, gives the same FIFO numbers", async () => {
    const file = policyModule("scratch.js", fromScratch("scratch-fifo", "none"));
    const [scratch, fifo] = await Promise.all([loadPolicyModule(file), loadPolicyModule(example)]);
    const c = compareReplacementPolicies(trace, {
      bufferCounts: [16, 64],
      policies: [fifo, scratch],
    });
    const hits = (p: string) => c.results.filter((r) => r.policy === p).map((r) => r.hits);
    expect(hits("scratch-fifo")).toEqual(hits("fifo"));
    expect(c.descriptions["scratch-fifo"]).toBe("FIFO written from scratch (none)");
  });

  it("the built-in policies pass the same contract checks", () => {
    const workload = builtinTrace("pgsim-workload")!;
    for (const name of POLICY_NAMES) {
      const checked = replayTrace(withContractChecks(createPolicy(name, 64)), workload);
      expect(checked, name).toEqual(replayTrace(createPolicy(name, 64), workload));
    }
  });

  it("`pgsim-clock compare --policy FILE` prints it beside the built-ins", async () => {
    const r = spawnSync(
      process.execPath,
      [
        cli,
        "compare",
        "--trace",
        "scan-flood",
        "--buffers",
        "16,32,64",
        "--policies",
        "clock,lru",
        "--policy",
        example,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const fifo = await loadPolicyModule(example);
    expect(r.stdout).toBe(
      formatComparison(
        compareReplacementPolicies(trace, {
          bufferCounts: [16, 32, 64],
          policies: ["clock", "lru", fifo],
        }),
      ),
    );
  });
});

describe("a policy that breaks the contract is caught, with what it did", () => {
  const pins = parseTrace("a pin\nb\nc\n", "pins");

  async function failure(name: string, bug: Parameters<typeof fromScratch>[1], trace: Trace) {
    const policy = await loadPolicyModule(policyModule(`${name}.js`, fromScratch(name, bug)));
    try {
      compareReplacementPolicies(trace, { bufferCounts: [2], policies: [policy] });
    } catch (e) {
      expect(e).toBeInstanceOf(PgsimError);
      return { code: (e as PgsimError).code, message: (e as Error).message };
    }
    throw new Error(`${name} was not caught`);
  }

  it("evicting a pinned page", async () => {
    expect(await failure("careless", "evicts-pinned", pins)).toEqual({
      code: "policy-contract",
      message:
        'pins: event 3: policy "careless" broke the ReplacementPolicy contract: access("c") evicted a, which is pinned',
    });
  });

  it("taking a page into a full pool without evicting one", async () => {
    expect(await failure("hoarder", "never-evicts", pins)).toEqual({
      code: "policy-contract",
      message:
        'pins: event 3: policy "hoarder" broke the ReplacementPolicy contract: access("c") took c into a full pool of 2 without evicting a page',
    });
  });

  it("reporting a hit for a page that is not in the pool", async () => {
    expect(await failure("liar", "lies-about-hits", pins)).toEqual({
      code: "policy-contract",
      message:
        'pins: event 3: policy "liar" broke the ReplacementPolicy contract: access("c") reported a hit, but c was not in the pool',
    });
  });

  it("throwing", async () => {
    expect(await failure("thrower", "throws", pins)).toEqual({
      code: "policy-failed",
      message:
        'pins: event 1: policy "thrower" failed in access("a"): TypeError: Cannot read properties of null (reading \'boom\')',
    });
  });

  it("a name another policy already has", async () => {
    const lru = await loadPolicyModule(policyModule("lru.js", fromScratch("lru", "none")));
    expect(() =>
      compareReplacementPolicies(pins, { bufferCounts: [2], policies: ["lru", lru] }),
    ).toThrow('two policies are named "lru": give each policy compared its own name');
  });

  it("modules that are missing, do not load, or export no policy", async () => {
    const missing = path.join(dir, "missing.js");
    await expect(loadPolicyModule(missing)).rejects.toThrow(`no policy module "${missing}"`);
    const broken = policyModule("broken.js", "export default class {\n");
    await expect(loadPolicyModule(broken)).rejects.toThrow(`cannot load policy module ${broken}: `);
    const empty = policyModule("empty.js", "export const description = 'nothing';\n");
    await expect(loadPolicyModule(empty)).rejects.toThrow(
      `policy module ${empty} must export default a class implementing ReplacementPolicy, or a function (capacity) => ReplacementPolicy`,
    );
  });

  it("pgsim-clock reports a broken policy in one line, and a missing module with the usage", () => {
    const careless = policyModule("careless-cli.js", fromScratch("careless", "evicts-pinned"));
    const trace = path.join(dir, "pins.trace");
    fs.writeFileSync(trace, "a pin\nb\nc\n");
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cli, "compare", ...args], { encoding: "utf8", timeout: 60_000 });
    const broken = run(
      "--trace",
      trace,
      "--buffers",
      "2",
      "--policies",
      "lru",
      "--policy",
      careless,
    );
    expect(broken.status).toBe(1);
    expect(broken.stdout).toBe("");
    expect(broken.stderr).toBe(
      `pgsim-clock: ${trace}: event 3: policy "careless" broke the ReplacementPolicy contract: access("c") evicted a, which is pinned\n`,
    );
    const missing = run("--trace", "scan-flood", "--policy", path.join(dir, "nope.js"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(
      new RegExp(
        `^pgsim-clock: no policy module "${path.join(dir, "nope.js")}"\\nusage: pgsim-clock compare `,
      ),
    );
  });
});
