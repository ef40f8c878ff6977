/** Condition helpers with "changed" semantics, in the style of metav1 `SetStatusCondition`. Pure. */
import type { Condition } from '../api/types.js';

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

/** Structural equality for status objects (JSON-shaped data only); key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)].filter((k) => ao[k] !== undefined || bo[k] !== undefined));
  for (const k of keys) if (!deepEqual(ao[k], bo[k])) return false;
  return true;
}
