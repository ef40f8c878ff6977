import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ClaimRef, GpuNode, GpuPartition, TargetGpu, TrainingJob } from '../../src/api/types.js';
import { InUseStatusTracker, ViolationLog, fileViolations, ledgerViolations, realisedIds, releasedViolations, settledViolations } from './invariants.js';

const claim = (name: string, slot = 0, uid = `uid-${name}`, kind: ClaimRef['kind'] = 'GpuPartition'): ClaimRef => ({ kind, namespace: 'ns', name, uid, slot, priority: 0, preemptible: false });
const node = (name: string, gpus: TargetGpu[], status?: GpuNode['status']): GpuNode => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuNode', metadata: { name }, spec: { gpus }, ...(status ? { status } : {}) });
const partition = (name: string, count: number, phase: 'Ready' | 'Pending', allocations = count, extra: Partial<GpuPartition['metadata']> = {}): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...extra },
  spec: { profile: '1g.23gb', count },
  status: { phase, allocations: Array.from({ length: allocations }, (_, slot) => ({ slot, node: 'n', gpuIndex: 0, profile: '1g.23gb', start: slot, realised: true, inUse: false })) },
});
const job = (name: string, replicas: number, gpusPerWorker: number, workers = replicas): TrainingJob => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'TrainingJob',
  metadata: { name, namespace: 'ns', uid: `uid-${name}` },
  spec: { replicas, gpusPerWorker, template: { spec: {} } },
  status: { phase: 'Running', workers: Array.from({ length: workers }, (_, rank) => ({ rank })) },
});
const NS = new Set(['ns']);

describe('ledgerViolations (slice claimed twice)', () => {
  it('accepts a legal layout of distinct claimed slices', () => {
    const n = node('n1', [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('a') }, { profile: '2g.45gb', start: 4, claim: claim('b') }, { profile: '1g.23gb', start: 6 }] }]);
    expect(ledgerViolations([n])).toEqual([]);
  });

  it('flags two claimed slices sharing memory slots', () => {
    const n = node('n1', [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('a') }, { profile: '1g.23gb', start: 2, claim: claim('b') }] }]);
    const found = ledgerViolations([n]);
    expect(found).toHaveLength(1);
    expect(found[0]!.kind).toBe('slice-claimed-twice');
    expect(found[0]!.detail).toContain('ns/a#0');
  });

  it('flags the same slice listed twice, a GPU listed twice, and a whole GPU with claimed slices', () => {
    const twice = node('n1', [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('a') }, { profile: '1g.23gb', start: 0, claim: claim('b') }] }]);
    const gpuTwice = node('n2', [{ index: 1, mode: 'whole', slices: [], claim: claim('j', 0, 'j', 'TrainingJob') }, { index: 1, mode: 'whole', slices: [] }]);
    const whole = node('n3', [{ index: 0, mode: 'whole', claim: claim('j'), slices: [{ profile: '1g.23gb', start: 0, claim: claim('b') }] }]);
    expect(ledgerViolations([twice, gpuTwice, whole]).map((f) => f.key)).toEqual(['slice-claimed-twice:n1/0@0/0', 'slice-claimed-twice:n2/1:listed-twice', 'slice-claimed-twice:n3/0:whole']);
  });

  it('any two overlapping claimed 1g slices are caught, whatever their starts (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 }), (a, b) => {
        const n = node('n', [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: a, claim: claim('x') }, { profile: '1g.23gb', start: b, claim: claim('y') }] }]);
        expect(ledgerViolations([n]).length).toBe(a === b ? 1 : 0);
      }),
    );
  });
});

const realisedNode = (name: string, slices: Array<{ uuid: string; inUse: boolean; pod?: string }>): GpuNode =>
  node(name, [], {
    gpus: [{ index: 0, uuid: 'GPU-0', mode: 'mig', health: 'Healthy', slices: slices.map((s, i) => ({ profile: '1g.23gb', start: i, uuid: s.uuid, deviceId: s.uuid, inUse: s.inUse, ...(s.pod ? { pod: { namespace: 'ns', name: s.pod } } : {}) })) }],
  });

