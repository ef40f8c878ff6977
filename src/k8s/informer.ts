/**
 * A list-then-watch cache of one resource type that keeps itself alive: unlike client-node's informer it
 * never stops for good after an error (see /work/shared/reference/client-node.md, pitfalls 1–2).
 *
 * - Lists, then watches from the list's resourceVersion; watch bookmarks advance it.
 * - On 410 Gone it relists at once and diffs against the cache: vanished objects are emitted as deleted.
 * - On any other failure it restarts (relist + watch) after a capped exponential backoff with jitter; at
 *   most one restart is pending at a time.
 * - A watchdog restarts a watch that has been silent (no event, no bookmark) for `watchdogMs`.
 * - Every `relistIntervalMs` it relists and re-delivers every object (a resync for level-triggered
 *   controllers).
 * - The cache is updated before handlers run, and a relist replaces the whole cache before any handler
 *   sees a change, so handlers never observe a partially-updated cache.
 * - `metadata.managedFields` is dropped from what it caches: nothing here reads it, and with server-side apply it
 *   is often the largest part of an object (an update that omits it leaves the server's unchanged).
 */
import type winston from 'winston';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { ListWatchClient, WatchEventType, WatchHandle } from './client.js';
import { isGone } from './errors.js';
import type { ResourceRef } from './resources.js';

/** Shape every cached object has. */
export interface InformerObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** Change handler: `previous` is the cached state before the change; `deleted` marks a removal. */
export type ChangeHandler<T> = (obj: T, previous: T | undefined, deleted: boolean) => void;

/** Metrics an informer reports (satisfied by `OperatorMetrics`). */
export interface InformerMetrics {
  informerRestarts: { inc(labels: { resource: string; reason: string }): void };
  informerEvents?: { inc(labels: { resource: string; type: string }): void };
}

/** Options of an {@link Informer}. */
export interface InformerOptions {
  /** Only this namespace (default: all namespaces, or the cluster scope). */
  namespace?: string;
  /** Only objects matching this label selector (applied to list and watch alike). */
  labelSelector?: string;
  /** Full relist and resync period; default 10 minutes. */
  relistIntervalMs?: number;
  /** Restart a watch that delivered nothing for this long; default 5 minutes. */
  watchdogMs?: number;
  /** Restart backoff; default 500 ms → 30 s, jitter 0.5. */
  backoff?: Partial<BackoffOptions>;
  /** Consecutive failed restarts after which `isHealthy()` turns false (so liveness restarts the pod); default 10. */
  maxConsecutiveFailures?: number;
  logger?: winston.Logger;
  metrics?: InformerMetrics;
}

type Phase = 'stopped' | 'listing' | 'watching' | 'waiting';

/** Cache key of an object: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: InformerObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

/**
 * `obj` without `metadata.managedFields`, removed in place (for an object the caller owns: an informer's own copy,
 * a write's response). Nothing here reads them, and they can be larger than the rest of the object.
 */
export function withoutManagedFields<T extends InformerObject>(obj: T): T {
  const meta = obj?.metadata as { managedFields?: unknown } | undefined;
  if (meta && 'managedFields' in meta) delete meta.managedFields;
  return obj;
}

