/**
 * mulberry32: a tiny, fast 32-bit PRNG, so that a seed always yields the same sequence on every
 * machine — the traces of the lab, and the seeded workloads of pgsim's tests and benchmarks.
 *
 * Models: pgsim only (no PostgreSQL counterpart).
 * Entry points: `mulberry32`.
 */

/** A generator of floats in [0, 1) from a 32-bit seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
