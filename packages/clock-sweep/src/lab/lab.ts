/**
 * The replacement-policy lab: replays a page-access trace through every policy at several pool
 * sizes and reports hit ratios.
 *
 * Models: what a buffer manager would see if its replacement policy were swapped: each trace line
 * is a ReadBuffer (pin), optionally MarkBufferDirty, and ReleaseBuffer unless the trace holds the
 * pin. PostgreSQL's policy runs as its own code (policies/clock-sweep.ts).
 * Entry points: `replayTrace`, `compareReplacementPolicies`, `formatComparison`,
 * `ReplayResult`, `Comparison`.
 * See also: trace.ts (the traces), policies/index.ts (the policies), policy-module.ts (policies
 * the user writes), lab-chart.ts (the chart), ../repl/cli.ts (`pgsim-clock compare`).
 */

import { PgsimError } from "../errors.js";
import {
  createPolicy,
  POLICY_DESCRIPTIONS,
  POLICY_NAMES,
  type PolicyName,
} from "./policies/index.js";
import type { ReplacementPolicy } from "./policies/policy.js";
import { type PolicyFactory, withContractChecks } from "./policy-module.js";
import type { Trace } from "./trace.js";

/** Errors of a policy itself: reported as they are, with the event, not as a bad trace. */
const POLICY_ERROR_CODES: ReadonlySet<string> = new Set(["policy-contract", "policy-failed"]);

/** What replaying one trace through one policy at one pool size gave. */
export interface ReplayResult {
  policy: string;
  bufferCount: number;
  /** Page reads (trace lines that are not "unpin"). */
  accesses: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Dirty pages written back on eviction. */
  writes: number;
  /** Reads the trace marks with a strategy (@bulkread, …) and how many of them hit. */
  markedAccesses: number;
  markedHits: number;
  /** Set when the replay stopped, e.g. "no unpinned buffers available" in a pool too small. */
  failed: string | undefined;
}

/**
 * Replays `trace` through `policy`: every access pins the page, dirties it if the line says so,
 * and releases the pin unless the line keeps it.
 *
 * @example
 * ```ts
 * const r = replayTrace(createPolicy("arc", 16), scanFloodTrace());
 * console.log(r.hits / r.accesses);
 * ```
 */
export function replayTrace(policy: ReplacementPolicy, trace: Trace): ReplayResult {
  const result: ReplayResult = {
    policy: policy.name,
    bufferCount: policy.capacity,
    accesses: 0,
    hits: 0,
    misses: 0,
    evictions: 0,
    writes: 0,
    markedAccesses: 0,
    markedHits: 0,
    failed: undefined,
  };
  const events = trace.events;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    try {
      if (e.kind === "unpin") {
        policy.unpin(e.tag);
        continue;
      }
      const r = policy.access(e.tag, { strategy: e.strategy, ringId: e.ringId });
      result.accesses++;
      if (r.hit) result.hits++;
      if (e.strategy !== undefined) {
        result.markedAccesses++;
        if (r.hit) result.markedHits++;
      }
      if (e.dirty) policy.markDirty(e.tag);
      if (!e.keepPin) policy.unpin(e.tag);
    } catch (err) {
      if (!(err instanceof PgsimError)) throw err;
      if (err.code !== "no-unpinned-buffers") {
        const code = POLICY_ERROR_CODES.has(err.code) ? err.code : "invalid-trace";
        throw new PgsimError(code, `${trace.name}: event ${i + 1}: ${err.message}`, {
          event: i + 1,
        });
      }
      result.failed = `${err.message} (event ${i + 1})`;
      break;
    }
  }
  result.misses = policy.stats.misses;
  result.evictions = policy.stats.evictions;
  result.writes = policy.stats.writes;
  return result;
}

/** Every policy at every pool size, for one trace. */
export interface Comparison {
  trace: string;
  description: string[];
  /** Reads in the trace, and how many of them are marked with a strategy. */
  accesses: number;
  markedAccesses: number;
  distinctPages: number;
  bufferCounts: number[];
  /** The policies' names, in the order they were given. */
  policies: string[];
  /** One line about each policy, by name (the built-ins' POLICY_DESCRIPTIONS, or the factory's). */
  descriptions: Record<string, string>;
  /** One per (policy, pool size), policies in `policies` order, sizes ascending. */
  results: ReplayResult[];
}

/**
 * Replays `trace` through each policy at each pool size (a fresh pool every time). A policy is
 * named (one of POLICY_NAMES) or made by a `PolicyFactory`, such as `loadPolicyModule` returns for
 * a policy the user wrote; a factory's policies run under `withContractChecks`, and their `name`
 * must differ from every other policy's.
 *
 * @example
 * ```ts
 * const c = compareReplacementPolicies(scanFloodTrace(), { bufferCounts: [16, 32] });
 * console.log(formatComparison(c));
 * const fifo = await loadPolicyModule("./fifo-policy.js");
 * compareReplacementPolicies(scanFloodTrace(), { bufferCounts: [16], policies: ["clock", fifo] });
 * ```
 */
