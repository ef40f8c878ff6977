/**
 * The admission cycle's in-memory queue of demands. A demand is either ready (the next cycle decides it) or
 * parked: it did not fit at capacity sequence `seq` and waits until capacity changes (the sequence moves past it)
 * or its spec changes (a resubmission with another signature). A request that cannot fit is therefore not
 * planned again until something it depends on changed: no busy loop, no requeue storm. Pure.
 *
 * Order: releases first, then by priority (higher first), then age (older first), then kind, namespace, name —
 * total and the same in every replica.
 */
import { demandSignature, type Demand } from './demand.js';
import { compareQueue } from './queue-order.js';

interface Entry {
  demand: Demand;
  sig: string;
  /** Parked at this capacity sequence; undefined while ready. `Infinity`: only a spec change wakes it. */
  parkedAt: number | undefined;
  /** Signature and sequence of the last decision, to count re-plans that nothing justified. */
  decided?: { sig: string; seq: number };
}

/** Queue order of two demands (negative: `a` first). */
export function compareDemands(a: Demand, b: Demand): number {
  const ra = a.want.kind === 'release' ? 0 : 1;
  const rb = b.want.kind === 'release' ? 0 : 1;
  return ra - rb || compareQueue({ ...a.who, priority: a.priority, created: a.created }, { ...b.who, priority: b.priority, created: b.created });
}

/** Ready and parked demands by key. */
export class AdmissionQueue {
  readonly #entries = new Map<string, Entry>();
  #replansWithoutChange = 0;

  /**
   * Adds or replaces the demand of its key. Returns true when it is ready now: it is new, or it asks for
   * something else than the queued one. An unchanged resubmission keeps a parked demand parked.
   */
  submit(d: Demand): boolean {
    const sig = demandSignature(d);
    const prev = this.#entries.get(d.key);
    if (prev && prev.sig === sig) {
      prev.demand = d;
      return prev.parkedAt === undefined;
    }
    this.#entries.set(d.key, { demand: d, sig, parkedAt: undefined, ...(prev?.decided ? { decided: prev.decided } : {}) });
    return true;
  }

  /** Drops the demand of `key` (its object is gone). */
  remove(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops `d` once decided, unless a different demand for its key was submitted meanwhile. */
  settle(d: Demand): void {
    if (this.#entries.get(d.key)?.sig === demandSignature(d)) this.#entries.delete(d.key);
  }

  /** The queued demand of `key`. */
  get(key: string): Demand | undefined {
    return this.#entries.get(key)?.demand;
  }

  /** Whether `key`'s demand waits for capacity (parked). */
  isParked(key: string): boolean {
    return this.#entries.get(key)?.parkedAt !== undefined;
  }

  /**
   * Parks `d` as decided at capacity sequence `seq` (`permanent`: until its spec changes), unless a different
   * demand for its key was submitted meanwhile (that one stays ready).
   */
  park(d: Demand, seq: number, permanent: boolean): void {
    const e = this.#entries.get(d.key);
    if (e && e.sig === demandSignature(d)) e.parkedAt = permanent ? Infinity : seq;
  }

  /** Makes `key` ready again (e.g. its write conflicted). */
  retry(key: string): void {
    const e = this.#entries.get(key);
    if (e) e.parkedAt = undefined;
  }

  /** Wakes every parked demand decided before capacity sequence `seq`; returns how many woke. */
  wake(seq: number): number {
    let n = 0;
    for (const e of this.#entries.values()) {
      if (e.parkedAt !== undefined && e.parkedAt < seq) {
        e.parkedAt = undefined;
        n++;
      }
    }
    return n;
  }

  /** Up to `limit` ready demands in queue order. */
  take(limit: number): Demand[] {
    const ready = [...this.#entries.values()].filter((e) => e.parkedAt === undefined);
    ready.sort((a, b) => compareDemands(a.demand, b.demand));
    return ready.slice(0, limit).map((e) => e.demand);
  }

  /** Records that `key`'s demand was planned at capacity sequence `seq` (see {@link replansWithoutChange}). */
  noteDecided(key: string, seq: number): void {
    const e = this.#entries.get(key);
    if (!e) return;
    if (e.decided && e.decided.sig === e.sig && e.decided.seq === seq) this.#replansWithoutChange++;
    e.decided = { sig: e.sig, seq };
  }

  /** The ready demands, in no particular order. */
  ready(): Demand[] {
    return [...this.#entries.values()].filter((e) => e.parkedAt === undefined).map((e) => e.demand);
  }

  /** Ready demands. */
  readyCount(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.parkedAt === undefined) n++;
    return n;
  }

  /** Parked demands. */
  parkedCount(): number {
    return this.#entries.size - this.readyCount();
  }

  /** Every demand, ready or parked. */
  size(): number {
    return this.#entries.size;
  }

  /** Parked demands ahead of `d` in queue order (a waiting request's place in line). */
  waitingAhead(d: Demand): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.parkedAt !== undefined && e.demand.key !== d.key && compareDemands(e.demand, d) < 0) n++;
    return n;
  }

  /**
   * Times a demand was planned again although neither capacity (the sequence) nor the demand changed since its
   * previous decision. Zero by construction; counted so a benchmark can prove it.
   */
  replansWithoutChange(): number {
    return this.#replansWithoutChange;
  }

  /** Forgets everything (a replica that stops leading). */
  clear(): void {
    this.#entries.clear();
  }
}
