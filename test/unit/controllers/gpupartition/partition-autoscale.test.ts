/**
 * Elastic partitions through the in-memory operator (real reconciler, real admission cycle): count follows the
 * consumer pods, written as a generation-guarded patch; idle slices go after the delay and never a slice a pod
 * uses; a count below what pods hold never releases their slices, elastic or not.
 */
import type { PodObject } from '../../../../src/api/pods.js';
import type { GpuNode, GpuPartition, PartitionAutoscale } from '../../../../src/api/types.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makePartition, makePartitionPod } from '../../support/builders.js';
import { OperatorSim } from '../../support/operator-sim.js';

const NS = 'team-a';
const RES = 'nvidia.com/mig-1g.23gb';
const cond = (p: GpuPartition | undefined, type: string) => p?.status?.conditions?.find((c) => c.type === type);

let sim: OperatorSim;
afterEach(() => sim?.stop());

function start(nodes: GpuNode[] = [makeGpuNode('n1', { gpus: 2 })]): OperatorSim {
  // The tests move the simulated clock by minutes: keep the cycle's orphan sweep (real-time timer) out of the way.
  sim = new OperatorSim(nodes, { cycle: { gcIntervalMs: 24 * 3_600_000 } }).start();
  return sim;
}

function elastic(t: OperatorSim, autoscale: PartitionAutoscale, count = 1): void {
  t.client.seed(RESOURCES.gpuPartition, makePartition('serve', NS, { profile: '1g.23gb', count, autoscale }));
}

/**
 * What the pod gate and the kubelet do for a pod (created gated if it does not exist): admit it onto a free
 * realised slice, which the node then reports in use.
 */
function runPod(t: OperatorSim, name: string): void {
  const p = t.partition('serve', NS)!;
  const busy = new Set(t.client.all<GpuNode>(RESOURCES.gpuNode).flatMap((gn) => gn.status!.gpus!.flatMap((g) => g.slices.filter((s) => s.inUse).map((s) => `${gn.metadata.name}/${g.index}/${s.start}`))));
  const free = p.status!.allocations!.find((a) => a.realised && !busy.has(`${a.node}/${a.gpuIndex}/${a.start}`))!;
  t.client.delete(RESOURCES.pod, name, NS);
  t.client.seed(RESOURCES.pod, makePartitionPod(name, NS, 'serve', RES, { gated: false, phase: 'Running', node: free.node }));
  t.client.edit<GpuNode>(RESOURCES.gpuNode, free.node, undefined, (gn) => {
    const s = gn.status!.gpus!.find((g) => g.index === free.gpuIndex)!.slices.find((x) => x.start === free.start)!;
    s.inUse = true;
    s.pod = { namespace: NS, name };
  });
}

/** The pod ends: it is deleted and its node reports the slice free. */
function endPod(t: OperatorSim, name: string): void {
  t.client.delete(RESOURCES.pod, name, NS);
  for (const gn of t.client.all<GpuNode>(RESOURCES.gpuNode)) {
    t.client.edit<GpuNode>(RESOURCES.gpuNode, gn.metadata.name as string, undefined, (x) => {
      for (const s of x.status!.gpus!.flatMap((g) => g.slices).filter((y) => y.pod?.name === name)) {
        s.inUse = false;
        delete s.pod;
      }
    });
  }
}

/** Slice positions pods use, as `node/gpu@start`. */
function inUseSlices(t: OperatorSim): string[] {
  return t.client
    .all<GpuNode>(RESOURCES.gpuNode)
    .flatMap((gn) => gn.status!.gpus!.flatMap((g) => g.slices.filter((s) => s.inUse).map((s) => `${gn.metadata.name}/${g.index}@${s.start}`)))
    .sort();
}

const held = (t: OperatorSim) => t.entries('serve').map((e) => `${e.node}/${e.gpuIndex}@${e.start}`).sort();

