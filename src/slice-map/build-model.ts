/**
 * Builds the slice map from the objects the operator caches: GpuNodes (target layout with claims in spec,
 * realised slices with UUIDs, in-use flags and holding pods in status), Nodes (cordon, readiness),
 * GpuPartitions and TrainingJobs (holders, waiting requests and why they wait, from their conditions) and
 * the labelled pods (who holds a device, who waits at the gate), GpuTenants and Namespaces (whose quota each
 * claim is on, each tenant's figures). Pure: no Kubernetes calls, no clock.
 */
import { JOB_LABEL, RANK_LABEL } from '../api/constants.js';
import type { ClaimRef, Condition, GpuNode, GpuPartition, GpuTenant, RealisedGpu, RealisedSlice, TargetGpu, TrainingJob } from '../api/types.js';
import { clusterGauges } from '../controllers/gpunode/cluster-gauges.js';
import { compareQueue } from '../scheduler/queue-order.js';
import { pendingRequests } from '../scheduler/requests.js';
import { ADMISSION_ANNOTATION } from '../controllers/pod-gate/pod-admission.js';
import { podGated, podPartition, podTargetNode, podTerminated, type PodObject } from '../api/pods.js';
import type { NodeObject } from '../ledger/snapshot.js';
import { MEMORY_SLOTS, findProfile, modelForProduct, type GpuModel } from '../placement/catalog.js';
import type { NamespaceInfo } from '../tenancy/tenant-resolution.js';
import { coveredSlots } from './covered-slots.js';
import { ClaimTenants, quotaReservedOf, tenantViews } from './tenants.js';
import type { GpuView, HolderView, NodeView, PendingView, ReconfigurationView, SliceMapModel, SliceState, SliceView } from './types.js';

/** How many finished reconfigurations the map lists. */
export const RECENT_RECONFIGURATIONS = 20;

/** Everything the map is built from. */
export interface SliceMapInput {
  gpuNodes: GpuNode[];
  /** The core Node of a GpuNode, by name. */
  node: (name: string) => NodeObject | undefined;
  partitions: GpuPartition[];
  jobs: TrainingJob[];
  /** Pods labelled with a partition or a TrainingJob. */
  pods: PodObject[];
  /** GpuTenants; absent or empty: no tenancy. */
  tenants?: GpuTenant[];
  /** Namespaces with their labels (for tenants' namespace selectors). */
  namespaces?: NamespaceInfo[];
  /** Every source has listed once. */
  synced: boolean;
  /** Stamped on the model. */
  now: Date;
}

/** Builds the whole map. */
export function buildSliceMap(input: SliceMapInput): SliceMapModel {
  const claimTenants = new ClaimTenants(input.tenants ?? [], input.namespaces ?? []);
  const ctx = new HolderIndex(input.partitions, input.jobs, input.pods, claimTenants);
  const nodes = [...input.gpuNodes]
    .filter((gn) => gn.metadata.name)
    .sort((a, b) => (a.metadata.name as string).localeCompare(b.metadata.name as string))
    .map((gn) => nodeView(gn, input.node(gn.metadata.name as string), ctx));
  const slices: Record<SliceState, number> = { 'in-use': 0, allocated: 0, realising: 0, free: 0, removing: 0 };
  let gpus = 0;
  let uncarvedSlots = 0;
  let borrowed = 0;
  for (const n of nodes) {
    for (const g of n.gpus) {
      gpus++;
      for (const s of g.slices) {
        slices[s.state]++;
        if (s.holder?.borrowed) borrowed++;
      }
      if (g.healthy && g.mode === 'mig') uncarvedSlots += g.slots - coveredSlots(g);
    }
  }
  const { fragmentation } = clusterGauges(input.gpuNodes);
  return {
    generatedAt: input.now.toISOString(),
    synced: input.synced,
    nodes,
    pending: pendingViews(input, claimTenants),
    tenants: tenantViews(input.tenants ?? [], nodes),
    reconfigurations: reconfigurations(input.gpuNodes),
    fragmentation: [...fragmentation.entries()].map(([model, ratio]) => ({ model, ratio })).sort((a, b) => a.model.localeCompare(b.model)),
    totals: { nodes: nodes.length, gpus, slices, uncarvedSlots, borrowed },
  };
}

