import type { GpuNode } from '../../../src/api/types.js';
import { gpuNodeCapacityChanged, gpuNodeToClaimants, nodePlacementChanged, podToJob, podToPartition } from '../../../src/controllers/mappers.js';
import { makeGpuNode, makeNode, makePartitionPod } from '../support/builders.js';

const claim = (name: string, kind: 'GpuPartition' | 'TrainingJob' = 'GpuPartition') => ({ kind, namespace: 'a', name, uid: name, slot: 0, priority: 0, preemptible: false });

describe('mappers', () => {
  test('a GpuNode change wakes the claimants of a kind holding slices on it before or after, once each', () => {
    const before = makeGpuNode('n1');
    before.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('old') }] }] };
    const after: GpuNode = structuredClone(before);
    after.spec!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, claim: claim('new') }, { profile: '1g.23gb', start: 1, claim: claim('job', 'TrainingJob') }];
    expect(gpuNodeToClaimants('GpuPartition')(after, before).map((r) => r.name).sort()).toEqual(['new', 'old']);
    expect(gpuNodeToClaimants('TrainingJob')(after, before).map((r) => r.name)).toEqual(['job']);
  });

  test('capacity changed: a new or deleted node, somebody else\'s ledger write, busy slices or health; not its own write or a realised idle slice', () => {
    const before = makeGpuNode('n1');
    before.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('holder') }] }] };
    const mine = () => true;
    const theirs = () => false;
    const realised: GpuNode = structuredClone(before);
    realised.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: false }];
    expect(gpuNodeCapacityChanged(realised, before, false, theirs)).toBe(false);
    const busy: GpuNode = structuredClone(realised);
    busy.status!.gpus![1]!.slices = [{ profile: '7g.180gb', start: 0, uuid: 'MIG-1', deviceId: 'MIG-1', inUse: true }];
    expect(gpuNodeCapacityChanged(busy, realised, false, mine)).toBe(true);
    const sick: GpuNode = structuredClone(realised);
    sick.status!.gpus![2]!.health = 'Unhealthy';
    expect(gpuNodeCapacityChanged(sick, realised, false, mine)).toBe(true);
    const written: GpuNode = structuredClone(before);
    written.spec!.gpus![0]!.slices.push({ profile: '1g.23gb', start: 1, claim: claim('other') });
    expect(gpuNodeCapacityChanged(written, before, false, mine)).toBe(false);
    expect(gpuNodeCapacityChanged(written, before, false, theirs)).toBe(true);
    expect(gpuNodeCapacityChanged(before, before, true, mine)).toBe(true);
    expect(gpuNodeCapacityChanged(before, undefined, false, mine)).toBe(true);
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
