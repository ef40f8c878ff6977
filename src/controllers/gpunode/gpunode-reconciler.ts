/**
 * GpuNode reconciler: measures reconfiguration latency (spec write → the agent reporting it realised),
 * keeps the slice and fragmentation gauges current, and releases the claims of a node whose Kubernetes Node
 * is gone or whose claimant no longer exists, telling the claimants. It also swaps claims so the ledger
 * follows the devices the kubelet actually gave each pod (`claim-reconciliation.ts`). Partitions and jobs
 * waiting for a node are requeued by the operator's GpuNode → claimant mappers, not here.
 */
import type { GpuNode, GpuPartition, TrainingJob } from '../../api/types.js';
import { ClaimReconciliationPass } from './claim-reconciliation-pass.js';
import { claimantObject } from '../../ledger/claimant-ref.js';
import { clusterGauges } from './cluster-gauges.js';
import { ledgerEntries } from '../../ledger/claims.js';
import { CACHE_WAIT_MS, commitLedger, LedgerDraft, type LedgerExpectations } from '../../ledger/ledger.js';
import type { PodObject } from '../../api/pods.js';
import { NO_METRICS, type CachePort, type ClientPort, type Clock, type ControllerMetricsPort, type LogPort, type ReconcileRequest, type ReconcileResult, type RecorderPort } from '../../runtime/ports.js';
import type { ReconfigTracker } from './reconfig-tracker.js';
import type { NodeObject } from '../../ledger/snapshot.js';

/** What the GpuNode reconciler reads and writes. */
export interface GpuNodeReconcilerDeps {
  client: ClientPort;
  gpuNodes: CachePort<GpuNode>;
  nodes: CachePort<NodeObject>;
  partitions: CachePort<GpuPartition>;
  jobs: CachePort<TrainingJob>;
  recorder: RecorderPort;
  metrics?: ControllerMetricsPort;
  clock?: Clock;
  reconfig?: ReconfigTracker;
  expectations?: LedgerExpectations;
  /** When the operator watches one namespace, claims of other namespaces are not its to judge. */
  watchNamespace?: string;
  /** Labelled pods (cache) for claim reconciliation; pods not found there are read from the API server. */
  pods?: CachePort<PodObject>;
}

/** Observes GpuNodes. */
export class GpuNodeReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'gpunode';
  readonly #d: GpuNodeReconcilerDeps;
  readonly #metrics: ControllerMetricsPort;
  readonly #now: Clock;
  /** Label sets reported before, so vanished ones can be set back to 0. */
  readonly #reported = { slices: new Set<string>(), models: new Set<string>() };
  readonly #claims: ClaimReconciliationPass;

  /** Creates the reconciler. */
  constructor(deps: GpuNodeReconcilerDeps) {
    this.#d = deps;
    this.#metrics = deps.metrics ?? NO_METRICS;
    this.#now = deps.clock ?? (() => new Date());
    const ns = deps.watchNamespace;
    this.#claims = new ClaimReconciliationPass({
      client: deps.client,
      recorder: deps.recorder,
      ...(deps.pods ? { pods: deps.pods } : {}),
      ...(deps.expectations ? { expectations: deps.expectations } : {}),
      ...(ns !== undefined ? { owns: (x: string) => x === ns } : {}),
    });
  }

  /** One pass for the GpuNode `req.name`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    const now = this.#now();
    const gn = this.#d.gpuNodes.get(req.name);
    let result: ReconcileResult | void = undefined;
    if (!gn) {
      this.#d.reconfig?.forget(req.name);
      this.#claims.forget(req.name);
    } else {
      const seconds = this.#d.reconfig?.observe(gn, now);
      if (seconds !== undefined) {
        const model = gn.status?.inventory?.product ?? 'unknown';
        this.#metrics.observeReconfigurationSeconds(seconds, model);
        log.info('GpuNode realised its target layout', { seconds, generation: gn.metadata.generation });
      }
      // After releasing, the cached node is stale: the write's watch event brings the next pass.
      if (!(await this.#releaseLost(gn, log, now))) {
        if ((await this.#claims.run(gn, log)) === 'conflict') result = { requeueAfterMs: CACHE_WAIT_MS };
      }
    }
    this.#updateGauges();
    return result;
  }

  /** Releases claims whose node is gone or whose claimant no longer exists; true when it wrote the node. */
  async #releaseLost(gn: GpuNode, log: LogPort, now: Date): Promise<boolean> {
    const entries = ledgerEntries([gn]);
    if (entries.length === 0) return false;
    const nodeGone = this.#d.nodes.get(gn.metadata.name as string) === undefined;
    const exists = (kind: string, ns: string, name: string, uid: string): boolean => {
      const obj = kind === 'GpuPartition' ? this.#d.partitions.get(name, ns) : this.#d.jobs.get(name, ns);
      return obj !== undefined && obj.metadata.uid === uid;
    };
    const ours = (ns: string) => this.#d.watchNamespace === undefined || this.#d.watchNamespace === ns;
    const lost = entries.filter((e) => ours(e.claim.namespace) && (nodeGone || !exists(e.claim.kind, e.claim.namespace, e.claim.name, e.claim.uid)));
    if (lost.length === 0) return false;
    const draft = new LedgerDraft([gn]);
    draft.release((c) => lost.some((e) => e.claim === c || (e.claim.uid === c.uid && e.claim.slot === c.slot)));
    await commitLedger(this.#d.client, draft, (n) => {
      this.#d.reconfig?.noteWrite(n, now);
      this.#d.expectations?.noteWritten(n);
    }, (n) => this.#d.gpuNodes.get(n), this.#d.expectations);
    log.info('Released claims of a lost node or claimant', { released: lost.length, nodeGone });
    if (!nodeGone) return true;
    // Tell each claimant once; their own reconcilers re-place them (GpuNode changes map back to them).
    const seen = new Set<string>();
    for (const e of lost) {
      if (seen.has(e.claim.uid)) continue;
      seen.add(e.claim.uid);
      await this.#d.recorder.event(claimantObject(e.claim), 'Warning', 'NodeLost', `Node ${gn.metadata.name} is gone; its GPUs were released and the claim will be placed again`);
    }
    return true;
  }

  #updateGauges(): void {
    const g = clusterGauges(this.#d.gpuNodes.list());
    const slices = new Set<string>();
    for (const s of g.slices) {
      slices.add(`${s.model}\u0000${s.profile}`);
      this.#metrics.setSlices(s.model, s.profile, 'allocated', s.allocated);
      this.#metrics.setSlices(s.model, s.profile, 'free', s.free);
    }
    for (const k of this.#reported.slices) {
      if (slices.has(k)) continue;
      const [model, profile] = k.split('\u0000') as [string, string];
      this.#metrics.setSlices(model, profile, 'allocated', 0);
      this.#metrics.setSlices(model, profile, 'free', 0);
    }
    this.#reported.slices = slices;
    for (const [model, ratio] of g.fragmentation) this.#metrics.setFragmentation(model, ratio);
    for (const m of this.#reported.models) if (!g.fragmentation.has(m)) this.#metrics.setFragmentation(m, 0);
    this.#reported.models = new Set(g.fragmentation.keys());
    this.#metrics.setPendingRequests('GpuPartition', this.#d.partitions.list().filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Ready').length);
    this.#metrics.setPendingRequests('TrainingJob', this.#d.jobs.list().filter((j) => j.status?.phase === undefined || j.status.phase === 'Pending' || j.status.phase === 'Placing').length);
  }
}
