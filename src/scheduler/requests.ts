/**
 * The placement requests of GpuPartitions and TrainingJobs, and the list of those still waiting for capacity,
 * as the priority queue compares them. Pure: reads objects and ledger nodes only.
 */
import type { GpuNode, GpuPartition, TrainingJob } from '../api/types.js';
import type { Member, PlacementRequest, SliceMember } from '../placement/types.js';
import { holderKey, ledgerEntries, type ClaimantKind } from '../ledger/claims.js';
import { quantityToMiB } from '../api/quantity.js';

/** The engine request for the given slots of a partition. */
export function partitionRequest(p: GpuPartition, slots: number[]): PlacementRequest {
  const ns = p.metadata.namespace as string;
  const name = p.metadata.name as string;
  const memoryMiB = p.spec.memory !== undefined ? quantityToMiB(p.spec.memory) : undefined;
  const members: SliceMember[] = slots.map((slot) => ({
    kind: 'slice',
    key: holderKey('GpuPartition', ns, name, slot),
    ...(p.spec.profile ? { profile: p.spec.profile } : {}),
    ...(memoryMiB !== undefined ? { memoryMiB } : {}),
    ...(p.spec.computeSlices !== undefined ? { computeSlices: p.spec.computeSlices } : {}),
  }));
  return {
    id: `GpuPartition/${ns}/${name}`,
    members,
    topology: 'any',
    priority: p.spec.priority ?? 0,
    preemptible: p.spec.preemptible ?? false,
    mayPreempt: p.spec.preemptionPolicy === 'PreemptLowerPriority',
    constraints: {
      ...(p.spec.gpuProducts?.length ? { products: p.spec.gpuProducts } : {}),
      ...(p.spec.nodeSelector ? { nodeSelector: p.spec.nodeSelector } : {}),
    },
  };
}

/** The engine request for the whole gang. */
export function gangRequest(job: TrainingJob): PlacementRequest {
  const ns = job.metadata.namespace as string;
  const name = job.metadata.name as string;
  const members: Member[] = [...Array(job.spec.replicas).keys()].map((rank) =>
    job.spec.profile
      ? { kind: 'slice', key: holderKey('TrainingJob', ns, name, rank), profile: job.spec.profile }
      : { kind: 'whole', key: holderKey('TrainingJob', ns, name, rank), gpus: job.spec.gpusPerWorker ?? 1 },
  );
  return {
    id: `TrainingJob/${ns}/${name}`,
    members,
    topology: job.spec.topology ?? 'any',
    priority: job.spec.priority ?? 0,
    // A running gang is not preempted by partitions: tearing it down costs every worker's progress.
    preemptible: false,
    mayPreempt: false,
    constraints: {
      ...(job.spec.gpuProducts?.length ? { products: job.spec.gpuProducts } : {}),
      ...(job.spec.nodeSelector ? { nodeSelector: job.spec.nodeSelector } : {}),
    },
  };
}

/** A request waiting for capacity. */
export interface PendingRequest {
  kind: ClaimantKind;
  namespace: string;
  name: string;
  priority: number;
  /** `metadata.creationTimestamp` (RFC 3339; compares as a string). */
  created: string;
  /** What it still needs. */
  request: PlacementRequest;
}

/**
 * Partitions that hold fewer slots than `count` and have not failed (or are being deleted), with a request for
 * their missing slots; and TrainingJobs that are not suspended or finished and hold nothing (a gang is placed
 * whole). `ledger` is the GpuNode ledger the caller plans on.
 */
export function pendingRequests(partitions: GpuPartition[], jobs: TrainingJob[], ledger: GpuNode[]): PendingRequest[] {
  const out: PendingRequest[] = [];
  // One pass over the ledger: the slots each claimant (by kind, namespace, name and uid) holds.
  const held = new Map<string, Set<number>>();
  for (const e of ledgerEntries(ledger)) {
    const k = `${e.claim.kind}/${e.claim.namespace}/${e.claim.name}/${e.claim.uid}`;
    held.set(k, (held.get(k) ?? new Set()).add(e.claim.slot));
  }
  const slotsOf = (kind: ClaimantKind, o: { metadata: { namespace?: string; name?: string; uid?: string } }) =>
    held.get(`${kind}/${o.metadata.namespace}/${o.metadata.name}/${o.metadata.uid ?? ''}`) ?? new Set<number>();
  for (const p of partitions) {
    if (p.metadata.deletionTimestamp || p.status?.phase === 'Failed' || !p.metadata.name || !p.metadata.namespace) continue;
    const who = { kind: 'GpuPartition' as const, namespace: p.metadata.namespace, name: p.metadata.name };
    const mine = slotsOf('GpuPartition', p);
    const missing = [...Array(p.spec.count ?? 1).keys()].filter((s) => !mine.has(s));
    if (missing.length === 0) continue;
    out.push({ ...who, priority: p.spec.priority ?? 0, created: p.metadata.creationTimestamp ?? '', request: partitionRequest(p, missing) });
  }
  for (const j of jobs) {
    const phase = j.status?.phase;
    if (j.metadata.deletionTimestamp || j.spec.suspend || phase === 'Succeeded' || phase === 'Failed' || !j.metadata.name || !j.metadata.namespace) continue;
    const who = { kind: 'TrainingJob' as const, namespace: j.metadata.namespace, name: j.metadata.name };
    if (slotsOf('TrainingJob', j).size > 0) continue;
    out.push({ ...who, priority: j.spec.priority ?? 0, created: j.metadata.creationTimestamp ?? '', request: gangRequest(j) });
  }
  return out;
}
