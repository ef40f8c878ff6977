/**
 * Tenant quota accounting for one admission cycle, in GPU-equivalents (see `gpu-equivalents.ts`). Pure.
 *
 * Each tenant T has a nominal quota N (guaranteed), lends at most L = lendingLimit (default N) of it to its
 * cohort, and may borrow at most B = borrowingLimit (default: no cap) above N. The part never lent is
 * G = N − L. A cohort's shared pool is the sum of its members' L; a member uses the pool for whatever it holds
 * beyond its own G. A request of q GPU-equivalents is admitted when
 * - used + q ≤ N (within nominal: always, reclaiming borrowed capacity if the cluster is short), or
 * - the tenant has a cohort, used + q − N ≤ B, and the pool still has room for the increase;
 * and the tenant's per-profile caps hold. An allocation beyond N is borrowed. Usage is charged to the tenant a
 * claim names (its tenant at admission), so a namespace that moves between tenants does not move old usage.
 */
import { QUOTA_REASONS } from '../api/conditions.js';
import type { GpuTenant } from '../api/types.js';
import type { LedgerEntry } from '../ledger/claims.js';
import { accountingProfile, gpuEquivalentsOf, roundGpuEq } from './gpu-equivalents.js';
import type { TenantDirectory, TenantOf } from './tenant-resolution.js';

/** What a namespace in no tenant gets: the cluster is open to it, or its requests wait with reason NoTenant. */
export type UnassignedPolicy = 'allow' | 'refuse';

/** GPU-equivalents and slices per accounting profile (`whole` for whole GPUs) of a request or a holding. */
export interface QuotaCost {
  gpuEq: number;
  byProfile: Map<string, number>;
}

/** The quota decision on a request. */
export type QuotaVerdict =
  | { ok: true; tenant: string | undefined; borrowed: boolean }
  | { ok: false; tenant: string | undefined; reason: string; message: string };

/** One tenant's holding. */
export interface TenantUsage {
  used: number;
  byProfile: Map<string, number>;
  /** GPU-equivalents by accounting profile. */
  eqByProfile: Map<string, number>;
}

const EPS = 1e-9;

/** The cost of one ledger entry. */
export function entryCost(e: LedgerEntry): QuotaCost {
  return { gpuEq: gpuEquivalentsOf(e.profile), byProfile: new Map([[accountingProfile(e.profile), 1]]) };
}

/** The sum of costs. */
export function addCosts(...costs: QuotaCost[]): QuotaCost {
  const byProfile = new Map<string, number>();
  let gpuEq = 0;
  for (const c of costs) {
    gpuEq += c.gpuEq;
    for (const [p, n] of c.byProfile) byProfile.set(p, (byProfile.get(p) ?? 0) + n);
  }
  return { gpuEq, byProfile };
}

const fmt = (x: number) => roundGpuEq(x).toFixed(1);

/** Quota state of every tenant for one cycle; charge and refund keep it current as the cycle decides. */
export class QuotaBook {
  readonly #dir: TenantDirectory;
  readonly #policy: UnassignedPolicy;
  readonly #usage = new Map<string, TenantUsage>();

  /** Accounts every claim of `entries` to the tenant it names. */
  constructor(dir: TenantDirectory, entries: LedgerEntry[], policy: UnassignedPolicy) {
    this.#dir = dir;
    this.#policy = policy;
    // Entry by entry, without a cost object each: a ledger holds thousands of entries and a book is built per cycle.
    for (const e of entries) {
      if (!e.claim.tenant) continue;
      const u = this.#usageOf(e.claim.tenant);
      const eq = gpuEquivalentsOf(e.profile);
      u.used += eq;
      this.#addSlices(u, accountingProfile(e.profile), 1, eq, 1);
    }
  }

  /** Whether tenancy applies at all (some GpuTenant exists, or unassigned namespaces are refused). */
  active(): boolean {
    return this.#dir.tenants().length > 0 || this.#policy === 'refuse';
  }

  /** The tenant of a namespace. */
  tenantOf(namespace: string): TenantOf {
    return this.#dir.tenantOf(namespace);
  }

  /** Current usage of a tenant. */
  usage(tenant: string): TenantUsage {
    return this.#usage.get(tenant) ?? { used: 0, byProfile: new Map(), eqByProfile: new Map() };
  }

