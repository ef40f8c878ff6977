/**
 * TrainingJob reconciler: places the whole gang through the engine, records it in the GpuNode ledger, waits
 * until every node has realised its slices or GPUs, then runs one pinned pod per rank behind a headless
 * Service. A failed worker restarts the whole gang up to `backoffLimit`; suspension, completion, failure and
 * deletion release every slice. A gang that does not fit is placed after defragmentation when a safe plan
 * exists; waiting requests are served in priority order (see `pending-queue.ts`).
 */
import { JOB_FINALIZER, JOB_LABEL } from '../api/constants.js';
import type { GpuNode, GpuPartition, TrainingJob, TrainingJobPhase, TrainingJobStatus } from '../api/types.js';
import type { ClusterSnapshot, PlacementRequest, PlacementResult } from '../placement/types.js';
import { isAlreadyExists } from '../k8s/errors.js';
import { RESOURCES } from '../k8s/resources.js';
import { ignoreNotFound } from './ignore-not-found.js';
import { claimNames, claimKey, claimsOf, type ClaimantId } from './claims.js';
import { deepEqual, setCondition, type DesiredCondition } from './conditions.js';
import { DEFRAGGABLE_CODES, type AppliedDefrag, type Defragmenter, type PriorityCheck } from './defrag-executor.js';
import { buildHeadlessService, type ServiceObject } from './headless-service.js';
import { gangComplete, gangRequest, rankAllocations, type RankAllocation } from './job-placement.js';
import { JOB_CONDITIONS, describeRanks, failureReason, isTerminal, workerStatuses } from './job-status.js';
import { CACHE_WAIT_MS, LedgerDraft, commitLedger, overlay, type LedgerExpectations } from './ledger.js';
import { describeAllocations, describeWaiting } from './partition-status.js';
import { PRIORITY_RECHECK_MS, describeBlocker, findBlocker, withLayouts } from './pending-queue.js';
import { pendingRequests } from './pending-requests.js';
import type { PodObject } from './pods.js';
import { NO_METRICS, type CachePort, type ClientPort, type Clock, type ControllerMetricsPort, type LogPort, type PlaceFn, type ReconcileRequest, type ReconcileResult, type RecorderPort } from './ports.js';
import type { ReconfigTracker } from './reconfig-tracker.js';
import { buildSnapshot, type NodeObject } from './snapshot.js';
import { buildWorkerPod, workerIdentity } from './worker-pods.js';

/** Default gang restarts before the job fails. */
export const DEFAULT_BACKOFF_LIMIT = 3;
/** Safety re-check of a gang waiting for capacity (GpuNode changes requeue it sooner). */
export const JOB_CAPACITY_RECHECK_MS = 60_000;
/** Re-check while old pods of a restarted gang terminate. */
export const RESTART_RECHECK_MS = 2_000;

/** What the TrainingJob reconciler reads and writes. */
export interface JobReconcilerDeps {
  client: ClientPort;
  jobs: CachePort<TrainingJob>;
  gpuNodes: CachePort<GpuNode>;
  nodes: CachePort<NodeObject>;
  /** Pods labelled with the job label. */
  pods: CachePort<PodObject>;
  recorder: RecorderPort;
  place: PlaceFn;
  metrics?: ControllerMetricsPort;
  clock?: Clock;
  reconfig?: ReconfigTracker;
  /** Shared record of ledger writes the caches have not shown yet. */
  expectations?: LedgerExpectations;
  /** Defragmentation for gangs that do not fit; absent: none (`--defrag=false`). */
  defrag?: Defragmenter;
  /** Serve waiting requests in priority order (jobs from `jobs`, partitions from here); absent: place when it fits. */
  priorityQueue?: { partitions: CachePort<GpuPartition> };
}

