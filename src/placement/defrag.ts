/**
 * Defragmentation planning: when a request does not fit, find the fewest moves of claimed-but-idle slices
 * (held, not in use) — and, when the request may preempt, preemptions of lower-priority holders — after
 * which it does. The plan is advice: the operator carries the moves out (re-pointing claims, the node agent
 * re-carving) and then writes the returned placement.
 *
 * Algorithm, per topology group (the same groups `place` tries), member by member, largest first:
 * 1. if the member fits as things are, place it (no move);
 * 2. otherwise rank every spot it could take (slice: GPU × legal start; whole: node × cheapest GPUs) by
 *    the number of slices in the way, cheapest first, and take the first spot whose displaced slices can
 *    all be re-placed elsewhere (by the normal scorer, on the same node unless `crossNode`, which emptying
 *    a whole node needs); in-use or unmovable slices in the way can only be preempted.
 * The group needing the fewest moves wins. Cost: O(spots × blockers × GPUs in the move scope).
 */
import { slotMask, type GpuModel, type MigProfile } from './catalog.js';
import { placeOn } from './engine.js';
import { restrict, topologyGroups, type MemberPlacement } from './gang.js';
import { applySlice, applyWhole } from './apply.js';
import { bestSlice, bestWhole, compareKeys, scoreSlice, KEY_LEN, type Scope } from './gpu-search.js';
import { isVictim, NO_PREEMPTION, type PreemptionPolicy } from './preemption.js';
import { planRequest, type MemberPlan, type RequestPlan } from './request.js';
import { assignmentsOf, layoutsSince, sortVictims } from './result.js';
import { PlacementState, type GpuState, type NodeState } from './state.js';
import type { ClusterSnapshot, DefragMove, DefragPlan, Holder, PlacementRequest, SliceSnapshot, Victim } from './types.js';

/** Options of {@link planDefrag}. */
export interface DefragOptions {
  /** Most moves a plan may contain (default 8). */
  maxMoves?: number;
  /**
   * Allow moving a slice to another node with the same GPU model (default false: slices move only between
   * GPUs of their node, which keeps the holder's node selector and clique valid).
   */
  crossNode?: boolean;
}

interface Blocker {
  slice: SliceSnapshot & { holder: Holder };
  gpu: GpuState;
  action: 'move' | 'preempt';
}

interface GroupPlan {
  /** Claim keys already moved by this plan: never moved twice (a move names a slice of the snapshot). */
  moved: Set<string>;
  moves: DefragMove[];
  victims: Victim[];
  placements: MemberPlacement[];
}

/** One member's search for a spot: the plan so far and what it may still spend. */
interface MemberSearch {
  state: PlacementState;
  policy: PreemptionPolicy;
  scope: Scope;
  /** Moves the member may still add. */
  budget: number;
  crossNode: boolean;
  out: GroupPlan;
}

/** Proposes the fewest moves after which `request` fits on `snapshot`. */
export function planDefrag(snapshot: ClusterSnapshot, request: PlacementRequest, options: DefragOptions = {}): DefragPlan {
  let state: PlacementState;
  try {
    state = new PlacementState(snapshot);
  } catch (err) {
    return { ok: false, message: `malformed cluster snapshot: ${(err as Error).message}` };
  }
  const direct = placeOn(state, request);
  if (direct.ok) return { ok: true, moves: [], placement: direct };
  const plan = planRequest(state, request);
  if ('ok' in plan) return { ok: false, message: plan.message };
  if (plan.eligible.some((e) => e.length === 0)) return { ok: false, message: direct.message };

  const maxMoves = options.maxMoves ?? 8;
  const policy: PreemptionPolicy = plan.mayPreempt ? { below: plan.priority } : NO_PREEMPTION;
  const mark = state.mark();
  let best: { cost: number; result: Extract<DefragPlan, { ok: true }> } | undefined;
  for (const group of topologyGroups(state, plan)) {
    const scopes = plan.members.map((_, i) => (group.unit === 'cluster' ? plan.eligible[i] : restrict(state, plan.eligible[i], group.nodes)));
    const g = planGroup(state, plan, policy, scopes, maxMoves, options.crossNode === true);
    if (g && (!best || g.moves.length < best.cost)) {
      best = {
        cost: g.moves.length,
        result: {
          ok: true,
          moves: g.moves,
          placement: { ok: true, assignments: assignmentsOf(g.placements), layouts: layoutsSince(state, mark), victims: sortVictims(g.victims) },
        },
      };
    }
    state.rollback(mark);
    if (best && best.cost <= 1) break;
  }
  if (!best) return { ok: false, message: `${direct.message}; no plan of at most ${maxMoves} moves makes room` };
  return best.result;
}

