/**
 * The clock-sweep REPL's commands: a teaching session over a SimplePool, where every read, pin and
 * tick of the hand is PostgreSQL's own replacement code, narrated step by step.
 *
 * Models: a single backend issuing ReadBuffer / ReleaseBuffer / MarkBufferDirty against
 * src/backend/storage/buffer (bufmgr.c's BufferAlloc, freelist.c's StrategyGetBuffer one
 * ClockSweepTick at a time), with other backends' pins simulated by `.pin`.
 * Entry points: `ClockSession` (`execute`, `runScript`), `COMMANDS`, `REPL_MAX_BUFFERS`.
 * See also: clock-render.ts (what the commands print), clock-repl.ts (node:repl around a session),
 * cli.ts (`pgsim-clock`, `--script`), simple-pool.ts (the pool), freelist.ts (VictimSearch).
 *
 * Differs from PostgreSQL: one backend issues everything, and `.pin` stands for another backend's
 * first pin. A session is a list of commands: `.undo` rebuilds the pool by replaying every
 * recorded command but the last, and `.save` writes that list as a script.
 */

import * as fs from "node:fs";
import { type BufferAccessStrategy, getAccessStrategy } from "../access-strategy.js";
import { BM_MAX_USAGE_COUNT } from "../buf-state.js";
import { AssertionError, assert, PgsimError } from "../errors.js";
import type { VictimSearch } from "../freelist.js";
import { SimplePool } from "../simple-pool.js";
import {
  describeVictimStep,
  drawPool,
  EXPLAIN,
  paint,
  type RenderOptions,
  why,
} from "./clock-render.js";

/** The largest pool the REPL draws (the lab's policies take far larger ones). */
export const REPL_MAX_BUFFERS = 1024;

const STRATEGY_TYPES = ["normal", "bulkread", "bulkwrite", "vacuum"] as const;
type StrategyTypeName = (typeof STRATEGY_TYPES)[number];
const MAX_BLOCK = 0xfffffffe;
const MAX_REL = 0xffffffff;
const MAX_LOAD_DEPTH = 8;
const MAX_TICK_COUNT = 1_000_000;

/**
 * A numeric argument of a command: how the usage line names it, and the words for a range error
 * ("buffer 9 is out of range: valid buffers are 0..7").
 */
interface NumberArg {
  /** As in the usage line: "buffer id BUF". */
  what: string;
  /** One of them, before the value: "buffer". */
  noun: string;
  /** Several: "buffers". */
  nouns: string;
}

const ARG_REL: NumberArg = {
  what: "relation number REL",
  noun: "relation number",
  nouns: "relation numbers",
};
const ARG_BLK: NumberArg = {
  what: "block number BLK",
  noun: "block number",
  nouns: "block numbers",
};
const ARG_BUF: NumberArg = { what: "buffer id BUF", noun: "buffer", nouns: "buffers" };
const ARG_COUNT: NumberArg = { what: "COUNT", noun: "COUNT", nouns: "counts" };
const ARG_USAGE: NumberArg = { what: "usage count N", noun: "usage count", nouns: "usage counts" };
const ARG_FILL_USAGE: NumberArg = { ...ARG_USAGE, what: "usage count" };
const ARG_NBUFFERS: NumberArg = {
  what: "buffer count N",
  noun: "buffer count",
  nouns: "buffer counts",
};

