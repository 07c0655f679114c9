/**
 * Page-access traces for the replacement-policy lab: a small text format, a seeded PRNG, and the
 * built-in traces (zipfian, scan-flood, pgsim-workload).
 *
 * Models: nothing in PostgreSQL itself; the records are what @pgsim/buffer-manager's access trace
 * hook reports (relation, fork, block — as pg_buffercache names a page), plus what the caller knew:
 * the access strategy, whether the page was dirtied, whether the pin was held.
 * Entry points: `parseTrace`, `formatTrace`, `builtinTrace`, `BUILTIN_TRACES`, `zipfianTrace`,
 * `scanFloodTrace`, `mulberry32`.
 * See also: lab.ts (replays a trace through every policy), @pgsim/bench's src/record-trace.ts
 * (records traces/pgsim-workload.trace from a workload run through the buffer manager).
 *
 * The format, one access per line:
 *
 *     # a comment (the first comment lines describe the trace)
 *     16384 0 7                 a read of block 7 of relation 16384's main fork (fork 0)
 *     16384 0 7 dirty           ... that dirties the page
 *     16384 0 7 pin             ... that keeps its pin until a later "unpin" line
 *     16384 0 7 unpin           not a read: releases that pin
 *     16385 0 99 @bulkread      a read through a BULKREAD ring (also @bulkwrite, @vacuum)
 *     16385 0 99 @bulkread:2    ... through BULKREAD ring number 2 (each scan has its own ring)
 *     hot-page-3                any other words name a page too ("one tag per line")
 *
 * The page's tag is every word before the trailing flags, joined by one space. In PostgreSQL each
 * scan, VACUUM or COPY gets a fresh ring and frees it at its end; reads that name the same
 * strategy and ring number share one ring (`@bulkread` is ring 0).
 */

import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import type { BufferAccessStrategyType } from "../access-strategy.js";
import { PgsimError } from "../errors.js";
import { mulberry32 } from "../prng.js";

/** A strategy a trace line may name (not "normal", the default). */
export type TraceStrategy = Exclude<BufferAccessStrategyType, "normal">;

/** One line of a trace. */
export interface TraceEvent {
  /** "access" reads the page (and pins it); "unpin" releases a pin an earlier `pin` kept. */
  kind: "access" | "unpin";
  tag: string;
  /** The ring the executor read through, if any. */
  strategy: TraceStrategy | undefined;
  /** Which ring of that strategy (reads with the same strategy and number share a ring). */
  ringId: number;
  /** The access dirtied the page. */
  dirty: boolean;
  /** The access kept its pin (until an "unpin" event). */
  keepPin: boolean;
}

/** A named list of events. */
export interface Trace {
  name: string;
  /** The leading comment lines, without "# ". */
  description: string[];
  events: TraceEvent[];
}

const STRATEGY_FLAGS: Readonly<Record<string, TraceStrategy>> = {
  "@bulkread": "bulkread",
  "@bulkwrite": "bulkwrite",
  "@vacuum": "vacuum",
};
const FLAGS = new Set(["dirty", "pin", "unpin"]);
const STRATEGY_FLAG = /^(@bulkread|@bulkwrite|@vacuum)(?::(\d{1,9}))?$/;

function isFlag(word: string): boolean {
  return FLAGS.has(word) || STRATEGY_FLAG.test(word);
}

function traceError(where: string, message: string): PgsimError {
  return new PgsimError("invalid-trace", `${where}: ${message}`, { where });
}

/**
 * Parses the text format above. Throws PgsimError `invalid-trace` naming the file and line.
 *
 * @example
 * ```ts
 * parseTrace("16384 0 7 dirty\n16384 0 8\n", "t").events.length; // 2
 * ```
 */
