/**
 * The writes a reconciler makes to its own object: add or drop its finalizer, write status only when it changed,
 * and record the pass's Events. 404 means the object is gone meanwhile: not a failure.
 *
 * Neither write carries a resourceVersion, so neither conflicts with the operator's own earlier writes that the
 * cache does not show yet (the cause of most 409s before): the finalizer is server-side applied, which merges it
 * into the set of finalizers per field manager without touching anyone else's; and the status, which only the
 * operator writes and which each pass derives afresh from state that only moves forward (the assumed ledger, the
 * caches), is merge-patched, with the fields it no longer has set to null.
 */
import { deepEqual } from '../../k8s/deep-equal.js';
import { ignoreNotFound } from '../../k8s/ignore-not-found.js';
import { isConflict, isNotFound } from '../../k8s/errors.js';
import type { ResourceRef } from '../../k8s/resources.js';
import type { ClientPort, KubeObject, RecorderPort } from '../../runtime/ports.js';
import type { PassEvent } from './pass-event.js';

/** An object with metadata and a status. */
export interface OwnObject {
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; finalizers?: string[] };
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
    return ignoreGone(this.client.apply<T>(this.resource, this.#finalizers(obj, [this.finalizer])));
  }

  /** Drops the finalizer (only this operator's); an object already gone is fine. */
  async removeFinalizer(obj: T): Promise<void> {
    await ignoreGone(this.client.apply<T>(this.resource, this.#finalizers(obj, [])));
  }

  /**
   * Writes `status` unless it equals the object's. Fields named in `othersOwn` belong to another writer: they are
   * neither compared nor written.
   */
  async writeStatus(obj: T, status: NonNullable<T['status']>, othersOwn: string[] = []): Promise<StatusWrite> {
    const prev = { ...((obj.status ?? {}) as Record<string, unknown>) };
    const next = { ...(status as Record<string, unknown>) };
    for (const k of othersOwn) {
      delete prev[k];
      delete next[k];
    }
    if (deepEqual(next, prev)) return 'unchanged';
    const patch = mergePatchOf(prev, next);
    const res = await ignoreNotFound(this.client.mergePatchStatus<T>(this.resource, obj.metadata.name as string, { status: patch }, obj.metadata.namespace));
    return res === undefined ? 'gone' : 'written';
  }

  /**
   * The apply configuration owning exactly `finalizers` on `obj`. It names the object's uid: server-side apply
   * creates what does not exist, and the uid turns that into a 409 (the object was deleted, or deleted and
   * created again under the same name) instead of an attempt to create an object with nothing but finalizers.
   */
  #finalizers(obj: T, finalizers: string[]): T {
    const o = obj as unknown as { apiVersion?: string; kind?: string; metadata: { name?: string; namespace?: string; uid?: string } };
    return {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: {
        name: o.metadata.name,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
        finalizers,
      },
    } as unknown as T;
  }
}

/**
 * The result of a write naming the object's uid, or undefined when that object is gone: 404, 409 (apply found no
 * object of that uid), or 422 on `metadata.uid` (the name belongs to another object now).
 */
async function ignoreGone<R>(write: Promise<R>): Promise<R | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isNotFound(err) || isConflict(err) || refusedUid(err)) return undefined;
    throw err;
  }
}

function refusedUid(err: unknown): boolean {
  const body = err as { code?: number; body?: { details?: { causes?: Array<{ field?: string }> } } } | undefined;
  return body?.code === 422 && (body.body?.details?.causes ?? []).some((c) => c.field === 'metadata.uid');
}

/**
 * The JSON merge patch (RFC 7386) that turns `prev` into `next`: `next` with every field it no longer has set
 * to null, in nested objects too (a merge patch merges objects, so a field left out would survive). Arrays and
 * scalars are replaced whole.
 */
export function mergePatchOf(prev: Record<string, unknown>, next: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    const old = prev[k];
    patch[k] = isPlainObject(v) && isPlainObject(old) ? mergePatchOf(old, v) : v;
  }
  for (const k of Object.keys(prev)) if (!(k in next)) patch[k] = null;
  return patch;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Hands the pass's Events to the recorder, in order, without waiting for them to be written: Events are best
 * effort, and a pass (or the admission cycle) must not be held up by the recorder's backlog.
 */
export function recordEvents(recorder: RecorderPort, obj: KubeObject, events: PassEvent[]): void {
  for (const e of events) void recorder.event(e.obj ?? obj, e.type, e.reason, e.message);
}
