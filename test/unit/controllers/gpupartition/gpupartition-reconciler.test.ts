import { PARTITION_FINALIZER } from '../../../../src/api/constants.js';
import type { PodObject } from '../../../../src/api/pods.js';
import type { GpuNode, GpuPartition } from '../../../../src/api/types.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makePartition, makePartitionPod } from '../../support/builders.js';
import { OperatorSim } from '../../support/operator-sim.js';
import { partitionClaim } from '../../support/reconciler-fixtures.js';

const NS = 'team-a';
const cond = (p: GpuPartition | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);

let sim: OperatorSim;
afterEach(() => sim?.stop());

function start(nodes: GpuNode[] = [makeGpuNode('n1')], opts: ConstructorParameters<typeof OperatorSim>[1] = {}): OperatorSim {
  sim = new OperatorSim(nodes, opts).start();
  return sim;
}

describe('GpuPartitionReconciler with the admission cycle', () => {
  test('places count slices in the ledger, then reports Ready with device identities once realised', async () => {
    const t = start([makeGpuNode('n1')], { agent: false });
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '3g.90gb', count: 2 }));
    await t.settle();
    let p = t.partition('nb', NS);
    expect(p?.metadata.finalizers).toContain(PARTITION_FINALIZER);
    const claims = t.entries('nb');
    expect(claims.map((c) => c.claim.slot).sort()).toEqual([0, 1]);
    expect(claims.every((c) => c.profile === '3g.90gb' && c.claim.uid === p?.metadata.uid)).toBe(true);
    // Not realised within the grace period: Allocating is reported.
    expect(p?.status?.phase).toBe('Allocating');
    expect(p?.status?.resourceName).toBe('nvidia.com/mig-3g.90gb');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'True', reason: 'Placed' });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForNode' });
    expect(t.recorder.reasons()).toContain('Placed');

    t.agent();
    await t.settle();
    p = t.partition('nb', NS);
    expect(p?.status?.phase).toBe('Ready');
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Realised' });
    for (const a of p?.status?.allocations ?? []) {
      expect(a.realised).toBe(true);
      expect(a.uuid).toBe(`MIG-n1-${a.gpuIndex}-${a.start}-3g.90gb`);
      expect(a.gpuUuid).toBe(`GPU-n1-${a.gpuIndex}`);
    }
    expect(t.recorder.reasons()).toContain('Ready');
  });

  test('realised within the grace period: one status write, straight to Ready, and its time to ready', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    expect(t.partition('nb', NS)?.status?.phase).toBe('Ready');
    expect(t.client.writesOf('GpuPartition', 'mergePatchStatus')).toBe(1);
    expect(t.timesToReady).toEqual([{ kind: 'GpuPartition', seconds: expect.any(Number) }]);
  });

  test('a node agent refusing the layout is named in the Ready condition', async () => {
    const t = start([makeGpuNode('n1')], { agent: false });
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.status!.conditions = [{ type: 'LayoutRealised', status: 'False', reason: 'SliceInUse', message: 'GPU 0 slice 3g.90gb@0 is in use', lastTransitionTime: '' }];
    });
    await t.settle();
    const ready = cond(t.partition('nb', NS), 'Ready');
    expect(ready?.reason).toBe('WaitingForNode');
    expect(ready?.message).toContain('n1: SliceInUse: GPU 0 slice 3g.90gb@0 is in use');
  });

  test('a second pass after Ready writes nothing and emits nothing', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    const writes = t.client.writes.length;
    const events = t.recorder.events.length;
    await t.reconcileAll();
    await t.cycle.idle();
    expect(t.client.writes.length).toBe(writes);
    expect(t.recorder.events.length).toBe(events);
  });

  test('an unknown profile fails with UnknownProfile, one Event and no ledger write', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('bad', NS, { profile: '5g.100gb' }));
    await t.settle();
    await t.settle();
    const p = t.partition('bad', NS);
    expect(p?.status?.phase).toBe('Failed');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'False', reason: 'UnknownProfile' });
    expect(cond(p, 'Allocated')?.message).toContain('3g.90gb');
    expect(t.client.writesOf('GpuNode')).toBe(0);
    expect(t.recorder.events.filter((e) => e.reason === 'UnknownProfile')).toHaveLength(1);
  });

  test('insufficient capacity leaves the ledger alone, says why, and is not planned again until capacity changes', async () => {
    const t = start([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, { profile: '7g.180gb', count: 2 }));
    await t.settle();
    const p = t.partition('big', NS);
    expect(p?.status?.phase).toBe('Pending');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    expect(p?.metadata.finalizers ?? []).not.toContain(PARTITION_FINALIZER);
    expect(t.client.writesOf('GpuNode')).toBe(0);
    expect(t.recorder.events.filter((e) => e.reason === 'Unsatisfiable').map((e) => e.type)).toEqual(['Warning']);
    const cycles = t.cycle.cycles();
    // Resubmitting the same demand (every pass does) does not wake it: no busy loop.
    for (let i = 0; i < 5; i++) await t.settle();
    expect(t.cycle.cycles()).toBe(cycles);
    expect(t.cycle.replansWithoutChange()).toBe(0);
    // A second GPU appears: capacity changed, the partition is planned again and placed.
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.status!.inventory!.gpuCount = 2;
      gn.status!.gpus!.push({ index: 1, uuid: 'GPU-n1-1', mode: 'mig', health: 'Healthy', slices: [] });
    });
    t.cycle.capacityChanged('gpunode');
    await t.settle();
    expect(t.partition('big', NS)?.status?.phase).toBe('Ready');
    expect(t.cycle.replansWithoutChange()).toBe(0);
  });

  test('keeps nothing for partitions that are gone, placed or waiting (a waiting one has no finalizer to remove)', async () => {
    const t = start([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('fits', NS, { profile: '7g.180gb' }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('waits', NS, { profile: '7g.180gb' }));
    await t.settle();
    expect(t.partitionTimes.size()).toBe(2);
    expect(t.timesToReady).toHaveLength(1);
    for (const name of ['fits', 'waits']) await t.client.delete(RESOURCES.gpuPartition, name, NS);
    await t.settle();
    expect(t.partition('fits', NS)).toBeUndefined();
    expect(t.partition('waits', NS)).toBeUndefined();
    expect(t.partitionTimes.size()).toBe(0);
  });

  test('a refused ledger write is planned again and places exactly once', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '2g.45gb', count: 3 }));
    t.client.conflictOnce.add('GpuNode/n1');
    await t.settle();
    expect(t.entries('nb').map((c) => c.claim.slot).sort()).toEqual([0, 1, 2]);
    expect(t.partition('nb', NS)?.status?.phase).toBe('Ready');
    expect(t.recorder.events.filter((e) => e.reason === 'Placed')).toHaveLength(1);
  });

  test('a partial allocation left by a refused write on one of two nodes is completed, the written node kept', async () => {
    // One 7g per GPU, one GPU per node: two slots need both nodes.
    const t = start([makeGpuNode('n1', { gpus: 1 }), makeGpuNode('n2', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('wide', NS, { profile: '7g.180gb', count: 2 }));
    t.client.conflictOnce.add('GpuNode/n2');
    await t.settle();
    expect(t.entries('wide').map((e) => `${e.node}:${e.claim.slot}`).sort()).toEqual(['n1:0', 'n2:1']);
    expect(t.partition('wide', NS)?.status?.phase).toBe('Ready');
  });

  test('deletion waits for pods using the partition, then releases the slices and the finalizer', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    t.client.seed(RESOURCES.pod, makePartitionPod('user-pod', NS, 'nb', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running' }));
    await t.client.delete(RESOURCES.gpuPartition, 'nb', NS);
    await t.settle();
    let p = t.partition('nb', NS);
    expect(p?.metadata.finalizers).toContain(PARTITION_FINALIZER);
    expect(p?.status?.phase).toBe('Terminating');
    expect(cond(p, 'Ready')).toMatchObject({ reason: 'DeletionBlocked' });
    expect(cond(p, 'Ready')?.message).toContain('user-pod');
    expect(t.recorder.events.filter((e) => e.reason === 'DeletionBlocked')).toHaveLength(1);
    expect(t.entries()).toHaveLength(1);

    t.client.edit<PodObject>(RESOURCES.pod, 'user-pod', NS, (pod) => {
      pod.status = { phase: 'Succeeded' };
    });
    await t.settle();
    p = t.partition('nb', NS);
    expect(p).toBeUndefined();
    expect(t.entries()).toHaveLength(0);
    expect(t.recorder.reasons()).toContain('Released');
  });

  test('PreemptLowerPriority takes a preemptible lower-priority slice and tells both sides', async () => {
    const t = start([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.settle();
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10, preemptionPolicy: 'PreemptLowerPriority' }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['high']);
    const pre = t.recorder.events.filter((e) => e.reason === 'Preempted');
    expect(pre.map((e) => e.name).sort()).toEqual(['high', 'low']);
    // The victim waits for capacity; nobody's pods were in use, so nothing was evicted.
    expect(cond(t.partition('low', NS), 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    expect(t.client.evicted).toEqual([]);
    expect(t.partition('high', NS)?.status?.phase).toBe('Ready');
  });

  test('preempting a slice a pod uses evicts the pod first; the preemptor is Ready only once it has gone', async () => {
    const t = start([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.settle();
    t.client.seed(RESOURCES.pod, makePartitionPod('low-pod', NS, 'low', 'nvidia.com/mig-7g.180gb', { gated: false, phase: 'Running', node: 'n1' }));
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      const s = gn.status!.gpus![0]!.slices[0]!;
      s.inUse = true;
      s.pod = { namespace: NS, name: 'low-pod' };
    });
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10, preemptionPolicy: 'PreemptLowerPriority' }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['high']);
    expect(t.client.evicted).toEqual([`${NS}/low-pod`]);
    // The fake eviction deleted the pod, but the node still reports the slice in use by it.
    expect(cond(t.partition('high', NS), 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForEviction' });
    expect(t.recorder.events.find((e) => e.reason === 'Evicted')?.name).toBe('low-pod');
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      const s = gn.status!.gpus![0]!.slices[0]!;
      s.inUse = false;
      delete s.pod;
    });
    await t.settle();
    expect(t.partition('high', NS)?.status?.phase).toBe('Ready');
  });

  test('without PreemptLowerPriority a full node stays untouched', async () => {
    const t = start([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.settle();
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10 }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.name)).toEqual(['low']);
    expect(cond(t.partition('high', NS), 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
  });

  test('a lower count gives back idle slices first: the slice a pod uses is kept (renumbered into range)', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb', count: 3 }));
    await t.settle();
    const used = t.entries('nb').find((e) => e.claim.slot === 2)!;
    t.client.edit<GpuNode>(RESOURCES.gpuNode, used.node, undefined, (gn) => {
      const s = gn.status!.gpus!.find((g) => g.index === used.gpuIndex)!.slices.find((x) => x.start === used.start)!;
      s.inUse = true;
      s.pod = { namespace: NS, name: 'nb-pod' };
    });
    t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'nb', NS, (p) => (p.spec.count = 1), true);
    await t.settle();
    const left = t.entries('nb');
    expect(left.map((e) => [e.node, e.gpuIndex, e.start, e.claim.slot])).toEqual([[used.node, used.gpuIndex, used.start, 0]]);
    expect(t.partition('nb', NS)?.status?.allocations?.map((a) => [a.slot, a.start])).toEqual([[0, used.start]]);
  });

  test('claims of a deleted-and-recreated partition (other uid) are released and re-placed', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    const oldUid = t.partition('nb', NS)?.metadata.uid;
    t.client.store.delete(t.client.key(RESOURCES.gpuPartition, 'nb', NS));
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.settle();
    const entries = t.entries();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.claim.uid).not.toBe(oldUid);
    expect(entries[0]?.claim.uid).toBe(t.partition('nb', NS)?.metadata.uid);
  });

  test('a partition deleted without its finalizer leaves orphan claims that the cycle releases', async () => {
    const t = start();
    const p = t.client.seed(RESOURCES.gpuPartition, makePartition('gone', NS, { profile: '1g.23gb' }));
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: partitionClaim(p) }] }] };
    }, true);
    t.client.store.delete(t.client.key(RESOURCES.gpuPartition, 'gone', NS));
    t.cycle.ownersChanged();
    await t.settle();
    expect(t.entries()).toHaveLength(0);
  });

  test('claims of another namespace are never taken for a partition of the same name', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'team-a', { profile: '1g.23gb' }));
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', 'team-b', { profile: '1g.23gb' }));
    await t.settle();
    expect(t.entries().map((e) => e.claim.namespace).sort()).toEqual(['team-a', 'team-b']);
    await t.client.delete(RESOURCES.gpuPartition, 'nb', 'team-a');
    await t.settle();
    expect(t.entries().map((e) => `${e.claim.namespace}/${e.claim.name}`)).toEqual(['team-b/nb']);
    expect(t.partition('nb', 'team-b')?.status?.phase).toBe('Ready');
  });

  test('a partition sized by memory and compute gets the smallest fitting profile, reported in status', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('inference', NS, { memory: '80Gi', computeSlices: 3, count: 2 }));
    await t.settle();
    const p = t.partition('inference', NS);
    expect(p?.status?.profile).toBe('3g.90gb');
    expect(p?.status?.resourceName).toBe('nvidia.com/mig-3g.90gb');
    expect(p?.status?.allocations?.map((a) => a.profile)).toEqual(['3g.90gb', '3g.90gb']);
  });

  test('an unparsable memory size is refused without a ledger write', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('odd', NS, { memory: 'lots' }));
    await t.settle();
    expect(cond(t.partition('odd', NS), 'Allocated')).toMatchObject({ status: 'False', reason: 'InvalidRequest' });
    expect(t.client.writesOf('GpuNode')).toBe(0);
  });

  test('a burst is decided in one cycle and written once per node', async () => {
    const t = start([makeGpuNode('n1'), makeGpuNode('n2')]);
    // Two 3g slices per GPU: 24 of them need both nodes.
    for (let i = 0; i < 24; i++) t.client.seed(RESOURCES.gpuPartition, makePartition(`p${i}`, NS, { profile: '3g.90gb' }));
    await t.settle();
    expect(t.cycle.cycles()).toBe(1);
    expect(t.client.writesOf('GpuNode')).toBe(2);
    expect(t.client.all<GpuPartition>(RESOURCES.gpuPartition).every((p) => p.status?.phase === 'Ready')).toBe(true);
  });

  test('a replica whose Lease expired writes no ledger; its demands wait for the next leader', async () => {
    const t = start();
    t.fenced = true;
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.reconcileAll();
    await new Promise((r) => setTimeout(r, 600));
    expect(t.client.writesOf('GpuNode')).toBe(0);
    expect(t.cycle.cycles()).toBe(0);
    t.fenced = false;
    t.cycle.capacityChanged('gpunode');
    await t.settle();
    expect(t.partition('nb', NS)?.status?.phase).toBe('Ready');
  });
});
