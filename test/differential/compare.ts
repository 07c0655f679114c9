/**
 * Compares the pages of one table on PostgreSQL and on pgsim: every heap page's header, every
 * line pointer, every tuple's header and data, and the free space map and visibility map pages,
 * with transaction ids mapped to the transaction of the sequence that took them (not masked).
 *
 * Models: nothing in PostgreSQL (pgsim only). The layouts read are bufpage.h (PageHeaderData,
 * ItemIdData), htup_details.h (HeapTupleHeaderData), fsm_internals.h (FSMPageData) and
 * visibilitymap.c's map page.
 * Entry points: `comparePages`, `compareOutcomes`, `XidMap`.
 * See also: runner.ts, outcome.ts.
 *
 * Masked, and only these: pd_lsn (pgsim writes no WAL) on every page; t_cid with `maskCommandIds`
 * (off by default). The bytes between pd_lower and pd_upper (free space) are not compared:
 * neither system promises what stays there.
 */

import type { Tid } from "./ops.js";
import type { ForkName, Outcome, TablePages } from "./outcome.js";

/** Transaction ids of each system, mapped to the label of the sequence's transaction. */
export class XidMap {
  private readonly pg = new Map<number, string>();
  private readonly sim = new Map<number, string>();

  /** Records that transaction `label` has xid `pgXid` on PostgreSQL and `simXid` on pgsim. */
  record(label: string, pgXid: number, simXid: number): void {
    if (pgXid > 2) this.pg.set(pgXid, label);
    if (simXid > 2) this.sim.set(simXid, label);
  }

  /** The label an xid stands for ("0", "1", "2" are themselves; an unknown one stays raw). */
  name(system: "pg" | "sim", xid: number): string {
    if (xid <= 2) return String(xid);
    return (system === "pg" ? this.pg : this.sim).get(xid) ?? `${system}:${xid}`;
  }
}

