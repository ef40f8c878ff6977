/**
 * TrainingJob reconciler: observe (the job, its ledger entries, its worker pods, the admission cycle's verdict)
 * → decide (`decideJob`, pure) → act (hand the gang's demand to the admission cycle, delete and create worker
 * pods behind a headless Service, keep the finalizer) → one status write, then the Events. The admission cycle
 * places and releases the gang; this reconciler never writes the ledger.
 */
import { JOB_FINALIZER, JOB_LABEL } from '../../api/constants.js';
import type { PodObject } from '../../api/pods.js';
import type { TrainingJob } from '../../api/types.js';
import { isAlreadyExists } from '../../k8s/errors.js';
import { RESOURCES } from '../../k8s/resources.js';
import type { ClaimantId } from '../../ledger/claims.js';
import type { CachePort, ClientPort, Clock, LogPort, ReconcileRequest, ReconcileResult, RecorderPort } from '../../runtime/ports.js';
import { ObjectWrites, recordEvents } from '../common/object-writes.js';
import type { TimeToReady } from '../common/time-to-ready.js';
import type { AdmissionPort, LedgerView } from '../common/admission-port.js';
import { buildHeadlessService, type ServiceObject } from './headless-service.js';
import { decideJob } from './job-decision.js';
import { workerIdentity } from './worker-pods.js';

/** What the TrainingJob reconciler reads and writes. */
export interface JobReconcilerDeps {
  client: ClientPort;
  jobs: CachePort<TrainingJob>;
  /** Pods labelled with the job label. */
  pods: CachePort<PodObject>;
  ledger: LedgerView;
  admission: AdmissionPort;
  recorder: RecorderPort;
  timeToReady?: TimeToReady;
  clock?: Clock;
}

/** Reconciles TrainingJob objects. */
export class TrainingJobReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'trainingjob';
  readonly #d: JobReconcilerDeps;
  readonly #writes: ObjectWrites<TrainingJob>;
  readonly #now: Clock;

  /** Creates the reconciler over its caches, the ledger view and the admission cycle. */
  constructor(deps: JobReconcilerDeps) {
    this.#d = deps;
    this.#writes = new ObjectWrites(deps.client, RESOURCES.trainingJob, JOB_FINALIZER);
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One level-triggered pass for the job `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    const key = `${req.namespace}/${req.name}`;
    let job = this.#d.jobs.get(req.name, req.namespace);
    if (!job) {
      this.#d.admission.withdraw('TrainingJob', req.namespace, req.name);
      this.#d.timeToReady?.forget(key);
      return;
    }
    this.#d.timeToReady?.seen(key, job.metadata.uid);
    const who: ClaimantId = { kind: 'TrainingJob', namespace: req.namespace, name: req.name };
    const verdict = this.#d.admission.verdict('TrainingJob', req.namespace, req.name);
    const decision = decideJob({
      job,
      entries: this.#d.ledger.entriesOf(who),
      gpuNode: (n) => this.#d.ledger.get(n),
      pods: this.#pods(job),
      ...(verdict ? { verdict } : {}),
      now: this.#now(),
    });

    if (decision.demand === 'withdraw') this.#d.admission.withdraw('TrainingJob', req.namespace, req.name);
    else if (decision.demand) this.#d.admission.submit(decision.demand);
    for (const p of decision.deletePods) {
      await this.#d.client.delete(RESOURCES.pod, p.metadata.name as string, p.metadata.namespace, { propagationPolicy: 'Background' });
    }
    if (decision.finalizer === 'add') {
      const updated = await this.#writes.addFinalizer(job);
      if (!updated) return;
      job = updated;
    }
    if (decision.finalizer === 'remove') {
      await this.#writes.removeFinalizer(job);
      this.#d.timeToReady?.forget(key);
      log.info('Removed finalizer from TrainingJob');
      return;
    }
    if (decision.createPods.length > 0) {
      await this.#ensureService(job);
      for (const pod of decision.createPods) await this.#createPod(pod);
    }
    if (decision.status) {
      const wasRunning = job.status?.phase === 'Running';
      const wrote = await this.#writes.writeStatus(job, decision.status);
      // Deleted meanwhile: nothing left to report on.
      if (wrote === 'gone') return;
      if (wrote === 'written' && decision.status.phase === 'Running' && !wasRunning) this.#d.timeToReady?.ready(key, job.metadata.uid, job.metadata.creationTimestamp);
    }
    recordEvents(this.#d.recorder, job, decision.events);
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : undefined;
  }

  /** The job's pods (by label and controller owner uid). */
  #pods(job: TrainingJob): PodObject[] {
    return this.#d.pods
      .list(job.metadata.namespace)
      .filter((p) => p.metadata.labels?.[JOB_LABEL] === job.metadata.name && (p.metadata.ownerReferences ?? []).some((o) => o.uid === job.metadata.uid))
      .filter((p) => workerIdentity(p) !== undefined);
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

  async #createPod(pod: PodObject): Promise<void> {
    try {
      await this.#d.client.create<PodObject>(RESOURCES.pod, pod);
    } catch (err) {
      // Created by an earlier pass the cache has not shown yet.
      if (!isAlreadyExists(err)) throw new Error(`creating worker pod ${pod.metadata.name}`, { cause: err });
    }
  }
}
