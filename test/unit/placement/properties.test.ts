/**
 * Property tests: random tiny clusters and requests, the engine against the contract checks and against a
 * brute-force solver; and random request streams on a small cluster through the incremental engine.
 */
import fc from 'fast-check';
import { modelForProduct, validateLayout } from '../../../src/placement/catalog.js';
import { planDefrag } from '../../../src/placement/defrag.js';
import { place, PlacementEngine } from '../../../src/placement/engine.js';
import type { ClusterSnapshot, GpuSnapshot, Member, NodeSnapshot, PlacementRequest, SliceSnapshot } from '../../../src/placement/types.js';
import { runs, share } from '../../support/property-runs.js';
import { bruteForceFeasible, contractProblems, withoutPreemptible } from './checks.js';

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

// Fragmented GPUs for defragmentation: mostly small slices, mostly claimed and idle (movable).
const fragmentedGpuArb = (index: number): fc.Arbitrary<GpuSnapshot> =>
  fc
    .array(
      fc.record({
        profile: fc.constantFrom('1g.23gb', '1g.23gb', '1g.45gb', '2g.45gb'),
        start: fc.integer({ min: 0, max: 6 }),
        key: fc.integer({ min: 0, max: 99 }),
        inUse: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
      }),
      { maxLength: 4 },
    )
    .map((cands) => {
      const slices: SliceSnapshot[] = [];
      for (const c of cands) {
        const s: SliceSnapshot = { profile: c.profile, start: c.start, inUse: c.inUse, holder: { key: `k${index}-${c.key}`, priority: 0, preemptible: true } };
        if (validateLayout(B200, [...slices, s]).length === 0 && !slices.some((x) => x.holder?.key === s.holder?.key)) slices.push(s);
      }
      return { index, mode: 'mig' as const, healthy: true, slices };
    });

const fragmentedClusterArb: fc.Arbitrary<ClusterSnapshot> = fc
  .tuple(fc.tuple(fragmentedGpuArb(0), fragmentedGpuArb(1), fragmentedGpuArb(2)), fc.tuple(fragmentedGpuArb(0), fragmentedGpuArb(1)))
  .map(([a, b]) => ({
    nodes: [
      { name: 'n0', product: 'NVIDIA-B200', labels: {}, schedulable: true, clique: 'c1', gpus: a },
      { name: 'n1', product: 'NVIDIA-B200', labels: {}, schedulable: true, clique: 'c1', gpus: b },
    ],
  }));

const bigRequestArb: fc.Arbitrary<PlacementRequest> = fc
  .array(
    fc.oneof(
      fc.constantFrom('3g.90gb', '4g.90gb', '7g.180gb', '2g.45gb').map((profile) => ({ kind: 'slice' as const, profile })),
      fc.constant({ kind: 'whole' as const, gpus: 1 }),
    ),
    { minLength: 1, maxLength: 2 },
  )
  .map((members) => ({ id: 'big', members: members.map((m, i) => ({ ...m, key: `b${i}` })) as Member[] }));

