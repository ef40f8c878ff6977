/**
 * TrainingJob reconciler: places the whole gang through the engine, records it in the GpuNode ledger, waits
 * until every node has realised its slices or GPUs, then runs one pinned pod per rank behind a headless
 * Service. A failed worker restarts the whole gang up to `backoffLimit`; suspension, completion, failure and
 * deletion release every slice. A gang that does not fit is placed after defragmentation when a safe plan
 * exists; waiting requests are served in priority order (see `pending-queue.ts`).
 */
import { JOB_FINALIZER, JOB_LABEL } from '../../api/constants.js';
import type { GpuPartition, TrainingJob, TrainingJobPhase, TrainingJobStatus } from '../../api/types.js';
import { isAlreadyExists } from '../../k8s/errors.js';
import { RESOURCES } from '../../k8s/resources.js';
import { ClaimantScaffold, WAITING_FOR_PRIORITY_REASON, type ClaimantReconcilerDeps } from '../common/claimant-scaffold.js';
import { claimNames, claimKey, claimsOf, type ClaimantId } from '../../ledger/claims.js';
import { setCondition, type DesiredCondition } from '../../api/conditions.js';
import type { AppliedDefrag, PriorityCheck } from '../../scheduler/defrag/defragmenter.js';
import { buildHeadlessService, type ServiceObject } from './headless-service.js';
import { gangComplete, gangRequest, rankAllocations, type RankAllocation } from './job-placement.js';
import { JOB_CONDITIONS, describeRanks, failureReason, isTerminal, workerStatuses } from './job-status.js';
import { CACHE_WAIT_MS, LedgerDraft, overlay } from '../../ledger/ledger.js';
import { describeAllocations, describeWaiting } from '../gpupartition/partition-status.js';
import { PRIORITY_RECHECK_MS } from '../../scheduler/queue-order.js';
import { pendingRequests } from '../../scheduler/requests.js';
import type { PodObject } from '../../api/pods.js';
import type { CachePort, LogPort, ReconcileRequest, ReconcileResult } from '../../runtime/ports.js';
import { buildWorkerPod, workerIdentity } from './worker-pods.js';

/** Default gang restarts before the job fails. */
export const DEFAULT_BACKOFF_LIMIT = 3;
/** Safety re-check of a gang waiting for capacity (GpuNode changes requeue it sooner). */
export const JOB_CAPACITY_RECHECK_MS = 60_000;
/** Re-check while old pods of a restarted gang terminate. */
export const RESTART_RECHECK_MS = 2_000;

/** What the TrainingJob reconciler reads and writes. */
export interface JobReconcilerDeps extends ClaimantReconcilerDeps {
  jobs: CachePort<TrainingJob>;
  /** Pods labelled with the job label. */
  pods: CachePort<PodObject>;
  /** Serve waiting requests in priority order (jobs from `jobs`, partitions from here); absent: place when it fits. */
  priorityQueue?: { partitions: CachePort<GpuPartition> };
}

/** Reason of a job held back because a higher-priority request needs the capacity it would take. */
export const JOB_WAITING_FOR_PRIORITY = WAITING_FOR_PRIORITY_REASON;

interface Pass {
  job: TrainingJob;
  who: ClaimantId;
  draft: LedgerDraft;
  events: Array<{ type: 'Normal' | 'Warning'; reason: string; message: string }>;
  conditions: TrainingJobStatus['conditions'];
  now: Date;
  /** A defragmentation plan applied to the draft, announced once the draft is written. */
  defrag?: AppliedDefrag;
}

