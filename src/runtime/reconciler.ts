/** The contract between the runtime and a reconciler. */
import type winston from 'winston';

/** Identifies the object to reconcile; `namespace` is absent for cluster-scoped objects. */
export interface ReconcileRequest {
  namespace?: string;
  name: string;
}

/** Outcome of a successful pass: optionally ask to be called again after a delay (time-driven work only). */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

/**
 * A level-triggered reconciler: it reads the current state of `req` and drives the world towards it, never
 * branching on which event triggered the pass. Throwing retries the key with per-key backoff; a 409
 * conflict is retried quietly.
 */
export interface Reconciler {
  /** Controller name, used in metrics and logs (e.g. `gpupartition`). */
  readonly name: string;
  reconcile(req: ReconcileRequest, log: winston.Logger): Promise<ReconcileResult | void>;
}

/** Work-queue key of a request: `namespace/name` or `name`. */
export function requestKey(req: ReconcileRequest): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** Inverse of {@link requestKey}. */
export function parseRequestKey(key: string): ReconcileRequest {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
