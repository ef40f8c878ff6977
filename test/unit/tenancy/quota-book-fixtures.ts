/** Builders shared by the quota book's unit tests: tenants, ledger entries, costs and a book over them. */
import type { GpuTenant } from '../../../src/api/types.js';
import type { LedgerEntry } from '../../../src/ledger/claims.js';
import { QuotaBook, type QuotaCost } from '../../../src/tenancy/quota-book.js';
import { TenantDirectory } from '../../../src/tenancy/tenant-resolution.js';

/** A GpuTenant owning the namespace of its own name, nominal 0 unless `spec` says otherwise. */
export const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuTenant',
  metadata: { name },
  spec: { nominal: 0, namespaces: [name], ...spec },
});

/** `n` whole GPUs held by tenant `t` (namespace = tenant name). */
export const whole = (t: string, n: number): LedgerEntry[] =>
  [...Array(n).keys()].map((i) => ({ node: 'n', gpuIndex: i, claim: { kind: 'TrainingJob', namespace: t, name: `${t}-${i}`, uid: 'u', slot: 0, priority: 0, preemptible: false, tenant: t } }));

/** The cost of `n` whole GPUs. */
export const gpus = (n: number): QuotaCost => ({ gpuEq: n, byProfile: new Map([['whole', n]]) });

/** A quota book over `tenants` (every tenant present in the directory) and the ledger `entries`. */
export const book = (tenants: GpuTenant[], entries: LedgerEntry[] = [], policy: 'allow' | 'refuse' = 'allow') =>
  new QuotaBook(new TenantDirectory(tenants, tenants.map((t) => ({ name: t.metadata.name as string }))), entries, policy);
