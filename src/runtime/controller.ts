/**
 * Wires one {@link Reconciler} to a de-duplicating work queue served by N workers. Informer changes are
 * mapped to requests and queued; each pass gets a child logger (kind/namespace/name/reconcileId), is timed
 * and counted. A 409 conflict, or a write refused because the leader Lease expired, is requeued with backoff
 * and logged at debug level only; any other error is logged and requeued with per-key backoff.
 */
import type winston from 'winston';
import { isConflict, isFencedWrite } from '../k8s/errors.js';
import type { ChangeHandler, Informer, InformerObject } from '../k8s/informer.js';
import { KeyedBackoff } from '../k8s/backoff.js';
import { WorkQueue } from '../k8s/workqueue.js';
import { childLogger, logger as rootLogger, newReconcileId } from './logger.js';
import type { OperatorMetrics } from './metrics.js';
import { parseRequestKey, requestKey, type ReconcileRequest, type Reconciler } from './reconciler.js';

/** Maps an informer change to the requests it should trigger. */
export type RequestMapper<T> = (obj: T, previous: T | undefined, deleted: boolean) => ReconcileRequest[];

/** Options of a {@link Controller}. */
export interface ControllerOptions {
  /** Concurrent workers (distinct keys only); default 2. */
  workers?: number;
  /** Kind of the reconciled object, for log lines (defaults to the reconciler name). */
  kind?: string;
  logger?: winston.Logger;
  metrics?: OperatorMetrics;
  /** Per-key retry backoff; default 100 ms → 60 s. */
  rateLimiter?: KeyedBackoff;
}

/** Maps an object to a request for itself. */
export function requestFor(obj: InformerObject): ReconcileRequest {
  const ns = obj.metadata?.namespace;
  return { ...(ns ? { namespace: ns } : {}), name: obj.metadata?.name ?? '' };
}

/** Runs one reconciler over a work queue. */
export class Controller {
  readonly name: string;
  private queue: WorkQueue;
  private readonly workers: number;
  private readonly kind: string;
  private readonly log: winston.Logger;
  private readonly sources: Array<{ informer: Informer<InformerObject>; map: RequestMapper<InformerObject> }> = [];
  private loops: Promise<void>[] = [];
  private running = false;

  constructor(
    private readonly reconciler: Reconciler,
    private readonly opts: ControllerOptions = {},
  ) {
    this.name = reconciler.name;
    this.workers = Math.max(1, opts.workers ?? 2);
    this.kind = opts.kind ?? reconciler.name;
    this.log = (opts.logger ?? rootLogger).child({ controller: this.name });
    this.queue = this.newQueue();
  }

  /**
   * Enqueues the requests `map` returns for every change of `informer` (default: the object itself).
   * Changes seen while the controller is not running are kept until it starts.
   */
  watch<T extends InformerObject>(informer: Informer<T>, map?: RequestMapper<T>): this {
    const mapper = (map ?? ((obj: T) => [requestFor(obj)])) as RequestMapper<InformerObject>;
    this.sources.push({ informer: informer as unknown as Informer<InformerObject>, map: mapper });
    // A request caused by an object's creation goes first: a new object's first pass is usually cheap (a new
    // GpuPartition only hands its demand to the admission cycle), and in a burst it would otherwise wait behind
    // the status writes of every older object before the cycle could even decide it.
    const handler: ChangeHandler<T> = (obj, previous, deleted) => {
      const created = previous === undefined && !deleted;
      for (const req of mapper(obj, previous, deleted)) this.enqueue(req, created);
    };
    informer.onChange(handler);
    return this;
  }

  /** Queues a request (de-duplicated against queued and in-flight ones); `first` puts it before the others. */
  enqueue(req: ReconcileRequest, first = false): void {
    if (!req.name) return;
    this.queue.add(requestKey(req), first);
  }

  /** Queues a request after a delay. */
  enqueueAfter(req: ReconcileRequest, ms: number): void {
    if (!req.name) return;
    this.queue.addAfter(requestKey(req), ms);
  }

  /** Keys waiting in the queue. */
  queueLength(): number {
    return this.queue.len();
  }

  /** True while workers are running. */
  isRunning(): boolean {
    return this.running;
  }

  /**
   * Starts the workers and queues every object already in the watched informers' caches, so a controller
   * that (re)starts, e.g. on becoming leader, reconciles the whole current state.
   */
  start(): void {
    if (this.running) return;
    if (this.queue.isShuttingDown()) this.queue = this.newQueue();
    this.running = true;
    for (const { informer, map } of this.sources) {
      for (const obj of informer.list()) for (const req of map(obj, obj, false)) this.enqueue(req);
    }
    this.loops = Array.from({ length: this.workers }, () => this.workerLoop());
    this.log.info('Controller started', { workers: this.workers });
  }

  /** Stops handing out work and waits for the passes in flight to finish. */
  async stop(): Promise<void> {
    if (!this.running) return;
    // A fresh queue keeps collecting changes while stopped, so a later start() misses nothing.
    const old = this.queue;
    this.queue = this.newQueue();
    old.shutDown();
    await Promise.all(this.loops);
    this.loops = [];
    this.running = false;
    this.log.info('Controller stopped');
  }

  private newQueue(): WorkQueue {
    const gauge = this.opts.metrics?.queueDepth;
    return new WorkQueue({
      rateLimiter: this.opts.rateLimiter ?? new KeyedBackoff(),
      onDepth: gauge ? (depth) => gauge.set({ controller: this.name }, depth) : undefined,
    });
  }

  private async workerLoop(): Promise<void> {
    const queue = this.queue;
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.process(queue, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async process(queue: WorkQueue, key: string): Promise<void> {
    const req = parseRequestKey(key);
    const log = childLogger(this.kind, req.namespace, req.name, newReconcileId(), this.log);
    const m = this.opts.metrics;
    const endTimer = m?.reconcileDuration.startTimer({ controller: this.name });
    try {
      const result = await this.reconciler.reconcile(req, log);
      queue.forget(key);
      if (result && result.requeueAfterMs !== undefined && result.requeueAfterMs >= 0) {
        queue.addAfter(key, result.requeueAfterMs);
        m?.reconcileTotal.inc({ controller: this.name, result: 'requeue' });
      } else {
        m?.reconcileTotal.inc({ controller: this.name, result: 'success' });
      }
    } catch (err) {
      // A write conflict only means our cache was stale: retry quietly once the informer catches up.
      if (isFencedWrite(err)) {
        // Leadership is ending: the controllers are being stopped and the next leader resyncs everything.
        log.debug('Write refused, the leader Lease is no longer valid', { err });
        m?.reconcileTotal.inc({ controller: this.name, result: 'fenced' });
      } else if (isConflict(err)) {
        log.debug('Conflict writing object, requeueing', { err });
        m?.reconcileTotal.inc({ controller: this.name, result: 'conflict' });
      } else {
        log.error('Reconcile failed', { err, retries: queue.numRequeues(key) });
        m?.reconcileTotal.inc({ controller: this.name, result: 'error' });
        m?.reconcileErrors.inc({ controller: this.name });
      }
      m?.queueRetries.inc({ controller: this.name });
      queue.addRateLimited(key);
    } finally {
      endTimer?.();
    }
  }
}
