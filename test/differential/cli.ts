/**
 * `npm run difftest -- [--seeds N] [--from S] [--ops N] [--seed S] [--no-shrink]`: runs the
 * differential tester over many seeds against a private PostgreSQL 15 and prints a summary, and
 * for each differing seed the shrunk reproduction as SQL.
 *
 * Models: nothing in PostgreSQL (pgsim only).
 * See also: runner.ts, README.md (the nightly-sized run).
 */

import { DiffEnv, formatFailure, runSeed, shrink } from "./runner.js";

interface Args {
  seeds: number;
  from: number;
  ops: number;
  shrink: boolean;
  maxFailures: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seeds: 20, from: 1, ops: 60, shrink: true, maxFailures: 10 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === "--seeds") args.seeds = value();
    else if (a === "--from") args.from = value();
    else if (a === "--ops") args.ops = value();
    else if (a === "--max-failures") args.maxFailures = value();
    else if (a === "--seed") {
      args.from = value();
      args.seeds = 1;
    } else if (a === "--no-shrink") args.shrink = false;
    else if (a === "--help" || a === "-h") {
      console.log(
        "usage: npm run difftest -- [--seeds N] [--from S] [--seed S] [--ops N] [--no-shrink] [--max-failures N]",
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const env = await DiffEnv.start();
  const started = Date.now();
  const failing: number[] = [];
  let statements = 0;
  try {
    for (let seed = args.from; seed < args.from + args.seeds; seed++) {
      const result = await runSeed(env, seed, args.ops);
      statements += result.statements;
      if (result.divergence !== undefined) {
        failing.push(seed);
        const report = args.shrink ? await shrink(env, result) : result;
        console.log(`${formatFailure(report)}\n`);
        if (failing.length >= args.maxFailures) {
          console.log(`stopping after ${failing.length} differing seeds (--max-failures)`);
          break;
        }
      }
      const done = seed - args.from + 1;
      if (done % 50 === 0) {
        console.error(
          `${done} seeds, ${failing.length} differing, ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
      }
    }
  } finally {
    await env.stop();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `difftest: seeds ${args.from}..${args.from + args.seeds - 1}, ${args.ops} operations each, ` +
      `${statements} statements, ${failing.length} differing seeds` +
      `${failing.length > 0 ? ` (${failing.join(", ")})` : ""}, ${seconds} s`,
  );
  if (failing.length > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
