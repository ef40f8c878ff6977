/**
 * The placement engine's entry points: `place` over a snapshot (pure), and {@link PlacementEngine}, which
 * keeps an incremental state for callers that place and release many requests.
 */
import { placeGang } from './gang.js';
import { explainFailure, noMatchingNodes } from './messages.js';
import { NO_PREEMPTION } from './preemption.js';
import { planRequest } from './request.js';
import { assignmentsOf, layoutsSince, sortVictims } from './result.js';
import { PlacementState } from './state.js';
import type { ClusterSnapshot, PlacementRequest, PlacementResult } from './types.js';

/** Options of {@link placeOn}. */
export interface PlaceOptions {
  /** Keep the placement applied to the state (default false: the state is left as it was). */
  commit?: boolean;
}

/**
 * Places `request` on `state`. Tries without preemption first; with `mayPreempt`, tries again allowing
 * preemptible holders of strictly lower priority to be displaced, naming them as victims.
 */
export function placeOn(state: PlacementState, request: PlacementRequest, options: PlaceOptions = {}): PlacementResult {
  const plan = planRequest(state, request);
  if ('ok' in plan) return plan;
  for (const [i, member] of plan.members.entries()) {
    if (plan.eligible[i].length === 0) return noMatchingNodes(plan, member);
  }
  const mark = state.mark();
  let outcome = placeGang(state, plan, NO_PREEMPTION);
  if (!outcome.ok && plan.mayPreempt) outcome = placeGang(state, plan, { below: plan.priority });
  if (!outcome.ok) {
    let fitsAnywhere = false;
    if (plan.topology !== 'any') {
      // Distinguish "the topology cannot be met" from "there is no room at all".
      const loose = placeGang(state, plan, plan.mayPreempt ? { below: plan.priority } : NO_PREEMPTION, 'any');
      fitsAnywhere = loose.ok;
      state.rollback(mark);
    }
    return explainFailure(plan, outcome, fitsAnywhere);
  }
  const result: PlacementResult = {
    ok: true,
    assignments: assignmentsOf(outcome.placements),
    layouts: layoutsSince(state, mark),
    victims: sortVictims(outcome.victims),
  };
  if (!options.commit) state.rollback(mark);
  else if (mark === 0) state.commit();
  return result;
}

/**
 * Decides where every member of `request` goes on the cluster described by `snapshot`. Pure: the snapshot
 * is not modified. Bad input yields `{ ok: false, code: 'InvalidRequest' | 'UnknownProfile', message }`.
 */
export function place(snapshot: ClusterSnapshot, request: PlacementRequest): PlacementResult {
  let state: PlacementState;
  try {
    state = new PlacementState(snapshot);
  } catch (err) {
    return { ok: false, code: 'InvalidRequest', message: `malformed cluster snapshot: ${(err as Error).message}` };
  }
  try {
    return placeOn(state, request);
  } catch (err) {
    // Validation should have caught it; a malformed field deep in the snapshot still must not escape as a throw.
    return { ok: false, code: 'InvalidRequest', message: `${request?.id ?? 'request'}: cannot be placed on this snapshot: ${(err as Error).message}` };
  }
}

/** An engine that keeps its state between requests: place, commit, release, mark in use. */
export class PlacementEngine {
  /** The working state (read it, do not modify it directly). */
  readonly state: PlacementState;

  /** Builds the engine from a snapshot (copied). */
  constructor(snapshot: ClusterSnapshot) {
    this.state = new PlacementState(snapshot);
  }

  /** Places `request` and, on success, keeps the allocation (victims are removed from the state). */
  place(request: PlacementRequest): PlacementResult {
    return placeOn(this.state, request, { commit: true });
  }

  /** Evaluates `request` without changing the state. */
  tryPlace(request: PlacementRequest): PlacementResult {
    return placeOn(this.state, request);
  }

  /** Frees every allocation held by `key` (slices stay carved and become reusable). */
  release(key: string): number {
    const n = this.state.release(key);
    this.state.commit();
    return n;
  }

  /** Marks the allocations held by `key` as used (or not) by a running container. */
  setInUse(key: string, inUse: boolean): void {
    this.state.setInUse(key, inUse);
    this.state.commit();
  }

  /** The current cluster as a snapshot. */
  snapshot(): ClusterSnapshot {
    return this.state.toSnapshot();
  }
}
