/**
 * Keeps defragmentation and pod admission apart. Defragmentation may move a partition's slice only while no pod
 * is admitted to the partition; the pod gate may admit a pod only while its partition is not being moved.
 *
 * The pod cache lags the gate's own writes, so the guard records every admission the moment the gate asks for it
 * (through {@link guardGateClient}), and refuses an admission with a 409 while the partition's move is in
 * flight: until the partition cache shows the moved allocations (or a safety timeout passes). Both checks run
 * synchronously before any await, so in one process neither side can slip between the other's check and write.
 */
import { PARTITION_GATE } from '../../api/constants.js';
import type { GpuPartition } from '../../api/types.js';
import { ApiError } from '../../k8s/errors.js';
import { RESOURCES, type ResourceRef } from '../../k8s/resources.js';
import { podPartition, podTerminated, podGated, type PodObject } from '../../api/pods.js';
import type { CachePort, ClientPort } from '../../runtime/ports.js';

/** How long a recorded admission counts while the pod cache still shows the pod gated. */
export const ADMISSION_MEMORY_MS = 5 * 60_000;
/** Longest time a partition counts as being moved when its status never catches up. */
export const MOVE_TIMEOUT_MS = 2 * 60_000;

/** Where one slot of a partition is expected to be after a move. */
export interface ExpectedSlot {
  slot: number;
  node: string;
  gpuIndex: number;
  start: number;
}

/** Shared record of admissions and moves in flight; one per operator process. */
export class AdmissionGuard {
  readonly #admitted = new Map<string, Map<string, number>>();
  readonly #moving = new Map<string, { expected: ExpectedSlot[]; since: number }>();
  readonly #now: () => number;

  /** `now` is injectable for tests (milliseconds). */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Records that the gate is admitting pod `pod` to the partition `namespace/name`. */
  noteAdmission(namespace: string, name: string, pod: string): void {
    const key = `${namespace}/${name}`;
    const pods = this.#admitted.get(key) ?? new Map<string, number>();
    pods.set(pod, this.#now());
    this.#admitted.set(key, pods);
  }

  /**
   * True when a pod is admitted to the partition: the cache shows a pod without the gate that has not finished
   * (terminating pods still hold their device), or the gate admitted a pod the cache still shows gated.
   */
  hasAdmittedPod(namespace: string, name: string, pods: PodObject[]): boolean {
    const mine = pods.filter((p) => p.metadata.namespace === namespace && podPartition(p) === name);
    if (mine.some((p) => !podGated(p) && !podTerminated(p))) return true;
    const key = `${namespace}/${name}`;
    const noted = this.#admitted.get(key);
    if (!noted) return false;
    for (const [pod, at] of noted) {
      const cached = mine.find((p) => p.metadata.name === pod);
      // Gone, finished, or shown ungated (counted above) or too old to trust: the record has served its purpose.
      if (!cached || podTerminated(cached) || !podGated(cached) || this.#now() - at > ADMISSION_MEMORY_MS) noted.delete(pod);
    }
    if (noted.size === 0) this.#admitted.delete(key);
    return noted.size > 0;
  }

  /** Marks the partition as being moved to `expected` (its slots' new places). */
  beginMove(namespace: string, name: string, expected: ExpectedSlot[]): void {
    this.#moving.set(`${namespace}/${name}`, { expected, since: this.#now() });
  }

  /** Forgets a move that was not written (the ledger write failed). */
  abortMove(namespace: string, name: string): void {
    this.#moving.delete(`${namespace}/${name}`);
  }

  /**
   * True while the partition's move is in flight: the cached partition does not yet report the moved
   * allocations. Settled moves are forgotten.
   */
  moving(namespace: string, name: string, cached: GpuPartition | undefined): boolean {
    const key = `${namespace}/${name}`;
    const m = this.#moving.get(key);
    if (!m) return false;
    const shown = new Set((cached?.status?.allocations ?? []).map((a) => `${a.slot}/${a.node}/${a.gpuIndex}/${a.start}`));
    const settled = !cached || m.expected.every((e) => shown.has(`${e.slot}/${e.node}/${e.gpuIndex}/${e.start}`));
    if (settled || this.#now() - m.since > MOVE_TIMEOUT_MS) {
      this.#moving.delete(key);
      return false;
    }
    return true;
  }
}

/** True when a merge patch of a pod lifts the partition scheduling gate. */
export function liftsPartitionGate(patch: object): boolean {
  const gates = (patch as { spec?: { schedulingGates?: Array<{ name: string }> } }).spec?.schedulingGates;
  return Array.isArray(gates) && !gates.some((g) => g.name === PARTITION_GATE);
}

/**
 * The pod gate's client: lifting a pod's partition gate is recorded in `guard` first, and refused with a 409
 * conflict (the gate controller retries with backoff) while the partition is being moved.
 */
export function guardGateClient(client: ClientPort, guard: AdmissionGuard, pods: CachePort<PodObject>, partitions: CachePort<GpuPartition>): ClientPort {
  return {
    get: (ref, name, namespace) => client.get(ref, name, namespace),
    create: (ref, obj) => client.create(ref, obj),
    replace: (ref, obj) => client.replace(ref, obj),
    replaceStatus: (ref, obj) => client.replaceStatus(ref, obj),
    jsonPatch: (ref, name, ops, namespace, opts) => client.jsonPatch(ref, name, ops, namespace, opts),
    mergePatchStatus: (ref, name, patch, namespace) => client.mergePatchStatus(ref, name, patch, namespace),
    apply: (ref, obj) => client.apply(ref, obj),
    evict: (name, namespace, opts) => client.evict(name, namespace, opts),
    delete: (ref, name, namespace, opts) => client.delete(ref, name, namespace, opts),
    mergePatch: <T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T> => {
      if (ref.plural === RESOURCES.pod.plural && namespace && liftsPartitionGate(patch)) {
        const pod = pods.get(name, namespace);
        const partition = pod ? podPartition(pod) : undefined;
        if (partition) {
          if (guard.moving(namespace, partition, partitions.get(partition, namespace))) {
            return Promise.reject(
              new ApiError(`GpuPartition ${namespace}/${partition} is being moved by defragmentation; admitting pod ${name} later`, 409, { reason: 'Conflict' }),
            );
          }
          guard.noteAdmission(namespace, partition, name);
        }
      }
      return client.mergePatch<T>(ref, name, patch, namespace);
    },
  };
}