export function parseTrace(text: string, name: string): Trace {
  const events: TraceEvent[] = [];
  const description: string[] = [];
  let leading = true;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      if (leading) description.push(line.replace(/^#\s?/, ""));
      continue;
    }
    leading = false;
    const words = line.split(/\s+/);
    let strategy: TraceStrategy | undefined;
    let ringId = 0;
    let dirty = false;
    let keepPin = false;
    let unpin = false;
    while (words.length > 1 && isFlag(words[words.length - 1]!)) {
      const flag = words.pop()!;
      const ring = STRATEGY_FLAG.exec(flag);
      if (flag === "dirty") dirty = true;
      else if (flag === "pin") keepPin = true;
      else if (flag === "unpin") unpin = true;
      else if (ring !== null && strategy === undefined) {
        strategy = STRATEGY_FLAGS[ring[1]!];
        ringId = ring[2] === undefined ? 0 : Number(ring[2]);
      } else throw traceError(`${name}:${i + 1}`, "more than one @strategy");
    }
    if (unpin && (dirty || keepPin || strategy !== undefined)) {
      throw traceError(`${name}:${i + 1}`, `an "unpin" line takes no other flags: ${line}`);
    }
    if (words.length === 1 && isFlag(words[0]!)) {
      throw traceError(`${name}:${i + 1}`, `a flag without a page: ${line}`);
    }
    events.push({
      kind: unpin ? "unpin" : "access",
      tag: words.join(" "),
      strategy,
      ringId,
      dirty,
      keepPin,
    });
  }
  if (events.length === 0) throw traceError(name, "the trace has no accesses");
  return { name, description, events };
}

/** Writes a trace in the text format (`parseTrace` reads it back unchanged). */
export function formatTrace(trace: Trace): string {
  const out: string[] = trace.description.map((d) => `# ${d}`);
  for (const e of trace.events) {
    if (e.kind === "unpin") {
      out.push(`${e.tag} unpin`);
      continue;
    }
    let line = e.tag;
    if (e.dirty) line += " dirty";
    if (e.keepPin) line += " pin";
    if (e.strategy !== undefined) line += ` @${e.strategy}${e.ringId === 0 ? "" : `:${e.ringId}`}`;
    out.push(line);
  }
  return `${out.join("\n")}\n`;
}

export { mulberry32 };

function access(tag: string, strategy?: TraceStrategy): TraceEvent {
  return { kind: "access", tag, strategy, ringId: 0, dirty: false, keepPin: false };
}

/** Options of the zipfian trace. */
export interface ZipfianOptions {
  seed?: number;
  /** Distinct pages (default 1000). */
  pages?: number;
  /** Accesses (default 20000). */
  accesses?: number;
  /** The Zipf exponent s: page k is read with probability ∝ 1 / k^s (default 0.9). */
  skew?: number;
}

/**
 * Reads of one relation's pages with Zipf-distributed popularity: the few hot pages are read most,
 * a long tail rarely. Block k - 1 is the k-th most popular page.
 */
export function zipfianTrace(options: ZipfianOptions = {}): Trace {
  const { seed = 42, pages = 1000, accesses = 20_000, skew = 0.9 } = options;
  const random = mulberry32(seed);
  const cdf = new Float64Array(pages);
  let sum = 0;
  for (let k = 1; k <= pages; k++) {
    sum += 1 / k ** skew;
    cdf[k - 1] = sum;
  }
  const events: TraceEvent[] = [];
  for (let i = 0; i < accesses; i++) {
    const u = random() * sum;
    let lo = 0;
    let hi = pages - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    events.push(access(`16400 0 ${lo}`));
  }
  return {
    name: "zipfian",
    description: [
      `zipfian: ${accesses} reads of ${pages} pages of relation 16400, Zipf skew ${skew}, seed ${seed}`,
    ],
    events,
  };
}

/** Options of the scan-flood trace. */
export interface ScanFloodOptions {
  seed?: number;
  /** Pages of the hot relation (default 12). */
  hotPages?: number;
  /** Share of the OLTP reads that go to a random page of a big, cold relation (default 0.2). */
  coldFraction?: number;
  /** Pages of the cold relation (default 10000). */
  coldPages?: number;
  /** Rounds of (OLTP reads alone, then a scan burst with OLTP reads between) (default 20). */
  rounds?: number;
  /** OLTP reads before each scan burst (default 100). */
  quietReadsPerRound?: number;
  /** Scanned pages per burst (default 400). */
  scanPagesPerRound?: number;
  /** During a burst, one OLTP read after every this many scanned pages (default 4). */
  scanPagesPerOltpRead?: number;
  /** Pages of the scanned relation; the scan wraps around at the end (default 4000). */
  tablePages?: number;
}