describe('InUseStatusTracker (in-use slice destroyed)', () => {
  it('flags an in-use slice that vanished while its pod was alive', () => {
    const t = new InUseStatusTracker(1000);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'p' }])], 0);
    t.observe([realisedNode('n', [])], 500);
    expect(t.judge(new Map([['ns/p', undefined]]), 1000)).toEqual([]); // too early to judge
    const found = t.judge(new Map([['ns/p', undefined]]), 1600);
    expect(found.map((f) => f.kind)).toEqual(['in-use-destroyed']);
  });

  it('flags it too when the pod was deleted only after the slice was gone', () => {
    const t = new InUseStatusTracker(0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'p' }])], 0);
    t.observe([realisedNode('n', [])], 500);
    expect(t.judge(new Map([['ns/p', 900]]), 2000)).toHaveLength(1);
  });

  it('accepts a slice destroyed after its pod was deleted, or after it was released', () => {
    const t = new InUseStatusTracker(0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'p' }, { uuid: 'MIG-2', inUse: true, pod: 'q' }])], 0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-2', inUse: false }])], 500);
    t.observe([realisedNode('n', [])], 1000);
    expect(t.judge(new Map([['ns/p', 400], ['ns/q', undefined]]), 5000)).toEqual([]);
  });

  it('flags a device that passes from one live pod to another, and accepts it once the first was deleted', () => {
    const t = new InUseStatusTracker(0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'p' }, { uuid: 'MIG-2', inUse: true, pod: 'q' }])], 0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'q' }, { uuid: 'MIG-2', inUse: true, pod: 'r' }])], 500);
    const found = t.judge(new Map([['ns/p', undefined], ['ns/q', 100]]), 5000);
    expect(found.map((f) => f.key)).toEqual(['holder-changed:n/MIG-1:ns/p']);
  });

  it('a node missing from a sample says nothing about its devices', () => {
    const t = new InUseStatusTracker(0);
    t.observe([realisedNode('n', [{ uuid: 'MIG-1', inUse: true, pod: 'p' }])], 0);
    t.observe([], 500);
    expect(t.judge(new Map([['ns/p', undefined]]), 5000)).toEqual([]);
  });
});

describe('fileViolations (agent journal vs state file)', () => {
  it('flags a journaled in-use device missing from the state file', () => {
    const held = new Set(['MIG-1', 'GPU-2']);
    const found = fileViolations({ node: 'n', journalBefore: held, realised: new Set(['GPU-2']), journalAfter: held });
    expect(found.map((f) => f.key)).toEqual(['in-use-destroyed:n/MIG-1']);
  });

  it('ignores a device released between the two journal reads, and unreadable files', () => {
    expect(fileViolations({ node: 'n', journalBefore: new Set(['MIG-1']), realised: new Set(), journalAfter: new Set() })).toEqual([]);
    expect(fileViolations({ node: 'n', journalBefore: new Set(['MIG-1']), journalAfter: new Set(['MIG-1']) })).toEqual([]);
  });

  it('reads realised devices from a state file: whole GPUs and MIG slices, not MIG-mode GPUs', () => {
    expect([...realisedIds({ gpus: [{ uuid: 'GPU-0', mode: 'whole', slices: [] }, { uuid: 'GPU-1', mode: 'mig', slices: [{ uuid: 'MIG-a' }] }] })].sort()).toEqual(['GPU-0', 'MIG-a']);
  });
});

