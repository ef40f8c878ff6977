/**
 * Carries out defragmentation for a request that does not fit: asks the planner for the fewest moves of idle
 * slices (and permitted preemptions) that make room, checks the plan is safe and actually helps, and applies it
 * to the reconciler's ledger draft, which the reconciler then places the request on and commits in one write
 * per node (a 409 makes the next pass plan again from the fresh ledger).
 *
 * Safety: the planner sees every slice that must not move as in use (TrainingJob slices, partitions with an
 * admitted pod per the pod gate's bookkeeping, partitions already being moved); the returned plan is checked
 * again against that view, and its result must be a legal layout on every GPU it touches.
 */
import type { ClaimRef, GpuPartition } from '../../api/types.js';
import type { DefragMove, PlacementRequest, Victim } from '../../placement/types.js';
import { claimsOf, parseHolderKey } from '../../ledger/claims.js';
import { claimantObject } from '../../ledger/claimant-ref.js';
import type { AdmissionGuard } from './admission-guard.js';
import { NO_DEFRAG_METRICS, type DefragMetricsPort, type DefragResult } from './defrag-metrics.js';
import { claimsByKey, describePlan, describeWanted, ledgerMoves, protectSnapshot, unsafePlan, type MovedClaim, type PlanDefragFn } from './defrag-plan.js';
import { LedgerDraft } from '../../ledger/ledger-draft.js';
import type { PodObject } from '../../api/pods.js';
import type { CachePort, KubeObject, LogPort, PlaceFn, RecorderPort } from '../../runtime/ports.js';
import { buildSnapshot, type NodeObject } from '../../ledger/snapshot.js';

/** Placement failure codes defragmentation can help with. */
export const DEFRAGGABLE_CODES: ReadonlySet<string> = new Set(['InsufficientCapacity', 'TopologyUnsatisfiable']);

/** What the defragmenter reads. */
export interface DefragDeps {
  planDefrag: PlanDefragFn;
  place: PlaceFn;
  guard: AdmissionGuard;
  /** Pods labelled with the partition label (admission check). */
  pods: CachePort<PodObject>;
  partitions: CachePort<GpuPartition>;
  metrics?: DefragMetricsPort;
  /** Where rejected plans (a planner bug) are reported. */
  log?: LogPort;
}

/** A plan applied to a draft, to be announced after the commit (or abandoned if it fails). */
export interface AppliedDefrag {
  moves: DefragMove[];
  moved: MovedClaim[];
  /** Claims the plan preempted. */
  preempted: ClaimRef[];
  /** Sentence for the `Defragmenting` Event. */
  summary: string;
  requestId: string;
  priority: number;
}

/** Result of {@link Defragmenter.prepare}. */
export type DefragOutcome = { ok: true; applied: AppliedDefrag } | { ok: false; result: DefragResult; reason: string };

/** Plans, checks and applies defragmentation; records its metrics and Events. */
export class Defragmenter {
  readonly #d: DefragDeps;
  readonly #metrics: DefragMetricsPort;

  /** Creates the defragmenter over the planner, the engine and the admission bookkeeping. */
  constructor(deps: DefragDeps) {
    this.#d = deps;
    this.#metrics = deps.metrics ?? NO_DEFRAG_METRICS;
  }

