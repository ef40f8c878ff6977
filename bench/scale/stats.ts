/** Latency summaries of the scale benchmark. Pure. */

/** p50/p95/max/mean of a set of durations (same unit as the input). */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (`p` in 0–100) of `sorted` (ascending); NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Summary of `values` (NaN fields when empty). */
export function summarize(values: number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1) ?? NaN, mean };
}

/** Durations `end[k] − start[k]` in seconds for every key present in both maps (times in ms). */
export function durationsS(start: Map<string, number>, end: Map<string, number>): number[] {
  const out: number[] = [];
  for (const [k, t0] of start) {
    const t1 = end.get(k);
    if (t1 !== undefined) out.push((t1 - t0) / 1000);
  }
  return out;
}