/** Looks up holders' tenants, allocation times and the pods of partitions and job ranks. */
class HolderIndex {
  readonly #tenants: ClaimTenants;
  readonly #since = new Map<string, string>();
  /** `ns/partition` → admitted pods. */
  readonly #partitionPods = new Map<string, PodObject[]>();
  /** `ns/job/rank` → worker pod. */
  readonly #workers = new Map<string, PodObject>();

  constructor(partitions: GpuPartition[], jobs: TrainingJob[], pods: PodObject[], tenants: ClaimTenants) {
    this.#tenants = tenants;
    for (const p of partitions) this.#noteSince('GpuPartition', p.metadata, p.status?.conditions, 'Allocated');
    for (const j of jobs) this.#noteSince('TrainingJob', j.metadata, j.status?.conditions, 'Placed');
    for (const pod of pods) {
      if (podTerminated(pod) || podGated(pod)) continue;
      const ns = pod.metadata.namespace ?? '';
      const partition = podPartition(pod);
      if (partition) {
        const key = `${ns}/${partition}`;
        this.#partitionPods.set(key, [...(this.#partitionPods.get(key) ?? []), pod]);
      }
      const job = pod.metadata.labels?.[JOB_LABEL];
      const rank = pod.metadata.labels?.[RANK_LABEL];
      if (job && rank !== undefined) this.#workers.set(`${ns}/${job}/${rank}`, pod);
    }
  }

  #noteSince(kind: string, meta: { namespace?: string; name?: string; creationTimestamp?: string }, conditions: Condition[] | undefined, type: string): void {
    const c = conditions?.find((x) => x.type === type && x.status === 'True');
    const since = c?.lastTransitionTime ?? meta.creationTimestamp;
    if (since) this.#since.set(`${kind}/${meta.namespace}/${meta.name}`, since);
  }

  /** The holder a claim shows, with its tenant. */
  holder(claim: ClaimRef): HolderView {
    return { kind: claim.kind, namespace: claim.namespace, name: claim.name, slot: claim.slot, priority: claim.priority, ...this.#tenants.of(claim) };
  }

  since(claim: ClaimRef): string | undefined {
    return this.#since.get(`${claim.kind}/${claim.namespace}/${claim.name}`);
  }

  /** Pods of the holder on `node`: the worker of a job rank, or the partition's admitted pods pinned there. */
  podsOn(claim: ClaimRef, node: string): string[] {
    if (claim.kind === 'TrainingJob') {
      const pod = this.#workers.get(`${claim.namespace}/${claim.name}/${claim.slot}`);
      return pod ? [podId(pod)] : [];
    }
    return (this.#partitionPods.get(`${claim.namespace}/${claim.name}`) ?? []).filter((p) => podTargetNode(p) === node).map(podId).sort();
  }
}

function podId(pod: PodObject): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}

function nodeView(gn: GpuNode, node: NodeObject | undefined, ctx: HolderIndex): NodeView {
  const name = gn.metadata.name as string;
  const inventory = gn.status?.inventory;
  const product = inventory?.product ?? gn.metadata.labels?.['nvidia.com/gpu.product'] ?? 'unknown';
  const model = modelForProduct(product);
  const realised = new Map((gn.status?.gpus ?? []).map((g) => [g.index, g]));
  const target = new Map((gn.spec?.gpus ?? []).map((g) => [g.index, g]));
  const indices = [...new Set([...realised.keys(), ...target.keys()])].sort((a, b) => a - b);
  const reason = unschedulableReason(gn, node);
  const clique = inventory?.clique ?? node?.metadata.labels?.['nvidia.com/gpu.clique'];
  return {
    name,
    product,
    ...(clique ? { clique } : {}),
    schedulable: reason === undefined,
    ...(reason ? { unschedulableReason: reason } : {}),
    gpus: indices.map((i) => gpuView(name, i, target.get(i), realised.get(i), model, ctx)),
  };
}