/**
 * An OLTP workload and a sequential scan that floods it. The OLTP side reads a small hot set
 * (relation 16384) at random, and a share of random pages of a big cold relation (16386, the long
 * tail every real workload has). Every round, after some OLTP reads alone, a sequential scan of a
 * big relation (16385) reads a burst of pages while the OLTP reads go on between them, as a
 * reporting query next to live traffic does. Every scanned page is read once per pass, so caching
 * it is useless; a policy that lets the scan push the hot set out pays for it with misses on the
 * OLTP side. The scan's reads are marked @bulkread: the relation is far larger than NBuffers / 4
 * for every pool the lab compares, which is when PostgreSQL's heap scan reads through a BULKREAD
 * ring (heapam.c initscan).
 */
export function scanFloodTrace(options: ScanFloodOptions = {}): Trace {
  const {
    seed = 42,
    hotPages = 12,
    coldFraction = 0.2,
    coldPages = 10_000,
    rounds = 20,
    quietReadsPerRound = 100,
    scanPagesPerRound = 400,
    scanPagesPerOltpRead = 4,
    tablePages = 4000,
  } = options;
  const random = mulberry32(seed);
  const events: TraceEvent[] = [];
  const oltpRead = () => {
    if (random() < coldFraction) events.push(access(`16386 0 ${Math.floor(random() * coldPages)}`));
    else events.push(access(`16384 0 ${Math.floor(random() * hotPages)}`));
  };
  let scanBlock = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < quietReadsPerRound; i++) oltpRead();
    for (let i = 1; i <= scanPagesPerRound; i++) {
      events.push(access(`16385 0 ${scanBlock}`, "bulkread"));
      scanBlock = (scanBlock + 1) % tablePages;
      if (i % scanPagesPerOltpRead === 0) oltpRead();
    }
  }
  const hotPct = 100 - Math.round(100 * coldFraction);
  return {
    name: "scan-flood",
    description: [
      `scan-flood: ${rounds} rounds of ${quietReadsPerRound} OLTP reads, then a burst of ` +
        `${scanPagesPerRound} pages of a sequential scan of a ${tablePages}-page relation ` +
        `(16385, @bulkread) with one OLTP read per ${scanPagesPerOltpRead} scanned pages; ` +
        `OLTP reads: ${hotPct}% a ${hotPages}-page hot set (16384), the rest a ` +
        `${coldPages}-page cold relation (16386); seed ${seed}`,
    ],
    events,
  };
}

/** The names `builtinTrace` accepts. */
export const BUILTIN_TRACES = ["zipfian", "scan-flood", "pgsim-workload"] as const;

/** Where the recorded pgsim workload lives (committed; recorded by @pgsim/bench record-trace.ts). */
export function pgsimWorkloadTracePath(): string {
  // src/lab/trace.ts and dist/lab/trace.js both sit two levels below the package root.
  return fileURLToPath(new URL("../../traces/pgsim-workload.trace", import.meta.url));
}

/**
 * A built-in trace by name, or undefined when `name` is not one. The generated traces take the
 * seed; the recorded one is fixed.
 */
export function builtinTrace(name: string, options: { seed?: number } = {}): Trace | undefined {
  switch (name) {
    case "zipfian":
      return zipfianTrace({ seed: options.seed });
    case "scan-flood":
      return scanFloodTrace({ seed: options.seed });
    case "pgsim-workload": {
      const file = pgsimWorkloadTracePath();
      return parseTrace(fs.readFileSync(file, "utf8"), "pgsim-workload");
    }
    default:
      return undefined;
  }
}