function planGroup(
  state: PlacementState,
  plan: RequestPlan,
  policy: PreemptionPolicy,
  scopes: NodeState[][],
  maxMoves: number,
  crossNode: boolean,
): GroupPlan | undefined {
  const out: GroupPlan = { moved: new Set(), moves: [], victims: [], placements: [] };
  const used = plan.topology === 'spread' ? new Uint8Array(state.nodes.length) : undefined;
  for (const [i, member] of plan.members.entries()) {
    const scope: Scope = { nodes: scopes[i], exclude: used };
    const budget = maxMoves - out.moves.length;
    const search: MemberSearch = { state, policy, scope, budget, crossNode, out };
    const placed = member.gpus > 0 ? wholeWithMoves(search, member) : sliceWithMoves(search, member);
    if (!placed) return undefined;
    if (used) used[placed.node.idx] = 1;
    out.placements.push(placed);
  }
  return out;
}

// Slices in the way of `profile` at mask `m` on `gpu`; undefined when one can be neither moved nor preempted.
function blockersAt(
  policy: PreemptionPolicy,
  gpu: GpuState,
  profile: MigProfile,
  m: number,
  profileOf: (n: string) => MigProfile | undefined,
  moved: Set<string>,
): Blocker[] | undefined {
  const out: Blocker[] = [];
  for (const s of gpu.slices) {
    const p = profileOf(s.profile);
    if (!p) return undefined;
    const inWay = (slotMask(p, s.start) & m) !== 0 || (profile.mediaExtensions && p.mediaExtensions);
    if (!inWay || (!s.holder && !s.inUse)) continue;
    if (s.holder && moved.has(s.holder.key)) return undefined;
    if (s.holder && !s.inUse) out.push({ slice: { ...s, holder: s.holder }, gpu, action: 'move' });
    else if (isVictim(policy, s.holder)) out.push({ slice: { ...s, holder: s.holder }, gpu, action: 'preempt' });
    else return undefined;
  }
  return out;
}

function sliceWithMoves(search: MemberSearch, member: MemberPlan): MemberPlacement | undefined {
  const { state, policy, scope, budget, out } = search;
  const direct = bestSlice(state, policy, member, scope);
  if (direct) {
    out.victims.push(...applySlice(state, policy, direct.gpu, direct.profile, direct.start, member.holder));
    return { plan: member, node: direct.gpu.node, gpus: [direct.gpu], profile: direct.profile, start: direct.start };
  }
  const spots: Array<{ gpu: GpuState; profile: MigProfile; start: number; blockers: Blocker[]; key: number[] }> = [];
  const scratch = new Float64Array(KEY_LEN);
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    const profile = member.profileOn(node.model);
    if (!profile) continue;
    for (const gpu of node.gpus) {
      if (!gpu.healthy || gpu.broken || gpu.mode !== 'mig') continue;
      for (const start of profile.starts) {
        const blockers = blockersAt(policy, gpu, profile, slotMask(profile, start), (n) => state.profileOf(node.model, n), out.moved);
        if (!blockers || blockers.length === 0 || blockers.length > budget) continue;
        const preempts = blockers.filter((b) => b.action === 'preempt').length;
        // Rank equal-cost spots by how the normal scorer would see them once emptied.
        const emptied = { ...gpu, hard: gpu.hard & ~blockers.reduce((mask, b) => mask | sliceMask(state, b), 0) } as GpuState;
        const scored = scoreSlice(state, NO_PREEMPTION, emptied, profile, start, false, scratch);
        spots.push({ gpu, profile, start, blockers, key: [blockers.length, preempts, ...(scored ? scratch : [Infinity])] });
      }
    }
  }
  spots.sort((a, b) => compareKeys(a.key, b.key));
  const spot = firstRelocatable(search, spots.slice(0, 2000), (sp) => {
    clearAndPlace(state, sp.gpu, sp.profile, sp.start, member.holder, sp.blockers);
    return sp.blockers;
  });
  return spot && { plan: member, node: spot.gpu.node, gpus: [spot.gpu], profile: spot.profile, start: spot.start };
}

/**
 * Tries the candidate spots in order: `take` clears one for the member and returns the slices it displaced;
 * the first spot whose displaced slices can all be re-placed is kept and its moves, preemptions and victims
 * are added to the plan. A spot that does not work out is rolled back.
 */
function firstRelocatable<C>(search: MemberSearch, candidates: C[], take: (candidate: C) => Blocker[]): C | undefined {
  const { state, crossNode, out } = search;
  for (const candidate of candidates) {
    const mark = state.mark();
    const blockers = take(candidate);
    const moves = relocate(state, blockers, crossNode);
    if (moves) {
      for (const mv of moves) if (mv.holderKey) out.moved.add(mv.holderKey);
      const preempted = blockers.filter((b) => b.action === 'preempt');
      out.moves.push(...moves, ...preempted.map((b) => preemptMove(b)));
      out.victims.push(...preempted.map((b) => victimOf(b)));
      return candidate;
    }
    state.rollback(mark);
  }
  return undefined;
}

