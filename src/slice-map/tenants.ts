/**
 * Tenants on the slice map: the GpuTenant a claim is charged to (the one the claim names, or for a claim written
 * before tenancy its namespace's tenant now), each tenant's quota and use from its spec and the operator's
 * status, and the `QuotaReserved` condition of a waiting request. Pure.
 */
import { PARTITION_CONDITIONS } from '../api/conditions.js';
import type { ClaimRef, Condition, GpuTenant } from '../api/types.js';
import { TenantDirectory, type NamespaceInfo } from '../tenancy/tenant-resolution.js';
import type { HolderView, NodeView, PendingView, TenantFigures, TenantView } from './types.js';

/** Resolves the tenant of claims and namespaces over one set of GpuTenants and namespaces. */
export class ClaimTenants {
  readonly #dir: TenantDirectory | undefined;

  /** `namespaces` supply the labels tenants' selectors match; a tenant's listed namespaces need not be among them. */
  constructor(tenants: GpuTenant[], namespaces: NamespaceInfo[]) {
    this.#dir = tenants.length > 0 ? new TenantDirectory(tenants, namespaces) : undefined;
  }

  /** The tenant fields of a claim's holder. */
  of(claim: ClaimRef): Pick<HolderView, 'tenant' | 'tenantByNamespace' | 'borrowed'> {
    if (claim.tenant) return { tenant: claim.tenant, ...(claim.borrowed ? { borrowed: true as const } : {}) };
    // Admitted by the cycle with no tenant (its namespace had none): that is what it is charged to, until released.
    if (claim.allocatedAt !== undefined) return {};
    const tenant = this.namespaceTenant(claim.namespace);
    return tenant ? { tenant, tenantByNamespace: true } : {};
  }

  /** The one tenant owning `namespace` now; undefined for none or for a namespace two tenants claim. */
  namespaceTenant(namespace: string): string | undefined {
    const of = this.#dir?.tenantOf(namespace);
    return of?.kind === 'tenant' ? of.tenant : undefined;
  }
}

/** A tenant's spec and status as figures (status figures 0 until the operator reports). */
export function tenantFigures(t: GpuTenant): TenantFigures {
  const s = t.status;
  const conflicts = (s?.conflicts ?? []).map((c) => c.namespace).sort();
  return {
    name: t.metadata.name ?? '',
    ...(t.spec.cohort ? { cohort: t.spec.cohort } : {}),
    nominal: t.spec.nominal,
    ...(t.spec.borrowingLimit !== undefined ? { borrowingLimit: t.spec.borrowingLimit } : {}),
    ...(t.spec.lendingLimit !== undefined ? { lendingLimit: t.spec.lendingLimit } : {}),
    weight: t.spec.weight ?? 1,
    reported: s?.used !== undefined,
    used: s?.used ?? 0,
    borrowed: s?.borrowed ?? 0,
    lent: s?.lent ?? 0,
    waiting: s?.waiting ?? 0,
    byProfile: (s?.usageByProfile ?? []).map((u) => ({ profile: u.profile, slices: u.slices, gpuEq: u.gpuEquivalents })),
    profileLimits: (t.spec.profileLimits ?? []).map((l) => ({ profile: l.profile, max: l.max })),
    namespaces: [...(s?.namespaces ?? t.spec.namespaces ?? [])].sort(),
    conflicts,
  };
}

/** Every tenant (being deleted ones left out) by name, with the slices the map draws for it. */
export function tenantViews(tenants: GpuTenant[], nodes: NodeView[]): TenantView[] {
  const held = new Map<string, { held: number; heldBorrowed: number }>();
  for (const n of nodes) {
    for (const g of n.gpus) {
      for (const s of g.slices) {
        const h = s.holder;
        if (!h?.tenant || h.tenantByNamespace) continue;
        const c = held.get(h.tenant) ?? { held: 0, heldBorrowed: 0 };
        c.held++;
        if (h.borrowed) c.heldBorrowed++;
        held.set(h.tenant, c);
      }
    }
  }
  return tenants
    .filter((t) => t.metadata.name && !t.metadata.deletionTimestamp)
    .map((t) => ({ ...tenantFigures(t), ...(held.get(t.metadata.name as string) ?? { held: 0, heldBorrowed: 0 }) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The `QuotaReserved` condition of a partition or job, where one is set. */
export function quotaReservedOf(conditions: Condition[] | undefined): PendingView['quota'] {
  const c = conditions?.find((x) => x.type === PARTITION_CONDITIONS.quotaReserved);
  return c ? { reserved: c.status === 'True', reason: c.reason, message: c.message } : undefined;
}
