/**
 * The settler with the real admission cycle and reconcilers over the in-memory API server: metered slice-ms equal
 * the allocation intervals exactly — across midnight, through a refused settlement (the release waits), a stale
 * second writer, a crash between two writes, a cycle in flight, a deleted GpuNode — plus retention, the idle
 * tenants' hourly settlement and the GpuTenant mirror.
 */
import type { GpuNode, GpuTenant, GpuUsage } from '../../../../src/api/types.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { recordObject } from '../../../../src/tenancy/metering/usage-record.js';
import { tenantMetering } from '../../../../src/tenancy/metering/metering-setup.js';
import { makeGpuNode, makePartition } from '../../support/builders.js';
import { MeteredSim } from './metered-sim.js';

const NS = 'ns';

let m: MeteredSim;
afterEach(async () => {
  await m?.leader.settler.stop();
  await m?.sim.stop();
});

/** Creates partitions and lets the operator place them; returns the allocation instant. */
async function allocate(...parts: Array<[string, string, number?]>): Promise<number> {
  for (const [name, profile, count] of parts) m.sim.client.seed(RESOURCES.gpuPartition, makePartition(name, NS, { profile, count: count ?? 1 }));
  await m.sim.settle();
  const at = m.sim.now().getTime();
  for (const [name, , count] of parts) expect(m.sim.entries(name)).toHaveLength(count ?? 1);
  return at;
}

/** Deletes a partition and lets the operator release it; returns the release instant. */
async function release(name: string): Promise<number> {
  await m.sim.client.delete(RESOURCES.gpuPartition, name, NS);
  const at = m.sim.now().getTime();
  await m.sim.settle();
  expect(m.sim.entries(name)).toEqual([]);
  return at;
}

