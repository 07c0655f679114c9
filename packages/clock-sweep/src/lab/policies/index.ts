/**
 * The replacement-policy lab's registry: every policy by name, behind one interface.
 *
 * Models: nothing in PostgreSQL; the lab compares PostgreSQL's clock sweep (freelist.c) with the
 * policies the literature offers.
 * Entry points: `POLICY_NAMES`, `PolicyName`, `createPolicy`, `POLICY_DESCRIPTIONS`.
 * See also: policy.ts (the interface), ../lab.ts (replaying traces through them).
 */

import { PgsimError } from "../../errors.js";
import { ArcPolicy } from "./arc.js";
import { ClockSweepPolicy } from "./clock-sweep.js";
import { LruPolicy } from "./lru.js";
import { LruKPolicy } from "./lru-k.js";
import type { ReplacementPolicy } from "./policy.js";
import { SievePolicy } from "./sieve.js";
import { TwoQPolicy } from "./two-q.js";

/** Every policy of the lab, in the order tables and charts show them. */
export const POLICY_NAMES = ["clock", "clock-ring", "lru", "lru-2", "2q", "arc", "sieve"] as const;

/** A policy's name. */
export type PolicyName = (typeof POLICY_NAMES)[number];

/** One line about each policy, for `--help` and the lab's report. */
export const POLICY_DESCRIPTIONS: Readonly<Record<PolicyName, string>> = {
  clock: "PostgreSQL's clock sweep (freelist.c), every read on the default path",
  "clock-ring": "PostgreSQL's clock sweep plus rings for reads the trace marks (@bulkread, …)",
  lru: "least recently used",
  "lru-2": "LRU-K with K = 2 (O'Neil, O'Neil, Weikum 1993)",
  "2q": "full 2Q: A1in FIFO, A1out ghosts, Am LRU (Johnson, Shasha 1994)",
  arc: "adaptive replacement cache (Megiddo, Modha 2003)",
  sieve: "FIFO with a visited bit and a sweeping hand (Zhang et al. 2024)",
};

/** True when `name` is one of POLICY_NAMES. */
export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

/**
 * A fresh policy over `capacity` buffers.
 *
 * @example
 * ```ts
 * const arc = createPolicy("arc", 64);
 * ```
 */
export function createPolicy(name: PolicyName | string, capacity: number): ReplacementPolicy {
  switch (name) {
    case "clock":
      return new ClockSweepPolicy(capacity, { rings: false });
    case "clock-ring":
      return new ClockSweepPolicy(capacity, { rings: true });
    case "lru":
      return new LruPolicy(capacity);
    case "lru-2":
      return new LruKPolicy(capacity);
    case "2q":
      return new TwoQPolicy(capacity);
    case "arc":
      return new ArcPolicy(capacity);
    case "sieve":
      return new SievePolicy(capacity);
    default:
      throw new PgsimError(
        "invalid-policy",
        `unknown policy "${name}": choose from ${POLICY_NAMES.join(", ")}`,
        { name },
      );
  }
}
