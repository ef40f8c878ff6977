/**
 * The cycle planner's memo of failed shapes: what makes two requests the same shape (`shapeOf`), that a shape
 * that failed is not tried again at the same capacity sequence (its message renamed for the request it is
 * reused for, even out of time), that a failure recorded at another sequence is ignored, that each release
 * moves the sequence, and that a demand is deferred when the cycle is out of time and nothing is known.
 * Found by mutation testing (docs/reliability.md, "Ledger part, narrowed runs").
 */
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { planCycle, shapeOf, type ShapeFailure } from '../../../src/scheduler/cycle-planner.js';
import { partitionDemand } from '../../../src/scheduler/demand.js';
import type { PlacementRequest } from '../../../src/placement/types.js';
import { makeGpuNode, makeNode, makePartition } from '../support/builders.js';

const request = (extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id: 'r',
  members: [{ kind: 'slice', key: 'k0', profile: '1g.23gb' }],
  topology: 'any',
  priority: 0,
  preemptible: false,
  mayPreempt: false,
  constraints: {},
  ...extra,
});

describe('shapeOf', () => {
  test('tells members apart by kind, GPUs, profile, memory and compute slices, but not by key', () => {
    const slice = (m: object) => shapeOf(request({ members: [{ kind: 'slice', key: 'k', ...m }] }));
    const shapes = [
      slice({ profile: '1g.23gb' }),
      slice({ profile: '3g.90gb' }),
      slice({ memoryMiB: 20000 }),
      slice({ memoryMiB: 40000 }),
      slice({ computeSlices: 2 }),
      slice({ computeSlices: 3 }),
      slice({}),
      shapeOf(request({ members: [{ kind: 'whole', key: 'k', gpus: 1 }] })),
      shapeOf(request({ members: [{ kind: 'whole', key: 'k', gpus: 2 }] })),
      shapeOf(request({ members: [{ kind: 'whole', key: 'k', gpus: 1 }, { kind: 'whole', key: 'j', gpus: 1 }] })),
    ];
    expect(new Set(shapes).size).toBe(shapes.length);
    expect(slice({ profile: '1g.23gb' })).toBe(shapeOf(request({ id: 'other', members: [{ kind: 'slice', key: 'other-key', profile: '1g.23gb' }] })));
  });

  test('tells apart topology, products and node selector, in any order given', () => {
    const base = shapeOf(request());
    expect(shapeOf(request({ topology: 'sameNode' }))).not.toBe(base);
    expect(shapeOf(request({ constraints: { products: ['NVIDIA-B200'] } }))).not.toBe(base);
    expect(shapeOf(request({ constraints: { nodeSelector: { zone: 'a' } } }))).not.toBe(base);
    expect(shapeOf(request({ constraints: { nodeSelector: { zone: 'a' } } }))).not.toBe(shapeOf(request({ constraints: { nodeSelector: { zone: 'b' } } })));
    expect(shapeOf(request({ constraints: { products: ['NVIDIA-B200', 'NVIDIA-H100'] } }))).toBe(shapeOf(request({ constraints: { products: ['NVIDIA-H100', 'NVIDIA-B200'] } })));
    expect(shapeOf(request({ constraints: { nodeSelector: { a: '1', b: '2' } } }))).toBe(shapeOf(request({ constraints: { nodeSelector: { b: '2', a: '1' } } })));
    expect(shapeOf(request({ topology: undefined as never }))).toBe(shapeOf(request({ topology: 'any' })));
  });

  test('counts the priority only for a request that may preempt', () => {
    expect(shapeOf(request({ priority: 5 }))).toBe(shapeOf(request({ priority: 1 })));
    expect(shapeOf(request({ priority: 5, mayPreempt: true }))).not.toBe(shapeOf(request({ priority: 1, mayPreempt: true })));
    expect(shapeOf(request({ priority: 0, mayPreempt: true }))).not.toBe(shapeOf(request({ priority: 0 })));
    expect(shapeOf(request({ priority: undefined as never, mayPreempt: true }))).toBe(shapeOf(request({ priority: 0, mayPreempt: true })));
  });
});

