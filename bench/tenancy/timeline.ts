/** A queue of timed events of the simulated clock: earliest first, ties in insertion order. Pure. */

interface Entry<T> {
  at: number;
  seq: number;
  value: T;
}

/** A binary min-heap keyed by time. */
export class Timeline<T> {
  readonly #heap: Array<Entry<T>> = [];
  #seq = 0;

  /** Events waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Adds `value` due at `at`. */
  push(at: number, value: T): void {
    const h = this.#heap;
    h.push({ at, seq: this.#seq++, value });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as Entry<T>, h[parent] as Entry<T>)) break;
      [h[i], h[parent]] = [h[parent] as Entry<T>, h[i] as Entry<T>];
      i = parent;
    }
  }

  /** Removes and returns every event due at or before `now`, in time order. */
  due(now: number): T[] {
    const out: T[] = [];
    while (this.#heap.length > 0 && (this.#heap[0] as Entry<T>).at <= now) out.push(this.#pop());
    return out;
  }

  #pop(): T {
    const h = this.#heap;
    const top = h[0] as Entry<T>;
    const last = h.pop() as Entry<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as Entry<T>, h[m] as Entry<T>)) m = l;
        if (r < h.length && before(h[r] as Entry<T>, h[m] as Entry<T>)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Entry<T>, h[i] as Entry<T>];
        i = m;
      }
    }
    return top.value;
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
