import { PARTITION_GATE } from '../../../../src/api/constants.js';
import type { GpuPartition } from '../../../../src/api/types.js';
import { ADMISSION_ANNOTATION, ADMISSION_REASON_ANNOTATION } from '../../../../src/controllers/pod-gate/pod-admission.js';
import type { Condition } from '../../../../src/api/types.js';
import { PodGateReconciler } from '../../../../src/controllers/pod-gate/pod-gate-reconciler.js';
import { podGated, podTargetNode, type PodObject } from '../../../../src/api/pods.js';
import type { CachePort } from '../../../../src/runtime/ports.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makePartition, makePartitionPod } from '../../support/builders.js';
import { FakeClient, FakeRecorder, cacheOf, quietLog } from '../../support/fakes.js';

const NS = 'team-a';
const RES = 'nvidia.com/mig-1g.23gb';

function readyPartition(name: string, nodes: string[]): GpuPartition {
  const p = makePartition(name, NS, { profile: '1g.23gb', count: nodes.length });
  p.status = {
    phase: 'Ready',
    profile: '1g.23gb',
    resourceName: RES,
    allocations: nodes.map((node, slot) => ({ slot, node, gpuIndex: 0, profile: '1g.23gb', start: slot, realised: true, inUse: false })),
  };
  return p;
}

/** An elastic partition of `count` (max `max`) whose `realised` first slices are realised, with its Allocated condition. */
function elasticPartition(name: string, opts: { count: number; max: number; realised: number; allocated?: [Condition['status'], string, string] }): GpuPartition {
  const p = readyPartition(name, [...Array(opts.count).keys()].map((i) => `n${i + 1}`));
  p.spec.autoscale = { min: 1, max: opts.max };
  const allocated = opts.allocated ?? ['True', 'Placed', 'placed'];
  p.status!.allocations = p.status!.allocations!.map((a, i) => ({ ...a, realised: i < opts.realised }));
  p.status!.phase = opts.realised === opts.count && allocated[0] === 'True' ? 'Ready' : 'Pending';
  p.status!.conditions = [{ type: 'Allocated', status: allocated[0], reason: allocated[1], message: allocated[2], lastTransitionTime: '2026-01-01T00:00:00Z' }];
  return p;
}

function setup(podCache?: (c: FakeClient) => CachePort<PodObject>) {
  const client = new FakeClient();
  const recorder = new FakeRecorder();
  const waits: Array<{ seconds: number; elastic: boolean }> = [];
  const r = new PodGateReconciler({
    client,
    pods: podCache ? podCache(client) : cacheOf<PodObject>(client, RESOURCES.pod),
    partitions: cacheOf<GpuPartition>(client, RESOURCES.gpuPartition),
    recorder,
    metrics: { observeConsumerWait: (seconds, elastic) => waits.push({ seconds, elastic }) },
  });
  const pod = (name: string, ns = NS) => client.store.get(client.key(RESOURCES.pod, name, ns)) as PodObject;
  return { client, recorder, waits, pass: (partition: string, ns = NS) => r.reconcile({ namespace: ns, name: partition }, quietLog), pod };
}

