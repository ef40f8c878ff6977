import { validateLayout, modelForProduct } from '../../../src/placement/catalog.js';
import { planDefrag } from '../../../src/placement/defrag.js';
import { place } from '../../../src/placement/engine.js';
import type { ClusterSnapshot, DefragPlan, PlacementRequest } from '../../../src/placement/types.js';
import { cluster, held, node } from './fixtures.js';

const B200 = modelForProduct('NVIDIA-B200');

function fragmented(): ClusterSnapshot {
  // Two GPUs, each with idle claimed 1g slices in both halves: no 3g fits anywhere.
  const c = cluster(node('n', 2));
  c.nodes[0].gpus[0].slices = [held('1g.23gb', 1, 'a'), held('1g.23gb', 5, 'b', { inUse: true })];
  c.nodes[0].gpus[1].slices = [held('1g.23gb', 2, 'c', { inUse: true }), held('1g.23gb', 6, 'd', { inUse: true })];
  return c;
}

function planned(p: DefragPlan): Extract<DefragPlan, { ok: true }> {
  if (!p.ok) throw new Error(`expected a plan: ${p.message}`);
  return p;
}

describe('planDefrag', () => {
  const want3g: PlacementRequest = { id: 'p', members: [{ kind: 'slice', key: 'x', profile: '3g.90gb' }] };

  it('finds the single move that makes room, and never moves in-use slices', () => {
    const c = fragmented();
    expect(place(c, want3g).ok).toBe(false);
    const p = planned(planDefrag(c, want3g));
    expect(p.moves).toHaveLength(1);
    expect(p.moves[0]).toMatchObject({ action: 'move', holderKey: 'a', node: 'n', gpuIndex: 0, profile: '1g.23gb', start: 1 });
    expect(p.placement.assignments[0]).toMatchObject({ key: 'x', gpuIndex: 0, profile: '3g.90gb', start: 0 });
    const target = p.moves[0].to;
    const dest = p.placement.layouts.find((l) => l.gpuIndex === target?.gpuIndex);
    expect(dest?.slices.some((s) => s.holder?.key === 'a' && s.start === target?.start)).toBe(true);
    for (const l of p.placement.layouts) {
      expect(B200 && validateLayout(B200, l.slices)).toEqual([]);
      // Every in-use slice of the snapshot is still where it was.
      for (const s of c.nodes[0].gpus[l.gpuIndex].slices.filter((x) => x.inUse)) {
        expect(l.slices).toContainEqual(s);
      }
    }
  });

  it('returns no moves when the request already fits', () => {
    const p = planned(planDefrag(cluster(node('n', 1)), want3g));
    expect(p.moves).toEqual([]);
    expect(p.placement.assignments).toHaveLength(1);
  });

  it('reports when only in-use slices are in the way', () => {
    const c = fragmented();
    c.nodes[0].gpus[0].slices[0].inUse = true;
    const p = planDefrag(c, want3g);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.message).toMatch(/no plan of at most 8 moves/);
  });

  it('empties a GPU for a whole-GPU member by moving idle claims within the node', () => {
    const c = cluster(node('n', 2));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'a', { inUse: true })];
    c.nodes[0].gpus[1].slices = [held('2g.45gb', 0, 'b')];
    const p = planned(planDefrag(c, { id: 'w', members: [{ kind: 'whole', key: 'w', gpus: 1 }] }));
    expect(p.moves).toEqual([{ action: 'move', holderKey: 'b', node: 'n', gpuIndex: 1, profile: '2g.45gb', start: 0, to: { node: 'n', gpuIndex: 0, start: expect.any(Number) } }]);
    expect(p.placement.assignments[0]).toMatchObject({ gpuIndices: [1] });
  });

  it('empties a whole node by moving claims to other nodes when crossNode is allowed', () => {
    const c = cluster(node('a', 2), node('b', 2));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 6, 'p')];
    c.nodes[0].gpus[1].slices = [held('2g.45gb', 4, 'q')];
    c.nodes[1].gpus[0].slices = [held('3g.90gb', 4, 'r', { inUse: true })];
    c.nodes[1].gpus[1].slices = [held('7g.180gb', 0, 's', { inUse: true })];
    const request: PlacementRequest = { id: 'w', members: [{ kind: 'whole', key: 'w', gpus: 2 }] };
    expect(planDefrag(c, request).ok).toBe(false);
    const p = planned(planDefrag(c, request, { crossNode: true }));
    expect(p.moves.map((m) => [m.holderKey, m.to?.node, m.to?.gpuIndex])).toEqual([
      ['p', 'b', 0],
      ['q', 'b', 0],
    ]);
    expect(p.placement.assignments).toEqual([{ key: 'w', node: 'a', gpuIndex: 0, gpuIndices: [0, 1] }]);
    const b0 = p.placement.layouts.find((l) => l.node === 'b' && l.gpuIndex === 0);
    expect(B200 && b0 && validateLayout(B200, b0.slices)).toEqual([]);
    expect(b0?.slices.map((s) => s.holder?.key).sort()).toEqual(['p', 'q', 'r']);
  });

  it('respects the move budget', () => {
    const c = cluster(node('n', 2));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'a'), held('1g.23gb', 2, 'b'), held('1g.23gb', 4, 'c', { inUse: true })];
    c.nodes[0].gpus[1].slices = [held('1g.23gb', 1, 'd', { inUse: true }), held('1g.23gb', 5, 'e', { inUse: true })];
    const p = planDefrag(c, want3g, { maxMoves: 1 });
    expect(p.ok).toBe(false);
    const p2 = planned(planDefrag(c, want3g, { maxMoves: 2 }));
    expect(p2.moves.map((m) => m.holderKey).sort()).toEqual(['a', 'b']);
  });
});
