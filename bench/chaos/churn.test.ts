import { describe, expect, it } from '@jest/globals';
import { ChurnPlanner, objectSlices, partitionSlices } from './churn.js';

const shape = { seed: 3, objects: 300, clusterSlices: 16 * 8 * 7, maxUtilisation: 0.4, jobShare: 0.15, consumerShare: 0.5, maxReplicas: 4 };

describe('ChurnPlanner', () => {
  it('creates exactly --objects objects over the run and never asks for more than the cap', () => {
    const p = new ChurnPlanner(shape);
    const kinds = { create: 0, delete: 0, scale: 0 };
    let jobs = 0;
    for (let tick = 0; tick < 1200; tick++) {
      const op = p.next((shape.objects * tick) / 1000);
      if (op) kinds[op.op]++;
      if (op?.op === 'create' && op.object.kind === 'TrainingJob') jobs++;
      expect(p.liveSlices()).toBeLessThanOrEqual(shape.clusterSlices * shape.maxUtilisation);
      expect(p.liveSlices()).toBe(p.liveObjects().reduce((s, o) => s + objectSlices(o), 0));
    }
    expect(p.created).toBe(shape.objects);
    expect(kinds.create).toBe(shape.objects);
    expect(kinds.delete).toBeGreaterThan(50);
    expect(kinds.scale).toBeGreaterThan(shape.objects * 0.1);
    expect(jobs).toBeGreaterThan(shape.objects * 0.05);
  });

  it('gives consumer pods only to partitions sized by profile, and names every object once', () => {
    const p = new ChurnPlanner(shape);
    const names = new Set<string>();
    for (let tick = 0; tick < 600; tick++) {
      const op = p.next(tick);
      if (op?.op !== 'create') continue;
      expect(names.has(op.object.name)).toBe(false);
      names.add(op.object.name);
      if (op.object.kind === 'GpuPartition' && op.object.consumer) expect(op.object.spec.profile).toBeDefined();
    }
  });

  it('keeps creating on a small cluster: no object is drawn that could never fit (regression: the live set drained)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const p = new ChurnPlanner({ ...shape, seed, clusterSlices: 4 * 8 * 7 });
      let minLiveLate = Infinity;
      for (let tick = 0; tick < 2000; tick++) {
        p.next((shape.objects * tick) / 2000);
        if (tick > 200) minLiveLate = Math.min(minLiveLate, p.liveObjects().length);
      }
      expect(p.created).toBe(shape.objects);
      expect(minLiveLate).toBeGreaterThan(0);
    }
  });

  it('is deterministic per seed', () => {
    const ops = (seed: number) => {
      const p = new ChurnPlanner({ ...shape, seed });
      return Array.from({ length: 200 }, (_, t) => p.next(t / 2));
    };
    expect(ops(1)).toEqual(ops(1));
    expect(ops(1)).not.toEqual(ops(2));
  });

  it('sizes partitions by their largest need times their count', () => {
    expect(partitionSlices({ profile: '3g.90gb', count: 2 })).toBe(6);
    expect(partitionSlices({ memory: '40Gi' })).toBe(2);
    expect(partitionSlices({ computeSlices: 2, memory: '20Gi', count: 3 })).toBe(6);
  });
});
