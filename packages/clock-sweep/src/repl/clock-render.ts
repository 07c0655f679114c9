/**
 * Words and pictures for the clock-sweep REPL: one line per step of a victim search saying what
 * happened and why, and the pool drawn as a ring with the hand.
 *
 * Models: the decisions of src/backend/storage/buffer/freelist.c (StrategyGetBuffer,
 * ClockSweepTick, GetBufferFromRing) as VictimSearch.describeStep() reports them, in the
 * vocabulary of the buffer README.
 * Entry points: `describeVictimStep`, `drawPool`, `paint`, `EXPLAIN`, `RenderOptions`.
 * See also: clock-session.ts (the commands that print these), freelist.ts (VictimStep).
 */

import { BM_MAX_USAGE_COUNT } from "../buf-state.js";
import type { VictimStep } from "../freelist.js";
import type { SimpleBufferView } from "../simple-pool.js";

/** How to print. */
export interface RenderOptions {
  /** ANSI colours (only for a terminal, and only when NO_COLOR is unset). */
  color: boolean;
  /** Add a sentence of why after each event. */
  explain: boolean;
}

const STYLES = {
  bold: "1",
  dim: "2",
  red: "31",
  green: "32",
  yellow: "33",
  blue: "34",
  magenta: "35",
  cyan: "36",
} as const;

/** A colour or weight `paint` knows. */
export type Style = keyof typeof STYLES;

/** Wraps `text` in an ANSI style when colour is on; returns it unchanged otherwise. */
export function paint(color: boolean, style: Style, text: string): string {
  return color ? `\u001b[${STYLES[style]}m${text}\u001b[0m` : text;
}

/** The sentences `--explain` adds, by event. */
export const EXPLAIN = {
  ringEmpty:
    "A ring starts empty; each victim found elsewhere is remembered in its slot, so that the next lap recycles it (GetBufferFromRing).",
  ringInUse:
    "Another backend pinned or used the page since the ring last had it, so the ring leaves it alone and the search goes on as if it had no ring.",
  ringReuse:
    "A bulk operation recycles its own few buffers instead of pushing the rest of the pool out: that is what rings are for.",
  freeList:
    "Buffers that hold no page are handed out before the clock hand moves: StrategyGetBuffer tries the free list first.",
  freeListUnusable:
    "Someone pinned or used the buffer since it was freed; the free list is only a hint, so the search takes the next one.",
  decrement:
    "The page was used since the hand last passed, so it gets another chance: its usage count drops by one, and the decrement resets the try counter to NBuffers.",
  pinned:
    "A pinned buffer is in use and cannot be evicted, and its usage count is left alone; after NBuffers pinned buffers in a row the search gives up.",
  victim:
    "Nobody pins the buffer and nobody used it since the hand last passed (usage 0): the clock evicts it.",
  wrap: "ClockSweepTick's fetch-add passed NBuffers, so this backend wrapped the counter back to 0 under the spinlock and counted a complete pass.",
  hit: "A hit pins the buffer and raises its usage count by one, up to 5 (BM_MAX_USAGE_COUNT); with a ring strategy only from 0 to 1, so bulk reads never make pages look hot.",
  miss: "BufferAlloc needs a buffer: StrategyGetBuffer tries the ring (with a strategy), then the free list, then the clock.",
  dirtyVictim:
    "A dirty page must reach disk before its buffer can hold another page (FlushBuffer).",
  read: "A page read into a buffer starts with usage count 1 (BufferAlloc sets it when it retags the buffer).",
  released:
    "`.access` reads the page and releases its pin, as a query that is done with the page would; add `pin` to keep it.",
  bareVictim:
    "PostgreSQL 15's BufferAlloc gives a victim back unchanged like this when it finds that another backend read the same page meanwhile.",
  pin: "Each .pin acts as another backend's first pin: the shared refcount and the usage count both go up.",
  unpin: "Only unpinned buffers can be evicted; the usage count is not changed by unpinning.",
  dirty: "A dirty buffer can still be chosen as a victim, but its page must be written out first.",
  noUnpinned:
    "Every buffer is pinned: the clock met NBuffers pinned buffers in a row with nothing to decrement or take.",
  invalidate:
    "InvalidateBuffer forgets the page (as when a relation is dropped) and StrategyFreeBuffer puts the buffer at the head of the free list.",
} as const;

/** A sentence of why, indented under its event, when explaining. */
export function why(options: RenderOptions, sentence: string): string[] {
  return options.explain ? [paint(options.color, "dim", `    why: ${sentence}`)] : [];
}

/** What `describeVictimStep` needs besides the step. */
export interface StepContext {
  /** The clock tick's number within this search (1 for the first tick). */
  tickNumber: number;
  /** The ring slot the step looked at (ring steps only). */
  ringSlot: number;
  /** Complete passes before this step. */
  passesBefore: number;
}

/**
 * The lines that narrate one step: "tick 2: buffer 3: pinned, skipped", "tick 1: buffer 5:
 * usage 2 → 1", and, when explaining, a sentence of why under each.
 */
