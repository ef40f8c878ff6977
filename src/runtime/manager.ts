/**
 * Owns the informers and controllers of one process and runs them safely:
 * 1. serves `/healthz`, `/readyz` and `/metrics`;
 * 2. starts the informers and waits until every cache is synced (followers sync too, so they are ready
 *    and take over with warm caches);
 * 3. runs the controllers and the leader-only runnables (the admission cycle) only while this replica holds
 *    the leader Lease (or always, without election);
 * 4. on SIGTERM/SIGINT (or `stop()`) stops handing out work, lets in-flight reconciles finish, releases the
 *    Lease so a standby takes over at once, then stops the informers and the server.
 * Losing leadership unexpectedly stops the runnables (their writes in flight are aborted) and the controllers
 * at once, calls `onLostLeadership` if given, and campaigns again with warm caches.
 */
import type winston from 'winston';
import type { KubeClient } from '../k8s/client.js';
import { EventRecorder } from '../k8s/event-recorder.js';
import { Informer, type InformerObject, type InformerOptions } from '../k8s/informer.js';
import { LeaderElector, type LeaderElectionConfig } from '../k8s/leader-election.js';
import type { ResourceRef } from '../k8s/resources.js';
import type { Controller } from './controller.js';
import { HealthServer } from './health-server.js';
import { logger as rootLogger } from './logger.js';
import { OperatorMetrics } from './metrics.js';

/** Options of a {@link Manager}. */
export interface ManagerOptions {
  client: KubeClient;
  logger?: winston.Logger;
  /** Metrics registry; a new one (with process metrics) by default. */
  metrics?: OperatorMetrics;
  /** Health/metrics server; `false` disables it (tests). Default port 8081. */
  health?: { port?: number; host?: string } | false;
  /** Lease-based leader election; omit (or `false`) to run controllers unconditionally (tests, single replica). */
  leaderElection?: Omit<LeaderElectionConfig, 'logger' | 'leaderGauge'> | false;
  /** Stop gracefully on SIGTERM and SIGINT; default true. */
  handleSignals?: boolean;
  /** Longest wait for in-flight reconciles during shutdown; default 30 s. */
  shutdownTimeoutMs?: number;
  /** Defaults for every informer the manager creates. */
  informerDefaults?: Omit<InformerOptions, 'namespace' | 'labelSelector' | 'logger' | 'metrics'>;
  /** Component name on recorded Events; default `haein-operator`. */
  component?: string;
  /** Called after controllers stopped because leadership was lost (the manager then campaigns again). */
  onLostLeadership?: () => void;
}

/** Work that runs only on the leader, beside the controllers (e.g. the admission cycle). */
export interface LeaderRunnable {
  start(): void;
  /** Stops at once; resolves when it has stopped. */
  stop(): Promise<void>;
}

/** Runs informers, controllers, leader election and the health server of one process. */
export class Manager {
  /** Metrics of this process. */
  readonly metrics: OperatorMetrics;
  /** Event recorder for reconcilers. */
  readonly recorder: EventRecorder;
  private readonly log: winston.Logger;
  private readonly informers = new Map<string, Informer<InformerObject>>();
  private readonly controllers: Controller[] = [];
  private readonly runnables: LeaderRunnable[] = [];
  private readonly elector: LeaderElector | undefined;
  private readonly health: HealthServer | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private healthPort: number | undefined;
  private resolveDone!: () => void;
  private readonly donePromise = new Promise<void>((resolve) => (this.resolveDone = resolve));
  private readonly signalHandler = (signal: NodeJS.Signals): void => {
    this.log.info('Received signal, shutting down', { signal });
    void this.stop();
  };

  constructor(private readonly opts: ManagerOptions) {
    this.log = opts.logger ?? rootLogger;
    this.metrics = opts.metrics ?? new OperatorMetrics({ collectDefault: true });
    const identity = opts.leaderElection ? opts.leaderElection.identity : undefined;
    // Events are writes too: a replica resumed after a pause must not report what it no longer decides.
    this.recorder = new EventRecorder(this.fenced(opts.client), {
      component: opts.component ?? 'haein-operator',
      ...(identity ? { instance: identity } : {}),
      logger: this.log,
    });
    if (opts.leaderElection) {
      this.elector = new LeaderElector(opts.client, { ...opts.leaderElection, logger: this.log, leaderGauge: this.metrics.leader });
    }
    if (opts.health !== false) {
      this.health = new HealthServer({
        port: opts.health?.port ?? 8081,
        host: opts.health?.host,
        registry: this.metrics.registry,
        logger: this.log,
        liveness: { informers: () => this.informersHealthy() },
        readiness: { informers: () => this.informersSynced() },
      });
    }
  }

