/**
 * The benchmark's tenants: a catalogue of ten GPU-cloud customers (a few heavy ones, several light ones) with
 * quotas that together cover the cluster, one cohort that lends and borrows within limits, different fair-share
 * weights, a per-profile cap, and one tenant outside the cohort. Each tenant's demand is described here too
 * (level, daily swing, bursts, request mix); `workload.ts` turns it into arrivals. Pure.
 */
import { API_VERSION } from '../../src/api/constants.js';
import type { GpuTenant } from '../../src/api/types.js';

/** What a tenant asks for: whole-GPU training gangs, a mix, inference partitions, or small notebook slices. */
export type RequestMix = 'training' | 'mixed' | 'inference' | 'notebook';

/** One tenant of the catalogue. Quotas are relative (`nominalParts` of the catalogue's total) and scale to the cluster. */
export interface TenantProfile {
  name: string;
  nominalParts: number;
  weight: number;
  /** In the cohort `research` (borrows and lends), or alone. */
  inCohort: boolean;
  /** Share of the nominal quota lent at most; absent: all of it. */
  lendingShare?: number;
  /** Share of the nominal quota borrowed at most above it; absent: no cap. */
  borrowingShare?: number;
  /** Caps on slices of one profile, per GPU-equivalent of nominal quota (scales with the quota). */
  profileCapsPerGpu?: Record<string, number>;
  mix: RequestMix;
  /** Mean offered load / nominal quota over the day. */
  level: number;
  /** Daily swing: the load goes between (1 − swing) and (1 + swing) times its mean. */
  swing: number;
  /** UTC hour of the daily peak. */
  peakHour: number;
  /** Bursts per day (each multiplies the arrival rate for 30–120 minutes). */
  burstsPerDay: number;
}

/** The cohort every `inCohort` tenant belongs to in the borrowing run. */
export const COHORT = 'research';

/**
 * The catalogue. Nominal parts sum to 1,024 (1 part = 1 GPU on the default cluster). Demand is set so that
 * heavy tenants want more than their quota most of the day while others peak at other hours, which is when
 * borrowing pays off; strict quotas leave that idle.
 */
export const CATALOGUE: readonly TenantProfile[] = [
  { name: 'atlas', nominalParts: 288, weight: 3, inCohort: true, lendingShare: 0.75, borrowingShare: 0.5, mix: 'training', level: 1.2, swing: 0.15, peakHour: 14, burstsPerDay: 1 },
  { name: 'borealis', nominalParts: 208, weight: 2, inCohort: true, mix: 'mixed', level: 0.95, swing: 0.5, peakHour: 16, burstsPerDay: 2 },
  { name: 'cygnus', nominalParts: 144, weight: 2, inCohort: true, mix: 'mixed', level: 0.8, swing: 0.6, peakHour: 3, burstsPerDay: 2 },
  { name: 'draco', nominalParts: 112, weight: 2, inCohort: true, lendingShare: 0.4, borrowingShare: 0, mix: 'inference', level: 0.7, swing: 0.6, peakHour: 19, burstsPerDay: 0 },
  { name: 'eridanus', nominalParts: 72, weight: 1, inCohort: true, profileCapsPerGpu: { '1g.23gb': 3.5 }, mix: 'notebook', level: 0.7, swing: 0.8, peakHour: 15, burstsPerDay: 1 },
  { name: 'fornax', nominalParts: 64, weight: 1, inCohort: true, mix: 'mixed', level: 0.9, swing: 0.4, peakHour: 9, burstsPerDay: 3 },
  { name: 'gemini', nominalParts: 48, weight: 1, inCohort: true, mix: 'training', level: 0.6, swing: 0.3, peakHour: 20, burstsPerDay: 4 },
  { name: 'hydra', nominalParts: 40, weight: 1, inCohort: true, borrowingShare: 1.5, mix: 'mixed', level: 0.6, swing: 0.5, peakHour: 11, burstsPerDay: 3 },
  { name: 'indus', nominalParts: 28, weight: 1, inCohort: true, mix: 'notebook', level: 0.5, swing: 0.5, peakHour: 7, burstsPerDay: 2 },
  { name: 'lyra', nominalParts: 20, weight: 1, inCohort: false, mix: 'inference', level: 0.8, swing: 0.7, peakHour: 13, burstsPerDay: 0 },
];

/** A tenant of one run: its profile and its quota on this cluster. */
export interface BenchTenant {
  profile: TenantProfile;
  name: string;
  /** Namespaces it owns (two: usage is metered per namespace). */
  namespaces: string[];
  nominal: number;
}

/**
 * The first `count` tenants of the catalogue (repeated with a numeric suffix beyond ten), quotas scaled so they
 * sum to at most `gpus` (whole GPU-equivalents, rounded down).
 */
export function benchTenants(count: number, gpus: number): BenchTenant[] {
  const profiles = Array.from({ length: count }, (_, i) => {
    const p = CATALOGUE[i % CATALOGUE.length] as TenantProfile;
    const round = Math.floor(i / CATALOGUE.length);
    return round === 0 ? p : { ...p, name: `${p.name}${round + 1}` };
  });
  const parts = profiles.reduce((s, p) => s + p.nominalParts, 0);
  return profiles.map((p) => ({
    profile: p,
    name: p.name,
    namespaces: [`${p.name}-prod`, `${p.name}-dev`],
    nominal: Math.floor((gpus * p.nominalParts) / parts),
  }));
}

/**
 * The GpuTenant objects of a run. `borrowing`: the cohort tenants share `research` with their lending and
 * borrowing limits; otherwise every tenant stands alone (strict quotas: no borrowing, nothing lent).
 */
export function gpuTenants(tenants: BenchTenant[], borrowing: boolean): GpuTenant[] {
  return tenants.map((t) => {
    const p = t.profile;
    const caps = Object.entries(p.profileCapsPerGpu ?? {}).map(([profile, perGpu]) => ({ profile, max: Math.max(1, Math.floor(perGpu * t.nominal)) }));
    const cohort = borrowing && p.inCohort;
    return {
      apiVersion: API_VERSION,
      kind: 'GpuTenant',
      metadata: { name: t.name, generation: 1 },
      spec: {
        namespaces: t.namespaces,
        nominal: t.nominal,
        weight: p.weight,
        ...(cohort ? { cohort: COHORT } : {}),
        ...(cohort && p.lendingShare !== undefined ? { lendingLimit: Math.floor(p.lendingShare * t.nominal) } : {}),
        ...(cohort && p.borrowingShare !== undefined ? { borrowingLimit: Math.floor(p.borrowingShare * t.nominal) } : {}),
        ...(caps.length > 0 ? { profileLimits: caps } : {}),
      },
    };
  });
}