export function describeVictimStep(
  step: VictimStep,
  ctx: StepContext,
  options: RenderOptions,
): string[] {
  const c = options.color;
  const b = `buffer ${step.bufferId}`;
  const lines: string[] = [];
  switch (step.kind) {
    case "ring-empty":
      lines.push(`ring slot ${ctx.ringSlot}: empty, so on to the free list and the clock`);
      lines.push(...why(options, EXPLAIN.ringEmpty));
      break;
    case "ring-in-use": {
      const reason = step.pinned ? "pinned" : `usage ${step.usageBefore} > 1`;
      lines.push(
        `ring slot ${ctx.ringSlot}: ${b} is in use (${reason}), not reused; on to the free list and the clock`,
      );
      lines.push(...why(options, EXPLAIN.ringInUse));
      break;
    }
    case "ring-reuse":
      lines.push(
        `ring slot ${ctx.ringSlot}: ${b}: usage ${step.usageBefore}, unpinned → ${paint(c, "green", "victim")} (reused)`,
      );
      lines.push(...why(options, EXPLAIN.ringReuse));
      break;
    case "free-list":
      lines.push(`free list: ${b} holds no page → ${paint(c, "green", "victim")}`);
      lines.push(...why(options, EXPLAIN.freeList));
      break;
    case "free-list-unusable":
      lines.push(`free list: ${b} is in use, skipped`);
      lines.push(...why(options, EXPLAIN.freeListUnusable));
      break;
    case "tick": {
      const head = `tick ${ctx.tickNumber}: ${b}: `;
      if (step.pinned) {
        lines.push(
          head +
            paint(c, "red", "pinned, skipped") +
            ` (${step.refcount} ${step.refcount === 1 ? "pin" : "pins"}; try counter ${step.trycounter})`,
        );
        lines.push(...why(options, EXPLAIN.pinned));
      } else if (step.chosen) {
        lines.push(`${head}usage 0, unpinned → ${paint(c, "green", "victim")}`);
        lines.push(...why(options, EXPLAIN.victim));
      } else {
        lines.push(head + paint(c, "yellow", `usage ${step.usageBefore} → ${step.usageAfter}`));
        lines.push(...why(options, EXPLAIN.decrement));
      }
      if (step.completePasses !== ctx.passesBefore) {
        lines.push(
          `  the hand wrapped to buffer 0: complete passes ${ctx.passesBefore} → ${step.completePasses}`,
        );
        lines.push(...why(options, EXPLAIN.wrap));
      }
      break;
    }
  }
  return lines;
}

/** Everything `drawPool` shows. */
export interface PoolPicture {
  buffers: SimpleBufferView[];
  hand: number;
  completePasses: number;
  freeList: number[];
  strategy: string;
  /** The ring's slots (buffer ids, -1 for empty) and its current slot, when there is a ring. */
  ring: { slots: number[]; current: number } | undefined;
  /** A line about a victim search in progress, if any. */
  pending: string | undefined;
}

function usageGauge(usage: number, color: boolean): string {
  const full = "■".repeat(usage);
  const empty = "□".repeat(Math.max(0, BM_MAX_USAGE_COUNT - usage));
  return paint(color, "green", full) + paint(color, "dim", empty);
}

/**
 * The pool as a ring: one row per buffer in the order the hand visits them, a line looping from
 * the last back to the first, and the hand pointing at the buffer its next tick looks at.
 *
 * ```
 * pool: 4 buffers, hand at 1, complete passes 1, free list: empty, strategy: normal
 *  ┌▶ 0  rel 2 blk 0  usage 1 ■□□□□  pins 0
 *  │  1  rel 1 blk 1  usage 0 □□□□□  pins 0         ◀ hand
 *  │  2  rel 1 blk 2  usage 0 □□□□□  pins 0  dirty
 *  └─ 3  rel 1 blk 3  usage 0 □□□□□  pins 0
 * ```
 */
export function drawPool(p: PoolPicture, options: RenderOptions): string {
  const c = options.color;
  const n = p.buffers.length;
  const free = p.freeList.length === 0 ? "empty" : p.freeList.join(" → ");
  let strategy = p.strategy;
  if (p.ring) {
    const slots = p.ring.slots.map((id, i) => {
      const s = id < 0 ? "·" : `${id}`;
      return i === p.ring!.current ? `[${s}]` : s;
    });
    strategy += ` (ring of ${p.ring.slots.length}: ${slots.join(" ")}; [current slot])`;
  } else if (p.strategy !== "normal") {
    strategy += " (no ring: the pool is smaller than 8 buffers)";
  }
  const lines = [
    `pool: ${n} buffers, hand at ${paint(c, "bold", `${p.hand}`)}, complete passes ${p.completePasses}, free list: ${free}, strategy: ${strategy}`,
  ];
  if (p.pending) lines.push(paint(c, "cyan", p.pending));
  const idWidth = `${n - 1}`.length;
  const tagWidth = Math.max(7, ...p.buffers.map((b) => (b.tag ?? "").length));
  const ringMembers = new Set(p.ring?.slots.filter((id) => id >= 0));
  p.buffers.forEach((b, i) => {
    let loop = "│  ";
    if (n === 1) loop = "⟲  ";
    else if (i === 0) loop = "┌▶ ";
    else if (i === n - 1) loop = "└─ ";
    const tag =
      b.tag === undefined ? paint(c, "dim", "(empty)".padEnd(tagWidth)) : b.tag.padEnd(tagWidth);
    const pins = `pins ${b.refcount}`;
    const marks: string[] = [];
    if (b.dirty) marks.push(paint(c, "magenta", "dirty"));
    else marks.push("     ");
    if (p.freeList.includes(b.bufferId)) marks.push(paint(c, "blue", "free"));
    if (ringMembers.has(b.bufferId)) marks.push(paint(c, "cyan", "ring"));
    if (b.bufferId === p.hand) marks.push(paint(c, "yellow", paint(c, "bold", "◀ hand")));
    const row =
      ` ${loop}${`${b.bufferId}`.padStart(idWidth)}  ${tag}  usage ${b.usageCount} ` +
      `${usageGauge(b.usageCount, c)}  ${b.refcount > 0 ? paint(c, "red", pins) : pins}  ${marks.join("  ")}`;
    lines.push(row.trimEnd());
  });
  return `${lines.join("\n")}\n`;
}
