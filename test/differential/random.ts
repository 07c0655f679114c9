/**
 * A small seeded pseudo-random generator for the differential tester: the same seed gives the
 * same sequence on every machine and Node version.
 *
 * Models: nothing in PostgreSQL (pgsim only). The generator is SplitMix32 (a 32-bit variant of
 * SplitMix64), good enough for choosing operations and values.
 * Entry points: `Rng`.
 * See also: generate.ts (its main user).
 */

/** A seeded generator of integers, choices and strings. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.nextU32() / 2 ** 32;
  }

  /** An integer in [lo, hi] (both inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Rng.pick: empty array");
    return items[this.int(0, items.length - 1)]!;
  }

  /** One of the keys, chosen with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as [K, number][];
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let x = this.float() * total;
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }

  /** A string of `length` lowercase letters. */
  letters(length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) s += String.fromCharCode(97 + this.int(0, 25));
    return s;
  }
}
