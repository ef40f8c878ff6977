/**
 * `kubectl haein top --by tenant`: per GpuTenant, its quota (nominal, limits, weight), what it uses, borrows,
 * lends and has waiting — as the operator reports in the tenant's status — and its GPU-equivalents by profile.
 * Pure.
 */
import { formatGpuEq as eq } from '../slice-map/gpu-eq-text.js';
import type { TenantView } from '../slice-map/types.js';
import { formatTable } from './table.js';

/** Which tenants `top --by tenant` shows: one by name, those owning a namespace, or all. */
export function tenantRows(tenants: TenantView[], scope: { namespace?: string; tenant?: string }): TenantView[] {
  return tenants.filter((t) => (scope.tenant === undefined || t.name === scope.tenant) && (scope.namespace === undefined || t.namespaces.includes(scope.namespace)));
}

/** `16×whole=16, 2×3g.90gb=0.857`: slices held and their GPU-equivalents, by profile. */
export function byProfileText(t: TenantView): string {
  return t.byProfile.map((p) => `${p.slices}×${p.profile}=${eq(p.gpuEq)}`).join(', ') || '-';
}

/** The table; figures the operator has not reported yet print as `<unknown>`. */
export function renderTenantTop(rows: TenantView[], wide: boolean): string {
  if (rows.length === 0) return 'No GpuTenants found.';
  const header = ['TENANT', 'COHORT', 'NOMINAL', 'USED', 'BORROWED', 'LENT', 'WAITING', 'GPU-EQ BY PROFILE', ...(wide ? ['WEIGHT', 'BORROWING-LIMIT', 'LENDING-LIMIT', 'PROFILE-CAPS', 'NAMESPACES'] : [])];
  const body = rows.map((t) => {
    const reported = (x: string) => (t.reported ? x : '<unknown>');
    const namespaces = t.namespaces.map((n) => (t.conflicts.includes(n) ? `${n}(conflict)` : n)).join(',') || '<none>';
    return [
      t.name,
      t.cohort ?? '<none>',
      eq(t.nominal),
      reported(eq(t.used)),
      reported(eq(t.borrowed)),
      reported(eq(t.lent)),
      reported(String(t.waiting)),
      reported(byProfileText(t)),
      ...(wide
        ? [
            String(t.weight),
            t.borrowingLimit === undefined ? (t.cohort ? 'cohort' : '0') : eq(t.borrowingLimit),
            t.lendingLimit === undefined ? (t.cohort ? 'all' : '0') : eq(t.lendingLimit),
            t.profileLimits.map((l) => `${l.max}×${l.profile}`).join(',') || '<none>',
            namespaces,
          ]
        : []),
    ];
  });
  return formatTable(header, body);
}
