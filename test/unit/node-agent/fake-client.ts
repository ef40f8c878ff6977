import type { ResourceRef } from '../../../src/k8s/client.js';
import { ApiError } from '../../../src/k8s/errors.js';

type Obj = { metadata: { name: string; generation?: number; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };
type Listener = {
  plural: string;
  /** Only this object (a `metadata.name=` field selector), or all of the type. */
  name?: string;
  onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR', obj: unknown) => void;
  onDone: (err?: unknown) => void;
};

/** Value of `metadata.name=X` in a field selector, if any. */
function nameSelected(fieldSelector?: string): string | undefined {
  return fieldSelector?.split(',').map((p) => p.split('=')).find(([k]) => k === 'metadata.name')?.[1];
}

/** RFC 7386 merge patch. */
function merge(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** In-memory API server for the calls the node agent makes, with watch events and generation bumps. */
export class FakeClient {
  readonly objects = new Map<string, Obj>();
  readonly calls: string[] = [];
  /** Reads: `get <plural>/<name>`, `list <plural>`, `watch <plural> rv=<rv>`. */
  readonly reads: string[] = [];
  /** Watches from a resourceVersion below this answer 410 Expired at once, like a compacted watch cache. */
  oldestWatchableRv = 0;
  /** While set, every new watch fails at once with this error (or, for `'close'`, ends cleanly at once). */
  failWatches: Error | 'close' | undefined;
  private listeners: Listener[] = [];
  private rv = 1;

  private key(ref: ResourceRef, name: string): string {
    return `${ref.plural}/${name}`;
  }

  private notFound(ref: ResourceRef, name: string): ApiError {
    return new ApiError(`${ref.plural} ${name} not found`, 404);
  }

  private store(ref: ResourceRef, obj: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(this.key(ref, obj.metadata.name), obj);
    for (const l of this.listeners.filter((x) => x.plural === ref.plural && (!x.name || x.name === obj.metadata.name))) l.onEvent(type, structuredClone(obj));
    return structuredClone(obj);
  }

  async get<T>(ref: ResourceRef, name: string): Promise<T | undefined> {
    this.reads.push(`get ${ref.plural}/${name}`);
    const o = this.objects.get(this.key(ref, name));
    return o ? (structuredClone(o) as T) : undefined;
  }

  /** Lists one type; supports `a=b,c=d` label selectors and `status.phase=X` field selectors. */
  async list<T>(ref: ResourceRef, opts: { labelSelector?: string; fieldSelector?: string } = {}): Promise<{ items: T[]; resourceVersion: string }> {
    this.reads.push(`list ${ref.plural}`);
    const pairs = (sel?: string) => (sel ? sel.split(',').map((p) => p.split('=')) : []);
    const name = nameSelected(opts.fieldSelector);
    const items = [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${ref.plural}/`))
      .map(([, o]) => o)
      .filter((o) => pairs(opts.labelSelector).every(([k, v]) => (o.metadata.labels as Record<string, string> | undefined)?.[k] === v))
      .filter((o) => !name || o.metadata.name === name)
      .filter((o) => pairs(opts.fieldSelector).every(([k, v]) => k !== 'status.phase' || (o.status as { phase?: string } | undefined)?.phase === v));
    return { items: structuredClone(items) as T[], resourceVersion: String(this.rv) };
  }

  async create<T>(ref: ResourceRef, obj: T): Promise<T> {
    const o = structuredClone(obj) as unknown as Obj;
    // Namespaced objects are keyed by name only; test names are unique.
    if (this.objects.has(this.key(ref, o.metadata.name))) throw new ApiError('exists', 409);
    o.metadata.generation = 1;
    this.calls.push(`create ${ref.plural}/${o.metadata.name}`);
    return this.store(ref, o, 'ADDED') as T;
  }

  async mergePatch<T>(ref: ResourceRef, name: string, patch: object): Promise<T> {
    const o = this.objects.get(this.key(ref, name));
    if (!o) throw this.notFound(ref, name);
    const next = merge(o, patch) as Obj;
    if (JSON.stringify(next.spec) !== JSON.stringify(o.spec)) next.metadata.generation = (o.metadata.generation ?? 0) + 1;
    this.calls.push(`patch ${ref.plural}/${name}`);
    return this.store(ref, next, 'MODIFIED') as T;
  }

  async mergePatchStatus<T>(ref: ResourceRef, name: string, patch: { status?: unknown }): Promise<T> {
    const o = this.objects.get(this.key(ref, name));
    if (!o) throw this.notFound(ref, name);
    this.calls.push(`status ${ref.plural}/${name}`);
    return this.store(ref, { ...o, status: merge(o.status, patch.status) } as Obj, 'MODIFIED') as T;
  }

  async watch(
    ref: ResourceRef,
    opts: { fieldSelector?: string; resourceVersion?: string },
    onEvent: Listener['onEvent'],
    onDone: Listener['onDone'],
  ): Promise<{ abort(): void }> {
    this.reads.push(`watch ${ref.plural} rv=${opts.resourceVersion ?? ''}`);
    const failure = this.failWatches;
    const expired = opts.resourceVersion !== undefined && Number(opts.resourceVersion) < this.oldestWatchableRv;
    if (failure || expired) {
      // Like the API server: the answer arrives after the request returned its handle.
      setImmediate(() => {
        if (expired && !failure) {
          onEvent('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: `too old resource version: ${opts.resourceVersion} (${this.rv})` });
        }
        onDone(failure instanceof Error ? failure : undefined);
      });
      return { abort: () => undefined };
    }
    const l: Listener = { plural: ref.plural, name: nameSelected(opts.fieldSelector), onEvent, onDone };
    this.listeners.push(l);
    return {
      abort: () => {
        if (!this.listeners.includes(l)) return;
        this.listeners = this.listeners.filter((x) => x !== l);
        onDone();
      },
    };
  }

  /** Ends every open watch cleanly, like the API server's watch timeout. */
  endWatches(): void {
    const open = this.listeners;
    this.listeners = [];
    for (const l of open) l.onDone();
  }

  /** Sends a bookmark with the current resourceVersion to every open watch. */
  bookmark(): void {
    for (const l of this.listeners) l.onEvent('BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
  }

  /** Advances the resourceVersion, as writes to other objects do. */
  bumpRv(by: number): void {
    this.rv += by;
  }

  /** Current resourceVersion of the store. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Number of open watches. */
  get watchers(): number {
    return this.listeners.length;
  }
}
