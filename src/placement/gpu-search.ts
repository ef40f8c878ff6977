/**
 * GPU-level search and scoring: where one member could go, and how good each spot is.
 *
 * Every option gets a key (lower is better) compared field by field:
 *   victims (count, highest priority, total priority) — only non-zero when preempting;
 *   tier — 0 reuse a carved free slice on a busy GPU, 1 carve on a busy GPU, 2 open an idle GPU,
 *   3 carve on a busy GPU in a way that strands compute (e.g. 3g beside 3g leaves a compute slice no
 *   memory can reach: better to open an idle GPU and keep the hole for the small slices that fill it),
 *   unless many GPUs are already open (then the holes are not being filled and stranding is cheaper);
 *   for tier 2 only: whether the node is entirely idle, then the clique's idle GPUs (open GPUs on partly
 *   used nodes in busy cliques, keep idle nodes and cliques whole for gangs);
 *   reuse first, mode switch last, potential loss (fragmentation), free slots left (best fit),
 *   carved slots destroyed, node/clique idleness, then snapshot order (determinism).
 */
import { COMPUTE_SLICES, slotMask, type GpuModel, type MigProfile } from './catalog.js';
import { bestStartsFor, popcount, tablesFor } from './geometry.js';
import { isVictim, victimCost, type PreemptionPolicy } from './preemption.js';
import type { MemberPlan } from './request.js';
import type { GpuState, NodeState, PlacementState } from './state.js';

/** Length of an option key. */
export const KEY_LEN = 16;
const V_COUNT = 0;
const V_MAX = 1;
const V_SUM = 2;
const TIER = 3;
const T2_NODE = 4;
const T2_CLIQUE = 5;
const REUSE = 6;
const SWITCH = 7;
const LOSS = 8;
const FREE = 9;
const DESTROY = 10;
const NODE_IDLE = 11;
const CLIQUE_IDLE = 12;
const NODE = 13;
const GPU = 14;
const START = 15;

/** How many open (partly filled) GPUs make stranding compute preferable to opening another GPU. */
export function openLimit(state: PlacementState): number {
  return Math.max(4, state.gpus.length >> 6);
}

/** A place for one slice. */
export interface SliceChoice {
  gpu: GpuState;
  profile: MigProfile;
  start: number;
  /** The carved free slice at `start` is taken as it is. */
  reuse: boolean;
  key: Float64Array;
}

/** A set of GPUs on one node for a whole-GPU member. */
export interface WholeChoice {
  node: NodeState;
  gpus: GpuState[];
  key: Float64Array;
}

