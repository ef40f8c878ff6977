import type { GpuPartition, TrainingJob } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { compareQueue, type QueueKey } from '../../../src/scheduler/queue-order.js';
import { pendingRequests } from '../../../src/scheduler/requests.js';
import { makeGpuNode, makeJob, makePartition, makePartitionPod } from '../support/builders.js';
import { OperatorSim } from '../support/operator-sim.js';
import type { GpuNode } from '../../../src/api/types.js';

const NS = 'team-a';

const key = (name: string, priority: number, created = '2026-01-01T00:00:00Z', kind: QueueKey['kind'] = 'GpuPartition'): QueueKey => ({ kind, namespace: NS, name, priority, created });

describe('compareQueue', () => {
  test('orders by priority, then age, then kind, namespace and name', () => {
    const keys = [
      key('b', 0),
      key('a', 0),
      key('old', 0, '2025-12-31T00:00:00Z'),
      key('job', 0, '2026-01-01T00:00:00Z', 'TrainingJob'),
      key('high', 7, '2026-02-01T00:00:00Z'),
    ];
    expect([...keys].sort(compareQueue).map((k) => k.name)).toEqual(['high', 'old', 'a', 'b', 'job']);
  });
});

describe('pendingRequests', () => {
  test('lists partitions missing slots and jobs holding nothing; skips failed, deleting, suspended and placed ones', () => {
    const gn = makeGpuNode('n1', { gpus: 1 });
    const placed = makePartition('placed', NS, { profile: '1g.23gb' });
    placed.metadata.uid = 'u-placed';
    gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: { kind: 'GpuPartition', namespace: NS, name: 'placed', uid: 'u-placed', slot: 0, priority: 0, preemptible: false } }] }] };
    const half = makePartition('half', NS, { profile: '1g.23gb', count: 2 });
    const failed = makePartition('failed', NS, { profile: 'nope' });
    failed.status = { phase: 'Failed' };
    const deleting = makePartition('deleting', NS, { profile: '1g.23gb' });
    deleting.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const job = makeJob('train', NS, { gpusPerWorker: 1, priority: 3 });
    const suspended = makeJob('parked', NS, { gpusPerWorker: 1, suspend: true });
    const out = pendingRequests([placed, half, failed, deleting], [job, suspended], [gn]);
    expect(out.map((p) => [p.kind, p.name, p.priority, p.request.members.length])).toEqual([
      ['GpuPartition', 'half', 0, 2],
      ['TrainingJob', 'train', 3, 2],
    ]);
  });
});

describe('the admission cycle serves waiting requests in priority order', () => {
  let sim: OperatorSim;
  afterEach(() => sim?.stop());
  const start = (gpus: number) => (sim = new OperatorSim([makeGpuNode('n1', { gpus })]).start());
  const allocated = (kind: 'GpuPartition' | 'TrainingJob', name: string) => {
    const o = kind === 'GpuPartition' ? sim.partition(name, NS) : sim.job(name, NS);
    return (o as GpuPartition | TrainingJob | undefined)?.status?.conditions?.find((c) => c.type === (kind === 'GpuPartition' ? 'Allocated' : 'Placed'));
  };

  test('a higher-priority partition created later gets the GPU a lower-priority one also wants', async () => {
    const t = start(1);
    t.client.seed(RESOURCES.gpuPartition, { ...makePartition('low', NS, { profile: '4g.90gb' }), metadata: { name: 'low', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' } });
    t.client.seed(RESOURCES.gpuPartition, { ...makePartition('high', NS, { profile: '7g.180gb', priority: 10 }), metadata: { name: 'high', namespace: NS, creationTimestamp: '2026-01-01T00:00:09Z' } });
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['high']);
    expect(allocated('GpuPartition', 'low')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
  });

  test('a lower-priority partition that fits beside a higher one that does not is placed (no head-of-line blocking)', async () => {
    const t = start(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('huge', NS, { profile: '7g.180gb', count: 2, priority: 10 }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('small', NS, { profile: '1g.23gb' }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['small']);
    expect(allocated('GpuPartition', 'huge')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
  });

  test('jobs and partitions share one order: the higher priority goes first whatever its kind', async () => {
    let t = start(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb', priority: 5 }));
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 1 }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['nb']);
    expect(allocated('TrainingJob', 'train')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    await t.stop();

    t = start(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 1, priority: 5 }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['train']);
  });

  test('while a higher-priority request preempts slices in use, a lower one that does not fit says it waits for it', async () => {
    const t = start(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('victim', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.settle();
    t.client.seed(RESOURCES.pod, makePartitionPod('victim-pod', NS, 'victim', 'nvidia.com/mig-7g.180gb', { gated: false, phase: 'Running', node: 'n1' }));
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.status!.gpus![0]!.slices[0]!.inUse = true;
    });
    t.client.seed(RESOURCES.gpuPartition, makePartition('urgent', NS, { profile: '7g.180gb', priority: 10, preemptionPolicy: 'PreemptLowerPriority' }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('normal', NS, { profile: '1g.23gb', priority: 5 }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['urgent']);
    expect(allocated('GpuPartition', 'normal')).toMatchObject({ status: 'False', reason: 'WaitingForPriority' });
    expect(allocated('GpuPartition', 'normal')?.message).toContain(`GpuPartition ${NS}/urgent (priority 10)`);
  });
});
