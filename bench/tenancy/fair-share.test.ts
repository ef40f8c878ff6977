import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { fairShares, ShareTracker, type ShareInput } from './fair-share.js';

const t = (name: string, demand: number, nominal: number, extra: Partial<ShareInput> = {}): ShareInput => ({ name, demand, nominal, weight: 1, ...extra });

describe('fairShares', () => {
  it('outside a cohort: the demand, up to the nominal quota', () => {
    expect(fairShares([t('a', 5, 10), t('b', 30, 10)])).toEqual(new Map([['a', 5], ['b', 10]]));
  });

  it('in a cohort: idle quota goes to those who want more, by weight', () => {
    // Pool 30; a idle-ish (4 of 10); b and c want 100 each with weights 1 and 3: b gets 10 + ..., c 3× b's level.
    const s = fairShares([t('a', 4, 10, { cohort: 'c' }), t('b', 100, 10, { cohort: 'c' }), t('c', 100, 10, { cohort: 'c', weight: 3 })]);
    expect(s.get('a')).toBeCloseTo(4);
    expect(s.get('b')! + s.get('c')!).toBeCloseTo(26);
    expect(s.get('b')).toBeCloseTo(10);
    expect(s.get('c')).toBeCloseTo(16);
    // Equal weights: the borrowed 6 split evenly above each one's guarantee.
    const even = fairShares([t('a', 4, 10, { cohort: 'c' }), t('b', 100, 10, { cohort: 'c' }), t('c', 100, 10, { cohort: 'c' })]);
    expect(even.get('b')).toBeCloseTo(13);
    expect(even.get('c')).toBeCloseTo(13);
  });

  it('borrowing and lending limits hold', () => {
    const capped = fairShares([t('a', 0, 10, { cohort: 'c' }), t('b', 100, 10, { cohort: 'c', borrowingLimit: 2 })]);
    expect(capped.get('b')).toBeCloseTo(12);
    const lends = fairShares([t('a', 0, 10, { cohort: 'c', lendingLimit: 4 }), t('b', 100, 10, { cohort: 'c' })]);
    expect(lends.get('b')).toBeCloseTo(14);
  });

  it('never gives less than min(demand, nominal), never more than the demand, and keeps the pool', () => {
    const member = fc.record({ demand: fc.double({ min: 0, max: 50, noNaN: true }), nominal: fc.integer({ min: 0, max: 20 }), weight: fc.double({ min: 0.5, max: 4, noNaN: true }), lend: fc.option(fc.integer({ min: 0, max: 20 })), borrow: fc.option(fc.integer({ min: 0, max: 20 })) });
    fc.assert(
      fc.property(fc.array(member, { minLength: 1, maxLength: 6 }), (ms) => {
        const inputs = ms.map((m, i) => t(`t${i}`, m.demand, m.nominal, { cohort: 'c', weight: m.weight, ...(m.lend !== null ? { lendingLimit: m.lend } : {}), ...(m.borrow !== null ? { borrowingLimit: m.borrow } : {}) }));
        const s = fairShares(inputs);
        let used = 0;
        let pool = 0;
        for (const x of inputs) {
          const share = s.get(x.name)!;
          expect(share).toBeGreaterThanOrEqual(Math.min(x.demand, x.nominal) - 1e-9);
          expect(share).toBeLessThanOrEqual(x.demand + 1e-9);
          expect(share).toBeLessThanOrEqual(x.nominal + (x.borrowingLimit ?? Infinity) + 1e-9);
          const lend = Math.min(x.lendingLimit ?? x.nominal, x.nominal);
          pool += lend;
          used += Math.max(0, share - (x.nominal - lend));
        }
        expect(used).toBeLessThanOrEqual(pool + 1e-6);
      }),
    );
  });
});

describe('ShareTracker', () => {
  it('averages |held − fair| over the samples where a tenant waits for more than it holds', () => {
    const tr = new ShareTracker(100);
    // a wants 30, holds 20, fair 10 (nominal, no cohort): deviation 10 for 5 s; b is satisfied: not counted.
    tr.sample(5, [t('a', 30, 10), t('b', 5, 10)], new Map([['a', 20], ['b', 5]]));
    // a holds 10 of a fair 10 for 15 s.
    tr.sample(15, [t('a', 30, 10), t('b', 5, 10)], new Map([['a', 10], ['b', 5]]));
    expect(tr.figures()).toEqual([{ tenant: 'a', backloggedHours: 20 / 3600, servedShare: (20 * 5 + 10 * 15) / 20 / 100, fairShare: 0.1, deviation: (10 * 5) / 20 / 100 }]);
    expect(tr.maxDeviation()).toBeCloseTo(0.025);
    expect(new ShareTracker(10).maxDeviation()).toBe(0);
  });
});
