/**
 * Progress reporting for long benchmark steps: cli-progress bars on stderr, or plain lines.
 *
 * Models: nothing in PostgreSQL (the command line's feedback only).
 * Entry points: `createProgress`, `Progress`, `ProgressBar`.
 * See also: cli.ts (chooses the stream), dml.ts and micro.ts (report through it).
 *
 * Rules:
 * 1. Progress never goes to stdout: stdout carries the result (one JSON object with --json).
 * 2. Bars are drawn when a stream is given and either it is a terminal, or --json is off. In a
 *    log (not a terminal) cli-progress runs with `noTTYOutput`, printing the bar as a line every
 *    few seconds instead of redrawing it.
 * 3. Without bars, each step writes one line when it starts and one when it ends.
 */

import cliProgress from "cli-progress";

/** One step's bar. */
export interface ProgressBar {
  /** Sets the work done so far (same unit as the total). */
  update(done: number): void;
  /** Ends the bar with a closing note (e.g. "1.23 s"). */
  stop(note?: string): void;
}

/** Where a command reports progress. */
export interface Progress {
  /** A free-form line (a heading, a note). */
  log(line: string): void;
  /** Starts a bar for a step of `total` units (rows, say). */
  bar(label: string, total: number, unit: string): ProgressBar;
}

/** Options of `createProgress`. */
export interface ProgressOptions {
  /** Writes a line of text (stderr). */
  log: (text: string) => void;
  /** The stream bars are drawn on (stderr); without one, plain lines only. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** --json: draw bars only on a terminal. */
  json?: boolean;
}

/** Milliseconds between bar lines when the stream is not a terminal. */
const NO_TTY_SCHEDULE_MS = 5000;

/**
 * A progress reporter following the rules in this file's header.
 *
 * @example
 * ```ts
 * const progress = createProgress({ log: (t) => process.stderr.write(t), stream: process.stderr });
 * const bar = progress.bar("pgsim-heap insert", 1_000_000, "rows");
 * bar.update(500_000);
 * bar.stop("0.42 s");
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const { log, stream } = options;
  const bars = stream !== undefined && (stream.isTTY === true || options.json !== true);
  return {
    log: (line) => log(`${line}\n`),
    bar(label, total, unit) {
      if (!bars || stream === undefined) {
        log(`${label} ...\n`);
        return {
          update: () => {},
          stop: (note) => log(`${label} done${note ? `: ${note}` : ""}\n`),
        };
      }
      const bar = new cliProgress.SingleBar(
        {
          stream,
          noTTYOutput: true,
          notTTYSchedule: NO_TTY_SCHEDULE_MS,
          format: `${label.padEnd(24)} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}{note}`,
          barsize: 30,
          hideCursor: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(1, total), 0, { note: "" });
      return {
        update: (done) => bar.update(Math.min(done, Math.max(1, total))),
        stop(note) {
          bar.update(Math.max(1, total), { note: note ? ` | ${note}` : "" });
          bar.stop();
        },
      };
    },
  };
}
