/**
 * GPU-equivalents, the unit of tenant quotas and metering: a MIG slice counts its compute slices / 7 (1g = 1/7,
 * 3g = 3/7, 7g = 1; a `+me` slice counts as its base profile) and a whole GPU counts 1. Compute, not memory:
 * 3g and 4g slices both take half a GPU's memory, but 3 and 4 of its 7 compute slices. Pure.
 */
import type { LedgerEntry } from '../ledger/claims.js';

/** Compute slices of a whole Blackwell/Hopper GPU. */
export const COMPUTE_SLICES_PER_GPU = 7;

/** The profile key usage is accounted under: the base profile of a `+me` slice, `whole` for a whole GPU. */
export function accountingProfile(profile: string | undefined): string {
  return profile === undefined ? 'whole' : profile.replace(/\+me$/, '');
}

/** Compute slices of a profile name (`3g.90gb` → 3); undefined when the name says none. */
export function computeSlicesOf(profile: string): number | undefined {
  const m = /^(\d+)g\./.exec(profile);
  return m ? Number(m[1]) : undefined;
}

/** Profiles seen so far → their GPU-equivalents (a handful of names; asked for once per ledger entry per cycle). */
const EQUIVALENTS = new Map<string, number>();

/** GPU-equivalents of one slice of `profile`, or of a whole GPU (`undefined`). */
export function gpuEquivalentsOf(profile: string | undefined): number {
  if (profile === undefined) return 1;
  let eq = EQUIVALENTS.get(profile);
  if (eq === undefined) {
    const c = computeSlicesOf(profile);
    eq = c === undefined ? 1 : Math.min(1, c / COMPUTE_SLICES_PER_GPU);
    if (EQUIVALENTS.size < 1024) EQUIVALENTS.set(profile, eq);
  }
  return eq;
}

/** GPU-equivalents a ledger entry (a slice, or one whole GPU) counts for. */
export function entryGpuEquivalents(e: LedgerEntry): number {
  return gpuEquivalentsOf(e.profile);
}

/** Rounds GPU-equivalents for display and status (3 decimals: sevenths stay distinguishable). */
export function roundGpuEq(x: number): number {
  return Math.round(x * 1000) / 1000;
}
