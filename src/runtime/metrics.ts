/**
 * Prometheus metrics of the operator, on a registry of its own (not prom-client's global one) so tests and
 * several instances do not collide. Every name has the `haein_` prefix; {@link METRIC_NAMES} documents them.
 *
 * Runtime metrics are maintained by the runtime layer (controller, work queue, informer, leader election);
 * domain metrics are set by the reconcilers through the `observe…`/`set…` methods, which match the
 * controllers' `ControllerMetricsPort`, so an `OperatorMetrics` can be passed to them directly.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric the operator exports, with its meaning. */
export const METRIC_NAMES = {
  reconcileTotal: 'haein_reconcile_total',
  reconcileErrors: 'haein_reconcile_errors_total',
  reconcileDuration: 'haein_reconcile_duration_seconds',
  queueDepth: 'haein_workqueue_depth',
  queueRetries: 'haein_workqueue_retries_total',
  informerRestarts: 'haein_informer_restarts_total',
  informerEvents: 'haein_informer_events_total',
  leader: 'haein_leader',
  slicesAllocated: 'haein_slices_allocated',
  slicesFree: 'haein_slices_free',
  pendingRequests: 'haein_pending_requests',
  fragmentation: 'haein_fragmentation_ratio',
  reconfigurationLatency: 'haein_reconfiguration_latency_seconds',
  placementDecision: 'haein_placement_decision_seconds',
  timeToReady: 'haein_time_to_ready_seconds',
  admissionCycleDuration: 'haein_admission_cycle_duration_seconds',
  admissionCycleBatch: 'haein_admission_cycle_batch_size',
  admissionQueue: 'haein_admission_queue',
  admissionReplansWithoutChange: 'haein_admission_replans_without_change_total',
  admissionCapacityChanges: 'haein_admission_capacity_changes_total',
  ledgerWrites: 'haein_ledger_writes_total',
  eventsDropped: 'haein_events_dropped_total',
  partitionConsumers: 'haein_partition_consumers',
  partitionSlices: 'haein_partition_slices',
  consumerWait: 'haein_consumer_wait_seconds',
  tenantGpuEquivalents: 'haein_tenant_gpu_equivalents',
  tenantWaiting: 'haein_tenant_waiting_requests',
} as const;

/** Help text per metric (also the documentation of the name list). */
export const METRIC_HELP: Record<keyof typeof METRIC_NAMES, string> = {
  reconcileTotal: 'Reconcile passes per controller and result (success, requeue, conflict, fenced: a write refused after the Lease expired, error).',
  reconcileErrors: 'Reconcile passes that failed with an error other than a write conflict, per controller.',
  reconcileDuration: 'Duration of reconcile passes per controller, in seconds.',
  queueDepth: 'Keys waiting in a controller work queue.',
  queueRetries: 'Rate-limited re-adds to a controller work queue.',
  informerRestarts: 'Informer list/watch restarts per resource and reason (error, gone, watchdog, relist).',
  informerEvents: 'Watch events received per resource and type.',
  leader: '1 while this replica holds the leader Lease, else 0.',
  slicesAllocated: 'MIG slices allocated to claims, per GPU model and profile.',
  slicesFree: 'MIG slices carved but unallocated, per GPU model and profile.',
  pendingRequests: 'Claims (GpuPartitions, TrainingJobs) waiting for placement, per kind and reason.',
  fragmentation: 'Fragmentation of free MIG capacity per GPU model, 0 (none) to 1.',
  reconfigurationLatency: 'Time from writing a target layout to the node reporting it realised, in seconds.',
  placementDecision: 'Time the placement engine took for one decision, in seconds.',
  timeToReady: 'Time from an object\'s creation to its first Ready (GpuPartition) or Running (TrainingJob) status, per kind, in seconds.',
  admissionCycleDuration: 'Duration of one admission cycle (plan, ledger writes, bookkeeping), in seconds.',
  admissionCycleBatch: 'Demands decided in one admission cycle.',
  admissionQueue: 'Demands in the admission queue, by state (ready: to be decided; parked: waiting for capacity or a spec change).',
  admissionReplansWithoutChange: 'Demands planned again although neither capacity nor the demand changed since their last decision (0 by design).',
  admissionCapacityChanges: 'Changes of what placement sees that wake parked demands, by source (gpunode, node, tenant, namespace: outside changes; release: a cycle gave capacity back; failed-write: a ledger write was refused and rolled back).',
  ledgerWrites: 'GpuNode ledger writes of the admission cycle and claim reconciliation, by result (ok, conflict, error).',
  eventsDropped: 'Events not recorded because the recorder\'s backlog was full (Events are best effort).',
  partitionConsumers: 'Live pods consuming a GpuPartition (gated or admitted, not finished, not being deleted), per namespace and partition; only partitions that hold slices or have consumers have series.',
  partitionSlices: 'Slices a GpuPartition holds in the node ledger, per namespace and partition; only partitions that hold slices or have consumers have series.',
  consumerWait: 'Time from a consumer pod\'s creation to its admission onto a realised, free slice of its GpuPartition, in seconds; elastic="true" for partitions with spec.autoscale (the slice may have to be carved first).',
  tenantGpuEquivalents: 'GPU-equivalents per GpuTenant (a MIG slice counts compute slices / 7, a whole GPU 1), by quantity: nominal (spec.nominal), used (held now), borrowed (held above nominal), lent (of its unused nominal, what cohort members use now).',
  tenantWaiting: 'Requests of a GpuTenant waiting to be placed.',
};

