/** The tenancy benchmark's figures (the final JSON line), its pass/fail verdict and its text report. Pure. */
import { percentile } from '../scale/stats.js';
import type { ReplayResult, WaitReason } from './replay.js';

/** Run facts that are not replay results. */
export interface RunFacts {
  tenants: number;
  gpus: number;
  hours: number;
  cycleSeconds: number;
  seed: number;
  arrivals: number;
  /** Offered GPU-equivalent-seconds of the stream / (GPUs × run seconds). */
  offeredLoad: number;
  wallSeconds: number;
  /** CPU seconds of the process (both runs' threads). */
  cpuSeconds: number;
  peakRssMiB: number;
  loadAverage: number[];
}

/** The final JSON line. */
export interface TenancyFigures extends RunFacts {
  utilisationBorrowing: number;
  utilisationStrict: number;
  /** Borrowing run: the largest tenant's mean |served − weighted fair share| while backlogged, share of the cluster. */
  maxShareDeviation: number;
  maxShareDeviationStrict: number;
  /** Both runs together (each must be 0). */
  nominalViolations: number;
  /** Lender's request → Ready, over the borrowing run's reclaiming placements. */
  reclaimLatencyP50Seconds: number | null;
  reclaimLatencyP95Seconds: number | null;
  /** From when the capacity it was owed existed → Ready (the operator's own reaction). */
  reclaimOwedLatencyP50Seconds: number | null;
  reclaimOwedLatencyP95Seconds: number | null;
  /**
   * The reclaiming requests' waits (request → placement) summed, as shares by why they waited: not within their
   * nominal quota, within it but fitting nowhere, owed (see `WaitReason` in `replay.ts`).
   */
  reclaimWaitShares: Record<WaitReason, number> | null;
  /** Largest |metered − truth| of one allocation over both runs, seconds. */
  meteringErrorSeconds: number;
  /** Σ |metered − truth| over every allocation of both runs, seconds. */
  meteringTotalErrorSeconds: number;
  /** Allocations (slices or whole GPUs) metered, borrowing run + strict run. */
  allocations: number;
  reclaims: number;
  reclaimVictims: number;
  cycles: number;
  runs: { borrowing: RunSummary; strict: RunSummary };
  ok: boolean;
}

/** The compact per-run part of the JSON line. */
export interface RunSummary {
  utilisation: number;
  allocations: number;
  placements: number;
  completed: number;
  abandoned: number;
  reclaims: number;
  priorityPreemptions: number;
  busyVictims: number;
  nominalViolations: number;
  maxShareDeviation: number;
  meteringMaxErrorSeconds: number;
  meteringTenantMismatchMs: number;
  meteringTenantErrorSeconds: number;
  badAllocatedAt: number;
  settlements: number;
  cycles: number;
  plannerSeconds: number;
  replansWithoutChange: number;
  waitingByCode: Record<string, number>;
  gpuEqHoursByTenant: Record<string, number>;
  shares: Array<{ tenant: string; backloggedHours: number; servedShare: number; fairShare: number; deviation: number }>;
}

const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function summary(r: ReplayResult): RunSummary {
  return {
    utilisation: r4(r.utilisation),
    allocations: r.allocations,
    placements: r.placements,
    completed: r.completed,
    abandoned: r.abandoned,
    reclaims: r.reclaims,
    priorityPreemptions: r.priorityPreemptions,
    busyVictims: r.busyVictims,
    nominalViolations: r.nominalViolations,
    maxShareDeviation: r4(r.maxShareDeviation),
    meteringMaxErrorSeconds: r3(r.metering.maxErrorSeconds),
    meteringTenantMismatchMs: r.metering.tenantMismatchMs,
    meteringTenantErrorSeconds: r3(r.metering.tenantErrorSeconds),
    badAllocatedAt: r.metering.badAllocatedAt,
    settlements: r.metering.settlements,
    cycles: r.cycles,
    plannerSeconds: r3(r.plannerSeconds),
    replansWithoutChange: r.replansWithoutChange,
    waitingByCode: r.waitingByCode,
    gpuEqHoursByTenant: Object.fromEntries(Object.entries(r.gpuEqHoursByTenant).map(([t, h]) => [t, Math.round(h * 10) / 10])),
    shares: r.shares.map((s) => ({ tenant: s.tenant, backloggedHours: Math.round(s.backloggedHours * 100) / 100, servedShare: r4(s.servedShare), fairShare: r4(s.fairShare), deviation: r4(s.deviation) })),
  };
}

