/**
 * A realistic fleet for the slice map: `nodes` B200 nodes (8 GPUs, `nodesPerClique` per NVLink domain) carved by
 * the real placement engine for a seeded mix of GpuPartitions from several teams and whole-GPU TrainingJobs,
 * as GpuNode objects (ledger in spec, realised slices in status: most idle or in use, a few still realising).
 * Optionally the namespaces belong to GpuTenants: claims name their tenant, some are borrowed, and
 * {@link fleetTenants} gives the tenants with the figures of the fleet. Used by the browser test (1,024 GPUs),
 * the slice map benchmark and for the README screenshot.
 */
import { API_VERSION } from '../src/api/constants.js';
import type { ClaimRef, GpuNode, GpuTenant, RealisedGpu, TargetGpu } from '../src/api/types.js';
import { accountingProfile, gpuEquivalentsOf, roundGpuEq } from '../src/tenancy/gpu-equivalents.js';
import { parseHolderKey } from '../src/ledger/claims.js';
import { PlacementEngine } from '../src/placement/engine.js';
import type { ClusterSnapshot, Holder, PlacementRequest } from '../src/placement/types.js';
import { pick, rng } from './seeded-random.js';

/** Options of {@link sliceMapFleet}. */
export interface FleetOptions {
  nodes: number;
  nodesPerClique?: number;
  /** Node name prefix. */
  prefix?: string;
  /** Namespaces the partitions and jobs come from. */
  namespaces?: string[];
  /** Labels on every GpuNode. */
  labels?: Record<string, string>;
  seed?: number;
  /** Reconfiguration times are before this (ms since the epoch); default now. */
  now?: number;
  /** Namespace → GpuTenant: claims there name the tenant, and about one request in 8 is on borrowed quota. */
  tenants?: Record<string, string>;
}

/** The fleet's default tenants: two teams sharing a cohort with a lender. */
export const FLEET_TENANTS: Record<string, string> = { research: 'lab', vision: 'lab', inference: 'serving', speech: 'serving', notebooks: 'notebooks' };

const PROFILES: Array<[string, number]> = [['1g.23gb', 5], ['1g.45gb', 2], ['2g.45gb', 3], ['3g.90gb', 3], ['4g.90gb', 1], ['7g.180gb', 1]];

