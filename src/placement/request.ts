/**
 * Validation and normalisation of a {@link PlacementRequest}: every bad input becomes a typed failure here,
 * so the search itself never meets a malformed request.
 */
import { COMPUTE_SLICES, resolveProfile, type GpuModel, type MigProfile } from './catalog.js';
import type { NodeState, PlacementState } from './state.js';
import type { Holder, Member, PlacementFailureCode, PlacementRequest, Topology } from './types.js';

/** A failed placement (the `ok: false` arm of the result). */
export interface Failure {
  ok: false;
  code: PlacementFailureCode;
  message: string;
}

/** One member, validated, with what it needs on each model. */
export interface MemberPlan {
  readonly member: Member;
  /** Position in `request.members`. */
  readonly order: number;
  readonly holder: Holder;
  /** Whole GPUs needed (0 for a slice). */
  readonly gpus: number;
  /** For a slice: the profile to use on a model, undefined when the model cannot host it. */
  profileOn(model: GpuModel | undefined): MigProfile | undefined;
  /** Short description for messages, e.g. `3g.90gb` or `8 whole GPUs`. */
  readonly label: string;
}

/** A validated request ready for the search. */
export interface RequestPlan {
  readonly request: PlacementRequest;
  readonly topology: Topology;
  readonly priority: number;
  readonly mayPreempt: boolean;
  /** Members in placement order: whole GPUs first (largest first), then slices, largest first. */
  readonly members: MemberPlan[];
  /** Eligible nodes per member (same order as `members`). */
  readonly eligible: NodeState[][];
}

const TOPOLOGIES: readonly Topology[] = ['any', 'sameNode', 'sameClique', 'spread'];

function fail(code: PlacementFailureCode, message: string): Failure {
  return { ok: false, code, message };
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}

/** Validates `request` against `state`; returns the plan or a typed failure. */
export function planRequest(state: PlacementState, request: PlacementRequest): RequestPlan | Failure {
  if (!request || typeof request !== 'object') return fail('InvalidRequest', 'request must be an object');
  const id = typeof request.id === 'string' && request.id ? request.id : '(unnamed request)';
  if (!Array.isArray(request.members) || request.members.length === 0) {
    return fail('InvalidRequest', `${id}: a request needs at least one member`);
  }
  const topology = request.topology ?? 'any';
  if (!TOPOLOGIES.includes(topology)) {
    return fail('InvalidRequest', `${id}: unknown topology "${String(topology)}" (use ${TOPOLOGIES.join(', ')})`);
  }
  const priority = request.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    return fail('InvalidRequest', `${id}: priority must be a finite number`);
  }
  const constraints = request.constraints ?? {};
  if (constraints.products !== undefined && !Array.isArray(constraints.products)) {
    return fail('InvalidRequest', `${id}: constraints.products must be a list of gpu.product values`);
  }
  // Node eligibility only depends on the constraints (schedulable and model never change in a state).
  const scopeKey = `${JSON.stringify(constraints.products ?? [])}|${JSON.stringify(constraints.nodeSelector ?? {})}`;
  let scope = state.cache.get(scopeKey) as { nodes: NodeState[]; models: GpuModel[]; byMember: Map<string, NodeState[]> } | undefined;
  if (!scope) {
    const products = constraints.products ?? [];
    const selector = Object.entries(constraints.nodeSelector ?? {});
    const nodes = state.nodes.filter((node) => {
      if (!node.schedulable || !node.model) return false;
      if (products.length > 0 && !products.some((p) => p === node.product || p === node.model?.product || node.model?.aliases.includes(p))) return false;
      return selector.every(([k, v]) => node.labels[k] === v);
    });
    const models: GpuModel[] = [];
    for (const n of nodes) if (!models.includes(n.model as GpuModel)) models.push(n.model as GpuModel);
    scope = { nodes, models, byMember: new Map() };
    state.cache.set(scopeKey, scope);
  }
  const okNodes = scope.nodes;
  const models = scope.models;

  const holderBase = { priority, preemptible: request.preemptible ?? true };
  const seen = new Set<string>();
  const plans: MemberPlan[] = [];
  for (const [order, member] of request.members.entries()) {
    const where = `${id} member ${order}`;
    if (!member || typeof member !== 'object') return fail('InvalidRequest', `${where}: must be an object`);
    if (typeof member.key !== 'string' || member.key === '') return fail('InvalidRequest', `${where}: key must be a non-empty string`);
    if (seen.has(member.key)) return fail('InvalidRequest', `${where}: duplicate key ${member.key}`);
    seen.add(member.key);
    const holder: Holder = { key: member.key, ...holderBase };
    if (member.kind === 'whole') {
      if (!isPositiveInt(member.gpus)) return fail('InvalidRequest', `${where}: gpus must be a positive integer, got ${String(member.gpus)}`);
      const gpus = member.gpus;
      plans.push({ member, order, holder, gpus, profileOn: () => undefined, label: `${gpus} whole GPU${gpus > 1 ? 's' : ''}` });
      continue;
    }
    if (member.kind !== 'slice') return fail('InvalidRequest', `${where}: kind must be "slice" or "whole"`);
    const slice = planSlice(member, where, models);
    if ('ok' in slice) return slice;
    plans.push({ member, order, holder, gpus: 0, profileOn: slice.profileOn, label: slice.label });
  }

  const members = [...plans].sort((a, b) => b.gpus - a.gpus || sliceSize(b, models) - sliceSize(a, models) || a.order - b.order);
  const byMember = scope.byMember;
  const eligible = members.map((m) => {
    if (m.gpus > 0) return okNodes;
    const sig = memberSignature(m.member);
    let list = byMember.get(sig);
    if (!list) byMember.set(sig, (list = okNodes.filter((n) => m.profileOn(n.model) !== undefined)));
    return list;
  });
  // A lone slice can never be too big for the cluster (its profile exists on an eligible model).
  if (topology !== 'any' || members.length > 1 || members[0].gpus > 0) {
    const sizeProblem = checkSizes(id, topology, members, eligible);
    if (sizeProblem) return sizeProblem;
  }
  return { request, topology, priority, mayPreempt: request.mayPreempt === true, members, eligible };
}

