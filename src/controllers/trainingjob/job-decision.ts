/**
 * What one TrainingJob pass decides from what it observed: the gang's demand for the admission cycle, which
 * worker pods to delete and create, the finalizer, the status (one write) and the Events. Pure and
 * table-tested; the reconciler only observes and acts.
 *
 * Lifecycle: Pending (waiting for the cycle to place the whole gang) → Placing (placed; nodes realise the
 * layout, then pods start) → Running (every worker runs) → Succeeded / Failed. A failed worker restarts the
 * whole gang up to `backoffLimit` times. Suspension, completion, failure and deletion give every GPU back.
 */
import { JOB_FINALIZER } from '../../api/constants.js';
import { ADMISSION_REASONS, EVENT_REASONS, JOB_CONDITIONS, JOB_REASONS, setCondition, type DesiredCondition } from '../../api/conditions.js';
import type { PodObject } from '../../api/pods.js';
import type { GpuNode, TrainingJob, TrainingJobPhase, TrainingJobStatus } from '../../api/types.js';
import type { LedgerEntry } from '../../ledger/claims.js';
import { PERMANENT_CODES } from '../../scheduler/cycle-planner.js';
import { jobDemand, type Demand } from '../../scheduler/demand.js';
import type { VerdictView } from '../common/admission-port.js';
import { quotaCondition, withQuotaCondition } from '../common/quota-condition.js';
import type { PassEvent } from '../common/pass-event.js';
import { describeWaiting } from '../gpupartition/partition-status.js';
import { gangComplete, rankAllocations, type RankAllocation } from './job-placement.js';
import { describeRanks, failureReason, isTerminal, workerStatuses } from './job-status.js';
import { buildWorkerPod, workerIdentity } from './worker-pods.js';

/** Default gang restarts before the job fails. */
export const DEFAULT_BACKOFF_LIMIT = 3;
/** Re-check while old pods of a restarted gang terminate. */
export const RESTART_RECHECK_MS = 2_000;


/** What a pass observed. */
export interface JobObservation {
  job: TrainingJob;
  /** Ledger entries naming the job (any uid). */
  entries: LedgerEntry[];
  gpuNode(name: string): GpuNode | undefined;
  /** The job's worker pods (its label and owner uid). */
  pods: PodObject[];
  verdict?: VerdictView;
  now: Date;
}

/** What the pass does. */
export interface JobDecision {
  finalizer?: 'add' | 'remove';
  demand?: Demand | 'withdraw';
  deletePods: PodObject[];
  /** Worker pods to create (the headless Service first); built with {@link buildWorkerPod}. */
  createPods: PodObject[];
  /** Undefined: leave the status as it is. */
  status?: TrainingJobStatus;
  events: PassEvent[];
  requeueAfterMs?: number;
}

