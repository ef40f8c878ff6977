/**
 * The autoscaler of an elastic GpuPartition (`spec.autoscale`): what `spec.count` should be, from the pods that
 * consume the partition. Pure: the GpuPartition reconciler observes, asks this, writes the count and carries the
 * returned status into its one status write.
 *
 * The rule, applied to every count whoever set it (the operator, `kubectl scale`, an HPA):
 * - desired = the slices the consumer pods need, clamped to [min, max], and never below the slices pods hold or
 *   were admitted to (the floor);
 * - count below desired → raised to desired at once (new pods start as soon as their slices are realised);
 *   the admission cycle places a growth all or nothing, so when it has no room for all of it (a capacity
 *   verdict), count is set to one slice more than held and grows one slice at a time from there (`stepwise`),
 *   so the pods that fit start while the rest wait;
 * - count above max (and above the floor) → lowered to that at once;
 * - count above desired otherwise → the surplus is idle: count goes down to the most slices needed since the
 *   surplus began, once `scaleDownDelaySeconds` have passed since then, and only when every admitted pod holds
 *   its slice (so the admission cycle, which keeps the slices pods use, cannot release one a pod was admitted to
 *   but has not taken yet). The surplus's start and peak live in `status.autoscale`, so a restarted operator
 *   keeps the same clock.
 */
import { AUTOSCALE_REASONS, EVENT_REASONS, PARTITION_CONDITIONS, type DesiredCondition } from '../../api/conditions.js';
import type { GpuPartition, PartitionAutoscaleStatus } from '../../api/types.js';
import type { PassEvent } from '../common/pass-event.js';
import { heldFloor, type PartitionUsage } from './partition-usage.js';

/** Defaults of `spec.autoscale` (the CRD applies them; objects read before it did get them here). */
export const AUTOSCALE_DEFAULTS = { min: 1, scaleDownDelaySeconds: 300 } as const;

/** A requeue for a scale-down lands this much after the delay ends, so the pass sees it as passed. */
const DUE_MARGIN_MS = 10;

/** What one autoscaler pass observed. */
export interface AutoscaleObservation {
  /** An elastic partition (`spec.autoscale` set). */
  partition: GpuPartition;
  usage: PartitionUsage;
  /** Slices the partition holds in the ledger. */
  held: number;
  /** Why the admission cycle could not place the current count, when capacity could change that (code and message). */
  refused?: { code: string; message: string };
  now: Date;
}

/** What the pass does. */
export interface AutoscaleDecision {
  /** The count to write, when it must change. */
  count?: number;
  /** `status.autoscale` after this pass (and after the count write, if any). */
  status: PartitionAutoscaleStatus;
  /** The `Autoscaled` condition after this pass. */
  condition: DesiredCondition;
  events: PassEvent[];
  /** When the pending scale-down falls due. */
  requeueAfterMs?: number;
}

