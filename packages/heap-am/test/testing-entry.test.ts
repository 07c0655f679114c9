// The testing entry (@pgsim/heap-am/testing): fault-injection ops are not public Ops (checked by
// the type checker, `npm run typecheck`), and a backend runs them when a test sends them — here
// in-process through the worker's task handler, so no worker threads are needed.
import { Database, type Op } from "@pgsim/heap-am";
import { runBackendTask } from "@pgsim/heap-am/internals";
import type { FaultOp, TestingOp, TestingSessionOp } from "@pgsim/heap-am/testing";
import { describe, expect, it } from "vitest";

describe("@pgsim/heap-am/testing", () => {
  it("keeps fault-injection ops out of the public Op", () => {
    // @ts-expect-error a crash is not an operation an application can send
    const crash: Op = { op: "crash" };
    // @ts-expect-error nor is keeping a pin past its statement
    const hold: Op = { op: "holdPin", table: "t", block: 0 };
    const faults: FaultOp[] = [{ op: "crash" }, { op: "holdPin", table: "t", block: 0 }];
    expect(faults).toEqual([crash, hold]);
    const ops: TestingOp[] = [{ op: "scan", table: "t" }, ...faults];
    const steps: TestingSessionOp[] = [{ op: "begin" }, ...ops, { op: "commit" }];
    expect(steps.map((s) => s.op)).toEqual(["begin", "scan", "crash", "holdPin", "commit"]);
  });

  it("a backend holds a pin past its statement and drops it when the transaction ends", async () => {
    const db = Database.create({ variant: "memory", bufferCount: 64 });
    try {
      db.createTable("t", [{ name: "id", type: "int4" }]);
      const ops: TestingOp[] = [
        { op: "insert", table: "t", values: [1] },
        { op: "holdPin", table: "t", block: 0 },
        { op: "heldPins" },
      ];
      const result = await runBackendTask({ kind: "transaction", shared: db.shared, ops });
      expect(result.error).toBeUndefined();
      // The held pin is the only one left after the insert's statement; heldPins sees page 0,
      // whose first line pointer is the inserted tuple's (LP_NORMAL, flags 1 in bits 15-16).
      expect(result.results[1]).toBe(1);
      const held = result.results[2] as { tag: { block: number }; firstItemId: number }[];
      expect(held).toHaveLength(1);
      expect(held[0]!.tag.block).toBe(0);
      expect((held[0]!.firstItemId >>> 15) & 3).toBe(1);
      // The transaction ended: the pin is gone.
      expect(db.pool.bufferCacheSummary().buffers_pinned).toBe(0);
      const exit = await runBackendTask({ kind: "exit", shared: db.shared });
      expect(exit.results[0]).toMatchObject({ leakedPins: [] });
    } finally {
      db.close();
    }
  });
});
