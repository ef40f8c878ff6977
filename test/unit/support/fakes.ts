/**
 * In-memory fakes for reconciler unit tests: a client that keeps objects in a Map with resourceVersions and
 * answers 409 on stale writes (and 422 on a failed JSON Patch test), caches that read straight from it, an
 * event recorder and a silent logger.
 */
import type { JsonPatchOp } from '../../../src/k8s/client.js';
import { ApiError } from '../../../src/k8s/errors.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';
import type { CachePort, ClientPort, KubeObject, LogPort, RecorderPort } from '../../../src/runtime/ports.js';

type Obj = KubeObject & { spec?: unknown; status?: unknown; [k: string]: unknown };

/** Fake API server state with optimistic concurrency, generation bumps on spec change and a status subresource. */
export class FakeClient implements ClientPort {
  readonly store = new Map<string, Obj>();
  readonly writes: Array<{ verb: string; kind: string; name: string }> = [];
  /** Set to make the next write of this kind/name fail with 409. */
  readonly conflictOnce = new Set<string>();
  /** Set to make the next JSON Patch of this kind/name fail with 422 as a schema-invalid object would. */
  readonly invalidOnce = new Set<string>();
  #rv = 1;
  #uid = 1;

  key(ref: ResourceRef, name: string, ns?: string): string {
    return `${ref.plural}/${ref.namespaced ? (ns ?? '') : ''}/${name}`;
  }