function planSlice(
  member: Extract<Member, { kind: 'slice' }>,
  where: string,
  models: GpuModel[],
): Failure | { profileOn: MemberPlan['profileOn']; label: string } {
  const hasNeeds = member.memoryMiB !== undefined || member.computeSlices !== undefined;
  if (member.profile !== undefined && hasNeeds) {
    return fail('InvalidRequest', `${where}: give either a profile or memoryMiB/computeSlices, not both`);
  }
  if (member.profile !== undefined) {
    if (typeof member.profile !== 'string' || member.profile === '') return fail('InvalidRequest', `${where}: profile must be a non-empty string`);
    const name = member.profile;
    const offering = models.filter((m) => m.profiles.some((p) => p.name === name));
    if (models.length > 0 && offering.length === 0) {
      const offered = [...new Set(models.flatMap((m) => m.profiles.map((p) => p.name)))];
      return fail('UnknownProfile', `${where}: profile ${name} is not offered by ${models.map((m) => m.product).join(', ')}` +
        (offered.length ? ` (offered: ${offered.join(', ')})` : ''));
    }
    const cache = new Map<GpuModel, MigProfile | undefined>();
    return {
      label: name,
      profileOn: (model) => {
        if (!model) return undefined;
        if (!cache.has(model)) cache.set(model, model.profiles.find((p) => p.name === name));
        return cache.get(model);
      },
    };
  }
  if (!hasNeeds) return fail('InvalidRequest', `${where}: a slice needs a profile or memoryMiB/computeSlices`);
  const { memoryMiB, computeSlices } = member;
  if (memoryMiB !== undefined && !(typeof memoryMiB === 'number' && Number.isFinite(memoryMiB) && memoryMiB > 0)) {
    return fail('InvalidRequest', `${where}: memoryMiB must be a positive number, got ${String(memoryMiB)}`);
  }
  if (computeSlices !== undefined && !(isPositiveInt(computeSlices) && computeSlices <= COMPUTE_SLICES)) {
    return fail('InvalidRequest', `${where}: computeSlices must be an integer from 1 to ${COMPUTE_SLICES}, got ${String(computeSlices)}`);
  }
  const needs = { memoryMiB, computeSlices };
  const cache = new Map<GpuModel, MigProfile | undefined>();
  const profileOn = (model: GpuModel | undefined): MigProfile | undefined => {
    if (!model) return undefined;
    if (!cache.has(model)) cache.set(model, resolveProfile(model, needs));
    return cache.get(model);
  };
  const wants = [memoryMiB !== undefined ? `${memoryMiB} MiB` : '', computeSlices !== undefined ? `${computeSlices} compute slices` : '']
    .filter(Boolean)
    .join(' and ');
  const migModels = models.filter((m) => m.migCapable);
  if (migModels.length > 0 && migModels.every((m) => profileOn(m) === undefined)) {
    return fail('UnknownProfile', `${where}: no MIG profile of ${migModels.map((m) => m.product).join(', ')} provides ${wants}`);
  }
  const names = [...new Set(migModels.map((m) => profileOn(m)?.name).filter(Boolean))];
  return { profileOn, label: names.length === 1 ? (names[0] as string) : `slice with ${wants}` };
}

