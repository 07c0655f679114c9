/**
 * Fault injection at the storage calls, and the PANIC state a fatal fault leaves behind.
 *
 * Models: src/backend/utils/misc/injection_point.c (PostgreSQL 17: named points in the code where
 * a test attaches an action, kept in shared memory so every backend sees them) for the points,
 * and elog.c's PANIC with postmaster.c's HandleChildCrash for what a fatal fault does: the whole
 * server stops at once and the next start runs crash recovery.
 * Entry points: `FaultRule`, `createFaultShmem`, `FaultTable`, `registerFaultShmem`, `ioWrite`,
 * `ioRead`, `ioFsync`, `ioTruncate`, `PanicError`.
 * See also: md.ts (relation files), heap-am's access/transam/xlog.ts (WAL segments),
 * pg-control.ts, heap-am's storage/file/fd.ts (pg_control, pg_xact).
 *
 * Every file operation of pgsim's storage goes through `ioWrite`, `ioRead`, `ioFsync` or
 * `ioTruncate` with the name of its point. The rules live in a SharedArrayBuffer, so a rule armed
 * by one backend applies in every worker thread, and "the 17th write" counts the writes of all
 * backends. A thread learns of a data directory's table when a backend attaches there
 * (`registerFaultShmem`); with no table registered, a call costs one array-length check.
 *
 * Differs from PostgreSQL: PostgreSQL 15 has no injection points (17 added them, by name, with
 * callbacks loaded from a library); pgsim's are fixed at the storage calls, with a fixed menu of
 * faults, so that a rule is plain data that crosses threads and processes.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { PgsimError } from "@pgsim/clock-sweep";

/** Where a fault can be injected. */
export type InjectionPointName =
  /** mdread: a block of a relation file read into a buffer. */
  | "data-read"
  /** mdwrite (and pg_xact pages): a dirty page written back. */
  | "data-write"
  /** A data file's fsync at a checkpoint (relation files and pg_xact). */
  | "data-fsync"
  /** mdextend: a relation file grown by a block. */
  | "extend"
  /** mdtruncate: a relation file cut (VACUUM's truncation, redo of a truncate). */
  | "truncate"
  /** A WAL segment written: pages by XLogWrite, and the zeros that create a new segment. */
  | "wal-write"
  /** A WAL segment synced (issue_xlog_fsync, and a new segment's sync). */
  | "wal-fsync"
  /** global/pg_control written or synced. */
  | "control-write"
  /** A memory-only database's snapshot file written. */
  | "snapshot-write"
  /** A memory-only database's snapshot file synced. */
  | "snapshot-fsync";

/** Every injection point, in the order of the README's table. */
export const INJECTION_POINTS: readonly InjectionPointName[] = [
  "data-read",
  "data-write",
  "data-fsync",
  "extend",
  "truncate",
  "wal-write",
  "wal-fsync",
  "control-write",
  "snapshot-write",
  "snapshot-fsync",
];

/** What happens at the point. */
export type Fault =
  /** The call fails with EIO ("Input/output error"). */
  | { readonly type: "eio" }
  /** The call fails with ENOSPC ("No space left on device"). */
  | { readonly type: "enospc" }
  /** A write: only the first `bytes` reach the file and the call reports that short count. */
  | { readonly type: "short-write"; readonly bytes: number }
  /**
   * A write: only the first `bytes` reach the file but the call reports the whole write done (a
   * torn page, as a power failure leaves one). With `crash` (default true) the process is killed
   * right after, as the power failure would.
   */
  | { readonly type: "torn-write"; readonly bytes: number; readonly crash?: boolean }
  /** The call waits `ms` milliseconds, then proceeds normally. */
  | { readonly type: "delay"; readonly ms: number }
  /** The process is killed (SIGKILL) at that point, before the call. */
  | { readonly type: "crash" };

