/**
 * Fault injection: operations a backend worker runs only when a test asks for them — die at once,
 * or hold a buffer pin past the statement that took it — so that tests can check the cleanup
 * after a dead backend and the waits of the live ones.
 *
 * pgsim only. PostgreSQL's tests get the same effects from outside the server (a TAP test that
 * kills a backend with SIGKILL, an isolation test that holds a cursor open on a page); pgsim's
 * backends are threads, so the test asks the backend itself. Clients send these through
 * `@pgsim/heap-am/testing` (src/testing.ts): they are not part of the public `Op`.
 * Entry points: `FaultOp`, `runFaultOp`, `releaseHeldPins`.
 * See also: backend-worker.ts (dispatches them), cluster.ts (reaps the dead backend),
 * ../testing.ts (the entry that sends them).
 */

import type { BufferId } from "@pgsim/buffer-manager";
import type { Database } from "../database.js";
import { FirstOffsetNumber, pageGetItemId } from "../storage/page/bufpage.js";

/** A fault-injection operation, as plain data (it crosses threads like an `Op`). */
export type FaultOp =
  /** Pin a page and keep the pin (for fault tests: die while holding it). */
  | { op: "holdPin"; table: string; block: number }
  /** The worker thread exits at once, without cleaning up (a crash). */
  | { op: "crash" }
  /** The pages this backend holds pins on (from holdPin): tag and first line pointer word. */
  | { op: "heldPins" }
  /** Drop the pins taken with holdPin. */
  | { op: "releasePins" };

/** The pins this backend took with holdPin and has not released (backend-local). */
const heldPins: BufferId[] = [];

/** Runs one fault-injection op on the backend's database; returns the op's result. */
export function runFaultOp(d: Database, op: FaultOp): unknown {
  switch (op.op) {
    case "holdPin": {
      const rel = d.table(op.table);
      heldPins.push(d.pool.readBuffer(rel.locator, 0, op.block));
      return d.pool
        .bufferCache()
        .filter((r) => r.pinning_backends !== null && r.pinning_backends > 0).length;
    }
    case "heldPins":
      return heldPins.map((buffer) => {
        d.pool.lockBuffer(buffer, "share");
        const page = d.pool.bufferGetPage(buffer);
        const lp = pageGetItemId(page, FirstOffsetNumber);
        d.pool.unlockBuffer(buffer);
        return { tag: d.pool.bufferGetTag(buffer), firstItemId: lp };
      });
    case "releasePins":
      releaseHeldPins(d);
      return undefined;
    case "crash":
      // A worker thread's process.exit ends only this thread, abruptly: no finally blocks, no
      // detach — a backend crash.
      process.exit(1);
  }
}

/**
 * Drops every pin taken with holdPin. The worker calls it when a transaction ends, so a pin held
 * on purpose is not leaked past its transaction unless the worker dies.
 */
export function releaseHeldPins(d: Database): void {
  while (heldPins.length > 0) d.pool.releaseBuffer(heldPins.pop()!);
}