describe('UsageSettler with the admission cycle', () => {
  test('metered slice-ms equal the allocation intervals, across a release and midnight', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    const t0 = await allocate(['a', '1g.23gb', 2], ['b', '3g.90gb']);
    m.hours(1.5);
    await m.leader.settler.settleAll();
    m.sim.tick(10 * 60_000);
    const t1 = await release('a');
    m.hours(30);
    await m.leader.settler.settleAll();
    const end = m.sim.now().getTime();
    expect(m.sliceMs()).toEqual(new Map([[`${NS}|1g.23gb`, 2 * (t1 - t0)], [`${NS}|3g.90gb`, end - t0]]));
    const records = m.records();
    expect([...records.keys()].sort()).toEqual(['unassigned.2026-01-01', 'unassigned.2026-01-02']);
    expect(records.get('unassigned.2026-01-01')!.settledThrough).toBe(Date.parse('2026-01-02T00:00:00Z'));
    expect(records.get('unassigned.2026-01-02')!.settledThrough).toBe(end);
    expect(records.get('unassigned.2026-01-01')!.opening.since).toBe(new Date(t0).toISOString());
  });

  test('a settlement that fails before a release holds the release back: nothing is written until it succeeds', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    const t0 = await allocate(['a', '1g.23gb']);
    m.hours(2);
    const held: number[] = [];
    m.leader.client.beforeWrite = () => held.push(m.sim.entries('a').length);
    m.leader.client.failures.push({ call: 'create' });
    const t1 = await release('a');
    // The failed attempt and the successful one both ran while the claim was still in the ledger.
    expect(m.leader.client.calls.filter((c) => c.startsWith('create'))).toHaveLength(2);
    expect(held.every((n) => n === 1)).toBe(true);
    expect(m.sliceMs()).toEqual(new Map([[`${NS}|1g.23gb`, t1 - t0]]));
  });

  test('a second writer with a stale cache is refused, reads the records fresh, and counts nothing twice', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    const t0 = await allocate(['a', '2g.45gb']);
    m.hours(1);
    await m.leader.settler.settleAll();
    const stale = m.writer();
    stale.source.freeze();
    m.hours(1);
    await m.leader.settler.settleAll();
    m.hours(1);
    // A leader that has not seen the last write (cache behind): its guarded write is refused.
    await stale.settler.settleAll();
    expect(stale.client.calls).toEqual(['status unassigned.2026-01-01', 'list gpu.haein.dev/tenant=unassigned', 'status unassigned.2026-01-01']);
    expect(m.sliceMs()).toEqual(new Map([[`${NS}|2g.45gb`, m.sim.now().getTime() - t0]]));
  });

  test('a crash between creating a day\'s record and its first status write: the next leader continues from it', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    const t0 = await allocate(['a', '1g.23gb']);
    m.hours(23);
    await m.leader.settler.settleAll();
    m.hours(2);
    m.leader.client.failures.push({ call: 'status', name: 'unassigned.2026-01-02' });
    await m.leader.settler.settleAll();
    const stored = m.sim.client.all<GpuUsage>(RESOURCES.gpuUsage).find((o) => o.spec.date === '2026-01-02');
    expect(stored?.status).toBeUndefined();
    // The process is gone; a new leader (fresh caches) takes over later.
    const next = m.writer();
    m.lead(next);
    m.hours(1);
    await next.settler.settleAll();
    expect(m.sliceMs()).toEqual(new Map([[`${NS}|1g.23gb`, m.sim.now().getTime() - t0]]));
  });

  test('settlement stops at the instant of the admission cycle in flight', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    await allocate(['a', '1g.23gb']);
    m.hours(1);
    const cycleAt = m.sim.now().getTime();
    m.leader.settler.begin(new Date(cycleAt));
    m.hours(1);
    await m.leader.settler.settleAll();
    expect(m.records().get('unassigned.2026-01-01')!.settledThrough).toBe(cycleAt);
    m.leader.settler.end();
    await m.leader.settler.settleAll();
    expect(m.records().get('unassigned.2026-01-01')!.settledThrough).toBe(m.sim.now().getTime());
  });

  test('claims of a deleted GpuNode count until the deletion was seen, not beyond', async () => {
    m = new MeteredSim([makeGpuNode('n1', { gpus: 1 })], { settler: { intervalMs: 3_600_000 } });
    m.sim.start();
    const t0 = await allocate(['a', '7g.180gb']);
    m.leader.settler.start();
    m.hours(1);
    const gn = m.sim.client.all<GpuNode>(RESOURCES.gpuNode)[0]!;
    m.sim.client.store.delete(m.sim.client.key(RESOURCES.gpuNode, 'n1'));
    const deletedAt = m.sim.now().getTime();
    const passes = m.leader.settler.passes();
    m.leader.settler.nodeDeleted(gn);
    // The deletion wakes the loop: one more pass settles the departed claim through the deletion.
    await waitFor(() => m.leader.settler.passes() > passes);
    m.hours(2);
    await m.leader.settler.settleAll();
    expect(m.sliceMs()).toEqual(new Map([[`${NS}|7g.180gb`, deletedAt - t0]]));
  });
});

