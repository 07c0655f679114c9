// Tuples, values and transaction statuses that PostgreSQL 15 wrote, read back by pgsim: every
// item of pages.json, every visible row of rows.json, every status of xact.json; every stored
// attribute re-encodes to its own bytes, and tuples formed again from their values are
// byte-identical to what PostgreSQL wrote.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { heapDeformTuple, heapFormTuple } from "../src/access/common/heaptuple.js";
import {
  tupleDescFromAttributeRows,
  tupleDescWithTypeStorage,
} from "../src/access/common/tupdesc.js";
import {
  TRANSACTION_STATUS_ABORTED,
  TRANSACTION_STATUS_COMMITTED,
  transactionIdGetStatus,
} from "../src/access/transam/clog.js";
import {
  HEAP_HASNULL,
  HEAP_HASVARWIDTH,
  HEAP_UPDATED,
} from "../src/include/access/htup-details.js";
import { bytesToHex, hexToBytes } from "../src/include/port/le-bytes.js";
import { varlenaHeaderKind } from "../src/include/varatt.js";
import { inspectHeapPageItems } from "../src/inspect/heap-page-items.js";
import { inspectRows } from "../src/inspect/rows.js";
import { decodeDatum, encodeDatum } from "../src/utils/adt/index.js";
import { EXPECTED_CASE_COUNT, FIXTURES_DIR, fixtureCases } from "./pg15-fixture-cases.js";

interface Item {
  lp: number;
  lp_flags: number;
  t_infomask: number | null;
  t_infomask2: number | null;
  t_hoff: number | null;
  t_bits: string | null;
  t_data: string | null;
  attrs: (string | null)[] | null;
  [key: string]: unknown;
}
interface PagesJson {
  blocks: Array<{ block: number; items: Item[] }>;
}
interface RowsJson {
  columns: string[];
  row_count: number;
  rows: (string | null)[][];
}
interface XactJson {
  xids: Record<string, string>;
}
interface CaseJson {
  columns: Array<{
    name: string;
    dropped: boolean;
    attmissingval: string | null;
    atthasmissing: boolean;
  }>;
}

const cases = fixtureCases();
const pgXact = new Uint8Array(readFileSync(`${FIXTURES_DIR}/pg_xact.bin`));

it(`reads the commit log and all ${EXPECTED_CASE_COUNT} cases of ${FIXTURES_DIR}`, () => {
  expect(cases).toHaveLength(EXPECTED_CASE_COUNT);
  expect(pgXact.length).toBe(8192);
});

