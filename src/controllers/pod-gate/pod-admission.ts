/**
 * Admission decisions for pods that consume a GpuPartition through the scheduling gate: which gated pods may
 * start, on which of the partition's nodes, and why the others must wait. Pure: no Kubernetes calls.
 */
import { GROUP } from '../../api/constants.js';
import { ADMISSION_REASONS, PARTITION_CONDITIONS, PARTITION_READY_REASONS, POD_WAIT_REASONS, findCondition } from '../../api/conditions.js';
import type { GpuPartition } from '../../api/types.js';
import { podExtendedRequests, podGated, podPartition, podSlices, podTargetNode, podTerminated, type PodObject } from '../../api/pods.js';

/** Annotation on a gated pod carrying why it is still waiting. */
export const ADMISSION_ANNOTATION = `${GROUP}/admission`;
/** Annotation on a gated pod carrying the key of its waiting reason: a Warning Event is recorded once per key. */
export const ADMISSION_REASON_ANNOTATION = `${GROUP}/admission-reason`;

/** Allocated reasons of a partition that is growing normally (its new slices are being placed or realised). */
const GROWING: ReadonlySet<string> = new Set([ADMISSION_REASONS.placed, ADMISSION_REASONS.placing, ADMISSION_REASONS.queued]);

/** A pod the operator has admitted but the cache may not show ungated yet. */
export interface AssumedAdmission {
  uid: string;
  node: string;
  slices: number;
}

/** What happens to one gated pod. */
export type AdmissionDecision =
  | { pod: PodObject; admit: true; node: string }
  /** `key`: what a waiting pod's Event is deduplicated by (the reason, refined by the partition's Allocated reason). */
  | { pod: PodObject; admit: false; reason: string; message: string; key: string };

/** Inputs of one decision round for one partition. */
export interface AdmissionInput {
  namespace: string;
  partitionName: string;
  /** The partition in the pods' namespace, if it exists. */
  partition: GpuPartition | undefined;
  /** Namespaces where a partition of that name exists (for a helpful message). */
  elsewhere: string[];
  /** Pods of the namespace labelled with this partition. */
  pods: PodObject[];
  /** Admissions made earlier that the cache may not reflect yet. */
  assumed: AssumedAdmission[];
}

/**
 * Decides, oldest pod first, which gated pods of the partition may start and where. A pod may start on a
 * realised slice that no admitted pod takes, also while the partition grows (its other slices are still being
 * placed or carved); not while `count` is below the slices held (the idle ones are about to be released, and a
 * pod pinned to one would never get it), nor while a slice is still used by the pod of a preempted holder.
 */
export function decideAdmissions(input: AdmissionInput): AdmissionDecision[] {
  const mine = input.pods.filter((p) => podPartition(p) === input.partitionName);
  const assumedUids = new Set(input.assumed.map((a) => a.uid));
  // An assumed pod was already admitted; the cache just does not show it yet.
  const gated = mine
    .filter((p) => podGated(p) && !podTerminated(p) && !p.metadata.deletionTimestamp && !assumedUids.has(p.metadata.uid ?? ''))
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  if (gated.length === 0) return [];
  const refuseAll = (reason: string, message: string, key = reason): AdmissionDecision[] => gated.map((pod) => ({ pod, admit: false, reason, message, key }));
  const ref = `${input.namespace}/${input.partitionName}`;
  const p = input.partition;
  if (!p) {
    const hint = input.elsewhere.length > 0
      ? `; a GpuPartition of that name exists in namespace ${input.elsewhere.join(', ')}, but pods may only use partitions of their own namespace`
      : '';
    return refuseAll(POD_WAIT_REASONS.partitionNotFound, `GpuPartition ${ref} not found${hint}`);
  }
  if (p.metadata.deletionTimestamp) return refuseAll(POD_WAIT_REASONS.partitionTerminating, `GpuPartition ${ref} is being deleted`);
  const resource = p.status?.resourceName;
  const phase = p.status?.phase ?? 'Pending';
  const ready = findCondition(p.status?.conditions, PARTITION_CONDITIONS.ready);
  const allocations = p.status?.allocations ?? [];
  const count = p.spec.count ?? 1;
  const notReady = () => refuseAll(POD_WAIT_REASONS.partitionNotReady, `GpuPartition ${ref} is not Ready (phase ${phase}${ready ? `: ${ready.message}` : ''})`);
  if (!resource || phase === 'Failed' || phase === 'Terminating' || ready?.reason === PARTITION_READY_REASONS.waitingForEviction) return notReady();
  if (allocations.length > count) {
    return refuseAll(
      POD_WAIT_REASONS.partitionShrinking,
      `GpuPartition ${ref} holds ${allocations.length} slice(s) but its count is ${count}: idle slices are being released, and slices pods hold stay until those pods end; the pod starts once a slice within the count is free`,
    );
  }

  // Capacity per node: the partition's realised slices there, minus what admitted pods (cached or assumed) hold.
  const capacity = new Map<string, number>();
  for (const a of allocations) if (a.realised) capacity.set(a.node, (capacity.get(a.node) ?? 0) + 1);
  const used = new Map<string, number>();
  const holders: string[] = [];
  const counted = new Set<string>();
  for (const pod of mine) {
    if (podGated(pod) || podTerminated(pod)) continue;
    const node = podTargetNode(pod);
    if (!node) continue;
    counted.add(pod.metadata.uid ?? '');
    holders.push(pod.metadata.name ?? '');
    used.set(node, (used.get(node) ?? 0) + podSlices(pod, resource));
  }
  const live = new Set(mine.filter((x) => !podTerminated(x)).map((x) => x.metadata.uid));
  for (const a of input.assumed) {
    if (counted.has(a.uid) || !live.has(a.uid)) continue;
    used.set(a.node, (used.get(a.node) ?? 0) + a.slices);
  }

  const out: AdmissionDecision[] = [];
  for (const pod of gated) {
    const requests = podExtendedRequests(pod);
    const want = requests.get(resource) ?? 0;
    const others = [...requests.keys()].filter((k) => k !== resource && (requests.get(k) ?? 0) > 0);
    if (want < 1 || others.length > 0) {
      const message = `pod must request ${resource} (the resource of GpuPartition ${ref}) and no other GPU resource; it requests ${[...requests.keys()].join(', ') || 'none'}`;
      out.push({ pod, admit: false, reason: POD_WAIT_REASONS.resourceMismatch, message, key: POD_WAIT_REASONS.resourceMismatch });
      continue;
    }
    // Spread: the node with the most free slices, then the fewest used, then by name.
    const nodes = [...capacity.keys()]
      .map((node) => ({ node, free: (capacity.get(node) ?? 0) - (used.get(node) ?? 0), used: used.get(node) ?? 0 }))
      .filter((n) => n.free >= want)
      .sort((a, b) => b.free - a.free || a.used - b.used || a.node.localeCompare(b.node));
    const pick = nodes[0];
    if (!pick) {
      out.push({ pod, ...noFreeSlice(p, ref, [...capacity.values()].reduce((s, x) => s + x, 0), holders), admit: false });
      continue;
    }
    used.set(pick.node, pick.used + want);
    holders.push(pod.metadata.name ?? '');
    out.push({ pod, admit: true, node: pick.node });
  }
  return out;
}

