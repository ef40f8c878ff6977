import { describe, expect, it } from '@jest/globals';
import { benchTenants, CATALOGUE, COHORT, gpuTenants } from './tenants.js';

describe('bench tenants', () => {
  it('the default ten share the 1,024 GPUs exactly; a few heavy, several light, different weights', () => {
    const t = benchTenants(10, 1024);
    expect(t.map((x) => x.nominal)).toEqual(CATALOGUE.map((p) => p.nominalParts));
    expect(t.reduce((s, x) => s + x.nominal, 0)).toBe(1024);
    expect(t.filter((x) => x.nominal >= 128)).toHaveLength(3);
    expect(new Set(t.map((x) => x.profile.weight)).size).toBeGreaterThan(1);
  });

  it('quotas scale to any cluster without exceeding it; more tenants than the catalogue get unique names', () => {
    for (const [n, gpus] of [[3, 64], [10, 100], [25, 2048]] as const) {
      const t = benchTenants(n, gpus);
      expect(t).toHaveLength(n);
      expect(t.reduce((s, x) => s + x.nominal, 0)).toBeLessThanOrEqual(gpus);
      expect(new Set(t.map((x) => x.name)).size).toBe(n);
      expect(new Set(t.flatMap((x) => x.namespaces)).size).toBe(2 * n);
    }
  });

  it('borrowing: one cohort with lending and borrowing limits, a tenant outside it, a per-profile cap; strict: no cohort', () => {
    const t = benchTenants(10, 1024);
    const borrowing = gpuTenants(t, true);
    const members = borrowing.filter((x) => x.spec.cohort === COHORT);
    expect(members.length).toBeGreaterThanOrEqual(2);
    expect(members.length).toBeLessThan(borrowing.length);
    expect(members.some((x) => x.spec.lendingLimit !== undefined && x.spec.lendingLimit < x.spec.nominal)).toBe(true);
    expect(members.some((x) => x.spec.borrowingLimit !== undefined)).toBe(true);
    expect(borrowing.find((x) => x.metadata.name === 'eridanus')?.spec.profileLimits).toEqual([{ profile: '1g.23gb', max: 252 }]);
    const strict = gpuTenants(t, false);
    expect(strict.every((x) => x.spec.cohort === undefined && x.spec.borrowingLimit === undefined && x.spec.lendingLimit === undefined)).toBe(true);
    expect(strict.map((x) => [x.spec.nominal, x.spec.weight, x.spec.namespaces])).toEqual(borrowing.map((x) => [x.spec.nominal, x.spec.weight, x.spec.namespaces]));
  });
});
