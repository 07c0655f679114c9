/**
 * The lab's replacement policies: each one's own rule on small hand-worked cases, and, for all of
 * them, the contract of the interface (pins honoured, dirty pages written, counters right) checked
 * against a trivially correct model over random operation sequences.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PgsimError, SimplePool } from "../src/index.js";
import {
  ArcPolicy,
  createPolicy,
  LruKPolicy,
  LruPolicy,
  POLICY_NAMES,
  type ReplacementPolicy,
  SievePolicy,
  TwoQPolicy,
} from "../src/lab/index.js";

/** Reads each tag and releases it at once; returns the evicted tags in order. */
function readAll(policy: ReplacementPolicy, tags: string[]): (string | undefined)[] {
  return tags.map((t) => {
    const r = policy.access(t);
    policy.unpin(t);
    return r.evictedTag;
  });
}

const scan = (n: number, prefix = "scan") => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

describe("each policy's own rule", () => {
  it("LRU evicts the least recently used page", () => {
    const lru = new LruPolicy(3);
    expect(readAll(lru, ["a", "b", "c", "a", "d", "b", "e"])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      "b",
      "c",
      "a",
    ]);
    // A scan longer than the pool pushes everything out.
    readAll(lru, ["a", "a", "a"]);
    readAll(lru, scan(3));
    expect(lru.residentTags().includes("a")).toBe(false);
  });

  it("LRU-2 evicts the page whose second-last use is oldest; pages used once go first", () => {
    const lru2 = new LruKPolicy(3);
    // a and b are used twice, c once: c goes first although a is older.
    expect(readAll(lru2, ["a", "a", "b", "b", "c", "d"])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      "c",
    ]);
    // Among twice-used pages, the older second-last use (a's) loses to the newer (b's)...
    expect(readAll(lru2, ["d", "e"])).toEqual([undefined, "a"]);
    // ...and the retained history of a evicted page counts when it comes back.
    expect(readAll(lru2, ["a"])).toEqual(["e"]);
    expect(lru2.residentTags().sort()).toEqual(["a", "b", "d"]);
    // A scan of pages used once: the first scanned page takes a's buffer (a's second-last use is
    // the oldest), and from then on the scan only evicts its own pages.
    expect(readAll(lru2, scan(10))).toEqual(["a", ...scan(9)]);
    expect(lru2.residentTags().sort()).toEqual(["b", "d", "scan 9"]);
  });

  it("2Q promotes a page to Am only when it comes back from A1out, and Am survives a scan", () => {
    const q = new TwoQPolicy(4);
    expect([q.kin, q.kout]).toEqual([1, 2]);
    // A1in (FIFO) overflows: a goes to A1out; read again, a comes back into Am.
    expect(readAll(q, ["a", "b", "c", "d", "e"])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      "a",
    ]);
    expect(readAll(q, ["a"])).toEqual(["b"]);
    // A hit in A1in does not protect a page: c is read again but goes at its turn.
    expect(readAll(q, ["c", "f"])).toEqual([undefined, "c"]);
    readAll(q, scan(20));
    expect(q.residentTags()).toContain("a");
  });

  it("ARC moves re-used pages to T2, survives a scan, and grows T1 on a hit in B1", () => {
    const arc = new ArcPolicy(4);
    readAll(arc, ["a", "a", "b", "b"]);
    readAll(arc, scan(30));
    expect(
      arc
        .residentTags()
        .filter((t) => !t.startsWith("scan"))
        .sort(),
    ).toEqual(["a", "b"]);
    expect(arc.targetT1).toBe(0);
    // A page just evicted from T1 (a ghost in B1) read again: ARC learns T1 should be bigger.
    readAll(arc, ["scan 27"]);
    expect(arc.targetT1).toBeGreaterThan(0);
    expect(arc.residentTags()).toContain("scan 27");
  });

  it("SIEVE's hand clears visited bits from the tail and evicts the first unvisited page", () => {
    const sieve = new SievePolicy(3);
    expect(readAll(sieve, ["a", "b", "c", "a", "d", "e", "f"])).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      "b", // a was visited: spared, bit cleared
      "c", // the hand stays where it stopped: c, not a
      "d",
    ]);
    // The hand goes on towards newer pages: e, never revisited, goes before a, which waits at the
    // tail (its bit cleared) for the hand to come round.
    expect(readAll(sieve, ["g"])).toEqual(["e"]);
    expect(sieve.residentTags().sort()).toEqual(["a", "f", "g"]);
  });

  it("clock is PostgreSQL's sweep itself: the same victims as SimplePool", () => {
    const clock = createPolicy("clock", 4);
    const pool = new SimplePool({ bufferCount: 4 });
    const tags = ["a", "b", "c", "a", "d", "e", "a", "f", "b", "g", "h", "a"];
    const viaPolicy = readAll(clock, tags);
    const viaPool = tags.map((t) => {
      const r = pool.access(t);
      pool.unpin(r.bufferId);
      return r.evictedTag;
    });
    expect(viaPolicy).toEqual(viaPool);
  });
});