/** Lexicographic comparison of two keys. */
export function compareKeys(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

/** Where a slice member may be searched: candidate nodes, minus excluded node indices (spread). */
export interface Scope {
  nodes: NodeState[];
  exclude?: Uint8Array;
}

/**
 * Scores `profile` at `start` on `gpu` into `out`. Returns false when the spot is not available: overlaps
 * a slice that is in use or held by someone who may not be displaced, or breaks a per-GPU maximum.
 */
export function scoreSlice(
  state: PlacementState,
  policy: PreemptionPolicy,
  gpu: GpuState,
  profile: MigProfile,
  start: number,
  reuse: boolean,
  out: Float64Array,
): boolean {
  const node = gpu.node;
  const m = slotMask(profile, start);
  let base = gpu.hard;
  let destroyed = 0;
  let victims: number[] | undefined;
  if (gpu.mode === 'whole') {
    if (gpu.holder || gpu.inUse) {
      if (!isVictim(policy, gpu.holder)) return false;
      victims = [gpu.holder.priority];
    }
    base = 0;
  } else if (reuse) {
    // The caller found a free carved slice with this profile at `start`.
  } else if (policy.below === undefined && !profile.mediaExtensions) {
    if ((m & gpu.hard) !== 0) return false;
    destroyed = popcount(m & gpu.soft);
  } else {
    // Slow path: look at the individual slices (victims, +me limit).
    const r = slowCheck(policy, gpu, profile, m);
    if (!r) return false;
    base = r.base;
    destroyed = r.destroyed;
    victims = r.victims;
  }
  const t = tablesFor(node.model as NonNullable<NodeState['model']>);
  const idle = state.isIdle(gpu);
  let tier = idle ? 2 : reuse ? 0 : 1;
  if (tier === 1 && state.open < openLimit(state) && COMPUTE_SLICES - gpu.hardCompute - profile.computeSlices > t.fill[base | m]) tier = 3;
  const clique = state.groups[node.cliqueIdx].idle;
  const [vc, vm, vs] = victims ? victimCost(victims) : [0, -Infinity, 0];
  out[V_COUNT] = vc;
  out[V_MAX] = vm;
  out[V_SUM] = vs;
  out[TIER] = tier;
  out[T2_NODE] = tier === 2 ? (node.idle === node.healthy ? 1 : 0) : 0;
  out[T2_CLIQUE] = tier === 2 ? clique : 0;
  out[REUSE] = reuse ? 0 : 1;
  out[SWITCH] = gpu.mode === 'whole' ? 1 : 0;
  out[LOSS] = t.potential[base] - t.potential[base | m];
  out[FREE] = t.free[base | m];
  out[DESTROY] = destroyed;
  out[NODE_IDLE] = node.idle;
  out[CLIQUE_IDLE] = clique;
  out[NODE] = node.idx;
  out[GPU] = gpu.index;
  out[START] = -start;
  return true;
}

// Which slices a carve at mask `m` displaces; undefined when one of them must stay.
function slowCheck(
  policy: PreemptionPolicy,
  gpu: GpuState,
  profile: MigProfile,
  m: number,
): { base: number; destroyed: number; victims: number[] } | undefined {
  let base = gpu.hard;
  let destroyed = 0;
  const victims: number[] = [];
  let same = 0;
  for (const s of gpu.slices) {
    const p = gpu.node.model?.profiles.find((x) => x.name === s.profile);
    if (!p) return undefined;
    const sm = slotMask(p, s.start);
    const overlaps = (sm & m) !== 0;
    const limited = profile.mediaExtensions && p.mediaExtensions;
    if (!overlaps && !limited) {
      if (p.name === profile.name) same++;
      continue;
    }
    if (!s.holder && !s.inUse) {
      destroyed += popcount(sm);
    } else if (isVictim(policy, s.holder)) {
      victims.push(s.holder.priority);
      base &= ~sm;
    } else {
      return undefined;
    }
  }
  if (same + 1 > profile.maxPerGpu) return undefined;
  return { base, destroyed, victims };
}

/** The free carved slice of `profile` at `start` on `gpu`, if there is one. */
function freeCarved(gpu: GpuState, profile: MigProfile, start: number): boolean {
  return gpu.softAt[start] === profile.name;
}

/** True when `gpu` can take a new slice at all (healthy, understood, MIG-capable). */
function sliceCapable(gpu: GpuState): boolean {
  return gpu.healthy && !gpu.broken && gpu.node.model?.migCapable === true;
}

/** Best spot for a slice member in `scope`, or undefined. O(GPUs in scope). */
export function bestSlice(state: PlacementState, policy: PreemptionPolicy, member: MemberPlan, scope: Scope): SliceChoice | undefined {
  const cand = new Float64Array(KEY_LEN);
  let best: Float64Array | undefined;
  let bestGpu: GpuState | undefined;
  let bestProfile: MigProfile | undefined;
  let bestStart = 0;
  let bestReuse = false;
  const pruning = policy.below === undefined;
  // Clusters are mostly one model: resolve the profile once per model change, not once per node.
  let lastModel: NodeState['model'] | null = null;
  let profile: MigProfile | undefined;
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    if (node.model !== lastModel) {
      lastModel = node.model;
      profile = member.profileOn(node.model);
    }
    if (!profile) continue;
    if (pruning) {
      // Without victims only open GPUs (tiers 0, 1, 3) and idle ones (tier 2) can take a slice.
      if (node.open === 0 && (node.idle === 0 || (best !== undefined && best[TIER] < 2))) continue;
    }
    for (const gpu of node.gpus) {
      if (!sliceCapable(gpu)) continue;
      if (pruning && best) {
        // Without victims the tier is the first field that differs, and it does not depend on the start.
        const idle = state.isIdle(gpu);
        const minTier = idle ? 2 : gpu.soft !== 0 ? 0 : 1; // tier 3 is only reached from 1
        if (minTier > best[TIER]) continue;
        if (!idle && gpu.mode === 'whole') continue;
        // A busy GPU without free carved slices: its best carve loses at least this much potential.
        if (!idle && gpu.soft === 0 && best[TIER] === 1 && best[REUSE] === 1) {
          const starts = bestStartsFor(node.model as GpuModel, profile)[gpu.hard];
          if (starts.length === 0) continue;
          const t = tablesFor(node.model as GpuModel);
          const m = slotMask(profile, starts[0]);
          if (t.potential[gpu.hard] - t.potential[gpu.hard | m] > best[LOSS]) continue;
        }
      }
      // Fast path: only the starts that can win on this GPU, plus free carved slices to reuse.
      const fast = pruning && gpu.mode === 'mig' && !profile.mediaExtensions;
      const starts = fast ? bestStartsFor(node.model as GpuModel, profile)[gpu.hard] : profile.starts;
      for (let k = 0, n = starts.length + (fast && gpu.soft !== 0 ? profile.starts.length : 0); k < n; k++) {
        let start: number;
        let reuse: boolean;
        if (k < starts.length) {
          start = starts[k];
          reuse = (gpu.soft & slotMask(profile, start)) !== 0 && freeCarved(gpu, profile, start);
          if (fast && reuse) continue; // scored by the reuse pass below
        } else {
          start = profile.starts[k - starts.length];
          if (!freeCarved(gpu, profile, start)) continue;
          reuse = true;
        }
        if (!scoreSlice(state, policy, gpu, profile, start, reuse, cand)) continue;
        if (!best || compareKeys(cand, best) < 0) {
          best = best ?? new Float64Array(KEY_LEN);
          best.set(cand);
          bestGpu = gpu;
          bestProfile = profile;
          bestStart = start;
          bestReuse = reuse;
        }
      }
    }
  }
  if (!best || !bestGpu || !bestProfile) return undefined;
  return { gpu: bestGpu, profile: bestProfile, start: bestStart, reuse: bestReuse, key: best };
}

