/**
 * `pgsim-bench dml`: INSERT, UPDATE every row, DELETE every row, and VACUUM of a table of N rows,
 * on pgsim memory-only (`memheap`) and disk-backed (`heap`, logged with fsync at commit;
 * `heap-unlogged`, an unlogged table), side by side with PostgreSQL 15.
 *
 * Measures: for each system and statement, wall seconds, rows per second (N / seconds, for every
 * statement, VACUUM included), and the table's size after it; PostgreSQL's insert both by
 * `INSERT … SELECT` and by `COPY`; the ratios memheap / heap (memory vs logged disk, against the
 * in-memory table experiment's published gains), memheap / heap-unlogged, memheap /
 * pg15-unlogged, heap / pg15-default and heap-unlogged / pg15-unlogged (against pgsim's goals
 * where it has one), using PostgreSQL's faster insert; memheap's resident set against its pool. With `repeat` > 1 every figure is the median of the
 * runs, with their min and max, and every sample is kept. How each system is timed: dml-worker.ts
 * (pgsim, in-process `performance.now()` from BEGIN to COMMIT) and dml-postgres.ts (psql's
 * `\timing`).
 * Entry points: `runDml`, `DmlResult`, `DmlStepResult`, `DmlFigure`, `DmlRatio`,
 * `DML_COMPARISONS`.
 * See also: dml-common.ts (statements, systems, what each does and skips), dml-pgsim.ts,
 * dml-postgres.ts, dml-report.ts (table, markdown, charts), cli.ts, ../README.md, ../RESULTS.md.
 *
 * Order: the systems run one after another in DML_SYSTEMS order (memheap, pg15-unlogged,
 * heap-unlogged, heap, pg15-default), each running its statements as a unit (they depend on each
 * other), so each pgsim system is measured next to the PostgreSQL setup it is compared with. Repeated runs
 * go round the whole order again (run 1 of every system, then run 2, …), so that a slow spell
 * of the machine falls on every system rather than on one, and each ratio is taken within a
 * round, between two systems measured one right after the other.
 *
 * Models: pgsim only (the benchmark; the statements are PostgreSQL's, see dml-common.ts).
 */

import { BLCKSZ } from "@pgsim/buffer-manager";
import { PgsimError } from "@pgsim/clock-sweep";
import {
  checkStepsPrefix,
  DML_STEPS,
  DML_SYSTEM_TRAITS,
  DML_SYSTEMS,
  type DmlStep,
  type DmlSystem,
  INSERT_PATH_LABELS,
  type InsertPath,
  isPgsimSystem,
  type StepHooks,
  summarizeSamples,
} from "./dml-common.js";
import {
  checkDataDir,
  PGSIM_SETUPS,
  type PgsimShutdown,
  runPgsimSystem,
  sizeSetting,
} from "./dml-pgsim.js";
import { runPostgresSystem } from "./dml-postgres.js";
import { type MachineInfo, machineInfo } from "./machine.js";
import { installedPgBinDir } from "./pg-cluster.js";
import type { Progress } from "./progress.js";
import { runSpeedOfLight, SPEED_OF_LIGHT_SCOPE } from "./speed-of-light.js";
import type { SystemTrait } from "./traits.js";

/** How the peer is chosen: always, never, or when PostgreSQL 15 is installed. */
export type PeerChoice = "postgres" | "none" | "auto";

/** Options of runDml. */
export interface DmlOptions {
  /** Rows to insert (N). */
  rows: number;
  /** Default "none". "postgres" fails when PostgreSQL 15 is not installed; "auto" then skips it. */
  peer?: PeerChoice;
  /** Run only these systems (default DML_DEFAULT_SYSTEMS; the peer's only when included). */
  systems?: readonly DmlSystem[];
  /**
   * pgsim-heap's data directory, missing or empty: its first run keeps the database there after
   * a clean shutdown (later runs use temporary directories). Needs pgsim-heap among the systems.
   */
  dataDir?: string;
  /** Runs of every system (default 1); figures are their medians. At most DML_REPEAT_MAX. */
  repeat?: number;
  /**
   * The statements to run: a prefix of DML_STEPS (default all four), e.g. `["insert", "update"]`
   * to leave the rows in a kept data directory.
   */
  steps?: readonly DmlStep[];
  /** Rows per multi-insert batch for pgsim (default 1000). */
  batchRows?: number;
  /** accounts (aid) gets a primary key in every system: the statements keep its index. */
  primaryKey?: boolean;
  progress?: Progress;
}

