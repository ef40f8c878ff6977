import { describe, expect, it } from '@jest/globals';
import { summarizeProfile, type CpuProfile } from './cpu-profile.js';

const frame = (functionName: string, line = 0) => ({ functionName, url: `file:///repo/dist/src/x.js`, lineNumber: line });

/** root → a → b, root → c → a (a again under c), root → (idle); samples give each node a known time. */
function profile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4, 6] },
      { id: 2, callFrame: frame('a', 9), children: [3] },
      { id: 3, callFrame: frame('b', 19) },
      { id: 4, callFrame: frame('c', 29), children: [5] },
      { id: 5, callFrame: frame('a', 9) },
      { id: 6, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
    ],
    startTime: 0,
    endTime: 100,
    // Each sample lasts until the next one: node 2 for 10 µs, node 3 for 20, node 5 for 30, idle for 40.
    samples: [2, 3, 5, 6, 6],
    timeDeltas: [0, 10_000, 20_000, 30_000, 40_000],
  };
}

describe('summarizeProfile', () => {
  it('attributes self time to the sampled function and busy time excludes idle', () => {
    const s = summarizeProfile(profile());
    expect(s.totalMs).toBeCloseTo(60);
    const self = Object.fromEntries(s.self.map((x) => [x.fn.split(' ')[0], x.ms]));
    expect(self).toEqual({ a: 40, b: 20 });
  });

  it('keeps only the samples of a time window', () => {
    // Sample times: 0, 10, 30, 60, 100 ms; the window [5, 40) holds the samples in node 3 and node 5.
    const s = summarizeProfile(profile(), 15, { fromMs: 5, toMs: 40 });
    expect(Object.fromEntries(s.self.map((x) => [x.fn.split(' ')[0], x.ms]))).toEqual({ b: 20, a: 30 });
  });

  it('counts a function once per path in inclusive time, with callees', () => {
    const s = summarizeProfile(profile());
    const inc = Object.fromEntries(s.inclusive.map((x) => [x.fn.split(' ')[0], x.ms]));
    // a: its own subtree under root (10 + 20) plus its call under c (30).
    expect(inc.a).toBeCloseTo(60);
    expect(inc.c).toBeCloseTo(30);
    expect(inc.b).toBeCloseTo(20);
    expect(s.inclusive[0]!.share).toBeCloseTo(1);
    expect(s.inclusive[0]!.fn).toBe('a (dist/src/x.js:10)');
  });
});
