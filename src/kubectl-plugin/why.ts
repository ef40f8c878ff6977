/**
 * `kubectl haein why KIND/NAME`: why a GpuPartition, TrainingJob or Pod waits. Reads the operator's verdict
 * from the object's conditions — for capacity, or for its tenant's quota (`QuotaReserved`, with the tenant's and
 * its cohort's figures from their GpuTenant status) — and works out the rest on the client with the operator's
 * own pure code: the place in the queue (`pendingRequests` + `compareQueue`), and, by running the placement
 * engine on each node alone, the node the request came closest to fitting on and what blocked it there. Pure.
 */
import { PARTITION_GATE } from '../api/constants.js';
import type { Condition, GpuNode, GpuPartition, GpuTenant, TrainingJob } from '../api/types.js';
import { parseHolderKey } from '../ledger/claims.js';
import { compareQueue } from '../scheduler/queue-order.js';
import { pendingRequests, type PendingRequest } from '../scheduler/requests.js';
import { ADMISSION_ANNOTATION } from '../controllers/pod-gate/pod-admission.js';
import { podGated, podPartition, type PodObject } from '../api/pods.js';
import type { PlaceFn } from '../runtime/ports.js';
import { buildSnapshot, type NodeObject } from '../ledger/snapshot.js';
import { MEMORY_SLOTS, findProfile, modelForProduct } from '../placement/catalog.js';
import type { ClusterSnapshot, NodeSnapshot, PlacementRequest } from '../placement/types.js';
import { jobWants, partitionWants } from '../slice-map/build-model.js';
import type { NamespaceInfo } from '../tenancy/tenant-resolution.js';
import type { WhyKind } from './args.js';
import { explainQuota, quotaLines, type QuotaExplanation } from './why-quota.js';

/** A core/v1 Event, as far as `why` reads it. */
export interface EventLike {
  type?: string;
  reason?: string;
  message?: string;
  lastTimestamp?: string;
  eventTime?: string;
  involvedObject?: { kind?: string; name?: string };
}

/** What `why` reads. */
export interface WhyInput {
  kind: WhyKind;
  namespace: string;
  name: string;
  gpuNodes: GpuNode[];
  nodes: NodeObject[];
  /** Partitions and jobs of every namespace the caller may list (the queue spans all of them). */
  partitions: GpuPartition[];
  jobs: TrainingJob[];
  pods: PodObject[];
  events: EventLike[];
  /** `cluster` when the lists cover every namespace, else the one namespace they cover. */
  queueScope: 'cluster' | 'namespace';
  /** GpuTenants (empty when the caller may not list them). */
  tenants?: GpuTenant[];
  /** Namespaces with their labels, for tenants' selectors (at least the object's own, where readable). */
  namespaces?: NamespaceInfo[];
  place: PlaceFn;
}

/** How close a request came to fitting on one node. */
export interface NodeFit {
  node: string;
  /** The node matches the request's products / node selector and takes new slices. */
  eligible: boolean;
  /** Members that fit on this node alone. */
  fits: number;
  of: number;
  /** Memory slots on healthy GPUs held by nobody (8 per idle whole GPU). */
  freeSlots: number;
  /** The engine's reason the whole request does not fit on this node (empty when it does). */
  blockedBy: string;
  /** Who holds slices on the node, e.g. `GpuPartition team-a/inference × 2`. */
  holders: string[];
}

/** The answer. */
export interface Explanation {
  object: string;
  phase?: string;
  waiting: boolean;
  /** One sentence. */
  summary: string;
  wants?: string;
  conditions: Array<Pick<Condition, 'type' | 'status' | 'reason' | 'message'>>;
  queue?: { position: number; of: number; ahead: string[]; scope: 'cluster' | 'namespace' };
  /** For a waiting partition or job where tenancy applies: quota or capacity, and the tenant's figures. */
  quota?: QuotaExplanation;
  /** The engine's verdict on the whole cluster as it is now. */
  clusterVerdict?: string;
  bestNode?: NodeFit;
  /** Pods: the gate, the partition label, the operator's admission note, the scheduler's message. */
  pod?: { gated: boolean; partition?: string; admission?: string; scheduling?: string };
  /** Recent Warning events of the object. */
  events: string[];
  /** For a pod waiting on its partition: why the partition waits. */
  partition?: Explanation;
}