/** The most runs `repeat` takes. */
export const DML_REPEAT_MAX = 100;

/** One statement's figures over the runs: the median, the range, and every sample. */
export interface DmlFigure {
  /** PostgreSQL's insert: the load path these figures are for. */
  path?: InsertPath;
  /** Median of the runs' seconds (the mean of the middle two for an even count). */
  seconds: number;
  /** N / seconds: the median run's rate. */
  rowsPerSec: number;
  /** The fastest run's seconds. */
  secondsMin: number;
  /** The slowest run's seconds. */
  secondsMax: number;
  /** N / secondsMax. */
  rowsPerSecMin: number;
  /** N / secondsMin. */
  rowsPerSecMax: number;
  /** Every run's seconds, in run order. */
  secondsSamples: number[];
  /** The table's main fork after the statement, in 8 KB blocks (the first run's). */
  tableBlocks: number;
}

/** One statement on one system, as `dml --json` reports it. */
export interface DmlStepResult extends DmlFigure {
  system: DmlSystem;
  step: DmlStep;
  /** PostgreSQL's insert: the same rows by COPY into a fresh table (these figures: INSERT … SELECT). */
  copy?: DmlFigure;
}

/** A ratio of rows per second between two systems, per statement. */
export interface DmlRatio {
  name: string;
  numerator: DmlSystem;
  denominator: DmlSystem;
  step: DmlStep;
  /** The median of the per-run ratios (each run's numerator over the same run's denominator). */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** Every run's ratio, in run order. */
  samples: number[];
  /** The load path compared on each side, when the system has two (the faster by median). */
  numeratorPath?: InsertPath;
  denominatorPath?: InsertPath;
  /** pgsim's own goal for the ratio, if it has one. */
  min?: number;
  met?: boolean;
  /** The in-memory table experiment's published ratio for this statement, if any. */
  published?: number;
}

/** What `pgsim-bench dml --json` prints. */
export interface DmlResult {
  command: "dml";
  rows: number;
  /** Whether accounts had a primary key on aid (`--primary-key`). */
  primaryKey: boolean;
  /** Runs of every system; each figure is the median of this many samples. */
  repeat: number;
  date: string;
  machine: MachineInfo;
  /** The systems that ran, in the order they ran (in each run). */
  order: DmlSystem[];
  /** The statements each system ran (all four unless `steps` said fewer). */
  steps: DmlStep[];
  peer: {
    requested: PeerChoice;
    included: boolean;
    /** Why the peer is missing, or its server version. */
    note: string;
  };
  systems: Partial<Record<DmlSystem, DmlSystemInfo>>;
  results: DmlStepResult[];
  ratios: DmlRatio[];
  /** With `dataDir`: the data directory pgsim-heap left, and its shutdown checkpoint. */
  dataDir?: PgsimShutdown;
  /** memheap's resident set after its first run against its pool (when memheap ran). */
  memory?: {
    rssBytes: number;
    poolBytes: number;
    rssVsPool: number;
    max: number;
    met: boolean;
  };
  /**
   * The speed of light of each statement (speed-of-light.ts: only its unavoidable byte work on
   * the same pages, ns per row) and every pgsim system's per-row cost as a multiple of it.
   */
  speedOfLight?: {
    nsPerRow: Record<DmlStep, number>;
    multiples: { system: DmlSystem; step: DmlStep; nsPerRow: number; multiple: number }[];
    scope: string;
  };
  /** Wall time of the whole command, seconds. */
  wallSeconds: number;
}

