/**
 * Properties of one admission cycle's decisions, on random clusters and random batches of demands (partitions
 * of random profiles, counts and priorities, some allowed to preempt; gangs; releases), with and without claims
 * already in the ledger: every layout stays legal, no slot is ever held twice, every demand ends holding
 * exactly what its outcome says, and nobody else's claims change except the named victims and moves.
 */
import fc from 'fast-check';
import type { GpuNode } from '../../../src/api/types.js';
import { ledgerEntries, type LedgerEntry } from '../../../src/ledger/claims.js';
import { modelForProduct, validateLayout } from '../../../src/placement/catalog.js';
import { planDefrag } from '../../../src/placement/defrag.js';
import { place } from '../../../src/placement/engine.js';
import { planCycle, type CyclePlan } from '../../../src/scheduler/cycle-planner.js';
import { AdmissionGuard } from '../../../src/scheduler/defrag/admission-guard.js';
import { Defragmenter } from '../../../src/scheduler/defrag/defragmenter.js';
import { jobDemand, partitionDemand, type Demand } from '../../../src/scheduler/demand.js';
import { compareDemands } from '../../../src/scheduler/admission-queue.js';
import { makeGpuNode, makeJob, makeNode, makePartition } from '../support/builders.js';

const B200 = modelForProduct('NVIDIA-B200')!;
const PROFILES = ['1g.23gb', '1g.45gb', '2g.45gb', '3g.90gb', '4g.90gb', '7g.180gb'];

interface PartitionSpec {
  name: string;
  profile: string;
  count: number;
  priority: number;
  preemptible: boolean;
  mayPreempt: boolean;
}

const partitionArb = (i: number): fc.Arbitrary<PartitionSpec> =>
  fc.record({
    name: fc.constant(`p${i}`),
    profile: fc.constantFrom(...PROFILES),
    count: fc.integer({ min: 1, max: 3 }),
    priority: fc.integer({ min: 0, max: 3 }),
    preemptible: fc.boolean(),
    mayPreempt: fc.boolean(),
  });

const scenarioArb = fc.record({
  nodes: fc.integer({ min: 1, max: 3 }),
  gpus: fc.integer({ min: 1, max: 3 }),
  first: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 0, maxLength: 8 }).chain((xs) => fc.tuple(...xs.map((_, i) => partitionArb(i)))),
  second: fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 8 }).chain((xs) => fc.tuple(...xs.map((_, i) => partitionArb(100 + i)))),
  jobs: fc.array(fc.record({ replicas: fc.integer({ min: 1, max: 2 }), gpus: fc.integer({ min: 1, max: 2 }), priority: fc.integer({ min: 0, max: 3 }) }), { maxLength: 2 }),
  release: fc.array(fc.nat(), { maxLength: 3 }),
  defrag: fc.boolean(),
});

function partitionOf(s: PartitionSpec) {
  const p = makePartition(s.name, 'ns', {
    profile: s.profile,
    count: s.count,
    priority: s.priority,
    preemptible: s.preemptible,
    ...(s.mayPreempt ? { preemptionPolicy: 'PreemptLowerPriority' as const } : {}),
  });
  p.metadata.uid = `uid-${s.name}`;
  p.metadata.generation = 1;
  p.metadata.creationTimestamp = '2026-01-01T00:00:00Z';
  return p;
}

function applyPlan(nodes: GpuNode[], plan: CyclePlan): GpuNode[] {
  const changed = new Map(plan.draft.changed().map((n) => [n.metadata.name, n]));
  return nodes.map((n) => changed.get(n.metadata.name) ?? n);
}

const key = (e: LedgerEntry) => `${e.claim.kind}/${e.claim.name}`;

