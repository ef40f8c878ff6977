/**
 * GpuPartition reconciler: what is per object. It observes the partition, its ledger entries (assumed ledger),
 * its pods and the admission cycle's verdict; `decidePartition` decides; it acts — hands the partition's demand
 * to the admission cycle (which places and releases, batched), keeps the finalizer while the partition holds
 * slices, and writes the status derived from the ledger once, with the Events of its transitions. It never plans
 * or writes the ledger itself. For an elastic partition (`spec.autoscale`) the pass first asks the autoscaler
 * (`partition-autoscaler.ts`) and writes the new `spec.count`, then carries on with the written object.
 */
import { PARTITION_FINALIZER, migResourceName } from '../../api/constants.js';
import { partitionPods, podPartition, type PodObject } from '../../api/pods.js';
import type { GpuPartition } from '../../api/types.js';
import { isConflict, isInvalid, isNotFound, isTestFailed } from '../../k8s/errors.js';
import { RESOURCES } from '../../k8s/resources.js';
import type { ClaimantId } from '../../ledger/claims.js';
import { PERMANENT_CODES } from '../../scheduler/cycle-planner.js';
import type { CachePort, ClientPort, Clock, LogPort, ReconcileRequest, ReconcileResult, RecorderPort } from '../../runtime/ports.js';
import type { AdmissionPort, LedgerView } from '../common/admission-port.js';
import { ObjectWrites, recordEvents } from '../common/object-writes.js';
import type { TimeToReady } from '../common/time-to-ready.js';
import { decideAutoscale, type AutoscaleDecision } from './partition-autoscaler.js';
import { decidePartition } from './partition-decision.js';
import { partitionAllocations } from './partition-status.js';
import { heldFloor, partitionUsage } from './partition-usage.js';
import { validatePartition } from './partition-validation.js';

/** Per-partition gauges: consuming pods and slices held. */
export interface PartitionMetricsPort {
  setPartitionScale(namespace: string, name: string, consumers: number, slices: number): void;
  /** Drops the gauges of a partition that is gone. */
  forgetPartition(namespace: string, name: string): void;
}

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
  metrics?: PartitionMetricsPort;
  clock?: Clock;
}

