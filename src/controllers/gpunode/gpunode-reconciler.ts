/**
 * GpuNode reconciler: measures reconfiguration latency (spec write → the agent reporting it realised), keeps the
 * slice and fragmentation gauges current, and swaps claims so the ledger follows the devices the kubelet actually
 * gave each pod (`claim-reconciliation.ts`). Claims whose node or owner is gone are released by the admission
 * cycle, which the operator tells about deletions.
 */
import type { GpuNode } from '../../api/types.js';
import type { ClaimReconciliationPass } from './claim-reconciliation-pass.js';
import { clusterGauges } from './cluster-gauges.js';
import { NO_METRICS, type Clock, type ControllerMetricsPort, type LogPort, type ReconcileRequest, type ReconcileResult } from '../../runtime/ports.js';
import type { ReconfigTracker } from './reconfig-tracker.js';

/** Re-check after a claim swap lost a race with another ledger write. */
export const SWAP_RETRY_MS = 1_000;

/** What the GpuNode reconciler reads. */
export interface GpuNodeReconcilerDeps {
  /** The ledger as this replica knows it (assumed ledger). */
  ledger: { get(name: string): GpuNode | undefined; list(): GpuNode[] };
  claims: ClaimReconciliationPass;
  metrics?: ControllerMetricsPort;
  clock?: Clock;
  reconfig?: ReconfigTracker;
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

  /** Creates the reconciler. */
  constructor(deps: GpuNodeReconcilerDeps) {
    this.#d = deps;
    this.#metrics = deps.metrics ?? NO_METRICS;
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One pass for the GpuNode `req.name`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<ReconcileResult | void> {
    const now = this.#now();
    const gn = this.#d.ledger.get(req.name);
    let result: ReconcileResult | void = undefined;
    if (!gn) {
      this.#d.reconfig?.forget(req.name);
      this.#d.claims.forget(req.name);
    } else {
      const seconds = this.#d.reconfig?.observe(gn, now);
      if (seconds !== undefined) {
        const model = gn.status?.inventory?.product ?? 'unknown';
        this.#metrics.observeReconfigurationSeconds(seconds, model);
        log.debug('GpuNode realised its target layout', { seconds, generation: gn.metadata.generation });
      }
      if ((await this.#d.claims.run(gn, log)) === 'conflict') result = { requeueAfterMs: SWAP_RETRY_MS };
    }
    this.#updateGauges();
    return result;
  }

  #updateGauges(): void {
    const g = clusterGauges(this.#d.ledger.list());
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
  }
}
