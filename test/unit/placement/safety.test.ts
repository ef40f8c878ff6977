/**
 * Safety rules of the engine that the broader tests leave open: a whole GPU in use by nobody the ledger knows,
 * release of a whole-GPU holder, and the defragmentation planner's choice between topology groups.
 */
import { planDefrag } from '../../../src/placement/defrag.js';
import { place, PlacementEngine } from '../../../src/placement/engine.js';
import type { ClusterSnapshot, GpuSnapshot, PlacementRequest } from '../../../src/placement/types.js';
import { cluster, gpu, held, node } from './fixtures.js';

/** A whole-mode GPU a container uses although the ledger names no holder (e.g. a pod outside Haein). */
const strayInUse = (index: number): GpuSnapshot => ({ index, mode: 'whole', healthy: true, slices: [], inUse: true });

describe('a whole GPU in use without a recorded holder', () => {
  const requests: PlacementRequest[] = [
    { id: 'w', members: [{ kind: 'whole', key: 'w', gpus: 1 }] },
    { id: 's', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }] },
    { id: 'wp', members: [{ kind: 'whole', key: 'w', gpus: 1 }], priority: 100, mayPreempt: true },
    { id: 'sp', members: [{ kind: 'slice', key: 's', profile: '7g.180gb' }], priority: 100, mayPreempt: true },
  ];

  it.each(requests.map((r) => [r.id, r] as const))('is neither handed out nor repartitioned nor preempted (%s)', (_id, request) => {
    const c = cluster(node('n', 1));
    c.nodes[0].gpus = [strayInUse(0)];
    const r = place(c, request);
    expect(r).toMatchObject({ ok: false });
    const plan = planDefrag(c, request);
    expect(plan.ok).toBe(false);
  });

  it('is skipped for an idle GPU next to it', () => {
    const c = cluster(node('n', 2));
    c.nodes[0].gpus = [strayInUse(0), gpu(1, 'whole')];
    for (const request of requests) {
      const r = place(c, request);
      expect(r.ok && r.assignments.map((a) => a.gpuIndex)).toEqual([1]);
      expect(r.ok && r.layouts.map((l) => l.gpuIndex)).toEqual([1]);
      expect(r.ok && r.victims).toEqual([]);
    }
  });
});

describe('releasing a whole-GPU holder', () => {
  it('clears the holder and its in-use flag, and the GPU can be placed again, whole or carved', () => {
    const engine = new PlacementEngine(cluster(node('n', 1)));
    const first = engine.place({ id: 'a', members: [{ kind: 'whole', key: 'job/a/0', gpus: 1 }] });
    expect(first.ok).toBe(true);
    engine.setInUse('job/a/0', true);
    expect(engine.tryPlace({ id: 'b', members: [{ kind: 'whole', key: 'job/b/0', gpus: 1 }] }).ok).toBe(false);
    expect(engine.release('job/a/0')).toBe(1);
    const g = engine.snapshot().nodes[0].gpus[0];
    expect(g.holder).toBeUndefined();
    expect(g.inUse).toBeUndefined();
    expect(engine.state.gpusHeldBy('job/a/0')).toEqual([]);
    expect(engine.state.nodes[0].idle).toBe(1);
    const again = engine.place({ id: 'b', members: [{ kind: 'whole', key: 'job/b/0', gpus: 1 }] });
    expect(again).toMatchObject({ ok: true, assignments: [{ key: 'job/b/0', gpuIndex: 0 }] });
    expect(engine.release('job/b/0')).toBe(1);
    expect(engine.place({ id: 'c', members: [{ kind: 'slice', key: 'p/c/0', profile: '7g.180gb' }] }).ok).toBe(true);
  });

  it('releases only the named holder on a node with several whole GPUs', () => {
    const c = cluster(node('n', 2));
    c.nodes[0].gpus = [0, 1].map((index) => ({ index, mode: 'whole' as const, healthy: true, slices: [], holder: { key: `job/x/${index}`, priority: 0, preemptible: false } }));
    const engine = new PlacementEngine(c);
    expect(engine.release('job/x/1')).toBe(1);
    expect(engine.snapshot().nodes[0].gpus.map((g) => g.holder?.key)).toEqual(['job/x/0', undefined]);
    expect(engine.place({ id: 'y', members: [{ kind: 'whole', key: 'job/y/0', gpus: 1 }] })).toMatchObject({ ok: true, assignments: [{ gpuIndex: 1 }] });
  });
});