describe('PodGateReconciler', () => {
  test('a pod naming a partition of another namespace keeps its gate and is told where the partition is', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, { ...readyPartition('nb', ['n1']), metadata: { name: 'nb', namespace: 'team-b' } });
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', RES));
    await t.pass('nb');
    expect(podGated(t.pod('p1'))).toBe(true);
    const ev = t.recorder.events.find((e) => e.reason === 'PartitionNotFound');
    expect(ev?.type).toBe('Warning');
    expect(ev?.message).toContain('team-b');
    expect(t.pod('p1').metadata.annotations?.[ADMISSION_ANNOTATION]).toBe(ev?.message);
  });

  test('a not-Ready partition keeps pods gated, and repeating the pass emits no second Event', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', RES));
    await t.pass('nb');
    await t.pass('nb');
    expect(podGated(t.pod('p1'))).toBe(true);
    expect(t.recorder.events.filter((e) => e.reason === 'PartitionNotReady')).toHaveLength(1);
  });

  test('pods are spread over the partition nodes and the one beyond its slices waits', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, readyPartition('nb', ['n1', 'n2']));
    for (const n of ['p1', 'p2', 'p3']) {
      const pod = makePartitionPod(n, NS, 'nb', RES);
      pod.spec.schedulingGates = [{ name: 'example.com/other' }, ...(pod.spec.schedulingGates ?? [])];
      t.client.seed(RESOURCES.pod, pod);
    }
    await t.pass('nb');
    const admitted = ['p1', 'p2', 'p3'].filter((n) => !podGated(t.pod(n)));
    expect(admitted).toHaveLength(2);
    expect(admitted.map((n) => podTargetNode(t.pod(n))).sort()).toEqual(['n1', 'n2']);
    const waiting = ['p1', 'p2', 'p3'].find((n) => podGated(t.pod(n)))!;
    expect(t.pod(waiting).metadata.annotations?.[ADMISSION_ANNOTATION]).toMatch(/in use/);
    expect(t.recorder.events.find((e) => e.reason === 'PartitionFull')?.name).toBe(waiting);
    // Other gates on the pod survive; only the partition gate is lifted.
    expect(t.pod(admitted[0]!).spec.schedulingGates).toEqual([{ name: 'example.com/other' }]);
    expect(t.pod(waiting).spec.schedulingGates?.map((g) => g.name)).toEqual(['example.com/other', PARTITION_GATE]);
  });

  test('when an admitted pod finishes, the waiting pod is admitted to the freed node', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, readyPartition('nb', ['n1']));
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', RES));
    await t.pass('nb');
    t.client.seed(RESOURCES.pod, makePartitionPod('p2', NS, 'nb', RES));
    await t.pass('nb');
    expect(podGated(t.pod('p2'))).toBe(true);
    t.client.edit<PodObject>(RESOURCES.pod, 'p1', NS, (p) => { p.status = { phase: 'Succeeded' }; });
    await t.pass('nb');
    expect(podGated(t.pod('p2'))).toBe(false);
    expect(podTargetNode(t.pod('p2'))).toBe('n1');
    expect(t.pod('p2').metadata.annotations?.[ADMISSION_ANNOTATION]).toBeUndefined();
  });

  test('a pod requesting another resource than the partition offers is refused', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, readyPartition('nb', ['n1']));
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', 'nvidia.com/mig-3g.90gb'));
    await t.pass('nb');
    expect(podGated(t.pod('p1'))).toBe(true);
    expect(t.recorder.events[0]?.reason).toBe('ResourceMismatch');
  });

  test('a growing partition admits a pod onto a realised free slice before the rest are realised, and times its wait', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, elasticPartition('serve', { count: 3, max: 6, realised: 2, allocated: ['True', 'Placed', 'placed'] }));
    for (const n of ['p1', 'p2', 'p3']) t.client.seed(RESOURCES.pod, makePartitionPod(n, NS, 'serve', RES));
    await t.pass('serve');
    expect(['p1', 'p2', 'p3'].map((n) => podGated(t.pod(n)))).toEqual([false, false, true]);
    expect(['p1', 'p2'].map((n) => podTargetNode(t.pod(n))).sort()).toEqual(['n1', 'n2']);
    expect(t.recorder.events.find((e) => e.name === 'p3')).toMatchObject({ type: 'Warning', reason: 'WaitingForSlice' });
    expect(t.pod('p3').metadata.annotations?.[ADMISSION_REASON_ANNOTATION]).toBe('WaitingForSlice');
    expect(t.waits.map((w) => w.elastic)).toEqual([true, true]);
    expect(t.waits.every((w) => w.seconds >= 0)).toBe(true);
  });

  test('a pod waiting for growth gets one Warning per reason, not one per pass: growing, then cannot grow', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, elasticPartition('serve', { count: 1, max: 4, realised: 1 }));
    t.client.seed(RESOURCES.pod, makePartitionPod('busy', NS, 'serve', RES));
    t.client.seed(RESOURCES.pod, makePartitionPod('new', NS, 'serve', RES));
    await t.pass('serve');
    // The autoscaler raised count; the new slice is being placed, with changing progress messages.
    for (const message of ['1 of 2 slices placed', '1 of 2 slices placed; queued']) {
      t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (o) => Object.assign(o, elasticPartition('serve', { count: 2, max: 4, realised: 1, allocated: ['False', 'Placing', message] })));
      await t.pass('serve');
      await t.pass('serve');
    }
    const waits = () => t.recorder.events.filter((e) => e.name === 'new');
    expect(waits().map((e) => e.reason)).toEqual(['WaitingForSlice']);
    expect(t.pod('new').metadata.annotations?.[ADMISSION_ANNOTATION]).toContain('1 of 2 slices placed; queued');
    // The cluster is full: the pod is told once, with the partition's Allocated reason.
    for (let i = 0; i < 2; i++) {
      const next = elasticPartition('serve', { count: 2, max: 4, realised: 1, allocated: ['False', 'InsufficientCapacity', `1 of 2 slices placed; serve: no node has room (${i})`] });
      t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (o) => Object.assign(o, next));
      await t.pass('serve');
    }
    expect(waits().map((e) => [e.type, e.reason])).toEqual([['Warning', 'WaitingForSlice'], ['Warning', 'PartitionCannotGrow']]);
    expect(waits()[1]?.message).toMatch(/cannot grow to 2 slice\(s\) for this pod: Allocated=False, InsufficientCapacity: 1 of 2 slices placed; serve: no node has room \(0\)/);
    expect(t.pod('new').metadata.annotations?.[ADMISSION_REASON_ANNOTATION]).toBe('PartitionCannotGrow/InsufficientCapacity');
    expect(t.pod('new').metadata.annotations?.[ADMISSION_ANNOTATION]).toContain('no node has room (1)');
  });

  test('an elastic partition at its max and full says so', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, elasticPartition('serve', { count: 2, max: 2, realised: 2 }));
    for (const n of ['p1', 'p2', 'p3']) t.client.seed(RESOURCES.pod, makePartitionPod(n, NS, 'serve', RES));
    await t.pass('serve');
    expect(t.recorder.events.find((e) => e.name === 'p3')).toMatchObject({ reason: 'PartitionFull', message: expect.stringContaining('at its spec.autoscale.max 2') });
  });

  test('count below the slices held (shrinking): no pod is admitted onto a slice that may be released', async () => {
    const t = setup();
    const p = readyPartition('nb', ['n1', 'n2', 'n3']);
    p.spec.count = 1;
    t.client.seed(RESOURCES.gpuPartition, p);
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', RES));
    await t.pass('nb');
    expect(podGated(t.pod('p1'))).toBe(true);
    expect(t.recorder.events[0]).toMatchObject({ reason: 'PartitionShrinking', message: expect.stringContaining('holds 3 slice(s) but its count is 1') });
  });

  test('a lagging pod cache does not lead to admitting more pods than slices', async () => {
    // The cache keeps returning the pods as first seen (all gated), like an informer that has not caught up.
    let frozen: PodObject[] | undefined;
    const t = setup((c) => ({
      get: () => undefined,
      list: (ns) => (frozen ??= c.all<PodObject>(RESOURCES.pod, ns)),
    }));
    t.client.seed(RESOURCES.gpuPartition, readyPartition('nb', ['n1']));
    t.client.seed(RESOURCES.pod, makePartitionPod('p1', NS, 'nb', RES));
    t.client.seed(RESOURCES.pod, makePartitionPod('p2', NS, 'nb', RES));
    await t.pass('nb');
    await t.pass('nb');
    const admitted = ['p1', 'p2'].filter((n) => !podGated(t.pod(n)));
    expect(admitted).toHaveLength(1);
  });
});
