/** A GpuTenant's status from the ledger's usage and the admission cycle's waiting requests. Pure. */
import { TENANT_CONDITIONS, TENANT_REASONS, setCondition } from '../../api/conditions.js';
import type { GpuTenant, GpuTenantStatus } from '../../api/types.js';
import { roundGpuEq } from '../../tenancy/gpu-equivalents.js';
import type { QuotaBook } from '../../tenancy/quota-book.js';
import type { TenantDirectory } from '../../tenancy/tenant-resolution.js';

/** The status of `tenant`, but for `metering` (the meter writes that). */
export function tenantStatus(tenant: GpuTenant, dir: TenantDirectory, book: QuotaBook, waiting: number, now: Date): GpuTenantStatus {
  const name = tenant.metadata.name as string;
  const usage = book.usage(name);
  const { borrowed, lent } = book.borrowedAndLent(name);
  const conflicts = dir.conflicts().filter((c) => c.tenants.includes(name));
  const conditions = setCondition(
    tenant.status?.conditions,
    conflicts.length === 0
      ? { type: TENANT_CONDITIONS.ready, status: 'True', reason: TENANT_REASONS.resolved, message: `owns ${dir.namespacesOf(name).length} namespace(s)` }
      : {
          type: TENANT_CONDITIONS.ready,
          status: 'False',
          reason: TENANT_REASONS.namespaceConflict,
          message: conflicts.map((c) => `namespace ${c.namespace} is also claimed by ${c.tenants.filter((t) => t !== name).join(', ')}`).join('; ') + '; its requests get no quota until one tenant lets go',
        },
    tenant.metadata.generation,
    now,
  );
  return {
    ...(tenant.metadata.generation !== undefined ? { observedGeneration: tenant.metadata.generation } : {}),
    namespaces: dir.namespacesOf(name),
    ...(conflicts.length ? { conflicts } : {}),
    used: roundGpuEq(usage.used),
    borrowed: roundGpuEq(borrowed),
    lent: roundGpuEq(lent),
    waiting,
    usageByProfile: [...usage.byProfile]
      .filter(([, n]) => n > 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([profile, slices]) => ({ profile, slices, gpuEquivalents: roundGpuEq(usage.eqByProfile.get(profile) ?? 0) })),
    conditions,
  };
}
