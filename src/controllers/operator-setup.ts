/**
 * Wires the operator into a runtime `Manager`: the shared informers (GpuNodes, Nodes, GpuPartitions,
 * TrainingJobs, and Pods filtered by the partition and job labels), the assumed ledger over the GpuNode cache,
 * the admission cycle (leader only) that places and releases every claim, metering (which settles usage before
 * the cycle releases), the four per-object reconcilers, and the mappers that turn informer changes into reconcile
 * requests and admission-cycle signals.
 */
import type winston from 'winston';
import { JOB_LABEL, PARTITION_LABEL } from '../api/constants.js';
import { podPartition, podTargetNode, podTerminated, type PodObject } from '../api/pods.js';
import type { GpuNode, GpuPartition, GpuTenant, ObjectMeta, PodRef, TrainingJob } from '../api/types.js';
import type { KubeClient } from '../k8s/client.js';
import type { Informer } from '../k8s/informer.js';
import { RESOURCES } from '../k8s/resources.js';
import { AssumedLedger } from '../ledger/assumed-ledger.js';
import type { ClaimantKind } from '../ledger/claims.js';
import type { NodeObject } from '../ledger/snapshot.js';
import { planDefrag as enginePlanDefrag } from '../placement/defrag.js';
import { Controller } from '../runtime/controller.js';
import type { Manager } from '../runtime/manager.js';
import type { ReconcileRequest } from '../runtime/ports.js';
import { AdmissionCycle, type AdmissionCycleOptions } from '../scheduler/admission-cycle.js';
import type { PlannedVictim } from '../scheduler/cycle-planner.js';
import { AdmissionGuard, guardGateClient } from '../scheduler/defrag/admission-guard.js';
import { DefragMetrics } from '../scheduler/defrag/defrag-metrics.js';
import type { PlanDefragFn } from '../scheduler/defrag/defrag-plan.js';
import { Defragmenter } from '../scheduler/defrag/defragmenter.js';
import { place as enginePlace } from '../placement/engine.js';
import type { UnassignedPolicy } from '../tenancy/quota-book.js';
import { TimeToReady } from './common/time-to-ready.js';
import { GpuTenantReconciler } from './gputenant/gputenant-reconciler.js';
import { ClaimReconciliationPass } from './gpunode/claim-reconciliation-pass.js';
import { GpuNodeReconciler } from './gpunode/gpunode-reconciler.js';
import { ReconfigTracker } from './gpunode/reconfig-tracker.js';
import { GpuPartitionReconciler } from './gpupartition/gpupartition-reconciler.js';
import { gpuNodeCapacityChanged, gpuNodeToClaimants, nodePlacementChanged, podToJob, podToPartition, self, uniqueRequests } from './mappers.js';
import { PodGateReconciler, partitionGateRequests, podGateRequests } from './pod-gate/pod-gate-reconciler.js';
import { registerMetering, type Metering, type MeteringOptions } from '../tenancy/metering/metering-setup.js';
import { TrainingJobReconciler } from './trainingjob/trainingjob-reconciler.js';

/** The fields of a core/v1 Namespace tenancy reads. */
interface NamespaceObject {
  metadata: ObjectMeta;
}

/** Options of {@link registerControllers}. */
export interface OperatorSetupOptions {
  /** Watch only this namespace's partitions, jobs and pods (GpuNodes and Nodes are cluster-scoped). */
  namespace?: string;
  /** Workers per controller for GpuNodes and the pod gate; default 2. */
  workers?: number;
  /** Workers of the GpuPartition and TrainingJob controllers (status writes, finalizers, pods); default 16. */
  claimantWorkers?: number;
  /** Defragment when a request does not fit (the `--defrag` flag); default true. */
  defrag?: boolean;
  /** Defragmentation planner; the engine's by default. */
  planDefrag?: PlanDefragFn;
  /** Bounds of one admission cycle. */
  cycle?: AdmissionCycleOptions;
  /** Metering of slice-seconds into GpuUsage records (the `--metering*` flags); `false`: none. Default on. */
  metering?: MeteringOptions | false;
  /** What partitions and jobs of a namespace in no GpuTenant get: `allow` (default) or `refuse`. */
  unassignedNamespaces?: UnassignedPolicy;
  logger?: winston.Logger;
}