/** Decides one pass. */
export function decideJob(o: JobObservation): JobDecision {
  const job = o.job;
  const hasFinalizer = (job.metadata.finalizers ?? []).includes(JOB_FINALIZER);
  const live = (pods: PodObject[]) => pods.filter((p) => !p.metadata.deletionTimestamp);
  if (job.metadata.deletionTimestamp) {
    if (!hasFinalizer) return { demand: 'withdraw', deletePods: [], createPods: [], events: [] };
    const deletePods = live(o.pods);
    if (o.entries.length > 0) return { demand: jobDemand(job, { release: true }), deletePods, createPods: [], events: [] };
    return { finalizer: 'remove', demand: 'withdraw', deletePods, createPods: [], events: [] };
  }

  const prev = job.status ?? {};
  const current = o.entries.filter((e) => e.claim.uid === job.metadata.uid);
  const allocs = rankAllocations(current, (n) => o.gpuNode(n));
  const finalizer = current.length > 0 && !hasFinalizer ? ('add' as const) : undefined;
  const release = o.entries.length > 0 ? jobDemand(job, { release: true }) : ('withdraw' as const);
  let conditions = prev.conditions;
  const set = (c: DesiredCondition) => (conditions = setCondition(conditions, c, job.metadata.generation, o.now));
  const out: JobDecision = { ...(finalizer ? { finalizer } : {}), deletePods: [], createPods: [], events: [] };
  let restarts = prev.restarts ?? 0;
  let phase: TrainingJobPhase;
  let startTime = prev.startTime;
  let completionTime = prev.completionTime;
  let shown: RankAllocation[] = allocs;

  if (isTerminal(prev.phase)) {
    // Finished: hold nothing; finished pods stay for their logs.
    phase = prev.phase as TrainingJobPhase;
    out.demand = release;
    out.deletePods = live(o.pods).filter((p) => !finished(p));
  } else if (job.spec.suspend) {
    phase = 'Suspended';
    out.demand = release;
    out.deletePods = live(o.pods);
    shown = [];
    // The message says whether the GPUs are free yet: the cycle releases them after this pass.
    const releasing = o.entries.length > 0 ? `releasing ${o.entries.length} GPU allocation(s)` : 'its GPUs are released';
    set({ type: JOB_CONDITIONS.suspended, status: 'True', reason: JOB_REASONS.suspended, message: `the job is suspended; ${releasing}` });
    set({ type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.suspended, message: 'the job is suspended' });
    if (prev.phase !== 'Suspended') out.events.push({ type: 'Normal', reason: EVENT_REASONS.suspended, message: 'Suspended: deleting workers and releasing GPUs' });
  } else {
    if (conditions?.some((c) => c.type === JOB_CONDITIONS.suspended && c.status === 'True')) {
      set({ type: JOB_CONDITIONS.suspended, status: 'False', reason: JOB_REASONS.resumed, message: 'the job was resumed' });
    }
    if (!gangComplete(job, allocs)) {
      // A gang is all-or-nothing: a partial one (failed multi-node write, preempted rank, lost node) is torn
      // down; the cycle gives its GPUs back and places the whole gang again.
      out.deletePods = live(o.pods);
      out.demand = jobDemand(job, { release: false });
      shown = [];
      if (current.length > 0 && (prev.phase === 'Running' || prev.phase === 'Placing')) {
        out.events.push({ type: 'Warning', reason: EVENT_REASONS.gangIncomplete, message: `only ${allocs.length} of ${job.spec.replicas} workers hold their GPUs; placing the gang again` });
      }
      const verdict = o.verdict && o.verdict.uid === job.metadata.uid && o.verdict.generation === job.metadata.generation ? o.verdict : undefined;
      if (!verdict && !prev.phase) return { ...out, events: [] };
      phase = verdict && PERMANENT_CODES.has(verdict.code) ? 'Failed' : 'Pending';
      set(
        verdict
          ? { type: JOB_CONDITIONS.placed, status: 'False', reason: verdict.code, message: verdict.message }
          : { type: JOB_CONDITIONS.placed, status: 'False', reason: ADMISSION_REASONS.queued, message: 'waiting for the admission cycle to place the gang' },
      );
    } else if (!allocs.every((a) => a.realised)) {
      phase = 'Placing';
      out.demand = 'withdraw';
      set({ type: JOB_CONDITIONS.placed, status: 'True', reason: ADMISSION_REASONS.placed, message: describeRanks(allocs) });
      const waiting = [...new Set(allocs.filter((a) => !a.realised).map((a) => a.node))];
      set({ type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.waitingForNodes, message: describeWaiting(waiting, (n) => o.gpuNode(n)) });
    } else {
      out.demand = 'withdraw';
      set({ type: JOB_CONDITIONS.placed, status: 'True', reason: ADMISSION_REASONS.placed, message: describeRanks(allocs) });
      // Pods of an earlier attempt, and any pod already terminating (e.g. after a suspend), must be gone first.
      const stale = o.pods.filter((p) => workerIdentity(p)?.attempt !== restarts || p.metadata.deletionTimestamp);
      const current = new Map(o.pods.filter((p) => !stale.includes(p)).map((p) => [workerIdentity(p)!.rank, p]));
      const failedPods = [...current.values()].filter((p) => p.status?.phase === 'Failed');
      if (stale.length > 0) {
        phase = 'Placing';
        out.deletePods = live(stale);
        set({ type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.restarting, message: `waiting for ${stale.length} pod(s) of the previous attempt to terminate` });
        out.requeueAfterMs = RESTART_RECHECK_MS;
      } else if (failedPods.length > 0) {
        const limit = job.spec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT;
        const first = failedPods.sort((a, b) => workerIdentity(a)!.rank - workerIdentity(b)!.rank)[0]!;
        const what = `worker ${workerIdentity(first)!.rank} (${first.metadata.name}) failed: ${failureReason(first)}`;
        if (job.spec.restartPolicy === 'Never' || restarts >= limit) {
          phase = 'Failed';
          completionTime = o.now.toISOString();
          const reason = job.spec.restartPolicy === 'Never' ? JOB_REASONS.workerFailed : JOB_REASONS.backoffLimitExceeded;
          const message = reason === JOB_REASONS.workerFailed ? what : `${what}; ${restarts} gang restart(s) used of ${limit}`;
          set({ type: JOB_CONDITIONS.failed, status: 'True', reason, message });
          set({ type: JOB_CONDITIONS.running, status: 'False', reason, message });
          out.demand = release;
          out.deletePods = live([...current.values()].filter((p) => !finished(p)));
          out.events.push({ type: 'Warning', reason, message });
        } else {
          // The counter is persisted first; the next pass deletes this attempt's pods and starts the next.
          restarts += 1;
          phase = 'Placing';
          set({ type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.restarting, message: `${what}; restarting the gang (${restarts} of ${limit})` });
          out.events.push({ type: 'Warning', reason: EVENT_REASONS.gangRestart, message: `${what}; restarting all ${job.spec.replicas} workers (restart ${restarts} of ${limit})` });
          out.requeueAfterMs = RESTART_RECHECK_MS;
        }
      } else if (current.size === job.spec.replicas && [...current.values()].every((p) => p.status?.phase === 'Succeeded')) {
        phase = 'Succeeded';
        completionTime = o.now.toISOString();
        set({ type: JOB_CONDITIONS.succeeded, status: 'True', reason: JOB_REASONS.allWorkersSucceeded, message: `all ${job.spec.replicas} workers succeeded` });
        set({ type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.completed, message: 'the job completed' });
        out.demand = release;
        out.events.push({ type: 'Normal', reason: EVENT_REASONS.completed, message: `All ${job.spec.replicas} workers succeeded; releasing GPUs` });
      } else {
        const missing = allocs.filter((a) => !current.has(a.rank));
        if (missing.length > 0) {
          for (const a of missing) {
            const pod = buildWorkerPod(job, a, restarts);
            out.createPods.push(pod);
            current.set(a.rank, pod);
          }
          startTime ??= o.now.toISOString();
          out.events.push({ type: 'Normal', reason: EVENT_REASONS.workersCreated, message: `Created ${missing.length} worker pod(s) (attempt ${restarts})` });
        }
        const running = [...current.values()].filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded').length;
        const all = running === job.spec.replicas;
        phase = all ? 'Running' : 'Placing';
        set(
          all
            ? { type: JOB_CONDITIONS.running, status: 'True', reason: JOB_REASONS.allWorkersRunning, message: `all ${job.spec.replicas} workers are running` }
            : { type: JOB_CONDITIONS.running, status: 'False', reason: JOB_REASONS.workersStarting, message: `${running} of ${job.spec.replicas} workers running` },
        );
      }
    }
  }

  const podsByRank = new Map(
    [...o.pods.filter((p) => !p.metadata.deletionTimestamp), ...out.createPods]
      .filter((p) => workerIdentity(p)?.attempt === restarts)
      .map((p) => [workerIdentity(p)!.rank, p]),
  );
  const workers = isTerminal(phase) && allocs.length === 0 ? (prev.workers ?? []) : workerStatuses(shown, podsByRank);
  out.status = {
    ...(job.metadata.generation !== undefined ? { observedGeneration: job.metadata.generation } : {}),
    phase,
    workers,
    restarts,
    ...(startTime ? { startTime } : {}),
    ...(completionTime ? { completionTime } : {}),
    conditions: conditions ?? [],
  };
  const verdict = o.verdict && o.verdict.uid === job.metadata.uid && o.verdict.generation === job.metadata.generation ? o.verdict : undefined;
  out.status.conditions = withQuotaCondition(out.status.conditions, JOB_CONDITIONS.quotaReserved, isTerminal(phase) || phase === 'Suspended' ? undefined : quotaCondition(JOB_CONDITIONS.quotaReserved, current, verdict), job.metadata.generation, o.now);
  out.events.push(...placedEvents(prev.conditions, out.status.conditions));
  return out;
}

/** Unsatisfiable placement is announced when it first happens, not on every retry. */
function placedEvents(before: TrainingJobStatus['conditions'], after: TrainingJobStatus['conditions']): PassEvent[] {
  const b = before?.find((c) => c.type === JOB_CONDITIONS.placed);
  const a = after?.find((c) => c.type === JOB_CONDITIONS.placed);
  if (a?.status !== 'False' || (b?.status === 'False' && b.reason === a.reason) || a.reason === ADMISSION_REASONS.queued) return [];
  if (a.reason === ADMISSION_REASONS.waitingForPriority) return [{ type: 'Normal', reason: EVENT_REASONS.waitingForPriority, message: a.message }];
  return [{ type: 'Warning', reason: a.reason === ADMISSION_REASONS.unknownProfile ? EVENT_REASONS.unknownProfile : EVENT_REASONS.unsatisfiable, message: a.message }];
}

function finished(p: PodObject): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}
