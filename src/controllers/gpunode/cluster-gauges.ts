/** Capacity figures over all GpuNodes for the slice and fragmentation gauges. Pure. */
import type { GpuNode } from '../../api/types.js';
import { MEMORY_SLOTS, findProfile, modelForProduct } from '../../placement/catalog.js';

/** Slices of one model and profile, by state. */
export interface SliceCount {
  model: string;
  profile: string;
  allocated: number;
  free: number;
}

/** Gauge values for the whole cluster. */
export interface ClusterGauges {
  slices: SliceCount[];
  /** Per model: the share of free memory slots that sit on partly used GPUs (0 = all free capacity is whole GPUs). */
  fragmentation: Map<string, number>;
}

/**
 * Counts target slices (claimed = allocated, unclaimed = free) per model and profile, and fragmentation: free
 * memory slots stranded on GPUs that already carry a claimed or busy slice, over all free slots.
 */
export function clusterGauges(gpuNodes: GpuNode[]): ClusterGauges {
  const slices = new Map<string, SliceCount>();
  const free = new Map<string, { stranded: number; total: number }>();
  for (const gn of gpuNodes) {
    const product = gn.status?.inventory?.product;
    if (!product) continue;
    const model = modelForProduct(product);
    const modelName = model?.product ?? product;
    const f = free.get(modelName) ?? { stranded: 0, total: 0 };
    free.set(modelName, f);
    const targets = new Map((gn.spec?.gpus ?? []).map((g) => [g.index, g]));
    for (const r of gn.status?.gpus ?? []) {
      if (r.health !== 'Healthy') continue;
      const t = targets.get(r.index);
      const mode = t?.mode ?? r.mode;
      if (mode === 'whole') {
        const busy = t?.claim !== undefined || r.inUse === true;
        if (!busy) f.total += MEMORY_SLOTS;
        continue;
      }
      const layout = t ? t.slices.map((s) => ({ profile: s.profile, claimed: s.claim !== undefined })) : r.slices.map((s) => ({ profile: s.profile, claimed: s.inUse }));
      let used = 0;
      let busy = false;
      for (const s of layout) {
        const key = `${modelName}/${s.profile}`;
        const c = slices.get(key) ?? { model: modelName, profile: s.profile, allocated: 0, free: 0 };
        if (s.claimed) c.allocated++;
        else c.free++;
        slices.set(key, c);
        if (s.claimed) {
          busy = true;
          used += (model ? findProfile(model, s.profile)?.memorySlots : undefined) ?? MEMORY_SLOTS;
        }
      }
      const freeSlots = Math.max(0, MEMORY_SLOTS - used);
      f.total += freeSlots;
      if (busy) f.stranded += freeSlots;
    }
  }
  const fragmentation = new Map([...free.entries()].map(([m, x]) => [m, x.total === 0 ? 0 : x.stranded / x.total]));
  return { slices: [...slices.values()].sort((a, b) => `${a.model}/${a.profile}`.localeCompare(`${b.model}/${b.profile}`)), fragmentation };
}
