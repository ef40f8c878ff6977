import type { GpuNode } from '../../../../src/api/types.js';
import { guardGateClient } from '../../../../src/scheduler/defrag/admission-guard.js';
import type { DefragMetricsPort, DefragResult } from '../../../../src/scheduler/defrag/defrag-metrics.js';
import type { PlanDefragFn } from '../../../../src/scheduler/defrag/defrag-plan.js';
import type { PodObject } from '../../../../src/api/pods.js';
import { isConflict } from '../../../../src/k8s/errors.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { place } from '../../../../src/placement/engine.js';
import { PARTITION_GATE } from '../../../../src/api/constants.js';
import { makeGpuNode, makeJob, makeNode, makePartition, makePartitionPod, realise } from '../../support/builders.js';
import type { FakeClient } from '../../support/fakes.js';
import { OperatorSim } from '../../support/operator-sim.js';
import { partitionClaim } from '../../support/reconciler-fixtures.js';

const NS = 'team-a';

class RecordingMetrics implements DefragMetricsPort {
  readonly plans: DefragResult[] = [];
  readonly moved = new Map<string, number>();
  plan(result: DefragResult): void {
    this.plans.push(result);
  }
  moves(action: string, count: number): void {
    this.moved.set(action, (this.moved.get(action) ?? 0) + count);
  }
}

/**
 * Seeds node `n1` with `gpus` B200s fragmented by 1g.23gb slices: for each `[partition, gpu, start]`, a
 * partition holding that slice. The agent has realised the layout; `inUse` names the partitions whose pods
 * use their slice.
 */
function seedFragmented(client: FakeClient, gpus: number, slices: Array<[string, number, number]>, inUse: string[] = []): void {
  client.seed(RESOURCES.node, makeNode('n1'));
  const gn = makeGpuNode('n1', { gpus });
  const targets: NonNullable<NonNullable<GpuNode['spec']>['gpus']> = [];
  for (const [name, gpu, start] of slices) {
    const p = client.seed(RESOURCES.gpuPartition, makePartition(name, NS, { profile: '1g.23gb' }));
    const target = targets.find((g) => g.index === gpu) ?? targets[targets.push({ index: gpu, mode: 'mig', slices: [] }) - 1]!;
    target.slices.push({ profile: '1g.23gb', start, claim: partitionClaim(p) });
  }
  gn.spec = { gpus: targets };
  realise(gn);
  for (const [name, gpu, start] of slices) {
    if (inUse.includes(name)) gn.status!.gpus!.find((g) => g.index === gpu)!.slices.find((sl) => sl.start === start)!.inUse = true;
  }
  client.seed(RESOURCES.gpuNode, gn);
}

/**
 * One node with two B200s, fragmented by 1g slices: `idle` holds 1g@1 on GPU 0 (not in use) and `busy` holds
 * 1g@2 on GPU 1 (in use). No 4g.90gb (start 0, slots 0–3) fits without moving one of them.
 */
let sims: OperatorSim[] = [];
afterEach(async () => {
  for (const s of sims) await s.stop();
  sims = [];
});

function setup(opts: { planner?: PlanDefragFn; defrag?: boolean; gpus?: number; slices?: Array<[string, number, number]>; inUse?: string[]; agent?: boolean } = {}) {
  const metrics = new RecordingMetrics();
  const sim = new OperatorSim([], { defrag: opts.defrag === false ? false : (opts.planner ?? true), defragMetrics: metrics, agent: opts.agent ?? false });
  sims.push(sim);
  const { client, recorder, guard } = sim;
  seedFragmented(client, opts.gpus ?? 2, opts.slices ?? [['idle', 0, 1], ['busy', 1, 2]], opts.inUse ?? ['busy']);
  sim.start();
  const pass = async () => sim.settle();
  const part = (name: string) => sim.partition(name, NS);
  const claimOf = (name: string) => sim.entries(name);
  const gate = guardGateClient(client, guard, sim.pods, sim.partitions);
  return { sim, client, recorder, metrics, guard, pass, part, claimOf, gate };
}

const BIG = { profile: '4g.90gb' };