/** A bad command line: answered with a usage line, never a stack trace. */
class UsageError extends Error {
  readonly usage: string;
  constructor(usage: string, reason?: string) {
    super(reason ?? usage);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** A script run by `.load` stopped at a bad command (already reported). */
class ScriptStopped extends Error {}

/** How a command ended. */
export type CommandOutcome = "ok" | "error" | "usage";

/** One REPL command. */
export interface CommandSpec {
  name: string;
  /** The arguments, as the usage line shows them. */
  args: string;
  /** One line for `.help`. */
  summary: string;
  /** Whether the command changes the pool, so `.undo` and `.save` replay it. */
  recorded: boolean;
}

/** Every command, in the order `.help` lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "access",
    args: "REL BLK [pin] [step]",
    summary:
      "read block BLK of relation REL: a hit, or a miss and a victim search; the pin is released unless `pin`; `step` leaves the search to .tick",
    recorded: true,
  },
  {
    name: "tick",
    args: "[COUNT]",
    summary:
      "one step of the pending victim search (COUNT steps at most); with none pending, start a bare StrategyGetBuffer and take its first step",
    recorded: true,
  },
  {
    name: "alloc",
    args: "",
    summary:
      "finish the pending victim search, or run a whole bare StrategyGetBuffer, tick by tick (the victim keeps its page)",
    recorded: true,
  },
  {
    name: "pin",
    args: "BUF | REL BLK",
    summary: "pin a buffer as another backend would (refcount + 1, usage + 1)",
    recorded: true,
  },
  { name: "unpin", args: "BUF | REL BLK", summary: "drop one pin", recorded: true },
  {
    name: "dirty",
    args: "BUF | REL BLK",
    summary: "mark a pinned buffer dirty (its page is written before reuse)",
    recorded: true,
  },
  {
    name: "usage",
    args: "BUF N",
    summary: `set a buffer's usage count to N (0 to ${BM_MAX_USAGE_COUNT}), to set up an exercise`,
    recorded: true,
  },
  {
    name: "fill",
    args: "[USAGE]",
    summary:
      "read pages of relation 1 into every buffer on the free list and release them (usage 1, or USAGE)",
    recorded: true,
  },
  {
    name: "invalidate",
    args: "BUF | REL BLK",
    summary: "forget an unpinned buffer's page and put the buffer on the free list",
    recorded: true,
  },
  {
    name: "strategy",
    args: "[TYPE]",
    summary:
      "read through a ring of TYPE (normal, bulkread, bulkwrite or vacuum) from now on; a ring has NBuffers / 8 buffers, at most 32",
    recorded: true,
  },
  { name: "show", args: "", summary: "draw the pool as a ring, with the hand", recorded: false },
  {
    name: "stats",
    args: "",
    summary: "hits, misses, evictions, dirty writes, the hand and complete passes",
    recorded: false,
  },
  {
    name: "undo",
    args: "",
    summary: "take back the last command that changed the pool",
    recorded: false,
  },
  {
    name: "reset",
    args: "[N]",
    summary: "start over with a fresh pool (of N buffers)",
    recorded: true,
  },
  {
    name: "save",
    args: "FILE",
    summary: "write the session as a replayable script",
    recorded: false,
  },
  {
    name: "load",
    args: "FILE",
    summary: "run a script of commands (as `pgsim-clock --script FILE` does)",
    recorded: false,
  },
  {
    name: "explain",
    args: "[on|off]",
    summary: "add a sentence of why to each event",
    recorded: false,
  },
  {
    name: "help",
    args: "[COMMAND]",
    summary: "list the commands, or explain one",
    recorded: false,
  },
];

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));

function usageOf(name: string): string {
  const c = BY_NAME.get(name)!;
  return `.${c.name}${c.args ? ` ${c.args}` : ""}`;
}

/** A victim search that `.tick` is stepping. */
interface PendingSearch {
  search: VictimSearch;
  /** The page being read (undefined for a bare `.tick` / `.alloc`). */
  tag: string | undefined;
  keepPin: boolean;
  /** Clock ticks so far (ring and free-list steps are not ticks). */
  ticks: number;
  steps: number;
}

/** Options of a session. */
export interface ClockSessionOptions {
  /** Buffers in the pool (1 to REPL_MAX_BUFFERS). */
  bufferCount: number;
  /** Where the session prints. */
  write: (text: string) => void;
  explain?: boolean;
  color?: boolean;
  /** The prompt echoed before each command of a script (default "clock> "). */
  echoPrompt?: string;
}

/**
 * A teaching session: commands in, narration out.
 *
 * @example
 * ```ts
 * const session = new ClockSession({ bufferCount: 4, write: (s) => process.stdout.write(s) });
 * session.execute(".fill");
 * session.execute(".alloc"); // four decrements, buffer 0 chosen, the hand left at 1
 * ```
 */
export class ClockSession {
  /** The pool every command acts on (replaced by `.reset` and `.undo`). */
  pool: SimplePool;
  private readonly initialBufferCount: number;
  private readonly out: (text: string) => void;
  private readonly echoPrompt: string;
  private readonly render: RenderOptions;
  private strategyType: StrategyTypeName = "normal";
  private ring: BufferAccessStrategy | undefined;
  private pending: PendingSearch | undefined;
  private readonly history: string[] = [];
  private silent = false;
  private loadDepth = 0;

  constructor(options: ClockSessionOptions) {
    checkReplBufferCount(options.bufferCount);
    this.initialBufferCount = options.bufferCount;
    this.pool = new SimplePool({ bufferCount: options.bufferCount });
    this.out = options.write;
    this.echoPrompt = options.echoPrompt ?? "clock> ";
    this.render = { explain: options.explain ?? false, color: options.color ?? false };
  }

  /** The recorded commands, in order (what `.save` writes after its `.reset` line). */
  get recorded(): readonly string[] {
    return this.history;
  }

  private print(...lines: string[]): void {
    if (!this.silent && lines.length > 0) this.out(`${lines.join("\n")}\n`);
  }

  /**
   * Runs one command line (".access 1 7"). Prints what happened; never throws for bad input: a bad
   * command gets a usage line ("usage"), a refused operation an error line ("error").
   */
  execute(line: string): CommandOutcome {
    const text = line.trim();
    const words = text.split(/\s+/).filter((w) => w !== "");
    const head = words[0] ?? "";
    if (!head.startsWith(".") || head.length < 2) {
      this.print(
        `not a command: ${text || "(empty line)"}`,
        "usage: .COMMAND [ARGS] (.help lists the commands)",
      );
      return "usage";
    }
    const name = head.slice(1);
    const spec = BY_NAME.get(name);
    if (spec === undefined) {
      this.print(`unknown command .${name}`, "usage: .COMMAND [ARGS] (.help lists the commands)");
      return "usage";
    }
    const args = words.slice(1);
    const normalized = [head, ...args].join(" ");
    try {
      this.run(name, args);
      if (spec.recorded && !this.silent) this.history.push(normalized);
      return "ok";
    } catch (e) {
      if (e instanceof ScriptStopped) return "usage";
      if (e instanceof UsageError) {
        if (e.message !== e.usage) this.print(e.message);
        this.print(`usage: ${e.usage}`);
        return "usage";
      }
      if (e instanceof PgsimError) {
        // Running out of unpinned buffers happens after ticks that moved the hand: the command
        // changed the pool, so it is recorded, and a replay fails the same way.
        if (e.code === "no-unpinned-buffers" && spec.recorded && !this.silent) {
          this.history.push(normalized);
        }
        this.print(paint(this.render.color, "red", `ERROR:  ${e.message}`));
        if (e.code === "no-unpinned-buffers") this.print(...why(this.render, EXPLAIN.noUnpinned));
        return "error";
      }
      if (e instanceof AssertionError) throw e;
      if (e instanceof Error && "code" in e && typeof e.code === "string" && "syscall" in e) {
        // A file that cannot be read or written (.load, .save): the system's message suffices.
        this.print(`ERROR:  ${e.message}`);
        return "error";
      }
      throw e;
    }
  }

  /**
   * Runs a script: one command per line, blank lines and `#` comments skipped, each command
   * echoed after the prompt. Stops at the first bad command and returns its line number (1-based);
   * returns undefined when the whole script ran. Refused operations (such as "no unpinned buffers
   * available") are part of a lesson and do not stop it.
   */
  runScript(text: string): number | undefined {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "" || line.startsWith("#")) continue;
      this.print(`${this.echoPrompt}${line}`);
      if (this.execute(line) === "usage") return i + 1;
    }
    return undefined;
  }

