/**
 * Every status condition type and reason, and every Event reason, of the Haein resources — declared once, here.
 * Reasons are PascalCase, machine-readable and stable; messages carry the details. Also the condition helpers
 * with "changed" semantics, in the style of metav1 `SetStatusCondition`. Pure.
 */
import type { Condition } from './types.js';

/** Condition types of a GpuPartition. */
export const PARTITION_CONDITIONS = {
  /** Every slot holds a slice in the ledger (True), or why not (False). */
  allocated: 'Allocated',
  /** Every allocated slice is realised by its node and free for the partition's pods. */
  ready: 'Ready',
  /** Elastic partitions only: `count` equals what the consuming pods need (True), or why not yet (False). */
  autoscaled: 'Autoscaled',
  /** The tenant's quota admits the partition (present only where tenant quotas apply). */
  quotaReserved: 'QuotaReserved',
} as const;

/** Condition types of a TrainingJob. */
export const JOB_CONDITIONS = {
  placed: 'Placed',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  suspended: 'Suspended',
  /** The tenant's quota admits the gang (present only where tenant quotas apply). */
  quotaReserved: 'QuotaReserved',
} as const;

/** Condition types of a GpuTenant. */
export const TENANT_CONDITIONS = {
  /** Its namespaces are resolved and none is claimed by another tenant too. */
  ready: 'Ready',
} as const;

/** Reasons of the `QuotaReserved` condition of partitions and jobs. */
export const QUOTA_REASONS = {
  /** Held within the tenant's nominal quota. */
  nominal: 'Nominal',
  /** Held partly on quota borrowed from the cohort (reclaimed first when a lender needs it). */
  borrowed: 'Borrowed',
  /** The quota admits the request; it waits for capacity. */
  available: 'QuotaAvailable',
  /** The tenant's quota (and what its cohort lends) does not cover the request. */
  exceeded: 'QuotaExceeded',
  /** A per-profile cap of the tenant does not cover it. */
  profileLimit: 'ProfileLimitExceeded',
  /** The namespace belongs to no tenant and the cluster refuses such namespaces. */
  noTenant: 'NoTenant',
  /** Two tenants claim the namespace. */
  conflict: 'TenantConflict',
} as const;

/** Reasons of GpuTenant conditions. */
export const TENANT_REASONS = {
  resolved: 'Resolved',
  namespaceConflict: 'NamespaceConflict',
} as const;

/** Condition types of a GpuNode (written by the node agent). */
export const GPUNODE_CONDITIONS = {
  layoutRealised: 'LayoutRealised',
  agentReady: 'AgentReady',
} as const;

/**
 * Why a request holds, or does not hold, its slices: the reasons of `Allocated` (partitions) and `Placed` (jobs).
 * The placement engine's failure codes are reasons too (see `PlacementFailureCode`).
 */
export const ADMISSION_REASONS = {
  /** Everything the request asks for is in the ledger. */
  placed: 'Placed',
  /** Some slots are placed, the rest are being placed. */
  placing: 'Placing',
  /** Waiting for the admission cycle to consider it (it was just created or changed). */
  queued: 'Queued',
  /** Held back because a higher-priority request needs the capacity it would take. */
  waitingForPriority: 'WaitingForPriority',
  /** Placed on slices of lower-priority claims whose pods are being evicted first. */
  preempting: 'Preempting',
  /** The spec cannot be satisfied as written (unparsable memory, no such profile). */
  invalidRequest: 'InvalidRequest',
  unknownProfile: 'UnknownProfile',
  noMatchingNodes: 'NoMatchingNodes',
  insufficientCapacity: 'InsufficientCapacity',
  topologyUnsatisfiable: 'TopologyUnsatisfiable',
} as const;

/** Reasons of a GpuPartition's `Ready` condition besides the admission reasons. */
export const PARTITION_READY_REASONS = {
  /** Every slice is realised. */
  realised: 'Realised',
  /** The ledger holds every slice; a node has not realised its layout yet. */
  waitingForNode: 'WaitingForNode',
  /** A slice is still used by a pod of the claim it was taken from (preemption waits for the eviction). */
  waitingForEviction: 'WaitingForEviction',
  notAllocated: 'NotAllocated',
  /** `count` is 0: nothing to realise, no slice held. */
  scaledToZero: 'ScaledToZero',
} as const;

