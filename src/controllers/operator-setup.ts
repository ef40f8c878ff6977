/**
 * Wires the Haein controllers into a runtime `Manager`: the shared informers (GpuNodes, Nodes, GpuPartitions,
 * TrainingJobs, and Pods filtered by the partition and job labels), the four reconcilers, and the mappers that
 * turn each change into the requests it affects. Defragmentation (on unless `defrag: false`) and priority
 * ordering are shared by the partition and job reconcilers; the pod gate's client reports admissions to the
 * same guard that keeps defragmentation away from partitions with pods.
 */
import type winston from 'winston';
import { JOB_LABEL, PARTITION_LABEL } from '../api/constants.js';
import type { GpuNode, GpuPartition, TrainingJob } from '../api/types.js';
import type { KubeClient } from '../k8s/client.js';
import type { Informer } from '../k8s/informer.js';
import { RESOURCES } from '../k8s/resources.js';
import { planDefrag as enginePlanDefrag } from '../placement/defrag.js';
import { place as enginePlace } from '../placement/engine.js';
import { Controller } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import type { ClaimantKind } from './claims.js';
import { Defragmenter } from './defrag-executor.js';
import { AdmissionGuard, guardGateClient } from './defrag-guard.js';
import { DefragMetrics } from './defrag-metrics.js';
import type { PlanDefragFn } from './defrag-plan.js';
import { GpuNodeReconciler } from './gpunode-reconciler.js';
import { GpuPartitionReconciler } from './gpupartition-reconciler.js';
import { LedgerExpectations } from './ledger.js';
import { gpuNodeToJobs, gpuNodeToPartitions, nodePlacementChanged, nodeToClaimants, podToJob, podToPartition, self, uniqueRequests, waitingJobs, waitingPartitions } from './mappers.js';
import { PodGateReconciler, partitionGateRequests, podGateRequests } from './pod-gate-reconciler.js';
import type { PodObject } from './pods.js';
import type { PlaceFn, ReconcileRequest } from './ports.js';
import { ReconfigTracker } from './reconfig-tracker.js';
import type { NodeObject } from './snapshot.js';
import { TrainingJobReconciler } from './trainingjob-reconciler.js';

/** Options of {@link registerControllers}. */
export interface OperatorSetupOptions {
  /** Watch only this namespace's partitions, jobs and pods (GpuNodes and Nodes are cluster-scoped). */
  namespace?: string;
  /** Workers per controller; default 2. */
  workers?: number;
  /** Placement engine; the real one by default. */
  place?: PlaceFn;
  /** Defragment when a request does not fit (the `--defrag` flag); default true. */
  defrag?: boolean;
  /** Defragmentation planner; the engine's by default. */
  planDefrag?: PlanDefragFn;
  logger?: winston.Logger;
}

/** The registered controllers, for tests and diagnostics, and the shared informers (the slice map reads them). */
export interface OperatorControllers {
  partitions: Controller;
  jobs: Controller;
  podGate: Controller;
  gpuNodes: Controller;
  informers: {
    gpuNodes: Informer<GpuNode>;
    nodes: Informer<NodeObject>;
    partitions: Informer<GpuPartition>;
    jobs: Informer<TrainingJob>;
    partitionPods: Informer<PodObject>;
    jobPods: Informer<PodObject>;
  };
}