describe.each(cases.map((c) => [c.name, c] as const))("fixture %s", (_name, fixture) => {
  const caseJson = fixture.json<CaseJson>("case.json");
  const pages = fixture.json<PagesJson>("pages.json");
  const rowsJson = fixture.json<RowsJson>("rows.json");
  const xact = fixture.json<XactJson>("xact.json");
  const main = fixture.bytes("main.bin");
  const desc = tupleDescFromAttributeRows(caseJson.columns);
  const normalItems = pages.blocks.flatMap((b) =>
    b.items.filter((item) => item.t_data !== null).map((item) => ({ block: b.block, item })),
  );

  it("heap-page-items with columns equals pages.json, every key of every item", () => {
    const expected = pages.blocks.map((b) => ({ block: b.block, items: b.items }));
    expect(inspectHeapPageItems(main, { columns: caseJson.columns })).toEqual(expected);
  });

  it("heap-page-items without columns equals pages.json minus attrs", () => {
    const expected = pages.blocks.map((b) => ({
      block: b.block,
      items: b.items.map(({ attrs: _attrs, ...rest }) => rest),
    }));
    expect(inspectHeapPageItems(main)).toEqual(expected);
    const last = pages.blocks[pages.blocks.length - 1];
    expect(inspectHeapPageItems(main, { block: last?.block ?? 0 })).toEqual(expected.slice(-1));
  });

  it("rows visible to a new snapshot equal rows.json", () => {
    const result = inspectRows(main, caseJson.columns, { xact: pgXact });
    expect(result.columns).toEqual(rowsJson.columns);
    expect(result.rows).toEqual(rowsJson.rows);
    expect(result.rows).toHaveLength(rowsJson.row_count);
  });

  it("every xact.json status equals the commit log's", () => {
    const names: Record<number, string> = {
      0: "in progress",
      [TRANSACTION_STATUS_COMMITTED]: "committed",
      [TRANSACTION_STATUS_ABORTED]: "aborted",
    };
    const entries = Object.entries(xact.xids);
    expect(entries.length).toBeGreaterThan(0);
    for (const [xid, status] of entries) {
      expect([xid, names[transactionIdGetStatus(pgXact, Number(xid))]]).toEqual([xid, status]);
    }
  });

  it("every stored attribute decodes and re-encodes to the same bytes", () => {
    let checked = 0;
    for (const { item } of normalItems) {
      item.attrs?.forEach((hex, i) => {
        const att = desc.attrs[i];
        if (hex === null || att?.codec === null || att === undefined) return;
        const bytes = hexToBytes(hex);
        const value = decodeDatum(att.codec, bytes);
        const header =
          att.attlen === -1 && varlenaHeaderKind(bytes[0] ?? 0) === "long"
            ? "4-byte"
            : "short-if-fits";
        const again = encodeDatum(att.codec, value, {
          typmod: att.atttypmod,
          varlenaHeader: header,
        });
        expect(bytesToHex(again), `${att.attname} at lp ${item.lp}`).toBe(hex);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("each visible row's attribute bytes print as rows.json says", () => {
    const rowByCtid = new Map(rowsJson.rows.map((row) => [row[0], row]));
    const liveIndexes = desc.attrs.filter((att) => !att.attisdropped).map((att) => att.attnum - 1);
    let checked = 0;
    for (const { block, item } of normalItems) {
      const row = rowByCtid.get(`(${block},${item.lp})`);
      if (row === undefined) continue;
      liveIndexes.forEach((i, column) => {
        const att = desc.attrs[i];
        const hex = item.attrs?.[i] ?? null;
        if (att?.codec == null) throw new Error("live column without a type");
        const missing = att.atthasmissing
          ? att.codec.output(att.attmissingval as never, att.atttypmod)
          : null;
        const text =
          hex === null
            ? i < ((item.t_infomask2 ?? 0) & 0x7ff)
              ? null
              : missing
            : att.codec.output(decodeDatum(att.codec, hexToBytes(hex)) as never, att.atttypmod);
        expect(text, `${att.attname} of ${row[0]}`).toBe(row[column + 1]);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("tuples formed again from their deformed values are byte-identical", () => {
    // INSERT forms tuples with the query's descriptor (type default storage), UPDATE with the
    // table's; the two differ only for short values in a STORAGE PLAIN column (case 02).
    const insertDesc = tupleDescWithTypeStorage(desc);
    let checked = 0;
    for (const { block, item } of normalItems) {
      if (((item.t_infomask2 ?? 0) & 0x7ff) !== desc.natts) continue;
      const page = main.subarray(block * 8192, (block + 1) * 8192);
      const tuple = page.subarray(
        item.lp_off as number,
        (item.lp_off as number) + (item.lp_len as number),
      );
      const formDesc = ((item.t_infomask ?? 0) & HEAP_UPDATED) !== 0 ? desc : insertDesc;
      const formed = heapFormTuple(formDesc, heapDeformTuple(desc, tuple));
      const hoff = formed[22] ?? 0;
      const bits = item.t_bits === null ? null : (item.t_bits.length / 8) | 0;
      expect(
        {
          data: bytesToHex(formed, hoff),
          hoff,
          bitmap: bits === null ? null : bytesToHex(formed, 23, 23 + bits),
          flags: ((formed[20] ?? 0) | ((formed[21] ?? 0) << 8)) & (HEAP_HASNULL | HEAP_HASVARWIDTH),
        },
        `tuple (${block},${item.lp})`,
      ).toEqual({
        data: item.t_data,
        hoff: item.t_hoff,
        bitmap: bits === null ? null : bytesToHex(tuple, 23, 23 + bits),
        flags: (item.t_infomask ?? 0) & (HEAP_HASNULL | HEAP_HASVARWIDTH),
      });
      checked++;
    }
    if (
      [
        "01-fixed-width-fresh",
        "02-varlena-inline",
        "03-wide-nulls",
        "04-very-wide-75",
        "11-more-types",
      ].includes(fixture.name)
    ) {
      expect(checked).toBe(normalItems.length);
    }
  });
});