/** Every spot for a slice member in `scope`, best first (for exhaustive search and defragmentation). */
export function allSlices(state: PlacementState, policy: PreemptionPolicy, member: MemberPlan, scope: Scope): SliceChoice[] {
  const out: SliceChoice[] = [];
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    const profile = member.profileOn(node.model);
    if (!profile) continue;
    for (const gpu of node.gpus) {
      if (!sliceCapable(gpu)) continue;
      for (const start of profile.starts) {
        const key = new Float64Array(KEY_LEN);
        const reuse = (gpu.soft & slotMask(profile, start)) !== 0 && freeCarved(gpu, profile, start);
        if (scoreSlice(state, policy, gpu, profile, start, reuse, key)) out.push({ gpu, profile, start, reuse, key });
        // A carve over the same free slice is never better than reusing it, but both are distinct outcomes.
      }
    }
  }
  return out.sort((a, b) => compareKeys(a.key, b.key));
}

interface WholeCandidate {
  gpu: GpuState;
  victims: number[];
  switches: number;
  destroyed: number;
}

// GPUs of `node` that could be handed out whole, each with what it costs.
function wholeCandidates(state: PlacementState, policy: PreemptionPolicy, node: NodeState): WholeCandidate[] {
  const out: WholeCandidate[] = [];
  for (const gpu of node.gpus) {
    if (!gpu.healthy || gpu.broken) continue;
    if (gpu.mode === 'mig' && !node.model?.migCapable) continue;
    const switches = gpu.mode === 'mig' ? 1 : 0;
    if (state.isIdle(gpu)) {
      out.push({ gpu, victims: [], switches, destroyed: gpu.slices.length });
      continue;
    }
    if (policy.below === undefined) continue;
    const victims: number[] = [];
    let ok = !(gpu.inUse && !gpu.holder);
    if (gpu.holder) {
      if (isVictim(policy, gpu.holder)) victims.push(gpu.holder.priority);
      else ok = false;
    }
    for (const s of gpu.slices) {
      if (!s.holder) {
        if (s.inUse) ok = false;
      } else if (isVictim(policy, s.holder)) {
        victims.push(s.holder.priority);
      } else {
        ok = false;
      }
    }
    if (ok) out.push({ gpu, victims, switches, destroyed: gpu.slices.length - victims.length });
  }
  return out.sort((a, b) => compareKeys(candKey(a), candKey(b)));
}

