/**
 * The operator in memory for unit tests: the fake API server (`FakeClient`), caches that read it, the assumed
 * ledger, the real admission cycle and the real GpuPartition and TrainingJob reconcilers. `settle()` runs
 * reconcile passes and cycles until nothing changes any more, so a test states a situation, settles, and checks
 * the ledger, statuses and Events — the whole decision path without a cluster.
 */
import type { PodObject } from '../../../src/api/pods.js';
import type { GpuNode, GpuPartition, GpuTenant, TrainingJob } from '../../../src/api/types.js';
import { TimeToReady } from '../../../src/controllers/common/time-to-ready.js';
import { ReconfigTracker } from '../../../src/controllers/gpunode/reconfig-tracker.js';
import { GpuPartitionReconciler } from '../../../src/controllers/gpupartition/gpupartition-reconciler.js';
import { TrainingJobReconciler } from '../../../src/controllers/trainingjob/trainingjob-reconciler.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { AssumedLedger } from '../../../src/ledger/assumed-ledger.js';
import { ledgerEntries, type LedgerEntry } from '../../../src/ledger/claims.js';
import type { NodeObject } from '../../../src/ledger/snapshot.js';
import type { ReconcileResult } from '../../../src/runtime/ports.js';
import { AdmissionCycle, type AdmissionCycleDeps, type AdmissionCycleOptions } from '../../../src/scheduler/admission-cycle.js';
import type { PlannerDeps } from '../../../src/scheduler/cycle-planner.js';
import { AdmissionGuard } from '../../../src/scheduler/defrag/admission-guard.js';
import { Defragmenter } from '../../../src/scheduler/defrag/defragmenter.js';
import type { PlanDefragFn } from '../../../src/scheduler/defrag/defrag-plan.js';
import type { DefragMetricsPort } from '../../../src/scheduler/defrag/defrag-metrics.js';
import { planDefrag } from '../../../src/placement/defrag.js';
import { place } from '../../../src/placement/engine.js';
import { realise } from './builders.js';
import { FakeClient, FakeRecorder, cacheOf, quietLog } from './fakes.js';
import { seedNodes } from './reconciler-fixtures.js';

/** Options of {@link OperatorSim}. */
export interface SimOptions {
  /** Defragmentation on (default), or off, or with a given planner. */
  defrag?: boolean | PlanDefragFn;
  cycle?: AdmissionCycleOptions;
  /** Realise every changed GpuNode between rounds, as the node agent would (default true). */
  agent?: boolean;
  /** Overrides of the planner's dependencies. */
  planner?: Partial<Omit<PlannerDeps, 'nodeOf'>>;
  /** Where the defragmenter reports its plans. */
  defragMetrics?: DefragMetricsPort;
  /** The cycle's metering hook (called before writes that release claims). */
  beforeRelease?: AdmissionCycleDeps['beforeRelease'];
  /** Told each cycle's instant while it plans and writes (metering's watermark). */
  inFlight?: AdmissionCycleDeps['inFlight'];
  /** What namespaces in no GpuTenant get (default allow). */
  unassigned?: 'allow' | 'refuse';
}

