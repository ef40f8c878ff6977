/**
 * The sentences a user reads when a request cannot be placed: each names the demand, the scope and what the
 * cluster has, so the user can act. Pinned word for word: they are the engine's user interface.
 */
import { place } from '../../../src/placement/engine.js';
import type { PlacementRequest } from '../../../src/placement/types.js';
import { cluster, gpu, held, node } from './fixtures.js';

const slice = (key: string, profile: string) => ({ kind: 'slice' as const, key, profile });
const whole = (key: string, gpus: number) => ({ kind: 'whole' as const, key, gpus });

/**
 * Clique c1: n0 (GPU 0 holds a preemptible 4g, GPU 1 idle) and n1 (GPU 0 idle, GPU 1 holds a fixed 1g); clique
 * c2: n2, one whole GPU held by a fixed holder. Two idle GPUs, at most one per node.
 */
function busy() {
  const c = cluster(node('n0', 2, { clique: 'c1' }), node('n1', 2, { clique: 'c1' }), node('n2', 1, { clique: 'c2' }));
  c.nodes[0].gpus[0].slices = [held('4g.90gb', 0, 'x')];
  c.nodes[1].gpus[1].slices = [held('1g.23gb', 0, 'y', { preemptible: false })];
  c.nodes[2].gpus[0] = { ...gpu(0, 'whole'), holder: { key: 'w', priority: 0, preemptible: false } };
  return c;
}

describe('failure messages', () => {
  it.each<[string, PlacementRequest, string, string]>([
    [
      'more slices than the free room, cluster-wide',
      { id: 'r', members: [slice('a', '7g.180gb'), slice('b', '7g.180gb'), slice('c', '7g.180gb'), slice('d', '7g.180gb')] },
      'InsufficientCapacity',
      'r: needs 4 × 7g.180gb; the 3 eligible nodes have 2 idle GPUs; room for 2 more 7g.180gb; 2 of 4 members fit',
    ],
    [
      'whole GPUs beyond the best node',
      { id: 'r', members: [whole('a', 2)] },
      'InsufficientCapacity',
      'r: needs 1 × 2 whole GPUs on one node; the 3 eligible nodes have 2 idle GPUs; the best node has 1 idle GPU',
    ],
    [
      'a gang in one clique: the clique with the most idle GPUs is named, without a member count it never searched',
      { id: 'r', topology: 'sameClique', members: [whole('a', 1), whole('b', 1), whole('c', 1), whole('d', 1)] },
      'InsufficientCapacity',
      'r: needs 4 × 1 whole GPU on one node in one clique; best clique c1 has 2 idle GPUs',
    ],
    [
      'a topology that cannot be met although the capacity is there',
      { id: 'r', topology: 'sameNode', members: [slice('a', '7g.180gb'), slice('b', '7g.180gb')] },
      'TopologyUnsatisfiable',
      'r: needs 2 × 7g.180gb on one node; best node n0 has 1 idle GPU and room for 1 of 2 members',
    ],
    [
      'preemption tried too',
      { id: 'r', priority: 5, mayPreempt: true, members: [whole('a', 2), slice('b', '7g.180gb'), slice('c', '7g.180gb')] },
      'InsufficientCapacity',
      'r: needs 1 × 2 whole GPUs on one node + 2 × 7g.180gb; the 3 eligible nodes have 2 idle GPUs; room for 2 more 7g.180gb; 2 of 3 members fit, even preempting lower-priority holders',
    ],
  ])('%s', (_name, request, code, message) => {
    const r = place(busy(), request);
    expect(r).toMatchObject({ ok: false, code });
    expect(!r.ok && r.message).toBe(message);
  });

  it('names the constraints no node matches', () => {
    const c = busy();
    const r = place(c, { id: 'r', members: [whole('a', 1)], constraints: { products: ['NVIDIA-H100-80GB-HBM3', 'NVIDIA-H200'], nodeSelector: { pool: 'x', zone: 'y' } } });
    expect(!r.ok && r.message).toBe('r: no schedulable node matching products NVIDIA-H100-80GB-HBM3, NVIDIA-H200 and nodeSelector pool=x,zone=y has whole GPUs');
    const unschedulable = busy();
    for (const n of unschedulable.nodes) n.schedulable = false;
    const s = place(unschedulable, { id: 'r', members: [slice('a', '1g.23gb')] });
    expect(!s.ok && s.message).toBe('r: no schedulable node has a MIG GPU offering 1g.23gb');
  });

  it('counts one node and one GPU in the singular', () => {
    const c = cluster(node('solo', 1));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'x')];
    const r = place(c, { id: 'r', members: [slice('a', '7g.180gb')] });
    expect(!r.ok && r.message).toBe('r: needs 1 × 7g.180gb; the 1 eligible node has 0 idle GPUs; room for 0 more 7g.180gb');
    const one = cluster(node('solo', 2));
    one.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'x')];
    const w = place(one, { id: 'r', members: [whole('a', 2)] });
    expect(!w.ok && w.message).toBe('r: needs 1 × 2 whole GPUs on one node; the 1 eligible node has 1 idle GPU; the best node has 1 idle GPU');
  });
});
