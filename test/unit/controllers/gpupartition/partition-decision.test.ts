import { PARTITION_FINALIZER } from '../../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../../src/api/types.js';
import { ALLOCATING_STATUS_DELAY_MS, decidePartition, type PartitionObservation } from '../../../../src/controllers/gpupartition/partition-decision.js';
import type { LedgerEntry } from '../../../../src/ledger/claims.js';
import { makeGpuNode, makePartition, makePartitionPod, realise } from '../../support/builders.js';
import { partitionClaim } from '../../support/reconciler-fixtures.js';

const NOW = new Date('2026-01-01T00:00:10Z');

function partition(opts: { count?: number; finalizer?: boolean; deleting?: boolean; phase?: GpuPartition['status'] } = {}): GpuPartition {
  const p = makePartition('nb', 'ns', { profile: '1g.23gb', count: opts.count ?? 1 });
  p.metadata.uid = 'uid-nb';
  p.metadata.generation = 1;
  if (opts.finalizer) p.metadata.finalizers = [PARTITION_FINALIZER];
  if (opts.deleting) p.metadata.deletionTimestamp = '2026-01-01T00:00:09Z';
  if (opts.phase) p.status = opts.phase;
  return p;
}

function entry(p: GpuPartition, slot: number, uid = p.metadata.uid as string): LedgerEntry {
  return { node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: slot, claim: { ...partitionClaim(p, slot), uid } };
}

/** The node with the entries' slices in its target, realised or not. */
function nodeWith(entries: LedgerEntry[], realised: boolean): GpuNode {
  const gn = makeGpuNode('n1', { gpus: 1 });
  gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: entries.map((e) => ({ profile: e.profile as string, start: e.start as number, claim: e.claim })) }] };
  gn.metadata.generation = 2;
  if (realised) realise(gn);
  return gn;
}

function observe(p: GpuPartition, o: Partial<PartitionObservation> & { realised?: boolean } = {}): PartitionObservation {
  const entries = o.entries ?? [];
  const gn = nodeWith(entries, o.realised ?? false);
  return { partition: p, entries, gpuNode: () => gn, pods: o.pods ?? [], admitted: o.admitted ?? [], now: NOW, ...o };
}

const cond = (s: GpuPartition['status'], type: string) => s?.conditions?.find((c) => c.type === type);

