/** An in-memory stand-in for an informer cache: holds a list, tells subscribers when it changes. */
import type { ObjectSource } from '../src/slice-map/server.js';

/** A settable source for the slice map server. */
export class StaticSource<T extends { metadata?: { name?: string; namespace?: string } }> implements ObjectSource<T> {
  #items: T[];
  readonly #handlers = new Set<(obj: T, previous: T | undefined, deleted: boolean) => void>();
  #synced: boolean;

  constructor(items: T[] = [], synced = true) {
    this.#items = items;
    this.#synced = synced;
  }

  list(): T[] {
    return this.#items;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  onChange(handler: (obj: T, previous: T | undefined, deleted: boolean) => void): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Adds or replaces (by namespace/name) an object and notifies. */
  put(obj: T): void {
    const key = (o: T) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    const previous = this.#items.find((o) => key(o) === key(obj));
    this.#items = [...this.#items.filter((o) => key(o) !== key(obj)), obj];
    for (const h of this.#handlers) h(obj, previous, false);
  }

  /** Marks the source synced and notifies nobody (as an informer whose first list was empty). */
  markSynced(): void {
    this.#synced = true;
  }

  /** Subscribers. */
  handlerCount(): number {
    return this.#handlers.size;
  }
}
