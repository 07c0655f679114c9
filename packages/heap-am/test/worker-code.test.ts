/**
 * The test-speed switch of worker-code.ts: which file a worker loads, and the Node options it
 * gets, when pgsim runs from source with or without PGSIM_WORKERS_FROM_BUILD=1.
 *
 * Models: pgsim only.
 */
import { afterEach, describe, expect, it } from "vitest";
import { builtTwin, withoutSourceCondition, workerModule } from "../src/postmaster/worker-code.js";

const saved = process.env.PGSIM_WORKERS_FROM_BUILD;
afterEach(() => {
  if (saved === undefined) delete process.env.PGSIM_WORKERS_FROM_BUILD;
  else process.env.PGSIM_WORKERS_FROM_BUILD = saved;
});

describe("worker code", () => {
  it("maps a package's source file to its built twin", () => {
    const source = new URL("file:///r/packages/heap-am/src/postmaster/backend-worker.ts");
    expect(builtTwin(source).href).toBe(
      "file:///r/packages/heap-am/dist/postmaster/backend-worker.js",
    );
    expect(() => builtTwin(new URL("file:///r/test/workers/bank.ts"))).toThrow(
      "not a source file of a pgsim package",
    );
  });

  it("picks the .js when built, the .ts from source, and the built twin with the switch on", () => {
    const src = "file:///r/packages/bench/src/tpcb.ts";
    expect(workerModule("file:///r/packages/bench/dist/tpcb.js", "tpcb-functions").href).toBe(
      "file:///r/packages/bench/dist/tpcb-functions.js",
    );
    process.env.PGSIM_WORKERS_FROM_BUILD = "0";
    expect(workerModule(src, "tpcb-functions").href).toBe(
      "file:///r/packages/bench/src/tpcb-functions.ts",
    );
    process.env.PGSIM_WORKERS_FROM_BUILD = "1";
    expect(workerModule(src, "tpcb-functions").href).toBe(
      "file:///r/packages/bench/dist/tpcb-functions.js",
    );
  });

  it("drops the source condition in each spelling and keeps every other option", () => {
    expect(
      withoutSourceCondition([
        "--conditions",
        "source",
        "--conditions",
        "module",
        "--conditions=source",
        "-C",
        "source",
        "--max-old-space-size=512",
      ]),
    ).toEqual(["--conditions", "module", "--max-old-space-size=512"]);
  });
});
