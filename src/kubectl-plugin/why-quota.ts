/**
 * The quota part of `kubectl haein why`: whether a waiting partition or job waits for its tenant's quota or for
 * capacity (its `QuotaReserved` condition), its tenant's figures as the operator reports them in the GpuTenant's
 * status, and those of the tenant's cohort peers (who may lend to it, or whose loans it may reclaim). Pure.
 */
import type { Condition, GpuTenant } from '../api/types.js';
import { formatGpuEq as eq } from '../slice-map/gpu-eq-text.js';
import { quotaReservedOf, tenantFigures } from '../slice-map/tenants.js';
import type { TenantFigures } from '../slice-map/types.js';
import { TenantDirectory, type NamespaceInfo } from '../tenancy/tenant-resolution.js';

/** What `why` says about quota. */
export interface QuotaExplanation {
  /** `quota`: its tenant's quota does not admit it (QuotaReserved=False); `capacity`: it does, or none applies. */
  waitsFor: 'quota' | 'capacity';
  /** The `QuotaReserved` condition, where the operator set one. */
  condition?: { reserved: boolean; reason: string; message: string };
  /** The namespace's tenant. */
  tenant?: TenantFigures;
  /** Why there is no tenant to show: the namespace is in none, or in several. */
  noTenant?: string;
  /** The other members of the tenant's cohort. */
  cohort?: TenantFigures[];
}

/**
 * The quota explanation of a request in `namespace` with `conditions`; undefined where tenancy plays no part
 * (no GpuTenant readable and no QuotaReserved condition).
 */
export function explainQuota(namespace: string, conditions: Condition[] | undefined, tenants: GpuTenant[], namespaces: NamespaceInfo[]): QuotaExplanation | undefined {
  const condition = quotaReservedOf(conditions);
  const live = tenants.filter((t) => !t.metadata.deletionTimestamp);
  if (!condition && live.length === 0) return undefined;
  const base: QuotaExplanation = { waitsFor: condition && !condition.reserved ? 'quota' : 'capacity', ...(condition ? { condition } : {}) };
  if (live.length === 0) return base;
  const of = new TenantDirectory(live, namespaces).tenantOf(namespace);
  if (of.kind === 'none') return { ...base, noTenant: `namespace ${namespace} belongs to no GpuTenant` };
  if (of.kind === 'conflict') return { ...base, noTenant: `namespace ${namespace} is claimed by tenants ${of.tenants.join(' and ')}` };
  const mine = live.find((t) => t.metadata.name === of.tenant) as GpuTenant;
  const cohort = mine.spec.cohort
    ? live
        .filter((t) => t !== mine && t.spec.cohort === mine.spec.cohort)
        .map(tenantFigures)
        .sort((a, b) => a.name.localeCompare(b.name))
    : undefined;
  return { ...base, tenant: tenantFigures(mine), ...(cohort ? { cohort } : {}) };
}

/** `nominal 16, used 17, borrowed 1, lent 0, waiting 2` (or that the operator has not reported yet). */
export function tenantNumbers(t: TenantFigures): string {
  if (!t.reported) return `nominal ${eq(t.nominal)} GPU-eq; not reported by the operator yet`;
  return `nominal ${eq(t.nominal)}, used ${eq(t.used)}, borrowed ${eq(t.borrowed)}, lent ${eq(t.lent)}, waiting ${t.waiting} (GPU-eq)`;
}

/** The lines `why` prints about quota, as label/value pairs. */
export function quotaLines(q: QuotaExplanation): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  if (q.noTenant) lines.push(['tenant', q.noTenant]);
  const t = q.tenant;
  if (t) {
    const limits = [
      t.cohort ? `cohort ${t.cohort}` : 'no cohort (borrows nothing)',
      ...(t.borrowingLimit !== undefined ? [`borrows at most ${eq(t.borrowingLimit)}`] : []),
      ...(t.lendingLimit !== undefined ? [`lends at most ${eq(t.lendingLimit)}`] : []),
      `weight ${t.weight}`,
    ];
    lines.push(['tenant', `${t.name}: ${tenantNumbers(t)}; ${limits.join(', ')}`]);
    const held = new Map(t.byProfile.map((p) => [p.profile, p.slices]));
    if (t.profileLimits.length) lines.push(['caps', t.profileLimits.map((l) => `${l.profile} ${held.get(l.profile) ?? 0} of at most ${l.max}`).join(', ')]);
    if (t.conflicts.length) lines.push(['conflict', `namespace(s) ${t.conflicts.join(', ')} also claimed by another tenant: their requests get no quota`]);
  }
  for (const peer of q.cohort ?? []) lines.push(['cohort', `${peer.name}: ${tenantNumbers(peer)}${peer.lendingLimit !== undefined ? `; lends at most ${eq(peer.lendingLimit)}` : ''}`]);
  return lines;
}
