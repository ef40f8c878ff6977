/**
 * The billing export: query parsing (clear 400 messages), hour widening at the range edges, grouping, hourly
 * rows, units, completeness, CSV; the usage view adding the unsettled part from the ledger; the HTTP server; and
 * the counters raised to durable totals (monotonic across a restart).
 */
import { Registry } from 'prom-client';
import type { ClaimRef, GpuUsage } from '../../../../src/api/types.js';
import type { LedgerEntry } from '../../../../src/ledger/claims.js';
import { buildReport, parseUsageQuery, reportCsv, type UsageQuery } from '../../../../src/tenancy/metering/billing-report.js';
import { BillingServer } from '../../../../src/tenancy/metering/billing-server.js';
import { MeteringMetrics } from '../../../../src/tenancy/metering/metering-metrics.js';
import { planSettlement, type MeteredClaim } from '../../../../src/tenancy/metering/settlement.js';
import { HOUR_MS, recordObject, type UsageRecord } from '../../../../src/tenancy/metering/usage-record.js';
import { UsageRecords } from '../../../../src/tenancy/metering/usage-records.js';
import { UsageView } from '../../../../src/tenancy/metering/usage-view.js';

const T0 = Date.parse('2026-03-10T00:00:00.000Z');
const claim = (over: Partial<MeteredClaim>): MeteredClaim => ({ tenant: 'acme', namespace: 'a', profile: '1g.23gb', allocatedAt: T0, ...over });

/** Records of `claims` settled through `through`. */
function settled(claims: MeteredClaim[], through: number): UsageRecord[] {
  const byTenant = new Map<string, MeteredClaim[]>();
  for (const c of claims) byTenant.set(c.tenant, [...(byTenant.get(c.tenant) ?? []), c]);
  return [...byTenant].flatMap(([t, cs]) => planSettlement(t, undefined, cs, through, { pruneAfterDays: 30 }).map((w) => w.record));
}

const query = (params: Record<string, string>): UsageQuery => {
  const q = parseUsageQuery(new URLSearchParams(params));
  if (typeof q === 'string') throw new Error(q);
  return q;
};

