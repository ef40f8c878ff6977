/**
 * What one GpuPartition pass decides, from what it observed: the finalizer, the demand handed to the admission
 * cycle, the status (derived from the ledger and the cycle's verdict) and the Events of its transitions. Pure:
 * the reconciler observes and acts, this decides, so every rule is table-tested without a cluster.
 */
import { PARTITION_FINALIZER, PARTITION_LABEL, migResourceName } from '../../api/constants.js';
import { ADMISSION_REASONS, EVENT_REASONS, PARTITION_CONDITIONS, PARTITION_READY_REASONS, setCondition, type DesiredCondition } from '../../api/conditions.js';
import type { PodObject } from '../../api/pods.js';
import type { Condition, GpuNode, GpuPartition, GpuPartitionPhase, GpuPartitionStatus, PartitionAutoscaleStatus } from '../../api/types.js';
import type { LedgerEntry } from '../../ledger/claims.js';
import { PERMANENT_CODES } from '../../scheduler/cycle-planner.js';
import { partitionDemand, type Demand } from '../../scheduler/demand.js';
import type { VerdictView } from '../common/admission-port.js';
import { quotaCondition, withQuotaCondition } from '../common/quota-condition.js';
import type { PassEvent } from '../common/pass-event.js';
import type { InvalidSpec } from './partition-validation.js';
import { describeAllocations, describeWaiting, partitionAllocations } from './partition-status.js';

/** A freshly placed partition gets no `Allocating` status write if its node realises it within this time. */
export const ALLOCATING_STATUS_DELAY_MS = 1_000;


/** What a pass observed. */
export interface PartitionObservation {
  partition: GpuPartition;
  /** Ledger entries naming the partition (any uid), from the assumed ledger. */
  entries: LedgerEntry[];
  /** The newest known version of a GpuNode (realisation, device holders). */
  gpuNode(name: string): GpuNode | undefined;
  /** Pods of the namespace labelled with the partition. */
  pods: PodObject[];
  /** Pods admitted to the partition (gate lifted, not finished). */
  admitted: PodObject[];
  invalid?: InvalidSpec;
  verdict?: VerdictView;
  /** Milliseconds since this replica first saw the partition fully placed but not realised, if it has. */
  placedForMs?: number;
  /**
   * Slices pods hold or were admitted to: the ledger keeps at least this many whatever `count` says (a count
   * lowered below them releases the rest as their pods end).
   */
  floor?: number;
  /** The autoscaler's status and condition, for an elastic partition. */
  autoscale?: { status: PartitionAutoscaleStatus; condition: DesiredCondition };
  now: Date;
}

/** What the pass does. `status` undefined: leave the status as it is. */
export interface PartitionDecision {
  finalizer?: 'add' | 'remove';
  /** The demand to (re)submit, or `withdraw` to drop any queued one. */
  demand?: Demand | 'withdraw';
  status?: GpuPartitionStatus;
  events: PassEvent[];
  requeueAfterMs?: number;
}

