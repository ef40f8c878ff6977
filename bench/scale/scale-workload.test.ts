import { describe, expect, it } from '@jest/globals';
import { demand, planWorkload } from './scale-workload.js';

describe('planWorkload', () => {
  const shape = { partitions: 1000, jobs: 4, maxReplicas: 8, seed: 7 };

  it('is deterministic per seed and changes with the seed', () => {
    expect(planWorkload(shape)).toEqual(planWorkload(shape));
    expect(planWorkload({ ...shape, seed: 8 })).not.toEqual(planWorkload(shape));
  });

  it('has the requested objects with unique names, valid sizing and whole-GPU sameClique gangs', () => {
    const plan = planWorkload(shape);
    expect(plan.filter((o) => o.kind === 'GpuPartition')).toHaveLength(1000);
    expect(new Set(plan.map((o) => `${o.kind}/${o.name}`)).size).toBe(plan.length);
    for (const o of plan) {
      if (o.kind === 'GpuPartition') {
        // The CRD's rule: exactly one of profile, or memory and/or computeSlices.
        expect(Boolean(o.spec.profile)).toBe(o.spec.memory === undefined && o.spec.computeSlices === undefined);
        expect(o.spec.count ?? 1).toBeGreaterThanOrEqual(1);
      } else {
        expect(o.spec.gpusPerWorker).toBe(8);
        expect(o.spec.topology).toBe('sameClique');
        expect(o.spec.replicas).toBeGreaterThanOrEqual(2);
        expect(o.spec.replicas).toBeLessThanOrEqual(8);
      }
    }
  });

  it('is mostly 1g/2g/3g by profile, with some by memory and some with count > 1', () => {
    const parts = planWorkload(shape).flatMap((o) => (o.kind === 'GpuPartition' ? [o.spec] : []));
    const small = parts.filter((p) => /^[123]g\./.test(p.profile ?? '')).length;
    expect(small / parts.length).toBeGreaterThan(0.5);
    expect(parts.some((p) => p.memory)).toBe(true);
    expect(parts.some((p) => (p.count ?? 1) > 1)).toBe(true);
  });

  it('puts the jobs in the first half of the apply order', () => {
    const plan = planWorkload(shape);
    const positions = plan.flatMap((o, i) => (o.kind === 'TrainingJob' ? [i] : []));
    expect(positions).toHaveLength(4);
    for (const i of positions) expect(i).toBeLessThanOrEqual(plan.length / 2);
  });

  it('keeps replicas within a one-node clique', () => {
    for (const o of planWorkload({ partitions: 3, jobs: 5, maxReplicas: 1, seed: 1 })) {
      if (o.kind === 'TrainingJob') expect(o.spec.replicas).toBe(1);
    }
  });

  it('sums job GPUs and at least the compute the partitions ask for', () => {
    const plan = planWorkload({ partitions: 50, jobs: 3, maxReplicas: 4, seed: 3 });
    const d = demand(plan);
    const jobs = plan.flatMap((o) => (o.kind === 'TrainingJob' ? [o.spec.replicas * 8] : []));
    expect(d.jobGpus).toBe(jobs.reduce((a, b) => a + b, 0));
    const counts = plan.flatMap((o) => (o.kind === 'GpuPartition' ? [o.spec.count ?? 1] : []));
    expect(d.partitionComputeSlices).toBeGreaterThanOrEqual(counts.reduce((a, b) => a + b, 0));
  });
});
