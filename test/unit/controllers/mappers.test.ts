import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { gpuNodeToPartitions, nodePlacementChanged, podToJob, podToPartition } from '../../../src/controllers/mappers.js';
import type { CachePort } from '../../../src/runtime/ports.js';
import { makeGpuNode, makeNode, makePartition, makePartitionPod } from '../support/builders.js';

const claim = (name: string, kind: 'GpuPartition' | 'TrainingJob' = 'GpuPartition') => ({ kind, namespace: 'a', name, uid: name, slot: 0, priority: 0, preemptible: false });

describe('mappers', () => {
  test('a GpuNode change wakes partitions holding slices on it before or after, and waiting ones, once each', () => {
    const before = makeGpuNode('n1');
    before.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('old') }] }] };
    const after: GpuNode = structuredClone(before);
    after.spec!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, claim: claim('new') }, { profile: '1g.23gb', start: 1, claim: claim('job', 'TrainingJob') }];
    const ready = makePartition('ready', 'a', { profile: '1g.23gb' });
    ready.status = { phase: 'Ready' };
    const waiting = makePartition('new', 'a', { profile: '1g.23gb' });
    const cache: CachePort<GpuPartition> = { get: () => undefined, list: () => [ready, waiting] };
    const reqs = gpuNodeToPartitions(cache)(after, before);
    expect(reqs.map((r) => r.name).sort()).toEqual(['new', 'old']);
  });

  test('a status-only GpuNode change wakes the partitions on it but not the waiting ones; busy slices and cache waiters do', () => {
    const before = makeGpuNode('n1');
    before.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('holder') }] }] };
    const realised: GpuNode = structuredClone(before);
    realised.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: false }];
    const waiting = makePartition('waiting', 'a', { profile: '1g.23gb' });
    const allocating = makePartition('allocating', 'a', { profile: '1g.23gb' });
    allocating.status = { phase: 'Allocating' };
    const cache: CachePort<GpuPartition> = { get: () => undefined, list: () => [waiting, allocating] };
    expect(gpuNodeToPartitions(cache)(realised, before).map((r) => r.name)).toEqual(['holder']);
    const busy: GpuNode = structuredClone(realised);
    busy.status!.gpus![1]!.slices = [{ profile: '7g.180gb', start: 0, uuid: 'MIG-1', deviceId: 'MIG-1', inUse: true }];
    expect(gpuNodeToPartitions(cache)(busy, realised).map((r) => r.name).sort()).toEqual(['holder', 'waiting']);
    expect(gpuNodeToPartitions(cache)(realised, realised, true).map((r) => r.name).sort()).toEqual(['holder', 'waiting']);
    const waiters = { wake: () => [{ namespace: 'a', name: 'held-back' }], held: (r: { name: string }) => r.name === 'waiting' };
    expect(gpuNodeToPartitions(cache, waiters)(realised, before).map((r) => r.name).sort()).toEqual(['held-back', 'holder']);
    // A waiting partition held back for the cache is left to the wake-up, not re-run on every change.
    expect(gpuNodeToPartitions(cache, waiters)(busy, realised).map((r) => r.name).sort()).toEqual(['held-back', 'holder']);
  });

  test('pods map to the partition or job they name', () => {
    const pod = makePartitionPod('p', 'a', 'nb', 'nvidia.com/mig-1g.23gb');
    expect(podToPartition(pod)).toEqual([{ namespace: 'a', name: 'nb' }]);
    expect(podToJob(pod)).toEqual([]);
    pod.metadata.labels = { 'gpu.haein.dev/training-job': 'train' };
    expect(podToJob(pod)).toEqual([{ namespace: 'a', name: 'train' }]);
  });
});

describe('nodePlacementChanged', () => {
  test('heartbeats do not wake claimants; labels, cordon, readiness and deletion do', () => {
    const n = makeNode('n1');
    const beat = { ...makeNode('n1'), status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }] } };
    expect(nodePlacementChanged(beat, n, false)).toBe(false);
    expect(nodePlacementChanged(makeNode('n1', { zone: 'b' }), n, false)).toBe(true);
    expect(nodePlacementChanged({ ...n, spec: { unschedulable: true } }, n, false)).toBe(true);
    expect(nodePlacementChanged({ ...n, status: { conditions: [{ type: 'Ready', status: 'False' }] } }, n, false)).toBe(true);
    expect(nodePlacementChanged(n, n, true)).toBe(true);
    expect(nodePlacementChanged(n, undefined, false)).toBe(true);
  });
});
