// The differential tester's CI run: a fixed set of seeds, each a generated sequence of 60
// operations over one or two tables, run on a private PostgreSQL 15 and on pgsim (heap and
// memheap) in lockstep, compared after every statement (outcomes, every page of the table's
// three forks, xids mapped per transaction). A seed that differs fails with the shrunk
// reproduction as SQL. `npm run difftest -- --seeds N` runs more seeds (test/differential/README.md).
//
// PostgreSQL 15 is required: this test never skips.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareOutcomes, comparePages, XidMap } from "./differential/compare.js";
import type { TablePages } from "./differential/outcome.js";
import { ISSUE_12_REPRODUCTIONS } from "./differential/reproductions.js";
import { DiffEnv, formatFailure, replay, runSeed, shrink } from "./differential/runner.js";

/** The CI seeds (chosen once; any seed must pass). */
const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const OPS = 60;

let env: DiffEnv | undefined;

beforeAll(async () => {
  try {
    env = await DiffEnv.start();
  } catch (error) {
    throw new Error(
      `this test needs PostgreSQL 15 and never skips (CI=${process.env.CI ?? "unset"}): ` +
        (error as Error).message,
    );
  }
});

afterAll(async () => {
  await env?.stop();
});

function diffEnv(): DiffEnv {
  if (env === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
  return env;
}

describe("the comparison itself", () => {
  const page = () => {
    const p = new Uint8Array(8192);
    const dv = new DataView(p.buffer);
    dv.setUint16(12, 28, true); // pd_lower: one line pointer
    dv.setUint16(14, 8160, true); // pd_upper
    dv.setUint16(16, 8192, true);
    dv.setUint16(18, 0x2004, true);
    dv.setUint32(24, (8160 | (1 << 15) | (32 << 17)) >>> 0, true); // LP_NORMAL at 8160, 32 bytes
    dv.setUint32(8160, 700, true); // xmin
    dv.setUint16(8160 + 18, 1, true);
    dv.setUint16(8160 + 20, 0x0902, true);
    p[8160 + 22] = 24;
    return p;
  };
  const pages = (main: Uint8Array): TablePages => ({ main: [main], fsm: [], vm: [] });

  it("maps xids per transaction: equal labels pass, different ones are reported", () => {
    const xids = new XidMap();
    xids.record("T1", 700, 3);
    const a = page();
    const b = page();
    new DataView(b.buffer).setUint32(8160, 3, true);
    expect(comparePages("t1", pages(a), pages(b), xids)).toEqual([]);
    xids.record("T2", 701, 4);
    new DataView(b.buffer).setUint32(8160, 4, true);
    expect(comparePages("t1", pages(a), pages(b), xids)).toEqual([
      "t1 block 0 lp 1 t_xmin: PostgreSQL T1, pgsim T2",
    ]);
  });

  it("reports infomask bits, line pointers, data and map pages; masks only pd_lsn", () => {
    const xids = new XidMap();
    xids.record("T1", 700, 700);
    const a = page();
    const b = page();
    b[0] = 0x55; // pd_lsn differs: masked
    b[8160 + 21] = 0x0b; // t_infomask 0x0b02
    b[8160 + 30] = 1; // a data byte
    const vmA = new Uint8Array(8192);
    const vmB = new Uint8Array(8192);
    vmB[24] = 0x01; // heap block 0 all-visible on one side only
    expect(
      comparePages("t1", { ...pages(a), vm: [vmA] }, { ...pages(b), vm: [vmB] }, xids),
    ).toEqual([
      "t1 block 0 lp 1 t_infomask: PostgreSQL 0x0902, pgsim 0x0b02",
      "t1 block 0 lp 1 data differs from byte 30 of 32",
      "t1 vm block 0: bits of heap blocks 0..3: PostgreSQL 0x00, pgsim 0x01",
    ]);
    const c = page();
    new DataView(c.buffer).setUint32(24, (8160 | (3 << 15)) >>> 0, true); // LP_DEAD
    expect(comparePages("t1", pages(a), pages(c), xids)).toEqual([
      "t1 block 0 lp 1: PostgreSQL LP_NORMAL(off 8160, len 32), pgsim LP_DEAD(off 8160, len 0)",
    ]);
  });

  it("compares statement outcomes: errors, rows, ctids, xid assignment", () => {
    const ok = { rowCount: 1, ctids: [{ block: 0, offset: 1 }], xid: 700 };
    expect(compareOutcomes(ok, { ...ok, xid: 3 })).toEqual([]);
    expect(compareOutcomes(ok, { ...ok, xid: 0 })).toEqual([
      "xid assigned: PostgreSQL yes, pgsim no",
    ]);
    expect(compareOutcomes(ok, { ...ok, ctids: [{ block: 0, offset: 2 }] })).toEqual([
      "ctids: PostgreSQL (0,1), pgsim (0,2)",
    ]);
  });
});

describe("PostgreSQL 15 and pgsim (heap, memheap) run the same sequences to the same pages", () => {
  it("PostgreSQL plans UPDATE … WHERE ctid = … as a TID scan", async () => {
    const e = diffEnv();
    await e.pg.setup([
      {
        name: "t1",
        columns: [{ name: "id", type: "int4", notNull: false }],
        fillfactor: 100,
        indexed: ["id"],
      },
    ]);
    expect(await e.pg.explainTidStatement("t1", { block: 0, offset: 1 })).toMatch(/Tid Scan on t1/);
  });

  it.each(SEEDS)(
    "seed %i: no difference after any statement",
    async (seed) => {
      const e = diffEnv();
      const result = await runSeed(e, seed, OPS);
      if (result.divergence !== undefined) {
        const small = await shrink(e, result, 60);
        expect.fail(formatFailure(small));
      }
      expect(result.statements).toBeGreaterThan(OPS / 2);
    },
    180_000,
  );
});

describe("issue 12 reproductions against PostgreSQL 15", () => {
  it.each(ISSUE_12_REPRODUCTIONS.map((r) => [r.name, r] as const))(
    "%s",
    async (_name, r) => {
      const result = await replay(diffEnv(), 0, r.tables, r.ops);
      if (result.divergence !== undefined) expect.fail(formatFailure(result));
      // Every operation ran (none was dropped as invalid).
      expect(result.ops).toHaveLength(r.ops.length);
    },
    120_000,
  );
});