test('a fragmented node is defragmented: the idle slice moves, the in-use one stays, the big partition is placed in one write', async () => {
  const t = setup();
  await t.pass();
  await t.pass();
  const writesBefore = t.client.writesOf('GpuNode');
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();

  expect(t.client.writesOf('GpuNode')).toBe(writesBefore + 1);
  const [big] = t.claimOf('big');
  expect(big).toMatchObject({ node: 'n1', gpuIndex: 0, profile: '4g.90gb', start: 0 });
  // The in-use slice is where it was; the idle one left slots 0–3 of GPU 0 and is held exactly once.
  expect(t.claimOf('busy').map((e) => [e.gpuIndex, e.start])).toEqual([[1, 2]]);
  const idle = t.claimOf('idle');
  expect(idle).toHaveLength(1);
  expect(idle[0]!.gpuIndex === 0 ? idle[0]!.start! >= 4 : true).toBe(true);

  const defragEvent = t.recorder.events.find((e) => e.reason === 'Defragmenting');
  expect(defragEvent).toMatchObject({ name: 'big', type: 'Normal', message: 'moving 1 idle slice on n1 GPU 0 to make room for 4g.90gb' });
  const moved = t.recorder.events.find((e) => e.reason === 'Moved');
  expect(moved?.name).toBe('idle');
  expect(moved?.message).toContain(`from n1/gpu0@1 to n1/gpu${idle[0]!.gpuIndex}@${idle[0]!.start}`);
  expect(t.metrics.plans).toEqual(['applied']);
  expect(t.metrics.moved.get('move')).toBe(1);

  // The moved partition reports its new place on its next pass.
  await t.pass();
  expect(t.part('idle')?.status?.allocations?.map((a) => [a.gpuIndex, a.start])).toEqual([[idle[0]!.gpuIndex, idle[0]!.start]]);
  expect(t.part('big')?.status?.phase).toBe('Allocating');
});