const u16 = (p: Uint8Array, o: number) => p[o]! | (p[o + 1]! << 8);
const u32 = (p: Uint8Array, o: number) =>
  (p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
const hex = (n: number, width = 4) => `0x${n.toString(16).padStart(width, "0")}`;

const LP_NAMES = ["LP_UNUSED", "LP_NORMAL", "LP_REDIRECT", "LP_DEAD"];

function lpText(lp: number): string {
  const off = lp & 0x7fff;
  const flags = (lp >>> 15) & 3;
  const len = lp >>> 17;
  return `${LP_NAMES[flags]}(off ${off}, len ${len})`;
}

export interface CompareOptions {
  readonly maskCommandIds?: boolean;
}

/** Differences between one heap page on each side (empty when equal). */
function compareHeapPage(
  where: string,
  a: Uint8Array,
  b: Uint8Array,
  xids: XidMap,
  options: CompareOptions,
): string[] {
  const out: string[] = [];
  const field = (name: string, x: string | number, y: string | number) => {
    if (x !== y) out.push(`${where} ${name}: PostgreSQL ${x}, pgsim ${y}`);
  };
  field("pd_checksum", u16(a, 8), u16(b, 8));
  field("pd_flags", hex(u16(a, 10)), hex(u16(b, 10)));
  field("pd_lower", u16(a, 12), u16(b, 12));
  field("pd_upper", u16(a, 14), u16(b, 14));
  field("pd_special", u16(a, 16), u16(b, 16));
  field("pd_pagesize_version", hex(u16(a, 18)), hex(u16(b, 18)));
  field("pd_prune_xid", xids.name("pg", u32(a, 20)), xids.name("sim", u32(b, 20)));
  // With different line pointer counts (pd_lower), the common ones are still compared.
  const maxoff = Math.min(Math.max(0, (u16(a, 12) - 24) / 4), Math.max(0, (u16(b, 12) - 24) / 4));
  for (let i = 1; i <= maxoff; i++) {
    const lpA = u32(a, 24 + 4 * (i - 1));
    const lpB = u32(b, 24 + 4 * (i - 1));
    if (lpA !== lpB) {
      out.push(`${where} lp ${i}: PostgreSQL ${lpText(lpA)}, pgsim ${lpText(lpB)}`);
      continue;
    }
    if (((lpA >>> 15) & 3) !== 1) continue;
    const off = lpA & 0x7fff;
    const len = lpA >>> 17;
    const t = `${where} lp ${i}`;
    const tf = (name: string, x: string | number, y: string | number) => {
      if (x !== y) out.push(`${t} ${name}: PostgreSQL ${x}, pgsim ${y}`);
    };
    tf("t_xmin", xids.name("pg", u32(a, off)), xids.name("sim", u32(b, off)));
    tf("t_xmax", xids.name("pg", u32(a, off + 4)), xids.name("sim", u32(b, off + 4)));
    if (options.maskCommandIds !== true) tf("t_cid", u32(a, off + 8), u32(b, off + 8));
    tf(
      "t_ctid",
      `(${u16(a, off + 12) * 65536 + u16(a, off + 14)},${u16(a, off + 16)})`,
      `(${u16(b, off + 12) * 65536 + u16(b, off + 14)},${u16(b, off + 16)})`,
    );
    tf("t_infomask2", hex(u16(a, off + 18)), hex(u16(b, off + 18)));
    tf("t_infomask", hex(u16(a, off + 20)), hex(u16(b, off + 20)));
    tf("t_hoff", a[off + 22]!, b[off + 22]!);
    for (let k = 23; k < len; k++) {
      if (a[off + k] !== b[off + k]) {
        out.push(`${t} data differs from byte ${k} of ${len}`);
        break;
      }
    }
  }
  return out;
}

/** Differences between one FSM or VM page on each side (pd_lsn masked). */
function compareMapPage(where: string, fork: ForkName, a: Uint8Array, b: Uint8Array): string[] {
  for (let k = 8; k < 8192; k++) {
    if (a[k] === b[k]) continue;
    if (fork === "fsm") {
      const detail =
        k >= 24 && k < 28
          ? `fp_next_slot PostgreSQL ${u32(a, 24)}, pgsim ${u32(b, 24)}`
          : `node ${k - 28}: PostgreSQL ${a[k]}, pgsim ${b[k]}`;
      return [`${where}: ${detail}`];
    }
    if (k >= 24) {
      const heapBlock = (k - 24) * 4;
      return [
        `${where}: bits of heap blocks ${heapBlock}..${heapBlock + 3}: PostgreSQL ${hex(a[k]!, 2)}, pgsim ${hex(b[k]!, 2)}`,
      ];
    }
    return [`${where}: header byte ${k}: PostgreSQL ${a[k]}, pgsim ${b[k]}`];
  }
  return [];
}

/** Differences between a table's pages on PostgreSQL (`a`) and pgsim (`b`). */
export function comparePages(
  table: string,
  a: TablePages,
  b: TablePages,
  xids: XidMap,
  options: CompareOptions = {},
): string[] {
  const out: string[] = [];
  for (const fork of ["main", "fsm", "vm"] as const) {
    const pa = a[fork];
    const pb = b[fork];
    if (pa.length !== pb.length) {
      out.push(`${table} ${fork} fork: PostgreSQL ${pa.length} blocks, pgsim ${pb.length}`);
    }
    const n = Math.min(pa.length, pb.length);
    for (let blk = 0; blk < n; blk++) {
      const where = `${table}${fork === "main" ? "" : ` ${fork}`} block ${blk}`;
      out.push(
        ...(fork === "main"
          ? compareHeapPage(where, pa[blk]!, pb[blk]!, xids, options)
          : compareMapPage(where, fork, pa[blk]!, pb[blk]!)),
      );
    }
  }
  return out;
}

const tidText = (t: Tid) => `(${t.block},${t.offset})`;

/** Differences between a statement's outcome on PostgreSQL (`a`) and pgsim (`b`). */
export function compareOutcomes(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  if (a.error !== b.error) {
    out.push(
      `error: PostgreSQL ${a.error === undefined ? "none" : `${a.error} (${a.message})`}, ` +
        `pgsim ${b.error === undefined ? "none" : `${b.error} (${b.message})`}`,
    );
    return out;
  }
  if (a.rowCount !== b.rowCount) out.push(`rows: PostgreSQL ${a.rowCount}, pgsim ${b.rowCount}`);
  if (a.ctids !== undefined && b.ctids !== undefined) {
    const x = a.ctids.map(tidText).join(" ");
    const y = b.ctids.map(tidText).join(" ");
    if (x !== y) out.push(`ctids: PostgreSQL ${x || "none"}, pgsim ${y || "none"}`);
  }
  if (a.rows !== undefined && b.rows !== undefined) {
    const x = JSON.stringify(a.rows);
    const y = JSON.stringify(b.rows);
    if (x !== y) out.push(`rows returned: PostgreSQL ${x.slice(0, 300)}, pgsim ${y.slice(0, 300)}`);
  }
  if (a.xid !== undefined && b.xid !== undefined && (a.xid === 0) !== (b.xid === 0)) {
    out.push(
      `xid assigned: PostgreSQL ${a.xid === 0 ? "no" : "yes"}, pgsim ${b.xid === 0 ? "no" : "yes"}`,
    );
  }
  return out;
}