  /** Whether a request of `cost` in `namespace` may be admitted, and whether it would borrow. */
  admit(namespace: string, cost: QuotaCost): QuotaVerdict {
    const of = this.#dir.tenantOf(namespace);
    if (of.kind === 'conflict') {
      return { ok: false, tenant: undefined, reason: QUOTA_REASONS.conflict, message: `namespace ${namespace} is claimed by tenants ${of.tenants.join(' and ')}; it gets no quota until only one claims it` };
    }
    if (of.kind === 'none') {
      if (this.#policy === 'allow') return { ok: true, tenant: undefined, borrowed: false };
      return { ok: false, tenant: undefined, reason: QUOTA_REASONS.noTenant, message: `namespace ${namespace} belongs to no GpuTenant, and namespaces without a tenant get no GPUs on this cluster` };
    }
    const name = of.tenant;
    const t = this.#dir.tenant(name) as GpuTenant;
    const u = this.usage(name);
    for (const [profile, n] of cost.byProfile) {
      const cap = t.spec.profileLimits?.find((l) => l.profile.replace(/\+me$/, '') === profile)?.max;
      const have = u.byProfile.get(profile) ?? 0;
      if (cap !== undefined && have + n > cap) {
        return { ok: false, tenant: name, reason: QUOTA_REASONS.profileLimit, message: `tenant ${name} holds ${have} of at most ${cap} × ${profile}; this request needs ${n} more` };
      }
    }
    const nominal = t.spec.nominal;
    const after = u.used + cost.gpuEq;
    if (after <= nominal + EPS) return { ok: true, tenant: name, borrowed: false };
    if (t.spec.cohort && after - nominal <= (t.spec.borrowingLimit ?? Infinity) + EPS) {
      // The cohort's pool must hold what the tenant then uses beyond the part of its quota it never lends.
      const g = this.#guaranteed(t);
      const increase = Math.max(0, after - g) - Math.max(0, u.used - g);
      if (increase <= this.#poolIdle(t.spec.cohort) + EPS) return { ok: true, tenant: name, borrowed: true };
    }
    return { ok: false, tenant: name, reason: QUOTA_REASONS.exceeded, message: this.describe(name, cost) };
  }

  /** GPU-equivalents the rest of the tenant's cohort has idle to lend it (0 without a cohort). */
  lendableToTenant(name: string): number {
    const t = this.#dir.tenant(name);
    if (!t?.spec.cohort) return 0;
    const u = this.usage(name);
    const ownIdle = Math.max(0, this.#lendable(t) - Math.max(0, u.used - this.#guaranteed(t)));
    return Math.max(0, this.#poolIdle(t.spec.cohort) - ownIdle);
  }

  /** The message of a request over quota: the tenant's numbers and what its cohort has idle. */
  describe(name: string, cost: QuotaCost): string {
    const t = this.#dir.tenant(name);
    if (!t) return `tenant ${name} is unknown`;
    const u = this.usage(name);
    const cohort = t.spec.cohort ? `cohort ${t.spec.cohort} has ${fmt(this.lendableToTenant(name))} idle to lend` : 'it has no cohort to borrow from';
    const limit = t.spec.cohort && t.spec.borrowingLimit !== undefined ? ` (borrowing limit ${fmt(t.spec.borrowingLimit)})` : '';
    return `tenant ${name} uses ${fmt(u.used)} of nominal ${fmt(t.spec.nominal)} GPU-eq; this request needs ${fmt(cost.gpuEq)} more; ${cohort}${limit}`;
  }

  /** Charges a new holding to a tenant. */
  charge(tenant: string | undefined, cost: QuotaCost): void {
    if (tenant) this.#add(tenant, cost, 1);
  }

  /** Refunds released claims to the tenants they name. */
  refund(entries: LedgerEntry[]): void {
    for (const e of entries) if (e.claim.tenant) this.#add(e.claim.tenant, entryCost(e), -1);
  }

  /** Whether `tenant` would stay within its nominal quota holding `cost` more. */
  withinNominal(tenant: string, cost: QuotaCost): boolean {
    const t = this.#dir.tenant(tenant);
    return t !== undefined && this.usage(tenant).used + cost.gpuEq <= t.spec.nominal + EPS;
  }

  /** Tenants of `tenant`'s cohort (itself excluded) that hold more than their nominal quota now. */
  overNominalPeers(tenant: string): string[] {
    const cohort = this.#dir.tenant(tenant)?.spec.cohort;
    if (!cohort) return [];
    return this.#members(cohort).filter((m) => m.metadata.name !== tenant && this.usage(m.metadata.name as string).used > m.spec.nominal + EPS).map((m) => m.metadata.name as string);
  }

  /** The weighted share a tenant holds (GPU-equivalents used / weight): lower is served first. */
  share(tenant: string | undefined): number {
    if (!tenant) return 0;
    const weight = this.#dir.tenant(tenant)?.spec.weight ?? 1;
    return this.usage(tenant).used / Math.max(weight, 1e-6);
  }

  /**
   * Borrowed GPU-equivalents (above nominal) and lent ones (of the tenant's unused lendable quota, what the
   * cohort's borrowers use, shared among lenders in proportion to what each has idle).
   */
  borrowedAndLent(name: string): { borrowed: number; lent: number } {
    const t = this.#dir.tenant(name);
    if (!t) return { borrowed: 0, lent: 0 };
    const borrowed = Math.max(0, this.usage(name).used - t.spec.nominal);
    if (!t.spec.cohort) return { borrowed, lent: 0 };
    // What a member does not use of its own lendable quota is lent when somebody borrows: borrowers draw on the
    // members with unused quota in proportion to how much each has unused.
    const unusedLendable = (m: GpuTenant) => Math.max(0, this.#lendable(m) - Math.max(0, Math.min(this.usage(m.metadata.name as string).used, m.spec.nominal) - this.#guaranteed(m)));
    const members = this.#members(t.spec.cohort);
    const totalBorrowed = members.reduce((sum, m) => sum + Math.max(0, this.usage(m.metadata.name as string).used - m.spec.nominal), 0);
    const totalUnused = members.reduce((sum, m) => sum + unusedLendable(m), 0);
    const mine = unusedLendable(t);
    return { borrowed, lent: totalUnused > 0 ? Math.min(mine, (totalBorrowed * mine) / totalUnused) : 0 };
  }

  #members(cohort: string): GpuTenant[] {
    return this.#dir.tenants().filter((t) => t.spec.cohort === cohort);
  }

  #lendable(t: GpuTenant): number {
    return Math.min(t.spec.lendingLimit ?? t.spec.nominal, t.spec.nominal);
  }

  #guaranteed(t: GpuTenant): number {
    return t.spec.nominal - this.#lendable(t);
  }

  /** The cohort pool's idle part: the members' lendable quota minus what members use beyond their unlent part. */
  #poolIdle(cohort: string): number {
    let capacity = 0;
    let inUse = 0;
    for (const m of this.#members(cohort)) {
      capacity += this.#lendable(m);
      inUse += Math.max(0, this.usage(m.metadata.name as string).used - this.#guaranteed(m));
    }
    return Math.max(0, capacity - inUse);
  }

  #add(tenant: string, cost: QuotaCost, sign: 1 | -1): void {
    const u = this.#usageOf(tenant);
    u.used = Math.max(0, u.used + sign * cost.gpuEq);
    for (const [p, n] of cost.byProfile) this.#addSlices(u, p, n, gpuEquivalentsOf(p === 'whole' ? undefined : p), sign);
  }

  #usageOf(tenant: string): TenantUsage {
    let u = this.#usage.get(tenant);
    if (!u) this.#usage.set(tenant, (u = { used: 0, byProfile: new Map<string, number>(), eqByProfile: new Map<string, number>() }));
    return u;
  }

  /** Adds (or takes away) `n` slices of accounting profile `p`, each worth `eqEach`, to the per-profile figures. */
  #addSlices(u: TenantUsage, p: string, n: number, eqEach: number, sign: 1 | -1): void {
    u.byProfile.set(p, Math.max(0, (u.byProfile.get(p) ?? 0) + sign * n));
    u.eqByProfile.set(p, Math.max(0, (u.eqByProfile.get(p) ?? 0) + sign * eqEach * n));
  }
}
