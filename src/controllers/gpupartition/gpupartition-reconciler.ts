/**
 * GpuPartition reconciler: what is per object. It observes the partition, its ledger entries (assumed ledger),
 * its pods and the admission cycle's verdict; `decidePartition` decides; it acts — hands the partition's demand
 * to the admission cycle (which places and releases, batched), keeps the finalizer while the partition holds
 * slices, and writes the status derived from the ledger once, with the Events of its transitions. It never plans
 * or writes the ledger itself.
 */
import { PARTITION_FINALIZER } from '../../api/constants.js';
import { partitionPods, podPartition, type PodObject } from '../../api/pods.js';
import type { GpuPartition } from '../../api/types.js';
import { RESOURCES } from '../../k8s/resources.js';
import type { ClaimantId } from '../../ledger/claims.js';
import type { CachePort, ClientPort, Clock, LogPort, ReconcileRequest, ReconcileResult, RecorderPort } from '../../runtime/ports.js';
import type { AdmissionPort, LedgerView } from '../common/admission-port.js';
import { ObjectWrites, recordEvents } from '../common/object-writes.js';
import type { TimeToReady } from '../common/time-to-ready.js';
import { decidePartition } from './partition-decision.js';
import { validatePartition } from './partition-validation.js';

/** What the GpuPartition reconciler reads and writes. */
export interface PartitionReconcilerDeps {
  client: ClientPort;
  partitions: CachePort<GpuPartition>;
  /** Pods labelled with the partition label. */
  pods: CachePort<PodObject>;
  ledger: LedgerView;
  admission: AdmissionPort;
  recorder: RecorderPort;
  timeToReady?: TimeToReady;
  clock?: Clock;
}

/** Reconciles GpuPartition objects. */
export class GpuPartitionReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'gpupartition';
  readonly #d: PartitionReconcilerDeps;
  readonly #writes: ObjectWrites<GpuPartition>;
  readonly #now: Clock;
  /** uid → when this replica first saw the partition fully placed and not yet Ready. */
  readonly #placedAt = new Map<string, number>();

  /** Creates the reconciler over its caches, the ledger view and the admission cycle. */
  constructor(deps: PartitionReconcilerDeps) {
    this.#d = deps;
    this.#writes = new ObjectWrites(deps.client, RESOURCES.gpuPartition, PARTITION_FINALIZER);
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One level-triggered pass for the partition `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    let p = this.#d.partitions.get(req.name, req.namespace);
    if (!p) {
      this.#d.admission.withdraw('GpuPartition', req.namespace, req.name);
      return;
    }
    const uid = p.metadata.uid ?? '';
    this.#d.timeToReady?.seen(uid);
    const who: ClaimantId = { kind: 'GpuPartition', namespace: req.namespace, name: req.name };
    const now = this.#now();
    const entries = this.#d.ledger.entriesOf(who);
    const pods = this.#d.pods.list(req.namespace).filter((x) => podPartition(x) === req.name);
    const count = p.spec.count ?? 1;
    if (p.status?.phase === 'Ready' || p.metadata.deletionTimestamp) this.#placedAt.delete(uid);
    else if (entries.filter((e) => e.claim.uid === uid).length >= count && !this.#placedAt.has(uid)) this.#placedAt.set(uid, now.getTime());
    const placedAt = this.#placedAt.get(uid);
    const verdict = this.#d.admission.verdict('GpuPartition', req.namespace, req.name);
    const products = this.#d.ledger.list().map((n) => n.status?.inventory?.product).filter((x) => x !== undefined);
    const invalid = validatePartition(p, products);
    const decision = decidePartition({
      partition: p,
      entries,
      gpuNode: (n) => this.#d.ledger.get(n),
      pods,
      admitted: partitionPods(pods, req.name).admitted,
      ...(invalid ? { invalid } : {}),
      ...(verdict ? { verdict } : {}),
      ...(placedAt !== undefined ? { placedForMs: now.getTime() - placedAt } : {}),
      now,
    });

    // The demand first: the cycle works on it while this pass writes.
    if (decision.demand === 'withdraw') this.#d.admission.withdraw('GpuPartition', req.namespace, req.name);
    else if (decision.demand) this.#d.admission.submit(decision.demand);
    if (decision.finalizer === 'add') {
      const updated = await this.#writes.addFinalizer(p);
      if (!updated) return;
      p = updated;
      log.debug('Added finalizer to GpuPartition');
    }
    if (decision.finalizer === 'remove') {
      await this.#writes.removeFinalizer(p);
      this.#placedAt.delete(uid);
      this.#d.timeToReady?.forget(uid);
      log.info('Removed finalizer from GpuPartition');
      return;
    }
    if (decision.status) {
      const wasReady = p.status?.phase === 'Ready';
      const wrote = await this.#writes.writeStatus(p, decision.status);
      // Deleted meanwhile: nothing left to report on.
      if (wrote === 'gone') return;
      if (wrote === 'written' && decision.status.phase === 'Ready' && !wasReady) {
        this.#placedAt.delete(uid);
        this.#d.timeToReady?.ready(uid, p.metadata.creationTimestamp);
      }
    }
    recordEvents(this.#d.recorder, p, decision.events);
    return decision.requeueAfterMs !== undefined ? { requeueAfterMs: decision.requeueAfterMs } : undefined;
  }
}