/** Reason of a job held back because a higher-priority request needs the capacity it would take. */
export const JOB_WAITING_FOR_PRIORITY = 'WaitingForPriority';

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
  readonly #metrics: ControllerMetricsPort;
  readonly #now: Clock;

  /** Creates the reconciler over its caches and client. */
  constructor(deps: JobReconcilerDeps) {
    this.#d = deps;
    this.#metrics = deps.metrics ?? NO_METRICS;
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One level-triggered pass for the job `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    let job = this.#d.jobs.get(req.name, req.namespace);
    if (!job) return;
    const who: ClaimantId = { kind: 'TrainingJob', namespace: req.namespace, name: req.name };
    if (!this.#cacheCurrent()) return { requeueAfterMs: CACHE_WAIT_MS };
    if (job.metadata.deletionTimestamp) return this.#finalize(job, who, log);
    if (!(job.metadata.finalizers ?? []).includes(JOB_FINALIZER)) {
      job = await this.#d.client.mergePatch<TrainingJob>(
        RESOURCES.trainingJob,
        req.name,
        { metadata: { finalizers: [...(job.metadata.finalizers ?? []), JOB_FINALIZER], resourceVersion: job.metadata.resourceVersion } },
        req.namespace,
      );
    }

    const gpuNodes = this.#d.gpuNodes.list();
    const pass: Pass = { job, who, draft: new LedgerDraft(gpuNodes), events: [], conditions: job.status?.conditions, now: this.#now() };
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

    let written: GpuNode[] = [];
    if (pass.draft.changed().length > 0) {
      try {
        written = await commitLedger(this.#d.client, pass.draft, (n) => this.#noteWrite(n, pass.now));
      } catch (err) {
        if (pass.defrag) this.#d.defrag?.abandoned(pass.defrag);
        throw err;
      }
      log.info('Wrote GpuNode target layouts', { nodes: written.map((n) => n.metadata.name) });
      if (pass.defrag) {
        await this.#d.defrag?.committed(pass.defrag, job, this.#d.recorder);
        log.info('Defragmented to place TrainingJob', { plan: pass.defrag.summary });
      }
    }
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
    if (!deepEqual(status, prev)) {
      // Deleted meanwhile: nothing left to report on.
      if ((await ignoreNotFound(this.#d.client.replaceStatus<TrainingJob>(RESOURCES.trainingJob, { ...job, status }))) === undefined) return;
      // Unsatisfiable placement is announced when it first happens, not on every retry.
      const before = prev.conditions?.find((c) => c.type === JOB_CONDITIONS.placed);
      const after = status.conditions?.find((c) => c.type === JOB_CONDITIONS.placed);
      if (after?.status === 'False' && (before?.status !== 'False' || before.reason !== after.reason)) {
        if (after.reason === JOB_WAITING_FOR_PRIORITY) pass.events.push({ type: 'Normal', reason: JOB_WAITING_FOR_PRIORITY, message: after.message });
        else pass.events.push({ type: 'Warning', reason: after.reason === 'UnknownProfile' ? 'UnknownProfile' : 'Unsatisfiable', message: after.message });
      }
    }
    for (const e of pass.events) await this.#d.recorder.event(job, e.type, e.reason, e.message);
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
    const nodeOf = (n: string) => this.#d.nodes.get(n);
    const request = gangRequest(job);
    const check = this.#priorityCheck(job, draft);
    const snapshot = buildSnapshot(draft.nodes(), nodeOf);
    let res = this.#timedPlace(snapshot, request);
    if (res.ok) {
      const waiting = check?.(snapshot, withLayouts(snapshot, res.layouts));
      if (waiting) return { ok: false, code: JOB_WAITING_FOR_PRIORITY, message: waiting };
    } else {
      if (!this.#d.defrag || !DEFRAGGABLE_CODES.has(res.code)) return { ok: false, code: res.code, message: res.message };
      const d = this.#d.defrag.prepare(draft, request, nodeOf, check);
      if (!d.ok) return d.waiting ? { ok: false, code: JOB_WAITING_FOR_PRIORITY, message: d.waiting } : { ok: false, code: res.code, message: res.message };
      pass.defrag = d.applied;
      // The moves are in the draft now; the same engine call as the dry run places the gang on it.
      res = this.#timedPlace(buildSnapshot(draft.nodes(), nodeOf), request);
      if (!res.ok) {
        this.#d.defrag.abandoned(d.applied);
        throw new Error(`TrainingJob ${request.id}: placement after defragmentation failed: ${res.message}`);
      }
    }
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
    if (!q) return undefined;
    const self = {
      kind: 'TrainingJob' as const,
      namespace: job.metadata.namespace as string,
      name: job.metadata.name as string,
      priority: job.spec.priority ?? 0,
      created: job.metadata.creationTimestamp ?? '',
    };
    return (before, after) => {
      const pending = pendingRequests(q.partitions.list(), this.#d.jobs.list(), draft.nodes());
      const blocker = findBlocker(self, pending, before, after, this.#d.place);
      return blocker ? describeBlocker(blocker) : undefined;
    };
  }

  #timedPlace(snapshot: ClusterSnapshot, request: PlacementRequest): PlacementResult {
    const t0 = performance.now();
    const res = this.#d.place(snapshot, request);
    this.#metrics.observePlacementSeconds((performance.now() - t0) / 1000, 'TrainingJob');
    return res;
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

  #noteWrite(node: GpuNode, now: Date): void {
    this.#d.reconfig?.noteWrite(node, now);
    this.#d.expectations?.noteWritten(node);
  }

  /** Whether the GpuNode cache shows every ledger write this process made (else plan later, not from stale data). */
  #cacheCurrent(): boolean {
    return this.#d.expectations?.satisfied((n) => this.#d.gpuNodes.get(n)) ?? true;
  }

  /** Deletion: delete the workers, release every claim, drop the finalizer. */
  async #finalize(job: TrainingJob, who: ClaimantId, log: LogPort): Promise<ReconcileResult | void> {
    if (!(job.metadata.finalizers ?? []).includes(JOB_FINALIZER)) return;
    await this.#deletePods(this.#pods(job));
    const now = this.#now();
    const draft = new LedgerDraft(this.#d.gpuNodes.list());
    const released = draft.release((c) => claimNames(c, who));
    if (released > 0) {
      await commitLedger(this.#d.client, draft, (n) => this.#noteWrite(n, now));
      await this.#d.recorder.event(job, 'Normal', 'Released', `Released ${released} GPU allocation(s)`);
      log.info('Released TrainingJob GPUs', { released });
    }
    await ignoreNotFound(
      this.#d.client.mergePatch<TrainingJob>(
        RESOURCES.trainingJob,
        job.metadata.name as string,
        { metadata: { finalizers: (job.metadata.finalizers ?? []).filter((f) => f !== JOB_FINALIZER), resourceVersion: job.metadata.resourceVersion } },
        job.metadata.namespace,
      ),
    );
  }
}

function finished(p: PodObject): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}
