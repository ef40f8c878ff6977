/**
 * In-memory stand-in for the list/watch half of KubeClient: a store with resourceVersions, scripted list
 * failures, and watches the test drives by hand (events, errors, silence).
 */
import type { ListWatchClient, WatchEventType, WatchOptions } from '../../../src/k8s/client.js';
import type { ResourceRef } from '../../../src/k8s/resources.js';

/** A test object. */
export interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  value?: number;
}

/** One watch opened by the informer. */
export interface FakeWatch {
  opts: WatchOptions;
  onEvent: (type: WatchEventType, obj: unknown) => void;
  onDone: (err?: unknown) => void;
  closed: boolean;
}

export class FakeListWatch implements ListWatchClient {
  readonly store = new Map<string, Obj>();
  readonly watches: FakeWatch[] = [];
  readonly listErrors: unknown[] = [];
  listCalls = 0;
  rv = 100;

  async list<T>(_ref: ResourceRef, _opts?: object): Promise<{ items: T[]; resourceVersion: string }> {
    this.listCalls++;
    if (this.listErrors.length) throw this.listErrors.shift();
    return { items: [...this.store.values()].map((o) => structuredClone(o)) as T[], resourceVersion: String(this.rv) };
  }

  async watch(
    _ref: ResourceRef,
    opts: WatchOptions,
    onEvent: (type: WatchEventType, obj: unknown) => void,
    onDone: (err?: unknown) => void,
  ): Promise<{ abort(): void }> {
    const w: FakeWatch = { opts, onEvent, onDone, closed: false };
    this.watches.push(w);
    return { abort: () => this.close(w) };
  }

  /** The watch currently open (the last one not closed). */
  active(): FakeWatch | undefined {
    const w = this.watches.at(-1);
    return w && !w.closed ? w : undefined;
  }

  /** Every watch still open (several informers may share this fake). */
  open(): FakeWatch[] {
    return this.watches.filter((w) => !w.closed);
  }

  /** Writes an object to the store (new resourceVersion) and sends the event to every open watch. */
  put(name: string, value: number, namespace?: string, notify = true): Obj {
    const key = namespace ? `${namespace}/${name}` : name;
    const type: WatchEventType = this.store.has(key) ? 'MODIFIED' : 'ADDED';
    const obj: Obj = { metadata: { name, ...(namespace ? { namespace } : {}), resourceVersion: String(++this.rv) }, value };
    this.store.set(key, obj);
    if (notify) for (const w of this.open()) w.onEvent(type, structuredClone(obj));
    return obj;
  }

  /** Removes an object and, if `notify`, sends DELETED to every open watch. */
  remove(name: string, namespace?: string, notify = true): void {
    const key = namespace ? `${namespace}/${name}` : name;
    const obj = this.store.get(key);
    if (!obj) return;
    this.store.delete(key);
    this.rv++;
    const gone = { ...structuredClone(obj), metadata: { ...obj.metadata, resourceVersion: String(this.rv) } };
    if (notify) for (const w of this.open()) w.onEvent('DELETED', structuredClone(gone));
  }

  /** Ends the watch from the "server" side, with or without an error. */
  close(w: FakeWatch | undefined, err?: unknown): void {
    if (!w || w.closed) return;
    w.closed = true;
    w.onDone(err);
  }
}
