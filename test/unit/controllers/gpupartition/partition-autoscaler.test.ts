import fc from 'fast-check';
import type { GpuPartition, PartitionAutoscale, PartitionAutoscaleStatus } from '../../../../src/api/types.js';
import { decideAutoscale, type AutoscaleDecision } from '../../../../src/controllers/gpupartition/partition-autoscaler.js';
import type { PartitionUsage } from '../../../../src/controllers/gpupartition/partition-usage.js';
import { makePartition } from '../../support/builders.js';

const NOW = new Date('2026-01-01T00:10:00Z');
const at = (secondsBefore: number) => new Date(NOW.getTime() - secondsBefore * 1000).toISOString();

function partition(count: number, autoscale: PartitionAutoscale, status?: Partial<PartitionAutoscaleStatus>): GpuPartition {
  const p = makePartition('serve', 'team-a', { profile: '3g.90gb', count, autoscale });
  if (status) p.status = { autoscale: { consumers: 0, desiredCount: 0, ...status } };
  return p;
}

/** `n` consumer pods, each with one slice, of which `admitted` passed the gate and `inUse` hold their slice. */
function usage(consumers: number, admitted = consumers, inUse = admitted): PartitionUsage {
  return { consumers, needed: consumers, admitted, inUse };
}

const decide = (p: GpuPartition, u: PartitionUsage, now = NOW, held = p.spec.count ?? 1, refused?: { code: string; message: string }): AutoscaleDecision =>
  decideAutoscale({ partition: p, usage: u, held, ...(refused ? { refused } : {}), now });
const bounds = { min: 1, max: 6, scaleDownDelaySeconds: 60 };