/** Explains `input.kind/name`; undefined when no such object exists. */
export function explain(input: WhyInput): Explanation | undefined {
  if (input.kind === 'Pod') return explainPod(input);
  if (input.kind === 'GpuPartition') {
    const p = input.partitions.find((x) => x.metadata.namespace === input.namespace && x.metadata.name === input.name);
    return p ? explainClaimant(input, 'GpuPartition', p.metadata, p.status?.phase, p.status?.conditions, (missing) => partitionWants(p, missing)) : undefined;
  }
  const j = input.jobs.find((x) => x.metadata.namespace === input.namespace && x.metadata.name === input.name);
  return j ? explainClaimant(input, 'TrainingJob', j.metadata, j.status?.phase, j.status?.conditions, () => jobWants(j)) : undefined;
}

function conditionsOf(conditions: Condition[] | undefined): Explanation['conditions'] {
  return (conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason ?? '', message: c.message ?? '' }));
}

function warnings(input: WhyInput, kind: string, name: string): string[] {
  const seen = new Set<string>();
  return input.events
    .filter((e) => e.type === 'Warning' && e.involvedObject?.kind === kind && e.involvedObject?.name === name)
    .sort((a, b) => (b.lastTimestamp ?? b.eventTime ?? '').localeCompare(a.lastTimestamp ?? a.eventTime ?? ''))
    .map((e) => `${e.reason}: ${e.message}`)
    .filter((text) => !seen.has(text) && seen.add(text) !== undefined)
    .slice(0, 3);
}

function explainClaimant(
  input: WhyInput,
  kind: 'GpuPartition' | 'TrainingJob',
  meta: { namespace?: string; name?: string },
  phase: string | undefined,
  conditions: Condition[] | undefined,
  wants: (missing: number) => string,
): Explanation {
  const object = `${kind} ${meta.namespace}/${meta.name}`;
  const queue = pendingRequests(input.partitions, input.jobs, input.gpuNodes).sort(compareQueue);
  const index = queue.findIndex((r) => r.kind === kind && r.namespace === meta.namespace && r.name === meta.name);
  const base = { object, ...(phase ? { phase } : {}), conditions: conditionsOf(conditions), events: warnings(input, kind, meta.name ?? '') };
  if (index < 0) {
    return { ...base, waiting: false, summary: `${object} is not waiting for capacity (phase ${phase ?? 'unknown'}).` };
  }
  const req = queue[index] as PendingRequest;
  const verdict = conditions?.find((c) => (c.type === 'Allocated' || c.type === 'Placed') && c.status !== 'True');
  const snapshot = buildSnapshot(input.gpuNodes, lookup(input.nodes));
  const now = input.place(snapshot, req.request);
  const fits = nodeFits(snapshot, req.request, input.place);
  const best = fits[0];
  const quota = explainQuota(meta.namespace ?? '', conditions, input.tenants ?? [], input.namespaces ?? []);
  const quotaWait = quota?.waitsFor === 'quota' ? quota.condition : undefined;
  const where = now.ok ? [...new Set(now.assignments.map((a) => a.node))].join(', ') : '';
  const clusterVerdict = !now.ok
    ? now.message
    : quotaWait
      ? `the cluster has room for it (on ${where}), but its tenant's quota does not admit it`
      : `fits on the cluster as it is now (on ${where}): the operator places it on its next pass unless a request ahead of it needs the room`;
  let summary = verdict ? `${object} waits (${verdict.reason}).` : `${object} waits: the operator has not given a verdict yet.`;
  if (quotaWait) summary = `${object} waits for its tenant's quota (${quotaWait.reason}).`;
  else if (verdict && quota?.condition?.reserved) summary = `${object} waits for capacity (${verdict.reason}); its tenant's quota admits it.`;
  return {
    ...base,
    waiting: true,
    summary,
    wants: wants(req.request.members.length),
    queue: {
      position: index + 1,
      of: queue.length,
      ahead: queue.slice(Math.max(0, index - 5), index).map((r) => `${r.kind} ${r.namespace}/${r.name} (priority ${r.priority})`),
      scope: input.queueScope,
    },
    ...(quota ? { quota } : {}),
    clusterVerdict,
    ...(best ? { bestNode: best } : {}),
  };
}