/** How a system was set up, and what it does and skips. */
export interface DmlSystemInfo {
  description: string;
  /** WAL, fsync at commit, SQL executor, checksums, files, insert path: see DML_SYSTEM_TRAITS. */
  traits: readonly SystemTrait[];
  /** pgsim: buffers in the pool. */
  bufferCount?: number;
  poolBytes?: number;
  /** PostgreSQL: the server settings given; pgsim: its settings under PostgreSQL's names. */
  settings?: Readonly<Record<string, string>>;
  serverVersion?: string;
  /** pgsim: process.memoryUsage().rss after its first run. */
  rssBytes?: number;
}

/**
 * The in-memory table experiment's published gains of a memory-only heap over a WAL-logged
 * disk-backed one (PostgreSQL with WAL): +50 % insert, +70 % update, +60 % delete, +30 % vacuum,
 * as ratios of rows per second. Not pgsim's goal: the figures pgsim's memheap / heap is read
 * against.
 */
export const EXPERIMENT_PUBLISHED: Readonly<Record<DmlStep, number>> = {
  insert: 1.5,
  update: 1.7,
  delete: 1.6,
  vacuum: 1.3,
};

/** One comparison: pgsim's goal (`min`), or the experiment's published ratios, if any. */
export interface DmlComparison {
  name: string;
  numerator: DmlSystem;
  denominator: DmlSystem;
  /** pgsim's own goal: the ratio should be at least this, for every statement or per statement. */
  min?: number | Readonly<Record<DmlStep, number>>;
  /** The in-memory table experiment's published ratio per statement. */
  published?: Readonly<Record<DmlStep, number>>;
}

/** The comparisons reported (rows/s of numerator over denominator). */
export const DML_COMPARISONS: readonly DmlComparison[] = [
  {
    name: "memheap / heap (memory vs logged disk)",
    numerator: "pgsim-memheap",
    denominator: "pgsim-heap",
    published: EXPERIMENT_PUBLISHED,
  },
  {
    // Issue 15's first goal: the experiment's gains reproduced against PostgreSQL itself (with
    // WAL, default settings), its insert measured by the faster of INSERT … SELECT and COPY.
    name: "memheap / pg15-default (the experiment's gains, against PostgreSQL)",
    numerator: "pgsim-memheap",
    denominator: "pg15-default",
    min: EXPERIMENT_PUBLISHED,
  },
  {
    name: "memheap / heap-unlogged (memory vs unlogged disk)",
    numerator: "pgsim-memheap",
    denominator: "pgsim-heap-unlogged",
  },
  {
    name: "memheap / pg15-unlogged",
    numerator: "pgsim-memheap",
    denominator: "pg15-unlogged",
    min: 2,
  },
  { name: "heap / pg15-default", numerator: "pgsim-heap", denominator: "pg15-default", min: 1 },
  {
    name: "heap-unlogged / pg15-unlogged",
    numerator: "pgsim-heap-unlogged",
    denominator: "pg15-unlogged",
    min: 1,
  },
];

/** memheap's resident set may be at most this multiple of its pool. */
export const MEMHEAP_RSS_VS_POOL_MAX = 1.2;

/**
 * The systems `dml` runs when `systems` is not given (the PostgreSQL ones only with the peer):
 * all of them.
 */
export const DML_DEFAULT_SYSTEMS: readonly DmlSystem[] = DML_SYSTEMS;

/** "disk-backed pool of 16384 buffers (128MB)": a disk system's pool, from its setup. */
function diskPool(system: "pgsim-heap" | "pgsim-heap-unlogged"): string {
  const n = PGSIM_SETUPS[system].bufferCount!;
  return `disk-backed pool of ${n} buffers (${sizeSetting(n * BLCKSZ)})`;
}