  private run(name: string, args: string[]): void {
    const handlers: Readonly<Record<string, (args: string[]) => void>> = {
      access: (a) => this.cmdAccess(a),
      tick: (a) => this.cmdTick(a),
      alloc: (a) => this.cmdAlloc(a),
      pin: (a) => this.cmdPin(a),
      unpin: (a) => this.cmdUnpin(a),
      dirty: (a) => this.cmdDirty(a),
      usage: (a) => this.cmdUsage(a),
      fill: (a) => this.cmdFill(a),
      invalidate: (a) => this.cmdInvalidate(a),
      strategy: (a) => this.cmdStrategy(a),
      show: (a) => this.cmdShow(a),
      stats: (a) => this.cmdStats(a),
      undo: (a) => this.cmdUndo(a),
      reset: (a) => this.cmdReset(a),
      save: (a) => this.cmdSave(a),
      load: (a) => this.cmdLoad(a),
      explain: (a) => this.cmdExplain(a),
      help: (a) => this.cmdHelp(a),
    };
    const handler = handlers[name];
    if (handler === undefined) throw new AssertionError(`command .${name} has no implementation`);
    handler(args);
  }

  // --- argument parsing -------------------------------------------------------------------

  private noArgs(name: string, args: string[]): void {
    if (args.length > 0) throw new UsageError(usageOf(name), `.${name} takes no arguments`);
  }

