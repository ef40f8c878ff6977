/** Capped exponential backoff with jitter, overall and per key. Pure logic: no timers, no I/O. */

/** Parameters of an exponential backoff. */
export interface BackoffOptions {
  /** First delay. */
  baseMs: number;
  /** Upper bound of any delay (before jitter). */
  maxMs: number;
  /** Growth per attempt; 2 by default. */
  factor?: number;
  /**
   * Fraction of the delay that is randomised: the delay is drawn from [d·(1−jitter), d]. 0 means exact
   * delays. Spreading retries keeps many clients from hitting the API server in lock step.
   */
  jitter?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Delay before retry number `attempt` (0-based): base·factor^attempt, capped at max, then jittered down. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const factor = opts.factor ?? 2;
  const raw = Math.min(opts.maxMs, opts.baseMs * Math.pow(factor, Math.max(0, attempt)));
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0));
  if (jitter === 0) return raw;
  const r = (opts.random ?? Math.random)();
  return Math.round(raw * (1 - jitter * r));
}

/** A single backoff sequence (e.g. an informer's restarts): `next()` grows until `reset()`. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** Delay for the next retry; advances the sequence. */
  next(): number {
    return backoffDelay(this.attempt++, this.opts);
  }

  /** Starts again from the base delay (after a success). */
  reset(): void {
    this.attempt = 0;
  }

  /** Retries since the last reset. */
  get attempts(): number {
    return this.attempt;
  }
}

/** Per-key backoff for a work queue: each key has its own failure count (100 ms → 60 s by default). */
export class KeyedBackoff {
  private readonly failures = new Map<string, number>();
  private readonly opts: BackoffOptions;

  constructor(opts: Partial<BackoffOptions> = {}) {
    this.opts = { baseMs: 100, maxMs: 60_000, factor: 2, jitter: 0, ...opts };
  }

  /** Delay before the key's next retry; counts a failure. */
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, this.opts);
  }

  /** Clears the key's failure history (after a successful pass). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures recorded for the key since it was last forgotten. */
  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