const DESCRIPTIONS: Record<DmlSystem, string> = {
  "pgsim-memheap": "pgsim memheap: memory-only buffer pool holding the whole table, no WAL",
  "pgsim-heap-unlogged": `pgsim heap, unlogged table: ${diskPool("pgsim-heap-unlogged")}, WAL for commits only`,
  "pgsim-heap": `pgsim heap, logged: ${diskPool("pgsim-heap")}, WAL with fsync at commit`,
  "pg15-unlogged": "PostgreSQL 15, shared_buffers 4 GB, UNLOGGED table",
  "pg15-default": "PostgreSQL 15, default settings (shared_buffers 128 MB), logged table",
};

/** Decides whether the peer runs; throws `postgres-not-installed` when it must but cannot. */
function choosePeer(choice: PeerChoice): { included: boolean; note: string } {
  if (choice === "none")
    return { included: false, note: "not requested (--peer postgres adds it)" };
  const binDir = installedPgBinDir();
  if (binDir !== undefined) return { included: true, note: "" };
  const where = process.env.PGSIM_PG_BIN_DIR ?? "/usr/lib/postgresql/15/bin";
  const message =
    `PostgreSQL 15 is not installed: ${where} lacks initdb, pg_ctl, postgres or psql. ` +
    "Install it with `apt-get install postgresql-15` or set PGSIM_PG_BIN_DIR";
  if (choice === "postgres") {
    throw new PgsimError("postgres-not-installed", `--peer postgres: ${message}.`);
  }
  return { included: false, note: `${message}; running without the peer.` };
}

/** The samples of one statement (and load path) on one system, gathered over the runs. */
interface Samples {
  system: DmlSystem;
  step: DmlStep;
  path?: InsertPath;
  seconds: number[];
  tableBlocks: number;
}

const samplesKey = (system: DmlSystem, step: DmlStep, path?: InsertPath): string =>
  `${system}/${step}/${path ?? ""}`;

/**
 * Runs the benchmark. Progress goes to `options.progress`; the result is returned.
 *
 * @example
 * ```ts
 * const r = await runDml({ rows: 100_000, peer: "auto", repeat: 3 });
 * console.log(formatDmlTable(r));
 * ```
 */
