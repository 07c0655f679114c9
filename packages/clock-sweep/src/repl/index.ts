/**
 * `@pgsim/clock-sweep/repl` — the clock-sweep REPL for students: a session of dot-commands over a
 * SimplePool that narrates every step of StrategyGetBuffer, and node:repl around it. The
 * `pgsim-clock` bin (cli.ts) runs it, its scripts, and the lab's `compare`.
 *
 * Models: a single backend's ReadBuffer / ReleaseBuffer / MarkBufferDirty against freelist.c's
 * StrategyGetBuffer, one ClockSweepTick at a time (clock-session.ts).
 * Entry points: `ClockSession`, `COMMANDS`, `startClockRepl`, `checkReplBufferCount`,
 * `REPL_MAX_BUFFERS`, `helpText`, `wantsColor`.
 * See also: ../index.ts (the algorithm), ../lab/index.ts (the lab), cli.ts (`pgsim-clock`).
 *
 * @example
 * ```ts
 * import { ClockSession } from "@pgsim/clock-sweep/repl";
 * const session = new ClockSession({ bufferCount: 4, write: (s) => process.stdout.write(s) });
 * session.runScript(".fill\n.alloc\n");
 * ```
 */
export { type ClockReplOptions, startClockRepl, wantsColor } from "./clock-repl.js";
export {
  ClockSession,
  type ClockSessionOptions,
  COMMANDS,
  type CommandOutcome,
  type CommandSpec,
  checkReplBufferCount,
  helpText,
  REPL_MAX_BUFFERS,
} from "./clock-session.js";