/** Decides one pass. */
export function decidePartition(o: PartitionObservation): PartitionDecision {
  const p = o.partition;
  const hasFinalizer = (p.metadata.finalizers ?? []).includes(PARTITION_FINALIZER);
  if (p.metadata.deletionTimestamp) return decideDeletion(o, hasFinalizer);

  const specCount = p.spec.count ?? 1;
  const count = Math.max(specCount, o.floor ?? 0);
  // The demand asks for what the ledger must hold: never fewer slices than pods hold or were admitted to.
  const held: GpuPartition = count === specCount ? p : { ...p, spec: { ...p.spec, count } };
  const current = o.entries.filter((e) => e.claim.uid === p.metadata.uid);
  const kept = current
    .filter((e) => e.claim.slot < count && e.profile !== undefined && (!p.spec.profile || e.profile === p.spec.profile))
    .filter((e, i, all) => all.findIndex((x) => x.claim.slot === e.claim.slot) === i);
  const tidy = kept.length === o.entries.length;
  // Every wanted slot is held; slices beyond them (a lowered count, an older object's claims) are only released.
  const holdsAll = kept.length === count;
  const complete = tidy && holdsAll;
  const finalizer = current.length > 0 && !hasFinalizer ? ('add' as const) : undefined;

  if (o.invalid) {
    const status = buildStatus(o, count, kept, { type: PARTITION_CONDITIONS.allocated, status: 'False', ...o.invalid }, true);
    return { ...(finalizer ? { finalizer } : {}), demand: o.entries.length > 0 ? partitionDemand(p, { release: true, inUse: false }) : 'withdraw', status, events: statusEvents(p, status) };
  }

  const demand = complete ? ('withdraw' as const) : partitionDemand(held, { release: false, inUse: o.admitted.length > 0 });
  const verdict = o.verdict && o.verdict.uid === p.metadata.uid && o.verdict.generation === p.metadata.generation ? o.verdict : undefined;
  let allocated: DesiredCondition | undefined;
  // A partition releasing a surplus keeps serving what it holds: it stays Allocated (and Ready) meanwhile.
  if (!holdsAll) {
    const placedNote = kept.length > 0 ? `${kept.length} of ${count} slices placed; ` : '';
    if (verdict) {
      allocated = { type: PARTITION_CONDITIONS.allocated, status: 'False', reason: verdict.code, message: `${placedNote}${verdict.message}` };
    } else if (!p.status?.phase) {
      // Not decided yet and nothing reported so far: the cycle's verdict brings the first status (one write, not two).
      return { ...(finalizer ? { finalizer } : {}), demand, events: [] };
    } else {
      allocated = { type: PARTITION_CONDITIONS.allocated, status: 'False', reason: ADMISSION_REASONS.placing, message: `${kept.length} of ${count} slices placed` };
    }
  }
  const failed = verdict !== undefined && PERMANENT_CODES.has(verdict.code);
  const status = buildStatus(o, count, kept, allocated, failed);
  const waitingForNode = status.conditions?.find((c) => c.type === PARTITION_CONDITIONS.ready)?.reason === PARTITION_READY_REASONS.waitingForNode;
  const fresh = complete && waitingForNode && p.status?.phase !== 'Allocating' && p.status?.phase !== 'Ready';
  if (fresh && (o.placedForMs ?? 0) < ALLOCATING_STATUS_DELAY_MS) {
    // Just placed: the node usually realises it sooner than this, and then one write says Ready.
    return { ...(finalizer ? { finalizer } : {}), demand, events: [], requeueAfterMs: ALLOCATING_STATUS_DELAY_MS - (o.placedForMs ?? 0) };
  }
  return { ...(finalizer ? { finalizer } : {}), demand, status, events: statusEvents(p, status) };
}

function decideDeletion(o: PartitionObservation, hasFinalizer: boolean): PartitionDecision {
  const p = o.partition;
  if (!hasFinalizer) return { demand: 'withdraw', events: [] };
  if (o.admitted.length > 0) {
    const names = o.admitted.map((x) => x.metadata.name).sort();
    const message = `deletion waits for ${names.length} pod(s) using the partition: ${names.join(', ')}`;
    const conditions = setCondition(
      p.status?.conditions,
      { type: PARTITION_CONDITIONS.ready, status: 'False', reason: EVENT_REASONS.deletionBlocked, message },
      p.metadata.generation,
      o.now,
    );
    const status: GpuPartitionStatus = { ...(p.status ?? {}), phase: 'Terminating', conditions };
    const changed = p.status?.phase !== 'Terminating' || p.status?.conditions?.find((c) => c.type === PARTITION_CONDITIONS.ready)?.message !== message;
    // Pod changes map back to this partition, so no timed requeue is needed.
    return { demand: 'withdraw', status, events: changed ? [{ type: 'Warning', reason: EVENT_REASONS.deletionBlocked, message }] : [] };
  }
  if (o.entries.length > 0) return { demand: partitionDemand(p, { release: true, inUse: false }), events: [] };
  return { finalizer: 'remove', demand: 'withdraw', events: [] };
}

