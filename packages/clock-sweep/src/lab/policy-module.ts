/**
 * Replacement policies written by the user: load one from a module by its path, and check, while
 * the lab replays a trace through it, that it keeps the contract of `ReplacementPolicy`.
 *
 * Models: nothing in PostgreSQL. The exercise is BusTub's replacer project (CMU 15-445): a student
 * writes the replacement policy, and the pool around it (pins, dirty pages, "no unpinned buffers
 * available") stays the same. The checks are what bufmgr.c's BufferAlloc relies on
 * StrategyGetBuffer for: a pinned page is never chosen, a dirty victim is written first, a full
 * pool gives a buffer back before taking a page in.
 * Entry points: `loadPolicyModule`, `PolicyFactory`, `withContractChecks`.
 * See also: policies/policy.ts (the interface, and `ResidentSetPolicy` to build on), lab.ts
 * (`compareReplacementPolicies` takes a `PolicyFactory` beside the policies' names),
 * ../repl/cli.ts (`pgsim-clock compare --policy FILE`), ../../examples/fifo-policy.js (a policy
 * module to start from).
 *
 * A policy module is an ES module whose default export is either a class whose instances implement
 * `ReplacementPolicy` (the lab calls `new Policy(capacity)`) or a function
 * `(capacity) => ReplacementPolicy`. It may also export `description`, one line for the report.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { PgsimError } from "../errors.js";
import type {
  PolicyAccessOptions,
  PolicyAccessResult,
  PolicyStats,
  ReplacementPolicy,
} from "./policies/policy.js";

/**
 * Makes a fresh policy over `capacity` buffers; the lab calls it once per pool size it compares.
 * `compareReplacementPolicies` accepts one wherever it accepts a policy's name.
 *
 * @example
 * ```ts
 * const mine: PolicyFactory = Object.assign((n: number) => new MyPolicy(n), {
 *   description: "my policy",
 * });
 * compareReplacementPolicies(trace, { bufferCounts: [16], policies: ["lru", mine] });
 * ```
 */
export interface PolicyFactory {
  (capacity: number): ReplacementPolicy;
  /** One line for the report's list of policies (default: "a user-written policy"). */
  description?: string;
}

/**
 * Loads a policy module (a file path, resolved against the working directory) and returns its
 * factory. Throws PgsimError `invalid-policy-module` when the file is missing, fails to load, or
 * has no usable default export.
 *
 * @example
 * ```ts
 * const fifo = await loadPolicyModule("./fifo-policy.js");
 * const c = compareReplacementPolicies(scanFloodTrace(), {
 *   bufferCounts: [16],
 *   policies: ["lru", fifo],
 * });
 * ```
 */
export async function loadPolicyModule(file: string): Promise<PolicyFactory> {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved) || !fs.statSync(resolved).isFile()) {
    throw new PgsimError("invalid-policy-module", `no policy module "${file}"`, { file });
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new PgsimError("invalid-policy-module", `cannot load policy module ${file}: ${why}`, {
      file,
    });
  }
  const exported = mod.default;
  if (typeof exported !== "function") {
    throw new PgsimError(
      "invalid-policy-module",
      `policy module ${file} must export default a class implementing ReplacementPolicy, or a function (capacity) => ReplacementPolicy`,
      { file },
    );
  }
  const make = exported as (capacity: number) => unknown;
  const construct = isClass(make);
  const factory = (capacity: number): ReplacementPolicy =>
    (construct
      ? new (make as unknown as new (n: number) => unknown)(capacity)
      : make(capacity)) as ReplacementPolicy;
  const description =
    typeof mod.description === "string" ? mod.description : `a user-written policy (${file})`;
  return Object.assign(factory, { description });
}

