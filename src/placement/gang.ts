/**
 * Gang search: places every member of a request inside one topology group (the whole cluster, one node,
 * one clique), all or nothing. Greedy first (members largest first, each at its best-scored spot); on tiny
 * groups a bounded exhaustive search backs the greedy up so that "cannot fit" is exact there.
 */
import type { MigProfile } from './catalog.js';
import { applySlice, applyWhole } from './apply.js';
import { allSlices, allWholes, bestSlice, bestWhole, type Scope, type SliceChoice, type WholeChoice } from './gpu-search.js';
import type { PreemptionPolicy } from './preemption.js';
import type { MemberPlan, RequestPlan } from './request.js';
import type { GpuState, NodeState, PlacementState } from './state.js';
import type { Topology, Victim } from './types.js';

/** Where one member went. */
export interface MemberPlacement {
  plan: MemberPlan;
  node: NodeState;
  gpus: GpuState[];
  profile?: MigProfile;
  start?: number;
}

/** A set of nodes a gang must fit in. */
export interface TopologyGroup {
  /** `node`, `clique` or `cluster`: used in messages. */
  unit: 'node' | 'clique' | 'cluster';
  name: string;
  nodes: NodeState[];
}

/**
 * The group that came closest to holding a failed gang: most members placed, then most idle GPUs. `placed` is
 * undefined for a group skipped without a search (too few idle GPUs for the whole-GPU members).
 */
export interface NearestGroup {
  group: TopologyGroup;
  placed: number | undefined;
  failed: MemberPlan;
}

/** Gang search outcome; on failure the state is unchanged. */
export type GangOutcome =
  | { ok: true; placements: MemberPlacement[]; victims: Victim[]; group: TopologyGroup }
  | { ok: false; best: NearestGroup | undefined };

// Exhaustive backup only where it is cheap: few GPUs and a bounded number of tried options.
const EXHAUSTIVE_MAX_GPUS = 32;
const EXHAUSTIVE_BUDGET = 20000;

/** The groups a gang may be placed in, in the order they are tried (busiest first: best fit). */
export function topologyGroups(state: PlacementState, plan: RequestPlan, topology: Topology = plan.topology): TopologyGroup[] {
  const all = plan.eligible.length === 1 ? plan.eligible[0] : unionOf(state, plan.eligible);
  if (topology === 'any' || topology === 'spread') return [{ unit: 'cluster', name: 'cluster', nodes: all }];
  const byIdle = (a: { idle: number; idx: number }, b: { idle: number; idx: number }) => a.idle - b.idle || a.idx - b.idx;
  if (topology === 'sameNode') {
    const count = new Uint16Array(state.nodes.length);
    for (const list of plan.eligible) for (const n of list) count[n.idx]++;
    return all.filter((n) => count[n.idx] === plan.eligible.length).sort(byIdle).map((n) => ({ unit: 'node' as const, name: n.name, nodes: [n] }));
  }
  const groups = new Map<number, NodeState[]>();
  for (const n of all) groups.set(n.cliqueIdx, [...(groups.get(n.cliqueIdx) ?? []), n]);
  return [...groups.entries()]
    .map(([idx, nodes]) => ({ idx, idle: state.groups[idx].idle, nodes }))
    .sort(byIdle)
    .map((g) => ({ unit: 'clique' as const, name: state.groups[g.idx].key, nodes: g.nodes }));
}

/** The nodes of `group` that are also in `eligible` (marks cached per eligible list). */
export function restrict(state: PlacementState, eligible: NodeState[], group: NodeState[]): NodeState[] {
  let marks = MARKS.get(eligible);
  if (!marks) {
    marks = new Uint8Array(state.nodes.length);
    for (const n of eligible) marks[n.idx] = 1;
    MARKS.set(eligible, marks);
  }
  const m = marks;
  return group.filter((n) => m[n.idx] === 1);
}

const MARKS = new WeakMap<NodeState[], Uint8Array>();

// Union of node lists, in snapshot order.
function unionOf(state: PlacementState, lists: NodeState[][]): NodeState[] {
  if (lists.every((l) => l === lists[0])) return lists[0];
  const seen = new Uint8Array(state.nodes.length);
  for (const list of lists) for (const n of list) seen[n.idx] = 1;
  return state.nodes.filter((n) => seen[n.idx]);
}

