import { describe, expect, it } from '@jest/globals';
import { rng } from '../seeded-random.js';
import { benchTenants } from './tenants.js';
import { drawBursts, drawShape, makeArrivals, meanDemand, offeredLoad } from './workload.js';

const START = Date.parse('2026-03-02T00:00:00.000Z');
const tenants = benchTenants(10, 1024);

describe('tenancy arrivals', () => {
  it('are seeded, in time order, within the run, with unique names in their tenant\'s namespaces', () => {
    const a = makeArrivals(tenants, { seed: 3, hours: 4, startMs: START, load: 1 });
    expect(makeArrivals(tenants, { seed: 3, hours: 4, startMs: START, load: 1 })).toEqual(a);
    expect(makeArrivals(tenants, { seed: 4, hours: 4, startMs: START, load: 1 })).not.toEqual(a);
    for (let i = 1; i < a.length; i++) expect(a[i]!.at).toBeGreaterThanOrEqual(a[i - 1]!.at);
    expect(a.every((x) => x.at >= 0 && x.at < 4 * 3600)).toBe(true);
    expect(new Set(a.map((x) => x.id)).size).toBe(a.length);
    const ns = new Map(tenants.map((t) => [t.name, t.namespaces]));
    expect(a.every((x) => ns.get(x.tenant)?.includes(x.namespace))).toBe(true);
  });

  it('offer each tenant\'s load: requests × GPU-equivalents × service time follow the daily curve', () => {
    // Ten simulated days smooth out the noise; the bursts add their extra load on top of the curve.
    const hours = 240;
    const a = makeArrivals(tenants, { seed: 1, hours, startMs: START, load: 1 });
    for (const t of tenants) {
      const offered = a.filter((x) => x.tenant === t.name).reduce((s, x) => s + x.gpuEq * x.serviceSeconds, 0) / (hours * 3600);
      const expected = t.nominal * t.profile.level * (1 + (t.profile.burstsPerDay * 75 * 2) / (24 * 60));
      expect(offered / expected).toBeGreaterThan(0.75);
      expect(offered / expected).toBeLessThan(1.3);
    }
  });

  it('peak at each tenant\'s hour and triple during a burst', () => {
    const t = tenants[2]!;
    const peak = offeredLoad(t, START, t.profile.peakHour * 3600, []);
    const trough = offeredLoad(t, START, ((t.profile.peakHour + 12) % 24) * 3600, []);
    expect(peak).toBeCloseTo(t.nominal * t.profile.level * (1 + t.profile.swing));
    expect(trough).toBeCloseTo(t.nominal * t.profile.level * (1 - t.profile.swing));
    expect(offeredLoad(t, START, 100, [{ from: 50, to: 150 }])).toBeCloseTo(3 * offeredLoad(t, START, 100, []));
  });

  it('draws each mix\'s shapes: notebooks and inference are slices, training mostly whole-GPU gangs no bigger than half the quota', () => {
    const r = rng(9);
    const notebook = Array.from({ length: 500 }, () => drawShape(r, 'notebook', 72));
    expect(notebook.every((s) => s.kind === 'GpuPartition' && ['1g.23gb', '1g.45gb', '2g.45gb', '3g.90gb'].includes(s.profile as string))).toBe(true);
    const inference = Array.from({ length: 500 }, () => drawShape(r, 'inference', 112));
    expect(inference.every((s) => s.kind === 'GpuPartition')).toBe(true);
    expect(inference.filter((s) => s.mayPreempt).length / 500).toBeGreaterThan(0.3);
    const training = Array.from({ length: 1000 }, () => drawShape(r, 'training', 40));
    const gangs = training.filter((s) => s.kind === 'TrainingJob');
    expect(gangs.length / 1000).toBeGreaterThan(0.85);
    expect(gangs.every((s) => (s.replicas as number) * (s.gpusPerWorker as number) <= 20 && s.gpuEq === (s.replicas as number) * (s.gpusPerWorker as number))).toBe(true);
    expect(new Set(gangs.map((s) => `${s.replicas}x${s.gpusPerWorker}`)).size).toBeGreaterThanOrEqual(4);
    expect(training.every((s) => s.serviceSeconds >= 60 && s.serviceSeconds <= 12 * 3600)).toBe(true);
    expect(meanDemand('notebook', 72)).toBeLessThan(meanDemand('training', 288));
  });

  it('bursts: about perDay × days of them, each 30–120 minutes', () => {
    const r = rng(5);
    let n = 0;
    for (let i = 0; i < 200; i++) {
      const b = drawBursts(r, 3, 24 * 3600);
      n += b.length;
      expect(b.every((x) => x.to - x.from >= 1800 && x.to - x.from <= 7200)).toBe(true);
    }
    expect(n / 200).toBeGreaterThan(2.5);
    expect(n / 200).toBeLessThan(3.5);
    expect(drawBursts(r, 0, 24 * 3600)).toEqual([]);
  });
});
