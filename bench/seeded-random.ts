/**
 * Seeded random helpers shared by the benchmark workloads, so a seed gives the same stream everywhere.
 */

/** Deterministic PRNG (mulberry32): a function returning numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One item of `items` (pairs of item and relative weight), drawn with probability proportional to its weight. */
export function pick<T>(r: () => number, items: Array<[T, number]>): T {
  const total = items.reduce((s, [, w]) => s + w, 0);
  let x = r() * total;
  for (const [item, w] of items) {
    x -= w;
    if (x < 0) return item;
  }
  // Rounding can leave x at a hair above zero after the last weight.
  return items[items.length - 1]![0];
}