/** The quantities of `haein_tenant_gpu_equivalents`. */
const TENANT_QUANTITIES = ['nominal', 'used', 'borrowed', 'lent'] as const;

/** One tenant's figures for the tenant gauges: GPU-equivalents per quantity, and requests waiting. */
export type TenantFigures = Record<(typeof TENANT_QUANTITIES)[number], number> & { waiting: number };

/** The operator's metrics and the registry serving them. */
export class OperatorMetrics {
  /** Registry holding exactly these metrics (plus Node process metrics when requested). */
  readonly registry: Registry;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly queueDepth: Gauge<'controller'>;
  readonly queueRetries: Counter<'controller'>;
  readonly informerRestarts: Counter<'resource' | 'reason'>;
  readonly informerEvents: Counter<'resource' | 'type'>;
  readonly leader: Gauge;
  readonly slicesAllocated: Gauge<'model' | 'profile'>;
  readonly slicesFree: Gauge<'model' | 'profile'>;
  readonly pendingRequests: Gauge<'kind' | 'reason'>;
  readonly fragmentation: Gauge<'model'>;
  readonly reconfigurationLatency: Histogram<'model'>;
  readonly placementDecision: Histogram<'kind'>;
  readonly timeToReady: Histogram<'kind'>;
  readonly admissionCycleDuration: Histogram;
  readonly admissionCycleBatch: Histogram;
  readonly admissionQueue: Gauge<'state'>;
  readonly admissionReplansWithoutChange: Counter;
  readonly admissionCapacityChanges: Counter<'source'>;
  readonly ledgerWrites: Counter<'result'>;
  readonly eventsDropped: Counter;
  readonly partitionConsumers: Gauge<'namespace' | 'partition'>;
  readonly partitionSlices: Gauge<'namespace' | 'partition'>;
  readonly consumerWait: Histogram<'elastic'>;
  readonly tenantGpuEquivalents: Gauge<'tenant' | 'quantity'>;
  readonly tenantWaiting: Gauge<'tenant'>;
  #replansSeen = 0;