/** One armed fault: where, what, and which of the matching calls it hits. */
export interface FaultRule {
  readonly point: InjectionPointName;
  readonly fault: Fault;
  /**
   * Only calls on this file, by its path relative to the data directory. `"base/5/16384"` is
   * that relation's main fork with its later segments (`.1`, `.2`, …); a path ending in `/` is
   * every file below that directory (`"pg_wal/"`, `"base/"`); a trailing `*` matches any rest
   * (`"base/5/16384*"`: every fork; `"pg_wal/xlogtemp*"`: new WAL segments being created;
   * `"pg_wal/0*"`: the WAL segments themselves). Default: every file.
   */
  readonly file?: string;
  /** Fire from the nth matching call on (1-based; default 1: the next one). */
  readonly nth?: number;
  /** How many calls to fire on (default 1; `Infinity`: every matching call from `nth` on). */
  readonly times?: number;
  /**
   * Instead of `nth`: fire on each matching call with this probability (0..1], decided by
   * `seed` and the call's number, so the same sequence of calls fires at the same calls.
   */
  readonly probability?: number;
  /** The seed of `probability` (default 1). */
  readonly seed?: number;
}

/** What a rule has done so far. */
export interface FaultRuleState {
  readonly id: number;
  readonly rule: FaultRule;
  /** Matching calls seen since the rule was armed. */
  readonly hits: number;
  /** Calls the fault was applied to. */
  readonly fired: number;
}

const FAULT_TYPES = ["eio", "enospc", "short-write", "torn-write", "delay", "crash"] as const;
const WRITE_POINTS = new Set<InjectionPointName>([
  "data-write",
  "extend",
  "wal-write",
  "control-write",
  "snapshot-write",
]);

// ---------------------------------------------------------------- shared layout

const MAX_RULES = 32;
const FILE_BYTES = 128;
const REASON_BYTES = 512;
// Header words.
const H_PANIC = 0; // 0: running; 1: a PANIC stopped the database
const H_ARMED = 1; // rules in use (a quick "nothing to do")
const H_NEXT_ID = 2;
const H_REASON_LEN = 3;
const HEADER_WORDS = 8;
// Rule words.
const R_ID = 0; // 0: free slot
const R_POINT = 1;
const R_TYPE = 2;
const R_ARG = 3; // bytes, or ms
const R_CRASH = 4;
const R_NTH = 5;
const R_TIMES = 6; // −1: unlimited
const R_PROB = 7; // probability × 2^30, 0: use nth
const R_SEED = 8;
const R_HITS = 9;
const R_FIRED = 10;
const R_FILE_LEN = 11;
const RULE_WORDS = 12 + FILE_BYTES / 4;
const TOTAL_WORDS = HEADER_WORDS + REASON_BYTES / 4 + MAX_RULES * RULE_WORDS;
const REASON_OFF = HEADER_WORDS;
const RULES_OFF = HEADER_WORDS + REASON_BYTES / 4;

/** Creates the shared memory of an empty fault table (no rule armed, not panicked). */
export function createFaultShmem(): SharedArrayBuffer {
  return new SharedArrayBuffer(TOTAL_WORDS * 4);
}

/** The error of a fatal fault: PostgreSQL's PANIC. The database takes no more work. */
export class PanicError extends PgsimError {
  constructor(message: string, detail?: Record<string, unknown>) {
    super("panic", message, detail);
    this.name = "PanicError";
  }
}

/**
 * The error every other backend gets after a PANIC (postmaster's SIGQUIT to its children: "the
 * postmaster has commanded this server process to roll back the current transaction and exit").
 */
export function crashShutdownError(reason: string): PgsimError {
  return new PgsimError(
    "crash-shutdown",
    "terminating connection because of crash of another server process",
    {
      detailMessage:
        "The postmaster has commanded this server process to roll back the current transaction and exit, because another server process exited abnormally and possibly corrupted shared memory.",
      hint: "Reopen the database: it runs crash recovery from the write-ahead log.",
      panic: reason,
    },
  );
}

function invalidRule(message: string): PgsimError {
  return new PgsimError("invalid-fault", message);
}