export async function runDml(options: DmlOptions): Promise<DmlResult> {
  const started = performance.now();
  const rows = options.rows;
  if (!Number.isSafeInteger(rows) || rows < 1) {
    throw new PgsimError("invalid-parameter", `rows must be a positive integer, got ${rows}`);
  }
  const repeat = options.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 1 || repeat > DML_REPEAT_MAX) {
    throw new PgsimError(
      "invalid-parameter",
      `repeat must be an integer from 1 to ${DML_REPEAT_MAX}, got ${repeat}`,
    );
  }
  const steps = checkStepsPrefix(options.steps ?? DML_STEPS);
  const requested = options.peer ?? "none";
  const peer = choosePeer(requested);
  const wanted = options.systems ?? DML_DEFAULT_SYSTEMS;
  const order = DML_SYSTEMS.filter(
    (s) => wanted.includes(s) && (peer.included || isPgsimSystem(s)),
  );
  if (options.dataDir !== undefined) {
    if (!order.includes("pgsim-heap")) {
      throw new PgsimError(
        "invalid-parameter",
        "a data directory is for pgsim-heap, which is not among the systems to run",
      );
    }
    checkDataDir(options.dataDir);
  }
  let dataDir: PgsimShutdown | undefined;
  const progress = options.progress;
  if (!peer.included && requested === "auto") progress?.log(peer.note);
  progress?.log(
    `dml: ${rows.toLocaleString("en-US")} rows; systems in order: ${order.join(", ")}${steps.length < DML_STEPS.length ? `; statements: ${steps.join(", ")}` : ""}${repeat > 1 ? `; ${repeat} runs of each, in turn` : ""}`,
  );

  // Samples in the order they were first taken (system by system, step by step).
  const samples = new Map<string, Samples>();
  const systems: Partial<Record<DmlSystem, DmlSystemInfo>> = {};
  let memory: DmlResult["memory"];
  for (let run = 0; run < repeat; run++) {
    for (const system of order) {
      const runLabel = repeat > 1 ? ` [run ${run + 1}/${repeat}]` : "";
      const hooks = barHooks(system, runLabel, rows, progress);
      const collect: StepHooks = {
        ...hooks,
        onStepEnd(m) {
          hooks.onStepEnd?.(m);
          const key = samplesKey(system, m.step, m.path);
          let s = samples.get(key);
          if (s === undefined) {
            s = {
              system,
              step: m.step,
              ...(m.path !== undefined ? { path: m.path } : {}),
              seconds: [],
              tableBlocks: m.tableBlocks,
            };
            samples.set(key, s);
          }
          s.seconds.push(m.seconds);
        },
      };
      if (isPgsimSystem(system)) {
        const keep = run === 0 && system === "pgsim-heap" && options.dataDir !== undefined;
        const r = await runPgsimSystem(system, {
          rows,
          ...collect,
          ...(options.batchRows !== undefined ? { batchRows: options.batchRows } : {}),
          ...(keep ? { dataDir: options.dataDir } : {}),
          steps,
          primaryKey: options.primaryKey === true,
        });
        if (r.shutdown !== undefined) {
          dataDir = r.shutdown;
          progress?.log(
            `${system}: data directory ${r.shutdown.dataDir} left after a clean shutdown (latest checkpoint ${r.shutdown.checkpointLsn}); the table is ${r.shutdown.tableFile}`,
          );
        }
        if (run > 0) continue;
        systems[system] = {
          description: DESCRIPTIONS[system],
          traits: DML_SYSTEM_TRAITS[system],
          bufferCount: r.bufferCount,
          poolBytes: r.poolBytes,
          settings: r.settings,
          rssBytes: r.rssBytes,
        };
        if (system === "pgsim-memheap") {
          // The first run only: later ones follow other systems that may have grown the process.
          const rssVsPool = r.rssBytes / r.poolBytes;
          memory = {
            rssBytes: r.rssBytes,
            poolBytes: r.poolBytes,
            rssVsPool,
            max: MEMHEAP_RSS_VS_POOL_MAX,
            met: rssVsPool <= MEMHEAP_RSS_VS_POOL_MAX,
          };
        }
      } else {
        const r = await runPostgresSystem(system, {
          rows,
          steps,
          primaryKey: options.primaryKey === true,
          ...collect,
        });
        if (run > 0) continue;
        systems[system] = {
          description: DESCRIPTIONS[system],
          traits: DML_SYSTEM_TRAITS[system],
          settings: r.settings,
          serverVersion: r.serverVersion,
        };
        if (peer.note === "") peer.note = r.serverVersion;
      }
    }
  }

  const results = stepResults(rows, order, samples);
  const sol = runSpeedOfLight();
  const solNs: Record<DmlStep, number> = {
    insert: sol.insert,
    update: sol.update,
    delete: sol.delete,
    vacuum: sol.vacuum,
  };
  const multiples = results
    .filter((x) => isPgsimSystem(x.system))
    .map((x) => ({
      system: x.system,
      step: x.step,
      nsPerRow: 1e9 / x.rowsPerSec,
      multiple: 1e9 / x.rowsPerSec / solNs[x.step],
    }));
  return {
    command: "dml",
    rows,
    primaryKey: options.primaryKey === true,
    repeat,
    date: new Date().toISOString(),
    machine: machineInfo(),
    order,
    steps: [...steps],
    peer: { requested, ...peer },
    systems,
    results,
    ratios: computeRatios(results),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(memory !== undefined ? { memory } : {}),
    speedOfLight: { nsPerRow: solNs, multiples, scope: SPEED_OF_LIGHT_SCOPE },
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/** Progress bars for one system's statements. */
function barHooks(
  system: DmlSystem,
  runLabel: string,
  rows: number,
  progress: Progress | undefined,
): StepHooks {
  if (progress === undefined) return {};
  let bar: ReturnType<Progress["bar"]> | undefined;
  return {
    onStepStart(step, path) {
      const how = path !== undefined ? ` (${INSERT_PATH_LABELS[path]})` : "";
      bar = progress.bar(`${system} ${step}${how}${runLabel}`, rows, "rows");
    },
    onStepProgress(_step, done) {
      bar?.update(done);
    },
    onStepEnd(m) {
      bar?.stop(`${m.seconds.toFixed(3)} s`);
      bar = undefined;
    },
  };
}

/** A statement's figures from its samples. */
function figureOf(rows: number, s: Samples): DmlFigure {
  const { median, min, max } = summarizeSamples(s.seconds);
  return {
    ...(s.path !== undefined ? { path: s.path } : {}),
    seconds: median,
    rowsPerSec: rows / median,
    secondsMin: min,
    secondsMax: max,
    rowsPerSecMin: rows / max,
    rowsPerSecMax: rows / min,
    secondsSamples: [...s.seconds],
    tableBlocks: s.tableBlocks,
  };
}

/** One result per (system, step), in run order; PostgreSQL's COPY rides on its insert. */
function stepResults(
  rows: number,
  order: readonly DmlSystem[],
  samples: ReadonlyMap<string, Samples>,
): DmlStepResult[] {
  const results: DmlStepResult[] = [];
  for (const system of order) {
    for (const step of DML_STEPS) {
      const main =
        samples.get(samplesKey(system, step)) ??
        samples.get(samplesKey(system, step, "insert-select"));
      if (main === undefined) continue;
      const copy = samples.get(samplesKey(system, step, "copy"));
      results.push({
        system,
        step,
        ...figureOf(rows, main),
        ...(copy !== undefined ? { copy: figureOf(rows, copy) } : {}),
      });
    }
  }
  return results;
}

/** The figures of a result: its own and, for PostgreSQL's insert, COPY's. */
export function figuresOf(r: DmlStepResult): DmlFigure[] {
  return r.copy !== undefined ? [r, r.copy] : [r];
}

/** The faster of a result's figures by median rows per second (COPY or INSERT … SELECT). */
export function fastestFigure(r: DmlStepResult): DmlFigure {
  return figuresOf(r).reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
}

/**
 * The ratios of DML_COMPARISONS over a run's results: per statement, the median of the per-run
 * ratios (run i against run i) with their min–max, and the goal judged on the median.
 */
export function computeRatios(results: readonly DmlStepResult[]): DmlRatio[] {
  const ratios: DmlRatio[] = [];
  const find = (system: DmlSystem, step: DmlStep) =>
    results.find((r) => r.system === system && r.step === step);
  for (const c of DML_COMPARISONS) {
    for (const step of DML_STEPS) {
      const a = find(c.numerator, step);
      const b = find(c.denominator, step);
      if (a === undefined || b === undefined) continue;
      const num = fastestFigure(a);
      const den = fastestFigure(b);
      // Run i of the numerator against run i of the denominator: measured close in time.
      const samples = num.secondsSamples.map((s, i) => den.secondsSamples[i]! / s);
      const { median, min, max } = summarizeSamples(samples);
      const goal = c.min === undefined || typeof c.min === "number" ? c.min : c.min[step];
      ratios.push({
        name: c.name,
        numerator: c.numerator,
        denominator: c.denominator,
        step,
        ratio: median,
        ratioMin: min,
        ratioMax: max,
        samples,
        ...(num.path !== undefined ? { numeratorPath: num.path } : {}),
        ...(den.path !== undefined ? { denominatorPath: den.path } : {}),
        ...(goal !== undefined ? { min: goal, met: median >= goal } : {}),
        ...(c.published !== undefined ? { published: c.published[step] } : {}),
      });
    }
  }
  return ratios;
}
