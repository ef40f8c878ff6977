/**
 * Who may be displaced. Preemption is decided here and carried out by the operator: the engine only names
 * victims and plans as if they were gone.
 */
import type { Holder, SliceSnapshot, Victim } from './types.js';
import type { GpuState } from './state.js';

/** The preemption rule of one search pass. */
export interface PreemptionPolicy {
  /** Holders strictly below this priority and marked preemptible may be displaced; undefined: nobody. */
  readonly below: number | undefined;
}

/** No preemption. */
export const NO_PREEMPTION: PreemptionPolicy = { below: undefined };

/** Whether `holder` may be displaced under `policy`. */
export function isVictim(policy: PreemptionPolicy, holder: Holder | undefined): holder is Holder {
  return policy.below !== undefined && holder !== undefined && holder.preemptible && holder.priority < policy.below;
}

/** The victim record of a displaced slice. */
export function sliceVictim(gpu: GpuState, slice: SliceSnapshot & { holder: Holder }): Victim {
  return { holderKey: slice.holder.key, node: gpu.node.name, gpuIndex: gpu.index, profile: slice.profile, start: slice.start, priority: slice.holder.priority };
}

/** The victim record of a displaced whole-GPU holder. */
export function wholeVictim(gpu: GpuState, holder: Holder): Victim {
  return { holderKey: holder.key, node: gpu.node.name, gpuIndex: gpu.index, priority: holder.priority };
}

/**
 * Cost of a set of victims as key fields, compared lexicographically: fewest victims, then the lowest
 * highest priority, then the lowest total priority.
 */
export function victimCost(priorities: number[]): [number, number, number] {
  if (priorities.length === 0) return [0, -Infinity, 0];
  let max = -Infinity;
  let sum = 0;
  for (const p of priorities) {
    if (p > max) max = p;
    sum += p;
  }
  return [priorities.length, max, sum];
}