function lookup(nodes: NodeObject[]): (name: string) => NodeObject | undefined {
  const byName = new Map(nodes.map((n) => [n.metadata.name ?? '', n]));
  return (name) => byName.get(name);
}

/**
 * How close `request` comes to fitting on each node alone, best first: eligible nodes, then the most members
 * fitting, then the most free memory, then by name.
 */
export function nodeFits(snapshot: ClusterSnapshot, request: PlacementRequest, place: PlaceFn): NodeFit[] {
  const out: NodeFit[] = [];
  for (const node of snapshot.nodes) {
    const alone: ClusterSnapshot = { nodes: [node] };
    const members = request.members;
    // One node holds the gang or part of it: topology across nodes does not apply here.
    const full = place(alone, { ...request, topology: 'any' });
    let fits = full.ok ? members.length : 0;
    const eligible = full.ok || full.code === 'InsufficientCapacity' || full.code === 'TopologyUnsatisfiable';
    if (!full.ok && eligible) {
      for (let k = members.length - 1; k >= 1; k--) {
        if (place(alone, { ...request, topology: 'any', members: members.slice(0, k) }).ok) {
          fits = k;
          break;
        }
      }
    }
    out.push({ node: node.name, eligible, fits, of: members.length, freeSlots: freeSlots(node), blockedBy: full.ok ? '' : full.message, holders: holdersOn(node) });
  }
  return out.sort((a, b) => Number(b.eligible) - Number(a.eligible) || b.fits - a.fits || b.freeSlots - a.freeSlots || a.node.localeCompare(b.node));
}

function freeSlots(node: NodeSnapshot): number {
  const model = modelForProduct(node.product);
  let free = 0;
  for (const g of node.gpus) {
    if (!g.healthy) continue;
    if (g.mode === 'whole') {
      if (!g.holder && !g.inUse) free += MEMORY_SLOTS;
      continue;
    }
    let held = 0;
    for (const s of g.slices) if (s.holder || s.inUse) held += (model ? findProfile(model, s.profile)?.memorySlots : undefined) ?? MEMORY_SLOTS;
    free += Math.max(0, MEMORY_SLOTS - held);
  }
  return free;
}