describe('defragmentation across topology groups', () => {
  /** Two cliques of one 2-GPU node each, every GPU busy with idle (movable) 1g claims. */
  function twoCliques(): ClusterSnapshot {
    const c = cluster(node('n0', 2, { clique: 'c1' }), node('n1', 2, { clique: 'c2' }));
    // c1: each GPU has two claims in the way of a 7g, so emptying one takes two moves.
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'a1'), held('1g.23gb', 4, 'a2')];
    c.nodes[0].gpus[1].slices = [held('1g.23gb', 0, 'a3'), held('1g.23gb', 4, 'a4')];
    // c2: one GPU has a single claim in the way, which fits beside the other GPU's claim: one move.
    c.nodes[1].gpus[0].slices = [held('1g.23gb', 2, 'b1')];
    c.nodes[1].gpus[1].slices = [held('1g.23gb', 0, 'b2'), held('1g.23gb', 4, 'b3')];
    return c;
  }
  const want = (topology: PlacementRequest['topology']): PlacementRequest => ({ id: 'big', topology, members: [{ kind: 'slice', key: 'big', profile: '7g.180gb' }] });

  it('picks the group that needs the fewest moves, even when another group is tried first', () => {
    const c = twoCliques();
    expect(place(c, want('sameClique')).ok).toBe(false);
    const plan = planDefrag(c, want('sameClique'));
    expect(plan.ok && plan.moves.map((m) => m.holderKey)).toEqual(['b1']);
    expect(plan.ok && plan.placement.assignments[0]).toMatchObject({ node: 'n1', gpuIndex: 0 });
  });

  it('picks the cheaper group when it comes first too (order does not decide)', () => {
    const c = twoCliques();
    // Swap the nodes: now the one-move clique is tried first.
    c.nodes.reverse();
    const plan = planDefrag(c, want('sameClique'));
    expect(plan.ok && plan.moves.map((m) => m.holderKey)).toEqual(['b1']);
  });

  it('compares every group before settling on a plan of two or more moves', () => {
    const c = twoCliques();
    // c2 now needs two moves too, but c3 (last) needs one.
    c.nodes[1].gpus[0].slices = [held('1g.23gb', 2, 'b1'), held('1g.23gb', 6, 'b4')];
    c.nodes[1].gpus[1].slices = [held('1g.23gb', 0, 'b2'), held('1g.23gb', 4, 'b3')];
    const third = node('n2', 2, { clique: 'c3' });
    third.gpus[0].slices = [held('1g.23gb', 3, 'c1')];
    third.gpus[1].slices = [held('1g.23gb', 0, 'c2'), held('1g.23gb', 4, 'c3'), held('1g.23gb', 5, 'c4')];
    c.nodes.push(third);
    const plan = planDefrag(c, want('sameClique'));
    expect(plan.ok && plan.moves.map((m) => m.holderKey)).toEqual(['c1']);
    expect(plan.ok && plan.placement.assignments[0]).toMatchObject({ node: 'n2', gpuIndex: 0 });
  });
});

describe('preempting for whole GPUs', () => {
  it('names every preempted holder of a MIG GPU taken whole, and only those', () => {
    const c = cluster(node('n', 1));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'low-a', { priority: 1 }), held('3g.90gb', 4, 'low-b', { priority: 2 }), { profile: '1g.23gb', start: 1, inUse: false }];
    const r = place(c, { id: 'w', priority: 5, mayPreempt: true, members: [{ kind: 'whole', key: 'w', gpus: 1 }] });
    expect(r.ok && r.victims.map((v) => `${v.holderKey}@${v.start}`)).toEqual(['low-a@0', 'low-b@4']);
    expect(r.ok && r.layouts).toEqual([{ node: 'n', gpuIndex: 0, mode: 'whole', slices: [], holder: { key: 'w', priority: 5, preemptible: true } }]);
  });
});

describe('in-use flags of new allocations', () => {
  it('a new allocation is not in use until a container holds it, and its release leaves the GPU idle', () => {
    const engine = new PlacementEngine(cluster(node('n', 2)));
    expect(engine.place({ id: 's', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }] }).ok).toBe(true);
    expect(engine.place({ id: 'w', members: [{ kind: 'whole', key: 'w', gpus: 1 }] }).ok).toBe(true);
    const gpus = engine.snapshot().nodes[0].gpus;
    expect(gpus.map((g) => g.inUse ?? false)).toEqual([false, false]);
    expect(gpus.flatMap((g) => g.slices.map((x) => x.inUse))).toEqual([false]);
    engine.release('s');
    engine.release('w');
    expect(engine.state.nodes[0].idle).toBe(2);
    // A slice carved on a whole-mode GPU (switching it to MIG) is not in use either.
    const wholeBoard = cluster(node('m', 1));
    wholeBoard.nodes[0].gpus = [gpu(0, 'whole')];
    const again = new PlacementEngine(wholeBoard);
    expect(again.place({ id: 's', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }] }).ok).toBe(true);
    expect(again.snapshot().nodes[0].gpus[0].inUse).toBeUndefined();
    again.release('s');
    expect(again.place({ id: 'w', members: [{ kind: 'whole', key: 'w', gpus: 1 }] }).ok).toBe(true);
    // Both GPUs can be taken whole again.
    expect(engine.place({ id: 'ww', members: [{ kind: 'whole', key: 'ww', gpus: 2 }] }).ok).toBe(true);
  });
});