  /**
   * A decimal argument from `min` to `max`. A word that is not a number is "bad"; a number outside
   * the range is answered with the range ("buffer 9 is out of range: valid buffers are 0..7").
   */
  private integer(
    name: string,
    word: string | undefined,
    arg: NumberArg,
    min: number,
    max: number,
  ): number {
    if (word === undefined) throw new UsageError(usageOf(name), `.${name}: ${arg.what} is missing`);
    if (!/^\d+$/.test(word)) {
      throw new UsageError(usageOf(name), `.${name}: bad ${arg.what} "${word}"`);
    }
    const n = Number(word);
    if (n < min || n > max) {
      throw new UsageError(
        usageOf(name),
        `.${name}: ${arg.noun} ${word.replace(/^0+(?=\d)/, "")} is out of range: valid ${arg.nouns} are ${min}..${max}`,
      );
    }
    return n;
  }

  private tagOf(name: string, relWord: string | undefined, blkWord: string | undefined): string {
    const rel = this.integer(name, relWord, ARG_REL, 0, MAX_REL);
    const blk = this.integer(name, blkWord, ARG_BLK, 0, MAX_BLOCK);
    return `rel ${rel} blk ${blk}`;
  }

  /** BUF, or REL BLK of a page in the pool. */
  private bufferArg(name: string, args: string[]): number {
    if (args.length === 1) {
      return this.integer(name, args[0], ARG_BUF, 0, this.pool.bufferCount - 1);
    }
    if (args.length === 2) {
      const tag = this.tagOf(name, args[0], args[1]);
      const id = this.pool.lookup(tag);
      if (id === undefined) {
        throw new PgsimError("page-not-in-pool", `${tag} is not in the pool`, { tag });
      }
      return id;
    }
    throw new UsageError(usageOf(name));
  }

  private describeBuffer(id: number): string {
    const tag = this.pool.snapshot()[id]?.tag;
    return tag === undefined ? `buffer ${id}` : `buffer ${id} (${tag})`;
  }

  private refusePending(name: string): void {
    if (this.pending !== undefined) {
      const what = this.pending.tag ? `for ${this.pending.tag}` : "(a bare .alloc)";
      throw new PgsimError(
        "victim-search-pending",
        `.${name} must wait: a victim search ${what} is in progress; .tick steps it, .alloc finishes it`,
      );
    }
  }

  // --- victim searches --------------------------------------------------------------------