function holdersOn(node: NodeSnapshot): string[] {
  const counts = new Map<string, number>();
  const add = (key: string | undefined) => {
    const h = key ? parseHolderKey(key) : undefined;
    if (!h) return;
    const id = `${h.kind} ${h.namespace}/${h.name}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  };
  for (const g of node.gpus) {
    add(g.holder?.key);
    for (const s of g.slices) add(s.holder?.key);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([id, n]) => `${id} × ${n}`);
}

function explainPod(input: WhyInput): Explanation | undefined {
  const pod = input.pods.find((p) => p.metadata.namespace === input.namespace && p.metadata.name === input.name);
  if (!pod) return undefined;
  const object = `Pod ${input.namespace}/${input.name}`;
  const phase = pod.status?.phase;
  const gated = podGated(pod);
  const partition = podPartition(pod);
  const admission = pod.metadata.annotations?.[ADMISSION_ANNOTATION];
  const conditions = ((pod.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  const scheduling = scheduled && scheduled.status !== 'True' ? `${scheduled.reason}: ${scheduled.message}` : undefined;
  const base = {
    object,
    ...(phase ? { phase } : {}),
    conditions: conditionsOf(conditions),
    events: warnings(input, 'Pod', input.name),
    pod: { gated, ...(partition !== undefined ? { partition } : {}), ...(admission ? { admission } : {}), ...(scheduling ? { scheduling } : {}) },
  };
  if (!gated) {
    if (phase === 'Pending' && scheduling) return { ...base, waiting: true, summary: `${object} waits for the scheduler: ${scheduling}` };
    return { ...base, waiting: false, summary: `${object} is not waiting (phase ${phase ?? 'unknown'}; the ${PARTITION_GATE} gate is lifted or was never set).` };
  }
  if (!partition) {
    return { ...base, waiting: true, summary: `${object} waits for the operator to choose a GpuPartition${admission ? `: ${admission}` : ''}` };
  }
  const p = input.partitions.find((x) => x.metadata.namespace === input.namespace && x.metadata.name === partition);
  if (!p) return { ...base, waiting: true, summary: `${object} waits: GpuPartition ${input.namespace}/${partition} does not exist${admission ? ` (${admission})` : ''}` };
  const pe = explain({ ...input, kind: 'GpuPartition', name: partition });
  if (pe?.waiting) {
    // The pod's warnings repeat why the partition waits; the partition's own explanation says it better.
    return { ...base, events: [], waiting: true, summary: `${object} waits at the gate for GpuPartition ${input.namespace}/${partition}, which is not Ready.`, partition: pe };
  }
  const summary = admission ? `${object} waits at the gate: ${admission}` : `${object} waits at the gate for GpuPartition ${input.namespace}/${partition}`;
  return { ...base, waiting: true, summary };
}

/** The explanation as text. */
export function renderWhy(e: Explanation, indent = ''): string {
  const lines: string[] = [`${indent}${e.summary}`];
  const add = (label: string, value: string) => lines.push(`${indent}  ${label.padEnd(10)} ${value}`);
  if (e.phase) add('phase', e.phase);
  if (e.wants) add('wants', e.wants);
  if (e.pod) {
    add('gate', e.pod.gated ? `${PARTITION_GATE} (set)` : 'lifted');
    if (e.pod.partition !== undefined) add('partition', e.pod.partition || '(to be chosen by the operator)');
    if (e.pod.scheduling) add('scheduler', e.pod.scheduling);
  }
  let lastMessage = '';
  for (const c of e.conditions) {
    const message = c.message && c.message === lastMessage ? ' (same message)' : c.message ? `: ${c.message}` : '';
    add('condition', `${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${message}`);
    lastMessage = c.message;
  }
  for (const [label, value] of e.quota ? quotaLines(e.quota) : []) add(label, value);
  if (e.queue) {
    const scope = e.queue.scope === 'cluster' ? '' : ' (this namespace only: you may not list the others)';
    add('queue', `position ${e.queue.position} of ${e.queue.of} waiting${scope}${e.queue.ahead.length ? `; just ahead: ${e.queue.ahead.join(', ')}` : ''}`);
  }
  if (e.clusterVerdict && !e.conditions.some((c) => c.message === e.clusterVerdict)) add('now', e.clusterVerdict);
  if (e.bestNode) {
    const b = e.bestNode;
    const fit = b.fits === b.of ? `all ${b.of} member(s) fit there` : `${b.fits} of ${b.of} member(s) fit there`;
    add('closest', `${b.node}: ${fit}, ${b.freeSlots} free memory slot(s)${b.eligible ? '' : ' (not eligible)'}`);
    if (b.blockedBy) add('blocked', b.blockedBy);
    if (b.holders.length) add('held by', b.holders.slice(0, 6).join(', ') + (b.holders.length > 6 ? `, … (${b.holders.length - 6} more)` : ''));
  }
  for (const ev of e.events) add('warning', ev);
  if (e.partition) lines.push(`${indent}  its partition:`, renderWhy(e.partition, `${indent}    `));
  return lines.join('\n');
}