/** Places the whole gang in the first group where it fits. */
export function placeGang(state: PlacementState, plan: RequestPlan, policy: PreemptionPolicy, topology: Topology = plan.topology): GangOutcome {
  const wholeTotal = plan.members.reduce((s, m) => s + m.gpus, 0);
  const idle = (g: TopologyGroup): number => g.nodes.reduce((s, n) => s + n.idle, 0);
  let best: NearestGroup | undefined;
  const consider = (c: NearestGroup): void => {
    const placed = c.placed ?? 0;
    const bestPlaced = best?.placed ?? 0;
    if (!best || placed > bestPlaced || (placed === bestPlaced && idle(c.group) > idle(best.group))) best = c;
  };
  for (const group of topologyGroups(state, plan, topology)) {
    // Without preemption a group with too few idle GPUs for the whole-GPU members cannot work.
    if (policy.below === undefined && group.unit !== 'cluster' && idle(group) < wholeTotal) {
      consider({ group, placed: undefined, failed: plan.members[0] });
      continue;
    }
    const r = placeInGroup(state, plan, policy, group, topology === 'spread');
    if (r.ok) return { ok: true, placements: r.placements, victims: r.victims, group };
    consider({ group, placed: r.placed, failed: r.failed });
  }
  return { ok: false, best };
}

type GroupResult = { ok: true; placements: MemberPlacement[]; victims: Victim[] } | { ok: false; placed: number; failed: MemberPlan };

function placeInGroup(state: PlacementState, plan: RequestPlan, policy: PreemptionPolicy, group: TopologyGroup, spread: boolean): GroupResult {
  const scopes = plan.members.map((_, i) => (group.unit === 'cluster' ? plan.eligible[i] : restrict(state, plan.eligible[i], group.nodes)));
  const used = spread ? new Uint8Array(state.nodes.length) : undefined;
  const mark = state.mark();
  const placements: MemberPlacement[] = [];
  const victims: Victim[] = [];
  for (const [i, member] of plan.members.entries()) {
    const scope: Scope = { nodes: scopes[i], exclude: used };
    const choice = member.gpus > 0 ? bestWhole(state, policy, member, scope) : bestSlice(state, policy, member, scope);
    if (!choice) {
      state.rollback(mark);
      const gpus = [...new Set(scopes.flat())].reduce((s, n) => s + n.gpus.length, 0);
      if (gpus <= EXHAUSTIVE_MAX_GPUS) {
        const exact = exhaustive(state, plan, policy, scopes, spread);
        if (exact) return { ok: true, ...exact };
      }
      return { ok: false, placed: i, failed: member };
    }
    const placed = take(state, policy, member, choice, victims);
    if (used) used[placed.node.idx] = 1;
    placements.push(placed);
  }
  return { ok: true, placements, victims };
}

function take(state: PlacementState, policy: PreemptionPolicy, member: MemberPlan, choice: SliceChoice | WholeChoice, victims: Victim[]): MemberPlacement {
  if ('node' in choice) {
    victims.push(...applyWhole(state, policy, choice.gpus, member.holder));
    return { plan: member, node: choice.node, gpus: choice.gpus };
  }
  victims.push(...applySlice(state, policy, choice.gpu, choice.profile, choice.start, member.holder));
  return { plan: member, node: choice.gpu.node, gpus: [choice.gpu], profile: choice.profile, start: choice.start };
}

// Depth-first search over every option of every member, best-scored first; leaves the state applied on success.
function exhaustive(
  state: PlacementState,
  plan: RequestPlan,
  policy: PreemptionPolicy,
  scopes: NodeState[][],
  spread: boolean,
): { placements: MemberPlacement[]; victims: Victim[] } | undefined {
  let budget = EXHAUSTIVE_BUDGET;
  const used = spread ? new Uint8Array(state.nodes.length) : undefined;
  const placements: MemberPlacement[] = [];
  const victims: Victim[] = [];
  const walk = (i: number): boolean => {
    if (i === plan.members.length) return true;
    const member = plan.members[i];
    const scope: Scope = { nodes: scopes[i], exclude: used };
    const options: Array<SliceChoice | WholeChoice> = member.gpus > 0 ? allWholes(state, policy, member, scope) : allSlices(state, policy, member, scope);
    for (const option of options) {
      if (--budget < 0) return false;
      const mark = state.mark();
      const nVictims = victims.length;
      const placed = take(state, policy, member, option, victims);
      if (used) used[placed.node.idx] = 1;
      placements.push(placed);
      if (walk(i + 1)) return true;
      placements.pop();
      if (used) used[placed.node.idx] = 0;
      victims.length = nVictims;
      state.rollback(mark);
    }
    return false;
  };
  return walk(0) ? { placements, victims } : undefined;
}
