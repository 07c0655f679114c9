/**
 * The speed of light of each `dml` statement: only the byte work the statement cannot avoid on
 * the same heap pages — no buffer manager, no locks, no visibility rules, no WAL, no free space
 * map — so that pgsim's per-row cost can be read as a multiple of what the machine needs.
 *
 * Measures, per row of the `dml` table (aid int4, abalance int4: a 32-byte tuple, 226 a page):
 * - insert: the tuple's header and data written at pd_upper, its line pointer, pd_lower/upper;
 * - update: the old tuple's data read, the new version written on another page (header, data,
 *   line pointer), the old one's t_xmax, t_infomask, t_infomask2 and t_ctid set;
 * - delete: the tuple's t_xmax, t_infomask, t_infomask2 and t_ctid set;
 * - vacuum: each tuple's t_xmax and t_infomask read (is it dead?), its line pointer marked dead
 *   by pruning, then unused by the second pass, and the page's pd_lower/pd_upper reset.
 * Entry points: `runSpeedOfLight`, `SpeedOfLight`, `SPEED_OF_LIGHT_SCOPE`.
 * See also: micro.ts (reports it), dml.ts (the statements it bounds), ../README.md.
 *
 * Models: pgsim only (a lower bound for PostgreSQL's heap_insert / heap_update / heap_delete /
 * lazy_scan_prune + lazy_vacuum_heap_page byte writes, in the page format of bufpage.h and
 * htup_details.h).
 */

import { BLCKSZ } from "@pgsim/buffer-manager";

/** Tuples of (int4, int4) on a page at fillfactor 100 (MAXALIGN(23 + 1) + 8 = 32 bytes + 4). */
const TUPLES_PER_PAGE = 226;
const TUPLE_LEN = 32;
const HEADER = 24;
const HEAP_XMAX_INVALID = 0x0800;
const HEAP_XMIN_COMMITTED = 0x0100;
const HEAP_UPDATED = 0x2000;
const HEAP_KEYS_UPDATED = 0x2000; // in t_infomask2
const LP_NORMAL = 1;
const LP_DEAD = 3;

/** What a statement's minimal byte work costs, in nanoseconds per row. */
export interface SpeedOfLight {
  insert: number;
  update: number;
  delete: number;
  vacuum: number;
  /** Rows per statement pass measured. */
  rows: number;
}

/** What the figures include and leave out. */
export const SPEED_OF_LIGHT_SCOPE =
  "the unavoidable byte work of each statement on (int4, int4) heap pages: tuple headers, data, line pointers and page bounds; no buffer manager, locks, visibility, WAL, FSM or VM";

/**
 * A set of pages seen as bytes, 16-bit and 32-bit words (the fields are aligned: tuples start
 * MAXALIGNed, so every 16- and 32-bit field of a header sits on its own alignment; the machine is
 * little-endian, as the page format is).
 */
class Pages {
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  constructor(bytes: number) {
    const buf = new ArrayBuffer(bytes);
    this.u8 = new Uint8Array(buf);
    this.u16 = new Uint16Array(buf);
    this.u32 = new Uint32Array(buf);
  }
}

function u16(p: Pages, o: number, v: number): void {
  p.u16[o >>> 1] = v;
}

function u32(p: Pages, o: number, v: number): void {
  p.u32[o >>> 2] = v;
}

function r32(p: Pages, o: number): number {
  return p.u32[o >>> 2]!;
}

function r16(p: Pages, o: number): number {
  return p.u16[o >>> 1]!;
}

/** PageInit's header: pd_lower 24, pd_upper = pd_special = 8192, version 0x2004. */
function initPage(p: Pages, base: number): void {
  u16(p, base + 12, HEADER);
  u16(p, base + 14, BLCKSZ);
  u16(p, base + 16, BLCKSZ);
  u16(p, base + 18, 0x2004);
}

/** heap_insert's bytes: the tuple at pd_upper, its line pointer, the bounds. Returns the offset. */
function putTuple(p: Pages, base: number, xid: number, block: number, a: number, b: number) {
  const lower = r16(p, base + 12);
  const upper = r16(p, base + 14) - TUPLE_LEN;
  const off = (lower - HEADER) / 4 + 1;
  const t = base + upper;
  u32(p, t, xid); // t_xmin
  u32(p, t + 4, 0); // t_xmax
  u32(p, t + 8, 0); // t_cid
  u16(p, t + 12, block >>> 16); // t_ctid: bi_hi
  u16(p, t + 14, block & 0xffff); // t_ctid: bi_lo
  u16(p, t + 16, off); // t_ctid: offset
  u16(p, t + 18, 2); // t_infomask2: natts
  u16(p, t + 20, HEAP_XMAX_INVALID); // t_infomask
  p.u8[t + 22] = HEADER; // t_hoff
  u32(p, t + 24, a);
  u32(p, t + 28, b);
  u32(p, base + lower, upper | (LP_NORMAL << 15) | (TUPLE_LEN << 17));
  u16(p, base + 12, lower + 4);
  u16(p, base + 14, upper);
  return off;
}

