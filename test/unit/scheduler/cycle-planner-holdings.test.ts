/**
 * What the cycle planner does with what a claimant already holds: a release limited to one uid or to some
 * nodes; claims of an older object of the same name given back before placing; a shrunk partition keeping the
 * slices pods use, renumbered into its slots; a gang holding part of itself given back and placed whole; a
 * partial holding given back when the rest does not fit, unless pods use it; and the victims of a preemption
 * (busy when pods use them, by the node's status or the caller), with a later lower-priority request told to
 * wait for the preempting one. Found by mutation testing (docs/reliability.md, "Ledger part, narrowed runs").
 */
import type { ClaimRef, GpuNode, GpuPartition } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { planCycle } from '../../../src/scheduler/cycle-planner.js';
import { jobDemand, partitionDemand, type Demand } from '../../../src/scheduler/demand.js';
import { makeGpuNode, makeJob, makeNode, makePartition } from '../support/builders.js';

const claim = (name: string, slot: number, extra: Partial<ClaimRef> = {}): ClaimRef => ({ kind: 'GpuPartition', namespace: 'ns', name, uid: `uid-${name}`, slot, priority: 0, preemptible: false, ...extra });

function partition(name: string, spec: Partial<GpuPartition['spec']> = {}, created = '2026-01-01T00:00:00Z'): GpuPartition {
  const p = makePartition(name, 'ns', { profile: '7g.180gb', ...spec });
  p.metadata = { name, namespace: 'ns', uid: `uid-${name}`, generation: 1, creationTimestamp: created };
  return p;
}
const hold = (p: GpuPartition, inUse = false) => partitionDemand(p, { release: false, inUse });
const deps = { nodeOf: (n: string) => makeNode(n) };
const run = (ledger: GpuNode[], demands: Demand[], extra: object = {}) => planCycle(ledger, demands, { ...deps, ...extra }, { seq: 0, outOfTime: () => false });

/** A node of `slices.length` B200s, GPU i holding slices[i] (7g claims; `busy`: a pod uses it). */
function node(name: string, slices: Array<{ claim?: ClaimRef; profile?: string; start?: number; busy?: boolean } | undefined>): GpuNode {
  const gn = makeGpuNode(name, { gpus: slices.length });
  gn.spec = { gpus: slices.flatMap((s, index) => (s?.claim ? [{ index, mode: 'mig' as const, slices: [{ profile: s.profile ?? '7g.180gb', start: s.start ?? 0, claim: s.claim }] }] : [])) };
  for (const [index, s] of slices.entries()) {
    const g = gn.status?.gpus?.[index];
    if (g && s?.claim) g.slices = [{ profile: s.profile ?? '7g.180gb', start: s.start ?? 0, uuid: `MIG-${name}-${index}`, deviceId: `MIG-${name}-${index}`, inUse: s.busy === true }];
  }
  return gn;
}

const held = (nodes: GpuNode[]) => ledgerEntries(nodes).map((e) => `${e.claim.name}/${e.claim.uid}/${e.claim.slot}@${e.node}/${e.gpuIndex}`).sort();
const after = (ledger: GpuNode[], plan: ReturnType<typeof run>) => {
  const changed = new Map(plan.draft.changed().map((n) => [n.metadata.name, n]));
  return ledger.map((n) => changed.get(n.metadata.name) ?? n);
};

describe('releases', () => {
  const ledger = () => [node('n1', [{ claim: claim('x', 0, { uid: 'old' }) }]), node('n2', [{ claim: claim('x', 1) }])];
  const release = (want: Partial<Extract<Demand['want'], { kind: 'release' }>>): Demand => ({ ...partitionDemand(partition('x'), { release: true, inUse: false }), want: { kind: 'release', cause: 'owner', ...want } });

  test('only the claims of the uid named', () => {
    const l = ledger();
    const plan = run(l, [release({ uid: 'old' })]);
    expect(plan.results[0]?.outcome).toEqual({ kind: 'released', count: 1 });
    expect(held(after(l, plan))).toEqual(['x/uid-x/1@n2/0']);
    expect(plan.seq).toBe(1);
  });

  test('only the claims on the nodes named', () => {
    const l = ledger();
    const plan = run(l, [release({ nodes: ['n2'] })]);
    expect(plan.results[0]?.outcome).toEqual({ kind: 'released', count: 1 });
    expect(held(after(l, plan))).toEqual(['x/old/0@n1/0']);
  });

  test('nothing to release leaves the capacity sequence alone', () => {
    const plan = run(ledger(), [release({ uid: 'none' })]);
    expect(plan.results[0]?.outcome).toEqual({ kind: 'released', count: 0 });
    expect(plan.seq).toBe(0);
  });
});

