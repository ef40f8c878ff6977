/**
 * Property tests: random tiny clusters and requests, the engine against the contract checks and against a
 * brute-force solver; and random request streams on a small cluster through the incremental engine.
 */
import fc from 'fast-check';
import { modelForProduct, validateLayout } from '../../../src/placement/catalog.js';
import { place, PlacementEngine } from '../../../src/placement/engine.js';
import type { ClusterSnapshot, GpuSnapshot, Member, NodeSnapshot, PlacementRequest, SliceSnapshot } from '../../../src/placement/types.js';
import { bruteForceFeasible, contractProblems } from './checks.js';

const B200 = modelForProduct('NVIDIA-B200');
if (!B200) throw new Error('catalog lacks the B200');
const PROFILES = B200.profiles.map((p) => p.name);

const holderArb = fc.option(
  fc.record({ key: fc.constantFrom('h1', 'h2', 'h3', 'h4'), priority: fc.integer({ min: 0, max: 3 }), preemptible: fc.boolean() }),
  { nil: undefined },
);

// A legal layout: candidate slices dropped when they would make it illegal.
const slicesArb = fc
  .array(fc.record({ profile: fc.constantFrom(...PROFILES), start: fc.integer({ min: 0, max: 6 }), holder: holderArb, inUse: fc.boolean() }), { maxLength: 5 })
  .map((cands) => {
    const out: SliceSnapshot[] = [];
    for (const c of cands) {
      const s: SliceSnapshot = { profile: c.profile, start: c.start, inUse: c.inUse, ...(c.holder ? { holder: c.holder } : {}) };
      if (validateLayout(B200, [...out, s]).length === 0) out.push(s);
    }
    return out;
  });

const gpuArb = (index: number): fc.Arbitrary<GpuSnapshot> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ health: fc.integer({ min: 0, max: 5 }), slices: slicesArb }).map(({ health, slices }) => ({ index, mode: 'mig' as const, healthy: health > 0, slices })) },
    {
      weight: 1,
      arbitrary: fc.record({ holder: holderArb, inUse: fc.boolean() }).map(({ holder, inUse }) => ({
        index,
        mode: 'whole' as const,
        healthy: true,
        slices: [],
        ...(holder ? { holder } : {}),
        inUse: holder ? inUse : false,
      })),
    },
  );

const nodeArb = (i: number): fc.Arbitrary<NodeSnapshot> =>
  fc
    .record({
      gpus: fc.integer({ min: 1, max: 2 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, j) => gpuArb(j)))),
      clique: fc.option(fc.constantFrom('c1', 'c2'), { nil: undefined }),
      schedulable: fc.integer({ min: 0, max: 5 }).map((x) => x > 0),
    })
    .map(({ gpus, clique, schedulable }) => ({
      name: `n${i}`,
      product: 'NVIDIA-B200',
      labels: {},
      schedulable,
      ...(clique ? { clique } : {}),
      gpus,
    }));

const clusterArb: fc.Arbitrary<ClusterSnapshot> = fc
  .integer({ min: 1, max: 3 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(i))))
  .map((nodes) => ({ nodes }));

const memberArb = (key: string): fc.Arbitrary<Member> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PROFILES).map((profile) => ({ kind: 'slice' as const, key, profile })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 60000 }).map((memoryMiB) => ({ kind: 'slice' as const, key, memoryMiB })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }).map((gpus) => ({ kind: 'whole' as const, key, gpus })) },
  );

const requestArb: fc.Arbitrary<PlacementRequest> = fc
  .record({
    n: fc.integer({ min: 1, max: 3 }),
    topology: fc.constantFrom('any', 'sameNode', 'sameClique', 'spread') as fc.Arbitrary<PlacementRequest['topology']>,
  })
  .chain(({ n, topology }) =>
    fc.tuple(...Array.from({ length: n }, (_, i) => memberArb(`m${i}`))).map((members) => ({ id: 'req', members, topology })),
  );

