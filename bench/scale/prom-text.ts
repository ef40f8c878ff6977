/**
 * Reading Prometheus text exposition (the operator's `/metrics`, the API server's `/metrics`): samples,
 * sums over label filters, differences between two scrapes and quantiles estimated from histogram buckets.
 * Pure.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses every sample of `text` (comments and malformed lines are skipped). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Whether `s` carries every label of `filter` with the same value. */
function matches(s: Sample, filter: Record<string, string>): boolean {
  return Object.entries(filter).every(([k, v]) => s.labels[k] === v);
}

/** Sum of the samples called `name` matching `filter`. */
export function sumOf(samples: Sample[], name: string, filter: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && matches(s, filter)).reduce((a, s) => a + s.value, 0);
}

/** Sum of `name` grouped by the values of `label`. */
export function sumBy(samples: Sample[], name: string, label: string, filter: Record<string, string> = {}): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name || !matches(s, filter)) continue;
    const k = s.labels[label] ?? '';
    out.set(k, (out.get(k) ?? 0) + s.value);
  }
  return out;
}

/** `after − before` per sample (same name and labels); samples absent before count from 0. Counters only. */
export function delta(before: Sample[], after: Sample[]): Sample[] {
  const key = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')}}`;
  const prev = new Map(before.map((s) => [key(s), s.value]));
  return after.map((s) => ({ ...s, value: s.value - (prev.get(key(s)) ?? 0) }));
}

/** A histogram summed over the label sets matching `filter`: cumulative buckets by upper bound, sum and count. */
export interface Histogram {
  buckets: Array<{ le: number; count: number }>;
  sum: number;
  count: number;
}

/** Collects histogram `name` (its `_bucket`, `_sum` and `_count` series) matching `filter`. */
export function histogramOf(samples: Sample[], name: string, filter: Record<string, string> = {}): Histogram {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !matches(s, filter) || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return {
    buckets: [...byLe].sort(([a], [b]) => a - b).map(([le, count]) => ({ le, count })),
    sum: sumOf(samples, `${name}_sum`, filter),
    count: sumOf(samples, `${name}_count`, filter),
  };
}

/**
 * The `q`-quantile (0–1) estimated as Prometheus' histogram_quantile does: linear inside the bucket that
 * holds the rank, the lower bound of the first bucket taken as 0; the highest finite bound when the rank
 * falls in +Inf. NaN for an empty histogram.
 */
export function quantile(h: Histogram, q: number): number {
  const total = h.buckets.at(-1)?.count ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Per-bucket (non-cumulative) counts, labelled `≤le`, skipping empty buckets. */
export function bucketCounts(h: Histogram): Array<{ upTo: string; count: number }> {
  const out: Array<{ upTo: string; count: number }> = [];
  let prev = 0;
  for (const b of h.buckets) {
    const n = b.count - prev;
    prev = b.count;
    if (n > 0) out.push({ upTo: b.le === Infinity ? '+Inf' : String(b.le), count: n });
  }
  return out;
}