/** A running in-memory operator over a fake API server. */
export class OperatorSim {
  readonly client = new FakeClient();
  readonly recorder = new FakeRecorder();
  readonly guard = new AdmissionGuard();
  readonly partitions = cacheOf<GpuPartition>(this.client, RESOURCES.gpuPartition);
  readonly jobs = cacheOf<TrainingJob>(this.client, RESOURCES.trainingJob);
  readonly gpuNodes = cacheOf<GpuNode>(this.client, RESOURCES.gpuNode);
  readonly nodes = cacheOf<NodeObject>(this.client, RESOURCES.node);
  readonly pods = cacheOf<PodObject>(this.client, RESOURCES.pod);
  readonly tenants = cacheOf<GpuTenant>(this.client, RESOURCES.gpuTenant);
  readonly namespaces = cacheOf<{ metadata: { name?: string; labels?: Record<string, string> } }>(this.client, RESOURCES.namespace);
  readonly ledger = new AssumedLedger(this.gpuNodes);
  readonly reconfig = new ReconfigTracker();
  readonly cycle: AdmissionCycle;
  readonly partitionR: GpuPartitionReconciler;
  readonly jobR: TrainingJobReconciler;
  readonly defrag: Defragmenter | undefined;
  /** Errors the admission cycle logged (a test that expects none checks this is empty). */
  readonly errors: string[] = [];
  /** Times to ready observed, per kind. */
  readonly timesToReady: Array<{ kind: string; seconds: number }> = [];
  readonly #seenPartitions = new Set<string>();
  readonly #seenJobs = new Set<string>();
  /** The partition reconciler's creation → Ready bookkeeping. */
  readonly partitionTimes: TimeToReady;
  /** Whether the replica may write (its Lease); tests turn it off to play a stale leader. */
  fenced = false;
  readonly #agent: boolean;
  /** The cycle told a reconciler about a decision since the last round. */
  #notified = false;
  #now = Date.parse('2026-01-01T00:00:05Z');

