/**
 * Maps informer changes to reconcile requests and to admission-cycle signals: a GpuNode change wakes the
 * claimants that hold slices on it (their status follows realisation); a pod change wakes its partition or job;
 * and a change of what placement sees — outside this replica's own ledger writes — tells the admission cycle
 * that parked demands may fit now. Pure.
 */
import { JOB_LABEL, PARTITION_LABEL } from '../api/constants.js';
import type { GpuNode } from '../api/types.js';
import { deepEqual } from '../k8s/deep-equal.js';
import { ledgerEntries, type ClaimantKind } from '../ledger/claims.js';
import { nodeSchedulable, placementView, type NodeObject } from '../ledger/snapshot.js';
import type { PodObject } from '../api/pods.js';
import type { ReconcileRequest } from '../runtime/ports.js';

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

/** GpuNode change → the claimants of `kind` with claims on it, before or after. */
export function gpuNodeToClaimants(kind: ClaimantKind) {
  return (gn: GpuNode, prev: GpuNode | undefined): ReconcileRequest[] => claimantsOn(kind, gn, prev);
}

/**
 * Whether a GpuNode change can let a waiting request fit: the node appeared or went away, somebody else changed
 * its ledger (`ownSpec` tells this replica's own writes), or what placement reads of its status and labels changed
 * (busy slices, health, agent readiness, inventory). The realisation of an idle slice does not.
 */
export function gpuNodeCapacityChanged(gn: GpuNode, prev: GpuNode | undefined, deleted: boolean, ownSpec: (gn: GpuNode) => boolean): boolean {
  if (deleted || !prev) return true;
  if (!deepEqual(gn.spec ?? {}, prev.spec ?? {}) && !ownSpec(gn)) return true;
  // With the spec held fixed, only status and metadata differ between the two views.
  return placementView({ ...prev, spec: gn.spec }) !== placementView(gn);
}

/**
 * True when a Node change can matter for placement: it appeared or went away, its labels changed, or it became
 * (un)schedulable. Heartbeat-only status updates do not.
 */
export function nodePlacementChanged(node: NodeObject, prev: NodeObject | undefined, deleted: boolean): boolean {
  if (deleted || !prev) return true;
  return JSON.stringify(node.metadata.labels ?? {}) !== JSON.stringify(prev.metadata.labels ?? {}) || nodeSchedulable(node) !== nodeSchedulable(prev);
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