  private beginSearch(tag: string | undefined, keepPin: boolean): PendingSearch {
    this.pending = {
      search: this.pool.beginVictimSearch(this.ring),
      tag,
      keepPin,
      ticks: 0,
      steps: 0,
    };
    return this.pending;
  }

  /** One step of the pending search, narrated. Returns true when the search has ended. */
  private stepPending(): boolean {
    const p = this.pending!;
    const passesBefore = this.pool.strategy.completePasses;
    let chosen: boolean;
    try {
      chosen = p.search.step();
    } catch (e) {
      if (e instanceof PgsimError && e.code === "no-unpinned-buffers") {
        p.ticks++;
        this.narrate(p, passesBefore);
      }
      this.pending = undefined;
      throw e;
    }
    p.steps++;
    if (p.search.lastKind === "tick") p.ticks++;
    this.narrate(p, passesBefore);
    if (chosen) this.completeSearch(p);
    return chosen;
  }

  private narrate(p: PendingSearch, passesBefore: number): void {
    const step = p.search.describeStep();
    this.print(
      ...describeVictimStep(
        step,
        { tickNumber: p.ticks, ringSlot: this.ring?.current ?? 0, passesBefore },
        this.render,
      ),
    );
  }

  private completeSearch(p: PendingSearch): void {
    this.pending = undefined;
    const c = this.render.color;
    const id = p.search.bufferId;
    this.print(
      `victim: buffer ${id} (hand at ${this.pool.strategy.hand}, complete passes ${this.pool.strategy.completePasses})`,
    );
    if (p.tag === undefined) {
      const view = this.pool.snapshot()[id]!;
      this.pool.releaseVictim(p.search);
      const keeps = view.tag === undefined ? "stays empty" : `keeps ${view.tag}`;
      this.print(
        `StrategyGetBuffer returns buffer ${id}; .alloc stops there, so it ${keeps} with usage ${view.usageCount} (.access REL BLK would read a page into it)`,
        ...why(this.render, EXPLAIN.bareVictim),
      );
      return;
    }
    const r = this.pool.finishMiss(p.tag, p.search);
    if (r.wroteDirty) {
      this.print(
        paint(c, "magenta", `buffer ${id} was dirty: ${r.evictedTag} written out first`),
        ...why(this.render, EXPLAIN.dirtyVictim),
      );
    }
    const evicted = r.evictedTag === undefined ? "" : ` (evicted ${r.evictedTag})`;
    this.print(
      `read ${p.tag} into buffer ${id}${evicted}: usage 1, pins 1`,
      ...why(this.render, EXPLAIN.read),
    );
    this.releaseUnlessKept(p.tag, id, p.keepPin);
  }

  private releaseUnlessKept(tag: string, id: number, keepPin: boolean): void {
    if (keepPin) return;
    this.pool.unpin(id);
    const pins = this.pool.snapshot()[id]!.refcount;
    this.print(`released ${tag}: pins ${pins}`, ...why(this.render, EXPLAIN.released));
  }

  /** Steps the pending search until it ends (bounded: a runaway loop is a bug). */
  private finishPending(): void {
    const n = this.pool.bufferCount;
    const bound = (BM_MAX_USAGE_COUNT + 2) * n * n + 2 * n + 4;
    for (let steps = 0; steps < bound; steps++) if (this.stepPending()) return;
    throw new AssertionError("victim search did not converge");
  }

  // --- commands ---------------------------------------------------------------------------

