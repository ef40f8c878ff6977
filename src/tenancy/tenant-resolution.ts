/**
 * Which GpuTenant owns each namespace: by the tenant's namespace list and its label selector. A namespace two
 * tenants claim is a conflict, reported on both tenants and on the namespace's requests, never resolved silently.
 * Pure.
 */
import type { GpuTenant, LabelSelector } from '../api/types.js';

/** The tenant of a namespace: one, none, or a conflict between several. */
export type TenantOf = { kind: 'tenant'; tenant: string } | { kind: 'none' } | { kind: 'conflict'; tenants: string[] };

/** A namespace as tenancy needs it. */
export interface NamespaceInfo {
  name: string;
  labels?: Record<string, string>;
}

/** The name and labels of a Namespace object. */
export function namespaceInfo(ns: { metadata: { name?: string; labels?: Record<string, string> } }): NamespaceInfo {
  return { name: ns.metadata.name ?? '', ...(ns.metadata.labels ? { labels: ns.metadata.labels } : {}) };
}

/** True when `labels` satisfy the selector (an empty selector matches everything, as in Kubernetes). */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    const values = r.values ?? [];
    if (r.operator === 'Exists' && !has) return false;
    if (r.operator === 'DoesNotExist' && has) return false;
    if (r.operator === 'In' && (!has || !values.includes(value as string))) return false;
    if (r.operator === 'NotIn' && has && values.includes(value as string)) return false;
  }
  return true;
}

/** Whether `tenant` claims namespace `ns` (by its list or its selector). */
export function tenantClaims(tenant: GpuTenant, ns: NamespaceInfo): boolean {
  if ((tenant.spec.namespaces ?? []).includes(ns.name)) return true;
  return tenant.spec.namespaceSelector !== undefined && selectorMatches(tenant.spec.namespaceSelector, ns.labels);
}

/** The ownership map of a cluster: each namespace's tenant (listed namespaces need not exist yet). */
export class TenantDirectory {
  readonly #owners = new Map<string, string[]>();
  readonly #tenants: Map<string, GpuTenant>;

  /** Resolves `tenants` (deleting ones ignored) over `namespaces`. */
  constructor(tenants: GpuTenant[], namespaces: NamespaceInfo[]) {
    this.#tenants = new Map(tenants.filter((t) => !t.metadata.deletionTimestamp).map((t) => [t.metadata.name as string, t]));
    const known = new Map(namespaces.map((n) => [n.name, n]));
    for (const t of this.#tenants.values()) for (const n of t.spec.namespaces ?? []) if (!known.has(n)) known.set(n, { name: n });
    for (const ns of known.values()) {
      const owners = [...this.#tenants.values()].filter((t) => tenantClaims(t, ns)).map((t) => t.metadata.name as string).sort();
      if (owners.length > 0) this.#owners.set(ns.name, owners);
    }
  }

  /** The tenant of namespace `ns`. */
  tenantOf(ns: string): TenantOf {
    const owners = this.#owners.get(ns) ?? [];
    if (owners.length === 0) return { kind: 'none' };
    if (owners.length > 1) return { kind: 'conflict', tenants: owners };
    return { kind: 'tenant', tenant: owners[0] as string };
  }

  /** A tenant by name. */
  tenant(name: string): GpuTenant | undefined {
    return this.#tenants.get(name);
  }

  /** Every tenant. */
  tenants(): GpuTenant[] {
    return [...this.#tenants.values()];
  }

  /** The namespaces a tenant claims (conflicting ones included), sorted. */
  namespacesOf(tenant: string): string[] {
    return [...this.#owners].filter(([, owners]) => owners.includes(tenant)).map(([ns]) => ns).sort();
  }

  /** Namespaces claimed by more than one tenant, with their claimants. */
  conflicts(): Array<{ namespace: string; tenants: string[] }> {
    return [...this.#owners].filter(([, owners]) => owners.length > 1).map(([namespace, tenants]) => ({ namespace, tenants })).sort((a, b) => a.namespace.localeCompare(b.namespace));
  }
}
