import { PARTITION_LABEL } from '../../../../src/api/constants.js';
import type { GpuPartition } from '../../../../src/api/types.js';
import { ADMISSION_ANNOTATION, CHOOSE_PARTITION, decideBindings, podAwaitsBinding } from '../../../../src/controllers/pod-gate/pod-admission.js';
import { BINDING_REQUEST, PodGateReconciler, partitionGateRequests, podGateRequests } from '../../../../src/controllers/pod-gate/pod-gate-reconciler.js';
import type { PodObject } from '../../../../src/api/pods.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makePartition, makePartitionPod } from '../../support/builders.js';
import { FakeClient, FakeRecorder, cacheOf, quietLog } from '../../support/fakes.js';

const NS = 'team-a';
const RES = 'nvidia.com/mig-1g.23gb';

function partition(name: string, slices: number, opts: { phase?: 'Ready' | 'Pending'; resource?: string } = {}): GpuPartition {
  const resource = opts.resource ?? RES;
  const profile = resource.replace('nvidia.com/mig-', '');
  const p = makePartition(name, NS, { profile, count: slices });
  p.status = {
    phase: opts.phase ?? 'Ready',
    ...(opts.phase === 'Pending' ? {} : { resourceName: resource, allocations: [...Array(slices).keys()].map((slot) => ({ slot, node: 'n1', gpuIndex: 0, profile, start: slot, realised: true, inUse: false })) }),
  };
  return p;
}

/** A plain NVIDIA-style pod after the MutatingAdmissionPolicy: empty partition label, gated. */
function plainPod(name: string, created: string, requests: Record<string, string> = { [RES]: '1' }): PodObject {
  const pod = makePartitionPod(name, NS, CHOOSE_PARTITION, RES);
  pod.metadata.creationTimestamp = created;
  pod.spec.containers[0]!.resources = { limits: requests };
  return pod;
}

const bound = (name: string, to: string) => ({ ...makePartitionPod(name, NS, to, RES, { gated: false, node: 'n1', phase: 'Running' }) });

describe('decideBindings: the documented rule', () => {
  test.each([
    ['the first Ready partition by name with a free slice', [partition('b', 1), partition('a', 1)], [], 'a'],
    ['skips a full partition', [partition('a', 1), partition('b', 1)], [bound('x', 'a')], 'b'],
    ['skips a partition of another profile', [partition('a', 1, { resource: 'nvidia.com/mig-3g.90gb' }), partition('z', 2)], [], 'z'],
    ['skips a partition that is not Ready', [partition('a', 1, { phase: 'Pending' }), partition('b', 1)], [], 'b'],
  ])('%s', (_what, partitions, others, want) => {
    const d = decideBindings({ namespace: NS, partitions, pods: [plainPod('p', '2026-01-01T00:00:00Z'), ...others] });
    expect(d).toEqual([expect.objectContaining({ bind: true, partition: want })]);
  });

  test('oldest pod first; each binding takes its slices before the next pod is decided', () => {
    const d = decideBindings({ namespace: NS, partitions: [partition('a', 1), partition('b', 1)], pods: [plainPod('late', '2026-01-01T00:00:02Z'), plainPod('early', '2026-01-01T00:00:01Z'), plainPod('last', '2026-01-01T00:00:03Z')] });
    expect(d.map((x) => [x.pod.metadata.name, x.bind ? x.partition : x.reason])).toEqual([
      ['early', 'a'],
      ['late', 'b'],
      ['last', 'PartitionsFull'],
    ]);
    const full = d[2] as { message: string };
    expect(full.message).toBe(`every GpuPartition offering ${RES} in namespace ${NS} is full (a: 0 of 1 free, b: 0 of 1 free); raise a partition's count or create another, or the pod starts when 1 slice(s) are free`);
  });

  test('no partition offers the resource: the message names what to create', () => {
    const [d] = decideBindings({ namespace: NS, partitions: [partition('big', 1, { resource: 'nvidia.com/mig-7g.180gb' })], pods: [plainPod('p', 't', { [RES]: '2' })] });
    expect(d).toMatchObject({ bind: false, reason: 'NoMatchingPartition' });
    expect((d as { message: string }).message).toBe(
      `no GpuPartition in namespace ${NS} offers ${RES}: create one with spec.profile 1g.23gb and count >= 2 (kind GpuPartition, apiVersion gpu.haein.dev/v1alpha1) in namespace ${NS}; the pod starts on it once it is Ready`,
    );
  });

  test('a partition still being placed: wait for it', () => {
    const [d] = decideBindings({ namespace: NS, partitions: [partition('nb', 1, { phase: 'Pending' })], pods: [plainPod('p', 't')] });
    expect(d).toMatchObject({ bind: false, reason: 'PartitionNotReady', message: expect.stringContaining('nb: Pending') });
  });

  test.each([
    ['two MIG resources', { [RES]: '1', 'nvidia.com/mig-2g.45gb': '1' }],
    ['a MIG resource and whole GPUs', { [RES]: '1', 'nvidia.com/gpu': '1' }],
  ])('%s cannot be matched', (_what, requests) => {
    const [d] = decideBindings({ namespace: NS, partitions: [partition('a', 4)], pods: [plainPod('p', 't', requests)] });
    expect(d).toMatchObject({ bind: false, reason: 'ResourceMismatch' });
  });

  test('only gated pods with an empty label, alive, are bound', () => {
    const ungated = plainPod('u', 't');
    ungated.spec.schedulingGates = [];
    const done = plainPod('d', 't');
    done.status = { phase: 'Succeeded' };
    const named = makePartitionPod('n', NS, 'a', RES);
    expect([ungated, done, named, plainPod('p', 't')].map(podAwaitsBinding)).toEqual([false, false, false, true]);
  });
});