  private cmdAccess(args: string[]): void {
    const flags = args.slice(2);
    for (const f of flags) {
      if (f !== "pin" && f !== "step") {
        throw new UsageError(usageOf("access"), `.access: unknown option "${f}"`);
      }
    }
    const tag = this.tagOf("access", args[0], args[1]);
    this.refusePending("access");
    const keepPin = flags.includes("pin");
    const found = this.pool.lookup(tag);
    if (found !== undefined) {
      const before = this.pool.snapshot()[found]!;
      this.pool.access(tag, { strategy: this.ring });
      const after = this.pool.snapshot()[found]!;
      this.print(
        `${paint(this.render.color, "green", "hit")}: ${tag} is in buffer ${found}: pins ${after.refcount}, usage ${before.usageCount} → ${after.usageCount}`,
        ...why(this.render, EXPLAIN.hit),
      );
      this.releaseUnlessKept(tag, found, keepPin);
      return;
    }
    this.print(
      `${paint(this.render.color, "yellow", "miss")}: ${tag} is not in the pool; looking for a victim (strategy ${this.strategyType})`,
      ...why(this.render, EXPLAIN.miss),
    );
    this.beginSearch(tag, keepPin);
    if (flags.includes("step")) {
      this.print("victim search started: .tick takes one step, .alloc finishes it");
      return;
    }
    this.finishPending();
  }

  private cmdTick(args: string[]): void {
    if (args.length > 1) throw new UsageError(usageOf("tick"));
    const count =
      args.length === 1 ? this.integer("tick", args[0], ARG_COUNT, 1, MAX_TICK_COUNT) : 1;
    if (this.pending === undefined) {
      this.print(
        `no victim search in progress: starting a bare StrategyGetBuffer (strategy ${this.strategyType})`,
      );
      this.beginSearch(undefined, false);
    }
    for (let i = 0; i < count; i++) if (this.stepPending()) break;
  }

  private cmdAlloc(args: string[]): void {
    this.noArgs("alloc", args);
    if (this.pending === undefined) {
      this.print(`StrategyGetBuffer (strategy ${this.strategyType}):`);
      this.beginSearch(undefined, false);
    }
    this.finishPending();
  }

  private cmdPin(args: string[]): void {
    const id = this.bufferArg("pin", args);
    const before = this.pool.snapshot()[id]!;
    this.pool.pin(id);
    const after = this.pool.snapshot()[id]!;
    this.print(
      `pinned ${this.describeBuffer(id)}: pins ${after.refcount}, usage ${before.usageCount} → ${after.usageCount}`,
      ...why(this.render, EXPLAIN.pin),
    );
  }

  private cmdUnpin(args: string[]): void {
    const id = this.bufferArg("unpin", args);
    this.pool.unpin(id);
    const after = this.pool.snapshot()[id]!;
    this.print(
      `unpinned ${this.describeBuffer(id)}: pins ${after.refcount}`,
      ...why(this.render, EXPLAIN.unpin),
    );
  }

  private cmdDirty(args: string[]): void {
    const id = this.bufferArg("dirty", args);
    this.pool.markDirty(id);
    this.print(`${this.describeBuffer(id)} is dirty`, ...why(this.render, EXPLAIN.dirty));
  }

  private cmdUsage(args: string[]): void {
    if (args.length !== 2) throw new UsageError(usageOf("usage"));
    const id = this.integer("usage", args[0], ARG_BUF, 0, this.pool.bufferCount - 1);
    const n = this.integer("usage", args[1], ARG_USAGE, 0, BM_MAX_USAGE_COUNT);
    const before = this.pool.snapshot()[id]!.usageCount;
    this.pool.setUsageCount(id, n);
    this.print(`${this.describeBuffer(id)}: usage ${before} → ${n}`);
  }

  private cmdFill(args: string[]): void {
    if (args.length > 1) throw new UsageError(usageOf("fill"));
    const usage =
      args.length === 1
        ? this.integer("fill", args[0], ARG_FILL_USAGE, 0, BM_MAX_USAGE_COUNT)
        : undefined;
    this.refusePending("fill");
    const free = this.pool.strategy.freeList();
    if (free.length === 0) {
      this.print("nothing to fill: the free list is empty");
      return;
    }
    const filled: string[] = [];
    let blk = 0;
    for (const id of free) {
      while (this.pool.lookup(`rel 1 blk ${blk}`) !== undefined) blk++;
      const tag = `rel 1 blk ${blk}`;
      const r = this.pool.access(tag);
      assert(r.bufferId === id, "fill: the free list handed out an unexpected buffer");
      this.pool.unpin(id);
      if (usage !== undefined) this.pool.setUsageCount(id, usage);
      filled.push(`${id} ← ${tag}`);
    }
    this.print(
      `filled ${filled.length} ${filled.length === 1 ? "buffer" : "buffers"} from the free list, unpinned, usage ${usage ?? 1}: ${filled.join(", ")}`,
    );
  }

