/**
 * The arrival stream of the tenancy benchmark: per tenant a non-homogeneous Poisson process whose rate follows
 * the tenant's offered load — a daily cosine around its mean level, peaking at its own UTC hour, times 3 during
 * random bursts of 30–120 minutes — divided by the mean GPU-equivalent-seconds one request asks for (Little's
 * law: load = rate × size × duration). Each arrival is a GpuPartition (`count` MIG slices of one profile) or a
 * TrainingJob (a gang of whole GPUs), with a priority, a service time (log-normal) and a patience after which
 * its owner gives up waiting. Seeded: one seed gives the same stream everywhere. Pure.
 */
import { COMPUTE_SLICES_PER_GPU, computeSlicesOf } from '../../src/tenancy/gpu-equivalents.js';
import { pick, rng } from '../seeded-random.js';
import type { BenchTenant, RequestMix } from './tenants.js';

/** One request of the stream. */
export interface Arrival {
  /** Unique, DNS-safe: the object's name. */
  id: string;
  tenant: string;
  namespace: string;
  /** Seconds since the start of the run. */
  at: number;
  kind: 'GpuPartition' | 'TrainingJob';
  /** Partition: profile and slice count. */
  profile?: string;
  count?: number;
  /** Job: workers and whole GPUs per worker. */
  replicas?: number;
  gpusPerWorker?: number;
  priority: number;
  /** Partition: higher priorities of its tenant may take it. */
  preemptible: boolean;
  /** Partition: may preempt lower-priority preemptible partitions (of its own tenant: the cycle keeps it there). */
  mayPreempt: boolean;
  /** Seconds it runs once all of it is Ready. */
  serviceSeconds: number;
  /** Seconds its owner waits for it before deleting it. */
  patienceSeconds: number;
  /** GPU-equivalents it asks for. */
  gpuEq: number;
}

/** A request's shape and lifetime, before it gets an arrival time. */
type Shape = Omit<Arrival, 'id' | 'tenant' | 'namespace' | 'at'>;

const HOUR = 3600;
/** Rate multiplier during a burst. */
export const BURST_FACTOR = 3;

const WHOLE_TRAINING: Array<[[number, number], number]> = [[[1, 1], 15], [[1, 2], 10], [[1, 4], 20], [[1, 8], 25], [[2, 8], 15], [[4, 8], 10], [[8, 8], 5]];
const WHOLE_MIXED: Array<[[number, number], number]> = [[[1, 1], 30], [[1, 2], 20], [[1, 4], 25], [[1, 8], 20], [[2, 8], 5]];
const PROFILES: Record<Exclude<RequestMix, 'training'>, Array<[string, number]>> = {
  mixed: [['2g.45gb', 20], ['3g.90gb', 30], ['4g.90gb', 15], ['7g.180gb', 35]],
  inference: [['2g.45gb', 15], ['3g.90gb', 30], ['4g.90gb', 20], ['7g.180gb', 35]],
  notebook: [['1g.23gb', 55], ['1g.45gb', 10], ['2g.45gb', 25], ['3g.90gb', 10]],
};
const COUNTS: Record<Exclude<RequestMix, 'training'>, Array<[number, number]>> = {
  mixed: [[1, 60], [2, 25], [3, 15]],
  inference: [[1, 40], [2, 30], [3, 15], [4, 15]],
  notebook: [[1, 85], [2, 15]],
};
/** Median service time (s) and log-normal sigma per mix. */
const SERVICE: Record<RequestMix, { median: number; sigma: number; patience: number }> = {
  training: { median: 90 * 60, sigma: 0.9, patience: 6 * HOUR },
  mixed: { median: 45 * 60, sigma: 0.9, patience: 2 * HOUR },
  inference: { median: 60 * 60, sigma: 0.7, patience: HOUR },
  notebook: { median: 30 * 60, sigma: 0.9, patience: 20 * 60 },
};

/** GPU-equivalents of `count` slices of `profile`. */
function sliceEq(profile: string, count: number): number {
  return (count * (computeSlicesOf(profile) ?? COMPUTE_SLICES_PER_GPU)) / COMPUTE_SLICES_PER_GPU;
}

/** A standard normal draw (Box–Muller). */
function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Log-normal service time, clamped to [1 min, 12 h]. */
function service(r: () => number, mix: RequestMix): number {
  const s = SERVICE[mix];
  return Math.min(12 * HOUR, Math.max(60, Math.round(s.median * Math.exp(s.sigma * normal(r)))));
}

function priorityOf(r: () => number, highShare: number): { priority: number; preemptible: boolean; mayPreempt: boolean } {
  const x = r();
  if (x < highShare) return { priority: 100, preemptible: false, mayPreempt: true };
  if (x < highShare + 0.3) return { priority: 0, preemptible: true, mayPreempt: false };
  return { priority: 50, preemptible: false, mayPreempt: false };
}