function checkRule(rule: FaultRule): void {
  if (rule === null || typeof rule !== "object")
    throw invalidRule("a fault rule must be an object");
  if (!INJECTION_POINTS.includes(rule.point)) {
    throw invalidRule(
      `unknown injection point "${String(rule.point)}"; the points are: ${INJECTION_POINTS.join(", ")}`,
    );
  }
  const f = rule.fault;
  if (f === null || typeof f !== "object" || !FAULT_TYPES.includes(f.type)) {
    throw invalidRule(
      `unknown fault ${JSON.stringify(f)}; the faults are: ${FAULT_TYPES.join(", ")}`,
    );
  }
  if (f.type === "short-write" || f.type === "torn-write") {
    if (!WRITE_POINTS.has(rule.point)) {
      throw invalidRule(`a ${f.type} needs a write point, not "${rule.point}"`);
    }
    if (!Number.isInteger(f.bytes) || f.bytes < 0) {
      throw invalidRule(`${f.type} bytes must be a non-negative integer, got ${String(f.bytes)}`);
    }
  }
  if (
    (f.type === "short-write" || f.type === "torn-write") &&
    rule.point === "control-write" &&
    f.bytes < 512
  ) {
    throw invalidRule(
      "pg_control is written as one 512-byte sector, which PostgreSQL assumes atomic (PG_CONTROL_MAX_SAFE_SIZE): a short or torn write of it keeps at least 512 bytes",
    );
  }
  if (f.type === "enospc" && rule.point === "data-read") {
    throw invalidRule('a read does not fail with ENOSPC; use "eio" at "data-read"');
  }
  if (f.type === "delay" && !(Number.isInteger(f.ms) && f.ms >= 0 && f.ms <= 600_000)) {
    throw invalidRule(`delay ms must be an integer from 0 to 600000, got ${String(f.ms)}`);
  }
  if (rule.nth !== undefined && !(Number.isInteger(rule.nth) && rule.nth >= 1)) {
    throw invalidRule(`nth must be a positive integer, got ${String(rule.nth)}`);
  }
  if (
    rule.times !== undefined &&
    rule.times !== Number.POSITIVE_INFINITY &&
    !(Number.isInteger(rule.times) && rule.times >= 1 && rule.times < 2 ** 31)
  ) {
    throw invalidRule(`times must be a positive integer or Infinity, got ${String(rule.times)}`);
  }
  if (
    rule.probability !== undefined &&
    !(typeof rule.probability === "number" && rule.probability > 0 && rule.probability <= 1)
  ) {
    throw invalidRule(`probability must be in (0, 1], got ${String(rule.probability)}`);
  }
  if (rule.file !== undefined) {
    if (typeof rule.file !== "string") throw invalidRule("file must be a string");
    if (new TextEncoder().encode(rule.file).length > FILE_BYTES) {
      throw invalidRule(`file must be at most ${FILE_BYTES} bytes`);
    }
  }
}

/** Whether a rule's `file` covers the file at `rel` (see FaultRule.file). */
function fileMatches(want: string, rel: string): boolean {
  if (want.endsWith("*")) return rel.startsWith(want.slice(0, -1));
  if (want.endsWith("/")) return rel.startsWith(want);
  if (rel === want) return true;
  return rel.startsWith(want) && /^\.\d+$/.test(rel.slice(want.length));
}

