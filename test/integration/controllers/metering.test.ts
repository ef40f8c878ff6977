/**
 * Metering in-process against the real API server: the GpuUsage schema refuses what metering would never write;
 * partitions and a whole-GPU job allocated and released by the operator are metered exactly as the ledger shows
 * their intervals (within 1 s each), under the tenant that owns the namespace; the counters, the billing
 * export (JSON and CSV), the records and the tenant's `status.metering` agree.
 */
import { Registry } from 'prom-client';
import type { GpuPartition, GpuTenant, GpuUsage, TrainingJob } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import type { Manager } from '../../../src/runtime/manager.js';
import { BillingServer } from '../../../src/tenancy/metering/billing-server.js';
import { AllocationLog, meteredUsage, observedUsage, usageReport, withinLedger } from '../../support/allocation-log.js';
import { eventually, type TestNamespace } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';

const h = new OperatorHarness();
let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let manager: Manager;
const tenantsMade: string[] = [];

let tenant: string;

beforeAll(async () => {
  await h.setUp('mtr', { count: 2, gpus: 8 });
  ({ client, ns, selector } = h);
  // The suite's namespace belongs to a tenant of its own: its claims are charged to it.
  tenant = `${ns.name}-t`;
  tenantsMade.push(tenant);
  await client.create<GpuTenant>(RESOURCES.gpuTenant, { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name: tenant }, spec: { nominal: 16, namespaces: [ns.name] } });
  h.startAgent();
  manager = h.addOperator({}, { metering: { intervalMs: 1_000, mirrorIntervalMs: 1_000 } });
  await manager.start();
});

afterAll(async () => {
  await h.stop();
  const records = (await client.list<GpuUsage>(RESOURCES.gpuUsage)).items;
  for (const t of tenantsMade) {
    await client.delete(RESOURCES.gpuTenant, t).catch(() => undefined);
    for (const r of records.filter((x) => x.spec.tenant === t)) await client.delete(RESOURCES.gpuUsage, r.metadata.name as string);
  }
});

const partition = (name: string, profile: string): GpuPartition => ({
  apiVersion: 'gpu.haein.dev/v1alpha1',
  kind: 'GpuPartition',
  metadata: { name, namespace: ns.name },
  spec: { profile, nodeSelector: selector },
});

describe('GpuUsage schema', () => {
  const record = (name: string, tenant: string, date: string): GpuUsage => ({
    apiVersion: 'gpu.haein.dev/v1alpha1',
    kind: 'GpuUsage',
    metadata: { name },
    spec: { tenant, date, openedAt: `${date}T00:00:00.000Z`, opening: { since: `${date}T00:00:00.000Z` } },
  });

  test('the name must be <tenant>.<date>; tenant, date and openedAt never change; a day has 24 hours', async () => {
    const tenant = `${ns.name}-schema`;
    tenantsMade.push(tenant);
    await expect(client.create(RESOURCES.gpuUsage, record(`${tenant}.2026-01-02`, tenant, '2026-01-01'))).rejects.toThrow(/metadata.name must be spec.tenant/);
    const made = await client.create<GpuUsage>(RESOURCES.gpuUsage, record(`${tenant}.2026-01-01`, tenant, '2026-01-01'));
    await expect(client.mergePatch(RESOURCES.gpuUsage, made.metadata.name as string, { spec: { openedAt: '2026-01-01T05:00:00.000Z' } })).rejects.toThrow(/spec.openedAt is immutable/);
    await expect(
      client.mergePatchStatus(RESOURCES.gpuUsage, made.metadata.name as string, { status: { settledThrough: '2026-01-01T01:00:00.000Z', usage: [{ namespace: 'a', profile: '1g.23gb', sliceMilliseconds: [1, 2, 3] }] } }),
    ).rejects.toThrow(/sliceMilliseconds/);
  });
});