/** A partition of one 7g slice (a whole B200 each). */
const big = (name: string): GpuPartition => {
  const p = makePartition(name, 'ns', { profile: '7g.180gb' });
  p.metadata = { name, namespace: 'ns', uid: `uid-${name}`, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' };
  return p;
};
const hold = (p: GpuPartition) => partitionDemand(p, { release: false, inUse: false });
const deps = { nodeOf: (n: string) => makeNode(n) };

/** One node with one B200, held by `holder` (a partition of namespace `ns`). */
function fullNode(): GpuNode {
  const gn = makeGpuNode('n1', { gpus: 1 });
  gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: { kind: 'GpuPartition', namespace: 'ns', name: 'holder', uid: 'uid-holder', slot: 0, priority: 0, preemptible: false } }] }] };
  return gn;
}

describe('failed shapes', () => {
  test('a shape that failed is decided without an engine call for the next request of that shape, with its own name', () => {
    const calls: string[] = [];
    const failedShapes = new Map<string, ShapeFailure>();
    const plan = planCycle([fullNode()], [hold(big('a')), hold(big('b'))], { ...deps, observePlacement: (_s, kind) => calls.push(kind) }, { seq: 3, outOfTime: () => false, failedShapes });
    const [a, b] = plan.results.map((r) => r.outcome);
    expect(a).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity', permanent: false });
    expect(calls).toHaveLength(1);
    if (a?.kind !== 'waiting' || b?.kind !== 'waiting') throw new Error('both wait');
    expect(a.message.startsWith('GpuPartition/ns/a:')).toBe(true);
    expect(b.message).toBe(a.message.replace('GpuPartition/ns/a:', 'GpuPartition/ns/b:'));
    expect(b.code).toBe(a.code);
    expect([...failedShapes.values()]).toEqual([{ seq: 3, id: 'GpuPartition/ns/a', code: 'InsufficientCapacity', message: a.message }]);
    expect(plan.seq).toBe(3);
  });

  test('a known failure is still decided when the cycle is out of time; an unknown shape is deferred', () => {
    const failedShapes = new Map<string, ShapeFailure>();
    planCycle([fullNode()], [hold(big('a'))], deps, { seq: 3, outOfTime: () => false, failedShapes });
    const calls: string[] = [];
    const other = makePartition('c', 'ns', { profile: '1g.23gb' });
    other.metadata = { name: 'c', namespace: 'ns', uid: 'uid-c', creationTimestamp: '2026-01-01T00:00:00Z' };
    const plan = planCycle([fullNode()], [hold(big('b')), hold(other)], { ...deps, observePlacement: (_s, kind) => calls.push(kind) }, { seq: 3, outOfTime: () => true, failedShapes });
    expect(plan.results.map((r) => r.outcome.kind)).toEqual(['waiting', 'deferred']);
    expect(calls).toEqual([]);
  });

  test('a failure recorded at another capacity sequence is tried again, and the record renewed', () => {
    const failedShapes = new Map<string, ShapeFailure>();
    planCycle([fullNode()], [hold(big('a'))], deps, { seq: 3, outOfTime: () => false, failedShapes });
    const calls: string[] = [];
    const plan = planCycle([makeGpuNode('n1', { gpus: 1 })], [hold(big('b'))], { ...deps, observePlacement: (_s, kind) => calls.push(kind) }, { seq: 4, outOfTime: () => false, failedShapes });
    expect(plan.results[0]?.outcome).toMatchObject({ kind: 'placed', slots: [0] });
    expect(calls).toHaveLength(1);
    // A failure found at sequence 4 replaces the one of sequence 3.
    planCycle([fullNode()], [hold(big('d'))], deps, { seq: 4, outOfTime: () => false, failedShapes });
    expect([...failedShapes.values()].map((f) => [f.seq, f.id])).toEqual([[4, 'GpuPartition/ns/d']]);
  });

  test('a release moves the capacity sequence, so a shape that failed before it is tried again', () => {
    const failedShapes = new Map<string, ShapeFailure>();
    const holder = makePartition('holder', 'ns', { profile: '7g.180gb' });
    holder.metadata = { name: 'holder', namespace: 'ns', uid: 'uid-holder', creationTimestamp: '2026-01-01T00:00:00Z' };
    planCycle([fullNode()], [hold(big('a'))], deps, { seq: 3, outOfTime: () => false, failedShapes });
    const plan = planCycle([fullNode()], [partitionDemand(holder, { release: true, inUse: false }), hold(big('b'))], deps, { seq: 3, outOfTime: () => false, failedShapes });
    expect(plan.results.map((r) => [r.outcome.kind, r.seq])).toEqual([
      ['released', 4],
      ['placed', 4],
    ]);
    expect(plan.seq).toBe(4);
  });
});
