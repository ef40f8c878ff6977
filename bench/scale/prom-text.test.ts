import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { bucketCounts, delta, histogramOf, parseProm, quantile, sumBy, sumOf, type Histogram } from './prom-text.js';

const TEXT = `# HELP haein_reconcile_total Reconcile passes
# TYPE haein_reconcile_total counter
haein_reconcile_total{controller="gpupartition",result="success"} 12
haein_reconcile_total{controller="gpupartition",result="requeue"} 30
haein_reconcile_total{controller="gpunode",result="success"} 5
weird_label{path="a\\"b\\\\c"} 1
haein_leader 1
not a sample line
`;

describe('parseProm', () => {
  it('reads names, labels (with escapes) and values, skipping comments and junk', () => {
    const s = parseProm(TEXT);
    expect(s).toHaveLength(5);
    expect(s.find((x) => x.name === 'weird_label')?.labels.path).toBe('a"b\\c');
    expect(s.find((x) => x.name === 'haein_leader')).toEqual({ name: 'haein_leader', labels: {}, value: 1 });
  });

  it('sums by filter and groups by label', () => {
    const s = parseProm(TEXT);
    expect(sumOf(s, 'haein_reconcile_total')).toBe(47);
    expect(sumOf(s, 'haein_reconcile_total', { controller: 'gpupartition' })).toBe(42);
    expect(Object.fromEntries(sumBy(s, 'haein_reconcile_total', 'result'))).toEqual({ success: 17, requeue: 30 });
  });

  it('differences two scrapes label set by label set, counting new series from zero', () => {
    const before = parseProm('a{x="1"} 3\na{x="2"} 4');
    const after = parseProm('a{x="2"} 10\na{x="1"} 3\na{x="3"} 2');
    expect(delta(before, after).map((s) => [s.labels.x, s.value])).toEqual([['2', 6], ['1', 0], ['3', 2]]);
  });
});

/** Cumulative histogram of `values` over `bounds` as Prometheus exposes it. */
function expose(values: number[], bounds: number[]): string {
  const lines = bounds.map((b) => `h_bucket{le="${b}",k="a"} ${values.filter((v) => v <= b).length}`);
  lines.push(`h_bucket{le="+Inf",k="a"} ${values.length}`, `h_sum{k="a"} ${values.reduce((a, b) => a + b, 0)}`, `h_count{k="a"} ${values.length}`);
  return lines.join('\n');
}

describe('histograms', () => {
  const bounds = [0.1, 0.25, 0.5, 1, 2, 5];

  it('collects buckets, sum and count and lists per-bucket counts', () => {
    const h = histogramOf(parseProm(expose([0.05, 0.3, 0.3, 4, 9], bounds)), 'h', { k: 'a' });
    expect(h.count).toBe(5);
    expect(h.sum).toBeCloseTo(13.65);
    expect(bucketCounts(h)).toEqual([{ upTo: '0.1', count: 1 }, { upTo: '0.5', count: 2 }, { upTo: '5', count: 1 }, { upTo: '+Inf', count: 1 }]);
  });

  it('places every quantile estimate inside the bucket that holds the true quantile', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 4.9, noNaN: true }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (values, q) => {
        const h = histogramOf(parseProm(expose(values, bounds)), 'h');
        const sorted = [...values].sort((a, b) => a - b);
        const truth = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
        const hi = bounds.find((b) => truth <= b)!;
        const lo = [0, ...bounds][bounds.indexOf(hi)]!;
        const est = quantile(h, q);
        expect(est).toBeGreaterThanOrEqual(lo - 1e-9);
        expect(est).toBeLessThanOrEqual(hi + 1e-9);
      }),
    );
  });

  it('is NaN for an empty histogram and the top finite bound for ranks in +Inf', () => {
    const empty: Histogram = { buckets: [], sum: 0, count: 0 };
    expect(quantile(empty, 0.5)).toBeNaN();
    const h = histogramOf(parseProm(expose([10, 20], bounds)), 'h');
    expect(quantile(h, 0.99)).toBe(5);
  });
});
