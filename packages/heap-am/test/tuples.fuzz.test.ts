// Random and mutated bytes and text fed to every tuple-level decoder of this package (tuple
// header, deform, attribute spans, each type's stored form and text input, the commit log,
// visibility, heap-page-items and rows): each returns a well-formed result or throws a
// PgsimError; nothing else (no AssertionError, no TypeError, no RangeError, no hang).
import { PgsimError } from "@pgsim/clock-sweep";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  heapAttributeSpans,
  heapDeformTuple,
  heapFormTuple,
} from "../src/access/common/heaptuple.js";
import {
  createTupleDesc,
  type TupleDesc,
  tupleDescFromAttributeRows,
} from "../src/access/common/tupdesc.js";
import { heapTupleVisibleToNewSnapshot } from "../src/access/heap/heapam-visibility.js";
import { clogPageGetStatus, transactionIdGetStatus } from "../src/access/transam/clog.js";
import { readHeapTupleHeader } from "../src/include/access/htup-details.js";
import { inspectHeapPageItems } from "../src/inspect/heap-page-items.js";
import { inspectRows } from "../src/inspect/rows.js";
import { decodeDatum, TYPE_CODECS } from "../src/utils/adt/index.js";
import { fixtureCases } from "./pg15-fixture-cases.js";

/** Runs `fn`; a PgsimError is an acceptable outcome, any other exception fails the property. */
function typedOrOk<T>(fn: () => T): T | PgsimError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof PgsimError) return error;
    throw error;
  }
}

// A descriptor with every supported type, a STORAGE PLAIN text column and a dropped column.
const everyType = createTupleDesc([
  ...[...TYPE_CODECS.keys()].map((typname) => ({ name: `c_${typname}`, type: typname })),
  { name: "plain_t", type: "text", storage: "p" as const },
  { name: "gone", dropped: true, attlen: -1, attalign: "i" as const },
  { name: "v", type: "varchar(5)" },
  { name: "n", type: "numeric(6,2)" },
]);
const sampleRow = [
  true,
  65,
  "nm",
  1,
  2,
  3n,
  4,
  1.5,
  2.5,
  "3.25",
  "text",
  "vc",
  "bp",
  new Uint8Array([1, 2]),
  0,
  1n,
  2n,
  3n,
  { months: 1, days: 2, microseconds: 3n },
  "00112233-4455-6677-8899-aabbccddeeff",
  "plain",
  null,
  "v",
  "1.5",
];
const sampleTuple = heapFormTuple(everyType, sampleRow);

const fixtures = fixtureCases().map((fixture) => {
  const columns = fixture.json<{ columns: unknown[] }>("case.json").columns;
  return { columns, desc: tupleDescFromAttributeRows(columns), main: fixture.bytes("main.bin") };
});
/** Every LP_NORMAL tuple of the fixtures, with its table's descriptor. */
const fixtureTuples: Array<{ desc: TupleDesc; tuple: Uint8Array }> = fixtures.flatMap(
  ({ desc, main }) => {
    const out: Array<{ desc: TupleDesc; tuple: Uint8Array }> = [];
    for (let page = 0; page < main.length; page += 8192) {
      const lower = main[page + 12]! | (main[page + 13]! << 8);
      for (let at = page + 24; at < page + lower; at += 4) {
        const word =
          (main[at]! | (main[at + 1]! << 8) | (main[at + 2]! << 16) | (main[at + 3]! << 24)) >>> 0;
        if (((word >>> 15) & 3) !== 1) continue;
        const off = word & 0x7fff;
        out.push({ desc, tuple: main.slice(page + off, page + off + (word >>> 17)) });
      }
    }
    return out;
  },
);

/** Byte edits: (position, new value), positions biased toward the header and bitmap. */
const edits = fc.array(
  fc.tuple(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.nat()), fc.integer({ min: 0, max: 255 })),
  { minLength: 1, maxLength: 8 },
);

function mutate(bytes: Uint8Array, changes: Array<[number, number]>, cut: number): Uint8Array {
  const copy = bytes.slice(0, Math.max(0, bytes.length - cut));
  for (const [position, value] of changes)
    if (copy.length > 0) copy[position % copy.length] = value;
  return copy;
}

/** A tuple to decode, with the descriptor to decode it with. */
const arbitraryTuple: fc.Arbitrary<{ desc: TupleDesc; tuple: Uint8Array }> = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map((tuple) => ({ desc: everyType, tuple })),
  fc
    .tuple(edits, fc.integer({ min: 0, max: 8 }))
    .map(([changes, cut]) => ({ desc: everyType, tuple: mutate(sampleTuple, changes, cut) })),
  fc
    .tuple(
      fc.integer({ min: 0, max: fixtureTuples.length - 1 }),
      edits,
      fc.integer({ min: 0, max: 4 }),
    )
    .map(([i, changes, cut]) => {
      const source = fixtureTuples[i]!;
      return { desc: source.desc, tuple: mutate(source.tuple, changes, cut) };
    }),
);