/** One operation of a random sequence. */
type Op =
  | { kind: "read"; tag: string; keepPin: boolean; dirty: boolean }
  | { kind: "unpin"; tag: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      tag: fc.integer({ min: 0, max: 9 }).map((i) => `p${i}`),
      keepPin: fc.boolean(),
      dirty: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("unpin" as const),
      tag: fc.integer({ min: 0, max: 9 }).map((i) => `p${i}`),
    }),
  },
);

describe.each(POLICY_NAMES)("the %s policy keeps the contract", (name) => {
  it("never evicts a pinned page, writes each dirty victim once, counts hits and misses right", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(opArb, { maxLength: 80 }),
        (capacity, ops) => {
          const policy = createPolicy(name, capacity);
          // The model: which pages are pinned (and how often) and which are dirty.
          const pins = new Map<string, number>();
          const dirty = new Set<string>();
          let hits = 0;
          let misses = 0;
          let evictions = 0;
          let writes = 0;
          for (const op of ops) {
            if (op.kind === "unpin") {
              if (!pins.has(op.tag)) {
                expect(() => policy.unpin(op.tag)).toThrow(PgsimError);
                continue;
              }
              policy.unpin(op.tag);
              const n = pins.get(op.tag)! - 1;
              if (n === 0) pins.delete(op.tag);
              else pins.set(op.tag, n);
              continue;
            }
            const before = new Set(policy.residentTags());
            const allPinned = [...before].every((t) => pins.has(t));
            if (!before.has(op.tag) && before.size === capacity && allPinned) {
              expect(() => policy.access(op.tag)).toThrow("no unpinned buffers available");
              expect(new Set(policy.residentTags())).toEqual(before);
              continue;
            }
            const r = policy.access(op.tag);
            expect(r.hit).toBe(before.has(op.tag));
            if (r.hit) hits++;
            else misses++;
            if (r.evictedTag !== undefined) {
              evictions++;
              expect(before.has(r.evictedTag)).toBe(true);
              expect(pins.has(r.evictedTag)).toBe(false);
              expect(r.wroteDirty).toBe(dirty.has(r.evictedTag));
              if (dirty.delete(r.evictedTag)) writes++;
            } else {
              // Nothing evicted: a hit, or a miss with a free buffer.
              expect(r.hit || before.size < capacity).toBe(true);
            }
            const after = policy.residentTags();
            expect(after).toContain(op.tag);
            expect(after.length).toBeLessThanOrEqual(capacity);
            for (const t of pins.keys()) expect(after).toContain(t);
            pins.set(op.tag, (pins.get(op.tag) ?? 0) + 1);
            if (op.dirty) {
              policy.markDirty(op.tag);
              dirty.add(op.tag);
            }
            if (!op.keepPin) {
              policy.unpin(op.tag);
              const n = pins.get(op.tag)! - 1;
              if (n === 0) pins.delete(op.tag);
              else pins.set(op.tag, n);
            }
          }
          expect(policy.stats).toEqual({ hits, misses, evictions, writes });
        },
      ),
      { numRuns: 150 },
    );
  });
});
