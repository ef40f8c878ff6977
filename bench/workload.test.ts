import { describe, expect, it } from '@jest/globals';
import { demandOf, isWholeRequest, makeDiurnalStream, makeStream, offeredGpus, type TimedRequest } from './workload.js';

const gpuTime = (items: TimedRequest[]) => items.reduce((s, t) => s + (demandOf(t.request).compute / 7) * t.duration, 0);

describe('request streams', () => {
  it('the stationary stream is seeded, ordered in time and ~6 % whole-GPU gangs', () => {
    const a = makeStream(5000, 7, 100);
    expect(makeStream(5000, 7, 100)).toEqual(a);
    expect(makeStream(5000, 8, 100)).not.toEqual(a);
    for (let i = 1; i < a.length; i++) expect(a[i].arrival).toBeGreaterThan(a[i - 1].arrival);
    const whole = a.filter((t) => isWholeRequest(t.request));
    expect(whole.length / a.length).toBeGreaterThan(0.05);
    expect(whole.length / a.length).toBeLessThan(0.07);
    for (const t of whole) {
      expect(t.request.members.every((m) => m.kind === 'whole' && m.gpus === 8)).toBe(true);
      expect(t.request.topology).toBe(t.request.members.length > 1 ? 'sameClique' : 'any');
    }
    expect(makeStream(10, 7, Infinity).every((t) => t.duration === Infinity)).toBe(true);
  });

  it('the diurnal stream moves the mix between day and night but not the offered GPU-time', () => {
    const period = 2000;
    const stream = makeDiurnalStream(20_000, 11, 300, { period, sliceSwing: 1 });
    expect(stream).toHaveLength(20_000);
    expect(makeDiurnalStream(20_000, 11, 300, { period, sliceSwing: 1 })).toEqual(stream);
    for (let i = 1; i < stream.length; i++) expect(stream[i].arrival).toBeGreaterThan(stream[i - 1].arrival);
    expect(new Set(stream.map((t) => t.request.id)).size).toBe(stream.length);
    // Day: the first half of each period (sine above zero); night: the second half.
    const day = stream.filter((t) => t.arrival % period < period / 2);
    const night = stream.filter((t) => t.arrival % period >= period / 2);
    const wholeShare = (xs: TimedRequest[]) => xs.filter((t) => isWholeRequest(t.request)).length / xs.length;
    expect(day.length).toBeGreaterThan(1.5 * night.length);
    expect(wholeShare(night)).toBeGreaterThan(2 * wholeShare(day));
    // Same whole periods of time, so equal offered GPU-time means equal sums (sampling noise aside).
    const full = stream.filter((t) => t.arrival < Math.floor(stream[stream.length - 1].arrival / period) * period);
    const dayTime = gpuTime(full.filter((t) => t.arrival % period < period / 2));
    const nightTime = gpuTime(full.filter((t) => t.arrival % period >= period / 2));
    expect(dayTime / nightTime).toBeGreaterThan(0.85);
    expect(dayTime / nightTime).toBeLessThan(1.15);
  });

  it('without a swing the diurnal stream offers what the stationary one does', () => {
    const flat = makeDiurnalStream(20_000, 3, 50, { period: 1000, sliceSwing: 0 });
    const stationary = makeStream(20_000, 3, 50);
    const share = (xs: TimedRequest[]) => xs.filter((t) => isWholeRequest(t.request)).length / xs.length;
    expect(Math.abs(share(flat) - share(stationary))).toBeLessThan(0.01);
    expect(offeredGpus(flat) / offeredGpus(stationary)).toBeGreaterThan(0.9);
    expect(offeredGpus(flat) / offeredGpus(stationary)).toBeLessThan(1.1);
  });

  it('offered GPUs are GPU-time over the arrival span', () => {
    const req = (id: string, arrival: number, duration: number): TimedRequest => ({ request: { id, members: [{ kind: 'whole', key: `${id}/0`, gpus: 8 }] }, arrival, duration });
    // 8 GPUs for 5 and 8 GPUs for 15 over a span of 10: 160 GPU-time units, 16 GPUs on average.
    expect(offeredGpus([req('a', 0, 5), req('b', 10, 15)])).toBe(16);
    expect(offeredGpus([])).toBe(0);
  });

  it('counts whole GPUs as 7 compute and 8 memory slices', () => {
    expect(demandOf({ id: 'a', members: [{ kind: 'whole', key: 'a/0', gpus: 8 }] })).toEqual({ compute: 56, memory: 64 });
    expect(demandOf({ id: 'b', members: [{ kind: 'slice', key: 'b/0', profile: '3g.90gb' }, { kind: 'slice', key: 'b/1', profile: '1g.23gb' }] })).toEqual({
      compute: 4,
      memory: 5,
    });
    expect(isWholeRequest({ id: 'b', members: [{ kind: 'slice', key: 'b/0', profile: '3g.90gb' }] })).toBe(false);
  });
});
