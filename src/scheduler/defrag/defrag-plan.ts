/**
 * Defragmentation plans as the operator carries them out: which slices the planner must treat as untouchable,
 * whether a returned plan is safe, how its moves change the GpuNode ledger, and how to describe it. Pure: no
 * Kubernetes calls.
 */
import type { ClaimRef, GpuNode, TargetGpu, TargetSlice } from '../../api/types.js';
import { findProfile, modelForProduct, slotMask, validateLayout, type GpuModel } from '../../placement/catalog.js';
import type { ClusterSnapshot, DefragMove, DefragPlan, GpuLayout, PlacementRequest, SliceSnapshot } from '../../placement/types.js';
import { claimHolder, claimKey, parseHolderKey } from '../../ledger/claims.js';

/** The planner's entry point (`planDefrag` from `src/placement/defrag.ts`). */
export type PlanDefragFn = (snapshot: ClusterSnapshot, request: PlacementRequest) => DefragPlan;

/**
 * A copy of `snapshot` in which every slice the operator must not move is marked in use, so the planner plans
 * around it: slices of TrainingJobs (their pods are pinned to the node) and of partitions `busy` names (a pod is
 * admitted to them, or they are being moved already).
 */
export function protectSnapshot(snapshot: ClusterSnapshot, busy: (holderKey: string) => boolean): ClusterSnapshot {
  const out = structuredClone(snapshot);
  for (const node of out.nodes) {
    for (const gpu of node.gpus) {
      for (const s of gpu.slices) if (s.holder && !s.inUse && !movableHolder(s.holder.key, busy)) s.inUse = true;
      if (gpu.holder && !gpu.inUse && !movableHolder(gpu.holder.key, busy)) gpu.inUse = true;
    }
  }
  return out;
}

function movableHolder(key: string, busy: (holderKey: string) => boolean): boolean {
  return parseHolderKey(key)?.kind === 'GpuPartition' && !busy(key);
}

/**
 * Why `plan` must not be carried out, or undefined when it is safe: every move and destroy names an existing
 * slice that is not in use (in the protected snapshot), moves only partition claims, and preempts only what the
 * request may preempt (preemptible holders of strictly lower priority, with `mayPreempt`).
 */
export function unsafePlan(snapshot: ClusterSnapshot, request: PlacementRequest, moves: DefragMove[]): string | undefined {
  const priority = request.priority ?? 0;
  for (const m of moves) {
    const gpu = snapshot.nodes.find((n) => n.name === m.node)?.gpus.find((g) => g.index === m.gpuIndex);
    const slice = gpu?.slices.find((s) => s.start === m.start && s.profile === m.profile);
    const where = `${m.profile}@${m.start} on ${m.node} GPU ${m.gpuIndex}`;
    if (!slice) return `${m.action} names ${where}, which does not exist`;
    if (m.action === 'preempt') {
      if (!request.mayPreempt) return `preempting ${where} needs preemptionPolicy PreemptLowerPriority`;
      if (!slice.holder || (m.holderKey !== undefined && slice.holder.key !== m.holderKey)) return `preempt names ${where}, whose holder differs`;
      if (!slice.holder.preemptible || slice.holder.priority >= priority) return `${slice.holder.key} on ${where} may not be preempted at priority ${priority}`;
      continue;
    }
    if (slice.inUse) return `${m.action} would touch ${where}, which is in use`;
    if (m.action === 'destroy' && slice.holder) return `destroy names ${where}, which ${slice.holder.key} holds`;
    if (m.action === 'move') {
      if (!m.to) return `move of ${where} has no destination`;
      if (!slice.holder || (m.holderKey !== undefined && slice.holder.key !== m.holderKey)) return `move names ${where}, whose holder differs`;
      if (parseHolderKey(slice.holder.key)?.kind !== 'GpuPartition') return `move of ${where} would move ${slice.holder.key}, which is not a partition`;
      const dest = snapshot.nodes.find((n) => n.name === m.to?.node);
      const destGpu = dest?.gpus.find((g) => g.index === m.to?.gpuIndex);
      if (!dest || !destGpu || !destGpu.healthy) return `move of ${where} targets ${m.to.node} GPU ${m.to.gpuIndex}, which is not a healthy GPU`;
      if (destGpu.mode === 'whole' && (destGpu.holder || destGpu.inUse)) return `move of ${where} targets whole GPU ${m.to.node}/${m.to.gpuIndex}, which is held`;
      const model = modelForProduct(dest.product);
      const mask = rangeMask(model, m.profile, m.to.start);
      const busy = destGpu.slices.find((s) => s.inUse && (rangeMask(model, s.profile, s.start) & mask) !== 0);
      if (busy) return `move of ${where} targets ${m.to.node} GPU ${m.to.gpuIndex}@${m.to.start}, where ${busy.profile}@${busy.start} is in use`;
    }
  }
  return undefined;
}

