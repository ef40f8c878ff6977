import { PARTITION_FINALIZER } from '../../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../../src/api/types.js';
import { ledgerEntries } from '../../../../src/ledger/claims.js';
import { CAPACITY_RECHECK_MS, GpuPartitionReconciler } from '../../../../src/controllers/gpupartition/gpupartition-reconciler.js';
import type { PodObject } from '../../../../src/api/pods.js';
import { ReconfigTracker } from '../../../../src/controllers/gpunode/reconfig-tracker.js';
import { isConflict } from '../../../../src/k8s/errors.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makePartition, makePartitionPod, realise } from '../../support/builders.js';
import { place } from '../../../../src/placement/engine.js';
import type { PlaceFn } from '../../../../src/runtime/ports.js';
import { FakeClient, FakeRecorder, quietLog } from '../../support/fakes.js';
import { ENGINES, claimantCaches, seedNodes } from '../../support/reconciler-fixtures.js';

// Every case runs against each of ENGINES.
let currentPlace: PlaceFn = place;

const NS = 'team-a';

function setup(nodes: GpuNode[] = [makeGpuNode('n1')]) {
  const client = new FakeClient();
  seedNodes(client, nodes);
  const recorder = new FakeRecorder();
  const reconfig = new ReconfigTracker();
  const r = new GpuPartitionReconciler({
    client,
    ...claimantCaches(client),
    recorder,
    place: (snap, req) => currentPlace(snap, req),
    clock: () => new Date('2026-01-01T00:00:05Z'),
    reconfig,
  });
  const pass = (name: string) => r.reconcile({ namespace: NS, name }, quietLog);
  const part = (name: string) => client.store.get(client.key(RESOURCES.gpuPartition, name, NS)) as GpuPartition | undefined;
  const agent = (node: string) => client.edit<GpuNode>(RESOURCES.gpuNode, node, undefined, (gn) => realise(gn));
  return { client, recorder, reconfig, pass, part, agent };
}

const cond = (p: GpuPartition | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);

