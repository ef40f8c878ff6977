import { JOB_LABEL, PARTITION_GATE, RANK_LABEL } from '../../../src/api/constants.js';
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { ADMISSION_ANNOTATION } from '../../../src/controllers/pod-gate/pod-admission.js';
import { buildSliceMap, jobWants, partitionWants, waitingCondition, type SliceMapInput } from '../../../src/slice-map/build-model.js';
import type { SliceView } from '../../../src/slice-map/types.js';
import { makeGpuNode, makeJob, makeNode, makePartition, makePartitionPod, realise } from '../support/builders.js';

const NOW = new Date('2026-03-01T12:00:00Z');

function claim(kind: ClaimRef['kind'], ns: string, name: string, slot: number, priority = 0): ClaimRef {
  return { kind, namespace: ns, name, uid: `uid-${name}`, slot, priority, preemptible: false };
}

function input(gpuNodes: GpuNode[], more: Partial<SliceMapInput> = {}): SliceMapInput {
  const nodes = new Map(gpuNodes.map((g) => [g.metadata.name as string, makeNode(g.metadata.name as string)]));
  return { gpuNodes, node: (n) => nodes.get(n), partitions: [], jobs: [], pods: [], synced: true, now: NOW, ...more };
}

const slice = (gn: ReturnType<typeof buildSliceMap>, node: string, gpu: number, start: number): SliceView | undefined =>
  gn.nodes.find((n) => n.name === node)?.gpus.find((g) => g.index === gpu)?.slices.find((s) => s.start === start);

