/**
 * Leader election on a `coordination.k8s.io/v1` Lease, following client-go's algorithm:
 * - a candidate may take the Lease when it is free (no holder, e.g. released on shutdown) or when the
 *   holder has not renewed it for `leaseDuration`, judged by the candidate's own clock from when it last
 *   saw the record change (so clock skew between replicas does not matter);
 * - every write carries the resourceVersion that was read, so two candidates racing for the same Lease
 *   cannot both win: the loser gets a 409;
 * - the leader renews every `retryPeriod`; if it cannot renew within `renewDeadline` it gives up leading,
 *   and campaigns again (a replica that lost the Lease, e.g. after a pause, rejoins as a standby);
 * - on graceful shutdown the leader releases the Lease so a standby takes over at its next retry.
 * `leaseValid()` fences writes: it is false as soon as this replica's own clock says the last renewal is older
 * than `renewDeadline`, even before the renew loop has noticed (a process resumed after a pause).
 */
import type winston from 'winston';
import type { KubeClient } from './client.js';
import { isAlreadyExists, isConflict } from './errors.js';
import { RESOURCES } from './resources.js';

/** A coordination.k8s.io/v1 Lease (the fields leader election uses). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number;
  };
}

/** Configuration of a {@link LeaderElector}. */
export interface LeaderElectionConfig {
  /** Namespace and name of the Lease. */
  namespace: string;
  name: string;
  /** Unique identity of this candidate (e.g. the pod name). */
  identity: string;
  /** How long a Lease is valid without renewal; default 15 s. */
  leaseDurationMs?: number;
  /** The leader gives up if it could not renew for this long; default 10 s. Must be < leaseDuration. */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts; default 2 s. */
  retryPeriodMs?: number;
  logger?: winston.Logger;
  /** Gauge set to 1 while leading (satisfied by `OperatorMetrics.leader`). */
  leaderGauge?: { set(value: number): void };
}

/** Callbacks of {@link LeaderElector.run}. */
export interface LeaderCallbacks {
  /** Called once leadership is acquired. */
  onStartedLeading(): void | Promise<void>;
  /** Called when leadership ends: lost (could not renew) or released by `stop()`. */
  onStoppedLeading(): void | Promise<void>;
  /** Called when the observed leader changes (including to this candidate). */
  onNewLeader?(identity: string): void;
}

