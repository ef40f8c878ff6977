/**
 * Lifts the partition scheduling gate of pods that may consume a GpuPartition, pinning each to one of the
 * partition's nodes; pods that must wait keep the gate, get a Warning Event and an annotation saying why.
 * Requests are keyed by partition (`namespace/partitionName`), so one partition's pods are decided serially.
 * The key `namespace/*` ({@link BINDING_REQUEST}) binds the namespace's pods that name no partition (plain NVIDIA-style pods
 * the MutatingAdmissionPolicy gated) to a matching partition by setting their label; their admission then
 * follows under the partition's key.
 */
import { PARTITION_GATE, PARTITION_LABEL } from '../../api/constants.js';
import { EVENT_REASONS } from '../../api/conditions.js';
import type { GpuPartition } from '../../api/types.js';
import { RESOURCES } from '../../k8s/resources.js';
import { TimeToReady } from '../common/time-to-ready.js';
import { ADMISSION_ANNOTATION, ADMISSION_REASON_ANNOTATION, decideAdmissions, decideBindings, podAwaitsBinding, type AssumedAdmission } from './pod-admission.js';
import { pinToNode, podGated, podPartition, podSlices, podTerminated, type PodObject } from '../../api/pods.js';
import type { CachePort, ClientPort, LogPort, ReconcileRequest, ReconcileResult, RecorderPort } from '../../runtime/ports.js';

/** How long consumer pods wait at the gate. */
export interface PodGateMetricsPort {
  /** Seconds from a consumer pod's creation to its admission (its slice realised and free); `elastic`: the partition autoscales. */
  observeConsumerWait(seconds: number, elastic: boolean): void;
}

/** What the pod gate reconciler reads and writes. */
export interface PodGateReconcilerDeps {
  client: ClientPort;
  /** Pods labelled with the partition label. */
  pods: CachePort<PodObject>;
  partitions: CachePort<GpuPartition>;
  recorder: RecorderPort;
  metrics?: PodGateMetricsPort;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
}

/** Request name of a namespace's binding pass (`*` names no partition: partition names are DNS subdomains). */
export const BINDING_REQUEST = '*';

