/**
 * The narrow interfaces the reconcilers depend on. They mirror the runtime contracts of `src/k8s/**` and
 * `src/runtime/**` structurally, so the real `KubeClient`, `Informer`, event recorder and winston logger fit
 * them, and unit tests can pass small in-memory fakes.
 */
import type { ObjectMeta } from '../api/types.js';
import type { JsonPatchOp } from '../k8s/client.js';
import type { ResourceRef } from '../k8s/resources.js';
import type { ClusterSnapshot, PlacementRequest, PlacementResult } from '../placement/types.js';

/** Anything with Kubernetes object metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** The subset of `KubeClient` the reconcilers call. `get` returns undefined on 404; `delete` false on 404. */
export interface ClientPort {
  get<T>(ref: ResourceRef, name: string, namespace?: string): Promise<T | undefined>;
  create<T>(ref: ResourceRef, obj: T): Promise<T>;
  replace<T>(ref: ResourceRef, obj: T): Promise<T>;
  mergePatch<T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T>;
  replaceStatus<T>(ref: ResourceRef, obj: T): Promise<T>;
  /** JSON merge patch of the status subresource (no resourceVersion precondition unless the patch has one). */
  mergePatchStatus<T>(ref: ResourceRef, name: string, patch: object, namespace?: string): Promise<T>;
  /** Server-side apply with the client's field manager (set-lists such as finalizers merge per manager). */
  apply<T>(ref: ResourceRef, obj: T): Promise<T>;
  /** RFC 6902 JSON Patch; a failed `test` op is a 422 (see `isTestFailed`). */
  jsonPatch<T>(ref: ResourceRef, name: string, ops: JsonPatchOp[], namespace?: string, opts?: { signal?: AbortSignal }): Promise<T>;
  /** Pod eviction (Eviction API); false when the pod is already gone. */
  evict(name: string, namespace: string, opts?: { gracePeriodSeconds?: number }): Promise<boolean>;
  delete(
    ref: ResourceRef,
    name: string,
    namespace?: string,
    opts?: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan' },
  ): Promise<boolean>;
}

/** Read side of an informer cache. */
export interface CachePort<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): T[];
}

/** Emits core/v1 Events; never throws. */
export interface RecorderPort {
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void | Promise<void>;
}

/** Structured logger (winston-compatible subset). */
export interface LogPort {
  debug(message: string, meta?: Record<string, unknown>): unknown;
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

/** Domain metrics the controllers report; the operator binds them to the prom-client registry. */
export interface ControllerMetricsPort {
  /** Time one `place()` call took, by kind of request. */
  observePlacementSeconds(seconds: number, kind: 'GpuPartition' | 'TrainingJob'): void;
  /** Time from a target-layout write to the node agent reporting it realised. */
  observeReconfigurationSeconds(seconds: number, model: string): void;
  /** Slices per model, profile and state (`allocated`, `free`). */
  setSlices(model: string, profile: string, state: 'allocated' | 'free', count: number): void;
  /** Free memory-slot fraction stranded on partly used GPUs, per model (0–1). */
  setFragmentation(model: string, ratio: number): void;
  /** Requests waiting, per kind and reason. */
  setPendingRequests(kind: 'GpuPartition' | 'TrainingJob', reason: string, count: number): void;
  /** An object's creation → Ready/Running time. */
  observeTimeToReady(seconds: number, kind: 'GpuPartition' | 'TrainingJob'): void;
}

/** Metrics sink that drops everything (tests, or before the registry exists). */
export const NO_METRICS: ControllerMetricsPort = {
  observePlacementSeconds: () => undefined,
  observeReconfigurationSeconds: () => undefined,
  setSlices: () => undefined,
  setFragmentation: () => undefined,
  setPendingRequests: () => undefined,
  observeTimeToReady: () => undefined,
};

/** The placement engine's pure entry point (`place` from `src/placement/engine.ts`). */
export type PlaceFn = (snapshot: ClusterSnapshot, request: PlacementRequest) => PlacementResult;

/** Wall clock, injectable for tests. */
export type Clock = () => Date;

/** Request handed to a reconciler: the object's key. */
export interface ReconcileRequest {
  namespace?: string;
  name: string;
}

/** What a reconcile pass may ask of its controller. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}