describe('holdings', () => {
  test('claims of an older object of the same name go back before the new one is placed', () => {
    const l = [node('n1', [{ claim: claim('x', 0, { uid: 'old' }) }])];
    const plan = run(l, [hold(partition('x'))]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'placed', slots: [0] }, gaveBack: 1 });
    expect(held(after(l, plan))).toEqual(['x/uid-x/0@n1/0']);
  });

  test('a holding that is complete is satisfied and gives nothing back', () => {
    const l = [node('n1', [{ claim: claim('x', 0) }])];
    const plan = run(l, [hold(partition('x'))]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'satisfied' }, gaveBack: 0 });
    expect(plan.draft.changed()).toEqual([]);
  });

  test('a partition shrunk to one slot keeps the slice a pod uses, renumbered to slot 0', () => {
    const l = [node('n1', [{ claim: claim('x', 0) }, { claim: claim('x', 1) }, { claim: claim('x', 2), busy: true }])];
    const plan = run(l, [hold(partition('x', { count: 1 }), true)]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'satisfied' }, gaveBack: 2 });
    expect(held(after(l, plan))).toEqual(['x/uid-x/0@n1/2']);
  });

  test('a partition shrunk with no slice in use keeps its lowest slots', () => {
    const l = [node('n1', [{ claim: claim('x', 2) }, { claim: claim('x', 0) }, { claim: claim('x', 1) }])];
    const plan = run(l, [hold(partition('x', { count: 2 }))]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'satisfied' }, gaveBack: 1 });
    expect(held(after(l, plan))).toEqual(['x/uid-x/0@n1/1', 'x/uid-x/1@n1/2']);
  });

  test('a gang holding part of itself gives it back and is placed whole', () => {
    const rank0: ClaimRef = { kind: 'TrainingJob', namespace: 'ns', name: 'g', uid: 'uid-g', slot: 0, priority: 0, preemptible: false };
    const gn = makeGpuNode('n1', { gpus: 2, mode: 'whole' });
    gn.spec = { gpus: [{ index: 0, mode: 'whole', slices: [], claim: rank0 }] };
    const job = makeJob('g', 'ns', { replicas: 2, gpusPerWorker: 1 });
    job.metadata = { name: 'g', namespace: 'ns', uid: 'uid-g', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' };
    const plan = run([gn], [jobDemand(job, { release: false })]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'placed', slots: [0, 1] }, gaveBack: 1 });
    expect(held(after([gn], plan))).toEqual(['g/uid-g/0@n1/0', 'g/uid-g/1@n1/1']);
  });

  test('a complete gang of several GPUs per worker is satisfied as it is', () => {
    const rank = (slot: number): ClaimRef => ({ kind: 'TrainingJob', namespace: 'ns', name: 'g', uid: 'uid-g', slot, priority: 0, preemptible: false });
    const gn = makeGpuNode('n1', { gpus: 4, mode: 'whole' });
    gn.spec = { gpus: [0, 0, 1, 1].map((slot, index) => ({ index, mode: 'whole' as const, slices: [], claim: rank(slot) })) };
    const job = makeJob('g', 'ns', { replicas: 2, gpusPerWorker: 2 });
    job.metadata = { name: 'g', namespace: 'ns', uid: 'uid-g', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' };
    const plan = run([gn], [jobDemand(job, { release: false })]);
    expect(plan.results[0]).toMatchObject({ outcome: { kind: 'satisfied' }, gaveBack: 0 });
    expect(plan.draft.changed()).toEqual([]);
  });

  test('when the rest does not fit, a partial holding goes back unless pods use it', () => {
    const l = () => [node('n1', [{ claim: claim('x', 0) }])];
    const idle = run(l(), [hold(partition('x', { count: 2 }))]);
    expect(idle.results[0]).toMatchObject({ outcome: { kind: 'waiting', code: 'InsufficientCapacity', permanent: false }, gaveBack: 1 });
    expect(held(after(l(), idle))).toEqual([]);
    const used = run(l(), [hold(partition('x', { count: 2 }), true)]);
    expect(used.results[0]).toMatchObject({ outcome: { kind: 'waiting', code: 'InsufficientCapacity' }, gaveBack: 0 });
    expect(used.draft.changed()).toEqual([]);
  });

  test('a GpuNode the operator has not written a spec for yet is used like an empty one', () => {
    const fresh = makeGpuNode('n1', { gpus: 1 });
    delete fresh.spec;
    const plan = run([fresh], [hold(partition('x'))]);
    expect(plan.results[0]?.outcome).toMatchObject({ kind: 'placed', slots: [0] });
  });

  test('a request the engine cannot understand waits for a new spec', () => {
    const plan = run([makeGpuNode('n1', { gpus: 1 })], [hold(partition('x', { profile: '5g.999gb' }))]);
    expect(plan.results[0]?.outcome).toMatchObject({ kind: 'waiting', code: 'UnknownProfile', permanent: true });
  });
});

