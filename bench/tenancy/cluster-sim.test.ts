import { describe, expect, it } from '@jest/globals';
import type { ClaimRef, GpuNode } from '../../src/api/types.js';
import { buildSnapshot } from '../../src/ledger/snapshot.js';
import { ClusterSim } from './cluster-sim.js';

const claim = (name: string): ClaimRef => ({ kind: 'GpuPartition', namespace: 'ns', name, uid: name, slot: 0, priority: 0, preemptible: false });

describe('ClusterSim', () => {
  it('realises what the cycle writes; a slice is in use once its pods run', () => {
    const running = new Set<string>();
    const sim = new ClusterSim(2, 4, (e) => running.has(e.claim.name));
    expect(sim.list().map((n) => n.metadata.name)).toEqual(['b200-000', 'b200-001']);
    expect(sim.nodeOf('b200-001')).toBeDefined();
    expect(sim.nodeOf('nope')).toBeUndefined();
    const gn = sim.node('b200-000') as GpuNode;
    sim.write([{ ...gn, spec: { gpus: [{ index: 1, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('p') }, { profile: '1g.23gb', start: 4 }] }, { index: 2, mode: 'whole', slices: [], claim: claim('w') }] } }], 1000);
    const after = sim.node('b200-000') as GpuNode;
    expect(after.metadata.generation).toBe(2);
    expect(after.status?.gpus?.[1]?.slices.map((s) => [s.profile, s.start, s.inUse])).toEqual([['3g.90gb', 0, false], ['1g.23gb', 4, false]]);
    expect(after.status?.gpus?.[2]).toMatchObject({ mode: 'whole', inUse: false });
    running.add('p');
    running.add('w');
    sim.wakeAt('b200-000', 5000);
    expect(sim.advance(4999)).toBe(false);
    expect(sim.advance(5000)).toBe(true);
    expect((sim.node('b200-000') as GpuNode).status?.gpus?.[1]?.slices[0]?.inUse).toBe(true);
    expect((sim.node('b200-000') as GpuNode).status?.gpus?.[2]?.inUse).toBe(true);
    expect(() => sim.write([{ ...gn, metadata: { name: 'ghost' } }], 0)).toThrow(/ghost/);
  });

  it('tells when realising a write changes what placement sees: the GPUs of a released busy claim come free', () => {
    const running = new Set<string>(['w']);
    const sim = new ClusterSim(1, 2, (e) => running.has(e.claim.name));
    const gn = sim.node('b200-000') as GpuNode;
    // A new claim whose pods do not run yet: the status adds nothing placement does not see in the spec.
    running.delete('w');
    expect(sim.write([{ ...gn, spec: { gpus: [{ index: 0, mode: 'whole', slices: [], claim: claim('w') }] } }], 0)).toBe(false);
    running.add('w');
    sim.wakeAt('b200-000', 1000);
    expect(sim.advance(1000)).toBe(true);
    // Its release: the spec drops the claim while the status still says busy, until the agent realises it.
    expect(sim.write([{ ...gn, spec: { gpus: [{ index: 0, mode: 'whole', slices: [] }] } }], 2000)).toBe(true);
    expect(buildSnapshot(sim.list(), (n) => sim.nodeOf(n)).nodes[0]?.gpus[0]).toMatchObject({ mode: 'whole', inUse: false });
  });

  it('a busy slice taken back stays in use until its eviction ends: the GPU is frozen for a new layout that overlaps it', () => {
    const sim = new ClusterSim(1, 1, () => false);
    const gn = sim.node('b200-000') as GpuNode;
    sim.write([{ ...gn, spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim: claim('victim') }] }] } }], 0);
    // The reclaimer's 7g replaces the victim's 3g in the target; the victim's pods are evicted for 30 s.
    sim.evict('b200-000', { gpuIndex: 0, profile: '3g.90gb', start: 0, until: 31_000 });
    sim.write([{ ...gn, spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: claim('lender') }] }] } }], 1000);
    expect(sim.evictedUntil('b200-000', 0, 1000)).toBe(31_000);
    const frozen = buildSnapshot(sim.list(), (n) => sim.nodeOf(n));
    expect(frozen.nodes[0]?.gpus[0]?.healthy).toBe(false);
    expect(sim.advance(30_999)).toBe(false);
    expect(sim.advance(31_000)).toBe(true);
    expect(sim.evictedUntil('b200-000', 0, 31_000)).toBe(0);
    const thawed = buildSnapshot(sim.list(), (n) => sim.nodeOf(n));
    expect(thawed.nodes[0]?.gpus[0]).toMatchObject({ healthy: true, slices: [{ profile: '7g.180gb', start: 0, inUse: false }] });
  });

  it('a whole GPU taken back keeps its MIG successor frozen; MIG slices in eviction keep a whole-GPU successor busy', () => {
    const sim = new ClusterSim(1, 2, () => false);
    const gn = sim.node('b200-000') as GpuNode;
    sim.evict('b200-000', { gpuIndex: 0, until: 10_000 });
    sim.evict('b200-000', { gpuIndex: 1, profile: '1g.23gb', start: 0, until: 10_000 });
    sim.write([{ ...gn, spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: claim('a') }] }, { index: 1, mode: 'whole', slices: [], claim: claim('b') }] } }], 0);
    const snap = buildSnapshot(sim.list(), (n) => sim.nodeOf(n)).nodes[0]!;
    expect(snap.gpus[0]?.healthy).toBe(false);
    expect(snap.gpus[1]).toMatchObject({ mode: 'whole', inUse: true });
  });
});
