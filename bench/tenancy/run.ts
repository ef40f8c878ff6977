/**
 * One replay of the benchmark from its options: the tenants (with or without their cohort), the seeded arrival
 * stream and the replay. Both runs build the same stream from the same seed, so they can run apart (in two
 * worker threads). Pure.
 */
import type { TenancyOptions } from './options.js';
import { replay, type ReplayResult } from './replay.js';
import { benchTenants, gpuTenants, type BenchTenant } from './tenants.js';
import { makeArrivals, type Arrival } from './workload.js';

/** The simulated day starts at 06:00 UTC, so it crosses midnight (metering closes a day's record there). */
export const START_MS = Date.parse('2026-03-02T06:00:00.000Z');

/** The tenants and arrival stream of a run. */
export function benchStream(opts: TenancyOptions): { tenants: BenchTenant[]; arrivals: Arrival[] } {
  const tenants = benchTenants(opts.tenants, opts.nodes * opts.gpusPerNode);
  return { tenants, arrivals: makeArrivals(tenants, { seed: opts.seed, hours: opts.hours, startMs: START_MS, load: opts.load }) };
}

/** Offered GPU-equivalent-seconds of a stream within the run / (GPUs × run seconds). */
export function offeredLoad(arrivals: Arrival[], gpus: number, hours: number): number {
  const seconds = hours * 3600;
  return arrivals.reduce((s, a) => s + a.gpuEq * Math.min(a.serviceSeconds, seconds - a.at), 0) / (gpus * seconds);
}

/** Replays the stream with the cohort lending and borrowing (`borrowing`) or with strict quotas. */
export function runReplay(opts: TenancyOptions, borrowing: boolean): ReplayResult {
  const { tenants, arrivals } = benchStream(opts);
  return replay({
    nodes: opts.nodes,
    gpusPerNode: opts.gpusPerNode,
    tenants: gpuTenants(tenants, borrowing),
    arrivals,
    startMs: START_MS,
    seconds: opts.hours * 3600,
    cycleSeconds: opts.cycleSeconds,
    settleSeconds: opts.settleSeconds,
    graceSeconds: opts.graceSeconds,
    readySeconds: opts.readySeconds,
    seed: opts.seed,
  });
}