describe.each(ENGINES)('GpuPartitionReconciler (%s)', (_label, engine) => {
  beforeEach(() => {
    currentPlace = engine;
  });

  test('places count slices, writes the ledger, then reports Ready with device identities once realised', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '3g.90gb', count: 2 }));
    await t.pass('nb');
    let p = t.part('nb');
    expect(p?.metadata.finalizers).toContain(PARTITION_FINALIZER);
    const claims = ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode)).filter((e) => e.claim.name === 'nb');
    expect(claims.map((c) => c.claim.slot).sort()).toEqual([0, 1]);
    expect(claims.every((c) => c.profile === '3g.90gb' && c.claim.uid === p?.metadata.uid)).toBe(true);
    expect(p?.status?.phase).toBe('Allocating');
    expect(p?.status?.resourceName).toBe('nvidia.com/mig-3g.90gb');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'True', reason: 'Placed' });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForNode' });
    expect(t.recorder.reasons()).toContain('Placed');
    expect(t.reconfig.size).toBe(1);

    t.agent('n1');
    await t.pass('nb');
    p = t.part('nb');
    expect(p?.status?.phase).toBe('Ready');
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'Realised' });
    for (const a of p?.status?.allocations ?? []) {
      expect(a.realised).toBe(true);
      expect(a.uuid).toBe(`MIG-n1-${a.gpuIndex}-${a.start}-3g.90gb`);
      expect(a.gpuUuid).toBe(`GPU-n1-${a.gpuIndex}`);
    }
    expect(t.recorder.reasons()).toContain('Ready');
  });

  test('a node agent refusing the layout is named in the Ready condition', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.pass('nb');
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.status!.conditions = [{ type: 'LayoutRealised', status: 'False', reason: 'SliceInUse', message: 'GPU 0 slice 3g.90gb@0 is in use', lastTransitionTime: '' }];
    });
    await t.pass('nb');
    const ready = cond(t.part('nb'), 'Ready');
    expect(ready?.reason).toBe('WaitingForNode');
    expect(ready?.message).toContain('n1: SliceInUse: GPU 0 slice 3g.90gb@0 is in use');
  });

  test('a second pass after Ready writes nothing and emits nothing', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.pass('nb');
    t.agent('n1');
    await t.pass('nb');
    const writes = t.client.writes.length;
    const events = t.recorder.events.length;
    await t.pass('nb');
    expect(t.client.writes.length).toBe(writes);
    expect(t.recorder.events.length).toBe(events);
  });

  test('an unknown profile fails with UnknownProfile, one Event, no requeue and no ledger write', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('bad', NS, { profile: '5g.100gb' }));
    const res = await t.pass('bad');
    const p = t.part('bad');
    expect(res?.requeueAfterMs).toBeUndefined();
    expect(p?.status?.phase).toBe('Failed');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'False', reason: 'UnknownProfile' });
    expect(cond(p, 'Allocated')?.message).toContain('3g.90gb');
    expect(t.client.writesOf('GpuNode')).toBe(0);
    await t.pass('bad');
    expect(t.recorder.events.filter((e) => e.reason === 'UnknownProfile')).toHaveLength(1);
  });

  test('insufficient capacity leaves the ledger alone and says why', async () => {
    const t = setup([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, { profile: '7g.180gb', count: 2 }));
    const res = await t.pass('big');
    const p = t.part('big');
    expect(p?.status?.phase).toBe('Pending');
    expect(cond(p, 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
    expect(res?.requeueAfterMs).toBe(CAPACITY_RECHECK_MS);
    expect(t.client.writesOf('GpuNode')).toBe(0);
    expect(t.recorder.events.find((e) => e.reason === 'Unsatisfiable')?.type).toBe('Warning');
  });

  test('a 409 on the ledger write propagates as a conflict and the next pass places exactly once', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '2g.45gb', count: 3 }));
    t.client.conflictOnce.add('GpuNode/n1');
    const err = await t.pass('nb').then(() => undefined, (e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(0);
    await t.pass('nb');
    const claims = ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode));
    expect(claims.map((c) => c.claim.slot).sort()).toEqual([0, 1, 2]);
  });

  test('a partial allocation left by a failed multi-node write is completed on the next pass', async () => {
    // One 7g per GPU, one GPU per node: two slots need both nodes.
    const t = setup([makeGpuNode('n1', { gpus: 1 }), makeGpuNode('n2', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('wide', NS, { profile: '7g.180gb', count: 2 }));
    t.client.conflictOnce.add('GpuNode/n2');
    await expect(t.pass('wide')).rejects.toThrow(/n2/);
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode)).map((e) => e.node)).toEqual(['n1']);
    await t.pass('wide');
    const entries = ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode));
    expect(entries.map((e) => `${e.node}:${e.claim.slot}`).sort()).toEqual(['n1:0', 'n2:1']);
  });

  test('deletion waits for pods using the partition, then releases the slices and the finalizer', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.pass('nb');
    t.agent('n1');
    await t.pass('nb');
    t.client.seed(RESOURCES.pod, makePartitionPod('user-pod', NS, 'nb', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running' }));
    await t.client.delete(RESOURCES.gpuPartition, 'nb', NS);
    await t.pass('nb');
    let p = t.part('nb');
    expect(p?.metadata.finalizers).toContain(PARTITION_FINALIZER);
    expect(p?.status?.phase).toBe('Terminating');
    expect(cond(p, 'Ready')).toMatchObject({ reason: 'DeletionBlocked' });
    expect(cond(p, 'Ready')?.message).toContain('user-pod');
    expect(t.recorder.events.filter((e) => e.reason === 'DeletionBlocked')).toHaveLength(1);
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(1);

    t.client.edit<PodObject>(RESOURCES.pod, 'user-pod', NS, (pod) => { pod.status = { phase: 'Succeeded' }; });
    await t.pass('nb');
    p = t.part('nb');
    expect(p).toBeUndefined();
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(0);
    expect(t.recorder.reasons()).toContain('Released');
  });

  test('PreemptLowerPriority takes a preemptible lower-priority slice and tells both sides', async () => {
    const t = setup([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.pass('low');
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10, preemptionPolicy: 'PreemptLowerPriority' }));
    await t.pass('high');
    const entries = ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode));
    expect(entries.map((e) => e.claim.name)).toEqual(['high']);
    const pre = t.recorder.events.filter((e) => e.reason === 'Preempted');
    expect(pre.map((e) => e.name).sort()).toEqual(['high', 'low']);
    // The victim notices on its next pass and waits for capacity.
    await t.pass('low');
    expect(cond(t.part('low'), 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity' });
  });

  test('without PreemptLowerPriority a full node stays untouched', async () => {
    const t = setup([makeGpuNode('n1', { gpus: 1 })]);
    t.client.seed(RESOURCES.gpuPartition, makePartition('low', NS, { profile: '7g.180gb', priority: 1, preemptible: true }));
    await t.pass('low');
    t.client.seed(RESOURCES.gpuPartition, makePartition('high', NS, { profile: '7g.180gb', priority: 10 }));
    await t.pass('high');
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode)).map((e) => e.claim.name)).toEqual(['low']);
  });

  test('claims of a deleted-and-recreated partition (other uid) are released and re-placed', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.pass('nb');
    const oldUid = t.part('nb')?.metadata.uid;
    t.client.store.delete(t.client.key(RESOURCES.gpuPartition, 'nb', NS));
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    await t.pass('nb');
    const entries = ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode));
    expect(entries).toHaveLength(1);
    expect(entries[0]?.claim.uid).not.toBe(oldUid);
    expect(entries[0]?.claim.uid).toBe(t.part('nb')?.metadata.uid);
  });
});

describe('GpuPartitionReconciler with the real engine', () => {
  test('a partition sized by memory and compute gets the smallest fitting profile, reported in status', async () => {
    const t = setup();
    currentPlace = place;
    t.client.seed(RESOURCES.gpuPartition, makePartition('inference', NS, { memory: '80Gi', computeSlices: 3, count: 2 }));
    await t.pass('inference');
    const p = t.part('inference');
    expect(p?.status?.profile).toBe('3g.90gb');
    expect(p?.status?.resourceName).toBe('nvidia.com/mig-3g.90gb');
    expect(p?.status?.allocations?.map((a) => a.profile)).toEqual(['3g.90gb', '3g.90gb']);
  });

  test('an unparsable memory size is refused without asking the engine', async () => {
    const t = setup();
    let asked = 0;
    currentPlace = (s, r) => {
      asked++;
      return place(s, r);
    };
    t.client.seed(RESOURCES.gpuPartition, makePartition('odd', NS, { memory: 'lots' }));
    await t.pass('odd');
    expect(asked).toBe(0);
    expect(cond(t.part('odd'), 'Allocated')).toMatchObject({ status: 'False', reason: 'InvalidRequest' });
  });
});