/** A partition claim the plan moves, with where it was and where it goes. */
export interface MovedClaim {
  claim: ClaimRef;
  profile: string;
  from: { node: string; gpuIndex: number; start: number };
  to: { node: string; gpuIndex: number; start: number };
}

/** The ledger edits of a plan's moves and destroys (preemptions are released separately, as the engine's victims). */
export interface LedgerMoves {
  /** Complete target layouts of every GPU the moves change, holders by claim key. */
  layouts: GpuLayout[];
  moved: MovedClaim[];
}

/**
 * Applies the plan's moves and destroys to the ledger nodes: all removals first (a slice may move to where
 * another one was), then the moved slices at their destinations with their claims. Throws when the result
 * is not a legal layout on some GPU (overlap, illegal start), so a bad plan is never written.
 */
export function ledgerMoves(nodes: GpuNode[], moves: DefragMove[]): LedgerMoves {
  const byName = new Map(nodes.map((n) => [n.metadata.name as string, n]));
  const work = new Map<string, TargetGpu>();
  const gpuOf = (node: string, index: number): TargetGpu => {
    const id = `${node}/${index}`;
    let g = work.get(id);
    if (g) return g;
    const gn = byName.get(node);
    if (!gn) throw new Error(`defragmentation plan names GpuNode ${node}, which is not in the ledger`);
    const target = gn.spec?.gpus?.find((x) => x.index === index);
    const realised = gn.status?.gpus?.find((x) => x.index === index);
    // A GPU without a target keeps its realised layout: that is what the new target starts from.
    g = target
      ? structuredClone(target)
      : { index, mode: realised?.mode ?? 'mig', slices: (realised?.mode === 'mig' ? realised.slices : []).map((s) => ({ profile: s.profile, start: s.start })) };
    work.set(id, g);
    return g;
  };
  const moved: MovedClaim[] = [];
  for (const m of moves) {
    if (m.action === 'preempt') continue;
    const g = gpuOf(m.node, m.gpuIndex);
    const i = g.slices.findIndex((s) => s.start === m.start && s.profile === m.profile);
    if (i < 0) throw new Error(`defragmentation plan names ${m.profile}@${m.start} on ${m.node} GPU ${m.gpuIndex}, which the ledger does not have`);
    const [slice] = g.slices.splice(i, 1) as [TargetSlice];
    if (m.action === 'move') {
      if (!slice.claim || !m.to) throw new Error(`move of ${m.profile}@${m.start} on ${m.node} GPU ${m.gpuIndex} has no claim or destination`);
      moved.push({ claim: slice.claim, profile: m.profile, from: { node: m.node, gpuIndex: m.gpuIndex, start: m.start }, to: { ...m.to } });
    }
  }
  for (const mv of moved) {
    const g = gpuOf(mv.to.node, mv.to.gpuIndex);
    if (g.mode === 'whole') {
      if (g.claim) throw new Error(`move to ${mv.to.node} GPU ${mv.to.gpuIndex}, which is held whole`);
      g.mode = 'mig';
      g.slices = [];
    }
    const model = modelForProduct(byName.get(mv.to.node)?.status?.inventory?.product ?? '');
    const mask = rangeMask(model, mv.profile, mv.to.start);
    // Free carved slices in the way are destroyed, as the engine does when it places; claimed ones stay (and fail validation).
    g.slices = g.slices.filter((s) => s.claim !== undefined || (rangeMask(model, s.profile, s.start) & mask) === 0);
    g.slices.push({ profile: mv.profile, start: mv.to.start, claim: mv.claim });
  }
  const layouts: GpuLayout[] = [];
  for (const [id, g] of [...work.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    const node = id.slice(0, id.lastIndexOf('/'));
    g.slices.sort((a, b) => a.start - b.start);
    const model = modelForProduct(byName.get(node)?.status?.inventory?.product ?? '');
    const errors = model ? validateLayout(model, g.slices) : [];
    if (errors.length > 0) throw new Error(`defragmentation would leave an illegal layout on ${node} GPU ${g.index}: ${errors.join('; ')}`);
    layouts.push({
      node,
      gpuIndex: g.index,
      mode: g.mode,
      slices: g.slices.map((s): SliceSnapshot => ({ profile: s.profile, start: s.start, inUse: false, ...(s.claim ? { holder: claimHolder(s.claim) } : {}) })),
    });
  }
  return { layouts, moved };
}

/** The claims named in `layouts`, by claim key, from the ledger nodes (for `LedgerDraft.applyLayouts`). */
export function claimsByKey(nodes: GpuNode[]): Map<string, ClaimRef> {
  const out = new Map<string, ClaimRef>();
  for (const n of nodes) {
    for (const g of n.spec?.gpus ?? []) {
      if (g.claim) out.set(claimKey(g.claim), g.claim);
      for (const s of g.slices) if (s.claim) out.set(claimKey(s.claim), s.claim);
    }
  }
  return out;
}

/**
 * One sentence for the `Defragmenting` Event, e.g. `moving 2 idle slices on node-3 GPU 1 to make room for
 * 4g.90gb`: moves, destroys and preemptions grouped per source GPU.
 */
export function describePlan(moves: DefragMove[], wanted: string): string {
  const verbs: Array<[DefragMove['action'], string, string]> = [
    ['move', 'moving', 'idle'],
    ['destroy', 'removing', 'unclaimed'],
    ['preempt', 'preempting', 'lower-priority'],
  ];
  const parts: string[] = [];
  for (const [action, verb, adjective] of verbs) {
    const groups = new Map<string, number>();
    for (const m of moves.filter((x) => x.action === action)) {
      const k = `${m.node} GPU ${m.gpuIndex}`;
      groups.set(k, (groups.get(k) ?? 0) + 1);
    }
    for (const [where, n] of groups) parts.push(`${verb} ${n} ${adjective} slice${n === 1 ? '' : 's'} on ${where}`);
  }
  return `${parts.join(', ')} to make room for ${wanted}`;
}

/** Human label of a request's members, e.g. `4g.90gb` or `2 × 1g.23gb` (memory-sized members: `a slice of 40960 MiB`). */
export function describeWanted(request: PlacementRequest): string {
  const labels = request.members.map((m) =>
    m.kind === 'whole' ? `${m.gpus} whole GPU${m.gpus === 1 ? '' : 's'}` : (m.profile ?? `a slice of ${m.memoryMiB ?? '?'} MiB${m.computeSlices ? `/${m.computeSlices}g` : ''}`),
  );
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts.entries()].map(([l, n]) => (n === 1 ? l : `${n} × ${l}`)).join(' + ');
}

// Memory-slot mask of a slice; an unknown profile or model counts as the whole GPU so overlap checks err safe.
function rangeMask(model: GpuModel | undefined, profile: string, start: number): number {
  const p = model ? findProfile(model, profile) : undefined;
  return p ? slotMask(p, start) : 0xff;
}
