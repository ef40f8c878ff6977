/**
 * How a partition's pods use it: how many pods consume it, the slices they ask for, the slices pods were
 * admitted to, and the slices the node agents report held. The autoscaler sizes `count` from it, and no pass
 * lets the ledger hold fewer slices than pods hold or were admitted to. Pure.
 */
import { partitionPods, podPartition, podSlices, podTerminated, type PodObject } from '../../api/pods.js';
import type { PartitionAllocation } from '../../api/types.js';

/** One partition's use by its pods. */
export interface PartitionUsage {
  /** Live consuming pods: gated or admitted, not finished, not being deleted. */
  consumers: number;
  /** Slices the consumers ask for. */
  needed: number;
  /** Slices asked for by admitted pods (gate lifted, not finished; a pod being deleted runs until it ends). */
  admitted: number;
  /** Slices the node agents report held by a container. */
  inUse: number;
}

/**
 * The usage of partition `name` by `pods` (the namespace's pods with the partition label), given its current
 * allocations. `resource` is the partition's extended resource; while it is not known yet (a partition sized by
 * memory before its first placement) every pod counts for one slice.
 */
export function partitionUsage(name: string, pods: PodObject[], allocations: PartitionAllocation[], resource: string | undefined): PartitionUsage {
  const slices = (pod: PodObject) => (resource ? podSlices(pod, resource) : 1);
  const live = pods.filter((p) => podPartition(p) === name && !podTerminated(p) && !p.metadata.deletionTimestamp);
  const { admitted } = partitionPods(pods, name);
  return {
    consumers: live.length,
    needed: live.reduce((n, p) => n + slices(p), 0),
    admitted: admitted.reduce((n, p) => n + slices(p), 0),
    inUse: allocations.filter((a) => a.inUse).length,
  };
}

/** Slices the ledger must keep whatever `count` says: those pods hold, or were admitted to and will hold. */
export function heldFloor(u: PartitionUsage): number {
  return Math.max(u.inUse, u.admitted);
}