/** A 32-bit mix of (seed, n): splitmix-like, for deterministic probabilities. */
function mix(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** A backend's view of a data directory's fault table (rules and PANIC state). */
export class FaultTable {
  readonly sab: SharedArrayBuffer;
  private readonly w: Int32Array;
  private readonly bytes: Uint8Array;
  /** The file filter of each rule id seen, decoded once (a slot's id is never reused). */
  private readonly fileFilters = new Map<number, string>();

  constructor(sab: SharedArrayBuffer) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength !== TOTAL_WORDS * 4) {
      throw new PgsimError("invalid-fault", "not a fault table's shared memory");
    }
    this.sab = sab;
    this.w = new Int32Array(sab);
    this.bytes = new Uint8Array(sab);
  }

  /** Whether any rule is armed: the I/O paths ask this before they look at the file's name. */
  armed(): boolean {
    return Atomics.load(this.w, H_ARMED) !== 0;
  }

  /** Arms a rule; returns its id. */
  arm(rule: FaultRule): number {
    checkRule(rule);
    const file = new TextEncoder().encode(rule.file ?? "");
    for (let s = 0; s < MAX_RULES; s++) {
      const base = RULES_OFF + s * RULE_WORDS;
      // Claim the slot with a placeholder id, fill it, then publish the real id.
      if (Atomics.compareExchange(this.w, base + R_ID, 0, -1) !== 0) continue;
      const w = this.w;
      w[base + R_POINT] = INJECTION_POINTS.indexOf(rule.point);
      w[base + R_TYPE] = FAULT_TYPES.indexOf(rule.fault.type);
      const f = rule.fault;
      w[base + R_ARG] =
        f.type === "short-write" || f.type === "torn-write"
          ? f.bytes
          : f.type === "delay"
            ? f.ms
            : 0;
      w[base + R_CRASH] = f.type === "torn-write" && f.crash === false ? 0 : 1;
      w[base + R_NTH] = rule.nth ?? 1;
      const times = rule.times ?? 1;
      w[base + R_TIMES] = times === Number.POSITIVE_INFINITY ? -1 : times;
      w[base + R_PROB] =
        rule.probability === undefined ? 0 : Math.max(1, Math.round(rule.probability * 2 ** 30));
      w[base + R_SEED] = (rule.seed ?? 1) | 0;
      Atomics.store(w, base + R_HITS, 0);
      Atomics.store(w, base + R_FIRED, 0);
      w[base + R_FILE_LEN] = file.length;
      this.bytes.set(file, (base + 12) * 4);
      const id = Atomics.add(w, H_NEXT_ID, 1) + 1;
      Atomics.store(w, base + R_ID, id);
      Atomics.add(w, H_ARMED, 1);
      return id;
    }
    throw new PgsimError("invalid-fault", `at most ${MAX_RULES} fault rules can be armed at once`);
  }

  /** Removes a rule (a no-op for an unknown id). */
  remove(id: number): void {
    for (let s = 0; s < MAX_RULES; s++) {
      const base = RULES_OFF + s * RULE_WORDS;
      if (id > 0 && Atomics.compareExchange(this.w, base + R_ID, id, 0) === id) {
        Atomics.sub(this.w, H_ARMED, 1);
      }
    }
  }

  /** Removes every rule. */
  clear(): void {
    for (let s = 0; s < MAX_RULES; s++) {
      const base = RULES_OFF + s * RULE_WORDS;
      const id = Atomics.load(this.w, base + R_ID);
      if (id > 0) this.remove(id);
    }
  }

  /** The armed rules with their counts. */
  list(): FaultRuleState[] {
    const out: FaultRuleState[] = [];
    for (let s = 0; s < MAX_RULES; s++) {
      const base = RULES_OFF + s * RULE_WORDS;
      const id = Atomics.load(this.w, base + R_ID);
      if (id > 0) out.push(this.stateAt(base, id));
    }
    return out;
  }

  /** One rule's state, or undefined once removed. */
  state(id: number): FaultRuleState | undefined {
    return this.list().find((r) => r.id === id);
  }

  private stateAt(base: number, id: number): FaultRuleState {
    const w = this.w;
    const type = FAULT_TYPES[w[base + R_TYPE]!]!;
    const arg = w[base + R_ARG]!;
    const fault: Fault =
      type === "short-write"
        ? { type, bytes: arg }
        : type === "torn-write"
          ? { type, bytes: arg, crash: w[base + R_CRASH] === 1 }
          : type === "delay"
            ? { type, ms: arg }
            : { type };
    const fileLen = w[base + R_FILE_LEN]!;
    const file = new TextDecoder().decode(
      this.bytes.slice((base + 12) * 4, (base + 12) * 4 + fileLen),
    );
    const times = w[base + R_TIMES]!;
    const rule: FaultRule = {
      point: INJECTION_POINTS[w[base + R_POINT]!]!,
      fault,
      ...(fileLen > 0 ? { file } : {}),
      ...(w[base + R_PROB] === 0
        ? { nth: w[base + R_NTH]! }
        : { probability: w[base + R_PROB]! / 2 ** 30, seed: w[base + R_SEED]! }),
      times: times < 0 ? Number.POSITIVE_INFINITY : times,
    };
    return {
      id,
      rule,
      hits: Atomics.load(w, base + R_HITS),
      fired: Atomics.load(w, base + R_FIRED),
    };
  }

  /**
   * The fault to apply to this call, if a rule fires on it (counting the call in every rule it
   * matches). `rel` is the file's path relative to the data directory; `write` says whether the
   * call is a write: a short or torn write matches only writes (at "control-write", pg_control's
   * fsync is the same point as its write, and a torn fsync would do nothing).
   */
  /** Rule `id`'s file filter (in its slot at `base`, `fileLen` bytes), decoded on first use. */
  private fileFilter(base: number, id: number, fileLen: number): string {
    let want = this.fileFilters.get(id);
    if (want === undefined) {
      want = new TextDecoder().decode(this.bytes.slice((base + 12) * 4, (base + 12) * 4 + fileLen));
      this.fileFilters.set(id, want);
    }
    return want;
  }

  match(point: InjectionPointName, rel: string, write = true): Fault | undefined {
    const w = this.w;
    if (Atomics.load(w, H_ARMED) === 0) return undefined;
    const p = INJECTION_POINTS.indexOf(point);
    const shortType = FAULT_TYPES.indexOf("short-write");
    const tornType = FAULT_TYPES.indexOf("torn-write");
    let hit: Fault | undefined;
    for (let s = 0; s < MAX_RULES; s++) {
      const base = RULES_OFF + s * RULE_WORDS;
      const id = Atomics.load(w, base + R_ID);
      if (id <= 0 || w[base + R_POINT] !== p) continue;
      const type = w[base + R_TYPE];
      if (!write && (type === shortType || type === tornType)) continue;
      const fileLen = w[base + R_FILE_LEN]!;
      if (fileLen > 0 && !fileMatches(this.fileFilter(base, id, fileLen), rel)) continue;
      const n = Atomics.add(w, base + R_HITS, 1) + 1;
      const prob = w[base + R_PROB]!;
      const fires = prob > 0 ? mix(w[base + R_SEED]!, n) >>> 2 < prob : n >= w[base + R_NTH]!;
      if (!fires || hit !== undefined) continue;
      const times = w[base + R_TIMES]!;
      const already = Atomics.add(w, base + R_FIRED, 1);
      if (times >= 0 && already >= times) {
        Atomics.sub(w, base + R_FIRED, 1);
        continue;
      }
      hit = this.stateAt(base, id).rule.fault;
    }
    return hit;
  }

  // ---------------------------------------------------------------- PANIC

  /**
   * Records a PANIC: from now on the database takes no work (every backend's next call gets
   * `crashShutdownError`) and writes nothing more; reopening it runs crash recovery. The first
   * reason is kept.
   */
  panic(reason: string): void {
    if (Atomics.compareExchange(this.w, H_PANIC, 0, 2) !== 0) return;
    const bytes = new TextEncoder().encode(reason).subarray(0, REASON_BYTES);
    this.bytes.set(bytes, REASON_OFF * 4);
    Atomics.store(this.w, H_REASON_LEN, bytes.length);
    Atomics.store(this.w, H_PANIC, 1);
  }

  /** The PANIC's reason, or undefined while the database runs. */
  panicked(): string | undefined {
    const state = Atomics.load(this.w, H_PANIC);
    if (state === 0) return undefined;
    if (state === 2) return "a PANIC is being recorded";
    const len = Atomics.load(this.w, H_REASON_LEN);
    return new TextDecoder().decode(this.bytes.slice(REASON_OFF * 4, REASON_OFF * 4 + len));
  }

  /** Throws `crashShutdownError` after a PANIC (the check at every backend's entry points). */
  checkNotPanicked(): void {
    if (Atomics.load(this.w, H_PANIC) !== 0) throw crashShutdownError(this.panicked() ?? "");
  }
}