const gpuArb = (index: number): fc.Arbitrary<GpuSnapshot> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ health: fc.integer({ min: 0, max: 5 }), slices: slicesArb }).map(({ health, slices }) => ({ index, mode: 'mig' as const, healthy: health > 0, slices })) },
    {
      weight: 1,
      // In use with or without a holder: a container the ledger does not know about may hold a whole GPU.
      arbitrary: fc.record({ holder: holderArb, inUse: fc.integer({ min: 0, max: 3 }).map((x) => x === 0) }).map(({ holder, inUse }) => ({
        index,
        mode: 'whole' as const,
        healthy: true,
        slices: [],
        ...(holder ? { holder } : {}),
        inUse,
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
      { numRuns: runs(400), seed: 1129 },
    );
    // The generators must exercise both outcomes, or the comparison above proves little.
    expect(seen.placed).toBeGreaterThan(share(80));
    expect(seen.infeasible).toBeGreaterThan(share(40));
  });

  it('preempts only when it must, only whom it may, and whenever preempting makes room', () => {
    const seen = { withVictims: 0, withoutVictims: 0, refused: 0 };
    fc.assert(
      fc.property(clusterArb, requestArb, fc.integer({ min: 0, max: 4 }), (snapshot, request, priority) => {
        const result = place(snapshot, { ...request, mayPreempt: true, priority });
        const feasibleAsIs = bruteForceFeasible(snapshot, request);
        const feasibleByPreempting = bruteForceFeasible(withoutPreemptible(snapshot, priority), request);
        if (!result.ok) {
          seen.refused++;
          // Never "cannot fit" while displacing the preemptible lower-priority holders would make room.
          if (result.code !== 'InvalidRequest') expect(feasibleByPreempting).toBe(false);
          return;
        }
        expect(contractProblems(snapshot, request, result)).toEqual([]);
        // Victims only when there is no room without them, and then at least one.
        if (feasibleAsIs) expect(result.victims).toEqual([]);
        else expect(result.victims.length).toBeGreaterThan(0);
        if (result.victims.length > 0) seen.withVictims++;
        else seen.withoutVictims++;
        const layouts = new Map(result.layouts.map((l) => [`${l.node}/${l.gpuIndex}`, l]));
        for (const v of result.victims) {
          expect(v.priority).toBeLessThan(priority);
          const node = snapshot.nodes.find((n) => n.name === v.node);
          const gpu = node?.gpus.find((g) => g.index === v.gpuIndex);
          const holder = v.profile ? gpu?.slices.find((s) => s.start === v.start && s.profile === v.profile)?.holder : gpu?.holder;
          expect(holder?.key).toBe(v.holderKey);
          expect(holder?.preemptible).toBe(true);
          expect(v.priority).toBe(holder?.priority);
          // A victim is displaced for a reason: its GPU changes and its allocation there is gone.
          const after = layouts.get(`${v.node}/${v.gpuIndex}`);
          expect(after).toBeDefined();
          const kept = v.profile
            ? after?.slices.some((s) => s.holder?.key === v.holderKey && s.start === v.start && s.profile === v.profile)
            : after?.holder?.key === v.holderKey;
          expect(kept).toBe(false);
        }
      }),
      { numRuns: runs(300), seed: 7 },
    );
    // The generators must reach preemption, or the checks above prove little.
    expect(seen.withVictims).toBeGreaterThan(share(20));
    expect(seen.withoutVictims).toBeGreaterThan(share(20));
    expect(seen.refused).toBeGreaterThan(share(20));
  });

  it('defragmentation plans move only idle claims, keep in-use slices and end in legal layouts', () => {
    let planned = 0;
    let withMoves = 0;
    fc.assert(
      fc.property(fragmentedClusterArb, bigRequestArb, (snapshot, request) => {
        const plan = planDefrag(snapshot, request);
        if (!plan.ok) return;
        planned++;
        if (plan.moves.length > 0) {
          withMoves++;
          // Moves are proposed only when the request does not fit as things are.
          expect(place(snapshot, request).ok).toBe(false);
        }
        const byGpu = new Map(snapshot.nodes.flatMap((n) => n.gpus.map((g) => [`${n.name}/${g.index}`, g] as const)));
        const moved = new Set<string>();
        for (const m of plan.moves) {
          const slice = byGpu.get(`${m.node}/${m.gpuIndex}`)?.slices.find((s) => s.start === m.start && s.profile === m.profile);
          expect(slice?.holder?.key).toBe(m.holderKey);
          expect(m.action).toBe('move');
          expect(slice?.inUse).toBe(false);
          moved.add(`${m.node}/${m.gpuIndex}/${m.holderKey}`);
          // The moved claim is at its destination in the target layouts.
          const dest = plan.placement.layouts.find((l) => l.node === m.to?.node && l.gpuIndex === m.to?.gpuIndex);
          expect(dest?.slices.some((s) => s.holder?.key === m.holderKey && s.start === m.to?.start && s.profile === m.profile)).toBe(true);
        }
        for (const l of plan.placement.layouts) {
          expect(validateLayout(B200, l.mode === 'mig' ? l.slices : [])).toEqual([]);
          const before = byGpu.get(`${l.node}/${l.gpuIndex}`);
          for (const s of before?.slices ?? []) {
            if (s.inUse) expect(l.slices).toContainEqual(s);
            else if (s.holder && !moved.has(`${l.node}/${l.gpuIndex}/${s.holder.key}`)) expect(l.slices).toContainEqual(s);
          }
        }
        expect(plan.placement.assignments.map((a) => a.key).sort()).toEqual(request.members.map((m) => m.key).sort());
      }),
      { numRuns: runs(200), seed: 99 },
    );
    expect(planned).toBeGreaterThan(share(40));
    expect(withMoves).toBeGreaterThan(share(20));
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
      { numRuns: runs(60), seed: 42 },
    );
  });
});
