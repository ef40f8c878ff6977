/**
 * The writes a reconciler makes to its own object: add or drop its finalizer (merge patches carrying the
 * resourceVersion, so a stale pass conflicts instead of clobbering), write status only when it changed, and
 * record the pass's Events. 404 means the object is gone meanwhile: not a failure.
 */
import { deepEqual } from '../../k8s/deep-equal.js';
import { ignoreNotFound } from '../../k8s/ignore-not-found.js';
import type { ResourceRef } from '../../k8s/resources.js';
import type { ClientPort, KubeObject, RecorderPort } from '../../runtime/ports.js';
import type { PassEvent } from './pass-event.js';

/** An object with metadata and a status. */
export interface OwnObject {
  metadata: { name?: string; namespace?: string; resourceVersion?: string; finalizers?: string[] };
  status?: object;
}

/** How a status write went: nothing to write, written, or the object is gone (deleted meanwhile). */
export type StatusWrite = 'unchanged' | 'written' | 'gone';

/** Writes for one resource kind. */
export class ObjectWrites<T extends OwnObject> {
  constructor(
    private readonly client: ClientPort,
    private readonly resource: ResourceRef,
    private readonly finalizer: string,
  ) {}

  /** Whether `obj` carries the finalizer. */
  hasFinalizer(obj: T): boolean {
    return (obj.metadata.finalizers ?? []).includes(this.finalizer);
  }

  /** `obj` with the finalizer: as it is when present, else as the API returns it after adding it (undefined: gone). */
  async addFinalizer(obj: T): Promise<T | undefined> {
    if (this.hasFinalizer(obj)) return obj;
    return ignoreNotFound(
      this.client.mergePatch<T>(
        this.resource,
        obj.metadata.name as string,
        { metadata: { finalizers: [...(obj.metadata.finalizers ?? []), this.finalizer], resourceVersion: obj.metadata.resourceVersion } },
        obj.metadata.namespace,
      ),
    );
  }

  /** Drops the finalizer; an object already gone is fine. */
  async removeFinalizer(obj: T): Promise<void> {
    await ignoreNotFound(
      this.client.mergePatch<T>(
        this.resource,
        obj.metadata.name as string,
        { metadata: { finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== this.finalizer), resourceVersion: obj.metadata.resourceVersion } },
        obj.metadata.namespace,
      ),
    );
  }

  /** Writes `status` unless it equals the object's; conditional on the object's resourceVersion. */
  async writeStatus(obj: T, status: NonNullable<T['status']>): Promise<StatusWrite> {
    if (deepEqual(status, obj.status ?? {})) return 'unchanged';
    const res = await ignoreNotFound(this.client.replaceStatus<T>(this.resource, { ...obj, status }));
    return res === undefined ? 'gone' : 'written';
  }
}

/** Records the pass's Events in order (best effort: the recorder never throws). */
export async function recordEvents(recorder: RecorderPort, obj: KubeObject, events: PassEvent[]): Promise<void> {
  for (const e of events) await recorder.event(e.obj ?? obj, e.type, e.reason, e.message);
}
