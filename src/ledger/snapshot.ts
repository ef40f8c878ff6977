/**
 * Builds the placement engine's `ClusterSnapshot` from GpuNode objects (spec = target layout and claims, status
 * = realised slices, usage, health, inventory) and core Node objects (labels, cordon, readiness). Pure.
 */
import type { GpuNode, RealisedGpu, TargetGpu } from '../api/types.js';
import type { ClusterSnapshot, GpuSnapshot, NodeSnapshot, SliceSnapshot } from '../placement/types.js';
import { memorySlotsOf } from '../placement/catalog.js';
import { claimHolder } from './claims.js';

/** The fields of a core/v1 Node the snapshot reads. */
export interface NodeObject {
  metadata: { name?: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** True when the Node exists, is not cordoned and reports Ready=True. */
export function nodeSchedulable(node: NodeObject | undefined): boolean {
  if (!node) return false;
  if (node.spec?.unschedulable) return false;
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Snapshot of every GpuNode whose agent has reported an inventory. `nodes` looks up the Node of the same name.
 * A GpuNode whose agent is not ready, or whose Node is missing or not schedulable, keeps its slices but gets
 * nothing new.
 */
export function buildSnapshot(gpuNodes: GpuNode[], nodes: (name: string) => NodeObject | undefined): ClusterSnapshot {
  const out: NodeSnapshot[] = [];
  for (const gn of [...gpuNodes].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
    const inventory = gn.status?.inventory;
    const name = gn.metadata.name;
    if (!inventory || !name) continue;
    const node = nodes(name);
    const agentReady = !(gn.status?.conditions ?? []).some((c) => c.type === 'AgentReady' && c.status === 'False');
    const labels = { ...(gn.metadata.labels ?? {}), ...(node?.metadata.labels ?? {}) };
    const clique = inventory.clique ?? labels['nvidia.com/gpu.clique'];
    out.push({
      name,
      product: inventory.product,
      ...(clique ? { clique } : {}),
      labels,
      schedulable: agentReady && nodeSchedulable(node),
      gpus: gpuSnapshots(gn, inventory.product),
    });
  }
  return { nodes: out };
}

// A Node that is schedulable: the core Node's part of placement is watched separately (`nodePlacementChanged`).
const SCHEDULABLE_NODE: NodeObject = { metadata: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };

/**
 * What placement sees of one GpuNode (its snapshot, its core Node taken as schedulable), as a string: equal
 * views mean a change of the object (a realised slice, a heartbeat) cannot change any placement decision.
 */
export function placementView(gn: GpuNode): string {
  return JSON.stringify(buildSnapshot([gn], () => SCHEDULABLE_NODE).nodes);
}

/** Per-GPU union of target and realised layouts. */
function gpuSnapshots(gn: GpuNode, product: string): GpuSnapshot[] {
  const slots = memorySlotsOf(product);
  const realised = new Map((gn.status?.gpus ?? []).map((g) => [g.index, g]));
  const target = new Map((gn.spec?.gpus ?? []).map((g) => [g.index, g]));
  const indices = [...new Set([...realised.keys(), ...target.keys()])].sort((a, b) => a - b);
  return indices.map((index) => gpuSnapshot(index, target.get(index), realised.get(index), slots));
}

function gpuSnapshot(index: number, t: TargetGpu | undefined, r: RealisedGpu | undefined, slots: (profile: string) => number): GpuSnapshot {
  const healthy = r ? r.health === 'Healthy' : true;
  if (!t) {
    // No target yet: the realised layout is all there is, unclaimed.
    if (!r) return { index, mode: 'mig', healthy, slices: [] };
    if (r.mode === 'whole') return { index, mode: 'whole', healthy, slices: [], inUse: r.inUse ?? false };
    return { index, mode: 'mig', healthy, slices: r.slices.map((s) => ({ profile: s.profile, start: s.start, inUse: s.inUse })) };
  }
  const realisedBusy = r ? (r.mode === 'whole' ? r.inUse === true : r.slices.some((s) => s.inUse)) : false;
  if (t.mode === 'whole') {
    // A pending switch to whole mode while MIG slices are still busy: busy as a whole, so the engine leaves it alone.
    const inUse = realisedBusy;
    return { index, mode: 'whole', healthy, slices: [], ...(t.claim ? { holder: claimHolder(t.claim) } : {}), inUse };
  }
  if (r?.mode === 'whole' && r.inUse) {
    // Target wants MIG but the whole GPU is still in use: freeze it (no new placements) until it is released.
    return { index, mode: 'mig', healthy: false, slices: targetSlices(t, undefined) };
  }
  const slices = targetSlices(t, r);
  // A realised in-use slice the target dropped is still physically there: keep it untouchable.
  const extra = (r?.mode === 'mig' ? r.slices : []).filter(
    (s) => s.inUse && !slices.some((x) => x.profile === s.profile && x.start === s.start),
  );
  if (extra.length > 0) {
    const overlaps = extra.some((e) => slices.some((s) => rangesOverlap(s, e, slots)));
    const merged = [...slices, ...extra.map((s) => ({ profile: s.profile, start: s.start, inUse: true }))];
    merged.sort((a, b) => a.start - b.start);
    // Overlapping target and busy realised slices cannot both exist: freeze the GPU rather than guess.
    return { index, mode: 'mig', healthy: healthy && !overlaps, slices: overlaps ? slices : merged };
  }
  return { index, mode: 'mig', healthy, slices };
}

function targetSlices(t: TargetGpu, r: RealisedGpu | undefined): SliceSnapshot[] {
  return [...t.slices]
    .sort((a, b) => a.start - b.start)
    .map((s) => {
      const real = r?.mode === 'mig' ? r.slices.find((x) => x.profile === s.profile && x.start === s.start) : undefined;
      return { profile: s.profile, start: s.start, inUse: real?.inUse ?? false, ...(s.claim ? { holder: claimHolder(s.claim) } : {}) };
    });
}

function rangesOverlap(a: { profile: string; start: number }, b: { profile: string; start: number }, slots: (profile: string) => number): boolean {
  const aEnd = a.start + slots(a.profile);
  const bEnd = b.start + slots(b.profile);
  return a.start < bEnd && b.start < aEnd;
}
