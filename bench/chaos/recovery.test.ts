import { describe, expect, it } from '@jest/globals';
import { recoveryFigures } from './recovery.js';

describe('recoveryFigures', () => {
  it('summarises fault → serving per kind, counts the unrecovered, and leader recovery for leader faults', () => {
    const f = recoveryFigures([
      { kind: 'leader-kill', at: 0, servingAt: 2000, leaderAt: 1000 },
      { kind: 'leader-kill', at: 10_000, servingAt: 14_000, leaderAt: 11_000 },
      { kind: 'etcd-restart', at: 0 },
    ]);
    expect(f['leader-kill']).toEqual({ injected: 2, unrecovered: 0, p50S: 2, p95S: 4, maxS: 4, leaderP50S: 1, leaderP95S: 1 });
    expect(f['etcd-restart']).toEqual({ injected: 1, unrecovered: 1, p50S: null, p95S: null, maxS: null });
    expect(f['agent-kill'].injected).toBe(0);
  });
});