  /**
   * Finds a safe plan that lets `request` fit on `draft` and applies its moves to `draft`; the caller then
   * places the request on the draft as usual. Nothing is changed when the outcome is not ok.
   */
  prepare(draft: LedgerDraft, request: PlacementRequest, nodes: (name: string) => NodeObject | undefined): DefragOutcome {
    const snapshot = buildSnapshot(draft.nodes(), nodes);
    const guarded = protectSnapshot(snapshot, (key) => this.#busy(key));
    const plan = this.#d.planDefrag(guarded, request);
    if (!plan.ok) return this.#fail('none', plan.message);
    if (plan.moves.length === 0) return this.#fail('ineffective', 'the plan has no moves, yet the request did not fit');
    const unsafe = unsafePlan(guarded, request, plan.moves);
    if (unsafe) {
      this.#d.log?.warn('Rejected an unsafe defragmentation plan', { request: request.id, reason: unsafe });
      return this.#fail('rejected', unsafe);
    }

    // Dry run on a copy: the request must fit after the moves.
    const trial = new LedgerDraft(draft.nodes());
    try {
      this.#apply(trial, plan.moves);
    } catch (err) {
      this.#d.log?.warn('Rejected a defragmentation plan with an illegal result', { request: request.id, reason: (err as Error).message });
      return this.#fail('rejected', (err as Error).message);
    }
    const moved = buildSnapshot(trial.nodes(), nodes);
    const res = this.#d.place(moved, request);
    if (!res.ok) return this.#fail('ineffective', `after the moves: ${res.message}`);

    const claims = claimsByKey(draft.nodes());
    const preempted = plan.moves
      .filter((m) => m.action === 'preempt' && m.holderKey)
      .map((m) => claims.get(m.holderKey as string))
      .filter((c) => c !== undefined);
    const applied = this.#apply(draft, plan.moves);
    // Until the moved partitions report their new places, the pod gate must not admit pods to them.
    for (const c of new Map(applied.map((m) => [`${m.claim.namespace}/${m.claim.name}`, m.claim])).values()) {
      const expected = claimsOf(draft.nodes(), { kind: 'GpuPartition', namespace: c.namespace, name: c.name }, c.uid).current.map((e) => ({
        slot: e.claim.slot,
        node: e.node,
        gpuIndex: e.gpuIndex,
        start: e.start ?? 0,
      }));
      this.#d.guard.beginMove(c.namespace, c.name, expected);
    }
    return {
      ok: true,
      applied: {
        moves: plan.moves,
        moved: applied,
        preempted,
        summary: describePlan(plan.moves, describeWanted(request)),
        requestId: request.id,
        priority: request.priority ?? 0,
      },
    };
  }

  /** After the ledger write: metrics and Events (`Defragmenting` on the requester, `Moved`/`Preempted` on the others). */
  async committed(applied: AppliedDefrag, requester: KubeObject, recorder: RecorderPort): Promise<void> {
    this.#metrics.plan('applied');
    for (const action of ['move', 'destroy', 'preempt'] as const) this.#metrics.moves(action, applied.moves.filter((m) => m.action === action).length);
    await recorder.event(requester, 'Normal', 'Defragmenting', applied.summary);
    for (const m of applied.moved) {
      await recorder.event(
        claimantObject(m.claim),
        'Normal',
        'Moved',
        `Moved slot ${m.claim.slot} (${m.profile}) from ${m.from.node}/gpu${m.from.gpuIndex}@${m.from.start} to ${m.to.node}/gpu${m.to.gpuIndex}@${m.to.start} to make room for ${applied.requestId}`,
      );
    }
    for (const v of applied.preempted) {
      await recorder.event(claimantObject(v), 'Warning', 'Preempted', `Slot ${v.slot} preempted by ${applied.requestId} (priority ${applied.priority}) during defragmentation`);
    }
  }

  /** The ledger write failed: the moved partitions are not moving after all. */
  abandoned(applied: AppliedDefrag): void {
    for (const m of applied.moved) this.#d.guard.abortMove(m.claim.namespace, m.claim.name);
  }

  /** Applies preemptions (claims released), destroys and moves to `draft`. */
  #apply(draft: LedgerDraft, moves: DefragMove[]): MovedClaim[] {
    const victims: Victim[] = moves
      .filter((m) => m.action === 'preempt' && m.holderKey)
      .map((m) => ({ holderKey: m.holderKey as string, node: m.node, gpuIndex: m.gpuIndex, profile: m.profile, start: m.start, priority: 0 }));
    draft.releaseVictims(victims);
    const lm = ledgerMoves(draft.nodes(), moves);
    const claims = claimsByKey(draft.nodes());
    draft.applyLayouts(lm.layouts, (key) => claims.get(key));
    return lm.moved;
  }

  /** True when the holder's slice must stay where it is: its partition has an admitted pod or is being moved. */
  #busy(key: string): boolean {
    const h = parseHolderKey(key);
    if (!h || h.kind !== 'GpuPartition') return true;
    const g = this.#d.guard;
    return g.hasAdmittedPod(h.namespace, h.name, this.#d.pods.list(h.namespace)) || g.moving(h.namespace, h.name, this.#d.partitions.get(h.name, h.namespace));
  }

  #fail(result: DefragResult, reason: string): { ok: false; result: DefragResult; reason: string } {
    this.#metrics.plan(result);
    return { ok: false, result, reason };
  }
}