  /** Seeds an object as if created by someone else (no write recorded). */
  seed<T extends object>(ref: ResourceRef, obj: T): T {
    const copy = structuredClone(obj) as Obj;
    const md = (copy.metadata ??= {});
    md.uid ??= `uid-${this.#uid++}`;
    md.resourceVersion = String(this.#rv++);
    md.generation ??= 1;
    md.creationTimestamp ??= '2026-01-01T00:00:00Z';
    this.store.set(this.key(ref, md.name as string, md.namespace), copy);
    return structuredClone(copy) as T;
  }

  /** Test-side edit of a stored object (bumps resourceVersion; spec edits bump generation when `spec` is true). */
  edit<T extends object>(ref: ResourceRef, name: string, ns: string | undefined, fn: (o: T) => void, spec = false): T {
    const o = this.store.get(this.key(ref, name, ns));
    if (!o) throw new Error(`no ${ref.kind} ${name}`);
    fn(o as unknown as T);
    o.metadata!.resourceVersion = String(this.#rv++);
    if (spec) o.metadata!.generation = (o.metadata!.generation ?? 1) + 1;
    return structuredClone(o) as unknown as T;
  }

  async get<T>(ref: ResourceRef, name: string, ns?: string): Promise<T | undefined> {
    const o = this.store.get(this.key(ref, name, ns));
    return o ? (structuredClone(o) as T) : undefined;
  }

  async create<T>(ref: ResourceRef, obj: T): Promise<T> {
    const o = structuredClone(obj) as Obj;
    const md = o.metadata ?? {};
    const k = this.key(ref, md.name as string, md.namespace);
    if (this.store.has(k)) throw new ApiError(`${ref.kind} ${md.name} already exists`, 409, { reason: 'AlreadyExists' });
    this.writes.push({ verb: 'create', kind: ref.kind, name: md.name as string });
    return this.seed(ref, o) as unknown as T;
  }

  #checkWrite(ref: ResourceRef, name: string, ns: string | undefined, rv: string | undefined, verb: string): Obj {
    const k = this.key(ref, name, ns);
    const cur = this.store.get(k);
    if (!cur) throw new ApiError(`${ref.kind} ${name} not found`, 404, { reason: 'NotFound' });
    const tag = `${ref.kind}/${name}`;
    if (this.conflictOnce.has(tag)) {
      this.conflictOnce.delete(tag);
      throw new ApiError(`conflict on ${tag}`, 409, { reason: 'Conflict' });
    }
    if (rv !== undefined && rv !== cur.metadata?.resourceVersion) throw new ApiError(`stale write of ${tag}`, 409, { reason: 'Conflict' });
    this.writes.push({ verb, kind: ref.kind, name });
    return cur;
  }

  async replace<T>(ref: ResourceRef, obj: T): Promise<T> {
    const o = structuredClone(obj) as Obj;
    const md = o.metadata ?? {};
    const cur = this.#checkWrite(ref, md.name as string, md.namespace, md.resourceVersion, 'replace');
    const specChanged = JSON.stringify(cur.spec) !== JSON.stringify(o.spec);
    const next: Obj = { ...o, status: cur.status, metadata: { ...md, uid: cur.metadata?.uid, resourceVersion: String(this.#rv++), generation: (cur.metadata?.generation ?? 1) + (specChanged ? 1 : 0) } };
    if (next.status === undefined) delete next.status;
    this.store.set(this.key(ref, md.name as string, md.namespace), next);
    return structuredClone(next) as T;
  }

  async replaceStatus<T>(ref: ResourceRef, obj: T): Promise<T> {
    const o = obj as Obj;
    const md = o.metadata ?? {};
    const cur = this.#checkWrite(ref, md.name as string, md.namespace, md.resourceVersion, 'replaceStatus');
    cur.status = structuredClone(o.status);
    cur.metadata!.resourceVersion = String(this.#rv++);
    return structuredClone(cur) as T;
  }

  async mergePatch<T>(ref: ResourceRef, name: string, patch: object, ns?: string): Promise<T> {
    const p = patch as { metadata?: { resourceVersion?: string } };
    const cur = this.#checkWrite(ref, name, ns, p.metadata?.resourceVersion, 'mergePatch');
    const merged = mergeInto(cur, structuredClone(patch)) as Obj;
    merged.metadata!.resourceVersion = String(this.#rv++);
    const md = merged.metadata!;
    // Removing the last finalizer of an object being deleted lets it go, as the API server does.
    if (md.deletionTimestamp && (md.finalizers ?? []).length === 0) this.store.delete(this.key(ref, name, ns));
    else this.store.set(this.key(ref, name, ns), merged);
    return structuredClone(merged) as T;
  }

  /** Merge patch of the status subresource: only `status` changes (null removes a field). */
  async mergePatchStatus<T>(ref: ResourceRef, name: string, patch: object, ns?: string): Promise<T> {
    const p = patch as { status?: object; metadata?: { resourceVersion?: string } };
    const cur = this.#checkWrite(ref, name, ns, p.metadata?.resourceVersion, 'mergePatchStatus');
    cur.status = mergeInto(cur.status ?? {}, structuredClone(p.status ?? {}));
    cur.metadata!.resourceVersion = String(this.#rv++);
    return structuredClone(cur) as T;
  }

  /** Finalizers each field manager applied, per object key (server-side apply merges the set per manager). */
  readonly #applied = new Map<string, string[]>();

  /** Server-side apply of `metadata.finalizers` (the only field the operator applies): a set merged per manager. */
  async apply<T>(ref: ResourceRef, obj: T): Promise<T> {
    const md = (obj as Obj).metadata ?? {};
    const k = this.key(ref, md.name as string, md.namespace);
    const cur = this.#checkWrite(ref, md.name as string, md.namespace, undefined, 'apply');
    const mine = this.#applied.get(k) ?? [];
    const others = (cur.metadata?.finalizers ?? []).filter((f) => !mine.includes(f));
    const want = md.finalizers ?? [];
    this.#applied.set(k, want);
    const finalizers = [...others, ...want.filter((f) => !others.includes(f))];
    const next: Obj = { ...cur, metadata: { ...cur.metadata, finalizers, resourceVersion: String(this.#rv++) } };
    // Removing the last finalizer of an object being deleted lets it go, as the API server does.
    if (next.metadata!.deletionTimestamp && finalizers.length === 0) this.store.delete(k);
    else this.store.set(k, next);
    return structuredClone(next) as T;
  }

  /** RFC 6902 JSON Patch with `test`, `add`, `replace` and `remove`; a failed test answers 422 like the API server. */
  async jsonPatch<T>(ref: ResourceRef, name: string, ops: JsonPatchOp[], ns?: string): Promise<T> {
    const tag = `${ref.kind}/${name}`;
    if (this.invalidOnce.delete(tag)) throw new ApiError(`PATCH ${tag}: 422 spec.gpus[0].mode: Unsupported value`, 422, { reason: 'Invalid' });
    const cur = this.#checkWrite(ref, name, ns, undefined, 'jsonPatch');
    const next = structuredClone(cur) as Record<string, unknown>;
    for (const op of ops) {
      const parts = op.path.split('/').slice(1);
      const last = parts.pop() as string;
      let parent = next as Record<string, unknown>;
      for (const part of parts) parent = (parent[part] ??= {}) as Record<string, unknown>;
      if (op.op === 'test') {
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) {
          this.writes.pop();
          // What kube-apiserver answers: a bare 422 that does not say which test failed.
          throw new ApiError(`PATCH ${tag}: 422 the server rejected our request due to an error in our request`, 422, { reason: 'Invalid' });
        }
      } else if (op.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(op.value);
    }
    const specChanged = JSON.stringify(cur.spec) !== JSON.stringify(next.spec);
    const md = next.metadata as NonNullable<Obj['metadata']>;
    md.resourceVersion = String(this.#rv++);
    if (specChanged) md.generation = (cur.metadata?.generation ?? 1) + 1;
    this.store.set(this.key(ref, name, ns), next as Obj);
    return structuredClone(next) as T;
  }

  /** Lists a resource (optionally one namespace), filtered by an equality label selector (`k=v,k2=v2`). */
  async list<T>(ref: ResourceRef, opts: { namespace?: string; labelSelector?: string } = {}): Promise<{ items: T[]; resourceVersion: string }> {
    const want = (opts.labelSelector ?? '').split(',').filter((x) => x !== '').map((x) => x.split('=') as [string, string]);
    const items = this.all<T>(ref, opts.namespace).filter((o) => want.every(([k, v]) => (o as Obj).metadata?.labels?.[k] === v));
    return { items, resourceVersion: String(this.#rv) };
  }

  /** Eviction: deletes the pod (the fake has no disruption budgets); false when it is gone. */
  readonly evicted: string[] = [];
  async evict(name: string, ns: string): Promise<boolean> {
    this.evicted.push(`${ns}/${name}`);
    return this.delete({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true }, name, ns);
  }

  async delete(ref: ResourceRef, name: string, ns?: string): Promise<boolean> {
    const k = this.key(ref, name, ns);
    const cur = this.store.get(k);
    if (!cur) return false;
    this.writes.push({ verb: 'delete', kind: ref.kind, name });
    if ((cur.metadata?.finalizers ?? []).length > 0) {
      cur.metadata!.deletionTimestamp ??= '2026-01-01T00:00:10Z';
      cur.metadata!.resourceVersion = String(this.#rv++);
    } else this.store.delete(k);
    return true;
  }

  /** A counter that moves with every write: equal before and after means nothing was written. */
  version(): number {
    return this.#rv;
  }

  /** Every stored object of a resource (optionally one namespace). */
  all<T>(ref: ResourceRef, ns?: string): T[] {
    const prefix = `${ref.plural}/`;
    return [...this.store.entries()]
      .filter(([k, o]) => k.startsWith(prefix) && (ns === undefined || o.metadata?.namespace === ns))
      .map(([, o]) => structuredClone(o) as T);
  }

  /** Writes made so far, optionally only of one kind/verb. */
  writesOf(kind?: string, verb?: string): number {
    return this.writes.filter((w) => (kind === undefined || w.kind === kind) && (verb === undefined || w.verb === verb)).length;
  }
}

function mergeInto(target: unknown, patch: unknown): unknown {
  if (patch === null) return undefined;
  if (typeof patch !== 'object' || Array.isArray(patch) || typeof target !== 'object' || target === null || Array.isArray(target)) return patch;
  const out: Record<string, unknown> = { ...(target as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    const m = mergeInto(out[k], v);
    if (m === undefined) delete out[k];
    else out[k] = m;
  }
  return out;
}

/** A cache that reads the fake client's store (always in sync). */
export function cacheOf<T>(client: FakeClient, ref: ResourceRef): CachePort<T> {
  return {
    get: (name, ns) => client.store.has(client.key(ref, name, ns)) ? (structuredClone(client.store.get(client.key(ref, name, ns))) as T) : undefined,
    list: (ns) => client.all<T>(ref, ns),
  };
}

/** Records Events. */
export class FakeRecorder implements RecorderPort {
  readonly events: Array<{ kind?: string; name?: string; type: string; reason: string; message: string }> = [];
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.events.push({ kind: obj.kind, name: obj.metadata?.name, type, reason, message });
  }
  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}

/** A logger that drops everything. */
export const quietLog: LogPort = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
