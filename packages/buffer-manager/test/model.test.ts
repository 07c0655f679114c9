/**
 * Model-based test: random sequences of extend / read / write-and-dirty / pin / release /
 * checkpoint / truncate / drop against a model that is a Map of page contents. The disk-backed
 * pool is much smaller than the data, so pages are evicted and read back all the time.
 * Invariants after every command: page contents equal the model, a pinned buffer keeps its page,
 * no tag maps to two buffers, and at the end every pin is released.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type BufferId,
  type BufferPool,
  type BufferPoolVariant,
  PgsimError,
  type RelFileLocator,
} from "../src/index.js";
import { makePool, removeTempDirs, VARIANTS } from "./helpers.js";

afterAll(removeTempDirs);

const RELS: RelFileLocator[] = [
  { spcOid: 1663, dbOid: 5, relNumber: 16384 },
  { spcOid: 1663, dbOid: 5, relNumber: 16385 },
  { spcOid: 1663, dbOid: 7, relNumber: 16384 },
];

interface HeldPin {
  rel: number;
  block: number;
  buffer: BufferId;
}

interface Model {
  /** Per relation, the pages in block order. */
  pages: Uint8Array[][];
  pins: HeldPin[];
}

interface Real {
  pool: BufferPool;
  bufferCount: number;
}

/** What the runs exercised, so the test can show it exercised what it claims. */
const exercised = { commands: 0, evictions: 0, poolFull: 0, truncates: 0, drops: 0 };

/** A page image is described by a few bytes; the rest stays zero, as extend leaves it. */
function stamp(page: Uint8Array, offset: number, value: number): void {
  page[offset] = value;
  page[8191 - offset] = value ^ 0xff;
}

function checkPage(real: Real, rel: number, block: number, expected: Uint8Array): void {
  const buf = real.pool.readBuffer(RELS[rel]!, 0, block);
  real.pool.lockBuffer(buf, "share");
  const page = real.pool.bufferGetPage(buf);
  const same = Buffer.compare(Buffer.from(page), Buffer.from(expected)) === 0;
  real.pool.unlockReleaseBuffer(buf);
  if (!same) throw new Error(`rel ${rel} block ${block} differs from the model`);
}

function checkInvariants(m: Model, r: Real): void {
  exercised.commands++;
  for (const pin of m.pins) {
    const tag = r.pool.bufferGetTag(pin.buffer);
    expect(tag.relNumber).toBe(RELS[pin.rel]!.relNumber);
    expect(tag.dbOid).toBe(RELS[pin.rel]!.dbOid);
    expect(tag.block).toBe(pin.block);
    expect(r.pool.bufferGetPage(pin.buffer)[0]).toBe(m.pages[pin.rel]![pin.block]![0]);
  }
  expect(r.pool.checkConsistency()).toEqual([]);
  for (let rel = 0; rel < RELS.length; rel++) {
    expect(r.pool.nblocks(RELS[rel]!, 0)).toBe(m.pages[rel]!.length);
  }
}

class ExtendCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rel: number,
    readonly value: number,
  ) {}
  check(m: Model): boolean {
    return m.pages[this.rel]!.length < 40;
  }
  run(m: Model, r: Real): void {
    const rel = RELS[this.rel]!;
    const used = m.pages.reduce((n, p) => n + p.length, 0);
    if (r.pool.variant === "memory" && used >= r.bufferCount) {
      // The pool is the storage and it is full: a typed error, and nothing is lost.
      let err: unknown;
      try {
        r.pool.extend(rel, 0);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PgsimError);
      expect((err as PgsimError).code).toBe("memory-pool-full");
      exercised.poolFull++;
      for (let i = 0; i < m.pages.length; i++) {
        m.pages[i]!.forEach((page, block) => {
          checkPage(r, i, block, page);
        });
      }
      checkInvariants(m, r);
      return;
    }
    const buf = r.pool.extend(rel, 0);
    const block = r.pool.bufferGetBlockNumber(buf);
    expect(block).toBe(m.pages[this.rel]!.length);
    r.pool.lockBuffer(buf, "exclusive");
    const page = r.pool.bufferGetPage(buf);
    expect(page.every((b) => b === 0)).toBe(true);
    stamp(page, 0, this.value);
    r.pool.markBufferDirty(buf);
    r.pool.unlockReleaseBuffer(buf);
    const expected = new Uint8Array(8192);
    stamp(expected, 0, this.value);
    m.pages[this.rel]!.push(expected);
    checkInvariants(m, r);
  }
  toString(): string {
    return `extend(rel ${this.rel}, ${this.value})`;
  }
}

class ReadCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rel: number,
    readonly pick: number,
  ) {}
  check(m: Model): boolean {
    return m.pages[this.rel]!.length > 0;
  }
  run(m: Model, r: Real): void {
    const pages = m.pages[this.rel]!;
    const block = this.pick % pages.length;
    checkPage(r, this.rel, block, pages[block]!);
    checkInvariants(m, r);
  }
  toString(): string {
    return `read(rel ${this.rel}, #${this.pick})`;
  }
}

class WriteCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rel: number,
    readonly pick: number,
    readonly offset: number,
    readonly value: number,
  ) {}
  check(m: Model): boolean {
    return m.pages[this.rel]!.length > 0;
  }
  run(m: Model, r: Real): void {
    const pages = m.pages[this.rel]!;
    const block = this.pick % pages.length;
    const buf = r.pool.readBuffer(RELS[this.rel]!, 0, block);
    r.pool.lockBuffer(buf, "exclusive");
    stamp(r.pool.bufferGetPage(buf), this.offset, this.value);
    r.pool.markBufferDirty(buf);
    r.pool.unlockReleaseBuffer(buf);
    stamp(pages[block]!, this.offset, this.value);
    checkInvariants(m, r);
  }
  toString(): string {
    return `write(rel ${this.rel}, #${this.pick}, @${this.offset} = ${this.value})`;
  }
}

class PinCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rel: number,
    readonly pick: number,
  ) {}
  check(m: Model): boolean {
    // Leave enough unpinned buffers for the other commands to find victims.
    return m.pages[this.rel]!.length > 0 && m.pins.length < 3;
  }
  run(m: Model, r: Real): void {
    const block = this.pick % m.pages[this.rel]!.length;
    const buffer = r.pool.readBuffer(RELS[this.rel]!, 0, block);
    m.pins.push({ rel: this.rel, block, buffer });
    checkInvariants(m, r);
  }
  toString(): string {
    return `pin(rel ${this.rel}, #${this.pick})`;
  }
}

class ReleaseCommand implements fc.Command<Model, Real> {
  constructor(readonly pick: number) {}
  check(m: Model): boolean {
    return m.pins.length > 0;
  }
  run(m: Model, r: Real): void {
    const [pin] = m.pins.splice(this.pick % m.pins.length, 1);
    r.pool.releaseBuffer(pin!.buffer);
    checkInvariants(m, r);
  }
  toString(): string {
    return `release(#${this.pick})`;
  }
}

class CheckpointCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.pool.checkpoint();
    if (r.pool.variant === "disk") expect(r.pool.bufferCacheSummary().buffers_dirty).toBe(0);
    checkInvariants(m, r);
  }
  toString(): string {
    return "checkpoint()";
  }
}

class TruncateCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rel: number,
    readonly keep: number,
  ) {}
  check(m: Model): boolean {
    return m.pages[this.rel]!.length > 0 && !m.pins.some((p) => p.rel === this.rel);
  }
  run(m: Model, r: Real): void {
    const pages = m.pages[this.rel]!;
    const keep = this.keep % (pages.length + 1);
    r.pool.truncateRelation(RELS[this.rel]!, 0, keep);
    pages.length = keep;
    exercised.truncates++;
    checkInvariants(m, r);
  }
  toString(): string {
    return `truncate(rel ${this.rel}, keep #${this.keep})`;
  }
}

class DropCommand implements fc.Command<Model, Real> {
  constructor(readonly rel: number) {}
  check(m: Model): boolean {
    return !m.pins.some((p) => p.rel === this.rel);
  }
  run(m: Model, r: Real): void {
    r.pool.dropRelation(RELS[this.rel]!);
    r.pool.createRelation(RELS[this.rel]!, 0);
    m.pages[this.rel] = [];
    exercised.drops++;
    checkInvariants(m, r);
  }
  toString(): string {
    return `drop+create(rel ${this.rel})`;
  }
}

const rel = fc.integer({ min: 0, max: RELS.length - 1 });
const pick = fc.nat(1000);
const commands = [
  fc.tuple(rel, fc.integer({ min: 1, max: 255 })).map(([a, v]) => new ExtendCommand(a, v)),
  fc.tuple(rel, fc.integer({ min: 1, max: 255 })).map(([a, v]) => new ExtendCommand(a, v)),
  fc.tuple(rel, pick).map(([a, p]) => new ReadCommand(a, p)),
  fc.tuple(rel, pick).map(([a, p]) => new ReadCommand(a, p)),
  fc
    .tuple(rel, pick, fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 255 }))
    .map(([a, p, o, v]) => new WriteCommand(a, p, o, v)),
  fc.tuple(rel, pick).map(([a, p]) => new PinCommand(a, p)),
  pick.map((p) => new ReleaseCommand(p)),
  fc.constant(new CheckpointCommand()),
  fc.tuple(rel, pick).map(([a, k]) => new TruncateCommand(a, k)),
  rel.map((a) => new DropCommand(a)),
];

function runModel(variant: BufferPoolVariant, bufferCount: number, numRuns: number): void {
  fc.assert(
    fc.property(fc.commands(commands, { maxCommands: 150, size: "max" }), (cmds) => {
      const pool = makePool(variant, bufferCount);
      for (const r of RELS) pool.createRelation(r, 0);
      const model: Model = { pages: RELS.map(() => []), pins: [] };
      const real: Real = { pool, bufferCount };
      fc.modelRun(() => ({ model, real }), cmds);
      // Every pin is released at the end, and nothing stays pinned.
      for (const pin of model.pins.splice(0)) pool.releaseBuffer(pin.buffer);
      exercised.evictions += pool.statistics().evictions;
      expect(pool.bufferCacheSummary().buffers_pinned).toBe(0);
      expect(pool.detach().leakedPins).toEqual([]);
    }),
    // A failure prints its seed and path; FC_SEED / FC_PATH replay it.
    {
      numRuns,
      ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
    },
  );
}

describe("buffer pool against a model of page contents", () => {
  for (const variant of VARIANTS) {
    // Disk-backed: 6 buffers for up to 120 pages, so eviction is constant. Memory-only: 10
    // buffers, so the pool fills up and the full-pool error is exercised.
    const bufferCount = variant === "disk" ? 6 : 10;
    it(`[${variant}] random extend/read/write/pin/release/checkpoint/truncate/drop sequences`, () => {
      Object.assign(exercised, { commands: 0, evictions: 0, poolFull: 0, truncates: 0, drops: 0 });
      runModel(variant, bufferCount, 100);
      expect(exercised.commands).toBeGreaterThan(2000);
      expect(exercised.truncates).toBeGreaterThan(0);
      expect(exercised.drops).toBeGreaterThan(0);
      if (variant === "disk") expect(exercised.evictions).toBeGreaterThan(300);
      else expect(exercised.poolFull).toBeGreaterThan(0);
    });
  }
});