/** One request of `mix` for a tenant with `nominal` GPU-equivalents (gangs never ask for more than half of it). */
export function drawShape(r: () => number, mix: RequestMix, nominal: number): Shape {
  const lifetime = { serviceSeconds: service(r, mix), patienceSeconds: SERVICE[mix].patience };
  const gangs = mix === 'training' ? WHOLE_TRAINING : mix === 'mixed' ? WHOLE_MIXED : [];
  const gangShare = mix === 'training' ? 0.9 : mix === 'mixed' ? 0.35 : 0;
  if (gangs.length > 0 && r() < gangShare) {
    const limit = Math.max(1, Math.floor(nominal / 2));
    const fitting = gangs.filter(([[n, g]]) => n * g <= limit);
    const [replicas, gpusPerWorker] = pick(r, fitting.length > 0 ? fitting : [[[1, 1], 1]]);
    const p = priorityOf(r, 0.1);
    return { kind: 'TrainingJob', replicas, gpusPerWorker, priority: p.priority, preemptible: false, mayPreempt: false, gpuEq: replicas * gpusPerWorker, ...lifetime };
  }
  const m: Exclude<RequestMix, 'training'> = mix === 'training' ? 'mixed' : mix;
  const profile = mix === 'training' ? '7g.180gb' : pick(r, PROFILES[m]);
  const count = pick(r, COUNTS[m]);
  return { kind: 'GpuPartition', profile, count, ...priorityOf(r, mix === 'inference' ? 0.4 : 0.15), gpuEq: sliceEq(profile, count), ...lifetime };
}

/** Mean GPU-equivalent-seconds one request of `mix` asks for (sampled with a fixed seed). */
export function meanDemand(mix: RequestMix, nominal: number, samples = 4000): number {
  const r = rng(0x5eed + mix.length * 7919 + nominal);
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    const s = drawShape(r, mix, nominal);
    sum += s.gpuEq * s.serviceSeconds;
  }
  return sum / samples;
}

/** A burst window, seconds since the start. */
export interface Burst {
  from: number;
  to: number;
}

/** Offered load of a tenant at `t` seconds after `startMs`, in GPU-equivalents (before the `load` multiplier). */
export function offeredLoad(tenant: BenchTenant, startMs: number, t: number, bursts: Burst[]): number {
  const p = tenant.profile;
  const hour = (((startMs / 1000 + t) / HOUR) % 24 + 24) % 24;
  const daily = 1 + p.swing * Math.cos((2 * Math.PI * (hour - p.peakHour)) / 24);
  const burst = bursts.some((b) => t >= b.from && t < b.to) ? BURST_FACTOR : 1;
  return tenant.nominal * p.level * daily * burst;
}

/** The bursts of one tenant over `seconds`. */
export function drawBursts(r: () => number, perDay: number, seconds: number): Burst[] {
  const expected = (perDay * seconds) / (24 * HOUR);
  // Poisson count by inversion.
  let n = 0;
  for (let p = Math.exp(-expected), c = p, u = r(); u > c; n++) {
    p *= expected / (n + 1);
    c += p;
  }
  return Array.from({ length: n }, () => {
    const from = r() * seconds;
    return { from, to: from + (30 + r() * 90) * 60 };
  }).sort((a, b) => a.from - b.from);
}

/** The arrivals of every tenant over `hours`, in time order. */
export function makeArrivals(tenants: BenchTenant[], opts: { seed: number; hours: number; startMs: number; load: number }): Arrival[] {
  const seconds = opts.hours * HOUR;
  const out: Arrival[] = [];
  tenants.forEach((tenant, ti) => {
    const r = rng(opts.seed * 7_368_787 + ti * 104_729 + 1);
    const p = tenant.profile;
    const bursts = drawBursts(r, p.burstsPerDay, seconds);
    const perRequest = meanDemand(p.mix, tenant.nominal);
    const peak = (tenant.nominal * p.level * (1 + p.swing) * BURST_FACTOR * opts.load) / perRequest;
    if (!(peak > 0)) return;
    let t = 0;
    let n = 0;
    for (;;) {
      t += -Math.log(1 - r()) / peak;
      if (t >= seconds) break;
      // Thinning: keep the candidate with probability rate(t) / peak.
      const rate = (offeredLoad(tenant, opts.startMs, t, bursts) * opts.load) / perRequest;
      if (r() * peak >= rate) continue;
      const shape = drawShape(r, p.mix, tenant.nominal);
      const id = `${tenant.name}-${shape.kind === 'TrainingJob' ? 'j' : 'p'}${String(n++).padStart(5, '0')}`;
      out.push({ id, tenant: tenant.name, namespace: tenant.namespaces[r() < 0.7 ? 0 : 1] as string, at: Math.round(t * 1000) / 1000, ...shape });
    }
  });
  return out.sort((a, b) => a.at - b.at || a.id.localeCompare(b.id));
}
