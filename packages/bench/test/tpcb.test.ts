/**
 * `pgsim-bench tpcb`: pgbench's tpcb-like transaction on pgsim (primary keys through nbtree index
 * scans, HOT updates, history inserts) keeps TPC-B's consistency condition and answers what the
 * SELECT asks; and a short run of every system — pgsim's memheap and heap on worker backends,
 * PostgreSQL 15 with its own pgbench — reports throughput and latencies for each point.
 *
 * PostgreSQL 15 is required: the test never skips; without it it fails saying how to install.
 */

import { Database } from "@pgsim/heap-am";
import { describe, expect, it } from "vitest";
import { formatTpcbTable, runTpcb } from "../src/tpcb.js";
import {
  createTpcbTables,
  TPCB_ACCOUNTS_PER_SCALE,
  tpcbCheck,
  tpcbTransaction,
} from "../src/tpcb-functions.js";

describe("the tpcb-like transaction on pgsim", () => {
  it("keeps the balances equal to the history's deltas and returns the account's new balance", () => {
    const db = Database.create({ variant: "memory", bufferCount: 8192 });
    try {
      createTpcbTables(db, 1);
      expect(db.indexes().map((i) => [i.name, i.unique])).toEqual([
        ["pgbench_branches_pkey", true],
        ["pgbench_tellers_pkey", true],
        ["pgbench_accounts_pkey", true],
      ]);
      let expected = 0;
      for (let i = 0; i < 500; i++) {
        const aid = 1 + ((i * 7919) % TPCB_ACCOUNTS_PER_SCALE);
        const delta = (i % 11) - 5;
        const look = db.begin();
        const before = look.fetchByKey("pgbench_accounts_pkey", aid)!.row[2] as number;
        look.commit();
        expect(tpcbTransaction(db, [aid, 1, 1 + (i % 10), delta])).toBe(before + delta);
        expected += delta;
      }
      const c = tpcbCheck(db);
      expect(c).toEqual({
        branches: expected,
        tellers: expected,
        accounts: expected,
        history: expected,
        historyRows: 500,
      });
      // With fillfactor 100 the accounts' pages are full: an update that finds no room for a
      // HOT version goes to another page and adds an index entry; VACUUM's index pass removes
      // the dead versions' entries again.
      expect(db.btIndexCheck("pgbench_accounts_pkey").heapTids).toBeGreaterThan(
        TPCB_ACCOUNTS_PER_SCALE,
      );
      db.vacuum("pgbench_accounts");
      expect(db.btIndexCheck("pgbench_accounts_pkey").heapTids).toBe(TPCB_ACCOUNTS_PER_SCALE);
    } finally {
      db.close();
    }
  });
});

describe("pgsim-bench tpcb", () => {
  it("runs every system for each client count and reports tps and latency percentiles", async () => {
    const r = await runTpcb({
      scale: 1,
      clients: [1, 2],
      backends: 2,
      seconds: 1,
      warmupSeconds: 0.2,
      systems: ["pgsim-memheap", "pgsim-heap", "pg15-default"],
    });
    expect(r.points.map((p) => [p.system, p.clients])).toEqual([
      ["pgsim-memheap", 1],
      ["pgsim-memheap", 2],
      ["pgsim-heap", 1],
      ["pgsim-heap", 2],
      ["pg15-default", 1],
      ["pg15-default", 2],
    ]);
    for (const p of r.points) {
      expect(p.tps, `${p.system} c=${p.clients}`).toBeGreaterThan(0);
      expect(p.latencyMs.p50).toBeLessThanOrEqual(p.latencyMs.p99);
    }
    expect(r.serverVersion).toMatch(/^PostgreSQL 15\./);
    expect(formatTpcbTable(r)).toContain("pg15-default tps (p50 / p99 ms)");
  }, 240_000);
});