/** Each reason's share of the summed waits; null when nothing waited. */
function waitShares(seconds: Record<WaitReason, number>): Record<WaitReason, number> | null {
  const total = seconds.notWithinNominal + seconds.fitsNowhere + seconds.owed;
  if (total <= 0) return null;
  return { notWithinNominal: r4(seconds.notWithinNominal / total), fitsNowhere: r4(seconds.fitsNowhere / total), owed: r4(seconds.owed / total) };
}

/** The figures of a borrowing run and a strict run of the same stream. */
export function tenancyFigures(borrowing: ReplayResult, strict: ReplayResult, facts: RunFacts): TenancyFigures {
  const latencies = [...borrowing.reclaimLatencies].sort((a, b) => a - b);
  const owed = [...borrowing.reclaimOwedLatencies].sort((a, b) => a - b);
  const f: Omit<TenancyFigures, 'ok'> = {
    utilisationBorrowing: r4(borrowing.utilisation),
    utilisationStrict: r4(strict.utilisation),
    maxShareDeviation: r4(borrowing.maxShareDeviation),
    maxShareDeviationStrict: r4(strict.maxShareDeviation),
    nominalViolations: borrowing.nominalViolations + strict.nominalViolations,
    reclaimLatencyP50Seconds: latencies.length > 0 ? r3(percentile(latencies, 50)) : null,
    reclaimLatencyP95Seconds: latencies.length > 0 ? r3(percentile(latencies, 95)) : null,
    reclaimOwedLatencyP50Seconds: owed.length > 0 ? r3(percentile(owed, 50)) : null,
    reclaimOwedLatencyP95Seconds: owed.length > 0 ? r3(percentile(owed, 95)) : null,
    reclaimWaitShares: waitShares(borrowing.reclaimWaitSeconds),
    meteringErrorSeconds: r3(Math.max(borrowing.metering.maxErrorSeconds, strict.metering.maxErrorSeconds)),
    meteringTotalErrorSeconds: r3(borrowing.metering.totalErrorSeconds + strict.metering.totalErrorSeconds),
    allocations: borrowing.allocations + strict.allocations,
    reclaims: borrowing.reclaims,
    reclaimVictims: borrowing.reclaimVictims,
    cycles: borrowing.cycles + strict.cycles,
    wallSeconds: Math.round(facts.wallSeconds * 10) / 10,
    cpuSeconds: Math.round(facts.cpuSeconds * 10) / 10,
    peakRssMiB: Math.round(facts.peakRssMiB),
    loadAverage: facts.loadAverage.map((x) => Math.round(x * 100) / 100),
    tenants: facts.tenants,
    gpus: facts.gpus,
    hours: facts.hours,
    cycleSeconds: facts.cycleSeconds,
    seed: facts.seed,
    arrivals: facts.arrivals,
    offeredLoad: r4(facts.offeredLoad),
    runs: { borrowing: summary(borrowing), strict: summary(strict) },
  };
  return { ...f, ok: failures(f).length === 0 };
}

/**
 * Why the run fails, if it does: a nominal violation, an allocation metered more than 1 s off, tenant records
 * that disagree with their allocations, or borrowing that does not raise utilisation.
 */
