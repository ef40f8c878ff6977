/**
 * Carrying out a chosen option on the working state (journaled, so a failed gang rolls back).
 */
import { slotMask, type MigProfile } from './catalog.js';
import { isVictim, sliceVictim, wholeVictim, type PreemptionPolicy } from './preemption.js';
import type { GpuState, PlacementState } from './state.js';
import type { Holder, SliceSnapshot, Victim } from './types.js';

/** Puts a slice of `profile` at `start` on `gpu` for `holder`; returns the holders it displaced. */
export function applySlice(
  state: PlacementState,
  policy: PreemptionPolicy,
  gpu: GpuState,
  profile: MigProfile,
  start: number,
  holder: Holder,
  inUse = false,
): Victim[] {
  const victims: Victim[] = [];
  const fresh: SliceSnapshot = { profile: profile.name, start, holder, inUse };
  if (gpu.mode === 'whole') {
    if (isVictim(policy, gpu.holder)) victims.push(wholeVictim(gpu, gpu.holder));
    state.setGpu(gpu, { mode: 'mig', slices: [fresh], holder: undefined, inUse: false });
    return victims;
  }
  const m = slotMask(profile, start);
  const kept: SliceSnapshot[] = [];
  for (const s of gpu.slices) {
    const p = state.profileOf(gpu.node.model, s.profile);
    const overlaps = p ? (slotMask(p, s.start) & m) !== 0 : true;
    const limited = profile.mediaExtensions && p?.mediaExtensions === true;
    if (!overlaps && !limited) {
      kept.push(s);
      continue;
    }
    // Anything in the way is a free carved slice (destroyed) or a permitted victim; scoring ruled out the rest.
    if (s.holder && isVictim(policy, s.holder)) victims.push(sliceVictim(gpu, { ...s, holder: s.holder }));
  }
  kept.push(fresh);
  kept.sort((a, b) => a.start - b.start);
  state.setGpu(gpu, { mode: 'mig', slices: kept, holder: undefined, inUse: false });
  return victims;
}

/** Hands `gpus` out whole to `holder` (switching them out of MIG, displacing permitted victims). */
export function applyWhole(state: PlacementState, policy: PreemptionPolicy, gpus: GpuState[], holder: Holder, inUse = false): Victim[] {
  const victims: Victim[] = [];
  for (const gpu of gpus) {
    if (isVictim(policy, gpu.holder)) victims.push(wholeVictim(gpu, gpu.holder));
    for (const s of gpu.slices) if (s.holder && isVictim(policy, s.holder)) victims.push(sliceVictim(gpu, { ...s, holder: s.holder }));
    state.setGpu(gpu, { mode: 'whole', slices: [], holder, inUse });
  }
  return victims;
}