/** Lease `MicroTime`: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Runs a candidate for a Lease. */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private stopped = false;
  private observedKey = '';
  private observedAt = 0;
  private observedLeader = '';
  private lastRenewAt = 0;
  private wake: (() => void) | undefined;
  private lease: Lease | undefined;
  private runPromise: Promise<void> | undefined;

  constructor(
    private readonly client: Pick<KubeClient, 'get' | 'create' | 'replace'>,
    private readonly config: LeaderElectionConfig,
  ) {
    this.leaseDurationMs = config.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = config.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = config.retryPeriodMs ?? 2_000;
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new Error(`leader election: renewDeadline (${this.renewDeadlineMs} ms) must be shorter than leaseDuration (${this.leaseDurationMs} ms)`);
    }
  }

  /** True while this candidate holds the Lease. */
  isLeader(): boolean {
    return this.leading;
  }

  /**
   * True while this candidate leads and its last successful renewal was sent less than `renewDeadline` ago by its
   * own clock; other candidates wait at least `leaseDuration` from when they saw that renewal. Check it right
   * before a write that only the leader may make.
   */
  leaseValid(): boolean {
    return this.leading && Date.now() - this.lastRenewAt < this.renewDeadlineMs;
  }

  /** Identity of the leader last observed (may be this candidate), or '' if none. */
  leader(): string {
    return this.observedLeader;
  }

  /**
   * Campaigns until leadership is acquired, then renews until it is lost — then campaigns again — or until
   * `stop()` is called. Resolves when this candidate is stopped.
   */
  run(callbacks: LeaderCallbacks): Promise<void> {
    this.runPromise ??= this.loop(callbacks);
    return this.runPromise;
  }

  /** Stops campaigning or renewing; if leading, releases the Lease and calls `onStoppedLeading`. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.runPromise;
  }

  private async loop(cb: LeaderCallbacks): Promise<void> {
    while (!this.stopped) await this.term(cb);
  }

  /** One term: campaign, then lead until the Lease is lost or `stop()` is called. */
  private async term(cb: LeaderCallbacks): Promise<void> {
    const log = this.config.logger;
    let acquired = false;
    while (!this.stopped) {
      if ((acquired = await this.tryAcquireOrRenew(cb))) break;
      await this.sleep(this.jittered(this.retryPeriodMs));
    }
    if (this.stopped) {
      // stop() raced with a successful acquisition: hand the Lease straight back.
      if (acquired) await this.release();
      return;
    }
    this.leading = true;
    this.config.leaderGauge?.set(1);
    log?.info('Acquired leadership', { lease: `${this.config.namespace}/${this.config.name}`, identity: this.config.identity });
    try {
      await cb.onStartedLeading();
    } catch (err) {
      log?.error('onStartedLeading failed', { err });
    }
    while (!this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (this.stopped) break;
      if (await this.tryAcquireOrRenew(cb)) continue;
      if (Date.now() - this.lastRenewAt >= this.renewDeadlineMs) {
        log?.warn('Lost leadership: could not renew the lease in time', { identity: this.config.identity });
        break;
      }
    }
    this.leading = false;
    const released = this.stopped ? await this.release() : false;
    this.config.leaderGauge?.set(0);
    if (released) log?.info('Released leadership', { identity: this.config.identity });
    try {
      await cb.onStoppedLeading();
    } catch (err) {
      log?.error('onStoppedLeading failed', { err });
    }
  }

  /** One acquire/renew attempt; true when this candidate holds the Lease afterwards. */
  private async tryAcquireOrRenew(cb: LeaderCallbacks): Promise<boolean> {
    const { namespace, name, identity } = this.config;
    const now = new Date();
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    try {
      const current = await this.client.get<Lease>(RESOURCES.lease, name, namespace);
      if (!current) {
        const created = await this.client.create<Lease>(RESOURCES.lease, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        this.observe(created, cb);
        this.lastRenewAt = now.getTime();
        return true;
      }
      this.observe(current, cb);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const heldByOther = holder !== '' && holder !== identity;
      const observedDuration = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (heldByOther && this.observedAt + observedDuration > Date.now()) return false;
      const mine = holder === identity;
      const updated = await this.client.replace<Lease>(RESOURCES.lease, {
        ...current,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      });
      this.observe(updated, cb);
      this.lastRenewAt = now.getTime();
      return true;
    } catch (err) {
      // Losing a race (409) or finding the Lease just created by another candidate is a normal "not now".
      if (!isConflict(err) && !isAlreadyExists(err)) {
        this.config.logger?.warn('Leader election attempt failed', { identity, err });
      }
      return false;
    }
  }

  /** Remembers when the Lease record last changed, by our clock; reports leader changes. */
  private observe(lease: Lease, cb: LeaderCallbacks): void {
    this.lease = lease;
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${spec.leaseTransitions ?? 0}`;
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = Date.now();
    }
    const holder = spec.holderIdentity ?? '';
    if (holder !== this.observedLeader) {
      this.observedLeader = holder;
      if (holder) cb.onNewLeader?.(holder);
    }
  }

  /** Gives the Lease up (empty holder) so a standby can take it at once. */
  private async release(): Promise<boolean> {
    const lease = this.lease;
    if (!lease || lease.spec?.holderIdentity !== this.config.identity) return false;
    try {
      const now = microTime(new Date());
      this.lease = await this.client.replace<Lease>(RESOURCES.lease, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      });
      return true;
    } catch (err) {
      this.config.logger?.warn('Failed to release the lease; a standby takes over after it expires', { err });
      return false;
    }
  }

  private jittered(ms: number): number {
    return Math.round(ms * (1 + 0.2 * Math.random()));
  }

  /** Sleeps, waking early when `stop()` is called. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
