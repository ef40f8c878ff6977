/**
 * In-memory fakes for reconciler unit tests: a client that keeps objects in a Map with resourceVersions and
 * answers 409 on stale writes, caches that read straight from it, an event recorder, a silent logger, and a
 * small first-fit placement engine honouring the engine contract (legal starts, in-use slices untouched,
 * all-or-nothing, victims only with mayPreempt).
 */
import { ApiError } from '../../../src/k8s/errors.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';
import { findProfile, modelForProduct, slotMask } from '../../../src/placement/catalog.js';
import type {
  Assignment,
  ClusterSnapshot,
  GpuLayout,
  GpuSnapshot,
  Holder,
  PlacementRequest,
  PlacementResult,
  Victim,
} from '../../../src/placement/types.js';
import type { CachePort, ClientPort, KubeObject, LogPort, RecorderPort } from '../../../src/runtime/ports.js';

type Obj = KubeObject & { spec?: unknown; status?: unknown; [k: string]: unknown };

/** Fake API server state with optimistic concurrency, generation bumps on spec change and a status subresource. */
export class FakeClient implements ClientPort {
  readonly store = new Map<string, Obj>();
  readonly writes: Array<{ verb: string; kind: string; name: string }> = [];
  /** Set to make the next write of this kind/name fail with 409. */
  readonly conflictOnce = new Set<string>();
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

/**
 * First-fit engine for tests: slices go to the first node/GPU (name, index order) with a legal free start (or an
 * unheld idle slice of the same profile to reuse); whole members take idle GPUs on one node; with `mayPreempt`
 * a lower-priority preemptible slice of the same profile may be taken. Supports topology `any` and `sameNode`.
 */
export function firstFitPlace(snapshot: ClusterSnapshot, request: PlacementRequest): PlacementResult {
  const prio = request.priority ?? 0;
  const holderOf = (key: string): Holder => ({ key, priority: prio, preemptible: request.preemptible ?? true });
  const candidates = snapshot.nodes.filter(
    (n) =>
      n.schedulable &&
      (!request.constraints?.products?.length || request.constraints.products.includes(n.product)) &&
      Object.entries(request.constraints?.nodeSelector ?? {}).every(([k, v]) => n.labels[k] === v),
  );
  if (candidates.length === 0) return { ok: false, code: 'NoMatchingNodes', message: `no schedulable node matches ${request.id}` };
  const tryNodes = request.topology === 'sameNode' ? candidates.map((n) => [n]) : [candidates];
  for (const nodes of tryNodes) {
    const gpus = new Map<string, GpuSnapshot>();
    for (const n of nodes) for (const g of n.gpus) gpus.set(`${n.name}/${g.index}`, structuredClone(g));
    const changed = new Set<string>();
    const assignments: Assignment[] = [];
    const victims: Victim[] = [];
    let ok = true;
    for (const m of request.members) {
      let done = false;
      for (const n of nodes) {
        const model = modelForProduct(n.product);
        if (m.kind === 'whole') {
          const idle = n.gpus
            .map((g) => gpus.get(`${n.name}/${g.index}`)!)
            .filter((g) => g.healthy && !g.holder && !g.inUse && g.slices.length === 0);
          if (idle.length < m.gpus) continue;
          const take = idle.slice(0, m.gpus);
          for (const g of take) {
            g.mode = 'whole';
            g.holder = holderOf(m.key);
            changed.add(`${n.name}/${g.index}`);
          }
          assignments.push({ key: m.key, node: n.name, gpuIndex: take[0]!.index, gpuIndices: take.map((g) => g.index) });
          done = true;
          break;
        }
        const profile = model && m.profile ? findProfile(model, m.profile) : undefined;
        if (!profile) continue;
        for (const g0 of n.gpus) {
          const id = `${n.name}/${g0.index}`;
          const g = gpus.get(id)!;
          if (!g.healthy || (g.mode === 'whole' && (g.holder || g.inUse))) continue;
          const reuse = g.slices.find((s) => s.profile === profile.name && !s.holder && !s.inUse);
          let start: number | undefined = reuse?.start;
          if (start === undefined) {
            const used = g.mode === 'whole' ? 0 : g.slices.reduce((acc, s) => acc | slotMask(findProfile(model!, s.profile) ?? { memorySlots: 8 }, s.start), 0);
            start = profile.starts.find((st) => (slotMask(profile, st) & used) === 0);
          }
          if (start === undefined && request.mayPreempt) {
            const victim = g.slices.find((s) => s.profile === profile.name && s.holder && s.holder.preemptible && s.holder.priority < prio);
            if (victim) {
              victims.push({ holderKey: victim.holder!.key, node: n.name, gpuIndex: g.index, profile: victim.profile, start: victim.start, priority: victim.holder!.priority });
              g.slices = g.slices.filter((s) => s !== victim);
              start = victim.start;
            }
          }
          if (start === undefined) continue;
          g.mode = 'mig';
          g.slices = g.slices.filter((s) => !(s.start === start && s.profile === profile.name));
          g.slices.push({ profile: profile.name, start, holder: holderOf(m.key), inUse: false });
          g.slices.sort((a, b) => a.start - b.start);
          changed.add(id);
          assignments.push({ key: m.key, node: n.name, gpuIndex: g.index, gpuIndices: [g.index], profile: profile.name, start });
          done = true;
          break;
        }
        if (done) break;
      }
      if (!done) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const layouts: GpuLayout[] = [...changed].sort().map((id) => {
      const [node, idx] = id.split('/') as [string, string];
      const g = gpus.get(id)!;
      return { node, gpuIndex: Number(idx), mode: g.mode, slices: g.slices, ...(g.holder ? { holder: g.holder } : {}) };
    });
    return { ok: true, assignments, layouts, victims };
  }
  return { ok: false, code: 'InsufficientCapacity', message: `not enough free capacity for ${request.members.length} member(s) of ${request.id}` };
}
