import type { GpuNode } from '../../../src/api/types.js';
import { buildSnapshot } from '../../../src/ledger/snapshot.js';
import { makeGpuNode, makeNode } from '../support/builders.js';

const claim = { kind: 'GpuPartition' as const, namespace: 'a', name: 'p', uid: 'u1', slot: 0, priority: 5, preemptible: true };

function node(edit: (gn: GpuNode) => void): GpuNode {
  const gn = makeGpuNode('n1', { gpus: 1 });
  edit(gn);
  return gn;
}

describe('buildSnapshot', () => {
  test('target slices carry their claim as holder and realised usage', () => {
    const gn = node((g) => {
      g.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 0, claim }] }] };
      g.status!.gpus![0]!.slices = [{ profile: '3g.90gb', start: 0, uuid: 'MIG-1', deviceId: 'MIG-1', inUse: true }];
    });
    const snap = buildSnapshot([gn], (n) => makeNode(n));
    expect(snap.nodes[0]?.gpus[0]?.slices).toEqual([{ profile: '3g.90gb', start: 0, inUse: true, holder: { key: 'GpuPartition/a/p/0', priority: 5, preemptible: true } }]);
    expect(snap.nodes[0]?.schedulable).toBe(true);
  });

  test('a realised in-use slice the target dropped stays in the snapshot, untouchable', () => {
    const gn = node((g) => {
      g.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '3g.90gb', start: 4, claim }] }] };
      g.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 0, uuid: 'MIG-2', deviceId: 'MIG-2', inUse: true }];
    });
    const gpu = buildSnapshot([gn], (n) => makeNode(n)).nodes[0]?.gpus[0];
    expect(gpu?.healthy).toBe(true);
    expect(gpu?.slices.map((s) => `${s.profile}@${s.start}:${s.inUse}`)).toEqual(['1g.23gb@0:true', '3g.90gb@4:false']);
  });

  test('a busy realised slice overlapping the target freezes the GPU', () => {
    const gn = node((g) => {
      g.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim }] }] };
      g.status!.gpus![0]!.slices = [{ profile: '1g.23gb', start: 3, uuid: 'MIG-3', deviceId: 'MIG-3', inUse: true }];
    });
    expect(buildSnapshot([gn], (n) => makeNode(n)).nodes[0]?.gpus[0]?.healthy).toBe(false);
  });

  test('a missing, cordoned or not-ready Node, or an agent that is not ready, gets nothing new', () => {
    const gn = makeGpuNode('n1');
    expect(buildSnapshot([gn], () => undefined).nodes[0]?.schedulable).toBe(false);
    expect(buildSnapshot([gn], (n) => ({ ...makeNode(n), spec: { unschedulable: true } })).nodes[0]?.schedulable).toBe(false);
    expect(buildSnapshot([gn], (n) => ({ ...makeNode(n), status: { conditions: [{ type: 'Ready', status: 'False' }] } })).nodes[0]?.schedulable).toBe(false);
    const notReady = makeGpuNode('n1');
    notReady.status!.conditions!.push({ type: 'AgentReady', status: 'False', reason: 'Down', message: '', lastTransitionTime: '' });
    expect(buildSnapshot([notReady], (n) => makeNode(n)).nodes[0]?.schedulable).toBe(false);
  });

  test('a GpuNode without an inventory is left out; node labels and the clique come through', () => {
    const bare = makeGpuNode('n0');
    delete bare.status!.inventory;
    const gn = makeGpuNode('n1', { clique: 'c1.0' });
    const snap = buildSnapshot([bare, gn], (n) => makeNode(n, { zone: 'z1' }));
    expect(snap.nodes.map((n) => n.name)).toEqual(['n1']);
    expect(snap.nodes[0]).toMatchObject({ product: 'NVIDIA-B200', clique: 'c1.0', labels: { zone: 'z1' } });
  });
});
