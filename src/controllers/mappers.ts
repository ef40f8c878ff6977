/**
 * Maps informer changes to reconcile requests: a GpuNode or Node change wakes the claimants that hold
 * slices on it, and the ones still waiting for capacity when what placement sees of it changed; a pod change
 * wakes its partition or job. Pure.
 */
import { JOB_LABEL, PARTITION_LABEL } from '../api/constants.js';
import type { GpuNode, GpuPartition, TrainingJob } from '../api/types.js';
import { ledgerEntries, type ClaimantKind } from '../ledger/claims.js';
import type { PodObject } from '../api/pods.js';
import type { CachePort, ReconcileRequest } from '../runtime/ports.js';
import { nodeSchedulable, placementView, type NodeObject } from '../ledger/snapshot.js';

/** Claimants of `kind` holding claims on any of the given GpuNode versions. */
export function claimantsOn(kind: ClaimantKind, ...nodes: Array<GpuNode | undefined>): ReconcileRequest[] {
  const out = new Map<string, ReconcileRequest>();
  for (const e of ledgerEntries(nodes.filter((n) => n !== undefined))) {
    if (e.claim.kind === kind) out.set(`${e.claim.namespace}/${e.claim.name}`, { namespace: e.claim.namespace, name: e.claim.name });
  }
  return [...out.values()];
}

/** Merges request lists without duplicates. */
export function uniqueRequests(...lists: ReconcileRequest[][]): ReconcileRequest[] {
  const out = new Map<string, ReconcileRequest>();
  for (const r of lists.flat()) out.set(`${r.namespace ?? ''}/${r.name}`, r);
  return [...out.values()];
}

/**
 * Partitions that may be waiting for capacity (not Ready, not deleting, not fully allocated). An `Allocating`
 * partition holds its claims and is woken by changes of the nodes they are on.
 */
export function waitingPartitions(partitions: CachePort<GpuPartition>): ReconcileRequest[] {
  return partitions
    .list()
    .filter((p) => p.status?.phase !== 'Ready' && p.status?.phase !== 'Allocating' && !p.metadata.deletionTimestamp)
    .map((p) => ({ namespace: p.metadata.namespace as string, name: p.metadata.name as string }));
}

/** Jobs waiting for placement or realisation. */
export function waitingJobs(jobs: CachePort<TrainingJob>): ReconcileRequest[] {
  return jobs
    .list()
    .filter((j) => !j.spec.suspend && (j.status?.phase === undefined || j.status.phase === 'Pending' || j.status.phase === 'Placing'))
    .map((j) => ({ namespace: j.metadata.namespace as string, name: j.metadata.name as string }));
}

/**
 * True when a GpuNode change can change a placement decision: the node appeared or went away, or its
 * placement view (ledger, realised busy slices, health, inventory, agent readiness) differs. Realisation of
 * idle slices and other status-only writes do not.
 */
export function gpuNodePlacementChanged(gn: GpuNode, prev: GpuNode | undefined, deleted = false): boolean {
  if (deleted || !prev) return true;
  return placementView(gn) !== placementView(prev);
}

/**
 * Passes held back until the cache shows this process's ledger writes (see `LedgerExpectations`): `wake` gives
 * the ones to run now, `held` tells whether a request is among them (it then waits for `wake`, not for every
 * change). None by default.
 */
export interface CacheWaiters {
  wake(): ReconcileRequest[];
  held(req: ReconcileRequest): boolean;
}

const NO_WAITERS: CacheWaiters = { wake: () => [], held: () => false };

/**
 * GpuNode change → the partitions on it (before and after), the waiting partitions when placement could
 * change, and the passes that waited for the cache to show this process's writes.
 */
export function gpuNodeToPartitions(partitions: CachePort<GpuPartition>, cache: CacheWaiters = NO_WAITERS) {
  return (gn: GpuNode, prev: GpuNode | undefined, deleted = false): ReconcileRequest[] =>
    uniqueRequests(
      claimantsOn('GpuPartition', gn, prev),
      gpuNodePlacementChanged(gn, prev, deleted) ? waitingPartitions(partitions).filter((r) => !cache.held(r)) : [],
      cache.wake(),
    );
}

/** GpuNode change → the jobs on it (before and after), the waiting jobs when placement could change, and the cache waiters. */
export function gpuNodeToJobs(jobs: CachePort<TrainingJob>, cache: CacheWaiters = NO_WAITERS) {
  return (gn: GpuNode, prev: GpuNode | undefined, deleted = false): ReconcileRequest[] =>
    uniqueRequests(claimantsOn('TrainingJob', gn, prev), gpuNodePlacementChanged(gn, prev, deleted) ? waitingJobs(jobs).filter((r) => !cache.held(r)) : [], cache.wake());
}

/**
 * True when a Node change can matter for placement: it appeared or went away, its labels changed, or it became
 * (un)schedulable. Heartbeat-only status updates do not.
 */
export function nodePlacementChanged(node: NodeObject, prev: NodeObject | undefined, deleted: boolean): boolean {
  if (deleted || !prev) return true;
  return JSON.stringify(node.metadata.labels ?? {}) !== JSON.stringify(prev.metadata.labels ?? {}) || nodeSchedulable(node) !== nodeSchedulable(prev);
}

/** Core Node change that matters for placement → the claimants on the GpuNode of that name plus the waiting ones of `kind`. */
export function nodeToClaimants(kind: ClaimantKind, gpuNodes: CachePort<GpuNode>, waiting: () => ReconcileRequest[]) {
  return (node: NodeObject, prev: NodeObject | undefined, deleted: boolean): ReconcileRequest[] =>
    nodePlacementChanged(node, prev, deleted) ? uniqueRequests(claimantsOn(kind, gpuNodes.get(node.metadata.name ?? '')), waiting()) : [];
}

/** Pod change → the partition it names (same namespace). */
export function podToPartition(pod: PodObject): ReconcileRequest[] {
  const name = pod.metadata.labels?.[PARTITION_LABEL];
  return name && pod.metadata.namespace ? [{ namespace: pod.metadata.namespace, name }] : [];
}

/** Pod change → the job that owns it. */
export function podToJob(pod: PodObject): ReconcileRequest[] {
  const name = pod.metadata.labels?.[JOB_LABEL];
  return name && pod.metadata.namespace ? [{ namespace: pod.metadata.namespace, name }] : [];
}

/** Object → itself. */
export function self(obj: { metadata?: { name?: string; namespace?: string } }): ReconcileRequest[] {
  const name = obj.metadata?.name;
  if (!name) return [];
  return [{ ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}), name }];
}
