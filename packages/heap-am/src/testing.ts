/**
 * `@pgsim/heap-am/testing`: fault injection for tests. A test sends, through a `Cluster` or a
 * `Session`, operations that make a backend misbehave — crash at once, hold a buffer pin past its
 * statement — next to ordinary ops, to check the cleanup after a dead backend and the waits of the
 * others. They are not part of the public `Op`: an application cannot send them by mistake.
 *
 * pgsim only (PostgreSQL's tests kill backends from outside, with SIGKILL in TAP tests; pgsim's
 * backends are threads, so the backend is asked to do it: postmaster/fault-ops.ts).
 * Also `checksumFailures`, the check a fault or crash test makes of a data directory's pages.
 * Entry points: `withFaults`, `FaultOp`, `TestingOp`, `TestingSessionOp`, `checksumFailures`.
 * See also: postmaster/fault-ops.ts (what the backend does), postmaster/cluster.ts (the recovery
 * a crash triggers), ../../../test/cluster.test.ts and ../../../test/isolation (the users).
 *
 * @example
 * ```ts
 * import { withFaults } from "@pgsim/heap-am/testing";
 * const victim = await cluster.connect();
 * await withFaults(victim).run([{ op: "begin" }, { op: "holdPin", table: "t", block: 0 }]);
 * await withFaults(victim).runRaw([{ op: "crash" }]).catch(() => undefined);
 * ```
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { BLCKSZ } from "@pgsim/buffer-manager";
import type { IsolationLevel } from "./access/transam/xact.js";
import type { BackendResult, Op, SessionOp } from "./postmaster/backend-worker.js";
import { Cluster, type Session } from "./postmaster/cluster.js";
import type { FaultOp } from "./postmaster/fault-ops.js";
import { pageIsVerified } from "./storage/page/bufpage.js";

export type { FaultOp } from "./postmaster/fault-ops.js";

/** An op of a pooled transaction: a public `Op` or a fault-injection op. */
export type TestingOp = Op | FaultOp;

/** A step of a session: a `TestingOp`, or begin / commit / abort. */
export type TestingSessionOp = SessionOp<TestingOp>;

/** A cluster's pooled transactions, taking fault-injection ops too. */
export interface FaultCluster {
  /** As `Cluster.transaction`. */
  transaction(ops: TestingOp[], options?: { isolation?: IsolationLevel }): Promise<unknown[]>;
  /** As `Cluster.transactionRaw`. */
  transactionRaw(
    ops: TestingOp[],
    options?: { isolation?: IsolationLevel },
  ): Promise<BackendResult>;
}

/** A session, taking fault-injection ops too. */
export interface FaultSession {
  /** As `Session.run`. */
  run(ops: TestingSessionOp[]): Promise<unknown[]>;
  /** As `Session.runRaw`. */
  runRaw(ops: TestingSessionOp[]): Promise<BackendResult>;
}

// The backend worker runs fault ops (it has postmaster/fault-ops.ts); the public Op only leaves
// them out of its type. So the ops go through the ordinary methods, typed as what they carry.
const asOps = (ops: TestingOp[]): Op[] => ops as Op[];
const asSessionOps = (ops: TestingSessionOp[]): SessionOp[] => ops as SessionOp[];

/** The cluster or session, with methods that also take fault-injection ops. */
export function withFaults(target: Cluster): FaultCluster;
export function withFaults(target: Session): FaultSession;
export function withFaults(target: Cluster | Session): FaultCluster | FaultSession {
  if (target instanceof Cluster) {
    return {
      transaction: (ops, options) => target.transaction(asOps(ops), options),
      transactionRaw: (ops, options) => target.transactionRaw(asOps(ops), options),
    };
  }
  return {
    run: (ops) => target.run(asSessionOps(ops)),
    runRaw: (ops) => target.runRaw(asSessionOps(ops)),
  };
}

/**
 * Every page of every relation file of the database (`base/<db>/`, every fork and segment) that
 * fails PageIsVerified with checksums on, as "file block N"; empty when all pass. A fault or
 * crash test's check that no page is torn or damaged on disk.
 */
export function checksumFailures(dataDir: string, segmentBlocks = 131072): string[] {
  const bad: string[] = [];
  const base = path.join(dataDir, "base");
  for (const db of fs.existsSync(base) ? fs.readdirSync(base) : []) {
    for (const name of fs.readdirSync(path.join(base, db)).sort()) {
      const bytes = fs.readFileSync(path.join(base, db, name));
      const segment = /\.(\d+)$/.exec(name);
      const first = segment !== null ? Number(segment[1]) * segmentBlocks : 0;
      for (let off = 0; off + BLCKSZ <= bytes.length; off += BLCKSZ) {
        const page = new Uint8Array(bytes.buffer, bytes.byteOffset + off, BLCKSZ);
        const block = first + off / BLCKSZ;
        if (!pageIsVerified(page, block, { checksums: true }))
          bad.push(`${db}/${name} block ${block}`);
      }
    }
  }
  return bad;
}