/** Reasons of an elastic GpuPartition's `Autoscaled` condition. */
export const AUTOSCALE_REASONS = {
  /** `count` is what the consuming pods need (within min and max). */
  followingConsumers: 'FollowingConsumers',
  /** The pods need more than `spec.autoscale.max`; the rest wait. */
  limitedByMaximum: 'LimitedByMaximum',
  /** The cluster had no room for the whole growth: count grows one slice at a time, the rest of the pods wait. */
  limitedByCapacity: 'LimitedByCapacity',
  /** Slices are idle; they are released once the scale-down delay has passed. */
  scaleDownDelayed: 'ScaleDownDelayed',
  /** The delay has passed, but an admitted pod does not hold its slice yet (or a gone pod's slice is still in use). */
  waitingForPods: 'WaitingForPods',
} as const;

/** Reasons of TrainingJob conditions. */
export const JOB_REASONS = {
  waitingForNodes: 'WaitingForNodes',
  restarting: 'Restarting',
  workersStarting: 'WorkersStarting',
  allWorkersRunning: 'AllWorkersRunning',
  allWorkersSucceeded: 'AllWorkersSucceeded',
  completed: 'Completed',
  suspended: 'Suspended',
  resumed: 'Resumed',
  workerFailed: 'WorkerFailed',
  backoffLimitExceeded: 'BackoffLimitExceeded',
} as const;

/** Reasons of GpuNode conditions (the node agent's). */
export const GPUNODE_REASONS = {
  realised: 'Realised',
  reconfiguring: 'Reconfiguring',
  illegalLayout: 'IllegalLayout',
  sliceInUse: 'SliceInUse',
  failed: 'Failed',
  started: 'Started',
  stopped: 'Stopped',
} as const;

/** Reasons of Events the operator records. */
export const EVENT_REASONS = {
  placed: 'Placed',
  ready: 'Ready',
  released: 'Released',
  unsatisfiable: 'Unsatisfiable',
  unknownProfile: 'UnknownProfile',
  waitingForPriority: 'WaitingForPriority',
  preempted: 'Preempted',
  preempting: 'Preempting',
  evicted: 'Evicted',
  defragmenting: 'Defragmenting',
  moved: 'Moved',
  deletionBlocked: 'DeletionBlocked',
  nodeLost: 'NodeLost',
  claimReleased: 'ClaimReleased',
  claimSwapped: 'ClaimSwapped',
  sliceMisused: 'SliceMisused',
  sliceRestored: 'SliceRestored',
  claimDisplaced: 'ClaimDisplaced',
  gangIncomplete: 'GangIncomplete',
  gangRestart: 'GangRestart',
  workersCreated: 'WorkersCreated',
  suspended: 'Suspended',
  completed: 'Completed',
  admitted: 'Admitted',
  reclaimed: 'Reclaimed',
  namespaceConflict: 'NamespaceConflict',
  bound: 'Bound',
  /** The autoscaler raised an elastic partition's count. */
  scaledUp: 'ScaledUp',
  /** The autoscaler lowered an elastic partition's count. */
  scaledDown: 'ScaledDown',
} as const;

/**
 * Why a gated pod still waits (Warning Events on the pod, and its `gpu.haein.dev/admission` annotation), or
 * why a pod that names no partition is not bound to one.
 */
export const POD_WAIT_REASONS = {
  partitionNotFound: 'PartitionNotFound',
  partitionTerminating: 'PartitionTerminating',
  partitionNotReady: 'PartitionNotReady',
  resourceMismatch: 'ResourceMismatch',
  /** Every slice is taken and the partition does not grow (no autoscale, or at its max). */
  partitionFull: 'PartitionFull',
  /** An elastic partition grows for the pod; the pod starts once its new slice is realised. */
  waitingForSlice: 'WaitingForSlice',
  /** An elastic partition should grow for the pod but cannot (its Allocated reason says why, e.g. InsufficientCapacity). */
  partitionCannotGrow: 'PartitionCannotGrow',
  /** `count` went below the slices held: idle ones are being released, so no new pod starts meanwhile. */
  partitionShrinking: 'PartitionShrinking',
  noMatchingPartition: 'NoMatchingPartition',
  partitionsFull: 'PartitionsFull',
} as const;

/** A condition as a reconciler wants it; the helper fills in the transition time. */
export interface DesiredCondition {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/**
 * Returns `conditions` with `want` set. `lastTransitionTime` moves only when the status flips; reason,
 * message and observedGeneration are updated in place.
 */
export function setCondition(conditions: Condition[] | undefined, want: DesiredCondition, generation: number | undefined, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === want.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: want.type,
    status: want.status,
    reason: want.reason,
    message: want.message,
    lastTransitionTime: prev && prev.status === want.status ? prev.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** `conditions` without the condition of `type`. */
export function removeCondition(conditions: Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/** The condition of `type`, if present. */
export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` is present with status True. */
export function isConditionTrue(conditions: Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