describe('PodGateReconciler binding pass (key namespace/*)', () => {
  function setup() {
    const client = new FakeClient();
    const recorder = new FakeRecorder();
    const pods = cacheOf<PodObject>(client, RESOURCES.pod);
    const r = new PodGateReconciler({ client, pods, partitions: cacheOf<GpuPartition>(client, RESOURCES.gpuPartition), recorder });
    const pod = (name: string) => client.store.get(client.key(RESOURCES.pod, name, NS)) as PodObject;
    return { client, recorder, pods, pod, pass: (name: string) => r.reconcile({ namespace: NS, name }, quietLog) };
  }

  test('labels the pod with the chosen partition (keeping the gate), then the partition pass admits it', async () => {
    const t = setup();
    t.client.seed(RESOURCES.gpuPartition, partition('nb', 1));
    t.client.seed(RESOURCES.pod, plainPod('p', 't'));
    await t.pass(BINDING_REQUEST);
    expect(t.pod('p').metadata.labels?.[PARTITION_LABEL]).toBe('nb');
    expect(t.pod('p').spec.schedulingGates).toHaveLength(1);
    expect(t.recorder.events).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'Bound' }));
    await t.pass('nb');
    expect(t.pod('p').spec.schedulingGates).toEqual([]);
  });

  test('a pod that matches nothing keeps its gate, with one Warning naming what to create', async () => {
    const t = setup();
    t.client.seed(RESOURCES.pod, plainPod('p', 't'));
    await t.pass(BINDING_REQUEST);
    await t.pass(BINDING_REQUEST);
    expect(t.pod('p').metadata.labels?.[PARTITION_LABEL]).toBe('');
    expect(t.pod('p').spec.schedulingGates).toHaveLength(1);
    const warnings = t.recorder.events.filter((e) => e.reason === 'NoMatchingPartition');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toContain('create one with spec.profile 1g.23gb');
    expect(t.pod('p').metadata.annotations?.[ADMISSION_ANNOTATION]).toBe(warnings[0]!.message);
  });

  test('pod and partition changes reach the binding key only while a pod waits for a partition', () => {
    const t = setup();
    const p = partition('nb', 1);
    expect(partitionGateRequests(t.pods)(p)).toEqual([{ namespace: NS, name: 'nb' }]);
    const other = bound('x', 'nb');
    expect(podGateRequests(t.pods)(other)).toEqual([{ namespace: NS, name: 'nb' }]);
    t.client.seed(RESOURCES.pod, plainPod('p', 't'));
    expect(partitionGateRequests(t.pods)(p)).toEqual([{ namespace: NS, name: 'nb' }, { namespace: NS, name: BINDING_REQUEST }]);
    expect(podGateRequests(t.pods)(other)).toEqual([{ namespace: NS, name: 'nb' }, { namespace: NS, name: BINDING_REQUEST }]);
  });
});