describe('settledViolations', () => {
  const nodes = [
    node('n1', [
      { index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('a', 0) }, { profile: '1g.23gb', start: 1, claim: claim('a', 1) }] },
      { index: 1, mode: 'whole', slices: [], claim: claim('j', 0, 'uid-j', 'TrainingJob') },
      { index: 2, mode: 'whole', slices: [], claim: claim('j', 1, 'uid-j', 'TrainingJob') },
    ]),
  ];

  it('passes a converged cluster', () => {
    expect(settledViolations({ nodes, partitions: [partition('a', 2, 'Ready')], jobs: [job('j', 2, 1)], namespaces: NS })).toEqual([]);
  });

  it('flags a claim whose owner is gone, deleting, or a new object of the same name', () => {
    const recreated = { ...partition('a', 2, 'Ready'), metadata: { name: 'a', namespace: 'ns', uid: 'other' } };
    const kinds = settledViolations({ nodes, partitions: [recreated], jobs: [{ ...job('j', 2, 1), metadata: { ...job('j', 2, 1).metadata, deletionTimestamp: 'x' } }], namespaces: NS });
    expect(kinds.filter((f) => f.kind === 'orphan-claim').map((f) => f.key).sort()).toEqual(['orphan-claim:uid-a', 'orphan-claim:uid-j']);
  });

  it('flags an object not Ready, and counts that differ in the ledger or in status', () => {
    const found = settledViolations({ nodes, partitions: [partition('a', 3, 'Ready')], jobs: [job('j', 2, 1, 1)], namespaces: NS });
    expect(found.map((f) => f.key).sort()).toEqual(['wrong-count:GpuPartition:ns/a', 'wrong-count:TrainingJob:ns/j']);
    const pending = settledViolations({ nodes, partitions: [partition('a', 2, 'Pending')], jobs: [job('j', 2, 1)], namespaces: NS });
    expect(pending.map((f) => f.key)).toEqual(['not-ready:GpuPartition:ns/a']);
  });

  it('flags one slot claimed twice even when the total matches', () => {
    const dup = [node('n1', [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, claim: claim('a', 0) }, { profile: '1g.23gb', start: 1, claim: claim('a', 0) }] }])];
    expect(settledViolations({ nodes: dup, partitions: [partition('a', 2, 'Ready')], jobs: [], namespaces: NS }).map((f) => f.kind)).toEqual(['wrong-count']);
  });

  it('ignores claims of namespaces it was not asked about', () => {
    const other = [node('n1', [{ index: 0, mode: 'whole', slices: [], claim: { ...claim('x'), namespace: 'elsewhere' } }])];
    expect(settledViolations({ nodes: other, partitions: [], jobs: [], namespaces: NS })).toEqual([]);
  });
});

describe('settledViolations: devices in use by the wrong object', () => {
  const held = (claimName: string | undefined): GpuNode =>
    node('n1', [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, ...(claimName ? { claim: claim(claimName) } : {}) }] }], {
      gpus: [{ index: 0, uuid: 'GPU-0', mode: 'mig', health: 'Healthy', slices: [{ profile: '1g.23gb', start: 0, uuid: 'MIG-0', deviceId: 'MIG-0', inUse: true, pod: { namespace: 'ns', name: 'a-c' } }] }],
    });
  const owners = new Map([['ns/a-c', 'GpuPartition/a']]);

  it('accepts a device used by a pod of the object the ledger gives it to', () => {
    expect(settledViolations({ nodes: [held('a')], partitions: [partition('a', 1, 'Ready')], jobs: [], namespaces: NS, podOwners: owners })).toEqual([]);
  });

  it('flags a device used by a pod of one partition but claimed by another, or by nobody', () => {
    const other = settledViolations({ nodes: [held('b')], partitions: [partition('b', 1, 'Ready')], jobs: [], namespaces: NS, podOwners: owners });
    expect(other.map((f) => f.kind)).toEqual(['used-by-other']);
    expect(other[0]!.detail).toContain('gives it to GpuPartition/b');
    const nobody = settledViolations({ nodes: [held(undefined)], partitions: [], jobs: [], namespaces: NS, podOwners: owners });
    expect(nobody.map((f) => f.kind)).toEqual(['used-by-other']);
  });
});

describe('releasedViolations and ViolationLog', () => {
  it('flags claims, objects and pods left after the final deletes', () => {
    const n = [node('n1', [{ index: 0, mode: 'whole', slices: [], claim: claim('a') }])];
    expect(releasedViolations({ nodes: n, namespaces: NS, objectsLeft: 1, podsLeft: 2 }).map((f) => f.key)).toEqual(['not-released:uid-a', 'not-released:objects', 'not-released:pods']);
    expect(releasedViolations({ nodes: [node('n1', [])], namespaces: NS, objectsLeft: 0, podsLeft: 0 })).toEqual([]);
  });

  it('counts a violation seen in many samples once, per kind', () => {
    const log = new ViolationLog();
    const f = { kind: 'orphan-claim' as const, key: 'k', detail: 'd' };
    expect(log.add([f], 1)).toHaveLength(1);
    expect(log.add([f, { ...f, key: 'k2', kind: 'not-ready' as const }], 2)).toHaveLength(1);
    expect(log.size).toBe(2);
    expect(log.byKind()).toMatchObject({ 'orphan-claim': 1, 'not-ready': 1, 'in-use-destroyed': 0 });
  });
});