/** Registers the informers and controllers of the operator on `manager`. */
export function registerControllers(manager: Manager, client: KubeClient, opts: OperatorSetupOptions = {}): OperatorControllers {
  const ns = opts.namespace ? { namespace: opts.namespace } : {};
  const gpuNodes = manager.informer<GpuNode>(RESOURCES.gpuNode);
  const nodes = manager.informer<NodeObject>(RESOURCES.node);
  const partitions = manager.informer<GpuPartition>(RESOURCES.gpuPartition, ns);
  const jobs = manager.informer<TrainingJob>(RESOURCES.trainingJob, ns);
  // Only labelled pods are cached: watching every pod of a cluster would be costly for nothing.
  const partitionPods = manager.informer<PodObject>(RESOURCES.pod, { ...ns, labelSelector: PARTITION_LABEL });
  const jobPods = manager.informer<PodObject>(RESOURCES.pod, { ...ns, labelSelector: JOB_LABEL });

  const expectations = new LedgerExpectations();
  const common = { client, recorder: manager.recorder, metrics: manager.metrics, reconfig: new ReconfigTracker(), expectations };
  // Passes held back until the cache shows this process's ledger writes are woken by the GpuNode change that does.
  const cacheWaiters = (kind: ClaimantKind) => ({
    wake: () => expectations.wake(kind, (n) => gpuNodes.get(n), copts.workers * 2),
    held: (req: ReconcileRequest) => expectations.isWaiting(kind, req),
  });
  const place = opts.place ?? enginePlace;
  const copts = { workers: opts.workers ?? 2, metrics: manager.metrics, ...(opts.logger ? { logger: opts.logger } : {}) };

  const guard = new AdmissionGuard();
  const defrag =
    opts.defrag === false
      ? undefined
      : new Defragmenter({
          planDefrag: opts.planDefrag ?? ((snapshot, request) => enginePlanDefrag(snapshot, request)),
          place,
          guard,
          pods: partitionPods,
          partitions,
          metrics: new DefragMetrics(manager.metrics.registry),
          ...(opts.logger ? { log: opts.logger } : {}),
        });
  const withDefrag = defrag ? { defrag } : {};

  const partitionR = new GpuPartitionReconciler({ ...common, partitions, gpuNodes, nodes, pods: partitionPods, place, ...withDefrag, priorityQueue: { jobs } });
  const partitionC = new Controller(partitionR, { ...copts, kind: 'GpuPartition' })
    .watch(partitions, self)
    .watch(gpuNodes, gpuNodeToPartitions(partitions, cacheWaiters('GpuPartition')))
    .watch(nodes, nodeToClaimants('GpuPartition', gpuNodes, () => waitingPartitions(partitions)))
    .watch(partitionPods, podToPartition);

  const jobR = new TrainingJobReconciler({ ...common, jobs, gpuNodes, nodes, pods: jobPods, place, ...withDefrag, priorityQueue: { partitions } });
  const jobC = new Controller(jobR, { ...copts, kind: 'TrainingJob' })
    .watch(jobs, self)
    .watch(gpuNodes, gpuNodeToJobs(jobs, cacheWaiters('TrainingJob')))
    .watch(nodes, nodeToClaimants('TrainingJob', gpuNodes, () => waitingJobs(jobs)))
    .watch(jobPods, podToJob);

  // Requests of the gate controller are partition keys: one partition's pods are decided by one worker at a time.
  const gateR = new PodGateReconciler({ client: guardGateClient(client, guard, partitionPods, partitions), pods: partitionPods, partitions, recorder: manager.recorder });
  const gateC = new Controller(gateR, { ...copts, kind: 'Pod' })
    .watch(partitionPods, podGateRequests(partitionPods))
    .watch(partitions, (p, prev) => uniqueRequests(partitionGateRequests(partitionPods)(p), prev ? self(prev) : []));

  const gpuNodeR = new GpuNodeReconciler({ ...common, gpuNodes, nodes, partitions, jobs, pods: partitionPods, ...(opts.namespace ? { watchNamespace: opts.namespace } : {}) });
  const gpuNodeC = new Controller(gpuNodeR, { ...copts, kind: 'GpuNode' })
    .watch(gpuNodes, self)
    .watch(nodes, (n, prev, deleted) => (nodePlacementChanged(n, prev, deleted) ? self(n) : []));

  // A write whose cache event came before its answer (or that failed) brings no further GpuNode event.
  expectations.onWritesSettled(() => {
    for (const r of cacheWaiters('GpuPartition').wake()) partitionC.enqueue(r);
    for (const r of cacheWaiters('TrainingJob').wake()) jobC.enqueue(r);
  });

  for (const c of [partitionC, jobC, gateC, gpuNodeC]) manager.addController(c);
  const informers = { gpuNodes, nodes, partitions, jobs, partitionPods, jobPods };
  return { partitions: partitionC, jobs: jobC, podGate: gateC, gpuNodes: gpuNodeC, informers };
}
