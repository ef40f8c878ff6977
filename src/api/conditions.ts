/** Condition helpers with "changed" semantics, in the style of metav1 `SetStatusCondition`. Pure. */
import type { Condition } from './types.js';

/** A condition as a reconciler wants it; the helper fills in the transition time. */
export interface DesiredCondition {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/**
 * Returns `conditions` with `want` set. `lastTransitionTime` moves only when the status flips; reason,
 * message and observedGeneration are updated in place.
 */
export function setCondition(conditions: Condition[] | undefined, want: DesiredCondition, generation: number | undefined, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === want.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: want.type,
    status: want.status,
    reason: want.reason,
    message: want.message,
    lastTransitionTime: prev && prev.status === want.status ? prev.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** The condition of `type`, if present. */
export function findCondition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the condition of `type` is present with status True. */
export function isConditionTrue(conditions: Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}