describe("tuple decoders on random and mutated tuples", () => {
  it("the sample row of every type forms and deforms", () => {
    // numeric(6,2) stores 1.5 as 1.50.
    expect(heapDeformTuple(everyType, sampleTuple)).toEqual([...sampleRow.slice(0, -1), "1.50"]);
  });

  it("heapDeformTuple and heapAttributeSpans return results or typed errors", () => {
    fc.assert(
      fc.property(arbitraryTuple, ({ desc, tuple }) => {
        const values = typedOrOk(() => heapDeformTuple(desc, tuple));
        if (!(values instanceof PgsimError)) expect(values).toHaveLength(desc.natts);
        const spans = typedOrOk(() => heapAttributeSpans(desc, tuple));
        if (!(spans instanceof PgsimError)) {
          for (const span of spans) {
            if (span !== null) expect(span.offset + span.length).toBeLessThanOrEqual(tuple.length);
          }
        }
        if (tuple.length >= 23) expect(readHeapTupleHeader(tuple, 0).natts).toBeLessThan(2048);
        // Whatever decoded also prints.
        if (!(values instanceof PgsimError)) {
          values.forEach((value, i) => {
            const att = desc.attrs[i];
            if (value !== null && att?.codec)
              expect(typeof att.codec.output(value as never, att.atttypmod)).toBe("string");
          });
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe.each([...TYPE_CODECS.values()].map((codec) => [codec.typname, codec] as const))(
  "type %s on random input",
  (_typname, codec) => {
    it("decodes random stored bytes to a printable value or a typed error", () => {
      const bytes =
        codec.kind === "fixed"
          ? fc.uint8Array({ minLength: codec.typlen, maxLength: codec.typlen })
          : fc.oneof(
              fc.uint8Array({ maxLength: 40 }),
              fc.uint8Array({ maxLength: 40 }).map((payload) => {
                // A well-formed 1-byte header over random payload bytes.
                const out = new Uint8Array(payload.length + 1);
                out[0] = ((payload.length + 1) << 1) | 1;
                out.set(payload, 1);
                return out;
              }),
            );
      fc.assert(
        fc.property(bytes, (stored) => {
          const value = typedOrOk(() => decodeDatum(codec, stored));
          if (!(value instanceof PgsimError))
            expect(typeof codec.output(value as never, -1)).toBe("string");
        }),
        { numRuns: 300 },
      );
    });

    it("parses random text to a value or a typed error", () => {
      const text = fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.stringMatching(/^[-+ 0-9.:eE@PTYMDHSinfaty{}x\\]{0,30}$/),
      );
      fc.assert(
        fc.property(text, fc.constantFrom(-1, 8, 786440), (literal, typmod) => {
          // Only the modifiers each type can have.
          const mod = codec.typmodIn === undefined ? -1 : typmod;
          typedOrOk(() => codec.input(literal, mod));
        }),
        { numRuns: 300 },
      );
    });
  },
);

describe("commit log and visibility on random input", () => {
  it("reads a status or throws a typed error for any file and xid", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: -5, max: 2 ** 32 + 5 })),
        (file, xid) => {
          const status = typedOrOk(() => transactionIdGetStatus(file, xid));
          if (!(status instanceof PgsimError)) expect([0, 1, 2, 3]).toContain(status);
        },
      ),
      { numRuns: 500 },
    );
    const page = new Uint8Array(8192).map((_, i) => (i * 37) & 0xff);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (xid) => {
        expect([0, 1, 2, 3]).toContain(clogPageGetStatus(page, xid));
      }),
      { numRuns: 200 },
    );
  });

  it("decides visibility or throws a typed error for any header", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
        (header, clog) => {
          const visible = typedOrOk(() => heapTupleVisibleToNewSnapshot(header, 0, clog));
          if (!(visible instanceof PgsimError)) expect(typeof visible).toBe("boolean");
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("heap-page-items and rows on mutated fixture pages", () => {
  const pages = fixtures.flatMap(({ columns, main }) =>
    Array.from({ length: main.length / 8192 }, (_, block) => ({
      columns,
      page: main.slice(block * 8192, (block + 1) * 8192),
    })),
  );
  it("return results or typed errors", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: pages.length - 1 }),
        fc.array(
          fc.tuple(
            fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 7000, max: 8191 })),
            fc.integer({ min: 0, max: 255 }),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        (index, changes) => {
          const { columns, page } = pages[index]!;
          const mutated = page.slice();
          for (const [position, value] of changes) mutated[position] = value;
          const items = typedOrOk(() => inspectHeapPageItems(mutated, { columns }));
          if (!(items instanceof PgsimError)) expect(items).toHaveLength(1);
          const rows = typedOrOk(() =>
            inspectRows(mutated, columns, { xact: new Uint8Array(8192).fill(0x55) }),
          );
          if (!(rows instanceof PgsimError)) expect(rows.columns[0]).toBe("ctid");
        },
      ),
      { numRuns: 400 },
    );
  });
});
