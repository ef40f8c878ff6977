/**
 * Records core/v1 Events about objects, the way `kubectl describe` shows them. Repeats of the same event
 * (same object, type, reason and message) bump `count` and `lastTimestamp` on the existing Event instead
 * of creating a new one. Recording is best effort: it never throws, failures are logged.
 */
import { randomBytes } from 'node:crypto';
import type winston from 'winston';
import type { KubeClient } from './client.js';
import { isFencedWrite, isNotFound } from './errors.js';
import { RESOURCES } from './resources.js';

/** Event type as shown by kubectl. */
export type EventType = 'Normal' | 'Warning';

/** The object an event is about. */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** `source.component` and `reportingComponent`; default `haein-operator`. */
  component?: string;
  /** `reportingInstance` (e.g. the pod name); defaults to the component. */
  instance?: string;
  logger?: winston.Logger;
  /** Repeats older than this create a new Event rather than bumping the old one; default 10 minutes. */
  dedupWindowMs?: number;
  /** Remembered distinct events (oldest forgotten first); default 4096. */
  maxCached?: number;
  /** Clock, injectable for tests. */
  now?: () => Date;
  /** Event writes in flight at once; default 8. Recording never holds up the caller's work for long. */
  maxInFlight?: number;
  /**
   * Events waiting for a write slot beyond which new ones are dropped (and counted), as client-go's broadcaster
   * drops when its buffer is full: Events are best effort, a burst must not turn into API-server load or memory;
   * default 1,000 (client-go's queue length).
   */
  maxBacklog?: number;
}

interface Recorded {
  name: string;
  namespace: string;
  count: number;
  lastSeen: number;
}

const MAX_MESSAGE = 1024;

/** Creates and de-duplicates Kubernetes Events. */
export class EventRecorder {
  private readonly component: string;
  private readonly dedupWindowMs: number;
  private readonly maxCached: number;
  private readonly now: () => Date;
  /** Insertion-ordered, so the first entry is the least recently used. */
  private readonly recorded = new Map<string, Recorded>();
  /** Serialises writes per event key so concurrent repeats do not create duplicates. */
  private readonly pending = new Map<string, Promise<void>>();
  private inFlight = 0;
  private readonly backlog: Array<() => void> = [];
  /** Events dropped because the backlog was full. */
  dropped = 0;

  constructor(
    private readonly client: Pick<KubeClient, 'create' | 'mergePatch'>,
    private readonly opts: EventRecorderOptions = {},
  ) {
    this.component = opts.component ?? 'haein-operator';
    this.dedupWindowMs = opts.dedupWindowMs ?? 10 * 60_000;
    this.maxCached = opts.maxCached ?? 4096;
    this.now = opts.now ?? (() => new Date());
  }

  /** Records an event about `obj`; resolves when written (or when writing failed and was logged, or was dropped). */
  event(obj: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const key = [obj.kind, meta.namespace ?? '', meta.name, meta.uid ?? '', type, reason, message].join('\u0000');
    if (this.backlog.length >= (this.opts.maxBacklog ?? 1000)) {
      this.dropped++;
      return Promise.resolve();
    }
    // A waiting Event keeps only what it names, not the whole object (spec, status) it was recorded from.
    const subject = subjectOf(obj);
    const prior = this.pending.get(key) ?? Promise.resolve();
    const next = prior.then(() => this.slot(() => this.write(key, subject, type, reason, message)));
    this.pending.set(key, next);
    void next.finally(() => {
      if (this.pending.get(key) === next) this.pending.delete(key);
    });
    return next;
  }

  /** Runs `fn` when fewer than `maxInFlight` writes are in flight. */
  private async slot(fn: () => Promise<void>): Promise<void> {
    if (this.inFlight >= (this.opts.maxInFlight ?? 8)) await new Promise<void>((resolve) => this.backlog.push(resolve));
    this.inFlight++;
    try {
      await fn();
    } finally {
      this.inFlight--;
      this.backlog.shift()?.();
    }
  }

  private async write(key: string, obj: EventSubject, type: EventType, reason: string, message: string): Promise<void> {
    const meta = obj.metadata ?? {};
    const now = this.now();
    const stamp = now.toISOString();
    const seen = this.recorded.get(key);
    try {
      if (seen && now.getTime() - seen.lastSeen < this.dedupWindowMs) {
        try {
          await this.client.mergePatch(RESOURCES.event, seen.name, { count: seen.count + 1, lastTimestamp: stamp }, seen.namespace);
          this.remember(key, { ...seen, count: seen.count + 1, lastSeen: now.getTime() });
          return;
        } catch (err) {
          // The Event expired (the API server drops them after its TTL): fall through and create a new one.
          if (!isNotFound(err)) throw err;
        }
      }
      // Cluster-scoped objects get their events in `default`, as kubectl expects.
      const namespace = meta.namespace || 'default';
      const name = `${(meta.name ?? 'unknown').slice(0, 200)}.${now.getTime().toString(16)}${randomBytes(3).toString('hex')}`;
      await this.client.create(RESOURCES.event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: meta.name,
          ...(meta.namespace ? { namespace: meta.namespace } : {}),
          ...(meta.uid ? { uid: meta.uid } : {}),
          ...(meta.resourceVersion ? { resourceVersion: meta.resourceVersion } : {}),
        },
        type,
        reason,
        message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message,
        count: 1,
        firstTimestamp: stamp,
        lastTimestamp: stamp,
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: this.opts.instance ?? this.component,
      });
      this.remember(key, { name, namespace, count: 1, lastSeen: now.getTime() });
    } catch (err) {
      // A replica whose Lease expired stays silent: the new leader reports what happens now.
      if (isFencedWrite(err)) return;
      this.opts.logger?.warn('Failed to record event', {
        kind: obj.kind,
        namespace: meta.namespace,
        name: meta.name,
        reason,
        err,
      });
    }
  }

  private remember(key: string, rec: Recorded): void {
    this.recorded.delete(key);
    this.recorded.set(key, rec);
    while (this.recorded.size > this.maxCached) {
      const oldest = this.recorded.keys().next().value as string;
      this.recorded.delete(oldest);
    }
  }
}

/** The reference fields of `obj` that an Event's `involvedObject` names. */
function subjectOf(obj: EventSubject): EventSubject {
  const m = obj.metadata ?? {};
  return {
    ...(obj.apiVersion !== undefined ? { apiVersion: obj.apiVersion } : {}),
    ...(obj.kind !== undefined ? { kind: obj.kind } : {}),
    metadata: {
      ...(m.name !== undefined ? { name: m.name } : {}),
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.uid !== undefined ? { uid: m.uid } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    },
  };
}
