/**
 * PostgreSQL's own quicksort, element for element: the order it leaves equal elements in is part
 * of what some callers write to disk (nbtree's split-point choice sorts candidate split points by
 * a delta that often ties, and takes the first one).
 *
 * Models: src/port/qsort.c (`pg_qsort`), which instantiates src/include/lib/sort_template.h:
 * Bentley & McIlroy's "Engineering a Sort Function" — insertion sort below 7 elements, a presorted
 * check, median of three (ninther above 40 elements), three-way partition with equal elements
 * swapped to the ends and back to the middle, recursion on the smaller side.
 * Entry points: `pgQsort`.
 * See also: ../access/nbtree/nbtsplitloc.ts (the caller that depends on the exact order).
 */

/**
 * pg_qsort: sorts `data` in place with `cmp` (negative, zero, positive), moving elements exactly
 * as PostgreSQL 15's qsort does, so that equal elements end up in the same (unstable) order.
 */
export function pgQsort<T>(data: T[], cmp: (a: T, b: T) => number): void {
  sortRange(data, 0, data.length, cmp);
}

function swap<T>(d: T[], i: number, j: number): void {
  const t = d[i] as T;
  d[i] = d[j] as T;
  d[j] = t;
}

/** ST_SWAPN: swaps n consecutive elements starting at i with those starting at j. */
function swapn<T>(d: T[], i: number, j: number, n: number): void {
  for (let k = 0; k < n; k++) swap(d, i + k, j + k);
}

function med3<T>(d: T[], a: number, b: number, c: number, cmp: (a: T, b: T) => number): number {
  const x = d[a] as T;
  const y = d[b] as T;
  const z = d[c] as T;
  return cmp(x, y) < 0
    ? cmp(y, z) < 0
      ? b
      : cmp(x, z) < 0
        ? c
        : a
    : cmp(y, z) > 0
      ? b
      : cmp(x, z) < 0
        ? a
        : c;
}

/** ST_SORT over d[a .. a+n): the loop with its tail iteration, recursing on the other side. */
function sortRange<T>(d: T[], start: number, count: number, cmp: (a: T, b: T) => number): void {
  let a = start;
  let n = count;
  // Each pass either returns or continues on a strictly smaller range.
  for (;;) {
    const at = (i: number) => d[i] as T;
    if (n < 7) {
      for (let pm = a + 1; pm < a + n; pm++) {
        for (let pl = pm; pl > a && cmp(at(pl - 1), at(pl)) > 0; pl--) swap(d, pl, pl - 1);
      }
      return;
    }
    let presorted = true;
    for (let pm = a + 1; pm < a + n; pm++) {
      if (cmp(at(pm - 1), at(pm)) > 0) {
        presorted = false;
        break;
      }
    }
    if (presorted) return;
    let pm = a + Math.floor(n / 2);
    if (n > 7) {
      let pl = a;
      let pn = a + n - 1;
      if (n > 40) {
        const step = Math.floor(n / 8);
        pl = med3(d, pl, pl + step, pl + 2 * step, cmp);
        pm = med3(d, pm - step, pm, pm + step, cmp);
        pn = med3(d, pn - 2 * step, pn - step, pn, cmp);
      }
      pm = med3(d, pl, pm, pn, cmp);
    }
    swap(d, a, pm);
    let pa = a + 1;
    let pb = pa;
    let pc = a + n - 1;
    let pd = pc;
    for (;;) {
      for (; pb <= pc; pb++) {
        const r = cmp(at(pb), at(a));
        if (r > 0) break;
        if (r === 0) {
          swap(d, pa, pb);
          pa++;
        }
      }
      for (; pb <= pc; pc--) {
        const r = cmp(at(pc), at(a));
        if (r < 0) break;
        if (r === 0) {
          swap(d, pc, pd);
          pd--;
        }
      }
      if (pb > pc) break;
      swap(d, pb, pc);
      pb++;
      pc--;
    }
    const pn = a + n;
    let d1 = Math.min(pa - a, pb - pa);
    swapn(d, a, pb - d1, d1);
    d1 = Math.min(pd - pc, pn - pd - 1);
    swapn(d, pb, pn - d1, d1);
    d1 = pb - pa;
    const d2 = pd - pc;
    if (d1 <= d2) {
      if (d1 > 1) sortRange(d, a, d1, cmp);
      if (d2 <= 1) return;
      a = pn - d2;
      n = d2;
    } else {
      if (d2 > 1) sortRange(d, pn - d2, d2, cmp);
      if (d1 <= 1) return;
      n = d1;
    }
  }
}