/** Decides one pass of the autoscaler of `o.partition`. */
export function decideAutoscale(o: AutoscaleObservation): AutoscaleDecision {
  const p = o.partition;
  const spec = p.spec.autoscale;
  if (!spec) throw new Error(`GpuPartition ${p.metadata.namespace}/${p.metadata.name} has no spec.autoscale`);
  const min = spec.min ?? AUTOSCALE_DEFAULTS.min;
  const max = spec.max;
  const delaySeconds = spec.scaleDownDelaySeconds ?? AUTOSCALE_DEFAULTS.scaleDownDelaySeconds;
  const u = o.usage;
  const count = p.spec.count ?? 1;
  const floor = heldFloor(u);
  const desired = Math.max(clamp(u.needed, min, max), floor);
  const ceiling = Math.max(max, floor);
  const now = o.now.getTime();
  const prev = p.status?.autoscale;
  // One slice at a time while the cluster had no room for the whole growth; back to whole steps once caught up.
  const refusedNow = o.refused !== undefined && count > o.held + 1 && count <= desired;
  const stepwise = desired > o.held && (prev?.stepwise === true || refusedNow);
  const target = stepwise ? Math.min(desired, o.held + 1) : desired;
  const base = {
    consumers: u.consumers,
    desiredCount: desired,
    ...(prev?.lastScaleTime ? { lastScaleTime: prev.lastScaleTime } : {}),
    ...(stepwise ? { stepwise: true } : {}),
  };
  const needs = `${u.consumers} consumer pod(s) need ${u.needed} slice(s)`;
  const bounds = `min ${min}, max ${max}`;
  const held = floor > clamp(u.needed, min, max) ? `; pods hold or were admitted to ${floor}` : '';

  /** The condition once count equals desired (or the stepwise target). */
  const settledCondition = (c: number): DesiredCondition =>
    o.refused && o.held < c
      ? cond('False', AUTOSCALE_REASONS.limitedByCapacity, `${needs}; count is ${c} but the cluster has room for ${o.held} (${o.refused.code}: ${o.refused.message})`)
      : stepwise && c < desired
      ? cond(
          'False',
          AUTOSCALE_REASONS.limitedByCapacity,
          `${needs}; the cluster had no room for all ${desired}${o.refused ? ` (${o.refused.code}: ${o.refused.message})` : ''}, so count grows one slice at a time: ${c} now, ${o.held} held`,
        )
      : u.needed > max && c <= max
      ? cond('False', AUTOSCALE_REASONS.limitedByMaximum, `${needs}; count stays at spec.autoscale.max ${max}, so ${u.needed - max} slice(s) of requests wait`)
      : cond('True', AUTOSCALE_REASONS.followingConsumers, `count ${c}: ${needs} (${bounds})${held}`);

  if (refusedNow) {
    const message = `count ${count} → ${target}: the cluster has no room for ${count - o.held} more slice(s) (${o.refused?.code}); growing one slice at a time`;
    return {
      count: target,
      status: { ...base, lastScaleTime: o.now.toISOString() },
      condition: settledCondition(target),
      events: [{ type: 'Normal', reason: EVENT_REASONS.scaledDown, message }],
    };
  }
  if (count < target) {
    const why = count < min && u.needed <= min ? `below spec.autoscale.min ${min}` : `${needs}${held}`;
    const step = stepwise ? '; one slice at a time, the cluster had no room for all at once' : '';
    return {
      count: target,
      status: { ...base, lastScaleTime: o.now.toISOString() },
      condition: settledCondition(target),
      events: [{ type: 'Normal', reason: EVENT_REASONS.scaledUp, message: `count ${count} → ${target}: ${why} (${bounds})${step}` }],
    };
  }
  if (count <= desired) return { status: base, condition: settledCondition(count), events: [] };

  // count > desired: slices beyond what the pods need.
  if (count > ceiling) {
    const out = surplusFrom(ceiling, o.now, desired);
    return {
      count: ceiling,
      status: { ...base, lastScaleTime: o.now.toISOString(), ...out.record },
      condition: out.condition ?? settledCondition(ceiling),
      events: [{ type: 'Normal', reason: EVENT_REASONS.scaledDown, message: `count ${count} → ${ceiling}: above spec.autoscale.max ${max}` }],
      ...(out.requeueAfterMs !== undefined ? { requeueAfterMs: out.requeueAfterMs } : {}),
    };
  }
  const continuing = prev?.scaleDownSince !== undefined && prev.scaleDownTo !== undefined && prev.scaleDownTo < count && !Number.isNaN(Date.parse(prev.scaleDownSince));
  const since = continuing ? Date.parse(prev.scaleDownSince as string) : now;
  const to = continuing ? Math.max(prev.scaleDownTo as number, desired) : desired;
  const dueAt = since + delaySeconds * 1000;
  const record = { scaleDownSince: new Date(since).toISOString(), scaleDownTo: to };
  const idle = count - to;
  if (now < dueAt) {
    return {
      status: { ...base, ...record },
      condition: cond('False', AUTOSCALE_REASONS.scaleDownDelayed, `${needs}; count goes from ${count} to ${to} at ${new Date(dueAt).toISOString()}, when the ${idle} idle slice(s) have waited spec.autoscale.scaleDownDelaySeconds (${delaySeconds} s)`),
      events: [],
      requeueAfterMs: dueAt - now + DUE_MARGIN_MS,
    };
  }
  if (u.admitted !== u.inUse) {
    // Pod and GpuNode changes bring the next pass; no timer needed.
    return {
      status: { ...base, ...record },
      condition: cond('False', AUTOSCALE_REASONS.waitingForPods, `count goes from ${count} to ${to} once every admitted pod holds its slice: pods were admitted to ${u.admitted} slice(s), the nodes report ${u.inUse} in use`),
      events: [],
    };
  }
  const out = surplusFrom(to, o.now, desired);
  return {
    count: to,
    status: { ...base, lastScaleTime: o.now.toISOString(), ...out.record },
    condition: out.condition ?? settledCondition(to),
    events: [{ type: 'Normal', reason: EVENT_REASONS.scaledDown, message: `count ${count} → ${to}: ${idle} slice(s) idle for spec.autoscale.scaleDownDelaySeconds (${delaySeconds} s); ${needs}` }],
    ...(out.requeueAfterMs !== undefined ? { requeueAfterMs: out.requeueAfterMs } : {}),
  };

  /** After lowering count to `c`: a new surplus period starts now if `c` is still above `desired`. */
  function surplusFrom(c: number, at: Date, d: number): { record: Partial<PartitionAutoscaleStatus>; condition?: DesiredCondition; requeueAfterMs?: number } {
    if (c <= d) return { record: {} };
    const due = new Date(at.getTime() + delaySeconds * 1000).toISOString();
    return {
      record: { scaleDownSince: at.toISOString(), scaleDownTo: d },
      condition: cond('False', AUTOSCALE_REASONS.scaleDownDelayed, `${needs}; count goes from ${c} to ${d} at ${due}, when the ${c - d} idle slice(s) have waited spec.autoscale.scaleDownDelaySeconds (${delaySeconds} s)`),
      requeueAfterMs: delaySeconds * 1000 + DUE_MARGIN_MS,
    };
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function cond(status: 'True' | 'False', reason: string, message: string): DesiredCondition {
  return { type: PARTITION_CONDITIONS.autoscaled, status, reason, message };
}
