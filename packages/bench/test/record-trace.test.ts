/**
 * The trace recorder: @pgsim/clock-sweep's committed traces/pgsim-workload.trace is exactly what
 * recordWorkloadTrace() records from @pgsim/buffer-manager today. When a change to the buffer
 * manager moves a single read, this fails: re-record with `npm run record-trace -w @pgsim/bench`
 * (after a build) and check the lab's numbers (packages/clock-sweep/test/lab.test.ts).
 */
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { builtinTrace } from "@pgsim/clock-sweep/lab";
import { describe, expect, it } from "vitest";
import { recordWorkloadTrace } from "../src/record-trace.js";

describe("record-trace", () => {
  it("records the committed pgsim-workload trace, line for line", () => {
    const committed = fs.readFileSync(
      fileURLToPath(new URL("../../clock-sweep/traces/pgsim-workload.trace", import.meta.url)),
      "utf8",
    );
    const recorded = recordWorkloadTrace();
    expect(recorded.text.split("\n")).toEqual(committed.split("\n"));
    // What it reports is what the lab reads from the file.
    const trace = builtinTrace("pgsim-workload")!;
    expect(recorded.reads).toBe(trace.events.filter((e) => e.kind === "access").length);
    expect(recorded.lines).toBe(trace.events.length);
    expect(recorded.hits).toBe(10_310);
  });
});