test('a partition with an admitted pod is never moved, even when its slice is not reported in use', async () => {
  const t = setup();
  t.client.seed(RESOURCES.pod, makePartitionPod('nb-0', NS, 'idle', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running', node: 'n1' }));
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();
  expect(t.part('big')?.status?.phase).toBe('Pending');
  expect(t.part('big')?.status?.conditions?.find((c) => c.type === 'Allocated')?.reason).toBe('InsufficientCapacity');
  expect(t.client.writesOf('GpuNode')).toBe(0);
  expect(t.metrics.plans).toEqual(['none']);
});

test('an admission the pod cache does not show yet (pod-gate bookkeeping) also protects the partition', async () => {
  const t = setup();
  // The pod is still gated in the cache, but the gate has just lifted it through the guarded client.
  t.client.seed(RESOURCES.pod, makePartitionPod('nb-0', NS, 'idle', 'nvidia.com/mig-1g.23gb'));
  const lagging = { ...t.client, mergePatch: () => Promise.resolve({}) } as unknown as FakeClient;
  const gate = guardGateClient(lagging, t.guard, { get: (n, ns) => t.client.store.get(t.client.key(RESOURCES.pod, n, ns)) as PodObject, list: () => [] }, { get: () => undefined, list: () => [] });
  await gate.mergePatch(RESOURCES.pod, 'nb-0', { spec: { schedulingGates: [] } }, NS);
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();
  expect(t.claimOf('big')).toHaveLength(0);
  expect(t.claimOf('idle').map((e) => [e.gpuIndex, e.start])).toEqual([[0, 1]]);
});

test('while a move is in flight the pod gate may not admit pods to the moved partition', async () => {
  const t = setup();
  t.client.seed(RESOURCES.pod, makePartitionPod('nb-0', NS, 'idle', 'nvidia.com/mig-1g.23gb'));
  await t.pass();
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  // One round: the cycle moves `idle` and places `big`; `idle` has not reported its new place yet.
  await t.sim.reconcileAll();
  await t.sim.cycle.idle();
  expect(t.claimOf('big')).toHaveLength(1);
  const lift = { spec: { schedulingGates: [] as Array<{ name: string }> } };
  const refused = await t.gate.mergePatch(RESOURCES.pod, 'nb-0', lift, NS).then(() => undefined, (e: unknown) => e);
  expect(isConflict(refused)).toBe(true);
  // Once the partition's status shows where its slice went, admission goes ahead.
  await t.pass();
  await t.gate.mergePatch(RESOURCES.pod, 'nb-0', lift, NS);
  const pod = t.client.store.get(t.client.key(RESOURCES.pod, 'nb-0', NS)) as PodObject;
  expect((pod.spec.schedulingGates ?? []).some((g) => g.name === PARTITION_GATE)).toBe(false);
});

test('a 409 on the ledger write forgets the move and the next pass plans again', async () => {
  const t = setup();
  await t.pass();
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  t.client.conflictOnce.add('GpuNode/n1');
  await t.pass();
  // The refused write forgot its move; the next cycle planned again and moved once.
  expect(t.claimOf('big')).toHaveLength(1);
  expect(t.recorder.events.filter((e) => e.reason === 'Moved')).toHaveLength(1);
  expect(t.metrics.plans).toEqual(['applied']);
});

test('with defragmentation off (--defrag=false) the request waits', async () => {
  const t = setup({ defrag: false });
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();
  expect(t.claimOf('big')).toHaveLength(0);
  expect(t.part('big')?.status?.phase).toBe('Pending');
  expect(t.recorder.reasons()).not.toContain('Defragmenting');
});

test('an unsafe plan from the planner is rejected and nothing is written', async () => {
  // A planner that proposes moving the in-use slice.
  const bad: PlanDefragFn = (snap, req) => {
    const placed = place(snap, req);
    return {
      ok: true,
      moves: [{ action: 'move', holderKey: `GpuPartition/${NS}/busy/0`, node: 'n1', gpuIndex: 1, profile: '1g.23gb', start: 2, to: { node: 'n1', gpuIndex: 1, start: 5 } }],
      placement: placed.ok ? placed : { ok: true, assignments: [], layouts: [], victims: [] },
    };
  };
  const t = setup({ planner: bad });
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();
  expect(t.client.writesOf('GpuNode')).toBe(0);
  expect(t.metrics.plans).toEqual(['rejected']);
  expect(t.claimOf('busy').map((e) => [e.gpuIndex, e.start])).toEqual([[1, 2]]);
});

test('a plan that would not let the request fit is not carried out', async () => {
  // Moving the idle slice within GPU 0 to slot 2 keeps slots 0–3 blocked.
  const useless: PlanDefragFn = () => ({
    ok: true,
    moves: [{ action: 'move', holderKey: `GpuPartition/${NS}/idle/0`, node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: 1, to: { node: 'n1', gpuIndex: 0, start: 2 } }],
    placement: { ok: true, assignments: [], layouts: [], victims: [] },
  });
  const t = setup({ planner: useless });
  t.client.seed(RESOURCES.gpuPartition, makePartition('big', NS, BIG));
  await t.pass();
  expect(t.client.writesOf('GpuNode')).toBe(0);
  expect(t.metrics.plans).toEqual(['ineffective']);
  expect(t.claimOf('idle').map((e) => [e.gpuIndex, e.start])).toEqual([[0, 1]]);
});

test('a TrainingJob gang is placed after idle slices are consolidated onto one GPU', async () => {
  // Three GPUs, two of them opened by one idle 1g each: two whole GPUs need one of those slices to move over.
  const { sim, client, recorder, metrics } = setup({ gpus: 3, slices: [['a', 0, 0], ['b', 1, 3]], inUse: [] });
  client.seed(RESOURCES.trainingJob, makeJob('train', NS, { replicas: 1, gpusPerWorker: 2 }));
  await sim.settle();

  const entries = sim.entries();
  const job = entries.filter((e) => e.claim.kind === 'TrainingJob');
  expect(job).toHaveLength(2);
  const slices = entries.filter((e) => e.claim.kind === 'GpuPartition');
  expect(slices.map((e) => e.claim.name).sort()).toEqual(['a', 'b']);
  // Both partition slices now share the one GPU the gang does not hold.
  expect(new Set(slices.map((e) => e.gpuIndex)).size).toBe(1);
  expect(job.some((e) => e.gpuIndex === slices[0]!.gpuIndex)).toBe(false);
  expect(recorder.events.find((e) => e.reason === 'Defragmenting')?.message).toMatch(/^moving 1 idle slice on n1 GPU [01] to make room for 2 whole GPUs$/);
  expect(recorder.events.filter((e) => e.reason === 'Moved')).toHaveLength(1);
  expect(metrics.plans).toEqual(['applied']);
});