function unschedulableReason(gn: GpuNode, node: NodeObject | undefined): string | undefined {
  if (!node) return 'no Node object';
  if (node.spec?.unschedulable) return 'cordoned';
  if (!(node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')) return 'Node not Ready';
  if ((gn.status?.conditions ?? []).some((c) => c.type === 'AgentReady' && c.status === 'False')) return 'node agent not ready';
  if (!gn.status?.inventory) return 'no inventory reported yet';
  return undefined;
}

function gpuView(node: string, index: number, t: TargetGpu | undefined, r: RealisedGpu | undefined, model: GpuModel | undefined, ctx: HolderIndex): GpuView {
  const size = (profile: string): number => (model ? findProfile(model, profile)?.memorySlots : undefined) ?? MEMORY_SLOTS;
  const mode = t?.mode ?? r?.mode ?? 'mig';
  const base = { index, ...(r?.uuid ? { uuid: r.uuid } : {}), mode, healthy: r ? r.health === 'Healthy' : true, slots: MEMORY_SLOTS };
  const withPods = (claim: ClaimRef | undefined, heldBy: RealisedSlice['pod'] | undefined): string[] =>
    heldBy ? [`${heldBy.namespace}/${heldBy.name}`] : claim ? ctx.podsOn(claim, node) : [];
  const claimed = (claim: ClaimRef | undefined) => (claim ? { holder: ctx.holder(claim), ...since(ctx.since(claim)) } : {});

  if (mode === 'whole') {
    const realisedWhole = r?.mode === 'whole';
    const claim = t?.claim;
    const state: SliceState = !realisedWhole ? 'realising' : r.inUse ? 'in-use' : claim ? 'allocated' : 'free';
    const slice: SliceView = {
      profile: 'whole',
      start: 0,
      size: MEMORY_SLOTS,
      state,
      ...claimed(claim),
      ...(realisedWhole && r.uuid ? { uuid: r.uuid } : {}),
      pods: withPods(claim, realisedWhole ? r.pod : undefined),
    };
    return { ...base, slices: [slice], reconfiguring: !realisedWhole };
  }

  const realisedSlices = r?.mode === 'mig' ? r.slices : [];
  const key = (s: { profile: string; start: number }) => `${s.profile}@${s.start}`;
  const byKey = new Map(realisedSlices.map((s) => [key(s), s]));
  const slices: SliceView[] = [];
  if (t) {
    for (const ts of t.slices) {
      const real = byKey.get(key(ts));
      byKey.delete(key(ts));
      const state: SliceState = !real ? 'realising' : real.inUse ? 'in-use' : ts.claim ? 'allocated' : 'free';
      slices.push({
        profile: ts.profile,
        start: ts.start,
        size: size(ts.profile),
        state,
        ...claimed(ts.claim),
        ...(real ? { uuid: real.uuid } : {}),
        pods: withPods(ts.claim, real?.pod),
      });
    }
  }
  // Realised slices the target does not (or no longer) name: the operator has not written this GPU yet, or
  // the agent is destroying them.
  for (const real of byKey.values()) {
    const state: SliceState = real.inUse ? 'in-use' : t ? 'removing' : 'free';
    slices.push({ profile: real.profile, start: real.start, size: size(real.profile), state, uuid: real.uuid, pods: withPods(undefined, real.pod) });
  }
  slices.sort((a, b) => a.start - b.start);
  const reconfiguring = slices.some((s) => s.state === 'realising' || s.state === 'removing') || (t !== undefined && r?.mode === 'whole');
  return { ...base, slices, reconfiguring };
}

function since(value: string | undefined): { since?: string } {
  return value ? { since: value } : {};
}

/**
 * Partitions and jobs waiting, in queue order, with their tenant and, for a quota wait, the QuotaReserved
 * condition's reason and message; then gated pods by age.
 */
function pendingViews(input: SliceMapInput, tenants: ClaimTenants): PendingView[] {
  const queue = pendingRequests(input.partitions, input.jobs, input.gpuNodes).sort(compareQueue);
  const partitions = new Map(input.partitions.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const jobs = new Map(input.jobs.map((j) => [`${j.metadata.namespace}/${j.metadata.name}`, j]));
  const out: PendingView[] = queue.map((req, i) => {
    const id = `${req.namespace}/${req.name}`;
    const obj = req.kind === 'GpuPartition' ? partitions.get(id) : jobs.get(id);
    const quota = quotaReservedOf(obj?.status?.conditions);
    const why = quota && !quota.reserved ? { reason: quota.reason, message: quota.message } : waitingCondition(obj?.status?.conditions, req.kind === 'GpuPartition' ? ['Allocated', 'Ready'] : ['Placed']);
    const wants = req.kind === 'GpuPartition' ? partitionWants(partitions.get(id), req.request.members.length) : jobWants(jobs.get(id));
    const tenant = tenants.namespaceTenant(req.namespace);
    return {
      kind: req.kind,
      namespace: req.namespace,
      name: req.name,
      position: i + 1,
      priority: req.priority,
      wants,
      ...why,
      ...(req.created ? { created: req.created } : {}),
      ...(tenant ? { tenant } : {}),
      ...(quota ? { quota } : {}),
    };
  });
  const gated = input.pods
    .filter((p) => podGated(p) && !podTerminated(p) && !p.metadata.deletionTimestamp)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || podId(a).localeCompare(podId(b)));
  for (const pod of gated) {
    const partition = podPartition(pod);
    out.push({
      kind: 'Pod',
      namespace: pod.metadata.namespace ?? '',
      name: pod.metadata.name ?? '',
      wants: partition ? `a slice of GpuPartition ${partition}` : 'a slice of a matching GpuPartition',
      reason: 'Gated',
      message: pod.metadata.annotations?.[ADMISSION_ANNOTATION] ?? 'waiting for the operator to check its partition',
      ...(pod.metadata.creationTimestamp ? { created: pod.metadata.creationTimestamp } : {}),
    });
  }
  return out;
}

/** The reason and message of the first False condition of the given types (the operator's verdict). */
export function waitingCondition(conditions: Condition[] | undefined, types: string[]): { reason: string; message: string } {
  for (const type of types) {
    const c = conditions?.find((x) => x.type === type && x.status !== 'True');
    if (c) return { reason: c.reason, message: c.message };
  }
  return { reason: 'Pending', message: 'not examined by the operator yet' };
}

/** `2 × 3g.90gb`, or `1 × ≥ 40Gi, 3 compute slices` for a partition sized by need. */
export function partitionWants(p: GpuPartition | undefined, missing: number): string {
  if (!p) return `${missing} slice(s)`;
  const what = p.spec.profile ?? p.status?.profile ?? [p.spec.memory ? `≥ ${p.spec.memory}` : '', p.spec.computeSlices ? `${p.spec.computeSlices} compute slices` : ''].filter(Boolean).join(', ');
  return `${missing} × ${what}`;
}

/** `2 × 8 whole GPUs, sameClique`, or `4 × 1g.23gb`. */
export function jobWants(j: TrainingJob | undefined): string {
  if (!j) return 'a gang';
  const per = j.spec.gpusPerWorker ? `${j.spec.gpusPerWorker} whole GPU${j.spec.gpusPerWorker === 1 ? '' : 's'}` : (j.spec.profile ?? '?');
  const topology = j.spec.topology && j.spec.topology !== 'any' ? `, ${j.spec.topology}` : '';
  return `${j.spec.replicas} × ${per}${topology}`;
}

function reconfigurations(gpuNodes: GpuNode[]): ReconfigurationView[] {
  const running: ReconfigurationView[] = [];
  const finished: ReconfigurationView[] = [];
  for (const gn of gpuNodes) {
    const node = gn.metadata.name ?? '';
    const generation = gn.metadata.generation ?? 0;
    if (gn.status?.inventory && generation > (gn.status.observedGeneration ?? 0)) running.push({ node, generation, inProgress: true });
    const last = gn.status?.lastReconfiguration;
    if (last) {
      finished.push({ node, generation: last.generation, inProgress: false, startedAt: last.startedAt, finishedAt: last.finishedAt, durationSeconds: last.durationSeconds });
    }
  }
  running.sort((a, b) => a.node.localeCompare(b.node));
  finished.sort((a, b) => (b.finishedAt ?? '').localeCompare(a.finishedAt ?? '') || a.node.localeCompare(b.node));
  return [...running, ...finished.slice(0, RECENT_RECONFIGURATIONS)];
}
