/**
 * A per-key de-duplicating work queue in the style of client-go's: a key is queued at most once, a key that
 * is being processed is never handed to a second worker, and a key re-added while it is processed is
 * handed out again after `done`. Supports delayed and rate-limited (per-key backoff) adds, and a first lane
 * whose keys are handed out before the others (in the spirit of controller-runtime's priority queue).
 */
import { KeyedBackoff } from './backoff.js';

/** Options of a {@link WorkQueue}. */
export interface WorkQueueOptions {
  /** Per-key backoff used by `addRateLimited`; 100 ms → 60 s by default. */
  rateLimiter?: KeyedBackoff;
  /** Called with the number of queued keys whenever it changes (for a depth gauge). */
  onDepth?: (depth: number) => void;
}

/** De-duplicating work queue of string keys. */
export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys added with `first`, handed out before `queue`. */
  private readonly firstLane: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly rateLimiter: KeyedBackoff;
  private shuttingDown = false;

  constructor(private readonly opts: WorkQueueOptions = {}) {
    this.rateLimiter = opts.rateLimiter ?? new KeyedBackoff();
  }

  /**
   * Queues a key unless it is already queued; a key in processing is queued again once it is done. With `first`,
   * the key goes to the first lane (FIFO among themselves, before every other key), unless it is already queued.
   */
  add(key: string, first = false): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    (first ? this.firstLane : this.queue).push(key);
    this.opts.onDepth?.(this.len());
  }

  /** Adds the key after `ms`; if it is already scheduled sooner, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, timer });
  }

  /** Adds the key after its per-key backoff delay (grows with each call until `forget`). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Clears the key's backoff history; call after a successful pass. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** Rate-limited retries of the key since it was last forgotten. */
  numRequeues(key: string): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * Next key to process, waiting while the queue is empty; `undefined` once the queue is shut down.
   * The caller must call `done(key)` when it has finished with the key.
   */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.firstLane.length > 0 ? this.firstLane.shift() : this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.opts.onDepth?.(this.len());
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key as processed; if it was re-added meanwhile it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (!this.dirty.has(key) || this.shuttingDown) return;
    this.dirty.delete(key);
    // Goes through add() so a waiting worker gets it directly.
    this.add(key);
  }

  /** Number of keys waiting to be handed out (not counting keys in processing or delayed). */
  len(): number {
    return this.firstLane.length + this.queue.length;
  }

  /** Number of keys currently handed out and not yet done. */
  inFlight(): number {
    return this.processing.size;
  }

  /** True after `shutDown()`. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops handing out work: waiting and future `get()` calls return `undefined`, queued and delayed keys are
   * dropped (a new leader relists everything). Keys already handed out may still be marked `done`.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.firstLane.length = 0;
    this.dirty.clear();
    this.opts.onDepth?.(0);
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