describe('decideAutoscale', () => {
  test.each([
    // name, count, consumers(admitted, inUse), bounds, new count, condition reason
    ['a new pod raises count at once', 1, [2, 1, 1], bounds, 2, 'FollowingConsumers'],
    ['six pods of a Deployment scaled 1 → 6', 1, [6, 1, 1], bounds, 6, 'FollowingConsumers'],
    ['more pods than max: count stops at max', 3, [9, 3, 3], bounds, 6, 'LimitedByMaximum'],
    ['no pods: count is raised to min', 0, [0], bounds, 1, 'FollowingConsumers'],
    ['min 0 and no pods: count 0 stays', 0, [0], { ...bounds, min: 0 }, undefined, 'FollowingConsumers'],
    ['count equal to the pods: nothing to do', 3, [3], bounds, undefined, 'FollowingConsumers'],
    ['a manual scale below the pods is undone', 1, [3], bounds, 3, 'FollowingConsumers'],
    ['a manual scale above max is lowered to max at once', 9, [2], bounds, 6, 'ScaleDownDelayed'],
    ['max lowered below pods holding slices: count keeps them', 5, [5], { ...bounds, max: 3 }, undefined, 'FollowingConsumers'],
  ] as const)('%s', (_name, count, [consumers, admitted, inUse], b, next, reason) => {
    const d = decide(partition(count, { ...b }), usage(consumers, admitted, inUse));
    expect(d.count).toBe(next);
    expect(d.condition.reason).toBe(reason);
    if (next !== undefined) {
      expect(d.events.map((e) => e.reason)).toEqual([next > count ? 'ScaledUp' : 'ScaledDown']);
      expect(d.status.lastScaleTime).toBe(NOW.toISOString());
    } else expect(d.events).toEqual([]);
  });

  test('the event says why: the pods, the bounds, or the manual count that was undone', () => {
    expect(decide(partition(1, bounds), usage(4, 1, 1)).events[0]?.message).toBe('count 1 → 4: 4 consumer pod(s) need 4 slice(s) (min 1, max 6)');
    expect(decide(partition(0, bounds), usage(0)).events[0]?.message).toBe('count 0 → 1: below spec.autoscale.min 1 (min 1, max 6)');
    expect(decide(partition(9, bounds), usage(2)).events[0]?.message).toBe('count 9 → 6: above spec.autoscale.max 6');
  });

  test('pods gone: the surplus waits for the delay, counted from when it began, then goes in one step', () => {
    const first = decide(partition(5, bounds), usage(2));
    expect(first.count).toBeUndefined();
    expect(first.status).toMatchObject({ consumers: 2, desiredCount: 2, scaleDownSince: NOW.toISOString(), scaleDownTo: 2 });
    expect(first.condition).toMatchObject({ status: 'False', reason: 'ScaleDownDelayed' });
    expect(first.condition.message).toContain('count goes from 5 to 2 at 2026-01-01T00:11:00.000Z');
    expect(first.requeueAfterMs).toBe(60_010);

    // 30 s later (e.g. after an operator restart): the clock comes from status, not memory.
    const later = new Date(NOW.getTime() + 30_000);
    const mid = decide(partition(5, bounds, first.status), usage(2), later);
    expect(mid.count).toBeUndefined();
    expect(mid.status.scaleDownSince).toBe(NOW.toISOString());
    expect(mid.requeueAfterMs).toBe(30_010);

    const due = new Date(NOW.getTime() + 60_000);
    const done = decide(partition(5, bounds, mid.status), usage(2), due);
    expect(done.count).toBe(2);
    expect(done.events[0]).toMatchObject({ reason: 'ScaledDown', message: expect.stringContaining('count 5 → 2: 3 slice(s) idle for spec.autoscale.scaleDownDelaySeconds (60 s)') });
    expect(done.status).toEqual({ consumers: 2, desiredCount: 2, lastScaleTime: due.toISOString() });
    expect(done.condition).toMatchObject({ status: 'True', reason: 'FollowingConsumers' });
  });

  test('a need that rose within the window is kept: count goes down to the peak, then later to the rest', () => {
    const started = { scaleDownSince: at(50), scaleDownTo: 2 };
    // Four pods again for a moment, fewer than count 5: the peak of the window is now 4.
    const peak = decide(partition(5, bounds, started), usage(4));
    expect(peak.status).toMatchObject({ scaleDownSince: at(50), scaleDownTo: 4 });
    // The window ends with only one pod left: count goes to the window's peak, and a new window starts.
    const end = decide(partition(5, bounds, peak.status), usage(1), new Date(NOW.getTime() + 10_000));
    expect(end.count).toBe(4);
    expect(end.status).toMatchObject({ desiredCount: 1, scaleDownSince: new Date(NOW.getTime() + 10_000).toISOString(), scaleDownTo: 1 });
    expect(end.condition.reason).toBe('ScaleDownDelayed');
    expect(end.requeueAfterMs).toBe(60_010);
  });

  test('the pods came back before the delay passed: the pending scale-down is dropped', () => {
    const d = decide(partition(5, bounds, { scaleDownSince: at(50), scaleDownTo: 2 }), usage(5));
    expect(d.count).toBeUndefined();
    expect(d.status.scaleDownSince).toBeUndefined();
    expect(d.condition.reason).toBe('FollowingConsumers');
  });

  test('a record from a higher count than now (count lowered meanwhile) restarts the clock', () => {
    const d = decide(partition(3, bounds, { scaleDownSince: at(500), scaleDownTo: 4 }), usage(1));
    expect(d.count).toBeUndefined();
    expect(d.status).toMatchObject({ scaleDownSince: NOW.toISOString(), scaleDownTo: 1 });
  });

  test('the delay has passed but an admitted pod does not hold its slice yet: no scale-down, and it says so', () => {
    const d = decide(partition(5, bounds, { scaleDownSince: at(120), scaleDownTo: 2 }), usage(2, 2, 1));
    expect(d.count).toBeUndefined();
    expect(d.condition).toMatchObject({ status: 'False', reason: 'WaitingForPods' });
    expect(d.condition.message).toContain('pods were admitted to 2 slice(s), the nodes report 1 in use');
    expect(d.requeueAfterMs).toBeUndefined();
  });

  test('delay 0: idle slices go at once', () => {
    expect(decide(partition(4, { ...bounds, scaleDownDelaySeconds: 0 }), usage(1)).count).toBe(1);
  });

  test('pods being deleted still hold their slices: the floor keeps them', () => {
    // Three pods hold slices; two of them are being deleted (not consumers any more) but still run.
    const d = decide(partition(3, { ...bounds, scaleDownDelaySeconds: 0 }), { consumers: 1, needed: 1, admitted: 3, inUse: 3 });
    expect(d.count).toBeUndefined();
    expect(d.status.desiredCount).toBe(3);
    expect(d.condition.message).toContain('pods hold or were admitted to 3');
  });

  test('the cluster has no room for the whole growth: one slice more than held, then one at a time, then whole steps again', () => {
    const refused = { code: 'InsufficientCapacity', message: 'no node has room' };
    // 2 held, the pods need 6, count 6 was refused.
    const step = decide(partition(6, bounds), usage(6, 2, 2), NOW, 2, refused);
    expect(step.count).toBe(3);
    expect(step.status.stepwise).toBe(true);
    expect(step.events[0]?.message).toBe('count 6 → 3: the cluster has no room for 4 more slice(s) (InsufficientCapacity); growing one slice at a time');
    expect(step.condition).toMatchObject({ status: 'False', reason: 'LimitedByCapacity' });
    // Waiting for the third slice: no change, even when it is refused too.
    expect(decide(partition(3, bounds, step.status), usage(6, 2, 2), NOW, 2, refused).count).toBeUndefined();
    // It was placed: the next slice.
    const next = decide(partition(3, bounds, step.status), usage(6, 2, 2), NOW, 3);
    expect(next.count).toBe(4);
    expect(next.events[0]?.message).toContain('one slice at a time');
    // Caught up with what the pods need: back to whole steps.
    const caught = decide(partition(6, bounds, { ...step.status, desiredCount: 6 }), usage(6), NOW, 6);
    expect(caught.status.stepwise).toBeUndefined();
    expect(caught.condition.reason).toBe('FollowingConsumers');
    // A single missing slice that does not fit is just waited for, and the condition says why.
    const short = decide(partition(3, bounds), usage(3, 2, 2), NOW, 2, refused);
    expect(short.count).toBeUndefined();
    expect(short.condition).toMatchObject({ status: 'False', reason: 'LimitedByCapacity', message: '3 consumer pod(s) need 3 slice(s); count is 3 but the cluster has room for 2 (InsufficientCapacity: no node has room)' });
  });

  test('properties: count stays within [min, max] unless pods hold more, never drops below what pods hold, and never before the delay', () => {
    fc.assert(
      fc.property(
        fc.record({
          min: fc.integer({ min: 0, max: 8 }),
          span: fc.integer({ min: 0, max: 8 }),
          delay: fc.integer({ min: 0, max: 600 }),
          count: fc.integer({ min: 0, max: 20 }),
          needed: fc.integer({ min: 0, max: 20 }),
          admitted: fc.integer({ min: 0, max: 20 }),
          inUse: fc.integer({ min: 0, max: 20 }),
          since: fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined }),
          to: fc.integer({ min: 0, max: 20 }),
        }),
        (x) => {
          const max = Math.max(1, x.min + x.span);
          const spec = { min: x.min, max, scaleDownDelaySeconds: x.delay };
          const status = x.since === undefined ? undefined : { scaleDownSince: at(x.since), scaleDownTo: x.to };
          const u = { consumers: x.needed, needed: x.needed, admitted: x.admitted, inUse: x.inUse };
          const d = decide(partition(x.count, spec, status), u);
          const after = d.count ?? x.count;
          const floor = Math.max(x.admitted, x.inUse);
          expect(d.status.desiredCount).toBe(Math.max(Math.min(max, Math.max(x.min, x.needed)), floor));
          // Never below what is desired (so never below min, nor below the slices pods hold or were admitted to),
          // never above max unless pods hold more.
          expect(after).toBeGreaterThanOrEqual(d.status.desiredCount);
          expect(after).toBeGreaterThanOrEqual(floor);
          expect(after).toBeLessThanOrEqual(Math.max(max, floor));
          // Going down within [desired, max] happens only once the delay has passed since the surplus began, and
          // only when every admitted pod holds its slice.
          if (after < x.count && x.count <= Math.max(max, floor)) {
            const began = status && x.to < x.count ? NOW.getTime() - (x.since as number) * 1000 : NOW.getTime();
            expect(NOW.getTime() - began).toBeGreaterThanOrEqual(x.delay * 1000);
            expect(x.admitted).toBe(x.inUse);
          }
          // Going up happens only to what is desired, at once.
          if (after > x.count) expect(after).toBe(d.status.desiredCount);
          // A pending scale-down is always below count and at or above what is desired.
          if (d.status.scaleDownTo !== undefined) {
            expect(d.status.scaleDownTo).toBeLessThan(after);
            expect(d.status.scaleDownTo).toBeGreaterThanOrEqual(d.status.desiredCount);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