export function failures(f: Omit<TenancyFigures, 'ok'>): string[] {
  const out: string[] = [];
  if (f.nominalViolations > 0) out.push(`${f.nominalViolations} nominal violation(s)`);
  if (f.meteringErrorSeconds > 1) out.push(`an allocation was metered ${f.meteringErrorSeconds} s off (limit 1 s)`);
  for (const [name, r] of Object.entries(f.runs)) {
    if (r.meteringTenantMismatchMs !== 0) out.push(`${name} run: tenant records differ from the sum of their allocations by ${r.meteringTenantMismatchMs} ms`);
  }
  if (!(f.utilisationBorrowing > f.utilisationStrict)) out.push(`borrowing did not raise utilisation (${f.utilisationBorrowing} vs ${f.utilisationStrict} strict)`);
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Human-readable tables of a run. */
export function renderReport(f: TenancyFigures, borrowing: ReplayResult, strict: ReplayResult): string {
  const lines: string[] = [];
  lines.push(`Haein tenancy benchmark: ${f.tenants} tenants, ${f.gpus} B200, ${f.hours} simulated h, a cycle every ${f.cycleSeconds} s, seed ${f.seed}; ${f.arrivals} requests offering ${pct(f.offeredLoad)} of the cluster`);
  lines.push('');
  lines.push('run         utilisation  placed  completed  gave up  reclaims  same-tenant preemptions  busy victims  violations  max share dev  cycles  planner s');
  for (const [name, r] of [['borrowing', borrowing], ['strict', strict]] as const) {
    lines.push(
      `${name.padEnd(11)} ${pct(r.utilisation).padStart(11)} ${String(r.placements).padStart(7)} ${String(r.completed).padStart(10)} ${String(r.abandoned).padStart(8)} ${String(r.reclaims).padStart(9)} ${String(r.priorityPreemptions).padStart(24)} ${String(r.busyVictims).padStart(13)} ${String(r.nominalViolations).padStart(11)} ${pct(r.maxShareDeviation).padStart(14)} ${String(r.cycles).padStart(7)} ${r.plannerSeconds.toFixed(1).padStart(10)}`,
    );
  }
  lines.push('');
  lines.push('borrowing run, per tenant (while backlogged): served share vs weighted fair share of the cluster');
  lines.push('tenant       backlogged h  served   fair  |dev|   GPU-eq h borrowing  GPU-eq h strict');
  const strictHours = strict.gpuEqHoursByTenant;
  for (const s of borrowing.shares) {
    lines.push(
      `${s.tenant.padEnd(12)} ${s.backloggedHours.toFixed(1).padStart(12)} ${pct(s.servedShare).padStart(7)} ${pct(s.fairShare).padStart(6)} ${pct(s.deviation).padStart(6)} ${(borrowing.gpuEqHoursByTenant[s.tenant] ?? 0).toFixed(0).padStart(19)} ${(strictHours[s.tenant] ?? 0).toFixed(0).padStart(16)}`,
    );
  }
  lines.push('');
  lines.push(
    `reclaim latency over ${borrowing.reclaimLatencies.length} reclaims (${borrowing.reclaimVictims} victims): request → Ready p50 ${f.reclaimLatencyP50Seconds ?? '-'} s, p95 ${f.reclaimLatencyP95Seconds ?? '-'} s; ` +
      `owed capacity existed → Ready p50 ${f.reclaimOwedLatencyP50Seconds ?? '-'} s, p95 ${f.reclaimOwedLatencyP95Seconds ?? '-'} s`,
  );
  const w = f.reclaimWaitShares;
  if (w) lines.push(`  their waits before placement: ${pct(w.notWithinNominal)} not within nominal quota, ${pct(w.fitsNowhere)} within it but fitting nowhere, ${pct(w.owed)} owed`);
  lines.push(`metering: ${f.allocations} allocations, max |metered − truth| ${f.meteringErrorSeconds} s, total ${f.meteringTotalErrorSeconds} s; settlements ${borrowing.metering.settlements} + ${strict.metering.settlements}`);
  for (const r of [borrowing, strict]) for (const v of r.violationExamples) lines.push(`  violation: ${v}`);
  lines.push(`wall ${f.wallSeconds} s (the two runs in parallel), CPU ${f.cpuSeconds} s, peak RSS ${f.peakRssMiB} MiB, load ${f.loadAverage.join(' ')}`);
  return lines.join('\n');
}
