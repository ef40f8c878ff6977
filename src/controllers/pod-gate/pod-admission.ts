/**
 * Admission decisions for pods that consume a GpuPartition through the scheduling gate: which gated pods may
 * start, on which of the partition's nodes, and why the others must wait. Pure: no Kubernetes calls.
 */
import { GROUP } from '../../api/constants.js';
import type { GpuPartition } from '../../api/types.js';
import { podExtendedRequests, podGated, podPartition, podTargetNode, podTerminated, type PodObject } from '../../api/pods.js';

/** Annotation on a gated pod carrying why it is still waiting. */
export const ADMISSION_ANNOTATION = `${GROUP}/admission`;

/** A pod the operator has admitted but the cache may not show ungated yet. */
export interface AssumedAdmission {
  uid: string;
  node: string;
  slices: number;
}

/** What happens to one gated pod. */
export type AdmissionDecision =
  | { pod: PodObject; admit: true; node: string }
  | { pod: PodObject; admit: false; reason: string; message: string };

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

/** Decides, oldest pod first, which gated pods of the partition may start and where. */
export function decideAdmissions(input: AdmissionInput): AdmissionDecision[] {
  const mine = input.pods.filter((p) => podPartition(p) === input.partitionName);
  const assumedUids = new Set(input.assumed.map((a) => a.uid));
  // An assumed pod was already admitted; the cache just does not show it yet.
  const gated = mine
    .filter((p) => podGated(p) && !podTerminated(p) && !p.metadata.deletionTimestamp && !assumedUids.has(p.metadata.uid ?? ''))
    .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  if (gated.length === 0) return [];
  const refuseAll = (reason: string, message: string): AdmissionDecision[] => gated.map((pod) => ({ pod, admit: false, reason, message }));
  const ref = `${input.namespace}/${input.partitionName}`;
  const p = input.partition;
  if (!p) {
    const hint = input.elsewhere.length > 0
      ? `; a GpuPartition of that name exists in namespace ${input.elsewhere.join(', ')}, but pods may only use partitions of their own namespace`
      : '';
    return refuseAll('PartitionNotFound', `GpuPartition ${ref} not found${hint}`);
  }
  if (p.metadata.deletionTimestamp) return refuseAll('PartitionTerminating', `GpuPartition ${ref} is being deleted`);
  const resource = p.status?.resourceName;
  if (p.status?.phase !== 'Ready' || !resource) {
    const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
    return refuseAll('PartitionNotReady', `GpuPartition ${ref} is not Ready (phase ${p.status?.phase ?? 'Pending'}${ready ? `: ${ready.message}` : ''})`);
  }

  // Capacity per node: the partition's slices there, minus what admitted pods (cached or assumed) hold.
  const capacity = new Map<string, number>();
  for (const a of p.status?.allocations ?? []) capacity.set(a.node, (capacity.get(a.node) ?? 0) + 1);
  const used = new Map<string, number>();
  const holders: string[] = [];
  const counted = new Set<string>();
  for (const pod of mine) {
    if (podGated(pod) || podTerminated(pod)) continue;
    const node = podTargetNode(pod);
    if (!node) continue;
    counted.add(pod.metadata.uid ?? '');
    holders.push(pod.metadata.name ?? '');
    used.set(node, (used.get(node) ?? 0) + slicesOf(pod, resource));
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
      out.push({
        pod,
        admit: false,
        reason: 'ResourceMismatch',
        message: `pod must request ${resource} (the resource of GpuPartition ${ref}) and no other GPU resource; it requests ${[...requests.keys()].join(', ') || 'none'}`,
      });
      continue;
    }
    // Spread: the node with the most free slices, then the fewest used, then by name.
    const nodes = [...capacity.keys()]
      .map((node) => ({ node, free: (capacity.get(node) ?? 0) - (used.get(node) ?? 0), used: used.get(node) ?? 0 }))
      .filter((n) => n.free >= want)
      .sort((a, b) => b.free - a.free || a.used - b.used || a.node.localeCompare(b.node));
    const pick = nodes[0];
    if (!pick) {
      const total = [...capacity.values()].reduce((s, x) => s + x, 0);
      out.push({
        pod,
        admit: false,
        reason: 'PartitionFull',
        message: `all ${total} slice(s) of GpuPartition ${ref} are in use${holders.length ? ` by ${holders.sort().join(', ')}` : ''}; the pod starts when one is free`,
      });
      continue;
    }
    used.set(pick.node, pick.used + want);
    holders.push(pod.metadata.name ?? '');
    out.push({ pod, admit: true, node: pick.node });
  }
  return out;
}

/** Slices of `resource` a pod requests. */
export function slicesOf(pod: PodObject, resource: string): number {
  return podExtendedRequests(pod).get(resource) ?? 0;
}