/** Reconciles GpuPartition objects. */
export class GpuPartitionReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'gpupartition';
  readonly #d: PartitionReconcilerDeps;
  readonly #writes: ObjectWrites<GpuPartition>;
  readonly #now: Clock;
  /** namespace/name → the partition (uid) this replica saw fully placed and not yet Ready, and since when. */
  readonly #placedAt = new Map<string, { uid: string; at: number }>();

  /** Creates the reconciler over its caches, the ledger view and the admission cycle. */
  constructor(deps: PartitionReconcilerDeps) {
    this.#d = deps;
    this.#writes = new ObjectWrites(deps.client, RESOURCES.gpuPartition, PARTITION_FINALIZER);
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One level-triggered pass for the partition `req`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    const key = `${req.namespace}/${req.name}`;
    let p = this.#d.partitions.get(req.name, req.namespace);
    if (!p) {
      this.#d.admission.withdraw('GpuPartition', req.namespace, req.name);
      this.#d.metrics?.forgetPartition(req.namespace, req.name);
      // Also the partitions deleted while waiting, which had no finalizer to remove.
      this.#d.timeToReady?.forget(key);
      this.#placedAt.delete(key);
      return;
    }
    const uid = p.metadata.uid ?? '';
    this.#d.timeToReady?.seen(key, uid);
    const who: ClaimantId = { kind: 'GpuPartition', namespace: req.namespace, name: req.name };
    const now = this.#now();
    const entries = this.#d.ledger.entriesOf(who);
    const pods = this.#d.pods.list(req.namespace).filter((x) => podPartition(x) === req.name);
    const allocations = partitionAllocations(entries.filter((e) => e.claim.uid === uid), (n) => this.#d.ledger.get(n));
    const resource = p.status?.resourceName ?? (p.spec.profile ? migResourceName(p.spec.profile) : undefined);
    const usage = partitionUsage(req.name, pods, allocations, resource);
    this.#d.metrics?.setPartitionScale(req.namespace, req.name, usage.consumers, allocations.length);
    let scaled: AutoscaleDecision | undefined;
    if (p.spec.autoscale && !p.metadata.deletionTimestamp) {
      const v = this.#d.admission.verdict('GpuPartition', req.namespace, req.name);
      const refused = v && v.uid === uid && v.generation === p.metadata.generation && !PERMANENT_CODES.has(v.code) ? { code: v.code, message: v.message } : undefined;
      scaled = decideAutoscale({ partition: p, usage, held: allocations.length, ...(refused ? { refused } : {}), now });
      if (scaled.count !== undefined) {
        const written = await this.#scale(p, scaled.count, log);
        // Changed or gone meanwhile: the watch brings the new version, and the next pass decides on it.
        if (!written) return;
        p = written;
      }
    }
    const count = p.spec.count ?? 1;
    const settled = p.status?.phase === 'Ready' || Boolean(p.metadata.deletionTimestamp);
    if (settled || this.#placedAt.get(key)?.uid !== uid) this.#placedAt.delete(key);
    if (!settled && !this.#placedAt.has(key) && entries.filter((e) => e.claim.uid === uid).length >= count) this.#placedAt.set(key, { uid, at: now.getTime() });
    const placedAt = this.#placedAt.get(key)?.at;
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
      floor: heldFloor(usage),
      ...(scaled ? { autoscale: { status: scaled.status, condition: scaled.condition } } : {}),
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
      this.#placedAt.delete(key);
      this.#d.timeToReady?.forget(key);
      log.info('Removed finalizer from GpuPartition');
      return;
    }
    if (decision.status) {
      const wasReady = p.status?.phase === 'Ready';
      const wrote = await this.#writes.writeStatus(p, decision.status);
      // Deleted meanwhile: nothing left to report on.
      if (wrote === 'gone') return;
      if (wrote === 'written' && decision.status.phase === 'Ready' && !wasReady) {
        this.#placedAt.delete(key);
        this.#d.timeToReady?.ready(key, uid, p.metadata.creationTimestamp);
      }
    }
    recordEvents(this.#d.recorder, p, [...(scaled?.events ?? []), ...decision.events]);
    const requeues = [decision.requeueAfterMs, scaled?.requeueAfterMs].filter((x) => x !== undefined);
    return requeues.length > 0 ? { requeueAfterMs: Math.min(...requeues) } : undefined;
  }

  /**
   * Writes `spec.count` as a JSON patch guarded by `metadata.generation`: a spec changed meanwhile (someone
   * scaled, or changed the bounds) makes it fail, and the pass decides again on the new spec. A patch of the
   * object rather than the scale subresource, because it returns the whole object (the pass goes on with the
   * new generation at once) and needs no further RBAC. Returns undefined when the write did not land.
   */
  async #scale(p: GpuPartition, count: number, log: LogPort): Promise<GpuPartition | undefined> {
    try {
      const written = await this.#d.client.jsonPatch<GpuPartition>(
        RESOURCES.gpuPartition,
        p.metadata.name as string,
        [
          { op: 'test', path: '/metadata/generation', value: p.metadata.generation },
          { op: 'add', path: '/spec/count', value: count },
        ],
        p.metadata.namespace,
      );
      log.info('Scaled GpuPartition', { from: p.spec.count ?? 1, to: count });
      return written;
    } catch (err) {
      if (isTestFailed(err) || isConflict(err) || isNotFound(err) || (isInvalid(err) && (await this.#specMoved(p)))) {
        log.debug('GpuPartition changed before its count was written; deciding again', { err });
        return undefined;
      }
      throw new Error(`writing spec.count ${count} of GpuPartition ${p.metadata.namespace}/${p.metadata.name}`, { cause: err });
    }
  }

  /** Whether the partition is gone or has another generation now (the API server may answer a failed test with a bare 422). */
  async #specMoved(p: GpuPartition): Promise<boolean> {
    const now = await this.#d.client.get<GpuPartition>(RESOURCES.gpuPartition, p.metadata.name as string, p.metadata.namespace);
    return now === undefined || now.metadata.generation !== p.metadata.generation;
  }
}