function candKey(c: WholeCandidate): number[] {
  return [...victimCost(c.victims), c.switches, c.destroyed, c.gpu.index];
}

function wholeKey(state: PlacementState, node: NodeState, chosen: WholeCandidate[], available: number): Float64Array {
  const key = new Float64Array(8);
  const [vc, vm, vs] = victimCost(chosen.flatMap((c) => c.victims));
  key.set([vc, vm, vs, available, chosen.reduce((s, c) => s + c.switches, 0), chosen.reduce((s, c) => s + c.destroyed, 0),
    state.groups[node.cliqueIdx].idle, node.idx]);
  return key;
}

/**
 * Best node and GPUs for a whole-GPU member: fewest victims, then best fit (the node with the fewest
 * available GPUs that still suffices), fewest mode switches, then the busiest clique. O(GPUs in scope).
 */
export function bestWhole(state: PlacementState, policy: PreemptionPolicy, member: MemberPlan, scope: Scope): WholeChoice | undefined {
  let best: WholeChoice | undefined;
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    if (policy.below === undefined && node.idle < member.gpus) continue;
    const cands = wholeCandidates(state, policy, node);
    if (cands.length < member.gpus) continue;
    const chosen = cands.slice(0, member.gpus);
    const key = wholeKey(state, node, chosen, cands.length);
    if (!best || compareKeys(key, best.key) < 0) best = { node, gpus: chosen.map((c) => c.gpu).sort((a, b) => a.index - b.index), key };
  }
  return best;
}

/** Every node/GPU-set option for a whole-GPU member, best first; GPU subsets enumerated while few. */
export function allWholes(state: PlacementState, policy: PreemptionPolicy, member: MemberPlan, scope: Scope): WholeChoice[] {
  const out: WholeChoice[] = [];
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    const cands = wholeCandidates(state, policy, node);
    if (cands.length < member.gpus) continue;
    for (const chosen of subsets(cands, member.gpus, 64)) {
      out.push({ node, gpus: chosen.map((c) => c.gpu).sort((a, b) => a.index - b.index), key: wholeKey(state, node, chosen, cands.length) });
    }
  }
  return out.sort((a, b) => compareKeys(a.key, b.key));
}

// The k-subsets of `items` in order, at most `limit` of them (the first is always the cheapest prefix).
function subsets<T>(items: T[], k: number, limit: number): T[][] {
  const out: T[][] = [];
  const pick: T[] = [];
  const walk = (from: number): void => {
    if (out.length >= limit) return;
    if (pick.length === k) {
      out.push([...pick]);
      return;
    }
    for (let i = from; i <= items.length - (k - pick.length); i++) {
      pick.push(items[i]);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
  return out;
}