/** Self-healing list/watch cache of one resource type. */
export class Informer<T extends InformerObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly backoff: Backoff;
  private readonly relistIntervalMs: number;
  private readonly watchdogMs: number;
  private readonly maxFailures: number;
  private readonly resourceLabel: string;
  private phase: Phase = 'stopped';
  /** Incremented whenever the current list/watch cycle is abandoned; callbacks of older cycles are ignored. */
  private epoch = 0;
  private resourceVersion = '';
  private synced = false;
  private failures = 0;
  private watchHandle: WatchHandle | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastActivityAt = 0;
  private lastListAt = 0;
  private watchStartedAt = 0;
  private syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(
    private readonly client: ListWatchClient,
    private readonly ref: ResourceRef,
    private readonly opts: InformerOptions = {},
  ) {
    this.backoff = new Backoff({ baseMs: 500, maxMs: 30_000, jitter: 0.5, ...opts.backoff });
    this.relistIntervalMs = opts.relistIntervalMs ?? 10 * 60_000;
    this.watchdogMs = opts.watchdogMs ?? 5 * 60_000;
    this.maxFailures = opts.maxConsecutiveFailures ?? 10;
    this.resourceLabel = `${ref.plural}${ref.group ? `.${ref.group}` : ''}`;
  }

  /** Starts listing and watching; resolves once the first list is in the cache (retrying failures meanwhile). */
  start(): Promise<void> {
    const synced = this.waitForSync();
    if (this.phase !== 'stopped') return synced;
    this.phase = 'listing';
    const period = Math.max(10, Math.min(15_000, Math.min(this.watchdogMs, this.relistIntervalMs) / 4));
    this.tickTimer = setInterval(() => this.tick(), period);
    this.tickTimer.unref?.();
    void this.listAndWatch(false);
    return synced;
  }

  /** Stops the watch and all timers; the cache keeps its last content. A pending `start()` rejects. */
  stop(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    this.epoch++;
    this.abortWatch();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = undefined;
    for (const w of this.syncWaiters.splice(0)) w.reject(new Error(`informer for ${this.resourceLabel} stopped before it synced`));
  }

  /** True once the first list has been stored. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** False after `maxConsecutiveFailures` failed restarts in a row. */
  isHealthy(): boolean {
    return this.failures < this.maxFailures;
  }

  /** The resource this informer caches. */
  get resource(): ResourceRef {
    return this.ref;
  }

  /** Cached object by name (and namespace for namespaced types). Treat it as read-only. */
  get(name: string, namespace?: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Cached objects, optionally of one namespace. Treat them as read-only. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Registers a change handler; returns a function that unregisters it. */
  onChange(handler: ChangeHandler<T>): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  private waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  /** Lists, replaces the cache, then watches from the list's resourceVersion. */
  private async listAndWatch(resyncAll: boolean): Promise<void> {
    const epoch = ++this.epoch;
    this.abortWatch();
    this.phase = 'listing';
    let listed: { items: T[]; resourceVersion: string };
    try {
      listed = await this.client.list<T>(this.ref, { namespace: this.opts.namespace, labelSelector: this.opts.labelSelector });
    } catch (err) {
      if (epoch === this.epoch) this.scheduleRestart('list-error', err);
      return;
    }
    if (epoch !== this.epoch) return;
    this.lastListAt = Date.now();
    this.resourceVersion = listed.resourceVersion;
    this.replaceAll(listed.items, resyncAll);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w.resolve();
    }
    if (epoch !== this.epoch) return; // a handler stopped the informer
    this.startWatch(epoch);
  }

  private startWatch(epoch: number): void {
    this.phase = 'watching';
    this.lastActivityAt = Date.now();
    this.watchStartedAt = this.lastActivityAt;
    // The server ends the watch cleanly before the watchdog would fire; a hung one is caught by the watchdog.
    // Never omitted: without it the server keeps a quiet watch open for 30-60 minutes.
    const timeoutSeconds = Math.max(1, Math.floor((this.watchdogMs / 1000) * (0.5 + 0.3 * Math.random())));
    void this.client
      .watch(
        this.ref,
        {
          namespace: this.opts.namespace,
          labelSelector: this.opts.labelSelector,
          resourceVersion: this.resourceVersion,
          timeoutSeconds,
        },
        (type, obj) => this.onWatchEvent(epoch, type, obj),
        (err) => this.onWatchDone(epoch, err),
      )
      .then((handle) => {
        if (epoch === this.epoch) this.watchHandle = handle;
        else handle.abort();
      });
  }

  private onWatchEvent(epoch: number, type: WatchEventType, obj: unknown): void {
    if (epoch !== this.epoch) return;
    this.lastActivityAt = Date.now();
    this.opts.metrics?.informerEvents?.inc({ resource: this.resourceLabel, type });
    if (type === 'ERROR') {
      const status = obj as { code?: number; reason?: string; message?: string };
      if (isGone(status)) {
        this.relistNow('gone');
      } else {
        this.scheduleRestart('watch-error', new Error(`watch ${this.resourceLabel}: ${status?.message ?? 'error event'}`, { cause: status }));
      }
      return;
    }
    // Data arrived: the connection is healthy again.
    this.failures = 0;
    this.backoff.reset();
    const o = withoutManagedFields(obj as T);
    const rv = o?.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (type === 'BOOKMARK') return;
    const key = objectKey(o);
    const previous = this.cache.get(key);
    if (type === 'DELETED') {
      this.cache.delete(key);
      this.emit(o, previous, true);
    } else {
      this.cache.set(key, o);
      this.emit(o, previous, false);
    }
  }

  private onWatchDone(epoch: number, err: unknown): void {
    if (epoch !== this.epoch) return;
    this.watchHandle = undefined;
    if (err === undefined || err === null) {
      // A clean end (server timeout) resumes from the last resourceVersion, unless the watch ended at once,
      // which would spin: treat that as a failure.
      if (Date.now() - this.watchStartedAt >= 1000) {
        this.startWatch(++this.epoch);
      } else {
        this.scheduleRestart('watch-closed', new Error(`watch ${this.resourceLabel} closed immediately`));
      }
      return;
    }
    if (isGone(err)) this.relistNow('gone');
    else this.scheduleRestart('watch-error', err);
  }

  /** A 410 means our resourceVersion is too old, not that anything is broken: relist without waiting. */
  private relistNow(reason: string): void {
    this.opts.metrics?.informerRestarts.inc({ resource: this.resourceLabel, reason });
    this.opts.logger?.info('Relisting', { resource: this.resourceLabel, reason });
    void this.listAndWatch(false);
  }

  /** Abandons the current cycle and restarts after backoff; a restart already pending absorbs this one. */
  private scheduleRestart(reason: string, err?: unknown): void {
    if (this.phase === 'stopped') return;
    this.epoch++;
    this.abortWatch();
    if (this.restartTimer) return;
    this.failures++;
    this.phase = 'waiting';
    const delay = this.backoff.next();
    this.opts.metrics?.informerRestarts.inc({ resource: this.resourceLabel, reason });
    this.opts.logger?.warn('Restarting informer', {
      resource: this.resourceLabel,
      reason,
      delayMs: delay,
      consecutiveFailures: this.failures,
      err,
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.listAndWatch(false);
    }, delay);
  }

  /** Periodic check: full relist when due, watchdog restart when the watch has gone silent. */
  private tick(): void {
    if (this.phase !== 'watching') return;
    const now = Date.now();
    if (now - this.lastListAt >= this.relistIntervalMs) {
      this.opts.metrics?.informerRestarts.inc({ resource: this.resourceLabel, reason: 'relist' });
      void this.listAndWatch(true);
    } else if (now - this.lastActivityAt >= this.watchdogMs) {
      this.scheduleRestart('watchdog', new Error(`watch ${this.resourceLabel} silent for ${now - this.lastActivityAt} ms`));
    }
  }

  private abortWatch(): void {
    const handle = this.watchHandle;
    this.watchHandle = undefined;
    handle?.abort();
  }

  /**
   * Replaces the cache with a fresh list, then emits the differences: new and changed objects (all of them
   * when `resyncAll`), and deletions for objects no longer listed.
   */
  private replaceAll(items: T[], resyncAll: boolean): void {
    const old = new Map(this.cache);
    this.cache.clear();
    for (const item of items) this.cache.set(objectKey(item), withoutManagedFields(item));
    const changes: Array<[T, T | undefined, boolean]> = [];
    for (const [key, item] of this.cache) {
      const previous = old.get(key);
      old.delete(key);
      if (resyncAll || !previous || previous.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        changes.push([item, previous, false]);
      }
    }
    for (const gone of old.values()) changes.push([gone, gone, true]);
    for (const [obj, previous, deleted] of changes) this.emit(obj, previous, deleted);
  }

  private emit(obj: T, previous: T | undefined, deleted: boolean): void {
    for (const handler of [...this.handlers]) {
      try {
        handler(obj, previous, deleted);
      } catch (err) {
        // A faulty handler must not break the cache or the other handlers.
        this.opts.logger?.error('Informer change handler failed', { resource: this.resourceLabel, key: objectKey(obj), err });
      }
    }
  }
}