function fill(pages: Pages, npages: number, xid: number): void {
  for (let b = 0; b < npages; b++) {
    const base = b * BLCKSZ;
    initPage(pages, base);
    for (let i = 0; i < TUPLES_PER_PAGE; i++) putTuple(pages, base, xid, b, b * 226 + i, 0);
  }
}

/** Where line pointer `off` of the page at `base` points. */
function itemAt(p: Pages, base: number, off: number): number {
  return base + (r32(p, base + HEADER + (off - 1) * 4) & 0x7fff);
}

function timeNs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Runs each statement's kernel over `pages` pages of 226 rows, `repeat` times, and returns the
 * median nanoseconds per row of each.
 */
export function runSpeedOfLight(options: { pages?: number; repeat?: number } = {}): SpeedOfLight {
  const npages = options.pages ?? 2048;
  const repeat = options.repeat ?? 5;
  const rows = npages * TUPLES_PER_PAGE;
  const pages = new Pages(npages * BLCKSZ);
  const newPages = new Pages(npages * BLCKSZ);
  const samples = {
    insert: [] as number[],
    update: [] as number[],
    delete: [] as number[],
    vacuum: [] as number[],
  };
  let sink = 0;
  for (let r = 0; r < repeat + 1; r++) {
    pages.u8.fill(0);
    newPages.u8.fill(0);
    const insert = timeNs(() => fill(pages, npages, 10));
    // UPDATE … SET abalance = abalance + 1: every page is full, so each new version goes to
    // another page (a cold update), as in the dml run.
    const update = timeNs(() => {
      let target = 0;
      initPage(newPages, 0);
      for (let b = 0; b < npages; b++) {
        const base = b * BLCKSZ;
        for (let off = 1; off <= TUPLES_PER_PAGE; off++) {
          const t = itemAt(pages, base, off);
          const aid = r32(pages, t + 24);
          const abalance = r32(pages, t + 28);
          let nbase = target * BLCKSZ;
          if (r16(newPages, nbase + 14) - r16(newPages, nbase + 12) < TUPLE_LEN + 4) {
            target++;
            nbase = target * BLCKSZ;
            initPage(newPages, nbase);
          }
          const noff = putTuple(newPages, nbase, 11, target, aid, abalance + 1);
          u16(newPages, itemAt(newPages, nbase, noff) + 20, HEAP_XMAX_INVALID | HEAP_UPDATED);
          u32(pages, t + 4, 11); // t_xmax
          u16(pages, t + 20, (r16(pages, t + 20) & ~HEAP_XMAX_INVALID) | HEAP_XMIN_COMMITTED);
          u16(pages, t + 18, r16(pages, t + 18));
          u16(pages, t + 12, target >>> 16); // t_ctid → the new version
          u16(pages, t + 14, target & 0xffff);
          u16(pages, t + 16, noff);
        }
      }
      sink ^= target;
    });
    // DELETE FROM accounts (on the new versions).
    const del = timeNs(() => {
      for (let b = 0; b < npages; b++) {
        const base = b * BLCKSZ;
        const n = (r16(newPages, base + 12) - HEADER) / 4;
        for (let off = 1; off <= n; off++) {
          const t = itemAt(newPages, base, off);
          u32(newPages, t + 4, 12);
          u16(newPages, t + 20, r16(newPages, t + 20) & ~HEAP_XMAX_INVALID);
          u16(newPages, t + 18, r16(newPages, t + 18) | HEAP_KEYS_UPDATED);
          // t_ctid stays the tuple's own TID: heap_delete rewrites it in place.
          u16(newPages, t + 16, r16(newPages, t + 16));
        }
      }
    });
    // VACUUM: every tuple of the old pages is dead: prune marks each line pointer dead, the
    // second pass marks it unused and the page becomes empty.
    const vacuum = timeNs(() => {
      for (let b = 0; b < npages; b++) {
        const base = b * BLCKSZ;
        const n = (r16(pages, base + 12) - HEADER) / 4;
        for (let off = 1; off <= n; off++) {
          const lp = base + HEADER + (off - 1) * 4;
          const t = base + (r32(pages, lp) & 0x7fff);
          sink ^= r32(pages, t + 4) ^ r16(pages, t + 20);
          u32(pages, lp, LP_DEAD << 15);
        }
        for (let off = 1; off <= n; off++) u32(pages, base + HEADER + (off - 1) * 4, 0);
        u16(pages, base + 12, HEADER);
        u16(pages, base + 14, BLCKSZ);
      }
    });
    if (r === 0) continue; // warm-up
    samples.insert.push(insert / rows);
    samples.update.push(update / rows);
    samples.delete.push(del / rows);
    samples.vacuum.push(vacuum / rows);
  }
  if (sink === 0.5) throw new Error("unreachable");
  return {
    insert: median(samples.insert),
    update: median(samples.update),
    delete: median(samples.delete),
    vacuum: median(samples.vacuum),
    rows,
  };
}