describe('slice states', () => {
  const gn = makeGpuNode('n1', { gpus: 2, clique: 'c.1' });
  gn.metadata.generation = 2;
  gn.spec = {
    gpus: [
      {
        index: 0,
        mode: 'mig',
        slices: [
          { profile: '3g.90gb', start: 0, claim: claim('GpuPartition', 'team-a', 'inference', 0, 100) },
          { profile: '1g.23gb', start: 4, claim: claim('GpuPartition', 'team-b', 'notebook', 0) },
          { profile: '1g.23gb', start: 5 },
          { profile: '2g.45gb', start: 6, claim: claim('GpuPartition', 'team-b', 'new', 0) },
        ],
      },
      { index: 1, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-a', 'llm', 1) },
    ],
  };
  // The agent realised GPU 0 except the 2g slice, plus a 1g at slot 7 the target dropped; GPU 1 is still MIG.
  gn.status!.gpus![0]!.slices = [
    { profile: '3g.90gb', start: 0, uuid: 'MIG-a', deviceId: 'MIG-a', inUse: true, pod: { namespace: 'team-a', name: 'server-0' } },
    { profile: '1g.23gb', start: 4, uuid: 'MIG-b', deviceId: 'MIG-b', inUse: false },
    { profile: '1g.23gb', start: 5, uuid: 'MIG-c', deviceId: 'MIG-c', inUse: false },
    { profile: '1g.23gb', start: 7, uuid: 'MIG-d', deviceId: 'MIG-d', inUse: false },
  ];
  const notebook = makePartition('notebook', 'team-b', { profile: '1g.23gb' });
  notebook.status = { phase: 'Ready', conditions: [{ type: 'Allocated', status: 'True', reason: 'Allocated', message: '', lastTransitionTime: '2026-03-01T11:00:00Z' }] };
  const nbPod = makePartitionPod('nb', 'team-b', 'notebook', 'nvidia.com/mig-1g.23gb', { gated: false, node: 'n1', phase: 'Running' });
  const m = buildSliceMap(input([gn], { partitions: [notebook], pods: [nbPod] }));

  test('realised and busy → in-use, with the pod the agent names', () => {
    expect(slice(m, 'n1', 0, 0)).toMatchObject({ state: 'in-use', size: 4, uuid: 'MIG-a', pods: ['team-a/server-0'], holder: { kind: 'GpuPartition', namespace: 'team-a', name: 'inference', priority: 100 } });
  });
  test('realised, claimed, idle → allocated, with the partition pods on the node and the allocation time', () => {
    expect(slice(m, 'n1', 0, 4)).toMatchObject({ state: 'allocated', uuid: 'MIG-b', pods: ['team-b/nb'], since: '2026-03-01T11:00:00Z' });
  });
  test('realised, unclaimed → free', () => {
    expect(slice(m, 'n1', 0, 5)).toMatchObject({ state: 'free', pods: [] });
    expect(slice(m, 'n1', 0, 5)?.holder).toBeUndefined();
  });
  test('in the target, not realised → realising', () => {
    expect(slice(m, 'n1', 0, 6)).toMatchObject({ state: 'realising', size: 2 });
    expect(slice(m, 'n1', 0, 6)?.uuid).toBeUndefined();
  });
  test('realised, dropped from the target → removing', () => {
    expect(slice(m, 'n1', 0, 7)).toMatchObject({ state: 'removing', uuid: 'MIG-d' });
  });
  test('a whole GPU is one slice over every slot, realising until the agent switched it', () => {
    const g1 = m.nodes[0]!.gpus[1]!;
    expect(g1).toMatchObject({ mode: 'whole', reconfiguring: true, uuid: 'GPU-n1-1' });
    expect(g1.slices).toEqual([expect.objectContaining({ profile: 'whole', start: 0, size: 8, state: 'realising', holder: expect.objectContaining({ kind: 'TrainingJob', slot: 1 }) })]);
  });
  test('node, totals, reconfiguration in progress', () => {
    expect(m.nodes[0]).toMatchObject({ name: 'n1', product: 'NVIDIA-B200', clique: 'c.1', schedulable: true });
    expect(m.totals).toEqual({ nodes: 1, gpus: 2, slices: { 'in-use': 1, allocated: 1, realising: 2, free: 1, removing: 1 }, uncarvedSlots: 0, borrowed: 0 });
    expect(m.reconfigurations).toEqual([{ node: 'n1', generation: 2, inProgress: true }]);
    expect(m.generatedAt).toBe(NOW.toISOString());
  });
});

test('a GPU the operator never wrote shows its realised slices unclaimed; uncarved slots are counted', () => {
  const gn = makeGpuNode('n2', { gpus: 2 });
  gn.status!.gpus![0]!.slices = [{ profile: '7g.180gb', start: 0, uuid: 'MIG-x', deviceId: 'MIG-x', inUse: true }];
  const m = buildSliceMap(input([gn]));
  expect(slice(m, 'n2', 0, 0)).toMatchObject({ state: 'in-use', size: 8 });
  expect(m.nodes[0]!.gpus[1]!.slices).toEqual([]);
  expect(m.totals.uncarvedSlots).toBe(8);
});

test('whole GPUs realised: allocated to a job rank, with the worker pod; unclaimed → free', () => {
  const gn = makeGpuNode('w', { gpus: 2 });
  gn.spec = { gpus: [{ index: 0, mode: 'whole', slices: [], claim: claim('TrainingJob', 'ml', 'llm', 0) }, { index: 1, mode: 'whole', slices: [] }] };
  realise(gn);
  const worker = makePartitionPod('llm-0', 'ml', 'x', 'nvidia.com/gpu', { gated: false, node: 'w', phase: 'Running' });
  worker.metadata.labels = { [JOB_LABEL]: 'llm', [RANK_LABEL]: '0' };
  const m = buildSliceMap(input([gn], { pods: [worker], jobs: [makeJob('llm', 'ml', { gpusPerWorker: 1 })] }));
  expect(slice(m, 'w', 0, 0)).toMatchObject({ profile: 'whole', state: 'allocated', pods: ['ml/llm-0'], uuid: 'GPU-w-0' });
  expect(slice(m, 'w', 1, 0)).toMatchObject({ profile: 'whole', state: 'free' });
  expect(m.nodes[0]!.gpus.every((g) => !g.reconfiguring)).toBe(true);
});

test.each([
  ['no Node object', undefined, undefined],
  ['cordoned', { metadata: { name: 'x' }, spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }, undefined],
  ['Node not Ready', { metadata: { name: 'x' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } }, undefined],
  ['node agent not ready', makeNode('x'), 'False'],
])('unschedulable node: %s', (reason, node, agentReady) => {
  const gn = makeGpuNode('x', { gpus: 1 });
  if (agentReady) gn.status!.conditions!.push({ type: 'AgentReady', status: 'False', reason: 'Stopped', message: '', lastTransitionTime: '' });
  const m = buildSliceMap({ ...input([gn]), node: () => node });
  expect(m.nodes[0]).toMatchObject({ schedulable: false, unschedulableReason: reason });
});

test('waiting requests in queue order with the reason from their conditions, then gated pods', () => {
  const gn = makeGpuNode('n', { gpus: 1 });
  const low = makePartition('low', 'a', { profile: '7g.180gb', count: 2 });
  low.metadata.creationTimestamp = '2026-03-01T10:00:00Z';
  low.status = { phase: 'Pending', conditions: [{ type: 'Allocated', status: 'False', reason: 'InsufficientCapacity', message: 'needs 2 × 7g.180gb', lastTransitionTime: '' }] };
  const high = makePartition('high', 'b', { memory: '40Gi', computeSlices: 2, priority: 10 });
  high.metadata.creationTimestamp = '2026-03-01T11:00:00Z';
  const job = makeJob('big', 'a', { replicas: 4, gpusPerWorker: 8, topology: 'sameClique' });
  job.metadata.creationTimestamp = '2026-03-01T09:00:00Z';
  job.status = { phase: 'Pending', conditions: [{ type: 'Placed', status: 'False', reason: 'TopologyUnsatisfiable', message: 'no clique', lastTransitionTime: '' }] };
  const pod = makePartitionPod('p', 'a', 'low', 'nvidia.com/mig-7g.180gb');
  pod.metadata.annotations = { [ADMISSION_ANNOTATION]: 'GpuPartition a/low is not Ready' };
  for (const o of [low, high, job]) o.metadata.uid = `uid-${o.metadata.name}`;
  const m = buildSliceMap(input([gn], { partitions: [low, high], jobs: [job], pods: [pod] }));
  expect(m.pending.map((p) => [p.position, p.kind, p.name, p.reason])).toEqual([
    [1, 'GpuPartition', 'high', 'Pending'],
    [2, 'TrainingJob', 'big', 'TopologyUnsatisfiable'],
    [3, 'GpuPartition', 'low', 'InsufficientCapacity'],
    [undefined, 'Pod', 'p', 'Gated'],
  ]);
  expect(m.pending[0]!.wants).toBe('1 × ≥ 40Gi, 2 compute slices');
  expect(m.pending[1]!.wants).toBe('4 × 8 whole GPUs, sameClique');
  expect(m.pending[2]!).toMatchObject({ wants: '2 × 7g.180gb', message: 'needs 2 × 7g.180gb', priority: 0 });
  expect(m.pending[3]!).toMatchObject({ message: 'GpuPartition a/low is not Ready', wants: 'a slice of GpuPartition low' });
  expect(pod.spec.schedulingGates).toEqual([{ name: PARTITION_GATE }]);
});

test('helpers: waitingCondition, partitionWants, jobWants', () => {
  expect(waitingCondition(undefined, ['Allocated'])).toEqual({ reason: 'Pending', message: 'not examined by the operator yet' });
  expect(partitionWants(undefined, 2)).toBe('2 slice(s)');
  expect(jobWants(makeJob('j', 'n', { replicas: 3, profile: '1g.23gb' }))).toBe('3 × 1g.23gb');
  expect(jobWants(makeJob('j', 'n', { replicas: 1, gpusPerWorker: 1 }))).toBe('1 × 1 whole GPU');
});

test('recent reconfigurations, newest first, at most 20', () => {
  const nodes = [...Array(25).keys()].map((i) => {
    const gn = makeGpuNode(`r${String(i).padStart(2, '0')}`, { gpus: 1 });
    gn.status!.lastReconfiguration = { generation: 3, startedAt: `2026-03-01T10:${String(i).padStart(2, '0')}:00Z`, finishedAt: `2026-03-01T10:${String(i).padStart(2, '0')}:01Z`, durationSeconds: 1 };
    return gn;
  });
  const m = buildSliceMap(input(nodes));
  expect(m.reconfigurations).toHaveLength(20);
  expect(m.reconfigurations[0]).toEqual({ node: 'r24', generation: 3, inProgress: false, startedAt: '2026-03-01T10:24:00Z', finishedAt: '2026-03-01T10:24:01Z', durationSeconds: 1 });
});