/** Why a pod finds no free realised slice: the partition is full, grows for it, cannot grow, or is not Ready. */
function noFreeSlice(p: GpuPartition, ref: string, realised: number, holders: string[]): { reason: string; message: string; key: string } {
  const count = p.spec.count ?? 1;
  const by = holders.length ? ` by ${[...holders].sort().join(', ')}` : '';
  const auto = p.spec.autoscale;
  const allocated = findCondition(p.status?.conditions, PARTITION_CONDITIONS.allocated);
  if (auto && count < auto.max) {
    // An elastic partition grows for its pods: the autoscaler raises count, the admission cycle places the slice.
    if (!allocated || allocated.status === 'True' || GROWING.has(allocated.reason)) {
      const ready = findCondition(p.status?.conditions, PARTITION_CONDITIONS.ready);
      const progress = allocated?.status === 'False' ? allocated.message : ready?.status === 'False' ? ready.message : `count ${count}, ${realised} slice(s) realised, all in use${by}`;
      const message = `GpuPartition ${ref} grows by a slice for this pod (up to spec.autoscale.max ${auto.max}); the pod starts once its slice is realised (${progress})`;
      return { reason: POD_WAIT_REASONS.waitingForSlice, message, key: POD_WAIT_REASONS.waitingForSlice };
    }
    const message = `GpuPartition ${ref} cannot grow to ${count} slice(s) for this pod: Allocated=False, ${allocated.reason}: ${allocated.message}; the pod starts when a slice is placed or one of the partition's is free`;
    return { reason: POD_WAIT_REASONS.partitionCannotGrow, message, key: `${POD_WAIT_REASONS.partitionCannotGrow}/${allocated.reason}` };
  }
  if (p.status?.phase === 'Ready') {
    const max = auto ? `; the partition is at its spec.autoscale.max ${auto.max}` : '';
    return { reason: POD_WAIT_REASONS.partitionFull, message: `all ${realised} slice(s) of GpuPartition ${ref} are in use${by}${max}; the pod starts when one is free`, key: POD_WAIT_REASONS.partitionFull };
  }
  const ready = findCondition(p.status?.conditions, PARTITION_CONDITIONS.ready);
  const inUse = realised > 0 ? ` and its ${realised} realised slice(s) are in use${by}` : '';
  const message = `GpuPartition ${ref} is not Ready (phase ${p.status?.phase ?? 'Pending'}${ready ? `: ${ready.message}` : ''})${inUse}`;
  return { reason: POD_WAIT_REASONS.partitionNotReady, message, key: POD_WAIT_REASONS.partitionNotReady };
}

// ---------------------------------------------------------------- pods that name no partition