describe('placement properties', () => {
  it('places whenever brute force can, and every placement respects the contract', () => {
    const seen = { placed: 0, infeasible: 0, invalid: 0 };
    fc.assert(
      fc.property(clusterArb, requestArb, (snapshot, request) => {
        const before = JSON.stringify(snapshot);
        const result = place(snapshot, request);
        expect(JSON.stringify(snapshot)).toBe(before);
        const feasible = bruteForceFeasible(snapshot, request);
        if (result.ok) {
          expect(contractProblems(snapshot, request, result)).toEqual([]);
          expect(result.victims).toEqual([]);
          expect(feasible).toBe(true);
          seen.placed++;
        } else {
          if (result.code === 'InvalidRequest') seen.invalid++;
          else seen.infeasible++;
          // Typed failure, and never "cannot fit" when a placement exists.
          expect(['InvalidRequest', 'UnknownProfile', 'NoMatchingNodes', 'InsufficientCapacity', 'TopologyUnsatisfiable']).toContain(result.code);
          expect(result.message.length).toBeGreaterThan(10);
          if (result.code !== 'InvalidRequest') expect(feasible).toBe(false);
        }
        // Deterministic for the same input.
        expect(place(JSON.parse(before) as ClusterSnapshot, request)).toEqual(result);
      }),
      { numRuns: 400, seed: 1129 },
    );
    // The generators must exercise both outcomes, or the comparison above proves little.
    expect(seen.placed).toBeGreaterThan(80);
    expect(seen.infeasible).toBeGreaterThan(40);
  });

  it('keeps preemption within the rules', () => {
    fc.assert(
      fc.property(clusterArb, requestArb, fc.integer({ min: 0, max: 4 }), (snapshot, request, priority) => {
        const result = place(snapshot, { ...request, mayPreempt: true, priority });
        if (!result.ok) return;
        expect(contractProblems(snapshot, request, result)).toEqual([]);
        for (const v of result.victims) {
          expect(v.priority).toBeLessThan(priority);
          const node = snapshot.nodes.find((n) => n.name === v.node);
          const gpu = node?.gpus.find((g) => g.index === v.gpuIndex);
          const holder = v.profile ? gpu?.slices.find((s) => s.start === v.start)?.holder : gpu?.holder;
          expect(holder?.key).toBe(v.holderKey);
          expect(holder?.preemptible).toBe(true);
        }
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('streams of arrivals and departures keep every GPU legal and gangs atomic', () => {
    const streamArb = fc.array(fc.tuple(requestArb, fc.boolean()), { minLength: 10, maxLength: 40 });
    fc.assert(
      fc.property(streamArb, (stream) => {
        const cluster: ClusterSnapshot = {
          nodes: [0, 1, 2].map((i) => ({
            name: `n${i}`,
            product: 'NVIDIA-B200',
            clique: i < 2 ? 'c1' : 'c2',
            labels: {},
            schedulable: true,
            gpus: [0, 1].map((index) => ({ index, mode: 'mig' as const, healthy: true, slices: [] })),
          })),
        };
        const engine = new PlacementEngine(cluster);
        const live: PlacementRequest[] = [];
        stream.forEach(([req, leave], t) => {
          const request = { ...req, id: `r${t}`, members: req.members.map((m) => ({ ...m, key: `r${t}/${m.key}` })) };
          const before = engine.snapshot();
          const result = engine.place(request);
          if (result.ok) {
            expect(contractProblems(before, request, result)).toEqual([]);
            live.push(request);
          } else {
            expect(engine.snapshot()).toEqual(before);
          }
          if (leave && live.length > 0) for (const m of (live.shift() as PlacementRequest).members) engine.release(m.key);
          for (const node of engine.snapshot().nodes) {
            for (const g of node.gpus) expect(validateLayout(B200, g.slices)).toEqual([]);
          }
        });
      }),
      { numRuns: 60, seed: 42 },
    );
  });
});