  private cmdInvalidate(args: string[]): void {
    const id = this.bufferArg("invalidate", args);
    const what = this.describeBuffer(id);
    this.pool.invalidate(id);
    this.print(
      `${what} invalidated and put on the free list`,
      ...why(this.render, EXPLAIN.invalidate),
    );
  }

  private cmdStrategy(args: string[]): void {
    if (args.length > 1) throw new UsageError(usageOf("strategy"));
    if (args.length === 0) {
      this.print(`strategy: ${this.strategyText()}`);
      return;
    }
    const type = args[0]!;
    if (!(STRATEGY_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(usageOf("strategy"), `.strategy: unknown strategy "${type}"`);
    }
    this.refusePending("strategy");
    this.strategyType = type as StrategyTypeName;
    this.ring = getAccessStrategy(this.strategyType, this.pool.bufferCount);
    this.print(`strategy: ${this.strategyText()}`);
  }

  private strategyText(): string {
    if (this.strategyType === "normal") return "normal (the default path: no ring)";
    if (this.ring === undefined) {
      return `${this.strategyType}, but a pool of ${this.pool.bufferCount} buffers is too small for a ring (NBuffers / 8 = 0), so reads take the default path`;
    }
    const slots = Array.from(this.ring.buffers, (id) => (id < 0 ? "·" : `${id}`)).join(" ");
    return `${this.strategyType}, a ring of ${this.ring.ringSize} (slots: ${slots}); hits raise a usage count only from 0 to 1`;
  }

  private cmdShow(args: string[]): void {
    this.noArgs("show", args);
    this.print(this.picture().trimEnd());
  }

  private cmdStats(args: string[]): void {
    this.noArgs("stats", args);
    const s = this.pool.stats;
    const reads = s.hits + s.misses;
    const ratio = reads === 0 ? "-" : `${((100 * s.hits) / reads).toFixed(1)}%`;
    this.print(
      `hits ${s.hits}, misses ${s.misses} (hit ratio ${ratio}), evictions ${s.evictions}, dirty writes ${s.writes}`,
      `clock: hand at ${this.pool.strategy.hand}, complete passes ${this.pool.strategy.completePasses}`,
    );
  }

  /** Fresh state: pool, strategy, no search. */
  private resetTo(bufferCount: number): void {
    this.pool = new SimplePool({ bufferCount });
    this.strategyType = "normal";
    this.ring = undefined;
    this.pending = undefined;
  }

  private cmdReset(args: string[]): void {
    if (args.length > 1) throw new UsageError(usageOf("reset"));
    const n =
      args.length === 1
        ? this.integer("reset", args[0], ARG_NBUFFERS, 1, REPL_MAX_BUFFERS)
        : this.pool.bufferCount;
    this.resetTo(n);
    this.print(`a fresh pool of ${n} buffers: all on the free list, hand at 0`);
  }

  private cmdUndo(args: string[]): void {
    this.noArgs("undo", args);
    const last = this.history.pop();
    if (last === undefined) {
      this.print("nothing to undo");
      return;
    }
    // Replay everything but the last command into a fresh pool, quietly. Commands that failed the
    // first time (no unpinned buffers) fail the same way again: the replay is deterministic.
    this.resetTo(this.initialBufferCount);
    this.silent = true;
    try {
      for (const line of this.history) this.execute(line);
    } finally {
      this.silent = false;
    }
    this.print(
      `undid ${last}; hand at ${this.pool.strategy.hand}, complete passes ${this.pool.strategy.completePasses}`,
    );
  }

  private cmdSave(args: string[]): void {
    if (args.length !== 1) throw new UsageError(usageOf("save"));
    const file = args[0]!;
    const text = [
      "# pgsim-clock session: replay with `pgsim-clock --script FILE`, or `.load FILE` in the REPL",
      `.reset ${this.initialBufferCount}`,
      ...this.history,
    ].join("\n");
    fs.writeFileSync(file, `${text}\n`);
    this.print(`saved ${this.history.length} commands to ${file}`);
  }

  private cmdLoad(args: string[]): void {
    if (args.length !== 1) throw new UsageError(usageOf("load"));
    if (this.loadDepth >= MAX_LOAD_DEPTH) {
      throw new PgsimError("load-too-deep", `.load nested more than ${MAX_LOAD_DEPTH} deep`);
    }
    const file = args[0]!;
    const text = fs.readFileSync(file, "utf8");
    this.loadDepth++;
    try {
      const bad = this.runScript(text);
      if (bad !== undefined) {
        this.print(`${file}:${bad}: stopped at this bad command`);
        throw new ScriptStopped(file);
      }
    } finally {
      this.loadDepth--;
    }
  }

  private cmdExplain(args: string[]): void {
    if (args.length > 1 || (args.length === 1 && args[0] !== "on" && args[0] !== "off")) {
      throw new UsageError(usageOf("explain"));
    }
    if (args.length === 1) this.render.explain = args[0] === "on";
    this.print(`explanations ${this.render.explain ? "on" : "off"}`);
  }

  private cmdHelp(args: string[]): void {
    if (args.length > 1) throw new UsageError(usageOf("help"));
    if (args.length === 1) {
      const spec = BY_NAME.get(args[0]!.replace(/^\./, ""));
      if (spec === undefined) {
        throw new UsageError(usageOf("help"), `.help: unknown command "${args[0]}"`);
      }
      this.print(`usage: ${usageOf(spec.name)}`, `  ${spec.summary}`);
      return;
    }
    this.print(helpText());
  }

  /** The picture `.show` prints. */
  picture(): string {
    const strategy = this.pool.strategy;
    const p = this.pending;
    return drawPool(
      {
        buffers: this.pool.snapshot(),
        hand: strategy.hand,
        completePasses: strategy.completePasses,
        freeList: strategy.freeList(),
        strategy: this.strategyType,
        ring: this.ring
          ? { slots: Array.from(this.ring.buffers), current: this.ring.current }
          : undefined,
        pending: p
          ? `victim search in progress${p.tag ? ` for ${p.tag}` : ""}: ${p.ticks} ticks so far (.tick, .alloc)`
          : undefined,
      },
      this.render,
    );
  }
}

/** Checks a pool size for the REPL. */
export function checkReplBufferCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > REPL_MAX_BUFFERS) {
    throw new PgsimError(
      "invalid-buffer-count",
      `the REPL takes 1 to ${REPL_MAX_BUFFERS} buffers, got ${String(n)}`,
      { bufferCount: n },
    );
  }
}

/** Wraps `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The text of `.help`: each command's usage, and its summary wrapped beside it. */
export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => usageOf(c.name).length));
  const lines = ["commands (BUF is a buffer id; REL BLK name a page, e.g. .access 1 7):"];
  for (const c of COMMANDS) {
    const summary = wrap(c.summary, 96 - width);
    lines.push(`  ${usageOf(c.name).padEnd(width)}  ${summary[0]}`);
    for (const more of summary.slice(1)) lines.push(`  ${"".padEnd(width)}  ${more}`);
  }
  lines.push(
    "",
    "Plain JavaScript works too: `pool` is the SimplePool (pool.snapshot(), pool.strategy.hand, ...).",
    "Changes made from JavaScript are not part of the session: .undo and .save replay commands only.",
    "Also .exit (or Ctrl+D) to leave, .editor for multi-line JavaScript, .break to abandon input.",
  );
  return lines.join("\n");
}
