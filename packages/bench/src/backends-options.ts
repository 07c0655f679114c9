/**
 * `pgsim-bench backends`' options: the transaction mixes, the defaults of the command line, their
 * limits, the parser of the command line's values, and the pool size a run needs.
 *
 * Models: pgbench's `-c` (clients), `-S` (select-only) and `-i -s 1` (100 000 accounts) options;
 * the backend count is PgBouncer's default_pool_size.
 * Entry points: `parseBackendsOptions`, `BACKENDS_DEFAULTS`, `BACKENDS_MODES`, `BackendsOptions`,
 * `BackendsUsageError`, `backendsBufferCount`.
 * See also: backends.ts (runs them), cli.ts (turns `BackendsUsageError` into exit 2).
 */

import type { Progress } from "./progress.js";

/** The two transaction mixes. */
export const BACKENDS_MODES = ["read-only", "read-write"] as const;
export type BackendsMode = (typeof BACKENDS_MODES)[number];

/** Options of `runBackends` (what the command line sets). */
export interface BackendsOptions {
  /** Client counts, one point each (default 1,2,4,8,16,32,64). */
  clients: number[];
  /** Backend counts, one cluster each (default 1,2). */
  backends: number[];
  /** Measured seconds per point (default 5). */
  seconds: number;
  mode: BackendsMode;
  variant: "memory" | "disk";
  /** Rows in accounts (default 100 000, pgbench's scale 1). */
  accounts: number;
  /**
   * SELECTs per read-only transaction (default 1, pgbench -S). More make each transaction
   * heavier for the backend while the pooler's cost stays the same.
   */
  statements?: number;
  /** Warm-up seconds before each point (default: a fifth of `seconds`, from 0.2 to 1). */
  warmupSeconds?: number;
  progress?: Progress;
}

/** The defaults of the command line. */
export const BACKENDS_DEFAULTS = {
  clients: [1, 2, 4, 8, 16, 32, 64],
  backends: [1, 2],
  seconds: 5,
  mode: "read-only",
  variant: "memory",
  accounts: 100_000,
  statements: 1,
} as const satisfies Omit<BackendsOptions, "clients" | "backends"> & {
  clients: readonly number[];
  backends: readonly number[];
};

/** Limits of the options (a usage error beyond them). */
const LIMITS = {
  clients: 1024,
  backends: 64,
  secondsMax: 3600,
  accounts: 10_000_000,
  statements: 1000,
} as const;

/** Bad options: the message says what is wrong (the command line turns it into exit 2). */
export class BackendsUsageError extends Error {}

function parseCount(text: string, name: string, max: number): number {
  const digits = text.trim().replace(/[_,]/g, "");
  const n = /^[0-9]+$/.test(digits) ? Number(digits) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new BackendsUsageError(
      `${name} takes integers from 1 to ${max.toLocaleString("en-US")}, got ${JSON.stringify(text)}`,
    );
  }
  return n;
}

function parseList(text: string, name: string, max: number): number[] {
  const items = text.split(",").filter((x) => x.trim() !== "");
  if (items.length === 0) throw new BackendsUsageError(`${name} takes a comma-separated list`);
  const list = items.map((x) => parseCount(x, name, max));
  return [...new Set(list)].sort((a, b) => a - b);
}

/**
 * The options from the command line's values (strings), with the defaults filled in. Throws
 * `BackendsUsageError` for a bad value.
 *
 * @example
 * ```ts
 * parseBackendsOptions({ clients: "1,2", backends: "1", seconds: "1" }).clients; // [1, 2]
 * ```
 */
export function parseBackendsOptions(
  values: Record<string, string | boolean | undefined>,
): Omit<BackendsOptions, "progress"> {
  const text = (name: string): string | undefined =>
    values[name] === undefined ? undefined : String(values[name]);
  const clients = text("clients");
  const backends = text("backends");
  const secondsText = text("seconds");
  let seconds: number = BACKENDS_DEFAULTS.seconds;
  if (secondsText !== undefined) {
    seconds = /^[0-9]*\.?[0-9]+$/.test(secondsText.trim()) ? Number(secondsText) : Number.NaN;
    if (!(seconds > 0 && seconds <= LIMITS.secondsMax)) {
      throw new BackendsUsageError(
        `--seconds takes a number above 0 and up to ${LIMITS.secondsMax}, got ${JSON.stringify(secondsText)}`,
      );
    }
  }
  const mode = text("mode") ?? BACKENDS_DEFAULTS.mode;
  if (!(BACKENDS_MODES as readonly string[]).includes(mode)) {
    throw new BackendsUsageError(
      `--mode must be ${BACKENDS_MODES.join(" or ")}, got ${JSON.stringify(mode)}`,
    );
  }
  const variant = text("variant") ?? BACKENDS_DEFAULTS.variant;
  if (variant !== "memory" && variant !== "disk") {
    throw new BackendsUsageError(
      `--variant must be memory or disk, got ${JSON.stringify(variant)}`,
    );
  }
  const accountsText = text("accounts");
  const statementsText = text("statements");
  const statements =
    statementsText === undefined
      ? BACKENDS_DEFAULTS.statements
      : parseCount(statementsText, "--statements", LIMITS.statements);
  if (statements !== 1 && mode !== "read-only") {
    throw new BackendsUsageError("--statements applies to --mode read-only only");
  }
  return {
    clients:
      clients === undefined
        ? [...BACKENDS_DEFAULTS.clients]
        : parseList(clients, "--clients", LIMITS.clients),
    backends:
      backends === undefined
        ? [...BACKENDS_DEFAULTS.backends]
        : parseList(backends, "--backends", LIMITS.backends),
    seconds,
    mode: mode as BackendsMode,
    variant,
    accounts:
      accountsText === undefined
        ? BACKENDS_DEFAULTS.accounts
        : parseCount(accountsText, "--accounts", LIMITS.accounts),
    statements,
  };
}

/** Buffers for the run: all of accounts three times over (bloat), history, and slack. */
export function backendsBufferCount(accounts: number): number {
  // About 60 accounts rows of ~120 bytes fit on a page; never below shared_buffers' default.
  return Math.max(16384, Math.ceil(accounts / 60) * 3 + 8192);
}
