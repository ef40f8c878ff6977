/**
 * Seeded workload for the placement benchmark: a Haein-scale B200 cluster and request streams.
 */
import type { ClusterSnapshot, Member, PlacementRequest } from '../src/placement/types.js';
import { pick, rng } from './seeded-random.js';

/** `nodes` × `gpusPerNode` idle B200 GPUs in MIG mode, `cliques` NVLink domains of consecutive nodes. */
export function makeCluster(nodes: number, gpusPerNode: number, cliques: number): ClusterSnapshot {
  const perClique = Math.ceil(nodes / cliques);
  return {
    nodes: Array.from({ length: nodes }, (_, n) => ({
      name: `node-${String(n).padStart(3, '0')}`,
      product: 'NVIDIA-B200',
      clique: `cluster-a.${Math.floor(n / perClique)}`,
      labels: {},
      schedulable: true,
      gpus: Array.from({ length: gpusPerNode }, (_, i) => ({ index: i, mode: 'mig' as const, healthy: true, slices: [] })),
    })),
  };
}

/** One request of a stream with its arrival time and how long it holds what it gets. */
export interface TimedRequest {
  request: PlacementRequest;
  arrival: number;
  duration: number;
}

/** Compute and memory slices of each B200 profile (whole GPU = 7/8). */
export const SLICES: Record<string, { compute: number; memory: number }> = {
  '1g.23gb': { compute: 1, memory: 1 },
  '1g.45gb': { compute: 1, memory: 2 },
  '2g.45gb': { compute: 2, memory: 2 },
  '3g.90gb': { compute: 3, memory: 4 },
  '4g.90gb': { compute: 4, memory: 4 },
  '7g.180gb': { compute: 7, memory: 8 },
};

const SINGLE_MIX: Array<[string, number]> = [
  ['1g.23gb', 40],
  ['1g.45gb', 5],
  ['2g.45gb', 20],
  ['3g.90gb', 20],
  ['4g.90gb', 5],
  ['7g.180gb', 10],
];
const GANG_SLICE_MIX: Array<[string, number]> = [
  ['1g.23gb', 50],
  ['2g.45gb', 30],
  ['3g.90gb', 20],
];
const WHOLE_MIX: Array<[number, number]> = [
  [8, 50],
  [16, 30],
  [32, 15],
  [64, 5],
];

/**
 * A stream of `count` requests: ~86 % single slices, ~8 % slice gangs of 2–4, ~6 % whole-GPU gangs of
 * 8–64 GPUs (8 per node, one clique when more than one node), Poisson arrivals (rate 1) and exponential
 * holding times of mean `meanHold` (Infinity: nothing leaves).
 */
export function makeStream(count: number, seed: number, meanHold: number, wholeShare = 0.06): TimedRequest[] {
  const r = rng(seed);
  const out: TimedRequest[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += -Math.log(1 - r());
    const id = `req-${i}`;
    const kind = r();
    let members: Member[];
    let topology: PlacementRequest['topology'] = 'any';
    if (kind < wholeShare) {
      const gpus = pick(r, WHOLE_MIX);
      const nodes = gpus / 8;
      members = Array.from({ length: nodes }, (_, m) => ({ kind: 'whole' as const, key: `${id}/${m}`, gpus: 8 }));
      if (nodes > 1) topology = 'sameClique';
    } else if (kind < wholeShare + 0.08) {
      const profile = pick(r, GANG_SLICE_MIX);
      const n = 2 + Math.floor(r() * 3);
      members = Array.from({ length: n }, (_, m) => ({ kind: 'slice' as const, key: `${id}/${m}`, profile }));
    } else {
      members = [{ kind: 'slice', key: `${id}/0`, profile: pick(r, SINGLE_MIX) }];
    }
    const duration = Number.isFinite(meanHold) ? -Math.log(1 - r()) * meanHold : Infinity;
    out.push({ request: { id, members, topology }, arrival: t, duration });
  }
  return out;
}

/** Compute and memory slices a request holds (whole GPUs count 7 and 8). */
export function demandOf(request: PlacementRequest): { compute: number; memory: number } {
  let compute = 0;
  let memory = 0;
  for (const m of request.members) {
    if (m.kind === 'whole') {
      compute += 7 * m.gpus;
      memory += 8 * m.gpus;
    } else {
      const s = SLICES[m.profile ?? ''];
      compute += s.compute;
      memory += s.memory;
    }
  }
  return { compute, memory };
}
