/**
 * GpuTenant reconciler: reports what each tenant owns and uses — resolved namespaces, conflicts, GPU-equivalents
 * used, borrowed and lent, per-profile use, requests waiting — from the assumed ledger and the admission cycle,
 * with a Warning Event when a namespace is claimed by another tenant too. Quota decisions are the cycle's.
 */
import { EVENT_REASONS, TENANT_CONDITIONS } from '../../api/conditions.js';
import type { GpuTenant } from '../../api/types.js';
import { RESOURCES } from '../../k8s/resources.js';
import { QuotaBook, type UnassignedPolicy } from '../../tenancy/quota-book.js';
import { TenantDirectory, type NamespaceInfo } from '../../tenancy/tenant-resolution.js';
import type { CachePort, ClientPort, Clock, LogPort, ReconcileRequest, RecorderPort } from '../../runtime/ports.js';
import type { LedgerEntry } from '../../ledger/claims.js';
import { ObjectWrites } from '../common/object-writes.js';
import type { TenantFigures } from '../../runtime/metrics.js';
import { tenantStatus } from './tenant-status.js';

/** What the GpuTenant reconciler reads and writes. */
export interface TenantReconcilerDeps {
  client: ClientPort;
  tenants: CachePort<GpuTenant>;
  namespaces(): NamespaceInfo[];
  ledger: { entries(): LedgerEntry[] };
  /** Waiting requests per tenant, from the admission cycle. */
  waiting(): Map<string, number>;
  unassigned: UnassignedPolicy;
  recorder: RecorderPort;
  /** The tenant gauges (`haein_tenant_*`), when metrics are on. */
  metrics?: { setTenant(tenant: string, figures: TenantFigures): void; forgetTenant(tenant: string): void };
  clock?: Clock;
}

/** Reconciles GpuTenant objects. */
export class GpuTenantReconciler {
  /** Controller name used in metrics and logs. */
  readonly name = 'gputenant';
  readonly #d: TenantReconcilerDeps;
  readonly #writes: ObjectWrites<GpuTenant>;
  readonly #now: Clock;

  /** Creates the reconciler. */
  constructor(deps: TenantReconcilerDeps) {
    this.#d = deps;
    this.#writes = new ObjectWrites(deps.client, RESOURCES.gpuTenant, '');
    this.#now = deps.clock ?? (() => new Date());
  }

  /** One pass for the tenant `req.name`. */
  async reconcile(req: ReconcileRequest, log: LogPort): Promise<void> {
    const tenant = this.#d.tenants.get(req.name);
    if (!tenant || tenant.metadata.deletionTimestamp) {
      this.#d.metrics?.forgetTenant(req.name);
      return;
    }
    const dir = new TenantDirectory(this.#d.tenants.list(), this.#d.namespaces());
    const book = new QuotaBook(dir, this.#d.ledger.entries(), this.#d.unassigned);
    const status = tenantStatus(tenant, dir, book, this.#d.waiting().get(req.name) ?? 0, this.#now());
    const before = tenant.status?.conditions?.find((c) => c.type === TENANT_CONDITIONS.ready);
    const after = status.conditions?.find((c) => c.type === TENANT_CONDITIONS.ready);
    this.#d.metrics?.setTenant(req.name, {
      nominal: tenant.spec.nominal,
      used: status.used ?? 0,
      borrowed: status.borrowed ?? 0,
      lent: status.lent ?? 0,
      waiting: status.waiting ?? 0,
    });
    // `status.metering` is the meter's.
    if ((await this.#writes.writeStatus(tenant, status, ['metering'])) === 'gone') return;
    if (after?.status === 'False' && (before?.status !== 'False' || before.message !== after.message)) {
      void this.#d.recorder.event(tenant, 'Warning', EVENT_REASONS.namespaceConflict, after.message);
      log.info('GpuTenant namespace conflict', { message: after.message });
    }
  }
}