  constructor(opts: { collectDefault?: boolean } = {}) {
    const registers = [(this.registry = new Registry())];
    const h = METRIC_HELP;
    const n = METRIC_NAMES;
    this.reconcileTotal = new Counter({ name: n.reconcileTotal, help: h.reconcileTotal, labelNames: ['controller', 'result'], registers });
    this.reconcileErrors = new Counter({ name: n.reconcileErrors, help: h.reconcileErrors, labelNames: ['controller'], registers });
    this.reconcileDuration = new Histogram({
      name: n.reconcileDuration,
      help: h.reconcileDuration,
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.queueDepth = new Gauge({ name: n.queueDepth, help: h.queueDepth, labelNames: ['controller'], registers });
    this.queueRetries = new Counter({ name: n.queueRetries, help: h.queueRetries, labelNames: ['controller'], registers });
    this.informerRestarts = new Counter({ name: n.informerRestarts, help: h.informerRestarts, labelNames: ['resource', 'reason'], registers });
    this.informerEvents = new Counter({ name: n.informerEvents, help: h.informerEvents, labelNames: ['resource', 'type'], registers });
    this.leader = new Gauge({ name: n.leader, help: h.leader, registers });
    this.slicesAllocated = new Gauge({ name: n.slicesAllocated, help: h.slicesAllocated, labelNames: ['model', 'profile'], registers });
    this.slicesFree = new Gauge({ name: n.slicesFree, help: h.slicesFree, labelNames: ['model', 'profile'], registers });
    this.pendingRequests = new Gauge({ name: n.pendingRequests, help: h.pendingRequests, labelNames: ['kind', 'reason'], registers });
    this.fragmentation = new Gauge({ name: n.fragmentation, help: h.fragmentation, labelNames: ['model'], registers });
    this.reconfigurationLatency = new Histogram({
      name: n.reconfigurationLatency,
      help: h.reconfigurationLatency,
      labelNames: ['model'],
      // Reconfiguration spans a watch round trip plus the agent's work: sub-second to minutes.
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    this.placementDecision = new Histogram({
      name: n.placementDecision,
      help: h.placementDecision,
      labelNames: ['kind'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.timeToReady = new Histogram({
      name: n.timeToReady,
      help: h.timeToReady,
      labelNames: ['kind'],
      // An SLO histogram: sub-second on a quiet cluster, minutes when requests queue for capacity.
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    this.admissionCycleDuration = new Histogram({
      name: n.admissionCycleDuration,
      help: h.admissionCycleDuration,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.admissionCycleBatch = new Histogram({ name: n.admissionCycleBatch, help: h.admissionCycleBatch, buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000], registers });
    this.admissionQueue = new Gauge({ name: n.admissionQueue, help: h.admissionQueue, labelNames: ['state'], registers });
    this.admissionReplansWithoutChange = new Counter({ name: n.admissionReplansWithoutChange, help: h.admissionReplansWithoutChange, registers });
    this.admissionCapacityChanges = new Counter({ name: n.admissionCapacityChanges, help: h.admissionCapacityChanges, labelNames: ['source'], registers });
    this.ledgerWrites = new Counter({ name: n.ledgerWrites, help: h.ledgerWrites, labelNames: ['result'], registers });
    this.eventsDropped = new Counter({ name: n.eventsDropped, help: h.eventsDropped, registers });
    this.partitionConsumers = new Gauge({ name: n.partitionConsumers, help: h.partitionConsumers, labelNames: ['namespace', 'partition'], registers });
    this.partitionSlices = new Gauge({ name: n.partitionSlices, help: h.partitionSlices, labelNames: ['namespace', 'partition'], registers });
    this.tenantGpuEquivalents = new Gauge({ name: n.tenantGpuEquivalents, help: h.tenantGpuEquivalents, labelNames: ['tenant', 'quantity'], registers });
    this.tenantWaiting = new Gauge({ name: n.tenantWaiting, help: h.tenantWaiting, labelNames: ['tenant'], registers });
    this.consumerWait = new Histogram({
      name: n.consumerWait,
      help: h.consumerWait,
      labelNames: ['elastic'],
      // Sub-second onto a free slice; seconds when a slice is carved; minutes when the cluster is full.
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    if (opts.collectDefault) collectDefaultMetrics({ register: this.registry, prefix: 'haein_process_' });
  }

  /** Records how long one placement decision took. */
  observePlacementSeconds(seconds: number, kind: 'GpuPartition' | 'TrainingJob'): void {
    this.placementDecision.observe({ kind }, seconds);
  }

  /** Records the time from a target-layout write to the node reporting it realised. */
  observeReconfigurationSeconds(seconds: number, model: string): void {
    this.reconfigurationLatency.observe({ model }, seconds);
  }

  /** Sets the number of allocated or free slices of one model and profile. */
  setSlices(model: string, profile: string, state: 'allocated' | 'free', count: number): void {
    (state === 'allocated' ? this.slicesAllocated : this.slicesFree).set({ model, profile }, count);
  }

  /** Sets the fragmentation ratio (0–1) of one model. */
  setFragmentation(model: string, ratio: number): void {
    this.fragmentation.set({ model }, ratio);
  }

  /** Sets the number of requests of one kind waiting for one reason. */
  setPendingRequests(kind: 'GpuPartition' | 'TrainingJob', reason: string, count: number): void {
    this.pendingRequests.set({ kind, reason }, count);
  }

  /** Records an object's creation → Ready/Running time. */
  observeTimeToReady(seconds: number, kind: 'GpuPartition' | 'TrainingJob'): void {
    this.timeToReady.observe({ kind }, seconds);
  }

  /** Sets the consumer pods and the slices held of one partition. */
  setPartitionScale(namespace: string, partition: string, consumers: number, slices: number): void {
    // Thousands of partitions may wait with nothing: they get no series (a missing series reads as 0 in PromQL).
    if (consumers === 0 && slices === 0) return this.forgetPartition(namespace, partition);
    this.partitionConsumers.set({ namespace, partition }, consumers);
    this.partitionSlices.set({ namespace, partition }, slices);
  }

  /** Drops the series of a partition that is gone. */
  forgetPartition(namespace: string, partition: string): void {
    this.partitionConsumers.remove({ namespace, partition });
    this.partitionSlices.remove({ namespace, partition });
  }

  /** Sets a tenant's quota figures (GPU-equivalents) and its waiting requests. */
  setTenant(tenant: string, figures: TenantFigures): void {
    for (const quantity of TENANT_QUANTITIES) this.tenantGpuEquivalents.set({ tenant, quantity }, figures[quantity]);
    this.tenantWaiting.set({ tenant }, figures.waiting);
  }

  /** Drops the series of a tenant that is gone. */
  forgetTenant(tenant: string): void {
    for (const quantity of TENANT_QUANTITIES) this.tenantGpuEquivalents.remove({ tenant, quantity });
    this.tenantWaiting.remove({ tenant });
  }

  /** Records how long a consumer pod waited at the gate. */
  observeConsumerWait(seconds: number, elastic: boolean): void {
    this.consumerWait.observe({ elastic: String(elastic) }, seconds);
  }

  /** Records one admission cycle. */
  observeCycle(seconds: number, demands: number): void {
    this.admissionCycleDuration.observe(seconds);
    this.admissionCycleBatch.observe(demands);
  }

  /** Counts one ledger write by result. */
  ledgerWrite(result: 'ok' | 'conflict' | 'error'): void {
    this.ledgerWrites.inc({ result });
  }

  /** Sets the admission queue's ready and parked demands. */
  setQueue(ready: number, parked: number): void {
    this.admissionQueue.set({ state: 'ready' }, ready);
    this.admissionQueue.set({ state: 'parked' }, parked);
  }

  /** Brings the re-plan counter up to the queue's running total. */
  setReplansWithoutChange(total: number): void {
    if (total > this.#replansSeen) this.admissionReplansWithoutChange.inc(total - this.#replansSeen);
    this.#replansSeen = Math.max(this.#replansSeen, total);
  }

  /** Counts one change of what placement sees, by where it came from. */
  capacityChanged(source: string): void {
    this.admissionCapacityChanges.inc({ source });
  }

  /** Prometheus text exposition of every metric. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
