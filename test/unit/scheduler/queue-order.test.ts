import type { GpuNode, GpuPartition, TrainingJob } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { GpuPartitionReconciler, WAITING_FOR_PRIORITY } from '../../../src/controllers/gpupartition/gpupartition-reconciler.js';
import { PRIORITY_RECHECK_MS, compareQueue, findBlocker, withLayouts, type QueueKey } from '../../../src/scheduler/queue-order.js';
import { partitionRequest, pendingRequests, type PendingRequest } from '../../../src/scheduler/requests.js';
import { buildSnapshot } from '../../../src/ledger/snapshot.js';
import { TrainingJobReconciler } from '../../../src/controllers/trainingjob/trainingjob-reconciler.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { place } from '../../../src/placement/engine.js';
import { makeGpuNode, makeJob, makeNode, makePartition } from '../support/builders.js';
import { FakeClient, FakeRecorder, quietLog } from '../support/fakes.js';
import { claimantCaches } from '../support/reconciler-fixtures.js';

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

describe('findBlocker', () => {
  const snapshotOf = (gpus: number, claimed = false) => {
    const gn = makeGpuNode('n1', { gpus });
    if (claimed) {
      gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: { kind: 'GpuPartition', namespace: NS, name: 'x', uid: 'u', slot: 0, priority: 0, preemptible: false } }] }] };
    }
    return buildSnapshot([gn], () => makeNode('n1'));
  };
  const pendingOf = (name: string, priority: number, profile: string, created?: string): PendingRequest => {
    const p = makePartition(name, NS, { profile, priority });
    p.metadata.creationTimestamp = created ?? '2026-01-01T00:00:00Z';
    return { ...key(name, priority, p.metadata.creationTimestamp), request: partitionRequest(p, [0]) };
  };
  const lowPlacedOn = (snap: ReturnType<typeof snapshotOf>) => {
    const res = place(snap, partitionRequest(makePartition('low', NS, { profile: '4g.90gb' }), [0]));
    if (!res.ok) throw new Error(res.message);
    return withLayouts(snap, res.layouts);
  };

  test('names the higher-priority request that fits now but would not after the placement', () => {
    const before = snapshotOf(1);
    const high = pendingOf('high', 10, '7g.180gb');
    expect(findBlocker(key('low', 0), [high], before, lowPlacedOn(before), place)?.name).toBe('high');
  });

  test('an older request of equal priority goes first; a younger or lower one does not hold anyone back', () => {
    const before = snapshotOf(1);
    const after = lowPlacedOn(before);
    expect(findBlocker(key('low', 0), [pendingOf('older', 0, '7g.180gb', '2025-06-01T00:00:00Z')], before, after, place)?.name).toBe('older');
    expect(findBlocker(key('low', 0), [pendingOf('younger', 0, '7g.180gb', '2026-06-01T00:00:00Z')], before, after, place)).toBeUndefined();
    expect(findBlocker(key('low', 5), [pendingOf('lower', 1, '7g.180gb')], before, after, place)).toBeUndefined();
  });

  test('a higher-priority request that does not fit anyway, or still fits afterwards, does not block', () => {
    const crowded = snapshotOf(1, true);
    expect(findBlocker(key('low', 0), [pendingOf('high', 10, '7g.180gb')], crowded, crowded, place)).toBeUndefined();
    const roomy = snapshotOf(2);
    expect(findBlocker(key('low', 0), [pendingOf('high', 10, '7g.180gb')], roomy, lowPlacedOn(roomy), place)).toBeUndefined();
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

describe('reconcilers serve waiting requests in priority order', () => {
  function setup(gpus: number) {
    const client = new FakeClient();
    client.seed(RESOURCES.gpuNode, makeGpuNode('n1', { gpus }));
    client.seed(RESOURCES.node, makeNode('n1'));
    const recorder = new FakeRecorder();
    const caches = claimantCaches(client);
    const { partitions, jobs } = caches;
    const common = {
      client,
      ...caches,
      recorder,
      place,
      clock: () => new Date('2026-01-01T00:00:05Z'),
    };
    const pr = new GpuPartitionReconciler({ ...common, priorityQueue: { jobs } });
    const jr = new TrainingJobReconciler({ ...common, priorityQueue: { partitions } });
    const part = (name: string) => client.store.get(client.key(RESOURCES.gpuPartition, name, NS)) as GpuPartition | undefined;
    const claims = (name: string) => ledgerEntries(client.all<GpuNode>(RESOURCES.gpuNode)).filter((e) => e.claim.name === name);
    return {
      client,
      recorder,
      part,
      claims,
      partition: (name: string) => pr.reconcile({ namespace: NS, name }, quietLog),
      job: (name: string) => jr.reconcile({ namespace: NS, name }, quietLog),
    };
  }

  test('a lower-priority partition does not take the GPU a higher-priority one is waiting for', async () => {
    const t = setup(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10 }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '4g.90gb' }));
    const res = await t.partition('low');
    expect(res?.requeueAfterMs).toBe(PRIORITY_RECHECK_MS);
    expect(t.claims('low')).toHaveLength(0);
    const cond = t.part('low')?.status?.conditions?.find((c) => c.type === 'Allocated');
    expect(cond).toMatchObject({ status: 'False', reason: WAITING_FOR_PRIORITY });
    expect(cond?.message).toContain(`GpuPartition ${NS}/high (priority 10)`);
    expect(t.recorder.events.find((e) => e.name === 'low')).toMatchObject({ type: 'Normal', reason: WAITING_FOR_PRIORITY });

    await t.partition('high');
    expect(t.claims('high')).toHaveLength(1);
    await t.partition('low');
    expect(t.part('low')?.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('InsufficientCapacity');
  });

  test('a lower-priority partition that leaves room for the higher one places at once', async () => {
    const t = setup(2);
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10 }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '4g.90gb' }));
    await t.partition('low');
    expect(t.claims('low')).toHaveLength(1);
    await t.partition('high');
    expect(t.claims('high')).toHaveLength(1);
  });

  test('a TrainingJob waits for a higher-priority partition, and a partition for a higher-priority job', async () => {
    const t = setup(1);
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb', priority: 5 }));
    t.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 1 }));
    const res = await t.job('train');
    expect(res?.requeueAfterMs).toBe(PRIORITY_RECHECK_MS);
    const job = t.client.store.get(t.client.key(RESOURCES.trainingJob, 'train', NS)) as TrainingJob;
    expect(job.status?.conditions?.find((c) => c.type === 'Placed')?.reason).toBe('WaitingForPriority');
    expect(t.claims('train')).toHaveLength(0);

    const u = setup(1);
    u.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    u.client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 1, priority: 5 }));
    await u.partition('nb');
    expect(u.claims('nb')).toHaveLength(0);
    await u.job('train');
    expect(u.claims('train')).toHaveLength(1);
  });
});
