/**
 * The weighted fair share the quota rules promise, and how far the served shares stayed from it. Pure.
 *
 * Fair share at one instant, in GPU-equivalents, from each tenant's demand D (what it holds plus what it waits
 * for): a tenant outside a cohort gets min(D, nominal). In a cohort every member first gets min(D, nominal) (its
 * guarantee); what the cohort's pool still has is then water-filled by weight: member T gets
 * x_T = min(D_T, nominal_T + borrowingLimit_T, max(min(D_T, nominal_T), λ·weight_T)) with the largest λ for which
 * the pool holds what members use beyond their unlent quota (Σ max(0, x − (nominal − lendingLimit)) ≤ Σ
 * lendingLimit) — the same pool the quota book admits against. It is the weighted max-min fair division of the
 * cohort's quota, ignoring the shapes of requests.
 *
 * Deviation: sampled after every admission cycle, for each tenant that is backlogged then (it waits for more than
 * it holds), |held − fair share|; a tenant's figure is the mean over its backlogged samples as a share of the
 * cluster, and `maxShareDeviation` is the largest over tenants.
 */

/** One tenant's quota and demand at an instant. */
export interface ShareInput {
  name: string;
  /** GPU-equivalents held plus waited for. */
  demand: number;
  nominal: number;
  weight: number;
  cohort?: string;
  borrowingLimit?: number;
  lendingLimit?: number;
}

const EPS = 1e-9;

/** Each tenant's fair share (GPU-equivalents) at the instant `inputs` describe. */
export function fairShares(inputs: ShareInput[]): Map<string, number> {
  const out = new Map<string, number>();
  const cohorts = new Map<string, ShareInput[]>();
  for (const t of inputs) {
    if (!t.cohort) out.set(t.name, Math.min(t.demand, t.nominal));
    else cohorts.set(t.cohort, [...(cohorts.get(t.cohort) ?? []), t]);
  }
  for (const members of cohorts.values()) for (const [name, x] of cohortShares(members)) out.set(name, x);
  return out;
}

function cohortShares(members: ShareInput[]): Map<string, number> {
  const lendable = (m: ShareInput) => Math.min(m.lendingLimit ?? m.nominal, m.nominal);
  const pool = members.reduce((s, m) => s + lendable(m), 0);
  const at = (m: ShareInput, lambda: number) => {
    const cap = Math.min(m.demand, m.nominal + (m.borrowingLimit ?? Infinity));
    return Math.min(cap, Math.max(Math.min(m.demand, m.nominal), lambda * Math.max(m.weight, 1e-6)));
  };
  const fits = (lambda: number) => members.reduce((s, m) => s + Math.max(0, at(m, lambda) - (m.nominal - lendable(m))), 0) <= pool + EPS;
  let hi = Math.max(0, ...members.map((m) => m.demand / Math.max(m.weight, 1e-6)));
  let lo = 0;
  if (fits(hi)) lo = hi;
  else {
    for (let i = 0; i < 60 && hi - lo > 1e-9 * Math.max(1, hi); i++) {
      const mid = (lo + hi) / 2;
      if (fits(mid)) lo = mid;
      else hi = mid;
    }
  }
  return new Map(members.map((m) => [m.name, at(m, lo)]));
}

/** Per-tenant accumulation of served and fair shares over the backlogged samples. */
export interface ShareFigures {
  tenant: string;
  /** Simulated hours the tenant was backlogged. */
  backloggedHours: number;
  /** Mean GPU-equivalents held / cluster GPUs, over the backlogged samples. */
  servedShare: number;
  /** Mean fair share / cluster GPUs, over the same samples. */
  fairShare: number;
  /** Mean |held − fair share| / cluster GPUs, over the same samples. */
  deviation: number;
}

/** Accumulates samples; `figures()` gives the per-tenant means. */
export class ShareTracker {
  readonly #capacity: number;
  readonly #acc = new Map<string, { seconds: number; held: number; fair: number; dev: number }>();

  /** A tracker for a cluster of `capacity` GPU-equivalents. */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** One sample lasting `seconds`: every tenant's demand and holding. */
  sample(seconds: number, inputs: ShareInput[], held: Map<string, number>): void {
    const fair = fairShares(inputs);
    for (const t of inputs) {
      const h = held.get(t.name) ?? 0;
      if (t.demand <= h + EPS) continue;
      const x = fair.get(t.name) ?? 0;
      const a = this.#acc.get(t.name) ?? { seconds: 0, held: 0, fair: 0, dev: 0 };
      a.seconds += seconds;
      a.held += h * seconds;
      a.fair += x * seconds;
      a.dev += Math.abs(h - x) * seconds;
      this.#acc.set(t.name, a);
    }
  }

  /** Per-tenant figures, in name order (tenants never backlogged are left out). */
  figures(): ShareFigures[] {
    return [...this.#acc]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([tenant, a]) => ({
        tenant,
        backloggedHours: a.seconds / 3600,
        servedShare: a.held / a.seconds / this.#capacity,
        fairShare: a.fair / a.seconds / this.#capacity,
        deviation: a.dev / a.seconds / this.#capacity,
      }));
  }

  /** The largest per-tenant deviation (0 when no tenant was ever backlogged). */
  maxDeviation(): number {
    return Math.max(0, ...this.figures().map((f) => f.deviation));
  }
}