describe('metering with the operator', () => {
  test('partitions and a whole-GPU job are metered under their tenant as the ledger shows their intervals; counters, export and the GpuTenant mirror agree', async () => {
    const log = new AllocationLog(client, ns.name, h.nodeNames).start(25);
    const t0 = Date.now();
    for (const [name, profile] of [['p1', '1g.23gb'], ['p3', '3g.90gb'], ['p7', '7g.180gb']] as const) await client.create(RESOURCES.gpuPartition, partition(name, profile));
    await client.create<TrainingJob>(RESOURCES.trainingJob, {
      apiVersion: 'gpu.haein.dev/v1alpha1',
      kind: 'TrainingJob',
      metadata: { name: 'whole', namespace: ns.name },
      spec: { replicas: 1, gpusPerWorker: 2, nodeSelector: selector, template: { spec: { containers: [{ name: 'w', image: 'busybox' }] } } },
    });
    await eventually(async () => log.allocations().length === 5, { timeoutMs: 60_000, what: '5 allocations in the ledger' });
    // Periodic settlements (every second) while everything is held.
    await new Promise((r) => setTimeout(r, 2_500));
    const mid = await meteredUsage(client, ns.name);
    expect([...mid.sliceMs.values()].every((ms) => ms > 0)).toBe(true);
    await client.delete(RESOURCES.gpuPartition, 'p1', ns.name);
    await eventually(async () => log.allocations().filter((a) => a.goneBy !== undefined).length === 1, { timeoutMs: 30_000, what: 'p1 released' });
    await new Promise((r) => setTimeout(r, 1_500));
    for (const name of ['p3', 'p7']) await client.delete(RESOURCES.gpuPartition, name, ns.name);
    await client.delete(RESOURCES.trainingJob, 'whole', ns.name);
    await eventually(async () => log.allGone(), { timeoutMs: 60_000, what: 'every allocation released' });
    await log.stop();

    // Each release was settled before it was written: the records are final as soon as the claims are gone.
    const { sliceMs } = await meteredUsage(client, ns.name);
    const observed = observedUsage(log.allocations());
    console.log(`metering:\n  ${usageReport(sliceMs, observed).join('\n  ')}`);
    expect([...sliceMs.keys()].sort()).toEqual([...observed.keys()].sort());
    for (const [k, o] of observed) expect({ k, withinOneSecondEach: withinLedger(sliceMs.get(k) as number, o) }).toEqual({ k, withinOneSecondEach: true });
    expect(log.allocations().every((a) => a.allocatedAt >= t0 - 1_000)).toBe(true);

    expect(log.allocations().every((a) => a.tenant === tenant)).toBe(true);

    // Counters of this replica: raised to the durable totals.

    const counters = await (manager.metrics.registry as Registry).getSingleMetric('haein_metered_slice_seconds_total')!.get();
    for (const [k, ms] of sliceMs) {
      const profile = k.split('|')[1];
      const v = counters.values.find((x) => x.labels.namespace === ns.name && x.labels.profile === profile && x.labels.tenant === tenant)?.value;
      expect({ k, v }).toEqual({ k, v: expect.closeTo(ms / 1000, 3) });
    }

    // The billing export from the same caches: the whole range, per namespace and profile.
    const metering = h.controllers.get(manager)!.metering!;
    const server = new BillingServer({ port: 0, host: '127.0.0.1', source: metering.view });
    const port = await server.start();
    try {
      const from = new Date(t0 - 3_600_000).toISOString();
      const to = new Date(Date.now() + 3_600_000).toISOString();
      const res = await fetch(`http://127.0.0.1:${port}/billing/usage?from=${from}&to=${to}&groupBy=tenant,namespace,profile`);
      const report = (await res.json()) as { rows: Array<{ tenant: string; namespace: string; profile: string; sliceSeconds: number }> };
      const mine = report.rows.filter((r) => r.namespace === ns.name);
      expect(new Map(mine.map((r) => [`${r.tenant}|${r.profile}`, Math.round(r.sliceSeconds * 1000)]))).toEqual(sliceMs);
      const csv = await (await fetch(`http://127.0.0.1:${port}/billing/usage?from=${from}&to=${to}&groupBy=namespace,profile&format=csv`)).text();
      const lines = csv.trim().split('\n').filter((l) => l.includes(`,${ns.name},`));
      expect(lines).toHaveLength(sliceMs.size);
      for (const l of lines) {
        const [, , , profile, seconds] = l.split(',');
        expect(Math.round(Number(seconds) * 1000)).toBe(sliceMs.get(`${tenant}|${profile}`));
      }
    } finally {
      await server.stop();
    }

    // The tenant's status shows the same totals (mirrored after the settlement of the last release), next to what
    // the GpuTenant controller writes.
    const total = [...sliceMs.values()].reduce((a, b) => a + b, 0) / 1000;
    const status = await eventually(async () => {
      const st = (await client.get<GpuTenant>(RESOURCES.gpuTenant, tenant))?.status;
      return st?.metering?.sliceSeconds !== undefined && Math.abs(st.metering.sliceSeconds - total) < 1e-6 ? st : undefined;
    }, { timeoutMs: 30_000, what: 'the GpuTenant mirror' });
    expect(status.metering!.profiles!.map((p) => p.profile).sort()).toEqual(['1g.23gb', '3g.90gb', '7g.180gb', 'whole']);
    expect(status.conditions?.length).toBeGreaterThan(0);
  });
});
