import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { TemplateFirstFitSim } from './baselines.js';
import { peakDemandGpus, planEngine, planNos, shapeOf, smallestServing, withinBudget } from './capacity.js';
import { EngineSim, replay } from './replay.js';
import { isWholeRequest, makeStream, type TimedRequest } from './workload.js';

const whole = (id: string, arrival: number, duration: number, nodes = 1): TimedRequest => ({
  request: { id, members: Array.from({ length: nodes }, (_, m) => ({ kind: 'whole' as const, key: `${id}/${m}`, gpus: 8 })), topology: nodes > 1 ? 'sameClique' : 'any' },
  arrival,
  duration,
});
const slice = (id: string, arrival: number, duration: number, profile = '1g.23gb'): TimedRequest => ({
  request: { id, members: [{ kind: 'slice', key: `${id}/0`, profile }] },
  arrival,
  duration,
});

describe('smallestServing', () => {
  it('finds the threshold of a monotone predicate, or nothing when the range is too small', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (threshold, hi) => {
        const found = smallestServing((n) => n >= threshold, 1, hi);
        expect(found).toBe(threshold <= hi ? threshold : undefined);
      }),
    );
  });

  it('walks past a lucky size that the next sizes do not confirm', () => {
    // Serves at 50 (luck, and the first size a binary search over 1..100 tries), fails at 51 to 59.
    const serves = (n: number) => n === 50 || n >= 60;
    expect(smallestServing(serves, 1, 100)).toBe(60);
    expect(smallestServing(serves, 1, 100, 0)).toBe(50);
  });
});

describe('withinBudget', () => {
  it('holds each request class to the budget on its own', () => {
    const stream = [...Array.from({ length: 100 }, (_, i) => slice(`s${i}`, i, 1)), ...Array.from({ length: 10 }, (_, i) => whole(`w${i}`, i, 1))];
    const stats = (rejected: number, rejectedWhole: number) => ({ ...replay(new EngineSim(shapeOf(1)), []), rejected, rejectedWhole });
    expect(withinBudget(stats(0, 0), stream, 0)).toBe(true);
    expect(withinBudget(stats(1, 0), stream, 0.01)).toBe(true);
    expect(withinBudget(stats(2, 0), stream, 0.01)).toBe(false);
    // One rejected whole request of ten is 10 % of its class: over a 1 % budget, though under 1 % of all 110.
    expect(withinBudget(stats(1, 1), stream, 0.01)).toBe(false);
    expect(withinBudget(stats(1, 1), stream, 0.1)).toBe(true);
  });
});

describe('peakDemandGpus', () => {
  it('is the most GPUs held at once, departures first at the same instant', () => {
    // Two 8-GPU jobs overlap on [5, 10); a third starts when the first ends; 14 slices of 1g fill 2 GPUs.
    const stream = [whole('a', 0, 10), whole('b', 5, 20), whole('c', 10, 5)];
    expect(peakDemandGpus(stream)).toBe(16);
    const slices = Array.from({ length: 14 }, (_, i) => slice(`s${i}`, i, 100));
    expect(peakDemandGpus(slices)).toBe(2);
    expect(peakDemandGpus([...slices, slice('x', 20, 1)])).toBe(3);
    // Memory binds for 1g.45gb: 8 of them need 16 memory slots, 2 GPUs, though 8 compute slices would fit 2 as well.
    expect(peakDemandGpus(Array.from({ length: 5 }, (_, i) => slice(`m${i}`, i, 100, '1g.45gb')))).toBe(2);
    expect(peakDemandGpus([])).toBe(0);
  });
});

describe('capacity plans', () => {
  const stream = makeStream(400, 42, 40);

  it('the engine plan serves the stream, one node fewer does not, and no plan beats the peak demand', () => {
    const plan = planEngine(stream, 0, 256);
    expect(plan).toBeDefined();
    const p = plan!;
    expect(p.stats.rejected).toBe(0);
    expect(p.gpus).toBe(p.nodes * 8);
    expect(p.gpus).toBeGreaterThanOrEqual(peakDemandGpus(stream));
    expect(replay(new EngineSim(shapeOf(p.nodes - 1)), stream).rejected).toBeGreaterThan(0);
    expect(replay(new EngineSim(shapeOf(p.nodes + 1)), stream).rejected).toBe(0);
  });

  it('a budget never asks for more nodes than serving everything', () => {
    expect(planEngine(stream, 0.05, 256)!.nodes).toBeLessThanOrEqual(planEngine(stream, 0, 256)!.nodes);
  });

  it('nos sizes each pool minimally, and the combined cluster serves the whole stream', () => {
    const plan = planNos(stream, 0, 256)!;
    expect(plan.combinedWithinBudget).toBe(true);
    expect(plan.stats.rejected).toBe(0);
    expect(plan.nodes).toBe(plan.wholeNodes + plan.migNodes);
    const wholePart = stream.filter((t) => isWholeRequest(t.request));
    const slicePart = stream.filter((t) => !isWholeRequest(t.request));
    const nos = (n: number, wholeNodes: number) => new TemplateFirstFitSim(shapeOf(n), { name: 'nos', wholeNodes });
    expect(replay(nos(plan.wholeNodes - 1, plan.wholeNodes - 1), wholePart).rejected).toBeGreaterThan(0);
    expect(replay(nos(plan.migNodes - 1, 0), slicePart).rejected).toBeGreaterThan(0);
    // A MIG pool never serves whole GPUs, so nos without whole-GPU nodes cannot serve the stream.
    expect(replay(nos(plan.nodes, 0), stream).rejectedWhole).toBe(wholePart.length);
  });

  it('returns nothing when even the largest cluster tried is too small', () => {
    expect(planEngine(stream, 0, 2)).toBeUndefined();
    expect(planNos(stream, 0, 2)).toBeUndefined();
  });
});