describe('UsageSettler housekeeping', () => {
  test('idle tenants are settled once an hour; a deleted tenant holding nothing is left alone', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    await allocate(['a', '1g.23gb']);
    await release('a');
    const w = m.writer({}, { tenantExists: (t) => t !== 'gone' });
    m.lead(w);
    // A record of a tenant that no longer exists.
    const gone = recordObject({ tenant: 'gone', date: '2026-01-01', openedAt: m.sim.now().getTime(), opening: { since: m.sim.now().toISOString() }, settledThrough: m.sim.now().getTime(), rows: new Map() });
    m.sim.client.seed(RESOURCES.gpuUsage, gone);
    const settled = () => m.records().get('unassigned.2026-01-01')!.settledThrough;
    const before = settled();
    m.sim.tick(10 * 60_000);
    await w.settler.settleAll();
    // Same hour (00:10 → 00:20 UTC): nothing written.
    expect(settled()).toBe(before);
    m.hours(1);
    await w.settler.settleAll();
    expect(settled()).toBe(m.sim.now().getTime());
    expect(m.records().get('gone.2026-01-01')!.settledThrough).toBe(before);
    expect(w.client.calls.filter((c) => c.includes('gone'))).toEqual([]);
  });

  test('records older than the retention period are deleted, except each tenant\'s latest', async () => {
    m = new MeteredSim([makeGpuNode('n1')], { settler: { retentionDays: 2 } });
    m.sim.start();
    const t0 = await allocate(['a', '1g.23gb']);
    for (let d = 0; d < 5; d++) {
      m.hours(24);
      await m.leader.settler.settleAll();
    }
    // Retention runs at most hourly: the last pass ran it.
    expect([...m.records().keys()].sort()).toEqual(['unassigned.2026-01-04', 'unassigned.2026-01-05', 'unassigned.2026-01-06']);
    // Totals survive: the latest record's opening balance carries the deleted days.
    const latest = m.records().get('unassigned.2026-01-06')!;
    const day = latest.rows.get(`${NS}\u00001g.23gb`)!.hours.reduce((a, b) => a + b, 0);
    expect(latest.opening.profiles![0]!.sliceMilliseconds + day).toBe(m.sim.now().getTime() - t0);
  });

  test('the records of a tenant that is gone and holds nothing all go once past the retention period', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    const at = m.sim.now().getTime();
    m.sim.client.seed(RESOURCES.gpuUsage, recordObject({ tenant: 'gone', date: '2026-01-01', openedAt: at, opening: { since: m.sim.now().toISOString() }, settledThrough: at, rows: new Map() }));
    m.sim.client.seed(RESOURCES.gpuUsage, recordObject({ tenant: 'kept', date: '2026-01-01', openedAt: at, opening: { since: m.sim.now().toISOString() }, settledThrough: at, rows: new Map() }));
    const w = m.writer({ retentionDays: 2 }, { tenantExists: (t) => t !== 'gone' });
    m.hours(24 * 3);
    await w.settler.settleAll();
    const names = [...m.records().keys()];
    expect(names.filter((n) => n.startsWith('gone.'))).toEqual([]);
    // A tenant that exists is settled on (idle: hourly), its days kept for the retention period.
    expect(names.filter((n) => n.startsWith('kept.')).sort()).toEqual(['kept.2026-01-02', 'kept.2026-01-03', 'kept.2026-01-04']);
  });

  test('each tenant with a GpuTenant gets its totals mirrored into status.metering', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    m.sim.client.seed(RESOURCES.gpuTenant, { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name: 'acme' }, spec: { nominal: 1, namespaces: [NS] } } satisfies GpuTenant);
    const t0 = await allocate(['a', '3g.90gb']);
    // Claims carry their tenant (the admission cycle sets it); here the ledger is edited to say so.
    m.sim.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      for (const g of gn.spec!.gpus!) for (const s of g.slices) if (s.claim) s.claim.tenant = 'acme';
    }, true);
    const mirrored: string[] = [];
    const w = m.writer({}, {
      mirror: async (tenant, record) => {
        mirrored.push(tenant);
        await m.sim.client.mergePatchStatus(RESOURCES.gpuTenant, tenant, { status: { metering: tenantMetering(record) } });
      },
    });
    m.hours(2);
    await w.settler.settleAll();
    expect(mirrored).toEqual(['acme']);
    const status = m.sim.client.all<GpuTenant>(RESOURCES.gpuTenant)[0]!.status!.metering!;
    const seconds = (m.sim.now().getTime() - t0) / 1000;
    expect(status).toEqual({
      since: new Date(t0).toISOString(),
      settledThrough: m.sim.now().toISOString(),
      record: 'acme.2026-01-01',
      sliceSeconds: seconds,
      gpuEquivalentSeconds: Math.round(((seconds * 3) / 7) * 1000) / 1000,
      profiles: [{ profile: '3g.90gb', sliceSeconds: seconds, gpuEquivalentSeconds: Math.round(((seconds * 3) / 7) * 1000) / 1000 }],
    });
    // At most once per mirror interval.
    m.sim.tick(10_000);
    await w.settler.settleAll();
    expect(mirrored).toEqual(['acme']);
  });

  test('a replica without a valid Lease writes nothing', async () => {
    m = new MeteredSim([makeGpuNode('n1')]);
    m.sim.start();
    await allocate(['a', '1g.23gb']);
    m.hours(1);
    m.sim.fenced = true;
    await m.leader.settler.settleAll();
    expect(m.leader.client.calls.filter((c) => !c.startsWith('list'))).toEqual([]);
    await expect(m.leader.settler.beforeRelease(m.sim.entries('a'), m.sim.now())).rejects.toThrow(/settling the usage of 1 tenant/);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}