function sliceMask(state: PlacementState, b: Blocker): number {
  const p = state.profileOf(b.gpu.node.model, b.slice.profile);
  return p ? slotMask(p, b.slice.start) : 0;
}

// Removes the blockers, destroys free carved slices in the way and carves the member's slice.
function clearAndPlace(state: PlacementState, gpu: GpuState, profile: MigProfile, start: number, holder: Holder, blockers: Blocker[]): void {
  const gone = new Set(blockers.map((b) => b.slice.start));
  state.setGpu(gpu, { mode: gpu.mode, slices: gpu.slices.filter((s) => !gone.has(s.start) || !s.holder), holder: gpu.holder, inUse: gpu.inUse });
  // What is still in the way now is free carved space, which the normal apply destroys.
  applySlice(state, NO_PREEMPTION, gpu, profile, start, holder);
}

// The victim a preempted blocker becomes.
function victimOf(b: Blocker): Victim {
  return { holderKey: b.slice.holder.key, node: b.gpu.node.name, gpuIndex: b.gpu.index, profile: b.slice.profile, start: b.slice.start, priority: b.slice.holder.priority };
}

function preemptMove(b: Blocker): DefragMove {
  return { action: 'preempt', holderKey: b.slice.holder.key, node: b.gpu.node.name, gpuIndex: b.gpu.index, profile: b.slice.profile, start: b.slice.start };
}

// Re-places every moved blocker with the normal scorer; undefined when one has nowhere to go.
function relocate(state: PlacementState, blockers: Blocker[], crossNode: boolean): DefragMove[] | undefined {
  const moves: DefragMove[] = [];
  for (const b of blockers) {
    if (b.action !== 'move') continue;
    const model = b.gpu.node.model as GpuModel;
    const profile = state.profileOf(model, b.slice.profile) as MigProfile;
    const nodes = crossNode ? state.nodes.filter((n) => n.schedulable && n.model === model) : [b.gpu.node];
    const mover: MemberPlan = {
      member: { kind: 'slice', key: b.slice.holder.key, profile: profile.name },
      order: 0,
      holder: b.slice.holder,
      gpus: 0,
      profileOn: (m) => (m === model ? profile : undefined),
      label: profile.name,
    };
    const to = bestSlice(state, NO_PREEMPTION, mover, { nodes });
    if (!to) return undefined;
    applySlice(state, NO_PREEMPTION, to.gpu, to.profile, to.start, b.slice.holder);
    moves.push({
      action: 'move',
      holderKey: b.slice.holder.key,
      node: b.gpu.node.name,
      gpuIndex: b.gpu.index,
      profile: b.slice.profile,
      start: b.slice.start,
      to: { node: to.gpu.node.name, gpuIndex: to.gpu.index, start: to.start },
    });
  }
  return moves;
}

function wholeWithMoves(search: MemberSearch, member: MemberPlan): MemberPlacement | undefined {
  const { state, policy, scope, budget, out } = search;
  const direct = bestWhole(state, policy, member, scope);
  if (direct) {
    out.victims.push(...applyWhole(state, policy, direct.gpus, member.holder));
    return { plan: member, node: direct.node, gpus: direct.gpus };
  }
  const options: Array<{ node: NodeState; gpus: Array<{ gpu: GpuState; blockers: Blocker[] }>; cost: number }> = [];
  for (const node of scope.nodes) {
    if (scope.exclude?.[node.idx]) continue;
    const costs: Array<{ gpu: GpuState; blockers: Blocker[] }> = [];
    for (const gpu of node.gpus) {
      if (!gpu.healthy || gpu.broken || (gpu.mode === 'mig' && !node.model?.migCapable)) continue;
      if (gpu.mode === 'whole') {
        if (!gpu.holder && !gpu.inUse) costs.push({ gpu, blockers: [] });
        continue;
      }
      const blockers = blockersAt(policy, gpu, { mediaExtensions: false } as MigProfile, 0xff, (n) => state.profileOf(node.model, n), out.moved);
      if (blockers) costs.push({ gpu, blockers });
    }
    if (costs.length < member.gpus) continue;
    costs.sort((a, b) => a.blockers.length - b.blockers.length || a.gpu.index - b.gpu.index);
    const chosen = costs.slice(0, member.gpus);
    const cost = chosen.reduce((s, c) => s + c.blockers.length, 0);
    if (cost <= budget) options.push({ node, gpus: chosen, cost });
  }
  options.sort((a, b) => a.cost - b.cost || a.node.idx - b.node.idx);
  const option = firstRelocatable(search, options, (o) => {
    for (const c of o.gpus) state.setGpu(c.gpu, { mode: 'whole', slices: [], holder: member.holder, inUse: false });
    return o.gpus.flatMap((c) => c.blockers);
  });
  return option && { plan: member, node: option.node, gpus: option.gpus.map((c) => c.gpu).sort((a, b) => a.index - b.index) };
}