test('an admission cycle keeps the ledger legal and every demand holding exactly what its outcome says', () => {
  fc.assert(
    fc.property(scenarioArb, (sc) => {
      let nodes = [...Array(sc.nodes).keys()].map((i) => makeGpuNode(`n${i}`, { gpus: sc.gpus }));
      const nodeOf = (n: string) => makeNode(n);
      const guard = new AdmissionGuard();
      const none = { get: () => undefined, list: () => [] };
      const defrag = sc.defrag ? new Defragmenter({ planDefrag: (s, r) => planDefrag(s, r), place, guard, pods: none, partitions: none }) : undefined;
      const deps = { nodeOf, ...(defrag ? { defrag } : {}) };
      // A first cycle fills the ledger with claims of earlier objects.
      const first = sc.first.map(partitionOf);
      nodes = applyPlan(nodes, planCycle(nodes, first.map((p) => partitionDemand(p, { release: false, inUse: false })), deps, { seq: 0, outOfTime: () => false }));

      const releases = [...new Set(sc.release.filter((i) => i < first.length))].map((i) => partitionDemand(first[i]!, { release: true, inUse: false }));
      const second = sc.second.map(partitionOf);
      const jobs = sc.jobs.map((j, i) => {
        const job = makeJob(`j${i}`, 'ns', { replicas: j.replicas, gpusPerWorker: j.gpus, priority: j.priority });
        job.metadata.uid = `uid-j${i}`;
        job.metadata.generation = 1;
        job.metadata.creationTimestamp = '2026-01-01T00:00:00Z';
        return job;
      });
      const demands: Demand[] = [
        ...releases,
        ...second.map((p) => partitionDemand(p, { release: false, inUse: false })),
        ...jobs.map((j) => jobDemand(j, { release: false })),
      ].sort(compareDemands);
      const before = ledgerEntries(nodes);
      const plan = planCycle(nodes, demands, deps, { seq: 0, outOfTime: () => false });
      const after = applyPlan(nodes, plan);
      const entries = ledgerEntries(after);

      // 1. Every layout legal; no partition slot twice; every job rank on one node.
      for (const n of after) for (const g of n.spec?.gpus ?? []) if (g.mode === 'mig') expect(validateLayout(B200, g.slices)).toEqual([]);
      const slots = new Map<string, string>();
      for (const e of entries) {
        const k = `${key(e)}/${e.claim.slot}`;
        const prev = slots.get(k);
        if (prev !== undefined) expect(e.claim.kind === 'TrainingJob' && prev === e.node).toBe(true);
        slots.set(k, e.node);
      }
      // 2. Each demand holds what its outcome says.
      const victims = new Set<string>();
      const moved = new Set<string>();
      for (const r of plan.results) {
        const mine = entries.filter((e) => e.claim.kind === r.demand.who.kind && e.claim.name === r.demand.who.name);
        const o = r.outcome;
        if (o.kind === 'released') expect(mine).toEqual([]);
        if (o.kind === 'placed' || o.kind === 'satisfied') {
          const want = r.demand.want;
          if (want.kind !== 'hold') throw new Error('a placed demand holds');
          expect(want.complete(mine)).toBe(true);
          expect(mine.every((e) => e.claim.uid === r.demand.uid)).toBe(true);
        }
        if (o.kind === 'waiting') expect(mine).toEqual([]);
        if (o.kind === 'placed') {
          for (const v of o.victims) victims.add(`${v.claim.kind}/${v.claim.name}`);
          for (const m of o.defrag?.moved ?? []) moved.add(`${m.claim.kind}/${m.claim.name}`);
        }
      }
      // 3. Claims of objects not in the batch change only as victims or moves.
      const decided = new Set(plan.results.map((r) => `${r.demand.who.kind}/${r.demand.who.name}`));
      const sig = (es: LedgerEntry[], k: string) => es.filter((e) => key(e) === k).map((e) => `${e.node}/${e.gpuIndex}/${e.start}/${e.claim.slot}`).sort();
      for (const k of new Set(before.map(key))) {
        if (decided.has(k) || victims.has(k) || moved.has(k)) continue;
        expect(sig(entries, k)).toEqual(sig(before, k));
      }
      // 4. A victim lost only slots; it never gained any (unless defragmentation also moved one of its slices).
      for (const k of victims) if (!decided.has(k) && !moved.has(k)) expect(sig(entries, k).every((x) => sig(before, k).includes(x))).toBe(true);
    }),
    { numRuns: 300 },
  );
});