/** Reconciles TrainingJob objects. */
export class TrainingJobReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'trainingjob';
  readonly #d: JobReconcilerDeps;
  readonly #s: ClaimantScaffold<TrainingJob>;

  /** Creates the reconciler over its caches and client. */
  constructor(deps: JobReconcilerDeps) {
    this.#d = deps;
    this.#s = new ClaimantScaffold({ ...deps, kind: 'TrainingJob', resource: RESOURCES.trainingJob, finalizer: JOB_FINALIZER });
  }

  /** One level-triggered pass for the job `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    let job = this.#d.jobs.get(req.name, req.namespace);
    if (!job) return;
    const who: ClaimantId = { kind: 'TrainingJob', namespace: req.namespace, name: req.name };
    if (!this.#s.cacheCurrent(req)) return { requeueAfterMs: CACHE_WAIT_MS };
    if (job.metadata.deletionTimestamp) return this.#finalize(job, who, log);
    job = await this.#s.ensureFinalizer(job);

    const gpuNodes = this.#d.gpuNodes.list();
    const pass: Pass = { job, who, draft: new LedgerDraft(gpuNodes), events: [], conditions: job.status?.conditions, now: this.#s.now() };
    // Claims of an older job of the same name are never ours to keep.
    pass.draft.release((c) => claimNames(c, who) && c.uid !== job.metadata.uid);
    const prev = job.status ?? {};
    const pods = this.#pods(job);
    let restarts = prev.restarts ?? 0;
    let phase: TrainingJobPhase;
    let startTime = prev.startTime;
    let completionTime = prev.completionTime;
    let result: ReconcileResult | void = undefined;
    let allocs = rankAllocations(claimsOf(gpuNodes, who, job.metadata.uid).current, (n) => this.#d.gpuNodes.get(n));
    const set = (c: DesiredCondition) => (pass.conditions = setCondition(pass.conditions, c, job.metadata.generation, pass.now));

    if (isTerminal(prev.phase)) {
      // Finished: hold nothing; finished pods stay for their logs.
      phase = prev.phase as TrainingJobPhase;
      this.#releaseAll(pass);
      await this.#deletePods(pods.filter((p) => !finished(p)));
    } else if (job.spec.suspend) {
      phase = 'Suspended';
      const released = this.#releaseAll(pass);
      await this.#deletePods(pods);
      set({ type: JOB_CONDITIONS.suspended, status: 'True', reason: 'Suspended', message: 'the job is suspended; its GPUs are released' });
      set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'Suspended', message: 'the job is suspended' });
      if (released > 0 || pods.length > 0) pass.events.push({ type: 'Normal', reason: 'Suspended', message: 'Suspended: deleted workers and released GPUs' });
    } else {
      if (pass.conditions?.some((c) => c.type === JOB_CONDITIONS.suspended && c.status === 'True')) {
        set({ type: JOB_CONDITIONS.suspended, status: 'False', reason: 'Resumed', message: 'the job was resumed' });
      }
      if (!gangComplete(job, allocs)) {
        // A gang is all-or-nothing: a partial one (failed multi-node write, preempted rank, lost node) is torn down.
        await this.#deletePods(pods);
        if (this.#releaseAll(pass) > 0) {
          pass.events.push({ type: 'Warning', reason: 'GangIncomplete', message: `only ${allocs.length} of ${job.spec.replicas} workers held GPUs; released them to place the gang again` });
        }
        const placed = this.#place(pass);
        if (placed.ok) {
          phase = 'Placing';
          allocs = placed.allocs;
          set({ type: JOB_CONDITIONS.placed, status: 'True', reason: 'Placed', message: placed.message });
          set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'WaitingForNodes', message: 'waiting for the nodes to realise the layout' });
        } else {
          phase = 'Pending';
          allocs = [];
          set({ type: JOB_CONDITIONS.placed, status: 'False', reason: placed.code, message: placed.message });
          if (placed.code !== 'UnknownProfile' && placed.code !== 'InvalidRequest') {
            result = { requeueAfterMs: placed.code === JOB_WAITING_FOR_PRIORITY ? PRIORITY_RECHECK_MS : JOB_CAPACITY_RECHECK_MS };
          }
        }
      } else if (!allocs.every((a) => a.realised)) {
        phase = 'Placing';
        set({ type: JOB_CONDITIONS.placed, status: 'True', reason: 'Placed', message: describeRanks(allocs) });
        const waiting = [...new Set(allocs.filter((a) => !a.realised).map((a) => a.node))];
        set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'WaitingForNodes', message: describeWaiting(waiting, (n) => this.#d.gpuNodes.get(n)) });
      } else {
        set({ type: JOB_CONDITIONS.placed, status: 'True', reason: 'Placed', message: describeRanks(allocs) });
        // Pods of an earlier attempt, and any pod already terminating (e.g. after a suspend), must be gone first.
        const stale = pods.filter((p) => workerIdentity(p)?.attempt !== restarts || p.metadata.deletionTimestamp);
        const current = new Map(pods.filter((p) => !stale.includes(p)).map((p) => [workerIdentity(p)!.rank, p]));
        const failedPods = [...current.values()].filter((p) => p.status?.phase === 'Failed');
        if (stale.length > 0) {
          // The previous attempt's pods must be gone before the new ones start (their devices are still held).
          phase = 'Placing';
          await this.#deletePods(stale);
          set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'Restarting', message: `waiting for ${stale.length} pod(s) of the previous attempt to terminate` });
          result = { requeueAfterMs: RESTART_RECHECK_MS };
        } else if (failedPods.length > 0) {
          const limit = job.spec.backoffLimit ?? DEFAULT_BACKOFF_LIMIT;
          const first = failedPods.sort((a, b) => workerIdentity(a)!.rank - workerIdentity(b)!.rank)[0]!;
          const what = `worker ${workerIdentity(first)!.rank} (${first.metadata.name}) failed: ${failureReason(first)}`;
          if (job.spec.restartPolicy === 'Never' || restarts >= limit) {
            phase = 'Failed';
            completionTime = pass.now.toISOString();
            const reason = job.spec.restartPolicy === 'Never' ? 'WorkerFailed' : 'BackoffLimitExceeded';
            const message = reason === 'WorkerFailed' ? what : `${what}; ${restarts} gang restart(s) used of ${limit}`;
            set({ type: JOB_CONDITIONS.failed, status: 'True', reason, message });
            set({ type: JOB_CONDITIONS.running, status: 'False', reason, message });
            this.#releaseAll(pass);
            await this.#deletePods([...current.values()].filter((p) => !finished(p)));
            pass.events.push({ type: 'Warning', reason, message });
          } else {
            // The counter is persisted first; the next pass deletes this attempt's pods and starts the next.
            restarts += 1;
            phase = 'Placing';
            set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'Restarting', message: `${what}; restarting the gang (${restarts} of ${limit})` });
            pass.events.push({ type: 'Warning', reason: 'GangRestart', message: `${what}; restarting all ${job.spec.replicas} workers (restart ${restarts} of ${limit})` });
            result = { requeueAfterMs: RESTART_RECHECK_MS };
          }
        } else if (current.size === job.spec.replicas && [...current.values()].every((p) => p.status?.phase === 'Succeeded')) {
          phase = 'Succeeded';
          completionTime = pass.now.toISOString();
          set({ type: JOB_CONDITIONS.succeeded, status: 'True', reason: 'AllWorkersSucceeded', message: `all ${job.spec.replicas} workers succeeded` });
          set({ type: JOB_CONDITIONS.running, status: 'False', reason: 'Completed', message: 'the job completed' });
          this.#releaseAll(pass);
          pass.events.push({ type: 'Normal', reason: 'Completed', message: `All ${job.spec.replicas} workers succeeded; released GPUs` });
        } else {
          const missing = allocs.filter((a) => !current.has(a.rank));
          if (missing.length > 0) {
            await this.#ensureService(job);
            for (const a of missing) current.set(a.rank, await this.#createPod(job, a, restarts));
            startTime ??= pass.now.toISOString();
            pass.events.push({ type: 'Normal', reason: 'WorkersCreated', message: `Created ${missing.length} worker pod(s) (attempt ${restarts})` });
          }
          const running = [...current.values()].filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Succeeded').length;
          const all = running === job.spec.replicas;
          phase = all ? 'Running' : 'Placing';
          set(
            all
              ? { type: JOB_CONDITIONS.running, status: 'True', reason: 'AllWorkersRunning', message: `all ${job.spec.replicas} workers are running` }
              : { type: JOB_CONDITIONS.running, status: 'False', reason: 'WorkersStarting', message: `${running} of ${job.spec.replicas} workers running` },
          );
        }
      }
    }

    const written = await this.#s.commit(job, pass.draft, pass.now, pass.defrag, log);
    // Realisation is re-read from the freshest node objects so device UUIDs show up as soon as they exist.
    const fresh = new Map(overlay(this.#d.gpuNodes.list(), written).map((n) => [n.metadata.name, n]));
    const shownAllocs = rankAllocations(claimsOf([...fresh.values()], who, job.metadata.uid).current, (n) => fresh.get(n));
    const podsByRank = new Map(this.#pods(job).filter((p) => workerIdentity(p)?.attempt === restarts).map((p) => [workerIdentity(p)!.rank, p]));
    const workers = isTerminal(phase) && shownAllocs.length === 0 ? (prev.workers ?? []) : phase === 'Suspended' ? [] : workerStatuses(shownAllocs, podsByRank);
    const status: TrainingJobStatus = {
      ...(job.metadata.generation !== undefined ? { observedGeneration: job.metadata.generation } : {}),
      phase,
      workers,
      restarts,
      ...(startTime ? { startTime } : {}),
      ...(completionTime ? { completionTime } : {}),
      conditions: pass.conditions ?? [],
    };
    const wrote = await this.#s.writeStatus(job, status, prev);
    // Deleted meanwhile: nothing left to report on.
    if (wrote === 'gone') return;
    if (wrote === 'written') {
      // Unsatisfiable placement is announced when it first happens, not on every retry.
      const before = prev.conditions?.find((c) => c.type === JOB_CONDITIONS.placed);
      const after = status.conditions?.find((c) => c.type === JOB_CONDITIONS.placed);
      if (after?.status === 'False' && (before?.status !== 'False' || before.reason !== after.reason)) {
        if (after.reason === JOB_WAITING_FOR_PRIORITY) pass.events.push({ type: 'Normal', reason: JOB_WAITING_FOR_PRIORITY, message: after.message });
        else pass.events.push({ type: 'Warning', reason: after.reason === 'UnknownProfile' ? 'UnknownProfile' : 'Unsatisfiable', message: after.message });
      }
    }
    await this.#s.flushEvents(job, pass.events);
    return result;
  }

  /** The job's pods (by label and controller owner uid). */
  #pods(job: TrainingJob): PodObject[] {
    return this.#d.pods
      .list(job.metadata.namespace)
      .filter((p) => p.metadata.labels?.[JOB_LABEL] === job.metadata.name && (p.metadata.ownerReferences ?? []).some((o) => o.uid === job.metadata.uid))
      .filter((p) => workerIdentity(p) !== undefined);
  }

  /**
   * Places the gang on the draft (after any release in this pass); when it does not fit, defragments if a safe
   * plan exists. Nothing is placed when it would take a higher-priority request's room.
   */
  #place(pass: Pass): { ok: true; allocs: RankAllocation[]; message: string } | { ok: false; code: string; message: string } {
    const { job, draft, who } = pass;
    const placed = this.#s.place(draft, gangRequest(job), this.#priorityCheck(job, draft));
    if (!placed.ok) return placed;
    pass.defrag = placed.defrag;
    const res = placed.placed;
    const ns = job.metadata.namespace as string;
    const name = job.metadata.name as string;
    const priority = job.spec.priority ?? 0;
    const existing = new Map(
      draft
        .nodes()
        .flatMap((n) => (n.spec?.gpus ?? []).flatMap((g) => [g.claim, ...g.slices.map((s) => s.claim)]))
        .filter((c) => c !== undefined)
        .map((c) => [claimKey(c), c]),
    );
    draft.applyLayouts(res.layouts, (key) => {
      const m = /\/(\d+)$/.exec(key);
      if (key.startsWith(`TrainingJob/${ns}/${name}/`) && m) {
        return { kind: 'TrainingJob', namespace: ns, name, uid: job.metadata.uid ?? '', slot: Number(m[1]), priority, preemptible: false };
      }
      return existing.get(key);
    });
    const allocs = rankAllocations(claimsOf(draft.nodes(), who, job.metadata.uid).current, () => undefined);
    const where = describeAllocations(res.assignments.map((a) => ({ node: a.node, gpuIndex: a.gpuIndex })));
    const what = job.spec.profile ? `${job.spec.replicas} × ${job.spec.profile}` : `${job.spec.replicas} × ${job.spec.gpusPerWorker ?? 1} GPU(s)`;
    pass.events.push({ type: 'Normal', reason: 'Placed', message: `Placed ${what} on ${where}` });
    return { ok: true, allocs, message: `${what} on ${where}` };
  }

  /** The priority-order check of this job's placement on `draft`, when ordering is on. */
  #priorityCheck(job: TrainingJob, draft: LedgerDraft): PriorityCheck | undefined {
    const q = this.#d.priorityQueue;
    return this.#s.priorityCheck(job, q ? () => pendingRequests(q.partitions.list(), this.#d.jobs.list(), draft.nodes()) : undefined);
  }

  /** Releases every claim of the job in the draft; returns how many. */
  #releaseAll(pass: Pass): number {
    return pass.draft.release((c) => claimNames(c, pass.who));
  }

  async #deletePods(pods: PodObject[]): Promise<void> {
    for (const p of pods) {
      if (p.metadata.deletionTimestamp) continue;
      await this.#d.client.delete(RESOURCES.pod, p.metadata.name as string, p.metadata.namespace, { propagationPolicy: 'Background' });
    }
  }

  async #ensureService(job: TrainingJob): Promise<void> {
    const svc = await this.#d.client.get<ServiceObject>(RESOURCES.service, job.metadata.name as string, job.metadata.namespace);
    if (svc) return;
    try {
      await this.#d.client.create(RESOURCES.service, buildHeadlessService(job));
    } catch (err) {
      if (!isAlreadyExists(err)) throw new Error(`creating headless Service of TrainingJob ${job.metadata.name}`, { cause: err });
    }
  }

  async #createPod(job: TrainingJob, alloc: RankAllocation, attempt: number): Promise<PodObject> {
    const pod = buildWorkerPod(job, alloc, attempt);
    try {
      return await this.#d.client.create<PodObject>(RESOURCES.pod, pod);
    } catch (err) {
      // Created by an earlier pass the cache has not shown yet.
      if (isAlreadyExists(err)) return pod;
      throw new Error(`creating worker pod ${pod.metadata.name}`, { cause: err });
    }
  }

  /** Deletion: delete the workers, release every claim, drop the finalizer. */
  async #finalize(job: TrainingJob, who: ClaimantId, log: LogPort): Promise<ReconcileResult | void> {
    if (!this.#s.hasFinalizer(job)) return;
    await this.#deletePods(this.#pods(job));
    const now = this.#s.now();
    await this.#s.releaseAll(job, who, now, log, (n) => `Released ${n} GPU allocation(s)`, 'Released TrainingJob GPUs');
    await this.#s.removeFinalizer(job);
  }
}

function finished(p: PodObject): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}
