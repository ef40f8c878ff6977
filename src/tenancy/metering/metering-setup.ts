/**
 * Wires metering into an operator `Manager`: the GpuUsage and GpuTenant informers, the record index, the
 * counters (every replica), the settler (leader only, a leader runnable; the admission cycle calls its hooks),
 * GpuNode deletions, and the usage view the billing export serves.
 */
import type { GpuNode, GpuTenant, GpuUsage, TenantMetering } from '../../api/types.js';
import { isNotFound } from '../../k8s/errors.js';
import { RESOURCES } from '../../k8s/resources.js';
import type { AssumedLedger } from '../../ledger/assumed-ledger.js';
import type { Manager } from '../../runtime/manager.js';
import type { LogPort } from '../../runtime/ports.js';
import { MeteringMetrics } from './metering-metrics.js';
import { UNASSIGNED_TENANT, gpuEquivalentSeconds, isoTime, recordName, recordTotals, round3, type UsageRecord } from './usage-record.js';
import { UsageRecords } from './usage-records.js';
import { UsageSettler, type MeteringClient, type UsageSettlerOptions } from './usage-settler.js';
import { UsageView } from './usage-view.js';

/** Options of metering. */
export type MeteringOptions = UsageSettlerOptions;

/** What metering offers the rest of the operator. */
export interface Metering {
  /** The leader's settler: the admission cycle's `beforeRelease` and `inFlight` hooks. */
  settler: UsageSettler;
  records: UsageRecords;
  metrics: MeteringMetrics;
  /** Usage reports for the billing export. */
  view: UsageView;
}

/** Dependencies from the operator's set-up. */
export interface MeteringDeps {
  client: MeteringClient & { mergePatchStatus<T>(ref: typeof RESOURCES.gpuTenant, name: string, patch: object): Promise<T> };
  ledger: AssumedLedger;
  gpuNodes: { onChange(handler: (obj: GpuNode, previous: GpuNode | undefined, deleted: boolean) => void): () => void };
  /** Meter only the claims of this namespace (an operator that manages one namespace). */
  namespace?: string;
  log: LogPort;
}

/** Registers metering on `manager`. */
export function registerMetering(manager: Manager, deps: MeteringDeps, opts: MeteringOptions = {}): Metering {
  const usages = manager.informer<GpuUsage>(RESOURCES.gpuUsage);
  const tenants = manager.informer<GpuTenant>(RESOURCES.gpuTenant);
  const records = new UsageRecords(usages, deps.log);
  const metrics = new MeteringMetrics(manager.metrics.registry);
  records.onTenantChanged((t) => {
    try {
      const latest = records.latest(t);
      if (latest) metrics.observe(latest);
    } catch (err) {
      deps.log.error('An unreadable GpuUsage record: its tenant\'s counters stay where they are', { tenant: t, err });
    }
  });
  const owns = deps.namespace === undefined ? undefined : (ns: string) => ns === deps.namespace;
  const tenantExists = (t: string) => t === UNASSIGNED_TENANT || tenants.get(t) !== undefined;
  const settler = new UsageSettler(
    {
      client: deps.client,
      records,
      ledger: () => deps.ledger.entries(),
      ...(owns ? { owns } : {}),
      tenantExists,
      mirror: tenantMirror(deps.client, tenants),
      fence: () => manager.leaseValid(),
      metrics,
      log: deps.log,
    },
    opts,
  );
  manager.addLeaderRunnable(settler);
  deps.gpuNodes.onChange((gn, _prev, deleted) => {
    if (deleted) settler.nodeDeleted(gn);
  });
  const view = new UsageView({
    records,
    ledger: () => deps.ledger.entries(),
    ...(owns ? { owns } : {}),
    tenantExists,
    watermark: () => settler.watermark(),
    retentionDays: settler.retentionDays,
    synced: () => (usages.hasSynced() && tenants.hasSynced() ? true : 'GpuUsage and GpuTenant caches not synced'),
  });
  return { settler, records, metrics, view };
}

/**
 * Writes a tenant's settled totals into its GpuTenant's `status.metering` by a merge patch that touches nothing
 * else (the tenant's other status fields are its reconciler's); a tenant without a GpuTenant is skipped.
 */
export function tenantMirror(
  client: { mergePatchStatus<T>(ref: typeof RESOURCES.gpuTenant, name: string, patch: object): Promise<T> },
  tenants: { get(name: string): GpuTenant | undefined },
): (tenant: string, record: UsageRecord) => Promise<void> {
  return async (tenant, record) => {
    if (!tenants.get(tenant)) return;
    try {
      await client.mergePatchStatus(RESOURCES.gpuTenant, tenant, { status: { metering: tenantMetering(record) } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };
}

/** The GpuTenant status mirror of a tenant's latest record. */
export function tenantMetering(r: UsageRecord): TenantMetering {
  const profiles = recordTotals(r).profiles.map((p) => ({
    profile: p.profile,
    sliceSeconds: p.sliceMilliseconds / 1000,
    gpuEquivalentSeconds: round3(gpuEquivalentSeconds(p.profile, p.sliceMilliseconds)),
  }));
  const totals = recordTotals(r).profiles;
  return {
    since: r.opening.since,
    settledThrough: isoTime(r.settledThrough),
    record: recordName(r.tenant, r.date),
    sliceSeconds: totals.reduce((s, p) => s + p.sliceMilliseconds, 0) / 1000,
    gpuEquivalentSeconds: round3(totals.reduce((s, p) => s + gpuEquivalentSeconds(p.profile, p.sliceMilliseconds), 0)),
    profiles,
  };
}