/** True for `class` syntax, and for functions whose prototype has an `access` method. */
function isClass(fn: (...args: never[]) => unknown): boolean {
  if (/^class[\s{]/.test(Function.prototype.toString.call(fn))) return true;
  const proto = (fn as { prototype?: { access?: unknown } }).prototype;
  return proto !== undefined && typeof proto.access === "function";
}

/** What each counter of PolicyStats counts, for messages. */
const STAT_WORDS: Readonly<Record<keyof PolicyStats, string>> = {
  hits: "hits",
  misses: "misses",
  evictions: "evictions",
  writes: "dirty pages written",
};

function contractError(name: string, what: string): PgsimError {
  return new PgsimError(
    "policy-contract",
    `policy "${name}" broke the ReplacementPolicy contract: ${what}`,
    { policy: name },
  );
}

/**
 * Wraps a policy with a model of what the pool holds (resident pages, pins, dirty pages, counts)
 * and checks every answer against it. The caller's mistakes are refused before the policy sees
 * them, in the words the lab's own policies use (an unpin of a page that is not pinned); the
 * policy's are reported as PgsimError `policy-contract` (a wrong answer) or `policy-failed` (it
 * threw). Checked, after each call:
 *
 * 1. `access` reports a hit exactly when the page was resident, and returns with it pinned.
 * 2. A miss in a full pool evicts exactly one page; a miss in a pool with room evicts nothing,
 *    unless the read names a strategy: a ring recycles its own buffer while others are free, as
 *    freelist.c's GetBufferFromRing does.
 * 3. The evicted page was resident, is not the page being read, and is not pinned.
 * 4. `wroteDirty` is true exactly when the evicted page was dirty.
 * 5. "no unpinned buffers available" (`no-unpinned-buffers`) only when the pool is full and every
 *    page in it is pinned.
 * 6. `stats` counts the hits, misses, evictions and writes that happened; `residentTags()` lists
 *    the resident pages; `name` and `capacity` never change.
 *
 * `compareReplacementPolicies` wraps every policy that comes from a `PolicyFactory`.
 *
 * @example
 * ```ts
 * const checked = withContractChecks(new MyPolicy(4));
 * checked.access("a"); // throws PgsimError "policy-contract" if MyPolicy answers wrongly
 * ```
 */
export function withContractChecks(policy: ReplacementPolicy): ReplacementPolicy {
  const name = policy.name;
  if (typeof name !== "string" || name === "") {
    throw new PgsimError(
      "policy-contract",
      "a replacement policy needs a `name`: a non-empty string for tables and charts",
    );
  }
  const capacity = policy.capacity;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw contractError(name, `capacity must be a positive integer, got ${String(capacity)}`);
  }
  for (const method of ["access", "unpin", "markDirty", "residentTags"] as const) {
    if (typeof policy[method] !== "function") {
      throw contractError(name, `it has no ${method}() method`);
    }
  }
  const stats = policy.stats as Partial<PolicyStats> | undefined;
  if (typeof stats !== "object" || stats === null) {
    throw contractError(name, "it has no `stats` object");
  }

  const resident = new Set<string>();
  const pins = new Map<string, number>();
  const dirty = new Set<string>();
  const counted: PolicyStats = { hits: 0, misses: 0, evictions: 0, writes: 0 };

  /** Runs one of the policy's methods: a PgsimError passes, anything else is its failure. */
  const call = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof PgsimError) throw e;
      const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw new PgsimError("policy-failed", `policy "${name}" failed in ${what}: ${why}`, {
        policy: name,
      });
    }
  };

  const checkStable = () => {
    if (policy.name !== name) throw contractError(name, `its name changed to "${policy.name}"`);
    if (policy.capacity !== capacity) {
      throw contractError(name, `its capacity changed from ${capacity} to ${policy.capacity}`);
    }
    for (const key of ["hits", "misses", "evictions", "writes"] as const) {
      const value = policy.stats[key];
      if (value !== counted[key]) {
        throw contractError(
          name,
          `stats.${key} is ${String(value)}, but the lab counted ${counted[key]} ${STAT_WORDS[key]}`,
        );
      }
    }
  };

  const access = (tag: string, options?: PolicyAccessOptions): PolicyAccessResult => {
    const what = `access(${JSON.stringify(tag)})`;
    const wasResident = resident.has(tag);
    let r: PolicyAccessResult;
    try {
      r = call(what, () => policy.access(tag, options));
    } catch (e) {
      if (e instanceof PgsimError && e.code === "no-unpinned-buffers") {
        const unpinned = [...resident].find((t) => !pins.has(t));
        if (wasResident || resident.size < capacity || unpinned !== undefined) {
          const why = wasResident
            ? `${tag} is in the pool`
            : resident.size < capacity
              ? `the pool holds ${resident.size} of ${capacity} pages`
              : `${unpinned} is not pinned`;
          throw contractError(name, `${what} refused with "${e.message}", but ${why}`);
        }
      }
      throw e;
    }
    if (typeof r !== "object" || r === null || typeof r.hit !== "boolean") {
      throw contractError(name, `${what} must return { hit, evictedTag, wroteDirty }`);
    }
    if (r.hit !== wasResident) {
      throw contractError(
        name,
        r.hit
          ? `${what} reported a hit, but ${tag} was not in the pool`
          : `${what} reported a miss, but ${tag} was in the pool`,
      );
    }
    const evicted = r.evictedTag;
    if (r.hit) {
      if (evicted !== undefined) throw contractError(name, `${what} evicted ${evicted} on a hit`);
      counted.hits++;
    } else {
      if (evicted === undefined) {
        if (resident.size >= capacity) {
          throw contractError(
            name,
            `${what} took ${tag} into a full pool of ${capacity} without evicting a page`,
          );
        }
      } else {
        if (resident.size < capacity && options?.strategy === undefined) {
          throw contractError(
            name,
            `${what} evicted ${evicted} although the pool had room (${resident.size} of ${capacity} pages)`,
          );
        }
        if (!resident.has(evicted)) {
          throw contractError(name, `${what} evicted ${evicted}, which was not in the pool`);
        }
        if (pins.has(evicted)) {
          throw contractError(name, `${what} evicted ${evicted}, which is pinned`);
        }
        const wasDirty = dirty.has(evicted);
        if (r.wroteDirty !== wasDirty) {
          throw contractError(
            name,
            `${what} evicted ${evicted} with wroteDirty ${String(r.wroteDirty)}, but the page was ${wasDirty ? "dirty" : "clean"}`,
          );
        }
        resident.delete(evicted);
        dirty.delete(evicted);
        counted.evictions++;
        if (wasDirty) counted.writes++;
      }
      resident.add(tag);
      counted.misses++;
    }
    pins.set(tag, (pins.get(tag) ?? 0) + 1);
    checkStable();
    return r;
  };

  const unpin = (tag: string): void => {
    const n = pins.get(tag);
    if (n === undefined) throw new PgsimError("page-not-pinned", `${tag} is not pinned`, { tag });
    call(`unpin(${JSON.stringify(tag)})`, () => policy.unpin(tag));
    if (n === 1) pins.delete(tag);
    else pins.set(tag, n - 1);
    checkStable();
  };

  const markDirty = (tag: string): void => {
    if (!pins.has(tag)) {
      throw new PgsimError("page-not-pinned", `${tag} must be pinned to be dirtied`, { tag });
    }
    call(`markDirty(${JSON.stringify(tag)})`, () => policy.markDirty(tag));
    dirty.add(tag);
    checkStable();
  };

  const residentTags = (): string[] => {
    const tags = call("residentTags()", () => policy.residentTags());
    const listed = new Set(tags);
    const missing = [...resident].find((t) => !listed.has(t));
    const extra = tags.find((t) => !resident.has(t));
    if (listed.size !== tags.length || missing !== undefined || extra !== undefined) {
      const why =
        missing !== undefined
          ? `it leaves out ${missing}`
          : extra !== undefined
            ? `it lists ${extra}, which is not in the pool`
            : "it lists a page twice";
      throw contractError(name, `residentTags() is wrong: ${why}`);
    }
    return tags;
  };

  return {
    name,
    capacity,
    get stats() {
      return policy.stats;
    },
    access,
    unpin,
    markDirty,
    residentTags,
  };
}
