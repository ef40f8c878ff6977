/**
 * Defragmentation metrics, registered on the manager's registry (kept here rather than in
 * `src/runtime/metrics.ts`, which belongs to the runtime layer).
 */
import { Counter, type Registry } from 'prom-client';

/** Outcome of one defragmentation attempt. */
export type DefragResult =
  /** The plan was written to the ledger. */
  | 'applied'
  /** The planner found no plan. */
  | 'none'
  /** The plan would touch an in-use or admitted slice, preempt without permission, or leave an illegal layout. */
  | 'rejected'
  /** Carried out, the plan would still not let the request fit, or would take a higher-priority request's room. */
  | 'ineffective';

/** Every {@link DefragResult}. */
export const DEFRAG_RESULTS: readonly DefragResult[] = ['applied', 'none', 'rejected', 'ineffective'];
/** Every kind of step a plan takes. */
export const DEFRAG_ACTIONS = ['move', 'destroy', 'preempt'] as const;

/** What the reconcilers record about defragmentation. */
export interface DefragMetricsPort {
  /** One plan considered, by outcome. */
  plan(result: DefragResult): void;
  /** Slices moved, destroyed or preempted by an applied plan. */
  moves(action: 'move' | 'destroy' | 'preempt', count: number): void;
}

/** Drops everything (tests, or defragmentation without metrics). */
export const NO_DEFRAG_METRICS: DefragMetricsPort = { plan: () => undefined, moves: () => undefined };

/** Metric names. */
export const DEFRAG_METRIC_NAMES = { moves: 'haein_defrag_moves_total', plans: 'haein_defrag_plans_total' } as const;

/** prom-client counters behind {@link DefragMetricsPort}. */
export class DefragMetrics implements DefragMetricsPort {
  readonly movesTotal: Counter<'action'>;
  readonly plansTotal: Counter<'result'>;

  /** Registers the counters on `registry`. */
  constructor(registry: Registry) {
    const registers = [registry];
    this.movesTotal = new Counter({
      name: DEFRAG_METRIC_NAMES.moves,
      help: 'Slices moved, destroyed or preempted by applied defragmentation plans, per action.',
      labelNames: ['action'],
      registers,
    });
    this.plansTotal = new Counter({
      name: DEFRAG_METRIC_NAMES.plans,
      help: 'Defragmentation plans considered for requests that did not fit, per result (applied, none, rejected, ineffective).',
      labelNames: ['result'],
      registers,
    });
    // Every series exists from the start, so rates and alerts work before the first plan.
    for (const result of DEFRAG_RESULTS) this.plansTotal.inc({ result }, 0);
    for (const action of DEFRAG_ACTIONS) this.movesTotal.inc({ action }, 0);
  }

  plan(result: DefragResult): void {
    this.plansTotal.inc({ result });
  }

  moves(action: 'move' | 'destroy' | 'preempt', count: number): void {
    if (count > 0) this.movesTotal.inc({ action }, count);
  }
}