function memberSignature(m: Member): string {
  return m.kind === 'slice' ? `${m.profile ?? ''}|${m.memoryMiB ?? ''}|${m.computeSlices ?? ''}` : 'whole';
}

// Sort key for slices: memory slots of the largest profile the member resolves to on any eligible model.
function sliceSize(m: MemberPlan, models: GpuModel[]): number {
  let size = 0;
  for (const model of models) {
    const p = m.profileOn(model);
    if (p) size = Math.max(size, p.memorySlots * 8 + p.computeSlices);
  }
  return size;
}

const SIZES = new WeakMap<NodeState[], { total: number; largestNode: number; largestClique: number }>();

// Healthy GPU totals of a node list (lists are cached per constraint set, so this is memoised).
function sizesOf(nodes: NodeState[]): { total: number; largestNode: number; largestClique: number } {
  let sizes = SIZES.get(nodes);
  if (!sizes) {
    let total = 0;
    let largestNode = 0;
    const perClique = new Map<number, number>();
    for (const n of nodes) {
      total += n.healthy;
      largestNode = Math.max(largestNode, n.healthy);
      perClique.set(n.cliqueIdx, (perClique.get(n.cliqueIdx) ?? 0) + n.healthy);
    }
    sizes = { total, largestNode, largestClique: Math.max(0, ...perClique.values()) };
    SIZES.set(nodes, sizes);
  }
  return sizes;
}

// Requests that can never fit whatever the cluster's load: a typed error rather than "no capacity".
function checkSizes(
  id: string,
  topology: Topology,
  members: MemberPlan[],
  eligible: NodeState[][],
): Failure | undefined {
  const lists = [...new Set(eligible)];
  const allNodes = lists.length === 1 ? lists[0] : [...new Set(lists.flat())];
  const sizes = sizesOf(allNodes);
  const wholeTotal = members.reduce((s, m) => s + m.gpus, 0);
  const clusterGpus = sizes.total;
  // No eligible node at all is not a size problem: the caller reports which constraints matched nothing.
  if (allNodes.length > 0 && wholeTotal > clusterGpus) {
    return fail('InvalidRequest', `${id}: the gang needs ${wholeTotal} whole GPUs but the eligible nodes have ${clusterGpus} healthy GPUs in total`);
  }
  for (const [i, m] of members.entries()) {
    if (m.gpus === 0) continue;
    const largest = sizesOf(eligible[i]).largestNode;
    if (eligible[i].length > 0 && m.gpus > largest) {
      return fail('InvalidRequest', `${id}: member ${m.member.key} needs ${m.gpus} GPUs on one node but the largest eligible node has ${largest}`);
    }
  }
  if (topology === 'spread' && allNodes.length > 0 && members.length > allNodes.length) {
    return fail('InvalidRequest', `${id}: spread needs ${members.length} distinct nodes but only ${allNodes.length} are eligible`);
  }
  if (topology === 'sameNode' && allNodes.length > 0) {
    const largest = sizes.largestNode;
    if (wholeTotal > largest) {
      return fail('InvalidRequest', `${id}: sameNode needs ${wholeTotal} whole GPUs on one node but the largest eligible node has ${largest}`);
    }
  }
  if (topology === 'sameClique' && allNodes.length > 0) {
    const largest = sizes.largestClique;
    if (wholeTotal > largest) {
      return fail('InvalidRequest', `${id}: sameClique needs ${wholeTotal} whole GPUs in one clique but the largest eligible clique has ${largest}`);
    }
  }
  return undefined;
}
