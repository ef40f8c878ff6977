/**
 * A demand: what one claimant (GpuPartition or TrainingJob) wants the ledger to hold, as its reconciler last saw
 * the object. Reconcilers submit demands; the admission cycle decides them against the ledger as it is when the
 * cycle runs, so a demand is declarative ("hold these slots") rather than an instruction ("place slot 2"), and
 * submitting the same demand twice is harmless. Pure.
 */
import type { ClaimRef, GpuPartition, ObjectMeta, TrainingJob } from '../api/types.js';
import type { ClaimantId, ClaimantKind, LedgerEntry } from '../ledger/claims.js';
import type { PlacementRequest } from '../placement/types.js';
import { gangRequest, partitionRequest } from './requests.js';

/** Hold `slots` slots (placing the missing ones); entries the spec no longer wants are given back. */
export interface HoldWant {
  kind: 'hold';
  slots: number;
  /**
   * Whether an entry the claimant holds still satisfies its spec (e.g. has the spec's profile). For a gang also
   * its rank; for a partition the cycle picks which `slots` of the fitting entries to keep and numbers them.
   */
  keeps(entry: LedgerEntry): boolean;
  /** The engine request for the given missing slots. */
  request(missing: number[]): PlacementRequest;
  /** The ledger claim of a new slot. */
  claim(slot: number): ClaimRef;
  /** All or nothing: a holding that is not {@link complete} is given back and the whole set placed again. */
  gang: boolean;
  /** Whether the kept entries are exactly what the spec asks for (gangs: every rank whole, on one node). */
  complete(kept: LedgerEntry[]): boolean;
  /** Pods use what is held: a placement that fails does not give back the slots already held. */
  inUse: boolean;
}

/** Hold nothing: the object is being deleted, suspended or finished, or the claims lost their owner or node. */
export interface ReleaseWant {
  kind: 'release';
  /** Only claims of this object uid (an orphan of an older object of the same name); all uids when absent. */
  uid?: string;
  /** Only claims on these nodes (their Kubernetes Node is gone); every node when absent. */
  nodes?: string[];
  /** Why, for the Event: the owner asked, the owner is gone, or the node is gone. */
  cause: 'owner' | 'ownerGone' | 'nodeGone';
}

/** What a claimant wants, as of the object version `generation`. */
export interface Demand {
  /** `Kind/namespace/name`. */
  key: string;
  who: ClaimantId;
  uid: string;
  generation: number;
  priority: number;
  /** `metadata.creationTimestamp`, for the queue order (older first within a priority). */
  created: string;
  want: HoldWant | ReleaseWant;
}

/** The queue key of a claimant. */
export function demandKey(kind: ClaimantKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/**
 * A short fingerprint of what a demand asks for: two demands with the same signature would be decided the same
 * way on the same ledger, so resubmitting an unchanged demand does not wake it.
 */
export function demandSignature(d: Demand): string {
  const w = d.want.kind === 'hold' ? `hold:${d.want.slots}:${d.want.inUse ? 'used' : 'idle'}` : `release:${d.want.uid ?? ''}:${(d.want.nodes ?? []).join(',')}`;
  return `${d.uid}|${d.generation}|${d.priority}|${w}`;
}

/** What every demand of a claimant carries: its key, identity, generation, priority and age. */
function demandBase<K extends ClaimantKind>(kind: K, obj: { metadata: ObjectMeta; spec: { priority?: number } }) {
  const namespace = obj.metadata.namespace as string;
  const name = obj.metadata.name as string;
  return {
    key: demandKey(kind, namespace, name),
    who: { kind, namespace, name },
    uid: obj.metadata.uid ?? '',
    generation: obj.metadata.generation ?? 0,
    priority: obj.spec.priority ?? 0,
    created: obj.metadata.creationTimestamp ?? '',
  };
}

/** The demand of a partition: hold `count` slots of its profile, or nothing while it is being deleted. */
export function partitionDemand(p: GpuPartition, opts: { release: boolean; inUse: boolean }): Demand {
  const base = demandBase('GpuPartition', p);
  const { namespace: ns, name } = base.who;
  const uid = base.uid;
  if (opts.release) return { ...base, want: { kind: 'release', cause: 'owner' } };
  // The closures keep only what they read: a demand outlives the cached object it was made from, and holding the
  // whole object (status, metadata) kept one stale copy of every queued partition alive.
  const own = slim(p);
  const count = p.spec.count ?? 1;
  const priority = p.spec.priority ?? 0;
  const preemptible = p.spec.preemptible ?? false;
  return {
    ...base,
    want: {
      kind: 'hold',
      slots: count,
      // Which slices survive a lower count is the cycle's choice (slices pods use first); here only the profile.
      keeps: (e) => e.profile !== undefined && (!own.spec.profile || e.profile === own.spec.profile),
      request: (missing) => partitionRequest(own, missing),
      claim: (slot) => ({ kind: 'GpuPartition', namespace: ns, name, uid, slot, priority, preemptible }),
      gang: false,
      complete: (kept) => new Set(kept.map((e) => e.claim.slot)).size === count,
      inUse: opts.inUse,
    },
  };
}

/** The demand of a job: hold its whole gang (one claim per rank), or nothing. */
export function jobDemand(job: TrainingJob, opts: { release: boolean }): Demand {
  const base = demandBase('TrainingJob', job);
  const { namespace: ns, name } = base.who;
  const uid = base.uid;
  if (opts.release) return { ...base, want: { kind: 'release', cause: 'owner' } };
  const own = slim(job);
  const priority = job.spec.priority ?? 0;
  const replicas = job.spec.replicas;
  return {
    ...base,
    want: {
      kind: 'hold',
      slots: replicas,
      keeps: (e) =>
        e.claim.slot < replicas && (own.spec.profile ? e.profile === own.spec.profile : e.profile === undefined),
      request: () => gangRequest(own),
      claim: (slot) => ({ kind: 'TrainingJob', namespace: ns, name, uid, slot, priority, preemptible: false }),
      gang: true,
      complete: (kept) => gangHeld(kept, replicas, own.spec.profile ? 1 : (own.spec.gpusPerWorker ?? 1)),
      inUse: false,
    },
  };
}

/** The object with only its name, namespace and spec (what a demand's request is built from). */
function slim<T extends GpuPartition | TrainingJob>(obj: T): T {
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, spec: obj.spec } as T;
}

/** True when every rank below `replicas` holds exactly `perRank` entries, all on one node. */
function gangHeld(kept: LedgerEntry[], replicas: number, perRank: number): boolean {
  const byRank = new Map<number, LedgerEntry[]>();
  for (const e of kept) byRank.set(e.claim.slot, [...(byRank.get(e.claim.slot) ?? []), e]);
  if (byRank.size !== replicas) return false;
  for (const list of byRank.values()) {
    if (list.length !== perRank || list.some((e) => e.node !== list[0]?.node)) return false;
  }
  return true;
}