export function compareReplacementPolicies(
  trace: Trace,
  options: { bufferCounts: number[]; policies?: readonly (string | PolicyFactory)[] },
): Comparison {
  const choices = [...(options.policies ?? POLICY_NAMES)];
  const bufferCounts = [...new Set(options.bufferCounts)].sort((a, b) => a - b);
  if (bufferCounts.length === 0) {
    throw new PgsimError("invalid-buffer-count", "no pool sizes to compare");
  }
  const policies: string[] = [];
  const descriptions: Record<string, string> = {};
  const results: ReplayResult[] = [];
  for (const choice of choices) {
    let name: string | undefined;
    for (const n of bufferCounts) {
      const policy = makePolicy(choice, n);
      if (name === undefined) {
        name = policy.name;
        if (policies.includes(name)) {
          throw new PgsimError(
            "invalid-policy",
            `two policies are named "${name}": give each policy compared its own name`,
            { name },
          );
        }
        policies.push(name);
        descriptions[name] =
          typeof choice === "string"
            ? (POLICY_DESCRIPTIONS[name as PolicyName] ?? "")
            : (choice.description ?? "a user-written policy");
      } else if (policy.name !== name) {
        throw new PgsimError(
          "policy-contract",
          `policy "${name}" broke the ReplacementPolicy contract: at ${n} buffers it is named "${policy.name}"`,
        );
      }
      results.push(replayTrace(policy, trace));
    }
  }
  const reads = trace.events.filter((e) => e.kind === "access");
  return {
    trace: trace.name,
    description: trace.description,
    accesses: reads.length,
    markedAccesses: reads.filter((e) => e.strategy !== undefined).length,
    distinctPages: new Set(reads.map((e) => e.tag)).size,
    bufferCounts,
    policies,
    descriptions,
    results,
  };
}

/** A fresh policy over `capacity` buffers: a built-in by name, or a factory's, checked. */
function makePolicy(choice: string | PolicyFactory, capacity: number): ReplacementPolicy {
  if (typeof choice === "string") return createPolicy(choice, capacity);
  if (typeof choice !== "function") {
    throw new PgsimError(
      "invalid-policy",
      `a policy to compare is a name (${POLICY_NAMES.join(", ")}) or a PolicyFactory, got ${String(choice)}`,
    );
  }
  let policy: ReplacementPolicy;
  try {
    policy = choice(capacity);
  } catch (e) {
    if (e instanceof PgsimError) throw e;
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new PgsimError(
      "policy-failed",
      `a policy factory failed to make a policy of ${capacity} buffers: ${why}`,
    );
  }
  if (typeof policy !== "object" || policy === null) {
    throw new PgsimError(
      "policy-contract",
      `a policy factory returned ${String(policy)} instead of a ReplacementPolicy`,
    );
  }
  const checked = withContractChecks(policy);
  if (checked.capacity !== capacity) {
    throw new PgsimError(
      "policy-contract",
      `policy "${checked.name}" broke the ReplacementPolicy contract: asked for ${capacity} buffers, it has capacity ${checked.capacity}`,
    );
  }
  return checked;
}

function percent(hits: number, total: number): string {
  return total === 0 ? "-" : `${((100 * hits) / total).toFixed(1)}%`;
}

function table(
  c: Comparison,
  title: string,
  cell: (r: ReplayResult) => string,
  policyWidth: number,
): string[] {
  const cells = c.results.map(cell);
  const width = Math.max(
    8,
    ...cells.map((s) => s.length),
    ...c.bufferCounts.map((n) => `${n}`.length),
  );
  const lines = [title];
  lines.push(
    `  ${"policy".padEnd(policyWidth)}  ${c.bufferCounts.map((n) => `${n}`.padStart(width)).join("  ")}`,
  );
  for (const p of c.policies) {
    const row = c.results.filter((r) => r.policy === p);
    lines.push(`  ${p.padEnd(policyWidth)}  ${row.map((r) => cell(r).padStart(width)).join("  ")}`);
  }
  return lines;
}

/** The comparison as text: hit ratios (and hit counts) per policy and pool size. */
export function formatComparison(c: Comparison): string {
  const policyWidth = Math.max(10, ...c.policies.map((p) => p.length));
  const lines: string[] = [];
  lines.push(`trace ${c.trace}: ${c.accesses} reads of ${c.distinctPages} distinct pages`);
  for (const d of c.description) lines.push(`  ${d}`);
  lines.push("");
  const failedCell = (r: ReplayResult, ok: string) => (r.failed === undefined ? ok : "failed");
  lines.push(
    ...table(
      c,
      "hit ratio, all reads (hits in parentheses), by pool size in buffers:",
      (r) => failedCell(r, `${percent(r.hits, r.accesses)} (${r.hits})`),
      policyWidth,
    ),
  );
  if (c.markedAccesses > 0) {
    lines.push("");
    lines.push(
      ...table(
        c,
        `hit ratio of the ${c.accesses - c.markedAccesses} reads not marked with a strategy (what the rings are meant to protect):`,
        (r) =>
          failedCell(
            r,
            `${percent(r.hits - r.markedHits, r.accesses - r.markedAccesses)} (${r.hits - r.markedHits})`,
          ),
        policyWidth,
      ),
    );
    lines.push("");
    lines.push(
      `${c.markedAccesses} reads are marked @bulkread, @bulkwrite or @vacuum. Only clock-ring uses the marks,`,
      "as PostgreSQL reads a large table through a BULKREAD ring: the executor knows it is scanning,",
      "and the other policies are not told. clock is the same sweep without rings; lru-2, 2q, arc",
      "and sieve have to resist the scan from what they remember of past reads alone.",
    );
  }
  const failures = c.results.filter((r) => r.failed !== undefined);
  for (const f of failures) lines.push(`${f.policy} at ${f.bufferCount} buffers: ${f.failed}`);
  lines.push("");
  lines.push("policies:");
  for (const p of c.policies) {
    const d = c.descriptions[p] ?? POLICY_DESCRIPTIONS[p as PolicyName];
    if (d) lines.push(`  ${p.padEnd(policyWidth)}  ${d}`);
  }
  return `${lines.join("\n")}\n`;
}