/** GpuNodes of a busy fleet. */
export function sliceMapFleet(opts: FleetOptions): GpuNode[] {
  const prefix = opts.prefix ?? 'gpu';
  const perClique = opts.nodesPerClique ?? 8;
  const namespaces = opts.namespaces ?? ['research', 'inference', 'notebooks', 'vision', 'speech'];
  const r = rng(opts.seed ?? 7);
  const names = [...Array(opts.nodes).keys()].map((i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const snapshot: ClusterSnapshot = {
    nodes: names.map((name, i) => ({
      name,
      product: 'NVIDIA-B200',
      clique: `fleet.${Math.floor(i / perClique)}`,
      labels: {},
      schedulable: true,
      gpus: [...Array(8).keys()].map((index) => ({ index, mode: 'mig' as const, healthy: true, slices: [] })),
    })),
  };
  const engine = new PlacementEngine(snapshot);
  const priorities = new Map<string, number>();
  // Whole-GPU gangs first (about a fifth of the GPUs), then partitions until 3 in 4 memory slots are taken.
  for (let j = 0; j < Math.max(1, Math.floor(opts.nodes / 6)); j++) {
    const ns = namespaces[j % namespaces.length] as string;
    const req: PlacementRequest = {
      id: `TrainingJob/${ns}/train-${j}`,
      topology: 'sameClique',
      members: [0, 1].map((rank) => ({ kind: 'whole' as const, key: `TrainingJob/${ns}/train-${j}/${rank}`, gpus: 8 })),
    };
    engine.place(req);
  }
  const target = opts.nodes * 8 * 8 * 0.55;
  let used = 0;
  for (let p = 0; used < target && p < opts.nodes * 40; p++) {
    const ns = pick(r, namespaces.map((n, i) => [n, namespaces.length - i] as [string, number]));
    const profile = pick(r, PROFILES);
    const count = 1 + Math.floor(r() * 3);
    const name = `${profile.split('.')[0]}-${p}`;
    const priority = r() < 0.2 ? 100 : 0;
    const res = engine.place({
      id: `GpuPartition/${ns}/${name}`,
      priority,
      members: [...Array(count).keys()].map((slot) => ({ kind: 'slice' as const, key: `GpuPartition/${ns}/${name}/${slot}`, profile })),
    });
    if (res.ok) {
      priorities.set(`${ns}/${name}`, priority);
      used += count * (Number(profile[0]) >= 7 ? 8 : Number(profile[0]) >= 3 ? 4 : profile.startsWith('1g.23') ? 1 : 2);
    }
  }
  const placed = engine.snapshot();
  return placed.nodes.map((n, i) => {
    const spec: TargetGpu[] = [];
    const real: RealisedGpu[] = [];
    for (const g of n.gpus) {
      const gpuUuid = `GPU-${uuidish(`${n.name}/${g.index}`)}`;
      // A few GPUs are still being carved: their newest slices are not realised yet.
      const realising = r() < 0.04;
      if (g.mode === 'whole') {
        spec.push({ index: g.index, mode: 'whole', slices: [], ...(g.holder ? { claim: claimOf(g.holder) } : {}) });
        real.push({ index: g.index, uuid: gpuUuid, mode: 'whole', health: 'Healthy', slices: [], deviceId: gpuUuid, inUse: g.holder !== undefined });
        continue;
      }
      spec.push({ index: g.index, mode: 'mig', slices: g.slices.map((s) => ({ profile: s.profile, start: s.start, ...(s.holder ? { claim: claimOf(s.holder) } : {}) })) });
      const slices = g.slices
        .filter((_, k) => !(realising && k === g.slices.length - 1))
        .map((s) => {
          const uuid = `MIG-${uuidish(`${n.name}/${g.index}/${s.start}`)}`;
          const inUse = s.holder !== undefined && r() < 0.7;
          const who = s.holder ? parseHolderKey(s.holder.key) : undefined;
          return { profile: s.profile, start: s.start, uuid, deviceId: uuid, inUse, ...(inUse && who ? { pod: { namespace: who.namespace, name: `${who.name}-${who.slot}` } } : {}) };
        });
      real.push({ index: g.index, uuid: gpuUuid, mode: 'mig', health: 'Healthy', slices });
    }
    const generation = 3;
    const finished = new Date((opts.now ?? Date.now()) - 30_000 - i * 47_000);
    return {
      apiVersion: API_VERSION,
      kind: 'GpuNode',
      metadata: { name: n.name, labels: { ...(opts.labels ?? {}) }, generation },
      spec: { gpus: spec },
      status: {
        observedGeneration: generation,
        inventory: { product: 'NVIDIA-B200', gpuCount: 8, memoryMiB: 184320, migCapable: true, clique: n.clique as string },
        gpus: real,
        conditions: [{ type: 'AgentReady', status: 'True', reason: 'Running', message: 'fixture', lastTransitionTime: finished.toISOString() }],
        lastReconfiguration: { generation, startedAt: new Date(finished.getTime() - 1800).toISOString(), finishedAt: finished.toISOString(), durationSeconds: 1.8 },
      },
    };
  });

  function claimOf(h: Holder): ClaimRef {
    const k = parseHolderKey(h.key);
    if (!k) throw new Error(`fixture: bad holder key ${h.key}`);
    const tenant = opts.tenants?.[k.namespace];
    // A hash, not the random stream: the fleet without tenants stays the same.
    const borrowed = tenant !== undefined && Number.parseInt(uuidish(`borrow/${k.namespace}/${k.name}`).slice(0, 8), 16) / 2 ** 32 < 1 / 8;
    return {
      ...k,
      uid: uuidish(`${k.kind}/${k.namespace}/${k.name}`),
      priority: priorities.get(`${k.namespace}/${k.name}`) ?? 0,
      preemptible: false,
      ...(tenant ? { tenant, allocatedAt: new Date((opts.now ?? Date.now()) - 3_600_000).toISOString(), ...(borrowed ? { borrowed: true } : {}) } : {}),
    };
  }
}

/**
 * The GpuTenants of a fleet built with `tenants`, all in cohort `fleet`, with the status the operator would
 * report: each uses what its claims hold, borrows what its borrowed claims hold, and the tenant `lender` has
 * nominal quota to spare and lends what the others borrow.
 */
export function fleetTenants(fleet: GpuNode[], tenants: Record<string, string>, lender = 'notebooks'): GpuTenant[] {
  const use = new Map<string, { used: number; borrowed: number; byProfile: Map<string, { slices: number; gpuEq: number }> }>();
  for (const gn of fleet) {
    for (const t of gn.spec?.gpus ?? []) {
      const held = t.mode === 'whole' ? [{ profile: undefined, claim: t.claim }] : t.slices;
      for (const { profile, claim } of held) {
        if (!claim?.tenant) continue;
        const u = use.get(claim.tenant) ?? { used: 0, borrowed: 0, byProfile: new Map() };
        const eq = gpuEquivalentsOf(profile);
        u.used += eq;
        if (claim.borrowed) u.borrowed += eq;
        const p = u.byProfile.get(accountingProfile(profile)) ?? { slices: 0, gpuEq: 0 };
        u.byProfile.set(accountingProfile(profile), { slices: p.slices + 1, gpuEq: p.gpuEq + eq });
        use.set(claim.tenant, u);
      }
    }
  }
  const lent = [...use.entries()].filter(([name]) => name !== lender).reduce((s, [, u]) => s + u.borrowed, 0);
  return [...new Set(Object.values(tenants))].sort().map((name): GpuTenant => {
    const u = use.get(name) ?? { used: 0, borrowed: 0, byProfile: new Map() };
    const nominal = name === lender ? Math.ceil(u.used + lent + 8) : roundGpuEq(u.used - u.borrowed);
    return {
      apiVersion: API_VERSION,
      kind: 'GpuTenant',
      metadata: { name, generation: 1 },
      spec: { namespaces: Object.keys(tenants).filter((ns) => tenants[ns] === name).sort(), nominal, cohort: 'fleet', ...(name === 'lab' ? { weight: 2 } : {}) },
      status: {
        observedGeneration: 1,
        namespaces: Object.keys(tenants).filter((ns) => tenants[ns] === name).sort(),
        used: roundGpuEq(u.used),
        borrowed: name === lender ? 0 : roundGpuEq(u.borrowed),
        lent: name === lender ? roundGpuEq(lent) : 0,
        waiting: 0,
        usageByProfile: [...u.byProfile].sort(([a], [b]) => a.localeCompare(b)).map(([profile, x]) => ({ profile, slices: x.slices, gpuEquivalents: roundGpuEq(x.gpuEq) })),
      },
    };
  });
}

/** A UUID-shaped string derived from `s`. */
function uuidish(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x1234567;
  for (let i = 0; i < s.length; i++) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ s.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  const hex = (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).repeat(2);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