describe('parseUsageQuery', () => {
  test('defaults: every dimension, total, JSON; the range widened to whole hours', () => {
    expect(query({ from: '2026-03-10T01:30:00Z', to: '2026-03-10T03:00:00.001+00:00' })).toEqual({
      from: T0 + HOUR_MS,
      to: T0 + 4 * HOUR_MS,
      groupBy: ['tenant', 'namespace', 'profile'],
      granularity: 'total',
      format: 'json',
    });
    expect(query({ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', groupBy: 'profile,tenant', granularity: 'hour', format: 'csv', tenant: 'acme' })).toMatchObject({
      groupBy: ['tenant', 'profile'],
      granularity: 'hour',
      format: 'csv',
      tenant: 'acme',
    });
    expect(query({ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', groupBy: '' }).groupBy).toEqual([]);
  });

  test.each([
    [{}, /from is required/],
    [{ from: '2026-03-10', to: '2026-03-11T00:00:00Z' }, /from=2026-03-10 is not an RFC 3339 time/],
    [{ from: '2026-03-10T00:00:00Z' }, /to is required/],
    [{ from: '2026-03-10T00:00:00Z', to: '2026-03-10T00:00:00Z' }, /to must be after from/],
    [{ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', groupBy: 'tenant,node' }, /node is not one of tenant, namespace, profile/],
    [{ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', granularity: 'minute' }, /expected total or hour/],
    [{ from: '2026-03-10T00:00:00Z', to: '2026-03-11T00:00:00Z', format: 'xml' }, /expected json or csv/],
    [{ from: '2026-01-01T00:00:00Z', to: '2026-03-11T00:00:00Z', granularity: 'hour' }, /at most 768 hours/],
    [{ from: '2024-01-01T00:00:00Z', to: '2026-03-11T00:00:00Z' }, /at most 400 days/],
  ])('%j is refused: %s', (params, message) => {
    expect(parseUsageQuery(new URLSearchParams(params as Record<string, string>))).toMatch(message);
  });
});

describe('buildReport', () => {
  const records = settled(
    [
      claim({ allocatedAt: T0 + 30 * 60_000 }),
      claim({ namespace: 'b', profile: 'whole', allocatedAt: T0 + HOUR_MS }),
      claim({ tenant: 'zeta', profile: '3g.90gb', allocatedAt: T0 }),
    ],
    T0 + 3 * HOUR_MS,
  );
  const status = { now: T0 + 3 * HOUR_MS, closedThrough: T0 + 3 * HOUR_MS, retainedFrom: T0 - 30 * 24 * HOUR_MS };

  test('sums per tenant, namespace and profile over the hours of the range, in seconds and GPU-equivalent-seconds', () => {
    const r = buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T02:00:00Z' }), status);
    expect(r.rows).toEqual([
      { from: '2026-03-10T00:00:00.000Z', to: '2026-03-10T02:00:00.000Z', tenant: 'acme', namespace: 'a', profile: '1g.23gb', sliceSeconds: 5400, gpuEquivalentSeconds: 771.429 },
      { from: '2026-03-10T00:00:00.000Z', to: '2026-03-10T02:00:00.000Z', tenant: 'acme', namespace: 'b', profile: 'whole', sliceSeconds: 3600, gpuEquivalentSeconds: 3600 },
      { from: '2026-03-10T00:00:00.000Z', to: '2026-03-10T02:00:00.000Z', tenant: 'zeta', namespace: 'a', profile: '3g.90gb', sliceSeconds: 7200, gpuEquivalentSeconds: 3085.714 },
    ]);
    expect(r).toMatchObject({ complete: true, closedThrough: '2026-03-10T03:00:00.000Z', groupBy: ['tenant', 'namespace', 'profile'] });
  });

  test('groups by fewer dimensions, per hour, for one tenant', () => {
    const r = buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T03:00:00Z', groupBy: 'tenant', granularity: 'hour', tenant: 'acme' }), status);
    expect(r.rows.map((x) => [x.from, x.tenant, x.sliceSeconds])).toEqual([
      ['2026-03-10T00:00:00.000Z', 'acme', 1800],
      ['2026-03-10T01:00:00.000Z', 'acme', 7200],
      ['2026-03-10T02:00:00.000Z', 'acme', 7200],
    ]);
    expect(r.rows[0]).not.toHaveProperty('namespace');
  });

  test('a range past what is settled, or before what is retained, is not complete', () => {
    expect(buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T04:00:00Z' }), status).complete).toBe(false);
    expect(buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T01:00:00Z' }), { ...status, retainedFrom: T0 + HOUR_MS }).complete).toBe(false);
    expect(buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T01:00:00Z' }), { ...status, closedThrough: undefined }).complete).toBe(false);
  });

  test('CSV: a header with the grouped columns, seconds with 3 decimals, quoted fields where needed', () => {
    const r = buildReport(records, query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T01:00:00Z', groupBy: 'tenant,profile' }), status);
    expect(reportCsv(r)).toBe(
      [
        'from,to,tenant,profile,slice_seconds,gpu_equivalent_seconds',
        '2026-03-10T00:00:00.000Z,2026-03-10T01:00:00.000Z,acme,1g.23gb,1800.000,257.143',
        '2026-03-10T00:00:00.000Z,2026-03-10T01:00:00.000Z,zeta,3g.90gb,3600.000,1542.857',
        '',
      ].join('\n'),
    );
    expect(reportCsv({ ...r, rows: [{ ...r.rows[0]!, tenant: 'a,"b"' }] }).split('\n')[1]).toContain('"a,""b"""');
  });
});

describe('UsageView', () => {
  const entry = (ns: string, profile: string | undefined, allocatedAt: string, tenant?: string): LedgerEntry => {
    const claim: ClaimRef = { kind: 'GpuPartition', namespace: ns, name: 'p', uid: 'u', slot: 0, priority: 0, preemptible: false, allocatedAt, ...(tenant ? { tenant } : {}) };
    return { node: 'n', gpuIndex: 0, claim, ...(profile ? { profile, start: 0 } : {}) };
  };

  test('adds the unsettled part from the ledger to the durable records; complete only up to what every tenant settled', () => {
    const durable = settled([claim({ tenant: 'unassigned' })], T0 + HOUR_MS).map((r) => ({ ...recordObject(r), metadata: { ...recordObject(r).metadata, resourceVersion: '1' } }));
    const records = new UsageRecords({ list: () => durable as GpuUsage[] });
    const now = T0 + 2 * HOUR_MS + 30 * 60_000;
    const view = new UsageView({
      records,
      ledger: () => [entry('a', '1g.23gb', new Date(T0).toISOString()), entry('x', undefined, new Date(T0 + 2 * HOUR_MS).toISOString(), 'acme'), entry('other', '1g.23gb', new Date(T0).toISOString())],
      owns: (ns) => ns !== 'other',
      retentionDays: 30,
      now: () => now,
    });
    const r = view.report(query({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T03:00:00Z', granularity: 'hour', groupBy: 'tenant' }));
    expect(r.rows.map((x) => [x.from.slice(11, 13), x.tenant, x.sliceSeconds])).toEqual([
      ['00', 'unassigned', 3600],
      ['01', 'unassigned', 3600],
      ['02', 'acme', 1800],
      ['02', 'unassigned', 1800],
    ]);
    // acme has settled nothing yet: nothing is final.
    expect(r.complete).toBe(false);
    expect(r.closedThrough).toBeUndefined();
  });
});

describe('BillingServer', () => {
  test('answers JSON and CSV from its source, 400 with the reason, 404 elsewhere, 503 until ready', async () => {
    let ready: boolean | string = 'caches not synced';
    const records = settled([claim({})], T0 + HOUR_MS);
    const source = { ready: () => ready, report: (q: UsageQuery) => buildReport(records, q, { now: T0 + HOUR_MS, closedThrough: T0 + HOUR_MS, retainedFrom: 0 }) };
    const server = new BillingServer({ port: 0, host: '127.0.0.1', source });
    const port = await server.start();
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
    try {
      const range = 'from=2026-03-10T00:00:00Z&to=2026-03-10T01:00:00Z';
      expect((await get(`/billing/usage?${range}`)).status).toBe(503);
      ready = true;
      const json = await get(`/billing/usage?${range}`);
      expect(json.headers.get('content-type')).toBe('application/json');
      expect(((await json.json()) as { rows: unknown[] }).rows).toHaveLength(1);
      const csv = await get(`/billing/usage?${range}&format=csv&groupBy=tenant`);
      expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(csv.headers.get('x-haein-complete')).toBe('true');
      expect(csv.headers.get('x-haein-closed-through')).toBe('2026-03-10T01:00:00.000Z');
      expect(await csv.text()).toBe('from,to,tenant,slice_seconds,gpu_equivalent_seconds\n2026-03-10T00:00:00.000Z,2026-03-10T01:00:00.000Z,acme,3600.000,514.286\n');
      const bad = await get('/billing/usage?from=yesterday&to=2026-03-10T01:00:00Z');
      expect([bad.status, await bad.text()]).toEqual([400, 'from=yesterday is not an RFC 3339 time (e.g. 2026-03-01T00:00:00Z)\n']);
      expect((await get('/')).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/billing/usage`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.stop();
    }
  });
});

describe('MeteringMetrics', () => {
  const value = async (reg: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> =>
    (await reg.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;

  test('counters follow the durable totals; a new process starts at 0 and jumps to them (monotonic for increase())', async () => {
    const [first] = settled([claim({}), claim({ profile: 'whole' })], T0 + HOUR_MS);
    const reg = new Registry();
    const metrics = new MeteringMetrics(reg);
    metrics.observe(first!);
    expect(await value(reg, 'haein_metered_slice_seconds_total', { tenant: 'acme', namespace: 'a', profile: '1g.23gb' })).toBe(3600);
    expect(await value(reg, 'haein_metered_gpu_equivalent_seconds_total', { tenant: 'acme', namespace: 'a' })).toBeCloseTo(3600 / 7 + 3600, 6);
    expect(await value(reg, 'haein_metering_settled_through_timestamp_seconds', { tenant: 'acme' })).toBe((T0 + HOUR_MS) / 1000);
    // Seeing the same record again adds nothing; a later one adds the difference.
    metrics.observe(first!);
    const [later] = planSettlement('acme', first, [claim({}), claim({ profile: 'whole' })], T0 + 2 * HOUR_MS, { pruneAfterDays: 30 }).map((w) => w.record);
    metrics.observe(later!);
    expect(await value(reg, 'haein_metered_slice_seconds_total', { tenant: 'acme', namespace: 'a', profile: '1g.23gb' })).toBe(7200);
    // A restarted process (new registry) reports the durable total at once.
    const reg2 = new Registry();
    new MeteringMetrics(reg2).observe(later!);
    expect(await value(reg2, 'haein_metered_slice_seconds_total', { tenant: 'acme', namespace: 'a', profile: 'whole' })).toBe(7200);
  });
});

describe('UsageRecords', () => {
  test('a tenant\'s latest record is the newer of the cache\'s and this replica\'s own last write', () => {
    const [r1] = settled([claim({})], T0 + HOUR_MS);
    const older = { ...recordObject(r1!), metadata: { ...recordObject(r1!).metadata, resourceVersion: '1' } };
    const cache: GpuUsage[] = [older];
    const records = new UsageRecords({ list: () => cache });
    const [r2] = planSettlement('acme', records.latest('acme'), [claim({})], T0 + 2 * HOUR_MS, { pruneAfterDays: 30 }).map((w) => w.record);
    const own = { ...recordObject(r2!), metadata: { ...recordObject(r2!).metadata, resourceVersion: '2' } };
    records.assume(own);
    expect(records.latest('acme')!.settledThrough).toBe(T0 + 2 * HOUR_MS);
    // The cache catches up and moves on: it wins.
    const [r3] = planSettlement('acme', records.latest('acme'), [claim({})], T0 + 3 * HOUR_MS, { pruneAfterDays: 30 }).map((w) => w.record);
    cache[0] = { ...recordObject(r3!), metadata: { ...recordObject(r3!).metadata, resourceVersion: '3' } };
    expect(records.latest('acme')).toMatchObject({ settledThrough: T0 + 3 * HOUR_MS, resourceVersion: '3' });
    expect(records.tenants()).toEqual(['acme']);
    expect(records.between('2026-03-10', '2026-03-10')).toHaveLength(1);
  });
});
