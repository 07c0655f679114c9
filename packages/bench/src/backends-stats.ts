/**
 * `pgsim-bench backends`' statistics: a growable buffer of latency samples, nearest-rank
 * percentiles, a point's latency summary, and the number formats the progress lines and the
 * reports share.
 *
 * Models: pgbench's latency reporting (`--progress`, `-l`), with percentiles by the nearest-rank
 * method (pgsim only: pgbench itself prints the mean and standard deviation).
 * Entry points: `SampleBuffer`, `percentile`, `summarizeLatencies`, `LatencySummary`,
 * `formatTps`, `formatMs`.
 * See also: backends-run.ts (collects the samples), backends-report.ts (prints them).
 */

/** Latency percentiles of one point, in milliseconds. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** A growable array of float64 samples (a transaction's latency in ms), without boxing. */
export class SampleBuffer {
  private data = new Float64Array(1 << 14);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
  }

  /** The samples so far, as a view (no copy). */
  values(): Float64Array {
    return this.data.subarray(0, this.n);
  }
}

/**
 * The p-th percentile of ascending samples by the nearest-rank method: the smallest sample with
 * at least p % of the samples at or below it (`sorted[ceil(p/100 · n) − 1]`, the first sample for
 * p = 0). NaN for no samples.
 *
 * @example
 * ```ts
 * percentile(Float64Array.of(1, 2, 3, 4), 50); // 2
 * percentile(Float64Array.of(1, 2, 3, 4), 99); // 4
 * ```
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[Math.min(n, rank) - 1]!;
}

/** Count, mean, p50, p95, p99 and max of latency samples (ms), in any order. */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    meanMs: n === 0 ? Number.NaN : sum / n,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: n === 0 ? Number.NaN : sorted[n - 1]!,
  };
}

/** Transactions per second, rounded, with thousands separators. */
export function formatTps(tps: number): string {
  return Math.round(tps).toLocaleString("en-US");
}

/** Milliseconds with three significant-ish digits (0.123, 1.23, 12.3). */
export function formatMs(ms: number): string {
  return ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}