  /**
   * The shared informer for a resource (and optional namespace / label selector): one list/watch per
   * combination, however many controllers use it.
   */
  informer<T extends InformerObject>(ref: ResourceRef, opts: { namespace?: string; labelSelector?: string } = {}): Informer<T> {
    const key = `${ref.group}/${ref.version}/${ref.plural}|${opts.namespace ?? ''}|${opts.labelSelector ?? ''}`;
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<InformerObject>(this.opts.client, ref, {
        ...this.opts.informerDefaults,
        ...opts,
        logger: this.log,
        metrics: this.metrics,
      });
      this.informers.set(key, inf);
      if (this.started) void inf.start().catch(() => undefined);
    }
    return inf as unknown as Informer<T>;
  }

  /** Registers a controller; it runs while this replica leads. */
  addController(controller: Controller): Controller {
    this.controllers.push(controller);
    return controller;
  }

  /** Registers work that runs only while this replica leads; started after the controllers, stopped first. */
  addLeaderRunnable(r: LeaderRunnable): LeaderRunnable {
    this.runnables.push(r);
    return r;
  }

  /** True while this replica runs the controllers as leader (always true without leader election once started). */
  isLeader(): boolean {
    return this.elector ? this.elector.isLeader() : this.started && !this.stopping;
  }

  /**
   * True while this replica may make leader-only writes: it leads and, by its own clock, its Lease has not
   * expired (false at once in a process resumed after a pause longer than the renew deadline).
   */
  leaseValid(): boolean {
    return this.elector ? this.elector.leaseValid() : this.started && !this.stopping;
  }

  /**
   * `client` fenced by this replica's Lease: its writes are refused once {@link leaseValid} turns false under
   * leader election (unfenced without it, so a single replica's in-flight reconciles finish during shutdown).
   */
  fenced(client: KubeClient): KubeClient {
    return this.opts.leaderElection ? client.withWriteFence(() => this.leaseValid()) : client;
  }

  /** Port of the health server once started. */
  port(): number | undefined {
    return this.healthPort;
  }

  /** Starts everything; resolves once the caches are synced and the controllers or the campaign are running. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.opts.handleSignals !== false) {
      process.once('SIGTERM', this.signalHandler);
      process.once('SIGINT', this.signalHandler);
    }
    if (this.health) this.healthPort = await this.health.start();
    this.log.info('Starting informers', { count: this.informers.size, healthPort: this.healthPort });
    try {
      await Promise.all([...this.informers.values()].map((i) => i.start()));
    } catch (err) {
      // stop() during start rejects the sync waits; that is a shutdown, not a failure.
      if (this.stopping) return;
      throw err;
    }
    if (this.stopping) return;
    this.log.info('Caches synced');
    if (!this.elector) {
      this.startLeading();
      return;
    }
    void this.elector.run({
      onStartedLeading: () => {
        if (this.stopping) return;
        this.startLeading();
      },
      onStoppedLeading: async () => {
        if (this.stopping) return;
        this.log.error('Leadership lost: stopped the admission cycle and the controllers; campaigning again');
        await this.stopLeading();
        this.opts.onLostLeadership?.();
      },
      onNewLeader: (id) => this.log.info('Observed leader', { leader: id }),
    });
  }

  /**
   * Graceful shutdown: stop accepting work, wait (bounded) for in-flight reconciles, release the Lease,
   * stop informers and the server. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Resolves when the manager has shut down. */
  done(): Promise<void> {
    return this.donePromise;
  }

  private async shutdown(): Promise<void> {
    process.off('SIGTERM', this.signalHandler);
    process.off('SIGINT', this.signalHandler);
    const timeoutMs = this.opts.shutdownTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const drained = this.stopLeading().then(() => 'drained' as const);
    if ((await Promise.race([drained, timedOut])) === 'timeout') {
      this.log.warn('Reconciles still running at shutdown deadline', { timeoutMs });
    }
    clearTimeout(timer);
    // Release only after our reconciles finished, so the next leader never overlaps with them.
    await this.elector?.stop();
    for (const inf of this.informers.values()) inf.stop();
    await this.health?.stop();
    this.log.info('Manager stopped');
    this.resolveDone();
  }

  private startLeading(): void {
    for (const c of this.controllers) c.start();
    for (const r of this.runnables) r.start();
  }

  /** Runnables first (they abort their writes at once), then the controllers drain their passes. */
  private async stopLeading(): Promise<void> {
    await Promise.all(this.runnables.map((r) => r.stop()));
    await Promise.all(this.controllers.map((c) => c.stop()));
  }

  private informersSynced(): boolean | string {
    const pending = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => i.resource.plural);
    return pending.length === 0 ? true : `not synced: ${pending.join(', ')}`;
  }

  private informersHealthy(): boolean | string {
    const failing = [...this.informers.values()].filter((i) => !i.isHealthy()).map((i) => i.resource.plural);
    return failing.length === 0 ? true : `failing repeatedly: ${failing.join(', ')}`;
  }
}
