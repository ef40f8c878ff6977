import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { durationsS, percentile, summarize } from './stats.js';

describe('summaries', () => {
  it('nearest-rank percentiles are members of the data, ordered, and p100 is the max', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 300 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        const s = summarize(xs);
        expect(xs).toContain(s.p50);
        expect(s.p50).toBeLessThanOrEqual(s.p95);
        expect(s.p95).toBeLessThanOrEqual(s.max);
        expect(percentile(sorted, 100)).toBe(Math.max(...xs));
        // At least half the data is ≤ p50, at least 95 % is ≤ p95.
        expect(xs.filter((x) => x <= s.p50).length).toBeGreaterThanOrEqual(xs.length * 0.5);
        expect(xs.filter((x) => x <= s.p95).length).toBeGreaterThanOrEqual(xs.length * 0.95);
      }),
    );
  });

  it('is NaN for no data', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.mean).toBeNaN();
  });

  it('pairs start and end times by key, in seconds, skipping unfinished keys', () => {
    const start = new Map([['a', 1000], ['b', 2000], ['c', 3000]]);
    const end = new Map([['a', 3500], ['c', 3250], ['z', 9]]);
    expect(durationsS(start, end)).toEqual([2.5, 0.25]);
  });
});
