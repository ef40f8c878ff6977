import { describe, expect, it } from '@jest/globals';
import type { GpuTenant } from '../../src/api/types.js';
import { replay, type ReplayConfig } from './replay.js';
import { benchTenants, gpuTenants } from './tenants.js';
import { makeArrivals, type Arrival } from './workload.js';

const START = Date.parse('2026-03-02T22:00:00.000Z');
const tenant = (name: string, nominal: number, cohort?: string): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal, namespaces: [name], ...(cohort ? { cohort } : {}) } });
const whole = (id: string, tenantName: string, at: number, serviceSeconds: number, extra: Partial<Arrival> = {}): Arrival => ({
  id, tenant: tenantName, namespace: tenantName, at, kind: 'GpuPartition', profile: '7g.180gb', count: 1, priority: 50, preemptible: false, mayPreempt: false, serviceSeconds, patienceSeconds: 3600, gpuEq: 1, ...extra,
});
const base = (tenants: GpuTenant[], arrivals: Arrival[]): ReplayConfig => ({ nodes: 1, gpusPerNode: 4, tenants, arrivals, startMs: START, seconds: 2 * 3600, cycleSeconds: 5, settleSeconds: 60, graceSeconds: 30, readySeconds: 10, seed: 1 });

describe('tenancy replay', () => {
  // b fills the cluster, two GPUs of it borrowed from a; a then asks within its quota and takes one back.
  const stream = [
    ...[0, 1, 2, 3].map((i) => whole(`b${i}`, 'b', i, 3 * 3600)),
    whole('a0', 'a', 600, 1200),
  ];

  it('borrowing: the lender reclaims the borrower\'s most recent slice, Ready after the eviction grace and realisation; metering is exact', () => {
    const r = replay(base([tenant('a', 2, 'c'), tenant('b', 2, 'c')], stream));
    expect(r.reclaims).toBe(1);
    expect(r.reclaimVictims).toBe(1);
    expect(r.busyVictims).toBe(1);
    expect(r.reclaimLatencies).toHaveLength(1);
    // Arrival at 600 s; the next cycle within 5 s; then 30 s grace and 10 s to Ready.
    expect(r.reclaimLatencies[0]).toBeGreaterThanOrEqual(40);
    expect(r.reclaimLatencies[0]).toBeLessThan(46);
    expect(r.reclaimOwedLatencies[0]).toBeLessThanOrEqual(r.reclaimLatencies[0]!);
    expect(r.nominalViolations).toBe(0);
    expect(r.metering).toMatchObject({ maxErrorSeconds: 0, totalErrorSeconds: 0, tenantMismatchMs: 0, tenantErrorSeconds: 0, badAllocatedAt: 0 });
    // The victim asks again and is placed once a0 is done; every GPU was held all along but for the eviction gaps.
    expect(r.placements).toBe(6);
    expect(r.utilisation).toBeGreaterThan(0.95);
    expect(r.replansWithoutChange).toBe(0);
  });

  it('a reclaiming request\'s wait divides by why it waited: over its nominal quota until its own work ended, then owed', () => {
    // a holds 2 of its nominal 3 until 1,200 s; b borrows a's idle GPU; a's 3-GPU request at 600 s is within
    // nominal only once a0 is done, and then needs b's borrowed GPU back.
    const r = replay({
      ...base([tenant('a', 3, 'c'), tenant('b', 3, 'c')], [
        whole('a0', 'a', 0, 1200, { count: 2, gpuEq: 2 }),
        ...[1, 2, 3, 4].map((i) => whole(`b${i}`, 'b', i, 3 * 3600)),
        whole('a1', 'a', 600, 600, { count: 3, gpuEq: 3 }),
      ]),
      gpusPerNode: 6,
    });
    expect(r.reclaims).toBe(1);
    expect(r.nominalViolations).toBe(0);
    expect(r.reclaimWaitSeconds.notWithinNominal).toBeGreaterThanOrEqual(590);
    expect(r.reclaimWaitSeconds.fitsNowhere).toBe(0);
    const waited = r.reclaimWaitSeconds.notWithinNominal + r.reclaimWaitSeconds.owed;
    // Request → Ready is the wait before placement plus the eviction grace and realisation.
    expect(r.reclaimLatencies[0]! - waited).toBeGreaterThanOrEqual(40);
    expect(r.reclaimLatencies[0]! - waited).toBeLessThan(46);
  });

  it('strict quotas on the same stream: b stays at its quota, a is served at once, utilisation is lower', () => {
    const borrowing = replay(base([tenant('a', 2, 'c'), tenant('b', 2, 'c')], stream));
    const strict = replay(base([tenant('a', 2), tenant('b', 2)], stream));
    expect(strict.reclaims).toBe(0);
    expect(strict.waitingByCode.QuotaExceeded).toBeGreaterThan(0);
    expect(strict.gpuEqHoursByTenant.b).toBeCloseTo(4, 1);
    expect(strict.utilisation).toBeLessThan(borrowing.utilisation);
    expect(strict.nominalViolations).toBe(0);
  });

  it('a generated day on a small cluster keeps every promise: no violation, metering exact, deterministic', () => {
    const tenants = benchTenants(4, 32);
    const arrivals = makeArrivals(tenants, { seed: 2, hours: 3, startMs: START, load: 1.2 });
    const cfg = { ...base(gpuTenants(tenants, true), arrivals), nodes: 4, gpusPerNode: 8, seconds: 3 * 3600 };
    const r = replay(cfg);
    expect(r.placements).toBeGreaterThan(50);
    expect(r.nominalViolations).toBe(0);
    expect(r.metering.maxErrorSeconds).toBe(0);
    expect(r.metering.tenantMismatchMs).toBe(0);
    expect(r.metering.badAllocatedAt).toBe(0);
    expect(r.utilisation).toBeGreaterThan(0);
    expect(r.utilisation).toBeLessThanOrEqual(1);
    const again = replay(cfg);
    expect({ ...again, plannerSeconds: 0 }).toEqual({ ...r, plannerSeconds: 0 });
  });
});