describe('preemption', () => {
  // Three GPUs held by preemptible priority-0 partitions: a's slice is in use by a pod (node status), b's is
  // used as the caller says (podsUse), c's by nobody.
  const ledger = () => [
    node('n1', [
      { claim: claim('a', 0, { preemptible: true }), busy: true },
      { claim: claim('b', 0, { preemptible: true }) },
      { claim: claim('c', 0, { preemptible: true }) },
    ]),
  ];
  const preemptor = (name: string, priority: number, count = 1) => hold(partition(name, { priority, count, preemptionPolicy: 'PreemptLowerPriority' }));
  const podsUse = (c: ClaimRef) => c.name === 'b';

  test('victims are busy when a pod uses their slice or the caller says pods use them', () => {
    const plan = run(ledger(), [preemptor('p', 5, 3)], { podsUse });
    const o = plan.results[0]?.outcome;
    expect(o?.kind).toBe('placed');
    const victims = o?.kind === 'placed' ? [...o.victims].sort((x, y) => x.gpuIndex - y.gpuIndex) : [];
    expect(victims).toEqual([
      { claim: claim('a', 0, { preemptible: true }), node: 'n1', gpuIndex: 0, profile: '7g.180gb', start: 0, busy: true },
      { claim: claim('b', 0, { preemptible: true }), node: 'n1', gpuIndex: 1, profile: '7g.180gb', start: 0, busy: true },
      { claim: claim('c', 0, { preemptible: true }), node: 'n1', gpuIndex: 2, profile: '7g.180gb', start: 0, busy: false },
    ]);
    expect(held(after(ledger(), plan))).toEqual(['p/uid-p/0@n1/0', 'p/uid-p/1@n1/1', 'p/uid-p/2@n1/2']);
  });

  test('an idle victim without the caller\'s word is not busy', () => {
    const plan = run(ledger(), [preemptor('p', 5, 3)]);
    const o = plan.results[0]?.outcome;
    expect(o?.kind === 'placed' ? o.victims.find((v) => v.claim.name === 'b')?.busy : undefined).toBe(false);
  });

  test("a victim slice is busy when its own slice is in use, whatever the GPU's other slices", () => {
    // One GPU in two halves: v (preemptible, a pod on it) at start 0, w (not preemptible, idle) at start 4.
    const gn = makeGpuNode('n1', { gpus: 1 });
    const v = claim('v', 0, { preemptible: true });
    gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: v }, { profile: '3g.90gb', start: 4, claim: claim('w', 0) }] }] };
    gn.status!.gpus![0]!.slices = [
      { profile: '3g.90gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: true },
      { profile: '3g.90gb', start: 4, uuid: 'MIG-4', deviceId: 'MIG-4', inUse: false },
    ];
    const plan = run([gn], [hold(partition('p', { profile: '3g.90gb', priority: 5, preemptionPolicy: 'PreemptLowerPriority' }))]);
    const o = plan.results[0]?.outcome;
    expect(o?.kind === 'placed' ? o.victims : []).toEqual([{ claim: v, node: 'n1', gpuIndex: 0, profile: '3g.90gb', start: 0, busy: true }]);
  });

  test('a lower-priority request that does not fit waits for a higher one preempting slices in use', () => {
    const plan = run(ledger(), [preemptor('p', 5, 3), hold(partition('q', { priority: 1 }, '2026-01-01T00:00:01Z'))]);
    const q = plan.results.find((r) => r.demand.who.name === 'q')?.outcome;
    expect(q).toMatchObject({ kind: 'waiting', code: 'WaitingForPriority', permanent: false });
    expect(q?.kind === 'waiting' ? q.message : '').toMatch(/^waiting for higher-priority GpuPartition ns\/p \(priority 5\), which is preempting slices in use, to be served first; GpuPartition\/ns\/q: /);
  });

  test('a request of the same priority as the preempting one is not told to wait for it', () => {
    const plan = run(ledger(), [preemptor('p', 5, 3), hold(partition('q', { priority: 5 }, '2026-01-01T00:00:01Z'))]);
    expect(plan.results.find((r) => r.demand.who.name === 'q')?.outcome).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  });

  test('a preemption of idle slices only makes nobody wait for it', () => {
    const l = [node('n1', [{ claim: claim('c', 0, { preemptible: true }) }])];
    const plan = run(l, [preemptor('p', 5), hold(partition('q', { priority: 1 }, '2026-01-01T00:00:01Z'))]);
    expect(plan.results.find((r) => r.demand.who.name === 'q')?.outcome).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  });
});