/** The status from the ledger as it is now (`count` slices wanted), with `allocated` when not fully placed. */
function buildStatus(o: PartitionObservation, count: number, kept: LedgerEntry[], allocated: DesiredCondition | undefined, failed: boolean): GpuPartitionStatus {
  const p = o.partition;
  const specCount = p.spec.count ?? 1;
  const gen = p.metadata.generation;
  const allocs = partitionAllocations(kept, (n) => o.gpuNode(n));
  const profile = p.spec.profile ?? allocs[0]?.profile ?? p.status?.profile;
  const complete = allocs.length >= count && allocated === undefined;
  // A slice still used by a pod that is not the partition's own (its preempted holder) is not ready yet.
  const mine = new Set(o.pods.map((x) => `${x.metadata.namespace}/${x.metadata.name}`));
  const foreign = allocs
    .filter((a) => a.inUse)
    .map((a) => ({ a, pod: heldBy(o.gpuNode(a.node), a.gpuIndex, a.profile, a.start) }))
    .filter((x) => x.pod !== undefined && !mine.has(x.pod));
  const realised = complete && allocs.every((a) => a.realised) && foreign.length === 0;
  const surplus = o.entries.length - kept.length;
  const releasing = surplus > 0 ? `releasing ${surplus} slice(s) no longer wanted` : undefined;
  const extra =
    (count > specCount ? `; spec.count is ${specCount}: the other ${count - specCount} are released as the pods holding them end` : '') +
    (releasing ? `; ${releasing}` : '');
  const alloc: DesiredCondition = allocated ?? {
    type: PARTITION_CONDITIONS.allocated,
    status: 'True',
    reason: ADMISSION_REASONS.placed,
    message: count === 0 ? `count is 0: ${releasing ?? 'no slice is held'}` : `${count} × ${profile} on ${describeAllocations(allocs)}${extra}`,
  };
  let conditions = setCondition(p.status?.conditions, alloc, gen, o.now);
  let ready: DesiredCondition;
  if (realised && count === 0) {
    ready = { type: PARTITION_CONDITIONS.ready, status: 'True', reason: PARTITION_READY_REASONS.scaledToZero, message: 'count is 0: no slice to realise; pods wait until count is raised' };
  } else if (realised) {
    ready = { type: PARTITION_CONDITIONS.ready, status: 'True', reason: PARTITION_READY_REASONS.realised, message: `all ${count} slices realised by their nodes` };
  } else if (complete && foreign.length > 0 && allocs.every((a) => a.realised)) {
    const pods = [...new Set(foreign.map((x) => x.pod))].sort();
    ready = { type: PARTITION_CONDITIONS.ready, status: 'False', reason: PARTITION_READY_REASONS.waitingForEviction, message: `waiting for pod(s) ${pods.join(', ')} of the preempted holder to end` };
  } else if (complete) {
    const waiting = [...new Set(allocs.filter((a) => !a.realised).map((a) => a.node))];
    ready = { type: PARTITION_CONDITIONS.ready, status: 'False', reason: PARTITION_READY_REASONS.waitingForNode, message: describeWaiting(waiting, (n) => o.gpuNode(n)) };
  } else {
    ready = { type: PARTITION_CONDITIONS.ready, status: 'False', reason: alloc.status === 'False' ? alloc.reason : PARTITION_READY_REASONS.notAllocated, message: alloc.message };
  }
  conditions = setCondition(conditions, ready, gen, o.now);
  conditions = o.autoscale ? setCondition(conditions, o.autoscale.condition, gen, o.now) : withoutAutoscaled(conditions);
  const verdict = o.verdict && o.verdict.uid === p.metadata.uid && o.verdict.generation === gen ? o.verdict : undefined;
  conditions = withQuotaCondition(conditions, PARTITION_CONDITIONS.quotaReserved, quotaCondition(PARTITION_CONDITIONS.quotaReserved, kept, verdict), gen, o.now);
  const phase: GpuPartitionPhase = failed ? 'Failed' : realised ? 'Ready' : complete ? 'Allocating' : 'Pending';
  return {
    ...(gen !== undefined ? { observedGeneration: gen } : {}),
    phase,
    ...(profile ? { profile, resourceName: migResourceName(profile) } : {}),
    allocations: allocs,
    replicas: allocs.length,
    selector: `${PARTITION_LABEL}=${p.metadata.name}`,
    ...(o.autoscale ? { autoscale: o.autoscale.status } : {}),
    conditions,
  };
}

/** Conditions without `Autoscaled` (the partition is no longer elastic). */
function withoutAutoscaled(conditions: Condition[]): Condition[] {
  return conditions.filter((c) => c.type !== PARTITION_CONDITIONS.autoscaled);
}

/** `namespace/name` of the pod the node reports on a slice, if any. */
function heldBy(gn: GpuNode | undefined, gpuIndex: number, profile: string, start: number): string | undefined {
  const gpu = gn?.status?.gpus?.find((g) => g.index === gpuIndex);
  const s = gpu?.mode === 'mig' ? gpu.slices.find((x) => x.profile === profile && x.start === start) : undefined;
  return s?.pod ? `${s.pod.namespace}/${s.pod.name}` : undefined;
}

/** Events for user-visible transitions: unsatisfiable, waiting for priority, ready. */
function statusEvents(p: GpuPartition, next: GpuPartitionStatus): PassEvent[] {
  const out: PassEvent[] = [];
  const before = new Map((p.status?.conditions ?? []).map((c) => [c.type, c]));
  for (const c of next.conditions ?? []) {
    const prev = before.get(c.type);
    if (prev && prev.status === c.status && prev.reason === c.reason) continue;
    if (c.type === PARTITION_CONDITIONS.allocated && c.status === 'False') {
      if (c.reason === ADMISSION_REASONS.waitingForPriority) out.push({ type: 'Normal', reason: EVENT_REASONS.waitingForPriority, message: c.message });
      else if (c.reason !== ADMISSION_REASONS.placing && c.reason !== ADMISSION_REASONS.queued) {
        out.push({ type: 'Warning', reason: c.reason === ADMISSION_REASONS.unknownProfile ? EVENT_REASONS.unknownProfile : EVENT_REASONS.unsatisfiable, message: c.message });
      }
    }
    if (c.type === PARTITION_CONDITIONS.ready && c.status === 'True') out.push({ type: 'Normal', reason: EVENT_REASONS.ready, message: c.message });
  }
  return out;
}