  constructor(nodes: GpuNode[], opts: SimOptions = {}) {
    seedNodes(this.client, nodes);
    this.#agent = opts.agent ?? true;
    this.defrag =
      opts.defrag === false
        ? undefined
        : new Defragmenter({
            planDefrag: typeof opts.defrag === 'function' ? opts.defrag : planDefrag,
            place,
            guard: this.guard,
            pods: this.pods,
            partitions: this.partitions,
            ...(opts.defragMetrics ? { metrics: opts.defragMetrics } : {}),
          });
    this.cycle = new AdmissionCycle(
      {
        client: this.client,
        ledger: this.ledger,
        nodes: this.nodes,
        owners: (kind, ns, name, uid) => {
          const o = kind === 'GpuPartition' ? this.partitions.get(name, ns) : this.jobs.get(name, ns);
          return o !== undefined && o.metadata.uid === uid;
        },
        tenancy: {
          tenants: () => this.tenants.list(),
          namespaces: () => this.namespaces.list().map((n) => ({ name: n.metadata.name as string, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}) })),
          unassigned: opts.unassigned ?? 'allow',
        },
        planner: {
          ...(this.defrag ? { defrag: this.defrag } : {}),
          podsUse: (c) => c.kind === 'TrainingJob' || this.guard.hasAdmittedPod(c.namespace, c.name, this.pods.list(c.namespace)),
          ...opts.planner,
        },
        ...(this.defrag ? { defrag: this.defrag } : {}),
        podsHolding: (v) =>
          this.pods
            .list(v.claim.namespace)
            .filter((p) => p.metadata.labels?.['gpu.haein.dev/partition'] === v.claim.name && p.spec.nodeName === v.node)
            .map((p) => ({ namespace: p.metadata.namespace as string, name: p.metadata.name as string })),
        recorder: this.recorder,
        notify: () => {
          this.#notified = true;
        },
        fence: () => !this.fenced,
        onWritten: (n) => this.reconfig.noteWrite(n, new Date(this.#now)),
        ...(opts.beforeRelease ? { beforeRelease: opts.beforeRelease } : {}),
        ...(opts.inFlight ? { inFlight: opts.inFlight } : {}),
        log: { ...quietLog, error: (m, meta) => this.errors.push(`${m}: ${String((meta as { err?: unknown } | undefined)?.err)}`) },
        now: () => this.#now,
      },
      { gcGraceMs: 0, maxPlanMs: 10_000, ...opts.cycle },
    );
    const common = { client: this.client, ledger: this.ledger, admission: this.cycle, recorder: this.recorder, clock: () => new Date(this.#now) };
    this.partitionTimes = new TimeToReady((s) => this.timesToReady.push({ kind: 'GpuPartition', seconds: s }), () => this.#now);
    this.partitionR = new GpuPartitionReconciler({ ...common, partitions: this.partitions, pods: this.pods, timeToReady: this.partitionTimes });
    this.jobR = new TrainingJobReconciler({
      ...common,
      jobs: this.jobs,
      pods: this.pods,
      timeToReady: new TimeToReady((s) => this.timesToReady.push({ kind: 'TrainingJob', seconds: s }), () => this.#now),
    });
  }

  /** The simulated clock. */
  now(): Date {
    return new Date(this.#now);
  }

  /** Advances the simulated clock. */
  tick(ms: number): void {
    this.#now += ms;
  }

  /** Starts the admission cycle (this replica leads). */
  start(): this {
    this.cycle.start();
    return this;
  }

  /** One reconcile pass of every partition and job; returns the largest requeue asked for. */
  async reconcileAll(): Promise<number | undefined> {
    let requeue: number | undefined;
    const note = (r: ReconcileResult | void) => {
      if (r?.requeueAfterMs !== undefined) requeue = Math.max(requeue ?? 0, r.requeueAfterMs);
    };
    // Objects gone since the last round get one pass each, as an informer's delete event gives them.
    const pass = async (seen: Set<string>, objects: Array<GpuPartition | TrainingJob>, r: GpuPartitionReconciler | TrainingJobReconciler) => {
      const now = new Set(objects.map((o) => `${o.metadata.namespace}/${o.metadata.name}`));
      for (const key of [...now, ...[...seen].filter((k) => !now.has(k))]) {
        const [namespace, name] = key.split('/') as [string, string];
        note(await r.reconcile({ namespace, name }, quietLog));
      }
      seen.clear();
      for (const k of now) seen.add(k);
    };
    await pass(this.#seenPartitions, this.client.all<GpuPartition>(RESOURCES.gpuPartition), this.partitionR);
    await pass(this.#seenJobs, this.client.all<TrainingJob>(RESOURCES.trainingJob), this.jobR);
    return requeue;
  }

  /** Realises every GpuNode whose spec the agent has not acted on yet. */
  agent(): void {
    for (const gn of this.client.all<GpuNode>(RESOURCES.gpuNode)) {
      if ((gn.status?.observedGeneration ?? 0) < (gn.metadata.generation ?? 1)) this.client.edit<GpuNode>(RESOURCES.gpuNode, gn.metadata.name as string, undefined, (x) => realise(x));
    }
  }

  /**
   * Reconciles, lets the cycle decide and write, and (unless the agent is off) realises, until a round changes
   * nothing; requeues after a delay are honoured by advancing the clock. Throws after `maxRounds`.
   */
  async settle(maxRounds = 30): Promise<void> {
    for (let round = 0; round < maxRounds; round++) {
      const before = this.client.version();
      this.#notified = false;
      const requeue = await this.reconcileAll();
      await this.cycle.idle();
      if (this.#agent) this.agent();
      if (requeue !== undefined) this.tick(requeue);
      if (this.client.version() === before && requeue === undefined && !this.#notified) return;
    }
    throw new Error(`the simulated operator did not settle in ${maxRounds} rounds`);
  }

  /** Stops the cycle. */
  async stop(): Promise<void> {
    await this.cycle.stop();
  }

  /** A partition as stored. */
  partition(name: string, ns: string): GpuPartition | undefined {
    return this.partitions.get(name, ns);
  }

  /** A job as stored. */
  job(name: string, ns: string): TrainingJob | undefined {
    return this.jobs.get(name, ns);
  }

  /** Ledger entries as stored (not assumed), optionally of one claimant name. */
  entries(name?: string): LedgerEntry[] {
    return ledgerEntries(this.client.all<GpuNode>(RESOURCES.gpuNode)).filter((e) => name === undefined || e.claim.name === name);
  }
}
