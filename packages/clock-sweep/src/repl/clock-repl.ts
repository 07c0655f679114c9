/**
 * The clock-sweep REPL: node:repl with the session's dot-commands, and `pool` in scope for plain
 * JavaScript.
 *
 * Models: a psql-like front end to the teaching pool; the work is done by clock-session.ts over
 * SimplePool, i.e. PostgreSQL's freelist.c as ported in freelist.ts.
 * Entry points: `startClockRepl`, `ClockReplOptions`.
 * See also: clock-session.ts (the commands), cli.ts (`pgsim-clock`).
 */

import repl, { type REPLServer } from "node:repl";
import type { Readable, Writable } from "node:stream";
import { inspect } from "node:util";
import { PgsimError } from "../errors.js";
import { ClockSession, COMMANDS } from "./clock-session.js";

/** Options of `startClockRepl`. */
export interface ClockReplOptions {
  /** Buffers in the pool (default 8). */
  bufferCount?: number;
  /** Add a sentence of why to each event. */
  explain?: boolean;
  /** ANSI colours (default: only when `output` is a terminal and NO_COLOR is unset). */
  color?: boolean;
  /** Default process.stdin. */
  input?: Readable;
  /** Default process.stdout. */
  output?: Writable;
  /** Line editing and completion (default: when `output` is a terminal). */
  terminal?: boolean;
}

/** Whether to colour output written to `stream`: a terminal, and NO_COLOR unset or empty. */
export function wantsColor(stream: Writable): boolean {
  const noColor = process.env.NO_COLOR;
  return (
    (stream as { isTTY?: boolean }).isTTY === true && (noColor === undefined || noColor === "")
  );
}

/**
 * Starts the REPL. Dot-commands go to a ClockSession; other lines are JavaScript with `pool` (the
 * SimplePool) and `session` in scope. Resolves nothing: listen for the server's "exit" event.
 *
 * @example
 * ```ts
 * const { server } = startClockRepl({ bufferCount: 4 });
 * server.on("exit", () => process.exit(0));
 * ```
 */
export function startClockRepl(options: ClockReplOptions = {}): {
  server: REPLServer;
  session: ClockSession;
} {
  const output = options.output ?? process.stdout;
  const input = options.input ?? process.stdin;
  const color = options.color ?? wantsColor(output);
  const terminal = options.terminal ?? (output as { isTTY?: boolean }).isTTY === true;
  const session = new ClockSession({
    bufferCount: options.bufferCount ?? 8,
    explain: options.explain,
    color,
    write: (text) => output.write(text),
  });
  output.write(
    `pgsim-clock: PostgreSQL 15's clock sweep on a pool of ${session.pool.bufferCount} buffers.\n` +
      "Type .help for the commands, .show to see the pool; `pool` is in scope for JavaScript.\n",
  );
  const server = repl.start({
    prompt: "clock> ",
    input,
    output,
    terminal,
    useColors: color,
    ignoreUndefined: true,
    // A PgsimError thrown by JavaScript typed at the prompt (pool.unpin(7)) is shown as one line,
    // not as a stack trace; everything else prints as node's REPL prints it.
    writer: (value: unknown) =>
      value instanceof PgsimError
        ? `${value.name} [${value.code}]: ${value.message}`
        : inspect(value, { ...repl.writer.options, colors: color }),
  });
  const sync = () => {
    server.context.pool = session.pool;
    server.context.session = session;
  };
  sync();
  server.on("reset", sync);
  const run = (line: string) => {
    try {
      session.execute(line);
    } catch (e) {
      // Only a bug gets here (a broken invariant): report it in one line and keep the REPL.
      output.write(`pgsim-clock: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    sync();
    server.displayPrompt();
  };
  // Ours replace node's .help, .load and .save; node's .exit, .editor, .break and .clear stay.
  for (const c of COMMANDS) {
    server.defineCommand(c.name, {
      help: c.summary,
      action: (rest: string) => run(`.${c.name} ${rest}`),
    });
  }
  // node:repl answers a dot-word it does not know with "Invalid REPL keyword". A prototype for
  // its command table that answers every other name sends those words to the session instead,
  // which replies with a usage line. Own properties (the commands above and node's .exit,
  // .editor, .break, .clear) are found first, so they are untouched.
  Object.setPrototypeOf(
    server.commands,
    new Proxy(
      {},
      {
        get: (_target, key) =>
          typeof key === "string"
            ? { help: "", action: (rest: string) => run(`.${key} ${rest}`) }
            : undefined,
      },
    ),
  );
  return { server, session };
}
