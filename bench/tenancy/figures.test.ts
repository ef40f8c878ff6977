import { describe, expect, it } from '@jest/globals';
import { failures, renderReport, tenancyFigures, type RunFacts } from './figures.js';
import type { ReplayResult } from './replay.js';

const run = (over: Partial<ReplayResult> = {}): ReplayResult => ({
  cycles: 10,
  ticks: 12,
  utilisation: 0.8,
  allocations: 100,
  placements: 50,
  reclaims: 0,
  reclaimVictims: 0,
  reclaimLatencies: [],
  reclaimOwedLatencies: [],
  reclaimWaitSeconds: { notWithinNominal: 0, fitsNowhere: 0, owed: 0 },
  priorityPreemptions: 0,
  priorityVictims: 0,
  busyVictims: 0,
  completed: 40,
  abandoned: 1,
  nominalViolations: 0,
  violationExamples: [],
  metering: { maxErrorSeconds: 0, totalErrorSeconds: 0, tenantMismatchMs: 0, tenantErrorSeconds: 0, settlements: 5, badAllocatedAt: 0 },
  shares: [{ tenant: 'a', backloggedHours: 2, servedShare: 0.3, fairShare: 0.35, deviation: 0.05 }],
  maxShareDeviation: 0.05,
  gpuEqHoursByTenant: { a: 10 },
  waitingByCode: {},
  replansWithoutChange: 0,
  plannerSeconds: 1,
  ...over,
});
const facts: RunFacts = { tenants: 2, gpus: 8, hours: 1, cycleSeconds: 5, seed: 1, arrivals: 60, offeredLoad: 0.9, wallSeconds: 3, cpuSeconds: 5, peakRssMiB: 100, loadAverage: [1, 2, 3] };

describe('tenancy figures', () => {
  it('headline figures: both utilisations, the borrowing run\'s share deviation and reclaim percentiles, the worse metering error', () => {
    const borrowing = run({ utilisation: 0.9, reclaims: 4, reclaimLatencies: [40, 41, 45, 100], reclaimOwedLatencies: [40, 40, 41, 42], reclaimWaitSeconds: { notWithinNominal: 30, fitsNowhere: 10, owed: 10 }, metering: { ...run().metering, maxErrorSeconds: 0.2, totalErrorSeconds: 0.5 } });
    const f = tenancyFigures(borrowing, run({ metering: { ...run().metering, maxErrorSeconds: 0.4, totalErrorSeconds: 0.4 } }), facts);
    expect(f).toMatchObject({
      utilisationBorrowing: 0.9,
      utilisationStrict: 0.8,
      maxShareDeviation: 0.05,
      nominalViolations: 0,
      reclaimLatencyP50Seconds: 41,
      reclaimLatencyP95Seconds: 100,
      reclaimOwedLatencyP50Seconds: 40,
      reclaimOwedLatencyP95Seconds: 42,
      reclaimWaitShares: { notWithinNominal: 0.6, fitsNowhere: 0.2, owed: 0.2 },
      meteringErrorSeconds: 0.4,
      meteringTotalErrorSeconds: 0.9,
      allocations: 200,
      reclaims: 4,
      cycles: 20,
      ok: true,
    });
    expect(renderReport(f, borrowing, run())).toContain('reclaim latency over 4 reclaims');
    expect(renderReport(f, borrowing, run())).toContain('60.0% not within nominal quota, 20.0% within it but fitting nowhere, 20.0% owed');
  });

  it('fails on a nominal violation, an allocation metered over 1 s off, inconsistent records, or borrowing that does not help', () => {
    expect(failures(tenancyFigures(run({ utilisation: 0.9 }), run(), facts))).toEqual([]);
    expect(tenancyFigures(run({ utilisation: 0.9 }), run(), facts)).toMatchObject({ reclaimLatencyP50Seconds: null, reclaimWaitShares: null });
    const bad = tenancyFigures(run({ utilisation: 0.8, nominalViolations: 2, metering: { ...run().metering, maxErrorSeconds: 1.5, tenantMismatchMs: 7 } }), run(), facts);
    expect(bad.ok).toBe(false);
    expect(failures(bad)).toEqual([
      '2 nominal violation(s)',
      'an allocation was metered 1.5 s off (limit 1 s)',
      'borrowing run: tenant records differ from the sum of their allocations by 7 ms',
      'borrowing did not raise utilisation (0.8 vs 0.8 strict)',
    ]);
  });
});
