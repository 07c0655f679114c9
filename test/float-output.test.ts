// float4 and float8 text output against a live PostgreSQL 15: for thousands of values — random
// bit patterns over the whole exponent range and short decimals, which hit the values lying
// exactly half-way between two floats — pgsim's output equals what PostgreSQL prints.
//
// PostgreSQL tells us the exact bits it stored (float4send / float8send), and pgsim prints those
// bits; so the comparison does not depend on either side's input routine.

import type { PgCluster } from "@pgsim/bench";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float4ShortestText, float8ShortestText } from "../packages/heap-am/src/utils/adt/float.js";
import { startPg15 } from "./pg15-peer.js";

let pg: PgCluster | undefined;

beforeAll(async () => {
  pg = await startPg15({
    dataChecksums: false,
    settings: { autovacuum: "off", fsync: "off" },
  });
});

afterAll(async () => {
  await pg?.stop();
});

/** A small seeded generator (xorshift32), so a failing value can be reproduced. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const scratch = new DataView(new ArrayBuffer(8));

/** Inputs: random bit patterns (finite), short decimals, and the examples. */
function inputs(kind: "float4" | "float8", seed: number, count: number): string[] {
  const next = xorshift(seed);
  const out: string[] =
    kind === "float4"
      ? ["5.369e8", "0.1", "1e-45", "3.4028235e38"]
      : ["1e23", "0.1", "5e-324", "1.7976931348623157e308"];
  for (let i = 0; i < count; i++) {
    if (kind === "float8") {
      scratch.setUint32(0, next());
      scratch.setUint32(4, next());
      const x = scratch.getFloat64(0);
      if (Number.isFinite(x)) out.push(x.toPrecision(17));
    } else {
      scratch.setUint32(0, next());
      const x = scratch.getFloat32(0);
      if (Number.isFinite(x)) out.push(x.toPrecision(9));
    }
    // A decimal of 1 to 5 significant digits over the type's exponent range.
    const digits = String((next() % 99_999) + 1);
    const [low, high] = kind === "float8" ? [-307, 307] : [-37, 37];
    const first = low + (next() % (high - low + 1)); // decimal exponent of the first digit
    out.push(`${digits}e${first - (digits.length - 1)}`);
  }
  return out;
}

/** The significant digits of a printed number, without sign, point, exponent or outer zeros. */
function significantDigits(text: string): string {
  return text
    .replace(/^-/, "")
    .replace(/e.*$/, "")
    .replace(".", "")
    .replace(/^0+/, "")
    .replace(/0+$/, "");
}

function fromSendHex(kind: "float4" | "float8", hex: string): number {
  const bytes = Buffer.from(hex, "hex");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return kind === "float4" ? view.getFloat32(0) : view.getFloat64(0); // network byte order
}

describe("float output equals PostgreSQL 15's", () => {
  for (const kind of ["float4", "float8"] as const) {
    it(`${kind}: thousands of values, half-way cases included`, async () => {
      if (pg === undefined) throw new Error("the PostgreSQL 15 cluster did not start");
      const values = inputs(kind, kind === "float4" ? 4 : 8, 4000);
      const rows: (string | null)[][] = [];
      for (let i = 0; i < values.length; i += 500) {
        const literal = `{${values.slice(i, i + 500).join(",")}}`;
        rows.push(
          ...(await pg.query(
            `SELECT v::${kind}::text, encode(${kind}send(v::${kind}), 'hex') FROM unnest('${literal}'::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n`,
            { settings: { extra_float_digits: "1" } },
          )),
        );
      }
      expect(rows.length).toBe(values.length);
      const print = kind === "float4" ? float4ShortestText : float8ShortestText;
      const mismatches: string[] = [];
      let halfway = 0;
      for (const [text, hex] of rows) {
        const x = fromSendHex(kind, hex ?? "");
        const mine = print(x);
        if (mine !== text) mismatches.push(`${hex}: PostgreSQL ${text}, pgsim ${mine}`);
        // Where JavaScript's shortest digits differ from PostgreSQL's, the value lies half-way.
        if (
          kind === "float8" &&
          significantDigits(x.toExponential()) !== significantDigits(text ?? "")
        ) {
          halfway++;
        }
      }
      expect(mismatches.slice(0, 20)).toEqual([]);
      if (kind === "float8") expect(halfway).toBeGreaterThan(0);
      // The examples, printed as PostgreSQL prints them.
      expect(rows[0]?.[0]).toBe(kind === "float4" ? "5.3689997e+08" : "9.999999999999999e+22");
    });
  }
});
