import { place, PlacementEngine } from '../../../src/placement/engine.js';
import type { PlacementRequest, PlacementResult } from '../../../src/placement/types.js';
import { contractProblems } from './checks.js';
import { cluster, free, gpu, held, node } from './fixtures.js';

function slice(key: string, profile: string): PlacementRequest['members'][number] {
  return { kind: 'slice', key, profile };
}

function ok(result: PlacementResult): Extract<PlacementResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected a placement, got ${result.code}: ${result.message}`);
  return result;
}

describe('place: single slices', () => {
  it('reuses a free carved slice of the same profile on a busy GPU without reconfiguring anything else', () => {
    const c = cluster(node('a', 2));
    c.nodes[0].gpus[0].slices = [held('3g.90gb', 0, 'x', { inUse: true }), free('2g.45gb', 4)];
    const r = ok(place(c, { id: 'r', members: [slice('m', '2g.45gb')] }));
    expect(r.assignments).toEqual([{ key: 'm', node: 'a', gpuIndex: 0, gpuIndices: [0], profile: '2g.45gb', start: 4 }]);
    expect(r.layouts).toHaveLength(1);
    expect(r.layouts[0].slices.map((s) => `${s.profile}@${s.start}:${s.holder?.key}`)).toEqual(['3g.90gb@0:x', '2g.45gb@4:m']);
    expect(contractProblems(c, { id: 'r', members: [slice('m', '2g.45gb')] }, r)).toEqual([]);
  });

  it('puts a 1g at the edge of an empty GPU so 4g and 3g regions stay whole', () => {
    const r = ok(place(cluster(node('a', 1)), { id: 'r', members: [slice('m', '1g.23gb')] }));
    expect(r.assignments[0].start).toBe(6);
    const r2 = ok(place(cluster(node('a', 1)), { id: 'r', members: [slice('m', '3g.90gb')] }));
    expect(r2.assignments[0].start).toBe(4);
  });

  it('does not split the free half of a GPU when another GPU has a matching hole', () => {
    const c = cluster(node('a', 2));
    c.nodes[0].gpus[0].slices = [held('3g.90gb', 0, 'x')];
    c.nodes[0].gpus[1].slices = [held('2g.45gb', 0, 'y'), held('1g.23gb', 2, 'z'), held('3g.90gb', 4, 'w')];
    const r = ok(place(c, { id: 'r', members: [slice('m', '1g.23gb')] }));
    expect(r.assignments[0]).toMatchObject({ gpuIndex: 1, start: 3 });
  });

  it('fills busy GPUs before opening idle ones, and opens GPUs on the busiest node', () => {
    const c = cluster(node('a', 2), node('b', 2));
    c.nodes[1].gpus[0].slices = [held('7g.180gb', 0, 'x')];
    const r = ok(place(c, { id: 'r', members: [slice('m', '3g.90gb')] }));
    expect(r.assignments[0]).toMatchObject({ node: 'b', gpuIndex: 1 });
    c.nodes[0].gpus[0].slices = [held('3g.90gb', 4, 'y')];
    const r2 = ok(place(c, { id: 'r', members: [slice('m', '4g.90gb')] }));
    expect(r2.assignments[0]).toMatchObject({ node: 'a', gpuIndex: 0, start: 0 });
  });

  it('opens another GPU rather than strand a compute slice while few GPUs are partly used', () => {
    const c = cluster(node('a', 2));
    c.nodes[0].gpus[0].slices = [held('3g.90gb', 4, 'y')];
    // 3g beside 3g would use all memory with 6 of 7 compute slices; the hole is kept for 4g or small slices.
    const r = ok(place(c, { id: 'r', members: [slice('m', '3g.90gb')] }));
    expect(r.assignments[0]).toMatchObject({ gpuIndex: 1, start: 4 });
    c.nodes[0].gpus[1].slices = [held('7g.180gb', 0, 'z')];
    const full = ok(place(c, { id: 'r', members: [slice('m', '3g.90gb')] }));
    expect(full.assignments[0]).toMatchObject({ gpuIndex: 0, start: 0 });
  });

  it('switches an idle whole-mode GPU to MIG, never a busy one', () => {
    const c = cluster(node('a', 2, { gpus: [gpu(0, 'whole'), { ...gpu(1, 'whole'), holder: { key: 'h', priority: 0, preemptible: true } }] }));
    const r = ok(place(c, { id: 'r', members: [slice('m', '1g.23gb')] }));
    expect(r.layouts).toEqual([{ node: 'a', gpuIndex: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 6, holder: { key: 'm', priority: 0, preemptible: true }, inUse: false }] }]);
    const busy = cluster(node('a', 1, { gpus: [{ ...gpu(0, 'whole'), inUse: true }] }));
    expect(place(busy, { id: 'r', members: [slice('m', '1g.23gb')] })).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
  });

  it('resolves memory/compute needs per model', () => {
    const c = cluster(node('h', 1, { product: 'NVIDIA-H100-80GB-HBM3' }), node('b', 1));
    const onH100 = ok(place(c, { id: 'r', members: [{ kind: 'slice', key: 'm', memoryMiB: 15000 }], constraints: { products: ['NVIDIA-H100-80GB-HBM3'] } }));
    expect(onH100.assignments[0]).toMatchObject({ node: 'h', profile: '1g.20gb' });
    const onB200 = ok(place(c, { id: 'r', members: [{ kind: 'slice', key: 'm', memoryMiB: 15000, computeSlices: 2 }], constraints: { products: ['NVIDIA-B200'] } }));
    expect(onB200.assignments[0]).toMatchObject({ node: 'b', profile: '2g.45gb' });
  });

  it('honours node selectors and skips unhealthy GPUs and unschedulable nodes', () => {
    const c = cluster(node('a', 1, { labels: { pool: 'x' } }), node('b', 1, { labels: { pool: 'y' } }), node('c', 1, { labels: { pool: 'y' }, schedulable: false }));
    const r = ok(place(c, { id: 'r', members: [slice('m', '7g.180gb')], constraints: { nodeSelector: { pool: 'y' } } }));
    expect(r.assignments[0].node).toBe('b');
    c.nodes[1].gpus[0].healthy = false;
    expect(place(c, { id: 'r', members: [slice('m', '7g.180gb')], constraints: { nodeSelector: { pool: 'y' } } })).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
    c.nodes[1].schedulable = false;
    expect(place(c, { id: 'r', members: [slice('m', '7g.180gb')], constraints: { nodeSelector: { pool: 'y' } } })).toMatchObject({ ok: false, code: 'NoMatchingNodes' });
  });
});

describe('place: whole GPUs and gangs', () => {
  it('hands out idle GPUs whole on one node, destroying free carved slices', () => {
    const c = cluster(node('a', 2), node('b', 4));
    c.nodes[0].gpus[1].slices = [free('1g.23gb', 0)];
    c.nodes[1].gpus[0].slices = [held('1g.23gb', 0, 'x')];
    const r = ok(place(c, { id: 'r', members: [{ kind: 'whole', key: 'w', gpus: 2 }] }));
    // Best fit: node a has exactly two idle GPUs.
    expect(r.assignments).toEqual([{ key: 'w', node: 'a', gpuIndex: 0, gpuIndices: [0, 1] }]);
    expect(r.layouts.map((l) => [l.mode, l.slices.length, l.holder?.key])).toEqual([['whole', 0, 'w'], ['whole', 0, 'w']]);
  });

  it('is all or nothing and says why in words', () => {
    const c = cluster(node('a', 2, { clique: 'c1' }), node('b', 1, { clique: 'c1' }), node('c', 2, { clique: 'c2' }));
    const engine = new PlacementEngine(c);
    const before = engine.snapshot();
    const request: PlacementRequest = { id: 'TrainingJob/ns/t', topology: 'sameClique', members: [0, 1, 2, 3].map((i) => slice(`m${i}`, '7g.180gb')) };
    const r = engine.place(request);
    expect(r).toMatchObject({ ok: false, code: 'TopologyUnsatisfiable' });
    expect(!r.ok && r.message).toMatch(/needs 4 × 7g.180gb in one clique; best clique c1 has 3 idle GPUs and room for 3 of 4 members/);
    expect(engine.snapshot()).toEqual(before);
    const r2 = engine.place({ ...request, topology: 'any', members: [...request.members, slice('m5', '7g.180gb'), slice('m6', '7g.180gb')] });
    expect(r2).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
    expect(engine.snapshot()).toEqual(before);
  });

  it('keeps sameNode, sameClique and spread', () => {
    const c = cluster(node('a', 2, { clique: 'c1' }), node('b', 2, { clique: 'c2' }), node('c', 2, { clique: 'c2' }));
    c.nodes[0].gpus[0].slices = [held('4g.90gb', 0, 'x')];
    const members = [slice('m0', '3g.90gb'), slice('m1', '3g.90gb'), slice('m2', '3g.90gb')];
    for (const topology of ['sameNode', 'sameClique', 'spread'] as const) {
      const request = { id: 'r', topology, members };
      const r = ok(place(c, request));
      expect(contractProblems(c, request, r)).toEqual([]);
      const nodes = r.assignments.map((a) => a.node);
      if (topology === 'spread') expect(new Set(nodes).size).toBe(3);
      else expect(new Set(nodes).size).toBe(1);
    }
  });

  it('places a gang that best fit, largest member first, cannot: the exhaustive search backs the greedy one up', () => {
    // Greedy puts the 3-GPU member on node a (best fit: 4 idle GPUs), leaving 1 + 5 for three 2-GPU members.
    // The only placement: 3 + 2 on node b, 2 + 2 on node a.
    const c = cluster(node('a', 4), node('b', 5));
    const whole = (key: string, gpus: number) => ({ kind: 'whole' as const, key, gpus });
    const request: PlacementRequest = { id: 'r', members: [whole('w3', 3), whole('w2a', 2), whole('w2b', 2), whole('w2c', 2)] };
    const r = ok(place(c, request));
    expect(contractProblems(c, request, r)).toEqual([]);
    const gpusOn = (n: string) => r.assignments.filter((a) => a.node === n).reduce((s, a) => s + (a.gpuIndices?.length ?? 0), 0);
    expect([gpusOn('a'), gpusOn('b')]).toEqual([4, 5]);
    expect(r.assignments.find((a) => a.key === 'w3')?.node).toBe('b');
  });

  it('refuses a gang no order can place, with the state unchanged, after the exhaustive search too', () => {
    // Nine idle GPUs for nine wanted, but no node holds two of the 3-GPU members.
    const engine = new PlacementEngine(cluster(node('a', 4), node('b', 5)));
    const before = engine.snapshot();
    const r = engine.place({ id: 'r', members: ['x', 'y', 'z'].map((key) => ({ kind: 'whole' as const, key, gpus: 3 })) });
    expect(r).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
    expect(engine.snapshot()).toEqual(before);
  });

  it('lets the incremental engine release claims and reuse the carved slice', () => {
    const engine = new PlacementEngine(cluster(node('a', 2)));
    const first = ok(engine.place({ id: 'r1', members: [slice('k1', '2g.45gb')] }));
    expect(engine.release('k1')).toBe(1);
    const gpuAfter = engine.snapshot().nodes[0].gpus[first.assignments[0].gpuIndex];
    expect(gpuAfter.slices).toEqual([{ profile: '2g.45gb', start: first.assignments[0].start, inUse: false }]);
    const again = ok(engine.place({ id: 'r2', members: [slice('k2', '2g.45gb')] }));
    expect(again.assignments[0]).toMatchObject({ gpuIndex: first.assignments[0].gpuIndex, start: first.assignments[0].start });
    expect(engine.release('unknown')).toBe(0);
  });
});