describe('elastic GpuPartition', () => {
  test('grows as consumer pods appear, up to max; status, condition and Events say so', async () => {
    const t = start();
    elastic(t, { min: 1, max: 4, scaleDownDelaySeconds: 60 });
    await t.settle();
    let p = t.partition('serve', NS);
    expect(p?.status).toMatchObject({ phase: 'Ready', replicas: 1, selector: 'gpu.haein.dev/partition=serve', autoscale: { consumers: 0, desiredCount: 1 } });
    expect(cond(p, 'Autoscaled')).toMatchObject({ status: 'True', reason: 'FollowingConsumers' });

    for (let i = 0; i < 6; i++) t.client.seed(RESOURCES.pod, makePartitionPod(`pod-${i}`, NS, 'serve', RES));
    await t.settle();
    p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(4);
    expect(t.entries('serve')).toHaveLength(4);
    expect(p?.status).toMatchObject({ phase: 'Ready', replicas: 4, autoscale: { consumers: 6, desiredCount: 4 } });
    expect(cond(p, 'Autoscaled')).toMatchObject({ status: 'False', reason: 'LimitedByMaximum' });
    expect(t.recorder.events.filter((e) => e.reason === 'ScaledUp').map((e) => e.message)).toEqual(['count 1 → 4: 6 consumer pod(s) need 6 slice(s) (min 1, max 4)']);
    // One guarded spec write, not a read-modify-write of the whole object.
    expect(t.client.writesOf('GpuPartition', 'jsonPatch')).toBe(1);
    expect(t.client.writesOf('GpuPartition', 'replace')).toBe(0);
  });

  test('shrinks once the delay has passed, releasing idle slices and keeping the ones pods use', async () => {
    const t = start();
    elastic(t, { min: 1, max: 4, scaleDownDelaySeconds: 60 });
    for (const n of ['a', 'b', 'c', 'd']) t.client.seed(RESOURCES.pod, makePartitionPod(n, NS, 'serve', RES));
    await t.settle();
    for (const n of ['a', 'b', 'c', 'd']) runPod(t, n);
    await t.settle();
    expect(t.partition('serve', NS)?.spec.count).toBe(4);
    // Two pods end; the two still running hold their slices on whichever GPU the placement gave them.
    endPod(t, 'a');
    endPod(t, 'c');
    const kept = inUseSlices(t);
    expect(kept).toHaveLength(2);

    // One pass: the surplus is noted with the time it began, nothing is released yet.
    await t.reconcileAll();
    await t.cycle.idle();
    let p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(4);
    expect(p?.status?.autoscale).toMatchObject({ consumers: 2, desiredCount: 2, scaleDownSince: t.now().toISOString(), scaleDownTo: 2 });
    expect(cond(p, 'Autoscaled')).toMatchObject({ status: 'False', reason: 'ScaleDownDelayed' });
    expect(t.entries('serve')).toHaveLength(4);

    // settle() honours the requeue by moving the clock past the delay.
    await t.settle();
    p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(2);
    expect(held(t)).toEqual(kept);
    expect(p?.status?.allocations?.map((a) => a.slot).sort()).toEqual([0, 1]);
    expect(cond(p, 'Autoscaled')).toMatchObject({ status: 'True', reason: 'FollowingConsumers' });
    expect(t.recorder.events.find((e) => e.reason === 'ScaledDown')?.message).toMatch(/^count 4 → 2: 2 slice\(s\) idle/);
  });

  test('an admitted pod that does not hold its slice yet holds up the scale-down', async () => {
    const t = start();
    elastic(t, { min: 1, max: 4, scaleDownDelaySeconds: 0 });
    for (const n of ['a', 'b', 'c']) t.client.seed(RESOURCES.pod, makePartitionPod(n, NS, 'serve', RES));
    await t.settle();
    runPod(t, 'a');
    runPod(t, 'b');
    // Admitted and pinned, but its container has not started: the node reports nothing in use for it.
    t.client.edit<PodObject>(RESOURCES.pod, 'c', NS, (pod) => delete pod.spec.schedulingGates);
    endPod(t, 'b');
    await t.settle();
    const p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(3);
    expect(cond(p, 'Autoscaled')).toMatchObject({ status: 'False', reason: 'WaitingForPods' });
    expect(t.entries('serve')).toHaveLength(3);
  });

  test('a manual count below the pods is raised back at once; one above max is lowered to max', async () => {
    const t = start();
    elastic(t, { min: 1, max: 3, scaleDownDelaySeconds: 600 });
    await t.settle();
    runPod(t, 'a');
    t.client.seed(RESOURCES.pod, makePartitionPod('b', NS, 'serve', RES));
    await t.settle();
    expect(t.partition('serve', NS)?.spec.count).toBe(2);
    t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (p) => (p.spec.count = 0), true);
    await t.settle();
    expect(t.partition('serve', NS)?.spec.count).toBe(2);
    expect(inUseSlices(t).every((s) => held(t).includes(s))).toBe(true);
    t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (p) => (p.spec.count = 9), true);
    await t.reconcileAll();
    expect(t.partition('serve', NS)?.spec.count).toBe(3);
  });

  test('min 0 scales to zero when idle (Ready ScaledToZero), and a new pod brings a slice back', async () => {
    const t = start();
    elastic(t, { min: 0, max: 2, scaleDownDelaySeconds: 30 });
    await t.settle();
    let p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(0);
    expect(t.entries('serve')).toEqual([]);
    expect(p?.status).toMatchObject({ phase: 'Ready', replicas: 0, resourceName: RES });
    expect(cond(p, 'Ready')).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
    expect(cond(p, 'Allocated')?.message).toBe('count is 0: no slice is held');
    t.client.seed(RESOURCES.pod, makePartitionPod('first', NS, 'serve', RES));
    await t.settle();
    p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(1);
    expect(p?.status).toMatchObject({ phase: 'Ready', replicas: 1 });
  });

  test('removing spec.autoscale drops its status and condition and leaves count alone', async () => {
    const t = start();
    elastic(t, { min: 2, max: 3 });
    await t.settle();
    t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (p) => delete p.spec.autoscale, true);
    await t.settle();
    const p = t.partition('serve', NS);
    expect(p?.spec.count).toBe(2);
    expect(p?.status?.autoscale).toBeUndefined();
    expect(cond(p, 'Autoscaled')).toBeUndefined();
  });
});

describe('a count below the slices pods hold (any partition)', () => {
  test('keeps those slices until their pods end, and says so', async () => {
    const t = start();
    t.client.seed(RESOURCES.gpuPartition, makePartition('serve', NS, { profile: '1g.23gb', count: 3 }));
    await t.settle();
    for (const n of ['a', 'b', 'c']) runPod(t, n);
    const used = inUseSlices(t);
    t.client.edit<GpuPartition>(RESOURCES.gpuPartition, 'serve', NS, (p) => (p.spec.count = 1), true);
    await t.settle();
    expect(held(t)).toEqual(used);
    const p = t.partition('serve', NS);
    expect(p?.status?.replicas).toBe(3);
    expect(cond(p, 'Allocated')?.message).toContain('spec.count is 1: the other 2 are released as the pods holding them end');

    endPod(t, 'b');
    await t.settle();
    expect(held(t)).toEqual(inUseSlices(t));
    expect(held(t)).toHaveLength(2);
    endPod(t, 'a');
    endPod(t, 'c');
    await t.settle();
    expect(held(t)).toHaveLength(1);
    expect(t.partition('serve', NS)?.status?.replicas).toBe(1);
  });
});