/** Admits gated pods to their partitions. */
export class PodGateReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'pod-gate';
  readonly #d: PodGateReconcilerDeps;
  /** Admissions per partition key that the pod cache may not show yet (like the scheduler's assume cache). */
  readonly #assumed = new Map<string, AssumedAdmission[]>();
  /** Per partition key: gated pod uid → the waiting-reason key last announced (the cache may not show the annotation yet). */
  readonly #announced = new Map<string, Map<string, string>>();
  /** Per partition key: uids of gated pods whose wait is being timed. */
  readonly #timed = new Map<string, Set<string>>();
  readonly #waits: TimeToReady;

  /** Creates the reconciler. */
  constructor(deps: PodGateReconcilerDeps) {
    this.#d = deps;
    // Observed through the port with the partition's kind of scaling, so the tracker's own sink stays unused.
    this.#waits = new TimeToReady(() => undefined, deps.now);
  }

  /** Decides every gated pod of the partition `req` (namespace + partition name), or binds the namespace's unbound pods. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    if (!req.namespace) return;
    if (req.name === BINDING_REQUEST) return this.#bind(req.namespace, log);
    const key = `${req.namespace}/${req.name}`;
    const pods = this.#d.pods.list(req.namespace).filter((p) => podPartition(p) === req.name);
    // Forget assumptions the cache has caught up with (pod ungated, finished or gone).
    const byUid = new Map(pods.map((p) => [p.metadata.uid, p]));
    const assumed = (this.#assumed.get(key) ?? []).filter((a) => {
      const pod = byUid.get(a.uid);
      return pod !== undefined && podGated(pod) && !podTerminated(pod);
    });
    const partition = this.#d.partitions.get(req.name, req.namespace);
    const elsewhere = partition
      ? []
      : this.#d.partitions
          .list()
          .filter((p) => p.metadata.name === req.name && p.metadata.namespace !== req.namespace)
          .map((p) => p.metadata.namespace as string)
          .sort();
    const decisions = decideAdmissions({ namespace: req.namespace, partitionName: req.name, partition, elsewhere, pods, assumed });
    this.#trackWaits(key, pods);
    const announcedBefore = this.#announced.get(key) ?? new Map<string, string>();
    const announced = new Map<string, string>();
    for (const d of decisions) {
      const pod = d.pod;
      const name = pod.metadata.name as string;
      const uid = pod.metadata.uid ?? '';
      if (d.admit) {
        const stale = [ADMISSION_ANNOTATION, ADMISSION_REASON_ANNOTATION].filter((a) => pod.metadata.annotations?.[a] !== undefined);
        const annotations = stale.length > 0 ? { annotations: Object.fromEntries(stale.map((a) => [a, null])) } : {};
        await this.#d.client.mergePatch<PodObject>(
          RESOURCES.pod,
          name,
          {
            metadata: { resourceVersion: pod.metadata.resourceVersion, ...annotations },
            spec: {
              schedulingGates: (pod.spec.schedulingGates ?? []).filter((g) => g.name !== PARTITION_GATE),
              affinity: pinToNode(pod.spec, d.node),
            },
          },
          req.namespace,
        );
        assumed.push({ uid, node: d.node, slices: podSlices(pod, partition?.status?.resourceName ?? '') });
        this.#admitted(key, pod, partition);
        void this.#d.recorder.event(pod, 'Normal', EVENT_REASONS.admitted, `Admitted to GpuPartition ${key} on node ${d.node}`);
        log.info('Admitted pod to GpuPartition', { pod: name, node: d.node });
        continue;
      }
      // The annotation follows the message; the Warning Event is recorded once per reason key, not per pass.
      const before = announcedBefore.get(uid) ?? pod.metadata.annotations?.[ADMISSION_REASON_ANNOTATION];
      announced.set(uid, d.key);
      if (pod.metadata.annotations?.[ADMISSION_ANNOTATION] === d.message && before === d.key) continue;
      await this.#d.client.mergePatch<PodObject>(
        RESOURCES.pod,
        name,
        { metadata: { annotations: { [ADMISSION_ANNOTATION]: d.message, [ADMISSION_REASON_ANNOTATION]: d.key } } },
        req.namespace,
      );
      if (before !== d.key) void this.#d.recorder.event(pod, 'Warning', d.reason, d.message);
      log.debug('Pod waits for GpuPartition', { pod: name, reason: d.reason });
    }
    if (announced.size > 0) this.#announced.set(key, announced);
    else this.#announced.delete(key);
    if (assumed.length > 0) this.#assumed.set(key, assumed);
    else this.#assumed.delete(key);
  }

  /** Starts timing the partition's gated pods, and forgets those that left without being admitted. */
  #trackWaits(key: string, pods: PodObject[]): void {
    const gated = new Set(pods.filter((p) => podGated(p) && !podTerminated(p) && !p.metadata.deletionTimestamp).map((p) => p.metadata.uid ?? ''));
    const timed = this.#timed.get(key) ?? new Set<string>();
    for (const uid of timed) {
      if (gated.has(uid)) continue;
      timed.delete(uid);
      this.#waits.forget(uid);
    }
    for (const uid of gated) {
      timed.add(uid);
      this.#waits.seen(uid, uid);
    }
    if (timed.size > 0) this.#timed.set(key, timed);
    else this.#timed.delete(key);
  }

  /** Observes how long an admitted pod waited at the gate. */
  #admitted(key: string, pod: PodObject, partition: GpuPartition | undefined): void {
    const uid = pod.metadata.uid ?? '';
    const seconds = this.#waits.ready(uid, uid, pod.metadata.creationTimestamp);
    if (seconds !== undefined) this.#d.metrics?.observeConsumerWait(seconds, partition?.spec.autoscale !== undefined);
    this.#timed.get(key)?.delete(uid);
    this.#waits.forget(uid);
  }

  /** Sets the partition label of the namespace's pods that name none, or says why a pod waits. */
  async #bind(namespace: string, log: LogPort): Promise<void> {
    const decisions = decideBindings({ namespace, partitions: this.#d.partitions.list(namespace), pods: this.#d.pods.list(namespace) });
    for (const d of decisions) {
      const pod = d.pod;
      const name = pod.metadata.name as string;
      if (d.bind) {
        // With the resourceVersion: a pod changed meanwhile is decided again, never bound twice.
        await this.#d.client.mergePatch<PodObject>(
          RESOURCES.pod,
          name,
          { metadata: { resourceVersion: pod.metadata.resourceVersion, labels: { [PARTITION_LABEL]: d.partition }, annotations: { [ADMISSION_ANNOTATION]: null } } },
          namespace,
        );
        await this.#d.recorder.event(pod, 'Normal', EVENT_REASONS.bound, `Bound to GpuPartition ${namespace}/${d.partition}, the first Ready partition by name offering the pod's resource with a free slice`);
        log.info('Bound pod to GpuPartition', { pod: name, partition: d.partition });
        continue;
      }
      if (pod.metadata.annotations?.[ADMISSION_ANNOTATION] === d.message) continue;
      await this.#d.client.mergePatch<PodObject>(RESOURCES.pod, name, { metadata: { annotations: { [ADMISSION_ANNOTATION]: d.message } } }, namespace);
      await this.#d.recorder.event(pod, 'Warning', d.reason, d.message);
      log.debug('Pod waits for a matching GpuPartition', { pod: name, reason: d.reason });
    }
  }
}

/**
 * Requests of the gate controller for a pod change: the partition the pod names, and the namespace's binding
 * key while any pod there waits for a partition (a pod that ends may free the slice it waits for).
 */
export function podGateRequests(pods: CachePort<PodObject>): (pod: PodObject) => ReconcileRequest[] {
  return (pod) => {
    const ns = pod.metadata.namespace;
    if (!ns) return [];
    const partition = podPartition(pod);
    const out: ReconcileRequest[] = partition ? [{ namespace: ns, name: partition }] : [];
    if (podAwaitsBinding(pod) || pods.list(ns).some(podAwaitsBinding)) out.push({ namespace: ns, name: BINDING_REQUEST });
    return out;
  };
}

/** Requests of the gate controller for a partition change: the partition, and its namespace's binding key while a pod there waits for one. */
export function partitionGateRequests(pods: CachePort<PodObject>): (p: GpuPartition) => ReconcileRequest[] {
  return (p) => {
    const ns = p.metadata.namespace;
    if (!ns || !p.metadata.name) return [];
    return [{ namespace: ns, name: p.metadata.name }, ...(pods.list(ns).some(podAwaitsBinding) ? [{ namespace: ns, name: BINDING_REQUEST }] : [])];
  };
}