/** The partition label value of a pod that asks the operator to choose its partition. */
export const CHOOSE_PARTITION = '';

/** True for a gated pod whose partition label is empty: the operator picks its partition. */
export function podAwaitsBinding(pod: PodObject): boolean {
  return podPartition(pod) === CHOOSE_PARTITION && podGated(pod) && !podTerminated(pod) && !pod.metadata.deletionTimestamp;
}

/** What happens to one pod that names no partition. */
export type BindingDecision =
  | { pod: PodObject; bind: true; partition: string }
  | { pod: PodObject; bind: false; reason: string; message: string };

/** The MIG profile behind an extended resource name (`nvidia.com/mig-1g.23gb` → `1g.23gb`). */
export function profileOfResource(resource: string): string {
  return resource.replace(/^nvidia\.com\/mig-/, '');
}

/**
 * Chooses a partition for every pod of a namespace that names none (label `gpu.haein.dev/partition: ""`, set
 * with the gate by the chart's MutatingAdmissionPolicy on plain NVIDIA-style pods), oldest pod first.
 *
 * Rule: a pod requesting `n` of one `nvidia.com/mig-<profile>` resource (and no other GPU resource) goes to the
 * Ready GpuPartition of its namespace whose `status.resourceName` is that resource and that has `n` slices not
 * taken by the pods already bound to it; among several, the one whose name sorts first. A pod that fits none
 * stays gated, and the reason names what to create or wait for.
 */
export function decideBindings(input: { namespace: string; partitions: GpuPartition[]; pods: PodObject[] }): BindingDecision[] {
  const waiting = input.pods
    .filter(podAwaitsBinding)
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  if (waiting.length === 0) return [];
  // Slices each partition still has for new pods: its allocations minus what its live pods ask for.
  const taken = new Map<string, number>();
  const partitions = input.partitions.filter((p) => !p.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  for (const pod of input.pods) {
    const name = podPartition(pod);
    if (!name || podTerminated(pod)) continue;
    const p = partitions.find((x) => x.metadata.name === name);
    taken.set(name, (taken.get(name) ?? 0) + (p?.status?.resourceName ? podSlices(pod, p.status.resourceName) : 0));
  }
  const room = (p: GpuPartition) => (p.status?.allocations?.length ?? 0) - (taken.get(p.metadata.name ?? '') ?? 0);
  const out: BindingDecision[] = [];
  for (const pod of waiting) {
    const requests = podExtendedRequests(pod);
    const gpuResources = [...requests.entries()].filter(([, n]) => n > 0).map(([r]) => r);
    const mig = gpuResources.filter((r) => r.startsWith('nvidia.com/mig-'));
    if (mig.length !== 1 || gpuResources.length !== 1) {
      out.push({
        pod,
        bind: false,
        reason: POD_WAIT_REASONS.resourceMismatch,
        message: `a pod without a partition label must request exactly one nvidia.com/mig-* resource and no other GPU resource to be matched to a GpuPartition; it requests ${gpuResources.join(', ') || 'none'}`,
      });
      continue;
    }
    const resource = mig[0] as string;
    const want = requests.get(resource) ?? 0;
    const offering = partitions.filter((p) => p.status?.resourceName === resource || (!p.status?.resourceName && p.spec.profile === profileOfResource(resource)));
    const ready = offering.filter((p) => p.status?.phase === 'Ready' && p.status.resourceName === resource);
    const pick = ready.find((p) => room(p) >= want);
    if (pick) {
      const name = pick.metadata.name as string;
      taken.set(name, (taken.get(name) ?? 0) + want);
      out.push({ pod, bind: true, partition: name });
      continue;
    }
    const where = `namespace ${input.namespace}`;
    if (offering.length === 0) {
      out.push({
        pod,
        bind: false,
        reason: POD_WAIT_REASONS.noMatchingPartition,
        message: `no GpuPartition in ${where} offers ${resource}: create one with spec.profile ${profileOfResource(resource)} and count >= ${want} (kind GpuPartition, apiVersion gpu.haein.dev/v1alpha1) in ${where}; the pod starts on it once it is Ready`,
      });
    } else if (ready.length === 0) {
      out.push({
        pod,
        bind: false,
        reason: POD_WAIT_REASONS.partitionNotReady,
        message: `the GpuPartition(s) offering ${resource} in ${where} are not Ready yet (${offering.map((p) => `${p.metadata.name}: ${p.status?.phase ?? 'Pending'}`).join(', ')}); the pod starts when one is`,
      });
    } else {
      out.push({
        pod,
        bind: false,
        reason: POD_WAIT_REASONS.partitionsFull,
        message: `every GpuPartition offering ${resource} in ${where} is full (${ready.map((p) => `${p.metadata.name}: ${Math.max(0, room(p))} of ${p.status?.allocations?.length ?? 0} free`).join(', ')}); raise a partition's count or create another, or the pod starts when ${want} slice(s) are free`,
      });
    }
  }
  return out;
}