// ---------------------------------------------------------------- per-thread registry

interface Registered {
  readonly dir: string;
  readonly table: FaultTable;
  refs: number;
}

const registry: Registered[] = [];

/**
 * Makes this thread apply the fault table of the files below `dataDir` (a backend attaching to
 * the database calls this). Returns the function that undoes it (the backend detaching).
 */
export function registerFaultShmem(dataDir: string, sab: SharedArrayBuffer): () => void {
  const dir = path.resolve(dataDir);
  let entry = registry.find((r) => r.dir === dir && r.table.sab === sab);
  if (entry === undefined) {
    // A new table for the same directory (a database created again there) replaces the old one.
    for (let i = registry.length - 1; i >= 0; i--)
      if (registry[i]!.dir === dir) registry.splice(i, 1);
    entry = { dir, table: new FaultTable(sab), refs: 0 };
    registry.push(entry);
  }
  entry.refs++;
  const e = entry;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--e.refs === 0) {
      const i = registry.indexOf(e);
      if (i >= 0) registry.splice(i, 1);
    }
  };
}

/** The fault table that covers `file` in this thread, with the path relative to its directory. */
export function faultTableOf(file: string): { table: FaultTable; rel: string } | undefined {
  if (registry.length === 0) return undefined;
  const abs = path.resolve(file);
  for (const r of registry) {
    if (abs.startsWith(r.dir) && abs.charCodeAt(r.dir.length) === 47 /* / */) {
      return { table: r.table, rel: abs.slice(r.dir.length + 1) };
    }
  }
  return undefined;
}

