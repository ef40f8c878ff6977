import { Backoff, KeyedBackoff, backoffDelay } from '../../../src/k8s/backoff.js';

describe('backoffDelay', () => {
  it('doubles from the base and caps at the maximum', () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5, 20].map((a) => backoffDelay(a, opts))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('jitters downwards within the jitter fraction', () => {
    const opts = { baseMs: 1000, maxMs: 10_000, jitter: 0.5 };
    expect(backoffDelay(0, { ...opts, random: () => 0 })).toBe(1000);
    expect(backoffDelay(0, { ...opts, random: () => 0.999999 })).toBe(500);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, opts);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe('Backoff', () => {
  it('grows until reset', () => {
    const b = new Backoff({ baseMs: 10, maxMs: 50 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 50]);
    expect(b.attempts).toBe(4);
    b.reset();
    expect(b.next()).toBe(10);
  });
});

describe('KeyedBackoff', () => {
  it('keeps an independent sequence per key, 100 ms to 60 s by default', () => {
    const k = new KeyedBackoff();
    expect(k.when('a')).toBe(100);
    expect(k.when('a')).toBe(200);
    expect(k.when('b')).toBe(100);
    expect(k.numRequeues('a')).toBe(2);
    for (let i = 0; i < 30; i++) k.when('a');
    expect(k.when('a')).toBe(60_000);
    k.forget('a');
    expect(k.numRequeues('a')).toBe(0);
    expect(k.when('a')).toBe(100);
  });
});