describe('decidePartition', () => {
  test.each([
    ['new, not decided yet: demand, no status write, no finalizer', partition(), {}, { demand: 'hold', status: false, finalizer: undefined }],
    ['waiting with a verdict: Pending with the reason, still no finalizer', partition(), { verdict: { uid: 'uid-nb', generation: 1, code: 'InsufficientCapacity', message: 'no room' } }, { demand: 'hold', status: 'Pending', finalizer: undefined }],
    ['a verdict on an older generation is not this spec\'s', partition({ phase: { phase: 'Pending' } }), { verdict: { uid: 'uid-nb', generation: 0, code: 'InsufficientCapacity', message: 'old' } }, { demand: 'hold', status: 'Pending', finalizer: undefined, reason: 'Placing' }],
  ] as const)('%s', (_name, p, o, want) => {
    const d = decidePartition(observe(p, o as Partial<PartitionObservation>));
    expect(d.demand === 'withdraw' ? 'withdraw' : d.demand?.want.kind).toBe(want.demand);
    expect(d.status?.phase ?? false).toBe(want.status);
    expect(d.finalizer).toBe(want.finalizer);
    if ('reason' in want) expect(cond(d.status, 'Allocated')?.reason).toBe(want.reason);
  });

  test('placed and realised: withdraw, add the finalizer, Ready', () => {
    const p = partition();
    const d = decidePartition(observe(p, { entries: [entry(p, 0)], realised: true }));
    expect(d).toMatchObject({ demand: 'withdraw', finalizer: 'add' });
    expect(d.status?.phase).toBe('Ready');
    expect(d.events.map((e) => e.reason)).toEqual(['Ready']);
  });

  test('placed, not realised: no Allocating write within the grace period, then Allocating', () => {
    const p = partition({ finalizer: true });
    const early = decidePartition(observe(p, { entries: [entry(p, 0)], placedForMs: 200 }));
    expect(early.status).toBeUndefined();
    expect(early.requeueAfterMs).toBe(ALLOCATING_STATUS_DELAY_MS - 200);
    const late = decidePartition(observe(p, { entries: [entry(p, 0)], placedForMs: ALLOCATING_STATUS_DELAY_MS }));
    expect(late.status?.phase).toBe('Allocating');
    expect(cond(late.status, 'Ready')?.reason).toBe('WaitingForNode');
  });

  test('half placed and waiting: the message says how many are placed; all-or-nothing is the cycle\'s', () => {
    const p = partition({ count: 2, finalizer: true });
    const d = decidePartition(observe(p, { entries: [entry(p, 0)], verdict: { uid: 'uid-nb', generation: 1, code: 'InsufficientCapacity', message: 'no room' } }));
    expect(d.demand !== 'withdraw' && d.demand?.want.kind).toBe('hold');
    expect(cond(d.status, 'Allocated')).toMatchObject({ status: 'False', reason: 'InsufficientCapacity', message: '1 of 2 slices placed; no room' });
  });

  test('a stale claim (older object of the same name) makes the partition ask for a cycle even when complete', () => {
    const p = partition({ finalizer: true });
    const d = decidePartition(observe(p, { entries: [entry(p, 0), { ...entry(p, 0, 'old-uid'), start: 1 }], realised: true }));
    expect(d.demand !== 'withdraw' && d.demand?.want.kind).toBe('hold');
  });

  test('count lowered: the kept slices stay Ready and Allocated while the cycle releases the rest, with no new Ready Event', () => {
    const before = partition({ count: 3, finalizer: true });
    const entries = [entry(before, 0), entry(before, 1), entry(before, 2)];
    const ready = decidePartition(observe(before, { entries, realised: true })).status!;
    expect(ready.phase).toBe('Ready');
    const p = partition({ count: 1, finalizer: true, phase: ready });
    const d = decidePartition(observe(p, { entries, realised: true }));
    expect(d.demand !== 'withdraw' && d.demand?.want.kind).toBe('hold');
    expect(d.status?.phase).toBe('Ready');
    expect(d.status?.replicas).toBe(1);
    expect(cond(d.status, 'Allocated')).toMatchObject({ status: 'True', reason: 'Placed' });
    expect(cond(d.status, 'Allocated')?.message).toMatch(/; releasing 2 slice\(s\) no longer wanted$/);
    expect(d.events).toEqual([]);
    // Released: the message no longer mentions it, and the partition has nothing more to ask.
    const done = decidePartition(observe(partition({ count: 1, finalizer: true, phase: d.status }), { entries: [entries[0]!], realised: true }));
    expect(done.demand).toBe('withdraw');
    expect(cond(done.status, 'Allocated')?.message).not.toMatch(/releasing/);
    expect(done.events).toEqual([]);
    // Scaled to zero: Ready (ScaledToZero) at once, and the message says the slices are still going.
    const zero = decidePartition(observe(partition({ count: 0, finalizer: true, phase: ready }), { entries, realised: true }));
    expect(cond(zero.status, 'Ready')).toMatchObject({ status: 'True', reason: 'ScaledToZero' });
    expect(cond(zero.status, 'Allocated')?.message).toBe('count is 0: releasing 3 slice(s) no longer wanted');
  });

  test('an invalid spec fails without asking for slices; any held ones are released', () => {
    const p = partition();
    const invalid = { reason: 'UnknownProfile', message: 'no such profile' };
    expect(decidePartition(observe(p, { invalid })).demand).toBe('withdraw');
    const held = decidePartition(observe(p, { invalid, entries: [entry(p, 0)] }));
    expect(held.demand !== 'withdraw' && held.demand?.want.kind).toBe('release');
    expect(held.status?.phase).toBe('Failed');
  });

  test.each([
    ['without finalizer: nothing to do', { finalizer: false }, {}, { finalizer: undefined, demand: 'withdraw' }],
    ['with pods admitted: blocked, with one Event', { finalizer: true }, { admitted: true }, { finalizer: undefined, demand: 'withdraw', phase: 'Terminating' }],
    ['with claims: release them first', { finalizer: true }, { claims: true }, { finalizer: undefined, demand: 'release' }],
    ['claims gone: drop the finalizer', { finalizer: true }, {}, { finalizer: 'remove', demand: 'withdraw' }],
  ] as const)('deletion %s', (_name, po, oo, want) => {
    const p = partition({ deleting: true, finalizer: po.finalizer });
    const pod = makePartitionPod('user', 'ns', 'nb', 'nvidia.com/mig-1g.23gb', { gated: false, phase: 'Running' });
    const d = decidePartition(observe(p, { ...('admitted' in oo ? { admitted: [pod], pods: [pod] } : {}), ...('claims' in oo ? { entries: [entry(p, 0)] } : {}) }));
    expect(d.finalizer).toBe(want.finalizer);
    expect(d.demand === 'withdraw' ? 'withdraw' : d.demand?.want.kind).toBe(want.demand);
    if ('phase' in want) {
      expect(d.status?.phase).toBe(want.phase);
      expect(d.events.map((e) => e.reason)).toEqual(['DeletionBlocked']);
    }
  });

  test('a slice still used by a pod of another partition (preempted holder) is not ready yet', () => {
    const p = partition({ finalizer: true });
    const e = entry(p, 0);
    const gn = nodeWith([e], true);
    const slice = gn.status!.gpus![0]!.slices[0]!;
    slice.inUse = true;
    slice.pod = { namespace: 'ns', name: 'victim-pod' };
    const d = decidePartition({ ...observe(p), entries: [e], gpuNode: () => gn });
    expect(cond(d.status, 'Ready')).toMatchObject({ status: 'False', reason: 'WaitingForEviction' });
    expect(cond(d.status, 'Ready')?.message).toContain('ns/victim-pod');
  });
});