/**
 * A PANIC at a file operation: records it in the fault table of the database that owns `file`
 * (so every backend stops) and returns the error to throw.
 */
export function panicError(
  file: string,
  message: string,
  detail?: Record<string, unknown>,
): PanicError {
  faultTableOf(file)?.table.panic(message);
  return new PanicError(message, detail);
}

function faultAt(point: InjectionPointName, file: string, write: boolean): Fault | undefined {
  // The common case, no rule armed anywhere: no path to resolve, nothing to allocate.
  let anyArmed = false;
  for (const r of registry) anyArmed ||= r.table.armed();
  if (!anyArmed) return undefined;
  const t = faultTableOf(file);
  return t?.table.match(point, t.rel, write);
}

const ERRNO: Record<string, { errno: number; text: string }> = {
  EIO: { errno: -5, text: "i/o error" },
  ENOSPC: { errno: -28, text: "no space left on device" },
};

/** An error as node:fs throws it for `code`. */
function errnoError(code: "EIO" | "ENOSPC", syscall: string, file: string): NodeJS.ErrnoException {
  const e = new Error(
    `${code}: ${ERRNO[code]!.text}, ${syscall} (injected fault)`,
  ) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = ERRNO[code]!.errno;
  e.syscall = syscall;
  e.path = file;
  return e;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Kills this process at once, as a power failure or `kill -9` would. */
function crashNow(): never {
  process.kill(process.pid, "SIGKILL");
  // SIGKILL is not delivered synchronously on every platform: wait for it.
  for (;;) Atomics.wait(sleeper, 0, 0, 1000);
}

/** Applies the faults common to every call; returns the fault a write still has to apply. */
function before(point: InjectionPointName, file: string, syscall: string): Fault | undefined {
  const f = faultAt(point, file, syscall === "write");
  if (f === undefined) return undefined;
  switch (f.type) {
    case "eio":
      throw errnoError("EIO", syscall, file);
    case "enospc":
      throw errnoError("ENOSPC", syscall, file);
    case "delay":
      Atomics.wait(sleeper, 0, 0, f.ms);
      return undefined;
    case "crash":
      return crashNow();
    default:
      return f;
  }
}

/** fs.writeSync at a position, through the injection point. */
export function ioWrite(
  point: InjectionPointName,
  file: string,
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number | null,
): number {
  const f = before(point, file, "write");
  if (f !== undefined && (f.type === "short-write" || f.type === "torn-write")) {
    const n = Math.min(f.bytes, length);
    if (n > 0) fs.writeSync(fd, buf, offset, n, position);
    if (f.type === "short-write") return n;
    if (f.crash !== false) crashNow();
    return length;
  }
  return fs.writeSync(fd, buf, offset, length, position);
}

/** fs.readSync at a position, through the injection point. */
export function ioRead(
  point: InjectionPointName,
  file: string,
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): number {
  before(point, file, "read");
  return fs.readSync(fd, buf, offset, length, position);
}

/** fsync (or fdatasync) through the injection point. */
export function ioFsync(point: InjectionPointName, file: string, fd: number, data = false): void {
  before(point, file, "fsync");
  if (data) fs.fdatasyncSync(fd);
  else fs.fsyncSync(fd);
}

/** ftruncate through the injection point. */
export function ioTruncate(point: InjectionPointName, file: string, fd: number, len: number): void {
  before(point, file, "ftruncate");
  fs.ftruncateSync(fd, len);
}
