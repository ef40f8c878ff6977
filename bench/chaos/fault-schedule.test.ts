import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FAULT_KINDS, planFaults, quietMoments } from './fault-schedule.js';

const short = { durationS: 90, seed: 1, leaderKillEveryS: 10, leaderStopS: 22, faultEveryS: 150 };

describe('planFaults', () => {
  it('puts every kind in the short run, the SIGSTOP alone in its span, in time order', () => {
    const plan = planFaults(short);
    for (const k of FAULT_KINDS) expect(plan.some((f) => f.kind === k)).toBe(true);
    expect(plan.map((f) => f.atS)).toEqual([...plan.map((f) => f.atS)].sort((a, b) => a - b));
    const stop = plan.find((f) => f.kind === 'leader-stop')!;
    expect(plan.filter((f) => f !== stop && f.atS > stop.atS - 3 && f.atS < stop.atS + short.leaderStopS + 6)).toEqual([]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    expect(planFaults(short)).toEqual(planFaults(short));
    expect(planFaults(short)).not.toEqual(planFaults({ ...short, seed: 2 }));
  });

  it('repeats each kind once per --fault-every-s, the state corruption once, and leader kills on their period', () => {
    const plan = planFaults({ ...short, durationS: 600 });
    const n = (k: string) => plan.filter((f) => f.kind === k).length;
    expect([n('leader-stop'), n('apiserver-restart'), n('etcd-restart'), n('agent-kill'), n('agent-state-corrupt')]).toEqual([4, 4, 4, 4, 1]);
    expect(n('leader-kill')).toBeGreaterThan(30);
  });

  it('keeps faults inside the churn and apart (property over seeds and lengths)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 70, max: 400 }), (seed, durationS) => {
        const plan = planFaults({ ...short, seed, durationS });
        for (const f of plan) expect(f.atS >= 8 && f.atS <= durationS - 6).toBe(true);
        const others = plan.filter((f) => f.kind !== 'leader-kill');
        for (let i = 1; i < others.length; i++) {
          const prev = others[i - 1]!;
          const gap = prev.kind === 'leader-stop' ? short.leaderStopS + 6 + 6 : 6;
          expect(others[i]!.atS - prev.atS).toBeGreaterThanOrEqual(gap - 1e-9);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a duration that cannot hold the faults', () => {
    expect(() => planFaults({ ...short, durationS: 30 })).toThrow(/cannot hold/);
  });
});

describe('quietMoments', () => {
  it('finds one moment per quiet gap, clear of every fault and of the whole SIGSTOP', () => {
    const faults = [
      { atS: 10, kind: 'leader-kill' as const },
      { atS: 30, kind: 'leader-stop' as const },
      { atS: 70, kind: 'etcd-restart' as const },
    ];
    // Gaps: 8–10 (too short), 10–30 → 20, 30–58 is the SIGSTOP span, 58–70 → too short for 7 s either side, 70–84 → 77.
    expect(quietMoments(faults, { durationS: 90, leaderStopS: 22 })).toEqual([20, 77]);
  });

  it('keeps every moment 7 s from any fault in real schedules (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (seed) => {
        const plan = planFaults({ ...short, seed, durationS: 300 });
        for (const t of quietMoments(plan, short)) {
          for (const f of plan) {
            const end = f.kind === 'leader-stop' ? f.atS + short.leaderStopS + 6 : f.atS;
            expect(t <= f.atS - 7 || t >= end + 7).toBe(true);
          }
        }
      }),
      { numRuns: 40 },
    );
  });
});