/** The registered controllers, the admission cycle, and the shared informers (the slice map reads them). */
export interface OperatorControllers {
  partitions: Controller;
  jobs: Controller;
  podGate: Controller;
  gpuNodes: Controller;
  admission: AdmissionCycle;
  ledger: AssumedLedger;
  /** Metering, unless turned off. */
  metering: Metering | undefined;
  informers: {
    gpuNodes: Informer<GpuNode>;
    nodes: Informer<NodeObject>;
    partitions: Informer<GpuPartition>;
    jobs: Informer<TrainingJob>;
    partitionPods: Informer<PodObject>;
    jobPods: Informer<PodObject>;
    tenants: Informer<GpuTenant>;
    namespaces: Informer<NamespaceObject>;
  };
}

/** Registers the informers, the admission cycle and the controllers of the operator on `manager`. */
export function registerControllers(manager: Manager, apiClient: KubeClient, opts: OperatorSetupOptions = {}): OperatorControllers {
  // Every write of the controllers and the cycle is fenced by the Lease (informers read through the manager).
  const client = manager.fenced(apiClient);
  const ns = opts.namespace ? { namespace: opts.namespace } : {};
  const gpuNodes = manager.informer<GpuNode>(RESOURCES.gpuNode);
  const nodes = manager.informer<NodeObject>(RESOURCES.node);
  const partitions = manager.informer<GpuPartition>(RESOURCES.gpuPartition, ns);
  const jobs = manager.informer<TrainingJob>(RESOURCES.trainingJob, ns);
  // Only labelled pods are cached: watching every pod of a cluster would be costly for nothing.
  const partitionPods = manager.informer<PodObject>(RESOURCES.pod, { ...ns, labelSelector: PARTITION_LABEL });
  const jobPods = manager.informer<PodObject>(RESOURCES.pod, { ...ns, labelSelector: JOB_LABEL });
  const tenants = manager.informer<GpuTenant>(RESOURCES.gpuTenant);
  const namespaces = manager.informer<NamespaceObject>(RESOURCES.namespace);
  const unassigned = opts.unassignedNamespaces ?? 'allow';
  const namespaceInfos = () => namespaces.list().map((n) => ({ name: n.metadata.name as string, ...(n.metadata.labels ? { labels: n.metadata.labels } : {}) }));
  const log = opts.logger;
  const metrics = manager.metrics;
  const ledger = new AssumedLedger(gpuNodes);
  const reconfig = new ReconfigTracker();
  const guard = new AdmissionGuard();
  const ours = (namespace: string) => opts.namespace === undefined || opts.namespace === namespace;

  const defrag =
    opts.defrag === false
      ? undefined
      : new Defragmenter({
          planDefrag: opts.planDefrag ?? ((snapshot, request) => enginePlanDefrag(snapshot, request)),
          place: enginePlace,
          guard,
          pods: partitionPods,
          partitions,
          metrics: new DefragMetrics(metrics.registry),
          ...(log ? { log } : {}),
        });

  // Filled in below: the cycle tells the claimant controllers about its decisions.
  const controllers: Partial<Record<ClaimantKind, Controller>> = {};
  const cycleLog = (log ?? console) as winston.Logger;
  const childLog = (component: string) => (typeof cycleLog.child === 'function' ? cycleLog.child({ component }) : cycleLog);
  const metering =
    opts.metering === false
      ? undefined
      : registerMetering(manager, { client, ledger, gpuNodes, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), log: childLog('metering') }, opts.metering);
  const admission = new AdmissionCycle(
    {
      client,
      ledger,
      nodes,
      owners: (kind, namespace, name, uid) => {
        if (!ours(namespace)) return undefined;
        const o = kind === 'GpuPartition' ? partitions.get(name, namespace) : jobs.get(name, namespace);
        return o !== undefined && o.metadata.uid === uid;
      },
      tenancy: { tenants: () => tenants.list(), namespaces: namespaceInfos, unassigned },
      planner: {
        ...(defrag ? { defrag } : {}),
        // Job workers always run on their GPUs; a partition's slices are used once a pod was admitted.
        podsUse: (c) => c.kind === 'TrainingJob' || guard.hasAdmittedPod(c.namespace, c.name, partitionPods.list(c.namespace)),
        observePlacement: (s, kind) => metrics.observePlacementSeconds(s, kind),
      },
      ...(defrag ? { defrag } : {}),
      podsHolding: (v, gn) => podsHolding(v, gn, v.claim.kind === 'GpuPartition' ? partitionPods : jobPods),
      recorder: manager.recorder,
      notify: (who) => controllers[who.kind]?.enqueue({ namespace: who.namespace, name: who.name }),
      fence: () => manager.leaseValid(),
      onWritten: (n) => reconfig.noteWrite(n, new Date()),
      // Usage is settled durably before a release is written, and never past the instant of a cycle in flight.
      ...(metering ? { beforeRelease: (released, at) => metering.settler.beforeRelease(released, at), inFlight: metering.settler } : {}),
      metrics,
      log: childLog('admission-cycle'),
    },
    opts.cycle,
  );
  manager.addLeaderRunnable(admission);

  // What placement sees changed outside this replica's writes: parked demands may fit now.
  gpuNodes.onChange((gn, prev, deleted) => {
    if (gpuNodeCapacityChanged(gn, prev, deleted, (n) => ledger.ownSpec(n))) admission.capacityChanged('gpunode');
    if (deleted) admission.ownersChanged();
  });
  nodes.onChange((n, prev, deleted) => {
    if (nodePlacementChanged(n, prev, deleted)) admission.capacityChanged('node');
    if (deleted) admission.ownersChanged();
  });
  for (const inf of [partitions, jobs]) inf.onChange((_o, _p, deleted) => deleted && admission.ownersChanged());
  // Quotas changed (a tenant, or the labels that put a namespace in one): parked demands may be admitted now.
  tenants.onChange((t, prev, deleted) => (deleted || !prev || t.metadata.generation !== prev.metadata.generation) && admission.capacityChanged('tenant'));
  namespaces.onChange((n, prev, deleted) => (deleted || !prev || JSON.stringify(n.metadata.labels ?? {}) !== JSON.stringify(prev.metadata.labels ?? {})) && admission.capacityChanged('namespace'));

  const timeToReady = (kind: ClaimantKind) => new TimeToReady((s) => metrics.observeTimeToReady(s, kind));
  const common = { client, ledger, admission, recorder: manager.recorder };
  const claimantOpts = { workers: opts.claimantWorkers ?? 16, metrics, ...(log ? { logger: log } : {}) };
  const copts = { workers: opts.workers ?? 2, metrics, ...(log ? { logger: log } : {}) };

  const partitionR = new GpuPartitionReconciler({ ...common, partitions, pods: partitionPods, timeToReady: timeToReady('GpuPartition'), metrics });
  const partitionC = new Controller(partitionR, { ...claimantOpts, kind: 'GpuPartition' })
    .watch(partitions, self)
    .watch(gpuNodes, gpuNodeToClaimants('GpuPartition'))
    .watch(partitionPods, podToPartition);
  controllers.GpuPartition = partitionC;

  const jobR = new TrainingJobReconciler({ ...common, jobs, pods: jobPods, timeToReady: timeToReady('TrainingJob') });
  const jobC = new Controller(jobR, { ...claimantOpts, kind: 'TrainingJob' })
    .watch(jobs, self)
    .watch(gpuNodes, gpuNodeToClaimants('TrainingJob'))
    .watch(jobPods, podToJob);
  controllers.TrainingJob = jobC;

  // Requests of the gate controller are partition keys: one partition's pods are decided by one worker at a time.
  const gateR = new PodGateReconciler({ client: guardGateClient(client, guard, partitionPods, partitions), pods: partitionPods, partitions, recorder: manager.recorder, metrics });
  const gateC = new Controller(gateR, { ...copts, kind: 'Pod' })
    .watch(partitionPods, podGateRequests(partitionPods))
    .watch(partitions, (p, prev) => uniqueRequests(partitionGateRequests(partitionPods)(p), prev ? self(prev) : []));

  const claims = new ClaimReconciliationPass({
    client,
    recorder: manager.recorder,
    pods: partitionPods,
    onWritten: (n) => {
      ledger.assume(n);
      metrics.ledgerWrite('ok');
    },
    sending: (name, spec) => ledger.sending(name, spec),
    fence: () => manager.leaseValid(),
    ...(opts.namespace !== undefined ? { owns: (x: string) => x === opts.namespace } : {}),
  });
  const gpuNodeR = new GpuNodeReconciler({ ledger, claims, metrics, reconfig });
  const gpuNodeC = new Controller(gpuNodeR, { ...copts, kind: 'GpuNode' })
    .watch(gpuNodes, self)
    .watch(nodes, (n, prev, deleted) => (nodePlacementChanged(n, prev, deleted) ? self(n) : []));

  const everyTenant = () => tenants.list().map((t) => ({ name: t.metadata.name as string }));
  const tenantR = new GpuTenantReconciler({
    client,
    tenants,
    namespaces: namespaceInfos,
    ledger,
    waiting: () => admission.waitingByTenant(),
    unassigned,
    recorder: manager.recorder,
    metrics,
  });
  const tenantC = new Controller(tenantR, { ...copts, kind: 'GpuTenant' })
    .watch(tenants, self)
    .watch(namespaces, everyTenant)
    .watch(gpuNodes, everyTenant)
    .watch(partitions, everyTenant)
    .watch(jobs, everyTenant);

  for (const c of [partitionC, jobC, gateC, gpuNodeC, tenantC]) manager.addController(c);
  const informers = { gpuNodes, nodes, partitions, jobs, partitionPods, jobPods, tenants, namespaces };
  return { partitions: partitionC, jobs: jobC, podGate: gateC, gpuNodes: gpuNodeC, admission, ledger, metering, informers };
}

/**
 * The pods to evict from a preempted claim's device: the pod the node agent reports on it, else the claimant's
 * live pods pinned to that node (the kubelet may not have reported the holder yet).
 */
function podsHolding(v: PlannedVictim, gn: GpuNode | undefined, pods: { list(namespace?: string): PodObject[] }): PodRef[] {
  const gpu = gn?.status?.gpus?.find((g) => g.index === v.gpuIndex);
  const reported =
    v.start !== undefined ? (gpu?.mode === 'mig' ? gpu.slices.find((s) => s.start === v.start && s.profile === v.profile)?.pod : undefined) : gpu?.pod;
  if (reported) return [reported];
  return pods
    .list(v.claim.namespace)
    .filter((p) => !podTerminated(p) && podTargetNode(p) === v.node && (v.claim.kind === 'GpuPartition' ? podPartition(p) === v.claim.name : p.metadata.labels?.[JOB_LABEL] === v.claim.name))
    .map((p) => ({ namespace: p.metadata.namespace as string, name: p.metadata.name as string, ...(p.metadata.uid ? { uid: p.metadata.uid } : {}) }));
}

/** Requests of a controller, for tests that drive one directly. */
export type { ReconcileRequest };
