/**
 * Progress reporting for long benchmark steps: cli-progress bars on a terminal, one line per step
 * in a log.
 *
 * Models: nothing in PostgreSQL (the command line's feedback only).
 * Entry points: `createProgress`, `Progress`, `ProgressBar`.
 * See also: cli.ts (chooses the stream), dml.ts, backends.ts and micro.ts (report through it).
 *
 * Rules:
 * 1. Progress never goes to stdout: stdout carries the result (one JSON object with --json).
 * 2. Bars are drawn only when the stream is a terminal (with or without --json).
 * 3. Otherwise (a log, a pipe) each step is exactly one line: its label is written when the step
 *    starts ("pgsim-heap insert ... "), so a reader of the log sees what is running, and the
 *    closing note ("0.123 s") ends the same line when it finishes. A free-form line, or the next
 *    step, written while a step's line is still open first ends that line.
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
  /** Writes text (stderr). */
  log: (text: string) => void;
  /** The stream bars are drawn on (stderr) when it is a terminal; otherwise one line per step. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * A progress reporter following the rules in this file's header.
 *
 * @example
 * ```ts
 * const progress = createProgress({ log: (t) => process.stderr.write(t), stream: process.stderr });
 * const bar = progress.bar("pgsim-heap insert", 1_000_000, "rows");
 * bar.update(500_000);
 * bar.stop("0.42 s"); // in a log: "pgsim-heap insert ... 0.42 s"
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const { log, stream } = options;
  if (stream === undefined || stream.isTTY !== true) return lineProgress(log);
  return {
    log: (line) => log(`${line}\n`),
    bar(label, total, unit) {
      const bar = new cliProgress.SingleBar(
        {
          stream,
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

/** Rule 3: one line per step, opened when it starts and closed when it ends. */
function lineProgress(log: (text: string) => void): Progress {
  // The step whose line is open (its label written, its note not yet).
  let openStep: object | undefined;
  const closeOpenLine = (): void => {
    if (openStep !== undefined) log("\n");
    openStep = undefined;
  };
  return {
    log(line) {
      closeOpenLine();
      log(`${line}\n`);
    },
    bar(label) {
      closeOpenLine();
      const step = {};
      log(`${label} ... `);
      openStep = step;
      let stopped = false;
      return {
        update: () => {},
        stop(note) {
          if (stopped) return;
          stopped = true;
          const mine = openStep === step;
          // Another line was written meanwhile: repeat the label so that this one reads whole.
          if (!mine) closeOpenLine();
          log(`${mine ? "" : `${label} ... `}${note ?? "done"}\n`);
          openStep = undefined;
        },
      };
    },
  };
}
